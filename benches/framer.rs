//! Throughput of carrier's RFC 1662 framer (`carrier::hdlc`) against the
//! framing inside the `ppproto` crate, plus a check that carrier's framer
//! does not allocate per frame.
//!
//! Workload: 64 distinct 1500-octet IPv4 packets (a real IPv4 + TCP header,
//! then pseudo-random payload from a fixed seed, so the escape rate is that
//! of compressed or encrypted traffic), framed with ACCM 0x00000000 and with
//! ACCM 0xffffffff. Throughput counts IP-packet octets (1500 per frame) in
//! both directions, so encode and decode figures are comparable whatever the
//! stuffing overhead; criterion reports them in decimal MB/s.
//!
//! ppproto's framer is private, so it is measured through its public API:
//! `PPPoS::send` for encoding and `PPPoS::consume` + `PPPoS::poll` for
//! decoding. `send` escapes by the peer's async-map from LCP, which can only
//! be set by negotiating it, so each ppproto instance is first taken through
//! a real LCP exchange (the peer's Configure-Request carries the ACCM under
//! test) up to phase Network; the bench then checks that `send` produces the
//! very octets carrier's encoder does. ppproto hands IPv4 frames to the caller
//! from `poll` in any phase, so the phase does not change what is measured.
//!
//! After the criterion groups a summary table is printed, timed with a plain
//! `Instant` loop so it appears whatever criterion options are given, then
//! the allocations per frame counted by this binary's global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use carrier::hdlc::{split_header, Decoder, Encoder, DEFAULT_MRU};
use carrier::wire::{checksum_from, pseudo4, write_ipv4_header};
use criterion::{Criterion, Throughput};
use ppproto::pppos::{PPPoS, PPPoSAction};
use ppproto::{Config, Phase};

/// Counts every allocation the process makes (allocations, zeroed
/// allocations and reallocations; frees are not counted).
struct CountingAlloc;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method only forwards its arguments unchanged to `System`,
// which upholds the `GlobalAlloc` contract; the only addition is a relaxed
// atomic counter increment, which neither allocates nor touches the memory.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

const PROTO_IPV4: u16 = 0x0021;
const PROTO_LCP: u16 = 0xc021;
const PACKET_LEN: usize = 1500;
const FRAMES_PER_BATCH: usize = 64;
const BATCH_BYTES: u64 = (PACKET_LEN * FRAMES_PER_BATCH) as u64;
const SEED: u64 = 0x5eed_1662_c0ff_ee00;
const ACCMS: [u32; 2] = [0x0000_0000, 0xffff_ffff];
/// Big enough for a 1500-octet packet with every octet escaped.
const TX_BUF_LEN: usize = 2 * (PACKET_LEN + 8) + 2;
const RX_BUF_LEN: usize = 2048;

/// SplitMix64: a fixed, dependency-free stream of pseudo-random octets.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// `count` IPv4/TCP packets of `PACKET_LEN` octets, as a server would send
/// a bulk download: consecutive IDs and sequence numbers, random payload.
fn ipv4_packets(count: usize) -> Vec<Vec<u8>> {
    let mut rng = SplitMix64(SEED);
    let src = [93, 184, 216, 34];
    let dst = [10, 64, 64, 2];
    let mut seq = rng.next_u64() as u32;
    let ack = rng.next_u64() as u32;
    (0..count)
        .map(|i| {
            let mut p = vec![0u8; PACKET_LEN];
            let (ip, rest) = p.split_at_mut(20);
            let (tcp, payload) = rest.split_at_mut(20);
            rng.fill(payload);

            tcp[0..2].copy_from_slice(&443u16.to_be_bytes());
            tcp[2..4].copy_from_slice(&51_234u16.to_be_bytes());
            tcp[4..8].copy_from_slice(&seq.to_be_bytes());
            tcp[8..12].copy_from_slice(&ack.to_be_bytes());
            tcp[12] = 5 << 4; // data offset: no options
            tcp[13] = 0x18; // PSH, ACK
            tcp[14..16].copy_from_slice(&502u16.to_be_bytes());
            seq = seq.wrapping_add(payload.len() as u32);
            let tcp_len = tcp.len() + payload.len();
            let pseudo = pseudo4(src.into(), dst.into(), 6, tcp_len);
            let mut segment = tcp.to_vec();
            segment.extend_from_slice(payload);
            tcp[16..18].copy_from_slice(&checksum_from(pseudo, &segment).to_be_bytes());

            // No options, don't fragment, TTL 64.
            let ident = 0x1c46u16.wrapping_add(i as u16);
            write_ipv4_header(ip, src.into(), dst.into(), 6, PACKET_LEN - 20, ident);
            p
        })
        .collect()
}

