//! A serial device (or a PTY standing in for one) in raw mode.
//!
//! A device opened by path is opened and configured by serialport's
//! `TTYPort`: exclusive (TIOCEXCL plus an exclusive flock), raw 8N1, any
//! rate through termios2's BOTHER. Reads and writes go straight to its
//! descriptor, registered with tokio's AsyncFd: the crate's own Read polls
//! with a timeout (it would block the runtime), and tokio-serial's stream
//! wants `&mut self` where `AsyncTty` is shared by reference. What the
//! crates do not do stays here: saving and restoring the settings the line
//! had, and raw mode for a descriptor handed in already open.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use std::mem::MaybeUninit;

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::libc;
use nix::sys::termios::{self, BaudRate, ControlFlags, SetArg, SpecialCharacterIndices, Termios};
use serialport::SerialPort;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use thiserror::Error;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::lines::{self, InputCircuits, LineMask, LinesError, ModemLines};
use crate::miwait;

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
    fd: Handle,
    /// `fd`'s descriptor, read without the lock a [`Handle::Port`] needs.
    raw: RawFd,
    path: PathBuf,
    /// The settings to restore; in a Mutex only because nix's Termios is
    /// not Sync.
    saved: Mutex<Termios>,
}

/// What owns a [`Tty`]'s descriptor.
#[derive(Debug)]
enum Handle {
    /// Opened by path through serialport: exclusive (TIOCEXCL and an
    /// exclusive flock, which the crate drops on close). In a Mutex because
    /// the crate's setters take `&mut self`.
    Port(Mutex<serialport::TTYPort>),
    /// Handed in already open (a PTY's master or held slave). Never made
    /// exclusive: `Pty` holds its slave open, and a flock on that would
    /// keep the program that opens the slave by path out.
    File(File),
}

/// Common line speeds, bit/s: the rates a detector tries and a profile
/// names. Any other rate can be set too (termios2's BOTHER, through
/// serialport), as long as the driver can make it.
pub const STANDARD_SPEEDS: [u32; 11] = [
    1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600,
];

/// How far a driver may round a requested rate (a UART's divisor) before
/// we call the rate unsupported: 2%, well inside what async framing
/// tolerates.
const SPEED_TOLERANCE_PERCENT: u64 = 2;

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

impl From<Flow> for serialport::FlowControl {
    fn from(f: Flow) -> Self {
        match f {
            Flow::None => serialport::FlowControl::None,
            Flow::RtsCts => serialport::FlowControl::Hardware,
            Flow::XonXoff => serialport::FlowControl::Software,
        }
    }
}

// Linux's termios2 (asm-generic/termbits.h), which carries the speed as a
// number: read back for a descriptor the crate does not own, and before
// the crate opens a port (it needs a rate, and "the one it has" is ours).
nix::ioctl_read!(tcgets2, b'T', 0x2A, libc::termios2);

fn current_speed(fd: RawFd) -> Option<u32> {
    let mut t = MaybeUninit::<libc::termios2>::zeroed();
    // SAFETY: `fd` is open for the call (callers pass a descriptor they
    // own), and TCGETS2 writes one termios2 into the zeroed buffer.
    unsafe { tcgets2(fd, t.as_mut_ptr()) }.ok()?;
    // SAFETY: zeroed is a valid termios2 (plain integers), and the ioctl
    // succeeded.
    let t = unsafe { t.assume_init() };
    (t.c_ospeed != 0).then_some(t.c_ospeed)
}

/// A message for a port someone else holds exclusively.
fn busy(path: &Path, detail: &str) -> HwError {
    HwError::Open {
        path: path.to_path_buf(),
        source: io::Error::other(format!(
            "in use: another program has it open exclusively ({detail})"
        )),
    }
}

impl Tty {
    /// The line's output speed now, bit/s (pppd's `baud_rate`, passed to
    /// its scripts as SPEED): any rate, not only the standard ones.
    pub fn speed(&self) -> Option<u32> {
        match &self.fd {
            Handle::Port(p) => lock(p).baud_rate().ok().filter(|&s| s != 0),
            Handle::File(_) => current_speed(self.raw),
        }
    }

