//! Property tests of the protocol core: the sans-IO link under garbage,
//! lossy and corrupting wires and random option sets, and the streaming
//! HDLC decoder under arbitrary chunking. Two lines (codec and link) are
//! wired back to back with a fake clock (as in core_links.rs), so every
//! case runs in microseconds of real time and is deterministic; the wire
//! mangles frames before they are framed, so a corrupt frame reaches the
//! link past the FCS.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use carrier::hdlc::{Decoder, DecoderStats, Discard, Encoder, FcsKind};
use carrier::line::Line;
use carrier::ppp::auth::{AuthConfig, AuthProto, Secret};
use carrier::ppp::link::{Event, Link, LinkConfig};
use carrier::ppp::{proto, Phase};
use carrier::secrets::SecretsTable;
use proptest::prelude::*;
use proptest::sample::Index;

mod support;
use support::linkpair::{frame_bytes, handle_counted, Arrival, LinePair};

// ---------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------

/// Longest fake time a negotiation may take before it must have ended.
const RUN_LIMIT: Duration = Duration::from_secs(300);
/// `cases` cases, unless PROPTEST_CASES asks for a longer soak.
fn config(cases: u32) -> ProptestConfig {
    let default = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_some() {
        default
    } else {
        ProptestConfig { cases, ..default }
    }
}

fn server(require: &[AuthProto]) -> LinkConfig {
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
        secrets: Arc::new(SecretsTable::parse("alice * s3cret *\n", "t".as_ref()).unwrap()),
        ..AuthConfig::default()
    };
    c
}

fn client() -> LinkConfig {
    let mut c = LinkConfig::pppd();
    c.ipcp.request_dns = true;
    c.auth = AuthConfig {
        name: "alice".into(),
        password: Some(Secret::new("s3cret")),
        ..AuthConfig::default()
    };
    c
}

fn has_down(ev: &[Event]) -> bool {
    ev.iter().any(|e| matches!(e, Event::Down { .. }))
}

fn ip_up_event(ev: &[Event]) -> Option<(Ipv4Addr, Option<Ipv4Addr>, Vec<Ipv4Addr>)> {
    ev.iter().rev().find_map(|e| match e {
        Event::IpUp {
            local, peer, dns, ..
        } => Some((*local, *peer, dns.clone())),
        _ => None,
    })
}

/// Two lines back to back with a fake clock; each hangs up at Down, as
/// the session does.
fn pair(a: LinkConfig, b: LinkConfig, seed: [u8; 32]) -> LinePair {
    let mut p = LinePair::seeded(a, b, seed);
    p.hang_up = true;
    p
}

/// Configure-Requests `from_a` (or b) sent, [LCP, IPCP].
fn conf_reqs(p: &LinePair, from_a: bool) -> [usize; 2] {
    [proto::LCP, proto::IPCP].map(|protocol| {
        p.wire
            .iter()
            .filter(|(a, f)| *a == from_a && f.protocol == protocol && f.data.first() == Some(&1))
            .count()
    })
}

/// (line, events) of the client (a) and the server (b).
fn sides(p: &LinePair) -> [(&Line, &[Event]); 2] {
    [(&p.a, &p.ev_a), (&p.b, &p.ev_b)]
}

// ---------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------

/// Frames worth throwing at a link: raw bytes, or a readable header with a
/// protocol the link knows and a control packet whose fields may lie.
fn junk_frame() -> impl Strategy<Value = Vec<u8>> {
    let raw = prop::collection::vec(any::<u8>(), 0..64);
    let protocol = prop_oneof![
        Just(proto::LCP),
        Just(proto::PAP),
        Just(proto::CHAP),
        Just(proto::IPCP),
        Just(proto::IPV4),
        Just(proto::IPV6CP),
        any::<u16>(),
    ];
    let control = (
        any::<bool>(),
        protocol,
        0u8..14,
        any::<u8>(),
        prop::option::of(0u16..80),
        prop::collection::vec(any::<u8>(), 0..60),
    )
        .prop_map(|(full, protocol, code, id, len, data)| {
            let mut v = if full { vec![0xff, 0x03] } else { Vec::new() };
            v.extend_from_slice(&protocol.to_be_bytes());
            v.extend_from_slice(&[code, id]);
            let len = len.unwrap_or(4 + data.len() as u16);
            v.extend_from_slice(&len.to_be_bytes());
            v.extend_from_slice(&data);
            v
        });
    // Well-formed Configure packets with random options.
    let option = (any::<u8>(), prop::collection::vec(any::<u8>(), 0..6)).prop_map(|(k, d)| {
        let mut v = vec![k % 10, d.len() as u8 + 2];
        v.extend_from_slice(&d);
        v
    });
    let configure = (
        prop_oneof![Just(proto::LCP), Just(proto::IPCP)],
        1u8..=4,
        any::<u8>(),
        prop::collection::vec(option, 0..5),
    )
        .prop_map(|(protocol, code, id, opts)| {
            let opts = opts.concat();
            let mut v = vec![0xff, 0x03];
            v.extend_from_slice(&protocol.to_be_bytes());
            v.extend_from_slice(&[code, id]);
            v.extend_from_slice(&(4 + opts.len() as u16).to_be_bytes());
            v.extend_from_slice(&opts);
            v
        });
    prop_oneof![raw, control, configure]
}

