//! CCP compression (issue 13): what Deflate and BSD-Compress save on the
//! wire for the console's call-home data, carrier<->carrier beside
//! pppd<->pppd in the same run, and what each costs in CPU.
//!
//! The payload: some 2 MB of text shaped like call-home data (syslog-like
//! lines and XML problem reports), cut into 1472-octet UDP payloads, so
//! 1500-octet IPv4 datagrams, sent one way.
//!
//! * carrier<->carrier: two `Line`s negotiated in process on octets
//!   (pppd's CCP defaults, restricted to one method or `noccp`), every
//!   datagram through `send_ip`, framed as LCP agreed (ACCM 0, ACFC, PFC,
//!   shared flags), and decoded by the other `Line`, which must give back
//!   the very datagram. Wire octets are the sender's output.
//! * pppd<->pppd: two pppd 2.4.9 in user-mode-linux joined back to back
//!   (tests/support/pppd.rs), the kernel's ppp_deflate / bsd_comp doing the
//!   work; one socat a datagram in one guest writes the same 1472-octet
//!   payloads as UDP;
//!   wire octets are those the join copied that way, payload octets what
//!   the receiver's socat wrote down.
//!
//! Octets on the wire do not depend on the line's speed, so the effective
//! goodput at 33600 bit/s (8N1: 3360 octets/s, which the goodput bench
//! shows carrier's sessions fill to 99.99%) is 3360 x payload / wire.
//! CPU: criterion times carrier's compressor and decompressor over the
//! same payload (one datagram per iteration), per method.

mod common;
#[path = "../tests/support/pppd.rs"]
mod pppd;

use std::time::{Duration, Instant};

use bytes::BytesMut;
use carrier::hdlc::FLAG_TIME;
use carrier::ppp::ccp::{CcpConfig, Method};
use carrier::ppp::compress::{CcpStats, Compressor, Decompressor};
use carrier::ppp::link::LinkConfig;
use common::End;
use criterion::{BenchmarkId, Criterion, Throughput};

const PAYLOAD: usize = 1472;
const LINE_OCTETS_PER_S: f64 = 3360.0;

/// The call-home corpus, `size` octets of it.
fn corpus(size: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(size + 512);
    let mut i = 0u64;
    while v.len() < size {
        i += 1;
        let t = format!(
            "2026-12-03T{:02}:{:02}:{:02}",
            (i / 3600) % 24,
            (i / 60) % 60,
            i % 60
        );
        if i % 5 == 0 {
            v.extend_from_slice(
                format!(
                    "<?xml version=\"1.0\"?>\n<problemReport id=\"PR{:08}\" created=\"{t}\">\n  \
                     <system type=\"9119-MHE\" serial=\"10{:05X}\"/>\n  <refcode>B7006{:03X}</refcode>\n  \
                     <fru location=\"U78CB.001.WZS{:04}-P1-C{}\" part=\"01AF{:03}\"/>\n  \
                     <text>Service processor detected a fault on {} {}</text>\n</problemReport>\n",
                    i,
                    (i * 7919) % 0xfffff,
                    i % 0xfff,
                    i % 977,
                    i % 12,
                    i % 1000,
                    ["fan", "power supply", "DIMM", "processor"][(i % 4) as usize],
                    i % 8
                )
                .as_bytes(),
            );
        } else {
            v.extend_from_slice(
                format!(
                    "{t} hmc1 rcs[{}]: partition lpar{} state {} (callhome queue {}, {} bytes)\n",
                    4000 + i % 31,
                    i % 16,
                    ["running", "stopped", "migrating"][(i % 3) as usize],
                    i % 9,
                    (i * 131) % 65536
                )
                .as_bytes(),
            );
        }
    }
    v.truncate(size);
    v
}

/// The corpus as 1500-octet IPv4/UDP datagrams from 10.0.0.1 to 10.0.0.2.
fn datagrams(data: &[u8]) -> Vec<Vec<u8>> {
    data.chunks(PAYLOAD)
        .enumerate()
        .map(|(i, chunk)| {
            let total = 28 + chunk.len();
            let mut p = vec![0u8; total];
            p[0] = 0x45;
            p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
            p[4..6].copy_from_slice(&(i as u16).to_be_bytes());
            p[8] = 64;
            p[9] = 17;
            p[12..16].copy_from_slice(&[10, 0, 0, 1]);
            p[16..20].copy_from_slice(&[10, 0, 0, 2]);
            p[20..22].copy_from_slice(&40_000u16.to_be_bytes());
            p[22..24].copy_from_slice(&9u16.to_be_bytes());
            p[24..26].copy_from_slice(&((8 + chunk.len()) as u16).to_be_bytes());
            p[28..].copy_from_slice(chunk);
            p
        })
        .collect()
}

#[derive(Clone, Copy)]
enum Which {
    None,
    Deflate,
    Bsd,
}

