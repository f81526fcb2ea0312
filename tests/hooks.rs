//! pppd's /etc/ppp scripts: carrier runs them at pppd's moments with
//! pppd's arguments and environment. pppd 2.4.9's own runs (in
//! user-mode-linux) are the reference, written down below and checked
//! against a live pppd pair so the reference cannot drift.

mod support;

use std::path::Path;
use std::time::Duration;

use support::carrier::{Carrier, Netns};
use support::hookrec::{self, Names, Side};
use support::pppd::{start_pair_or_skip, PppdOptions};
use support::sim::{Switch, NUMBER};

const DEBUG_DUMP: &str = "CARRIER_HOOKS_DUMP";

fn dump(side: &str, dir: &Path) {
    if std::env::var_os(DEBUG_DUMP).is_none() {
        return;
    }
    for s in hookrec::SCRIPTS {
        for (i, r) in hookrec::runs(dir, s).iter().enumerate() {
            eprintln!("{side} {s}.{} args={:?}", i + 1, r.args);
            for (k, v) in &r.env {
                eprintln!("    {k}={v}");
            }
        }
    }
}

#[test]
fn pppd_runs_its_scripts_as_the_reference_says() {
    let rec = hookrec::recorder(Path::new("/etc/ppp/hooks-out"));
    let mut server = PppdOptions::from_str_args(
        "local noccp novj debug require-pap name server 10.77.0.1:10.77.0.2 \
         ms-dns 10.77.0.53 ms-dns 10.77.0.54 +ipv6 ipparam srv-param linkname srvlink",
    )
    .pap_secrets("alice * s3cret *\n");
    let mut client = PppdOptions::from_str_args(
        "local noccp novj debug noauth user alice password s3cret noipdefault usepeerdns \
         +ipv6 ipparam cli-param linkname clilink",
    );
    for s in hookrec::SCRIPTS {
        server = server.etc_ppp_script(s, &rec);
        client = client.etc_ppp_script(s, &rec);
    }
    let Some((mut srv, mut cli, _link)) = start_pair_or_skip(server, client) else {
        return;
    };
    let up = Duration::from_secs(30);
    assert!(
        hookrec::wait_runs(&srv.hooks_out(), "ipv6-up", 1, up).len() == 1
            && hookrec::wait_runs(&cli.hooks_out(), "ipv6-up", 1, up).len() == 1,
        "pppd's ipv6-up did not run\n{}\n{}",
        srv.log(),
        cli.log()
    );
    hookrec::wait_runs(&cli.hooks_out(), "ip-up", 1, up);
    // The server's IPCP may open a little later: its ip-up too, first.
    hookrec::wait_runs(&srv.hooks_out(), "ip-up", 1, up);
    cli.terminate();
    let _ = cli.wait_exit(Duration::from_secs(20));
    let _ = srv.wait_exit(Duration::from_secs(20));
    let (s, c) = (srv.hooks_out(), cli.hooks_out());
    dump("pppd-server", &s);
    dump("pppd-client", &c);
    let pppd = Names {
        interface: "ppp0".into(),
        device: "/dev/ttyS0".into(),
    };
    let mut wrong = hookrec::check(&s, Side::Server, &pppd);
    wrong.extend(hookrec::check(&c, Side::Client, &pppd));
    assert!(
        wrong.is_empty(),
        "pppd is not the reference any more:\n{}",
        wrong.join("\n")
    );
}

/// The reference call between two carriers: the answerer in one network
/// namespace, the dialer in another, through the modem simulator, with
/// the reference's options plus `srv_extra` and `cli_extra`.
struct Call {
    phone: Switch,
    srv_ns: Netns,
    cli_ns: Netns,
    answerer: Carrier,
    caller: Carrier,
}

