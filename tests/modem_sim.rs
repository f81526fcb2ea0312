//! The modem driver (src/modem: AtPort, dial, answer, hangup) against the
//! in-process simulator, at a twentieth of real time.
//!
//! The multi-threaded runtime throughout: control-line calls block (they
//! are ioctls on a real port), and the simulator answering the control
//! socket lives in the same runtime.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use carrier::modem::{
    carrier_lost, dial, hangup, reset_idle, wait_for_call, AnswerEvent, AnswerMode, AnswerOptions,
    AtPort, DialError, DialEvent, DialPlan, HangupOptions, ModemError, ModemOutput, Number,
    ReaderConfig, ResultCode,
};
use carrier_hw::{AsyncTty, InputCircuits, LinesError, ModemLines, Pty};
use carrier_sim::CtlLines;
use carrier_sim::Destination::{Busy, Modem, NoAnswer, NoDialtone, Service};
use carrier_sim::{CallInfo, Sim, SimConfig, TimeScale};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::time::{timeout, Instant};

const SCALE: f64 = 0.05;
/// Bounds every step, so that a hang fails the test instead of stalling it.
const PATIENCE: Duration = Duration::from_secs(20);

fn fast(dir: &Path, modems: usize) -> SimConfig {
    let mut c = SimConfig::new(dir.join("links"), modems);
    c.time_scale = TimeScale::new(SCALE).unwrap();
    c
}

async fn open(path: &Path) -> AtPort<AsyncTty> {
    let tty = AsyncTty::open(path, None).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // Let the modem see DTR come up before talking to it.
    tokio::time::sleep(Duration::from_millis(150)).await;
    AtPort::new(tty, ReaderConfig::default())
}

fn plan(numbers: &[&str]) -> DialPlan {
    DialPlan {
        numbers: numbers.iter().map(|n| Number::new(*n)).collect(),
        retries: 0,
        backoff: Duration::from_millis(50),
        deadline: PATIENCE,
        connect_timeout: Duration::from_secs(10),
        command_timeout: Duration::from_secs(2),
        ..DialPlan::default()
    }
}

fn hangup_opts() -> HangupOptions {
    HangupOptions {
        command_timeout: Duration::from_secs(1),
        ..HangupOptions::scaled(SCALE)
    }
}

async fn dial_events(
    at: &mut AtPort<AsyncTty>,
    plan: &DialPlan,
) -> (Result<carrier::modem::Connected, DialError>, Vec<DialEvent>) {
    let mut events = Vec::new();
    let r = timeout(PATIENCE, dial(at, plan, |e| events.push(e)))
        .await
        .expect("dial finished in time");
    (r, events)
}

fn dialed(events: &[DialEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            DialEvent::Dialing { number, .. } => Some(number.clone()),
            _ => None,
        })
        .collect()
}

/// A service that talks first: its bytes follow CONNECT at once, as a
/// PPP peer's first Configure-Request does.
struct Talker;

