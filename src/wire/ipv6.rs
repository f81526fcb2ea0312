//! IPv6 headers (RFC 8200 §3) and the extension headers (§4) that may
//! stand between the fixed header and the upper layer.

use std::net::Ipv6Addr;

/// IPv6 extension headers (RFC 8200 §4): their Next Header values.
pub mod ext6 {
    pub const HOP_BY_HOP: u8 = 0;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const AUTH: u8 = 51;
    pub const DEST_OPTS: u8 = 60;
}

/// The fixed IPv6 header as it stands: version 6, its payload length not
/// held against what arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6Fixed {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    /// The first header after this one.
    pub next: u8,
    pub payload_len: usize,
}

/// The fixed header at the start of `p`: None if fewer than its 40 octets
/// arrived or the version is not 6.
pub fn ipv6_fixed(p: &[u8]) -> Option<Ipv6Fixed> {
    if p.len() < 40 || p[0] >> 4 != 6 {
        return None;
    }
    let addr = |at: usize| {
        let mut o = [0u8; 16];
        o.copy_from_slice(&p[at..at + 16]);
        Ipv6Addr::from(o)
    };
    Some(Ipv6Fixed {
        src: addr(8),
        dst: addr(24),
        next: p[6],
        payload_len: usize::from(u16::from_be_bytes([p[4], p[5]])),
    })
}

/// An IPv6 Fragment header (RFC 8200 §4.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment6 {
    pub ident: u32,
    /// In octets.
    pub offset: usize,
    pub more: bool,
}

/// The Fragment header at the start of `f`: the header after it, and its
/// fields.
pub fn fragment6(f: &[u8]) -> Option<(u8, Fragment6)> {
    let f = f.get(..8)?;
    let off = u16::from_be_bytes([f[2], f[3]]);
    Some((
        f[0],
        Fragment6 {
            ident: u32::from_be_bytes([f[4], f[5], f[6], f[7]]),
            offset: usize::from(off >> 3) * 8,
            more: off & 1 != 0,
        },
    ))
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

/// An IPv6 datagram's length if its fixed header (RFC 8200 §3) is honest:
/// version 6 and a payload length that fits what arrived.
pub fn ipv6_len(p: &[u8]) -> Option<usize> {
    let total = 40 + ipv6_fixed(p)?.payload_len;
    (total <= p.len()).then_some(total)
}

/// Parses an IPv6 datagram's fixed header and walks its extension headers
/// to the upper layer; None if the header lies (RFC 8200 §3, §4), an
/// extension header runs past the datagram, one appears twice where it
/// may not, or there are more than [`MAX_EXT_HEADERS`].
pub fn ipv6_header(p: &[u8]) -> Option<Ipv6Header> {
    let total_len = ipv6_len(p)?;
    let p = &p[..total_len];
    let fixed = ipv6_fixed(p)?;
    let mut h = Ipv6Header {
        src: fixed.src,
        dst: fixed.dst,
        next: fixed.next,
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
                let (next, f) = fragment6(p.get(at..)?)?;
                if h.fragment.is_some() {
                    return None;
                }
                h.fragment = Some(f);
                h.next = next;
                h.payload_at = at + 8;
                // Past a later fragment's header lies the middle of
                // someone's payload, not another header.
                if f.offset != 0 {
                    return Some(h);
                }
            }
            _ => return Some(h),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::testing::v6;
    use super::*;

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
    fn a_quoted_header_is_read_as_it_stands() {
        let mut p = v6(100, 4);
        p[6] = 17;
        p[8] = 0xfe;
        assert_eq!(ipv6_len(&p), None);
        let f = ipv6_fixed(&p).unwrap();
        assert_eq!((f.next, f.payload_len), (17, 100));
        assert_eq!(f.src.segments()[0], 0xfe00);
        assert_eq!(ipv6_fixed(&p[..39]), None);
        p[0] = 0x45;
        assert_eq!(ipv6_fixed(&p), None, "version 4");
    }
}
