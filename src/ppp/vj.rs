//! Van Jacobson TCP/IP header compression (RFC 1144), negotiated by IPCP
//! option 2 (RFC 1332 §3.2). Pure: headers in, headers out.
//!
//! The compressor keeps the last header it sent on each of a few
//! connections and sends only what changed; the decompressor keeps the
//! same copies and rebuilds each header from them. Anything it cannot
//! encode exactly (a SYN, a FIN, a changed option, a delta past 16 bits, a
//! flag it does not carry) goes out uncompressed and resynchronises both
//! copies. After a lost or damaged frame the decompressor tosses
//! compressed packets until one names its connection explicitly (RFC 1144
//! §4.3): TCP's retransmission of the lost segment has a sequence number
//! that went backwards, which is sent uncompressed.

// The TCP flags under the names of slhc's (and 4.3BSD's) TH_ flags.
use crate::wire::tcp::{
    self, ACK as TH_ACK, FIN as TH_FIN, PUSH as TH_PUSH, RST as TH_RST, SYN as TH_SYN,
    URG as TH_URG,
};
use crate::wire::{self, ipproto, ipv4, Ipv4Header, TcpHeader};

/// PPP protocol numbers (RFC 1332 §3.2).
pub const COMPRESSED_TCP: u16 = 0x002d;
pub const UNCOMPRESSED_TCP: u16 = 0x002f;

// The change mask (RFC 1144 §3.2.2).
const NEW_C: u8 = 0x40;
const NEW_I: u8 = 0x20;
const TCP_PUSH: u8 = 0x10;
const NEW_S: u8 = 0x08;
const NEW_A: u8 = 0x04;
const NEW_W: u8 = 0x02;
const NEW_U: u8 = 0x01;
/// Echoed interactive traffic: seq and ack both moved by the last data.
const SPECIAL_I: u8 = NEW_S | NEW_W | NEW_U;
/// Unidirectional data: seq moved by the last data.
const SPECIAL_D: u8 = NEW_S | NEW_A | NEW_W | NEW_U;
const SPECIALS_MASK: u8 = NEW_S | NEW_A | NEW_W | NEW_U;

/// The largest IP plus TCP header: 60 + 60 octets.
const MAX_HDR: usize = 120;

/// What a compressed or uncompressed frame counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct VjStats {
    /// TCP datagrams sent compressed, sent as 0x002f, passed as plain IP.
    pub compressed_out: u64,
    pub uncompressed_out: u64,
    pub plain_out: u64,
    /// Header octets saved on the way out.
    pub saved_octets: u64,
    pub compressed_in: u64,
    pub uncompressed_in: u64,
    /// Compressed packets thrown away while waiting to resynchronise.
    pub tossed: u64,
    /// Packets that could not be decompressed (bad slot, too short).
    pub errors: u64,
}

#[derive(Clone)]
struct Slot {
    hdr: [u8; MAX_HDR],
    hlen: usize,
    ip_hlen: usize,
    used: bool,
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            hdr: [0; MAX_HDR],
            hlen: 0,
            ip_hlen: 0,
            used: false,
        }
    }
}

// For the decompressor's arithmetic on a saved header's fields.
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The headers of an IPv4 TCP datagram VJ may compress: no fragment,
/// honest lengths; None for anything else.
fn tcp_headers(d: &[u8]) -> Option<(Ipv4Header, TcpHeader)> {
    let h = wire::ipv4_header(d)?;
    if h.protocol != ipproto::TCP || h.is_fragment() {
        return None;
    }
    let t = wire::tcp_header(d.get(h.header_len..h.total_len)?)?;
    (t.header_len >= 20 && h.total_len - h.header_len >= t.header_len).then_some((h, t))
}

/// The lengths of the IP header and of both headers, of a datagram VJ may
/// compress.
fn tcp_lengths(d: &[u8]) -> Option<(usize, usize)> {
    tcp_headers(d).map(|(h, t)| (h.header_len, h.header_len + t.header_len))
}

