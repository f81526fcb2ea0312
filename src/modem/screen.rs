//! Screening calls by caller ID, as mgetty's CNDFILE does: only numbers
//! on the allow lists are answered. Pure: the answering code feeds it the
//! NMBR items the modem delivers (IS-101 formatted caller ID) and acts on
//! the verdict.
//!
//! An entry is a number, matched exactly, or a number with a trailing `*`,
//! matched as a prefix (`555*` allows 5550142 and 5551234; a bare `*`
//! allows any caller that presents a number). Both sides are compared as
//! digits, after dropping spaces, dashes, dots, parentheses and a leading
//! `+`: `+1 (555) 014-2` is `15550142`. No country code or trunk prefix
//! is added or removed, so list numbers as the exchange presents them.
//!
//! A caller that presents no number (`P`, private; `O`, unavailable; an
//! empty or unreadable NMBR; none by the second RING) is refused whenever
//! a list is set: an unknown caller is not an allowed one.

use std::fmt;

use thiserror::Error;

/// Digits kept of a number: E.164 allows 15, caller ID sometimes carries
/// a few more; anything longer is not a phone number.
const MAX_DIGITS: usize = 32;

/// One entry of an allow list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    digits: String,
    /// A trailing `*`: any number that starts with `digits`.
    prefix: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{given:?}: {reason}")]
pub struct PatternError {
    pub given: String,
    pub reason: &'static str,
}

/// `s` without the punctuation people write numbers with, if what is
/// left is digits only.
fn digits(s: &str) -> Option<String> {
    let s = s.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    let kept: String = s
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    kept.bytes()
        .all(|b| b.is_ascii_digit())
        .then_some(kept)
        .filter(|d| d.len() <= MAX_DIGITS)
}

impl Pattern {
    pub fn parse(given: &str) -> Result<Pattern, PatternError> {
        let bad = |reason| PatternError {
            given: given.to_owned(),
            reason,
        };
        let t = given.trim();
        let (body, prefix) = match t.strip_suffix('*') {
            Some(body) => (body, true),
            None => (t, false),
        };
        let digits = digits(body).ok_or_else(|| {
            bad("a number is digits (with spaces, dashes, dots, parentheses, a leading +), optionally ending in *")
        })?;
        if digits.is_empty() && !prefix {
            return Err(bad(
                "no digits: give a number, or * for any caller with caller ID",
            ));
        }
        Ok(Pattern { digits, prefix })
    }

    pub fn matches(&self, number: &str) -> bool {
        if self.prefix {
            number.starts_with(&self.digits)
        } else {
            number == self.digits
        }
    }
}

/// As it is stored and shown: digits, and the `*` if any.
impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.digits)?;
        if self.prefix {
            f.write_str("*")?;
        }
        Ok(())
    }
}

/// Parses every entry; the first bad one is the error.
pub fn parse_list(given: &[String]) -> Result<Vec<Pattern>, PatternError> {
    given.iter().map(|g| Pattern::parse(g)).collect()
}

/// One list and whose it is, for the refusal's reason.
#[derive(Clone, Debug, PartialEq, Eq)]
struct List {
    source: String,
    patterns: Vec<Pattern>,
}

/// Who may call: a number must be on every list that is set. No list
/// (the default) answers everyone, caller ID or not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedCallers {
    lists: Vec<List>,
}

/// Why a call was not answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefuseReason {
    /// The number is not on this list (`--allow-caller`, say).
    NotAllowed { list: String },
    /// `NMBR = P`: the caller withholds the number.
    Withheld,
    /// `NMBR = O`: the exchange does not have it (out of area).
    Unavailable,
    /// An NMBR that is empty or not a number.
    Unreadable,
    /// No NMBR by the second RING.
    NoCallerId,
    /// Two different numbers for one call: neither is believed.
    Conflicting,
}

impl RefuseReason {
    /// The name in events.
    pub fn code(&self) -> &'static str {
        match self {
            RefuseReason::NotAllowed { .. } => "not-allowed",
            RefuseReason::Withheld => "withheld",
            RefuseReason::Unavailable => "unavailable",
            RefuseReason::Unreadable => "unreadable",
            RefuseReason::NoCallerId => "no-caller-id",
            RefuseReason::Conflicting => "conflicting",
        }
    }
}

impl fmt::Display for RefuseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RefuseReason::NotAllowed { list } => write!(f, "not in {list}"),
            RefuseReason::Withheld => f.write_str("the caller withholds the number"),
            RefuseReason::Unavailable => f.write_str("the number is unavailable"),
            RefuseReason::Unreadable => f.write_str("the caller ID is not a number"),
            RefuseReason::NoCallerId => f.write_str("no caller ID by the second ring"),
            RefuseReason::Conflicting => f.write_str("the caller ID names two numbers"),
        }
    }
}

/// What the screen says of one NMBR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Answer: the caller's number, as digits.
    Allowed(String),
    Refused {
        /// As digits when it was one; an unreadable value as it came
        /// (printable already: the line reader keeps nothing else),
        /// shortened.
        number: Option<String>,
        reason: RefuseReason,
    },
}

impl AllowedCallers {
    /// Adds `patterns` as a list every caller must be on; an empty one
    /// adds nothing. `source` names the list in refusals.
    pub fn require(&mut self, source: &str, patterns: Vec<Pattern>) {
        if !patterns.is_empty() {
            self.lists.push(List {
                source: source.to_owned(),
                patterns,
            });
        }
    }

