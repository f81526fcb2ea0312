//! CCP's engines (RFC 1962): the compressor and decompressor started and
//! stopped by the packets CCP exchanges, and the Reset-Request/Reset-Ack
//! that restart the peer's compressor after we lost its history.

use std::time::{Duration, Instant};

use super::timer::{Timer, Timers};
use super::{Event, Link};
use crate::ppp::ccp::{self, Method};
use crate::ppp::compress::{CcpStats, Compressor, DecompressError, Decompressor};
use crate::ppp::fsm::{code, Signal, State};

#[derive(Default)]
pub(super) struct Compression {
    /// Running from the moment we Ack the peer's CCP request, as pppd's
    /// kernel starts it (RFC 1962 leaves the moment open; a receiver must
    /// be ready from its Ack).
    tx: Option<Compressor>,
    /// Running from the moment the peer Acks our request.
    pub(super) rx: Option<Decompressor>,
    /// A decompression failed: compressed frames are dropped until the
    /// peer's Reset-Ack (RFC 1962 §2.1).
    rx_broken: bool,
    /// The identifier of the Reset-Request outstanding; [`Timer::CcpReset`]
    /// says when to repeat it. Set and cleared with that timer.
    reset_id: Option<u8>,
    /// More errors came while a Reset-Request was outstanding (pppd's
    /// RREQ_REPEAT).
    reset_again: bool,
    /// CCP is Opened.
    up: bool,
}

impl Compression {
    /// The methods compressing each way now (tx, rx).
    pub(super) fn methods(&self) -> (Option<Method>, Option<Method>) {
        (
            self.tx.as_ref().map(|c| c.method()),
            self.rx.as_ref().map(|d| d.method()),
        )
    }

    /// The compressor failed: our history is no longer known.
    pub(super) fn tx_broken(&self) -> bool {
        self.tx.as_ref().is_some_and(|c| c.is_broken())
    }

    /// A datagram (or VJ packet) on its way out, through the compressor
    /// when one runs: 0x00fd and the compressed data, or as it was.
    /// Until CCP is Opened, the compressor runs (its history must match
    /// the peer's, which takes in what we send from our Ack on) but the
    /// datagram goes out as it was: RFC 1962 §3 sends no compressed
    /// datagram before then, and pppd's kernel does the same.
    pub(super) fn compress_out<'a>(
        &'a mut self,
        stats: &mut CcpStats,
        protocol: u16,
        data: &'a [u8],
    ) -> (u16, &'a [u8]) {
        let Some(c) = &mut self.tx else {
            return (protocol, data);
        };
        if tracing::enabled!(target: "carrier::frame", tracing::Level::DEBUG) {
            tracing::debug!(
                target: "carrier::frame",
                "sent, before compression [{}]",
                crate::ppp::trace::describe(protocol, data)
            );
        }
        match c.compress(protocol, data, self.up, stats) {
            Some(z) => (ccp::COMPRESSED, z),
            None => (protocol, data),
        }
    }

    /// The peer's compressor took every frame of its protocols into its
    /// history, compressed or not (RFC 1979 §2.2, RFC 1977 §2): so does
    /// our decompressor, unless it waits for a Reset-Ack.
    pub(super) fn incomp(&mut self, protocol: u16, info: &[u8]) {
        if let Some(d) = self.rx.as_mut().filter(|_| !self.rx_broken) {
            d.incomp(protocol, info);
        }
    }

    /// Both engines stop when CCP terminates or goes down, either way
    /// (pppd's kernel: TermReq, TermAck).
    fn stop(&mut self, timers: &mut Timers) {
        self.tx = None;
        self.rx = None;
        self.rx_broken = false;
        self.reset_id = None;
        timers.stop(Timer::CcpReset);
        self.reset_again = false;
    }
}

impl Link {
    pub(super) fn ccp_engines_stop(&mut self) {
        self.comp.stop(&mut self.timers);
    }

    /// Compression stops both ways at once (pppd: "disabling
    /// compression"), and CCP terminates.
    pub(super) fn compression_fatal(&mut self, now: Instant) {
        self.stats.ccp.fatal += 1;
        self.comp.tx = None;
        self.comp.rx = None;
        self.ccp.close(now);
        self.pump(now);
    }

    /// Runs the decompressor over a 0x00fd frame: the protocol it held
    /// and where its data starts, or None (counted, and a Reset-Request
    /// or CCP's end when the error calls for it).
    pub(super) fn decompress_frame(&mut self, info: &[u8], now: Instant) -> Option<(u16, usize)> {
        let mru = usize::from(self.framing().mru);
        let Some(d) = self.comp.rx.as_mut() else {
            // Before the peer Acked our request, or after CCP went down:
            // not ours to read (RFC 1962 §3).
            self.stats.ccp.dropped_in += 1;
            self.stats.not_ready += 1;
            self.frame_lost();
            return None;
        };
        if self.comp.rx_broken {
            // Waiting for the Reset-Ack: the peer's compressor has not
            // started afresh yet.
            self.stats.ccp.dropped_in += 1;
            self.frame_lost();
            self.request_reset(now);
            return None;
        }
        match d.decompress(info, mru, &mut self.stats.ccp) {
            Ok(x) => Some(x),
            Err(e) => {
                self.decompress_failed(e, now);
                None
            }
        }
    }

    fn decompress_failed(&mut self, e: DecompressError, now: Instant) {
        // What was lost may have carried VJ deltas (RFC 1144 §4.3).
        self.frame_lost();
        if e.is_fatal() {
            // pppd: "Lost compression sync: disabling compression".
            tracing::warn!(error = %e, "CCP: lost compression sync; disabling compression");
            self.compression_fatal(now);
            return;
        }
        tracing::debug!(error = %e, "CCP: decompression failed; asking the peer to reset");
        self.comp.rx_broken = true;
        self.request_reset(now);
    }

