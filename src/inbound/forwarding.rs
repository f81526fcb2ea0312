//! IPv4 forwarding for a call's partitions, switched on per interface (the
//! link, and the interface each partition is reached through), never for
//! the whole host: `net.ipv4.ip_forward` would make the console a router
//! between all its networks for as long as the call lasts.
//!
//! Linux decides forwarding by the interface a packet arrives on
//! (`conf/<if>/forwarding`), so the link needs it for the caller's
//! packets and each partition's interface for the replies.
//!
//! Two lines may answer at once (two state directories) and share an
//! egress interface, so a switch is not one call's to put back: each call
//! holds the interfaces it needs ([`Hold`]) in a registry shared by the
//! whole host, and the value an interface had before its first holder is
//! put back when its last holder lets go, or by the next start after a
//! crash ([`repair`]). Forwarding sysctls belong to a network namespace,
//! so the registry keeps one set per namespace:
//!
//! ```text
//! /run/carrier/forwarding/              0700, ours, or refused
//!     lock                              flock: one change at a time
//!     net-<st_dev>-<st_ino>/            /proc/thread-self/ns/net
//!         ipv4-<ifname>/
//!             was                       "0": what to put back, if we switched it
//!             hold-<random>             one per holder, flock'ed while it lives
//! ```
//!
//! A holder is alive exactly while its hold file is locked: the kernel
//! drops a `flock` however its process ends, and no PID, which may be
//! reused, is ever believed.
//!
//! Everything read back (the registry's records, and the `forwarding_was`
//! of enablement records written before the registry) is accepted only as
//! the forwarding switch of a plainly named interface and the value `0` or
//! `1`: root writes it.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::Ipv4Addr;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg, OFlag};
use rand::RngCore;

/// Where the registry lives unless `CARRIER_RUN_DIR` says otherwise.
pub const DEFAULT_RUN_DIR: &str = "/run/carrier";
/// Overrides [`DEFAULT_RUN_DIR`] (tests, or a system without /run).
pub const RUN_DIR_ENV: &str = "CARRIER_RUN_DIR";

pub use super::state::Sysctl;

/// A name the kernel could have given an interface (its own rule: no `/`,
/// so safe in a path), else an error. `all` and `default` are not
/// interfaces but the namespace's own switches, never ours to write.
fn plain_ifname(ifname: &str) -> io::Result<&str> {
    crate::profile::check_ifname(ifname)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    if ifname == "all" || ifname == "default" {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{ifname:?} is not an interface but a namespace-wide switch"),
        ));
    }
    Ok(ifname)
}

/// The only values ever written back.
fn plain_value(v: &str) -> io::Result<&'static str> {
    match v.trim() {
        "0" => Ok("0"),
        "1" => Ok("1"),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{:?} is not a forwarding value (0 or 1)", truncated(v)),
        )),
    }
}

/// A value from a record, short enough to log.
fn truncated(v: &str) -> String {
    v.chars().take(32).collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

impl Family {
    fn name(self) -> &'static str {
        match self {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        }
    }
}

/// One interface's forwarding switch.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Knob {
    family: Family,
    ifname: String,
}

impl Knob {
    fn v4(ifname: &str) -> io::Result<Knob> {
        Ok(Knob {
            family: Family::V4,
            ifname: plain_ifname(ifname)?.to_string(),
        })
    }

