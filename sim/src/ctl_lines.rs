//! Control lines of a simulated modem. A PTY carries no DTR or DCD, so
//! carrier-sim publishes a Unix socket next to each modem link
//! (`DIR/modem0` and `DIR/modem0.ctl`) with a line protocol (see
//! sim/README.md): the client sends `GET`, `DTR 0|1` or `RTS 0|1`; every
//! command is answered with the whole state, `DCD 1 RI 0 DSR 1 CTS 1 DTR 1`,
//! and between answers the modem pushes what changed (`DCD 0`).
//!
//! [`CtlLines`] speaks it with blocking reads bounded by a short timeout,
//! so it fits the synchronous [`ModemLines`] trait like the ioctls do: the
//! simulator supplies its lines through the same trait a real port's
//! ioctls implement, and `carrier_hw` knows nothing of it.

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use carrier_hw::{InputCircuits, LinesError, ModemLines};

/// How long a command may take to be answered.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// A longer line is not the protocol; it ends the connection.
const MAX_LINE: usize = 256;
/// Pushed changes read while waiting for one reply; past this the socket
/// is not answering (a modem flapping DCD sends a few).
const MAX_PUSHED: usize = 64;

/// A connection to a simulated modem's control socket.
#[derive(Debug)]
pub struct CtlLines {
    path: PathBuf,
    timeout: Duration,
    /// None after an error: the next command reconnects, so a reply that
    /// came too late is never taken for the answer to a later command.
    conn: Mutex<Option<BufReader<UnixStream>>>,
}

impl CtlLines {
    pub fn connect(path: &Path) -> io::Result<CtlLines> {
        CtlLines::connect_with_timeout(path, DEFAULT_TIMEOUT)
    }

    pub fn connect_with_timeout(path: &Path, timeout: Duration) -> io::Result<CtlLines> {
        let conn = open(path, timeout)?;
        Ok(CtlLines {
            path: path.to_path_buf(),
            timeout,
            conn: Mutex::new(Some(conn)),
        })
    }

    /// The control socket of the simulated modem whose link is `device`,
    /// if there is one: `<device>.ctl`, and a socket.
    pub fn for_device(device: &Path) -> Option<CtlLines> {
        let path = ctl_path(device)?;
        match CtlLines::connect(&path) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::debug!(path = %path.display(), error = %e, "control socket found but not usable");
                None
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sends one command and returns the state it reports.
    fn command(&self, cmd: &str) -> Result<InputCircuits, LinesError> {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        // Taken out while in use: put back only after a clean exchange.
        let mut conn = match guard.take() {
            Some(c) => c,
            None => open(&self.path, self.timeout).map_err(LinesError::Io)?,
        };
        let lines = exchange(&mut conn, cmd).map_err(LinesError::Io)?;
        *guard = Some(conn);
        Ok(lines)
    }
}

/// `<device>.ctl` when it exists and is a socket.
pub fn ctl_path(device: &Path) -> Option<PathBuf> {
    let mut name: OsString = device.as_os_str().to_owned();
    name.push(".ctl");
    let path = PathBuf::from(name);
    let meta = std::fs::metadata(&path).ok()?;
    meta.file_type().is_socket().then_some(path)
}

/// The control lines for `device` when it is a simulated modem's link;
/// None for anything else (a real port answers the ioctls itself).
pub fn lines_for(device: &Path) -> Option<Box<dyn ModemLines + Send + Sync>> {
    CtlLines::for_device(device).map(|c| Box::new(c) as Box<dyn ModemLines + Send + Sync>)
}

fn open(path: &Path, timeout: Duration) -> io::Result<BufReader<UnixStream>> {
    let s = UnixStream::connect(path)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    Ok(BufReader::new(s))
}

fn exchange(conn: &mut BufReader<UnixStream>, cmd: &str) -> io::Result<InputCircuits> {
    conn.get_mut().write_all(format!("{cmd}\n").as_bytes())?;
    for _ in 0..=MAX_PUSHED {
        let mut line = String::new();
        let n = conn.by_ref().take(MAX_LINE as u64).read_line(&mut line)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the control socket closed",
            ));
        }
        if !line.ends_with('\n') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "overlong line on the control socket",
            ));
        }
        let line = line.trim();
        if let Some(msg) = line.strip_prefix("ERROR") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("control socket refused {cmd:?}:{msg}"),
            ));
        }
        // Pushed changes name only what changed; a reply names every
        // line, DSR and CTS included (which never change).
        if let Some(lines) = parse_full(line) {
            return Ok(lines);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        format!("no answer to {cmd:?} among the control socket's pushed changes"),
    ))
}

/// A full report (`DCD 1 RI 0 DSR 1 CTS 1 DTR 1`), or None for a partial
/// one or anything else.
pub(crate) fn parse_full(line: &str) -> Option<InputCircuits> {
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.len() % 2 != 0 {
        return None;
    }
    let (mut dcd, mut ri, mut dsr, mut cts) = (None, None, None, None);
    for pair in words.chunks(2) {
        let v = match pair[1] {
            "0" => false,
            "1" => true,
            _ => return None,
        };
        match pair[0].to_ascii_uppercase().as_str() {
            "DCD" => dcd = Some(v),
            "RI" => ri = Some(v),
            "DSR" => dsr = Some(v),
            "CTS" => cts = Some(v),
            _ => {}
        }
    }
    Some(InputCircuits {
        dcd: dcd?,
        ri: ri?,
        dsr: dsr?,
        cts: cts?,
    })
}

