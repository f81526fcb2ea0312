//! One call: open the port, dial (or run the connect script), PPP on the
//! connected line, hang up.

use std::convert::Infallible;
use std::time::Duration;

use serde_json::json;
use tokio::sync::watch;

use super::{CallEnd, CallSetup};
use crate::call::CallError;
use crate::events::Reporter;
use crate::exit;
use crate::modem::dial::{self, DialEvent};
use crate::net::IpPlane;
use crate::port::ModemPort;

/// How often a long wait (dialing, waiting for CONNECT) says it is still
/// waiting.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

pub(crate) async fn place_call<P: IpPlane>(
    setup: &CallSetup,
    plane: &mut P,
    reporter: &Reporter,
    stop: watch::Receiver<bool>,
) -> Result<CallEnd, CallError> {
    let mut port = ModemPort::open(&setup.port)?;
    let device = &setup.port.device;
    if setup.direct {
        reporter.emit(
            "connect",
            json!({"device": device, "speed": setup.port.speed, "direct": true}),
            &format!("{}: direct line, starting PPP", device.display()),
        );
        let mut line = port.direct();
        let outcome = line
            .run(plane, setup.session.clone(), reporter, stop)
            .await
            .map_err(CallError::from);
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
            r = super::run_connect_script(&mut port.at, script, &phone, reporter) => r.map(|speed| (phone.clone(), None, speed, 1u32)),
            _ = stop_dial.wait_for(|s| *s) => Err(exit::SIGNAL),
        }
    } else {
        // What we are waiting on, for the progress line.
        // A Mutex, not a RefCell, so that a call can run on any runtime thread.
        let current = std::sync::Mutex::new(String::from("the modem"));
        let dial_events = |ev: DialEvent| {
            if let DialEvent::Dialing { number, label, .. } = &ev {
                *current.lock().unwrap_or_else(|p| p.into_inner()) = match label {
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
            _ = stop_dial.wait_for(|s| *s) => Err(exit::SIGNAL),
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
        json!({"device": device, "number": number, "label": label,
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
        .map_err(CallError::from);
    line.hang_up(reporter).await;
    Ok(CallEnd::Session(Box::new(outcome?)))
}

/// Says every [`PROGRESS_EVERY`] what the dial is still waiting for;
/// never returns.
async fn progress(reporter: &Reporter, current: &std::sync::Mutex<String>) -> Infallible {
    let start = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    tick.tick().await;
    loop {
        tick.tick().await;
        let secs = start.elapsed().as_secs();
        let what = current.lock().unwrap_or_else(|p| p.into_inner()).clone();
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
