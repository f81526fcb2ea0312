//! Reachability probes across the link: once IP is up, ICMP echo requests
//! to chosen addresses (the service addresses a call home must reach), each
//! reported as reachable with its round-trip time or not. Wraps the real
//! IP plane, which carries everything else unchanged.

use std::io;
use std::net::Ipv4Addr;
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use super::{IpLink, IpPlane};
use crate::events::Reporter;
use crate::wire;

/// Echo requests per target before it counts as unreachable; the first
/// can be lost by a peer that opened IPCP a moment before.
const TRIES: u16 = 3;
const SPACING: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct Target {
    addr: Ipv4Addr,
    sent: u16,
    first_sent: Option<Instant>,
    last_sent: Option<Instant>,
    done: bool,
}

#[derive(Debug)]
pub struct ProbePlane<P> {
    inner: P,
    targets: Vec<Target>,
    local: Option<Ipv4Addr>,
    ident: u16,
    reporter: Reporter,
    finished: Option<tokio::sync::watch::Sender<bool>>,
}

impl<P: IpPlane> ProbePlane<P> {
    pub fn new(inner: P, targets: &[Ipv4Addr], reporter: Reporter) -> Self {
        ProbePlane {
            inner,
            targets: targets
                .iter()
                .map(|&addr| Target {
                    addr,
                    sent: 0,
                    first_sent: None,
                    last_sent: None,
                    done: false,
                })
                .collect(),
            local: None,
            ident: rand::random(),
            reporter,
            finished: None,
        }
    }

    /// Signals `tx` once every target is answered or given up.
    pub fn notify_finished(mut self, tx: tokio::sync::watch::Sender<bool>) -> Self {
        self.finished = Some(tx);
        self
    }

    /// All probes answered or given up.
    pub fn finished(&self) -> bool {
        self.targets.iter().all(|t| t.done)
    }

    fn report(&self, t: &Target, rtt: Option<Duration>) {
        self.report_line(t, rtt);
        if self.finished() {
            if let Some(tx) = &self.finished {
                let _ = tx.send(true);
            }
        }
    }

    fn report_line(&self, t: &Target, rtt: Option<Duration>) {
        let (name, human) = match rtt {
            Some(r) => (
                true,
                format!("{} reachable (rtt {} ms)", t.addr, r.as_millis()),
            ),
            None => (
                false,
                format!(
                    "{} unreachable ({} echo requests unanswered)",
                    t.addr, t.sent
                ),
            ),
        };
        self.reporter.emit(
            "probe",
            json!({"target": t.addr, "reachable": name, "rtt_ms": rtt.map(|r| r.as_secs_f64() * 1000.0)}),
            &human,
        );
    }

    /// The next thing to do: send to target i at time t.
    fn next_due(&self) -> Option<(usize, Instant)> {
        self.targets
            .iter()
            .enumerate()
            .filter(|(_, t)| !t.done)
            .map(|(i, t)| {
                (
                    i,
                    t.last_sent
                        .map(|s| s + SPACING)
                        .unwrap_or_else(Instant::now),
                )
            })
            .min_by_key(|(_, at)| *at)
    }
}

impl<P: IpPlane> IpPlane for ProbePlane<P> {
    fn up(&mut self, link: &IpLink) -> io::Result<String> {
        self.local = Some(link.local);
        for t in &mut self.targets {
            *t = Target {
                addr: t.addr,
                sent: 0,
                first_sent: None,
                last_sent: None,
                done: false,
            };
        }
        self.inner.up(link)
    }

    fn down(&mut self) {
        self.local = None;
        self.inner.down();
    }

    fn up6(&mut self, link: &super::Ip6Link) -> io::Result<String> {
        self.inner.up6(link)
    }

    fn down6(&mut self) {
        self.inner.down6();
    }

    fn deliver(&mut self, datagram: &[u8]) {
        if let Some((src, ident, _seq)) = wire::echo_reply(datagram) {
            if ident == self.ident {
                if let Some(i) = self.targets.iter().position(|t| t.addr == src && !t.done) {
                    let rtt = self.targets[i].first_sent.map(|s| s.elapsed());
                    self.targets[i].done = true;
                    self.report(&self.targets[i], rtt);
                }
                return;
            }
        }
        self.inner.deliver(datagram);
    }

    async fn next_outbound(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let due = match self.local {
            Some(_) => self.next_due(),
            None => None,
        };
        let probe = async {
            match due {
                Some((_, at)) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = self.inner.next_outbound(buf) => r,
            _ = probe => {
                // `probe` only completes when a probe is due.
                let Some((i, _)) = due else { return Ok(0) };
                let local = self.local.unwrap_or(Ipv4Addr::UNSPECIFIED);
                let now = Instant::now();
                let t = &mut self.targets[i];
                if t.sent >= TRIES {
                    t.done = true;
                    let t = &self.targets[i];
                    self.report(t, None);
                    // Nothing to send this time; the session polls again.
                    return Ok(0);
                }
                t.sent += 1;
                t.first_sent.get_or_insert(now);
                t.last_sent = Some(now);
                Ok(wire::echo_request(buf, local, t.addr, self.ident, t.sent))
            }
        }
    }

    fn dropped(&self) -> u64 {
        self.inner.dropped()
    }

    fn interface(&self) -> Option<String> {
        self.inner.interface()
    }
}
