//! ICMP echo (RFC 792; ICMPv6's, RFC 4443 §4, has the same shape): the
//! probes carrier sends to see that an address answers.

use std::net::Ipv4Addr;

use super::{checksum, ipproto, ipv4_header, write_ipv4_header};

const ECHO_REPLY: u8 = 0;
const ECHO_REQUEST: u8 = 8;

/// The head of an echo request or reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Echo {
    pub kind: u8,
    pub ident: u16,
    pub seq: u16,
}

/// The echo message at the start of `icmp` (ICMP or ICMPv6), if its
/// 8-octet head arrived; of any type: the caller says which it wants.
pub fn echo(icmp: &[u8]) -> Option<Echo> {
    let m = icmp.get(..8)?;
    Some(Echo {
        kind: m[0],
        ident: u16::from_be_bytes([m[4], m[5]]),
        seq: u16::from_be_bytes([m[6], m[7]]),
    })
}

/// Writes an ICMP echo request into `buf` and returns its length.
pub fn echo_request(buf: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr, ident: u16, seq: u16) -> usize {
    const PAYLOAD: usize = 32;
    let total = 20 + 8 + PAYLOAD;
    let p = &mut buf[..total];
    write_ipv4_header(p, src, dst, ipproto::ICMP, 8 + PAYLOAD, seq);
    let icmp = &mut p[20..];
    icmp.fill(0);
    icmp[0] = ECHO_REQUEST;
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
    let h = ipv4_header(p)?;
    if h.protocol != ipproto::ICMP {
        return None;
    }
    let e = echo(&p[h.header_len..h.total_len])?;
    (e.kind == ECHO_REPLY).then_some((h.src, e.ident, e.seq))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let h = ipv4_header(&buf[..n]).unwrap();
        assert_eq!((h.protocol, h.total_len), (ipproto::ICMP, n));
        assert_eq!(checksum(&buf[..20]), 0);
        assert_eq!(checksum(&buf[20..n]), 0);
    }

    #[test]
    fn lying_lengths_are_refused() {
        let mut buf = [0u8; 64];
        let n = echo_request(&mut buf, Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST, 1, 1);
        assert!(ipv4_header(&buf[..n - 1]).is_none());
        buf[0] = 0x44;
        assert!(ipv4_header(&buf[..n]).is_none());
        assert!(ipv4_header(&[0x45; 10]).is_none());
    }

    #[test]
    fn a_reply_is_known_by_its_type() {
        let mut buf = [0u8; 64];
        let src = Ipv4Addr::new(10, 0, 0, 1);
        let n = echo_request(&mut buf, src, Ipv4Addr::new(10, 0, 0, 2), 9, 4);
        assert_eq!(echo_reply(&buf[..n]), None, "a request");
        buf[20] = ECHO_REPLY;
        assert_eq!(echo_reply(&buf[..n]), Some((src, 9, 4)));
        assert_eq!(echo_reply(&buf[..27]), None);
    }
}
