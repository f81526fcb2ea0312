//! IPv6CP against pppd 2.4.9 in user-mode-linux: carrier dials pppd
//! `+ipv6` and pppd dials carrier, and `ping -6` crosses the link to the
//! peer's link-local address both ways; IPv6 alone (`noip`); fixed
//! identifiers; and pppd's own default (IPv6CP on) against carrier's
//! (off), which Protocol-Rejects it while IPv4 carries on.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::carrier::{ping_replies, secrets_file, Carrier, Netns};
use support::guest::dial_pppd;
use support::pppd::{start_or_skip, Pppd, PppdOptions};

fn log_of(pppd: &Pppd) -> String {
    format!("--- pppd log ---\n{}", pppd.log())
}

/// pppd with `opts`, and carrier in a namespace of its own running
/// `ours` on pppd's line, with interface `ifname`; returns once carrier
/// reports `ipv6cp-up` (its event).
fn up(pppd_opts: &str, ours: &[&str], ifname: &str) -> Option<(Netns, Pppd, Carrier, Value)> {
    let ns = Netns::new(ifname)?;
    let pppd = start_or_skip(
        PppdOptions::from_str_args(pppd_opts)
            .pap_secrets("alice * s3cret *\n")
            .chap_secrets("alice server s3cret *\n"),
    )?;
    let dev = pppd.device().to_str().unwrap().to_string();
    let mut args: Vec<&str> = ours.to_vec();
    args.extend_from_slice(&["--direct", "--device", &dev, "--ifname", ifname]);
    let mut c = Carrier::spawn_in(Some(ns.name()), &args);
    let v6 = c
        .wait_event("ipv6cp-up", Duration::from_secs(30))
        .unwrap_or_else(|| panic!("no ipv6cp-up: {:?}\n{}", c.seen, log_of(&pppd)));
    Some((ns, pppd, c, v6))
}

/// `ping -6` to the peer's link-local address from our namespace and from
/// the guest; returns the replies each got (the first datagram after an
/// NCP opens can be lost in the guest, so 3 are sent and 1 must come back).
fn ping6_both_ways(ns: &Netns, pppd: &Pppd, v6: &Value, ifname: &str) -> (u64, u64) {
    let (ours, theirs) = (
        v6["local_ll"].as_str().unwrap(),
        v6["peer_ll"].as_str().unwrap(),
    );
    let o = ns.ping6(theirs, ifname);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "ping -6 to pppd: {text}\n{}",
        log_of(pppd)
    );
    let (code, out) = pppd
        .exec(
            &format!("ping -6 -c 3 -i 0.3 -W 3 {ours}%ppp0"),
            Duration::from_secs(20),
        )
        .expect("guest ping ran");
    assert_eq!(code, 0, "ping -6 from pppd: {out}\n{}", log_of(pppd));
    (ping_replies(&text), ping_replies(&out))
}

/// pppd's view of the identifiers matches ours.
fn pppd_agrees(pppd: &Pppd, v6: &Value) {
    // pppd prints its own as local, ours as remote, in its zero-padded form.
    let (local, peer) = (v6["local"].as_str().unwrap(), v6["peer"].as_str().unwrap());
    for line in [
        format!("local  LL address fe80::{peer}"),
        format!("remote LL address fe80::{local}"),
    ] {
        assert!(
            pppd.wait_log(&line, Duration::from_secs(5)),
            "{line}\n{}",
            log_of(pppd)
        );
    }
}

fn stats_after_hangup(c: &mut Carrier) -> Value {
    c.terminate();
    let s = c
        .wait_event("stats", Duration::from_secs(15))
        .expect("stats");
    assert_eq!(c.wait_exit(Duration::from_secs(15)), Some(5));
    s
}

#[test]
fn carrier_dials_pppd_with_ipv6_and_ping6_crosses_both_ways() {
    let Some((ns, pppd, mut c, v6)) = up(
        "local passive noccp novj debug require-pap name server 10.79.0.1:10.79.0.2 +ipv6",
        &[
            "dial",
            "--user",
            "alice",
            "--password",
            "s3cret",
            "--ipv6",
            "--defaultroute6",
        ],
        "cv6a0",
    ) else {
        return;
    };
    pppd_agrees(&pppd, &v6);
    // pppd's defaultroute6: a default IPv6 route through the link.
    let routes = String::from_utf8_lossy(&ns.run(&["ip", "-6", "route", "show", "default"]).stdout)
        .into_owned();
    assert!(routes.contains("dev cv6a0"), "{routes}");
    assert!(
        c.wait_event("ipcp-up", Duration::from_secs(10)).is_some(),
        "IPv4 too"
    );
    let (a, b) = ping6_both_ways(&ns, &pppd, &v6, "cv6a0");
    // IPv4 beside it.
    assert!(ns
        .run(&["ping", "-c", "3", "-W", "5", "10.79.0.1"])
        .status
        .success());
    let s = stats_after_hangup(&mut c);
    let (i6, o6) = (
        s["link"]["ipv6_in"].as_u64().unwrap(),
        s["link"]["ipv6_out"].as_u64().unwrap(),
    );
    assert!(i6 >= a + b && o6 >= a + b, "{s}");
}

