//! Dialing a list of access numbers, AT&T Global Network style: set the
//! modem up, then try each number in turn until one answers, a few passes
//! over the list, all within one deadline.
//!
//! BUSY, NO ANSWER and NO CARRIER (and DELAYED/BLACKLISTED, which bar
//! only that number) move on to the next number; NO DIALTONE and ERROR
//! stop at once: no other number fares better without a line, or with a
//! modem that refuses the dial command.

use std::time::Duration;

use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use super::at::{AtPort, ModemError};
use super::result::{Connect, ResultCode};

/// How long the modem gets to give up a call attempt we abandon.
const ABORT_WAIT: Duration = Duration::from_secs(3);

/// One access number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Number {
    pub number: String,
    /// A name for logs and events ("Chicago IL").
    pub label: Option<String>,
}

impl Number {
    pub fn new(number: impl Into<String>) -> Number {
        Number {
            number: number.into(),
            label: None,
        }
    }

    pub fn labelled(number: impl Into<String>, label: impl Into<String>) -> Number {
        Number {
            number: number.into(),
            label: Some(label.into()),
        }
    }
}

#[derive(Clone, Debug)]
pub struct DialPlan {
    /// Sent in order before dialing; each must answer OK.
    pub init: Vec<String>,
    pub numbers: Vec<Number>,
    /// Dialed before every number: an outside line (`9,`).
    pub prefix: String,
    /// Pulse (ATDP) rather than tone (ATDT).
    pub pulse: bool,
    /// Further passes over the whole list after the first: 0 tries each
    /// number once.
    pub retries: u32,
    /// Wait between passes.
    pub backoff: Duration,
    /// Bounds the whole attempt, init commands included.
    pub deadline: Duration,
    /// How long one number may take to connect. The modem's own S7 limit
    /// usually ends an attempt first, with NO ANSWER or NO CARRIER.
    pub connect_timeout: Duration,
    /// How long an init command may take to be answered.
    pub command_timeout: Duration,
}

impl Default for DialPlan {
    fn default() -> Self {
        DialPlan {
            // ATZ: the stored profile. Q0 V1: verbose results, which the
            // reader needs to tell BUSY from NO CARRIER. E1: an echo to
            // strip is harmless and tells us the modem heard us. X4: report
            // BUSY and NO DIALTONE rather than NO CARRIER for both.
            init: vec!["ATZ".into(), format!("{} X4", super::at::VERBOSE_RESULTS)],
            numbers: Vec::new(),
            prefix: String::new(),
            pulse: false,
            retries: 2,
            backoff: Duration::from_secs(10),
            deadline: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(60),
            command_timeout: Duration::from_secs(5),
        }
    }
}

impl DialPlan {
    /// The dial command for `number`: `ATD`, T or P, the prefix, the
    /// number (V.250 §6.3.1).
    pub fn dial_command(&self, number: &Number) -> String {
        let method = if self.pulse { 'P' } else { 'T' };
        format!("ATD{method}{}{}", self.prefix, number.number)
    }
}

