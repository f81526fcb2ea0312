//! One PPP link: the phases of RFC 1661 §3.2 around LCP, authentication
//! and IPCP, with the demultiplexing of received frames. Sans-IO: frames
//! and timeouts in, frames, deadlines and events out.

use std::collections::VecDeque;
use std::fmt;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::activity::Direction;
use super::auth::{AuthConfig, AuthOutcome, AuthProto, Secret};
use super::ccp::{self, Ccp, CcpConfig, Method};
use super::chap::{self, ChapAuthenticator, ChapPeer, ChapTimers};
use super::compress::{CcpStats, Compressor, DecompressError, Decompressor};
use super::datagram;
use super::fsm::{code, Fsm, FsmConfig, Ignored, Signal, State, Unhandled};
use super::ipcp::{Ipcp, IpcpConfig, Unauthorized, VjConfig};
use super::ipv6cp::{InterfaceId, Ipv6cp, Ipv6cpConfig};
use super::lcp::{Agreed, Lcp, LcpConfig};
use super::packet::Packet;
use super::pap::{self, PapAuthenticator, PapPeer, PapTimers};
use super::proto;
use super::vj::{self, VjStats};
use crate::hdlc::{self, HeaderError};

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

/// pppd's reason text for closing on a peer's unauthorized address.
const UNAUTHORIZED_IP: &str = "Unauthorized remote IP address";

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
    /// With [`LinkConfig::hold_auth`]: the peer's credentials are right;
    /// the link waits in the Authenticate phase, the peer unanswered, until
    /// [`Link::authorize`] says whether it may go on.
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
    pub tx: Option<super::ipcp::VjConfig>,
    pub rx: Option<super::ipcp::VjConfig>,
}

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
    pub active_filter: Option<super::activity::ActiveFilter>,
    /// As authenticator, hold the verdict on right credentials until the
    /// driver calls [`Link::authorize`]: who may use the link (a one-time
    /// inbound enablement, say) is decided before the peer hears Success
    /// and before the Network phase, so nothing the peer sends meanwhile
    /// can reach an NCP (RFC 1661 §3.5).
    pub hold_auth: bool,
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

#[derive(Debug, Default)]
struct AuthState {
    /// We check the peer with this protocol.
    checking: Option<AuthProto>,
    /// We prove ourselves with this protocol.
    proving: Option<AuthProto>,
    peer_done: bool,
    us_done: bool,
    pap_peer: Option<PapPeer>,
    pap_auth: Option<PapAuthenticator>,
    chap_peer: Option<ChapPeer>,
    chap_auth: Option<ChapAuthenticator>,
}

pub struct Link {
    cfg: LinkConfig,
    phase: Phase,
    lcp: Fsm<Lcp>,
    ipcp: Fsm<Ipcp>,
    ipv6cp: Fsm<Ipv6cp>,
    ccp: Fsm<Ccp>,
    /// Running from the moment we Ack the peer's CCP request, as pppd's
    /// kernel starts it (RFC 1962 leaves the moment open; a receiver must
    /// be ready from its Ack).
    comp_tx: Option<Compressor>,
    /// Running from the moment the peer Acks our request.
    comp_rx: Option<Decompressor>,
    /// A decompression failed: compressed frames are dropped until the
    /// peer's Reset-Ack (RFC 1962 §2.1).
    comp_rx_broken: bool,
    /// The Reset-Request outstanding: its identifier and when to repeat
    /// it, and whether more errors came meanwhile (pppd's RREQ_REPEAT).
    reset_pending: Option<(u8, Instant)>,
    reset_again: bool,
    ccp_up: bool,
    auth: AuthState,
    rng: StdRng,
    out: VecDeque<Frame>,
    events: VecDeque<Event>,
    down_reason: Option<DownReason>,
    down_reported: bool,
    echo_timer: Option<Instant>,
    echo_outstanding: u32,
    echo_id: u8,
    traffic_since_echo: bool,
    ip_up: bool,
    ipv6_up: bool,
    vj_tx: Option<vj::Compressor>,
    vj_rx: Option<vj::Decompressor>,
    /// The last IP datagram in or out, or the first NCP up (for `idle`).
    last_ip: Option<Instant>,
    stats: LinkStats,
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link")
            .field("phase", &self.phase)
            .field("lcp", &self.lcp.state())
            .field("ipcp", &self.ipcp.state())
            .field("ipv6cp", &self.ipv6cp.state())
            .finish_non_exhaustive()
    }
}

/// A datagram carried either way restarts the idle time if it counts as
/// activity.
fn note_activity(
    last_ip: &mut Option<Instant>,
    filter: Option<&super::activity::ActiveFilter>,
    d: &[u8],
    dir: Direction,
    now: Instant,
) {
    if filter.map_or(true, |f| f.is_active(d, dir)) {
        *last_ip = Some(now);
    }
}

/// A received datagram of `protocol`'s family (its NCP open), delivered
/// only if its own header names the same family: counted, and noted as
/// activity. Free of `Link` so that the VJ path can hand in a datagram
/// that lives in the decompressor.
fn accept_datagram<'a>(
    stats: &mut LinkStats,
    last_ip: &mut Option<Instant>,
    filter: Option<&super::activity::ActiveFilter>,
    protocol: u16,
    info: &'a [u8],
    now: Instant,
) -> Option<&'a [u8]> {
    match datagram::classify(info) {
        Some((p, d)) if p == protocol => {
            if p == proto::IPV4 {
                stats.ip_in += 1;
            } else {
                stats.ipv6_in += 1;
            }
            note_activity(last_ip, filter, d, Direction::Inbound, now);
            Some(d)
        }
        // An IPv6 packet dressed as IPv4 (or the reverse, or garbage) would
        // reach the host's other stack through the TUN, which classifies
        // by the first nibble: never delivered.
        _ => {
            stats.ip_in_dropped += 1;
            tracing::debug!(
                protocol = format_args!("{protocol:#06x}"),
                len = info.len(),
                "frame not carrying its protocol's datagram dropped"
            );
            None
        }
    }
}

/// A datagram (or VJ packet) on its way out, through the compressor
/// when one runs: 0x00fd and the compressed data, or as it was.
/// Until CCP is Opened (`opened`), the compressor runs (its history
/// must match the peer's, which takes in what we send from our Ack on)
/// but the datagram goes out as it was: RFC 1962 §3 sends no compressed
/// datagram before then, and pppd's kernel does the same.
fn compress_out<'a>(
    comp: &'a mut Option<Compressor>,
    opened: bool,
    stats: &mut CcpStats,
    protocol: u16,
    data: &'a [u8],
) -> (u16, &'a [u8]) {
    let Some(c) = comp else {
        return (protocol, data);
    };
    if tracing::enabled!(target: "carrier::frame", tracing::Level::DEBUG) {
        tracing::debug!(
            target: "carrier::frame",
            "sent, before compression [{}]",
            super::trace::describe(protocol, data)
        );
    }
    match c.compress(protocol, data, opened, stats) {
        Some(z) => (ccp::COMPRESSED, z),
        None => (protocol, data),
    }
}

