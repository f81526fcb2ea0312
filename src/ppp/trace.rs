//! Frames decoded for humans, in the style of pppd's `debug` trace
//! (`LCP ConfReq id=0x1 <asyncmap 0x0> <magic 0x1234abcd>`), so a log can be
//! read beside pppd's. Secrets never appear: PAP passwords print as
//! `<hidden>`.

use std::fmt::{self, Write};
use std::net::{IpAddr, Ipv4Addr};

use super::auth::AuthProto;
use super::fsm::code;
use super::packet::{self, Packet};
use super::{ccp, chap, ipcp, ipv6cp, lcp, pap, proto};
use crate::wire::{self, ipproto};

/// Displays one PPP packet (protocol + information field).
pub struct Describe<'a> {
    pub protocol: u16,
    pub info: &'a [u8],
}

pub fn describe(protocol: u16, info: &[u8]) -> Describe<'_> {
    Describe { protocol, info }
}

fn control_name(c: u8) -> Option<&'static str> {
    Some(match c {
        code::CONF_REQ => "ConfReq",
        code::CONF_ACK => "ConfAck",
        code::CONF_NAK => "ConfNak",
        code::CONF_REJ => "ConfRej",
        code::TERM_REQ => "TermReq",
        code::TERM_ACK => "TermAck",
        code::CODE_REJ => "CodeRej",
        code::PROT_REJ => "ProtRej",
        code::ECHO_REQ => "EchoReq",
        code::ECHO_REP => "EchoRep",
        code::DISC_REQ => "DiscReq",
        _ => return None,
    })
}

