//! The inbound call's boundary over IPv4, attacked as a hostile caller
//! would (tests/support/attack/): one call with and without console
//! access, every port of the console, its LAN addresses, the partitions
//! allowed and not, IPv6 it must not carry and spoofed sources; and two
//! calls at once, each kept to its own rules.
//!
//! Needs root (namespaces, TUN, nftables); skips loudly elsewhere, and
//! fails under CI=true.

mod support;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use support::attack::call::{call_figures, call_up, hang_up, Call};
use support::attack::probe::{
    console_listeners, console_ports, lpar1_reachable, lpar_listeners, partition_reachable,
};
use support::attack::report::Report;
use support::attack::spoof::{counted_since, joined, snapshots, spoof_checks, spoof_frames};
use support::attack::v6::{ipv6_phase, no_ipv6_out, v4_frames};
use support::attack::{
    ifname_template, ip4, one_at_a_time, port_list, service_set, udp_sample, LPAR_PORT,
};
use support::hostile::FINAL_WAIT;
use support::lab::{Lab, LAN1, LAN2, LPAR1, LPAR2};
use support::listen::Listeners;
use support::nsstat::{delta, moved, nft_tables, snmp, table_for};
/// The console's LAN addresses through the link: nothing answers.
fn console_lan(r: &mut Report, call: &mut Call, who: &str) {
    let me = call.remote;
    let h = &mut call.caller;
    for lan in [LAN1, LAN2].map(ip4) {
        let t0 = Instant::now();
        let s = h.tcp_scan(me, lan, &port_list());
        r.scan("ipv4/tcp", &s, t0.elapsed());
        r.check(s.all_dropped(), || {
            format!(
                "LAN ADDRESS{who}: the console answers on its LAN address {lan} through the link: {}",
                s.answers()
            )
        });
        let t0 = Instant::now();
        let u = h.udp_probe(me, lan, &udp_sample());
        r.scan("ipv4/udp", &u, t0.elapsed());
        r.check(u.all_dropped(), || {
            format!(
                "LAN ADDRESS{who}: UDP to the console's LAN address {lan} answered: {}",
                u.answers()
            )
        });
        let n = h.ping(me, lan, 2);
        r.row("ipv4/icmp", &format!("echo {lan}"), 2, n.into(), "");
        r.check(n == 0, || {
            format!("LAN ADDRESS{who}: the console answers ping on {lan} through the link")
        });
    }
}

/// TCP and UDP to `dst`:7777 get no answer of any kind.
fn unreachable_target(r: &mut Report, call: &mut Call, dst: Ipv4Addr, why: &str) {
    let me = call.remote;
    let h = &mut call.caller;
    let t0 = Instant::now();
    let s = h.tcp_scan(me, dst, &[LPAR_PORT]);
    r.scan("ipv4/tcp", &s, t0.elapsed());
    let u = h.udp_probe(me, dst, &[LPAR_PORT]);
    r.scan("ipv4/udp", &u, t0.elapsed());
    r.check(s.all_dropped() && u.all_dropped(), || {
        format!(
            "PARTITION: {dst}:{LPAR_PORT} ({why}) answers: tcp {}; udp {}",
            s.answers(),
            u.answers()
        )
    });
}

/// SYNs and datagrams from addresses that are not the caller's: nothing
/// comes back, nothing arrives anywhere.
fn spoof_phase(
    r: &mut Report,
    lab: &Lab,
    call: &mut Call,
    sources: &[Ipv4Addr],
    targets: &[(Ipv4Addr, u16)],
    listeners: &[&Listeners],
) {
    let h = &mut call.caller;
    let sport = h.fresh_port();
    let before = snapshots(listeners);
    let hosts = [
        ("console", &lab.console),
        ("lpar1", &lab.lpar1),
        ("lpar2", &lab.lpar2),
    ];
    let s0: Vec<_> = hosts.iter().map(|(_, ns)| snmp(ns)).collect();
    let frames = spoof_frames(sources, targets, sport, None);
    h.send_frames(&frames);
    let got = h.pump(FINAL_WAIT);
    std::thread::sleep(Duration::from_millis(100));
    let s1: Vec<_> = hosts.iter().map(|(_, ns)| snmp(ns)).collect();
    // IPv4 answers; IPv6 is the IPv6 phase's business.
    let answers = v4_frames(&got);
    let counted = counted_since(listeners, &before);
    let mut arrived = Vec::new();
    for (i, (name, _)) in hosts.iter().enumerate() {
        let keys: &[&str] = if *name == "console" {
            &["Tcp.InSegs", "Udp.InDatagrams", "Udp.NoPorts"]
        } else {
            &["Ip.InReceives"]
        };
        arrived.extend(moved(name, &s1[i], &s0[i], keys));
    }
    r.row(
        "ipv4 spoofed",
        &format!(
            "from {} to {}",
            joined(sources),
            joined(targets.iter().map(|(a, p)| format!("{a}:{p}")))
        ),
        frames.len(),
        answers.len(),
        &arrived.join(", "),
    );
    spoof_checks(r, "", &answers, &counted, &arrived);
}