/// A VJ frame: rebuilt, then delivered as any IPv4 datagram would be.
/// Free of `Link` so that a frame decompressed by CCP can come in from
/// the decompressor's buffer.
#[allow(clippy::too_many_arguments)]
fn receive_vj<'a>(
    vj_rx: &'a mut Option<vj::Decompressor>,
    ip_up: bool,
    stats: &mut LinkStats,
    last_ip: &mut Option<Instant>,
    filter: Option<&super::activity::ActiveFilter>,
    protocol: u16,
    info: &[u8],
    now: Instant,
) -> Option<&'a [u8]> {
    let Some(d) = vj_rx.as_mut().filter(|_| ip_up) else {
        // Not agreed for this direction, or IPCP not open.
        stats.ip_in_dropped += 1;
        stats.not_ready += 1;
        return None;
    };
    let rebuilt = if protocol == vj::COMPRESSED_TCP {
        d.compressed(info, &mut stats.vj)
    } else {
        d.uncompressed(info, &mut stats.vj)
    }?;
    accept_datagram(stats, last_ip, filter, proto::IPV4, rebuilt, now)
}

/// Feeds an NCP packet to its automaton; codes beyond 1-7 are Code-Rejected
/// (an NCP has no Echo or Discard).
fn ncp_receive<O: super::fsm::Options>(
    fsm: &mut Fsm<O>,
    pkt: Packet<'_>,
    info: &[u8],
    now: Instant,
) -> Result<(), Ignored> {
    if let Some(u) = fsm.receive(pkt, now)? {
        let len = 4 + u.data.len();
        fsm.receive_unknown_code(&info[..len], now);
    }
    Ok(())
}

/// A generator seeded from `parent`: what `StdRng::from_rng` does
/// (the same 32 bytes, so seeded runs repeat), without its `Result`,
/// which only a fallible source can fail.
fn child_rng(parent: &mut StdRng) -> StdRng {
    use rand::RngCore;
    let mut seed = <StdRng as SeedableRng>::Seed::default();
    parent.fill_bytes(&mut seed);
    StdRng::from_seed(seed)
}

