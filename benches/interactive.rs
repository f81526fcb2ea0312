//! Interactive traffic (issue 13): a shell session over telnet or ssh is
//! the inbound caller's use, so what counts is how many small TCP segments
//! make a round trip per second, not bulk goodput. Van Jacobson header
//! compression (RFC 1144) shrinks the 40 octets of TCP/IP header a
//! keystroke carries to a few.
//!
//! One line for both pairs: the simulator's paced null-modem cable
//! (`carrier_sim::NullModem`, 33600 bit/s 8N1, 50 ms one way), the same
//! pacing code carrying every octet.
//!
//! * carrier<->carrier: `carrier answer --direct` in one network namespace
//!   and `carrier dial --direct` in another, each on one end of the cable,
//!   IP through their TUN devices; the Linux TCP stack of each namespace.
//! * pppd<->pppd: two pppd 2.4.9 in user-mode-linux, their console PTYs
//!   joined by the same cable (`NullModem::join`); the guest kernels' TCP
//!   and the kernel's slhc doing VJ.
//!
//! In both, `socat ... PIPE` echoes on the answering side, and this very
//! bench binary (run again with `CARRIER_RTT_CLIENT` set, in the calling
//! namespace or guest) connects with TCP_NODELAY, then writes n octets and
//! reads the n octets back, over and over for the window, and reports
//! the round trips. Segments of 1, 8, 20 and 40 payload octets; CCP off
//! throughout so that only VJ differs. TCP timestamps are off on every
//! stack: RFC 1144 sends a segment whose options changed uncompressed
//! (slhc does as well), and timestamps change on every segment, so on a
//! slow line they are turned off to let VJ work.
//!
//! Real-time pacing does not fit criterion's repeated iterations, so this
//! bench prints its table only. It needs root (namespaces, TUN) and the
//! pppd peer (tests/support/pppd.rs); a part that cannot run says why in
//! its rows.

mod common;
#[allow(dead_code)]
#[path = "../tests/support/carrier.rs"]
mod cproc;
#[path = "../tests/support/pppd.rs"]
mod pppd;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use carrier_sim::{LineProfile, NullModem};
use common::Mode;
use cproc::{secrets_file, Carrier, Netns};

const SIZES: [usize; 4] = [1, 8, 20, 40];
const PORT: u16 = 7000;
const CLIENT_ENV: &str = "CARRIER_RTT_CLIENT";
const PROFILE: LineProfile = LineProfile {
    bitrate: Some(33_600),
    latency: Duration::from_millis(50),
};
const UP: Duration = Duration::from_secs(60);

// ------------------------------------------------------------- the client

/// One result a segment size, in `SIZES` order.
type Rows = Vec<Result<Rtts, String>>;

/// What one client run measured.
#[derive(Clone, Debug, Default)]
struct Rtts {
    /// Round trips inside the window.
    count: u64,
    /// Length of the window actually used, seconds.
    secs: f64,
    /// Median, minimum and maximum round trip, milliseconds.
    median_ms: f64,
    min_ms: f64,
    max_ms: f64,
}

impl Rtts {
    fn per_second(&self) -> f64 {
        self.count as f64 / self.secs
    }

    fn parse(line: &str) -> Option<Rtts> {
        let v: Vec<f64> = line
            .trim()
            .strip_prefix("rtts ")?
            .split_whitespace()
            .map(|w| w.parse().ok())
            .collect::<Option<_>>()?;
        match v[..] {
            [count, secs, median_ms, min_ms, max_ms] => Some(Rtts {
                count: count as u64,
                secs,
                median_ms,
                min_ms,
                max_ms,
            }),
            _ => None,
        }
    }
}

