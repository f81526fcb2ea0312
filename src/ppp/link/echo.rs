//! LCP Echo (RFC 1661 §5.8): pppd's keepalive, which closes a link whose
//! peer stopped answering, and our answers to the peer's.

use std::time::Instant;

use super::timer::Timer;
use super::{DownReason, Link};
use crate::ppp::fsm::{code, Unhandled};

/// The keepalive's count; its clock is [`Timer::Echo`].
#[derive(Debug, Default)]
pub(super) struct Echo {
    /// Echo-Requests sent since the last reply (or, adaptive, the last
    /// frame in).
    outstanding: u32,
    id: u8,
    /// A frame arrived since the last Echo-Request went out.
    traffic_since: bool,
}

impl Echo {
    /// Any frame in shows the peer alive: with `adaptive`, as good as a
    /// reply.
    pub(super) fn frame_in(&mut self, adaptive: bool) {
        self.traffic_since = true;
        if adaptive {
            self.outstanding = 0;
        }
    }
}

impl Link {
    pub(super) fn our_magic(&self) -> u32 {
        self.lcp.opts.ours.magic.unwrap_or(0)
    }

    /// LCP opened: the keepalive starts counting afresh.
    pub(super) fn echo_start(&mut self, now: Instant) {
        self.echo.outstanding = 0;
        self.timers
            .set(Timer::Echo, self.cfg.echo.interval.map(|i| now + i));
    }

    /// [`Timer::Echo`] ran out: the next Echo-Request, or the end of the
    /// link if `failure` of them went unanswered (pppd's lcp-echo-failure).
    pub(super) fn echo_tick(&mut self, now: Instant) {
        let Some(interval) = self.cfg.echo.interval else {
            self.timers.stop(Timer::Echo);
            return;
        };
        self.timers.set(Timer::Echo, Some(now + interval));
        let e = &mut self.echo;
        if self.cfg.echo.adaptive && e.traffic_since {
            e.traffic_since = false;
            e.outstanding = 0;
            return;
        }
        if self.cfg.echo.failure > 0 && e.outstanding >= self.cfg.echo.failure {
            tracing::warn!(
                missed = e.outstanding,
                "no response to echo-requests; link appears dead"
            );
            self.timers.stop(Timer::Echo);
            self.close(DownReason::EchoTimeout, now);
            return;
        }
        e.traffic_since = false;
        e.outstanding += 1;
        e.id = e.id.wrapping_add(1);
        let id = e.id;
        let magic = self.our_magic().to_be_bytes();
        self.lcp.send(code::ECHO_REQ, id, &magic);
        self.stats.echo_requests_sent += 1;
    }

    /// The peer's Echo-Request, answered with our magic number and its
    /// data (RFC 1661 §5.8), or its Echo-Reply to ours.
    pub(super) fn receive_echo(&mut self, u: &Unhandled<'_>, now: Instant) {
        if !self.lcp.receive_echo_class(now) {
            return;
        }
        if u.code == code::ECHO_REP {
            self.stats.echo_replies_in += 1;
            self.echo.outstanding = 0;
            return;
        }
        self.stats.echo_requests_in += 1;
        let mut data = self.our_magic().to_be_bytes().to_vec();
        data.extend_from_slice(u.data.get(4..).unwrap_or(&[]));
        data.truncate(usize::from(self.lcp.opts.theirs.mru).saturating_sub(4));
        self.lcp.send(code::ECHO_REP, u.id, &data);
    }
}
