//! `carrier detect`: which serial ports have a modem, and what it is.
//!
//! Every candidate port is probed at once (a tokio [`JoinSet`]), all within
//! one time budget. A port is locked (UUCP lock file) while probed and
//! opened at each speed in turn, fastest first; a PTY has no speed, so it
//! is tried once. At a speed, `AT` is sent a few times until OK; then the
//! modem is reset and identified:
//!
//! ```text
//! ATZ                      stored profile (its answer is not needed)
//! ATQ0 V1 E1               results on, verbose, echo: the base init string
//!   + S0=0, &C1, &D2, +FCLASS=0   kept each if the modem takes it
//! ATI ATI3 ATI4 AT+GMI AT+GMM AT+GMR AT+GCAP
//! ```
//!
//! None of these dials, answers, goes off hook or back on line: D, A, O
//! and H1 are never sent (see [`goes_off_hook`], which every command
//! passes through). A port that never says OK is reported with why:
//! silence, ERROR to everything, noise (binary, a wrong speed), text
//! without a result code (a loopback echoing our commands, a console),
//! or that it could not be opened (missing, permission, locked by a PID).

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use carrier_hw::{AsyncTty, HwError, LockError, LockOptions, PortLock};
use serde::{Serialize, Serializer};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::at::{AtPort, ModemError, Response};
use super::reader::{ReaderConfig, ReaderStats};
use super::result::ResultCode;

/// How long to let a port settle after opening (DTR up) before talking.
const SETTLE: Duration = Duration::from_millis(100);

/// `AT` tries at the first speed, and at each further one.
const HELLO_TRIES_FIRST: usize = 3;
const HELLO_TRIES: usize = 2;

/// Beyond the budget, how long a probe may take to notice and stop.
const GRACE: Duration = Duration::from_millis(500);

/// The base init string, and what is appended to it when the modem takes
/// it (wvdial's probe order).
const INIT_BASE: &str = super::at::VERBOSE_RESULTS;
const INIT_EXTRAS: [&str; 4] = ["S0=0", "&C1", "&D2", "+FCLASS=0"];

/// The identification commands, in order.
pub const IDENTIFY: [&str; 7] = [
    "ATI", "ATI3", "ATI4", "AT+GMI", "AT+GMM", "AT+GMR", "AT+GCAP",
];

/// Speeds tried on a real serial port, fastest first.
pub const DEFAULT_SPEEDS: [u32; 5] = [115200, 57600, 38400, 19200, 9600];

#[derive(Clone, Debug)]
pub struct DetectOptions {
    /// The whole detection, all ports together.
    pub total: Duration,
    /// Each command's answer.
    pub per_command: Duration,
    /// Tried in order until the modem answers; the first one only on a
    /// PTY. Empty: the port's current speed.
    pub speeds: Vec<u32>,
    /// Where UUCP lock files are taken while probing; None to probe
    /// without locking.
    pub lock_dir: Option<PathBuf>,
}

impl Default for DetectOptions {
    fn default() -> Self {
        DetectOptions {
            total: Duration::from_secs(20),
            per_command: Duration::from_secs(1),
            speeds: DEFAULT_SPEEDS.to_vec(),
            lock_dir: Some(PathBuf::from(carrier_hw::lock::DEFAULT_LOCK_DIR)),
        }
    }
}

/// A modem that answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Detected {
    /// The path probed.
    pub port: PathBuf,
    /// A udev /dev/serial/by-id link to it: the name to put in a profile.
    pub by_id: Option<PathBuf>,
    /// USB vendor and product ids (JSON: `"0572:1329"`).
    #[serde(serialize_with = "usb_ids")]
    pub usb: Option<(u16, u16)>,
    /// From AT+GMI, else the USB descriptor.
    pub manufacturer: Option<String>,
    /// From AT+GMM, else the first line of ATI3.
    pub model: Option<String>,
    /// From AT+GMR.
    pub revision: Option<String>,
    /// The highest speed that answered; for a PTY, the one it was opened
    /// at.
    pub speed: Option<u32>,
    /// From AT+GCAP: `+FCLASS`, `+MS`, `+ES`, `+DS`...
    pub capabilities: Vec<String>,
    /// The init string the modem took, e.g. `ATQ0 V1 E1 S0=0 &C1 &D2`.
    pub init: String,
    /// The information text of each identification command that
    /// answered OK.
    pub responses: BTreeMap<String, Vec<String>>,
}

