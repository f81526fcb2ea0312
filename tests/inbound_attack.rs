//! The inbound service call's boundary, attacked as a hostile caller
//! would: the caller is this process, on the master side of a PTY whose
//! slave the console's `carrier answer --inbound --direct` opens, with
//! carrier's own PPP core as its client (tests/support/hostile.rs) and
//! free to write any frame it likes. The console runs in namespace
//! `console`, with veths to `lpar1` (192.168.51.11) and `lpar2`
//! (192.168.52.12), and in-process listeners counting what arrives
//! (tests/support/listen.rs).
//!
//! What the caller may reach, and nothing else: the console's PPP address
//! on TCP/UDP ports 22, 23, 2125, 2300, 9090, 9735, 9940, 30000-30009
//! (with `--console-access` only), and each allowed partition at its
//! alias. With `inbound enable --ipv6` the same ports of the console's
//! link-local address on the link, from the caller's link-local address
//! only; without it, no IPv6CP and no IPv6 at all. Each test prints its
//! figures to stderr and then fails with every hole it found, each named
//! (PORT LIST, RST LEAK, LAN ADDRESS, IPV6, IPV6CP, IPV6 ADDRESS, IPV6
//! DESTINATION, SPOOF, PARTITION, TWO CALLS, FORWARDING, LEFTOVERS,
//! ORDERING).
//!
//! Needs root (namespaces, TUN, nftables); skips loudly elsewhere, and
//! fails under CI=true. `CARRIER_ATTACK_IFNAME` overrides the console's
//! `--ifname` (default the template `cin%d`), to look past one hole at
//! the others.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use carrier::ppp::proto;
use serde_json::Value;
use support::carrier::{Carrier, Netns};
use support::hostile::{self, describe, ports_text, Hostile, Ip, Scan, FINAL_WAIT};
use support::hosts::{ok, veth};
use support::listen::{Counts, Family, Listeners, L4};

/// One attack at a time, whatever the harness's thread count: a scan
/// classifies "dropped" by silence, and two full scans sharing two cores
/// could turn a slow answer into silence.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

const SERVICE_PORTS: [u16; 17] = [
    22, 23, 2125, 2300, 9090, 9735, 9940, 30000, 30001, 30002, 30003, 30004, 30005, 30006, 30007,
    30008, 30009,
];
/// Listening on the console too, never to be reached.
const DECOYS: [u16; 4] = [80, 8080, 53, 7];
const LPAR_PORT: u16 = 7777;
const LPAR1: &str = "192.168.51.11";
const LPAR2: &str = "192.168.52.12";
const LAN1: &str = "192.168.51.1";
const LAN2: &str = "192.168.52.1";

fn ip4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn service_set() -> BTreeSet<u16> {
    SERVICE_PORTS.into_iter().collect()
}

/// The console's `--ifname`: a template the kernel numbers.
fn ifname_template() -> String {
    std::env::var("CARRIER_ATTACK_IFNAME").unwrap_or_else(|_| "cin%d".to_string())
}

/// The fixed UDP sample plus 20 more ports, the same every run.
fn udp_sample() -> Vec<u16> {
    let mut v: BTreeSet<u16> = SERVICE_PORTS.into_iter().collect();
    v.extend([7, 53, 80, 123, 161, 8080, 65535]);
    let mut x: u32 = 0x2545_f491;
    let mut extra = 0;
    while extra < 20 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let p = (x % 65535) as u16 + 1;
        if !SERVICE_PORTS.contains(&p) && !DECOYS.contains(&p) && v.insert(p) {
            extra += 1;
        }
    }
    v.into_iter().collect()
}

/// TCP ports for the shorter scans: 1-1024, the service ports, the
/// decoys and the edges of the service range.
fn port_list() -> Vec<u16> {
    let mut v: BTreeSet<u16> = (1..=1024).collect();
    v.extend(SERVICE_PORTS);
    v.extend(DECOYS);
    v.extend([2124, 2126, 29999, 30010, 65535]);
    v.into_iter().collect()
}

// ---- the report ----

/// A test's figures and the holes it found; printed at the end (also
/// when the test panics early), straight to fd 2 past libtest's capture.
struct Report {
    name: &'static str,
    rows: Vec<[String; 9]>,
    notes: Vec<String>,
    holes: Vec<String>,
    started: Instant,
    printed: bool,
}

impl Report {
    fn new(name: &'static str) -> Report {
        quiet_consoles();
        check_binary(name);
        Report {
            name,
            rows: Vec::new(),
            notes: Vec::new(),
            holes: Vec::new(),
            started: Instant::now(),
            printed: false,
        }
    }

    fn scan(&mut self, family: &str, s: &Scan, took: Duration) {
        self.rows.push([
            family.to_string(),
            s.what.clone(),
            s.probed.len().to_string(),
            s.open.len().to_string(),
            s.closed.len().to_string(),
            s.unreachable.len().to_string(),
            s.dropped.len().to_string(),
            format!("{:.1}s", took.as_secs_f64()),
            if s.answered_from.is_empty() {
                ports_text(&s.open)
            } else {
                format!(
                    "{} (answered from {})",
                    ports_text(&s.open),
                    s.answered_from
                        .iter()
                        .map(|a| a.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                )
            },
        ]);
    }

    /// A row for probes that are not port scans (ping, IPv6, spoofing).
    fn row(&mut self, family: &str, what: &str, probed: usize, answered: usize, detail: &str) {
        self.rows.push([
            family.to_string(),
            what.to_string(),
            probed.to_string(),
            answered.to_string(),
            "-".into(),
            "-".into(),
            (probed.saturating_sub(answered)).to_string(),
            "".into(),
            detail.to_string(),
        ]);
    }

    fn note(&mut self, s: impl Into<String>) {
        self.notes.push(s.into());
    }

    fn check(&mut self, ok: bool, hole: impl FnOnce() -> String) {
        if !ok {
            self.holes.push(hole());
        }
    }

    fn print(&mut self) {
        self.printed = true;
        let head = [
            "family",
            "target",
            "probed",
            "open",
            "closed",
            "unreach",
            "dropped",
            "time",
            "open/answered",
        ];
        let mut w = [0usize; 9];
        for r in self
            .rows
            .iter()
            .map(|r| r.each_ref().map(|s| s.as_str()))
            .chain([head])
        {
            for (i, c) in r.iter().enumerate() {
                w[i] = w[i].max(c.chars().count().min(60));
            }
        }
        let line = |r: [&str; 9]| {
            let mut s = String::from("  ");
            for (i, c) in r.iter().enumerate() {
                if i == 8 {
                    s.push_str(c);
                } else if (2..=7).contains(&i) {
                    s.push_str(&format!("{c:>width$}  ", width = w[i]));
                } else {
                    s.push_str(&format!("{c:<width$}  ", width = w[i]));
                }
            }
            s.trim_end().to_string() + "\n"
        };
        let mut out = format!(
            "\n==== {} ({:.1} s) ====\n",
            self.name,
            self.started.elapsed().as_secs_f64()
        );
        out += &line(head);
        for r in &self.rows {
            out += &line(r.each_ref().map(|s| s.as_str()));
        }
        for n in &self.notes {
            out += &format!("  note: {n}\n");
        }
        if self.holes.is_empty() {
            out += "  holes: none\n";
        } else {
            out += &format!("  holes: {}\n", self.holes.len());
            for h in &self.holes {
                out += &format!("  - {h}\n");
            }
        }
        let _ = std::io::stderr().write_all(out.as_bytes());
    }

    fn finish(mut self) {
        self.print();
        check_binary(self.name);
        let holes = std::mem::take(&mut self.holes);
        assert!(
            holes.is_empty(),
            "{}: {} hole(s) in the boundary:\n- {}",
            self.name,
            holes.len(),
            holes.join("\n- ")
        );
    }
}

impl Drop for Report {
    fn drop(&mut self) {
        if !self.printed {
            self.print();
        }
    }
}

/// The consoles' logs: info, not every frame (`-v` traces each one, and
/// a scan is 65535 of them). CARRIER_LOG set by the caller stands.
fn quiet_consoles() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("CARRIER_LOG").is_none() {
            std::env::set_var("CARRIER_LOG", "info");
        }
    });
}

/// The binary under test must stay the one cargo built for this run: the
/// target directory may be shared with another work tree, whose build
/// replaces `target/debug/carrier` (figures of someone else's code). Its
/// identity is taken at the first check and compared at every other.
fn check_binary(test: &str) {
    use std::os::unix::fs::MetadataExt;
    static PINNED: std::sync::OnceLock<(u64, u64, u64, i64)> = std::sync::OnceLock::new();
    let bin = Path::new(env!("CARGO_BIN_EXE_carrier"));
    let Ok(m) = std::fs::metadata(bin) else {
        return;
    };
    let now = (m.dev(), m.ino(), m.len(), m.mtime());
    let pinned = *PINNED.get_or_init(|| now);
    assert_eq!(
        pinned,
        now,
        "{test}: {} was replaced during this run (another work tree's build?): \
         the figures would be someone else's code; run again",
        bin.display()
    );
}

// ---- the hosts ----

struct Lab {
    console: Netns,
    lpar1: Netns,
    lpar2: Netns,
    dir: tempfile::TempDir,
}

