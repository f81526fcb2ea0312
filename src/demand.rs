//! pppd's `demand`: the interface exists before any call, and the first
//! datagram the host sends through it (one that counts as activity) makes
//! the modem dial. That datagram and those queued behind it go out once
//! the link is up; `idle` hangs up and the interface waits again.

use std::net::Ipv4Addr;

use serde_json::json;
use tokio::sync::watch;

use crate::events::Reporter;
use crate::net::{IpLink, IpPlane};
use crate::ppp::activity::ActiveFilter;
use crate::ppp::trace::describe;

/// pppd's placeholders for addresses not yet known (ipcp.c
/// `ip_demand_conf`): IPCP may change both (`ipcp-accept-local`,
/// `ipcp-accept-remote`), and the interface follows.
pub const PLACEHOLDER_LOCAL: Ipv4Addr = Ipv4Addr::new(10, 64, 64, 64);
pub const PLACEHOLDER_REMOTE: Ipv4Addr = Ipv4Addr::new(10, 112, 112, 112);

/// Datagrams the interface holds while a call comes up (the kernel's
/// transmit queue; pppd's kernel holds 32 frames).
pub const DEFAULT_QUEUE: u32 = 32;

#[derive(Clone, Debug)]
pub struct DemandConfig {
    /// Which datagrams may dial (and, for `idle`, keep the link up).
    pub filter: ActiveFilter,
    pub queue: u32,
}

impl Default for DemandConfig {
    fn default() -> Self {
        DemandConfig {
            filter: ActiveFilter::default(),
            queue: DEFAULT_QUEUE,
        }
    }
}

/// The interface's addresses before the first call: `unit` offsets both,
/// as pppd adds its unit number.
pub fn placeholders(unit: u8, mtu: u16) -> IpLink {
    let add = |a: Ipv4Addr| Ipv4Addr::from(u32::from(a).wrapping_add(u32::from(unit)));
    IpLink {
        local: add(PLACEHOLDER_LOCAL),
        peer: Some(add(PLACEHOLDER_REMOTE)),
        dns: Vec::new(),
        mtu,
    }
}

/// Waits for a datagram from the host that may bring the link up and
/// returns it; the ones that may not (the host's own chatter, a bare FIN)
/// are dropped and counted. None if asked to stop meanwhile.
pub async fn wait_for_traffic<P: IpPlane>(
    plane: &mut P,
    cfg: &DemandConfig,
    reporter: &Reporter,
    stop: &mut watch::Receiver<bool>,
) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 65536];
    let mut ignored = 0u64;
    reporter.emit(
        "demand-waiting",
        json!({"interface": plane.interface(), "filter": cfg.filter.to_string()}),
        &format!(
            "waiting for traffic on {} to dial",
            plane.interface().unwrap_or_default()
        ),
    );
    loop {
        tokio::select! {
            r = plane.next_outbound(&mut buf) => match r {
                Ok(0) => {}
                Ok(n) => {
                    let d = &buf[..n];
                    if cfg.filter.may_dial(d) {
                        // The trigger's header only: its payload is the
                        // user's.
                        let what = describe_datagram(d);
                        reporter.emit(
                            "demand-dial",
                            json!({"trigger": what, "ignored": ignored}),
                            &format!("traffic to carry ({what}): dialing"),
                        );
                        return Some(d.to_vec());
                    }
                    ignored += 1;
                    tracing::debug!(datagram = %describe_datagram(d), "not activity: dropped");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "interface read failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow_and_update() {
                    return None;
                }
            }
        }
    }
}

fn describe_datagram(d: &[u8]) -> String {
    let protocol = crate::ppp::datagram::classify(d)
        .map(|(p, _)| p)
        .unwrap_or(crate::ppp::proto::IPV4);
    describe(protocol, d).to_string()
}
