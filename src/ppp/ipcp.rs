//! IPCP options (RFC 1332) with the DNS extension of RFC 1877 and Van
//! Jacobson compression (RFC 1332 §3.2, RFC 1144).

use std::net::Ipv4Addr;

use super::addrs::{self, AllowedAddrs};
use super::fsm::{Options, Verdict};
use super::packet::{self, push_option};

pub mod opt {
    /// RFC 1172's IP-Addresses, deprecated; always rejected.
    pub const IP_ADDRESSES: u8 = 1;
    pub const IP_COMPRESSION: u8 = 2;
    pub const IP_ADDRESS: u8 = 3;
    pub const PRIMARY_DNS: u8 = 129;
    pub const PRIMARY_NBNS: u8 = 130;
    pub const SECONDARY_DNS: u8 = 131;
    pub const SECONDARY_NBNS: u8 = 132;
}

const DNS_OPTS: [u8; 2] = [opt::PRIMARY_DNS, opt::SECONDARY_DNS];

/// The DNS servers to offer, for [`IpcpConfig::dns`], from pppd's
/// `ms-dns` given up to twice; None for more: RFC 1877 §1.1 and §1.3
/// have a primary and a secondary, nothing else.
pub fn offered_dns(servers: &[Ipv4Addr]) -> Option<[Option<Ipv4Addr>; 2]> {
    match servers {
        [] => Some([None, None]),
        [a] => Some([Some(*a), None]),
        [a, b] => Some([Some(*a), Some(*b)]),
        _ => None,
    }
}

/// One direction of VJ compression as RFC 1332 §3.2 words it: the
/// receiver's highest slot number and whether it takes packets that leave
/// the slot number out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VjConfig {
    pub max_slot: u8,
    pub compress_slot: bool,
}