/// The headers a slot saved, as they stand: its total length is the
/// datagram's, not the copy's.
fn saved_headers(s: &Slot) -> Option<(Ipv4Header, TcpHeader)> {
    Some((
        wire::ipv4_fixed(&s.hdr)?,
        wire::tcp_header(s.hdr.get(s.ip_hlen..s.hlen)?)?,
    ))
}

/// RFC 1144 §3.2.3: 1..=255 in one octet, anything else as 0 and two.
fn encode(out: &mut Vec<u8>, n: u16) {
    if n == 0 || n > 255 {
        out.push(0);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        out.push(n as u8);
    }
}

/// The transmit side of one link.
pub struct Compressor {
    slots: Vec<Slot>,
    /// Most recently used first.
    lru: Vec<u8>,
    last_xmit: Option<u8>,
    /// The peer accepts a compressed slot number (RFC 1332 Comp-Slot-Id).
    compress_slot: bool,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compressor")
            .field("slots", &self.slots.len())
            .finish_non_exhaustive()
    }
}

/// What [`Compressor::compress`] made of a datagram.
#[derive(Debug, PartialEq, Eq)]
pub enum Packet<'a> {
    /// Not TCP, or not compressible at all: plain IP (0x0021).
    Ip(&'a [u8]),
    /// 0x002f: the datagram with its protocol octet set to the slot.
    Uncompressed(&'a [u8]),
    /// 0x002d: the compressed header followed by the data.
    Compressed(&'a [u8]),
}

impl Compressor {
    /// `max_slot` is the peer's Max-Slot-Id (slots are 0..=max_slot).
    pub fn new(max_slot: u8, compress_slot: bool) -> Self {
        let n = usize::from(max_slot) + 1;
        Compressor {
            slots: vec![Slot::default(); n],
            // Slot 0 first, then 1, ..., as slhc hands them out: a reader
            // of both directions that keeps one "last slot" (tshark's)
            // then follows a call with a connection each way.
            lru: (0..=max_slot).rev().collect(),
            last_xmit: None,
            compress_slot,
            scratch: Vec::with_capacity(2048),
        }
    }

    fn touch(&mut self, s: u8) {
        if let Some(i) = self.lru.iter().position(|x| *x == s) {
            self.lru.remove(i);
        }
        self.lru.insert(0, s);
    }

    /// Compresses `d` (an honest IPv4 datagram) if it can, counting into
    /// `stats`. The result borrows either `d` or the compressor.
    pub fn compress<'a>(&'a mut self, d: &'a [u8], stats: &mut VjStats) -> Packet<'a> {
        let Some((nip, nt)) = tcp_headers(d) else {
            stats.plain_out += 1;
            return Packet::Ip(d);
        };
        let (ip_hlen, hlen) = (nip.header_len, nip.header_len + nt.header_len);
        if nt.flags & (TH_SYN | TH_FIN | TH_RST | TH_ACK) != TH_ACK || hlen > MAX_HDR {
            stats.plain_out += 1;
            return Packet::Ip(d);
        }
        // The connection: addresses and ports, as octets.
        fn key(h: &[u8], ih: usize) -> (&[u8], &[u8]) {
            (&h[ipv4::SRC_AT..ipv4::SRC_AT + 8], &h[ih..ih + 4])
        }
        let found = self.lru.iter().copied().find(|&s| {
            let sl = &self.slots[usize::from(s)];
            sl.used && key(&sl.hdr, sl.ip_hlen) == key(d, ip_hlen)
        });
        let slot = match found {
            Some(s) => s,
            None => {
                let s = *self.lru.last().expect("at least one slot");
                return self.uncompressed(s, d, ip_hlen, hlen, stats);
            }
        };
        let c = self.slots[usize::from(slot)].clone();
        let Some((oh, ot)) = saved_headers(&c) else {
            return self.uncompressed(slot, d, ip_hlen, hlen, stats);
        };
        let (oip, oth) = (&c.hdr[..c.ip_hlen], &c.hdr[c.ip_hlen..c.hlen]);
        let (ip, th) = (&d[..ip_hlen], &d[ip_hlen..hlen]);
        // What the decompressor takes from its copy must not have changed:
        // version, IHL, TOS; fragment field; TTL and protocol; IP options;
        // TCP data offset; TCP options; flags but PUSH and URG.
        let same = c.ip_hlen == ip_hlen
            && c.hlen == hlen
            && oip[0..2] == ip[0..2]
            && oip[6..10] == ip[6..10]
            && oip[20..] == ip[20..]
            && oth[tcp::DATA_OFFSET_AT] == th[tcp::DATA_OFFSET_AT]
            && oth[20..] == th[20..]
            && ot.flags & !(TH_PUSH | TH_URG) == nt.flags & !(TH_PUSH | TH_URG);
        if !same {
            return self.uncompressed(slot, d, ip_hlen, hlen, stats);
        }
        let mut deltas = Vec::with_capacity(16);
        let mut changes = 0u8;
        if nt.flags & TH_URG != 0 {
            encode(&mut deltas, nt.urgent);
            changes |= NEW_U;
        } else if nt.urgent != ot.urgent || ot.flags & TH_URG != 0 {
            // The decompressor keeps the old urgent pointer and flag.
            return self.uncompressed(slot, d, ip_hlen, hlen, stats);
        }
        let dw = nt.window.wrapping_sub(ot.window);
        if dw != 0 {
            encode(&mut deltas, dw);
            changes |= NEW_W;
        }
        let da = nt.ack.wrapping_sub(ot.ack);
        if da != 0 {
            if da > 0xffff {
                return self.uncompressed(slot, d, ip_hlen, hlen, stats);
            }
            encode(&mut deltas, da as u16);
            changes |= NEW_A;
        }
        let ds = nt.seq.wrapping_sub(ot.seq);
        if ds != 0 {
            if ds > 0xffff {
                return self.uncompressed(slot, d, ip_hlen, hlen, stats);
            }
            encode(&mut deltas, ds as u16);
            changes |= NEW_S;
        }
        let last_data = (oh.total_len as u32).wrapping_sub(c.hlen as u32);
        match changes {
            // A retransmitted ack or window probe may go compressed only if
            // the last packet had no data and this one has.
            0 if nip.total_len != oh.total_len && last_data == 0 => {}
            0 => return self.uncompressed(slot, d, ip_hlen, hlen, stats),
            // Real changes that look like the special encodings would be
            // misread.
            SPECIAL_I | SPECIAL_D => return self.uncompressed(slot, d, ip_hlen, hlen, stats),
            m if m == NEW_S | NEW_A && ds == da && ds == last_data => {
                changes = SPECIAL_I;
                deltas.clear();
            }
            NEW_S if ds == last_data => {
                changes = SPECIAL_D;
                deltas.clear();
            }
            _ => {}
        }
        let di = nip.ident.wrapping_sub(oh.ident);
        if di != 1 {
            encode(&mut deltas, di);
            changes |= NEW_I;
        }
        if nt.flags & TH_PUSH != 0 {
            changes |= TCP_PUSH;
        }
        // This header is the connection's copy from now on.
        let sl = &mut self.slots[usize::from(slot)];
        sl.hdr[..hlen].copy_from_slice(&d[..hlen]);
        self.touch(slot);
        let out = &mut self.scratch;
        out.clear();
        if self.compress_slot && self.last_xmit == Some(slot) {
            out.push(changes);
        } else {
            out.push(changes | NEW_C);
            out.push(slot);
        }
        self.last_xmit = Some(slot);
        out.extend_from_slice(&nt.checksum.to_be_bytes());
        out.extend_from_slice(&deltas);
        out.extend_from_slice(&d[hlen..]);
        stats.compressed_out += 1;
        stats.saved_octets += (d.len() - out.len()) as u64;
        Packet::Compressed(&self.scratch)
    }

    fn uncompressed<'a>(
        &'a mut self,
        slot: u8,
        d: &[u8],
        ip_hlen: usize,
        hlen: usize,
        stats: &mut VjStats,
    ) -> Packet<'a> {
        let sl = &mut self.slots[usize::from(slot)];
        sl.hdr[..hlen].copy_from_slice(&d[..hlen]);
        sl.hlen = hlen;
        sl.ip_hlen = ip_hlen;
        sl.used = true;
        self.touch(slot);
        self.last_xmit = Some(slot);
        self.scratch.clear();
        self.scratch.extend_from_slice(d);
        self.scratch[ipv4::PROTOCOL_AT] = slot;
        stats.uncompressed_out += 1;
        Packet::Uncompressed(&self.scratch)
    }
}