fn carrier_encoder(accm: u32) -> Encoder {
    let mut e = Encoder::new();
    e.set_accm(accm);
    e
}

fn carrier_decoder(accm: u32) -> Decoder {
    let mut d = Decoder::new(DEFAULT_MRU);
    d.set_accm(accm);
    d
}

/// All packets framed back to back, each with its own opening and closing
/// flag, as carrier's encoder writes them.
fn wire_of(packets: &[Vec<u8>], accm: u32) -> Vec<u8> {
    let mut e = carrier_encoder(accm);
    let mut out = BytesMut::new();
    for p in packets {
        e.encode(PROTO_IPV4, p, &mut out);
    }
    out.to_vec()
}

fn carrier_encode_batch(e: &mut Encoder, packets: &[Vec<u8>], out: &mut BytesMut) {
    for p in packets {
        out.clear();
        e.encode(PROTO_IPV4, p, out);
        black_box(&out[..]);
    }
}

/// Decodes `wire` and hands each IPv4 packet on, as ppproto's `poll` does.
fn carrier_decode_batch(d: &mut Decoder, wire: &[u8]) -> usize {
    let mut frames = 0;
    d.decode(
        wire,
        |f| {
            if let Ok((PROTO_IPV4, ip)) = split_header(f) {
                black_box(ip);
                frames += 1;
            }
        },
        |r| panic!("carrier discarded a frame: {r:?}"),
    );
    frames
}

fn ppproto_encode_batch(ppp: &mut PPPoS<'_>, packets: &[Vec<u8>], tx: &mut [u8]) {
    for p in packets {
        let n = ppp
            .send(p, tx)
            .expect("tx buffer holds a fully escaped frame");
        black_box(&tx[..n]);
    }
}

fn ppproto_decode_batch(ppp: &mut PPPoS<'_>, wire: &[u8], rx: &mut [u8], tx: &mut [u8]) -> usize {
    let mut frames = 0;
    let mut data = wire;
    while !data.is_empty() {
        // `consume` stops after each complete frame until `poll` takes it.
        let used = ppp.consume(data, rx);
        data = &data[used..];
        match ppp.poll(tx, rx) {
            PPPoSAction::Received(range) => {
                black_box(&rx[range]);
                frames += 1;
            }
            PPPoSAction::Transmit(_) => panic!("ppproto transmitted while receiving IP"),
            PPPoSAction::None => {}
        }
    }
    frames
}

/// Every LCP packet in `wire`, as information fields.
fn lcp_packets(wire: &[u8]) -> Vec<Vec<u8>> {
    let mut packets = Vec::new();
    Decoder::default().decode(
        wire,
        |f| {
            if let Ok((PROTO_LCP, info)) = split_header(f) {
                packets.push(info.to_vec());
            }
        },
        |r| panic!("ppproto sent a bad frame: {r:?}"),
    );
    packets
}

/// Feeds `wire` to ppproto; returns the LCP packets it sent in reply.
fn ppproto_feed(ppp: &mut PPPoS<'_>, wire: &[u8]) -> Vec<Vec<u8>> {
    let mut rx = [0u8; RX_BUF_LEN];
    let mut tx = [0u8; 512];
    let mut sent = Vec::new();
    let mut data = wire;
    loop {
        let used = ppp.consume(data, &mut rx);
        data = &data[used..];
        match ppp.poll(&mut tx, &mut rx) {
            PPPoSAction::Transmit(n) => sent.extend(lcp_packets(&tx[..n])),
            PPPoSAction::Received(_) => panic!("ppproto received IP during LCP"),
            PPPoSAction::None if data.is_empty() => return sent,
            PPPoSAction::None => {}
        }
    }
}

/// A ppproto link whose LCP has opened with `accm` as the peer's receive
/// ACCM (so `send` escapes by it), left in phase Network.
fn ppproto_link(accm: u32) -> PPPoS<'static> {
    let mut ppp = PPPoS::new(Config {
        username: b"bench",
        password: b"bench",
    });
    ppp.open().expect("a new PPPoS is Dead");
    // ppproto's own Configure-Request.
    let sent = ppproto_feed(&mut ppp, &[]);
    let request = sent
        .iter()
        .find(|p| p.first() == Some(&1))
        .expect("ppproto sends an LCP Configure-Request")
        .clone();

    // The peer asks for `accm` and acknowledges ppproto's request as sent.
    let mut e = Encoder::new();
    let mut wire = BytesMut::new();
    let mut ours = vec![1, 1, 0, 10, 2, 6];
    ours.extend_from_slice(&accm.to_be_bytes());
    e.encode(PROTO_LCP, &ours, &mut wire);
    let mut ack = request;
    ack[0] = 2;
    e.encode(PROTO_LCP, &ack, &mut wire);
    let replies = ppproto_feed(&mut ppp, &wire);
    assert!(
        replies.iter().any(|p| p[..2] == [2, 1]),
        "ppproto did not Configure-Ack our ACCM: {replies:02x?}"
    );
    assert_eq!(ppp.status().phase, Phase::Network);
    ppp
}

