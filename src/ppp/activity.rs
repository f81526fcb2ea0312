//! What counts as activity on a link (pppd's `active-filter`): which
//! datagrams may bring a demand-dialed link up and which keep `idle` from
//! hanging it up.
//!
//! pppd takes a tcpdump expression compiled by libpcap. carrier reads a
//! subset of that language, enough for the choices people make with it:
//!
//! ```text
//! expr    := and ('or' and)*
//! and     := unary ('and' unary)*
//! unary   := 'not' unary | '(' expr ')' | prim
//! prim    := 'ip' | 'ip6' | 'tcp' | 'udp' | 'icmp' | 'icmp6'
//!          | ['tcp'|'udp'] ['src'|'dst'] 'port' N | ['src'|'dst'] 'host' ADDR
//!          | 'net' ADDR/LEN | 'multicast' | 'broadcast' | 'chatter'
//!          | 'inbound' | 'outbound'
//! ```
//!
//! `chatter` is what a host says by itself on any interface: IPv4
//! multicast, broadcast and IGMP, IPv6 multicast (router solicitations,
//! MLD reports, neighbour solicitations) and neighbour discovery. With no
//! expression given, everything but chatter is activity.
//!
//! `inbound` and `outbound` are libpcap's on pppd's link type
//! (DLT_PPP_PPPD): the kernel and pppd's `active_packet` put a direction
//! byte first, 1 for a datagram sent to the peer (`outbound`), 0 for one
//! received from it (`inbound`). Demand dialling judges only what the host
//! sends, so it is always outbound there.
//!
//! Parentheses and `not` nest at most [`MAX_NESTING`] deep: the parser
//! recurses once per level, and an expression from a profile or the
//! command line must never be able to exhaust the stack. `and` and `or`
//! chains are flat lists, so they add no depth however long they are.

use std::net::{IpAddr, Ipv4Addr};

use super::datagram;
use crate::wire::{self, ipproto, tcp};

/// The deepest nesting of parentheses and `not` an expression may have.
/// pppd sets none (libpcap's generated parser runs out of its stack far
/// beyond what anyone writes by hand); 64 leaves room for any expression a
/// person or a generator produces and keeps the parser's recursion small.
pub const MAX_NESTING: usize = 64;

/// Which way a datagram (or any frame: the line's tap) crosses the link.
/// The values are the direction octet of pppd's link type and of pcap's
/// LINKTYPE_PPP_WITH_DIR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Received from the peer.
    Inbound = 0,
    /// Sent to the peer.
    Outbound = 1,
}

/// Why an expression was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("empty filter")]
    Empty,
    #[error("the filter ends too early")]
    EndsEarly,
    #[error("unexpected {0:?}")]
    Unexpected(String),
    #[error("expected \")\", found {0:?}")]
    Unclosed(String),
    #[error("{0:?} is not a port")]
    Port(String),
    #[error("{0:?} is not an address")]
    Address(String),
    #[error("{0:?}: write net ADDR/LEN")]
    NetWithoutLength(String),
    #[error("{0:?} is not a prefix length")]
    PrefixLength(String),
    #[error("{0:?}: prefix too long")]
    PrefixTooLong(String),
    #[error("{0:?} is not a filter word this reads")]
    UnknownWord(String),
    #[error("parentheses and \"not\" nested more than {MAX_NESTING} deep")]
    TooDeep,
}

/// A word as an error quotes it: a megabyte of garbage is not echoed back.
fn quoted(w: &str) -> String {
    const MAX: usize = 40;
    match w.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}...", &w[..at]),
        None => w.to_string(),
    }
}

/// A compiled expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActiveFilter {
    expr: Expr,
    text: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Expr {
    /// Flat, so that a long chain is no deeper than a short one.
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Prim(Prim),
}

/// Which address or port of a datagram a primitive looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Src,
    Dst,
    Either,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Prim {
    Ip,
    Ip6,
    Proto(u8),
    /// A TCP or UDP port, of that protocol alone when one is named.
    Port(Option<u8>, End, u16),
    Host(End, IpAddr),
    Net(IpAddr, u8),
    Multicast,
    Broadcast,
    Chatter,
    Way(Direction),
}

