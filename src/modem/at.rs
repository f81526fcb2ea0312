//! A modem in command state, over any async byte stream: send a command
//! line, collect its answer up to the final result code (V.250 §5.7.1),
//! and hand the port over for data once a call is up.
//!
//! [`AtPort`] owns the port and a [`LineReader`]; everything it waits for
//! has a deadline, and nothing the modem sends (noise, half lines, binary)
//! makes it panic or wait for ever.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::Instant;

use super::reader::{LineReader, ModemOutput, ReaderConfig, ReaderStats};
use super::result::{ResultCode, Unsolicited};

/// Result codes as words (V1), not suppressed (Q0), commands echoed (E1):
/// what the reader and every init sequence expect.
pub const VERBOSE_RESULTS: &str = "ATQ0 V1 E1";

/// How much is read from the port at a time.
const READ_CHUNK: usize = 1024;

#[derive(Debug, Error)]
pub enum ModemError {
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout { what: String, after: Duration },
    /// End of file or EIO/ENXIO/ENODEV on the port: the far side of a PTY
    /// closed, a USB modem was unplugged, the line hung up.
    #[error("the modem went away (end of file or hang-up on the port)")]
    Gone,
    #[error("modem I/O: {0}")]
    Io(#[source] io::Error),
    #[error("the modem answered {result} to {cmd}")]
    Unexpected { cmd: String, result: ResultCode },
    #[error("this does not look like a modem: {reason}")]
    NotAModem { reason: String },
}

impl ModemError {
    fn from_io(e: io::Error) -> ModemError {
        let gone = matches!(
            e.kind(),
            io::ErrorKind::UnexpectedEof
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::ConnectionReset
        );
        if gone || carrier_hw::is_hangup(&e) {
            ModemError::Gone
        } else {
            ModemError::Io(e)
        }
    }
}

/// The answer to one command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Information text (ATI, S-register values, +GMM), in order.
    pub info: Vec<String>,
    pub result: ResultCode,
}

/// A modem port in command state.
#[derive(Debug)]
pub struct AtPort<P> {
    port: P,
    reader: LineReader,
    unsolicited: VecDeque<Unsolicited>,
}

impl<P: AsyncRead + AsyncWrite + Unpin> AtPort<P> {
    pub fn new(port: P, cfg: ReaderConfig) -> Self {
        AtPort {
            port,
            reader: LineReader::new(cfg),
            unsolicited: VecDeque::new(),
        }
    }

    /// Sends `cmd` (without its CR) and waits up to `timeout` for the
    /// final result code. The echo is dropped, information lines are
    /// collected, RING and caller ID lines are kept for
    /// [`AtPort::take_unsolicited`]. Any final result comes back as
    /// `Ok`; whether ERROR or BUSY is a failure is the caller's business
    /// (see [`AtPort::ok`]).
    pub async fn command(&mut self, cmd: &str, timeout: Duration) -> Result<Response, ModemError> {
        // Complete lines already here came before this command: they are
        // not its answer.
        self.discard_stale();
        let noise_before = self.reader.stats().lost_to_noise();
        let octets_before = self.reader.stats().lost_octets;
        tracing::debug!(cmd, "modem <-");
        // V.250 §6.2.6: the result of the command that sets V comes in
        // the new form already.
        if let Some(verbose) = verbose_after(cmd) {
            self.reader.set_numeric(!verbose);
        }
        let line = format!("{cmd}\r");
        self.reader.expect_echo(line.as_bytes());
        let deadline = crate::deadline::after(Instant::now(), timeout);
        self.write(line.as_bytes(), deadline, cmd).await?;
        let mut info = Vec::new();
        loop {
            let line = match self.read_line(deadline).await {
                Ok(line) => line,
                Err(ModemError::Timeout { .. }) => {
                    let stats = self.reader.stats();
                    let junk = stats.lost_to_noise() - noise_before;
                    let octets = stats.lost_octets - octets_before;
                    return Err(if junk > 0 {
                        ModemError::NotAModem {
                            reason: format!(
                                "no answer to {cmd} within {timeout:?}, only noise \
                                 ({octets} octets of it, {} lines of text)",
                                info.len()
                            ),
                        }
                    } else {
                        ModemError::Timeout {
                            what: format!("the answer to {cmd}"),
                            after: timeout,
                        }
                    });
                }
                Err(e) => return Err(e),
            };
            match line {
                ModemOutput::Echo(_) => {}
                ModemOutput::Info(text) => info.push(text),
                ModemOutput::Unsolicited(u) => self.unsolicited.push_back(u),
                ModemOutput::Result(result) if result.is_final() => {
                    tracing::debug!(cmd, %result, "modem ->");
                    return Ok(Response { info, result });
                }
                // An intermediate code of a table we do not know.
                ModemOutput::Result(other) => info.push(other.to_string()),
            }
        }
    }