    /// The knob a recorded path names, only if it is exactly
    /// `/proc/sys/net/ipv{4,6}/conf/<plain ifname>/forwarding`.
    fn from_path(path: &Path) -> io::Result<Knob> {
        let refused = || {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not an interface's forwarding switch", path.display()),
            )
        };
        let s = path.to_str().ok_or_else(refused)?;
        let (family, rest) = if let Some(r) = s.strip_prefix("/proc/sys/net/ipv4/conf/") {
            (Family::V4, r)
        } else if let Some(r) = s.strip_prefix("/proc/sys/net/ipv6/conf/") {
            (Family::V6, r)
        } else {
            return Err(refused());
        };
        let ifname = rest.strip_suffix("/forwarding").ok_or_else(refused)?;
        plain_ifname(ifname).map_err(|_| refused())?;
        Ok(Knob {
            family,
            ifname: ifname.to_string(),
        })
    }

    /// Its directory's name in the registry: `ipv4-eth0`.
    fn key(&self) -> String {
        format!("{}-{}", self.family.name(), self.ifname)
    }

    fn from_key(key: &str) -> io::Result<Knob> {
        let bad = || {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{:?} is not a registry entry", truncated(key)),
            )
        };
        let (family, ifname) = if let Some(i) = key.strip_prefix("ipv4-") {
            (Family::V4, i)
        } else if let Some(i) = key.strip_prefix("ipv6-") {
            (Family::V6, i)
        } else {
            return Err(bad());
        };
        plain_ifname(ifname).map_err(|_| bad())?;
        Ok(Knob {
            family,
            ifname: ifname.to_string(),
        })
    }

    /// Its sysctl under `sys` (`/proc/sys`, or a test's tree).
    fn path(&self, sys: &Path) -> PathBuf {
        sys.join(format!(
            "net/{}/conf/{}/forwarding",
            self.family.name(),
            self.ifname
        ))
    }
}

/// The forwarding switch of one interface.
pub fn path(ifname: &str) -> io::Result<PathBuf> {
    Ok(Knob::v4(ifname)?.path(Path::new("/proc/sys")))
}

/// The interface the console reaches `addr` through (`ip route get`).
pub fn egress(addr: Ipv4Addr) -> io::Result<String> {
    let out = Command::new("ip")
        .args(["-j", "route", "get", &addr.to_string()])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run ip (iproute2): {e}")))?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "no route to {addr}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| io::Error::other(format!("ip route get {addr}: {e}")))?;
    let dev = v[0]["dev"]
        .as_str()
        .ok_or_else(|| io::Error::other(format!("ip route get {addr}: no device")))?;
    Ok(plain_ifname(dev)?.to_string())
}

fn with_path(path: &Path) -> impl Fn(io::Error) -> io::Error + '_ {
    move |e| io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// A small file, not through a symlink.
fn read_small(path: &Path) -> io::Result<String> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(OFlag::O_NOFOLLOW.bits())
        .open(path)?;
    let mut s = String::new();
    f.take(64).read_to_string(&mut s)?;
    Ok(s)
}

/// The registry of holders, for one host (all its namespaces).
#[derive(Clone, Debug)]
struct Registry {
    /// `<run dir>/forwarding`.
    dir: PathBuf,
    /// Where the sysctls are: `/proc/sys` but in tests.
    sys: PathBuf,
}

/// The registry's lock, held while holders and records change.
struct Locked {
    _lock: Flock<File>,
    /// This namespace's directory.
    net: PathBuf,
}

