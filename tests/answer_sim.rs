//! `carrier answer` through a modem, as a user runs it: the simulator (in
//! this process) rings modem1 when `carrier dial` on modem0 calls its
//! number. carrier counts the RINGs and sends ATA, or lets the modem
//! answer by itself; PPP comes up on both sides; the caller hanging up
//! ends the answerer's call and frees the port. And nobody calling ends
//! `--wait`.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use support::carrier::Carrier;
use support::sim::{Switch, NUMBER};

const USER: &str = "alice";
const PASSWORD: &str = "s3cret";

/// A pppd-format secrets file, mode 0600, next to the switch's links.
fn secrets(phone: &Switch) -> PathBuf {
    let p = phone.dir().join("chap-secrets");
    std::fs::write(
        &p,
        format!("# client server secret addresses\n{USER} * {PASSWORD} *\n"),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

/// `carrier answer` on modem1 with `how` (`--rings 2`, ...), waiting for
/// a call; its stderr (with the AT commands) goes to a log file.
fn answer(phone: &Switch, how: &[&str]) -> Carrier {
    let secrets = secrets(phone);
    let (device, locks) = (phone.modem_str(1), phone.locks_str());
    let mut args = vec![
        "answer",
        "--device",
        &device,
        "--lock-dir",
        &locks,
        "--secrets",
        secrets.to_str().unwrap(),
        "--local",
        "10.88.0.1",
        "--remote",
        "10.88.0.2",
        "--ms-dns",
        "10.88.0.53",
        "--no-tun",
    ];
    args.extend_from_slice(how);
    let mut c = Carrier::spawn_logged(None, &args, &phone.dir().join("answer.log"));
    c.wait_event("waiting", Duration::from_secs(15))
        .unwrap_or_else(|| panic!("not waiting for a call: {:?}\n{}", c.seen, c.log_text()));
    c
}

fn dial(phone: &Switch) -> Carrier {
    Carrier::spawn(&[
        "dial",
        "--device",
        &phone.modem_str(0),
        "--number",
        NUMBER,
        "--lock-dir",
        &phone.locks_str(),
        "--user",
        USER,
        "--password",
        PASSWORD,
        "--usepeerdns",
        "--no-tun",
    ])
}

/// Both ends reach IPCP up; returns (answerer, caller).
fn call(phone: &Switch, how: &[&str]) -> (Carrier, Carrier) {
    let mut answerer = answer(phone, how);
    let mut caller = dial(phone);
    let up = caller
        .wait_event("ipcp-up", Duration::from_secs(30))
        .unwrap_or_else(|| {
            panic!(
                "caller: no ipcp-up: {:?}\nanswerer: {:?}",
                caller.seen, answerer.seen
            )
        });
    assert_eq!(up["local"], "10.88.0.2");
    assert_eq!(up["peer"], "10.88.0.1");
    assert_eq!(up["dns"][0], "10.88.0.53");
    let up = answerer
        .wait_event("ipcp-up", Duration::from_secs(10))
        .unwrap_or_else(|| panic!("answerer: no ipcp-up: {:?}", answerer.seen));
    assert_eq!(up["peer"], "10.88.0.2");
    let ok = answerer.wait_event("auth-ok", Duration::ZERO).unwrap();
    assert_eq!(ok["peer"], USER);
    assert_eq!(ok["role"], "authenticator");
    let connect = answerer.wait_event("connect", Duration::ZERO).unwrap();
    assert_eq!(connect["direct"], false, "{connect}");
    assert_eq!(connect["speed"], 56000, "{connect}");
    assert_eq!(
        phone.lock_files().len(),
        2,
        "both modems locked during the call"
    );
    (answerer, caller)
}

/// The caller hangs up (SIGTERM): both ends go down, the answerer hangs
/// its modem up and exits, and no lock is left.
fn hang_up(phone: &Switch, mut answerer: Carrier, mut caller: Carrier) {
    caller.terminate();
    assert_eq!(caller.wait_exit(Duration::from_secs(15)), Some(5));
    let code = answerer.run_to_end(Duration::from_secs(20));
    let down = answerer
        .wait_event("down", Duration::ZERO)
        .unwrap_or_else(|| panic!("answerer: no down: {:?}", answerer.seen));
    assert_eq!(down["reason"], "peer-terminated", "{down}");
    assert_eq!(code, Some(16), "{:?}", answerer.seen);
    assert!(
        answerer.wait_event("hangup", Duration::ZERO).is_some(),
        "the answerer hung its modem up: {:?}",
        answerer.seen
    );
    assert_eq!(phone.lock_files(), vec![], "lock files left behind");
}

/// The event names in order, for messages and ordering checks.
fn names(c: &Carrier) -> Vec<String> {
    c.seen
        .iter()
        .map(|v| v["event"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn carrier_counts_two_rings_then_answers_with_ata() {
    let phone = Switch::start();
    let (answerer, caller) = call(&phone, &["--rings", "2"]);
    let seen = names(&answerer);
    let answering = seen
        .iter()
        .position(|e| e == "answering")
        .unwrap_or_else(|| panic!("no answering: {seen:?}"));
    let rings: Vec<_> = answerer.seen[..answering]
        .iter()
        .filter(|v| v["event"] == "ring")
        .map(|v| v["count"].clone())
        .collect();
    assert_eq!(rings, vec![1, 2], "two RINGs before answering: {seen:?}");
    let modem = answerer.seen.iter().find(|v| v["event"] == "modem");
    assert_eq!(modem.unwrap()["mode"], "CountRings(2)");
    let connect = answerer.seen.iter().find(|v| v["event"] == "connect");
    assert_eq!(connect.unwrap()["rings"], 2);
    let log = answerer.log_text();
    assert!(
        log.contains("\"ATS0=0\""),
        "the modem does not answer by itself:\n{log}"
    );
    assert!(log.contains("\"ATA\""), "carrier sent ATA:\n{log}");
    hang_up(&phone, answerer, caller);
}

#[test]
fn the_modem_answers_by_itself_without_ata() {
    let phone = Switch::start();
    let (answerer, caller) = call(&phone, &["--modem-answers", "1"]);
    let seen = names(&answerer);
    let modem = answerer.seen.iter().find(|v| v["event"] == "modem");
    assert_eq!(modem.unwrap()["mode"], "ModemAnswers(1)");
    let answering = seen
        .iter()
        .position(|e| e == "answering")
        .unwrap_or_else(|| panic!("no answering: {seen:?}"));
    let connect = seen.iter().position(|e| e == "connect").unwrap();
    assert!(
        seen[..answering].iter().filter(|e| *e == "ring").count() == 1 && answering < connect,
        "one RING, the modem answering, CONNECT: {seen:?}"
    );
    let log = answerer.log_text();
    assert!(log.contains("\"ATS0=1\""), "S0=1 set:\n{log}");
    assert!(!log.contains("\"ATA\""), "no ATA was sent:\n{log}");
    hang_up(&phone, answerer, caller);
}

#[test]
fn nobody_calling_ends_the_wait_with_one_line() {
    let phone = Switch::start();
    let secrets = secrets(&phone);
    let t0 = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_carrier"))
        .args([
            "answer",
            "--device",
            &phone.modem_str(1),
            "--lock-dir",
            &phone.locks_str(),
            "--secrets",
            secrets.to_str().unwrap(),
            "--local",
            "10.88.0.1",
            "--remote",
            "10.88.0.2",
            "--no-tun",
            "--wait",
            "2",
        ])
        .output()
        .unwrap();
    let took = t0.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{:?}: {err}", out.status);
    assert!(out.status.code().is_some(), "exited, not killed");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(5),
        "took {took:?}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    // "carrier: no call connected within 2.0s": a readable time.
    let waited = err
        .trim()
        .split_once("no call connected within ")
        .and_then(|(_, t)| t.strip_suffix('s'))
        .unwrap_or_else(|| panic!("says what happened: {err:?}"));
    assert!(
        waited.split_once('.').is_some_and(|(_, f)| f.len() == 1),
        "{err:?}"
    );
    assert!(
        (2.0..5.0).contains(&waited.parse::<f64>().unwrap()),
        "{err:?}"
    );
    assert_eq!(phone.lock_files(), vec![], "lock released");
}

#[test]
fn persist_answers_the_next_call_too() {
    let phone = Switch::start();
    let mut answerer = answer(&phone, &["--persist"]);
    for n in 1..=2 {
        let mut caller = dial(&phone);
        caller
            .wait_event("ipcp-up", Duration::from_secs(30))
            .unwrap_or_else(|| panic!("call {n}: no ipcp-up: {:?}", caller.seen));
        caller.terminate();
        assert_eq!(caller.wait_exit(Duration::from_secs(15)), Some(5));
        // The answerer hangs up and goes back to waiting.
        let deadline = Instant::now() + Duration::from_secs(20);
        while answerer.events_named("persist").count() < n && Instant::now() < deadline {
            answerer.wait_event("never-such-event", Duration::from_millis(200));
        }
        assert_eq!(
            answerer.events_named("persist").count(),
            n,
            "{:?}",
            answerer.seen
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while answerer.events_named("waiting").count() <= n && Instant::now() < deadline {
            answerer.wait_event("never-such-event", Duration::from_millis(200));
        }
    }
    assert_eq!(answerer.events_named("ipcp-up").count(), 2);
    answerer.terminate();
    assert_eq!(answerer.run_to_end(Duration::from_secs(15)), Some(5));
    assert_eq!(phone.lock_files(), vec![], "lock files left behind");
}
