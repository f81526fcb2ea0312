//! Arbitrary frames and clock steps into one opened PPP link.
//!
//! Input: a configuration octet (see `carrier_fuzz::link_config`), then
//! records, each an op octet and what it needs:
//!
//! - op % 5 in 0..=1: a frame of `len` (next octet) octets, after a header
//!   chosen by `(op >> 3) % 6`: none (raw), or `ff 03` and LCP, IPCP, PAP,
//!   CHAP or IPv4;
//! - 2: the clock moves `n * 100 ms` (next octet), then `handle_timeout`;
//! - 3: the clock jumps to the link's next deadline, then `handle_timeout`;
//! - 4: the peer Acks the link's last Configure-Request (LCP or IPCP), so
//!   the fuzzer reaches the later phases without guessing magic numbers.
//!
//! Invariants: no panic; every frame is counted once (frames_in or
//! bad_header); no deadline is still due after `handle_timeout` (a driver
//! would spin); every frame sent is counted and is a control packet with a
//! true Length field; Echo-Reply, Code-Reject and Protocol-Reject fit the
//! peer's MRU; IP is up only in the Network phase.

#![no_main]

use std::time::{Duration, Instant};

use carrier::ppp::link::Link;
use carrier::ppp::packet::Packet;
use carrier::ppp::{proto, Phase};
use carrier_fuzz::{link_config, LINK_SEED};
use libfuzzer_sys::fuzz_target;

const HEADERS: [Option<u16>; 6] = [
    None,
    Some(proto::LCP),
    Some(proto::IPCP),
    Some(proto::PAP),
    Some(proto::CHAP),
    Some(proto::IPV4),
];

struct Harness {
    link: Link,
    now: Instant,
    /// Frames handed to `handle_frame` and taken from `poll_transmit`.
    fed: u64,
    sent: u64,
    /// The last Configure-Request sent, (protocol, packet).
    last_request: [Option<Vec<u8>>; 2],
}

impl Harness {
    fn feed(&mut self, frame: &[u8]) {
        let before = *self.link.stats();
        self.link.handle_frame(frame, self.now);
        let after = self.link.stats();
        let counted = (after.frames_in - before.frames_in) + (after.bad_header - before.bad_header);
        assert_eq!(counted, 1, "frame counted {counted} times");
        self.fed += 1;
        self.drain();
    }

    fn timeout(&mut self) {
        self.link.handle_timeout(self.now);
        if let Some(t) = self.link.poll_timeout() {
            assert!(t > self.now, "deadline still due after handle_timeout");
        }
        self.drain();
    }

    fn drain(&mut self) {
        let peer_mru = usize::from(self.link.framing().peer_mru);
        while let Some(f) = self.link.poll_transmit() {
            self.sent += 1;
            let pkt = Packet::parse(&f.data).expect("we send well-formed packets");
            assert_eq!(pkt.data.len() + 4, f.data.len(), "Length field lies");
            match (f.protocol, pkt.code) {
                (proto::LCP | proto::IPCP, 7) | (proto::LCP, 8 | 10) => {
                    assert!(
                        f.data.len() <= peer_mru,
                        "{} octets for a peer MRU of {peer_mru}",
                        f.data.len()
                    );
                }
                _ => {}
            }
            if pkt.code == 1 {
                match f.protocol {
                    proto::LCP => self.last_request[0] = Some(f.data),
                    proto::IPCP => self.last_request[1] = Some(f.data),
                    _ => {}
                }
            }
        }
        assert_eq!(self.sent, self.link.stats().frames_out);
        while self.link.poll_event().is_some() {}
        if self.link.is_ip_up() {
            assert_eq!(self.link.phase(), Phase::Network);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&c, mut rest)) = data.split_first() else {
        return;
    };
    let now = Instant::now();
    let mut h = Harness {
        link: Link::new(link_config(c), LINK_SEED),
        now,
        fed: 0,
        sent: 0,
        last_request: [None, None],
    };
    h.link.open(now);
    h.link.lower_up(now);
    h.drain();

    let end = now + Duration::from_secs(24 * 3600);
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        match op % 5 {
            0 | 1 => {
                let Some((&len, tail)) = rest.split_first() else {
                    break;
                };
                let (body, tail) = tail.split_at(usize::from(len).min(tail.len()));
                rest = tail;
                let mut frame = Vec::with_capacity(4 + body.len());
                if let Some(p) = HEADERS[usize::from(op >> 3) % HEADERS.len()] {
                    frame.extend_from_slice(&[0xff, 0x03]);
                    frame.extend_from_slice(&p.to_be_bytes());
                }
                frame.extend_from_slice(body);
                h.feed(&frame);
            }
            2 => {
                let Some((&n, tail)) = rest.split_first() else {
                    break;
                };
                rest = tail;
                h.now += Duration::from_millis(100) * u32::from(n);
                h.timeout();
            }
            3 => {
                if let Some(t) = h.link.poll_timeout() {
                    // Never backwards, and not past a day of fake time.
                    h.now = h.now.max(t.min(end));
                }
                h.timeout();
            }
            _ => {
                let which = usize::from(op >> 3) % 2;
                if let Some(mut req) = h.last_request[which].clone() {
                    req[0] = 2;
                    let protocol = [proto::LCP, proto::IPCP][which];
                    let mut frame = vec![0xff, 0x03];
                    frame.extend_from_slice(&protocol.to_be_bytes());
                    frame.extend_from_slice(&req);
                    h.feed(&frame);
                }
            }
        }
    }
    assert_eq!(h.link.stats().frames_in + h.link.stats().bad_header, h.fed);
});
