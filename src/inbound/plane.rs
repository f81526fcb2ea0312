//! The console's side of an inbound call: the TUN interface with one alias
//! per allowed partition, forwarding on, and the firewall and NAT of
//! [`super::firewall`] — set up when IPCP opens, all removed when it
//! closes. If any of it cannot be put in place the call must not carry IP,
//! so `up` fails and the session hangs up.

use std::io;
use std::net::Ipv4Addr;

use super::firewall;
use super::state::Enablement;
use crate::net::tun::TunPlane;
use crate::net::{IpLink, IpPlane};

const IP_FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";

#[derive(Debug)]
pub struct InboundPlane {
    tun: TunPlane,
    ifname: String,
    enablement: Enablement,
    applied: bool,
    forward_was: Option<String>,
}

impl InboundPlane {
    pub fn new(ifname: &str, enablement: Enablement) -> Self {
        InboundPlane {
            tun: TunPlane::new(ifname),
            ifname: ifname.to_string(),
            enablement,
            applied: false,
            forward_was: None,
        }
    }

    /// net.ipv4.ip_forward as it was before this call, for the record.
    pub fn forward_was(&self) -> Option<&str> {
        self.forward_was.as_deref()
    }

    fn install(&mut self, caller: Ipv4Addr) -> io::Result<()> {
        let dev = self
            .tun
            .device()
            .ok_or_else(|| io::Error::other("no interface"))?;
        for p in &self.enablement.partitions {
            dev.add_address_v4(p.alias, 32u8).map_err(|e| {
                io::Error::new(e.kind(), format!("alias {} for {}: {e}", p.alias, p.name))
            })?;
        }
        firewall::apply(&firewall::ruleset(&self.ifname, caller, &self.enablement))
            .map_err(io::Error::other)?;
        self.applied = true;
        if !self.enablement.partitions.is_empty() {
            let was = std::fs::read_to_string(IP_FORWARD)?.trim().to_string();
            std::fs::write(IP_FORWARD, "1")?;
            self.forward_was = Some(was);
        }
        Ok(())
    }
}

/// Removes whatever an earlier call left (after a crash): our table, and
/// forwarding as it was recorded. Never touches anything else.
pub fn clean_leftovers(forward_was: Option<&str>) -> Result<(), firewall::FirewallError> {
    if let Some(v) = forward_was {
        let _ = std::fs::write(IP_FORWARD, v);
    }
    firewall::apply(&firewall::removal())
}

impl IpPlane for InboundPlane {
    fn up(&mut self, link: &IpLink) -> io::Result<String> {
        let caller = link
            .peer
            .ok_or_else(|| io::Error::other("the caller has no address"))?;
        let what = self.tun.up(link)?;
        if let Err(e) = self.install(caller) {
            self.down();
            return Err(e);
        }
        let aliases: Vec<String> = self
            .enablement
            .partitions
            .iter()
            .map(|p| format!("{}={}->{}", p.name, p.alias, p.address))
            .collect();
        Ok(format!(
            "{what}; partitions [{}]; console {}",
            aliases.join(", "),
            if self.enablement.console_access {
                "reachable on the service ports"
            } else {
                "unreachable"
            }
        ))
    }

    fn down(&mut self) {
        if self.applied {
            if let Err(e) = firewall::apply(&firewall::removal()) {
                tracing::error!(error = %e, "could not remove the inbound firewall table");
            }
            self.applied = false;
        }
        if let Some(v) = self.forward_was.take() {
            if let Err(e) = std::fs::write(IP_FORWARD, &v) {
                tracing::error!(error = %e, "could not restore ip_forward");
            }
        }
        self.tun.down();
    }

    fn deliver(&mut self, datagram: &[u8]) {
        self.tun.deliver(datagram);
    }

    async fn next_outbound(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tun.next_outbound(buf).await
    }

    fn dropped(&self) -> u64 {
        self.tun.dropped()
    }

    fn must_be_up(&self) -> bool {
        true
    }
}

impl Drop for InboundPlane {
    fn drop(&mut self) {
        self.down();
    }
}
