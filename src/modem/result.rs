//! V.250 result codes (ITU-T V.250 §5.7, Table 1) and a line reader for
//! what a modem says in command state.
//!
//! Pure: bytes in, classified lines out, a deadline for flushing a line
//! that never got its terminator. Nothing here reads a port or a clock.
//!
//! A modem frames verbose results as `<CR><LF>text<CR><LF>` and numeric
//! ones (ATV0) as `digits<CR>` (V.250 §5.7.1); echoed commands end in the
//! CR we sent. Rather than track which framing is in effect, the reader
//! takes any run of CR and LF as one line break and skips empty lines,
//! which covers all of them and a chunk boundary between CR and LF alike.

use std::fmt;
use std::time::{Duration, Instant};

/// A CONNECT result: the speed and whatever follows it, e.g.
/// `CONNECT 33600/ARQ/V34/LAPM/V42BIS` gives speed 33600 and protocol
/// `ARQ/V34/LAPM/V42BIS`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Connect {
    pub speed: Option<u32>,
    pub protocol: Option<String>,
}

impl Connect {
    /// Parses what follows the word CONNECT. The speed is the leading
    /// number when there is one; everything after it (or everything, when
    /// the text does not start with a number, as in `CONNECT FAX`) is the
    /// protocol text, without its leading separator.
    pub fn parse_suffix(rest: &str) -> Connect {
        let rest = rest.trim();
        if rest.is_empty() {
            return Connect::default();
        }
        let end = rest
            .find(|c: char| c == '/' || c.is_whitespace())
            .unwrap_or(rest.len());
        let (first, tail) = rest.split_at(end);
        let speed = if first.bytes().all(|b| b.is_ascii_digit()) {
            first.parse::<u32>().ok()
        } else {
            None
        };
        let protocol = if speed.is_some() { tail } else { rest };
        let protocol = protocol.trim_start_matches(|c: char| c == '/' || c.is_whitespace());
        Connect {
            speed,
            protocol: (!protocol.is_empty()).then(|| protocol.to_owned()),
        }
    }

