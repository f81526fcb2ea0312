//! IPv4 headers (RFC 791 §3.1).

use std::net::Ipv4Addr;

use super::{adjust, checksum, checksum_from, ipproto, sum};

/// Where the fields a header rewriter changes stand.
pub const TOTAL_LEN_AT: usize = 2;
pub const IDENT_AT: usize = 4;
pub const PROTOCOL_AT: usize = 9;
pub const CHECKSUM_AT: usize = 10;
pub const SRC_AT: usize = 12;

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

/// The fixed 20 octets of an IPv4 header as they stand: version 4, but
/// the header and total lengths as the header states them, neither held
/// against the other nor against what arrived.
pub fn ipv4_fixed(p: &[u8]) -> Option<Ipv4Header> {
    if p.len() < 20 || p[0] >> 4 != 4 {
        return None;
    }
    let be16 = |at: usize| u16::from_be_bytes([p[at], p[at + 1]]);
    let flags = be16(6);
    Some(Ipv4Header {
        src: Ipv4Addr::new(p[12], p[13], p[14], p[15]),
        dst: Ipv4Addr::new(p[16], p[17], p[18], p[19]),
        protocol: p[PROTOCOL_AT],
        header_len: usize::from(p[0] & 0x0f) * 4,
        total_len: usize::from(be16(TOTAL_LEN_AT)),
        ident: be16(IDENT_AT),
        more_fragments: flags & 0x2000 != 0,
        fragment_offset: usize::from(flags & 0x1fff) * 8,
    })
}

/// Parses an IPv4 header, refusing one whose version is not 4 or whose
/// lengths lie: IHL under 5 words, a total length shorter than the header
/// or longer than what arrived.
pub fn ipv4_header(p: &[u8]) -> Option<Ipv4Header> {
    let h = ipv4_fixed(p)?;
    let honest = h.header_len >= 20 && h.total_len >= h.header_len && h.total_len <= p.len();
    honest.then_some(h)
}

/// The checksum of the IPv4 header `h`, its checksum field taken as zero.
pub fn ipv4_header_checksum(h: &[u8]) -> u16 {
    checksum_from(sum(&h[..CHECKSUM_AT]), &h[CHECKSUM_AT + 2..])
}

/// Writes into `h` the 20-octet header of a datagram carrying
/// `payload_len` octets of `protocol`: no options, Don't Fragment, TTL 64,
/// its checksum right.
pub fn write_ipv4_header(
    h: &mut [u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: u8,
    payload_len: usize,
    ident: u16,
) {
    let h = &mut h[..20];
    h.fill(0);
    h[0] = 0x45;
    h[TOTAL_LEN_AT..TOTAL_LEN_AT + 2].copy_from_slice(&((20 + payload_len) as u16).to_be_bytes());
    h[IDENT_AT..IDENT_AT + 2].copy_from_slice(&ident.to_be_bytes());
    h[6] = 0x40; // DF
    h[8] = 64;
    h[PROTOCOL_AT] = protocol;
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    let c = checksum(h);
    h[CHECKSUM_AT..CHECKSUM_AT + 2].copy_from_slice(&c.to_be_bytes());
}

/// Gives an IPv4 datagram a new source address, with its header checksum
/// and the TCP or UDP checksum (whose pseudo-header holds the address)
/// updated; ICMP has no pseudo-header. False, untouched, if it is not an
/// honest IPv4 datagram. A later fragment has no transport header to fix.
pub fn rewrite_ipv4_source(d: &mut [u8], new: Ipv4Addr) -> bool {
    let Some(h) = ipv4_header(d) else {
        return false;
    };
    let first_fragment = h.fragment_offset == 0;
    let (old, new) = (h.src.octets(), new.octets());
    let transport = match h.protocol {
        ipproto::TCP if first_fragment && h.total_len >= h.header_len + 18 => {
            Some(h.header_len + super::tcp::CHECKSUM_AT)
        }
        ipproto::UDP if first_fragment && h.total_len >= h.header_len + 8 => Some(h.header_len + 6),
        _ => None,
    };
    let be16 = |d: &[u8], at: usize| u16::from_be_bytes([d[at], d[at + 1]]);
    for w in 0..2 {
        let (o, n) = (
            u16::from_be_bytes([old[2 * w], old[2 * w + 1]]),
            u16::from_be_bytes([new[2 * w], new[2 * w + 1]]),
        );
        let hc = be16(d, CHECKSUM_AT);
        d[CHECKSUM_AT..CHECKSUM_AT + 2].copy_from_slice(&adjust(hc, o, n).to_be_bytes());
        if let Some(at) = transport {
            let c = be16(d, at);
            // A UDP checksum of 0 means "none" (RFC 768): it stays so.
            if !(h.protocol == ipproto::UDP && c == 0) {
                let mut c2 = adjust(c, o, n);
                if h.protocol == ipproto::UDP && c2 == 0 {
                    c2 = 0xffff;
                }
                d[at..at + 2].copy_from_slice(&c2.to_be_bytes());
            }
        }
    }
    d[SRC_AT..SRC_AT + 4].copy_from_slice(&new);
    true
}

#[cfg(test)]
mod tests {
    use super::super::testing::v4;
    use super::*;

    /// The one's-complement sum of `data`, folded, not inverted.
    fn sum(data: &[u8]) -> u32 {
        u32::from(!checksum(data))
    }

    fn transport_ok(d: &[u8]) -> bool {
        let h = ipv4_header(d).unwrap();
        let pseudo = super::super::pseudo4(h.src, h.dst, h.protocol, h.total_len - h.header_len);
        checksum_from(pseudo, &d[h.header_len..h.total_len]) == 0
    }

    fn with_checksums(proto: u8, l4_len: usize, at: usize) -> Vec<u8> {
        let mut d = vec![0u8; 20 + l4_len];
        let (src, dst) = (Ipv4Addr::new(10, 64, 64, 64), Ipv4Addr::new(10, 64, 1, 10));
        write_ipv4_header(&mut d, src, dst, proto, l4_len, 0);
        for (i, b) in d[20..].iter_mut().enumerate() {
            *b = (i * 37) as u8;
        }
        d[20 + at..22 + at].fill(0);
        let c = checksum_from(super::super::pseudo4(src, dst, proto, l4_len), &d[20..]);
        d[20 + at..22 + at].copy_from_slice(&c.to_be_bytes());
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

    #[test]
    fn a_quoted_header_is_read_as_it_stands() {
        // Cut short as an ICMP error quotes it: the header says 28 octets
        // and IHL 6, 20 arrived.
        let mut p = v4(28, 6);
        p.truncate(20);
        p[9] = 17;
        assert_eq!(ipv4_header(&p), None);
        let h = ipv4_fixed(&p).unwrap();
        assert_eq!((h.header_len, h.total_len, h.protocol), (24, 28, 17));
        assert_eq!(ipv4_fixed(&[0x45; 19]), None);
        assert_eq!(ipv4_fixed(&[0x65; 20]), None, "version 6");
    }

    #[test]
    fn a_written_header_is_honest_and_checksummed() {
        let mut h = [0xaau8; 24];
        let (src, dst) = (Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 1));
        write_ipv4_header(&mut h, src, dst, 6, 4, 7);
        assert_eq!(checksum(&h[..20]), 0);
        assert_eq!(ipv4_header_checksum(&h[..20]).to_be_bytes(), h[10..12]);
        let p = ipv4_header(&h).unwrap();
        assert_eq!((p.src, p.dst, p.protocol), (src, dst, 6));
        assert_eq!((p.header_len, p.total_len, p.ident), (20, 24, 7));
        assert!(!p.is_fragment());
    }
}
