//! The console's side of an inbound call: the TUN interface with one alias
//! per allowed partition, forwarding switched on for exactly the
//! interfaces the partitions need, and the firewall and NAT of
//! [`super::firewall`], set up when IPCP opens and all removed when it
//! closes. If any of it cannot be put in place the call must not carry IP,
//! so `up` fails and the session hangs up.
//!
//! Before anything reaches the kernel, a datagram from the link must come
//! from the address IPCP gave the caller (or, if the enablement allows
//! IPv6, the link-local address IPv6CP agreed on); the firewall checks it
//! again.

use std::io;
use std::net::{IpAddr, Ipv6Addr};

use super::firewall::{self, Peers};
use super::forwarding::{self, Hold};
use super::state::Enablement;
use crate::net::tun::TunPlane;
use crate::net::{ipv4, Ip6Link, IpLink, IpPlane};

#[derive(Debug)]
pub struct InboundPlane {
    tun: TunPlane,
    enablement: Enablement,
    /// The caller's addresses as the NCPs open: the rules follow them.
    peers: Peers,
    /// The kernel's name of the interface the rules were built for.
    ruled: Option<String>,
    /// Interfaces whose forwarding is on for calls only (see
    /// [`Hold::switched`]).
    switched_on: Vec<String>,
    /// The call's holds on the forwarding of the interfaces it needs.
    holds: Vec<Hold>,
    /// Datagrams from the link whose source was not the caller's address.
    dropped_source: u64,
    /// Partitions the console has no route to, for the user.
    unrouted: Vec<String>,
}

impl InboundPlane {
    pub fn new(ifname: &str, enablement: Enablement) -> Self {
        InboundPlane {
            // The caller must not be able to route the console or hand it
            // addresses; the firewall drops ICMPv6 from the link as well.
            tun: TunPlane::new(ifname).closed_to_router_advertisements(),
            enablement,
            peers: Peers::default(),
            ruled: None,
            switched_on: Vec::new(),
            holds: Vec::new(),
            dropped_source: 0,
            unrouted: Vec::new(),
        }
    }

    /// (Re)builds the call's table for the families up now; it replaces
    /// the earlier one in one batch, so there is no moment without rules.
    fn rules(&mut self) -> io::Result<()> {
        // A template such as `cin%d` is the kernel's to fill in: the rules
        // must name the interface it made.
        let ifname = self
            .tun
            .interface()
            .ok_or_else(|| io::Error::other("no interface name"))?
            .to_string();
        firewall::apply(&firewall::ruleset(
            &ifname,
            &self.peers,
            &self.enablement,
            &self.switched_on,
        ))
        .map_err(io::Error::other)?;
        self.ruled = Some(ifname);
        Ok(())
    }

    /// IPCP is up: the aliases, the forwarding the partitions need, and
    /// the rules, in that order, forwarding switched on only behind them.
    fn install(&mut self) -> io::Result<()> {
        let dev = self
            .tun
            .device()
            .ok_or_else(|| io::Error::other("no interface"))?;
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
            // Held before anything is switched: what each was is recorded
            // host-wide, for the last call holding it to put back.
            for i in &ifaces {
                self.holds.push(Hold::take(i)?);
            }
        }
        self.switched_on = self
            .holds
            .iter()
            .filter(|h| h.switched())
            .map(|h| h.ifname().to_string())
            .collect();
        // The table first: forwarding is switched on only behind it.
        self.rules()?;
        for h in &self.holds {
            h.switch_on()?;
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
        self.peers.v4 = Some(caller);
        if let Err(e) = self.install() {
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
            "{what}; partitions [{}]{unrouted}; console {}; IPv6 {}",
            aliases.join(", "),
            if self.enablement.console_access {
                format!(
                    "reachable at {} on the service ports only",
                    self.enablement.ppp_local
                )
            } else {
                "unreachable".to_string()
            },
            if self.enablement.ipv6 {
                "allowed (link-local, same ports)"
            } else {
                "off"
            }
        ))
    }

    fn up6(&mut self, link: &Ip6Link) -> io::Result<String> {
        if !self.enablement.ipv6 {
            return Err(io::Error::other("the enablement does not allow IPv6"));
        }
        // The interface (IPv6 still off on it), then the rules with the
        // caller's link-local address, then IPv6 on.
        self.tun.prepare(link.mtu)?;
        self.peers.v6 = Some((link.local.link_local(), link.peer.link_local()));
        let what = self.rules().and_then(|()| self.tun.up6(link));
        match what {
            Ok(what) => Ok(format!(
                "{what}; console {}",
                if self.enablement.console_access {
                    "reachable on the service ports only"
                } else {
                    "unreachable"
                }
            )),
            Err(e) => {
                self.down6();
                Err(e)
            }
        }
    }

    fn down6(&mut self) {
        // IPv6 off on the interface first, then rules without it.
        self.tun.down6();
        if self.peers.v6.take().is_some() && self.ruled.is_some() {
            if self.peers.v4.is_some() {
                if let Err(e) = self.rules() {
                    tracing::error!(error = %e, "could not rebuild the inbound firewall table");
                }
            } else {
                self.down();
            }
        }
    }

    fn down(&mut self) {
        // Forwarding off first, while the table still drops everything
        // else; then the table; then the interface.
        for h in self.holds.drain(..) {
            let ifname = h.ifname().to_string();
            if let Err(e) = h.release() {
                tracing::error!(interface = %ifname, error = %e, "could not restore forwarding");
            }
        }
        if let Some(ifname) = self.ruled.take() {
            if let Err(e) = firewall::remove(&ifname) {
                tracing::error!(error = %e, "could not remove the inbound firewall table");
            }
        }
        self.peers = Peers::default();
        self.unrouted.clear();
        self.switched_on.clear();
        self.tun.down6();
        self.tun.down();
    }

    fn deliver(&mut self, datagram: &[u8]) {
        let src: Option<IpAddr> = match datagram.first().map(|b| b >> 4) {
            Some(4) => ipv4::parse(datagram).map(|h| h.src.into()),
            Some(6) if datagram.len() >= 40 => {
                let mut o = [0u8; 16];
                o.copy_from_slice(&datagram[8..24]);
                Some(Ipv6Addr::from(o).into())
            }
            _ => None,
        };
        let caller = match src {
            Some(IpAddr::V4(_)) => self.peers.v4.map(IpAddr::from),
            Some(IpAddr::V6(_)) => self.peers.v6.map(|(_, c)| IpAddr::from(c)),
            None => None,
        };
        if src.is_none() || src != caller {
            self.dropped_source += 1;
            tracing::debug!(
                ?src,
                ?caller,
                "datagram not from the caller's address dropped"
            );
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
