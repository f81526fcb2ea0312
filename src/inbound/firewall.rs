//! The console's rules for one inbound call, in an nftables table of the
//! call's own (`inet carrier_inbound_<interface>`), built in the
//! `nftables` crate's typed schema and given to `nft -j`: no shell strings. One table per call, so two lines answering at once
//! never touch each other's rules; `inet`, so IPv4 and IPv6 alike pass
//! through it.
//!
//! * admit, a filter chain on prerouting at -150 (after conntrack, before
//!   any routing decision or NAT): from the link, a family whose NCP is not
//!   up is dropped whole (IPv6 always, unless the enablement allows it),
//!   so is any source but the caller's address, and any destination but
//!   the console's PPP address and the aliases (over IPv6: any but the
//!   console's link-local address).
//!   Dropped here, a datagram to an address nobody has never gets as far
//!   as routing, which would answer it with an ICMP unreachable.
//! * input, at priority -200 (before the customer's filter chains at 0):
//!   from the link, the same family and source checks again; then replies
//!   to the console's
//!   own connections; then, with console access, TCP and UDP to the
//!   service ports of the console's PPP address (and, over IPv6, its
//!   link-local address on the link) only, not its LAN or other
//!   addresses; everything else from the link is dropped. A drop here
//!   stands whatever other tables accept.
//! * prerouting (dstnat - 10): each allowed partition's alias, from the
//!   caller, is translated to the partition's real address.
//! * forward (-200): from the link only the caller's IPv4 traffic
//!   translated to an allowed partition (partitions are not reached over
//!   IPv6); to the link only replies; and on an interface
//!   whose forwarding the call switched on, nothing else is forwarded.
//! * postrouting (srcnat - 10): translated traffic leaves masqueraded, so
//!   the partition answers the console, which returns it down the link.
//!
//! Every drop rule counts what it drops.

use std::borrow::Cow;
use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::{Command, Stdio};

use nftables::expr::{
    Expression, Meta, MetaKey, NamedExpression, Payload, PayloadField, SetItem, CT,
};
use nftables::schema::{Chain, NfCmd, NfListObject, NfObject, Nftables, Rule, Table};
use nftables::stmt::{Counter, Match, Operator, Statement, NAT};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};

use super::state::Enablement;

/// Every call's table name starts so; the rest is its interface's name.
pub const TABLE_PREFIX: &str = "carrier_inbound_";
/// The one table of earlier versions, shared by every call.
const LEGACY_TABLE: (NfFamily, &str) = (NfFamily::IP, "carrier_inbound");
const FAMILY: NfFamily = NfFamily::INet;

pub use super::policy::{SERVICE_PORTS, SERVICE_RANGE};

#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    #[error("cannot run nft (apt-get install nftables): {0}")]
    Spawn(std::io::Error),
    #[error("nft refused the rules: {0}")]
    Refused(String),
    #[error("nft listed something that is not its JSON: {0}")]
    Listing(String),
    #[error("the rules could not be put in nft's JSON: {0}")]
    Encoding(String),
}

/// The table of the call on `ifname`: letters and digits kept, every
/// other octet as `_xx`, so the name is valid for nft and the interface
/// can be read back from it.
pub fn table_name(ifname: &str) -> String {
    let mut t = String::from(TABLE_PREFIX);
    for b in ifname.bytes() {
        if b.is_ascii_alphanumeric() {
            t.push(char::from(b));
        } else {
            t.push_str(&format!("_{b:02x}"));
        }
    }
    t
}