impl Registry {
    fn host() -> Registry {
        let run = std::env::var_os(RUN_DIR_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_RUN_DIR));
        Registry {
            dir: run.join("forwarding"),
            sys: PathBuf::from("/proc/sys"),
        }
    }

    /// Takes the registry's lock, creating the registry if `create`; None
    /// if it does not exist and may not be created. Refused unless the
    /// registry is a directory of ours nobody else may enter, and the run
    /// directory above it is root's or ours and writable by nobody else:
    /// root writes what it finds there.
    fn lock(&self, create: bool) -> io::Result<Option<Locked>> {
        let run = self.dir.parent().unwrap_or(Path::new("/"));
        if create {
            for d in [run, self.dir.as_path()] {
                match DirBuilder::new().mode(0o700).create(d) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(with_path(d)(e)),
                }
            }
        }
        let euid = nix::unistd::geteuid().as_raw();
        let refuse = |d: &Path, why: String| {
            Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{}: refused as the forwarding registry: {why}", d.display()),
            ))
        };
        let meta = match fs::symlink_metadata(run) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound && !create => return Ok(None),
            Err(e) => return Err(with_path(run)(e)),
        };
        if !meta.is_dir() {
            return refuse(run, "not a directory".into());
        }
        if meta.uid() != 0 && meta.uid() != euid {
            return refuse(run, format!("owned by uid {}", meta.uid()));
        }
        if meta.mode() & 0o022 != 0 {
            return refuse(run, format!("mode {:04o}", meta.mode() & 0o7777));
        }
        let meta = match fs::symlink_metadata(&self.dir) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound && !create => return Ok(None),
            Err(e) => return Err(with_path(&self.dir)(e)),
        };
        if !meta.is_dir() {
            return refuse(&self.dir, "not a directory".into());
        }
        if meta.uid() != euid {
            return refuse(
                &self.dir,
                format!("owned by uid {}, not {euid}", meta.uid()),
            );
        }
        if meta.mode() & 0o077 != 0 {
            return refuse(
                &self.dir,
                format!("mode {:04o}, want 0700", meta.mode() & 0o7777),
            );
        }
        let path = self.dir.join("lock");
        let f = super::state::open_lock_file(&path).map_err(with_path(&path))?;
        let lock =
            Flock::lock(f, FlockArg::LockExclusive).map_err(|(_, e)| with_path(&path)(e.into()))?;
        // The calling thread's namespace: a thread that entered another
        // one (setns) writes that one's sysctls.
        let ns = Path::new("/proc/thread-self/ns/net");
        let id = fs::metadata(ns).map_err(with_path(ns))?;
        Ok(Some(Locked {
            _lock: lock,
            net: self.dir.join(format!("net-{}-{}", id.dev(), id.ino())),
        }))
    }

    /// Registers a holder of `knob`, recording the value to put back if
    /// forwarding is off and nobody recorded one yet.
    fn take(&self, knob: Knob) -> io::Result<Hold> {
        let locked = self
            .lock(true)?
            .ok_or_else(|| io::Error::other("no registry"))?;
        let dir = locked.net.join(knob.key());
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(with_path(&dir))?;
        // The hold first: a crash after the switch leaves a record with a
        // dead holder, which the next start puts back.
        let (file, path) = loop {
            let path = dir.join(format!("hold-{:016x}", rand::rngs::OsRng.next_u64()));
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(OFlag::O_NOFOLLOW.bits())
                .open(&path)
            {
                Ok(f) => break (f, path),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(with_path(&path)(e)),
            }
        };
        let file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(l) => l,
            Err((_, e)) => {
                let _ = fs::remove_file(&path);
                return Err(with_path(&path)(e.into()));
            }
        };
        match self.record_if_off(&dir, &knob) {
            Ok(switched) => Ok(Hold {
                registry: self.clone(),
                knob,
                dir,
                path,
                file: Some(file),
                switched,
            }),
            Err(e) => {
                let _ = fs::remove_file(&path);
                drop(file);
                if let Err(e) = self.settle(&dir, &knob) {
                    tracing::error!(error = %e, "forwarding registry");
                }
                Err(e)
            }
        }
    }

    /// Whether the switch is on for calls only (off before the first of
    /// them), recording `0` for it if it is off now with no record.
    fn record_if_off(&self, dir: &Path, knob: &Knob) -> io::Result<bool> {
        let sysctl = knob.path(&self.sys);
        let now = read_small(&sysctl).map_err(with_path(&sysctl))?;
        // The kernel takes any non-zero value as on.
        let on = match now.trim().parse::<i64>() {
            Ok(v) => v != 0,
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: unexpected {:?}", sysctl.display(), truncated(&now)),
                ))
            }
        };
        let recorded = match read_record(dir) {
            Ok(v) => v.is_some(),
            Err(e) => {
                tracing::error!(dir = %dir.display(), error = %e,
                    "forwarding record refused and removed");
                let _ = fs::remove_file(dir.join("was"));
                false
            }
        };
        if recorded {
            return Ok(true);
        }
        if on {
            return Ok(false);
        }
        write_record(dir, "0")?;
        Ok(true)
    }

    /// With no live holder of `knob` left: puts back what was recorded
    /// and removes the record; true if there was a value to put back. A
    /// record that does not hold a value is refused, logged and removed,
    /// never written.
    fn settle(&self, dir: &Path, knob: &Knob) -> io::Result<bool> {
        if live_holders(dir)? > 0 {
            return Ok(false);
        }
        let sysctl = knob.path(&self.sys);
        let mut restored = false;
        match read_record(dir) {
            Ok(Some(v)) => {
                write_back(&sysctl, v)?;
                remove_record(dir)?;
                restored = true;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(dir = %dir.display(), error = %e,
                    "forwarding record refused: nothing written");
                remove_record(dir)?;
            }
        }
        // Empty now, unless a holder came in between (it cannot: we hold
        // the lock) or something else was put there, which stays.
        let _ = fs::remove_dir(dir);
        if let Some(net) = dir.parent() {
            let _ = fs::remove_dir(net);
        }
        Ok(restored)
    }

    /// Puts back what holders that are gone left switched on in this
    /// namespace; returns how many interfaces it settled.
    fn repair(&self) -> io::Result<usize> {
        let Some(locked) = self.lock(false)? else {
            return Ok(0);
        };
        let entries = match fs::read_dir(&locked.net) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(with_path(&locked.net)(e)),
        };
        let mut settled = 0;
        for entry in entries {
            let entry = entry.map_err(with_path(&locked.net))?;
            let name = entry.file_name();
            let knob = match Knob::from_key(&name.to_string_lossy()) {
                Ok(k) => k,
                Err(e) => {
                    tracing::warn!(error = %e, dir = %locked.net.display(),
                        "left alone in the forwarding registry");
                    continue;
                }
            };
            match self.settle(&entry.path(), &knob) {
                Ok(true) => settled += 1,
                Ok(false) => {}
                Err(e) => tracing::error!(error = %e, "could not restore forwarding"),
            }
        }
        let _ = fs::remove_dir(&locked.net);
        Ok(settled)
    }

    /// A value an old enablement record kept: put back now if nobody
    /// holds the interface, else left to its last holder to put back.
    fn adopt(&self, knob: &Knob, was: &'static str) -> io::Result<()> {
        let sysctl = knob.path(&self.sys);
        let Some(locked) = self.lock(false)? else {
            return write_back(&sysctl, was);
        };
        let dir = locked.net.join(knob.key());
        if live_holders(&dir)? == 0 {
            return write_back(&sysctl, was);
        }
        if matches!(read_record(&dir), Ok(Some(_))) {
            return Ok(());
        }
        write_record(&dir, was)
    }
}