fn reference_call(tag: &str, srv_extra: &[&str], cli_extra: &[&str]) -> Option<Call> {
    use std::os::unix::fs::PermissionsExt;
    let srv_ns = Netns::new(&format!("{tag}s"))?;
    let cli_ns = Netns::new(&format!("{tag}c"))?;
    let phone = Switch::start();
    let dir = phone.dir();
    let secrets = dir.join("pap-secrets");
    std::fs::write(&secrets, "alice * s3cret *\n").unwrap();
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (m0, m1, locks) = (phone.modem_str(0), phone.modem_str(1), phone.locks_str());
    let mut args = vec![
        "answer",
        "--device",
        &m1,
        "--lock-dir",
        &locks,
        "--secrets",
        secrets.to_str().unwrap(),
        "--require-pap",
        "--name",
        "server",
        "--local",
        "10.77.0.1",
        "--remote",
        "10.77.0.2",
        "--ms-dns",
        "10.77.0.53",
        "--ms-dns",
        "10.77.0.54",
    ];
    args.extend_from_slice(srv_extra);
    let mut answerer = Carrier::spawn_logged(Some(srv_ns.name()), &args, &dir.join("answer.log"));
    answerer
        .wait_event("waiting", Duration::from_secs(15))
        .unwrap_or_else(|| panic!("answerer not waiting: {}", answerer.log_text()));
    let mut args = vec![
        "dial",
        "--device",
        &m0,
        "--number",
        NUMBER,
        "--lock-dir",
        &locks,
        "--user",
        "alice",
        "--password",
        "s3cret",
        "--usepeerdns",
    ];
    args.extend_from_slice(cli_extra);
    let caller = Carrier::spawn_logged(Some(cli_ns.name()), &args, &dir.join("dial.log"));
    Some(Call {
        phone,
        srv_ns,
        cli_ns,
        answerer,
        caller,
    })
}

