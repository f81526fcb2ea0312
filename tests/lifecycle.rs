//! The calls' lifecycles run in this process, not as spawned binaries:
//! the dialer's redial loop against the simulator with tokio's clock
//! paused through the holdoff, the answerer's screening before any port
//! is touched, and the inbound call refusing a service nobody enabled.
//! The simulator runs on a runtime of its own, so pausing this one's
//! clock never starves the modem.

mod support;

use std::time::Duration;

use carrier::answerer::{self, AnswerSetup, Screening};
use carrier::call::CallError;
use carrier::dialer::{self, CallSetup};
use carrier::events::Reporter;
use carrier::modem::answer::AnswerMode;
use carrier::modem::dial::{DialPlan, Number};
use carrier::modem::hangup::HangupOptions;
use carrier::net::NoIp;
use carrier::port::PortSpec;
use carrier::session::SessionConfig;
use carrier_sim::{Destination, FaultSpec};
use serde_json::Value;
use support::sim::Switch;
use tokio::sync::{mpsc, watch};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

const BUSY: &str = "555-0100";
/// An hour: no test could wait it out on the real clock.
const HOLDOFF: Duration = Duration::from_secs(3600);

fn busy_exchange() -> Switch {
    Switch::start_with(1, |cfg| {
        cfg.route_with_faults(BUSY, Destination::Busy, FaultSpec::default())
    })
}

fn busy_call(sw: &Switch, maxfail: u32) -> CallSetup {
    CallSetup {
        port: PortSpec {
            lock_dir: sw.locks(),
            pty_lines: Some(carrier_sim::lines_for),
            ..PortSpec::new(sw.modem(0))
        },
        plan: DialPlan {
            numbers: vec![Number::new(BUSY)],
            ..DialPlan::default()
        },
        connect_script: None,
        session: SessionConfig::default(),
        persist: true,
        holdoff: HOLDOFF,
        maxfail,
        hangup: HangupOptions::default(),
        direct: false,
        demand: None,
    }
}

/// The next event named `name`, recording the names of all on the way;
/// none within 30 s fails the test. Only with the clock running.
async fn next_named(
    rx: &mut mpsc::UnboundedReceiver<Value>,
    name: &str,
    seen: &mut Vec<String>,
) -> Value {
    let wait = async {
        while let Some(ev) = rx.recv().await {
            let n = ev["event"].as_str().unwrap_or_default().to_string();
            seen.push(n.clone());
            if n == name {
                return Some(ev);
            }
        }
        None
    };
    match tokio::time::timeout(Duration::from_secs(30), wait).await {
        Ok(Some(ev)) => ev,
        Ok(None) => panic!("the reporter closed before {name}: {seen:?}"),
        Err(_) => panic!("waited 30 s for {name}: {seen:?}"),
    }
}

/// With the clock paused: lets every ready task run, then returns the
/// events they reported.
async fn settle(rx: &mut mpsc::UnboundedReceiver<Value>, seen: &mut Vec<String>) -> Vec<Value> {
    let mut got = Vec::new();
    for _ in 0..50 {
        tokio::task::yield_now().await;
        while let Ok(ev) = rx.try_recv() {
            seen.push(ev["event"].as_str().unwrap_or_default().to_string());
            got.push(ev);
        }
    }
    got
}

#[test]
fn the_holdoff_is_waited_out_in_full_and_maxfail_ends_the_redials() {
    // The simulator outlives this runtime: its own is dropped outside.
    let sw = busy_exchange();
    runtime().block_on(async {
        let setup = busy_call(&sw, 2);
        let (reporter, mut rx) = Reporter::channel();
        let (_stop_tx, stop) = watch::channel(false);
        let run = tokio::spawn(async move {
            dialer::run(&setup, &mut NoIp::default(), &reporter, stop).await
        });
        let mut seen = Vec::new();
        let first = next_named(&mut rx, "dial-result", &mut seen).await;
        assert_eq!(first["result"], "BUSY", "{seen:?}");
        let holdoff = next_named(&mut rx, "holdoff", &mut seen).await;
        assert_eq!(holdoff["seconds"], HOLDOFF.as_secs_f64());

        // The port is released for the holdoff: nothing of the dialer is
        // waiting on the modem, only on the clock.
        tokio::time::pause();
        tokio::time::advance(HOLDOFF - Duration::from_secs(1)).await;
        let early = settle(&mut rx, &mut seen).await;
        assert!(
            early.is_empty(),
            "the dialer went on before the holdoff was over: {seen:?}"
        );
        tokio::time::advance(Duration::from_secs(2)).await;
        tokio::time::resume();

        let again = next_named(&mut rx, "dialing", &mut seen).await;
        assert_eq!(again["number"], BUSY);
        let maxfail = next_named(&mut rx, "maxfail", &mut seen).await;
        assert_eq!(maxfail["failures"], 2);
        let code = run.await.unwrap().map_err(|e| e.to_string()).unwrap();
        assert_eq!(code, 21, "all numbers busy: {seen:?}");
    });
    drop(sw);
}

