//! Waiting for a call and answering it.
//!
//! Two ways: count the RINGs ourselves and send ATA (S0=0, the modem never
//! answers on its own: nothing is answered unless this program is
//! running), or let the modem answer after S0 rings (V.250 §6.3.8) and
//! wait for its CONNECT. A call that does not connect (the caller gives
//! up, NO CARRIER, no CONNECT in time) is logged and waiting goes on;
//! only the modem failing, or the overall `ring_timeout`, ends the wait.
//!
//! With [`AnswerOptions::allowed_callers`] set, calls are screened by
//! caller ID ([`super::screen`]): the modem is told to deliver it
//! (`AT+VCID=1`, else Rockwell's `AT#CID=1`), and a call is answered only
//! once its NMBR is known and allowed, at the ring count or later. A call
//! whose number is not allowed, withheld, or missing by the second RING
//! is refused: never answered (the modem stays on-hook), reported, and
//! its further RINGs ignored until the ring gap passes or a new caller ID
//! block starts a new call. Only counting rings can screen: a modem that
//! answers by itself (S0) goes off-hook at its ring, before any caller ID.

use std::time::Duration;

use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use super::at::{AtPort, ModemError};
use super::reader::ModemOutput;
use super::result::{CallerIdField, Connect, ResultCode, Unsolicited};
use super::screen::{AllowedCallers, RefuseReason, Verdict};

/// How long the modem gets to give up a call we abandon.
const ABORT_WAIT: Duration = Duration::from_secs(3);
/// With no overall limit, how long one wait for a line lasts before it
/// is simply started again.
const IDLE_SLICE: Duration = Duration::from_secs(3600);
/// Caller ID fields kept for one call (a real one has four or five); a
/// modem that sends more is not believed, and the rest are counted and
/// dropped so that memory stays bounded.
const MAX_CALLER_ID: usize = 16;
/// Caller ID comes between the first and the second RING (Bellcore
/// GR-30, ETSI EN 300 659-1): by this RING it is missing.
const CALLER_ID_BY_RING: u32 = 2;
/// The commands that turn caller ID delivery on, tried in order: IS-101
/// (V.253) and the Rockwell command set.
const CALLER_ID_ON: [&str; 2] = ["AT+VCID=1", "AT#CID=1"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerMode {
    /// ATS0=0; we send ATA after this many RINGs (0 is taken as 1).
    CountRings(u8),
    /// ATS0=n: the modem answers by itself after n rings (0 is taken as 1;
    /// S0=0 would never answer).
    ModemAnswers(u8),
}

#[derive(Clone, Debug)]
pub struct AnswerOptions {
    pub mode: AnswerMode,
    /// How long to wait for a call that connects; None waits for ever.
    /// Bounds everything, endless ringing included.
    pub ring_timeout: Option<Duration>,
    /// From answering (ATA, or the modem's own answer) to CONNECT.
    pub connect_timeout: Duration,
    /// RINGs further apart than this belong to different calls: the
    /// caller gave up and the count starts again. Ring cadence is 6 s in
    /// North America and most of Europe (4-5 s elsewhere).
    pub ring_gap: Duration,
    /// How long a setup command (ATS0=n) may take.
    pub command_timeout: Duration,
    /// Answer only these callers (see [`super::screen`]); no list
    /// answers everyone. Needs [`AnswerMode::CountRings`] and a modem
    /// that delivers caller ID.
    pub allowed_callers: AllowedCallers,
}

impl Default for AnswerOptions {
    fn default() -> Self {
        AnswerOptions {
            mode: AnswerMode::CountRings(1),
            ring_timeout: None,
            connect_timeout: Duration::from_secs(60),
            ring_gap: Duration::from_secs(10),
            command_timeout: Duration::from_secs(5),
            allowed_callers: AllowedCallers::default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnswerEvent {
    /// The `count`-th RING of this call.
    Ring {
        count: u32,
    },
    CallerId {
        field: CallerIdField,
        value: String,
    },
    /// ATA sent, or the modem answering by itself.
    Answering,
    /// This call did not connect; waiting for the next one.
    Failed {
        reason: String,
    },
    /// Screened out by caller ID: not answered; waiting for the next call.
    Refused {
        /// The caller's number, when it presented one.
        number: Option<String>,
        reason: RefuseReason,
        /// Calls refused since [`wait_for_call`] was called, this one
        /// included.
        refused: u64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answered {
    pub connect: Connect,
    /// RINGs of the call that connected.
    pub rings: u32,
    /// Caller ID fields, when the modem delivers them (AT+VCID=1).
    pub caller_id: Vec<(CallerIdField, String)>,
    /// The caller's number (the last NMBR); when screening, the allowed
    /// number, as digits.
    pub caller: Option<String>,
    /// Calls refused by caller ID before this one.
    pub refused: u64,
    /// Since [`wait_for_call`] was called.
    pub elapsed: Duration,
}

#[derive(Debug, Error)]
pub enum AnswerError {
    #[error("no call connected within {waited:.1?}")]
    NoCall { waited: Duration },
    #[error("the modem answered {result} to {cmd}")]
    Refused { cmd: String, result: ResultCode },
    #[error(
        "callers are screened by caller ID, but the modem delivers none \
         (AT+VCID=1: {vcid}, AT#CID=1: {cid}): not answering"
    )]
    NoCallerId { vcid: ResultCode, cid: ResultCode },
    #[error(
        "callers cannot be screened when the modem answers by itself: it goes \
         off-hook before the caller ID arrives; count rings instead"
    )]
    ScreeningNeedsRingCount,
    #[error(
        "the modem answered a call by itself (CONNECT without ATA) while callers \
         are screened: the caller was not checked"
    )]
    Unscreened,
    #[error(transparent)]
    Modem(#[from] ModemError),
}

/// One call's progress.
#[derive(Default)]
struct Call {
    rings: u32,
    /// The last RING or caller ID item: the ring gap runs from here.
    last_heard: Option<Instant>,
    /// When the modem started answering by itself (ModemAnswers).
    answering: Option<Instant>,
    caller_id: Vec<(CallerIdField, String)>,
    /// Caller ID fields past [`MAX_CALLER_ID`].
    caller_id_dropped: u64,
    /// The last NMBR, as the modem gave it.
    number: Option<String>,
    /// A RING came after the last NMBR: a new caller ID block is then a
    /// new call (its RING was that call's first).
    ring_since_number: bool,
    screen: Screen,
}

/// Where screening stands for one call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum Screen {
    /// No verdict yet (or no screening).
    #[default]
    Waiting,
    /// Every NMBR of the call was allowed; this is the number.
    Cleared(String),
    /// Never answered; its RINGs are ignored.
    Refused,
}

