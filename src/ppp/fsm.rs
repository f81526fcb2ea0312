//! The RFC 1661 §4 option-negotiation automaton, written once for every
//! Control Protocol (LCP, IPCP). A protocol plugs its options in through
//! [`Options`]; the automaton owns states, counters, identifiers and the
//! restart timer, and reports its layer actions (tlu, tld, tls, tlf) as
//! [`Signal`]s for the link to act on.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::packet::{self, Packet};

/// RFC 1661 §4.2 states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum State {
    Initial,
    Starting,
    Closed,
    Stopped,
    Closing,
    Stopping,
    ReqSent,
    AckRcvd,
    AckSent,
    Opened,
}

impl State {
    /// States in which the Restart timer runs (RFC 1661 §4.6).
    fn timer_runs(self) -> bool {
        matches!(
            self,
            State::Closing | State::Stopping | State::ReqSent | State::AckRcvd | State::AckSent
        )
    }
}

/// RFC 1661 §4.1 events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsmEvent {
    Up,
    Down,
    Open,
    Close,
    /// TO+
    TimeoutPlus,
    /// TO-
    TimeoutMinus,
    /// RCR+
    RcrGood,
    /// RCR-
    RcrBad,
    Rca,
    Rcn,
    Rtr,
    Rta,
    Ruc,
    /// RXJ+
    RxjGood,
    /// RXJ-
    RxjBad,
    Rxr,
}

/// Packet codes of RFC 1661 §5.
pub mod code {
    pub const CONF_REQ: u8 = 1;
    pub const CONF_ACK: u8 = 2;
    pub const CONF_NAK: u8 = 3;
    pub const CONF_REJ: u8 = 4;
    pub const TERM_REQ: u8 = 5;
    pub const TERM_ACK: u8 = 6;
    pub const CODE_REJ: u8 = 7;
    pub const PROT_REJ: u8 = 8;
    pub const ECHO_REQ: u8 = 9;
    pub const ECHO_REP: u8 = 10;
    pub const DISC_REQ: u8 = 11;
}

/// The layer actions of RFC 1661 §4.4 that concern the layer above/below.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// tlu: This-Layer-Up.
    Up,
    /// tld: This-Layer-Down.
    Down,
    /// tls: This-Layer-Started.
    Started,
    /// tlf: This-Layer-Finished.
    Finished,
}

/// What a protocol answers to a received Configure-Request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every option acceptable: Configure-Ack (RCR+).
    Ack,
    /// Configure-Nak with these options (RCR-).
    Nak(Vec<u8>),
    /// Configure-Reject with these options (RCR-).
    Reject(Vec<u8>),
}

/// A Control Protocol's options, plugged into the automaton.
pub trait Options {
    /// Starts a new negotiation: back to the options we want to request.
    fn reset(&mut self);
    /// The Options field of our next Configure-Request.
    fn request(&mut self) -> Vec<u8>;
    /// Judges the peer's Configure-Request. `reject_not_nak` is set once
    /// Max-Failure Naks have gone unanswered (RFC 1661 §4.6).
    fn check_request(&mut self, options: &[u8], reject_not_nak: bool) -> Verdict;
    /// Our last request was acknowledged (its contents already checked).
    fn acked(&mut self, options: &[u8]);
    /// The peer Nak'ed our request; false if the Nak does not fit it.
    fn naked(&mut self, options: &[u8]) -> bool;
    /// The peer rejected options of our request; false if they were not in it.
    fn rejected(&mut self, options: &[u8]) -> bool;
}

/// RFC 1661 §4.6 counters and timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsmConfig {
    pub restart: Duration,
    pub max_terminate: u32,
    pub max_configure: u32,
    pub max_failure: u32,
    /// pppd's `passive`: after Max-Configure unanswered requests, wait in
    /// Stopped for the peer instead of giving up.
    pub passive: bool,
}

impl Default for FsmConfig {
    fn default() -> Self {
        FsmConfig {
            restart: Duration::from_secs(3),
            max_terminate: 2,
            max_configure: 10,
            max_failure: 5,
            passive: false,
        }
    }
}

