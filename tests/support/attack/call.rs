//! A call from the hostile caller to the console's `answer --inbound
//! --direct`: brought up (IPv4, or with IPv6CP too), pumped while the
//! console reports, and hung up.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::report::Report;
use super::{ifname_template, ip4};
use crate::support::carrier::Carrier;
use crate::support::hostile::{self, Hostile};
use crate::support::lab::Lab;
use crate::support::nsstat::{iface_with, link_counters};

pub struct Call {
    pub console: Carrier,
    pub caller: Hostile,
    /// The console's address on the link, and the caller's.
    pub local: Ipv4Addr,
    pub remote: Ipv4Addr,
    /// The interface the kernel gave the call.
    pub ifname: String,
}

/// All events the console has reported so far.
pub fn drain(c: &mut Carrier) {
    c.wait_event("\u{0}none", Duration::from_millis(5));
}

/// The caller pumps its line until the console reports `name`.
pub fn pump_for_event(
    h: &mut Hostile,
    c: &mut Carrier,
    name: &str,
    timeout: Duration,
) -> Option<Value> {
    pump_for_event_where(h, c, name, timeout, |_| true)
}

/// [`pump_for_event`] for the first event called `name` that `pick`
/// likes.
pub fn pump_for_event_where(
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
pub fn pump_until_exit(h: &mut Hostile, c: &mut Carrier, timeout: Duration) -> Option<i32> {
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
pub fn call_up(lab: &Lab, state: &Path, user: &str, secret: &str, ifname: &str) -> Call {
    call_up_with(lab, state, Hostile::new(user, secret.as_bytes()), ifname)
}

/// [`call_up`] with a caller that also asks for IPv6CP.
pub fn call_up_v6(lab: &Lab, state: &Path, user: &str, secret: &str) -> Call {
    let mut cfg = hostile::client_config(user, secret.as_bytes());
    cfg.ipv6 = Some(carrier::ppp::ipv6cp::Ipv6cpConfig::default());
    call_up_with(lab, state, Hostile::with_config(cfg), &ifname_template())
}

/// [`call_up_v6`], waited for until IPv6CP is up on both sides: the
/// call, the console's `ipv6cp-up` and its IPv6 `ip-interface` events.
pub fn call_up_v6_ready(
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

/// The console answering on `caller`'s line, once it has opened it.
pub fn console_on_line(lab: &Lab, state: &Path, caller: &Hostile, ifname: &str) -> Carrier {
    let mut console = lab.answer(state, caller.device_str(), ifname);
    console
        .wait_event("connect", Duration::from_secs(15))
        .unwrap_or_else(|| panic!("console did not open its line: {:?}", console.seen));
    console
}

/// [`call_up`] with a caller configured beforehand (IPv6CP, say).
pub fn call_up_with(lab: &Lab, state: &Path, mut caller: Hostile, ifname: &str) -> Call {
    let mut console = console_on_line(lab, state, &caller, ifname);
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
    pub fn end(&mut self) -> Option<i32> {
        self.console.terminate();
        pump_until_exit(&mut self.caller, &mut self.console, Duration::from_secs(20))
    }
}

/// The call's last figures: the console's TX drops on its interface, the
/// caller's strays (replies no probe claimed) and framing errors.
pub fn call_figures(r: &mut Report, lab: &Lab, call: &Call) {
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
pub fn hang_up(r: &mut Report, call: &mut Call) {
    let code = call.end();
    r.note(format!("console exit after SIGTERM: {code:?}"));
}
