//! Goodput: bulk IP over the simulator's null-modem cable at 33600 and
//! 115200 bit/s, as a fraction of the theoretical limit for the options
//! the two ends negotiated (issue 7; goal >= 97%).
//!
//! carrier<->carrier: two `session::run` on the two ends of a `NullModem`
//! (50 ms one-way latency), the server requiring PAP and assigning the
//! address. The IP plane is implemented here, so no TUN device, namespace
//! or root is needed: the server's plane hands the session a 1500-octet
//! IPv4/UDP datagram every time `next_outbound` is polled (64 distinct
//! datagrams in turn, pseudo-random payload from a fixed seed); the
//! client's plane counts the octets delivered and checks every datagram
//! (order, content).
//!
//! The limit: the line carries bitrate/10 octets per second (8N1). With
//! the negotiated ACCM 0, ACFC and PFC, a datagram costs on the wire one
//! flag (shared between back-to-back frames), the 1-octet protocol field,
//! the datagram, the 2-octet FCS, and one more octet per 0x7d/0x7e among
//! the protocol field, datagram and FCS. That is computed here exactly for
//! each datagram (an independent FCS-16, not carrier's), and
//!   goodput = delivered IP octets/s / (bitrate/10 * 1500 / wire octets per datagram)
//! where the wire octets are those of the very datagrams delivered in the
//! window (so the limit is that of their actual escapes).
//! The table also splits the loss into its two causes: the line's own
//! octet rate (what the cable delivered per second, from a tap on the
//! receiving tty, against bitrate/10) and the framing (the octets carrier
//! wrote per datagram, from a tap on the sending tty, against the ideal).
//!
//! Each case measures over a window after a warm-up: 5 s after 2 s in a
//! full run, 3 s after 1 s with `-- --quick` or CARRIER_BENCH_QUICK=1, and
//! a token 0.5 s at 115200 bit/s only under `cargo test --benches`. The
//! rate is taken between the first and the last delivery inside the
//! window (octets delivered after the first, over the time between), so
//! it does not depend on where the window cuts a datagram: at 33600
//! bit/s a datagram takes 0.45 s. Real-time pacing does not fit criterion's
//! repeated iterations, so this bench prints its table only.

mod common;

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use carrier::events::Reporter;
use carrier::hdlc::Encoder;
use carrier::net::{IpLink, IpPlane};
use carrier::ppp::link::LinkConfig;
use carrier::session::{self, SessionConfig};
use carrier::wire::{checksum_from, pseudo4, write_ipv4_header};
use carrier_hw::AsyncTty;
use carrier_sim::{LineProfile, NullModem};
use common::{
    client_config, server_config, Mode, SplitMix64, Tap, TapLog, CLIENT_ADDR, SERVER_ADDR,
};
use tokio::sync::watch;

const PACKET_LEN: usize = 1500;
const PACKETS: usize = 64;
const SEED: u64 = 0x9e37_1662_600d_0007;
const LATENCY: Duration = Duration::from_millis(50);
const UP_TIMEOUT: Duration = Duration::from_secs(30);

// ------------------------------------------------------------- datagrams

/// `PACKETS` IPv4/UDP datagrams of `PACKET_LEN` octets from the server to
/// the client's discard port; datagram i has IP ID i.
fn datagrams() -> Vec<Vec<u8>> {
    let mut rng = SplitMix64(SEED);
    let (src, dst) = (SERVER_ADDR.octets(), CLIENT_ADDR.octets());
    (0..PACKETS)
        .map(|i| {
            let mut p = vec![0u8; PACKET_LEN];
            let (ip, rest) = p.split_at_mut(20);
            let (udp, payload) = rest.split_at_mut(8);
            rng.fill(payload);
            let udp_len = (8 + payload.len()) as u16;
            udp[0..2].copy_from_slice(&40_000u16.to_be_bytes());
            udp[2..4].copy_from_slice(&9u16.to_be_bytes());
            udp[4..6].copy_from_slice(&udp_len.to_be_bytes());
            let pseudo = pseudo4(src.into(), dst.into(), 17, usize::from(udp_len));
            let mut segment = udp.to_vec();
            segment.extend_from_slice(payload);
            udp[6..8].copy_from_slice(&checksum_from(pseudo, &segment).to_be_bytes());

            // No options, don't fragment, TTL 64.
            let ident = i as u16;
            write_ipv4_header(ip, src.into(), dst.into(), 17, PACKET_LEN - 20, ident);
            p
        })
        .collect()
}

