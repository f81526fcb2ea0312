//! Which IPv4 addresses a peer may have: the address column of its
//! secrets line, read as pppd reads it (auth.c `set_allowed_addrs`,
//! `ip_addr_check`), and the addresses no peer ever may (`bad_ip_adrs`).

use std::fmt;
use std::net::Ipv4Addr;

/// pppd's `bad_ip_adrs` (auth.c): loopback (127/8), multicast (224/4) and
/// class E (240/4, the limited broadcast among them). 0.0.0.0 is not among
/// them: in IPCP it means "give me one" (RFC 1332 §3.3), handled there.
pub fn is_bad(a: Ipv4Addr) -> bool {
    let o = a.octets()[0];
    o == 127 || o >= 224
}

/// One word of the list, as pppd's `struct permitted_ip`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rule {
    permit: bool,
    base: u32,
    mask: u32,
}

impl Rule {
    fn matches(&self, a: Ipv4Addr) -> bool {
        u32::from(a) & self.mask == self.base
    }

    fn host(&self) -> Option<Ipv4Addr> {
        (self.permit && self.mask == u32::MAX).then(|| Ipv4Addr::from(self.base))
    }
}

/// The addresses a peer may use, in pppd's terms: the first word that
/// matches decides (`!` forbids), and an address no word matches is
/// refused.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedAddrs {
    rules: Vec<Rule>,
}

impl AllowedAddrs {
    /// Any address (`*`).
    pub fn any() -> Self {
        AllowedAddrs {
            rules: vec![Rule {
                permit: true,
                base: 0,
                mask: 0,
            }],
        }
    }

    /// The words of an address column: `a.b.c.d`, `a.b.c.d/n` (a subnet),
    /// `!` before either (not that one), `*` (any further address) and `-`
    /// (no further address); words after `*` or `-` are not read, as in
    /// pppd. Host and network names are refused rather than looked up
    /// (the core does no I/O, and a name that resolves differently
    /// tomorrow is no access rule), as is pppd's `/n+` (an address by
    /// interface unit, which carrier does not number).
    pub fn parse<S: AsRef<str>>(words: &[S]) -> Result<Self, String> {
        let mut rules = Vec::new();
        for w in words {
            let w = w.as_ref();
            match w {
                "-" => break,
                "*" => {
                    rules.push(Rule {
                        permit: true,
                        base: 0,
                        mask: 0,
                    });
                    break;
                }
                "--" => {
                    return Err("per-peer options after `--` are not supported".into());
                }
                _ => {}
            }
            let (permit, body) = match w.strip_prefix('!') {
                Some(rest) => (false, rest),
                None => (true, w),
            };
            let (addr, bits) = match body.split_once('/') {
                Some((a, n)) => {
                    if n.ends_with('+') {
                        return Err(format!(
                            "`{w}`: an address by interface unit (`/n+`) is not supported"
                        ));
                    }
                    match n.parse::<u8>() {
                        Ok(b @ 1..=32) => (a, b),
                        _ => return Err(format!("`{w}`: the prefix length must be 1 to 32")),
                    }
                }
                None => (body, 32),
            };
            let a: Ipv4Addr = addr.parse().map_err(|_| {
                format!("`{w}` is not an IPv4 address (host names are not looked up)")
            })?;
            let mask = u32::MAX << (32 - u32::from(bits));
            rules.push(Rule {
                permit,
                base: u32::from(a) & mask,
                mask,
            });
        }
        Ok(AllowedAddrs { rules })
    }

    /// Whether the list lets the peer have `a` (pppd's `ip_addr_check`;
    /// [`is_bad`] is the caller's to add).
    pub fn permits(&self, a: Ipv4Addr) -> bool {
        self.rules
            .iter()
            .find(|r| r.matches(a))
            .is_some_and(|r| r.permit)
    }

    /// The address to give a peer we have none for: the first single
    /// address the list allows (pppd's `suggested_ip`, which, unlike
    /// pppd, is never one the list itself forbids).
    pub fn suggested(&self) -> Option<Ipv4Addr> {
        self.rules
            .iter()
            .filter_map(Rule::host)
            .find(|&a| self.permits(a))
    }