    /// [`AtPort::command`], and anything but OK is
    /// [`ModemError::Unexpected`].
    pub async fn ok(&mut self, cmd: &str, timeout: Duration) -> Result<Response, ModemError> {
        let r = self.command(cmd, timeout).await?;
        match r.result {
            ResultCode::Ok => Ok(r),
            result => Err(ModemError::Unexpected {
                cmd: cmd.to_owned(),
                result,
            }),
        }
    }

    /// The next line of any kind (RING, CONNECT, NO CARRIER, text),
    /// waiting at most `timeout`. RING and caller ID lines that arrived
    /// during a command come first, in order (unless
    /// [`AtPort::take_unsolicited`] took them).
    pub async fn next_line(&mut self, timeout: Duration) -> Result<ModemOutput, ModemError> {
        if let Some(u) = self.unsolicited.pop_front() {
            return Ok(ModemOutput::Unsolicited(u));
        }
        let deadline = crate::deadline::after(Instant::now(), timeout);
        self.read_line(deadline).await.map_err(|e| match e {
            ModemError::Timeout { what, .. } => ModemError::Timeout {
                what,
                after: timeout,
            },
            e => e,
        })
    }

    /// RING and caller ID lines seen while waiting for command answers.
    pub fn take_unsolicited(&mut self) -> Vec<Unsolicited> {
        self.unsolicited.drain(..).collect()
    }

