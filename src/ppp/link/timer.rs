//! The link's own timers in one table, after quinn-proto's
//! `connection/timer.rs`: one deadline per kind, the earliest is the next
//! wake-up, and an expired one is taken out before it is acted on.

use std::time::Instant;

/// The timers the link itself runs. The automata (LCP, IPCP, IPv6CP,
/// CCP) and the PAP/CHAP machines keep theirs: fsm.rs, pap.rs and chap.rs
/// set and test them against their own state, and their tests drive them
/// there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Timer {
    /// The outstanding CCP Reset-Request is repeated (pppd's RACKTIMEOUT).
    CcpReset = 0,
    /// The next LCP Echo-Request, or the end of waiting for replies.
    Echo = 1,
    /// pppd's `idle`: no IP activity for that long closes the link.
    Idle = 2,
}

impl Timer {
    const COUNT: usize = 3;
}

#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Timers([Option<Instant>; Timer::COUNT]);

impl Timers {
    /// Arms `timer` for `at`; None stops it.
    pub(super) fn set(&mut self, timer: Timer, at: Option<Instant>) {
        self.0[timer as usize] = at;
    }

    pub(super) fn stop(&mut self, timer: Timer) {
        self.0[timer as usize] = None;
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.0.iter().flatten().min().copied()
    }

    /// True, and `timer` stopped, if it ran out by `now`: the caller acts on
    /// it and arms it again if it repeats.
    pub(super) fn take_expired(&mut self, timer: Timer, now: Instant) -> bool {
        let slot = &mut self.0[timer as usize];
        if slot.is_some_and(|t| t <= now) {
            *slot = None;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_earliest_deadline_is_next_and_only_expired_ones_are_taken() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        assert_eq!(t.next_deadline(), None);
        t.set(Timer::Idle, Some(t0 + Duration::from_secs(30)));
        t.set(Timer::Echo, Some(t0 + Duration::from_secs(10)));
        assert_eq!(t.next_deadline(), Some(t0 + Duration::from_secs(10)));
        assert!(!t.take_expired(Timer::Idle, t0 + Duration::from_secs(10)));
        assert!(t.take_expired(Timer::Echo, t0 + Duration::from_secs(10)));
        assert!(!t.take_expired(Timer::Echo, t0 + Duration::from_secs(10)));
        assert_eq!(t.next_deadline(), Some(t0 + Duration::from_secs(30)));
        t.stop(Timer::Idle);
        assert_eq!(t.next_deadline(), None);
    }
}
