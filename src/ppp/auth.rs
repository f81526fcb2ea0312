//! What PAP and CHAP share: the protocols as LCP names them, secrets, and
//! the credentials each role uses.

use std::fmt;
use std::sync::Arc;

use subtle::ConstantTimeEq;

use super::addrs::AllowedAddrs;
use zeroize::Zeroize;

/// An authentication protocol LCP can negotiate (RFC 1661 §6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthProto {
    Pap,
    /// CHAP with MD5, algorithm 5 (RFC 1994 §3).
    ChapMd5,
}

impl AuthProto {
    /// The Authentication-Protocol option's data.
    pub fn lcp_data(self) -> &'static [u8] {
        match self {
            AuthProto::Pap => &[0xc0, 0x23],
            AuthProto::ChapMd5 => &[0xc2, 0x23, 0x05],
        }
    }

    pub fn from_lcp_data(data: &[u8]) -> Option<Self> {
        match data {
            [0xc0, 0x23] => Some(AuthProto::Pap),
            [0xc2, 0x23, 0x05] => Some(AuthProto::ChapMd5),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            AuthProto::Pap => "PAP",
            AuthProto::ChapMd5 => "CHAP",
        }
    }
}

/// A password or CHAP secret. It prints as `<hidden>` so it cannot reach a
/// log by accident, compares in constant time, and is wiped when dropped.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(&self.0, &other.0)
    }
}

impl Eq for Secret {}

impl Secret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Secret(bytes.into())
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Constant-time comparison, so a wrong guess learns nothing from timing.
    pub fn matches(&self, other: &[u8]) -> bool {
        ct_eq(&self.0, other)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<hidden>")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        // zeroize's writes are volatile: a plain loop before the free
        // may be optimised away.
        self.0.zeroize();
    }
}

/// Comparison whose time depends on the lengths only (subtle's), so a
/// wrong guess learns nothing from timing.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Credentials for both roles.
#[derive(Clone, Debug, Default)]
pub struct AuthConfig {
    /// Our name: the PAP Peer-ID and CHAP Name we send, and the name we
    /// look ourselves up under as authenticator (pppd's `name`/`user`).
    pub name: String,
    /// Our password for the peer role when it does not come from `secrets`.
    pub password: Option<Secret>,
    /// pppd-format secrets: as authenticator, the peers we accept; as peer,
    /// our secret for a named authenticator.
    pub secrets: Arc<SecretsTable>,
    /// The authenticator's name to use in secrets lookups (pppd's
    /// `remotename`); `*` matches any.
    pub remote_name: Option<String>,
}

impl AuthConfig {
    /// Our secret when authenticating to `server`.
    pub fn our_secret(&self, server: &str) -> Option<Secret> {
        if let Some(p) = &self.password {
            return Some(p.clone());
        }
        let server = self.remote_name.as_deref().unwrap_or(server);
        self.secrets
            .lookup(&self.name, server)
            .map(|e| e.secret.clone())
    }

    /// Whether we can authenticate ourselves at all.
    pub fn can_authenticate(&self) -> bool {
        self.password.is_some() || self.secrets.has_client(&self.name)
    }

    /// The addresses a peer that authenticated to us as `client` may
    /// have: its secrets line's (the line whose secret it proved).
    pub fn peer_addresses(&self, client: &str) -> Option<&AllowedAddrs> {
        self.secrets
            .lookup(client, &self.name)
            .and_then(|e| e.addresses.as_ref())
    }

    /// The secret a peer called `client` must know when authenticating to us.
    pub fn peer_secret(&self, client: &str) -> Option<Secret> {
        self.secrets
            .lookup(client, &self.name)
            .map(|e| e.secret.clone())
    }
}

/// One line of a secrets file (read from pppd's format outside the core).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub client: String,
    pub server: String,
    pub secret: Secret,
    /// Addresses the client may use when it authenticates to us; None
    /// (the line ends at the secret): any. pppd allows none then; carrier
    /// keeps such lines working as they did, `-` says none.
    pub addresses: Option<AllowedAddrs>,
}

/// pppd's secrets, as looked up by the authenticator and the peer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecretsTable {
    entries: Vec<Entry>,
}

fn is_wild(w: &str) -> bool {
    w == "*"
}

impl SecretsTable {
    pub fn new(entries: Vec<Entry>) -> Self {
        SecretsTable { entries }
    }

    /// A table with one entry, for credentials given on the command line.
    pub fn single(client: &str, server: &str, secret: Secret) -> Self {
        SecretsTable::new(vec![Entry {
            client: client.into(),
            server: server.into(),
            secret,
            addresses: None,
        }])
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The best entry for `client` authenticating to `server`: exact names
    /// beat wildcards, the client's name weighing more, as in pppd's
    /// scan_authfile; among equals the first wins.
    pub fn lookup(&self, client: &str, server: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .filter(|e| {
                (is_wild(&e.client) || e.client == client)
                    && (is_wild(&e.server) || e.server == server)
            })
            .fold(None, |best: Option<(u8, &Entry)>, e| {
                let score = 2 * u8::from(!is_wild(&e.client)) + u8::from(!is_wild(&e.server));
                match best {
                    Some((b, _)) if b >= score => best,
                    _ => Some((score, e)),
                }
            })
            .map(|(_, e)| e)
    }

    pub fn has_client(&self, client: &str) -> bool {
        self.entries
            .iter()
            .any(|e| is_wild(&e.client) || e.client == client)
    }
}

/// How authentication in one direction ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthOutcome {
    /// The peer proved itself (as `peer`), or we did to it.
    Success {
        peer: String,
    },
    Failure {
        message: String,
    },
}
