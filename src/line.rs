//! One PPP line without I/O: the HDLC codec (RFC 1662) joined to the
//! sans-IO [`Link`], octets in and out, datagrams in and out, events, the
//! next deadline and the statistics of both layers, with the time passed
//! in. The tokio session runs every call on this one type (as the
//! benches' in-memory lines and the `line_bytes` fuzz target do), so the
//! glue between codec and link exists once:
//!
//! * the framing follows LCP: when it opens or goes down the encoder's
//!   ACCM, ACFC and PFC and the decoder's ACCM and MRU change before the
//!   next frame is encoded or decoded;
//! * a frame the decoder drops tells the link (VJ must resynchronise,
//!   RFC 1144 §4.3);
//! * control frames queued in the link go out before a datagram, so the
//!   peer hears (say) our Configure-Ack before the first datagram of the
//!   protocol it opens;
//! * frames are traced (`-v`) and shown to a tap (the pcap) in both
//!   directions, the header split only when someone looks.
//!
//! Drivers reach the link only through these verbs (and read it through
//! [`Line::link`]), so none of them can change the framing behind the
//! codec's back.

use std::time::Instant;

use bytes::BytesMut;

use crate::hdlc::{split_header, Decoder, DecoderStats, Encoder, DEFAULT_MRU, FLAG};
use crate::ppp::activity::Direction;
use crate::ppp::link::{Event, Framing, Link, LinkConfig, LinkStats};
use crate::ppp::trace::describe;
use crate::ppp::DownReason;

/// Something that sees every frame, by direction, protocol and
/// information field (the session's pcap capture; any closure).
pub trait FrameTap {
    fn frame(&mut self, dir: Direction, protocol: u16, info: &[u8]);
}

impl<F: FnMut(Direction, u16, &[u8])> FrameTap for F {
    fn frame(&mut self, dir: Direction, protocol: u16, info: &[u8]) {
        self(dir, protocol, info)
    }
}

/// The tap of one call, if anyone looks.
pub type Tap<'a> = Option<&'a mut dyn FrameTap>;

/// The tap again for one call of several (an `Option` is no coercion
/// site, so `as_deref_mut` cannot shorten the object's lifetime).
fn again<'b>(tap: &'b mut Tap<'_>) -> Tap<'b> {
    match tap {
        Some(t) => Some(&mut **t),
        None => None,
    }
}

/// Octets of IP data frames (protocol field on), as pppd's BYTES_SENT and
/// BYTES_RCVD count them: the kernel's unit sees no control frames.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Octets {
    pub sent: u64,
    pub rcvd: u64,
}

/// A PPP line: [`Link`] plus its HDLC [`Encoder`] and [`Decoder`].
#[derive(Debug)]
pub struct Line {
    link: Link,
    enc: Encoder,
    dec: Decoder,
    /// The framing the codec was last set to.
    applied: Option<Framing>,
    octets: Octets,
}

impl Line {
    pub fn new(cfg: LinkConfig, seed: [u8; 32]) -> Line {
        let mut line = Line {
            link: Link::new(cfg, seed),
            enc: Encoder::new(),
            dec: Decoder::default(),
            applied: None,
            octets: Octets::default(),
        };
        line.sync_framing();
        line
    }

    /// Opens the link on a lower layer that is up (a connected line).
    pub fn start(&mut self, now: Instant) {
        self.link.open(now);
        self.link.lower_up(now);
    }

    pub fn link(&self) -> &Link {
        &self.link
    }

    /// Closes the link (LCP Terminate-Request) for `reason`.
    pub fn close(&mut self, reason: DownReason, now: Instant) {
        self.link.close(reason, now);
    }

    /// Closes IPv6CP alone; IPv4 carries on.
    pub fn close_ipv6(&mut self, now: Instant) {
        self.link.close_ipv6(now);
    }

    /// The lower layer went away (hangup, read error, carrier lost).
    pub fn lower_down(&mut self, now: Instant) {
        self.link.lower_down(now);
    }

    /// The verdict on a peer held after it authenticated
    /// ([`Event::Authorize`]).
    pub fn authorize(&mut self, allow: bool, now: Instant) {
        self.link.authorize(allow, now);
    }

    pub fn link_stats(&self) -> &LinkStats {
        self.link.stats()
    }

    pub fn framing_stats(&self) -> &DecoderStats {
        self.dec.stats()
    }

    pub fn octets(&self) -> Octets {
        self.octets
    }

    /// The next event of the link, the framing already changed for it.
    pub fn poll_event(&mut self) -> Option<Event> {
        let ev = self.link.poll_event()?;
        if matches!(ev, Event::LcpUp { .. } | Event::LcpDown) {
            self.sync_framing();
        }
        Some(ev)
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.link.poll_timeout()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.link.handle_timeout(now);
    }

    /// Octets read from the line: each good frame goes to the link, and
    /// each IP datagram that comes out of it to `deliver`.
    ///
    /// The octets are decoded a frame at a time, the framing looked at
    /// between frames: the peer's Configure-Ack that opens LCP and its
    /// first frame under the new ACCM (raw control octets) often come in
    /// one read, and that frame decoded under the old ACCM loses its
    /// controls and is dropped (pppd's kernel does, and retransmits three
    /// seconds later).
    pub fn handle_input(
        &mut self,
        bytes: &[u8],
        now: Instant,
        tap: Tap<'_>,
        deliver: impl FnMut(&[u8]),
    ) {
        self.handle_input_screened(bytes, now, tap, |_| true, deliver);
    }

