//! The tokio driver of one line: tty -> HDLC -> PPP core, and back. The
//! core stays sans-IO; this owns the reads, writes, timers and signals.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::BytesMut;
use carrier_hw::HwError;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::events::Reporter;
use crate::hdlc::DecoderStats;
use crate::hooks::{AfterScripts, HookConfig, Hooks, ScriptDone};
use crate::line::Line;
use crate::net::resolv::ResolvConf;
use crate::net::{Ip6Link, IpLink, IpPlane};
use crate::pcap::PcapWriter;
use crate::ppp::activity::Direction;
use crate::ppp::link::{AuthRole, Event, LinkConfig, LinkStats};
use crate::ppp::{DownReason, Phase};

#[derive(Debug, Error)]
pub enum SessionError {
    #[error(transparent)]
    Device(#[from] HwError),
    #[error("{path}: cannot write capture: {source}")]
    Pcap {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// How a session ended.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub reason: DownReason,
    pub link: LinkStats,
    pub framing: DecoderStats,
    /// IP datagrams the IP plane dropped (no interface, fenced off).
    pub ip_dropped: u64,
    /// What the IP plane had to say of the call ([`IpPlane::summary`]).
    pub ip_summary: Option<serde_json::Value>,
}

impl Outcome {
    pub fn exit_code(&self) -> i32 {
        self.reason.exit_code()
    }
}

/// Decides, once a peer has authenticated to us, whether it may go on
/// (the one-time inbound enablement is consumed here). An error closes the
/// link with its message.
pub type AuthGate = Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

#[derive(Clone, Default)]
pub struct SessionConfig {
    pub link: LinkConfig,
    pub pcap: Option<PathBuf>,
    pub auth_gate: Option<AuthGate>,
    /// The modem's carrier (DCD): turning false takes the lower layer down
    /// at once instead of waiting for LCP echoes to fail.
    pub carrier: Option<watch::Receiver<bool>>,
    /// Where to write the peer's DNS servers as a resolv.conf while IP is
    /// up (pppd writes /etc/ppp/resolv.conf with `usepeerdns`).
    pub resolv_conf: Option<PathBuf>,
    /// pppd's /etc/ppp scripts, if the line has an IP interface.
    pub hooks: Option<HookSetup>,
    /// Datagrams that were waiting for the link (the one that made a
    /// demand link dial): each goes out once its family's NCP opens, in
    /// order; those left when the link goes down are dropped and counted.
    pub pending: Vec<Vec<u8>>,
}

/// What the scripts are told of the line (pppd's `devnam`, `baud_rate`
/// and `ifname`).
#[derive(Clone, Debug)]
pub struct HookSetup {
    pub cfg: HookConfig,
    pub device: PathBuf,
    pub speed: u32,
    pub ifname: String,
}

impl std::fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionConfig")
            .field("link", &self.link)
            .field("pcap", &self.pcap)
            .field("auth_gate", &self.auth_gate.is_some())
            .field("carrier", &self.carrier.is_some())
            .field("resolv_conf", &self.resolv_conf)
            .field("hooks", &self.hooks)
            .finish()
    }
}

/// A write that takes longer than this means the far end stopped reading.
const WRITE_STALL: Duration = Duration::from_secs(10);

/// Reports how a session ended (the `stats` event) and returns its exit
/// status.
pub fn report_end(reporter: &Reporter, outcome: &Outcome) -> u8 {
    let mut fields = serde_json::json!({"link": outcome.link, "framing": outcome.framing, "ip_dropped": outcome.ip_dropped});
    if let Some(s) = &outcome.ip_summary {
        fields["ip"] = s.clone();
    }
    reporter.emit(
        "stats",
        fields,
        &format!(
            "{} frames in ({} IP), {} out ({} IP); {} discarded by the framer, {} malformed, {} protocol-rejected{}",
            outcome.link.frames_in,
            outcome.link.ip_in,
            outcome.link.frames_out + outcome.link.ip_out,
            outcome.link.ip_out,
            outcome.framing.discarded(),
            outcome.link.malformed + outcome.link.bad_header,
            outcome.link.protocol_rejected,
            outcome
                .ip_summary
                .as_ref()
                .map(|s| format!("; IP plane: {s}"))
                .unwrap_or_default()
        ),
    );
    outcome.exit_code() as u8
}

