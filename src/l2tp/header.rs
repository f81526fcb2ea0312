//! The L2TP header (RFC 2661 §3.1), in two shapes: [`Packet`], a checked
//! view over the octets of a datagram, and [`Repr`], the plain fields a
//! caller builds or matches on.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! |T|L|x|x|S|x|O|P|x|x|x|x|  Ver  |          Length (opt)         |
//! |           Tunnel ID           |           Session ID          |
//! |             Ns (opt)          |             Nr (opt)          |
//! |      Offset Size (opt)        |    Offset pad... (opt)
//! ```

use thiserror::Error;

/// The flag bits of the first word (§3.1).
const T_BIT: u16 = 0x8000;
const L_BIT: u16 = 0x4000;
const S_BIT: u16 = 0x0800;
const O_BIT: u16 = 0x0200;
const P_BIT: u16 = 0x0100;
const VER_MASK: u16 = 0x000f;

/// The version this core speaks: L2TPv2 (§3.1).
pub const VERSION: u8 = 2;

/// Flags, tunnel ID and session ID: the least an L2TP header holds.
pub const MIN_HEADER_LEN: usize = 6;

/// A header the decoder refuses, each for its own reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum HeaderError {
    #[error("datagram of {got} octets is shorter than its {need}-octet header")]
    Truncated { need: usize, got: usize },
    /// Ver 3 is L2TPv3 (RFC 3931), a different header and AVP set.
    #[error("L2TPv3 header (Ver 3): this core speaks L2TPv2 only")]
    L2tpV3,
    /// Ver 1 is L2F (RFC 2341), which §3.1 says to recognise and discard.
    #[error("L2F header (Ver 1) is not L2TP")]
    L2f,
    #[error("unknown L2TP version {0}")]
    UnknownVersion(u8),
    #[error("Length {length} is shorter than the {header}-octet header")]
    LengthUnderHeader { length: usize, header: usize },
    #[error("Length {length} is longer than the {datagram}-octet datagram")]
    LengthBeyondDatagram { length: usize, datagram: usize },
    /// §3.1: the L bit MUST be set on control messages.
    #[error("control message without a Length field")]
    ControlWithoutLength,
    /// §3.1: the S bit MUST be set on control messages.
    #[error("control message without Ns and Nr")]
    ControlWithoutSequence,
    /// §3.1: the O bit MUST be zero on control messages.
    #[error("control message with an Offset Size")]
    ControlWithOffset,
}

