//! A real dialer: chat(8) from Debian's ppp package dials through the
//! simulator and gets CONNECT for an answering number, BUSY (its exit
//! code 4, the first ABORT string) for a busy one.

mod support;

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use carrier_sim::Destination::{Busy, Modem};
use carrier_sim::SimConfig;
use support::{fast, start, Dte};

const CHAT: &str = "/usr/sbin/chat";

/// chat, or None when it is missing outside CI (under CI=true a missing
/// chat fails the test: .ci/run installs ppp).
fn chat() -> Option<PathBuf> {
    let path = Path::new(CHAT);
    if path.exists() {
        return Some(path.to_path_buf());
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{CHAT} is missing under CI: install Debian's ppp package");
    }
    eprintln!("SKIPPED: {CHAT} not found; install Debian's ppp package to run this test");
    None
}

/// Runs `chat -v -s ABORT BUSY ABORT 'NO CARRIER' '' ATZ OK ATDT<number>
/// CONNECT ''` with the modem's link as stdin and stdout.
async fn dial(chat: &Path, link: &Path, number: &str) -> (Option<i32>, String) {
    let port_in = OpenOptions::new().read(true).open(link).unwrap();
    let port_out = OpenOptions::new().write(true).open(link).unwrap();
    let out = tokio::process::Command::new(chat)
        .args(["-v", "-s", "-t", "30"])
        .args(["ABORT", "BUSY", "ABORT", "NO CARRIER", "", "ATZ", "OK"])
        .arg(format!("ATDT{number}"))
        .args(["CONNECT", ""])
        .stdin(Stdio::from(port_in))
        .stdout(Stdio::from(port_out))
        .stderr(Stdio::piped())
        // Not output(): that would take stdout away from the port.
        .spawn()
        .unwrap()
        .wait_with_output()
        .await
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn config(dir: &Path) -> SimConfig {
    let mut c = fast(dir, 2)
        .route("555-0100", Modem(1))
        .route("555-0199", Busy);
    c.modems[1].profile = Some("S0=1".into());
    c
}

#[tokio::test]
async fn chat_gets_connect_from_an_answering_number() {
    let Some(chat) = chat() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sim = start(config(dir.path()));
    // Someone has the answering modem's port open, so its DTR is on.
    let mut callee = Dte::open(sim.link(1).unwrap()).await;
    let (code, log) = dial(&chat, sim.link(0).unwrap(), "555-0100").await;
    assert_eq!(code, Some(0), "chat log:\n{log}");
    assert!(log.contains("CONNECT"), "chat log:\n{log}");
    callee.expect("RING").await;
    callee.expect("CONNECT 56000\r\n").await;
    // chat closed the port: DTR off under &D2 hangs up the call.
    callee.expect("NO CARRIER").await;
}

#[tokio::test]
async fn chat_aborts_on_busy() {
    let Some(chat) = chat() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sim = start(config(dir.path()));
    let (code, log) = dial(&chat, sim.link(0).unwrap(), "5550199").await;
    assert_eq!(code, Some(4), "chat log:\n{log}");
    assert!(log.contains("BUSY"), "chat log:\n{log}");
}