/// Why the last packet was dropped without an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ignored {
    /// Reply whose identifier is not that of our outstanding request, or a
    /// second reply to it.
    StaleId,
    /// Configure-Ack whose options differ from those we sent.
    AckMismatch,
    /// Nak or Reject that does not fit our request.
    BadReply,
    /// Options field whose lengths lie.
    Malformed,
    /// A packet in a state where the RFC takes no action (Initial, Starting).
    NotRunning,
}

/// What `receive` could not handle itself: codes beyond 1-7, for the owning
/// protocol to map onto RUC, RXR or RXJ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unhandled<'a> {
    pub code: u8,
    pub id: u8,
    pub data: &'a [u8],
}

/// The automaton for one Control Protocol.
#[derive(Debug)]
pub struct Fsm<O> {
    pub opts: O,
    name: &'static str,
    state: State,
    cfg: FsmConfig,
    restart_count: u32,
    /// Configure-Naks sent since the last Configure-Ack or new negotiation.
    nak_count: u32,
    timer: Option<Instant>,
    next_id: u8,
    req_id: u8,
    /// A reply to `req_id` was already taken; later ones are duplicates.
    reply_seen: bool,
    last_request: Vec<u8>,
    /// Identifier of the packet being answered (sca, scn, sta).
    pending_reply_id: u8,
    /// Ack/Nak/Reject prepared for the Configure-Request being handled.
    pending_reply: Option<(u8, Vec<u8>)>,
    /// The packet an scj action rejects.
    scj_packet: Option<Vec<u8>>,
    /// Packets to send, protocol implied.
    out: VecDeque<Vec<u8>>,
    signals: VecDeque<Signal>,
    /// Max-Configure ran out (negotiation failed) in the last tlf.
    pub gave_up: bool,
    /// The peer asked us to terminate.
    pub peer_terminated: bool,
    /// RXJ-: the peer rejected something this protocol cannot do without.
    pub catastrophic_reject: bool,
    /// The largest packet the peer accepts; Code-Rejects are cut to fit.
    pub peer_mru: usize,
    /// The Data of our Terminate-Requests: why we close, for the peer's
    /// log (RFC 1661 §5.5 leaves it to us; pppd sends its reason text).
    term_reason: Vec<u8>,
}

impl<O: Options> Fsm<O> {
    pub fn new(name: &'static str, opts: O, cfg: FsmConfig) -> Self {
        Fsm {
            opts,
            name,
            state: State::Initial,
            cfg,
            restart_count: 0,
            nak_count: 0,
            timer: None,
            next_id: 1,
            req_id: 0,
            reply_seen: true,
            last_request: Vec::new(),
            pending_reply_id: 0,
            pending_reply: None,
            scj_packet: None,
            out: VecDeque::new(),
            signals: VecDeque::new(),
            gave_up: false,
            peer_terminated: false,
            catastrophic_reject: false,
            peer_mru: crate::hdlc::DEFAULT_MRU,
            term_reason: Vec::new(),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn config(&self) -> &FsmConfig {
        &self.cfg
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.timer
    }

    pub fn poll_packet(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    pub fn poll_signal(&mut self) -> Option<Signal> {
        self.signals.pop_front()
    }

    /// A fresh identifier for a request we originate.
    pub fn alloc_id(&mut self) -> u8 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        id
    }

    /// Queues a packet this protocol's owner built (Echo, Protocol-Reject).
    pub fn send(&mut self, code: u8, id: u8, data: &[u8]) {
        self.out.push_back(packet::build(code, id, data));
    }

    pub fn up(&mut self, now: Instant) {
        self.event(FsmEvent::Up, now);
    }

    pub fn down(&mut self, now: Instant) {
        self.event(FsmEvent::Down, now);
    }

    pub fn open(&mut self, now: Instant) {
        self.event(FsmEvent::Open, now);
    }

    pub fn close(&mut self, now: Instant) {
        self.event(FsmEvent::Close, now);
    }

    /// Close, telling the peer why in the Terminate-Requests (until the
    /// next negotiation).
    pub fn close_because(&mut self, reason: &str, now: Instant) {
        self.term_reason = reason.as_bytes().to_vec();
        self.close(now);
    }

    /// Fires the Restart timer if its deadline has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.timer {
            Some(t) if t <= now => {
                self.timer = None;
                let ev = if self.restart_count > 0 {
                    FsmEvent::TimeoutPlus
                } else {
                    FsmEvent::TimeoutMinus
                };
                self.event(ev, now);
            }
            _ => {}
        }
    }

