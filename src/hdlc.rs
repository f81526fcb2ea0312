//! RFC 1662 HDLC-like framing for asynchronous lines.
//!
//! The encoder turns one PPP packet (protocol + information) into a stuffed
//! frame with its FCS; the streaming decoder turns any chunking of the byte
//! stream back into frames, counting every frame it throws away by reason.
//! Neither allocates per frame: the encoder appends to a caller's buffer and
//! the decoder lends each frame to a callback from one reused buffer.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use crc::{Crc, Table, CRC_16_IBM_SDLC, CRC_32_ISO_HDLC};

pub const FLAG: u8 = 0x7e;
pub const ESCAPE: u8 = 0x7d;
/// RFC 1662 §4.2: the octet following ESCAPE is XORed with this.
pub const ESCAPE_XOR: u8 = 0x20;
pub const ALL_STATIONS: u8 = 0xff;
pub const UI: u8 = 0x03;
/// The ACCM both ends assume until LCP has negotiated another (RFC 1662 §7.1).
pub const DEFAULT_ACCM: u32 = 0xffff_ffff;
/// RFC 1661 §6.1: the MRU every implementation must accept.
pub const DEFAULT_MRU: usize = 1500;

const PROTO_LCP: u16 = 0xc021;

/// FCS-16 (RFC 1662 §C.2), the CRC catalogue's CRC-16/IBM-SDLC, with a
/// 16-entry slice table: several times the byte-wise table's speed.
static FCS16: Crc<u16, Table<16>> = Crc::<u16, Table<16>>::new(&CRC_16_IBM_SDLC);
/// FCS-32 (RFC 1662 §C.3), CRC-32/ISO-HDLC.
static FCS32: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISO_HDLC);

/// Which Frame Check Sequence the link uses (RFC 1570 FCS-Alternatives).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FcsKind {
    #[default]
    Fcs16,
    Fcs32,
}

impl FcsKind {
    pub fn octets(self) -> usize {
        match self {
            FcsKind::Fcs16 => 2,
            FcsKind::Fcs32 => 4,
        }
    }

    /// The FCS of `data` as it goes on the wire: complemented, least
    /// significant octet first (RFC 1662 §C.2/§C.3).
    fn compute(self, data: &[u8], out: &mut [u8; 4]) -> usize {
        match self {
            FcsKind::Fcs16 => {
                out[..2].copy_from_slice(&FCS16.checksum(data).to_le_bytes());
                2
            }
            FcsKind::Fcs32 => {
                out.copy_from_slice(&FCS32.checksum(data).to_le_bytes());
                4
            }
        }
    }
}

/// The FCS-16 of `data` as a number (for tests and diagnostics).
pub fn fcs16(data: &[u8]) -> u16 {
    FCS16.checksum(data)
}

/// The FCS-32 of `data` as a number.
pub fn fcs32(data: &[u8]) -> u32 {
    FCS32.checksum(data)
}

/// The octets that are special on one side of the line: FLAG, ESCAPE and
/// the control characters of an ACCM (to escape when sending, to drop when
/// receiving), found a word at a time.
#[derive(Clone, Debug)]
struct Specials {
    table: [bool; 256],
    accm: u32,
}

const LANES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

impl Specials {
    fn new(accm: u32) -> Self {
        let mut table = [false; 256];
        for (c, slot) in table.iter_mut().enumerate().take(32) {
            *slot = accm & (1 << c) != 0;
        }
        table[FLAG as usize] = true;
        table[ESCAPE as usize] = true;
        Specials { table, accm }
    }

    fn contains(&self, b: u8) -> bool {
        self.table[usize::from(b)]
    }

    /// The index of the first special octet in `data`.
    fn find(&self, data: &[u8]) -> Option<usize> {
        if self.accm == 0 {
            // Only FLAG and ESCAPE: memchr's vector search.
            return memchr::memchr2(FLAG, ESCAPE, data);
        }
        // Eight octets at a time: the lowest lane flagged by each test is
        // exact (a borrow only runs upwards), so the lowest of all is the
        // first candidate. A control character outside the ACCM is a
        // candidate but not special: the search goes on after it.
        let mut i = 0;
        while let Some(w) = data.get(i..i + 8) {
            let x = u64::from_le_bytes(w.try_into().expect("eight octets"));
            let below_space = x.wrapping_sub(LANES * 0x20) & !x & HIGHS;
            let zero = |v: u64| v.wrapping_sub(LANES) & !v & HIGHS;
            let m = below_space
                | zero(x ^ (LANES * u64::from(FLAG)))
                | zero(x ^ (LANES * u64::from(ESCAPE)));
            if m == 0 {
                i += 8;
                continue;
            }
            let j = i + (m.trailing_zeros() / 8) as usize;
            if self.contains(data[j]) {
                return Some(j);
            }
            i = j + 1;
        }
        data[i..]
            .iter()
            .position(|&b| self.contains(b))
            .map(|p| p + i)
    }
}

