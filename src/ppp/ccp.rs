//! CCP options (RFC 1962): which compression method each direction uses.
//! The methods are Deflate (RFC 1979: option 26, and 24, the number of
//! the draft that pppd still offers) and BSD-Compress (RFC 1977: option
//! 21). The engines are in `deflate.rs` and `bsdcomp.rs`.
//!
//! RFC 1962 §2: the options of a Configure-Request name what its sender
//! can decompress, most preferred first; each end compresses towards the
//! peer with the first method of the peer's request it acknowledged, and
//! decompresses with the first method of its own acknowledged request.

use std::fmt;

use super::fsm::{Options, Verdict};
use super::packet::{self, push_option};

pub mod opt {
    pub const BSD_COMPRESS: u8 = 21;
    pub const DEFLATE_DRAFT: u8 = 24;
    pub const DEFLATE: u8 = 26;
}

/// CCP codes beyond RFC 1661's seven (RFC 1962 §2.1).
pub mod code {
    pub const RESET_REQ: u8 = 14;
    pub const RESET_ACK: u8 = 15;
}

/// The Compressed Datagram protocol (RFC 1962 §3).
pub const COMPRESSED: u16 = 0x00fd;
/// The per-link Compressed Datagram of multilink, never negotiated here.
pub const COMPRESSED_LINK: u16 = 0x00fb;

/// RFC 1979 §2.1: method 8 (deflate), window 2^(8 + high nibble).
const DEFLATE_METHOD: u8 = 8;
/// RFC 1979 §2.1 check method 0: the 2-octet sequence number.
const DEFLATE_CHECK_SEQUENCE: u8 = 0;
/// RFC 1977 §2.1: option format version 1.
const BSD_VERSION: u8 = 1;

/// The smallest window or code size that works. RFC 1979 allows a
/// window of 2^8, but zlib cannot make raw streams with it (pppd's
/// DEFLATE_MIN_WORKS); RFC 1977 §2.1 starts BSD-Compress at 9 bits.
pub const MIN_BITS: u8 = 9;
/// 2^15 is zlib's largest window; pppd and its kernel stop BSD-Compress
/// at 15 bits (16 needs over a megabyte a direction).
pub const MAX_BITS: u8 = 15;

/// A compression method as agreed for one direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "method", rename_all = "kebab-case")]
pub enum Method {
    Deflate {
        /// log2 of the window.
        bits: u8,
        /// Negotiated under the draft's option number 24.
        draft: bool,
    },
    BsdCompress {
        /// The largest code, in bits.
        bits: u8,
    },
}

/// pppd's names: "Deflate", "Deflate (old#)", "BSD-Compress", and the size.
impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Method::Deflate { bits, draft: false } => write!(f, "Deflate {bits}"),
            Method::Deflate { bits, draft: true } => write!(f, "Deflate (old#) {bits}"),
            Method::BsdCompress { bits } => write!(f, "BSD-Compress {bits}"),
        }
    }
}

/// One method's sizes in pppd's `deflate R,A` / `bsdcomp R,A` form: what
/// we ask the peer to compress towards us with (`rx`) and the most we
/// compress towards the peer with (`tx`); 0 turns that direction off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes {
    pub rx: u8,
    pub tx: u8,
}

impl Sizes {
    pub const MAX: Sizes = Sizes {
        rx: MAX_BITS,
        tx: MAX_BITS,
    };

    /// Reads pppd's `15` or `15,12` (`0` for off that way).
    pub fn parse(s: &str) -> Result<Sizes, String> {
        let one = |t: &str| -> Result<u8, String> {
            let n: u8 = t
                .trim()
                .parse()
                .map_err(|_| format!("{t:?} is not a size (0 or {MIN_BITS}-{MAX_BITS})"))?;
            if n != 0 && !(MIN_BITS..=MAX_BITS).contains(&n) {
                return Err(format!("size {n} out of range: 0 or {MIN_BITS}-{MAX_BITS}"));
            }
            Ok(n)
        };
        let (r, a) = s.split_once(',').unwrap_or((s, s));
        Ok(Sizes {
            rx: one(r)?,
            tx: one(a)?,
        })
    }
}

