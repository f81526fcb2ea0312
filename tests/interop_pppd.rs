//! carrier against the reference implementation: pppd 2.4.9 inside
//! user-mode-linux on a PTY (tests/support/pppd.rs). Each test checks both
//! sides' view: our JSON events and pppd's log.

mod support;

use std::time::Duration;

use support::carrier::{ping_replies, Carrier, Netns};
use support::pppd::{start_or_skip, Pppd, PppdOptions};

const SERVER: &str = "local passive noccp novj noipv6 debug name server \
                      10.77.0.1:10.77.0.2 ms-dns 10.77.0.53 ms-dns 10.77.0.54";

fn pppd_server(auth: &str) -> Option<Pppd> {
    start_or_skip(
        PppdOptions::from_str_args(&format!("{SERVER} {auth}"))
            .pap_secrets("alice * s3cret *\n")
            .chap_secrets("alice server s3cret *\n"),
    )
}

fn dial(pppd: &Pppd, password: &str) -> Carrier {
    Carrier::spawn(&[
        "dial",
        "--direct",
        "--device",
        pppd.device().to_str().unwrap(),
        "--user",
        "alice",
        "--password",
        password,
        "--usepeerdns",
        "--no-tun",
    ])
}

fn log_of(pppd: &Pppd) -> String {
    format!("--- pppd log ---\n{}", pppd.log())
}

/// carrier dials pppd, authenticates, takes the address and DNS pppd
/// offers, then hangs up; pppd sees the termination.
fn dial_and_hang_up(auth: &str, pppd_says: &str) {
    let Some(mut pppd) = pppd_server(auth) else {
        return;
    };
    let mut c = dial(&pppd, "s3cret");
    let up = c
        .wait_event("ipcp-up", Duration::from_secs(20))
        .unwrap_or_else(|| panic!("no ipcp-up; events {:?}\n{}", c.seen, log_of(&pppd)));
    assert_eq!(up["local"], "10.77.0.2");
    assert_eq!(up["peer"], "10.77.0.1");
    assert_eq!(up["dns"], serde_json::json!(["10.77.0.53", "10.77.0.54"]));
    assert!(c.seen.iter().any(|v| v["event"] == "auth-ok"));
    assert!(
        pppd.wait_log(pppd_says, Duration::from_secs(5)),
        "{}",
        log_of(&pppd)
    );
    assert!(pppd.wait_log("remote IP address 10.77.0.2", Duration::from_secs(5)));

    c.terminate();
    let down = c.wait_event("down", Duration::from_secs(10)).expect("down");
    assert_eq!(down["reason"], "user-request");
    assert_eq!(
        c.wait_exit(Duration::from_secs(5)),
        Some(5),
        "pppd's code for a signal"
    );
    assert!(
        pppd.wait_log("LCP terminated by peer", Duration::from_secs(10)),
        "{}",
        log_of(&pppd)
    );
    assert!(
        pppd.wait_exit(Duration::from_secs(15)).is_some(),
        "pppd exits"
    );
}

#[test]
fn carrier_dials_pppd_with_pap() {
    dial_and_hang_up("require-pap", "PAP peer authentication succeeded for alice");
}

#[test]
fn carrier_dials_pppd_with_chap() {
    dial_and_hang_up("require-chap", "sent [CHAP Success");
}

#[test]
fn wrong_password_to_pppd_is_auth_failed_on_both_sides() {
    let Some(mut pppd) = pppd_server("require-chap") else {
        return;
    };
    let mut c = dial(&pppd, "wrong");
    let failed = c
        .wait_event("auth-failed", Duration::from_secs(20))
        .unwrap_or_else(|| panic!("no auth-failed; {:?}\n{}", c.seen, log_of(&pppd)));
    assert_eq!(failed["role"], "peer");
    let down = c.wait_event("down", Duration::from_secs(15)).expect("down");
    assert_eq!(down["reason"], "auth-failed");
    assert_eq!(c.wait_exit(Duration::from_secs(5)), Some(19));
    assert!(c.seen.iter().all(|v| v["event"] != "ipcp-up"));
    // pppd, the authenticator, exits with its code for a peer that failed.
    assert_eq!(
        pppd.wait_exit(Duration::from_secs(20)),
        Some(11),
        "{}",
        log_of(&pppd)
    );
}