impl Call {
    /// A call that begins with a caller ID block: the RING just before
    /// the block was its first.
    fn from_block(now: Instant) -> Call {
        Call {
            rings: 1,
            last_heard: Some(now),
            ..Call::default()
        }
    }

    /// Whether caller ID item `field` starts another call's block rather
    /// than continuing this one's: DATE or NMBR once this call has its
    /// number and has rung again, or once it was refused without one.
    fn is_new_block(&self, field: &CallerIdField) -> bool {
        let starts = matches!(field, CallerIdField::Date | CallerIdField::Number);
        let done = match self.number {
            Some(_) => self.ring_since_number,
            None => self.screen == Screen::Refused,
        };
        starts && done
    }
}

/// The screening side of [`wait_for_call`]: the lists and the running
/// count of refusals.
struct Screener<'a> {
    allowed: &'a AllowedCallers,
    refused: u64,
}

impl Screener<'_> {
    fn on(&self) -> bool {
        self.allowed.is_restricted()
    }

    fn refuse(
        &mut self,
        call: &mut Call,
        on: &mut impl FnMut(AnswerEvent),
        number: Option<String>,
        reason: RefuseReason,
    ) {
        self.refused += 1;
        tracing::warn!(
            number = number.as_deref().unwrap_or("-"),
            %reason,
            refused = self.refused,
            "call refused by caller ID: not answering"
        );
        call.screen = Screen::Refused;
        on(AnswerEvent::Refused {
            number,
            reason,
            refused: self.refused,
        });
    }

    /// Judges an NMBR of `call`. A second NMBR in the same block must be
    /// allowed too: a call is cleared only if all of them are.
    fn judge(&mut self, call: &mut Call, on: &mut impl FnMut(AnswerEvent), value: &str) {
        if !self.on() || call.screen == Screen::Refused {
            return;
        }
        match self.allowed.judge(value) {
            Verdict::Allowed(n) => match &call.screen {
                Screen::Cleared(before) if *before != n => {
                    self.refuse(call, on, Some(n), RefuseReason::Conflicting)
                }
                _ => call.screen = Screen::Cleared(n),
            },
            Verdict::Refused { number, reason } => self.refuse(call, on, number, reason),
        }
    }
}

