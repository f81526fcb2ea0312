//! Two sans-IO lines (HDLC codec and link, as the session drives them)
//! wired back to back with a fake clock: whole negotiations in
//! microseconds, deterministically.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use carrier::line::Line;
use carrier::ppp::auth::{AuthConfig, AuthProto, Secret};
use carrier::ppp::link::{AuthRole, EchoConfig, Event, Frame, LinkConfig};

mod support;
use carrier::ppp::{proto, DownReason, Phase};
use carrier::secrets::SecretsTable;
use support::linkpair::{frame_bytes, LinePair};

fn ip_up(ev: &[Event]) -> Option<(Ipv4Addr, Option<Ipv4Addr>, Vec<Ipv4Addr>)> {
    ev.iter().find_map(|e| match e {
        Event::IpUp {
            local, peer, dns, ..
        } => Some((*local, *peer, dns.clone())),
        _ => None,
    })
}

fn down(ev: &[Event]) -> Option<DownReason> {
    ev.iter().find_map(|e| match e {
        Event::Down { reason } => Some(*reason),
        _ => None,
    })
}

fn server(require: &[AuthProto], secrets: &str) -> LinkConfig {
    let mut c = LinkConfig::pppd();
    c.lcp.require_auth = require.to_vec();
    c.ipcp.local = Some(Ipv4Addr::new(10, 0, 0, 1));
    c.ipcp.remote = Some(Ipv4Addr::new(10, 0, 0, 2));
    c.ipcp.dns = [
        Some(Ipv4Addr::new(10, 0, 0, 53)),
        Some(Ipv4Addr::new(10, 0, 0, 54)),
    ];
    c.auth = AuthConfig {
        name: "server".into(),
        secrets: Arc::new(SecretsTable::parse(secrets, "t".as_ref()).unwrap()),
        ..AuthConfig::default()
    };
    c
}

fn client(user: &str, password: &str) -> LinkConfig {
    let mut c = LinkConfig::pppd();
    c.ipcp.request_dns = true;
    c.auth = AuthConfig {
        name: user.into(),
        password: Some(Secret::new(password)),
        ..AuthConfig::default()
    };
    c
}

