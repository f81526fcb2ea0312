//! Line pacing, written once for the null-modem cable and the calls of
//! the exchange: bytes take 10 bit times each on an async 8N1 line, queue
//! behind each other, then travel for the latency.

use std::time::Duration;

use tokio::time::Instant;

use crate::scale::TimeScale;

/// Speed and delay of a simulated line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LineProfile {
    /// Bits per second; None carries bytes as fast as the PTYs allow.
    pub bitrate: Option<u32>,
    /// One-way delay added to every byte.
    pub latency: Duration,
}

impl Default for LineProfile {
    fn default() -> Self {
        LineProfile {
            bitrate: None,
            latency: Duration::ZERO,
        }
    }
}

impl LineProfile {
    /// Time to clock `n` bytes onto an async 8N1 line: 10 bits each.
    pub fn transmit_time(&self, n: usize) -> Duration {
        match self.bitrate {
            Some(bps) if bps > 0 => Duration::from_secs_f64(n as f64 * 10.0 / f64::from(bps)),
            _ => Duration::ZERO,
        }
    }
}

/// How far ahead of the line a sender may get before it is held back.
const SLACK: Duration = Duration::from_millis(50);

/// One direction of a line: books bytes onto it as they are read.
#[derive(Debug)]
pub struct Pacer {
    profile: LineProfile,
    scale: TimeScale,
    line_free: Instant,
}

impl Pacer {
    pub fn new(profile: LineProfile, scale: TimeScale) -> Pacer {
        Pacer {
            profile,
            scale,
            line_free: Instant::now(),
        }
    }

    /// How many bytes to read at a time: about 1 ms of line time, so the
    /// pacing stays smooth at low rates and a short frame is not held back
    /// waiting for a chunk to fill (a 10 ms chunk cost every LCP exchange
    /// up to 10 ms per direction).
    pub fn chunk(&self, max: usize) -> usize {
        match self.profile.bitrate {
            Some(bps) if bps > 0 => {
                let per_ms = f64::from(bps) / 10.0 / 1000.0 / self.scale.factor();
                (per_ms as usize).clamp(1, max)
            }
            _ => max,
        }
    }

    /// Books `n` bytes just read onto the line; returns when the last of
    /// them arrives at the far end.
    pub fn book(&mut self, n: usize) -> Instant {
        let tx = self.scale.apply(self.profile.transmit_time(n));
        self.line_free = self.line_free.max(Instant::now()) + tx;
        self.line_free + self.scale.apply(self.profile.latency)
    }

    /// Waits while the line is booked more than a little ahead: a sender
    /// then feels the back-pressure a real modem's flow control would give.
    pub async fn hold(&self) {
        let ahead = self.line_free.saturating_duration_since(Instant::now());
        if ahead > SLACK {
            tokio::time::sleep(ahead - SLACK).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_about_one_millisecond() {
        let p = |bps, scale| {
            let profile = LineProfile {
                bitrate: Some(bps),
                latency: Duration::ZERO,
            };
            Pacer::new(profile, TimeScale::new(scale).unwrap()).chunk(512)
        };
        assert_eq!(p(9600, 1.0), 1);
        assert_eq!(p(300, 1.0), 1);
        assert_eq!(p(33600, 1.0), 3);
        assert_eq!(p(33600, 0.1), 33);
        assert_eq!(p(115200, 0.001), 512);
        assert_eq!(
            Pacer::new(LineProfile::default(), TimeScale::REAL).chunk(512),
            512
        );
    }

    #[tokio::test(start_paused = true)]
    async fn bookings_queue_behind_each_other_and_scale() {
        let profile = LineProfile {
            bitrate: Some(9600),
            latency: Duration::from_millis(100),
        };
        let start = Instant::now();
        let mut p = Pacer::new(profile, TimeScale::REAL);
        assert_eq!(p.book(96) - start, Duration::from_millis(200));
        assert_eq!(p.book(96) - start, Duration::from_millis(300));
        let mut fast = Pacer::new(profile, TimeScale::new(0.5).unwrap());
        assert_eq!(fast.book(96) - start, Duration::from_millis(100));
    }
}
