//! Test harness: the real pppd 2.4.9, running inside user-mode-linux (UML),
//! on the far end of a host PTY.
//!
//! The host kernel has no PPP, so pppd runs in a UML guest whose `/dev/ttyS0`
//! is the master side of a PTY pair created here; the code under test opens
//! the slave side ([`Pppd::device`]) like any serial port.
//!
//! How it works:
//! * A scratch directory (`$TMPDIR/carrier-pppd-<pid>-<n>`) holds the
//!   generated init script, the secrets, pppd's log, the UML console log and
//!   the small file protocol used for readiness, exit status and [`Pppd::exec`].
//!   The guest mounts it read-write with hostfs *at the same path*, so paths
//!   are the same on both sides. Guest writes through hostfs reach the host
//!   file at once (hostfs writes through), and the guest sees new host files
//!   at once (hostfs does not cache dentries).
//! * The PTY master is UML's stdin (`ssl0=fd:0`), so no fd juggling (and no
//!   `unsafe`) is needed. The harness keeps its own fd of the slave open for
//!   the life of the VM, so the line never sees "last close" while clients
//!   come and go (shared/INTEROP.md reports a hangup otherwise; not seen here
//!   during LCP, kept as cheap insurance). Bytes pppd writes while no client
//!   reads stay queued in the PTY and are read by the next client
//!   (`tcflush` the device first for a clean start).
//! * UML runs in its own process group; `Drop` SIGKILLs the whole group.
//!   Should the test process die without running `Drop`, the guest notices
//!   (it watches the host's `/proc/<harness pid>` through a second hostfs
//!   mount) and powers itself off within ~50 ms.
//!
//! Include it from integration tests with `mod support;` (`support/mod.rs`
//! has `pub mod pppd;`) or from benches with
//! `#[path = "../tests/support/pppd.rs"] mod pppd;`. It depends only on std
//! and nix (features term, fs, signal, process).
//!
//! Debugging: set `CARRIER_PPPD_KEEP=1` to keep scratch directories; when a
//! test panics while a [`Pppd`] is alive, its pppd log and console tail are
//! written to stderr.

#![allow(dead_code)]

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::sys::signal::{killpg, Signal};
use nix::sys::termios::{
    self, ControlFlags, InputFlags, LocalFlags, OutputFlags, SetArg, SpecialCharacterIndices,
    Termios,
};
use nix::unistd::Pid;

/// The UML kernel (Debian package `user-mode-linux`).
pub const UML_KERNEL: &str = "/usr/bin/linux.uml";
/// Where `user-mode-linux` keeps the guest's modules (`<version>/kernel/...`).
pub const UML_MODULES: &str = "/usr/lib/uml/modules";
/// pppd (Debian package `ppp`), run inside the guest from the host's root.
pub const PPPD: &str = "/usr/sbin/pppd";
/// busybox (Debian package `busybox-static`): the guest's init shell and tools.
pub const BUSYBOX: &str = "/bin/busybox";

/// Modules every guest loads, in this order (paths under `<version>/kernel/`).
const MODULES: [&str; 5] = [
    "lib/crc-ccitt.ko",
    "drivers/net/slip/slhc.ko",
    "drivers/net/ppp/ppp_generic.ko",
    "drivers/net/ppp/ppp_async.ko",
    // Without ipv6, pppd negotiates IPv6CP and then fails it.
    "net/ipv6/ipv6.ko",
];
/// Loaded only with [`PppdOptions::ccp_modules`].
const CCP_MODULES: [&str; 2] = [
    "drivers/net/ppp/ppp_deflate.ko",
    "drivers/net/ppp/bsd_comp.ko",
];

/// Boot to "pppd has the tty open" takes ~2 s on an idle machine; leave room
/// for a loaded 2-core machine running several VMs at once.
const BOOT_TIMEOUT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(10);

