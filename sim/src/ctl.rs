//! The control-line side channel. A PTY carries no DTR, DCD or RI, so
//! each modem listens on a Unix stream socket next to its link
//! (`DIR/modemN.ctl`) and speaks a line protocol (see sim/README.md):
//!
//! ```text
//! client: DTR 0 | DTR 1 | RTS 0 | RTS 1 | GET
//! modem:  DCD 1 RI 0 DSR 1 CTS 1 DTR 1   (the reply to every command)
//! modem:  DCD 0                          (unsolicited: what changed)
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::error::SimError;

/// The modem's control lines as a DTE sees them, and the DTR it sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CircuitState {
    pub dcd: bool,
    pub ri: bool,
    pub dsr: bool,
    pub cts: bool,
    /// DTR as the modem sees it: the port open and no client holding it
    /// low.
    pub dtr: bool,
}

impl CircuitState {
    fn fields(&self) -> [(&'static str, bool); 5] {
        [
            ("DCD", self.dcd),
            ("RI", self.ri),
            ("DSR", self.dsr),
            ("CTS", self.cts),
            ("DTR", self.dtr),
        ]
    }

    /// Only the lines that differ from `before`, or None.
    pub fn diff(&self, before: &CircuitState) -> Option<String> {
        let parts: Vec<String> = self
            .fields()
            .iter()
            .zip(before.fields())
            .filter(|(now, then)| now.1 != then.1)
            .map(|((name, v), _)| format!("{name} {}", u8::from(*v)))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }
}

impl fmt::Display for CircuitState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .fields()
            .iter()
            .map(|(name, v)| format!("{name} {}", u8::from(*v)))
            .collect();
        f.write_str(&parts.join(" "))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Dtr(bool),
    /// Accepted for symmetry with a real port; a PTY has no flow control
    /// to act on.
    Rts(bool),
    Get,
}

pub fn parse(line: &str) -> Result<Command, String> {
    let words: Vec<String> = line
        .split_whitespace()
        .map(str::to_ascii_uppercase)
        .collect();
    let level = |w: &str| match w {
        "0" => Ok(false),
        "1" => Ok(true),
        other => Err(format!("bad level {other:?} (0 or 1)")),
    };
    match words.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["GET"] => Ok(Command::Get),
        ["DTR", v] => level(v).map(Command::Dtr),
        ["RTS", v] => level(v).map(Command::Rts),
        _ => Err(format!("unknown command {:?}", line.trim())),
    }
}

/// A client's command for the modem, or (command None) its goodbye.
#[derive(Debug)]
pub struct Request {
    pub client: u64,
    pub command: Option<Command>,
    pub reply: Option<oneshot::Sender<CircuitState>>,
}

/// Listens on `path` (replacing a stale socket) until the task is aborted.
pub fn serve(
    path: &Path,
    lines: watch::Receiver<CircuitState>,
    requests: mpsc::Sender<Request>,
) -> Result<JoinHandle<()>, SimError> {
    remove_stale(path)?;
    let listener = UnixListener::bind(path).map_err(|e| SimError::io(path, e))?;
    Ok(tokio::spawn(accept_loop(listener, lines, requests)))
}

fn remove_stale(path: &Path) -> Result<(), SimError> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            std::fs::remove_file(path).map_err(|e| SimError::io(path, e))
        }
        Ok(_) => Err(SimError::io(
            PathBuf::from(path),
            std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "exists and is not a socket",
            ),
        )),
        Err(_) => Ok(()),
    }
}

async fn accept_loop(
    listener: UnixListener,
    lines: watch::Receiver<CircuitState>,
    requests: mpsc::Sender<Request>,
) {
    let mut next_id = 0u64;
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                next_id += 1;
                tokio::spawn(client(stream, next_id, lines.clone(), requests.clone()));
            }
            Err(e) => {
                tracing::warn!(error = %e, "control socket accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

async fn client(
    stream: UnixStream,
    id: u64,
    mut lines: watch::Receiver<CircuitState>,
    requests: mpsc::Sender<Request>,
) {
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r).lines();
    let mut sent = *lines.borrow_and_update();
    loop {
        tokio::select! {
            line = r.next_line() => {
                let Ok(Some(line)) = line else { break };
                if line.trim().is_empty() {
                    continue;
                }
                let answer = match parse(&line) {
                    Ok(command) => {
                        let (tx, rx) = oneshot::channel();
                        let req = Request { client: id, command: Some(command), reply: Some(tx) };
                        if requests.send(req).await.is_err() {
                            break;
                        }
                        let Ok(now) = rx.await else { break };
                        sent = now;
                        now.to_string()
                    }
                    Err(msg) => format!("ERROR {msg}"),
                };
                if w.write_all(format!("{answer}\n").as_bytes()).await.is_err() {
                    break;
                }
            }
            changed = lines.changed() => {
                if changed.is_err() {
                    break;
                }
                let now = *lines.borrow_and_update();
                if let Some(diff) = now.diff(&sent) {
                    sent = now;
                    if w.write_all(format!("{diff}\n").as_bytes()).await.is_err() {
                        break;
                    }
                }
            }
        }
    }
    let _ = requests
        .send(Request {
            client: id,
            command: None,
            reply: None,
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands() {
        assert_eq!(parse("GET"), Ok(Command::Get));
        assert_eq!(parse("dtr 0\r"), Ok(Command::Dtr(false)));
        assert_eq!(parse("DTR 1"), Ok(Command::Dtr(true)));
        assert_eq!(parse("RTS 1"), Ok(Command::Rts(true)));
        assert!(parse("DTR 2").is_err());
        assert!(parse("DTR").is_err());
        assert!(parse("HELLO").is_err());
    }

    #[test]
    fn formats_lines_and_changes() {
        let a = CircuitState {
            dcd: true,
            ri: false,
            dsr: true,
            cts: true,
            dtr: true,
        };
        assert_eq!(a.to_string(), "DCD 1 RI 0 DSR 1 CTS 1 DTR 1");
        let b = CircuitState {
            dcd: false,
            ri: true,
            ..a
        };
        assert_eq!(b.diff(&a).as_deref(), Some("DCD 0 RI 1"));
        assert_eq!(a.diff(&a), None);
    }
}
