//! `carrier dial` as a user runs it, through the modem simulator: the
//! built-in demo, a profile dialing a number list (first busy), PAP,
//! IPCP, DNS, pcap, hang-up by signal, persist after a carrier drop, and
//! the exit codes for what goes wrong.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use carrier::access::{demo as account, AccessServer};
use carrier_sim::{CallInfo, Destination, FaultSpec};
use support::carrier::{Carrier, Netns};
use support::sim::Switch;

const BUSY: &str = "555-0100";
const SERVER: &str = "555-0199";

/// The simulator in this process: modem0 for carrier, numbers as given,
/// the access server behind `access-server`; time runs 5x fast.
struct Exchange {
    switch: Switch,
    server: Arc<AccessServer>,
}

impl Exchange {
    fn start(routes: &[(&str, Destination, FaultSpec)]) -> Exchange {
        let server = Arc::new(AccessServer::new(account::config(None)));
        let service = Arc::new({
            let server = server.clone();
            move |line, call: CallInfo| server.serve_call(line, call.call, &call.caller)
        });
        let switch = Switch::start_with(1, |mut cfg| {
            for (n, d, f) in routes {
                cfg = cfg.route_with_faults(n, d.clone(), f.clone());
            }
            cfg.service("access-server", service)
        });
        Exchange { switch, server }
    }

    fn standard() -> Exchange {
        Exchange::start(&[
            (BUSY, Destination::Busy, FaultSpec::default()),
            (
                SERVER,
                Destination::Service("access-server".into()),
                FaultSpec::default(),
            ),
        ])
    }

    fn modem(&self) -> PathBuf {
        self.switch.modem(0)
    }

    fn locks(&self) -> PathBuf {
        self.switch.locks()
    }

    /// A profile whose link gets interface `ifname` with the default route
    /// through it; `extra` is appended.
    fn routed_profile(&self, numbers: &[&str], ifname: &str, extra: &str) -> PathBuf {
        self.profile(
            numbers,
            account::PASSWORD,
            &format!("ifname = \"{ifname}\"\ndefaultroute = true\n{extra}"),
        )
    }

    /// A profile file for this exchange; `extra` is appended as is.
    fn profile(&self, numbers: &[&str], password: &str, extra: &str) -> PathBuf {
        let pw = self.switch.dir().join("password");
        std::fs::write(&pw, format!("{password}\n")).unwrap();
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
        let list = numbers
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{{ number = \"{n}\", label = \"city{i}\" }}"))
            .collect::<Vec<_>>()
            .join(", ");
        let text = format!(
            "device = \"{}\"\nlock-dir = \"{}\"\nnumbers = [{list}]\nuser = \"{}\"\npassword-file = \"{}\"\nusepeerdns = true\nretries = 0\n{extra}\n",
            self.modem().display(),
            self.locks().display(),
            account::USER,
            pw.display()
        );
        let p = self.switch.dir().join("profile.toml");
        std::fs::write(&p, text).unwrap();
        p
    }
}

