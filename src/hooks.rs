//! pppd's scripts: `/etc/ppp/auth-up`, `ip-pre-up`, `ip-up`, `ip-down`,
//! `ipv6-up`, `ipv6-down`, `auth-down`, run at the moments pppd 2.4.9
//! runs them, with its arguments and its environment, so that an existing
//! `/etc/ppp` (Debian's run-parts wrappers and their `.d` directories)
//! works unchanged.
//!
//! Where carrier differs from pppd, on purpose:
//! * every script has a bounded run time ([`HookConfig::timeout`]): a
//!   hanging one is killed (its whole process group) and reported, and the
//!   link carries on; pppd waits for ip-pre-up for ever;
//! * no script holds up the line: pppd stops everything (LCP echoes too)
//!   while ip-pre-up runs; here the session serves the line meanwhile and
//!   configures the interface once the script is done ([`ScriptDone`],
//!   [`AfterScripts`]);
//! * ip-down and ipv6-down run while the interface still exists with its
//!   addresses (a TUN device goes away with its descriptor), and the
//!   interface goes once they are done;
//! * the scripts' output is logged, each line cut at [`MAX_LOGGED_LINE`]
//!   octets (pppd sends it to /dev/null).
//!
//! The peer's name reaches the scripts (`PEERNAME`, auth-up's argument) as
//! pppd's `%v` shows it: cut at a NUL, control characters written `^J`,
//! `^[`, `M-^[` ([`visible_name`]).

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::events::Reporter;

/// pppd's defaults for where and how.
pub const DEFAULT_DIR: &str = "/etc/ppp";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest line of a script's output that is logged; the rest of the
/// line is counted, not kept, so a script cannot flood the log or the
/// memory with one endless line.
pub const MAX_LOGGED_LINE: usize = 1024;

/// The longest peer name a script is given, pppd's: auth.c keeps it in
/// `peer_authname[MAXNAMELEN]`, MAXNAMELEN 256 with its NUL.
const MAX_NAME: usize = 255;

#[derive(Clone, Debug)]
pub struct HookConfig {
    /// Where the scripts are (`/etc/ppp`).
    pub dir: PathBuf,
    /// pppd's `ipparam`: the last argument of ip-up and friends.
    pub ipparam: Option<String>,
    /// pppd's `linkname`: `LINKNAME` in the environment.
    pub linkname: Option<String>,
    /// pppd's `call NAME`: the profile's name, `CALL_FILE`.
    pub call_file: Option<String>,
    /// Longest a script may run before it is killed.
    pub timeout: Duration,
}

impl Default for HookConfig {
    fn default() -> Self {
        HookConfig {
            dir: PathBuf::from(DEFAULT_DIR),
            ipparam: None,
            linkname: None,
            call_file: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// The scripts, by pppd's file names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Script {
    AuthUp,
    AuthDown,
    IpPreUp,
    IpUp,
    IpDown,
    Ipv6Up,
    Ipv6Down,
}

impl Script {
    pub fn file_name(self) -> &'static str {
        match self {
            Script::AuthUp => "auth-up",
            Script::AuthDown => "auth-down",
            Script::IpPreUp => "ip-pre-up",
            Script::IpUp => "ip-up",
            Script::IpDown => "ip-down",
            Script::Ipv6Up => "ipv6-up",
            Script::Ipv6Down => "ipv6-down",
        }
    }
}

/// How a script ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    /// Not there: nothing to run (pppd skips it silently).
    Missing,
    /// There but not runnable (not a file, no execute bit, exec failed).
    Unrunnable(String),
    Exited(Option<i32>),
    /// Ran past the timeout and was killed.
    Killed,
}

/// One up/down pair's state, as pppd serialises them: the down script
/// waits for a still-running up script, and runs only if the up one ran.
#[derive(Default)]
struct Pair {
    up_ran: bool,
    running: Option<JoinHandle<Ended>>,
}

