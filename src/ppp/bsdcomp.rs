//! BSD-Compress (RFC 1977): LZW as in Unix `compress`, one dictionary a
//! direction kept across packets, each packet led by a 2-octet sequence
//! number. Pure: packets in, packets out. No crate does this one.
//!
//! The rules both ends must follow octet for octet (RFC 1977 §2 and the
//! BSD/pppd implementation the RFC was written from):
//! - the first character is the protocol's low octet (only protocols
//!   0x0021-0x00f9 are compressed), the rest the information field;
//! - codes are 9 bits to begin with, sent most significant bit first;
//!   257 is the first free code, 256 (CLEAR) empties the dictionary and
//!   may only end a packet; the last partial octet is padded with ones;
//! - a packet boundary ends the current string without adding a code,
//!   but the code size grows as it would have without the boundary;
//! - the compression ratio is checked at the end of a packet once 10000
//!   more octets went in; with the dictionary full and the ratio falling
//!   (or below 1), both ends clear it. The receiver counts exactly what
//!   the sender counted, so they clear at the same packet even when no
//!   CLEAR code can be sent (the packet went out uncompressed);
//! - a packet that does not shrink goes out as it was, after entering
//!   the dictionary; the receiver runs its own dictionary over it.

use super::sequenced::{take_sequence, DecompressError};

const CLEAR: u16 = 256;
const FIRST: u16 = 257;
const CHECK_GAP: u32 = 10_000;
const RATIO_SCALE_LOG: u32 = 8;
const RATIO_MAX: u32 = 0x7fff_ffff >> RATIO_SCALE_LOG;
/// A slot that holds no code in any dictionary.
const NO_CODE: u16 = u16::MAX;

/// RFC 1977 §2: the protocols BSD-Compress carries.
pub fn covers(protocol: u16) -> bool {
    (0x0021..=0x00f9).contains(&protocol)
}

fn max_code(bits: u32) -> u32 {
    (1 << bits) - 1
}

/// The dictionary and its counters, the same on both ends.
struct Dict {
    max_max_code: u32,
    /// The largest code in use (FIRST - 1 when empty).
    max_ent: u32,
    n_bits: u32,
    seq: u16,
    /// Octets in and out since the last clear, aged (RFC 1977 §2.2).
    in_count: u32,
    bytes_out: u32,
    ratio: u32,
    checkpoint: u32,
    /// Open-addressed (prefix, suffix) -> code. A slot holds a code only
    /// while that code is below `max_ent`, so clearing costs nothing;
    /// `slot_of` lets a reassigned code evict its old slot.
    keys: Vec<u32>,
    codes: Vec<u16>,
    slot_of: Vec<u32>,
    hash_shift: u32,
    /// For decoding: each code's prefix code, last octet and length.
    prefix: Vec<u16>,
    suffix: Vec<u8>,
    lens: Vec<u16>,
}

impl Dict {
    fn new(bits: u8) -> Dict {
        let bits = u32::from(bits.clamp(9, 15));
        // A prime above the code count keeps probe chains short.
        let (size, hash_shift) = match bits {
            9..=12 => (5003, 4),
            13 => (9001, 5),
            14 => (18013, 6),
            _ => (35023, 7),
        };
        let codes = max_code(bits) as usize + 1;
        let mut d = Dict {
            max_max_code: max_code(bits),
            max_ent: 0,
            n_bits: 9,
            seq: 0,
            in_count: 0,
            bytes_out: 0,
            ratio: 0,
            checkpoint: CHECK_GAP,
            keys: vec![0; size],
            codes: vec![NO_CODE; size],
            slot_of: vec![0; codes],
            hash_shift,
            prefix: vec![0; codes],
            suffix: vec![0; codes],
            lens: vec![1; codes],
        };
        d.reset();
        d
    }

    fn reset(&mut self) {
        self.seq = 0;
        self.clear();
    }

    fn clear(&mut self) {
        self.max_ent = u32::from(FIRST) - 1;
        self.n_bits = 9;
        self.ratio = 0;
        self.bytes_out = 0;
        self.in_count = 0;
        self.checkpoint = CHECK_GAP;
    }

