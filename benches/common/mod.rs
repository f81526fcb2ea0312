//! Shared by the link-up, goodput and scale benches: run modes, a tap
//! that decodes what crosses a line, an in-memory PPP line made of two
//! sans-IO links with their HDLC framers, and small statistics.
//!
//! Each bench includes it with `mod common;` and uses a part of it.
#![allow(dead_code)]

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use carrier::hdlc::{split_header, Decoder, DEFAULT_MRU, FLAG};
use carrier::line::Line;
use carrier::ppp::link::{Event, Link, LinkConfig};
use carrier::ppp::proto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

// ------------------------------------------------------------------ modes

/// How much of a bench to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `cargo test --benches`: criterion runs each benchmark once; the
    /// tables run tiny and skip what needs seconds (the pppd VMs).
    Test,
    /// `cargo bench -- --quick` or `CARRIER_BENCH_QUICK=1`: fewer runs,
    /// shorter windows.
    Quick,
    /// `cargo bench`.
    Full,
}

impl Mode {
    pub fn detect() -> Mode {
        let args: Vec<String> = std::env::args().collect();
        // cargo bench passes --bench; cargo test --benches does not.
        if !args.iter().any(|a| a == "--bench") {
            return Mode::Test;
        }
        let quick_env = std::env::var("CARRIER_BENCH_QUICK")
            .map(|v| !v.is_empty() && v != "0")
            .unwrap_or(false);
        if quick_env || args.iter().any(|a| a == "--quick") {
            Mode::Quick
        } else {
            Mode::Full
        }
    }

    /// Picks the value for this mode.
    pub fn pick<T>(self, test: T, quick: T, full: T) -> T {
        match self {
            Mode::Test => test,
            Mode::Quick => quick,
            Mode::Full => full,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Test => "test mode (cargo test --benches): minimal runs",
            Mode::Quick => "quick mode (--quick / CARRIER_BENCH_QUICK=1)",
            Mode::Full => "full run",
        })
    }
}

/// `cargo bench -- --list`: criterion lists its benchmarks; print no table.
pub fn listing() -> bool {
    std::env::args().any(|a| a == "--list")
}

// -------------------------------------------------------------- statistics

pub fn median<T: Copy + Ord>(v: &[T]) -> Option<T> {
    let mut s = v.to_vec();
    s.sort();
    // The lower median for an even count: always a measured value.
    s.get((s.len().max(1) - 1) / 2).copied()
}

pub fn min_max<T: Copy + Ord>(v: &[T]) -> Option<(T, T)> {
    Some((*v.iter().min()?, *v.iter().max()?))
}

pub fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

/// SplitMix64: a fixed, dependency-free stream of pseudo-random octets.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

// ------------------------------------------------------------ frame names

/// A control packet's name as pppd's debug log writes it
/// (`LCP ConfReq`, `PAP AuthAck`, ...); data frames by protocol.
pub fn frame_name(protocol: u16, info: &[u8]) -> String {
    let code = info.first().copied().unwrap_or(0);
    let p = match protocol {
        proto::LCP => "LCP",
        proto::IPCP => "IPCP",
        proto::PAP => "PAP",
        proto::CHAP => "CHAP",
        proto::CCP => "CCP",
        proto::IPV6CP => "IPV6CP",
        proto::IPV4 => return "IP".into(),
        other => return format!("proto {other:#06x}"),
    };
    let c = match (protocol, code) {
        (proto::PAP, 1) => "AuthReq",
        (proto::PAP, 2) => "AuthAck",
        (proto::PAP, 3) => "AuthNak",
        (proto::CHAP, 1) => "Challenge",
        (proto::CHAP, 2) => "Response",
        (proto::CHAP, 3) => "Success",
        (proto::CHAP, 4) => "Failure",
        (_, 1) => "ConfReq",
        (_, 2) => "ConfAck",
        (_, 3) => "ConfNak",
        (_, 4) => "ConfRej",
        (_, 5) => "TermReq",
        (_, 6) => "TermAck",
        (_, 7) => "CodeRej",
        (_, 8) => "ProtRej",
        (_, 9) => "EchoReq",
        (_, 10) => "EchoRep",
        (_, 11) => "DiscReq",
        _ => "code?",
    };
    format!("{p} {c}")
}

/// Frames per protocol family: (LCP, PAP/CHAP, IPCP, other).
pub fn by_family<'a>(names: impl IntoIterator<Item = &'a str>) -> [usize; 4] {
    let mut n = [0; 4];
    for name in names {
        let i = match name.split_whitespace().next() {
            Some("LCP") => 0,
            Some("PAP" | "CHAP") => 1,
            Some("IPCP") => 2,
            _ => 3,
        };
        n[i] += 1;
    }
    n
}

