//! The commands behind the `carrier` command line, one module each.

pub mod call;
pub mod common;
pub mod demo;
pub mod detect;
pub mod dial;
pub mod direct;
pub mod inbound;
pub mod line;
pub mod script;
