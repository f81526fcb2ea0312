//! Inbound service calls as a security boundary, with real hosts: network
//! namespaces `caller`, `console`, `lpar1`, `lpar2`, the caller's and the
//! console's modems joined by the simulator's exchange (in this process:
//! the caller dials modem0, the console answers on modem1), real ping and
//! TCP/UDP. Needs root (CI runs as root); elsewhere the tests skip loudly.

mod support;

use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::carrier::{Carrier, Netns};
use support::hosts::{ok, Service};
use support::lab::{Lab, CALLER_PPP, CONSOLE_PPP, LPAR1, LPAR1_ALIAS, LPAR2};
use support::sim::{Caller, Switch, NUMBER};

/// The four hosts: the lab's console on a LAN with both partitions, and
/// the caller with nothing but its phone line; and the phone network.
struct Hosts {
    caller: Netns,
    lab: Lab,
    state: std::path::PathBuf,
    phone: Switch,
}

/// How the console's modem answers.
#[derive(Clone, Copy)]
enum Answer {
    /// carrier counts one RING and sends ATA (the default).
    Rings1,
    /// The modem answers by itself at the first RING (ATS0=1).
    ModemAnswers1,
}

impl Hosts {
    fn new(tag: &str) -> Option<Hosts> {
        Hosts::new_with(tag, Switch::start)
    }

    /// With the phone network `phone` makes.
    fn new_with(tag: &str, phone: impl FnOnce() -> Switch) -> Option<Hosts> {
        let caller = Netns::new(&format!("{tag}-caller"))?;
        let lab = Lab::new(tag)?;
        let state = lab.state("state");
        Some(Hosts {
            caller,
            lab,
            state,
            phone: phone(),
        })
    }

    fn state(&self) -> &str {
        self.state.to_str().unwrap()
    }

    /// `carrier inbound enable`, returning (user, secret).
    fn enable(&self, console_access: bool) -> (String, String) {
        self.enable_with(console_access, &[])
    }

    fn enable_with(&self, console_access: bool, extra: &[&str]) -> (String, String) {
        let link = (CONSOLE_PPP, CALLER_PPP);
        let lpar1 = format!("lpar1={LPAR1}");
        self.lab
            .enable(&self.state, link, &lpar1, console_access, extra)
    }

    fn status(&self) -> Value {
        self.lab.status(&self.state)
    }

    /// `carrier answer --inbound` on modem1, in the console.
    fn answer(&self, how: Answer) -> Carrier {
        self.answer_with(how, &[])
    }

    fn answer_with(&self, how: Answer, extra: &[&str]) -> Carrier {
        let (device, locks) = (self.phone.modem_str(1), self.phone.locks_str());
        let mut args = vec![
            "answer",
            "--inbound",
            "--device",
            &device,
            "--lock-dir",
            &locks,
            "--state-dir",
            self.state(),
            "--ifname",
            "cin0",
        ];
        if let Answer::ModemAnswers1 = how {
            args.extend(["--modem-answers", "1"]);
        }
        args.extend_from_slice(extra);
        Carrier::spawn_in(Some(self.lab.console.name()), &args)
    }

    /// The console's carrier is waiting for a call on its modem.
    fn answer_waiting(&self, how: Answer) -> Carrier {
        self.answer_waiting_with(how, &[])
    }

    fn answer_waiting_with(&self, how: Answer, extra: &[&str]) -> Carrier {
        let mut console = self.answer_with(how, extra);
        console
            .wait_event("waiting", Duration::from_secs(15))
            .unwrap_or_else(|| panic!("console not waiting for a call: {:?}", console.seen));
        console
    }

