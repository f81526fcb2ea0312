//! The inbound call's boundary over its life, attacked as a hostile
//! caller would (tests/support/attack/): nothing before authentication
//! (a wrong secret with NCP frames in the same write), nothing left after
//! kill -9 and a restart, a partition's forwarding kept until the last
//! call through it ends, and no TCP session carried from one call into
//! the next.
//!
//! Needs root (namespaces, TUN, nftables); skips loudly elsewhere, and
//! fails under CI=true.

mod support;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use carrier::ppp::proto;
use support::attack::call::{
    call_up, console_on_line, drain, hang_up, pump_for_event, pump_until_exit, Call,
};
use support::attack::probe::{
    console_listeners, lpar1_reachable, lpar_listeners, partition_reachable,
};
use support::attack::report::Report;
use support::attack::spoof::{counted_since, snapshots};
use support::attack::{ifname_template, ip4, one_at_a_time, LPAR_PORT};
use support::hostile::{self, describe, Hostile};
use support::hosts::ok;
use support::lab::{Lab, LPAR1};
use support::listen::{Family, Listeners, L4};
use support::nsstat::{delta, forwarding, interfaces, nft_tables, snmp};
/// Test 11: two lines whose calls both reach lpar1, through the same
/// egress interface. The interface's forwarding, off before, stays on
/// while either call needs it: call A's end leaves call B its partition,
/// and only B's end puts the switch back.
#[test]
fn two_calls_through_one_egress_keep_its_forwarding_until_the_last() {
    let _serial = one_at_a_time();
    let Some((lab, mut r)) = Lab::with_report(
        "atk-egress",
        "two_calls_through_one_egress_keep_its_forwarding_until_the_last",
    ) else {
        return;
    };
    let egress = format!("conf/{}/forwarding", Lab::lan_if(1));
    let before = forwarding(&lab.console);
    assert_eq!(
        before.get(&egress).map(String::as_str),
        Some("0"),
        "{before:?}"
    );
    let (sa, sb) = (lab.state("a"), lab.state("b"));
    let lpar1 = format!("lpar1={LPAR1}");
    let (ua, pa) = lab.enable(
        &sa,
        ("10.99.0.1", "10.99.0.2"),
        &lpar1,
        false,
        &["--auth", "chap"],
    );
    let (ub, pb) = lab.enable(
        &sb,
        ("10.98.0.1", "10.98.0.2"),
        &lpar1,
        false,
        &["--auth", "chap"],
    );
    let l1 = lpar_listeners(&lab.lpar1);
    let mut a = call_up(&lab, &sa, &ua, &pa, &ifname_template());
    let mut b = call_up(&lab, &sb, &ub, &pb, &ifname_template());
    let (alias_a, alias_b) = (ip4("10.99.0.11"), ip4("10.98.0.11"));
    partition_reachable(&mut r, &mut a, alias_a, &lab.lpar1, &l1, "lpar1 (call A)");
    partition_reachable(&mut r, &mut b, alias_b, &lab.lpar1, &l1, "lpar1 (call B)");
    let code = a.end();
    r.note(format!("console A exit after SIGTERM: {code:?}"));
    let mid = forwarding(&lab.console);
    r.check(mid.get(&egress).map(String::as_str) == Some("1"), || {
        format!("FORWARDING: call A's end switched {egress} off under call B: {mid:?}")
    });
    partition_reachable(
        &mut r,
        &mut b,
        alias_b,
        &lab.lpar1,
        &l1,
        "lpar1 (call B after A ended)",
    );
    let code = b.end();
    r.note(format!("console B exit after SIGTERM: {code:?}"));
    let after = forwarding(&lab.console);
    r.check(after.get(&egress) == before.get(&egress), || {
        format!(
            "FORWARDING: after both calls {egress} is {:?}, was {:?}",
            after.get(&egress),
            before.get(&egress)
        )
    });
    r.finish();
}

