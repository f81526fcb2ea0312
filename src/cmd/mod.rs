//! The commands behind the `carrier` command line, one module each.

pub mod call;
pub mod common;
pub mod demo;
pub mod dial;
pub mod direct;
pub mod inbound;
pub mod script;