fn usb_ids<S: Serializer>(usb: &Option<(u16, u16)>, s: S) -> Result<S::Ok, S::Error> {
    match usb {
        Some((v, p)) => s.serialize_str(&format!("{v:04x}:{p:04x}")),
        None => s.serialize_none(),
    }
}

/// Why a port is not (or could not be shown to be) a modem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Reason {
    /// Nothing came back at any speed tried.
    Silent { speeds: Vec<u32> },
    /// ERROR to every command, AT included.
    ErrorToEverything,
    /// Only noise came back: binary, control characters, overlong lines
    /// (a device that is not a modem, or none of the speeds is right).
    Garbage { noise: u64 },
    /// Lines of text but never a result code: our commands echoed back
    /// (a loopback plug, a terminal), a console, a GPS.
    Talks { lines: u64 },
    /// No such device.
    Missing { message: String },
    /// Not allowed to open it.
    PermissionDenied { message: String },
    /// Another process holds its UUCP lock.
    Locked { pid: i32 },
    /// Not a terminal device.
    NotATty,
    /// Any other failure to open or set it up.
    CannotOpen { message: String },
    /// It went away while being probed (unplugged, hung up).
    Gone,
    /// The time allowed ran out before it answered.
    TimedOut,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Silent { speeds } if speeds.is_empty() => f.write_str("never answers"),
            Reason::Silent { speeds } => {
                let s: Vec<String> = speeds.iter().map(u32::to_string).collect();
                write!(f, "never answers (silent at {} bit/s)", s.join(", "))
            }
            Reason::ErrorToEverything => f.write_str("answers ERROR to every command"),
            Reason::Garbage { noise } => write!(
                f,
                "sends garbage, never a result ({noise} bytes or lines of noise): not a modem, or a speed not tried"
            ),
            Reason::Talks { lines } => write!(
                f,
                "sends text but never a result code ({lines} lines): a loopback, a console?"
            ),
            Reason::Missing { .. } => f.write_str("no such device"),
            Reason::PermissionDenied { .. } => {
                f.write_str("permission denied (see the port's group, often dialout)")
            }
            Reason::Locked { pid } => write!(f, "in use by process {pid} (locked)"),
            Reason::NotATty => f.write_str("not a terminal device"),
            Reason::CannotOpen { message } => write!(f, "cannot open: {message}"),
            Reason::Gone => f.write_str("went away while probed"),
            Reason::TimedOut => f.write_str("no answer in the time allowed"),
        }
    }
}

/// One port's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum DetectResult {
    Detected(Detected),
    NotAModem {
        port: PathBuf,
        reason: Reason,
        /// The reason as a sentence, for people reading the JSON.
        message: String,
    },
}

impl DetectResult {
    pub fn port(&self) -> &Path {
        match self {
            DetectResult::Detected(d) => &d.port,
            DetectResult::NotAModem { port, .. } => port,
        }
    }

    pub fn detected(&self) -> Option<&Detected> {
        match self {
            DetectResult::Detected(d) => Some(d),
            DetectResult::NotAModem { .. } => None,
        }
    }

    pub fn reason(&self) -> Option<&Reason> {
        match self {
            DetectResult::Detected(_) => None,
            DetectResult::NotAModem { reason, .. } => Some(reason),
        }
    }

    fn not_a_modem(port: &Path, reason: Reason) -> DetectResult {
        DetectResult::NotAModem {
            port: port.to_path_buf(),
            message: reason.to_string(),
            reason,
        }
    }
}

/// A port to probe, with what enumeration knows of it.
#[derive(Clone, Debug)]
struct Target {
    port: PathBuf,
    by_id: Option<PathBuf>,
    usb: Option<(u16, u16)>,
    usb_manufacturer: Option<String>,
}

