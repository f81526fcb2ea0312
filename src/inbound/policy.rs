//! The call's boundary, enforced by carrier itself on every datagram
//! between the link and the TUN, before the kernel sees it and before the
//! caller does. The nftables table of [`super::firewall`] says the same
//! again; this is the first wall, and it stands when the host's firewall
//! is flushed, reloaded or rewritten.
//!
//! From the caller, a datagram passes only if it comes from the caller's
//! address (IPCP's, or the IPv6CP link-local one when the enablement
//! allows IPv6) and goes to
//! * the console's PPP address (or, over IPv6, its link-local address),
//!   TCP or UDP, to a service port, and only with console access; or
//! * an allowed partition's alias (IPv4), any protocol, while the kernel's
//!   NAT that carries it on is known to stand ([`Policy::set_aliases_open`]):
//!   without it the alias is just another address of the console.
//!
//! Toward the caller, only what those flows answer: from a service port of
//! the console's address, from an alias, or an ICMP error that quotes a
//! datagram the caller was allowed to send. Nothing else, no ICMP to the
//! console, no IPv4 options, no IPv6 routing header.
//!
//! Fragments are judged as the kernel would judge the whole datagram: the
//! first carries the ports and decides (a first fragment too short to hold
//! its transport header is dropped, RFC 1858 §3); a later one passes only
//! if the first of its datagram passed, within the kernel's reassembly
//! time.
//!
//! No I/O and no clock of its own: the plane calls it with the time.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::wire::ipproto::{ICMP, ICMPV6, TCP, UDP};
use crate::wire::{self, Ipv6Header};

/// The service ports of the console (SEED 5.3): TCP and UDP.
pub const SERVICE_PORTS: [u16; 7] = [22, 23, 2125, 2300, 9090, 9735, 9940];
pub const SERVICE_RANGE: (u16, u16) = (30000, 30009);

pub fn is_service_port(p: u16) -> bool {
    SERVICE_PORTS.contains(&p) || (SERVICE_RANGE.0..=SERVICE_RANGE.1).contains(&p)
}

/// Why a datagram was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// Not an honest IPv4 or IPv6 datagram (a lying length, a truncated
    /// transport header).
    Malformed,
    /// Its family is not up on the link, or the call does not allow IPv6.
    Family,
    /// From the caller, not from the caller's address; toward the caller,
    /// not from an address the caller may reach.
    Source,
    /// From the caller, to an address the call does not allow; toward the
    /// caller, to anyone but the caller.
    Destination,
    /// To the console, which this call may not reach.
    ConsoleClosed,
    /// TCP or UDP to the console outside the service ports.
    Port,
    /// Neither TCP nor UDP to the console (ICMP, ...), or an ICMP error
    /// that quotes nothing the caller was allowed to send.
    Protocol,
    /// A later fragment whose first was not admitted, or a first fragment
    /// too short for its ports.
    Fragment,
    /// IPv4 options or an IPv6 Routing header.
    Options,
    /// To or from a partition while the kernel's NAT is not known to
    /// stand.
    WallDown,
}

impl Reason {
    pub const ALL: [Reason; 10] = [
        Reason::Malformed,
        Reason::Family,
        Reason::Source,
        Reason::Destination,
        Reason::ConsoleClosed,
        Reason::Port,
        Reason::Protocol,
        Reason::Fragment,
        Reason::Options,
        Reason::WallDown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Malformed => "malformed",
            Reason::Family => "family",
            Reason::Source => "source",
            Reason::Destination => "destination",
            Reason::ConsoleClosed => "console-closed",
            Reason::Port => "port",
            Reason::Protocol => "protocol",
            Reason::Fragment => "fragment",
            Reason::Options => "options",
            Reason::WallDown => "wall-down",
        }
    }

    /// Its place in [`Reason::ALL`], which lists them in declaration order.
    fn index(self) -> usize {
        self as usize
    }
}

/// Which way a datagram goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Way {
    /// From the link toward the TUN.
    FromCaller,
    /// From the TUN toward the link.
    ToCaller,
}

/// Datagrams passed and dropped, per direction and reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: [u64; 2],
    pub dropped: [[u64; Reason::ALL.len()]; 2],
}

impl Counts {
    fn way(w: Way) -> usize {
        match w {
            Way::FromCaller => 0,
            Way::ToCaller => 1,
        }
    }

    pub fn dropped(&self, w: Way, r: Reason) -> u64 {
        self.dropped[Self::way(w)][r.index()]
    }

