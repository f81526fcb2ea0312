//! The lock a running inbound call holds for its whole life: liveness is
//! decided by the kernel (a `flock` on `call.lock` in the state directory
//! is released when its holder dies, however it dies), never by a recorded
//! PID, which after a crash or a reboot may name an unrelated process.
//!
//! The holder writes its PID into the file for people to read (`status`,
//! `disable`), and that PID is believed only while the lock is held. The
//! descriptor is close-on-exec, so no child (`nft`, a hook) inherits it
//! and outlives the call holding it.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use super::state::InboundError;

const CALL_LOCK: &str = "call.lock";

/// Held by the process serving (or waiting for) the call.
#[derive(Debug)]
pub struct CallLock {
    _lock: Flock<File>,
}

fn open(dir: &Path) -> Result<(File, PathBuf), InboundError> {
    let path = dir.join(CALL_LOCK);
    super::state::check_dir(dir, true)?;
    let f = super::state::open_lock_file(&path).map_err(|source| InboundError::Io {
        path: path.clone(),
        source,
    })?;
    Ok((f, path))
}

/// Tries the lock without waiting: Ok(Some) if taken, Ok(None) if a live
/// process holds it.
fn try_lock(dir: &Path) -> Result<Option<Flock<File>>, InboundError> {
    let (f, path) = open(dir)?;
    match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
        Ok(l) => Ok(Some(l)),
        Err((_, Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => Err(InboundError::Io {
            path,
            source: e.into(),
        }),
    }
}

/// The PID the holder wrote, if it is readable; a damaged file gives None.
fn recorded_pid(dir: &Path) -> Option<u32> {
    let mut s = String::new();
    File::open(dir.join(CALL_LOCK))
        .ok()?
        .take(32)
        .read_to_string(&mut s)
        .ok()?;
    s.trim().parse().ok().filter(|p| *p > 0)
}

impl CallLock {
    /// Takes the lock for this process, or says which live process holds
    /// it.
    pub fn acquire(dir: &Path) -> Result<CallLock, InboundError> {
        let Some(mut lock) = try_lock(dir)? else {
            return Err(InboundError::InProgress(recorded_pid(dir)));
        };
        let path = dir.join(CALL_LOCK);
        let io = |source| InboundError::Io {
            path: path.clone(),
            source,
        };
        lock.set_len(0).map_err(io)?;
        lock.rewind().map_err(io)?;
        writeln!(lock, "{}", std::process::id()).map_err(io)?;
        Ok(CallLock { _lock: lock })
    }

    /// Whether a live process holds the lock, and the PID it wrote. (A
    /// flock belongs to an open file, so the holder asking sees itself.)
    pub fn holder(dir: &Path) -> Result<Option<Option<u32>>, InboundError> {
        let path = dir.join(CALL_LOCK);
        // Read-only: a look must not write or create anything, and its
        // close must not wake a watcher of IN_CLOSE_WRITE (our own wait
        // below would wake itself for ever).
        let f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(InboundError::Io { path, source }),
        };
        match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
            Ok(_free) => Ok(None),
            Err((_, Errno::EWOULDBLOCK)) => Ok(Some(recorded_pid(dir))),
            Err((_, e)) => Err(InboundError::Io {
                path,
                source: e.into(),
            }),
        }
    }

    /// Waits up to `timeout` for the holder to let go; true if it did.
    /// The holder's descriptor is open for writing, so its close (however
    /// the process ends) is an inotify IN_CLOSE_WRITE in the directory:
    /// the wait wakes on that, and polls only where inotify cannot be had.
    pub async fn wait_released(dir: &Path, timeout: Duration) -> Result<bool, InboundError> {
        wait_for_release(dir, timeout, RECHECK).await
    }
}

async fn wait_for_release(
    dir: &Path,
    timeout: Duration,
    recheck: Duration,
) -> Result<bool, InboundError> {
    let deadline = tokio::time::Instant::now() + timeout;
    // Watch first, then look: a release between the two is not missed.
    let watch = carrier_hw::DirWatch::or_poll(dir);
    let looks = carrier_hw::Recheck {
        watched: recheck,
        unwatched: POLL,
    };
    carrier_hw::wait_in_dir(watch.as_ref(), looks, Some(deadline), || {
        Ok(CallLock::holder(dir)?.is_none())
    })
    .await
}

/// Without inotify, how often the wait looks; with it, how often it
/// looks all the same.
const POLL: Duration = Duration::from_millis(50);
const RECHECK: Duration = Duration::from_secs(2);

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("carrier-calllock-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn a_held_lock_refuses_a_second_call_and_names_its_holder() {
        let dir = tmpdir("held");
        let held = CallLock::acquire(&dir).unwrap();
        match CallLock::acquire(&dir) {
            Err(InboundError::InProgress(Some(pid))) => assert_eq!(pid, std::process::id()),
            other => panic!("{other:?}"),
        }
        drop(held);
        assert!(
            CallLock::holder(&dir).unwrap().is_none(),
            "released on drop"
        );
        let _again = CallLock::acquire(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_release_wakes_the_wait_without_a_poll() {
        let dir = tmpdir("wake");
        let held = CallLock::acquire(&dir).unwrap();
        let hour = Duration::from_secs(3600);
        let (d, started) = (dir.clone(), std::sync::mpsc::channel::<()>());
        let releaser = std::thread::spawn(move || {
            started.1.recv().unwrap();
            std::thread::sleep(Duration::from_millis(100));
            drop(held);
            d
        });
        let wait = wait_for_release(&dir, hour, hour);
        started.0.send(()).unwrap();
        // Neither the timeout nor the recheck can end this wait: only the
        // close of the holder's descriptor can.
        let released = tokio::time::timeout(Duration::from_secs(60), wait)
            .await
            .expect("the release was not seen");
        assert!(released.unwrap());
        releaser.join().unwrap();
        assert!(CallLock::holder(&dir).unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_held_lock_is_waited_for_only_until_the_timeout() {
        let dir = tmpdir("timeout");
        let _held = CallLock::acquire(&dir).unwrap();
        let w = CallLock::wait_released(&dir, Duration::from_millis(200));
        assert!(!w.await.unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_recorded_pid_without_the_lock_is_no_call() {
        // After a crash and a reboot the file names a PID that may now be
        // anyone's (here: init's). Nobody holds the lock: no call.
        let dir = tmpdir("stale");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(CALL_LOCK), "1\n").unwrap();
        assert!(CallLock::holder(&dir).unwrap().is_none());
        assert!(CallLock::wait_released(&dir, Duration::ZERO).await.unwrap());
        let _l = CallLock::acquire(&dir).unwrap();
        assert_eq!(recorded_pid(&dir), Some(std::process::id()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_damaged_file_names_no_process() {
        let dir = tmpdir("damaged");
        std::fs::create_dir_all(&dir).unwrap();
        for junk in ["", "0", "-1", "4294967296", "x"] {
            std::fs::write(dir.join(CALL_LOCK), junk).unwrap();
            assert_eq!(recorded_pid(&dir), None, "{junk:?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