/// Whether an LCP packet must go out with default framing. pppd's
/// ppp_async does this for codes 1-7 (Configure-* and Terminate-*), so a
/// peer that has not yet switched its receive ACCM still reads them; RFC
/// 1661 §6.5/§6.6 forbid compressing LCP's fields at any time.
fn needs_default_framing(protocol: u16, info: &[u8]) -> bool {
    protocol == PROTO_LCP && matches!(info.first(), Some(1..=7))
}

/// After this long with nothing sent, a frame opens with its own flag
/// (Linux ppp_async's flag_time).
pub const FLAG_TIME: Duration = Duration::from_secs(1);

/// Transmit side of the framing.
#[derive(Clone, Debug)]
pub struct Encoder {
    accm: u32,
    escape: Specials,
    default_escape: Specials,
    acfc: bool,
    pfc: bool,
    fcs: FcsKind,
    /// The unstuffed frame is assembled here first so its FCS is computed
    /// in one pass; reused, so no allocation per frame.
    scratch: Vec<u8>,
    /// When [`Encoder::encode_at`] last wrote a frame.
    last_sent: Option<Instant>,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder {
    /// Default framing: every control character escaped, full header, FCS-16.
    pub fn new() -> Self {
        let default_escape = Specials::new(DEFAULT_ACCM);
        Encoder {
            accm: DEFAULT_ACCM,
            escape: default_escape.clone(),
            default_escape,
            acfc: false,
            pfc: false,
            fcs: FcsKind::Fcs16,
            scratch: Vec::with_capacity(DEFAULT_MRU + 8),
            last_sent: None,
        }
    }

    /// The peer's receive ACCM: the control characters it needs escaped.
    pub fn set_accm(&mut self, accm: u32) {
        self.accm = accm;
        self.escape = Specials::new(accm);
    }

    pub fn accm(&self) -> u32 {
        self.accm
    }

    /// Address-and-Control-Field-Compression and Protocol-Field-Compression
    /// the peer agreed to receive.
    pub fn set_compression(&mut self, acfc: bool, pfc: bool) {
        self.acfc = acfc;
        self.pfc = pfc;
    }

    pub fn set_fcs(&mut self, fcs: FcsKind) {
        self.fcs = fcs;
    }

    /// Back to the framing of a link whose LCP has not opened.
    pub fn reset(&mut self) {
        self.set_accm(DEFAULT_ACCM);
        self.set_compression(false, false);
        self.fcs = FcsKind::Fcs16;
    }

    /// Appends one complete frame, opening and closing flag included.
    pub fn encode(&mut self, protocol: u16, info: &[u8], out: &mut BytesMut) {
        self.encode_frame(protocol, info, true, out)
    }

    /// Appends one frame sent at `now`. RFC 1662 §4.3: one flag between
    /// frames is enough, so a frame shares the previous one's closing
    /// flag, unless the line was silent for [`FLAG_TIME`] (the opening
    /// flag then flushes noise) or it is an LCP packet that goes out with
    /// default framing anyway: both as Linux's ppp_async decides.
    pub fn encode_at(&mut self, protocol: u16, info: &[u8], now: Instant, out: &mut BytesMut) {
        let recent = self
            .last_sent
            .is_some_and(|t| now.saturating_duration_since(t) < FLAG_TIME);
        let opening = !recent || needs_default_framing(protocol, info);
        self.last_sent = Some(now);
        self.encode_frame(protocol, info, opening, out)
    }

    /// Appends one frame; without `opening_flag` it starts right after the
    /// previous frame's closing flag. RFC 1662 §4.3: one flag between
    /// frames is enough; an opening flag is only needed to flush line
    /// noise after the line was idle (the sender decides when, as Linux's
    /// ppp_async does after a second of silence).
    pub fn encode_frame(
        &mut self,
        protocol: u16,
        info: &[u8],
        opening_flag: bool,
        out: &mut BytesMut,
    ) {
        let default = needs_default_framing(protocol, info);
        let scratch = &mut self.scratch;
        scratch.clear();
        if default || !self.acfc {
            scratch.extend_from_slice(&[ALL_STATIONS, UI]);
        }
        // RFC 1661 §6.5: only protocols below 0x100 can be compressed.
        if !default && self.pfc && protocol < 0x100 {
            scratch.push(protocol as u8);
        } else {
            scratch.extend_from_slice(&protocol.to_be_bytes());
        }
        scratch.extend_from_slice(info);
        self.seal(default, opening_flag, out);
    }

    /// Appends `body` (address, control, protocol and information octets
    /// as they are, well-formed or not) as one frame with its FCS, opening
    /// flag included, every control character escaped as under the
    /// default ACCM: a receiver decodes it whatever ACCM it has. It always
    /// opens with a flag and takes no time, so it leaves the flag-sharing
    /// clock of [`Encoder::encode_frame`] as it was.
    pub fn encode_raw(&mut self, body: &[u8], out: &mut BytesMut) {
        self.scratch.clear();
        self.scratch.extend_from_slice(body);
        self.seal(true, true, out);
    }

    /// Appends the FCS to the unstuffed frame in `scratch` and stuffs it
    /// onto `out`, with the default escapes or the peer's.
    fn seal(&mut self, default: bool, opening_flag: bool, out: &mut BytesMut) {
        let scratch = &mut self.scratch;
        let mut fcs = [0u8; 4];
        let n = self.fcs.compute(scratch, &mut fcs);
        scratch.extend_from_slice(&fcs[..n]);

        let table = if default {
            &self.default_escape
        } else {
            &self.escape
        };
        out.reserve(2 + 2 * scratch.len());
        if opening_flag {
            out.extend_from_slice(&[FLAG]);
        }
        stuff(table, scratch, out);
        out.extend_from_slice(&[FLAG]);
    }
}

/// Copies `data` to `out`, escaping what `table` marks; unescaped runs are
/// copied whole, into room made once for the worst case (every octet
/// escaped) and trimmed after, so no run pays for a capacity check.
fn stuff(table: &Specials, data: &[u8], out: &mut BytesMut) {
    let start = out.len();
    out.resize(start + 2 * data.len() + 1, 0);
    let buf = &mut out[start..];
    if table.accm != 0 {
        // Controls escaped: about one octet in eight of arbitrary data, too
        // many runs to copy one by one. Every octet is written with its
        // escaped form after it, and the write position moves past what
        // it needed: no branch per octet.
        let mut w = 0;
        for &b in data {
            let esc = table.contains(b);
            buf[w] = if esc { ESCAPE } else { b };
            buf[w + 1] = b ^ ESCAPE_XOR;
            w += 1 + usize::from(esc);
        }
        out.truncate(start + w);
        return;
    }
    let (mut w, mut rest) = (0, data);
    while let Some(i) = table.find(rest) {
        buf[w..w + i].copy_from_slice(&rest[..i]);
        buf[w + i] = ESCAPE;
        buf[w + i + 1] = rest[i] ^ ESCAPE_XOR;
        w += i + 2;
        rest = &rest[i + 1..];
    }
    buf[w..w + rest.len()].copy_from_slice(rest);
    w += rest.len();
    out.truncate(start + w);
}

/// Why the decoder threw a frame (or octets) away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Discard {
    /// 0x7D 0x7E: the sender aborted the frame (RFC 1662 §4.2).
    Aborted,
    /// The FCS did not check.
    BadFcs,
    /// Too short to hold a protocol field and an FCS.
    Runt,
    /// Longer than the largest frame we accept (MRU plus header and FCS).
    TooLong,
}

