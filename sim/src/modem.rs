//! A simulated modem: one task per PTY. Command state goes through the
//! interpreter, data state through the call's line, the control lines
//! through the control socket; calls come and go through the exchange.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::at::{Dial, Effect, Executed, Interpreter, ResultCode, Then};
use crate::cid::{self, CallingLine};
use crate::ctl::{self, CircuitState};
use crate::escape::Escape;
use crate::exchange::{Caller, Connection, Destination, Exchange, Offer, Progress, Route};
use crate::fault::FaultSpec;
use crate::line;
use crate::model::{self, Model};
use crate::pace::LineProfile;
use crate::port::PortEvent;

/// How one modem is set up.
#[derive(Clone, Debug, PartialEq)]
pub struct ModemSpec {
    pub model: &'static Model,
    /// Line speed in bit/s; the model's default if None.
    pub speed: Option<u32>,
    /// One-way delay of this modem's line.
    pub latency: Duration,
    /// Faults on every call this modem makes or answers.
    pub faults: FaultSpec,
    /// The stored profile (what ATZ recalls), e.g. `"S0=1 &D0"`.
    pub profile: Option<String>,
    /// The line's own number, which the modems it calls see as caller
    /// ID; None presents as private (`NMBR = P`).
    pub number: Option<String>,
    /// The name listed for the line, for the `NAME` item of caller ID.
    pub caller_name: Option<String>,
    /// Withhold number and name on every call (as with *67 or 141).
    pub withhold: bool,
}

impl Default for ModemSpec {
    fn default() -> Self {
        ModemSpec {
            model: model::default_model(),
            speed: None,
            latency: DEFAULT_LATENCY,
            faults: FaultSpec::default(),
            profile: None,
            number: None,
            caller_name: None,
            withhold: false,
        }
    }
}

impl ModemSpec {
    pub fn speed(&self) -> u32 {
        self.speed.unwrap_or(self.model.speed)
    }

    /// Who this line is to the lines it calls.
    pub fn calling_line(&self) -> CallingLine {
        if self.withhold {
            return CallingLine::default();
        }
        CallingLine {
            number: self
                .number
                .as_deref()
                .map(crate::exchange::normalize)
                .filter(|n| !n.is_empty()),
            name: self.caller_name.clone(),
        }
    }
}

/// A typical one-way delay through a pair of V.34 data pumps.
pub const DEFAULT_LATENCY: Duration = Duration::from_millis(40);

/// Bytes waiting for the DTE before the modem stops taking more from the
/// line; and the cap on command-state output (echo) to a DTE that does
/// not read.
const TO_DTE_LIMIT: usize = 4096;
const TO_DTE_CAP: usize = 65536;
/// Bytes from the DTE waiting for the line before the modem stops
/// reading the PTY.
const TO_LINE_LIMIT: usize = 1024;
/// Far-end bytes kept while in online command state.
const HELD_LIMIT: usize = 16384;

/// The channels a modem task runs on.
pub(crate) struct Io {
    pub port_in: mpsc::Receiver<PortEvent>,
    pub port_out: mpsc::Sender<Vec<u8>>,
    pub offers: mpsc::Receiver<Offer>,
    pub ctl: mpsc::Receiver<ctl::Request>,
    pub lines: watch::Sender<CircuitState>,
}

#[derive(Debug)]
enum State {
    /// On hook, command state.
    Idle,
    /// Off hook in command state (H1, or after dialing with `;`).
    OffHook,
    Dialing(Dialing),
    /// ATA without a call: waiting for a carrier until S7.
    Answering {
        until: Instant,
    },
    /// Connected, data state.
    Data,
    /// Connected, command state (after the escape).
    OnlineCommand,
}

#[derive(Debug)]
struct Dialing {
    stage: Stage,
    until: Instant,
    dial: Dial,
    number: String,
    route: Option<Route>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Listening for a dial tone that is not there; NO DIALTONE at the end.
    Dialtone,
    /// Sending the digits.
    Digits,
    /// Waiting for the far end until S7; this result if it never comes.
    Waiting(ResultCode),
}

