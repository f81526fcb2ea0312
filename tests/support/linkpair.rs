//! Two sans-IO PPP lines wired back to back with a fake clock: whole
//! negotiations in microseconds, deterministically. [`LinePair`] joins two
//! [`Line`]s (codec and link, as the session drives them) by octets; a
//! test's hostile peer puts frames no link would make onto the wire with
//! [`LinePair::handle_raw`] or [`Arrival::Raw`]. Only a test of the link
//! itself, with octets no decoder would pass, hands a bare [`Link`] a
//! frame ([`handle_counted`]).

#![allow(dead_code)]

use std::time::{Duration, Instant};

use bytes::BytesMut;
use carrier::hdlc::split_header;
use carrier::line::Line;
use carrier::ppp::activity::Direction;
use carrier::ppp::link::{Event, Frame, Link, LinkConfig, LinkStats};

/// A frame as the peer's decoder hands it to the link.
pub fn frame_bytes(f: &Frame) -> Vec<u8> {
    carrier::hdlc::join_header(f.protocol, &f.data)
}

/// Frames a link has taken: each is counted once, parsed or not.
fn taken(s: &LinkStats) -> u64 {
    s.frames_in + s.bad_header
}

/// `handle_frame` on a bare link (a test of the link below the codec, with
/// octets no decoder would pass), checking that the frame is counted
/// exactly once.
pub fn handle_counted(link: &mut Link, frame: &[u8], now: Instant) {
    let before = taken(link.stats());
    link.handle_frame(frame, now);
    let counted = taken(link.stats()) - before;
    assert_eq!(counted, 1, "frame {frame:02x?} counted {counted} times");
}

/// What arrives of one frame in flight.
#[derive(Clone, Debug)]
pub enum Arrival {
    /// The octets the line sent.
    AsSent,
    /// These frame octets instead (address, control, protocol and
    /// information: a mangled copy, say), framed raw by the sending line.
    Raw(Vec<u8>),
}

/// Loop turns in which the clock does not move: more than this is a busy
/// loop (frames ping-ponging, or a deadline that never clears).
const MAX_TURNS_AT_ONE_INSTANT: u32 = 1_000;
/// Loop turns in one run.
const MAX_TURNS: u32 = 20_000;

/// Two lines and a clock, joined by octets: each frame one line sends is
/// logged and, as the filter decides, its octets (or others) go to the
/// other line. Every frame the decoder hands a link must be counted there
/// exactly once.
pub struct LinePair {
    pub a: Line,
    pub b: Line,
    pub now: Instant,
    pub ev_a: Vec<Event>,
    pub ev_b: Vec<Event>,
    /// Frames each line sent, (from_a, frame), dropped ones too.
    pub wire: Vec<(bool, Frame)>,
    /// The octets each line put on the wire, (a's, b's).
    pub octets: (Vec<u8>, Vec<u8>),
    /// The datagrams each line delivered.
    pub got_a: Vec<Vec<u8>>,
    pub got_b: Vec<Vec<u8>>,
    /// A line whose link reported Down hangs up, as the session does: it
    /// sends what it had queued, then neither sends, receives nor times
    /// out. Off, both lines run on to the end.
    pub hang_up: bool,
    /// A line's whole turn of frames arrives in one read, as a session
    /// reads a burst from the tty: a frame behind the Configure-Ack that
    /// changes the ACCM comes in the same octets. Off, each frame is its
    /// own read.
    pub batch: bool,
    /// Down reported, (a, b).
    down: [bool; 2],
}

impl LinePair {
    pub fn new(a: LinkConfig, b: LinkConfig) -> Self {
        Self::with_seeds(a, b, [1; 32], [2; 32])
    }

    /// Two lines whose random choices (magic numbers, identifiers,
    /// challenges) come from `seed`, b's from a variation of it.
    pub fn seeded(a: LinkConfig, b: LinkConfig, seed: [u8; 32]) -> Self {
        let mut seed_b = seed;
        seed_b[0] ^= 0x5a;
        Self::with_seeds(a, b, seed, seed_b)
    }

    fn with_seeds(a: LinkConfig, b: LinkConfig, seed_a: [u8; 32], seed_b: [u8; 32]) -> Self {
        LinePair {
            a: Line::new(a, seed_a),
            b: Line::new(b, seed_b),
            now: Instant::now(),
            ev_a: Vec::new(),
            ev_b: Vec::new(),
            wire: Vec::new(),
            octets: (Vec::new(), Vec::new()),
            got_a: Vec::new(),
            got_b: Vec::new(),
            hang_up: false,
            batch: false,
            down: [false; 2],
        }
    }