#[test]
fn no_auth_comes_up_and_assigns_address_and_dns() {
    let mut p = LinePair::new(client("x", "y"), server(&[], ""));
    p.start();
    p.run_clean(Duration::from_secs(5));
    let (local, peer, dns) = ip_up(&p.ev_a).expect("client IP up");
    assert_eq!(local, Ipv4Addr::new(10, 0, 0, 2));
    assert_eq!(peer, Some(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(
        dns,
        [Ipv4Addr::new(10, 0, 0, 53), Ipv4Addr::new(10, 0, 0, 54)]
    );
    assert_eq!(ip_up(&p.ev_b).unwrap().1, Some(Ipv4Addr::new(10, 0, 0, 2)));
    assert_eq!(p.a.link().phase(), Phase::Network);
    // Negotiated framing: both asked for ACCM 0, PFC and ACFC.
    let f = p.a.link().framing();
    assert_eq!(
        (f.tx_accm, f.rx_accm, f.tx_acfc, f.tx_pfc),
        (0, 0, true, true)
    );
}

#[test]
fn pap_success() {
    let mut p = LinePair::new(
        client("alice", "s3cret"),
        server(&[AuthProto::Pap], "alice * s3cret *\n"),
    );
    p.start();
    p.run_clean(Duration::from_secs(5));
    assert!(p.ev_b.iter().any(|e| matches!(e,
        Event::AuthOk { protocol: AuthProto::Pap, role: AuthRole::Authenticator, peer } if peer == "alice")));
    assert!(p.ev_a.iter().any(|e| matches!(
        e,
        Event::AuthOk {
            role: AuthRole::Peer,
            ..
        }
    )));
    assert!(ip_up(&p.ev_a).is_some());
}

#[test]
fn chap_success() {
    let mut p = LinePair::new(
        client("alice", "s3cret"),
        server(&[AuthProto::ChapMd5], "alice server s3cret *\n"),
    );
    p.start();
    p.run_clean(Duration::from_secs(5));
    assert!(p.ev_b.iter().any(|e| matches!(e,
        Event::AuthOk { protocol: AuthProto::ChapMd5, role: AuthRole::Authenticator, peer } if peer == "alice")));
    assert!(ip_up(&p.ev_a).is_some());
}

#[test]
fn wrong_pap_password_ends_the_link_both_sides() {
    let mut p = LinePair::new(
        client("alice", "wrong"),
        server(&[AuthProto::Pap], "alice * s3cret *\n"),
    );
    p.start();
    p.run_clean(Duration::from_secs(30));
    assert_eq!(down(&p.ev_a), Some(DownReason::AuthFailed));
    assert_eq!(down(&p.ev_b), Some(DownReason::PeerAuthFailed));
    assert_eq!(DownReason::AuthFailed.exit_code(), 19);
    assert_eq!(DownReason::PeerAuthFailed.exit_code(), 11);
    assert!(ip_up(&p.ev_a).is_none());
}

#[test]
fn wrong_chap_secret_ends_the_link() {
    let mut p = LinePair::new(
        client("alice", "wrong"),
        server(&[AuthProto::ChapMd5], "alice server s3cret *\n"),
    );
    p.start();
    p.run_clean(Duration::from_secs(30));
    assert_eq!(down(&p.ev_a), Some(DownReason::AuthFailed));
    assert_eq!(down(&p.ev_b), Some(DownReason::PeerAuthFailed));
}

#[test]
fn client_without_credentials_refuses_auth() {
    let mut c = LinkConfig::pppd();
    c.ipcp.request_dns = true;
    let mut p = LinePair::new(c, server(&[AuthProto::Pap], "alice * s3cret *\n"));
    p.start();
    p.run_clean(Duration::from_secs(60));
    assert_eq!(down(&p.ev_b), Some(DownReason::PeerAuthFailed));
    assert!(ip_up(&p.ev_a).is_none());
}

#[test]
fn lost_frames_are_retransmitted() {
    let mut p = LinePair::new(
        client("alice", "s3cret"),
        server(&[AuthProto::ChapMd5], "alice server s3cret\n"),
    );
    p.start();
    // Drop the first three frames in each direction.
    let mut dropped = [0, 0];
    p.run(Duration::from_secs(60), |from_a, _| {
        let d = &mut dropped[usize::from(from_a)];
        *d += 1;
        *d > 3
    });
    assert!(ip_up(&p.ev_a).is_some(), "{:?}", p.ev_a);
}

#[test]
fn duplicated_frames_do_not_restart_an_open_link() {
    let mut p = LinePair::new(
        client("alice", "s3cret"),
        server(&[AuthProto::Pap], "alice * s3cret\n"),
    );
    p.start();
    let mut dup = Vec::new();
    p.run(Duration::from_secs(10), |_, f| {
        dup.push(f.clone());
        true
    });
    assert!(ip_up(&p.ev_a).is_some());
    // Replay every frame of the negotiation to both sides.
    for f in &dup {
        let mut v = vec![0xff, 0x03];
        v.extend_from_slice(&f.protocol.to_be_bytes());
        v.extend_from_slice(&f.data);
        p.handle_frame(true, &v);
        p.handle_frame(false, &v);
    }
    p.run_clean(Duration::from_secs(1));
    // Stale replies were ignored, not taken as crossed negotiations.
    assert!(p.a.link_stats().ignored > 0);
}

#[test]
fn peer_that_never_answers_fails_negotiation_after_max_configure() {
    let mut p = LinePair::new(client("a", "b"), server(&[], ""));
    p.start();
    p.run(Duration::from_secs(120), |from_a, _| from_a);
    assert_eq!(down(&p.ev_b), Some(DownReason::NegotiationFailed));
    let sent_by_b = p
        .wire
        .iter()
        .filter(|(a, f)| !a && f.protocol == proto::LCP && f.data[0] == 1)
        .count();
    assert_eq!(sent_by_b, 10, "Max-Configure requests");
}

#[test]
fn looped_back_line_is_detected() {
    let mut a = Line::new(client("a", "b"), [7; 32]);
    let mut now = Instant::now();
    a.start(now);
    let mut events = Vec::new();
    for _ in 0..500 {
        let mut wire = BytesMut::new();
        while a.transmit_one(now, None, &mut wire) {
            a.handle_input(&wire, now, None, |_| {});
            wire.clear();
        }
        while let Some(e) = a.poll_event() {
            events.push(e);
        }
        match a.poll_timeout() {
            Some(t) => {
                now = now.max(t);
                a.handle_timeout(now);
            }
            None => break,
        }
    }
    assert_eq!(down(&events), Some(DownReason::Loopback));
    assert_eq!(DownReason::Loopback.exit_code(), 17);
}

#[test]
fn idle_closes_the_link_counted_from_ip_up_and_reset_by_traffic() {
    let mut cfg = client("a", "b");
    cfg.idle = Some(Duration::from_secs(10));
    let mut p = LinePair::new(cfg, server(&[], ""));
    p.start();
    p.run_clean(Duration::from_secs(1));
    let up = p.now;
    assert!(ip_up(&p.ev_a).is_some());
    // An IPv4 datagram from the peer at 6 s moves the deadline to 16 s.
    p.run_clean(Duration::from_secs(6) - (p.now - up));
    p.now = up + Duration::from_secs(6);
    let mut frame = vec![0xff, 0x03, 0x00, 0x21];
    frame.extend(ipv4(20, 20));
    assert!(p.handle_frame(true, &frame).is_some());
    p.run_clean(Duration::from_secs(9));
    assert_eq!(down(&p.ev_a), None, "traffic reset the idle time");
    p.run_clean(Duration::from_secs(10));
    assert_eq!(down(&p.ev_a), Some(DownReason::Idle));
}

/// A UDP datagram from 198.51.100.7:443 to 10.0.0.2:40000, or the reverse.
fn udp_443(towards_peer: bool) -> Vec<u8> {
    let (far, us) = ([198, 51, 100, 7], [10, 0, 0, 2]);
    let (src, dst, sport, dport) = if towards_peer {
        (us, far, 40000u16, 443u16)
    } else {
        (far, us, 443, 40000)
    };
    let mut d = ipv4(28, 28);
    d[9] = 17;
    d[12..16].copy_from_slice(&src);
    d[16..20].copy_from_slice(&dst);
    d[20..22].copy_from_slice(&sport.to_be_bytes());
    d[22..24].copy_from_slice(&dport.to_be_bytes());
    d[24..26].copy_from_slice(&8u16.to_be_bytes());
    d
}

/// `idle` 10 s under one unsolicited datagram from the peer every second
/// for 40 s, the client sending one of its own at each of `sends` (seconds
/// after IP up): the second at which the client hung up, if it did.
fn idle_under_inbound_stream(filter: Option<&str>, sends: &[u64]) -> Option<u64> {
    use carrier::ppp::activity::ActiveFilter;
    let mut cfg = client("a", "b");
    cfg.idle = Some(Duration::from_secs(10));
    cfg.active_filter = filter.map(|f| ActiveFilter::parse(f).unwrap());
    let mut p = LinePair::new(cfg, server(&[], ""));
    p.start();
    p.run_clean(Duration::from_secs(1));
    assert!(ip_up(&p.ev_a).is_some());
    let up = p.now;
    for s in 1..=40 {
        p.now = up + Duration::from_secs(s);
        p.a.handle_timeout(p.now);
        p.b.handle_timeout(p.now);
        p.run_clean(Duration::ZERO);
        if let Some(r) = down(&p.ev_a) {
            assert_eq!(r, DownReason::Idle);
            return Some(s);
        }
        let d = udp_443(false);
        let f = p.send_ip(false, &d).expect("the peer may send");
        assert!(
            p.handle_frame(true, &frame_bytes(&f)).is_some(),
            "delivered"
        );
        if sends.contains(&s) {
            assert!(p.send_ip(true, &udp_443(true)).is_some());
        }
    }
    None
}

/// pppd's `active-filter 'outbound'`: traffic from the internet that
/// nobody asked for does not keep a metered line up; what the host sends
/// does, and the idle time runs from the last of it.
#[test]
fn an_outbound_filter_hangs_up_under_unsolicited_inbound_traffic() {
    // Control: with every datagram (or the default, not chatter) counting,
    // the stream from the peer keeps the line up for all 40 s.
    assert_eq!(idle_under_inbound_stream(None, &[]), None);
    assert_eq!(idle_under_inbound_stream(Some("not chatter"), &[]), None);
    for f in ["outbound", "not inbound", "outbound and not chatter"] {
        let at = idle_under_inbound_stream(Some(f), &[]);
        assert!(matches!(at, Some(10)), "{f}: hung up at {at:?}");
        // Sending at 5, 10, 15 and 20 s keeps it up until 10 s after the
        // last send, inbound traffic notwithstanding.
        assert_eq!(
            idle_under_inbound_stream(Some(f), &[5, 10, 15, 20]),
            Some(30),
            "{f}"
        );
    }
    // And the reverse holds: `inbound` alone ignores what the host sends.
    assert_eq!(idle_under_inbound_stream(Some("inbound"), &[5, 10]), None);
}

#[test]
fn echo_timeout_takes_the_link_down() {
    let mut cfg = client("a", "b");
    cfg.echo = EchoConfig {
        interval: Some(Duration::from_secs(1)),
        failure: 3,
        adaptive: false,
    };
    let mut p = LinePair::new(cfg, server(&[], ""));
    p.start();
    p.run_clean(Duration::from_secs(5));
    assert!(ip_up(&p.ev_a).is_some());
    assert!(p.a.link_stats().echo_replies_in > 0, "peer answers echoes");
    // Now the peer goes silent.
    p.run(Duration::from_secs(30), |from_a, _| from_a);
    assert_eq!(down(&p.ev_a), Some(DownReason::EchoTimeout));
}

#[test]
fn unknown_protocol_is_protocol_rejected_once_opened() {
    let mut p = LinePair::new(client("a", "b"), server(&[], ""));
    p.start();
    p.run_clean(Duration::from_secs(5));
    let before = p.b.link_stats().protocol_rejected;
    p.handle_frame(false, &[0xff, 0x03, 0x80, 0x57, 1, 1, 0, 4]);
    assert_eq!(p.b.link_stats().protocol_rejected, before + 1);
    let f = p.poll_transmit(false).into_iter().next().unwrap();
    assert_eq!(f.protocol, proto::LCP);
    assert_eq!(&f.data[..1], &[8]);
    assert_eq!(&f.data[4..6], &[0x80, 0x57]);
}

#[test]
fn peer_terminate_is_reported() {
    let mut p = LinePair::new(client("a", "b"), server(&[], ""));
    p.start();
    p.run_clean(Duration::from_secs(5));
    p.b.close(DownReason::UserRequest, p.now);
    p.run_clean(Duration::from_secs(10));
    assert_eq!(down(&p.ev_b), Some(DownReason::UserRequest));
    assert_eq!(down(&p.ev_a), Some(DownReason::PeerTerminated));
    assert!(p.ev_a.contains(&Event::IpDown));
}

#[test]
fn lying_lengths_and_garbage_never_panic() {
    let mut p = LinePair::new(
        client("a", "b"),
        server(&[AuthProto::ChapMd5], "a server b\n"),
    );
    p.start();
    p.run_clean(Duration::from_secs(5));
    let junk: &[&[u8]] = &[
        &[],
        &[0xff],
        &[0xff, 0x03],
        &[0xff, 0x03, 0xc0, 0x21],
        &[0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 0],
        &[0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 200, 1, 2],
        &[0xff, 0x03, 0xc0, 0x21, 1, 9, 0, 6, 1, 0],
        &[0xff, 0x03, 0xc0, 0x21, 1, 9, 0, 6, 1, 1],
        &[0xff, 0x03, 0xc0, 0x21, 1, 9, 0, 7, 1, 9, 0],
        &[0xff, 0x03, 0xc0, 0x23, 1, 1, 0, 6, 9, 0],
        &[0xff, 0x03, 0xc2, 0x23, 2, 1, 0, 5, 200],
        &[0xff, 0x03, 0x80, 0x21, 1, 1, 0, 3],
        &[0xff, 0x03, 0xc0, 0x21, 8, 1, 0, 4],
        &[0xff, 0x03, 0xc0, 0x21, 99, 1, 0, 4],
    ];
    // Framed raw by the other line; the runts (under two octets) stop at
    // the decoder (core_props hands such octets to a bare link).
    for j in junk {
        p.handle_raw(true, j);
        p.handle_raw(false, j);
    }
    p.run_clean(Duration::from_secs(1));
    let s = p.b.link_stats();
    assert!(s.malformed + s.bad_header + s.ignored > 0);
}

/// The first authentication frame the client sends (PAP Authenticate-
/// Request or CHAP Response), held back from the server.
fn held_credentials(p: &mut LinePair) -> Frame {
    let mut held = None;
    p.run(Duration::from_millis(10), |from_a, f| {
        let creds = matches!(
            (f.protocol, f.data.first()),
            (proto::PAP, Some(1)) | (proto::CHAP, Some(2))
        );
        if from_a && creds && held.is_none() {
            held = Some(f.clone());
            return false;
        }
        true
    });
    held.expect("the client sent its credentials")
}

/// The ordering attack: credentials, then IPCP Configure-Request and a
/// Configure-Ack guessing the server's identifier, in the same read,
/// before the driver has looked at any event. With `hold_auth`, the NCP
/// frames are discarded (RFC 1661 §3.5), nothing answers the credentials
/// until `authorize`, and a refusal never lets IPCP start.
#[test]
fn ncp_frames_sent_with_the_credentials_wait_for_authorization() {
    for (protocol, secrets) in [
        (AuthProto::ChapMd5, "alice server s3cret *\n"),
        (AuthProto::Pap, "alice * s3cret *\n"),
    ] {
        for allow in [false, true] {
            let mut srv = server(&[protocol], secrets);
            srv.hold_auth = true;
            let mut p = LinePair::new(client("alice", "s3cret"), srv);
            p.start();
            let creds = held_credentials(&mut p);
            assert_eq!(p.b.link().phase(), Phase::Authenticate);
            let req = Frame {
                protocol: proto::IPCP,
                data: vec![1, 1, 0, 10, 3, 6, 10, 0, 0, 2],
            };
            let ack = Frame {
                protocol: proto::IPCP,
                data: vec![2, 1, 0, 10, 3, 6, 10, 0, 0, 1],
            };
            let before = p.b.link_stats().not_ready;
            for f in [&creds, &req, &ack] {
                assert_eq!(p.handle_frame(false, &frame_bytes(f)), None);
            }
            assert_eq!(p.b.link().phase(), Phase::Authenticate, "{protocol:?}");
            assert_eq!(
                p.b.link_stats().not_ready,
                before + 2,
                "NCP frames discarded"
            );
            assert_eq!(p.b.link().ipcp_state(), carrier::ppp::fsm::State::Initial);
            let out: Vec<Frame> = p.poll_transmit(false);
            assert!(
                out.iter().all(|f| f.protocol == proto::LCP),
                "nothing answers the credentials before the decision: {out:?}"
            );
            let evs: Vec<Event> = std::iter::from_fn(|| p.b.poll_event()).collect();
            assert!(evs
                .iter()
                .any(|e| matches!(e, Event::Authorize { peer, .. } if peer == "alice")));
            assert!(!evs.iter().any(|e| matches!(e, Event::AuthOk { .. })));
            p.ev_b.extend(evs);
            for f in out {
                p.handle_frame(true, &frame_bytes(&f));
            }

            p.b.authorize(allow, p.now);
            p.run_clean(Duration::from_secs(40));
            let verdicts: Vec<u8> = p
                .wire
                .iter()
                .filter(|(from_a, f)| !from_a && matches!(f.protocol, proto::PAP | proto::CHAP))
                .filter_map(|(_, f)| f.data.first().copied())
                .filter(|c| *c != 1)
                .collect();
            if allow {
                assert!(ip_up(&p.ev_a).is_some() && ip_up(&p.ev_b).is_some());
                // PAP Ack is 2, CHAP Success 3.
                let ok = if protocol == AuthProto::Pap { 2 } else { 3 };
                assert_eq!(verdicts, vec![ok], "{protocol:?}: one verdict");
            } else {
                assert_eq!(ip_up(&p.ev_b), None, "{protocol:?}: refused caller got IP");
                assert_eq!(ip_up(&p.ev_a), None);
                assert!(
                    !p.wire
                        .iter()
                        .any(|(from_a, f)| !from_a && f.protocol == proto::IPCP),
                    "the server never started IPCP"
                );
                let nak = if protocol == AuthProto::Pap { 3 } else { 4 };
                assert_eq!(verdicts, vec![nak], "{protocol:?}: one refusal");
                assert_eq!(down(&p.ev_b), Some(DownReason::PeerAuthFailed));
                assert_eq!(down(&p.ev_a), Some(DownReason::AuthFailed));
            }
        }
    }
}

/// A minimal IPv4 header of `total` octets, padded to `len`.
fn ipv4(total: u16, len: usize) -> Vec<u8> {
    let mut p = vec![0u8; len];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&total.to_be_bytes());
    p[8] = 64;
    p
}

fn ipv6_echo_to_all_nodes() -> Vec<u8> {
    let mut p = vec![0u8; 48];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&8u16.to_be_bytes());
    p[6] = 58;
    p[7] = 255;
    p[24..26].copy_from_slice(&[0xff, 0x02]);
    p[39] = 1;
    p[40] = 128;
    p
}