struct Incoming {
    offer: Offer,
    next_ring: Instant,
    /// When the caller ID that followed the first ring is decoded.
    caller_id_at: Option<Instant>,
}

pub(crate) struct Modem {
    index: usize,
    name: String,
    spec: ModemSpec,
    exchange: Arc<Exchange>,
    at: Interpreter,
    state: State,
    call_r: Option<ReadHalf<DuplexStream>>,
    call_w: Option<WriteHalf<DuplexStream>>,
    call_speed: u32,
    to_dte: Vec<u8>,
    to_line: Vec<u8>,
    held: Vec<u8>,
    escape: Escape,
    progress: Option<oneshot::Receiver<Progress>>,
    incoming: Option<Incoming>,
    ri_off: Option<Instant>,
    dte_present: bool,
    /// DTR as each control-socket client sets it; any 0 holds it low.
    ctl_dtr: BTreeMap<u64, bool>,
    dtr: bool,
}

impl Modem {
    pub(crate) fn new(
        index: usize,
        spec: ModemSpec,
        at: Interpreter,
        exchange: Arc<Exchange>,
    ) -> Modem {
        Modem {
            index,
            name: format!("modem{index}"),
            spec,
            exchange,
            at,
            state: State::Idle,
            call_r: None,
            call_w: None,
            call_speed: 0,
            to_dte: Vec::new(),
            to_line: Vec::new(),
            held: Vec::new(),
            escape: Escape::new(Instant::now()),
            progress: None,
            incoming: None,
            ri_off: None,
            dte_present: false,
            ctl_dtr: BTreeMap::new(),
            dtr: false,
        }
    }

    pub(crate) fn lines(&self) -> CircuitState {
        CircuitState {
            dcd: self.at.settings().dcd_mode == 0 || self.call_r.is_some(),
            ri: self.ri_off.is_some(),
            dsr: true,
            cts: true,
            dtr: self.dtr,
        }
    }

