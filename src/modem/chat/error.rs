//! What can go wrong with a chat script, and chat's exit code for it.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("line {line}: unterminated quote")]
    UnterminatedQuote { line: usize },
    #[error("illegal or too-long {keyword} string ({string:?}): at most 49 bytes")]
    TooLong {
        keyword: &'static str,
        string: String,
    },
    #[error("expect string is too long ({len} bytes; at most 1024)")]
    ExpectTooLong { len: usize },
}

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ChatError {
    #[error("chat script: {0}")]
    Parse(#[from] ParseError),
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("too many ABORT strings (at most 50)")]
    TooManyAborts,
    #[error("too many REPORT strings (at most 50)")]
    TooManyReports,
    #[error("hangup")]
    Hangup,
    #[error("I/O error: {0}")]
    Io(String),
}

impl ChatError {
    /// chat's exit code for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            ChatError::Parse(_) | ChatError::File { .. } => 1,
            ChatError::TooManyAborts
            | ChatError::TooManyReports
            | ChatError::Hangup
            | ChatError::Io(_) => 2,
        }
    }
}