/// How many holders of the interface of `dir` are alive, removing the
/// hold files of the dead (unlocked: their process is gone).
fn live_holders(dir: &Path) -> io::Result<usize> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(with_path(dir)(e)),
    };
    let mut live = 0;
    for entry in entries {
        let path = entry.map_err(with_path(dir))?.path();
        if !path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("hold-"))
        {
            continue;
        }
        let f = match OpenOptions::new()
            .read(true)
            .custom_flags(OFlag::O_NOFOLLOW.bits())
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(with_path(&path)(e)),
        };
        match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
            Ok(_dead) => {
                tracing::debug!(hold = %path.display(), "a holder that is gone");
                fs::remove_file(&path).map_err(with_path(&path))?;
            }
            Err((_, Errno::EWOULDBLOCK)) => live += 1,
            Err((_, e)) => return Err(with_path(&path)(e.into())),
        }
    }
    Ok(live)
}

/// The recorded value, if any; an error for one that is not `0` or `1`.
fn read_record(dir: &Path) -> io::Result<Option<&'static str>> {
    match read_small(&dir.join("was")) {
        Ok(s) => plain_value(&s).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(with_path(&dir.join("was"))(e)),
    }
}

/// Written whole or not at all (renamed into place).
fn write_record(dir: &Path, was: &'static str) -> io::Result<()> {
    let tmp = dir.join("was.tmp");
    let _ = fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(OFlag::O_NOFOLLOW.bits())
        .open(&tmp)
        .map_err(with_path(&tmp))?;
    f.write_all(was.as_bytes()).map_err(with_path(&tmp))?;
    f.sync_all().map_err(with_path(&tmp))?;
    fs::rename(&tmp, dir.join("was")).map_err(with_path(dir))
}

fn remove_record(dir: &Path) -> io::Result<()> {
    match fs::remove_file(dir.join("was")) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(with_path(dir)(e)),
        _ => Ok(()),
    }
}

