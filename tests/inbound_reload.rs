//! The host's firewall reloaded mid-call (tests/support/attack/): the
//! call's table comes back, the reachable set over IPv4 and IPv6 is the
//! same after as before, and a host that keeps flushing ends the call.
//!
//! Needs root (namespaces, TUN, nftables); skips loudly elsewhere, and
//! fails under CI=true.

mod support;

use std::collections::BTreeSet;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::attack::call::{call_up_v6_ready, pump_for_event_where, pump_until_exit, Call};
use support::attack::probe::{console_listeners, console_scans, lpar1_reachable, lpar_listeners};
use support::attack::report::Report;
use support::attack::v6::v6_field;
use support::attack::{one_at_a_time, port_list, service_set};
use support::hosts::ok;
use support::lab::Lab;
use support::listen::Listeners;
use support::nsstat::{nft_tables, table_for};
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
