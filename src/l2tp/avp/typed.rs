//! The IETF AVPs of RFC 2661 §4.4 as a typed [`Avp`]: each value parsed
//! to the size §4.4 gives it and emitted back with the M bit it sets.

use super::{emit_raw, AvpError, IETF};

/// Call Errors counters (§4.4.6), as a peer reports them in WEN.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CallErrors {
    pub crc: u32,
    pub framing: u32,
    pub hardware_overruns: u32,
    pub buffer_overruns: u32,
    pub timeouts: u32,
    pub alignment: u32,
}

/// The IETF AVPs of RFC 2661 §4.4, their values typed; anything else
/// (another vendor's, or a type this core does not know) as `Unknown`.
/// Strings are kept as octets: §4.4 does not promise UTF-8 and peers
/// send what they like.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Avp {
    /// §4.4.1 (0).
    MessageType(u16),
    /// §4.4.2 (1): the Error Code and its message are optional.
    ResultCode {
        result: u16,
        error: Option<(u16, Vec<u8>)>,
    },
    /// §4.4.3 (2).
    ProtocolVersion { version: u8, revision: u8 },
    /// §4.4.3 (3).
    FramingCapabilities(u32),
    /// §4.4.3 (4).
    BearerCapabilities(u32),
    /// §4.4.3 (5): 8 octets.
    TieBreaker(u64),
    /// §4.4.3 (6).
    FirmwareRevision(u16),
    /// §4.4.3 (7).
    HostName(Vec<u8>),
    /// §4.4.3 (8).
    VendorName(Vec<u8>),
    /// §4.4.3 (9).
    AssignedTunnelId(u16),
    /// §4.4.3 (10).
    ReceiveWindowSize(u16),
    /// §4.4.3 (11): at least one octet.
    Challenge(Vec<u8>),
    /// §4.4.2 (12): cause code, message code, optional advisory text.
    Q931CauseCode {
        cause: u16,
        message: u8,
        advisory: Vec<u8>,
    },
    /// §4.4.3 (13): an MD5 digest.
    ChallengeResponse([u8; 16]),
    /// §4.4.4 (14).
    AssignedSessionId(u16),
    /// §4.4.4 (15).
    CallSerialNumber(u32),
    /// §4.4.4 (16).
    MinimumBps(u32),
    /// §4.4.4 (17).
    MaximumBps(u32),
    /// §4.4.4 (18).
    BearerType(u32),
    /// §4.4.4 (19).
    FramingType(u32),
    /// §4.4.4 (21).
    CalledNumber(Vec<u8>),
    /// §4.4.4 (22).
    CallingNumber(Vec<u8>),
    /// §4.4.4 (23).
    SubAddress(Vec<u8>),
    /// §4.4.4 (24).
    TxConnectSpeed(u32),
    /// §4.4.4 (25).
    PhysicalChannelId(u32),
    /// §4.4.5 (26).
    InitialReceivedLcpConfReq(Vec<u8>),
    /// §4.4.5 (27).
    LastSentLcpConfReq(Vec<u8>),
    /// §4.4.5 (28).
    LastReceivedLcpConfReq(Vec<u8>),
    /// §4.4.5 (29).
    ProxyAuthenType(u16),
    /// §4.4.5 (30).
    ProxyAuthenName(Vec<u8>),
    /// §4.4.5 (31).
    ProxyAuthenChallenge(Vec<u8>),
    /// §4.4.5 (32): a reserved octet, then the ID.
    ProxyAuthenId(u8),
    /// §4.4.5 (33).
    ProxyAuthenResponse(Vec<u8>),
    /// §4.4.6 (34): 26 octets.
    CallErrors(CallErrors),
    /// §4.4.6 (35): 10 octets.
    Accm { send: u32, recv: u32 },
    /// §4.4.3 (36): at least one octet.
    RandomVector(Vec<u8>),
    /// §4.4.4 (37).
    PrivateGroupId(Vec<u8>),
    /// §4.4.4 (38).
    RxConnectSpeed(u32),
    /// §4.4.4 (39): no value.
    SequencingRequired,
    Unknown {
        vendor: u16,
        attr: u16,
        mandatory: bool,
        value: Vec<u8>,
    },
}

