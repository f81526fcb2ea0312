//! Packets from sources that are not the caller's, and what the
//! listeners counted meanwhile.

use super::report::Report;
use crate::support::hostile::{self, Ip};
use crate::support::listen::{Counts, Listeners};

/// `items`, comma-separated.
pub fn joined<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// What each of `listeners` counted since `before` (their snapshots),
/// one text per namespace that counted anything.
pub fn counted_since(listeners: &[&Listeners], before: &[Counts]) -> Vec<String> {
    listeners
        .iter()
        .zip(before)
        .filter_map(|(l, b)| {
            let s = l.since(b);
            (!s.is_empty()).then(|| format!("{}: {s}", l.ns))
        })
        .collect()
}

pub fn snapshots(listeners: &[&Listeners]) -> Vec<Counts> {
    listeners.iter().map(|l| l.snapshot()).collect()
}

/// A SYN and a datagram from each of `sources` to each of `targets`,
/// then (with `echo`: its destination and identifier) an echo request
/// from that source.
pub fn spoof_frames<A: Ip>(
    sources: &[A],
    targets: &[(A, u16)],
    sport: u16,
    echo: Option<(A, u16)>,
) -> Vec<(u16, Vec<u8>)> {
    let mut frames = Vec::new();
    for (i, &src) in sources.iter().enumerate() {
        for &(dst, port) in targets {
            frames.push((A::FRAME, hostile::tcp_syn(src, sport, dst, port)));
            frames.push((
                A::FRAME,
                hostile::udp(src, sport, dst, port, b"carrier-attack spoofed"),
            ));
        }
        if let Some((dst, ident)) = echo {
            frames.push((A::FRAME, A::echo(src, dst, ident, i as u16 + 1)));
        }
    }
    frames
}

/// Nothing came back for spoofed sources, nothing was counted, nothing
/// arrived.
pub fn spoof_checks(
    r: &mut Report,
    who: &str,
    answers: &[String],
    counted: &[String],
    arrived: &[String],
) {
    r.check(answers.is_empty(), || {
        format!("SPOOF{who}: answers came back for spoofed sources: {answers:?}")
    });
    r.check(counted.is_empty(), || {
        format!("SPOOF{who}: listeners counted spoofed traffic: {counted:?}")
    });
    r.check(arrived.is_empty(), || {
        format!("SPOOF{who}: spoofed packets got past the console's firewall: {arrived:?}")
    });
}
