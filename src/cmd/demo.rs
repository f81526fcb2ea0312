//! The built-in demonstration: both ends of a call in one process.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use carrier::events::{Format, Reporter};
use carrier::net::fence::{FencePlane, FenceStats};
use carrier::net::probe::ProbePlane;
use carrier::net::NoIp;
use carrier::ppp::auth::{AuthConfig, AuthProto, Secret};
use carrier::ppp::link::LinkConfig;
use carrier::secrets::SecretsTable;
use carrier::session::{self, SessionConfig};
use carrier_hw::AsyncTty;
use serde_json::json;
use tokio::sync::watch;

use super::common::*;
use crate::DemoArgs;

/// Both ends over a paced PTY cable: an access server asking for PAP and
/// giving out an address and DNS, and a client dialing in.
pub async fn demo(a: DemoArgs, format: Format) -> Result<u8, Fatal> {
    use carrier_sim::{LineProfile, NullModem};

    let profile = LineProfile {
        bitrate: Some(a.bitrate),
        latency: Duration::from_millis(a.latency_ms),
    };
    let cable = NullModem::spawn(profile).map_err(|e| fatal(EXIT_FATAL, e.to_string()))?;
    let mut server_tty =
        AsyncTty::open(cable.end_a(), None).map_err(|e| fatal(EXIT_FATAL, e.to_string()))?;
    let mut client_tty =
        AsyncTty::open(cable.end_b(), None).map_err(|e| fatal(EXIT_FATAL, e.to_string()))?;

    let reporter = Reporter::new(format);
    reporter.emit(
        "demo",
        json!({"bitrate": a.bitrate, "latency_ms": a.latency_ms,
               "server_device": cable.end_a(), "client_device": cable.end_b()}),
        &format!(
            "simulated line {} bit/s, {} ms latency: server on {}, client on {}",
            a.bitrate,
            a.latency_ms,
            cable.end_a().display(),
            cable.end_b().display()
        ),
    );

    let mut server = LinkConfig::default();
    server.lcp.require_auth = vec![AuthProto::Pap];
    server.ipcp.local = Some(Ipv4Addr::new(10, 64, 0, 1));
    server.ipcp.remote = Some(Ipv4Addr::new(10, 64, 0, 2));
    server.ipcp.dns = [Some(Ipv4Addr::new(10, 64, 0, 53)), None];
    server.auth = AuthConfig {
        name: "access-server".into(),
        secrets: Arc::new(SecretsTable::single(
            "demo",
            "*",
            Secret::new("demo-password"),
        )),
        ..AuthConfig::default()
    };
    let mut client = LinkConfig::default();
    client.ipcp.request_dns = true;
    client.echo.interval = Some(Duration::from_secs(1));
    client.echo.failure = 3;
    client.auth = AuthConfig {
        name: "demo".into(),
        password: Some(Secret::new("demo-password")),
        ..AuthConfig::default()
    };

    let (server_stop_tx, server_stop) = watch::channel(false);
    let (client_stop_tx, client_stop) = watch::channel(false);
    let signals = stop_on_signals()?;
    let server_rep = Reporter::new(format).with_label("server");
    let client_rep = Reporter::new(format).with_label("client");

    // Behind the server: one service host and the DNS server, fenced.
    let service = Ipv4Addr::new(10, 64, 1, 10);
    let outside = Ipv4Addr::new(10, 64, 9, 99);
    let fence_stats = Arc::new(FenceStats::default());
    let mut server_ip = FencePlane::new(
        vec![service],
        vec![Ipv4Addr::new(10, 64, 0, 53)],
        fence_stats.clone(),
    );
    let (probes_done_tx, mut probes_done) = watch::channel(false);
    let mut client_ip = ProbePlane::new(NoIp::default(), &[service, outside], client_rep.clone())
        .notify_finished(probes_done_tx);
    let server_task = session::run(
        &mut server_tty,
        &mut server_ip,
        SessionConfig {
            link: server,
            pcap: None,
            ..SessionConfig::default()
        },
        &server_rep,
        server_stop,
    );
    let client_task = session::run(
        &mut client_tty,
        &mut client_ip,
        SessionConfig {
            link: client,
            pcap: a.pcap.clone(),
            ..SessionConfig::default()
        },
        &client_rep,
        client_stop,
    );
    // Hang up from the client side once the probes are done (or after
    // `hold` seconds), or at once on a signal.
    let hold = Duration::from_secs(a.hold);
    let hangup = async {
        let mut signals = signals;
        tokio::select! {
            _ = tokio::time::sleep(hold) => {}
            _ = probes_done.wait_for(|d| *d) => {}
            _ = signals.changed() => {}
        }
        let _ = client_stop_tx.send(true);
        std::future::pending::<()>().await;
    };
    let (s, c) = tokio::select! {
        r = async { tokio::join!(server_task, client_task) } => r,
        _ = hangup => unreachable!("hangup never completes"),
    };
    drop(server_stop_tx);
    let (s, c) = (
        s.map_err(|e| fatal(EXIT_FATAL, e.to_string()))?,
        c.map_err(|e| fatal(EXIT_FATAL, e.to_string()))?,
    );
    finish(&client_rep, &c);
    finish(&server_rep, &s);
    server_rep.emit(
        "fence",
        json!({"fence": &*fence_stats}),
        &format!(
            "fence: {} datagrams forwarded, {} dropped at the fence",
            fence_stats
                .forwarded
                .load(std::sync::atomic::Ordering::Relaxed),
            fence_stats.dropped()
        ),
    );
    // Success: the client hung up (user request) and the server saw it.
    let ok = c.reason == carrier::ppp::DownReason::UserRequest
        && s.reason == carrier::ppp::DownReason::PeerTerminated;
    Ok(if ok { 0 } else { c.exit_code() as u8 })
}
