//! CCP (RFC 1962) with Deflate (RFC 1979) and BSD-Compress (RFC 1977) on
//! two sans-IO lines wired back to back: what each way agrees, datagrams
//! through the compressors, loss mended by Reset-Request/Reset-Ack, a
//! peer without CCP, and garbage that ends compression, not the link.

use std::net::Ipv4Addr;
use std::time::Duration;

use carrier::ppp::ccp::{self, CcpConfig, Method, Sizes};
use carrier::ppp::link::{Event, Frame, LinkConfig};
use carrier::ppp::proto;

mod support;
use support::linkpair::{frame_bytes, LinePair};

fn server(ccp: Option<CcpConfig>) -> LinkConfig {
    let mut c = LinkConfig::pppd();
    c.ipcp.local = Some(Ipv4Addr::new(10, 0, 0, 1));
    c.ipcp.remote = Some(Ipv4Addr::new(10, 0, 0, 2));
    c.ccp = ccp;
    c
}

fn client(ccp: Option<CcpConfig>) -> LinkConfig {
    LinkConfig {
        ccp,
        ..LinkConfig::pppd()
    }
}

fn up(a: LinkConfig, b: LinkConfig) -> LinePair {
    let mut p = LinePair::new(a, b);
    p.start();
    p.run_clean(Duration::from_secs(30));
    assert!(
        p.a.link().is_ip_up() && p.b.link().is_ip_up(),
        "{:?} {:?}",
        p.a,
        p.b
    );
    p
}

fn ccp_up(ev: &[Event]) -> Option<(Option<Method>, Option<Method>)> {
    ev.iter().find_map(|e| match e {
        Event::CcpUp { tx, rx } => Some((*tx, *rx)),
        _ => None,
    })
}

/// A UDP datagram from 10.0.0.2 to 10.0.0.1 carrying `payload`.
fn udp(payload: &[u8]) -> Vec<u8> {
    support::packet::udp4([10, 0, 0, 2], [10, 0, 0, 1], payload)
}

/// The console's call-home text: log lines and an XML problem report.
fn call_home(i: usize) -> Vec<u8> {
    let mut s = String::new();
    while s.len() < 1200 {
        s.push_str(&format!(
            "2026-12-03T17:{:02}:{:02} hmc1 rcs[{}]: <problem id=\"{}\" sev=\"warn\">fan {} slow</problem>\n",
            i % 60,
            s.len() % 60,
            1000 + i,
            i * 7,
            i % 4
        ));
    }
    s.truncate(1200);
    s.into_bytes()
}

fn noise(seed: &mut u64, n: usize) -> Vec<u8> {
    (0..n)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            (*seed >> 24) as u8
        })
        .collect()
}

/// Sends `d` from a to b as the session would, through `filter`; returns
/// the wire protocol and what b delivered.
fn a_to_b(p: &mut LinePair, d: &[u8], keep: bool) -> (u16, Option<Vec<u8>>) {
    let f = p.send_ip(true, d).expect("a may send");
    let got = keep
        .then(|| p.handle_frame(false, &frame_bytes(&f)))
        .flatten();
    // Control frames the datagram caused (a Reset-Request, say).
    p.run_clean(Duration::from_secs(5));
    (f.protocol, got)
}

const DEFLATE15: Method = Method::Deflate {
    bits: 15,
    draft: false,
};

#[test]
fn pppds_defaults_agree_on_deflate_15_and_text_shrinks_fourfold() {
    let mut p = up(
        server(Some(CcpConfig::default())),
        client(Some(CcpConfig::default())),
    );
    assert_eq!(ccp_up(&p.ev_a), Some((Some(DEFLATE15), Some(DEFLATE15))));
    assert_eq!(ccp_up(&p.ev_b), Some((Some(DEFLATE15), Some(DEFLATE15))));
    let mut wire = 0;
    let mut plain = 0;
    for i in 0..200 {
        let d = udp(&call_home(i));
        let (protocol, got) = a_to_b(&mut p, &d, true);
        assert_eq!(protocol, ccp::COMPRESSED, "datagram {i}");
        assert_eq!(got.as_deref(), Some(&d[..]), "datagram {i}");
        plain += d.len();
        wire += p.a.link().stats().ccp.octets_after as usize - wire;
    }
    let s = p.a.link().stats().ccp;
    assert_eq!(s.compressed_out, 200);
    assert!(wire * 4 < plain, "{wire} octets for {plain}");
    assert_eq!(p.b.link().stats().ccp.compressed_in, 200);
    assert_eq!(p.b.link().stats().ccp.decompress_errors, 0);
    assert_eq!(p.b.link().stats().ip_in, 200);
}