impl ModemLines for CtlLines {
    fn set_dtr(&self, on: bool) -> Result<(), LinesError> {
        self.command(if on { "DTR 1" } else { "DTR 0" }).map(|_| ())
    }

    fn set_rts(&self, on: bool) -> Result<(), LinesError> {
        self.command(if on { "RTS 1" } else { "RTS 0" }).map(|_| ())
    }

    fn get(&self) -> Result<InputCircuits, LinesError> {
        self.command("GET")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;
    use std::thread;

    #[test]
    fn parses_reports() {
        assert_eq!(
            parse_full("DCD 1 RI 0 DSR 1 CTS 1 DTR 1"),
            Some(InputCircuits {
                dcd: true,
                ri: false,
                dsr: true,
                cts: true
            })
        );
        assert_eq!(parse_full("DCD 0"), None);
        assert_eq!(parse_full("DCD 0 DTR 0"), None);
        assert_eq!(parse_full("DCD 1 RI 0 DSR 1 CTS x"), None);
        assert_eq!(parse_full("garbage"), None);
        assert_eq!(parse_full(""), None);
    }

    /// A fake modem: answers each command after pushing an unsolicited
    /// change first, and ERROR to anything unknown.
    fn serve(listener: UnixListener) -> thread::JoinHandle<Vec<String>> {
        thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            let mut w = s.try_clone().unwrap();
            let mut got = Vec::new();
            for line in BufReader::new(s).lines() {
                let line = line.unwrap();
                got.push(line.clone());
                let reply = match line.as_str() {
                    "GET" => "RI 1\nDCD 1 RI 1 DSR 1 CTS 1 DTR 1\n".to_string(),
                    "DTR 0" => "DCD 0\nDCD 0 RI 0 DSR 1 CTS 1 DTR 0\n".to_string(),
                    "DTR 1" | "RTS 1" | "RTS 0" => "DCD 0 RI 0 DSR 1 CTS 1 DTR 1\n".to_string(),
                    "HANG" => continue,
                    _ => "ERROR unknown\n".to_string(),
                };
                w.write_all(reply.as_bytes()).unwrap();
            }
            got
        })
    }

    #[test]
    fn talks_to_a_fake_socket() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("modem0");
        std::fs::write(&link, b"").unwrap();
        let sock = dir.path().join("modem0.ctl");
        let server = serve(UnixListener::bind(&sock).unwrap());
        assert_eq!(ctl_path(&link), Some(sock.clone()));
        let ctl = lines_for(&link).expect("a control socket");
        let l = ctl.get().unwrap();
        assert!(l.dcd && l.ri && l.dsr && l.cts);
        ctl.set_dtr(false).unwrap();
        ctl.set_dtr(true).unwrap();
        ctl.set_rts(true).unwrap();
        drop(ctl);
        assert_eq!(server.join().unwrap(), ["GET", "DTR 0", "DTR 1", "RTS 1"]);
    }

    #[test]
    fn no_socket_no_lines() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("ttyS0");
        assert!(lines_for(&link).is_none());
        // A plain file by that name is not a socket.
        std::fs::write(dir.path().join("ttyS0.ctl"), b"").unwrap();
        assert!(lines_for(&link).is_none());
    }

    #[test]
    fn silence_is_an_error_not_a_hang_and_it_reconnects() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("m.ctl");
        let listener = UnixListener::bind(&sock).unwrap();
        let server = thread::spawn(move || {
            // First client: reads and never answers, until it goes away.
            let (mut s, _) = listener.accept().unwrap();
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
            // Second client: answered.
            let (s, _) = listener.accept().unwrap();
            let mut w = s.try_clone().unwrap();
            let mut line = String::new();
            BufReader::new(s).read_line(&mut line).unwrap();
            w.write_all(b"DCD 1 RI 0 DSR 1 CTS 1 DTR 1\n").unwrap();
        });
        let ctl = CtlLines::connect_with_timeout(&sock, Duration::from_millis(100)).unwrap();
        assert!(matches!(ctl.get(), Err(LinesError::Io(_))));
        assert!(ctl.get().unwrap().dcd);
        server.join().unwrap();
    }

    #[test]
    fn endless_pushed_changes_are_an_error_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("m.ctl");
        let listener = UnixListener::bind(&sock).unwrap();
        let server = thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            let mut w = s.try_clone().unwrap();
            let mut line = String::new();
            BufReader::new(s).read_line(&mut line).unwrap();
            // Only partial reports, never the answer.
            for _ in 0..1000 {
                if w.write_all(b"DCD 1\n").is_err() {
                    return;
                }
            }
        });
        let ctl = CtlLines::connect(&sock).unwrap();
        let e = ctl.get().unwrap_err();
        assert!(e.to_string().contains("pushed changes"), "{e}");
        drop(ctl);
        server.join().unwrap();
    }

    #[test]
    fn error_reply_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("m.ctl");
        let server = serve(UnixListener::bind(&sock).unwrap());
        let ctl = CtlLines::connect(&sock).unwrap();
        let e = ctl.command("FROB").unwrap_err();
        assert!(e.to_string().contains("unknown"), "{e}");
        drop(ctl);
        server.join().unwrap();
    }
}
