//! carrier: a modem dialer and PPP stack.
//!
//! The protocol core ([`hdlc`], [`ppp`]) is pure: no I/O, no clock, no
//! tasks; so is [`wire`], the one reader of IP, TCP and UDP headers that
//! the core and everything else use. [`session`] drives the core over a
//! serial line with tokio; [`port`] holds a serial port through a call;
//! [`dialer`], [`answerer`] and [`inbound::service`] are the calls'
//! lifecycles, which the `carrier` binary only parses options for and
//! prints.

pub mod access;
pub mod answerer;
pub mod call;
pub mod demand;
pub mod dialer;
pub mod events;
pub mod exit;
pub mod hdlc;
pub mod hooks;
pub mod inbound;
pub mod line;
pub mod modem;
pub mod net;
pub mod pcap;
pub mod port;
pub mod ppp;
pub mod profile;
pub mod redial;
pub mod secrets;
pub mod session;
pub mod wire;

/// `now + d` for a deadline, without the panic of `Instant + Duration` on
/// overflow: a wait too long for the clock ends about 31 years out (as
/// good as never), whatever a caller or a configuration asked for.
pub(crate) fn deadline_after(
    now: tokio::time::Instant,
    d: std::time::Duration,
) -> tokio::time::Instant {
    tokio::time::Instant::from_std(std_deadline_after(now.into_std(), d))
}

/// [`deadline_after`] for the sans-IO parts, which are given `std` time.
pub(crate) fn std_deadline_after(
    now: std::time::Instant,
    d: std::time::Duration,
) -> std::time::Instant {
    const FOREVER: std::time::Duration = std::time::Duration::from_secs(profile::MAX_SECONDS);
    now.checked_add(d.min(FOREVER))
        // Not reached on any real clock; still no panic.
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn deadline_after_never_overflows() {
        let now = tokio::time::Instant::now();
        assert_eq!(
            super::deadline_after(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        let far = super::deadline_after(now, Duration::MAX);
        assert!(far > now + Duration::from_secs(86_400 * 365));
    }
}