impl carrier_sim::Service for Talker {
    fn answer(&self, mut line: DuplexStream, _caller: CallInfo) {
        tokio::spawn(async move {
            let _ = line.write_all(b"\x7e\xff\x03greeting\x7e").await;
            let mut buf = [0u8; 256];
            while matches!(line.read(&mut buf).await, Ok(n) if n > 0) {}
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_first_number_then_the_second_answers() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = fast(dir.path(), 2)
        .route("555-0001", Busy)
        .route("555-0002", Modem(1));
    // Nobody has modem1 open: &D0, or it would not answer with DTR off.
    config.modems[1].profile = Some("S0=1 &D0".into());
    let sim = Sim::start(config).unwrap();
    let mut at = open(sim.link(0).unwrap()).await;
    let mut p = plan(&[]);
    p.numbers = vec![
        Number::labelled("555-0001", "busy city"),
        Number::labelled("555-0002", "home"),
    ];
    let (r, events) = dial_events(&mut at, &p).await;
    let c = r.unwrap();
    assert_eq!(c.number.label.as_deref(), Some("home"));
    assert_eq!(c.tries, 2);
    assert_eq!(c.connect.speed, Some(56000));
    assert!(events.contains(&DialEvent::Failed {
        number: "555-0001".into(),
        label: Some("busy city".into()),
        result: ResultCode::Busy,
    }));
    assert!(matches!(&events[0], DialEvent::Init { cmd } if cmd == "ATZ"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_that_follows_connect_reaches_the_data_port() {
    let dir = tempfile::tempdir().unwrap();
    let config = fast(dir.path(), 1)
        .route("1-800-555-0123", Service("talker".into()))
        .route("555-0100", Service("echo".into()))
        .service("talker", Arc::new(Talker));
    let sim = Sim::start(config).unwrap();
    let mut at = open(sim.link(0).unwrap()).await;
    let (r, _) = dial_events(&mut at, &plan(&["1-800-555-0123"])).await;
    r.unwrap();
    let mut data = at.into_data();
    let mut got = [0u8; 12];
    timeout(PATIENCE, data.read_exact(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&got, b"\x7e\xff\x03greeting\x7e");

    // Back to command state, and a call to the echo service carries data
    // both ways.
    let mut at = hangup(data.into_inner(), None, &hangup_opts())
        .await
        .unwrap();
    let (r, _) = dial_events(&mut at, &plan(&["555-0100"])).await;
    r.unwrap();
    let mut data = at.into_data();
    data.write_all(b"ping").await.unwrap();
    let mut got = [0u8; 4];
    timeout(PATIENCE, data.read_exact(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&got, b"ping");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_dial_tone_stops_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = fast(dir.path(), 1).route("1", NoDialtone).route("2", Busy);
    let sim = Sim::start(config).unwrap();
    let mut at = open(sim.link(0).unwrap()).await;
    let (r, events) = dial_events(&mut at, &plan(&["1", "2"])).await;
    let e = r.unwrap_err();
    assert!(matches!(e, DialError::NoDialtone { .. }), "{e}");
    assert_eq!(e.exit_code(), 23);
    assert!(e.to_string().contains("no dial tone"), "{e}");
    assert_eq!(dialed(&events), ["1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_answers() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(fast(dir.path(), 1).route("200", NoAnswer)).unwrap();
    let mut at = open(sim.link(0).unwrap()).await;
    let mut p = plan(&["200", "555-0111"]);
    // S7=20: 20 s of ringing, 1 s here. 555-0111 has no route: NO
    // CARRIER.
    p.init.push("ATS7=20".into());
    p.retries = 1;
    let (r, events) = dial_events(&mut at, &p).await;
    let e = r.unwrap_err();
    assert!(
        matches!(&e, DialError::NoAnswer { tries: 4, last } if last == "NO CARRIER"),
        "{e}"
    );
    assert_eq!(e.exit_code(), 22);
    assert_eq!(dialed(&events), ["200", "555-0111", "200", "555-0111"]);
    assert!(events.contains(&DialEvent::Backoff { secs: 0 }));
    assert!(events.iter().any(|e| matches!(
        e,
        DialEvent::Failed {
            result: ResultCode::NoAnswer,
            ..
        }
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_busy_is_its_own_failure() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(fast(dir.path(), 1).route("1", Busy).route("2", Busy)).unwrap();
    let mut at = open(sim.link(0).unwrap()).await;
    let (r, _) = dial_events(&mut at, &plan(&["1", "2"])).await;
    let e = r.unwrap_err();
    assert_eq!(e.exit_code(), 21, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_stops_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(fast(dir.path(), 1).route("2", Busy)).unwrap();
    let mut at = open(sim.link(0).unwrap()).await;
    // ATDTS=1: a stored number, which the simulated modem refuses.
    let (r, events) = dial_events(&mut at, &plan(&["S=1", "2"])).await;
    let e = r.unwrap_err();
    assert!(
        matches!(&e, DialError::Refused { cmd, result: ResultCode::Error } if cmd == "ATDTS=1"),
        "{e}"
    );
    assert_eq!(e.exit_code(), 24);
    assert_eq!(dialed(&events), ["S=1"]);

    // An init command the modem refuses stops before any dialing.
    let mut p = plan(&["2"]);
    p.init = vec!["ATZ".into(), "ATJ".into()];
    let (r, events) = dial_events(&mut at, &p).await;
    let e = r.unwrap_err();
    assert_eq!(e.to_string(), "the modem answered ERROR to ATJ");
    assert!(dialed(&events).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_bounds_the_attempt_and_the_modem_stays_usable() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(fast(dir.path(), 1).route("200", NoAnswer)).unwrap();
    let mut at = open(sim.link(0).unwrap()).await;
    let mut p = plan(&["200"]);
    // S7 is 50 s (2.5 s here); the deadline comes first.
    p.deadline = Duration::from_millis(800);
    p.retries = 5;
    let t0 = Instant::now();
    let (r, events) = dial_events(&mut at, &p).await;
    let e = r.unwrap_err();
    assert!(matches!(e, DialError::Deadline { .. }), "{e}");
    assert_eq!(e.exit_code(), 22);
    // The error says which came first; the bound only catches a hang.
    assert!(t0.elapsed() < Duration::from_secs(6), "{:?}", t0.elapsed());
    assert!(events
        .iter()
        .any(|e| matches!(e, DialEvent::TimedOut { .. })));
    // The abandoned attempt was aborted: the modem takes commands.
    let r = at.command("AT", Duration::from_secs(2)).await.unwrap();
    assert_eq!(r.result, ResultCode::Ok);
}

/// Two modems in a call: modem0 (returned) called modem1, answered by
/// the test through its own port.
async fn call(sim: &Sim) -> (AtPort<AsyncTty>, AtPort<AsyncTty>) {
    let mut callee = open(sim.link(1).unwrap()).await;
    callee.ok("ATE0S0=1", PATIENCE).await.unwrap();
    let mut caller = open(sim.link(0).unwrap()).await;
    let (r, _) = dial_events(&mut caller, &plan(&["100"])).await;
    r.unwrap();
    loop {
        match callee.next_line(PATIENCE).await.unwrap() {
            ModemOutput::Result(ResultCode::Connect(_)) => break,
            _ => continue,
        }
    }
    (caller, callee)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carrier_lost_when_the_far_end_hangs_up() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(fast(dir.path(), 2).route("100", Modem(1))).unwrap();
    let ctl = CtlLines::connect(sim.ctl(0).unwrap()).unwrap();
    let (caller, callee) = call(&sim).await;
    let mut data = caller.into_data();
    let lost = carrier_lost(&ctl, Duration::from_millis(10));
    let far = async {
        // Let the watcher see DCD on first (it samples every 10 ms; a
        // loaded machine may be slow to start it).
        tokio::time::sleep(Duration::from_secs(1)).await;
        hangup(callee.into_inner(), None, &hangup_opts())
            .await
            .unwrap()
    };
    let scan = async {
        let mut s = NoCarrierScan::new();
        let mut buf = [0u8; 256];
        loop {
            match data.read(&mut buf).await {
                Ok(n) if n > 0 => {
                    if s.feed(&buf[..n]) {
                        return;
                    }
                }
                other => panic!("read {other:?} before NO CARRIER"),
            }
        }
    };
    timeout(PATIENCE, async { tokio::join!(lost, far, scan) })
        .await
        .expect("carrier loss seen on DCD and as NO CARRIER");
    // The caller's modem is back in command state.
    let mut at = AtPort::new(data.into_inner(), ReaderConfig::default());
    assert_eq!(
        at.command("AT", PATIENCE).await.unwrap().result,
        ResultCode::Ok
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_modem_that_goes_away_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(fast(dir.path(), 1)).unwrap();
    let mut at = open(sim.link(0).unwrap()).await;
    at.ok("AT", PATIENCE).await.unwrap();
    drop(sim);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let e = at.command("AT", PATIENCE).await.unwrap_err();
    assert!(matches!(e, ModemError::Gone), "{e:?}");
}

/// Runs `wait_for_call` on modem1 while modem0 dials 100 (with `s7` as
/// its S7), `calls` times; returns the answer and the callee's events.
async fn answer_calls(
    mode: AnswerMode,
    caller_s7: &[u32],
) -> (carrier::modem::Answered, Vec<AnswerEvent>) {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(fast(dir.path(), 2).route("100", Modem(1))).unwrap();
    let mut callee = open(sim.link(1).unwrap()).await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let opts = AnswerOptions {
        mode,
        ring_timeout: Some(PATIENCE),
        connect_timeout: Duration::from_secs(10),
        // The cadence is 6 s, 300 ms here; a gap of 5 cadences tells
        // calls apart even when the machine stalls a ring.
        ring_gap: Duration::from_millis(1500),
        command_timeout: Duration::from_secs(2),
        allowed_callers: Default::default(),
    };
    let waiter = tokio::spawn(async move {
        let r = wait_for_call(&mut callee, &opts, |e| sink.lock().unwrap().push(e)).await;
        (r, callee)
    });
    let mut caller = open(sim.link(0).unwrap()).await;
    caller.ok("ATE0", PATIENCE).await.unwrap();
    for (i, s7) in caller_s7.iter().enumerate() {
        caller.ok(&format!("ATS7={s7}"), PATIENCE).await.unwrap();
        let r = caller.command("ATDT100", PATIENCE).await.unwrap();
        if i + 1 < caller_s7.len() {
            assert_eq!(r.result, ResultCode::NoAnswer);
            // Past the callee's ring gap: the next call is a new one.
            tokio::time::sleep(Duration::from_millis(1600)).await;
        } else {
            assert!(matches!(r.result, ResultCode::Connect(_)), "{r:?}");
        }
    }
    let (r, mut callee) = timeout(PATIENCE, waiter).await.unwrap().unwrap();
    let answered = r.unwrap();
    // After the call: hang up and make the modem deaf again.
    let at = hangup(callee.into_data().into_inner(), None, &hangup_opts())
        .await
        .unwrap();
    callee = at;
    reset_idle(&mut callee, PATIENCE).await.unwrap();
    let events = events.lock().unwrap().clone();
    (answered, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_by_counting_rings_after_a_call_that_gave_up() {
    // The first caller gives up after 0.5 s (two rings); the second waits.
    let (answered, events) = answer_calls(AnswerMode::CountRings(3), &[10, 50]).await;
    assert_eq!(answered.rings, 3);
    assert_eq!(answered.connect.speed, Some(56000));
    let failed = events
        .iter()
        .filter(|e| matches!(e, AnswerEvent::Failed { .. }))
        .count();
    assert_eq!(failed, 1, "{events:?}");
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, AnswerEvent::Answering))
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_modem_answers_by_itself() {
    let (answered, events) = answer_calls(AnswerMode::ModemAnswers(2), &[50]).await;
    assert_eq!(answered.rings, 2);
    assert!(events.contains(&AnswerEvent::Answering));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screens_callers_by_the_simulators_caller_id() {
    // modem0 calls from a number that is not allowed, modem2 from one
    // that is; modem1 answers 100 for allowed callers only.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = fast(dir.path(), 3).route("100", Modem(1));
    cfg.modems[0].number = Some("555-0100".into());
    cfg.modems[2].number = Some("555-0177".into());
    let sim = Sim::start(cfg).unwrap();
    let mut callee = open(sim.link(1).unwrap()).await;
    let mut allowed = carrier::modem::AllowedCallers::default();
    allowed.require(
        "--allow-caller",
        vec![carrier::modem::Pattern::parse("5550177").unwrap()],
    );
    let opts = AnswerOptions {
        mode: AnswerMode::CountRings(1),
        ring_timeout: Some(PATIENCE),
        connect_timeout: Duration::from_secs(10),
        ring_gap: Duration::from_millis(1500),
        command_timeout: Duration::from_secs(2),
        allowed_callers: allowed,
    };
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let waiter = tokio::spawn(async move {
        let r = wait_for_call(&mut callee, &opts, |e| sink.lock().unwrap().push(e)).await;
        (r, callee)
    });
    let mut refused = open(sim.link(0).unwrap()).await;
    refused.ok("ATE0S7=10", PATIENCE).await.unwrap();
    // 10 s at a twentieth: it rings half a second, nobody picks up.
    let r = refused.command("ATDT100", PATIENCE).await.unwrap();
    assert_eq!(r.result, ResultCode::NoAnswer, "never answered");
    // Past the ring gap.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let mut caller = open(sim.link(2).unwrap()).await;
    caller.ok("ATE0", PATIENCE).await.unwrap();
    let r = caller.command("ATDT100", PATIENCE).await.unwrap();
    assert!(matches!(r.result, ResultCode::Connect(_)), "{r:?}");
    let (r, _callee) = timeout(PATIENCE, waiter).await.unwrap().unwrap();
    let answered = r.unwrap();
    assert_eq!(answered.caller.as_deref(), Some("5550177"));
    assert_eq!(answered.refused, 1);
    let events = events.lock().unwrap().clone();
    let refusals: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            AnswerEvent::Refused { number, reason, .. } => Some((number.clone(), reason.code())),
            _ => None,
        })
        .collect();
    assert_eq!(
        refusals,
        vec![(Some("5550100".to_string()), "not-allowed")],
        "{events:?}"
    );
}

/// Records DTR changes on their way to the real control lines.
struct Recorder<'a> {
    inner: &'a CtlLines,
    dtr: Mutex<Vec<bool>>,
}

impl ModemLines for Recorder<'_> {
    fn set_dtr(&self, on: bool) -> Result<(), LinesError> {
        self.dtr.lock().unwrap().push(on);
        self.inner.set_dtr(on)
    }
    fn set_rts(&self, on: bool) -> Result<(), LinesError> {
        self.inner.set_rts(on)
    }
    fn get(&self) -> Result<InputCircuits, LinesError> {
        self.inner.get()
    }
}

async fn far_end_hears_no_carrier(callee: &mut AtPort<AsyncTty>) {
    loop {
        match callee.next_line(PATIENCE).await.unwrap() {
            ModemOutput::Result(ResultCode::NoCarrier) => return,
            _ => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hang_up_by_dtr_through_the_control_socket() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(fast(dir.path(), 2).route("100", Modem(1))).unwrap();
    let ctl = carrier_sim::CtlLines::for_device(sim.link(0).unwrap()).expect("control socket");
    assert!(carrier_sim::lines_for(sim.link(0).unwrap()).is_some());
    let (caller, mut callee) = call(&sim).await;
    assert!(ctl.get().unwrap().dcd);
    let rec = Recorder {
        inner: &ctl,
        dtr: Mutex::new(Vec::new()),
    };
    let mut at = hangup(caller.into_data().into_inner(), Some(&rec), &hangup_opts())
        .await
        .unwrap();
    assert_eq!(*rec.dtr.lock().unwrap(), [false, true]);
    assert!(!ctl.get().unwrap().dcd);
    far_end_hears_no_carrier(&mut callee).await;
    assert_eq!(
        at.command("AT", PATIENCE).await.unwrap().result,
        ResultCode::Ok
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hang_up_by_escape_without_lines_or_when_dtr_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(fast(dir.path(), 2).route("100", Modem(1))).unwrap();
    let ctl = CtlLines::connect(sim.ctl(0).unwrap()).unwrap();
    // No control lines: +++ and ATH0.
    let (caller, mut callee) = call(&sim).await;
    let mut at = hangup(caller.into_data().into_inner(), None, &hangup_opts())
        .await
        .unwrap();
    far_end_hears_no_carrier(&mut callee).await;
    assert!(!ctl.get().unwrap().dcd);
    assert_eq!(
        at.command("AT", PATIENCE).await.unwrap().result,
        ResultCode::Ok
    );
    drop(at);
    drop(callee);

    // &D0: the modem ignores DTR; the hang-up notices and escapes.
    let (mut caller, mut callee) = {
        let mut callee = open(sim.link(1).unwrap()).await;
        callee.ok("ATE0S0=1", PATIENCE).await.unwrap();
        let mut caller = open(sim.link(0).unwrap()).await;
        let mut p = plan(&["100"]);
        p.init.push("AT&D0".into());
        let (r, _) = dial_events(&mut caller, &p).await;
        r.unwrap();
        (caller, callee)
    };
    caller = hangup(caller.into_data().into_inner(), Some(&ctl), &hangup_opts())
        .await
        .unwrap();
    far_end_hears_no_carrier(&mut callee).await;
    assert_eq!(
        caller.command("AT", PATIENCE).await.unwrap().result,
        ResultCode::Ok
    );
    assert!(!ctl.get().unwrap().dcd);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_spewing_garbage_is_an_error_not_a_hang() {
    let pty = Pty::open().unwrap();
    let mut at = AtPort::new(
        AsyncTty::open(pty.slave_path(), None).unwrap(),
        ReaderConfig::default(),
    );
    let pty = Arc::new(pty);
    let spew = {
        let pty = pty.clone();
        tokio::spawn(async move {
            let mut x: u32 = 1;
            loop {
                let chunk: Vec<u8> = (0..512)
                    .map(|_| {
                        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                        (x >> 16) as u8
                    })
                    .collect();
                if pty.master.write_all(&chunk).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let mut p = plan(&["1"]);
    p.command_timeout = Duration::from_millis(500);
    let t0 = Instant::now();
    let (r, _) = dial_events(&mut at, &p).await;
    let e = r.unwrap_err();
    assert!(
        matches!(e, DialError::Modem(ModemError::NotAModem { .. })),
        "{e}"
    );
    assert_eq!(e.exit_code(), 24);
    assert!(t0.elapsed() < Duration::from_secs(8), "{:?}", t0.elapsed());
    // Waiting for a call on it fails the same way.
    let opts = AnswerOptions {
        command_timeout: Duration::from_millis(500),
        ..AnswerOptions::default()
    };
    let e = timeout(PATIENCE, wait_for_call(&mut at, &opts, |_| {}))
        .await
        .unwrap()
        .unwrap_err();
    assert!(e.to_string().contains("not look like a modem"), "{e}");
    spew.abort();
}

/// Spots `NO CARRIER` in the data stream (how the tests see the modem
/// report a lost carrier in data state): a modem that loses the carrier
/// goes back to command state and says so on the line the PPP frames were
/// using. Feed it every byte read in data state.
#[derive(Clone, Debug, Default)]
struct NoCarrierScan {
    /// How much of the pattern the latest bytes match.
    matched: usize,
}

impl NoCarrierScan {
    /// The verbose result framed as a modem sends it (V.250 §5.7.1): the
    /// leading CR LF keeps a stray "NO CARRIER" inside a frame from
    /// counting, and PPP escapes the CR and LF in frames under the
    /// default ACCM.
    const PATTERN: &'static [u8] = b"\r\nNO CARRIER\r";

    fn new() -> NoCarrierScan {
        NoCarrierScan::default()
    }

    /// Whether the pattern ended within `bytes`.
    fn feed(&mut self, bytes: &[u8]) -> bool {
        let p = Self::PATTERN;
        for &b in bytes {
            if b == p[self.matched] {
                self.matched += 1;
            } else {
                // The pattern's only self-overlap: a CR restarts it.
                self.matched = usize::from(b == p[0]);
            }
            if self.matched == p.len() {
                self.matched = 0;
                return true;
            }
        }
        false
    }
}

#[test]
fn scans_for_no_carrier() {
    let mut s = NoCarrierScan::new();
    assert!(!s.feed(b"\x7e\xff\x03NO CARRIER\x7e"));
    assert!(!s.feed(b"\r\r\nNO CAR"));
    assert!(s.feed(b"RIER\r\n"));
    assert!(!s.feed(b"\r\nNO CARRIERS"));
    let all = b"xx\r\nNO CARRIER\r\n";
    let mut s = NoCarrierScan::new();
    assert_eq!(all.iter().filter(|b| s.feed(&[**b])).count(), 1);
}
