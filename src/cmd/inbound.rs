//! `carrier inbound enable|disable|status` and `carrier answer --inbound`:
//! the one-time service call.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use carrier::events::{Format, Reporter};
use carrier::inbound::lock::CallLock;
use carrier::inbound::{self as inb, AuthKind, Partition, Store};
use carrier::ppp::auth::{AuthConfig, AuthProto, Secret};
use carrier::secrets::SecretsTable;
use carrier::session::SessionConfig;
use serde_json::json;
use tokio::sync::watch;

use super::common::*;
use super::line::{AnswerLine, Screening};
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

fn inbound_error(e: inb::InboundError) -> Fatal {
    use inb::InboundError as E;
    let code = match &e {
        E::NotEnabled | E::Consumed(_) | E::Disabled(_) | E::InProgress(_) => EXIT_INBOUND_CLOSED,
        E::Invalid(_) | E::Corrupt { .. } | E::Secrets(_) => EXIT_CONFIG,
        E::Io { .. } => EXIT_FATAL,
    };
    fatal(code, e.to_string())
}

pub fn inbound(c: InboundCommand, format: Format) -> Result<u8, Fatal> {
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
                a.auth,
                inb::call::Limits {
                    allowed_callers: a.allow_caller.clone(),
                    ipv6: a.ipv6,
                },
            )
            .map_err(inbound_error)?;
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
            let found = inb::call::disable(&store).map_err(inbound_error)?;
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
            let ended =
                CallLock::wait_released(store.dir(), DISABLE_WAIT).map_err(inbound_error)?;
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
            let call = CallLock::holder(store.dir()).map_err(inbound_error)?;
            match store.load().map_err(inbound_error)? {
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
    if a.ms_dns.len() > 2 {
        return Err(fatal(EXIT_CONFIG, "at most two --ms-dns servers"));
    }
    // The customer's enablement decides whether a service call carries
    // IPv6 (`inbound enable --ipv6`), not the answering side's flags.
    if a.ppp.ipv6.is_some() || a.ppp.noip {
        return Err(fatal(
            EXIT_CONFIG,
            "--ipv6/--noip do not apply to inbound calls: the enablement decides (inbound enable --ipv6)",
        ));
    }
    let store = Store::new(&a.state.state_dir);
    // Held until this process exits: the proof, to `enable`, `disable`
    // and the next start, that this call is alive.
    let held = CallLock::acquire(store.dir()).map_err(inbound_error)?;
    let e = inb::call::prepare(&store, &held).map_err(inbound_error)?;
    let mut link = link_config(&a.ppp);
    link.lcp.require_auth = vec![match e.auth {
        AuthKind::Chap => AuthProto::ChapMd5,
        AuthKind::Pap => AuthProto::Pap,
    }];
    // IPv6CP only if the customer allowed it; then the firewall covers
    // IPv6 as it covers IPv4.
    link.ipv6 = e.ipv6.then(carrier::ppp::ipv6cp::Ipv6cpConfig::default);
    link.ipv6cp_fsm = link.ipcp_fsm;
    link.ipcp.local = Some(e.ppp_local);
    link.ipcp.remote = Some(e.ppp_remote);
    link.ipcp.dns = [a.ms_dns.first().copied(), a.ms_dns.get(1).copied()];
    link.auth = AuthConfig {
        name: a.name.clone(),
        secrets: Arc::new(SecretsTable::single(
            &e.user,
            "*",
            Secret::new(e.secret.reveal().as_bytes()),
        )),
        ..AuthConfig::default()
    };
    // The customer's list and the operator's: a call must pass both, so
    // the command line can narrow the enablement but never widen it.
    let screening = Screening::new(&[
        ("the inbound enablement", &e.allowed_callers),
        ("--allow-caller", &a.modem.allow_caller),
    ])?;
    let reporter = Reporter::new(format);
    let stop = stop_on_signals()?;
    // `disable` from another shell hangs the call up (or stops the wait).
    let watcher = inb::revoke::watch(store.clone());
    let mut revoke = watcher.revoked.clone();
    let (stop_tx, merged) = watch::channel(false);
    let mut signals = stop;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                r = signals.changed() => if r.is_err() { return },
                r = revoke.changed() => if r.is_err() { return },
            }
            stop_tx.send_modify(|v| *v = true);
        }
    });
    let opened = AnswerLine::open(
        &a.line,
        &a.modem,
        &screening,
        &reporter,
        merged.clone(),
        "the service call",
    )
    .await;
    let mut line = match opened {
        Ok(Some(l)) => l,
        Ok(None) | Err(_) => {
            drop(watcher);
            // Stopped before any call: by `disable`, or by a signal.
            return match opened {
                Err(f) => Err(f),
                _ if !inb::call::still_allowed(&store) => Ok(EXIT_INBOUND_CLOSED),
                _ => Ok(EXIT_SIGNAL),
            };
        }
    };
    let cfg = SessionConfig {
        link,
        pcap: a.line.pcap.clone(),
        auth_gate: Some(inb::call::consuming_gate(&store, &e)),
        hooks: hook_setup(&a.line, &a.hooks),
        ..SessionConfig::default()
    };
    let mut plane = inb::plane::InboundPlane::new(&a.line.ifname, e, store.clone());
    let outcome = line.run(&mut plane, cfg, &reporter, merged).await;
    line.close(&reporter).await;
    drop(plane);
    drop(watcher);
    drop(held);
    let outcome = outcome.map_err(|e| fatal(EXIT_FATAL, e.to_string()))?;
    Ok(finish(&reporter, &outcome))
}
