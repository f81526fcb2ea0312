//! Writes seed inputs for the `link_frames` target: for every
//! configuration octet, the fuzzed link negotiates with a well-behaved peer
//! and what the peer sends it is recorded in the target's input format, so
//! the fuzzer starts from whole negotiations (authentication, IPCP, echoes)
//! instead of having to find them.
//!
//! `cargo run --example link_seeds [DIR]` (default `seeds/link_frames`).

use std::time::{Duration, Instant};

use carrier::hdlc::join_header;
use carrier::ppp::link::Link;
use carrier_fuzz::{link_config, peer_config, LINK_SEED};

/// Fake time each recorded conversation may take.
const LIMIT: Duration = Duration::from_secs(20);

/// One conversation as a `link_frames` input, and whether IP came up.
fn record(c: u8) -> (Vec<u8>, bool) {
    let mut input = vec![c];
    let mut link = Link::new(link_config(c), LINK_SEED);
    let mut peer = Link::new(peer_config(c), [0x77; 32]);
    let start = Instant::now();
    let mut now = start;
    for l in [&mut link, &mut peer] {
        l.open(now);
        l.lower_up(now);
    }
    for _ in 0..10_000 {
        let mut moved = false;
        while let Some(f) = link.poll_transmit() {
            moved = true;
            peer.handle_frame(&join_header(f.protocol, &f.data), now);
        }
        while let Some(f) = peer.poll_transmit() {
            moved = true;
            let bytes = join_header(f.protocol, &f.data);
            if let Ok(len) = u8::try_from(bytes.len()) {
                // op 0: a raw frame (its header included).
                input.extend_from_slice(&[0, len]);
                input.extend_from_slice(&bytes);
                link.handle_frame(&bytes, now);
            }
        }
        while link.poll_event().is_some() {}
        while peer.poll_event().is_some() {}
        if moved {
            continue;
        }
        let ours = link.poll_timeout();
        let next = [ours, peer.poll_timeout()].into_iter().flatten().min();
        match next {
            Some(t) if t <= start + LIMIT => {
                now = now.max(t);
                if ours.is_some_and(|o| o <= now) {
                    // op 3: the fuzzed link's clock jumps to its deadline.
                    input.push(3);
                }
                link.handle_timeout(now);
                peer.handle_timeout(now);
            }
            _ => break,
        }
    }
    (input, link.is_ip_up())
}

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "seeds/link_frames".into());
    std::fs::create_dir_all(&dir)?;
    let mut up = 0;
    for c in 0..=255u8 {
        let (input, ip_up) = record(c);
        up += usize::from(ip_up);
        std::fs::write(format!("{dir}/conf-{c:02x}"), input)?;
    }
    println!("wrote 256 seeds to {dir}; IP came up in {up}");
    Ok(())
}
