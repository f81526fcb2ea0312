//! RFC 1661 §4.1 State Transition Table, one row per cell (16 events x 10
//! states), driven only through the public API of
//! [`carrier::ppp::fsm::Fsm`]: starting states are reached with events and
//! received packets, and actions are observed as the packets the automaton
//! queues (scr, sca, scn, str, sta, scj), the signals it raises (tlu, tld,
//! tls, tlf), its Restart timer, and, for irc/zrc, how many retransmissions
//! the Restart counter allows before TO-.
//!
//! Plus: Max-Configure, Max-Terminate, Max-Failure (RFC 1661 §4.6),
//! identifier handling (RFC 1661 §5.1-5.3 and pppd's fsm.c rule), crossed
//! Configure-Requests, the passive option [p] and the restart option [r].

use std::time::{Duration, Instant};

use carrier::ppp::fsm::{code, Fsm, FsmConfig, FsmEvent, Ignored, Options, Signal, State, Verdict};
use carrier::ppp::packet::{self, Packet};

/// Options field of every Configure-Request we send: MRU 1500.
const OUR_OPTS: [u8; 4] = [1, 4, 0x05, 0xdc];
/// Options field of the peer's Configure-Requests: a Magic-Number.
const PEER_OPTS: [u8; 6] = [5, 6, 0xde, 0xad, 0xbe, 0xef];
/// What we Nak the peer's Magic-Number with.
const NAK_OPTS: [u8; 6] = [5, 6, 0, 0, 0, 1];
/// What the peer Naks our MRU with.
const PEER_NAK_OPTS: [u8; 4] = [1, 4, 0x05, 0x78];
/// A code no Control Protocol knows (RUC).
const UNKNOWN_CODE: u8 = 42;
/// An identifier no request of ours carries in these tests.
const FOREIGN_ID: u8 = 0xee;

const RESTART: Duration = Duration::from_secs(3);
const MAX_CONFIGURE: u32 = 4;
const MAX_TERMINATE: u32 = 3;

fn cfg() -> FsmConfig {
    FsmConfig {
        restart: RESTART,
        max_terminate: MAX_TERMINATE,
        max_configure: MAX_CONFIGURE,
        max_failure: 5,
        passive: false,
    }
}

/// A minimal Control Protocol whose verdicts the test controls.
#[derive(Debug, Default)]
struct TestOpts {
    /// Verdict on the peer's Configure-Requests: Nak (RCR-) when set,
    /// Ack (RCR+) otherwise. Once `reject_not_nak` is set, Reject instead.
    nak: bool,
    /// Make naked()/rejected() refuse the peer's reply.
    bad_replies: bool,
    /// `reject_not_nak` of every check_request call, in order.
    checks: Vec<bool>,
    /// Options of every Configure-Ack taken.
    acked: Vec<Vec<u8>>,
    resets: u32,
}

impl Options for TestOpts {
    fn reset(&mut self) {
        self.resets += 1;
    }

    fn request(&mut self) -> Vec<u8> {
        OUR_OPTS.to_vec()
    }

    fn check_request(&mut self, options: &[u8], reject_not_nak: bool) -> Verdict {
        self.checks.push(reject_not_nak);
        if !self.nak {
            Verdict::Ack
        } else if reject_not_nak {
            Verdict::Reject(options.to_vec())
        } else {
            Verdict::Nak(NAK_OPTS.to_vec())
        }
    }

    fn acked(&mut self, options: &[u8]) {
        self.acked.push(options.to_vec());
    }

    fn naked(&mut self, _options: &[u8]) -> bool {
        !self.bad_replies
    }

    fn rejected(&mut self, _options: &[u8]) -> bool {
        !self.bad_replies
    }
}

/// RFC 1661 §4.4 actions, as the table spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum A {
    Tlu,
    Tld,
    Tls,
    Tlf,
    Irc,
    Zrc,
    Scr,
    Sca,
    Scn,
    Str,
    Sta,
    Scj,
    /// Send-Echo-Reply: the owning link's job, signalled by
    /// `receive_echo_class` returning true.
    Ser,
}

impl A {
    /// The packet code an action queues.
    fn code(self) -> Option<u8> {
        match self {
            A::Scr => Some(code::CONF_REQ),
            A::Sca => Some(code::CONF_ACK),
            // TestOpts answers RCR- with a Nak until Max-Failure.
            A::Scn => Some(code::CONF_NAK),
            A::Str => Some(code::TERM_REQ),
            A::Sta => Some(code::TERM_ACK),
            A::Scj => Some(code::CODE_REJ),
            _ => None,
        }
    }

    fn signal(self) -> Option<Signal> {
        match self {
            A::Tlu => Some(Signal::Up),
            A::Tld => Some(Signal::Down),
            A::Tls => Some(Signal::Started),
            A::Tlf => Some(Signal::Finished),
            _ => None,
        }
    }
}

/// States in which RFC 1661 §4.6 runs the Restart timer.
fn timer_runs(s: State) -> bool {
    matches!(
        s,
        State::Closing | State::Stopping | State::ReqSent | State::AckRcvd | State::AckSent
    )
}

/// One packet the automaton queued: code, identifier, data.
type Sent = (u8, u8, Vec<u8>);

#[derive(Debug, Default)]
struct Out {
    pkts: Vec<Sent>,
    sigs: Vec<Signal>,
}

impl Out {
    fn codes(&self) -> Vec<u8> {
        self.pkts.iter().map(|p| p.0).collect()
    }
}

/// One automaton, a clock, and what it last requested.
struct H {
    fsm: Fsm<TestOpts>,
    now: Instant,
    /// Identifier and Options of the last Configure-Request we sent.
    last_req: Option<(u8, Vec<u8>)>,
    peer_id: u8,
}