/// How to run pppd in the guest.
#[derive(Debug, Clone, Default)]
pub struct PppdOptions {
    /// pppd's options after the tty (`/dev/ttyS0`); `nodetach` is appended.
    /// Typical: `noauth local noccp novj noipv6 10.77.0.1:10.77.0.2 debug`.
    pub args: Vec<String>,
    /// Contents of `/etc/ppp/pap-secrets` (e.g. `alice * s3cret *`).
    pub pap_secrets: String,
    /// Contents of `/etc/ppp/chap-secrets` (e.g. `alice server s3cret *`).
    pub chap_secrets: String,
    /// Also load `ppp_deflate` and `bsd_comp`, for CCP tests.
    pub ccp_modules: bool,
    /// Extra executable files in the guest's `/etc/ppp` (name, text):
    /// ip-up and friends. What they write to `/etc/ppp/hooks-out` appears
    /// in [`Pppd::hooks_out`] on the host.
    pub etc_ppp: Vec<(String, String)>,
}

impl PppdOptions {
    /// Options from whitespace-free words, e.g. `PppdOptions::new(["noauth", "debug"])`.
    pub fn new<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        PppdOptions {
            args: args.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }

    /// Options split from one string on whitespace (no quoting).
    pub fn from_str_args(args: &str) -> Self {
        Self::new(args.split_whitespace())
    }

    pub fn pap_secrets(mut self, secrets: &str) -> Self {
        self.pap_secrets = secrets.to_string();
        self
    }

    pub fn chap_secrets(mut self, secrets: &str) -> Self {
        self.chap_secrets = secrets.to_string();
        self
    }

    /// Puts an executable `name` with `text` into the guest's /etc/ppp.
    pub fn etc_ppp_script(mut self, name: &str, text: &str) -> Self {
        self.etc_ppp.push((name.to_string(), text.to_string()));
        self
    }
}

/// Why the harness could not give a pppd peer.
#[derive(Debug)]
pub enum HarnessError {
    /// Something needed is not installed; the text names the Debian package.
    Unavailable(String),
    /// A host-side operation failed.
    Io { what: String, source: io::Error },
    /// The VM did not get pppd to the ready point.
    Boot {
        reason: String,
        console: String,
        log: String,
    },
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HarnessError::Unavailable(why) => write!(f, "pppd peer unavailable: {why}"),
            HarnessError::Io { what, source } => write!(f, "pppd harness: {what}: {source}"),
            HarnessError::Boot {
                reason,
                console,
                log,
            } => write!(
                f,
                "pppd harness: {reason}\n--- pppd log ---\n{log}\n--- UML console (tail) ---\n{}",
                tail(console, 60)
            ),
        }
    }
}

impl std::error::Error for HarnessError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HarnessError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> HarnessError {
    let what = what.into();
    move |source| HarnessError::Io { what, source }
}

fn nix_err(what: impl Into<String>) -> impl FnOnce(nix::Error) -> HarnessError {
    let what = what.into();
    move |e| HarnessError::Io {
        what,
        source: io::Error::from(e),
    }
}

/// Checks that everything the harness needs is installed. The error names
/// the missing Debian package.
pub fn peer_available() -> Result<(), String> {
    let mut missing = Vec::new();
    for (path, package) in [
        (UML_KERNEL, "user-mode-linux"),
        (PPPD, "ppp"),
        (BUSYBOX, "busybox-static"),
    ] {
        if !is_executable(Path::new(path)) {
            missing.push(format!("{path} (Debian package `{package}`)"));
        }
    }
    if module_dir().is_none() {
        missing.push(format!(
            "{UML_MODULES}/<version>/kernel/ with the PPP modules (Debian package `user-mode-linux`)"
        ));
    }
    if !Path::new("/dev/ptmx").exists() {
        missing.push("/dev/ptmx (a devpts mount)".to_string());
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "missing {}; install with `apt-get install user-mode-linux ppp busybox-static`",
            missing.join(", ")
        ))
    }
}

fn is_executable(p: &Path) -> bool {
    fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The `<version>/kernel` directory that holds all modules we load.
fn module_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(UML_MODULES)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("kernel"))
        .collect();
    dirs.sort();
    dirs.into_iter()
        .rev()
        .find(|d| MODULES.iter().all(|m| d.join(m).is_file()))
}

/// True when CI=true: a missing peer must then fail the test, not skip it.
pub fn in_ci() -> bool {
    std::env::var("CI").map(|v| v == "true").unwrap_or(false)
}