#[derive(Clone, Debug)]
enum Fate {
    Deliver,
    Drop,
    Duplicate,
    /// XOR one octet (chosen by the index) with a non-zero mask.
    Flip(Index, u8),
}

fn fate() -> impl Strategy<Value = Fate> {
    prop_oneof![
        4 => Just(Fate::Deliver),
        2 => Just(Fate::Drop),
        1 => Just(Fate::Duplicate),
        2 => (any::<Index>(), 1u8..=255).prop_map(|(i, m)| Fate::Flip(i, m)),
    ]
}

#[derive(Clone, Debug)]
struct LcpOpts {
    mru: u16,
    accm: u32,
    magic: bool,
    pfc: bool,
    acfc: bool,
}

fn lcp_opts() -> impl Strategy<Value = LcpOpts> {
    (
        prop_oneof![Just(1500u16), 128u16..=1500],
        prop_oneof![Just(0u32), Just(u32::MAX), any::<u32>()],
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(mru, accm, magic, pfc, acfc)| LcpOpts {
            mru,
            accm,
            magic,
            pfc,
            acfc,
        })
}

impl LcpOpts {
    fn apply(&self, c: &mut LinkConfig) {
        c.lcp.mru = self.mru;
        c.lcp.accm = self.accm;
        c.lcp.magic = self.magic;
        c.lcp.pfc = self.pfc;
        c.lcp.acfc = self.acfc;
    }
}

/// How the two ends find their addresses.
#[derive(Clone, Copy, Debug)]
enum Addressing {
    /// The server assigns the client's address (pppd's usual dial-in).
    ServerAssigns,
    /// The client has a fixed address and the server takes it.
    ClientFixed,
    /// Both are configured with the same client address.
    Agreed,
}

fn auth_set() -> impl Strategy<Value = Vec<AuthProto>> {
    prop_oneof![
        Just(vec![]),
        Just(vec![AuthProto::Pap]),
        Just(vec![AuthProto::ChapMd5]),
        Just(vec![AuthProto::Pap, AuthProto::ChapMd5]),
        Just(vec![AuthProto::ChapMd5, AuthProto::Pap]),
    ]
}

// ---------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------