/// The fields the primitives look at.
struct View {
    way: Direction,
    v6: bool,
    src: IpAddr,
    dst: IpAddr,
    /// The upper-layer protocol, when the header chain leads to it.
    proto: Option<u8>,
    ports: Option<(u16, u16)>,
    icmp6_type: Option<u8>,
    /// A fragment other than the first: no upper-layer header to judge.
    later_fragment: bool,
    /// A TCP segment with FIN and no data: the end of a connection, which
    /// pppd does not count as a reason to dial.
    bare_fin: bool,
}

fn view(d: &[u8], way: Direction) -> Option<View> {
    let upper = |v6, src, dst, proto, l4, later| upper(way, v6, src, dst, proto, l4, later);
    match datagram::classify(d)? {
        (super::proto::IPV4, d) => {
            let h = wire::ipv4_header(d)?;
            let l4 = &d[h.header_len..h.total_len];
            Some(upper(
                false,
                h.src.into(),
                h.dst.into(),
                h.protocol,
                l4,
                h.fragment_offset != 0,
            ))
        }
        (_, d) => {
            let h = wire::ipv6_fixed(d)?;
            let (src, dst) = (IpAddr::V6(h.src), IpAddr::V6(h.dst));
            // A Fragment header straight after the fixed one: judge the
            // first fragment by what follows, never a later one.
            if h.next == wire::ext6::FRAGMENT {
                if let Some((next, f)) = wire::fragment6(&d[40..]) {
                    return Some(upper(true, src, dst, next, &d[48..], f.offset != 0));
                }
            }
            Some(upper(true, src, dst, h.next, &d[40..], false))
        }
    }
}

fn upper(
    way: Direction,
    v6: bool,
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    l4: &[u8],
    later: bool,
) -> View {
    let ports = if !later && matches!(proto, ipproto::TCP | ipproto::UDP) {
        wire::ports(l4)
    } else {
        None
    };
    let bare_fin = !later
        && proto == ipproto::TCP
        && wire::tcp_header(l4)
            .is_some_and(|t| t.flags & tcp::FIN != 0 && l4.len() <= t.header_len);
    View {
        way,
        v6,
        src,
        dst,
        proto: Some(proto),
        ports,
        icmp6_type: (v6 && proto == ipproto::ICMPV6 && !later)
            .then(|| l4.first().copied())
            .flatten(),
        later_fragment: later,
        bare_fin,
    }
}

fn in_net(a: IpAddr, net: IpAddr, len: u8) -> bool {
    match (a, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let m = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(a) & m == u32::from(n) & m
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let m = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(a) & m == u128::from(n) & m
        }
        _ => false,
    }
}

fn is_chatter(v: &View) -> bool {
    match v.dst {
        IpAddr::V4(d) => d.is_multicast() || d.is_broadcast() || v.proto == Some(2),
        IpAddr::V6(d) => {
            d.is_multicast()
                // Router/neighbour discovery and redirects (RFC 4861), MLD
                // (RFC 2710, RFC 3810).
                || matches!(v.icmp6_type, Some(130..=137 | 143))
        }
    }
}

impl Prim {
    fn eval(&self, v: &View) -> bool {
        let dir = |d: End, a: IpAddr| match d {
            End::Src => v.src == a,
            End::Dst => v.dst == a,
            End::Either => v.src == a || v.dst == a,
        };
        match self {
            Prim::Ip => !v.v6,
            Prim::Ip6 => v.v6,
            Prim::Proto(p) => v.proto == Some(*p) && !v.later_fragment,
            Prim::Port(proto, d, p) => {
                proto.map_or(true, |x| v.proto == Some(x))
                    && v.ports.is_some_and(|(s, t)| match d {
                        End::Src => s == *p,
                        End::Dst => t == *p,
                        End::Either => s == *p || t == *p,
                    })
            }
            Prim::Host(d, a) => dir(*d, *a),
            Prim::Net(n, l) => in_net(v.src, *n, *l) || in_net(v.dst, *n, *l),
            Prim::Multicast => match v.dst {
                IpAddr::V4(d) => d.is_multicast(),
                IpAddr::V6(d) => d.is_multicast(),
            },
            Prim::Broadcast => v.dst == IpAddr::V4(Ipv4Addr::BROADCAST),
            Prim::Chatter => is_chatter(v),
            Prim::Way(w) => v.way == *w,
        }
    }
}