    fn at(speed: u32) -> ResultCode {
        ResultCode::Connect(Connect {
            speed: Some(speed),
            protocol: None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResultCode {
    Ok,
    Connect(Connect),
    /// An incoming call; the reader reports it as [`Unsolicited::Ring`].
    Ring,
    NoCarrier,
    Error,
    NoDialtone,
    Busy,
    NoAnswer,
    /// The number may not be redialled yet (national call-barring rules
    /// for automatic redial; "blacklisting").
    Delayed,
    Blacklisted,
    BlacklistFull,
    /// `+CME ERROR: <err>` (3GPP TS 27.007 §9.2): a mobile modem's ERROR.
    CmeError(String),
    /// `+CMS ERROR: <err>` (3GPP TS 27.005 §3.2.5).
    CmsError(String),
    /// A numeric code (ATV0) that the table in use does not know. Not
    /// final: it may be an intermediate code (CARRIER, PROTOCOL) of a
    /// modem whose table differs, and taking it for the end of a command
    /// could cut a dial short.
    UnknownNumeric(u16),
}

impl ResultCode {
    /// Whether this ends a command (V.250 §5.7.1 calls these final result
    /// codes); RING and unknown codes do not.
    pub fn is_final(&self) -> bool {
        !matches!(self, ResultCode::Ring | ResultCode::UnknownNumeric(_))
    }

    /// Whether the command failed or the call did not happen.
    pub fn is_failure(&self) -> bool {
        self.is_final() && !matches!(self, ResultCode::Ok | ResultCode::Connect(_))
    }

    /// Parses a verbose (ATV1) result line. Case is ignored: V.250 has
    /// the DCE send upper case, but some firmware does not.
    pub fn parse_verbose(text: &str) -> Option<ResultCode> {
        let t = text.trim();
        let upper = t.to_ascii_uppercase();
        let code = match upper.as_str() {
            "OK" => ResultCode::Ok,
            "RING" => ResultCode::Ring,
            "NO CARRIER" => ResultCode::NoCarrier,
            "ERROR" => ResultCode::Error,
            // V.250 spells it NO DIALTONE; Hayes and many others NO DIAL TONE.
            "NO DIALTONE" | "NO DIAL TONE" => ResultCode::NoDialtone,
            "BUSY" => ResultCode::Busy,
            "NO ANSWER" => ResultCode::NoAnswer,
            "DELAYED" => ResultCode::Delayed,
            "BLACKLISTED" => ResultCode::Blacklisted,
            "BLACKLIST FULL" => ResultCode::BlacklistFull,
            _ => {
                if let Some(rest) = strip_word(t, "CONNECT") {
                    return Some(ResultCode::Connect(Connect::parse_suffix(rest)));
                }
                if let Some(rest) = strip_prefix_ci(t, "+CME ERROR:") {
                    return Some(ResultCode::CmeError(rest.trim().to_owned()));
                }
                if let Some(rest) = strip_prefix_ci(t, "+CMS ERROR:") {
                    return Some(ResultCode::CmsError(rest.trim().to_owned()));
                }
                return None;
            }
        };
        Some(code)
    }

    /// Maps a numeric (ATV0) code through `table`.
    pub fn from_numeric(code: u16, table: NumericTable) -> ResultCode {
        // V.250 Table 1 fixes 0 to 8 (5 is left to the manufacturer, and
        // everyone uses it for CONNECT 1200).
        let basic = match code {
            0 => Some(ResultCode::Ok),
            1 => Some(ResultCode::Connect(Connect::default())),
            2 => Some(ResultCode::Ring),
            3 => Some(ResultCode::NoCarrier),
            4 => Some(ResultCode::Error),
            5 => Some(Connect::at(1200)),
            6 => Some(ResultCode::NoDialtone),
            7 => Some(ResultCode::Busy),
            8 => Some(ResultCode::NoAnswer),
            10 => Some(Connect::at(2400)),
            11 => Some(Connect::at(4800)),
            12 => Some(Connect::at(9600)),
            18 => Some(Connect::at(57600)),
            _ => None,
        };
        if let Some(c) = basic {
            return c;
        }
        match table {
            NumericTable::Hayes => match code {
                13 => Connect::at(14400),
                14 => Connect::at(19200),
                24 => Connect::at(7200),
                25 => Connect::at(12000),
                28 => Connect::at(38400),
                40 => Connect::at(300),
                55 => Connect::at(21600),
                56 => Connect::at(24000),
                57 => Connect::at(26400),
                58 => Connect::at(28800),
                59 => Connect::at(31200),
                60 => Connect::at(33600),
                70 => Connect::at(32000),
                71 => Connect::at(34000),
                72 => Connect::at(36000),
                86 => Connect::at(16800),
                88 => ResultCode::Delayed,
                89 => ResultCode::Blacklisted,
                90 => ResultCode::BlacklistFull,
                n => ResultCode::UnknownNumeric(n),
            },
            NumericTable::Rockwell => match code {
                9 => Connect::at(600),
                13 => Connect::at(7200),
                14 => Connect::at(12000),
                15 => Connect::at(14400),
                16 => Connect::at(19200),
                17 => Connect::at(38400),
                19 => Connect::at(115200),
                24 => ResultCode::Delayed,
                32 => ResultCode::Blacklisted,
                n => ResultCode::UnknownNumeric(n),
            },
        }
    }
}

impl fmt::Display for ResultCode {
    /// The verbose form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResultCode::Ok => f.write_str("OK"),
            ResultCode::Connect(c) => {
                f.write_str("CONNECT")?;
                if let Some(s) = c.speed {
                    write!(f, " {s}")?;
                }
                match (&c.protocol, c.speed) {
                    (Some(p), Some(_)) => write!(f, "/{p}"),
                    (Some(p), None) => write!(f, " {p}"),
                    (None, _) => Ok(()),
                }
            }
            ResultCode::Ring => f.write_str("RING"),
            ResultCode::NoCarrier => f.write_str("NO CARRIER"),
            ResultCode::Error => f.write_str("ERROR"),
            ResultCode::NoDialtone => f.write_str("NO DIALTONE"),
            ResultCode::Busy => f.write_str("BUSY"),
            ResultCode::NoAnswer => f.write_str("NO ANSWER"),
            ResultCode::Delayed => f.write_str("DELAYED"),
            ResultCode::Blacklisted => f.write_str("BLACKLISTED"),
            ResultCode::BlacklistFull => f.write_str("BLACKLIST FULL"),
            ResultCode::CmeError(e) => write!(f, "+CME ERROR: {e}"),
            ResultCode::CmsError(e) => write!(f, "+CMS ERROR: {e}"),
            ResultCode::UnknownNumeric(n) => write!(f, "{n}"),
        }
    }
}

/// Numeric codes above 8 are not standard: two families cover most
/// modems. Checked against published tables: Hayes' extended result codes,
/// USRobotics 56K and IBM/Lucent ThinkPad modem manuals, ZyXEL's (codes
/// they share) for [`NumericTable::Hayes`]; Rockwell/Conexant based modems
/// (Tandy, SoundExpression, Lenovo's Conexant manuals) for
/// [`NumericTable::Rockwell`]. They agree on 0-8, 10-12 and 18.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NumericTable {
    /// 13 = 14400, 24 = 7200, 60 = 33600, 88 = DELAYED, 89 = BLACKLISTED.
    #[default]
    Hayes,
    /// 13 = 7200, 15 = 14400, 19 = 115200, 24 = DELAYED, 32 = BLACKLISTED.
    Rockwell,
}

/// Caller ID fields as Rockwell-style modems deliver them (AT#CID=1 or
/// AT+VCID=1) between the first and second RING: `DATE = 0321`,
/// `TIME = 1405`, `NMBR = 5551234`, `NAME = JOHN DOE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallerIdField {
    Date,
    Time,
    Number,
    Name,
    /// MESG, DDN_NMBR and other vendor keys.
    Other(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unsolicited {
    /// RING; `kind` is what followed it: a distinctive-ring cadence
    /// (`RING 2`) or the call type of `+CRING: VOICE` (3GPP TS 27.007).
    Ring { kind: Option<String> },
    /// One caller ID field. "P" and "O" are the standard values for a
    /// private and an unavailable number.
    CallerId { field: CallerIdField, value: String },
}

impl Unsolicited {
    pub fn parse(text: &str) -> Option<Unsolicited> {
        let t = text.trim();
        if let Some(rest) = strip_word(t, "RING") {
            let rest = rest.trim();
            return Some(Unsolicited::Ring {
                kind: (!rest.is_empty()).then(|| rest.to_owned()),
            });
        }
        if let Some(rest) = strip_prefix_ci(t, "+CRING:") {
            let rest = rest.trim();
            return Some(Unsolicited::Ring {
                kind: (!rest.is_empty()).then(|| rest.to_owned()),
            });
        }
        if let Some(rest) = strip_prefix_ci(t, "+CLIP:") {
            // +CLIP: "5551234",129,...
            let number = rest.trim().split(',').next().unwrap_or("").trim();
            return Some(Unsolicited::CallerId {
                field: CallerIdField::Number,
                value: number.trim_matches('"').to_owned(),
            });
        }
        let (key, value) = t.split_once('=')?;
        let key = key.trim();
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
            return None;
        }
        let field = match key {
            "DATE" => CallerIdField::Date,
            "TIME" => CallerIdField::Time,
            "NMBR" => CallerIdField::Number,
            "NAME" => CallerIdField::Name,
            "MESG" | "DDN_NMBR" | "DDN" => CallerIdField::Other(key.to_owned()),
            _ => return None,
        };
        Some(Unsolicited::CallerId {
            field,
            value: value.trim().to_owned(),
        })
    }
}

/// One line from the modem, classified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
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
    /// is reported as [`Line::Echo`] rather than as text. The expectation
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
    pub fn poll_line(&mut self) -> Option<Line> {
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

    fn classify(&mut self, raw: &[u8]) -> Option<Line> {
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
                return Some(Line::Echo(text.to_owned()));
            }
        }
        if let Some(u) = Unsolicited::parse(text) {
            return Some(Line::Unsolicited(u));
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
            Some(ResultCode::Ring) => Some(Line::Unsolicited(Unsolicited::Ring { kind: None })),
            Some(code) => {
                if code.is_final() {
                    self.echo = None;
                }
                Some(Line::Result(code))
            }
            None => Some(Line::Info(text.to_owned())),
        }
    }
}