proptest! {
    #![proptest_config(config(512))]

    /// A link that has not been opened (Dead phase) takes any frame.
    #[test]
    fn garbage_to_a_fresh_link(
        as_server in any::<bool>(),
        frames in prop::collection::vec(junk_frame(), 1..16),
    ) {
        let cfg = if as_server { server(&[AuthProto::Pap]) } else { client() };
        let mut link = Link::new(cfg, [3; 32]);
        let now = Instant::now();
        for f in &frames {
            handle_counted(&mut link, f, now);
        }
        // Nothing is answered before the link is opened.
        prop_assert!(link.poll_transmit().is_none());
        prop_assert_eq!(link.phase(), Phase::Dead);
    }

    /// A link in the Establish phase, timers running, takes any frame.
    #[test]
    fn garbage_to_a_link_in_establish(
        as_server in any::<bool>(),
        frames in prop::collection::vec((junk_frame(), 0u64..5_000), 1..16),
    ) {
        let cfg = if as_server { server(&[AuthProto::Pap]) } else { client() };
        let mut link = Link::new(cfg, [4; 32]);
        let mut now = Instant::now();
        link.open(now);
        link.lower_up(now);
        prop_assert_eq!(link.phase(), Phase::Establish);
        for (f, ms) in &frames {
            handle_counted(&mut link, f, now);
            while link.poll_transmit().is_some() {}
            while link.poll_event().is_some() {}
            now += Duration::from_millis(*ms);
            link.handle_timeout(now);
            if let Some(t) = link.poll_timeout() {
                prop_assert!(t > now, "deadline {:?} already due", t - now);
            }
        }
        prop_assert_eq!(link.stats().frames_in + link.stats().bad_header, frames.len() as u64);
    }

    /// Both ends up (PAP done, IP up), then garbage to either end; the pair
    /// then runs on to a quiet state without panicking or spinning.
    #[test]
    fn garbage_to_an_open_link(
        frames in prop::collection::vec((any::<bool>(), junk_frame()), 1..24),
    ) {
        let mut p = pair(client(), server(&[AuthProto::Pap]), [5; 32]);
        p.start();
        p.run_clean(Duration::from_secs(5));
        prop_assert!(sides(&p).iter().all(|(l, _)| l.link().is_ip_up()));
        let taken = |l: &Line| l.link_stats().frames_in + l.link_stats().bad_header;
        let before = sides(&p).map(|(l, _)| (taken(l), l.framing_stats().runt));
        let (mut given, mut runts) = ([0u64; 2], [0u64; 2]);
        for (to_server, f) in &frames {
            let i = usize::from(*to_server);
            // Framed raw by the other line, as a hostile peer would. A
            // body under two octets is a runt (no protocol field) to the
            // decoder and never reaches the link; the bare links above
            // take those.
            p.handle_raw(!to_server, f);
            if f.len() < 2 {
                runts[i] += 1;
            } else {
                given[i] += 1;
            }
        }
        for (i, (l, _)) in sides(&p).into_iter().enumerate() {
            prop_assert_eq!(taken(l), before[i].0 + given[i]);
            prop_assert_eq!(l.framing_stats().runt, before[i].1 + runts[i]);
        }
        p.run_clean(Duration::from_secs(60));
    }
}

