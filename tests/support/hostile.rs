//! A hostile PPP caller in the test process: it owns the master side of a
//! PTY pair whose slave the console's `carrier answer --direct` opens,
//! drives carrier's own sans-IO [`Link`] as a client through LCP,
//! authentication and IPCP, and otherwise writes whatever frames it likes
//! (IPv6 as 0x0057 or inside 0x0021, spoofed sources, NCP frames before
//! authentication has finished). A PTY is not tied to a network
//! namespace, so the caller needs none.
//!
//! The link runs inside carrier's [`Line`], as the console's does: the
//! framing follows LCP frame by frame, and the caller's own frames go out
//! through the line's encoder (`send_frame`) under the framing of the
//! moment. Frames the link would answer or swallow (network-layer
//! frames, Protocol-Rejects of what the caller sent behind its back) are
//! screened off before it.
//!
//! I/O is blocking-with-timeouts (`poll`) on a non-blocking master: every
//! write that would block reads what the console sent meanwhile, so two
//! full PTY buffers can never deadlock the line. The link keeps answering
//! LCP (echoes, terminate) whenever the caller pumps.
//!
//! Scans classify each probe as open (SYN-ACK, or a datagram back),
//! closed (RST, or ICMP port unreachable), unreachable (any other ICMP
//! error quoting the probe) or dropped (nothing after a final wait).

use std::collections::{BTreeSet, VecDeque};
use std::fs::File;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use carrier::hdlc;
use carrier::line::Line;
use carrier::ppp::activity::Direction;
use carrier::ppp::auth::{AuthConfig, Secret};
use carrier::ppp::link::{Event, Link, LinkConfig};
use carrier::ppp::proto;
use carrier::wire::ipproto::{
    ICMP, ICMPV6 as IPPROTO_ICMPV6, TCP as IPPROTO_TCP, UDP as IPPROTO_UDP,
};
use carrier::wire::tcp::{ACK as TCP_ACK, FIN as TCP_FIN, RST as TCP_RST, SYN as TCP_SYN};
use carrier::wire::{self, ipv6_fixed, ports};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios::{self, SetArg};

/// SYNs sent back to back before the caller stops to read replies.
pub const BURST: usize = 256;
/// How long a scan waits after its last probe for late answers.
pub const FINAL_WAIT: Duration = Duration::from_secs(3);

const LCP_PROTOCOL_REJECT: u8 = 8;

/// The caller's side of one call.
pub struct Hostile {
    master: OwnedFd,
    /// Held open so the line never sees its last close while the console
    /// comes and goes (the master would read EIO); never read.
    _slave: File,
    path: PathBuf,
    line: Line,
    /// Frames the link does not consume: network-layer protocols (0x0021,
    /// 0x0057, anything below 0x8000).
    rx: VecDeque<(u16, Vec<u8>)>,
    /// LCP Protocol-Rejects the console sent: (rejected protocol, info).
    pub protocol_rejects: Vec<(u16, Vec<u8>)>,
    /// Every IPv6 packet the console sent, as 0x0057 or inside 0x0021.
    pub ipv6_in: Vec<(u16, Vec<u8>)>,
    /// Control frames (LCP, PAP, CHAP, IPCP, ...) received, in order.
    pub control_in: Vec<(u16, Vec<u8>)>,
    /// Control frames the link sent, in order.
    pub control_out: Vec<(u16, Vec<u8>)>,
    pub events: Vec<Event>,
    /// Frames written in the same write() as the next authentication
    /// packet (CHAP Response or PAP Authenticate-Request) the link sends.
    piggyback: Option<Vec<(u16, Vec<u8>)>>,
    /// What that one write() carried: (bytes asked, bytes the write took).
    pub piggyback_write: Option<(usize, usize)>,
    pub local: Option<Ipv4Addr>,
    pub peer: Option<Ipv4Addr>,
    /// The link-local addresses IPv6CP agreed on: (ours, the console's).
    pub local6: Option<Ipv6Addr>,
    pub peer6: Option<Ipv6Addr>,
    /// Frames whose header did not parse.
    pub bad_frames: u64,
    /// Replies no probe claimed, described, for the report.
    pub strays: Vec<String>,
    next_port: u16,
    next_ident: u16,
}

/// Where the frames the console sent go, sorted as they are decoded.
struct Inbox<'a> {
    rx: &'a mut VecDeque<(u16, Vec<u8>)>,
    protocol_rejects: &'a mut Vec<(u16, Vec<u8>)>,
    ipv6_in: &'a mut Vec<(u16, Vec<u8>)>,
    control_in: &'a mut Vec<(u16, Vec<u8>)>,
    bad_frames: &'a mut u64,
}

impl Inbox<'_> {
    /// Records `frame`; whether the link takes it too (control frames:
    /// LCP but its Protocol-Rejects, authentication, the NCPs).
    fn screen(&mut self, frame: &[u8]) -> bool {
        let Ok((protocol, info)) = hdlc::split_header(frame) else {
            *self.bad_frames += 1;
            return false;
        };
        if protocol == proto::LCP && info.first() == Some(&LCP_PROTOCOL_REJECT) {
            let rejected = info
                .get(4..6)
                .map(|p| u16::from_be_bytes([p[0], p[1]]))
                .unwrap_or(0);
            self.protocol_rejects.push((rejected, info.to_vec()));
            return false;
        }
        if protocol >= 0x8000 {
            self.control_in.push((protocol, info.to_vec()));
            return true;
        }
        let v6 = protocol == proto::IPV6
            || (protocol == proto::IPV4 && info.first().is_some_and(|b| b >> 4 == 6));
        if v6 {
            self.ipv6_in.push((protocol, info.to_vec()));
        }
        self.rx.push_back((protocol, info.to_vec()));
        false
    }
}