/// The kernel's TUN classifies by the first nibble: a 0x0021 frame carries
/// only an honest IPv4 datagram into it, and the interface's datagrams go
/// out only under the protocol of their own family, once its NCP is open.
#[test]
fn datagrams_travel_only_under_their_own_protocol() {
    // No CCP: a datagram sent leaves as itself, not inside 0x00fd.
    let (mut a, mut b) = (client("x", "y"), server(&[], ""));
    (a.ccp, b.ccp) = (None, None);
    let mut p = LinePair::new(a, b);
    let v4 = ipv4(24, 24);
    let v6 = ipv6_echo_to_all_nodes();
    assert_eq!(p.send_ip(true, &v4), None, "IPCP not open yet");
    p.start();
    p.run_clean(Duration::from_secs(5));
    assert!(p.b.link().is_ip_up());
    let frame_of = |protocol: u16, d: &[u8]| Frame {
        protocol,
        data: d.to_vec(),
    };
    let frame = |protocol: u16, d: &[u8]| frame_bytes(&frame_of(protocol, d));

    // In: IPv4 delivered without padding; IPv6 or a lying header never.
    let padded = ipv4(24, 30);
    assert_eq!(
        p.handle_frame(false, &frame(proto::IPV4, &padded)),
        Some(padded[..24].to_vec())
    );
    assert_eq!(p.handle_frame(false, &frame(proto::IPV4, &v6)), None);
    assert_eq!(
        p.handle_frame(false, &frame(proto::IPV4, &ipv4(60, 30))),
        None
    );
    assert_eq!(p.b.link_stats().ip_in, 1);
    assert_eq!(p.b.link_stats().ip_in_dropped, 2);
    // 0x0057 without IPv6CP: Protocol-Reject (RFC 1661 §5.7), not delivered.
    let rejected = p.b.link_stats().protocol_rejected;
    assert_eq!(p.handle_frame(false, &frame(proto::IPV6, &v6)), None);
    assert_eq!(p.b.link_stats().protocol_rejected, rejected + 1);

    // Out: the host's IPv6 (a router solicitation, say) does not leave as
    // 0x0021, nor does garbage.
    assert_eq!(p.send_ip(true, &v6), None);
    assert_eq!(p.send_ip(true, &[0x45, 0, 0]), None);
    assert_eq!(
        p.send_ip(true, &padded),
        Some(frame_of(proto::IPV4, &padded[..24]))
    );
    let s = p.a.link_stats();
    assert_eq!((s.ip_out, s.ip_out_dropped), (1, 3));
}