/// The reference call again, carrier answering and carrier dialing, every
/// script recording: the same scripts run, with the same arguments and
/// the same variables, as pppd's. IPv6 and IPv4 cross the link on the way
/// (ping both ways, `ping -6` to the peer's link-local address).
#[test]
fn carrier_runs_the_scripts_as_pppd_does() {
    let dir = tempfile::tempdir().unwrap();
    let (srv_hooks, srv_out) = (dir.path().join("srv-hooks"), dir.path().join("srv-out"));
    let (cli_hooks, cli_out) = (dir.path().join("cli-hooks"), dir.path().join("cli-out"));
    hookrec::install(&srv_hooks, &srv_out);
    hookrec::install(&cli_hooks, &cli_out);
    let common = ["--ipv6"];
    let srv: Vec<&str> = common
        .iter()
        .copied()
        .chain([
            "--ifname",
            "hks0",
            "--ipparam",
            "srv-param",
            "--linkname",
            "srvlink",
        ])
        .chain(["--hooks-dir", srv_hooks.to_str().unwrap()])
        .collect();
    let cli: Vec<&str> = common
        .iter()
        .copied()
        .chain([
            "--ifname",
            "hkc0",
            "--ipparam",
            "cli-param",
            "--linkname",
            "clilink",
        ])
        .chain(["--hooks-dir", cli_hooks.to_str().unwrap()])
        .collect();
    let Some(mut c) = reference_call("hk", &srv, &cli) else {
        return;
    };
    let up = Duration::from_secs(40);
    let v6 = c.caller.wait_event("ipv6cp-up", up).unwrap_or_else(|| {
        panic!(
            "caller: no ipv6cp-up: {:?}\n{}",
            c.caller.seen,
            c.caller.log_text()
        )
    });
    c.answerer
        .wait_event("ipv6cp-up", up)
        .unwrap_or_else(|| panic!("answerer: no ipv6cp-up: {:?}", c.answerer.seen));
    c.caller.wait_event("ipcp-up", up).expect("caller ipcp-up");
    for (out, n) in [
        (&srv_out, "ip-up"),
        (&cli_out, "ip-up"),
        (&srv_out, "ipv6-up"),
        (&cli_out, "ipv6-up"),
    ] {
        assert_eq!(
            hookrec::wait_runs(out, n, 1, up).len(),
            1,
            "{n} in {}",
            out.display()
        );
    }
    // IPv6 over the link, both ways, to the peer's link-local address.
    let (cli_ll, srv_ll) = (
        v6["local_ll"].as_str().unwrap().to_string(),
        v6["peer_ll"].as_str().unwrap().to_string(),
    );
    let ping6 = |ns: &Netns, to: &str, dev: &str| {
        let o = ns.ping6(to, dev);
        assert!(
            o.status.success(),
            "ping -6 {to}%{dev}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
    };
    ping6(&c.cli_ns, &srv_ll, "hkc0");
    ping6(&c.srv_ns, &cli_ll, "hks0");
    assert!(c
        .cli_ns
        .run(&["ping", "-c", "3", "-W", "5", "10.77.0.1"])
        .status
        .success());
    // No address but the agreed link-local one on either end.
    let addrs = String::from_utf8_lossy(
        &c.cli_ns
            .run(&["ip", "-6", "addr", "show", "dev", "hkc0"])
            .stdout,
    )
    .into_owned();
    assert_eq!(addrs.matches("inet6 ").count(), 1, "{addrs}");
    assert!(addrs.contains(&format!("{cli_ll}/64")), "{addrs}");

    c.caller.terminate();
    assert_eq!(c.caller.wait_exit(Duration::from_secs(30)), Some(5));
    assert_eq!(hookrec::wait_runs(&srv_out, "ip-down", 1, up).len(), 1);
    assert_eq!(hookrec::wait_runs(&srv_out, "auth-down", 1, up).len(), 1);
    c.answerer.terminate();
    let _ = c.answerer.wait_exit(Duration::from_secs(30));
    dump("carrier-server", &srv_out);
    dump("carrier-client", &cli_out);

    let (m0, m1) = (c.phone.modem_str(0), c.phone.modem_str(1));
    let mut wrong = hookrec::check(
        &srv_out,
        Side::Server,
        &Names {
            interface: "hks0".into(),
            device: m1,
        },
    );
    wrong.extend(hookrec::check(
        &cli_out,
        Side::Client,
        &Names {
            interface: "hkc0".into(),
            device: m0,
        },
    ));
    assert!(
        wrong.is_empty(),
        "carrier differs from pppd:\n{}",
        wrong.join("\n")
    );
    // The link carried traffic: the down scripts were told so.
    let down = &hookrec::runs(&cli_out, "ip-down")[0];
    assert!(
        down.env("BYTES_SENT").unwrap().parse::<u64>().unwrap() > 0,
        "{down:?}"
    );
}

/// A hanging ip-up is killed after --hook-timeout and reported; the link
/// carries on; when the line drops under it (the far end killed), ip-down
/// still runs, with the interface still there.
#[test]
fn a_hanging_script_is_killed_and_ip_down_runs_when_the_line_drops() {
    let dir = tempfile::tempdir().unwrap();
    let (hooks, out) = (dir.path().join("hooks"), dir.path().join("out"));
    hookrec::install(&hooks, &out);
    // ip-up records, then hangs.
    hookrec::install_with_tail(&hooks, &out, "ip-up", "sleep 600\n");
    // ip-down also records whether the interface is still there.
    let down = format!(
        "[ -e /sys/class/net/$1 ] && echo present > {}/ip-down.iface\n",
        out.display()
    );
    hookrec::install_with_tail(&hooks, &out, "ip-down", &down);
    let cli = [
        "--ifname",
        "hkh0",
        "--hooks-dir",
        hooks.to_str().unwrap(),
        "--hook-timeout",
        "1",
    ];
    let Some(mut c) = reference_call("hkh", &["--ifname", "hkhs0"], &cli) else {
        return;
    };
    let killed = c
        .caller
        .wait_event_where("hook", Duration::from_secs(40), |v| v["script"] == "ip-up")
        .unwrap_or_else(|| panic!("no hook event: {:?}", c.caller.seen));
    assert_eq!(killed["killed"], true, "{killed}");
    // The link carried on.
    assert!(c
        .cli_ns
        .run(&["ping", "-c", "3", "-W", "5", "10.77.0.1"])
        .status
        .success());
    drop(c.answerer); // SIGKILL: the far modem hangs up, carrier drops.
    let code = c.caller.run_to_end(Duration::from_secs(60));
    assert_eq!(code, Some(16), "{:?}", c.caller.seen);
    let down = hookrec::runs(&out, "ip-down");
    assert_eq!(
        down.len(),
        1,
        "ip-down after the line dropped: {:?}",
        c.caller.seen
    );
    assert_eq!(down[0].args[0], "hkh0");
    assert_eq!(
        std::fs::read_to_string(out.join("ip-down.iface"))
            .unwrap_or_default()
            .trim(),
        "present",
        "ip-down runs while the interface exists"
    );
}

// ------------------------------------------------ in-process sessions
//
// Two `session::run` back to back over an in-memory line, in this
// process: `a` with its scripts, `b` the peer. The scripts are real
// processes, so the clock is real too; the tests count, they do not time.

mod inproc {
    use std::net::Ipv4Addr;
    use std::path::{Path, PathBuf};
    use std::sync::Arc;
    use std::time::Duration;

    use carrier::events::Reporter;
    use carrier::hooks::HookConfig;
    use carrier::net::{IpLink, IpPlane, NoIp};
    use carrier::ppp::auth::{AuthConfig, AuthProto, Secret};
    use carrier::ppp::link::{EchoConfig, LinkConfig};
    use carrier::secrets::SecretsTable;
    use carrier::session::{self, HookSetup, Outcome, SessionConfig};
    use serde_json::Value;
    use tokio::io::DuplexStream;
    use tokio::sync::{mpsc, watch};

    pub const A_ADDR: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 1);
    pub const B_ADDR: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 2);

    /// The side with the scripts: gives the addresses; its scripts in
    /// `hooks`, killed after `timeout`.
    pub fn side_a(hooks: &Path, timeout: Duration) -> SessionConfig {
        let mut link = LinkConfig::pppd();
        link.ipcp.local = Some(A_ADDR);
        link.ipcp.remote = Some(B_ADDR);
        SessionConfig {
            link,
            hooks: Some(HookSetup {
                cfg: HookConfig {
                    dir: hooks.to_path_buf(),
                    timeout,
                    ..HookConfig::default()
                },
                device: PathBuf::from("/dev/ttyHK0"),
                speed: 115200,
                ifname: "hkp0".into(),
            }),
            ..SessionConfig::default()
        }
    }

    /// `a` requires PAP and takes any name with the password `s3cret`
    /// (a wildcard secret, `* * s3cret`).
    pub fn require_pap(mut a: SessionConfig) -> SessionConfig {
        a.link.lcp.require_auth = vec![AuthProto::Pap];
        a.link.auth = AuthConfig {
            name: "server".into(),
            secrets: Arc::new(SecretsTable::single("*", "*", Secret::new("s3cret"))),
            ..AuthConfig::default()
        };
        a
    }

    /// The peer, authenticating as `name` when asked to, sending LCP
    /// Echo-Requests every `echo` if given, and giving up after three
    /// unanswered.
    pub fn side_b(name: &str, echo: Option<Duration>) -> SessionConfig {
        let mut link = LinkConfig {
            auth: AuthConfig {
                name: name.into(),
                password: Some(Secret::new("s3cret")),
                ..AuthConfig::default()
            },
            ..LinkConfig::pppd()
        };
        link.echo = EchoConfig {
            interval: echo,
            failure: 3,
            adaptive: false,
        };
        SessionConfig {
            link,
            ..SessionConfig::default()
        }
    }

    /// a's IP plane: counts what it is handed before and after IPv4 is
    /// up; carries nothing.
    #[derive(Debug, Default)]
    pub struct Probe {
        pub up: bool,
        pub before_up: u64,
        pub after_up: u64,
    }

    impl IpPlane for Probe {
        fn up(&mut self, _link: &IpLink) -> std::io::Result<String> {
            self.up = true;
            Ok("probe up".into())
        }

        fn down(&mut self) {
            self.up = false;
        }

        fn deliver(&mut self, _datagram: &[u8]) {
            if self.up {
                self.after_up += 1;
            } else {
                self.before_up += 1;
            }
        }

        async fn next_outbound(&mut self, _buf: &mut [u8]) -> std::io::Result<usize> {
            std::future::pending().await
        }

        fn dropped(&self) -> u64 {
            0
        }
    }

    async fn run_side<P: IpPlane>(
        line: DuplexStream,
        mut ip: P,
        cfg: SessionConfig,
        reporter: Reporter,
        stop: watch::Receiver<bool>,
    ) -> (Outcome, P) {
        let mut line = line;
        let out = session::run(&mut line, &mut ip, cfg, &reporter, stop).await;
        // The far end sees the line close when this one is done.
        drop(line);
        (out.expect("session"), ip)
    }

    /// What a run of the pair left.
    pub struct Ran {
        pub a: Outcome,
        pub a_plane: Probe,
        pub b: Outcome,
        /// a's events, in order.
        pub events: Vec<Value>,
        /// a's events up to the moment b was told to stop.
        pub up_to_stop: usize,
    }

    /// Runs `a` against `b` until `ready`, given a's events so far, says
    /// so (asked every 100 ms), then `hold` longer; then `b` closes the
    /// link. Gives up after `limit` (whatever was reached by then is
    /// returned, for the test's assertions to tell).
    pub fn run_pair(
        a: SessionConfig,
        b: SessionConfig,
        hold: Duration,
        limit: Duration,
        mut ready: impl FnMut(&[Value]) -> bool,
    ) -> Ran {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (la, lb) = tokio::io::duplex(64 * 1024);
            let (rep_a, mut rx) = Reporter::channel();
            let rep_b = Reporter::to_log("peer");
            let (stop_a, stop_a_rx) = watch::channel(false);
            let (stop_b, stop_b_rx) = watch::channel(false);
            let drive = async {
                let mut events: Vec<Value> = Vec::new();
                let wait = async {
                    loop {
                        match tokio::time::timeout(Duration::from_millis(100), rx.recv()).await {
                            Ok(Some(v)) => {
                                let gone = v["event"] == "down";
                                events.push(v);
                                if gone {
                                    return;
                                }
                            }
                            Ok(None) => return,
                            Err(_) => {}
                        }
                        if ready(&events) {
                            return;
                        }
                    }
                };
                let _ = tokio::time::timeout(limit, wait).await;
                tokio::time::sleep(hold).await;
                drain(&mut rx, &mut events);
                let up_to_stop = events.len();
                stop_b.send_replace(true);
                // b closes; a follows.
                let a_down = async {
                    while let Some(v) = rx.recv().await {
                        let gone = v["event"] == "down";
                        events.push(v);
                        if gone {
                            return;
                        }
                    }
                };
                if tokio::time::timeout(Duration::from_secs(20), a_down)
                    .await
                    .is_err()
                {
                    stop_a.send_replace(true);
                }
                (events, up_to_stop)
            };
            let ((a, a_plane), (b, _), (mut events, up_to_stop)) = tokio::join!(
                run_side(la, Probe::default(), a, rep_a, stop_a_rx),
                run_side(lb, NoIp::default(), b, rep_b, stop_b_rx),
                drive
            );
            drain(&mut rx, &mut events);
            Ran {
                a,
                a_plane,
                b,
                events,
                up_to_stop,
            }
        })
    }

    fn drain(rx: &mut mpsc::UnboundedReceiver<Value>, events: &mut Vec<Value>) {
        while let Ok(v) = rx.try_recv() {
            events.push(v);
        }
    }

    /// IPCP came up at a, and its ip-up has run.
    pub fn ip_up_ran(events: &[Value], out: &Path) -> bool {
        events.iter().any(|v| v["event"] == "ipcp-up")
            && !super::hookrec::runs(out, "ip-up").is_empty()
    }

    /// The frames of a capture `SessionConfig::pcap` wrote: (sent by us,
    /// protocol, information field).
    pub fn capture(path: &Path) -> Vec<(bool, u16, Vec<u8>)> {
        let b = std::fs::read(path).unwrap();
        let mut frames = Vec::new();
        let mut i = 24;
        while i + 16 <= b.len() {
            let len = u32::from_ne_bytes(b[i + 8..i + 12].try_into().unwrap()) as usize;
            let rec = &b[i + 16..i + 16 + len];
            // Direction, ff 03, protocol, information.
            frames.push((
                rec[0] == 1,
                u16::from_be_bytes([rec[3], rec[4]]),
                rec[5..].to_vec(),
            ));
            i += 16 + len;
        }
        frames
    }
}

