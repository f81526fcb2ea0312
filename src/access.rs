//! An access server like an AT&T Global Network dial-in point: it answers a
//! call, runs PPP as the authenticator against a secrets table, gives the
//! caller an address from a pool and the DNS servers, and fences the link
//! to the service addresses. The simulator puts it behind phone numbers.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

use crate::events::Reporter;
use crate::net::fence::{FencePlane, FenceStats};
use crate::ppp::auth::{AuthConfig, AuthProto};
use crate::ppp::link::LinkConfig;
use crate::secrets::SecretsTable;
use crate::session::{self, Outcome, SessionConfig, SessionError};

#[derive(Clone, Debug)]
pub struct AccessConfig {
    /// Our name in CHAP challenges and secrets lookups.
    pub name: String,
    pub secrets: Arc<SecretsTable>,
    /// Our address on every link.
    pub local: Ipv4Addr,
    /// Addresses handed to callers, lowest free first.
    pub pool: Vec<Ipv4Addr>,
    pub dns: Vec<Ipv4Addr>,
    /// The service addresses behind the fence.
    pub services: Vec<Ipv4Addr>,
    pub require: Vec<AuthProto>,
}

impl AccessConfig {
    /// A pool of `count` addresses from `first` upwards.
    pub fn pool_from(first: Ipv4Addr, count: u32) -> Vec<Ipv4Addr> {
        (0..count)
            .map(|i| Ipv4Addr::from(u32::from(first).wrapping_add(i)))
            .collect()
    }
}

#[derive(Debug, Default)]
pub struct AccessStats {
    pub calls: AtomicU64,
    pub authenticated: AtomicU64,
    pub auth_failed: AtomicU64,
    /// Calls turned away because the pool was empty.
    pub pool_exhausted: AtomicU64,
    /// Shared by every call's fence.
    pub fence: Arc<FenceStats>,
}

#[derive(Debug)]
pub struct AccessServer {
    cfg: AccessConfig,
    in_use: Mutex<Vec<Ipv4Addr>>,
    pub stats: Arc<AccessStats>,
}

/// Returns a pool address when the call ends, however it ends.
struct Lease<'a> {
    server: &'a AccessServer,
    addr: Ipv4Addr,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Ok(mut v) = self.server.in_use.lock() {
            v.retain(|a| *a != self.addr);
        }
    }
}

impl AccessServer {
    pub fn new(cfg: AccessConfig) -> Self {
        AccessServer {
            cfg,
            in_use: Mutex::new(Vec::new()),
            stats: Arc::new(AccessStats::default()),
        }
    }

    fn lease(&self) -> Option<Lease<'_>> {
        let mut used = self.in_use.lock().ok()?;
        let addr = *self.cfg.pool.iter().find(|a| !used.contains(a))?;
        used.push(addr);
        Some(Lease { server: self, addr })
    }

    fn link_config(&self, peer: Ipv4Addr) -> LinkConfig {
        // The dial-in point runs the PPP a pppd dial-in point runs: VJ
        // and CCP offered, as `carrier dial` offers them.
        let mut link = LinkConfig::pppd();
        link.lcp.require_auth = self.cfg.require.clone();
        link.ipcp.local = Some(self.cfg.local);
        link.ipcp.remote = Some(peer);
        link.ipcp.dns = [self.cfg.dns.first().copied(), self.cfg.dns.get(1).copied()];
        // A caller that vanishes without hanging up is found by echoes.
        link.echo.interval = Some(Duration::from_secs(10));
        link.echo.failure = 3;
        link.auth = AuthConfig {
            name: self.cfg.name.clone(),
            secrets: self.cfg.secrets.clone(),
            ..AuthConfig::default()
        };
        link
    }

    /// Serves one call on `line` until it ends; None if the call was
    /// refused for want of an address.
    pub async fn serve<L>(
        &self,
        mut line: L,
        reporter: &Reporter,
    ) -> Result<Option<Outcome>, SessionError>
    where
        L: AsyncRead + AsyncWrite + Unpin,
    {
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        let Some(lease) = self.lease() else {
            self.stats.pool_exhausted.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("address pool exhausted: call refused");
            // Hanging up is all a full dial-in point can do.
            return Ok(None);
        };
        let mut fence = FencePlane::new(
            self.cfg.services.clone(),
            self.cfg.dns.clone(),
            self.stats.fence.clone(),
        );
        let (_stop_tx, stop) = watch::channel(false);
        let cfg = SessionConfig {
            link: self.link_config(lease.addr),
            pcap: None,
            ..SessionConfig::default()
        };
        let outcome = session::run(&mut line, &mut fence, cfg, reporter, stop).await?;
        if outcome.link.auth_ok > 0 {
            self.stats.authenticated.fetch_add(1, Ordering::Relaxed);
        }
        if outcome.reason == crate::ppp::DownReason::PeerAuthFailed {
            self.stats.auth_failed.fetch_add(1, Ordering::Relaxed);
        }
        Ok(Some(outcome))
    }
}

/// The account, pool, DNS and service address of the built-in demo: what
/// `carrier dial` with no modem dials, and what `carrier-sim` puts behind
/// `access-server` when no secrets file is given. The account is public
/// by design; a real dial-in point takes its accounts from a secrets file.
pub mod demo {
    use super::*;
    use crate::ppp::auth::Secret;

    pub const USER: &str = "demo";
    pub const PASSWORD: &str = "demo-password";
    pub const LOCAL: Ipv4Addr = Ipv4Addr::new(10, 64, 0, 1);
    pub const DNS: Ipv4Addr = Ipv4Addr::new(10, 64, 0, 53);
    pub const SERVICE: Ipv4Addr = Ipv4Addr::new(10, 64, 1, 10);
    /// Not behind the fence: probes to it must be dropped.
    pub const OUTSIDE: Ipv4Addr = Ipv4Addr::new(10, 64, 9, 99);

    pub fn config(secrets: Option<SecretsTable>) -> AccessConfig {
        AccessConfig {
            name: "access-server".into(),
            secrets: Arc::new(
                secrets.unwrap_or_else(|| SecretsTable::single(USER, "*", Secret::new(PASSWORD))),
            ),
            local: LOCAL,
            pool: AccessConfig::pool_from(Ipv4Addr::new(10, 64, 0, 2), 64),
            dns: vec![DNS],
            services: vec![SERVICE],
            require: vec![AuthProto::Pap],
        }
    }
}

impl AccessServer {
    /// Serves one answered call on a task of its own (the simulator's
    /// exchange, or any other source of lines, hands calls over this way);
    /// `call` and `caller` only name it in the logs.
    pub fn serve_call<L>(self: &Arc<Self>, line: L, call: u64, caller: &str)
    where
        L: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let server = self.clone();
        let caller = caller.to_string();
        tokio::spawn(async move {
            let reporter = Reporter::to_log(&format!("access-server call {call}"));
            match server.serve(line, &reporter).await {
                Ok(Some(o)) => tracing::info!(
                    call,
                    caller = %caller,
                    reason = ?o.reason,
                    fenced = o.ip_dropped,
                    "access-server call ended"
                ),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(call, error = %e, "access-server call failed")
                }
            }
        });
    }
}
