//! Scale: an answering server holding N concurrent PPP sessions in one
//! process, over in-memory lines, with the sans-IO core (issue 7; goal:
//! 10,000 sessions, under 20 KB each).
//!
//! Each session is what a server keeps per line: a `Link` (PAP required,
//! the peer's address assigned, LCP echo every 10 s) and its HDLC
//! `Encoder` and `Decoder`. Clients are the same core on the other end of
//! an in-memory line: octets go through both framers, with no delay, on a
//! fake clock (as tests/core_links.rs does for one pair).
//!
//! Memory, with N server sessions negotiated up to IPCP Opened:
//! * live heap octets, from this binary's counting global allocator: the
//!   octets allocated and not yet freed, before and after, over N (the
//!   `Vec` holding the sessions included). Clients are negotiated against
//!   the servers in batches and dropped after each batch, so only the
//!   servers remain: the cleanest per-session number.
//! * RSS, from /proc/self/statm before and after, over N. It counts what
//!   the allocator keeps from the dropped clients too (at most one batch),
//!   so it is an upper bound.
//!
//! CPU at idle: N pairs up, then 60 s of fake time in which every server
//! sends an LCP Echo-Request every 10 s and its client answers; the
//! thread's CPU time (/proc/thread-self/schedstat) over N and over 60 s.
//! The clients' share is timed apart and reported.
//!
//! pppd needs a process per line: its RSS, PSS and private memory are read
//! in the UML guest from `/proc/$PPPD_PID/{status,smaps_rollup}` of a pppd
//! server with the same options, once its link to a pppd client is up.
//!
//! Modes: N = 10,000 (CARRIER_BENCH_SESSIONS overrides) in a full or
//! `-- --quick` run; N = 500 and no VM under `cargo test --benches`.

mod common;
#[path = "../tests/support/pppd.rs"]
mod pppd;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::mem::size_of;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use carrier::hdlc::{Decoder, Encoder};
use carrier::ppp::auth::{AuthConfig, AuthProto, Secret};
use carrier::ppp::link::{EchoConfig, Link, LinkConfig};
use carrier::secrets::SecretsTable;
use common::{exchange, rss_bytes, thread_cpu, End, Mode};
use criterion::Criterion;
use pppd::PppdOptions;

/// Counts live heap octets (allocated minus freed) and allocations.
struct CountingAlloc;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method forwards its arguments unchanged to `System`, which
// upholds the `GlobalAlloc` contract; the only additions are relaxed atomic
// counter updates, which neither allocate nor touch the memory.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn live() -> usize {
    LIVE.load(Ordering::SeqCst)
}

const ECHO_INTERVAL: Duration = Duration::from_secs(10);
const IDLE: Duration = Duration::from_secs(60);
/// Clients negotiated (then dropped) at a time in the memory pass.
const BATCH: usize = 256;
const SERVER_ADDR: Ipv4Addr = Ipv4Addr::new(10, 64, 0, 1);

// ---------------------------------------------------------------- configs

struct Configs {
    secrets: Arc<SecretsTable>,
}

impl Configs {
    fn new() -> Configs {
        Configs {
            secrets: Arc::new(SecretsTable::single("alice", "*", Secret::new("s3cret"))),
        }
    }

    /// Session `i` of the server: its own peer address, shared secrets.
    fn server(&self, i: usize) -> LinkConfig {
        let mut c = common::pppd_novj_noccp();
        c.lcp.require_auth = vec![AuthProto::Pap];
        c.ipcp.local = Some(SERVER_ADDR);
        let n = (i + 2) as u32;
        c.ipcp.remote = Some(Ipv4Addr::from(0x0a40_0000 | (n & 0x3f_ffff)));
        c.auth = AuthConfig {
            name: "server".into(),
            secrets: self.secrets.clone(),
            ..AuthConfig::default()
        };
        c.echo = EchoConfig {
            interval: Some(ECHO_INTERVAL),
            failure: 3,
            adaptive: false,
        };
        c
    }