#[test]
fn kill_9_mid_call_then_restart_restores_everything() {
    let _serial = one_at_a_time();
    let Some((lab, mut r)) = Lab::with_report(
        "atk-kill",
        "kill_9_mid_call_then_restart_restores_everything",
    ) else {
        return;
    };
    let state = lab.state("state");
    let (user, secret) = lab.enable_lpar1(&state, true, "chap", &[]);
    // The customer's own setting on its other LAN, to be kept.
    let lan2 = Lab::lan_if(2);
    ok(
        lab.console.run(&[
            "sysctl",
            "-qw",
            &format!("net.ipv4.conf.{lan2}.forwarding=1"),
        ]),
        "forwarding on the second LAN",
    );
    let before = forwarding(&lab.console);
    r.note(format!("forwarding before the call: {before:?}"));
    let l1 = lpar_listeners(&lab.lpar1);
    let template = ifname_template();
    let mut call = call_up(&lab, &state, &user, &secret, &template);
    let during = forwarding(&lab.console);
    r.note(format!("forwarding during the call: {during:?}"));
    let global = during.get("ip_forward").cloned().unwrap_or_default();
    r.check(global == "0", || {
        format!("FORWARDING: net.ipv4.ip_forward is {global} during the call: forwarding was turned on globally, not on the call's interfaces only")
    });
    lpar1_reachable(&mut r, &lab, &mut call, &l1);
    r.note(format!(
        "during the call: nft tables {:?}",
        nft_tables(&lab.console)
    ));

    let _ = call.console.child.kill();
    let _ = call.console.child.wait();
    call.caller.pump(Duration::from_millis(200));
    let mut again = lab.answer(&state, call.caller.device_str(), &template);
    let code = again.wait_exit(Duration::from_secs(15));
    r.check(code == Some(20), || {
        format!("RESTART: `answer --inbound` after kill -9 exited {code:?}, want 20 (the enablement stays consumed)")
    });
    let status = lab.status(&state);
    r.check(status["state"] == "consumed", || {
        format!(
            "RESTART: the enablement is {} after kill -9 and restart, want consumed",
            status["state"]
        )
    });
    let tables = nft_tables(&lab.console);
    let ours: Vec<&String> = tables
        .iter()
        .filter(|t| {
            t.split_whitespace()
                .nth(1)
                .is_some_and(|n| n.starts_with("carrier"))
        })
        .collect();
    r.check(ours.is_empty(), || {
        format!("LEFTOVERS: nft tables after kill -9 and restart: {ours:?}")
    });
    let prefix: String = template.split('%').next().unwrap_or("cin").to_string();
    let ifaces: Vec<String> = interfaces(&lab.console)
        .into_iter()
        .filter(|i| i.starts_with(&prefix))
        .collect();
    r.check(ifaces.is_empty(), || {
        format!("LEFTOVERS: interfaces after kill -9 and restart: {ifaces:?}")
    });
    let after = forwarding(&lab.console);
    let changed: Vec<String> = before
        .keys()
        .chain(after.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| format!("{k}: {:?} -> {:?}", before.get(k), after.get(k)))
        .collect();
    r.check(changed.is_empty(), || {
        format!("FORWARDING: after kill -9 and restart, forwarding is not as before the call: {changed:?}")
    });
    r.finish();
}

/// IPCP Configure-Request for `me` with an id the caller's link never
/// uses, Configure-Acks guessing the console's request (id 1 and 2, its
/// address), and datagrams: all meant to arrive before the console has
/// judged the caller.
fn premature_frames(me: Ipv4Addr, console: Ipv4Addr, alias: Ipv4Addr) -> Vec<(u16, Vec<u8>)> {
    let ipcp = |code: u8, id: u8, addr: Ipv4Addr| {
        let mut v = vec![code, id, 0, 10, 3, 6];
        v.extend_from_slice(&addr.octets());
        (proto::IPCP, v)
    };
    vec![
        ipcp(1, PREMATURE_ID, me),
        ipcp(2, 1, console),
        ipcp(2, 2, console),
        (
            proto::IPV4,
            hostile::udp(me, 41999, alias, LPAR_PORT, b"premature"),
        ),
        (proto::IPV4, hostile::tcp_syn(me, 41999, alias, LPAR_PORT)),
        (
            proto::IPV4,
            hostile::udp(me, 41999, console, 2300, b"premature"),
        ),
    ]
}

const PREMATURE_ID: u8 = 0xa5;

/// IPCP packets the console sent: (code, id).
fn console_ipcp(h: &Hostile) -> Vec<(u8, u8)> {
    h.control_in
        .iter()
        .filter(|(p, d)| *p == proto::IPCP && d.len() >= 2)
        .map(|(_, d)| (d[0], d[1]))
        .collect()
}

