//! A line reader for what a modem says in command state.
//!
//! Pure: bytes in, classified lines out, a deadline for flushing a line
//! that never got its terminator. Nothing here reads a port or a clock.
//!
//! A modem frames verbose results as `<CR><LF>text<CR><LF>` and numeric
//! ones (ATV0) as `digits<CR>` (V.250 §5.7.1); echoed commands end in the
//! CR we sent. Rather than track which framing is in effect, the reader
//! takes any run of CR and LF as one line break and skips empty lines,
//! which covers all of them and a chunk boundary between CR and LF alike.

use std::time::{Duration, Instant};

use super::result::{NumericTable, ResultCode, Unsolicited};

/// One line from the modem, classified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModemOutput {
    /// A result code other than RING.
    Result(ResultCode),
    /// RING and caller ID: the modem's own initiative, not an answer.
    Unsolicited(Unsolicited),
    /// Any other text: ATI and +G* answers, banners, RINGING, CARRIER.
    Info(String),
    /// The command we sent, echoed back (ATE1).
    Echo(String),
}

#[derive(Clone, Debug)]
pub struct ReaderConfig {
    /// Whether numeric result codes (ATV0) are expected: then a line of
    /// digits is a result code, otherwise it is text (ATI0 answers with a
    /// number).
    pub numeric: bool,
    pub table: NumericTable,
    /// A longer line is not a modem's answer; it is dropped (and counted).
    pub max_line: usize,
    /// A partial line with no further bytes for this long is taken as
    /// complete (a modem that sends no final line break, a `login:`
    /// prompt).
    pub idle_flush: Duration,
    /// Bytes held before they are read as lines; past it the oldest go.
    pub max_buffer: usize,
}

impl Default for ReaderConfig {
    fn default() -> Self {
        ReaderConfig {
            numeric: false,
            table: NumericTable::default(),
            // V.250 has DCEs accept command lines of at least 40
            // characters; answers (ATI, +GCAP) are a screen line or two.
            max_line: 256,
            idle_flush: Duration::from_millis(500),
            max_buffer: 64 * 1024,
        }
    }
}

/// What the reader threw away, so that a noisy line can be reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReaderStats {
    pub lines: u64,
    /// Lines longer than `max_line`.
    pub overlong_lines: u64,
    /// Control and 8-bit bytes removed from lines.
    pub noise_bytes: u64,
    /// Lines that held nothing but noise.
    pub noise_lines: u64,
    /// Bytes lost because the buffer was full.
    pub overflow_bytes: u64,
    /// Every octet thrown away unread: whole noise lines, overlong lines
    /// (as much of them as came), buffer overflow. A megabyte of NULs
    /// with no line break is a megabyte here, not "1 line".
    pub lost_octets: u64,
}

impl ReaderStats {
    /// What was lost to noise as whole lines or bytes: lines of nothing
    /// but noise, overlong lines, buffer overflow. Stray bytes stripped
    /// from otherwise good lines (`noise_bytes`) are not counted.
    pub fn lost_to_noise(&self) -> u64 {
        self.noise_lines + self.overlong_lines + self.overflow_bytes
    }
}

const CR: u8 = b'\r';
const LF: u8 = b'\n';

/// Splits the modem's output into lines and classifies them.
#[derive(Debug)]
pub struct LineReader {
    cfg: ReaderConfig,
    buf: Vec<u8>,
    /// In the middle of an overlong line: drop up to the next break.
    discarding: bool,
    flush_due: bool,
    last_rx: Option<Instant>,
    /// The last line ended in CR and no byte has come since: an LF next
    /// belongs to that line break.
    after_cr: bool,
    echo: Option<String>,
    stats: ReaderStats,
}

impl LineReader {
    pub fn new(cfg: ReaderConfig) -> LineReader {
        LineReader {
            cfg,
            buf: Vec::new(),
            discarding: false,
            flush_due: false,
            last_rx: None,
            after_cr: false,
            echo: None,
            stats: ReaderStats::default(),
        }
    }

    pub fn config(&self) -> &ReaderConfig {
        &self.cfg
    }

    /// After ATV0 or ATV1.
    pub fn set_numeric(&mut self, numeric: bool) {
        self.cfg.numeric = numeric;
    }

