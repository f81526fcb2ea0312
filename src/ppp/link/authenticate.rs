//! Authentication (RFC 1661 §3.5): PAP (RFC 1334) and CHAP (RFC 1994),
//! each way LCP agreed, and the driver's verdict on a peer held with
//! `hold_auth`.

use std::collections::VecDeque;
use std::time::Instant;

use super::{child_rng, AuthRole, DownReason, Event, Frame, Link, Phase};
use crate::ppp::auth::{AuthConfig, AuthOutcome, AuthProto, Secret};
use crate::ppp::chap::{self, ChapAuthenticator, ChapPeer};
use crate::ppp::packet::Packet;
use crate::ppp::pap::{self, PapAuthenticator, PapPeer};
use crate::ppp::proto;

#[derive(Debug, Default)]
pub(super) struct AuthState {
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

impl AuthState {
    /// The earliest of the PAP/CHAP machines' own timers.
    pub(super) fn deadline(&self) -> Option<Instant> {
        [
            self.pap_peer.as_ref().and_then(|a| a.deadline()),
            self.pap_auth.as_ref().and_then(|a| a.deadline()),
            self.chap_peer.as_ref().and_then(|a| a.deadline()),
            self.chap_auth.as_ref().and_then(|a| a.deadline()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub(super) fn handle_timeout(&mut self, creds: &AuthConfig, now: Instant) {
        if let Some(a) = &mut self.pap_peer {
            a.handle_timeout(now);
        }
        if let Some(a) = &mut self.pap_auth {
            a.handle_timeout(now);
        }
        if let Some(a) = &mut self.chap_peer {
            a.handle_timeout(now);
        }
        if let Some(a) = &mut self.chap_auth {
            a.handle_timeout(creds, now);
        }
    }

    /// What the PAP/CHAP machines queued, onto the link's queue.
    pub(super) fn drain(&mut self, out: &mut VecDeque<Frame>) {
        let queues = [
            (proto::PAP, self.pap_peer.as_mut().map(|x| &mut x.out)),
            (proto::PAP, self.pap_auth.as_mut().map(|x| &mut x.out)),
            (proto::CHAP, self.chap_peer.as_mut().map(|x| &mut x.out)),
            (proto::CHAP, self.chap_auth.as_mut().map(|x| &mut x.out)),
        ];
        for (protocol, q) in queues {
            if let Some(q) = q {
                out.extend(q.drain(..).map(|data| Frame { protocol, data }));
            }
        }
    }
}

impl Link {
    /// RFC 1661 §3.5: authenticate in each direction LCP agreed on before
    /// the Network phase.
    pub(super) fn start_auth(
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
    pub(super) fn auth_progress(&mut self, now: Instant) -> bool {
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

    pub(super) fn receive_auth(&mut self, protocol: u16, info: &[u8], now: Instant) {
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
}
