//! Which network protocol a datagram belongs to, judged from its own
//! header, so that a frame's PPP protocol number and the datagram it
//! carries can never disagree.
//!
//! This matters because the kernel's TUN device (IFF_NO_PI) classifies a
//! datagram by its first nibble, not by the PPP protocol it arrived under:
//! an IPv6 packet inside a 0x0021 frame would reach the host's IPv6 stack
//! and walk past every IPv4 rule. The same holds the other way: whatever
//! the host writes to the interface (IPv6 router solicitations, say) must
//! not leave as 0x0021.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::proto;

/// The fields of an IPv4 header that checks and probes look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Header {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub header_len: usize,
    pub total_len: usize,
    /// Identification, More Fragments and Fragment Offset (in octets),
    /// RFC 791 §3.1: what ties a fragment to the others of its datagram.
    pub ident: u16,
    pub more_fragments: bool,
    pub fragment_offset: usize,
}

impl Ipv4Header {
    /// Part of a fragmented datagram (RFC 791 §2.3).
    pub fn is_fragment(&self) -> bool {
        self.more_fragments || self.fragment_offset != 0
    }
}

/// Parses an IPv4 header (RFC 791 §3.1), refusing one whose version is not
/// 4 or whose lengths lie: IHL under 5 words, a total length shorter than
/// the header or longer than what arrived.
pub fn ipv4_header(p: &[u8]) -> Option<Ipv4Header> {
    if p.len() < 20 || p[0] >> 4 != 4 {
        return None;
    }
    let header_len = usize::from(p[0] & 0x0f) * 4;
    let total_len = usize::from(u16::from_be_bytes([p[2], p[3]]));
    if header_len < 20 || total_len < header_len || total_len > p.len() {
        return None;
    }
    let flags = u16::from_be_bytes([p[6], p[7]]);
    Some(Ipv4Header {
        src: Ipv4Addr::new(p[12], p[13], p[14], p[15]),
        dst: Ipv4Addr::new(p[16], p[17], p[18], p[19]),
        protocol: p[9],
        header_len,
        total_len,
        ident: u16::from_be_bytes([p[4], p[5]]),
        more_fragments: flags & 0x2000 != 0,
        fragment_offset: usize::from(flags & 0x1fff) * 8,
    })
}

/// IPv6 extension headers (RFC 8200 §4) that may stand between the fixed
/// header and the upper layer.
pub mod ext6 {
    pub const HOP_BY_HOP: u8 = 0;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const AUTH: u8 = 51;
    pub const DEST_OPTS: u8 = 60;
}

/// An IPv6 Fragment header (RFC 8200 §4.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment6 {
    pub ident: u32,
    /// In octets.
    pub offset: usize,
    pub more: bool,
}

/// An IPv6 datagram's addresses and its upper layer, found past the
/// extension headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6Header {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    /// The upper-layer protocol (TCP 6, UDP 17, ICMPv6 58, ...), or the
    /// first header this parser does not walk (ESP, No Next Header).
    pub next: u8,
    /// Where `next`'s header starts.
    pub payload_at: usize,
    pub total_len: usize,
    pub fragment: Option<Fragment6>,
    /// A Routing header was present (RFC 5095 deprecated type 0; a
    /// caller has no business routing through the console).
    pub routing: bool,
}

/// More extension headers than any honest sender stacks: a chain longer
/// than this is refused rather than walked.
const MAX_EXT_HEADERS: usize = 8;

