//! What can stop the simulator from starting or running.

use std::io;
use std::path::PathBuf;

use carrier_hw::HwError;
use thiserror::Error;

use crate::at::ProfileError;

#[derive(Debug, Error)]
pub enum SimError {
    #[error(transparent)]
    Hw(#[from] HwError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("route {route:?}: {reason}")]
    Route { route: String, reason: String },
    #[error("no service named {0} in this build")]
    NoService(String),
    #[error("unknown modem model {name:?} (known: {known})")]
    UnknownModel { name: String, known: String },
    #[error("{name}: {source}")]
    Profile { name: String, source: ProfileError },
    #[error("{0}")]
    Invalid(String),
    #[error("cannot wait for signals: {0}")]
    Signal(io::Error),
}

impl SimError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> SimError {
        SimError::Io {
            path: path.into(),
            source,
        }
    }
}
