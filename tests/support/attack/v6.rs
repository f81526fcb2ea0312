//! IPv6 where the call must not carry it, and the link-local addresses
//! IPv6CP agreed on where it may.

use std::net::Ipv6Addr;
use std::time::Duration;

use carrier::ppp::proto;
use serde_json::Value;

use super::call::Call;
use super::report::Report;
use crate::support::hostile::{self, describe, FINAL_WAIT};
use crate::support::lab::Lab;
use crate::support::listen::{Family, Listeners};
use crate::support::nsstat::{link_counters, link_local};

/// Received frames, borrowed.
pub type Frames<'a> = Vec<&'a (u16, Vec<u8>)>;

/// IPv6, as 0x0057 frames and inside 0x0021 frames: nothing may answer,
/// nothing may reach the console's interface or its listeners.
pub fn ipv6_phase(r: &mut Report, lab: &Lab, call: &mut Call, listeners: &Listeners) {
    let ifname = call.ifname.clone();
    let lls = link_local(&lab.console, &ifname);
    r.note(format!(
        "{ifname} link-local addresses: {}",
        if lls.is_empty() {
            "none".to_string()
        } else {
            lls.iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        }
    ));
    let h = &mut call.caller;
    let me: Ipv6Addr = "fe80::a77a:c4".parse().unwrap();
    let sport = h.fresh_port();
    let mut probes: Vec<(String, Vec<u8>)> = Vec::new();
    let mut echo_to: Vec<Ipv6Addr> = vec!["ff02::1".parse().unwrap(), "fe80::1".parse().unwrap()];
    echo_to.extend(&lls);
    for (i, dst) in echo_to.iter().enumerate() {
        probes.push((
            format!("icmpv6 echo {dst}"),
            hostile::icmp6_echo(me, *dst, 0x6a6a, i as u16 + 1),
        ));
    }
    let mut syn_to: Vec<Ipv6Addr> = vec!["fe80::1".parse().unwrap()];
    syn_to.extend(&lls);
    for dst in &syn_to {
        for port in [22, 2300] {
            probes.push((
                format!("tcp6 syn [{dst}]:{port}"),
                hostile::tcp_syn(me, sport, *dst, port),
            ));
        }
    }
    let v6_before = listeners.total(|k| k.0 == Family::V6);
    let (rx0, _) = link_counters(&lab.console, &ifname);
    let (in0, rej0) = (h.ipv6_in.len(), h.protocol_rejects.len());
    let mut frames = Vec::new();
    for (_, p) in &probes {
        frames.push((proto::IPV6, p.clone()));
        frames.push((proto::IPV4, p.clone()));
    }
    h.send_frames(&frames);
    let mut got = h.pump(Duration::from_millis(500));
    // SYN-ACKs are acknowledged (each in the framing it came in), so a
    // listener that got the SYN also accepts and counts the connection;
    // then reset.
    let syn_acks: Vec<(u16, Ipv6Addr, u16, u32)> = h.ipv6_in[in0..]
        .iter()
        .filter_map(|(p, d)| {
            let t = hostile::parse_tcp6(d)?;
            (t.flags & hostile::SYN_ACK == hostile::SYN_ACK && t.dst == me && t.dport == sport)
                .then_some((*p, t.src, t.sport, t.seq))
        })
        .collect();
    let mut resets = Vec::new();
    for (p, src, from, seq) in syn_acks {
        let next = hostile::isn(from).wrapping_add(1);
        let ack = hostile::tcp(
            me,
            sport,
            src,
            from,
            next,
            seq.wrapping_add(1),
            hostile::ACK,
        );
        h.send_frame(p, &ack);
        resets.push((p, hostile::tcp(me, sport, src, from, next, 0, hostile::RST)));
    }
    got.extend(h.pump(FINAL_WAIT));
    h.send_frames(&resets);
    got.extend(h.pump(Duration::from_millis(300)));
    let (rx1, _) = link_counters(&lab.console, &ifname);
    let (unsolicited, replies): (Frames, Frames) = h.ipv6_in[in0..]
        .iter()
        .partition(|(_, p)| hostile::ipv6_unsolicited(p));
    let rejected_v6 = h.protocol_rejects[rej0..]
        .iter()
        .filter(|(p, _)| *p == proto::IPV6)
        .count();
    let v6_counted = listeners.total(|k| k.0 == Family::V6) - v6_before;
    let other = v4_frames(&got);
    r.row(
        "ipv6",
        &format!("{} probes x (0x0057, 0x0021)", probes.len()),
        frames.len(),
        replies.len(),
        &format!(
            "{rejected_v6} Protocol-Rejects of 0x0057 (fine); {ifname} RX +{}; v6 listeners +{v6_counted}",
            rx1 - rx0
        ),
    );
    r.check(replies.is_empty(), || {
        format!(
            "IPV6: the console answered IPv6 over the link: {}",
            replies
                .iter()
                .map(|(p, d)| describe(*p, d))
                .collect::<Vec<_>>()
                .join("; ")
        )
    });
    r.check(rx1 == rx0, || {
        format!(
            "IPV6: {ifname}'s RX counter moved by {} during the IPv6 phase: IPv6 inside 0x0021 frames is handed to the console's interface",
            rx1 - rx0
        )
    });
    r.check(v6_counted == 0, || {
        format!("IPV6: the console's IPv6 listeners counted {v6_counted} arrivals")
    });
    if !unsolicited.is_empty() {
        r.note(format!(
            "{} IPv6 packets of the console's own during the IPv6 phase: {}",
            unsolicited.len(),
            unsolicited
                .iter()
                .map(|(p, d)| describe(*p, d))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if !other.is_empty() {
        r.note(format!("IPv4 frames during the IPv6 phase: {other:?}"));
    }
}

/// Over the whole call: the console sent no IPv6 over the link, even of
/// its own (router solicitations, MLD reports).
pub fn no_ipv6_out(r: &mut Report, call: &Call) {
    let v6: Vec<&(u16, Vec<u8>)> = call
        .caller
        .ipv6_in
        .iter()
        .filter(|(_, p)| hostile::ipv6_unsolicited(p))
        .collect();
    r.check(v6.is_empty(), || {
        let mut seen: Vec<String> = v6.iter().map(|(p, d)| describe(*p, d)).collect();
        seen.dedup();
        seen.truncate(6);
        format!(
            "IPV6 OUT: the console sent {} IPv6 packets of its own (not answers) over the link during the call: {}",
            v6.len(),
            seen.join("; ")
        )
    });
}

/// IPv4 frames among `got`, described.
pub fn v4_frames(got: &[(u16, Vec<u8>)]) -> Vec<String> {
    got.iter()
        .filter(|(p, d)| *p == proto::IPV4 && d.first().is_some_and(|b| b >> 4 == 4))
        .map(|(p, d)| describe(*p, d))
        .collect()
}

pub fn v6_field(v: &Value, key: &str) -> Ipv6Addr {
    v[key]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no IPv6 address {key:?} in {v}"))
}