/// `CARRIER_RTT_CLIENT=addr:port,size,seconds`: echo `size` octets over and
/// over for `seconds` and print one `rtts` line. Exit 1 with a reason on
/// stderr if the echo breaks or differs.
fn client(spec: &str) -> ! {
    match run_client(spec) {
        Ok(r) => {
            println!(
                "rtts {} {:.3} {:.2} {:.2} {:.2}",
                r.count, r.secs, r.median_ms, r.min_ms, r.max_ms
            );
            std::process::exit(0)
        }
        Err(e) => {
            eprintln!("rtt client: {e}");
            std::process::exit(1)
        }
    }
}

fn run_client(spec: &str) -> Result<Rtts, String> {
    let parts: Vec<&str> = spec.split(',').collect();
    let [addr, size, secs] = parts[..] else {
        return Err(format!(
            "{CLIENT_ENV}={spec:?}: want addr:port,size,seconds"
        ));
    };
    let addr: SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let size: usize = size.parse().map_err(|e| format!("{size}: {e}"))?;
    let window = Duration::from_secs_f64(secs.parse().map_err(|e| format!("{secs}: {e}"))?);
    // The first datagrams after IPCP opens may be lost: try for a while.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut s = loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(s) => break s,
            Err(e) if Instant::now() >= deadline => return Err(format!("connect {addr}: {e}")),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    };
    s.set_nodelay(true).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut out = vec![0u8; size];
    let mut back = vec![0u8; size];
    let mut trip = |i: u64| -> Result<Duration, String> {
        for (j, b) in out.iter_mut().enumerate() {
            // Printable like keystrokes, different every time.
            *b = b'a' + ((i as usize + j) % 26) as u8;
        }
        let t = Instant::now();
        s.write_all(&out).map_err(|e| format!("write: {e}"))?;
        s.read_exact(&mut back).map_err(|e| format!("read: {e}"))?;
        let d = t.elapsed();
        if back != out {
            return Err(format!("echo differs: sent {out:?}, got {back:?}"));
        }
        Ok(d)
    };
    // Warm-up: TCP's quick-ack start and VJ's first uncompressed segment.
    for i in 0..5 {
        trip(i)?;
    }
    let start = Instant::now();
    let mut times = Vec::new();
    let mut i = 5;
    while start.elapsed() < window {
        times.push(trip(i)?);
        i += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    let (min, max) = common::min_max(&times).ok_or("no round trip in the window")?;
    let median = common::median(&times).ok_or("no round trip in the window")?;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    Ok(Rtts {
        count: times.len() as u64,
        secs,
        median_ms: ms(median),
        min_ms: ms(min),
        max_ms: ms(max),
    })
}

fn client_command(addr: &str, size: usize, window: Duration) -> String {
    format!(
        "{CLIENT_ENV}={addr}:{PORT},{size},{} {}",
        window.as_secs_f64(),
        std::env::current_exe()
            .expect("the bench's own path")
            .display()
    )
}

fn parse_client(out: &str) -> Result<Rtts, String> {
    out.lines()
        .find_map(Rtts::parse)
        .ok_or_else(|| format!("client said: {}", out.trim()))
}

/// The cable `make` lays, on a runtime of its own that outlives it.
fn paced(
    make: impl FnOnce() -> Result<NullModem, carrier_hw::HwError>,
) -> Result<(tokio::runtime::Runtime, NullModem), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let cable = {
        let _g = rt.enter();
        make().map_err(|e| e.to_string())?
    };
    Ok((rt, cable))
}

// ------------------------------------------------------- carrier<->carrier

/// Kills the echo server however the case ends.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn echo_server_args() -> [String; 2] {
    [
        format!("TCP-LISTEN:{PORT},reuseaddr,fork,nodelay"),
        "PIPE".to_string(),
    ]
}

fn carrier_pair(vj: bool, window: Duration) -> Rows {
    match carrier_pair_inner(vj, window) {
        Ok(v) => v,
        Err(e) => vec![Err(e); SIZES.len()],
    }
}