fn u16_of(v: &[u8]) -> u16 {
    u16::from_be_bytes([v[0], v[1]])
}

fn u32_of(v: &[u8]) -> u32 {
    u32::from_be_bytes([v[0], v[1], v[2], v[3]])
}

impl Avp {
    /// The typed AVP for a value already unhidden. `mandatory` is kept only
    /// for an unknown AVP, whose M bit is the caller's to act on.
    pub fn parse(vendor: u16, attr: u16, mandatory: bool, v: &[u8]) -> Result<Avp, AvpError> {
        let unknown = || Avp::Unknown {
            vendor,
            attr,
            mandatory,
            value: v.to_vec(),
        };
        if vendor != IETF {
            return Ok(unknown());
        }
        let bad = || AvpError::BadValueLen { attr, len: v.len() };
        let exactly = |n: usize| if v.len() == n { Ok(()) } else { Err(bad()) };
        let at_least = |n: usize| if v.len() >= n { Ok(()) } else { Err(bad()) };
        let w16 = || exactly(2).map(|()| u16_of(v));
        let w32 = || exactly(4).map(|()| u32_of(v));
        let octets = || v.to_vec();
        Ok(match attr {
            0 => Avp::MessageType(w16()?),
            1 => {
                // Real peers send a bare Result Code; an odd length cuts
                // the Error Code in half and means nothing.
                if v.len() != 2 && v.len() < 4 {
                    return Err(bad());
                }
                Avp::ResultCode {
                    result: u16_of(v),
                    error: (v.len() >= 4).then(|| (u16_of(&v[2..]), v[4..].to_vec())),
                }
            }
            2 => {
                exactly(2)?;
                Avp::ProtocolVersion {
                    version: v[0],
                    revision: v[1],
                }
            }
            3 => Avp::FramingCapabilities(w32()?),
            4 => Avp::BearerCapabilities(w32()?),
            5 => {
                exactly(8)?;
                Avp::TieBreaker(u64::from_be_bytes(v.try_into().map_err(|_| bad())?))
            }
            6 => Avp::FirmwareRevision(w16()?),
            7 => {
                at_least(1)?;
                Avp::HostName(octets())
            }
            8 => Avp::VendorName(octets()),
            9 => Avp::AssignedTunnelId(w16()?),
            10 => Avp::ReceiveWindowSize(w16()?),
            11 => {
                at_least(1)?;
                Avp::Challenge(octets())
            }
            12 => {
                at_least(3)?;
                Avp::Q931CauseCode {
                    cause: u16_of(v),
                    message: v[2],
                    advisory: v[3..].to_vec(),
                }
            }
            13 => Avp::ChallengeResponse(v.try_into().map_err(|_| bad())?),
            14 => Avp::AssignedSessionId(w16()?),
            15 => Avp::CallSerialNumber(w32()?),
            16 => Avp::MinimumBps(w32()?),
            17 => Avp::MaximumBps(w32()?),
            18 => Avp::BearerType(w32()?),
            19 => Avp::FramingType(w32()?),
            21 => Avp::CalledNumber(octets()),
            22 => Avp::CallingNumber(octets()),
            23 => Avp::SubAddress(octets()),
            24 => Avp::TxConnectSpeed(w32()?),
            25 => Avp::PhysicalChannelId(w32()?),
            26 => Avp::InitialReceivedLcpConfReq(octets()),
            27 => Avp::LastSentLcpConfReq(octets()),
            28 => Avp::LastReceivedLcpConfReq(octets()),
            29 => Avp::ProxyAuthenType(w16()?),
            30 => Avp::ProxyAuthenName(octets()),
            31 => Avp::ProxyAuthenChallenge(octets()),
            32 => {
                exactly(2)?;
                Avp::ProxyAuthenId(v[1])
            }
            33 => Avp::ProxyAuthenResponse(octets()),
            34 => {
                exactly(26)?;
                let c = |i: usize| u32_of(&v[2 + 4 * i..]);
                Avp::CallErrors(CallErrors {
                    crc: c(0),
                    framing: c(1),
                    hardware_overruns: c(2),
                    buffer_overruns: c(3),
                    timeouts: c(4),
                    alignment: c(5),
                })
            }
            35 => {
                exactly(10)?;
                Avp::Accm {
                    send: u32_of(&v[2..]),
                    recv: u32_of(&v[6..]),
                }
            }
            36 => {
                at_least(1)?;
                Avp::RandomVector(octets())
            }
            37 => Avp::PrivateGroupId(octets()),
            38 => Avp::RxConnectSpeed(w32()?),
            39 => {
                exactly(0)?;
                Avp::SequencingRequired
            }
            _ => unknown(),
        })
    }