#[test]
fn pppd_dials_carrier_with_ipv6_and_ping6_crosses_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = secrets_file(
        dir.path(),
        "alice * s3cret *
",
    );
    let Some((ns, pppd, mut c, v6)) = up(
        "local noccp novj debug noauth user alice password s3cret noipdefault +ipv6",
        &[
            "answer",
            "--secrets",
            secrets.to_str().unwrap(),
            "--require-chap",
            "--local",
            "10.89.0.1",
            "--remote",
            "10.89.0.2",
            "--ipv6",
        ],
        "cv6b0",
    ) else {
        return;
    };
    pppd_agrees(&pppd, &v6);
    ping6_both_ways(&ns, &pppd, &v6, "cv6b0");
    stats_after_hangup(&mut c);
}

/// pppd's `noip` and carrier's: IPv6 alone, no IPCP at all; our fixed
/// identifiers (`ipv6 ::1,::2`) are what pppd ends up with.
#[test]
fn ipv6_alone_with_fixed_identifiers() {
    let Some((ns, pppd, mut c, v6)) = up(
        "local passive noccp novj debug require-pap noip +ipv6",
        &[
            "dial",
            "--user",
            "alice",
            "--password",
            "s3cret",
            "--ipv6",
            "::1,::2",
            "--noip",
        ],
        "cv6c0",
    ) else {
        return;
    };
    assert_eq!(v6["local"], "0000:0000:0000:0001");
    assert_eq!(v6["peer"], "0000:0000:0000:0002");
    pppd_agrees(&pppd, &v6);
    ping6_both_ways(&ns, &pppd, &v6, "cv6c0");
    let s = stats_after_hangup(&mut c);
    assert!(c.events_named("ipcp-up").next().is_none(), "{:?}", c.seen);
    assert_eq!(s["link"]["ip_up"], 0);
    assert!(!pppd.log().contains("IPCP ConfReq"), "{}", log_of(&pppd));
}

/// pppd 2.4.9 negotiates IPv6CP unless told `noipv6`; carrier does not
/// unless told `--ipv6` (RFC 5072 leaves it to configuration, and a link
/// that speaks IPv6 nobody asked for is a way past IPv4-only rules). Our
/// Protocol-Reject stops pppd's IPv6CP and IPv4 carries on, on both.
#[test]
fn pppd_s_default_ipv6cp_is_rejected_and_ipv4_carries_on() {
    let Some(ns) = Netns::new("cv6d0") else {
        return;
    };
    let Some(pppd) = start_or_skip(
        PppdOptions::from_str_args(
            "local passive noccp novj debug require-pap 10.79.1.1:10.79.1.2",
        )
        .pap_secrets("alice * s3cret *\n"),
    ) else {
        return;
    };
    let mut c = dial_pppd(Some(&ns), &pppd, &["--ifname", "cv6d0"]);
    c.wait_event("ipcp-up", Duration::from_secs(30))
        .unwrap_or_else(|| panic!("no ipcp-up: {:?}\n{}", c.seen, log_of(&pppd)));
    assert!(
        pppd.wait_log("sent [IPV6CP ConfReq", Duration::from_secs(5)),
        "pppd offered IPv6CP: {}",
        log_of(&pppd)
    );
    assert!(
        pppd.wait_log("rcvd [LCP ProtRej", Duration::from_secs(5)),
        "{}",
        log_of(&pppd)
    );
    // The first datagram after IPCP opens can be lost in the guest.
    assert!(ns
        .run(&["ping", "-c", "3", "-W", "5", "10.79.1.1"])
        .status
        .success());
    let addrs =
        String::from_utf8_lossy(&ns.run(&["ip", "-6", "addr", "show", "dev", "cv6d0"]).stdout)
            .into_owned();
    assert!(
        !addrs.contains("inet6"),
        "no IPv6 on our interface: {addrs}"
    );
    let s = stats_after_hangup(&mut c);
    assert!(c.events_named("ipv6cp-up").next().is_none());
    assert_eq!(s["link"]["ipv6_in"], 0);
}
