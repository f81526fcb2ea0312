//! Probes of what the caller reaches: the console's own ports over
//! either family, a partition at its alias, and the listeners that
//! count what arrives.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use super::call::Call;
use super::report::Report;
use super::{ip4, udp_sample, DECOYS, LPAR_PORT, SERVICE_PORTS};
use crate::support::carrier::Netns;
use crate::support::hostile::{ports_text, Ip, Scan};
use crate::support::lab::{Lab, LPAR1_ALIAS};
use crate::support::listen::{Family, Listeners, L4};
use crate::support::nsstat::{delta, link_counters, snmp};

/// How the report and the holes name what differs between the families.
pub trait Af: Ip {
    /// The listeners' family.
    const FAMILY: Family;
    /// (the report's family column, ICMP's name, the console's listeners
    /// of the family and what UDP answered with, in holes).
    const WORDS: [&'static str; 4];
}

impl Af for Ipv4Addr {
    const FAMILY: Family = Family::V4;
    const WORDS: [&'static str; 4] = [
        "ipv4",
        "ICMP",
        "listeners",
        "ICMP errors (closed, not dropped)",
    ];
}

impl Af for Ipv6Addr {
    const FAMILY: Family = Family::V6;
    const WORDS: [&'static str; 4] = ["ipv6", "ICMPv6", "IPv6 listeners", "ICMPv6 errors"];
}

/// The console's own address `console` from `me`, over `A`: TCP
/// `tcp_ports` and the UDP sample; only `want` open, and the listeners
/// of `A` accepted exactly the connections the scan completed. Over
/// IPv6 also: the UDP sockets received exactly what answered, and the
/// IPv4 listeners nothing.
#[allow(clippy::too_many_arguments)]
pub fn console_scans<A: Af>(
    r: &mut Report,
    lab: &Lab,
    call: &mut Call,
    listeners: &Listeners,
    (me, console): (A, A),
    tcp_ports: &[u16],
    want: &BTreeSet<u16>,
    who: &str,
) {
    let [name, icmp, their_listeners, udp_errors] = A::WORDS;
    let h = &mut call.caller;
    let before = listeners.snapshot();
    let counted = |l4: L4, probed: &BTreeSet<u16>| -> BTreeSet<u16> {
        probed
            .iter()
            .filter(|&&p| {
                listeners.count(A::FAMILY, l4, p)
                    > before.get(&(A::FAMILY, l4, p)).copied().unwrap_or(0)
            })
            .copied()
            .collect()
    };
    let ifname = call.ifname.clone();
    let c = console.label();
    let (_, drop0) = link_counters(&lab.console, &ifname);
    let t0 = Instant::now();
    let s = h.tcp_scan(me, console, tcp_ports);
    r.scan(&format!("{}/tcp", name), &s, t0.elapsed());
    let (_, drop1) = link_counters(&lab.console, &ifname);
    r.check(drop1 == drop0, || {
        format!(
            "HARNESS{who}: {ifname} dropped {} answers of the scan (its TX queue overran): the scan's dropped count is not to be trusted",
            drop1 - drop0
        )
    });
    // Exactly the ports of `want` the scan probed are open.
    let port_list = |r: &mut Report, s: &Scan, what: &str| {
        let want: BTreeSet<u16> = want.intersection(&s.probed).copied().collect();
        r.check(s.open == want, || {
            format!(
                "PORT LIST{who}: {what} on {c}: [{}], want exactly [{}]",
                ports_text(&s.open),
                ports_text(&want)
            )
        });
    };
    port_list(r, &s, "TCP ports open");
    r.check(s.closed.is_empty(), || {
        format!(
            "RST LEAK{who}: {} TCP ports of {c} answer RST instead of being dropped: [{}]",
            s.closed.len(),
            ports_text(&s.closed)
        )
    });
    r.check(s.unreachable.is_empty(), || {
        format!(
            "ICMP LEAK{who}: {} errors for TCP to {c}: [{}]",
            icmp,
            ports_text(&s.unreachable)
        )
    });
    // The listeners saw exactly the connections the scan completed.
    std::thread::sleep(Duration::from_millis(100));
    let tcp_counted = counted(L4::Tcp, &s.probed);
    r.check(tcp_counted == s.open, || {
        format!(
            "HARNESS{who}: the console's {} accepted on [{}] but the scan saw open [{}]",
            their_listeners,
            ports_text(&tcp_counted),
            ports_text(&s.open)
        )
    });

    let t0 = Instant::now();
    let u = h.udp_probe(me, console, &udp_sample());
    r.scan(&format!("{}/udp", name), &u, t0.elapsed());
    port_list(r, &u, "UDP ports answering");
    r.check(u.closed.is_empty() && u.unreachable.is_empty(), || {
        format!(
            "ICMP LEAK{who}: UDP to {c} answered with {}: [{}] [{}]",
            udp_errors,
            ports_text(&u.closed),
            ports_text(&u.unreachable)
        )
    });
    if A::FAMILY == Family::V6 {
        std::thread::sleep(Duration::from_millis(100));
        let udp_counted = counted(L4::Udp, &u.probed);
        r.check(udp_counted == u.open, || {
            format!(
                "HARNESS{who}: the console's IPv6 UDP sockets received on [{}] but the probe saw answers from [{}]",
                ports_text(&udp_counted),
                ports_text(&u.open)
            )
        });
        let v4 = listeners.total(|k| k.0 == Family::V4)
            - before
                .iter()
                .filter(|(k, _)| k.0 == Family::V4)
                .map(|(_, n)| n)
                .sum::<u64>();
        r.check(v4 == 0, || {
            format!("HARNESS{who}: the console's IPv4 listeners counted {v4} arrivals during the IPv6 scans")
        });
    }
}

/// The console's own address: the full TCP range or `tcp_ports`, the UDP
/// sample, ping; only `want` open.
pub fn console_ports(
    r: &mut Report,
    lab: &Lab,
    call: &mut Call,
    listeners: &Listeners,
    tcp_ports: &[u16],
    want: &BTreeSet<u16>,
    who: &str,
) {
    let (me, console) = (call.remote, call.local);
    console_scans(r, lab, call, listeners, (me, console), tcp_ports, want, who);
    let n = call.caller.ping(me, console, 3);
    r.row("ipv4/icmp", &format!("echo {console}"), 3, n.into(), "");
    r.check(n == 0, || {
        format!("PORT LIST{who}: the console answers ping on {console} ({n}/3): only TCP/UDP service ports are allowed")
    });
}

/// The partition behind `alias` answers TCP, UDP and ping, and its own
/// listeners and counters prove the traffic got there.
pub fn partition_reachable(
    r: &mut Report,
    call: &mut Call,
    alias: Ipv4Addr,
    lpar: &Netns,
    listeners: &Listeners,
    name: &str,
) {
    let me = call.remote;
    let h = &mut call.caller;
    let (tcp0, udp0) = (
        listeners.count(Family::V4, L4::Tcp, LPAR_PORT),
        listeners.count(Family::V4, L4::Udp, LPAR_PORT),
    );
    let s0 = snmp(lpar);
    let t0 = Instant::now();
    let s = h.tcp_scan(me, alias, &[LPAR_PORT]);
    r.scan("ipv4/tcp", &s, t0.elapsed());
    let t0 = Instant::now();
    let u = h.udp_probe(me, alias, &[LPAR_PORT]);
    r.scan("ipv4/udp", &u, t0.elapsed());
    let n = h.ping(me, alias, 2);
    std::thread::sleep(Duration::from_millis(100));
    let s1 = snmp(lpar);
    let echoes = delta(&s1, &s0, "Icmp.InEchos");
    r.row(
        "ipv4/icmp",
        &format!("echo {alias}"),
        2,
        n.into(),
        &format!("{name} saw {echoes} echo requests"),
    );
    let want: BTreeSet<u16> = [LPAR_PORT].into();
    r.check(s.open == want, || {
        format!(
            "PARTITION: {alias}:{LPAR_PORT} ({name}'s alias) is not open over TCP: {}",
            s.answers()
        )
    });
    let tcp = listeners.count(Family::V4, L4::Tcp, LPAR_PORT) - tcp0;
    r.check(tcp == 1, || {
        format!(
            "PARTITION: {name}'s TCP listener counted {tcp} connections through {alias}, want 1"
        )
    });
    let udp = listeners.count(Family::V4, L4::Udp, LPAR_PORT) - udp0;
    r.check(u.open == want && udp == 1, || {
        format!(
            "PARTITION: UDP to {alias}:{LPAR_PORT}: {}; {name}'s listener counted {udp}",
            u.answers()
        )
    });
    // One reply proves the path; a second may be late on a loaded machine.
    r.check(n >= 1 && echoes >= u64::from(n), || {
        format!("PARTITION: ping {alias}: {n}/2 replies, {name} itself saw {echoes} echo requests")
    });
}

/// [`partition_reachable`] for lpar1 at its alias in the usual
/// enablement, 10.99.0.11.
pub fn lpar1_reachable(r: &mut Report, lab: &Lab, call: &mut Call, l1: &Listeners) {
    partition_reachable(r, call, ip4(LPAR1_ALIAS), &lab.lpar1, l1, "lpar1");
}

pub fn console_listeners(lab: &Lab) -> Listeners {
    console_listeners_with(lab, &[])
}

/// TCP and UDP listeners on the service ports, [`DECOYS`] and `more`.
pub fn console_listeners_with(lab: &Lab, more: &[u16]) -> Listeners {
    let mut ports: Vec<u16> = SERVICE_PORTS.to_vec();
    ports.extend(DECOYS);
    ports.extend(more);
    Listeners::start(lab.console.name(), &ports, &ports)
}

pub fn lpar_listeners(ns: &Netns) -> Listeners {
    Listeners::start(ns.name(), &[LPAR_PORT], &[LPAR_PORT])
}
