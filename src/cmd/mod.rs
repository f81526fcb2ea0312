//! The commands behind the `carrier` command line, one module each.

pub mod common;
pub mod demo;
pub mod direct;
pub mod inbound;
