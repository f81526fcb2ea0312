//! What happens after a call ends, as pppd decides it: `persist` dials
//! again after `holdoff`, `maxfail` gives up after that many failed calls
//! in a row (a call that reached the network phase resets the count), and
//! under `demand` an idle hang-up skips the holdoff (the next call waits
//! for traffic anyway). Pure: the dialer asks, then sleeps or returns.

use std::time::Duration;

use crate::ppp::DownReason;

/// How one call went, as far as redialing cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallResult {
    /// Why PPP ended; None if no PPP ran (the dial itself failed).
    pub reason: Option<DownReason>,
    /// An NCP opened: the call did its job.
    pub worked: bool,
    /// A signal asked carrier to stop.
    pub stopped: bool,
}

/// What to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Stop with the last call's exit status.
    Finish,
    /// `maxfail` calls failed in a row: stop with the last call's status.
    GiveUp { failures: u32 },
    /// Call again after the holdoff.
    Redial { after: Duration },
    /// Wait for traffic again at once: an idle hang-up under demand.
    Again,
}

/// pppd's `persist`, `holdoff` and `maxfail`, and `demand`'s idle rule.
#[derive(Clone, Debug)]
pub struct Redial {
    persist: bool,
    holdoff: Duration,
    /// 0: never give up.
    maxfail: u32,
    demand: bool,
    failures: u32,
}

impl Redial {
    pub fn new(persist: bool, holdoff: Duration, maxfail: u32, demand: bool) -> Redial {
        Redial {
            persist,
            holdoff,
            maxfail,
            demand,
            failures: 0,
        }
    }

    /// Failed calls in a row so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    pub fn after(&mut self, call: CallResult) -> Next {
        let user = call.reason == Some(DownReason::UserRequest);
        if !self.persist || call.stopped || user {
            return Next::Finish;
        }
        self.failures = if call.worked { 0 } else { self.failures + 1 };
        if self.maxfail > 0 && self.failures >= self.maxfail {
            return Next::GiveUp {
                failures: self.failures,
            };
        }
        if self.demand && call.reason == Some(DownReason::Idle) {
            return Next::Again;
        }
        Next::Redial {
            after: self.holdoff,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOLDOFF: Duration = Duration::from_secs(30);

    fn ended(reason: Option<DownReason>, worked: bool) -> CallResult {
        CallResult {
            reason,
            worked,
            stopped: false,
        }
    }

    #[test]
    fn without_persist_one_call_is_all() {
        let mut r = Redial::new(false, HOLDOFF, 0, false);
        assert_eq!(
            r.after(ended(Some(DownReason::LowerLayerDown), true)),
            Next::Finish
        );
    }

    #[test]
    fn persist_redials_after_the_holdoff_until_a_signal_or_the_user() {
        let mut r = Redial::new(true, HOLDOFF, 0, false);
        let redial = Next::Redial { after: HOLDOFF };
        assert_eq!(
            r.after(ended(Some(DownReason::LowerLayerDown), true)),
            redial
        );
        assert_eq!(r.after(ended(None, false)), redial);
        let mut stopped = ended(Some(DownReason::LowerLayerDown), true);
        stopped.stopped = true;
        assert_eq!(r.after(stopped), Next::Finish);
        assert_eq!(
            r.after(ended(Some(DownReason::UserRequest), true)),
            Next::Finish
        );
    }

    #[test]
    fn maxfail_counts_failures_in_a_row_and_a_working_call_resets_it() {
        let mut r = Redial::new(true, HOLDOFF, 3, false);
        let failed = ended(None, false);
        let auth = ended(Some(DownReason::AuthFailed), false);
        assert!(matches!(r.after(failed), Next::Redial { .. }));
        assert!(matches!(r.after(auth), Next::Redial { .. }));
        assert_eq!(r.failures(), 2);
        // Up to the network phase, then dropped: not a failure.
        assert!(matches!(
            r.after(ended(Some(DownReason::LowerLayerDown), true)),
            Next::Redial { .. }
        ));
        assert_eq!(r.failures(), 0);
        r.after(failed);
        r.after(failed);
        assert_eq!(r.after(auth), Next::GiveUp { failures: 3 });
    }

    #[test]
    fn an_idle_hang_up_under_demand_skips_the_holdoff() {
        let idle = ended(Some(DownReason::Idle), true);
        let mut demand = Redial::new(true, HOLDOFF, 0, true);
        assert_eq!(demand.after(idle), Next::Again);
        let mut persist = Redial::new(true, HOLDOFF, 0, false);
        assert_eq!(persist.after(idle), Next::Redial { after: HOLDOFF });
    }
}