/// Parses an IPv6 datagram's fixed header and walks its extension headers
/// to the upper layer; None if the header lies (RFC 8200 §3, §4), an
/// extension header runs past the datagram, one appears twice where it
/// may not, or there are more than [`MAX_EXT_HEADERS`].
pub fn ipv6_header(p: &[u8]) -> Option<Ipv6Header> {
    let total_len = ipv6_len(p)?;
    let p = &p[..total_len];
    let addr = |at: usize| {
        let mut o = [0u8; 16];
        o.copy_from_slice(&p[at..at + 16]);
        Ipv6Addr::from(o)
    };
    let mut h = Ipv6Header {
        src: addr(8),
        dst: addr(24),
        next: p[6],
        payload_at: 40,
        total_len,
        fragment: None,
        routing: false,
    };
    for _ in 0..=MAX_EXT_HEADERS {
        let at = h.payload_at;
        match h.next {
            ext6::HOP_BY_HOP | ext6::ROUTING | ext6::DEST_OPTS | ext6::AUTH => {
                // RFC 8200 §4.3: Hop-by-Hop only right after the header.
                if h.next == ext6::HOP_BY_HOP && at != 40 {
                    return None;
                }
                let hdr = p.get(at..at + 2)?;
                let len = if h.next == ext6::AUTH {
                    // RFC 4302 §2.2: in 4-octet units, minus 2.
                    (usize::from(hdr[1]) + 2) * 4
                } else {
                    (usize::from(hdr[1]) + 1) * 8
                };
                if at + len > total_len {
                    return None;
                }
                h.routing |= h.next == ext6::ROUTING;
                h.next = hdr[0];
                h.payload_at = at + len;
            }
            ext6::FRAGMENT => {
                let f = p.get(at..at + 8)?;
                if h.fragment.is_some() {
                    return None;
                }
                let off = u16::from_be_bytes([f[2], f[3]]);
                h.fragment = Some(Fragment6 {
                    ident: u32::from_be_bytes([f[4], f[5], f[6], f[7]]),
                    offset: usize::from(off >> 3) * 8,
                    more: off & 1 != 0,
                });
                h.next = f[0];
                h.payload_at = at + 8;
                // Past a later fragment's header lies the middle of
                // someone's payload, not another header.
                if h.fragment.is_some_and(|f| f.offset != 0) {
                    return Some(h);
                }
            }
            _ => return Some(h),
        }
    }
    None
}

/// The source and destination ports of a TCP or UDP header at the start
/// of `l4`, if it is long enough to hold them.
pub fn ports(l4: &[u8]) -> Option<(u16, u16)> {
    let p = l4.get(..4)?;
    Some((
        u16::from_be_bytes([p[0], p[1]]),
        u16::from_be_bytes([p[2], p[3]]),
    ))
}

/// An IPv6 datagram's length if its fixed header (RFC 8200 §3) is honest:
/// version 6 and a payload length that fits what arrived.
pub fn ipv6_len(p: &[u8]) -> Option<usize> {
    if p.len() < 40 || p[0] >> 4 != 6 {
        return None;
    }
    let total = 40 + usize::from(u16::from_be_bytes([p[4], p[5]]));
    (total <= p.len()).then_some(total)
}

/// The PPP protocol that carries `datagram` and the datagram without any
/// padding after its stated length; None if it is neither an honest IPv4
/// nor an honest IPv6 datagram.
pub fn classify(datagram: &[u8]) -> Option<(u16, &[u8])> {
    match datagram.first()? >> 4 {
        4 => ipv4_header(datagram).map(|h| (proto::IPV4, &datagram[..h.total_len])),
        6 => ipv6_len(datagram).map(|n| (proto::IPV6, &datagram[..n])),
        _ => None,
    }
}

