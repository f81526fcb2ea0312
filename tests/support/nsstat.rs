//! What a namespace shows of itself: its interfaces and addresses, its
//! counters (/proc/net/snmp, snmp6, a link's statistics), its forwarding
//! switches and nftables tables, each read with a command run inside it.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde_json::Value;

use super::carrier::Netns;

pub fn json_of(ns: &Netns, cmd: &[&str]) -> Value {
    let out = ns.run(cmd);
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// The console interface holding `addr`, if any.
pub fn iface_with(ns: &Netns, addr: Ipv4Addr) -> Option<String> {
    let v = json_of(ns, &["ip", "-j", "-4", "addr"]);
    v.as_array()?.iter().find_map(|i| {
        i["addr_info"]
            .as_array()?
            .iter()
            .any(|a| a["local"] == addr.to_string())
            .then(|| i["ifname"].as_str().unwrap_or_default().to_string())
    })
}

pub fn interfaces(ns: &Netns) -> Vec<String> {
    json_of(ns, &["ip", "-j", "link"])
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["ifname"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

pub fn link_local(ns: &Netns, ifname: &str) -> Vec<Ipv6Addr> {
    json_of(ns, &["ip", "-j", "-6", "addr", "show", "dev", ifname])
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|i| i["addr_info"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["scope"] == "link")
        .filter_map(|a| a["local"].as_str().and_then(|s| s.parse().ok()))
        .collect()
}

/// (rx packets, tx dropped) of `ifname`.
pub fn link_counters(ns: &Netns, ifname: &str) -> (u64, u64) {
    let v = json_of(ns, &["ip", "-s", "-j", "link", "show", "dev", ifname]);
    let s = &v[0]["stats64"];
    (
        s["rx"]["packets"].as_u64().unwrap_or(0),
        s["tx"]["dropped"].as_u64().unwrap_or(0),
    )
}

/// /proc/net/snmp of a namespace, as "Ip.InReceives" -> n.
pub fn snmp(ns: &Netns) -> BTreeMap<String, u64> {
    let text = String::from_utf8_lossy(&ns.run(&["cat", "/proc/net/snmp"]).stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    let mut m = BTreeMap::new();
    for pair in lines.chunks(2) {
        let [head, vals] = pair else { continue };
        let (Some((t, names)), Some((_, values))) = (head.split_once(':'), vals.split_once(':'))
        else {
            continue;
        };
        for (n, v) in names.split_whitespace().zip(values.split_whitespace()) {
            if let Ok(v) = v.parse::<i64>() {
                m.insert(format!("{t}.{n}"), v.max(0) as u64);
            }
        }
    }
    m
}

/// /proc/net/snmp6 of a namespace, as "Udp6InDatagrams" -> n.
pub fn snmp6(ns: &Netns) -> BTreeMap<String, u64> {
    String::from_utf8_lossy(&ns.run(&["cat", "/proc/net/snmp6"]).stdout)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.to_string(), w.next()?.parse().ok()?))
        })
        .collect()
}

/// A namespace's IPv4 and IPv6 counters together.
pub fn snmp46(ns: &Netns) -> BTreeMap<String, u64> {
    let mut m = snmp(ns);
    m.extend(snmp6(ns));
    m
}

pub fn delta(after: &BTreeMap<String, u64>, before: &BTreeMap<String, u64>, key: &str) -> u64 {
    after
        .get(key)
        .unwrap_or(&0)
        .saturating_sub(*before.get(key).unwrap_or(&0))
}

/// What `keys` of two counter snapshots moved by, as text (empty if
/// nothing did).
pub fn moved(
    who: &str,
    after: &BTreeMap<String, u64>,
    before: &BTreeMap<String, u64>,
    keys: &[&str],
) -> Vec<String> {
    keys.iter()
        .filter_map(|k| {
            let d = delta(after, before, k);
            (d > 0).then(|| format!("{who} {k} +{d}"))
        })
        .collect()
}

/// net.ipv4.ip_forward and every conf/*/forwarding of a namespace.
pub fn forwarding(ns: &Netns) -> BTreeMap<String, String> {
    let out = ns.run(&[
        "sh",
        "-c",
        "grep -H . /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf/*/forwarding",
    ]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.rsplit_once(':'))
        .map(|(k, v)| {
            (
                k.trim_start_matches("/proc/sys/net/ipv4/").to_string(),
                v.trim().to_string(),
            )
        })
        .collect()
}

/// `nft list tables`: "family name" each.
pub fn nft_tables(ns: &Netns) -> Vec<String> {
    String::from_utf8_lossy(&ns.run(&["nft", "list", "tables"]).stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("table "))
        .map(String::from)
        .collect()
}

/// The table the fixed firewall names for a call on `ifname`.
pub fn table_for(ifname: &str) -> String {
    let clean: String = ifname
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("carrier_inbound_{clean}")
}