impl Link {
    /// `seed` feeds magic numbers and CHAP challenges; the session seeds it
    /// from the OS, tests from a constant.
    pub fn new(mut cfg: LinkConfig, seed: [u8; 32]) -> Self {
        let mut rng = StdRng::from_seed(seed);
        if cfg.lcp.can_auth.is_empty() && cfg.auth.can_authenticate() {
            cfg.lcp.can_auth = vec![AuthProto::ChapMd5, AuthProto::Pap];
        }
        let lcp = Fsm::new(
            "LCP",
            Lcp::new(cfg.lcp.clone(), child_rng(&mut rng)),
            cfg.lcp_fsm,
        );
        let ipcp = Fsm::new("IPCP", Ipcp::new(cfg.ipcp.clone()), cfg.ipcp_fsm);
        let ipv6cp = Fsm::new(
            "IPV6CP",
            Ipv6cp::new(cfg.ipv6.unwrap_or_default(), child_rng(&mut rng)),
            cfg.ipv6cp_fsm,
        );
        let ccp = Fsm::new("CCP", Ccp::new(cfg.ccp.unwrap_or_default()), cfg.ccp_fsm);
        Link {
            cfg,
            phase: Phase::Dead,
            lcp,
            ipcp,
            ipv6cp,
            ccp,
            comp_tx: None,
            comp_rx: None,
            comp_rx_broken: false,
            reset_pending: None,
            reset_again: false,
            ccp_up: false,
            auth: AuthState::default(),
            rng,
            out: VecDeque::new(),
            events: VecDeque::new(),
            down_reason: None,
            down_reported: false,
            echo_timer: None,
            echo_outstanding: 0,
            echo_id: 0,
            traffic_since_echo: false,
            ip_up: false,
            ipv6_up: false,
            vj_tx: None,
            vj_rx: None,
            last_ip: None,
            stats: LinkStats::default(),
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn lcp_state(&self) -> State {
        self.lcp.state()
    }

    pub fn ipcp_state(&self) -> State {
        self.ipcp.state()
    }

    pub fn ipv6cp_state(&self) -> State {
        self.ipv6cp.state()
    }

    pub fn ccp_state(&self) -> State {
        self.ccp.state()
    }

    /// The methods compressing each way now (tx, rx).
    pub fn compression(&self) -> (Option<Method>, Option<Method>) {
        (
            self.comp_tx.as_ref().map(|c| c.method()),
            self.comp_rx.as_ref().map(|d| d.method()),
        )
    }

    pub fn stats(&self) -> &LinkStats {
        &self.stats
    }

    /// IPCP is Opened: IPv4 flows.
    pub fn is_ip_up(&self) -> bool {
        self.ip_up
    }

    /// IPv6CP is Opened: IPv6 flows.
    pub fn is_ipv6_up(&self) -> bool {
        self.ipv6_up
    }

    /// Some NCP is Opened: the IP interface has something to carry.
    pub fn carries_ip(&self) -> bool {
        self.ip_up || self.ipv6_up
    }

    /// Administrative Open: the link wants to come up.
    pub fn open(&mut self, now: Instant) {
        self.down_reason = None;
        self.down_reported = false;
        if self.phase == Phase::Dead {
            self.set_phase(Phase::Establish);
        }
        self.lcp.open(now);
        self.pump(now);
    }

    /// The line below is ready to carry frames.
    pub fn lower_up(&mut self, now: Instant) {
        self.lcp.up(now);
        self.pump(now);
    }

    /// The line below is gone (carrier lost, device closed): nothing more
    /// can be sent, so the link is down at once.
    pub fn lower_down(&mut self, now: Instant) {
        self.down_reason.get_or_insert(DownReason::LowerLayerDown);
        self.lcp.down(now);
        self.pump(now);
        self.report_down();
    }

    /// Administrative Close: terminate LCP politely; `Down` follows when
    /// the peer acknowledges or Max-Terminate runs out.
    pub fn close(&mut self, reason: DownReason, now: Instant) {
        self.down_reason.get_or_insert(reason);
        self.lcp.close(now);
        self.pump(now);
        if matches!(self.lcp.state(), State::Initial | State::Closed) {
            self.report_down();
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Frame> {
        let f = self.out.pop_front();
        if f.is_some() {
            self.stats.frames_out += 1;
        }
        f
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.lcp.deadline(),
            self.ipcp.deadline(),
            self.ipv6cp.deadline(),
            self.ccp.deadline(),
            self.reset_pending.map(|(_, t)| t),
            self.echo_timer,
            self.idle_deadline(),
            self.auth.pap_peer.as_ref().and_then(|a| a.deadline()),
            self.auth.pap_auth.as_ref().and_then(|a| a.deadline()),
            self.auth.chap_peer.as_ref().and_then(|a| a.deadline()),
            self.auth.chap_auth.as_ref().and_then(|a| a.deadline()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.lcp.handle_timeout(now);
        self.ipcp.handle_timeout(now);
        self.ipv6cp.handle_timeout(now);
        self.ccp.handle_timeout(now);
        if self.reset_pending.is_some_and(|(_, t)| t <= now) {
            self.reset_timeout(now);
        }
        if let Some(a) = &mut self.auth.pap_peer {
            a.handle_timeout(now);
        }
        if let Some(a) = &mut self.auth.pap_auth {
            a.handle_timeout(now);
        }
        if let Some(a) = &mut self.auth.chap_peer {
            a.handle_timeout(now);
        }
        if let Some(a) = &mut self.auth.chap_auth {
            a.handle_timeout(&self.cfg.auth, now);
        }
        if self.echo_timer.is_some_and(|t| t <= now) {
            self.echo_tick(now);
        }
        if self.idle_deadline().is_some_and(|t| t <= now) {
            tracing::info!(idle = ?self.cfg.idle, "no IP traffic for the idle time: closing");
            self.last_ip = None;
            self.close(DownReason::Idle, now);
        }
        self.pump(now);
    }

    /// When `idle` closes the link, while IP is up.
    fn idle_deadline(&self) -> Option<Instant> {
        let idle = self.cfg.idle?;
        self.last_ip
            .filter(|_| self.carries_ip())
            .and_then(|t| t.checked_add(idle))
    }

    /// The framing in force: negotiated values once LCP is open, RFC 1662
    /// defaults otherwise.
    pub fn framing(&self) -> Framing {
        if self.lcp.state() == State::Opened {
            let (ours, theirs) = (&self.lcp.opts.ours, &self.lcp.opts.theirs);
            Framing {
                tx_accm: theirs.accm,
                rx_accm: ours.accm,
                tx_acfc: theirs.acfc,
                tx_pfc: theirs.pfc,
                mru: ours.mru,
                peer_mru: theirs.mru,
            }
        } else {
            Framing {
                tx_accm: hdlc::DEFAULT_ACCM,
                rx_accm: hdlc::DEFAULT_ACCM,
                tx_acfc: false,
                tx_pfc: false,
                mru: self.cfg.lcp.mru.max(hdlc::DEFAULT_MRU as u16),
                peer_mru: hdlc::DEFAULT_MRU as u16,
            }
        }
    }

    /// A datagram from the IP interface, to be framed by the caller (the
    /// data path bypasses the control queue to avoid a copy): the protocol
    /// to send it under and the datagram without padding, or None if it
    /// may not go out. A datagram goes out only under the protocol its own
    /// header names, and only while that protocol's NCP is Opened; anything
    /// else is dropped and counted.
    /// With VJ agreed, a TCP datagram may go out as 0x002d or 0x002f, from
    /// the link's own buffer.
    pub fn send_ip<'a>(&'a mut self, datagram: &'a [u8], now: Instant) -> Option<(u16, &'a [u8])> {
        if self.comp_tx.as_ref().is_some_and(|c| c.is_broken()) {
            // Our history is no longer known: compression must stop both
            // ways before the peer reads garbage.
            tracing::warn!("CCP: the compressor failed; disabling compression");
            self.stats.ccp.fatal += 1;
            self.comp_tx = None;
            self.comp_rx = None;
            self.ccp.close(now);
            self.pump(now);
        }
        match datagram::classify(datagram) {
            Some((proto::IPV4, d)) if self.ip_up => {
                self.stats.ip_out += 1;
                note_activity(
                    &mut self.last_ip,
                    self.cfg.active_filter.as_ref(),
                    d,
                    Direction::Outbound,
                    now,
                );
                let (p, d) = match &mut self.vj_tx {
                    None => (proto::IPV4, d),
                    Some(c) => match c.compress(d, &mut self.stats.vj) {
                        vj::Packet::Ip(p) => (proto::IPV4, p),
                        vj::Packet::Uncompressed(p) => (vj::UNCOMPRESSED_TCP, p),
                        vj::Packet::Compressed(p) => (vj::COMPRESSED_TCP, p),
                    },
                };
                Some(compress_out(
                    &mut self.comp_tx,
                    self.ccp_up,
                    &mut self.stats.ccp,
                    p,
                    d,
                ))
            }
            Some((proto::IPV6, d)) if self.ipv6_up => {
                self.stats.ipv6_out += 1;
                note_activity(
                    &mut self.last_ip,
                    self.cfg.active_filter.as_ref(),
                    d,
                    Direction::Outbound,
                    now,
                );
                Some(compress_out(
                    &mut self.comp_tx,
                    self.ccp_up,
                    &mut self.stats.ccp,
                    proto::IPV6,
                    d,
                ))
            }
            other => {
                self.stats.ip_out_dropped += 1;
                tracing::debug!(
                    protocol = ?other.map(|(p, _)| format_args!("{p:#06x}").to_string()),
                    len = datagram.len(),
                    "datagram from the interface dropped: its protocol is not open on the link"
                );
                None
            }
        }
    }

    /// A frame from the decoder (unstuffed, FCS removed). Returns the IP
    /// datagram it carries, if any, for the caller to deliver; its own
    /// header always names the family its PPP protocol stands for.
    pub fn handle_frame<'a>(&'a mut self, frame: &'a [u8], now: Instant) -> Option<&'a [u8]> {
        let (protocol, info) = match hdlc::split_header(frame) {
            Ok(x) => x,
            Err(e) => {
                self.stats.bad_header += 1;
                tracing::debug!(error = %e, "frame dropped");
                if e == HeaderError::BadAddress {
                    // The header only: the rest may hold a password.
                    tracing::trace!(
                        header = ?frame.get(..2),
                        len = frame.len(),
                        "bad address field"
                    );
                }
                return None;
            }
        };
        self.stats.frames_in += 1;
        self.traffic_since_echo = true;
        if self.cfg.echo.adaptive {
            self.echo_outstanding = 0;
        }
        if protocol == ccp::COMPRESSED && self.cfg.ccp.is_some() {
            return self.receive_compressed(info, now);
        }
        // The peer's compressor took every frame of its protocols into its
        // history, compressed or not (RFC 1979 §2.2, RFC 1977 §2).
        if let Some(d) = self.comp_rx.as_mut().filter(|_| !self.comp_rx_broken) {
            d.incomp(protocol, info);
        }
        self.dispatch(protocol, info, now)
    }

    /// A received frame of `protocol`, compressed or not; returns the IP
    /// datagram it carries, if any.
    fn dispatch<'a>(&'a mut self, protocol: u16, info: &'a [u8], now: Instant) -> Option<&'a [u8]> {
        let mut ip = None;
        match protocol {
            proto::LCP => self.receive_lcp(info, now),
            proto::PAP | proto::CHAP => self.receive_auth(protocol, info, now),
            proto::IPCP if !self.cfg.noip => self.receive_ncp(false, info, now),
            proto::IPV6CP if self.cfg.ipv6.is_some() => self.receive_ncp(true, info, now),
            proto::CCP if self.cfg.ccp.is_some() => self.receive_ccp(info, now),
            // A family we do not run at all is rejected like any unknown
            // protocol (RFC 1661 §5.7); one whose NCP is not yet Opened is
            // dropped.
            proto::IPV4 if !self.cfg.noip => ip = self.receive_datagram(protocol, info, now),
            proto::IPV6 if self.cfg.ipv6.is_some() => {
                ip = self.receive_datagram(protocol, info, now)
            }
            vj::COMPRESSED_TCP | vj::UNCOMPRESSED_TCP if self.cfg.ipcp.vj.is_some() => {
                self.pump(now);
                return receive_vj(
                    &mut self.vj_rx,
                    self.ip_up,
                    &mut self.stats,
                    &mut self.last_ip,
                    self.cfg.active_filter.as_ref(),
                    protocol,
                    info,
                    now,
                );
            }
            _ => self.protocol_reject(protocol, info),
        }
        self.pump(now);
        ip
    }

    /// The framer dropped a frame (bad FCS, too long): VJ must not trust
    /// the next compressed packet (RFC 1144 §4.3).
    pub fn frame_lost(&mut self) {
        if let Some(d) = &mut self.vj_rx {
            d.lost();
        }
    }

    /// The NCP of 0x0021 (IPCP) or 0x0057 (IPv6CP) is Opened: only then
    /// may the family's datagrams come in, compressed or not.
    fn family_open(&self, protocol: u16) -> bool {
        match protocol {
            proto::IPV4 => self.ip_up,
            _ => self.ipv6_up,
        }
    }

    /// A datagram under 0x0021 or 0x0057, delivered only if its NCP is
    /// Opened and its own header names the same family.
    fn receive_datagram<'a>(
        &mut self,
        protocol: u16,
        info: &'a [u8],
        now: Instant,
    ) -> Option<&'a [u8]> {
        if !self.family_open(protocol) {
            // RFC 1661 §3.5 (and RFC 5072 §3 for IPv6): no datagrams before
            // their NCP opened. Counted with the other unreadable ones,
            // since an unopened family is one the link does not carry.
            self.stats.ip_in_dropped += 1;
            self.stats.not_ready += 1;
            return None;
        }
        accept_datagram(
            &mut self.stats,
            &mut self.last_ip,
            self.cfg.active_filter.as_ref(),
            protocol,
            info,
            now,
        )
    }

    /// A Compressed Datagram (RFC 1962 §3): decompressed, then handled as
    /// the frame it was. LCP is never compressed (RFC 1962 §3), nor are
    /// compressed datagrams nested.
    fn receive_compressed<'a>(&'a mut self, info: &[u8], now: Instant) -> Option<&'a [u8]> {
        let (protocol, at) = self.decompress_frame(info, now)?;
        if tracing::enabled!(target: "carrier::frame", tracing::Level::DEBUG) {
            if let Some(d) = &self.comp_rx {
                tracing::debug!(
                    target: "carrier::frame",
                    "rcvd, decompressed [{}]",
                    super::trace::describe(protocol, d.output(at))
                );
            }
        }
        match protocol {
            proto::IPV4 | proto::IPV6 => {
                if !self.family_open(protocol) {
                    self.stats.ip_in_dropped += 1;
                    self.stats.not_ready += 1;
                    return None;
                }
                let data = self.comp_rx.as_ref()?.output(at);
                accept_datagram(
                    &mut self.stats,
                    &mut self.last_ip,
                    self.cfg.active_filter.as_ref(),
                    protocol,
                    data,
                    now,
                )
            }
            vj::COMPRESSED_TCP | vj::UNCOMPRESSED_TCP if self.cfg.ipcp.vj.is_some() => {
                let data = self.comp_rx.as_ref()?.output(at);
                receive_vj(
                    &mut self.vj_rx,
                    self.ip_up,
                    &mut self.stats,
                    &mut self.last_ip,
                    self.cfg.active_filter.as_ref(),
                    protocol,
                    data,
                    now,
                )
            }
            proto::LCP | ccp::COMPRESSED | ccp::COMPRESSED_LINK => {
                self.stats.ccp.dropped_in += 1;
                tracing::debug!(
                    protocol = format_args!("{protocol:#06x}"),
                    "compressed frame holding a protocol never compressed: dropped"
                );
                None
            }
            _ => {
                // A control protocol (pppd's kernel compresses nothing
                // but data, but others may): handled as if uncompressed.
                let inner = self.comp_rx.as_ref()?.output(at).to_vec();
                let _ = self.dispatch(protocol, &inner, now);
                None
            }
        }
    }

