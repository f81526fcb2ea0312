//! Waiting for the input lines to change without polling: TIOCMIWAIT
//! (tty_ioctl(4)) blocks until one of the lines asked for changes, so that
//! a dropped carrier or a ring is seen at once instead of on the next tick.
//!
//! The ioctl cannot time out and has no non-blocking form, so it runs in a
//! thread of its own on a duplicate of the port's descriptor. That thread
//! must not outlive the wait: the duplicate keeps the port open (its
//! exclusive flock held, and no last close, so no HUPCL), and on an 8250
//! UART neither closing the port nor hanging it up wakes TIOCMIWAIT (USB
//! serial and cdc-acm do wake it, with EIO, on unplug). So when a wait
//! times out or is cancelled, the thread is woken with a signal (SIGURG,
//! whose default is to be ignored; our handler does nothing and has no
//! SA_RESTART, so the ioctl returns EINTR) and joined before the call
//! returns. The handler is installed on first use, and only if nothing
//! else handles SIGURG; otherwise waiting answers Unsupported and the
//! caller polls as before.
//!
//! A PTY has no such ioctl (ENOTTY) and neither do some USB adapters
//! (EINVAL): both are [`LinesError::Unsupported`], found out without a
//! thread because TIOCMGET fails the same way first.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::thread::JoinHandleExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::libc;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

pub use crate::lines::LineMask;
use crate::lines::LinesError;

// The "bad" variant: TIOCMIWAIT is a plain constant, its argument the mask
// itself (not a pointer).
nix::ioctl_write_int_bad!(tiocmiwait, libc::TIOCMIWAIT);

/// The signal that wakes a waiting thread.
const WAKE: Signal = Signal::SIGURG;

/// How long a cancelled wait keeps signalling its thread before leaving it
/// (only if someone replaced our handler with a restarting one).
const KICK_FOR: Duration = Duration::from_millis(50);

/// Installs the do-nothing SIGURG handler once; false if another handler
/// is there (we put it back and do not wait).
fn wake_signal_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        extern "C" fn wake(_: libc::c_int) {}
        let ours = SigAction::new(SigHandler::Handler(wake), SaFlags::empty(), SigSet::empty());
        // SAFETY: the handler does nothing, so it is async-signal-safe.
        // SIGURG's default is to be ignored; with the handler, a
        // process-directed SIGURG only makes a system call return EINTR,
        // which std and tokio retry.
        let Ok(old) = (unsafe { sigaction(WAKE, &ours) }) else {
            return false;
        };
        match old.handler() {
            SigHandler::SigDfl | SigHandler::SigIgn => true,
            _ => {
                // SAFETY: puts back the handler that was there, as it was.
                let _ = unsafe { sigaction(WAKE, &old) };
                tracing::debug!("SIGURG is handled elsewhere; not waiting on TIOCMIWAIT");
                false
            }
        }
    })
}

#[derive(Default)]
struct Shared {
    cancel: AtomicBool,
    /// Set once the thread has dropped what it waits on (the duplicate
    /// descriptor).
    done: AtomicBool,
}