#[test]
fn the_builtin_demo_dials_past_a_busy_number_and_meets_the_fence() {
    let pcap = tempfile::NamedTempFile::new().unwrap();
    let mut c = Carrier::spawn(&["dial", "--pcap", pcap.path().to_str().unwrap()]);
    let ip = c
        .wait_event("ipcp-up", Duration::from_secs(60))
        .unwrap_or_else(|| panic!("no ipcp-up: {:?}", c.seen));
    assert!(ip["local"].as_str().unwrap().starts_with("10.64.0."));
    assert_eq!(ip["dns"][0], "10.64.0.53");
    let code = c.run_to_end(Duration::from_secs(60));
    assert_eq!(code, Some(0), "{:?}", c.seen);
    let results: Vec<_> = c.events_named("dial-result").collect();
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0]["number"], "555-0100");
    assert_eq!(results[0]["result"], "BUSY");
    let connect = c.wait_event("connect", Duration::ZERO).unwrap();
    assert_eq!(connect["number"], "555-0199");
    assert_eq!(connect["speed"], 33600);
    assert_eq!(connect["tries"], 2);
    let probes: Vec<_> = c
        .events_named("probe")
        .map(|p| (p["target"].clone(), p["reachable"].clone()))
        .collect();
    assert!(
        probes.contains(&("10.64.1.10".into(), true.into())),
        "{probes:?}"
    );
    assert!(
        probes.contains(&("10.64.9.99".into(), false.into())),
        "{probes:?}"
    );
    let fence = c.wait_event("fence", Duration::ZERO).unwrap();
    assert!(
        fence["fence"]["dropped_destination"].as_u64().unwrap() >= 1,
        "{fence}"
    );
    // The busy number never reached the access server: one call, let in.
    assert_eq!(
        (
            &fence["calls"],
            &fence["authenticated"],
            &fence["auth_failed"],
            &fence["pool_exhausted"]
        ),
        (&1.into(), &1.into(), &0.into(), &0.into()),
        "{fence}"
    );
    tshark_reads(pcap.path());
}

