//! The access server's fence (AT&T Global Network style): a caller may
//! send only from the address it was given, and only to the service
//! addresses and DNS servers; everything else is dropped and counted.
//! Behind the fence, emulated service hosts answer.

use std::io;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::hosts::EmulatedHosts;
use super::{IpLink, IpPlane};
use crate::wire;

#[derive(Debug, Default, serde::Serialize)]
pub struct FenceStats {
    pub forwarded: AtomicU64,
    /// From an address other than the one IPCP assigned.
    pub dropped_source: AtomicU64,
    /// To an address outside the fence.
    pub dropped_destination: AtomicU64,
    /// Not a well-formed IPv4 datagram.
    pub malformed: AtomicU64,
}

impl FenceStats {
    pub fn dropped(&self) -> u64 {
        self.dropped_source.load(Ordering::Relaxed)
            + self.dropped_destination.load(Ordering::Relaxed)
            + self.malformed.load(Ordering::Relaxed)
    }
}

#[derive(Debug)]
pub struct FencePlane {
    allowed: Vec<Ipv4Addr>,
    dns: Vec<Ipv4Addr>,
    caller: Option<Ipv4Addr>,
    hosts: Option<EmulatedHosts>,
    stats: Arc<FenceStats>,
}

impl FencePlane {
    pub fn new(allowed: Vec<Ipv4Addr>, dns: Vec<Ipv4Addr>, stats: Arc<FenceStats>) -> Self {
        FencePlane {
            allowed,
            dns,
            caller: None,
            hosts: None,
            stats,
        }
    }

    fn inside(&self, dst: Ipv4Addr) -> bool {
        self.allowed.contains(&dst) || self.dns.contains(&dst)
    }
}

impl IpPlane for FencePlane {
    fn up(&mut self, link: &IpLink) -> io::Result<String> {
        // On the server side IPCP's "peer" is the caller.
        self.caller = link.peer;
        let mut addrs = self.allowed.clone();
        addrs.extend(self.dns.iter().copied());
        self.hosts = Some(EmulatedHosts::new(&addrs, link.mtu));
        Ok(format!(
            "fence: caller {} may reach {} service address(es) and {} DNS server(s)",
            link.peer
                .map(|p| p.to_string())
                .unwrap_or_else(|| "?".into()),
            self.allowed.len(),
            self.dns.len()
        ))
    }

    fn down(&mut self) {
        self.hosts = None;
        self.caller = None;
    }

    fn deliver(&mut self, datagram: &[u8]) {
        let Some(h) = wire::ipv4_header(datagram) else {
            self.stats.malformed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if Some(h.src) != self.caller {
            self.stats.dropped_source.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(src = %h.src, dst = %h.dst, "fence: spoofed source dropped");
            return;
        }
        if !self.inside(h.dst) {
            self.stats
                .dropped_destination
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(src = %h.src, dst = %h.dst, "fence: destination outside the fence dropped");
            return;
        }
        self.stats.forwarded.fetch_add(1, Ordering::Relaxed);
        if let Some(hosts) = &mut self.hosts {
            hosts.deliver(&datagram[..h.total_len]);
        }
    }

    async fn next_outbound(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(hosts) = &mut self.hosts else {
                return std::future::pending().await;
            };
            if let Some(p) = hosts.poll() {
                let n = p.len().min(buf.len());
                buf[..n].copy_from_slice(&p[..n]);
                return Ok(n);
            }
            let wait = hosts
                .poll_delay()
                .unwrap_or(std::time::Duration::from_secs(1))
                .max(std::time::Duration::from_millis(1));
            tokio::time::sleep(wait).await;
        }
    }

    fn dropped(&self) -> u64 {
        self.stats.dropped()
    }
}