#[test]
fn a_stop_during_the_holdoff_ends_at_once_with_5_and_a_down_event() {
    // The simulator outlives this runtime: its own is dropped outside.
    let sw = busy_exchange();
    runtime().block_on(async {
        let setup = busy_call(&sw, 0);
        let (reporter, mut rx) = Reporter::channel();
        let (stop_tx, stop) = watch::channel(false);
        let run = tokio::spawn(async move {
            dialer::run(&setup, &mut NoIp::default(), &reporter, stop).await
        });
        let mut seen = Vec::new();
        next_named(&mut rx, "holdoff", &mut seen).await;
        tokio::time::pause();
        tokio::time::advance(Duration::from_secs(60)).await;
        stop_tx.send_modify(|v| *v = true);
        // Not one virtual second passes: the stop alone ends the wait.
        let after = settle(&mut rx, &mut seen).await;
        let names: Vec<_> = after.iter().map(|e| e["event"].clone()).collect();
        assert_eq!(names, ["down"], "{seen:?}");
        assert_eq!(after[0]["reason"], "user-request");
        assert!(run.is_finished(), "{seen:?}");
        let code = run.await.unwrap().map_err(|e| e.to_string()).unwrap();
        assert_eq!(code, 5, "pppd's terminated-by-signal: {seen:?}");
    });
    drop(sw);
}

#[tokio::test(flavor = "current_thread")]
async fn screening_a_direct_line_is_refused_before_the_port_is_opened() {
    let dir = tempfile::tempdir().unwrap();
    // A device that does not exist: the refusal must come first.
    let setup = AnswerSetup {
        direct: true,
        ..AnswerSetup::new(PortSpec {
            lock_dir: dir.path().into(),
            ..PortSpec::new(dir.path().join("no-such-tty"))
        })
    };
    let screening = Screening::new(&[("--allow-caller", &["5550142".to_string()])]).unwrap();
    let (reporter, _rx) = Reporter::channel();
    let (_tx, stop) = watch::channel(false);
    let e = answerer::serve(
        &setup,
        &screening,
        &SessionConfig::default(),
        false,
        NoIp::default,
        &reporter,
        stop,
    )
    .await
    .expect_err("screening a line without caller ID is a configuration error");
    assert!(matches!(e, CallError::Config(_)), "{e}");
    assert_eq!(e.exit_code(), 2);

    let modem_answers = AnswerSetup {
        mode: AnswerMode::ModemAnswers(1),
        direct: false,
        ..setup
    };
    let (_tx, stop) = watch::channel(false);
    let e = answerer::AnswerLine::open(&modem_answers, &screening, &reporter, stop, "PPP")
        .await
        .err()
        .expect("a modem that answers by itself cannot screen");
    assert_eq!(e.exit_code(), 2, "{e}");
}

#[tokio::test(flavor = "current_thread")]
async fn an_inbound_call_nobody_enabled_is_refused_with_20() {
    let dir = tempfile::tempdir().unwrap();
    let setup = carrier::inbound::service::ServiceSetup {
        answer: AnswerSetup {
            direct: true,
            ..AnswerSetup::new(PortSpec::new(dir.path().join("no-such-tty")))
        },
        state_dir: dir.path().join("state"),
        link: Default::default(),
        name: "console".into(),
        ms_dns: [None, None],
        allow_callers: Vec::new(),
        ifname: "carrier-t0".into(),
        pcap: None,
        hooks: None,
    };
    let (reporter, _rx) = Reporter::channel();
    let (_tx, stop) = watch::channel(false);
    let e = carrier::inbound::service::serve(setup, &reporter, stop)
        .await
        .expect_err("not enabled");
    assert_eq!(e.exit_code(), 20, "{e}");
}
