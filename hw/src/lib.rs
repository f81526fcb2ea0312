//! carrier-hw: the serial side of carrier. Raw tty access with the
//! terminal settings restored on every exit, and async reads and writes
//! through tokio.

pub mod pty;
pub mod tty;

pub use pty::Pty;
pub use tty::{is_hangup, AsyncTty, HwError, Tty};
