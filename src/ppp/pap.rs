//! PAP, RFC 1334 §2, in both roles.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::auth::{AuthConfig, AuthOutcome, Secret};
use super::packet::{self, take_counted, Malformed, Packet};

pub const AUTH_REQ: u8 = 1;
pub const AUTH_ACK: u8 = 2;
pub const AUTH_NAK: u8 = 3;

/// Timers of both roles (pppd's pap-restart, pap-max-authreq, pap-timeout).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PapTimers {
    pub restart: Duration,
    pub max_requests: u32,
    /// How long the authenticator waits for a request.
    pub wait: Duration,
}

impl Default for PapTimers {
    fn default() -> Self {
        PapTimers {
            restart: Duration::from_secs(3),
            max_requests: 10,
            wait: Duration::from_secs(30),
        }
    }
}

/// Builds an Authenticate-Request.
pub fn request(id: u8, user: &[u8], password: &[u8]) -> Vec<u8> {
    let user = &user[..user.len().min(255)];
    let password = &password[..password.len().min(255)];
    let mut data = Vec::with_capacity(2 + user.len() + password.len());
    data.push(user.len() as u8);
    data.extend_from_slice(user);
    data.push(password.len() as u8);
    data.extend_from_slice(password);
    packet::build(AUTH_REQ, id, &data)
}

/// Splits an Authenticate-Request's data into Peer-ID and Password.
pub fn parse_request(data: &[u8]) -> Result<(&[u8], &[u8]), Malformed> {
    let (user, rest) = take_counted(data)?;
    let (password, _) = take_counted(rest)?;
    Ok((user, password))
}

/// The Message of an Ack or Nak; a missing or lying Msg-Length gives "".
pub fn message(data: &[u8]) -> String {
    take_counted(data)
        .map(|(m, _)| String::from_utf8_lossy(m).into_owned())
        .unwrap_or_default()
}

fn reply(code: u8, id: u8, msg: &str) -> Vec<u8> {
    let msg = &msg.as_bytes()[..msg.len().min(255)];
    let mut data = Vec::with_capacity(1 + msg.len());
    data.push(msg.len() as u8);
    data.extend_from_slice(msg);
    packet::build(code, id, &data)
}

/// The peer role: we prove ourselves by sending name and password.
#[derive(Debug)]
pub struct PapPeer {
    user: String,
    password: Secret,
    timers: PapTimers,
    id: u8,
    sent: u32,
    timer: Option<Instant>,
    pub outcome: Option<AuthOutcome>,
    pub out: VecDeque<Vec<u8>>,
}

impl PapPeer {
    pub fn new(user: String, password: Secret, timers: PapTimers) -> Self {
        PapPeer {
            user,
            password,
            timers,
            id: 0,
            sent: 0,
            timer: None,
            outcome: None,
            out: VecDeque::new(),
        }
    }

    pub fn start(&mut self, now: Instant) {
        self.send(now);
    }

    fn send(&mut self, now: Instant) {
        self.id = self.id.wrapping_add(1);
        self.sent += 1;
        self.out.push_back(request(
            self.id,
            self.user.as_bytes(),
            self.password.expose(),
        ));
        self.timer = Some(now + self.timers.restart);
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.timer
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.timer.is_some_and(|t| t <= now) {
            if self.sent >= self.timers.max_requests {
                self.timer = None;
                self.outcome = Some(AuthOutcome::Failure {
                    message: "no response to PAP authenticate-requests".into(),
                });
            } else {
                self.send(now);
            }
        }
    }

    /// Takes an Ack or Nak for our latest request; others are discarded.
    pub fn receive(&mut self, pkt: Packet<'_>) -> bool {
        if pkt.id != self.id || self.outcome.is_some() {
            return false;
        }
        let message = message(pkt.data);
        match pkt.code {
            AUTH_ACK => {
                self.outcome = Some(AuthOutcome::Success {
                    peer: String::new(),
                })
            }
            AUTH_NAK => self.outcome = Some(AuthOutcome::Failure { message }),
            _ => return false,
        }
        self.timer = None;
        true
    }
}

