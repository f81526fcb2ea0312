//! Two sans-IO links wired back to back with a fake clock: whole
//! negotiations in microseconds, deterministically.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use carrier::ppp::link::{Event, Frame, Link, LinkConfig};

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
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.a.handle_timeout(self.now);
                    self.b.handle_timeout(self.now);
                }
                _ => break,
            }
        }
    }

    pub fn run_clean(&mut self, limit: Duration) {
        self.run(limit, |_, _| true);
    }
}