/// Runs PPP on an open line until the link goes down, carrying IP between
/// the peer and `ip`. `stop` turning true asks for an orderly close (LCP
/// Terminate-Request, then the Ack or the Max-Terminate timeout); a second
/// change gives up at once.
pub async fn run<L, P>(
    line: &mut L,
    ip: &mut P,
    cfg: SessionConfig,
    reporter: &Reporter,
    mut stop: watch::Receiver<bool>,
) -> Result<Outcome, SessionError>
where
    L: AsyncRead + AsyncWrite + Unpin,
    P: IpPlane,
{
    let mut capture = Capture::open(cfg.pcap.as_deref())?;

    let mut link_cfg = cfg.link.clone();
    // The gate decides inside the core's Authenticate phase, before the
    // peer hears Success and before any NCP packet is taken.
    link_cfg.hold_auth = cfg.auth_gate.is_some();
    let mut line_core = Line::new(link_cfg, rand::random());
    let mut wire = BytesMut::with_capacity(4096);
    let mut rbuf = vec![0u8; 4096];
    let mut obuf = vec![0u8; 65536];
    let mut stopping = false;
    let mut stop_gone = false;
    let mut down: Option<DownReason> = None;
    let mut carrier = cfg.carrier.clone();
    let mut hooks = cfg
        .hooks
        .clone()
        .map(|h| Hooks::new(h.cfg, &h.device, h.speed, &h.ifname, reporter.clone()));
    let usepeerdns = cfg.link.ipcp.request_dns;
    let mut peer_authenticated = false;
    let mut side = IpSide {
        resolv: cfg.resolv_conf.clone().map(ResolvConf::new),
        pending: cfg.pending.clone(),
        ready: Vec::new(),
        held: 0,
    };
    // Each family's plane changes waiting for a script, the line served
    // meanwhile.
    let mut v4: AfterScripts<PlaneStep> = AfterScripts::default();
    let mut v6: AfterScripts<PlaneStep> = AfterScripts::default();

    line_core.start(Instant::now().into_std());

    loop {
        // Events first: a framing change must apply before the frames that
        // follow it are encoded.
        while let Some(ev) = line_core.poll_event() {
            // ipcp-up and ipv6cp-up are told once the interface is set
            // up (or could not be): whoever acts on them (a script, a
            // test pinging the peer) finds the address and route there.
            let after_plane = matches!(ev, Event::IpUp { .. } | Event::Ipv6Up { .. });
            // An NCP that closes while its interface waits for ip-pre-up
            // never came up for the user: neither up nor down is told.
            let never_up = match ev {
                Event::IpDown => cancel_up(&mut v4),
                Event::Ipv6Down => cancel_up(&mut v6),
                _ => false,
            };
            if !after_plane && !never_up {
                reporter.link_event(&ev);
            }
            let octets = line_core.octets();
            match &ev {
                Event::LcpDown => {
                    if let Some(h) = &mut hooks {
                        h.link_down(octets.sent, octets.rcvd);
                    }
                }
                Event::AuthOk {
                    role: AuthRole::Authenticator,
                    peer,
                    ..
                } => {
                    peer_authenticated = true;
                    if let Some(h) = &mut hooks {
                        h.peer_name(peer);
                    }
                }
                Event::Phase(Phase::Network) => {
                    if let Some(h) = &mut hooks {
                        h.network_phase(peer_authenticated);
                    }
                }
                Event::IpUp {
                    local, peer, dns, ..
                } => {
                    // ip-pre-up first; the interface once it is done.
                    let done = match &mut hooks {
                        Some(h) => h.ip_pre_up(*local, *peer, dns, usepeerdns),
                        None => ScriptDone::now(),
                    };
                    let step = PlaneStep::IpUp {
                        ev: ev.clone(),
                        cancelled: false,
                    };
                    if let Some(step) = v4.push(done, step) {
                        side.apply(step, &mut *ip, &mut hooks, &mut line_core, octets, reporter);
                    }
                }
                Event::Authorize { peer, .. } => {
                    let verdict = cfg.auth_gate.as_ref().map_or(Ok(()), |gate| gate(peer));
                    if let Err(why) = &verdict {
                        tracing::warn!(peer = %crate::events::printable(peer), %why, "authenticated peer refused");
                        reporter.emit(
                            "auth-refused",
                            serde_json::json!({"peer": peer, "message": why}),
                            &format!("caller {peer:?} refused: {why}"),
                        );
                    }
                    line_core.authorize(verdict.is_ok(), Instant::now().into_std());
                }
                Event::Ipv6Up { .. } => {
                    let step = PlaneStep::Ip6Up {
                        ev: ev.clone(),
                        cancelled: false,
                    };
                    if let Some(step) = v6.push(ScriptDone::now(), step) {
                        side.apply(step, &mut *ip, &mut hooks, &mut line_core, octets, reporter);
                    }
                }
                Event::Ipv6Down | Event::IpDown => {
                    // The interface goes once the down script is done.
                    let v6_down = matches!(ev, Event::Ipv6Down);
                    let done = match &mut hooks {
                        Some(h) if v6_down => h.ipv6_down(octets.sent, octets.rcvd),
                        Some(h) => h.ip_down(octets.sent, octets.rcvd),
                        None => ScriptDone::now(),
                    };
                    let (queue, step) = if v6_down {
                        (&mut v6, PlaneStep::Ip6Down)
                    } else {
                        (&mut v4, PlaneStep::IpDown)
                    };
                    if let Some(step) = queue.push(done, step) {
                        side.apply(step, &mut *ip, &mut hooks, &mut line_core, octets, reporter);
                    }
                }
                // The interface goes at the end, after the down scripts.
                Event::Down { reason } => down = Some(*reason),
                _ => {}
            }
        }
        wire.clear();
        let now = Instant::now().into_std();
        line_core.transmit(now, capture.tap(), &mut wire);
        for datagram in side.ready.drain(..) {
            line_core.send_ip(&datagram, now, capture.tap(), &mut wire);
        }
        if !wire.is_empty() && !write_wire(line, &wire).await {
            line_core.lower_down(Instant::now().into_std());
            continue;
        }
        if let Some(reason) = down {
            // The down scripts still running find the interface there;
            // nothing comes up any more.
            let mut left = v4.drain().await;
            left.extend(v6.drain().await);
            for step in left {
                if matches!(step, PlaneStep::IpDown | PlaneStep::Ip6Down) {
                    let octets = line_core.octets();
                    side.apply(step, &mut *ip, &mut hooks, &mut line_core, octets, reporter);
                }
            }
            ip.down6();
            ip.down();
            if let Some(h) = &mut hooks {
                h.finish().await;
            }
            return Ok(Outcome {
                reason,
                link: *line_core.link_stats(),
                framing: *line_core.framing_stats(),
                ip_dropped: ip.dropped() + side.pending.len() as u64 + side.held,
                ip_summary: ip.summary(),
            });
        }

        let deadline = line_core.poll_timeout().map(Instant::from_std);
        tokio::select! {
            r = line.read(&mut rbuf) => {
                let now = Instant::now().into_std();
                match r {
                    Ok(0) => {
                        tracing::info!("line closed");
                        line_core.lower_down(now);
                    }
                    Ok(n) => {
                        // The plane is handed IPv4 only once it is up for it.
                        let hold_v4 = up_waiting(&v4);
                        line_core.handle_input(&rbuf[..n], now, capture.tap(), |d| {
                            if hold_v4 && d.first().map(|b| b >> 4) == Some(4) {
                                side.held += 1;
                                tracing::debug!("IPv4 datagram before the interface is configured: dropped");
                            } else {
                                ip.deliver(d)
                            }
                        })
                    }
                    Err(e) if carrier_hw::is_hangup(&e) => {
                        tracing::info!("line hung up");
                        line_core.lower_down(now);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "read from line failed");
                        line_core.lower_down(now);
                    }
                }
            }
            _ = sleep_until(deadline) => line_core.handle_timeout(Instant::now().into_std()),
            step = v4.next() => {
                let octets = line_core.octets();
                side.apply(step, &mut *ip, &mut hooks, &mut line_core, octets, reporter);
            }
            step = v6.next() => {
                let octets = line_core.octets();
                side.apply(step, &mut *ip, &mut hooks, &mut line_core, octets, reporter);
            }
            lost = carrier_lost(&mut carrier) => {
                if lost {
                    tracing::info!("carrier lost (DCD dropped)");
                    line_core.lower_down(Instant::now().into_std());
                }
                // else: the watcher is gone; keep going on echoes alone.
                carrier = None;
            }
            // While the interface waits for ip-pre-up, the host's
            // datagrams wait in its queue, as before the script.
            r = ip.next_outbound(&mut obuf), if line_core.link().carries_ip() && !up_waiting(&v4) => match r {
                Ok(0) => {}
                Ok(n) => {
                    let now = Instant::now().into_std();
                    wire.clear();
                    // Control frames it flushed go out even if the
                    // datagram itself was not carried.
                    line_core.send_ip(&obuf[..n], now, capture.tap(), &mut wire);
                    if !wire.is_empty() && !write_wire(line, &wire).await {
                        line_core.lower_down(Instant::now().into_std());
                    }
                }
                Err(e) if ip.must_be_up() => {
                    // A plane that must carry the call as it promised
                    // (its firewall kept standing) and cannot: hang up.
                    tracing::error!(error = %e, "the IP plane failed: hanging up");
                    reporter.emit(
                        "ip-interface",
                        serde_json::json!({"error": e.to_string()}),
                        &format!("IP plane failed: {e}"),
                    );
                    line_core.close(DownReason::LocalFailure, Instant::now().into_std());
                }
                Err(e) => tracing::warn!(error = %e, "IP interface read failed"),
            },
            changed = stop.changed(), if !stop_gone => {
                let now = Instant::now().into_std();
                if changed.is_err() {
                    // Nobody can ask any more: run on.
                    stop_gone = true;
                } else if *stop.borrow_and_update() {
                    if stopping {
                        // Asked twice: give up waiting for the peer.
                        line_core.lower_down(now);
                    } else {
                        stopping = true;
                        tracing::info!("terminating the link");
                        line_core.close(DownReason::UserRequest, now);
                    }
                }
            }
        }
    }
}

