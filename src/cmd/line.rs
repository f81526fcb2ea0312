//! A port with a call up on it: locked, its control lines found, the
//! modem in data state. PPP runs on it with DCD watched; hanging up leaves
//! the modem on-hook and the lock released.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use carrier::events::Reporter;
use carrier::modem::answer::{self, AnswerError, AnswerEvent, AnswerMode, AnswerOptions};
use carrier::modem::hangup::{self, HangupOptions};
use carrier::modem::screen::{self, AllowedCallers};
use carrier::modem::{AtPort, DataPort, ReaderConfig};
use carrier::net::IpPlane;
use carrier::session::{self, Outcome, SessionConfig, SessionError};
use carrier_hw::{AsyncTty, Flow, LockOptions, ModemLines, PortLock};
use serde_json::json;
use tokio::sync::watch;

use super::common::*;

/// pppd's exit status 6: the serial port could not be locked.
pub const EXIT_LOCK: u8 = 6;
/// pppd's exit status 7: the serial port could not be opened.
pub const EXIT_OPEN: u8 = 7;
/// pppd's exit status 18: the init script failed.
pub const EXIT_INIT: u8 = 18;

pub type Lines = Box<dyn ModemLines + Send + Sync>;

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
    pub fn new(lists: &[(&str, &[String])]) -> Result<Screening, Fatal> {
        let mut allowed = AllowedCallers::default();
        for (source, entries) in lists {
            let patterns = screen::parse_list(entries)
                .map_err(|e| fatal(EXIT_CONFIG, format!("{source} {e}")))?;
            allowed.require(source, patterns);
        }
        Ok(Screening {
            allowed,
            refused: AtomicU64::new(0),
        })
    }

    /// What screening needs of the line: a modem that we let ring (a
    /// null-modem line has no caller ID, and a modem answering by itself
    /// goes off-hook before it).
    fn check(&self, direct: bool, mode: AnswerMode) -> Result<(), Fatal> {
        if !self.allowed.is_restricted() {
            return Ok(());
        }
        let lists = self.allowed.sources().join(" and ");
        if direct {
            return Err(fatal(
                EXIT_CONFIG,
                format!("callers are restricted ({lists}), but a --direct line has no caller ID"),
            ));
        }
        if let AnswerMode::ModemAnswers(_) = mode {
            return Err(fatal(
                EXIT_CONFIG,
                format!(
                    "callers are restricted ({lists}): --modem-answers cannot be used, the modem \
                     would go off-hook before the caller ID arrives; let carrier count --rings"
                ),
            ));
        }
        Ok(())
    }
}

/// The lines of a port: its own ioctls on a duplicate of its descriptor
/// (the same open file, not a second open by a path that may have moved).
/// A PTY has none; if it is a simulated modem's, the simulator's control
/// socket next to its link stands in (a real port is never probed for
/// one). Otherwise result codes and LCP echoes are all there is, said once.
fn control_lines(device: &Path, tty: &AsyncTty) -> Option<Lines> {
    use std::os::fd::AsFd;
    if tty.is_pty() {
        if let Some(l) = carrier_sim::lines_for(device) {
            return Some(l);
        }
    }
    let file = std::fs::File::from(tty.as_fd().try_clone_to_owned().ok()?);
    match file.get() {
        Ok(_) => Some(Box::new(file)),
        Err(e) => {
            tracing::warn!(device = %device.display(), error = %e,
                "the port reports no modem control lines: relying on result codes and LCP echoes");
            None
        }
    }
}

/// A locked, open port in command state.
pub struct ModemPort {
    pub at: AtPort<AsyncTty>,
    pub lines: Option<Lines>,
    lock: PortLock,
}

impl ModemPort {
    /// Locks (UUCP) and opens `device`, raising DTR where it can.
    pub fn open(
        device: &Path,
        speed: Option<u32>,
        flow: Flow,
        lock_dir: &Path,
    ) -> Result<ModemPort, Fatal> {
        let lock = PortLock::acquire_with(device, &LockOptions::in_dir(lock_dir))
            .map_err(|e| fatal(EXIT_LOCK, e.to_string()))?;
        let tty = AsyncTty::open(device, speed).map_err(|e| fatal(EXIT_OPEN, e.to_string()))?;
        tty.set_flow(flow)
            .map_err(|e| fatal(EXIT_OPEN, e.to_string()))?;
        let lines = control_lines(device, &tty);
        if let Some(l) = &lines {
            // A modem ignores the DTE while DTR is down (&D2).
            if let Err(e) = l.set_dtr(true) {
                tracing::debug!(error = %e, "cannot raise DTR");
            }
        }
        Ok(ModemPort {
            at: AtPort::new(tty, ReaderConfig::default()),
            lines,
            lock,
        })
    }