/// The interface a call's table was made for; None for any other table.
pub fn table_interface(table: &str) -> Option<String> {
    let rest = table.strip_prefix(TABLE_PREFIX)?;
    let mut out = Vec::new();
    let mut bytes = rest.bytes();
    while let Some(b) = bytes.next() {
        if b == b'_' {
            let hex = [bytes.next()?, bytes.next()?];
            out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else if b.is_ascii_alphanumeric() {
            out.push(b);
        } else {
            return None;
        }
    }
    String::from_utf8(out).ok().filter(|s| !s.is_empty())
}

/// `'static`: a batch owns every string it holds.
type Expr = Expression<'static>;
type Stmt = Statement<'static>;

fn text(v: impl Into<String>) -> Expr {
    Expression::String(Cow::Owned(v.into()))
}

fn matches(left: Expr, op: Operator, right: Expr) -> Stmt {
    Statement::Match(Match { left, right, op })
}

fn meta(key: MetaKey) -> Expr {
    Expression::Named(NamedExpression::Meta(Meta { key }))
}

fn payload(protocol: &'static str, field: &'static str) -> Expr {
    Expression::Named(NamedExpression::Payload(Payload::PayloadField(
        PayloadField {
            protocol: Cow::Borrowed(protocol),
            field: Cow::Borrowed(field),
        },
    )))
}

fn ct(key: &'static str) -> Expr {
    Expression::Named(NamedExpression::CT(CT {
        key: Cow::Borrowed(key),
        family: None,
        dir: None,
    }))
}

fn set(items: impl IntoIterator<Item = Expr>) -> Expr {
    Expression::Named(NamedExpression::Set(
        items.into_iter().map(SetItem::Element).collect(),
    ))
}

fn iif(ifname: &str) -> Stmt {
    matches(meta(MetaKey::Iifname), Operator::EQ, text(ifname))
}

fn oif(ifname: &str) -> Stmt {
    matches(meta(MetaKey::Oifname), Operator::EQ, text(ifname))
}

fn family(f: &'static str) -> Stmt {
    matches(meta(MetaKey::Nfproto), Operator::EQ, text(f))
}

fn established() -> Stmt {
    matches(
        ct("state"),
        Operator::IN,
        Expression::List(vec![text("established"), text("related")]),
    )
}

fn new_flow() -> Stmt {
    matches(ct("state"), Operator::IN, text("new"))
}

/// The flow was started during this call (see [`Peers::mark`]).
fn this_calls(mark: u32) -> Stmt {
    matches(ct("mark"), Operator::EQ, Expression::Number(mark))
}

/// Set in every call's mark ([`Peers::mark`]): what tells any carrier
/// call's flow from the host's own.
pub const CALL_MARK_FLAG: u32 = 0x8000_0000;

/// A call's conntrack mark from a random number: [`CALL_MARK_FLAG`] and
/// 31 bits of its own.
pub fn call_mark(random: u32) -> u32 {
    CALL_MARK_FLAG | random
}

/// The flow is some carrier call's (this one's or another line's).
fn a_calls() -> Stmt {
    matches(
        Expression::BinaryOperation(Box::new(nftables::expr::BinaryOperation::AND(
            ct("mark"),
            Expression::Number(CALL_MARK_FLAG),
        ))),
        Operator::EQ,
        Expression::Number(CALL_MARK_FLAG),
    )
}

fn set_mark(mark: u32) -> Stmt {
    Statement::Mangle(nftables::stmt::Mangle {
        key: ct("mark"),
        value: Expression::Number(mark),
    })
}

fn dnatted() -> Stmt {
    matches(ct("status"), Operator::IN, text("dnat"))
}

fn ip(field: &'static str, op: Operator, addr: Ipv4Addr) -> Stmt {
    matches(payload("ip", field), op, text(addr.to_string()))
}

fn ip6(field: &'static str, op: Operator, addr: Ipv6Addr) -> Stmt {
    matches(payload("ip6", field), op, text(addr.to_string()))
}

fn accept() -> Stmt {
    Statement::Accept(None)
}

/// The caller's and the console's addresses, as far as the NCPs have
/// opened: the rules are rebuilt as each comes up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Peers {
    /// The caller's IPv4 address, once IPCP is up.
    pub v4: Option<Ipv4Addr>,
    /// (console, caller) link-local addresses, once IPv6CP is up.
    pub v6: Option<(Ipv6Addr, Ipv6Addr)>,
    /// The conntrack mark of this call's flows, set on each flow's first
    /// packet and required of every reply accepted as established: a flow
    /// left in conntrack by an earlier call from the same address (a TCP
    /// session the console still holds open) is not this call's, and
    /// reaches nothing it would not reach as a new flow. Chosen at random
    /// per call ([`call_mark`]), never 0 (what an unmarked flow has).
    pub mark: u32,
}

fn table(family: NfFamily, name: &str) -> NfListObject<'static> {
    NfListObject::Table(Table {
        family,
        name: Cow::Owned(name.to_string()),
        handle: None,
    })
}

