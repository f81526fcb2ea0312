//! The time scale: one factor applied to every simulated duration (ring
//! cadence, S-register timers, guard times, line pacing and latency), so
//! that tests run a 6 s ring cadence in 60 ms without changing anything
//! else about the modem.

use std::time::Duration;

use crate::error::SimError;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimeScale(f64);

impl TimeScale {
    pub const REAL: TimeScale = TimeScale(1.0);

    /// `factor` multiplies durations: 0.01 runs a hundred times faster.
    pub fn new(factor: f64) -> Result<TimeScale, SimError> {
        // Bounded so that no scaled S-register time overflows a Duration
        // and no pacing rate becomes infinite.
        if factor.is_finite() && (1e-4..=100.0).contains(&factor) {
            Ok(TimeScale(factor))
        } else {
            Err(SimError::Invalid(format!(
                "time scale {factor} is outside 0.0001..=100"
            )))
        }
    }

    pub fn factor(self) -> f64 {
        self.0
    }

    pub fn apply(self, d: Duration) -> Duration {
        d.mul_f64(self.0)
    }
}

impl Default for TimeScale {
    fn default() -> Self {
        TimeScale::REAL
    }
}