proptest! {
    #![proptest_config(config(2048))]

    /// A real negotiation (client with PAP credentials, server requiring
    /// PAP) over a wire that drops, duplicates and corrupts a chosen subset
    /// of frames. Each end either has IP up or has reported Down within
    /// RUN_LIMIT of fake time, and the run never spins.
    #[test]
    fn mangled_negotiation_ends_up_or_down(
        fates in prop::collection::vec(fate(), 0..48),
        seed in any::<[u8; 32]>(),
    ) {
        let mut p = pair(client(), server(&[AuthProto::Pap]), seed);
        let start = p.now;
        p.start();
        let mut n = 0usize;
        p.run_wire(RUN_LIMIT, |_, f| {
            let fate = fates.get(n).cloned().unwrap_or(Fate::Deliver);
            n += 1;
            match fate {
                Fate::Deliver => vec![Arrival::AsSent],
                Fate::Drop => vec![],
                Fate::Duplicate => vec![Arrival::AsSent, Arrival::AsSent],
                // Mangled before framing, so it passes the FCS.
                Fate::Flip(i, mask) => {
                    let mut bytes = frame_bytes(f);
                    let i = i.index(bytes.len());
                    bytes[i] ^= mask;
                    vec![Arrival::Raw(bytes)]
                }
            }
        });
        for (i, (l, events)) in sides(&p).into_iter().enumerate() {
            prop_assert!(
                l.link().is_ip_up() || has_down(events),
                "side {} neither up nor down after {:?} and {} frames: {:?}, events {:?}",
                i, p.now - start, p.wire.len(), l, events
            );
            if l.link().is_ip_up() {
                prop_assert_eq!(l.link().phase(), Phase::Network);
            }
        }
        // Both up means the client has the address the server assigns: the
        // server Naks anything else and Acks nothing else. (What the client
        // learns of the server's address can differ: an Ack flipped into a
        // Reject legitimately makes the server stop announcing it.)
        if sides(&p).iter().all(|(l, _)| l.link().is_ip_up()) {
            let (local, _, _) = ip_up_event(&p.ev_a).unwrap();
            let (_, s_peer, _) = ip_up_event(&p.ev_b).unwrap();
            prop_assert_eq!(local, Ipv4Addr::new(10, 0, 0, 2));
            prop_assert_eq!(s_peer, Some(local));
        }
    }

    /// Random LCP and IPCP option sets on both ends always converge to IP
    /// up over a clean wire, without a retransmission, within Max-Configure
    /// requests; and each end frames for the other as the other asked.
    #[test]
    fn random_options_converge(
        srv in lcp_opts(),
        cli in lcp_opts(),
        require in auth_set(),
        offer_dns in any::<bool>(),
        request_dns in any::<bool>(),
        addressing in prop_oneof![
            Just(Addressing::ServerAssigns),
            Just(Addressing::ClientFixed),
            Just(Addressing::Agreed),
        ],
        seed in any::<[u8; 32]>(),
        // pppd's defaults (VJ, CCP) on either side or on neither: the
        // plain link the property was first written for is still drawn.
        compress in any::<[bool; 2]>(),
    ) {
        let client_addr = Ipv4Addr::new(10, 0, 0, 2);
        let mut s = server(&require);
        srv.apply(&mut s);
        if !offer_dns {
            s.ipcp.dns = [None, None];
        }
        let mut c = client();
        cli.apply(&mut c);
        c.ipcp.request_dns = request_dns;
        match addressing {
            Addressing::ServerAssigns => {}
            Addressing::ClientFixed => {
                s.ipcp.remote = None;
                c.ipcp.local = Some(client_addr);
            }
            Addressing::Agreed => c.ipcp.local = Some(client_addr),
        }
        for (cfg, on) in [(&mut s, compress[0]), (&mut c, compress[1])] {
            if !on {
                cfg.ipcp.vj = None;
                cfg.ccp = None;
            }
        }
        let max_configure = s.lcp_fsm.max_configure as usize;
        let mut p = pair(c, s, seed);
        let start = p.now;
        p.start();
        p.run_clean(Duration::from_secs(60));

        let [(cl, cev), (sl, sev)] = sides(&p);
        prop_assert!(!has_down(cev) && !has_down(sev),
            "went down: {:?} / {:?}", cev, sev);
        prop_assert!(cl.link().is_ip_up() && sl.link().is_ip_up(),
            "not up: {:?} / {:?}", cl, sl);
        prop_assert_eq!(p.now, start, "a timer had to fire");
        for from_a in [true, false] {
            let sent = conf_reqs(&p, from_a);
            prop_assert!(sent[0] <= max_configure, "LCP {:?}", sent);
            prop_assert!(sent[1] <= max_configure, "IPCP {:?}", sent);
        }

        // Addresses and DNS.
        let (c_local, c_peer, c_dns) = ip_up_event(cev).unwrap();
        let (s_local, s_peer, _) = ip_up_event(sev).unwrap();
        prop_assert_eq!(c_local, client_addr);
        prop_assert_eq!(s_peer, Some(client_addr));
        prop_assert_eq!(s_local, Ipv4Addr::new(10, 0, 0, 1));
        prop_assert_eq!(c_peer, Some(s_local));
        let want_dns = if offer_dns && request_dns {
            vec![Ipv4Addr::new(10, 0, 0, 53), Ipv4Addr::new(10, 0, 0, 54)]
        } else {
            vec![]
        };
        prop_assert_eq!(c_dns, want_dns);

        // Framing: what one sends with is what the other receives with.
        let (cf, sf) = (cl.link().framing(), sl.link().framing());
        prop_assert_eq!(cf.tx_accm, sf.rx_accm);
        prop_assert_eq!(sf.tx_accm, cf.rx_accm);
        prop_assert_eq!(cf.mru, sf.peer_mru);
        prop_assert_eq!(sf.mru, cf.peer_mru);
        // ... and is what the receiver asked for (nobody Naks these).
        prop_assert_eq!(sf.rx_accm, srv.accm);
        prop_assert_eq!(cf.rx_accm, cli.accm);
        prop_assert_eq!(sf.mru, srv.mru);
        prop_assert_eq!(cf.mru, cli.mru);
        prop_assert_eq!((cf.tx_pfc, cf.tx_acfc), (srv.pfc, srv.acfc));
        prop_assert_eq!((sf.tx_pfc, sf.tx_acfc), (cli.pfc, cli.acfc));

        // The LcpUp events agree with each other, both directions.
        let lcp_up = |ev: &[Event]| ev.iter().rev().find_map(|e| match e {
            Event::LcpUp { ours, theirs } => Some((*ours, *theirs)),
            _ => None,
        });
        let (c_ours, c_theirs) = lcp_up(cev).unwrap();
        let (s_ours, s_theirs) = lcp_up(sev).unwrap();
        prop_assert_eq!(c_ours, s_theirs);
        prop_assert_eq!(s_ours, c_theirs);
        prop_assert_eq!(s_ours.auth, require.first().copied());
        prop_assert_eq!(c_ours.magic.is_some(), cli.magic);
        prop_assert_eq!(s_ours.magic.is_some(), srv.magic);
    }
}