/// RFC 1662 FCS-16 (CRC-16/X-25), written out here so the limit does not
/// come from the code under test.
fn fcs16(data: &[u8]) -> u16 {
    let mut fcs: u16 = 0xffff;
    for &b in data {
        fcs ^= u16::from(b);
        for _ in 0..8 {
            fcs = if fcs & 1 != 0 {
                (fcs >> 1) ^ 0x8408
            } else {
                fcs >> 1
            };
        }
    }
    !fcs
}

/// Octets one datagram takes on the line with ACCM 0, ACFC and PFC, with
/// the flag shared between back-to-back frames: (octets, escapes).
fn ideal_wire_octets(datagram: &[u8]) -> (usize, usize) {
    let mut frame = vec![0x21];
    frame.extend_from_slice(datagram);
    let fcs = fcs16(&frame);
    frame.extend_from_slice(&fcs.to_le_bytes());
    let escapes = frame.iter().filter(|&&b| b == 0x7d || b == 0x7e).count();
    (1 + frame.len() + escapes, escapes)
}

// ------------------------------------------------------------- IP planes

/// Hands out the next datagram every time it is asked.
struct Source {
    packets: Arc<Vec<Vec<u8>>>,
    next: usize,
    up: watch::Sender<bool>,
}

impl IpPlane for Source {
    fn up(&mut self, _link: &IpLink) -> io::Result<String> {
        self.up.send_replace(true);
        Ok("bench source".into())
    }

    fn down(&mut self) {}

    fn deliver(&mut self, _datagram: &[u8]) {}

    async fn next_outbound(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let p = &self.packets[self.next % PACKETS];
        self.next += 1;
        buf[..p.len()].copy_from_slice(p);
        Ok(p.len())
    }

    fn dropped(&self) -> u64 {
        0
    }
}

#[derive(Default)]
struct SinkCounters {
    /// (when, octets delivered so far, datagram index) at each delivery.
    log: Mutex<Vec<(Instant, u64, usize)>>,
    octets: AtomicU64,
    datagrams: AtomicU64,
    /// Datagrams missing from the sequence.
    lost: AtomicU64,
    /// Datagrams not equal to what was sent.
    corrupt: AtomicU64,
}

/// Counts and checks what arrives.
struct Sink {
    packets: Arc<Vec<Vec<u8>>>,
    expect: usize,
    counters: Arc<SinkCounters>,
    up: watch::Sender<bool>,
}

impl IpPlane for Sink {
    fn up(&mut self, _link: &IpLink) -> io::Result<String> {
        self.up.send_replace(true);
        Ok("bench sink".into())
    }

    fn down(&mut self) {}