    pub fn stats(&self) -> ReaderStats {
        self.stats
    }

    /// Bytes from the modem.
    pub fn push(&mut self, mut bytes: &[u8], now: Instant) {
        if bytes.is_empty() {
            return;
        }
        if self.after_cr && self.buf.is_empty() && bytes.first() == Some(&LF) {
            bytes = &bytes[1..];
        }
        self.after_cr = false;
        self.last_rx = Some(now);
        self.flush_due = false;
        self.buf.extend_from_slice(bytes);
        if self.buf.len() > self.cfg.max_buffer {
            let excess = self.buf.len() - self.cfg.max_buffer;
            self.buf.drain(..excess);
            self.stats.overflow_bytes += excess as u64;
            self.stats.lost_octets += excess as u64;
        }
    }

    /// Tells the reader the command line we just sent, so that its echo
    /// is reported as [`ModemOutput::Echo`] rather than as text. The expectation
    /// lasts until the echo or a final result arrives (a modem with echo
    /// off sends only the latter).
    pub fn expect_echo(&mut self, command: &[u8]) {
        let text = String::from_utf8_lossy(command);
        let text = text.trim_matches(|c: char| c.is_whitespace());
        self.echo = (!text.is_empty()).then(|| text.to_owned());
    }

    /// When a partial line (or a dropped overlong one) should be given up
    /// waiting for its line break.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let partial = self.buf.iter().any(|&b| b != CR && b != LF);
        if partial || self.discarding {
            self.last_rx.map(|t| t + self.cfg.idle_flush)
        } else {
            None
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(deadline) = self.poll_timeout() {
            if now >= deadline {
                self.flush();
            }
        }
    }

    /// Takes the partial line as complete on the next [`poll_line`].
    ///
    /// [`poll_line`]: LineReader::poll_line
    pub fn flush(&mut self) {
        self.flush_due = true;
        if self.discarding && self.buf.is_empty() {
            self.discarding = false;
        }
    }

    /// The bytes not yet read as lines, for whoever reads the port next:
    /// after CONNECT the peer's first PPP frames may already be here.
    pub fn take_remaining(&mut self) -> Vec<u8> {
        if self.after_cr && self.buf.first() == Some(&LF) {
            self.buf.remove(0);
        }
        self.after_cr = false;
        self.discarding = false;
        self.flush_due = false;
        std::mem::take(&mut self.buf)
    }

    /// The next complete line, if there is one.
    pub fn poll_line(&mut self) -> Option<ModemOutput> {
        loop {
            let lead = self.buf.iter().take_while(|&&b| b == CR || b == LF).count();
            if lead > 0 {
                self.buf.drain(..lead);
                // The break that ends a dropped overlong line.
                self.discarding = false;
            }
            if self.buf.is_empty() {
                self.flush_due = false;
                return None;
            }
            let raw: Vec<u8> = match self.buf.iter().position(|&b| b == CR || b == LF) {
                Some(p) => {
                    let mut raw: Vec<u8> = self.buf.drain(..=p).collect();
                    let term = raw.pop();
                    if term == Some(CR) {
                        if self.buf.first() == Some(&LF) {
                            self.buf.remove(0);
                        } else if self.buf.is_empty() {
                            self.after_cr = true;
                        }
                    }
                    if self.discarding {
                        self.discarding = false;
                        self.stats.lost_octets += raw.len() as u64;
                        continue;
                    }
                    raw
                }
                None if self.buf.len() > self.cfg.max_line || self.discarding => {
                    if !self.discarding {
                        self.stats.overlong_lines += 1;
                    }
                    self.stats.lost_octets += self.buf.len() as u64;
                    // Keep nothing: the rest of this line is dropped as it
                    // comes, so memory stays bounded whatever the line.
                    self.buf.clear();
                    self.discarding = !self.flush_due;
                    self.flush_due = false;
                    return None;
                }
                None if self.flush_due => {
                    self.flush_due = false;
                    std::mem::take(&mut self.buf)
                }
                None => return None,
            };
            if raw.len() > self.cfg.max_line {
                self.stats.overlong_lines += 1;
                self.stats.lost_octets += raw.len() as u64;
                continue;
            }
            if let Some(line) = self.classify(&raw) {
                self.stats.lines += 1;
                return Some(line);
            }
        }
    }