/// RFC 1624 eqn. 3: a one's-complement checksum after a 16-bit word of
/// what it covers went from `old` to `new`.
fn adjust(sum: u16, old: u16, new: u16) -> u16 {
    let mut s = u32::from(!sum) + u32::from(!old) + u32::from(new);
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// Gives an IPv4 datagram a new source address, with its header checksum
/// and the TCP or UDP checksum (whose pseudo-header holds the address)
/// updated; ICMP has no pseudo-header. False, untouched, if it is not an
/// honest IPv4 datagram. A later fragment has no transport header to fix.
pub fn rewrite_ipv4_source(d: &mut [u8], new: Ipv4Addr) -> bool {
    let Some(h) = ipv4_header(d) else {
        return false;
    };
    let first_fragment = u16::from_be_bytes([d[6], d[7]]) & 0x1fff == 0;
    let (old, new) = (h.src.octets(), new.octets());
    let transport = match h.protocol {
        6 if first_fragment && h.total_len >= h.header_len + 18 => Some(h.header_len + 16),
        17 if first_fragment && h.total_len >= h.header_len + 8 => Some(h.header_len + 6),
        _ => None,
    };
    for w in 0..2 {
        let (o, n) = (
            u16::from_be_bytes([old[2 * w], old[2 * w + 1]]),
            u16::from_be_bytes([new[2 * w], new[2 * w + 1]]),
        );
        let hc = u16::from_be_bytes([d[10], d[11]]);
        d[10..12].copy_from_slice(&adjust(hc, o, n).to_be_bytes());
        if let Some(at) = transport {
            let c = u16::from_be_bytes([d[at], d[at + 1]]);
            // A UDP checksum of 0 means "none" (RFC 768): it stays so.
            if !(h.protocol == 17 && c == 0) {
                let mut c2 = adjust(c, o, n);
                if h.protocol == 17 && c2 == 0 {
                    c2 = 0xffff;
                }
                d[at..at + 2].copy_from_slice(&c2.to_be_bytes());
            }
        }
    }
    d[12..16].copy_from_slice(&new);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one's-complement sum of `data`, folded, not inverted.
    fn sum(data: &[u8]) -> u32 {
        let mut s: u32 = data
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
            .sum();
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        s
    }

    fn transport_ok(d: &[u8]) -> bool {
        let h = ipv4_header(d).unwrap();
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&d[12..20]);
        pseudo.extend_from_slice(&[0, h.protocol]);
        pseudo.extend_from_slice(&((h.total_len - h.header_len) as u16).to_be_bytes());
        let s = sum(&pseudo) + sum(&d[h.header_len..h.total_len]);
        let mut s = s;
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        s == 0xffff
    }

    fn with_checksums(proto: u8, l4_len: usize, at: usize) -> Vec<u8> {
        let mut d = vec![0u8; 20 + l4_len];
        d[0] = 0x45;
        d[2..4].copy_from_slice(&((20 + l4_len) as u16).to_be_bytes());
        d[8] = 64;
        d[9] = proto;
        d[12..16].copy_from_slice(&[10, 64, 64, 64]);
        d[16..20].copy_from_slice(&[10, 64, 1, 10]);
        for (i, b) in d[20..].iter_mut().enumerate() {
            *b = (i * 37) as u8;
        }
        d[20 + at..22 + at].fill(0);
        let hc = !(sum(&d[..20]) as u16);
        d[10..12].copy_from_slice(&hc.to_be_bytes());
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&d[12..20]);
        pseudo.extend_from_slice(&[0, proto]);
        pseudo.extend_from_slice(&(l4_len as u16).to_be_bytes());
        let mut s = sum(&pseudo) + sum(&d[20..]);
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        d[20 + at..22 + at].copy_from_slice(&(!(s as u16)).to_be_bytes());
        d
    }

    #[test]
    fn a_new_source_keeps_every_checksum_right() {
        for (proto, len, at) in [(6u8, 40usize, 16usize), (17, 30, 6)] {
            let mut d = with_checksums(proto, len, at);
            assert!(transport_ok(&d));
            assert!(rewrite_ipv4_source(&mut d, Ipv4Addr::new(10, 64, 0, 2)));
            assert_eq!(&d[12..16], &[10, 64, 0, 2]);
            assert_eq!(sum(&d[..20]), 0xffff, "header checksum");
            assert!(transport_ok(&d), "protocol {proto}");
        }
        assert!(!rewrite_ipv4_source(&mut [0x60; 40], Ipv4Addr::LOCALHOST));
    }

    fn v4(total: u16, ihl: u8) -> Vec<u8> {
        let mut p = vec![0u8; 28];
        p[0] = 0x40 | ihl;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p
    }

    fn v6(payload: u16, have: usize) -> Vec<u8> {
        let mut p = vec![0u8; 40 + have];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&payload.to_be_bytes());
        p
    }

    #[test]
    fn honest_datagrams_are_classified_and_trimmed() {
        let p = v4(24, 5);
        assert_eq!(classify(&p), Some((proto::IPV4, &p[..24])));
        let p = v6(8, 12);
        assert_eq!(classify(&p), Some((proto::IPV6, &p[..48])));
    }

    #[test]
    fn lying_headers_are_refused() {
        assert_eq!(classify(&v4(29, 5)), None, "longer than what arrived");
        assert_eq!(classify(&v4(16, 5)), None, "shorter than its header");
        assert_eq!(classify(&v4(28, 4)), None, "IHL under 5");
        assert_eq!(classify(&v6(13, 12)), None, "payload length lies");
        assert_eq!(classify(&[0x60; 39]), None, "short IPv6 header");
        assert_eq!(classify(&[0x45; 19]), None, "short IPv4 header");
        assert_eq!(classify(&[]), None);
        let mut p = v4(28, 5);
        p[0] = 0x55;
        assert_eq!(classify(&p), None, "version 5");
    }

    #[test]
    fn ipv6_is_never_taken_for_ipv4() {
        // An IPv6 packet whose bytes 2-3 happen to look like a length.
        let mut p = v6(0, 0);
        p[2..4].copy_from_slice(&40u16.to_be_bytes());
        assert_eq!(ipv4_header(&p), None);
        assert_eq!(classify(&p).map(|(proto, _)| proto), Some(proto::IPV6));
    }

    /// An IPv6 datagram whose chain is `ext` (each a next-header value
    /// and its bytes) and then `upper` with 8 octets of payload.
    fn v6_chain(ext: &[(u8, Vec<u8>)], upper: u8) -> Vec<u8> {
        let mut body = Vec::new();
        let nexts: Vec<u8> = ext.iter().skip(1).map(|e| e.0).chain([upper]).collect();
        for ((_, bytes), next) in ext.iter().zip(nexts) {
            let mut b = bytes.clone();
            b[0] = next;
            body.extend(b);
        }
        body.extend([0u8; 8]);
        let mut p = v6(body.len() as u16, 0);
        p.truncate(40);
        p[6] = ext.first().map_or(upper, |e| e.0);
        p.extend(body);
        p
    }

    #[test]
    fn ipv6_extension_headers_are_walked_to_the_upper_layer() {
        let h = ipv6_header(&v6_chain(&[], 6)).unwrap();
        assert_eq!(
            (h.next, h.payload_at, h.fragment, h.routing),
            (6, 40, None, false)
        );
        let hbh = (ext6::HOP_BY_HOP, vec![0u8; 8]);
        let dst = (
            ext6::DEST_OPTS,
            vec![0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        );
        let mut frag = vec![0u8; 8];
        frag[3] = 1; // offset 0, more fragments
        frag[4..8].copy_from_slice(&7u32.to_be_bytes());
        let h = ipv6_header(&v6_chain(
            &[hbh.clone(), dst, (ext6::FRAGMENT, frag.clone())],
            17,
        ))
        .unwrap();
        assert_eq!((h.next, h.payload_at), (17, 40 + 8 + 16 + 8));
        assert_eq!(
            h.fragment,
            Some(Fragment6 {
                ident: 7,
                offset: 0,
                more: true
            })
        );
        let rt = (ext6::ROUTING, vec![0u8; 8]);
        assert!(ipv6_header(&v6_chain(&[rt], 6)).unwrap().routing);
        // A later fragment: nothing past its header is a header.
        let mut later = frag;
        later[2..4].copy_from_slice(&((16u16 << 3) | 1).to_be_bytes());
        let h = ipv6_header(&v6_chain(&[(ext6::FRAGMENT, later)], 6)).unwrap();
        assert_eq!(h.fragment.map(|f| f.offset), Some(128));
    }

    #[test]
    fn lying_ipv6_extension_chains_are_refused() {
        // Hop-by-Hop anywhere but first.
        let hbh = (ext6::HOP_BY_HOP, vec![0u8; 8]);
        let dst = (ext6::DEST_OPTS, vec![0u8; 8]);
        assert!(ipv6_header(&v6_chain(&[dst.clone(), hbh], 6)).is_none());
        // A length running past the end.
        let mut p = v6_chain(std::slice::from_ref(&dst), 6);
        p[41] = 9;
        assert!(ipv6_header(&p).is_none());
        // Too many headers.
        let many: Vec<_> = (0..=MAX_EXT_HEADERS).map(|_| dst.clone()).collect();
        assert!(ipv6_header(&v6_chain(&many, 6)).is_none());
        let fewer: Vec<_> = (0..MAX_EXT_HEADERS).map(|_| dst.clone()).collect();
        assert!(ipv6_header(&v6_chain(&fewer, 6)).is_some());
        // Two Fragment headers.
        let f = (ext6::FRAGMENT, vec![0u8; 8]);
        assert!(ipv6_header(&v6_chain(&[f.clone(), f], 6)).is_none());
    }

    #[test]
    fn ipv4_fragment_fields_are_read() {
        let mut p = v4(28, 5);
        p[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
        p[6..8].copy_from_slice(&(0x2000u16 | 3).to_be_bytes());
        let h = ipv4_header(&p).unwrap();
        assert_eq!(
            (h.ident, h.more_fragments, h.fragment_offset),
            (0x1234, true, 24)
        );
        assert!(h.is_fragment());
        assert!(!ipv4_header(&v4(28, 5)).unwrap().is_fragment());
    }
}
