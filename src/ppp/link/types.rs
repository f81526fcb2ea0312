//! What the link reports and counts: its phases, the reasons it ends,
//! its events, the frames it hands out and its counters.

use std::fmt;
use std::net::Ipv4Addr;

use crate::ppp::auth::AuthProto;
use crate::ppp::ccp::Method;
use crate::ppp::compress::CcpStats;
use crate::ppp::ipcp::VjConfig;
use crate::ppp::ipv6cp::InterfaceId;
use crate::ppp::lcp::Agreed;
use crate::ppp::vj::VjStats;

/// RFC 1661 §3.2 link phases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Dead,
    Establish,
    Authenticate,
    Network,
    Terminate,
}

/// Why a link went down. The exit codes are pppd's, so scripts written for
/// pppd read ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DownReason {
    /// We were asked to close (a signal, the user).
    UserRequest,
    /// The peer sent Terminate-Request.
    PeerTerminated,
    /// LCP or an NCP could not agree (Max-Configure, RXJ-).
    NegotiationFailed,
    /// The peer failed to authenticate itself to us, or refused to.
    PeerAuthFailed,
    /// We failed to authenticate ourselves to the peer.
    AuthFailed,
    /// No traffic for the idle time.
    Idle,
    /// The peer stopped answering LCP Echo-Requests.
    EchoTimeout,
    /// The line below went away (carrier lost, device closed).
    LowerLayerDown,
    /// Our own magic number kept coming back.
    Loopback,
    /// Every NCP closed or was rejected, leaving nothing to carry.
    NoNetworkProtocols,
    /// This side can no longer carry the call as it must (the inbound
    /// call's firewall could not be kept standing).
    LocalFailure,
}

impl DownReason {
    /// pppd's exit status for the same ending (pppd(8) EXIT STATUS).
    pub fn exit_code(self) -> i32 {
        match self {
            DownReason::UserRequest => 5,
            DownReason::NegotiationFailed | DownReason::NoNetworkProtocols => 10,
            DownReason::PeerAuthFailed => 11,
            DownReason::Idle => 12,
            DownReason::EchoTimeout => 15,
            DownReason::PeerTerminated | DownReason::LowerLayerDown => 16,
            DownReason::Loopback => 17,
            DownReason::AuthFailed => 19,
            DownReason::LocalFailure => 1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DownReason::UserRequest => "user-request",
            DownReason::PeerTerminated => "peer-terminated",
            DownReason::NegotiationFailed => "negotiation-failed",
            DownReason::PeerAuthFailed => "peer-auth-failed",
            DownReason::AuthFailed => "auth-failed",
            DownReason::Idle => "idle",
            DownReason::EchoTimeout => "echo-timeout",
            DownReason::LowerLayerDown => "lower-layer-down",
            DownReason::Loopback => "loopback",
            DownReason::NoNetworkProtocols => "no-network-protocols",
            DownReason::LocalFailure => "local-failure",
        }
    }
}

impl fmt::Display for DownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which way an authentication went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthRole {
    /// We checked the peer.
    Authenticator,
    /// We proved ourselves to the peer.
    Peer,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Phase(Phase),
    /// LCP opened: framing changes now.
    LcpUp {
        ours: Agreed,
        theirs: Agreed,
    },
    /// LCP left Opened: back to default framing.
    LcpDown,
    AuthOk {
        protocol: AuthProto,
        role: AuthRole,
        peer: String,
    },
    AuthFailed {
        protocol: AuthProto,
        role: AuthRole,
        message: String,
    },
    /// With [`LinkConfig::hold_auth`](super::LinkConfig::hold_auth): the
    /// peer's credentials are right; the link waits in the Authenticate
    /// phase, the peer unanswered, until
    /// [`Link::authorize`](super::Link::authorize) says whether it may go
    /// on.
    Authorize {
        protocol: AuthProto,
        peer: String,
    },
    IpUp {
        local: Ipv4Addr,
        peer: Option<Ipv4Addr>,
        dns: Vec<Ipv4Addr>,
        /// VJ header compression agreed each way (RFC 1144).
        vj: VjAgreed,
    },
    IpDown,
    /// IPCP does not run for the authenticated peer: it may not have the
    /// address we would give it (`address`), or there is none it may have
    /// (None). pppd: "Peer is not authorized to use remote address".
    IpRefused {
        address: Option<Ipv4Addr>,
    },
    /// IPv6CP opened (RFC 5072): each end's link-local address is
    /// `fe80::<identifier>`.
    Ipv6Up {
        local: InterfaceId,
        peer: InterfaceId,
    },
    Ipv6Down,
    /// CCP opened (RFC 1962): the method each way, None for none.
    CcpUp {
        tx: Option<Method>,
        rx: Option<Method>,
    },
    CcpDown,
    Down {
        reason: DownReason,
    },
}

/// VJ compression each way, as IPCP agreed: the receiver's slots and
/// whether it takes packets without a slot number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct VjAgreed {
    pub tx: Option<VjConfig>,
    pub rx: Option<VjConfig>,
}

/// A control frame to send, before HDLC framing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub protocol: u16,
    pub data: Vec<u8>,
}

/// The framing both directions use now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Framing {
    pub tx_accm: u32,
    pub rx_accm: u32,
    pub tx_acfc: bool,
    pub tx_pfc: bool,
    /// What we receive at most.
    pub mru: u16,
    /// What the peer receives at most: our MTU.
    pub peer_mru: u16,
}

/// Everything dropped or rejected, counted by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LinkStats {
    pub frames_in: u64,
    pub frames_out: u64,
    /// IPv4 datagrams (0x0021) delivered and sent.
    pub ip_in: u64,
    pub ip_out: u64,
    /// IPv6 datagrams (0x0057) delivered and sent.
    pub ipv6_in: u64,
    pub ipv6_out: u64,
    /// Received under 0x0021 or 0x0057 but not an honest datagram of that
    /// family (the other family, or a header whose lengths lie), or under
    /// a protocol whose NCP is not Opened: never delivered.
    pub ip_in_dropped: u64,
    /// Read from the IP interface but not sendable: not an honest datagram,
    /// or of a family whose NCP is not Opened (the host's IPv6 chatter
    /// while only IPCP runs, say).
    pub ip_out_dropped: u64,
    /// Address/control or protocol field unreadable.
    pub bad_header: u64,
    /// Control packets whose length fields lie.
    pub malformed: u64,
    /// Replies to requests we did not make, or not matching them.
    pub ignored: u64,
    /// Protocols we do not run, answered with Protocol-Reject.
    pub protocol_rejected: u64,
    /// Frames for a protocol not (yet) open in this phase.
    pub not_ready: u64,
    /// Authentications that succeeded (either direction).
    pub auth_ok: u64,
    /// Times IPCP opened: the link reached the network (pppd resets its
    /// maxfail count then).
    pub ip_up: u64,
    /// Times IPv6CP opened.
    pub ipv6_up: u64,
    pub echo_requests_sent: u64,
    pub echo_requests_in: u64,
    pub echo_replies_in: u64,
    pub discard_requests_in: u64,
    /// Van Jacobson header compression.
    pub vj: VjStats,
    /// CCP: Deflate or BSD-Compress.
    pub ccp: CcpStats,
}
