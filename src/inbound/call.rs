//! The life of the enablement around one call: enabling, disabling,
//! preparing to answer (repairing what a crashed call left first),
//! consuming at authorization, and the forwarding the call changes.
//!
//! Whether a call is alive is the call lock's to say ([`CallLock`]),
//! never a recorded PID's; and nothing here sends a signal: `disable`
//! revokes the record, and the running call, which watches it, hangs up.

use std::net::Ipv4Addr;
use std::sync::Arc;

use super::firewall;
use super::forwarding;
use super::lock::CallLock;
use super::state::{now, AuthKind, Enablement, InboundError, Partition, State, Store};
use crate::modem::screen;
use crate::session::AuthGate;

/// Records a new enablement, replacing any earlier one, and returns it
/// with the credentials to pass on. `allowed_callers` (numbers, or
/// prefixes ending in `*`) restricts the call to those caller IDs; empty
/// allows any caller. Refused while an answerer runs on this state
/// directory: it holds the earlier credentials.
/// What else the customer allows or requires of the one call.
#[derive(Clone, Debug, Default)]
pub struct Limits {
    /// Caller ID numbers the call may come from (empty: any).
    pub allowed_callers: Vec<String>,
    /// Whether the call may carry IPv6 beside IPv4.
    pub ipv6: bool,
}

pub fn enable(
    store: &Store,
    ppp_local: Ipv4Addr,
    ppp_remote: Ipv4Addr,
    partitions: Vec<Partition>,
    console_access: bool,
    auth: AuthKind,
    limits: Limits,
) -> Result<Enablement, InboundError> {
    let Limits {
        allowed_callers,
        ipv6,
    } = limits;
    let mut e = Enablement::new(ppp_local, ppp_remote, partitions, console_access, auth)?;
    e.ipv6 = ipv6;
    // Stored as compared, so that status shows what a call is held to.
    e.allowed_callers = screen::parse_list(&allowed_callers)
        .map_err(|err| InboundError::Invalid(format!("allowed caller {err}")))?
        .iter()
        .map(ToString::to_string)
        .collect();
    if let Some(pid) = CallLock::holder(store.dir())? {
        return Err(InboundError::InProgress(pid));
    }
    store.update(|old| {
        // What an older version's crashed call recorded must still be
        // put back by whoever starts next.
        let mut e = e.clone();
        e.forwarding_was = old.map(|o| o.forwarding_was).unwrap_or_default();
        Ok((Some(e.clone()), e))
    })
}

/// What `disable` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disabled {
    /// No call was running (a crashed one's leftovers are removed).
    NoCall,
    /// A call (or an answerer waiting for one) is running: it sees the
    /// revoked record and hangs up; the PID it wrote, for people.
    Running(Option<u32>),
}

/// Revokes the enablement at once. A running call hangs up by itself on
/// seeing it; wait for [`CallLock::wait_released`] to know it has.
pub fn disable(store: &Store) -> Result<Disabled, InboundError> {
    store.update(|old| {
        let Some(mut e) = old else {
            return Err(InboundError::NotEnabled);
        };
        e.state = State::Disabled;
        e.disabled_at = Some(now());
        Ok((Some(e), ()))
    })?;
    if let Some(pid) = CallLock::holder(store.dir())? {
        return Ok(Disabled::Running(pid));
    }
    // Nobody holds the lock: a crashed call's rules may still stand.
    match CallLock::acquire(store.dir()) {
        Ok(_lock) => repair(store)?,
        // Taken in between by an answerer: it repairs, then refuses.
        Err(InboundError::InProgress(pid)) => return Ok(Disabled::Running(pid)),
        Err(e) => return Err(e),
    }
    Ok(Disabled::NoCall)
}

/// Whether the interface `ifname` exists in this network namespace.
fn interface_exists(ifname: &str) -> bool {
    nix::net::if_::if_nametoindex(ifname).is_ok()
}

