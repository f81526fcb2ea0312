//! What the user sees: one line per step for people, or one JSON object
//! per line (`--events json`) for programs. Each JSON object has an
//! `"event"` field; the names are a contract (README.md, "What you
//! see").

use std::io::Write;
use std::time::Instant;

use serde_json::{json, Map, Value};

use crate::ppp::link::{AuthRole, Event};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

#[derive(Clone, Debug)]
pub struct Reporter {
    format: Format,
    start: Instant,
    /// Prefixes human lines, e.g. "dial" and "answer" in the demo.
    label: Option<String>,
    /// Send the lines to the log instead of stdout (for servers whose
    /// stdout is someone else's contract).
    to_log: bool,
    /// Send each event as its JSON object here instead (a program that
    /// embeds the library, or a test).
    sink: Option<tokio::sync::mpsc::UnboundedSender<Value>>,
}

impl Reporter {
    pub fn new(format: Format) -> Self {
        Reporter {
            format,
            start: Instant::now(),
            label: None,
            to_log: false,
            sink: None,
        }
    }

    /// A reporter whose events arrive on the returned channel, each as the
    /// JSON object `--events json` would print.
    pub fn channel() -> (Self, tokio::sync::mpsc::UnboundedReceiver<Value>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let r = Reporter {
            format: Format::Json,
            sink: Some(tx),
            ..Reporter::new(Format::Json)
        };
        (r, rx)
    }

    /// A reporter whose lines go to the `tracing` log at info level.
    pub fn to_log(label: &str) -> Self {
        Reporter {
            format: Format::Human,
            start: Instant::now(),
            label: Some(label.to_string()),
            to_log: true,
            sink: None,
        }
    }

