//! `now + d` for a deadline, without the panic of `Instant + Duration` on
//! overflow: a wait too long for the clock ends about 31 years out (as
//! good as never), whatever a caller or a configuration asked for.

use std::time::Duration;

/// The longest wait any deadline holds; also the longest time a profile
/// or a flag may give (`profile::MAX_SECONDS` is this).
pub const FOREVER_SECS: u64 = 1_000_000_000;

/// [`after_std`] on tokio's clock, for the drivers.
pub(crate) fn after(now: tokio::time::Instant, d: Duration) -> tokio::time::Instant {
    tokio::time::Instant::from_std(after_std(now.into_std(), d))
}

/// `now + d`, capped at [`FOREVER_SECS`], for the sans-IO parts, which are
/// given `std` time.
pub(crate) fn after_std(now: std::time::Instant, d: Duration) -> std::time::Instant {
    now.checked_add(d.min(Duration::from_secs(FOREVER_SECS)))
        // Not reached on any real clock; still no panic.
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn a_deadline_never_overflows() {
        let now = tokio::time::Instant::now();
        assert_eq!(
            super::after(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        let far = super::after(now, Duration::MAX);
        assert!(far > now + Duration::from_secs(86_400 * 365));
    }
}
