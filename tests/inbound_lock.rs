//! A call is alive while it holds the state directory's call lock, never
//! because a PID is written down: after a crash and a reboot that PID may
//! be anyone's. These drive the CLI as an operator would.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

fn carrier(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_carrier"))
        .args(["--events", "json"])
        .args(args)
        .output()
        .expect("run carrier")
}

fn event(o: &Output) -> Value {
    let text = String::from_utf8_lossy(&o.stdout);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn state_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("carrier-lock-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn enable(dir: &Path) -> Output {
    carrier(&[
        "inbound",
        "enable",
        "--state-dir",
        dir.to_str().unwrap(),
        "--ppp-local",
        "10.99.0.1",
        "--ppp-remote",
        "10.99.0.2",
    ])
}

fn cli(dir: &Path, what: &str) -> Output {
    carrier(&["inbound", what, "--state-dir", dir.to_str().unwrap()])
}

#[test]
fn a_strangers_pid_in_the_lock_file_is_no_call_and_is_never_signalled() {
    let dir = state_dir("stranger");
    assert!(enable(&dir).status.success());
    // A live process that has nothing to do with carrier, its PID where a
    // crashed call's would be.
    let mut stranger = Command::new("sleep").arg("30").spawn().unwrap();
    std::fs::write(dir.join("call.lock"), format!("{}\n", stranger.id())).unwrap();

    let status = cli(&dir, "status");
    assert_eq!(event(&status)["call"], false, "{status:?}");
    let disabled = cli(&dir, "disable");
    assert!(disabled.status.success(), "{disabled:?}");
    assert_eq!(event(&disabled)["call"], false);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        stranger.try_wait().unwrap().is_none(),
        "disable signalled a process that was not the call"
    );
    let again = enable(&dir);
    assert!(
        again.status.success(),
        "a stranger's PID blocked enable: {again:?}"
    );
    let _ = stranger.kill();
    let _ = stranger.wait();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_lock_holder_is_the_call_and_disable_waits_for_it_to_let_go() {
    let dir = state_dir("holder");
    assert!(enable(&dir).status.success());
    // This test process plays the running call: it holds the lock.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.join("call.lock"))
        .unwrap();
    let held = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|(_, e)| e)
        .unwrap();
    std::fs::write(dir.join("call.lock"), format!("{}\n", std::process::id())).unwrap();

    let refused = enable(&dir);
    assert_eq!(refused.status.code(), Some(20), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains(&format!("pid {}", std::process::id())),
        "{refused:?}"
    );
    let status = event(&cli(&dir, "status"));
    assert_eq!(status["call"], true);
    assert_eq!(status["call_pid"], std::process::id());

    // The "call" hangs up a second after disable revokes it.
    let letgo = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(1));
        drop(held);
    });
    let start = Instant::now();
    let disabled = cli(&dir, "disable");
    letgo.join().unwrap();
    assert!(disabled.status.success(), "{disabled:?}");
    let ev = event(&disabled);
    assert_eq!(
        (ev["call"].clone(), ev["hung_up"].clone()),
        (true.into(), true.into())
    );
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "disable waited for the call"
    );
    assert_eq!(event(&cli(&dir, "status"))["state"], "disabled");
    std::fs::remove_dir_all(&dir).unwrap();
}
