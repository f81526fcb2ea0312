//! Control messages (RFC 2661 §3.1, §4.1, §6): a control header and its
//! AVPs, decoded with the rules §4.1 and §4.4.1 set for what a receiver
//! does not understand, and encoded from typed AVPs with their M bits as
//! §4.4 gives them.

use rand::RngCore;
use thiserror::Error;

use super::avp::{self, Avp, AvpError, Avps, MAX_VALUE_LEN};
use super::header::{HeaderError, Packet, Repr};
use super::hide::{self, HideError};

/// The control message types of §3.2 / §6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageType {
    Sccrq,
    Sccrp,
    Scccn,
    StopCcn,
    Hello,
    Ocrq,
    Ocrp,
    Occn,
    Icrq,
    Icrp,
    Iccn,
    Cdn,
    Wen,
    Sli,
}

/// What a message belongs to, and so what an unrecognised mandatory AVP
/// in it ends (§4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    Tunnel,
    Session,
}

impl MessageType {
    pub const ALL: [MessageType; 14] = [
        MessageType::Sccrq,
        MessageType::Sccrp,
        MessageType::Scccn,
        MessageType::StopCcn,
        MessageType::Hello,
        MessageType::Ocrq,
        MessageType::Ocrp,
        MessageType::Occn,
        MessageType::Icrq,
        MessageType::Icrp,
        MessageType::Iccn,
        MessageType::Cdn,
        MessageType::Wen,
        MessageType::Sli,
    ];

    /// The Message Type AVP's value (§3.2); 5 and 13 are reserved.
    pub fn code(self) -> u16 {
        use MessageType::*;
        match self {
            Sccrq => 1,
            Sccrp => 2,
            Scccn => 3,
            StopCcn => 4,
            Hello => 6,
            Ocrq => 7,
            Ocrp => 8,
            Occn => 9,
            Icrq => 10,
            Icrp => 11,
            Iccn => 12,
            Cdn => 14,
            Wen => 15,
            Sli => 16,
        }
    }

    pub fn from_code(code: u16) -> Option<MessageType> {
        MessageType::ALL.into_iter().find(|t| t.code() == code)
    }

    /// Control connection management (§6.1–§6.5) is the tunnel's; call
    /// management and error reporting (§6.6–§6.14) a session's.
    pub fn scope(self) -> Scope {
        use MessageType::*;
        match self {
            Sccrq | Sccrp | Scccn | StopCcn | Hello => Scope::Tunnel,
            _ => Scope::Session,
        }
    }
}

/// One AVP of a message, and whether it travels hidden (§4.3).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Entry {
    pub avp: Avp,
    pub hidden: bool,
}

impl Entry {
    pub fn plain(avp: Avp) -> Entry {
        Entry { avp, hidden: false }
    }

    pub fn hidden(avp: Avp) -> Entry {
        Entry { avp, hidden: true }
    }
}

/// A control message: its header, its type and the AVPs after the
/// Message Type AVP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub header: Repr,
    pub kind: MessageType,
    pub avps: Vec<Entry>,
}

/// What a control datagram turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A Zero-Length Body: the header alone, an acknowledgement (§5.8).
    Zlb(Repr),
    /// A message this core understands; `ignored` counts the unrecognised
    /// AVPs without M that §4.1 lets a receiver skip.
    Message { message: Message, ignored: usize },
    /// An unknown Message Type without M: §4.4.1 lets it be ignored
    /// (though its Ns still wants acknowledging).
    IgnoredType { header: Repr, code: u16 },
    /// An unrecognised AVP with M set: §4.1 says the session (for a call
    /// management message) or the tunnel (for the others) MUST end.
    UnknownMandatory {
        header: Repr,
        kind: MessageType,
        vendor: u16,
        attr: u16,
        ends: Scope,
    },
}