    /// True (and the dictionary cleared) when it is time to clear.
    fn check(&mut self) -> bool {
        if self.in_count < self.checkpoint {
            return false;
        }
        if self.in_count >= RATIO_MAX || self.bytes_out >= RATIO_MAX {
            self.in_count -= self.in_count / 4;
            self.bytes_out -= self.bytes_out / 4;
        }
        self.checkpoint = self.in_count + CHECK_GAP;
        if self.max_ent >= self.max_max_code {
            let scaled = self.in_count << RATIO_SCALE_LOG;
            let new_ratio = scaled.checked_div(self.bytes_out).unwrap_or(scaled);
            if new_ratio < self.ratio || new_ratio < 1 << RATIO_SCALE_LOG {
                self.clear();
                return true;
            }
            self.ratio = new_ratio;
        }
        false
    }

    fn live(&self, slot: usize) -> bool {
        u32::from(self.codes[slot]) < self.max_ent + 1 && self.codes[slot] != NO_CODE
    }

    /// The code for `prefix` + `c`, or the empty slot where it would go.
    fn find(&self, prefix: u32, c: u8) -> Result<u32, usize> {
        let key = (u32::from(c) << 16) | prefix;
        let size = self.keys.len();
        let mut slot = (((u32::from(c)) << self.hash_shift) ^ prefix) as usize % size;
        let step = if slot == 0 { 1 } else { slot };
        loop {
            if !self.live(slot) {
                return Err(slot);
            }
            if self.keys[slot] == key {
                return Ok(u32::from(self.codes[slot]));
            }
            slot += step;
            if slot >= size {
                slot -= size;
            }
        }
    }

    /// The first free slot on `prefix` + `c`'s probe chain. The receiver
    /// does not look the pair up: a sender in step never sends a code
    /// for a pair it already has.
    fn free_slot(&self, prefix: u32, c: u8) -> usize {
        let size = self.keys.len();
        let mut slot = (((u32::from(c)) << self.hash_shift) ^ prefix) as usize % size;
        let step = if slot == 0 { 1 } else { slot };
        while self.live(slot) {
            slot += step;
            if slot >= size {
                slot -= size;
            }
        }
        slot
    }

    /// Gives the next code to `prefix` + `c` at `slot` (from `find`).
    fn add(&mut self, slot: usize, prefix: u32, c: u8) {
        let code = self.max_ent + 1;
        let old = self.slot_of[code as usize] as usize;
        if u32::from(self.codes[old]) == code {
            self.codes[old] = NO_CODE;
        }
        self.slot_of[code as usize] = slot as u32;
        self.keys[slot] = (u32::from(c) << 16) | prefix;
        self.codes[slot] = code as u16;
        self.prefix[code as usize] = prefix as u16;
        self.suffix[code as usize] = c;
        self.lens[code as usize] = self.lens[prefix as usize].saturating_add(1);
        self.max_ent = code;
    }

    /// Runs a packet through the dictionary as the compressor does,
    /// handing each code (with its width) to `emit`; returns the octets
    /// counted in (the protocol octet and the data).
    fn encode(&mut self, protocol: u8, data: &[u8], mut emit: impl FnMut(u32, u32)) -> u32 {
        let mut ent = u32::from(protocol);
        for &c in data {
            match self.find(ent, c) {
                Ok(code) => ent = code,
                Err(slot) => {
                    emit(ent, self.n_bits);
                    if self.max_ent < self.max_max_code {
                        if self.max_ent >= max_code(self.n_bits) {
                            self.n_bits += 1;
                        }
                        self.add(slot, ent, c);
                    }
                    ent = u32::from(c);
                }
            }
        }
        emit(ent, self.n_bits);
        data.len() as u32 + 1
    }

    /// The code size the next packet starts with: as if the boundary had
    /// not been there.
    fn grow_after_packet(&mut self, max_ent_before_check: u32, n_bits_before_check: u32) {
        if max_ent_before_check >= max_code(n_bits_before_check)
            && max_ent_before_check < self.max_max_code
        {
            self.n_bits += 1;
        }
    }
}

/// MSB-first bit packing into whole octets.
struct Bits<'a> {
    out: &'a mut Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits<'_> {
    fn put(&mut self, code: u32, width: u32) {
        self.acc = (self.acc << width) | u64::from(code);
        self.n += width;
        while self.n >= 8 {
            self.n -= 8;
            self.out.push((self.acc >> self.n) as u8);
        }
    }

    /// Pads the last partial octet with ones.
    fn finish(self) {
        if self.n > 0 {
            let pad = 8 - self.n;
            self.out
                .push(((self.acc << pad) as u8) | ((1u16 << pad) - 1) as u8);
        }
    }
}