/// Writes straight to fd 2, past libtest's output capture, so a skip is seen.
fn loud(msg: &str) {
    let _ = writeln!(io::stderr(), "\n!!!!!!!! {msg} !!!!!!!!\n");
}

/// For tests: `false` (after a loud message) when the peer is not available
/// and CI is not "true"; panics with the reason when CI=true.
pub fn available_or_skip() -> bool {
    match peer_available() {
        Ok(()) => true,
        Err(why) if in_ci() => panic!("real pppd peer required in CI (CI=true): {why}"),
        Err(why) => {
            loud(&format!("SKIP: real pppd peer not available: {why}"));
            false
        }
    }
}

/// For tests: starts pppd, or returns `None` (with a loud message) when the
/// peer is not available and CI is not "true". Panics when CI=true and the
/// peer is missing, and always when an available peer fails to start.
pub fn start_or_skip(opts: PppdOptions) -> Option<Pppd> {
    if !available_or_skip() {
        return None;
    }
    match Pppd::start(opts) {
        Ok(p) => Some(p),
        Err(e) => panic!("{e}"),
    }
}

/// Like [`start_or_skip`] for two peers booted side by side and joined
/// back to back with a [`Link`].
pub fn start_pair_or_skip(a: PppdOptions, b: PppdOptions) -> Option<(Pppd, Pppd, Link)> {
    if !available_or_skip() {
        return None;
    }
    match start_pair(a, b) {
        Ok(p) => Some(p),
        Err(e) => panic!("{e}"),
    }
}

/// Boots two pppd VMs in parallel and joins their lines back to back.
pub fn start_pair(a: PppdOptions, b: PppdOptions) -> Result<(Pppd, Pppd, Link), HarnessError> {
    let (pa, pb) = boot_pair(a, b)?;
    let link = pa.join(&pb).map_err(io_err("joining the two pppd lines"))?;
    Ok((pa, pb, link))
}

/// Boots two pppd VMs in parallel, their lines left for the caller to join
/// (through a paced cable, say).
pub fn boot_pair(a: PppdOptions, b: PppdOptions) -> Result<(Pppd, Pppd), HarnessError> {
    let (ra, rb) = thread::scope(|s| {
        let ha = s.spawn(move || Pppd::start(a));
        let hb = s.spawn(move || Pppd::start(b));
        (join_thread(ha), join_thread(hb))
    });
    Ok((ra?, rb?))
}

fn join_thread<T>(
    h: thread::ScopedJoinHandle<'_, Result<T, HarnessError>>,
) -> Result<T, HarnessError> {
    h.join().unwrap_or_else(|_| {
        Err(HarnessError::Boot {
            reason: "boot thread panicked".into(),
            console: String::new(),
            log: String::new(),
        })
    })
}

static SCRATCH_SEQ: AtomicU64 = AtomicU64::new(0);

/// A running pppd in a UML guest, its tty on a host PTY.
pub struct Pppd {
    child: Mutex<Child>,
    pgid: Pid,
    scratch: PathBuf,
    device: PathBuf,
    /// Our own fd of the slave: keeps the line up while clients come and go.
    slave: File,
    boot_time: Duration,
    exit: Mutex<Option<i32>>,
    seq: AtomicU64,
}

impl fmt::Debug for Pppd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pppd")
            .field("pid", &self.pgid)
            .field("device", &self.device)
            .field("scratch", &self.scratch)
            .finish()
    }
}

