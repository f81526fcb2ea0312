//! The IP plane of a dialing or answering host: a TUN device carrying the
//! link's datagrams, with the point-to-point addresses IPCP agreed on and
//! the peer's MRU as MTU. It exists from IPCP up to IPCP down.

use std::io;

use tun_rs::{AsyncDevice, DeviceBuilder};

use super::{IpLink, IpPlane};

#[derive(Default)]
pub struct TunPlane {
    name: String,
    dev: Option<AsyncDevice>,
    /// The kernel's name for the device (`name` may be a template such as
    /// `ppp%d`).
    actual: Option<String>,
    dropped: u64,
    default_route: bool,
}

impl std::fmt::Debug for TunPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TunPlane")
            .field("name", &self.name)
            .field("up", &self.dev.is_some())
            .field("dropped", &self.dropped)
            .finish()
    }
}

impl TunPlane {
    /// A plane that will create the interface `name` when IPCP opens.
    pub fn new(name: &str) -> Self {
        TunPlane {
            name: name.to_string(),
            dev: None,
            actual: None,
            dropped: 0,
            default_route: false,
        }
    }

    /// pppd's `defaultroute`: when IP comes up, a default route through
    /// the interface, unless one exists already (pppd does not replace
    /// it either). It goes away with the interface.
    pub fn default_route(mut self, on: bool) -> Self {
        self.default_route = on;
        self
    }

    fn add_default_route(&self, dev: &AsyncDevice) -> String {
        use route_manager::{Route, RouteManager};
        let index = match dev.if_index() {
            Ok(i) => i,
            Err(e) => return format!("; no default route: {e}"),
        };
        let route = Route::new(std::net::Ipv4Addr::UNSPECIFIED.into(), 0).with_if_index(index);
        let result = RouteManager::new().and_then(|mut m| {
            let existing = m
                .list()?
                .into_iter()
                .any(|r| r.prefix() == 0 && r.destination().is_ipv4() && r.table() == 254);
            if existing {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "not replacing the existing default route",
                ));
            }
            m.add(&route)
        });
        match result {
            Ok(()) => "; default route".to_string(),
            Err(e) => {
                tracing::warn!(interface = %self.name, error = %e, "no default route");
                format!("; no default route: {e}")
            }
        }
    }
}

impl TunPlane {
    /// The interface while IP is up, for adding addresses.
    pub fn device(&self) -> Option<&AsyncDevice> {
        self.dev.as_ref()
    }

    /// The kernel's name for the interface while IP is up.
    pub fn interface(&self) -> Option<&str> {
        self.actual.as_deref()
    }
}

/// Every Linux interface speaks IPv6 unless told not to: it would take a
/// link-local address and send router solicitations the moment it is up.
/// The link carries only what an NCP opened (IPCP today), so IPv6 is
/// switched off before the interface goes up. A kernel without IPv6 has
/// nothing to switch off.
fn disable_ipv6(ifname: &str) -> io::Result<()> {
    let path = format!("/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6");
    if !std::path::Path::new("/proc/sys/net/ipv6").exists() {
        return Ok(());
    }
    std::fs::write(&path, "1").map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))
}

impl IpPlane for TunPlane {
    fn up(&mut self, link: &IpLink) -> io::Result<String> {
        let dev = DeviceBuilder::new()
            .name(&self.name)
            .ipv4(link.local, 32u8, link.peer)
            .mtu(link.mtu)
            .enable(false)
            .build_async()
            .map_err(|e| {
                if e.kind() == io::ErrorKind::PermissionDenied {
                    io::Error::new(
                        e.kind(),
                        format!(
                            "cannot create {} (needs root or CAP_NET_ADMIN): {e}",
                            self.name
                        ),
                    )
                } else {
                    io::Error::new(e.kind(), format!("cannot create {}: {e}", self.name))
                }
            })?;
        let actual = dev.name()?;
        disable_ipv6(&actual)?;
        dev.enabled(true)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot bring {actual} up: {e}")))?;
        let route = if self.default_route {
            self.add_default_route(&dev)
        } else {
            String::new()
        };
        self.dev = Some(dev);
        let peer = link.peer.map(|p| format!(" peer {p}")).unwrap_or_default();
        let what = format!(
            "interface {actual} {}{peer} mtu {}{route}",
            link.local, link.mtu
        );
        self.actual = Some(actual);
        Ok(what)
    }

    fn down(&mut self) {
        // The device goes away with its last descriptor (not persistent).
        if self.dev.take().is_some() {
            tracing::info!(interface = %self.actual.as_deref().unwrap_or(&self.name), "interface removed");
        }
        self.actual = None;
    }

    fn deliver(&mut self, datagram: &[u8]) {
        match &self.dev {
            Some(d) => {
                if let Err(e) = d.try_send(datagram) {
                    self.dropped += 1;
                    tracing::debug!(error = %e, "datagram dropped at the interface");
                }
            }
            None => self.dropped += 1,
        }
    }

    async fn next_outbound(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &self.dev {
            Some(d) => d.recv(buf).await,
            None => std::future::pending().await,
        }
    }

    fn dropped(&self) -> u64 {
        self.dropped
    }

    fn interface(&self) -> Option<String> {
        self.actual.clone()
    }
}
