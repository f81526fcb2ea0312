//! The inbound call's boundary over IPv6, attacked as a hostile caller
//! would (tests/support/attack/): with `inbound enable --ipv6` only the
//! service ports of the console's link-local address, from the caller's
//! only; without it, no IPv6CP and no IPv6 at all.
//!
//! Needs root (namespaces, TUN, nftables); skips loudly elsewhere, and
//! fails under CI=true.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use carrier::ppp::proto;
use support::attack::call::{call_figures, call_up_v6, call_up_v6_ready, drain, hang_up, Call};
use support::attack::probe::{
    console_listeners, console_listeners_with, console_ports, console_scans, lpar1_reachable,
    lpar_listeners,
};
use support::attack::report::Report;
use support::attack::spoof::{counted_since, joined, snapshots, spoof_checks, spoof_frames};
use support::attack::v6::{ipv6_phase, no_ipv6_out, v4_frames, v6_field, Frames};
use support::attack::{one_at_a_time, port_list, service_set, LPAR_PORT};
use support::carrier::Netns;
use support::hostile::{self, describe, Hostile, FINAL_WAIT};
use support::hosts::ok;
use support::lab::Lab;
use support::listen::{Counts, Listeners};
use support::nsstat::{delta, link_counters, link_local, moved, nft_tables, snmp46, snmp6};
/// Listening on the console over IPv6 (and IPv4) beside the service
/// ports and [`DECOYS`], never to be reached: the service range's edges,
/// neighbours of the service ports and common services.
const V6_DECOYS: [u16; 10] = [21, 25, 443, 2124, 2126, 29999, 30010, 9091, 5353, 65535];

/// `addr`/64 on `dev` of `ns`, without duplicate address detection.
fn add_v6(ns: &Netns, addr: Ipv6Addr, dev: &str, what: &str) {
    let addr = format!("{addr}/64");
    ok(
        ns.run(&["ip", "-6", "addr", "add", &addr, "dev", dev, "nodad"]),
        what,
    );
}

/// IPv6 the console sent since index `from` of the caller's `ipv6_in`:
/// (answers, the kernel's own router solicitations and MLD reports).
fn v6_since(h: &Hostile, from: usize) -> (Vec<String>, Vec<String>) {
    let (own, answers): (Frames, Frames) = h.ipv6_in[from..]
        .iter()
        .partition(|(_, p)| hostile::ipv6_unsolicited(p));
    let text = |v: Frames| v.iter().map(|(p, d)| describe(*p, d)).collect::<Vec<_>>();
    (text(answers), text(own))
}

/// The console's link-local address from the caller's: the full TCP
/// range, the UDP sample and ping; only `want` open, and only the V6
/// listeners of those ports counting.
fn console_ports6(
    r: &mut Report,
    lab: &Lab,
    call: &mut Call,
    listeners: &Listeners,
    (me, console): (Ipv6Addr, Ipv6Addr),
    want: &BTreeSet<u16>,
) {
    let all: Vec<u16> = (1..=65535).collect();
    let who = " (IPv6)";
    console_scans(r, lab, call, listeners, (me, console), &all, want, who);
    let c0 = snmp6(&lab.console);
    let n = call.caller.ping(me, console, 3);
    let echos = delta(&snmp6(&lab.console), &c0, "Icmp6InEchos");
    r.row(
        "ipv6/icmp",
        &format!("echo [{console}]"),
        3,
        n.into(),
        &format!("console Icmp6InEchos +{echos}"),
    );
    r.check(n == 0 && echos == 0, || {
        format!("PORT LIST{who}: ICMPv6 echo to [{console}] got past the firewall ({n}/3 replies, Icmp6InEchos +{echos}): only TCP/UDP service ports are allowed")
    });
}

/// What a phase compares against afterwards: the listeners' counts, the
/// console's and lpar1's counters (both families), the console's RX
/// packets on the call's interface, and how much IPv6 the caller had
/// received.
struct Before {
    ifname: String,
    listeners: Vec<Counts>,
    console: BTreeMap<String, u64>,
    lpar1: BTreeMap<String, u64>,
    rx: u64,
}