/// Probes `ports` (every port enumeration finds, if empty) and returns a
/// result for each, in the order given (duplicates, such as a by-id link
/// and its device node, once).
pub async fn detect(ports: Vec<PathBuf>, opts: DetectOptions) -> Vec<DetectResult> {
    let targets = targets(ports);
    let opts = Arc::new(opts);
    let deadline = crate::deadline::after(Instant::now(), opts.total);
    let mut set = JoinSet::new();
    for (i, t) in targets.iter().cloned().enumerate() {
        let opts = opts.clone();
        set.spawn(async move { (i, probe(t, &opts, deadline).await) });
    }
    let mut results: Vec<Option<DetectResult>> = vec![None; targets.len()];
    loop {
        match tokio::time::timeout_at(crate::deadline::after(deadline, GRACE), set.join_next())
            .await
        {
            Ok(Some(Ok((i, r)))) => results[i] = Some(r),
            Ok(Some(Err(e))) => tracing::warn!(error = %e, "a port probe failed"),
            Ok(None) => break,
            Err(_) => {
                set.abort_all();
                break;
            }
        }
    }
    let timed_out = Instant::now() >= deadline;
    results
        .into_iter()
        .zip(&targets)
        .map(|(r, t)| {
            r.unwrap_or_else(|| {
                let reason = if timed_out {
                    Reason::TimedOut
                } else {
                    Reason::CannotOpen {
                        message: "the probe failed".into(),
                    }
                };
                DetectResult::not_a_modem(&t.port, reason)
            })
        })
        .collect()
}

fn targets(ports: Vec<PathBuf>) -> Vec<Target> {
    let known = carrier_hw::available_ports().unwrap_or_default();
    let from_info = |p: &carrier_hw::PortInfo, port: PathBuf| Target {
        port,
        by_id: p.by_id.first().cloned(),
        usb: p.usb.as_ref().map(|u| (u.vid, u.pid)),
        usb_manufacturer: p.usb.as_ref().and_then(|u| u.manufacturer.clone()),
    };
    let list: Vec<Target> = if ports.is_empty() {
        known.iter().map(|p| from_info(p, p.path.clone())).collect()
    } else {
        ports
            .into_iter()
            .map(|port| {
                let real = std::fs::canonicalize(&port).ok();
                let info = real.as_ref().and_then(|r| {
                    known
                        .iter()
                        .find(|k| std::fs::canonicalize(&k.path).ok().as_ref() == Some(r))
                });
                let mut t = match info {
                    Some(k) => from_info(k, port.clone()),
                    None => Target {
                        port: port.clone(),
                        by_id: None,
                        usb: None,
                        usb_manufacturer: None,
                    },
                };
                if port.starts_with("/dev/serial/by-id") {
                    t.by_id = Some(port);
                }
                t
            })
            .collect()
    };
    let mut seen = Vec::new();
    list.into_iter()
        .filter(|t| {
            let key = std::fs::canonicalize(&t.port).unwrap_or_else(|_| t.port.clone());
            if seen.contains(&key) {
                false
            } else {
                seen.push(key);
                true
            }
        })
        .collect()
}

/// Whether a device is a PTY slave (Unix98 majors 136 to 143), whose
/// speed means nothing.
fn is_pty(path: &Path) -> bool {
    match std::fs::metadata(path) {
        Ok(m) if m.file_type().is_char_device() => {
            let rdev = m.rdev();
            let major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff);
            (136..=143).contains(&major)
        }
        _ => false,
    }
}

fn open_reason(e: HwError) -> Reason {
    match e {
        HwError::Open { source, .. } => io_reason(&source),
        HwError::NotATty { .. } => Reason::NotATty,
        other => Reason::CannotOpen {
            message: other.to_string(),
        },
    }
}

fn io_reason(e: &io::Error) -> Reason {
    let message = e.to_string();
    match e.raw_os_error() {
        Some(nix::libc::ENOENT) | Some(nix::libc::ENODEV) | Some(nix::libc::ENXIO) => {
            Reason::Missing { message }
        }
        Some(nix::libc::EACCES) | Some(nix::libc::EPERM) => Reason::PermissionDenied { message },
        _ => Reason::CannotOpen { message },
    }
}