// -------------------------------------------------------------------- tap

/// One frame seen by a [`Tap`].
#[derive(Clone, Debug)]
pub struct TapFrame {
    pub at: Instant,
    pub protocol: u16,
    pub name: String,
}

/// What crossed a tapped line, decoded, in each direction.
#[derive(Debug, Default)]
pub struct TapLog {
    pub sent: Vec<TapFrame>,
    pub rcvd: Vec<TapFrame>,
    pub bytes_written: u64,
    pub bytes_read: u64,
    /// When the last read returned: with `bytes_read`, a precise rate.
    pub last_read_at: Option<Instant>,
    /// `bytes_written` at the closing flag of each IP frame sent.
    pub ip_sent_ends: Vec<u64>,
    /// IP frames are counted, not listed (the goodput bench sends many).
    pub ip_sent: u64,
    pub ip_rcvd: u64,
    /// The first IP frame sent, unstuffed, FCS removed: shows the header
    /// compression in force.
    pub first_ip_header: Option<Vec<u8>>,
    pub discarded: u64,
}

/// A line wrapper that decodes (with its own HDLC decoders) every octet
/// the session writes and reads, like a capture on the line. The decoders
/// take ACCM 0, so they read frames in any negotiated framing.
pub struct Tap<L> {
    inner: L,
    log: Arc<Mutex<TapLog>>,
    tx: Decoder,
    rx: Decoder,
}

fn tap_decoder() -> Decoder {
    let mut d = Decoder::new(DEFAULT_MRU + 64);
    d.set_accm(0);
    d
}

impl<L> Tap<L> {
    pub fn new(inner: L) -> (Tap<L>, Arc<Mutex<TapLog>>) {
        let log = Arc::new(Mutex::new(TapLog::default()));
        (
            Tap {
                inner,
                log: log.clone(),
                tx: tap_decoder(),
                rx: tap_decoder(),
            },
            log,
        )
    }
}

fn record(dec: &mut Decoder, log: &Mutex<TapLog>, bytes: &[u8], sent: bool) {
    let at = Instant::now();
    let mut log = log.lock().unwrap();
    let base = if sent {
        log.bytes_written
    } else {
        log.bytes_read
    };
    if sent {
        log.bytes_written += bytes.len() as u64;
    } else {
        log.bytes_read += bytes.len() as u64;
        log.last_read_at = Some(at);
    }
    // Fed up to each flag in turn, so a frame's end is known to the octet.
    let mut start = 0;
    while start < bytes.len() {
        let end = bytes[start..]
            .iter()
            .position(|&b| b == FLAG)
            .map_or(bytes.len(), |i| start + i + 1);
        let end_offset = base + end as u64;
        let mut discarded = 0;
        dec.decode(
            &bytes[start..end],
            |frame| {
                let Ok((protocol, info)) = split_header(frame) else {
                    return;
                };
                if protocol == proto::IPV4 {
                    if sent {
                        log.ip_sent += 1;
                        log.ip_sent_ends.push(end_offset);
                        if log.first_ip_header.is_none() {
                            log.first_ip_header = Some(frame[..frame.len().min(4)].to_vec());
                        }
                    } else {
                        log.ip_rcvd += 1;
                    }
                    return;
                }
                let f = TapFrame {
                    at,
                    protocol,
                    name: frame_name(protocol, info),
                };
                if sent {
                    log.sent.push(f);
                } else {
                    log.rcvd.push(f);
                }
            },
            |_| discarded += 1,
        );
        log.discarded += discarded;
        start = end;
    }
}

impl<L: AsyncRead + Unpin> AsyncRead for Tap<L> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            record(&mut this.rx, &this.log, &buf.filled()[before..], false);
        }
        r
    }
}

impl<L: AsyncWrite + Unpin> AsyncWrite for Tap<L> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            record(&mut this.tx, &this.log, &buf[..n], true);
        }
        r
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

// ------------------------------------------------------- in-memory lines

/// One end of an in-memory line: carrier's sans-IO [`Line`] (the link
/// with its HDLC framers, the same glue `session::run` drives) and what
/// its events said.
pub struct End {
    pub line: Line,
    pub ip_up: bool,
    pub down: bool,
}

impl End {
    pub fn new(cfg: LinkConfig, seed: [u8; 32]) -> End {
        End {
            line: Line::new(cfg, seed),
            ip_up: false,
            down: false,
        }
    }

    pub fn link(&self) -> &Link {
        self.line.link()
    }

    pub fn start(&mut self, now: Instant) {
        self.line.start(now);
    }

