//! Dial profiles: what wvdial keeps in the sections of /etc/wvdial.conf
//! and pppd in /etc/ppp/peers, as one TOML file per provider.
//!
//! ```toml
//! device = "usb-Conexant_USB_Modem_24680246-if02"   # or /dev/ttyS0
//! speed = 115200
//! init = ["ATZ", "AT&F E1 V1 Q0 &C1 &D2"]
//! numbers = [
//!     { number = "312 555 0100", label = "Chicago" },
//!     "212 555 0199",
//! ]
//! user = "internet.account.userid"
//! password-file = "att.password"   # relative to this file; mode 600
//! defaultroute = true
//! usepeerdns = true
//! ```
//!
//! Every field is optional, so that a flag on the command line can supply
//! or override any of them. PPP options keep pppd's names.
//!
//! A profile named `NAME` is the file `NAME.toml` in the first of
//! [`config_dirs`] that has one: `$CARRIER_CONFIG_DIR` alone when it is
//! set; otherwise `$XDG_CONFIG_HOME/carrier` (or `~/.config/carrier`), then
//! `/etc/carrier` when running as root.
//!
//! Every error names the file, the line and the field, in one line:
//! `/etc/carrier/att.toml:7: numbers[1].number: "55x1" is not a dialable number`.

mod error;
mod field_path;
mod fields;
mod locate;
mod options;
mod resolve;
mod validate;

use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ppp::auth::Secret;
use crate::secrets::read_private;

use error::{one_line, shorten_unknown_field};
use field_path::{key, line_of, locate_in_table, path_string, span_of};

pub use error::{MergeError, ProfileError, ProfileErrorKind};
pub use fields::{AsyncMap, Flow, Ipv6Setting, Password, PhoneNumber};
pub use locate::{config_dirs, config_dirs_from, resolve_device};
pub use options::PppOptions;
pub use resolve::{
    merge, required_auth, DialOverrides, ResolvedDial, DEFAULT_HOLDOFF, DEFAULT_IFNAME,
    DEFAULT_MAXFAIL,
};
pub use validate::{
    check_ifname, check_init_command, is_dialable, MAX_SECONDS, SPEEDS, STANDARD_SPEEDS,
};

/// One dial profile. Fields are in the file's kebab-case (`dial-prefix`,
/// `lcp-echo-interval`); see the module documentation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Profile {
    // --- The line.
    /// A device path (`/dev/ttyUSB0`), or a bare name: a `/dev/serial/by-id`
    /// link or a node in /dev (see [`Profile::device_path`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<PathBuf>,
    /// Line speed, bit/s: any rate the port takes (termios2), 50 to 16000000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<Flow>,
    /// Lock files go here (default /var/lock).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock_dir: Option<PathBuf>,

    // --- The modem and the call.
    /// AT commands sent in order before dialing, each waiting for OK.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init: Vec<String>,
    /// Numbers tried in order: plain strings or `{ number, label }` tables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub numbers: Vec<PhoneNumber>,
    /// Dialed before every number: `9,` for an outside line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dial_prefix: Option<String>,
    /// Pulse dialing (ATDP) instead of tone (ATDT).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pulse: Option<bool>,
    /// Further passes over the number list after the first (0: each
    /// number once), as in [`crate::modem::DialPlan`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// Seconds between attempts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff: Option<f64>,
    /// Seconds for the whole dialing, all numbers and retries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<f64>,
    /// Seconds from dialing to CONNECT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<f64>,
    /// A chat(8) script run instead of the built-in dialing (relative to
    /// the profile's directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_script: Option<PathBuf>,

    // --- Authentication.
    /// Our name for PAP/CHAP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Our password. The profile file must then be mode 600. Never
    /// serialized: write it to a password-file instead.
    #[serde(skip_serializing)]
    pub password: Option<Password>,
    /// A file whose first line is our password (mode 600; relative to the
    /// profile's directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// The authenticator's name for secrets lookups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remotename: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_pap: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_chap: Option<bool>,
    /// Do not require the peer to authenticate itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noauth: Option<bool>,

    // --- PPP, with pppd's names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mru: Option<u16>,
    /// Hex string (`"000a0000"`, `"0x0"`) or integer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asyncmap: Option<AsyncMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lcp_echo_interval: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lcp_echo_failure: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lcp_echo_adaptive: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defaultroute: Option<bool>,
    /// pppd's `demand`: dial when the host sends traffic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demand: Option<bool>,
    /// pppd's `active-filter`, in carrier's subset of tcpdump's language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_filter: Option<String>,
    /// pppd's `ipparam`: the last argument of ip-up and friends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipparam: Option<String>,
    /// pppd's `linkname`: LINKNAME in the scripts' environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linkname: Option<String>,
    /// pppd's `defaultroute6`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defaultroute6: Option<bool>,
    /// `true` is pppd's `+ipv6`; `"LOCAL,REMOTE"` its `ipv6 ::1,::2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<Ipv6Setting>,
    /// pppd's `novj`, `vj-max-slots` (2-16), `novjccomp`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub novj: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vj_max_slots: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub novjccomp: Option<bool>,
    /// pppd's `noccp`, `deflate R,A`, `nodeflate`, `nodeflatedraft`,
    /// `bsdcomp R,A`, `nobsdcomp` (sizes as strings: "15" or "15,12").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noccp: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deflate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodeflate: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodeflatedraft: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bsdcomp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nobsdcomp: Option<bool>,
    /// pppd's `noip`: IPv6 alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noip: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usepeerdns: Option<bool>,
    /// Where `usepeerdns` writes the peer's DNS servers while IP is up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolv_conf: Option<PathBuf>,
    /// Redial when the link goes down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persist: Option<bool>,
    /// Seconds to wait before redialing under `persist`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holdoff: Option<u64>,
    /// Give up after this many failed connections under `persist` (0: never).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maxfail: Option<u32>,
    /// Hang up after this many seconds without data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ifname: Option<String>,
    /// Write every PPP frame to this pcap file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pcap: Option<PathBuf>,

    /// Where the profile was read from, for later errors.
    #[serde(skip)]
    origin: Origin,
}