#[test]
fn bsd_compress_alone_and_incompressible_datagrams_between() {
    let bsd = CcpConfig {
        deflate: None,
        ..CcpConfig::default()
    };
    let mut p = up(server(Some(bsd)), client(Some(bsd)));
    let bsd15 = Method::BsdCompress { bits: 15 };
    assert_eq!(ccp_up(&p.ev_a), Some((Some(bsd15), Some(bsd15))));
    let mut seed = 0x1234_5678_9abc_def1;
    for i in 0..300 {
        let d = if i % 5 == 2 {
            udp(&noise(&mut seed, 1000))
        } else {
            udp(&call_home(i))
        };
        let (protocol, got) = a_to_b(&mut p, &d, true);
        let want = if i % 5 == 2 {
            proto::IPV4
        } else {
            ccp::COMPRESSED
        };
        assert_eq!(protocol, want, "datagram {i}");
        assert_eq!(got.as_deref(), Some(&d[..]), "datagram {i}");
    }
    assert_eq!(p.a.link().stats().ccp.incompressible_out, 60);
    assert_eq!(p.b.link().stats().ccp.decompress_errors, 0);
}

#[test]
fn a_smaller_window_is_naked_and_used() {
    // a compresses with at most 2^12; b asks for 15 and is Nak'ed.
    let a = CcpConfig {
        deflate: Some(Sizes { rx: 15, tx: 12 }),
        ..CcpConfig::default()
    };
    let mut p = up(server(Some(a)), client(Some(CcpConfig::default())));
    let (tx, rx) = ccp_up(&p.ev_a).unwrap();
    assert_eq!(
        tx,
        Some(Method::Deflate {
            bits: 12,
            draft: false
        })
    );
    assert_eq!(rx, Some(DEFLATE15));
    for i in 0..50 {
        let d = udp(&call_home(i));
        assert_eq!(a_to_b(&mut p, &d, true).1.as_deref(), Some(&d[..]));
    }
}

#[test]
fn no_common_method_opens_ccp_with_nothing_and_ip_flows_plain() {
    let only_deflate = CcpConfig {
        bsd: None,
        ..CcpConfig::default()
    };
    let only_bsd = CcpConfig {
        deflate: None,
        ..CcpConfig::default()
    };
    let mut p = up(server(Some(only_deflate)), client(Some(only_bsd)));
    assert_eq!(ccp_up(&p.ev_a), Some((None, None)));
    assert_eq!(ccp_up(&p.ev_b), Some((None, None)));
    let d = udp(&call_home(1));
    assert_eq!(a_to_b(&mut p, &d, true), (proto::IPV4, Some(d.clone())));
}

#[test]
fn a_peer_without_ccp_rejects_it_and_the_link_carries_on() {
    let mut p = up(server(Some(CcpConfig::default())), client(None));
    assert_eq!(ccp_up(&p.ev_a), None);
    assert!(p.b.link().stats().protocol_rejected >= 1);
    assert!(p.a.link().compression() == (None, None));
    let d = udp(&call_home(2));
    assert_eq!(a_to_b(&mut p, &d, true), (proto::IPV4, Some(d.clone())));
    assert!(p.a.link().is_ip_up());
}

#[test]
fn a_lost_compressed_frame_is_mended_by_reset_request_and_ack() {
    for cfg in [
        CcpConfig::default(),
        CcpConfig {
            deflate: None,
            ..CcpConfig::default()
        },
    ] {
        let mut p = up(server(Some(cfg)), client(Some(cfg)));
        for i in 0..5 {
            let d = udp(&call_home(i));
            assert!(a_to_b(&mut p, &d, true).1.is_some());
        }
        // One lost on the line; the next is out of sequence.
        let (_, got) = a_to_b(&mut p, &udp(&call_home(5)), false);
        assert_eq!(got, None);
        let d = udp(&call_home(6));
        let (protocol, got) = a_to_b(&mut p, &d, true);
        assert_eq!((protocol, got), (ccp::COMPRESSED, None));
        let sb = p.b.link().stats().ccp;
        assert_eq!(sb.decompress_errors, 1);
        assert_eq!(sb.reset_requests_sent, 1);
        assert_eq!(p.a.link().stats().ccp.reset_requests_in, 1);
        assert_eq!(sb.reset_acks_in, 1);
        // Both started afresh: everything after arrives.
        for i in 7..40 {
            let d = udp(&call_home(i));
            let (protocol, got) = a_to_b(&mut p, &d, true);
            assert_eq!(protocol, ccp::COMPRESSED);
            assert_eq!(got.as_deref(), Some(&d[..]), "datagram {i} after the reset");
        }
        assert_eq!(p.b.link().stats().ccp.decompress_errors, 1);
        assert!(p.a.link().is_ip_up() && p.b.link().is_ip_up());
    }
}