/// What the decoder has seen and dropped. Every discarded frame is counted
/// under exactly one reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DecoderStats {
    pub frames: u64,
    pub aborted: u64,
    pub bad_fcs: u64,
    pub runt: u64,
    pub too_long: u64,
    /// Octets before the first flag: line noise or the tail of a frame we
    /// started in the middle of.
    pub hunt_octets: u64,
    /// Unescaped octets in the receive ACCM, dropped as DCE-inserted
    /// (RFC 1662 §7.1).
    pub accm_dropped: u64,
}

impl DecoderStats {
    pub fn discarded(&self) -> u64 {
        self.aborted + self.bad_fcs + self.runt + self.too_long
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RxState {
    /// Looking for the first flag.
    Hunt,
    /// Inside a frame.
    Frame,
    /// Inside a frame, after ESCAPE.
    Escaped,
    /// Throwing away octets up to the next flag.
    Discard,
}

/// Receive side of the framing: a streaming decoder.
#[derive(Clone, Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    state: RxState,
    /// Largest unstuffed frame accepted, FCS included.
    max_frame: usize,
    rx_accm: u32,
    special: Specials,
    /// What ends the unescaping loop at a non-zero ACCM: the flag and the
    /// controls the ACCM says a DCE may insert (not ESCAPE).
    rx_stop: [bool; 256],
    fcs: FcsKind,
    stats: DecoderStats,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(DEFAULT_MRU)
    }
}

impl Decoder {
    /// A decoder accepting information fields of up to `mru` octets.
    pub fn new(mru: usize) -> Self {
        let mut d = Decoder {
            buf: Vec::new(),
            state: RxState::Hunt,
            max_frame: 0,
            rx_accm: DEFAULT_ACCM,
            special: Specials::new(DEFAULT_ACCM),
            rx_stop: [false; 256],
            fcs: FcsKind::Fcs16,
            stats: DecoderStats::default(),
        };
        d.set_mru(mru);
        d.set_accm(DEFAULT_ACCM);
        d
    }

    /// Information-field limit; the header (4) and FCS-32 (4) come on top.
    pub fn set_mru(&mut self, mru: usize) {
        self.max_frame = mru + 8;
        let want = self.max_frame + 1;
        if self.buf.capacity() < want {
            self.buf.reserve(want - self.buf.len());
        }
    }

    pub fn mru(&self) -> usize {
        self.max_frame - 8
    }

    /// The receive ACCM we asked the peer for.
    pub fn set_accm(&mut self, accm: u32) {
        self.rx_accm = accm;
        self.special = Specials::new(accm);
        self.rx_stop = self.special.table;
        self.rx_stop[usize::from(ESCAPE)] = false;
    }

    pub fn set_fcs(&mut self, fcs: FcsKind) {
        self.fcs = fcs;
    }

    pub fn stats(&self) -> &DecoderStats {
        &self.stats
    }

