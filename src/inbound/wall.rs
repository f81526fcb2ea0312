//! Keeping the call's nftables table standing while the host does what
//! hosts do: `nft flush ruleset`, `systemctl reload nftables`, a firewall
//! manager's restart, an admin's stray `nft add rule`.
//!
//! The call hears of every change to the ruleset from the kernel itself
//! (nf_tables' netlink group, which the kernel writes to inside the
//! transaction that made the change), and looks again on a slow period in
//! case a notification was lost. A look lists the table and compares it
//! with what the call put there; a table gone or changed is put back whole
//! in one batch and counted. A host that keeps taking it away (more than
//! [`MAX_REPAIRS`] in [`REPAIR_WINDOW`]), or an `nft` that refuses it,
//! ends the call: carrier does not hold a line open behind one wall when it
//! promised two.
//!
//! Restoring rather than hanging up at the first change is deliberate: the
//! user-space policy ([`super::policy`]) held the boundary meanwhile, the
//! partitions' NAT is closed from the moment of the change until the table
//! is seen whole again, and a service call is worth keeping through an
//! operator's unrelated reload.

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use carrier_hw::NetlinkWatch;
use nix::sys::socket::SockProtocol;

/// nf_tables' multicast group (`NFNLGRP_NFTABLES`, linux/netfilter/nfnetlink.h).
const NFNLGRP_NFTABLES: u32 = 7;

/// Repairs beyond this many in [`REPAIR_WINDOW`] end the call.
pub const MAX_REPAIRS: usize = 5;
pub const REPAIR_WINDOW: Duration = Duration::from_secs(60);
/// How often the table is looked at with no notification: a backstop.
pub const RECHECK: Duration = Duration::from_secs(5);
/// Without notifications, the only way to notice.
pub const RECHECK_UNWATCHED: Duration = Duration::from_secs(1);

/// A subscription to nf_tables' change notifications in this network
/// namespace. Call within a tokio runtime.
pub fn watch() -> io::Result<Watch> {
    NetlinkWatch::new(SockProtocol::NetlinkNetFilter, NFNLGRP_NFTABLES)
}

pub use carrier_hw::NetlinkWatch as Watch;

/// nfnetlink's subsystem of nf_tables and the messages that name no
/// table (linux/netfilter/nfnetlink.h, nf_tables.h).
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_NEWGEN: u16 = 15;
/// Attribute 1 of every nf_tables object message is its table's name
/// (NFTA_TABLE_NAME, NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE...).
const NFTA_TABLE: u16 = 1;
const NFPROTO_INET: u8 = 1;

/// Whether a datagram of nf_tables notifications may concern the `inet`
/// table `table`: a message naming another table, or a new generation
/// (which every commit ends with), does not; anything this cannot read
/// does, so that nothing unreadable goes unlooked at.
pub fn touches(datagram: &[u8], table: &str) -> bool {
    let mut rest = datagram;
    while !rest.is_empty() {
        let Some(hdr) = rest.get(..16) else {
            return true;
        };
        let len = u32::from_ne_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) as usize;
        let kind = u16::from_ne_bytes([hdr[4], hdr[5]]);
        let Some(msg) = rest.get(16..len.max(16)) else {
            return true;
        };
        if len < 16 || kind >> 8 != NFNL_SUBSYS_NFTABLES {
            return true;
        }
        if kind & 0xff != NFT_MSG_NEWGEN && message_touches(msg, table) {
            return true;
        }
        rest = rest.get(len.next_multiple_of(4)..).unwrap_or(&[]);
    }
    false
}

/// One nf_tables message past its netlink header: nfgenmsg (family,
/// version, resource id), then attributes.
fn message_touches(msg: &[u8], table: &str) -> bool {
    let Some((gen, mut attrs)) = msg.split_first_chunk::<4>() else {
        return true;
    };
    if gen[0] != NFPROTO_INET {
        // A table of another family is another table, whatever its name.
        return false;
    }
    while attrs.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([attrs[0], attrs[1]]));
        let kind = u16::from_ne_bytes([attrs[2], attrs[3]]) & 0x3fff;
        let Some(value) = attrs.get(4..len.max(4)) else {
            return true;
        };
        if len < 4 {
            return true;
        }
        if kind == NFTA_TABLE {
            let name = value.split(|b| *b == 0).next().unwrap_or(&[]);
            return name == table.as_bytes();
        }
        attrs = attrs.get(len.next_multiple_of(4)..).unwrap_or(&[]);
    }
    true
}