/// Checks that both framers agree before timing them: ppproto's `send`
/// must produce carrier's octets (so it escapes by the ACCM under test) and
/// both decoders must deliver every packet of the batch intact.
fn cross_check(packets: &[Vec<u8>], accm: u32, wire: &[u8]) {
    let mut e = carrier_encoder(accm);
    let mut ppp = ppproto_link(accm);
    let mut tx = vec![0u8; TX_BUF_LEN];
    for p in packets {
        let mut ours = BytesMut::new();
        e.encode(PROTO_IPV4, p, &mut ours);
        let n = ppp.send(p, &mut tx).unwrap();
        assert_eq!(
            &tx[..n],
            &ours[..],
            "ppproto framed differently at ACCM {accm:#010x}"
        );
    }

    let mut got = Vec::new();
    carrier_decoder(accm).decode(
        wire,
        |f| got.push(split_header(f).unwrap().1.to_vec()),
        |r| panic!("{r:?}"),
    );
    assert_eq!(got, packets);

    let mut rx = vec![0u8; RX_BUF_LEN];
    let mut got = Vec::new();
    let mut data = wire;
    while !data.is_empty() {
        let used = ppp.consume(data, &mut rx);
        data = &data[used..];
        if let PPPoSAction::Received(r) = ppp.poll(&mut tx, &mut rx) {
            got.push(rx[r].to_vec());
        }
    }
    assert_eq!(got, packets);
}

fn accm_label(accm: u32) -> String {
    format!("accm_{accm:08x}")
}

fn bench_encode(c: &mut Criterion, packets: &[Vec<u8>]) {
    for accm in ACCMS {
        let mut g = c.benchmark_group(format!("encode/{}", accm_label(accm)));
        g.throughput(Throughput::BytesDecimal(BATCH_BYTES));

        let mut e = carrier_encoder(accm);
        let mut out = BytesMut::with_capacity(TX_BUF_LEN);
        g.bench_function("carrier", |b| {
            b.iter(|| carrier_encode_batch(&mut e, packets, &mut out))
        });

        let mut ppp = ppproto_link(accm);
        let mut tx = vec![0u8; TX_BUF_LEN];
        g.bench_function("ppproto", |b| {
            b.iter(|| ppproto_encode_batch(&mut ppp, packets, &mut tx))
        });
        g.finish();
    }
}

fn bench_decode(c: &mut Criterion, packets: &[Vec<u8>]) {
    for accm in ACCMS {
        let wire = wire_of(packets, accm);
        let mut g = c.benchmark_group(format!("decode/{}", accm_label(accm)));
        g.throughput(Throughput::BytesDecimal(BATCH_BYTES));

        let mut d = carrier_decoder(accm);
        g.bench_function("carrier", |b| {
            b.iter(|| carrier_decode_batch(&mut d, &wire))
        });

        let mut ppp = ppproto_link(accm);
        let mut rx = vec![0u8; RX_BUF_LEN];
        let mut tx = vec![0u8; TX_BUF_LEN];
        g.bench_function("ppproto", |b| {
            b.iter(|| ppproto_decode_batch(&mut ppp, &wire, &mut rx, &mut tx))
        });
        g.finish();
    }
}

/// MB/s (10^6 octets of IP packet per second) of `batch`, run for `time`.
fn rate(mut batch: impl FnMut(), time: Duration) -> f64 {
    for _ in 0..8 {
        batch();
    }
    let start = Instant::now();
    let mut batches = 0u64;
    while start.elapsed() < time {
        batch();
        batches += 1;
    }
    (batches * BATCH_BYTES) as f64 / start.elapsed().as_secs_f64() / 1e6
}

