//! What several pppd interop tests do around a call: TCP echoed through
//! the guest, a dial to pppd's PTY, and tshark over a capture.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::carrier::{Carrier, Netns};
use super::pppd::Pppd;

/// Starts an echo server on port 7000 in the guest, then sends
/// `keystrokes` (one octet a segment, 30 ms apart) and `data` through it
/// from `ns` and returns what came back.
pub fn echo_through(ns: &Netns, pppd: &Pppd, to: &str, keystrokes: &[u8], data: &[u8]) -> Vec<u8> {
    pppd.exec(
        "(socat -T 20 TCP-LISTEN:7000,reuseaddr EXEC:cat > /dev/null 2>&1 &) ; \
         for i in 1 2 3 4 5 6 7 8 9 10; do grep -q ':1B58 ' /proc/net/tcp && break; sleep 0.2; done",
        Duration::from_secs(10),
    )
    .expect("echo server started");
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns.name(),
            "socat",
            // -t: after stdin's EOF socat waits only 0.5 s for the rest
            // of the echo by default; one stalled segment is longer.
            "-t",
            "10",
            "-T",
            "5",
            "-",
            &format!("TCP:{to}:7000,connect-timeout=10"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for b in keystrokes {
        stdin.write_all(&[*b]).unwrap();
        stdin.flush().unwrap();
        std::thread::sleep(Duration::from_millis(30));
    }
    stdin.write_all(data).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap().stdout
}

/// tshark's summary lines of `pcap` for a display filter ("" for all).
pub fn tshark(pcap: &Path, filter: &str) -> String {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(pcap);
    if !filter.is_empty() {
        cmd.args(["-Y", filter]);
    }
    let out = cmd.output().expect("tshark (apt-get install tshark)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `carrier dial --direct` on pppd's PTY as alice (PAP password s3cret),
/// with `extra` options, in `ns` if given.
pub fn dial_pppd(ns: Option<&Netns>, pppd: &Pppd, extra: &[&str]) -> Carrier {
    let dev = pppd.device().to_str().unwrap().to_string();
    let mut args = vec![
        "dial",
        "--direct",
        "--device",
        &dev,
        "--user",
        "alice",
        "--password",
        "s3cret",
    ];
    args.extend_from_slice(extra);
    Carrier::spawn_in(ns.map(Netns::name), &args)
}

/// A call for the TCP tests: carrier in its own namespace (named after
/// `ifname`, TCP timestamps off there and in the guest, as on slow links:
/// VJ cannot compress segments whose options change) dialing pppd on its
/// PTY, with a capture. None when the peer is skipped.
pub struct TcpCall {
    // Dropped in this order: carrier, then the VM, then the namespace.
    pub carrier: Carrier,
    pub pppd: Pppd,
    pub ns: Netns,
    pub pcap: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

pub fn tcp_call(pppd: super::pppd::PppdOptions, ours: &[&str], ifname: &str) -> Option<TcpCall> {
    let ns = Netns::new(ifname)?;
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("call.pcap");
    assert!(ns
        .run(&["sysctl", "-qw", "net.ipv4.tcp_timestamps=0"])
        .status
        .success());
    let pppd = super::pppd::start_or_skip(
        pppd.pap_secrets("alice * s3cret *\n")
            .chap_secrets("alice server s3cret *\n"),
    )?;
    pppd.exec(
        "echo 0 > /proc/sys/net/ipv4/tcp_timestamps",
        Duration::from_secs(10),
    )
    .expect("guest sysctl");
    let dev = pppd.device().to_str().unwrap().to_string();
    let pcap_s = pcap.to_str().unwrap().to_string();
    let mut args: Vec<&str> = ours.to_vec();
    args.extend_from_slice(&[
        "--direct", "--device", &dev, "--ifname", ifname, "--pcap", &pcap_s,
    ]);
    let carrier = Carrier::spawn_in(Some(ns.name()), &args);
    Some(TcpCall {
        carrier,
        pppd,
        ns,
        pcap,
        _dir: dir,
    })
}
