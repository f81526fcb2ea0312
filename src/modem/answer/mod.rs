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
use super::result::{CallerIdField, Connect, ResultCode};
use super::screen::{AllowedCallers, RefuseReason};

mod machine;

pub use machine::{Action, CallWait};

/// With no overall limit, how long one wait for a line lasts before it
/// is simply started again.
const IDLE_SLICE: Duration = Duration::from_secs(3600);
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

/// Sets S0 for `mode` (and caller ID delivery when screening) and waits
/// until a call connects. On success the modem is in data state:
/// `at.into_data()` gives the port. The decisions are [`CallWait`]'s;
/// this reads the port, sends ATA and aborts for it.
pub async fn wait_for_call<P>(
    at: &mut AtPort<P>,
    opts: &AnswerOptions,
    mut on: impl FnMut(AnswerEvent),
) -> Result<Answered, AnswerError>
where
    P: AsyncRead + AsyncWrite + Unpin,
{
    let mut wait = CallWait::new(opts, now())?;
    let cmd = format!("ATS0={}", wait.s0());
    let r = at.command(&cmd, opts.command_timeout).await?;
    if r.result != ResultCode::Ok {
        return Err(AnswerError::Refused {
            cmd,
            result: r.result,
        });
    }
    if wait.screening() {
        caller_id_on(at, opts.command_timeout).await?;
    }
    tracing::info!(mode = ?opts.mode, screening = wait.screening(), "waiting for a call");

    // RINGs that came while we set up belong to this call: next_line
    // hands them over first.
    loop {
        while let Some(action) = wait.poll_action() {
            match action {
                Action::Event(e) => on(e),
                Action::Answer => match at.command("ATA", opts.connect_timeout).await {
                    Ok(r) => wait.handle_answer(r.result),
                    Err(ModemError::Timeout { .. }) => wait.handle_answer_timeout(),
                    Err(e) => return Err(e.into()),
                },
                Action::Abort(limit) => {
                    let _ = at.abort_call(limit).await;
                }
                Action::DropQueued => {
                    at.take_unsolicited();
                }
            }
        }
        if let Some(outcome) = wait.take_outcome(now()) {
            return outcome;
        }
        let t = Instant::now();
        let until = wait
            .poll_timeout()
            .map(Instant::from_std)
            .unwrap_or_else(|| crate::deadline::after(t, IDLE_SLICE));
        match at.next_line(until.saturating_duration_since(t)).await {
            Ok(line) => wait.handle_line(line, now()),
            Err(ModemError::Timeout { .. }) => wait.handle_timeout(now()),
            Err(e) => return Err(e.into()),
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

fn now() -> std::time::Instant {
    Instant::now().into_std()
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

/// What the tests of the driver and of [`machine`] share.
#[cfg(test)]
mod test_util {
    use super::*;
    use crate::modem::screen::Pattern;

    pub fn opts(mode: AnswerMode) -> AnswerOptions {
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
    pub fn screened(mode: AnswerMode, allowed: &[&str]) -> AnswerOptions {
        let mut o = opts(mode);
        // Room for a loaded machine between the rings of one call.
        o.ring_gap = Duration::from_millis(150);
        let list = allowed.iter().map(|a| Pattern::parse(a).unwrap()).collect();
        o.allowed_callers.require("--allow-caller", list);
        o
    }

    /// The caller ID block a modem prints after the first RING.
    pub fn block(number: &str) -> Vec<u8> {
        format!("\r\nDATE = 0321\r\nTIME = 1405\r\nNMBR = {number}\r\n").into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::machine::MAX_CALLER_ID;
    use super::test_util::{block, opts, screened};
    use super::*;
    use crate::modem::reader::ReaderConfig;
    use crate::modem::test_util::read_cmd;
    use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream};

    /// The modem's side of a screening setup: S0=0, then caller ID on.
    async fn screening_setup(m: &mut DuplexStream) {
        assert_eq!(read_cmd(m).await, "ATS0=0");
        m.write_all(b"\r\nOK\r\n").await.unwrap();
        assert_eq!(read_cmd(m).await, "AT+VCID=1");
        m.write_all(b"\r\nOK\r\n").await.unwrap();
    }

    async fn send(m: &mut DuplexStream, bytes: &[u8]) {
        m.write_all(bytes).await.unwrap();
    }

    /// A modem that takes S0, refuses `AT+VCID=1` and answers `AT#CID=1`
    /// with `cid`.
    async fn rockwell_only(m: &mut DuplexStream, cid: &[u8]) {
        assert_eq!(read_cmd(m).await, "ATS0=0");
        send(m, b"\r\nOK\r\n").await;
        assert_eq!(read_cmd(m).await, "AT+VCID=1");
        send(m, b"\r\nERROR\r\n").await;
        assert_eq!(read_cmd(m).await, "AT#CID=1");
        send(m, cid).await;
    }

    async fn ring(m: &mut DuplexStream) {
        send(m, b"\r\nRING\r\n").await;
    }

    /// Everything carrier writes until it lets go of the port.
    async fn rest(mut m: DuplexStream) -> String {
        let mut all = Vec::new();
        m.read_to_end(&mut all).await.unwrap();
        String::from_utf8_lossy(&all).into_owned()
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
            rockwell_only(&mut m, b"\r\nOK\r\n").await;
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
            rockwell_only(&mut m, b"\r\nERROR\r\n").await;
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
