//! Link establishment: from the first LCP frame to IPCP Opened on both
//! sides, in frames exchanged and in time, over the simulator's null-modem
//! cable at 33600 bit/s with 50 ms one-way latency (issue 7).
//!
//! Three pairs, each run several times with fresh lines (and fresh VMs):
//! * carrier<->carrier: two `session::run` on the two ends of a
//!   `NullModem`, in this process.
//! * carrier<->pppd: pppd 2.4.9 in user-mode-linux as the server, its PTY
//!   joined to one cable end with the harness's `Link::join` (so the line
//!   is paced); carrier dials the other end.
//! * pppd<->carrier: the other way round, pppd dialing carrier's server
//!   (not asked for by the issue; it tells which side any difference
//!   comes from).
//! * pppd<->pppd: two pppd VMs, one on each cable end, via two joins.
//!
//! Pairs are named client<->server.
//!
//! The same roles everywhere: the server requires PAP (`alice`/`s3cret`)
//! and assigns the client's address (10.77.0.2, server 10.77.0.1); the
//! client asks for an address (pppd `noipdefault`); no DNS, CCP, VJ, IPv6.
//!
//! Frames: the control frames each side sent until both had IPCP up, from
//! our side decoded off the line by a tap around the session's tty (what
//! `--pcap` would write), from pppd's side the `sent [` lines of its
//! `debug` log. Each pppd is held in a `connect` script (reading one
//! octet from its tty) until both peers are released together
//! (`connect-delay 0`), so no Configure-Request is sent into an unjoined
//! line and the log starts with the first frame. Against pppd, our session
//! starts when pppd's first octets come out of its PTY.
//!
//! Octets: all that both sides wrote on the line (flags and escapes in),
//! from the taps and from the joins' byte counters.
//!
//! Time, two ways, both from the first LCP frame on the line (our tap's
//! first write, or the first byte a join copies out of a pppd):
//! * up: to the later of the two sides' IPCP up. Ours is the instant the
//!   session hands IPCP's result to the IP plane; pppd's logs carry no
//!   timestamps, so the host polls them (every ~1 ms) for
//!   `local  IP address`, which adds up to a few ms to pppd's side.
//! * line: to the last control frame the cable delivered (our tap's last
//!   read, or a join's last copy into a pppd, polled every ~1 ms): the
//!   same yardstick for both kinds of peer.
//!
//! A criterion group also times the negotiation's CPU cost: the same pair
//! wired back to back in memory through the sans-IO core (no line).
//!
//! Modes: `cargo bench --bench linkup` runs 5 of each; `-- --quick` or
//! CARRIER_BENCH_QUICK=1 runs 3; under `cargo test --benches` one
//! carrier<->carrier run and no VMs. When pppd cannot start, its columns
//! say why. CARRIER_BENCH_TRACE=1 prints, for each run with carrier in
//! it, every frame our taps saw with its time (stderr).

mod common;
#[path = "../tests/support/pppd.rs"]
mod pppd;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use carrier::events::Reporter;
use carrier::net::{IpLink, IpPlane};
use carrier::ppp::link::LinkConfig;
use carrier::session::{self, SessionConfig};
use carrier_hw::AsyncTty;
use carrier_sim::{LineProfile, NullModem};
use common::{
    by_family, client_config, median, min_max, ms, server_config, End, Mode, Tap, TapLog,
    CLIENT_ADDR, SERVER_ADDR,
};
use criterion::Criterion;
use pppd::{Pppd, PppdOptions};
use tokio::runtime::Runtime;
use tokio::sync::watch;

const BITRATE: u32 = 33_600;
const LATENCY: Duration = Duration::from_millis(50);
/// Give up on a run after this long.
const RUN_TIMEOUT: Duration = Duration::from_secs(30);
/// After both sides are up, wait this long for the last frames to be
/// logged before counting (nothing more is sent: no echo, no CCP).
const SETTLE: Duration = Duration::from_millis(200);
const POLL: Duration = Duration::from_millis(1);

const PPPD_COMMON: &str = "local noccp novj noipv6 debug connect-delay 0";

fn profile() -> LineProfile {
    LineProfile {
        bitrate: Some(BITRATE),
        latency: LATENCY,
    }
}

// --------------------------------------------------------------- samples

