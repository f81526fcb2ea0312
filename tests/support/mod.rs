//! Shared helpers for the integration tests.
#![allow(dead_code)]

pub mod attack;
pub mod carrier;
pub mod guest;
pub mod hookrec;
pub mod hostile;
pub mod hosts;
pub mod lab;
pub mod linkpair;
pub mod listen;
pub mod nsstat;
pub mod packet;
pub mod pppd;
pub mod sim;
