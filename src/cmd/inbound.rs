//! `carrier inbound enable|disable|status` and `carrier answer --inbound`:
//! the one-time service call.

use std::net::Ipv4Addr;
use std::time::Duration;

use carrier::events::{Format, Reporter};
use carrier::inbound::lock::CallLock;
use carrier::inbound::{self as inb, Partition, Store};
use serde_json::json;

use super::common::*;
use crate::{AnswerArgs, InboundCommand};

/// How long `disable` waits for a call in progress to hang up.
const DISABLE_WAIT: Duration = Duration::from_secs(15);

fn parse_partition(spec: &str, ppp_local: Ipv4Addr, n: usize) -> Result<Partition, Fatal> {
    let bad = || {
        fatal(
            EXIT_CONFIG,
            format!("--partition {spec:?}: expected NAME=ADDRESS[@ALIAS]"),
        )
    };
    let (name, rest) = spec.split_once('=').ok_or_else(bad)?;
    let (addr, alias) = match rest.split_once('@') {
        Some((a, b)) => (a, Some(b)),
        None => (rest, None),
    };
    if name.is_empty() {
        return Err(bad());
    }
    let address: Ipv4Addr = addr.parse().map_err(|_| bad())?;
    let alias = match alias {
        Some(a) => a.parse().map_err(|_| bad())?,
        None => inb::state::default_alias(ppp_local, n),
    };
    Ok(Partition {
        name: name.to_string(),
        address,
        alias,
    })
}

/// `allowed` for people: `{prefix}5550142 or 0171*`, or nothing when any
/// caller may call.
fn callers_human(allowed: &[String], prefix: &str) -> String {
    if allowed.is_empty() {
        String::new()
    } else {
        format!("{prefix}{}", allowed.join(" or "))
    }
}

pub async fn inbound(c: InboundCommand, format: Format) -> Result<u8, Fatal> {
    let reporter = Reporter::new(format);
    match c {
        InboundCommand::Enable(a) => {
            let store = Store::new(&a.dir.state_dir);
            let partitions = a
                .partition
                .iter()
                .enumerate()
                .map(|(i, p)| parse_partition(p, a.ppp_local, i))
                .collect::<Result<Vec<_>, _>>()?;
            let e = inb::call::enable(
                &store,
                a.ppp_local,
                a.ppp_remote,
                partitions,
                a.console_access,
                a.auth.into(),
                inb::call::Limits {
                    allowed_callers: a.allow_caller.clone(),
                    ipv6: a.ipv6,
                },
            )?;
            // The one time the secret is shown: for the customer to pass on.
            reporter.emit(
                "inbound-enabled",
                json!({"user": e.user, "secret": e.secret.reveal(), "auth": e.auth,
                       "ppp_local": e.ppp_local, "ppp_remote": e.ppp_remote,
                       "partitions": e.partitions, "console_access": e.console_access,
                       "allowed_callers": e.allowed_callers, "ipv6": e.ipv6}),
                &format!(
                    "inbound service enabled for one call{}\n  user:   {}\n  secret: {}\n  (shown once; pass both to the service representative)",
                    callers_human(&e.allowed_callers, " from "),
                    e.user,
                    e.secret.reveal()
                ),
            );
            Ok(0)
        }
        InboundCommand::Disable(d) => {
            let store = Store::new(&d.state_dir);
            let found = inb::call::disable(&store)?;
            let inb::call::Disabled::Running(pid) = found else {
                reporter.emit(
                    "inbound-disabled",
                    json!({"call": false}),
                    "inbound service disabled",
                );
                return Ok(0);
            };
            // The call sees the revoked record and hangs up by itself: no
            // signal goes to a PID that may be anyone's by now.
            let ended = CallLock::wait_released(store.dir(), DISABLE_WAIT).await?;
            let who = pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
            reporter.emit(
                "inbound-disabled",
                json!({"call": true, "pid": pid, "hung_up": ended}),
                &if ended {
                    format!("inbound service disabled; the call in progress{who} hung up")
                } else {
                    format!(
                        "inbound service disabled; the call in progress{who} has not hung up after {}s",
                        DISABLE_WAIT.as_secs()
                    )
                },
            );
            Ok(if ended { 0 } else { EXIT_FATAL })
        }
        InboundCommand::Status(d) => {
            let store = Store::new(&d.state_dir);
            let call = CallLock::holder(store.dir())?;
            match store.load()? {
                None => reporter.emit("inbound-status", json!({"state": "none"}), "inbound service: never enabled"),
                Some(e) => reporter.emit(
                    "inbound-status",
                    json!({"state": e.state, "enabled_at": e.enabled_at, "consumed_at": e.consumed_at,
                           "disabled_at": e.disabled_at, "user": e.user, "auth": e.auth,
                           "ppp_local": e.ppp_local, "ppp_remote": e.ppp_remote,
                           "partitions": e.partitions, "console_access": e.console_access,
                           "allowed_callers": e.allowed_callers, "ipv6": e.ipv6,
                           "call_pid": call.flatten(), "call": call.is_some()}),
                    &format!(
                        "inbound service: {:?} (enabled at {}{}{}); caller {}{} gets {}{}, console {}, partitions: {}",
                        e.state,
                        e.enabled_at,
                        e.consumed_at.map(|t| format!(", used at {t}")).unwrap_or_default(),
                        e.disabled_at.map(|t| format!(", disabled at {t}")).unwrap_or_default(),
                        e.user,
                        callers_human(&e.allowed_callers, " calling from "),
                        e.ppp_remote,
                        if e.ipv6 { " and IPv6 link-local" } else { "" },
                        if e.console_access { "reachable on service ports" } else { "unreachable" },
                        if e.partitions.is_empty() {
                            "none".to_string()
                        } else {
                            e.partitions.iter().map(|p| format!("{}={}@{}", p.name, p.address, p.alias)).collect::<Vec<_>>().join(" ")
                        }
                    ),
                ),
            }
            Ok(0)
        }
    }
}

/// `carrier answer --inbound`: serve the one enabled call.
pub async fn answer_inbound(a: AnswerArgs, format: Format) -> Result<u8, Fatal> {
    let dns = ms_dns(&a.ms_dns)?;
    // The customer's enablement decides whether a service call carries
    // IPv6 (`inbound enable --ipv6`), not the answering side's flags.
    if a.ppp.ipv6.is_some() || a.ppp.noip {
        return Err(fatal(
            EXIT_CONFIG,
            "--ipv6/--noip do not apply to inbound calls: the enablement decides (inbound enable --ipv6)",
        ));
    }
    let setup = inb::service::ServiceSetup {
        answer: answer_setup(&a.line, &a.modem)?,
        state_dir: a.state.state_dir.clone(),
        link: link_config(&a.ppp),
        name: a.name.clone(),
        ms_dns: dns,
        allow_callers: a.modem.allow_caller.clone(),
        ifname: a.line.ifname().to_string(),
        pcap: a.line.pcap.clone(),
        hooks: hook_setup(&a.line, &a.hooks),
    };
    let reporter = Reporter::new(format);
    let stop = stop_on_signals()?;
    Ok(inb::service::serve(setup, &reporter, stop).await?)
}
