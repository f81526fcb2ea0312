//! The console's side of an inbound call: the TUN interface with one alias
//! per allowed partition, forwarding switched on for exactly the
//! interfaces the partitions need, and the firewall and NAT of
//! [`super::firewall`], set up when IPCP opens and all removed when it
//! closes. If any of it cannot be put in place the call must not carry IP,
//! so `up` fails and the session hangs up.
//!
//! Before anything reaches the kernel, a datagram from the link must come
//! from the address IPCP gave the caller; the firewall checks it again.

use std::io;
use std::net::Ipv4Addr;

use super::call;
use super::firewall;
use super::forwarding::{self, Sysctl};
use super::state::{Enablement, Store};
use crate::net::tun::TunPlane;
use crate::net::{ipv4, IpLink, IpPlane};

#[derive(Debug)]
pub struct InboundPlane {
    tun: TunPlane,
    enablement: Enablement,
    store: Store,
    caller: Option<Ipv4Addr>,
    /// The kernel's name of the interface the rules were built for.
    ruled: Option<String>,
    forwarding_was: Vec<Sysctl>,
    /// Datagrams from the link whose source was not the caller's address.
    dropped_source: u64,
    /// Partitions the console has no route to, for the user.
    unrouted: Vec<String>,
}

impl InboundPlane {
    pub fn new(ifname: &str, enablement: Enablement, store: Store) -> Self {
        InboundPlane {
            tun: TunPlane::new(ifname),
            enablement,
            store,
            caller: None,
            ruled: None,
            forwarding_was: Vec::new(),
            dropped_source: 0,
            unrouted: Vec::new(),
        }
    }

    fn install(&mut self, caller: Ipv4Addr) -> io::Result<()> {
        let dev = self
            .tun
            .device()
            .ok_or_else(|| io::Error::other("no interface"))?;
        // A template such as `cin%d` is the kernel's to fill in: the rules
        // must name the interface it made.
        let ifname = self
            .tun
            .interface()
            .ok_or_else(|| io::Error::other("no interface name"))?
            .to_string();
        for p in &self.enablement.partitions {
            dev.add_address_v4(p.alias, 32u8).map_err(|e| {
                io::Error::new(e.kind(), format!("alias {} for {}: {e}", p.alias, p.name))
            })?;
        }
        let mut switch = Vec::new();
        if !self.enablement.partitions.is_empty() {
            let mut ifaces = vec![ifname.clone()];
            for p in &self.enablement.partitions {
                // A partition the console has no route to cannot be
                // reached through it either: said, and the call goes on.
                match forwarding::egress(p.address) {
                    Ok(via) if !ifaces.contains(&via) => ifaces.push(via),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(partition = %p.name, address = %p.address, error = %e,
                            "partition unreachable from the console");
                        self.unrouted.push(format!("{} ({e})", p.name));
                    }
                }
            }
            for i in &ifaces {
                if let Some(s) = forwarding::before_switching_on(i)? {
                    switch.push((i.clone(), s));
                }
            }
        }
        let switched_on: Vec<String> = switch.iter().map(|(i, _)| i.clone()).collect();
        // The table first: forwarding is switched on only behind it.
        firewall::apply(&firewall::ruleset(
            &ifname,
            caller,
            &self.enablement,
            &switched_on,
        ))
        .map_err(io::Error::other)?;
        self.ruled = Some(ifname);
        let changes: Vec<Sysctl> = switch.into_iter().map(|(_, s)| s).collect();
        call::record_forwarding(&self.store, &changes).map_err(io::Error::other)?;
        for s in changes {
            forwarding::switch_on(&s)?;
            self.forwarding_was.push(s);
        }
        Ok(())
    }
}

impl IpPlane for InboundPlane {
    fn up(&mut self, link: &IpLink) -> io::Result<String> {
        let caller = link
            .peer
            .ok_or_else(|| io::Error::other("the caller has no address"))?;
        let what = self.tun.up(link)?;
        self.caller = Some(caller);
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
        let unrouted = if self.unrouted.is_empty() {
            String::new()
        } else {
            format!("; no route to {}", self.unrouted.join(", "))
        };
        Ok(format!(
            "{what}; partitions [{}]{unrouted}; console {}; IPv6 off",
            aliases.join(", "),
            if self.enablement.console_access {
                format!(
                    "reachable at {} on the service ports only",
                    self.enablement.ppp_local
                )
            } else {
                "unreachable".to_string()
            }
        ))
    }

    fn down(&mut self) {
        // Forwarding off first, while the table still drops everything
        // else; then the table; then the interface.
        if !self.forwarding_was.is_empty() {
            forwarding::restore(&self.forwarding_was);
            self.forwarding_was.clear();
            if let Err(e) = call::forwarding_restored(&self.store) {
                tracing::error!(error = %e, "could not record that forwarding was restored");
            }
        }
        if let Some(ifname) = self.ruled.take() {
            if let Err(e) = firewall::remove(&ifname) {
                tracing::error!(error = %e, "could not remove the inbound firewall table");
            }
        }
        self.caller = None;
        self.unrouted.clear();
        self.tun.down();
    }

    fn deliver(&mut self, datagram: &[u8]) {
        let src = ipv4::parse(datagram).map(|h| h.src);
        if src.is_none() || src != self.caller {
            self.dropped_source += 1;
            tracing::debug!(?src, caller = ?self.caller, "datagram not from the caller's address dropped");
            return;
        }
        self.tun.deliver(datagram);
    }

    async fn next_outbound(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tun.next_outbound(buf).await
    }

    fn dropped(&self) -> u64 {
        self.tun.dropped() + self.dropped_source
    }

    fn interface(&self) -> Option<String> {
        self.tun.interface().map(str::to_string)
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
