//! IPCP options (RFC 1332) with the DNS extension of RFC 1877 and Van
//! Jacobson compression (RFC 1332 §3.2, RFC 1144).

use std::net::Ipv4Addr;

use super::fsm::{Options, Verdict};
use super::packet::{self, push_option};

pub mod opt {
    /// RFC 1172's IP-Addresses, deprecated; always rejected.
    pub const IP_ADDRESSES: u8 = 1;
    pub const IP_COMPRESSION: u8 = 2;
    pub const IP_ADDRESS: u8 = 3;
    pub const PRIMARY_DNS: u8 = 129;
    pub const PRIMARY_NBNS: u8 = 130;
    pub const SECONDARY_DNS: u8 = 131;
    pub const SECONDARY_NBNS: u8 = 132;
}

const DNS_OPTS: [u8; 2] = [opt::PRIMARY_DNS, opt::SECONDARY_DNS];

/// One direction of VJ compression as RFC 1332 §3.2 words it: the
/// receiver's highest slot number and whether it takes packets that leave
/// the slot number out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VjConfig {
    pub max_slot: u8,
    pub compress_slot: bool,
}

impl Default for VjConfig {
    /// pppd's: 16 slots, slot numbers compressed.
    fn default() -> Self {
        VjConfig {
            max_slot: 15,
            compress_slot: true,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpcpConfig {
    /// Our address; None asks the peer for one (pppd's `noipdefault`).
    pub local: Option<Ipv4Addr>,
    /// The address we give the peer; None lets the peer choose its own.
    pub remote: Option<Ipv4Addr>,
    /// Ask the peer for DNS servers (pppd's `usepeerdns`).
    pub request_dns: bool,
    /// DNS servers we offer (pppd's `ms-dns`), primary then secondary.
    pub dns: [Option<Ipv4Addr>; 2],
    /// VJ compression we ask to receive and agree to send (pppd's
    /// default; None is `novj`). `compress_slot: false` is `novjccomp`:
    /// neither asked for nor used when sending.
    pub vj: Option<VjConfig>,
}

#[derive(Debug)]
pub struct Ipcp {
    pub cfg: IpcpConfig,
    /// Our IP-Address option's value; None once the peer rejected it.
    want_addr: Option<Ipv4Addr>,
    /// DNS options we ask for; None once rejected.
    want_dns: [Option<Ipv4Addr>; 2],
    /// Our VJ option's value; None once rejected.
    want_vj: Option<VjConfig>,
    /// VJ as agreed: what we receive (our request, acknowledged) and what
    /// we send (the peer's request, acknowledged).
    pub vj_rx: Option<VjConfig>,
    pub vj_tx: Option<VjConfig>,
    /// The peer's address as we acknowledged it.
    pub peer_addr: Option<Ipv4Addr>,
    /// Our address and DNS servers as the peer acknowledged them.
    pub local_addr: Option<Ipv4Addr>,
    pub dns: Vec<Ipv4Addr>,
}

fn addr(data: &[u8]) -> Option<Ipv4Addr> {
    <[u8; 4]>::try_from(data).ok().map(Ipv4Addr::from)
}

impl Ipcp {
    pub fn new(cfg: IpcpConfig) -> Self {
        let mut i = Ipcp {
            cfg,
            want_addr: None,
            want_dns: [None; 2],
            want_vj: None,
            vj_rx: None,
            vj_tx: None,
            peer_addr: None,
            local_addr: None,
            dns: Vec::new(),
        };
        i.reset();
        i
    }
}

impl Options for Ipcp {
    fn reset(&mut self) {
        self.want_addr = Some(self.cfg.local.unwrap_or(Ipv4Addr::UNSPECIFIED));
        self.want_dns = if self.cfg.request_dns {
            [Some(Ipv4Addr::UNSPECIFIED); 2]
        } else {
            [None; 2]
        };
        self.want_vj = self.cfg.vj;
        self.vj_rx = None;
        self.vj_tx = None;
        self.peer_addr = None;
        self.local_addr = None;
        self.dns.clear();
    }

    fn request(&mut self) -> Vec<u8> {
        let mut v = Vec::with_capacity(24);
        if let Some(vj) = self.want_vj {
            push_option(&mut v, opt::IP_COMPRESSION, &vj_value(vj));
        }
        if let Some(a) = self.want_addr {
            push_option(&mut v, opt::IP_ADDRESS, &a.octets());
        }
        for (kind, want) in DNS_OPTS.iter().zip(self.want_dns) {
            if let Some(a) = want {
                push_option(&mut v, *kind, &a.octets());
            }
        }
        v
    }

    fn check_request(&mut self, options: &[u8], reject_not_nak: bool) -> Verdict {
        let Ok(opts) = packet::options(options) else {
            return Verdict::Reject(Vec::new());
        };
        let mut peer_addr = None;
        let mut peer_vj = None;
        let mut nak = Vec::new();
        let mut rej = Vec::new();
        // RFC 1661 §4.6 Max-Failure: reject what we would Nak.
        let nak_or_rej =
            |o: &packet::Opt<'_>, value: Ipv4Addr, nak: &mut Vec<u8>, rej: &mut Vec<u8>| {
                if reject_not_nak {
                    o.push_to(rej);
                } else {
                    push_option(nak, o.kind, &value.octets());
                }
            };
        for o in &opts {
            match (o.kind, addr(o.data)) {
                (opt::IP_ADDRESS, Some(a)) => match self.cfg.remote {
                    // We assign the peer's address: anything else is Nak'ed
                    // with it, 0.0.0.0 ("give me one") included.
                    Some(r) if a != r => nak_or_rej(o, r, &mut nak, &mut rej),
                    Some(_) => peer_addr = Some(a),
                    // The peer must know its own address if we have none
                    // to give.
                    None if a.is_unspecified() => o.push_to(&mut rej),
                    None => peer_addr = Some(a),
                },
                (opt::PRIMARY_DNS | opt::SECONDARY_DNS, Some(a)) => {
                    let i = usize::from(o.kind == opt::SECONDARY_DNS);
                    match self.cfg.dns[i] {
                        Some(d) if d != a => nak_or_rej(o, d, &mut nak, &mut rej),
                        Some(_) => {}
                        None => o.push_to(&mut rej),
                    }
                }
                // RFC 1332 §3.2: the peer says what it can receive; we
                // can send to any number of slots.
                (opt::IP_COMPRESSION, _) if self.cfg.vj.is_some() && o.data.len() == 4 => {
                    let ours = self.cfg.vj.unwrap_or_default();
                    if o.data[..2] == crate::ppp::vj::COMPRESSED_TCP.to_be_bytes() {
                        peer_vj = Some(VjConfig {
                            max_slot: o.data[2],
                            compress_slot: o.data[3] != 0,
                        });
                    } else if reject_not_nak {
                        o.push_to(&mut rej);
                    } else {
                        // Another compression protocol: Nak'ed with VJ.
                        push_option(&mut nak, opt::IP_COMPRESSION, &vj_value(ours));
                    }
                }
                // VJ when `novj` or in RFC 1172's short form, RFC 1172
                // addresses, NBNS, bad lengths and anything unknown.
                _ => o.push_to(&mut rej),
            }
        }
        if !rej.is_empty() {
            return Verdict::Reject(rej);
        }
        if !nak.is_empty() {
            return Verdict::Nak(nak);
        }
        self.peer_addr = peer_addr.or(self.cfg.remote);
        self.vj_tx = peer_vj;
        Verdict::Ack
    }

    fn acked(&mut self, _options: &[u8]) {
        self.vj_rx = self.want_vj;
        // A configured address stands even if the peer rejected the option.
        self.local_addr = self
            .want_addr
            .filter(|a| !a.is_unspecified())
            .or(self.cfg.local);
        self.dns = self
            .want_dns
            .iter()
            .flatten()
            .copied()
            .filter(|a| !a.is_unspecified())
            .collect();
    }

    fn naked(&mut self, options: &[u8]) -> bool {
        let Ok(opts) = packet::options(options) else {
            return false;
        };
        for o in opts {
            if o.kind == opt::IP_COMPRESSION {
                // A smaller slot table or no slot compression is taken;
                // another protocol means no VJ from the peer.
                self.want_vj = match (self.want_vj, o.data) {
                    (Some(w), [0x00, 0x2d, max, c]) => Some(VjConfig {
                        max_slot: (*max).min(w.max_slot),
                        compress_slot: w.compress_slot && *c != 0,
                    }),
                    _ => None,
                };
                continue;
            }
            let Some(a) = addr(o.data) else { continue };
            match o.kind {
                // A client takes the address the server offers; a fixed
                // local address is kept (pppd without `ipcp-accept-local`).
                opt::IP_ADDRESS if self.cfg.local.is_none() => self.want_addr = Some(a),
                opt::PRIMARY_DNS if self.want_dns[0].is_some() => self.want_dns[0] = Some(a),
                opt::SECONDARY_DNS if self.want_dns[1].is_some() => self.want_dns[1] = Some(a),
                _ => {}
            }
        }
        true
    }

    fn rejected(&mut self, options: &[u8]) -> bool {
        let Ok(opts) = packet::options(options) else {
            return false;
        };
        for o in opts {
            match o.kind {
                opt::IP_COMPRESSION => self.want_vj = None,
                opt::IP_ADDRESS => self.want_addr = None,
                opt::PRIMARY_DNS => self.want_dns[0] = None,
                opt::SECONDARY_DNS => self.want_dns[1] = None,
                _ => return false,
            }
        }
        true
    }
}

fn vj_value(v: VjConfig) -> [u8; 4] {
    let p = crate::ppp::vj::COMPRESSED_TCP.to_be_bytes();
    [p[0], p[1], v.max_slot, u8::from(v.compress_slot)]
}
