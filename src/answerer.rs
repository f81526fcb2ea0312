//! `carrier answer`'s side of a call: who may call (screening), waiting
//! for a call on a modem or taking a null-modem line at once, PPP on it,
//! hanging up, and pppd's `persist` for the next call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::json;
use tokio::sync::watch;

use crate::call::CallError;
use crate::events::Reporter;
use crate::modem::answer::{self, AnswerEvent, AnswerMode, AnswerOptions};
use crate::modem::hangup::HangupOptions;
use crate::modem::screen::{self, AllowedCallers};
use crate::net::IpPlane;
use crate::port::{CallLine, ModemPort, PortSpec};
use crate::session::{self, Outcome, SessionConfig};

/// Who `carrier answer` takes calls from, and how many it refused so far
/// (across the calls of --persist).
#[derive(Debug, Default)]
pub struct Screening {
    pub allowed: AllowedCallers,
    refused: AtomicU64,
}

impl Screening {
    /// The lists a call must pass: `lists` is (source, entries); an empty
    /// list restricts nothing. A bad entry is a configuration error.
    pub fn new(lists: &[(&str, &[String])]) -> Result<Screening, CallError> {
        let mut allowed = AllowedCallers::default();
        for (source, entries) in lists {
            let patterns = screen::parse_list(entries)
                .map_err(|e| CallError::Config(format!("{source} {e}")))?;
            allowed.require(source, patterns);
        }
        Ok(Screening {
            allowed,
            refused: AtomicU64::new(0),
        })
    }

    /// Calls refused so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// What screening needs of the line: a modem that we let ring (a
    /// null-modem line has no caller ID, and a modem answering by itself
    /// goes off-hook before it).
    fn check(&self, direct: bool, mode: AnswerMode) -> Result<(), CallError> {
        if !self.allowed.is_restricted() {
            return Ok(());
        }
        let lists = self.allowed.sources().join(" and ");
        if direct {
            return Err(CallError::Config(format!(
                "callers are restricted ({lists}), but a --direct line has no caller ID"
            )));
        }
        if let AnswerMode::ModemAnswers(_) = mode {
            return Err(CallError::Config(format!(
                "callers are restricted ({lists}): --modem-answers cannot be used, the modem \
                 would go off-hook before the caller ID arrives; let carrier count --rings"
            )));
        }
        Ok(())
    }
}

/// How the answering line is set up.
#[derive(Clone, Debug)]
pub struct AnswerSetup {
    pub port: PortSpec,
    /// A null-modem line: PPP at once, no modem.
    pub direct: bool,
    pub mode: AnswerMode,
    /// How long to wait for a call that connects; None waits for ever.
    pub wait: Option<Duration>,
    /// Init commands, already checked; empty: [`answer::default_init`].
    pub init: Vec<String>,
    pub hangup: HangupOptions,
}

impl AnswerSetup {
    pub fn new(port: PortSpec) -> AnswerSetup {
        AnswerSetup {
            port,
            direct: false,
            mode: AnswerMode::CountRings(1),
            wait: None,
            init: Vec::new(),
            hangup: HangupOptions::default(),
        }
    }
}

/// The line `carrier answer` serves: a null-modem line, or a modem that
/// waited for the call.
pub struct AnswerLine(CallLine);

impl AnswerLine {
    /// Opens the line; through a modem, waits for a call to connect.
    /// None: `stop` came first. `what` says what is awaited, for people.
    pub async fn open(
        setup: &AnswerSetup,
        screening: &Screening,
        reporter: &Reporter,
        mut stop: watch::Receiver<bool>,
        what: &str,
    ) -> Result<Option<AnswerLine>, CallError> {
        // Before the port is touched: a restriction that cannot be
        // enforced is a configuration error, not a call answered anyway.
        screening.check(setup.direct, setup.mode)?;
        let device = &setup.port.device;
        let port = ModemPort::open(&setup.port)?;
        if setup.direct {
            reporter.emit(
                "connect",
                json!({"device": device, "speed": setup.port.speed, "direct": true}),
                &format!("{}: direct line, waiting for {what}", device.display()),
            );
            return Ok(Some(AnswerLine(port.direct())));
        }
        let opts = AnswerOptions {
            mode: setup.mode,
            ring_timeout: setup.wait,
            allowed_callers: screening.allowed.clone(),
            ..AnswerOptions::default()
        };
        let init = if setup.init.is_empty() {
            answer::default_init()
        } else {
            setup.init.clone()
        };
        let screened = screening.allowed.is_restricted();
        reporter.emit(
            "modem",
            json!({"device": device, "mode": format!("{:?}", setup.mode), "screening": screened}),
            &format!(
                "{}: waiting for {what}{}",
                device.display(),
                if screened {
                    " from allowed callers"
                } else {
                    ""
                }
            ),
        );
        tokio::select! {
            r = wait_for_call(port, &init, &opts, screening, reporter, setup.hangup.clone()) => r.map(|c| Some(AnswerLine(c))),
            _ = stop.wait_for(|s| *s) => Ok(None),
        }
    }