fn summary_table(packets: &[Vec<u8>], time: Duration) {
    println!();
    println!(
        "HDLC framing of {FRAMES_PER_BATCH} x {PACKET_LEN}-octet IPv4 packets, \
         MB/s of IP octets ({} ms per case)",
        time.as_millis()
    );
    println!(
        "{:<8} {:<12} {:>10} {:>12} {:>12} {:>16}",
        "op", "ACCM", "wire/frame", "carrier", "ppproto", "carrier/ppproto"
    );
    for op in ["encode", "decode"] {
        for accm in ACCMS {
            let wire = wire_of(packets, accm);
            let (ours, theirs) = if op == "encode" {
                let mut e = carrier_encoder(accm);
                let mut out = BytesMut::with_capacity(TX_BUF_LEN);
                let mut ppp = ppproto_link(accm);
                let mut tx = vec![0u8; TX_BUF_LEN];
                (
                    rate(|| carrier_encode_batch(&mut e, packets, &mut out), time),
                    rate(|| ppproto_encode_batch(&mut ppp, packets, &mut tx), time),
                )
            } else {
                let mut d = carrier_decoder(accm);
                let mut ppp = ppproto_link(accm);
                let mut rx = vec![0u8; RX_BUF_LEN];
                let mut tx = vec![0u8; TX_BUF_LEN];
                (
                    rate(
                        || {
                            black_box(carrier_decode_batch(&mut d, &wire));
                        },
                        time,
                    ),
                    rate(
                        || {
                            black_box(ppproto_decode_batch(&mut ppp, &wire, &mut rx, &mut tx));
                        },
                        time,
                    ),
                )
            };
            println!(
                "{:<8} {:<12} {:>10.1} {:>12.1} {:>12.1} {:>15.2}x",
                op,
                format!("{accm:#010x}"),
                wire.len() as f64 / FRAMES_PER_BATCH as f64,
                ours,
                theirs,
                ours / theirs
            );
        }
    }
}

/// Allocations per frame of `batch` once warmed up.
fn allocs_per_frame(mut batch: impl FnMut()) -> (u64, u64) {
    const ROUNDS: u64 = 100;
    for _ in 0..4 {
        batch();
    }
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    for _ in 0..ROUNDS {
        batch();
    }
    let after = ALLOCATIONS.load(Ordering::SeqCst);
    (after - before, ROUNDS * FRAMES_PER_BATCH as u64)
}

fn allocation_report(packets: &[Vec<u8>]) {
    println!();
    println!("Heap allocations per frame after warm-up (counting global allocator)");
    println!(
        "{:<8} {:<12} {:<8} {:>8} {:>12} {:>10}",
        "op", "ACCM", "framer", "frames", "allocations", "per frame"
    );
    let row = |op: &str, accm: Option<u32>, who: &str, (allocs, frames): (u64, u64)| {
        println!(
            "{:<8} {:<12} {:<8} {:>8} {:>12} {:>10}",
            op,
            accm.map_or("-".to_string(), |a| format!("{a:#010x}")),
            who,
            frames,
            allocs,
            allocs as f64 / frames as f64
        );
    };
    // Control: one copy of each packet per frame must count 1 per frame,
    // which shows the counter sees the allocations made in these loops.
    let n = allocs_per_frame(|| {
        for p in packets {
            black_box(p.to_vec());
        }
    });
    row("control", None, "to_vec", n);
    for accm in ACCMS {
        let mut e = carrier_encoder(accm);
        let mut out = BytesMut::new();
        let n = allocs_per_frame(|| carrier_encode_batch(&mut e, packets, &mut out));
        row("encode", Some(accm), "carrier", n);
        let mut ppp = ppproto_link(accm);
        let mut tx = vec![0u8; TX_BUF_LEN];
        let n = allocs_per_frame(|| ppproto_encode_batch(&mut ppp, packets, &mut tx));
        row("encode", Some(accm), "ppproto", n);
    }
    for accm in ACCMS {
        let wire = wire_of(packets, accm);
        let mut d = carrier_decoder(accm);
        let n = allocs_per_frame(|| {
            black_box(carrier_decode_batch(&mut d, &wire));
        });
        row("decode", Some(accm), "carrier", n);
        let mut ppp = ppproto_link(accm);
        let mut rx = vec![0u8; RX_BUF_LEN];
        let mut tx = vec![0u8; TX_BUF_LEN];
        let n = allocs_per_frame(|| {
            black_box(ppproto_decode_batch(&mut ppp, &wire, &mut rx, &mut tx));
        });
        row("decode", Some(accm), "ppproto", n);
    }
}

fn main() {
    let packets = ipv4_packets(FRAMES_PER_BATCH);
    for accm in ACCMS {
        cross_check(&packets, accm, &wire_of(&packets, accm));
    }

    let mut c = Criterion::default().configure_from_args();
    bench_encode(&mut c, &packets);
    bench_decode(&mut c, &packets);
    c.final_summary();

    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    // Under `cargo test --benches` criterion runs each benchmark once; keep
    // the table quick there too.
    let time = if args.iter().any(|a| a == "--bench") {
        Duration::from_millis(500)
    } else {
        Duration::from_millis(50)
    };
    summary_table(&packets, time);
    allocation_report(&packets);
}
