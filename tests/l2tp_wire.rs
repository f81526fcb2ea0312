//! Property tests of the L2TP wire format (RFC 2661 §3.1, §4): whatever
//! arrives, the header, AVP and message decoders answer with a value or a
//! typed error, never a panic; and whatever the encoders build decodes
//! back to what they were given.

use carrier::l2tp::avp::{self, emit_raw, Avp, Avps};
use carrier::l2tp::header::{Packet, Repr, Sequence};
use carrier::l2tp::message::{decode, encode, Decoded, Entry, Message, MessageType};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

const SECRET: &[u8] = b"tunnel secret";

fn header() -> impl Strategy<Value = Repr> {
    (
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(any::<(u16, u16)>()),
        proptest::option::of(0u16..64),
        any::<bool>(),
        any::<(u16, u16)>(),
    )
        .prop_map(|(control, with_length, seq, offset, priority, (t, s))| {
            let sequence = seq.map(|(ns, nr)| Sequence { ns, nr });
            if control {
                // §3.1: what a control header must be.
                Repr {
                    priority,
                    ..Repr::control(t, s, seq.map_or(0, |x| x.0), seq.map_or(0, |x| x.1))
                }
            } else {
                Repr {
                    control,
                    with_length,
                    sequence,
                    offset,
                    priority,
                    tunnel_id: t,
                    session_id: s,
                }
            }
        })
}

/// Any IETF AVP this core knows, drawn as octets it accepts: so every
/// variant, its fixed sizes and its optional parts get drawn.
fn known_avp() -> impl Strategy<Value = Avp> {
    let attr = (0u16..=39).prop_filter("20 is reserved", |a| *a != 20);
    (attr, proptest::collection::vec(any::<u8>(), 0..40)).prop_filter_map(
        "a value the attribute accepts",
        |(attr, mut value)| {
            // Fixed sizes are rare among random lengths: try the value cut
            // to each size an attribute may fix before giving up on it.
            for n in [value.len(), 0, 1, 2, 4, 8, 10, 16, 26] {
                if n <= value.len() {
                    if let Ok(a) = Avp::parse(avp::IETF, attr, true, &value[..n]) {
                        return Some(a);
                    }
                }
            }
            value.resize(26, 0);
            Avp::parse(avp::IETF, attr, true, &value).ok()
        },
    )
}

fn any_avp() -> impl Strategy<Value = Avp> {
    prop_oneof![
        3 => known_avp(),
        1 => (1u16.., any::<u16>(), any::<bool>(), proptest::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(vendor, attr, mandatory, value)| Avp::Unknown { vendor, attr, mandatory, value }),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    (
        any::<(u16, u16, u16, u16)>(),
        proptest::sample::select(MessageType::ALL.to_vec()),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 1..20)),
        proptest::collection::vec((known_avp(), any::<bool>()), 0..8),
    )
        .prop_map(|((t, s, ns, nr), kind, vector, avps)| {
            let mut entries = Vec::new();
            if let Some(rv) = &vector {
                entries.push(Entry::plain(Avp::RandomVector(rv.clone())));
            }
            for (avp, hide) in avps {
                let hidden = hide && vector.is_some() && avp.may_hide();
                entries.push(Entry { avp, hidden });
            }
            Message {
                header: Repr::control(t, s, ns, nr),
                kind,
                avps: entries,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn arbitrary_octets_never_panic_the_decoders(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(p) = Packet::new_checked(&b[..]) {
            let _ = Repr::parse(&p);
            let _ = p.payload();
        }
        for raw in Avps::new(&b).flatten() {
            let _ = Avp::parse(raw.vendor, raw.attr, raw.mandatory, raw.value);
        }
        let _ = decode(&b, None);
        let _ = decode(&b, Some(SECRET));
    }

    /// Garbage after a valid control header and Message Type, where the
    /// AVP walk and the unhiding get exercised.
    #[test]
    fn arbitrary_avp_lists_never_panic_the_message_decoder(
        code in 0u16..20,
        tail in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut body = Vec::new();
        emit_raw(&mut body, true, false, 0, 0, &code.to_be_bytes()).unwrap();
        emit_raw(&mut body, true, false, 0, 36, &[1, 2, 3]).unwrap();
        body.extend_from_slice(&tail);
        let h = Repr::control(1, 2, 3, 4);
        let mut b = vec![0; h.buffer_len()];
        h.emit(&mut b, body.len()).unwrap();
        b.extend_from_slice(&body);
        let _ = decode(&b, Some(SECRET));
    }

    #[test]
    fn any_header_round_trips(r in header(), payload in proptest::collection::vec(any::<u8>(), 0..32)) {
        let mut b = vec![0; r.buffer_len()];
        prop_assert!(r.emit(&mut b, payload.len()).is_some());
        b.extend_from_slice(&payload);
        let p = Packet::new_checked(&b[..]).unwrap();
        prop_assert_eq!(Repr::parse(&p), Ok(r));
        prop_assert_eq!(p.payload(), &payload[..]);
    }

    #[test]
    fn any_avp_round_trips(a in any_avp()) {
        let mut b = Vec::new();
        a.emit(&mut b).unwrap();
        let raw = Avps::new(&b).next().unwrap().unwrap();
        prop_assert_eq!(raw.mandatory, a.mandatory());
        prop_assert_eq!(Avp::parse(raw.vendor, raw.attr, raw.mandatory, raw.value), Ok(a));
    }

    #[test]
    fn any_message_round_trips(m in message(), seed in any::<u64>()) {
        let b = encode(&m, Some(SECRET), &mut StdRng::seed_from_u64(seed)).unwrap();
        prop_assert_eq!(
            decode(&b, Some(SECRET)),
            Ok(Decoded::Message { message: m, ignored: 0 })
        );
    }
}