    /// Vendor ID and Attribute Type.
    pub fn id(&self) -> (u16, u16) {
        use Avp::*;
        let attr = match self {
            Unknown { vendor, attr, .. } => return (*vendor, *attr),
            MessageType(_) => 0,
            ResultCode { .. } => 1,
            ProtocolVersion { .. } => 2,
            FramingCapabilities(_) => 3,
            BearerCapabilities(_) => 4,
            TieBreaker(_) => 5,
            FirmwareRevision(_) => 6,
            HostName(_) => 7,
            VendorName(_) => 8,
            AssignedTunnelId(_) => 9,
            ReceiveWindowSize(_) => 10,
            Challenge(_) => 11,
            Q931CauseCode { .. } => 12,
            ChallengeResponse(_) => 13,
            AssignedSessionId(_) => 14,
            CallSerialNumber(_) => 15,
            MinimumBps(_) => 16,
            MaximumBps(_) => 17,
            BearerType(_) => 18,
            FramingType(_) => 19,
            CalledNumber(_) => 21,
            CallingNumber(_) => 22,
            SubAddress(_) => 23,
            TxConnectSpeed(_) => 24,
            PhysicalChannelId(_) => 25,
            InitialReceivedLcpConfReq(_) => 26,
            LastSentLcpConfReq(_) => 27,
            LastReceivedLcpConfReq(_) => 28,
            ProxyAuthenType(_) => 29,
            ProxyAuthenName(_) => 30,
            ProxyAuthenChallenge(_) => 31,
            ProxyAuthenId(_) => 32,
            ProxyAuthenResponse(_) => 33,
            CallErrors(_) => 34,
            Accm { .. } => 35,
            RandomVector(_) => 36,
            PrivateGroupId(_) => 37,
            RxConnectSpeed(_) => 38,
            SequencingRequired => 39,
        };
        (IETF, attr)
    }

    /// The M bit §4.4 gives each AVP: set where the receiver must
    /// understand it, clear for the informational ones (Tie Breaker,
    /// Firmware Revision, Vendor Name, Physical Channel ID, the proxy
    /// LCP and authentication AVPs, Private Group ID, Rx Connect Speed).
    pub fn mandatory(&self) -> bool {
        use Avp::*;
        !matches!(
            self,
            TieBreaker(_)
                | FirmwareRevision(_)
                | VendorName(_)
                | PhysicalChannelId(_)
                | InitialReceivedLcpConfReq(_)
                | LastSentLcpConfReq(_)
                | LastReceivedLcpConfReq(_)
                | ProxyAuthenType(_)
                | ProxyAuthenName(_)
                | ProxyAuthenChallenge(_)
                | ProxyAuthenId(_)
                | ProxyAuthenResponse(_)
                | PrivateGroupId(_)
                | RxConnectSpeed(_)
        ) && !matches!(
            self,
            Unknown {
                mandatory: false,
                ..
            }
        )
    }

    /// §4.4.1 and §4.4.3: Message Type and Random Vector are never hidden,
    /// since the receiver needs them to unhide the rest.
    pub fn may_hide(&self) -> bool {
        !matches!(self, Avp::MessageType(_) | Avp::RandomVector(_))
    }