/// One link establishment.
#[derive(Clone, Debug)]
struct Sample {
    /// Control frames sent by the server and by the client, by name.
    server: Vec<String>,
    client: Vec<String>,
    time: Duration,
    /// From the first frame written to the last control frame delivered
    /// by the cable: the line's view, the same for both kinds of peer.
    line_time: Duration,
    /// Octets both sides wrote on the line (flags and escapes included).
    octets: u64,
    /// Between the two sides' first frames.
    skew: Duration,
    /// Anything odd noticed (the two sides' views disagreeing, ...).
    notes: Vec<String>,
}

impl Sample {
    fn frames(&self) -> usize {
        self.server.len() + self.client.len()
    }
}

/// The result of N runs of one pair, or why there is none.
struct PairResult {
    name: &'static str,
    samples: Result<Vec<Sample>, String>,
}

// ----------------------------------------------------- our side: an IP plane

/// Notes the instant IPCP comes up; carries no datagrams.
struct UpProbe {
    up: watch::Sender<Option<Instant>>,
}

impl IpPlane for UpProbe {
    fn up(&mut self, _link: &IpLink) -> std::io::Result<String> {
        let now = Instant::now();
        self.up.send_replace(Some(now));
        Ok("bench: IP up noted".into())
    }

    fn down(&mut self) {}

    fn deliver(&mut self, _datagram: &[u8]) {}

    async fn next_outbound(&mut self, _buf: &mut [u8]) -> std::io::Result<usize> {
        std::future::pending().await
    }

    fn dropped(&self) -> u64 {
        0
    }
}

/// A carrier session on `device` (a cable end), tapped. Returns the tap's
/// log, the IPCP-up instant, and the stop switch.
struct OurSide {
    log: Arc<Mutex<TapLog>>,
    up: watch::Receiver<Option<Instant>>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// Must be called inside the runtime (`rt.enter()`).
fn spawn_session(device: &Path, cfg: LinkConfig, label: &str) -> Result<OurSide, String> {
    let tty = AsyncTty::open(device, None).map_err(|e| format!("open {device:?}: {e}"))?;
    let (mut tap, log) = Tap::new(tty);
    let (up_tx, up) = watch::channel(None);
    let (stop, stop_rx) = watch::channel(false);
    let reporter = Reporter::to_log(label);
    let task = tokio::spawn(async move {
        let mut plane = UpProbe { up: up_tx };
        let cfg = SessionConfig {
            link: cfg,
            ..SessionConfig::default()
        };
        let _ = session::run(&mut tap, &mut plane, cfg, &reporter, stop_rx).await;
    });
    Ok(OurSide {
        log,
        up,
        stop,
        task,
    })
}

impl OurSide {
    fn up_at(&self) -> Option<Instant> {
        *self.up.borrow()
    }

    fn first_sent(&self) -> Option<Instant> {
        self.log.lock().unwrap().sent.first().map(|f| f.at)
    }

    fn last_rcvd(&self) -> Option<Instant> {
        self.log.lock().unwrap().rcvd.last().map(|f| f.at)
    }

    fn octets(&self) -> u64 {
        self.log.lock().unwrap().bytes_written
    }

    fn sent(&self) -> Vec<String> {
        let log = self.log.lock().unwrap();
        log.sent.iter().map(|f| f.name.clone()).collect()
    }

    fn rcvd(&self) -> Vec<String> {
        let log = self.log.lock().unwrap();
        log.rcvd.iter().map(|f| f.name.clone()).collect()
    }