    fn client(&self) -> LinkConfig {
        common::client_config()
    }
}

fn seed(i: usize, side: u8) -> [u8; 32] {
    let mut s = [side; 32];
    s[..8].copy_from_slice(&(i as u64).to_le_bytes());
    s
}

// ----------------------------------------------------------------- memory

struct Memory {
    n: usize,
    live_per_session: f64,
    rss_per_session: Option<f64>,
    all_up: bool,
}

/// N servers, negotiated against clients made and dropped in batches.
fn memory_pass(cfg: &Configs, n: usize) -> Memory {
    let t0 = Instant::now();
    let mut wire = BytesMut::with_capacity(4096);
    let (live0, rss0) = (live(), rss_bytes());
    let mut servers: Vec<End> = Vec::with_capacity(n);
    for i in 0..n {
        let mut s = End::new(cfg.server(i), seed(i, 1));
        s.start(t0);
        servers.push(s);
    }
    for start in (0..n).step_by(BATCH) {
        let mut clients: Vec<End> = (start..n.min(start + BATCH))
            .map(|i| {
                let mut c = End::new(cfg.client(), seed(i, 2));
                c.start(t0);
                c
            })
            .collect();
        for (k, c) in clients.iter_mut().enumerate() {
            exchange(&mut servers[start + k], c, t0, &mut wire);
        }
    }
    let all_up = servers.iter().all(|s| s.ip_up);
    let (live1, rss1) = (live(), rss_bytes());
    let m = Memory {
        n,
        live_per_session: (live1 - live0) as f64 / n as f64,
        rss_per_session: rss0
            .zip(rss1)
            .map(|(a, b)| b.saturating_sub(a) as f64 / n as f64),
        all_up,
    };
    drop(black_box(servers));
    m
}

/// Live heap octets of one part, averaged over `k` of them, plus its
/// inline size: (inline, heap).
fn part_size<T>(k: usize, make: impl Fn(usize) -> T) -> (usize, f64) {
    let before = live();
    let v: Vec<T> = (0..k).map(make).collect();
    let heap = (live() - before - k * size_of::<T>()) as f64 / k as f64;
    drop(black_box(v));
    (size_of::<T>(), heap)
}

// -------------------------------------------------------------------- CPU

struct Idle {
    n: usize,
    negotiate_cpu: Duration,
    idle_cpu: Duration,
    client_cpu: Duration,
    echoes: u64,
    replies: u64,
    still_up: usize,
    live_pairs: f64,
    /// Heap allocations during the idle window.
    allocations: u64,
}

/// A timer entry: (deadline, pair, side 0 = server / 1 = client).
type Timer = Reverse<(Instant, u32, u8)>;