fn lock(port: &Path, opts: &DetectOptions) -> Result<Option<PortLock>, Reason> {
    let Some(dir) = &opts.lock_dir else {
        return Ok(None);
    };
    match PortLock::acquire_with(port, &LockOptions::in_dir(dir)) {
        Ok(l) => Ok(Some(l)),
        Err(LockError::Held { pid, .. }) => Err(Reason::Locked { pid }),
        Err(LockError::HeldBySelf { .. }) => Err(Reason::Locked {
            pid: std::process::id() as i32,
        }),
        // No lock directory we may write: probe anyway, as cu does.
        Err(e) => {
            tracing::debug!(port = %port.display(), error = %e, "probing without a lock");
            Ok(None)
        }
    }
}

/// What one speed showed, when it was not a modem.
#[derive(Debug)]
enum Failure {
    Silent,
    Error,
    Garbage(u64),
    Talks(u64),
    Gone,
    TimedOut,
}

async fn probe(t: Target, opts: &DetectOptions, deadline: Instant) -> DetectResult {
    let port = t.port.as_path();
    if let Err(e) = std::fs::metadata(port) {
        return DetectResult::not_a_modem(port, io_reason(&e));
    }
    let _lock = match lock(port, opts) {
        Ok(l) => l,
        Err(reason) => return DetectResult::not_a_modem(port, reason),
    };
    let mut speeds: Vec<Option<u32>> = opts.speeds.iter().copied().map(Some).collect();
    if speeds.is_empty() {
        speeds.push(None);
    }
    if is_pty(port) {
        speeds.truncate(1);
    }
    let mut failures: Vec<(Option<u32>, Failure)> = Vec::new();
    for (i, &speed) in speeds.iter().enumerate() {
        if Instant::now() >= deadline {
            failures.push((speed, Failure::TimedOut));
            break;
        }
        let tty = match AsyncTty::open(port, speed) {
            Ok(t) => t,
            Err(HwError::Speed { .. }) => continue,
            Err(e) => return DetectResult::not_a_modem(port, open_reason(e)),
        };
        let mut at = AtPort::new(tty, ReaderConfig::default());
        tokio::time::sleep_until(deadline.min(crate::deadline::after(Instant::now(), SETTLE)))
            .await;
        let tries = if i == 0 {
            HELLO_TRIES_FIRST
        } else {
            HELLO_TRIES
        };
        match hello(&mut at, tries, opts.per_command, deadline).await {
            Ok(()) => {
                let d = identify(&mut at, &t, speed, opts.per_command, deadline).await;
                return DetectResult::Detected(d);
            }
            Err(f) => {
                tracing::debug!(port = %port.display(), ?speed, failure = ?f, "no modem at this speed");
                let gone = matches!(f, Failure::Gone);
                failures.push((speed, f));
                if gone {
                    break;
                }
            }
        }
    }
    DetectResult::not_a_modem(port, verdict(&failures))
}

/// The most telling of the failures at each speed.
fn verdict(failures: &[(Option<u32>, Failure)]) -> Reason {
    let rank = |f: &Failure| match f {
        Failure::Error => 6,
        Failure::Gone => 5,
        Failure::Garbage(_) => 4,
        Failure::Talks(_) => 3,
        Failure::Silent => 2,
        Failure::TimedOut => 1,
    };
    let Some((_, worst)) = failures.iter().max_by_key(|(_, f)| rank(f)) else {
        return Reason::TimedOut;
    };
    match worst {
        Failure::Error => Reason::ErrorToEverything,
        Failure::Gone => Reason::Gone,
        Failure::Garbage(n) => Reason::Garbage { noise: *n },
        Failure::Talks(n) => Reason::Talks { lines: *n },
        Failure::Silent => Reason::Silent {
            speeds: failures
                .iter()
                .filter(|(_, f)| matches!(f, Failure::Silent))
                .filter_map(|(s, _)| *s)
                .collect(),
        },
        Failure::TimedOut => Reason::TimedOut,
    }
}

