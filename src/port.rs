//! A port with a call up on it: locked, its control lines found, the
//! modem in data state. PPP runs on it with DCD watched; hanging up leaves
//! the modem on-hook and the lock released.

use std::path::{Path, PathBuf};
use std::time::Duration;

use carrier_hw::{AsyncTty, Flow, HwError, LockError, LockOptions, ModemLines, PortLock};
use serde_json::json;
use thiserror::Error;
use tokio::sync::watch;

use crate::events::Reporter;
use crate::exit;
use crate::modem::answer;
use crate::modem::hangup::{self, HangupOptions};
use crate::modem::{AtPort, DataPort, ModemError, ReaderConfig};
use crate::net::IpPlane;
use crate::session::{self, Outcome, SessionConfig, SessionError};

/// A port's modem control lines: its tty's own, or a PTY's from whoever
/// made it.
pub type ControlLines = Box<dyn ModemLines + Send + Sync>;

/// Control lines for a PTY, from whoever made it: a PTY has none of its
/// own, and the library knows nothing of the simulator that supplies them.
pub type PtyLines = fn(&Path) -> Option<ControlLines>;

/// Why the port could not be had or made ready: locked, opened, its
/// modem initialised. A whole call's failure is a
/// [`CallError`](crate::call::CallError).
#[derive(Debug, Error)]
pub enum PortError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Open(#[from] HwError),
    #[error("modem init {cmd}: {source}")]
    Init {
        cmd: String,
        #[source]
        source: ModemError,
    },
}

impl PortError {
    pub fn exit_code(&self) -> u8 {
        match self {
            PortError::Lock(_) => exit::LOCK,
            PortError::Open(_) => exit::OPEN,
            PortError::Init { .. } => exit::INIT,
        }
    }
}

/// Where a port is and how to open it.
#[derive(Clone, Debug)]
pub struct PortSpec {
    pub device: PathBuf,
    pub speed: Option<u32>,
    pub flow: Flow,
    pub lock_dir: PathBuf,
    /// Asked for the lines of a PTY only; a real port is never probed.
    pub pty_lines: Option<PtyLines>,
}

impl PortSpec {
    pub fn new(device: impl Into<PathBuf>) -> PortSpec {
        PortSpec {
            device: device.into(),
            speed: None,
            flow: Flow::default(),
            lock_dir: default_lock_dir(),
            pty_lines: None,
        }
    }
}

/// Where lock files go unless told otherwise.
pub fn default_lock_dir() -> PathBuf {
    PathBuf::from(carrier_hw::lock::DEFAULT_LOCK_DIR)
}

/// The lines of a port: its own ioctls on a duplicate of its descriptor
/// (the same open file, not a second open by a path that may have moved).
/// A PTY has none; whoever made it may supply them. Otherwise result codes
/// and LCP echoes are all there is, said once.
fn control_lines(spec: &PortSpec, tty: &AsyncTty) -> Option<ControlLines> {
    use std::os::fd::AsFd;
    if tty.is_pty() {
        if let Some(l) = spec.pty_lines.and_then(|f| f(&spec.device)) {
            return Some(l);
        }
    }
    let file = std::fs::File::from(tty.as_fd().try_clone_to_owned().ok()?);
    match file.get() {
        Ok(_) => Some(Box::new(file)),
        Err(e) => {
            tracing::warn!(device = %spec.device.display(), error = %e,
                "the port reports no modem control lines: relying on result codes and LCP echoes");
            None
        }
    }
}

/// A locked, open port in command state.
pub struct ModemPort {
    pub at: AtPort<AsyncTty>,
    pub lines: Option<ControlLines>,
    lock: PortLock,
}

impl ModemPort {
    /// Locks (UUCP) and opens the port, raising DTR where it can.
    pub fn open(spec: &PortSpec) -> Result<ModemPort, PortError> {
        let lock = PortLock::acquire_with(&spec.device, &LockOptions::in_dir(&spec.lock_dir))?;
        let tty = AsyncTty::open(&spec.device, spec.speed)?;
        tty.set_flow(spec.flow)?;
        let lines = control_lines(spec, &tty);
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

    /// Runs the init commands; on a failure the modem is left on-hook and
    /// the port released.
    pub async fn init(
        mut self,
        init: &[String],
        timeout: Duration,
        hangup: &HangupOptions,
    ) -> Result<ModemPort, PortError> {
        for cmd in init {
            if let Err(source) = self.at.ok(cmd, timeout).await {
                self.abandon(hangup).await;
                return Err(PortError::Init {
                    cmd: cmd.clone(),
                    source,
                });
            }
        }
        Ok(self)
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
}

/// A port with a call up.
pub struct CallLine {
    data: DataPort<AsyncTty>,
    lines: Option<ControlLines>,
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
        // A descriptor of its own for TIOCMIWAIT: the session has the port.
        let wake = {
            use std::os::fd::AsFd;
            self.data.get_ref().as_fd().try_clone_to_owned().ok()
        };
        let watch_dcd = async {
            let lines = lines as &(dyn ModemLines + Sync);
            let poll = Duration::from_millis(500);
            match &wake {
                Some(fd) => {
                    use std::os::fd::AsFd;
                    hangup::carrier_lost_on(lines, fd.as_fd(), poll).await
                }
                None => hangup::carrier_lost(lines, poll).await,
            }
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
