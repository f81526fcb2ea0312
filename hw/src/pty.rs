//! Pseudo-terminal pairs: the stand-in for a serial cable in the simulator
//! and tests. A PTY carries no modem control lines; see the simulator.

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::pty::openpty;

use crate::tty::{AsyncTty, HwError, Tty};

/// The master side of a PTY, registered with tokio, and the path of its
/// slave for other programs to open like /dev/ttyS0.
#[derive(Debug)]
pub struct Pty {
    pub master: AsyncTty,
    slave_path: PathBuf,
    /// Held open so that a client closing the slave does not hang the line
    /// up for good (the master reads EIO while no slave is open).
    _slave: Tty,
}

impl Pty {
    pub fn open() -> Result<Pty, HwError> {
        let err = |source: nix::Error| HwError::Open {
            path: PathBuf::from("/dev/ptmx"),
            source: source.into(),
        };
        let pair = openpty(None, None).map_err(err)?;
        let slave_path =
            std::fs::read_link(fd_path(&pair.slave)).map_err(|source| HwError::Open {
                path: PathBuf::from("/dev/ptmx"),
                source,
            })?;
        let flags = fcntl(pair.master.as_raw_fd(), FcntlArg::F_GETFL).map_err(err)?;
        fcntl(
            pair.master.as_raw_fd(),
            FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
        )
        .map_err(err)?;
        // The slave raw too, so whoever opens it next finds a clean line.
        let slave = Tty::from_file(File::from(pair.slave), slave_path.clone(), None)?;
        let master = Tty::from_file(File::from(pair.master), PathBuf::from("/dev/ptmx"), None)?;
        Ok(Pty {
            master: AsyncTty::new(master)?,
            slave_path,
            _slave: slave,
        })
    }

    pub fn slave_path(&self) -> &Path {
        &self.slave_path
    }
}

fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}
