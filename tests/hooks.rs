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
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (hooks, out) = (dir.path().join("hooks"), dir.path().join("out"));
    hookrec::install(&hooks, &out);
    // ip-up records, then hangs.
    let hang = format!("{}sleep 600\n", hookrec::recorder(&out));
    std::fs::write(hooks.join("ip-up"), hang).unwrap();
    // ip-down also records whether the interface is still there.
    let down = format!(
        "{}[ -e /sys/class/net/$1 ] && echo present > {}/ip-down.iface\n",
        hookrec::recorder(&out),
        out.display()
    );
    std::fs::write(hooks.join("ip-down"), down).unwrap();
    for s in ["ip-up", "ip-down"] {
        std::fs::set_permissions(hooks.join(s), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
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