#[test]
fn garbage_in_a_compressed_frame_ends_ccp_not_the_link() {
    let mut p = up(
        server(Some(CcpConfig::default())),
        client(Some(CcpConfig::default())),
    );
    // The right sequence number, then data no deflate stream holds.
    let bad = Frame {
        protocol: ccp::COMPRESSED,
        data: vec![0, 0, 0xff, 0xfe, 0xfd, 0x13, 0x37],
    };
    assert_eq!(p.handle_frame(false, &frame_bytes(&bad)), None);
    p.run_clean(Duration::from_secs(10));
    assert_eq!(p.b.link().stats().ccp.fatal, 1);
    assert!(p.ev_b.iter().any(|e| matches!(e, Event::CcpDown)));
    assert_eq!(p.a.link().compression(), (None, None));
    assert_eq!(p.b.link().compression(), (None, None));
    let d = udp(&call_home(3));
    assert_eq!(a_to_b(&mut p, &d, true), (proto::IPV4, Some(d.clone())));
    assert!(p.a.link().is_ip_up() && p.b.link().is_ip_up());
}

#[test]
fn compressed_frames_to_a_link_without_ccp_are_protocol_rejected() {
    let mut p = up(server(None), client(None));
    let z = Frame {
        protocol: ccp::COMPRESSED,
        data: vec![0, 0, 1, 2, 3],
    };
    let rejected = p.b.link().stats().protocol_rejected;
    assert_eq!(p.handle_frame(false, &frame_bytes(&z)), None);
    assert_eq!(p.b.link().stats().protocol_rejected, rejected + 1);
    p.run_clean(Duration::from_secs(5));
    assert!(p.a.link().is_ip_up() && p.b.link().is_ip_up());
}

/// RFC 1962 §3: nothing goes out compressed before CCP is Opened, though
/// the compressor runs from our Ack so both histories agree after.
#[test]
fn nothing_is_sent_compressed_before_ccp_opens() {
    let mut p = LinePair::new(
        server(Some(CcpConfig::default())),
        client(Some(CcpConfig::default())),
    );
    p.start();
    // b's Ack of a's CCP request is lost: a has Acked b's request (its
    // compressor runs) but is not Opened until b's request is repeated.
    let mut dropped = false;
    p.run(Duration::from_millis(500), |from_a, f| {
        let ack = !from_a && f.protocol == proto::CCP && f.data.first() == Some(&2);
        if ack && !dropped {
            dropped = true;
            return false;
        }
        true
    });
    assert!(dropped);
    assert!(p.a.link().is_ip_up() && p.a.link().ccp_state() != carrier::ppp::fsm::State::Opened);
    assert!(
        p.a.link().compression().0.is_some(),
        "a's compressor runs from its Ack"
    );
    let early: Vec<Vec<u8>> = (0..3).map(|i| udp(&call_home(i))).collect();
    for d in &early {
        // No clock here: a's CCP timer must not fire in between.
        let f = p.send_ip(true, d).expect("a may send");
        assert_eq!(f.protocol, proto::IPV4);
        assert_eq!(p.handle_frame(false, &frame_bytes(&f)), Some(d.clone()));
    }
    assert_eq!(p.a.link().stats().ccp.before_open_out, 3);
    // Once a's request is answered, the datagrams go compressed and b,
    // whose history took the early ones in, reads them.
    p.run_clean(Duration::from_secs(10));
    assert_eq!(p.a.link().ccp_state(), carrier::ppp::fsm::State::Opened);
    for i in 3..10 {
        let d = udp(&call_home(i));
        let (protocol, got) = a_to_b(&mut p, &d, true);
        assert_eq!(protocol, ccp::COMPRESSED);
        assert_eq!(got.as_deref(), Some(&d[..]), "datagram {i}");
    }
    assert_eq!(p.b.link().stats().ccp.decompress_errors, 0);
}

/// The boundary holds inside 0x00fd too: a compressed IPv6 datagram on a
/// link without IPv6CP, and IPv6 dressed as IPv4, are dropped and
/// counted, never delivered.
#[test]
fn a_compressed_frame_carries_nothing_an_uncompressed_one_could_not() {
    let mut p = up(
        server(Some(CcpConfig::default())),
        client(Some(CcpConfig::default())),
    );
    // b decompresses with Deflate 15 from sequence 0: a compressor of our
    // own in the same state speaks to it as a would.
    let mut z = carrier::ppp::compress::Compressor::new(DEFLATE15);
    let mut s = carrier::ppp::compress::CcpStats::default();
    let mut v6 = vec![0u8; 40 + 200];
    v6[0] = 0x60;
    v6[4..6].copy_from_slice(&200u16.to_be_bytes());
    v6[6] = 17;
    v6[7] = 64;
    let dropped = p.b.link().stats().ip_in_dropped;
    for (protocol, d) in [(proto::IPV6, &v6), (proto::IPV4, &v6)] {
        let data = z
            .compress(protocol, d, true, &mut s)
            .expect("compressible")
            .to_vec();
        let f = Frame {
            protocol: ccp::COMPRESSED,
            data,
        };
        assert_eq!(p.handle_frame(false, &frame_bytes(&f)), None);
    }
    assert_eq!(p.b.link().stats().ip_in_dropped, dropped + 2);
    assert_eq!(p.b.link().stats().ccp.compressed_in, 2);
    assert_eq!(p.b.link().stats().ccp.decompress_errors, 0);
    assert_eq!(p.b.link().stats().ipv6_in, 0);
}
