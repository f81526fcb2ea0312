//! AVP hiding (RFC 2661 §4.3): an AVP's value sent XOR'ed with an MD5
//! stream keyed by the tunnel's shared secret and the message's nearest
//! preceding Random Vector, so that a passive listener does not learn it.
//!
//! The hidden value is Original Length (2 octets) ‖ value ‖ padding, the
//! padding there so that the listener does not learn the length either.
//! Its first 16-octet block is XOR'ed with MD5(Attribute Type ‖ secret ‖
//! Random Vector); each next block with MD5(secret ‖ the previous block
//! as sent).

use md5::{Digest, Md5};
use thiserror::Error;

/// A hidden AVP that cannot be recovered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum HideError {
    /// §4.3: the Random Vector must precede the hidden AVP it keys.
    #[error("hidden AVP {attr} with no Random Vector before it")]
    NoRandomVector { attr: u16 },
    #[error("hidden AVP {attr} and no shared secret to unhide it with")]
    NoSecret { attr: u16 },
    #[error("hidden AVP {attr} of {len} octets has no room for its Original Length")]
    TooShort { attr: u16, len: usize },
    /// A wrong secret shows up here: the recovered length is noise.
    #[error("hidden AVP {attr}: recovered length {length} exceeds the {room} octets carried")]
    BadLength {
        attr: u16,
        length: usize,
        room: usize,
    },
}

/// XORs `data` in place with the §4.3 stream. Each next key is drawn
/// from a block as sent: the output when hiding, the input when unhiding.
fn xor_stream(attr: u16, secret: &[u8], vector: &[u8], data: &mut [u8], hiding: bool) {
    let mut h = Md5::new();
    h.update(attr.to_be_bytes());
    h.update(secret);
    h.update(vector);
    let mut key = h.finalize();
    for block in data.chunks_mut(16) {
        let sent: Vec<u8> = if hiding { Vec::new() } else { block.to_vec() };
        for (b, k) in block.iter_mut().zip(key.iter()) {
            *b ^= k;
        }
        let sent: &[u8] = if hiding { block } else { &sent };
        let mut h = Md5::new();
        h.update(secret);
        h.update(sent);
        key = h.finalize();
    }
}

/// The hidden form of `value` for attribute `attr`, `padding` appended
/// after it before the XOR.
pub fn hide(attr: u16, value: &[u8], secret: &[u8], vector: &[u8], padding: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + value.len() + padding.len());
    // The caller's AVP length check bounds the value well under 64 KiB.
    out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    out.extend_from_slice(value);
    out.extend_from_slice(padding);
    xor_stream(attr, secret, vector, &mut out, true);
    out
}

/// The original value of a hidden AVP, its padding dropped.
pub fn unhide(
    attr: u16,
    hidden: &[u8],
    secret: &[u8],
    vector: &[u8],
) -> Result<Vec<u8>, HideError> {
    if hidden.len() < 2 {
        return Err(HideError::TooShort {
            attr,
            len: hidden.len(),
        });
    }
    let mut plain = hidden.to_vec();
    xor_stream(attr, secret, vector, &mut plain, false);
    let length = usize::from(u16::from_be_bytes([plain[0], plain[1]]));
    let room = plain.len() - 2;
    if length > room {
        return Err(HideError::BadLength { attr, length, room });
    }
    plain.truncate(2 + length);
    plain.drain(..2);
    Ok(plain)
}

/// How many padding octets bring a hidden value of `len` octets to a
/// whole number of 16-octet blocks: the length a listener sees then says
/// only roughly how long the value is.
pub fn padding_for(len: usize) -> usize {
    (16 - (2 + len) % 16) % 16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md5(parts: &[&[u8]]) -> [u8; 16] {
        let mut h = Md5::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().into()
    }

    #[test]
    fn a_short_value_is_xored_with_the_first_digest() {
        let (secret, rv) = (b"secret".as_slice(), [0x11u8; 16]);
        // Host Name (7): "lns", no padding.
        let hidden = hide(7, b"lns", secret, &rv, &[]);
        let key = md5(&[&[0, 7], secret, &rv]);
        let plain = [0, 3, b'l', b'n', b's'];
        let want: Vec<u8> = plain.iter().zip(key).map(|(p, k)| p ^ k).collect();
        assert_eq!(hidden, want);
        assert_eq!(unhide(7, &hidden, secret, &rv), Ok(b"lns".to_vec()));
    }

    #[test]
    fn the_second_block_is_keyed_by_the_first_block_as_sent() {
        let (secret, rv) = (b"k".as_slice(), [1u8, 2, 3, 4]);
        let value: Vec<u8> = (0..20).collect();
        let pad = [0xee; 10];
        let hidden = hide(11, &value, secret, &rv, &pad);
        assert_eq!(hidden.len(), 32);
        let mut plain = vec![0, 20];
        plain.extend_from_slice(&value);
        plain.extend_from_slice(&pad);
        let k1 = md5(&[&[0, 11], secret, &rv]);
        let c1: Vec<u8> = plain[..16].iter().zip(k1).map(|(p, k)| p ^ k).collect();
        let k2 = md5(&[secret, &c1]);
        let c2: Vec<u8> = plain[16..].iter().zip(k2).map(|(p, k)| p ^ k).collect();
        assert_eq!(&hidden[..16], &c1[..]);
        assert_eq!(&hidden[16..], &c2[..]);
        assert_eq!(unhide(11, &hidden, secret, &rv), Ok(value));
    }

    #[test]
    fn round_trips_across_lengths() {
        for n in 0..70 {
            let value: Vec<u8> = (0..n as u8).collect();
            let pad = vec![0x5a; padding_for(n)];
            let hidden = hide(30, &value, b"s3", b"vector", &pad);
            assert_eq!(hidden.len() % 16, 0);
            assert_eq!(unhide(30, &hidden, b"s3", b"vector"), Ok(value));
        }
    }

    #[test]
    fn a_wrong_secret_or_short_value_is_an_error_not_garbage() {
        let hidden = hide(7, b"x", b"right", b"rv", &[]);
        // Original Length 1 in 3 octets: a wrong key makes it noise that,
        // for this key, lands past the room carried.
        let err = unhide(7, &hidden, b"wrong", b"rv").unwrap_err();
        assert!(
            matches!(
                err,
                HideError::BadLength {
                    attr: 7,
                    room: 1,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            unhide(7, &[1], b"s", b"rv"),
            Err(HideError::TooShort { attr: 7, len: 1 })
        );
    }

    #[test]
    fn padding_fills_whole_blocks() {
        assert_eq!(padding_for(14), 0);
        assert_eq!(padding_for(0), 14);
        assert_eq!(padding_for(15), 15);
    }
}
