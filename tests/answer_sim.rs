//! `carrier answer` through a modem, as a user runs it: the simulator (in
//! this process) rings modem1 when `carrier dial` on modem0 calls its
//! number. carrier counts the RINGs and sends ATA, or lets the modem
//! answer by itself; PPP comes up on both sides; the caller hanging up
//! ends the answerer's call and frees the port. And nobody calling ends
//! `--wait`. With `--allow-caller`, the simulator's caller ID decides
//! who is answered: a refused caller hears the phone ring until its S7
//! runs out (NO ANSWER), and the answerer goes on waiting.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use support::carrier::Carrier;
use support::sim::{Caller, Switch, NUMBER};

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
    dial_from(phone, 0, &[])
}

/// `carrier dial` on modem `modem`, with `extra` arguments.
fn dial_from(phone: &Switch, modem: usize, extra: &[&str]) -> Carrier {
    let (device, locks) = (phone.modem_str(modem), phone.locks_str());
    let mut args = vec![
        "dial",
        "--device",
        &device,
        "--number",
        NUMBER,
        "--lock-dir",
        &locks,
        "--user",
        USER,
        "--password",
        PASSWORD,
        "--usepeerdns",
        "--no-tun",
    ];
    args.extend_from_slice(extra);
    Carrier::spawn(&args)
}

