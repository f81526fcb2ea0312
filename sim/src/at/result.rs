//! Result codes: what the modem means, shaped by the X level, then worded
//! (V1) or numbered (V0).

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResultCode {
    Ok,
    /// With the speed of the connection; `None` is the plain CONNECT.
    Connect(Option<u32>),
    Ring,
    NoCarrier,
    Error,
    NoDialtone,
    Busy,
    NoAnswer,
}

/// Numeric codes for CONNECT <speed>, after the Rockwell/Conexant table
/// that most data-pump modems share. Speeds without a code report the
/// plain CONNECT (1) in numeric mode.
const CONNECT_CODES: [(u32, u16); 16] = [
    (300, 40),
    (1200, 5),
    (2400, 10),
    (4800, 11),
    (7200, 24),
    (9600, 12),
    (12000, 25),
    (14400, 13),
    (16800, 86),
    (19200, 14),
    (21600, 55),
    (24000, 56),
    (26400, 57),
    (28800, 58),
    (31200, 59),
    (33600, 60),
];

impl ResultCode {
    /// What the DTE is told at X level `x`, after the Hayes/Rockwell table:
    ///
    /// | X | speed in CONNECT | NO DIALTONE | BUSY |
    /// |---|------------------|-------------|------|
    /// | 0 | no               | no          | no   |
    /// | 1 | yes              | no          | no   |
    /// | 2 | yes              | yes         | no   |
    /// | 3 | yes              | no          | yes  |
    /// | 4 | yes              | yes         | yes  |
    ///
    /// Where a level does not report a condition, the modem says NO CARRIER
    /// instead. OK, RING, NO CARRIER, ERROR and NO ANSWER exist at every
    /// level.
    pub fn at_level(self, x: u8) -> ResultCode {
        match self {
            ResultCode::Connect(_) if x == 0 => ResultCode::Connect(None),
            ResultCode::NoDialtone if !reports_dialtone(x) => ResultCode::NoCarrier,
            ResultCode::Busy if !reports_busy(x) => ResultCode::NoCarrier,
            other => other,
        }
    }

    pub fn numeric(self) -> u16 {
        match self {
            ResultCode::Ok => 0,
            ResultCode::Connect(None) => 1,
            ResultCode::Connect(Some(speed)) => CONNECT_CODES
                .iter()
                .find(|(s, _)| *s == speed)
                .map_or(1, |(_, code)| *code),
            ResultCode::Ring => 2,
            ResultCode::NoCarrier => 3,
            ResultCode::Error => 4,
            ResultCode::NoDialtone => 6,
            ResultCode::Busy => 7,
            ResultCode::NoAnswer => 8,
        }
    }
}

/// Whether X level `x` detects and reports a missing dial tone.
pub fn reports_dialtone(x: u8) -> bool {
    x == 2 || x == 4
}

/// Whether X level `x` detects and reports a busy signal.
pub fn reports_busy(x: u8) -> bool {
    x >= 3
}

impl fmt::Display for ResultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResultCode::Ok => f.write_str("OK"),
            ResultCode::Connect(None) => f.write_str("CONNECT"),
            ResultCode::Connect(Some(speed)) => write!(f, "CONNECT {speed}"),
            ResultCode::Ring => f.write_str("RING"),
            ResultCode::NoCarrier => f.write_str("NO CARRIER"),
            ResultCode::Error => f.write_str("ERROR"),
            ResultCode::NoDialtone => f.write_str("NO DIALTONE"),
            ResultCode::Busy => f.write_str("BUSY"),
            ResultCode::NoAnswer => f.write_str("NO ANSWER"),
        }
    }
}