#[test]
fn pppd_terminating_is_seen_as_peer_terminated() {
    let Some(pppd) = pppd_server("require-pap") else {
        return;
    };
    let mut c = dial(&pppd, "s3cret");
    c.wait_event("ipcp-up", Duration::from_secs(20))
        .unwrap_or_else(|| panic!("no ipcp-up; {:?}\n{}", c.seen, log_of(&pppd)));
    pppd.terminate();
    let down = c.wait_event("down", Duration::from_secs(15)).expect("down");
    assert_eq!(down["reason"], "peer-terminated");
    assert_eq!(c.wait_exit(Duration::from_secs(5)), Some(16));
}

/// pppd dials `carrier answer`: we authenticate it and assign its address.
fn pppd_dials_carrier(require: &str) {
    let dir = std::env::temp_dir().join(format!("carrier-answer-{}-{require}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secrets = dir.join("secrets");
    std::fs::write(&secrets, "alice * s3cret *\n").unwrap();
    std::fs::set_permissions(
        &secrets,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();

    let Some(mut pppd) = start_or_skip(PppdOptions::from_str_args(
        "local noccp novj noipv6 debug noauth user alice password s3cret noipdefault usepeerdns",
    )) else {
        return;
    };
    let mut c = Carrier::spawn(&[
        "answer",
        "--direct",
        "--device",
        pppd.device().to_str().unwrap(),
        "--secrets",
        secrets.to_str().unwrap(),
        require,
        "--local",
        "10.88.0.1",
        "--remote",
        "10.88.0.2",
        "--ms-dns",
        "10.88.0.53",
        "--no-tun",
    ]);
    let ok = c
        .wait_event("auth-ok", Duration::from_secs(20))
        .unwrap_or_else(|| panic!("no auth-ok; {:?}\n{}", c.seen, log_of(&pppd)));
    assert_eq!(ok["peer"], "alice");
    assert_eq!(ok["role"], "authenticator");
    let up = c
        .wait_event("ipcp-up", Duration::from_secs(20))
        .expect("ipcp-up");
    assert_eq!(up["peer"], "10.88.0.2");
    assert!(
        pppd.wait_log("local  IP address 10.88.0.2", Duration::from_secs(5)),
        "{}",
        log_of(&pppd)
    );
    assert!(pppd.wait_log("remote IP address 10.88.0.1", Duration::from_secs(5)));
    assert!(
        pppd.wait_log("primary   DNS address 10.88.0.53", Duration::from_secs(5)),
        "{}",
        log_of(&pppd)
    );
    c.terminate();
    assert_eq!(c.wait_exit(Duration::from_secs(10)), Some(5));
    assert!(pppd.wait_exit(Duration::from_secs(15)).is_some());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn pppd_dials_carrier_answer_with_chap() {
    pppd_dials_carrier("--require-chap");
}

#[test]
fn pppd_dials_carrier_answer_with_pap() {
    pppd_dials_carrier("--require-pap");
}

/// Dials pppd with extra options on both sides and returns once IP is up,
/// with both ends still running.
fn dial_with(pppd_opts: &str, ours: &[&str]) -> Option<(Pppd, Carrier)> {
    let pppd = start_or_skip(
        PppdOptions::from_str_args(&format!("{SERVER} require-pap {pppd_opts}"))
            .pap_secrets("alice * s3cret *\n"),
    )?;
    let mut args = vec![
        "dial",
        "--direct",
        "--device",
        pppd.device().to_str().unwrap(),
        "--user",
        "alice",
        "--password",
        "s3cret",
        "--no-tun",
    ];
    args.extend_from_slice(ours);
    let mut c = Carrier::spawn(&args);
    c.wait_event("ipcp-up", Duration::from_secs(20))
        .unwrap_or_else(|| {
            panic!(
                "no ipcp-up with pppd {pppd_opts:?} / ours {ours:?}: {:?}\n{}",
                c.seen,
                log_of(&pppd)
            )
        });
    Some((pppd, c))
}

#[test]
fn pppd_default_asyncmap_means_every_control_character_escaped() {
    let Some((pppd, mut c)) = dial_with("default-asyncmap", &[]) else {
        return;
    };
    let lcp = c.wait_event("lcp-up", Duration::ZERO).unwrap();
    // pppd neither asks for an ACCM nor takes ours: all of 0x00-0x1f stay
    // escaped both ways.
    assert_eq!(lcp["tx_accm"], "0xffffffff");
    assert_eq!(lcp["rx_accm"], "0xffffffff");
    assert!(
        pppd.log()
            .contains("sent [LCP ConfRej id=0x1 <asyncmap 0x0>]"),
        "{}",
        log_of(&pppd)
    );
}

#[test]
fn pppd_without_compression_gets_none() {
    let Some((pppd, mut c)) = dial_with("noaccomp nopcomp", &[]) else {
        return;
    };
    let lcp = c.wait_event("lcp-up", Duration::ZERO).unwrap();
    assert_eq!(lcp["pfc"], false);
    assert_eq!(lcp["acfc"], false);
    assert!(
        pppd.log().contains("<pcomp> <accomp>"),
        "we still offer both"
    );
}

#[test]
fn small_mru_both_ways() {
    let Some((pppd, mut c)) = dial_with("mru 296", &["--mru", "296"]) else {
        return;
    };
    let lcp = c.wait_event("lcp-up", Duration::ZERO).unwrap();
    assert_eq!(lcp["peer_mru"], 296);
    assert_eq!(lcp["mru"], 296);
    assert!(pppd.log().contains("<mru 296>"), "{}", log_of(&pppd));
}

#[test]
fn pppd_nomagic_is_accepted() {
    let Some((pppd, mut c)) = dial_with("nomagic", &[]) else {
        return;
    };
    let lcp = c.wait_event("lcp-up", Duration::ZERO).unwrap();
    // pppd sends none and rejects ours; we carry on without.
    assert!(lcp["peer_magic"].is_null());
    assert!(lcp["magic"].is_null(), "{}", log_of(&pppd));
    assert!(pppd.log().contains("sent [LCP ConfRej id=0x1 <magic"));
}

#[test]
fn lcp_echo_both_ways() {
    let Some((pppd, mut c)) = dial_with(
        "lcp-echo-interval 1 lcp-echo-failure 3",
        &["--lcp-echo-interval", "1", "--lcp-echo-failure", "3"],
    ) else {
        return;
    };
    // pppd's debug log leaves echoes out, so count on our side: pppd's
    // requests arrived (and were answered, or pppd would drop the link
    // after 3), and our requests were answered.
    // At 1 s each, 3 echoes either way want 3 s; 6.5 s leaves room for
    // a starved guest.
    std::thread::sleep(Duration::from_millis(6500));
    assert!(!pppd.log().contains("No response to"), "{}", log_of(&pppd));
    c.terminate();
    let stats = c
        .wait_event("stats", Duration::from_secs(10))
        .expect("stats");
    assert!(
        stats["link"]["echo_requests_in"].as_u64().unwrap() >= 3,
        "{stats}"
    );
    assert!(
        stats["link"]["echo_replies_in"].as_u64().unwrap() >= 3,
        "{stats}"
    );
}

#[test]
fn capture_opens_in_tshark_without_malformed_frames_or_passwords() {
    if std::process::Command::new("tshark")
        .arg("-v")
        .output()
        .is_err()
    {
        assert!(
            !support::pppd::in_ci(),
            "tshark missing under CI (apt-get install tshark)"
        );
        eprintln!("SKIP: tshark not installed");
        return;
    }
    let pcap = std::env::temp_dir().join(format!("carrier-{}.pcap", std::process::id()));
    let path = pcap.to_str().unwrap().to_string();
    let Some((_pppd, mut c)) = dial_with("", &["--pcap", &path]) else {
        return;
    };
    c.terminate();
    assert_eq!(c.wait_exit(Duration::from_secs(10)), Some(5));
    let bytes = std::fs::read(&pcap).unwrap();
    assert!(
        !bytes.windows(6).any(|w| w == b"s3cret"),
        "password in capture"
    );
    let tshark = |extra: &[&str]| {
        let out = std::process::Command::new("tshark")
            .args(["-r", &path])
            .args(extra)
            .output()
            .expect("tshark");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let all = tshark(&[]);
    for proto in ["LCP", "PAP", "IPCP"] {
        assert!(all.contains(proto), "no {proto} in:\n{all}");
    }
    assert!(all.lines().count() >= 10, "{all}");
    let bad = tshark(&["-Y", "_ws.malformed || _ws.expert.severity >= warning"]);
    assert!(bad.trim().is_empty(), "malformed frames:\n{bad}");
    std::fs::remove_file(&pcap).unwrap();
}

#[test]
fn ping_summaries_are_read_from_both_pings() {
    assert_eq!(
        ping_replies("3 packets transmitted, 2 received, 33% packet loss, time 2003ms"),
        2
    );
    assert_eq!(
        ping_replies("3 packets transmitted, 3 packets received, 0% packet loss"),
        3
    );
    assert_eq!(ping_replies("nothing"), 0);
}

#[test]
fn ping_crosses_the_link_both_ways() {
    let Some(ns) = Netns::new("ping") else {
        return;
    };
    let Some(pppd) = start_or_skip(
        PppdOptions::from_str_args(
            "local passive noccp novj noipv6 debug require-pap 10.78.0.1:10.78.0.2",
        )
        .pap_secrets("alice * s3cret *\n"),
    ) else {
        return;
    };
    let mut c = Carrier::spawn_in(
        Some(ns.name()),
        &[
            "dial",
            "--direct",
            "--device",
            pppd.device().to_str().unwrap(),
            "--user",
            "alice",
            "--password",
            "s3cret",
            "--ifname",
            "cping0",
        ],
    );
    c.wait_event("ipcp-up", Duration::from_secs(20))
        .unwrap_or_else(|| panic!("no ipcp-up: {:?}\n{}", c.seen, log_of(&pppd)));
    let iface = c
        .wait_event("ip-interface", Duration::from_secs(5))
        .unwrap();
    assert!(
        iface["detail"].as_str().unwrap_or("").contains("cping0"),
        "{iface}"
    );
    let addr = ns.run(&["ip", "-4", "addr", "show", "cping0"]);
    let addr = String::from_utf8_lossy(&addr.stdout);
    assert!(addr.contains("10.78.0.2 peer 10.78.0.1"), "{addr}");

    // Our side to pppd's. The first datagram after IPCP opens can be lost
    // in the guest, so allow a retry.
    let ping = ns.run(&["ping", "-c", "3", "-W", "2", "10.78.0.1"]);
    assert!(
        ping.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&ping.stdout),
        log_of(&pppd)
    );
    // pppd's side to ours, from inside the guest.
    let (code, out) = pppd
        .exec("busybox ping -c 3 -W 2 10.78.0.2", Duration::from_secs(15))
        .expect("guest ping ran");
    assert_eq!(code, 0, "{out}");
    c.terminate();
    let stats = c
        .wait_event("stats", Duration::from_secs(10))
        .expect("stats");
    // Each reply a ping got is one datagram each way across our link; a
    // ping passes with a reply lost, so the counts allow the same loss.
    // (ip_out no longer counts the host's IPv6 chatter: it is dropped and
    // counted apart, in ip_out_dropped.)
    let crossed = ping_replies(&String::from_utf8_lossy(&ping.stdout)) + ping_replies(&out);
    assert!(crossed >= 2, "one reply at least each way");
    assert!(
        stats["link"]["ip_in"].as_u64().unwrap() >= crossed,
        "{stats}"
    );
    assert!(
        stats["link"]["ip_out"].as_u64().unwrap() >= crossed,
        "{stats}"
    );
    // The interface is gone with the link.
    let after = ns.run(&["ip", "link", "show", "cping0"]);
    assert!(!after.status.success(), "cping0 still exists");
}