/// The ordering attack with a wrong secret: the console must close, and
/// nothing sent with or after the bad response may get anywhere.
fn wrong_secret_attack(
    r: &mut Report,
    lab: &Lab,
    state: &Path,
    user: &str,
    auth: &str,
    listeners: &[&Listeners],
) {
    let (me, console_ip, alias) = (ip4("10.99.0.2"), ip4("10.99.0.1"), ip4("10.99.0.11"));
    let mut h = Hostile::new(user, b"0123456789abcdef0123456789abcdef");
    let mut console = console_on_line(lab, state, &h, &ifname_template());
    let before = snapshots(listeners);
    let (c0, l0) = (snmp(&lab.console), snmp(&lab.lpar1));
    h.piggyback_on_auth(premature_frames(me, console_ip, alias));
    h.start();
    let wrote = h.pump_until(Duration::from_secs(20), |h| h.piggyback_write.is_some());
    assert!(
        wrote,
        "{auth}: the caller's link never sent its authentication: {:?}",
        h.events
    );
    // Right after the one write: more IP.
    h.send_frames(&[
        (proto::IPV4, hostile::tcp_syn(me, 42001, alias, LPAR_PORT)),
        (
            proto::IPV4,
            hostile::udp(me, 42001, alias, LPAR_PORT, b"right after"),
        ),
    ]);
    let code = pump_until_exit(&mut h, &mut console, Duration::from_secs(20));
    let got = h.pump(Duration::from_millis(300));
    std::thread::sleep(Duration::from_millis(100));
    let (c1, l1) = (snmp(&lab.console), snmp(&lab.lpar1));
    let (asked, took) = h.piggyback_write.unwrap();
    let ipcp = console_ipcp(&h);
    let ip_answers: Vec<String> = got.iter().map(|(p, d)| describe(*p, d)).collect();
    let counted = counted_since(listeners, &before);
    let deltas = [
        delta(&c1, &c0, "Udp.InDatagrams"),
        delta(&c1, &c0, "Tcp.InSegs"),
        delta(&l1, &l0, "Ip.InReceives"),
    ];
    let arrived = format!(
        "console Udp.InDatagrams +{}, Tcp.InSegs +{}; lpar1 Ip.InReceives +{}",
        deltas[0], deltas[1], deltas[2]
    );
    let ipcp_up = console.events_named("ipcp-up").count();
    r.row(
        "ordering",
        &format!("{auth} wrong secret + IPCP + IP in one write"),
        6 + 2,
        ip_answers.len(),
        &format!(
            "one write of {asked} octets took {took}; console IPCP packets {ipcp:?}; ipcp-up {ipcp_up}; exit {code:?}"
        ),
    );
    r.check(took == asked, || {
        format!("HARNESS: the ordering write took {took} of {asked} octets")
    });
    r.check(ipcp.is_empty() && ipcp_up == 0 && !h.ip_up(), || {
        format!(
            "ORDERING ({auth}, wrong secret): the console ran IPCP with a caller that failed authentication: its IPCP packets (code, id) {ipcp:?}, ipcp-up events {ipcp_up}"
        )
    });
    r.check(ip_answers.is_empty() && counted.is_empty(), || {
        format!(
            "ORDERING ({auth}, wrong secret): IP from an unauthenticated caller got answers {ip_answers:?} / was counted {counted:?}"
        )
    });
    r.check(deltas == [0; 3], || {
        format!(
            "ORDERING ({auth}, wrong secret): IP from an unauthenticated caller arrived: {arrived}"
        )
    });
    r.check(code == Some(11), || {
        format!("ORDERING ({auth}, wrong secret): the console exited {code:?}, want 11 (peer auth failed)")
    });
    let status = lab.status(state);
    r.check(status["state"] == "enabled", || {
        format!(
            "ORDERING ({auth}, wrong secret): the enablement is {} after a failed caller, want enabled",
            status["state"]
        )
    });
}