fn idle_pass(cfg: &Configs, n: usize) -> Idle {
    let t0 = Instant::now();
    let mut wire = BytesMut::with_capacity(4096);
    let live0 = live();
    let mut pairs: Vec<(End, End)> = (0..n)
        .map(|i| {
            (
                End::new(cfg.server(i), seed(i, 1)),
                End::new(cfg.client(), seed(i, 2)),
            )
        })
        .collect();
    // Calls come in spread over one echo interval, as they would.
    let cpu0 = thread_cpu().unwrap_or_default();
    for (i, (s, c)) in pairs.iter_mut().enumerate() {
        let at = t0 + ECHO_INTERVAL.mul_f64(i as f64 / n as f64);
        s.start(at);
        c.start(at);
        exchange(s, c, at, &mut wire);
    }
    let cpu1 = thread_cpu().unwrap_or_default();
    let live_pairs = (live() - live0) as f64 / n as f64;

    // Timers, one entry per end at a time (`scheduled` tells stale ones).
    let mut heap: BinaryHeap<Timer> = BinaryHeap::with_capacity(2 * n);
    let mut scheduled: Vec<[Option<Instant>; 2]> = vec![[None, None]; n];
    let schedule = |heap: &mut BinaryHeap<Timer>,
                    scheduled: &mut Vec<[Option<Instant>; 2]>,
                    i: usize,
                    side: u8,
                    link: &Link| {
        let next = link.poll_timeout();
        if next != scheduled[i][usize::from(side)] {
            scheduled[i][usize::from(side)] = next;
            if let Some(t) = next {
                heap.push(Reverse((t, i as u32, side)));
            }
        }
    };
    for (i, (s, c)) in pairs.iter().enumerate() {
        schedule(&mut heap, &mut scheduled, i, 0, s.link());
        schedule(&mut heap, &mut scheduled, i, 1, c.link());
    }
    let sent0: u64 = pairs
        .iter()
        .map(|p| p.0.link().stats().echo_requests_sent)
        .sum();
    let replies0: u64 = pairs
        .iter()
        .map(|p| p.0.link().stats().echo_replies_in)
        .sum();

    let start = t0 + ECHO_INTERVAL;
    let end = start + IDLE;
    let mut client_time = Duration::ZERO;
    let allocs0 = ALLOCATIONS.load(Ordering::SeqCst);
    let cpu2 = thread_cpu().unwrap_or_default();
    while let Some(Reverse((t, i, side))) = heap.pop() {
        if t > end {
            break;
        }
        let i = i as usize;
        if scheduled[i][usize::from(side)] != Some(t) {
            continue; // stale
        }
        scheduled[i][usize::from(side)] = None;
        let (s, c) = &mut pairs[i];
        let now = t.max(start);
        if side == 0 {
            s.timeout(now);
        } else {
            c.timeout(now);
        }
        // The server's frames to the client and back, the client's part
        // timed apart.
        loop {
            wire.clear();
            let from_server = s.transmit(&mut wire, now);
            let t_client = Instant::now();
            let mut from_client = 0;
            if from_server > 0 {
                c.receive(&wire, now);
            }
            wire.clear();
            from_client += c.transmit(&mut wire, now);
            client_time += t_client.elapsed();
            if from_client > 0 {
                s.receive(&wire, now);
            }
            if from_server == 0 && from_client == 0 {
                break;
            }
        }
        schedule(&mut heap, &mut scheduled, i, 0, s.link());
        schedule(&mut heap, &mut scheduled, i, 1, c.link());
    }
    let cpu3 = thread_cpu().unwrap_or_default();
    let allocations = ALLOCATIONS.load(Ordering::SeqCst) - allocs0;
    let echoes = pairs
        .iter()
        .map(|p| p.0.link().stats().echo_requests_sent)
        .sum::<u64>()
        - sent0;
    let replies = pairs
        .iter()
        .map(|p| p.0.link().stats().echo_replies_in)
        .sum::<u64>()
        - replies0;
    let still_up = pairs
        .iter()
        .filter(|p| p.0.ip_up && p.1.ip_up && !p.0.down)
        .count();
    Idle {
        n,
        negotiate_cpu: cpu1 - cpu0,
        idle_cpu: cpu3 - cpu2,
        client_cpu: client_time,
        echoes,
        replies,
        still_up,
        live_pairs,
        allocations,
    }
}

// ------------------------------------------------------------------- pppd

/// pppd's memory as the guest sees it, in kB.
struct PppdMem {
    rss: u64,
    pss: Option<u64>,
    /// Anonymous resident memory (heap, stack, data): what each further
    /// pppd would add; its file pages (libc, pppd's text) can be shared.
    anon: Option<u64>,
    private_dirty: Option<u64>,
}