    pub fn start(&mut self) {
        self.a.start(self.now);
        self.b.start(self.now);
    }

    /// (sender, receiver, the sender's octets, the receiver's datagrams).
    fn ends(&mut self, from_a: bool) -> (&mut Line, &mut Line, &mut Vec<u8>, &mut Vec<Vec<u8>>) {
        if from_a {
            (
                &mut self.a,
                &mut self.b,
                &mut self.octets.0,
                &mut self.got_b,
            )
        } else {
            (
                &mut self.b,
                &mut self.a,
                &mut self.octets.1,
                &mut self.got_a,
            )
        }
    }

    /// Whether a (`a`) or b has hung up.
    fn gone(&self, a: bool) -> bool {
        self.hang_up && self.down[usize::from(!a)]
    }

    /// `wire` into a (`to_a`) or b, unless it hung up; checks that the
    /// link counted each frame the decoder passed it once.
    fn deliver(&mut self, to_a: bool, wire: &[u8]) {
        if self.gone(to_a) {
            return;
        }
        let now = self.now;
        let (_, rx, _, got) = self.ends(!to_a);
        let (before, decoded) = (taken(rx.link_stats()), rx.framing_stats().frames);
        rx.handle_input(wire, now, None, |d| got.push(d.to_vec()));
        let counted = taken(rx.link_stats()) - before;
        let decoded = rx.framing_stats().frames - decoded;
        assert_eq!(
            counted, decoded,
            "{decoded} frames in {wire:02x?} counted {counted} times"
        );
    }

    /// Moves every frame one line has to send, a frame at a time (or, with
    /// `batch`, the whole turn in one read); whether there was any.
    fn send_side(
        &mut self,
        from_a: bool,
        filter: &mut impl FnMut(bool, &Frame) -> Vec<Arrival>,
    ) -> bool {
        let now = self.now;
        let mut moved = false;
        let mut burst = BytesMut::new();
        loop {
            let mut sent = None;
            let mut wire = BytesMut::new();
            let (tx, _, octets, _) = self.ends(from_a);
            let mut tap = |_: Direction, protocol: u16, info: &[u8]| {
                sent = Some(Frame {
                    protocol,
                    data: info.to_vec(),
                });
            };
            if !tx.transmit_one(now, Some(&mut tap), &mut wire) {
                break;
            }
            moved = true;
            octets.extend_from_slice(&wire);
            let f = sent.expect("the tap saw the frame");
            for arrival in filter(from_a, &f) {
                let arrived = match arrival {
                    Arrival::AsSent => wire.clone(),
                    Arrival::Raw(body) => {
                        let mut raw = BytesMut::new();
                        self.ends(from_a).0.send_raw(&body, None, &mut raw);
                        raw
                    }
                };
                if self.batch {
                    burst.extend_from_slice(&arrived);
                } else {
                    self.deliver(!from_a, &arrived);
                }
            }
            self.wire.push((from_a, f));
        }
        if !burst.is_empty() {
            self.deliver(!from_a, &burst);
        }
        moved
    }

    fn events(&mut self) {
        for (i, line, ev) in [
            (0, &mut self.a, &mut self.ev_a),
            (1, &mut self.b, &mut self.ev_b),
        ] {
            while let Some(e) = line.poll_event() {
                self.down[i] |= matches!(e, Event::Down { .. });
                ev.push(e);
            }
        }
    }

    /// Moves `now` on to the first timer of the lines still up and runs
    /// them, if it is due by `end`; false if none is (the pair has
    /// settled).
    fn tick(&mut self, end: Instant) -> bool {
        let (ga, gb) = (self.gone(true), self.gone(false));
        let next = [
            (!ga).then(|| self.a.poll_timeout()),
            (!gb).then(|| self.b.poll_timeout()),
        ]
        .into_iter()
        .flatten()
        .flatten()
        .min();
        match next {
            Some(t) if t <= end => {
                self.now = self.now.max(t);
                if !ga {
                    self.a.handle_timeout(self.now);
                }
                if !gb {
                    self.b.handle_timeout(self.now);
                }
                true
            }
            _ => false,
        }
    }