    /// Handles codes 1-7; anything else is handed back.
    pub fn receive<'a>(
        &mut self,
        pkt: Packet<'a>,
        now: Instant,
    ) -> Result<Option<Unhandled<'a>>, Ignored> {
        if matches!(self.state, State::Initial | State::Starting) {
            return Err(Ignored::NotRunning);
        }
        match pkt.code {
            code::CONF_REQ => self.receive_request(pkt, now)?,
            code::CONF_ACK | code::CONF_NAK | code::CONF_REJ
                if matches!(self.state, State::Closed | State::Stopped) =>
            {
                // Nothing outstanding: the table answers with Terminate-Ack.
                self.pending_reply_id = pkt.id;
                self.event(FsmEvent::Rca, now);
            }
            code::CONF_ACK => {
                self.check_reply_id(pkt.id)?;
                if pkt.data != self.last_request.as_slice() {
                    return Err(Ignored::AckMismatch);
                }
                self.reply_seen = true;
                self.opts.acked(pkt.data);
                self.event(FsmEvent::Rca, now);
            }
            code::CONF_NAK | code::CONF_REJ => {
                self.check_reply_id(pkt.id)?;
                if packet::options(pkt.data).is_err() {
                    return Err(Ignored::Malformed);
                }
                let fits = if pkt.code == code::CONF_NAK {
                    self.opts.naked(pkt.data)
                } else {
                    self.opts.rejected(pkt.data)
                };
                if !fits {
                    return Err(Ignored::BadReply);
                }
                self.reply_seen = true;
                self.event(FsmEvent::Rcn, now);
            }
            code::TERM_REQ => {
                self.pending_reply_id = pkt.id;
                self.event(FsmEvent::Rtr, now);
            }
            code::TERM_ACK => {
                // RFC 1661 §5.2 asks no identifier match of a Terminate-Ack.
                self.event(FsmEvent::Rta, now);
            }
            code::CODE_REJ => {
                // RFC 1661 §5.6: rejecting a code the automaton needs is
                // catastrophic (RXJ-); rejecting an extension is not.
                let rejected = pkt.data.first().copied().unwrap_or(0);
                if (code::CONF_REQ..=code::CODE_REJ).contains(&rejected) {
                    self.reject_catastrophic(now);
                } else {
                    self.event(FsmEvent::RxjGood, now);
                }
            }
            _ => {
                return Ok(Some(Unhandled {
                    code: pkt.code,
                    id: pkt.id,
                    data: pkt.data,
                }))
            }
        }
        Ok(None)
    }

    /// RXJ-: the owner found a rejection this protocol cannot survive.
    pub fn reject_catastrophic(&mut self, now: Instant) {
        self.catastrophic_reject = true;
        self.event(FsmEvent::RxjBad, now);
    }

    /// RXJ+: a rejection the protocol survives.
    pub fn reject_permitted(&mut self, now: Instant) {
        self.event(FsmEvent::RxjGood, now);
    }

    /// RXR: Echo/Discard, acted on by the owner (ser) only when Opened.
    pub fn receive_echo_class(&mut self, now: Instant) -> bool {
        self.event(FsmEvent::Rxr, now);
        self.state == State::Opened
    }

    /// RUC: answers an unknown code with Code-Reject (scj).
    pub fn receive_unknown_code(&mut self, whole_packet: &[u8], now: Instant) {
        self.scj_packet = Some(whole_packet.to_vec());
        self.event(FsmEvent::Ruc, now);
    }

    /// pppd's rule (fsm.c): a reply counts only for the outstanding
    /// request, and only once, so a duplicated Ack cannot restart an
    /// opened link.
    fn check_reply_id(&self, id: u8) -> Result<(), Ignored> {
        if id != self.req_id || self.reply_seen {
            return Err(Ignored::StaleId);
        }
        Ok(())
    }

    fn receive_request(&mut self, pkt: Packet<'_>, now: Instant) -> Result<(), Ignored> {
        if packet::options(pkt.data).is_err() {
            return Err(Ignored::Malformed);
        }
        self.pending_reply_id = pkt.id;
        match self.state {
            // Closed answers with Terminate-Ack, Closing/Stopping not at
            // all: judging the options would change nothing.
            State::Closed | State::Closing | State::Stopping => {
                self.event(FsmEvent::RcrGood, now);
                return Ok(());
            }
            _ => {}
        }
        // A request in Stopped or Opened starts a new negotiation (the
        // table's scr follows): start it before judging the request, as
        // pppd's fsm_rconfreq does, so the verdict is judged against fresh
        // options and Naks, and what it agrees survives.
        if matches!(self.state, State::Stopped | State::Opened) {
            self.begin_negotiation();
        }
        let reject_not_nak = self.nak_count >= self.cfg.max_failure;
        match self.opts.check_request(pkt.data, reject_not_nak) {
            Verdict::Ack => {
                self.pending_reply = Some((code::CONF_ACK, pkt.data.to_vec()));
                self.event(FsmEvent::RcrGood, now);
            }
            Verdict::Nak(opts) => {
                self.pending_reply = Some((code::CONF_NAK, opts));
                self.event(FsmEvent::RcrBad, now);
            }
            Verdict::Reject(opts) => {
                self.pending_reply = Some((code::CONF_REJ, opts));
                self.event(FsmEvent::RcrBad, now);
            }
        }
        Ok(())
    }

    /// One transition of the RFC 1661 §4.1 state table, its actions in the
    /// order the table gives them.
    pub fn event(&mut self, ev: FsmEvent, now: Instant) {
        use FsmEvent as E;
        use State as S;
        let before = self.state;
        let next = match (self.state, ev) {
            (S::Initial, E::Up) => S::Closed,
            (S::Starting, E::Up) => {
                self.irc(true);
                self.begin_negotiation();
                self.scr(now);
                S::ReqSent
            }
            (_, E::Up) => self.state,

            (S::Closed, E::Down) => S::Initial,
            (S::Stopped, E::Down) => {
                self.tls();
                S::Starting
            }
            (S::Closing, E::Down) => S::Initial,
            (S::Stopping | S::ReqSent | S::AckRcvd | S::AckSent, E::Down) => S::Starting,
            (S::Opened, E::Down) => {
                self.tld();
                S::Starting
            }
            (_, E::Down) => self.state,

            (S::Initial, E::Open) => {
                self.tls();
                S::Starting
            }
            (S::Closed, E::Open) => {
                self.irc(true);
                self.begin_negotiation();
                self.scr(now);
                S::ReqSent
            }
            // 5r: an Open while terminating turns Closing into Stopping so
            // that the layer restarts when the peer comes back.
            (S::Closing, E::Open) => S::Stopping,
            (_, E::Open) => self.state,

            (S::Starting, E::Close) => {
                self.tlf();
                S::Initial
            }
            (S::Stopped, E::Close) => S::Closed,
            (S::Stopping, E::Close) => S::Closing,
            (S::ReqSent | S::AckRcvd | S::AckSent, E::Close) => {
                self.irc(false);
                self.str(now);
                S::Closing
            }
            (S::Opened, E::Close) => {
                self.tld();
                self.irc(false);
                self.str(now);
                S::Closing
            }
            (_, E::Close) => self.state,

            (S::Closing, E::TimeoutPlus) => {
                self.str(now);
                S::Closing
            }
            (S::Stopping, E::TimeoutPlus) => {
                self.str(now);
                S::Stopping
            }
            (S::ReqSent | S::AckRcvd, E::TimeoutPlus) => {
                self.scr(now);
                S::ReqSent
            }
            (S::AckSent, E::TimeoutPlus) => {
                self.scr(now);
                S::AckSent
            }
            (S::Closing, E::TimeoutMinus) => {
                self.tlf();
                S::Closed
            }
            (S::Stopping, E::TimeoutMinus) => {
                self.tlf();
                S::Stopped
            }
            (S::ReqSent | S::AckRcvd | S::AckSent, E::TimeoutMinus) => {
                // 3p: a passive end keeps waiting for the peer.
                if !self.cfg.passive {
                    self.gave_up = true;
                    self.tlf();
                }
                S::Stopped
            }
            (_, E::TimeoutPlus | E::TimeoutMinus) => self.state,

            (S::Closed, E::RcrGood | E::RcrBad | E::Rca | E::Rcn) => {
                self.sta();
                S::Closed
            }
            (S::Stopped, E::RcrGood) => {
                self.irc(true);
                self.scr(now);
                self.sca();
                S::AckSent
            }
            (S::Stopped, E::RcrBad) => {
                self.irc(true);
                self.scr(now);
                self.scn();
                S::ReqSent
            }
            (S::Stopped, E::Rca | E::Rcn) => {
                self.sta();
                S::Stopped
            }
            (S::ReqSent | S::AckSent, E::RcrGood) => {
                self.sca();
                S::AckSent
            }
            (S::AckRcvd, E::RcrGood) => {
                self.sca();
                self.tlu();
                S::Opened
            }
            (S::Opened, E::RcrGood) => {
                self.tld();
                self.scr(now);
                self.sca();
                S::AckSent
            }
            (S::ReqSent | S::AckSent, E::RcrBad) => {
                self.scn();
                S::ReqSent
            }
            (S::AckRcvd, E::RcrBad) => {
                self.scn();
                S::AckRcvd
            }
            (S::Opened, E::RcrBad) => {
                self.tld();
                self.scr(now);
                self.scn();
                S::ReqSent
            }
            (S::ReqSent, E::Rca) => {
                self.irc(true);
                S::AckRcvd
            }
            // 6x: a second Ack means crossed requests; start over.
            (S::AckRcvd, E::Rca | E::Rcn) => {
                self.scr(now);
                S::ReqSent
            }
            (S::AckSent, E::Rca) => {
                self.irc(true);
                self.tlu();
                S::Opened
            }
            (S::Opened, E::Rca | E::Rcn) => {
                self.tld();
                self.begin_negotiation();
                self.scr(now);
                S::ReqSent
            }
            (S::ReqSent, E::Rcn) => {
                self.irc(true);
                self.scr(now);
                S::ReqSent
            }
            (S::AckSent, E::Rcn) => {
                self.irc(true);
                self.scr(now);
                S::AckSent
            }
            (S::Closing | S::Stopping, E::RcrGood | E::RcrBad | E::Rca | E::Rcn) => self.state,

            (S::Closed | S::Stopped | S::Closing | S::Stopping, E::Rtr) => {
                self.sta();
                self.state
            }
            (S::ReqSent | S::AckRcvd | S::AckSent, E::Rtr) => {
                self.sta();
                S::ReqSent
            }
            (S::Opened, E::Rtr) => {
                self.peer_terminated = true;
                self.tld();
                self.zrc(now);
                self.sta();
                S::Stopping
            }

            (S::Closing, E::Rta) => {
                self.tlf();
                S::Closed
            }
            (S::Stopping, E::Rta) => {
                self.tlf();
                S::Stopped
            }
            (S::AckRcvd, E::Rta) => S::ReqSent,
            (S::Opened, E::Rta) => {
                self.tld();
                self.scr(now);
                S::ReqSent
            }
            (_, E::Rta) => self.state,

            (S::Initial | S::Starting, E::Ruc) => self.state,
            (_, E::Ruc) => {
                self.scj();
                self.state
            }

            (S::AckRcvd, E::RxjGood) => S::ReqSent,
            (_, E::RxjGood) => self.state,

            (S::Closed | S::Closing, E::RxjBad) => {
                self.tlf();
                S::Closed
            }
            (S::Stopped | S::Stopping | S::ReqSent | S::AckRcvd | S::AckSent, E::RxjBad) => {
                self.tlf();
                S::Stopped
            }
            (S::Opened, E::RxjBad) => {
                self.tld();
                self.irc(false);
                self.str(now);
                S::Stopping
            }
            (_, E::RxjBad) => self.state,

            (_, E::Rxr) => self.state,

            (S::Initial | S::Starting, _) => self.state,
        };
        self.state = next;
        if !next.timer_runs() {
            self.timer = None;
        }
        if before != next {
            tracing::debug!(protocol = self.name, ?ev, from = ?before, to = ?next, "state");
        }
    }

    // --- RFC 1661 §4.4 actions ---

    fn tlu(&mut self) {
        self.signals.push_back(Signal::Up);
    }

    fn tld(&mut self) {
        self.signals.push_back(Signal::Down);
    }

    fn tls(&mut self) {
        self.gave_up = false;
        self.peer_terminated = false;
        self.catastrophic_reject = false;
        self.signals.push_back(Signal::Started);
    }

    fn tlf(&mut self) {
        self.signals.push_back(Signal::Finished);
    }

    /// irc: Max-Configure for Configure-Requests, Max-Terminate for
    /// Terminate-Requests.
    fn irc(&mut self, configure: bool) {
        if configure {
            self.restart_count = self.cfg.max_configure;
        } else {
            self.restart_count = self.cfg.max_terminate;
        }
    }

    /// zrc: zero the counter but run the timer once, so the peer has a
    /// Restart period to see our Terminate-Ack (RFC 1661 §4.4).
    fn zrc(&mut self, now: Instant) {
        self.restart_count = 0;
        self.timer = Some(now + self.cfg.restart);
    }

    /// A new negotiation from rest: the options we want, a fresh
    /// Max-Failure count. The rows that scr from Starting, Closed or
    /// Opened call it; a Configure-Request in Stopped or Opened calls it
    /// before it is judged.
    fn begin_negotiation(&mut self) {
        self.opts.reset();
        self.nak_count = 0;
        self.term_reason.clear();
    }

    fn scr(&mut self, now: Instant) {
        self.last_request = self.opts.request();
        self.req_id = self.alloc_id();
        self.reply_seen = false;
        let pkt = packet::build(code::CONF_REQ, self.req_id, &self.last_request);
        self.out.push_back(pkt);
        self.restart_count = self.restart_count.saturating_sub(1);
        self.timer = Some(now + self.cfg.restart);
    }

    fn str(&mut self, now: Instant) {
        let id = self.alloc_id();
        let pkt = packet::build(code::TERM_REQ, id, &self.term_reason);
        self.out.push_back(pkt);
        self.restart_count = self.restart_count.saturating_sub(1);
        self.timer = Some(now + self.cfg.restart);
    }

    fn sca(&mut self) {
        // RFC 1661 §4.6: Max-Failure counts Configure-Naks "sent without
        // sending a Configure-Ack"; an Ack starts the count over.
        self.nak_count = 0;
        if let Some((code, opts)) = self.pending_reply.take() {
            self.out
                .push_back(packet::build(code, self.pending_reply_id, &opts));
        }
    }

    fn scn(&mut self) {
        if let Some((code, opts)) = self.pending_reply.take() {
            if code == code::CONF_NAK {
                self.nak_count += 1;
            }
            self.out
                .push_back(packet::build(code, self.pending_reply_id, &opts));
        }
    }

    fn sta(&mut self) {
        self.pending_reply = None;
        self.out
            .push_back(packet::build(code::TERM_ACK, self.pending_reply_id, &[]));
    }

    fn scj(&mut self) {
        if let Some(mut rejected) = self.scj_packet.take() {
            // RFC 1661 §5.6: truncate to fit the peer's MRU.
            rejected.truncate(self.peer_mru.saturating_sub(4));
            let id = self.alloc_id();
            self.out
                .push_back(packet::build(code::CODE_REJ, id, &rejected));
        }
    }
}