/// The receive side of one link.
pub struct Decompressor {
    slots: Vec<Slot>,
    last_recv: Option<u8>,
    toss: bool,
    out: Vec<u8>,
}

impl std::fmt::Debug for Decompressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decompressor")
            .field("slots", &self.slots.len())
            .field("toss", &self.toss)
            .finish_non_exhaustive()
    }
}

impl Decompressor {
    /// `max_slot` is ours, as we asked for it.
    pub fn new(max_slot: u8) -> Self {
        Decompressor {
            slots: vec![Slot::default(); usize::from(max_slot) + 1],
            last_recv: None,
            toss: false,
            out: Vec::with_capacity(2048),
        }
    }

    /// A frame was lost or damaged (RFC 1144 §4.3): compressed packets are
    /// tossed until one names its slot.
    pub fn lost(&mut self) {
        self.toss = true;
    }

    /// A 0x002f frame: returns the datagram with its protocol restored.
    pub fn uncompressed(&mut self, p: &[u8], stats: &mut VjStats) -> Option<&[u8]> {
        let slot = p.get(ipv4::PROTOCOL_AT).copied();
        let mut d = p.to_vec();
        if slot.is_some() {
            d[ipv4::PROTOCOL_AT] = ipproto::TCP;
        }
        let ok = slot
            .filter(|s| usize::from(*s) < self.slots.len())
            .zip(tcp_lengths(&d));
        let Some((s, (ip_hlen, hlen))) = ok else {
            stats.errors += 1;
            self.toss = true;
            return None;
        };
        if hlen > MAX_HDR {
            stats.errors += 1;
            self.toss = true;
            return None;
        }
        let sl = &mut self.slots[usize::from(s)];
        sl.hdr[..hlen].copy_from_slice(&d[..hlen]);
        sl.hlen = hlen;
        sl.ip_hlen = ip_hlen;
        sl.used = true;
        self.last_recv = Some(s);
        self.toss = false;
        stats.uncompressed_in += 1;
        self.out = d;
        Some(&self.out)
    }