    /// Sets the flow control; the rest of the raw settings stay.
    pub fn set_flow(&self, flow: Flow) -> Result<(), HwError> {
        let err = |source| HwError::Settings {
            path: self.path.clone(),
            source,
        };
        match &self.fd {
            Handle::Port(p) => lock(p)
                .set_flow_control(flow.into())
                .map_err(|e| err(nix_errno(&e))),
            Handle::File(f) => {
                let mut t = termios::tcgetattr(f.as_fd()).map_err(err)?;
                t.control_flags
                    .set(ControlFlags::CRTSCTS, flow == Flow::RtsCts);
                let soft = termios::InputFlags::IXON | termios::InputFlags::IXOFF;
                t.input_flags.set(soft, flow == Flow::XonXoff);
                termios::tcsetattr(f.as_fd(), SetArg::TCSANOW, &t).map_err(err)
            }
        }
    }

    /// Opens `path` through serialport: without making it our controlling
    /// terminal, exclusively (TIOCEXCL and flock; a second open fails, but
    /// TIOCEXCL does not stop root), 8N1 raw with CLOCAL and CREAD, no flow
    /// control, at `speed` (any rate the driver can make; `None` keeps the
    /// line's). HUPCL stays as it was. Non-blocking, for tokio.
    pub fn open(path: &Path, speed: Option<u32>) -> Result<Tty, HwError> {
        let open_err = |source| HwError::Open {
            path: path.to_path_buf(),
            source,
        };
        // serialport makes the line raw before anything can read what it
        // was, so a first descriptor reads the settings to restore (and the
        // current speed). It stays open until the port is, so that closing
        // it is not the last close (which would drop DTR under HUPCL).
        let probe = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                // TIOCEXCL set by another opener (root is let through).
                Some(libc::EBUSY) => busy(path, "TIOCEXCL"),
                _ => open_err(e),
            })?;
        let saved = termios::tcgetattr(probe.as_fd()).map_err(|source| HwError::NotATty {
            path: path.to_path_buf(),
            source,
        })?;
        let rate = match speed {
            Some(s) => s,
            None => current_speed(probe.as_raw_fd()).unwrap_or(9600),
        };
        if rate == 0 {
            // B0 means "hang up", not a speed.
            return Err(HwError::Speed {
                path: path.to_path_buf(),
                speed: 0,
            });
        }
        let name = path.to_str().ok_or_else(|| {
            open_err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "serialport needs a UTF-8 device path",
            ))
        })?;
        let builder = serialport::new(name, rate)
            .data_bits(serialport::DataBits::Eight)
            .parity(serialport::Parity::None)
            .stop_bits(serialport::StopBits::One)
            .flow_control(serialport::FlowControl::None)
            .exclusive(true);
        let port = serialport::TTYPort::open(&builder).map_err(|e| match e.kind {
            // EBUSY from TIOCEXCL, or the exclusive flock another holds.
            serialport::ErrorKind::NoDevice => busy(path, &e.description),
            _ => open_err(e.into()),
        })?;
        drop(probe);
        let raw = port.as_raw_fd();
        // The crate leaves the descriptor blocking; tokio needs it not.
        let set_err = |source| HwError::Settings {
            path: path.to_path_buf(),
            source,
        };
        let flags = fcntl(raw, FcntlArg::F_GETFL).map_err(set_err)?;
        fcntl(
            raw,
            FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
        )
        .map_err(set_err)?;
        let tty = Tty {
            fd: Handle::Port(Mutex::new(port)),
            raw,
            path: path.to_path_buf(),
            saved: Mutex::new(saved),
        };
        // A driver that cannot make the rate rounds it, or keeps the old
        // one: say so rather than talk at the wrong speed.
        if let Some(want) = speed {
            let got = tty.speed().unwrap_or(0);
            if u64::from(want.abs_diff(got)) * 100 > u64::from(want) * SPEED_TOLERANCE_PERCENT {
                return Err(HwError::Speed {
                    path: path.to_path_buf(),
                    speed: want,
                });
            }
        }
        Ok(tty)
    }

    /// Puts an already open tty (a PTY master, say) into raw mode. By hand:
    /// serialport configures only what it opens by path, and its FromRawFd
    /// would take a flock that keeps the slave's real opener out.
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
            let b = standard_baud(s).ok_or(HwError::Speed {
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
            raw: file.as_raw_fd(),
            fd: Handle::File(file),
            path: path.to_path_buf(),
            saved: Mutex::new(saved),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether `open` made this port exclusive (TIOCEXCL and flock).
    pub fn is_exclusive(&self) -> bool {
        match &self.fd {
            Handle::Port(p) => lock(p).exclusive(),
            Handle::File(_) => false,
        }
    }

    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        nix::unistd::read(self.raw, buf).map_err(io::Error::from)
    }

    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        nix::unistd::write(self.as_fd(), buf).map_err(io::Error::from)
    }
}

