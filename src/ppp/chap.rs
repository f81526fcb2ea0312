//! CHAP with MD5, RFC 1994, in both roles.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use rand::rngs::StdRng;
use rand::RngCore;

use super::auth::{ct_eq, AuthConfig, AuthOutcome};
use super::packet::{self, take_counted, Malformed, Packet};

pub const CHALLENGE: u8 = 1;
pub const RESPONSE: u8 = 2;
pub const SUCCESS: u8 = 3;
pub const FAILURE: u8 = 4;

/// RFC 1994 §2.3 wants challenges unpredictable; 16 octets is MD5's size.
pub const CHALLENGE_LEN: usize = 16;

/// pppd's chap-restart, chap-max-challenge and chap-interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChapTimers {
    pub restart: Duration,
    pub max_transmits: u32,
    /// Re-challenge an authenticated peer this often (RFC 1994 §2.1).
    pub rechallenge: Option<Duration>,
}

impl Default for ChapTimers {
    fn default() -> Self {
        ChapTimers {
            restart: Duration::from_secs(3),
            max_transmits: 10,
            rechallenge: None,
        }
    }
}

/// RFC 1994 §4.1: MD5 over Identifier, secret and Challenge Value.
pub fn md5_response(id: u8, secret: &[u8], challenge: &[u8]) -> [u8; 16] {
    let mut h = Md5::new();
    h.update([id]);
    h.update(secret);
    h.update(challenge);
    h.finalize().into()
}

/// Value and Name of a Challenge or Response.
pub fn parse_value_name(data: &[u8]) -> Result<(&[u8], &[u8]), Malformed> {
    take_counted(data)
}

fn value_name(code: u8, id: u8, value: &[u8], name: &str) -> Vec<u8> {
    let mut data = Vec::with_capacity(1 + value.len() + name.len());
    data.push(value.len() as u8);
    data.extend_from_slice(value);
    data.extend_from_slice(name.as_bytes());
    packet::build(code, id, &data)
}

/// The peer role: we answer the authenticator's challenges.
#[derive(Debug)]
pub struct ChapPeer {
    timers: ChapTimers,
    /// Our last Response, retransmitted until Success or Failure arrives.
    response: Option<Vec<u8>>,
    response_id: u8,
    sent: u32,
    timer: Option<Instant>,
    /// The authenticator's name, from its Challenge.
    pub authenticator: String,
    pub outcome: Option<AuthOutcome>,
    pub out: VecDeque<Vec<u8>>,
}

impl ChapPeer {
    pub fn new(timers: ChapTimers) -> Self {
        ChapPeer {
            timers,
            response: None,
            response_id: 0,
            sent: 0,
            timer: None,
            authenticator: String::new(),
            outcome: None,
            out: VecDeque::new(),
        }
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.timer
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if !self.timer.is_some_and(|t| t <= now) {
            return;
        }
        match &self.response {
            Some(r) if self.sent < self.timers.max_transmits => {
                self.out.push_back(r.clone());
                self.sent += 1;
                self.timer = Some(now + self.timers.restart);
            }
            _ => {
                self.timer = None;
                self.outcome = Some(AuthOutcome::Failure {
                    message: "no answer to our CHAP response".into(),
                });
            }
        }
    }

    pub fn receive(
        &mut self,
        pkt: Packet<'_>,
        creds: &AuthConfig,
        now: Instant,
    ) -> Result<(), Malformed> {
        match pkt.code {
            CHALLENGE => {
                let (challenge, name) = parse_value_name(pkt.data)?;
                self.authenticator = String::from_utf8_lossy(name).into_owned();
                let Some(secret) = creds.our_secret(&self.authenticator) else {
                    self.outcome = Some(AuthOutcome::Failure {
                        message: format!("no CHAP secret for {:?}", self.authenticator),
                    });
                    return Ok(());
                };
                let digest = md5_response(pkt.id, secret.expose(), challenge);
                let r = value_name(RESPONSE, pkt.id, &digest, &creds.name);
                self.out.push_back(r.clone());
                self.response = Some(r);
                self.response_id = pkt.id;
                self.sent = 1;
                self.timer = Some(now + self.timers.restart);
            }
            SUCCESS | FAILURE if self.response.is_some() && pkt.id == self.response_id => {
                self.timer = None;
                self.response = None;
                let message = String::from_utf8_lossy(pkt.data).into_owned();
                self.outcome = Some(if pkt.code == FAILURE {
                    AuthOutcome::Failure { message }
                } else {
                    AuthOutcome::Success {
                        peer: self.authenticator.clone(),
                    }
                });
            }
            _ => {}
        }
        Ok(())
    }
}