/// Sets S0 for `mode` (and caller ID delivery when screening) and waits
/// until a call connects. On success the modem is in data state:
/// `at.into_data()` gives the port.
pub async fn wait_for_call<P>(
    at: &mut AtPort<P>,
    opts: &AnswerOptions,
    mut on: impl FnMut(AnswerEvent),
) -> Result<Answered, AnswerError>
where
    P: AsyncRead + AsyncWrite + Unpin,
{
    let start = Instant::now();
    let overall = opts.ring_timeout.map(|d| crate::deadline_after(start, d));
    let mut screener = Screener {
        allowed: &opts.allowed_callers,
        refused: 0,
    };
    if screener.on() && matches!(opts.mode, AnswerMode::ModemAnswers(_)) {
        return Err(AnswerError::ScreeningNeedsRingCount);
    }
    let s0 = match opts.mode {
        AnswerMode::CountRings(_) => 0,
        AnswerMode::ModemAnswers(n) => n.max(1),
    };
    let cmd = format!("ATS0={s0}");
    let r = at.command(&cmd, opts.command_timeout).await?;
    if r.result != ResultCode::Ok {
        return Err(AnswerError::Refused {
            cmd,
            result: r.result,
        });
    }
    if screener.on() {
        caller_id_on(at, opts.command_timeout).await?;
    }
    tracing::info!(mode = ?opts.mode, screening = screener.on(), "waiting for a call");

    // RINGs that came while we set up belong to this call: next_line
    // hands them over first.
    let mut call = Call::default();
    loop {
        let line = {
            let now = Instant::now();
            let call_deadline = match (call.answering, call.last_heard) {
                (Some(t), _) => Some(crate::deadline_after(t, opts.connect_timeout)),
                (None, Some(t)) => Some(crate::deadline_after(t, opts.ring_gap)),
                (None, None) => None,
            };
            let until = [call_deadline, overall]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or_else(|| crate::deadline_after(now, IDLE_SLICE));
            match at.next_line(until.saturating_duration_since(now)).await {
                Ok(line) => line,
                Err(ModemError::Timeout { .. }) => {
                    if overall.is_some_and(|o| Instant::now() >= o) {
                        if call.answering.is_some() {
                            let _ = at.abort_call(ABORT_WAIT.min(opts.connect_timeout)).await;
                        }
                        return Err(AnswerError::NoCall {
                            waited: start.elapsed(),
                        });
                    }
                    if call.answering.is_some() {
                        let _ = at.abort_call(ABORT_WAIT.min(opts.connect_timeout)).await;
                        fail(&mut call, &mut on, "the modem answered but no CONNECT came");
                    } else if call.screen == Screen::Refused {
                        tracing::debug!("the refused call stopped ringing");
                        call = Call::default();
                    } else if call.rings > 0 {
                        fail(&mut call, &mut on, "the caller hung up while ringing");
                    } else {
                        // Caller ID without a RING: nothing to answer.
                        call = Call::default();
                    }
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let now = Instant::now();
        match line {
            ModemOutput::Unsolicited(Unsolicited::Ring { .. }) if call.screen == Screen::Refused => {
                call.last_heard = Some(now);
                call.ring_since_number = true;
                tracing::debug!("RING of a refused call: ignored");
            }
            ModemOutput::Unsolicited(Unsolicited::Ring { .. }) => {
                call.rings += 1;
                call.last_heard = Some(now);
                call.ring_since_number = true;
                on(AnswerEvent::Ring { count: call.rings });
                match opts.mode {
                    AnswerMode::CountRings(_) if screener.on() => {
                        if call.screen == Screen::Waiting && call.rings >= CALLER_ID_BY_RING {
                            screener.refuse(&mut call, &mut on, None, RefuseReason::NoCallerId);
                        } else if let Some(connect) =
                            answer_if_due(at, opts, &mut call, &mut on).await?
                        {
                            return Ok(done(call, connect, start, screener.refused));
                        }
                    }
                    AnswerMode::CountRings(_) => {
                        if let Some(connect) = answer_if_due(at, opts, &mut call, &mut on).await? {
                            return Ok(done(call, connect, start, screener.refused));
                        }
                    }
                    AnswerMode::ModemAnswers(n)
                        if call.answering.is_none() && call.rings >= u32::from(n.max(1)) =>
                    {
                        call.answering = Some(now);
                        on(AnswerEvent::Answering);
                    }
                    AnswerMode::ModemAnswers(_) => {}
                }
            }
            ModemOutput::Unsolicited(Unsolicited::CallerId { field, value }) => {
                if call.is_new_block(&field) && call.answering.is_none() {
                    tracing::debug!("a new caller ID block: a new call");
                    call = Call::from_block(now);
                }
                if call.caller_id.len() >= MAX_CALLER_ID {
                    call.caller_id_dropped += 1;
                    tracing::debug!(
                        dropped = call.caller_id_dropped,
                        "too many caller ID fields for one call: dropped"
                    );
                    continue;
                }
                tracing::info!(?field, %value, "caller ID");
                call.last_heard = Some(now);
                call.caller_id.push((field.clone(), value.clone()));
                let is_number = field == CallerIdField::Number;
                on(AnswerEvent::CallerId {
                    field,
                    value: value.clone(),
                });
                if is_number && call.answering.is_none() {
                    call.number = Some(value.clone());
                    call.ring_since_number = false;
                    screener.judge(&mut call, &mut on, &value);
                    if screener.on() && matches!(opts.mode, AnswerMode::CountRings(_)) {
                        if let Some(connect) = answer_if_due(at, opts, &mut call, &mut on).await? {
                            return Ok(done(call, connect, start, screener.refused));
                        }
                    }
                }
            }
            // The modem answered by itself (S0 > 0): unless we screen,
            // and then it went off-hook without asking us.
            ModemOutput::Result(ResultCode::Connect(_)) if screener.on() => {
                return Err(AnswerError::Unscreened);
            }
            ModemOutput::Result(ResultCode::Connect(connect)) => {
                return Ok(done(call, connect, start, screener.refused));
            }
            ModemOutput::Result(ResultCode::NoCarrier) => {
                fail(&mut call, &mut on, "NO CARRIER");
            }
            other => tracing::debug!(line = ?other, "while waiting for a call"),
        }
    }
}

/// Turns caller ID delivery on, in the first syntax the modem takes.
/// Neither: screening cannot work, and nothing may be answered.
async fn caller_id_on<P>(at: &mut AtPort<P>, timeout: Duration) -> Result<(), AnswerError>
where
    P: AsyncRead + AsyncWrite + Unpin,
{
    let [vcid_cmd, cid_cmd] = CALLER_ID_ON;
    let vcid = at.command(vcid_cmd, timeout).await?.result;
    if vcid == ResultCode::Ok {
        tracing::info!(cmd = vcid_cmd, "caller ID delivery on");
        return Ok(());
    }
    tracing::info!(cmd = vcid_cmd, result = %vcid, "caller ID command refused");
    let cid = at.command(cid_cmd, timeout).await?.result;
    if cid == ResultCode::Ok {
        tracing::info!(cmd = cid_cmd, "caller ID delivery on");
        return Ok(());
    }
    Err(AnswerError::NoCallerId { vcid, cid })
}

/// In [`AnswerMode::CountRings`], answers once the call has rung often
/// enough and, when screening, its caller is cleared. Some(connect) if
/// it connected.
async fn answer_if_due<P>(
    at: &mut AtPort<P>,
    opts: &AnswerOptions,
    call: &mut Call,
    on: &mut impl FnMut(AnswerEvent),
) -> Result<Option<Connect>, AnswerError>
where
    P: AsyncRead + AsyncWrite + Unpin,
{
    let AnswerMode::CountRings(n) = opts.mode else {
        return Ok(None);
    };
    let cleared = matches!(call.screen, Screen::Cleared(_));
    if call.rings < u32::from(n.max(1)) || (opts.allowed_callers.is_restricted() && !cleared) {
        return Ok(None);
    }
    on(AnswerEvent::Answering);
    let connect = answer(at, opts, call, on).await?;
    if connect.is_none() {
        // RINGs between ATA and its failure were this call's.
        at.take_unsolicited();
    }
    Ok(connect)
}

/// ATA; Some(connect) if it connected, None if this call failed.
async fn answer<P>(
    at: &mut AtPort<P>,
    opts: &AnswerOptions,
    call: &mut Call,
    on: &mut impl FnMut(AnswerEvent),
) -> Result<Option<Connect>, AnswerError>
where
    P: AsyncRead + AsyncWrite + Unpin,
{
    tracing::info!(rings = call.rings, "answering");
    match at.command("ATA", opts.connect_timeout).await {
        Ok(r) => match r.result {
            ResultCode::Connect(c) => Ok(Some(c)),
            ResultCode::Error => Err(AnswerError::Refused {
                cmd: "ATA".into(),
                result: ResultCode::Error,
            }),
            other => {
                fail(call, on, &other.to_string());
                Ok(None)
            }
        },
        Err(ModemError::Timeout { .. }) => {
            let _ = at.abort_call(ABORT_WAIT.min(opts.connect_timeout)).await;
            fail(call, on, "no CONNECT after ATA");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

fn fail(call: &mut Call, on: &mut impl FnMut(AnswerEvent), reason: &str) {
    tracing::info!(
        rings = call.rings,
        reason,
        "call did not connect; waiting again"
    );
    on(AnswerEvent::Failed {
        reason: reason.to_owned(),
    });
    *call = Call::default();
}

fn done(call: Call, connect: Connect, start: Instant, refused: u64) -> Answered {
    let caller = match call.screen {
        Screen::Cleared(n) => Some(n),
        _ => call.number,
    };
    tracing::info!(
        rings = call.rings,
        connect = %ResultCode::Connect(connect.clone()),
        caller = caller.as_deref().unwrap_or("-"),
        caller_id_dropped = call.caller_id_dropped,
        "call answered"
    );
    Answered {
        connect,
        rings: call.rings,
        caller_id: call.caller_id,
        caller,
        refused,
        elapsed: start.elapsed(),
    }
}

/// Before waiting for calls: the stored profile, then verbose results.
pub fn default_init() -> Vec<String> {
    vec!["ATZ".into(), super::at::VERBOSE_RESULTS.into()]
}

/// After a call: the stored profile (ATZ), then S0=0 so that the modem
/// answers nothing by itself until this program waits for a call again.
pub async fn reset_idle<P>(at: &mut AtPort<P>, timeout: Duration) -> Result<(), ModemError>
where
    P: AsyncRead + AsyncWrite + Unpin,
{
    at.ok("ATZ", timeout).await?;
    at.ok("ATS0=0", timeout).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modem::reader::ReaderConfig;
    use crate::modem::screen::Pattern;
    use crate::modem::test_util::read_cmd;
    use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream};

    fn opts(mode: AnswerMode) -> AnswerOptions {
        AnswerOptions {
            mode,
            ring_timeout: Some(Duration::from_secs(5)),
            connect_timeout: Duration::from_millis(300),
            ring_gap: Duration::from_millis(100),
            command_timeout: Duration::from_millis(300),
            allowed_callers: AllowedCallers::default(),
        }
    }

    /// Counting `mode`'s rings, answering only `allowed`.
    fn screened(mode: AnswerMode, allowed: &[&str]) -> AnswerOptions {
        let mut o = opts(mode);
        // Room for a loaded machine between the rings of one call.
        o.ring_gap = Duration::from_millis(150);
        let list = allowed.iter().map(|a| Pattern::parse(a).unwrap()).collect();
        o.allowed_callers.require("--allow-caller", list);
        o
    }

    /// The modem's side of a screening setup: S0=0, then caller ID on.
    async fn screening_setup(m: &mut DuplexStream) {
        assert_eq!(read_cmd(m).await, "ATS0=0");
        m.write_all(b"\r\nOK\r\n").await.unwrap();
        assert_eq!(read_cmd(m).await, "AT+VCID=1");
        m.write_all(b"\r\nOK\r\n").await.unwrap();
    }

    /// The caller ID block a modem prints after the first RING.
    fn block(number: &str) -> Vec<u8> {
        format!("\r\nDATE = 0321\r\nTIME = 1405\r\nNMBR = {number}\r\n").into_bytes()
    }

    async fn send(m: &mut DuplexStream, bytes: &[u8]) {
        m.write_all(bytes).await.unwrap();
    }

    async fn ring(m: &mut DuplexStream) {
        send(m, b"\r\nRING\r\n").await;
    }

    /// carrier writes nothing to the modem for `d`.
    async fn silent_for(m: &mut DuplexStream, d: Duration) {
        let mut b = [0u8; 64];
        if let Ok(r) = tokio::time::timeout(d, m.read(&mut b)).await {
            let n = r.unwrap();
            panic!(
                "carrier wrote {:?} when it should wait",
                String::from_utf8_lossy(&b[..n])
            );
        }
    }

    /// Everything carrier writes until it lets go of the port.
    async fn rest(mut m: DuplexStream) -> String {
        let mut all = Vec::new();
        m.read_to_end(&mut all).await.unwrap();
        String::from_utf8_lossy(&all).into_owned()
    }

    fn refusals(events: &[AnswerEvent]) -> Vec<(Option<String>, &'static str, u64)> {
        events
            .iter()
            .filter_map(|e| match e {
                AnswerEvent::Refused {
                    number,
                    reason,
                    refused,
                } => Some((number.clone(), reason.code(), *refused)),
                _ => None,
            })
            .collect()
    }

    #[tokio::test]
    async fn an_allowed_caller_is_answered_once_its_number_is_known() {
        let (a, mut m) = duplex(4096);
        let mut at = AtPort::new(a, ReaderConfig::default());
        let modem = tokio::spawn(async move {
            screening_setup(&mut m).await;
            ring(&mut m).await;
            // The first ring is enough, but not before the caller ID.
            silent_for(&mut m, Duration::from_millis(60)).await;
            send(&mut m, &block("555-0142")).await;
            assert_eq!(read_cmd(&mut m).await, "ATA");
            send(&mut m, b"\r\nCONNECT 33600\r\n").await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        });
        let mut events = Vec::new();
        let got = wait_for_call(
            &mut at,
            &screened(AnswerMode::CountRings(1), &["5550142"]),
            |e| events.push(e),
        )
        .await
        .unwrap();
        assert_eq!(got.caller.as_deref(), Some("5550142"), "as digits");
        assert_eq!(got.rings, 1);
        assert_eq!(got.refused, 0);
        assert_eq!(got.caller_id.len(), 3);
        assert!(refusals(&events).is_empty(), "{events:?}");
        let answering = events.iter().position(|e| *e == AnswerEvent::Answering);
        let number = events.iter().position(|e| {
            matches!(
                e,
                AnswerEvent::CallerId {
                    field: CallerIdField::Number,
                    ..
                }
            )
        });
        assert!(number.unwrap() < answering.unwrap(), "{events:?}");
        modem.await.unwrap();
    }

    #[tokio::test]
    async fn a_caller_not_on_the_list_is_never_answered() {
        let (a, mut m) = duplex(4096);
        let mut at = AtPort::new(a, ReaderConfig::default());
        let modem = tokio::spawn(async move {
            screening_setup(&mut m).await;
            ring(&mut m).await;
            send(&mut m, &block("5559999")).await;
            send(&mut m, b"\r\nNAME = MALLORY\r\n").await;
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_millis(40)).await;
                ring(&mut m).await;
            }
            rest(m).await
        });
        let mut o = screened(AnswerMode::CountRings(1), &["5550142"]);
        o.ring_timeout = Some(Duration::from_millis(600));
        let mut events = Vec::new();
        let e = wait_for_call(&mut at, &o, |e| events.push(e))
            .await
            .unwrap_err();
        assert!(matches!(e, AnswerError::NoCall { .. }), "{e}");
        drop(at);
        let written = modem.await.unwrap();
        assert!(!written.contains("ATA"), "carrier answered: {written:?}");
        assert_eq!(written, "", "nothing at all after the setup");
        assert_eq!(
            refusals(&events),
            vec![(Some("5559999".into()), "not-allowed", 1)]
        );
        let rings = events
            .iter()
            .filter(|e| matches!(e, AnswerEvent::Ring { .. }))
            .count();
        assert_eq!(
            rings, 1,
            "the refused call's further RINGs are ignored: {events:?}"
        );
        assert!(!events.contains(&AnswerEvent::Answering));
    }

    #[tokio::test]
    async fn withheld_missing_and_garbage_caller_id_are_refused() {
        let (a, mut m) = duplex(16384);
        let mut at = AtPort::new(a, ReaderConfig::default());
        let gap = Duration::from_millis(350);
        let modem = tokio::spawn(async move {
            screening_setup(&mut m).await;
            // Withheld.
            ring(&mut m).await;
            send(&mut m, &block("P")).await;
            tokio::time::sleep(Duration::from_millis(40)).await;
            ring(&mut m).await;
            tokio::time::sleep(gap).await;
            // No caller ID at all by the second ring.
            ring(&mut m).await;
            tokio::time::sleep(Duration::from_millis(40)).await;
            ring(&mut m).await;
            tokio::time::sleep(gap).await;
            // A date and a time but no number.
            ring(&mut m).await;
            send(&mut m, b"\r\nDATE = 0321\r\nTIME = 1405\r\n").await;
            ring(&mut m).await;
            tokio::time::sleep(gap).await;
            // Garbage, in a flood: one refusal, nothing stalls.
            ring(&mut m).await;
            send(&mut m, &block("55\x01x;\x1b[2J")).await;
            for _ in 0..100 {
                send(&mut m, b"\r\nNMBR = 5550142\r\n").await;
            }
            send(&mut m, b"\r\nNMBR =\r\n\r\nNMBR\r\n\xff\xfe\r\n").await;
            tokio::time::sleep(gap).await;
            // Unavailable (out of area), then an empty number.
            ring(&mut m).await;
            send(&mut m, &block("O")).await;
            tokio::time::sleep(gap).await;
            ring(&mut m).await;
            send(&mut m, b"\r\nNMBR = \r\n").await;
            rest(m).await
        });
        let mut o = screened(AnswerMode::CountRings(1), &["*"]);
        o.ring_timeout = Some(Duration::from_millis(2600));
        let mut events = Vec::new();
        let e = wait_for_call(&mut at, &o, |e| events.push(e))
            .await
            .unwrap_err();
        assert!(matches!(e, AnswerError::NoCall { .. }), "{e}");
        drop(at);
        let written = modem.await.unwrap();
        assert_eq!(written, "", "no ATA, nothing at all");
        assert_eq!(
            refusals(&events),
            vec![
                (None, "withheld", 1),
                (None, "no-caller-id", 2),
                (None, "no-caller-id", 3),
                // The line reader keeps printable ASCII only.
                (Some("55x;[2J".into()), "unreadable", 4),
                (None, "unavailable", 5),
                (None, "unreadable", 6),
            ],
            "{events:?}"
        );
    }

    #[tokio::test]
    async fn a_prefix_matches_and_the_ring_count_still_counts() {
        let (a, mut m) = duplex(4096);
        let mut at = AtPort::new(a, ReaderConfig::default());
        let modem = tokio::spawn(async move {
            screening_setup(&mut m).await;
            // Not under the prefix.
            ring(&mut m).await;
            send(&mut m, &block("4445550000")).await;
            tokio::time::sleep(Duration::from_millis(350)).await;
            // Under it: answered at the second ring, not at the number.
            ring(&mut m).await;
            send(&mut m, &block("555 123-4")).await;
            silent_for(&mut m, Duration::from_millis(60)).await;
            ring(&mut m).await;
            assert_eq!(read_cmd(&mut m).await, "ATA");
            send(&mut m, b"\r\nCONNECT 2400\r\n").await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        });
        let mut events = Vec::new();
        let got = wait_for_call(
            &mut at,
            &screened(AnswerMode::CountRings(2), &["555*"]),
            |e| events.push(e),
        )
        .await
        .unwrap();
        assert_eq!(got.caller.as_deref(), Some("5551234"));
        assert_eq!(got.rings, 2);
        assert_eq!(got.refused, 1);
        assert_eq!(
            refusals(&events),
            vec![(Some("4445550000".into()), "not-allowed", 1)]
        );
        modem.await.unwrap();
    }

    #[tokio::test]
    async fn a_new_caller_id_block_is_a_new_call() {
        let (a, mut m) = duplex(4096);
        let mut at = AtPort::new(a, ReaderConfig::default());
        let modem = tokio::spawn(async move {
            screening_setup(&mut m).await;
            ring(&mut m).await;
            send(&mut m, &block("5559999")).await;
            ring(&mut m).await;
            // Within the ring gap, another caller: its RING, its block.
            ring(&mut m).await;
            send(&mut m, &block("5550142")).await;
            assert_eq!(read_cmd(&mut m).await, "ATA");
            send(&mut m, b"\r\nCONNECT 2400\r\n").await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        });
        let mut events = Vec::new();
        let got = wait_for_call(
            &mut at,
            &screened(AnswerMode::CountRings(1), &["5550142"]),
            |e| events.push(e),
        )
        .await
        .unwrap();
        assert_eq!(got.caller.as_deref(), Some("5550142"));
        assert_eq!(got.refused, 1);
        assert_eq!(got.rings, 1, "the RING before the block was its first");
        modem.await.unwrap();
    }

    #[tokio::test]
    async fn two_numbers_in_one_block_are_not_believed() {
        let (a, mut m) = duplex(4096);
        let mut at = AtPort::new(a, ReaderConfig::default());
        let modem = tokio::spawn(async move {
            screening_setup(&mut m).await;
            send(
                &mut m,
                b"\r\nRING\r\n\r\nNMBR = 5550142\r\nNMBR = 5550143\r\n",
            )
            .await;
            rest(m).await
        });
        let mut o = screened(AnswerMode::CountRings(2), &["555*"]);
        o.ring_timeout = Some(Duration::from_millis(400));
        let mut events = Vec::new();
        let e = wait_for_call(&mut at, &o, |e| events.push(e))
            .await
            .unwrap_err();
        assert!(matches!(e, AnswerError::NoCall { .. }), "{e}");
        drop(at);
        assert_eq!(modem.await.unwrap(), "");
        assert_eq!(
            refusals(&events),
            vec![(Some("5550143".into()), "conflicting", 1)]
        );
    }

    #[tokio::test]
    async fn screening_refuses_a_modem_that_answers_by_itself() {
        let (a, m) = duplex(4096);
        let mut at = AtPort::new(a, ReaderConfig::default());
        let modem = tokio::spawn(rest(m));
        let e = wait_for_call(
            &mut at,
            &screened(AnswerMode::ModemAnswers(1), &["5550142"]),
            |_| {},
        )
        .await
        .unwrap_err();
        assert!(matches!(e, AnswerError::ScreeningNeedsRingCount), "{e}");
        drop(at);
        assert_eq!(modem.await.unwrap(), "", "not even ATS0 was sent");

        // And a CONNECT nobody asked for is an error, not a call.
        let (a, mut m) = duplex(4096);
        let mut at = AtPort::new(a, ReaderConfig::default());
        tokio::spawn(async move {
            screening_setup(&mut m).await;
            send(&mut m, b"\r\nRING\r\n\r\nCONNECT 2400\r\n").await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        });
        let e = wait_for_call(
            &mut at,
            &screened(AnswerMode::CountRings(1), &["5550142"]),
            |_| {},
        )
        .await
        .unwrap_err();
        assert!(matches!(e, AnswerError::Unscreened), "{e}");
    }

    #[tokio::test]
    async fn caller_id_on_falls_back_to_rockwell_and_else_answers_nothing() {
        let (a, mut m) = duplex(4096);
        let mut at = AtPort::new(a, ReaderConfig::default());
        let modem = tokio::spawn(async move {
            assert_eq!(read_cmd(&mut m).await, "ATS0=0");
            send(&mut m, b"\r\nOK\r\n").await;
            assert_eq!(read_cmd(&mut m).await, "AT+VCID=1");
            send(&mut m, b"\r\nERROR\r\n").await;
            assert_eq!(read_cmd(&mut m).await, "AT#CID=1");
            send(&mut m, b"\r\nOK\r\n").await;
            ring(&mut m).await;
            send(&mut m, &block("5550142")).await;
            assert_eq!(read_cmd(&mut m).await, "ATA");
            send(&mut m, b"\r\nCONNECT 2400\r\n").await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        });
        let o = screened(AnswerMode::CountRings(1), &["5550142"]);
        let got = wait_for_call(&mut at, &o, |_| {}).await.unwrap();
        assert_eq!(got.caller.as_deref(), Some("5550142"));
        modem.await.unwrap();

        let (a, mut m) = duplex(4096);
        let mut at = AtPort::new(a, ReaderConfig::default());
        let modem = tokio::spawn(async move {
            assert_eq!(read_cmd(&mut m).await, "ATS0=0");
            send(&mut m, b"\r\nOK\r\n").await;
            assert_eq!(read_cmd(&mut m).await, "AT+VCID=1");
            send(&mut m, b"\r\nERROR\r\n").await;
            assert_eq!(read_cmd(&mut m).await, "AT#CID=1");
            send(&mut m, b"\r\nERROR\r\n").await;
            // A call rings anyway: it must not be answered.
            ring(&mut m).await;
            send(&mut m, &block("5550142")).await;
            rest(m).await
        });
        let e = wait_for_call(&mut at, &o, |_| {}).await.unwrap_err();
        assert!(
            matches!(
                e,
                AnswerError::NoCallerId {
                    vcid: ResultCode::Error,
                    cid: ResultCode::Error
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("not answering"), "{e}");
        drop(at);
        assert_eq!(modem.await.unwrap(), "");
    }

    #[tokio::test]
    async fn counts_rings_sends_ata_and_retries_after_a_failed_call() {
        let (a, mut m) = duplex(4096);
        let mut at = AtPort::new(a, ReaderConfig::default());
        let modem = tokio::spawn(async move {
            assert_eq!(read_cmd(&mut m).await, "ATS0=0");
            m.write_all(b"\r\nOK\r\n").await.unwrap();
            // A first call that gives up after one ring.
            m.write_all(b"\r\nRING\r\n").await.unwrap();
            tokio::time::sleep(Duration::from_millis(250)).await;
            // A second: two rings with caller ID, ATA, NO CARRIER.
            m.write_all(b"\r\nRING\r\n\r\nNMBR = 5551234\r\n")
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(30)).await;
            m.write_all(b"\r\nRING\r\n").await.unwrap();
            assert_eq!(read_cmd(&mut m).await, "ATA");
            m.write_all(b"\r\nNO CARRIER\r\n").await.unwrap();
            // A third connects.
            m.write_all(b"\r\nRING\r\n\r\nRING\r\n").await.unwrap();
            assert_eq!(read_cmd(&mut m).await, "ATA");
            m.write_all(b"\r\nCONNECT 33600\r\n~data").await.unwrap();
            tokio::time::sleep(Duration::from_millis(300)).await;
        });
        let mut events = Vec::new();
        let got = wait_for_call(&mut at, &opts(AnswerMode::CountRings(2)), |e| {
            events.push(e)
        })
        .await
        .unwrap();
        assert_eq!(got.connect.speed, Some(33600));
        assert_eq!(got.rings, 2);
        let fails = events
            .iter()
            .filter(|e| matches!(e, AnswerEvent::Failed { .. }))
            .count();
        assert_eq!(fails, 2, "{events:?}");
        assert!(events.contains(&AnswerEvent::CallerId {
            field: CallerIdField::Number,
            value: "5551234".into()
        }));
        assert_eq!(at.into_data().pending(), b"~data");
        modem.await.unwrap();
    }

    #[tokio::test]
    async fn the_modem_answers_by_itself() {
        let (a, mut m) = duplex(4096);
        let mut at = AtPort::new(a, ReaderConfig::default());
        tokio::spawn(async move {
            assert_eq!(read_cmd(&mut m).await, "ATS0=2");
            m.write_all(b"\r\nOK\r\n\r\nRING\r\n\r\nRING\r\n")
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
            m.write_all(b"\r\nCONNECT 2400\r\n").await.unwrap();
            tokio::time::sleep(Duration::from_millis(300)).await;
        });
        let got = wait_for_call(&mut at, &opts(AnswerMode::ModemAnswers(2)), |_| {})
            .await
            .unwrap();
        assert_eq!(got.connect.speed, Some(2400));
        assert_eq!(got.rings, 2);
    }

    #[tokio::test]
    async fn a_flood_of_caller_id_is_bounded_and_an_absurd_wait_is_no_panic() {
        let (a, mut m) = duplex(4096);
        let mut at = AtPort::new(a, ReaderConfig::default());
        tokio::spawn(async move {
            read_cmd(&mut m).await;
            m.write_all(b"\r\nOK\r\n\r\nRING\r\n").await.unwrap();
            for i in 0..200 {
                m.write_all(format!("\r\nNAME = CALLER {i}\r\n").as_bytes())
                    .await
                    .unwrap();
            }
            m.write_all(b"\r\nCONNECT 2400\r\n").await.unwrap();
            tokio::time::sleep(Duration::from_millis(300)).await;
        });
        let mut o = opts(AnswerMode::ModemAnswers(1));
        o.ring_timeout = Some(Duration::MAX);
        o.connect_timeout = Duration::from_secs(5);
        let mut events = 0;
        let got = wait_for_call(&mut at, &o, |e| {
            if matches!(e, AnswerEvent::CallerId { .. }) {
                events += 1
            }
        })
        .await
        .unwrap();
        assert_eq!(got.caller_id.len(), MAX_CALLER_ID);
        assert_eq!(events, MAX_CALLER_ID);
        assert_eq!(got.connect.speed, Some(2400));
    }

    #[tokio::test]
    async fn endless_rings_end_at_the_ring_timeout() {
        let (a, mut m) = duplex(4096);
        let mut at = AtPort::new(a, ReaderConfig::default());
        tokio::spawn(async move {
            read_cmd(&mut m).await;
            m.write_all(b"\r\nOK\r\n").await.unwrap();
            // Rings for ever; the modem never answers (and ATA is ignored).
            loop {
                if m.write_all(b"\r\nRING\r\n").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let mut o = opts(AnswerMode::ModemAnswers(1));
        o.ring_timeout = Some(Duration::from_millis(500));
        let t0 = Instant::now();
        let e = wait_for_call(&mut at, &o, |_| {}).await.unwrap_err();
        assert!(matches!(e, AnswerError::NoCall { .. }), "{e}");
        assert!(t0.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_refused_setup_and_a_vanished_modem_are_errors() {
        let (a, mut m) = duplex(4096);
        let mut at = AtPort::new(a, ReaderConfig::default());
        tokio::spawn(async move {
            read_cmd(&mut m).await;
            m.write_all(b"\r\nERROR\r\n").await.unwrap();
            tokio::time::sleep(Duration::from_millis(300)).await;
        });
        let e = wait_for_call(&mut at, &opts(AnswerMode::CountRings(1)), |_| {})
            .await
            .unwrap_err();
        assert!(matches!(e, AnswerError::Refused { .. }), "{e}");

        let (a, mut m) = duplex(4096);
        let mut at = AtPort::new(a, ReaderConfig::default());
        tokio::spawn(async move {
            read_cmd(&mut m).await;
            m.write_all(b"\r\nOK\r\n").await.unwrap();
        });
        let e = wait_for_call(&mut at, &opts(AnswerMode::CountRings(1)), |_| {})
            .await
            .unwrap_err();
        assert!(matches!(e, AnswerError::Modem(ModemError::Gone)), "{e}");
    }
}