    /// Emits one event: `name` and its fields, with `human` the line for
    /// people.
    pub fn emit(&self, name: &str, fields: Value, human: &str) {
        if self.to_log {
            tracing::info!(
                side = self.label.as_deref().unwrap_or(""),
                event = name,
                "{human}"
            );
            return;
        }
        let t = self.start.elapsed().as_secs_f64();
        let object = |fields: Value| {
            let mut m = Map::new();
            m.insert("event".into(), Value::from(name));
            m.insert("time".into(), json!((t * 1000.0).round() / 1000.0));
            if let Some(l) = &self.label {
                m.insert("side".into(), Value::from(l.as_str()));
            }
            if let Value::Object(f) = fields {
                m.extend(f);
            }
            Value::Object(m)
        };
        if let Some(sink) = &self.sink {
            // A receiver gone is a program no longer listening, not a
            // reason to stop the call.
            let _ = sink.send(object(fields));
            return;
        }
        let line = match self.format {
            Format::Json => object(fields).to_string(),
            Format::Human => match &self.label {
                Some(l) => format!("[{t:7.3}s] {l:>6}: {human}"),
                None => format!("[{t:7.3}s] {human}"),
            },
        };
        let mut out = std::io::stdout().lock();
        // A closed stdout must not take the link down with it.
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    /// Reports an event of the PPP core; phase changes only go to the log.
    pub fn link_event(&self, ev: &Event) {
        match ev {
            Event::Phase(p) => tracing::debug!(phase = ?p, "phase"),
            Event::LcpUp { ours, theirs } => self.emit(
                "lcp-up",
                json!({
                    "mru": ours.mru, "peer_mru": theirs.mru,
                    "rx_accm": format!("{:#010x}", ours.accm), "tx_accm": format!("{:#010x}", theirs.accm),
                    "pfc": theirs.pfc, "acfc": theirs.acfc,
                    "magic": ours.magic, "peer_magic": theirs.magic,
                }),
                &format!(
                    "LCP up (mru {}, peer mru {}, asyncmap {:#x}{}{})",
                    ours.mru,
                    theirs.mru,
                    theirs.accm,
                    if theirs.pfc { ", pcomp" } else { "" },
                    if theirs.acfc { ", accomp" } else { "" }
                ),
            ),
            Event::LcpDown => self.emit("lcp-down", json!({}), "LCP down"),
            Event::Authorize { protocol, peer } => {
                tracing::info!(protocol = protocol.name(), peer = %printable(peer), "credentials right: deciding whether the peer may go on")
            }
            Event::AuthOk {
                protocol,
                role,
                peer,
            } => self.emit(
                "auth-ok",
                json!({"protocol": protocol, "role": role, "peer": peer}),
                &match role {
                    AuthRole::Authenticator => format!("{} ok: peer {peer:?} authenticated", protocol.name()),
                    AuthRole::Peer => format!("{} ok", protocol.name()),
                },
            ),
            Event::AuthFailed {
                protocol,
                role,
                message,
            } => self.emit(
                "auth-failed",
                json!({"protocol": protocol, "role": role, "message": message}),
                // The message may be the peer's own text: no control
                // characters reach the terminal.
                &format!("{} failed: {}", protocol.name(), printable(message)),
            ),
            Event::IpUp {
                local,
                peer,
                dns,
                vj,
            } => {
                let dns_h = if dns.is_empty() {
                    String::new()
                } else {
                    let d: Vec<String> = dns.iter().map(|a| a.to_string()).collect();
                    format!(" DNS {}", d.join(" "))
                };
                let peer_h = peer.map(|p| format!(" peer {p}")).unwrap_or_default();
                let vj_h = match (vj.tx, vj.rx) {
                    (None, None) => String::new(),
                    (tx, rx) => format!(
                        " VJ{}{}",
                        tx.map(|t| format!(" out {} slots", u16::from(t.max_slot) + 1))
                            .unwrap_or_default(),
                        rx.map(|r| format!(" in {} slots", u16::from(r.max_slot) + 1))
                            .unwrap_or_default()
                    ),
                };
                self.emit(
                    "ipcp-up",
                    json!({"local": local, "peer": peer, "dns": dns, "vj": vj}),
                    &format!("IP {local}{peer_h}{dns_h}{vj_h}"),
                )
            }
            Event::IpDown => self.emit("ipcp-down", json!({}), "IP down"),
            Event::IpRefused { address } => self.emit(
                "ipcp-refused",
                json!({"address": address}),
                &match address {
                    Some(a) => format!("IP refused: peer is not authorized to use remote address {a}"),
                    None => "IP refused: peer is not authorized to use any remote address".into(),
                },
            ),
            Event::Ipv6Up { local, peer } => self.emit(
                "ipv6cp-up",
                json!({
                    "local": local.to_string(), "peer": peer.to_string(),
                    "local_ll": local.link_local(), "peer_ll": peer.link_local(),
                }),
                &format!(
                    "IPv6 local LL address {}, remote LL address {}",
                    local.link_local(),
                    peer.link_local()
                ),
            ),
            Event::Ipv6Down => self.emit("ipv6cp-down", json!({}), "IPv6 down"),
            Event::CcpUp { tx, rx } => {
                let name = |m: &Option<crate::ppp::ccp::Method>| {
                    m.map(|m| m.to_string()).unwrap_or_else(|| "none".into())
                };
                self.emit(
                    "ccp-up",
                    json!({"tx": tx, "rx": rx}),
                    &format!("CCP up: compress {} / decompress {}", name(tx), name(rx)),
                )
            }
            Event::CcpDown => self.emit("ccp-down", json!({}), "CCP down: no compression"),
            Event::Down { reason } => self.emit(
                "down",
                json!({"reason": reason, "exit_code": reason.exit_code()}),
                &format!("link down: {reason}"),
            ),
        }
    }
}

/// Text from the other end, fit for a terminal: control characters (an
/// escape sequence, a CR that overwrites the line) become `?`.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_text_loses_its_control_characters() {
        assert_eq!(printable("Access denied"), "Access denied");
        assert_eq!(printable("bad\x1b[2J\rpass"), "bad?[2J?pass");
    }
}
