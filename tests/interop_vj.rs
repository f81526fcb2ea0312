//! Van Jacobson header compression (RFC 1144) against pppd 2.4.9, whose
//! kernel (slhc) compresses and decompresses the other end: both roles,
//! pppd's defaults, TCP echoed end to end and compared octet for octet.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::carrier::secrets_file;
use support::guest::{dial_pppd, echo_through, tcp_call, tshark, TcpCall};
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
    // RFC 1144 predates TCP timestamps: a segment whose options changed
    // goes uncompressed (pppd's slhc does the same), so slow links run
    // without them. Both ends here do (tcp_call).
    let Some(call) = tcp_call(PppdOptions::from_str_args(pppd_opts), ours, ifname) else {
        return;
    };
    // Bound in this order so that they drop as the struct would:
    // carrier, then the VM, then the namespace.
    let TcpCall {
        ns,
        pcap,
        pppd,
        carrier: mut c,
        ..
    } = call;
    let up = c
        .wait_event("ipcp-up", Duration::from_secs(30))
        .unwrap_or_else(|| panic!("no ipcp-up: {:?}\n{}", c.seen, log_of(&pppd)));
    // pppd agreed to VJ both ways, with its default 16 slots.
    assert!(
        pppd.wait_log("<compress VJ 0f 01>", Duration::from_secs(5)),
        "{}",
        log_of(&pppd)
    );
    let data = payload();
    let mut back = echo_through(&ns, &pppd, peer_addr, b"ls -l\n", &data);
    let mut want = b"ls -l\n".to_vec();
    want.extend_from_slice(&data);
    if back != want {
        // The first datagram after IPCP opens can be lost in the guest:
        // TCP retransmits, but a connect may time out once. Try again.
        back = echo_through(&ns, &pppd, peer_addr, b"ls -l\n", &data);
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
    let vj = tshark(pcap, "vjc");
    assert!(vj.lines().count() > 10, "no VJ frames dissected:\n{vj}");
    // A VJ frame tshark could not rebuild has no TCP layer and a warning;
    // TCP's own (a reset, a segment resent) is not the dissector's.
    let bad = tshark(
        pcap,
        "_ws.malformed || (vjc && !tcp && _ws.expert.severity >= warning)",
    );
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
    let mut c = dial_pppd(None, &pppd, &["--no-tun"]);
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