/// Resolves once a script the session waits for has ended: at once if
/// there was none to run. Waiting is cancel-safe (a `select!` branch).
#[derive(Debug, Default)]
pub struct ScriptDone(Option<oneshot::Receiver<()>>);

impl ScriptDone {
    /// Nothing to wait for.
    pub fn now() -> Self {
        ScriptDone(None)
    }

    /// Has the script ended (or was there none)?
    pub fn is_done(&mut self) -> bool {
        let Some(rx) = &mut self.0 else { return true };
        match rx.try_recv() {
            Err(oneshot::error::TryRecvError::Empty) => false,
            // Ended, or its task is gone: nothing more will come.
            _ => {
                self.0 = None;
                true
            }
        }
    }

    pub async fn wait(&mut self) {
        if let Some(rx) = &mut self.0 {
            let _ = rx.await;
            self.0 = None;
        }
    }
}

/// Changes that must wait for a script (the interface configured after
/// ip-pre-up, removed after ip-down), kept in the order they were asked
/// for: each is handed back once its own script and those of the changes
/// before it have ended.
#[derive(Debug)]
pub struct AfterScripts<A> {
    queue: VecDeque<(ScriptDone, A)>,
}

impl<A> Default for AfterScripts<A> {
    fn default() -> Self {
        AfterScripts {
            queue: VecDeque::new(),
        }
    }
}

impl<A> AfterScripts<A> {
    /// Queues `change` behind `done`; hands it straight back, to be made
    /// now, when nothing is waiting.
    pub fn push(&mut self, mut done: ScriptDone, change: A) -> Option<A> {
        if self.queue.is_empty() && done.is_done() {
            return Some(change);
        }
        self.queue.push_back((done, change));
        None
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The changes still waiting, first first.
    pub fn iter(&self) -> impl Iterator<Item = &A> {
        self.queue.iter().map(|(_, a)| a)
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut A> {
        self.queue.iter_mut().map(|(_, a)| a)
    }

    /// Waits for the first change's script and hands the change back;
    /// never resolves while none waits. Cancel-safe.
    pub async fn next(&mut self) -> A {
        loop {
            let Some((done, _)) = self.queue.front_mut() else {
                return std::future::pending().await;
            };
            done.wait().await;
            if let Some((_, change)) = self.queue.pop_front() {
                return change;
            }
        }
    }

    /// Every change left, in order, each once its script has ended.
    pub async fn drain(&mut self) -> Vec<A> {
        let mut out = Vec::with_capacity(self.queue.len());
        while let Some((mut done, change)) = self.queue.pop_front() {
            done.wait().await;
            out.push(change);
        }
        out
    }
}

/// A peer's name as the scripts get it, pppd's way: cut at the first NUL
/// (pppd keeps a PAP name as a C string; a NUL would also make every
/// script fail to start, the OS taking no NUL in the environment), then
/// `slprintf`'s `%v`: a control character is `^` and its letter (`^J` for
/// a newline, `^[` for ESC, `^?` for DEL), a C1 control `M-` and that
/// (`M-^[`), tab kept. So no newline splits a line a script writes and
/// no escape sequence reaches a terminal. Printable characters beyond
/// ASCII are kept (pppd writes every octet above 0x7f as `M-`, which
/// would garble a UTF-8 name). At most 255 octets, as in pppd.
pub fn visible_name(name: &str) -> String {
    let name = name.split('\0').next().unwrap_or_default();
    let mut out = String::with_capacity(name.len());
    let mut piece = String::with_capacity(4);
    for c in name.chars() {
        piece.clear();
        push_visible(&mut piece, c);
        if out.len() + piece.len() > MAX_NAME {
            break;
        }
        out.push_str(&piece);
    }
    out
}

/// One character in the form of pppd's `%v`.
fn push_visible(out: &mut String, c: char) {
    let caret = |n: u32| char::from(((n & 0x1f) as u8) ^ 0x40);
    match c as u32 {
        0x09 => out.push(c),
        0x7f => out.push_str("^?"),
        n @ 0x00..=0x1f => {
            out.push('^');
            out.push(caret(n));
        }
        n @ 0x80..=0x9f => {
            out.push_str("M-^");
            out.push(caret(n));
        }
        _ => out.push(c),
    }
}

/// The per-call state of the scripts: pppd's cumulative script
/// environment and the scripts still running.
pub struct Hooks {
    cfg: HookConfig,
    reporter: Reporter,
    env: BTreeMap<&'static str, String>,
    device: String,
    speed: u32,
    ifname: String,
    auth: Pair,
    ip: Pair,
    ipv6: Pair,
    ip_args: [String; 2],
    ipv6_args: [String; 2],
    /// The link's statistics when IPCP came up (pppd's `reset_link_stats`).
    stats_base: (Instant, u64, u64),
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("dir", &self.cfg.dir)
            .finish_non_exhaustive()
    }
}

fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string())
}