/// Progress, for logs and `--events json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialEvent {
    Init {
        cmd: String,
    },
    Dialing {
        number: String,
        label: Option<String>,
        /// Counts every dial of this attempt, from 1.
        attempt: u32,
    },
    Failed {
        number: String,
        label: Option<String>,
        result: ResultCode,
    },
    /// No result within `connect_timeout`; the attempt was abandoned.
    TimedOut {
        number: String,
        label: Option<String>,
    },
    Backoff {
        secs: u64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connected {
    pub number: Number,
    pub connect: Connect,
    /// Dials made, this one included.
    pub tries: u32,
    /// Since [`dial`] was called.
    pub elapsed: Duration,
}

/// Why dialing failed. [`DialError::exit_code`] gives the exit status of
/// `carrier dial`:
///
/// | code | variant |
/// |------|---------|
/// | 2    | [`DialError::NoNumbers`]: nothing to dial (a configuration error) |
/// | 21   | [`DialError::AllBusy`]: every number was busy on the last pass |
/// | 22   | [`DialError::NoAnswer`]: no number answered (NO ANSWER, NO CARRIER, timeouts) |
/// | 22   | [`DialError::Deadline`]: the overall deadline passed first |
/// | 23   | [`DialError::NoDialtone`]: no dial tone (line unplugged, wrong prefix) |
/// | 24   | [`DialError::Refused`], [`DialError::Modem`]: the modem refused a command, did not answer, or went away |
#[derive(Debug, Error)]
pub enum DialError {
    #[error("no numbers to dial")]
    NoNumbers,
    #[error("every number was busy ({tries} calls)")]
    AllBusy { tries: u32 },
    #[error("no number answered ({tries} calls; last: {last})")]
    NoAnswer { tries: u32, last: String },
    #[error("gave up after {after:?} and {tries} calls: the dial deadline passed")]
    Deadline { after: Duration, tries: u32 },
    #[error("no dial tone dialing {number}: is the phone line plugged in (or the prefix right)?")]
    NoDialtone { number: String },
    #[error("the modem answered {result} to {cmd}")]
    Refused { cmd: String, result: ResultCode },
    #[error(transparent)]
    Modem(#[from] ModemError),
}

impl DialError {
    pub fn exit_code(&self) -> i32 {
        match self {
            DialError::NoNumbers => 2,
            DialError::AllBusy { .. } => 21,
            DialError::NoAnswer { .. } | DialError::Deadline { .. } => 22,
            DialError::NoDialtone { .. } => 23,
            DialError::Refused { .. } | DialError::Modem(_) => 24,
        }
    }
}

/// What one dial came to.
enum Attempt {
    Connected(Connect),
    /// Try the next number; the text is for the final error.
    Next {
        busy: bool,
        why: String,
    },
}

/// Runs `plan` on `at`: init commands, then the numbers in order, pass
/// after pass, until one connects. On success the modem is in data state:
/// `at.into_data()` (after the caller is done with `at`) gives the port.
pub async fn dial<P>(
    at: &mut AtPort<P>,
    plan: &DialPlan,
    mut on: impl FnMut(DialEvent),
) -> Result<Connected, DialError>
where
    P: AsyncRead + AsyncWrite + Unpin,
{
    if plan.numbers.is_empty() {
        return Err(DialError::NoNumbers);
    }
    let start = Instant::now();
    let deadline = crate::deadline::after(start, plan.deadline);
    let mut tries = 0u32;
    let past_deadline = |tries| DialError::Deadline {
        after: plan.deadline,
        tries,
    };

    for cmd in &plan.init {
        on(DialEvent::Init { cmd: cmd.clone() });
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(past_deadline(tries));
        }
        let r = at.command(cmd, plan.command_timeout.min(left)).await?;
        if r.result != ResultCode::Ok {
            return Err(DialError::Refused {
                cmd: cmd.clone(),
                result: r.result,
            });
        }
    }

    let mut last = String::new();
    for pass in 0..=plan.retries {
        if pass > 0 {
            let resume = crate::deadline::after(Instant::now(), plan.backoff);
            if resume >= deadline {
                return Err(past_deadline(tries));
            }
            on(DialEvent::Backoff {
                secs: plan.backoff.as_secs(),
            });
            tokio::time::sleep_until(resume).await;
        }
        let mut all_busy = true;
        for number in &plan.numbers {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(past_deadline(tries));
            }
            tries += 1;
            on(DialEvent::Dialing {
                number: number.number.clone(),
                label: number.label.clone(),
                attempt: tries,
            });
            let limit = plan.connect_timeout.min(left);
            match attempt(at, plan, number, limit, &mut on).await? {
                Attempt::Connected(connect) => {
                    return Ok(Connected {
                        number: number.clone(),
                        connect,
                        tries,
                        elapsed: start.elapsed(),
                    })
                }
                Attempt::Next { busy, why } => {
                    all_busy &= busy;
                    last = why;
                }
            }
        }
        if pass == plan.retries {
            return Err(if all_busy {
                DialError::AllBusy { tries }
            } else {
                DialError::NoAnswer { tries, last }
            });
        }
    }
    // Not reached: the last pass returns above (retries + 1 passes, the
    // last one equal to `plan.retries`). Said without a panic all the same.
    Err(DialError::NoAnswer { tries, last })
}

