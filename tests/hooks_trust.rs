//! Scripts run as root only from a path nobody else could have changed
//! (OpenSSH's StrictModes): a refused script does not run, and its `hook`
//! event says why.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use carrier::events::Reporter;
use carrier::hooks::{check_trusted, HookConfig, Hooks};

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `dir/ip-pre-up`, which leaves `marker` behind when it runs.
fn script(dir: &Path, marker: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    chmod(dir, 0o755);
    let p = dir.join("ip-pre-up");
    std::fs::write(&p, format!("#!/bin/sh\necho ran > {}\n", marker.display())).unwrap();
    chmod(&p, 0o755);
    p
}

/// Runs ip-pre-up from `hooks` as a call would; the `hook` event.
async fn run(hooks: &Path) -> serde_json::Value {
    let (reporter, mut events) = Reporter::channel();
    let cfg = HookConfig {
        dir: hooks.to_path_buf(),
        timeout: Duration::from_secs(10),
        ..HookConfig::default()
    };
    let mut h = Hooks::new(cfg, Path::new("/dev/null"), 0, "trust0", reporter);
    h.ip_pre_up(
        "10.0.0.1".parse().unwrap(),
        Some("10.0.0.2".parse().unwrap()),
        &[],
        false,
    )
    .wait()
    .await;
    while let Ok(ev) = events.try_recv() {
        if ev["script"] == "ip-pre-up" {
            return ev;
        }
    }
    panic!("no hook event");
}

#[tokio::test]
async fn a_script_others_could_change_is_not_run() {
    let top = tempfile::tempdir().unwrap();
    chmod(top.path(), 0o755);
    let hooks = top.path().join("hooks");
    let marker = top.path().join("ran");
    let s = script(&hooks, &marker);

    // As installed: runs.
    check_trusted(&s).unwrap();
    let ev = run(&hooks).await;
    assert_eq!(ev["status"], 0, "{ev}");
    assert!(marker.exists());
    std::fs::remove_file(&marker).unwrap();

    // Writable by the group: not run, and the event says why.
    chmod(&s, 0o775);
    let ev = run(&hooks).await;
    let why = ev["error"].as_str().unwrap_or_default();
    assert!(why.contains("bad ownership or modes for file"), "{ev}");
    assert!(!marker.exists(), "the refused script ran");
    chmod(&s, 0o755);

    // A directory on the way that others can write.
    chmod(&hooks, 0o777);
    let ev = run(&hooks).await;
    let why = ev["error"].as_str().unwrap_or_default();
    assert!(why.contains("bad ownership or modes for directory"), "{ev}");
    assert!(!marker.exists());
    // ... unless it has the sticky bit, as /tmp does.
    chmod(&hooks, 0o1777);
    check_trusted(&s).unwrap();
    chmod(&hooks, 0o755);

    // A link in a safe directory to a script in an unsafe one, and a link
    // in an unsafe directory to a safe script: both refused.
    let open = top.path().join("open");
    let elsewhere = script(&open, &marker);
    chmod(&open, 0o777);
    let linked = top.path().join("linked");
    std::fs::create_dir_all(&linked).unwrap();
    std::os::unix::fs::symlink(&elsewhere, linked.join("ip-pre-up")).unwrap();
    assert!(check_trusted(&linked.join("ip-pre-up")).is_err());
    let ev = run(&linked).await;
    assert!(ev["error"].as_str().is_some(), "{ev}");
    assert!(!marker.exists());
    chmod(&open, 0o755);
    std::os::unix::fs::symlink(&s, open.join("via")).unwrap();
    chmod(&open, 0o777);
    let e = check_trusted(&open.join("via")).unwrap_err();
    assert!(e.contains(&open.display().to_string()), "{e}");

    // Someone else's script, where we are root.
    if nix::unistd::geteuid().is_root() {
        nix::unistd::chown(&s, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
        let ev = run(&hooks).await;
        let why = ev["error"].as_str().unwrap_or_default();
        assert!(why.contains("uid 65534"), "{ev}");
        assert!(!marker.exists());
    }
}