/// A change to the IP plane, made at once or, when a script must come
/// first, once it has ended: the interface is configured after
/// ip-pre-up, and removed after ip-down or ipv6-down. The session serves
/// the line meanwhile (a slow script costs no LCP echo); each family's
/// changes keep the core's order.
enum PlaneStep {
    /// IPCP opened (the `Event::IpUp`); `cancelled` when it closed again
    /// before ip-pre-up ended: the interface is then not configured.
    IpUp {
        ev: Event,
        cancelled: bool,
    },
    IpDown,
    Ip6Up {
        ev: Event,
        cancelled: bool,
    },
    Ip6Down,
}

/// An NCP closed: its up still waiting is called off. True if there was
/// one (nobody was told it came up).
fn cancel_up(queue: &mut AfterScripts<PlaneStep>) -> bool {
    queue.iter_mut().any(|step| match step {
        PlaneStep::IpUp { cancelled, .. } | PlaneStep::Ip6Up { cancelled, .. } if !*cancelled => {
            *cancelled = true;
            true
        }
        _ => false,
    })
}

/// IPv4 waits for ip-pre-up to end.
fn up_waiting(queue: &AfterScripts<PlaneStep>) -> bool {
    queue.iter().any(|step| {
        matches!(
            step,
            PlaneStep::IpUp {
                cancelled: false,
                ..
            }
        )
    })
}

