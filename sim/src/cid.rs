//! Caller ID as a modem with a CID decoder hands it to the DTE: the
//! formatted presentation of IS-101 (`AT+VCID=1`, Rockwell `AT#CID=1`).
//! The exchange sends the calling line's identity in the silence after
//! the first ring (Bellcore GR-30, ETSI EN 300 659-1); the modem decodes
//! it and prints one `TAG = value` line per item:
//!
//! ```text
//! DATE = 0321
//! TIME = 1405
//! NMBR = 5550142
//! NAME = JOHN DOE
//! ```
//!
//! `NMBR = P` is a caller who withholds the number (or has none); `O`,
//! out of area, never happens on this exchange.

use std::time::{SystemTime, UNIX_EPOCH};

/// What the exchange tells the called line about the caller.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallingLine {
    /// The caller's number, dialable symbols only; None: private.
    pub number: Option<String>,
    /// The listed name; None: no name item at all.
    pub name: Option<String>,
}

/// The longest name a Bellcore MDMF name item carries.
pub const MAX_NAME: usize = 15;

/// The lines a modem prints for `line`, framed as its result codes are
/// (`cr` and `lf` are S3 and S4): a blank line, then each item. Date and
/// time are UTC: the simulator has no time zone of its own.
pub fn block(line: &CallingLine, now: SystemTime, cr: u8, lf: u8) -> Vec<u8> {
    let (mmdd, hhmm) = date_time(now);
    let mut items = vec![
        ("DATE", mmdd),
        ("TIME", hhmm),
        ("NMBR", line.number.clone().unwrap_or_else(|| "P".into())),
    ];
    if let Some(name) = &line.name {
        items.push(("NAME", name.clone()));
    }
    let mut out = vec![cr, lf];
    for (tag, value) in items {
        // Spaces on both sides of the equal sign, as IS-101 has it.
        out.extend(format!("{tag} = {value}").bytes());
        out.extend([cr, lf]);
    }
    out
}

/// `MMDD` and `HHMM` of `t`, in UTC.
fn date_time(t: SystemTime) -> (String, String) {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let in_day = secs % 86_400;
    let (month, day) = month_day(days);
    (
        format!("{month:02}{day:02}"),
        format!("{:02}{:02}", in_day / 3600, in_day % 3600 / 60),
    )
}

/// Month and day of the `days`-th day after 1970-01-01 (the proleptic
/// Gregorian calendar; Howard Hinnant's `civil_from_days`).
fn month_day(days: i64) -> (i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn dates_and_times_in_utc() {
        assert_eq!(date_time(at(0)), ("0101".into(), "0000".into()));
        // 2024-02-29 23:59 (a leap day).
        assert_eq!(date_time(at(1_709_251_140)), ("0229".into(), "2359".into()));
        // 2000-03-21 14:05.
        assert_eq!(date_time(at(953_647_500)), ("0321".into(), "1405".into()));
        // 2023-12-31 12:00.
        assert_eq!(date_time(at(1_704_024_000)), ("1231".into(), "1200".into()));
    }

    #[test]
    fn the_block_as_a_modem_prints_it() {
        let line = CallingLine {
            number: Some("5550142".into()),
            name: Some("JOHN DOE".into()),
        };
        let got = block(&line, at(953_647_500), b'\r', b'\n');
        assert_eq!(
            String::from_utf8(got).unwrap(),
            "\r\nDATE = 0321\r\nTIME = 1405\r\nNMBR = 5550142\r\nNAME = JOHN DOE\r\n"
        );
    }

    #[test]
    fn a_withheld_number_is_p_and_no_name_means_no_name_item() {
        let got = block(&CallingLine::default(), at(0), b'\r', b'\n');
        assert_eq!(
            String::from_utf8(got).unwrap(),
            "\r\nDATE = 0101\r\nTIME = 0000\r\nNMBR = P\r\n"
        );
    }
}