/// pppd's CCP options. The default is pppd's: Deflate 15 under both
/// option numbers, then BSD-Compress 15, each way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CcpConfig {
    /// `deflate R,A`; None: `nodeflate`.
    pub deflate: Option<Sizes>,
    /// Also offer and accept the draft's option 24 (`nodeflatedraft`
    /// turns it off).
    pub deflate_draft: bool,
    /// `bsdcomp R,A`; None: `nobsdcomp`.
    pub bsd: Option<Sizes>,
}

impl Default for CcpConfig {
    fn default() -> Self {
        CcpConfig {
            deflate: Some(Sizes::MAX),
            deflate_draft: true,
            bsd: Some(Sizes::MAX),
        }
    }
}

impl CcpConfig {
    fn deflate_rx(&self) -> Option<u8> {
        self.deflate.map(|s| s.rx).filter(|&b| b >= MIN_BITS)
    }
    fn deflate_tx(&self) -> Option<u8> {
        self.deflate.map(|s| s.tx).filter(|&b| b >= MIN_BITS)
    }
    fn bsd_rx(&self) -> Option<u8> {
        self.bsd.map(|s| s.rx).filter(|&b| b >= MIN_BITS)
    }
    fn bsd_tx(&self) -> Option<u8> {
        self.bsd.map(|s| s.tx).filter(|&b| b >= MIN_BITS)
    }
}

/// What we ask for in this negotiation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Want {
    /// Deflate window, offered as option 26 and/or 24.
    deflate: Option<u8>,
    deflate_26: bool,
    deflate_24: bool,
    bsd: Option<u8>,
}

#[derive(Debug)]
pub struct Ccp {
    pub cfg: CcpConfig,
    want: Want,
    /// The peer's request was acknowledged: we compress towards it with
    /// this (None: the request named nothing). Taken by the link.
    pub tx_agreed: Option<Option<Method>>,
    /// Our request was acknowledged: the peer compresses towards us with
    /// this. Taken by the link.
    pub rx_agreed: Option<Option<Method>>,
}

impl Ccp {
    pub fn new(cfg: CcpConfig) -> Self {
        let mut c = Ccp {
            cfg,
            want: Want::default(),
            tx_agreed: None,
            rx_agreed: None,
        };
        c.reset();
        c
    }

    /// Asks for nothing any more: nothing to decompress with.
    pub fn wants_nothing(&self) -> bool {
        self.want.deflate.is_none() && self.want.bsd.is_none()
    }
}

/// Writes an option of one method with the given size (for a Nak).
type MakeOpt = fn(u8, &mut Vec<u8>);

fn deflate_opt(bits: u8) -> [u8; 2] {
    [((bits - 8) << 4) | DEFLATE_METHOD, DEFLATE_CHECK_SEQUENCE]
}

fn bsd_opt(bits: u8) -> [u8; 1] {
    [(BSD_VERSION << 5) | bits]
}

/// The window an option names, if it is method 8 with sequence numbers.
fn deflate_bits(data: &[u8]) -> Option<u8> {
    match *data {
        [w, DEFLATE_CHECK_SEQUENCE] if w & 0x0f == DEFLATE_METHOD => Some((w >> 4) + 8),
        _ => None,
    }
}

fn bsd_bits(data: &[u8]) -> Option<u8> {
    match *data {
        [v] if v >> 5 == BSD_VERSION => Some(v & 0x1f),
        _ => None,
    }
}

/// The method the first option of an acknowledged request stands for.
fn first_method(options: &[u8]) -> Option<Method> {
    let opts = packet::options(options).ok()?;
    let o = opts.first()?;
    match o.kind {
        opt::DEFLATE | opt::DEFLATE_DRAFT => Some(Method::Deflate {
            bits: deflate_bits(o.data)?,
            draft: o.kind == opt::DEFLATE_DRAFT,
        }),
        opt::BSD_COMPRESS => Some(Method::BsdCompress {
            bits: bsd_bits(o.data)?,
        }),
        _ => None,
    }
}

impl Options for Ccp {
    fn reset(&mut self) {
        let d = self.cfg.deflate_rx();
        self.want = Want {
            deflate: d,
            deflate_26: d.is_some(),
            deflate_24: d.is_some() && self.cfg.deflate_draft,
            bsd: self.cfg.bsd_rx(),
        };
        self.tx_agreed = None;
        self.rx_agreed = None;
    }

