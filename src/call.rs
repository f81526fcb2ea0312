//! Why a whole call failed: the port it needed, the wait for it, the PPP
//! session on it, its interface, or (for an inbound service call) the
//! enablement. Above [`crate::port`] and [`crate::inbound`], so the port
//! knows only its own failures.

use thiserror::Error;

use crate::exit;
use crate::inbound::state::InboundError;
use crate::modem::answer::AnswerError;
use crate::port::PortError;
use crate::session::SessionError;

/// Why a call could not be placed, answered or carried; each with its
/// exit status.
#[derive(Debug, Error)]
pub enum CallError {
    #[error(transparent)]
    Port(#[from] PortError),
    #[error(transparent)]
    Answer(#[from] AnswerError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Inbound(#[from] InboundError),
    #[error("{ifname}: {source}")]
    Interface {
        ifname: String,
        #[source]
        source: std::io::Error,
    },
    /// A configuration that cannot work, found before the port is used.
    #[error("{0}")]
    Config(String),
}

impl CallError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CallError::Port(e) => e.exit_code(),
            // Caller ID could not be switched on: a setup command failed,
            // and the restriction cannot be enforced.
            CallError::Answer(AnswerError::NoCallerId { .. }) => exit::INIT,
            CallError::Answer(AnswerError::ScreeningNeedsRingCount) => exit::CONFIG,
            CallError::Answer(_) | CallError::Session(_) | CallError::Interface { .. } => {
                exit::FATAL
            }
            CallError::Inbound(e) => e.exit_code(),
            CallError::Config(_) => exit::CONFIG,
        }
    }
}