impl Hooks {
    /// `device` and `speed` as pppd has them: the tty path and its rate
    /// (0 when not a tty); `ifname` the interface's configured name until
    /// the kernel's is known.
    pub fn new(
        cfg: HookConfig,
        device: &Path,
        speed: u32,
        ifname: &str,
        reporter: Reporter,
    ) -> Self {
        let uid = nix::unistd::getuid().as_raw();
        let mut env = BTreeMap::new();
        // main.c: ORIG_UID, PPPLOGNAME, DEVICE, PPPD_PID; tty.c: SPEED.
        env.insert("ORIG_UID", uid.to_string());
        env.insert(
            "PPPLOGNAME",
            std::env::var("LOGNAME").unwrap_or_else(|_| user_name(uid)),
        );
        env.insert("DEVICE", device.display().to_string());
        env.insert("PPPD_PID", std::process::id().to_string());
        env.insert("SPEED", speed.to_string());
        if let Some(l) = &cfg.linkname {
            env.insert("LINKNAME", l.clone());
        }
        if let Some(c) = &cfg.call_file {
            env.insert("CALL_FILE", c.clone());
        }
        let mut h = Hooks {
            cfg,
            reporter,
            env,
            device: device.display().to_string(),
            speed,
            ifname: String::new(),
            auth: Pair::default(),
            ip: Pair::default(),
            ipv6: Pair::default(),
            ip_args: Default::default(),
            ipv6_args: Default::default(),
            stats_base: (Instant::now(), 0, 0),
        };
        h.set_ifname(ifname);
        h
    }

    /// The kernel's name for the interface, once it exists.
    pub fn set_ifname(&mut self, ifname: &str) {
        self.ifname = ifname.to_string();
        self.env.insert("IFNAME", ifname.to_string());
        // pppd's UNIT is the ppp unit number.
        if let Some(unit) = crate::net::tun::unit_number(ifname) {
            self.env.insert("UNIT", unit.to_string());
        }
    }

    /// The peer authenticated itself to us (auth.c `auth_peer_success`):
    /// `PEERNAME`, in the form [`visible_name`] gives.
    pub fn peer_name(&mut self, peer: &str) {
        self.env.insert("PEERNAME", visible_name(peer));
    }

    /// The Network phase begins (auth.c `network_phase`): auth-up, only
    /// if we made the peer authenticate.
    pub fn network_phase(&mut self, peer_authenticated: bool) {
        if !peer_authenticated || self.auth.up_ran {
            return;
        }
        let peer = self.env.get("PEERNAME").cloned().unwrap_or_default();
        let args = vec![
            self.ifname.clone(),
            peer,
            user_name(nix::unistd::getuid().as_raw()),
            self.device.clone(),
            self.speed.to_string(),
        ];
        self.auth.up_ran = true;
        self.auth.running = Some(self.spawn(Script::AuthUp, args));
    }