/// Where a profile came from: its file and the line of each top-level key,
/// for errors found after loading (an unreadable password-file). It does
/// not take part in comparisons.
#[derive(Clone, Debug, Default)]
struct Origin {
    file: Option<PathBuf>,
    lines: Vec<(String, usize)>,
}

impl PartialEq for Origin {
    fn eq(&self, _: &Origin) -> bool {
        true
    }
}

impl Origin {
    fn line(&self, key: &str) -> Option<usize> {
        self.lines.iter().find(|(k, _)| k == key).map(|(_, l)| *l)
    }
}

impl Profile {
    /// Parses a profile from text; `file` names it in errors. Relative
    /// paths are left as written; see [`Profile::load`].
    pub fn parse(text: &str, file: Option<&Path>) -> Result<Profile, ProfileError> {
        let err = |line: Option<usize>, field: Option<String>, kind| ProfileError {
            file: file.map(Path::to_path_buf),
            line,
            field,
            kind,
        };
        let doc = toml_edit::ImDocument::parse(text).map_err(|e| {
            err(
                e.span().map(|s| line_of(text, s.start)),
                None,
                ProfileErrorKind::Syntax(one_line(e.message())),
            )
        })?;
        let root = doc.as_table();
        let mut profile: Profile = toml::from_str(text).map_err(|e| {
            let at = e.span();
            let path = at
                .as_ref()
                .and_then(|s| locate_in_table(root, s.start))
                .filter(|p| !p.is_empty());
            // Missing fields point at their table, an unknown one at itself.
            let message = shorten_unknown_field(&one_line(e.message()));
            err(
                at.map(|s| line_of(text, s.start)),
                path.map(|p| path_string(&p)),
                ProfileErrorKind::Schema(message),
            )
        })?;
        if let Err((path, message)) = profile.validate() {
            let line = span_of(root, &path).map(|s| line_of(text, s.start));
            return Err(err(
                line,
                Some(path_string(&path)),
                ProfileErrorKind::Invalid(message),
            ));
        }
        profile.origin = Origin {
            file: file.map(Path::to_path_buf),
            lines: root
                .iter()
                .filter_map(|(k, _)| {
                    let s = span_of(root, &[key(k)])?;
                    Some((k.to_string(), line_of(text, s.start)))
                })
                .collect(),
        };
        Ok(profile)
    }

