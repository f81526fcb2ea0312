//! The link pppd runs when no option says otherwise, as one constructor:
//! what the `carrier` binary, the access server, the benches and the
//! tests that model a carrier run start from. [`LinkConfig::default()`] stays "everything optional off" (no
//! VJ, no CCP, echo failure 0), the blank a protocol test fills in.

use super::ccp::CcpConfig;
use super::fsm::FsmConfig;
use super::ipcp::VjConfig;
use super::lcp::LcpConfig;
use super::link::{EchoConfig, LinkConfig};

/// pppd's `lcp-echo-failure` default (pppd(8)): four unanswered
/// Echo-Requests and the peer is dead.
pub const ECHO_FAILURE: u32 = 4;

impl LinkConfig {
    /// pppd's defaults, each from its pppd(8) option:
    ///
    /// - LCP (RFC 1661 §6): `mru 1500`, `asyncmap 0` (RFC 1662 §7.1),
    ///   a magic number (no `nomagic`), address/control and protocol
    ///   field compression (no `noaccomp`, `nopcomp`); no authentication
    ///   required of the peer (`noauth`, the default without a default
    ///   route to protect).
    /// - The option automatons (RFC 1661 §4.6), LCP, IPCP and CCP alike:
    ///   `lcp-restart 3`, `lcp-max-terminate 2`, `lcp-max-configure 10`,
    ///   `lcp-max-failure 5`, not `passive`.
    /// - Echoes: `lcp-echo-interval 0` (none sent) and
    ///   `lcp-echo-failure 4` for when an interval is given.
    /// - IPCP (RFC 1332): Van Jacobson compression (RFC 1332 §3.2,
    ///   RFC 1144) with `vj-max-slots 16` and the slot number compressed
    ///   (no `novj`, `novjccomp`); no `usepeerdns`.
    /// - CCP (RFC 1962): `deflate 15,15` under option 26 (RFC 1979) and
    ///   the draft's 24 (no `nodeflatedraft`), then `bsdcomp 15,15`
    ///   (RFC 1977).
    /// - `noipv6` (IPv6CP only with `+ipv6`), no `idle`, no
    ///   `active-filter`.
    pub fn pppd() -> LinkConfig {
        let fsm = FsmConfig::default();
        let mut c = LinkConfig {
            lcp: LcpConfig::default(),
            lcp_fsm: fsm,
            ipcp_fsm: fsm,
            ipv6cp_fsm: fsm,
            ccp_fsm: fsm,
            echo: EchoConfig {
                interval: None,
                failure: ECHO_FAILURE,
                adaptive: false,
            },
            ccp: Some(CcpConfig::default()),
            ..LinkConfig::default()
        };
        c.ipcp.vj = Some(VjConfig::default());
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pppd_has_vj_ccp_and_four_echo_failures_where_default_has_none() {
        let p = LinkConfig::pppd();
        assert_eq!(
            p.ipcp.vj,
            Some(VjConfig {
                max_slot: 15,
                compress_slot: true
            })
        );
        assert_eq!(p.ccp, Some(CcpConfig::default()));
        assert_eq!(p.echo.failure, 4);
        assert_eq!(p.echo.interval, None);
        let d = LinkConfig::default();
        assert_eq!((d.ipcp.vj, d.ccp, d.echo.failure), (None, None, 0));
    }
}
