//! The enablement record: enabled, consumed by the first call that
//! authenticates, or disabled. It lives in one file, mode 0600, replaced
//! atomically, so a crash at any moment leaves either the old record or
//! the new one, and a consumed enablement stays consumed across restarts.

use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rand::RngCore;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::secrets::SecretsError;
use zeroize::Zeroizing;

/// One setting as it was before a call changed it, as enablement records
/// written before the registry kept it ([`super::forwarding`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sysctl {
    pub path: PathBuf,
    pub was: String,
}

/// Opens (creating it 0600 if need be) a file whose only job is to be
/// locked: never through a symlink, never truncated.
pub(super) fn open_lock_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(path)
}

#[derive(Debug, Error)]
pub enum InboundError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error("{path}: not a valid enablement record: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("inbound service is not enabled")]
    NotEnabled,
    #[error("inbound service was already used by a call at {0} (unix time); enable it again for another")]
    Consumed(u64),
    #[error("inbound service was disabled at {0} (unix time)")]
    Disabled(u64),
    #[error("a service call is in progress{}; disable it first", .0.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    InProgress(Option<u32>),
    #[error("{0}")]
    Invalid(String),
    /// A file or directory root would act on that someone else could
    /// have written.
    #[error("{path}: refused: {why}")]
    Untrusted { path: PathBuf, why: String },
}