/// A control datagram the decoder refuses.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum MessageError {
    #[error(transparent)]
    Header(#[from] HeaderError),
    #[error("a data message, not a control message")]
    NotControl,
    #[error(transparent)]
    Avp(#[from] AvpError),
    #[error(transparent)]
    Hide(#[from] HideError),
    /// §4.1: the first AVP of a control message MUST be Message Type.
    #[error("the first AVP is not Message Type")]
    FirstNotMessageType,
    /// §4.4.1: Message Type MUST NOT be hidden.
    #[error("the Message Type AVP is hidden")]
    MessageTypeHidden,
    /// §4.4.1: an unknown Message Type with M set means the tunnel MUST
    /// be cleared.
    #[error("unknown mandatory Message Type {0}: the tunnel must be cleared")]
    UnknownMessageType(u16),
}

impl MessageError {
    /// Whether the peer broke the protocol badly enough that the tunnel
    /// itself must go, rather than this one datagram being dropped.
    pub fn clears_tunnel(&self) -> bool {
        matches!(self, MessageError::UnknownMessageType(_))
    }
}

/// A message the encoder refuses to build.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum EncodeError {
    #[error("a control message needs T, L and S set and no offset (RFC 2661 §3.1)")]
    NotControlHeader,
    #[error(transparent)]
    Avp(#[from] AvpError),
    #[error("AVP {attr} may not be hidden (RFC 2661 §4.4)")]
    MayNotHide { attr: u16 },
    #[error("AVP {attr} is to be hidden but no Random Vector precedes it (RFC 2661 §4.3)")]
    NoRandomVector { attr: u16 },
    #[error("AVP {attr} is to be hidden but there is no shared secret")]
    NoSecret { attr: u16 },
    #[error("the message does not fit a 16-bit Length")]
    TooLong,
}

/// Decodes a control datagram. `secret` is the tunnel's shared secret,
/// needed only if the peer hides AVPs.
pub fn decode(datagram: &[u8], secret: Option<&[u8]>) -> Result<Decoded, MessageError> {
    let packet = Packet::new_checked(datagram)?;
    if !packet.is_control() {
        return Err(MessageError::NotControl);
    }
    let header = Repr::parse(&packet)?;
    let body = packet.payload();
    if body.is_empty() {
        return Ok(Decoded::Zlb(header));
    }
    let mut avps = Avps::new(body);
    let first = avps.next().ok_or(MessageError::FirstNotMessageType)??;
    if first.vendor != avp::IETF || first.attr != 0 || first.reserved {
        return Err(MessageError::FirstNotMessageType);
    }
    if first.hidden {
        return Err(MessageError::MessageTypeHidden);
    }
    let Avp::MessageType(code) = Avp::parse(avp::IETF, 0, first.mandatory, first.value)? else {
        return Err(MessageError::FirstNotMessageType);
    };
    let Some(kind) = MessageType::from_code(code) else {
        if first.mandatory {
            return Err(MessageError::UnknownMessageType(code));
        }
        return Ok(Decoded::IgnoredType { header, code });
    };
    let mut out = Vec::new();
    let mut ignored = 0;
    let mut vector: Option<Vec<u8>> = None;
    for raw in avps {
        let raw = raw?;
        if raw.reserved || !avp::known(raw.vendor, raw.attr) {
            if raw.mandatory {
                return Ok(Decoded::UnknownMandatory {
                    header,
                    kind,
                    vendor: raw.vendor,
                    attr: raw.attr,
                    ends: kind.scope(),
                });
            }
            ignored += 1;
            continue;
        }
        let value = if raw.hidden {
            let attr = raw.attr;
            let rv = vector
                .as_deref()
                .ok_or(HideError::NoRandomVector { attr })?;
            let secret = secret.ok_or(HideError::NoSecret { attr })?;
            hide::unhide(attr, raw.value, secret, rv)?
        } else {
            raw.value.to_vec()
        };
        let parsed = Avp::parse(raw.vendor, raw.attr, raw.mandatory, &value)?;
        if let Avp::RandomVector(rv) = &parsed {
            // §4.3: each hidden AVP uses the nearest Random Vector before it.
            vector = Some(rv.clone());
        }
        out.push(Entry {
            avp: parsed,
            hidden: raw.hidden,
        });
    }
    Ok(Decoded::Message {
        message: Message {
            header,
            kind,
            avps: out,
        },
        ignored,
    })
}

/// Appends `e` to `body`, hiding it under `vector` when it asks to be.
fn emit_entry(
    body: &mut Vec<u8>,
    e: &Entry,
    vector: Option<&[u8]>,
    secret: Option<&[u8]>,
    rng: &mut impl RngCore,
) -> Result<(), EncodeError> {
    if !e.hidden {
        return Ok(e.avp.emit(body)?);
    }
    let (vendor, attr) = e.avp.id();
    if !e.avp.may_hide() {
        return Err(EncodeError::MayNotHide { attr });
    }
    let rv = vector.ok_or(EncodeError::NoRandomVector { attr })?;
    let secret = secret.ok_or(EncodeError::NoSecret { attr })?;
    let value = e.avp.value();
    let room = MAX_VALUE_LEN
        .checked_sub(2 + value.len())
        .ok_or(AvpError::TooLong(2 + value.len()))?;
    let mut padding = vec![0; hide::padding_for(value.len()).min(room)];
    rng.fill_bytes(&mut padding);
    let hidden = hide::hide(attr, &value, secret, rv, &padding);
    Ok(avp::emit_raw(
        body,
        e.avp.mandatory(),
        true,
        vendor,
        attr,
        &hidden,
    )?)
}

/// A ZLB acknowledgement: the control header alone (§5.8).
pub fn encode_zlb(header: &Repr) -> Result<Vec<u8>, EncodeError> {
    framed(header, Vec::new())
}

/// Encodes `m`: the Message Type AVP first (§4.1), then its AVPs, those
/// marked hidden hidden under `secret` and the nearest Random Vector
/// before them, padded to whole blocks with octets from `rng`.
pub fn encode(
    m: &Message,
    secret: Option<&[u8]>,
    rng: &mut impl RngCore,
) -> Result<Vec<u8>, EncodeError> {
    let mut body = Vec::new();
    Avp::MessageType(m.kind.code()).emit(&mut body)?;
    let mut vector: Option<Vec<u8>> = None;
    for e in &m.avps {
        emit_entry(&mut body, e, vector.as_deref(), secret, rng)?;
        if let Avp::RandomVector(rv) = &e.avp {
            vector = Some(rv.clone());
        }
    }
    framed(&m.header, body)
}

fn framed(header: &Repr, body: Vec<u8>) -> Result<Vec<u8>, EncodeError> {
    let control = header.control
        && header.with_length
        && header.sequence.is_some()
        && header.offset.is_none();
    if !control {
        return Err(EncodeError::NotControlHeader);
    }
    let mut out = vec![0; header.buffer_len()];
    header
        .emit(&mut out, body.len())
        .ok_or(EncodeError::TooLong)?;
    out.extend_from_slice(&body);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn rng() -> StdRng {
        StdRng::seed_from_u64(2661)
    }

    fn sccrq() -> Message {
        Message {
            header: Repr::control(0, 0, 0, 0),
            kind: MessageType::Sccrq,
            avps: vec![
                Entry::plain(Avp::ProtocolVersion {
                    version: 1,
                    revision: 0,
                }),
                Entry::plain(Avp::HostName(b"lac".to_vec())),
                Entry::plain(Avp::FramingCapabilities(avp::FRAMING_SYNC)),
                Entry::plain(Avp::AssignedTunnelId(1)),
            ],
        }
    }

    fn decoded(b: &[u8], secret: Option<&[u8]>) -> (Message, usize) {
        match decode(b, secret).unwrap() {
            Decoded::Message { message, ignored } => (message, ignored),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn message_type_codes_are_the_rfcs() {
        let codes: Vec<u16> = MessageType::ALL.iter().map(|t| t.code()).collect();
        assert_eq!(codes, [1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16]);
        assert_eq!(MessageType::from_code(5), None);
        assert_eq!(MessageType::from_code(13), None);
        assert_eq!(MessageType::Hello.scope(), Scope::Tunnel);
        assert_eq!(MessageType::Iccn.scope(), Scope::Session);
    }

    #[test]
    fn a_message_round_trips_with_message_type_first() {
        let m = sccrq();
        let b = encode(&m, None, &mut rng()).unwrap();
        // After the 12-octet header: M set, Length 8, vendor 0, attr 0, 1.
        assert_eq!(&b[12..20], &[0x80, 8, 0, 0, 0, 0, 0, 1]);
        assert_eq!(usize::from(u16::from_be_bytes([b[2], b[3]])), b.len());
        assert_eq!(decoded(&b, None), (m, 0));
    }

    #[test]
    fn hidden_avps_round_trip_under_the_nearest_random_vector() {
        let mut m = sccrq();
        m.avps
            .insert(0, Entry::plain(Avp::RandomVector(vec![1; 16])));
        m.avps.push(Entry::hidden(Avp::HostName(b"first".to_vec())));
        m.avps.push(Entry::plain(Avp::RandomVector(vec![2; 8])));
        m.avps.push(Entry::hidden(Avp::ChallengeResponse([3; 16])));
        let b = encode(&m, Some(b"secret"), &mut rng()).unwrap();
        assert_eq!(decoded(&b, Some(b"secret")), (m.clone(), 0));
        // The last hidden AVP is keyed by the second vector: recompute it.
        let tail = &b[b.len() - 6 - 32..];
        assert_eq!(tail[0] & 0x40, 0x40);
        let value = hide::unhide(13, &tail[6..], b"secret", &[2; 8]).unwrap();
        assert_eq!(value, [3; 16]);
        assert_eq!(
            decode(&b, None),
            Err(MessageError::Hide(HideError::NoSecret { attr: 7 }))
        );
    }

    #[test]
    fn hiding_needs_a_vector_a_secret_and_a_hideable_avp() {
        let mut m = sccrq();
        m.avps.push(Entry::hidden(Avp::HostName(b"x".to_vec())));
        assert_eq!(
            encode(&m, Some(b"s"), &mut rng()),
            Err(EncodeError::NoRandomVector { attr: 7 })
        );
        m.avps.insert(0, Entry::plain(Avp::RandomVector(vec![1])));
        assert_eq!(
            encode(&m, None, &mut rng()),
            Err(EncodeError::NoSecret { attr: 7 })
        );
        m.avps.push(Entry::hidden(Avp::RandomVector(vec![1])));
        assert_eq!(
            encode(&m, Some(b"s"), &mut rng()),
            Err(EncodeError::MayNotHide { attr: 36 })
        );
    }

    #[test]
    fn a_hidden_avp_with_no_vector_before_it_is_refused() {
        let mut b = encode(&sccrq(), None, &mut rng()).unwrap();
        avp::emit_raw(&mut b, true, true, 0, 7, &[0; 16]).unwrap();
        let len = b.len() as u16;
        b[2..4].copy_from_slice(&len.to_be_bytes());
        assert_eq!(
            decode(&b, Some(b"s")),
            Err(MessageError::Hide(HideError::NoRandomVector { attr: 7 }))
        );
    }

    #[test]
    fn a_zlb_is_an_ack() {
        let h = Repr::control(5, 0, 3, 9);
        let b = encode_zlb(&h).unwrap();
        assert_eq!(b.len(), 12);
        assert_eq!(decode(&b, None), Ok(Decoded::Zlb(h)));
    }

    /// A control datagram with the given raw AVP list as its body.
    fn with_body(body: &[u8]) -> Vec<u8> {
        let h = Repr::control(1, 2, 0, 0);
        let mut b = vec![0; 12];
        h.emit(&mut b, body.len()).unwrap();
        b.extend_from_slice(body);
        b
    }

    fn raw(mandatory: bool, vendor: u16, attr: u16, value: &[u8]) -> Vec<u8> {
        let mut o = Vec::new();
        avp::emit_raw(&mut o, mandatory, false, vendor, attr, value).unwrap();
        o
    }

    #[test]
    fn the_first_avp_must_be_a_plain_message_type() {
        let host = raw(true, 0, 7, b"h");
        assert_eq!(
            decode(&with_body(&host), None),
            Err(MessageError::FirstNotMessageType)
        );
        let mut hidden = raw(true, 0, 0, &[0, 1]);
        hidden[0] |= 0x40;
        assert_eq!(
            decode(&with_body(&hidden), None),
            Err(MessageError::MessageTypeHidden)
        );
        let vendor = raw(true, 9, 0, &[0, 1]);
        assert_eq!(
            decode(&with_body(&vendor), None),
            Err(MessageError::FirstNotMessageType)
        );
        assert!(matches!(
            decode(&with_body(&raw(true, 0, 0, &[1])), None),
            Err(MessageError::Avp(AvpError::BadValueLen { attr: 0, len: 1 }))
        ));
    }

    #[test]
    fn an_unknown_message_type_clears_the_tunnel_only_if_mandatory() {
        let err = decode(&with_body(&raw(true, 0, 0, &[0, 5])), None).unwrap_err();
        assert_eq!(err, MessageError::UnknownMessageType(5));
        assert!(err.clears_tunnel());
        assert!(matches!(
            decode(&with_body(&raw(false, 0, 0, &[0, 99])), None),
            Ok(Decoded::IgnoredType { code: 99, .. })
        ));
    }

    #[test]
    fn an_unknown_mandatory_avp_ends_the_messages_scope() {
        for (code, ends) in [(6u16, Scope::Tunnel), (12, Scope::Session)] {
            let mut body = raw(true, 0, 0, &code.to_be_bytes());
            body.extend(raw(true, 311, 1, &[0]));
            let d = decode(&with_body(&body), None).unwrap();
            assert!(
                matches!(
                    d,
                    Decoded::UnknownMandatory {
                        vendor: 311,
                        attr: 1,
                        ends: e,
                        ..
                    } if e == ends
                ),
                "{d:?}"
            );
        }
        // A known AVP with a reserved bit set is treated as unrecognised.
        let mut body = raw(true, 0, 0, &[0, 6]);
        let mut odd = raw(true, 0, 7, b"h");
        odd[0] |= 0x04;
        body.extend(odd);
        assert!(matches!(
            decode(&with_body(&body), None),
            Ok(Decoded::UnknownMandatory { attr: 7, .. })
        ));
    }

    #[test]
    fn unknown_optional_avps_are_skipped_and_counted() {
        let mut body = raw(true, 0, 0, &[0, 6]);
        body.extend(raw(false, 311, 1, &[0]));
        body.extend(raw(false, 0, 20, &[]));
        body.extend(raw(false, 0, 200, &[1, 2]));
        let (m, ignored) = decoded(&with_body(&body), None);
        assert_eq!(m.kind, MessageType::Hello);
        assert!(m.avps.is_empty());
        assert_eq!(ignored, 3);
    }

    #[test]
    fn lying_avp_lengths_and_bad_headers_are_errors() {
        let mut body = raw(true, 0, 0, &[0, 6]);
        body.extend([0x80, 0x20, 0, 0, 0, 7]);
        assert!(matches!(
            decode(&with_body(&body), None),
            Err(MessageError::Avp(AvpError::LengthBeyondMessage {
                at: 8,
                ..
            }))
        ));
        let mut data = with_body(&[]);
        data[0] &= 0x7f;
        assert_eq!(decode(&data, None), Err(MessageError::NotControl));
        assert_eq!(
            decode(&[0xc8, 0x03, 0, 12], None),
            Err(MessageError::Header(HeaderError::L2tpV3))
        );
    }

    #[test]
    fn encode_refuses_a_data_header_and_an_oversized_message() {
        let mut m = sccrq();
        m.header.sequence = None;
        assert_eq!(
            encode(&m, None, &mut rng()),
            Err(EncodeError::NotControlHeader)
        );
        let mut m = sccrq();
        m.avps = vec![Entry::plain(Avp::Challenge(vec![0; MAX_VALUE_LEN])); 65];
        assert_eq!(encode(&m, None, &mut rng()), Err(EncodeError::TooLong));
    }
}
