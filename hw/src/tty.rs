//! A serial device (or a PTY standing in for one) in raw mode.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::sys::termios::{self, BaudRate, ControlFlags, SetArg, SpecialCharacterIndices, Termios};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use thiserror::Error;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[derive(Debug, Error)]
pub enum HwError {
    #[error("{path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("{path}: not a terminal device ({source})")]
    NotATty { path: PathBuf, source: nix::Error },
    #[error("{path}: cannot set line settings: {source}")]
    Settings { path: PathBuf, source: nix::Error },
    #[error("{path}: unsupported speed {speed}")]
    Speed { path: PathBuf, speed: u32 },
}

/// An open tty in raw mode; dropping it restores the settings it had.
#[derive(Debug)]
pub struct Tty {
    file: File,
    path: PathBuf,
    /// The settings to restore; in a Mutex only because nix's Termios is
    /// not Sync.
    saved: Mutex<Termios>,
}

/// The line speeds a port can be set to, bit/s.
pub const STANDARD_SPEEDS: [u32; 11] = [
    1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600,
];

fn baud(speed: u32) -> Option<BaudRate> {
    Some(match speed {
        1200 => BaudRate::B1200,
        2400 => BaudRate::B2400,
        4800 => BaudRate::B4800,
        9600 => BaudRate::B9600,
        19200 => BaudRate::B19200,
        38400 => BaudRate::B38400,
        57600 => BaudRate::B57600,
        115200 => BaudRate::B115200,
        230400 => BaudRate::B230400,
        460800 => BaudRate::B460800,
        921600 => BaudRate::B921600,
        _ => return None,
    })
}

/// Every rate termios names, for reading a line's speed back.
fn baud_any(speed: u32) -> Option<BaudRate> {
    Some(match speed {
        50 => BaudRate::B50,
        75 => BaudRate::B75,
        110 => BaudRate::B110,
        134 => BaudRate::B134,
        150 => BaudRate::B150,
        200 => BaudRate::B200,
        300 => BaudRate::B300,
        600 => BaudRate::B600,
        1800 => BaudRate::B1800,
        s => return baud(s),
    })
}

/// Flow control on a serial line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Flow {
    /// None (pppd's `nocrtscts`): what a PTY or a 3-wire cable needs.
    #[default]
    None,
    /// Hardware, RTS/CTS (pppd's `crtscts`): what a modem wants.
    RtsCts,
    /// Software, XON/XOFF (pppd's `xonxoff`): DC1/DC3 then must be escaped
    /// by PPP's ACCM.
    XonXoff,
}

impl Tty {
    /// The line's output speed now, bit/s, when it is a standard rate
    /// (pppd's `baud_rate`, passed to its scripts as SPEED).
    pub fn speed(&self) -> Option<u32> {
        let t = termios::tcgetattr(self.file.as_fd()).ok()?;
        let b = termios::cfgetospeed(&t);
        [50u32, 75, 110, 134, 150, 200, 300, 600, 1800]
            .into_iter()
            .chain(STANDARD_SPEEDS)
            .find(|s| baud_any(*s) == Some(b))
    }

    /// Sets the flow control; the rest of the raw settings stay.
    pub fn set_flow(&self, flow: Flow) -> Result<(), HwError> {
        let err = |source| HwError::Settings {
            path: self.path.clone(),
            source,
        };
        let mut t = termios::tcgetattr(self.file.as_fd()).map_err(err)?;
        t.control_flags
            .set(ControlFlags::CRTSCTS, flow == Flow::RtsCts);
        let soft = termios::InputFlags::IXON | termios::InputFlags::IXOFF;
        t.input_flags.set(soft, flow == Flow::XonXoff);
        termios::tcsetattr(self.file.as_fd(), SetArg::TCSANOW, &t).map_err(err)
    }

