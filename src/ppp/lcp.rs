//! LCP options (RFC 1661 §6, RFC 1662 §7.1 for the ACCM).

use rand::rngs::StdRng;
use rand::Rng;

use super::auth::AuthProto;
use super::fsm::{Options, Verdict};
use super::packet::{self, push_option};

pub mod opt {
    pub const MRU: u8 = 1;
    pub const ACCM: u8 = 2;
    pub const AUTH: u8 = 3;
    pub const QUALITY: u8 = 4;
    pub const MAGIC: u8 = 5;
    pub const PFC: u8 = 7;
    pub const ACFC: u8 = 8;
}

/// pppd's MINMRU: smaller MRUs are Nak'ed up to this.
pub const MIN_MRU: u16 = 128;
/// pppd's `lcp_loopbackfail`: this many magic-number collisions in one
/// negotiation mean the line is looped back.
pub const LOOPBACK_FAIL: u32 = 10;

/// What we ask for and what we will do.
#[derive(Clone, Debug)]
pub struct LcpConfig {
    /// The MRU we can receive; requested when not the default 1500.
    pub mru: u16,
    /// The receive ACCM we ask for (pppd asks for 0).
    pub accm: u32,
    pub magic: bool,
    pub pfc: bool,
    pub acfc: bool,
    /// Protocols we require the peer to authenticate with, preferred first.
    pub require_auth: Vec<AuthProto>,
    /// Protocols we can authenticate ourselves with, preferred first.
    pub can_auth: Vec<AuthProto>,
}

impl Default for LcpConfig {
    fn default() -> Self {
        LcpConfig {
            mru: 1500,
            accm: 0,
            magic: true,
            pfc: true,
            acfc: true,
            require_auth: Vec::new(),
            can_auth: Vec::new(),
        }
    }
}

/// One side's options as agreed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Agreed {
    pub mru: u16,
    pub accm: u32,
    pub magic: Option<u32>,
    pub pfc: bool,
    pub acfc: bool,
    pub auth: Option<AuthProto>,
}

impl Default for Agreed {
    fn default() -> Self {
        Agreed {
            mru: 1500,
            accm: crate::hdlc::DEFAULT_ACCM,
            magic: None,
            pfc: false,
            acfc: false,
            auth: None,
        }
    }
}

#[derive(Debug)]
pub struct Lcp {
    pub cfg: LcpConfig,
    rng: StdRng,
    /// What our next Configure-Request carries.
    want: Agreed,
    /// Whether MRU and ACCM go in our request (dropped on Reject).
    asking_mru: bool,
    asking_accm: bool,
    /// Our options as the peer acknowledged them: what we receive.
    pub ours: Agreed,
    /// The peer's options as we acknowledged them: what we send.
    pub theirs: Agreed,
    /// Magic-number collisions seen (RFC 1661 §6.4).
    pub loops: u32,
    /// We require authentication and the peer rejected every protocol.
    pub auth_refused: bool,
}

impl Lcp {
    pub fn new(cfg: LcpConfig, rng: StdRng) -> Self {
        let mut lcp = Lcp {
            cfg,
            rng,
            want: Agreed::default(),
            asking_mru: false,
            asking_accm: false,
            ours: Agreed::default(),
            theirs: Agreed::default(),
            loops: 0,
            auth_refused: false,
        };
        lcp.reset();
        lcp
    }

    pub fn looped_back(&self) -> bool {
        self.loops >= LOOPBACK_FAIL
    }

    fn new_magic(&mut self) -> u32 {
        // RFC 1661 §6.4: zero is not a magic number.
        loop {
            let m: u32 = self.rng.gen();
            if m != 0 {
                return m;
            }
        }
    }

    /// The protocol to suggest in a Nak when the peer asks for one we
    /// cannot do.
    fn auth_alternative(&self) -> Option<AuthProto> {
        self.cfg.can_auth.first().copied()
    }
}

impl Options for Lcp {
    fn reset(&mut self) {
        let magic = if self.cfg.magic {
            Some(self.new_magic())
        } else {
            None
        };
        self.want = Agreed {
            mru: self.cfg.mru,
            accm: self.cfg.accm,
            magic,
            pfc: self.cfg.pfc,
            acfc: self.cfg.acfc,
            auth: self.cfg.require_auth.first().copied(),
        };
        self.ours = Agreed::default();
        self.theirs = Agreed::default();
        self.loops = 0;
        self.auth_refused = false;
        self.asking_mru = self.cfg.mru != 1500;
        self.asking_accm = self.cfg.accm != crate::hdlc::DEFAULT_ACCM;
    }

    fn request(&mut self) -> Vec<u8> {
        let mut v = Vec::with_capacity(24);
        if self.asking_mru {
            push_option(&mut v, opt::MRU, &self.want.mru.to_be_bytes());
        }
        if self.asking_accm {
            push_option(&mut v, opt::ACCM, &self.want.accm.to_be_bytes());
        }
        if let Some(a) = self.want.auth {
            push_option(&mut v, opt::AUTH, a.lcp_data());
        }
        if let Some(m) = self.want.magic {
            push_option(&mut v, opt::MAGIC, &m.to_be_bytes());
        }
        if self.want.pfc {
            push_option(&mut v, opt::PFC, &[]);
        }
        if self.want.acfc {
            push_option(&mut v, opt::ACFC, &[]);
        }
        v
    }