    /// The list is that one address: the peer gets it or nothing. With
    /// more words, the peer's own choice is taken if allowed (pppd sets
    /// `accept_remote` when the list has more than one entry).
    pub fn insists(&self) -> bool {
        self.rules.len() == 1 && self.rules[0].host().is_some()
    }

    /// Whether every address is allowed (`*` first, or alone).
    pub fn permits_all(&self) -> bool {
        self.rules.first().is_some_and(|r| r.permit && r.mask == 0)
    }

    /// Whether any address at all is allowed (`-`, an empty list or only
    /// `!` words allow none).
    pub fn allows_some(&self) -> bool {
        self.rules.iter().any(|r| r.permit)
    }
}

impl fmt::Display for AllowedAddrs {
    /// In the secrets file's own words.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rules.is_empty() {
            return f.write_str("-");
        }
        for (i, r) in self.rules.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            if r.mask == 0 && r.permit {
                f.write_str("*")?;
                continue;
            }
            if !r.permit {
                f.write_str("!")?;
            }
            write!(f, "{}", Ipv4Addr::from(r.base))?;
            if r.mask != u32::MAX {
                write!(f, "/{}", r.mask.count_ones())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(text: &str) -> AllowedAddrs {
        AllowedAddrs::parse(&text.split_whitespace().collect::<Vec<_>>()).unwrap()
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn bad_addresses_are_pppds() {
        for a in [
            "127.0.0.1",
            "127.255.0.9",
            "224.0.0.1",
            "239.1.2.3",
            "240.0.0.1",
        ] {
            assert!(is_bad(ip(a)), "{a}");
        }
        assert!(is_bad(Ipv4Addr::BROADCAST));
        for a in ["0.0.0.0", "10.0.0.1", "126.255.255.255", "223.255.255.255"] {
            assert!(!is_bad(ip(a)), "{a}");
        }
    }

    #[test]
    fn first_matching_word_decides() {
        let l = list("!10.0.0.7 10.0.0.0/24 !10.0.0.8");
        assert!(l.permits(ip("10.0.0.1")));
        assert!(!l.permits(ip("10.0.0.7")));
        // The exclusion after the subnet comes too late, as in pppd.
        assert!(l.permits(ip("10.0.0.8")));
        assert!(!l.permits(ip("10.0.1.1")), "nothing matched: refused");
        assert_eq!(l.suggested(), None);
        assert!(!l.insists());
        assert_eq!(l.to_string(), "!10.0.0.7 10.0.0.0/24 !10.0.0.8");
    }

    #[test]
    fn one_address_is_suggested_and_insisted_on() {
        let l = list("10.77.0.5");
        assert_eq!(l.suggested(), Some(ip("10.77.0.5")));
        assert!(l.insists());
        assert!(l.permits(ip("10.77.0.5")) && !l.permits(ip("10.77.0.6")));
        let l = list("10.77.0.0/24 10.77.0.5");
        assert_eq!(l.suggested(), Some(ip("10.77.0.5")));
        assert!(!l.insists());
        // A /32 is a single address too; a forbidden one is never offered.
        assert_eq!(
            list("!10.0.0.1 10.0.0.1/32 10.0.0.2").suggested(),
            Some(ip("10.0.0.2"))
        );
    }

    #[test]
    fn star_dash_and_words_after_them() {
        let l = list("!10.0.0.1 * 10.9.9.9");
        assert!(l.permits(ip("192.0.2.1")) && !l.permits(ip("10.0.0.1")));
        assert_eq!(l.to_string(), "!10.0.0.1 *");
        let none = list("- 10.0.0.1");
        assert!(!none.allows_some() && !none.permits(ip("10.0.0.1")));
        assert_eq!(none.to_string(), "-");
        assert!(!list("!10.0.0.1").allows_some());
        assert!(AllowedAddrs::any().permits(ip("203.0.113.9")));
    }

    #[test]
    fn what_is_not_read_is_refused_with_a_reason() {
        for (w, says) in [
            ("gateway.example", "host names are not looked up"),
            ("10.0.0.0/33", "1 to 32"),
            ("10.0.0.0/0", "1 to 32"),
            ("10.0.0.0/24+", "interface unit"),
            ("--", "`--`"),
        ] {
            let e = AllowedAddrs::parse(&[w]).unwrap_err();
            assert!(e.contains(says), "{w}: {e}");
        }
    }
}