fn hex(f: &mut fmt::Formatter<'_>, data: &[u8]) -> fmt::Result {
    f.write_str("0x")?;
    for b in data {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

fn printable(data: &[u8]) -> String {
    let mut s = String::new();
    for &b in data {
        if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
            s.push(b as char);
        } else {
            let _ = write!(s, "\\x{b:02x}");
        }
    }
    s
}

fn lcp_option(f: &mut fmt::Formatter<'_>, o: &packet::Opt<'_>) -> fmt::Result {
    match (o.kind, o.data.len()) {
        (lcp::opt::MRU, 2) => write!(f, " <mru {}>", o.u16().unwrap_or(0)),
        (lcp::opt::ACCM, 4) => write!(f, " <asyncmap {:#x}>", o.u32().unwrap_or(0)),
        (lcp::opt::AUTH, _) => match AuthProto::from_lcp_data(o.data) {
            Some(AuthProto::Pap) => f.write_str(" <auth pap>"),
            Some(AuthProto::ChapMd5) => f.write_str(" <auth chap MD5>"),
            None => {
                f.write_str(" <auth ")?;
                hex(f, o.data)?;
                f.write_str(">")
            }
        },
        (lcp::opt::MAGIC, 4) => write!(f, " <magic {:#x}>", o.u32().unwrap_or(0)),
        (lcp::opt::PFC, 0) => f.write_str(" <pcomp>"),
        (lcp::opt::ACFC, 0) => f.write_str(" <accomp>"),
        _ => generic_option(f, o),
    }
}

fn ipcp_option(f: &mut fmt::Formatter<'_>, o: &packet::Opt<'_>) -> fmt::Result {
    let a = <[u8; 4]>::try_from(o.data).ok().map(Ipv4Addr::from);
    match (o.kind, a) {
        (ipcp::opt::IP_ADDRESS, Some(a)) => write!(f, " <addr {a}>"),
        (ipcp::opt::PRIMARY_DNS, Some(a)) => write!(f, " <ms-dns1 {a}>"),
        (ipcp::opt::SECONDARY_DNS, Some(a)) => write!(f, " <ms-dns3 {a}>"),
        // pppd: `<compress VJ 0f 01>`.
        (ipcp::opt::IP_COMPRESSION, _) if o.data.len() == 4 && o.data[..2] == [0x00, 0x2d] => {
            write!(f, " <compress VJ {:02x} {:02x}>", o.data[2], o.data[3])
        }
        (ipcp::opt::IP_COMPRESSION, _) => f.write_str(" <compress>"),
        _ => generic_option(f, o),
    }
}

fn ipv6cp_option(f: &mut fmt::Formatter<'_>, o: &packet::Opt<'_>) -> fmt::Result {
    match (o.kind, <[u8; 8]>::try_from(o.data)) {
        // pppd writes `<addr fe80::0203:0405:0607:0809>`.
        (ipv6cp::opt::INTERFACE_ID, Ok(id)) => {
            write!(f, " <addr fe80::{}>", ipv6cp::InterfaceId(id))
        }
        _ => generic_option(f, o),
    }
}

/// pppd's forms: `<deflate 15>`, `<deflate(old#) 15>`, `<bsd v1 15>`.
fn ccp_option(f: &mut fmt::Formatter<'_>, o: &packet::Opt<'_>) -> fmt::Result {
    match (o.kind, o.data) {
        (ccp::opt::DEFLATE | ccp::opt::DEFLATE_DRAFT, &[w, chk]) => {
            let draft = if o.kind == ccp::opt::DEFLATE_DRAFT {
                "(old#)"
            } else {
                ""
            };
            write!(f, " <deflate{draft} {}", (w >> 4) + 8)?;
            if w & 0x0f != 8 {
                write!(f, " method {}", w & 0x0f)?;
            }
            if chk != 0 {
                write!(f, " check {chk}")?;
            }
            f.write_str(">")
        }
        (ccp::opt::BSD_COMPRESS, &[v]) => write!(f, " <bsd v{} {}>", v >> 5, v & 0x1f),
        _ => generic_option(f, o),
    }
}

fn generic_option(f: &mut fmt::Formatter<'_>, o: &packet::Opt<'_>) -> fmt::Result {
    write!(f, " <{} ", o.kind)?;
    hex(f, o.data)?;
    f.write_str(">")
}

impl fmt::Display for Describe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.protocol {
            proto::LCP => "LCP",
            proto::IPCP => "IPCP",
            proto::IPV6CP => "IPV6CP",
            proto::PAP => "PAP",
            proto::CHAP => "CHAP",
            proto::CCP => "CCP",
            ccp::COMPRESSED => {
                return match self.info {
                    [hi, lo, rest @ ..] => write!(
                        f,
                        "CCP compressed seq={} len={}",
                        u16::from_be_bytes([*hi, *lo]),
                        rest.len()
                    ),
                    _ => write!(f, "CCP compressed (short) len={}", self.info.len()),
                }
            }
            proto::IPV4 => return describe_ip(f, self.info, false),
            proto::IPV6 => return describe_ip(f, self.info, true),
            super::vj::COMPRESSED_TCP => {
                return write!(f, "VJ compressed TCP len={}", self.info.len())
            }
            super::vj::UNCOMPRESSED_TCP => {
                f.write_str("VJ uncompressed ")?;
                return describe_ip(f, self.info, false);
            }
            p => return write!(f, "proto={p:#06x} len={}", self.info.len()),
        };
        let pkt = match Packet::parse(self.info) {
            Ok(p) => p,
            Err(e) => return write!(f, "{name} malformed ({e}) len={}", self.info.len()),
        };
        match self.protocol {
            proto::LCP | proto::IPCP | proto::IPV6CP | proto::CCP => {
                let reset = match (self.protocol, pkt.code) {
                    (proto::CCP, ccp::code::RESET_REQ) => Some("ResetReq"),
                    (proto::CCP, ccp::code::RESET_ACK) => Some("ResetAck"),
                    _ => None,
                };
                match reset.or_else(|| control_name(pkt.code)) {
                    Some(c) => write!(f, "{name} {c} id={:#x}", pkt.id)?,
                    None => write!(f, "{name} code={} id={:#x}", pkt.code, pkt.id)?,
                }
                match pkt.code {
                    code::CONF_REQ..=code::CONF_REJ => match packet::options(pkt.data) {
                        Ok(opts) => {
                            for o in &opts {
                                match self.protocol {
                                    proto::LCP => lcp_option(f, o)?,
                                    proto::IPCP => ipcp_option(f, o)?,
                                    proto::CCP => ccp_option(f, o)?,
                                    _ => ipv6cp_option(f, o)?,
                                }
                            }
                            Ok(())
                        }
                        Err(e) => write!(f, " (bad options: {e})"),
                    },
                    code::ECHO_REQ | code::ECHO_REP | code::DISC_REQ if pkt.data.len() >= 4 => {
                        write!(
                            f,
                            " magic={:#x}",
                            u32::from_be_bytes([
                                pkt.data[0],
                                pkt.data[1],
                                pkt.data[2],
                                pkt.data[3]
                            ])
                        )
                    }
                    code::PROT_REJ if pkt.data.len() >= 2 => {
                        write!(
                            f,
                            " proto={:#06x}",
                            u16::from_be_bytes([pkt.data[0], pkt.data[1]])
                        )
                    }
                    code::TERM_REQ | code::TERM_ACK if !pkt.data.is_empty() => {
                        write!(f, " \"{}\"", printable(pkt.data))
                    }
                    _ => Ok(()),
                }
            }
            proto::PAP => match pkt.code {
                pap::AUTH_REQ => match pap::parse_request(pkt.data) {
                    Ok((user, _)) => write!(
                        f,
                        "PAP AuthReq id={:#x} user=\"{}\" password=<hidden>",
                        pkt.id,
                        printable(user)
                    ),
                    Err(e) => write!(f, "PAP AuthReq id={:#x} malformed ({e})", pkt.id),
                },
                pap::AUTH_ACK | pap::AUTH_NAK => write!(
                    f,
                    "PAP {} id={:#x} \"{}\"",
                    if pkt.code == pap::AUTH_ACK {
                        "AuthAck"
                    } else {
                        "AuthNak"
                    },
                    pkt.id,
                    printable(pap::message(pkt.data).as_bytes())
                ),
                c => write!(f, "PAP code={c} id={:#x}", pkt.id),
            },
            _ => match pkt.code {
                chap::CHALLENGE | chap::RESPONSE => {
                    let what = if pkt.code == chap::CHALLENGE {
                        "Challenge"
                    } else {
                        "Response"
                    };
                    write!(f, "CHAP {what} id={:#x}", pkt.id)?;
                    match chap::parse_value_name(pkt.data) {
                        Ok((value, name)) => {
                            f.write_str(" <")?;
                            hex(f, value)?;
                            write!(f, ">, name = \"{}\"", printable(name))
                        }
                        Err(e) => write!(f, " malformed ({e})"),
                    }
                }
                chap::SUCCESS => write!(
                    f,
                    "CHAP Success id={:#x} \"{}\"",
                    pkt.id,
                    printable(pkt.data)
                ),
                chap::FAILURE => write!(
                    f,
                    "CHAP Failure id={:#x} \"{}\"",
                    pkt.id,
                    printable(pkt.data)
                ),
                c => write!(f, "CHAP code={c} id={:#x}", pkt.id),
            },
        }
    }
}