    pub fn total_dropped(&self) -> u64 {
        self.dropped.iter().flatten().sum()
    }

    /// `{"from-caller": {"passed": n, "source": n, ...}, "to-caller": ...}`,
    /// reasons that dropped nothing left out.
    pub fn to_json(&self) -> serde_json::Value {
        let side = |w: Way| {
            let mut m = serde_json::Map::new();
            m.insert("passed".into(), self.passed[Self::way(w)].into());
            for r in Reason::ALL {
                let n = self.dropped(w, r);
                if n > 0 {
                    m.insert(r.as_str().into(), n.into());
                }
            }
            serde_json::Value::Object(m)
        };
        serde_json::json!({"from-caller": side(Way::FromCaller), "to-caller": side(Way::ToCaller)})
    }

    /// `source 3, port 1200` for people; "none" if nothing was dropped.
    pub fn summary(&self, w: Way) -> String {
        let parts: Vec<String> = Reason::ALL
            .iter()
            .filter_map(|r| {
                let n = self.dropped(w, *r);
                (n > 0).then(|| format!("{} {n}", r.as_str()))
            })
            .collect();
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(", ")
        }
    }
}

/// The kernel's reassembly times: `ipfrag_time` 30 s, IPv6's 60 s.
const FRAGMENT_TIME_V4: Duration = Duration::from_secs(30);
const FRAGMENT_TIME_V6: Duration = Duration::from_secs(60);
/// Datagrams in reassembly at once; the oldest goes first when more come.
const FRAGMENTS_HELD: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FragmentKey {
    way: Way,
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    ident: u32,
}

/// The datagrams whose first fragment passed, so that their later
/// fragments may follow.
#[derive(Debug, Default)]
struct Fragments {
    held: VecDeque<(FragmentKey, Instant)>,
}

impl Fragments {
    fn admit(&mut self, key: FragmentKey, until: Instant) {
        if let Some(e) = self.held.iter_mut().find(|(k, _)| *k == key) {
            e.1 = until;
            return;
        }
        if self.held.len() >= FRAGMENTS_HELD {
            self.held.pop_front();
        }
        self.held.push_back((key, until));
    }

    fn forget(&mut self, which: impl Fn(&FragmentKey) -> bool) {
        self.held.retain(|(k, _)| !which(k));
    }

    fn admitted(&mut self, key: &FragmentKey, now: Instant) -> bool {
        self.held.retain(|(_, until)| *until > now);
        self.held.iter().any(|(k, _)| k == key)
    }
}

/// The console's end of a datagram going `way` between (src, dst), if
/// its other end is the caller's address.
fn console_side<A: PartialEq>(way: Way, (src, dst): (A, A), caller: A) -> Result<A, Reason> {
    match way {
        Way::FromCaller if src == caller => Ok(dst),
        Way::FromCaller => Err(Reason::Source),
        Way::ToCaller if dst == caller => Ok(src),
        Way::ToCaller => Err(Reason::Destination),
    }
}

/// The reason for a console-side address the call does not allow.
fn not_ours(way: Way) -> Reason {
    match way {
        Way::FromCaller => Reason::Destination,
        Way::ToCaller => Reason::Source,
    }
}

/// The call's policy and what it has dropped.
#[derive(Debug)]
pub struct Policy {
    console: Ipv4Addr,
    console_access: bool,
    aliases: Vec<Ipv4Addr>,
    ipv6: bool,
    caller4: Option<Ipv4Addr>,
    /// (console, caller) link-local addresses once IPv6CP is up.
    link6: Option<(Ipv6Addr, Ipv6Addr)>,
    aliases_open: bool,
    fragments: Fragments,
    counts: Counts,
}

impl Policy {
    /// The policy of a call whose console is `console` on the link.
    /// Nothing passes until a family comes up ([`Policy::set_caller4`],
    /// [`Policy::set_link6`]); the aliases stay shut until the kernel's
    /// NAT is in place.
    pub fn new(
        console: Ipv4Addr,
        console_access: bool,
        aliases: Vec<Ipv4Addr>,
        ipv6: bool,
    ) -> Self {
        Policy {
            console,
            console_access,
            aliases,
            ipv6,
            caller4: None,
            link6: None,
            aliases_open: false,
            fragments: Fragments::default(),
            counts: Counts::default(),
        }
    }

