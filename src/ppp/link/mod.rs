//! One PPP link: the phases of RFC 1661 §3.2 around LCP, authentication
//! and IPCP, with the demultiplexing of received frames. Sans-IO: frames
//! and timeouts in, frames, deadlines and events out.
//!
//! The link's parts, each in its own module: LCP and its framing
//! (`establish`), authentication (`authenticate`), the NCPs of the
//! Network phase (`network`), the IP data path (`data`), CCP's engines
//! (`compression`), the keepalive (`echo`) and the link's own timers
//! (`timer`). This file holds the link itself: its state, the
//! demultiplexing of frames, and the pump that carries the automata's
//! packets and signals.

mod authenticate;
mod compression;
mod config;
mod data;
mod echo;
mod establish;
mod network;
mod timer;
mod types;

use std::collections::VecDeque;
use std::fmt;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::SeedableRng;

use self::authenticate::AuthState;
use self::compression::Compression;
use self::data::DataPath;
use self::echo::Echo;
use self::timer::{Timer, Timers};
use super::auth::AuthProto;
use super::ccp::{self, Ccp, Method};
use super::fsm::{Fsm, Ignored, State};
use super::ipcp::Ipcp;
use super::ipv6cp::Ipv6cp;
use super::lcp::Lcp;
use super::proto;
use super::vj;
use crate::hdlc::{self, HeaderError};

pub use self::config::{EchoConfig, LinkConfig};
pub use self::types::{AuthRole, DownReason, Event, Frame, Framing, LinkStats, Phase, VjAgreed};

/// How the link ended: the first cause recorded, and whether
/// [`Event::Down`] went out for it.
#[derive(Debug, Default)]
struct Ending {
    reason: Option<DownReason>,
    reported: bool,
}

pub struct Link {
    cfg: LinkConfig,
    phase: Phase,
    lcp: Fsm<Lcp>,
    ipcp: Fsm<Ipcp>,
    ipv6cp: Fsm<Ipv6cp>,
    ccp: Fsm<Ccp>,
    comp: Compression,
    auth: AuthState,
    echo: Echo,
    data: DataPath,
    timers: Timers,
    rng: StdRng,
    out: VecDeque<Frame>,
    events: VecDeque<Event>,
    down: Ending,
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
            comp: Compression::default(),
            auth: AuthState::default(),
            echo: Echo::default(),
            data: DataPath::default(),
            timers: Timers::default(),
            rng,
            out: VecDeque::new(),
            events: VecDeque::new(),
            down: Ending::default(),
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
        self.comp.methods()
    }

    pub fn stats(&self) -> &LinkStats {
        &self.stats
    }

    /// IPCP is Opened: IPv4 flows.
    pub fn is_ip_up(&self) -> bool {
        self.data.ip_up
    }

    /// IPv6CP is Opened: IPv6 flows.
    pub fn is_ipv6_up(&self) -> bool {
        self.data.ipv6_up
    }

    /// Some NCP is Opened: the IP interface has something to carry.
    pub fn carries_ip(&self) -> bool {
        self.data.carries()
    }

    /// Administrative Open: the link wants to come up.
    pub fn open(&mut self, now: Instant) {
        self.down = Ending::default();
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
        self.down.reason.get_or_insert(DownReason::LowerLayerDown);
        self.lcp.down(now);
        self.pump(now);
        self.report_down();
    }

    /// Administrative Close: terminate LCP politely; `Down` follows when
    /// the peer acknowledges or Max-Terminate runs out.
    pub fn close(&mut self, reason: DownReason, now: Instant) {
        self.down.reason.get_or_insert(reason);
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

    /// The one place the link's deadlines meet: its own timers, and those
    /// the automata and the PAP/CHAP machines keep inside themselves
    /// (their restart counters and states decide when a timer runs, so
    /// the timer stays with them).
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.timers.next_deadline(),
            self.lcp.deadline(),
            self.ipcp.deadline(),
            self.ipv6cp.deadline(),
            self.ccp.deadline(),
            self.auth.deadline(),
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
        // In the order they have always run: a repeated Reset-Request
        // pumps what the automata just queued before PAP/CHAP time out,
        // and the keepalive and idle time come last.
        self.expire(Timer::CcpReset, now);
        self.auth.handle_timeout(&self.cfg.auth, now);
        self.expire(Timer::Echo, now);
        self.expire(Timer::Idle, now);
        self.pump(now);
    }

    /// Acts on `timer` if it ran out by `now`.
    fn expire(&mut self, timer: Timer, now: Instant) {
        if !self.timers.take_expired(timer, now) {
            return;
        }
        match timer {
            Timer::CcpReset => self.reset_timeout(now),
            Timer::Echo => self.echo_tick(now),
            Timer::Idle => {
                tracing::info!(idle = ?self.cfg.idle, "no IP traffic for the idle time: closing");
                self.close(DownReason::Idle, now);
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
        self.echo.frame_in(self.cfg.echo.adaptive);
        if protocol == ccp::COMPRESSED && self.cfg.ccp.is_some() {
            return self.receive_compressed(info, now);
        }
        self.comp.incomp(protocol, info);
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
                return self.receive_vj(protocol, info, now);
            }
            _ => self.protocol_reject(protocol, info),
        }
        self.pump(now);
        ip
    }

    fn ignored(&mut self, protocol: &str, why: Ignored) {
        self.stats.ignored += 1;
        tracing::debug!(protocol, ?why, "packet ignored");
    }

    fn set_phase(&mut self, phase: Phase) {
        if self.phase != phase {
            self.phase = phase;
            self.events.push_back(Event::Phase(phase));
        }
    }

    fn report_down(&mut self) {
        if self.down.reported {
            return;
        }
        self.down.reported = true;
        self.auth = AuthState::default();
        self.timers.stop(Timer::Echo);
        self.set_phase(Phase::Dead);
        let reason = self.down.reason.unwrap_or(DownReason::LowerLayerDown);
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
                self.ccp_sent(&p);
                self.out.push_back(Frame {
                    protocol: proto::CCP,
                    data: p,
                });
            }
            self.auth.drain(&mut self.out);
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
}
