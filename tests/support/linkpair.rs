//! Two sans-IO links wired back to back with a fake clock: whole
//! negotiations in microseconds, deterministically. [`LinePair`] joins two
//! [`Line`]s (codec and link, as the session drives them) by octets;
//! [`Pair`] joins two bare links by frames, for tests that hand a link
//! frames no encoder would make.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use bytes::BytesMut;
use carrier::hdlc::split_header;
use carrier::line::Line;
use carrier::ppp::activity::Direction;
use carrier::ppp::link::{Event, Frame, Link, LinkConfig};

/// What the clock drives: a bare link or a line.
trait Timers {
    fn next(&self) -> Option<Instant>;
    fn fire(&mut self, now: Instant);
}

impl Timers for Link {
    fn next(&self) -> Option<Instant> {
        self.poll_timeout()
    }
    fn fire(&mut self, now: Instant) {
        self.handle_timeout(now)
    }
}

impl Timers for Line {
    fn next(&self) -> Option<Instant> {
        self.poll_timeout()
    }
    fn fire(&mut self, now: Instant) {
        self.handle_timeout(now)
    }
}

/// Moves `now` on to the first timer of `a` and `b` and runs both, if it
/// is due by `end`; false if none is (the pair has settled).
fn tick<T: Timers>(now: &mut Instant, end: Instant, a: &mut T, b: &mut T) -> bool {
    match [a.next(), b.next()].into_iter().flatten().min() {
        Some(t) if t <= end => {
            *now = (*now).max(t);
            a.fire(*now);
            b.fire(*now);
            true
        }
        _ => false,
    }
}

/// Two links and a clock. `filter` may drop or alter frames in flight.
pub struct Pair {
    pub a: Link,
    pub b: Link,
    pub now: Instant,
    pub ev_a: Vec<Event>,
    pub ev_b: Vec<Event>,
    /// Frames seen on the wire, (from_a, frame).
    pub wire: Vec<(bool, Frame)>,
}

/// A frame as the peer's decoder hands it to `handle_frame`.
pub fn frame_bytes(f: &Frame) -> Vec<u8> {
    carrier::hdlc::join_header(f.protocol, &f.data)
}

impl Pair {
    pub fn new(a: LinkConfig, b: LinkConfig) -> Self {
        Pair {
            a: Link::new(a, [1; 32]),
            b: Link::new(b, [2; 32]),
            now: Instant::now(),
            ev_a: Vec::new(),
            ev_b: Vec::new(),
            wire: Vec::new(),
        }
    }

    pub fn start(&mut self) {
        for l in [&mut self.a, &mut self.b] {
            l.open(self.now);
            l.lower_up(self.now);
        }
    }

    /// Runs until both sides are quiet and no timer is due within `limit`.
    pub fn run(&mut self, limit: Duration, mut filter: impl FnMut(bool, &Frame) -> bool) {
        let end = self.now + limit;
        loop {
            let mut moved = false;
            while let Some(f) = self.a.poll_transmit() {
                moved = true;
                self.wire.push((true, f.clone()));
                if filter(true, &f) {
                    self.b.handle_frame(&frame_bytes(&f), self.now);
                }
            }
            while let Some(f) = self.b.poll_transmit() {
                moved = true;
                self.wire.push((false, f.clone()));
                if filter(false, &f) {
                    self.a.handle_frame(&frame_bytes(&f), self.now);
                }
            }
            while let Some(e) = self.a.poll_event() {
                self.ev_a.push(e);
            }
            while let Some(e) = self.b.poll_event() {
                self.ev_b.push(e);
            }
            if moved {
                continue;
            }
            if !tick(&mut self.now, end, &mut self.a, &mut self.b) {
                break;
            }
        }
    }

    pub fn run_clean(&mut self, limit: Duration) {
        self.run(limit, |_, _| true);
    }
}

/// Two lines and a clock, joined by octets: each frame one line sends is
/// logged and, unless `filter` drops it, its octets go to the other line.
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
}

impl LinePair {
    pub fn new(a: LinkConfig, b: LinkConfig) -> Self {
        LinePair {
            a: Line::new(a, [1; 32]),
            b: Line::new(b, [2; 32]),
            now: Instant::now(),
            ev_a: Vec::new(),
            ev_b: Vec::new(),
            wire: Vec::new(),
            octets: (Vec::new(), Vec::new()),
            got_a: Vec::new(),
            got_b: Vec::new(),
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

    /// Moves every frame one line has to send, a frame at a time; whether
    /// there was any.
    fn send_side(&mut self, from_a: bool, filter: &mut impl FnMut(bool, &Frame) -> bool) -> bool {
        let now = self.now;
        let mut moved = false;
        loop {
            let mut sent = None;
            let mut wire = BytesMut::new();
            let (tx, rx, octets, got) = self.ends(from_a);
            let mut tap = |_: Direction, protocol: u16, info: &[u8]| {
                sent = Some(Frame {
                    protocol,
                    data: info.to_vec(),
                });
            };
            if !tx.transmit_one(now, Some(&mut tap), &mut wire) {
                return moved;
            }
            moved = true;
            octets.extend_from_slice(&wire);
            let f = sent.expect("the tap saw the frame");
            if filter(from_a, &f) {
                rx.handle_input(&wire, now, None, |d| got.push(d.to_vec()));
            }
            self.wire.push((from_a, f));
        }
    }

    fn events(&mut self) {
        while let Some(e) = self.a.poll_event() {
            self.ev_a.push(e);
        }
        while let Some(e) = self.b.poll_event() {
            self.ev_b.push(e);
        }
    }

    /// Runs until both sides are quiet and no timer is due within `limit`.
    pub fn run(&mut self, limit: Duration, mut filter: impl FnMut(bool, &Frame) -> bool) {
        let end = self.now + limit;
        loop {
            self.events();
            let moved_a = self.send_side(true, &mut filter);
            let moved_b = self.send_side(false, &mut filter);
            self.events();
            if moved_a || moved_b {
                continue;
            }
            if !tick(&mut self.now, end, &mut self.a, &mut self.b) {
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
        let (from, to, _, _) = self.ends(!to_a);
        let mut wire = BytesMut::new();
        from.send_frame(protocol, info, now, None, &mut wire);
        let mut got = None;
        to.handle_input(&wire, now, None, |d| got = Some(d.to_vec()));
        got
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