/// Whether a command line would take the line off hook: dial (D), answer
/// (A), return on line (O) or H1. A conservative reading of V.250's basic
/// syntax; everything detection sends goes through it.
pub fn goes_off_hook(cmd: &str) -> bool {
    // Spaces mean nothing in a command line (V.250 §5.2.1).
    let upper: String = cmd
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    let Some(body) = upper.strip_prefix("AT") else {
        return false;
    };
    let b = body.as_bytes();
    let mut i = 0;
    let digits = |mut i: usize| {
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'?') {
            i += 1;
        }
        i
    };
    while i < b.len() {
        match b[i] {
            b' ' => i += 1,
            // Extended commands run to the next semicolon.
            b'+' => {
                while i < b.len() && b[i] != b';' {
                    i += 1;
                }
                i += 1;
            }
            // &C1, \N3, %C0: a prefix, a letter, a number.
            b'&' | b'\\' | b'%' => i = digits(i + 2),
            b'S' => {
                i = digits(i + 1);
                if i < b.len() && b[i] == b'=' {
                    i = digits(i + 1);
                }
            }
            b'D' | b'A' | b'O' => return true,
            b'H' => {
                let end = digits(i + 1);
                if body[i + 1..end].parse::<u32>().unwrap_or(0) != 0 {
                    return true;
                }
                i = end;
            }
            c if c.is_ascii_alphabetic() => {
                i = digits(i + 1);
                if i < b.len() && b[i] == b'=' {
                    i = digits(i + 1);
                }
            }
            _ => i += 1,
        }
    }
    false
}

/// Sends a command within both budgets; refuses anything that could go
/// off hook.
async fn ask(
    at: &mut AtPort<AsyncTty>,
    cmd: &str,
    per_command: Duration,
    deadline: Instant,
) -> Result<Response, ModemError> {
    if goes_off_hook(cmd) {
        return Err(ModemError::Unexpected {
            cmd: cmd.to_string(),
            result: ResultCode::Error,
        });
    }
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(ModemError::Timeout {
            what: format!("the answer to {cmd}"),
            after: Duration::ZERO,
        });
    }
    at.command(cmd, per_command.min(left)).await
}

fn noise(s: &ReaderStats) -> u64 {
    // Probing counts stray bytes too: a port that answers with any noise
    // is suspect.
    s.lost_to_noise() + s.noise_bytes
}