    /// The Attribute Value's octets.
    pub fn value(&self) -> Vec<u8> {
        use Avp::*;
        let mut o = Vec::new();
        match self {
            MessageType(x) | FirmwareRevision(x) | AssignedTunnelId(x) | ReceiveWindowSize(x)
            | AssignedSessionId(x) | ProxyAuthenType(x) => o.extend_from_slice(&x.to_be_bytes()),
            FramingCapabilities(x)
            | BearerCapabilities(x)
            | CallSerialNumber(x)
            | MinimumBps(x)
            | MaximumBps(x)
            | BearerType(x)
            | FramingType(x)
            | TxConnectSpeed(x)
            | PhysicalChannelId(x)
            | RxConnectSpeed(x) => o.extend_from_slice(&x.to_be_bytes()),
            ResultCode { result, error } => {
                o.extend_from_slice(&result.to_be_bytes());
                if let Some((code, msg)) = error {
                    o.extend_from_slice(&code.to_be_bytes());
                    o.extend_from_slice(msg);
                }
            }
            ProtocolVersion { version, revision } => o.extend_from_slice(&[*version, *revision]),
            TieBreaker(x) => o.extend_from_slice(&x.to_be_bytes()),
            HostName(s)
            | VendorName(s)
            | Challenge(s)
            | CalledNumber(s)
            | CallingNumber(s)
            | SubAddress(s)
            | InitialReceivedLcpConfReq(s)
            | LastSentLcpConfReq(s)
            | LastReceivedLcpConfReq(s)
            | ProxyAuthenName(s)
            | ProxyAuthenChallenge(s)
            | ProxyAuthenResponse(s)
            | RandomVector(s)
            | PrivateGroupId(s) => o.extend_from_slice(s),
            Q931CauseCode {
                cause,
                message,
                advisory,
            } => {
                o.extend_from_slice(&cause.to_be_bytes());
                o.push(*message);
                o.extend_from_slice(advisory);
            }
            ChallengeResponse(d) => o.extend_from_slice(d),
            ProxyAuthenId(id) => o.extend_from_slice(&[0, *id]),
            CallErrors(c) => {
                o.extend_from_slice(&[0, 0]);
                for n in [
                    c.crc,
                    c.framing,
                    c.hardware_overruns,
                    c.buffer_overruns,
                    c.timeouts,
                    c.alignment,
                ] {
                    o.extend_from_slice(&n.to_be_bytes());
                }
            }
            Accm { send, recv } => {
                o.extend_from_slice(&[0, 0]);
                o.extend_from_slice(&send.to_be_bytes());
                o.extend_from_slice(&recv.to_be_bytes());
            }
            SequencingRequired => {}
            Unknown { value, .. } => o.extend_from_slice(value),
        }
        o
    }

