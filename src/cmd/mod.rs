//! The commands behind the `carrier` command line, one module each.

pub mod answer;
pub mod common;
pub mod demo;
pub mod detect;
pub mod dial;
pub mod inbound;