    /// LCP left Opened (auth.c `link_down`): auth-down, started before
    /// ip-down as pppd does, not waited for.
    pub fn link_down(&mut self, bytes_sent: u64, bytes_rcvd: u64) {
        if !std::mem::take(&mut self.auth.up_ran) {
            return;
        }
        self.update_stats(bytes_sent, bytes_rcvd);
        let args = vec![
            self.ifname.clone(),
            self.env.get("PEERNAME").cloned().unwrap_or_default(),
            user_name(nix::unistd::getuid().as_raw()),
            self.device.clone(),
            self.speed.to_string(),
        ];
        let previous = self.auth.running.take();
        self.auth.running = Some(self.spawn_after(previous, Script::AuthDown, args));
    }

    /// IPCP opened: the environment of ipcp.c `ipcp_up`, then ip-pre-up
    /// (after what still runs of the IPv4 scripts). The interface is to be
    /// configured once the returned [`ScriptDone`] resolves; the line is
    /// served meanwhile.
    pub fn ip_pre_up(
        &mut self,
        local: std::net::Ipv4Addr,
        peer: Option<std::net::Ipv4Addr>,
        dns: &[std::net::Ipv4Addr],
        usepeerdns: bool,
    ) -> ScriptDone {
        self.env.insert("IPLOCAL", local.to_string());
        if let Some(p) = peer {
            self.env.insert("IPREMOTE", p.to_string());
        }
        if usepeerdns {
            for (i, d) in dns.iter().take(2).enumerate() {
                self.env
                    .insert(if i == 0 { "DNS1" } else { "DNS2" }, d.to_string());
            }
            if !dns.is_empty() {
                self.env.insert("USEPEERDNS", "1".into());
            }
        }
        self.ip_args = [
            local.to_string(),
            peer.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED).to_string(),
        ];
        let args = self.ip_argv();
        if self.missing(Script::IpPreUp) {
            return ScriptDone::now();
        }
        let previous = self.ip.running.take();
        let (done, running) = self.spawn_waited(previous, Script::IpPreUp, args);
        self.ip.running = Some(running);
        done
    }

    /// The interface is up with its addresses: ip-up, in the background.
    /// `bytes` are the link's counts now, the base of `BYTES_*` later.
    pub fn ip_up(&mut self, bytes_sent: u64, bytes_rcvd: u64) {
        self.stats_base = (Instant::now(), bytes_sent, bytes_rcvd);
        self.ip.up_ran = true;
        let args = self.ip_argv();
        let previous = self.ip.running.take();
        self.ip.running = Some(self.spawn_after(previous, Script::IpUp, args));
    }

    /// IPCP is going down: ip-down, after ip-up if that still runs. The
    /// interface is to go once the returned [`ScriptDone`] resolves, so
    /// that the script finds it still there.
    pub fn ip_down(&mut self, bytes_sent: u64, bytes_rcvd: u64) -> ScriptDone {
        self.down(false, bytes_sent, bytes_rcvd)
    }

    /// ip-down or ipv6-down (`v6`), if its up script ran: after it.
    fn down(&mut self, v6: bool, bytes_sent: u64, bytes_rcvd: u64) -> ScriptDone {
        let pair = if v6 { &mut self.ipv6 } else { &mut self.ip };
        if !std::mem::take(&mut pair.up_ran) {
            return ScriptDone::now();
        }
        let previous = pair.running.take();
        self.update_stats(bytes_sent, bytes_rcvd);
        let (script, args) = if v6 {
            (Script::Ipv6Down, self.ipv6_argv())
        } else {
            (Script::IpDown, self.ip_argv())
        };
        // Nothing to run and nothing to wait for: the interface may go now.
        if previous.as_ref().map_or(true, |p| p.is_finished()) && self.missing(script) {
            return ScriptDone::now();
        }
        let (done, running) = self.spawn_waited(previous, script, args);
        let pair = if v6 { &mut self.ipv6 } else { &mut self.ip };
        pair.running = Some(running);
        done
    }

    /// IPv6CP opened and the interface has its link-local address.
    pub fn ipv6_up(&mut self, local: std::net::Ipv6Addr, peer: std::net::Ipv6Addr) {
        // pppd's llv6_ntoa: "fe80::" and four zero-padded groups.
        let ll = |a: std::net::Ipv6Addr| {
            let mut id = [0u8; 8];
            id.copy_from_slice(&a.octets()[8..]);
            format!("fe80::{}", crate::ppp::ipv6cp::InterfaceId(id))
        };
        self.env.insert("LLLOCAL", ll(local));
        self.env.insert("LLREMOTE", ll(peer));
        self.ipv6_args = [ll(local), ll(peer)];
        self.ipv6.up_ran = true;
        let args = self.ipv6_argv();
        let previous = self.ipv6.running.take();
        self.ipv6.running = Some(self.spawn_after(previous, Script::Ipv6Up, args));
    }

    /// IPv6CP is going down: ipv6-down, as [`Hooks::ip_down`].
    pub fn ipv6_down(&mut self, bytes_sent: u64, bytes_rcvd: u64) -> ScriptDone {
        self.down(true, bytes_sent, bytes_rcvd)
    }

    /// The call is over: waits for what still runs (each bounded by its
    /// own timeout), as pppd waits for its children before exiting.
    pub async fn finish(&mut self) {
        for p in [&mut self.auth, &mut self.ip, &mut self.ipv6] {
            if let Some(h) = p.running.take() {
                let _ = h.await;
            }
        }
    }

    fn ip_argv(&self) -> Vec<String> {
        self.argv_with(&self.ip_args)
    }

    fn ipv6_argv(&self) -> Vec<String> {
        self.argv_with(&self.ipv6_args)
    }

    /// `interface-name tty-device speed local remote [ipparam]`: pppd ends
    /// the list early when there is no ipparam.
    fn argv_with(&self, addrs: &[String; 2]) -> Vec<String> {
        let mut v = vec![
            self.ifname.clone(),
            self.device.clone(),
            self.speed.to_string(),
            addrs[0].clone(),
            addrs[1].clone(),
        ];
        if let Some(p) = &self.cfg.ipparam {
            v.push(p.clone());
        }
        v
    }

    /// main.c `update_link_stats`: seconds since IPCP came up and octets
    /// since then.
    fn update_stats(&mut self, bytes_sent: u64, bytes_rcvd: u64) {
        let (t, s, r) = self.stats_base;
        self.env
            .insert("CONNECT_TIME", t.elapsed().as_secs().to_string());
        self.env
            .insert("BYTES_SENT", bytes_sent.saturating_sub(s).to_string());
        self.env
            .insert("BYTES_RCVD", bytes_rcvd.saturating_sub(r).to_string());
    }

    /// No such script (then there is nothing to wait for). One that is
    /// there but cannot be run is reported when it is tried.
    fn missing(&self, script: Script) -> bool {
        let path = self.cfg.dir.join(script.file_name());
        let gone = matches!(std::fs::metadata(&path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound);
        if gone {
            tracing::debug!(script = %path.display(), "no such script");
        }
        gone
    }

    fn spawn(&self, script: Script, args: Vec<String>) -> JoinHandle<Ended> {
        self.spawn_after(None, script, args)
    }

    /// [`Hooks::spawn_after`], with a [`ScriptDone`] for the session.
    fn spawn_waited(
        &self,
        previous: Option<JoinHandle<Ended>>,
        script: Script,
        args: Vec<String>,
    ) -> (ScriptDone, JoinHandle<Ended>) {
        let (tx, rx) = oneshot::channel();
        let running = self.start(previous, script, args, Some(tx));
        (ScriptDone(Some(rx)), running)
    }

    /// Starts `script` once `previous` (the pair's up script) is done.
    fn spawn_after(
        &self,
        previous: Option<JoinHandle<Ended>>,
        script: Script,
        args: Vec<String>,
    ) -> JoinHandle<Ended> {
        self.start(previous, script, args, None)
    }

    fn start(
        &self,
        previous: Option<JoinHandle<Ended>>,
        script: Script,
        args: Vec<String>,
        done: Option<oneshot::Sender<()>>,
    ) -> JoinHandle<Ended> {
        let path = self.cfg.dir.join(script.file_name());
        let env = self.env.clone();
        let timeout = self.cfg.timeout;
        let reporter = self.reporter.clone();
        tokio::spawn(async move {
            if let Some(p) = previous {
                let _ = p.await;
            }
            let started = Instant::now();
            let ended = execute(&path, &args, &env, timeout).await;
            report(&reporter, script, &path, &ended, started.elapsed());
            if let Some(tx) = done {
                let _ = tx.send(());
            }
            ended
        })
    }
}