/// A peer's name is data: the scripts run whatever the name holds, and
/// get it as pppd shows it (`%v`): cut at a NUL, a newline `^J`, ESC `^[`,
/// a C1 CSI `M-^[`. Before, a NUL made every script fail to start (the OS
/// takes no NUL in the environment), so a caller let in by a wildcard
/// secret skipped the admin's ip-up; a newline or an escape sequence
/// reached the scripts raw.
#[test]
fn scripts_run_for_any_peer_name_and_get_it_sanitised() {
    let cases = [
        ("x\0rest", "x"),
        ("evil\nPEERNAME=admin", "evil^JPEERNAME=admin"),
        ("\x1b[31mred\x1b[0m", "^[[31mred^[[0m"),
        ("\u{9b}2J", "M-^[2J"),
    ];
    for (name, shown) in cases {
        let dir = tempfile::tempdir().unwrap();
        let (hooks, out) = (dir.path().join("hooks"), dir.path().join("out"));
        hookrec::install(&hooks, &out);
        let a = inproc::require_pap(inproc::side_a(&hooks, Duration::from_secs(10)));
        let ran = inproc::run_pair(
            a,
            inproc::side_b(name, None),
            Duration::ZERO,
            Duration::from_secs(30),
            |ev| inproc::ip_up_ran(ev, &out),
        );
        let errors: Vec<&serde_json::Value> = ran
            .events
            .iter()
            .filter(|v| v["event"] == "hook" && v.get("error").is_some())
            .collect();
        assert!(errors.is_empty(), "{name:?}: scripts failed: {errors:?}");
        assert!(
            ran.events.iter().any(|v| v["event"] == "ipcp-up"),
            "{name:?}: no ipcp-up: {:?}",
            ran.events
        );
        assert_eq!(
            ran.a.reason,
            carrier::ppp::DownReason::PeerTerminated,
            "{name:?}"
        );
        // The down scripts are started as the link goes; wait for them.
        hookrec::wait_runs(&out, "auth-down", 1, Duration::from_secs(10));
        for script in ["auth-up", "ip-pre-up", "ip-up", "ip-down", "auth-down"] {
            let runs = hookrec::runs(&out, script);
            assert_eq!(runs.len(), 1, "{name:?}: {script} ran {} times", runs.len());
            assert_eq!(
                runs[0].env("PEERNAME"),
                Some(shown),
                "{name:?}: {script}'s PEERNAME"
            );
            if script.starts_with("auth") {
                assert_eq!(runs[0].args[1], shown, "{name:?}: {script}'s argument");
            }
        }
    }
}

