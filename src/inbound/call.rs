//! The life of the enablement around one call: enabling, disabling,
//! preparing to answer (cleaning up after a crashed call first), consuming
//! at authentication, and ending.

use std::net::Ipv4Addr;
use std::sync::Arc;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::plane::clean_leftovers;
use super::state::{now, AuthKind, Enablement, InboundError, Partition, State, Store};
use crate::modem::screen;
use crate::session::AuthGate;

const IP_FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";

/// The one process a recorded pid names. 0 and anything above i32::MAX
/// (a damaged record) are no process: as kill(2) arguments they would
/// name our process group or every process we may signal.
fn process(pid: u32) -> Option<Pid> {
    i32::try_from(pid)
        .ok()
        .filter(|p| *p > 0)
        .map(Pid::from_raw)
}

/// A recorded call process still running; EPERM (another user's) counts
/// as running, as for UUCP locks.
fn alive(pid: u32) -> bool {
    process(pid).is_some_and(|p| carrier_hw::lock::process_alive(p.as_raw()))
}

/// Records a new enablement, replacing any earlier one, and returns it
/// with the credentials to pass on. `allowed_callers` (numbers, or
/// prefixes ending in `*`) restricts the call to those caller IDs; empty
/// allows any caller.
pub fn enable(
    store: &Store,
    ppp_local: Ipv4Addr,
    ppp_remote: Ipv4Addr,
    partitions: Vec<Partition>,
    console_access: bool,
    auth: AuthKind,
    allowed_callers: Vec<String>,
) -> Result<Enablement, InboundError> {
    let mut e = Enablement::new(ppp_local, ppp_remote, partitions, console_access, auth)?;
    // Stored as compared, so that status shows what a call is held to.
    e.allowed_callers = screen::parse_list(&allowed_callers)
        .map_err(|err| InboundError::Invalid(format!("allowed caller {err}")))?
        .iter()
        .map(ToString::to_string)
        .collect();
    store.update(|old| {
        if let Some(o) = &old {
            if o.call_pid.is_some_and(alive) {
                return Err(InboundError::Invalid(format!(
                    "a service call is in progress (pid {}); disable it first",
                    o.call_pid.unwrap_or(0)
                )));
            }
        }
        Ok((Some(e.clone()), ()))
    })?;
    Ok(e)
}

/// Revokes the enablement at once and hangs up a call in progress.
/// Returns the pid of the call that was told to hang up, if any.
pub fn disable(store: &Store) -> Result<Option<u32>, InboundError> {
    store.update(|old| {
        let Some(mut e) = old else {
            return Err(InboundError::NotEnabled);
        };
        let mut hung_up = None;
        if let Some(pid) = e.call_pid {
            if let Some(p) = process(pid).filter(|_| alive(pid)) {
                let _ = kill(p, Signal::SIGTERM);
                hung_up = Some(pid);
            } else {
                // A call that crashed: its rules may still stand.
                let _ = clean_leftovers(e.ip_forward_was.as_deref());
                e.call_pid = None;
                e.ip_forward_was = None;
            }
        }
        e.state = State::Disabled;
        e.disabled_at = Some(now());
        Ok((Some(e), hung_up))
    })
}

/// Before answering: removes what a crashed earlier call left, then
/// returns the enablement if a call may be answered.
pub fn prepare(store: &Store) -> Result<Enablement, InboundError> {
    store.update(|old| {
        let Some(mut e) = old else {
            // Nothing recorded, but a table of ours may still stand.
            let _ = clean_leftovers(None);
            return Err(InboundError::NotEnabled);
        };
        match e.call_pid {
            Some(pid) if alive(pid) && pid != std::process::id() => {
                return Err(InboundError::Invalid(format!(
                    "a service call is in progress (pid {pid})"
                )))
            }
            _ => {
                if let Err(err) = clean_leftovers(e.ip_forward_was.as_deref()) {
                    tracing::warn!(error = %err, "could not clean up after an earlier call");
                }
                e.call_pid = None;
                e.ip_forward_was = None;
            }
        }
        let usable = e.check_usable();
        let out = e.clone();
        usable?;
        Ok((Some(e), out))
    })
}

/// The gate that consumes the enablement when the caller authenticates:
/// durable before the caller gets any IP, and only once.
pub fn consuming_gate(store: &Store) -> AuthGate {
    let store = store.clone();
    Arc::new(move |peer: &str| {
        store
            .update(|old| {
                let Some(mut e) = old else {
                    return Err(InboundError::NotEnabled);
                };
                e.check_usable()?;
                if peer != e.user {
                    return Err(InboundError::Invalid(format!("unexpected caller {peer:?}")));
                }
                e.state = State::Consumed;
                e.consumed_at = Some(now());
                e.call_pid = Some(std::process::id());
                e.ip_forward_was = std::fs::read_to_string(IP_FORWARD)
                    .ok()
                    .map(|s| s.trim().to_string());
                Ok((Some(e), ()))
            })
            .map_err(|e| e.to_string())
    })
}

/// After the call: the call is over; the enablement stays consumed.
pub fn finish(store: &Store) -> Result<(), InboundError> {
    store.update(|old| {
        let Some(mut e) = old else {
            return Ok((None, ()));
        };
        if e.call_pid == Some(std::process::id()) {
            e.call_pid = None;
            e.ip_forward_was = None;
        }
        Ok((Some(e), ()))
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
    fn a_damaged_pid_names_no_process() {
        // kill(0, ...) would be our process group, kill(-1, ...) everyone.
        assert_eq!(process(0), None);
        assert_eq!(process(u32::MAX), None);
        assert_eq!(process(1u32 << 31), None);
        assert!(!alive(0));
        assert!(!alive(u32::MAX));
        assert_eq!(process(1), Some(Pid::from_raw(1)));
        assert!(alive(std::process::id()));
    }

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
            vec!["+1 (555) 014-2".into(), "0171 *".into()],
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
            vec!["555-CALL".into()],
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
