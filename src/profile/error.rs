//! What can be wrong with a profile, and the one line that says so.

use std::fmt;
use std::io;
use std::path::PathBuf;

use thiserror::Error;

use crate::secrets::SecretsError;

/// What went wrong with a profile; see [`ProfileError`].
#[derive(Debug)]
pub enum ProfileErrorKind {
    /// The file could not be read.
    Io(io::Error),
    /// No `NAME.toml` in any of the directories searched.
    NotFound {
        name: String,
        searched: Vec<PathBuf>,
    },
    /// A profile name that is not a plain file name.
    BadName(String),
    /// Not TOML.
    Syntax(String),
    /// TOML, but not a profile: an unknown key, a wrong type.
    Schema(String),
    /// A value a profile cannot have.
    Invalid(String),
    /// A password in a file that group or others can read.
    Permissions { mode: u32 },
    /// The password-file could not be read, or is readable by others.
    PasswordFile(SecretsError),
}

/// A profile that cannot be used. Its Display is the one line to show:
/// `FILE:LINE: FIELD: message`, leaving out what is not known.
#[derive(Debug)]
pub struct ProfileError {
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    /// The field's path in the file: `speed`, `numbers[1].number`.
    pub field: Option<String>,
    pub kind: ProfileErrorKind,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut prefix = String::new();
        if let Some(file) = &self.file {
            prefix.push_str(&file.display().to_string());
            if let Some(line) = self.line {
                prefix.push_str(&format!(":{line}"));
            }
            prefix.push_str(": ");
        }
        if let Some(field) = &self.field {
            prefix.push_str(field);
            prefix.push_str(": ");
        }
        f.write_str(&prefix)?;
        match &self.kind {
            ProfileErrorKind::Io(e) => write!(f, "{e}"),
            ProfileErrorKind::NotFound { name, searched } => {
                let dirs: Vec<String> = searched.iter().map(|d| d.display().to_string()).collect();
                if dirs.is_empty() {
                    write!(f, "no profile {name:?}: no configuration directory")
                } else {
                    write!(
                        f,
                        "no profile {name:?} ({name}.toml in {})",
                        dirs.join(", ")
                    )
                }
            }
            ProfileErrorKind::BadName(name) => write!(
                f,
                "{name:?} is not a profile name (letters, digits, - _ .; or give a path)"
            ),
            ProfileErrorKind::Syntax(m)
            | ProfileErrorKind::Schema(m)
            | ProfileErrorKind::Invalid(m) => f.write_str(m),
            ProfileErrorKind::Permissions { mode } => write!(
                f,
                "the file holds a password but its mode {mode:04o} lets group or others read it; \
                 chmod 600 it, or move the password to a password-file"
            ),
            ProfileErrorKind::PasswordFile(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ProfileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ProfileErrorKind::Io(e) => Some(e),
            ProfileErrorKind::PasswordFile(e) => Some(e),
            _ => None,
        }
    }
}

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// serde's "unknown field `x`, expected one of `a`, `b`" is long for a
/// profile's forty fields: keep the news, and suggest a near name.
pub(super) fn shorten_unknown_field(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message.to_string();
    };
    let Some((name, expected)) = rest.split_once('`') else {
        return message.to_string();
    };
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    let best = candidates
        .iter()
        .map(|c| (distance(name, c), *c))
        .min()
        .filter(|(d, c)| *d <= 2.max(c.len() / 4));
    match best {
        Some((_, c)) => format!("unknown field; did you mean `{c}`?"),
        None => "unknown field".to_string(),
    }
}

/// A one-line message from a parser's, which may span lines.
pub(super) fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A profile and flags that make no call: a configuration error, in one
/// line.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct MergeError(String);

impl MergeError {
    pub fn new(message: impl Into<String>) -> MergeError {
        MergeError(message.into())
    }
}