fn carrier_pair_inner(vj: bool, window: Duration) -> Result<Rows, String> {
    let tag = if vj { "rv" } else { "rn" };
    let srv_ns = Netns::new(&format!("{tag}s")).ok_or("no network namespaces (root?)")?;
    let cli_ns = Netns::new(&format!("{tag}c")).ok_or("no network namespaces (root?)")?;
    for ns in [&srv_ns, &cli_ns] {
        let out = ns.run(&["sysctl", "-qw", "net.ipv4.tcp_timestamps=0"]);
        if !out.status.success() {
            return Err("sysctl tcp_timestamps failed".into());
        }
    }
    let (rt, cable) = paced(|| NullModem::spawn(PROFILE))?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let secrets = secrets_file(dir.path(), "alice * s3cret *\n");
    let (a, b) = (
        cable.end_a().to_str().unwrap().to_string(),
        cable.end_b().to_str().unwrap().to_string(),
    );
    let mut common: Vec<&str> = vec!["--noccp"];
    if !vj {
        common.push("--novj");
    }
    let mut args = vec![
        "answer",
        "--direct",
        "--device",
        &a,
        "--secrets",
        secrets.to_str().unwrap(),
        "--require-pap",
        "--name",
        "server",
        "--local",
        "10.89.0.1",
        "--remote",
        "10.89.0.2",
        "--ifname",
        "rtt0",
    ];
    args.extend_from_slice(&common);
    let mut answerer =
        Carrier::spawn_logged(Some(srv_ns.name()), &args, &dir.path().join("answer.log"));
    let mut args = vec![
        "dial",
        "--direct",
        "--device",
        &b,
        "--user",
        "alice",
        "--password",
        "s3cret",
        "--ifname",
        "rtt1",
    ];
    args.extend_from_slice(&common);
    let mut caller =
        Carrier::spawn_logged(Some(cli_ns.name()), &args, &dir.path().join("dial.log"));
    for (who, c) in [("answerer", &mut answerer), ("caller", &mut caller)] {
        let up = c
            .wait_event("ipcp-up", UP)
            .ok_or_else(|| format!("{who}: no ipcp-up: {:?}", c.seen))?;
        let has_vj = !up["vj"]["tx"].is_null() && !up["vj"]["rx"].is_null();
        if has_vj != vj {
            return Err(format!("{who}: VJ {has_vj}, wanted {vj}: {up}"));
        }
    }
    let server = Command::new("ip")
        .args(["netns", "exec", srv_ns.name(), "socat"])
        .args(echo_server_args())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("socat: {e}"))?;
    let _server = Reap(server);
    std::thread::sleep(Duration::from_millis(300));
    let results = SIZES
        .iter()
        .map(|&n| {
            let out = Command::new("ip")
                .args(["netns", "exec", cli_ns.name(), "sh", "-c"])
                .arg(client_command("10.89.0.1", n, window))
                .output()
                .map_err(|e| e.to_string())?;
            parse_client(&format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        })
        .collect();
    for c in [&answerer, &caller] {
        c.terminate();
    }
    for c in [&mut answerer, &mut caller] {
        c.wait_exit(Duration::from_secs(10));
    }
    drop(cable);
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(results)
}

// ----------------------------------------------------------- pppd<->pppd

fn pppd_pair(vj: bool, window: Duration) -> Rows {
    match pppd_pair_inner(vj, window) {
        Ok(v) => v,
        Err(e) => vec![Err(e); SIZES.len()],
    }
}