    pub async fn run<P: IpPlane>(
        &mut self,
        plane: &mut P,
        cfg: SessionConfig,
        reporter: &Reporter,
        stop: watch::Receiver<bool>,
    ) -> Result<Outcome, CallError> {
        Ok(self.0.run(plane, cfg, reporter, stop).await?)
    }

    pub async fn close(self, reporter: &Reporter) {
        self.0.hang_up(reporter).await;
    }
}

/// Waits for a call (auto-answer: counting RINGs and ATA, or S0) and
/// returns the line once CONNECT comes.
async fn wait_for_call(
    port: ModemPort,
    init: &[String],
    opts: &AnswerOptions,
    screening: &Screening,
    reporter: &Reporter,
    hangup: HangupOptions,
) -> Result<CallLine, CallError> {
    let mut port = port.init(init, opts.command_timeout, &hangup).await?;
    reporter.emit("waiting", json!({}), "waiting for a call");
    let r = answer::wait_for_call(&mut port.at, opts, |ev| match ev {
        AnswerEvent::Ring { count } => {
            reporter.emit("ring", json!({"count": count}), &format!("RING {count}"))
        }
        AnswerEvent::CallerId { field, value } => reporter.emit(
            "caller-id",
            json!({"field": format!("{field:?}"), "value": value}),
            &format!("caller id {field:?}: {value}"),
        ),
        AnswerEvent::Answering => reporter.emit("answering", json!({}), "answering"),
        AnswerEvent::Failed { reason } => reporter.emit(
            "answer-failed",
            json!({"reason": reason}),
            &format!("call did not connect ({reason}); waiting again"),
        ),
        AnswerEvent::Refused { number, reason, .. } => {
            let refused = screening.refused.fetch_add(1, Ordering::Relaxed) + 1;
            reporter.emit(
                "caller-refused",
                json!({"number": number, "reason": reason.code(),
                       "message": reason.to_string(), "refused": refused}),
                &format!(
                    "call from {} refused ({reason}): not answered; {refused} refused so far",
                    number.as_deref().unwrap_or("an unknown number")
                ),
            )
        }
    })
    .await;
    match r {
        Ok(a) => {
            reporter.emit(
                "connect",
                json!({"speed": a.connect.speed, "protocol": a.connect.protocol,
                       "rings": a.rings, "caller": a.caller, "direct": false}),
                &format!(
                    "CONNECT {} after {} ring(s){}",
                    a.connect.speed.map(|s| s.to_string()).unwrap_or_default(),
                    a.rings,
                    a.caller
                        .as_deref()
                        .map(|c| format!(" from {c}"))
                        .unwrap_or_default()
                ),
            );
            Ok(port.connected(hangup))
        }
        Err(e) => {
            port.abandon(&hangup).await;
            Err(e.into())
        }
    }
}

/// Answers calls, one PPP session each, until one ends without
/// `persist` or `stop` comes; returns the exit status. Each call gets a
/// plane of its own from `plane`.
pub async fn serve<P: IpPlane>(
    setup: &AnswerSetup,
    screening: &Screening,
    session: &SessionConfig,
    persist: bool,
    mut plane: impl FnMut() -> P,
    reporter: &Reporter,
    mut stop: watch::Receiver<bool>,
) -> Result<u8, CallError> {
    loop {
        let Some(mut line) =
            AnswerLine::open(setup, screening, reporter, stop.clone(), "PPP").await?
        else {
            return Ok(crate::exit::SIGNAL);
        };
        let outcome = line
            .run(&mut plane(), session.clone(), reporter, stop.clone())
            .await;
        line.close(reporter).await;
        let code = session::report_end(reporter, &outcome?);
        if !persist || *stop.borrow_and_update() {
            return Ok(code);
        }
        reporter.emit(
            "persist",
            json!({"last_exit_code": code}),
            "call over: waiting for the next one",
        );
    }
}