    fn classify(&mut self, raw: &[u8]) -> Option<ModemOutput> {
        let mut text = String::with_capacity(raw.len());
        let mut noise = 0u64;
        for &b in raw {
            match b {
                b'\t' => text.push(' '),
                0x20..=0x7e => text.push(b as char),
                _ => noise += 1,
            }
        }
        self.stats.noise_bytes += noise;
        let text = text.trim();
        if text.is_empty() {
            if noise > 0 {
                self.stats.noise_lines += 1;
                self.stats.lost_octets += raw.len() as u64;
            }
            return None;
        }
        if let Some(echo) = &self.echo {
            if text.eq_ignore_ascii_case(echo) {
                self.echo = None;
                return Some(ModemOutput::Echo(text.to_owned()));
            }
        }
        if let Some(u) = Unsolicited::parse(text) {
            return Some(ModemOutput::Unsolicited(u));
        }
        let code = ResultCode::parse_verbose(text).or_else(|| {
            let numeric =
                self.cfg.numeric && text.len() <= 3 && text.bytes().all(|b| b.is_ascii_digit());
            numeric
                .then(|| text.parse::<u16>().ok())
                .flatten()
                .map(|n| ResultCode::from_numeric(n, self.cfg.table))
        });
        match code {
            Some(ResultCode::Ring) => {
                Some(ModemOutput::Unsolicited(Unsolicited::Ring { kind: None }))
            }
            Some(code) => {
                if code.is_final() {
                    self.echo = None;
                }
                Some(ModemOutput::Result(code))
            }
            None => Some(ModemOutput::Info(text.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modem::result::tests::connect;
    use crate::modem::result::CallerIdField;

    fn reader() -> LineReader {
        LineReader::new(ReaderConfig::default())
    }

    fn lines(r: &mut LineReader) -> Vec<ModemOutput> {
        std::iter::from_fn(|| r.poll_line()).collect()
    }

    #[test]
    fn splits_any_line_break_and_chunking() {
        let t0 = Instant::now();
        let stream = b"\r\nOK\r\n\nERROR\n\r\rBUSY\r\n\r\nNO CARRIER\r";
        let expect = vec![
            ModemOutput::Result(ResultCode::Ok),
            ModemOutput::Result(ResultCode::Error),
            ModemOutput::Result(ResultCode::Busy),
            ModemOutput::Result(ResultCode::NoCarrier),
        ];
        // Whole, and byte by byte.
        let mut r = reader();
        r.push(stream, t0);
        assert_eq!(lines(&mut r), expect);
        let mut r = reader();
        let mut got = Vec::new();
        for b in stream {
            r.push(&[*b], t0);
            got.extend(lines(&mut r));
        }
        assert_eq!(got, expect);
    }

    #[test]
    fn echo_is_stripped_once() {
        let t0 = Instant::now();
        let mut r = reader();
        r.expect_echo(b"ATI3\r");
        r.push(
            b"ATI3\r\r\nU.S. Robotics 56K FAX EXT V1.2\r\n\r\nOK\r\n",
            t0,
        );
        assert_eq!(
            lines(&mut r),
            [
                ModemOutput::Echo("ATI3".into()),
                ModemOutput::Info("U.S. Robotics 56K FAX EXT V1.2".into()),
                ModemOutput::Result(ResultCode::Ok),
            ]
        );
        // A second ATI3 line with no pending echo is text.
        r.push(b"ATI3\r", t0);
        assert_eq!(lines(&mut r), [ModemOutput::Info("ATI3".into())]);
    }

    #[test]
    fn echo_expectation_ends_with_final_result() {
        let t0 = Instant::now();
        let mut r = reader();
        // ATE0: no echo comes, then the same text later is not an echo.
        r.expect_echo(b"AT\r");
        r.push(b"\r\nOK\r\nAT\r\n", t0);
        assert_eq!(
            lines(&mut r),
            [
                ModemOutput::Result(ResultCode::Ok),
                ModemOutput::Info("AT".into())
            ]
        );
        // Unsolicited lines before the echo do not cancel it.
        r.expect_echo(b"ATA\r");
        r.push(b"\r\nRING\r\nATA\r\r\nCONNECT 2400\r\n", t0);
        assert_eq!(
            lines(&mut r),
            [
                ModemOutput::Unsolicited(Unsolicited::Ring { kind: None }),
                ModemOutput::Echo("ATA".into()),
                ModemOutput::Result(connect(Some(2400), None)),
            ]
        );
    }

    #[test]
    fn numeric_mode() {
        let t0 = Instant::now();
        let mut r = LineReader::new(ReaderConfig {
            numeric: true,
            ..ReaderConfig::default()
        });
        r.expect_echo(b"ATDT5551234\r");
        r.push(b"ATDT5551234\r2\r7\r0\r10\r", t0);
        assert_eq!(
            lines(&mut r),
            [
                ModemOutput::Echo("ATDT5551234".into()),
                ModemOutput::Unsolicited(Unsolicited::Ring { kind: None }),
                ModemOutput::Result(ResultCode::Busy),
                ModemOutput::Result(ResultCode::Ok),
                ModemOutput::Result(connect(Some(2400), None)),
            ]
        );
        // Verbose codes are still recognised; long numbers are text.
        r.push(b"OK\r5601\r", t0);
        assert_eq!(
            lines(&mut r),
            [
                ModemOutput::Result(ResultCode::Ok),
                ModemOutput::Info("5601".into())
            ]
        );
        // Without numeric mode, digits are text.
        r.set_numeric(false);
        r.push(b"0\r", t0);
        assert_eq!(lines(&mut r), [ModemOutput::Info("0".into())]);
    }

    #[test]
    fn caller_id_between_rings() {
        let t0 = Instant::now();
        let mut r = reader();
        r.push(
            b"\r\nRING\r\n\r\nDATE = 0321\r\nTIME = 1405\r\nNMBR = 5551234\r\nNAME = JOHN DOE\r\n\r\nRING\r\n",
            t0,
        );
        let got = lines(&mut r);
        assert_eq!(got.len(), 6);
        assert!(got.iter().all(|l| matches!(l, ModemOutput::Unsolicited(_))));
        assert_eq!(
            got[3],
            ModemOutput::Unsolicited(Unsolicited::CallerId {
                field: CallerIdField::Number,
                value: "5551234".into()
            })
        );
    }

    #[test]
    fn half_line_waits_then_flushes_on_timeout() {
        let t0 = Instant::now();
        let mut r = reader();
        r.push(b"\r\nO", t0);
        assert_eq!(r.poll_line(), None);
        let t1 = t0 + Duration::from_millis(100);
        r.push(b"K", t1);
        assert_eq!(r.poll_line(), None);
        let deadline = r.poll_timeout().unwrap();
        assert_eq!(deadline, t1 + Duration::from_millis(500));
        r.handle_timeout(deadline - Duration::from_millis(1));
        assert_eq!(r.poll_line(), None);
        r.handle_timeout(deadline);
        assert_eq!(r.poll_line(), Some(ModemOutput::Result(ResultCode::Ok)));
        assert_eq!(r.poll_timeout(), None);
        // The line break that comes late makes no empty line.
        r.push(b"\r\n", t1);
        assert_eq!(r.poll_line(), None);
    }

    #[test]
    fn prompt_without_newline_flushes() {
        let t0 = Instant::now();
        let mut r = reader();
        r.push(b"\r\nlogin: ", t0);
        assert_eq!(r.poll_line(), None);
        r.flush();
        assert_eq!(r.poll_line(), Some(ModemOutput::Info("login:".into())));
    }

    #[test]
    fn garbage_is_bounded_counted_and_survived() {
        let t0 = Instant::now();
        let mut r = reader();
        // Binary noise with no line break at all, far past max_line.
        let noise: Vec<u8> = (0..10_000u32)
            .map(|i| (i * 7919 % 251) as u8 | 0x80)
            .collect();
        r.push(&noise, t0);
        assert_eq!(r.poll_line(), None);
        assert!(r.buf.len() <= r.cfg.max_line);
        // Then the line break ends the dropped line and a result follows.
        r.push(b"\r\nOK\r\n", t0);
        assert_eq!(lines(&mut r), [ModemOutput::Result(ResultCode::Ok)]);
        assert_eq!(r.stats().overlong_lines, 1);
        // Noise within a line is removed; a line of only noise is dropped.
        r.push(b"\x00\x01\xff\r\n\x00OK\x07\r\n", t0);
        assert_eq!(lines(&mut r), [ModemOutput::Result(ResultCode::Ok)]);
        let s = r.stats();
        assert_eq!(s.noise_lines, 1);
        assert_eq!(s.noise_bytes, 5);
        assert_eq!(s.lines, 2);
    }

    #[test]
    fn overlong_line_with_break_is_dropped() {
        let t0 = Instant::now();
        let mut r = LineReader::new(ReaderConfig {
            max_line: 8,
            ..ReaderConfig::default()
        });
        r.push(b"0123456789ABCDEF\r\nOK\r\n", t0);
        assert_eq!(lines(&mut r), [ModemOutput::Result(ResultCode::Ok)]);
        assert_eq!(r.stats().overlong_lines, 1);
    }

    #[test]
    fn overlong_partial_ends_on_idle() {
        let t0 = Instant::now();
        let mut r = LineReader::new(ReaderConfig {
            max_line: 8,
            ..ReaderConfig::default()
        });
        r.push(&[b'x'; 100], t0);
        assert_eq!(r.poll_line(), None);
        // Silence ends the dropped line even without a break...
        let d = r.poll_timeout().unwrap();
        r.handle_timeout(d);
        // ...so the next answer is read, framed as modems frame it.
        r.push(b"OK\r", d);
        assert_eq!(r.poll_line(), Some(ModemOutput::Result(ResultCode::Ok)));
    }

    #[test]
    fn buffer_overflow_is_counted() {
        let t0 = Instant::now();
        let mut r = LineReader::new(ReaderConfig {
            max_buffer: 16,
            ..ReaderConfig::default()
        });
        r.push(&[b'a'; 40], t0);
        assert_eq!(r.stats().overflow_bytes, 24);
    }

    #[test]
    fn remaining_bytes_after_connect() {
        let t0 = Instant::now();
        let mut r = reader();
        r.push(b"\r\nCONNECT 33600\r\n\x7e\xff\x7d\x23\xc0\x21", t0);
        assert_eq!(
            r.poll_line(),
            Some(ModemOutput::Result(connect(Some(33600), None)))
        );
        assert_eq!(r.take_remaining(), b"\x7e\xff\x7d\x23\xc0\x21");
        // The LF of the CONNECT line arriving in the next read is not data.
        let mut r = reader();
        r.push(b"\r\nCONNECT\r", t0);
        assert!(r.poll_line().is_some());
        r.push(b"\n\x7e", t0);
        assert_eq!(r.take_remaining(), b"\x7e");
    }

    #[test]
    fn never_panics_on_arbitrary_bytes() {
        let t0 = Instant::now();
        let mut r = LineReader::new(ReaderConfig {
            numeric: true,
            max_line: 16,
            ..ReaderConfig::default()
        });
        let mut x: u32 = 12345;
        for round in 0..2000 {
            let n = (x % 37) as usize;
            let chunk: Vec<u8> = (0..n)
                .map(|_| {
                    x = x.wrapping_mul(1103515245).wrapping_add(12345);
                    // Bias towards line breaks, digits and letters.
                    match (x >> 16) % 8 {
                        0 => b'\r',
                        1 => b'\n',
                        2 => b'0' + ((x >> 8) % 10) as u8,
                        3 => b"OKRINGCONECT =/"[((x >> 8) % 15) as usize],
                        _ => (x >> 8) as u8,
                    }
                })
                .collect();
            r.push(&chunk, t0);
            if round % 7 == 0 {
                r.expect_echo(&chunk);
            }
            if round % 13 == 0 {
                r.flush();
            }
            while let Some(line) = r.poll_line() {
                if let ModemOutput::Info(t) | ModemOutput::Echo(t) = line {
                    assert!(t.len() <= 16);
                }
            }
            x = x.wrapping_add(round);
        }
    }
}
