//! Tunnel authentication (RFC 2661 §5.1.1, §4.4.3): each end may send a
//! Challenge AVP in its SCCRQ or SCCRP; the other answers with a
//! Challenge Response computed as a CHAP response (RFC 1994 §4.1), with
//! the CHAP identifier replaced by the Message Type of the message that
//! carries the response: 2 in an SCCRP, 3 in an SCCCN.

use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

use super::message::MessageType;

/// The 16-octet Challenge Response to `challenge` that a message of type
/// `carrier` carries: MD5(type ‖ secret ‖ challenge).
pub fn challenge_response(carrier: MessageType, secret: &[u8], challenge: &[u8]) -> [u8; 16] {
    // The Message Type value fits an octet for every type that carries a
    // response (§4.4.3 names SCCRP and SCCCN).
    let id = u8::try_from(carrier.code()).unwrap_or(u8::MAX);
    let mut h = Md5::new();
    h.update([id]);
    h.update(secret);
    h.update(challenge);
    h.finalize().into()
}

/// Whether `response`, received in a message of type `carrier`, answers
/// the `challenge` we sent. The comparison takes the same time whatever
/// octet differs, so a peer guessing learns nothing from timing.
pub fn response_is_right(
    carrier: MessageType,
    secret: &[u8],
    challenge: &[u8],
    response: &[u8],
) -> bool {
    let want = challenge_response(carrier, secret, challenge);
    want.ct_eq(response).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_response_is_md5_of_the_type_the_secret_and_the_challenge() {
        let challenge = [0x11u8; 16];
        let got = challenge_response(MessageType::Sccrp, b"tunnel-secret", &challenge);
        let mut h = Md5::new();
        h.update([2u8]);
        h.update(b"tunnel-secret");
        h.update(challenge);
        let want: [u8; 16] = h.finalize().into();
        assert_eq!(got, want);
        // The SCCCN's response to the same challenge differs: the type is
        // in the digest, so a response cannot be reflected.
        assert_ne!(
            challenge_response(MessageType::Scccn, b"tunnel-secret", &challenge),
            got
        );
    }

    #[test]
    fn only_the_right_secret_and_the_right_carrier_pass() {
        let challenge = b"any length of challenge";
        let r = challenge_response(MessageType::Scccn, b"s3cret", challenge);
        assert!(response_is_right(
            MessageType::Scccn,
            b"s3cret",
            challenge,
            &r
        ));
        assert!(!response_is_right(
            MessageType::Scccn,
            b"s3cre7",
            challenge,
            &r
        ));
        assert!(!response_is_right(
            MessageType::Sccrp,
            b"s3cret",
            challenge,
            &r
        ));
        assert!(!response_is_right(
            MessageType::Scccn,
            b"s3cret",
            b"other",
            &r
        ));
        // A short or long response is wrong, not a panic.
        assert!(!response_is_right(
            MessageType::Scccn,
            b"s3cret",
            challenge,
            &r[..15]
        ));
        assert!(!response_is_right(
            MessageType::Scccn,
            b"s3cret",
            challenge,
            &[0; 17]
        ));
    }
}
