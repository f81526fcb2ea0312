//! The `carrier` binary as a test drives it: JSON events read on a
//! thread, signals, exit codes; and network namespaces as test hosts.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The `carrier` binary with its JSON events collected on a thread.
pub struct Carrier {
    pub child: Child,
    events: mpsc::Receiver<Value>,
    pub seen: Vec<Value>,
    /// Where stderr goes, when spawned with [`Carrier::spawn_logged`].
    pub log: Option<std::path::PathBuf>,
}

impl Carrier {
    pub fn spawn(args: &[&str]) -> Carrier {
        Self::spawn_in(None, args)
    }

    /// Runs carrier inside network namespace `netns` when given.
    pub fn spawn_in(netns: Option<&str>, args: &[&str]) -> Carrier {
        Self::spawn_with(netns, args, Stdio::inherit())
    }

    /// Like [`Carrier::spawn_in`], with stderr (its `-v` log, plus the
    /// modem's AT commands and results) written to `log`.
    pub fn spawn_logged(netns: Option<&str>, args: &[&str], log: &std::path::Path) -> Carrier {
        let file = std::fs::File::create(log).expect("carrier log file");
        let mut c = Self::spawn_with_env(
            netns,
            args,
            Stdio::from(file),
            &[
                (
                    "CARRIER_LOG",
                    "info,carrier::frame=debug,carrier::modem=debug",
                ),
                ("NO_COLOR", "1"),
            ],
        );
        c.log = Some(log.to_path_buf());
        c
    }

    fn spawn_with(netns: Option<&str>, args: &[&str], stderr: Stdio) -> Carrier {
        Self::spawn_with_env(netns, args, stderr, &[])
    }

    pub fn spawn_with_env(
        netns: Option<&str>,
        args: &[&str],
        stderr: Stdio,
        env: &[(&str, &str)],
    ) -> Carrier {
        let bin = env!("CARGO_BIN_EXE_carrier");
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, bin]);
                c
            }
            None => Command::new(bin),
        };
        let mut child = cmd
            .args(["--events", "json", "-v"])
            .args(args)
            // The machine's own /etc/ppp scripts (Debian's ip-up rewrites
            // resolv.conf under usepeerdns) are not the tests' to run; a
            // test of the hooks gives its own directory.
            .env("CARRIER_HOOKS_DIR", "/nonexistent/carrier-test-hooks")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start carrier");
        let out = child.stdout.take().unwrap();
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"));
                assert!(v["event"].is_string(), "no event field: {line}");
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        Carrier {
            child,
            events,
            seen: Vec::new(),
            log: None,
        }
    }

    /// The first event called `name`, waiting up to `timeout`.
    pub fn wait_event(&mut self, name: &str, timeout: Duration) -> Option<Value> {
        self.wait_event_where(name, timeout, |_| true)
    }

    /// The first event called `name` for which `pick` holds.
    pub fn wait_event_where(
        &mut self,
        name: &str,
        timeout: Duration,
        pick: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        if let Some(v) = self.seen.iter().find(|v| v["event"] == name && pick(v)) {
            return Some(v.clone());
        }
        let end = Instant::now() + timeout;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.events.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if v["event"] == name && pick(&v) {
                        return Some(v);
                    }
                }
                Err(_) => return None,
            }
        }
        None
    }

    /// Every event until the process exits (or `timeout`); the exit code.
    pub fn run_to_end(&mut self, timeout: Duration) -> Option<i32> {
        let end = Instant::now() + timeout;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.events.recv_timeout(left) {
                Ok(v) => self.seen.push(v),
                // The sender is gone: stdout closed, the process is ending.
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => return None,
            }
        }
        self.wait_exit(
            end.saturating_duration_since(Instant::now())
                .max(Duration::from_secs(2)),
        )
    }

    /// The events called `name` seen so far.
    pub fn events_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.seen.iter().filter(move |v| v["event"] == name)
    }

    /// The stderr log so far (with [`Carrier::spawn_logged`]).
    pub fn log_text(&self) -> String {
        self.log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }

    pub fn terminate(&self) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .expect("SIGTERM carrier");
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Some(s) = self.child.try_wait().expect("wait carrier") {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Carrier {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A network namespace for one test, removed when dropped.
pub struct Netns(String);

impl Netns {
    pub fn new(tag: &str) -> Option<Netns> {
        let name = format!("carrier-{tag}-{}", std::process::id());
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                !super::pppd::in_ci(),
                "cannot create a network namespace under CI"
            );
            eprintln!("SKIP: cannot create network namespaces here (not root?)");
            return None;
        }
        let ns = Netns(name);
        assert!(ns.run(&["ip", "link", "set", "lo", "up"]).status.success());
        Some(ns)
    }

    pub fn name(&self) -> &str {
        &self.0
    }

    /// `ping -6` of a link-local address through `dev`: 3 echoes, for
    /// the loss the first datagram after an NCP opens may see.
    pub fn ping6(&self, to: &str, dev: &str) -> std::process::Output {
        self.run(&[
            "ping",
            "-6",
            "-c",
            "3",
            "-i",
            "0.3",
            "-W",
            "3",
            &format!("{to}%{dev}"),
        ])
    }

    pub fn run(&self, cmd: &[&str]) -> std::process::Output {
        Command::new("ip")
            .args(["netns", "exec", &self.0])
            .args(cmd)
            .output()
            .expect("ip netns exec")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// A pppd-format secrets file `name` in `dir` holding `text`, mode 0600
/// as carrier requires.
pub fn secrets_file(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join("secrets");
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

/// The replies a ping's summary line reports: iputils' `3 received` or
/// busybox's `3 packets received`.
pub fn ping_replies(summary: &str) -> u64 {
    summary
        .lines()
        .find(|l| l.contains("transmitted"))
        .and_then(|l| {
            let words: Vec<&str> = l.split([' ', ',']).filter(|w| !w.is_empty()).collect();
            let at = words.iter().position(|w| *w == "received")?;
            let n = if words.get(at - 1) == Some(&"packets") {
                at - 2
            } else {
                at - 1
            };
            words.get(n)?.parse().ok()
        })
        .unwrap_or(0)
}