/// `AT` until OK.
async fn hello(
    at: &mut AtPort<AsyncTty>,
    tries: usize,
    per_command: Duration,
    deadline: Instant,
) -> Result<(), Failure> {
    let before = at.stats();
    let mut error = false;
    for _ in 0..tries {
        match ask(at, "AT", per_command, deadline).await {
            Ok(r) if r.result == ResultCode::Ok => return Ok(()),
            Ok(r) if r.result == ResultCode::Error => {
                error = true;
                break;
            }
            Ok(_) => {}
            Err(ModemError::Gone) => return Err(Failure::Gone),
            Err(_) => {}
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    if error {
        // ERROR to a bare AT: a modem in an odd state takes the init
        // string or a reset; anything else answers ERROR to all.
        for cmd in [INIT_BASE, "ATZ", "ATI"] {
            match ask(at, cmd, per_command, deadline).await {
                Ok(r) if r.result == ResultCode::Ok => return Ok(()),
                Err(ModemError::Gone) => return Err(Failure::Gone),
                _ => {}
            }
        }
        return Err(Failure::Error);
    }
    let after = at.stats();
    let junk = noise(&after) - noise(&before);
    let lines = after.lines - before.lines;
    Err(if junk > 0 {
        Failure::Garbage(junk)
    } else if lines > 0 {
        Failure::Talks(lines)
    } else if Instant::now() >= deadline {
        Failure::TimedOut
    } else {
        Failure::Silent
    })
}

/// Drops a `+GMM:`-style echo of the command's name from an answer line.
fn strip_tag(line: &str) -> String {
    let t = line.trim();
    if let Some(rest) = t.strip_prefix('+') {
        if let Some((name, value)) = rest.split_once(':') {
            if name.chars().all(|c| c.is_ascii_alphanumeric()) {
                return value.trim().to_string();
            }
        }
    }
    t.to_string()
}

fn first_line(lines: Option<&Vec<String>>) -> Option<String> {
    lines?.iter().map(|l| strip_tag(l)).find(|l| !l.is_empty())
}

async fn identify(
    at: &mut AtPort<AsyncTty>,
    t: &Target,
    speed: Option<u32>,
    per_command: Duration,
    deadline: Instant,
) -> Detected {
    // A reset can take a moment; its answer may be suppressed by the
    // stored profile (Q1), which the init string then undoes.
    let _ = ask(at, "ATZ", per_command * 2, deadline).await;
    let mut init = match ask(at, INIT_BASE, per_command, deadline).await {
        Ok(r) if r.result == ResultCode::Ok => INIT_BASE.to_string(),
        _ => "AT".to_string(),
    };
    for extra in INIT_EXTRAS {
        let candidate = format!("{init} {extra}");
        if let Ok(r) = ask(at, &candidate, per_command, deadline).await {
            if r.result == ResultCode::Ok {
                init = candidate;
            }
        }
    }
    let mut responses = BTreeMap::new();
    for cmd in IDENTIFY {
        match ask(at, cmd, per_command, deadline).await {
            Ok(r) if r.result == ResultCode::Ok => {
                responses.insert(cmd.to_string(), r.info);
            }
            Ok(_) => {}
            Err(ModemError::Gone) => break,
            Err(_) => {}
        }
    }
    let capabilities = responses
        .get("AT+GCAP")
        .map(|lines| {
            lines
                .iter()
                .flat_map(|l| {
                    strip_tag(l)
                        .split(',')
                        .map(|c| c.trim().to_string())
                        .collect::<Vec<_>>()
                })
                .filter(|c| !c.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Detected {
        port: t.port.clone(),
        by_id: t.by_id.clone(),
        usb: t.usb,
        manufacturer: first_line(responses.get("AT+GMI")).or_else(|| t.usb_manufacturer.clone()),
        model: first_line(responses.get("AT+GMM")).or_else(|| first_line(responses.get("ATI3"))),
        revision: first_line(responses.get("AT+GMR")),
        speed,
        capabilities,
        init,
        responses,
    }
}

/// The results as a table for people: one line per port, a second with
/// the by-id name or the init string where there is one.
pub fn table(results: &[DetectResult]) -> String {
    let rows: Vec<[String; 4]> = results
        .iter()
        .map(|r| match r {
            DetectResult::Detected(d) => {
                let what = [
                    d.manufacturer.as_deref(),
                    d.model.as_deref(),
                    d.revision.as_deref(),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" / ");
                [
                    d.port.display().to_string(),
                    d.usb
                        .map(|(v, p)| format!("{v:04x}:{p:04x}"))
                        .unwrap_or_else(|| "-".into()),
                    d.speed.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
                    format!("modem: {}", if what.is_empty() { "?" } else { &what }),
                ]
            }
            DetectResult::NotAModem { port, reason, .. } => [
                port.display().to_string(),
                "-".into(),
                "-".into(),
                format!("no modem: {reason}"),
            ],
        })
        .collect();
    let header = [
        "PORT".to_string(),
        "USB".into(),
        "SPEED".into(),
        "RESULT".into(),
    ];
    let mut width = [0usize; 3];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |row: &[String; 4]| {
        let s = format!(
            "{:<w0$}  {:<w1$}  {:>w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = width[0],
            w1 = width[1],
            w2 = width[2]
        );
        format!("{}\n", s.trim_end())
    };
    let mut out = String::new();
    out.push_str(&line(&header));
    for (row, r) in rows.iter().zip(results) {
        out.push_str(&line(row));
        if let DetectResult::Detected(d) = r {
            if let Some(id) = &d.by_id {
                out.push_str(&format!("    by-id: {}\n", id.display()));
            }
            if !d.capabilities.is_empty() {
                out.push_str(&format!("    capabilities: {}\n", d.capabilities.join(",")));
            }
            out.push_str(&format!("    init: {}\n", d.init));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_detection_sends_goes_off_hook() {
        let mut sent = vec!["AT", INIT_BASE, "ATZ"];
        sent.extend(IDENTIFY);
        let mut init = INIT_BASE.to_string();
        for e in INIT_EXTRAS {
            init = format!("{init} {e}");
            assert!(!goes_off_hook(&init), "{init}");
        }
        for cmd in sent {
            assert!(!goes_off_hook(cmd), "{cmd}");
        }
        for cmd in [
            "ATD5551234",
            "ATDT 555",
            "atdp1",
            "ATA",
            "ATO",
            "ATO0",
            "ATH1",
            "AT H 1",
            "ATZ DT1",
            "AT&C1 &D2 S0=0 A",
            "AT+FCLASS=0;D1",
            "ATS7=60DT1",
        ] {
            assert!(goes_off_hook(cmd), "{cmd}");
        }
        for cmd in [
            "ATH",
            "ATH0",
            "AT&D2",
            "ATS0?",
            "AT\\N3",
            "AT%C0",
            "ATE1Q0V1X4",
        ] {
            assert!(!goes_off_hook(cmd), "{cmd}");
        }
    }

    #[tokio::test]
    async fn an_absurd_budget_is_no_panic() {
        let opts = DetectOptions {
            total: Duration::MAX,
            lock_dir: None,
            ..DetectOptions::default()
        };
        let r = detect(vec![PathBuf::from("/dev/carrier-does-not-exist")], opts).await;
        assert!(
            matches!(r[0].reason(), Some(Reason::Missing { .. })),
            "{r:?}"
        );
    }

    #[test]
    fn tags_are_stripped() {
        assert_eq!(strip_tag("+GMM: V92"), "V92");
        assert_eq!(strip_tag("+GCAP: +FCLASS,+MS"), "+FCLASS,+MS");
        assert_eq!(strip_tag("Hayes Accura"), "Hayes Accura");
        assert_eq!(strip_tag("+FCLASS"), "+FCLASS");
    }

    #[test]
    fn the_most_telling_failure_wins() {
        let f = vec![
            (Some(115200), Failure::Garbage(12)),
            (Some(57600), Failure::Silent),
            (Some(9600), Failure::Silent),
        ];
        assert_eq!(verdict(&f), Reason::Garbage { noise: 12 });
        let f = vec![
            (Some(115200), Failure::Silent),
            (Some(9600), Failure::Silent),
        ];
        assert_eq!(
            verdict(&f),
            Reason::Silent {
                speeds: vec![115200, 9600]
            }
        );
        assert_eq!(
            verdict(&f).to_string(),
            "never answers (silent at 115200, 9600 bit/s)"
        );
        assert_eq!(verdict(&[]), Reason::TimedOut);
    }

    #[test]
    fn table_and_json() {
        let results = vec![
            DetectResult::Detected(Detected {
                port: "/dev/ttyACM0".into(),
                by_id: Some("/dev/serial/by-id/usb-Conexant_USB_Modem_24680246-if02".into()),
                usb: Some((0x0572, 0x1329)),
                manufacturer: Some("CONEXANT".into()),
                model: Some("V92".into()),
                revision: Some("7.80.4.0".into()),
                speed: Some(115200),
                capabilities: vec!["+FCLASS".into(), "+MS".into()],
                init: "ATQ0 V1 E1 S0=0 &C1 &D2".into(),
                responses: BTreeMap::new(),
            }),
            DetectResult::not_a_modem(
                Path::new("/dev/ttyS0"),
                Reason::Silent {
                    speeds: vec![115200],
                },
            ),
        ];
        let t = table(&results);
        assert_eq!(
            t,
            "PORT          USB         SPEED  RESULT\n\
             /dev/ttyACM0  0572:1329  115200  modem: CONEXANT / V92 / 7.80.4.0\n\
             \x20   by-id: /dev/serial/by-id/usb-Conexant_USB_Modem_24680246-if02\n\
             \x20   capabilities: +FCLASS,+MS\n\
             \x20   init: ATQ0 V1 E1 S0=0 &C1 &D2\n\
             /dev/ttyS0    -               -  no modem: never answers (silent at 115200 bit/s)\n"
        );
        let j = serde_json::to_value(&results).unwrap();
        assert_eq!(j[0]["result"], "detected");
        assert_eq!(j[0]["usb"], "0572:1329");
        assert_eq!(j[0]["capabilities"][1], "+MS");
        assert_eq!(j[1]["result"], "not-a-modem");
        assert_eq!(j[1]["reason"]["kind"], "silent");
        assert_eq!(j[1]["reason"]["speeds"][0], 115200);
        assert_eq!(j[1]["message"], "never answers (silent at 115200 bit/s)");
    }
}