    /// Aborts a call attempt (ATD or ATA still waiting): any character
    /// does it (V.250 §6.3.1.9), and the modem answers NO CARRIER. Waits
    /// for that final result at most `timeout`; returns it if it came.
    pub async fn abort_call(&mut self, timeout: Duration) -> Option<ResultCode> {
        let deadline = crate::deadline::after(Instant::now(), timeout);
        if self.write(b"\r", deadline, "abort").await.is_err() {
            return None;
        }
        loop {
            match self.read_line(deadline).await {
                Ok(ModemOutput::Result(r)) if r.is_final() => return Some(r),
                Ok(ModemOutput::Unsolicited(u)) => self.unsolicited.push_back(u),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    pub fn stats(&self) -> ReaderStats {
        self.reader.stats()
    }

    pub fn get_ref(&self) -> &P {
        &self.port
    }

    pub fn get_mut(&mut self) -> &mut P {
        &mut self.port
    }

    /// Bytes read but not yet taken as lines (for a chat script that
    /// takes over the port); the reader is left empty.
    pub fn take_buffered(&mut self) -> Vec<u8> {
        self.reader.take_remaining()
    }

    /// Gives back bytes for the next reader of the port: lines, or the
    /// data port after [`AtPort::into_data`].
    pub fn unread(&mut self, bytes: &[u8]) {
        self.reader.push(bytes, Instant::now().into_std());
    }

    /// Writes raw bytes (no CR added), bounded by `timeout`.
    pub async fn write_raw(&mut self, bytes: &[u8], timeout: Duration) -> Result<(), ModemError> {
        self.write(
            bytes,
            crate::deadline::after(Instant::now(), timeout),
            "write",
        )
        .await
    }

    /// Reads what the port has, at most until `deadline`: `Ok(None)` on
    /// timeout. For executors (chat scripts) that do their own matching.
    pub(crate) async fn read_raw(
        &mut self,
        buf: &mut [u8],
        deadline: Option<Instant>,
    ) -> Result<Option<usize>, ModemError> {
        let read = self.port.read(buf);
        let n = match deadline {
            Some(d) => match tokio::time::timeout_at(d, read).await {
                Ok(r) => r,
                Err(_) => return Ok(None),
            },
            None => read.await,
        };
        match n {
            Ok(0) => Err(ModemError::Gone),
            Ok(n) => Ok(Some(n)),
            Err(e) => Err(ModemError::from_io(e)),
        }
    }

    /// The port for data, after CONNECT: whatever the reader already
    /// holds past the CONNECT line (the peer's first PPP frames often
    /// come in the same read) is read first.
    pub fn into_data(mut self) -> DataPort<P> {
        let pending = self.reader.take_remaining();
        if !pending.is_empty() {
            tracing::debug!(bytes = pending.len(), "data that came with CONNECT");
        }
        DataPort {
            pending,
            pos: 0,
            port: self.port,
        }
    }

    /// The port, dropping anything buffered.
    pub fn into_inner(self) -> P {
        self.port
    }

    fn discard_stale(&mut self) {
        while let Some(line) = self.reader.poll_line() {
            match line {
                ModemOutput::Unsolicited(u) => self.unsolicited.push_back(u),
                other => tracing::debug!(line = ?other, "modem said, before the command"),
            }
        }
    }

    async fn write(
        &mut self,
        bytes: &[u8],
        deadline: Instant,
        what: &str,
    ) -> Result<(), ModemError> {
        let started = Instant::now();
        let io = async {
            self.port.write_all(bytes).await?;
            self.port.flush().await
        };
        match tokio::time::timeout_at(deadline, io).await {
            Ok(r) => r.map_err(ModemError::from_io),
            // A port that does not drain: flow control held off for good.
            Err(_) => Err(ModemError::Timeout {
                what: format!("the port to take {what}"),
                after: deadline.saturating_duration_since(started),
            }),
        }
    }

    /// The next line, reading the port as needed until `deadline`.
    async fn read_line(&mut self, deadline: Instant) -> Result<ModemOutput, ModemError> {
        let mut buf = [0u8; READ_CHUNK];
        loop {
            if let Some(line) = self.reader.poll_line() {
                return Ok(line);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ModemError::Timeout {
                    what: "a line from the modem".into(),
                    after: Duration::ZERO,
                });
            }
            // Wake up for the reader's own deadline too: a half line with
            // no terminator (a prompt) is taken as complete after a while.
            let flush_at = self.reader.poll_timeout().map(Instant::from_std);
            let wake = flush_at.map_or(deadline, |f| f.min(deadline));
            match tokio::time::timeout_at(wake, self.port.read(&mut buf)).await {
                Ok(Ok(0)) => return Err(ModemError::Gone),
                Ok(Ok(n)) => self.reader.push(&buf[..n], Instant::now().into_std()),
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(Err(e)) => return Err(ModemError::from_io(e)),
                Err(_) => self.reader.handle_timeout(Instant::now().into_std()),
            }
        }
    }
}

/// The port in data state: reads first yield what came with CONNECT.
#[derive(Debug)]
pub struct DataPort<P> {
    pending: Vec<u8>,
    pos: usize,
    port: P,
}

impl<P> DataPort<P> {
    /// The port again (to hang up); unread early bytes are dropped.
    pub fn into_inner(self) -> P {
        self.port
    }

    pub fn get_ref(&self) -> &P {
        &self.port
    }

    /// Bytes that came with CONNECT and have not been read yet.
    pub fn pending(&self) -> &[u8] {
        &self.pending[self.pos..]
    }
}

impl<P: AsyncRead + Unpin> AsyncRead for DataPort<P> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.pos < this.pending.len() {
            let n = (this.pending.len() - this.pos).min(buf.remaining());
            buf.put_slice(&this.pending[this.pos..this.pos + n]);
            this.pos += n;
            if this.pos == this.pending.len() {
                this.pending = Vec::new();
                this.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.port).poll_read(cx, buf)
    }
}

impl<P: AsyncWrite + Unpin> AsyncWrite for DataPort<P> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().port).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().port).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().port).poll_shutdown(cx)
    }
}