/// One scan's outcome.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    pub what: String,
    pub probed: BTreeSet<u16>,
    pub open: BTreeSet<u16>,
    pub closed: BTreeSet<u16>,
    pub unreachable: BTreeSet<u16>,
    pub dropped: BTreeSet<u16>,
    /// Other addresses answers came from.
    pub answered_from: BTreeSet<IpAddr>,
}

impl Scan {
    fn new(what: String, ports: &[u16]) -> Scan {
        Scan {
            what,
            probed: ports.iter().copied().collect(),
            ..Scan::default()
        }
    }

    fn finish(&mut self) {
        self.dropped = self
            .probed
            .iter()
            .filter(|p| {
                !self.open.contains(p) && !self.closed.contains(p) && !self.unreachable.contains(p)
            })
            .copied()
            .collect();
    }

    fn answered(&self, port: u16) -> bool {
        self.open.contains(&port) || self.closed.contains(&port) || self.unreachable.contains(&port)
    }

    /// Every probe got nothing back.
    pub fn all_dropped(&self) -> bool {
        self.open.is_empty() && self.closed.is_empty() && self.unreachable.is_empty()
    }

    /// Answers of any kind, as a short text.
    pub fn answers(&self) -> String {
        format!(
            "open [{}] closed [{}] unreachable [{}]",
            ports_text(&self.open),
            ports_text(&self.closed),
            ports_text(&self.unreachable)
        )
    }
}

/// `22,23,30000-30009`, long runs shortened and long lists cut.
pub fn ports_text(ports: &BTreeSet<u16>) -> String {
    let mut runs: Vec<(u16, u16)> = Vec::new();
    for &p in ports {
        match runs.last_mut() {
            Some((_, end)) if u32::from(*end) + 1 == u32::from(p) => *end = p,
            _ => runs.push((p, p)),
        }
    }
    let mut parts: Vec<String> = runs
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect();
    if parts.len() > 24 {
        let n = parts.len();
        parts.truncate(24);
        parts.push(format!("... ({} ports in {n} runs)", ports.len()));
    }
    parts.join(",")
}

/// A PTY pair, both ends close-on-exec, the slave raw: (master, slave
/// path, our slave fd). As tests/support/pppd.rs opens it.
fn open_pty() -> io::Result<(OwnedFd, PathBuf, File)> {
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)?;
    nix::pty::grantpt(&master)?;
    nix::pty::unlockpt(&master)?;
    let path = PathBuf::from(nix::pty::ptsname_r(&master)?);
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(OFlag::O_NOCTTY.bits())
        .open(&path)?;
    let mut t = termios::tcgetattr(slave.as_fd())?;
    termios::cfmakeraw(&mut t);
    termios::tcsetattr(slave.as_fd(), SetArg::TCSANOW, &t)?;
    let master = master.as_fd().try_clone_to_owned()?;
    let flags = nix::fcntl::fcntl(master.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFL)?;
    nix::fcntl::fcntl(
        master.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
    )?;
    Ok((master, path, slave))
}

/// The client configuration `carrier dial --user U --password P` builds:
/// authenticates itself with either protocol, asks for an address; but
/// neither VJ nor CCP, so the attacks' datagrams go out as written and
/// the firewall sees exactly what the test sent.
pub fn client_config(user: &str, password: &[u8]) -> LinkConfig {
    let mut c = LinkConfig {
        auth: AuthConfig {
            name: user.to_string(),
            password: Some(Secret::new(password)),
            ..AuthConfig::default()
        },
        ..LinkConfig::pppd()
    };
    c.ipcp.vj = None;
    c.ccp = None;
    c
}

impl Hostile {
    /// A caller that will authenticate as `user` with `password` (right
    /// or wrong).
    pub fn new(user: &str, password: &[u8]) -> Hostile {
        Self::with_config(client_config(user, password))
    }

    pub fn with_config(cfg: LinkConfig) -> Hostile {
        let (master, path, slave) = open_pty().expect("open a PTY pair");
        Hostile {
            master,
            _slave: slave,
            path,
            line: Line::new(cfg, [0x5a; 32]),
            rx: VecDeque::new(),
            protocol_rejects: Vec::new(),
            ipv6_in: Vec::new(),
            control_in: Vec::new(),
            control_out: Vec::new(),
            events: Vec::new(),
            piggyback: None,
            piggyback_write: None,
            local: None,
            peer: None,
            local6: None,
            peer6: None,
            bad_frames: 0,
            strays: Vec::new(),
            next_port: 40000,
            next_ident: 0x4000,
        }
    }

    /// The slave side, for the console's `--device`.
    pub fn device(&self) -> &Path {
        &self.path
    }

    pub fn device_str(&self) -> &str {
        self.path.to_str().expect("PTY path")
    }

    pub fn link(&self) -> &Link {
        self.line.link()
    }

    pub fn ip_up(&self) -> bool {
        self.link().is_ip_up()
    }

    pub fn ipv6_up(&self) -> bool {
        self.link().is_ipv6_up()
    }