impl Expr {
    fn eval(&self, v: &View) -> bool {
        match self {
            Expr::Or(es) => es.iter().any(|e| e.eval(v)),
            Expr::And(es) => es.iter().all(|e| e.eval(v)),
            Expr::Not(a) => !a.eval(v),
            Expr::Prim(p) => p.eval(v),
        }
    }
}

impl Default for ActiveFilter {
    /// Everything but chatter.
    fn default() -> Self {
        ActiveFilter {
            expr: Expr::Not(Box::new(Expr::Prim(Prim::Chatter))),
            text: "not chatter".into(),
        }
    }
}

impl std::fmt::Display for ActiveFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl ActiveFilter {
    /// Whether the datagram, going `way`, counts for `idle`. Garbage never
    /// does.
    pub fn is_active(&self, datagram: &[u8], way: Direction) -> bool {
        view(datagram, way).is_some_and(|v| self.expr.eval(&v))
    }

    /// Whether the datagram, which the host sends, may bring a demand link
    /// up: it counts, and it is not a later fragment or a bare FIN (pppd's
    /// `active_packet`, which marks it outbound).
    pub fn may_dial(&self, datagram: &[u8]) -> bool {
        view(datagram, Direction::Outbound)
            .is_some_and(|v| !v.later_fragment && !v.bare_fin && self.expr.eval(&v))
    }

    pub fn parse(text: &str) -> Result<ActiveFilter, FilterError> {
        let words: Vec<String> = text
            .replace('(', " ( ")
            .replace(')', " ) ")
            .split_whitespace()
            .map(str::to_ascii_lowercase)
            .collect();
        if words.is_empty() {
            return Err(FilterError::Empty);
        }
        let mut p = Parser {
            w: &words,
            at: 0,
            depth: 0,
        };
        let expr = p.or()?;
        if let Some(extra) = p.peek() {
            return Err(FilterError::Unexpected(quoted(extra)));
        }
        Ok(ActiveFilter {
            expr,
            text: words.join(" "),
        })
    }
}

