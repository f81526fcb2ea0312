//! The compressor and decompressor CCP agreed on (RFC 1962 §3), whichever
//! method it is: one type each for the link to hold, with the counters.

use super::bsdcomp::{self, BsdCompressor, BsdDecompressor};
use super::ccp::Method;
use super::deflate::{self, DeflateCompressor, DeflateDecompressor};
pub use super::sequenced::{take_sequence, DecompressError};

/// CCP's counters, in `stats.link.ccp`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CcpStats {
    /// Datagrams sent compressed (0x00fd) and their octets before and
    /// after (protocol field included before, sequence number after).
    pub compressed_out: u64,
    pub octets_before: u64,
    pub octets_after: u64,
    /// Datagrams that did not shrink and went out as they were.
    pub incompressible_out: u64,
    /// Datagrams sent as they were between our Ack and CCP's Opened (in
    /// the history all the same).
    pub before_open_out: u64,
    /// 0x00fd received and decompressed, and the octets they held.
    pub compressed_in: u64,
    pub octets_in_compressed: u64,
    pub octets_in_plain: u64,
    /// 0x00fd that could not be decompressed, or that came while a
    /// reset was awaited or without a decompressor: dropped.
    pub decompress_errors: u64,
    pub dropped_in: u64,
    pub reset_requests_sent: u64,
    pub reset_requests_in: u64,
    pub reset_acks_in: u64,
    /// CCP taken down after an error a reset cannot mend.
    pub fatal: u64,
}

enum Tx {
    Deflate(DeflateCompressor),
    Bsd(BsdCompressor),
}

/// Compresses what we send, with the method the peer asked for.
pub struct Compressor {
    method: Method,
    tx: Tx,
    buf: Vec<u8>,
}

impl Compressor {
    pub fn new(method: Method) -> Self {
        let tx = match method {
            Method::Deflate { bits, .. } => Tx::Deflate(DeflateCompressor::new(bits)),
            Method::BsdCompress { bits } => Tx::Bsd(BsdCompressor::new(bits)),
        };
        Compressor {
            method,
            tx,
            buf: Vec::with_capacity(1600),
        }
    }

    pub fn method(&self) -> Method {
        self.method
    }

    /// The engine failed on its own memory: its history is unknown.
    pub fn is_broken(&self) -> bool {
        match &self.tx {
            Tx::Deflate(c) => c.is_broken(),
            Tx::Bsd(_) => false,
        }
    }

    pub fn reset(&mut self) {
        match &mut self.tx {
            Tx::Deflate(c) => c.reset(),
            Tx::Bsd(c) => c.reset(),
        }
    }

    /// The information field of a 0x00fd frame for `data` of `protocol`,
    /// or None if it goes out as it was. `send` says whether it may go out
    /// compressed at all (CCP Opened); the history takes it in either way.
    pub fn compress(
        &mut self,
        protocol: u16,
        data: &[u8],
        send: bool,
        stats: &mut CcpStats,
    ) -> Option<&[u8]> {
        let covered = match self.method {
            Method::Deflate { .. } => deflate::covers(protocol),
            Method::BsdCompress { .. } => bsdcomp::covers(protocol),
        };
        if !covered {
            return None;
        }
        let shrank = match &mut self.tx {
            Tx::Deflate(c) => c.compress(protocol, data, &mut self.buf),
            Tx::Bsd(c) => c.compress(protocol, data, &mut self.buf),
        };
        if !send {
            stats.before_open_out += 1;
            return None;
        }
        if !shrank {
            stats.incompressible_out += 1;
            return None;
        }
        stats.compressed_out += 1;
        stats.octets_before += 2 + data.len() as u64;
        stats.octets_after += self.buf.len() as u64;
        Some(&self.buf)
    }
}

enum Rx {
    Deflate(DeflateDecompressor),
    Bsd(BsdDecompressor),
}

/// Decompresses what the peer sends, with the method of our request.
pub struct Decompressor {
    method: Method,
    rx: Rx,
    buf: Vec<u8>,
}

impl Decompressor {
    pub fn new(method: Method) -> Self {
        let rx = match method {
            Method::Deflate { .. } => Rx::Deflate(DeflateDecompressor::new()),
            Method::BsdCompress { bits } => Rx::Bsd(BsdDecompressor::new(bits)),
        };
        Decompressor {
            method,
            rx,
            buf: Vec::with_capacity(1600),
        }
    }

    pub fn method(&self) -> Method {
        self.method
    }

    pub fn reset(&mut self) {
        match &mut self.rx {
            Rx::Deflate(d) => d.reset(),
            Rx::Bsd(d) => d.reset(),
        }
    }

    /// An uncompressed frame the peer's compressor saw: into the history.
    pub fn incomp(&mut self, protocol: u16, data: &[u8]) {
        match &mut self.rx {
            Rx::Deflate(d) => d.incomp(protocol, data),
            Rx::Bsd(d) => d.incomp(protocol, data),
        }
    }

    /// A 0x00fd information field: the protocol it held, and where in
    /// [`Decompressor::output`] its information field (at most `mru`
    /// octets) starts.
    pub fn decompress(
        &mut self,
        info: &[u8],
        mru: usize,
        stats: &mut CcpStats,
    ) -> Result<(u16, usize), DecompressError> {
        // The protocol field is at most 2 octets; the information field
        // is checked against the MRU below.
        let limit = mru + 2;
        let r = match &mut self.rx {
            Rx::Deflate(d) => d.decompress(info, &mut self.buf, limit),
            Rx::Bsd(d) => d.decompress(info, &mut self.buf, limit),
        };
        if let Err(e) = r {
            stats.decompress_errors += 1;
            return Err(e);
        }
        let b = &self.buf;
        // RFC 1661 §6.5: an odd first octet is a compressed protocol field.
        let (protocol, at) = match *b.as_slice() {
            [lo, ..] if lo & 1 == 1 => (u16::from(lo), 1),
            [hi, lo, ..] => (u16::from_be_bytes([hi, lo]), 2),
            _ => {
                stats.decompress_errors += 1;
                return Err(DecompressError::Short);
            }
        };
        if b.len() - at > mru {
            stats.decompress_errors += 1;
            return Err(DecompressError::TooLong);
        }
        stats.compressed_in += 1;
        stats.octets_in_compressed += info.len() as u64;
        stats.octets_in_plain += b.len() as u64;
        Ok((protocol, at))
    }

    /// The last decompressed frame from `at` on.
    pub fn output(&self, at: usize) -> &[u8] {
        self.buf.get(at..).unwrap_or(&[])
    }
}
