//! UUCP lock files, the convention every program that opens a serial line
//! on Linux honours (pppd, mgetty, minicom, cu, ModemManager's ports list):
//! before opening `/dev/ttyS0`, create `/var/lock/LCK..ttyS0` holding the
//! owner's PID as ten ASCII characters and a newline (`%10d\n`, the
//! "HDB UUCP" format from the FHS, section 5.9 "/var/lock"). Whoever finds
//! the file and its process alive keeps off the line; a file whose process
//! is gone is stale and may be removed.
//!
//! The file is written whole before it becomes visible: we write a private
//! temporary file and `link(2)` it to the lock name, which either creates
//! the name atomically or fails with EEXIST. pppd instead does
//! `open(O_CREAT|O_EXCL)` then `write`, which leaves a moment where the lock
//! exists but is empty; we allow for that when we read other programs'
//! locks (see [`LockOptions::grace`]).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;
use thiserror::Error;

/// Where the FHS puts lock files; on current distributions a link to
/// /run/lock.
pub const DEFAULT_LOCK_DIR: &str = "/var/lock";

#[derive(Debug, Error)]
pub enum LockError {
    #[error("{device} is in use by process {pid} (lock file {lock})")]
    Held {
        device: PathBuf,
        pid: i32,
        lock: PathBuf,
    },
    #[error("{device} is already locked by this process (lock file {lock})")]
    HeldBySelf { device: PathBuf, lock: PathBuf },
    #[error("{device}: cannot derive a lock file name from this path")]
    BadDevice { device: PathBuf },
    #[error("lock file {lock}: {source}")]
    Io { lock: PathBuf, source: io::Error },
    #[error(
        "lock file {lock}: gave up after {attempts} attempts (another program keeps replacing it)"
    )]
    Contended { lock: PathBuf, attempts: u32 },
}

/// How to lock: which directory, and how long an empty or unreadable lock
/// file is given to be a writer's lock in the middle of being written.
#[derive(Clone, Debug)]
pub struct LockOptions {
    pub dir: PathBuf,
    /// A lock file this young with no PID in it is presumed to be another
    /// program's lock being written (pppd's create-then-write window); we
    /// wait for it up to this long before treating it as stale.
    pub grace: Duration,
}

impl Default for LockOptions {
    fn default() -> Self {
        LockOptions {
            dir: PathBuf::from(DEFAULT_LOCK_DIR),
            grace: Duration::from_secs(1),
        }
    }
}

impl LockOptions {
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        LockOptions {
            dir: dir.into(),
            ..LockOptions::default()
        }
    }
}

/// What a lock file says about its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockOwner {
    /// A PID, in either the ASCII (HDB) or the old binary (V2 UUCP) format.
    Pid(i32),
    /// Empty, or nothing that reads as a PID.
    Malformed,
}

/// Reads a lock file's content. ASCII first: "%10d\n" is what everyone
/// writes today, but we accept any whitespace around the digits. A file of
/// exactly `sizeof(int)` bytes that is not ASCII is the V2 UUCP binary
/// format (the PID as a native int), still written by some old software.
pub fn parse_lock_content(bytes: &[u8]) -> LockOwner {
    if let Ok(text) = std::str::from_utf8(bytes) {
        if let Ok(pid) = text.trim().parse::<i32>() {
            return if pid > 0 {
                LockOwner::Pid(pid)
            } else {
                LockOwner::Malformed
            };
        }
    }
    if let Ok(raw) = <[u8; 4]>::try_from(bytes) {
        let pid = i32::from_ne_bytes(raw);
        if pid > 0 {
            return LockOwner::Pid(pid);
        }
    }
    LockOwner::Malformed
}

/// The content we write: the HDB format, `%10d\n`.
pub fn format_lock_content(pid: u32) -> String {
    format!("{pid:>10}\n")
}

/// The lock file name for a device: `LCK..` and the name of the device
/// node. Symbolic links (`/dev/serial/by-id/...`, `/dev/modem`) are
/// resolved first, so that two programs naming the same port differently
/// still collide on one lock. A path that does not resolve (no such
/// device yet) is named as given.
pub fn lock_file_name(device: &Path) -> Result<String, LockError> {
    let real = fs::canonicalize(device).unwrap_or_else(|_| device.to_path_buf());
    // pppd, minicom and mgetty all use the last component only (pppd's
    // lock() in utils.c strips everything up to the last '/').
    match real.file_name().and_then(|n| n.to_str()) {
        Some(name) if !name.is_empty() && name != "." && name != ".." => Ok(format!("LCK..{name}")),
        _ => Err(LockError::BadDevice {
            device: device.to_path_buf(),
        }),
    }
}