    /// A family going down or changing its address takes with it every
    /// datagram of that family still in reassembly: none of their later
    /// fragments may follow into the next state.
    pub fn set_caller4(&mut self, caller: Option<Ipv4Addr>) {
        if caller != self.caller4 {
            self.fragments.forget(|k| k.src.is_ipv4());
        }
        self.caller4 = caller;
    }

    /// (console, caller) link-local addresses.
    pub fn set_link6(&mut self, link: Option<(Ipv6Addr, Ipv6Addr)>) {
        if link != self.link6 {
            self.fragments.forget(|k| k.src.is_ipv6());
        }
        self.link6 = link;
    }

    /// Whether the kernel's NAT toward the partitions is known to stand.
    /// Shutting the aliases shuts the datagrams to and from them that
    /// are in reassembly too: a later fragment must not complete, with the
    /// NAT gone, a datagram to what is then just an address of the console.
    pub fn set_aliases_open(&mut self, open: bool) {
        if !open {
            let aliases = &self.aliases;
            self.fragments.forget(|k| {
                let local = match k.way {
                    Way::FromCaller => k.dst,
                    Way::ToCaller => k.src,
                };
                matches!(local, IpAddr::V4(a) if aliases.contains(&a))
            });
        }
        self.aliases_open = open;
    }

    pub fn aliases(&self) -> &[Ipv4Addr] {
        &self.aliases
    }

    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Judges and counts one datagram going `way` at `now`.
    pub fn check(&mut self, way: Way, d: &[u8], now: Instant) -> Result<(), Reason> {
        let verdict = match d.first().map(|b| b >> 4) {
            Some(4) => self.check4(way, d, now),
            Some(6) => self.check6(way, d, now),
            _ => Err(Reason::Malformed),
        };
        let w = Counts::way(way);
        match verdict {
            Ok(()) => self.counts.passed[w] += 1,
            Err(r) => self.counts.dropped[w][r.index()] += 1,
        }
        verdict
    }

    fn check4(&mut self, way: Way, d: &[u8], now: Instant) -> Result<(), Reason> {
        let h = wire::ipv4_header(d).ok_or(Reason::Malformed)?;
        let caller = self.caller4.ok_or(Reason::Family)?;
        let local = console_side(way, (h.src, h.dst), caller)?;
        if h.header_len > 20 {
            return Err(Reason::Options);
        }
        let key = FragmentKey {
            way,
            src: h.src.into(),
            dst: h.dst.into(),
            protocol: h.protocol,
            ident: u32::from(h.ident),
        };
        if h.fragment_offset != 0 {
            return if self.fragments.admitted(&key, now) {
                Ok(())
            } else {
                Err(Reason::Fragment)
            };
        }
        let l4 = &d[h.header_len..h.total_len];
        let verdict = if local == self.console {
            self.to_console(way, h.protocol, l4, h.more_fragments)
                .or_else(|r| self.icmp4_error(way, h.protocol, l4).map_err(|_| r))
        } else if self.aliases.contains(&local) {
            if self.aliases_open {
                Ok(())
            } else {
                Err(Reason::WallDown)
            }
        } else {
            Err(not_ours(way))
        };
        if verdict.is_ok() && h.more_fragments {
            self.fragments.admit(key, now + FRAGMENT_TIME_V4);
        }
        verdict
    }

    fn check6(&mut self, way: Way, d: &[u8], now: Instant) -> Result<(), Reason> {
        let h = wire::ipv6_header(d).ok_or(Reason::Malformed)?;
        if !self.ipv6 {
            return Err(Reason::Family);
        }
        let (console, caller) = self.link6.ok_or(Reason::Family)?;
        let local = console_side(way, (h.src, h.dst), caller)?;
        if h.routing {
            return Err(Reason::Options);
        }
        let key = |ident| FragmentKey {
            way,
            src: h.src.into(),
            dst: h.dst.into(),
            protocol: 0,
            ident,
        };
        if let Some(f) = h.fragment.filter(|f| f.offset != 0) {
            return if self.fragments.admitted(&key(f.ident), now) {
                Ok(())
            } else {
                Err(Reason::Fragment)
            };
        }
        if local != console {
            return Err(not_ours(way));
        }
        let more = h.fragment.is_some_and(|f| f.more);
        let l4 = &d[h.payload_at..h.total_len];
        let verdict = self
            .to_console(way, h.next, l4, more)
            .or_else(|r| self.icmp6_error(way, &h, l4).map_err(|_| r));
        if let (Ok(()), Some(f)) = (verdict, h.fragment.filter(|f| f.more)) {
            self.fragments.admit(key(f.ident), now + FRAGMENT_TIME_V6);
        }
        verdict
    }

