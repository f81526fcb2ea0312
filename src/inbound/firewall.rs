//! The console's rules for an inbound call, in an nftables table of their
//! own (`ip carrier_inbound`), given to `nft` as JSON: no shell strings.
//!
//! * input, at priority -200 (before the customer's filter chains at 0):
//!   from the link, replies to the console's own connections; then, with
//!   console access, TCP and UDP to the service ports; everything else from
//!   the link is dropped. A drop here stands whatever other tables accept.
//! * prerouting (dstnat - 10): each allowed partition's alias is
//!   translated to the partition's real address.
//! * forward (-200): from the link only what was translated to an allowed
//!   partition; to the link only replies.
//! * postrouting (srcnat - 10): translated traffic leaves masqueraded, so
//!   the partition answers the console, which returns it down the link.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use super::state::Enablement;

pub const TABLE: &str = "carrier_inbound";
const FAMILY: &str = "ip";

/// The service ports of the console (SEED 5.3): TCP and UDP.
pub const SERVICE_PORTS: [u16; 7] = [22, 23, 2125, 2300, 9090, 9735, 9940];
pub const SERVICE_RANGE: (u16, u16) = (30000, 30009);

#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    #[error("cannot run nft (apt-get install nftables): {0}")]
    Spawn(std::io::Error),
    #[error("nft refused the rules: {0}")]
    Refused(String),
}

fn iif(ifname: &str) -> Value {
    json!({"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": ifname}})
}

fn oif(ifname: &str) -> Value {
    json!({"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": ifname}})
}

fn established() -> Value {
    json!({"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}})
}

fn ip(field: &str, addr: Ipv4Addr) -> Value {
    json!({"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": field}}, "right": addr.to_string()}})
}

fn chain(name: &str, kind: &str, hook: &str, prio: i32) -> Value {
    json!({"add": {"chain": {"family": FAMILY, "table": TABLE, "name": name,
        "type": kind, "hook": hook, "prio": prio, "policy": "accept"}}})
}

fn rule(chain: &str, expr: Vec<Value>) -> Value {
    json!({"add": {"rule": {"family": FAMILY, "table": TABLE, "chain": chain, "expr": expr}}})
}

/// The whole table for a call on `ifname` from `caller`. Applying it
/// replaces any earlier copy (the batch deletes the table first).
pub fn ruleset(ifname: &str, caller: Ipv4Addr, e: &Enablement) -> Value {
    let mut cmds = vec![
        // "add" makes the "delete" succeed whether or not a table was left.
        json!({"add": {"table": {"family": FAMILY, "name": TABLE}}}),
        json!({"delete": {"table": {"family": FAMILY, "name": TABLE}}}),
        json!({"add": {"table": {"family": FAMILY, "name": TABLE}}}),
        chain("input", "filter", "input", -200),
        chain("forward", "filter", "forward", -200),
        chain("prerouting", "nat", "prerouting", -110),
        chain("postrouting", "nat", "postrouting", 90),
    ];
    cmds.push(rule(
        "input",
        vec![iif(ifname), established(), json!({"accept": null})],
    ));
    if e.console_access {
        let mut ports: Vec<Value> = SERVICE_PORTS.iter().map(|p| json!(p)).collect();
        ports.push(json!({"range": [SERVICE_RANGE.0, SERVICE_RANGE.1]}));
        cmds.push(rule(
            "input",
            vec![
                iif(ifname),
                ip("saddr", caller),
                json!({"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": {"set": ["tcp", "udp"]}}}),
                json!({"match": {"op": "==", "left": {"payload": {"protocol": "th", "field": "dport"}}, "right": {"set": ports}}}),
                json!({"accept": null}),
            ],
        ));
    }
    cmds.push(rule("input", vec![iif(ifname), json!({"drop": null})]));

    for p in &e.partitions {
        cmds.push(rule(
            "prerouting",
            vec![
                iif(ifname),
                ip("saddr", caller),
                ip("daddr", p.alias),
                json!({"dnat": {"addr": p.address.to_string()}}),
            ],
        ));
        cmds.push(rule(
            "forward",
            vec![
                iif(ifname),
                ip("saddr", caller),
                ip("daddr", p.address),
                json!({"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}}),
                json!({"accept": null}),
            ],
        ));
        cmds.push(rule(
            "postrouting",
            vec![
                ip("saddr", caller),
                ip("daddr", p.address),
                json!({"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}}),
                json!({"masquerade": null}),
            ],
        ));
    }
    cmds.push(rule("forward", vec![iif(ifname), json!({"drop": null})]));
    cmds.push(rule(
        "forward",
        vec![oif(ifname), established(), json!({"accept": null})],
    ));
    cmds.push(rule("forward", vec![oif(ifname), json!({"drop": null})]));
    json!({"nftables": cmds})
}

/// The batch that removes our table, and only ours, if it exists.
pub fn removal() -> Value {
    json!({"nftables": [
        {"add": {"table": {"family": FAMILY, "name": TABLE}}},
        {"delete": {"table": {"family": FAMILY, "name": TABLE}}},
    ]})
}

/// Hands a JSON batch to `nft -j -f -`; the batch applies whole or not at
/// all.
pub fn apply(batch: &Value) -> Result<(), FirewallError> {
    let mut child = Command::new("nft")
        .args(["-j", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(FirewallError::Spawn)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(batch.to_string().as_bytes())
            .map_err(FirewallError::Spawn)?;
    }
    let out = child.wait_with_output().map_err(FirewallError::Spawn)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(FirewallError::Refused(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::state::{AuthKind, Partition};

    fn enablement(console: bool) -> Enablement {
        Enablement::new(
            Ipv4Addr::new(10, 99, 0, 1),
            Ipv4Addr::new(10, 99, 0, 2),
            vec![Partition {
                name: "lpar1".into(),
                address: Ipv4Addr::new(192, 168, 50, 11),
                alias: Ipv4Addr::new(10, 99, 0, 11),
            }],
            console,
            AuthKind::Chap,
        )
        .unwrap()
    }

    #[test]
    fn console_ports_only_when_allowed() {
        let on = ruleset("carrier0", Ipv4Addr::new(10, 99, 0, 2), &enablement(true)).to_string();
        let off = ruleset("carrier0", Ipv4Addr::new(10, 99, 0, 2), &enablement(false)).to_string();
        assert!(on.contains("\"dport\"") && on.contains("30009") && on.contains("9940"));
        assert!(!off.contains("\"dport\""));
        // Both end the input chain with a drop of everything else from the link.
        for r in [&on, &off] {
            assert!(r.contains("\"drop\""));
        }
    }

    #[test]
    fn only_allowed_partitions_are_translated() {
        let r = ruleset("carrier0", Ipv4Addr::new(10, 99, 0, 2), &enablement(true)).to_string();
        assert!(r.contains("\"dnat\":{\"addr\":\"192.168.50.11\"}"));
        assert_eq!(r.matches("\"dnat\":{").count(), 1);
    }
}
