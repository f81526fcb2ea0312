//! One call out through a modem, and pppd's `persist` around it: lock the
//! port, dial the number list, run PPP on the connected line, hang up,
//! release the port; again after `holdoff` if asked to persist.

use std::convert::Infallible;
use std::path::PathBuf;
use std::time::Duration;

use carrier::demand::{self, DemandConfig};
use carrier::events::Reporter;
use carrier::modem::dial::{self, DialEvent, DialPlan};
use carrier::modem::hangup::HangupOptions;
use carrier::net::IpPlane;
use carrier::ppp::{DownReason, Event};
use carrier::redial::{CallResult, Next, Redial};
use carrier::session::{Outcome, SessionConfig};
use serde_json::json;
use tokio::sync::watch;

use super::common::*;
use super::line::ModemPort;

/// How often a long wait (dialing, waiting for CONNECT) says it is still
/// waiting.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Everything one call needs, already resolved from profile and flags.
#[derive(Clone, Debug)]
pub struct CallSetup {
    pub device: PathBuf,
    pub speed: Option<u32>,
    pub flow: carrier_hw::Flow,
    pub lock_dir: PathBuf,
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
enum CallEnd {
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
) -> Result<u8, Fatal> {
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
                    return Ok(EXIT_SIGNAL);
                }
            }
        }
        let end = place_call(&this, plane, reporter, stop.clone()).await?;
        let (code, worked) = match &end {
            CallEnd::Session(o) => {
                let code = finish(reporter, o);
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
                return Ok(EXIT_SIGNAL);
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

async fn place_call<P: IpPlane>(
    setup: &CallSetup,
    plane: &mut P,
    reporter: &Reporter,
    stop: watch::Receiver<bool>,
) -> Result<CallEnd, Fatal> {
    let mut port = ModemPort::open(&setup.device, setup.speed, setup.flow, &setup.lock_dir)?;
    if setup.direct {
        reporter.emit(
            "connect",
            json!({"device": setup.device, "speed": setup.speed, "direct": true}),
            &format!("{}: direct line, starting PPP", setup.device.display()),
        );
        let mut line = port.direct();
        let outcome = line
            .run(plane, setup.session.clone(), reporter, stop)
            .await
            .map_err(|e| fatal(EXIT_FATAL, e.to_string()));
        line.hang_up(reporter).await;
        return Ok(CallEnd::Session(Box::new(outcome?)));
    }
    let mut stop_dial = stop.clone();
    let dialed = if let Some(script) = &setup.connect_script {
        let phone = setup
            .plan
            .numbers
            .first()
            .map(|n| n.number.clone())
            .unwrap_or_default();
        tokio::select! {
            r = super::script::run_connect_script(&mut port.at, script, &phone, reporter) => r.map(|speed| (phone.clone(), None, speed, 1u32)),
            _ = stop_dial.wait_for(|s| *s) => Err(5),
        }
    } else {
        // What we are waiting on, for the progress line.
        let current = std::cell::RefCell::new(String::from("the modem"));
        let dial_events = |ev: DialEvent| {
            if let DialEvent::Dialing { number, label, .. } = &ev {
                *current.borrow_mut() = match label {
                    Some(l) => format!("{number} ({l})"),
                    None => number.clone(),
                };
            }
            report_dial(reporter, &ev)
        };
        tokio::select! {
            // The ticker never ends: its output type has no value.
            never = progress(reporter, &current) => match never {},
            r = dial::dial(&mut port.at, &setup.plan, dial_events) => match r {
                Ok(c) => Ok((c.number.number.clone(), c.number.label.clone(), c.connect.speed, c.tries)),
                Err(e) => {
                    reporter.emit(
                        "dial-failed",
                        json!({"reason": e.to_string(), "code": e.exit_code()}),
                        &format!("dial failed: {e}"),
                    );
                    Err(e.exit_code() as u8)
                }
            },
            _ = stop_dial.wait_for(|s| *s) => Err(5),
        }
    };
    let (number, label, speed, tries) = match dialed {
        Ok(v) => v,
        Err(code) => {
            // Whatever state the modem is in, leave it on-hook.
            port.abandon(&setup.hangup).await;
            return Ok(CallEnd::Failed(code));
        }
    };
    reporter.emit(
        "connect",
        json!({"device": setup.device, "number": number, "label": label,
               "speed": speed, "tries": tries, "direct": false}),
        &format!(
            "CONNECT {}: {}{} after {} tr{}",
            speed.map(|s| s.to_string()).unwrap_or_default(),
            number,
            label.map(|l| format!(" ({l})")).unwrap_or_default(),
            tries,
            if tries == 1 { "y" } else { "ies" }
        ),
    );
    let mut line = port.connected(setup.hangup.clone());
    let outcome = line
        .run(plane, setup.session.clone(), reporter, stop)
        .await
        .map_err(|e| fatal(EXIT_FATAL, e.to_string()));
    line.hang_up(reporter).await;
    Ok(CallEnd::Session(Box::new(outcome?)))
}

/// Says every [`PROGRESS_EVERY`] what the dial is still waiting for;
/// never returns.
async fn progress(reporter: &Reporter, current: &std::cell::RefCell<String>) -> Infallible {
    let start = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    tick.tick().await;
    loop {
        tick.tick().await;
        let secs = start.elapsed().as_secs();
        let what = current.borrow().clone();
        reporter.emit(
            "progress",
            json!({"waiting_for": what, "seconds": secs}),
            &format!("… still waiting for {what} ({secs} s)"),
        );
    }
}

fn report_dial(reporter: &Reporter, ev: &DialEvent) {
    match ev {
        DialEvent::Init { cmd } => {
            tracing::info!(%cmd, "modem init");
        }
        DialEvent::Dialing {
            number,
            label,
            attempt,
        } => reporter.emit(
            "dialing",
            json!({"number": number, "label": label, "attempt": attempt}),
            &format!(
                "dialing {}{}…",
                number,
                label
                    .as_ref()
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default()
            ),
        ),
        DialEvent::Failed {
            number,
            label,
            result,
        } => reporter.emit(
            "dial-result",
            json!({"number": number, "label": label, "result": result.to_string()}),
            &format!(
                "{}{}: {}",
                number,
                label
                    .as_ref()
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default(),
                result
            ),
        ),
        DialEvent::TimedOut { number, label } => reporter.emit(
            "dial-result",
            json!({"number": number, "label": label, "result": "timeout"}),
            &format!(
                "{}{}: no answer in time",
                number,
                label
                    .as_ref()
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default()
            ),
        ),
        DialEvent::Backoff { secs } => reporter.emit(
            "backoff",
            json!({"seconds": secs}),
            &format!("all numbers failed: trying again in {secs} s"),
        ),
    }
}