/// What the plane's changes touch besides the plane and the scripts.
struct IpSide {
    resolv: Option<ResolvConf>,
    /// Datagrams waiting for their family's NCP (a demand call's first).
    pending: Vec<Vec<u8>>,
    /// Datagrams to frame after this round's control frames.
    ready: Vec<Vec<u8>>,
    /// IPv4 datagrams from the peer dropped while the interface waited
    /// for ip-pre-up.
    held: u64,
}

impl IpSide {
    fn apply<P: IpPlane>(
        &mut self,
        step: PlaneStep,
        ip: &mut P,
        hooks: &mut Option<Hooks>,
        line: &mut Line,
        octets: crate::line::Octets,
        reporter: &Reporter,
    ) {
        match step {
            PlaneStep::IpUp {
                ev:
                    ref ev @ Event::IpUp {
                        local,
                        peer,
                        ref dns,
                        ..
                    },
                cancelled: false,
            } => {
                if let (Some(r), false) = (&mut self.resolv, dns.is_empty()) {
                    match r.write(dns) {
                        Ok(()) => reporter.emit(
                            "resolv-conf",
                            serde_json::json!({"path": r.path(), "dns": dns}),
                            &format!("DNS servers written to {}", r.path().display()),
                        ),
                        Err(e) => {
                            tracing::warn!(path = %r.path().display(), error = %e, "cannot write resolv.conf")
                        }
                    }
                }
                let l = IpLink {
                    local,
                    peer,
                    dns: dns.clone(),
                    mtu: line.link().framing().peer_mru,
                };
                let up = ip.up(&l);
                reporter.link_event(ev);
                match up {
                    Ok(what) => {
                        reporter.emit(
                            "ip-interface",
                            serde_json::json!({"detail": what, "interface": ip.interface()}),
                            &what,
                        );
                        if let Some(h) = hooks {
                            if let Some(name) = ip.interface() {
                                h.set_ifname(&name);
                            }
                            h.ip_up(octets.sent, octets.rcvd);
                        }
                        release(
                            &mut self.pending,
                            crate::ppp::proto::IPV4,
                            Some(local),
                            &mut self.ready,
                        );
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot set up the IP interface");
                        reporter.emit(
                            "ip-interface",
                            serde_json::json!({"error": e.to_string()}),
                            &format!("no IP interface: {e}"),
                        );
                        if ip.must_be_up() {
                            line.close(DownReason::NoNetworkProtocols, Instant::now().into_std());
                        }
                    }
                }
            }
            PlaneStep::Ip6Up {
                ev: ref ev @ Event::Ipv6Up { local, peer },
                cancelled: false,
            } => {
                let l = Ip6Link {
                    local,
                    peer,
                    mtu: line.link().framing().peer_mru,
                };
                let up = ip.up6(&l);
                reporter.link_event(ev);
                match up {
                    Ok(what) => {
                        reporter.emit(
                            "ip-interface",
                            serde_json::json!({"detail": what, "interface": ip.interface(), "family": "ipv6"}),
                            &what,
                        );
                        if let Some(h) = hooks {
                            if let Some(name) = ip.interface() {
                                h.set_ifname(&name);
                            }
                            h.ipv6_up(local.link_local(), peer.link_local());
                        }
                        release(
                            &mut self.pending,
                            crate::ppp::proto::IPV6,
                            None,
                            &mut self.ready,
                        );
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot carry IPv6: closing IPv6CP");
                        reporter.emit(
                            "ip-interface",
                            serde_json::json!({"error": e.to_string(), "family": "ipv6"}),
                            &format!("no IPv6 on the interface: {e}"),
                        );
                        if ip.must_be_up() {
                            // A plane whose rules could not be put in
                            // place carries nothing (the inbound call).
                            line.close(DownReason::NoNetworkProtocols, Instant::now().into_std());
                        } else {
                            line.close_ipv6(Instant::now().into_std());
                        }
                    }
                }
            }
            PlaneStep::IpUp { .. } | PlaneStep::Ip6Up { .. } => {
                // Closed while its script ran (ip-pre-up, or the last
                // round's down script).
                tracing::info!(
                    "the NCP closed before its interface was configured: not configured"
                );
            }
            PlaneStep::IpDown => {
                ip.down();
                if let Some(r) = &mut self.resolv {
                    r.remove();
                }
            }
            PlaneStep::Ip6Down => ip.down6(),
        }
    }
}