fn cmd(c: NfCmd<'static>) -> NfObject<'static> {
    NfObject::CmdObject(c)
}

struct Batch {
    table: String,
    cmds: Vec<NfObject<'static>>,
}

impl Batch {
    fn chain(&mut self, name: &'static str, kind: NfChainType, hook: NfHook, prio: i32) {
        self.cmds.push(cmd(NfCmd::Add(NfListObject::Chain(Chain {
            family: FAMILY,
            table: Cow::Owned(self.table.clone()),
            name: Cow::Borrowed(name),
            _type: Some(kind),
            hook: Some(hook),
            prio: Some(prio),
            policy: Some(NfChainPolicy::Accept),
            ..Chain::default()
        }))));
    }

    fn rule(&mut self, chain: &'static str, expr: Vec<Stmt>) {
        self.cmds.push(cmd(NfCmd::Add(NfListObject::Rule(Rule {
            family: FAMILY,
            table: Cow::Owned(self.table.clone()),
            chain: Cow::Borrowed(chain),
            expr: Cow::Owned(expr),
            ..Rule::default()
        }))));
    }

    /// A rule matching `m` that counts and drops.
    fn drop(&mut self, chain: &'static str, m: Vec<Stmt>) {
        let mut expr = m;
        expr.extend([
            Statement::Counter(Counter::Anonymous(None)),
            Statement::Drop(None),
        ]);
        self.rule(chain, expr);
    }
}

/// The whole table for a call on `ifname` (the kernel's name for it, not
/// a template) with `peers` as far as the NCPs are up. `switched_on` are the interfaces whose
/// forwarding the call turned on for its partitions' replies. Applying it
/// replaces any earlier copy of the same table (the batch deletes it
/// first), and nothing else.
pub fn ruleset(
    ifname: &str,
    peers: &Peers,
    e: &Enablement,
    switched_on: &[String],
) -> Nftables<'static> {
    let name = table_name(ifname);
    let mut b = Batch {
        cmds: vec![
            // "add" makes the "delete" succeed whether or not a table was left.
            cmd(NfCmd::Add(table(FAMILY, &name))),
            cmd(NfCmd::Delete(table(FAMILY, &name))),
            cmd(NfCmd::Add(table(FAMILY, &name))),
        ],
        table: name,
    };
    b.chain("admit", NfChainType::Filter, NfHook::Prerouting, -150);
    b.chain("input", NfChainType::Filter, NfHook::Input, -200);
    b.chain("forward", NfChainType::Filter, NfHook::Forward, -200);
    b.chain("output", NfChainType::Filter, NfHook::Output, -200);
    b.chain("prerouting", NfChainType::NAT, NfHook::Prerouting, -110);
    b.chain("postrouting", NfChainType::NAT, NfHook::Postrouting, 90);

    // Before anything is accepted: no family whose NCP is not up, and no
    // source but the caller's, for new flows and established ones alike.
    let mut to = vec![text(e.ppp_local.to_string())];
    to.extend(e.partitions.iter().map(|p| text(p.alias.to_string())));
    for chain in ["admit", "input", "forward"] {
        match peers.v6 {
            Some((_, caller)) => b.drop(
                chain,
                vec![iif(ifname), ip6("saddr", Operator::NEQ, caller)],
            ),
            None => b.drop(chain, vec![iif(ifname), family("ipv6")]),
        }
        match peers.v4 {
            Some(caller) => b.drop(chain, vec![iif(ifname), ip("saddr", Operator::NEQ, caller)]),
            None => b.drop(chain, vec![iif(ifname), family("ipv4")]),
        }
    }
    if peers.v4.is_some() {
        b.drop(
            "admit",
            vec![
                iif(ifname),
                matches(payload("ip", "daddr"), Operator::NEQ, set(to)),
            ],
        );
    }
    if let Some((console, _)) = peers.v6 {
        b.drop(
            "admit",
            vec![iif(ifname), ip6("daddr", Operator::NEQ, console)],
        );
    }
    let ports = || {
        let mut p: Vec<Expr> = SERVICE_PORTS
            .iter()
            .map(|p| Expression::Number(u32::from(*p)))
            .collect();
        p.push(Expression::Range(Box::new(nftables::expr::Range {
            range: [
                Expression::Number(u32::from(SERVICE_RANGE.0)),
                Expression::Number(u32::from(SERVICE_RANGE.1)),
            ],
        })));
        set(p)
    };
    let tcp_or_udp = || {
        matches(
            meta(MetaKey::L4proto),
            Operator::EQ,
            set([text("tcp"), text("udp")]),
        )
    };
    // What is admitted and new is this call's.
    b.rule("admit", vec![iif(ifname), new_flow(), set_mark(peers.mark)]);
    // The console's own side: an alias is the partitions' and never a
    // source of the console's (a process bound to one would open a
    // channel the caller could answer on any port); a flow the console
    // starts toward the caller is this call's only from a service port,
    // with console access; any other is dropped, as the policy drops it.
    if !e.partitions.is_empty() {
        let aliases = e.partitions.iter().map(|p| text(p.alias.to_string()));
        b.drop(
            "output",
            vec![
                oif(ifname),
                matches(payload("ip", "saddr"), Operator::EQ, set(aliases)),
            ],
        );
    }
    if e.console_access {
        b.rule(
            "output",
            vec![
                oif(ifname),
                new_flow(),
                tcp_or_udp(),
                matches(payload("th", "sport"), Operator::EQ, ports()),
                set_mark(peers.mark),
            ],
        );
    }
    b.drop(
        "output",
        vec![
            oif(ifname),
            new_flow(),
            matches(ct("mark"), Operator::NEQ, Expression::Number(peers.mark)),
        ],
    );

    b.rule(
        "input",
        vec![iif(ifname), established(), this_calls(peers.mark), accept()],
    );
    if e.console_access {
        let service = |to: Stmt| {
            vec![
                iif(ifname),
                to,
                tcp_or_udp(),
                matches(payload("th", "dport"), Operator::EQ, ports()),
                accept(),
            ]
        };
        if peers.v4.is_some() {
            b.rule("input", service(ip("daddr", Operator::EQ, e.ppp_local)));
        }
        if let Some((console, _)) = peers.v6 {
            b.rule("input", service(ip6("daddr", Operator::EQ, console)));
        }
    }
    b.drop("input", vec![iif(ifname)]);

    for p in peers
        .v4
        .iter()
        .flat_map(|c| e.partitions.iter().map(move |p| (*c, p)))
    {
        let (caller, p) = p;
        b.rule(
            "prerouting",
            vec![
                iif(ifname),
                ip("saddr", Operator::EQ, caller),
                ip("daddr", Operator::EQ, p.alias),
                Statement::DNAT(Some(NAT {
                    addr: Some(text(p.address.to_string())),
                    family: Some(nftables::stmt::NATFamily::IP),
                    port: None,
                    flags: None,
                })),
            ],
        );
        b.rule(
            "forward",
            vec![
                iif(ifname),
                ip("daddr", Operator::EQ, p.address),
                dnatted(),
                this_calls(peers.mark),
                accept(),
            ],
        );
        b.rule(
            "postrouting",
            vec![
                ip("saddr", Operator::EQ, caller),
                ip("daddr", Operator::EQ, p.address),
                dnatted(),
                Statement::Masquerade(None),
            ],
        );
    }
    b.drop("forward", vec![iif(ifname)]);
    b.rule(
        "forward",
        vec![oif(ifname), established(), this_calls(peers.mark), accept()],
    );
    b.drop("forward", vec![oif(ifname)]);
    for other in switched_on.iter().filter(|i| *i != ifname) {
        // Forwarding was off here before the calls: it serves their
        // replies (this call's accepted above; another line's call, which
        // may share the interface, judges its own) and nothing else.
        b.rule(
            "forward",
            vec![
                iif(other),
                a_calls(),
                matches(ct("direction"), Operator::EQ, text("reply")),
                dnatted(),
                accept(),
            ],
        );
        b.drop("forward", vec![iif(other)]);
    }
    Nftables {
        objects: Cow::Owned(b.cmds),
    }
}

