//! The checks a parsed profile must pass, and the public checks for
//! single values that command-line flags share.

use super::field_path::{key, Seg};
use super::Profile;

/// The common line speeds (what `carrier detect` tries).
pub use carrier_hw::tty::STANDARD_SPEEDS;

/// The rates a port may be asked for: termios2 sets any rate (USB
/// adapters and cellular modules use non-standard ones); below 50 bit/s
/// or above 16 Mbit/s no UART goes, so such a value is a typo.
pub const SPEEDS: std::ops::RangeInclusive<u32> = 50..=16_000_000;

/// Whether `s` is made of what a dial string may hold: digits, `* # ,`,
/// the dial modifiers `W T P @ ! ;`, `+`, and spacing (` - ( )`).
pub fn is_dialable(s: &str) -> bool {
    s.chars().all(|c| {
        c.is_ascii_digit()
            || matches!(
                c,
                '*' | '#'
                    | ','
                    | 'W'
                    | 'T'
                    | 'P'
                    | 'w'
                    | 't'
                    | 'p'
                    | '@'
                    | '!'
                    | ';'
                    | '+'
                    | ' '
                    | '-'
                    | '('
                    | ')'
            )
    })
}

/// The longest time a profile may give, in seconds (about 31 years).
pub const MAX_SECONDS: u64 = crate::deadline::FOREVER_SECS;

/// A network interface name Linux takes: 1 to 15 bytes (IFNAMSIZ is 16
/// with the NUL), no `/`, `:` or spaces, not `.` or `..`.
pub fn check_ifname(n: &str) -> Result<(), String> {
    let ok = !n.is_empty()
        && n.len() <= 15
        && n != "."
        && n != ".."
        && !n.chars().any(|c| c == '/' || c == ':' || c.is_whitespace());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{n:?} is not an interface name (1 to 15 characters, no / : or spaces)"
        ))
    }
}

/// An init command must be one AT command line, without its CR.
pub fn check_init_command(cmd: &str) -> Result<(), String> {
    if !cmd.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("AT")) {
        return Err(format!("{cmd:?} is not an AT command"));
    }
    if cmd.chars().any(|c| c.is_control()) {
        return Err(format!("{cmd:?} has control characters (the CR is added)"));
    }
    Ok(())
}

fn seconds_ok(v: f64) -> bool {
    v.is_finite() && (0.0..=MAX_SECONDS as f64).contains(&v)
}

type Invalid = (Vec<Seg>, String);

