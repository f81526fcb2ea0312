//! IPv6CP (RFC 5072) on two sans-IO lines wired back to back: both
//! families together, IPv6 alone, a peer without IPv6, identifier
//! collisions, and datagrams of an unopened family dropped both ways.

use std::net::Ipv4Addr;
use std::time::Duration;

use carrier::ppp::ipv6cp::{opt, InterfaceId, Ipv6cpConfig};
use carrier::ppp::link::{Event, LinkConfig};

mod support;
use carrier::ppp::{proto, DownReason};
use support::linkpair::LinePair;

/// A pair already started.
fn pair(a: LinkConfig, b: LinkConfig) -> LinePair {
    let mut p = LinePair::new(a, b);
    p.start();
    p
}

fn v6_up(ev: &[Event]) -> Option<(InterfaceId, InterfaceId)> {
    ev.iter().find_map(|e| match e {
        Event::Ipv6Up { local, peer } => Some((*local, *peer)),
        _ => None,
    })
}

fn id(n: u8) -> InterfaceId {
    InterfaceId([0, 0, 0, 0, 0, 0, 0, n])
}

fn server() -> LinkConfig {
    let mut c = LinkConfig::default();
    c.ipcp.local = Some(Ipv4Addr::new(10, 0, 0, 1));
    c.ipcp.remote = Some(Ipv4Addr::new(10, 0, 0, 2));
    c
}

fn with_v6(mut c: LinkConfig, v6: Ipv6cpConfig) -> LinkConfig {
    c.ipv6 = Some(v6);
    c
}

/// A minimal IPv6 datagram: ICMPv6 echo request, payload `n` octets.
fn ipv6_packet(n: usize) -> Vec<u8> {
    let mut p = vec![0u8; 40 + 8 + n];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&((8 + n) as u16).to_be_bytes());
    p[6] = 58;
    p[7] = 64;
    p[8] = 0xfe;
    p[9] = 0x80;
    p[23] = 1;
    p[24] = 0xfe;
    p[25] = 0x80;
    p[39] = 2;
    p[40] = 128;
    p
}

fn ipv4_packet() -> Vec<u8> {
    let mut p = vec![0u8; 28];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&28u16.to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&[10, 0, 0, 2]);
    p[16..20].copy_from_slice(&[10, 0, 0, 1]);
    p
}

#[test]
fn both_families_come_up_with_random_distinct_identifiers() {
    let mut p = pair(
        with_v6(server(), Ipv6cpConfig::default()),
        with_v6(LinkConfig::default(), Ipv6cpConfig::default()),
    );
    p.run_clean(Duration::from_secs(30));
    let (a_local, a_peer) = v6_up(&p.ev_a).expect("IPv6 up on a");
    let (b_local, b_peer) = v6_up(&p.ev_b).expect("IPv6 up on b");
    assert_eq!((a_local, a_peer), (b_peer, b_local));
    assert!(!a_local.is_zero() && !b_local.is_zero() && a_local != b_local);
    assert!(p.a.link().is_ip_up() && p.b.link().is_ip_up());
    assert!(p.a.link().is_ipv6_up() && p.b.link().is_ipv6_up());

    // IPv6 flows as 0x0057 both ways, IPv4 as 0x0021.
    let d6 = ipv6_packet(16);
    let prot = p.send_ip(true, &d6).expect("IPv6 goes out").protocol;
    assert_eq!(prot, proto::IPV6);
    let mut f = vec![0xff, 0x03, 0x00, 0x57];
    f.extend_from_slice(&d6);
    assert_eq!(p.handle_frame(false, &f), Some(d6.clone()));
    assert_eq!(p.b.link().stats().ipv6_in, 1);
    assert_eq!(p.a.link().stats().ipv6_out, 1);
    let d4 = ipv4_packet();
    assert_eq!(p.send_ip(false, &d4).map(|x| x.protocol), Some(proto::IPV4));
}

#[test]
fn ipv6_alone_with_noip_and_fixed_identifiers() {
    let mut a = with_v6(
        LinkConfig::default(),
        Ipv6cpConfig {
            local: Some(id(1)),
            remote: Some(id(2)),
            ..Default::default()
        },
    );
    a.noip = true;
    let mut b = with_v6(LinkConfig::default(), Ipv6cpConfig::default());
    b.noip = true;
    let mut p = pair(a, b);
    p.run_clean(Duration::from_secs(30));
    // b's random identifier was Nak'ed into the one a fixed for it.
    assert_eq!(v6_up(&p.ev_a), Some((id(1), id(2))));
    assert_eq!(v6_up(&p.ev_b), Some((id(2), id(1))));
    assert!(!p.a.link().is_ip_up() && p.a.link().is_ipv6_up());
    // No IPCP on the wire at all.
    assert!(p.wire.iter().all(|(_, f)| f.protocol != proto::IPCP));
    // IPv4 is not run at all: dropped on the way out, and rejected as a
    // protocol on the way in (RFC 1661 §5.7), never delivered.
    assert_eq!(p.send_ip(true, &ipv4_packet()), None);
    assert_eq!(p.a.link().stats().ip_out_dropped, 1);
    let mut f = vec![0xff, 0x03, 0x00, 0x21];
    f.extend_from_slice(&ipv4_packet());
    let rejected = p.a.link().stats().protocol_rejected;
    assert_eq!(p.handle_frame(true, &f), None);
    assert_eq!(p.a.link().stats().protocol_rejected, rejected + 1);
    assert_eq!(p.a.link().stats().ip_in, 0);
}