/// The batch that removes `table` of `family`, and only it, if it exists.
fn removal_of(family: NfFamily, name: &str) -> Nftables<'static> {
    Nftables {
        objects: Cow::Owned(vec![
            cmd(NfCmd::Add(table(family, name))),
            cmd(NfCmd::Delete(table(family, name))),
        ]),
    }
}

/// Removes the table of the call on `ifname`, if it stands.
pub fn remove(ifname: &str) -> Result<(), FirewallError> {
    apply(&removal_of(FAMILY, &table_name(ifname)))
}

/// Removes the tables of calls that are no longer alive, and only those:
/// a call's TUN interface lives exactly as long as its process (it is not
/// persistent), so a table whose interface is gone was left by a call that
/// died. A live call's table is never touched. Returns the tables removed.
pub fn remove_orphans(
    interface_exists: impl Fn(&str) -> bool,
) -> Result<Vec<String>, FirewallError> {
    let mut removed = Vec::new();
    for (family, name) in tables()? {
        let orphan = if (family, name.as_str()) == LEGACY_TABLE {
            // Shared by every call of an earlier version: only a leftover
            // can still hold it after an upgrade.
            true
        } else if family == FAMILY {
            table_interface(&name).is_some_and(|i| !interface_exists(&i))
        } else {
            false
        };
        if orphan {
            apply(&removal_of(family, &name))?;
            tracing::info!(table = %name, "removed the rules of a call that is no longer alive");
            removed.push(name);
        }
    }
    Ok(removed)
}