    /// TCP or UDP between the caller and a service port of the console:
    /// the destination port from the caller, the source port toward it.
    fn to_console(
        &self,
        way: Way,
        protocol: u8,
        l4: &[u8],
        fragmented: bool,
    ) -> Result<(), Reason> {
        let header = match protocol {
            TCP => 20,
            UDP => 8,
            _ => return Err(Reason::Protocol),
        };
        if !self.console_access {
            return Err(Reason::ConsoleClosed);
        }
        if l4.len() < header {
            return Err(if fragmented {
                Reason::Fragment
            } else {
                Reason::Malformed
            });
        }
        let (sport, dport) = wire::ports(l4).ok_or(Reason::Malformed)?;
        let port = match way {
            Way::FromCaller => dport,
            Way::ToCaller => sport,
        };
        if is_service_port(port) {
            Ok(())
        } else {
            Err(Reason::Port)
        }
    }

    /// Toward the caller from the console: an ICMP error (RFC 792
    /// Destination Unreachable, Time Exceeded, Parameter Problem) about a
    /// datagram the caller was allowed to send, which RFC 1122 §3.2.2
    /// says must quote its header and at least 8 octets.
    fn icmp4_error(&self, way: Way, protocol: u8, l4: &[u8]) -> Result<(), Reason> {
        if way != Way::ToCaller || protocol != ICMP || l4.len() < 8 || !matches!(l4[0], 3 | 11 | 12)
        {
            return Err(Reason::Protocol);
        }
        let q = &l4[8..];
        let quoted = wire::ipv4_fixed(q).ok_or(Reason::Protocol)?;
        let ihl = quoted.header_len;
        if ihl < 20 || Some(quoted.src) != self.caller4 {
            return Err(Reason::Protocol);
        }
        if self.aliases.contains(&quoted.dst) && self.aliases_open {
            return Ok(());
        }
        let quoted_ports = q.get(ihl..ihl + 4).ok_or(Reason::Protocol)?;
        self.quoted_to_console(quoted.dst == self.console, quoted.protocol, quoted_ports)
    }

    /// ICMPv6's errors (RFC 4443 §3: types 1 to 4), likewise.
    fn icmp6_error(&self, way: Way, h: &Ipv6Header, l4: &[u8]) -> Result<(), Reason> {
        if way != Way::ToCaller || h.next != ICMPV6 || l4.len() < 8 || !(1..=4).contains(&l4[0]) {
            return Err(Reason::Protocol);
        }
        let q = &l4[8..];
        let quoted = wire::ipv6_fixed(q).ok_or(Reason::Protocol)?;
        let quoted_ports = q.get(40..44).ok_or(Reason::Protocol)?;
        match self.link6 {
            Some((console, caller)) if quoted.src == caller => {
                self.quoted_to_console(quoted.dst == console, quoted.next, quoted_ports)
            }
            _ => Err(Reason::Protocol),
        }
    }

    /// Whether a quoted datagram to the console was one the caller could
    /// send: TCP or UDP to a service port, with console access.
    fn quoted_to_console(
        &self,
        to_console: bool,
        protocol: u8,
        ports: &[u8],
    ) -> Result<(), Reason> {
        let (_, dport) = wire::ports(ports).ok_or(Reason::Protocol)?;
        if to_console
            && self.console_access
            && matches!(protocol, TCP | UDP)
            && is_service_port(dport)
        {
            Ok(())
        } else {
            Err(Reason::Protocol)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONSOLE: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
    const CALLER: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
    const ALIAS: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 11);
    const LAN: Ipv4Addr = Ipv4Addr::new(192, 168, 51, 1);

    fn ll(n: u16) -> Ipv6Addr {
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, n)
    }

    fn policy(console_access: bool) -> Policy {
        let mut p = Policy::new(CONSOLE, console_access, vec![ALIAS], true);
        p.set_caller4(Some(CALLER));
        p.set_link6(Some((ll(1), ll(2))));
        p.set_aliases_open(true);
        p
    }

