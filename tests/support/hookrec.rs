//! A recording /etc/ppp script: each run of `ip-up`, `auth-down`, ...
//! writes its arguments and environment to `<dir>/<script>.<n>`, so tests
//! compare what carrier passes with what pppd passes.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

/// The scripts pppd 2.4.9 runs.
pub const SCRIPTS: [&str; 7] = [
    "auth-up",
    "auth-down",
    "ip-pre-up",
    "ip-up",
    "ip-down",
    "ipv6-up",
    "ipv6-down",
];

/// A script that records into `dir` (which must exist and be writable by
/// root). It needs no PATH: scripts run with a clean environment, and
/// dash's default path finds env, sort and mv.
pub fn recorder(dir: &Path) -> String {
    format!(
        r#"#!/bin/sh
d={dir}
n=${{0##*/}}
i=1
while [ -e "$d/$n.$i" ]; do i=$((i+1)); done
{{ for a in "$@"; do printf 'arg=%s\n' "$a"; done; env | LC_ALL=C sort | while IFS= read -r l; do printf 'env:%s\n' "$l"; done; }} > "$d/.$n.$i"
mv "$d/.$n.$i" "$d/$n.$i"
"#,
        dir = dir.display()
    )
}

/// One recorded run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Run {
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
}

impl Run {
    pub fn env(&self, k: &str) -> Option<&str> {
        self.env.get(k).map(String::as_str)
    }

    pub fn keys(&self) -> Vec<&str> {
        self.env.keys().map(String::as_str).collect()
    }
}

/// Every run of `script` recorded in `dir`, in order.
pub fn runs(dir: &Path, script: &str) -> Vec<Run> {
    let mut out = Vec::new();
    for i in 1.. {
        let Ok(text) = std::fs::read_to_string(dir.join(format!("{script}.{i}"))) else {
            break;
        };
        let mut r = Run::default();
        for line in text.lines() {
            if let Some(a) = line.strip_prefix("arg=") {
                r.args.push(a.to_string());
            } else if let Some(e) = line.strip_prefix("env:") {
                if let Some((k, v)) = e.split_once('=') {
                    r.env.insert(k.to_string(), v.to_string());
                }
            }
        }
        out.push(r);
    }
    out
}

/// Writes the recorder as every script into `scripts`, recording into
/// `out`.
pub fn install(scripts: &Path, out: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(scripts).unwrap();
    std::fs::create_dir_all(out).unwrap();
    for s in SCRIPTS {
        let p = scripts.join(s);
        std::fs::write(&p, recorder(out)).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// Replaces `script` in `scripts` by the recorder followed by `tail`
/// (a hang, a check of the interface), executable.
pub fn install_with_tail(scripts: &Path, out: &Path, script: &str, tail: &str) {
    use std::os::unix::fs::PermissionsExt;
    let p = scripts.join(script);
    std::fs::write(&p, format!("{}{tail}", recorder(out))).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Waits until `script` has been recorded `n` times.
pub fn wait_runs(dir: &Path, script: &str, n: usize, timeout: std::time::Duration) -> Vec<Run> {
    let end = std::time::Instant::now() + timeout;
    loop {
        let r = runs(dir, script);
        if r.len() >= n || std::time::Instant::now() > end {
            return r;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Which end of the reference call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Requires PAP from the client, gives addresses and DNS: `require-pap
    /// name server 10.77.0.1:10.77.0.2 ms-dns 10.77.0.53 ms-dns 10.77.0.54
    /// +ipv6 ipparam srv-param linkname srvlink`.
    Server,
    /// `noauth user alice password s3cret noipdefault usepeerdns +ipv6
    /// ipparam cli-param linkname clilink`.
    Client,
}

const BASE: [&str; 9] = [
    "DEVICE",
    "IFNAME",
    "LINKNAME",
    "ORIG_UID",
    "PPPD_PID",
    "PPPLOGNAME",
    "PWD",
    "SPEED",
    "UNIT",
];
const IP: [&str; 2] = ["IPLOCAL", "IPREMOTE"];
const DNS: [&str; 3] = ["DNS1", "DNS2", "USEPEERDNS"];
const LL: [&str; 2] = ["LLLOCAL", "LLREMOTE"];
const STATS: [&str; 3] = ["BYTES_RCVD", "BYTES_SENT", "CONNECT_TIME"];

/// pppd 2.4.9's environment for each script of the reference call, as
/// recorded from pppd itself (tests/hooks.rs, `CARRIER_HOOKS_DUMP=1`):
/// the variables always there, and those there or not depending on
/// whether IPCP or IPv6CP opened first (pppd never unsets a variable).
/// None: pppd does not run the script on that side at all.
pub fn reference(side: Side, script: &str) -> Option<(Vec<&'static str>, Vec<&'static str>)> {
    let mut need: Vec<&'static str> = BASE.to_vec();
    let mut may: Vec<&'static str> = Vec::new();
    let server = side == Side::Server;
    if server {
        need.push("PEERNAME");
    }
    let dns: &[&'static str] = if server { &[] } else { &DNS };
    match script {
        // auth-up runs only where the peer had to authenticate.
        "auth-up" if server => {}
        "auth-down" if server => {
            need.extend(STATS);
            may.extend(IP);
            may.extend(LL);
        }
        "auth-up" | "auth-down" => return None,
        "ip-pre-up" | "ip-up" => {
            need.extend(IP);
            need.extend(dns);
            may.extend(LL);
        }
        "ip-down" => {
            need.extend(IP);
            need.extend(dns);
            need.extend(STATS);
            may.extend(LL);
        }
        "ipv6-up" => {
            need.extend(LL);
            may.extend(IP);
            may.extend(dns);
        }
        "ipv6-down" => {
            need.extend(LL);
            need.extend(STATS);
            may.extend(IP);
            may.extend(dns);
        }
        _ => return None,
    }
    Some((need, may))
}

/// The names that differ between two runs of the reference call.
pub struct Names {
    pub interface: String,
    pub device: String,
}

fn is_ll(s: &str) -> bool {
    // pppd's llv6_ntoa: fe80:: and four zero-padded groups of four.
    s.strip_prefix("fe80::").is_some_and(|g| {
        let groups: Vec<&str> = g.split(':').collect();
        groups.len() == 4
            && groups.iter().all(|x| {
                x.len() == 4
                    && x.chars()
                        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            })
    })
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit())
}

/// Checks one side's recorded runs in `dir` against the reference: each
/// script pppd runs ran once, with pppd's argument list and exactly the
/// reference's variables, their values right. Returns a list of what is
/// wrong, empty if nothing is.
pub fn check(dir: &Path, side: Side, names: &Names) -> Vec<String> {
    let mut wrong = Vec::new();
    let server = side == Side::Server;
    let (local, remote) = if server {
        ("10.77.0.1", "10.77.0.2")
    } else {
        ("10.77.0.2", "10.77.0.1")
    };
    let ipparam = if server { "srv-param" } else { "cli-param" };
    let linkname = if server { "srvlink" } else { "clilink" };
    let mut ll = (String::new(), String::new());
    for script in SCRIPTS {
        let runs = runs(dir, script);
        let Some((need, may)) = reference(side, script) else {
            if !runs.is_empty() {
                wrong.push(format!("{side:?} {script}: pppd does not run it, it ran"));
            }
            continue;
        };
        if runs.len() != 1 {
            wrong.push(format!("{side:?} {script}: {} runs, not 1", runs.len()));
            continue;
        }
        let r = &runs[0];
        let mut say = |m: String| wrong.push(format!("{side:?} {script}: {m}"));
        for k in &need {
            if !r.env.contains_key(*k) {
                say(format!("{k} missing"));
            }
        }
        for k in r.env.keys() {
            if !need.contains(&k.as_str()) && !may.contains(&k.as_str()) {
                say(format!("{k} set, pppd does not set it"));
            }
        }
        let v = |k: &str| r.env(k).unwrap_or("");
        if v("LINKNAME") != linkname {
            say(format!("LINKNAME={}", v("LINKNAME")));
        }
        if v("IFNAME") != names.interface {
            say(format!("IFNAME={}", v("IFNAME")));
        }
        if v("DEVICE") != names.device {
            say(format!("DEVICE={}", v("DEVICE")));
        }
        for k in ["ORIG_UID", "PPPD_PID", "SPEED", "UNIT"].into_iter().chain(
            if script.ends_with("down") {
                STATS.to_vec()
            } else {
                vec![]
            },
        ) {
            if r.env.contains_key(k) && !is_number(v(k)) {
                say(format!("{k}={} is not a number", v(k)));
            }
        }
        if server && v("PEERNAME") != "alice" {
            say(format!("PEERNAME={}", v("PEERNAME")));
        }
        if r.env.contains_key("IPLOCAL") && (v("IPLOCAL"), v("IPREMOTE")) != (local, remote) {
            say(format!(
                "IPLOCAL={} IPREMOTE={}",
                v("IPLOCAL"),
                v("IPREMOTE")
            ));
        }
        if !server
            && r.env.contains_key("DNS1")
            && (v("DNS1"), v("DNS2"), v("USEPEERDNS")) != ("10.77.0.53", "10.77.0.54", "1")
        {
            say(format!("DNS1={} DNS2={}", v("DNS1"), v("DNS2")));
        }
        for k in LL {
            if r.env.contains_key(k) && !is_ll(v(k)) {
                say(format!("{k}={} is not in pppd's form", v(k)));
            }
        }
        // The argument lists.
        let want: Vec<String> = match script {
            "auth-up" | "auth-down" => vec![
                names.interface.clone(),
                "alice".into(),
                "root".into(),
                names.device.clone(),
                v("SPEED").into(),
            ],
            "ipv6-up" | "ipv6-down" => {
                if ll.0.is_empty() {
                    ll = (v("LLLOCAL").into(), v("LLREMOTE").into());
                }
                vec![
                    names.interface.clone(),
                    names.device.clone(),
                    v("SPEED").into(),
                    ll.0.clone(),
                    ll.1.clone(),
                    ipparam.into(),
                ]
            }
            _ => vec![
                names.interface.clone(),
                names.device.clone(),
                v("SPEED").into(),
                local.into(),
                remote.into(),
                ipparam.into(),
            ],
        };
        if r.args != want {
            say(format!("arguments {:?}, pppd's would be {want:?}", r.args));
        }
    }
    wrong
}