fn kb(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn pppd_memory() -> Result<PppdMem, String> {
    pppd::peer_available()?;
    let common = "local noccp novj noipv6 debug";
    let server = PppdOptions::from_str_args(&format!(
        "{common} require-pap name server 10.77.0.1:10.77.0.2 lcp-echo-interval 10 lcp-echo-failure 3"
    ))
    .pap_secrets("alice * s3cret *\n");
    let client = PppdOptions::from_str_args(&format!(
        "{common} noauth user alice password s3cret noipdefault"
    ));
    let (a, b, _link) = pppd::start_pair(server, client)
        .map_err(|e| e.to_string().lines().next().unwrap_or("").to_string())?;
    for p in [&a, &b] {
        if !p.wait_log("local  IP address", Duration::from_secs(30)) {
            return Err("the pppd pair did not come up".into());
        }
    }
    let (rc, out) = a
        .exec(
            "cat /proc/$PPPD_PID/status /proc/$PPPD_PID/smaps_rollup",
            Duration::from_secs(20),
        )
        .ok_or("exec in the guest timed out")?;
    if rc != 0 {
        return Err(format!("reading pppd's /proc in the guest failed: {out}"));
    }
    let rss = kb(&out, "VmRSS:").ok_or("no VmRSS in pppd's status")?;
    Ok(PppdMem {
        rss,
        pss: kb(&out, "Pss:"),
        anon: kb(&out, "RssAnon:"),
        private_dirty: kb(&out, "Private_Dirty:"),
    })
}

// -------------------------------------------------------------- criterion

fn up_pair(cfg: &Configs, now: Instant) -> (End, End) {
    let mut s = End::new(cfg.server(0), seed(0, 1));
    let mut c = End::new(cfg.client(), seed(0, 2));
    s.start(now);
    c.start(now);
    exchange(&mut s, &mut c, now, &mut BytesMut::new());
    assert!(s.ip_up && c.ip_up);
    (s, c)
}

fn bench_criterion(c: &mut Criterion, cfg: &Configs) {
    let mut g = c.benchmark_group("scale");
    g.bench_function("server-session-new", |b| {
        b.iter(|| End::new(cfg.server(7), seed(7, 1)))
    });
    let mut now = Instant::now();
    let (mut s, mut cl) = up_pair(cfg, now);
    let mut wire = BytesMut::with_capacity(4096);
    g.bench_function("echo-round", |b| {
        b.iter(|| {
            now += ECHO_INTERVAL;
            s.timeout(now);
            exchange(&mut s, &mut cl, now, &mut wire)
        })
    });
    g.finish();
}

// ------------------------------------------------------------------ table

fn main() {
    let mode = Mode::detect();
    let cfg = Configs::new();
    let mut c = Criterion::default().configure_from_args();
    bench_criterion(&mut c, &cfg);
    c.final_summary();
    if common::listing() {
        return;
    }

    let n = std::env::var("CARRIER_BENCH_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(mode.pick(500, 10_000, 10_000));

    println!();
    println!("scale: {mode}");
    let t_link = part_size(1000, |i| Link::new(cfg.server(i), seed(i, 1)));
    let t_enc = part_size(1000, |_| Encoder::new());
    let t_dec = part_size(1000, |_| Decoder::default());
    let mem = memory_pass(&cfg, n);
    let idle = idle_pass(&cfg, n);
    let pppd = if mode == Mode::Test {
        Err("skipped under cargo test: the VMs take seconds".to_string())
    } else {
        pppd_memory()
    };

    println!();
    println!("Memory of one server session (a Link + its HDLC Encoder and Decoder), octets");
    println!(
        "{:<34} {:>8} {:>8} {:>8}",
        "part", "inline", "heap", "total"
    );
    for (name, (inline, heap)) in [
        ("Link, new (before negotiation)", t_link),
        ("hdlc::Encoder", t_enc),
        ("hdlc::Decoder", t_dec),
    ] {
        println!(
            "{name:<34} {inline:>8} {heap:>8.0} {:>8.0}",
            inline as f64 + heap
        );
    }

    println!();
    println!(
        "{} server sessions up (PAP, IPCP, LCP echo every {} s), clients dropped: per session",
        mem.n,
        ECHO_INTERVAL.as_secs()
    );
    println!("{:<40} {:>12}", "measure", "per session");
    println!(
        "{:<40} {:>9.0} B  ({:.1} KiB)",
        "live heap (counting allocator)",
        mem.live_per_session,
        mem.live_per_session / 1024.0
    );
    match mem.rss_per_session {
        Some(r) => println!(
            "{:<40} {:>9.0} B  ({:.1} KiB)",
            "RSS growth (/proc/self/statm)",
            r,
            r / 1024.0
        ),
        None => println!("{:<40} n/a", "RSS growth (/proc/self/statm)"),
    }
    println!(
        "{:<40} {:>9.0} B  ({:.1} KiB)",
        "live heap, server + client (idle pass)",
        idle.live_pairs,
        idle.live_pairs / 1024.0
    );
    match &pppd {
        Ok(p) => {
            let opt = |v: Option<u64>| v.map_or("n/a".into(), |v| format!("{v} kB"));
            println!(
                "{:<40} {:>9} kB (PSS {}, anonymous {}, private dirty {})",
                "pppd 2.4.9 server, one line: RSS",
                p.rss,
                opt(p.pss),
                opt(p.anon),
                opt(p.private_dirty),
            );
            let ours = mem.rss_per_session.unwrap_or(mem.live_per_session);
            println!(
                "{:<40} {:>9.0}x RSS, {:.0}x anonymous only",
                "pppd per line / ours per session",
                p.rss as f64 * 1024.0 / ours,
                p.anon.unwrap_or(0) as f64 * 1024.0 / ours,
            );
        }
        Err(why) => println!("{:<40} n/a ({why})", "pppd 2.4.9 server, one line: RSS"),
    }
    if !mem.all_up {
        println!("WARNING: not every server session reached IPCP Opened");
    }

    println!();
    let secs = IDLE.as_secs_f64();
    let per = |d: Duration| d.as_secs_f64() * 1e6 / idle.n as f64 / secs;
    println!(
        "CPU: {} pairs, {:.0} s of fake time idle with LCP echo every {} s ({} echo requests, {} replies, {} of {} sessions still up)",
        idle.n,
        secs,
        ECHO_INTERVAL.as_secs(),
        idle.echoes,
        idle.replies,
        idle.still_up,
        idle.n
    );
    println!(
        "{:<44} {:>10.3} us/s of idle per session ({:.4}% of a core for {} sessions)",
        "all (server, client, driver)",
        per(idle.idle_cpu),
        idle.idle_cpu.as_secs_f64() / secs * 100.0,
        idle.n
    );
    let server_cpu = idle.idle_cpu.saturating_sub(idle.client_cpu);
    println!(
        "{:<44} {:>10.3} us/s of idle per session ({:.2} us per echo round)",
        "server side and driver (clients' share out)",
        per(server_cpu),
        server_cpu.as_secs_f64() * 1e6 / idle.echoes.max(1) as f64
    );
    println!(
        "{:<44} {:>10.1} per echo round (both sides and the driver)",
        "heap allocations at idle",
        idle.allocations as f64 / idle.echoes.max(1) as f64
    );
    println!(
        "{:<44} {:>10.1} us per session (both sides, in memory)",
        "negotiation to IPCP Opened",
        idle.negotiate_cpu.as_secs_f64() * 1e6 / idle.n as f64
    );

    println!();
    let under =
        mem.live_per_session < 20_000.0 && mem.rss_per_session.map_or(true, |r| r < 20_000.0);
    println!(
        "Goal (10,000 sessions in one process, under 20 KB each): {} ({} sessions, {:.1} KiB live heap, {} RSS each)",
        if mem.n >= 10_000 && mem.all_up && under {
            "met"
        } else if mem.n < 10_000 {
            "not judged (fewer sessions in this mode)"
        } else {
            "NOT met"
        },
        mem.n,
        mem.live_per_session / 1024.0,
        mem.rss_per_session
            .map_or("n/a".into(), |r| format!("{:.1} KiB", r / 1024.0))
    );
}