/// Whether a process exists. EPERM means it exists under another user,
/// which still makes its lock valid; only ESRCH proves it gone.
pub fn process_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    !matches!(kill(Pid::from_raw(pid), None), Err(Errno::ESRCH))
}

/// A held UUCP lock; dropping it removes the lock file (if it is still
/// ours).
#[derive(Debug)]
pub struct PortLock {
    device: PathBuf,
    lock: PathBuf,
    pid: u32,
    released: bool,
}

/// How many times we go round remove-stale-and-retry before concluding
/// that someone else keeps racing us for the name.
const MAX_ATTEMPTS: u32 = 10;

impl PortLock {
    /// Locks `device` in the standard directory.
    pub fn acquire(device: &Path) -> Result<PortLock, LockError> {
        Self::acquire_with(device, &LockOptions::default())
    }

    pub fn acquire_with(device: &Path, opts: &LockOptions) -> Result<PortLock, LockError> {
        let lock = opts.dir.join(lock_file_name(device)?);
        let pid = std::process::id();
        let io_err = |source: io::Error| LockError::Io {
            lock: lock.clone(),
            source,
        };

        let tmp = write_temp(&opts.dir, &lock, pid).map_err(io_err)?;
        let result = (|| {
            let mut waited = Duration::ZERO;
            let mut attempts = 0;
            while attempts < MAX_ATTEMPTS {
                match fs::hard_link(&tmp, &lock) {
                    Ok(()) => {
                        return Ok(PortLock {
                            device: device.to_path_buf(),
                            lock: lock.clone(),
                            pid,
                            released: false,
                        })
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io_err(e)),
                }
                match inspect(&lock).map_err(io_err)? {
                    // Gone between our link and our look: try again.
                    Existing::Vanished => attempts += 1,
                    Existing::Owner { owner, ino, age } => match owner {
                        LockOwner::Pid(p) if p as u32 == pid => {
                            return Err(LockError::HeldBySelf {
                                device: device.to_path_buf(),
                                lock: lock.clone(),
                            })
                        }
                        LockOwner::Pid(p) if process_alive(p) => {
                            return Err(LockError::Held {
                                device: device.to_path_buf(),
                                pid: p,
                                lock: lock.clone(),
                            })
                        }
                        LockOwner::Malformed if age < opts.grace && waited < opts.grace => {
                            let step = Duration::from_millis(50);
                            std::thread::sleep(step);
                            waited += step;
                            continue;
                        }
                        stale => {
                            tracing::info!(
                                lock = %lock.display(),
                                owner = ?stale,
                                "removing stale lock file"
                            );
                            remove_if_same(&lock, ino).map_err(io_err)?;
                            attempts += 1;
                        }
                    },
                }
            }
            Err(LockError::Contended {
                lock: lock.clone(),
                attempts: MAX_ATTEMPTS,
            })
        })();
        let _ = fs::remove_file(&tmp);
        result
    }

    pub fn device(&self) -> &Path {
        &self.device
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.lock
    }

    /// Removes the lock now, reporting failure (drop does the same
    /// silently).
    pub fn release(mut self) -> Result<(), LockError> {
        self.released = true;
        self.remove()
    }

    fn remove(&self) -> Result<(), LockError> {
        // Only our own lock: if someone judged ours stale and replaced it
        // (a PID namespace mix-up, say), theirs must survive us.
        let mut content = Vec::new();
        match File::open(&self.lock).and_then(|mut f| f.read_to_end(&mut content)) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(LockError::Io {
                    lock: self.lock.clone(),
                    source,
                })
            }
        }
        if parse_lock_content(&content) != LockOwner::Pid(self.pid as i32) {
            tracing::warn!(lock = %self.lock.display(), "lock file no longer ours; leaving it");
            return Ok(());
        }
        match fs::remove_file(&self.lock) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(LockError::Io {
                lock: self.lock.clone(),
                source,
            }),
        }
    }
}

impl Drop for PortLock {
    fn drop(&mut self) {
        if !self.released {
            if let Err(e) = self.remove() {
                tracing::warn!(error = %e, "could not remove lock file");
            }
        }
    }
}

enum Existing {
    Vanished,
    Owner {
        owner: LockOwner,
        ino: (u64, u64),
        age: Duration,
    },
}