// ---------------------------------------------------------------------
// HDLC decoder: chunking does not matter
// ---------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Piece {
    Noise(Vec<u8>),
    Frame {
        protocol: u16,
        info: Vec<u8>,
    },
    /// An encoded frame with one octet changed.
    Corrupt {
        info: Vec<u8>,
        at: Index,
        mask: u8,
    },
    /// An encoded frame cut short by the abort sequence.
    Aborted(Vec<u8>),
    Flags(usize),
}

fn piece() -> impl Strategy<Value = Piece> {
    let info = || prop::collection::vec(any::<u8>(), 0..400);
    prop_oneof![
        prop::collection::vec(
            prop_oneof![Just(0x7eu8), Just(0x7d), Just(0x11), any::<u8>()],
            0..40
        )
        .prop_map(Piece::Noise),
        (any::<u16>(), info()).prop_map(|(protocol, info)| Piece::Frame { protocol, info }),
        (info(), any::<Index>(), 1u8..=255).prop_map(|(info, at, mask)| Piece::Corrupt {
            info,
            at,
            mask
        }),
        info().prop_map(Piece::Aborted),
        (0usize..4).prop_map(Piece::Flags),
    ]
}

type Decoded = (Vec<Vec<u8>>, Vec<Discard>, DecoderStats);

fn decode_in_chunks(mut d: Decoder, input: &[u8], cuts: &[usize]) -> Decoded {
    let mut frames = Vec::new();
    let mut discards = Vec::new();
    let mut last = 0;
    for &c in cuts.iter().chain([&input.len()]) {
        d.decode(
            &input[last..c],
            |f| frames.push(f.to_vec()),
            |r| discards.push(r),
        );
        last = c;
    }
    (frames, discards, *d.stats())
}

proptest! {
    #![proptest_config(config(1024))]

    /// Whatever the stream and however it is cut, the decoder yields the
    /// same frames, discards and counters as for the stream in one piece.
    #[test]
    fn decoder_chunking_is_invisible(
        pieces in prop::collection::vec(piece(), 0..12),
        cuts in prop::collection::vec(any::<Index>(), 0..24),
        mru in prop_oneof![Just(1500usize), 0usize..600],
        accm in prop_oneof![Just(0u32), Just(u32::MAX), any::<u32>()],
        tx_accm in prop_oneof![Just(u32::MAX), any::<u32>()],
        fcs32 in any::<bool>(),
    ) {
        let fcs = if fcs32 { FcsKind::Fcs32 } else { FcsKind::Fcs16 };
        let mut e = Encoder::new();
        e.set_accm(tx_accm);
        e.set_fcs(fcs);
        let mut wire = BytesMut::new();
        for p in &pieces {
            match p {
                Piece::Noise(b) => wire.extend_from_slice(b),
                Piece::Frame { protocol, info } => e.encode(*protocol, info, &mut wire),
                Piece::Corrupt { info, at, mask } => {
                    let mut f = BytesMut::new();
                    e.encode(0x0021, info, &mut f);
                    let i = at.index(f.len());
                    f[i] ^= mask;
                    wire.extend_from_slice(&f);
                }
                Piece::Aborted(info) => {
                    let mut f = BytesMut::new();
                    e.encode(0x0021, info, &mut f);
                    f.truncate(f.len() / 2);
                    wire.extend_from_slice(&f);
                    wire.extend_from_slice(&[0x7d, 0x7e]);
                }
                Piece::Flags(n) => wire.extend_from_slice(&vec![0x7e; *n]),
            }
        }
        let mut d = Decoder::new(mru);
        d.set_accm(accm);
        d.set_fcs(fcs);

        let whole = decode_in_chunks(d.clone(), &wire, &[]);
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        points.sort_unstable();
        let chunked = decode_in_chunks(d.clone(), &wire, &points);
        // Byte by byte, the extreme chunking.
        let every: Vec<usize> = (0..wire.len()).collect();
        let bytewise = decode_in_chunks(d, &wire, &every);

        let (frames, discards, stats) = &whole;
        prop_assert_eq!(&chunked, &whole);
        prop_assert_eq!(&bytewise, &whole);
        prop_assert_eq!(stats.frames, frames.len() as u64);
        prop_assert_eq!(stats.discarded(), discards.len() as u64);
        for f in frames {
            prop_assert!(f.len() + fcs.octets() <= mru + 8, "{} octets, mru {}", f.len(), mru);
        }
    }
}