    /// Runs until both sides are quiet and no timer is due within `limit`;
    /// `filter` keeps (true) or drops each frame in flight.
    pub fn run(&mut self, limit: Duration, mut filter: impl FnMut(bool, &Frame) -> bool) {
        self.run_wire(limit, |from_a, f| {
            if filter(from_a, f) {
                vec![Arrival::AsSent]
            } else {
                Vec::new()
            }
        });
    }

    /// Runs until both sides are quiet and no timer is due within `limit`.
    /// `wire(from_a, frame)` says what arrives at the other end: nothing,
    /// the frame, several copies, altered copies. Panics on a busy loop.
    pub fn run_wire(
        &mut self,
        limit: Duration,
        mut wire: impl FnMut(bool, &Frame) -> Vec<Arrival>,
    ) {
        let end = self.now + limit;
        let (mut turns, mut turns_here, mut here) = (0u32, 0u32, self.now);
        loop {
            turns += 1;
            turns_here = if self.now == here { turns_here + 1 } else { 1 };
            here = self.now;
            assert!(turns <= MAX_TURNS, "no end after {turns} turns");
            assert!(
                turns_here <= MAX_TURNS_AT_ONE_INSTANT,
                "busy loop at {:?}: {:?} / {:?}",
                self.now,
                self.a,
                self.b
            );
            // A line that reports Down now still sends what it queued.
            let gone = self.down.map(|d| self.hang_up && d);
            self.events();
            let moved_a = !gone[0] && self.send_side(true, &mut wire);
            let moved_b = !gone[1] && self.send_side(false, &mut wire);
            if moved_a || moved_b {
                continue;
            }
            if !self.tick(end) {
                break;
            }
        }
    }
    pub fn run_clean(&mut self, limit: Duration) {
        self.run(limit, |_, _| true);
    }

    /// `frame` (as [`frame_bytes`] makes it: a header that splits) to `a`
    /// (`to_a`) or `b`, framed by the other line; the datagram it
    /// delivered.
    pub fn handle_frame(&mut self, to_a: bool, frame: &[u8]) -> Option<Vec<u8>> {
        let (protocol, info) = split_header(frame).expect("a frame with a header");
        let now = self.now;
        let mut wire = BytesMut::new();
        self.ends(!to_a)
            .0
            .send_frame(protocol, info, now, None, &mut wire);
        self.deliver_one(to_a, &wire)
    }

    /// [`LinePair::handle_frame`] for octets that need not parse (a
    /// hostile peer's), framed raw: a body under two octets is a runt the
    /// decoder drops before the link.
    pub fn handle_raw(&mut self, to_a: bool, body: &[u8]) -> Option<Vec<u8>> {
        let mut wire = BytesMut::new();
        self.ends(!to_a).0.send_raw(body, None, &mut wire);
        self.deliver_one(to_a, &wire)
    }

    /// [`LinePair::deliver`] of one frame; the datagram it delivered.
    fn deliver_one(&mut self, to_a: bool, wire: &[u8]) -> Option<Vec<u8>> {
        let got = if to_a { &self.got_a } else { &self.got_b };
        let n = got.len();
        self.deliver(to_a, wire);
        let got = if to_a {
            &mut self.got_a
        } else {
            &mut self.got_b
        };
        (got.len() > n).then(|| got.remove(n))
    }

    /// The frames `a` (`from_a`) or `b` has to send, taken off its line
    /// and not delivered.
    pub fn poll_transmit(&mut self, from_a: bool) -> Vec<Frame> {
        let now = self.now;
        let (tx, _, _, _) = self.ends(from_a);
        let mut frames = Vec::new();
        let mut tap = |_: Direction, protocol: u16, info: &[u8]| {
            frames.push(Frame {
                protocol,
                data: info.to_vec(),
            });
        };
        tx.transmit(now, Some(&mut tap), &mut BytesMut::new());
        frames
    }

    /// A datagram from `a` (`from_a`) or `b`: the frame it went out in,
    /// not delivered; None if the link does not carry it now. Control
    /// frames that were waiting go out before it, undelivered too.
    pub fn send_ip(&mut self, from_a: bool, datagram: &[u8]) -> Option<Frame> {
        let now = self.now;
        let (tx, _, _, _) = self.ends(from_a);
        let mut last = None;
        let mut tap = |_: Direction, protocol: u16, info: &[u8]| {
            last = Some(Frame {
                protocol,
                data: info.to_vec(),
            });
        };
        tx.send_ip(datagram, now, Some(&mut tap), &mut BytesMut::new())
            .then_some(())?;
        last
    }
}