/// The counters a spoofed or misdirected IPv6 probe must not move.
const V6_KEYS: [&str; 4] = [
    "Tcp.InSegs",
    "Udp6InDatagrams",
    "Udp6NoPorts",
    "Icmp6InEchos",
];

impl Before {
    fn take(lab: &Lab, ifname: &str, listeners: &[&Listeners]) -> Before {
        Before {
            ifname: ifname.to_string(),
            listeners: snapshots(listeners),
            console: snmp46(&lab.console),
            lpar1: snmp46(&lab.lpar1),
            rx: link_counters(&lab.console, ifname).0,
        }
    }

    /// How many packets the call's interface received since.
    fn rx_since(&self, lab: &Lab) -> u64 {
        link_counters(&lab.console, &self.ifname).0 - self.rx
    }

    /// What `listeners` (those taken) counted since.
    fn counted(&self, listeners: &[&Listeners]) -> Vec<String> {
        counted_since(listeners, &self.listeners)
    }

    /// The console's and lpar1's `keys` that moved since.
    fn arrived(&self, lab: &Lab, keys: &[&str]) -> Vec<String> {
        let mut arrived = moved("console", &snmp46(&lab.console), &self.console, keys);
        arrived.extend(moved("lpar1", &snmp46(&lab.lpar1), &self.lpar1, keys));
        arrived
    }
}

/// What the console sent since index `from` of the caller's `ipv6_in`,
/// not of its own, and the IPv4 among `got`: answers, described.
fn answers_since(h: &Hostile, from: usize, got: &[(u16, Vec<u8>)]) -> Vec<String> {
    let (mut answers, _) = v6_since(h, from);
    answers.extend(v4_frames(got));
    answers
}

/// SYNs, datagrams and echo requests from IPv6 addresses that are not
/// the caller's, to the console's open service ports: nothing comes
/// back, nothing reaches even the console's interface.
fn spoof6_phase(
    r: &mut Report,
    lab: &Lab,
    call: &mut Call,
    sources: &[Ipv6Addr],
    console: Ipv6Addr,
    listeners: &[&Listeners],
) {
    let ifname = call.ifname.clone();
    let h = &mut call.caller;
    let sport = h.fresh_port();
    let ports = [22u16, 2300, 9090, 30009];
    let before = Before::take(lab, &ifname, listeners);
    let from = h.ipv6_in.len();
    let targets = ports.map(|p| (console, p));
    let frames = spoof_frames(sources, &targets, sport, Some((console, 0x5e5e)));
    h.send_frames(&frames);
    let got = h.pump(FINAL_WAIT);
    std::thread::sleep(Duration::from_millis(100));
    let rx = before.rx_since(lab);
    let answers = answers_since(h, from, &got);
    let counted = before.counted(listeners);
    let arrived = before.arrived(lab, &V6_KEYS);
    r.row(
        "ipv6 spoofed",
        &format!("from {} to [{console}]:{}", joined(sources), joined(ports)),
        frames.len(),
        answers.len(),
        &format!(
            "{ifname} RX +{rx}{}",
            if arrived.is_empty() {
                String::new()
            } else {
                format!("; {}", arrived.join(", "))
            }
        ),
    );
    spoof_checks(r, " (IPv6)", &answers, &counted, &arrived);
    r.check(rx == 0, || {
        format!(
            "SPOOF (IPv6): {rx} spoofed packets reached {ifname} (the plane passes sources other than the caller's link-local address)"
        )
    });
}