impl Which {
    fn name(self) -> &'static str {
        match self {
            Which::None => "none",
            Which::Deflate => "Deflate 15",
            Which::Bsd => "BSD-Compress 15",
        }
    }

    fn ccp(self) -> Option<CcpConfig> {
        let d = CcpConfig::default();
        match self {
            Which::None => None,
            Which::Deflate => Some(CcpConfig { bsd: None, ..d }),
            Which::Bsd => Some(CcpConfig { deflate: None, ..d }),
        }
    }

    fn pppd(self) -> &'static str {
        match self {
            Which::None => "noccp",
            Which::Deflate => "nobsdcomp",
            Which::Bsd => "nodeflate",
        }
    }

    fn method(self) -> Option<Method> {
        match self {
            Which::None => None,
            Which::Deflate => Some(Method::Deflate {
                bits: 15,
                draft: false,
            }),
            Which::Bsd => Some(Method::BsdCompress { bits: 15 }),
        }
    }
}

/// Two lines up with `which`, on octets.
fn line_pair(which: Which) -> (End, End, Instant) {
    let mut a_cfg = common::pppd_novj_noccp();
    a_cfg.ipcp.local = Some([10, 0, 0, 1].into());
    a_cfg.ipcp.remote = Some([10, 0, 0, 2].into());
    a_cfg.ccp = which.ccp();
    let b_cfg = LinkConfig {
        ccp: which.ccp(),
        ..common::pppd_novj_noccp()
    };
    let mut a = End::new(a_cfg, [1; 32]);
    let mut b = End::new(b_cfg, [2; 32]);
    let now = Instant::now();
    a.start(now);
    b.start(now);
    common::exchange(&mut a, &mut b, now, &mut BytesMut::new());
    assert!(a.ip_up && b.ip_up, "lines did not come up");
    assert_eq!(a.link().compression().0, which.method(), "agreed method");
    (a, b, now)
}

struct Wire {
    payload: u64,
    wire: u64,
    note: String,
}

/// carrier<->carrier: wire octets for the datagrams, each checked on
/// arrival.
fn carrier_wire(which: Which, dgrams: &[Vec<u8>]) -> Result<Wire, String> {
    let (mut a, mut b, up) = line_pair(which);
    // The first frame opens with a flag, as on a line quiet since the
    // negotiation; the clock stands still after it, so the others share
    // their flags.
    let now = up + FLAG_TIME;
    let mut out = BytesMut::new();
    let (mut wire, mut payload, mut delivered) = (0u64, 0u64, 0usize);
    for d in dgrams {
        out.clear();
        if !a.line.send_ip(d, now, None, &mut out) {
            return Err("send_ip refused a datagram".into());
        }
        wire += out.len() as u64;
        payload += (d.len() - 28) as u64;
        // Into the other line, which must give back the very datagram.
        let mut got = None;
        b.line
            .handle_input(&out, now, None, |x| got = Some(x.to_vec()));
        if got.as_deref() != Some(&d[..]) {
            return Err(format!("datagram {delivered} did not arrive intact"));
        }
        delivered += 1;
    }
    let s = a.link().stats().ccp;
    Ok(Wire {
        payload,
        wire,
        note: format!(
            "{} compressed, {} sent as they were",
            s.compressed_out, s.incompressible_out
        ),
    })
}

/// pppd<->pppd in UML: the same payloads as UDP from one guest to the
/// other.
fn pppd_wire(which: Which, data: &[u8]) -> Result<Wire, String> {
    let dir = std::env::temp_dir().join(format!("carrier-bench-compress-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    // The guests see the host's / read-only: the corpus is read in place.
    let file = dir.join("callhome.txt");
    std::fs::write(&file, data).map_err(|e| e.to_string())?;
    let opts = |args: String| pppd::PppdOptions {
        ccp_modules: true,
        ..pppd::PppdOptions::from_str_args(&args)
    };
    let (a, b, link) = pppd::start_pair(
        opts(format!(
            "noauth local novj noipv6 {} debug passive 10.88.0.1:10.88.0.2",
            which.pppd()
        )),
        opts(format!(
            "noauth local novj noipv6 {} noipdefault debug",
            which.pppd()
        )),
    )
    .map_err(|e| e.to_string())?;
    for p in [&a, &b] {
        if !p.wait_log("local  IP address", Duration::from_secs(30)) {
            return Err(format!("pppd did not reach IPCP:\n{}", p.log()));
        }
    }
    let exec = |p: &pppd::Pppd, cmd: &str| {
        p.exec(cmd, Duration::from_secs(120))
            .ok_or_else(|| format!("guest command timed out: {cmd}"))
    };
    exec(
        &b,
        "(socat -u UDP-RECV:9 CREATE:/run/got > /dev/null 2>&1 &); sleep 0.5",
    )?;
    let (before, _) = link.bytes();
    // A queue long enough for the whole corpus: the serial line is the
    // bottleneck, and a UDP sender is never made to wait.
    // One socat a datagram: its start-up in the guest paces the sender
    // below the line's rate, so no datagram is dropped before the wire.
    let chunks = data.len().div_ceil(PAYLOAD);
    let send = format!(
        "i=0; while [ $i -lt {chunks} ]; do \
           dd if={} bs={PAYLOAD} skip=$i count=1 2>/dev/null | socat -u -b {PAYLOAD} - UDP-SENDTO:10.88.0.2:9 || exit 1; \
           i=$((i+1)); done",
        file.display()
    );
    // About 0.1 s a datagram in the guest; room for a loaded machine.
    let budget = Duration::from_secs(60) + Duration::from_millis(400) * chunks as u32;
    let (rc, out) = a
        .exec(&send, budget)
        .ok_or_else(|| format!("the sender did not finish in {budget:?}"))?;
    if rc != 0 {
        return Err(format!("sender failed: {out}"));
    }
    // Wait until the line goes quiet.
    let mut last = link.bytes().0;
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = link.bytes().0;
        if now == last {
            break;
        }
        last = now;
    }
    let (_, got) = exec(&b, "wc -c < /run/got")?;
    let payload: u64 = got.trim().parse().map_err(|_| format!("wc said {got:?}"))?;
    let lost_sync =
        a.log().contains("Lost compression sync") || b.log().contains("Lost compression sync");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Wire {
        payload,
        wire: last - before,
        note: if lost_sync {
            "pppd: \"Lost compression sync\", CCP taken down, the rest uncompressed".into()
        } else {
            String::new()
        },
    })
}