/// Tests 1 and 2: one call, every probe.
fn one_call(name: &'static str, tag: &str, console_access: bool) {
    let Some((lab, mut r)) = Lab::with_report(tag, name) else {
        return;
    };
    let state = lab.state("state");
    let (user, secret) = lab.enable_lpar1(&state, console_access, "chap", &[]);
    let cl = console_listeners(&lab);
    let l1 = lpar_listeners(&lab.lpar1);
    let l2 = lpar_listeners(&lab.lpar2);
    let mut call = call_up(&lab, &state, &user, &secret, &ifname_template());
    r.note(format!(
        "call up on {} ({} -> {}), --ifname {:?}; nft tables: {:?}",
        call.ifname,
        call.remote,
        call.local,
        ifname_template(),
        nft_tables(&lab.console)
    ));
    let want = if console_access {
        service_set()
    } else {
        BTreeSet::new()
    };
    let all: Vec<u16> = (1..=65535).collect();
    console_ports(&mut r, &lab, &mut call, &cl, &all, &want, "");
    console_lan(&mut r, &mut call, "");

    let lpar2_0 = snmp(&lab.lpar2);
    lpar1_reachable(&mut r, &lab, &mut call, &l1);
    unreachable_target(
        &mut r,
        &mut call,
        ip4(LPAR1),
        "lpar1's real address, not its alias",
    );
    unreachable_target(&mut r, &mut call, ip4(LPAR2), "lpar2 is not allowed");
    unreachable_target(
        &mut r,
        &mut call,
        ip4("10.99.0.12"),
        "no partition has this alias",
    );
    let lpar2_in = delta(&snmp(&lab.lpar2), &lpar2_0, "Ip.InReceives");
    let l2_total = l2.total(|_| true);
    r.check(lpar2_in == 0 && l2_total == 0, || {
        format!("PARTITION: lpar2 (not allowed) received {lpar2_in} IP packets; its listener counted {l2_total}")
    });

    ipv6_phase(&mut r, &lab, &mut call, &cl);
    spoof_phase(
        &mut r,
        &lab,
        &mut call,
        &["10.99.0.77", LPAR1, "10.99.0.1", "127.0.0.1"].map(ip4),
        &[(ip4("10.99.0.1"), 22), (ip4("10.99.0.11"), LPAR_PORT)],
        &[&cl, &l1, &l2],
    );
    no_ipv6_out(&mut r, &call);
    call_figures(&mut r, &lab, &call);
    hang_up(&mut r, &mut call);
    r.finish();
}

#[test]
fn console_access_on_opens_exactly_the_port_list() {
    let _serial = one_at_a_time();
    one_call(
        "console_access_on_opens_exactly_the_port_list",
        "atk-on",
        true,
    );
}

#[test]
fn console_access_off_reaches_nothing_on_the_console() {
    let _serial = one_at_a_time();
    one_call(
        "console_access_off_reaches_nothing_on_the_console",
        "atk-off",
        false,
    );
}