impl Pppd {
    /// Boots UML with pppd on `/dev/ttyS0`; returns once pppd has the tty open.
    pub fn start(opts: PppdOptions) -> Result<Pppd, HarnessError> {
        peer_available().map_err(HarnessError::Unavailable)?;
        let modules =
            module_dir().ok_or_else(|| HarnessError::Unavailable("UML modules".into()))?;
        let t0 = Instant::now();

        let scratch = make_scratch()?;
        let scratch_str = scratch
            .to_str()
            .filter(|s| !s.contains(char::is_whitespace))
            .ok_or_else(|| {
                HarnessError::Unavailable(format!(
                    "scratch path {scratch:?} must be UTF-8 without spaces (check TMPDIR)"
                ))
            })?;
        let write = |name: &str, text: &str, mode: u32| -> Result<(), HarnessError> {
            let p = scratch.join(name);
            fs::write(&p, text).map_err(io_err(format!("writing {p:?}")))?;
            fs::set_permissions(&p, fs::Permissions::from_mode(mode))
                .map_err(io_err(format!("chmod {p:?}")))
        };
        write("pap-secrets", &opts.pap_secrets, 0o600)?;
        write("chap-secrets", &opts.chap_secrets, 0o600)?;
        for (name, text) in &opts.etc_ppp {
            write(&format!("etc-ppp-{name}"), text, 0o755)?;
        }
        let init = init_script(scratch_str, &modules, &opts);
        write("init", &init, 0o755)?;
        fs::create_dir(scratch.join("cmd")).map_err(io_err("creating cmd dir"))?;

        let (master, device, slave) = open_pty()?;

        let console =
            File::create(scratch.join("console")).map_err(io_err("creating console log"))?;
        let console2 = console.try_clone().map_err(io_err("dup console log"))?;
        let umid = scratch
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("carrier-pppd")
            .to_string();
        let mut cmd = Command::new(UML_KERNEL);
        cmd.args([
            "mem=128M".to_string(),
            format!("umid={umid}"),
            format!("uml_dir={scratch_str}/uml"),
            "root=/dev/root".into(),
            "rootfstype=hostfs".into(),
            "rootflags=/".into(),
            "ro".into(),
            format!("init={scratch_str}/init"),
            "panic=-1".into(),
            "noreboot".into(),
            // con=/ssl= before con0=/ssl0=: the later, specific ones win.
            "con=null".into(),
            "con0=null,fd:1".into(),
            "ssl=null".into(),
            "ssl0=fd:0".into(),
            // Unknown KEY=VALUE words become init's environment.
            GUEST_TUNABLES.into(),
        ])
        .env("LD_PRELOAD", fpu_shim()?)
        .stdin(Stdio::from(master))
        .stdout(Stdio::from(console))
        .stderr(Stdio::from(console2))
        .current_dir(&scratch)
        .process_group(0);
        let child = cmd
            .spawn()
            .map_err(io_err(format!("spawning {UML_KERNEL}")))?;
        let pgid = Pid::from_raw(child.id() as i32);

        let mut pppd = Pppd {
            child: Mutex::new(child),
            pgid,
            scratch,
            device,
            slave,
            boot_time: Duration::ZERO,
            exit: Mutex::new(None),
            seq: AtomicU64::new(0),
        };
        match pppd.wait_ready(t0 + BOOT_TIMEOUT) {
            Ok(()) => {
                pppd.boot_time = t0.elapsed();
                Ok(pppd)
            }
            Err(reason) => {
                let mut console = pppd.console();
                let failed = fs::read_to_string(pppd.scratch.join("failed")).unwrap_or_default();
                if !failed.is_empty() {
                    console = format!("{console}\n--- init failures ---\n{failed}");
                }
                Err(HarnessError::Boot {
                    reason,
                    console,
                    log: pppd.log(),
                })
                // `pppd` drops here: UML killed, scratch removed.
            }
        }
    }

    fn wait_ready(&self, deadline: Instant) -> Result<(), String> {
        loop {
            if self.scratch.join("ready").exists() {
                return Ok(());
            }
            if let Some(code) = self.read_exit_file() {
                return Err(format!(
                    "pppd exited with status {code} before it opened /dev/ttyS0"
                ));
            }
            if let Some(status) = self.try_wait_uml() {
                return Err(format!("UML exited ({status}) before pppd was ready"));
            }
            if Instant::now() >= deadline {
                return Err(format!("pppd not ready after {BOOT_TIMEOUT:?}"));
            }
            thread::sleep(POLL);
        }
    }

    /// The host PTY slave that the code under test opens (`O_RDWR|O_NOCTTY`).
    pub fn device(&self) -> &Path {
        &self.device
    }

    /// Opens [`Pppd::device`] the way a client would (`O_RDWR|O_NOCTTY`, blocking).
    pub fn open_device(&self) -> io::Result<File> {
        open_tty(&self.device)
    }

