//! The caller's address is one its secrets line allows (pppd's
//! `auth_ip_addr`), never a bad one (`bad_ip_adrs`) nor one of ours: two
//! sans-IO lines back to back, the server authenticating the client with
//! PAP, IPCP watched on the wire.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use carrier::ppp::auth::{AuthConfig, AuthProto, Secret};
use carrier::ppp::ccp::CcpConfig;
use carrier::ppp::fsm::{code, State};
use carrier::ppp::ipv6cp::Ipv6cpConfig;
use carrier::ppp::link::{Event, LinkConfig};
use carrier::ppp::{proto, DownReason};
use carrier::secrets::SecretsTable;

mod support;
use support::linkpair::LinePair;

const LOCAL: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
/// Another address of the server (an inbound console's alias).
const ALIAS: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 11);
/// The one address alice's secrets line names.
const ALICE: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 5);

fn server(remote: Option<Ipv4Addr>, addresses: &str) -> LinkConfig {
    let mut c = LinkConfig::pppd();
    c.lcp.require_auth = vec![AuthProto::Pap];
    c.ipcp.local = Some(LOCAL);
    c.ipcp.remote = remote;
    c.ipcp.forbidden = vec![ALIAS];
    let line = format!("alice server s3cret {addresses}\n");
    c.auth = AuthConfig {
        name: "server".into(),
        secrets: Arc::new(SecretsTable::parse(&line, "t".as_ref()).unwrap()),
        ..AuthConfig::default()
    };
    c
}

/// alice asking for `want` (None: pppd's `noipdefault`, "give me one").
fn alice(want: Option<Ipv4Addr>) -> LinkConfig {
    let mut c = LinkConfig::pppd();
    c.ipcp.local = want;
    c.auth = AuthConfig {
        name: "alice".into(),
        password: Some(Secret::new("s3cret")),
        ..AuthConfig::default()
    };
    c
}

fn run(client: LinkConfig, server: LinkConfig) -> LinePair {
    let mut p = LinePair::new(client, server);
    p.start();
    p.run_clean(Duration::from_secs(120));
    p
}

fn peer_up(ev: &[Event]) -> Option<Option<Ipv4Addr>> {
    ev.iter().find_map(|e| match e {
        Event::IpUp { peer, .. } => Some(*peer),
        _ => None,
    })
}

fn local_up(ev: &[Event]) -> Option<Ipv4Addr> {
    ev.iter().find_map(|e| match e {
        Event::IpUp { local, .. } => Some(*local),
        _ => None,
    })
}

fn addr_opt(a: Ipv4Addr) -> Vec<u8> {
    let mut v = vec![3, 6];
    v.extend_from_slice(&a.octets());
    v
}

/// IPCP packets on the wire, (from the client, code, options).
fn ipcp(p: &LinePair) -> Vec<(bool, u8, Vec<u8>)> {
    p.wire
        .iter()
        .filter(|(_, f)| f.protocol == proto::IPCP)
        .map(|(a, f)| (*a, f.data[0], f.data[4..].to_vec()))
        .collect()
}

#[test]
fn no_remote_gives_the_one_address_of_the_line() {
    let p = run(alice(None), server(None, "10.77.0.5"));
    assert_eq!(local_up(&p.ev_a), Some(ALICE), "{:?}", p.ev_a);
    assert_eq!(peer_up(&p.ev_b), Some(Some(ALICE)));
    // Our first answer to alice's 0.0.0.0 is a Nak to her address.
    let first = ipcp(&p)
        .into_iter()
        .find(|(from_client, c, _)| !from_client && *c != code::CONF_REQ)
        .unwrap();
    assert_eq!((first.1, first.2), (code::CONF_NAK, addr_opt(ALICE)));
}

#[test]
fn bad_and_own_addresses_are_naked_to_the_allowed_one_and_never_acked() {
    // The line allows alice any address of her choice and names one to
    // offer: everything asked below is refused for being bad or ours, not
    // for being outside the line.
    for want in [
        Ipv4Addr::new(127, 0, 0, 1),
        Ipv4Addr::new(224, 0, 0, 1),
        Ipv4Addr::new(240, 0, 0, 1),
        LOCAL,
        ALIAS,
    ] {
        let p = run(alice(Some(want)), server(None, "10.77.0.5 *"));
        let wire = ipcp(&p);
        let asked: Vec<_> = wire
            .iter()
            .filter(|(c, code, o)| *c && *code == code::CONF_REQ && o.ends_with(&addr_opt(want)))
            .collect();
        assert!(!asked.is_empty(), "{want}: alice never asked: {wire:?}");
        let answers: Vec<_> = wire
            .iter()
            .filter(|(c, code, _)| !*c && *code != code::CONF_REQ)
            .collect();
        assert_eq!(
            (answers[0].1, &answers[0].2),
            (code::CONF_NAK, &addr_opt(ALICE)),
            "{want}"
        );
        // Every answer while alice insists is a Nak to her line's address,
        // then (Max-Failure, RFC 1661 §4.6) a Reject: never an Ack.
        for (_, c, o) in &answers[..asked.len()] {
            assert!(
                (*c == code::CONF_NAK && *o == addr_opt(ALICE))
                    || (*c == code::CONF_REJ && *o == addr_opt(want)),
                "{want}: {wire:?}"
            );
        }
        assert!(
            !wire
                .iter()
                .any(|(c, code, o)| !*c && *code == code::CONF_ACK && o.ends_with(&addr_opt(want))),
            "{want} acked: {wire:?}"
        );
        assert_ne!(peer_up(&p.ev_b), Some(Some(want)), "{want}");
    }
    // An address the line allows and that is not ours is the peer's to take.
    let mine = Ipv4Addr::new(192, 0, 2, 7);
    let p = run(alice(Some(mine)), server(None, "10.77.0.5 *"));
    assert_eq!(peer_up(&p.ev_b), Some(Some(mine)));
}

