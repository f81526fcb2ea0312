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

use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::ops::Range;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

use crate::ppp::auth::Secret;
use crate::secrets::{read_private, SecretsError};

/// Line speeds a serial port can be set to (the rates `carrier_hw::Tty`
/// knows).
pub const STANDARD_SPEEDS: [u32; 11] = [
    1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600,
];

/// Where `/dev/serial/by-id` names and bare device names are looked up.
const DEV: &str = "/dev";

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
    /// Line speed, bit/s; one of [`STANDARD_SPEEDS`].
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

/// Flow control on the serial line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Flow {
    /// Hardware: RTS/CTS (pppd's `crtscts`).
    #[serde(rename = "rtscts")]
    RtsCts,
    /// Software: XON/XOFF (pppd's `xonxoff`).
    #[serde(rename = "xonxoff")]
    XonXoff,
    /// None (pppd's `nocrtscts`).
    #[serde(rename = "none")]
    Off,
}

/// A number to dial, with an optional label for messages ("Chicago").
/// In a file: `"5551234"` or `{ number = "5551234", label = "Chicago" }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneNumber {
    pub number: String,
    pub label: Option<String>,
}

impl PhoneNumber {
    pub fn new(number: impl Into<String>) -> PhoneNumber {
        PhoneNumber {
            number: number.into(),
            label: None,
        }
    }
}

impl From<&PhoneNumber> for crate::modem::dial::Number {
    fn from(n: &PhoneNumber) -> Self {
        crate::modem::dial::Number {
            number: n.number.clone(),
            label: n.label.clone(),
        }
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.label {
            Some(l) => write!(f, "{} ({l})", self.number),
            None => f.write_str(&self.number),
        }
    }
}