pub struct BsdCompressor {
    d: Dict,
}

impl BsdCompressor {
    /// `bits`: the code size the peer asked for, 9-15.
    pub fn new(bits: u8) -> Self {
        BsdCompressor { d: Dict::new(bits) }
    }

    pub fn reset(&mut self) {
        self.d.reset();
    }

    /// Compresses into `out` (sequence number and codes); false if the
    /// packet goes out as it was.
    pub fn compress(&mut self, protocol: u16, data: &[u8], out: &mut Vec<u8>) -> bool {
        if !covers(protocol) {
            return false;
        }
        out.clear();
        out.extend_from_slice(&self.d.seq.to_be_bytes());
        self.d.seq = self.d.seq.wrapping_add(1);
        let mut bits = Bits { out, acc: 0, n: 0 };
        let d = &mut self.d;
        let in_count = d.encode(protocol as u8, data, |code, width| bits.put(code, width));
        let (max_ent, n_bits) = (d.max_ent, d.n_bits);
        // Whole octets, the partial one included; the CLEAR is not counted.
        let produced = (bits.out.len() - 2) as u32 + u32::from(bits.n > 0);
        d.bytes_out += produced;
        d.in_count += in_count;
        if d.check() {
            bits.put(u32::from(CLEAR), n_bits);
        }
        bits.finish();
        d.grow_after_packet(max_ent, n_bits);
        // pppd's rule: the compressed frame (2 octets of sequence number
        // against the 2 of the protocol field) must be smaller.
        out.len() < 2 + data.len()
    }
}

pub struct BsdDecompressor {
    d: Dict,
}

impl BsdDecompressor {
    pub fn new(bits: u8) -> Self {
        BsdDecompressor { d: Dict::new(bits) }
    }

    pub fn reset(&mut self) {
        self.d.reset();
    }

    /// A packet that went out uncompressed: the dictionary runs over it
    /// as the compressor's did, with the same counts.
    pub fn incomp(&mut self, protocol: u16, data: &[u8]) {
        if !covers(protocol) {
            return;
        }
        let d = &mut self.d;
        d.seq = d.seq.wrapping_add(1);
        let mut bits = 0u32;
        let in_count = d.encode(protocol as u8, data, |_, width| bits += width);
        let (max_ent, n_bits) = (d.max_ent, d.n_bits);
        d.bytes_out += bits.div_ceil(8);
        d.in_count += in_count;
        d.check();
        d.grow_after_packet(max_ent, n_bits);
    }