    pub(crate) async fn run(mut self, mut io: Io) {
        let mut rbuf = vec![0u8; 512];
        loop {
            let deadline = self.next_deadline();
            let connected = self.call_r.is_some();
            let take_line =
                connected && self.to_dte.len() < TO_DTE_LIMIT && self.held.len() < HELD_LIMIT;
            let give_line = connected && !self.to_line.is_empty();
            let take_dte = self.to_line.len() < TO_LINE_LIMIT;
            tokio::select! {
                event = io.port_in.recv(), if take_dte => match event {
                    Some(event) => self.on_port(event),
                    None => return,
                },
                Some(offer) = io.offers.recv() => self.on_offer(offer),
                Some(request) = io.ctl.recv() => self.on_ctl(request, &io.lines),
                permit = io.port_out.reserve(), if !self.to_dte.is_empty() => match permit {
                    Ok(permit) => permit.send(std::mem::take(&mut self.to_dte)),
                    Err(_) => return,
                },
                n = read_call(self.call_r.as_mut(), &mut rbuf), if take_line => self.on_line_read(n, &rbuf),
                n = write_call(self.call_w.as_mut(), &self.to_line), if give_line => self.on_line_written(n),
                progress = wait_progress(self.progress.as_mut()), if self.progress.is_some() => self.on_progress(progress),
                () = caller_gone(self.incoming.as_mut()), if self.incoming.is_some() => self.on_caller_gone(),
                () = sleep_until(deadline), if deadline.is_some() => self.on_timer(),
            }
            publish(&io.lines, self.lines());
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let state = match &self.state {
            State::Dialing(d) => Some(d.until),
            State::Answering { until } => Some(*until),
            State::Data => self.escape.deadline(),
            _ => None,
        };
        [
            state,
            self.incoming.as_ref().map(|i| i.next_ring),
            self.incoming.as_ref().and_then(|i| i.caller_id_at),
            self.ri_off,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn scaled(&self, d: Duration) -> Duration {
        self.exchange.scale().apply(d)
    }

    fn secs(&self, s: u8) -> Duration {
        self.scaled(Duration::from_secs(u64::from(s)))
    }

    /// Queues output for the DTE, dropping what a DTE that does not read
    /// could never catch up with.
    fn emit(&mut self, bytes: &[u8]) {
        let room = TO_DTE_CAP.saturating_sub(self.to_dte.len());
        self.to_dte
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn result(&mut self, code: ResultCode) {
        let s = self.at.settings();
        let shown = code.at_level(s.x);
        if s.quiet {
            tracing::info!(modem = %self.name, result = %shown, "result (quiet)");
        } else {
            tracing::info!(modem = %self.name, result = %shown, "result");
        }
        let bytes = self.at.result(code);
        self.emit(&bytes);
    }

    fn on_port(&mut self, event: PortEvent) {
        match event {
            PortEvent::Dte(present) => {
                tracing::info!(modem = %self.name, "DTE {}", if present { "opened the port" } else { "closed the port" });
                self.dte_present = present;
                if !present {
                    self.at.clear_line();
                    self.to_dte.clear();
                }
                self.update_dtr();
            }
            PortEvent::Data(bytes) => self.on_dte_bytes(&bytes),
        }
    }

    fn on_dte_bytes(&mut self, bytes: &[u8]) {
        let now = Instant::now();
        let mut i = 0;
        while i < bytes.len() {
            match self.state {
                State::Data => {
                    let rest = &bytes[i..];
                    let s = &self.at.settings().s;
                    let guard = self.scaled(Duration::from_millis(20) * u32::from(s.guard_time()));
                    self.escape.feed(rest, now, s.escape_char(), guard);
                    self.to_line.extend_from_slice(rest);
                    return;
                }
                State::Dialing(_) | State::Answering { .. } => {
                    let b = bytes[i];
                    i += 1;
                    // Any key aborts a call in progress; a line feed
                    // after the command's CR is not a key.
                    if b == self.at.settings().s.cr() || b.is_ascii_graphic() || b == b' ' {
                        tracing::info!(modem = %self.name, "call attempt aborted by the DTE");
                        self.hang_up();
                        self.result(ResultCode::NoCarrier);
                    }
                }
                _ => {
                    let b = bytes[i];
                    i += 1;
                    let step = self.at.feed(b);
                    if step.echo {
                        self.emit(&[b]);
                    }
                    if let Some(done) = step.executed {
                        self.execute(done, now);
                    }
                }
            }
        }
    }

    fn execute(&mut self, done: Executed, now: Instant) {
        tracing::info!(modem = %self.name, command = %format!("AT{}", done.line), "command");
        self.emit(&done.text);
        for effect in &done.effects {
            match effect {
                Effect::Hangup => self.hang_up(),
                Effect::OffHook => {
                    if matches!(self.state, State::Idle) {
                        self.state = State::OffHook;
                    }
                }
            }
        }
        let online = matches!(self.state, State::OnlineCommand);
        match done.then {
            Then::Result(code) => self.result(code),
            Then::Dial(_) | Then::Answer if online => self.result(ResultCode::Error),
            Then::Dial(dial) => self.dial(dial, now),
            Then::Answer => {
                if self.incoming.is_some() {
                    self.answer(now);
                } else {
                    let until = now + self.secs(self.at.settings().s.carrier_wait_s());
                    self.state = State::Answering { until };
                }
            }
            Then::Online if online => {
                self.state = State::Data;
                self.escape = Escape::new(now);
                self.result(ResultCode::Connect(Some(self.call_speed)));
                let held = std::mem::take(&mut self.held);
                self.emit(&held);
            }
            Then::Online => self.result(ResultCode::NoCarrier),
        }
    }

    fn dial(&mut self, dial: Dial, now: Instant) {
        let (number, route) = self.exchange.resolve(&dial);
        tracing::info!(
            modem = %self.name,
            number = %number,
            dest = %route.as_ref().map_or("unrouted".to_string(), |r| r.dest.to_string()),
            "dialing"
        );
        let s = &self.at.settings().s;
        let detects = self.at.detects_dialtone(&dial);
        let no_tone = route
            .as_ref()
            .is_some_and(|r| r.dest == Destination::NoDialtone);
        let (stage, wait) = if no_tone && detects {
            (Stage::Dialtone, self.secs(s.dialtone_wait_s()))
        } else {
            // Without dial-tone detection the modem waits S6, then dials
            // blind.
            let blind = if detects {
                Duration::ZERO
            } else {
                self.secs(s.dialtone_wait_s())
            };
            let dtmf = Duration::from_millis(u64::from(s.dtmf_ms()));
            let comma = Duration::from_secs(u64::from(s.comma_pause_s()));
            (
                Stage::Digits,
                blind + self.scaled(dial.duration(dtmf, comma)),
            )
        };
        self.state = State::Dialing(Dialing {
            stage,
            until: now + wait,
            dial,
            number,
            route,
        });
    }

    fn on_timer(&mut self) {
        let now = Instant::now();
        if self.ri_off.is_some_and(|t| t <= now) {
            self.ri_off = None;
        }
        if self
            .incoming
            .as_ref()
            .and_then(|i| i.caller_id_at)
            .is_some_and(|t| t <= now)
        {
            self.caller_id();
        }
        if self.incoming.as_ref().is_some_and(|i| i.next_ring <= now) {
            self.ring(now);
        }
        match &mut self.state {
            State::Data if self.escape.poll(now) => {
                tracing::info!(modem = %self.name, "escape: online command state");
                self.state = State::OnlineCommand;
                self.result(ResultCode::Ok);
            }
            State::Answering { until } if *until <= now => {
                self.hang_up();
                self.result(ResultCode::NoCarrier);
            }
            State::Dialing(d) if d.until <= now => match d.stage {
                Stage::Dialtone => {
                    self.hang_up();
                    self.result(ResultCode::NoDialtone);
                }
                Stage::Waiting(code) => {
                    self.hang_up();
                    self.result(code);
                }
                Stage::Digits => self.dialed(now),
            },
            _ => {}
        }
    }

    /// The digits are out: stay in command state (`;`), or wait for the
    /// far end.
    fn dialed(&mut self, now: Instant) {
        let State::Dialing(d) = &mut self.state else {
            return;
        };
        if d.dial.stay_in_command {
            self.state = State::OffHook;
            self.result(ResultCode::Ok);
            return;
        }
        let s = &self.at.settings().s;
        let s7 = self
            .exchange
            .scale()
            .apply(Duration::from_secs(u64::from(s.carrier_wait_s())));
        d.until = now + s7;
        let blind_into_nothing = d
            .route
            .as_ref()
            .is_some_and(|r| r.dest == Destination::NoDialtone);
        if blind_into_nothing {
            d.stage = Stage::Waiting(ResultCode::NoCarrier);
            return;
        }
        d.stage = Stage::Waiting(ResultCode::NoAnswer);
        let caller = Caller {
            index: self.index,
            name: self.name.clone(),
            speed: self.spec.speed(),
            latency: self.spec.latency,
            faults: self.spec.faults.clone(),
            calling: self.spec.calling_line(),
        };
        let number = d.number.clone();
        let route = d.route.clone();
        self.progress = Some(self.exchange.place(&caller, number, route.as_ref()));
    }

    fn on_progress(&mut self, progress: Result<Progress, oneshot::error::RecvError>) {
        self.progress = None;
        match progress {
            Ok(Progress::Busy) => {
                self.hang_up();
                self.result(ResultCode::Busy);
            }
            Ok(Progress::Unobtainable) => {
                self.hang_up();
                self.result(ResultCode::NoCarrier);
            }
            Ok(Progress::Connected(conn)) => self.connected(conn),
            // Nobody will answer; S7 decides when the caller gives up.
            Err(_) => {}
        }
    }

    fn connected(&mut self, conn: Connection) {
        let (r, w) = tokio::io::split(conn.stream);
        self.call_r = Some(r);
        self.call_w = Some(w);
        self.call_speed = conn.speed;
        self.state = State::Data;
        self.escape = Escape::new(Instant::now());
        self.result(ResultCode::Connect(Some(conn.speed)));
    }

    fn on_offer(&mut self, offer: Offer) {
        if !matches!(self.state, State::Idle) || self.incoming.is_some() {
            tracing::info!(modem = %self.name, call = offer.info.call, "incoming call while busy");
            let _ = offer.reply.send(Progress::Busy);
            return;
        }
        tracing::info!(modem = %self.name, call = offer.info.call, from = %offer.info.caller, "incoming call");
        self.at.set_ring_count(0);
        self.incoming = Some(Incoming {
            offer,
            next_ring: Instant::now(),
            caller_id_at: None,
        });
    }

    fn ring(&mut self, now: Instant) {
        let timing = self.exchange.timing();
        let cadence = self.scaled(timing.ring_cadence);
        let ring_on = self.scaled(timing.ring_on());
        if let Some(incoming) = &mut self.incoming {
            incoming.next_ring = now + cadence;
        }
        let count = self.at.settings().s.ring_count().saturating_add(1);
        self.at.set_ring_count(count);
        if count == 1 {
            // The exchange sends the caller's identity in the silence after
            // the first ring: at least 500 ms after it ends, done well
            // before the second (Bellcore GR-30). A quarter of the way
            // into the silence.
            if let Some(incoming) = &mut self.incoming {
                incoming.caller_id_at = Some(now + ring_on + (cadence.saturating_sub(ring_on)) / 4);
            }
        }
        self.ri_off = Some(now + ring_on);
        self.result(ResultCode::Ring);
        let s0 = self.at.settings().s.rings_to_answer();
        // &D2 and &D3 keep the modem from answering while DTR is off.
        let may_answer = self.dtr || self.at.settings().dtr_mode < 2;
        if s0 > 0 && count >= s0 && may_answer {
            self.answer(now);
        }
    }

    /// The caller ID of the ringing call, if the DTE asked for it (+VCID=1
    /// or #CID=1); once per call. A call answered before it arrives never
    /// gets it, as on a real line.
    fn caller_id(&mut self) {
        let Some(incoming) = &mut self.incoming else {
            return;
        };
        incoming.caller_id_at = None;
        let calling = incoming.offer.info.calling.clone();
        let call = incoming.offer.info.call;
        let s = self.at.settings();
        if !s.caller_id || s.quiet {
            return;
        }
        tracing::info!(
            modem = %self.name,
            call,
            number = calling.number.as_deref().unwrap_or("P"),
            "caller ID"
        );
        let block = cid::block(&calling, std::time::SystemTime::now(), s.s.cr(), s.s.lf());
        self.emit(&block);
    }

    fn answer(&mut self, now: Instant) {
        let Some(incoming) = self.incoming.take() else {
            return;
        };
        self.ri_off = None;
        let offer = incoming.offer;
        let speed = offer.info.speed.min(self.spec.speed());
        let profile = LineProfile {
            bitrate: Some(speed),
            latency: offer.caller_profile.latency.max(self.spec.latency),
        };
        let faults = offer.faults.or(&self.spec.faults);
        let spec = self.exchange.line_spec(profile, faults, offer.info.call);
        let (caller_end, my_end) = line::connect(spec);
        let reply = Progress::Connected(Connection {
            stream: caller_end,
            speed,
        });
        if offer.reply.send(reply).is_err() {
            tracing::info!(modem = %self.name, "the caller hung up before the answer");
            self.result(ResultCode::NoCarrier);
            return;
        }
        tracing::info!(modem = %self.name, call = offer.info.call, "answered");
        self.escape = Escape::new(now);
        self.connected(Connection {
            stream: my_end,
            speed,
        });
    }

    fn on_caller_gone(&mut self) {
        tracing::info!(modem = %self.name, "the caller hung up; ringing stops");
        self.incoming = None;
        self.ri_off = None;
    }

    fn on_line_read(&mut self, n: std::io::Result<usize>, buf: &[u8]) {
        match n {
            Ok(n) if n > 0 => {
                if matches!(self.state, State::OnlineCommand) {
                    self.held.extend_from_slice(&buf[..n]);
                } else {
                    self.emit(&buf[..n]);
                }
            }
            _ => {
                tracing::info!(modem = %self.name, "carrier lost");
                self.hang_up();
                self.result(ResultCode::NoCarrier);
            }
        }
    }

    fn on_line_written(&mut self, n: std::io::Result<usize>) {
        match n {
            Ok(n) => {
                self.to_line.drain(..n);
            }
            // The far end is gone; reading will say so.
            Err(_) => self.to_line.clear(),
        }
    }

    /// On hook: ends a call, a call attempt, or an off-hook wait.
    fn hang_up(&mut self) {
        if self.call_r.is_some() {
            tracing::info!(modem = %self.name, "hang up");
        }
        self.call_r = None;
        self.call_w = None;
        self.progress = None;
        self.to_line.clear();
        self.held.clear();
        self.state = State::Idle;
    }

    fn on_ctl(&mut self, request: ctl::Request, lines: &watch::Sender<CircuitState>) {
        match request.command {
            Some(ctl::Command::Dtr(level)) => {
                self.ctl_dtr.insert(request.client, level);
            }
            Some(ctl::Command::Rts(_) | ctl::Command::Get) => {}
            None => {
                self.ctl_dtr.remove(&request.client);
            }
        }
        self.update_dtr();
        let now = self.lines();
        publish(lines, now);
        if let Some(reply) = request.reply {
            let _ = reply.send(now);
        }
    }

    fn update_dtr(&mut self) {
        let dtr = self.dte_present && self.ctl_dtr.values().all(|v| *v);
        if dtr == self.dtr {
            return;
        }
        self.dtr = dtr;
        tracing::info!(modem = %self.name, dtr, "DTR");
        if !dtr {
            self.dtr_dropped();
        }
    }

    /// What a DTR drop does, after &D as Hayes defines it.
    fn dtr_dropped(&mut self) {
        let active = !matches!(self.state, State::Idle);
        match self.at.settings().dtr_mode {
            0 => {}
            1 => {
                if matches!(self.state, State::Data) {
                    self.state = State::OnlineCommand;
                    self.result(ResultCode::Ok);
                }
            }
            2 => {
                if active {
                    self.hang_up();
                    self.result(ResultCode::Ok);
                }
            }
            _ => {
                if active {
                    self.hang_up();
                }
                self.at.reset();
                if active {
                    self.result(ResultCode::Ok);
                }
            }
        }
    }
}

fn publish(lines: &watch::Sender<CircuitState>, now: CircuitState) {
    lines.send_if_modified(|l| {
        let changed = *l != now;
        *l = now;
        changed
    });
}

async fn read_call(
    r: Option<&mut ReadHalf<DuplexStream>>,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    match r {
        Some(r) => r.read(buf).await,
        None => std::future::pending().await,
    }
}

async fn write_call(
    w: Option<&mut WriteHalf<DuplexStream>>,
    bytes: &[u8],
) -> std::io::Result<usize> {
    match w {
        Some(w) => w.write(bytes).await,
        None => std::future::pending().await,
    }
}

async fn wait_progress(
    p: Option<&mut oneshot::Receiver<Progress>>,
) -> Result<Progress, oneshot::error::RecvError> {
    match p {
        Some(p) => p.await,
        None => std::future::pending().await,
    }
}

async fn caller_gone(incoming: Option<&mut Incoming>) {
    match incoming {
        Some(i) => i.offer.reply.closed().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