    fn request(&mut self) -> Vec<u8> {
        let mut v = Vec::with_capacity(11);
        let w = self.want;
        if let Some(bits) = w.deflate {
            if w.deflate_26 {
                push_option(&mut v, opt::DEFLATE, &deflate_opt(bits));
            }
            if w.deflate_24 {
                push_option(&mut v, opt::DEFLATE_DRAFT, &deflate_opt(bits));
            }
        }
        if let Some(bits) = w.bsd {
            push_option(&mut v, opt::BSD_COMPRESS, &bsd_opt(bits));
        }
        v
    }

    fn check_request(&mut self, options: &[u8], reject_not_nak: bool) -> Verdict {
        let Ok(opts) = packet::options(options) else {
            return Verdict::Reject(Vec::new());
        };
        let mut nak = Vec::new();
        let mut rej = Vec::new();
        for o in &opts {
            // The most we compress with for this option, if we do it at
            // all, and what the peer asked for.
            let (allow, asked, make): (Option<u8>, Option<u8>, MakeOpt) = match o.kind {
                opt::DEFLATE | opt::DEFLATE_DRAFT if o.data.len() == 2 => {
                    let allowed = o.kind == opt::DEFLATE || self.cfg.deflate_draft;
                    let make: MakeOpt = if o.kind == opt::DEFLATE {
                        |b, v| push_option(v, opt::DEFLATE, &deflate_opt(b))
                    } else {
                        |b, v| push_option(v, opt::DEFLATE_DRAFT, &deflate_opt(b))
                    };
                    (
                        self.cfg.deflate_tx().filter(|_| allowed),
                        deflate_bits(o.data),
                        make,
                    )
                }
                opt::BSD_COMPRESS if o.data.len() == 1 => {
                    (self.cfg.bsd_tx(), bsd_bits(o.data), |b, v| {
                        push_option(v, opt::BSD_COMPRESS, &bsd_opt(b))
                    })
                }
                // Predictor, Stac, MPPE, anything unknown, and lengths
                // that lie.
                _ => (None, None, |_, _| {}),
            };
            let Some(allow) = allow else {
                o.push_to(&mut rej);
                continue;
            };
            match asked {
                Some(b) if (MIN_BITS..=allow).contains(&b) => {}
                // RFC 1979 §2.1 / RFC 1977 §2.1: a window or code size
                // we cannot use is Nak'ed with the largest we can.
                _ if reject_not_nak => o.push_to(&mut rej),
                _ => make(allow, &mut nak),
            }
        }
        if !rej.is_empty() {
            return Verdict::Reject(rej);
        }
        if !nak.is_empty() {
            return Verdict::Nak(nak);
        }
        self.tx_agreed = Some(first_method(options));
        Verdict::Ack
    }

    fn acked(&mut self, options: &[u8]) {
        self.rx_agreed = Some(first_method(options));
    }

