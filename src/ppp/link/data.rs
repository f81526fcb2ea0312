//! The IP data path: datagrams out through VJ and CCP, datagrams in from
//! plain, VJ and compressed frames, and the activity that keeps pppd's
//! `idle` from closing the link.

use std::time::{Duration, Instant};

use super::timer::{Timer, Timers};
use super::{Link, LinkConfig, LinkStats};
use crate::ppp::activity::Direction;
use crate::ppp::ccp;
use crate::ppp::datagram;
use crate::ppp::proto;
use crate::ppp::vj;

/// Which families flow, and VJ header compression each way (RFC 1144).
#[derive(Default)]
pub(super) struct DataPath {
    /// IPCP is Opened.
    pub(super) ip_up: bool,
    /// IPv6CP is Opened.
    pub(super) ipv6_up: bool,
    pub(super) vj_tx: Option<vj::Compressor>,
    pub(super) vj_rx: Option<vj::Decompressor>,
}

/// What a carried datagram touches besides the data path: the counters,
/// and the idle timer when the datagram counts as activity. Borrowed field
/// by field from the link, so that the datagram may still live in the VJ
/// or CCP decompressor.
struct Carried<'a> {
    stats: &'a mut LinkStats,
    timers: &'a mut Timers,
    cfg: &'a LinkConfig,
}

/// When `idle` closes the link if nothing counts as activity from `now`.
fn idle_end(idle: Option<Duration>, now: Instant) -> Option<Instant> {
    idle.and_then(|i| now.checked_add(i))
}

impl Carried<'_> {
    /// A datagram carried either way restarts the idle time if it counts
    /// as activity.
    fn note(&mut self, d: &[u8], dir: Direction, now: Instant) {
        if self
            .cfg
            .active_filter
            .as_ref()
            .map_or(true, |f| f.is_active(d, dir))
        {
            self.timers.set(Timer::Idle, idle_end(self.cfg.idle, now));
        }
    }

    /// A received datagram of `protocol`'s family (its NCP open), delivered
    /// only if its own header names the same family: counted, and noted
    /// as activity.
    fn accept<'d>(&mut self, protocol: u16, info: &'d [u8], now: Instant) -> Option<&'d [u8]> {
        match datagram::classify(info) {
            Some((p, d)) if p == protocol => {
                if p == proto::IPV4 {
                    self.stats.ip_in += 1;
                } else {
                    self.stats.ipv6_in += 1;
                }
                self.note(d, Direction::Inbound, now);
                Some(d)
            }
            // An IPv6 packet dressed as IPv4 (or the reverse, or garbage)
            // would reach the host's other stack through the TUN, which
            // classifies by the first nibble: never delivered.
            _ => {
                self.stats.ip_in_dropped += 1;
                tracing::debug!(
                    protocol = format_args!("{protocol:#06x}"),
                    len = info.len(),
                    "frame not carrying its protocol's datagram dropped"
                );
                None
            }
        }
    }
}

impl DataPath {
    /// Some NCP is Opened: the IP interface has something to carry.
    pub(super) fn carries(&self) -> bool {
        self.ip_up || self.ipv6_up
    }

    /// The NCP of 0x0021 (IPCP) or 0x0057 (IPv6CP) is Opened: only then
    /// may the family's datagrams come in, compressed or not.
    fn family_open(&self, protocol: u16) -> bool {
        match protocol {
            proto::IPV4 => self.ip_up,
            _ => self.ipv6_up,
        }
    }

    /// A datagram under 0x0021 or 0x0057, delivered only if its NCP is
    /// Opened and its own header names the same family.
    fn deliver<'d>(
        &self,
        c: &mut Carried<'_>,
        protocol: u16,
        info: &'d [u8],
        now: Instant,
    ) -> Option<&'d [u8]> {
        if !self.family_open(protocol) {
            // RFC 1661 §3.5 (and RFC 5072 §3 for IPv6): no datagrams before
            // their NCP opened. Counted with the other unreadable ones,
            // since an unopened family is one the link does not carry.
            c.stats.ip_in_dropped += 1;
            c.stats.not_ready += 1;
            return None;
        }
        c.accept(protocol, info, now)
    }

    /// A VJ frame: rebuilt in the decompressor, then delivered as any IPv4
    /// datagram would be.
    fn receive_vj(
        &mut self,
        c: &mut Carried<'_>,
        protocol: u16,
        info: &[u8],
        now: Instant,
    ) -> Option<&[u8]> {
        let Some(d) = self.vj_rx.as_mut().filter(|_| self.ip_up) else {
            // Not agreed for this direction, or IPCP not open.
            c.stats.ip_in_dropped += 1;
            c.stats.not_ready += 1;
            return None;
        };
        let rebuilt = if protocol == vj::COMPRESSED_TCP {
            d.compressed(info, &mut c.stats.vj)
        } else {
            d.uncompressed(info, &mut c.stats.vj)
        }?;
        c.accept(proto::IPV4, rebuilt, now)
    }
}

impl Link {
    /// A family's NCP opened (`v6` says which). The idle time starts with
    /// the first family up, as pppd counts it from the first NCP.
    pub(super) fn family_up(&mut self, v6: bool, now: Instant) {
        let other = if v6 {
            self.data.ipv6_up = true;
            self.data.ip_up
        } else {
            self.data.ip_up = true;
            self.data.ipv6_up
        };
        if !other {
            self.timers.set(Timer::Idle, idle_end(self.cfg.idle, now));
        }
    }