    fn check_request(&mut self, options: &[u8], reject_not_nak: bool) -> Verdict {
        let Ok(opts) = packet::options(options) else {
            return Verdict::Reject(Vec::new());
        };
        let mut theirs = Agreed::default();
        let mut nak = Vec::new();
        let mut rej = Vec::new();
        for o in &opts {
            match o.kind {
                opt::MRU => match o.u16() {
                    Some(mru) if mru >= MIN_MRU => theirs.mru = mru,
                    Some(_) => push_option(&mut nak, opt::MRU, &MIN_MRU.to_be_bytes()),
                    None => o.push_to(&mut rej),
                },
                opt::ACCM => match o.u32() {
                    Some(accm) => theirs.accm = accm,
                    None => o.push_to(&mut rej),
                },
                opt::AUTH => {
                    let asked = AuthProto::from_lcp_data(o.data);
                    match asked {
                        Some(p) if self.cfg.can_auth.contains(&p) => theirs.auth = Some(p),
                        _ => match self.auth_alternative() {
                            Some(alt) => push_option(&mut nak, opt::AUTH, alt.lcp_data()),
                            None => o.push_to(&mut rej),
                        },
                    }
                }
                opt::MAGIC => match o.u32() {
                    // RFC 1661 §6.4: our own magic coming back may be a
                    // looped-back line; Nak with another value to find out.
                    Some(m) if self.want.magic == Some(m) => {
                        self.loops += 1;
                        let other = self.new_magic();
                        push_option(&mut nak, opt::MAGIC, &other.to_be_bytes());
                    }
                    Some(m) => theirs.magic = Some(m),
                    None => o.push_to(&mut rej),
                },
                opt::PFC if o.data.is_empty() => theirs.pfc = true,
                opt::ACFC if o.data.is_empty() => theirs.acfc = true,
                // Quality-Protocol, callback, multilink and anything we do
                // not know.
                _ => o.push_to(&mut rej),
            }
        }
        if !rej.is_empty() {
            return Verdict::Reject(rej);
        }
        if !nak.is_empty() {
            if reject_not_nak {
                // RFC 1661 §4.6 Max-Failure: the Nak'ed options are rejected
                // as the peer sent them.
                let mut r = Vec::new();
                for o in &opts {
                    if nak_kinds(&nak).contains(&o.kind) {
                        o.push_to(&mut r);
                    }
                }
                return Verdict::Reject(r);
            }
            return Verdict::Nak(nak);
        }
        self.theirs = theirs;
        Verdict::Ack
    }

    fn acked(&mut self, _options: &[u8]) {
        self.ours = Agreed {
            mru: if self.asking_mru { self.want.mru } else { 1500 },
            accm: if self.asking_accm {
                self.want.accm
            } else {
                crate::hdlc::DEFAULT_ACCM
            },
            ..self.want
        };
    }

    fn naked(&mut self, options: &[u8]) -> bool {
        let Ok(opts) = packet::options(options) else {
            return false;
        };
        for o in opts {
            match o.kind {
                opt::MRU => {
                    // Take a smaller MRU the peer suggests; otherwise ask for
                    // nothing and live with the default.
                    match o.u16() {
                        Some(m) if (MIN_MRU..=self.cfg.mru).contains(&m) => {
                            self.want.mru = m;
                            self.asking_mru = m != 1500;
                        }
                        _ => self.asking_mru = false,
                    }
                }
                opt::ACCM => {
                    if let Some(a) = o.u32() {
                        self.want.accm |= a;
                        self.asking_accm = true;
                    }
                }
                opt::AUTH => {
                    match AuthProto::from_lcp_data(o.data) {
                        Some(p) if self.cfg.require_auth.contains(&p) => self.want.auth = Some(p),
                        // The peer will not do any protocol we accept: try
                        // the next one we accept, and give up after the last.
                        _ => {
                            let cur = self.want.auth;
                            let next = self
                                .cfg
                                .require_auth
                                .iter()
                                .skip_while(|p| Some(**p) != cur)
                                .nth(1)
                                .copied();
                            match next {
                                Some(p) => self.want.auth = Some(p),
                                None if !self.cfg.require_auth.is_empty() => {
                                    self.auth_refused = true
                                }
                                None => {}
                            }
                        }
                    }
                }
                opt::MAGIC => {
                    self.loops += 1;
                    self.want.magic = Some(self.new_magic());
                }
                // Boolean options cannot be Nak'ed into another value.
                opt::PFC => self.want.pfc = false,
                opt::ACFC => self.want.acfc = false,
                _ => {}
            }
        }
        true
    }

    fn rejected(&mut self, options: &[u8]) -> bool {
        let Ok(opts) = packet::options(options) else {
            return false;
        };
        let sent = self.request();
        let Ok(sent) = packet::options(&sent) else {
            return false;
        };
        // RFC 1661 §5.4: a Reject names options of the request, unchanged.
        if !opts.iter().all(|o| sent.contains(o)) {
            return false;
        }
        for o in opts {
            match o.kind {
                opt::MRU => self.asking_mru = false,
                opt::ACCM => self.asking_accm = false,
                opt::AUTH => {
                    if !self.cfg.require_auth.is_empty() {
                        self.auth_refused = true;
                    }
                    self.want.auth = None;
                }
                opt::MAGIC => self.want.magic = None,
                opt::PFC => self.want.pfc = false,
                opt::ACFC => self.want.acfc = false,
                _ => {}
            }
        }
        true
    }
}

fn nak_kinds(nak: &[u8]) -> Vec<u8> {
    packet::options(nak)
        .map(|v| v.iter().map(|o| o.kind).collect())
        .unwrap_or_default()
}
