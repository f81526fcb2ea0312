//! The hosts of the inbound tests: network namespaces `console`, `lpar1`
//! and `lpar2`, the console on a LAN with each partition (a veth pair
//! each), and a scratch directory for state and locks; all removed when
//! the lab is dropped. Namespace names carry the test's tag and the
//! process id, so the tests of one binary can build their labs side by
//! side. Needs root: [`Lab::new`] skips loudly elsewhere and fails under
//! CI=true.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::carrier::Netns;
use super::hosts::ok;

/// The console's address on the LAN of each partition, and theirs.
pub const LAN1: &str = "192.168.51.1";
pub const LAN2: &str = "192.168.52.1";
pub const LPAR1: &str = "192.168.51.11";
pub const LPAR2: &str = "192.168.52.12";
/// The usual enablement's link: the console's end, the caller's, and
/// lpar1's alias on it.
pub const CONSOLE_PPP: &str = "10.99.0.1";
pub const CALLER_PPP: &str = "10.99.0.2";
pub const LPAR1_ALIAS: &str = "10.99.0.11";

pub struct Lab {
    pub console: Netns,
    pub lpar1: Netns,
    pub lpar2: Netns,
    dir: tempfile::TempDir,
}

impl Lab {
    /// The three hosts, wired (None: no root, skipped).
    pub fn new(tag: &str) -> Option<Lab> {
        let console = Netns::new(&format!("{tag}-console"))?;
        let lpar1 = Netns::new(&format!("{tag}-lpar1"))?;
        let lpar2 = Netns::new(&format!("{tag}-lpar2"))?;
        veth(&console, &lpar1, 1, LAN1, LPAR1);
        veth(&console, &lpar2, 2, LAN2, LPAR2);
        let dir = tempfile::Builder::new()
            .prefix("carrier-lab-")
            .tempdir()
            .unwrap();
        std::fs::create_dir(dir.path().join("locks")).unwrap();
        Some(Lab {
            console,
            lpar1,
            lpar2,
            dir,
        })
    }

    /// Port-unreachable answers are not rate-limited, in any host: a scan
    /// must not take a limited answer for a drop.
    pub fn icmp_unlimited(&self) {
        for ns in [&self.console, &self.lpar1, &self.lpar2] {
            ok(
                ns.run(&["sysctl", "-qw", "net.ipv4.icmp_ratelimit=0"]),
                "icmp_ratelimit",
            );
        }
    }

    /// The console's interface on partition `n`'s LAN.
    pub fn lan_if(n: u8) -> String {
        format!("c{n}{}", std::process::id() % 100000)
    }

    /// Partition `n`'s interface on its LAN.
    pub fn lpar_if(n: u8) -> String {
        format!("l{n}{}", std::process::id() % 100000)
    }

    /// A state directory `name` (not yet made) in the scratch directory.
    pub fn state(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The lock directory of the console's lines.
    pub fn locks(&self) -> PathBuf {
        self.dir.path().join("locks")
    }

    /// `carrier inbound enable` for the link's (console, caller)
    /// addresses and `partition` (`name=address`), with `extra` options
    /// (`--ipv6`, `--auth pap`); returns (user, secret).
    pub fn enable(
        &self,
        state: &Path,
        (local, remote): (&str, &str),
        partition: &str,
        console_access: bool,
        extra: &[&str],
    ) -> (String, String) {
        let mut args = vec![
            "--events",
            "json",
            "inbound",
            "enable",
            "--state-dir",
            state.to_str().unwrap(),
            "--ppp-local",
            local,
            "--ppp-remote",
            remote,
            "--partition",
            partition,
        ];
        if console_access {
            args.push("--console-access");
        }
        args.extend(extra);
        let out = Command::new(env!("CARGO_BIN_EXE_carrier"))
            .args(&args)
            .output()
            .unwrap();
        ok(out.clone(), "inbound enable");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["event"], "inbound-enabled", "{v}");
        (
            v["user"].as_str().unwrap().to_string(),
            v["secret"].as_str().unwrap().to_string(),
        )
    }

    /// `carrier inbound status` of `state`.
    pub fn status(&self, state: &Path) -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_carrier"))
            .args(["--events", "json", "inbound", "status", "--state-dir"])
            .arg(state)
            .output()
            .unwrap();
        ok(out.clone(), "inbound status");
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

/// A veth pair between the console and a partition, both ends
/// addressed, the partition routed through the console.
fn veth(console: &Netns, lpar: &Netns, n: u8, console_addr: &str, lpar_addr: &str) {
    let (a, b) = (Lab::lan_if(n), Lab::lpar_if(n));
    ok(
        Command::new("ip")
            .args([
                "link",
                "add",
                &a,
                "netns",
                console.name(),
                "type",
                "veth",
                "peer",
                "name",
                &b,
                "netns",
                lpar.name(),
            ])
            .output()
            .unwrap(),
        "veth",
    );
    ok(
        console.run(&[
            "ip",
            "addr",
            "add",
            &format!("{console_addr}/24"),
            "dev",
            &a,
        ]),
        "addr",
    );
    ok(console.run(&["ip", "link", "set", &a, "up"]), "up");
    ok(
        lpar.run(&["ip", "addr", "add", &format!("{lpar_addr}/24"), "dev", &b]),
        "addr",
    );
    ok(lpar.run(&["ip", "link", "set", &b, "up"]), "up");
    ok(
        lpar.run(&["ip", "route", "add", "default", "via", console_addr]),
        "route",
    );
}
