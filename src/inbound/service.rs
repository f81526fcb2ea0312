//! The inbound service call, from start to hang-up: hold the call lock,
//! take the enablement, authenticate the caller with its one-time
//! secret, put the call's plane (aliases, NAT, firewall) on the link, and
//! hang up when the call ends, a signal comes, or the customer disables
//! the service from another shell.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;

use super::lock::CallLock;
use super::{call, plane, revoke, AuthKind, Store};
use crate::answerer::{AnswerLine, AnswerSetup, Screening};
use crate::call::CallError;
use crate::events::Reporter;
use crate::exit;
use crate::ppp::auth::{AuthConfig, AuthProto, Secret};
use crate::ppp::link::LinkConfig;
use crate::secrets::SecretsTable;
use crate::session::{self, HookSetup, SessionConfig};

/// What the answering side brings to the call; the enablement brings the
/// rest (addresses, the caller's credentials, IPv6 or not).
#[derive(Clone, Debug)]
pub struct ServiceSetup {
    pub answer: AnswerSetup,
    pub state_dir: PathBuf,
    /// The options from the command line (timers, MRU, compression).
    pub link: LinkConfig,
    /// Our name in CHAP challenges.
    pub name: String,
    pub ms_dns: [Option<Ipv4Addr>; 2],
    /// The operator's caller list, on top of the customer's.
    pub allow_callers: Vec<String>,
    pub ifname: String,
    pub pcap: Option<PathBuf>,
    pub hooks: Option<HookSetup>,
}

/// Serves the one enabled call; returns the exit status.
pub async fn serve(
    setup: ServiceSetup,
    reporter: &Reporter,
    signals: watch::Receiver<bool>,
) -> Result<u8, CallError> {
    let store = Store::new(&setup.state_dir);
    // Held until the call is over: the proof, to `enable`, `disable` and
    // the next start, that this call is alive.
    let held = CallLock::acquire(store.dir())?;
    let e = call::prepare(&store, &held)?;
    let mut link = setup.link;
    link.lcp.require_auth = vec![match e.auth {
        AuthKind::Chap => AuthProto::ChapMd5,
        AuthKind::Pap => AuthProto::Pap,
    }];
    // IPv6CP only if the customer allowed it; then the firewall covers
    // IPv6 as it covers IPv4.
    link.ipv6 = e.ipv6.then(crate::ppp::ipv6cp::Ipv6cpConfig::default);
    link.ipv6cp_fsm = link.ipcp_fsm;
    link.noip = false;
    link.ipcp.local = Some(e.ppp_local);
    link.ipcp.remote = Some(e.ppp_remote);
    // The caller may not claim an address the console answers on.
    link.ipcp.forbidden = e.partitions.iter().map(|p| p.alias).collect();
    link.ipcp.dns = setup.ms_dns;
    link.auth = AuthConfig {
        name: setup.name.clone(),
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
        ("--allow-caller", &setup.allow_callers),
    ])?;
    // `disable` from another shell hangs the call up (or stops the wait).
    let watcher = revoke::watch(store.clone());
    let stop = merge_stops(signals, watcher.revoked.clone());
    let opened = AnswerLine::open(
        &setup.answer,
        &screening,
        reporter,
        stop.clone(),
        "the service call",
    )
    .await;
    let mut line = match opened {
        Ok(Some(l)) => l,
        Err(f) => return Err(f),
        // Stopped before any call: by `disable`, or by a signal.
        Ok(None) if !call::still_allowed(&store) => return Ok(exit::INBOUND_CLOSED),
        Ok(None) => return Ok(exit::SIGNAL),
    };
    let cfg = SessionConfig {
        link,
        pcap: setup.pcap.clone(),
        auth_gate: Some(call::consuming_gate(&store, &e)),
        hooks: setup.hooks.clone(),
        ..SessionConfig::default()
    };
    let mut plane = plane::InboundPlane::new(&setup.ifname, e, reporter.clone());
    let outcome = line.run(&mut plane, cfg, reporter, stop).await;
    line.close(reporter).await;
    // The call's rules go before the lock that says the call is alive.
    drop(plane);
    drop(watcher);
    drop(held);
    Ok(session::report_end(reporter, &outcome?))
}

/// One stop for the call: a signal, or the enablement revoked.
fn merge_stops(
    mut signals: watch::Receiver<bool>,
    mut revoked: watch::Receiver<bool>,
) -> watch::Receiver<bool> {
    let (tx, merged) = watch::channel(false);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                r = signals.changed() => if r.is_err() { return },
                r = revoked.changed() => if r.is_err() { return },
            }
            // Each change is a new one, so a second signal forces the stop.
            tx.send_modify(|v| *v = true);
        }
    });
    merged
}