#[test]
fn wrong_secret_with_ncp_in_the_same_write_never_gets_ip() {
    let _serial = one_at_a_time();
    let Some((lab, mut r)) = Lab::with_report(
        "atk-order",
        "wrong_secret_with_ncp_in_the_same_write_never_gets_ip",
    ) else {
        return;
    };
    let cl = console_listeners(&lab);
    let l1 = lpar_listeners(&lab.lpar1);
    let chap = lab.state("chap");
    let (user, secret) = lab.enable_lpar1(&chap, true, "chap", &[]);
    wrong_secret_attack(&mut r, &lab, &chap, &user, "CHAP", &[&cl, &l1]);
    let pap = lab.state("pap");
    let (pap_user, _) = lab.enable_lpar1(&pap, true, "pap", &[]);
    wrong_secret_attack(&mut r, &lab, &pap, &pap_user, "PAP", &[&cl, &l1]);

    // The right secret, the same premature frames in the same write: they
    // are discarded, and IPCP then negotiates as usual.
    let (me, console_ip, alias) = (ip4("10.99.0.2"), ip4("10.99.0.1"), ip4("10.99.0.11"));
    if lab.status(&chap)["state"] != "enabled" {
        r.note("re-enabled for the right-secret run: the wrong-secret run used the call up");
    }
    let (user, secret) = if lab.status(&chap)["state"] == "enabled" {
        (user, secret)
    } else {
        lab.enable_lpar1(&chap, true, "chap", &[])
    };
    let mut h = Hostile::new(&user, secret.as_bytes());
    let mut console = console_on_line(&lab, &chap, &h, &ifname_template());
    let udp0 = l1.count(Family::V4, L4::Udp, LPAR_PORT);
    let cudp0 = cl.count(Family::V4, L4::Udp, 2300);
    h.piggyback_on_auth(premature_frames(me, console_ip, alias));
    h.start();
    let ev = pump_for_event(
        &mut h,
        &mut console,
        "ip-interface",
        Duration::from_secs(30),
    );
    let up = ev.is_some() && h.pump_until(Duration::from_secs(10), |h| h.ip_up());
    // Let any renegotiation the premature frames set off play out.
    h.pump(Duration::from_secs(4));
    drain(&mut console);
    let ipcp = console_ipcp(&h);
    let answered_premature: Vec<(u8, u8)> = ipcp
        .iter()
        .filter(|(_, id)| *id == PREMATURE_ID)
        .copied()
        .collect();
    let ups = console.events_named("ipcp-up").count();
    let downs = console.events_named("ipcp-down").count();
    let premature_udp = l1.count(Family::V4, L4::Udp, LPAR_PORT) - udp0
        + cl.count(Family::V4, L4::Udp, 2300)
        - cudp0;
    r.row(
        "ordering",
        "CHAP right secret + IPCP + IP in one write",
        6,
        answered_premature.len(),
        &format!(
            "console IPCP packets (code, id) {ipcp:?}; ipcp-up {ups}, ipcp-down {downs}; write {:?}",
            h.piggyback_write
        ),
    );
    r.check(up, || {
        format!(
            "ORDERING (right secret): the call did not come up after premature NCP frames: console {:?}",
            console.seen
        )
    });
    r.check(answered_premature.is_empty(), || {
        format!(
            "ORDERING (right secret): the console answered the IPCP Configure-Request that came in the same write as the CHAP Response: {answered_premature:?}"
        )
    });
    r.check(ups == 1 && downs == 0, || {
        format!(
            "ORDERING (right secret): premature IPCP frames were negotiated: the console's IPCP went up {ups} times and down {downs} times"
        )
    });
    r.check(premature_udp == 0, || {
        format!("ORDERING (right secret): {premature_udp} datagrams sent before authentication finished arrived")
    });
    if up {
        let mut call = Call {
            console,
            caller: h,
            local: console_ip,
            remote: me,
            ifname: String::new(),
        };
        // The call carries IP: the console's ssh port answers (a port
        // open with and without a working firewall, so this judges the
        // ordering alone; the partition's NAT is tested elsewhere).
        let t0 = Instant::now();
        let s = call.caller.tcp_scan(me, console_ip, &[22]);
        r.scan("ipv4/tcp", &s, t0.elapsed());
        r.check(s.open.contains(&22), || {
            format!(
                "ORDERING (right secret): the call does not carry IP afterwards: {console_ip}:22 {}",
                s.answers()
            )
        });
        hang_up(&mut r, &mut call);
    }
    r.finish();
}