/// The response format a command line leaves the modem in (V.250 §6.2.6):
/// `Some(false)` after `V0` (or a bare `V`), `Some(true)` after `V1` or
/// `&F` (every factory profile is verbose), `None` if it does not say.
/// Other commands on the line are stepped over by V.250's syntax, so the
/// V of `+VCID=1`, `&V` or a dial string is not taken for one; `Z`
/// restores a stored profile whose V cannot be known, and leaves it as is.
pub fn verbose_after(cmd: &str) -> Option<bool> {
    let b = cmd.trim().as_bytes();
    if b.len() < 2 || !b[..2].eq_ignore_ascii_case(b"AT") {
        return None;
    }
    let rest = &b[2..];
    // V.250 §5.1: spaces inside a command line are ignored. A prefix at
    // the very end of the line (`AT&`, a typo) has no name or digits.
    let digits = |mut i: usize| {
        while rest.get(i) == Some(&b' ') {
            i += 1;
        }
        let start = i.min(rest.len());
        let mut i = start;
        while rest.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (i, &rest[start..i])
    };
    let mut verbose = None;
    let mut i = 0;
    while let Some(&c) = rest.get(i) {
        match c.to_ascii_uppercase() {
            // A dial string runs to the end of the line.
            b'D' => break,
            // Extended syntax: to the next `;` (V.250 §5.4.1).
            b'+' => {
                while rest.get(i).is_some_and(|&c| c != b';') {
                    i += 1;
                }
                i += 1;
            }
            b'&' | b'%' | b'\\' | b'#' | b'*' => {
                let f = rest.get(i + 1).map(u8::to_ascii_uppercase);
                if c == b'&' && f == Some(b'F') {
                    verbose = Some(true);
                }
                i = digits(i + 2).0;
            }
            b'S' => {
                i = digits(i + 1).0;
                match rest.get(i) {
                    Some(b'=') => i = digits(i + 1).0,
                    Some(b'?') => i += 1,
                    _ => {}
                }
            }
            b'V' => {
                let (next, n) = digits(i + 1);
                verbose = Some(n.iter().any(|&d| d != b'0'));
                i = next;
            }
            c if c.is_ascii_alphabetic() => i = digits(i + 1).0,
            _ => i += 1,
        }
    }
    verbose
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modem::result::Connect;
    use crate::modem::test_util::read_cmd;
    use tokio::io::{duplex, DuplexStream};

    const T: Duration = Duration::from_secs(2);

    fn pair() -> (AtPort<DuplexStream>, DuplexStream) {
        let (a, b) = duplex(64 * 1024);
        (AtPort::new(a, ReaderConfig::default()), b)
    }

    #[test]
    fn the_response_format_a_command_line_leaves() {
        for (cmd, want) in [
            ("ATV0", Some(false)),
            ("atv1", Some(true)),
            ("ATV", Some(false)),
            ("AT&FE0V0S0=0", Some(false)),
            ("AT&F", Some(true)),
            ("AT&F1&C1&D2", Some(true)),
            ("ATV0&F", Some(true)),
            ("ATE0 V1 Q0", Some(true)),
            ("AT+VCID=1", None),
            ("AT+VCID=1;V0", Some(false)),
            ("AT&V", None),
            ("AT\\V1", None),
            ("ATS7=60V0", Some(false)),
            ("ATS7?V1", Some(true)),
            ("ATDT5551234V0", None),
            ("ATZ", None),
            ("ATI3", None),
            ("V0", None),
            ("", None),
            ("ATV 1", Some(true)),
            ("AT V0", Some(false)),
            ("AT&", None),
            ("AT&F&", Some(true)),
            ("ATZ%", None),
            ("AT\\", None),
            ("AT*", None),
            ("ATS", None),
            ("ATS7=", None),
            ("AT+", None),
        ] {
            assert_eq!(verbose_after(cmd), want, "{cmd}");
        }
    }

    #[tokio::test]
    async fn after_atv0_numeric_results_are_understood() {
        let (mut at, mut m) = pair();
        let modem = tokio::spawn(async move {
            assert_eq!(read_cmd(&mut m).await, "ATE0V0");
            m.write_all(b"0\r").await.unwrap();
            assert_eq!(read_cmd(&mut m).await, "ATDT5551234");
            m.write_all(b"60\r").await.unwrap();
            assert_eq!(read_cmd(&mut m).await, "ATV1");
            m.write_all(b"\r\nOK\r\n").await.unwrap();
            m
        });
        assert_eq!(
            at.command("ATE0V0", T).await.unwrap().result,
            ResultCode::Ok
        );
        assert_eq!(
            at.command("ATDT5551234", T).await.unwrap().result,
            ResultCode::Connect(Connect {
                speed: Some(33600),
                protocol: None
            })
        );
        assert_eq!(at.command("ATV1", T).await.unwrap().result, ResultCode::Ok);
        modem.await.unwrap();
    }

    #[tokio::test]
    async fn rings_during_a_command_come_first_from_next_line() {
        let (mut at, mut m) = pair();
        let modem = tokio::spawn(async move {
            read_cmd(&mut m).await;
            m.write_all(b"\r\nRING\r\n\r\nOK\r\n").await.unwrap();
            m
        });
        assert_eq!(
            at.command("ATS0=0", T).await.unwrap().result,
            ResultCode::Ok
        );
        assert!(matches!(
            at.next_line(T).await.unwrap(),
            ModemOutput::Unsolicited(Unsolicited::Ring { .. })
        ));
        modem.await.unwrap();
    }

    #[tokio::test]
    async fn strips_echo_collects_info_and_queues_rings() {
        let (mut at, mut m) = pair();
        let modem = tokio::spawn(async move {
            assert_eq!(read_cmd(&mut m).await, "ATI3");
            m.write_all(b"ATI3\r\r\nRING\r\nHayes Accura\r\nNMBR = 5551234\r\n\r\nOK\r\n")
                .await
                .unwrap();
            m
        });
        let r = at.command("ATI3", T).await.unwrap();
        assert_eq!(r.result, ResultCode::Ok);
        assert_eq!(r.info, ["Hayes Accura"]);
        assert_eq!(at.take_unsolicited().len(), 2);
        assert!(at.take_unsolicited().is_empty());
        modem.await.unwrap();
    }

    #[tokio::test]
    async fn ok_maps_error_to_unexpected() {
        let (mut at, mut m) = pair();
        tokio::spawn(async move {
            read_cmd(&mut m).await;
            m.write_all(b"\r\nERROR\r\n").await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let e = at.ok("AT&Q9", T).await.unwrap_err();
        assert!(
            matches!(&e, ModemError::Unexpected { cmd, result: ResultCode::Error } if cmd == "AT&Q9"),
            "{e}"
        );
        assert_eq!(e.to_string(), "the modem answered ERROR to AT&Q9");
    }

    #[tokio::test]
    async fn silence_times_out() {
        let (mut at, _m) = pair();
        let e = at
            .command("AT", Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(matches!(e, ModemError::Timeout { .. }), "{e}");
        assert!(e.to_string().contains("the answer to AT"), "{e}");
    }

    #[tokio::test]
    async fn eof_is_gone() {
        let (mut at, m) = pair();
        drop(m);
        let e = at.command("AT", T).await.unwrap_err();
        assert!(matches!(e, ModemError::Gone), "{e:?}");
        let e = at.next_line(T).await.unwrap_err();
        assert!(matches!(e, ModemError::Gone), "{e:?}");
    }

    #[tokio::test]
    async fn noise_is_not_a_modem() {
        let (mut at, mut m) = pair();
        tokio::spawn(async move {
            let noise: Vec<u8> = (0..4000u32)
                .map(|i| (i * 7919 % 251) as u8 | 0x80)
                .collect();
            for _ in 0..50 {
                if m.write_all(&noise).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        let e = at
            .command("AT", Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(matches!(e, ModemError::NotAModem { .. }), "{e}");
    }

    /// Megabytes of NULs with no line break are counted as the octets
    /// they are, not as one overlong line.
    #[tokio::test]
    async fn a_flood_of_nuls_is_counted_in_octets() {
        let (mut at, mut m) = pair();
        tokio::spawn(async move {
            let nuls = vec![0u8; 64 * 1024];
            for _ in 0..16 {
                if m.write_all(&nuls).await.is_err() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let e = at
            .command("AT", Duration::from_millis(500))
            .await
            .unwrap_err();
        let ModemError::NotAModem { reason } = &e else {
            panic!("{e}");
        };
        let octets: u64 = reason
            .split("(")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{reason}"));
        assert!(octets > 256 * 1024, "{reason}");
    }

    #[tokio::test]
    async fn half_line_without_break_is_flushed() {
        let (mut at, mut m) = pair();
        tokio::spawn(async move {
            read_cmd(&mut m).await;
            // A final result with no line break at all.
            m.write_all(b"\r\nOK").await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let r = at.command("AT", T).await.unwrap();
        assert_eq!(r.result, ResultCode::Ok);
    }

    #[tokio::test]
    async fn stale_lines_are_not_the_answer() {
        let (mut at, mut m) = pair();
        m.write_all(b"\r\nNO CARRIER\r\n\r\nRING\r\n")
            .await
            .unwrap();
        // Let the stale lines be read as lines first.
        assert_eq!(
            at.next_line(T).await.unwrap(),
            ModemOutput::Result(ResultCode::NoCarrier)
        );
        m.write_all(b"\r\nNO CARRIER\r\n").await.unwrap();
        // Read the stale NO CARRIER into the reader without taking it.
        tokio::time::sleep(Duration::from_millis(10)).await;
        let _ = at.next_line(T).await.unwrap(); // RING (unsolicited)
        let _ = at.next_line(T).await.unwrap(); // NO CARRIER
        tokio::spawn(async move {
            read_cmd(&mut m).await;
            m.write_all(b"\r\nOK\r\n").await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        assert_eq!(at.command("AT", T).await.unwrap().result, ResultCode::Ok);
    }

    #[tokio::test]
    async fn data_after_connect_reaches_the_data_port() {
        let (mut at, mut m) = pair();
        let modem = tokio::spawn(async move {
            read_cmd(&mut m).await;
            m.write_all(b"\r\nCONNECT 33600/ARQ\r\n\x7e\xff\x7d\x23\xc0\x21")
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            m.write_all(b"more").await.unwrap();
            let mut b = [0u8; 5];
            m.read_exact(&mut b).await.unwrap();
            assert_eq!(&b, b"reply");
            m
        });
        let r = at.command("ATDT1", T).await.unwrap();
        assert_eq!(
            r.result,
            ResultCode::Connect(Connect {
                speed: Some(33600),
                protocol: Some("ARQ".into())
            })
        );
        let mut data = at.into_data();
        let mut got = vec![0u8; 10];
        data.read_exact(&mut got).await.unwrap();
        assert_eq!(got, b"\x7e\xff\x7d\x23\xc0\x21more");
        data.write_all(b"reply").await.unwrap();
        let _m = modem.await.unwrap();
        let _port: DuplexStream = data.into_inner();
    }

    #[tokio::test]
    async fn abort_call_sends_a_key_and_reads_no_carrier() {
        let (mut at, mut m) = pair();
        tokio::spawn(async move {
            read_cmd(&mut m).await; // ATDT
            read_cmd(&mut m).await; // the abort's CR
            m.write_all(b"\r\nNO CARRIER\r\n").await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let e = at
            .command("ATDT5551234", Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(matches!(e, ModemError::Timeout { .. }));
        assert_eq!(at.abort_call(T).await, Some(ResultCode::NoCarrier));
    }
}
