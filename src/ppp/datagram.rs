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
//!
//! The headers themselves are read by [`crate::wire`].

use super::proto;
use crate::wire::{ipv4_header, ipv6_len};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testing::{v4, v6};

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
}