    /// Writes `frames` in the same write() as the next CHAP Response or
    /// PAP Authenticate-Request the link sends, right after it.
    pub fn piggyback_on_auth(&mut self, frames: Vec<(u16, Vec<u8>)>) {
        self.piggyback = Some(frames);
    }

    /// The link opens and starts LCP.
    pub fn start(&mut self) {
        self.line.start(Instant::now());
        self.drain_events();
        self.flush();
    }

    /// Asks the link to close (LCP Terminate-Request).
    pub fn close(&mut self) {
        self.line
            .close(carrier::ppp::DownReason::UserRequest, Instant::now());
        self.drain_events();
        self.flush();
    }

    /// A port no scan used before, for the caller's side of probes.
    pub fn fresh_port(&mut self) -> u16 {
        self.next_port = if self.next_port >= 60000 {
            40000
        } else {
            self.next_port + 1
        };
        self.next_port
    }

    fn fresh_ident(&mut self) -> u16 {
        self.next_ident = self.next_ident.wrapping_add(1);
        self.next_ident
    }

    // ---- the line ----

    fn drain_events(&mut self) {
        while let Some(ev) = self.line.poll_event() {
            match &ev {
                Event::IpUp { local, peer, .. } => {
                    self.local = Some(*local);
                    self.peer = *peer;
                }
                Event::Ipv6Up { local, peer } => {
                    self.local6 = Some(local.link_local());
                    self.peer6 = Some(peer.link_local());
                }
                _ => {}
            }
            self.events.push(ev);
        }
    }

    /// Encodes what the link wants sent; an authentication packet takes
    /// the piggybacked frames along in one write().
    fn flush(&mut self) {
        let mut wire = BytesMut::new();
        let now = Instant::now();
        let mut one_write = false;
        loop {
            let mut sent = None;
            let mut tap = |_: Direction, protocol: u16, info: &[u8]| {
                sent = Some((protocol, info.to_vec()));
            };
            if !self.line.transmit_one(now, Some(&mut tap), &mut wire) {
                break;
            }
            let Some((protocol, data)) = sent else { break };
            let auth = (protocol == proto::CHAP && data.first() == Some(&2))
                || (protocol == proto::PAP && data.first() == Some(&1));
            self.control_out.push((protocol, data));
            if auth {
                if let Some(extra) = self.piggyback.take() {
                    for (p, d) in &extra {
                        self.line.send_frame(*p, d, now, None, &mut wire);
                    }
                    one_write = true;
                }
            }
        }
        if wire.is_empty() {
            return;
        }
        if one_write {
            let n = loop {
                match nix::unistd::write(&self.master, &wire) {
                    Ok(n) => break n,
                    Err(Errno::EINTR) => continue,
                    Err(Errno::EAGAIN) => break 0,
                    Err(e) => panic!("write to the PTY master: {e}"),
                }
            };
            self.piggyback_write = Some((wire.len(), n));
            if n < wire.len() {
                let rest = wire.split_off(n);
                self.write_all(&rest);
            }
        } else {
            self.write_all(&wire);
        }
    }

    /// Writes all of `bytes`, reading (and handling) what arrives while
    /// the line is full.
    fn write_all(&mut self, mut bytes: &[u8]) {
        let mut stalled_since = Instant::now();
        while !bytes.is_empty() {
            match nix::unistd::write(&self.master, bytes) {
                Ok(n) => {
                    bytes = &bytes[n..];
                    stalled_since = Instant::now();
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => {
                    assert!(
                        stalled_since.elapsed() < Duration::from_secs(15),
                        "the console stopped reading its line for 15 s"
                    );
                    let mut fds = [PollFd::new(
                        self.master.as_fd(),
                        PollFlags::POLLIN | PollFlags::POLLOUT,
                    )];
                    let _ = poll(&mut fds, PollTimeout::from(100u16));
                    self.read_available();
                }
                Err(e) => panic!("write to the PTY master: {e}"),
            }
        }
    }

    /// Reads everything the console has sent so far and handles it.
    fn read_available(&mut self) {
        let mut buf = vec![0u8; 65536];
        loop {
            match nix::unistd::read(self.master.as_raw_fd(), &mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    let mut inbox = Inbox {
                        rx: &mut self.rx,
                        protocol_rejects: &mut self.protocol_rejects,
                        ipv6_in: &mut self.ipv6_in,
                        control_in: &mut self.control_in,
                        bad_frames: &mut self.bad_frames,
                    };
                    // Network-layer frames never reach the link: nothing
                    // is VJ-decompressed or counted there.
                    self.line.handle_input_screened(
                        &buf[..n],
                        Instant::now(),
                        None,
                        |f| inbox.screen(f),
                        |_| {},
                    );
                    self.drain_events();
                }
                Err(Errno::EINTR) => {}
                // EIO: no slave open; cannot happen while we hold one.
                Err(Errno::EAGAIN) | Err(Errno::EIO) => return,
                Err(e) => panic!("read from the PTY master: {e}"),
            }
        }
    }

