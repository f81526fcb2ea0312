//! Waiting for a directory's entries to change (inotify(7)), for state
//! files that other processes replace: the lock directory, the inbound
//! enablement. A caller that cannot have one (inotify's limits, a file
//! system without it) polls instead.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::Path;

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use tokio::io::unix::AsyncFd;

/// AsyncFd wants AsRawFd; nix's Inotify offers AsFd.
struct Fd(Inotify);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// An inotify watch on one directory, registered with tokio.
pub struct DirWatch {
    fd: AsyncFd<Fd>,
}

impl std::fmt::Debug for DirWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DirWatch")
    }
}

impl DirWatch {
    /// Watches `dir` for files written, renamed in, removed or changed in
    /// mode, and for the directory itself going away. Call within a tokio
    /// runtime.
    pub fn new(dir: &Path) -> io::Result<DirWatch> {
        let i = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
        let flags = AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_CLOSE_WRITE
            | AddWatchFlags::IN_DELETE
            | AddWatchFlags::IN_ATTRIB
            | AddWatchFlags::IN_DELETE_SELF
            | AddWatchFlags::IN_MOVE_SELF;
        i.add_watch(dir, flags)?;
        // SAFETY: the descriptor belongs to the Inotify inside `Fd`, which
        // the AsyncFd owns from here on: it stays open exactly as long as
        // the registration does.
        let fd = unsafe { AsyncFd::register(Fd(i)) }.map_err(|e| e.into_parts().1)?;
        Ok(DirWatch { fd })
    }

    /// Waits until something in the directory changed since the last call
    /// (what changed is not said: read the files again).
    pub async fn changed(&self) -> io::Result<()> {
        let mut ready = self.fd.readable().await?;
        while ready.get_inner().0.read_events().is_ok() {}
        ready.clear_ready();
        Ok(())
    }
}
