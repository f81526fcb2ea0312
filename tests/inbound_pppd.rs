//! The inbound service call against a real peer: pppd 2.4.9 (inside
//! user-mode-linux, tests/support/pppd.rs) dials `carrier answer --inbound`
//! with the credentials `carrier inbound enable` printed, authenticates
//! with CHAP and gets the caller's address. The console runs in a network
//! namespace of its own (its TUN interface and nftables table); needs
//! root, and the pppd peer, else skips loudly (fails under CI=true).

mod support;

use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::carrier::{Carrier, Netns};
use support::pppd::{available_or_skip, start_or_skip, Pppd, PppdOptions};

const CONSOLE_PPP: &str = "10.99.0.1";
const CALLER_PPP: &str = "10.99.0.2";

fn log_of(pppd: &Pppd) -> String {
    format!("--- pppd log ---\n{}", pppd.log())
}

fn carrier_json(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_carrier"))
        .args(["--events", "json"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "carrier {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn pppd_dials_the_inbound_console_with_chap_and_gets_its_address() {
    if !available_or_skip() {
        return;
    }
    let Some(console) = Netns::new("inbpppd") else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().to_str().unwrap();
    let enabled = carrier_json(&[
        "inbound",
        "enable",
        "--state-dir",
        state_dir,
        "--ppp-local",
        CONSOLE_PPP,
        "--ppp-remote",
        CALLER_PPP,
        "--partition",
        "lpar1=192.168.51.11",
    ]);
    assert_eq!(enabled["event"], "inbound-enabled");
    assert_eq!(enabled["auth"], "chap", "{enabled}");
    let user = enabled["user"].as_str().unwrap().to_string();
    let secret = enabled["secret"].as_str().unwrap().to_string();
    assert_eq!(user, "service-10-99-0-1");
    assert!(
        !secret.is_empty() && !secret.contains(char::is_whitespace),
        "{secret:?}"
    );

    // The representative's pppd: a client that authenticates itself with
    // the secret (pppd's `password` option) and asks for an address.
    let Some(mut pppd) = start_or_skip(PppdOptions::from_str_args(&format!(
        "local noccp novj noipv6 debug noauth user {user} password {secret} noipdefault"
    ))) else {
        return;
    };
    let mut c = Carrier::spawn_in(
        Some(console.name()),
        &[
            "answer",
            "--inbound",
            "--direct",
            "--device",
            pppd.device().to_str().unwrap(),
            "--state-dir",
            state_dir,
            "--ifname",
            "cinp0",
        ],
    );
    let ok = c
        .wait_event("auth-ok", Duration::from_secs(30))
        .unwrap_or_else(|| panic!("no auth-ok; {:?}\n{}", c.seen, log_of(&pppd)));
    assert_eq!(ok["role"], "authenticator");
    assert_eq!(ok["protocol"], "chap-md5", "{ok}");
    assert_eq!(ok["peer"], user.as_str());
    let up = c
        .wait_event("ipcp-up", Duration::from_secs(20))
        .unwrap_or_else(|| panic!("no ipcp-up; {:?}\n{}", c.seen, log_of(&pppd)));
    assert_eq!(up["local"], CONSOLE_PPP);
    assert_eq!(up["peer"], CALLER_PPP);
    assert!(
        pppd.wait_log(
            &format!("local  IP address {CALLER_PPP}"),
            Duration::from_secs(10)
        ),
        "{}",
        log_of(&pppd)
    );
    assert!(
        pppd.wait_log(
            &format!("remote IP address {CONSOLE_PPP}"),
            Duration::from_secs(5)
        ),
        "{}",
        log_of(&pppd)
    );
    assert!(
        pppd.log().contains("rcvd [CHAP Success"),
        "{}",
        log_of(&pppd)
    );
    c.wait_event("ip-interface", Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no interface: {:?}", c.seen));

    let status = carrier_json(&["inbound", "status", "--state-dir", state_dir]);
    assert_eq!(status["state"], "consumed", "{status}");
    let rules =
        String::from_utf8_lossy(&console.run(&["nft", "list", "ruleset"]).stdout).into_owned();
    assert!(
        rules.contains("carrier"),
        "the console firewall is up during the call: {rules}"
    );

    c.terminate();
    assert_eq!(c.wait_exit(Duration::from_secs(15)), Some(5));
    assert!(
        pppd.wait_log("LCP terminated by peer", Duration::from_secs(10)),
        "{}",
        log_of(&pppd)
    );
    assert!(
        pppd.wait_exit(Duration::from_secs(20)).is_some(),
        "pppd exits"
    );
    let rules =
        String::from_utf8_lossy(&console.run(&["nft", "list", "ruleset"]).stdout).into_owned();
    assert!(!rules.contains("carrier"), "nft table left: {rules}");
    let addrs = String::from_utf8_lossy(&console.run(&["ip", "addr"]).stdout).into_owned();
    assert!(
        !addrs.contains("cinp0") && !addrs.contains(CONSOLE_PPP),
        "{addrs}"
    );
    // The one call is used.
    let status = carrier_json(&["inbound", "status", "--state-dir", state_dir]);
    assert_eq!(status["state"], "consumed", "{status}");
}