/// Writes a checked value to a checked switch; an interface that is gone
/// (the call's own TUN, after the call) has nothing to put back.
fn write_back(sysctl: &Path, was: &'static str) -> io::Result<()> {
    if !sysctl.exists() {
        return Ok(());
    }
    fs::write(sysctl, was).map_err(with_path(sysctl))?;
    tracing::debug!(path = %sysctl.display(), value = was, "forwarding restored");
    Ok(())
}

/// One call's hold on one interface's forwarding, for as long as the call
/// needs it. Dropping it (or [`Hold::release`]) lets go; the last holder
/// to let go puts back what the first found.
#[derive(Debug)]
pub struct Hold {
    registry: Registry,
    knob: Knob,
    dir: PathBuf,
    path: PathBuf,
    file: Option<Flock<File>>,
    switched: bool,
}

impl Hold {
    /// Holds `ifname`'s IPv4 forwarding in this namespace. Nothing is
    /// switched yet ([`Hold::switch_on`]): the call's rules go first.
    pub fn take(ifname: &str) -> io::Result<Hold> {
        Registry::host().take(Knob::v4(ifname)?)
    }

    pub fn ifname(&self) -> &str {
        &self.knob.ifname
    }

    /// Whether forwarding here is on for calls only: it was off before
    /// the first holder, so nothing but calls' replies may be forwarded.
    pub fn switched(&self) -> bool {
        self.switched
    }

    /// Switches forwarding on, if it was off before the calls.
    pub fn switch_on(&self) -> io::Result<()> {
        if !self.switched {
            return Ok(());
        }
        let p = self.knob.path(&self.registry.sys);
        fs::write(&p, "1").map_err(with_path(&p))
    }

    /// Lets go; the last holder puts the value back.
    pub fn release(mut self) -> io::Result<()> {
        self.let_go()
    }

    fn let_go(&mut self) -> io::Result<()> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        // Without the lock the hold goes all the same (closed below): as
        // after a crash, the next start puts the value back.
        let locked = self.registry.lock(false);
        let _ = fs::remove_file(&self.path);
        drop(file);
        match locked? {
            Some(_locked) => self.registry.settle(&self.dir, &self.knob).map(drop),
            None => Err(io::Error::other(format!(
                "{}: the forwarding registry is gone",
                self.registry.dir.display()
            ))),
        }
    }

    /// What a crash does: the hold file closed, nothing else.
    #[cfg(test)]
    fn crash(mut self) {
        self.file.take();
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if let Err(e) = self.let_go() {
            tracing::error!(interface = %self.knob.ifname, error = %e,
                "could not restore forwarding");
        }
    }
}

/// At a start, under the call lock: puts back the forwarding of holders
/// that are gone (crashed calls of any line) in this namespace. A live
/// holder's interfaces are left as they are.
pub fn repair() -> io::Result<usize> {
    Registry::host().repair()
}

/// Puts back the settings an enablement record written before the
/// registry kept, each only if it is an interface's forwarding switch and
/// `0` or `1` (anything else is refused and logged, never written), and
/// only if no live call holds that interface (then its last holder puts
/// it back). An interface that is gone has nothing to put back.
pub fn restore(list: &[Sysctl]) {
    restore_in(&Registry::host(), list)
}

