//! Modem control lines (V.24 circuits) on a real serial port: DTR and RTS
//! out, DCD, RI, DSR and CTS in, through the TIOCMGET/TIOCMBIS/TIOCMBIC
//! ioctls of tty_ioctl(4).
//!
//! Not every device has them. A Linux PTY answers these ioctls with ENOTTY
//! (the pty driver has no tiocmget/tiocmset operations), and some USB
//! adapters answer EINVAL; both become [`LinesError::Unsupported`] so that
//! the caller can say so once and fall back to result codes and LCP echo
//! instead of failing the call.
//!
//! Hand-written rather than serialport's `SerialPort` calls, because the
//! crate's errors keep a message and not the errno, so ENOTTY could not be
//! told from EIO, and they need a `TTYPort` where these serve any
//! descriptor (a File, a PTY master, the simulator's fds).

use std::io;
use std::ops::BitOr;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::libc;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum LinesError {
    #[error("this device has no modem control lines (a PTY, or a port without them)")]
    Unsupported,
    #[error("modem control lines: {0}")]
    Io(#[source] io::Error),
}

impl LinesError {
    pub(crate) fn from_errno(e: Errno) -> LinesError {
        match e {
            Errno::ENOTTY | Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP => {
                LinesError::Unsupported
            }
            other => LinesError::Io(other.into()),
        }
    }
}

/// The input circuits as last read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InputCircuits {
    /// Data Carrier Detect (V.24 circuit 109): a call is up.
    pub dcd: bool,
    /// Ring Indicator (circuit 125).
    pub ri: bool,
    /// Data Set Ready (circuit 107): the modem is powered and ready.
    pub dsr: bool,
    /// Clear To Send (circuit 106).
    pub cts: bool,
}

impl InputCircuits {
    fn from_bits(bits: libc::c_int) -> InputCircuits {
        InputCircuits {
            dcd: bits & libc::TIOCM_CAR != 0,
            ri: bits & libc::TIOCM_RNG != 0,
            dsr: bits & libc::TIOCM_DSR != 0,
            cts: bits & libc::TIOCM_CTS != 0,
        }
    }
}

/// Which input lines a wait watches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineMask {
    pub dcd: bool,
    pub ri: bool,
    pub dsr: bool,
    pub cts: bool,
}

impl LineMask {
    pub const DCD: LineMask = LineMask {
        dcd: true,
        ri: false,
        dsr: false,
        cts: false,
    };
    pub const RI: LineMask = LineMask {
        dcd: false,
        ri: true,
        dsr: false,
        cts: false,
    };
    pub const DSR: LineMask = LineMask {
        dcd: false,
        ri: false,
        dsr: true,
        cts: false,
    };
    pub const CTS: LineMask = LineMask {
        dcd: false,
        ri: false,
        dsr: false,
        cts: true,
    };