    /// RFC 1962 §2.1: a Reset-Request, unless one is outstanding (then it
    /// is repeated when its timer runs out, as pppd does).
    fn request_reset(&mut self, now: Instant) {
        if self.comp.reset_id.is_some() {
            self.comp.reset_again = true;
            return;
        }
        let id = self.ccp.alloc_id();
        self.send_reset_request(id, now);
    }

    fn send_reset_request(&mut self, id: u8, now: Instant) {
        if self.ccp.state() != State::Opened {
            return;
        }
        self.ccp.send(ccp::code::RESET_REQ, id, &[]);
        self.stats.ccp.reset_requests_sent += 1;
        // pppd's RACKTIMEOUT.
        self.comp.reset_id = Some(id);
        self.timers
            .set(Timer::CcpReset, Some(now + Duration::from_secs(1)));
        self.comp.reset_again = false;
        self.pump(now);
    }

    /// [`Timer::CcpReset`] ran out: the request is repeated if errors
    /// came meanwhile and no Reset-Ack has mended them.
    pub(super) fn reset_timeout(&mut self, now: Instant) {
        let Some(id) = self.comp.reset_id.take() else {
            return;
        };
        if self.comp.reset_again && self.comp.rx_broken {
            self.send_reset_request(id, now);
        }
    }

    /// A CCP packet we send starts or stops an engine, as pppd's kernel
    /// watches them go out.
    pub(super) fn ccp_sent(&mut self, packet: &[u8]) {
        match packet.first().copied() {
            // We renegotiate what we receive: the decompressor waits for
            // the peer's Ack.
            Some(code::CONF_REQ) => {
                self.comp.rx = None;
                self.comp.rx_broken = false;
                self.comp.reset_id = None;
                self.timers.stop(Timer::CcpReset);
            }
            Some(code::TERM_REQ | code::TERM_ACK) => self.ccp_engines_stop(),
            // We Ack the peer's request: compress towards it from the next
            // datagram on.
            Some(code::CONF_ACK) => {
                if let Some(tx) = self.ccp.opts.tx_agreed.take() {
                    self.comp.tx = tx.map(Compressor::new);
                }
            }
            _ => {}
        }
    }

    pub(super) fn receive_ccp(&mut self, info: &[u8], now: Instant) {
        // RFC 1962 §2: CCP is an NCP like the others.
        let Some(pkt) = self.network_packet("CCP", info) else {
            return;
        };
        match pkt.code {
            // The peer renegotiates what it receives: our compressor stops
            // until we Ack again (pppd's kernel does the same).
            code::CONF_REQ => self.comp.tx = None,
            code::TERM_REQ | code::TERM_ACK => self.ccp_engines_stop(),
            _ => {}
        }
        match self.ccp.receive(pkt, now) {
            Ok(None) => {}
            Ok(Some(u)) => match u.code {
                ccp::code::RESET_REQ => {
                    // RFC 1962 §2.1: only while Opened; the compressor
                    // starts afresh, then the Reset-Ack tells the peer.
                    if self.ccp.state() == State::Opened {
                        self.stats.ccp.reset_requests_in += 1;
                        if let Some(c) = &mut self.comp.tx {
                            c.reset();
                        }
                        self.ccp.send(ccp::code::RESET_ACK, u.id, &[]);
                    }
                }
                ccp::code::RESET_ACK => {
                    // The peer's compressor started afresh whatever the
                    // identifier; so does our decompressor.
                    self.stats.ccp.reset_acks_in += 1;
                    if let Some(d) = &mut self.comp.rx {
                        d.reset();
                    }
                    self.comp.rx_broken = false;
                    if self.comp.reset_id == Some(u.id) {
                        self.comp.reset_id = None;
                        self.timers.stop(Timer::CcpReset);
                        self.comp.reset_again = false;
                    }
                }
                _ => {
                    let len = 4 + u.data.len();
                    self.ccp.receive_unknown_code(&info[..len], now);
                }
            },
            Err(why) => self.ignored("CCP", why),
        }
        // Our request was Acked: the peer compresses towards us now.
        if pkt.code == code::CONF_ACK {
            if let Some(rx) = self.ccp.opts.rx_agreed.take() {
                self.comp.rx = rx.map(Decompressor::new);
                self.comp.rx_broken = false;
            }
        }
    }

    pub(super) fn ccp_signal(&mut self, s: Signal) {
        match s {
            Signal::Up => {
                self.comp.up = true;
                let (tx, rx) = self.comp.methods();
                match (tx, rx) {
                    (Some(t), Some(r)) if t == r => tracing::info!("{t} compression enabled"),
                    (Some(t), Some(r)) => tracing::info!("{r} / {t} compression enabled"),
                    (None, Some(r)) => tracing::info!("{r} receive compression enabled"),
                    (Some(t), None) => tracing::info!("{t} transmit compression enabled"),
                    (None, None) => tracing::info!("CCP up; no compression agreed"),
                }
                self.events.push_back(Event::CcpUp { tx, rx });
            }
            Signal::Down => {
                // The engines follow the packets (a ConfReq, TermReq or
                // TermAck each way stops them), not the signal: on a
                // renegotiation tld comes after our new ConfAck started
                // the compressor again.
                if std::mem::take(&mut self.comp.up) {
                    self.events.push_back(Event::CcpDown);
                }
            }
            // CCP ending does not end the link: IP goes on uncompressed.
            Signal::Started | Signal::Finished => {}
        }
    }
}