    /// One round: waits for input or the link's next timer (at most until
    /// `deadline`), handles both, sends what the link wants sent.
    fn service(&mut self, deadline: Instant) {
        let now = Instant::now();
        let wake = self
            .line
            .poll_timeout()
            .map_or(deadline, |t| t.min(deadline));
        let wait = wake.saturating_duration_since(now);
        let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(self.master.as_fd(), PollFlags::POLLIN)];
        let _ = poll(&mut fds, PollTimeout::from(ms));
        self.read_available();
        let now = Instant::now();
        if self.line.poll_timeout().is_some_and(|t| t <= now) {
            self.line.handle_timeout(now);
            self.drain_events();
        }
        self.flush();
    }

    /// Runs the line until `until` holds or `timeout` passes; whether it
    /// held.
    pub fn pump_until(
        &mut self,
        timeout: Duration,
        mut until: impl FnMut(&Hostile) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if until(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            self.service(deadline);
        }
    }

    /// Runs the line for `dur`; every frame received that the link did
    /// not consume.
    pub fn pump(&mut self, dur: Duration) -> Vec<(u16, Vec<u8>)> {
        self.pump_until(dur, |_| false);
        self.rx.drain(..).collect()
    }

    /// Runs the line until `idle` passes with nothing new (or `max`).
    pub fn pump_idle(&mut self, max: Duration, idle: Duration) -> Vec<(u16, Vec<u8>)> {
        let end = Instant::now() + max;
        let mut out: Vec<(u16, Vec<u8>)> = Vec::new();
        loop {
            let now = Instant::now();
            if now >= end {
                break;
            }
            let step = (now + idle).min(end);
            self.pump_until(step - now, |_| false);
            let got = self.rx.len();
            out.extend(self.rx.drain(..));
            if got == 0 {
                break;
            }
        }
        out
    }

    /// Runs the line until frames arrive (then a little longer, to batch
    /// them) or `idle` passes without any.
    pub fn pump_some(&mut self, idle: Duration) -> Vec<(u16, Vec<u8>)> {
        if self.pump_until(idle, |h| !h.rx.is_empty()) {
            self.pump_until(Duration::from_millis(2), |_| false);
        }
        self.rx.drain(..).collect()
    }

    /// Any frame, bypassing the link.
    pub fn send_frame(&mut self, protocol: u16, info: &[u8]) {
        self.send_frames(&[(protocol, info.to_vec())]);
    }

    /// Frames encoded back to back and written together.
    pub fn send_frames(&mut self, frames: &[(u16, Vec<u8>)]) {
        let mut wire = BytesMut::new();
        let now = Instant::now();
        for (p, d) in frames {
            self.line.send_frame(*p, d, now, None, &mut wire);
        }
        self.write_all(&wire);
    }

    /// Frames encoded back to back and given to ONE write(); the number
    /// of bytes it took (all, unless the line was full).
    pub fn send_frames_one_write(&mut self, frames: &[(u16, Vec<u8>)]) -> (usize, usize) {
        let mut wire = BytesMut::new();
        let now = Instant::now();
        for (p, d) in frames {
            self.line.send_frame(*p, d, now, None, &mut wire);
        }
        let n = nix::unistd::write(&self.master, &wire).unwrap_or(0);
        if n < wire.len() {
            self.write_all(&wire[n..]);
        }
        (wire.len(), n)
    }

    /// Any datagram of family `A`, in its own frame (0x0021 or 0x0057).
    pub fn send_ip<A: Ip>(&mut self, datagram: &[u8]) {
        self.send_frame(A::FRAME, datagram);
    }

    // ---- probes (either family: `A` is Ipv4Addr or Ipv6Addr) ----

    /// SYNs to every port in `ports` of `dst`, from `src`, in bursts of
    /// [`BURST`], in `A`'s frames; a SYN-ACK is answered with an ACK (so
    /// the listener accepts and counts the connection) and later a RST.
    pub fn tcp_scan<A: Ip>(&mut self, src: A, dst: A, ports: &[u16]) -> Scan {
        let sport = self.fresh_port();
        let mut scan = Scan::new(format!("tcp {} from {}", dst.label(), src.label()), ports);
        let mut resets = Vec::new();
        // While the target answers, each burst waits for its answers (the
        // console's TUN queue holds 500: overrun it and answers are lost);
        // while it drops everything, a short silence ends the wait.
        let mut answering = false;
        for chunk in ports.chunks(BURST) {
            let frames: Vec<(u16, Vec<u8>)> = chunk
                .iter()
                .map(|&p| (A::FRAME, tcp_syn(src, sport, dst, p)))
                .collect();
            self.send_frames(&frames);
            let idle = if answering {
                Duration::from_millis(300)
            } else {
                Duration::from_millis(15)
            };
            let end = Instant::now() + Duration::from_secs(3);
            loop {
                let got = self.pump_some(idle);
                let quiet = got.is_empty();
                self.classify_tcp(&got, src, dst, sport, &mut scan, &mut resets);
                let answered = chunk.iter().filter(|p| scan.answered(**p)).count();
                answering = answered > 0;
                if quiet || answered == chunk.len() || Instant::now() >= end {
                    break;
                }
            }
        }
        let got = self.pump(FINAL_WAIT);
        self.classify_tcp(&got, src, dst, sport, &mut scan, &mut resets);
        if !resets.is_empty() {
            self.send_frames(&resets);
            let got = self.pump(Duration::from_millis(200));
            self.classify_tcp(&got, src, dst, sport, &mut scan, &mut Vec::new());
        }
        scan.finish();
        scan
    }

    fn classify_tcp<A: Ip>(
        &mut self,
        got: &[(u16, Vec<u8>)],
        src: A,
        dst: A,
        sport: u16,
        scan: &mut Scan,
        resets: &mut Vec<(u16, Vec<u8>)>,
    ) {
        for (protocol, p) in got {
            if *protocol != A::FRAME {
                self.strays.push(describe(*protocol, p));
                continue;
            }
            if let Some(t) = A::parse_tcp(p) {
                if t.src == dst
                    && t.dst == src
                    && t.dport == sport
                    && scan.probed.contains(&t.sport)
                {
                    let port = t.sport;
                    let next = isn(port).wrapping_add(1);
                    if t.flags & SYN_ACK == SYN_ACK && t.ack == next {
                        if scan.open.insert(port) {
                            let ack = tcp(src, sport, dst, port, next, t.seq.wrapping_add(1), ACK);
                            self.send_ip::<A>(&ack);
                            resets.push((A::FRAME, tcp(src, sport, dst, port, next, 0, RST)));
                        }
                    } else if t.flags & RST != 0 && !scan.open.contains(&port) {
                        scan.closed.insert(port);
                    }
                    // FIN or data from a port already open: the listener
                    // closing the connection it accepted.
                    continue;
                }
            }
            if let Some(e) = A::parse_icmp_error(p) {
                if e.quotes(src, dst, IPPROTO_TCP, sport) && scan.probed.contains(&e.quoted_dport) {
                    scan.unreachable.insert(e.quoted_dport);
                    continue;
                }
            }
            self.strays.push(describe(*protocol, p));
        }
    }

    /// A datagram to every port in `ports` of `dst`, in bursts of 32.
    pub fn udp_probe<A: Ip>(&mut self, src: A, dst: A, ports: &[u16]) -> Scan {
        let sport = self.fresh_port();
        let mut scan = Scan::new(format!("udp {} from {}", dst.label(), src.label()), ports);
        for chunk in ports.chunks(32) {
            let frames: Vec<(u16, Vec<u8>)> = chunk
                .iter()
                .map(|&p| {
                    (
                        A::FRAME,
                        udp(src, sport, dst, p, format!("carrier-attack {p}").as_bytes()),
                    )
                })
                .collect();
            self.send_frames(&frames);
            let got = self.pump_idle(Duration::from_millis(400), Duration::from_millis(30));
            self.classify_udp(&got, src, dst, sport, &mut scan);
        }
        let got = self.pump(FINAL_WAIT);
        self.classify_udp(&got, src, dst, sport, &mut scan);
        scan.finish();
        scan
    }

    fn classify_udp<A: Ip>(
        &mut self,
        got: &[(u16, Vec<u8>)],
        src: A,
        dst: A,
        sport: u16,
        scan: &mut Scan,
    ) {
        for (protocol, p) in got {
            if *protocol == A::FRAME {
                if let Some(u) = A::parse_udp(p) {
                    // A wildcard-bound echo answers from the address it
                    // routes by, not always the one probed: the ports
                    // (ours fresh for each probe) say whose answer it is.
                    if u.dst == src && u.dport == sport && scan.probed.contains(&u.sport) {
                        scan.open.insert(u.sport);
                        if u.src != dst {
                            scan.answered_from.insert(u.src.into());
                        }
                        continue;
                    }
                }
                if let Some(e) = A::parse_icmp_error(p) {
                    if e.quotes(src, dst, IPPROTO_UDP, sport)
                        && scan.probed.contains(&e.quoted_dport)
                    {
                        if (e.kind, e.code) == A::PORT_UNREACHABLE {
                            scan.closed.insert(e.quoted_dport);
                        } else {
                            scan.unreachable.insert(e.quoted_dport);
                        }
                        continue;
                    }
                }
            }
            self.strays.push(describe(*protocol, p));
        }
    }

    /// `count` ICMP (or ICMPv6) echo requests to `dst`; how many replies
    /// came back.
    pub fn ping<A: Ip>(&mut self, src: A, dst: A, count: u16) -> u16 {
        let ident = self.fresh_ident();
        let frames: Vec<(u16, Vec<u8>)> = (1..=count)
            .map(|seq| (A::FRAME, A::echo(src, dst, ident, seq)))
            .collect();
        self.send_frames(&frames);
        let got = self.pump(Duration::from_millis(1500));
        let mut replies = 0;
        for (protocol, p) in &got {
            match A::echo_reply(p, src, dst) {
                Some(id) if *protocol == A::FRAME && id == ident => replies += 1,
                _ => self.strays.push(describe(*protocol, p)),
            }
        }
        replies
    }

    /// Frames received in the next `dur`, described, with nothing sent.
    pub fn listen(&mut self, dur: Duration) -> Vec<String> {
        self.pump(dur)
            .iter()
            .map(|(p, d)| describe(*p, d))
            .collect()
    }
}