    pub(crate) fn bits(self) -> libc::c_int {
        [
            (self.dcd, libc::TIOCM_CAR),
            (self.ri, libc::TIOCM_RNG),
            (self.dsr, libc::TIOCM_DSR),
            (self.cts, libc::TIOCM_CTS),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .fold(0, |acc, (_, bit)| acc | bit)
    }
}

impl BitOr for LineMask {
    type Output = LineMask;
    fn bitor(self, o: LineMask) -> LineMask {
        LineMask {
            dcd: self.dcd || o.dcd,
            ri: self.ri || o.ri,
            dsr: self.dsr || o.dsr,
            cts: self.cts || o.cts,
        }
    }
}

pub trait ModemLines {
    /// Raises (true) or drops (false) Data Terminal Ready.
    fn set_dtr(&self, on: bool) -> Result<(), LinesError>;
    /// Raises or drops Request To Send.
    fn set_rts(&self, on: bool) -> Result<(), LinesError>;
    fn get(&self) -> Result<InputCircuits, LinesError>;
    /// Blocks until one of `mask`'s lines changes (Ok(true)) or `timeout`
    /// passes (Ok(false)), through TIOCMIWAIT where the device has it
    /// (see the `miwait` module); then read the lines with `get`.
    /// Unsupported (the default, and a PTY's answer) means: poll `get`.
    fn wait_change(&self, mask: LineMask, timeout: Duration) -> Result<bool, LinesError> {
        let _ = (mask, timeout);
        Err(LinesError::Unsupported)
    }
}

// The "bad" variants because these request numbers predate the _IOR/_IOW
// encoding: they are plain constants in asm-generic/ioctls.h.
nix::ioctl_read_bad!(tiocmget, libc::TIOCMGET, libc::c_int);
nix::ioctl_write_ptr_bad!(tiocmbis, libc::TIOCMBIS, libc::c_int);
nix::ioctl_write_ptr_bad!(tiocmbic, libc::TIOCMBIC, libc::c_int);

fn get_bits(fd: RawFd) -> Result<libc::c_int, LinesError> {
    let mut bits: libc::c_int = 0;
    // SAFETY: `fd` is borrowed from a live owner for the duration of the
    // call (every caller passes `self.as_raw_fd()`), and TIOCMGET writes
    // exactly one c_int through the pointer, which points at `bits`.
    unsafe { tiocmget(fd, &mut bits) }.map_err(LinesError::from_errno)?;
    Ok(bits)
}

fn change_bits(fd: RawFd, bits: libc::c_int, on: bool) -> Result<(), LinesError> {
    // SAFETY: as in get_bits, `fd` is open for the duration of the call;
    // TIOCMBIS/TIOCMBIC read one c_int through the pointer, which points
    // at `bits` on our stack.
    let r = unsafe {
        if on {
            tiocmbis(fd, &bits)
        } else {
            tiocmbic(fd, &bits)
        }
    };
    r.map(|_| ()).map_err(LinesError::from_errno)
}

/// Raises or drops DTR on whatever file descriptor `fd` refers to.
pub fn fd_set_dtr(fd: BorrowedFd<'_>, on: bool) -> Result<(), LinesError> {
    change_bits(fd.as_raw_fd(), libc::TIOCM_DTR, on)
}

/// Raises or drops RTS likewise.
pub fn fd_set_rts(fd: BorrowedFd<'_>, on: bool) -> Result<(), LinesError> {
    change_bits(fd.as_raw_fd(), libc::TIOCM_RTS, on)
}

/// The control lines of whatever file descriptor `fd` refers to.
pub fn fd_get(fd: BorrowedFd<'_>) -> Result<InputCircuits, LinesError> {
    get_bits(fd.as_raw_fd()).map(InputCircuits::from_bits)
}

/// Raises DTR again when dropped, so that a hang-up interrupted half way
/// (an error, a cancelled future) does not leave the modem deaf: with
/// AT&D2 a modem ignores commands while DTR is low.
struct RaiseDtrOnDrop<'a, L: ModemLines + ?Sized>(&'a L);

impl<L: ModemLines + ?Sized> Drop for RaiseDtrOnDrop<'_, L> {
    fn drop(&mut self) {
        if let Err(e) = self.0.set_dtr(true) {
            tracing::debug!(error = %e, "could not raise DTR after hang-up");
        }
    }
}

/// Hangs up by dropping DTR for `duration` and raising it again (the
/// modem must be set to hang up on DTR loss, AT&D2, which is the factory
/// default of most). Blocks the thread; see [`hangup_by_dtr_async`].
pub fn hangup_by_dtr<L: ModemLines + ?Sized>(
    lines: &L,
    duration: Duration,
) -> Result<(), LinesError> {
    lines.set_dtr(false)?;
    let _raise = RaiseDtrOnDrop(lines);
    std::thread::sleep(duration);
    Ok(())
}

/// [`hangup_by_dtr`] without blocking the runtime. DTR comes back up even
/// if the future is dropped before it completes.
pub async fn hangup_by_dtr_async<L: ModemLines + ?Sized>(
    lines: &L,
    duration: Duration,
) -> Result<(), LinesError> {
    lines.set_dtr(false)?;
    let _raise = RaiseDtrOnDrop(lines);
    tokio::time::sleep(duration).await;
    Ok(())
}

