//! PPP Deflate (RFC 1979): one raw deflate stream a direction, cut into
//! packets by sync flushes, each packet led by a 2-octet sequence number.
//! Pure: packets in, packets out.
//!
//! Wire facts pppd's kernel module fixes (and RFC 1979 §2.2 describes):
//! - the compressed data is the protocol field, PFC'ed, and the
//!   information field;
//! - each packet ends where a sync flush would put its empty stored block
//!   (`00 00 ff ff`), without those four octets; the decompressor adds
//!   them back;
//! - a packet that does not shrink is sent as it was, but it has entered
//!   the compressor's history and taken a sequence number, so the
//!   receiver adds every uncompressed packet of the protocols Deflate
//!   covers to its own history (and counts it) too.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::sequenced::{take_sequence, DecompressError};

/// The empty stored block a sync flush ends with (RFC 1951 §3.2.4).
const SYNC_TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// RFC 1979 §2.2: protocols 0x0000-0x3fff are compressed, except the
/// compressed datagrams themselves.
pub fn covers(protocol: u16) -> bool {
    protocol <= 0x3fff && protocol != 0x00fd && protocol != 0x00fb
}

/// The protocol field as it enters the history: PFC'ed (RFC 1979 §2.2).
fn protocol_field(protocol: u16) -> ([u8; 2], usize) {
    let [hi, lo] = protocol.to_be_bytes();
    if hi == 0 {
        ([lo, 0], 1)
    } else {
        ([hi, lo], 2)
    }
}

pub struct DeflateCompressor {
    z: Compress,
    seq: u16,
    broken: bool,
}

impl DeflateCompressor {
    /// `bits`: the peer's window (its request), 9-15.
    pub fn new(bits: u8) -> Self {
        DeflateCompressor {
            // Level 6, zlib's and pppd's kernel module's default.
            z: Compress::new_with_window_bits(Compression::default(), false, bits.clamp(9, 15)),
            seq: 0,
            broken: false,
        }
    }

    /// RFC 1962 §2.1: a Reset-Request from the peer starts the stream
    /// afresh.
    pub fn reset(&mut self) {
        self.z.reset();
        self.seq = 0;
        self.broken = false;
    }

    /// zlib failed mid-packet: what the stream holds is unknown, and
    /// Deflate has no check that would tell the peer (so it is up to
    /// the compressor that holds this one, which says so to CCP).
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Compresses `data` of `protocol` into `out` (sequence number and
    /// deflate data); false if it goes out as it was.
    pub fn compress(&mut self, protocol: u16, data: &[u8], out: &mut Vec<u8>) -> bool {
        if !covers(protocol) {
            return false;
        }
        out.clear();
        out.extend_from_slice(&self.seq.to_be_bytes());
        self.seq = self.seq.wrapping_add(1);
        let (field, n) = protocol_field(protocol);
        let ok = feed(&mut self.z, &field[..n], out, FlushCompress::None)
            && feed(&mut self.z, data, out, FlushCompress::Sync);
        if !ok || !out.ends_with(&SYNC_TRAILER) {
            // zlib refusing work on memory it owns should not happen; if
            // it does, the history is unknown and CCP must go down.
            tracing::warn!("deflate: compressor failed; sending uncompressed");
            self.broken = true;
            return false;
        }
        out.truncate(out.len() - SYNC_TRAILER.len());
        // pppd's rule: only if the whole frame shrinks (2 octets of
        // sequence number against the 2 of the protocol field).
        out.len() < 2 + data.len()
    }
}

/// Runs all of `input` through the compressor into `out`.
fn feed(z: &mut Compress, mut input: &[u8], out: &mut Vec<u8>, flush: FlushCompress) -> bool {
    loop {
        out.reserve(input.len() / 2 + 64);
        let before = z.total_in();
        if z.compress_vec(input, out, flush).is_err() {
            return false;
        }
        let used = (z.total_in() - before) as usize;
        input = &input[used..];
        // Done when everything went in and the flush had room to finish.
        if input.is_empty() && out.len() < out.capacity() {
            return true;
        }
    }
}

pub struct DeflateDecompressor {
    z: Decompress,
    seq: u16,
    scratch: Vec<u8>,
}

impl Default for DeflateDecompressor {
    fn default() -> Self {
        Self::new()
    }
}

impl DeflateDecompressor {
    /// Our own request names the window; zlib's largest takes any.
    pub fn new() -> Self {
        DeflateDecompressor {
            z: Decompress::new_with_window_bits(false, 15),
            seq: 0,
            scratch: Vec::new(),
        }
    }