/// A datagram whose header has been checked to fit: every accessor reads
/// within bounds. Reserved bits are ignored, as §3.1 asks of a receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// The view, with no checks: accessors may panic on a short buffer.
    /// Only for buffers [`Repr::emit`] has just written.
    pub fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// The view, once the version is 2 and the header, its Length and its
    /// offset padding all fit in what arrived.
    pub fn new_checked(buffer: T) -> Result<Self, HeaderError> {
        let p = Packet { buffer };
        p.check()?;
        Ok(p)
    }

    fn check(&self) -> Result<(), HeaderError> {
        let b = self.buffer.as_ref();
        if b.len() < 2 {
            return Err(HeaderError::Truncated {
                need: MIN_HEADER_LEN,
                got: b.len(),
            });
        }
        match self.version() {
            VERSION => {}
            1 => return Err(HeaderError::L2f),
            3 => return Err(HeaderError::L2tpV3),
            v => return Err(HeaderError::UnknownVersion(v)),
        }
        let fixed = self.fixed_len();
        if b.len() < fixed {
            return Err(HeaderError::Truncated {
                need: fixed,
                got: b.len(),
            });
        }
        let header = self.header_len();
        if b.len() < header {
            return Err(HeaderError::Truncated {
                need: header,
                got: b.len(),
            });
        }
        if let Some(length) = self.length() {
            let length = usize::from(length);
            if length < header {
                return Err(HeaderError::LengthUnderHeader { length, header });
            }
            if length > b.len() {
                return Err(HeaderError::LengthBeyondDatagram {
                    length,
                    datagram: b.len(),
                });
            }
        }
        Ok(())
    }

    fn word(&self, at: usize) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[at], b[at + 1]])
    }

    fn flags(&self) -> u16 {
        self.word(0)
    }

    pub fn version(&self) -> u8 {
        (self.flags() & VER_MASK) as u8
    }

    /// T: a control message, not data.
    pub fn is_control(&self) -> bool {
        self.flags() & T_BIT != 0
    }

    pub fn has_length(&self) -> bool {
        self.flags() & L_BIT != 0
    }

    pub fn has_sequence(&self) -> bool {
        self.flags() & S_BIT != 0
    }

    pub fn has_offset(&self) -> bool {
        self.flags() & O_BIT != 0
    }

    /// P: a data message to be queued ahead of others (§3.1).
    pub fn priority(&self) -> bool {
        self.flags() & P_BIT != 0
    }

    /// Where each optional field stands depends on the flags before it.
    fn at_tunnel(&self) -> usize {
        if self.has_length() {
            4
        } else {
            2
        }
    }

    fn at_sequence(&self) -> usize {
        self.at_tunnel() + 4
    }

    fn at_offset(&self) -> usize {
        self.at_sequence() + if self.has_sequence() { 4 } else { 0 }
    }

    /// The header up to and including Offset Size, without the padding.
    fn fixed_len(&self) -> usize {
        self.at_offset() + if self.has_offset() { 2 } else { 0 }
    }

    /// The header with its offset padding: where the payload starts.
    pub fn header_len(&self) -> usize {
        self.fixed_len() + self.offset_size().map_or(0, usize::from)
    }

    pub fn length(&self) -> Option<u16> {
        self.has_length().then(|| self.word(2))
    }

    /// The recipient's tunnel ID (§3.1).
    pub fn tunnel_id(&self) -> u16 {
        self.word(self.at_tunnel())
    }

    /// The recipient's session ID (§3.1).
    pub fn session_id(&self) -> u16 {
        self.word(self.at_tunnel() + 2)
    }

    pub fn ns(&self) -> Option<u16> {
        self.has_sequence().then(|| self.word(self.at_sequence()))
    }

    pub fn nr(&self) -> Option<u16> {
        self.has_sequence()
            .then(|| self.word(self.at_sequence() + 2))
    }

    pub fn offset_size(&self) -> Option<u16> {
        self.has_offset().then(|| self.word(self.at_offset()))
    }

    /// The octets after the header, up to Length when there is one:
    /// what follows Length in a datagram is not the message's.
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = self.length().map_or(b.len(), usize::from);
        &b[self.header_len()..end]
    }
}

/// Ns and Nr of a sequenced message (§3.1, §5.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sequence {
    pub ns: u16,
    pub nr: u16,
}

/// An L2TPv2 header's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Repr {
    pub control: bool,
    /// Whether a Length field is sent; its value is computed on emit.
    pub with_length: bool,
    pub sequence: Option<Sequence>,
    /// Offset Size: that many octets of padding (sent as zeros) before the
    /// payload.
    pub offset: Option<u16>,
    pub priority: bool,
    pub tunnel_id: u16,
    pub session_id: u16,
}

impl Repr {
    /// The header every control message carries: T, L and S set, no
    /// offset (§3.1).
    pub fn control(tunnel_id: u16, session_id: u16, ns: u16, nr: u16) -> Repr {
        Repr {
            control: true,
            with_length: true,
            sequence: Some(Sequence { ns, nr }),
            offset: None,
            priority: false,
            tunnel_id,
            session_id,
        }
    }