    /// Opens `path` without making it our controlling terminal, non-blocking,
    /// and sets 8N1 raw mode with CLOCAL (pppd's settings for a local line).
    pub fn open(path: &Path, speed: Option<u32>) -> Result<Tty, HwError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(nix::libc::O_NOCTTY | nix::libc::O_NONBLOCK)
            .open(path)
            .map_err(|source| HwError::Open {
                path: path.to_path_buf(),
                source,
            })?;
        Tty::from_file(file, path.to_path_buf(), speed)
    }

    /// Puts an already open tty (a PTY master, say) into raw mode.
    pub fn from_file(file: File, path: PathBuf, speed: Option<u32>) -> Result<Tty, HwError> {
        let path = path.as_path();
        let saved = termios::tcgetattr(file.as_fd()).map_err(|source| HwError::NotATty {
            path: path.to_path_buf(),
            source,
        })?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        raw.control_flags |= ControlFlags::CLOCAL | ControlFlags::CREAD | ControlFlags::CS8;
        raw.control_flags &= !(ControlFlags::CSTOPB | ControlFlags::PARENB | ControlFlags::CRTSCTS);
        raw.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
        raw.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
        if let Some(s) = speed {
            let b = baud(s).ok_or(HwError::Speed {
                path: path.to_path_buf(),
                speed: s,
            })?;
            termios::cfsetspeed(&mut raw, b).map_err(|source| HwError::Settings {
                path: path.to_path_buf(),
                source,
            })?;
        }
        termios::tcsetattr(file.as_fd(), SetArg::TCSANOW, &raw).map_err(|source| {
            HwError::Settings {
                path: path.to_path_buf(),
                source,
            }
        })?;
        Ok(Tty {
            file,
            path: path.to_path_buf(),
            saved: Mutex::new(saved),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Tty {
    fn drop(&mut self) {
        // TCSANOW, not TCSADRAIN: a modem that stopped reading must not
        // hold us forever.
        let saved = self.saved.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = termios::tcsetattr(self.file.as_fd(), SetArg::TCSANOW, saved) {
            tracing::debug!(path = %self.path.display(), error = %e, "could not restore tty settings");
        }
    }
}

impl AsRawFd for Tty {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

/// A [`Tty`] registered with tokio.
#[derive(Debug)]
pub struct AsyncTty {
    inner: AsyncFd<Tty>,
}

impl AsRawFd for AsyncTty {
    /// For ioctls on the port (control lines, break); reads and writes go
    /// through the methods, which keep tokio's readiness state right.
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl AsFd for AsyncTty {
    /// Borrowed for ioctls and for a duplicate that watches the lines.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.get_ref().file.as_fd()
    }
}

/// Whether an error from a tty means the line is gone (hangup, device
/// unplugged, far end of a PTY closed) rather than a passing condition.
pub fn is_hangup(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(nix::libc::EIO) | Some(nix::libc::ENXIO) | Some(nix::libc::ENODEV)
    )
}

impl AsyncTty {
    pub fn open(path: &Path, speed: Option<u32>) -> Result<AsyncTty, HwError> {
        Self::new(Tty::open(path, speed)?)
    }

    pub fn new(tty: Tty) -> Result<AsyncTty, HwError> {
        let path = tty.path.clone();
        // SAFETY: the descriptor belongs to the File inside `tty`, which the
        // AsyncFd owns from here on: it stays open exactly as long as the
        // registration does.
        let inner = unsafe { AsyncFd::register(tty) }.map_err(|e| HwError::Open {
            path: path.to_path_buf(),
            source: e.into_parts().1,
        })?;
        Ok(AsyncTty { inner })
    }

    pub fn path(&self) -> &Path {
        self.inner.get_ref().path()
    }

    pub fn set_flow(&self, flow: Flow) -> Result<(), HwError> {
        self.inner.get_ref().set_flow(flow)
    }

    pub fn speed(&self) -> Option<u32> {
        self.inner.get_ref().speed()
    }

    /// Whether this is the slave side of a pseudo-terminal (Unix98 PTY
    /// slaves are character majors 136-143, Documentation/admin-guide/
    /// devices.txt): no modem control lines of its own, and never a real
    /// serial port.
    pub fn is_pty(&self) -> bool {
        nix::sys::stat::fstat(self.as_raw_fd()).is_ok_and(|st| {
            let major = nix::sys::stat::major(st.st_rdev);
            (136..=143).contains(&major)
        })
    }

    /// Reads what is there; 0 means end of file (the line is gone).
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.inner.readable().await?;
            match guard.try_io(|inner| (&inner.get_ref().file).read(buf)) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }

    pub async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let mut guard = self.inner.writable().await?;
            match guard.try_io(|inner| (&inner.get_ref().file).write(buf)) {
                Ok(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(Ok(n)) => buf = &buf[n..],
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
        Ok(())
    }
}

impl AsyncRead for AsyncTty {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.inner.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.try_io(|inner| (&inner.get_ref().file).read(unfilled)) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for AsyncTty {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.inner.poll_write_ready(cx))?;
            match guard.try_io(|inner| (&inner.get_ref().file).write(buf)) {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Writes go straight to the tty; there is nothing buffered here.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
