//! The Internet's wire formats, read and written in this one place: the
//! RFC 1071 checksum, IPv4 and IPv6 headers (IPv6's extension headers
//! walked), TCP and UDP headers, ICMP echo. Pure, like the protocol core
//! that uses it: bytes in, fields out.
//!
//! Two kinds of IP header reader. [`ipv4_header`] and [`ipv6_header`]
//! refuse a datagram whose header lies about its lengths; [`ipv4_fixed`]
//! and [`ipv6_fixed`] read the fixed header as it stands, for a datagram
//! cut short on purpose (the one an ICMP error quotes, RFC 1122 §3.2.2,
//! RFC 4443 §2.4) or only shown to a person.

use std::net::{Ipv4Addr, Ipv6Addr};

mod icmp;
pub mod ipv4;
pub mod ipv6;
pub mod tcp;

pub use icmp::{echo, echo_reply, echo_request, Echo};
pub use ipv4::{
    ipv4_fixed, ipv4_header, ipv4_header_checksum, rewrite_ipv4_source, write_ipv4_header,
    Ipv4Header,
};
pub use ipv6::{
    ext6, fragment6, ipv6_fixed, ipv6_header, ipv6_len, Fragment6, Ipv6Fixed, Ipv6Header,
};
pub use tcp::{ports, tcp_header, TcpHeader};

/// IP protocol numbers (IANA): IPv4's Protocol, IPv6's Next Header.
pub mod ipproto {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ICMPV6: u8 = 58;
}

/// The one's-complement sum of `data` as big-endian 16-bit words, an odd
/// last octet padded with zero (RFC 1071 §4.1), not yet folded: a partial
/// sum for [`checksum_from`] to go on from.
pub fn sum(data: &[u8]) -> u32 {
    let mut sum = 0u32;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [b] = chunks.remainder() {
        sum += u32::from(*b) << 8;
    }
    sum
}

/// A sum folded to 16 bits, its carries added back in (RFC 1071 §2).
fn fold(mut sum: u32) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The RFC 1071 Internet checksum of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    checksum_from(0, data)
}

/// The checksum of `data` continuing from a partial sum (a TCP or UDP
/// pseudo-header's, say).
pub fn checksum_from(partial: u32, data: &[u8]) -> u16 {
    !fold(partial + sum(data))
}

/// The partial sum of the IPv4 pseudo-header that TCP's and UDP's
/// checksums cover (RFC 793 §3.1, RFC 768), for a segment of `len` octets.
pub fn pseudo4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, len: usize) -> u32 {
    sum(&src.octets()) + sum(&dst.octets()) + u32::from(protocol) + len as u32
}

/// IPv6's pseudo-header, likewise (RFC 8200 §8.1): its length is 32 bits.
pub fn pseudo6(src: Ipv6Addr, dst: Ipv6Addr, next: u8, len: usize) -> u32 {
    sum(&src.octets()) + sum(&dst.octets()) + sum(&(len as u32).to_be_bytes()) + u32::from(next)
}

/// RFC 1624 eqn. 3: a one's-complement checksum after a 16-bit word of
/// what it covers went from `old` to `new`.
fn adjust(sum: u16, old: u16, new: u16) -> u16 {
    !fold(u32::from(!sum) + u32::from(!old) + u32::from(new))
}

/// Datagrams for the tests here and in the protocol core: the fixed
/// headers alone, their lengths as given, everything else zero.
#[cfg(test)]
pub(crate) mod testing {
    /// An IPv4 header of IHL `ihl` claiming `total` octets, in 28.
    pub fn v4(total: u16, ihl: u8) -> Vec<u8> {
        let mut p = vec![0u8; 28];
        p[0] = 0x40 | ihl;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p
    }

    /// An IPv6 header claiming `payload` octets, with `have` after it.
    pub fn v6(payload: u16, have: usize) -> Vec<u8> {
        let mut p = vec![0u8; 40 + have];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&payload.to_be_bytes());
        p
    }
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
    fn an_odd_octet_is_padded_and_partial_sums_add_up() {
        assert_eq!(checksum(&[0xab]), !0xab00);
        let data = [1u8, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        assert_eq!(checksum_from(sum(&data[..4]), &data[4..]), checksum(&data));
    }

    #[test]
    fn an_adjusted_checksum_is_the_recomputed_one() {
        let mut d = [
            0x45u8, 0, 0, 28, 1, 2, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        let c = checksum(&d);
        d[13] = 9;
        assert_eq!(adjust(c, 0x0a00, 0x0a09), checksum(&d));
    }
}
