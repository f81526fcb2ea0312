//! The Network phase (RFC 1661 §3.5): IPCP (RFC 1332) and IPv6CP
//! (RFC 5072) started, fed and watched, and the link closed when no
//! network protocol is left.

use std::time::Instant;

use super::{DownReason, Event, Link, Phase, VjAgreed};
use crate::ppp::fsm::{Fsm, Ignored, Options, Signal, State};
use crate::ppp::ipcp::{Unauthorized, VjConfig};
use crate::ppp::packet::Packet;
use crate::ppp::vj;

/// pppd's reason text for closing on a peer's unauthorized address.
const UNAUTHORIZED_IP: &str = "Unauthorized remote IP address";

/// Feeds an NCP packet to its automaton; codes beyond 1-7 are Code-Rejected
/// (an NCP has no Echo or Discard). Generic over the automaton, and
/// touching nothing else of the link.
fn ncp_receive<O: Options>(
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

impl Link {
    /// An NCP's packet, if the link is in the Network phase and the
    /// packet's lengths hold; counted and dropped otherwise.
    pub(super) fn network_packet<'a>(&mut self, name: &str, info: &'a [u8]) -> Option<Packet<'a>> {
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
    pub(super) fn receive_ncp(&mut self, v6: bool, info: &[u8], now: Instant) {
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

    pub(super) fn ipcp_signal(&mut self, s: Signal, now: Instant) {
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
                        self.data.vj_tx = vj
                            .tx
                            .map(|v| vj::Compressor::new(v.max_slot, v.compress_slot));
                        self.data.vj_rx = vj.rx.map(|v| vj::Decompressor::new(v.max_slot));
                        self.family_up(false, now);
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
                self.data.vj_tx = None;
                self.data.vj_rx = None;
                if self.family_down(false) {
                    self.events.push_back(Event::IpDown);
                }
            }
            Signal::Started => {}
            Signal::Finished => self.ncp_stopped(now),
        }
    }

    pub(super) fn ipv6cp_signal(&mut self, s: Signal, now: Instant) {
        match s {
            Signal::Up => {
                let v = &self.ipv6cp.opts;
                match (v.local_id, v.peer_id) {
                    (Some(local), Some(peer)) => {
                        self.family_up(true, now);
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
                if self.family_down(true) {
                    self.events.push_back(Event::Ipv6Down);
                }
            }
            Signal::Started => {}
            Signal::Finished => self.ncp_stopped(now),
        }
    }

    /// An NCP finished, was rejected or gave up: if none is left running,
    /// there is nothing to carry (pppd: "No network protocols running").
    pub(super) fn ncp_stopped(&mut self, now: Instant) {
        let running = |s: State| !matches!(s, State::Initial | State::Closed | State::Stopped);
        let ipv4 = !self.cfg.noip && running(self.ipcp.state());
        let ipv6 = self.cfg.ipv6.is_some() && running(self.ipv6cp.state());
        if !ipv4 && !ipv6 && self.lcp.state() == State::Opened {
            self.close(DownReason::NoNetworkProtocols, now);
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

    pub(super) fn enter_network(&mut self, now: Instant) {
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