/// Sends a break (tcsendbreak(3), 0.25 to 0.5 s of continuous space), as
/// chat's `\K` does. Not serialport's `send_break`: that one is the same
/// tcsendbreak, but only on a `TTYPort` and without the errno.
pub fn send_break<F: AsRawFd + ?Sized>(port: &F) -> Result<(), LinesError> {
    // SAFETY: the descriptor is borrowed from `port`, which outlives this
    // call.
    let fd = unsafe { BorrowedFd::borrow_raw(port.as_raw_fd()) };
    nix::sys::termios::tcsendbreak(fd, 0).map_err(LinesError::from_errno)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::pty::openpty;
    use std::fs::File;
    use std::os::fd::AsFd;

    #[test]
    fn pty_answers_unsupported_not_panic() {
        let pair = openpty(None, None).unwrap();
        let master = File::from(pair.master);
        let slave = File::from(pair.slave);
        for f in [&master, &slave] {
            assert!(matches!(f.get(), Err(LinesError::Unsupported)));
            assert!(matches!(f.set_dtr(true), Err(LinesError::Unsupported)));
            assert!(matches!(f.set_dtr(false), Err(LinesError::Unsupported)));
            assert!(matches!(f.set_rts(true), Err(LinesError::Unsupported)));
            assert!(matches!(fd_get(f.as_fd()), Err(LinesError::Unsupported)));
            let w = f.wait_change(LineMask::DCD, Duration::from_secs(5));
            assert!(matches!(w, Err(LinesError::Unsupported)));
        }
        let err = hangup_by_dtr(&master, Duration::from_millis(1)).unwrap_err();
        assert!(matches!(err, LinesError::Unsupported));
        assert!(err.to_string().contains("no modem control lines"));
    }

    #[test]
    fn regular_file_is_unsupported_too() {
        // Not a tty at all: ENOTTY as well.
        let f = tempfile::tempfile().unwrap();
        assert!(matches!(f.get(), Err(LinesError::Unsupported)));
    }

    #[test]
    fn bits_decode() {
        let l = InputCircuits::from_bits(libc::TIOCM_CAR | libc::TIOCM_CTS);
        assert_eq!(
            l,
            InputCircuits {
                dcd: true,
                ri: false,
                dsr: false,
                cts: true
            }
        );
        assert_eq!(
            InputCircuits::from_bits(libc::TIOCM_RNG | libc::TIOCM_DSR),
            InputCircuits {
                dcd: false,
                ri: true,
                dsr: true,
                cts: false
            }
        );
    }

    /// A fake port that records what was done, to check the hang-up
    /// sequence and that DTR comes back up.
    struct Recorder(std::sync::Mutex<Vec<bool>>);
    impl ModemLines for Recorder {
        fn set_dtr(&self, on: bool) -> Result<(), LinesError> {
            self.0.lock().unwrap().push(on);
            Ok(())
        }
        fn set_rts(&self, _on: bool) -> Result<(), LinesError> {
            Ok(())
        }
        fn get(&self) -> Result<InputCircuits, LinesError> {
            Ok(InputCircuits::default())
        }
    }

    #[test]
    fn hangup_drops_then_raises_dtr() {
        let r = Recorder(Default::default());
        hangup_by_dtr(&r, Duration::from_millis(5)).unwrap();
        assert_eq!(*r.0.lock().unwrap(), vec![false, true]);
    }

    #[tokio::test]
    async fn cancelled_async_hangup_still_raises_dtr() {
        let r = Recorder(Default::default());
        let fut = hangup_by_dtr_async(&r, Duration::from_secs(60));
        let _ = tokio::time::timeout(Duration::from_millis(10), fut).await;
        assert_eq!(*r.0.lock().unwrap(), vec![false, true]);
    }
}