    /// Reads a profile file. A file holding a `password` must be readable
    /// by its owner only. Relative `password-file` and `connect-script`
    /// paths are taken from the profile's directory.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let io_err = |e| ProfileError {
            file: Some(path.to_path_buf()),
            line: None,
            field: None,
            kind: ProfileErrorKind::Io(e),
        };
        // The mode is taken from the open descriptor: the file checked is
        // the file read.
        let mut f = fs::File::open(path).map_err(io_err)?;
        let mode = f.metadata().map_err(io_err)?.mode() & 0o7777;
        let mut text = String::new();
        f.read_to_string(&mut text).map_err(io_err)?;
        let mut profile = Profile::parse(&text, Some(path))?;
        if profile.password.is_some() && mode & 0o077 != 0 {
            return Err(ProfileError {
                file: Some(path.to_path_buf()),
                line: profile.origin.line("password"),
                field: Some("password".into()),
                kind: ProfileErrorKind::Permissions { mode },
            });
        }
        let base = path.parent().unwrap_or(Path::new(""));
        for p in [&mut profile.password_file, &mut profile.connect_script]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(profile)
    }

    /// The file this profile was read from, if any.
    pub fn file(&self) -> Option<&Path> {
        self.origin.file.as_deref()
    }

    /// Writes the profile as TOML (without the password).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// Our password: the profile's own, or the first line of its
    /// password-file (read only if its mode is 600 or stricter). Errors
    /// name the profile's line of `password-file`.
    pub fn load_password(&self) -> Result<Option<Secret>, ProfileError> {
        if let Some(p) = &self.password {
            return Ok(Some(p.secret().clone()));
        }
        let Some(pf) = &self.password_file else {
            return Ok(None);
        };
        let text = read_private(pf).map_err(|e| ProfileError {
            file: self.origin.file.clone(),
            line: self.origin.line("password-file"),
            field: Some("password-file".into()),
            kind: ProfileErrorKind::PasswordFile(e),
        })?;
        let line = text.lines().next().unwrap_or("");
        Ok(Some(Secret::new(line.trim_end_matches('\r').as_bytes())))
    }

    // A profile from `parse` has these checked; one built or deserialized
    // some other way may not, and a negative or NaN number of seconds is
    // then no time given rather than a panic.

    pub fn backoff(&self) -> Option<Duration> {
        self.backoff
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
    }

    pub fn deadline(&self) -> Option<Duration> {
        self.deadline
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
    }

    pub fn connect_timeout(&self) -> Option<Duration> {
        self.connect_timeout
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::SecretsError;
    use std::os::unix::fs::PermissionsExt;

    pub(super) fn parse(text: &str) -> Result<Profile, ProfileError> {
        Profile::parse(text, Some(Path::new("/etc/carrier/t.toml")))
    }

    pub(super) fn error(text: &str) -> String {
        match parse(text) {
            Ok(p) => panic!("parsed: {p:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn example() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/att-global.toml")
    }

    pub(super) fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, text).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn full_profile_round_trips() {
        let text = r#"
device = "/dev/ttyS0"
speed = 115200
flow = "rtscts"
lock-dir = "/run/lock"
init = ["ATZ", "AT&F E1 V1 &C1 &D2"]
numbers = [{ number = "312 555 0100", label = "Chicago" }, "212-555-0199"]
dial-prefix = "9,"
pulse = false
retries = 3
backoff = 2.5
deadline = 300
connect-timeout = 60
connect-script = "/etc/carrier/att.chat"
user = "internet.acct.user"
password-file = "/etc/carrier/att.pw"
remotename = "att"
require-pap = false
require-chap = false
noauth = true
mru = 1500
asyncmap = "000a0000"
lcp-echo-interval = 30
lcp-echo-failure = 4
lcp-echo-adaptive = true
defaultroute = true
usepeerdns = true
persist = true
holdoff = 10
maxfail = 5
idle = 600
ifname = "ppp0"
pcap = "/tmp/att.pcap"
"#;
        let p = parse(text).unwrap();
        assert_eq!(p.device_path(), Some(PathBuf::from("/dev/ttyS0")));
        assert_eq!(p.speed, Some(115200));
        assert_eq!(p.flow, Some(Flow::RtsCts));
        assert_eq!(p.numbers.len(), 2);
        assert_eq!(p.numbers[0].label.as_deref(), Some("Chicago"));
        assert_eq!(p.numbers[1], PhoneNumber::new("212-555-0199"));
        assert_eq!(p.backoff(), Some(Duration::from_millis(2500)));
        assert_eq!(p.deadline(), Some(Duration::from_secs(300)));
        assert_eq!(p.asyncmap, Some(AsyncMap(0x000a_0000)));
        assert_eq!(p.file(), Some(Path::new("/etc/carrier/t.toml")));
        let again = parse(&p.to_toml()).unwrap();
        assert_eq!(again, p);
        assert_eq!(again.to_toml(), p.to_toml());
        // An empty profile is a profile.
        assert_eq!(parse("").unwrap(), Profile::default());
    }

    #[test]
    fn unknown_keys() {
        assert_eq!(
            error("speed = 9600\npasword = \"x\""),
            "/etc/carrier/t.toml:2: pasword: unknown field; did you mean `password`?"
        );
        assert_eq!(
            error("colour = \"blue\""),
            "/etc/carrier/t.toml:1: colour: unknown field"
        );
        assert_eq!(
            error("numbers = [{ number = \"1\", lable = \"x\" }]"),
            "/etc/carrier/t.toml:1: numbers[0].lable: unknown field; did you mean `label`?"
        );
        // A table where none belongs.
        let e = error("speed = 9600\n\n[modem]\nspeed = 1");
        assert!(
            e.starts_with("/etc/carrier/t.toml:3: modem: unknown field"),
            "{e}"
        );
    }

    #[test]
    fn wrong_types() {
        assert_eq!(
            error("device = \"/dev/ttyS0\"\nspeed = \"fast\""),
            "/etc/carrier/t.toml:2: speed: invalid type: string \"fast\", expected u32"
        );
        assert_eq!(
            error("retries = -1"),
            "/etc/carrier/t.toml:1: retries: invalid value: integer `-1`, expected u32"
        );
        assert_eq!(
            error("flow = \"hardware\""),
            "/etc/carrier/t.toml:1: flow: unknown variant `hardware`, expected one of `rtscts`, `xonxoff`, `none`"
        );
        assert_eq!(
            error("init = \"ATZ\""),
            "/etc/carrier/t.toml:1: init: invalid type: string \"ATZ\", expected a sequence"
        );
        assert_eq!(
            error("numbers = [\n 5551234]"),
            "/etc/carrier/t.toml:2: numbers[0]: invalid type: integer `5551234`, expected \
             a number as a string, or a table { number = \"...\", label = \"...\" }"
        );
        assert_eq!(
            error("numbers = [{ label = \"Chicago\" }]"),
            "/etc/carrier/t.toml:1: numbers[0]: missing field `number`"
        );
        // The password's value never appears in a message.
        let e = error("password = 123456");
        assert_eq!(
            e,
            "/etc/carrier/t.toml:1: password: must be a string (in quotes)"
        );
    }

    #[test]
    fn syntax_errors_have_a_line() {
        let e = error("speed = 9600\ndevice = /dev/ttyS0\n");
        assert!(e.starts_with("/etc/carrier/t.toml:2: "), "{e}");
        assert!(!e.contains('\n'), "{e}");
        let e = error("speed = 9600\nspeed = 9600\n");
        assert!(e.starts_with("/etc/carrier/t.toml:2: "), "{e}");
        assert!(e.contains("duplicate key"), "{e}");
    }

    #[test]
    fn a_password_in_a_readable_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "att.toml",
            "user = \"u\"\n\npassword = \"hunter2\"\n",
            0o644,
        );
        let e = Profile::load(&p).unwrap_err();
        assert!(matches!(
            e.kind,
            ProfileErrorKind::Permissions { mode: 0o644 }
        ));
        assert_eq!(
            e.to_string(),
            format!(
                "{}:3: password: the file holds a password but its mode 0644 lets group or \
                 others read it; chmod 600 it, or move the password to a password-file",
                p.display()
            )
        );
        assert!(!e.to_string().contains("hunter2"));
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        let prof = Profile::load(&p).unwrap();
        assert_eq!(prof.load_password().unwrap().unwrap().expose(), b"hunter2");
        // Without a password the mode does not matter.
        let q = write(dir.path(), "open.toml", "user = \"u\"\n", 0o644);
        assert!(Profile::load(&q).is_ok());
    }

    #[test]
    fn the_password_file_is_read_with_its_mode_checked() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "att.pw", "s3cret\r\nignored\n", 0o640);
        let p = write(
            dir.path(),
            "att.toml",
            "user = \"u\"\npassword-file = \"att.pw\"\n",
            0o644,
        );
        let prof = Profile::load(&p).unwrap();
        assert_eq!(prof.password_file, Some(dir.path().join("att.pw")));
        let e = prof.load_password().unwrap_err();
        assert!(matches!(
            e.kind,
            ProfileErrorKind::PasswordFile(SecretsError::Permissions { mode: 0o640, .. })
        ));
        assert_eq!(
            e.to_string(),
            format!(
                "{}:2: password-file: {}: mode 0640 lets group or others read it; chmod 600 it",
                p.display(),
                dir.path().join("att.pw").display()
            )
        );
        fs::set_permissions(dir.path().join("att.pw"), fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(prof.load_password().unwrap().unwrap().expose(), b"s3cret");
    }

    #[test]
    fn the_example_profile_parses() {
        let p = Profile::load(&example()).unwrap();
        assert!(p.numbers.len() >= 3, "{p:?}");
        assert!(p.numbers.iter().all(|n| n.label.is_some()));
        assert!(p.password.is_none());
        assert_eq!(
            p.password_file,
            Some(example().parent().unwrap().join("att-global.password"))
        );
        assert_eq!(p.require_pap, None);
        assert!(p.user.is_some());
        assert_eq!(parse(&p.to_toml()).unwrap(), p);
    }
}
