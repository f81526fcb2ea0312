//! Attribute-Value Pairs (RFC 2661 §4.1): the raw format and an iterator
//! over a message's AVPs; [`typed`] has the IETF AVPs of §4.4 as [`Avp`].
//!
//! ```text
//! |M|H| rsvd  |      Length       |           Vendor ID           |
//! |         Attribute Type        |        Attribute Value...
//! ```

use thiserror::Error;

pub mod typed;

pub use typed::{Avp, CallErrors};

const M_BIT: u16 = 0x8000;
const H_BIT: u16 = 0x4000;
const RESERVED_BITS: u16 = 0x3c00;
const LENGTH_MASK: u16 = 0x03ff;

/// Flags-and-length, Vendor ID and Attribute Type (§4.1).
pub const AVP_HEADER_LEN: usize = 6;
/// Length has 10 bits (§4.1).
pub const MAX_AVP_LEN: usize = 1023;
/// The largest value an AVP can carry.
pub const MAX_VALUE_LEN: usize = MAX_AVP_LEN - AVP_HEADER_LEN;
/// The IETF's vendor ID, under which §4.4's attributes are numbered.
pub const IETF: u16 = 0;

/// Framing Capabilities / Framing Type bits (§4.4.3, §4.4.5).
pub const FRAMING_SYNC: u32 = 0x1;
pub const FRAMING_ASYNC: u32 = 0x2;
/// Bearer Capabilities / Bearer Type bits (§4.4.3, §4.4.5).
pub const BEARER_DIGITAL: u32 = 0x1;
pub const BEARER_ANALOG: u32 = 0x2;

/// An AVP or AVP list the decoder refuses.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum AvpError {
    #[error("AVP at octet {at}: {got} octets left, an AVP header needs 6")]
    Truncated { at: usize, got: usize },
    #[error("AVP at octet {at}: Length {length} is under the 6-octet header")]
    LengthUnderHeader { at: usize, length: usize },
    #[error("AVP at octet {at}: Length {length} runs past the {left} octets left")]
    LengthBeyondMessage {
        at: usize,
        length: usize,
        left: usize,
    },
    #[error("AVP value of {0} octets does not fit Length's 10 bits")]
    TooLong(usize),
    #[error("AVP {attr}: a value of {len} octets is not the size §4.4 gives it")]
    BadValueLen { attr: u16, len: usize },
}

/// One AVP as it stands on the wire, its value still hidden if H is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawAvp<'a> {
    pub mandatory: bool,
    pub hidden: bool,
    /// A reserved bit was set: §4.1 says to treat such an AVP as
    /// unrecognised.
    pub reserved: bool,
    pub vendor: u16,
    pub attr: u16,
    pub value: &'a [u8],
}

/// The AVPs of a message body in order; after the first error it yields
/// nothing more, since a lying Length leaves no way to find the next AVP.
#[derive(Clone, Debug)]
pub struct Avps<'a> {
    rest: &'a [u8],
    at: usize,
}

impl<'a> Avps<'a> {
    pub fn new(body: &'a [u8]) -> Self {
        Avps { rest: body, at: 0 }
    }
}

impl<'a> Iterator for Avps<'a> {
    type Item = Result<RawAvp<'a>, AvpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let r = self.rest;
        let at = self.at;
        let fail = |s: &mut Self, e| {
            s.rest = &[];
            Some(Err(e))
        };
        if r.len() < AVP_HEADER_LEN {
            return fail(self, AvpError::Truncated { at, got: r.len() });
        }
        let word = |i: usize| u16::from_be_bytes([r[i], r[i + 1]]);
        let flags = word(0);
        let length = usize::from(flags & LENGTH_MASK);
        if length < AVP_HEADER_LEN {
            return fail(self, AvpError::LengthUnderHeader { at, length });
        }
        if length > r.len() {
            let left = r.len();
            return fail(self, AvpError::LengthBeyondMessage { at, length, left });
        }
        self.rest = &r[length..];
        self.at += length;
        Some(Ok(RawAvp {
            mandatory: flags & M_BIT != 0,
            hidden: flags & H_BIT != 0,
            reserved: flags & RESERVED_BITS != 0,
            vendor: word(2),
            attr: word(4),
            value: &r[AVP_HEADER_LEN..length],
        }))
    }
}

/// Appends one AVP; the value must fit Length's 10 bits.
pub fn emit_raw(
    out: &mut Vec<u8>,
    mandatory: bool,
    hidden: bool,
    vendor: u16,
    attr: u16,
    value: &[u8],
) -> Result<(), AvpError> {
    if value.len() > MAX_VALUE_LEN {
        return Err(AvpError::TooLong(value.len()));
    }
    let mut flags = (AVP_HEADER_LEN + value.len()) as u16;
    if mandatory {
        flags |= M_BIT;
    }
    if hidden {
        flags |= H_BIT;
    }
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&vendor.to_be_bytes());
    out.extend_from_slice(&attr.to_be_bytes());
    out.extend_from_slice(value);
    Ok(())
}

/// Whether §4.4 defines this attribute, so that this core understands it
/// (20 is reserved).
pub fn known(vendor: u16, attr: u16) -> bool {
    vendor == IETF && attr <= 39 && attr != 20
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_iterator_reports_short_and_lying_lengths_then_stops() {
        let mut b = Vec::new();
        Avp::MessageType(6).emit(&mut b).unwrap();
        let good = b.len();
        b.extend_from_slice(&[0x00, 0x05, 0, 0, 0, 0]);
        let got: Vec<_> = Avps::new(&b).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[1],
            Err(AvpError::LengthUnderHeader {
                at: good,
                length: 5
            })
        );

        b.truncate(good);
        b.extend_from_slice(&[0x00, 0x08, 0, 0, 0, 0, 1]);
        let got: Vec<_> = Avps::new(&b).collect();
        assert_eq!(
            got[1],
            Err(AvpError::LengthBeyondMessage {
                at: good,
                length: 8,
                left: 7
            })
        );

        b.truncate(good);
        b.extend_from_slice(&[0x80, 0x08, 0]);
        let got: Vec<_> = Avps::new(&b).collect();
        assert_eq!(got[1], Err(AvpError::Truncated { at: good, got: 3 }));
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn reserved_bits_are_reported() {
        let b = [0x84, 0x08, 0, 0, 0, 0, 0, 1];
        let raw = Avps::new(&b).next().unwrap().unwrap();
        assert!(raw.mandatory && raw.reserved && !raw.hidden);
        assert_eq!(raw.value, &[0, 1]);
    }

    #[test]
    fn a_value_over_1017_octets_does_not_fit() {
        let mut out = Vec::new();
        assert_eq!(
            emit_raw(&mut out, true, false, 0, 7, &[0; MAX_VALUE_LEN + 1]),
            Err(AvpError::TooLong(MAX_VALUE_LEN + 1))
        );
        emit_raw(&mut out, true, false, 0, 7, &[0; MAX_VALUE_LEN]).unwrap();
        assert_eq!(out.len(), MAX_AVP_LEN);
        assert_eq!(
            Avps::new(&out).next().unwrap().unwrap().value.len(),
            MAX_VALUE_LEN
        );
    }
}