    fn finish(self) {
        let _ = self.stop.send(true);
        self.task.abort();
    }
}

/// With CARRIER_BENCH_TRACE set: every frame our taps saw, in time order.
fn print_timeline(sides: &[(&str, &OurSide)], first: Instant) {
    let mut rows = Vec::new();
    for (name, side) in sides {
        let log = side.log.lock().unwrap();
        for f in &log.sent {
            rows.push((f.at, format!("{name} sent {}", f.name)));
        }
        for f in &log.rcvd {
            rows.push((f.at, format!("{name} rcvd {}", f.name)));
        }
    }
    rows.sort_by_key(|r| r.0);
    for (at, what) in rows {
        eprintln!("  {:>8.2} ms  {what}", (at - first).as_secs_f64() * 1e3);
    }
}

// ------------------------------------------------------------- pppd gate

/// A `connect` script that holds pppd until [`Gate::open`], so that both
/// peers start negotiating at the same moment on a joined line. The script
/// (a host file: the guest sees the host's `/` read-only) blocks reading
/// one octet from its stdin, which is pppd's tty; the host releases it by
/// writing that octet into the PTY, so pppd starts within a fraction of a
/// millisecond and nothing polls.
struct Gate {
    script: PathBuf,
}

impl Gate {
    fn new(dir: &Path, n: usize) -> Result<Gate, String> {
        let script = dir.join(format!("gate-{n}.sh"));
        fs::write(&script, "read -r -n 1 _\nexit 0\n")
            .map_err(|e| format!("writing {script:?}: {e}"))?;
        Ok(Gate { script })
    }

    /// pppd options that make it wait for this gate (the command is one
    /// word: pppd hands it to `sh -c`).
    fn options(&self) -> [String; 2] {
        [
            "connect".into(),
            format!("/bin/busybox sh {}", self.script.display()),
        ]
    }