fn report(reporter: &Reporter, script: Script, path: &Path, ended: &Ended, took: Duration) {
    let name = script.file_name();
    match ended {
        Ended::Missing => tracing::debug!(script = %path.display(), "no such script"),
        Ended::Unrunnable(why) => {
            tracing::warn!(script = %path.display(), %why, "cannot execute script");
            reporter.emit(
                "hook",
                json!({"script": name, "path": path, "error": why}),
                &format!("{name}: cannot execute {}: {why}", path.display()),
            );
        }
        Ended::Exited(code) => reporter.emit(
            "hook",
            json!({"script": name, "path": path, "status": code,
                   "seconds": took.as_secs_f64()}),
            &format!(
                "{name} finished, status {}",
                code.map_or("signal".into(), |c| c.to_string())
            ),
        ),
        Ended::Killed => {
            tracing::warn!(script = %path.display(), "script ran too long: killed");
            reporter.emit(
                "hook",
                json!({"script": name, "path": path, "killed": true,
                       "seconds": took.as_secs_f64()}),
                &format!("{name} ran too long and was killed"),
            );
        }
    }
}

/// Whether `path` may be run as root, by OpenSSH's StrictModes (misc.c
/// `safe_path`): the script a regular file, it and every directory up to
/// `/` owned by root or by us and writable by neither group nor others,
/// or someone else could change what runs. Both the path as given and the
/// one its symbolic links resolve to are checked (OpenSSH checks only the
/// latter, which leaves a link in a writable directory replaceable). One
/// difference: a world-writable directory with the sticky bit (`/tmp`)
/// passes, since others cannot rename or remove what is ours in it, and
/// what is theirs fails the owner check below it.
pub fn check_trusted(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let euid = nix::unistd::geteuid().as_raw();
    let abs = std::path::absolute(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let real = std::fs::canonicalize(&abs).map_err(|e| format!("{}: {e}", abs.display()))?;
    let stat = |p: &Path| std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()));
    let meta = stat(&real)?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", real.display()));
    }
    let owned = |m: &std::fs::Metadata| m.uid() == 0 || m.uid() == euid;
    if !owned(&meta) || meta.mode() & 0o022 != 0 {
        return Err(format!(
            "bad ownership or modes for file {} (uid {}, mode {:04o})",
            real.display(),
            meta.uid(),
            meta.mode() & 0o7777
        ));
    }
    for dir in [abs.parent(), real.parent()].into_iter().flatten() {
        for d in dir.ancestors() {
            let m = stat(d)?;
            let sticky = m.mode() & 0o1000 != 0;
            if !owned(&m) || (m.mode() & 0o022 != 0 && !sticky) {
                return Err(format!(
                    "bad ownership or modes for directory {} (uid {}, mode {:04o})",
                    d.display(),
                    m.uid(),
                    m.mode() & 0o7777
                ));
            }
        }
    }
    Ok(())
}