    /// `carrier dial` of the console's number on modem0, in the caller.
    fn dial(&self, user: &str, secret: &str) -> Carrier {
        Carrier::spawn_in(
            Some(self.caller.name()),
            &[
                "dial",
                "--device",
                &self.phone.modem_str(0),
                "--number",
                NUMBER,
                "--lock-dir",
                &self.phone.locks_str(),
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
        let rules =
            String::from_utf8_lossy(&self.lab.console.run(&["nft", "list", "ruleset"]).stdout)
                .into_owned();
        let addrs =
            String::from_utf8_lossy(&self.lab.console.run(&["ip", "addr"]).stdout).into_owned();
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
                // -t: after stdin's EOF socat waits only 0.5 s for the
                // answer by default; a loaded machine takes longer.
                "-t",
                "5",
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

    /// A sysctl in the console's namespace.
    fn sysctl(&self, name: &str) -> String {
        let out = self.lab.console.run(&["cat", &format!("/proc/sys/{name}")]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn pings(&self, addr: &str) -> bool {
        self.caller
            .run(&["ping", "-c", "2", "-W", "2", addr])
            .status
            .success()
    }
}

/// Brings a call up through the exchange and routes the caller's side of
/// the link.
fn call(h: &Hosts, how: Answer, user: &str, secret: &str) -> (Carrier, Carrier) {
    let mut console = h.answer_waiting(how);
    let mut caller = h.dial(user, secret);
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
    let (user, secret) = h.enable(true);
    let _e1 = h.tcp_echo(&h.lab.lpar1, 7777);
    let _e2 = h.tcp_echo(&h.lab.lpar2, 7777);
    let _s22 = h.tcp_echo(&h.lab.console, 22);
    let _s80 = h.tcp_echo(&h.lab.console, 80);
    let _s8080 = h.tcp_echo(&h.lab.console, 8080);
    let _u2300 = h.udp_echo(&h.lab.console, 2300);
    std::thread::sleep(Duration::from_millis(300));
    let (mut console, mut caller) = call(&h, Answer::Rings1, &user, &secret);
    let connect = console.wait_event("connect", Duration::ZERO).unwrap();
    assert_eq!(connect["direct"], false, "answered through the modem");
    assert_eq!(connect["rings"], 1, "{connect}");
    let dialed = caller.wait_event("connect", Duration::ZERO).unwrap();
    assert_eq!(dialed["number"], NUMBER);

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
    assert!(
        !h.reaches("TCP", "192.168.51.1", 22),
        "console access opens the PPP address only, not the console's LAN address; rules: {}",
        String::from_utf8_lossy(&h.lab.console.run(&["nft", "list", "ruleset"]).stdout)
    );
    assert_eq!(
        h.sysctl("net/ipv4/ip_forward"),
        "0",
        "forwarding is per interface, never for the whole host"
    );
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
    let lan = Lab::lan_if(1);
    assert_eq!(
        h.sysctl(&format!("net/ipv4/conf/{lan}/forwarding")),
        "0",
        "the partition's interface forwards again as before the call"
    );
    assert_eq!(h.phone.lock_files(), vec![], "both modems unlocked");

    // A second call is refused: the enablement was for one call.
    let mut again = h.answer(Answer::Rings1);
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
    let (user, secret) = h.enable(false);
    let _s22 = h.tcp_echo(&h.lab.console, 22);
    let _u2300 = h.udp_echo(&h.lab.console, 2300);
    let _e1 = h.tcp_echo(&h.lab.lpar1, 7777);
    std::thread::sleep(Duration::from_millis(300));
    // This time the console's modem answers by itself (ATS0=1).
    let (mut console, mut caller) = call(&h, Answer::ModemAnswers1, &user, &secret);
    let modem = console.wait_event("modem", Duration::ZERO).unwrap();
    assert_eq!(modem["mode"], "ModemAnswers(1)");
    assert!(console.wait_event("answering", Duration::ZERO).is_some());
    assert!(!h.reaches("TCP", CONSOLE_PPP, 22));
    assert!(!h.reaches("UDP", CONSOLE_PPP, 2300));
    assert!(!h.pings(CONSOLE_PPP));
    assert!(
        h.reaches("TCP", LPAR1_ALIAS, 7777),
        "the partition is still reachable"
    );
    caller.terminate();
    assert_eq!(caller.wait_exit(Duration::from_secs(15)), Some(5));
    assert!(console.wait_exit(Duration::from_secs(15)).is_some());
    assert_eq!(h.console_leftovers(), "");
}

#[test]
fn wrong_secret_is_refused_and_does_not_consume() {
    let Some(h) = Hosts::new("wrong") else { return };
    let (user, _secret) = h.enable(true);
    let mut console = h.answer_waiting(Answer::Rings1);
    let mut caller = h.dial(&user, "0123456789abcdef0123456789abcdef");
    let down = caller
        .wait_event("down", Duration::from_secs(20))
        .unwrap_or_else(|| panic!("caller down: {:?}", caller.seen));
    assert_eq!(down["reason"], "auth-failed");
    assert_eq!(console.wait_exit(Duration::from_secs(15)), Some(11));
    assert_eq!(
        h.status()["state"],
        "enabled",
        "a failed caller does not use up the call"
    );
    assert_eq!(caller.wait_exit(Duration::from_secs(15)), Some(19));
    assert_eq!(h.console_leftovers(), "");
}

#[test]
fn disable_mid_call_hangs_up() {
    let Some(h) = Hosts::new("disable") else {
        return;
    };
    let (user, secret) = h.enable(true);
    let (mut console, mut caller) = call(&h, Answer::Rings1, &user, &secret);
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
    let (user, secret) = h.enable(true);
    let (mut console, mut caller) = call(&h, Answer::Rings1, &user, &secret);
    let dead = console.child.id();
    let _ = console.child.kill();
    let _ = console.child.wait();
    assert_ne!(
        h.console_leftovers(),
        "",
        "a crash leaves the rules in place (test premise)"
    );
    // The dead console's modem port is closed: DTR drops, the modem hangs
    // up, and the caller loses its carrier.
    let down = caller
        .wait_event("down", Duration::from_secs(20))
        .unwrap_or_else(|| panic!("caller still up: {:?}", caller.seen));
    assert_eq!(down["reason"], "lower-layer-down", "{down}");
    assert!(caller.wait_exit(Duration::from_secs(15)).is_some());
    // And its lock on modem1 is left behind, stale.
    let stale = h.phone.lock_files();
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert_eq!(stale[0].0, h.phone.lock_name(1));
    assert_eq!(stale[0].1.trim(), dead.to_string());

    // The next start cleans up first, then refuses: the call was used.
    let mut restarted = h.answer(Answer::Rings1);
    assert_eq!(restarted.wait_exit(Duration::from_secs(10)), Some(20));
    let rules = String::from_utf8_lossy(&h.lab.console.run(&["nft", "list", "ruleset"]).stdout)
        .into_owned();
    assert!(!rules.contains("carrier"), "{rules}");

    // Enabled again, the console takes the dead one's modem over: the
    // stale lock is removed and it waits for a call on modem1.
    h.enable(true);
    let mut next = h.answer_waiting(Answer::Rings1);
    let locks = h.phone.lock_files();
    assert_eq!(
        locks,
        vec![(h.phone.lock_name(1), format!("{:>10}\n", next.child.id()))]
    );
    next.terminate();
    assert_eq!(next.wait_exit(Duration::from_secs(15)), Some(5));
    assert_eq!(h.phone.lock_files(), vec![], "lock released");
    assert_eq!(h.console_leftovers(), "");
}

/// modem2 calls the console from a number the customer did not allow:
/// it rings out (NO ANSWER after its S7 of 15 s, 3 s here) and the
/// console reports the refusal. Returns the refusal event.
fn refused_call(h: &Hosts, console: &mut Carrier) -> Value {
    let mut refused = Carrier::spawn(&[
        "dial",
        "--device",
        &h.phone.modem_str(2),
        "--number",
        NUMBER,
        "--lock-dir",
        &h.phone.locks_str(),
        "--user",
        "nobody",
        "--password",
        "nothing",
        "--no-tun",
        "--retries",
        "0",
        "--init",
        "ATZ",
        "--init",
        "ATQ0 V1 E1 X4 S7=15",
    ]);
    assert_eq!(
        refused.run_to_end(Duration::from_secs(30)),
        Some(22),
        "no answer: {:?}",
        refused.seen
    );
    let result = refused.wait_event("dial-result", Duration::ZERO).unwrap();
    assert_eq!(result["result"], "NO ANSWER", "{result}");
    let r = console
        .wait_event("caller-refused", Duration::from_secs(10))
        .unwrap_or_else(|| panic!("console: no refusal: {:?}", console.seen));
    assert!(
        console.wait_event("answering", Duration::ZERO).is_none(),
        "the console went off-hook: {:?}",
        console.seen
    );
    r
}

#[test]
fn a_caller_the_customer_did_not_allow_does_not_use_up_the_call() {
    let Some(h) = Hosts::new_with("cid", || {
        Switch::start_callers(&[(0, Caller::From("555-0100")), (2, Caller::From("555-0199"))])
    }) else {
        return;
    };
    let (user, secret) = h.enable_with(true, &["--allow-caller", "555-0100"]);
    assert_eq!(
        h.status()["allowed_callers"],
        serde_json::json!(["5550100"])
    );

    let mut console = h.answer_waiting(Answer::Rings1);
    let r = refused_call(&h, &mut console);
    assert_eq!(r["number"], "5550199", "{r}");
    assert_eq!(r["reason"], "not-allowed", "{r}");
    assert_eq!(r["refused"], 1, "{r}");
    assert_eq!(
        h.status()["state"],
        "enabled",
        "a refused call does not use up the enablement"
    );
    console.terminate();
    assert_eq!(console.wait_exit(Duration::from_secs(15)), Some(5));

    // The operator's --allow-caller cannot widen the customer's list.
    let mut console = h.answer_waiting_with(Answer::Rings1, &["--allow-caller", "555-0199"]);
    let r = refused_call(&h, &mut console);
    assert_eq!(r["reason"], "not-allowed", "{r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("the inbound enablement"),
        "{r}"
    );
    console.terminate();
    assert_eq!(console.wait_exit(Duration::from_secs(15)), Some(5));
    assert_eq!(h.status()["state"], "enabled");

    // And the allowed caller gets the call, which uses it up.
    let mut console = h.answer_waiting(Answer::Rings1);
    let mut caller = h.dial(&user, &secret);
    for (who, p) in [("caller", &mut caller), ("console", &mut console)] {
        p.wait_event("ip-interface", Duration::from_secs(20))
            .unwrap_or_else(|| panic!("{who}: no IP interface: {:?}", p.seen));
    }
    let connect = console.wait_event("connect", Duration::ZERO).unwrap();
    assert_eq!(connect["caller"], "5550100", "{connect}");
    assert_eq!(h.status()["state"], "consumed");
    caller.terminate();
    assert_eq!(caller.wait_exit(Duration::from_secs(15)), Some(5));
    assert!(console.wait_exit(Duration::from_secs(15)).is_some());
    assert_eq!(h.console_leftovers(), "");
    assert_eq!(h.phone.lock_files(), vec![], "every modem unlocked");
}