/// From the caller's own link-local address to everything but the
/// console's: TCP, UDP and ICMPv6 echo each; nothing answers, not even
/// with an ICMPv6 error, and nothing arrives anywhere.
fn other_dst6_phase(
    r: &mut Report,
    lab: &Lab,
    call: &mut Call,
    me: Ipv6Addr,
    targets: &[(Ipv6Addr, String)],
    listeners: &[&Listeners],
) {
    let ifname = call.ifname.clone();
    let h = &mut call.caller;
    let before = Before::take(lab, &ifname, listeners);
    let mut all_answers = Vec::new();
    for (i, (dst, why)) in targets.iter().enumerate() {
        let sport = h.fresh_port();
        let from = h.ipv6_in.len();
        let frame = |p: Vec<u8>| (proto::IPV6, p);
        let mut frames: Vec<_> = [22, 2300, LPAR_PORT]
            .map(|port| frame(hostile::tcp_syn(me, sport, *dst, port)))
            .into();
        frames.extend(
            [22, 9090, LPAR_PORT]
                .map(|port| frame(hostile::udp(me, sport, *dst, port, b"carrier-attack"))),
        );
        frames.push(frame(hostile::icmp6_echo(me, *dst, 0x7e7e, i as u16 + 1)));
        h.send_frames(&frames);
        let got = h.pump(Duration::from_millis(600));
        let answers = answers_since(h, from, &got);
        r.row(
            "ipv6 other dst",
            &format!("[{dst}] ({why})"),
            frames.len(),
            answers.len(),
            &answers.join("; "),
        );
        all_answers.extend(answers.into_iter().map(|a| format!("[{dst}]: {a}")));
    }
    let got = h.pump(FINAL_WAIT);
    all_answers.extend(v4_frames(&got));
    // Late answers (after their target's turn) are answers all the same.
    std::thread::sleep(Duration::from_millis(100));
    let rx = before.rx_since(lab);
    let counted = before.counted(listeners);
    let mut keys = V6_KEYS.to_vec();
    keys.extend([
        "Icmp6OutDestUnreachs",
        "Icmp6OutEchoReplies",
        "Ip6OutNoRoutes",
    ]);
    let arrived = before.arrived(lab, &keys);
    r.note(format!(
        "IPv6 to other destinations: {ifname} RX +{rx} (the plane passes the caller's source; the firewall drops them){}",
        if arrived.is_empty() {
            "; no counter of the console or lpar1 moved".to_string()
        } else {
            format!("; {}", arrived.join(", "))
        }
    ));
    r.check(all_answers.is_empty(), || {
        format!("IPV6 DESTINATION: the console answered IPv6 to destinations other than its link-local address: {all_answers:?}")
    });
    r.check(counted.is_empty(), || {
        format!("IPV6 DESTINATION: listeners counted IPv6 to other destinations: {counted:?}")
    });
    r.check(arrived.is_empty(), || {
        format!(
            "IPV6 DESTINATION: IPv6 to other destinations got past the console's firewall: {arrived:?}"
        )
    });
}

/// The caller's IPv6, framed as 0x0021: never delivered (the link drops
/// a datagram whose header names another family than its frame).
fn v6_in_v4_frames(
    r: &mut Report,
    lab: &Lab,
    call: &mut Call,
    (me, console): (Ipv6Addr, Ipv6Addr),
    listeners: &Listeners,
) {
    let ifname = call.ifname.clone();
    let h = &mut call.caller;
    let sport = h.fresh_port();
    let before = listeners.snapshot();
    let (rx0, _) = link_counters(&lab.console, &ifname);
    let from = h.ipv6_in.len();
    let frames = vec![
        (proto::IPV4, hostile::tcp_syn(me, sport, console, 22)),
        (
            proto::IPV4,
            hostile::udp(me, sport, console, 2300, b"carrier-attack"),
        ),
        (proto::IPV4, hostile::icmp6_echo(me, console, 0x2121, 1)),
    ];
    h.send_frames(&frames);
    let got = h.pump(Duration::from_secs(1));
    std::thread::sleep(Duration::from_millis(100));
    let (rx1, _) = link_counters(&lab.console, &ifname);
    let answers = answers_since(h, from, &got);
    let counted = listeners.since(&before);
    r.row(
        "ipv6 in 0x0021",
        &format!("[{console}]:22,2300 + echo"),
        frames.len(),
        answers.len(),
        &format!("{ifname} RX +{}", rx1 - rx0),
    );
    r.check(answers.is_empty() && counted.is_empty() && rx1 == rx0, || {
        format!(
            "IPV6: IPv6 inside 0x0021 frames was delivered: answers {answers:?}, listeners {counted:?}, {ifname} RX +{}",
            rx1 - rx0
        )
    });
}

