//! LCP (RFC 1661 §5-§6): its packets and layer signals, the extension
//! codes it answers (Protocol-Reject, Echo, Discard), and the framing it
//! agreed.

use std::time::Instant;

use super::timer::Timer;
use super::{DownReason, Event, Framing, Link, Phase};
use crate::hdlc;
use crate::ppp::ccp;
use crate::ppp::fsm::{code, Signal, State, Unhandled};
use crate::ppp::packet::Packet;
use crate::ppp::proto;

impl Link {
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

    pub(super) fn receive_lcp(&mut self, info: &[u8], now: Instant) {
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
            code::ECHO_REQ | code::ECHO_REP => self.receive_echo(&u, now),
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

    /// RFC 1661 §5.7: unknown protocols are rejected once LCP is Opened,
    /// silently dropped before.
    pub(super) fn protocol_reject(&mut self, protocol: u16, info: &[u8]) {
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

    pub(super) fn lcp_signal(&mut self, s: Signal, now: Instant) {
        match s {
            Signal::Up => {
                let (ours, theirs) = (self.lcp.opts.ours, self.lcp.opts.theirs);
                self.lcp.peer_mru = usize::from(theirs.mru);
                self.ipcp.peer_mru = usize::from(theirs.mru);
                self.ipv6cp.peer_mru = usize::from(theirs.mru);
                self.ccp.peer_mru = usize::from(theirs.mru);
                self.events.push_back(Event::LcpUp { ours, theirs });
                self.echo_start(now);
                self.start_auth(ours.auth, theirs.auth, now);
            }
            Signal::Down => {
                // The peer's Terminate-Request is the cause, even if the
                // line drops before our Stopping timer runs out.
                if self.lcp.peer_terminated {
                    self.down.reason.get_or_insert(DownReason::PeerTerminated);
                }
                self.events.push_back(Event::LcpDown);
                self.timers.stop(Timer::Echo);
                self.auth = Default::default();
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
                self.down.reason.get_or_insert(reason);
                self.report_down();
            }
        }
    }
}