struct Parser<'a> {
    w: &'a [String],
    at: usize,
    /// Parentheses and `not`s open around the word at `at`.
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&str> {
        self.w.get(self.at).map(String::as_str)
    }

    fn next(&mut self) -> Result<&str, FilterError> {
        let w = self.w.get(self.at).ok_or(FilterError::EndsEarly)?;
        self.at += 1;
        Ok(w)
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut es = vec![self.and()?];
        while matches!(self.peek(), Some("or" | "||")) {
            self.at += 1;
            es.push(self.and()?);
        }
        Ok(if es.len() == 1 {
            es.remove(0)
        } else {
            Expr::Or(es)
        })
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut es = vec![self.unary()?];
        while matches!(self.peek(), Some("and" | "&&")) {
            self.at += 1;
            es.push(self.unary()?);
        }
        Ok(if es.len() == 1 {
            es.remove(0)
        } else {
            Expr::And(es)
        })
    }

    /// One level deeper, refused past [`MAX_NESTING`] before recursing.
    fn nest(&mut self) -> Result<(), FilterError> {
        if self.depth == MAX_NESTING {
            return Err(FilterError::TooDeep);
        }
        self.depth += 1;
        self.at += 1;
        Ok(())
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        match self.peek() {
            Some("not" | "!") => {
                self.nest()?;
                let e = Expr::Not(Box::new(self.unary()?));
                self.depth -= 1;
                Ok(e)
            }
            Some("(") => {
                self.nest()?;
                let e = self.or()?;
                self.depth -= 1;
                match self.next()? {
                    ")" => Ok(e),
                    w => Err(FilterError::Unclosed(quoted(w))),
                }
            }
            _ => Ok(Expr::Prim(self.prim()?)),
        }
    }

    /// `[src|dst] port` next, after `tcp` or `udp`.
    fn port_follows(&self) -> bool {
        let at = |i: usize| self.w.get(self.at + i).map(String::as_str);
        match at(0) {
            Some("port") => true,
            Some("src" | "dst") => at(1) == Some("port"),
            _ => false,
        }
    }

    /// The number after `port`.
    fn port(&mut self, proto: Option<u8>, end: End) -> Result<Prim, FilterError> {
        let n = self.next()?;
        let n = n.parse().map_err(|_| FilterError::Port(quoted(n)))?;
        Ok(Prim::Port(proto, end, n))
    }

    fn prim(&mut self) -> Result<Prim, FilterError> {
        let w = self.next()?.to_string();
        let dir = match w.as_str() {
            "src" => Some(End::Src),
            "dst" => Some(End::Dst),
            _ => None,
        };
        let w = if dir.is_some() {
            self.next()?.to_string()
        } else {
            w
        };
        let d = dir.unwrap_or(End::Either);
        Ok(match w.as_str() {
            "ip" if dir.is_none() => Prim::Ip,
            "ip6" if dir.is_none() => Prim::Ip6,
            // tcpdump's `tcp port 443`: the port of that protocol alone.
            "tcp" | "udp" if dir.is_none() && self.port_follows() => {
                let end = match self.peek() {
                    Some("src") => End::Src,
                    Some("dst") => End::Dst,
                    _ => End::Either,
                };
                self.at += if end == End::Either { 1 } else { 2 };
                self.port(Some(if w == "tcp" { 6 } else { 17 }), end)?
            }
            "tcp" if dir.is_none() => Prim::Proto(6),
            "udp" if dir.is_none() => Prim::Proto(17),
            "icmp" if dir.is_none() => Prim::Proto(1),
            "icmp6" if dir.is_none() => Prim::Proto(58),
            "multicast" if dir.is_none() => Prim::Multicast,
            "broadcast" if dir.is_none() => Prim::Broadcast,
            "chatter" if dir.is_none() => Prim::Chatter,
            "inbound" if dir.is_none() => Prim::Way(Direction::Inbound),
            "outbound" if dir.is_none() => Prim::Way(Direction::Outbound),
            "port" => self.port(None, d)?,
            "host" => {
                let a = self.next()?;
                Prim::Host(d, a.parse().map_err(|_| FilterError::Address(quoted(a)))?)
            }
            "net" if dir.is_none() => {
                let n = self.next()?;
                let (a, l) = n
                    .split_once('/')
                    .ok_or_else(|| FilterError::NetWithoutLength(quoted(n)))?;
                let a: IpAddr = a.parse().map_err(|_| FilterError::Address(quoted(a)))?;
                let l: u8 = l
                    .parse()
                    .map_err(|_| FilterError::PrefixLength(quoted(l)))?;
                if l > if a.is_ipv4() { 32 } else { 128 } {
                    return Err(FilterError::PrefixTooLong(quoted(n)));
                }
                Prim::Net(a, l)
            }
            other => return Err(FilterError::UnknownWord(quoted(other))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    fn v4(proto: u8, dst: [u8; 4], l4: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; 20];
        p[0] = 0x45;
        p[8] = 64;
        p[9] = proto;
        p[12..16].copy_from_slice(&[10, 0, 0, 2]);
        p[16..20].copy_from_slice(&dst);
        p.extend_from_slice(l4);
        let n = p.len() as u16;
        p[2..4].copy_from_slice(&n.to_be_bytes());
        p
    }

    fn tcp(dport: u16, flags: u8, data: usize) -> Vec<u8> {
        let mut t = vec![0u8; 20 + data];
        t[0..2].copy_from_slice(&40000u16.to_be_bytes());
        t[2..4].copy_from_slice(&dport.to_be_bytes());
        t[12] = 5 << 4;
        t[13] = flags;
        t
    }

    fn v6(next: u8, dst: Ipv6Addr, l4: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&(l4.len() as u16).to_be_bytes());
        p[6] = next;
        p[7] = 255;
        p[8..24].copy_from_slice(&"fe80::1".parse::<Ipv6Addr>().unwrap().octets());
        p[24..40].copy_from_slice(&dst.octets());
        p.extend_from_slice(l4);
        p
    }

    #[test]
    fn by_default_the_hosts_own_chatter_does_not_count() {
        let f = ActiveFilter::default();
        let syn = v4(6, [10, 64, 1, 10], &tcp(443, 0x02, 0));
        assert!(f.may_dial(&syn) && f.is_active(&syn, Direction::Outbound));
        // IPv6 router solicitation, MLD report, neighbour advertisement.
        let rs = v6(58, "ff02::2".parse().unwrap(), &[133, 0, 0, 0, 0, 0, 0, 0]);
        let mld = v6(58, "ff02::16".parse().unwrap(), &[143, 0, 0, 0]);
        let na = v6(58, "fe80::2".parse().unwrap(), &[136, 0, 0, 0]);
        let igmp = v4(2, [224, 0, 0, 22], &[0x22, 0, 0, 0]);
        let bcast = v4(17, [255, 255, 255, 255], &[0, 68, 0, 67, 0, 8, 0, 0]);
        for p in [&rs, &mld, &na, &igmp, &bcast] {
            for way in [Direction::Inbound, Direction::Outbound] {
                assert!(!f.may_dial(p) && !f.is_active(p, way), "{p:?}");
            }
        }
        // A unicast ping6 does count.
        let ping6 = v6(58, "fe80::2".parse().unwrap(), &[128, 0, 0, 0, 0, 1, 0, 1]);
        assert!(f.may_dial(&ping6));
        // Garbage never does.
        assert!(!f.is_active(&[0x45, 0, 1], Direction::Inbound));
    }

    #[test]
    fn a_bare_fin_and_a_later_fragment_do_not_dial_but_count_for_idle() {
        let f = ActiveFilter::default();
        let fin = v4(6, [10, 64, 1, 10], &tcp(443, 0x11, 0));
        assert!(!f.may_dial(&fin) && f.is_active(&fin, Direction::Outbound));
        let fin_with_data = v4(6, [10, 64, 1, 10], &tcp(443, 0x11, 5));
        assert!(f.may_dial(&fin_with_data));
        let mut frag = v4(17, [10, 64, 1, 10], &[0; 16]);
        frag[6..8].copy_from_slice(&100u16.to_be_bytes());
        assert!(!f.may_dial(&frag));
    }

    #[test]
    fn expressions_choose_by_protocol_port_and_address() {
        let f = ActiveFilter::parse("tcp and dst port 443 or (udp and not port 53)").unwrap();
        assert!(f.may_dial(&v4(6, [10, 64, 1, 10], &tcp(443, 0x02, 0))));
        assert!(!f.may_dial(&v4(6, [10, 64, 1, 10], &tcp(22, 0x02, 0))));
        let dns = v4(17, [10, 0, 0, 53], &[0x9c, 0x40, 0, 53, 0, 8, 0, 0]);
        let ntp = v4(17, [10, 0, 0, 53], &[0, 123, 0, 123, 0, 8, 0, 0]);
        assert!(!f.may_dial(&dns) && f.may_dial(&ntp));
        let g = ActiveFilter::parse("dst host 10.64.1.10 or net 192.168.0.0/16").unwrap();
        assert!(g.may_dial(&v4(1, [10, 64, 1, 10], &[8, 0, 0, 0])));
        assert!(g.may_dial(&v4(1, [192, 168, 7, 1], &[8, 0, 0, 0])));
        assert!(!g.may_dial(&v4(1, [10, 64, 1, 11], &[8, 0, 0, 0])));
        assert!(ActiveFilter::parse("ip6 and not chatter").is_ok());
        // tcpdump's shorthand: the port of that protocol alone.
        let h = ActiveFilter::parse("tcp port 443 or icmp").unwrap();
        assert!(h.may_dial(&v4(6, [10, 64, 1, 10], &tcp(443, 0x02, 0))));
        assert!(h.may_dial(&v4(1, [10, 64, 1, 10], &[8, 0, 0, 0])));
        let quic = v4(17, [10, 64, 1, 10], &[0x9c, 0x40, 1, 0xbb, 0, 8, 0, 0]);
        assert!(!h.may_dial(&quic), "udp 443 is not tcp port 443");
        assert!(ActiveFilter::parse("udp dst port 443")
            .unwrap()
            .may_dial(&quic));
        assert!(!ActiveFilter::parse("udp src port 443")
            .unwrap()
            .may_dial(&quic));
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        for (bad, says) in [
            ("", "empty"),
            ("tcp and", "ends too early"),
            ("port x", "not a port"),
            ("host 10.0.0", "not an address"),
            ("net 10.0.0.0/40", "too long"),
            ("(tcp", "ends too early"),
            ("tcp udp", "unexpected"),
            ("ether host 1", "not a filter word"),
        ] {
            let e = ActiveFilter::parse(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
        // Direction is no address: `src inbound` means nothing.
        assert_eq!(
            ActiveFilter::parse("src inbound"),
            Err(FilterError::UnknownWord("inbound".into()))
        );
        // A huge word is not echoed whole.
        let e = ActiveFilter::parse(&"x".repeat(100_000)).unwrap_err();
        assert!(e.to_string().len() < 100, "{e}");
    }

    #[test]
    fn inbound_and_outbound_judge_the_direction() {
        let syn = v4(6, [10, 64, 1, 10], &tcp(443, 0x02, 0));
        let out = ActiveFilter::parse("outbound").unwrap();
        assert!(out.is_active(&syn, Direction::Outbound));
        assert!(!out.is_active(&syn, Direction::Inbound));
        assert!(out.may_dial(&syn), "what the host sends is outbound");
        let not_in = ActiveFilter::parse("not inbound").unwrap();
        assert!(not_in.is_active(&syn, Direction::Outbound));
        assert!(!not_in.is_active(&syn, Direction::Inbound));
        // Demand dialling never sees an inbound datagram.
        assert!(!ActiveFilter::parse("inbound").unwrap().may_dial(&syn));
        // Combined like any primitive: web traffic either way, anything
        // else only when sent.
        let f = ActiveFilter::parse("outbound or (inbound and tcp port 443)").unwrap();
        let ntp = v4(17, [10, 0, 0, 1], &[0, 123, 0, 123, 0, 8, 0, 0]);
        assert!(f.is_active(&syn, Direction::Inbound));
        assert!(!f.is_active(&ntp, Direction::Inbound));
        assert!(f.is_active(&ntp, Direction::Outbound));
        // Direction does not make chatter count.
        let g = ActiveFilter::parse("outbound and not chatter").unwrap();
        let igmp = v4(2, [224, 0, 0, 22], &[0x22, 0, 0, 0]);
        assert!(!g.is_active(&igmp, Direction::Outbound));
        assert!(g.is_active(&syn, Direction::Outbound));
    }

    #[test]
    fn nesting_past_the_limit_is_an_error_not_a_stack_overflow() {
        let syn = v4(6, [10, 64, 1, 10], &tcp(443, 0x02, 0));
        let deep =
            |n: usize, open: &str, close: &str| format!("{}tcp{}", open.repeat(n), close.repeat(n));
        for (open, close) in [("not ", ""), ("(", ")"), ("not (", ")")] {
            for n in [100_000, MAX_NESTING + 1] {
                let e = ActiveFilter::parse(&deep(n, open, close)).unwrap_err();
                assert_eq!(e, FilterError::TooDeep, "{open:?} x {n}");
            }
        }
        // Unclosed, too: the depth is refused before the missing ")".
        assert_eq!(
            ActiveFilter::parse(&"(".repeat(100_000)),
            Err(FilterError::TooDeep)
        );
        assert!(FilterError::TooDeep.to_string().contains("64"));
        // At the limit and just under it, accepted and evaluated.
        for n in [MAX_NESTING, MAX_NESTING - 1] {
            let nots = ActiveFilter::parse(&deep(n, "not ", "")).unwrap();
            assert_eq!(nots.is_active(&syn, Direction::Outbound), n % 2 == 0);
            let parens = ActiveFilter::parse(&deep(n, "(", ")")).unwrap();
            assert!(parens.may_dial(&syn));
        }
        // Half of each, mixed.
        let half = MAX_NESTING / 2;
        assert!(ActiveFilter::parse(&deep(half, "not (", ")")).is_ok());
        assert_eq!(
            ActiveFilter::parse(&deep(half + 1, "not (", ")")),
            Err(FilterError::TooDeep)
        );
        // Depth closes with its parenthesis: siblings do not add up.
        let sibling = deep(MAX_NESTING, "(", ")");
        assert!(ActiveFilter::parse(&format!("{sibling} and {sibling}")).is_ok());
    }

    #[test]
    fn a_long_chain_of_and_or_is_flat() {
        // 100,000 terms would be 100,000 levels of a binary tree: dropping
        // or evaluating it would recurse that deep.
        let udp = v4(17, [10, 0, 0, 1], &[0, 123, 0, 123, 0, 8, 0, 0]);
        let ors = vec!["tcp"; 100_000].join(" or ") + " or udp";
        let f = ActiveFilter::parse(&ors).unwrap();
        assert!(f.is_active(&udp, Direction::Inbound));
        let ands = vec!["ip"; 100_000].join(" and ") + " and tcp";
        let g = ActiveFilter::parse(&ands).unwrap();
        assert!(!g.is_active(&udp, Direction::Inbound));
        drop((f, g));
    }
}
