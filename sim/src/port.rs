//! The modem's side of its PTY. Unlike `carrier_hw::Pty`, it does not
//! keep the slave open itself: the master then reads EIO whenever no DTE
//! has the slave open, which is how the simulated modem sees a DTE close
//! the port (a DTR drop) and open it again.
//!
//! While no DTE is there, the master stays readable (hung up) for good in
//! epoll's eyes, so it is probed on a timer instead; a DTE's arrival gets
//! a fresh registration with tokio, dropped again when the DTE leaves.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use carrier_hw::{AsyncTty, HwError, Tty};
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::pty::openpty;
use nix::sys::termios::{self, ControlFlags, FlushArg, SetArg};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// What the DTE did.
#[derive(Debug, PartialEq, Eq)]
pub enum PortEvent {
    Data(Vec<u8>),
    /// The slave was opened (true) or closed by its last user (false).
    Dte(bool),
}

/// How often an absent DTE is looked for.
const PROBE: Duration = Duration::from_millis(20);

/// Bytes read from the DTE at a time; small, so that back-pressure from
/// a slow line reaches the DTE soon.
const READ_CHUNK: usize = 256;

/// Output to the DTE held while the PTY is full, and how often a full
/// PTY is tried again.
const PENDING_LIMIT: usize = 4096;
const RETRY: Duration = Duration::from_millis(5);

pub struct SimPty {
    master: File,
    slave_path: PathBuf,
}

impl SimPty {
    pub fn open() -> Result<SimPty, HwError> {
        let ptmx = PathBuf::from("/dev/ptmx");
        let err = |source: nix::Error| HwError::Open {
            path: ptmx.clone(),
            source: source.into(),
        };
        let pair = openpty(None, None).map_err(err)?;
        let slave_path = nix::unistd::ttyname(pair.slave.as_fd()).map_err(err)?;
        // Raw now, and it stays raw after we close it: the kernel keeps a
        // PTY's settings while the master is open, so every DTE that
        // opens the slave finds a clean 8-bit line without echo.
        let mut raw = termios::tcgetattr(pair.slave.as_fd()).map_err(err)?;
        termios::cfmakeraw(&mut raw);
        raw.control_flags |= ControlFlags::CLOCAL | ControlFlags::CREAD;
        termios::tcsetattr(pair.slave.as_fd(), SetArg::TCSANOW, &raw).map_err(err)?;
        drop(pair.slave);
        let flags = fcntl(pair.master.as_raw_fd(), FcntlArg::F_GETFL).map_err(err)?;
        let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
        fcntl(pair.master.as_raw_fd(), FcntlArg::F_SETFL(flags)).map_err(err)?;
        Ok(SimPty {
            master: File::from(pair.master),
            slave_path,
        })
    }

    pub fn slave_path(&self) -> &Path {
        &self.slave_path
    }

    /// Starts carrying bytes. Output sent while no DTE has the port open
    /// is dropped, as a serial port drops what arrives while closed.
    pub fn spawn(
        self,
    ) -> (
        mpsc::Receiver<PortEvent>,
        mpsc::Sender<Vec<u8>>,
        JoinHandle<()>,
    ) {
        let (in_tx, in_rx) = mpsc::channel(4);
        let (out_tx, out_rx) = mpsc::channel(16);
        let task = tokio::spawn(serve(self.master, self.slave_path, in_tx, out_rx));
        (in_rx, out_tx, task)
    }
}

async fn serve(
    master: File,
    path: PathBuf,
    tx: mpsc::Sender<PortEvent>,
    mut rx: mpsc::Receiver<Vec<u8>>,
) {
    let mut buf = [0u8; READ_CHUNK];
    // Some while a DTE has the slave open.
    let mut dte: Option<AsyncTty> = None;
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let Some(tty) = &dte else {
            tokio::select! {
                () = tokio::time::sleep(PROBE) => {}
                out = rx.recv() => match out {
                    Some(_dropped) => continue,
                    None => return,
                },
            }
            let data = match (&master).read(&mut buf) {
                Ok(n) => buf[..n].to_vec(),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Vec::new(),
                Err(_) => continue,
            };
            match watch(&master, &path) {
                Ok(tty) => dte = Some(tty),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot watch the PTY");
                    continue;
                }
            }
            if tx.send(PortEvent::Dte(true)).await.is_err() {
                return;
            }
            if !data.is_empty() && tx.send(PortEvent::Data(data)).await.is_err() {
                return;
            }
            continue;
        };
        let event = tokio::select! {
            read = tty.read(&mut buf) => match read {
                Ok(n) if n > 0 => Some(PortEvent::Data(buf[..n].to_vec())),
                Ok(_) => Some(PortEvent::Dte(false)),
                Err(e) if carrier_hw::is_hangup(&e) => Some(PortEvent::Dte(false)),
                Err(e) => {
                    tracing::warn!(error = %e, "PTY read failed");
                    tokio::time::sleep(PROBE).await;
                    None
                }
            },
            () = tokio::time::sleep(RETRY), if !pending.is_empty() => {
                write_some(&master, &mut pending);
                None
            }
            out = rx.recv(), if pending.len() < PENDING_LIMIT => match out {
                Some(bytes) => {
                    pending.extend_from_slice(&bytes);
                    write_some(&master, &mut pending);
                    None
                }
                None => return,
            },
        };
        if event == Some(PortEvent::Dte(false)) {
            dte = None;
            pending.clear();
            // What we wrote and the DTE never read must not greet the
            // next one.
            if let Err(e) = termios::tcflush(master.as_fd(), FlushArg::TCIOFLUSH) {
                tracing::debug!(error = %e, "cannot flush the PTY");
            }
        }
        if let Some(event) = event {
            if tx.send(event).await.is_err() {
                return;
            }
        }
    }
}

/// A fresh tokio registration of the master, for as long as this DTE
/// stays: a new descriptor, so none of the old hang-up state comes along.
fn watch(master: &File, path: &Path) -> Result<AsyncTty, HwError> {
    let file = master.try_clone().map_err(|source| HwError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    AsyncTty::new(Tty::from_file(file, path.to_path_buf(), None)?)
}

/// Writes what the PTY takes now; the rest waits for the retry timer.
fn write_some(master: &File, pending: &mut Vec<u8>) {
    match (&*master).write(pending) {
        Ok(n) => {
            pending.drain(..n);
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        // A hangup shows on the read side too.
        Err(_) => pending.clear(),
    }
}