    pub fn reset(&mut self) {
        self.z.reset(false);
        self.seq = 0;
    }

    /// A 0x00fd packet into `out` (the PFC'ed protocol field and the
    /// information field), at most `limit` octets.
    pub fn decompress(
        &mut self,
        info: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), DecompressError> {
        let data = take_sequence(info, self.seq)?;
        self.seq = self.seq.wrapping_add(1);
        out.clear();
        inflate(&mut self.z, data, out, limit)?;
        inflate(&mut self.z, &SYNC_TRAILER, out, limit)?;
        if out.is_empty() {
            return Err(DecompressError::Short);
        }
        Ok(())
    }

    /// An uncompressed packet the peer's compressor took into its
    /// history: ours takes it too, as a stored block (RFC 1951 §3.2.4),
    /// which is what pppd's kernel `inflateIncomp` amounts to.
    pub fn incomp(&mut self, protocol: u16, data: &[u8]) {
        if !covers(protocol) {
            return;
        }
        self.seq = self.seq.wrapping_add(1);
        let (field, n) = protocol_field(protocol);
        let mut scratch = std::mem::take(&mut self.scratch);
        // Any number of stored blocks adds to the window: one for the
        // protocol field, one for each 64 kB of data, their headers fed
        // apart so nothing is copied.
        for piece in std::iter::once(&field[..n]).chain(data.chunks(usize::from(u16::MAX))) {
            let len = piece.len() as u16;
            let [lo, hi] = len.to_le_bytes();
            let header = [0x00, lo, hi, !lo, !hi];
            scratch.clear();
            let limit = piece.len() + 16;
            if inflate(&mut self.z, &header, &mut scratch, limit)
                .and_then(|()| inflate(&mut self.z, piece, &mut scratch, limit))
                .is_err()
            {
                // The next compressed packet will fail and ask for a reset.
                tracing::debug!("deflate: could not add an uncompressed packet to the history");
            }
        }
        self.scratch = scratch;
    }
}

/// Inflates all of `input` onto `out`, never past `limit` octets (a
/// peer's "bomb" is refused, not followed).
fn inflate(
    z: &mut Decompress,
    mut input: &[u8],
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<(), DecompressError> {
    let mut pos = out.len();
    if pos > limit {
        return Err(DecompressError::TooLong);
    }
    // One octet of room past the limit tells "exactly full" from "more".
    out.resize(limit + 1, 0);
    let result = loop {
        let (was_in, was_out) = (z.total_in(), z.total_out());
        let status = match z.decompress(input, &mut out[pos..], FlushDecompress::Sync) {
            Ok(s) => s,
            Err(_) => break Err(DecompressError::Corrupt),
        };
        let used = (z.total_in() - was_in) as usize;
        let made = (z.total_out() - was_out) as usize;
        input = &input[used..];
        pos += made;
        if pos > limit {
            break Err(DecompressError::TooLong);
        }
        // pppd never ends its stream; a final block is not PPP Deflate.
        if status == Status::StreamEnd {
            break Err(DecompressError::Corrupt);
        }
        if input.is_empty() && pos < out.len() {
            break Ok(());
        }
        if used == 0 && made == 0 {
            break Err(DecompressError::Corrupt);
        }
    };
    out.truncate(pos);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(bits: u8) -> (DeflateCompressor, DeflateDecompressor) {
        (DeflateCompressor::new(bits), DeflateDecompressor::new())
    }

    #[test]
    fn text_shrinks_and_comes_back() {
        let (mut c, mut d) = pair(15);
        let mut wire = Vec::new();
        let mut back = Vec::new();
        let line = b"2026-12-03 17:00:01 hmc1 callhome: problem report 0x1f sent\n".repeat(8);
        for _ in 0..20 {
            assert!(c.compress(0x0021, &line, &mut wire));
            assert!(
                wire.len() < line.len() / 3,
                "{} of {}",
                wire.len(),
                line.len()
            );
            d.decompress(&wire, &mut back, 1502).unwrap();
            assert_eq!(back[0], 0x21);
            assert_eq!(&back[1..], &line[..]);
        }
    }

    #[test]
    fn incompressible_packets_keep_both_histories_in_step() {
        let (mut c, mut d) = pair(12);
        let mut wire = Vec::new();
        let mut back = Vec::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let text = b"the same text again and again, the same text again ".repeat(6);
        for round in 0..5 {
            let noise: Vec<u8> = (0..600)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 24) as u8
                })
                .collect();
            // Noise goes out as it was; the receiver takes it in.
            assert!(!c.compress(0x0021, &noise, &mut wire), "round {round}");
            d.incomp(0x0021, &noise);
            // The next packet refers back into the noise.
            let mut mixed = noise[100..300].to_vec();
            mixed.extend_from_slice(&text);
            assert!(c.compress(0x0057, &mixed, &mut wire));
            d.decompress(&wire, &mut back, 1502).unwrap();
            assert_eq!(back[0], 0x57);
            assert_eq!(&back[1..], &mixed[..]);
        }
    }

    #[test]
    fn a_lost_packet_is_a_sequence_error_and_a_reset_recovers() {
        let (mut c, mut d) = pair(15);
        let mut wire = Vec::new();
        let mut back = Vec::new();
        let data = b"abcabcabcabcabcabcabcabcabcabcabcabc".repeat(4);
        assert!(c.compress(0x0021, &data, &mut wire));
        assert!(c.compress(0x0021, &data, &mut wire));
        assert_eq!(
            d.decompress(&wire, &mut back, 1502),
            Err(DecompressError::Sequence {
                expected: 0,
                got: 1
            })
        );
        c.reset();
        d.reset();
        assert!(c.compress(0x0021, &data, &mut wire));
        d.decompress(&wire, &mut back, 1502).unwrap();
        assert_eq!(&back[1..], &data[..]);
    }

    #[test]
    fn garbage_and_bombs_are_errors_not_panics() {
        let mut d = DeflateDecompressor::new();
        let mut back = Vec::new();
        assert_eq!(
            d.decompress(&[0], &mut back, 1500),
            Err(DecompressError::Short)
        );
        let mut d = DeflateDecompressor::new();
        assert!(d
            .decompress(&[0, 0, 0xff, 0xfe, 0x13], &mut back, 1500)
            .is_err());
        // 64 kB of zeros deflates to a few hundred octets.
        let mut c = DeflateCompressor::new(15);
        let mut wire = Vec::new();
        assert!(c.compress(0x0021, &vec![0u8; 65536], &mut wire));
        let mut d = DeflateDecompressor::new();
        assert_eq!(
            d.decompress(&wire, &mut back, 1502),
            Err(DecompressError::TooLong)
        );
        assert!(back.len() <= 1502 + 1);
    }

    #[test]
    fn control_protocols_are_not_covered() {
        let mut c = DeflateCompressor::new(15);
        let mut wire = Vec::new();
        assert!(!c.compress(0x8021, &[0u8; 100], &mut wire));
        assert!(!c.compress(0x00fd, &[0u8; 100], &mut wire));
        assert_eq!(c.seq, 0);
    }
}
