//! Waiting for a call and answering it.
//!
//! Two ways: count the RINGs ourselves and send ATA (S0=0, the modem never
//! answers on its own: nothing is answered unless this program is
//! running), or let the modem answer after S0 rings (V.250 §6.3.8) and
//! wait for its CONNECT. A call that does not connect (the caller gives
//! up, NO CARRIER, no CONNECT in time) is logged and waiting goes on;
//! only the modem failing, or the overall `ring_timeout`, ends the wait.

use std::time::Duration;

use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use super::at::{AtPort, ModemError};
use super::result::{CallerIdField, Connect, Line, ResultCode, Unsolicited};

/// How long the modem gets to give up a call we abandon.
const ABORT_WAIT: Duration = Duration::from_secs(3);
/// With no overall limit, how long one wait for a line lasts before it
/// is simply started again.
const IDLE_SLICE: Duration = Duration::from_secs(3600);
/// Caller ID fields kept for one call (a real one has four or five); a
/// modem that sends more is not believed, and the rest are counted and
/// dropped so that memory stays bounded.
const MAX_CALLER_ID: usize = 16;

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
}

impl Default for AnswerOptions {
    fn default() -> Self {
        AnswerOptions {
            mode: AnswerMode::CountRings(1),
            ring_timeout: None,
            connect_timeout: Duration::from_secs(60),
            ring_gap: Duration::from_secs(10),
            command_timeout: Duration::from_secs(5),
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
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answered {
    pub connect: Connect,
    /// RINGs of the call that connected.
    pub rings: u32,
    /// Caller ID fields, when the modem delivers them (AT+VCID=1).
    pub caller_id: Vec<(CallerIdField, String)>,
    /// Since [`wait_for_call`] was called.
    pub elapsed: Duration,
}

#[derive(Debug, Error)]
pub enum AnswerError {
    #[error("no call connected within {waited:.1?}")]
    NoCall { waited: Duration },
    #[error("the modem answered {result} to {cmd}")]
    Refused { cmd: String, result: ResultCode },
    #[error(transparent)]
    Modem(#[from] ModemError),
}

/// One call's progress.
#[derive(Default)]
struct Call {
    rings: u32,
    last_ring: Option<Instant>,
    /// When the modem started answering by itself (ModemAnswers).
    answering: Option<Instant>,
    caller_id: Vec<(CallerIdField, String)>,
    /// Caller ID fields past [`MAX_CALLER_ID`].
    caller_id_dropped: u64,
}

/// Sets S0 for `mode` and waits until a call connects. On success the
/// modem is in data state: `at.into_data()` gives the port.
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
    tracing::info!(mode = ?opts.mode, "waiting for a call");

    // RINGs that came while we set up belong to this call: next_line
    // hands them over first.
    let mut call = Call::default();
    loop {
        let line = {
            let now = Instant::now();
            let call_deadline = match (call.answering, call.last_ring) {
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
                    } else if call.rings > 0 {
                        fail(&mut call, &mut on, "the caller hung up while ringing");
                    }
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        };
        match line {
            Line::Unsolicited(Unsolicited::Ring { .. }) => {
                call.rings += 1;
                call.last_ring = Some(Instant::now());
                on(AnswerEvent::Ring { count: call.rings });
                match opts.mode {
                    AnswerMode::CountRings(n) if call.rings >= u32::from(n.max(1)) => {
                        on(AnswerEvent::Answering);
                        if let Some(connect) = answer(at, opts, &mut call, &mut on).await? {
                            return Ok(done(call, connect, start));
                        }
                        // RINGs between ATA and its failure were this call's.
                        at.take_unsolicited();
                    }
                    AnswerMode::ModemAnswers(n)
                        if call.answering.is_none() && call.rings >= u32::from(n.max(1)) =>
                    {
                        call.answering = Some(Instant::now());
                        on(AnswerEvent::Answering);
                    }
                    _ => {}
                }
            }
            Line::Unsolicited(Unsolicited::CallerId { .. })
                if call.caller_id.len() >= MAX_CALLER_ID =>
            {
                call.caller_id_dropped += 1;
                tracing::debug!(
                    dropped = call.caller_id_dropped,
                    "too many caller ID fields for one call: dropped"
                );
            }
            Line::Unsolicited(Unsolicited::CallerId { field, value }) => {
                tracing::info!(?field, %value, "caller ID");
                call.caller_id.push((field.clone(), value.clone()));
                on(AnswerEvent::CallerId { field, value });
            }
            // The modem answered by itself (S0 > 0).
            Line::Result(ResultCode::Connect(connect)) => {
                return Ok(done(call, connect, start));
            }
            Line::Result(ResultCode::NoCarrier) => {
                fail(&mut call, &mut on, "NO CARRIER");
            }
            other => tracing::debug!(line = ?other, "while waiting for a call"),
        }
    }
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

fn done(call: Call, connect: Connect, start: Instant) -> Answered {
    tracing::info!(
        rings = call.rings,
        connect = %ResultCode::Connect(connect.clone()),
        caller_id_dropped = call.caller_id_dropped,
        "call answered"
    );
    Answered {
        connect,
        rings: call.rings,
        caller_id: call.caller_id,
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
    use crate::modem::result::ReaderConfig;
    use crate::modem::test_util::read_cmd;
    use tokio::io::{duplex, AsyncWriteExt};

    fn opts(mode: AnswerMode) -> AnswerOptions {
        AnswerOptions {
            mode,
            ring_timeout: Some(Duration::from_secs(5)),
            connect_timeout: Duration::from_millis(300),
            ring_gap: Duration::from_millis(100),
            command_timeout: Duration::from_millis(300),
        }
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