fn inspect(lock: &Path) -> io::Result<Existing> {
    let mut f = match File::open(lock) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Existing::Vanished),
        Err(e) => return Err(e),
    };
    let meta = f.metadata()?;
    // A lock file is a few bytes; anything large is not one, and reading
    // it whole would be pointless.
    let mut content = Vec::with_capacity(16);
    (&mut f).take(64).read_to_end(&mut content)?;
    let age = meta
        .modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .unwrap_or(Duration::MAX);
    Ok(Existing::Owner {
        owner: parse_lock_content(&content),
        ino: (meta.dev(), meta.ino()),
        age,
    })
}

/// Removes the stale lock only if the name still refers to the file we
/// judged: a competitor may have removed it and linked a live lock in the
/// meantime. (The check and the unlink are still two steps; UUCP locking
/// has no atomic compare-and-remove, and pppd and minicom share the
/// window.)
fn remove_if_same(lock: &Path, ino: (u64, u64)) -> io::Result<()> {
    match fs::symlink_metadata(lock) {
        Ok(m) if (m.dev(), m.ino()) == ino => match fs::remove_file(lock) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        },
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Writes our lock content to a private file next to the lock, so that
/// `link(2)` can publish it complete.
fn write_temp(dir: &Path, lock: &Path, pid: u32) -> io::Result<PathBuf> {
    let base = lock
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Distinct per process and per attempt, so that threads of one process
    // locking different ports do not collide either.
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{base}.{pid}.{seq}.tmp"));
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&tmp)?;
    let written = f
        .write_all(format_lock_content(pid).as_bytes())
        .and_then(|_| f.sync_all());
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(tmp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Child, Command};

    fn opts(dir: &tempfile::TempDir) -> LockOptions {
        LockOptions {
            dir: dir.path().to_path_buf(),
            grace: Duration::ZERO,
        }
    }

    struct Sleeper(Child);
    impl Drop for Sleeper {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[test]
    fn content_format_is_hdb() {
        assert_eq!(format_lock_content(1234), "      1234\n");
        assert_eq!(format_lock_content(1234).len(), 11);
    }

    #[test]
    fn parses_ascii_binary_and_garbage() {
        assert_eq!(parse_lock_content(b"      1234\n"), LockOwner::Pid(1234));
        assert_eq!(parse_lock_content(b"1234"), LockOwner::Pid(1234));
        assert_eq!(parse_lock_content(b"  77  \n\n"), LockOwner::Pid(77));
        assert_eq!(
            parse_lock_content(&4321i32.to_ne_bytes()),
            LockOwner::Pid(4321)
        );
        assert_eq!(parse_lock_content(b""), LockOwner::Malformed);
        assert_eq!(parse_lock_content(b"garbage\n"), LockOwner::Malformed);
        assert_eq!(parse_lock_content(b"         0\n"), LockOwner::Malformed);
        assert_eq!(parse_lock_content(b"       -12\n"), LockOwner::Malformed);
        assert_eq!(parse_lock_content(&[0xff; 4]), LockOwner::Malformed);
        assert_eq!(parse_lock_content(&[0xff; 300]), LockOwner::Malformed);
    }

    #[test]
    fn names_follow_links_to_the_device() {
        let dir = tempfile::tempdir().unwrap();
        let dev = dir.path().join("ttyUSB3");
        File::create(&dev).unwrap();
        let by_id = dir.path().join("usb-Foo_Bar_123-if00-port0");
        std::os::unix::fs::symlink("ttyUSB3", &by_id).unwrap();
        assert_eq!(lock_file_name(&by_id).unwrap(), "LCK..ttyUSB3");
        assert_eq!(
            lock_file_name(Path::new("/nonexistent/ttyS9")).unwrap(),
            "LCK..ttyS9"
        );
        assert!(lock_file_name(Path::new("/")).is_err());
    }

    #[test]
    fn takes_writes_and_releases_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let lock = PortLock::acquire_with(Path::new("/dev/ttyS0"), &opts(&dir)).unwrap();
        let path = dir.path().join("LCK..ttyS0");
        assert_eq!(lock.path(), path);
        let content = fs::read_to_string(&path).unwrap();
        assert_eq!(content, format_lock_content(std::process::id()));
        drop(lock);
        assert!(!path.exists());
        // Nothing else left behind (no temporary files).
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn explicit_release() {
        let dir = tempfile::tempdir().unwrap();
        let lock = PortLock::acquire_with(Path::new("/dev/ttyS1"), &opts(&dir)).unwrap();
        let path = lock.path().to_path_buf();
        lock.release().unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn refused_while_a_live_process_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let sleeper = Sleeper(Command::new("sleep").arg("30").spawn().unwrap());
        let holder = sleeper.0.id();
        let path = dir.path().join("LCK..ttyS0");
        fs::write(&path, format_lock_content(holder)).unwrap();
        let err = PortLock::acquire_with(Path::new("/dev/ttyS0"), &opts(&dir)).unwrap_err();
        match &err {
            LockError::Held { pid, .. } => assert_eq!(*pid as u32, holder),
            other => panic!("expected Held, got {other:?}"),
        }
        assert!(err.to_string().contains(&holder.to_string()), "{err}");
        // The holder's lock is untouched.
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format_lock_content(holder)
        );
    }

    #[test]
    fn refused_for_binary_pid_of_live_process() {
        let dir = tempfile::tempdir().unwrap();
        let sleeper = Sleeper(Command::new("sleep").arg("30").spawn().unwrap());
        let holder = sleeper.0.id() as i32;
        fs::write(dir.path().join("LCK..ttyS0"), holder.to_ne_bytes()).unwrap();
        let err = PortLock::acquire_with(Path::new("/dev/ttyS0"), &opts(&dir)).unwrap_err();
        assert!(matches!(err, LockError::Held { pid, .. } if pid == holder));
    }

    #[test]
    fn taken_over_when_stale() {
        let dir = tempfile::tempdir().unwrap();
        // A process that has exited and been reaped: its PID is free.
        let mut child = Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        assert!(!process_alive(dead as i32));
        let path = dir.path().join("LCK..ttyS0");
        fs::write(&path, format_lock_content(dead)).unwrap();
        let lock = PortLock::acquire_with(Path::new("/dev/ttyS0"), &opts(&dir)).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format_lock_content(std::process::id())
        );
        drop(lock);
        assert!(!path.exists());
    }

    #[test]
    fn stale_binary_lock_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("true").spawn().unwrap();
        let dead = child.id() as i32;
        child.wait().unwrap();
        let path = dir.path().join("LCK..ttyS0");
        fs::write(&path, dead.to_ne_bytes()).unwrap();
        let _lock = PortLock::acquire_with(Path::new("/dev/ttyS0"), &opts(&dir)).unwrap();
        assert_eq!(
            parse_lock_content(&fs::read(&path).unwrap()),
            LockOwner::Pid(std::process::id() as i32)
        );
    }

    #[test]
    fn malformed_lock_is_stale_after_grace() {
        for content in [&b""[..], b"garbage\n", b"\xff\xfe\x00", b"         0\n"] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("LCK..ttyS0");
            fs::write(&path, content).unwrap();
            let o = LockOptions {
                dir: dir.path().to_path_buf(),
                grace: Duration::from_millis(120),
            };
            let started = std::time::Instant::now();
            let _lock = PortLock::acquire_with(Path::new("/dev/ttyS0"), &o).unwrap();
            // A fresh empty file got its grace period before being judged.
            assert!(started.elapsed() >= Duration::from_millis(100));
            assert_eq!(
                fs::read_to_string(&path).unwrap(),
                format_lock_content(std::process::id())
            );
        }
    }

    #[test]
    fn second_lock_in_same_process_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = PortLock::acquire_with(Path::new("/dev/ttyS0"), &opts(&dir)).unwrap();
        let err = PortLock::acquire_with(Path::new("/dev/ttyS0"), &opts(&dir)).unwrap_err();
        assert!(matches!(err, LockError::HeldBySelf { .. }), "{err:?}");
        // A different port is independent.
        let _other = PortLock::acquire_with(Path::new("/dev/ttyS1"), &opts(&dir)).unwrap();
    }

    #[test]
    fn drop_leaves_a_lock_that_is_no_longer_ours() {
        let dir = tempfile::tempdir().unwrap();
        let lock = PortLock::acquire_with(Path::new("/dev/ttyS0"), &opts(&dir)).unwrap();
        let path = lock.path().to_path_buf();
        fs::write(&path, format_lock_content(1)).unwrap();
        drop(lock);
        assert!(path.exists());
    }

    #[test]
    fn missing_lock_dir_is_an_io_error() {
        let o = LockOptions {
            dir: PathBuf::from("/nonexistent-carrier-lock-dir"),
            grace: Duration::ZERO,
        };
        let err = PortLock::acquire_with(Path::new("/dev/ttyS0"), &o).unwrap_err();
        assert!(matches!(err, LockError::Io { .. }), "{err:?}");
    }
}