    /// Runs the decompressor over a 0x00fd frame: the protocol it held
    /// and where its data starts, or None (counted, and a Reset-Request
    /// or CCP's end when the error calls for it).
    fn decompress_frame(&mut self, info: &[u8], now: Instant) -> Option<(u16, usize)> {
        let mru = usize::from(self.framing().mru);
        let Some(d) = self.comp_rx.as_mut() else {
            // Before the peer Acked our request, or after CCP went down:
            // not ours to read (RFC 1962 §3).
            self.stats.ccp.dropped_in += 1;
            self.stats.not_ready += 1;
            self.frame_lost();
            return None;
        };
        if self.comp_rx_broken {
            // Waiting for the Reset-Ack: the peer's compressor has not
            // started afresh yet.
            self.stats.ccp.dropped_in += 1;
            self.frame_lost();
            self.request_reset(now);
            return None;
        }
        match d.decompress(info, mru, &mut self.stats.ccp) {
            Ok(x) => Some(x),
            Err(e) => {
                self.decompress_failed(e, now);
                None
            }
        }
    }

    fn decompress_failed(&mut self, e: DecompressError, now: Instant) {
        // What was lost may have carried VJ deltas (RFC 1144 §4.3).
        self.frame_lost();
        if e.is_fatal() {
            // pppd: "Lost compression sync: disabling compression".
            tracing::warn!(error = %e, "CCP: lost compression sync; disabling compression");
            self.stats.ccp.fatal += 1;
            self.comp_tx = None;
            self.comp_rx = None;
            self.ccp.close(now);
            self.pump(now);
            return;
        }
        tracing::debug!(error = %e, "CCP: decompression failed; asking the peer to reset");
        self.comp_rx_broken = true;
        self.request_reset(now);
    }

    /// RFC 1962 §2.1: a Reset-Request, unless one is outstanding (then it
    /// is repeated when its timer runs out, as pppd does).
    fn request_reset(&mut self, now: Instant) {
        if self.reset_pending.is_some() {
            self.reset_again = true;
            return;
        }
        let id = self.ccp.alloc_id();
        self.send_reset_request(id, now);
    }

    fn send_reset_request(&mut self, id: u8, now: Instant) {
        if self.ccp.state() != State::Opened {
            return;
        }
        self.ccp.send(ccp::code::RESET_REQ, id, &[]);
        self.stats.ccp.reset_requests_sent += 1;
        // pppd's RACKTIMEOUT.
        self.reset_pending = Some((id, now + Duration::from_secs(1)));
        self.reset_again = false;
        self.pump(now);
    }

