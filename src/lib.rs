//! carrier: a modem dialer and PPP stack.
//!
//! The protocol core ([`hdlc`], [`ppp`]) is pure: no I/O, no clock, no
//! tasks. [`session`] drives it over a serial line with tokio.

pub mod access;
pub mod events;
pub mod hdlc;
pub mod inbound;
pub mod modem;
pub mod net;
pub mod pcap;
pub mod ppp;
pub mod profile;
pub mod secrets;
pub mod session;