    /// Back to default framing and the hunt state; counters are kept.
    pub fn reset(&mut self) {
        self.set_accm(DEFAULT_ACCM);
        self.fcs = FcsKind::Fcs16;
        self.buf.clear();
        self.state = RxState::Hunt;
    }

    /// Feeds received octets. `on_frame` gets each good frame, unstuffed,
    /// without its FCS (address, control, protocol and information as
    /// received); `on_discard` gets the reason for each frame dropped.
    pub fn decode(
        &mut self,
        mut input: &[u8],
        mut on_frame: impl FnMut(&[u8]),
        mut on_discard: impl FnMut(Discard),
    ) {
        while !input.is_empty() {
            match self.state {
                RxState::Hunt => match memchr::memchr(FLAG, input) {
                    Some(i) => {
                        self.stats.hunt_octets += i as u64;
                        input = &input[i + 1..];
                        self.start_frame();
                    }
                    None => {
                        self.stats.hunt_octets += input.len() as u64;
                        return;
                    }
                },
                RxState::Discard => match memchr::memchr(FLAG, input) {
                    Some(i) => {
                        input = &input[i + 1..];
                        self.start_frame();
                    }
                    None => return,
                },
                RxState::Frame if self.rx_accm != 0 => {
                    // Escapes are frequent where controls are escaped (one
                    // octet in eight of arbitrary data): no branch on them.
                    // Every octet is written, XORed if the one before was
                    // an ESCAPE, and the write position moves on unless it
                    // is an ESCAPE itself. Only a flag or a control the
                    // ACCM says to drop (rare, and the state machine's)
                    // stops the loop.
                    let cap = self.max_frame + 1;
                    let stop = &self.rx_stop;
                    let buf = &mut self.buf;
                    let mut n = buf.len();
                    buf.resize(cap.max(n), 0);
                    let mut escaped = false;
                    let mut used = 0;
                    // Eight octets at a time while none can stop the loop
                    // (no flag, no control at all: a control outside the
                    // ACCM just takes the octet-wise path below) and
                    // eight more fit; the writes index an array of eight,
                    // so no bounds check is left in them.
                    while let (Some(w), Some(dst)) =
                        (input.get(used..used + 8), buf.get_mut(n..n + 8))
                    {
                        let w: &[u8; 8] = w.try_into().expect("eight octets");
                        let x = u64::from_le_bytes(*w);
                        let controls = x.wrapping_sub(LANES * 0x20) & !x & HIGHS;
                        let f = x ^ (LANES * u64::from(FLAG));
                        let flags = f.wrapping_sub(LANES) & !f & HIGHS;
                        if controls | flags != 0 {
                            break;
                        }
                        let dst: &mut [u8; 8] = dst.try_into().expect("eight octets");
                        let mut k = 0usize;
                        for &b in w {
                            let is_escape = (b == ESCAPE) & !escaped;
                            dst[k & 7] = b ^ (u8::from(escaped) << 5);
                            k += usize::from(!is_escape);
                            escaped = is_escape;
                        }
                        n += k;
                        used += 8;
                    }
                    for &b in &input[used..] {
                        if stop[usize::from(b)] || n >= cap {
                            break;
                        }
                        let is_escape = (b == ESCAPE) & !escaped;
                        buf[n] = b ^ (u8::from(escaped) << 5);
                        n += usize::from(!is_escape);
                        escaped = is_escape;
                        used += 1;
                    }
                    buf.truncate(n);
                    input = &input[used..];
                    if n > self.max_frame {
                        self.stats.too_long += 1;
                        on_discard(Discard::TooLong);
                        self.buf.clear();
                        self.state = RxState::Discard;
                        continue;
                    }
                    if escaped {
                        // The escaped octet is the next one, in the next
                        // read or a flag (abort) or a dropped control.
                        self.state = RxState::Escaped;
                        continue;
                    }
                    let Some((&b, rest)) = input.split_first() else {
                        return;
                    };
                    input = rest;
                    match b {
                        FLAG => self.end_frame(&mut on_frame, &mut on_discard),
                        _ => self.stats.accm_dropped += 1,
                    }
                }
                RxState::Frame => {
                    let run = self.special.find(input).unwrap_or(input.len());
                    if !self.push(&input[..run], &mut on_discard) {
                        input = &input[run..];
                        continue;
                    }
                    input = &input[run..];
                    let Some((&b, rest)) = input.split_first() else {
                        return;
                    };
                    input = rest;
                    match b {
                        FLAG => self.end_frame(&mut on_frame, &mut on_discard),
                        // The common case at once: the escaped octet is
                        // there and is an ordinary one.
                        ESCAPE => match input.first() {
                            Some(&e) if !self.special.contains(e) && e >= 0x20 => {
                                input = &input[1..];
                                self.push(&[e ^ ESCAPE_XOR], &mut on_discard);
                            }
                            _ => self.state = RxState::Escaped,
                        },
                        _ => self.stats.accm_dropped += 1,
                    }
                }
                RxState::Escaped => {
                    let b = input[0];
                    input = &input[1..];
                    if b == FLAG {
                        self.stats.aborted += 1;
                        on_discard(Discard::Aborted);
                        self.start_frame();
                    } else if b < 0x20 && self.rx_accm & (1 << b) != 0 {
                        // RFC 1662 §7.1: a DCE-inserted character may fall
                        // between ESCAPE and the octet it escapes.
                        self.stats.accm_dropped += 1;
                    } else {
                        self.state = RxState::Frame;
                        self.push(&[b ^ ESCAPE_XOR], &mut on_discard);
                    }
                }
            }
        }
    }