fn bench_cpu(c: &mut Criterion, dgrams: &[Vec<u8>]) {
    let octets: usize = dgrams.iter().map(|d| d.len()).sum();
    let mut g = c.benchmark_group("ccp");
    g.throughput(Throughput::Bytes(octets as u64));
    for which in [Which::Deflate, Which::Bsd] {
        let m = which.method().unwrap();
        g.bench_function(BenchmarkId::new("compress", which.name()), |bch| {
            bch.iter(|| {
                let mut c = Compressor::new(m);
                let mut s = CcpStats::default();
                for d in dgrams {
                    std::hint::black_box(c.compress(0x0021, d, true, &mut s));
                }
            })
        });
        // What the decompressor is given: the compressor's output, or the
        // datagram itself where it did not shrink.
        let mut c = Compressor::new(m);
        let mut s = CcpStats::default();
        let frames: Vec<(bool, Vec<u8>)> = dgrams
            .iter()
            .map(|d| match c.compress(0x0021, d, true, &mut s) {
                Some(z) => (true, z.to_vec()),
                None => (false, d.clone()),
            })
            .collect();
        g.bench_function(BenchmarkId::new("decompress", which.name()), |bch| {
            bch.iter(|| {
                let mut d = Decompressor::new(m);
                let mut s = CcpStats::default();
                for (z, f) in &frames {
                    if *z {
                        std::hint::black_box(d.decompress(f, 1500, &mut s).ok());
                    } else {
                        d.incomp(0x0021, f);
                    }
                }
            })
        });
    }
    g.finish();
}

fn main() {
    let mode = common::Mode::detect();
    let size = mode.pick(64 * 1024, 512 * 1024, 2 * 1024 * 1024);
    let data = corpus(size);
    let dgrams = datagrams(&data);

    let mut c = Criterion::default().configure_from_args();
    bench_cpu(&mut c, &dgrams);
    c.final_summary();
    if common::listing() {
        return;
    }

    let pppd_ok = pppd::peer_available();
    println!();
    println!("compress: {mode}");
    println!(
        "{} octets of call-home text as {} UDP datagrams of {PAYLOAD} payload octets, one way",
        data.len(),
        dgrams.len()
    );
    println!(
        "{:<16} {:<8} {:>10} {:>10} {:>10} {:>12} {:>9}  note",
        "method", "pair", "payload", "wire", "wire/payl", "B/s @33600", "vs pppd"
    );
    for which in [Which::None, Which::Deflate, Which::Bsd] {
        let ours = carrier_wire(which, &dgrams);
        let theirs = match &pppd_ok {
            Ok(()) => pppd_wire(which, &data),
            Err(why) => Err(why.clone()),
        };
        let rate = |w: &Wire| LINE_OCTETS_PER_S * w.payload as f64 / w.wire as f64;
        for (pair, r) in [("carrier", &ours), ("pppd", &theirs)] {
            match r {
                Ok(w) => {
                    let vs = match (pair, &theirs) {
                        ("carrier", Ok(p)) => format!("{:.2}x", rate(w) / rate(p)),
                        _ => String::new(),
                    };
                    println!(
                        "{:<16} {:<8} {:>10} {:>10} {:>10.4} {:>12.1} {:>9}  {}",
                        which.name(),
                        pair,
                        w.payload,
                        w.wire,
                        w.wire as f64 / w.payload as f64,
                        rate(w),
                        vs,
                        w.note
                    );
                }
                Err(why) => println!("{:<16} {:<8} n/a ({why})", which.name(), pair),
            }
        }
    }
    println!(
        "wire/payl = octets on the line per payload octet (HDLC framing, headers and all); \
         B/s @33600 = effective payload octets/s at 3360 line octets/s"
    );
}
