//! The process exit statuses, pppd(8)'s where pppd has one, so that a
//! script written for pppd reads carrier's the same way (README, "Exit
//! codes").

/// A fatal error (device, file).
pub const FATAL: u8 = 1;
/// Bad options or configuration.
pub const CONFIG: u8 = 2;
/// `carrier detect` found no modem.
pub const NO_MODEM: u8 = 3;
/// Stopped by a signal.
pub const SIGNAL: u8 = 5;
/// The serial port could not be locked.
pub const LOCK: u8 = 6;
/// The serial port could not be opened.
pub const OPEN: u8 = 7;
/// The connect script failed.
pub const CONNECT_SCRIPT: u8 = 8;
/// The init script failed.
pub const INIT: u8 = 18;
/// No inbound call may be answered: not enabled, already used, disabled.
pub const INBOUND_CLOSED: u8 = 20;