impl AsFd for Tty {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.fd {
            // SAFETY: the TTYPort owns `raw` and lives as long as `self`,
            // which the borrow is tied to.
            Handle::Port(_) => unsafe { BorrowedFd::borrow_raw(self.raw) },
            Handle::File(f) => f.as_fd(),
        }
    }
}

/// The crate's port; a poisoned lock still holds a usable port.
fn lock(p: &Mutex<serialport::TTYPort>) -> std::sync::MutexGuard<'_, serialport::TTYPort> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

/// serialport's errors keep the message, not the errno; errno is good
/// enough for HwError::Settings's `source` only as "some I/O error".
fn nix_errno(e: &serialport::Error) -> nix::Error {
    match e.kind {
        serialport::ErrorKind::Io(io::ErrorKind::PermissionDenied) => nix::Error::EACCES,
        serialport::ErrorKind::InvalidInput => nix::Error::EINVAL,
        _ => nix::Error::EIO,
    }
}

/// The rates `from_file` can set with plain termios.
fn standard_baud(speed: u32) -> Option<BaudRate> {
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

impl Drop for Tty {
    /// Neither serialport nor tokio-serial restores the settings a port had
    /// before it was opened, so we do, before the crate closes it.
    fn drop(&mut self) {
        // TCSANOW, not TCSADRAIN: a modem that stopped reading must not
        // hold us forever.
        let saved = self.saved.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = termios::tcsetattr(self.as_fd(), SetArg::TCSANOW, &saved) {
            tracing::debug!(path = %self.path.display(), error = %e, "could not restore tty settings");
        }
    }
}

impl AsRawFd for Tty {
    fn as_raw_fd(&self) -> RawFd {
        self.raw
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
        self.inner.get_ref().as_fd()
    }
}

/// Whether an error from a tty means the line is gone (hangup, device
/// unplugged, far end of a PTY closed) rather than a passing condition.
pub fn is_hangup(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EIO) | Some(libc::ENXIO) | Some(libc::ENODEV)
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

    /// Waits until one of `mask`'s lines changes (Ok(true)) or `timeout`
    /// passes (Ok(false)), through TIOCMIWAIT in a thread of its own (see
    /// [`crate::miwait`]); dropping the future ends that thread. On a PTY,
    /// or a driver without TIOCMIWAIT, Unsupported: poll `get` then.
    pub async fn wait_for_change(
        &self,
        mask: LineMask,
        timeout: Duration,
    ) -> Result<bool, LinesError> {
        miwait::wait_for_change(self.as_fd(), mask, timeout).await
    }

    /// Reads what is there; 0 means end of file (the line is gone).
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.inner.readable().await?;
            match guard.try_io(|inner| inner.get_ref().read(buf)) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }

    pub async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let mut guard = self.inner.writable().await?;
            match guard.try_io(|inner| inner.get_ref().write(buf)) {
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
            match guard.try_io(|inner| inner.get_ref().read(unfilled)) {
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
            match guard.try_io(|inner| inner.get_ref().write(buf)) {
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

/// The control lines of a port, and TIOCMIWAIT for waiting on them, for
/// every descriptor that may be a tty. Here rather than in
/// [`crate::lines`], which knows neither ports nor waiting threads.
macro_rules! impl_modem_lines {
    ($($ty:ty),*) => {$(
        impl ModemLines for $ty {
            fn set_dtr(&self, on: bool) -> Result<(), LinesError> {
                lines::fd_set_dtr(self.as_fd(), on)
            }
            fn set_rts(&self, on: bool) -> Result<(), LinesError> {
                lines::fd_set_rts(self.as_fd(), on)
            }
            fn get(&self) -> Result<InputCircuits, LinesError> {
                lines::fd_get(self.as_fd())
            }
            fn wait_change(&self, mask: LineMask, timeout: Duration) -> Result<bool, LinesError> {
                miwait::fd_wait_change(self.as_fd(), mask, timeout)
            }
        }
    )*};
}

impl_modem_lines!(Tty, AsyncTty, File, BorrowedFd<'_>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pty::Pty;

    #[tokio::test]
    async fn async_pty_answers_unsupported() {
        let pty = Pty::open().unwrap();
        assert!(matches!(pty.master.get(), Err(LinesError::Unsupported)));
        let r = lines::hangup_by_dtr_async(&pty.master, Duration::from_millis(1)).await;
        assert!(matches!(r, Err(LinesError::Unsupported)));
    }

    #[tokio::test]
    async fn any_rate_on_a_pty_slave_and_data_flows() {
        let pty = Pty::open().unwrap();
        for rate in [250_000, 3_000_000, 115_200, 1_234_567] {
            let tty = AsyncTty::open(pty.slave_path(), Some(rate)).unwrap();
            assert_eq!(tty.speed(), Some(rate));
            assert!(tty.is_pty());
            assert!(tty.inner.get_ref().is_exclusive());
        }
        let tty = AsyncTty::open(pty.slave_path(), None).unwrap();
        tty.write_all(b"AT\r").await.unwrap();
        let mut buf = [0u8; 8];
        let n = pty.master.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"AT\r");
        pty.master.write_all(b"OK").await.unwrap();
        let n = tty.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"OK");
    }

    #[tokio::test]
    async fn open_sets_raw_8n1_and_drop_restores() {
        let pty = Pty::open().unwrap();
        let path = pty.slave_path();
        // Cooked, 7E1, as a previous user might have left it.
        let other = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(path)
            .unwrap();
        let mut cooked = termios::tcgetattr(other.as_fd()).unwrap();
        cooked.local_flags |= termios::LocalFlags::ICANON | termios::LocalFlags::ECHO;
        cooked.control_flags &= !ControlFlags::CSIZE;
        cooked.control_flags |= ControlFlags::CS7 | ControlFlags::PARENB | ControlFlags::HUPCL;
        termios::tcsetattr(other.as_fd(), SetArg::TCSANOW, &cooked).unwrap();
        let before = termios::tcgetattr(other.as_fd()).unwrap();
        {
            let tty = Tty::open(path, Some(57_600)).unwrap();
            tty.set_flow(Flow::RtsCts).unwrap();
            let t = termios::tcgetattr(other.as_fd()).unwrap();
            assert!(!t.local_flags.contains(termios::LocalFlags::ICANON));
            assert!(!t.local_flags.contains(termios::LocalFlags::ECHO));
            assert!(t.control_flags.contains(ControlFlags::CS8));
            assert!(!t.control_flags.contains(ControlFlags::PARENB));
            assert!(!t.control_flags.contains(ControlFlags::CSTOPB));
            assert!(t
                .control_flags
                .contains(ControlFlags::CLOCAL | ControlFlags::CREAD));
            assert!(
                t.control_flags.contains(ControlFlags::HUPCL),
                "HUPCL is left as it was"
            );
            assert!(t.control_flags.contains(ControlFlags::CRTSCTS));
            tty.set_flow(Flow::XonXoff).unwrap();
            let t = termios::tcgetattr(other.as_fd()).unwrap();
            assert!(!t.control_flags.contains(ControlFlags::CRTSCTS));
            assert!(t
                .input_flags
                .contains(termios::InputFlags::IXON | termios::InputFlags::IXOFF));
        }
        let after = termios::tcgetattr(other.as_fd()).unwrap();
        assert_eq!(after.local_flags, before.local_flags);
        assert_eq!(after.control_flags, before.control_flags);
        assert_eq!(after.input_flags, before.input_flags);
    }

    /// TIOCEXCL does not stop root (CAP_SYS_ADMIN), which the tests run
    /// as; the exclusive flock serialport takes beside it does, so a second
    /// open fails either way, and works again once the first is closed.
    #[tokio::test]
    async fn second_open_of_the_same_port_fails_clearly() {
        let pty = Pty::open().unwrap();
        let first = Tty::open(pty.slave_path(), None).unwrap();
        let err = Tty::open(pty.slave_path(), None).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, HwError::Open { .. }), "{err:?}");
        assert!(msg.contains("in use"), "{msg}");
        assert!(
            msg.contains(&pty.slave_path().display().to_string()),
            "{msg}"
        );
        drop(first);
        Tty::open(pty.slave_path(), None).unwrap();
    }

    #[test]
    fn open_errors_keep_their_errno() {
        let err = Tty::open(Path::new("/nonexistent/ttyUSB9"), None).unwrap_err();
        match err {
            HwError::Open { source, .. } => assert_eq!(source.raw_os_error(), Some(libc::ENOENT)),
            other => panic!("{other:?}"),
        }
        let f = tempfile::NamedTempFile::new().unwrap();
        assert!(matches!(
            Tty::open(f.path(), None),
            Err(HwError::NotATty { .. })
        ));
    }
}
