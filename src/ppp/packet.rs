//! Wire format shared by LCP, IPCP, PAP and CHAP packets: Code, Identifier,
//! Length, Data (RFC 1661 §5), and the Type-Length-Value options of
//! Configure packets (RFC 1661 §6).

use thiserror::Error;

/// Why a packet was dropped without being acted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum Malformed {
    #[error("packet shorter than its 4-octet header")]
    Truncated,
    #[error("length field {0} below the 4-octet header")]
    LengthTooSmall(u16),
    #[error("length field {claimed} exceeds the {available} octets received")]
    LengthTooLarge { claimed: u16, available: usize },
    #[error("option of length {0} is shorter than its own header")]
    OptionTooShort(u8),
    #[error("option runs past the end of the packet")]
    OptionOverrun,
    #[error("field runs past the end of the packet")]
    FieldOverrun,
}

/// A control packet borrowed from a received frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    pub code: u8,
    pub id: u8,
    pub data: &'a [u8],
}

impl<'a> Packet<'a> {
    /// RFC 1661 §5: a Length below 4 or beyond the frame drops the packet;
    /// octets past Length are padding and ignored.
    pub fn parse(buf: &'a [u8]) -> Result<Self, Malformed> {
        let [code, id, hi, lo, ..] = *buf else {
            return Err(Malformed::Truncated);
        };
        let len = u16::from_be_bytes([hi, lo]);
        if len < 4 {
            return Err(Malformed::LengthTooSmall(len));
        }
        if usize::from(len) > buf.len() {
            return Err(Malformed::LengthTooLarge {
                claimed: len,
                available: buf.len(),
            });
        }
        Ok(Packet {
            code,
            id,
            data: &buf[4..usize::from(len)],
        })
    }
}

/// Builds a control packet with a correct Length field.
pub fn build(code: u8, id: u8, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + data.len());
    let len = u16::try_from(4 + data.len()).unwrap_or(u16::MAX);
    v.extend_from_slice(&[code, id]);
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(&data[..usize::from(len) - 4]);
    v
}

/// One Configure option: its Type and the octets after Type and Length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opt<'a> {
    pub kind: u8,
    pub data: &'a [u8],
}

impl Opt<'_> {
    /// The option as it stands on the wire.
    pub fn push_to(&self, out: &mut Vec<u8>) {
        push_option(out, self.kind, self.data);
    }

    pub fn u16(&self) -> Option<u16> {
        <[u8; 2]>::try_from(self.data).ok().map(u16::from_be_bytes)
    }

    pub fn u32(&self) -> Option<u32> {
        <[u8; 4]>::try_from(self.data).ok().map(u32::from_be_bytes)
    }
}

/// Splits an option list, rejecting the whole list if any length lies.
pub fn options(mut data: &[u8]) -> Result<Vec<Opt<'_>>, Malformed> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let [kind, len, ..] = *data else {
            return Err(Malformed::OptionOverrun);
        };
        if len < 2 {
            return Err(Malformed::OptionTooShort(len));
        }
        let len = usize::from(len);
        if len > data.len() {
            return Err(Malformed::OptionOverrun);
        }
        out.push(Opt {
            kind,
            data: &data[2..len],
        });
        data = &data[len..];
    }
    Ok(out)
}

pub fn push_option(out: &mut Vec<u8>, kind: u8, data: &[u8]) {
    out.push(kind);
    out.push((data.len() + 2) as u8);
    out.extend_from_slice(data);
}

/// Reads a one-octet-length-prefixed field (PAP Peer-ID/Password, CHAP
/// Value) from the front of `data`.
pub fn take_counted(data: &[u8]) -> Result<(&[u8], &[u8]), Malformed> {
    let (&n, rest) = data.split_first().ok_or(Malformed::FieldOverrun)?;
    let n = usize::from(n);
    if n > rest.len() {
        return Err(Malformed::FieldOverrun);
    }
    Ok(rest.split_at(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_field_lies() {
        assert_eq!(Packet::parse(&[1, 1, 0]), Err(Malformed::Truncated));
        assert_eq!(
            Packet::parse(&[1, 1, 0, 3]),
            Err(Malformed::LengthTooSmall(3))
        );
        assert_eq!(
            Packet::parse(&[1, 1, 0, 0]),
            Err(Malformed::LengthTooSmall(0))
        );
        assert_eq!(
            Packet::parse(&[1, 1, 0, 9, 1, 2]),
            Err(Malformed::LengthTooLarge {
                claimed: 9,
                available: 6
            })
        );
        // Shorter than the frame: the rest is padding.
        let p = Packet::parse(&[2, 7, 0, 5, 0xaa, 0xbb, 0xcc]).unwrap();
        assert_eq!((p.code, p.id, p.data), (2, 7, &[0xaa][..]));
    }

    #[test]
    fn option_lengths_zero_one_and_overrun() {
        assert_eq!(options(&[1, 0]), Err(Malformed::OptionTooShort(0)));
        assert_eq!(options(&[1, 1]), Err(Malformed::OptionTooShort(1)));
        assert_eq!(options(&[1, 4, 5]), Err(Malformed::OptionOverrun));
        assert_eq!(options(&[7]), Err(Malformed::OptionOverrun));
        let o = options(&[7, 2, 1, 4, 5, 220]).unwrap();
        assert_eq!(o.len(), 2);
        assert_eq!(o[1].u16(), Some(1500));
    }

    #[test]
    fn counted_fields() {
        assert_eq!(
            take_counted(&[2, b'a', b'b', 9]).unwrap(),
            (&b"ab"[..], &[9u8][..])
        );
        assert_eq!(take_counted(&[3, b'a']), Err(Malformed::FieldOverrun));
        assert_eq!(take_counted(&[]), Err(Malformed::FieldOverrun));
    }
}
