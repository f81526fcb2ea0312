//! carrier-sim: simulated serial lines and Hayes modems on PTYs, with a
//! phone exchange between them, so carrier and other PPP programs run and
//! are tested without hardware. See sim/README.md.
//!
//! Layers, each its own module: [`at`] (the pure command interpreter),
//! [`escape`] (the `+++` detector), [`pace`] and [`fault`] (what a line
//! does to bytes), [`line`] (one call's line), [`exchange`] (numbers and
//! calls), [`cid`] (caller ID as the called modem prints it), `modem`
//! and `port` (a modem task on its PTY), [`ctl`] (the control-line
//! socket), [`sim`] (all of it in-process), [`cli`].

pub mod at;
pub mod cable;
pub mod cid;
pub mod cli;
pub mod config;
pub mod ctl;
pub mod ctl_lines;
mod error;
pub mod escape;
pub mod exchange;
pub mod fault;
pub mod line;
pub mod model;
mod modem;
pub mod pace;
mod port;
pub mod scale;
pub mod sim;

pub use cable::{LineProfile, NullModem};
pub use cid::CallingLine;
pub use ctl_lines::{ctl_path, lines_for, CtlLines};
pub use error::SimError;
pub use exchange::{CallInfo, Destination, Route, Service};
pub use fault::FaultSpec;
pub use modem::{ModemSpec, DEFAULT_LATENCY};
pub use scale::TimeScale;
pub use sim::{Sim, SimConfig};