/// What a look at the table found, and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Look {
    /// As the call put it.
    Intact,
    /// Gone or changed: put it back. "gone" or "changed".
    Restore(&'static str),
    /// Gone or changed once too often: end the call.
    GiveUp(String),
}

/// The table as the call last put it, and its repairs.
#[derive(Debug, Default)]
pub struct Wall {
    expected: Option<String>,
    /// Something changed since the last look.
    suspect: bool,
    repairs: u64,
    recent: VecDeque<Instant>,
}

impl Wall {
    /// The call (re)built the table and this is how it lists.
    pub fn built(&mut self, listing: String) {
        self.expected = Some(listing);
        self.suspect = false;
    }

    /// The call removed its table: nothing to keep.
    pub fn removed(&mut self) {
        self.expected = None;
        self.suspect = false;
    }

    pub fn standing(&self) -> bool {
        self.expected.is_some()
    }

    pub fn suspect(&mut self) {
        self.suspect = true;
    }

    pub fn is_suspect(&self) -> bool {
        self.suspect && self.expected.is_some()
    }

    pub fn repairs(&self) -> u64 {
        self.repairs
    }

    /// Judges a fresh listing of the table (None: it is gone) at `now`.
    pub fn look(&mut self, listed: Option<&str>, now: Instant) -> Look {
        let Some(expected) = &self.expected else {
            return Look::Intact;
        };
        let found = match listed {
            Some(l) if l == expected => {
                self.suspect = false;
                return Look::Intact;
            }
            Some(_) => "changed",
            None => "gone",
        };
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > REPAIR_WINDOW)
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= MAX_REPAIRS {
            return Look::GiveUp(format!(
                "the call's firewall table was {found} again: {} repairs in {} s",
                self.recent.len(),
                REPAIR_WINDOW.as_secs()
            ));
        }
        self.recent.push_back(now);
        self.repairs += 1;
        Look::Restore(found)
    }
}