/// A thread blocked in a call that a signal interrupts; dropping it wakes
/// the thread and joins it.
struct Waiter {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Waiter {
    /// Runs `wait` (blocking; EINTR when signalled) until it returns
    /// something other than EINTR or the waiter is dropped; `report` gets
    /// what it returned unless the waiter was dropped first.
    fn spawn<W, R>(mut wait: W, report: R) -> Result<Waiter, LinesError>
    where
        W: FnMut() -> nix::Result<()> + Send + 'static,
        R: FnOnce(Result<bool, LinesError>) + Send + 'static,
    {
        if !wake_signal_ready() {
            return Err(LinesError::Unsupported);
        }
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("carrier-miwait".into())
            .spawn(move || {
                // Inherited masks may block it; this thread must take it.
                let _ = SigSet::from(WAKE).thread_unblock();
                let result = loop {
                    if s.cancel.load(Ordering::SeqCst) {
                        break None;
                    }
                    match wait() {
                        Ok(()) => break Some(Ok(true)),
                        Err(Errno::EINTR) => continue,
                        Err(e) => break Some(Err(LinesError::from_errno(e))),
                    }
                };
                drop(wait);
                s.done.store(true, Ordering::SeqCst);
                if let Some(r) = result {
                    report(r);
                }
            })
            .map_err(LinesError::Io)?;
        Ok(Waiter {
            shared,
            thread: Some(thread),
        })
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.shared.cancel.store(true, Ordering::SeqCst);
        let end = Instant::now() + KICK_FOR;
        while !self.shared.done.load(Ordering::SeqCst) {
            if Instant::now() >= end {
                tracing::warn!(
                    "a TIOCMIWAIT thread did not wake; it holds the port until a line changes"
                );
                return;
            }
            // SAFETY: `thread` is not joined or detached yet, so its
            // pthread_t stays valid even if the thread has just ended
            // (pthread_kill then answers ESRCH, which we ignore).
            unsafe { libc::pthread_kill(thread.as_pthread_t(), WAKE as libc::c_int) };
            std::thread::sleep(Duration::from_micros(200));
        }
        let _ = thread.join();
    }
}

/// A waiter for `mask` on a duplicate of `fd`, after TIOCMGET has shown
/// that the device has control lines at all.
fn spawn_miwait<R>(fd: BorrowedFd<'_>, mask: LineMask, report: R) -> Result<Waiter, LinesError>
where
    R: FnOnce(Result<bool, LinesError>) + Send + 'static,
{
    let bits = mask.bits();
    if bits == 0 {
        return Err(LinesError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "a wait on no line would never end",
        )));
    }
    crate::lines::fd_get(fd)?;
    let dup: OwnedFd = fd.try_clone_to_owned().map_err(LinesError::Io)?;
    Waiter::spawn(
        move || {
            // SAFETY: `dup` is owned by this closure and open while it
            // runs; TIOCMIWAIT reads nothing through its argument, which is
            // the mask itself.
            unsafe { tiocmiwait(dup.as_raw_fd(), bits) }.map(|_| ())
        },
        report,
    )
}

fn channel_gone() -> LinesError {
    LinesError::Io(std::io::Error::other(
        "the TIOCMIWAIT thread ended without an answer",
    ))
}

/// Blocks until one of `mask`'s lines on `fd` changes (Ok(true)) or
/// `timeout` passes (Ok(false)). Read the lines with `get` afterwards:
/// TIOCMIWAIT says that something changed, not to what. Unsupported on a
/// PTY and wherever TIOCMIWAIT is missing: poll then.
pub fn fd_wait_change(
    fd: BorrowedFd<'_>,
    mask: LineMask,
    timeout: Duration,
) -> Result<bool, LinesError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let waiter = spawn_miwait(fd, mask, move |r| {
        let _ = tx.send(r);
    })?;
    wait_sync(waiter, rx, timeout)
}

fn wait_sync(
    waiter: Waiter,
    rx: std::sync::mpsc::Receiver<Result<bool, LinesError>>,
    timeout: Duration,
) -> Result<bool, LinesError> {
    use std::sync::mpsc::RecvTimeoutError;
    let r = match rx.recv_timeout(timeout) {
        Ok(r) => r,
        Err(RecvTimeoutError::Timeout) => Ok(false),
        Err(RecvTimeoutError::Disconnected) => Err(channel_gone()),
    };
    drop(waiter);
    r
}

/// [`fd_wait_change`] without blocking the runtime. Dropping the future
/// wakes and joins the waiting thread.
pub async fn wait_for_change(
    fd: BorrowedFd<'_>,
    mask: LineMask,
    timeout: Duration,
) -> Result<bool, LinesError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let waiter = spawn_miwait(fd, mask, move |r| {
        let _ = tx.send(r);
    })?;
    wait_async(waiter, rx, timeout).await
}