/// Moves the pending datagrams of one family (`protocol`) onto the link,
/// now that its NCP is open.
fn release(
    pending: &mut Vec<Vec<u8>>,
    protocol: u16,
    local: Option<std::net::Ipv4Addr>,
    ready: &mut Vec<Vec<u8>>,
) {
    pending.retain_mut(|d| {
        if crate::ppp::datagram::classify(d).map(|(p, _)| p) != Some(protocol) {
            return true;
        }
        // Sent from the interface's address before the call (a demand
        // placeholder): from the address IPCP gave now, or the reply
        // could never come back. (pppd sends it unchanged and relies on
        // the kernel's ip_dynaddr for TCP's retransmissions.)
        if let (Some(local), Some(h)) = (local, crate::wire::ipv4_header(d)) {
            if h.src != local && crate::wire::rewrite_ipv4_source(d, local) {
                tracing::info!(from = %h.src, to = %local, "queued datagram's source rewritten");
            }
        }
        ready.push(std::mem::take(d));
        false
    });
}

/// The `--pcap` capture, if any. One that cannot be written (disk full,
/// say) is given up with a warning; the call it was recording goes on.
struct Capture {
    writer: Option<PcapWriter<std::io::BufWriter<std::fs::File>>>,
    path: PathBuf,
}

