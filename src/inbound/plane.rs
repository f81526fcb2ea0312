//! The console's side of an inbound call: the TUN interface with one alias
//! per allowed partition, forwarding switched on for exactly the
//! interfaces the partitions need, and the firewall and NAT of
//! [`super::firewall`], set up when IPCP opens and all removed when it
//! closes. If any of it cannot be put in place the call must not carry IP,
//! so `up` fails and the session hangs up.
//!
//! Two walls stand between the caller and the console. The first is
//! carrier's own: every datagram from the link is judged by the call's
//! [`Policy`] before it reaches the TUN, and every datagram the host sends
//! toward the caller before it reaches the link. The second is the
//! kernel's table, which the plane keeps standing ([`super::wall`]): put
//! back if the host flushes or changes it, the call ended if it cannot be.

use std::io;
use std::time::Instant;

use super::firewall::{self, Peers};
use super::forwarding::{self, Hold};
use super::policy::{Policy, Way};
use super::state::Enablement;
use super::wall::{self, Look, Wall, Watch};
use crate::events::Reporter;
use crate::net::tun::TunPlane;
use crate::net::{Ip6Link, IpLink, IpPlane};

#[derive(Debug)]
pub struct InboundPlane {
    tun: TunPlane,
    enablement: Enablement,
    /// The caller's addresses as the NCPs open: the rules follow them.
    peers: Peers,
    /// The kernel's name of the interface the rules were built for.
    ruled: Option<String>,
    /// Its table's name, made once: every datagram's check compares
    /// notifications with it.
    table: String,
    /// Interfaces whose forwarding is on for calls only (see
    /// [`Hold::switched`]).
    switched_on: Vec<String>,
    /// The call's holds on the forwarding of the interfaces it needs.
    holds: Vec<Hold>,
    /// Partitions the console has no route to, for the user.
    unrouted: Vec<String>,
    /// The first wall: what this call lets through, judged here.
    policy: Policy,
    /// The second: the kernel's table, kept standing.
    wall: Wall,
    /// nf_tables' notifications; None where they cannot be had (then
    /// the table is looked at every [`wall::RECHECK_UNWATCHED`]).
    watch: Option<Watch>,
    next_look: Option<tokio::time::Instant>,
    /// Why the call can no longer be carried, once it cannot.
    failed: Option<String>,
    /// The session has been told of `failed`.
    told: bool,
    reporter: Reporter,
}

impl InboundPlane {
    pub fn new(ifname: &str, enablement: Enablement, reporter: Reporter) -> Self {
        let policy = Policy::new(
            enablement.ppp_local,
            enablement.console_access,
            enablement.partitions.iter().map(|p| p.alias).collect(),
            enablement.ipv6,
        );
        InboundPlane {
            // The caller must not be able to route the console or hand it
            // addresses; the firewall drops ICMPv6 from the link as well.
            tun: TunPlane::new(ifname).closed_to_router_advertisements(),
            enablement,
            peers: Peers {
                mark: firewall::call_mark(rand::random()),
                ..Peers::default()
            },
            ruled: None,
            table: String::new(),
            switched_on: Vec::new(),
            holds: Vec::new(),
            unrouted: Vec::new(),
            policy,
            wall: Wall::default(),
            watch: None,
            next_look: None,
            failed: None,
            told: false,
            reporter,
        }
    }

    /// What the policy passed and dropped, for the call's summary.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Times the kernel's table had to be put back.
    pub fn repairs(&self) -> u64 {
        self.wall.repairs()
    }