    fn events(&mut self) {
        while let Some(ev) = self.line.poll_event() {
            match ev {
                Event::IpUp { .. } => self.ip_up = true,
                Event::IpDown => self.ip_up = false,
                Event::Down { .. } => self.down = true,
                _ => {}
            }
        }
    }

    /// Encodes everything the link wants to send onto `wire`; returns the
    /// number of frames.
    pub fn transmit(&mut self, wire: &mut BytesMut, now: Instant) -> usize {
        self.events();
        let n = self.line.transmit(now, None, wire);
        self.events();
        n
    }

    /// Feeds octets from the line to the link.
    pub fn receive(&mut self, wire: &[u8], now: Instant) {
        self.line.handle_input(wire, now, None, |_| {});
        self.events();
    }

    pub fn timeout(&mut self, now: Instant) {
        self.line.handle_timeout(now);
        self.events();
    }
}

/// Moves octets between two ends, with no delay, until neither has
/// anything to send; returns the frames sent by (a, b). `wire` is scratch.
pub fn exchange(a: &mut End, b: &mut End, now: Instant, wire: &mut BytesMut) -> (usize, usize) {
    let mut frames = (0, 0);
    loop {
        wire.clear();
        let na = a.transmit(wire, now);
        if na > 0 {
            b.receive(wire, now);
        }
        wire.clear();
        let nb = b.transmit(wire, now);
        if nb > 0 {
            a.receive(wire, now);
        }
        frames.0 += na;
        frames.1 += nb;
        if na == 0 && nb == 0 {
            return frames;
        }
    }
}

// ------------------------------------------------------------------ procfs

/// Resident set size of this process in bytes, from /proc/self/statm.
pub fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// CPU time this thread has run, in nanoseconds (/proc/thread-self/schedstat).
pub fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

// --------------------------------------------------------------- pppd log

/// The control packets in a pppd `debug` log, by name (`LCP ConfReq`, ...),
/// and whether IPCP came up (`local  IP address`).
#[derive(Clone, Debug, Default)]
pub struct PppdTrace {
    pub sent: Vec<String>,
    pub rcvd: Vec<String>,
    pub ip_up: bool,
}

/// Reads the `sent [...]` / `rcvd [...]` lines of a pppd log.
pub fn pppd_trace(log: &str) -> PppdTrace {
    let mut t = PppdTrace::default();
    for line in log.lines() {
        for (tag, list) in [("sent [", &mut t.sent), ("rcvd [", &mut t.rcvd)] {
            if let Some(i) = line.find(tag) {
                let rest = line[i + tag.len()..].trim_end_matches(']');
                let name: Vec<&str> = rest
                    .split_whitespace()
                    .take(2)
                    .map(|w| w.trim_end_matches(']'))
                    .collect();
                list.push(name.join(" "));
            }
        }
        if line.contains("local  IP address") {
            t.ip_up = true;
        }
    }
    t
}

/// The roles every bench pair plays: the server requires PAP
/// (`alice`/`s3cret`) and gives the client 10.77.0.2; it is 10.77.0.1.
pub const SERVER_ADDR: std::net::Ipv4Addr = std::net::Ipv4Addr::new(10, 77, 0, 1);
pub const CLIENT_ADDR: std::net::Ipv4Addr = std::net::Ipv4Addr::new(10, 77, 0, 2);

pub fn server_config() -> LinkConfig {
    use carrier::ppp::auth::{AuthConfig, AuthProto, Secret};
    let mut c = pppd_novj_noccp();
    c.lcp.require_auth = vec![AuthProto::Pap];
    c.ipcp.local = Some(SERVER_ADDR);
    c.ipcp.remote = Some(CLIENT_ADDR);
    c.auth = AuthConfig {
        name: "server".into(),
        secrets: Arc::new(carrier::secrets::SecretsTable::single(
            "alice",
            "*",
            Secret::new("s3cret"),
        )),
        ..AuthConfig::default()
    };
    c
}

pub fn client_config() -> LinkConfig {
    use carrier::ppp::auth::{AuthConfig, Secret};
    LinkConfig {
        auth: AuthConfig {
            name: "alice".into(),
            password: Some(Secret::new("s3cret")),
            ..AuthConfig::default()
        },
        ..pppd_novj_noccp()
    }
}

/// What carrier runs, as the pppd the benches measure it against is told
/// (`novj noccp`): neither compression blurs the framing being timed.
pub fn pppd_novj_noccp() -> LinkConfig {
    let mut c = LinkConfig::pppd();
    c.ipcp.vj = None;
    c.ccp = None;
    c
}