impl<'de> Deserialize<'de> for PhoneNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Labeled {
            number: String,
            label: Option<String>,
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PhoneNumber;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a number as a string, or a table { number = \"...\", label = \"...\" }",
                )
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<PhoneNumber, E> {
                Ok(PhoneNumber::new(s))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<PhoneNumber, A::Error> {
                let l = Labeled::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(PhoneNumber {
                    number: l.number,
                    label: l.label,
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for PhoneNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.label {
            None => s.serialize_str(&self.number),
            Some(label) => {
                let mut t = s.serialize_struct("PhoneNumber", 2)?;
                t.serialize_field("number", &self.number)?;
                t.serialize_field("label", label)?;
                t.end()
            }
        }
    }
}

/// A password from a profile: prints as `<hidden>`, and is never
/// serialized.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(Secret);

impl Password {
    pub fn new(p: impl Into<Vec<u8>>) -> Password {
        Password(Secret::new(p))
    }

    pub fn secret(&self) -> &Secret {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<hidden>")
    }
}

impl<'de> Deserialize<'de> for Password {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Password;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Password, E> {
                Ok(Password::new(s.as_bytes()))
            }
            // The default messages would quote the value: a password
            // given as a number must not end up in an error line.
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Password, E> {
                Err(E::custom("must be a string (in quotes)"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Password, E> {
                Err(E::custom("must be a string (in quotes)"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Password, E> {
                Err(E::custom("must be a string (in quotes)"))
            }
        }
        d.deserialize_str(V)
    }
}

/// pppd's `asyncmap`: the control characters the peer must escape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AsyncMap(pub u32);

impl<'de> Deserialize<'de> for AsyncMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AsyncMap;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a 32-bit map as a hex string (\"000a0000\") or an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<AsyncMap, E> {
                u32::try_from(v)
                    .map(AsyncMap)
                    .map_err(|_| E::custom(format!("{v} does not fit in 32 bits")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<AsyncMap, E> {
                u32::try_from(v)
                    .map(AsyncMap)
                    .map_err(|_| E::custom(format!("{v} does not fit in 32 bits")))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<AsyncMap, E> {
                let t = s
                    .strip_prefix("0x")
                    .or_else(|| s.strip_prefix("0X"))
                    .unwrap_or(s);
                if t.is_empty() || t.len() > 8 {
                    return Err(E::custom(format!("{s:?} is not a 32-bit hex number")));
                }
                u32::from_str_radix(t, 16)
                    .map(AsyncMap)
                    .map_err(|_| E::custom(format!("{s:?} is not a 32-bit hex number")))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for AsyncMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:08x}", self.0))
    }
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

/// What went wrong with a profile; see [`ProfileError`].
#[derive(Debug)]
pub enum ProfileErrorKind {
    /// The file could not be read.
    Io(io::Error),
    /// No `NAME.toml` in any of the directories searched.
    NotFound {
        name: String,
        searched: Vec<PathBuf>,
    },
    /// A profile name that is not a plain file name.
    BadName(String),
    /// Not TOML.
    Syntax(String),
    /// TOML, but not a profile: an unknown key, a wrong type.
    Schema(String),
    /// A value a profile cannot have.
    Invalid(String),
    /// A password in a file that group or others can read.
    Permissions { mode: u32 },
    /// The password-file could not be read, or is readable by others.
    PasswordFile(SecretsError),
}

/// A profile that cannot be used. Its Display is the one line to show:
/// `FILE:LINE: FIELD: message`, leaving out what is not known.
#[derive(Debug)]
pub struct ProfileError {
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    /// The field's path in the file: `speed`, `numbers[1].number`.
    pub field: Option<String>,
    pub kind: ProfileErrorKind,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut prefix = String::new();
        if let Some(file) = &self.file {
            prefix.push_str(&file.display().to_string());
            if let Some(line) = self.line {
                prefix.push_str(&format!(":{line}"));
            }
            prefix.push_str(": ");
        }
        if let Some(field) = &self.field {
            prefix.push_str(field);
            prefix.push_str(": ");
        }
        f.write_str(&prefix)?;
        match &self.kind {
            ProfileErrorKind::Io(e) => write!(f, "{e}"),
            ProfileErrorKind::NotFound { name, searched } => {
                let dirs: Vec<String> = searched.iter().map(|d| d.display().to_string()).collect();
                if dirs.is_empty() {
                    write!(f, "no profile {name:?}: no configuration directory")
                } else {
                    write!(
                        f,
                        "no profile {name:?} ({name}.toml in {})",
                        dirs.join(", ")
                    )
                }
            }
            ProfileErrorKind::BadName(name) => write!(
                f,
                "{name:?} is not a profile name (letters, digits, - _ .; or give a path)"
            ),
            ProfileErrorKind::Syntax(m)
            | ProfileErrorKind::Schema(m)
            | ProfileErrorKind::Invalid(m) => f.write_str(m),
            ProfileErrorKind::Permissions { mode } => write!(
                f,
                "the file holds a password but its mode {mode:04o} lets group or others read it; \
                 chmod 600 it, or move the password to a password-file"
            ),
            ProfileErrorKind::PasswordFile(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ProfileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ProfileErrorKind::Io(e) => Some(e),
            ProfileErrorKind::PasswordFile(e) => Some(e),
            _ => None,
        }
    }
}

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

/// One step of a field's path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn path_string(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

fn key(k: &str) -> Seg {
    Seg::Key(k.to_string())
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn contains(span: Option<Range<usize>>, off: usize) -> bool {
    span.is_some_and(|s| s.contains(&off) || (s.is_empty() && s.start == off))
}

fn prepend(seg: Seg, mut rest: Vec<Seg>) -> Vec<Seg> {
    rest.insert(0, seg);
    rest
}

/// The path of the innermost key or value at byte `off`.
fn locate_in_table(t: &toml_edit::Table, off: usize) -> Option<Vec<Seg>> {
    for (k, _) in t.iter() {
        let (kk, item) = t.get_key_value(k)?;
        if contains(kk.span(), off) {
            return Some(vec![key(k)]);
        }
        if let Some(p) = locate_in_item(item, off) {
            return Some(prepend(key(k), p));
        }
    }
    None
}

fn locate_in_item(item: &toml_edit::Item, off: usize) -> Option<Vec<Seg>> {
    use toml_edit::Item;
    match item {
        Item::None => None,
        Item::Value(v) => locate_in_value(v, off),
        Item::Table(t) => {
            locate_in_table(t, off).or_else(|| contains(t.span(), off).then(Vec::new))
        }
        Item::ArrayOfTables(a) => {
            for (i, t) in a.iter().enumerate() {
                if let Some(p) = locate_in_table(t, off) {
                    return Some(prepend(Seg::Index(i), p));
                }
                if contains(t.span(), off) {
                    return Some(vec![Seg::Index(i)]);
                }
            }
            contains(a.span(), off).then(Vec::new)
        }
    }
}

fn locate_in_value(v: &toml_edit::Value, off: usize) -> Option<Vec<Seg>> {
    use toml_edit::Value;
    if !contains(v.span(), off) {
        return None;
    }
    match v {
        Value::Array(a) => {
            for (i, e) in a.iter().enumerate() {
                if let Some(p) = locate_in_value(e, off) {
                    return Some(prepend(Seg::Index(i), p));
                }
            }
        }
        Value::InlineTable(t) => {
            for (k, _) in t.iter() {
                let (kk, item) = t.get_key_value(k)?;
                if contains(kk.span(), off) {
                    return Some(vec![key(k)]);
                }
                if let Some(p) = locate_in_item(item, off) {
                    return Some(prepend(key(k), p));
                }
            }
        }
        _ => {}
    }
    Some(Vec::new())
}

/// The span to report for a path: a key's own span (its `key =` line),
/// an array element's value.
fn span_of(doc: &toml_edit::Table, path: &[Seg]) -> Option<Range<usize>> {
    let (first, rest) = path.split_first()?;
    let Seg::Key(k) = first else { return None };
    let (kk, item) = doc.get_key_value(k)?;
    // Cloning keeps the walk simple; profiles are small.
    span_of_rest(kk.span().or_else(|| item.span()), item.clone(), rest)
}

fn span_of_rest(
    span: Option<Range<usize>>,
    item: toml_edit::Item,
    rest: &[Seg],
) -> Option<Range<usize>> {
    use toml_edit::{Item, Value};
    let Some((seg, tail)) = rest.split_first() else {
        return span;
    };
    let next = match (seg, &item) {
        (Seg::Index(i), Item::Value(Value::Array(a))) => {
            a.get(*i).map(|v| (v.span(), Item::Value(v.clone())))
        }
        (Seg::Index(i), Item::ArrayOfTables(a)) => {
            a.get(*i).map(|t| (t.span(), Item::Table(t.clone())))
        }
        (Seg::Key(k), Item::Table(t)) => t
            .get_key_value(k)
            .map(|(kk, it)| (kk.span().or_else(|| it.span()), it.clone())),
        (Seg::Key(k), Item::Value(Value::InlineTable(t))) => t
            .get_key_value(k)
            .map(|(kk, it)| (kk.span().or_else(|| it.span()), it.clone())),
        _ => None,
    };
    match next {
        Some((s, it)) => span_of_rest(s.or(span), it, tail),
        None => span,
    }
}

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// serde's "unknown field `x`, expected one of `a`, `b`" is long for a
/// profile's forty fields: keep the news, and suggest a near name.
fn shorten_unknown_field(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message.to_string();
    };
    let Some((name, expected)) = rest.split_once('`') else {
        return message.to_string();
    };
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    let best = candidates
        .iter()
        .map(|c| (distance(name, c), *c))
        .min()
        .filter(|(d, c)| *d <= 2.max(c.len() / 4));
    match best {
        Some((_, c)) => format!("unknown field; did you mean `{c}`?"),
        None => "unknown field".to_string(),
    }
}

/// A one-line message from a parser's, which may span lines.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Whether `s` is made of what a dial string may hold: digits, `* # ,`,
/// the dial modifiers `W T P @ ! ;`, `+`, and spacing (` - ( )`).
pub fn is_dialable(s: &str) -> bool {
    s.chars().all(|c| {
        c.is_ascii_digit()
            || matches!(
                c,
                '*' | '#'
                    | ','
                    | 'W'
                    | 'T'
                    | 'P'
                    | 'w'
                    | 't'
                    | 'p'
                    | '@'
                    | '!'
                    | ';'
                    | '+'
                    | ' '
                    | '-'
                    | '('
                    | ')'
            )
    })
}

/// The longest time a profile may give, in seconds (about 31 years).
pub const MAX_SECONDS: u64 = 1_000_000_000;

/// A network interface name Linux takes: 1 to 15 bytes (IFNAMSIZ is 16
/// with the NUL), no `/`, `:` or spaces, not `.` or `..`.
pub fn check_ifname(n: &str) -> Result<(), String> {
    let ok = !n.is_empty()
        && n.len() <= 15
        && n != "."
        && n != ".."
        && !n.chars().any(|c| c == '/' || c == ':' || c.is_whitespace());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{n:?} is not an interface name (1 to 15 characters, no / : or spaces)"
        ))
    }
}

/// An init command must be one AT command line, without its CR.
pub fn check_init_command(cmd: &str) -> Result<(), String> {
    if !cmd.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("AT")) {
        return Err(format!("{cmd:?} is not an AT command"));
    }
    if cmd.chars().any(|c| c.is_control()) {
        return Err(format!("{cmd:?} has control characters (the CR is added)"));
    }
    Ok(())
}

fn seconds_ok(v: f64) -> bool {
    v.is_finite() && (0.0..=MAX_SECONDS as f64).contains(&v)
}

type Invalid = (Vec<Seg>, String);

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

    /// The device to open: a path as given; a bare name is a
    /// /dev/serial/by-id link if there is one, else a node in /dev.
    pub fn device_path(&self) -> Option<PathBuf> {
        self.device
            .as_deref()
            .map(|d| resolve_device(d, Path::new(DEV)))
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

    /// The first value this profile cannot have, with its path.
    fn validate(&self) -> Result<(), Invalid> {
        let bad = |path: Vec<Seg>, m: String| Err((path, m));
        if let Some(d) = &self.device {
            if d.as_os_str().is_empty() {
                return bad(vec![key("device")], "is empty".into());
            }
        }
        if let Some(s) = self.speed {
            if !STANDARD_SPEEDS.contains(&s) {
                return bad(
                    vec![key("speed")],
                    format!(
                        "{s} is not a standard rate ({})",
                        STANDARD_SPEEDS.map(|s| s.to_string()).join(", ")
                    ),
                );
            }
        }
        for (i, cmd) in self.init.iter().enumerate() {
            if let Err(m) = check_init_command(cmd) {
                return bad(vec![key("init"), Seg::Index(i)], m);
            }
        }
        for (i, n) in self.numbers.iter().enumerate() {
            let mut path = vec![key("numbers"), Seg::Index(i)];
            if n.label.is_some() {
                path.push(key("number"));
            }
            if n.number.trim().is_empty() {
                return bad(path, "is empty".into());
            }
            if !is_dialable(&n.number) {
                return bad(path, format!("{:?} is not a dialable number", n.number));
            }
        }
        if let Some(p) = &self.dial_prefix {
            if !is_dialable(p) {
                return bad(
                    vec![key("dial-prefix")],
                    format!("{p:?} is not dialable (digits, * # , W T P @ ! ; + - ( ) and spaces)"),
                );
            }
        }
        for (name, v) in [
            ("backoff", self.backoff),
            ("deadline", self.deadline),
            ("connect-timeout", self.connect_timeout),
        ] {
            if let Some(v) = v {
                if !seconds_ok(v) {
                    return bad(
                        vec![key(name)],
                        format!("{v} is not a number of seconds (0 or more)"),
                    );
                }
            }
        }
        // Whole seconds: any u64 parses, but past this a deadline would
        // overflow the clock.
        for (name, v) in [
            ("lcp-echo-interval", self.lcp_echo_interval),
            ("holdoff", self.holdoff),
            ("idle", self.idle),
        ] {
            if let Some(v) = v {
                if v > MAX_SECONDS {
                    return bad(
                        vec![key(name)],
                        format!("{v} seconds is too long (at most {MAX_SECONDS})"),
                    );
                }
            }
        }
        if self.password.is_some() && self.password_file.is_some() {
            return bad(
                vec![key("password-file")],
                "both password and password-file are set: keep one".into(),
            );
        }
        if let Some(p) = &self.password_file {
            if p.as_os_str().is_empty() {
                return bad(vec![key("password-file")], "is empty".into());
            }
        }
        if self.noauth == Some(true) {
            for (name, v) in [
                ("require-pap", self.require_pap),
                ("require-chap", self.require_chap),
            ] {
                if v == Some(true) {
                    return bad(vec![key(name)], "contradicts noauth = true".into());
                }
            }
        }
        if let Some(m) = self.mru {
            if !(128..=16384).contains(&m) {
                return bad(vec![key("mru")], format!("{m} is outside 128..16384"));
            }
        }
        if let Some(n) = &self.ifname {
            if let Err(m) = check_ifname(n) {
                return bad(vec![key("ifname")], m);
            }
        }
        Ok(())
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
    use std::os::unix::fs::PermissionsExt;

    fn parse(text: &str) -> Result<Profile, ProfileError> {
        Profile::parse(text, Some(Path::new("/etc/carrier/t.toml")))
    }

    fn error(text: &str) -> String {
        match parse(text) {
            Ok(p) => panic!("parsed: {p:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn example() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/att-global.toml")
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
    fn asyncmap_as_integer_or_hex() {
        assert_eq!(parse("asyncmap = 0").unwrap().asyncmap, Some(AsyncMap(0)));
        assert_eq!(
            parse("asyncmap = \"0xFFFFFFFF\"").unwrap().asyncmap,
            Some(AsyncMap(u32::MAX))
        );
        assert_eq!(
            error("\nasyncmap = \"0x1g\""),
            "/etc/carrier/t.toml:2: asyncmap: \"0x1g\" is not a 32-bit hex number"
        );
        assert_eq!(
            error("asyncmap = 4294967296"),
            "/etc/carrier/t.toml:1: asyncmap: 4294967296 does not fit in 32 bits"
        );
    }

    #[test]
    fn both_number_forms() {
        let p = parse(
            "[[numbers]]\nnumber = \"5551234\"\nlabel = \"Chicago\"\n\n[[numbers]]\nnumber = \"5550000\"\n",
        )
        .unwrap();
        assert_eq!(
            p.numbers,
            [
                PhoneNumber {
                    number: "5551234".into(),
                    label: Some("Chicago".into())
                },
                PhoneNumber::new("5550000")
            ]
        );
        let p = parse("numbers = [\"1\", { number = \"2\" }, { number = \"3\", label = \"x\" }]")
            .unwrap();
        assert_eq!(p.numbers[0], PhoneNumber::new("1"));
        assert_eq!(p.numbers[1], PhoneNumber::new("2"));
        assert_eq!(p.numbers[2].label.as_deref(), Some("x"));
        assert_eq!(p.numbers[2].to_string(), "3 (x)");
        let n = crate::modem::dial::Number::from(&p.numbers[2]);
        assert_eq!((n.number.as_str(), n.label.as_deref()), ("3", Some("x")));
    }

    #[test]
    fn undialable_numbers_name_file_line_and_field() {
        assert_eq!(
            error(
                "user = \"u\"\nnumbers = [\n  { number = \"5551234\" },\n  { number = \"55x1\", label = \"Chicago\" },\n]\n"
            ),
            "/etc/carrier/t.toml:4: numbers[1].number: \"55x1\" is not a dialable number"
        );
        assert_eq!(
            error("numbers = [\"1\",\n \"\"]"),
            "/etc/carrier/t.toml:2: numbers[1]: is empty"
        );
        assert_eq!(
            error(
                "[[numbers]]\nnumber = \"1\"\n[[numbers]]\nlabel = \"Boston\"\nnumber = \"ATDT1\"\n"
            ),
            "/etc/carrier/t.toml:5: numbers[1].number: \"ATDT1\" is not a dialable number"
        );
        assert_eq!(
            error("dial-prefix = \"9x\""),
            "/etc/carrier/t.toml:1: dial-prefix: \"9x\" is not dialable (digits, * # , W T P @ ! ; + - ( ) and spaces)"
        );
    }

    #[test]
    fn validation_errors() {
        assert_eq!(
            error("\n\nspeed = 12345"),
            "/etc/carrier/t.toml:3: speed: 12345 is not a standard rate \
             (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)"
        );
        assert_eq!(
            error("password = \"x\"\npassword-file = \"/p\""),
            "/etc/carrier/t.toml:2: password-file: both password and password-file are set: keep one"
        );
        assert_eq!(
            error("retries = 1\nbackoff = -1"),
            "/etc/carrier/t.toml:2: backoff: -1 is not a number of seconds (0 or more)"
        );
        assert_eq!(
            error("deadline = nan"),
            "/etc/carrier/t.toml:1: deadline: NaN is not a number of seconds (0 or more)"
        );
        assert_eq!(
            error("init = [\"ATZ\",\n  \"&F\"]"),
            "/etc/carrier/t.toml:2: init[1]: \"&F\" is not an AT command"
        );
        assert_eq!(
            error("noauth = true\nrequire-chap = true"),
            "/etc/carrier/t.toml:2: require-chap: contradicts noauth = true"
        );
        assert_eq!(
            error("mru = 64"),
            "/etc/carrier/t.toml:1: mru: 64 is outside 128..16384"
        );
        assert_eq!(
            error("ifname = \"a-very-long-interface\""),
            "/etc/carrier/t.toml:1: ifname: \"a-very-long-interface\" is not an interface name \
             (1 to 15 characters, no / : or spaces)"
        );
        assert_eq!(
            error("device = \"\""),
            "/etc/carrier/t.toml:1: device: is empty"
        );
        // Whole-second fields too large for a deadline: an error, not a
        // panic when the call adds them to the clock.
        assert_eq!(
            error("user = \"a\"\nidle = 9223372036854775807"),
            "/etc/carrier/t.toml:2: idle: 9223372036854775807 seconds is too long \
             (at most 1000000000)"
        );
        assert!(error("lcp-echo-interval = 9000000000").contains("lcp-echo-interval"));
        assert!(error("holdoff = 9000000000").contains("holdoff"));
        assert!(parse("idle = 1000000000").is_ok());
        // Built without `parse`: no panic either.
        let unchecked = Profile {
            backoff: Some(-1.0),
            deadline: Some(f64::NAN),
            connect_timeout: Some(f64::INFINITY),
            ..Profile::default()
        };
        assert_eq!(unchecked.backoff(), None);
        assert_eq!(unchecked.deadline(), None);
        assert_eq!(unchecked.connect_timeout(), None);
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
    fn the_password_never_prints() {
        let p = parse("user = \"u\"\npassword = \"hunter2\"").unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
        assert!(!p.to_toml().contains("hunter2"));
        assert_eq!(p.load_password().unwrap().unwrap().expose(), b"hunter2");
    }

    fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, text).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        p
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