/// The initial sequence number of the probe to `port`.
pub fn isn(port: u16) -> u32 {
    0x1000_0000u32.wrapping_add(u32::from(port).wrapping_mul(7919))
}

// ---- packets ----

/// What IPv4 and IPv6 probes differ in: the frame they travel in, the
/// IP header, the checksum's pseudo-header, ICMP, and how a scan names
/// an address. Implemented by [`Ipv4Addr`] and [`Ipv6Addr`].
pub trait Ip: Copy + Eq + std::fmt::Display + Into<IpAddr> {
    /// The PPP protocol of its frames (0x0021, 0x0057).
    const FRAME: u16;
    /// ICMP's port unreachable: (type, code).
    const PORT_UNREACHABLE: (u8, u8);
    /// The address in a scan's name (IPv6 bracketed).
    fn label(self) -> String;
    /// The pseudo-header's sum, for TCP and UDP checksums.
    fn pseudo(src: Self, dst: Self, protocol: u8, len: usize) -> u32;
    /// A datagram around `payload`; `id` is IPv4's identification.
    fn packet(src: Self, dst: Self, protocol: u8, payload: &[u8], id: u16) -> Vec<u8>;
    /// An echo request, checksums right.
    fn echo(src: Self, dst: Self, ident: u16, seq: u16) -> Vec<u8>;
    /// The identifier of `p` if it is an echo reply to a request from
    /// `src` to `dst`.
    fn echo_reply(p: &[u8], src: Self, dst: Self) -> Option<u16>;
    fn parse_tcp(p: &[u8]) -> Option<Tcp<Self>>;
    fn parse_udp(p: &[u8]) -> Option<Udp<Self>>;
    fn parse_icmp_error(p: &[u8]) -> Option<IcmpError<Self>>;
}