/// (family, name) of every nftables table carrier made.
fn tables() -> Result<Vec<(NfFamily, String)>, FirewallError> {
    let out = Command::new("nft")
        .args(["-j", "list", "tables"])
        .stdin(Stdio::null())
        .output()
        .map_err(FirewallError::Spawn)?;
    if !out.status.success() {
        return Err(FirewallError::Refused(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    let listed: Nftables =
        serde_json::from_slice(&out.stdout).map_err(|e| FirewallError::Listing(e.to_string()))?;
    Ok(carriers_tables(&listed))
}

/// The tables of a listing whose names carrier gives its tables.
fn carriers_tables(listed: &Nftables) -> Vec<(NfFamily, String)> {
    listed
        .objects
        .iter()
        .filter_map(|item| match item {
            NfObject::ListObject(NfListObject::Table(t)) if t.name.starts_with(LEGACY_TABLE.1) => {
                Some((t.family, t.name.to_string()))
            }
            _ => None,
        })
        .collect()
}

/// The call's table on `ifname` as nft lists it now, reduced by
/// [`super::wall::canonical`]; None if it does not exist.
pub fn listing(ifname: &str) -> Result<Option<String>, FirewallError> {
    let out = Command::new("nft")
        .args(["-j", "list", "table", "inet", &table_name(ifname)])
        .stdin(Stdio::null())
        .output()
        .map_err(FirewallError::Spawn)?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        // nft 1.0's words for a table that is not there.
        if err.contains("No such file or directory") || err.contains("does not exist") {
            return Ok(None);
        }
        return Err(FirewallError::Refused(err.trim().to_string()));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| FirewallError::Listing(e.to_string()))?;
    Ok(Some(super::wall::canonical(&v)))
}

/// Hands a batch to `nft -j -f -` as JSON; the batch applies whole or not
/// at all.
pub fn apply(batch: &Nftables) -> Result<(), FirewallError> {
    let json = serde_json::to_vec(batch).map_err(|e| FirewallError::Encoding(e.to_string()))?;
    let mut child = Command::new("nft")
        .args(["-j", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(FirewallError::Spawn)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(&json).map_err(FirewallError::Spawn)?;
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

    const MARK: u32 = CALL_MARK_FLAG | 0x5eed_0001;

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

    fn rules(console: bool) -> String {
        let peers = Peers {
            v4: Some(Ipv4Addr::new(10, 99, 0, 2)),
            v6: None,
            mark: MARK,
        };
        json(&ruleset(
            "carrier0",
            &peers,
            &enablement(console),
            &["eth1".into()],
        ))
    }

    #[test]
    fn ipv6_when_allowed_is_held_to_the_same_ports_and_the_link_local_pair() {
        let (console, caller) = ("fe80::1".parse().unwrap(), "fe80::2".parse().unwrap());
        let both = Peers {
            v4: Some(Ipv4Addr::new(10, 99, 0, 2)),
            v6: Some((console, caller)),
            mark: MARK,
        };
        let r = json(&ruleset("carrier0", &both, &enablement(true), &[]));
        for chain in ["admit", "input", "forward"] {
            let exprs = chain_rules(&r, chain);
            assert!(
                exprs[0].contains(r#""protocol":"ip6""#)
                    && exprs[0].contains(r#""op":"!=""#)
                    && exprs[0].contains("fe80::2")
                    && exprs[0].contains("drop"),
                "{chain}: {exprs:?}"
            );
        }
        let admit = chain_rules(&r, "admit");
        assert!(admit
            .iter()
            .any(|e| e.contains("daddr") && e.contains("fe80::1") && e.contains("drop")));
        let ports: Vec<String> = chain_rules(&r, "input")
            .into_iter()
            .filter(|e| e.contains("dport"))
            .collect();
        assert_eq!(ports.len(), 2, "{ports:?}");
        assert!(ports[1].contains("fe80::1") && ports[1].contains("30009"));
        // Nothing over IPv6 is translated or forwarded.
        assert!(!chain_rules(&r, "forward")
            .iter()
            .any(|e| e.contains("ip6") && e.contains("accept")));
        // IPv6 up first: all IPv4 from the link is dropped until IPCP.
        let v6_only = Peers {
            v4: None,
            v6: Some((console, caller)),
            mark: MARK,
        };
        let r = json(&ruleset("carrier0", &v6_only, &enablement(false), &[]));
        let input = chain_rules(&r, "input");
        assert!(
            input[1].contains("ipv4") && input[1].contains("drop"),
            "{input:?}"
        );
        assert!(!r.contains("dnat") && !r.contains("dport"));
    }

    /// A batch as `nft -j` is given it.
    fn json(b: &Nftables) -> String {
        serde_json::to_string(b).unwrap()
    }

    /// The rules of `chain`, each as its expression list in JSON.
    fn chain_rules(r: &str, chain: &str) -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(r).unwrap();
        v["nftables"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["add"]["rule"]["chain"] == chain)
            .map(|c| c["add"]["rule"]["expr"].to_string())
            .collect()
    }

    #[test]
    fn console_ports_only_when_allowed_and_only_at_the_ppp_address() {
        let (on, off) = (rules(true), rules(false));
        assert!(on.contains("\"dport\"") && on.contains("30009") && on.contains("9940"));
        let ports: Vec<String> = chain_rules(&on, "input")
            .into_iter()
            .filter(|r| r.contains("dport"))
            .collect();
        assert_eq!(ports.len(), 1);
        assert!(ports[0].contains(r#""right":"10.99.0.1""#) && ports[0].contains("daddr"));
        assert!(!off.contains("\"dport\""));
        for r in [&on, &off] {
            assert!(r.contains("\"drop\""));
        }
    }

    #[test]
    fn ipv6_and_foreign_sources_are_dropped_before_anything_is_accepted() {
        let r = rules(true);
        for chain in ["input", "forward"] {
            let exprs = chain_rules(&r, chain);
            assert!(
                exprs[0].contains("ipv6") && exprs[0].contains("drop"),
                "{chain}: {exprs:?}"
            );
            assert!(exprs[1].contains(r#""op":"!=""#) && exprs[1].contains("10.99.0.2"));
            assert!(exprs[..2].iter().all(|e| e.contains("counter")));
            assert!(!exprs[..2].iter().any(|e| e.contains("accept")));
        }
    }

    #[test]
    fn only_the_ppp_address_and_the_aliases_are_admitted_before_routing() {
        let all = chain_rules(&rules(false), "admit");
        // The drops, then the mark of what passes them.
        let (admit, marks) = all.split_at(3);
        assert_eq!(marks.len(), 1, "{all:?}");
        assert!(admit
            .iter()
            .all(|r| r.contains("drop") && r.contains("counter")));
        assert!(
            admit[2].contains(r#""set":["10.99.0.1","10.99.0.11"]"#),
            "{}",
            admit[2]
        );
    }

    #[test]
    fn only_this_calls_flows_are_accepted_as_established() {
        let r = rules(true);
        let mark = MARK.to_string();
        // Every new flow through the link is marked, inbound and outbound
        // (there from a service port only).
        for chain in ["admit", "output"] {
            let m: Vec<String> = chain_rules(&r, chain)
                .into_iter()
                .filter(|e| e.contains("mangle"))
                .collect();
            assert_eq!(m.len(), 1, "{chain}: {m:?}");
            assert!(
                m[0].contains(r#""right":"new""#) && m[0].contains(&mark),
                "{m:?}"
            );
        }
        let out = chain_rules(&r, "output");
        assert!(
            out[0].contains("saddr") && out[0].contains("10.99.0.11") && out[0].contains("drop"),
            "{out:?}"
        );
        assert!(
            out[1].contains("sport") && out[1].contains("30009"),
            "{out:?}"
        );
        assert!(
            out[2].contains(r#""op":"!=""#) && out[2].contains(&mark) && out[2].contains("drop"),
            "{out:?}"
        );
        // Without console access the console starts nothing toward the caller.
        let off = json(&ruleset(
            "carrier0",
            &Peers {
                v4: Some(Ipv4Addr::new(10, 99, 0, 2)),
                v6: None,
                mark: MARK,
            },
            &enablement(false),
            &[],
        ));
        let out = chain_rules(&off, "output");
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(!out.iter().any(|e| e.contains("mangle")), "{out:?}");
        // Nothing is accepted for being established unless it is this
        // call's, nor forwarded for being translated.
        for chain in ["input", "forward"] {
            for e in chain_rules(&r, chain) {
                // Any call's translated replies, on an interface switched
                // on for the calls (another line's call judges its own).
                let any_calls = e.contains(r#""&":[{"ct":{"key":"mark"}}"#);
                if !any_calls
                    && e.contains("accept")
                    && (e.contains("established") || e.contains("dnat"))
                {
                    assert!(
                        e.contains(r#""key":"mark""#) && e.contains(&mark),
                        "{chain}: {e}"
                    );
                }
            }
        }
        let other = Peers {
            mark: MARK ^ 1,
            ..Peers {
                v4: Some(Ipv4Addr::new(10, 99, 0, 2)),
                v6: None,
                mark: 0,
            }
        };
        let r2 = json(&ruleset("carrier0", &other, &enablement(true), &[]));
        assert!(!r2.contains(&mark) && r2.contains(&(MARK ^ 1).to_string()));
    }

    #[test]
    fn only_allowed_partitions_are_translated() {
        let r = rules(true);
        assert!(
            r.contains(r#""dnat":{"addr":"192.168.50.11","family":"ip"}"#),
            "{r}"
        );
        assert_eq!(r.matches("\"dnat\":{").count(), 1);
        let mut fwd = chain_rules(&r, "forward");
        let last = fwd.pop().unwrap();
        assert!(
            last.contains(r#""right":"eth1""#) && last.contains("iifname") && last.contains("drop")
        );
        // Before it, any carrier call's replies, by the mark's flag.
        let calls = fwd.pop().unwrap();
        assert!(
            calls.contains(r#""right":"eth1""#)
                && calls.contains(r#""&":[{"ct":{"key":"mark"}},2147483648]"#)
                && calls.contains("accept"),
            "{calls}"
        );
    }

    #[test]
    fn carriers_tables_are_read_from_nfts_own_listing() {
        // `nft -j list tables` of nftables 1.0.6, as printed here.
        let listing = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "carrier_inbound_cin0", "handle": 1}}, {"table": {"family": "ip", "name": "carrier_inbound", "handle": 2}}, {"table": {"family": "ip", "name": "filter", "handle": 3}}]}"#;
        let listed: Nftables = serde_json::from_str(listing).unwrap();
        assert_eq!(
            carriers_tables(&listed),
            vec![
                (NfFamily::INet, "carrier_inbound_cin0".to_string()),
                (NfFamily::IP, "carrier_inbound".to_string()),
            ]
        );
        // What is not nft's JSON is an error, not an empty list.
        assert!(serde_json::from_str::<Nftables>(r#"{"tables": []}"#).is_err());
    }

    #[test]
    fn table_names_are_per_interface_and_read_back() {
        assert_eq!(table_name("cin0"), "carrier_inbound_cin0");
        assert_eq!(table_name("c-in.0"), "carrier_inbound_c_2din_2e0");
        for i in ["cin0", "c-in.0", "a_b", "ppp%d"] {
            assert_eq!(table_interface(&table_name(i)).as_deref(), Some(i));
        }
        assert_eq!(table_interface("carrier_inbound"), None);
        assert_eq!(table_interface("carrier_inbound_x_zz"), None);
        assert_eq!(table_interface("carrier_inbound_x_2"), None);
        assert_eq!(table_interface("filter"), None);
        assert_ne!(table_name("a-b"), table_name("a_b"));
    }
}