    /// A 0x00fd packet into `out`: the protocol's low octet first, then
    /// the information field; at most `limit` octets.
    pub fn decompress(
        &mut self,
        info: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), DecompressError> {
        let d = &mut self.d;
        // RFC 1977 §2.3: the number moves on even when it is wrong.
        let expected = d.seq;
        d.seq = d.seq.wrapping_add(1);
        let data = take_sequence(info, expected)?;
        out.clear();
        let mut acc: u64 = 0;
        let mut have = 0u32;
        let mut oldcode: Option<u32> = None;
        let mut cleared = false;
        for (i, &byte) in data.iter().enumerate() {
            acc = (acc << 8) | u64::from(byte);
            have += 8;
            if have < d.n_bits {
                continue;
            }
            have -= d.n_bits;
            let code = ((acc >> have) as u32) & max_code(d.n_bits);
            acc &= (1u64 << have) - 1;
            if code == u32::from(CLEAR) {
                // Only the last code of a packet may clear.
                if i + 1 != data.len() {
                    return Err(DecompressError::Corrupt);
                }
                d.clear();
                cleared = true;
                break;
            }
            if code > d.max_ent + 2
                || code > d.max_max_code
                || (code > d.max_ent && oldcode.is_none())
            {
                return Err(DecompressError::Corrupt);
            }
            // The KwKwK case: the code the sender has just made.
            let (fin, extra) = match oldcode {
                Some(old) if code > d.max_ent => (old, true),
                _ => (code, false),
            };
            let len = usize::from(d.lens[fin as usize]);
            if out.len() + len + usize::from(extra) > limit {
                return Err(DecompressError::TooLong);
            }
            let start = out.len();
            out.resize(start + len, 0);
            let mut c = fin;
            let mut at = start + len;
            while c > 255 {
                // A chain longer than its recorded length: not ours.
                if at < start + 2 {
                    return Err(DecompressError::Corrupt);
                }
                at -= 1;
                out[at] = d.suffix[c as usize];
                c = u32::from(d.prefix[c as usize]);
            }
            if at != start + 1 {
                return Err(DecompressError::Corrupt);
            }
            out[start] = c as u8;
            let first = c as u8;
            if extra {
                out.push(first);
            }
            if let Some(old) = oldcode {
                if d.max_ent < d.max_max_code {
                    let slot = d.free_slot(old, first);
                    d.add(slot, old, first);
                    if d.max_ent >= max_code(d.n_bits) && d.max_ent < d.max_max_code {
                        d.n_bits += 1;
                    }
                }
            }
            oldcode = Some(code);
        }
        if !cleared {
            d.bytes_out += data.len() as u32;
            d.in_count += out.len() as u32;
            if d.check() {
                tracing::debug!("bsd-compress: the peer should have cleared its dictionary");
            }
        }
        if out.is_empty() {
            return Err(DecompressError::Short);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(bits: u8, packets: &[Vec<u8>]) -> (usize, usize) {
        let mut c = BsdCompressor::new(bits);
        let mut d = BsdDecompressor::new(bits);
        let (mut wire, mut back) = (Vec::new(), Vec::new());
        let (mut sent, mut plain) = (0, 0);
        for (i, p) in packets.iter().enumerate() {
            plain += p.len();
            if c.compress(0x0021, p, &mut wire) {
                sent += wire.len();
                d.decompress(&wire, &mut back, 1600)
                    .unwrap_or_else(|e| panic!("packet {i}: {e:?}"));
                assert_eq!(back[0], 0x21, "packet {i}");
                assert_eq!(&back[1..], &p[..], "packet {i}");
            } else {
                sent += p.len() + 2;
                d.incomp(0x0021, p);
            }
        }
        (sent, plain)
    }

    #[test]
    fn text_shrinks_and_comes_back() {
        let line = b"<problem id=\"0x1f\" severity=\"warn\">fan 2 slow</problem>\n";
        let packets: Vec<Vec<u8>> = (0..400).map(|_| line.repeat(20)).collect();
        let (sent, plain) = roundtrip(15, &packets);
        assert!(sent * 4 < plain, "{sent} of {plain}");
    }

    #[test]
    fn small_dictionaries_fill_clear_and_stay_in_step() {
        // Varied text fills 9 bits at once; noise in between makes the
        // ratio fall, so both ends must clear at the same packet.
        let mut packets = Vec::new();
        let mut x: u32 = 1;
        for i in 0..600 {
            let mut p = Vec::new();
            if i % 7 == 3 {
                for _ in 0..900 {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    p.push((x >> 16) as u8);
                }
            } else {
                for j in 0..300 {
                    p.extend_from_slice(format!("line {} of {} ", i * j % 97, i).as_bytes());
                }
                p.truncate(1400);
            }
            packets.push(p);
        }
        for bits in [9, 10, 12, 15] {
            roundtrip(bits, &packets);
        }
    }

    #[test]
    fn a_lost_packet_is_a_sequence_error() {
        let mut c = BsdCompressor::new(12);
        let mut d = BsdDecompressor::new(12);
        let mut wire = Vec::new();
        let p = b"hello hello hello hello hello".to_vec();
        assert!(c.compress(0x0021, &p, &mut wire));
        assert!(c.compress(0x0021, &p, &mut wire));
        assert!(matches!(
            d.decompress(&wire, &mut Vec::new(), 1500),
            Err(DecompressError::Sequence { .. })
        ));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut x: u32 = 7;
        for len in 0..200 {
            let mut d = BsdDecompressor::new(15);
            let mut g = vec![0, 0];
            for _ in 0..len {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                g.push((x >> 16) as u8);
            }
            let _ = d.decompress(&g, &mut Vec::new(), 1500);
        }
    }

    #[test]
    fn only_its_protocols_are_compressed() {
        let mut c = BsdCompressor::new(15);
        let mut wire = Vec::new();
        assert!(!c.compress(0x8021, &[1; 100], &mut wire));
        assert!(!c.compress(0x0101, &[1; 100], &mut wire));
        assert!(c.compress(0x0057, &[1; 100], &mut wire));
    }
}