impl Ip for Ipv4Addr {
    const FRAME: u16 = proto::IPV4;
    const PORT_UNREACHABLE: (u8, u8) = (3, 3);

    fn label(self) -> String {
        self.to_string()
    }

    fn pseudo(src: Self, dst: Self, protocol: u8, len: usize) -> u32 {
        wire::pseudo4(src, dst, protocol, len)
    }

    fn packet(src: Self, dst: Self, protocol: u8, payload: &[u8], id: u16) -> Vec<u8> {
        let mut p = ipv4_header(src, dst, protocol, payload.len(), id);
        p.extend_from_slice(payload);
        p
    }

    fn echo(src: Self, dst: Self, ident: u16, seq: u16) -> Vec<u8> {
        icmp4_echo(src, dst, ident, seq)
    }

    fn echo_reply(p: &[u8], _src: Self, dst: Self) -> Option<u16> {
        wire::echo_reply(p).and_then(|(from, id, _)| (from == dst).then_some(id))
    }

    fn parse_tcp(p: &[u8]) -> Option<Tcp<Self>> {
        parse_tcp4(p)
    }

    fn parse_udp(p: &[u8]) -> Option<Udp<Self>> {
        parse_udp4(p)
    }

    fn parse_icmp_error(p: &[u8]) -> Option<IcmpError<Self>> {
        parse_icmp4_error(p)
    }
}

impl Ip for Ipv6Addr {
    const FRAME: u16 = proto::IPV6;
    // Destination unreachable, port unreachable.
    const PORT_UNREACHABLE: (u8, u8) = (1, 4);

    fn label(self) -> String {
        format!("[{self}]")
    }

    fn pseudo(src: Self, dst: Self, next: u8, len: usize) -> u32 {
        wire::pseudo6(src, dst, next, len)
    }

    fn packet(src: Self, dst: Self, next: u8, payload: &[u8], _id: u16) -> Vec<u8> {
        ipv6_packet(src, dst, next, 64, payload)
    }

    fn echo(src: Self, dst: Self, ident: u16, seq: u16) -> Vec<u8> {
        icmp6_echo(src, dst, ident, seq)
    }

    fn echo_reply(p: &[u8], src: Self, _dst: Self) -> Option<u16> {
        parse_icmp6_echo_reply(p).and_then(|(_, to, id)| (to == src).then_some(id))
    }

    fn parse_tcp(p: &[u8]) -> Option<Tcp<Self>> {
        parse_tcp6(p)
    }

    fn parse_udp(p: &[u8]) -> Option<Udp<Self>> {
        parse_udp6(p)
    }

    fn parse_icmp_error(p: &[u8]) -> Option<IcmpError<Self>> {
        parse_icmp6_error(p)
    }
}

fn ipv4_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, payload: usize, id: u16) -> Vec<u8> {
    let mut h = vec![0u8; 20];
    wire::write_ipv4_header(&mut h, src, dst, protocol, payload, id);
    h
}

fn ipv6_packet(src: Ipv6Addr, dst: Ipv6Addr, next: u8, hop: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 40];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&(payload.len() as u16).to_be_bytes());
    p[6] = next;
    p[7] = hop;
    p[8..24].copy_from_slice(&src.octets());
    p[24..40].copy_from_slice(&dst.octets());
    p.extend_from_slice(payload);
    p
}

/// A TCP segment without options or data, checksums right.
pub fn tcp<A: Ip>(
    src: A,
    sport: u16,
    dst: A,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
) -> Vec<u8> {
    tcp_data(src, sport, dst, dport, (seq, ack, flags), &[])
}

