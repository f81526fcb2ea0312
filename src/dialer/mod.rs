//! The dialer: one call out through a modem, and pppd's `persist` around
//! it: lock the port, dial the number list (or run a chat script), run PPP
//! on the connected line, hang up, release the port; again after
//! `holdoff` if asked to persist, or when traffic comes under `demand`.

mod connect_script;
mod place;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use tokio::sync::watch;

use crate::call::CallError;
use crate::demand::{self, DemandConfig};
use crate::events::Reporter;
use crate::exit;
use crate::modem::dial::DialPlan;
use crate::modem::hangup::HangupOptions;
use crate::net::IpPlane;
use crate::port::PortSpec;
use crate::ppp::{DownReason, Event};
use crate::redial::{CallResult, Next, Redial};
use crate::session::{self, Outcome, SessionConfig};

pub use connect_script::run_connect_script;

/// pppd's `demand`: the interface is made before any call, with
/// placeholder addresses, and waits for traffic.
pub fn demand_plane(
    plane: crate::net::tun::TunPlane,
    ifname: &str,
    demand: &DemandConfig,
    reporter: &Reporter,
) -> Result<crate::net::tun::TunPlane, CallError> {
    let unit = crate::net::tun::unit_number(ifname)
        .and_then(|u| u8::try_from(u).ok())
        .unwrap_or(0);
    let addrs = demand::placeholders(unit, 1500);
    let plane = plane
        .demand(&addrs, demand.queue)
        .map_err(|source| CallError::Interface {
            ifname: ifname.to_string(),
            source,
        })?;
    reporter.emit(
        "ip-interface",
        json!({"detail": "demand", "interface": plane.interface(),
               "local": addrs.local, "peer": addrs.peer}),
        &format!(
            "interface {} {} peer {} waits for traffic (demand)",
            plane.interface().unwrap_or_default(),
            addrs.local,
            addrs.peer.unwrap_or(addrs.local)
        ),
    );
    Ok(plane)
}

/// Everything one call needs, already resolved from profile and flags.
#[derive(Clone, Debug)]
pub struct CallSetup {
    pub port: PortSpec,
    pub plan: DialPlan,
    /// A chat(8) script run instead of the built-in dialer.
    pub connect_script: Option<PathBuf>,
    pub session: SessionConfig,
    pub persist: bool,
    pub holdoff: Duration,
    /// Consecutive failed calls before giving up; 0: never (pppd's
    /// `maxfail`).
    pub maxfail: u32,
    pub hangup: HangupOptions,
    /// A null-modem line (pppd's `local`): no AT commands, no modem
    /// control lines, PPP at once.
    pub direct: bool,
    /// pppd's `demand`: wait for traffic before each call.
    pub demand: Option<DemandConfig>,
}

/// How one call ended.
pub(crate) enum CallEnd {
    /// PPP ran; the link came up to the network phase or not.
    Session(Box<Outcome>),
    /// No PPP: the dial failed, with this exit status.
    Failed(u8),
}

/// Places calls until one ends for good; returns the exit status. The
/// plane serves every call: a TUN made per call goes with its call, a
/// demand one stays.
pub async fn run<P: IpPlane>(
    setup: &CallSetup,
    plane: &mut P,
    reporter: &Reporter,
    mut stop: watch::Receiver<bool>,
) -> Result<u8, CallError> {
    let mut redial = Redial::new(
        setup.persist,
        setup.holdoff,
        setup.maxfail,
        setup.demand.is_some(),
    );
    loop {
        let mut this = setup.clone();
        if let Some(d) = &setup.demand {
            match demand::wait_for_traffic(plane, d, reporter, &mut stop).await {
                Some(trigger) => this.session.pending = vec![trigger],
                None => {
                    reporter.link_event(&Event::Down {
                        reason: DownReason::UserRequest,
                    });
                    return Ok(exit::SIGNAL);
                }
            }
        }
        let end = place::place_call(&this, plane, reporter, stop.clone()).await?;
        let (code, worked) = match &end {
            CallEnd::Session(o) => {
                let code = session::report_end(reporter, o);
                (code, o.link.ip_up > 0 || o.link.ipv6_up > 0)
            }
            CallEnd::Failed(code) => (*code, false),
        };
        if setup.demand.is_some() && !worked {
            // What the host queued for this call will not be carried: the
            // trigger too, if no session ever took it.
            let trigger = match &end {
                CallEnd::Failed(_) => this.session.pending.len() as u64,
                CallEnd::Session(_) => 0,
            };
            let n = plane.discard_queued() + trigger;
            if n > 0 {
                reporter.emit(
                    "demand-dropped",
                    json!({"datagrams": n}),
                    &format!("{n} queued datagram(s) dropped: the call failed"),
                );
            }
        }
        let stopped = *stop.borrow_and_update();
        let result = CallResult {
            reason: match &end {
                CallEnd::Session(o) => Some(o.reason),
                CallEnd::Failed(_) => None,
            },
            worked,
            stopped,
        };
        let holdoff = match redial.after(result) {
            Next::Finish => return Ok(code),
            Next::GiveUp { failures } => {
                reporter.emit(
                    "maxfail",
                    json!({"failures": failures}),
                    &format!("{failures} calls failed in a row (maxfail): giving up"),
                );
                return Ok(code);
            }
            // pppd skips the holdoff after an idle hang-up under demand.
            Next::Again => continue,
            Next::Redial { after } => after,
        };
        reporter.emit(
            "holdoff",
            json!({"seconds": holdoff.as_secs_f64()}),
            &format!(
                "{} in {} s ({})",
                if setup.demand.is_some() {
                    "waiting for traffic again"
                } else {
                    "redialing"
                },
                holdoff.as_secs(),
                if setup.demand.is_some() {
                    "demand"
                } else {
                    "persist"
                }
            ),
        );
        tokio::select! {
            _ = tokio::time::sleep(holdoff) => {}
            // A signal while waiting to redial ends carrier as pppd ends:
            // terminated (5), the link's end reported. (A stop channel
            // nobody can send on any more only leaves the sleep.)
            Ok(()) = stop.changed() => {
                reporter.link_event(&Event::Down { reason: DownReason::UserRequest });
                return Ok(exit::SIGNAL);
            }
        }
        if setup.demand.is_some() {
            let n = plane.discard_queued();
            if n > 0 {
                tracing::info!(datagrams = n, "queued during the holdoff: dropped");
            }
        }
    }
}
