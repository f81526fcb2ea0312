//! V.250 result codes (ITU-T V.250 §5.7, Table 1) and the unsolicited
//! lines a modem sends on its own (RING, caller ID): what the words
//! mean. Pure text in, values out; [`super::reader`] splits the modem's
//! output into the lines these parse.

use std::fmt;

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
pub(crate) mod tests {
    use super::*;

    pub(crate) fn connect(speed: Option<u32>, protocol: Option<&str>) -> ResultCode {
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
}
