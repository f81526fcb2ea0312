//! IPv6CP options (RFC 5072): the Interface-Identifier from which each end
//! forms its link-local address `fe80::<identifier>`.

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use rand::rngs::StdRng;
use rand::RngCore;

use super::fsm::{Options, Verdict};
use super::packet::{self, push_option};

pub mod opt {
    pub const INTERFACE_ID: u8 = 1;
    pub const IPV6_COMPRESSION: u8 = 2;
}

/// A 64-bit Interface-Identifier (RFC 5072 §4.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct InterfaceId(pub [u8; 8]);

impl InterfaceId {
    pub fn is_zero(self) -> bool {
        self.0 == [0; 8]
    }

    /// The link-local address formed from it (RFC 5072 §5, RFC 4291 §2.5.6).
    pub fn link_local(self) -> Ipv6Addr {
        let mut o = [0u8; 16];
        o[0] = 0xfe;
        o[1] = 0x80;
        o[8..].copy_from_slice(&self.0);
        Ipv6Addr::from(o)
    }

    /// A random non-zero identifier (pppd's `eui64_magic_nz`). RFC 5072
    /// §4.1 asks for one unique to the link; without a hardware address the
    /// RFC's fallback is a random number. The universal/local bit is left
    /// clear, as for any locally made identifier (RFC 4291 Appendix A).
    pub fn random(rng: &mut StdRng) -> InterfaceId {
        loop {
            let mut b = [0u8; 8];
            rng.fill_bytes(&mut b);
            b[0] &= !0x02;
            let id = InterfaceId(b);
            if !id.is_zero() {
                return id;
            }
        }
    }
}

/// pppd's four groups of hex digits, `0203:0405:0607:0809`: the form
/// `ipv6 <local>,<remote>` takes after `::`.
impl fmt::Display for InterfaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}{:02x}:{:02x}{:02x}:{:02x}{:02x}:{:02x}{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]
        )
    }
}

/// Reads what pppd's `ipv6` option takes: `::1`, `::203:405:607:809`,
/// `fe80::1`, or the bare groups `0:0:0:1`. Only the low 64 bits count; a
/// zero identifier means "not given".
impl FromStr for InterfaceId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let addr = Ipv6Addr::from_str(s)
            .or_else(|_| Ipv6Addr::from_str(&format!("::{s}")))
            .map_err(|_| {
                format!("{s:?} is not an interface identifier (write ::1 or ::a:b:c:d)")
            })?;
        let o = addr.octets();
        if o[..8] != [0; 8] && o[..8] != [0xfe, 0x80, 0, 0, 0, 0, 0, 0] {
            return Err(format!(
                "{s:?}: only the interface identifier (the low 64 bits) can be set"
            ));
        }
        let mut id = [0u8; 8];
        id.copy_from_slice(&o[8..]);
        Ok(InterfaceId(id))
    }
}

/// pppd's `ipv6 <local>,<remote>`: either side may be empty (`::1,`,
/// `,::2`, or no comma for the local one alone).
pub fn parse_pair(s: &str) -> Result<(Option<InterfaceId>, Option<InterfaceId>), String> {
    let (l, r) = s.split_once(',').unwrap_or((s, ""));
    let one = |t: &str| -> Result<Option<InterfaceId>, String> {
        if t.trim().is_empty() {
            return Ok(None);
        }
        let id: InterfaceId = t.parse()?;
        Ok((!id.is_zero()).then_some(id))
    };
    Ok((one(l)?, one(r)?))
}

/// pppd's `+ipv6` family of options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ipv6cpConfig {
    /// Our identifier (pppd `ipv6 <local>,`); random if None.
    pub local: Option<InterfaceId>,
    /// The identifier the peer must use (pppd `ipv6 ,<remote>`).
    pub remote: Option<InterfaceId>,
    /// Take the identifier the peer Naks us with even though `local` was
    /// given (pppd `ipv6cp-accept-local`).
    pub accept_local: bool,
    /// Let the peer keep its own identifier even though `remote` was given
    /// (pppd `ipv6cp-accept-remote`).
    pub accept_remote: bool,
}

#[derive(Debug)]
pub struct Ipv6cp {
    pub cfg: Ipv6cpConfig,
    rng: StdRng,
    /// Our Interface-Identifier option's value; None once rejected.
    want: Option<InterfaceId>,
    /// What we Nak a colliding or zero peer identifier with, kept so that
    /// repeated Naks suggest the same value.
    suggested: Option<InterfaceId>,
    /// Both ends' identifiers as agreed (None: not determined).
    pub local_id: Option<InterfaceId>,
    pub peer_id: Option<InterfaceId>,
}

