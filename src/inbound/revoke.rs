//! Noticing, while a service call waits or runs, that the customer has
//! withdrawn the enablement (`carrier inbound disable` in another shell):
//! inotify on the state directory wakes the watcher as the record is
//! replaced, so the call hangs up at once, not at the next poll. Where
//! inotify cannot be had (its limits, a file system without it) the record
//! is polled, as it also is now and then beside inotify in case an event
//! was missed.

use std::time::Duration;

use carrier_hw::{DirWatch, Recheck};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::call::still_allowed;
use super::Store;

/// With inotify, how often the record is read anyway; without, how often
/// it is read.
const LOOKS: Recheck = Recheck {
    watched: RECHECK,
    unwatched: Duration::from_millis(300),
};
const RECHECK: Duration = Duration::from_secs(10);

/// A running watcher; dropping it stops the watching.
#[derive(Debug)]
pub struct Revocation {
    pub revoked: watch::Receiver<bool>,
    task: JoinHandle<()>,
    /// Whether inotify is in use (else the record is polled).
    pub notified: bool,
}

impl Drop for Revocation {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts watching `store`; `revoked` turns true once the enablement no
/// longer allows the call (disabled, removed or unreadable). Call within
/// a tokio runtime.
pub fn watch(store: Store) -> Revocation {
    let (tx, revoked) = watch::channel(false);
    // The record is replaced by a rename (Store::update), or removed.
    let fd = DirWatch::or_poll(store.dir());
    let notified = fd.is_some();
    let task = tokio::spawn(async move {
        let revoked_now = || Ok::<_, std::convert::Infallible>(!still_allowed(&store));
        let _ = carrier_hw::wait_in_dir(fd.as_ref(), LOOKS, None, revoked_now).await;
        let _ = tx.send(true);
    });
    Revocation {
        revoked,
        task,
        notified,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::call::{enable, Limits};
    use crate::inbound::{AuthKind, State};
    use std::net::Ipv4Addr;

    #[tokio::test]
    async fn a_disabled_record_is_seen_at_once_not_at_the_next_poll() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        enable(
            &store,
            Ipv4Addr::new(10, 99, 0, 1),
            Ipv4Addr::new(10, 99, 0, 2),
            Vec::new(),
            false,
            AuthKind::Chap,
            Limits {
                allowed_callers: Vec::new(),
                ipv6: false,
            },
        )
        .unwrap();
        let mut w = watch(store.clone());
        assert!(w.notified, "inotify on a temporary directory");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!*w.revoked.borrow());
        // What `disable` writes, without its clean-up of a crashed call.
        store
            .update(|old| {
                let mut e = old.unwrap();
                e.state = State::Disabled;
                Ok((Some(e), ()))
            })
            .unwrap();
        // Well inside RECHECK: only the notification can have woken it.
        tokio::time::timeout(RECHECK / 2, w.revoked.wait_for(|r| *r))
            .await
            .expect("revocation noticed by inotify")
            .unwrap();
    }
}