impl H {
    fn new(cfg: FsmConfig) -> H {
        H {
            fsm: Fsm::new("test", TestOpts::default(), cfg),
            now: Instant::now(),
            last_req: None,
            peer_id: 100,
        }
    }

    /// Takes every queued packet and signal; checks each packet is whole.
    fn drain(&mut self) -> Out {
        let mut out = Out::default();
        while let Some(raw) = self.fsm.poll_packet() {
            let p = Packet::parse(&raw).expect("automaton queued a malformed packet");
            assert_eq!(
                usize::from(u16::from_be_bytes([raw[2], raw[3]])),
                raw.len(),
                "Length field of {raw:?}"
            );
            if p.code == code::CONF_REQ {
                self.last_req = Some((p.id, p.data.to_vec()));
            }
            out.pkts.push((p.code, p.id, p.data.to_vec()));
        }
        while let Some(s) = self.fsm.poll_signal() {
            out.sigs.push(s);
        }
        out
    }

    fn next_peer_id(&mut self) -> u8 {
        self.peer_id = self.peer_id.wrapping_add(1);
        self.peer_id
    }

    /// Feeds one packet; Ok(Some(code)) when receive() handed it back.
    fn rx(&mut self, code: u8, id: u8, data: &[u8]) -> Result<Option<u8>, Ignored> {
        let raw = packet::build(code, id, data);
        let pkt = Packet::parse(&raw).expect("test built a malformed packet");
        self.fsm
            .receive(pkt, self.now)
            .map(|unhandled| unhandled.map(|u| u.code))
    }

    /// Advances the clock to the Restart deadline and fires it.
    fn fire_timer(&mut self) -> bool {
        match self.fsm.deadline() {
            Some(deadline) => {
                assert!(deadline > self.now, "deadline in the past");
                self.now = deadline;
                self.fsm.handle_timeout(self.now);
                true
            }
            None => false,
        }
    }

    /// The peer's Configure-Request; returns its identifier.
    fn peer_request(&mut self) -> u8 {
        let id = self.next_peer_id();
        assert_eq!(self.rx(code::CONF_REQ, id, &PEER_OPTS), Ok(None));
        id
    }

    /// A Configure-Ack echoing our last request.
    fn ack_last_request(&mut self) -> Result<Option<u8>, Ignored> {
        let (id, data) = self.last_req.clone().expect("no Configure-Request sent");
        self.rx(code::CONF_ACK, id, &data)
    }

    /// A Configure-Nak of our last request.
    fn nak_last_request(&mut self) -> Result<Option<u8>, Ignored> {
        let (id, _) = self.last_req.clone().expect("no Configure-Request sent");
        self.rx(code::CONF_NAK, id, &PEER_NAK_OPTS)
    }

    /// Fires the Restart timer until it stops; returns what was sent.
    fn run_out_timer(&mut self) -> Out {
        let mut all = Out::default();
        for _ in 0..100 {
            if !self.fire_timer() {
                return all;
            }
            let out = self.drain();
            all.pkts.extend(out.pkts);
            all.sigs.extend(out.sigs);
        }
        panic!("Restart timer never stopped");
    }
}

/// Reaches `state` through the public API only, then drains.
fn reach_with(state: State, cfg: FsmConfig) -> H {
    use State::*;
    let mut h = match state {
        Initial => H::new(cfg),
        Starting => {
            let mut h = reach_with(Initial, cfg);
            h.fsm.open(h.now);
            h
        }
        Closed => {
            let mut h = reach_with(Initial, cfg);
            h.fsm.up(h.now);
            h
        }
        Stopped => {
            // Closed + Open, then Max-Configure runs out (TO-).
            let mut h = reach_with(Closed, cfg);
            h.fsm.open(h.now);
            h.drain();
            h.run_out_timer();
            h
        }
        ReqSent => {
            let mut h = reach_with(Starting, cfg);
            h.fsm.up(h.now);
            h
        }
        AckRcvd => {
            let mut h = reach_with(ReqSent, cfg);
            assert_eq!(h.ack_last_request(), Ok(None));
            h
        }
        AckSent => {
            let mut h = reach_with(ReqSent, cfg);
            h.peer_request();
            h
        }
        Opened => {
            let mut h = reach_with(AckRcvd, cfg);
            h.peer_request();
            h
        }
        Closing => {
            let mut h = reach_with(ReqSent, cfg);
            h.fsm.close(h.now);
            h
        }
        Stopping => {
            let mut h = reach_with(Opened, cfg);
            let id = h.next_peer_id();
            assert_eq!(h.rx(code::TERM_REQ, id, &[]), Ok(None));
            h
        }
    };
    h.drain();
    assert_eq!(h.fsm.state(), state, "could not reach {state:?}");
    h
}

fn reach(state: State) -> H {
    reach_with(state, cfg())
}

/// What applying an event showed besides packets and signals.
#[derive(Debug, Default)]
struct Applied {
    /// Identifier of the packet that carried the event: sca, scn and sta
    /// must echo it.
    rx_id: Option<u8>,
    /// The whole packet an scj must carry.
    rejected: Option<Vec<u8>>,
    /// receive_echo_class's answer, for RXR.
    echo: Option<bool>,
}