/// A caller the answerer must refuse: it dials once, its modem gives up
/// after S7 = 15 s (3 s here), and it hears NO ANSWER: the answerer
/// never went off-hook.
fn refused_call(phone: &Switch, modem: usize) {
    let mut caller = dial_from(
        phone,
        modem,
        &[
            "--retries",
            "0",
            "--init",
            "ATZ",
            "--init",
            "ATQ0 V1 E1 X4 S7=15",
        ],
    );
    let code = caller.run_to_end(Duration::from_secs(30));
    let result = caller
        .wait_event("dial-result", Duration::ZERO)
        .unwrap_or_else(|| panic!("modem{modem}: no dial result: {:?}", caller.seen));
    assert_eq!(result["result"], "NO ANSWER", "{result}");
    assert_eq!(code, Some(22), "no number answered: {:?}", caller.seen);
    assert!(caller.wait_event("connect", Duration::ZERO).is_none());
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

/// Waits until `c` has reported `n` events called `name`.
fn wait_for_count(c: &mut Carrier, name: &str, n: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while c.events_named(name).count() < n && Instant::now() < deadline {
        c.wait_event("never-such-event", Duration::from_millis(100));
    }
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
        // Start-up, init and the hang-up around the 2 s wait: room for a
        // loaded machine (the wait itself is checked below).
        took >= Duration::from_secs(2) && took < Duration::from_secs(15),
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

#[test]
fn an_allowed_caller_is_answered() {
    let phone = Switch::start_callers(&[(0, Caller::From("555-0100"))]);
    // Written as people write numbers; compared as digits.
    let (mut answerer, caller) = call(&phone, &["--allow-caller", "+(555) 01-00"]);
    let connect = answerer.wait_event("connect", Duration::ZERO).unwrap();
    assert_eq!(connect["caller"], "5550100", "{connect}");
    let modem = answerer
        .seen
        .iter()
        .find(|v| v["event"] == "modem")
        .unwrap();
    assert_eq!(modem["screening"], true);
    let seen = names(&answerer);
    let number = answerer
        .seen
        .iter()
        .position(|v| v["event"] == "caller-id" && v["field"] == "Number")
        .unwrap_or_else(|| panic!("no caller ID: {seen:?}"));
    let answering = seen.iter().position(|e| e == "answering").unwrap();
    assert!(number < answering, "answered after the number: {seen:?}");
    assert_eq!(answerer.events_named("caller-refused").count(), 0);
    let log = answerer.log_text();
    assert!(log.contains("\"AT+VCID=1\""), "caller ID on:\n{log}");
    hang_up(&phone, answerer, caller);
}

#[test]
fn refused_callers_are_never_answered_and_the_next_allowed_one_is() {
    let phone = Switch::start_callers(&[
        (0, Caller::From("555-0100")),
        (2, Caller::From("555-0177")),
        (3, Caller::Withheld),
    ]);
    let mut answerer = answer(&phone, &["--allow-caller", "555-0177"]);
    refused_call(&phone, 0);
    refused_call(&phone, 3);
    wait_for_count(&mut answerer, "caller-refused", 2, Duration::from_secs(5));
    let refusals: Vec<_> = answerer
        .events_named("caller-refused")
        .map(|v| {
            (
                v["number"].clone(),
                v["reason"].clone(),
                v["refused"].clone(),
            )
        })
        .collect();
    assert_eq!(
        refusals,
        vec![
            ("5550100".into(), "not-allowed".into(), 1.into()),
            (serde_json::Value::Null, "withheld".into(), 2.into()),
        ],
        "{:?}",
        answerer.seen
    );
    // Drain what came meanwhile, then check nothing went off-hook.
    answerer.wait_event("never-such-event", Duration::from_millis(300));
    assert!(
        !names(&answerer).contains(&"answering".to_string()),
        "{:?}",
        answerer.seen
    );
    let log = answerer.log_text();
    assert!(!log.contains("\"ATA\""), "carrier sent ATA:\n{log}");

    // Still waiting, on the same run: the allowed caller gets through.
    let mut caller = dial_from(&phone, 2, &[]);
    caller
        .wait_event("ipcp-up", Duration::from_secs(30))
        .unwrap_or_else(|| panic!("caller: no ipcp-up: {:?}\n{:?}", caller.seen, answerer.seen));
    let connect = answerer
        .wait_event("connect", Duration::from_secs(10))
        .unwrap_or_else(|| panic!("answerer: no connect: {:?}", answerer.seen));
    assert_eq!(connect["caller"], "5550177", "{connect}");
    answerer
        .wait_event("ipcp-up", Duration::from_secs(10))
        .unwrap_or_else(|| panic!("answerer: no ipcp-up: {:?}", answerer.seen));
    hang_up(&phone, answerer, caller);
}

/// `carrier answer` with `extra`, run to its end: (exit code, stderr).
fn answer_fails(phone: &Switch, extra: &[&str]) -> (Option<i32>, String) {
    let secrets = secrets(phone);
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
            "10",
        ])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_restriction_that_cannot_be_enforced_answers_nothing() {
    let phone = Switch::start();
    // The modem would go off-hook before the caller ID.
    let (code, err) = answer_fails(
        &phone,
        &["--allow-caller", "5550100", "--modem-answers", "1"],
    );
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(
        err.contains("--modem-answers") && err.contains("--allow-caller"),
        "{err}"
    );
    // A null-modem line has no caller ID.
    let (code, err) = answer_fails(&phone, &["--allow-caller", "5550100", "--direct"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--direct"), "{err}");
    // Not a number.
    let (code, err) = answer_fails(&phone, &["--allow-caller", "555-CALL"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("\"555-CALL\""), "{err}");
    assert_eq!(phone.lock_files(), vec![], "lock released");

    // A modem without a caller ID decoder refuses AT+VCID=1 and AT#CID=1.
    let courier = Switch::start_with(2, |mut cfg| {
        cfg.modems[1].model = &carrier_sim::model::USR_COURIER;
        cfg.route(NUMBER, carrier_sim::Destination::Modem(1))
    });
    let t0 = Instant::now();
    let (code, err) = answer_fails(&courier, &["--allow-caller", "5550100"]);
    assert_eq!(code, Some(18), "{err}");
    assert!(err.contains("not answering"), "{err}");
    assert!(
        t0.elapsed() < Duration::from_secs(8),
        "no waiting for a call"
    );
    assert_eq!(courier.lock_files(), vec![], "lock released");
}
