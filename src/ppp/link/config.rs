//! What a link is told to do: LCP, the NCPs, authentication, keepalives
//! and idle time, as pppd's options name them.

use std::time::Duration;

use crate::ppp::activity::ActiveFilter;
use crate::ppp::auth::AuthConfig;
use crate::ppp::ccp::CcpConfig;
use crate::ppp::chap::ChapTimers;
use crate::ppp::fsm::FsmConfig;
use crate::ppp::ipcp::IpcpConfig;
use crate::ppp::ipv6cp::Ipv6cpConfig;
use crate::ppp::lcp::LcpConfig;
use crate::ppp::pap::PapTimers;

/// pppd's lcp-echo-interval, lcp-echo-failure and lcp-echo-adaptive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EchoConfig {
    pub interval: Option<Duration>,
    pub failure: u32,
    /// Send an Echo-Request only if nothing arrived since the last one, so
    /// a saturated link whose echoes queue behind data is not dropped.
    pub adaptive: bool,
}

#[derive(Clone, Debug, Default)]
pub struct LinkConfig {
    pub lcp: LcpConfig,
    pub ipcp: IpcpConfig,
    pub lcp_fsm: FsmConfig,
    pub ipcp_fsm: FsmConfig,
    /// pppd's `noip`: no IPCP (IPv6 alone); the peer's IPCP is rejected.
    pub noip: bool,
    /// IPv6CP, off unless given (pppd's `+ipv6`; `noipv6` is None).
    pub ipv6: Option<Ipv6cpConfig>,
    pub ipv6cp_fsm: FsmConfig,
    /// CCP (RFC 1962); None: pppd's `noccp`, the peer's CCP is
    /// Protocol-Rejected.
    pub ccp: Option<CcpConfig>,
    pub ccp_fsm: FsmConfig,
    pub auth: AuthConfig,
    pub pap: PapTimers,
    pub chap: ChapTimers,
    pub echo: EchoConfig,
    /// pppd's `idle`: close the link after this long without an IP
    /// datagram either way, counted from the first NCP up.
    pub idle: Option<Duration>,
    /// pppd's `active-filter`: only datagrams it passes keep `idle` from
    /// closing the link; None: every datagram does.
    pub active_filter: Option<ActiveFilter>,
    /// As authenticator, hold the verdict on right credentials until the
    /// driver calls [`Link::authorize`](super::Link::authorize): who may
    /// use the link (a one-time inbound enablement, say) is decided before
    /// the peer hears Success and before the Network phase, so nothing the
    /// peer sends meanwhile can reach an NCP (RFC 1661 §3.5).
    pub hold_auth: bool,
}
