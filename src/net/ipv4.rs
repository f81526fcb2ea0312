//! Just enough IPv4 and ICMP to check addresses and build echo probes.

use std::net::Ipv4Addr;

/// RFC 1071 Internet checksum.
pub fn checksum(data: &[u8]) -> u16 {
    checksum_from(0, data)
}

/// The checksum of `data` continuing from a partial sum (a TCP or UDP
/// pseudo-header's, say).
pub fn checksum_from(mut sum: u32, data: &[u8]) -> u16 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [b] = chunks.remainder() {
        sum += u32::from(*b) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

pub use crate::ppp::datagram::{ipv4_header as parse, Ipv4Header as Header};

pub const PROTO_ICMP: u8 = 1;
const ICMP_ECHO_REPLY: u8 = 0;
const ICMP_ECHO_REQUEST: u8 = 8;

/// Writes an ICMP echo request into `buf` and returns its length.
pub fn echo_request(buf: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr, ident: u16, seq: u16) -> usize {
    const PAYLOAD: usize = 32;
    let total = 20 + 8 + PAYLOAD;
    let p = &mut buf[..total];
    p.fill(0);
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[4..6].copy_from_slice(&seq.to_be_bytes());
    p[6] = 0x40; // DF
    p[8] = 64;
    p[9] = PROTO_ICMP;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    let c = checksum(&p[..20]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    let icmp = &mut p[20..];
    icmp[0] = ICMP_ECHO_REQUEST;
    icmp[4..6].copy_from_slice(&ident.to_be_bytes());
    icmp[6..8].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in icmp[8..].iter_mut().enumerate() {
        *b = b'a' + (i % 26) as u8;
    }
    let c = checksum(icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    total
}

/// If `p` is an ICMP echo reply, its source, identifier and sequence.
pub fn echo_reply(p: &[u8]) -> Option<(Ipv4Addr, u16, u16)> {
    let h = parse(p)?;
    if h.protocol != PROTO_ICMP || h.total_len < h.header_len + 8 {
        return None;
    }
    let icmp = &p[h.header_len..h.total_len];
    if icmp[0] != ICMP_ECHO_REPLY {
        return None;
    }
    Some((
        h.src,
        u16::from_be_bytes([icmp[4], icmp[5]]),
        u16::from_be_bytes([icmp[6], icmp[7]]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_rfc1071_example() {
        // RFC 1071 §3: the sum of 0001 f203 f4f5 f6f7 is ddf2.
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            !0xddf2
        );
    }

    #[test]
    fn echo_request_is_well_formed() {
        let mut buf = [0u8; 128];
        let n = echo_request(
            &mut buf,
            Ipv4Addr::new(10, 0, 0, 2),
            Ipv4Addr::new(10, 0, 0, 1),
            7,
            1,
        );
        let h = parse(&buf[..n]).unwrap();
        assert_eq!((h.protocol, h.total_len), (PROTO_ICMP, n));
        assert_eq!(checksum(&buf[..20]), 0);
        assert_eq!(checksum(&buf[20..n]), 0);
    }

    #[test]
    fn lying_lengths_are_refused() {
        let mut buf = [0u8; 64];
        let n = echo_request(&mut buf, Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST, 1, 1);
        assert!(parse(&buf[..n - 1]).is_none());
        buf[0] = 0x44;
        assert!(parse(&buf[..n]).is_none());
        assert!(parse(&[0x45; 10]).is_none());
    }
}
