//! Inbound service calls as a security boundary, with real hosts: network
//! namespaces `caller`, `console`, `lpar1`, `lpar2`, the caller's and the
//! console's lines joined by a simulated cable, real ping and TCP/UDP.
//! Needs root (CI runs as root); elsewhere the tests skip loudly.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use carrier_sim::{LineProfile, NullModem};
use serde_json::Value;
use support::carrier::{Carrier, Netns};

const CONSOLE_PPP: &str = "10.99.0.1";
const CALLER_PPP: &str = "10.99.0.2";
const LPAR1: &str = "192.168.51.11";
const LPAR2: &str = "192.168.52.12";
const LPAR1_ALIAS: &str = "10.99.0.11";

/// The four hosts: the console on a LAN with both partitions, and the
/// caller with nothing but its phone line.
struct Hosts {
    caller: Netns,
    console: Netns,
    lpar1: Netns,
    lpar2: Netns,
    state: PathBuf,
}

fn ok(o: Output, what: &str) {
    assert!(
        o.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn veth(console: &Netns, lpar: &Netns, tag: &str, console_addr: &str, lpar_addr: &str) {
    let (a, b) = (
        format!("c{tag}{}", std::process::id() % 100000),
        format!("l{tag}{}", std::process::id() % 100000),
    );
    ok(
        Command::new("ip")
            .args([
                "link",
                "add",
                &a,
                "netns",
                console.name(),
                "type",
                "veth",
                "peer",
                "name",
                &b,
                "netns",
                lpar.name(),
            ])
            .output()
            .unwrap(),
        "veth",
    );
    ok(
        console.run(&[
            "ip",
            "addr",
            "add",
            &format!("{console_addr}/24"),
            "dev",
            &a,
        ]),
        "addr",
    );
    ok(console.run(&["ip", "link", "set", &a, "up"]), "up");
    ok(
        lpar.run(&["ip", "addr", "add", &format!("{lpar_addr}/24"), "dev", &b]),
        "addr",
    );
    ok(lpar.run(&["ip", "link", "set", &b, "up"]), "up");
    ok(
        lpar.run(&["ip", "route", "add", "default", "via", console_addr]),
        "route",
    );
}

impl Hosts {
    fn new(tag: &str) -> Option<Hosts> {
        let caller = Netns::new(&format!("{tag}-caller"))?;
        let console = Netns::new(&format!("{tag}-console"))?;
        let lpar1 = Netns::new(&format!("{tag}-lpar1"))?;
        let lpar2 = Netns::new(&format!("{tag}-lpar2"))?;
        veth(&console, &lpar1, "1", "192.168.51.1", LPAR1);
        veth(&console, &lpar2, "2", "192.168.52.1", LPAR2);
        let state =
            std::env::temp_dir().join(format!("carrier-inbound-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&state);
        Some(Hosts {
            caller,
            console,
            lpar1,
            lpar2,
            state,
        })
    }

    fn state(&self) -> &str {
        self.state.to_str().unwrap()
    }

    /// `carrier inbound enable`, returning (user, secret).
    fn enable(&self, console_access: bool) -> (String, String) {
        let mut args = vec![
            "--events",
            "json",
            "inbound",
            "enable",
            "--state-dir",
            self.state(),
            "--ppp-local",
            CONSOLE_PPP,
            "--ppp-remote",
            CALLER_PPP,
            "--partition",
        ];
        let p = format!("lpar1={LPAR1}");
        args.push(&p);
        if console_access {
            args.push("--console-access");
        }
        let out = Command::new(env!("CARGO_BIN_EXE_carrier"))
            .args(&args)
            .output()
            .unwrap();
        ok(out.clone(), "inbound enable");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["event"], "inbound-enabled");
        (
            v["user"].as_str().unwrap().to_string(),
            v["secret"].as_str().unwrap().to_string(),
        )
    }

    fn status(&self) -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_carrier"))
            .args([
                "--events",
                "json",
                "inbound",
                "status",
                "--state-dir",
                self.state(),
            ])
            .output()
            .unwrap();
        ok(out.clone(), "inbound status");
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn answer(&self, device: &Path) -> Carrier {
        Carrier::spawn_in(
            Some(self.console.name()),
            &[
                "answer",
                "--inbound",
                "--direct",
                "--device",
                device.to_str().unwrap(),
                "--state-dir",
                self.state(),
                "--ifname",
                "cin0",
            ],
        )
    }

    fn dial(&self, device: &Path, user: &str, secret: &str) -> Carrier {
        Carrier::spawn_in(
            Some(self.caller.name()),
            &[
                "dial",
                "--direct",
                "--device",
                device.to_str().unwrap(),
                "--user",
                user,
                "--password",
                secret,
                "--ifname",
                "cout0",
            ],
        )
    }

    /// Console-side leftovers of carrier: its table and its interface.
    fn console_leftovers(&self) -> String {
        let rules = String::from_utf8_lossy(&self.console.run(&["nft", "list", "ruleset"]).stdout)
            .into_owned();
        let addrs = String::from_utf8_lossy(&self.console.run(&["ip", "addr"]).stdout).into_owned();
        let mut found = String::new();
        if rules.contains("carrier") {
            found += &rules;
        }
        if addrs.contains("cin0") || addrs.contains(CONSOLE_PPP) {
            found += &addrs;
        }
        found
    }

    /// A TCP echo service on `port` in `ns`.
    fn tcp_echo(&self, ns: &Netns, port: u16) -> Service {
        Service::start(ns, &format!("TCP-LISTEN:{port},reuseaddr,fork"))
    }

    fn udp_echo(&self, ns: &Netns, port: u16) -> Service {
        Service::start(ns, &format!("UDP-LISTEN:{port},reuseaddr,fork"))
    }

    /// Sends a line from the caller and expects it echoed.
    fn reaches(&self, proto: &str, addr: &str, port: u16) -> bool {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                self.caller.name(),
                "socat",
                "-T",
                "2",
                "-",
                &format!("{proto}:{addr}:{port},connect-timeout=2"),
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin
                    .take()
                    .unwrap()
                    .write_all(b"hello-through-the-fence\n")?;
                c.wait_with_output()
            })
            .expect("socat client");
        String::from_utf8_lossy(&out.stdout).contains("hello-through-the-fence")
    }

    fn pings(&self, addr: &str) -> bool {
        self.caller
            .run(&["ping", "-c", "2", "-W", "2", addr])
            .status
            .success()
    }
}

/// An echo service (socat) in a namespace, killed when dropped. socat
/// forks a child per peer, and a UDP child outlives its parent, so the
/// service runs in its own process group and the whole group is killed.
struct Service(std::process::Child);

impl Service {
    fn start(ns: &Netns, listen: &str) -> Service {
        use std::os::unix::process::CommandExt;
        Service(
            Command::new("ip")
                .args(["netns", "exec", ns.name(), "socat", listen, "EXEC:/bin/cat"])
                .process_group(0)
                .spawn()
                .expect("socat (apt-get install socat)"),
        )
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.0.wait();
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

fn cable(rt: &tokio::runtime::Runtime) -> NullModem {
    let _g = rt.enter();
    NullModem::spawn(LineProfile::default()).expect("cable")
}

/// Brings a call up and routes the caller's side of the link.
fn call(h: &Hosts, c: &NullModem, user: &str, secret: &str) -> (Carrier, Carrier) {
    let mut console = h.answer(c.end_a());
    let mut caller = h.dial(c.end_b(), user, secret);
    for (who, p) in [("caller", &mut caller), ("console", &mut console)] {
        p.wait_event("ip-interface", Duration::from_secs(20))
            .unwrap_or_else(|| panic!("{who}: no IP interface: {:?}", p.seen));
    }
    ok(
        h.caller
            .run(&["ip", "route", "add", "10.99.0.0/24", "dev", "cout0"]),
        "route",
    );
    ok(
        h.caller
            .run(&["ip", "route", "add", "192.168.0.0/16", "dev", "cout0"]),
        "route",
    );
    (console, caller)
}

#[test]
fn allowed_partition_and_console_ports_only() {
    let Some(h) = Hosts::new("fence") else { return };
    let rt = runtime();
    let c = cable(&rt);
    let (user, secret) = h.enable(true);
    let _e1 = h.tcp_echo(&h.lpar1, 7777);
    let _e2 = h.tcp_echo(&h.lpar2, 7777);
    let _s22 = h.tcp_echo(&h.console, 22);
    let _s80 = h.tcp_echo(&h.console, 80);
    let _s8080 = h.tcp_echo(&h.console, 8080);
    let _u2300 = h.udp_echo(&h.console, 2300);
    std::thread::sleep(Duration::from_millis(300));
    let (mut console, mut caller) = call(&h, &c, &user, &secret);

    assert!(h.pings(LPAR1_ALIAS), "lpar1 answers at its alias");
    assert!(
        h.reaches("TCP", LPAR1_ALIAS, 7777),
        "TCP to lpar1 through its alias"
    );
    assert!(!h.pings(LPAR2), "lpar2 is not reachable");
    assert!(!h.reaches("TCP", LPAR2, 7777), "nor by TCP");
    assert!(!h.pings("10.99.0.12"), "no alias for lpar2");
    assert!(
        !h.reaches("TCP", LPAR1, 7777),
        "partitions only at their aliases"
    );
    assert!(h.reaches("TCP", CONSOLE_PPP, 22), "console TCP 22");
    assert!(h.reaches("UDP", CONSOLE_PPP, 2300), "console UDP 2300");
    assert!(
        !h.reaches("TCP", CONSOLE_PPP, 8080),
        "console TCP 8080 closed"
    );
    assert!(!h.reaches("TCP", CONSOLE_PPP, 80), "console TCP 80 closed");

    assert_eq!(h.status()["state"], "consumed");
    caller.terminate();
    assert_eq!(caller.wait_exit(Duration::from_secs(15)), Some(5));
    assert!(console.wait_exit(Duration::from_secs(15)).is_some());
    assert_eq!(
        h.console_leftovers(),
        "",
        "carrier's rules or addresses left after hang-up"
    );

    // A second call is refused: the enablement was for one call.
    let mut again = h.answer(c.end_a());
    assert_eq!(
        again.wait_exit(Duration::from_secs(10)),
        Some(20),
        "answer refuses when consumed"
    );
}

#[test]
fn console_access_off_means_nothing_reaches_the_console() {
    let Some(h) = Hosts::new("closed") else {
        return;
    };
    let rt = runtime();
    let c = cable(&rt);
    let (user, secret) = h.enable(false);
    let _s22 = h.tcp_echo(&h.console, 22);
    let _u2300 = h.udp_echo(&h.console, 2300);
    let _e1 = h.tcp_echo(&h.lpar1, 7777);
    std::thread::sleep(Duration::from_millis(300));
    let (_console, mut caller) = call(&h, &c, &user, &secret);
    assert!(!h.reaches("TCP", CONSOLE_PPP, 22));
    assert!(!h.reaches("UDP", CONSOLE_PPP, 2300));
    assert!(!h.pings(CONSOLE_PPP));
    assert!(
        h.reaches("TCP", LPAR1_ALIAS, 7777),
        "the partition is still reachable"
    );
    caller.terminate();
    caller.wait_exit(Duration::from_secs(15));
}

#[test]
fn wrong_secret_is_refused_and_does_not_consume() {
    let Some(h) = Hosts::new("wrong") else { return };
    let rt = runtime();
    let c = cable(&rt);
    let (user, _secret) = h.enable(true);
    let mut console = h.answer(c.end_a());
    let mut caller = h.dial(c.end_b(), &user, "0123456789abcdef0123456789abcdef");
    let down = caller
        .wait_event("down", Duration::from_secs(20))
        .expect("caller down");
    assert_eq!(down["reason"], "auth-failed");
    assert_eq!(console.wait_exit(Duration::from_secs(15)), Some(11));
    assert_eq!(
        h.status()["state"],
        "enabled",
        "a failed caller does not use up the call"
    );
}

#[test]
fn disable_mid_call_hangs_up() {
    let Some(h) = Hosts::new("disable") else {
        return;
    };
    let rt = runtime();
    let c = cable(&rt);
    let (user, secret) = h.enable(true);
    let (mut console, mut caller) = call(&h, &c, &user, &secret);
    let out = Command::new(env!("CARGO_BIN_EXE_carrier"))
        .args(["inbound", "disable", "--state-dir", h.state()])
        .output()
        .unwrap();
    ok(out, "inbound disable");
    assert!(
        console.wait_exit(Duration::from_secs(15)).is_some(),
        "console hung up"
    );
    let down = caller
        .wait_event("down", Duration::from_secs(15))
        .expect("caller down");
    assert_eq!(down["reason"], "peer-terminated");
    assert_eq!(h.status()["state"], "disabled");
    assert_eq!(h.console_leftovers(), "");
}

#[test]
fn kill_9_then_restart_leaves_nothing() {
    let Some(h) = Hosts::new("kill") else { return };
    let rt = runtime();
    let c = cable(&rt);
    let (user, secret) = h.enable(true);
    let (mut console, _caller) = call(&h, &c, &user, &secret);
    let _ = console.child.kill();
    let _ = console.child.wait();
    assert_ne!(
        h.console_leftovers(),
        "",
        "a crash leaves the rules in place (test premise)"
    );
    // The next start cleans up first, then refuses: the call was used.
    let mut restarted = h.answer(c.end_a());
    assert_eq!(restarted.wait_exit(Duration::from_secs(10)), Some(20));
    let rules =
        String::from_utf8_lossy(&h.console.run(&["nft", "list", "ruleset"]).stdout).into_owned();
    assert!(!rules.contains("carrier"), "{rules}");
}