    /// A 0x002d frame: returns the rebuilt datagram.
    pub fn compressed(&mut self, p: &[u8], stats: &mut VjStats) -> Option<&[u8]> {
        match self.rebuild(p) {
            Ok(()) => {
                stats.compressed_in += 1;
                Some(&self.out)
            }
            Err(Fail::Tossed) => {
                stats.tossed += 1;
                None
            }
            Err(Fail::Bad) => {
                stats.errors += 1;
                self.toss = true;
                None
            }
        }
    }

    fn rebuild(&mut self, p: &[u8]) -> Result<(), Fail> {
        let mut r = Reader { p, at: 0 };
        let changes = r.u8()?;
        let slot = if changes & NEW_C != 0 {
            let s = r.u8()?;
            if usize::from(s) >= self.slots.len() {
                return Err(Fail::Bad);
            }
            self.toss = false;
            self.last_recv = Some(s);
            s
        } else if self.toss {
            return Err(Fail::Tossed);
        } else {
            self.last_recv.ok_or(Fail::Bad)?
        };
        let sl = &mut self.slots[usize::from(slot)];
        if !sl.used {
            return Err(Fail::Bad);
        }
        let (ih, hl) = (sl.ip_hlen, sl.hlen);
        let mut h = sl.hdr;
        let cksum = [r.u8()?, r.u8()?];
        let t = ih;
        h[t + tcp::CHECKSUM_AT..t + tcp::CHECKSUM_AT + 2].copy_from_slice(&cksum);
        let flags = t + tcp::FLAGS_AT;
        if changes & TCP_PUSH != 0 {
            h[flags] |= TH_PUSH;
        } else {
            h[flags] &= !TH_PUSH;
        }
        let last_data = u32::from(be16(&h, ipv4::TOTAL_LEN_AT)).wrapping_sub(hl as u32);
        let add32 = |h: &mut [u8; MAX_HDR], at: usize, n: u32| {
            let v = be32(h, at).wrapping_add(n);
            h[at..at + 4].copy_from_slice(&v.to_be_bytes());
        };
        let add16 = |h: &mut [u8; MAX_HDR], at: usize, n: u16| {
            let v = be16(h, at).wrapping_add(n);
            h[at..at + 2].copy_from_slice(&v.to_be_bytes());
        };
        match changes & SPECIALS_MASK {
            SPECIAL_I => {
                add32(&mut h, t + tcp::ACK_AT, last_data);
                add32(&mut h, t + tcp::SEQ_AT, last_data);
            }
            SPECIAL_D => add32(&mut h, t + tcp::SEQ_AT, last_data),
            _ => {
                if changes & NEW_U != 0 {
                    h[flags] |= TH_URG;
                    let u = r.delta()?;
                    let at = t + tcp::URGENT_AT;
                    h[at..at + 2].copy_from_slice(&u.to_be_bytes());
                } else {
                    h[flags] &= !TH_URG;
                }
                if changes & NEW_W != 0 {
                    let w = r.delta()?;
                    add16(&mut h, t + tcp::WINDOW_AT, w);
                }
                if changes & NEW_A != 0 {
                    let a = r.delta()?;
                    add32(&mut h, t + tcp::ACK_AT, u32::from(a));
                }
                if changes & NEW_S != 0 {
                    let s = r.delta()?;
                    add32(&mut h, t + tcp::SEQ_AT, u32::from(s));
                }
            }
        }
        let di = if changes & NEW_I != 0 { r.delta()? } else { 1 };
        add16(&mut h, ipv4::IDENT_AT, di);
        let data = &p[r.at..];
        let total = hl + data.len();
        let total16 = u16::try_from(total).map_err(|_| Fail::Bad)?;
        h[ipv4::TOTAL_LEN_AT..ipv4::TOTAL_LEN_AT + 2].copy_from_slice(&total16.to_be_bytes());
        let c = wire::ipv4_header_checksum(&h[..ih]);
        h[ipv4::CHECKSUM_AT..ipv4::CHECKSUM_AT + 2].copy_from_slice(&c.to_be_bytes());
        // The rebuilt header is the connection's copy from now on.
        self.slots[usize::from(slot)].hdr = h;
        self.out.clear();
        self.out.extend_from_slice(&h[..hl]);
        self.out.extend_from_slice(data);
        Ok(())
    }
}

