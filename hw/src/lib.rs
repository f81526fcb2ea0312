//! carrier-hw: the serial side of carrier. Raw tty access with the
//! terminal settings restored on every exit, and async reads and writes
//! through tokio; modem control lines, UUCP lock files and port
//! enumeration; the control socket of a simulated modem.

pub mod child;
pub mod dirwatch;
pub mod enumerate;
pub mod lines;
pub mod lock;
pub mod miwait;
pub mod nlwatch;
pub mod pty;
pub mod tty;

pub use dirwatch::{wait_in_dir, DirWatch, Recheck};
pub use enumerate::{available_ports, Enumerator, PciInfo, PortInfo, PortKind, UsbInfo};
pub use lines::{
    hangup_by_dtr, hangup_by_dtr_async, send_break, InputCircuits, LineMask, LinesError, ModemLines,
};
pub use lock::{LockError, LockOptions, PortLock};
pub use miwait::wait_for_change;
pub use nlwatch::NetlinkWatch;
pub use pty::Pty;
pub use tty::{is_hangup, AsyncTty, Flow, HwError, Tty};
