//! Van Jacobson header compression (RFC 1144) against pppd 2.4.9, whose
//! kernel (slhc) compresses and decompresses the other end: both roles,
//! pppd's defaults, TCP echoed end to end and compared octet for octet.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::carrier::{secrets_file, Carrier, Netns};
use support::pppd::{start_or_skip, Pppd, PppdOptions};

fn log_of(pppd: &Pppd) -> String {
    format!("--- pppd log ---\n{}", pppd.log())
}

/// What goes through the echo: bulk lines and single keystrokes.
fn payload() -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..400 {
        v.extend_from_slice(
            format!("{i:05} <event severity=\"info\">call-home line</event>\n").as_bytes(),
        );
    }
    v
}

/// Starts an echo server on port 7000 in the guest, then sends `data`
/// through it from our namespace and returns what came back.
fn echo_through(ns: &Netns, pppd: &Pppd, to: &str, data: &[u8]) -> Vec<u8> {
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
    // Keystrokes first (one octet a segment, echoed), then bulk.
    for b in b"ls -l\n" {
        stdin.write_all(&[*b]).unwrap();
        stdin.flush().unwrap();
        std::thread::sleep(Duration::from_millis(30));
    }
    stdin.write_all(data).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    out.stdout
}

fn check_vj(stats: &Value, ipcp_up: &Value) {
    assert!(
        !ipcp_up["vj"]["tx"].is_null() && !ipcp_up["vj"]["rx"].is_null(),
        "{ipcp_up}"
    );
    let vj = &stats["link"]["vj"];
    assert!(vj["compressed_out"].as_u64().unwrap() > 10, "{vj}");
    assert!(vj["compressed_in"].as_u64().unwrap() > 10, "{vj}");
    assert!(vj["uncompressed_out"].as_u64().unwrap() >= 1, "{vj}");
    assert_eq!(vj["errors"], 0, "{vj}");
}

fn run(pppd_opts: &str, ours: &[&str], ifname: &str, peer_addr: &str) {
    let Some(ns) = Netns::new(ifname) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("vj.pcap");
    let pcap_s = pcap.to_str().unwrap().to_string();
    // RFC 1144 predates TCP timestamps: a segment whose options changed
    // goes uncompressed (pppd's slhc does the same), so slow links run
    // without them. Both ends here do.
    assert!(ns
        .run(&["sysctl", "-qw", "net.ipv4.tcp_timestamps=0"])
        .status
        .success());
    let Some(pppd) = start_or_skip(
        PppdOptions::from_str_args(pppd_opts)
            .pap_secrets("alice * s3cret *\n")
            .chap_secrets("alice server s3cret *\n"),
    ) else {
        return;
    };
    let dev = pppd.device().to_str().unwrap().to_string();
    let mut args: Vec<&str> = ours.to_vec();
    args.extend_from_slice(&[
        "--direct", "--device", &dev, "--ifname", ifname, "--pcap", &pcap_s,
    ]);
    let mut c = Carrier::spawn_in(Some(ns.name()), &args);
    let up = c
        .wait_event("ipcp-up", Duration::from_secs(30))
        .unwrap_or_else(|| panic!("no ipcp-up: {:?}\n{}", c.seen, log_of(&pppd)));
    // pppd agreed to VJ both ways, with its default 16 slots.
    assert!(
        pppd.wait_log("<compress VJ 0f 01>", Duration::from_secs(5)),
        "{}",
        log_of(&pppd)
    );
    pppd.exec(
        "echo 0 > /proc/sys/net/ipv4/tcp_timestamps",
        Duration::from_secs(10),
    )
    .expect("guest sysctl");
    let data = payload();
    let mut back = echo_through(&ns, &pppd, peer_addr, &data);
    let mut want = b"ls -l\n".to_vec();
    want.extend_from_slice(&data);
    if back != want {
        // The first datagram after IPCP opens can be lost in the guest:
        // TCP retransmits, but a connect may time out once. Try again.
        back = echo_through(&ns, &pppd, peer_addr, &data);
    }
    assert_eq!(back.len(), want.len(), "echoed length\n{}", log_of(&pppd));
    assert!(back == want, "echoed data differs");
    c.terminate();
    let stats = c
        .wait_event("stats", Duration::from_secs(15))
        .expect("stats");
    check_vj(&stats, &up);
    tshark_reads_vj(&pcap);
}

/// tshark dissects the capture's VJ frames, none malformed.
fn tshark_reads_vj(pcap: &std::path::Path) {
    let tshark = |extra: &[&str]| {
        let out = Command::new("tshark")
            .arg("-r")
            .arg(pcap)
            .args(extra)
            .output()
            .expect("tshark (apt-get install tshark)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let vj = tshark(&["-Y", "vjc"]);
    assert!(vj.lines().count() > 10, "no VJ frames dissected:\n{vj}");
    // A VJ frame tshark could not rebuild has no TCP layer and a warning;
    // TCP's own (a reset, a segment resent) is not the dissector's.
    let bad = tshark(&[
        "-Y",
        "_ws.malformed || (vjc && !tcp && _ws.expert.severity >= warning)",
    ]);
    assert!(bad.trim().is_empty(), "malformed frames:\n{bad}");
}

#[test]
fn carrier_dials_pppd_and_tcp_crosses_vj_compressed_both_ways() {
    run(
        "local passive noccp debug require-pap noipv6 10.80.0.1:10.80.0.2",
        &["dial", "--user", "alice", "--password", "s3cret"],
        "cvja0",
        "10.80.0.1",
    );
}

#[test]
fn pppd_dials_carrier_and_tcp_crosses_vj_compressed_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = secrets_file(
        dir.path(),
        "alice * s3cret *
",
    );
    run(
        "local noccp debug noauth noipv6 user alice password s3cret noipdefault",
        &[
            "answer",
            "--secrets",
            secrets.to_str().unwrap(),
            "--require-pap",
            "--local",
            "10.80.1.2",
            "--remote",
            "10.80.1.1",
        ],
        "cvjb0",
        "10.80.1.1",
    );
}

/// pppd's `novj` and ours: the option is rejected and IP flows plain.
#[test]
fn novj_on_either_side_leaves_ip_uncompressed() {
    let Some(pppd) = start_or_skip(
        PppdOptions::from_str_args(
            "local passive noccp debug require-pap noipv6 novj 10.80.2.1:10.80.2.2",
        )
        .pap_secrets("alice * s3cret *\n"),
    ) else {
        return;
    };
    let dev = pppd.device().to_str().unwrap().to_string();
    let mut c = Carrier::spawn(&[
        "dial",
        "--direct",
        "--device",
        &dev,
        "--user",
        "alice",
        "--password",
        "s3cret",
        "--no-tun",
    ]);
    let up = c
        .wait_event("ipcp-up", Duration::from_secs(30))
        .expect("ipcp-up");
    assert!(up["vj"]["tx"].is_null() && up["vj"]["rx"].is_null(), "{up}");
    assert!(pppd.wait_log("rcvd [IPCP ConfReq", Duration::from_secs(5)));
    assert!(
        pppd.wait_log("sent [IPCP ConfRej", Duration::from_secs(5)),
        "{}",
        log_of(&pppd)
    );
}