    /// The fields of a checked packet, refusing a control message that
    /// breaks §3.1's rules for control headers.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr, HeaderError> {
        if p.is_control() {
            if !p.has_length() {
                return Err(HeaderError::ControlWithoutLength);
            }
            if !p.has_sequence() {
                return Err(HeaderError::ControlWithoutSequence);
            }
            if p.has_offset() {
                return Err(HeaderError::ControlWithOffset);
            }
        }
        Ok(Repr {
            control: p.is_control(),
            with_length: p.has_length(),
            sequence: p.ns().zip(p.nr()).map(|(ns, nr)| Sequence { ns, nr }),
            offset: p.offset_size(),
            priority: p.priority(),
            tunnel_id: p.tunnel_id(),
            session_id: p.session_id(),
        })
    }

    /// The header's octets on the wire, offset padding included.
    pub fn buffer_len(&self) -> usize {
        let mut n = MIN_HEADER_LEN;
        if self.with_length {
            n += 2;
        }
        if self.sequence.is_some() {
            n += 4;
        }
        if let Some(off) = self.offset {
            n += 2 + usize::from(off);
        }
        n
    }

    /// Writes the header into the front of `buf`, its Length (when sent)
    /// covering `payload_len` octets after it. `buf` must hold at least
    /// [`Repr::buffer_len`] octets; `None` when it does not, or when the
    /// whole would not fit Length's 16 bits.
    pub fn emit(&self, buf: &mut [u8], payload_len: usize) -> Option<()> {
        let header = self.buffer_len();
        let total = header.checked_add(payload_len)?;
        if buf.len() < header || (self.with_length && total > usize::from(u16::MAX)) {
            return None;
        }
        let mut flags = u16::from(VERSION);
        let bit = |on: bool, b: u16| if on { b } else { 0 };
        flags |= bit(self.control, T_BIT)
            | bit(self.with_length, L_BIT)
            | bit(self.sequence.is_some(), S_BIT)
            | bit(self.offset.is_some(), O_BIT)
            | bit(self.priority, P_BIT);
        let mut at = 0;
        let mut put = |v: u16| {
            buf[at..at + 2].copy_from_slice(&v.to_be_bytes());
            at += 2;
        };
        put(flags);
        if self.with_length {
            put(total as u16);
        }
        put(self.tunnel_id);
        put(self.session_id);
        if let Some(s) = self.sequence {
            put(s.ns);
            put(s.nr);
        }
        if let Some(off) = self.offset {
            put(off);
            buf[at..at + usize::from(off)].fill(0);
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(b: &[u8]) -> Result<Repr, HeaderError> {
        Repr::parse(&Packet::new_checked(b)?)
    }

    fn emit(r: &Repr, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0xaa; r.buffer_len() + payload.len()];
        r.emit(&mut v, payload.len()).unwrap();
        v[r.buffer_len()..].copy_from_slice(payload);
        v
    }

    #[test]
    fn a_control_header_is_twelve_octets_and_round_trips() {
        let r = Repr::control(7, 0, 3, 5);
        assert_eq!(r.buffer_len(), 12);
        let b = emit(&r, &[1, 2, 3]);
        // T, L, S and Ver 2 (§3.1): 0xc802, then Length 15.
        assert_eq!(&b[..4], &[0xc8, 0x02, 0x00, 15]);
        assert_eq!(parse(&b), Ok(r));
        assert_eq!(Packet::new_checked(&b[..]).unwrap().payload(), &[1, 2, 3]);
    }

    #[test]
    fn a_bare_data_header_is_six_octets() {
        let r = Repr {
            control: false,
            with_length: false,
            sequence: None,
            offset: None,
            priority: true,
            tunnel_id: 0x1234,
            session_id: 0x5678,
        };
        assert_eq!(r.buffer_len(), MIN_HEADER_LEN);
        let b = emit(&r, &[0xff, 0x03]);
        assert_eq!(&b[..6], &[0x01, 0x02, 0x12, 0x34, 0x56, 0x78]);
        assert_eq!(parse(&b), Ok(r));
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap().payload(),
            &[0xff, 0x03]
        );
    }

    #[test]
    fn offset_padding_is_skipped_before_the_payload() {
        let r = Repr {
            control: false,
            with_length: true,
            sequence: Some(Sequence { ns: 1, nr: 2 }),
            offset: Some(3),
            priority: false,
            tunnel_id: 1,
            session_id: 2,
        };
        assert_eq!(r.buffer_len(), 6 + 2 + 4 + 2 + 3);
        let b = emit(&r, &[9]);
        assert_eq!(&b[14..17], &[0, 0, 0]);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.payload(), &[9]);
        assert_eq!(Repr::parse(&p), Ok(r));
    }

    #[test]
    fn octets_after_length_are_not_payload() {
        let mut b = emit(&Repr::control(1, 0, 0, 0), &[]);
        b.extend_from_slice(&[0xde, 0xad]);
        assert!(Packet::new_checked(&b[..]).unwrap().payload().is_empty());
    }

    #[test]
    fn reserved_bits_are_ignored_on_receipt() {
        let mut b = emit(&Repr::control(1, 2, 3, 4), &[]);
        b[0] |= 0x30 | 0x04;
        b[1] |= 0xf0;
        assert_eq!(parse(&b), Ok(Repr::control(1, 2, 3, 4)));
    }

    #[test]
    fn other_versions_are_refused_by_name() {
        let mut b = emit(&Repr::control(1, 2, 3, 4), &[]);
        for (v, e) in [
            (1, HeaderError::L2f),
            (3, HeaderError::L2tpV3),
            (0, HeaderError::UnknownVersion(0)),
            (15, HeaderError::UnknownVersion(15)),
        ] {
            b[1] = (b[1] & 0xf0) | v;
            assert_eq!(parse(&b), Err(e));
        }
    }

    #[test]
    fn short_datagrams_are_truncated() {
        assert_eq!(parse(&[]), Err(HeaderError::Truncated { need: 6, got: 0 }));
        let b = emit(&Repr::control(1, 2, 3, 4), &[]);
        for n in 2..b.len() {
            assert!(matches!(
                parse(&b[..n]),
                Err(HeaderError::Truncated { need: 12, .. })
            ));
        }
        // An Offset Size whose padding runs past the datagram.
        let b = [0x02, 0x02, 0, 1, 0, 2, 0, 5, 0, 0];
        assert_eq!(parse(&b), Err(HeaderError::Truncated { need: 13, got: 10 }));
    }

    #[test]
    fn a_lying_length_is_refused() {
        let mut b = emit(&Repr::control(1, 2, 3, 4), &[0; 4]);
        b[3] = 11;
        assert_eq!(
            parse(&b),
            Err(HeaderError::LengthUnderHeader {
                length: 11,
                header: 12
            })
        );
        b[3] = 17;
        assert_eq!(
            parse(&b),
            Err(HeaderError::LengthBeyondDatagram {
                length: 17,
                datagram: 16
            })
        );
    }

    #[test]
    fn control_messages_must_carry_length_and_sequence_and_no_offset() {
        let base = Repr::control(1, 2, 3, 4);
        let no_len = Repr {
            with_length: false,
            ..base
        };
        assert_eq!(
            parse(&emit(&no_len, &[])),
            Err(HeaderError::ControlWithoutLength)
        );
        let no_seq = Repr {
            sequence: None,
            ..base
        };
        assert_eq!(
            parse(&emit(&no_seq, &[])),
            Err(HeaderError::ControlWithoutSequence)
        );
        let off = Repr {
            offset: Some(0),
            ..base
        };
        assert_eq!(parse(&emit(&off, &[])), Err(HeaderError::ControlWithOffset));
    }

    #[test]
    fn emit_refuses_a_short_buffer_or_an_overlong_message() {
        let r = Repr::control(1, 2, 3, 4);
        assert_eq!(r.emit(&mut [0; 11], 0), None);
        assert_eq!(r.emit(&mut [0; 12], 65_535 - 12), Some(()));
        assert_eq!(r.emit(&mut [0; 12], 65_535 - 11), None);
    }
}