impl Ipv6cp {
    pub fn new(cfg: Ipv6cpConfig, rng: StdRng) -> Self {
        let mut i = Ipv6cp {
            cfg,
            rng,
            want: None,
            suggested: None,
            local_id: None,
            peer_id: None,
        };
        i.reset();
        i
    }

    /// A fresh identifier for the peer: non-zero and not ours.
    fn suggest(&mut self) -> InterfaceId {
        if let Some(s) = self.suggested {
            return s;
        }
        let ours = self.want.or(self.cfg.local);
        let s = loop {
            let s = InterfaceId::random(&mut self.rng);
            if Some(s) != ours {
                break s;
            }
        };
        self.suggested = Some(s);
        s
    }
}

fn ident(data: &[u8]) -> Option<InterfaceId> {
    <[u8; 8]>::try_from(data).ok().map(InterfaceId)
}

impl Options for Ipv6cp {
    fn reset(&mut self) {
        let fresh = InterfaceId::random(&mut self.rng);
        self.want = Some(self.cfg.local.filter(|l| !l.is_zero()).unwrap_or(fresh));
        self.suggested = None;
        self.local_id = None;
        self.peer_id = None;
    }

    fn request(&mut self) -> Vec<u8> {
        let mut v = Vec::with_capacity(10);
        if let Some(id) = self.want {
            push_option(&mut v, opt::INTERFACE_ID, &id.0);
        }
        v
    }

    fn check_request(&mut self, options: &[u8], reject_not_nak: bool) -> Verdict {
        let Ok(opts) = packet::options(options) else {
            return Verdict::Reject(Vec::new());
        };
        let ours = self.want.or(self.cfg.local).unwrap_or_default();
        let mut peer = None;
        let mut nak = Vec::new();
        let mut rej = Vec::new();
        for o in &opts {
            let Some(id) = (o.kind == opt::INTERFACE_ID)
                .then(|| ident(o.data))
                .flatten()
            else {
                // IPv6-Compression-Protocol (no compressor yet), bad
                // lengths and anything unknown.
                o.push_to(&mut rej);
                continue;
            };
            // RFC 5072 §4.1: both zero cannot be resolved by Naks.
            if id.is_zero() && ours.is_zero() {
                o.push_to(&mut rej);
                continue;
            }
            let suggestion = match self.cfg.remote {
                Some(r) if !r.is_zero() && r != id && !self.cfg.accept_remote => Some(r),
                // RFC 5072 §4.1: a zero identifier, or one equal to ours,
                // is Nak'ed with a different non-zero one.
                _ if id.is_zero() || id == ours => Some(self.suggest()),
                _ => None,
            };
            match suggestion {
                Some(_) if reject_not_nak => o.push_to(&mut rej),
                Some(s) => push_option(&mut nak, opt::INTERFACE_ID, &s.0),
                None => peer = Some(id),
            }
        }
        if !rej.is_empty() {
            return Verdict::Reject(rej);
        }
        if !nak.is_empty() {
            return Verdict::Nak(nak);
        }
        // A peer that does not negotiate its identifier gets the one we
        // were told it has (pppd: `hisid = wo->hisid`).
        self.peer_id = peer.or(self.cfg.remote).filter(|p| !p.is_zero());
        Verdict::Ack
    }

    fn acked(&mut self, _options: &[u8]) {
        self.local_id = self.want.or(self.cfg.local).filter(|l| !l.is_zero());
    }

    fn naked(&mut self, options: &[u8]) -> bool {
        let Ok(opts) = packet::options(options) else {
            return false;
        };
        for o in opts {
            if o.kind != opt::INTERFACE_ID || self.want.is_none() {
                continue;
            }
            let Some(id) = ident(o.data) else { continue };
            // A fixed identifier stays unless ipv6cp-accept-local; the
            // peer's suggestion is taken unless it is zero or the peer's own
            // (then a fresh random one, as pppd does on "bad luck").
            if self.cfg.local.is_some() && !self.cfg.accept_local {
                continue;
            }
            let theirs = self.peer_id;
            self.want = Some(if id.is_zero() || Some(id) == theirs {
                loop {
                    let f = InterfaceId::random(&mut self.rng);
                    if Some(f) != theirs {
                        break f;
                    }
                }
            } else {
                id
            });
        }
        true
    }

