//! The dial string of a D command: digits and modifiers.

use std::time::Duration;

/// One step of dialing, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialStep {
    /// A digit or DTMF symbol, by tone (`T`) or pulse (`P`).
    Digit { symbol: char, pulse: bool },
    /// `,`: pause for S8 seconds.
    Pause,
    /// `W`: wait for a (second) dial tone.
    WaitDialtone,
    /// `!`: hook flash.
    Flash,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dial {
    pub steps: Vec<DialStep>,
    /// `@`: wait for quiet answer.
    pub quiet_answer: bool,
    /// `;`: return to command state after dialing instead of connecting.
    pub stay_in_command: bool,
    /// `L` at the start: the caller asked for the last number again.
    pub redial: bool,
}

/// A dial string that is not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialError {
    /// `S=n` (stored numbers): this modem keeps none.
    StoredNumber,
    TooLong,
}

/// Longest dial string accepted, in dialable symbols and modifiers.
pub const MAX_DIAL: usize = 60;

impl Dial {
    /// Parses what follows `D` up to the end of the line (already upper
    /// case, spaces removed). Characters that are neither digits nor known
    /// modifiers are ignored, as V.250 asks.
    pub fn parse(s: &[u8]) -> Result<Dial, DialError> {
        let mut dial = Dial::default();
        let mut pulse = false;
        let mut rest = s;
        if let [b'L', tail @ ..] = rest {
            dial.redial = true;
            rest = tail;
        }
        let mut count = 0;
        for &c in rest {
            count += 1;
            if count > MAX_DIAL {
                return Err(DialError::TooLong);
            }
            match c {
                b'0'..=b'9' | b'*' | b'#' | b'A' | b'B' | b'C' | b'D' => {
                    dial.steps.push(DialStep::Digit {
                        symbol: char::from(c),
                        pulse,
                    })
                }
                b'T' => pulse = false,
                b'P' => pulse = true,
                b',' => dial.steps.push(DialStep::Pause),
                b'W' => dial.steps.push(DialStep::WaitDialtone),
                b'!' => dial.steps.push(DialStep::Flash),
                b'@' => dial.quiet_answer = true,
                b'S' => return Err(DialError::StoredNumber),
                b';' => {
                    dial.stay_in_command = true;
                    break;
                }
                _ => {}
            }
        }
        Ok(dial)
    }

    /// The dialed symbols alone: what the exchange routes on.
    pub fn number(&self) -> String {
        self.steps
            .iter()
            .filter_map(|s| match s {
                DialStep::Digit { symbol, .. } => Some(*symbol),
                _ => None,
            })
            .collect()
    }

    /// Numbers to look up, best first: all the digits, then, if the string
    /// pauses or waits for a dial tone after some digits (`9,555...` or
    /// `9W555...`), the digits after the last such break: the ones before
    /// it were an outside-line prefix for a PBX.
    pub fn candidates(&self) -> Vec<String> {
        let all = self.number();
        let mut out = vec![all];
        let last_break = self
            .steps
            .iter()
            .rposition(|s| matches!(s, DialStep::Pause | DialStep::WaitDialtone));
        if let Some(i) = last_break {
            let tail: String = Dial {
                steps: self.steps[i + 1..].to_vec(),
                ..Dial::default()
            }
            .number();
            if !tail.is_empty() && tail != out[0] {
                out.push(tail);
            }
        }
        out
    }

    pub fn waits_for_dialtone(&self) -> bool {
        self.steps.contains(&DialStep::WaitDialtone)
    }

    /// How long dialing takes: DTMF tones of `dtmf` each with an equal
    /// gap, pulse digits at 10 pulses per second plus 700 ms between
    /// digits, `comma` per pause, half a second per wait or flash.
    pub fn duration(&self, dtmf: Duration, comma: Duration) -> Duration {
        self.steps
            .iter()
            .map(|s| match s {
                DialStep::Digit { pulse: false, .. } => dtmf * 2,
                DialStep::Digit {
                    symbol,
                    pulse: true,
                } => {
                    let pulses = match symbol.to_digit(10) {
                        Some(0) => 10,
                        Some(d) => d,
                        None => 0,
                    };
                    Duration::from_millis(100) * pulses + Duration::from_millis(700)
                }
                DialStep::Pause => comma,
                DialStep::WaitDialtone | DialStep::Flash => Duration::from_millis(500),
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Dial {
        Dial::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn digits_and_modifiers() {
        let d = parse("T555-0100");
        assert_eq!(d.number(), "5550100");
        assert!(!d.stay_in_command);
        let d = parse("P12W3,4@;");
        assert_eq!(d.number(), "1234");
        assert!(d.quiet_answer && d.stay_in_command && d.waits_for_dialtone());
        assert!(matches!(d.steps[0], DialStep::Digit { pulse: true, .. }));
        assert_eq!(parse("T*70#ABCD").number(), "*70#ABCD");
        assert!(parse("L").redial);
    }

    #[test]
    fn ignores_punctuation_and_stops_at_semicolon() {
        assert_eq!(parse("T(555)010.0").number(), "5550100");
        assert_eq!(parse("T12;34").number(), "12");
    }

    #[test]
    fn refuses_stored_numbers_and_overlong_strings() {
        assert_eq!(Dial::parse(b"S=1"), Err(DialError::StoredNumber));
        assert_eq!(Dial::parse(&[b'1'; 61]), Err(DialError::TooLong));
        assert!(Dial::parse(&[b'1'; 60]).is_ok());
    }

    #[test]
    fn outside_line_prefix_is_a_second_candidate() {
        assert_eq!(parse("T9,5550100").candidates(), ["95550100", "5550100"]);
        assert_eq!(parse("T9W5550100").candidates(), ["95550100", "5550100"]);
        assert_eq!(parse("T5550100").candidates(), ["5550100"]);
        assert_eq!(parse("T,5550100").candidates(), ["5550100"]);
    }

    #[test]
    fn dialing_takes_time() {
        let tone = parse("T123").duration(Duration::from_millis(95), Duration::from_secs(2));
        assert_eq!(tone, Duration::from_millis(570));
        let pulse = parse("P10,").duration(Duration::from_millis(95), Duration::from_secs(2));
        assert_eq!(pulse, Duration::from_millis(800 + 1700 + 2000));
    }
}