/// `word` at the start of `text`, case-insensitively, followed by the end
/// or a separator (so RING does not match RINGING).
fn strip_word<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let rest = strip_prefix_ci(text, word)?;
    match rest.chars().next() {
        None => Some(rest),
        Some(c) if c == ' ' || c == '/' || c == '\t' => Some(rest),
        Some(_) => None,
    }
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(speed: Option<u32>, protocol: Option<&str>) -> ResultCode {
        ResultCode::Connect(Connect {
            speed,
            protocol: protocol.map(str::to_owned),
        })
    }

    #[test]
    fn verbose_codes() {
        let cases = [
            ("OK", ResultCode::Ok),
            ("ERROR", ResultCode::Error),
            ("NO CARRIER", ResultCode::NoCarrier),
            ("NO DIALTONE", ResultCode::NoDialtone),
            ("NO DIAL TONE", ResultCode::NoDialtone),
            ("BUSY", ResultCode::Busy),
            ("NO ANSWER", ResultCode::NoAnswer),
            ("DELAYED", ResultCode::Delayed),
            ("BLACKLISTED", ResultCode::Blacklisted),
            ("BLACKLIST FULL", ResultCode::BlacklistFull),
            ("RING", ResultCode::Ring),
            ("ok", ResultCode::Ok),
            ("  OK  ", ResultCode::Ok),
            ("+CME ERROR: 10", ResultCode::CmeError("10".into())),
            ("+CMS ERROR: 500", ResultCode::CmsError("500".into())),
        ];
        for (text, code) in cases {
            assert_eq!(ResultCode::parse_verbose(text), Some(code), "{text:?}");
        }
        for text in ["OKAY", "RINGING", "CONNECTED", "NO", "", "BUSY SIGNAL"] {
            assert_eq!(ResultCode::parse_verbose(text), None, "{text:?}");
        }
    }

    #[test]
    fn connect_forms() {
        let cases = [
            ("CONNECT", connect(None, None)),
            ("CONNECT 115200", connect(Some(115200), None)),
            (
                "CONNECT 33600/ARQ/V34/LAPM/V42BIS",
                connect(Some(33600), Some("ARQ/V34/LAPM/V42BIS")),
            ),
            ("CONNECT 14400/ARQ", connect(Some(14400), Some("ARQ"))),
            ("CONNECT 1200 EC", connect(Some(1200), Some("EC"))),
            (
                "CONNECT 38400/V.32bis 14400/V.42bis",
                connect(Some(38400), Some("V.32bis 14400/V.42bis")),
            ),
            ("CONNECT 0600/75", connect(Some(600), Some("75"))),
            ("CONNECT FAX", connect(None, Some("FAX"))),
            ("CONNECT 75TX/1200RX", connect(None, Some("75TX/1200RX"))),
            // Too big for a speed: kept as text, never a panic.
            (
                "CONNECT 99999999999999999999",
                connect(None, Some("99999999999999999999")),
            ),
        ];
        for (text, code) in cases {
            assert_eq!(ResultCode::parse_verbose(text), Some(code), "{text:?}");
        }
    }

    #[test]
    fn numeric_tables() {
        use NumericTable::*;
        let t = |n, table| ResultCode::from_numeric(n, table);
        for table in [Hayes, Rockwell] {
            assert_eq!(t(0, table), ResultCode::Ok);
            assert_eq!(t(1, table), connect(None, None));
            assert_eq!(t(2, table), ResultCode::Ring);
            assert_eq!(t(3, table), ResultCode::NoCarrier);
            assert_eq!(t(4, table), ResultCode::Error);
            assert_eq!(t(5, table), connect(Some(1200), None));
            assert_eq!(t(6, table), ResultCode::NoDialtone);
            assert_eq!(t(7, table), ResultCode::Busy);
            assert_eq!(t(8, table), ResultCode::NoAnswer);
            assert_eq!(t(10, table), connect(Some(2400), None));
            assert_eq!(t(12, table), connect(Some(9600), None));
            assert_eq!(t(18, table), connect(Some(57600), None));
        }
        assert_eq!(t(13, Hayes), connect(Some(14400), None));
        assert_eq!(t(13, Rockwell), connect(Some(7200), None));
        assert_eq!(t(60, Hayes), connect(Some(33600), None));
        assert_eq!(t(88, Hayes), ResultCode::Delayed);
        assert_eq!(t(89, Hayes), ResultCode::Blacklisted);
        assert_eq!(t(24, Rockwell), ResultCode::Delayed);
        assert_eq!(t(32, Rockwell), ResultCode::Blacklisted);
        assert_eq!(t(19, Rockwell), connect(Some(115200), None));
        assert_eq!(t(999, Hayes), ResultCode::UnknownNumeric(999));
        assert!(!t(999, Hayes).is_final());
    }

    #[test]
    fn finality() {
        assert!(ResultCode::Ok.is_final());
        assert!(!ResultCode::Ok.is_failure());
        assert!(!connect(None, None).is_failure());
        assert!(ResultCode::Busy.is_failure());
        assert!(!ResultCode::Ring.is_final());
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "OK",
            "CONNECT",
            "CONNECT 33600/ARQ/V34/LAPM/V42BIS",
            "CONNECT 115200",
            "CONNECT FAX",
            "NO CARRIER",
            "NO DIALTONE",
            "BLACKLIST FULL",
            "+CME ERROR: 3",
        ] {
            let code = ResultCode::parse_verbose(text).unwrap();
            assert_eq!(code.to_string(), text);
        }
    }

    #[test]
    fn unsolicited_lines() {
        assert_eq!(
            Unsolicited::parse("RING"),
            Some(Unsolicited::Ring { kind: None })
        );
        assert_eq!(
            Unsolicited::parse("RING 2"),
            Some(Unsolicited::Ring {
                kind: Some("2".into())
            })
        );
        assert_eq!(
            Unsolicited::parse("+CRING: VOICE"),
            Some(Unsolicited::Ring {
                kind: Some("VOICE".into())
            })
        );
        let cid = |field, value: &str| {
            Some(Unsolicited::CallerId {
                field,
                value: value.into(),
            })
        };
        assert_eq!(
            Unsolicited::parse("NMBR = 5551234"),
            cid(CallerIdField::Number, "5551234")
        );
        assert_eq!(
            Unsolicited::parse("NMBR=P"),
            cid(CallerIdField::Number, "P")
        );
        assert_eq!(
            Unsolicited::parse("NAME = JOHN DOE"),
            cid(CallerIdField::Name, "JOHN DOE")
        );
        assert_eq!(
            Unsolicited::parse("DATE = 0321"),
            cid(CallerIdField::Date, "0321")
        );
        assert_eq!(
            Unsolicited::parse("TIME = 1405"),
            cid(CallerIdField::Time, "1405")
        );
        assert_eq!(
            Unsolicited::parse("MESG = 060342"),
            cid(CallerIdField::Other("MESG".into()), "060342")
        );
        assert_eq!(
            Unsolicited::parse("+CLIP: \"5551234\",129"),
            cid(CallerIdField::Number, "5551234")
        );
        assert_eq!(Unsolicited::parse("RINGING"), None);
        assert_eq!(Unsolicited::parse("S0=0"), None);
        assert_eq!(Unsolicited::parse("FOO = 1"), None);
    }

    fn reader() -> LineReader {
        LineReader::new(ReaderConfig::default())
    }

    fn lines(r: &mut LineReader) -> Vec<Line> {
        std::iter::from_fn(|| r.poll_line()).collect()
    }

    #[test]
    fn splits_any_line_break_and_chunking() {
        let t0 = Instant::now();
        let stream = b"\r\nOK\r\n\nERROR\n\r\rBUSY\r\n\r\nNO CARRIER\r";
        let expect = vec![
            Line::Result(ResultCode::Ok),
            Line::Result(ResultCode::Error),
            Line::Result(ResultCode::Busy),
            Line::Result(ResultCode::NoCarrier),
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
                Line::Echo("ATI3".into()),
                Line::Info("U.S. Robotics 56K FAX EXT V1.2".into()),
                Line::Result(ResultCode::Ok),
            ]
        );
        // A second ATI3 line with no pending echo is text.
        r.push(b"ATI3\r", t0);
        assert_eq!(lines(&mut r), [Line::Info("ATI3".into())]);
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
            [Line::Result(ResultCode::Ok), Line::Info("AT".into())]
        );
        // Unsolicited lines before the echo do not cancel it.
        r.expect_echo(b"ATA\r");
        r.push(b"\r\nRING\r\nATA\r\r\nCONNECT 2400\r\n", t0);
        assert_eq!(
            lines(&mut r),
            [
                Line::Unsolicited(Unsolicited::Ring { kind: None }),
                Line::Echo("ATA".into()),
                Line::Result(connect(Some(2400), None)),
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
                Line::Echo("ATDT5551234".into()),
                Line::Unsolicited(Unsolicited::Ring { kind: None }),
                Line::Result(ResultCode::Busy),
                Line::Result(ResultCode::Ok),
                Line::Result(connect(Some(2400), None)),
            ]
        );
        // Verbose codes are still recognised; long numbers are text.
        r.push(b"OK\r5601\r", t0);
        assert_eq!(
            lines(&mut r),
            [Line::Result(ResultCode::Ok), Line::Info("5601".into())]
        );
        // Without numeric mode, digits are text.
        r.set_numeric(false);
        r.push(b"0\r", t0);
        assert_eq!(lines(&mut r), [Line::Info("0".into())]);
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
        assert!(got.iter().all(|l| matches!(l, Line::Unsolicited(_))));
        assert_eq!(
            got[3],
            Line::Unsolicited(Unsolicited::CallerId {
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
        assert_eq!(r.poll_line(), Some(Line::Result(ResultCode::Ok)));
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
        assert_eq!(r.poll_line(), Some(Line::Info("login:".into())));
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
        assert_eq!(lines(&mut r), [Line::Result(ResultCode::Ok)]);
        assert_eq!(r.stats().overlong_lines, 1);
        // Noise within a line is removed; a line of only noise is dropped.
        r.push(b"\x00\x01\xff\r\n\x00OK\x07\r\n", t0);
        assert_eq!(lines(&mut r), [Line::Result(ResultCode::Ok)]);
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
        assert_eq!(lines(&mut r), [Line::Result(ResultCode::Ok)]);
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
        assert_eq!(r.poll_line(), Some(Line::Result(ResultCode::Ok)));
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
            Some(Line::Result(connect(Some(33600), None)))
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
                if let Line::Info(t) | Line::Echo(t) = line {
                    assert!(t.len() <= 16);
                }
            }
            x = x.wrapping_add(round);
        }
    }
}