/// The authenticator role: we check the peer's name and password.
#[derive(Debug)]
pub struct PapAuthenticator {
    timers: PapTimers,
    deadline: Option<Instant>,
    /// Identifier and verdict already given, re-sent for a repeated request
    /// whose reply was lost (RFC 1334 §2.2.1).
    answered: Option<(u8, bool)>,
    /// Whether a correct request waits for [`PapAuthenticator::decide`].
    hold: bool,
    /// The identifier and Peer-ID of the correct request being decided.
    pending: Option<(u8, String)>,
    /// A peer whose credentials were right and who waits for the driver's
    /// decision; taken by the link.
    pub authorize: Option<String>,
    pub outcome: Option<AuthOutcome>,
    pub out: VecDeque<Vec<u8>>,
}

impl PapAuthenticator {
    pub fn new(timers: PapTimers) -> Self {
        PapAuthenticator {
            timers,
            deadline: None,
            answered: None,
            hold: false,
            pending: None,
            authorize: None,
            outcome: None,
            out: VecDeque::new(),
        }
    }

    /// Right credentials are not enough: the Ack waits for [`Self::decide`].
    pub fn holding(mut self, hold: bool) -> Self {
        self.hold = hold;
        self
    }

    /// The driver's decision on the peer held by a correct request: Ack
    /// and success, or Nak and failure. Nothing if no request is held.
    pub fn decide(&mut self, allow: bool) {
        let Some((id, user)) = self.pending.take() else {
            return;
        };
        self.give_verdict(id, user, allow);
        if !allow {
            self.outcome = Some(AuthOutcome::Failure {
                message: "PAP: peer authenticated but not authorized".into(),
            });
        }
    }

    fn give_verdict(&mut self, id: u8, user: String, ok: bool) {
        let (code, msg) = verdict_reply(ok);
        self.out.push_back(reply(code, id, msg));
        self.answered = Some((id, ok));
        self.outcome = Some(if ok {
            AuthOutcome::Success { peer: user }
        } else {
            AuthOutcome::Failure {
                message: format!("PAP: wrong name or password for {user:?}"),
            }
        });
    }

    pub fn start(&mut self, now: Instant) {
        self.deadline = Some(now + self.timers.wait);
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_some_and(|t| t <= now) {
            self.deadline = None;
            self.outcome = Some(AuthOutcome::Failure {
                message: "peer sent no PAP authenticate-request".into(),
            });
        }
    }

    pub fn receive(&mut self, pkt: Packet<'_>, creds: &AuthConfig) -> Result<(), Malformed> {
        if pkt.code != AUTH_REQ {
            return Ok(());
        }
        if self.pending.is_some() {
            // A repeated request while the decision is out: the one
            // verdict goes out when it is made.
            return Ok(());
        }
        if let Some((_, ok)) = self.answered {
            // A repeated request: our reply was lost. Answer the same way
            // with the new identifier; the verdict never changes.
            let (code, msg) = verdict_reply(ok);
            self.out.push_back(reply(code, pkt.id, msg));
            return Ok(());
        }
        let (user, password) = parse_request(pkt.data)?;
        let user = String::from_utf8_lossy(user).into_owned();
        let ok = creds
            .peer_secret(&user)
            .is_some_and(|s| s.matches(password));
        self.deadline = None;
        if ok && self.hold {
            self.pending = Some((pkt.id, user.clone()));
            self.authorize = Some(user);
        } else {
            self.give_verdict(pkt.id, user, ok);
        }
        Ok(())
    }
}

fn verdict_reply(ok: bool) -> (u8, &'static str) {
    if ok {
        (AUTH_ACK, "Login ok")
    } else {
        (AUTH_NAK, "Login incorrect")
    }
}
