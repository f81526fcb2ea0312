//! The PPP protocol core: pure state machines, no I/O, no clock, no tasks.
//!
//! Everything here is driven by [`link::Link`]: frames and timeouts go in,
//! frames, deadlines and events come out.

pub mod activity;
pub mod addrs;
pub mod auth;
pub mod bsdcomp;
pub mod ccp;
pub mod chap;
pub mod compress;
pub mod datagram;
pub mod defaults;
pub mod deflate;
pub mod fsm;
pub mod ipcp;
pub mod ipv6cp;
pub mod lcp;
pub mod link;
pub mod packet;
pub mod pap;
pub mod sequenced;
pub mod trace;
pub mod vj;

pub use link::{DownReason, Event, Link, LinkConfig, Phase};

/// PPP protocol numbers (RFC 1700 / IANA "PPP DLL Protocol Numbers").
pub mod proto {
    pub const IPV4: u16 = 0x0021;
    pub const IPV6: u16 = 0x0057;
    pub const IPCP: u16 = 0x8021;
    pub const IPV6CP: u16 = 0x8057;
    pub const CCP: u16 = 0x80fd;
    pub const LCP: u16 = 0xc021;
    pub const PAP: u16 = 0xc023;
    pub const LQR: u16 = 0xc025;
    pub const CHAP: u16 = 0xc223;
}