#[test]
fn a_peer_without_ipv6_rejects_the_protocol_and_ipv4_carries_on() {
    let mut p = pair(
        with_v6(server(), Ipv6cpConfig::default()),
        LinkConfig::default(),
    );
    p.run_clean(Duration::from_secs(30));
    assert!(p.a.link().is_ip_up() && p.b.link().is_ip_up());
    assert!(!p.a.link().is_ipv6_up());
    assert!(v6_up(&p.ev_a).is_none());
    // b answered IPv6CP with a Protocol-Reject (LCP code 8).
    let rejected = p.wire.iter().any(|(from_a, f)| {
        !from_a && f.protocol == proto::LCP && f.data[0] == 8 && f.data[4..6] == [0x80, 0x57]
    });
    assert!(rejected, "no Protocol-Reject of IPv6CP");
    // The link stays up: no Down at all.
    assert!(!p.ev_a.iter().any(|e| matches!(e, Event::Down { .. })));
    // IPv6 from the host is dropped, not sent as anything.
    assert_eq!(p.send_ip(true, &ipv6_packet(4)), None);
    assert_eq!(p.a.link().stats().ip_out_dropped, 1);
}

#[test]
fn ipv6_alone_against_a_peer_without_it_ends_with_no_network_protocols() {
    let mut a = with_v6(LinkConfig::default(), Ipv6cpConfig::default());
    a.noip = true;
    let mut p = pair(a, server());
    p.run_clean(Duration::from_secs(60));
    let reason = p.ev_a.iter().find_map(|e| match e {
        Event::Down { reason } => Some(*reason),
        _ => None,
    });
    assert_eq!(reason, Some(DownReason::NoNetworkProtocols));
}

#[test]
fn the_same_identifier_on_both_ends_is_resolved_by_a_nak() {
    let same = Ipv6cpConfig {
        local: Some(id(7)),
        ..Default::default()
    };
    let mut b = same;
    b.accept_local = true;
    let mut p = pair(with_v6(server(), same), with_v6(LinkConfig::default(), b));
    p.run_clean(Duration::from_secs(30));
    let naks = p
        .wire
        .iter()
        .filter(|(_, f)| f.protocol == proto::IPV6CP && f.data[0] == 3)
        .count();
    assert!(naks >= 1, "no Configure-Nak");
    let (a_local, a_peer) = v6_up(&p.ev_a).expect("IPv6 up");
    assert_eq!(a_local, id(7));
    assert_ne!(a_peer, id(7));
    assert!(!a_peer.is_zero());
}

#[test]
fn ipv6_frames_before_ipv6cp_opens_are_dropped() {
    let mut p = pair(
        with_v6(server(), Ipv6cpConfig::default()),
        LinkConfig::default(),
    );
    p.run_clean(Duration::from_secs(30));
    let mut f = vec![0xff, 0x03, 0x00, 0x57];
    f.extend_from_slice(&ipv6_packet(8));
    assert_eq!(p.handle_frame(true, &f), None);
    assert!(p.a.link().stats().ip_in_dropped >= 1);
    // An IPv4 datagram dressed as IPv6 is dropped even with IPv6 open.
    let mut q = pair(
        with_v6(server(), Ipv6cpConfig::default()),
        with_v6(LinkConfig::default(), Ipv6cpConfig::default()),
    );
    q.run_clean(Duration::from_secs(30));
    let mut g = vec![0xff, 0x03, 0x00, 0x57];
    g.extend_from_slice(&ipv4_packet());
    assert_eq!(q.handle_frame(true, &g), None);
    assert_eq!(q.a.link().stats().ip_in_dropped, 1);
    assert_eq!(q.a.link().stats().ipv6_in, 0);
}

#[test]
fn an_identifier_option_with_a_lying_length_is_rejected() {
    let mut p = pair(
        with_v6(server(), Ipv6cpConfig::default()),
        with_v6(LinkConfig::default(), Ipv6cpConfig::default()),
    );
    p.run_clean(Duration::from_secs(30));
    assert!(p.a.link().is_ipv6_up());
    // A renegotiation from the peer with a 6-octet identifier.
    let bad = [1u8, 0x42, 0, 10, opt::INTERFACE_ID, 6, 1, 2, 3, 4];
    let mut f = vec![0xff, 0x03, 0x80, 0x57];
    f.extend_from_slice(&bad);
    p.handle_frame(true, &f);
    let reply = p
        .poll_transmit(true)
        .into_iter()
        .find(|f| f.protocol == proto::IPV6CP && f.data[1] == 0x42)
        .expect("an answer");
    assert_eq!(reply.data[0], 4, "Configure-Reject");
}