    fn deliver(&mut self, d: &[u8]) {
        let c = &self.counters;
        let total = c.octets.fetch_add(d.len() as u64, Ordering::Relaxed) + d.len() as u64;
        c.datagrams.fetch_add(1, Ordering::Relaxed);
        let id = d
            .get(4..6)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            .unwrap_or(usize::MAX);
        c.log.lock().unwrap().push((Instant::now(), total, id));
        match self.packets.get(id) {
            Some(p) if p[..] == *d => {
                let gap = (id + PACKETS - self.expect) % PACKETS;
                c.lost.fetch_add(gap as u64, Ordering::Relaxed);
                self.expect = (id + 1) % PACKETS;
            }
            _ => {
                c.corrupt.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    async fn next_outbound(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
        std::future::pending().await
    }

    fn dropped(&self) -> u64 {
        0
    }
}

// ------------------------------------------------------------------ runs

struct Case {
    bitrate: u32,
    /// From the first to the last delivery in the window.
    window: Duration,
    /// Octets delivered after the first delivery in the window, up to
    /// and including the last.
    delivered: u64,
    datagrams: u64,
    /// Line time those datagrams need at the limit (ideal wire octets
    /// over bitrate/10).
    ideal_time: Duration,
    lost: u64,
    corrupt: u64,
    /// Octets the receiving tty read per second: the line's real rate.
    line_rate: f64,
    /// Octets carrier wrote per datagram, and the ideal for the same
    /// datagrams (from the first complete IP frame written to the last).
    wire_per_datagram: f64,
    ideal_per_datagram: f64,
    /// The first IP frame's header as sent (unstuffed).
    header: Vec<u8>,
}

impl Case {
    fn rate(&self) -> f64 {
        self.delivered as f64 / self.window.as_secs_f64()
    }
}

fn open_tapped(device: &Path) -> Result<(Tap<AsyncTty>, Arc<Mutex<TapLog>>), String> {
    let tty = AsyncTty::open(device, None).map_err(|e| format!("open {device:?}: {e}"))?;
    Ok(Tap::new(tty))
}

/// One session until it is aborted.
async fn serve<P: IpPlane>(mut tap: Tap<AsyncTty>, cfg: LinkConfig, mut plane: P) {
    let (_stop_tx, stop) = watch::channel(false);
    let cfg = SessionConfig {
        link: cfg,
        ..SessionConfig::default()
    };
    let _ = session::run(&mut tap, &mut plane, cfg, &Reporter::to_log("bench"), stop).await;
}

fn run_case(
    rt: &tokio::runtime::Runtime,
    packets: &Arc<Vec<Vec<u8>>>,
    ideal: &[usize],
    bitrate: u32,
    warmup: Duration,
    window: Duration,
) -> Result<Case, String> {
    let _rt = rt.enter();
    let cable = NullModem::spawn(LineProfile {
        bitrate: Some(bitrate),
        latency: LATENCY,
    })
    .map_err(|e| e.to_string())?;
    let (src_up_tx, src_up) = watch::channel(false);
    let (dst_up_tx, dst_up) = watch::channel(false);
    let counters = Arc::new(SinkCounters::default());
    let source = Source {
        packets: packets.clone(),
        next: 0,
        up: src_up_tx,
    };
    let sink = Sink {
        packets: packets.clone(),
        expect: 0,
        counters: counters.clone(),
        up: dst_up_tx,
    };
    let (tx_tap, tx_log) = open_tapped(cable.end_a())?;
    let (rx_tap, rx_log) = open_tapped(cable.end_b())?;
    // Spawned with the planes' concrete types, so their futures are Send.
    let tx_task = tokio::spawn(serve(tx_tap, server_config(), source));
    let rx_task = tokio::spawn(serve(rx_tap, client_config(), sink));
    let finish = || {
        tx_task.abort();
        rx_task.abort();
    };

    let deadline = Instant::now() + UP_TIMEOUT;
    while !(*src_up.borrow() && *dst_up.borrow()) {
        if Instant::now() > deadline {
            finish();
            return Err("IPCP not up within 30 s".into());
        }
        thread::sleep(Duration::from_millis(5));
    }
    while counters.datagrams.load(Ordering::Relaxed) == 0 {
        if Instant::now() > deadline {
            finish();
            return Err("no datagram delivered".into());
        }
        thread::sleep(Duration::from_millis(5));
    }
    thread::sleep(warmup);

    let snap = || {
        let rx = rx_log.lock().unwrap();
        (Instant::now(), rx.bytes_read, rx.last_read_at)
    };
    let s1 = snap();
    thread::sleep(window);
    let s2 = snap();
    finish();
    drop(cable);

    // Deliveries inside the window: rate between the first and the last.
    let log = counters.log.lock().unwrap();
    let inside: Vec<&(Instant, u64, usize)> =
        log.iter().filter(|d| d.0 >= s1.0 && d.0 <= s2.0).collect();
    let (Some(first), Some(last)) = (inside.first(), inside.last()) else {
        return Err("nothing delivered in the window".into());
    };
    if inside.len() < 2 {
        return Err("fewer than two deliveries in the window: make it longer".into());
    }
    let line_rate = match (s1.2, s2.2) {
        (Some(a), Some(b)) if b > a => (s2.1 - s1.1) as f64 / (b - a).as_secs_f64(),
        _ => 0.0,
    };
    let octet_rate = f64::from(bitrate) / 10.0;
    let ideal_octets: usize = inside[1..].iter().map(|d| ideal[d.2 % PACKETS]).sum();
    let tx = tx_log.lock().unwrap();
    // Frame k sent is datagram k % PACKETS.
    let ends = &tx.ip_sent_ends;
    let (wire_per_datagram, ideal_per_datagram) = if ends.len() >= 2 {
        let n = ends.len() - 1;
        let ideal_sum: usize = (1..ends.len()).map(|k| ideal[k % PACKETS]).sum();
        (
            (ends[n] - ends[0]) as f64 / n as f64,
            ideal_sum as f64 / n as f64,
        )
    } else {
        (0.0, 0.0)
    };
    Ok(Case {
        bitrate,
        window: last.0 - first.0,
        delivered: last.1 - first.1,
        datagrams: inside.len() as u64 - 1,
        ideal_time: Duration::from_secs_f64(ideal_octets as f64 / octet_rate),
        lost: counters.lost.load(Ordering::Relaxed),
        corrupt: counters.corrupt.load(Ordering::Relaxed),
        line_rate,
        wire_per_datagram,
        ideal_per_datagram,
        header: tx.first_ip_header.clone().unwrap_or_default(),
    })
}

fn main() {
    let mode = Mode::detect();
    if common::listing() {
        return;
    }
    let packets = Arc::new(datagrams());
    let ideal: Vec<(usize, usize)> = packets.iter().map(|p| ideal_wire_octets(p)).collect();
    let ideal_wire = ideal.iter().map(|x| x.0).sum::<usize>() as f64 / PACKETS as f64;
    let escapes = ideal.iter().map(|x| x.1).sum::<usize>() as f64 / PACKETS as f64;
    let ideal_octets: Vec<usize> = ideal.iter().map(|x| x.0).collect();

    // Cross-check: carrier's encoder with the same options, each frame
    // sharing the previous one's closing flag as the session does under
    // load, writes exactly the ideal octets.
    let mut enc = Encoder::new();
    enc.set_accm(0);
    enc.set_compression(true, true);
    let mut out = BytesMut::new();
    let mut carrier_wire = 0;
    for p in packets.iter() {
        out.clear();
        enc.encode_frame(0x0021, p, false, &mut out);
        carrier_wire += out.len();
    }
    let carrier_wire = carrier_wire as f64 / PACKETS as f64;

    let (warmup, window) = mode.pick(
        (Duration::from_millis(200), Duration::from_millis(500)),
        (Duration::from_secs(1), Duration::from_secs(3)),
        (Duration::from_secs(2), Duration::from_secs(5)),
    );
    let bitrates: &[u32] = match mode {
        Mode::Test => &[115_200],
        _ => &[33_600, 115_200],
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let results: Vec<(u32, Result<Case, String>)> = bitrates
        .iter()
        .map(|&b| (b, run_case(&rt, &packets, &ideal_octets, b, warmup, window)))
        .collect();
    rt.shutdown_timeout(Duration::from_secs(1));

    println!();
    println!("goodput: {mode}");
    println!(
        "Bulk IPv4/UDP, {PACKET_LEN}-octet datagrams, carrier<->carrier over the simulated line \
         ({} ms latency), server -> client; {:.1} s window after {:.1} s warm-up",
        LATENCY.as_millis(),
        window.as_secs_f64(),
        warmup.as_secs_f64()
    );
    println!(
        "ideal wire octets per datagram (ACCM 0, ACFC, PFC, shared flag): {ideal_wire:.2} \
         ({escapes:.2} escapes on average); carrier's encoder writes {carrier_wire:.2}"
    );
    println!(
        "{:>8} {:>10} {:>11} {:>11} {:>8} {:>9} {:>7} {:>9} {:>10} {:>12}",
        "bit/s",
        "datagrams",
        "goodput B/s",
        "limit B/s",
        "goodput",
        "line B/s",
        "line %",
        "wire/dgm",
        "framing %",
        "lost/corrupt"
    );
    let mut all_met = true;
    for (bitrate, r) in &results {
        match r {
            Ok(c) => {
                let octet_rate = f64::from(c.bitrate) / 10.0;
                // The limit for the very datagrams delivered in the window.
                let limit = c.delivered as f64 / c.ideal_time.as_secs_f64();
                let goodput = c.rate() / limit;
                all_met &= goodput >= 0.97;
                println!(
                    "{:>8} {:>10} {:>11.1} {:>11.1} {:>7.2}% {:>9.1} {:>6.2}% {:>9.2} {:>9.2}% {:>12}",
                    c.bitrate,
                    c.datagrams,
                    c.rate(),
                    limit,
                    goodput * 100.0,
                    c.line_rate,
                    c.line_rate / octet_rate * 100.0,
                    c.wire_per_datagram,
                    c.ideal_per_datagram / c.wire_per_datagram * 100.0,
                    format!("{}/{}", c.lost, c.corrupt)
                );
            }
            Err(why) => {
                all_met = false;
                println!("{bitrate:>8} n/a ({why})");
            }
        }
    }
    if let Some(Ok(c)) = results.first().map(|r| &r.1) {
        let h: Vec<String> = c.header.iter().map(|b| format!("{b:02x}")).collect();
        println!(
            "first IP frame starts {} (0x21 alone: ACFC and PFC in force)",
            h.join(" ")
        );
    }
    println!(
        "line % = octets the cable delivered per second / (bit/s / 10); \
         framing % = ideal / written octets per datagram; goodput ~= line % x framing %"
    );
    println!(
        "Goal (>= 97% of the limit): {}",
        if all_met { "met" } else { "NOT met" }
    );
}