    /// A family's NCP left Opened: true if it was up. With nothing left
    /// to carry, there is no idle time to run out.
    pub(super) fn family_down(&mut self, v6: bool) -> bool {
        let flag = if v6 {
            &mut self.data.ipv6_up
        } else {
            &mut self.data.ip_up
        };
        let was = std::mem::take(flag);
        if was && !self.data.carries() {
            self.timers.stop(Timer::Idle);
        }
        was
    }

    /// A datagram from the IP interface, to be framed by the caller (the
    /// data path bypasses the control queue to avoid a copy): the protocol
    /// to send it under and the datagram without padding, or None if it
    /// may not go out. A datagram goes out only under the protocol its own
    /// header names, and only while that protocol's NCP is Opened; anything
    /// else is dropped and counted.
    /// With VJ agreed, a TCP datagram may go out as 0x002d or 0x002f, from
    /// the link's own buffer.
    pub fn send_ip<'a>(&'a mut self, datagram: &'a [u8], now: Instant) -> Option<(u16, &'a [u8])> {
        if self.comp.tx_broken() {
            // Our history is no longer known: compression must stop both
            // ways before the peer reads garbage.
            tracing::warn!("CCP: the compressor failed; disabling compression");
            self.compression_fatal(now);
        }
        let mut c = Carried {
            stats: &mut self.stats,
            timers: &mut self.timers,
            cfg: &self.cfg,
        };
        let (p, d) = match datagram::classify(datagram) {
            Some((proto::IPV4, d)) if self.data.ip_up => {
                c.stats.ip_out += 1;
                c.note(d, Direction::Outbound, now);
                match &mut self.data.vj_tx {
                    None => (proto::IPV4, d),
                    Some(v) => match v.compress(d, &mut c.stats.vj) {
                        vj::Packet::Ip(p) => (proto::IPV4, p),
                        vj::Packet::Uncompressed(p) => (vj::UNCOMPRESSED_TCP, p),
                        vj::Packet::Compressed(p) => (vj::COMPRESSED_TCP, p),
                    },
                }
            }
            Some((proto::IPV6, d)) if self.data.ipv6_up => {
                c.stats.ipv6_out += 1;
                c.note(d, Direction::Outbound, now);
                (proto::IPV6, d)
            }
            other => {
                c.stats.ip_out_dropped += 1;
                tracing::debug!(
                    protocol = ?other.map(|(p, _)| format_args!("{p:#06x}").to_string()),
                    len = datagram.len(),
                    "datagram from the interface dropped: its protocol is not open on the link"
                );
                return None;
            }
        };
        Some(self.comp.compress_out(&mut self.stats.ccp, p, d))
    }

    /// The framer dropped a frame (bad FCS, too long): VJ must not trust
    /// the next compressed packet (RFC 1144 §4.3).
    pub fn frame_lost(&mut self) {
        if let Some(d) = &mut self.data.vj_rx {
            d.lost();
        }
    }

    /// A datagram under 0x0021 or 0x0057, delivered only if its NCP is
    /// Opened and its own header names the same family.
    pub(super) fn receive_datagram<'a>(
        &mut self,
        protocol: u16,
        info: &'a [u8],
        now: Instant,
    ) -> Option<&'a [u8]> {
        let mut c = Carried {
            stats: &mut self.stats,
            timers: &mut self.timers,
            cfg: &self.cfg,
        };
        self.data.deliver(&mut c, protocol, info, now)
    }

    /// A VJ frame (0x002d or 0x002f); returns the IPv4 datagram rebuilt
    /// in the link's own buffer.
    pub(super) fn receive_vj(&mut self, protocol: u16, info: &[u8], now: Instant) -> Option<&[u8]> {
        let mut c = Carried {
            stats: &mut self.stats,
            timers: &mut self.timers,
            cfg: &self.cfg,
        };
        self.data.receive_vj(&mut c, protocol, info, now)
    }

    /// A Compressed Datagram (RFC 1962 §3): decompressed, then handled as
    /// the frame it was. LCP is never compressed (RFC 1962 §3), nor are
    /// compressed datagrams nested.
    pub(super) fn receive_compressed(&mut self, info: &[u8], now: Instant) -> Option<&[u8]> {
        let (protocol, at) = self.decompress_frame(info, now)?;
        if tracing::enabled!(target: "carrier::frame", tracing::Level::DEBUG) {
            if let Some(d) = &self.comp.rx {
                tracing::debug!(
                    target: "carrier::frame",
                    "rcvd, decompressed [{}]",
                    crate::ppp::trace::describe(protocol, d.output(at))
                );
            }
        }
        let mut c = Carried {
            stats: &mut self.stats,
            timers: &mut self.timers,
            cfg: &self.cfg,
        };
        match protocol {
            proto::IPV4 | proto::IPV6 => {
                let data = self.comp.rx.as_ref()?.output(at);
                self.data.deliver(&mut c, protocol, data, now)
            }
            vj::COMPRESSED_TCP | vj::UNCOMPRESSED_TCP if self.cfg.ipcp.vj.is_some() => {
                let data = self.comp.rx.as_ref()?.output(at);
                self.data.receive_vj(&mut c, protocol, data, now)
            }
            proto::LCP | ccp::COMPRESSED | ccp::COMPRESSED_LINK => {
                c.stats.ccp.dropped_in += 1;
                tracing::debug!(
                    protocol = format_args!("{protocol:#06x}"),
                    "compressed frame holding a protocol never compressed: dropped"
                );
                None
            }
            _ => {
                // A control protocol (pppd's kernel compresses nothing
                // but data, but others may): handled as if uncompressed.
                let inner = self.comp.rx.as_ref()?.output(at).to_vec();
                let _ = self.dispatch(protocol, &inner, now);
                None
            }
        }
    }
}