impl Capture {
    fn open(path: Option<&std::path::Path>) -> Result<Capture, SessionError> {
        let writer = match path {
            Some(p) => Some(PcapWriter::create(p).map_err(|source| SessionError::Pcap {
                path: p.to_path_buf(),
                source,
            })?),
            None => None,
        };
        Ok(Capture {
            writer,
            path: path.map(PathBuf::from).unwrap_or_default(),
        })
    }

    /// The capture as the line's tap; none when nothing is captured.
    fn tap(&mut self) -> crate::line::Tap<'_> {
        self.writer.as_ref()?;
        Some(self)
    }
}

impl crate::line::FrameTap for Capture {
    fn frame(&mut self, dir: Direction, protocol: u16, info: &[u8]) {
        let Some(w) = &mut self.writer else { return };
        if let Err(e) = w.write(dir, protocol, info, SystemTime::now()) {
            tracing::warn!(path = %self.path.display(), error = %e, "capture stopped: cannot write");
            self.writer = None;
        }
    }
}

/// Writes `wire` to the line; false (logged) if the line failed or stopped
/// taking data for [`WRITE_STALL`]: a line held off for good must not hang
/// the session.
async fn write_wire<L: AsyncWrite + Unpin>(line: &mut L, wire: &[u8]) -> bool {
    match tokio::time::timeout(WRITE_STALL, line.write_all(wire)).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "write to line failed");
            false
        }
        Err(_) => {
            tracing::warn!("line stopped accepting data");
            false
        }
    }
}

/// Resolves true when the carrier drops, false if nobody watches it any
/// more; never resolves without a watcher.
async fn carrier_lost(carrier: &mut Option<watch::Receiver<bool>>) -> bool {
    let Some(rx) = carrier else {
        return std::future::pending().await;
    };
    rx.wait_for(|up| !*up).await.is_ok()
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
