//! Secrets in pppd's format (`pap-secrets`, `chap-secrets`):
//! `client server secret [address ...]`, one entry a line, `#` comments,
//! `"..."`/`'...'` quoting, backslash escapes and `*` wildcards, so files
//! people have for pppd work unchanged.

use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use thiserror::Error;

use zeroize::Zeroizing;

use crate::ppp::addrs::AllowedAddrs;
use crate::ppp::auth::Secret;

#[derive(Debug, Error)]
pub enum SecretsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: mode {mode:04o} lets group or others read it; chmod 600 it")]
    Permissions { path: PathBuf, mode: u32 },
    #[error("{path}: line {line}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// The table itself is the core's (no I/O there); its pppd file format is
/// this module's.
pub use crate::ppp::auth::{Entry, SecretsTable};

impl SecretsTable {
    /// Parses the text of a secrets file; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, SecretsError> {
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let words = split_words(line).map_err(|message| SecretsError::Syntax {
                path: origin.to_path_buf(),
                line: n + 1,
                message,
            })?;
            match words.len() {
                0 => continue,
                1 | 2 => {
                    return Err(SecretsError::Syntax {
                        path: origin.to_path_buf(),
                        line: n + 1,
                        message: "expected `client server secret [addresses]`".into(),
                    })
                }
                _ => {}
            }
            let mut w = words.into_iter();
            let (client, server, secret) = (w.next(), w.next(), w.next());
            let rest: Vec<String> = w.collect();
            let addresses = if rest.is_empty() {
                None
            } else {
                Some(
                    AllowedAddrs::parse(&rest).map_err(|message| SecretsError::Syntax {
                        path: origin.to_path_buf(),
                        line: n + 1,
                        message,
                    })?,
                )
            };
            entries.push(Entry {
                client: client.unwrap_or_default(),
                server: server.unwrap_or_default(),
                secret: Secret::new(secret.unwrap_or_default().into_bytes()),
                addresses,
            });
        }
        Ok(SecretsTable::new(entries))
    }

    /// Reads a secrets file, refusing one that group or others can read.
    pub fn load(path: &Path) -> Result<Self, SecretsError> {
        let text = read_private(path)?;
        Self::parse(&text, path)
    }
}

/// Reads a file holding secrets after checking that only its owner can
/// read it. The mode is taken from the open descriptor, so the file checked
/// is the file read.
/// The text is wiped from memory when dropped.
pub fn read_private(path: &Path) -> Result<Zeroizing<String>, SecretsError> {
    let io = |source| SecretsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = fs::File::open(path).map_err(io)?;
    let mode = f.metadata().map_err(io)?.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(SecretsError::Permissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    let mut text = Zeroizing::new(String::new());
    f.read_to_string(&mut text).map_err(io)?;
    Ok(text)
}

/// pppd's getword(): whitespace-separated words, quotes, backslash escapes,
/// `#` at the start of a word begins a comment.
fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.peek() {
            None | Some('#') => return Ok(words),
            _ => {}
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match (quote, c) {
                (None, c) if c.is_whitespace() => break,
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (_, '\\') => match chars.next() {
                    Some('n') => word.push('\n'),
                    Some('t') => word.push('\t'),
                    Some('r') => word.push('\r'),
                    Some(e) => word.push(e),
                    None => return Err("backslash at end of line".into()),
                },
                (_, c) => word.push(c),
            }
        }
        if quote.is_some() {
            return Err("unterminated quote".into());
        }
        words.push(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> SecretsTable {
        SecretsTable::parse(text, Path::new("test")).unwrap()
    }

    #[test]
    fn pppd_syntax() {
        let t = table(
            "# comment\n\
             alice * s3cret *\n\
             \"bob smith\" server 'pa ss' 10.0.0.2 10.0.0.3 # trailing\n\
             carol server a\\\"b\n\
             \n",
        );
        assert_eq!(t.entries().len(), 3);
        assert_eq!(t.entries()[0].secret.expose(), b"s3cret");
        assert_eq!(t.entries()[1].client, "bob smith");
        assert_eq!(t.entries()[1].secret.expose(), b"pa ss");
        let a = t.entries()[1].addresses.as_ref().unwrap();
        assert_eq!(a.to_string(), "10.0.0.2 10.0.0.3");
        assert_eq!(t.entries()[0].addresses, Some(AllowedAddrs::any()));
        assert_eq!(t.entries()[2].addresses, None);
        assert_eq!(t.entries()[2].secret.expose(), b"a\"b");
    }

    #[test]
    fn exact_names_beat_wildcards() {
        let t = table("* * any\nalice * alice-any\nalice server exact\n* server srv\n");
        assert_eq!(
            t.lookup("alice", "server").unwrap().secret.expose(),
            b"exact"
        );
        assert_eq!(
            t.lookup("alice", "other").unwrap().secret.expose(),
            b"alice-any"
        );
        assert_eq!(t.lookup("bob", "server").unwrap().secret.expose(), b"srv");
        assert_eq!(t.lookup("bob", "x").unwrap().secret.expose(), b"any");
        assert!(table("alice server s\n").lookup("bob", "server").is_none());
    }

    #[test]
    fn broken_lines_name_the_line() {
        let e = SecretsTable::parse("alice * ok\nbroken line\n", Path::new("f")).unwrap_err();
        assert!(e.to_string().starts_with("f: line 2:"), "{e}");
        let e = SecretsTable::parse("a b \"open\n", Path::new("f")).unwrap_err();
        assert!(e.to_string().contains("unterminated quote"), "{e}");
        let e =
            SecretsTable::parse("alice * ok\nbob * ok gw.example\n", Path::new("f")).unwrap_err();
        assert!(e.to_string().starts_with("f: line 2:"), "{e}");
        assert!(
            e.to_string().contains("host names are not looked up"),
            "{e}"
        );
    }

    #[test]
    fn secrets_never_print() {
        let t = table("alice * s3cret\n");
        assert!(!format!("{t:?}").contains("s3cret"));
    }

    #[test]
    fn group_readable_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("carrier-secrets-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("pap-secrets");
        fs::write(&p, "alice * s3cret\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            SecretsTable::load(&p),
            Err(SecretsError::Permissions { mode: 0o644, .. })
        ));
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(SecretsTable::load(&p).unwrap().entries().len(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }
}