    /// Releases every pppd given, as close together as possible.
    fn open(&self, peers: &[&Pppd]) -> Result<(), String> {
        let mut ttys = Vec::new();
        for p in peers {
            ttys.push(
                p.open_device()
                    .map_err(|e| format!("opening {:?}: {e}", p.device()))?,
            );
        }
        for t in &mut ttys {
            t.write_all(b"G")
                .map_err(|e| format!("releasing a pppd: {e}"))?;
        }
        Ok(())
    }
}

/// pppd's options as words; the gate's connect command is one word.
fn pppd_options(words: &str, gate: &Gate) -> PppdOptions {
    let mut args: Vec<String> = words.split_whitespace().map(String::from).collect();
    args.extend(gate.options());
    PppdOptions {
        args,
        ..PppdOptions::default()
    }
}

fn pppd_server_options(gate: &Gate) -> PppdOptions {
    let mut o = pppd_options(
        &format!("{PPPD_COMMON} require-pap name server {SERVER_ADDR}:{CLIENT_ADDR}"),
        gate,
    );
    o.pap_secrets = "alice * s3cret *\n".into();
    o
}

fn pppd_client_options(gate: &Gate) -> PppdOptions {
    pppd_options(
        &format!("{PPPD_COMMON} noauth user alice password s3cret noipdefault"),
        gate,
    )
}

fn boot(opts: PppdOptions) -> Result<Pppd, String> {
    pppd::peer_available()?;
    Pppd::start(opts).map_err(|e| e.to_string().lines().next().unwrap_or("").to_string())
}

/// Watches a harness join between a pppd and a cable end: when pppd
/// first wrote, and when the cable last delivered octets to pppd.
#[derive(Default)]
struct JoinWatch {
    first_out: Option<Instant>,
    delivered: u64,
    last_in: Option<Instant>,
}

impl JoinWatch {
    /// `join` must have the pppd first: `bytes()` is (pppd->cable, cable->pppd).
    fn poll(&mut self, join: &pppd::Link, now: Instant) {
        let (out, inn) = join.bytes();
        if self.first_out.is_none() && out > 0 {
            self.first_out = Some(now);
        }
        if inn != self.delivered {
            self.delivered = inn;
            self.last_in = Some(now);
        }
    }
}

fn abs_diff(a: Option<Instant>, b: Option<Instant>) -> Duration {
    match (a, b) {
        (Some(a), Some(b)) => a.max(b) - a.min(b),
        _ => Duration::ZERO,
    }
}

/// Sleeps `SETTLE`, still polling.
fn settle(mut poll: impl FnMut(Instant)) {
    let end = Instant::now() + SETTLE;
    while Instant::now() < end {
        poll(Instant::now());
        thread::sleep(POLL);
    }
}

// ------------------------------------------------------------------ runs

fn carrier_carrier(rt: &Runtime) -> Result<Sample, String> {
    let _rt = rt.enter();
    let cable = NullModem::spawn(profile()).map_err(|e| e.to_string())?;
    // Both open their ends before either starts, then both start at once.
    let server = spawn_session(cable.end_a(), server_config(), "server")?;
    let client = spawn_session(cable.end_b(), client_config(), "client")?;
    let deadline = Instant::now() + RUN_TIMEOUT;
    let ups = loop {
        if let (Some(a), Some(b)) = (server.up_at(), client.up_at()) {
            break (a, b);
        }
        if Instant::now() > deadline {
            server.finish();
            client.finish();
            return Err("carrier pair: IPCP not up within 30 s".into());
        }
        thread::sleep(POLL);
    };
    thread::sleep(SETTLE);
    let first = [server.first_sent(), client.first_sent()]
        .into_iter()
        .flatten()
        .min()
        .ok_or("no frame sent")?;
    let last = [server.last_rcvd(), client.last_rcvd()]
        .into_iter()
        .flatten()
        .max()
        .ok_or("no frame received")?;
    if std::env::var_os("CARRIER_BENCH_TRACE").is_some() {
        print_timeline(&[("server", &server), ("client", &client)], first);
    }
    let sample = Sample {
        server: server.sent(),
        client: client.sent(),
        time: ups.0.max(ups.1) - first,
        line_time: last - first,
        octets: server.octets() + client.octets(),
        skew: abs_diff(server.first_sent(), client.first_sent()),
        notes: Vec::new(),
    };
    server.finish();
    client.finish();
    drop(cable);
    Ok(sample)
}

/// carrier against one pppd: carrier dials a pppd server, or (with
/// `carrier_serves`) a pppd client dials carrier's server. The server is
/// always on cable end A.
fn carrier_pppd(
    rt: &Runtime,
    dir: &Path,
    n: usize,
    carrier_serves: bool,
) -> Result<Sample, String> {
    let gate = Gate::new(dir, n)?;
    let pppd = boot(if carrier_serves {
        pppd_client_options(&gate)
    } else {
        pppd_server_options(&gate)
    })?;
    let _rt = rt.enter();
    let cable = NullModem::spawn(profile()).map_err(|e| e.to_string())?;
    let (pppd_end, our_end) = if carrier_serves {
        (cable.end_b(), cable.end_a())
    } else {
        (cable.end_a(), cable.end_b())
    };
    let join = pppd::Link::join(pppd.device(), pppd_end)
        .map_err(|e| format!("joining pppd to the cable: {e}"))?;
    thread::sleep(Duration::from_millis(50));
    if join.bytes() != (0, 0) {
        return Err(format!(
            "pppd sent before the gate opened: {:?}",
            join.bytes()
        ));
    }
    gate.open(&[&pppd])?;
    // Start ours when pppd's first octets appear, so neither side has a
    // head start.
    let mut watch = JoinWatch::default();
    let wait_until = Instant::now() + Duration::from_secs(5);
    while watch.first_out.is_none() && Instant::now() < wait_until {
        watch.poll(&join, Instant::now());
        thread::sleep(Duration::from_micros(100));
    }
    let ours = if carrier_serves {
        spawn_session(our_end, server_config(), "server")?
    } else {
        spawn_session(our_end, client_config(), "client")?
    };
    let deadline = Instant::now() + RUN_TIMEOUT;
    let mut pppd_up = None;
    let ours_up = loop {
        let now = Instant::now();
        watch.poll(&join, now);
        if pppd_up.is_none() && pppd.log().contains("local  IP address") {
            pppd_up = Some(now);
        }
        if let (Some(ours), Some(_)) = (ours.up_at(), pppd_up) {
            break ours;
        }
        if now > deadline {
            ours.finish();
            return Err(format!(
                "carrier and pppd: IPCP not up within 30 s; pppd log:\n{}",
                pppd.log()
            ));
        }
        thread::sleep(POLL);
    };
    settle(|now| watch.poll(&join, now));
    let trace = common::pppd_trace(&pppd.log());
    let last = [ours.last_rcvd(), watch.last_in]
        .into_iter()
        .flatten()
        .max()
        .ok_or("no frame received")?;
    let first = [ours.first_sent(), watch.first_out]
        .into_iter()
        .flatten()
        .min()
        .ok_or("no frame sent")?;
    if std::env::var_os("CARRIER_BENCH_TRACE").is_some() {
        print_timeline(
            &[(if carrier_serves { "server" } else { "client" }, &ours)],
            first,
        );
    }
    let mut notes = Vec::new();
    if ours.rcvd() != trace.sent {
        notes.push(format!(
            "our tap read {:?} but pppd logged sending {:?}",
            ours.rcvd(),
            trace.sent
        ));
    }
    if ours.sent() != trace.rcvd {
        notes.push(format!(
            "we sent {:?} but pppd logged receiving {:?}",
            ours.sent(),
            trace.rcvd
        ));
    }
    let (server, client) = if carrier_serves {
        (ours.sent(), trace.sent)
    } else {
        (trace.sent, ours.sent())
    };
    let sample = Sample {
        server,
        client,
        time: ours_up.max(pppd_up.unwrap_or(ours_up)) - first,
        line_time: last - first,
        octets: ours.octets() + join.bytes().0,
        skew: abs_diff(ours.first_sent(), watch.first_out),
        notes,
    };
    ours.finish();
    drop(join);
    drop(cable);
    Ok(sample)
}

fn pppd_pppd(rt: &Runtime, dir: &Path, n: usize) -> Result<Sample, String> {
    let gate = Gate::new(dir, n)?;
    let (server, client) = thread::scope(|s| {
        let a = s.spawn(|| boot(pppd_server_options(&gate)));
        let b = s.spawn(|| boot(pppd_client_options(&gate)));
        (
            a.join().unwrap_or_else(|_| Err("boot panicked".into())),
            b.join().unwrap_or_else(|_| Err("boot panicked".into())),
        )
    });
    let (server, client) = (server?, client?);
    let _rt = rt.enter();
    let cable = NullModem::spawn(profile()).map_err(|e| e.to_string())?;
    let ja = pppd::Link::join(server.device(), cable.end_a())
        .map_err(|e| format!("joining pppd A to the cable: {e}"))?;
    let jb = pppd::Link::join(client.device(), cable.end_b())
        .map_err(|e| format!("joining pppd B to the cable: {e}"))?;
    thread::sleep(Duration::from_millis(50));
    if ja.bytes() != (0, 0) || jb.bytes() != (0, 0) {
        return Err("a pppd sent before the gate opened".into());
    }
    gate.open(&[&server, &client])?;
    let deadline = Instant::now() + RUN_TIMEOUT;
    let (mut wa, mut wb) = (JoinWatch::default(), JoinWatch::default());
    let (mut up_a, mut up_b) = (None, None);
    let end = loop {
        let now = Instant::now();
        wa.poll(&ja, now);
        wb.poll(&jb, now);
        if up_a.is_none() && server.log().contains("local  IP address") {
            up_a = Some(now);
        }
        if up_b.is_none() && client.log().contains("local  IP address") {
            up_b = Some(now);
        }
        if let (Some(a), Some(b)) = (up_a, up_b) {
            break a.max(b);
        }
        if now > deadline {
            return Err(format!(
                "pppd<->pppd: IPCP not up within 30 s; server log:\n{}\nclient log:\n{}",
                server.log(),
                client.log()
            ));
        }
        // Finer until both first frames are seen: they set the start.
        thread::sleep(if wa.first_out.is_none() || wb.first_out.is_none() {
            Duration::from_micros(100)
        } else {
            POLL
        });
    };
    settle(|now| {
        wa.poll(&ja, now);
        wb.poll(&jb, now);
    });
    let (ta, tb) = (
        common::pppd_trace(&server.log()),
        common::pppd_trace(&client.log()),
    );
    let mut notes = Vec::new();
    if ta.sent != tb.rcvd || tb.sent != ta.rcvd {
        notes.push("the two pppd logs disagree on what crossed the line".into());
    }
    let first = [wa.first_out, wb.first_out]
        .into_iter()
        .flatten()
        .min()
        .ok_or("no byte crossed the line")?;
    let last = [wa.last_in, wb.last_in]
        .into_iter()
        .flatten()
        .max()
        .ok_or("no byte delivered")?;
    let sample = Sample {
        server: ta.sent,
        client: tb.sent,
        time: end - first,
        line_time: last - first,
        octets: ja.bytes().0 + jb.bytes().0,
        skew: abs_diff(wa.first_out, wb.first_out),
        notes,
    };
    drop((ja, jb, cable));
    Ok(sample)
}

fn repeat(
    runs: usize,
    mut f: impl FnMut(usize) -> Result<Sample, String>,
) -> Result<Vec<Sample>, String> {
    let mut v = Vec::new();
    let mut last_err = None;
    for i in 0..runs {
        match f(i) {
            Ok(s) => v.push(s),
            Err(e) => {
                eprintln!("linkup: run {i} failed: {e}");
                last_err = Some(e);
            }
        }
    }
    if v.is_empty() {
        Err(last_err.unwrap_or_else(|| "no runs".into()))
    } else {
        Ok(v)
    }
}

// ----------------------------------------------------------------- memory

/// The same pair in memory, sans-IO, no line: frames and completion.
fn in_memory_pair() -> (usize, usize) {
    let now = Instant::now();
    let mut server = End::new(server_config(), [1; 32]);
    let mut client = End::new(client_config(), [2; 32]);
    server.start(now);
    client.start(now);
    let mut wire = BytesMut::with_capacity(4096);
    let frames = common::exchange(&mut server, &mut client, now, &mut wire);
    assert!(
        server.ip_up && client.ip_up,
        "in-memory pair did not come up"
    );
    frames
}

fn bench_in_memory(c: &mut Criterion) {
    let mut g = c.benchmark_group("linkup/in-memory");
    g.bench_function("carrier-pair-pap-ipcp", |b| b.iter(in_memory_pair));
    g.finish();
}

// ------------------------------------------------------------------ table

fn family_cols(names: &[String]) -> String {
    let f = by_family(names.iter().map(String::as_str));
    let mut s = format!("{:>3} {:>3} {:>4}", f[0], f[1], f[2]);
    if f[3] > 0 {
        s.push_str(&format!(" +{} other", f[3]));
    }
    s
}

/// "median [min..max]" of durations, in ms.
fn spread(v: &[Duration]) -> String {
    let med = median(v).unwrap();
    let (lo, hi) = min_max(v).unwrap();
    let f = |d: Duration| d.as_secs_f64() * 1e3;
    format!("{:.0} [{:.0}..{:.0}]", f(med), f(lo), f(hi))
}

fn med_time(s: &[Sample], f: impl Fn(&Sample) -> Duration) -> Duration {
    median(&s.iter().map(f).collect::<Vec<_>>()).unwrap()
}

fn print_table(results: &[PairResult], runs: usize, mem: (usize, usize), mem_time: Duration) {
    println!();
    println!(
        "Link establishment over the simulated line: {BITRATE} bit/s (10 bits/octet), {} ms one-way latency",
        LATENCY.as_millis()
    );
    println!(
        "server requires PAP and assigns the client's address; up to {runs} runs each; times in ms, median [min..max]"
    );
    println!(
        "  up:   first LCP frame written -> IPCP up on both sides (ours: session events; pppd: its log, polled)"
    );
    println!("  line: first LCP frame written -> last control frame delivered by the cable");
    println!("  skew: between the two sides' first LCP frames (median, ms)");
    println!(
        "{:<18} {:>4} {:>7} {:>3} {:>3} {:>4} {:>7}  {:>16} {:>16} {:>6}",
        "client<->server", "runs", "frames", "LCP", "PAP", "IPCP", "octets", "up", "line", "skew"
    );
    for r in results {
        match &r.samples {
            Ok(s) => {
                let frames: Vec<usize> = s.iter().map(Sample::frames).collect();
                let (lo_f, hi_f) = min_max(&frames).unwrap();
                let med_f = median(&frames).unwrap();
                // Families of a run with the median frame count.
                let rep = s.iter().find(|x| x.frames() == med_f).unwrap();
                let all: Vec<String> = rep.server.iter().chain(&rep.client).cloned().collect();
                let frames_col = if lo_f == hi_f {
                    format!("{med_f}")
                } else {
                    format!("{med_f} [{lo_f}..{hi_f}]")
                };
                let up: Vec<Duration> = s.iter().map(|x| x.time).collect();
                let line: Vec<Duration> = s.iter().map(|x| x.line_time).collect();
                let octets = median(&s.iter().map(|x| x.octets).collect::<Vec<_>>()).unwrap();
                let skew = median(&s.iter().map(|x| x.skew).collect::<Vec<_>>()).unwrap();
                println!(
                    "{:<18} {:>4} {:>7} {} {:>7}  {:>16} {:>16} {:>6.1}",
                    r.name,
                    s.len(),
                    frames_col,
                    family_cols(&all),
                    octets,
                    spread(&up),
                    spread(&line),
                    skew.as_secs_f64() * 1e3,
                );
            }
            Err(why) => println!("{:<18} n/a ({why})", r.name),
        }
    }
    println!(
        "{:<18} {:>4} {:>7} {:>3} {:>3} {:>4}  {:>16}",
        "carrier in memory",
        "-",
        mem.0 + mem.1,
        "",
        "",
        "",
        format!("{:.1} us of CPU", mem_time.as_secs_f64() * 1e6)
    );

    println!();
    println!("Frames each side sent (first run):");
    for r in results {
        if let Ok(s) = &r.samples {
            let rep = &s[0];
            println!("  {}", r.name);
            println!("    server: {}", rep.server.join(", "));
            println!("    client: {}", rep.client.join(", "));
            let mut notes: Vec<&String> = s.iter().flat_map(|x| &x.notes).collect();
            notes.dedup();
            for n in notes {
                println!("    note: {n}");
            }
        }
    }

    println!();
    let get = |name: &str| {
        results
            .iter()
            .find(|r| r.name == name)
            .and_then(|r| r.samples.as_ref().ok())
    };
    let verdict = |ok: bool| if ok { "holds" } else { "DOES NOT HOLD" };
    match (get("carrier<->carrier"), get("pppd<->pppd")) {
        (Some(ours), Some(theirs)) => {
            let f = |s: &Vec<Sample>| {
                median(&s.iter().map(Sample::frames).collect::<Vec<_>>()).unwrap()
            };
            let (fo, ft) = (f(ours), f(theirs));
            println!(
                "Goal: carrier<->carrier needs no more frames and no more time than pppd<->pppd"
            );
            println!("  frames:     {fo} vs {ft} -> {}", verdict(fo <= ft));
            for (what, get) in [
                (
                    "time (up)",
                    (|x: &Sample| x.time) as fn(&Sample) -> Duration,
                ),
                ("time (line)", |x: &Sample| x.line_time),
            ] {
                let (to, tt) = (med_time(ours, get), med_time(theirs, get));
                println!(
                    "  {what:<11} {} vs {} (medians, {:+.1} ms) -> {}",
                    ms(to),
                    ms(tt),
                    (to.as_secs_f64() - tt.as_secs_f64()) * 1e3,
                    verdict(to <= tt)
                );
            }
        }
        _ => println!("Goal: not judged (pppd<->pppd not measured)"),
    }
}

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn main() {
    let mode = Mode::detect();
    let mut c = Criterion::default().configure_from_args();
    bench_in_memory(&mut c);
    c.final_summary();
    if common::listing() {
        return;
    }

    let mem = in_memory_pair();
    let mem_time = {
        let n = 200;
        let start = Instant::now();
        for _ in 0..n {
            std::hint::black_box(in_memory_pair());
        }
        start.elapsed() / n
    };

    let runs = mode.pick(1, 3, 5);
    println!();
    println!("linkup: {mode}");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let scratch =
        Scratch(std::env::temp_dir().join(format!("carrier-bench-linkup-{}", std::process::id())));
    let _ = fs::create_dir_all(&scratch.0);

    let mut results = vec![PairResult {
        name: "carrier<->carrier",
        samples: repeat(runs, |_| carrier_carrier(&rt)),
    }];
    let pppd_skip = if mode == Mode::Test {
        Some("skipped under cargo test: the VMs take seconds".to_string())
    } else {
        pppd::peer_available().err()
    };
    let mut gates = 0;
    for name in ["carrier<->pppd", "pppd<->carrier", "pppd<->pppd"] {
        let samples = match &pppd_skip {
            Some(why) => Err(why.clone()),
            None => repeat(runs, |_| {
                gates += 1;
                match name {
                    "carrier<->pppd" => carrier_pppd(&rt, &scratch.0, gates, false),
                    "pppd<->carrier" => carrier_pppd(&rt, &scratch.0, gates, true),
                    _ => pppd_pppd(&rt, &scratch.0, gates),
                }
            }),
        };
        results.push(PairResult { name, samples });
    }
    print_table(&results, runs, mem, mem_time);
    rt.shutdown_timeout(Duration::from_secs(1));
}