enum Fail {
    Tossed,
    Bad,
}

struct Reader<'a> {
    p: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn u8(&mut self) -> Result<u8, Fail> {
        let b = *self.p.get(self.at).ok_or(Fail::Bad)?;
        self.at += 1;
        Ok(b)
    }

    fn delta(&mut self) -> Result<u16, Fail> {
        match self.u8()? {
            0 => Ok(u16::from_be_bytes([self.u8()?, self.u8()?])),
            n => Ok(u16::from(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv4 TCP segment with valid checksums.
    pub(crate) fn segment(
        sport: u16,
        seq: u32,
        ack: u32,
        flags: u8,
        win: u16,
        id: u16,
        data: &[u8],
    ) -> Vec<u8> {
        let mut d = vec![0u8; 40];
        let (src, dst) = ([10, 0, 0, 2].into(), [10, 0, 0, 1].into());
        wire::write_ipv4_header(&mut d, src, dst, ipproto::TCP, 20 + data.len(), id);
        d[20..22].copy_from_slice(&sport.to_be_bytes());
        d[22..24].copy_from_slice(&23u16.to_be_bytes());
        d[24..28].copy_from_slice(&seq.to_be_bytes());
        d[28..32].copy_from_slice(&ack.to_be_bytes());
        d[32] = 5 << 4;
        d[33] = flags;
        d[34..36].copy_from_slice(&win.to_be_bytes());
        d.extend_from_slice(data);
        // Any TCP checksum will do: it is carried, not computed.
        d[36..38].copy_from_slice(&(seq as u16 ^ 0x5a5a).to_be_bytes());
        d
    }

    fn round_trip(c: &mut Compressor, r: &mut Decompressor, d: &[u8], st: &mut VjStats) -> Vec<u8> {
        match c.compress(d, st) {
            Packet::Ip(p) => p.to_vec(),
            Packet::Uncompressed(p) => {
                let p = p.to_vec();
                r.uncompressed(&p, st).unwrap().to_vec()
            }
            Packet::Compressed(p) => {
                let p = p.to_vec();
                r.compressed(&p, st).unwrap().to_vec()
            }
        }
    }

    #[test]
    fn an_interactive_session_compresses_to_a_few_octets() {
        let (mut c, mut r, mut st) = (
            Compressor::new(15, true),
            Decompressor::new(15),
            VjStats::default(),
        );
        let mut sizes = Vec::new();
        for (seq, i) in (1000..).zip(0..20u16) {
            let d = segment(4000, seq, 5000, TH_ACK | TH_PUSH, 8192, 100 + i, b"x");
            let before = st;
            assert_eq!(round_trip(&mut c, &mut r, &d, &mut st), d);
            if st.compressed_out > before.compressed_out {
                sizes.push(c.scratch.len());
            }
        }
        assert_eq!(st.uncompressed_out, 1, "{st:?}");
        assert_eq!(st.compressed_out, 19);
        // change mask, checksum, one data octet; the first compressed one
        // also names its slot.
        assert!(sizes[1..].iter().all(|n| *n == 4), "{sizes:?}");
    }

    #[test]
    fn syn_fin_and_other_protocols_pass_as_ip() {
        let mut c = Compressor::new(15, true);
        let mut st = VjStats::default();
        for flags in [TH_SYN, TH_SYN | TH_ACK, TH_FIN | TH_ACK, TH_RST] {
            let d = segment(1, 1, 1, flags, 1, 1, b"");
            assert!(matches!(c.compress(&d, &mut st), Packet::Ip(_)));
        }
        let mut udp = segment(1, 1, 1, TH_ACK, 1, 1, b"");
        udp[9] = 17;
        assert!(matches!(c.compress(&udp, &mut st), Packet::Ip(_)));
        assert_eq!(st.plain_out, 5);
    }

    #[test]
    fn after_a_lost_frame_compressed_packets_are_tossed_until_a_resync() {
        let (mut c, mut r, mut st) = (
            Compressor::new(15, true),
            Decompressor::new(15),
            VjStats::default(),
        );
        let mut seq = 1;
        let next = |c: &mut Compressor, st: &mut VjStats, s: u32, id: u16| match c
            .compress(&segment(4000, s, 1, TH_ACK, 100, id, &[7; 10]), st)
        {
            Packet::Compressed(p) => (COMPRESSED_TCP, p.to_vec()),
            Packet::Uncompressed(p) => (UNCOMPRESSED_TCP, p.to_vec()),
            Packet::Ip(p) => (0x21, p.to_vec()),
        };
        let deliver = |r: &mut Decompressor, st: &mut VjStats, (proto, p): (u16, Vec<u8>)| {
            if proto == COMPRESSED_TCP {
                r.compressed(&p, st).map(<[u8]>::to_vec)
            } else {
                r.uncompressed(&p, st).map(<[u8]>::to_vec)
            }
        };
        for id in 0..3 {
            let f = next(&mut c, &mut st, seq, id);
            assert!(deliver(&mut r, &mut st, f).is_some());
            seq += 10;
        }
        // One frame lost on the line (the framer saw a bad FCS).
        let _lost = next(&mut c, &mut st, seq, 3);
        r.lost();
        seq += 10;
        let f = next(&mut c, &mut st, seq, 4);
        assert_eq!(deliver(&mut r, &mut st, f), None, "tossed");
        assert_eq!(st.tossed, 1);
        // TCP retransmits the lost segment: its sequence number went back,
        // so it goes uncompressed and both ends agree again.
        let f = next(&mut c, &mut st, seq - 10, 5);
        assert_eq!(f.0, UNCOMPRESSED_TCP);
        let back = deliver(&mut r, &mut st, f).unwrap();
        assert_eq!(back, segment(4000, seq - 10, 1, TH_ACK, 100, 5, &[7; 10]));
        let f = next(&mut c, &mut st, seq, 6);
        assert_eq!(f.0, COMPRESSED_TCP);
        assert_eq!(
            deliver(&mut r, &mut st, f).unwrap(),
            segment(4000, seq, 1, TH_ACK, 100, 6, &[7; 10])
        );
    }

    use proptest::prelude::*;

    /// One step of a connection: which one, how much data, how seq, ack,
    /// window and IP ID move, and the PUSH and URG flags.
    fn step() -> impl Strategy<Value = (usize, usize, u8, u32, u16, u16, bool, Option<u16>)> {
        (
            0usize..3,
            0usize..60,
            0u8..4,
            0u32..70000,
            any::<u16>(),
            prop_oneof![Just(1u16), any::<u16>()],
            any::<bool>(),
            prop_oneof![9 => Just(None), 1 => any::<u16>().prop_map(Some)],
        )
    }

    proptest! {
        /// RFC 1144's promise: whatever TCP/IP headers go in, the same come
        /// out, compressed or not.
        #[test]
        fn any_sequence_of_segments_comes_back_the_same(steps in proptest::collection::vec(step(), 1..80)) {
            let (mut c, mut r, mut st) = (Compressor::new(1, true), Decompressor::new(1), VjStats::default());
            // (seq, ack, win, id, last data length) per connection.
            let mut conns = [(1000u32, 7000u32, 4096u16, 1u16, 0usize); 3];
            for (i, len, seq_mode, jump, win_d, id_d, push, urg) in steps {
                let k = &mut conns[i];
                k.0 = match seq_mode {
                    0 => k.0.wrapping_add(k.4 as u32),
                    1 => k.0,
                    2 => k.0.wrapping_add(jump),
                    _ => k.0.wrapping_sub(jump),
                };
                if seq_mode == 0 && jump % 2 == 0 {
                    k.1 = k.1.wrapping_add(k.4 as u32);
                } else if jump % 3 == 0 {
                    k.1 = k.1.wrapping_add(jump);
                }
                k.2 = k.2.wrapping_add(win_d % 3);
                k.3 = k.3.wrapping_add(id_d);
                k.4 = len;
                let mut flags = TH_ACK;
                if push { flags |= TH_PUSH; }
                let data: Vec<u8> = (0..len).map(|b| b as u8).collect();
                let mut d = segment(4000 + i as u16, k.0, k.1, flags, k.2, k.3, &data);
                if let Some(u) = urg {
                    d[33] |= TH_URG;
                    d[38..40].copy_from_slice(&u.to_be_bytes());
                }
                prop_assert_eq!(round_trip(&mut c, &mut r, &d, &mut st), d);
            }
            prop_assert_eq!(st.errors + st.tossed, 0);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut r = Decompressor::new(15);
        let mut st = VjStats::default();
        for p in [
            &[][..],
            &[NEW_C],
            &[NEW_C, 200, 0, 0],
            &[0x00, 1, 2],
            &[NEW_C, 1, 0],
        ] {
            assert!(r.compressed(p, &mut st).is_none());
        }
        assert!(r.uncompressed(&[0x45, 0, 0, 40], &mut st).is_none());
        let mut bad_slot = segment(1, 1, 1, TH_ACK, 1, 1, b"");
        bad_slot[9] = 99;
        assert!(r.uncompressed(&bad_slot, &mut st).is_none());
        assert!(st.errors >= 6, "{st:?}");
    }
}