fn pppd_pair_inner(vj: bool, window: Duration) -> Result<Rows, String> {
    pppd::peer_available()?;
    let vj = if vj { "" } else { "novj" };
    let (a, b) = pppd::boot_pair(
        pppd::PppdOptions::from_str_args(&format!(
            "noauth local {vj} noccp noipv6 debug passive 10.88.0.1:10.88.0.2"
        )),
        pppd::PppdOptions::from_str_args(&format!(
            "noauth local {vj} noccp noipv6 noipdefault debug"
        )),
    )
    .map_err(|e| e.to_string())?;
    let (rt, cable) = paced(|| NullModem::join(a.device(), b.device(), PROFILE))?;
    for p in [&a, &b] {
        if !p.wait_log("local  IP address", UP) {
            return Err(format!("pppd did not reach IPCP:\n{}", p.log()));
        }
        let want = vj.is_empty();
        let has = p.log().contains("<compress VJ");
        if has != want {
            return Err(format!("pppd VJ {has}, wanted {want}:\n{}", p.log()));
        }
    }
    let exec = |p: &pppd::Pppd, cmd: &str, t: Duration| {
        p.exec(cmd, t)
            .ok_or_else(|| format!("guest command timed out: {cmd}"))
    };
    for p in [&a, &b] {
        exec(
            p,
            "echo 0 > /proc/sys/net/ipv4/tcp_timestamps",
            Duration::from_secs(10),
        )?;
    }
    let [listen, pipe] = echo_server_args();
    exec(
        &a,
        &format!("(socat {listen} {pipe} > /dev/null 2>&1 &); sleep 0.3"),
        Duration::from_secs(10),
    )?;
    let results = SIZES
        .iter()
        .map(|&n| {
            let (_, out) = exec(
                &b,
                &client_command("10.88.0.1", n, window),
                window + Duration::from_secs(60),
            )?;
            parse_client(&out)
        })
        .collect();
    drop(cable);
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(results)
}

// ------------------------------------------------------------------ table

fn main() {
    if let Ok(spec) = std::env::var(CLIENT_ENV) {
        client(&spec);
    }
    let mode = Mode::detect();
    if common::listing() {
        return;
    }
    println!();
    println!("interactive: {mode}");
    if mode == Mode::Test {
        println!(
            "  skipped: needs seconds of real-time line, root and the pppd VMs; \
             run `cargo bench --bench interactive`"
        );
        return;
    }
    let window = mode.pick(
        Duration::ZERO,
        Duration::from_secs(3),
        Duration::from_secs(6),
    );
    println!(
        "TCP echo of n-octet segments (TCP_NODELAY, one outstanding), {} bit/s 8N1, {} ms one way, \
         CCP off, TCP timestamps off; {:.0} s per size after 5 warm-up trips",
        PROFILE.bitrate.unwrap(),
        PROFILE.latency.as_millis(),
        window.as_secs_f64()
    );
    let cases: Vec<(&str, bool, Rows)> = vec![
        ("carrier", false, carrier_pair(false, window)),
        ("carrier", true, carrier_pair(true, window)),
        ("pppd", false, pppd_pair(false, window)),
        ("pppd", true, pppd_pair(true, window)),
    ];
    println!(
        "{:<8} {:<4} {:>5} {:>9} {:>10} {:>18} {:>14}",
        "pair", "VJ", "n", "trips/s", "median ms", "min..max ms", "vs pppd+VJ"
    );
    let pppd_vj = &cases[3].2;
    for (pair, vj, rows) in &cases {
        for (i, r) in rows.iter().enumerate() {
            let n = SIZES[i];
            match r {
                Ok(r) => {
                    let vs = match &pppd_vj[i] {
                        Ok(p) => format!("{:.3}x", r.per_second() / p.per_second()),
                        Err(_) => "-".into(),
                    };
                    println!(
                        "{:<8} {:<4} {:>5} {:>9.2} {:>10.1} {:>18} {:>14}",
                        pair,
                        if *vj { "yes" } else { "no" },
                        n,
                        r.per_second(),
                        r.median_ms,
                        format!("{:.1}..{:.1}", r.min_ms, r.max_ms),
                        vs
                    );
                }
                Err(e) => println!(
                    "{:<8} {:<4} {:>5}  unavailable: {}",
                    pair,
                    if *vj { "yes" } else { "no" },
                    n,
                    e.lines().next().unwrap_or("")
                ),
            }
        }
    }
}