    fn reset_timeout(&mut self, now: Instant) {
        let Some((id, _)) = self.reset_pending.take() else {
            return;
        };
        if self.reset_again && self.comp_rx_broken {
            self.send_reset_request(id, now);
        }
    }

    /// Both engines stop when CCP terminates or goes down, either way
    /// (pppd's kernel: TermReq, TermAck).
    fn ccp_engines_stop(&mut self) {
        self.comp_tx = None;
        self.comp_rx = None;
        self.comp_rx_broken = false;
        self.reset_pending = None;
        self.reset_again = false;
    }

    fn receive_ccp(&mut self, info: &[u8], now: Instant) {
        // RFC 1962 §2: CCP is an NCP like the others.
        let Some(pkt) = self.network_packet("CCP", info) else {
            return;
        };
        match pkt.code {
            // The peer renegotiates what it receives: our compressor stops
            // until we Ack again (pppd's kernel does the same).
            code::CONF_REQ => self.comp_tx = None,
            code::TERM_REQ | code::TERM_ACK => self.ccp_engines_stop(),
            _ => {}
        }
        match self.ccp.receive(pkt, now) {
            Ok(None) => {}
            Ok(Some(u)) => match u.code {
                ccp::code::RESET_REQ => {
                    // RFC 1962 §2.1: only while Opened; the compressor
                    // starts afresh, then the Reset-Ack tells the peer.
                    if self.ccp.state() == State::Opened {
                        self.stats.ccp.reset_requests_in += 1;
                        if let Some(c) = &mut self.comp_tx {
                            c.reset();
                        }
                        self.ccp.send(ccp::code::RESET_ACK, u.id, &[]);
                    }
                }
                ccp::code::RESET_ACK => {
                    // The peer's compressor started afresh whatever the
                    // identifier; so does our decompressor.
                    self.stats.ccp.reset_acks_in += 1;
                    if let Some(d) = &mut self.comp_rx {
                        d.reset();
                    }
                    self.comp_rx_broken = false;
                    if self.reset_pending.is_some_and(|(id, _)| id == u.id) {
                        self.reset_pending = None;
                        self.reset_again = false;
                    }
                }
                _ => {
                    let len = 4 + u.data.len();
                    self.ccp.receive_unknown_code(&info[..len], now);
                }
            },
            Err(why) => self.ignored("CCP", why),
        }
        // Our request was Acked: the peer compresses towards us now.
        if pkt.code == code::CONF_ACK {
            if let Some(rx) = self.ccp.opts.rx_agreed.take() {
                self.comp_rx = rx.map(Decompressor::new);
                self.comp_rx_broken = false;
            }
        }
    }

    fn receive_lcp(&mut self, info: &[u8], now: Instant) {
        let pkt = match Packet::parse(info) {
            Ok(p) => p,
            Err(e) => {
                self.stats.malformed += 1;
                tracing::debug!(error = %e, "LCP packet dropped");
                return;
            }
        };
        match self.lcp.receive(pkt, now) {
            Ok(None) => {}
            Ok(Some(u)) => self.lcp_extension(u, info, now),
            Err(why) => self.ignored("LCP", why),
        }
        if self.lcp.opts.looped_back() {
            tracing::warn!("serial line is looped back");
            self.close(DownReason::Loopback, now);
        } else if self.lcp.opts.auth_refused {
            tracing::warn!("peer refused to authenticate");
            self.close(DownReason::PeerAuthFailed, now);
        }
    }

    /// LCP codes 8-11 and unknown codes (RFC 1661 §5.7-§5.9).
    fn lcp_extension(&mut self, u: Unhandled<'_>, whole: &[u8], now: Instant) {
        match u.code {
            code::PROT_REJ => {
                if self.lcp.state() != State::Opened {
                    return;
                }
                let rejected = u
                    .data
                    .get(..2)
                    .map(|p| u16::from_be_bytes([p[0], p[1]]))
                    .unwrap_or(0);
                tracing::info!(
                    protocol = format_args!("{rejected:#06x}"),
                    "peer rejected protocol"
                );
                match rejected {
                    proto::LCP => self.lcp.reject_catastrophic(now),
                    // RFC 1661 §5.7: that NCP stops; the link closes only
                    // if no other NCP is left (pppd: "No network protocols
                    // running").
                    proto::IPCP | proto::IPV4 => {
                        self.lcp.reject_permitted(now);
                        self.ipcp.down(now);
                        self.ipcp.close(now);
                        self.ncp_stopped(now);
                    }
                    proto::IPV6CP | proto::IPV6 => {
                        self.lcp.reject_permitted(now);
                        self.ipv6cp.down(now);
                        self.ipv6cp.close(now);
                        self.ncp_stopped(now);
                    }
                    // RFC 1962 §2: a peer without CCP (or without
                    // compressed datagrams) just gets none.
                    proto::CCP | ccp::COMPRESSED => {
                        self.lcp.reject_permitted(now);
                        self.ccp.down(now);
                        self.ccp.close(now);
                        self.ccp_engines_stop();
                    }
                    proto::PAP | proto::CHAP if self.phase == Phase::Authenticate => {
                        self.lcp.reject_permitted(now);
                        self.close(DownReason::NegotiationFailed, now);
                    }
                    _ => self.lcp.reject_permitted(now),
                }
            }
            code::ECHO_REQ => {
                if self.lcp.receive_echo_class(now) {
                    self.stats.echo_requests_in += 1;
                    let mut data = self.our_magic().to_be_bytes().to_vec();
                    data.extend_from_slice(u.data.get(4..).unwrap_or(&[]));
                    data.truncate(usize::from(self.lcp.opts.theirs.mru).saturating_sub(4));
                    self.lcp.send(code::ECHO_REP, u.id, &data);
                }
            }
            code::ECHO_REP => {
                if self.lcp.receive_echo_class(now) {
                    self.stats.echo_replies_in += 1;
                    self.echo_outstanding = 0;
                }
            }
            code::DISC_REQ => {
                self.stats.discard_requests_in += 1;
                self.lcp.receive_echo_class(now);
            }
            _ => {
                let len = 4 + u.data.len();
                self.lcp.receive_unknown_code(&whole[..len], now);
            }
        }
    }