    fn start_frame(&mut self) {
        self.buf.clear();
        self.state = RxState::Frame;
    }

    /// Appends to the frame; false (and the Discard state) when it would
    /// exceed the largest frame.
    fn push(&mut self, data: &[u8], on_discard: &mut impl FnMut(Discard)) -> bool {
        if self.buf.len() + data.len() > self.max_frame {
            self.stats.too_long += 1;
            on_discard(Discard::TooLong);
            self.buf.clear();
            self.state = RxState::Discard;
            return false;
        }
        self.buf.extend_from_slice(data);
        true
    }

    fn end_frame(
        &mut self,
        on_frame: &mut impl FnMut(&[u8]),
        on_discard: &mut impl FnMut(Discard),
    ) {
        let len = self.buf.len();
        let fcs_len = self.fcs.octets();
        // An empty frame is the shared or doubled flag between frames.
        if len == 0 {
            return;
        }
        if len < fcs_len + 2 {
            self.stats.runt += 1;
            on_discard(Discard::Runt);
        } else {
            let (body, got) = self.buf.split_at(len - fcs_len);
            let mut want = [0u8; 4];
            let n = self.fcs.compute(body, &mut want);
            if got == &want[..n] {
                self.stats.frames += 1;
                on_frame(body);
            } else {
                self.stats.bad_fcs += 1;
                on_discard(Discard::BadFcs);
            }
        }
        self.buf.clear();
        self.state = RxState::Frame;
    }
}

/// Why an unstuffed frame could not be split into protocol and information.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("frame too short for a protocol field")]
    Truncated,
    #[error("address/control field is not 0xff 0x03")]
    BadAddress,
    #[error("protocol field is not odd in its last octet")]
    BadProtocol,
}

/// Splits an unstuffed frame into protocol and information, accepting
/// compressed address/control and protocol fields whether or not they were
/// negotiated (RFC 1661 §6.5/§6.6 allow a receiver to do so).
pub fn split_header(frame: &[u8]) -> Result<(u16, &[u8]), HeaderError> {
    let rest = match frame {
        [ALL_STATIONS, UI, rest @ ..] => rest,
        [ALL_STATIONS, ..] => return Err(HeaderError::BadAddress),
        rest => rest,
    };
    match rest {
        // RFC 1661 §2: the least significant bit of the protocol's last
        // octet is 1; a first octet with it set is a compressed field.
        [p, info @ ..] if p & 1 == 1 => Ok((u16::from(*p), info)),
        [hi, lo, info @ ..] if lo & 1 == 1 => Ok((u16::from_be_bytes([*hi, *lo]), info)),
        [_, _, ..] => Err(HeaderError::BadProtocol),
        _ => Err(HeaderError::Truncated),
    }
}