async fn wait_async(
    waiter: Waiter,
    rx: tokio::sync::oneshot::Receiver<Result<bool, LinesError>>,
    timeout: Duration,
) -> Result<bool, LinesError> {
    let _waiter = waiter;
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => Err(channel_gone()),
        Err(_elapsed) => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pty::Pty;
    use std::fs::File;
    use std::io::Write;
    use std::os::fd::AsFd;

    #[test]
    fn mask_bits() {
        assert_eq!(LineMask::DCD.bits(), libc::TIOCM_CAR);
        assert_eq!(
            (LineMask::DCD | LineMask::RI).bits(),
            libc::TIOCM_CAR | libc::TIOCM_RNG
        );
        assert_eq!(LineMask::default().bits(), 0);
    }

    #[tokio::test]
    async fn a_pty_is_unsupported_at_once() {
        let pty = Pty::open().unwrap();
        let t = Instant::now();
        let r = fd_wait_change(pty.master.as_fd(), LineMask::DCD, Duration::from_secs(5));
        assert!(matches!(r, Err(LinesError::Unsupported)), "{r:?}");
        let r = wait_for_change(pty.master.as_fd(), LineMask::RI, Duration::from_secs(5)).await;
        assert!(matches!(r, Err(LinesError::Unsupported)), "{r:?}");
        assert!(t.elapsed() < Duration::from_secs(1));
    }

    /// What the pty driver answers TIOCMIWAIT itself, past the TIOCMGET
    /// check: an error that maps to Unsupported, not a block.
    #[tokio::test]
    async fn tiocmiwait_on_a_pty_is_unsupported_too() {
        let pty = Pty::open().unwrap();
        let dup = pty.master.as_fd().try_clone_to_owned().unwrap();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let w = Waiter::spawn(
            // SAFETY: `dup` is owned by the closure.
            move || unsafe { tiocmiwait(dup.as_raw_fd(), libc::TIOCM_CAR) }.map(|_| ()),
            move |r| {
                let _ = tx.send(r);
            },
        )
        .unwrap();
        let r = wait_sync(w, rx, Duration::from_secs(5));
        assert!(matches!(r, Err(LinesError::Unsupported)), "{r:?}");
    }

    #[test]
    fn empty_mask_is_refused() {
        let f = tempfile::tempfile().unwrap();
        let r = fd_wait_change(f.as_fd(), LineMask::default(), Duration::from_secs(1));
        assert!(matches!(r, Err(LinesError::Io(_))), "{r:?}");
    }

    /// A blocking read on a pipe stands in for TIOCMIWAIT on a UART
    /// (which this machine lacks): both block until something happens and
    /// return EINTR on our signal. Returns the waiter's input, which the
    /// test writes to for a "change".
    fn pipe_waiter() -> (File, impl FnMut() -> nix::Result<()> + Send + 'static) {
        let (r, w) = nix::unistd::pipe().unwrap();
        let wait = move || {
            let mut b = [0u8; 1];
            nix::unistd::read(r.as_raw_fd(), &mut b).map(|_| ())
        };
        (File::from(w), wait)
    }

    #[test]
    fn a_change_is_reported() {
        let (mut w, wait) = pipe_waiter();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let waiter = Waiter::spawn(wait, move |r| {
            let _ = tx.send(r);
        })
        .unwrap();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            w.write_all(b"x").unwrap();
        });
        assert!(matches!(
            wait_sync(waiter, rx, Duration::from_secs(5)),
            Ok(true)
        ));
    }

    #[test]
    fn a_timeout_wakes_the_thread_and_frees_what_it_held() {
        let (mut w, wait) = pipe_waiter();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let waiter = Waiter::spawn(wait, move |r| {
            let _ = tx.send(r);
        })
        .unwrap();
        let shared = waiter.shared.clone();
        let t = Instant::now();
        assert!(matches!(
            wait_sync(waiter, rx, Duration::from_millis(50)),
            Ok(false)
        ));
        // Bounded (generously: CI machines are loaded).
        assert!(t.elapsed() < Duration::from_secs(2));
        assert!(shared.done.load(Ordering::SeqCst));
        // The read end went with the thread: writing finds no reader.
        let e = w.write_all(b"x").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPIPE));
    }

    #[tokio::test]
    async fn a_dropped_async_wait_wakes_the_thread() {
        let (mut w, wait) = pipe_waiter();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let waiter = Waiter::spawn(wait, move |r| {
            let _ = tx.send(r);
        })
        .unwrap();
        let shared = waiter.shared.clone();
        let fut = wait_async(waiter, rx, Duration::from_secs(60));
        let r = tokio::time::timeout(Duration::from_millis(30), fut).await;
        assert!(r.is_err(), "still waiting when dropped");
        assert!(shared.done.load(Ordering::SeqCst));
        assert!(w.write_all(b"x").is_err());
    }

    #[tokio::test]
    async fn an_async_timeout_is_false() {
        let (_w, wait) = pipe_waiter();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let waiter = Waiter::spawn(wait, move |r| {
            let _ = tx.send(r);
        })
        .unwrap();
        let r = wait_async(waiter, rx, Duration::from_millis(20)).await;
        assert!(matches!(r, Ok(false)), "{r:?}");
    }
}