/// Test 10: a TCP connection to a console listener, opened in call 1 (with
/// console access), outlives call 1 on the console's side. Call 2, from
/// the same address but enabled without console access, resumes it with
/// the right sequence numbers: no segment reaches the listener, none is
/// answered.
#[test]
fn a_tcp_session_from_an_earlier_call_does_not_carry_over() {
    let _serial = one_at_a_time();
    let Some((lab, mut r)) = Lab::with_report(
        "atk-carry",
        "a_tcp_session_from_an_earlier_call_does_not_carry_over",
    ) else {
        return;
    };
    let held = support::listen::Held::start(lab.console.name(), 22);
    let state = lab.state("state");
    let (user, secret) = lab.enable_lpar1(&state, true, "chap", &[]);
    let mut call = call_up(&lab, &state, &user, &secret, &ifname_template());
    let (me, console) = (call.remote, call.local);
    let sport = call.caller.fresh_port();
    let isn = 0x1000_0000u32;
    call.caller
        .send_ip::<Ipv4Addr>(&hostile::tcp(me, sport, console, 22, isn, 0, 0x02));
    let mut server_isn = None;
    let end = Instant::now() + Duration::from_secs(5);
    while server_isn.is_none() && Instant::now() < end {
        for (_, p) in call.caller.pump_some(Duration::from_millis(100)) {
            if let Some(t) = hostile::parse_tcp4(&p) {
                if t.sport == 22
                    && t.dport == sport
                    && t.flags & hostile::SYN_ACK == hostile::SYN_ACK
                {
                    server_isn = Some(t.seq);
                }
            }
        }
    }
    let y = server_isn.expect("the console's listener did not answer the SYN in call 1");
    let (seq, ack) = (isn.wrapping_add(1), y.wrapping_add(1));
    call.caller.send_ip::<Ipv4Addr>(&hostile::tcp(
        me,
        sport,
        console,
        22,
        seq,
        ack,
        hostile::ACK,
    ));
    let hello = b"hello";
    call.caller.send_ip::<Ipv4Addr>(&hostile::tcp_data(
        me,
        sport,
        console,
        22,
        (seq, ack, hostile::ACK | 0x08),
        hello,
    ));
    let end = Instant::now() + Duration::from_secs(5);
    while held.counts().1 < hello.len() as u64 && Instant::now() < end {
        call.caller.pump_some(Duration::from_millis(50));
    }
    let in_call1 = held.counts();
    r.row(
        "ipv4/tcp",
        "session to :22 in call 1",
        1,
        in_call1.0 as usize,
        &format!("{} octets reached the listener", in_call1.1),
    );
    assert_eq!(
        in_call1,
        (1, hello.len() as u64),
        "HARNESS: the session did not reach the listener in call 1"
    );
    hang_up(&mut r, &mut call);
    drop(call);

    // Call 2: same addresses, no console access.
    let (user, secret) = lab.enable_lpar1(&state, false, "chap", &[]);
    let mut call = call_up(&lab, &state, &user, &secret, &ifname_template());
    assert_eq!((call.remote, call.local), (me, console));
    let seq = seq.wrapping_add(hello.len() as u32);
    let again = b"again, from call 2";
    let mut answered = Vec::new();
    for (i, flags) in [hostile::ACK | 0x08, hostile::ACK, hostile::ACK | 0x01]
        .into_iter()
        .enumerate()
    {
        let data: &[u8] = if i == 0 { again } else { &[] };
        call.caller.send_ip::<Ipv4Addr>(&hostile::tcp_data(
            me,
            sport,
            console,
            22,
            (seq, ack, flags),
            data,
        ));
        for (_, p) in call.caller.pump(Duration::from_secs(1)) {
            if let Some(t) = hostile::parse_tcp4(&p) {
                if t.sport == 22 && t.dport == sport {
                    answered.push(format!("{:#04x} seq {} ack {}", t.flags, t.seq, t.ack));
                }
            }
        }
    }
    let in_call2 = held.counts();
    r.row(
        "ipv4/tcp",
        "same session in call 2",
        3,
        answered.len(),
        &format!(
            "{} more octets reached the listener",
            in_call2.1 - in_call1.1
        ),
    );
    r.check(in_call2 == in_call1, || {
        format!("CARRY-OVER: call 2 resumed call 1's session: the listener went from {in_call1:?} to {in_call2:?} (connections, octets)")
    });
    r.check(answered.is_empty(), || {
        format!(
            "CARRY-OVER: the console answered call 2's segments of call 1's session: {answered:?}"
        )
    });
    hang_up(&mut r, &mut call);
    let stats = call.console.events_named("stats").last().cloned();
    let closed = stats
        .as_ref()
        .and_then(|s| s["ip"]["policy"]["from-caller"]["console-closed"].as_u64())
        .unwrap_or(0);
    r.note(format!(
        "call 2's policy: {:?}",
        stats.map(|s| s["ip"].clone())
    ));
    r.check(closed >= 3, || {
        format!("CARRY-OVER: call 2's policy counted {closed} datagrams to the closed console, want the 3 segments")
    });
    r.finish();
}