/// A hung ip-pre-up costs the link nothing: while it runs (until
/// --hook-timeout kills it) the peer's LCP Echo-Requests, one a second,
/// are every one answered, though the peer gives up after three missed;
/// then the interface comes up (the datagram waiting for it goes out),
/// ipcp-up is told, and ip-up runs. Before, the session waited for the
/// script inside its loop: the line went unread and the peer hung up.
#[test]
fn a_hung_ip_pre_up_while_the_peer_sends_echoes_every_second_answers_every_echo() {
    let dir = tempfile::tempdir().unwrap();
    let (hooks, out) = (dir.path().join("hooks"), dir.path().join("out"));
    hookrec::install(&hooks, &out);
    // ip-pre-up records, then hangs.
    hookrec::install_with_tail(&hooks, &out, "ip-pre-up", "exec sleep 600\n");
    let pcap = dir.path().join("a.pcap");
    let timeout = Duration::from_secs(6);
    let mut a = inproc::side_a(&hooks, timeout);
    a.pcap = Some(pcap.clone());
    // Waits for IPv4: goes out once the interface is up.
    a.pending = vec![support::packet::udp4(
        inproc::A_ADDR.octets(),
        inproc::B_ADDR.octets(),
        b"up",
    )];
    // The peer sends one as soon as its IPCP opens: it meets an interface
    // not configured yet.
    let mut b = inproc::side_b("peer", Some(Duration::from_secs(1)));
    b.pending = vec![support::packet::udp4(
        inproc::B_ADDR.octets(),
        inproc::A_ADDR.octets(),
        b"early",
    )];
    let ran = inproc::run_pair(
        a,
        b,
        // Two more echoes with IP up.
        Duration::from_millis(2500),
        Duration::from_secs(60),
        |ev| inproc::ip_up_ran(ev, &out),
    );
    let seen = || format!("{:#?}", ran.events);

    // The link stayed up until the peer closed it.
    assert_eq!(
        ran.b.reason,
        carrier::ppp::DownReason::UserRequest,
        "the peer's link went down by itself: {}",
        seen()
    );
    // ip-pre-up hung and was killed; only then IP came up.
    let ev = &ran.events[..ran.up_to_stop];
    let killed = ev
        .iter()
        .position(|v| v["event"] == "hook" && v["script"] == "ip-pre-up")
        .unwrap_or_else(|| panic!("no ip-pre-up hook event: {}", seen()));
    assert_eq!(ev[killed]["killed"], true, "{}", ev[killed]);
    let up = ev
        .iter()
        .position(|v| v["event"] == "ipcp-up")
        .unwrap_or_else(|| panic!("no ipcp-up: {}", seen()));
    assert!(up > killed, "ipcp-up before ip-pre-up ended: {}", seen());
    assert_eq!(hookrec::runs(&out, "ip-pre-up").len(), 1);
    assert_eq!(hookrec::runs(&out, "ip-up").len(), 1);
    // The peer's early datagram was not handed to the plane before it was
    // up: dropped and counted.
    assert_eq!(ran.b.link.ip_out, 1, "{:?}", ran.b.link);
    assert_eq!(
        (ran.a_plane.before_up, ran.a_plane.after_up),
        (0, 0),
        "{:?}",
        ran.a_plane
    );
    assert_eq!(ran.a.ip_dropped, 1, "{:?}", ran.a);

    // On the line: every Echo-Request the peer sent was answered, those
    // while ip-pre-up hung before the interface came up.
    let frames = inproc::capture(&pcap);
    let lcp = |sent: bool, code: u8| {
        move |f: &(bool, u16, Vec<u8>)| f.0 == sent && f.1 == 0xc021 && f.2.first() == Some(&code)
    };
    let ip_up_at = frames
        .iter()
        .position(|f| f.0 && f.1 == 0x0021)
        .unwrap_or_else(|| panic!("the waiting datagram never went out: {}", seen()));
    let mut during = 0;
    let mut asked = 0;
    for (i, f) in frames.iter().enumerate() {
        if !lcp(false, 9)(f) {
            continue;
        }
        asked += 1;
        let id = f.2[1];
        let reply = frames[i..]
            .iter()
            .position(|r| lcp(true, 10)(r) && r.2[1] == id)
            .map(|p| p + i)
            .unwrap_or_else(|| panic!("Echo-Request {id} unanswered"));
        if i < ip_up_at {
            during += 1;
            assert!(
                reply < ip_up_at,
                "Echo-Request {id} answered only after IP came up"
            );
        }
    }
    eprintln!(
        "Echo-Requests: {during} while ip-pre-up hung, {asked} in all; peer {:?}",
        (ran.b.link.echo_requests_sent, ran.b.link.echo_replies_in)
    );
    // ip-pre-up ran 6 s, the peer asked every second: at least 4 asked
    // while it hung (the peer gives up after 3 missed).
    assert!(
        during >= 4,
        "{during} Echo-Requests while ip-pre-up hung ({asked} in all)"
    );
    // The peer's count agrees: none missing but one in flight as it
    // closed.
    let b = &ran.b.link;
    assert!(
        b.echo_requests_sent >= asked as u64 && b.echo_requests_sent - b.echo_replies_in <= 1,
        "{b:?}"
    );
}