#[test]
fn zero_is_naked_to_the_allowed_one() {
    let p = run(alice(None), server(None, "10.77.0.5 10.77.0.0/24"));
    assert_eq!(local_up(&p.ev_a), Some(ALICE));
}

#[test]
fn a_remote_outside_the_line_refuses_the_peer() {
    let mut s = server(Some(Ipv4Addr::new(10, 77, 0, 2)), "10.77.0.5");
    s.ccp = Some(CcpConfig::default());
    let p = run(alice(None), s);
    assert!(
        p.ev_b.contains(&Event::IpRefused {
            address: Some(Ipv4Addr::new(10, 77, 0, 2))
        }),
        "{:?}",
        p.ev_b
    );
    assert_eq!(peer_up(&p.ev_b), None);
    assert_eq!(local_up(&p.ev_a), None);
    assert!(p.ev_b.contains(&Event::Down {
        reason: DownReason::NoNetworkProtocols
    }));
    // No NCP starts on our side (not even CCP, which would run beside
    // IPCP); the LCP Terminate-Request says why, for the peer's log.
    assert!(
        p.wire.iter().all(|(c, f)| *c
            || !matches!(f.protocol, proto::IPCP | proto::CCP)
            || f.data[0] == code::TERM_ACK),
        "{:?}",
        p.wire
    );
    let term = p
        .wire
        .iter()
        .find(|(a, f)| !a && f.protocol == proto::LCP && f.data[0] == code::TERM_REQ)
        .expect("LCP Terminate-Request");
    assert_eq!(&term.1.data[4..], b"Unauthorized remote IP address");
}

#[test]
fn a_refused_address_leaves_ipv6_running() {
    let mut s = server(Some(Ipv4Addr::new(10, 77, 0, 2)), "10.77.0.5");
    s.ipv6 = Some(Ipv6cpConfig::default());
    let mut c = alice(None);
    c.ipv6 = Some(Ipv6cpConfig::default());
    let p = run(c, s);
    assert!(p.ev_b.contains(&Event::IpRefused {
        address: Some(Ipv4Addr::new(10, 77, 0, 2))
    }));
    assert!(
        p.ev_b.iter().any(|e| matches!(e, Event::Ipv6Up { .. })),
        "{:?}",
        p.ev_b
    );
    assert_eq!(peer_up(&p.ev_b), None);
    assert_eq!(p.b.link().ipv6cp_state(), State::Opened);
    assert_ne!(p.b.link().ipcp_state(), State::Opened);
    assert_eq!(p.b.link().lcp_state(), State::Opened);
}

#[test]
fn a_remote_inside_the_line_is_given() {
    let p = run(
        alice(None),
        server(Some(Ipv4Addr::new(10, 77, 0, 2)), "10.77.0.0/24"),
    );
    assert_eq!(local_up(&p.ev_a), Some(Ipv4Addr::new(10, 77, 0, 2)));
    let p = run(alice(None), server(Some(Ipv4Addr::new(10, 77, 0, 2)), "*"));
    assert_eq!(local_up(&p.ev_a), Some(Ipv4Addr::new(10, 77, 0, 2)));
}

#[test]
fn a_line_allowing_no_address_refuses_ip() {
    let p = run(alice(None), server(None, "-"));
    assert!(p.ev_b.contains(&Event::IpRefused { address: None }));
    assert_eq!(local_up(&p.ev_a), None);
}

#[test]
fn a_peer_without_an_address_is_refused_when_its_line_restricts_it() {
    // The line names a subnet, no single address: alice's own choice in it
    // is taken.
    let p = run(
        alice(Some(Ipv4Addr::new(10, 77, 0, 9))),
        server(None, "10.77.0.0/24"),
    );
    assert_eq!(peer_up(&p.ev_b), Some(Some(Ipv4Addr::new(10, 77, 0, 9))));
    // Asking for 0.0.0.0, she is Rejected (nothing to offer) and goes on
    // without an address: once IPCP opens she is refused (pppd's ipcp_up),
    // IPCP is closed and the link with it.
    let p = run(alice(None), server(None, "10.77.0.0/24"));
    assert!(
        p.ev_b.contains(&Event::IpRefused { address: None }),
        "{:?}",
        p.ev_b
    );
    assert_eq!(peer_up(&p.ev_b), None, "{:?}", p.ev_b);
    assert!(p.ev_b.contains(&Event::Down {
        reason: DownReason::NoNetworkProtocols
    }));
}