impl Profile {
    /// The first value this profile cannot have, with its path.
    pub(super) fn validate(&self) -> Result<(), Invalid> {
        let bad = |path: Vec<Seg>, m: String| Err((path, m));
        if let Some(d) = &self.device {
            if d.as_os_str().is_empty() {
                return bad(vec![key("device")], "is empty".into());
            }
        }
        if let Some(s) = self.speed {
            if !SPEEDS.contains(&s) {
                return bad(
                    vec![key("speed")],
                    format!(
                        "{s} is not a line speed (from {} to {} bit/s)",
                        SPEEDS.start(),
                        SPEEDS.end()
                    ),
                );
            }
        }
        for (i, cmd) in self.init.iter().enumerate() {
            if let Err(m) = check_init_command(cmd) {
                return bad(vec![key("init"), Seg::Index(i)], m);
            }
        }
        for (i, n) in self.numbers.iter().enumerate() {
            let mut path = vec![key("numbers"), Seg::Index(i)];
            if n.label.is_some() {
                path.push(key("number"));
            }
            if n.number.trim().is_empty() {
                return bad(path, "is empty".into());
            }
            if !is_dialable(&n.number) {
                return bad(path, format!("{:?} is not a dialable number", n.number));
            }
        }
        if let Some(p) = &self.dial_prefix {
            if !is_dialable(p) {
                return bad(
                    vec![key("dial-prefix")],
                    format!("{p:?} is not dialable (digits, * # , W T P @ ! ; + - ( ) and spaces)"),
                );
            }
        }
        for (name, v) in [
            ("backoff", self.backoff),
            ("deadline", self.deadline),
            ("connect-timeout", self.connect_timeout),
        ] {
            if let Some(v) = v {
                if !seconds_ok(v) {
                    return bad(
                        vec![key(name)],
                        format!("{v} is not a number of seconds (0 or more)"),
                    );
                }
            }
        }
        // Whole seconds: any u64 parses, but past this a deadline would
        // overflow the clock.
        for (name, v) in [
            ("lcp-echo-interval", self.lcp_echo_interval),
            ("holdoff", self.holdoff),
            ("idle", self.idle),
        ] {
            if let Some(v) = v {
                if v > MAX_SECONDS {
                    return bad(
                        vec![key(name)],
                        format!("{v} seconds is too long (at most {MAX_SECONDS})"),
                    );
                }
            }
        }
        if let Some(n) = self.vj_max_slots.filter(|n| !(2..=16).contains(n)) {
            return bad(vec![key("vj-max-slots")], format!("{n} slots: 2 to 16"));
        }
        for (name, v) in [("deflate", &self.deflate), ("bsdcomp", &self.bsdcomp)] {
            if let Some(Err(m)) = v.as_deref().map(crate::ppp::ccp::Sizes::parse) {
                return bad(vec![key(name)], m);
            }
        }
        if let Some(f) = &self.active_filter {
            if let Err(e) = crate::ppp::activity::ActiveFilter::parse(f) {
                return bad(vec![key("active-filter")], e.to_string());
            }
        }
        if let Some(spec) = self.ipv6.as_ref().and_then(|v| v.spec()) {
            if let Err(m) = crate::ppp::ipv6cp::parse_pair(spec) {
                return bad(vec![key("ipv6")], m);
            }
        }
        if self.noip == Some(true) && self.ipv6.as_ref().and_then(|v| v.spec()).is_none() {
            return bad(
                vec![key("noip")],
                "noip without ipv6 leaves the link nothing to carry".into(),
            );
        }
        if self.password.is_some() && self.password_file.is_some() {
            return bad(
                vec![key("password-file")],
                "both password and password-file are set: keep one".into(),
            );
        }
        if let Some(p) = &self.password_file {
            if p.as_os_str().is_empty() {
                return bad(vec![key("password-file")], "is empty".into());
            }
        }
        if self.noauth == Some(true) {
            for (name, v) in [
                ("require-pap", self.require_pap),
                ("require-chap", self.require_chap),
            ] {
                if v == Some(true) {
                    return bad(vec![key(name)], "contradicts noauth = true".into());
                }
            }
        }
        if let Some(m) = self.mru {
            if !(128..=16384).contains(&m) {
                return bad(vec![key("mru")], format!("{m} is outside 128..16384"));
            }
        }
        if let Some(n) = &self.ifname {
            if let Err(m) = check_ifname(n) {
                return bad(vec![key("ifname")], m);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::tests::{error, parse};

    #[test]
    fn undialable_numbers_name_file_line_and_field() {
        assert_eq!(
            error(
                "user = \"u\"\nnumbers = [\n  { number = \"5551234\" },\n  { number = \"55x1\", label = \"Chicago\" },\n]\n"
            ),
            "/etc/carrier/t.toml:4: numbers[1].number: \"55x1\" is not a dialable number"
        );
        assert_eq!(
            error("numbers = [\"1\",\n \"\"]"),
            "/etc/carrier/t.toml:2: numbers[1]: is empty"
        );
        assert_eq!(
            error(
                "[[numbers]]\nnumber = \"1\"\n[[numbers]]\nlabel = \"Boston\"\nnumber = \"ATDT1\"\n"
            ),
            "/etc/carrier/t.toml:5: numbers[1].number: \"ATDT1\" is not a dialable number"
        );
        assert_eq!(
            error("dial-prefix = \"9x\""),
            "/etc/carrier/t.toml:1: dial-prefix: \"9x\" is not dialable (digits, * # , W T P @ ! ; + - ( ) and spaces)"
        );
    }

    #[test]
    fn validation_errors() {
        assert_eq!(
            error("\n\nspeed = 20"),
            "/etc/carrier/t.toml:3: speed: 20 is not a line speed (from 50 to 16000000 bit/s)"
        );
        // What USB adapters and cellular modules run at is a speed too.
        for rate in [250000, 460800, 3000000] {
            assert_eq!(parse(&format!("speed = {rate}")).unwrap().speed, Some(rate));
        }
        assert_eq!(
            error("password = \"x\"\npassword-file = \"/p\""),
            "/etc/carrier/t.toml:2: password-file: both password and password-file are set: keep one"
        );
        assert_eq!(
            error("retries = 1\nbackoff = -1"),
            "/etc/carrier/t.toml:2: backoff: -1 is not a number of seconds (0 or more)"
        );
        assert_eq!(
            error("deadline = nan"),
            "/etc/carrier/t.toml:1: deadline: NaN is not a number of seconds (0 or more)"
        );
        assert_eq!(
            error("init = [\"ATZ\",\n  \"&F\"]"),
            "/etc/carrier/t.toml:2: init[1]: \"&F\" is not an AT command"
        );
        assert_eq!(
            error("noauth = true\nrequire-chap = true"),
            "/etc/carrier/t.toml:2: require-chap: contradicts noauth = true"
        );
        assert_eq!(
            error("mru = 64"),
            "/etc/carrier/t.toml:1: mru: 64 is outside 128..16384"
        );
        assert_eq!(
            error("ifname = \"a-very-long-interface\""),
            "/etc/carrier/t.toml:1: ifname: \"a-very-long-interface\" is not an interface name \
             (1 to 15 characters, no / : or spaces)"
        );
        assert_eq!(
            error("device = \"\""),
            "/etc/carrier/t.toml:1: device: is empty"
        );
        // Whole-second fields too large for a deadline: an error, not a
        // panic when the call adds them to the clock.
        assert_eq!(
            error("user = \"a\"\nidle = 9223372036854775807"),
            "/etc/carrier/t.toml:2: idle: 9223372036854775807 seconds is too long \
             (at most 1000000000)"
        );
        assert!(error("lcp-echo-interval = 9000000000").contains("lcp-echo-interval"));
        assert!(error("holdoff = 9000000000").contains("holdoff"));
        assert!(parse("idle = 1000000000").is_ok());
        // Built without `parse`: no panic either.
        let unchecked = Profile {
            backoff: Some(-1.0),
            deadline: Some(f64::NAN),
            connect_timeout: Some(f64::INFINITY),
            ..Profile::default()
        };
        assert_eq!(unchecked.backoff(), None);
        assert_eq!(unchecked.deadline(), None);
        assert_eq!(unchecked.connect_timeout(), None);
    }
}