/// The link goes while ip-pre-up still runs: the interface is not
/// configured after it, nobody is told IPCP came up (nor went down),
/// neither ip-up nor ip-down runs, and the datagram that waited for IPv4
/// is dropped and counted. The session still waits for the script.
#[test]
fn a_link_gone_during_ip_pre_up_does_not_bring_ip_up_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let (hooks, out) = (dir.path().join("hooks"), dir.path().join("out"));
    hookrec::install(&hooks, &out);
    hookrec::install_with_tail(&hooks, &out, "ip-pre-up", "sleep 3\n");
    let mut a = inproc::side_a(&hooks, Duration::from_secs(30));
    a.pending = vec![support::packet::udp4(
        inproc::A_ADDR.octets(),
        inproc::B_ADDR.octets(),
        b"never",
    )];
    // The peer closes as soon as ip-pre-up has started.
    let ran = inproc::run_pair(
        a,
        inproc::side_b("peer", None),
        Duration::ZERO,
        Duration::from_secs(30),
        |_| !hookrec::runs(&out, "ip-pre-up").is_empty(),
    );
    let seen = format!("{:#?}", ran.events);
    assert_eq!(hookrec::runs(&out, "ip-pre-up").len(), 1, "{seen}");
    for e in ["ipcp-up", "ipcp-down", "ip-interface"] {
        assert!(!ran.events.iter().any(|v| v["event"] == e), "{e}: {seen}");
    }
    // The script ran to its end before the session did.
    let pre_up = ran
        .events
        .iter()
        .find(|v| v["event"] == "hook" && v["script"] == "ip-pre-up")
        .unwrap_or_else(|| panic!("no ip-pre-up hook event: {seen}"));
    assert_eq!(pre_up["status"], 0, "{pre_up}");
    std::thread::sleep(Duration::from_millis(300));
    for s in ["ip-up", "ip-down"] {
        assert!(hookrec::runs(&out, s).is_empty(), "{s} ran");
    }
    assert_eq!(ran.a.ip_dropped, 1, "{:?}", ran.a);
    assert_eq!(ran.a.link.ip_out, 0);
}