async fn attempt<P>(
    at: &mut AtPort<P>,
    plan: &DialPlan,
    number: &Number,
    limit: Duration,
    on: &mut impl FnMut(DialEvent),
) -> Result<Attempt, DialError>
where
    P: AsyncRead + AsyncWrite + Unpin,
{
    let cmd = plan.dial_command(number);
    tracing::info!(number = %number.number, label = ?number.label, "dialing");
    let failed = |result: ResultCode| DialEvent::Failed {
        number: number.number.clone(),
        label: number.label.clone(),
        result,
    };
    match at.command(&cmd, limit).await {
        Ok(r) => match r.result {
            ResultCode::Connect(c) => {
                tracing::info!(number = %number.number, connect = %ResultCode::Connect(c.clone()), "connected");
                Ok(Attempt::Connected(c))
            }
            result @ (ResultCode::Busy
            | ResultCode::NoAnswer
            | ResultCode::NoCarrier
            | ResultCode::Delayed
            | ResultCode::Blacklisted
            | ResultCode::BlacklistFull) => {
                tracing::info!(number = %number.number, %result, "no connection");
                let busy = result == ResultCode::Busy;
                let why = result.to_string();
                on(failed(result));
                Ok(Attempt::Next { busy, why })
            }
            ResultCode::NoDialtone => {
                on(failed(ResultCode::NoDialtone));
                Err(DialError::NoDialtone {
                    number: number.number.clone(),
                })
            }
            result => {
                on(failed(result.clone()));
                Err(DialError::Refused { cmd, result })
            }
        },
        Err(ModemError::Timeout { .. }) => {
            // Still dialing or handshaking: a key press ends it (V.250
            // §6.3.1.9) so that the next ATD is not taken for data.
            tracing::info!(number = %number.number, ?limit, "no result in time; abandoning the call");
            on(DialEvent::TimedOut {
                number: number.number.clone(),
                label: number.label.clone(),
            });
            let _ = at.abort_call(ABORT_WAIT.min(plan.connect_timeout)).await;
            Ok(Attempt::Next {
                busy: false,
                why: format!("no result within {limit:?}"),
            })
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modem::reader::ReaderConfig;
    use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream};

    /// A scripted modem: answers each command line with the next reply.
    fn fake(
        replies: Vec<&'static str>,
    ) -> (AtPort<DuplexStream>, tokio::task::JoinHandle<Vec<String>>) {
        let (a, mut m) = duplex(4096);
        let task = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut replies = replies.into_iter();
            let mut line = Vec::new();
            let mut b = [0u8; 1];
            while m.read_exact(&mut b).await.is_ok() {
                if b[0] != b'\r' {
                    line.push(b[0]);
                    continue;
                }
                let cmd = String::from_utf8(std::mem::take(&mut line)).unwrap();
                got.push(cmd);
                match replies.next() {
                    Some("") | None => {}
                    Some(r) => m
                        .write_all(format!("\r\n{r}\r\n").as_bytes())
                        .await
                        .unwrap(),
                }
            }
            got
        });
        (AtPort::new(a, ReaderConfig::default()), task)
    }

    fn plan(numbers: &[&str]) -> DialPlan {
        DialPlan {
            numbers: numbers.iter().map(|n| Number::new(*n)).collect(),
            retries: 0,
            backoff: Duration::from_millis(10),
            connect_timeout: Duration::from_millis(300),
            command_timeout: Duration::from_millis(300),
            ..DialPlan::default()
        }
    }

    #[test]
    fn dial_commands() {
        let mut p = plan(&[]);
        assert_eq!(p.dial_command(&Number::new("5551234")), "ATDT5551234");
        p.prefix = "9,".into();
        p.pulse = true;
        assert_eq!(p.dial_command(&Number::new("5551234")), "ATDP9,5551234");
    }

    #[test]
    fn exit_codes() {
        assert_eq!(DialError::AllBusy { tries: 1 }.exit_code(), 21);
        let na = DialError::NoAnswer {
            tries: 1,
            last: "NO CARRIER".into(),
        };
        assert_eq!(na.exit_code(), 22);
        let nd = DialError::NoDialtone { number: "1".into() };
        assert_eq!(nd.exit_code(), 23);
        assert_eq!(DialError::Modem(ModemError::Gone).exit_code(), 24);
        assert_eq!(DialError::NoNumbers.exit_code(), 2);
    }

    #[tokio::test]
    async fn absurd_deadline_and_backoff_do_not_overflow_the_clock() {
        let (mut at, _modem) = fake(vec!["OK", "OK", "BUSY", "CONNECT"]);
        let p = DialPlan {
            deadline: Duration::MAX,
            backoff: Duration::from_millis(1),
            retries: 1,
            ..plan(&["1"])
        };
        let c = dial(&mut at, &p, |_| {}).await.unwrap();
        assert_eq!(c.tries, 2);
    }

    #[tokio::test]
    async fn moves_on_from_busy_and_connects() {
        let (mut at, modem) = fake(vec!["OK", "OK", "BUSY", "NO CARRIER", "CONNECT 33600"]);
        let mut events = Vec::new();
        let c = dial(&mut at, &plan(&["1", "2", "3"]), |e| events.push(e))
            .await
            .unwrap();
        assert_eq!(c.number.number, "3");
        assert_eq!(c.connect.speed, Some(33600));
        assert_eq!(c.tries, 3);
        drop(at);
        assert_eq!(
            modem.await.unwrap(),
            ["ATZ", "ATQ0 V1 E1 X4", "ATDT1", "ATDT2", "ATDT3"]
        );
        assert_eq!(events.len(), 2 + 3 + 2);
    }

    #[tokio::test]
    async fn all_busy_over_passes() {
        let (mut at, _modem) = fake(vec!["OK", "OK", "BUSY", "BUSY", "BUSY", "BUSY"]);
        let mut p = plan(&["1", "2"]);
        p.retries = 1;
        let mut backoffs = 0;
        let e = dial(&mut at, &p, |e| {
            backoffs += matches!(e, DialEvent::Backoff { .. }) as u32
        })
        .await
        .unwrap_err();
        assert!(matches!(e, DialError::AllBusy { tries: 4 }), "{e}");
        assert_eq!(backoffs, 1);
    }

    #[tokio::test]
    async fn mixed_failures_are_no_answer() {
        let (mut at, _modem) = fake(vec!["OK", "OK", "BUSY", "NO ANSWER"]);
        let e = dial(&mut at, &plan(&["1", "2"]), |_| {}).await.unwrap_err();
        assert!(
            matches!(&e, DialError::NoAnswer { tries: 2, last } if last == "NO ANSWER"),
            "{e}"
        );
        assert_eq!(e.exit_code(), 22);
    }

    #[tokio::test]
    async fn no_dialtone_and_error_stop_at_once() {
        let (mut at, modem) = fake(vec!["OK", "OK", "NO DIALTONE"]);
        let e = dial(&mut at, &plan(&["1", "2"]), |_| {}).await.unwrap_err();
        assert_eq!(e.exit_code(), 23, "{e}");
        drop(at);
        assert_eq!(modem.await.unwrap().len(), 3);

        let (mut at, modem) = fake(vec!["OK", "OK", "ERROR"]);
        let e = dial(&mut at, &plan(&["1", "2"]), |_| {}).await.unwrap_err();
        assert!(
            matches!(
                e,
                DialError::Refused {
                    result: ResultCode::Error,
                    ..
                }
            ),
            "{e}"
        );
        drop(at);
        assert_eq!(modem.await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn init_error_and_silence() {
        let (mut at, _modem) = fake(vec!["OK", "ERROR"]);
        let e = dial(&mut at, &plan(&["1"]), |_| {}).await.unwrap_err();
        assert_eq!(e.to_string(), "the modem answered ERROR to ATQ0 V1 E1 X4");
        assert_eq!(e.exit_code(), 24);

        let (mut at, _modem) = fake(vec![""]);
        let e = dial(&mut at, &plan(&["1"]), |_| {}).await.unwrap_err();
        assert!(
            matches!(e, DialError::Modem(ModemError::Timeout { .. })),
            "{e}"
        );
    }

    #[tokio::test]
    async fn connect_timeout_aborts_and_moves_on() {
        // ATDT1 gets nothing; the abort's CR gets NO CARRIER.
        let (mut at, modem) = fake(vec!["OK", "OK", "", "NO CARRIER", "CONNECT"]);
        let mut timed_out = false;
        let c = dial(&mut at, &plan(&["1", "2"]), |e| {
            timed_out |= matches!(e, DialEvent::TimedOut { .. })
        })
        .await
        .unwrap();
        assert!(timed_out);
        assert_eq!(c.number.number, "2");
        drop(at);
        assert_eq!(modem.await.unwrap()[3], "");
    }

    #[tokio::test]
    async fn the_deadline_bounds_everything() {
        let (mut at, _modem) = fake(vec!["OK", "OK", "BUSY", "BUSY"]);
        let mut p = plan(&["1"]);
        p.retries = 100;
        p.backoff = Duration::from_millis(200);
        p.deadline = Duration::from_millis(300);
        let t0 = Instant::now();
        let e = dial(&mut at, &p, |_| {}).await.unwrap_err();
        assert!(matches!(e, DialError::Deadline { .. }), "{e}");
        assert!(t0.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn no_numbers() {
        let (mut at, _modem) = fake(vec![]);
        let e = dial(&mut at, &plan(&[]), |_| {}).await.unwrap_err();
        assert!(matches!(e, DialError::NoNumbers));
    }
}