    fn rejected(&mut self, options: &[u8]) -> bool {
        let Ok(opts) = packet::options(options) else {
            return false;
        };
        for o in opts {
            match o.kind {
                opt::INTERFACE_ID => self.want = None,
                _ => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn v6cp(cfg: Ipv6cpConfig) -> Ipv6cp {
        Ipv6cp::new(cfg, StdRng::seed_from_u64(7))
    }

    fn id(n: u8) -> InterfaceId {
        InterfaceId([0, 0, 0, 0, 0, 0, 0, n])
    }

    fn req(i: InterfaceId) -> Vec<u8> {
        let mut v = Vec::new();
        push_option(&mut v, opt::INTERFACE_ID, &i.0);
        v
    }

    #[test]
    fn identifiers_parse_as_pppd_writes_them() {
        assert_eq!("::1".parse::<InterfaceId>().unwrap(), id(1));
        assert_eq!("fe80::1".parse::<InterfaceId>().unwrap(), id(1));
        assert_eq!(
            "::203:405:607:809"
                .parse::<InterfaceId>()
                .unwrap()
                .to_string(),
            "0203:0405:0607:0809"
        );
        assert_eq!("0:0:0:2".parse::<InterfaceId>().unwrap(), id(2));
        assert!("2001:db8::1".parse::<InterfaceId>().is_err());
        assert!("x".parse::<InterfaceId>().is_err());
        assert_eq!(id(5).link_local(), "fe80::5".parse::<Ipv6Addr>().unwrap());
    }

    #[test]
    fn the_default_identifier_is_random_and_non_zero() {
        let mut a = v6cp(Ipv6cpConfig::default());
        let r = a.request();
        assert_eq!(r.len(), 10);
        assert_ne!(&r[2..], &[0; 8]);
    }

    #[test]
    fn a_colliding_or_zero_identifier_is_naked_with_a_fresh_one() {
        let mut a = v6cp(Ipv6cpConfig {
            local: Some(id(1)),
            ..Default::default()
        });
        a.request();
        for bad in [id(1), InterfaceId::default()] {
            let Verdict::Nak(n) = a.check_request(&req(bad), false) else {
                panic!("{bad} not naked")
            };
            let s = ident(&n[2..]).unwrap();
            assert!(!s.is_zero() && s != id(1));
            // The same suggestion every time.
            assert_eq!(a.check_request(&req(bad), false), Verdict::Nak(n));
        }
        assert_eq!(a.check_request(&req(id(2)), false), Verdict::Ack);
        assert_eq!(a.peer_id, Some(id(2)));
        // After Max-Failure, rejected instead.
        assert!(matches!(
            a.check_request(&req(id(1)), true),
            Verdict::Reject(_)
        ));
    }

    #[test]
    fn both_zero_is_rejected() {
        let mut a = v6cp(Ipv6cpConfig::default());
        a.rejected(&req(InterfaceId::default()));
        assert!(matches!(
            a.check_request(&req(InterfaceId::default()), false),
            Verdict::Reject(_)
        ));
    }

    #[test]
    fn a_fixed_remote_is_imposed_unless_accept_remote() {
        let mut a = v6cp(Ipv6cpConfig {
            remote: Some(id(9)),
            ..Default::default()
        });
        assert_eq!(
            a.check_request(&req(id(3)), false),
            Verdict::Nak(req(id(9)))
        );
        a.cfg.accept_remote = true;
        assert_eq!(a.check_request(&req(id(3)), false), Verdict::Ack);
        // A peer that sends no identifier gets the configured one.
        assert_eq!(a.check_request(&[], false), Verdict::Ack);
        assert_eq!(a.peer_id, Some(id(9)));
    }

    #[test]
    fn a_nak_is_taken_unless_local_is_fixed() {
        let mut a = v6cp(Ipv6cpConfig::default());
        a.request();
        assert!(a.naked(&req(id(4))));
        assert_eq!(a.request(), req(id(4)));
        a.acked(&req(id(4)));
        assert_eq!(a.local_id, Some(id(4)));

        let mut b = v6cp(Ipv6cpConfig {
            local: Some(id(1)),
            ..Default::default()
        });
        b.naked(&req(id(4)));
        assert_eq!(b.request(), req(id(1)));
        b.cfg.accept_local = true;
        b.naked(&req(id(4)));
        assert_eq!(b.request(), req(id(4)));
    }

    #[test]
    fn compression_and_unknown_options_are_rejected() {
        let mut a = v6cp(Ipv6cpConfig::default());
        let mut o = Vec::new();
        push_option(&mut o, opt::IPV6_COMPRESSION, &[0x00, 0x4f]);
        push_option(&mut o, 77, &[1]);
        assert_eq!(a.check_request(&o, false), Verdict::Reject(o.clone()));
        // An identifier of the wrong length is rejected, not misread.
        let short = [opt::INTERFACE_ID, 6, 1, 2, 3, 4];
        assert!(matches!(a.check_request(&short, false), Verdict::Reject(_)));
    }
}