impl Default for VjConfig {
    /// pppd's: 16 slots, slot numbers compressed.
    fn default() -> Self {
        VjConfig {
            max_slot: 15,
            compress_slot: true,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpcpConfig {
    /// Our address; None asks the peer for one (pppd's `noipdefault`).
    pub local: Option<Ipv4Addr>,
    /// The address we give the peer; None lets the peer choose its own
    /// (one its secrets line allows, and never a bad one or ours).
    pub remote: Option<Ipv4Addr>,
    /// Addresses the peer may never have besides our `local`: the other
    /// addresses of this host that the link reaches (an inbound
    /// console's aliases).
    pub forbidden: Vec<Ipv4Addr>,
    /// Ask the peer for DNS servers (pppd's `usepeerdns`).
    pub request_dns: bool,
    /// DNS servers we offer (pppd's `ms-dns`), primary then secondary.
    pub dns: [Option<Ipv4Addr>; 2],
    /// VJ compression we ask to receive and agree to send (pppd's
    /// default; None is `novj`). `compress_slot: false` is `novjccomp`:
    /// neither asked for nor used when sending.
    pub vj: Option<VjConfig>,
}

/// Why the peer gets no IPv4 address on this link (pppd: "Peer is not
/// authorized to use remote address").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unauthorized {
    /// The address configured for it (`remote`) is not one it may have:
    /// its secrets line does not allow it, or it is bad or ours.
    Remote(Ipv4Addr),
    /// Its secrets line allows no address (`-`, or only `!` words), or it
    /// opened IPCP without one while the line restricts it to some.
    NoAddress,
}

#[derive(Debug)]
pub struct Ipcp {
    pub cfg: IpcpConfig,
    /// The addresses the peer may have, from its secrets line once it
    /// authenticated to us; None: any that is not bad or ours.
    allowed: Option<AllowedAddrs>,
    /// Our IP-Address option's value; None once the peer rejected it.
    want_addr: Option<Ipv4Addr>,
    /// DNS options we ask for; None once rejected.
    want_dns: [Option<Ipv4Addr>; 2],
    /// Our VJ option's value; None once rejected.
    want_vj: Option<VjConfig>,
    /// VJ as agreed: what we receive (our request, acknowledged) and what
    /// we send (the peer's request, acknowledged).
    pub vj_rx: Option<VjConfig>,
    pub vj_tx: Option<VjConfig>,
    /// The peer's address as we acknowledged it.
    pub peer_addr: Option<Ipv4Addr>,
    /// Our address and DNS servers as the peer acknowledged them.
    pub local_addr: Option<Ipv4Addr>,
    pub dns: Vec<Ipv4Addr>,
}

fn addr(data: &[u8]) -> Option<Ipv4Addr> {
    <[u8; 4]>::try_from(data).ok().map(Ipv4Addr::from)
}

impl Ipcp {
    pub fn new(cfg: IpcpConfig) -> Self {
        let mut i = Ipcp {
            cfg,
            allowed: None,
            want_addr: None,
            want_dns: [None; 2],
            want_vj: None,
            vj_rx: None,
            vj_tx: None,
            peer_addr: None,
            local_addr: None,
            dns: Vec::new(),
        };
        i.reset();
        i
    }

    /// The authenticated peer's address list (pppd's `set_allowed_addrs`);
    /// kept across renegotiations.
    pub fn set_allowed(&mut self, allowed: Option<AllowedAddrs>) {
        self.allowed = allowed;
    }

    /// Whether the peer may have `a` (pppd's `auth_ip_addr`): a real
    /// address, not a bad one (`bad_ip_adrs`), not ours, and one its
    /// secrets line allows.
    pub fn permits(&self, a: Ipv4Addr) -> bool {
        !a.is_unspecified()
            && !addrs::is_bad(a)
            && !self.is_ours(a)
            && self.allowed.as_ref().map_or(true, |l| l.permits(a))
    }

    fn is_ours(&self, a: Ipv4Addr) -> bool {
        [self.cfg.local, self.want_addr, self.local_addr].contains(&Some(a))
            || self.cfg.forbidden.contains(&a)
    }

    /// The address we steer the peer to: the configured one, else the
    /// single address its secrets line names.
    fn target(&self) -> Option<Ipv4Addr> {
        self.cfg.remote.or_else(|| {
            self.allowed
                .as_ref()
                .and_then(AllowedAddrs::suggested)
                .filter(|&a| self.permits(a))
        })
    }

    /// Whether the peer must take [`Self::target`] rather than another
    /// address it may have.
    fn insists(&self) -> bool {
        self.cfg.remote.is_some() || self.allowed.as_ref().is_some_and(AllowedAddrs::insists)
    }

    /// Whether the peer can have no address here at all, known before
    /// IPCP starts.
    pub fn refusal(&self) -> Option<Unauthorized> {
        match self.cfg.remote {
            Some(r) if !self.permits(r) => Some(Unauthorized::Remote(r)),
            _ if self.allowed.as_ref().is_some_and(|l| !l.allows_some()) => {
                Some(Unauthorized::NoAddress)
            }
            _ => None,
        }
    }

    /// IPCP opened without an address for the peer while its secrets line
    /// allows only some: pppd refuses such a peer in ipcp_up.
    pub fn unaddressed(&self) -> bool {
        self.peer_addr.is_none()
            && self
                .allowed
                .as_ref()
                .is_some_and(|l| l.allows_some() && !l.permits_all())
    }
}

impl Options for Ipcp {
    fn reset(&mut self) {
        self.want_addr = Some(self.cfg.local.unwrap_or(Ipv4Addr::UNSPECIFIED));
        self.want_dns = if self.cfg.request_dns {
            [Some(Ipv4Addr::UNSPECIFIED); 2]
        } else {
            [None; 2]
        };
        self.want_vj = self.cfg.vj;
        self.vj_rx = None;
        self.vj_tx = None;
        self.peer_addr = None;
        self.local_addr = None;
        self.dns.clear();
    }

    fn request(&mut self) -> Vec<u8> {
        let mut v = Vec::with_capacity(24);
        if let Some(vj) = self.want_vj {
            push_option(&mut v, opt::IP_COMPRESSION, &vj_value(vj));
        }
        if let Some(a) = self.want_addr {
            push_option(&mut v, opt::IP_ADDRESS, &a.octets());
        }
        for (kind, want) in DNS_OPTS.iter().zip(self.want_dns) {
            if let Some(a) = want {
                push_option(&mut v, *kind, &a.octets());
            }
        }
        v
    }

    fn check_request(&mut self, options: &[u8], reject_not_nak: bool) -> Verdict {
        let Ok(opts) = packet::options(options) else {
            return Verdict::Reject(Vec::new());
        };
        let mut peer_addr = None;
        let mut peer_vj = None;
        let mut nak = Vec::new();
        let mut rej = Vec::new();
        // RFC 1661 §4.6 Max-Failure: reject what we would Nak.
        let nak_or_rej =
            |o: &packet::Opt<'_>, value: Ipv4Addr, nak: &mut Vec<u8>, rej: &mut Vec<u8>| {
                if reject_not_nak {
                    o.push_to(rej);
                } else {
                    push_option(nak, o.kind, &value.octets());
                }
            };
        for o in &opts {
            match (o.kind, addr(o.data)) {
                (opt::IP_ADDRESS, Some(a)) => match self.target() {
                    Some(t) if a == t => peer_addr = Some(a),
                    // Another address the peer may have, when the one we
                    // would give is only a suggestion.
                    Some(_) if !self.insists() && self.permits(a) => peer_addr = Some(a),
                    // Anything else is Nak'ed with ours: 0.0.0.0 ("give
                    // me one"), and what the peer may not have (loopback,
                    // multicast, our own, outside its secrets line).
                    Some(t) => {
                        if !a.is_unspecified() {
                            tracing::debug!(%a, offer = %t, "IPCP: peer's address refused");
                        }
                        nak_or_rej(o, t, &mut nak, &mut rej)
                    }
                    None if self.permits(a) => peer_addr = Some(a),
                    // Nothing to offer instead: the peer must know its
                    // own address, and one it may have.
                    None => {
                        if !a.is_unspecified() {
                            tracing::debug!(%a, "IPCP: peer's address refused, none to offer");
                        }
                        o.push_to(&mut rej)
                    }
                },
                (opt::PRIMARY_DNS | opt::SECONDARY_DNS, Some(a)) => {
                    let i = usize::from(o.kind == opt::SECONDARY_DNS);
                    match self.cfg.dns[i] {
                        Some(d) if d != a => nak_or_rej(o, d, &mut nak, &mut rej),
                        Some(_) => {}
                        None => o.push_to(&mut rej),
                    }
                }
                // RFC 1332 §3.2: the peer says what it can receive; we
                // can send to any number of slots.
                (opt::IP_COMPRESSION, _) if self.cfg.vj.is_some() && o.data.len() == 4 => {
                    let ours = self.cfg.vj.unwrap_or_default();
                    if o.data[..2] == crate::ppp::vj::COMPRESSED_TCP.to_be_bytes() {
                        peer_vj = Some(VjConfig {
                            max_slot: o.data[2],
                            compress_slot: o.data[3] != 0,
                        });
                    } else if reject_not_nak {
                        o.push_to(&mut rej);
                    } else {
                        // Another compression protocol: Nak'ed with VJ.
                        push_option(&mut nak, opt::IP_COMPRESSION, &vj_value(ours));
                    }
                }
                // VJ when `novj` or in RFC 1172's short form, RFC 1172
                // addresses, NBNS, bad lengths and anything unknown.
                _ => o.push_to(&mut rej),
            }
        }
        if !rej.is_empty() {
            return Verdict::Reject(rej);
        }
        if !nak.is_empty() {
            return Verdict::Nak(nak);
        }
        self.peer_addr = peer_addr.or(self.target());
        self.vj_tx = peer_vj;
        Verdict::Ack
    }

    fn acked(&mut self, _options: &[u8]) {
        self.vj_rx = self.want_vj;
        // A configured address stands even if the peer rejected the option.
        self.local_addr = self
            .want_addr
            .filter(|a| !a.is_unspecified())
            .or(self.cfg.local);
        self.dns = self
            .want_dns
            .iter()
            .flatten()
            .copied()
            .filter(|a| !a.is_unspecified())
            .collect();
    }

    fn naked(&mut self, options: &[u8]) -> bool {
        let Ok(opts) = packet::options(options) else {
            return false;
        };
        for o in opts {
            if o.kind == opt::IP_COMPRESSION {
                // A smaller slot table or no slot compression is taken;
                // another protocol means no VJ from the peer.
                self.want_vj = match (self.want_vj, o.data) {
                    (Some(w), [0x00, 0x2d, max, c]) => Some(VjConfig {
                        max_slot: (*max).min(w.max_slot),
                        compress_slot: w.compress_slot && *c != 0,
                    }),
                    _ => None,
                };
                continue;
            }
            let Some(a) = addr(o.data) else { continue };
            match o.kind {
                // A client takes the address the server offers; a fixed
                // local address is kept (pppd without `ipcp-accept-local`).
                opt::IP_ADDRESS if self.cfg.local.is_none() => self.want_addr = Some(a),
                opt::PRIMARY_DNS if self.want_dns[0].is_some() => self.want_dns[0] = Some(a),
                opt::SECONDARY_DNS if self.want_dns[1].is_some() => self.want_dns[1] = Some(a),
                _ => {}
            }
        }
        true
    }

    fn rejected(&mut self, options: &[u8]) -> bool {
        let Ok(opts) = packet::options(options) else {
            return false;
        };
        for o in opts {
            match o.kind {
                opt::IP_COMPRESSION => self.want_vj = None,
                opt::IP_ADDRESS => self.want_addr = None,
                opt::PRIMARY_DNS => self.want_dns[0] = None,
                opt::SECONDARY_DNS => self.want_dns[1] = None,
                _ => return false,
            }
        }
        true
    }
}

fn vj_value(v: VjConfig) -> [u8; 4] {
    let p = crate::ppp::vj::COMPRESSED_TCP.to_be_bytes();
    [p[0], p[1], v.max_slot, u8::from(v.compress_slot)]
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);