/// An unstuffed frame with the full header (address, control, two-octet
/// protocol; neither ACFC nor PFC), as [`crate::ppp::Link::handle_frame`]
/// takes it: the inverse of [`split_header`].
pub fn join_header(protocol: u16, info: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + info.len());
    v.extend_from_slice(&[ALL_STATIONS, UI]);
    v.extend_from_slice(&protocol.to_be_bytes());
    v.extend_from_slice(info);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The word-at-a-time search finds what a byte loop finds, for any
        /// ACCM and any data, controls, FLAG and ESCAPE included.
        #[test]
        fn the_special_search_is_the_byte_loop(
            accm in proptest::prop_oneof![
                proptest::strategy::Just(0u32),
                proptest::strategy::Just(u32::MAX),
                proptest::prelude::any::<u32>()
            ],
            data in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::prelude::any::<u8>(),
                    proptest::strategy::Just(FLAG),
                    proptest::strategy::Just(ESCAPE),
                    0u8..0x20,
                ],
                0..64,
            ),
        ) {
            let sp = Specials::new(accm);
            let mut at = 0;
            loop {
                let want = data[at..].iter().position(|&b| sp.table[b as usize]);
                let got = sp.find(&data[at..]);
                proptest::prop_assert_eq!(got, want);
                match got {
                    Some(i) => at += i + 1,
                    None => break,
                }
            }
        }
    }

    proptest::proptest! {
        /// Whatever the ACCM, frames come back as they went, read in any
        /// pieces, with the controls a DCE may insert (those in the ACCM)
        /// sprinkled anywhere, between an ESCAPE and its octet included.
        #[test]
        fn frames_survive_any_split_and_inserted_controls(
            accm in proptest::prop_oneof![
                proptest::strategy::Just(0u32),
                proptest::strategy::Just(u32::MAX),
                proptest::strategy::Just(0x000a_0000u32),
                proptest::prelude::any::<u32>()
            ],
            infos in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::prop_oneof![
                        proptest::prelude::any::<u8>(),
                        proptest::strategy::Just(FLAG),
                        proptest::strategy::Just(ESCAPE),
                        proptest::strategy::Just(ESCAPE ^ ESCAPE_XOR),
                        0u8..0x20,
                    ],
                    0..80,
                ),
                1..5,
            ),
            inserts in proptest::collection::vec((0usize..1000, 0u8..0x20), 0..12),
            cuts in proptest::collection::vec(0usize..1000, 0..8),
        ) {
            let mut e = Encoder::new();
            e.set_accm(accm);
            let mut wire = Vec::new();
            for info in &infos {
                wire.extend_from_slice(&encode(&mut e, 0x0021, info));
            }
            // Inserted controls only where they are not the frame's own
            // octets: never the leading flag's position.
            for &(at, c) in &inserts {
                if accm & (1 << c) != 0 {
                    let at = 1 + at % wire.len();
                    wire.insert(at, c);
                }
            }
            let mut d = Decoder::new(DEFAULT_MRU);
            d.set_accm(accm);
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
            cuts.sort();
            let mut frames = Vec::new();
            let mut discards = Vec::new();
            let mut from = 0;
            for at in cuts.into_iter().chain([wire.len()]) {
                d.decode(&wire[from..at], |f| frames.push(f.to_vec()), |r| discards.push(r));
                from = at;
            }
            proptest::prop_assert!(discards.is_empty(), "{:?}", discards);
            let want: Vec<Vec<u8>> = infos
                .iter()
                .map(|i| {
                    let mut v = vec![ALL_STATIONS, UI, 0x00, 0x21];
                    v.extend_from_slice(i);
                    v
                })
                .collect();
            proptest::prop_assert_eq!(frames, want);
        }
    }

    fn frames_of(d: &mut Decoder, input: &[u8]) -> (Vec<Vec<u8>>, Vec<Discard>) {
        let mut frames = Vec::new();
        let mut discards = Vec::new();
        d.decode(input, |f| frames.push(f.to_vec()), |r| discards.push(r));
        (frames, discards)
    }

    fn encode(e: &mut Encoder, protocol: u16, info: &[u8]) -> Vec<u8> {
        let mut out = BytesMut::new();
        e.encode(protocol, info, &mut out);
        out.to_vec()
    }

    #[test]
    fn a_raw_frame_decodes_to_its_octets_under_any_accm() {
        let mut e = Encoder::new();
        e.set_accm(0);
        // No header that parses, controls in it.
        let body = [0x12, 0x00, 0x7e, 0x7d, 0x01, 0x11];
        let mut out = BytesMut::new();
        e.encode_raw(&body, &mut out);
        assert_eq!(out[0], FLAG);
        let mut d = Decoder::default();
        let (frames, discards) = frames_of(&mut d, &out);
        assert_eq!((frames, discards), (vec![body.to_vec()], vec![]));
    }

    #[test]
    fn fcs_check_values() {
        // The catalogue check strings; RFC 1662 §C.2 gives the "good FCS"
        // residues, checked below through a full frame.
        assert_eq!(fcs16(b"123456789"), 0x906e);
        assert_eq!(fcs32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn fcs_residues_of_rfc1662() {
        // RFC 1662 §C.2: running the FCS-16 over data plus its FCS leaves
        // 0xf0b8 before the final complement; §C.3: 0xdebb20e3 for FCS-32.
        let data = b"\xff\x03\xc0\x21\x01\x01\x00\x04";
        let mut with = data.to_vec();
        with.extend_from_slice(&fcs16(data).to_le_bytes());
        assert_eq!(!fcs16(&with), 0xf0b8);
        let mut with = data.to_vec();
        with.extend_from_slice(&fcs32(data).to_le_bytes());
        assert_eq!(!fcs32(&with), 0xdebb_20e3);
    }

    #[test]
    fn lcp_configure_request_matches_known_bytes() {
        // An LCP Configure-Request with no options; the FCS 0xb5d1 comes
        // from the bit-serial algorithm of RFC 1662 §C.2, run separately.
        let mut e = Encoder::new();
        let wire = encode(&mut e, 0xc021, &[1, 1, 0, 4]);
        assert_eq!(
            wire,
            [
                0x7e, 0xff, 0x7d, 0x23, 0xc0, 0x21, 0x7d, 0x21, 0x7d, 0x21, 0x7d, 0x20, 0x7d, 0x24,
                0xd1, 0xb5, 0x7e
            ]
        );
    }

    #[test]
    fn escapes_flag_escape_and_accm_characters() {
        let mut e = Encoder::new();
        e.set_accm(0x0000_0001);
        let wire = encode(&mut e, 0x0021, &[0x7e, 0x7d, 0x00, 0x01, 0x20]);
        let body = &wire[1..wire.len() - 1];
        assert!(body.windows(2).any(|w| w == [0x7d, 0x5e]));
        assert!(body.windows(2).any(|w| w == [0x7d, 0x5d]));
        assert!(body.windows(2).any(|w| w == [0x7d, 0x20]));
        // 0x01 is not in the ACCM, so it travels bare.
        assert!(body.contains(&0x01));
        assert!(!body[..].contains(&0x7e));
    }

    #[test]
    fn lcp_configure_packets_keep_default_framing() {
        let mut e = Encoder::new();
        e.set_accm(0);
        e.set_compression(true, true);
        let conf = encode(&mut e, 0xc021, &[1, 1, 0, 4]);
        assert_eq!(&conf[1..3], &[0xff, 0x7d]);
        // An Echo-Request (code 9) uses the negotiated framing.
        let echo = encode(&mut e, 0xc021, &[9, 1, 0, 8, 0, 0, 0, 0]);
        assert_eq!(&echo[1..3], &[0xc0, 0x21]);
        // IP with PFC and ACFC: the header is the single octet 0x21.
        let ip = encode(&mut e, 0x0021, &[0x45]);
        assert_eq!(&ip[1..3], &[0x21, 0x45]);
    }

    #[test]
    fn decodes_frame_split_across_every_point() {
        let mut e = Encoder::new();
        let wire = encode(&mut e, 0x0021, b"hello, world");
        for cut in 0..wire.len() {
            let mut d = Decoder::default();
            let (mut f, _) = frames_of(&mut d, &wire[..cut]);
            let (g, _) = frames_of(&mut d, &wire[cut..]);
            f.extend(g);
            assert_eq!(f.len(), 1, "cut at {cut}");
            assert_eq!(split_header(&f[0]).unwrap(), (0x0021, &b"hello, world"[..]));
        }
    }

    #[test]
    fn frames_without_opening_flag_share_the_previous_closing_flag() {
        let mut e = Encoder::new();
        let mut wire = BytesMut::new();
        e.encode_frame(0x0021, b"a", true, &mut wire);
        e.encode_frame(0x0021, b"b", false, &mut wire);
        assert_eq!(wire.iter().filter(|&&b| b == FLAG).count(), 3);
        let mut d = Decoder::default();
        let (f, r) = frames_of(&mut d, &wire);
        assert!(r.is_empty());
        assert_eq!(f.len(), 2);
        assert_eq!(split_header(&f[1]).unwrap(), (0x0021, &b"b"[..]));
    }

    #[test]
    fn encode_at_opens_with_a_flag_after_silence_and_for_lcp_control() {
        let t0 = Instant::now();
        let flags = |e: &mut Encoder, proto: u16, info: &[u8], at: Instant| {
            let mut out = BytesMut::new();
            e.encode_at(proto, info, at, &mut out);
            out.iter().filter(|&&b| b == FLAG).count()
        };
        let mut e = Encoder::new();
        assert_eq!(flags(&mut e, 0x0021, b"a", t0), 2, "first frame");
        let soon = t0 + Duration::from_millis(10);
        assert_eq!(flags(&mut e, 0x0021, b"b", soon), 1, "shares the flag");
        assert_eq!(
            flags(&mut e, PROTO_LCP, &[1, 1, 0, 4], soon),
            2,
            "LCP Configure-Request keeps its own"
        );
        let later = soon + FLAG_TIME;
        assert_eq!(flags(&mut e, 0x0021, b"c", later), 2, "after a silence");
    }

    #[test]
    fn several_frames_in_one_read_with_shared_and_doubled_flags() {
        let mut e = Encoder::new();
        let mut wire = encode(&mut e, 0x0021, b"a");
        let second = encode(&mut e, 0x0021, b"b");
        wire.pop(); // share the flag between frames
        wire.extend_from_slice(&second);
        wire.extend_from_slice(&[FLAG, FLAG, FLAG]);
        wire.extend_from_slice(&encode(&mut e, 0x0021, b"c"));
        let mut d = Decoder::default();
        let (f, discards) = frames_of(&mut d, &wire);
        assert_eq!(f.len(), 3);
        assert!(discards.is_empty());
        assert_eq!(d.stats().discarded(), 0);
    }

    #[test]
    fn garbage_before_first_flag_is_skipped_and_counted() {
        let mut e = Encoder::new();
        let mut wire = b"ATZ\r\nOK\r\n".to_vec();
        wire.extend_from_slice(&encode(&mut e, 0x0021, b"x"));
        let mut d = Decoder::default();
        let (f, _) = frames_of(&mut d, &wire);
        assert_eq!(f.len(), 1);
        assert_eq!(d.stats().hunt_octets, 9);
    }

    #[test]
    fn abort_sequence_discards_the_frame() {
        let mut d = Decoder::default();
        let (f, r) = frames_of(&mut d, &[FLAG, 0xff, 0x03, 0x00, 0x21, ESCAPE, FLAG]);
        assert!(f.is_empty());
        assert_eq!(r, [Discard::Aborted]);
        assert_eq!(d.stats().aborted, 1);
        // The decoder carries on with the next frame.
        let mut e = Encoder::new();
        let (f, _) = frames_of(&mut d, &encode(&mut e, 0x0021, b"ok")[1..]);
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn bad_fcs_is_counted() {
        let mut e = Encoder::new();
        let mut wire = encode(&mut e, 0x0021, b"payload");
        wire[6] ^= 0x01;
        let mut d = Decoder::default();
        let (f, r) = frames_of(&mut d, &wire);
        assert!(f.is_empty());
        assert_eq!(r, [Discard::BadFcs]);
        assert_eq!(d.stats().bad_fcs, 1);
    }

    #[test]
    fn runt_frame_is_counted() {
        let mut d = Decoder::default();
        let (f, r) = frames_of(&mut d, &[FLAG, 0x21, 0x00, FLAG]);
        assert!(f.is_empty());
        assert_eq!(r, [Discard::Runt]);
        assert_eq!(d.stats().runt, 1);
    }

    #[test]
    fn frame_over_the_mru_is_discarded_and_next_frame_survives() {
        let mut e = Encoder::new();
        let mut d = Decoder::new(296);
        let mut wire = encode(&mut e, 0x0021, &[0x55; 400]);
        wire.extend_from_slice(&encode(&mut e, 0x0021, &[0x55; 296]));
        let (f, r) = frames_of(&mut d, &wire);
        assert_eq!(r, [Discard::TooLong]);
        assert_eq!(f.len(), 1);
        assert_eq!(d.stats().too_long, 1);
    }

    #[test]
    fn unescaped_accm_characters_are_dropped() {
        let mut e = Encoder::new();
        let wire = encode(&mut e, 0x0021, b"xy");
        // A DCE inserts XON/XOFF (0x11/0x13) into the frame.
        let mut noisy = wire[..4].to_vec();
        noisy.extend_from_slice(&[0x11, 0x13]);
        noisy.extend_from_slice(&wire[4..]);
        let mut d = Decoder::default();
        let (f, _) = frames_of(&mut d, &noisy);
        assert_eq!(f.len(), 1);
        assert_eq!(d.stats().accm_dropped, 2);
    }

    #[test]
    fn fcs32_round_trip() {
        let mut e = Encoder::new();
        e.set_fcs(FcsKind::Fcs32);
        let wire = encode(&mut e, 0x0021, b"thirty-two");
        let mut d = Decoder::default();
        d.set_fcs(FcsKind::Fcs32);
        let (f, _) = frames_of(&mut d, &wire);
        assert_eq!(split_header(&f[0]).unwrap().1, b"thirty-two");
    }

    #[test]
    fn header_forms() {
        assert_eq!(
            split_header(&[0xff, 0x03, 0xc0, 0x21, 9]),
            Ok((0xc021, &[9u8][..]))
        );
        assert_eq!(split_header(&[0x21, 0x45]), Ok((0x0021, &[0x45u8][..])));
        assert_eq!(
            split_header(&[0x00, 0x21, 0x45]),
            Ok((0x0021, &[0x45u8][..]))
        );
        assert_eq!(
            split_header(&[0xff, 0x05, 0x00]),
            Err(HeaderError::BadAddress)
        );
        assert_eq!(split_header(&[0x00, 0x20]), Err(HeaderError::BadProtocol));
        assert_eq!(split_header(&[0xff, 0x03]), Err(HeaderError::Truncated));
        assert_eq!(join_header(0xc021, &[9]), [0xff, 0x03, 0xc0, 0x21, 9]);
        assert_eq!(
            split_header(&join_header(0x0021, &[0x45])),
            Ok((0x0021, &[0x45u8][..]))
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn encode_decode_identity(
                // Not empty: with ACFC, PFC and FCS-16 an empty 0x0021
                // frame is 3 octets, under RFC 1662 §4.3's minimum of 4,
                // and rightly discarded as a runt (no IP datagram is empty).
                payload in proptest::collection::vec(any::<u8>(), 1..1600),
                accm in any::<u32>(),
                acfc in any::<bool>(),
                pfc in any::<bool>(),
                fcs32 in any::<bool>(),
                cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
            ) {
                let mut e = Encoder::new();
                e.set_accm(accm);
                e.set_compression(acfc, pfc);
                let fcs = if fcs32 { FcsKind::Fcs32 } else { FcsKind::Fcs16 };
                e.set_fcs(fcs);
                let mut wire = BytesMut::new();
                e.encode(0x0021, &payload, &mut wire);
                e.encode(0x8021, &payload, &mut wire);
                let mut points: Vec<usize> = cuts.iter().map(|i| i.index(wire.len())).collect();
                points.sort_unstable();
                let mut d = Decoder::new(1600);
                d.set_accm(accm);
                d.set_fcs(fcs);
                let mut got = Vec::new();
                let mut last = 0;
                for p in points.into_iter().chain([wire.len()]) {
                    d.decode(&wire[last..p], |f| got.push(f.to_vec()), |r| panic!("{r:?}"));
                    last = p;
                }
                prop_assert_eq!(got.len(), 2);
                prop_assert_eq!(split_header(&got[0]).unwrap(), (0x0021, &payload[..]));
                prop_assert_eq!(split_header(&got[1]).unwrap(), (0x8021, &payload[..]));
            }

            #[test]
            fn decoder_survives_any_input(input in proptest::collection::vec(any::<u8>(), 0..4000)) {
                let mut d = Decoder::new(296);
                let mut frames = 0u64;
                d.decode(&input, |f| { assert!(f.len() <= 296 + 8); frames += 1; }, |_| {});
                prop_assert_eq!(frames, d.stats().frames);
            }
        }
    }
}
