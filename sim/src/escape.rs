//! The Hayes escape from data state: a guard time of silence, three
//! escape characters (S2) each within the guard time of the one before,
//! and the guard time again. Pure: the caller says what time it is.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Clone, Debug)]
pub struct Escape {
    /// Escape characters seen so far in a row.
    count: u8,
    last_byte: Instant,
    /// When the escape completes if nothing else arrives.
    deadline: Option<Instant>,
}

impl Escape {
    /// Entering data state counts as the last byte sent: the first guard
    /// time runs from there.
    pub fn new(now: Instant) -> Escape {
        Escape {
            count: 0,
            last_byte: now,
            deadline: None,
        }
    }

    /// Bytes the DTE sent at `now`. An escape character above 127 turns
    /// the escape off, as S2 does on Hayes modems.
    pub fn feed(&mut self, bytes: &[u8], now: Instant, esc: u8, guard: Duration) {
        for &b in bytes {
            let idle = now.saturating_duration_since(self.last_byte);
            let counts = esc <= 127
                && b == esc
                && match self.count {
                    0 => idle >= guard,
                    1 | 2 => idle <= guard,
                    _ => false,
                };
            self.count = if counts { self.count + 1 } else { 0 };
            self.last_byte = now;
        }
        self.deadline = (self.count == 3).then(|| now + guard);
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether the escape completed by `now`.
    pub fn poll(&mut self, now: Instant) -> bool {
        match self.deadline {
            Some(d) if now >= d => {
                self.count = 0;
                self.deadline = None;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUARD: Duration = Duration::from_secs(1);

    fn ms(start: Instant, n: u64) -> Instant {
        start + Duration::from_millis(n)
    }

    #[test]
    fn guarded_plus_plus_plus_escapes() {
        let t = Instant::now();
        let mut e = Escape::new(t);
        e.feed(b"+++", ms(t, 1000), b'+', GUARD);
        assert_eq!(e.deadline(), Some(ms(t, 2000)));
        assert!(!e.poll(ms(t, 1999)));
        assert!(e.poll(ms(t, 2000)));
        assert_eq!(e.deadline(), None);
    }

    #[test]
    fn typed_slowly_within_the_guard_still_escapes() {
        let t = Instant::now();
        let mut e = Escape::new(t);
        e.feed(b"+", ms(t, 1500), b'+', GUARD);
        e.feed(b"+", ms(t, 2400), b'+', GUARD);
        e.feed(b"+", ms(t, 3300), b'+', GUARD);
        assert!(e.poll(ms(t, 4300)));
    }

    #[test]
    fn no_guard_before_means_data() {
        let t = Instant::now();
        let mut e = Escape::new(t);
        e.feed(b"x", ms(t, 1000), b'+', GUARD);
        e.feed(b"+++", ms(t, 1500), b'+', GUARD);
        assert_eq!(e.deadline(), None);
        assert!(!e.poll(ms(t, 5000)));
        // Data glued to the pluses.
        e.feed(b"x+++", ms(t, 7000), b'+', GUARD);
        assert_eq!(e.deadline(), None);
    }

    #[test]
    fn data_after_the_pluses_cancels() {
        let t = Instant::now();
        let mut e = Escape::new(t);
        e.feed(b"+++", ms(t, 1000), b'+', GUARD);
        e.feed(b"y", ms(t, 1500), b'+', GUARD);
        assert!(!e.poll(ms(t, 3000)));
        // A fourth plus is data too.
        e.feed(b"+++", ms(t, 3000), b'+', GUARD);
        e.feed(b"+", ms(t, 3100), b'+', GUARD);
        assert!(!e.poll(ms(t, 9000)));
    }

    #[test]
    fn too_slow_between_pluses_is_data() {
        let t = Instant::now();
        let mut e = Escape::new(t);
        e.feed(b"+", ms(t, 1000), b'+', GUARD);
        e.feed(b"+", ms(t, 2100), b'+', GUARD);
        e.feed(b"+", ms(t, 2200), b'+', GUARD);
        assert_eq!(e.deadline(), None);
    }

    #[test]
    fn s2_chooses_the_character_and_above_127_disables() {
        let t = Instant::now();
        let mut e = Escape::new(t);
        e.feed(b"+++", ms(t, 1000), b'-', GUARD);
        assert_eq!(e.deadline(), None);
        e.feed(b"---", ms(t, 3000), b'-', GUARD);
        assert!(e.poll(ms(t, 4000)));
        e.feed(&[200, 200, 200], ms(t, 6000), 200, GUARD);
        assert_eq!(e.deadline(), None);
    }

    #[test]
    fn zero_guard_escapes_at_once() {
        let t = Instant::now();
        let mut e = Escape::new(t);
        e.feed(b"abc+++", ms(t, 1), b'+', Duration::ZERO);
        assert!(e.poll(ms(t, 1)));
    }
}