/// Runs one script the way pppd's `run_program` does: only if it is
/// there, from `/`, in a session of its own (setsid: no controlling
/// terminal; its process group is its pid), umask 077, with nothing but
/// `env` (pppd sets no PATH either; Debian's scripts set their own).
async fn execute(
    path: &Path,
    args: &[String],
    env: &BTreeMap<&'static str, String>,
    timeout: Duration,
) -> Ended {
    use std::os::unix::fs::PermissionsExt;
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ended::Missing,
        Err(e) => return Ended::Unrunnable(e.to_string()),
    };
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Ended::Unrunnable("not an executable file".into());
    }
    if let Err(why) = check_trusted(path) {
        return Ended::Unrunnable(format!("not run: {why}"));
    }
    let mut cmd = Command::new(path);
    cmd.args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    carrier_hw::child::private_umask(cmd.as_std_mut());
    carrier_hw::child::own_session(cmd.as_std_mut());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Ended::Unrunnable(e.to_string()),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let out = child
        .stdout
        .take()
        .map(|o| tokio::spawn(log_lines(o, name.clone())));
    let err = child
        .stderr
        .take()
        .map(|e| tokio::spawn(log_lines(e, name)));
    let pid = child.id();
    let ended = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => Ended::Exited(status.code()),
        Ok(Err(e)) => Ended::Unrunnable(e.to_string()),
        Err(_) => {
            // The whole group: a shell's children (run-parts and what it
            // runs) go too.
            if let Some(pid) = pid {
                let pg = nix::unistd::Pid::from_raw(pid as i32);
                let _ = nix::sys::signal::killpg(pg, nix::sys::signal::Signal::SIGTERM);
                if tokio::time::timeout(Duration::from_secs(2), child.wait())
                    .await
                    .is_err()
                {
                    let _ = nix::sys::signal::killpg(pg, nix::sys::signal::Signal::SIGKILL);
                    let _ = child.wait().await;
                }
            }
            Ended::Killed
        }
    };
    // Output left in the pipes after a kill is not waited for.
    for t in [out, err].into_iter().flatten() {
        let _ = tokio::time::timeout(Duration::from_millis(200), t).await;
    }
    ended
}