    #[test]
    fn at_most_two_dns_servers_are_offered() {
        let (a, b) = (Ipv4Addr::new(10, 0, 0, 53), Ipv4Addr::new(10, 0, 0, 54));
        assert_eq!(offered_dns(&[]), Some([None, None]));
        assert_eq!(offered_dns(&[a]), Some([Some(a), None]));
        assert_eq!(offered_dns(&[a, b]), Some([Some(a), Some(b)]));
        assert_eq!(offered_dns(&[a, b, a]), None);
    }
    const ALIAS: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 11);
    const GIVEN: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 5);

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn addr_opt(a: Ipv4Addr) -> Vec<u8> {
        let mut v = vec![opt::IP_ADDRESS, 6];
        v.extend_from_slice(&a.octets());
        v
    }

    /// Our side as `carrier answer` runs it: our address, the console's
    /// alias, `remote` if any, and the peer's secrets line if any.
    fn ipcp(remote: Option<Ipv4Addr>, line: Option<&str>) -> Ipcp {
        let mut i = Ipcp::new(IpcpConfig {
            local: Some(LOCAL),
            remote,
            forbidden: vec![ALIAS],
            ..IpcpConfig::default()
        });
        i.set_allowed(
            line.map(|l| AllowedAddrs::parse(&l.split_whitespace().collect::<Vec<_>>()).unwrap()),
        );
        i
    }

    /// Addresses no peer may have, 0.0.0.0 ("give me one") last.
    fn refused() -> [Ipv4Addr; 7] {
        [
            ip("127.0.0.1"),
            ip("224.0.0.1"),
            ip("240.0.0.1"),
            Ipv4Addr::BROADCAST,
            LOCAL,
            ALIAS,
            Ipv4Addr::UNSPECIFIED,
        ]
    }

    #[test]
    fn one_address_on_the_line_is_the_only_one_acked() {
        let mut i = ipcp(None, Some("10.77.0.5"));
        for a in refused()
            .into_iter()
            .chain([ip("10.77.0.6"), ip("192.0.2.1")])
        {
            assert_eq!(
                i.check_request(&addr_opt(a), false),
                Verdict::Nak(addr_opt(GIVEN)),
                "{a}"
            );
            assert_eq!(i.peer_addr, None, "{a}");
        }
        assert_eq!(i.check_request(&addr_opt(GIVEN), false), Verdict::Ack);
        assert_eq!(i.peer_addr, Some(GIVEN));
        assert_eq!(i.refusal(), None);
        assert!(!i.unaddressed());
    }

    #[test]
    fn with_a_wider_line_the_peer_may_choose_but_never_a_bad_address() {
        // Any address but the bad ones and ours, by the line itself.
        let mut i = ipcp(None, Some("10.77.0.5 *"));
        for a in refused() {
            assert_eq!(
                i.check_request(&addr_opt(a), false),
                Verdict::Nak(addr_opt(GIVEN)),
                "{a}"
            );
        }
        let mut i = ipcp(None, Some("10.77.0.5 10.77.0.0/24"));
        for a in refused().into_iter().chain([ip("10.78.0.1")]) {
            assert_eq!(
                i.check_request(&addr_opt(a), false),
                Verdict::Nak(addr_opt(GIVEN)),
                "{a}"
            );
        }
        // RFC 1661 §4.6 Max-Failure: what would be Nak'ed is rejected.
        assert_eq!(
            i.check_request(&addr_opt(ip("127.0.0.1")), true),
            Verdict::Reject(addr_opt(ip("127.0.0.1")))
        );
        let own = ip("10.77.0.7");
        assert_eq!(i.check_request(&addr_opt(own), false), Verdict::Ack);
        assert_eq!(i.peer_addr, Some(own));
    }

    #[test]
    fn with_nothing_to_offer_a_bad_address_is_rejected() {
        // No remote, no secrets line (or `*`): the peer names its own.
        for line in [None, Some("*")] {
            let mut i = ipcp(None, line);
            for a in refused() {
                assert_eq!(
                    i.check_request(&addr_opt(a), false),
                    Verdict::Reject(addr_opt(a)),
                    "{a} {line:?}"
                );
            }
            let own = ip("192.0.2.9");
            assert_eq!(i.check_request(&addr_opt(own), false), Verdict::Ack);
            assert_eq!(i.peer_addr, Some(own));
        }
        // A subnet names no address to give; one outside it is refused.
        let mut i = ipcp(None, Some("10.77.0.0/24"));
        let out = ip("10.78.0.1");
        assert_eq!(
            i.check_request(&addr_opt(out), false),
            Verdict::Reject(addr_opt(out))
        );
        // Acked without an address, the peer has none we allowed.
        assert_eq!(i.check_request(&[], false), Verdict::Ack);
        assert!(i.unaddressed());
        let mut any = ipcp(None, Some("*"));
        assert_eq!(any.check_request(&[], false), Verdict::Ack);
        assert!(!any.unaddressed());
    }

    #[test]
    fn a_configured_remote_is_given_and_must_be_allowed() {
        let r = ip("10.77.0.2");
        let mut i = ipcp(Some(r), None);
        for a in refused() {
            assert_eq!(
                i.check_request(&addr_opt(a), false),
                Verdict::Nak(addr_opt(r)),
                "{a}"
            );
        }
        assert_eq!(i.refusal(), None);
        assert_eq!(ipcp(Some(r), Some("10.77.0.0/24")).refusal(), None);
        assert_eq!(ipcp(Some(r), Some("*")).refusal(), None);
        for line in ["10.77.0.5", "-", "!10.77.0.2 *", "10.77.1.0/24"] {
            assert_eq!(
                ipcp(Some(r), Some(line)).refusal(),
                Some(Unauthorized::Remote(r)),
                "{line}"
            );
        }
        // Bad or ours is refused without any line.
        for bad in [ip("127.0.0.2"), LOCAL, ALIAS] {
            assert_eq!(
                ipcp(Some(bad), None).refusal(),
                Some(Unauthorized::Remote(bad))
            );
        }
        for line in ["-", "!10.77.0.9"] {
            assert_eq!(
                ipcp(None, Some(line)).refusal(),
                Some(Unauthorized::NoAddress),
                "{line}"
            );
        }
    }

    #[test]
    fn the_allowed_list_survives_renegotiation() {
        let mut i = ipcp(None, Some("10.77.0.5"));
        i.reset();
        assert_eq!(
            i.check_request(&addr_opt(ip("127.0.0.1")), false),
            Verdict::Nak(addr_opt(GIVEN))
        );
    }
}