/// The upper layer's name in a datagram's line: `ip` or `ip6` for one
/// the trace does not name.
fn upper_name(v6: bool, protocol: u8) -> &'static str {
    match (v6, protocol) {
        (false, ipproto::ICMP) => "icmp",
        (true, ipproto::ICMPV6) => "icmp6",
        (_, ipproto::TCP) => "tcp",
        (_, ipproto::UDP) => "udp",
        (false, _) => "ip",
        (true, _) => "ip6",
    }
}

/// `IP 10.0.0.2 > 10.0.0.1 tcp len=40`, or `IPv6 ...`: the fixed header as
/// it stands (a VJ uncompressed frame carries its slot where the protocol
/// was).
fn describe_ip(f: &mut fmt::Formatter<'_>, p: &[u8], v6: bool) -> fmt::Result {
    let (name, family, h) = if v6 {
        let h = wire::ipv6_fixed(p).map(|h| (IpAddr::V6(h.src), IpAddr::V6(h.dst), h.next));
        ("IPv6", "IPv6", h)
    } else {
        let h = wire::ipv4_fixed(p).map(|h| (IpAddr::V4(h.src), IpAddr::V4(h.dst), h.protocol));
        ("IP", "IPv4", h)
    };
    match h {
        Some((src, dst, upper)) => {
            let upper = upper_name(v6, upper);
            write!(f, "{name} {src} > {dst} {upper} len={}", p.len())
        }
        None => write!(f, "{name} len={} (not {family})", p.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pppd_style_lcp() {
        let info = [1, 1, 0, 14, 2, 6, 0, 0, 0, 0, 5, 6, 0x12, 0x34, 0x56, 0x78];
        let mut info = info.to_vec();
        info[3] = info.len() as u8;
        assert_eq!(
            describe(proto::LCP, &info).to_string(),
            "LCP ConfReq id=0x1 <asyncmap 0x0> <magic 0x12345678>"
        );
    }

    #[test]
    fn pppd_style_ipv6cp() {
        let info = [1, 2, 0, 14, 1, 10, 2, 3, 4, 5, 6, 7, 8, 9];
        assert_eq!(
            describe(proto::IPV6CP, &info).to_string(),
            "IPV6CP ConfReq id=0x2 <addr fe80::0203:0405:0607:0809>"
        );
    }

    #[test]
    fn pppd_style_ccp() {
        let info = [1, 3, 0, 15, 26, 4, 0x78, 0, 24, 4, 0x78, 0, 21, 3, 0x2f];
        assert_eq!(
            describe(proto::CCP, &info).to_string(),
            "CCP ConfReq id=0x3 <deflate 15> <deflate(old#) 15> <bsd v1 15>"
        );
        assert_eq!(
            describe(proto::CCP, &[14, 9, 0, 4]).to_string(),
            "CCP ResetReq id=0x9"
        );
        assert_eq!(
            describe(ccp::COMPRESSED, &[0, 7, 1, 2, 3]).to_string(),
            "CCP compressed seq=7 len=3"
        );
    }

    #[test]
    fn pap_password_is_hidden() {
        let pkt = pap::request(1, b"alice", b"s3cret");
        let s = describe(proto::PAP, &pkt).to_string();
        assert!(s.contains("alice") && !s.contains("s3cret"), "{s}");
    }

    #[test]
    fn datagrams_in_one_line() {
        let mut v4 = vec![0u8; 40];
        let (src, dst) = (Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 1));
        wire::write_ipv4_header(&mut v4, src, dst, ipproto::TCP, 20, 1);
        assert_eq!(
            describe(proto::IPV4, &v4).to_string(),
            "IP 10.0.0.2 > 10.0.0.1 tcp len=40"
        );
        v4[9] = 3; // a VJ slot
        assert_eq!(
            describe(super::super::vj::UNCOMPRESSED_TCP, &v4).to_string(),
            "VJ uncompressed IP 10.0.0.2 > 10.0.0.1 ip len=40"
        );
        assert_eq!(
            describe(proto::IPV4, &v4[..5]).to_string(),
            "IP len=5 (not IPv4)"
        );
        let mut v6 = vec![0u8; 48];
        v6[0] = 0x60;
        v6[6] = ipproto::ICMPV6;
        v6[23] = 1;
        v6[39] = 2;
        assert_eq!(
            describe(proto::IPV6, &v6).to_string(),
            "IPv6 ::1 > ::2 icmp6 len=48"
        );
        v6[6] = ipproto::ICMP;
        assert!(describe(proto::IPV6, &v6).to_string().contains(" ip6 "));
        assert_eq!(
            describe(proto::IPV6, &v4).to_string(),
            "IPv6 len=40 (not IPv6)"
        );
    }

    #[test]
    fn malformed_is_described_not_panicked() {
        assert!(describe(proto::LCP, &[1, 1, 0, 99])
            .to_string()
            .contains("malformed"));
        assert!(describe(proto::CHAP, &[1, 1, 0, 6, 9, 1])
            .to_string()
            .contains("malformed"));
    }
}
