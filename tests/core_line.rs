//! The sans-IO `Line` (HDLC codec + link) that the session feeds: two of
//! them joined by nothing but octets, with a fake clock.

use std::net::Ipv4Addr;
use std::time::Duration;

use bytes::BytesMut;
use carrier::ppp::activity::Direction;
use carrier::ppp::link::{Event, LinkConfig};

mod support;
use support::linkpair::LinePair;

/// Two lines up by octets alone, the clock still.
fn pair() -> LinePair {
    let mut a_cfg = LinkConfig::default();
    a_cfg.ipcp.local = Some(Ipv4Addr::new(10, 0, 0, 1));
    a_cfg.ipcp.remote = Some(Ipv4Addr::new(10, 0, 0, 2));
    let mut p = LinePair::new(a_cfg, LinkConfig::default());
    // Each side's burst in one read: the frame behind a Configure-Ack
    // arrives in the same octets as the Ack.
    p.batch = true;
    p.start();
    p.run_clean(Duration::ZERO);
    p
}

/// An IPv4/UDP datagram whose payload holds every control octet.
fn datagram() -> Vec<u8> {
    let payload: Vec<u8> = (0u8..32).chain([0x7d, 0x7e]).collect();
    support::packet::udp4([10, 0, 0, 1], [10, 0, 0, 2], &payload)
}

#[test]
fn two_lines_come_up_on_octets_at_once_and_carry_a_datagram_unchanged() {
    let LinePair {
        mut a,
        mut b,
        now,
        octets: (before, _),
        ..
    } = pair();
    // Up without a single retransmission: the frame right behind the
    // Configure-Ack that opens LCP already comes under ACCM 0, in the same
    // octets, and is decoded so (no control dropped, no runt).
    assert!(a.link().is_ip_up() && b.link().is_ip_up());
    for l in [&a, &b] {
        let f = l.framing_stats();
        assert_eq!((f.accm_dropped, f.discarded()), (0, 0), "{f:?}");
    }
    // Before LCP opened every control octet was escaped (RFC 1662 §7.1).
    assert!(before.windows(2).any(|w| w == [0x7d, 0x20]), "escaped NUL");

    let d = datagram();
    let mut wire = BytesMut::new();
    assert!(a.send_ip(&d, now, None, &mut wire));
    // ACCM 0 both ways now: controls go raw, only 0x7d and 0x7e escaped.
    assert!(
        wire.windows(3).any(|w| w == [0x01, 0x02, 0x03]),
        "{wire:02x?}"
    );
    assert!(!wire.windows(2).any(|w| w == [0x7d, 0x21]), "{wire:02x?}");
    let mut got = Vec::new();
    b.handle_input(&wire, now, None, |x| got.push(x.to_vec()));
    assert_eq!(got, std::slice::from_ref(&d));
    assert_eq!(a.octets().sent, 2 + d.len() as u64);
    assert_eq!(b.octets().rcvd, 2 + d.len() as u64);
}

#[test]
fn the_tap_sees_every_frame_both_ways_and_damage_is_counted() {
    let LinePair {
        mut a, mut b, now, ..
    } = pair();
    let d = datagram();
    let mut seen = Vec::new();
    let mut tap = |dir: Direction, protocol: u16, info: &[u8]| {
        seen.push((dir as u8, protocol, info.len()));
    };
    let mut wire = BytesMut::new();
    assert!(a.send_ip(&d, now, Some(&mut tap), &mut wire));
    let mut good = wire.to_vec();
    b.handle_input(&good, now, Some(&mut tap), |_| {});
    assert_eq!(seen, [(1, 0x0021, d.len()), (0, 0x0021, d.len())]);

    // One octet flipped in the middle: dropped by the FCS, counted, and
    // the link is told (VJ would toss until it resynchronises).
    let bad_before = b.framing_stats().bad_fcs;
    let mid = good.len() / 2;
    good[mid] ^= 0x40;
    let mut got = 0;
    b.handle_input(&good, now, None, |_| got += 1);
    assert_eq!(got, 0);
    assert_eq!(b.framing_stats().bad_fcs, bad_before + 1);
}

#[test]
fn a_datagram_waits_behind_the_control_frames_already_queued() {
    let LinePair {
        mut a, mut b, now, ..
    } = pair();
    // An LCP Echo-Request queued (timeout with echoes would do it; here
    // the link's own close makes a Terminate-Request) before a datagram.
    let later = now + Duration::from_millis(10);
    a.close(carrier::ppp::DownReason::UserRequest, later);
    let mut wire = BytesMut::new();
    a.send_ip(&datagram(), later, None, &mut wire);
    let mut order = Vec::new();
    let mut tap = |_: Direction, protocol: u16, _: &[u8]| order.push(protocol);
    b.handle_input(&wire, later, Some(&mut tap), |_| {});
    assert_eq!(order.first(), Some(&0xc021), "LCP first: {order:04x?}");
    while let Some(ev) = a.poll_event() {
        assert!(!matches!(ev, Event::IpUp { .. }));
    }
}