async fn log_lines(r: impl AsyncRead + Unpin, script: String) {
    bounded_lines(r, MAX_LOGGED_LINE, |line, cut| {
        if cut == 0 {
            tracing::info!(target: "carrier::hooks", script = %script, "{line}");
        } else {
            tracing::info!(target: "carrier::hooks", script = %script, truncated = cut, "{line}...");
        }
    })
    .await;
}

/// Calls `each` with every line `r` gives (without its end of line),
/// control characters shown as [`visible_name`] shows them, at most `max`
/// octets of it, and the number of octets cut off the line. A line is
/// never held in memory beyond `max`, however long it runs.
async fn bounded_lines(r: impl AsyncRead + Unpin, max: usize, mut each: impl FnMut(&str, u64)) {
    let mut r = BufReader::new(r);
    let mut line: Vec<u8> = Vec::with_capacity(max.min(256));
    let mut cut = 0u64;
    let mut emit = |line: &mut Vec<u8>, cut: &mut u64| {
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let text = String::from_utf8_lossy(line);
        each(&visible_text(&text), *cut);
        line.clear();
        *cut = 0;
    };
    // A read error ends the output as its end does.
    while let Ok(buf) = r.fill_buf().await {
        if buf.is_empty() {
            break;
        }
        let (text, used, ended) = match memchr::memchr(b'\n', buf) {
            Some(i) => (&buf[..i], i + 1, true),
            None => (buf, buf.len(), false),
        };
        let room = max.saturating_sub(line.len()).min(text.len());
        line.extend_from_slice(&text[..room]);
        cut += (text.len() - room) as u64;
        r.consume(used);
        if ended {
            emit(&mut line, &mut cut);
        }
    }
    if !line.is_empty() || cut > 0 {
        emit(&mut line, &mut cut);
    }
}