    /// Time from `start` to "pppd has the tty open".
    pub fn boot_time(&self) -> Duration {
        self.boot_time
    }

    /// The scratch directory (init script, logs, exec files).
    /// The host's view of the guest's `/etc/ppp/hooks-out`.
    pub fn hooks_out(&self) -> PathBuf {
        self.scratch.join("hooks-out")
    }

    pub fn scratch_dir(&self) -> &Path {
        &self.scratch
    }

    /// pppd's stdout+stderr so far (with `debug`: the packet trace).
    pub fn log(&self) -> String {
        read_lossy(&self.scratch.join("pppd.log"))
    }

    /// UML's console: kernel messages and init's complaints.
    pub fn console(&self) -> String {
        read_lossy(&self.scratch.join("console"))
    }

    /// Waits until pppd's log contains `needle`; false on timeout.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log().contains(needle) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(POLL);
        }
    }

    /// Sends SIGTERM to pppd in the guest (pppd then sends Terminate-Request
    /// if the link is up, and exits). Returns once the signal is sent.
    pub fn terminate(&self) {
        self.signal("TERM");
    }

    /// Sends a signal (by name: `TERM`, `HUP`, `INT`, `USR1`, ...) to pppd.
    pub fn signal(&self, sig: &str) {
        if self.exited() {
            return;
        }
        let _ = self.exec(
            &format!("kill -{sig} \"$PPPD_PID\""),
            Duration::from_secs(10),
        );
    }

    fn exited(&self) -> bool {
        self.exit.lock().map(|e| e.is_some()).unwrap_or(false) || self.read_exit_file().is_some()
    }

    /// pppd's exit status (as the guest shell saw it: 128+n if killed by
    /// signal n), or None if it has not exited within `timeout` (or the VM
    /// died without reporting one).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(code) = *self.exit.lock().unwrap() {
                return Some(code);
            }
            if let Some(code) = self.read_exit_file() {
                *self.exit.lock().unwrap() = Some(code);
                // The guest powers off right after; reap UML briefly.
                let reap_by = Instant::now() + Duration::from_secs(5);
                while self.try_wait_uml().is_none() && Instant::now() < reap_by {
                    thread::sleep(POLL);
                }
                return Some(code);
            }
            if self.try_wait_uml().is_some() {
                // The file is written before poweroff; one last look.
                return self.read_exit_file();
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(POLL);
        }
    }

    /// Runs `cmd` with busybox sh in the guest (cwd `/`, PATH with the host's
    /// /usr/sbin:/usr/bin:/sbin:/bin, `$PPPD_PID` set), concurrently with
    /// other commands. Returns (exit status, stdout+stderr), or None on
    /// timeout or if the VM is gone. The guest polls for commands every 50 ms.
    pub fn exec(&self, cmd: &str, timeout: Duration) -> Option<(i32, String)> {
        let deadline = Instant::now() + timeout;
        if self.try_wait_uml().is_some() {
            return None;
        }
        let n = self.seq.fetch_add(1, Ordering::SeqCst);
        let dir = self.scratch.join("cmd");
        let tmp = dir.join(format!(".{n}.tmp"));
        fs::write(&tmp, cmd).ok()?;
        // Atomic appearance: the guest only picks up `*.sh`.
        fs::rename(&tmp, dir.join(format!("{n}.sh"))).ok()?;
        let rc_path = dir.join(format!("{n}.rc"));
        loop {
            if let Ok(rc) = fs::read_to_string(&rc_path) {
                if let Ok(rc) = rc.trim().parse() {
                    let out = read_lossy(&dir.join(format!("{n}.out")));
                    return Some((rc, out));
                }
            }
            if self.try_wait_uml().is_some() || Instant::now() >= deadline {
                return None;
            }
            thread::sleep(POLL);
        }
    }

    /// Joins this pppd's line with another's, back to back.
    pub fn join(&self, other: &Pppd) -> io::Result<Link> {
        Link::join(&self.device, &other.device)
    }

    fn read_exit_file(&self) -> Option<i32> {
        fs::read_to_string(self.scratch.join("exit"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn try_wait_uml(&self) -> Option<std::process::ExitStatus> {
        self.child.lock().ok()?.try_wait().ok().flatten()
    }
}

impl Drop for Pppd {
    fn drop(&mut self) {
        if thread::panicking() {
            let _ = writeln!(
                io::stderr(),
                "--- pppd log ({}) ---\n{}\n--- UML console tail ---\n{}\n---",
                self.device.display(),
                self.log(),
                tail(&self.console(), 30)
            );
        }
        // UML runs in its own process group: kill it and all its helpers.
        let _ = killpg(self.pgid, Signal::SIGKILL);
        if let Ok(child) = self.child.get_mut() {
            let _ = child.wait();
        }
        if std::env::var_os("CARRIER_PPPD_KEEP").is_some() {
            let _ = writeln!(
                io::stderr(),
                "CARRIER_PPPD_KEEP: kept {}",
                self.scratch.display()
            );
        } else {
            let _ = fs::remove_dir_all(&self.scratch);
        }
        // `self.slave` is closed after this body, i.e. after the VM is gone.
    }
}

/// Two tty lines joined back to back: bytes are copied both ways by two
/// threads. Dropping the link stops the copying (within ~100 ms) and
/// restores both ttys' termios.
pub struct Link {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    counters: Arc<[AtomicU64; 2]>,
    restore: Vec<(File, Termios)>,
}

impl Link {
    /// Opens both tty paths and copies bytes between them until dropped.
    /// The ttys are switched to VMIN=0 VTIME=1 (reads return after at most
    /// 100 ms) so the threads can notice the stop flag.
    pub fn join(a: &Path, b: &Path) -> io::Result<Link> {
        let fa = open_tty(a)?;
        let fb = open_tty(b)?;
        let mut restore = Vec::new();
        for f in [&fa, &fb] {
            let orig = termios::tcgetattr(f.as_fd()).map_err(io::Error::from)?;
            let mut t = orig.clone();
            make_raw(&mut t);
            t.control_chars[SpecialCharacterIndices::VMIN as usize] = 0;
            t.control_chars[SpecialCharacterIndices::VTIME as usize] = 1;
            termios::tcsetattr(f.as_fd(), SetArg::TCSANOW, &t).map_err(io::Error::from)?;
            restore.push((f.try_clone()?, orig));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
        let mut threads = Vec::new();
        for (i, (src, dst)) in [(fa.try_clone()?, fb.try_clone()?), (fb, fa)]
            .into_iter()
            .enumerate()
        {
            let stop = stop.clone();
            let counters = counters.clone();
            threads.push(thread::spawn(move || {
                copy_until_stopped(src, dst, &stop, &counters[i])
            }));
        }
        Ok(Link {
            stop,
            threads,
            counters,
            restore,
        })
    }

    /// Bytes copied so far: (a→b, b→a).
    pub fn bytes(&self) -> (u64, u64) {
        (
            self.counters[0].load(Ordering::Relaxed),
            self.counters[1].load(Ordering::Relaxed),
        )
    }
}

fn copy_until_stopped(mut src: File, mut dst: File, stop: &AtomicBool, count: &AtomicU64) {
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        match src.read(&mut buf) {
            Ok(0) => continue, // VTIME expired
            Ok(n) => {
                if dst.write_all(&buf[..n]).is_err() {
                    return;
                }
                count.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // EIO: the VM behind this line is gone.
            Err(_) => return,
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // A thread stuck in write (a peer that stopped reading) is left
        // behind rather than hanging the test; it ends with EIO once that
        // peer's VM is gone.
        let deadline = Instant::now() + Duration::from_secs(1);
        while !self.threads.iter().all(|t| t.is_finished()) && Instant::now() < deadline {
            thread::sleep(POLL);
        }
        for t in self.threads.drain(..) {
            if t.is_finished() {
                let _ = t.join();
            }
        }
        for (f, t) in &self.restore {
            let _ = termios::tcsetattr(f.as_fd(), SetArg::TCSANOW, t);
        }
    }
}

// ---------------------------------------------------------------- helpers

/// The guest's programs stay off AVX: with [`fpu_shim`] UML carries only
/// the legacy FPU/SSE state of its processes.
const GUEST_TUNABLES: &str =
    "GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX512F,-AVX512VL,-AVX512BW,-AVX512DQ,-AVX512CD,-AVX2,-AVX,-AMX_TILE";

/// Builds `uml_fpu_shim.c` once a test process (its comment says why):
/// the path of the shared object to LD_PRELOAD into linux.uml.
fn fpu_shim() -> Result<PathBuf, HarnessError> {
    static SHIM: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    SHIM.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("carrier-uml-shim-{}", std::process::id()));
        fs::create_dir_all(&dir).map_err(|e| format!("creating {dir:?}: {e}"))?;
        let src = dir.join("uml_fpu_shim.c");
        let so = dir.join("uml_fpu_shim.so");
        fs::write(&src, include_str!("uml_fpu_shim.c")).map_err(|e| format!("{src:?}: {e}"))?;
        let out = Command::new("cc")
            .args(["-O2", "-shared", "-fPIC", "-o"])
            .arg(&so)
            .arg(&src)
            .output()
            .map_err(|e| format!("cc (Debian package `gcc`): {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "building the UML FPU shim: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(so)
    })
    .clone()
    .map_err(HarnessError::Unavailable)
}

fn make_scratch() -> Result<PathBuf, HarnessError> {
    let base = std::env::temp_dir();
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(|| sweep_stale_scratch(&base));
    loop {
        let n = SCRATCH_SEQ.fetch_add(1, Ordering::SeqCst);
        let dir = base.join(format!("carrier-pppd-{}-{n}", std::process::id()));
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err(format!("creating {dir:?}"))(e)),
        }
    }
}

/// Removes scratch dirs left by test processes that died without running
/// `Drop` (their VMs power themselves off once the process is gone).
fn sweep_stale_scratch(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("carrier-pppd-")) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

fn make_raw(t: &mut Termios) {
    t.input_flags = InputFlags::empty();
    t.output_flags = OutputFlags::empty();
    t.local_flags = LocalFlags::empty();
    t.control_flags = ControlFlags::CS8 | ControlFlags::CREAD | ControlFlags::CLOCAL;
    t.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
    t.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
}

/// Opens a tty `O_RDWR|O_NOCTTY` (and, as std always does, `O_CLOEXEC`).
fn open_tty(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(OFlag::O_NOCTTY.bits())
        .open(path)
}

/// A PTY pair with the slave raw: (master for UML, slave path, our slave fd).
/// Both fds are close-on-exec, so they never leak into other tests' VMs
/// (a leaked master would keep a dead VM's line looking alive).
fn open_pty() -> Result<(OwnedFd, PathBuf, File), HarnessError> {
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(nix_err("posix_openpt"))?;
    nix::pty::grantpt(&master).map_err(nix_err("grantpt"))?;
    nix::pty::unlockpt(&master).map_err(nix_err("unlockpt"))?;
    let path = PathBuf::from(nix::pty::ptsname_r(&master).map_err(nix_err("ptsname"))?);
    let slave = open_tty(&path).map_err(io_err(format!("opening {path:?}")))?;
    let mut t = termios::tcgetattr(slave.as_fd()).map_err(nix_err("tcgetattr"))?;
    make_raw(&mut t);
    termios::tcsetattr(slave.as_fd(), SetArg::TCSANOW, &t).map_err(nix_err("tcsetattr"))?;
    // F_DUPFD_CLOEXEC; Command's dup2 onto fd 0 clears CLOEXEC in the child only.
    let master = master
        .as_fd()
        .try_clone_to_owned()
        .map_err(io_err("dup pty master"))?;
    Ok((master, path, slave))
}

fn read_lossy(p: &Path) -> String {
    fs::read(p)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

fn tail(s: &str, lines: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

/// Single-quotes a word for sh.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The guest's PID 1 (busybox sh). Protocol in the scratch dir `$S`:
/// `ready` once pppd has /dev/ttyS0 open; `exit` with pppd's status;
/// `failed` with init's complaints; `cmd/N.sh` → `cmd/N.run` (picked up),
/// `cmd/N.out`, then `cmd/N.rc` last.
fn init_script(scratch: &str, modules: &Path, opts: &PppdOptions) -> String {
    let mut mods: Vec<&str> = MODULES.to_vec();
    if opts.ccp_modules {
        mods.extend(CCP_MODULES);
    }
    let insmods: String = mods
        .iter()
        .map(|m| {
            let p = sh_quote(&modules.join(m).to_string_lossy());
            format!("$B insmod {p} || fail \"insmod {m}\"\n")
        })
        .collect();
    let args: Vec<String> = opts.args.iter().map(|a| sh_quote(a)).collect();
    let args = args.join(" ");
    let harness_pid = std::process::id();
    format!(
        r#"#!/bin/busybox sh
# Generated by tests/support/pppd.rs: PID 1 of a UML guest running pppd.
B=/bin/busybox
S={scratch}
HPID={harness_pid}
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
fail() {{
	echo "init: $*"
	echo "$*" >> "$S/failed"
	$B poweroff -f
}}
$B mount -t proc proc /proc || fail "mount proc"
$B mount -t sysfs sysfs /sys || fail "mount sysfs"
$B mount -t tmpfs -o mode=755 tmpfs /run || fail "mount /run"
$B mkdir -p /run/lock /run/hostproc
$B mount -t hostfs -o "$S" none "$S" || fail "mount hostfs $S"
# The host's /proc: lets the guest notice that the harness process is gone.
$B mount -t hostfs -o /proc none /run/hostproc || fail "mount hostfs /proc"
# Keep the host's /etc/ppp/options, ~/.ppprc and logs out of it.
$B mount -t tmpfs -o mode=755 tmpfs /etc/ppp || fail "mount /etc/ppp"
: > /etc/ppp/options
$B cp "$S/pap-secrets" "$S/chap-secrets" /etc/ppp/ || fail "copy secrets"
$B chmod 600 /etc/ppp/pap-secrets /etc/ppp/chap-secrets
# Scripts can leave records for the host in /etc/ppp/hooks-out.
$B mkdir -p "$S/hooks-out" && $B ln -s "$S/hooks-out" /etc/ppp/hooks-out || fail "hooks-out"
for f in "$S"/etc-ppp-*; do
	[ -f "$f" ] || continue
	$B cp "$f" "/etc/ppp/${{f#$S/etc-ppp-}}" && $B chmod 755 "/etc/ppp/${{f#$S/etc-ppp-}}" || fail "copy $f"
done
$B mount -t tmpfs -o mode=700 tmpfs /root || fail "mount /root"
$B mount -t tmpfs tmpfs /var/log || fail "mount /var/log"
{insmods}
# A fifo nobody writes: `read -t` on it is a sleep without a fork.
$B mkfifo /run/tick && exec 3<>/run/tick || fail "tick fifo"
tick() {{ read -t "$1" _ <&3; }}
cd /
/usr/sbin/pppd /dev/ttyS0 {args} nodetach > "$S/pppd.log" 2>&1 < /dev/null &
P=$!
echo "$P" > "$S/pid"
while :; do
	st=
	[ -e /proc/$P/stat ] && read -r _ _ st _ < /proc/$P/stat
	case "$st" in Z|X|"") break ;; esac
	if $B ls -l /proc/$P/fd 2>/dev/null | $B grep -q /dev/ttyS0; then
		echo "$P" > "$S/ready"
		break
	fi
	tick 0.01
done
export PPPD_PID=$P
(
	while :; do
		[ -d "/run/hostproc/$HPID" ] || {{ echo "init: harness process $HPID is gone, powering off"; $B poweroff -f; }}
		for f in "$S"/cmd/*.sh; do
			[ -f "$f" ] || continue
			n=${{f%.sh}}
			$B mv "$f" "$n.run" || continue
			( $B sh "$n.run" > "$n.out" 2>&1 < /dev/null; echo $? > "$n.tmp"; $B mv "$n.tmp" "$n.rc" ) &
		done
		tick 0.05
	done
) &
wait $P
R=$?
echo "$R" > "$S/exit.tmp"
$B mv "$S/exit.tmp" "$S/exit"
echo "$R" > /proc/exitcode
$B poweroff -f
"#
    )
}