impl InboundError {
    /// The exit status: a call that may not be answered is told apart from
    /// a configuration or an I/O failure.
    pub fn exit_code(&self) -> u8 {
        use InboundError as E;
        match self {
            E::NotEnabled | E::Consumed(_) | E::Disabled(_) | E::InProgress(_) => {
                crate::exit::INBOUND_CLOSED
            }
            E::Invalid(_) | E::Corrupt { .. } | E::Secrets(_) | E::Untrusted { .. } => {
                crate::exit::CONFIG
            }
            E::Io { .. } => crate::exit::FATAL,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Enabled,
    Consumed,
    Disabled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthKind {
    Chap,
    Pap,
}

/// A partition the customer allows the caller to reach.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    pub name: String,
    /// Its real address on the console's LAN.
    pub address: Ipv4Addr,
    /// The address the caller uses for it, on the link.
    pub alias: Ipv4Addr,
}

/// The caller's secret: never printed by Debug, only by `reveal`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StoredSecret(String);

impl StoredSecret {
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for StoredSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<hidden>")
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enablement {
    pub state: State,
    pub enabled_at: u64,
    pub consumed_at: Option<u64>,
    pub disabled_at: Option<u64>,
    /// The console's address on the link.
    pub ppp_local: Ipv4Addr,
    /// The address given to the caller.
    pub ppp_remote: Ipv4Addr,
    pub partitions: Vec<Partition>,
    /// Whether the caller may reach the console itself (on the service
    /// ports only).
    pub console_access: bool,
    pub auth: AuthKind,
    pub user: String,
    /// Kept in clear because CHAP's authenticator needs the secret itself
    /// (RFC 1994 §4.1); the file is mode 0600.
    pub secret: StoredSecret,
    /// Forwarding settings a call of an earlier version changed, as they
    /// were before, for the next start to put back (checked first: see
    /// [`super::forwarding::restore`]). Calls now keep them in the
    /// host's registry ([`super::forwarding::Hold`]), so two lines
    /// sharing an interface do not undo each other's.
    #[serde(default)]
    pub forwarding_was: Vec<Sysctl>,
    /// The numbers the service call may come from (caller ID; see
    /// [`crate::modem::screen`]), as compared: digits, a trailing `*` for
    /// a prefix. Empty: any caller. Records written before this field
    /// existed have none.
    #[serde(default)]
    pub allowed_callers: Vec<String>,
    /// The call may carry IPv6 too (IPv6CP, link-local only), under the
    /// same firewall. Records written before this field existed: IPv4
    /// only.
    #[serde(default)]
    pub ipv6: bool,
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The default alias of the n-th partition (0-based): host .11, .12, ...
/// of the console's PPP address's /24.
pub fn default_alias(ppp_local: Ipv4Addr, n: usize) -> Ipv4Addr {
    let o = ppp_local.octets();
    Ipv4Addr::new(o[0], o[1], o[2], 11u8.saturating_add(n as u8))
}

impl Enablement {
    /// A fresh enablement with new credentials: a name derived from the
    /// console's PPP address and a 128-bit random secret.
    pub fn new(
        ppp_local: Ipv4Addr,
        ppp_remote: Ipv4Addr,
        partitions: Vec<Partition>,
        console_access: bool,
        auth: AuthKind,
    ) -> Result<Enablement, InboundError> {
        if ppp_local == ppp_remote {
            return Err(InboundError::Invalid(
                "the console's and the caller's PPP addresses must differ".into(),
            ));
        }
        // What the PPP core would never give a peer or take as its own
        // (pppd's bad_ip_adrs): refused now, not when the call comes.
        let named = [("--ppp-local", ppp_local), ("--ppp-remote", ppp_remote)];
        let aliases = partitions.iter().map(|p| ("a partition's alias", p.alias));
        for (what, a) in named.into_iter().chain(aliases) {
            if a.is_unspecified() || crate::ppp::addrs::is_bad(a) {
                return Err(InboundError::Invalid(format!(
                    "{what} {a} is not an address a link can use (0.0.0.0, loopback, multicast or class E)"
                )));
            }
        }
        let mut seen = vec![ppp_local, ppp_remote];
        for p in &partitions {
            if seen.contains(&p.alias) {
                return Err(InboundError::Invalid(format!(
                    "alias {} of partition {} is used twice",
                    p.alias, p.name
                )));
            }
            seen.push(p.alias);
        }
        let mut raw = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let secret = raw.iter().map(|b| format!("{b:02x}")).collect::<String>();
        Ok(Enablement {
            state: State::Enabled,
            enabled_at: now(),
            consumed_at: None,
            disabled_at: None,
            ppp_local,
            ppp_remote,
            partitions,
            console_access,
            auth,
            user: format!("service-{}", ppp_local.to_string().replace('.', "-")),
            secret: StoredSecret(secret),
            forwarding_was: Vec::new(),
            allowed_callers: Vec::new(),
            ipv6: false,
        })
    }

    /// Whether a call may be answered now.
    pub fn check_usable(&self) -> Result<(), InboundError> {
        match self.state {
            State::Enabled => Ok(()),
            State::Consumed => Err(InboundError::Consumed(self.consumed_at.unwrap_or(0))),
            State::Disabled => Err(InboundError::Disabled(self.disabled_at.unwrap_or(0))),
        }
    }
}

/// The directory holding the record and its lock.
#[derive(Clone, Debug)]
pub struct Store {
    dir: PathBuf,
}

const RECORD: &str = "inbound.json";
const LOCK: &str = "inbound.lock";

impl Store {
    pub fn new(dir: &Path) -> Store {
        Store {
            dir: dir.to_path_buf(),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(RECORD)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn io(&self, path: &Path) -> impl Fn(std::io::Error) -> InboundError {
        let path = path.to_path_buf();
        move |source| InboundError::Io {
            path: path.clone(),
            source,
        }
    }

    /// Runs `f` on the record under an exclusive lock, saving what it
    /// returns, so `enable`, `disable` and a consuming call never race.
    pub fn update<T>(
        &self,
        f: impl FnOnce(Option<Enablement>) -> Result<(Option<Enablement>, T), InboundError>,
    ) -> Result<T, InboundError> {
        check_dir(&self.dir, true)?;
        let lock_path = self.dir.join(LOCK);
        let lock = open_lock_file(&lock_path).map_err(self.io(&lock_path))?;
        let lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| self.io(&lock_path)(e.into()))?;
        let current = self.load()?;
        let (next, out) = f(current)?;
        if let Some(e) = next {
            self.save(&e)?;
        }
        drop(lock);
        Ok(out)
    }

    /// The record, if there is one. Refused unless it is a file of ours
    /// that only we can read, in a directory nobody else can write: root
    /// writes what it names.
    pub fn load(&self) -> Result<Option<Enablement>, InboundError> {
        let path = self.path();
        if !check_dir(&self.dir, false)? {
            return Ok(None);
        }
        let io = self.io(&path);
        let mut f = match OpenOptions::new()
            .read(true)
            .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) => {
                return Err(InboundError::Untrusted {
                    path,
                    why: "a symbolic link".into(),
                })
            }
            Err(e) => return Err(io(e)),
        };
        // Checked on the descriptor read: the file checked is the file read.
        let meta = f.metadata().map_err(&io)?;
        let euid = nix::unistd::geteuid().as_raw();
        if !meta.is_file() {
            return Err(InboundError::Untrusted {
                path,
                why: "not a regular file".into(),
            });
        }
        if meta.uid() != euid {
            return Err(InboundError::Untrusted {
                path,
                why: format!("owned by uid {}, not by {euid}", meta.uid()),
            });
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(SecretsError::Permissions { path, mode }.into());
        }
        let mut text = Zeroizing::new(String::new());
        f.read_to_string(&mut text).map_err(io)?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| InboundError::Corrupt {
                path,
                message: e.to_string(),
            })
    }

    /// Writes a temporary file (0600), syncs it, renames it over the
    /// record and syncs the directory: all or nothing.
    fn save(&self, e: &Enablement) -> Result<(), InboundError> {
        let path = self.path();
        let tmp = self.dir.join(format!(".{RECORD}.{}", std::process::id()));
        let text = serde_json::to_string_pretty(e).map_err(|err| InboundError::Corrupt {
            path: path.clone(),
            message: err.to_string(),
        })?;
        let _ = fs::remove_file(&tmp);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(self.io(&tmp))?;
        f.write_all(text.as_bytes()).map_err(self.io(&tmp))?;
        f.sync_all().map_err(self.io(&tmp))?;
        fs::rename(&tmp, &path).map_err(self.io(&path))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(self.io(&self.dir))?;
        Ok(())
    }
}

/// The state directory, created (0700) if `create` and missing: refused
/// unless it is a directory owned by root or by us that nobody else can
/// write, since whoever can write it can replace the record root acts on.
/// False if it does not exist (and was not to be created).
pub fn check_dir(dir: &Path, create: bool) -> Result<bool, InboundError> {
    let io = |source| InboundError::Io {
        path: dir.to_path_buf(),
        source,
    };
    if create {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io)?;
    }
    // The directory itself, not what a link in its place points at.
    let meta = match fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !create => return Ok(false),
        Err(e) => return Err(io(e)),
    };
    let untrusted = |why: String| InboundError::Untrusted {
        path: dir.to_path_buf(),
        why: format!(
            "{why}; the state directory must be root's or ours and writable by nobody else"
        ),
    };
    if !meta.is_dir() {
        return Err(untrusted("not a directory".into()));
    }
    let euid = nix::unistd::geteuid().as_raw();
    if meta.uid() != 0 && meta.uid() != euid {
        return Err(untrusted(format!("owned by uid {}", meta.uid())));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(untrusted(format!(
            "mode {:04o} lets others write it",
            meta.mode() & 0o7777
        )));
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("carrier-inbound-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    fn sample() -> Enablement {
        Enablement::new(
            Ipv4Addr::new(10, 99, 0, 1),
            Ipv4Addr::new(10, 99, 0, 2),
            vec![Partition {
                name: "lpar1".into(),
                address: Ipv4Addr::new(192, 168, 50, 11),
                alias: default_alias(Ipv4Addr::new(10, 99, 0, 1), 0),
            }],
            true,
            AuthKind::Chap,
        )
        .unwrap()
    }

    #[test]
    fn credentials_are_derived_and_random() {
        let (a, b) = (sample(), sample());
        assert_eq!(a.user, "service-10-99-0-1");
        assert_eq!(a.secret.reveal().len(), 32, "128 bits in hex");
        assert_ne!(a.secret, b.secret);
        assert!(!format!("{a:?}").contains(a.secret.reveal()));
        assert_eq!(a.partitions[0].alias, Ipv4Addr::new(10, 99, 0, 11));
    }

    #[test]
    fn saved_atomically_with_mode_600() {
        let dir = tmpdir("save");
        let store = Store::new(&dir);
        let e = sample();
        store.update(|_| Ok((Some(e.clone()), ()))).unwrap();
        let mode = fs::metadata(store.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(store.load().unwrap(), Some(e));
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn corrupt_or_exposed_record_is_an_error() {
        let dir = tmpdir("corrupt");
        let store = Store::new(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::write(store.path(), "{not json").unwrap();
        fs::set_permissions(store.path(), fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(store.load(), Err(InboundError::Corrupt { .. })));
        fs::set_permissions(store.path(), fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(store.load(), Err(InboundError::Secrets(_))));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_record_from_before_caller_screening_still_loads() {
        let dir = tmpdir("old");
        let store = Store::new(&dir);
        let e = sample();
        let mut v = serde_json::to_value(&e).unwrap();
        v.as_object_mut().unwrap().remove("allowed_callers");
        fs::create_dir_all(&dir).unwrap();
        fs::write(store.path(), v.to_string()).unwrap();
        fs::set_permissions(store.path(), fs::Permissions::from_mode(0o600)).unwrap();
        let loaded = store.load().unwrap().unwrap();
        assert!(loaded.allowed_callers.is_empty(), "any caller, as before");
        assert_eq!(loaded, e);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_record_or_directory_someone_else_could_write_is_refused() {
        let dir = tmpdir("trust");
        let store = Store::new(&dir);
        let e = sample();
        store.update(|_| Ok((Some(e.clone()), ()))).unwrap();
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "created private");
        // A directory others can write: whoever can could swap the record.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        let err = store.load().unwrap_err();
        assert!(matches!(err, InboundError::Untrusted { .. }), "{err}");
        assert!(err.to_string().contains("writable by nobody else"), "{err}");
        assert!(store.update(|_| Ok((None, ()))).is_err());
        assert!(super::super::lock::CallLock::acquire(&dir).is_err());
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(store.load().unwrap(), Some(e.clone()));
        // A record that is a link, even to a private file of ours.
        let real = dir.join("elsewhere.json");
        fs::rename(store.path(), &real).unwrap();
        std::os::unix::fs::symlink(&real, store.path()).unwrap();
        let err = store.load().unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        fs::remove_file(store.path()).unwrap();
        fs::rename(&real, store.path()).unwrap();
        // Someone else's record, mode 0600 or not.
        if nix::unistd::geteuid().is_root() {
            let nobody = Some(nix::unistd::Uid::from_raw(65534));
            nix::unistd::chown(&store.path(), nobody, None).unwrap();
            let err = store.load().unwrap_err();
            assert!(err.to_string().contains("owned by uid 65534"), "{err}");
            assert_eq!(err.exit_code(), crate::exit::CONFIG);
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn usable_only_while_enabled() {
        let mut e = sample();
        assert!(e.check_usable().is_ok());
        e.state = State::Consumed;
        e.consumed_at = Some(5);
        assert!(matches!(e.check_usable(), Err(InboundError::Consumed(5))));
        e.state = State::Disabled;
        assert!(matches!(e.check_usable(), Err(InboundError::Disabled(_))));
    }

    #[test]
    fn duplicate_aliases_are_refused() {
        let p = |alias| Partition {
            name: "x".into(),
            address: Ipv4Addr::new(192, 168, 1, 1),
            alias,
        };
        let r = Enablement::new(
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 2),
            vec![p(Ipv4Addr::new(10, 0, 0, 2))],
            false,
            AuthKind::Pap,
        );
        assert!(matches!(r, Err(InboundError::Invalid(_))));
    }

    #[test]
    fn addresses_no_link_can_use_are_refused_at_enable() {
        let ok = Ipv4Addr::new(10, 99, 0, 1);
        for bad in ["127.0.0.1", "224.0.0.1", "240.0.0.1", "0.0.0.0"] {
            let bad: Ipv4Addr = bad.parse().unwrap();
            for (local, remote, alias) in [
                (bad, ok, None),
                (ok, bad, None),
                (ok, Ipv4Addr::new(10, 99, 0, 2), Some(bad)),
            ] {
                let partitions = alias
                    .map(|alias| Partition {
                        name: "p".into(),
                        address: Ipv4Addr::new(192, 168, 1, 1),
                        alias,
                    })
                    .into_iter()
                    .collect();
                let e = Enablement::new(local, remote, partitions, false, AuthKind::Chap);
                assert!(
                    matches!(&e, Err(InboundError::Invalid(m)) if m.contains(&bad.to_string())),
                    "{local} {remote} {alias:?}: {e:?}"
                );
            }
        }
    }
}