fn restore_in(registry: &Registry, list: &[Sysctl]) {
    for s in list {
        let checked = Knob::from_path(&s.path).and_then(|k| Ok((k, plain_value(&s.was)?)));
        let (knob, was) = match checked {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "recorded forwarding setting refused: nothing written");
                continue;
            }
        };
        if let Err(e) = registry.adopt(&knob, was) {
            tracing::error!(interface = %knob.ifname, error = %e, "could not restore forwarding");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A registry in a fresh directory, over a fake sysctl tree holding
    /// `ifaces` with their values.
    struct Lab {
        top: PathBuf,
        reg: Registry,
    }

    impl Lab {
        fn new(tag: &str, ifaces: &[(&str, &str)]) -> Lab {
            let top =
                std::env::temp_dir().join(format!("carrier-fwdreg-{tag}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&top);
            DirBuilder::new().mode(0o700).create(&top).unwrap();
            let sys = top.join("sys");
            let lab = Lab {
                reg: Registry {
                    dir: top.join("run/forwarding"),
                    sys,
                },
                top,
            };
            for (i, v) in ifaces {
                lab.set(i, v);
            }
            lab
        }

        fn sysctl(&self, ifname: &str) -> PathBuf {
            Knob::v4(ifname).unwrap().path(&self.reg.sys)
        }

        fn set(&self, ifname: &str, v: &str) {
            let p = self.sysctl(ifname);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, v).unwrap();
        }

        fn get(&self, ifname: &str) -> String {
            fs::read_to_string(self.sysctl(ifname))
                .unwrap()
                .trim()
                .to_string()
        }

        fn take(&self, ifname: &str) -> Hold {
            let h = self.reg.take(Knob::v4(ifname).unwrap()).unwrap();
            h.switch_on().unwrap();
            h
        }

        /// This namespace's entries left in the registry.
        fn entries(&self) -> Vec<String> {
            let Ok(Some(l)) = self.reg.lock(false) else {
                return Vec::new();
            };
            let mut v: Vec<String> = walk(&l.net);
            v.sort();
            v
        }
    }

    fn walk(d: &Path) -> Vec<String> {
        let Ok(rd) = fs::read_dir(d) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_dir() {
                out.extend(walk(&e.path()).into_iter().map(|n| format!("{name}/{n}")));
            } else {
                out.push(name);
            }
        }
        out
    }

    impl Drop for Lab {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.top);
        }
    }

    #[test]
    fn only_plain_interface_names_make_paths() {
        assert_eq!(
            path("eth0").unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/conf/eth0/forwarding")
        );
        for bad in [
            "",
            "..",
            "../all",
            "a/b",
            "a:b",
            "a b",
            "0123456789abcdef",
            "all",
            "default",
        ] {
            assert!(path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn two_holders_the_last_to_let_go_puts_it_back_in_either_order() {
        for first_out in [0, 1] {
            let lab = Lab::new(&format!("two{first_out}"), &[("lan0", "0")]);
            let mut holds = vec![lab.take("lan0"), lab.take("lan0")];
            assert!(holds.iter().all(Hold::switched));
            assert_eq!(lab.get("lan0"), "1");
            holds.remove(first_out).release().unwrap();
            assert_eq!(lab.get("lan0"), "1", "the other call still needs it");
            holds.pop().unwrap().release().unwrap();
            assert_eq!(lab.get("lan0"), "0", "put back by the last");
            assert!(lab.entries().is_empty(), "{:?}", lab.entries());
        }
    }

    #[test]
    fn a_later_holder_knows_the_switch_is_the_calls_and_puts_it_back_last() {
        // The first call switched lan0 on; the second finds it on but
        // must still treat it as switched (its rules drop other
        // forwarding there) and, outliving the first, put it back.
        let lab = Lab::new("later", &[("lan0", "0")]);
        let a = lab.take("lan0");
        let b = lab.take("lan0");
        assert!(b.switched());
        drop(a);
        assert_eq!(lab.get("lan0"), "1");
        drop(b);
        assert_eq!(lab.get("lan0"), "0");
    }

    #[test]
    fn forwarding_on_before_the_calls_is_not_theirs() {
        let lab = Lab::new("on", &[("lan0", "1")]);
        let a = lab.take("lan0");
        assert!(!a.switched());
        lab.set("lan0", "1");
        a.release().unwrap();
        assert_eq!(lab.get("lan0"), "1");
        assert!(lab.entries().is_empty(), "{:?}", lab.entries());
    }

    #[test]
    fn a_crashed_holder_counts_for_nothing() {
        let lab = Lab::new("crash", &[("lan0", "0"), ("lan1", "0")]);
        // Crashed while another call still holds lan0: repair leaves it.
        let a = lab.take("lan0");
        let b = lab.take("lan0");
        a.crash();
        assert_eq!(lab.reg.repair().unwrap(), 0);
        assert_eq!(lab.get("lan0"), "1", "b is alive");
        // b outlives the dead one and puts the value back.
        b.release().unwrap();
        assert_eq!(lab.get("lan0"), "0");
        // Crashed alone: the next start puts it back.
        lab.take("lan1").crash();
        assert_eq!(lab.get("lan1"), "1");
        assert_eq!(lab.reg.repair().unwrap(), 1);
        assert_eq!(lab.get("lan1"), "0");
        assert!(lab.entries().is_empty(), "{:?}", lab.entries());
    }

    #[test]
    fn a_holder_after_a_crash_keeps_the_first_value() {
        // A call crashed with lan0 on, nobody repaired; the next call
        // finds it on, yet must put back the 0 from before the crash.
        let lab = Lab::new("after", &[("lan0", "0")]);
        lab.take("lan0").crash();
        let b = lab.take("lan0");
        assert!(b.switched());
        b.release().unwrap();
        assert_eq!(lab.get("lan0"), "0");
    }

    #[test]
    fn a_damaged_record_is_refused_and_never_written() {
        let lab = Lab::new("bad", &[("lan0", "0")]);
        lab.take("lan0").crash();
        let l = lab.reg.lock(false).unwrap().unwrap();
        let was = l.net.join("ipv4-lan0/was");
        drop(l);
        fs::write(&was, "0\n; ip_forward=1").unwrap();
        assert_eq!(lab.reg.repair().unwrap(), 0);
        assert_eq!(lab.get("lan0"), "1", "nothing written");
        assert!(lab.entries().is_empty(), "{:?}", lab.entries());
    }

    #[test]
    fn a_registry_others_could_write_is_refused() {
        let lab = Lab::new("perm", &[("lan0", "0")]);
        drop(lab.take("lan0"));
        fs::set_permissions(&lab.reg.dir, fs::Permissions::from_mode(0o755)).unwrap();
        let e = lab.reg.take(Knob::v4("lan0").unwrap()).unwrap_err();
        assert!(e.to_string().contains("refused"), "{e}");
        fs::set_permissions(&lab.reg.dir, fs::Permissions::from_mode(0o700)).unwrap();
        let run = lab.reg.dir.parent().unwrap();
        fs::set_permissions(run, fs::Permissions::from_mode(0o777)).unwrap();
        assert!(lab.reg.repair().is_err());
        fs::set_permissions(run, fs::Permissions::from_mode(0o700)).unwrap();
        if nix::unistd::geteuid().is_root() {
            let nobody = Some(nix::unistd::Uid::from_raw(65534));
            nix::unistd::chown(&lab.reg.dir, nobody, None).unwrap();
            let e = lab.reg.repair().unwrap_err();
            assert!(e.to_string().contains("owned by uid 65534"), "{e}");
        }
        assert_eq!(lab.get("lan0"), "0");
    }

    #[test]
    fn old_records_are_restored_only_as_forwarding_switches_and_values() {
        let lab = Lab::new("old", &[("lan0", "1"), ("lan1", "1"), ("lan2", "1")]);
        let target = lab.top.join("precious");
        fs::write(&target, "keep").unwrap();
        let s = |p: &str, v: &str| Sysctl {
            path: PathBuf::from(p),
            was: v.into(),
        };
        restore_in(
            &lab.reg,
            &[
                s(target.to_str().unwrap(), "0"),
                s("/proc/sys/net/ipv4/ip_forward", "1"),
                s("/proc/sys/net/ipv4/conf/all/forwarding", "1"),
                s(
                    "/proc/sys/net/ipv4/conf/../../../../../etc/x/forwarding",
                    "0",
                ),
                s("/proc/sys/net/ipv4/conf/lan0/forwarding", "2"),
                s("/proc/sys/net/ipv4/conf/lan0/forwarding", "0 \n1"),
                s("/proc/sys/net/ipv4/conf/gone0/forwarding", "0"),
                s("/proc/sys/net/ipv4/conf/lan1/forwarding", "0"),
            ],
        );
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep");
        assert_eq!(lab.get("lan0"), "1", "refused values are never written");
        assert_eq!(lab.get("lan1"), "0", "a valid record is put back");
        assert!(!lab.sysctl("gone0").exists(), "nothing is created");
        // Held by a live call: handed to its last holder instead.
        let h = lab.take("lan2");
        assert!(!h.switched(), "on when the call began");
        restore_in(
            &lab.reg,
            &[s("/proc/sys/net/ipv4/conf/lan2/forwarding", "0")],
        );
        assert_eq!(lab.get("lan2"), "1", "the live call still needs it");
        drop(h);
        assert_eq!(lab.get("lan2"), "0");
    }

    #[test]
    fn recorded_paths_are_checked_exactly() {
        let ok = Knob::from_path(Path::new("/proc/sys/net/ipv6/conf/eth0/forwarding")).unwrap();
        assert_eq!(ok.family, Family::V6);
        for bad in [
            "/proc/sys/net/ipv4/conf/eth0/forwarding/",
            "/proc/sys/net/ipv4/conf/eth0/rp_filter",
            "/proc/sys/net/ipv4/conf/a/b/forwarding",
            "/proc/sys/net/ipv4/conf/default/forwarding",
            "proc/sys/net/ipv4/conf/eth0/forwarding",
            "/proc/sys/net/ipv4/conf//forwarding",
        ] {
            assert!(Knob::from_path(Path::new(bad)).is_err(), "{bad}");
        }
        for bad in ["", "01", "-1", "2", "yes"] {
            assert!(plain_value(bad).is_err(), "{bad:?}");
        }
    }

    /// Two holders of one interface in a network namespace of their own:
    /// the real sysctl, put back by the last; a crash repaired. Root only
    /// (must run under CI=true).
    #[test]
    fn two_holders_in_a_namespace() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        let ns = format!("carrier-fwd-{}", std::process::id());
        let made = Command::new("ip")
            .args(["netns", "add", &ns])
            .status()
            .is_ok_and(|s| s.success());
        if !made {
            assert!(!ci, "cannot create a network namespace under CI");
            eprintln!("SKIP: cannot create network namespaces here (not root?)");
            return;
        }
        struct Del(String);
        impl Drop for Del {
            fn drop(&mut self) {
                let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
            }
        }
        let _del = Del(ns.clone());
        let ok = Command::new("ip")
            .args([
                "-n", &ns, "link", "add", "fwdt0", "type", "veth", "peer", "name", "fwdt1",
            ])
            .status()
            .unwrap();
        assert!(ok.success());
        let lab = Lab::new("netns", &[]);
        let reg = Registry {
            dir: lab.reg.dir.clone(),
            sys: PathBuf::from("/proc/sys"),
        };
        let host_id = fs::metadata("/proc/thread-self/ns/net").unwrap().ino();
        let nsfile = File::open(format!("/run/netns/{ns}")).unwrap();
        std::thread::spawn(move || {
            nix::sched::setns(&nsfile, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            let id = fs::metadata("/proc/thread-self/ns/net").unwrap().ino();
            assert_ne!(id, host_id);
            let sysctl = |i: &str| {
                fs::read_to_string(format!("/proc/sys/net/ipv4/conf/{i}/forwarding"))
                    .unwrap()
                    .trim()
                    .to_string()
            };
            // A new namespace may inherit the host's defaults: off, here.
            for i in ["fwdt0", "fwdt1"] {
                fs::write(format!("/proc/sys/net/ipv4/conf/{i}/forwarding"), "0").unwrap();
            }
            let take = |i: &str| {
                let h = reg.take(Knob::v4(i).unwrap()).unwrap();
                h.switch_on().unwrap();
                h
            };
            let (a, b) = (take("fwdt0"), take("fwdt0"));
            assert_eq!(sysctl("fwdt0"), "1");
            a.release().unwrap();
            assert_eq!(sysctl("fwdt0"), "1", "the second call still holds it");
            b.release().unwrap();
            // A new namespace may inherit the host's defaults: off, here.
            for i in ["fwdt0", "fwdt1"] {
                fs::write(format!("/proc/sys/net/ipv4/conf/{i}/forwarding"), "0").unwrap();
            }
            take("fwdt1").crash();
            assert_eq!(sysctl("fwdt1"), "1");
            assert_eq!(reg.repair().unwrap(), 1);
            assert_eq!(sysctl("fwdt1"), "0");
        })
        .join()
        .unwrap();
        // The host's namespace has no entries of the test's.
        assert!(lab.entries().is_empty(), "{:?}", lab.entries());
    }
}