/// A TCP segment carrying `data`, (seq, ack, flags) as given.
pub fn tcp_data<A: Ip>(
    src: A,
    sport: u16,
    dst: A,
    dport: u16,
    (seq, ack, flags): (u32, u32, u8),
    data: &[u8],
) -> Vec<u8> {
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[8..12].copy_from_slice(&ack.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = flags;
    t[14..16].copy_from_slice(&65535u16.to_be_bytes());
    t.extend_from_slice(data);
    let c = wire::checksum_from(A::pseudo(src, dst, IPPROTO_TCP, t.len()), &t);
    t[16..18].copy_from_slice(&c.to_be_bytes());
    A::packet(src, dst, IPPROTO_TCP, &t, (seq as u16) ^ dport)
}

/// The SYN of the probe to `dport`.
pub fn tcp_syn<A: Ip>(src: A, sport: u16, dst: A, dport: u16) -> Vec<u8> {
    tcp(src, sport, dst, dport, isn(dport), 0, TCP_SYN)
}

/// A UDP datagram, checksums right (a zero checksum is sent as all
/// ones: mandatory over IPv6, RFC 8200 §8.1).
pub fn udp<A: Ip>(src: A, sport: u16, dst: A, dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = 8 + payload.len();
    let mut u = vec![0u8; 8];
    u[0..2].copy_from_slice(&sport.to_be_bytes());
    u[2..4].copy_from_slice(&dport.to_be_bytes());
    u[4..6].copy_from_slice(&(len as u16).to_be_bytes());
    u.extend_from_slice(payload);
    let c = match wire::checksum_from(A::pseudo(src, dst, IPPROTO_UDP, len), &u) {
        0 => 0xffff,
        c => c,
    };
    u[6..8].copy_from_slice(&c.to_be_bytes());
    A::packet(src, dst, IPPROTO_UDP, &u, dport)
}

/// An ICMP echo request.
pub fn icmp4_echo(src: Ipv4Addr, dst: Ipv4Addr, ident: u16, seq: u16) -> Vec<u8> {
    let mut buf = [0u8; 128];
    let n = wire::echo_request(&mut buf, src, dst, ident, seq);
    buf[..n].to_vec()
}

/// An ICMPv6 echo request, checksum right.
pub fn icmp6_echo(src: Ipv6Addr, dst: Ipv6Addr, ident: u16, seq: u16) -> Vec<u8> {
    let mut m = vec![128u8, 0, 0, 0];
    m.extend_from_slice(&ident.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(b"carrier-attack-v6");
    let c = wire::checksum_from(Ipv6Addr::pseudo(src, dst, IPPROTO_ICMPV6, m.len()), &m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    ipv6_packet(src, dst, IPPROTO_ICMPV6, 64, &m)
}

// ---- parsing replies ----

pub const SYN_ACK: u8 = TCP_SYN | TCP_ACK;
pub const ACK: u8 = TCP_ACK;
pub const RST: u8 = TCP_RST;

/// A TCP segment's header.
#[derive(Clone, Copy, Debug)]
pub struct Tcp<A = Ipv4Addr> {
    pub src: A,
    pub dst: A,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
}

impl<A> Tcp<A> {
    /// `t` is the TCP header, at least 20 octets.
    fn from_header(src: A, dst: A, t: &[u8]) -> Option<Tcp<A>> {
        let t = wire::tcp_header(t)?;
        Some(Tcp {
            src,
            dst,
            sport: t.sport,
            dport: t.dport,
            seq: t.seq,
            ack: t.ack,
            flags: t.flags,
        })
    }
}

#[derive(Clone, Debug)]
pub struct Udp<A = Ipv4Addr> {
    pub src: A,
    pub dst: A,
    pub sport: u16,
    pub dport: u16,
    pub payload: Vec<u8>,
}

impl<A> Udp<A> {
    /// `u` is the UDP header and what follows, at least 8 octets.
    fn from_datagram(src: A, dst: A, u: &[u8]) -> Option<Udp<A>> {
        let (sport, dport) = ports(u)?;
        Some(Udp {
            src,
            dst,
            sport,
            dport,
            payload: u.get(8..)?.to_vec(),
        })
    }
}

/// An ICMP (or ICMPv6) error and the header of the datagram it quotes.
#[derive(Clone, Copy, Debug)]
pub struct IcmpError<A = Ipv4Addr> {
    pub from: A,
    pub kind: u8,
    pub code: u8,
    pub quoted_src: A,
    pub quoted_dst: A,
    /// The quoted datagram's protocol (next header).
    pub quoted_protocol: u8,
    pub quoted_sport: u16,
    pub quoted_dport: u16,
}

impl<A: Ip> IcmpError<A> {
    /// Whether it quotes a datagram of `protocol` from `src`:`sport` to
    /// `dst`.
    fn quotes(&self, src: A, dst: A, protocol: u8, sport: u16) -> bool {
        self.quoted_src == src
            && self.quoted_dst == dst
            && self.quoted_protocol == protocol
            && self.quoted_sport == sport
    }
}

/// An IPv4 datagram of `protocol` with at least `min` octets of
/// payload: (source, destination, payload).
fn ipv4_payload(p: &[u8], protocol: u8, min: usize) -> Option<(Ipv4Addr, Ipv4Addr, &[u8])> {
    let h = wire::ipv4_header(p)?;
    (h.protocol == protocol && h.total_len >= h.header_len + min)
        .then(|| (h.src, h.dst, &p[h.header_len..h.total_len]))
}

pub fn parse_tcp4(p: &[u8]) -> Option<Tcp> {
    let (src, dst, t) = ipv4_payload(p, IPPROTO_TCP, 20)?;
    Tcp::from_header(src, dst, t)
}

pub fn parse_udp4(p: &[u8]) -> Option<Udp> {
    let (src, dst, u) = ipv4_payload(p, IPPROTO_UDP, 8)?;
    Udp::from_datagram(src, dst, u)
}

pub fn parse_icmp4_error(p: &[u8]) -> Option<IcmpError> {
    let h = wire::ipv4_header(p)?;
    if h.protocol != ICMP || h.total_len < h.header_len + 8 + 20 + 4 {
        return None;
    }
    let icmp = &p[h.header_len..h.total_len];
    if !matches!(icmp[0], 3 | 5 | 11 | 12) {
        return None;
    }
    let inner = &icmp[8..];
    // The quoted datagram is cut short: read its header as it stands.
    let q = wire::ipv4_fixed(inner)?;
    if q.header_len < 20 {
        return None;
    }
    let (quoted_sport, quoted_dport) = ports(inner.get(q.header_len..)?)?;
    Some(IcmpError {
        from: h.src,
        kind: icmp[0],
        code: icmp[1],
        quoted_src: q.src,
        quoted_dst: q.dst,
        quoted_protocol: q.protocol,
        quoted_sport,
        quoted_dport,
    })
}

/// An IPv6 packet (no extension headers) of `next` with at least `min`
/// octets of payload: (source, destination, payload).
fn ipv6_payload(p: &[u8], next: u8, min: usize) -> Option<(Ipv6Addr, Ipv6Addr, &[u8])> {
    let h = ipv6_fixed(p)?;
    (p.len() >= 40 + min && h.next == next).then(|| (h.src, h.dst, &p[40..]))
}

/// An IPv6 TCP segment (no extension headers).
pub fn parse_tcp6(p: &[u8]) -> Option<Tcp<Ipv6Addr>> {
    let (src, dst, t) = ipv6_payload(p, IPPROTO_TCP, 20)?;
    Tcp::from_header(src, dst, t)
}

pub fn parse_udp6(p: &[u8]) -> Option<Udp<Ipv6Addr>> {
    let (src, dst, u) = ipv6_payload(p, IPPROTO_UDP, 8)?;
    Udp::from_datagram(src, dst, u)
}

/// An ICMPv6 error (types 1-4) and the packet it quotes.
pub fn parse_icmp6_error(p: &[u8]) -> Option<IcmpError<Ipv6Addr>> {
    let h = ipv6_fixed(p)?;
    if h.next != IPPROTO_ICMPV6 || p.len() < 40 + 8 + 40 + 4 {
        return None;
    }
    let icmp = &p[40..];
    if !(1..=4).contains(&icmp[0]) {
        return None;
    }
    let inner = &icmp[8..];
    let q = ipv6_fixed(inner)?;
    let (quoted_sport, quoted_dport) = ports(&inner[40..])?;
    Some(IcmpError {
        from: h.src,
        kind: icmp[0],
        code: icmp[1],
        quoted_src: q.src,
        quoted_dst: q.dst,
        quoted_protocol: q.next,
        quoted_sport,
        quoted_dport,
    })
}

/// An ICMPv6 echo reply: (from, to, identifier).
pub fn parse_icmp6_echo_reply(p: &[u8]) -> Option<(Ipv6Addr, Ipv6Addr, u16)> {
    let h = ipv6_fixed(p)?;
    let e = wire::echo(&p[40..]).filter(|e| h.next == IPPROTO_ICMPV6 && e.kind == 129)?;
    Some((h.src, h.dst, e.ident))
}
/// A received frame in a line, for reports.
pub fn describe(protocol: u16, p: &[u8]) -> String {
    if let Some(h) = ipv6_fixed(p) {
        let detail = match (h.next, p.get(40)) {
            (IPPROTO_ICMPV6, Some(t)) => format!("icmpv6 type {t}"),
            (IPPROTO_TCP, _) => "tcp".to_string(),
            (n, _) => format!("next header {n}"),
        };
        return format!("ipv6 in {protocol:#06x} {} > {} {detail}", h.src, h.dst);
    }
    let v = p.first().map(|b| b >> 4);
    match (protocol, v) {
        (proto::IPV4, Some(4)) => {
            let Some(h) = wire::ipv4_header(p) else {
                return format!("0x0021 bad IPv4 ({} octets)", p.len());
            };
            if let Some(t) = parse_tcp4(p) {
                let mut f = String::new();
                for (bit, c) in [
                    (TCP_SYN, 'S'),
                    (TCP_ACK, 'A'),
                    (TCP_RST, 'R'),
                    (TCP_FIN, 'F'),
                ] {
                    if t.flags & bit != 0 {
                        f.push(c);
                    }
                }
                return format!("tcp {}:{} > {}:{} [{f}]", t.src, t.sport, t.dst, t.dport);
            }
            if let Some(u) = parse_udp4(p) {
                return format!("udp {}:{} > {}:{}", u.src, u.sport, u.dst, u.dport);
            }
            if let Some(e) = parse_icmp4_error(p) {
                return format!(
                    "icmp {} > {} type {} code {} quoting {} > {}:{}",
                    e.from, h.dst, e.kind, e.code, e.quoted_src, e.quoted_dst, e.quoted_dport
                );
            }
            format!("ipv4 {} > {} proto {}", h.src, h.dst, h.protocol)
        }
        _ => format!("{protocol:#06x} ({} octets)", p.len()),
    }
}

/// Whether an IPv6 packet from the console is one the kernel sends by
/// itself (router solicitation, MLD report, neighbour discovery), not an
/// answer to a probe.
pub fn ipv6_unsolicited(p: &[u8]) -> bool {
    let (Some(h), Some(&first)) = (ipv6_fixed(p), p.get(40)) else {
        return false;
    };
    // Next header ICMPv6 directly, or a hop-by-hop header (MLD) first.
    match h.next {
        IPPROTO_ICMPV6 => matches!(first, 133..=137 | 143 | 131 | 132),
        wire::ext6::HOP_BY_HOP => true,
        _ => false,
    }
}