#[test]
fn two_calls_at_once_keep_their_own_rules() {
    let _serial = one_at_a_time();
    let Some((lab, mut r)) = Lab::with_report("atk-two", "two_calls_at_once_keep_their_own_rules")
    else {
        return;
    };
    let (sa, sb) = (lab.state("a"), lab.state("b"));
    let (ua, pa) = lab.enable(
        &sa,
        ("10.99.0.1", "10.99.0.2"),
        &format!("lpar1={LPAR1}"),
        true,
        &["--auth", "chap"],
    );
    let (ub, pb) = lab.enable(
        &sb,
        ("10.98.0.1", "10.98.0.2"),
        &format!("lpar2={LPAR2}"),
        true,
        &["--auth", "chap"],
    );
    let cl = console_listeners(&lab);
    let l1 = lpar_listeners(&lab.lpar1);
    let l2 = lpar_listeners(&lab.lpar2);
    let template = ifname_template();
    let (ta, tb) = if template.contains('%') {
        (template.clone(), template.clone())
    } else {
        (format!("{template}a"), format!("{template}b"))
    };
    let mut a = call_up(&lab, &sa, &ua, &pa, &ta);
    let mut b = call_up(&lab, &sb, &ub, &pb, &tb);
    r.note(format!(
        "call A on {} ({} -> {}), call B on {} ({} -> {}); nft tables: {:?}",
        a.ifname,
        a.remote,
        a.local,
        b.ifname,
        b.remote,
        b.local,
        nft_tables(&lab.console)
    ));
    let (alias_a, alias_b) = (ip4("10.99.0.11"), ip4("10.98.0.11"));
    let want = service_set();
    console_ports(&mut r, &lab, &mut a, &cl, &port_list(), &want, " (call A)");
    console_ports(&mut r, &lab, &mut b, &cl, &port_list(), &want, " (call B)");
    partition_reachable(&mut r, &mut a, alias_a, &lab.lpar1, &l1, "lpar1");
    partition_reachable(&mut r, &mut b, alias_b, &lab.lpar2, &l2, "lpar2");
    let (local_a, local_b) = (a.local, b.local);
    for (call, other, other_alias, who) in [
        (&mut a, local_b, alias_b, "A"),
        (&mut b, local_a, alias_a, "B"),
    ] {
        let me = call.remote;
        let t0 = Instant::now();
        let s = call.caller.tcp_scan(me, other, &port_list());
        r.scan("ipv4/tcp", &s, t0.elapsed());
        let u = call.caller.udp_probe(me, other, &udp_sample());
        r.scan("ipv4/udp", &u, t0.elapsed());
        r.check(s.all_dropped() && u.all_dropped(), || {
            format!(
                "TWO CALLS: caller {who} reaches the other call's console address {other}: tcp {}; udp {}",
                s.answers(),
                u.answers()
            )
        });
        let t0 = Instant::now();
        let s = call.caller.tcp_scan(me, other_alias, &[LPAR_PORT]);
        r.scan("ipv4/tcp", &s, t0.elapsed());
        r.check(s.all_dropped(), || {
            format!(
                "TWO CALLS: caller {who} reaches the other call's partition alias {other_alias}: {}",
                s.answers()
            )
        });
    }
    // A, spoofing B's address, at B's console and partition.
    spoof_phase(
        &mut r,
        &lab,
        &mut a,
        &[b.remote],
        &[(b.local, 22), (alias_b, LPAR_PORT), (alias_a, LPAR_PORT)],
        &[&cl, &l1, &l2],
    );

    // Call A ends; B's rules must stand.
    let code = a.end();
    r.check(code == Some(5), || {
        format!("TWO CALLS: console A exited {code:?} on SIGTERM, want 5")
    });
    let tables = nft_tables(&lab.console);
    r.note(format!("after call A ended: nft tables {tables:?}"));
    let (tab_a, tab_b) = (table_for(&a.ifname), table_for(&b.ifname));
    let has = |t: &str| {
        tables
            .iter()
            .any(|x| x.split_whitespace().nth(1) == Some(t))
    };
    r.check(has(&tab_b), || {
        format!("TWO CALLS: call B's table {tab_b} is gone after call A ended: tables {tables:?}")
    });
    r.check(!has(&tab_a), || {
        format!("TWO CALLS: call A's table {tab_a} is left after call A ended: tables {tables:?}")
    });
    console_ports(
        &mut r,
        &lab,
        &mut b,
        &cl,
        &port_list(),
        &want,
        " (call B after A ended)",
    );
    partition_reachable(&mut r, &mut b, alias_b, &lab.lpar2, &l2, "lpar2");
    no_ipv6_out(&mut r, &b);
    let code = b.end();
    r.note(format!("console B exit after SIGTERM: {code:?}"));
    r.finish();
}