    /// [`Line::handle_input`], each good frame (address, control and
    /// protocol fields as received) first shown to `screen`: one it
    /// returns false for never reaches the link. For a test's peer that
    /// looks at frames the link would answer or swallow.
    pub fn handle_input_screened(
        &mut self,
        bytes: &[u8],
        now: Instant,
        mut tap: Tap<'_>,
        mut screen: impl FnMut(&[u8]) -> bool,
        mut deliver: impl FnMut(&[u8]),
    ) {
        self.sync_framing();
        let discarded = self.dec.stats().discarded();
        let watched =
            tap.is_some() || tracing::enabled!(target: "carrier::frame", tracing::Level::DEBUG);
        let mut rest = bytes;
        while !rest.is_empty() {
            let cut = memchr::memchr(FLAG, rest).map_or(rest.len(), |i| i + 1);
            let (chunk, tail) = rest.split_at(cut);
            rest = tail;
            let (link, octets) = (&mut self.link, &mut self.octets);
            let mut tap = again(&mut tap);
            self.dec.decode(
                chunk,
                |frame| {
                    // The header is split here only for the trace and the
                    // tap; the link splits it for itself.
                    if let Some((protocol, info)) =
                        watched.then(|| split_header(frame).ok()).flatten()
                    {
                        tracing::debug!(target: "carrier::frame", "rcvd [{}]", describe(protocol, info));
                        if let Some(t) = tap.as_mut() {
                            t.frame(Direction::Inbound, protocol, info);
                        }
                    }
                    if !screen(frame) {
                        return;
                    }
                    if let Some(datagram) = link.handle_frame(frame, now) {
                        octets.rcvd += 2 + datagram.len() as u64;
                        deliver(datagram);
                    }
                },
                |why| tracing::debug!(?why, "frame discarded"),
            );
            self.sync_framing();
        }
        // A damaged frame may have been a VJ one: the decompressor must
        // resynchronise (RFC 1144 §4.3).
        if self.dec.stats().discarded() > discarded {
            self.link.frame_lost();
        }
    }

    /// Appends to `wire` every frame the link has to send; returns how many.
    pub fn transmit(&mut self, now: Instant, mut tap: Tap<'_>, wire: &mut BytesMut) -> usize {
        let mut n = 0;
        while self.transmit_one(now, again(&mut tap), wire) {
            n += 1;
        }
        n
    }

    /// Appends to `wire` the next frame the link has to send, if any; a
    /// caller that puts something between two frames goes one at a time.
    pub fn transmit_one(&mut self, now: Instant, tap: Tap<'_>, wire: &mut BytesMut) -> bool {
        self.sync_framing();
        let Some(f) = self.link.poll_transmit() else {
            return false;
        };
        encode(&mut self.enc, f.protocol, &f.data, now, tap, wire);
        true
    }

    /// Appends to `wire` a frame of any protocol the link did not make
    /// (a test's hostile peer), framed as the line frames now. The link
    /// neither sees nor counts it.
    pub fn send_frame(
        &mut self,
        protocol: u16,
        info: &[u8],
        now: Instant,
        tap: Tap<'_>,
        wire: &mut BytesMut,
    ) {
        self.sync_framing();
        encode(&mut self.enc, protocol, info, now, tap, wire);
    }

    /// Appends to `wire` a frame of `body`'s octets as they are (address,
    /// control, protocol and information, whether or not they parse),
    /// every control escaped so the peer decodes it under any ACCM: for a
    /// test's hostile peer, which writes frames no link would. The tap
    /// sees it if its header splits. The link neither sees nor counts it.
    pub fn send_raw(&mut self, body: &[u8], tap: Tap<'_>, wire: &mut BytesMut) {
        if let (Some(t), Ok((protocol, info))) = (tap, split_header(body)) {
            t.frame(Direction::Outbound, protocol, info);
        }
        self.enc.encode_raw(body, wire);
    }

    /// An IP datagram (IPv4 or IPv6) to send: appended to `wire` after the
    /// control frames waiting before it, compressed as the link agreed.
    /// False if the link does not carry it now (dropped and counted there).
    pub fn send_ip(
        &mut self,
        datagram: &[u8],
        now: Instant,
        mut tap: Tap<'_>,
        wire: &mut BytesMut,
    ) -> bool {
        self.transmit(now, again(&mut tap), wire);
        let Some((protocol, frame)) = self.link.send_ip(datagram, now) else {
            return false;
        };
        self.octets.sent += 2 + frame.len() as u64;
        encode(&mut self.enc, protocol, frame, now, tap, wire);
        true
    }

    /// Sets the codec to the link's framing if that changed.
    fn sync_framing(&mut self) {
        let f = self.link.framing();
        if self.applied == Some(f) {
            return;
        }
        self.applied = Some(f);
        self.enc.set_accm(f.tx_accm);
        self.enc.set_compression(f.tx_acfc, f.tx_pfc);
        self.dec.set_accm(f.rx_accm);
        // RFC 1661 §6.1: we still accept full-size frames if we asked for less.
        self.dec.set_mru(usize::from(f.mru).max(DEFAULT_MRU));
        tracing::debug!(
            tx_accm = format_args!("{:#x}", f.tx_accm),
            rx_accm = format_args!("{:#x}", f.rx_accm),
            acfc = f.tx_acfc,
            pfc = f.tx_pfc,
            "framing"
        );
    }
}

/// One frame out: traced, tapped, framed onto `wire`.
fn encode(
    enc: &mut Encoder,
    protocol: u16,
    info: &[u8],
    now: Instant,
    tap: Tap<'_>,
    wire: &mut BytesMut,
) {
    tracing::debug!(target: "carrier::frame", "sent [{}]", describe(protocol, info));
    if let Some(t) = tap {
        t.frame(Direction::Outbound, protocol, info);
    }
    enc.encode_at(protocol, info, now, wire);
}
