//! carrier: a modem dialer and PPP stack.
//!
//! The protocol core ([`hdlc`], [`ppp`], [`l2tp`]) is pure: no I/O, no
//! clock, no tasks; so is [`wire`], the one reader of IP, TCP and UDP headers that
//! the core and everything else use. [`session`] drives the core over a
//! serial line with tokio; [`port`] holds a serial port through a call;
//! [`dialer`], [`answerer`] and [`inbound::service`] are the calls'
//! lifecycles, which the `carrier` binary only parses options for and
//! prints.

pub mod access;
pub mod answerer;
pub mod call;
mod deadline;
pub mod demand;
pub mod dialer;
pub mod events;
pub mod exit;
pub mod hdlc;
pub mod hooks;
pub mod inbound;
pub mod l2tp;
pub mod line;
pub mod modem;
pub mod net;
pub mod pcap;
pub mod port;
pub mod ppp;
pub mod profile;
pub mod redial;
pub mod secrets;
pub mod session;
pub mod wire;
