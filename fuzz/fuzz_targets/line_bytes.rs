//! Octets off a line into carrier's sans-IO `Line` (the HDLC codec and
//! the link together, as the session runs them), with clock steps and
//! datagrams to send in between.
//!
//! Input: a configuration octet (as `link_frames`), then records of one
//! tag octet and what it says: `0 len data` octets from the line; `1 ms`
//! a clock step of up to 255 ms; `2` a jump to the next deadline; `3 len
//! data` a datagram from the IP side.
//!
//! Invariants: no panic; each frame the line writes decodes, by a decoder
//! that takes every control octet as data, to a frame with a good FCS (so
//! nothing it sends is torn, whatever the framing was when it was
//! written); the octets counted as IP sent never run backwards; no deadline
//! is still due after `handle_timeout`.

#![no_main]

use std::time::{Duration, Instant};

use bytes::BytesMut;
use carrier::hdlc::Decoder;
use carrier::line::Line;
use carrier_fuzz::{link_config, LINK_SEED};
use libfuzzer_sys::fuzz_target;

fn take<'a>(data: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (&len, rest) = data.split_first()?;
    let n = usize::from(len).min(rest.len());
    let (chunk, rest) = rest.split_at(n);
    *data = rest;
    Some(chunk)
}

/// Frames the line wrote since the last call (at least `frames` of them),
/// each checked.
fn check_written(wire: &mut BytesMut, frames: usize, peer: &mut Decoder) {
    let mut good = 0;
    let dropped = peer.stats().discarded();
    peer.decode(wire, |_| good += 1, |_| {});
    assert_eq!(peer.stats().discarded(), dropped, "a frame we wrote does not decode");
    assert!(good >= frames, "{frames} frames written, {good} decoded");
    wire.clear();
}

fuzz_target!(|data: &[u8]| {
    let [config, ref rest @ ..] = *data else {
        return;
    };
    let mut data = rest;
    let mut now = Instant::now();
    let mut line = Line::new(link_config(config), LINK_SEED);
    line.start(now);
    // The far end reads what we write: controls taken as data, any size.
    let mut peer = Decoder::new(65535);
    peer.set_accm(0);
    let mut wire = BytesMut::new();
    let mut sent = 0;
    while let Some((&tag, rest)) = data.split_first() {
        data = rest;
        match tag % 4 {
            0 => {
                let Some(chunk) = take(&mut data) else { break };
                line.handle_input(chunk, now, None, |_| {});
            }
            1 => {
                let Some((&ms, rest)) = data.split_first() else { break };
                data = rest;
                now += Duration::from_millis(u64::from(ms));
                line.handle_timeout(now);
            }
            2 => {
                if let Some(t) = line.poll_timeout() {
                    now = now.max(t);
                    line.handle_timeout(now);
                    assert!(line.poll_timeout().is_none_or(|t| t > now), "deadline still due");
                }
            }
            _ => {
                let Some(datagram) = take(&mut data) else { break };
                line.send_ip(datagram, now, None, &mut wire);
            }
        }
        while line.poll_event().is_some() {}
        let n = line.transmit(now, None, &mut wire);
        check_written(&mut wire, n, &mut peer);
        assert!(line.octets().sent >= sent, "IP octets sent ran backwards");
        sent = line.octets().sent;
    }
});