impl Lab {
    fn new(tag: &str) -> Option<Lab> {
        let console = Netns::new(&format!("{tag}-console"))?;
        let lpar1 = Netns::new(&format!("{tag}-lpar1"))?;
        let lpar2 = Netns::new(&format!("{tag}-lpar2"))?;
        veth(&console, &lpar1, "1", LAN1, LPAR1);
        veth(&console, &lpar2, "2", LAN2, LPAR2);
        // Port-unreachable answers must not be rate-limited into looking
        // like drops.
        for ns in [&console, &lpar1, &lpar2] {
            ok(
                ns.run(&["sysctl", "-qw", "net.ipv4.icmp_ratelimit=0"]),
                "icmp_ratelimit",
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("carrier-attack-")
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

    /// The hosts and a test's report (None: no root, skipped).
    fn with_report(tag: &str, name: &'static str) -> Option<(Lab, Report)> {
        let lab = Lab::new(tag)?;
        Some((lab, Report::new(name)))
    }

    fn state(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The usual enablement: the console 10.99.0.1, the caller
    /// 10.99.0.2, lpar1 allowed; `extra` options (`--ipv6`).
    fn enable_lpar1(
        &self,
        state: &Path,
        console_access: bool,
        auth: &str,
        extra: &[&str],
    ) -> (String, String) {
        let lpar1 = format!("lpar1={LPAR1}");
        let link = ("10.99.0.1", "10.99.0.2");
        self.enable(state, link, &lpar1, console_access, auth, extra)
    }

    /// `carrier inbound enable` for the link's (console, caller)
    /// addresses, with `extra` options (`--ipv6`); returns (user, secret).
    fn enable(
        &self,
        state: &Path,
        (local, remote): (&str, &str),
        partition: &str,
        console_access: bool,
        auth: &str,
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
            "--auth",
            auth,
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

    fn status(&self, state: &Path) -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_carrier"))
            .args(["--events", "json", "inbound", "status", "--state-dir"])
            .arg(state)
            .output()
            .unwrap();
        ok(out.clone(), "inbound status");
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// `carrier answer --inbound --direct` on `device`, in the console.
    fn answer(&self, state: &Path, device: &str, ifname: &str) -> Carrier {
        let locks = self.dir.path().join("locks");
        Carrier::spawn_in(
            Some(self.console.name()),
            &[
                "answer",
                "--inbound",
                "--direct",
                "--device",
                device,
                "--lock-dir",
                locks.to_str().unwrap(),
                "--state-dir",
                state.to_str().unwrap(),
                "--ifname",
                ifname,
            ],
        )
    }
}

fn json_of(ns: &Netns, cmd: &[&str]) -> Value {
    let out = ns.run(cmd);
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// The console interface holding `addr`, if any.
fn iface_with(ns: &Netns, addr: Ipv4Addr) -> Option<String> {
    let v = json_of(ns, &["ip", "-j", "-4", "addr"]);
    v.as_array()?.iter().find_map(|i| {
        i["addr_info"]
            .as_array()?
            .iter()
            .any(|a| a["local"] == addr.to_string())
            .then(|| i["ifname"].as_str().unwrap_or_default().to_string())
    })
}

fn interfaces(ns: &Netns) -> Vec<String> {
    json_of(ns, &["ip", "-j", "link"])
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["ifname"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn link_local(ns: &Netns, ifname: &str) -> Vec<Ipv6Addr> {
    json_of(ns, &["ip", "-j", "-6", "addr", "show", "dev", ifname])
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|i| i["addr_info"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["scope"] == "link")
        .filter_map(|a| a["local"].as_str().and_then(|s| s.parse().ok()))
        .collect()
}

/// (rx packets, tx dropped) of `ifname`.
fn link_counters(ns: &Netns, ifname: &str) -> (u64, u64) {
    let v = json_of(ns, &["ip", "-s", "-j", "link", "show", "dev", ifname]);
    let s = &v[0]["stats64"];
    (
        s["rx"]["packets"].as_u64().unwrap_or(0),
        s["tx"]["dropped"].as_u64().unwrap_or(0),
    )
}

/// /proc/net/snmp of a namespace, as "Ip.InReceives" -> n.
fn snmp(ns: &Netns) -> BTreeMap<String, u64> {
    let text = String::from_utf8_lossy(&ns.run(&["cat", "/proc/net/snmp"]).stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    let mut m = BTreeMap::new();
    for pair in lines.chunks(2) {
        let [head, vals] = pair else { continue };
        let (Some((t, names)), Some((_, values))) = (head.split_once(':'), vals.split_once(':'))
        else {
            continue;
        };
        for (n, v) in names.split_whitespace().zip(values.split_whitespace()) {
            if let Ok(v) = v.parse::<i64>() {
                m.insert(format!("{t}.{n}"), v.max(0) as u64);
            }
        }
    }
    m
}

/// /proc/net/snmp6 of a namespace, as "Udp6InDatagrams" -> n.
fn snmp6(ns: &Netns) -> BTreeMap<String, u64> {
    String::from_utf8_lossy(&ns.run(&["cat", "/proc/net/snmp6"]).stdout)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.to_string(), w.next()?.parse().ok()?))
        })
        .collect()
}

/// A namespace's IPv4 and IPv6 counters together.
fn snmp46(ns: &Netns) -> BTreeMap<String, u64> {
    let mut m = snmp(ns);
    m.extend(snmp6(ns));
    m
}

fn delta(after: &BTreeMap<String, u64>, before: &BTreeMap<String, u64>, key: &str) -> u64 {
    after
        .get(key)
        .unwrap_or(&0)
        .saturating_sub(*before.get(key).unwrap_or(&0))
}

/// net.ipv4.ip_forward and every conf/*/forwarding of a namespace.
fn forwarding(ns: &Netns) -> BTreeMap<String, String> {
    let out = ns.run(&[
        "sh",
        "-c",
        "grep -H . /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf/*/forwarding",
    ]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.rsplit_once(':'))
        .map(|(k, v)| {
            (
                k.trim_start_matches("/proc/sys/net/ipv4/").to_string(),
                v.trim().to_string(),
            )
        })
        .collect()
}

/// `nft list tables`: "family name" each.
fn nft_tables(ns: &Netns) -> Vec<String> {
    String::from_utf8_lossy(&ns.run(&["nft", "list", "tables"]).stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("table "))
        .map(String::from)
        .collect()
}

/// The table the fixed firewall names for a call on `ifname`.
fn table_for(ifname: &str) -> String {
    let clean: String = ifname
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("carrier_inbound_{clean}")
}

// ---- a call ----

struct Call {
    console: Carrier,
    caller: Hostile,
    /// The console's address on the link, and the caller's.
    local: Ipv4Addr,
    remote: Ipv4Addr,
    /// The interface the kernel gave the call.
    ifname: String,
}

/// All events the console has reported so far.
fn drain(c: &mut Carrier) {
    c.wait_event("\u{0}none", Duration::from_millis(5));
}

/// The caller pumps its line until the console reports `name`.
fn pump_for_event(
    h: &mut Hostile,
    c: &mut Carrier,
    name: &str,
    timeout: Duration,
) -> Option<Value> {
    pump_for_event_where(h, c, name, timeout, |_| true)
}

/// [`pump_for_event`] for the first event called `name` that `pick`
/// likes.
fn pump_for_event_where(
    h: &mut Hostile,
    c: &mut Carrier,
    name: &str,
    timeout: Duration,
    pick: impl Fn(&Value) -> bool,
) -> Option<Value> {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if let Some(v) = c.wait_event_where(name, Duration::from_millis(1), &pick) {
            return Some(v);
        }
        h.pump_until(Duration::from_millis(30), |_| false);
        if let Ok(Some(_)) = c.child.try_wait() {
            return c.wait_event_where(name, Duration::from_millis(200), &pick);
        }
    }
    None
}

/// The caller pumps its line until the console exits; its exit code.
fn pump_until_exit(h: &mut Hostile, c: &mut Carrier, timeout: Duration) -> Option<i32> {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if let Some(s) = c.child.try_wait().expect("wait carrier") {
            drain(c);
            return s.code();
        }
        h.pump_until(Duration::from_millis(30), |_| false);
    }
    None
}

/// A caller authenticates with the right secret and gets IP; the console
/// has set up its interface and firewall.
fn call_up(lab: &Lab, state: &Path, user: &str, secret: &str, ifname: &str) -> Call {
    call_up_with(lab, state, Hostile::new(user, secret.as_bytes()), ifname)
}

/// [`call_up`] with a caller that also asks for IPv6CP.
fn call_up_v6(lab: &Lab, state: &Path, user: &str, secret: &str) -> Call {
    let mut cfg = hostile::client_config(user, secret.as_bytes());
    cfg.ipv6 = Some(carrier::ppp::ipv6cp::Ipv6cpConfig::default());
    call_up_with(lab, state, Hostile::with_config(cfg), &ifname_template())
}

/// [`call_up_v6`], waited for until IPv6CP is up on both sides: the
/// call, the console's `ipv6cp-up` and its IPv6 `ip-interface` events.
fn call_up_v6_ready(
    lab: &Lab,
    state: &Path,
    user: &str,
    secret: &str,
) -> (Call, Value, Option<Value>) {
    let mut call = call_up_v6(lab, state, user, secret);
    let up6 = call
        .caller
        .pump_until(Duration::from_secs(15), |h| h.ipv6_up());
    let ev = pump_for_event(
        &mut call.caller,
        &mut call.console,
        "ipv6cp-up",
        Duration::from_secs(5),
    );
    let iface6 = call
        .console
        .wait_event_where("ip-interface", Duration::from_secs(2), |v| {
            v["family"] == "ipv6"
        });
    let ev = match (up6, ev, &iface6) {
        (true, Some(ev), Some(i)) if i.get("error").is_none() => ev,
        _ => panic!(
            "IPv6 did not come up on the call: caller IPv6CP up {up6}, console ip-interface {iface6:?}; console events {:?}; caller events {:?}; Protocol-Rejects {:?}",
            call.console.seen,
            call.caller.events,
            call.caller.protocol_rejects.iter().map(|(p, _)| format!("{p:#06x}")).collect::<Vec<_>>()
        ),
    };
    (call, ev, iface6)
}

/// [`call_up`] with a caller configured beforehand (IPv6CP, say).
fn call_up_with(lab: &Lab, state: &Path, mut caller: Hostile, ifname: &str) -> Call {
    let mut console = lab.answer(state, caller.device_str(), ifname);
    console
        .wait_event("connect", Duration::from_secs(15))
        .unwrap_or_else(|| panic!("console did not open its line: {:?}", console.seen));
    caller.start();
    let ev = pump_for_event(
        &mut caller,
        &mut console,
        "ip-interface",
        Duration::from_secs(30),
    )
    .unwrap_or_else(|| {
        panic!(
            "the call did not come up: console {:?}; caller {:?}",
            console.seen, caller.events
        )
    });
    assert!(
        ev.get("error").is_none(),
        "IFNAME: the console could not set up its interface for --ifname {ifname:?}: {ev}"
    );
    assert!(
        caller.pump_until(Duration::from_secs(10), |h| h.ip_up()),
        "the caller's IPCP did not open: {:?}",
        caller.events
    );
    let up = console
        .wait_event("ipcp-up", Duration::from_secs(1))
        .expect("console ipcp-up");
    let local = ip4(up["local"].as_str().unwrap());
    let remote = ip4(up["peer"].as_str().unwrap());
    assert_eq!(
        caller.local,
        Some(remote),
        "the caller got the enabled address"
    );
    let ifname = iface_with(&lab.console, local)
        .unwrap_or_else(|| panic!("no console interface holds {local}"));
    Call {
        console,
        caller,
        local,
        remote,
        ifname,
    }
}

impl Call {
    /// SIGTERM to the console; the caller answers its Terminate-Request.
    fn end(&mut self) -> Option<i32> {
        self.console.terminate();
        pump_until_exit(&mut self.caller, &mut self.console, Duration::from_secs(20))
    }
}

/// The call's last figures: the console's TX drops on its interface, the
/// caller's strays (replies no probe claimed) and framing errors.
fn call_figures(r: &mut Report, lab: &Lab, call: &Call) {
    let (_, txdrop) = link_counters(&lab.console, &call.ifname);
    let mut strays = call.caller.strays.clone();
    strays.sort();
    strays.dedup();
    strays.truncate(8);
    r.note(format!(
        "{} tx dropped: {txdrop}; caller strays: {} (e.g. {strays:?}); framing errors: {}",
        call.ifname,
        call.caller.strays.len(),
        call.caller.bad_frames
    ));
}

/// [`Call::end`], its exit code noted.
fn hang_up(r: &mut Report, call: &mut Call) {
    let code = call.end();
    r.note(format!("console exit after SIGTERM: {code:?}"));
}

// ---- the probes ----

/// How the report and the holes name what differs between the families.
trait Af: Ip {
    /// The listeners' family.
    const FAMILY: Family;
    /// (the report's family column, ICMP's name, the console's listeners
    /// of the family and what UDP answered with, in holes).
    const WORDS: [&'static str; 4];
}

impl Af for Ipv4Addr {
    const FAMILY: Family = Family::V4;
    const WORDS: [&'static str; 4] = [
        "ipv4",
        "ICMP",
        "listeners",
        "ICMP errors (closed, not dropped)",
    ];
}

impl Af for Ipv6Addr {
    const FAMILY: Family = Family::V6;
    const WORDS: [&'static str; 4] = ["ipv6", "ICMPv6", "IPv6 listeners", "ICMPv6 errors"];
}

/// The console's own address `console` from `me`, over `A`: TCP
/// `tcp_ports` and the UDP sample; only `want` open, and the listeners
/// of `A` accepted exactly the connections the scan completed. Over
/// IPv6 also: the UDP sockets received exactly what answered, and the
/// IPv4 listeners nothing.
#[allow(clippy::too_many_arguments)]
fn console_scans<A: Af>(
    r: &mut Report,
    lab: &Lab,
    call: &mut Call,
    listeners: &Listeners,
    (me, console): (A, A),
    tcp_ports: &[u16],
    want: &BTreeSet<u16>,
    who: &str,
) {
    let [name, icmp, their_listeners, udp_errors] = A::WORDS;
    let h = &mut call.caller;
    let before = listeners.snapshot();
    let counted = |l4: L4, probed: &BTreeSet<u16>| -> BTreeSet<u16> {
        probed
            .iter()
            .filter(|&&p| {
                listeners.count(A::FAMILY, l4, p)
                    > before.get(&(A::FAMILY, l4, p)).copied().unwrap_or(0)
            })
            .copied()
            .collect()
    };
    let ifname = call.ifname.clone();
    let c = console.label();
    let (_, drop0) = link_counters(&lab.console, &ifname);
    let t0 = Instant::now();
    let s = h.tcp_scan(me, console, tcp_ports);
    r.scan(&format!("{}/tcp", name), &s, t0.elapsed());
    let (_, drop1) = link_counters(&lab.console, &ifname);
    r.check(drop1 == drop0, || {
        format!(
            "HARNESS{who}: {ifname} dropped {} answers of the scan (its TX queue overran): the scan's dropped count is not to be trusted",
            drop1 - drop0
        )
    });
    // Exactly the ports of `want` the scan probed are open.
    let port_list = |r: &mut Report, s: &Scan, what: &str| {
        let want: BTreeSet<u16> = want.intersection(&s.probed).copied().collect();
        r.check(s.open == want, || {
            format!(
                "PORT LIST{who}: {what} on {c}: [{}], want exactly [{}]",
                ports_text(&s.open),
                ports_text(&want)
            )
        });
    };
    port_list(r, &s, "TCP ports open");
    r.check(s.closed.is_empty(), || {
        format!(
            "RST LEAK{who}: {} TCP ports of {c} answer RST instead of being dropped: [{}]",
            s.closed.len(),
            ports_text(&s.closed)
        )
    });
    r.check(s.unreachable.is_empty(), || {
        format!(
            "ICMP LEAK{who}: {} errors for TCP to {c}: [{}]",
            icmp,
            ports_text(&s.unreachable)
        )
    });
    // The listeners saw exactly the connections the scan completed.
    std::thread::sleep(Duration::from_millis(100));
    let tcp_counted = counted(L4::Tcp, &s.probed);
    r.check(tcp_counted == s.open, || {
        format!(
            "HARNESS{who}: the console's {} accepted on [{}] but the scan saw open [{}]",
            their_listeners,
            ports_text(&tcp_counted),
            ports_text(&s.open)
        )
    });

    let t0 = Instant::now();
    let u = h.udp_probe(me, console, &udp_sample());
    r.scan(&format!("{}/udp", name), &u, t0.elapsed());
    port_list(r, &u, "UDP ports answering");
    r.check(u.closed.is_empty() && u.unreachable.is_empty(), || {
        format!(
            "ICMP LEAK{who}: UDP to {c} answered with {}: [{}] [{}]",
            udp_errors,
            ports_text(&u.closed),
            ports_text(&u.unreachable)
        )
    });
    if A::FAMILY == Family::V6 {
        std::thread::sleep(Duration::from_millis(100));
        let udp_counted = counted(L4::Udp, &u.probed);
        r.check(udp_counted == u.open, || {
            format!(
                "HARNESS{who}: the console's IPv6 UDP sockets received on [{}] but the probe saw answers from [{}]",
                ports_text(&udp_counted),
                ports_text(&u.open)
            )
        });
        let v4 = listeners.total(|k| k.0 == Family::V4)
            - before
                .iter()
                .filter(|(k, _)| k.0 == Family::V4)
                .map(|(_, n)| n)
                .sum::<u64>();
        r.check(v4 == 0, || {
            format!("HARNESS{who}: the console's IPv4 listeners counted {v4} arrivals during the IPv6 scans")
        });
    }
}

/// The console's own address: the full TCP range or `tcp_ports`, the UDP
/// sample, ping; only `want` open.
fn console_ports(
    r: &mut Report,
    lab: &Lab,
    call: &mut Call,
    listeners: &Listeners,
    tcp_ports: &[u16],
    want: &BTreeSet<u16>,
    who: &str,
) {
    let (me, console) = (call.remote, call.local);
    console_scans(r, lab, call, listeners, (me, console), tcp_ports, want, who);
    let n = call.caller.ping(me, console, 3);
    r.row("ipv4/icmp", &format!("echo {console}"), 3, n.into(), "");
    r.check(n == 0, || {
        format!("PORT LIST{who}: the console answers ping on {console} ({n}/3): only TCP/UDP service ports are allowed")
    });
}

/// The console's LAN addresses through the link: nothing answers.
fn console_lan(r: &mut Report, call: &mut Call, who: &str) {
    let me = call.remote;
    let h = &mut call.caller;
    for lan in [LAN1, LAN2].map(ip4) {
        let t0 = Instant::now();
        let s = h.tcp_scan(me, lan, &port_list());
        r.scan("ipv4/tcp", &s, t0.elapsed());
        r.check(s.all_dropped(), || {
            format!(
                "LAN ADDRESS{who}: the console answers on its LAN address {lan} through the link: {}",
                s.answers()
            )
        });
        let t0 = Instant::now();
        let u = h.udp_probe(me, lan, &udp_sample());
        r.scan("ipv4/udp", &u, t0.elapsed());
        r.check(u.all_dropped(), || {
            format!(
                "LAN ADDRESS{who}: UDP to the console's LAN address {lan} answered: {}",
                u.answers()
            )
        });
        let n = h.ping(me, lan, 2);
        r.row("ipv4/icmp", &format!("echo {lan}"), 2, n.into(), "");
        r.check(n == 0, || {
            format!("LAN ADDRESS{who}: the console answers ping on {lan} through the link")
        });
    }
}

/// The partition behind `alias` answers TCP, UDP and ping, and its own
/// listeners and counters prove the traffic got there.
fn partition_reachable(
    r: &mut Report,
    call: &mut Call,
    alias: Ipv4Addr,
    lpar: &Netns,
    listeners: &Listeners,
    name: &str,
) {
    let me = call.remote;
    let h = &mut call.caller;
    let (tcp0, udp0) = (
        listeners.count(Family::V4, L4::Tcp, LPAR_PORT),
        listeners.count(Family::V4, L4::Udp, LPAR_PORT),
    );
    let s0 = snmp(lpar);
    let t0 = Instant::now();
    let s = h.tcp_scan(me, alias, &[LPAR_PORT]);
    r.scan("ipv4/tcp", &s, t0.elapsed());
    let t0 = Instant::now();
    let u = h.udp_probe(me, alias, &[LPAR_PORT]);
    r.scan("ipv4/udp", &u, t0.elapsed());
    let n = h.ping(me, alias, 2);
    std::thread::sleep(Duration::from_millis(100));
    let s1 = snmp(lpar);
    let echoes = delta(&s1, &s0, "Icmp.InEchos");
    r.row(
        "ipv4/icmp",
        &format!("echo {alias}"),
        2,
        n.into(),
        &format!("{name} saw {echoes} echo requests"),
    );
    let want: BTreeSet<u16> = [LPAR_PORT].into();
    r.check(s.open == want, || {
        format!(
            "PARTITION: {alias}:{LPAR_PORT} ({name}'s alias) is not open over TCP: {}",
            s.answers()
        )
    });
    let tcp = listeners.count(Family::V4, L4::Tcp, LPAR_PORT) - tcp0;
    r.check(tcp == 1, || {
        format!(
            "PARTITION: {name}'s TCP listener counted {tcp} connections through {alias}, want 1"
        )
    });
    let udp = listeners.count(Family::V4, L4::Udp, LPAR_PORT) - udp0;
    r.check(u.open == want && udp == 1, || {
        format!(
            "PARTITION: UDP to {alias}:{LPAR_PORT}: {}; {name}'s listener counted {udp}",
            u.answers()
        )
    });
    // One reply proves the path; a second may be late on a loaded machine.
    r.check(n >= 1 && echoes >= u64::from(n), || {
        format!("PARTITION: ping {alias}: {n}/2 replies, {name} itself saw {echoes} echo requests")
    });
}

/// [`partition_reachable`] for lpar1 at its alias in the usual
/// enablement, 10.99.0.11.
fn lpar1_reachable(r: &mut Report, lab: &Lab, call: &mut Call, l1: &Listeners) {
    partition_reachable(r, call, ip4("10.99.0.11"), &lab.lpar1, l1, "lpar1");
}

/// TCP and UDP to `dst`:7777 get no answer of any kind.
fn unreachable_target(r: &mut Report, call: &mut Call, dst: Ipv4Addr, why: &str) {
    let me = call.remote;
    let h = &mut call.caller;
    let t0 = Instant::now();
    let s = h.tcp_scan(me, dst, &[LPAR_PORT]);
    r.scan("ipv4/tcp", &s, t0.elapsed());
    let u = h.udp_probe(me, dst, &[LPAR_PORT]);
    r.scan("ipv4/udp", &u, t0.elapsed());
    r.check(s.all_dropped() && u.all_dropped(), || {
        format!(
            "PARTITION: {dst}:{LPAR_PORT} ({why}) answers: tcp {}; udp {}",
            s.answers(),
            u.answers()
        )
    });
}

/// Received frames, borrowed.
type Frames<'a> = Vec<&'a (u16, Vec<u8>)>;

/// IPv6, as 0x0057 frames and inside 0x0021 frames: nothing may answer,
/// nothing may reach the console's interface or its listeners.
fn ipv6_phase(r: &mut Report, lab: &Lab, call: &mut Call, listeners: &Listeners) {
    let ifname = call.ifname.clone();
    let lls = link_local(&lab.console, &ifname);
    r.note(format!(
        "{ifname} link-local addresses: {}",
        if lls.is_empty() {
            "none".to_string()
        } else {
            lls.iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        }
    ));
    let h = &mut call.caller;
    let me: Ipv6Addr = "fe80::a77a:c4".parse().unwrap();
    let sport = h.fresh_port();
    let mut probes: Vec<(String, Vec<u8>)> = Vec::new();
    let mut echo_to: Vec<Ipv6Addr> = vec!["ff02::1".parse().unwrap(), "fe80::1".parse().unwrap()];
    echo_to.extend(&lls);
    for (i, dst) in echo_to.iter().enumerate() {
        probes.push((
            format!("icmpv6 echo {dst}"),
            hostile::icmp6_echo(me, *dst, 0x6a6a, i as u16 + 1),
        ));
    }
    let mut syn_to: Vec<Ipv6Addr> = vec!["fe80::1".parse().unwrap()];
    syn_to.extend(&lls);
    for dst in &syn_to {
        for port in [22, 2300] {
            probes.push((
                format!("tcp6 syn [{dst}]:{port}"),
                hostile::tcp_syn(me, sport, *dst, port),
            ));
        }
    }
    let v6_before = listeners.total(|k| k.0 == Family::V6);
    let (rx0, _) = link_counters(&lab.console, &ifname);
    let (in0, rej0) = (h.ipv6_in.len(), h.protocol_rejects.len());
    let mut frames = Vec::new();
    for (_, p) in &probes {
        frames.push((proto::IPV6, p.clone()));
        frames.push((proto::IPV4, p.clone()));
    }
    h.send_frames(&frames);
    let mut got = h.pump(Duration::from_millis(500));
    // SYN-ACKs are acknowledged (each in the framing it came in), so a
    // listener that got the SYN also accepts and counts the connection;
    // then reset.
    let syn_acks: Vec<(u16, Ipv6Addr, u16, u32)> = h.ipv6_in[in0..]
        .iter()
        .filter_map(|(p, d)| {
            let t = hostile::parse_tcp6(d)?;
            (t.flags & hostile::SYN_ACK == hostile::SYN_ACK && t.dst == me && t.dport == sport)
                .then_some((*p, t.src, t.sport, t.seq))
        })
        .collect();
    let mut resets = Vec::new();
    for (p, src, from, seq) in syn_acks {
        let next = hostile::isn(from).wrapping_add(1);
        let ack = hostile::tcp(
            me,
            sport,
            src,
            from,
            next,
            seq.wrapping_add(1),
            hostile::ACK,
        );
        h.send_frame(p, &ack);
        resets.push((p, hostile::tcp(me, sport, src, from, next, 0, hostile::RST)));
    }
    got.extend(h.pump(FINAL_WAIT));
    h.send_frames(&resets);
    got.extend(h.pump(Duration::from_millis(300)));
    let (rx1, _) = link_counters(&lab.console, &ifname);
    let (unsolicited, replies): (Frames, Frames) = h.ipv6_in[in0..]
        .iter()
        .partition(|(_, p)| hostile::ipv6_unsolicited(p));
    let rejected_v6 = h.protocol_rejects[rej0..]
        .iter()
        .filter(|(p, _)| *p == proto::IPV6)
        .count();
    let v6_counted = listeners.total(|k| k.0 == Family::V6) - v6_before;
    let other = v4_frames(&got);
    r.row(
        "ipv6",
        &format!("{} probes x (0x0057, 0x0021)", probes.len()),
        frames.len(),
        replies.len(),
        &format!(
            "{rejected_v6} Protocol-Rejects of 0x0057 (fine); {ifname} RX +{}; v6 listeners +{v6_counted}",
            rx1 - rx0
        ),
    );
    r.check(replies.is_empty(), || {
        format!(
            "IPV6: the console answered IPv6 over the link: {}",
            replies
                .iter()
                .map(|(p, d)| describe(*p, d))
                .collect::<Vec<_>>()
                .join("; ")
        )
    });
    r.check(rx1 == rx0, || {
        format!(
            "IPV6: {ifname}'s RX counter moved by {} during the IPv6 phase: IPv6 inside 0x0021 frames is handed to the console's interface",
            rx1 - rx0
        )
    });
    r.check(v6_counted == 0, || {
        format!("IPV6: the console's IPv6 listeners counted {v6_counted} arrivals")
    });
    if !unsolicited.is_empty() {
        r.note(format!(
            "{} IPv6 packets of the console's own during the IPv6 phase: {}",
            unsolicited.len(),
            unsolicited
                .iter()
                .map(|(p, d)| describe(*p, d))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if !other.is_empty() {
        r.note(format!("IPv4 frames during the IPv6 phase: {other:?}"));
    }
}

/// Over the whole call: the console sent no IPv6 over the link, even of
/// its own (router solicitations, MLD reports).
fn no_ipv6_out(r: &mut Report, call: &Call) {
    let v6: Vec<&(u16, Vec<u8>)> = call
        .caller
        .ipv6_in
        .iter()
        .filter(|(_, p)| hostile::ipv6_unsolicited(p))
        .collect();
    r.check(v6.is_empty(), || {
        let mut seen: Vec<String> = v6.iter().map(|(p, d)| describe(*p, d)).collect();
        seen.dedup();
        seen.truncate(6);
        format!(
            "IPV6 OUT: the console sent {} IPv6 packets of its own (not answers) over the link during the call: {}",
            v6.len(),
            seen.join("; ")
        )
    });
}

/// `items`, comma-separated.
fn joined<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// What each of `listeners` counted since `before` (their snapshots),
/// one text per namespace that counted anything.
fn counted_since(listeners: &[&Listeners], before: &[Counts]) -> Vec<String> {
    listeners
        .iter()
        .zip(before)
        .filter_map(|(l, b)| {
            let s = l.since(b);
            (!s.is_empty()).then(|| format!("{}: {s}", l.ns))
        })
        .collect()
}

fn snapshots(listeners: &[&Listeners]) -> Vec<Counts> {
    listeners.iter().map(|l| l.snapshot()).collect()
}

/// A SYN and a datagram from each of `sources` to each of `targets`,
/// then (with `echo`: its destination and identifier) an echo request
/// from that source.
fn spoof_frames<A: Ip>(
    sources: &[A],
    targets: &[(A, u16)],
    sport: u16,
    echo: Option<(A, u16)>,
) -> Vec<(u16, Vec<u8>)> {
    let mut frames = Vec::new();
    for (i, &src) in sources.iter().enumerate() {
        for &(dst, port) in targets {
            frames.push((A::FRAME, hostile::tcp_syn(src, sport, dst, port)));
            frames.push((
                A::FRAME,
                hostile::udp(src, sport, dst, port, b"carrier-attack spoofed"),
            ));
        }
        if let Some((dst, ident)) = echo {
            frames.push((A::FRAME, A::echo(src, dst, ident, i as u16 + 1)));
        }
    }
    frames
}

/// Nothing came back for spoofed sources, nothing was counted, nothing
/// arrived.
fn spoof_checks(
    r: &mut Report,
    who: &str,
    answers: &[String],
    counted: &[String],
    arrived: &[String],
) {
    r.check(answers.is_empty(), || {
        format!("SPOOF{who}: answers came back for spoofed sources: {answers:?}")
    });
    r.check(counted.is_empty(), || {
        format!("SPOOF{who}: listeners counted spoofed traffic: {counted:?}")
    });
    r.check(arrived.is_empty(), || {
        format!("SPOOF{who}: spoofed packets got past the console's firewall: {arrived:?}")
    });
}

/// SYNs and datagrams from addresses that are not the caller's: nothing
/// comes back, nothing arrives anywhere.
fn spoof_phase(
    r: &mut Report,
    lab: &Lab,
    call: &mut Call,
    sources: &[Ipv4Addr],
    targets: &[(Ipv4Addr, u16)],
    listeners: &[&Listeners],
) {
    let h = &mut call.caller;
    let sport = h.fresh_port();
    let before = snapshots(listeners);
    let hosts = [
        ("console", &lab.console),
        ("lpar1", &lab.lpar1),
        ("lpar2", &lab.lpar2),
    ];
    let s0: Vec<_> = hosts.iter().map(|(_, ns)| snmp(ns)).collect();
    let frames = spoof_frames(sources, targets, sport, None);
    h.send_frames(&frames);
    let got = h.pump(FINAL_WAIT);
    std::thread::sleep(Duration::from_millis(100));
    let s1: Vec<_> = hosts.iter().map(|(_, ns)| snmp(ns)).collect();
    // IPv4 answers; IPv6 is the IPv6 phase's business.
    let answers = v4_frames(&got);
    let counted = counted_since(listeners, &before);
    let mut arrived = Vec::new();
    for (i, (name, _)) in hosts.iter().enumerate() {
        let keys: &[&str] = if *name == "console" {
            &["Tcp.InSegs", "Udp.InDatagrams", "Udp.NoPorts"]
        } else {
            &["Ip.InReceives"]
        };
        arrived.extend(moved(name, &s1[i], &s0[i], keys));
    }
    r.row(
        "ipv4 spoofed",
        &format!(
            "from {} to {}",
            joined(sources),
            joined(targets.iter().map(|(a, p)| format!("{a}:{p}")))
        ),
        frames.len(),
        answers.len(),
        &arrived.join(", "),
    );
    spoof_checks(r, "", &answers, &counted, &arrived);
}

fn console_listeners(lab: &Lab) -> Listeners {
    console_listeners_with(lab, &[])
}

/// TCP and UDP listeners on the service ports, [`DECOYS`] and `more`.
fn console_listeners_with(lab: &Lab, more: &[u16]) -> Listeners {
    let mut ports: Vec<u16> = SERVICE_PORTS.to_vec();
    ports.extend(DECOYS);
    ports.extend(more);
    Listeners::start(lab.console.name(), &ports, &ports)
}

fn lpar_listeners(ns: &Netns) -> Listeners {
    Listeners::start(ns.name(), &[LPAR_PORT], &[LPAR_PORT])
}

/// Tests 1 and 2: one call, every probe.
fn one_call(name: &'static str, tag: &str, console_access: bool) {
    let Some((lab, mut r)) = Lab::with_report(tag, name) else {
        return;
    };
    let state = lab.state("state");
    let (user, secret) = lab.enable_lpar1(&state, console_access, "chap", &[]);
    let cl = console_listeners(&lab);
    let l1 = lpar_listeners(&lab.lpar1);
    let l2 = lpar_listeners(&lab.lpar2);
    let mut call = call_up(&lab, &state, &user, &secret, &ifname_template());
    r.note(format!(
        "call up on {} ({} -> {}), --ifname {:?}; nft tables: {:?}",
        call.ifname,
        call.remote,
        call.local,
        ifname_template(),
        nft_tables(&lab.console)
    ));
    let want = if console_access {
        service_set()
    } else {
        BTreeSet::new()
    };
    let all: Vec<u16> = (1..=65535).collect();
    console_ports(&mut r, &lab, &mut call, &cl, &all, &want, "");
    console_lan(&mut r, &mut call, "");

    let lpar2_0 = snmp(&lab.lpar2);
    lpar1_reachable(&mut r, &lab, &mut call, &l1);
    unreachable_target(
        &mut r,
        &mut call,
        ip4(LPAR1),
        "lpar1's real address, not its alias",
    );
    unreachable_target(&mut r, &mut call, ip4(LPAR2), "lpar2 is not allowed");
    unreachable_target(
        &mut r,
        &mut call,
        ip4("10.99.0.12"),
        "no partition has this alias",
    );
    let lpar2_in = delta(&snmp(&lab.lpar2), &lpar2_0, "Ip.InReceives");
    let l2_total = l2.total(|_| true);
    r.check(lpar2_in == 0 && l2_total == 0, || {
        format!("PARTITION: lpar2 (not allowed) received {lpar2_in} IP packets; its listener counted {l2_total}")
    });

    ipv6_phase(&mut r, &lab, &mut call, &cl);
    spoof_phase(
        &mut r,
        &lab,
        &mut call,
        &["10.99.0.77", LPAR1, "10.99.0.1", "127.0.0.1"].map(ip4),
        &[(ip4("10.99.0.1"), 22), (ip4("10.99.0.11"), LPAR_PORT)],
        &[&cl, &l1, &l2],
    );
    no_ipv6_out(&mut r, &call);
    call_figures(&mut r, &lab, &call);
    hang_up(&mut r, &mut call);
    r.finish();
}

#[test]
fn console_access_on_opens_exactly_the_port_list() {
    let _serial = one_at_a_time();
    one_call(
        "console_access_on_opens_exactly_the_port_list",
        "atk-on",
        true,
    );
}

#[test]
fn console_access_off_reaches_nothing_on_the_console() {
    let _serial = one_at_a_time();
    one_call(
        "console_access_off_reaches_nothing_on_the_console",
        "atk-off",
        false,
    );
}

#[test]
fn two_calls_at_once_keep_their_own_rules() {
    let _serial = one_at_a_time();
    let Some((lab, mut r)) = Lab::with_report("atk-two", "two_calls_at_once_keep_their_own_rules")
    else {
        return;
    };
    let (sa, sb) = (lab.state("a"), lab.state("b"));
    let (ua, pa) = lab.enable(
        &sa,
        ("10.99.0.1", "10.99.0.2"),
        &format!("lpar1={LPAR1}"),
        true,
        "chap",
        &[],
    );
    let (ub, pb) = lab.enable(
        &sb,
        ("10.98.0.1", "10.98.0.2"),
        &format!("lpar2={LPAR2}"),
        true,
        "chap",
        &[],
    );
    let cl = console_listeners(&lab);
    let l1 = lpar_listeners(&lab.lpar1);
    let l2 = lpar_listeners(&lab.lpar2);
    let template = ifname_template();
    let (ta, tb) = if template.contains('%') {
        (template.clone(), template.clone())
    } else {
        (format!("{template}a"), format!("{template}b"))
    };
    let mut a = call_up(&lab, &sa, &ua, &pa, &ta);
    let mut b = call_up(&lab, &sb, &ub, &pb, &tb);
    r.note(format!(
        "call A on {} ({} -> {}), call B on {} ({} -> {}); nft tables: {:?}",
        a.ifname,
        a.remote,
        a.local,
        b.ifname,
        b.remote,
        b.local,
        nft_tables(&lab.console)
    ));
    let (alias_a, alias_b) = (ip4("10.99.0.11"), ip4("10.98.0.11"));
    let want = service_set();
    console_ports(&mut r, &lab, &mut a, &cl, &port_list(), &want, " (call A)");
    console_ports(&mut r, &lab, &mut b, &cl, &port_list(), &want, " (call B)");
    partition_reachable(&mut r, &mut a, alias_a, &lab.lpar1, &l1, "lpar1");
    partition_reachable(&mut r, &mut b, alias_b, &lab.lpar2, &l2, "lpar2");
    let (local_a, local_b) = (a.local, b.local);
    for (call, other, other_alias, who) in [
        (&mut a, local_b, alias_b, "A"),
        (&mut b, local_a, alias_a, "B"),
    ] {
        let me = call.remote;
        let t0 = Instant::now();
        let s = call.caller.tcp_scan(me, other, &port_list());
        r.scan("ipv4/tcp", &s, t0.elapsed());
        let u = call.caller.udp_probe(me, other, &udp_sample());
        r.scan("ipv4/udp", &u, t0.elapsed());
        r.check(s.all_dropped() && u.all_dropped(), || {
            format!(
                "TWO CALLS: caller {who} reaches the other call's console address {other}: tcp {}; udp {}",
                s.answers(),
                u.answers()
            )
        });
        let t0 = Instant::now();
        let s = call.caller.tcp_scan(me, other_alias, &[LPAR_PORT]);
        r.scan("ipv4/tcp", &s, t0.elapsed());
        r.check(s.all_dropped(), || {
            format!(
                "TWO CALLS: caller {who} reaches the other call's partition alias {other_alias}: {}",
                s.answers()
            )
        });
    }
    // A, spoofing B's address, at B's console and partition.
    spoof_phase(
        &mut r,
        &lab,
        &mut a,
        &[b.remote],
        &[(b.local, 22), (alias_b, LPAR_PORT), (alias_a, LPAR_PORT)],
        &[&cl, &l1, &l2],
    );

    // Call A ends; B's rules must stand.
    let code = a.end();
    r.check(code == Some(5), || {
        format!("TWO CALLS: console A exited {code:?} on SIGTERM, want 5")
    });
    let tables = nft_tables(&lab.console);
    r.note(format!("after call A ended: nft tables {tables:?}"));
    let (tab_a, tab_b) = (table_for(&a.ifname), table_for(&b.ifname));
    let has = |t: &str| {
        tables
            .iter()
            .any(|x| x.split_whitespace().nth(1) == Some(t))
    };
    r.check(has(&tab_b), || {
        format!("TWO CALLS: call B's table {tab_b} is gone after call A ended: tables {tables:?}")
    });
    r.check(!has(&tab_a), || {
        format!("TWO CALLS: call A's table {tab_a} is left after call A ended: tables {tables:?}")
    });
    console_ports(
        &mut r,
        &lab,
        &mut b,
        &cl,
        &port_list(),
        &want,
        " (call B after A ended)",
    );
    partition_reachable(&mut r, &mut b, alias_b, &lab.lpar2, &l2, "lpar2");
    no_ipv6_out(&mut r, &b);
    let code = b.end();
    r.note(format!("console B exit after SIGTERM: {code:?}"));
    r.finish();
}

/// Test 11: two lines whose calls both reach lpar1, through the same
/// egress interface. The interface's forwarding, off before, stays on
/// while either call needs it: call A's end leaves call B its partition,
/// and only B's end puts the switch back.
#[test]
fn two_calls_through_one_egress_keep_its_forwarding_until_the_last() {
    let _serial = one_at_a_time();
    let Some((lab, mut r)) = Lab::with_report(
        "atk-egress",
        "two_calls_through_one_egress_keep_its_forwarding_until_the_last",
    ) else {
        return;
    };
    let egress = format!("conf/c1{}/forwarding", std::process::id() % 100000);
    let before = forwarding(&lab.console);
    assert_eq!(
        before.get(&egress).map(String::as_str),
        Some("0"),
        "{before:?}"
    );
    let (sa, sb) = (lab.state("a"), lab.state("b"));
    let lpar1 = format!("lpar1={LPAR1}");
    let (ua, pa) = lab.enable(&sa, ("10.99.0.1", "10.99.0.2"), &lpar1, false, "chap", &[]);
    let (ub, pb) = lab.enable(&sb, ("10.98.0.1", "10.98.0.2"), &lpar1, false, "chap", &[]);
    let l1 = lpar_listeners(&lab.lpar1);
    let mut a = call_up(&lab, &sa, &ua, &pa, &ifname_template());
    let mut b = call_up(&lab, &sb, &ub, &pb, &ifname_template());
    let (alias_a, alias_b) = (ip4("10.99.0.11"), ip4("10.98.0.11"));
    partition_reachable(&mut r, &mut a, alias_a, &lab.lpar1, &l1, "lpar1 (call A)");
    partition_reachable(&mut r, &mut b, alias_b, &lab.lpar1, &l1, "lpar1 (call B)");
    let code = a.end();
    r.note(format!("console A exit after SIGTERM: {code:?}"));
    let mid = forwarding(&lab.console);
    r.check(mid.get(&egress).map(String::as_str) == Some("1"), || {
        format!("FORWARDING: call A's end switched {egress} off under call B: {mid:?}")
    });
    partition_reachable(
        &mut r,
        &mut b,
        alias_b,
        &lab.lpar1,
        &l1,
        "lpar1 (call B after A ended)",
    );
    let code = b.end();
    r.note(format!("console B exit after SIGTERM: {code:?}"));
    let after = forwarding(&lab.console);
    r.check(after.get(&egress) == before.get(&egress), || {
        format!(
            "FORWARDING: after both calls {egress} is {:?}, was {:?}",
            after.get(&egress),
            before.get(&egress)
        )
    });
    r.finish();
}

#[test]
fn kill_9_mid_call_then_restart_restores_everything() {
    let _serial = one_at_a_time();
    let Some((lab, mut r)) = Lab::with_report(
        "atk-kill",
        "kill_9_mid_call_then_restart_restores_everything",
    ) else {
        return;
    };
    let state = lab.state("state");
    let (user, secret) = lab.enable_lpar1(&state, true, "chap", &[]);
    // The customer's own setting on its other LAN, to be kept.
    let lan2 = format!("c2{}", std::process::id() % 100000);
    ok(
        lab.console.run(&[
            "sysctl",
            "-qw",
            &format!("net.ipv4.conf.{lan2}.forwarding=1"),
        ]),
        "forwarding on the second LAN",
    );
    let before = forwarding(&lab.console);
    r.note(format!("forwarding before the call: {before:?}"));
    let l1 = lpar_listeners(&lab.lpar1);
    let template = ifname_template();
    let mut call = call_up(&lab, &state, &user, &secret, &template);
    let during = forwarding(&lab.console);
    r.note(format!("forwarding during the call: {during:?}"));
    let global = during.get("ip_forward").cloned().unwrap_or_default();
    r.check(global == "0", || {
        format!("FORWARDING: net.ipv4.ip_forward is {global} during the call: forwarding was turned on globally, not on the call's interfaces only")
    });
    lpar1_reachable(&mut r, &lab, &mut call, &l1);
    r.note(format!(
        "during the call: nft tables {:?}",
        nft_tables(&lab.console)
    ));

    let _ = call.console.child.kill();
    let _ = call.console.child.wait();
    call.caller.pump(Duration::from_millis(200));
    let mut again = lab.answer(&state, call.caller.device_str(), &template);
    let code = again.wait_exit(Duration::from_secs(15));
    r.check(code == Some(20), || {
        format!("RESTART: `answer --inbound` after kill -9 exited {code:?}, want 20 (the enablement stays consumed)")
    });
    let status = lab.status(&state);
    r.check(status["state"] == "consumed", || {
        format!(
            "RESTART: the enablement is {} after kill -9 and restart, want consumed",
            status["state"]
        )
    });
    let tables = nft_tables(&lab.console);
    let ours: Vec<&String> = tables
        .iter()
        .filter(|t| {
            t.split_whitespace()
                .nth(1)
                .is_some_and(|n| n.starts_with("carrier"))
        })
        .collect();
    r.check(ours.is_empty(), || {
        format!("LEFTOVERS: nft tables after kill -9 and restart: {ours:?}")
    });
    let prefix: String = template.split('%').next().unwrap_or("cin").to_string();
    let ifaces: Vec<String> = interfaces(&lab.console)
        .into_iter()
        .filter(|i| i.starts_with(&prefix))
        .collect();
    r.check(ifaces.is_empty(), || {
        format!("LEFTOVERS: interfaces after kill -9 and restart: {ifaces:?}")
    });
    let after = forwarding(&lab.console);
    let changed: Vec<String> = before
        .keys()
        .chain(after.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| format!("{k}: {:?} -> {:?}", before.get(k), after.get(k)))
        .collect();
    r.check(changed.is_empty(), || {
        format!("FORWARDING: after kill -9 and restart, forwarding is not as before the call: {changed:?}")
    });
    r.finish();
}

/// IPCP Configure-Request for `me` with an id the caller's link never
/// uses, Configure-Acks guessing the console's request (id 1 and 2, its
/// address), and datagrams: all meant to arrive before the console has
/// judged the caller.
fn premature_frames(me: Ipv4Addr, console: Ipv4Addr, alias: Ipv4Addr) -> Vec<(u16, Vec<u8>)> {
    let ipcp = |code: u8, id: u8, addr: Ipv4Addr| {
        let mut v = vec![code, id, 0, 10, 3, 6];
        v.extend_from_slice(&addr.octets());
        (proto::IPCP, v)
    };
    vec![
        ipcp(1, PREMATURE_ID, me),
        ipcp(2, 1, console),
        ipcp(2, 2, console),
        (
            proto::IPV4,
            hostile::udp(me, 41999, alias, LPAR_PORT, b"premature"),
        ),
        (proto::IPV4, hostile::tcp_syn(me, 41999, alias, LPAR_PORT)),
        (
            proto::IPV4,
            hostile::udp(me, 41999, console, 2300, b"premature"),
        ),
    ]
}

const PREMATURE_ID: u8 = 0xa5;

/// IPCP packets the console sent: (code, id).
fn console_ipcp(h: &Hostile) -> Vec<(u8, u8)> {
    h.control_in
        .iter()
        .filter(|(p, d)| *p == proto::IPCP && d.len() >= 2)
        .map(|(_, d)| (d[0], d[1]))
        .collect()
}

/// The ordering attack with a wrong secret: the console must close, and
/// nothing sent with or after the bad response may get anywhere.
fn wrong_secret_attack(
    r: &mut Report,
    lab: &Lab,
    state: &Path,
    user: &str,
    auth: &str,
    listeners: &[&Listeners],
) {
    let (me, console_ip, alias) = (ip4("10.99.0.2"), ip4("10.99.0.1"), ip4("10.99.0.11"));
    let mut h = Hostile::new(user, b"0123456789abcdef0123456789abcdef");
    let mut console = lab.answer(state, h.device_str(), &ifname_template());
    console
        .wait_event("connect", Duration::from_secs(15))
        .unwrap_or_else(|| panic!("console did not open its line: {:?}", console.seen));
    let before = snapshots(listeners);
    let (c0, l0) = (snmp(&lab.console), snmp(&lab.lpar1));
    h.piggyback_on_auth(premature_frames(me, console_ip, alias));
    h.start();
    let wrote = h.pump_until(Duration::from_secs(20), |h| h.piggyback_write.is_some());
    assert!(
        wrote,
        "{auth}: the caller's link never sent its authentication: {:?}",
        h.events
    );
    // Right after the one write: more IP.
    h.send_frames(&[
        (proto::IPV4, hostile::tcp_syn(me, 42001, alias, LPAR_PORT)),
        (
            proto::IPV4,
            hostile::udp(me, 42001, alias, LPAR_PORT, b"right after"),
        ),
    ]);
    let code = pump_until_exit(&mut h, &mut console, Duration::from_secs(20));
    let got = h.pump(Duration::from_millis(300));
    std::thread::sleep(Duration::from_millis(100));
    let (c1, l1) = (snmp(&lab.console), snmp(&lab.lpar1));
    let (asked, took) = h.piggyback_write.unwrap();
    let ipcp = console_ipcp(&h);
    let ip_answers: Vec<String> = got.iter().map(|(p, d)| describe(*p, d)).collect();
    let counted = counted_since(listeners, &before);
    let deltas = [
        delta(&c1, &c0, "Udp.InDatagrams"),
        delta(&c1, &c0, "Tcp.InSegs"),
        delta(&l1, &l0, "Ip.InReceives"),
    ];
    let arrived = format!(
        "console Udp.InDatagrams +{}, Tcp.InSegs +{}; lpar1 Ip.InReceives +{}",
        deltas[0], deltas[1], deltas[2]
    );
    let ipcp_up = console.events_named("ipcp-up").count();
    r.row(
        "ordering",
        &format!("{auth} wrong secret + IPCP + IP in one write"),
        6 + 2,
        ip_answers.len(),
        &format!(
            "one write of {asked} octets took {took}; console IPCP packets {ipcp:?}; ipcp-up {ipcp_up}; exit {code:?}"
        ),
    );
    r.check(took == asked, || {
        format!("HARNESS: the ordering write took {took} of {asked} octets")
    });
    r.check(ipcp.is_empty() && ipcp_up == 0 && !h.ip_up(), || {
        format!(
            "ORDERING ({auth}, wrong secret): the console ran IPCP with a caller that failed authentication: its IPCP packets (code, id) {ipcp:?}, ipcp-up events {ipcp_up}"
        )
    });
    r.check(ip_answers.is_empty() && counted.is_empty(), || {
        format!(
            "ORDERING ({auth}, wrong secret): IP from an unauthenticated caller got answers {ip_answers:?} / was counted {counted:?}"
        )
    });
    r.check(deltas == [0; 3], || {
        format!(
            "ORDERING ({auth}, wrong secret): IP from an unauthenticated caller arrived: {arrived}"
        )
    });
    r.check(code == Some(11), || {
        format!("ORDERING ({auth}, wrong secret): the console exited {code:?}, want 11 (peer auth failed)")
    });
    let status = lab.status(state);
    r.check(status["state"] == "enabled", || {
        format!(
            "ORDERING ({auth}, wrong secret): the enablement is {} after a failed caller, want enabled",
            status["state"]
        )
    });
}

#[test]
fn wrong_secret_with_ncp_in_the_same_write_never_gets_ip() {
    let _serial = one_at_a_time();
    let Some((lab, mut r)) = Lab::with_report(
        "atk-order",
        "wrong_secret_with_ncp_in_the_same_write_never_gets_ip",
    ) else {
        return;
    };
    let cl = console_listeners(&lab);
    let l1 = lpar_listeners(&lab.lpar1);
    let chap = lab.state("chap");
    let (user, secret) = lab.enable_lpar1(&chap, true, "chap", &[]);
    wrong_secret_attack(&mut r, &lab, &chap, &user, "CHAP", &[&cl, &l1]);
    let pap = lab.state("pap");
    let (pap_user, _) = lab.enable_lpar1(&pap, true, "pap", &[]);
    wrong_secret_attack(&mut r, &lab, &pap, &pap_user, "PAP", &[&cl, &l1]);

    // The right secret, the same premature frames in the same write: they
    // are discarded, and IPCP then negotiates as usual.
    let (me, console_ip, alias) = (ip4("10.99.0.2"), ip4("10.99.0.1"), ip4("10.99.0.11"));
    if lab.status(&chap)["state"] != "enabled" {
        r.note("re-enabled for the right-secret run: the wrong-secret run used the call up");
    }
    let (user, secret) = if lab.status(&chap)["state"] == "enabled" {
        (user, secret)
    } else {
        lab.enable_lpar1(&chap, true, "chap", &[])
    };
    let mut h = Hostile::new(&user, secret.as_bytes());
    let mut console = lab.answer(&chap, h.device_str(), &ifname_template());
    console
        .wait_event("connect", Duration::from_secs(15))
        .unwrap_or_else(|| panic!("console did not open its line: {:?}", console.seen));
    let udp0 = l1.count(Family::V4, L4::Udp, LPAR_PORT);
    let cudp0 = cl.count(Family::V4, L4::Udp, 2300);
    h.piggyback_on_auth(premature_frames(me, console_ip, alias));
    h.start();
    let ev = pump_for_event(
        &mut h,
        &mut console,
        "ip-interface",
        Duration::from_secs(30),
    );
    let up = ev.is_some() && h.pump_until(Duration::from_secs(10), |h| h.ip_up());
    // Let any renegotiation the premature frames set off play out.
    h.pump(Duration::from_secs(4));
    drain(&mut console);
    let ipcp = console_ipcp(&h);
    let answered_premature: Vec<(u8, u8)> = ipcp
        .iter()
        .filter(|(_, id)| *id == PREMATURE_ID)
        .copied()
        .collect();
    let ups = console.events_named("ipcp-up").count();
    let downs = console.events_named("ipcp-down").count();
    let premature_udp = l1.count(Family::V4, L4::Udp, LPAR_PORT) - udp0
        + cl.count(Family::V4, L4::Udp, 2300)
        - cudp0;
    r.row(
        "ordering",
        "CHAP right secret + IPCP + IP in one write",
        6,
        answered_premature.len(),
        &format!(
            "console IPCP packets (code, id) {ipcp:?}; ipcp-up {ups}, ipcp-down {downs}; write {:?}",
            h.piggyback_write
        ),
    );
    r.check(up, || {
        format!(
            "ORDERING (right secret): the call did not come up after premature NCP frames: console {:?}",
            console.seen
        )
    });
    r.check(answered_premature.is_empty(), || {
        format!(
            "ORDERING (right secret): the console answered the IPCP Configure-Request that came in the same write as the CHAP Response: {answered_premature:?}"
        )
    });
    r.check(ups == 1 && downs == 0, || {
        format!(
            "ORDERING (right secret): premature IPCP frames were negotiated: the console's IPCP went up {ups} times and down {downs} times"
        )
    });
    r.check(premature_udp == 0, || {
        format!("ORDERING (right secret): {premature_udp} datagrams sent before authentication finished arrived")
    });
    if up {
        let mut call = Call {
            console,
            caller: h,
            local: console_ip,
            remote: me,
            ifname: String::new(),
        };
        // The call carries IP: the console's ssh port answers (a port
        // open with and without a working firewall, so this judges the
        // ordering alone; the partition's NAT is tested elsewhere).
        let t0 = Instant::now();
        let s = call.caller.tcp_scan(me, console_ip, &[22]);
        r.scan("ipv4/tcp", &s, t0.elapsed());
        r.check(s.open.contains(&22), || {
            format!(
                "ORDERING (right secret): the call does not carry IP afterwards: {console_ip}:22 {}",
                s.answers()
            )
        });
        hang_up(&mut r, &mut call);
    }
    r.finish();
}

// ---- IPv6 (inbound enable --ipv6) ----

/// Listening on the console over IPv6 (and IPv4) beside the service
/// ports and [`DECOYS`], never to be reached: the service range's edges,
/// neighbours of the service ports and common services.
const V6_DECOYS: [u16; 10] = [21, 25, 443, 2124, 2126, 29999, 30010, 9091, 5353, 65535];

/// `addr`/64 on `dev` of `ns`, without duplicate address detection.
fn add_v6(ns: &Netns, addr: Ipv6Addr, dev: &str, what: &str) {
    let addr = format!("{addr}/64");
    ok(
        ns.run(&["ip", "-6", "addr", "add", &addr, "dev", dev, "nodad"]),
        what,
    );
}

fn v6_field(v: &Value, key: &str) -> Ipv6Addr {
    v[key]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no IPv6 address {key:?} in {v}"))
}

/// IPv6 the console sent since index `from` of the caller's `ipv6_in`:
/// (answers, the kernel's own router solicitations and MLD reports).
fn v6_since(h: &Hostile, from: usize) -> (Vec<String>, Vec<String>) {
    let (own, answers): (Frames, Frames) = h.ipv6_in[from..]
        .iter()
        .partition(|(_, p)| hostile::ipv6_unsolicited(p));
    let text = |v: Frames| v.iter().map(|(p, d)| describe(*p, d)).collect::<Vec<_>>();
    (text(answers), text(own))
}

/// IPv4 frames among `got`, described.
fn v4_frames(got: &[(u16, Vec<u8>)]) -> Vec<String> {
    got.iter()
        .filter(|(p, d)| *p == proto::IPV4 && d.first().is_some_and(|b| b >> 4 == 4))
        .map(|(p, d)| describe(*p, d))
        .collect()
}

/// What `keys` of two counter snapshots moved by, as text (empty if
/// nothing did).
fn moved(
    who: &str,
    after: &BTreeMap<String, u64>,
    before: &BTreeMap<String, u64>,
    keys: &[&str],
) -> Vec<String> {
    keys.iter()
        .filter_map(|k| {
            let d = delta(after, before, k);
            (d > 0).then(|| format!("{who} {k} +{d}"))
        })
        .collect()
}

/// The console's link-local address from the caller's: the full TCP
/// range, the UDP sample and ping; only `want` open, and only the V6
/// listeners of those ports counting.
fn console_ports6(
    r: &mut Report,
    lab: &Lab,
    call: &mut Call,
    listeners: &Listeners,
    (me, console): (Ipv6Addr, Ipv6Addr),
    want: &BTreeSet<u16>,
) {
    let all: Vec<u16> = (1..=65535).collect();
    let who = " (IPv6)";
    console_scans(r, lab, call, listeners, (me, console), &all, want, who);
    let c0 = snmp6(&lab.console);
    let n = call.caller.ping(me, console, 3);
    let echos = delta(&snmp6(&lab.console), &c0, "Icmp6InEchos");
    r.row(
        "ipv6/icmp",
        &format!("echo [{console}]"),
        3,
        n.into(),
        &format!("console Icmp6InEchos +{echos}"),
    );
    r.check(n == 0 && echos == 0, || {
        format!("PORT LIST{who}: ICMPv6 echo to [{console}] got past the firewall ({n}/3 replies, Icmp6InEchos +{echos}): only TCP/UDP service ports are allowed")
    });
}

/// What a phase compares against afterwards: the listeners' counts, the
/// console's and lpar1's counters (both families), the console's RX
/// packets on the call's interface, and how much IPv6 the caller had
/// received.
struct Before {
    ifname: String,
    listeners: Vec<Counts>,
    console: BTreeMap<String, u64>,
    lpar1: BTreeMap<String, u64>,
    rx: u64,
}

/// The counters a spoofed or misdirected IPv6 probe must not move.
const V6_KEYS: [&str; 4] = [
    "Tcp.InSegs",
    "Udp6InDatagrams",
    "Udp6NoPorts",
    "Icmp6InEchos",
];

impl Before {
    fn take(lab: &Lab, ifname: &str, listeners: &[&Listeners]) -> Before {
        Before {
            ifname: ifname.to_string(),
            listeners: snapshots(listeners),
            console: snmp46(&lab.console),
            lpar1: snmp46(&lab.lpar1),
            rx: link_counters(&lab.console, ifname).0,
        }
    }

    /// How many packets the call's interface received since.
    fn rx_since(&self, lab: &Lab) -> u64 {
        link_counters(&lab.console, &self.ifname).0 - self.rx
    }

    /// What `listeners` (those taken) counted since.
    fn counted(&self, listeners: &[&Listeners]) -> Vec<String> {
        counted_since(listeners, &self.listeners)
    }

    /// The console's and lpar1's `keys` that moved since.
    fn arrived(&self, lab: &Lab, keys: &[&str]) -> Vec<String> {
        let mut arrived = moved("console", &snmp46(&lab.console), &self.console, keys);
        arrived.extend(moved("lpar1", &snmp46(&lab.lpar1), &self.lpar1, keys));
        arrived
    }
}

/// What the console sent since index `from` of the caller's `ipv6_in`,
/// not of its own, and the IPv4 among `got`: answers, described.
fn answers_since(h: &Hostile, from: usize, got: &[(u16, Vec<u8>)]) -> Vec<String> {
    let (mut answers, _) = v6_since(h, from);
    answers.extend(v4_frames(got));
    answers
}

/// SYNs, datagrams and echo requests from IPv6 addresses that are not
/// the caller's, to the console's open service ports: nothing comes
/// back, nothing reaches even the console's interface.
fn spoof6_phase(
    r: &mut Report,
    lab: &Lab,
    call: &mut Call,
    sources: &[Ipv6Addr],
    console: Ipv6Addr,
    listeners: &[&Listeners],
) {
    let ifname = call.ifname.clone();
    let h = &mut call.caller;
    let sport = h.fresh_port();
    let ports = [22u16, 2300, 9090, 30009];
    let before = Before::take(lab, &ifname, listeners);
    let from = h.ipv6_in.len();
    let targets = ports.map(|p| (console, p));
    let frames = spoof_frames(sources, &targets, sport, Some((console, 0x5e5e)));
    h.send_frames(&frames);
    let got = h.pump(FINAL_WAIT);
    std::thread::sleep(Duration::from_millis(100));
    let rx = before.rx_since(lab);
    let answers = answers_since(h, from, &got);
    let counted = before.counted(listeners);
    let arrived = before.arrived(lab, &V6_KEYS);
    r.row(
        "ipv6 spoofed",
        &format!("from {} to [{console}]:{}", joined(sources), joined(ports)),
        frames.len(),
        answers.len(),
        &format!(
            "{ifname} RX +{rx}{}",
            if arrived.is_empty() {
                String::new()
            } else {
                format!("; {}", arrived.join(", "))
            }
        ),
    );
    spoof_checks(r, " (IPv6)", &answers, &counted, &arrived);
    r.check(rx == 0, || {
        format!(
            "SPOOF (IPv6): {rx} spoofed packets reached {ifname} (the plane passes sources other than the caller's link-local address)"
        )
    });
}

/// From the caller's own link-local address to everything but the
/// console's: TCP, UDP and ICMPv6 echo each; nothing answers, not even
/// with an ICMPv6 error, and nothing arrives anywhere.
fn other_dst6_phase(
    r: &mut Report,
    lab: &Lab,
    call: &mut Call,
    me: Ipv6Addr,
    targets: &[(Ipv6Addr, String)],
    listeners: &[&Listeners],
) {
    let ifname = call.ifname.clone();
    let h = &mut call.caller;
    let before = Before::take(lab, &ifname, listeners);
    let mut all_answers = Vec::new();
    for (i, (dst, why)) in targets.iter().enumerate() {
        let sport = h.fresh_port();
        let from = h.ipv6_in.len();
        let frame = |p: Vec<u8>| (proto::IPV6, p);
        let mut frames: Vec<_> = [22, 2300, LPAR_PORT]
            .map(|port| frame(hostile::tcp_syn(me, sport, *dst, port)))
            .into();
        frames.extend(
            [22, 9090, LPAR_PORT]
                .map(|port| frame(hostile::udp(me, sport, *dst, port, b"carrier-attack"))),
        );
        frames.push(frame(hostile::icmp6_echo(me, *dst, 0x7e7e, i as u16 + 1)));
        h.send_frames(&frames);
        let got = h.pump(Duration::from_millis(600));
        let answers = answers_since(h, from, &got);
        r.row(
            "ipv6 other dst",
            &format!("[{dst}] ({why})"),
            frames.len(),
            answers.len(),
            &answers.join("; "),
        );
        all_answers.extend(answers.into_iter().map(|a| format!("[{dst}]: {a}")));
    }
    let got = h.pump(FINAL_WAIT);
    all_answers.extend(v4_frames(&got));
    // Late answers (after their target's turn) are answers all the same.
    std::thread::sleep(Duration::from_millis(100));
    let rx = before.rx_since(lab);
    let counted = before.counted(listeners);
    let mut keys = V6_KEYS.to_vec();
    keys.extend([
        "Icmp6OutDestUnreachs",
        "Icmp6OutEchoReplies",
        "Ip6OutNoRoutes",
    ]);
    let arrived = before.arrived(lab, &keys);
    r.note(format!(
        "IPv6 to other destinations: {ifname} RX +{rx} (the plane passes the caller's source; the firewall drops them){}",
        if arrived.is_empty() {
            "; no counter of the console or lpar1 moved".to_string()
        } else {
            format!("; {}", arrived.join(", "))
        }
    ));
    r.check(all_answers.is_empty(), || {
        format!("IPV6 DESTINATION: the console answered IPv6 to destinations other than its link-local address: {all_answers:?}")
    });
    r.check(counted.is_empty(), || {
        format!("IPV6 DESTINATION: listeners counted IPv6 to other destinations: {counted:?}")
    });
    r.check(arrived.is_empty(), || {
        format!(
            "IPV6 DESTINATION: IPv6 to other destinations got past the console's firewall: {arrived:?}"
        )
    });
}

/// The caller's IPv6, framed as 0x0021: never delivered (the link drops
/// a datagram whose header names another family than its frame).
fn v6_in_v4_frames(
    r: &mut Report,
    lab: &Lab,
    call: &mut Call,
    (me, console): (Ipv6Addr, Ipv6Addr),
    listeners: &Listeners,
) {
    let ifname = call.ifname.clone();
    let h = &mut call.caller;
    let sport = h.fresh_port();
    let before = listeners.snapshot();
    let (rx0, _) = link_counters(&lab.console, &ifname);
    let from = h.ipv6_in.len();
    let frames = vec![
        (proto::IPV4, hostile::tcp_syn(me, sport, console, 22)),
        (
            proto::IPV4,
            hostile::udp(me, sport, console, 2300, b"carrier-attack"),
        ),
        (proto::IPV4, hostile::icmp6_echo(me, console, 0x2121, 1)),
    ];
    h.send_frames(&frames);
    let got = h.pump(Duration::from_secs(1));
    std::thread::sleep(Duration::from_millis(100));
    let (rx1, _) = link_counters(&lab.console, &ifname);
    let answers = answers_since(h, from, &got);
    let counted = listeners.since(&before);
    r.row(
        "ipv6 in 0x0021",
        &format!("[{console}]:22,2300 + echo"),
        frames.len(),
        answers.len(),
        &format!("{ifname} RX +{}", rx1 - rx0),
    );
    r.check(answers.is_empty() && counted.is_empty() && rx1 == rx0, || {
        format!(
            "IPV6: IPv6 inside 0x0021 frames was delivered: answers {answers:?}, listeners {counted:?}, {ifname} RX +{}",
            rx1 - rx0
        )
    });
}

#[test]
fn ipv6_allowed_opens_exactly_the_port_list_and_only_from_the_caller() {
    let _serial = one_at_a_time();
    let Some((lab, mut r)) = Lab::with_report(
        "atk-v6",
        "ipv6_allowed_opens_exactly_the_port_list_and_only_from_the_caller",
    ) else {
        return;
    };
    let state = lab.state("state");
    let (user, secret) = lab.enable_lpar1(&state, true, "chap", &["--ipv6"]);
    r.check(lab.status(&state)["ipv6"] == true, || {
        format!(
            "HARNESS: the enablement does not record --ipv6: {}",
            lab.status(&state)
        )
    });
    // The console's and lpar1's LAN get IPv6 addresses of their own: to
    // be unreachable from the call like the link-local ones.
    let pid = std::process::id() % 100000;
    let (lan1_if, lan2_if, lpar1_if) = (format!("c1{pid}"), format!("c2{pid}"), format!("l1{pid}"));
    let (lan1_v6, lpar1_v6): (Ipv6Addr, Ipv6Addr) = (
        "fd00:51::1".parse().unwrap(),
        "fd00:51::11".parse().unwrap(),
    );
    add_v6(&lab.console, lan1_v6, &lan1_if, "console LAN IPv6 address");
    add_v6(&lab.lpar1, lpar1_v6, &lpar1_if, "lpar1 IPv6 address");
    let cl = console_listeners_with(&lab, &V6_DECOYS);
    let l1 = lpar_listeners(&lab.lpar1);
    let l2 = lpar_listeners(&lab.lpar2);

    let (mut call, ev, iface6) = call_up_v6_ready(&lab, &state, &user, &secret);
    let (console_ll, caller_ll) = (v6_field(&ev, "local_ll"), v6_field(&ev, "peer_ll"));
    r.note(format!(
        "call up on {} ({} -> {}), IPv6 [{caller_ll}] -> [{console_ll}] (ipv6cp-up local {}, peer {}); {}",
        call.ifname,
        call.remote,
        call.local,
        ev["local"],
        ev["peer"],
        iface6.as_ref().map(|v| v["detail"].to_string()).unwrap_or_default()
    ));
    r.note(format!("nft tables: {:?}", nft_tables(&lab.console)));
    r.check(
        call.caller.local6 == Some(caller_ll) && call.caller.peer6 == Some(console_ll),
        || {
            format!(
                "HARNESS: the caller's IPv6CP agreed on ours {:?} / the console's {:?}, the console's ipv6cp-up on peer {caller_ll} / local {console_ll}",
                call.caller.local6, call.caller.peer6
            )
        },
    );
    let lls = link_local(&lab.console, &call.ifname);
    r.check(lls == [console_ll], || {
        format!(
            "IPV6 ADDRESS: {} holds link-local addresses {lls:?}, want only the one IPv6CP agreed on, {console_ll}",
            call.ifname
        )
    });
    let me = caller_ll;

    // 1. The port list, over IPv6, from the caller's address.
    console_ports6(
        &mut r,
        &lab,
        &mut call,
        &cl,
        (me, console_ll),
        &service_set(),
    );
    // 2. IPv4 still held as before, now that the table was rebuilt with
    //    IPv6 in it.
    console_ports(
        &mut r,
        &lab,
        &mut call,
        &cl,
        &port_list(),
        &service_set(),
        " (IPv6 up)",
    );
    lpar1_reachable(&mut r, &lab, &mut call, &l1);
    // 3. Other sources.
    let sources: Vec<Ipv6Addr> = [
        "fe80::bad:1",
        "fe80::1",
        "2001:db8::66",
        "fd00:51::77",
        "::1",
        "::",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .chain([console_ll])
    .filter(|a| *a != me)
    .collect();
    spoof6_phase(
        &mut r,
        &lab,
        &mut call,
        &sources,
        console_ll,
        &[&cl, &l1, &l2],
    );
    // 4. Other destinations.
    let mut targets: Vec<(Ipv6Addr, String)> = vec![
        ("ff02::1".parse().unwrap(), "all nodes".into()),
        ("ff02::2".parse().unwrap(), "all routers".into()),
        (
            "fe80::dead:beef".parse().unwrap(),
            "unassigned link-local".into(),
        ),
        (lan1_v6, format!("the console's on {lan1_if}")),
        (lpar1_v6, "lpar1's, partitions not over IPv6".into()),
        (
            "2001:db8::1".parse().unwrap(),
            "a global address nobody has".into(),
        ),
        ("::1".parse().unwrap(), "loopback".into()),
        (me, "the caller's own".into()),
    ];
    for ifname in [&lan1_if, &lan2_if] {
        for a in link_local(&lab.console, ifname) {
            targets.push((a, format!("the console's link-local on {ifname}")));
        }
    }
    for a in link_local(&lab.lpar1, &lpar1_if) {
        targets.push((a, "lpar1's link-local".into()));
    }
    other_dst6_phase(&mut r, &lab, &mut call, me, &targets, &[&cl, &l1, &l2]);
    // 5. The caller's IPv6 in the other family's frames.
    v6_in_v4_frames(&mut r, &lab, &mut call, (me, console_ll), &cl);

    let (_, own) = v6_since(&call.caller, 0);
    let mut own_kinds = own.clone();
    own_kinds.sort();
    own_kinds.dedup();
    r.note(format!(
        "IPv6 packets of the console's own over the call (not answers): {} {own_kinds:?}",
        own.len()
    ));
    call_figures(&mut r, &lab, &call);
    hang_up(&mut r, &mut call);
    r.finish();
}

#[test]
fn ipv6_not_enabled_rejects_ipv6cp_and_carries_no_ipv6() {
    let _serial = one_at_a_time();
    let Some((lab, mut r)) = Lab::with_report(
        "atk-nov6",
        "ipv6_not_enabled_rejects_ipv6cp_and_carries_no_ipv6",
    ) else {
        return;
    };
    let state = lab.state("state");
    let (user, secret) = lab.enable_lpar1(&state, true, "chap", &[]);
    let cl = console_listeners(&lab);
    let mut call = call_up_v6(&lab, &state, &user, &secret);
    // Let the caller's IPv6CP ask a few times.
    call.caller.pump(Duration::from_secs(3));
    drain(&mut call.console);
    let ipv6cp =
        |frames: &[(u16, Vec<u8>)]| frames.iter().filter(|(p, _)| *p == proto::IPV6CP).count();
    let asked = ipv6cp(&call.caller.control_out);
    let rejected = ipv6cp(&call.caller.protocol_rejects);
    let answered = ipv6cp(&call.caller.control_in);
    let ups = call.console.events_named("ipv6cp-up").count();
    let lls = link_local(&lab.console, &call.ifname);
    r.row(
        "ipv6cp",
        "Configure-Requests to a console without --ipv6",
        asked,
        answered,
        &format!(
            "{rejected} Protocol-Rejects of 0x8057; console ipv6cp-up {ups}; {} link-local {lls:?}",
            call.ifname
        ),
    );
    r.check(asked > 0, || {
        "HARNESS: the caller never sent an IPv6CP Configure-Request".to_string()
    });
    r.check(rejected > 0, || {
        format!("IPV6CP: {asked} IPv6CP Configure-Requests and no Protocol-Reject of 0x8057")
    });
    r.check(answered == 0 && ups == 0 && !call.caller.ipv6_up(), || {
        format!(
            "IPV6CP: the console ran IPv6CP without --ipv6 in the enablement: {answered} IPv6CP packets to the caller, ipv6cp-up {ups}, caller IPv6 up {}",
            call.caller.ipv6_up()
        )
    });
    r.check(lls.is_empty(), || {
        format!(
            "IPV6: {} has link-local addresses {lls:?} on a call without IPv6",
            call.ifname
        )
    });
    ipv6_phase(&mut r, &lab, &mut call, &cl);
    no_ipv6_out(&mut r, &call);
    // The call carries IPv4 all the same.
    let (me, console) = (call.remote, call.local);
    let t0 = Instant::now();
    let s = call.caller.tcp_scan(me, console, &[22, 80]);
    r.scan("ipv4/tcp", &s, t0.elapsed());
    r.check(s.open == [22].into(), || {
        format!(
            "PORT LIST: with IPv6CP rejected, {console}: {}, want exactly 22 of 22,80",
            s.answers()
        )
    });
    hang_up(&mut r, &mut call);
    r.finish();
}

// ---- the host's firewall reloaded mid-call ----

/// `nft flush ruleset` in the console, as a reload of the host's
/// firewall does; waits until the console has put its table back.
fn flush_ruleset(r: &mut Report, lab: &Lab, call: &mut Call, n: u64) -> Option<Value> {
    ok(
        lab.console.run(&["nft", "flush", "ruleset"]),
        "nft flush ruleset",
    );
    let ev = pump_for_event_where(
        &mut call.caller,
        &mut call.console,
        "firewall-restored",
        Duration::from_secs(10),
        |v| v["repairs"] == n,
    );
    r.check(ev.is_some(), || {
        format!("RELOAD: after flush {n}, no firewall-restored event with repairs {n}: {ev:?}")
    });
    let tables = nft_tables(&lab.console);
    let want = format!("inet {}", table_for(&call.ifname));
    r.check(tables.contains(&want), || {
        format!("RELOAD: after flush {n}, the call's table is not back: {tables:?}")
    });
    ev
}

/// The console's scans over both families before and after a reload.
#[allow(clippy::too_many_arguments)]
fn scans_both(
    r: &mut Report,
    lab: &Lab,
    call: &mut Call,
    cl: &Listeners,
    l1: &Listeners,
    lls: (Ipv6Addr, Ipv6Addr),
    want: &BTreeSet<u16>,
    who: &str,
) {
    let (console_ll, caller_ll) = lls;
    let (me, console) = (call.remote, call.local);
    console_scans(r, lab, call, cl, (me, console), &port_list(), want, who);
    let w6 = format!("{who} (IPv6)");
    console_scans(
        r,
        lab,
        call,
        cl,
        (caller_ll, console_ll),
        &port_list(),
        want,
        &w6,
    );
    let n = call.caller.ping(me, console, 2);
    r.row(
        "ipv4/icmp",
        &format!("echo {console}{who}"),
        2,
        n.into(),
        "",
    );
    r.check(n == 0, || format!("RELOAD{who}: the console answers ping"));
    lpar1_reachable(r, lab, call, l1);
}

/// Tests 8 and 9: the host flushes its ruleset during the call. The
/// reachable set, over IPv4 and IPv6, is the same after as before: the
/// call's own policy held, and its table is back (counted). A host that
/// keeps flushing ends the call, with an event and exit 1, and nothing of
/// it left behind.
fn reload_mid_call(name: &'static str, tag: &str, console_access: bool) {
    let Some((lab, mut r)) = Lab::with_report(tag, name) else {
        return;
    };
    let state = lab.state("state");
    let (user, secret) = lab.enable_lpar1(&state, console_access, "chap", &["--ipv6"]);
    let cl = console_listeners(&lab);
    let l1 = lpar_listeners(&lab.lpar1);
    let (mut call, ev, _) = call_up_v6_ready(&lab, &state, &user, &secret);
    let lls = (v6_field(&ev, "local_ll"), v6_field(&ev, "peer_ll"));
    let want = if console_access {
        service_set()
    } else {
        BTreeSet::new()
    };
    for when in [" before the reload", " after the reload"] {
        if when.contains("after") {
            let t0 = Instant::now();
            flush_ruleset(&mut r, &lab, &mut call, 1);
            r.note(format!(
                "flush 1 repaired within {:.0} ms",
                t0.elapsed().as_secs_f64() * 1000.0
            ));
        }
        scans_both(&mut r, &lab, &mut call, &cl, &l1, lls, &want, when);
    }
    // A stray rule in the call's table is taken out just the same.
    let table = table_for(&call.ifname);
    ok(
        lab.console
            .run(&["nft", "insert", "rule", "inet", &table, "input", "accept"]),
        "nft insert rule",
    );
    let changed = pump_for_event_where(
        &mut call.caller,
        &mut call.console,
        "firewall-restored",
        Duration::from_secs(10),
        |v| v["repairs"] == 2,
    );
    r.check(
        changed.as_ref().is_some_and(|v| v["found"] == "changed"),
        || format!("RELOAD: an accept rule inserted in {table} was not taken out: {changed:?}"),
    );
    // Keep at it, and the call ends.
    // Two repairs so far; MAX_REPAIRS (5) in a minute are borne, the
    // next flush is not.
    let mut n = 2;
    let lost = loop {
        ok(
            lab.console.run(&["nft", "flush", "ruleset"]),
            "nft flush ruleset",
        );
        n += 1;
        let end = Instant::now() + Duration::from_secs(10);
        let mut ev = None;
        while ev.is_none() && Instant::now() < end {
            ev = pump_for_event_where(
                &mut call.caller,
                &mut call.console,
                "firewall-restored",
                Duration::from_millis(50),
                |v| v["repairs"] == n,
            )
            .or_else(|| {
                call.console
                    .wait_event("firewall-lost", Duration::from_millis(1))
            });
        }
        match ev {
            Some(v) if v["event"] == "firewall-restored" && n < 10 => {}
            other => break other,
        }
    };
    r.check(
        lost.as_ref().is_some_and(|v| v["event"] == "firewall-lost"),
        || format!("RELOAD: after {n} flushes, no firewall-lost: {lost:?}"),
    );
    let code = pump_until_exit(&mut call.caller, &mut call.console, Duration::from_secs(20));
    r.note(format!(
        "flushed {n} times: {lost:?}; console exit {code:?}"
    ));
    r.check(code == Some(1), || {
        format!("RELOAD: the console kept flushing exited {code:?}, want 1")
    });
    let stats = call.console.events_named("stats").last().cloned();
    let policy = stats
        .as_ref()
        .map(|s| s["ip"]["policy"].clone())
        .unwrap_or(Value::Null);
    r.note(format!("the call's policy: {policy}"));
    let from = &policy["from-caller"];
    let dropped_at_console = if console_access {
        "port"
    } else {
        "console-closed"
    };
    r.check(from[dropped_at_console].as_u64().unwrap_or(0) > 1000, || {
        format!("RELOAD: the call's own policy did not drop the scans ({dropped_at_console}): {policy}")
    });
    let tables = nft_tables(&lab.console);
    r.check(
        !tables.iter().any(|t| t.starts_with("carrier_inbound")),
        || format!("LEFTOVERS: after the call gave up: {tables:?}"),
    );
    r.finish();
}

#[test]
fn a_firewall_reload_mid_call_with_console_access_changes_nothing() {
    let _serial = one_at_a_time();
    reload_mid_call(
        "a_firewall_reload_mid_call_with_console_access_changes_nothing",
        "atk-rl-on",
        true,
    );
}

#[test]
fn a_firewall_reload_mid_call_without_console_access_changes_nothing() {
    let _serial = one_at_a_time();
    reload_mid_call(
        "a_firewall_reload_mid_call_without_console_access_changes_nothing",
        "atk-rl-off",
        false,
    );
}

// ---- a flow left from an earlier call ----

/// Test 10: a TCP connection to a console listener, opened in call 1 (with
/// console access), outlives call 1 on the console's side. Call 2, from
/// the same address but enabled without console access, resumes it with
/// the right sequence numbers: no segment reaches the listener, none is
/// answered.
#[test]
fn a_tcp_session_from_an_earlier_call_does_not_carry_over() {
    let _serial = one_at_a_time();
    let Some((lab, mut r)) = Lab::with_report(
        "atk-carry",
        "a_tcp_session_from_an_earlier_call_does_not_carry_over",
    ) else {
        return;
    };
    let held = support::listen::Held::start(lab.console.name(), 22);
    let state = lab.state("state");
    let (user, secret) = lab.enable_lpar1(&state, true, "chap", &[]);
    let mut call = call_up(&lab, &state, &user, &secret, &ifname_template());
    let (me, console) = (call.remote, call.local);
    let sport = call.caller.fresh_port();
    let isn = 0x1000_0000u32;
    call.caller
        .send_ip::<Ipv4Addr>(&hostile::tcp(me, sport, console, 22, isn, 0, 0x02));
    let mut server_isn = None;
    let end = Instant::now() + Duration::from_secs(5);
    while server_isn.is_none() && Instant::now() < end {
        for (_, p) in call.caller.pump_some(Duration::from_millis(100)) {
            if let Some(t) = hostile::parse_tcp4(&p) {
                if t.sport == 22
                    && t.dport == sport
                    && t.flags & hostile::SYN_ACK == hostile::SYN_ACK
                {
                    server_isn = Some(t.seq);
                }
            }
        }
    }
    let y = server_isn.expect("the console's listener did not answer the SYN in call 1");
    let (seq, ack) = (isn.wrapping_add(1), y.wrapping_add(1));
    call.caller.send_ip::<Ipv4Addr>(&hostile::tcp(
        me,
        sport,
        console,
        22,
        seq,
        ack,
        hostile::ACK,
    ));
    let hello = b"hello";
    call.caller.send_ip::<Ipv4Addr>(&hostile::tcp_data(
        me,
        sport,
        console,
        22,
        (seq, ack, hostile::ACK | 0x08),
        hello,
    ));
    let end = Instant::now() + Duration::from_secs(5);
    while held.counts().1 < hello.len() as u64 && Instant::now() < end {
        call.caller.pump_some(Duration::from_millis(50));
    }
    let in_call1 = held.counts();
    r.row(
        "ipv4/tcp",
        "session to :22 in call 1",
        1,
        in_call1.0 as usize,
        &format!("{} octets reached the listener", in_call1.1),
    );
    assert_eq!(
        in_call1,
        (1, hello.len() as u64),
        "HARNESS: the session did not reach the listener in call 1"
    );
    hang_up(&mut r, &mut call);
    drop(call);

    // Call 2: same addresses, no console access.
    let (user, secret) = lab.enable_lpar1(&state, false, "chap", &[]);
    let mut call = call_up(&lab, &state, &user, &secret, &ifname_template());
    assert_eq!((call.remote, call.local), (me, console));
    let seq = seq.wrapping_add(hello.len() as u32);
    let again = b"again, from call 2";
    let mut answered = Vec::new();
    for (i, flags) in [hostile::ACK | 0x08, hostile::ACK, hostile::ACK | 0x01]
        .into_iter()
        .enumerate()
    {
        let data: &[u8] = if i == 0 { again } else { &[] };
        call.caller.send_ip::<Ipv4Addr>(&hostile::tcp_data(
            me,
            sport,
            console,
            22,
            (seq, ack, flags),
            data,
        ));
        for (_, p) in call.caller.pump(Duration::from_secs(1)) {
            if let Some(t) = hostile::parse_tcp4(&p) {
                if t.sport == 22 && t.dport == sport {
                    answered.push(format!("{:#04x} seq {} ack {}", t.flags, t.seq, t.ack));
                }
            }
        }
    }
    let in_call2 = held.counts();
    r.row(
        "ipv4/tcp",
        "same session in call 2",
        3,
        answered.len(),
        &format!(
            "{} more octets reached the listener",
            in_call2.1 - in_call1.1
        ),
    );
    r.check(in_call2 == in_call1, || {
        format!("CARRY-OVER: call 2 resumed call 1's session: the listener went from {in_call1:?} to {in_call2:?} (connections, octets)")
    });
    r.check(answered.is_empty(), || {
        format!(
            "CARRY-OVER: the console answered call 2's segments of call 1's session: {answered:?}"
        )
    });
    hang_up(&mut r, &mut call);
    let stats = call.console.events_named("stats").last().cloned();
    let closed = stats
        .as_ref()
        .and_then(|s| s["ip"]["policy"]["from-caller"]["console-closed"].as_u64())
        .unwrap_or(0);
    r.note(format!(
        "call 2's policy: {:?}",
        stats.map(|s| s["ip"].clone())
    ));
    r.check(closed >= 3, || {
        format!("CARRY-OVER: call 2's policy counted {closed} datagrams to the closed console, want the 3 segments")
    });
    r.finish();
}
