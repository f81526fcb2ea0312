//! Shared helpers for the integration tests.
#![allow(dead_code)]

pub mod carrier;
pub mod hosts;
pub mod pppd;
pub mod sim;