/// tshark opens the capture and finds PPP in it, nothing malformed.
fn tshark_reads(path: &Path) {
    let out = match Command::new("tshark").arg("-r").arg(path).output() {
        Ok(o) => o,
        Err(e) => {
            assert!(!support::pppd::in_ci(), "tshark missing under CI: {e}");
            eprintln!("SKIP tshark check: {e}");
            return;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("PAP"), "{text}");
    assert!(text.contains("IPCP"), "{text}");
    assert!(!text.contains("Malformed"), "{text}");
}

#[test]
fn a_profile_dials_the_list_and_a_signal_hangs_up_cleanly() {
    let x = Exchange::standard();
    let resolv = x.switch.dir().join("resolv.conf");
    let profile = x.profile(
        &[BUSY, SERVER],
        account::PASSWORD,
        &format!("resolv-conf = \"{}\"", resolv.display()),
    );
    let mut c = Carrier::spawn(&["dial", "--config", profile.to_str().unwrap(), "--no-tun"]);
    let ip = c
        .wait_event("ipcp-up", Duration::from_secs(60))
        .unwrap_or_else(|| panic!("no ipcp-up: {:?}", c.seen));
    assert_eq!(ip["dns"][0], "10.64.0.53");
    // usepeerdns with resolv-conf: the peer's DNS, while IP is up.
    c.wait_event("resolv-conf", Duration::from_secs(5))
        .expect("resolv-conf event");
    let text = std::fs::read_to_string(&resolv).unwrap();
    assert!(text.contains("nameserver 10.64.0.53\n"), "{text}");
    let connect = c.wait_event("connect", Duration::ZERO).unwrap();
    assert_eq!(connect["label"], "city1");
    assert!(
        std::fs::read_dir(x.locks()).unwrap().count() == 1,
        "the port is locked during the call"
    );
    c.terminate();
    assert_eq!(c.wait_exit(Duration::from_secs(30)), Some(5));
    let down = c
        .wait_event("down", Duration::from_secs(2))
        .expect("down event");
    assert_eq!(down["reason"], "user-request");
    assert_eq!(
        std::fs::read_dir(x.locks()).unwrap().count(),
        0,
        "lock file left behind"
    );
    assert!(!resolv.exists(), "resolv.conf removed with IP");
    assert_eq!(
        x.server
            .stats
            .authenticated
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[test]
fn a_wrong_password_is_auth_failed_and_not_retried_forever() {
    let x = Exchange::standard();
    let profile = x.profile(
        &[SERVER],
        "not-the-password",
        "persist = true\nholdoff = 0\nmaxfail = 2",
    );
    let mut c = Carrier::spawn(&["dial", "--config", profile.to_str().unwrap(), "--no-tun"]);
    let code = c.run_to_end(Duration::from_secs(90));
    assert_eq!(code, Some(19), "we failed to authenticate: {:?}", c.seen);
    assert_eq!(c.events_named("connect").count(), 2, "maxfail 2 calls");
    assert!(c.events_named("down").all(|d| d["reason"] == "auth-failed"));
}

/// A modem told ATV0 answers in digits (V.250 §6.2.6), the answer to the
/// ATV0 itself already; the dialer follows the init string, so BUSY (7)
/// still moves on to the next number and CONNECT (1) still goes up.
#[test]
fn numeric_result_codes_after_v0_in_the_init_string() {
    let x = Exchange::standard();
    let profile = x.profile(
        &[BUSY, SERVER],
        account::PASSWORD,
        "init = [\"ATZ\", \"AT&F E1 V0 Q0 X4 &C1 &D2\"]",
    );
    let log = x.switch.dir().join("dial.log");
    let mut c = Carrier::spawn_logged(
        None,
        &[
            "dial",
            "--config",
            profile.to_str().unwrap(),
            "--no-tun",
            "-v",
        ],
        &log,
    );
    let connect = c
        .wait_event("connect", Duration::from_secs(60))
        .unwrap_or_else(|| panic!("no connect: {:?}", c.seen));
    assert_eq!(connect["number"], SERVER, "{connect}");
    // BUSY came as 7 and moved on to the next number.
    assert_eq!(connect["tries"], 2, "{connect}\n{}", c.log_text());
    c.wait_event("ipcp-up", Duration::from_secs(60))
        .unwrap_or_else(|| panic!("no ipcp-up: {:?}", c.seen));
    c.terminate();
    assert_eq!(c.wait_exit(Duration::from_secs(30)), Some(5));
}

#[test]
fn persist_redials_after_the_carrier_drops() {
    let drop_after = FaultSpec {
        carrier_drop_ms: Some(15_000),
        ..FaultSpec::default()
    };
    let x = Exchange::start(&[(
        SERVER,
        Destination::Service("access-server".into()),
        drop_after,
    )]);
    let profile = x.profile(&[SERVER], account::PASSWORD, "persist = true\nholdoff = 1");
    let mut c = Carrier::spawn(&["dial", "--config", profile.to_str().unwrap(), "--no-tun"]);
    c.wait_event("ipcp-up", Duration::from_secs(60))
        .unwrap_or_else(|| panic!("first call: {:?}", c.seen));
    let down = c
        .wait_event("down", Duration::from_secs(60))
        .unwrap_or_else(|| panic!("no drop: {:?}", c.seen));
    assert_eq!(down["reason"], "lower-layer-down");
    c.wait_event("holdoff", Duration::from_secs(10))
        .expect("holdoff before redialing");
    // The second call comes up by itself.
    let ups = |c: &Carrier| c.events_named("ipcp-up").count();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while ups(&c) < 2 && std::time::Instant::now() < deadline {
        c.wait_event("never-such-event", Duration::from_secs(1));
    }
    assert_eq!(ups(&c), 2, "{:?}", c.seen);
    c.terminate();
    assert_eq!(c.wait_exit(Duration::from_secs(30)), Some(5));
}

/// pppd exits 5 when a signal ends it, also while it waits to redial, and
/// scripts reading events still see the link's end.
#[test]
fn a_signal_during_the_holdoff_exits_5_with_a_down_event() {
    let x = Exchange::start(&[(BUSY, Destination::Busy, FaultSpec::default())]);
    let profile = x.profile(&[BUSY], account::PASSWORD, "persist = true\nholdoff = 30");
    let mut c = Carrier::spawn(&["dial", "--config", profile.to_str().unwrap(), "--no-tun"]);
    c.wait_event("holdoff", Duration::from_secs(30))
        .unwrap_or_else(|| panic!("no holdoff after the busy call: {:?}", c.seen));
    c.terminate();
    assert_eq!(
        c.run_to_end(Duration::from_secs(10)),
        Some(5),
        "{:?}",
        c.seen
    );
    let down = c.events_named("down").last().cloned();
    let down = down.unwrap_or_else(|| panic!("no down event: {:?}", c.seen));
    assert_eq!(down["reason"], "user-request");
    assert_eq!(down["exit_code"], 5);
}

#[test]
fn all_numbers_busy_and_no_dialtone_have_their_exit_codes() {
    let x = Exchange::start(&[
        (BUSY, Destination::Busy, FaultSpec::default()),
        ("555-0111", Destination::NoDialtone, FaultSpec::default()),
    ]);
    let profile = x.profile(&[BUSY, BUSY], account::PASSWORD, "");
    let mut c = Carrier::spawn(&["dial", "--config", profile.to_str().unwrap(), "--no-tun"]);
    assert_eq!(
        c.run_to_end(Duration::from_secs(60)),
        Some(21),
        "{:?}",
        c.seen
    );
    let profile = x.profile(&["555-0111", BUSY], account::PASSWORD, "");
    let mut c = Carrier::spawn(&["dial", "--config", profile.to_str().unwrap(), "--no-tun"]);
    assert_eq!(
        c.run_to_end(Duration::from_secs(60)),
        Some(23),
        "{:?}",
        c.seen
    );
    assert_eq!(
        c.events_named("dialing").count(),
        1,
        "no dial tone stops at once"
    );
}

fn carrier_exit(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_carrier"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_input_gets_one_clear_line_and_its_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    // A broken profile names its file, line and field.
    let p = dir.path().join("broken.toml");
    std::fs::write(&p, "device = \"/dev/ttyS0\"\nspeed = \"fast\"\n").unwrap();
    let (code, err) = carrier_exit(&["dial", "--config", p.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("broken.toml:2"), "{err}");
    assert!(err.contains("speed"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    // A missing device.
    let lock = dir.path().to_str().unwrap();
    let (code, err) = carrier_exit(&[
        "dial",
        "--device",
        "/dev/does-not-exist",
        "--number",
        "5551234",
        "--lock-dir",
        lock,
        "--no-tun",
    ]);
    assert_eq!(code, Some(7), "{err}");
    assert!(err.contains("/dev/does-not-exist"), "{err}");

    // A device that is not a modem: a PTY nobody answers on.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _g = rt.enter();
    let pty = carrier_hw::Pty::open().unwrap();
    let (code, err) = carrier_exit(&[
        "dial",
        "--device",
        pty.slave_path().to_str().unwrap(),
        "--number",
        "5551234",
        "--lock-dir",
        lock,
        "--no-tun",
    ]);
    assert_eq!(code, Some(24), "{err}");
}

/// With no line, `dial` runs the built-in demo, which dials at once and
/// takes only --pcap and --no-tun: a flag it would ignore is refused, in
/// one line naming every such flag, before anything is dialed.
#[test]
fn the_builtin_demo_refuses_the_flags_it_would_ignore() {
    let (code, err) = carrier_exit(&["dial", "--demand", "--idle", "3"]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--demand") && err.contains("--idle"), "{err}");
    assert!(err.contains("--pcap"), "what it does take: {err}");

    let (code, err) = carrier_exit(&[
        "dial",
        "--no-tun",
        "--persist",
        "--ifname",
        "carrier0",
        "--user",
        "alice",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let (refused, _) = err.split_once(": not for").expect(&err);
    for flag in ["--persist", "--ifname", "--user"] {
        assert!(refused.contains(flag), "{flag}: {err}");
    }
    assert!(!refused.contains("--no-tun"), "--no-tun is taken: {err}");
}

/// An active-filter nested past its limit is refused in one line, from the
/// command line and from a profile alike, and never overflows the stack.
#[test]
fn a_filter_nested_too_deep_is_one_line_of_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().to_str().unwrap();
    // 100,000 parentheses (the depth is refused before the missing ")"),
    // under Linux's 128 KiB bound on one argument; as many `not`s as fit.
    let parens = "(".repeat(100_000) + "tcp";
    let nots = "not ".repeat(30_000) + "tcp";
    for filter in [parens, nots] {
        let (code, err) = carrier_exit(&[
            "dial",
            "--device",
            "/dev/does-not-exist",
            "--number",
            "5551234",
            "--lock-dir",
            lock,
            "--no-tun",
            "--active-filter",
            &filter,
        ]);
        assert_eq!(code, Some(2), "{err}");
        assert!(
            err.contains("--active-filter") && err.contains("64 deep"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.len() < 200, "{err}");
    }
    // A profile has no bound on its length: 100,000 `not`s.
    let p = dir.path().join("deep.toml");
    let deep = "not ".repeat(100_000) + "tcp";
    std::fs::write(
        &p,
        format!("device = \"/dev/ttyS0\"\nactive-filter = \"{deep}\"\n"),
    )
    .unwrap();
    let (code, err) = carrier_exit(&["dial", "--config", p.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("active-filter") && err.contains("64 deep"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_chat_connect_script_dials_instead_of_the_builtin_dialer() {
    let x = Exchange::standard();
    let script = x.switch.dir().join("isp.chat");
    // A script as pppd users keep them; \T is the number.
    std::fs::write(
        &script,
        "ABORT BUSY\nABORT 'NO CARRIER'\nREPORT CONNECT\n'' ATZ\nOK ATDT\\T\nCONNECT ''\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o600)).unwrap();
    let profile = x.profile(&[SERVER], account::PASSWORD, "");
    let mut c = Carrier::spawn(&[
        "dial",
        "--config",
        profile.to_str().unwrap(),
        "--connect-script",
        script.to_str().unwrap(),
        "--no-tun",
    ]);
    c.wait_event("ipcp-up", Duration::from_secs(60))
        .unwrap_or_else(|| panic!("no ipcp-up: {:?}", c.seen));
    assert_eq!(c.events_named("dialing").count(), 0, "the script dialed");
    let report = c.wait_event("report", Duration::ZERO).expect("REPORT line");
    assert!(report["text"].as_str().unwrap().starts_with("CONNECT"));
    c.terminate();
    assert_eq!(c.wait_exit(Duration::from_secs(30)), Some(5));

    // A script whose ABORT string fires: exit 8, the port released.
    let profile = x.profile(&[BUSY], account::PASSWORD, "");
    let (code, err) = carrier_exit(&[
        "dial",
        "--config",
        profile.to_str().unwrap(),
        "--connect-script",
        script.to_str().unwrap(),
        "--no-tun",
    ]);
    assert_eq!(code, Some(8), "{err}");
    assert_eq!(std::fs::read_dir(x.locks()).unwrap().count(), 0);
}

#[test]
fn a_locked_port_is_refused_and_a_stale_lock_taken_over() {
    let x = Exchange::standard();
    let name = format!(
        "LCK..{}",
        std::fs::canonicalize(x.modem())
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
    );
    let lock = x.locks().join(name);
    let profile = x.profile(&[SERVER], account::PASSWORD, "");
    // Held by a live process (init): refused, naming it.
    std::fs::write(&lock, format!("{:>10}\n", 1)).unwrap();
    let (code, err) = carrier_exit(&["dial", "--config", profile.to_str().unwrap(), "--no-tun"]);
    assert_eq!(code, Some(6), "{err}");
    assert!(err.contains("in use by process 1 "), "{err}");
    assert!(lock.exists(), "someone else's lock is left alone");
    // Left by a process that is gone: taken over, the call goes ahead.
    let mut gone = Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    std::fs::write(&lock, format!("{dead:>10}\n")).unwrap();
    let mut c = Carrier::spawn(&["dial", "--config", profile.to_str().unwrap(), "--no-tun"]);
    c.wait_event("ipcp-up", Duration::from_secs(60))
        .unwrap_or_else(|| panic!("stale lock not taken over: {:?}", c.seen));
    c.terminate();
    assert_eq!(c.wait_exit(Duration::from_secs(30)), Some(5));
    assert!(!lock.exists(), "our lock is released");
}

#[test]
fn hangup_by_signal_removes_the_tun_device() {
    let Some(ns) = Netns::new("dialtun") else {
        return;
    };
    let x = Exchange::standard();
    let profile = x.routed_profile(&[SERVER], "cdial0", "");
    let mut c = Carrier::spawn_in(
        Some(ns.name()),
        &["dial", "--config", profile.to_str().unwrap()],
    );
    c.wait_event("ip-interface", Duration::from_secs(60))
        .unwrap_or_else(|| panic!("no interface: {:?}", c.seen));
    let links = String::from_utf8_lossy(&ns.run(&["ip", "link"]).stdout).into_owned();
    assert!(links.contains("cdial0"), "{links}");
    let routes = String::from_utf8_lossy(&ns.run(&["ip", "route"]).stdout).into_owned();
    assert!(
        routes.contains("default dev cdial0"),
        "defaultroute: {routes}"
    );
    // IP crosses the link to the service address behind the fence: ping
    // and a TCP connection to its port 443 (echoed)...
    assert!(ns
        .run(&["ping", "-c", "3", "-W", "5", "10.64.1.10"])
        .status
        .success());
    let echoed = Command::new("sh")
        .args([
            "-c",
            &format!(
                "echo through-the-fence | ip netns exec {} socat -t 3 -T 3 - TCP:10.64.1.10:443,connect-timeout=3",
                ns.name()
            ),
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&echoed.stdout).contains("through-the-fence"),
        "TCP 443 echo: {echoed:?}"
    );
    // ...and nowhere else: the access server drops and counts it.
    let before = x.server.stats.fence.dropped();
    assert!(!ns
        .run(&["ping", "-c", "2", "-W", "1", "10.64.9.99"])
        .status
        .success());
    assert!(!ns
        .run(&[
            "socat",
            "-T",
            "2",
            "/dev/null",
            "TCP:10.64.9.99:443,connect-timeout=2"
        ])
        .status
        .success());
    assert!(
        x.server.stats.fence.dropped() >= before + 3,
        "fence drops counted: {} -> {}",
        before,
        x.server.stats.fence.dropped()
    );
    c.terminate();
    assert_eq!(c.wait_exit(Duration::from_secs(30)), Some(5));
    let links = String::from_utf8_lossy(&ns.run(&["ip", "link"]).stdout).into_owned();
    assert!(!links.contains("cdial0"), "{links}");
    assert_eq!(std::fs::read_dir(x.locks()).unwrap().count(), 0);
}

/// pppd's `demand`: the interface waits with placeholder addresses and no
/// call; a ping through it makes the modem dial, and that first datagram
/// reaches the far end once the link is up (the ping is answered); `idle`
/// hangs up and the interface waits again, with the addresses IPCP gave;
/// the next datagram dials again.
#[test]
fn demand_dials_on_traffic_hangs_up_when_idle_and_dials_again() {
    let Some(ns) = Netns::new("demand") else {
        return;
    };
    let x = Exchange::standard();
    let profile = x.routed_profile(&[SERVER], "cdem0", "idle = 3");
    let log = x.switch.dir().join("demand.log");
    let mut c = Carrier::spawn_logged(
        Some(ns.name()),
        &[
            "dial",
            "--config",
            profile.to_str().unwrap(),
            "--demand",
            "--holdoff",
            "1",
        ],
        &log,
    );
    c.wait_event("demand-waiting", Duration::from_secs(20))
        .unwrap_or_else(|| panic!("not waiting for traffic: {:?}", c.seen));
    let addrs = String::from_utf8_lossy(&ns.run(&["ip", "-4", "addr", "show", "cdem0"]).stdout)
        .into_owned();
    assert!(addrs.contains("10.64.64.64 peer 10.112.112.112"), "{addrs}");
    // Nothing dials while nothing is sent (the interface has no IPv6 to
    // chatter with, and chatter would not count).
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        c.wait_event("dialing", Duration::ZERO).is_none(),
        "{:?}",
        c.seen
    );

    for round in 1..=2 {
        // The first echo request is the one that dials; ping waits for it.
        let ping = ns.run(&["ping", "-c", "1", "-W", "45", "10.64.1.10"]);
        assert!(
            ping.status.success(),
            "round {round}: the first datagram was not carried: {}{}\n{}",
            String::from_utf8_lossy(&ping.stdout),
            String::from_utf8_lossy(&ping.stderr),
            c.log_text()
        );
        wait_count(&mut c, "ipcp-up", round);
        assert_eq!(c.events_named("demand-dial").count(), round, "{:?}", c.seen);
        let up = c.events_named("ipcp-up").nth(round - 1).cloned().unwrap();
        let local = up["local"].as_str().unwrap().to_string();
        // Idle: the link goes down and the interface waits again, with the
        // address IPCP gave.
        let down = c
            .wait_event_where("down", Duration::from_secs(30), |v| v["reason"] == "idle")
            .unwrap_or_else(|| panic!("no idle hang-up: {:?}", c.seen));
        assert_eq!(down["exit_code"], 12);
        let end = std::time::Instant::now() + Duration::from_secs(30);
        while c.events_named("demand-waiting").count() < round + 1 {
            assert!(
                std::time::Instant::now() < end,
                "not waiting again: {:?}",
                c.seen
            );
            c.wait_event("never", Duration::from_millis(200));
        }
        let addrs = String::from_utf8_lossy(&ns.run(&["ip", "-4", "addr", "show", "cdem0"]).stdout)
            .into_owned();
        assert!(addrs.contains(&local), "round {round}: {addrs}");
        // An idle hang-up has no holdoff (pppd neither).
        assert!(c.events_named("holdoff").next().is_none(), "{:?}", c.seen);
    }
    c.terminate();
    assert_eq!(c.wait_exit(Duration::from_secs(30)), Some(5));
    let links = String::from_utf8_lossy(&ns.run(&["ip", "link"]).stdout).into_owned();
    assert!(!links.contains("cdem0"), "{links}");
}

/// A demand call that cannot be placed (the number is busy) drops what
/// was waiting for it, counted; after the holdoff the next datagram dials
/// again, and `maxfail` failed calls in a row end carrier with the dial's
/// exit code.
#[test]
fn a_failed_demand_call_drops_its_datagrams_and_maxfail_ends_it() {
    let Some(ns) = Netns::new("demandbusy") else {
        return;
    };
    let x = Exchange::standard();
    let profile = x.routed_profile(&[BUSY], "cdbz0", "");
    let mut c = Carrier::spawn_in(
        Some(ns.name()),
        &[
            "dial",
            "--config",
            profile.to_str().unwrap(),
            "--demand",
            "--holdoff",
            "1",
            "--maxfail",
            "2",
        ],
    );
    for round in 1..=2 {
        wait_count(&mut c, "demand-waiting", round);
        let ping = ns.run(&["ping", "-c", "1", "-W", "1", "10.64.1.10"]);
        assert!(!ping.status.success());
        wait_count(&mut c, "demand-dropped", round);
    }
    let dropped = c.events_named("demand-dropped").next().unwrap().clone();
    assert!(dropped["datagrams"].as_u64().unwrap() >= 1, "{dropped}");
    assert_eq!(
        c.run_to_end(Duration::from_secs(30)),
        Some(21),
        "{:?}",
        c.seen
    );
    assert_eq!(c.events_named("demand-dial").count(), 2);
    assert!(c.events_named("maxfail").next().is_some());
}

/// Reads events until `n` called `name` have been seen (30 s at most).
fn wait_count(c: &mut Carrier, name: &str, n: usize) {
    let end = std::time::Instant::now() + Duration::from_secs(30);
    while c.events_named(name).count() < n {
        assert!(
            std::time::Instant::now() < end,
            "fewer than {n} {name}: {:?}",
            c.seen
        );
        c.wait_event("-", Duration::from_millis(200));
    }
}