    /// Subscribes to nf_tables' notifications, once, before the first
    /// table goes in: no change after it can go unheard.
    ///
    /// Without them the console is still held by the policy alone between
    /// looks, but a partition's alias, its NAT flushed, would be an open
    /// address of the console until the next look: a call with partitions
    /// is not carried.
    fn watch(&mut self) -> io::Result<()> {
        if self.watch.is_some() {
            return Ok(());
        }
        match wall::watch() {
            Ok(w) => self.watch = Some(w),
            Err(e) if !self.enablement.partitions.is_empty() => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot watch the firewall for changes (nf_tables notifications: {e}): the partitions' NAT could not be kept"),
                ))
            }
            Err(e) => tracing::warn!(
                error = %e,
                every = ?wall::RECHECK_UNWATCHED,
                "no nf_tables notifications: the call's table is looked at on a period"
            ),
        }
        Ok(())
    }

    /// Whether the ruleset changed since the last look: if so, the
    /// partitions are shut until the table is seen whole.
    fn heard(&mut self) {
        let Some(w) = &self.watch else {
            return;
        };
        // No table yet: whatever was said is not about it.
        let standing = self.ruled.is_some();
        if w.drain(|d| standing && wall::touches(d, &self.table)) {
            self.wall.suspect();
            self.policy.set_aliases_open(false);
        }
    }

    /// Looks at the table if anything may have touched it; puts it back if
    /// it is gone or changed, or gives the call up.
    fn keep_wall(&mut self) {
        self.heard();
        let due = self
            .next_look
            .is_some_and(|t| t <= tokio::time::Instant::now());
        if !(self.wall.is_suspect() || (due && self.wall.standing())) {
            return;
        }
        self.schedule_look();
        let Some(ifname) = self.ruled.clone() else {
            return;
        };
        let listed = match firewall::listing(&ifname) {
            Ok(l) => l,
            Err(e) => {
                self.fail(format!("cannot list the call's firewall table: {e}"));
                return;
            }
        };
        match self.wall.look(listed.as_deref(), Instant::now()) {
            Look::Intact => self.policy.set_aliases_open(true),
            Look::Restore(found) => {
                tracing::warn!(table = %firewall::table_name(&ifname), found,
                    "the call's firewall table was {found}: putting it back");
                match self.rules() {
                    Ok(()) => self.reporter.emit(
                        "firewall-restored",
                        serde_json::json!({
                            "table": firewall::table_name(&ifname),
                            "found": found,
                            "repairs": self.wall.repairs(),
                        }),
                        &format!(
                            "the call's firewall table was {found} (the host's firewall reloaded?): put back ({} so far)",
                            self.wall.repairs()
                        ),
                    ),
                    Err(e) => self.fail(format!(
                        "the call's firewall table was {found} and cannot be put back: {e}"
                    )),
                }
            }
            Look::GiveUp(why) => self.fail(why),
        }
    }

    fn schedule_look(&mut self) {
        let every = if self.watch.is_some() {
            wall::RECHECK
        } else {
            wall::RECHECK_UNWATCHED
        };
        self.next_look = Some(tokio::time::Instant::now() + every);
    }

    /// The call can no longer be carried: nothing more passes, and the
    /// session hangs up at its next look at the plane.
    fn fail(&mut self, why: String) {
        if self.failed.is_some() {
            return;
        }
        tracing::error!(%why, "inbound call firewall lost");
        self.reporter.emit(
            "firewall-lost",
            serde_json::json!({"message": why, "repairs": self.wall.repairs()}),
            &format!("hanging up: {why}"),
        );
        self.policy.set_caller4(None);
        self.policy.set_link6(None);
        self.failed = Some(why);
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
        self.watch()?;
        firewall::apply(&firewall::ruleset(
            &ifname,
            &self.peers,
            &self.enablement,
            &self.switched_on,
        ))
        .map_err(io::Error::other)?;
        self.table = firewall::table_name(&ifname);
        self.ruled = Some(ifname.clone());
        // What this batch made is the table to keep; our own change is
        // heard of too, and found intact.
        let listed = firewall::listing(&ifname)
            .map_err(io::Error::other)?
            .ok_or_else(|| io::Error::other("the table just made is not there"))?;
        self.wall.built(listed);
        self.policy.set_aliases_open(true);
        self.schedule_look();
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
        self.policy.set_caller4(Some(caller));
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
            Ok(what) => Ok({
                self.policy.set_link6(self.peers.v6);
                format!(
                    "{what}; console {}",
                    if self.enablement.console_access {
                        "reachable on the service ports only"
                    } else {
                        "unreachable"
                    }
                )
            }),
            Err(e) => {
                self.down6();
                Err(e)
            }
        }
    }

    fn down6(&mut self) {
        // Nothing more of IPv6 passes; IPv6 off on the interface, then
        // rules without it.
        self.policy.set_link6(None);
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
        // Nothing more passes here; forwarding off, while the table still
        // drops everything else; then the table; then the interface.
        self.policy.set_caller4(None);
        self.policy.set_link6(None);
        self.policy.set_aliases_open(false);
        for h in self.holds.drain(..) {
            let ifname = h.ifname().to_string();
            if let Err(e) = h.release() {
                tracing::error!(interface = %ifname, error = %e, "could not restore forwarding");
            }
        }
        self.wall.removed();
        if let Some(ifname) = self.ruled.take() {
            if let Err(e) = firewall::remove(&ifname) {
                tracing::error!(error = %e, "could not remove the inbound firewall table");
            }
        }
        self.peers = Peers {
            mark: self.peers.mark,
            ..Peers::default()
        };
        self.unrouted.clear();
        self.switched_on.clear();
        self.tun.down6();
        self.tun.down();
    }

    fn deliver(&mut self, datagram: &[u8]) {
        // A change to the ruleset committed before this datagram came is
        // heard of before it is judged.
        self.heard();
        match self.policy.check(Way::FromCaller, datagram, Instant::now()) {
            Ok(()) => self.tun.deliver(datagram),
            Err(reason) => tracing::debug!(
                reason = reason.as_str(),
                datagram = %shown(datagram),
                "datagram from the caller dropped by the call's policy"
            ),
        }
    }

    async fn next_outbound(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            self.keep_wall();
            if let Some(why) = &self.failed {
                if self.told {
                    // Said once; the session is hanging up.
                    return std::future::pending().await;
                }
                self.told = true;
                return Err(io::Error::other(why.clone()));
            }
            let next_look = self.next_look;
            let tun = &mut self.tun;
            let watch = self.watch.as_ref();
            tokio::select! {
                r = tun.next_outbound(buf) => {
                    let n = r?;
                    match self.policy.check(Way::ToCaller, &buf[..n], Instant::now()) {
                        Ok(()) => return Ok(n),
                        Err(reason) => tracing::debug!(
                            reason = reason.as_str(),
                            datagram = %shown(&buf[..n]),
                            "datagram toward the caller dropped by the call's policy"
                        ),
                    }
                }
                () = async { match watch { Some(w) => w.ready().await, None => std::future::pending().await } } => {}
                () = async { match next_look { Some(t) => tokio::time::sleep_until(t).await, None => std::future::pending().await } } => {}
            }
        }
    }

    fn dropped(&self) -> u64 {
        self.tun.dropped() + self.policy.counts().total_dropped()
    }

    fn summary(&self) -> Option<serde_json::Value> {
        Some(serde_json::json!({
            "policy": self.policy.counts().to_json(),
            "firewall_repairs": self.wall.repairs(),
        }))
    }

    fn interface(&self) -> Option<String> {
        self.tun.interface().map(str::to_string)
    }

    fn must_be_up(&self) -> bool {
        true
    }
}

/// A datagram as `-v` shows frames.
fn shown(d: &[u8]) -> crate::ppp::trace::Describe<'_> {
    let protocol = if d.first().is_some_and(|b| b >> 4 == 6) {
        crate::ppp::proto::IPV6
    } else {
        crate::ppp::proto::IPV4
    };
    crate::ppp::trace::describe(protocol, d)
}

impl Drop for InboundPlane {
    fn drop(&mut self) {
        self.down();
    }
}