// ---------------------------------------------------------------------
// Bugs the properties found, as plain tests
// ---------------------------------------------------------------------

/// Brings a PAP pair up, then hands `to_server` to the server as if the
/// client had started a new negotiation, and runs on.
fn renegotiate(to_server: &[u8]) -> LinePair {
    let mut p = pair(client(), server(&[AuthProto::Pap]), [9; 32]);
    p.start();
    p.run_clean(Duration::from_secs(5));
    assert!(sides(&p).iter().all(|(l, _)| l.link().is_ip_up()));
    p.handle_frame(false, to_server);
    p.run_clean(RUN_LIMIT);
    p
}

/// The last LcpUp's (ours, theirs).
fn last_lcp_up(ev: &[Event]) -> (carrier::ppp::lcp::Agreed, carrier::ppp::lcp::Agreed) {
    ev.iter()
        .rev()
        .find_map(|e| match e {
            Event::LcpUp { ours, theirs } => Some((*ours, *theirs)),
            _ => None,
        })
        .expect("LCP up")
}

/// A Configure-Request that arrives while Opened (or Stopped) is judged,
/// and Ack'ed, before the automaton's scr starts our side of the new
/// negotiation; that reset used to wipe the options just agreed for the
/// peer, so the link came back up sending with default framing and, worse,
/// without authenticating itself to a peer that asked for it (the server
/// then gave up with peer-auth-failed).
#[test]
fn lcp_renegotiation_keeps_the_peers_options() {
    // Client's new request: Magic-Number, PFC, ACFC.
    let req = [
        0xff, 0x03, 0xc0, 0x21, 1, 0x99, 0, 14, 5, 6, 0x12, 0x34, 0x56, 0x78, 7, 2, 8, 2,
    ];
    let p = renegotiate(&req);
    let [(c, c_events), (s, s_events)] = sides(&p);
    assert!(!has_down(c_events), "client: {:?}", c_events);
    assert!(!has_down(s_events), "server: {:?}", s_events);
    assert!(c.link().is_ip_up() && s.link().is_ip_up());
    let (c_ours, c_theirs) = last_lcp_up(c_events);
    let (s_ours, s_theirs) = last_lcp_up(s_events);
    assert_eq!(
        c_theirs.auth,
        Some(AuthProto::Pap),
        "client must prove itself"
    );
    assert_eq!(c_theirs, s_ours);
    assert_eq!(
        (s_theirs.pfc, s_theirs.acfc, s_theirs.accm),
        (true, true, 0)
    );
    assert_eq!(s_theirs, c_ours);
    let events_since_up = |ev: &[Event]| {
        ev.iter()
            .filter(|e| matches!(e, Event::AuthOk { .. }))
            .count()
    };
    assert_eq!(events_since_up(c_events), 2, "authenticated twice");
}

/// The same for IPCP: the peer's address, Ack'ed in the Configure-Request
/// that restarted IPCP, used to be forgotten, so IpUp named no peer.
#[test]
fn ipcp_renegotiation_keeps_the_peer_address() {
    let req = [0xff, 0x03, 0x80, 0x21, 1, 0x99, 0, 10, 3, 6, 10, 0, 0, 2];
    let p = renegotiate(&req);
    let [(c, c_events), (s, s_events)] = sides(&p);
    assert!(c.link().is_ip_up() && s.link().is_ip_up());
    let (_, s_peer, _) = ip_up_event(s_events).unwrap();
    assert_eq!(s_peer, Some(Ipv4Addr::new(10, 0, 0, 2)));
    let (c_local, c_peer, _) = ip_up_event(c_events).unwrap();
    assert_eq!(c_local, Ipv4Addr::new(10, 0, 0, 2));
    assert_eq!(c_peer, Some(Ipv4Addr::new(10, 0, 0, 1)));
}
