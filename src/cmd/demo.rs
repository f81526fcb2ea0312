//! The built-in demonstration, and what `carrier dial` does with no modem:
//! the simulator runs in-process with one modem and an exchange where an
//! AT&T-style number list leads first to a busy line, then to carrier's
//! access server. carrier dials the list through the simulated modem
//! exactly as it would a real one, authenticates with PAP, gets its
//! address, and probes the fenced service address (reachable) and an
//! outside one (dropped at the fence).

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use carrier::access::{demo as account, AccessServer};
use carrier::dialer::{self as call, CallSetup};
use carrier::events::{Format, Reporter};
use carrier::modem::dial::{DialPlan, Number};
use carrier::modem::hangup::HangupOptions;
use carrier::net::probe::ProbePlane;
use carrier::net::NoIp;
use carrier::port::PortSpec;
use carrier::ppp::auth::{AuthConfig, Secret};
use carrier::ppp::link::LinkConfig;
use carrier::session::SessionConfig;
use carrier_sim::{CallInfo, Destination, ModemSpec, Sim, SimConfig};
use serde_json::json;
use tokio::sync::watch;

use super::common::*;
use crate::DemoArgs;

/// The demo's number list: the first is busy, as AT&T's lists often are.
pub const NUMBERS: [(&str, &str, &str); 2] = [
    ("555-0100", "Chicago", "busy"),
    ("555-0199", "Dallas", "access-server"),
];

/// Removes the demo's link directory however the demo ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub async fn demo(a: DemoArgs, format: Format) -> Result<u8, Fatal> {
    let dir = TempDir(std::env::temp_dir().join(format!("carrier-demo-{}", std::process::id())));
    let server = Arc::new(AccessServer::new(account::config(None)));
    let mut config = SimConfig::new(&dir.0, 1);
    config.modems = vec![ModemSpec {
        speed: Some(a.bitrate),
        latency: Duration::from_millis(a.latency_ms),
        ..ModemSpec::default()
    }];
    for (number, _, dest) in NUMBERS {
        let dest = if dest == "busy" {
            Destination::Busy
        } else {
            Destination::Service(dest.into())
        };
        config = config.route(number, dest);
    }
    config = config.service(
        "access-server",
        Arc::new({
            let server = server.clone();
            move |line, call: CallInfo| server.serve_call(line, call.call, &call.caller)
        }),
    );
    let sim = Sim::start(config).map_err(|e| fatal(EXIT_FATAL, format!("simulator: {e}")))?;
    let device = sim
        .link(0)
        .ok_or_else(|| fatal(EXIT_FATAL, "simulator: no modem"))?
        .to_path_buf();

    let reporter = Reporter::new(format);
    reporter.emit(
        "demo",
        json!({"device": device, "bitrate": a.bitrate, "latency_ms": a.latency_ms,
               "numbers": NUMBERS.iter().map(|(n, l, d)| json!({"number": n, "label": l, "leads_to": d})).collect::<Vec<_>>()}),
        &format!(
            "no modem configured: dialing the built-in simulator ({} bit/s, {} ms latency) on {}",
            a.bitrate,
            a.latency_ms,
            device.display()
        ),
    );

    // The demo dials with what `carrier dial` runs.
    let mut link = LinkConfig::pppd();
    link.ipcp.request_dns = true;
    link.echo.interval = Some(Duration::from_secs(5));
    link.echo.failure = 3;
    link.auth = AuthConfig {
        name: account::USER.into(),
        password: Some(Secret::new(account::PASSWORD)),
        ..AuthConfig::default()
    };
    let setup = CallSetup {
        port: PortSpec {
            flow: carrier_hw::Flow::None,
            // The simulator's PTYs are ours alone: lock them next to the links.
            lock_dir: dir.0.clone(),
            pty_lines: Some(carrier_sim::lines_for),
            ..PortSpec::new(device)
        },
        plan: DialPlan {
            numbers: NUMBERS
                .iter()
                .map(|(n, l, _)| Number {
                    number: n.to_string(),
                    label: Some(l.to_string()),
                })
                .collect(),
            deadline: Duration::from_secs(a.hold.max(60)),
            ..DialPlan::default()
        },
        connect_script: None,
        session: SessionConfig {
            link,
            pcap: a.pcap.clone(),
            ..SessionConfig::default()
        },
        persist: false,
        holdoff: Duration::ZERO,
        maxfail: 1,
        hangup: HangupOptions::default(),
        direct: false,
        demand: None,
    };

    // Hang up once the probes are done, after `hold` seconds at the
    // latest, or at once on a signal.
    let (stop_tx, stop) = watch::channel(false);
    let (probes_tx, mut probes_done) = watch::channel(false);
    let mut signals = stop_on_signals()?;
    let hold = Duration::from_secs(a.hold);
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep(hold) => {}
            _ = probes_done.wait_for(|d| *d) => {}
            _ = signals.changed() => {}
        }
        let _ = stop_tx.send(true);
    });
    let targets = [account::SERVICE, account::OUTSIDE];
    let probe_rep = reporter.clone();
    let mut plane = ProbePlane::new(NoIp::default(), &targets, probe_rep.clone())
        .notify_finished(probes_tx.clone());
    let code = call::run(&setup, &mut plane, &reporter, stop).await?;

    let fence = &server.stats.fence;
    let st = &server.stats;
    let (calls, authenticated, auth_failed, pool_exhausted) = (
        st.calls.load(Ordering::Relaxed),
        st.authenticated.load(Ordering::Relaxed),
        st.auth_failed.load(Ordering::Relaxed),
        st.pool_exhausted.load(Ordering::Relaxed),
    );
    reporter.emit(
        "fence",
        json!({
            "fence": &**fence,
            "calls": calls, "authenticated": authenticated,
            "auth_failed": auth_failed, "pool_exhausted": pool_exhausted,
        }),
        &format!(
            "access server: {calls} call(s), {authenticated} authenticated, {auth_failed} refused, \
             {pool_exhausted} turned away (no address free); fence forwarded {} datagram(s), dropped {}",
            fence.forwarded.load(Ordering::Relaxed),
            fence.dropped()
        ),
    );
    drop(sim);
    // We hung up on purpose once the probes were done: that is success.
    Ok(if code == 5 { 0 } else { code })
}