    /// Whether any list is set: then caller ID is needed.
    pub fn is_restricted(&self) -> bool {
        !self.lists.is_empty()
    }

    /// The lists' sources, in order (for messages).
    pub fn sources(&self) -> Vec<&str> {
        self.lists.iter().map(|l| l.source.as_str()).collect()
    }

    /// Judges the value of an NMBR item.
    pub fn judge(&self, nmbr: &str) -> Verdict {
        let v = nmbr.trim();
        let refused = |reason| Verdict::Refused {
            number: None,
            reason,
        };
        match v.to_ascii_uppercase().as_str() {
            "P" | "PRIVATE" => return refused(RefuseReason::Withheld),
            "O" | "OUT OF AREA" | "UNAVAILABLE" => return refused(RefuseReason::Unavailable),
            _ => {}
        }
        let Some(number) = digits(v).filter(|d| !d.is_empty()) else {
            return Verdict::Refused {
                number: (!v.is_empty()).then(|| v.chars().take(MAX_DIGITS).collect()),
                reason: RefuseReason::Unreadable,
            };
        };
        for list in &self.lists {
            if !list.patterns.iter().any(|p| p.matches(&number)) {
                return Verdict::Refused {
                    number: Some(number),
                    reason: RefuseReason::NotAllowed {
                        list: list.source.clone(),
                    },
                };
            }
        }
        Verdict::Allowed(number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> Vec<Pattern> {
        entries.iter().map(|e| Pattern::parse(e).unwrap()).collect()
    }

    fn screen(entries: &[&str]) -> AllowedCallers {
        let mut a = AllowedCallers::default();
        a.require("--allow-caller", list(entries));
        a
    }

    fn refused(reason: RefuseReason, number: Option<&str>) -> Verdict {
        Verdict::Refused {
            number: number.map(str::to_owned),
            reason,
        }
    }

    #[test]
    fn numbers_are_digits_after_the_usual_punctuation() {
        assert_eq!(
            Pattern::parse("+1 (555) 014-2").unwrap().to_string(),
            "15550142"
        );
        assert_eq!(Pattern::parse(" 555.0142 ").unwrap().to_string(), "5550142");
        assert_eq!(Pattern::parse("555*").unwrap().to_string(), "555*");
        assert_eq!(Pattern::parse("*").unwrap().to_string(), "*");
        for bad in [
            "",
            "   ",
            "-",
            "555x0142",
            "55*5",
            "++1555",
            "1+555",
            "**",
            &"1".repeat(33),
        ] {
            assert!(Pattern::parse(bad).is_err(), "{bad:?}");
        }
        let e = Pattern::parse("abc").unwrap_err();
        assert!(
            e.to_string().starts_with("\"abc\": a number is digits"),
            "{e}"
        );
    }

    #[test]
    fn exact_unless_a_star_makes_it_a_prefix() {
        let s = screen(&["555-0142", "0171*"]);
        assert_eq!(s.judge("5550142"), Verdict::Allowed("5550142".into()));
        assert_eq!(s.judge(" 555 0142 "), Verdict::Allowed("5550142".into()));
        let not = |n: &str| {
            refused(
                RefuseReason::NotAllowed {
                    list: "--allow-caller".into(),
                },
                Some(n),
            )
        };
        assert_eq!(s.judge("55501420"), not("55501420"), "exact means exact");
        assert_eq!(s.judge("555014"), not("555014"));
        assert_eq!(
            s.judge("01711234567"),
            Verdict::Allowed("01711234567".into())
        );
        assert_eq!(s.judge("0171"), Verdict::Allowed("0171".into()));
        assert_eq!(s.judge("0172"), not("0172"));
        let any = screen(&["*"]);
        assert_eq!(any.judge("1"), Verdict::Allowed("1".into()));
        assert_eq!(any.judge("P"), refused(RefuseReason::Withheld, None));
    }

    #[test]
    fn no_number_is_never_allowed() {
        let s = screen(&["*"]);
        assert_eq!(s.judge("P"), refused(RefuseReason::Withheld, None));
        assert_eq!(s.judge("p"), refused(RefuseReason::Withheld, None));
        assert_eq!(s.judge("O"), refused(RefuseReason::Unavailable, None));
        assert_eq!(s.judge(""), refused(RefuseReason::Unreadable, None));
        assert_eq!(s.judge(" - "), refused(RefuseReason::Unreadable, Some("-")));
        assert_eq!(
            s.judge("555;DROP"),
            refused(RefuseReason::Unreadable, Some("555;DROP"))
        );
        let long = "9".repeat(200);
        match s.judge(&long) {
            Verdict::Refused {
                number: Some(n),
                reason: RefuseReason::Unreadable,
            } => assert_eq!(n.len(), MAX_DIGITS),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_list_must_allow_the_number() {
        let mut s = AllowedCallers::default();
        assert!(!s.is_restricted());
        s.require("the enablement", list(&["555*"]));
        s.require("--allow-caller", list(&["5550142", "4440100"]));
        s.require("nobody", Vec::new());
        assert!(s.is_restricted());
        assert_eq!(s.judge("5550142"), Verdict::Allowed("5550142".into()));
        // The operator's list cannot widen the customer's.
        assert_eq!(
            s.judge("4440100"),
            refused(
                RefuseReason::NotAllowed {
                    list: "the enablement".into()
                },
                Some("4440100")
            )
        );
        assert_eq!(
            s.judge("5559999"),
            refused(
                RefuseReason::NotAllowed {
                    list: "--allow-caller".into()
                },
                Some("5559999")
            )
        );
    }
}
