//! Two sans-IO links wired back to back with a fake clock: whole
//! negotiations in microseconds, deterministically.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use carrier::ppp::auth::{AuthConfig, AuthProto, Secret};
use carrier::ppp::link::{AuthRole, EchoConfig, Event, Frame, Link, LinkConfig};
use carrier::ppp::{proto, DownReason, Phase};
use carrier::secrets::SecretsTable;

/// Two links and a clock. `filter` may drop or alter frames in flight.
struct Pair {
    a: Link,
    b: Link,
    now: Instant,
    ev_a: Vec<Event>,
    ev_b: Vec<Event>,
    /// Frames seen on the wire, (from_a, frame).
    wire: Vec<(bool, Frame)>,
}

fn frame_bytes(f: &Frame) -> Vec<u8> {
    let mut v = vec![0xff, 0x03];
    v.extend_from_slice(&f.protocol.to_be_bytes());
    v.extend_from_slice(&f.data);
    v
}

impl Pair {
    fn new(a: LinkConfig, b: LinkConfig) -> Self {
        Pair {
            a: Link::new(a, [1; 32]),
            b: Link::new(b, [2; 32]),
            now: Instant::now(),
            ev_a: Vec::new(),
            ev_b: Vec::new(),
            wire: Vec::new(),
        }
    }

    fn start(&mut self) {
        for l in [&mut self.a, &mut self.b] {
            l.open(self.now);
            l.lower_up(self.now);
        }
    }

    /// Runs until both sides are quiet and no timer is due within `limit`.
    fn run(&mut self, limit: Duration, mut filter: impl FnMut(bool, &Frame) -> bool) {
        let end = self.now + limit;
        loop {
            let mut moved = false;
            while let Some(f) = self.a.poll_transmit() {
                moved = true;
                self.wire.push((true, f.clone()));
                if filter(true, &f) {
                    self.b.handle_frame(&frame_bytes(&f), self.now);
                }
            }
            while let Some(f) = self.b.poll_transmit() {
                moved = true;
                self.wire.push((false, f.clone()));
                if filter(false, &f) {
                    self.a.handle_frame(&frame_bytes(&f), self.now);
                }
            }
            while let Some(e) = self.a.poll_event() {
                self.ev_a.push(e);
            }
            while let Some(e) = self.b.poll_event() {
                self.ev_b.push(e);
            }
            if moved {
                continue;
            }
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.a.handle_timeout(self.now);
                    self.b.handle_timeout(self.now);
                }
                _ => break,
            }
        }
    }

    fn run_clean(&mut self, limit: Duration) {
        self.run(limit, |_, _| true);
    }
}

fn ip_up(ev: &[Event]) -> Option<(Ipv4Addr, Option<Ipv4Addr>, Vec<Ipv4Addr>)> {
    ev.iter().find_map(|e| match e {
        Event::IpUp { local, peer, dns } => Some((*local, *peer, dns.clone())),
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
    let mut c = LinkConfig::default();
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
    let mut c = LinkConfig::default();
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
    let mut p = Pair::new(client("x", "y"), server(&[], ""));
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
    assert_eq!(p.a.phase(), Phase::Network);
    // Negotiated framing: both asked for ACCM 0, PFC and ACFC.
    let f = p.a.framing();
    assert_eq!(
        (f.tx_accm, f.rx_accm, f.tx_acfc, f.tx_pfc),
        (0, 0, true, true)
    );
}

#[test]
fn pap_success() {
    let mut p = Pair::new(
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
    let mut p = Pair::new(
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
    let mut p = Pair::new(
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
    let mut p = Pair::new(
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
    let mut c = LinkConfig::default();
    c.ipcp.request_dns = true;
    let mut p = Pair::new(c, server(&[AuthProto::Pap], "alice * s3cret *\n"));
    p.start();
    p.run_clean(Duration::from_secs(60));
    assert_eq!(down(&p.ev_b), Some(DownReason::PeerAuthFailed));
    assert!(ip_up(&p.ev_a).is_none());
}

#[test]
fn lost_frames_are_retransmitted() {
    let mut p = Pair::new(
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
    let mut p = Pair::new(
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
        p.a.handle_frame(&v, p.now);
        p.b.handle_frame(&v, p.now);
    }
    p.run_clean(Duration::from_secs(1));
    // Stale replies were ignored, not taken as crossed negotiations.
    assert!(p.a.stats().ignored > 0);
}

#[test]
fn peer_that_never_answers_fails_negotiation_after_max_configure() {
    let mut p = Pair::new(client("a", "b"), server(&[], ""));
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
    let mut a = Link::new(client("a", "b"), [7; 32]);
    let mut now = Instant::now();
    a.open(now);
    a.lower_up(now);
    let mut events = Vec::new();
    for _ in 0..500 {
        while let Some(f) = a.poll_transmit() {
            a.handle_frame(&frame_bytes(&f), now);
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
    let mut p = Pair::new(cfg, server(&[], ""));
    p.start();
    p.run_clean(Duration::from_secs(1));
    let up = p.now;
    assert!(ip_up(&p.ev_a).is_some());
    // An IPv4 datagram from the peer at 6 s moves the deadline to 16 s.
    p.run_clean(Duration::from_secs(6) - (p.now - up));
    p.now = up + Duration::from_secs(6);
    assert!(p
        .a
        .handle_frame(&[0xff, 0x03, 0x00, 0x21, 0x45], p.now)
        .is_some());
    p.run_clean(Duration::from_secs(9));
    assert_eq!(down(&p.ev_a), None, "traffic reset the idle time");
    p.run_clean(Duration::from_secs(10));
    assert_eq!(down(&p.ev_a), Some(DownReason::Idle));
}

#[test]
fn echo_timeout_takes_the_link_down() {
    let mut cfg = client("a", "b");
    cfg.echo = EchoConfig {
        interval: Some(Duration::from_secs(1)),
        failure: 3,
        adaptive: false,
    };
    let mut p = Pair::new(cfg, server(&[], ""));
    p.start();
    p.run_clean(Duration::from_secs(5));
    assert!(ip_up(&p.ev_a).is_some());
    assert!(p.a.stats().echo_replies_in > 0, "peer answers echoes");
    // Now the peer goes silent.
    p.run(Duration::from_secs(30), |from_a, _| from_a);
    assert_eq!(down(&p.ev_a), Some(DownReason::EchoTimeout));
}

#[test]
fn unknown_protocol_is_protocol_rejected_once_opened() {
    let mut p = Pair::new(client("a", "b"), server(&[], ""));
    p.start();
    p.run_clean(Duration::from_secs(5));
    let before = p.b.stats().protocol_rejected;
    p.b.handle_frame(&[0xff, 0x03, 0x80, 0x57, 1, 1, 0, 4], p.now);
    assert_eq!(p.b.stats().protocol_rejected, before + 1);
    let f = p.b.poll_transmit().unwrap();
    assert_eq!(f.protocol, proto::LCP);
    assert_eq!(&f.data[..1], &[8]);
    assert_eq!(&f.data[4..6], &[0x80, 0x57]);
}

#[test]
fn peer_terminate_is_reported() {
    let mut p = Pair::new(client("a", "b"), server(&[], ""));
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
    let mut p = Pair::new(
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
    for j in junk {
        p.a.handle_frame(j, p.now);
        p.b.handle_frame(j, p.now);
    }
    p.run_clean(Duration::from_secs(1));
    let s = p.b.stats();
    assert!(s.malformed + s.bad_header + s.ignored > 0);
}