/// A table's `nft -j list table` output reduced to what the call decides:
/// handles (renumbered by every rebuild) and counter values (which move
/// with every datagram) left out, so that two listings of the same rules
/// compare equal.
pub fn canonical(listing: &serde_json::Value) -> String {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("handle");
                if let Some(serde_json::Value::Object(c)) = m.get_mut("counter") {
                    c.remove("packets");
                    c.remove("bytes");
                }
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = listing.clone();
    if let Some(a) = v.get_mut("nftables").and_then(|a| a.as_array_mut()) {
        a.retain(|o| o.get("metainfo").is_none());
    }
    strip(&mut v);
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_is_compared_without_handles_or_counts() {
        let a: serde_json::Value = serde_json::from_str(
            r#"{"nftables":[{"metainfo":{"version":"1.0.6"}},{"table":{"family":"inet","name":"t","handle":4}},
            {"rule":{"chain":"input","handle":9,"expr":[{"counter":{"packets":3,"bytes":180}},{"drop":null}]}}]}"#,
        )
        .unwrap();
        let b: serde_json::Value = serde_json::from_str(
            r#"{"nftables":[{"metainfo":{"version":"1.0.6"}},{"table":{"family":"inet","name":"t","handle":12}},
            {"rule":{"chain":"input","handle":30,"expr":[{"counter":{"packets":0,"bytes":0}},{"drop":null}]}}]}"#,
        )
        .unwrap();
        assert_eq!(canonical(&a), canonical(&b));
        let c: serde_json::Value = serde_json::from_str(
            r#"{"nftables":[{"table":{"family":"inet","name":"t","handle":12}},
            {"rule":{"chain":"input","handle":30,"expr":[{"counter":{"packets":0,"bytes":0}},{"accept":null}]}}]}"#,
        )
        .unwrap();
        assert_ne!(canonical(&a), canonical(&c));
    }

    #[test]
    fn a_table_gone_or_changed_is_restored_until_the_host_keeps_at_it() {
        let t0 = Instant::now();
        let mut w = Wall::default();
        assert_eq!(w.look(None, t0), Look::Intact, "nothing built yet");
        w.built("rules".into());
        w.suspect();
        assert!(w.is_suspect());
        assert_eq!(w.look(Some("rules"), t0), Look::Intact);
        assert!(!w.is_suspect());
        assert_eq!(w.look(None, t0), Look::Restore("gone"));
        assert_eq!(w.look(Some("rules + accept"), t0), Look::Restore("changed"));
        for _ in 2..MAX_REPAIRS {
            assert!(matches!(w.look(None, t0), Look::Restore(_)));
        }
        assert_eq!(w.repairs(), MAX_REPAIRS as u64);
        match w.look(None, t0 + Duration::from_secs(1)) {
            Look::GiveUp(why) => assert!(why.contains("gone again"), "{why}"),
            other => panic!("{other:?}"),
        }
        // Repairs spread out over time are not a fight.
        let later = t0 + REPAIR_WINDOW + Duration::from_secs(1);
        assert_eq!(w.look(None, later), Look::Restore("gone"));
        w.removed();
        assert_eq!(
            w.look(None, later),
            Look::Intact,
            "the call took it away itself"
        );
    }

    #[test]
    fn the_kernel_tells_this_namespace_of_ruleset_changes() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        let _in_rt = rt.enter();
        let w = watch().expect("subscribe to nf_tables notifications");
        w.drain(|_| true);
        let table = format!("carrier_walltest_{}", std::process::id());
        let nft = |cmd: &str| {
            std::process::Command::new("nft")
                .args([cmd, "table", "inet", &table])
                .status()
                .is_ok_and(|s| s.success())
        };
        if !nft("add") {
            // No nft, or no CAP_NET_ADMIN: nothing to change.
            assert!(
                std::env::var_os("CI").is_none(),
                "nft add table failed under CI"
            );
            return;
        }
        let ours = |d: &[u8]| touches(d, &table);
        let heard = w.drain(ours);
        assert!(nft("delete"));
        assert!(heard, "a table added was not heard of");
        assert!(w.drain(ours), "a table deleted was not heard of");
        assert!(!w.drain(ours), "nothing changed since");
        assert!(nft("add"));
        assert!(nft("delete"));
        assert!(
            !w.drain(|d| touches(d, "carrier_inbound_other")),
            "another table's changes were taken for this one's"
        );
    }

    /// A netlink datagram of one nf_tables message of type `msg`, family
    /// `family`, with a table-name attribute if given.
    fn nft_msg(msg: u16, family: u8, table: Option<&str>) -> Vec<u8> {
        let mut attrs = Vec::new();
        if let Some(t) = table {
            let mut v = t.as_bytes().to_vec();
            v.push(0);
            attrs.extend(((4 + v.len()) as u16).to_ne_bytes());
            attrs.extend(1u16.to_ne_bytes());
            attrs.extend(&v);
            while attrs.len() % 4 != 0 {
                attrs.push(0);
            }
        }
        let len = 16 + 4 + attrs.len();
        let mut d = Vec::new();
        d.extend((len as u32).to_ne_bytes());
        d.extend(((10u16 << 8) | msg).to_ne_bytes());
        d.extend([0u8; 10]);
        d.extend([family, 0, 0, 0]);
        d.extend(attrs);
        d
    }

    #[test]
    fn only_notifications_about_the_calls_table_touch_it() {
        let ours = "carrier_inbound_cin0";
        assert!(
            touches(&nft_msg(2, 1, Some(ours)), ours),
            "DELTABLE of ours"
        );
        assert!(touches(&nft_msg(6, 1, Some(ours)), ours), "NEWRULE in ours");
        assert!(
            !touches(&nft_msg(6, 1, Some("filter")), ours),
            "another table"
        );
        assert!(
            !touches(&nft_msg(2, 2, Some(ours)), ours),
            "an ip table of the same name"
        );
        assert!(!touches(&nft_msg(15, 0, None), ours), "NEWGEN");
        assert!(
            touches(&nft_msg(6, 1, None), ours),
            "no table named: looked at"
        );
        // Several in one datagram: one of ours among them is enough.
        let mut two = nft_msg(6, 1, Some("filter"));
        two.extend(nft_msg(8, 1, Some(ours)));
        assert!(touches(&two, ours));
        let mut both_other = nft_msg(6, 1, Some("filter"));
        both_other.extend(nft_msg(15, 0, None));
        assert!(!touches(&both_other, ours));
        // What cannot be read is looked at.
        let d = nft_msg(6, 1, Some("filter"));
        assert!(touches(&d[..10], ours));
        let mut lying = d.clone();
        lying[0..4].copy_from_slice(&1000u32.to_ne_bytes());
        assert!(touches(&lying, ours));
        let mut not_nft = d;
        not_nft[5] = 1;
        assert!(touches(&not_nft, ours));
        assert!(!touches(&[], ours));
    }
}