    /// Appends the AVP in the clear, its M bit as §4.4 gives it.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), AvpError> {
        let (vendor, attr) = self.id();
        emit_raw(out, self.mandatory(), false, vendor, attr, &self.value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::l2tp::avp::{Avps, BEARER_ANALOG, FRAMING_ASYNC, FRAMING_SYNC};

    fn round_trip(a: &Avp) -> Avp {
        let mut b = Vec::new();
        a.emit(&mut b).unwrap();
        let mut it = Avps::new(&b);
        let raw = it.next().unwrap().unwrap();
        assert!(it.next().is_none());
        assert_eq!(raw.mandatory, a.mandatory());
        assert!(!raw.hidden && !raw.reserved);
        Avp::parse(raw.vendor, raw.attr, raw.mandatory, raw.value).unwrap()
    }

    #[test]
    fn every_typed_avp_round_trips() {
        let all = [
            Avp::MessageType(1),
            Avp::ResultCode {
                result: 1,
                error: None,
            },
            Avp::ResultCode {
                result: 2,
                error: Some((6, b"why".to_vec())),
            },
            Avp::ProtocolVersion {
                version: 1,
                revision: 0,
            },
            Avp::FramingCapabilities(FRAMING_SYNC | FRAMING_ASYNC),
            Avp::BearerCapabilities(BEARER_ANALOG),
            Avp::TieBreaker(0x0102_0304_0506_0708),
            Avp::FirmwareRevision(0x0680),
            Avp::HostName(b"lac".to_vec()),
            Avp::VendorName(Vec::new()),
            Avp::AssignedTunnelId(9),
            Avp::ReceiveWindowSize(4),
            Avp::Challenge(vec![1; 16]),
            Avp::Q931CauseCode {
                cause: 16,
                message: 0x5a,
                advisory: b"normal".to_vec(),
            },
            Avp::ChallengeResponse([7; 16]),
            Avp::AssignedSessionId(3),
            Avp::CallSerialNumber(77),
            Avp::MinimumBps(2400),
            Avp::MaximumBps(56_000),
            Avp::BearerType(BEARER_ANALOG),
            Avp::FramingType(FRAMING_ASYNC),
            Avp::CalledNumber(b"5551234".to_vec()),
            Avp::CallingNumber(b"5554321".to_vec()),
            Avp::SubAddress(b"1".to_vec()),
            Avp::TxConnectSpeed(33_600),
            Avp::PhysicalChannelId(2),
            Avp::InitialReceivedLcpConfReq(vec![1, 4, 5, 0xdc]),
            Avp::LastSentLcpConfReq(vec![1, 4, 5, 0xdc]),
            Avp::LastReceivedLcpConfReq(vec![1, 4, 5, 0xdc]),
            Avp::ProxyAuthenType(2),
            Avp::ProxyAuthenName(b"user".to_vec()),
            Avp::ProxyAuthenChallenge(vec![9; 16]),
            Avp::ProxyAuthenId(42),
            Avp::ProxyAuthenResponse(vec![8; 16]),
            Avp::CallErrors(CallErrors {
                crc: 1,
                framing: 2,
                hardware_overruns: 3,
                buffer_overruns: 4,
                timeouts: 5,
                alignment: 6,
            }),
            Avp::Accm {
                send: 0xffff_ffff,
                recv: 0,
            },
            Avp::RandomVector(vec![0xab; 16]),
            Avp::PrivateGroupId(b"g".to_vec()),
            Avp::RxConnectSpeed(28_800),
            Avp::SequencingRequired,
            Avp::Unknown {
                vendor: 9,
                attr: 1,
                mandatory: true,
                value: vec![1, 2],
            },
            Avp::Unknown {
                vendor: 0,
                attr: 20,
                mandatory: false,
                value: Vec::new(),
            },
        ];
        for a in &all {
            assert_eq!(&round_trip(a), a);
        }
    }

    #[test]
    fn rfc_lengths_and_m_bits() {
        let len = |a: Avp| {
            let mut b = Vec::new();
            a.emit(&mut b).unwrap();
            (b.len(), b[0] & 0x80 != 0)
        };
        // §4.4.1: Message Type is 8 octets overall, M set.
        assert_eq!(len(Avp::MessageType(1)), (8, true));
        assert_eq!(
            len(Avp::ProtocolVersion {
                version: 1,
                revision: 0
            }),
            (8, true)
        );
        // §4.4.3: Tie Breaker is 14 octets, M clear.
        assert_eq!(len(Avp::TieBreaker(1)), (14, false));
        assert_eq!(len(Avp::ChallengeResponse([0; 16])), (22, true));
        assert_eq!(len(Avp::CallErrors(CallErrors::default())), (32, true));
        assert_eq!(len(Avp::Accm { send: 0, recv: 0 }), (16, true));
        assert_eq!(len(Avp::SequencingRequired), (6, true));
        assert_eq!(len(Avp::VendorName(b"x".to_vec())), (7, false));
        assert_eq!(len(Avp::RxConnectSpeed(1)), (10, false));
    }

    #[test]
    fn wrong_sizes_are_refused_where_the_rfc_fixes_them() {
        for (attr, len) in [
            (0, 3),
            (1, 3),
            (1, 1),
            (2, 1),
            (3, 2),
            (5, 4),
            (7, 0),
            (11, 0),
            (12, 2),
            (13, 15),
            (14, 4),
            (32, 1),
            (34, 24),
            (35, 8),
            (36, 0),
            (39, 1),
        ] {
            assert_eq!(
                Avp::parse(IETF, attr, true, &vec![0; len]),
                Err(AvpError::BadValueLen { attr, len }),
                "attr {attr} len {len}"
            );
        }
    }

    #[test]
    fn a_result_code_without_an_error_code_is_accepted() {
        assert_eq!(
            Avp::parse(IETF, 1, true, &[0, 1]),
            Ok(Avp::ResultCode {
                result: 1,
                error: None
            })
        );
        assert_eq!(
            Avp::parse(IETF, 1, true, &[0, 2, 0, 0]),
            Ok(Avp::ResultCode {
                result: 2,
                error: Some((0, Vec::new()))
            })
        );
    }
}