/// Under the call lock: puts back the forwarding crashed calls left on
/// (of any line: the registry is the host's), and removes the tables of
/// every call that is no longer alive (another state directory's live
/// call keeps its own, and its forwarding).
fn repair(store: &Store) -> Result<(), InboundError> {
    // Records written before the registry kept the values themselves.
    store.update(|old| {
        let Some(mut e) = old else {
            return Ok((None, ()));
        };
        if !e.forwarding_was.is_empty() {
            tracing::info!(
                settings = e.forwarding_was.len(),
                "restoring forwarding after an earlier call"
            );
            forwarding::restore(&e.forwarding_was);
            e.forwarding_was.clear();
        }
        Ok((Some(e), ()))
    })?;
    match forwarding::repair() {
        Ok(0) => {}
        Ok(n) => tracing::info!(interfaces = n, "restored forwarding after an earlier call"),
        Err(err) => tracing::error!(error = %err, "could not restore forwarding"),
    }
    if let Err(err) = firewall::remove_orphans(interface_exists) {
        tracing::warn!(error = %err, "could not clean up after an earlier call");
    }
    Ok(())
}

/// Before answering, holding the call lock: repairs what a crashed earlier
/// call left, then returns the enablement if a call may be answered.
pub fn prepare(store: &Store, _held: &CallLock) -> Result<Enablement, InboundError> {
    repair(store)?;
    let e = store.load()?.ok_or(InboundError::NotEnabled)?;
    e.check_usable()?;
    Ok(e)
}

/// The gate that consumes the enablement when the caller's credentials
/// are right: durable before the caller hears Success or gets any IP, and
/// only once. The credentials checked must be the record's own: an
/// enablement replaced meanwhile has new ones.
pub fn consuming_gate(store: &Store, answered_with: &Enablement) -> AuthGate {
    let store = store.clone();
    let secret = answered_with.secret.clone();
    Arc::new(move |peer: &str| {
        store
            .update(|old| {
                let Some(mut e) = old else {
                    return Err(InboundError::NotEnabled);
                };
                e.check_usable()?;
                if e.secret != secret {
                    return Err(InboundError::Invalid(
                        "the enablement was replaced: these credentials are no longer valid".into(),
                    ));
                }
                if peer != e.user {
                    return Err(InboundError::Invalid(format!("unexpected caller {peer:?}")));
                }
                e.state = State::Consumed;
                e.consumed_at = Some(now());
                Ok((Some(e), ()))
            })
            .map_err(|e| e.to_string())
    })
}

/// Whether the enablement still allows the call in progress to go on.
pub fn still_allowed(store: &Store) -> bool {
    match store.load() {
        Ok(Some(e)) => e.state != State::Disabled,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_callers_are_checked_and_stored_as_compared() {
        let dir = std::env::temp_dir().join(format!("carrier-inbound-cid-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::new(&dir);
        let local = Ipv4Addr::new(10, 99, 0, 1);
        let remote = Ipv4Addr::new(10, 99, 0, 2);
        let e = enable(
            &store,
            local,
            remote,
            Vec::new(),
            false,
            AuthKind::Chap,
            Limits {
                allowed_callers: vec!["+1 (555) 014-2".into(), "0171 *".into()],
                ipv6: false,
            },
        )
        .unwrap();
        assert_eq!(e.allowed_callers, ["15550142", "0171*"]);
        assert_eq!(
            store.load().unwrap().unwrap().allowed_callers,
            e.allowed_callers
        );
        let bad = enable(
            &store,
            local,
            remote,
            Vec::new(),
            false,
            AuthKind::Chap,
            Limits {
                allowed_callers: vec!["555-CALL".into()],
                ipv6: false,
            },
        )
        .unwrap_err();
        assert!(matches!(bad, InboundError::Invalid(_)), "{bad}");
        assert!(
            bad.to_string().starts_with("allowed caller \"555-CALL\": "),
            "{bad}"
        );
        // The refused enablement left the earlier one alone.
        assert_eq!(store.load().unwrap().unwrap(), e);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