    fn naked(&mut self, options: &[u8]) -> bool {
        let Ok(opts) = packet::options(options) else {
            return false;
        };
        for o in opts {
            match o.kind {
                // pppd (ccp_nakci): a smaller window is taken; anything
                // else we do not understand ends our asking for Deflate.
                opt::DEFLATE | opt::DEFLATE_DRAFT if self.want.deflate.is_some() => {
                    match deflate_bits(o.data) {
                        Some(b) if b >= MIN_BITS => {
                            if Some(b) < self.want.deflate {
                                self.want.deflate = Some(b);
                            }
                        }
                        _ => self.want.deflate = None,
                    }
                }
                opt::BSD_COMPRESS if self.want.bsd.is_some() => match bsd_bits(o.data) {
                    Some(b) if b >= MIN_BITS => {
                        if Some(b) < self.want.bsd {
                            self.want.bsd = Some(b);
                        }
                    }
                    _ => self.want.bsd = None,
                },
                // Options we did not ask for are suggestions we ignore.
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
                opt::DEFLATE => self.want.deflate_26 = false,
                opt::DEFLATE_DRAFT => self.want.deflate_24 = false,
                opt::BSD_COMPRESS => self.want.bsd = None,
                _ => return false,
            }
        }
        if !self.want.deflate_26 && !self.want.deflate_24 {
            self.want.deflate = None;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(o: &[(u8, &[u8])]) -> Vec<u8> {
        let mut v = Vec::new();
        for (k, d) in o {
            push_option(&mut v, *k, d);
        }
        v
    }

    #[test]
    fn requests_what_pppd_requests() {
        let mut c = Ccp::new(CcpConfig::default());
        assert_eq!(
            c.request(),
            [26, 4, 0x78, 0, 24, 4, 0x78, 0, 21, 3, 0x2f],
            "pppd: deflate 15, deflate(old#) 15, bsd v1 15"
        );
    }

    #[test]
    fn acks_pppds_request_and_compresses_with_its_first_method() {
        let mut c = Ccp::new(CcpConfig::default());
        let req = [26, 4, 0x78, 0, 24, 4, 0x78, 0, 21, 3, 0x2f];
        assert_eq!(c.check_request(&req, false), Verdict::Ack);
        assert_eq!(
            c.tx_agreed,
            Some(Some(Method::Deflate {
                bits: 15,
                draft: false
            }))
        );
    }

    #[test]
    fn naks_a_window_too_large_and_rejects_unknown_methods() {
        let cfg = CcpConfig {
            deflate: Some(Sizes { rx: 15, tx: 12 }),
            ..CcpConfig::default()
        };
        let mut c = Ccp::new(cfg);
        let req = opts(&[(26, &deflate_opt(15))]);
        assert_eq!(
            c.check_request(&req, false),
            Verdict::Nak(opts(&[(26, &deflate_opt(12))]))
        );
        // Predictor-1 and a Deflate with another check method.
        let req = opts(&[(1, &[]), (26, &[0x78, 1])]);
        assert_eq!(
            c.check_request(&req, false),
            Verdict::Reject(opts(&[(1, &[])]))
        );
        assert_eq!(
            c.check_request(&opts(&[(26, &[0x78, 1])]), true),
            Verdict::Reject(opts(&[(26, &[0x78, 1])]))
        );
    }

    #[test]
    fn a_nak_lowers_our_window_and_a_reject_drops_the_method() {
        let mut c = Ccp::new(CcpConfig::default());
        assert!(c.naked(&opts(&[(26, &deflate_opt(12))])));
        assert!(c.rejected(&opts(&[(24, &deflate_opt(12)), (21, &bsd_opt(15))])));
        assert_eq!(c.request(), opts(&[(26, &deflate_opt(12))]));
        let req = c.request();
        c.acked(&req);
        assert_eq!(
            c.rx_agreed,
            Some(Some(Method::Deflate {
                bits: 12,
                draft: false
            }))
        );
        assert!(c.rejected(&opts(&[(26, &deflate_opt(12))])));
        assert!(c.wants_nothing());
        assert_eq!(c.request(), Vec::<u8>::new());
    }

    #[test]
    fn bsd_only_and_lying_lengths() {
        let cfg = CcpConfig {
            deflate: None,
            ..CcpConfig::default()
        };
        let mut c = Ccp::new(cfg);
        assert_eq!(c.request(), [21, 3, 0x2f]);
        assert!(matches!(
            c.check_request(&opts(&[(26, &deflate_opt(15))]), false),
            Verdict::Reject(_)
        ));
        assert!(matches!(
            c.check_request(&[21, 4, 0x2f, 0], false),
            Verdict::Reject(_)
        ));
        // An option running past the end.
        assert_eq!(
            c.check_request(&[21, 9, 0x2f], false),
            Verdict::Reject(Vec::new())
        );
        assert_eq!(c.check_request(&[21, 3, 0x2c], false), Verdict::Ack);
        assert_eq!(c.tx_agreed, Some(Some(Method::BsdCompress { bits: 12 })));
    }

    #[test]
    fn sizes_parse_as_pppd_takes_them() {
        assert_eq!(Sizes::parse("15").unwrap(), Sizes { rx: 15, tx: 15 });
        assert_eq!(Sizes::parse("12,0").unwrap(), Sizes { rx: 12, tx: 0 });
        assert!(Sizes::parse("8").is_err());
        assert!(Sizes::parse("16").is_err());
        assert!(Sizes::parse("x").is_err());
    }
}
