//! The inbound service call's boundary, attacked as a hostile caller
//! would: the caller is this process, on the master side of a PTY whose
//! slave the console's `carrier answer --inbound --direct` opens, with
//! carrier's own PPP core as its client (hostile.rs) and free to write
//! any frame it likes. The console runs in the lab's namespace `console`
//! (lab.rs), with veths to `lpar1` (192.168.51.11) and `lpar2`
//! (192.168.52.12), and in-process listeners counting what arrives
//! (listen.rs).
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
//! `CARRIER_ATTACK_IFNAME` overrides the console's `--ifname` (default
//! the template `cin%d`), to look past one hole at the others.

pub mod call;
pub mod probe;
pub mod report;
pub mod spoof;
pub mod v6;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;

use crate::support::carrier::Carrier;
use crate::support::lab::{Lab, CALLER_PPP, CONSOLE_PPP, LPAR1};
use report::Report;

/// One attack at a time, whatever the harness's thread count: a scan
/// classifies "dropped" by silence, and two full scans sharing two cores
/// could turn a slow answer into silence.
pub fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub const SERVICE_PORTS: [u16; 17] = [
    22, 23, 2125, 2300, 9090, 9735, 9940, 30000, 30001, 30002, 30003, 30004, 30005, 30006, 30007,
    30008, 30009,
];

/// Listening on the console too, never to be reached.
pub const DECOYS: [u16; 4] = [80, 8080, 53, 7];

pub const LPAR_PORT: u16 = 7777;

pub fn ip4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

pub fn service_set() -> BTreeSet<u16> {
    SERVICE_PORTS.into_iter().collect()
}

/// The console's `--ifname`: a template the kernel numbers.
pub fn ifname_template() -> String {
    std::env::var("CARRIER_ATTACK_IFNAME").unwrap_or_else(|_| "cin%d".to_string())
}

/// The fixed UDP sample plus 20 more ports, the same every run.
pub fn udp_sample() -> Vec<u16> {
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
pub fn port_list() -> Vec<u16> {
    let mut v: BTreeSet<u16> = (1..=1024).collect();
    v.extend(SERVICE_PORTS);
    v.extend(DECOYS);
    v.extend([2124, 2126, 29999, 30010, 65535]);
    v.into_iter().collect()
}

/// The attack's ways with the lab.
impl Lab {
    /// The hosts and a test's report (None: no root, skipped).
    pub fn with_report(tag: &str, name: &'static str) -> Option<(Lab, Report)> {
        let lab = Lab::new(tag)?;
        lab.icmp_unlimited();
        Some((lab, Report::new(name)))
    }

    /// The usual enablement: the console 10.99.0.1, the caller
    /// 10.99.0.2, lpar1 allowed, authentication `auth`; `extra` options
    /// (`--ipv6`).
    pub fn enable_lpar1(
        &self,
        state: &Path,
        console_access: bool,
        auth: &str,
        extra: &[&str],
    ) -> (String, String) {
        let lpar1 = format!("lpar1={LPAR1}");
        let link = (CONSOLE_PPP, CALLER_PPP);
        let mut options = vec!["--auth", auth];
        options.extend(extra);
        self.enable(state, link, &lpar1, console_access, &options)
    }

    /// `carrier answer --inbound --direct` on `device`, in the console.
    pub fn answer(&self, state: &Path, device: &str, ifname: &str) -> Carrier {
        let locks = self.locks();
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