/// [`visible_name`]'s escapes over a whole text, NULs included.
fn visible_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_visible(&mut out, c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_shown_as_pppd_shows_it() {
        // pppd keeps a PAP name as a C string: it ends at the NUL.
        assert_eq!(visible_name("x\0y"), "x");
        assert_eq!(visible_name("\0"), "");
        // slprintf's %v: controls as ^ and their letter, tab kept.
        assert_eq!(visible_name("a\nb"), "a^Jb");
        assert_eq!(visible_name("a\r\n"), "a^M^J");
        assert_eq!(visible_name("\x1b[2J"), "^[[2J");
        assert_eq!(visible_name("del\x7f"), "del^?");
        assert_eq!(visible_name("a\tb"), "a\tb");
        // A C1 control (CSI), as %v writes the octet 0x9b.
        assert_eq!(visible_name("\u{9b}31m"), "M-^[31m");
        // Not pppd: printable non-ASCII stays readable.
        assert_eq!(visible_name("José"), "José");
        assert_eq!(visible_name("alice"), "alice");
    }

    #[test]
    fn a_long_name_is_cut_as_pppd_cuts_it_between_escapes() {
        assert_eq!(visible_name(&"a".repeat(300)).len(), MAX_NAME);
        // 254 octets, then an escape that would not fit whole.
        let name = format!("{}\n", "a".repeat(MAX_NAME - 1));
        assert_eq!(visible_name(&name), "a".repeat(MAX_NAME - 1));
    }

    async fn lines_of(input: &[u8], max: usize) -> Vec<(String, u64)> {
        let mut got = Vec::new();
        bounded_lines(input, max, |l, cut| got.push((l.to_string(), cut))).await;
        got
    }

    #[tokio::test]
    async fn logged_lines_are_bounded_and_printable() {
        let long = format!("{}\n", "x".repeat(5000));
        let input = format!("one\r\n{long}esc \x1b[2J\0end\nno newline");
        let got = lines_of(input.as_bytes(), 16).await;
        assert_eq!(
            got,
            vec![
                ("one".to_string(), 0),
                ("x".repeat(16), 5000 - 16),
                ("esc ^[[2J^@end".to_string(), 0),
                ("no newline".to_string(), 0),
            ]
        );
        // An endless line is never held whole.
        let got = lines_of(&vec![b'y'; 1 << 20], MAX_LOGGED_LINE).await;
        assert_eq!(
            got,
            vec![(
                "y".repeat(MAX_LOGGED_LINE),
                (1u64 << 20) - MAX_LOGGED_LINE as u64
            )]
        );
        assert!(lines_of(b"", 16).await.is_empty());
    }

    #[tokio::test]
    async fn changes_wait_for_their_scripts_in_order() {
        let mut q: AfterScripts<u32> = AfterScripts::default();
        // Nothing waiting, no script: made now.
        assert_eq!(q.push(ScriptDone::now(), 1), Some(1));
        let (tx, rx) = oneshot::channel();
        assert_eq!(q.push(ScriptDone(Some(rx)), 2), None);
        // Behind a waiting one, even without a script of its own.
        assert_eq!(q.push(ScriptDone::now(), 3), None);
        assert!(
            tokio::time::timeout(Duration::from_millis(20), q.next())
                .await
                .is_err(),
            "handed back before its script ended"
        );
        tx.send(()).unwrap();
        assert_eq!(q.next().await, 2);
        assert_eq!(q.next().await, 3);
        assert!(q.is_empty());
        // A script whose task is gone counts as ended.
        let (tx, rx) = oneshot::channel::<()>();
        assert_eq!(q.push(ScriptDone(Some(rx)), 4), None);
        drop(tx);
        assert_eq!(q.drain().await, vec![4]);
    }

    #[tokio::test]
    async fn a_script_runs_in_a_session_of_its_own() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("ip-up");
        let out = dir.path().join("stat");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nread -r l < /proc/$$/stat\necho \"$l\" > {}\n",
                out.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let ended = execute(&script, &[], &BTreeMap::new(), Duration::from_secs(10)).await;
        assert_eq!(ended, Ended::Exited(Some(0)));
        let stat = std::fs::read_to_string(&out).unwrap();
        // pid (comm) state ppid pgrp session tty_nr ...
        let pid = stat.split_whitespace().next().unwrap();
        let rest: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        assert_eq!((rest[2], rest[3]), (pid, pid), "pgrp and session: {stat}");
        assert_eq!(rest[4], "0", "a controlling terminal: {stat}");
    }
}
