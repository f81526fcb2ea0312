//! Arbitrary octets into the streaming HDLC decoder, under a fuzzed MRU,
//! receive ACCM, FCS and chunking.
//!
//! Input: `[flags, mru_lo, mru_hi, chunk_seed, stream...]`.
//!
//! Invariants: no panic; no frame longer than MRU + 8 (header and FCS-32
//! included); the counters match the callbacks; chunking changes nothing;
//! every frame whose header parses re-encodes and decodes to the same
//! protocol and information.

#![no_main]

use bytes::BytesMut;
use carrier::hdlc::{split_header, Decoder, DecoderStats, Discard, Encoder, FcsKind};
use libfuzzer_sys::fuzz_target;

type Decoded = (Vec<Vec<u8>>, Vec<Discard>, DecoderStats);

fn decode(mut d: Decoder, stream: &[u8], mut chunk: impl FnMut() -> usize) -> Decoded {
    let mut frames = Vec::new();
    let mut discards = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        let (now, later) = rest.split_at(chunk().min(rest.len()));
        d.decode(now, |f| frames.push(f.to_vec()), |r| discards.push(r));
        rest = later;
    }
    (frames, discards, *d.stats())
}

fuzz_target!(|data: &[u8]| {
    let [flags, mru_lo, mru_hi, seed, ref stream @ ..] = *data else {
        return;
    };
    let mru = usize::from(u16::from_le_bytes([mru_lo, mru_hi]) % 2048);
    let fcs = if flags & 1 != 0 {
        FcsKind::Fcs32
    } else {
        FcsKind::Fcs16
    };
    let accm = match (flags >> 1) & 3 {
        0 => u32::MAX,
        1 => 0,
        2 => 0x000a_0000, // XON/XOFF
        _ => u32::from(flags).wrapping_mul(0x0101_0101),
    };
    let mut d = Decoder::new(mru);
    d.set_accm(accm);
    d.set_fcs(fcs);

    let whole = decode(d.clone(), stream, || usize::MAX);
    let (frames, discards, stats) = &whole;
    assert_eq!(stats.frames, frames.len() as u64);
    assert_eq!(stats.discarded(), discards.len() as u64);
    for f in frames {
        assert!(
            f.len() + fcs.octets() <= mru + 8,
            "frame of {} octets past MRU {mru}",
            f.len()
        );
    }

    // The same stream in chunks of 1 to 64 octets.
    let mut x = u32::from(seed) | 1;
    let chunked = decode(d, stream, || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        (x % 64) as usize + 1
    });
    assert_eq!(chunked, whole, "chunking changed the result");

    // Round trip through the encoder with the same ACCM and FCS.
    let mut e = Encoder::new();
    e.set_accm(accm);
    e.set_fcs(fcs);
    let mut big = Decoder::new(usize::from(u16::MAX));
    big.set_accm(accm);
    big.set_fcs(fcs);
    for f in frames {
        let Ok((protocol, info)) = split_header(f) else {
            continue;
        };
        let mut wire = BytesMut::new();
        e.encode(protocol, info, &mut wire);
        let mut again = Vec::new();
        big.decode(&wire, |g| again.push(g.to_vec()), |r| panic!("{r:?}"));
        assert_eq!(again.len(), 1);
        assert_eq!(split_header(&again[0]), Ok((protocol, info)));
    }
});
