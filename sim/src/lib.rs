//! carrier-sim: simulated serial lines (and, growing, modems) on PTYs, so
//! carrier and other PPP programs run and are tested without hardware.

pub mod cable;

pub use cable::{LineProfile, NullModem};