/// Applies `ev` the way a link would: packets through receive(), the rest
/// through the public event methods. Packet-borne events in Initial and
/// Starting are dropped by receive() (NotRunning); the event is then also
/// fed to event() directly, so the '-' cell of the automaton itself is
/// checked too.
fn apply(h: &mut H, ev: FsmEvent) -> Applied {
    use FsmEvent::*;
    let now = h.now;
    let state = h.fsm.state();
    let running = !matches!(state, State::Initial | State::Starting);
    let mut applied = Applied::default();
    // A packet-borne event: consumed when running, else NotRunning and the
    // bare event.
    let consumed = |h: &mut H, r: Result<Option<u8>, Ignored>| {
        if running {
            assert_eq!(r, Ok(None), "{state:?} x {ev:?}: receive()");
        } else {
            assert_eq!(r, Err(Ignored::NotRunning), "{state:?} x {ev:?}");
            h.fsm.event(ev, now);
        }
    };
    match ev {
        Up => h.fsm.up(now),
        Down => h.fsm.down(now),
        Open => h.fsm.open(now),
        Close => h.fsm.close(now),
        // The table's TO+ and TO- as such; the counter that picks one over
        // the other is exercised by the irc/zrc probe and the Max-* tests.
        TimeoutPlus | TimeoutMinus => h.fsm.event(ev, now),
        RcrGood | RcrBad => {
            h.fsm.opts.nak = ev == RcrBad;
            let id = h.next_peer_id();
            applied.rx_id = Some(id);
            let r = h.rx(code::CONF_REQ, id, &PEER_OPTS);
            consumed(h, r);
        }
        Rca | Rcn => {
            let (code, data) = if ev == Rca {
                let data = h
                    .last_req
                    .as_ref()
                    .map_or(OUR_OPTS.to_vec(), |r| r.1.clone());
                (code::CONF_ACK, data)
            } else {
                (code::CONF_NAK, PEER_NAK_OPTS.to_vec())
            };
            match state {
                // Request outstanding: a real reply to it.
                State::ReqSent | State::AckSent | State::Closing => {
                    let id = h.last_req.as_ref().expect("request outstanding").0;
                    applied.rx_id = Some(id);
                    let r = h.rx(code, id, &data);
                    consumed(h, r);
                }
                // Answered with Terminate-Ack whatever the identifier.
                State::Initial | State::Starting | State::Closed | State::Stopped => {
                    applied.rx_id = Some(FOREIGN_ID);
                    let r = h.rx(code, FOREIGN_ID, &data);
                    consumed(h, r);
                }
                // Our request was answered already: a real reply is a
                // duplicate (pppd's rule), so the event comes bare.
                State::AckRcvd | State::Opened | State::Stopping => {
                    if let Some((id, _)) = h.last_req.clone() {
                        assert_eq!(h.rx(code, id, &data), Err(Ignored::StaleId));
                        let out = h.drain();
                        assert!(out.pkts.is_empty() && out.sigs.is_empty());
                        assert_eq!(h.fsm.state(), state);
                    }
                    h.fsm.event(ev, now);
                }
            }
        }
        Rtr => {
            let id = h.next_peer_id();
            applied.rx_id = Some(id);
            let r = h.rx(code::TERM_REQ, id, &[]);
            consumed(h, r);
        }
        Rta => {
            let id = h.next_peer_id();
            let r = h.rx(code::TERM_ACK, id, &[]);
            consumed(h, r);
        }
        Ruc => {
            let id = h.next_peer_id();
            let raw = packet::build(UNKNOWN_CODE, id, &[1, 2, 3]);
            let r = h.fsm.receive(Packet::parse(&raw).unwrap(), now);
            if running {
                assert_eq!(r.map(|u| u.map(|u| u.code)), Ok(Some(UNKNOWN_CODE)));
            } else {
                assert_eq!(r, Err(Ignored::NotRunning));
            }
            h.fsm.receive_unknown_code(&raw, now);
            applied.rejected = Some(raw);
        }
        RxjGood | RxjBad => {
            // RFC 1661 §5.6: rejecting an extension code is permitted,
            // rejecting one of codes 1-7 is catastrophic.
            let rejected_code = if ev == RxjGood {
                UNKNOWN_CODE
            } else {
                code::TERM_REQ
            };
            let rejected = packet::build(rejected_code, 7, &[]);
            let id = h.next_peer_id();
            let r = h.rx(code::CODE_REJ, id, &rejected);
            consumed(h, r);
        }
        Rxr => {
            let id = h.next_peer_id();
            let r = h.rx(code::ECHO_REQ, id, &[0, 0, 0, 0]);
            if running {
                assert_eq!(r, Ok(Some(code::ECHO_REQ)));
            } else {
                assert_eq!(r, Err(Ignored::NotRunning));
            }
            applied.echo = Some(h.fsm.receive_echo_class(now));
        }
    }
    applied
}