#[test]
fn ipv6_allowed_opens_exactly_the_port_list_and_only_from_the_caller() {
    let _serial = one_at_a_time();
    let Some((lab, mut r)) = Lab::with_report(
        "atk-v6",
        "ipv6_allowed_opens_exactly_the_port_list_and_only_from_the_caller",
    ) else {
        return;
    };
    let state = lab.state("state");
    let (user, secret) = lab.enable_lpar1(&state, true, "chap", &["--ipv6"]);
    r.check(lab.status(&state)["ipv6"] == true, || {
        format!(
            "HARNESS: the enablement does not record --ipv6: {}",
            lab.status(&state)
        )
    });
    // The console's and lpar1's LAN get IPv6 addresses of their own: to
    // be unreachable from the call like the link-local ones.
    let (lan1_if, lan2_if, lpar1_if) = (Lab::lan_if(1), Lab::lan_if(2), Lab::lpar_if(1));
    let (lan1_v6, lpar1_v6): (Ipv6Addr, Ipv6Addr) = (
        "fd00:51::1".parse().unwrap(),
        "fd00:51::11".parse().unwrap(),
    );
    add_v6(&lab.console, lan1_v6, &lan1_if, "console LAN IPv6 address");
    add_v6(&lab.lpar1, lpar1_v6, &lpar1_if, "lpar1 IPv6 address");
    let cl = console_listeners_with(&lab, &V6_DECOYS);
    let l1 = lpar_listeners(&lab.lpar1);
    let l2 = lpar_listeners(&lab.lpar2);

    let (mut call, ev, iface6) = call_up_v6_ready(&lab, &state, &user, &secret);
    let (console_ll, caller_ll) = (v6_field(&ev, "local_ll"), v6_field(&ev, "peer_ll"));
    r.note(format!(
        "call up on {} ({} -> {}), IPv6 [{caller_ll}] -> [{console_ll}] (ipv6cp-up local {}, peer {}); {}",
        call.ifname,
        call.remote,
        call.local,
        ev["local"],
        ev["peer"],
        iface6.as_ref().map(|v| v["detail"].to_string()).unwrap_or_default()
    ));
    r.note(format!("nft tables: {:?}", nft_tables(&lab.console)));
    r.check(
        call.caller.local6 == Some(caller_ll) && call.caller.peer6 == Some(console_ll),
        || {
            format!(
                "HARNESS: the caller's IPv6CP agreed on ours {:?} / the console's {:?}, the console's ipv6cp-up on peer {caller_ll} / local {console_ll}",
                call.caller.local6, call.caller.peer6
            )
        },
    );
    let lls = link_local(&lab.console, &call.ifname);
    r.check(lls == [console_ll], || {
        format!(
            "IPV6 ADDRESS: {} holds link-local addresses {lls:?}, want only the one IPv6CP agreed on, {console_ll}",
            call.ifname
        )
    });
    let me = caller_ll;

    // 1. The port list, over IPv6, from the caller's address.
    console_ports6(
        &mut r,
        &lab,
        &mut call,
        &cl,
        (me, console_ll),
        &service_set(),
    );
    // 2. IPv4 still held as before, now that the table was rebuilt with
    //    IPv6 in it.
    console_ports(
        &mut r,
        &lab,
        &mut call,
        &cl,
        &port_list(),
        &service_set(),
        " (IPv6 up)",
    );
    lpar1_reachable(&mut r, &lab, &mut call, &l1);
    // 3. Other sources.
    let sources: Vec<Ipv6Addr> = [
        "fe80::bad:1",
        "fe80::1",
        "2001:db8::66",
        "fd00:51::77",
        "::1",
        "::",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .chain([console_ll])
    .filter(|a| *a != me)
    .collect();
    spoof6_phase(
        &mut r,
        &lab,
        &mut call,
        &sources,
        console_ll,
        &[&cl, &l1, &l2],
    );
    // 4. Other destinations.
    let mut targets: Vec<(Ipv6Addr, String)> = vec![
        ("ff02::1".parse().unwrap(), "all nodes".into()),
        ("ff02::2".parse().unwrap(), "all routers".into()),
        (
            "fe80::dead:beef".parse().unwrap(),
            "unassigned link-local".into(),
        ),
        (lan1_v6, format!("the console's on {lan1_if}")),
        (lpar1_v6, "lpar1's, partitions not over IPv6".into()),
        (
            "2001:db8::1".parse().unwrap(),
            "a global address nobody has".into(),
        ),
        ("::1".parse().unwrap(), "loopback".into()),
        (me, "the caller's own".into()),
    ];
    for ifname in [&lan1_if, &lan2_if] {
        for a in link_local(&lab.console, ifname) {
            targets.push((a, format!("the console's link-local on {ifname}")));
        }
    }
    for a in link_local(&lab.lpar1, &lpar1_if) {
        targets.push((a, "lpar1's link-local".into()));
    }
    other_dst6_phase(&mut r, &lab, &mut call, me, &targets, &[&cl, &l1, &l2]);
    // 5. The caller's IPv6 in the other family's frames.
    v6_in_v4_frames(&mut r, &lab, &mut call, (me, console_ll), &cl);

    let (_, own) = v6_since(&call.caller, 0);
    let mut own_kinds = own.clone();
    own_kinds.sort();
    own_kinds.dedup();
    r.note(format!(
        "IPv6 packets of the console's own over the call (not answers): {} {own_kinds:?}",
        own.len()
    ));
    call_figures(&mut r, &lab, &call);
    hang_up(&mut r, &mut call);
    r.finish();
}

#[test]
fn ipv6_not_enabled_rejects_ipv6cp_and_carries_no_ipv6() {
    let _serial = one_at_a_time();
    let Some((lab, mut r)) = Lab::with_report(
        "atk-nov6",
        "ipv6_not_enabled_rejects_ipv6cp_and_carries_no_ipv6",
    ) else {
        return;
    };
    let state = lab.state("state");
    let (user, secret) = lab.enable_lpar1(&state, true, "chap", &[]);
    let cl = console_listeners(&lab);
    let mut call = call_up_v6(&lab, &state, &user, &secret);
    // Let the caller's IPv6CP ask a few times.
    call.caller.pump(Duration::from_secs(3));
    drain(&mut call.console);
    let ipv6cp =
        |frames: &[(u16, Vec<u8>)]| frames.iter().filter(|(p, _)| *p == proto::IPV6CP).count();
    let asked = ipv6cp(&call.caller.control_out);
    let rejected = ipv6cp(&call.caller.protocol_rejects);
    let answered = ipv6cp(&call.caller.control_in);
    let ups = call.console.events_named("ipv6cp-up").count();
    let lls = link_local(&lab.console, &call.ifname);
    r.row(
        "ipv6cp",
        "Configure-Requests to a console without --ipv6",
        asked,
        answered,
        &format!(
            "{rejected} Protocol-Rejects of 0x8057; console ipv6cp-up {ups}; {} link-local {lls:?}",
            call.ifname
        ),
    );
    r.check(asked > 0, || {
        "HARNESS: the caller never sent an IPv6CP Configure-Request".to_string()
    });
    r.check(rejected > 0, || {
        format!("IPV6CP: {asked} IPv6CP Configure-Requests and no Protocol-Reject of 0x8057")
    });
    r.check(answered == 0 && ups == 0 && !call.caller.ipv6_up(), || {
        format!(
            "IPV6CP: the console ran IPv6CP without --ipv6 in the enablement: {answered} IPv6CP packets to the caller, ipv6cp-up {ups}, caller IPv6 up {}",
            call.caller.ipv6_up()
        )
    });
    r.check(lls.is_empty(), || {
        format!(
            "IPV6: {} has link-local addresses {lls:?} on a call without IPv6",
            call.ifname
        )
    });
    ipv6_phase(&mut r, &lab, &mut call, &cl);
    no_ipv6_out(&mut r, &call);
    // The call carries IPv4 all the same.
    let (me, console) = (call.remote, call.local);
    let t0 = Instant::now();
    let s = call.caller.tcp_scan(me, console, &[22, 80]);
    r.scan("ipv4/tcp", &s, t0.elapsed());
    r.check(s.open == [22].into(), || {
        format!(
            "PORT LIST: with IPv6CP rejected, {console}: {}, want exactly 22 of 22,80",
            s.answers()
        )
    });
    hang_up(&mut r, &mut call);
    r.finish();
}
