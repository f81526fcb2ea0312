//! Waiting for a directory's entries to change (inotify(7)), for state
//! files that other processes replace: the lock directory, the inbound
//! enablement. A caller that cannot have one (inotify's limits, a file
//! system without it) polls instead.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::Path;
use std::time::Duration;

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use tokio::io::unix::AsyncFd;
use tokio::time::{sleep_until, Instant};

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
    /// A watch on `dir`, or None where inotify cannot be had (its limits,
    /// a file system without it, no such directory): the caller polls.
    pub fn or_poll(dir: &Path) -> Option<DirWatch> {
        DirWatch::new(dir)
            .inspect_err(
                |e| tracing::debug!(dir = %dir.display(), error = %e, "no inotify watch: polling"),
            )
            .ok()
    }

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

/// How often a wait looks again of its own accord.
#[derive(Clone, Copy, Debug)]
pub struct Recheck {
    /// With a watch: a net for a lost event (a queue overflow), not the
    /// mechanism.
    pub watched: Duration,
    /// Without one (or while it fails): the poll.
    pub unwatched: Duration,
}

/// Looks with `done` until it says true: again each time `watch` sees the
/// directory change, and besides as `recheck` says. Ok(false) once
/// `deadline` has passed with `done` still false. Make the watch before
/// calling, so that a change before the first look is not missed.
pub async fn wait_in_dir<E>(
    watch: Option<&DirWatch>,
    recheck: Recheck,
    deadline: Option<Instant>,
    mut done: impl FnMut() -> Result<bool, E>,
) -> Result<bool, E> {
    loop {
        if done()? {
            return Ok(true);
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return Ok(false);
        }
        let at = |every: Duration| deadline.map_or(now + every, |d| (now + every).min(d));
        match watch {
            Some(w) => tokio::select! {
                r = w.changed() => if r.is_err() {
                    sleep_until(at(recheck.unwatched)).await;
                },
                _ = sleep_until(at(recheck.watched)) => {}
            },
            None => sleep_until(at(recheck.unwatched)).await,
        }
    }
}