    fn v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, l4: &[u8]) -> Vec<u8> {
        let mut d = vec![0u8; 20];
        d[0] = 0x45;
        d[2..4].copy_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
        d[8] = 64;
        d[9] = protocol;
        d[12..16].copy_from_slice(&src.octets());
        d[16..20].copy_from_slice(&dst.octets());
        d.extend_from_slice(l4);
        d
    }

    fn l4(sport: u16, dport: u16, len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        b[..2].copy_from_slice(&sport.to_be_bytes());
        b[2..4].copy_from_slice(&dport.to_be_bytes());
        b
    }

    fn tcp4(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16) -> Vec<u8> {
        v4(src, dst, TCP, &l4(sport, dport, 20))
    }

    fn v6(src: Ipv6Addr, dst: Ipv6Addr, next: u8, payload: &[u8]) -> Vec<u8> {
        let mut d = vec![0u8; 40];
        d[0] = 0x60;
        d[4..6].copy_from_slice(&(payload.len() as u16).to_be_bytes());
        d[6] = next;
        d[7] = 64;
        d[8..24].copy_from_slice(&src.octets());
        d[24..40].copy_from_slice(&dst.octets());
        d.extend_from_slice(payload);
        d
    }

    fn now() -> Instant {
        Instant::now()
    }

    fn from(p: &mut Policy, d: &[u8]) -> Result<(), Reason> {
        p.check(Way::FromCaller, d, now())
    }

    fn to(p: &mut Policy, d: &[u8]) -> Result<(), Reason> {
        p.check(Way::ToCaller, d, now())
    }

    #[test]
    fn every_reason_counts_in_its_own_place() {
        for (i, r) in Reason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i, "{r:?}");
        }
    }

    #[test]
    fn the_port_list_is_the_seeds() {
        let open: Vec<u16> = (0..=u16::MAX).filter(|p| is_service_port(*p)).collect();
        assert_eq!(
            open,
            [
                22, 23, 2125, 2300, 9090, 9735, 9940, 30000, 30001, 30002, 30003, 30004, 30005,
                30006, 30007, 30008, 30009
            ]
        );
    }

    #[test]
    fn with_console_access_exactly_the_service_ports_of_the_ppp_address_pass() {
        let mut p = policy(true);
        for port in 0..=u16::MAX {
            for proto in [TCP, UDP] {
                let d = v4(CALLER, CONSOLE, proto, &l4(40000, port, 20));
                let want = if is_service_port(port) {
                    Ok(())
                } else {
                    Err(Reason::Port)
                };
                assert_eq!(from(&mut p, &d), want, "{proto}/{port}");
                let d6 = v6(ll(2), ll(1), proto, &l4(40000, port, 20));
                assert_eq!(from(&mut p, &d6), want, "v6 {proto}/{port}");
            }
        }
        assert_eq!(p.counts().passed[0], 17 * 4);
        assert_eq!(
            p.counts().dropped(Way::FromCaller, Reason::Port),
            (65536 - 17) * 4
        );
        // ICMP to the console, either family.
        assert_eq!(
            from(
                &mut p,
                &v4(CALLER, CONSOLE, ICMP, &[8, 0, 0, 0, 0, 0, 0, 0])
            ),
            Err(Reason::Protocol)
        );
        assert_eq!(
            from(
                &mut p,
                &v6(ll(2), ll(1), ICMPV6, &[128, 0, 0, 0, 0, 0, 0, 0])
            ),
            Err(Reason::Protocol)
        );
    }

    #[test]
    fn without_console_access_nothing_reaches_the_console() {
        let mut p = policy(false);
        assert_eq!(
            from(&mut p, &tcp4(CALLER, CONSOLE, 1, 22)),
            Err(Reason::ConsoleClosed)
        );
        assert_eq!(
            from(&mut p, &v6(ll(2), ll(1), UDP, &l4(1, 22, 8))),
            Err(Reason::ConsoleClosed)
        );
        assert_eq!(
            from(&mut p, &v4(CALLER, CONSOLE, ICMP, &[8; 8])),
            Err(Reason::Protocol)
        );
        // Nor does the console answer from a service port.
        assert_eq!(
            to(&mut p, &tcp4(CONSOLE, CALLER, 22, 1)),
            Err(Reason::ConsoleClosed)
        );
        // The partition still does.
        assert_eq!(from(&mut p, &v4(CALLER, ALIAS, ICMP, &[8; 8])), Ok(()));
        assert_eq!(to(&mut p, &v4(ALIAS, CALLER, ICMP, &[0; 8])), Ok(()));
    }

    #[test]
    fn only_the_callers_address_and_the_allowed_destinations() {
        let mut p = policy(true);
        let spoofed = Ipv4Addr::new(10, 99, 0, 3);
        assert_eq!(
            from(&mut p, &tcp4(spoofed, CONSOLE, 1, 22)),
            Err(Reason::Source)
        );
        assert_eq!(
            from(&mut p, &tcp4(CALLER, LAN, 1, 22)),
            Err(Reason::Destination)
        );
        assert_eq!(
            from(
                &mut p,
                &tcp4(CALLER, Ipv4Addr::new(192, 168, 51, 11), 1, 7777)
            ),
            Err(Reason::Destination),
            "a partition's real address"
        );
        assert_eq!(
            from(&mut p, &v6(ll(3), ll(1), TCP, &l4(1, 22, 20))),
            Err(Reason::Source)
        );
        let global: Ipv6Addr = "fd00::1".parse().unwrap();
        assert_eq!(
            from(&mut p, &v6(ll(2), global, TCP, &l4(1, 22, 20))),
            Err(Reason::Destination)
        );
        let mcast: Ipv6Addr = "ff02::1".parse().unwrap();
        assert_eq!(
            from(&mut p, &v6(ll(2), mcast, UDP, &l4(1, 22, 8))),
            Err(Reason::Destination)
        );
        // Toward the caller: only to the caller, only from what it may reach.
        assert_eq!(
            to(&mut p, &tcp4(CONSOLE, spoofed, 22, 1)),
            Err(Reason::Destination)
        );
        assert_eq!(to(&mut p, &tcp4(LAN, CALLER, 22, 1)), Err(Reason::Source));
        assert_eq!(
            to(&mut p, &tcp4(CONSOLE, CALLER, 8080, 1)),
            Err(Reason::Port)
        );
        assert_eq!(to(&mut p, &tcp4(CONSOLE, CALLER, 22, 1)), Ok(()));
        assert_eq!(
            to(
                &mut p,
                &v6(ll(1), mcast, ICMPV6, &[133, 0, 0, 0, 0, 0, 0, 0])
            ),
            Err(Reason::Destination)
        );
        for (w, r) in [
            (Way::FromCaller, Reason::Source),
            (Way::FromCaller, Reason::Destination),
            (Way::ToCaller, Reason::Destination),
            (Way::ToCaller, Reason::Source),
        ] {
            assert!(p.counts().dropped(w, r) > 0, "{w:?} {r:?}");
        }
    }

    #[test]
    fn a_family_that_is_not_up_or_not_allowed_carries_nothing() {
        let mut p = Policy::new(CONSOLE, true, vec![ALIAS], false);
        assert_eq!(
            from(&mut p, &tcp4(CALLER, CONSOLE, 1, 22)),
            Err(Reason::Family)
        );
        p.set_caller4(Some(CALLER));
        assert_eq!(from(&mut p, &tcp4(CALLER, CONSOLE, 1, 22)), Ok(()));
        p.set_link6(Some((ll(1), ll(2))));
        assert_eq!(
            from(&mut p, &v6(ll(2), ll(1), TCP, &l4(1, 22, 20))),
            Err(Reason::Family),
            "IPv6 not enabled"
        );
        let mut p = Policy::new(CONSOLE, true, vec![], true);
        p.set_caller4(Some(CALLER));
        assert_eq!(
            from(&mut p, &v6(ll(2), ll(1), TCP, &l4(1, 22, 20))),
            Err(Reason::Family),
            "IPv6CP not up"
        );
        assert_eq!(from(&mut p, &[0x45, 0, 0]), Err(Reason::Malformed));
        assert_eq!(from(&mut p, &[]), Err(Reason::Malformed));
    }

    #[test]
    fn aliases_wait_for_the_kernels_nat() {
        let mut p = policy(true);
        p.set_aliases_open(false);
        assert_eq!(
            from(&mut p, &tcp4(CALLER, ALIAS, 1, 7777)),
            Err(Reason::WallDown)
        );
        assert_eq!(
            to(&mut p, &tcp4(ALIAS, CALLER, 7777, 1)),
            Err(Reason::WallDown)
        );
        // The console's own ports do not depend on it.
        assert_eq!(from(&mut p, &tcp4(CALLER, CONSOLE, 1, 22)), Ok(()));
        p.set_aliases_open(true);
        assert_eq!(from(&mut p, &tcp4(CALLER, ALIAS, 1, 7777)), Ok(()));
    }

    #[test]
    fn options_and_routing_headers_are_dropped() {
        let mut p = policy(true);
        let mut d = tcp4(CALLER, CONSOLE, 1, 22);
        // IHL 6 with a 4-octet LSRR-ish option in front of the TCP header.
        d.splice(20..20, [131, 3, 4, 0]);
        d[0] = 0x46;
        let len = d.len() as u16;
        d[2..4].copy_from_slice(&len.to_be_bytes());
        assert_eq!(from(&mut p, &d), Err(Reason::Options));
        let mut rt = vec![TCP, 0, 0, 1, 0, 0, 0, 0];
        rt.extend(l4(1, 22, 20));
        assert_eq!(
            from(&mut p, &v6(ll(2), ll(1), 43, &rt)),
            Err(Reason::Options)
        );
    }

    fn frag4(
        dst: Ipv4Addr,
        protocol: u8,
        ident: u16,
        offset: usize,
        more: bool,
        l4: &[u8],
    ) -> Vec<u8> {
        let mut d = v4(CALLER, dst, protocol, l4);
        d[4..6].copy_from_slice(&ident.to_be_bytes());
        let flags = (offset / 8) as u16 | if more { 0x2000 } else { 0 };
        d[6..8].copy_from_slice(&flags.to_be_bytes());
        d
    }

    #[test]
    fn later_fragments_follow_an_admitted_first_only() {
        let mut p = policy(true);
        let t = now();
        // A later fragment of nothing.
        let later = frag4(CONSOLE, UDP, 7, 1480, false, &[0; 16]);
        assert_eq!(p.check(Way::FromCaller, &later, t), Err(Reason::Fragment));
        // The first to a closed port: its later fragments stay out too.
        let first_closed = frag4(CONSOLE, UDP, 8, 0, true, &l4(1, 8080, 16));
        assert_eq!(
            p.check(Way::FromCaller, &first_closed, t),
            Err(Reason::Port)
        );
        let later_closed = frag4(CONSOLE, UDP, 8, 16, false, &[0; 16]);
        assert_eq!(
            p.check(Way::FromCaller, &later_closed, t),
            Err(Reason::Fragment)
        );
        // The first to a service port opens the way for its own datagram.
        let first = frag4(CONSOLE, UDP, 9, 0, true, &l4(1, 22, 16));
        assert_eq!(p.check(Way::FromCaller, &first, t), Ok(()));
        let rest = frag4(CONSOLE, UDP, 9, 16, false, &[0; 16]);
        assert_eq!(p.check(Way::FromCaller, &rest, t), Ok(()));
        // ... not another protocol's with the same identification ...
        let other = frag4(CONSOLE, TCP, 9, 16, false, &[0; 16]);
        assert_eq!(p.check(Way::FromCaller, &other, t), Err(Reason::Fragment));
        // ... and not after the kernel would have given up reassembling.
        let late = t + FRAGMENT_TIME_V4 + Duration::from_secs(1);
        assert_eq!(p.check(Way::FromCaller, &rest, late), Err(Reason::Fragment));
        // A first fragment too short to carry the TCP header.
        let tiny = frag4(CONSOLE, TCP, 10, 0, true, &l4(1, 22, 8));
        assert_eq!(p.check(Way::FromCaller, &tiny, t), Err(Reason::Fragment));
        // A whole datagram too short for its header is malformed.
        assert_eq!(
            from(&mut p, &v4(CALLER, CONSOLE, TCP, &l4(1, 22, 8))),
            Err(Reason::Malformed)
        );
    }

    #[test]
    fn shutting_the_aliases_or_a_family_shuts_their_fragments_in_reassembly() {
        let mut p = policy(true);
        let t = now();
        let to_alias = frag4(ALIAS, UDP, 20, 0, true, &l4(1, 4444, 16));
        let to_console = frag4(CONSOLE, UDP, 21, 0, true, &l4(1, 22, 16));
        assert_eq!(p.check(Way::FromCaller, &to_alias, t), Ok(()));
        assert_eq!(p.check(Way::FromCaller, &to_console, t), Ok(()));
        // The host's firewall is flushed: the NAT may be gone.
        p.set_aliases_open(false);
        p.set_aliases_open(true);
        let rest_alias = frag4(ALIAS, UDP, 20, 16, false, &[0; 16]);
        let rest_console = frag4(CONSOLE, UDP, 21, 16, false, &[0; 16]);
        assert_eq!(
            p.check(Way::FromCaller, &rest_alias, t),
            Err(Reason::Fragment)
        );
        assert_eq!(
            p.check(Way::FromCaller, &rest_console, t),
            Ok(()),
            "the console's own port does not depend on the NAT"
        );
        // IPCP goes down and up again: nothing of before follows.
        assert_eq!(p.check(Way::FromCaller, &to_console, t), Ok(()));
        p.set_caller4(None);
        p.set_caller4(Some(CALLER));
        assert_eq!(
            p.check(Way::FromCaller, &rest_console, t),
            Err(Reason::Fragment)
        );
    }

    #[test]
    fn ipv6_fragments_are_judged_by_their_first() {
        let mut p = policy(true);
        let t = now();
        let frag = |ident: u32, offset: u16, more: bool, body: &[u8]| {
            let mut f = vec![UDP, 0];
            f.extend(((offset / 8) << 3 | u16::from(more)).to_be_bytes());
            f.extend(ident.to_be_bytes());
            f.extend_from_slice(body);
            v6(ll(2), ll(1), 44, &f)
        };
        assert_eq!(
            p.check(Way::FromCaller, &frag(1, 0, true, &l4(1, 9090, 16)), t),
            Ok(())
        );
        assert_eq!(
            p.check(Way::FromCaller, &frag(1, 16, false, &[0; 8]), t),
            Ok(())
        );
        assert_eq!(
            p.check(Way::FromCaller, &frag(2, 16, false, &[0; 8]), t),
            Err(Reason::Fragment)
        );
        assert_eq!(
            p.check(Way::FromCaller, &frag(3, 0, true, &l4(1, 80, 16)), t),
            Err(Reason::Port)
        );
        assert_eq!(
            p.check(Way::FromCaller, &frag(3, 16, false, &[0; 8]), t),
            Err(Reason::Fragment)
        );
        // RFC 7112: a first fragment must hold the whole upper-layer header.
        assert_eq!(
            p.check(Way::FromCaller, &frag(4, 0, true, &[0, 1, 0, 22]), t),
            Err(Reason::Fragment)
        );
    }

    #[test]
    fn icmp_errors_pass_only_about_what_the_caller_may_send() {
        let mut p = policy(true);
        let quoted = |dst: Ipv4Addr, dport: u16| {
            let mut e = vec![3, 3, 0, 0, 0, 0, 0, 0];
            e.extend(v4(CALLER, dst, UDP, &l4(40000, dport, 8)));
            v4(CONSOLE, CALLER, ICMP, &e)
        };
        assert_eq!(
            to(&mut p, &quoted(CONSOLE, 9735)),
            Ok(()),
            "port unreachable for a service port"
        );
        assert_eq!(to(&mut p, &quoted(CONSOLE, 53)), Err(Reason::Protocol));
        assert_eq!(to(&mut p, &quoted(LAN, 22)), Err(Reason::Protocol));
        assert_eq!(
            to(&mut p, &quoted(ALIAS, 7777)),
            Ok(()),
            "about the partition"
        );
        // An echo reply is no error.
        assert_eq!(
            to(&mut p, &v4(CONSOLE, CALLER, ICMP, &[0; 36])),
            Err(Reason::Protocol)
        );
        let q6 = |dport: u16| {
            let mut e = vec![1, 4, 0, 0, 0, 0, 0, 0];
            e.extend(v6(ll(2), ll(1), UDP, &l4(40000, dport, 8)));
            v6(ll(1), ll(2), ICMPV6, &e)
        };
        assert_eq!(to(&mut p, &q6(30009)), Ok(()));
        assert_eq!(to(&mut p, &q6(30010)), Err(Reason::Protocol));
        let mut closed = policy(false);
        assert_eq!(to(&mut closed, &quoted(CONSOLE, 22)), Err(Reason::Protocol));
    }

    #[test]
    fn counts_say_why_in_json() {
        let mut p = policy(false);
        let _ = from(&mut p, &tcp4(CALLER, CONSOLE, 1, 22));
        let _ = from(&mut p, &tcp4(CALLER, ALIAS, 1, 7777));
        let j = p.counts().to_json();
        assert_eq!(j["from-caller"]["console-closed"], 1);
        assert_eq!(j["from-caller"]["passed"], 1);
        assert!(j["from-caller"].get("port").is_none());
        assert_eq!(p.counts().summary(Way::FromCaller), "console-closed 1");
        assert_eq!(p.counts().summary(Way::ToCaller), "none");
    }
}