    /// An NCP's packet, if the link is in the Network phase and the
    /// packet's lengths hold; counted and dropped otherwise.
    fn network_packet<'a>(&mut self, name: &str, info: &'a [u8]) -> Option<Packet<'a>> {
        // RFC 1661 §3.4-§3.5: NCP packets before the Network phase are
        // silently discarded.
        if self.phase != Phase::Network {
            self.stats.not_ready += 1;
            return None;
        }
        match Packet::parse(info) {
            Ok(p) => Some(p),
            Err(e) => {
                self.stats.malformed += 1;
                tracing::debug!(protocol = name, error = %e, "NCP packet dropped");
                None
            }
        }
    }

    /// An IPCP or IPv6CP packet (`v6` says which).
    fn receive_ncp(&mut self, v6: bool, info: &[u8], now: Instant) {
        let name = if v6 { "IPV6CP" } else { "IPCP" };
        let Some(pkt) = self.network_packet(name, info) else {
            return;
        };
        let result = if v6 {
            ncp_receive(&mut self.ipv6cp, pkt, info, now)
        } else {
            ncp_receive(&mut self.ipcp, pkt, info, now)
        };
        if let Err(why) = result {
            self.ignored(name, why);
        }
    }

    fn receive_auth(&mut self, protocol: u16, info: &[u8], now: Instant) {
        if !matches!(self.phase, Phase::Authenticate | Phase::Network) {
            self.stats.not_ready += 1;
            return;
        }
        let pkt = match Packet::parse(info) {
            Ok(p) => p,
            Err(e) => {
                self.stats.malformed += 1;
                tracing::debug!(error = %e, "auth packet dropped");
                return;
            }
        };
        let creds = &self.cfg.auth;
        let a = &mut self.auth;
        let result = match (protocol, pkt.code) {
            (proto::PAP, pap::AUTH_REQ) => match &mut a.pap_auth {
                Some(s) => s.receive(pkt, creds),
                None => Ok(()),
            },
            (proto::PAP, _) => {
                if let Some(p) = &mut a.pap_peer {
                    if !p.receive(pkt) {
                        self.stats.ignored += 1;
                    }
                }
                Ok(())
            }
            (proto::CHAP, chap::RESPONSE) => match &mut a.chap_auth {
                Some(s) => s.receive(pkt, creds, now),
                None => Ok(()),
            },
            (proto::CHAP, _) => match &mut a.chap_peer {
                Some(p) => p.receive(pkt, creds, now),
                None => Ok(()),
            },
            _ => Ok(()),
        };
        if let Err(e) = result {
            self.stats.malformed += 1;
            tracing::debug!(error = %e, "auth packet dropped");
        }
    }

    /// RFC 1661 §5.7: unknown protocols are rejected once LCP is Opened,
    /// silently dropped before.
    fn protocol_reject(&mut self, protocol: u16, info: &[u8]) {
        if self.lcp.state() != State::Opened {
            self.stats.not_ready += 1;
            return;
        }
        self.stats.protocol_rejected += 1;
        tracing::debug!(
            protocol = format_args!("{protocol:#06x}"),
            "protocol rejected"
        );
        let mut data = protocol.to_be_bytes().to_vec();
        data.extend_from_slice(info);
        data.truncate(usize::from(self.lcp.opts.theirs.mru).saturating_sub(4));
        let id = self.lcp.alloc_id();
        self.lcp.send(code::PROT_REJ, id, &data);
    }

    fn ignored(&mut self, protocol: &str, why: Ignored) {
        self.stats.ignored += 1;
        tracing::debug!(protocol, ?why, "packet ignored");
    }

    fn our_magic(&self) -> u32 {
        self.lcp.opts.ours.magic.unwrap_or(0)
    }

    fn echo_tick(&mut self, now: Instant) {
        let Some(interval) = self.cfg.echo.interval else {
            self.echo_timer = None;
            return;
        };
        self.echo_timer = Some(now + interval);
        if self.cfg.echo.adaptive && self.traffic_since_echo {
            self.traffic_since_echo = false;
            self.echo_outstanding = 0;
            return;
        }
        if self.cfg.echo.failure > 0 && self.echo_outstanding >= self.cfg.echo.failure {
            tracing::warn!(
                missed = self.echo_outstanding,
                "no response to echo-requests; link appears dead"
            );
            self.echo_timer = None;
            self.close(DownReason::EchoTimeout, now);
            return;
        }
        self.traffic_since_echo = false;
        self.echo_outstanding += 1;
        self.echo_id = self.echo_id.wrapping_add(1);
        let magic = self.our_magic().to_be_bytes();
        self.lcp.send(code::ECHO_REQ, self.echo_id, &magic);
        self.stats.echo_requests_sent += 1;
    }

    fn set_phase(&mut self, phase: Phase) {
        if self.phase != phase {
            self.phase = phase;
            self.events.push_back(Event::Phase(phase));
        }
    }

    fn report_down(&mut self) {
        if self.down_reported {
            return;
        }
        self.down_reported = true;
        self.auth = AuthState::default();
        self.echo_timer = None;
        self.set_phase(Phase::Dead);
        let reason = self.down_reason.unwrap_or(DownReason::LowerLayerDown);
        self.events.push_back(Event::Down { reason });
    }

    /// Moves packets and layer signals until everything is quiet, keeping
    /// the order in which the automata produced them.
    fn pump(&mut self, now: Instant) {
        loop {
            while let Some(p) = self.lcp.poll_packet() {
                self.out.push_back(Frame {
                    protocol: proto::LCP,
                    data: p,
                });
            }
            while let Some(p) = self.ipcp.poll_packet() {
                self.out.push_back(Frame {
                    protocol: proto::IPCP,
                    data: p,
                });
            }
            while let Some(p) = self.ipv6cp.poll_packet() {
                self.out.push_back(Frame {
                    protocol: proto::IPV6CP,
                    data: p,
                });
            }
            while let Some(p) = self.ccp.poll_packet() {
                match p.first().copied() {
                    // We renegotiate what we receive: the decompressor
                    // waits for the peer's Ack.
                    Some(code::CONF_REQ) => {
                        self.comp_rx = None;
                        self.comp_rx_broken = false;
                        self.reset_pending = None;
                    }
                    Some(code::TERM_REQ | code::TERM_ACK) => self.ccp_engines_stop(),
                    // We Ack the peer's request: compress towards it from
                    // the next datagram on.
                    Some(code::CONF_ACK) => {
                        if let Some(tx) = self.ccp.opts.tx_agreed.take() {
                            self.comp_tx = tx.map(Compressor::new);
                        }
                    }
                    _ => {}
                }
                self.out.push_back(Frame {
                    protocol: proto::CCP,
                    data: p,
                });
            }
            self.drain_auth_packets();
            if let Some(s) = self.lcp.poll_signal() {
                self.lcp_signal(s, now);
                continue;
            }
            if let Some(s) = self.ipcp.poll_signal() {
                self.ipcp_signal(s, now);
                continue;
            }
            if let Some(s) = self.ipv6cp.poll_signal() {
                self.ipv6cp_signal(s, now);
                continue;
            }
            if let Some(s) = self.ccp.poll_signal() {
                self.ccp_signal(s);
                continue;
            }
            if self.auth_progress(now) {
                continue;
            }
            break;
        }
    }

    fn drain_auth_packets(&mut self) {
        let a = &mut self.auth;
        let queues = [
            (proto::PAP, a.pap_peer.as_mut().map(|x| &mut x.out)),
            (proto::PAP, a.pap_auth.as_mut().map(|x| &mut x.out)),
            (proto::CHAP, a.chap_peer.as_mut().map(|x| &mut x.out)),
            (proto::CHAP, a.chap_auth.as_mut().map(|x| &mut x.out)),
        ];
        for (protocol, q) in queues {
            if let Some(q) = q {
                self.out
                    .extend(q.drain(..).map(|data| Frame { protocol, data }));
            }
        }
    }

    fn lcp_signal(&mut self, s: Signal, now: Instant) {
        match s {
            Signal::Up => {
                let (ours, theirs) = (self.lcp.opts.ours, self.lcp.opts.theirs);
                self.lcp.peer_mru = usize::from(theirs.mru);
                self.ipcp.peer_mru = usize::from(theirs.mru);
                self.ipv6cp.peer_mru = usize::from(theirs.mru);
                self.ccp.peer_mru = usize::from(theirs.mru);
                self.events.push_back(Event::LcpUp { ours, theirs });
                self.echo_outstanding = 0;
                self.echo_timer = self.cfg.echo.interval.map(|i| now + i);
                self.start_auth(ours.auth, theirs.auth, now);
            }
            Signal::Down => {
                // The peer's Terminate-Request is the cause, even if the
                // line drops before our Stopping timer runs out.
                if self.lcp.peer_terminated {
                    self.down_reason.get_or_insert(DownReason::PeerTerminated);
                }
                self.events.push_back(Event::LcpDown);
                self.echo_timer = None;
                self.auth = AuthState::default();
                self.ipcp.down(now);
                self.ipcp.close(now);
                self.ipv6cp.down(now);
                self.ipv6cp.close(now);
                self.ccp.down(now);
                self.ccp.close(now);
                self.ccp_engines_stop();
                if matches!(self.lcp.state(), State::Closing | State::Stopping) {
                    self.set_phase(Phase::Terminate);
                } else {
                    self.set_phase(Phase::Establish);
                }
            }
            Signal::Started => {
                if self.phase == Phase::Dead {
                    self.set_phase(Phase::Establish);
                }
            }
            Signal::Finished => {
                // A peer's Terminate-Request was recorded at Down (it is
                // only taken in Opened, which always goes through Down).
                let reason = if self.lcp.opts.looped_back() {
                    DownReason::Loopback
                } else {
                    DownReason::NegotiationFailed
                };
                self.down_reason.get_or_insert(reason);
                self.report_down();
            }
        }
    }

    fn ipcp_signal(&mut self, s: Signal, now: Instant) {
        match s {
            Signal::Up => {
                let i = &self.ipcp.opts;
                if i.unaddressed() {
                    self.refuse_ip(Unauthorized::NoAddress);
                    self.ipcp.close_because(UNAUTHORIZED_IP, now);
                    self.ncp_stopped(now);
                    return;
                }
                match i.local_addr {
                    Some(local) => {
                        let vj = VjAgreed {
                            tx: i.vj_tx.map(|v| VjConfig {
                                compress_slot: v.compress_slot
                                    && self.cfg.ipcp.vj.is_some_and(|o| o.compress_slot),
                                ..v
                            }),
                            rx: i.vj_rx,
                        };
                        self.vj_tx = vj
                            .tx
                            .map(|v| vj::Compressor::new(v.max_slot, v.compress_slot));
                        self.vj_rx = vj.rx.map(|v| vj::Decompressor::new(v.max_slot));
                        self.ip_up = true;
                        if !self.ipv6_up {
                            self.last_ip = Some(now);
                        }
                        self.stats.ip_up += 1;
                        let ev = Event::IpUp {
                            local,
                            peer: self.ipcp.opts.peer_addr,
                            dns: self.ipcp.opts.dns.clone(),
                            vj,
                        };
                        self.events.push_back(ev);
                    }
                    None => {
                        tracing::warn!("peer gave us no IP address");
                        self.ipcp.close(now);
                        self.ncp_stopped(now);
                    }
                }
            }
            Signal::Down => {
                self.vj_tx = None;
                self.vj_rx = None;
                if self.ip_up {
                    self.ip_up = false;
                    self.events.push_back(Event::IpDown);
                }
            }
            Signal::Started => {}
            Signal::Finished => self.ncp_stopped(now),
        }
    }

    fn ccp_signal(&mut self, s: Signal) {
        match s {
            Signal::Up => {
                self.ccp_up = true;
                let (tx, rx) = self.compression();
                match (tx, rx) {
                    (Some(t), Some(r)) if t == r => tracing::info!("{t} compression enabled"),
                    (Some(t), Some(r)) => tracing::info!("{r} / {t} compression enabled"),
                    (None, Some(r)) => tracing::info!("{r} receive compression enabled"),
                    (Some(t), None) => tracing::info!("{t} transmit compression enabled"),
                    (None, None) => tracing::info!("CCP up; no compression agreed"),
                }
                self.events.push_back(Event::CcpUp { tx, rx });
            }
            Signal::Down => {
                // The engines follow the packets (a ConfReq, TermReq or
                // TermAck each way stops them), not the signal: on a
                // renegotiation tld comes after our new ConfAck started
                // the compressor again.
                if std::mem::take(&mut self.ccp_up) {
                    self.events.push_back(Event::CcpDown);
                }
            }
            // CCP ending does not end the link: IP goes on uncompressed.
            Signal::Started | Signal::Finished => {}
        }
    }

    fn ipv6cp_signal(&mut self, s: Signal, now: Instant) {
        match s {
            Signal::Up => {
                let v = &self.ipv6cp.opts;
                match (v.local_id, v.peer_id) {
                    (Some(local), Some(peer)) => {
                        self.ipv6_up = true;
                        if !self.ip_up {
                            self.last_ip = Some(now);
                        }
                        self.stats.ipv6_up += 1;
                        self.events.push_back(Event::Ipv6Up { local, peer });
                    }
                    // pppd: "Could not determine local/remote LL address".
                    (local, _) => {
                        tracing::warn!(
                            which = if local.is_none() { "local" } else { "remote" },
                            "IPv6CP: could not determine the link-local address"
                        );
                        self.ipv6cp.close(now);
                        self.ncp_stopped(now);
                    }
                }
            }
            Signal::Down => {
                if self.ipv6_up {
                    self.ipv6_up = false;
                    self.events.push_back(Event::Ipv6Down);
                }
            }
            Signal::Started => {}
            Signal::Finished => self.ncp_stopped(now),
        }
    }

    /// An NCP finished, was rejected or gave up: if none is left running,
    /// there is nothing to carry (pppd: "No network protocols running").
    fn ncp_stopped(&mut self, now: Instant) {
        let running = |s: State| !matches!(s, State::Initial | State::Closed | State::Stopped);
        let ipv4 = !self.cfg.noip && running(self.ipcp.state());
        let ipv6 = self.cfg.ipv6.is_some() && running(self.ipv6cp.state());
        if !ipv4 && !ipv6 && self.lcp.state() == State::Opened {
            self.close(DownReason::NoNetworkProtocols, now);
        }
    }

    /// RFC 1661 §3.5: authenticate in each direction LCP agreed on before
    /// the Network phase.
    fn start_auth(
        &mut self,
        checking: Option<AuthProto>,
        proving: Option<AuthProto>,
        now: Instant,
    ) {
        let mut a = AuthState {
            checking,
            proving,
            peer_done: checking.is_none(),
            us_done: proving.is_none(),
            ..AuthState::default()
        };
        let creds = &self.cfg.auth;
        match checking {
            Some(AuthProto::Pap) => {
                let mut s = PapAuthenticator::new(self.cfg.pap).holding(self.cfg.hold_auth);
                s.start(now);
                a.pap_auth = Some(s);
            }
            Some(AuthProto::ChapMd5) => {
                let rng = child_rng(&mut self.rng);
                let mut s = ChapAuthenticator::new(self.cfg.chap, rng).holding(self.cfg.hold_auth);
                s.start(creds, now);
                a.chap_auth = Some(s);
            }
            None => {}
        }
        match proving {
            Some(AuthProto::Pap) => match creds.our_secret("*") {
                Some(secret) => {
                    let mut p = PapPeer::new(creds.name.clone(), secret, self.cfg.pap);
                    p.start(now);
                    a.pap_peer = Some(p);
                }
                None => {
                    let mut p = PapPeer::new(creds.name.clone(), Secret::new(""), self.cfg.pap);
                    p.outcome = Some(AuthOutcome::Failure {
                        message: "no PAP password for us".into(),
                    });
                    a.pap_peer = Some(p);
                }
            },
            Some(AuthProto::ChapMd5) => a.chap_peer = Some(ChapPeer::new(self.cfg.chap)),
            None => {}
        }
        self.auth = a;
        if checking.is_some() || proving.is_some() {
            self.set_phase(Phase::Authenticate);
        } else {
            self.enter_network(now);
        }
    }

    /// The host cannot carry IPv6 after all (its interface refused the
    /// address, say): IPv6CP terminates, IPv4 carries on if it runs.
    pub fn close_ipv6(&mut self, now: Instant) {
        self.ipv6cp.close(now);
        self.pump(now);
        self.ncp_stopped(now);
        self.pump(now);
    }

    /// The driver's answer to [`Event::Authorize`]: the held peer may go on
    /// (Success or Ack, then the Network phase), or not (Failure or Nak,
    /// then the link terminates as for wrong credentials).
    pub fn authorize(&mut self, allow: bool, now: Instant) {
        if let Some(a) = &mut self.auth.pap_auth {
            a.decide(allow);
        }
        if let Some(a) = &mut self.auth.chap_auth {
            a.decide(allow, now);
        }
        self.pump(now);
    }

    /// Acts on finished authentications; true if anything changed.
    fn auth_progress(&mut self, now: Instant) -> bool {
        let a = &mut self.auth;
        let held = a
            .pap_auth
            .as_mut()
            .and_then(|x| x.authorize.take())
            .or_else(|| a.chap_auth.as_mut().and_then(|x| x.authorize.take()));
        if let (Some(peer), Some(protocol)) = (held, a.checking) {
            self.events.push_back(Event::Authorize { protocol, peer });
            return true;
        }
        let checked = a
            .pap_auth
            .as_mut()
            .and_then(|x| x.outcome.take())
            .or_else(|| a.chap_auth.as_mut().and_then(|x| x.outcome.take()));
        let proved = a
            .pap_peer
            .as_mut()
            .and_then(|x| x.outcome.take())
            .or_else(|| a.chap_peer.as_mut().and_then(|x| x.outcome.take()));
        let (checking, proving) = (a.checking, a.proving);
        let mut changed = false;
        if let (Some(outcome), Some(protocol)) = (checked, checking) {
            changed = true;
            self.auth_result(outcome, protocol, AuthRole::Authenticator, now);
        }
        if let (Some(outcome), Some(protocol)) = (proved, proving) {
            changed = true;
            self.auth_result(outcome, protocol, AuthRole::Peer, now);
        }
        if changed && self.phase == Phase::Authenticate && self.auth.peer_done && self.auth.us_done
        {
            self.enter_network(now);
        }
        changed
    }

    fn auth_result(
        &mut self,
        outcome: AuthOutcome,
        protocol: AuthProto,
        role: AuthRole,
        now: Instant,
    ) {
        match outcome {
            AuthOutcome::Success { peer } => {
                let first = match role {
                    AuthRole::Authenticator => !std::mem::replace(&mut self.auth.peer_done, true),
                    AuthRole::Peer => !std::mem::replace(&mut self.auth.us_done, true),
                };
                // A passed re-challenge is not news.
                if first {
                    if role == AuthRole::Authenticator {
                        // pppd's set_allowed_addrs: the line the peer
                        // proved its secret with says which addresses it
                        // may have.
                        let allowed = self.cfg.auth.peer_addresses(&peer).cloned();
                        self.ipcp.opts.set_allowed(allowed);
                    }
                    self.stats.auth_ok += 1;
                    self.events.push_back(Event::AuthOk {
                        protocol,
                        role,
                        peer,
                    });
                }
            }
            AuthOutcome::Failure { message } => {
                tracing::warn!(protocol = protocol.name(), ?role, %message, "authentication failed");
                self.events.push_back(Event::AuthFailed {
                    protocol,
                    role,
                    message,
                });
                let reason = match role {
                    AuthRole::Authenticator => DownReason::PeerAuthFailed,
                    AuthRole::Peer => DownReason::AuthFailed,
                };
                self.close(reason, now);
            }
        }
    }

    /// pppd's refusal of a peer without an address it may have: logged
    /// and reported; the caller stops IPCP.
    fn refuse_ip(&mut self, why: Unauthorized) {
        let address = match why {
            Unauthorized::Remote(a) => {
                tracing::warn!("peer is not authorized to use remote address {a}");
                Some(a)
            }
            Unauthorized::NoAddress => {
                tracing::warn!("peer is not authorized to use any remote address");
                None
            }
        };
        self.events.push_back(Event::IpRefused { address });
    }

    fn enter_network(&mut self, now: Instant) {
        self.set_phase(Phase::Network);
        let refused = (!self.cfg.noip).then(|| self.ipcp.opts.refusal()).flatten();
        if let Some(why) = refused {
            self.refuse_ip(why);
            if self.cfg.ipv6.is_none() {
                // Nothing left to carry. The peer's IPCP never opens, so
                // only LCP's Terminate-Request can tell it why (pppd logs
                // "LCP terminated by peer (...)").
                self.lcp.close_because(UNAUTHORIZED_IP, now);
                self.close(DownReason::NoNetworkProtocols, now);
                return;
            }
        }
        // pppd opens CCP first, and does not count it as a network
        // protocol: its failure leaves the link up.
        if self.cfg.ccp.is_some() {
            self.ccp.open(now);
            self.ccp.up(now);
        }
        if refused.is_some() {
            // IPCP stays Closed: the peer's requests get Terminate-Ack.
            self.ipcp.up(now);
        } else if !self.cfg.noip {
            self.ipcp.open(now);
            self.ipcp.up(now);
        }
        if self.cfg.ipv6.is_some() {
            self.ipv6cp.open(now);
            self.ipv6cp.up(now);
        }
        // Nothing configured to run (noip without +ipv6): pppd refuses
        // such a configuration; the link cannot carry anything.
        self.ncp_stopped(now);
    }
}