/// The authenticator role: we challenge and check the response.
#[derive(Debug)]
pub struct ChapAuthenticator {
    timers: ChapTimers,
    rng: StdRng,
    id: u8,
    challenge: [u8; CHALLENGE_LEN],
    challenge_packet: Vec<u8>,
    sent: u32,
    timer: Option<Instant>,
    /// The verdict for the current identifier, re-sent if the peer repeats
    /// its Response because our Success was lost (RFC 1994 §4.2).
    verdict: Option<bool>,
    /// Whether a correct first Response waits for [`Self::decide`].
    hold: bool,
    /// The driver allowed this peer; re-challenges are not held again.
    authorized: bool,
    /// The Name of the correct Response being decided.
    pending: Option<String>,
    /// A peer whose Response was right and who waits for the driver's
    /// decision; taken by the link.
    pub authorize: Option<String>,
    pub outcome: Option<AuthOutcome>,
    pub out: VecDeque<Vec<u8>>,
}

impl ChapAuthenticator {
    pub fn new(timers: ChapTimers, rng: StdRng) -> Self {
        ChapAuthenticator {
            timers,
            rng,
            id: 0,
            challenge: [0; CHALLENGE_LEN],
            challenge_packet: Vec::new(),
            sent: 0,
            timer: None,
            verdict: None,
            hold: false,
            authorized: false,
            pending: None,
            authorize: None,
            outcome: None,
            out: VecDeque::new(),
        }
    }

    /// A right Response is not enough: Success waits for [`Self::decide`].
    pub fn holding(mut self, hold: bool) -> Self {
        self.hold = hold;
        self
    }

    /// The driver's decision on the peer held by a right Response:
    /// Success, or Failure (RFC 1994 §4.2: the link is then terminated).
    pub fn decide(&mut self, allow: bool, now: Instant) {
        let Some(name) = self.pending.take() else {
            return;
        };
        self.authorized = allow;
        self.give_verdict(name, allow, now);
        if !allow {
            self.outcome = Some(AuthOutcome::Failure {
                message: "CHAP: peer authenticated but not authorized".into(),
            });
        }
    }

    fn give_verdict(&mut self, name: String, ok: bool, now: Instant) {
        self.verdict = Some(ok);
        self.out.push_back(self.verdict_packet(ok));
        self.timer = match (ok, self.timers.rechallenge) {
            (true, Some(every)) => Some(now + every),
            _ => None,
        };
        self.outcome = Some(if ok {
            AuthOutcome::Success { peer: name }
        } else {
            AuthOutcome::Failure {
                message: format!("CHAP: wrong response from {name:?}"),
            }
        });
    }

    pub fn start(&mut self, creds: &AuthConfig, now: Instant) {
        self.id = self.id.wrapping_add(1);
        self.rng.fill_bytes(&mut self.challenge);
        self.challenge_packet = value_name(CHALLENGE, self.id, &self.challenge, &creds.name);
        self.out.push_back(self.challenge_packet.clone());
        self.sent = 1;
        self.verdict = None;
        self.timer = Some(now + self.timers.restart);
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.timer
    }

    pub fn handle_timeout(&mut self, creds: &AuthConfig, now: Instant) {
        if !self.timer.is_some_and(|t| t <= now) {
            return;
        }
        self.timer = None;
        match self.verdict {
            // Authenticated: time for a re-challenge.
            Some(true) => self.start(creds, now),
            Some(false) => {}
            None if self.sent < self.timers.max_transmits => {
                self.out.push_back(self.challenge_packet.clone());
                self.sent += 1;
                self.timer = Some(now + self.timers.restart);
            }
            None => {
                self.outcome = Some(AuthOutcome::Failure {
                    message: "peer did not answer our CHAP challenges".into(),
                });
            }
        }
    }

    pub fn receive(
        &mut self,
        pkt: Packet<'_>,
        creds: &AuthConfig,
        now: Instant,
    ) -> Result<(), Malformed> {
        if pkt.code != RESPONSE || pkt.id != self.id || self.pending.is_some() {
            // A repeated Response while the decision is out waits for it.
            return Ok(());
        }
        if let Some(ok) = self.verdict {
            self.out.push_back(self.verdict_packet(ok));
            return Ok(());
        }
        let (value, name) = parse_value_name(pkt.data)?;
        let name = String::from_utf8_lossy(name).into_owned();
        let ok = creds.peer_secret(&name).is_some_and(|secret| {
            ct_eq(
                &md5_response(self.id, secret.expose(), &self.challenge),
                value,
            )
        });
        if ok && self.hold && !self.authorized {
            // No retransmitted Challenge while the driver decides.
            self.timer = None;
            self.pending = Some(name.clone());
            self.authorize = Some(name);
        } else {
            self.give_verdict(name, ok, now);
        }
        Ok(())
    }

    fn verdict_packet(&self, ok: bool) -> Vec<u8> {
        if ok {
            packet::build(SUCCESS, self.id, b"Access granted")
        } else {
            packet::build(FAILURE, self.id, b"Access denied")
        }
    }
}