    /// The call is up: the port goes over to data.
    pub fn connected(self, hangup: HangupOptions) -> CallLine {
        CallLine {
            data: self.at.into_data(),
            lines: self.lines,
            lock: self.lock,
            hangup: Some(hangup),
        }
    }

    /// A null-modem line: data at once, no modem to hang up, and no
    /// control lines watched (pppd's `local`).
    pub fn direct(self) -> CallLine {
        CallLine {
            data: self.at.into_data(),
            lines: None,
            lock: self.lock,
            hangup: None,
        }
    }

    /// No call: leave the modem on-hook and release the port.
    pub async fn abandon(self, hangup: &HangupOptions) {
        let lines = self.lines.as_deref().map(|l| l as &(dyn ModemLines + Sync));
        if let Err(e) = hangup::hangup(self.at.into_data(), lines, hangup).await {
            tracing::warn!(error = %e, "hang-up incomplete");
        }
        drop(self.lock);
    }

    /// Waits for a call (auto-answer: counting RINGs and ATA, or S0) and
    /// returns the line once CONNECT comes.
    pub async fn answer(
        mut self,
        init: &[String],
        opts: &AnswerOptions,
        screening: &Screening,
        reporter: &Reporter,
        hangup: HangupOptions,
    ) -> Result<CallLine, Fatal> {
        for cmd in init {
            if let Err(e) = self.at.ok(cmd, opts.command_timeout).await {
                let msg = format!("modem init {cmd}: {e}");
                self.abandon(&hangup).await;
                return Err(fatal(EXIT_INIT, msg));
            }
        }
        reporter.emit("waiting", json!({}), "waiting for a call");
        let r = answer::wait_for_call(&mut self.at, opts, |ev| match ev {
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
                Ok(self.connected(hangup))
            }
            Err(e) => {
                let msg = e.to_string();
                let code = match e {
                    // Caller ID could not be switched on: a setup command
                    // failed, and the restriction cannot be enforced.
                    AnswerError::NoCallerId { .. } => EXIT_INIT,
                    AnswerError::ScreeningNeedsRingCount => EXIT_CONFIG,
                    _ => EXIT_FATAL,
                };
                self.abandon(&hangup).await;
                Err(fatal(code, msg))
            }
        }
    }
}

/// A port with a call up.
pub struct CallLine {
    data: DataPort<AsyncTty>,
    lines: Option<Lines>,
    lock: PortLock,
    /// None on a null-modem line: nothing to hang up.
    hangup: Option<HangupOptions>,
}

impl CallLine {
    /// PPP on the call until it ends; DCD dropping takes the lower layer
    /// down at once where the port reports it.
    pub async fn run<P: IpPlane>(
        &mut self,
        plane: &mut P,
        mut cfg: SessionConfig,
        reporter: &Reporter,
        stop: watch::Receiver<bool>,
    ) -> Result<Outcome, SessionError> {
        if let Some(h) = cfg.hooks.as_mut().filter(|h| h.speed == 0) {
            h.speed = self.data.get_ref().speed().unwrap_or(0);
        }
        let Some(lines) = self.lines.as_deref() else {
            return session::run(&mut self.data, plane, cfg, reporter, stop).await;
        };
        let (carrier_tx, carrier_rx) = watch::channel(true);
        cfg.carrier = Some(carrier_rx);
        let watch_dcd = async {
            hangup::carrier_lost(
                lines as &(dyn ModemLines + Sync),
                Duration::from_millis(500),
            )
            .await;
            let _ = carrier_tx.send(false);
            std::future::pending::<std::convert::Infallible>().await
        };
        tokio::select! {
            o = session::run(&mut self.data, plane, cfg, reporter, stop) => o,
            // The watch never completes: its output type has no value.
            never = watch_dcd => match never {},
        }
    }

