//! Finding profiles and devices: the configuration directories, named
//! profiles, and device names resolved under /dev.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{Profile, ProfileError, ProfileErrorKind};

/// Where `/dev/serial/by-id` names and bare device names are looked up.
const DEV: &str = "/dev";

/// The directories profiles are looked for in, in order: see the module
/// documentation.
pub fn config_dirs() -> Vec<PathBuf> {
    config_dirs_from(
        std::env::var_os("CARRIER_CONFIG_DIR"),
        std::env::var_os("XDG_CONFIG_HOME"),
        std::env::var_os("HOME"),
        nix::unistd::geteuid().is_root(),
    )
}

/// [`config_dirs`] from the given environment: `$CARRIER_CONFIG_DIR` alone
/// if set; else `$XDG_CONFIG_HOME/carrier` (an absolute one; else
/// `$HOME/.config/carrier`), then `/etc/carrier` for root.
pub fn config_dirs_from(
    carrier: Option<OsString>,
    xdg: Option<OsString>,
    home: Option<OsString>,
    root: bool,
) -> Vec<PathBuf> {
    let set = |v: Option<OsString>| v.filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = set(carrier) {
        return vec![dir];
    }
    let mut dirs = Vec::new();
    // The XDG spec: a relative XDG_CONFIG_HOME is invalid and ignored.
    match set(xdg).filter(|p| p.is_absolute()) {
        Some(x) => dirs.push(x.join("carrier")),
        None => {
            if let Some(h) = set(home) {
                dirs.push(h.join(".config/carrier"));
            }
        }
    }
    if root {
        dirs.push(PathBuf::from("/etc/carrier"));
    }
    dirs
}

impl Profile {
    /// The profile `NAME`: `NAME.toml` in the first of `dirs` that has it.
    pub fn named(name: &str, dirs: &[PathBuf]) -> Result<Profile, ProfileError> {
        let bad = name.is_empty()
            || name.starts_with('.')
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '@'));
        if bad {
            return Err(ProfileError {
                file: None,
                line: None,
                field: None,
                kind: ProfileErrorKind::BadName(name.to_string()),
            });
        }
        for dir in dirs {
            let p = dir.join(format!("{name}.toml"));
            match fs::metadata(&p) {
                Ok(_) => return Profile::load(&p),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                // Present but unreadable (a directory we may not enter):
                // say so rather than fall through to the next one.
                Err(_) => return Profile::load(&p),
            }
        }
        Err(ProfileError {
            file: None,
            line: None,
            field: None,
            kind: ProfileErrorKind::NotFound {
                name: name.to_string(),
                searched: dirs.to_vec(),
            },
        })
    }

    /// What a user gives on the command line: a path (anything with a `/`
    /// or ending in `.toml`) or a name looked up in [`config_dirs`].
    pub fn find(name_or_path: &str) -> Result<Profile, ProfileError> {
        if name_or_path.contains('/') || name_or_path.ends_with(".toml") {
            Profile::load(Path::new(name_or_path))
        } else {
            Profile::named(name_or_path, &config_dirs())
        }
    }

    /// The device to open: a path as given; a bare name is a
    /// /dev/serial/by-id link if there is one, else a node in /dev.
    pub fn device_path(&self) -> Option<PathBuf> {
        self.device
            .as_deref()
            .map(|d| resolve_device(d, Path::new(DEV)))
    }
}

/// [`Profile::device_path`] against a given /dev.
pub fn resolve_device(device: &Path, dev: &Path) -> PathBuf {
    if device.components().count() > 1 || device.is_absolute() {
        return device.to_path_buf();
    }
    let by_id = dev.join("serial/by-id").join(device);
    if by_id.exists() {
        by_id
    } else {
        dev.join(device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::tests::write;

    #[test]
    fn named_profiles_are_searched_in_order() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        write(b.path(), "isp.toml", "speed = 9600\n", 0o644);
        let dirs = vec![a.path().to_path_buf(), b.path().to_path_buf()];
        assert_eq!(Profile::named("isp", &dirs).unwrap().speed, Some(9600));
        write(a.path(), "isp.toml", "speed = 57600\n", 0o644);
        let p = Profile::named("isp", &dirs).unwrap();
        assert_eq!(p.speed, Some(57600));
        assert_eq!(p.file(), Some(a.path().join("isp.toml").as_path()));
        let e = Profile::named("nope", &dirs).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "no profile \"nope\" (nope.toml in {}, {})",
                a.path().display(),
                b.path().display()
            )
        );
        for bad in ["../etc/passwd", "", ".hidden", "a b"] {
            let e = Profile::named(bad, &dirs).unwrap_err();
            assert!(matches!(e.kind, ProfileErrorKind::BadName(_)), "{bad}: {e}");
        }
        // A broken profile stops the search with its own message.
        write(a.path(), "broken.toml", "speed = 1\n", 0o644);
        write(b.path(), "broken.toml", "speed = 9600\n", 0o644);
        let e = Profile::named("broken", &dirs).unwrap_err();
        assert!(e.to_string().starts_with(&format!(
            "{}:1: speed: 1 is not",
            a.path().join("broken.toml").display()
        )));
    }

    #[test]
    fn config_dir_order() {
        let s = |v: &str| Some(OsString::from(v));
        assert_eq!(
            config_dirs_from(s("/cfg"), s("/x"), s("/home/u"), true),
            [PathBuf::from("/cfg")]
        );
        assert_eq!(
            config_dirs_from(None, s("/x"), s("/home/u"), false),
            [PathBuf::from("/x/carrier")]
        );
        assert_eq!(
            config_dirs_from(s(""), s("relative"), s("/home/u"), false),
            [PathBuf::from("/home/u/.config/carrier")]
        );
        assert_eq!(
            config_dirs_from(None, None, s("/root"), true),
            [
                PathBuf::from("/root/.config/carrier"),
                PathBuf::from("/etc/carrier")
            ]
        );
        assert_eq!(
            config_dirs_from(None, None, None, true),
            [PathBuf::from("/etc/carrier")]
        );
    }

    #[test]
    fn devices_by_id_or_name() {
        let dev = tempfile::tempdir().unwrap();
        fs::create_dir_all(dev.path().join("serial/by-id")).unwrap();
        fs::write(dev.path().join("serial/by-id/usb-Modem-if00"), "").unwrap();
        assert_eq!(
            resolve_device(Path::new("usb-Modem-if00"), dev.path()),
            dev.path().join("serial/by-id/usb-Modem-if00")
        );
        assert_eq!(
            resolve_device(Path::new("ttyS0"), dev.path()),
            dev.path().join("ttyS0")
        );
        assert_eq!(
            resolve_device(Path::new("/dev/ttyUSB1"), dev.path()),
            PathBuf::from("/dev/ttyUSB1")
        );
        assert_eq!(
            resolve_device(Path::new("links/modem0"), dev.path()),
            PathBuf::from("links/modem0")
        );
    }
}