type Row = (State, FsmEvent, &'static [A], State);

/// RFC 1661 §4.1, event by event, states 0-9 in order. `X` marks the '-'
/// cells (the event should not happen): nothing is done, the state stays.
/// [p] [r] [x] options: 3p is tested in `passive_option`, 3r/5r/9r in
/// `restart_option`, 6x in `crossed_*`.
fn table() -> Vec<Row> {
    use FsmEvent::*;
    use State::*;
    use A::*;
    const X: &[A] = &[];
    vec![
        // Up
        (Initial, Up, &[], Closed),
        (Starting, Up, &[Irc, Scr], ReqSent),
        (Closed, Up, X, Closed),
        (Stopped, Up, X, Stopped),
        (Closing, Up, X, Closing),
        (Stopping, Up, X, Stopping),
        (ReqSent, Up, X, ReqSent),
        (AckRcvd, Up, X, AckRcvd),
        (AckSent, Up, X, AckSent),
        (Opened, Up, X, Opened),
        // Down
        (Initial, Down, X, Initial),
        (Starting, Down, X, Starting),
        (Closed, Down, &[], Initial),
        (Stopped, Down, &[Tls], Starting),
        (Closing, Down, &[], Initial),
        (Stopping, Down, &[], Starting),
        (ReqSent, Down, &[], Starting),
        (AckRcvd, Down, &[], Starting),
        (AckSent, Down, &[], Starting),
        (Opened, Down, &[Tld], Starting),
        // Open
        (Initial, Open, &[Tls], Starting),
        (Starting, Open, &[], Starting),
        (Closed, Open, &[Irc, Scr], ReqSent),
        (Stopped, Open, &[], Stopped),   // 3r
        (Closing, Open, &[], Stopping),  // 5r
        (Stopping, Open, &[], Stopping), // 5r
        (ReqSent, Open, &[], ReqSent),
        (AckRcvd, Open, &[], AckRcvd),
        (AckSent, Open, &[], AckSent),
        (Opened, Open, &[], Opened), // 9r
        // Close
        (Initial, Close, &[], Initial),
        (Starting, Close, &[Tlf], Initial),
        (Closed, Close, &[], Closed),
        (Stopped, Close, &[], Closed),
        (Closing, Close, &[], Closing),
        (Stopping, Close, &[], Closing),
        (ReqSent, Close, &[Irc, Str], Closing),
        (AckRcvd, Close, &[Irc, Str], Closing),
        (AckSent, Close, &[Irc, Str], Closing),
        (Opened, Close, &[Tld, Irc, Str], Closing),
        // TO+
        (Initial, TimeoutPlus, X, Initial),
        (Starting, TimeoutPlus, X, Starting),
        (Closed, TimeoutPlus, X, Closed),
        (Stopped, TimeoutPlus, X, Stopped),
        (Closing, TimeoutPlus, &[Str], Closing),
        (Stopping, TimeoutPlus, &[Str], Stopping),
        (ReqSent, TimeoutPlus, &[Scr], ReqSent),
        (AckRcvd, TimeoutPlus, &[Scr], ReqSent),
        (AckSent, TimeoutPlus, &[Scr], AckSent),
        (Opened, TimeoutPlus, X, Opened),
        // TO-
        (Initial, TimeoutMinus, X, Initial),
        (Starting, TimeoutMinus, X, Starting),
        (Closed, TimeoutMinus, X, Closed),
        (Stopped, TimeoutMinus, X, Stopped),
        (Closing, TimeoutMinus, &[Tlf], Closed),
        (Stopping, TimeoutMinus, &[Tlf], Stopped),
        (ReqSent, TimeoutMinus, &[Tlf], Stopped), // 3p
        (AckRcvd, TimeoutMinus, &[Tlf], Stopped), // 3p
        (AckSent, TimeoutMinus, &[Tlf], Stopped), // 3p
        (Opened, TimeoutMinus, X, Opened),
        // RCR+
        (Initial, RcrGood, X, Initial),
        (Starting, RcrGood, X, Starting),
        (Closed, RcrGood, &[Sta], Closed),
        (Stopped, RcrGood, &[Irc, Scr, Sca], AckSent),
        (Closing, RcrGood, &[], Closing),
        (Stopping, RcrGood, &[], Stopping),
        (ReqSent, RcrGood, &[Sca], AckSent),
        (AckRcvd, RcrGood, &[Sca, Tlu], Opened),
        (AckSent, RcrGood, &[Sca], AckSent),
        (Opened, RcrGood, &[Tld, Scr, Sca], AckSent),
        // RCR-
        (Initial, RcrBad, X, Initial),
        (Starting, RcrBad, X, Starting),
        (Closed, RcrBad, &[Sta], Closed),
        (Stopped, RcrBad, &[Irc, Scr, Scn], ReqSent),
        (Closing, RcrBad, &[], Closing),
        (Stopping, RcrBad, &[], Stopping),
        (ReqSent, RcrBad, &[Scn], ReqSent),
        (AckRcvd, RcrBad, &[Scn], AckRcvd),
        (AckSent, RcrBad, &[Scn], ReqSent),
        (Opened, RcrBad, &[Tld, Scr, Scn], ReqSent),
        // RCA
        (Initial, Rca, X, Initial),
        (Starting, Rca, X, Starting),
        (Closed, Rca, &[Sta], Closed),
        (Stopped, Rca, &[Sta], Stopped),
        (Closing, Rca, &[], Closing),
        (Stopping, Rca, &[], Stopping),
        (ReqSent, Rca, &[Irc], AckRcvd),
        (AckRcvd, Rca, &[Scr], ReqSent), // 6x
        (AckSent, Rca, &[Irc, Tlu], Opened),
        (Opened, Rca, &[Tld, Scr], ReqSent), // 6x
        // RCN
        (Initial, Rcn, X, Initial),
        (Starting, Rcn, X, Starting),
        (Closed, Rcn, &[Sta], Closed),
        (Stopped, Rcn, &[Sta], Stopped),
        (Closing, Rcn, &[], Closing),
        (Stopping, Rcn, &[], Stopping),
        (ReqSent, Rcn, &[Irc, Scr], ReqSent),
        (AckRcvd, Rcn, &[Scr], ReqSent), // 6x
        (AckSent, Rcn, &[Irc, Scr], AckSent),
        (Opened, Rcn, &[Tld, Scr], ReqSent), // 6x
        // RTR
        (Initial, Rtr, X, Initial),
        (Starting, Rtr, X, Starting),
        (Closed, Rtr, &[Sta], Closed),
        (Stopped, Rtr, &[Sta], Stopped),
        (Closing, Rtr, &[Sta], Closing),
        (Stopping, Rtr, &[Sta], Stopping),
        (ReqSent, Rtr, &[Sta], ReqSent),
        (AckRcvd, Rtr, &[Sta], ReqSent),
        (AckSent, Rtr, &[Sta], ReqSent),
        (Opened, Rtr, &[Tld, Zrc, Sta], Stopping),
        // RTA
        (Initial, Rta, X, Initial),
        (Starting, Rta, X, Starting),
        (Closed, Rta, &[], Closed),
        (Stopped, Rta, &[], Stopped),
        (Closing, Rta, &[Tlf], Closed),
        (Stopping, Rta, &[Tlf], Stopped),
        (ReqSent, Rta, &[], ReqSent),
        (AckRcvd, Rta, &[], ReqSent),
        (AckSent, Rta, &[], AckSent),
        (Opened, Rta, &[Tld, Scr], ReqSent),
        // RUC
        (Initial, Ruc, X, Initial),
        (Starting, Ruc, X, Starting),
        (Closed, Ruc, &[Scj], Closed),
        (Stopped, Ruc, &[Scj], Stopped),
        (Closing, Ruc, &[Scj], Closing),
        (Stopping, Ruc, &[Scj], Stopping),
        (ReqSent, Ruc, &[Scj], ReqSent),
        (AckRcvd, Ruc, &[Scj], AckRcvd),
        (AckSent, Ruc, &[Scj], AckSent),
        (Opened, Ruc, &[Scj], Opened),
        // RXJ+
        (Initial, RxjGood, X, Initial),
        (Starting, RxjGood, X, Starting),
        (Closed, RxjGood, &[], Closed),
        (Stopped, RxjGood, &[], Stopped),
        (Closing, RxjGood, &[], Closing),
        (Stopping, RxjGood, &[], Stopping),
        (ReqSent, RxjGood, &[], ReqSent),
        (AckRcvd, RxjGood, &[], ReqSent),
        (AckSent, RxjGood, &[], AckSent),
        (Opened, RxjGood, &[], Opened),
        // RXJ-
        (Initial, RxjBad, X, Initial),
        (Starting, RxjBad, X, Starting),
        (Closed, RxjBad, &[Tlf], Closed),
        (Stopped, RxjBad, &[Tlf], Stopped),
        (Closing, RxjBad, &[Tlf], Closed),
        (Stopping, RxjBad, &[Tlf], Stopped),
        (ReqSent, RxjBad, &[Tlf], Stopped),
        (AckRcvd, RxjBad, &[Tlf], Stopped),
        (AckSent, RxjBad, &[Tlf], Stopped),
        (Opened, RxjBad, &[Tld, Irc, Str], Stopping),
        // RXR
        (Initial, Rxr, X, Initial),
        (Starting, Rxr, X, Starting),
        (Closed, Rxr, &[], Closed),
        (Stopped, Rxr, &[], Stopped),
        (Closing, Rxr, &[], Closing),
        (Stopping, Rxr, &[], Stopping),
        (ReqSent, Rxr, &[], ReqSent),
        (AckRcvd, Rxr, &[], AckRcvd),
        (AckSent, Rxr, &[], AckSent),
        (Opened, Rxr, &[Ser], Opened),
    ]
}

/// Runs one cell; returns what differs from the table.
fn run_row(&(start, ev, actions, next): &Row) -> Vec<String> {
    let mut errors = Vec::new();
    let cell = format!("{start:?} x {ev:?}");
    let mut h = reach(start);
    let prev_req_id = h.last_req.as_ref().map(|r| r.0);

    let applied = apply(&mut h, ev);
    let out = h.drain();

    let want_codes: Vec<u8> = actions.iter().filter_map(|a| a.code()).collect();
    if out.codes() != want_codes {
        errors.push(format!(
            "{cell}: sent codes {:?}, table wants {want_codes:?} ({actions:?})",
            out.codes()
        ));
    }
    let want_sigs: Vec<Signal> = actions.iter().filter_map(|a| a.signal()).collect();
    if out.sigs != want_sigs {
        errors.push(format!(
            "{cell}: signals {:?}, table wants {want_sigs:?}",
            out.sigs
        ));
    }
    if h.fsm.state() != next {
        errors.push(format!(
            "{cell}: went to {:?}, table wants {next:?}",
            h.fsm.state()
        ));
    }
    if h.fsm.deadline().is_some() != timer_runs(h.fsm.state()) {
        errors.push(format!(
            "{cell}: Restart timer {:?} in {:?}",
            h.fsm.deadline(),
            h.fsm.state()
        ));
    }
    let echoed = applied.echo == Some(true);
    if echoed != actions.contains(&A::Ser) {
        errors.push(format!(
            "{cell}: receive_echo_class said {:?}",
            applied.echo
        ));
    }

    // The packets' contents.
    for (code, id, data) in &out.pkts {
        let reply_id_ok = !matches!(applied.rx_id, Some(rx) if rx != *id);
        let ok = match *code {
            code::CONF_REQ => data[..] == OUR_OPTS && Some(*id) != prev_req_id,
            code::CONF_ACK => reply_id_ok && data[..] == PEER_OPTS,
            code::CONF_NAK => reply_id_ok && data[..] == NAK_OPTS,
            code::TERM_ACK => reply_id_ok,
            code::TERM_REQ => true,
            code::CODE_REJ => applied.rejected.as_ref() == Some(data),
            _ => false,
        };
        if !ok {
            errors.push(format!(
                "{cell}: bad packet code {code} id {id} data {data:?} ({applied:?})"
            ));
        }
    }

    // irc/zrc: how many retransmissions the Restart counter now allows
    // before TO- (RFC 1661 §4.4: decremented for each transmission,
    // including the first).
    let irc = actions.contains(&A::Irc);
    let zrc = actions.contains(&A::Zrc);
    if (irc || zrc) && timer_runs(h.fsm.state()) {
        let sent_now = actions
            .iter()
            .filter(|a| matches!(a, A::Scr | A::Str))
            .count() as u32;
        let want = if zrc {
            0
        } else if actions.contains(&A::Str) {
            MAX_TERMINATE - sent_now
        } else {
            MAX_CONFIGURE - sent_now
        };
        let rest = h.run_out_timer();
        let retransmitted = rest
            .pkts
            .iter()
            .filter(|p| p.0 == code::CONF_REQ || p.0 == code::TERM_REQ)
            .count() as u32;
        if retransmitted != want || rest.sigs != [Signal::Finished] {
            errors.push(format!(
                "{cell}: after irc/zrc {retransmitted} retransmissions then {:?}, want {want} then tlf",
                rest.sigs
            ));
        }
    }
    errors
}

#[test]
fn rfc1661_state_transition_table() {
    let table = table();
    assert_eq!(table.len(), 160, "16 events x 10 states");
    // Every cell exactly once.
    for (i, a) in table.iter().enumerate() {
        for b in &table[i + 1..] {
            assert!((a.0, a.1) != (b.0, b.1), "cell {:?} x {:?} twice", a.0, a.1);
        }
    }
    let errors: Vec<String> = table.iter().flat_map(run_row).collect();
    assert!(
        errors.is_empty(),
        "{} deviation(s) from RFC 1661 §4.1:\n{}",
        errors.len(),
        errors.join("\n")
    );
}

/// The Restart timer itself yields the table's TO+ and TO- cells.
#[test]
fn restart_timer_fires_the_timeout_events() {
    for (start, sent, next) in [
        (State::ReqSent, code::CONF_REQ, State::ReqSent),
        (State::AckRcvd, code::CONF_REQ, State::ReqSent),
        (State::AckSent, code::CONF_REQ, State::AckSent),
        (State::Closing, code::TERM_REQ, State::Closing),
    ] {
        let mut h = reach(start);
        let before = h.fsm.deadline().expect("timer runs");
        // Not yet.
        h.fsm.handle_timeout(before - Duration::from_millis(1));
        assert!(h.drain().pkts.is_empty());
        assert!(h.fire_timer());
        let out = h.drain();
        assert_eq!(out.codes(), [sent], "{start:?} TO+");
        assert!(out.sigs.is_empty());
        assert_eq!(h.fsm.state(), next, "{start:?} TO+");
        assert_eq!(h.fsm.deadline(), Some(h.now + RESTART));
    }
    // Stopping after RTR in Opened: zrc leaves a single Restart period,
    // then TO- (tlf/3) without any Terminate-Request.
    let mut h = reach(State::Stopping);
    assert!(h.fire_timer());
    let out = h.drain();
    assert!(out.pkts.is_empty());
    assert_eq!(out.sigs, [Signal::Finished]);
    assert_eq!(h.fsm.state(), State::Stopped);
    assert_eq!(h.fsm.deadline(), None);
}

/// RFC 1661 §4.6 Max-Configure: exactly that many Configure-Requests,
/// then tlf and Stopped.
#[test]
fn max_configure() {
    for max in [1, 3, 10] {
        let mut h = H::new(FsmConfig {
            max_configure: max,
            ..cfg()
        });
        let start = h.now;
        h.fsm.open(h.now);
        h.fsm.up(h.now);
        let mut out = h.drain();
        assert_eq!(out.sigs, [Signal::Started]);
        let rest = h.run_out_timer();
        out.pkts.extend(rest.pkts);
        assert_eq!(out.codes(), vec![code::CONF_REQ; max as usize], "max {max}");
        assert_eq!(rest.sigs, [Signal::Finished], "max {max}");
        assert_eq!(h.fsm.state(), State::Stopped);
        assert!(h.fsm.gave_up);
        assert_eq!(h.fsm.deadline(), None);
        // One Restart period per request, the last one included.
        assert_eq!(h.now - start, RESTART * max);
    }
}

/// RFC 1661 §4.6 Max-Terminate: exactly that many Terminate-Requests,
/// then tlf and Closed.
#[test]
fn max_terminate() {
    for max in [1, 2, 5] {
        let mut h = reach_with(
            State::Opened,
            FsmConfig {
                max_terminate: max,
                ..cfg()
            },
        );
        h.fsm.close(h.now);
        let mut out = h.drain();
        assert_eq!(out.sigs, [Signal::Down]);
        let rest = h.run_out_timer();
        out.pkts.extend(rest.pkts);
        assert_eq!(out.codes(), vec![code::TERM_REQ; max as usize], "max {max}");
        assert_eq!(rest.sigs, [Signal::Finished], "max {max}");
        assert_eq!(h.fsm.state(), State::Closed);
        assert_eq!(h.fsm.deadline(), None);
    }
}

/// RFC 1661 §4.6 Max-Failure: after that many Configure-Naks in a row,
/// check_request is told to reject instead.
#[test]
fn max_failure() {
    let mut h = reach_with(
        State::ReqSent,
        FsmConfig {
            max_failure: 3,
            ..cfg()
        },
    );
    h.fsm.opts.nak = true;
    let mut codes = Vec::new();
    for _ in 0..5 {
        let id = h.peer_request();
        let out = h.drain();
        assert_eq!(out.pkts.len(), 1);
        assert_eq!(out.pkts[0].1, id);
        codes.push(out.pkts[0].0);
    }
    assert_eq!(h.fsm.opts.checks, [false, false, false, true, true]);
    use code::{CONF_NAK as NAK, CONF_REJ as REJ};
    assert_eq!(codes, [NAK, NAK, NAK, REJ, REJ]);
    assert_eq!(h.fsm.state(), State::ReqSent);
}

/// Max-Failure counts Configure-Naks "sent without sending a
/// Configure-Ack" (RFC 1661 §4.6): an Ack in between starts the count over.
#[test]
fn max_failure_counts_naks_in_a_row() {
    let mut h = reach_with(
        State::ReqSent,
        FsmConfig {
            max_failure: 3,
            ..cfg()
        },
    );
    let mut codes = Vec::new();
    for nak in [true, true, false, true, true, true, true] {
        h.fsm.opts.nak = nak;
        h.peer_request();
        codes.extend(h.drain().codes());
    }
    assert_eq!(
        h.fsm.opts.checks,
        [false, false, false, false, false, false, true]
    );
    use code::{CONF_ACK as ACK, CONF_NAK as NAK, CONF_REJ as REJ};
    assert_eq!(codes, [NAK, NAK, ACK, NAK, NAK, NAK, REJ]);
}

/// A new negotiation (scr outside ReqSent/AckRcvd/AckSent) starts the
/// Max-Failure count over, as pppd's fsm_sconfreq does. pppd resets it
/// before judging the request that starts the negotiation (fsm_rconfreq
/// calls fsm_sconfreq before reqci). RFC 1661 §4.6 does not ask for a reset
/// here; carrier follows pppd so a peer coming back from Stopped gets Naks
/// before Rejects.
#[test]
fn max_failure_resets_with_a_new_negotiation() {
    let mut h = reach_with(
        State::ReqSent,
        FsmConfig {
            max_failure: 2,
            ..cfg()
        },
    );
    h.fsm.opts.nak = true;
    h.peer_request();
    h.peer_request();
    h.fsm.close(h.now);
    h.fsm.open(h.now); // 5r: Stopping
    let id = h.next_peer_id();
    assert_eq!(h.rx(code::TERM_ACK, id, &[]), Ok(None)); // Stopped
    h.drain();
    h.peer_request(); // Stopped x RCR-: irc, scr, scn
    assert_eq!(h.fsm.opts.checks, [false, false, false]);
    assert_eq!(h.drain().codes(), [code::CONF_REQ, code::CONF_NAK]);
}

/// RFC 1661 §5.2-5.3 and pppd's fsm.c: a reply counts only if it carries
/// the identifier of the outstanding Configure-Request, only once, and a
/// Configure-Ack only if its options are those requested.
#[test]
fn identifier_handling() {
    let mut h = reach(State::ReqSent);
    let (id, data) = h.last_req.clone().unwrap();
    let quiet = |h: &mut H, state: State| {
        let out = h.drain();
        assert!(out.pkts.is_empty() && out.sigs.is_empty(), "{out:?}");
        assert_eq!(h.fsm.state(), state);
    };

    // Wrong identifier.
    for wrong in [id.wrapping_add(1), id.wrapping_sub(1), FOREIGN_ID] {
        assert_eq!(h.rx(code::CONF_ACK, wrong, &data), Err(Ignored::StaleId));
        assert_eq!(
            h.rx(code::CONF_NAK, wrong, &PEER_NAK_OPTS),
            Err(Ignored::StaleId)
        );
        assert_eq!(h.rx(code::CONF_REJ, wrong, &data), Err(Ignored::StaleId));
    }
    quiet(&mut h, State::ReqSent);

    // Right identifier, other options: not an Ack of our request.
    assert_eq!(
        h.rx(code::CONF_ACK, id, &PEER_NAK_OPTS),
        Err(Ignored::AckMismatch)
    );
    assert_eq!(h.rx(code::CONF_ACK, id, &[]), Err(Ignored::AckMismatch));
    assert_eq!(
        h.rx(code::CONF_ACK, id, &data[..2]),
        Err(Ignored::AckMismatch)
    );
    quiet(&mut h, State::ReqSent);
    assert!(h.fsm.opts.acked.is_empty());

    // A Nak that does not fit, or whose option lengths lie.
    h.fsm.opts.bad_replies = true;
    assert_eq!(
        h.rx(code::CONF_NAK, id, &PEER_NAK_OPTS),
        Err(Ignored::BadReply)
    );
    assert_eq!(h.rx(code::CONF_REJ, id, &data), Err(Ignored::BadReply));
    h.fsm.opts.bad_replies = false;
    assert_eq!(h.rx(code::CONF_NAK, id, &[1, 1]), Err(Ignored::Malformed));
    quiet(&mut h, State::ReqSent);

    // The right Ack, still accepted after all that.
    assert_eq!(h.rx(code::CONF_ACK, id, &data), Ok(None));
    assert_eq!(h.fsm.state(), State::AckRcvd);
    assert_eq!(h.fsm.opts.acked.len(), 1);
    assert_eq!(h.fsm.opts.acked[0], data);
    h.drain();

    // A duplicated Ack (or a late Nak) of the same request is ignored,
    // not taken as the table's RCA in Ack-Rcvd (scr/6x).
    assert_eq!(h.rx(code::CONF_ACK, id, &data), Err(Ignored::StaleId));
    assert_eq!(
        h.rx(code::CONF_NAK, id, &PEER_NAK_OPTS),
        Err(Ignored::StaleId)
    );
    quiet(&mut h, State::AckRcvd);

    // Nor does it bring an opened link down (RCA in Opened: tld,scr/6x).
    h.peer_request();
    assert_eq!(h.drain().sigs, [Signal::Up]);
    assert_eq!(h.rx(code::CONF_ACK, id, &data), Err(Ignored::StaleId));
    quiet(&mut h, State::Opened);
    assert_eq!(h.fsm.opts.acked.len(), 1);
}

/// Each Configure-Request gets an identifier of its own (RFC 1661 §5.1
/// allows reuse for retransmissions; this automaton does not reuse), and
/// only the reply to the latest counts.
#[test]
fn retransmission_and_replies() {
    let mut h = reach(State::ReqSent);
    let (first, data) = h.last_req.clone().unwrap();
    assert!(h.fire_timer());
    h.drain();
    let (second, _) = h.last_req.clone().unwrap();
    assert_ne!(first, second);
    assert_eq!(h.rx(code::CONF_ACK, first, &data), Err(Ignored::StaleId));
    assert_eq!(h.rx(code::CONF_ACK, second, &data), Ok(None));
    assert_eq!(h.fsm.state(), State::AckRcvd);

    // A Configure-Reject is an RCN like a Nak: irc,scr/6 in Req-Sent.
    let mut h = reach(State::ReqSent);
    let (id, data) = h.last_req.clone().unwrap();
    assert_eq!(h.rx(code::CONF_REJ, id, &data), Ok(None));
    let out = h.drain();
    assert_eq!(out.codes(), [code::CONF_REQ]);
    assert_ne!(out.pkts[0].1, id);
    assert_eq!(h.fsm.state(), State::ReqSent);
    assert_eq!(h.nak_last_request(), Ok(None));
    assert_eq!(h.drain().codes(), [code::CONF_REQ]);
}

/// Both ends send their Configure-Request before either hears the other:
/// each Acks the other's request (Req-Sent -> Ack-Sent), then takes the
/// other's Ack (Ack-Sent -> Opened).
#[test]
fn crossed_configure_requests() {
    let mut a = reach(State::ReqSent);
    let mut b = reach(State::ReqSent);
    let (a_id, a_opts) = a.last_req.clone().unwrap();
    let (b_id, b_opts) = b.last_req.clone().unwrap();

    // The requests cross on the wire.
    assert_eq!(b.rx(code::CONF_REQ, a_id, &a_opts), Ok(None));
    assert_eq!(a.rx(code::CONF_REQ, b_id, &b_opts), Ok(None));
    assert_eq!(a.fsm.state(), State::AckSent);
    assert_eq!(b.fsm.state(), State::AckSent);
    let a_out = a.drain();
    let b_out = b.drain();
    assert_eq!(a_out.pkts, [(code::CONF_ACK, b_id, b_opts.clone())]);
    assert_eq!(b_out.pkts, [(code::CONF_ACK, a_id, a_opts.clone())]);

    // The Acks cross too.
    let (c, id, data) = &b_out.pkts[0];
    assert_eq!(a.rx(*c, *id, data), Ok(None));
    let (c, id, data) = &a_out.pkts[0];
    assert_eq!(b.rx(*c, *id, data), Ok(None));
    for h in [&mut a, &mut b] {
        assert_eq!(h.fsm.state(), State::Opened);
        let out = h.drain();
        assert!(out.pkts.is_empty());
        assert_eq!(out.sigs, [Signal::Up]);
        assert_eq!(h.fsm.deadline(), None);
    }
}

/// Crossed the other way: each end's Ack arrives before the other's
/// request (Req-Sent -> Ack-Rcvd -> Opened), through a two-way pump.
#[test]
fn two_automata_negotiate_through_a_pump() {
    let mut a = reach(State::Starting);
    let mut b = reach(State::Starting);
    a.fsm.up(a.now);
    b.fsm.up(b.now);
    for _ in 0..10 {
        let a_out = a.drain();
        let b_out = b.drain();
        if a_out.pkts.is_empty() && b_out.pkts.is_empty() {
            break;
        }
        for (c, id, data) in a_out.pkts {
            assert_eq!(b.rx(c, id, &data), Ok(None));
        }
        for (c, id, data) in b_out.pkts {
            assert_eq!(a.rx(c, id, &data), Ok(None));
        }
    }
    assert_eq!(a.fsm.state(), State::Opened);
    assert_eq!(b.fsm.state(), State::Opened);
}

/// [p] RFC 1661 §4.2 (Stopped), implementation option: after the peer
/// fails to answer, wait passively for its Configure-Request; TO- in
/// Req-Sent/Ack-Rcvd/Ack-Sent then goes to Stopped without tlf.
#[test]
fn passive_option() {
    for start in [State::ReqSent, State::AckRcvd, State::AckSent] {
        let passive = FsmConfig {
            passive: true,
            ..cfg()
        };
        let mut h = reach_with(start, passive);
        let out = h.run_out_timer();
        assert!(out.sigs.is_empty(), "{start:?}: no tlf when passive");
        assert!(out.pkts.iter().all(|p| p.0 == code::CONF_REQ));
        assert_eq!(h.fsm.state(), State::Stopped);
        assert_eq!(h.fsm.deadline(), None, "waits, no timer");
        assert!(!h.fsm.gave_up);
        assert!(h.drain().pkts.is_empty());

        // The peer comes along: irc,scr,sca/8, then its Ack opens.
        let id = h.peer_request();
        let out = h.drain();
        assert_eq!(out.codes(), [code::CONF_REQ, code::CONF_ACK]);
        assert_eq!(out.pkts[1].1, id);
        assert_eq!(h.fsm.state(), State::AckSent);
        assert_eq!(h.ack_last_request(), Ok(None));
        assert_eq!(h.fsm.state(), State::Opened);
        assert_eq!(h.drain().sigs, [Signal::Up]);
    }
    // Without the option, TO- finishes the layer.
    let mut h = reach(State::ReqSent);
    assert_eq!(h.run_out_timer().sigs, [Signal::Finished]);
    assert!(h.fsm.gave_up);
}

/// [r] RFC 1661 §4.3 (Open event): the restart option (Down and Up on
/// Open in Stopped/Closing/Stopping/Opened) is not taken, but Open in
/// Closing turns it into Stopping (5r, as pppd's fsm_open), so the layer
/// ends in Stopped, where a peer's request restarts negotiation.
#[test]
fn restart_option() {
    for start in [State::Stopped, State::Opened] {
        let mut h = reach(start);
        h.fsm.open(h.now);
        let out = h.drain();
        assert!(out.pkts.is_empty() && out.sigs.is_empty(), "{start:?}");
        assert_eq!(h.fsm.state(), start);
    }

    let mut h = reach(State::Closing);
    let deadline = h.fsm.deadline();
    h.fsm.open(h.now);
    assert_eq!(h.fsm.state(), State::Stopping);
    assert_eq!(h.fsm.deadline(), deadline, "Terminate-Requests go on");
    let id = h.next_peer_id();
    assert_eq!(h.rx(code::TERM_ACK, id, &[]), Ok(None));
    assert_eq!(h.fsm.state(), State::Stopped);
    assert_eq!(h.drain().sigs, [Signal::Finished]);
    h.peer_request();
    assert_eq!(h.fsm.state(), State::AckSent);
    assert_eq!(h.drain().codes(), [code::CONF_REQ, code::CONF_ACK]);
}