    /// Hangs up (DTR, else +++ ATH0), resets the modem to idle, releases
    /// the port. A null-modem line is only released.
    pub async fn hang_up(self, reporter: &Reporter) {
        let Some(opts) = self.hangup else {
            drop(self.lock);
            return;
        };
        let lines = self.lines.as_deref().map(|l| l as &(dyn ModemLines + Sync));
        match hangup::hangup(self.data, lines, &opts).await {
            Ok(mut at) => {
                // An answering modem goes back to not answering (S0=0).
                if let Err(e) = answer::reset_idle(&mut at, opts.command_timeout).await {
                    tracing::debug!(error = %e, "modem reset after the call");
                }
            }
            Err(e) => tracing::warn!(error = %e, "hang-up incomplete"),
        }
        reporter.emit("hangup", json!({}), "hung up");
        drop(self.lock);
    }
}

/// Where lock files go unless told otherwise.
pub fn default_lock_dir() -> PathBuf {
    PathBuf::from(carrier_hw::lock::DEFAULT_LOCK_DIR)
}

/// The line `carrier answer` serves: a null-modem line, or a modem that
/// waited for the call.
pub struct AnswerLine(CallLine);

impl AnswerLine {
    /// Opens the line; through a modem, waits for a call to connect.
    /// None: `stop` came first.
    pub async fn open(
        line: &crate::LineArgs,
        m: &crate::AnswerModemArgs,
        screening: &Screening,
        reporter: &Reporter,
        mut stop: watch::Receiver<bool>,
        what: &str,
    ) -> Result<Option<AnswerLine>, Fatal> {
        let Some(device) = &line.device else {
            return Err(fatal(
                EXIT_CONFIG,
                "give --device PATH (a modem), or --direct --device PATH for a null-modem line",
            ));
        };
        let mode = match m.modem_answers {
            Some(n) => answer::AnswerMode::ModemAnswers(n),
            None => answer::AnswerMode::CountRings(m.rings),
        };
        // Before the port is touched: a restriction that cannot be
        // enforced is a configuration error, not a call answered anyway.
        screening.check(line.direct, mode)?;
        let lock_dir = m.lock_dir.clone().unwrap_or_else(default_lock_dir);
        let flow = line.flow.map(Into::into).unwrap_or_default();
        let port = ModemPort::open(device, line.speed, flow, &lock_dir)?;
        if line.direct {
            reporter.emit(
                "connect",
                json!({"device": device, "speed": line.speed, "direct": true}),
                &format!("{}: direct line, waiting for {what}", device.display()),
            );
            return Ok(Some(AnswerLine(port.direct())));
        }
        let opts = AnswerOptions {
            mode,
            ring_timeout: m.wait.map(Duration::from_secs),
            allowed_callers: screening.allowed.clone(),
            ..AnswerOptions::default()
        };
        for cmd in &m.init {
            carrier::profile::check_init_command(cmd)
                .map_err(|e| fatal(EXIT_CONFIG, format!("--init: {e}")))?;
        }
        let init = if m.init.is_empty() {
            answer::default_init()
        } else {
            m.init.clone()
        };
        let screened = screening.allowed.is_restricted();
        reporter.emit(
            "modem",
            json!({"device": device, "mode": format!("{mode:?}"), "screening": screened}),
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
            r = port.answer(&init, &opts, screening, reporter, HangupOptions::default()) => r.map(|c| Some(AnswerLine(c))),
            _ = stop.wait_for(|s| *s) => Ok(None),
        }
    }

    pub async fn run<P: IpPlane>(
        &mut self,
        plane: &mut P,
        cfg: SessionConfig,
        reporter: &Reporter,
        stop: watch::Receiver<bool>,
    ) -> Result<Outcome, SessionError> {
        self.0.run(plane, cfg, reporter, stop).await
    }

    /// Runs PPP on the answered call over the plane chosen on the
    /// command line.
    pub async fn run_over(
        &mut self,
        ip: IpChoice,
        cfg: SessionConfig,
        reporter: &Reporter,
        stop: watch::Receiver<bool>,
    ) -> Result<Outcome, Fatal> {
        let r = match ip {
            IpChoice::None(mut p) => self.0.run(&mut p, cfg, reporter, stop).await,
            IpChoice::Tun(mut p) => self.0.run(&mut p, cfg, reporter, stop).await,
        };
        r.map_err(|e| fatal(EXIT_FATAL, e.to_string()))
    }

    pub async fn close(self, reporter: &Reporter) {
        self.0.hang_up(reporter).await;
    }
}
