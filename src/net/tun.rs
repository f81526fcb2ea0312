//! The IP plane of a dialing or answering host: a TUN device carrying the
//! link's datagrams, with the point-to-point addresses IPCP agreed on, the
//! link-local address IPv6CP agreed on, and the peer's MRU as MTU. It
//! exists while some NCP is up, or for as long as carrier runs in demand
//! mode.

use std::io;

use tun_rs::{AsyncDevice, DeviceBuilder};

use super::{Ip6Link, IpLink, IpPlane};

#[derive(Default)]
pub struct TunPlane {
    name: String,
    dev: Option<AsyncDevice>,
    /// The kernel's name for the device (`name` may be a template such as
    /// `ppp%d`).
    actual: Option<String>,
    dropped: u64,
    default_route: bool,
    default_route6: bool,
    /// The addresses on the device now, per family.
    v4: Option<IpLink>,
    v6: Option<Ip6Link>,
    /// pppd's `demand`: the device exists before the first call and
    /// outlives every call, so the host's routes and sockets stay.
    persistent: bool,
    /// The default route was added (it lives as long as the device).
    routed: bool,
    /// Take no router advertisements or redirects from the peer.
    closed_to_ra: bool,
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
            ..TunPlane::default()
        }
    }

    /// Once IPv6 is on, the peer's router advertisements and redirects
    /// are not taken: for a host that must not let the caller change its
    /// routes or give it addresses (the inbound console). A dialer keeps
    /// taking them, as pppd's interface does.
    pub fn closed_to_router_advertisements(mut self) -> Self {
        self.closed_to_ra = true;
        self
    }

    /// pppd's `defaultroute6`: when IPv6CP opens, a default IPv6 route
    /// through the interface, unless one exists.
    pub fn default_route6(mut self, on: bool) -> Self {
        self.default_route6 = on;
        self
    }

    /// pppd's `demand`: creates the interface now with the addresses the
    /// link is expected to get, and keeps it across calls. Datagrams the
    /// host sends to it wait for [`IpPlane::next_outbound`], which works
    /// while no call is up.
    ///
    /// `queue` bounds what the kernel holds for the interface while a call
    /// comes up (its transmit queue); beyond it the kernel drops and
    /// counts (`ip -s link`).
    pub fn demand(mut self, link: &IpLink, queue: u32) -> io::Result<Self> {
        self.persistent = true;
        self.create(link.mtu, Some(link))?;
        if let Some(d) = &self.dev {
            d.set_tx_queue_len(queue)?;
            // pppd routes by default at startup in demand mode, so that
            // traffic to anywhere can bring the link up.
            if self.default_route {
                self.routed = self.add_default_route(d, false).is_ok();
            }
        }
        self.v4 = Some(link.clone());
        Ok(self)
    }

    /// Creates the interface (IPv6 off, no address) if it is not there:
    /// for rules that must name it before any family comes up on it.
    pub fn prepare(&mut self, mtu: u16) -> io::Result<()> {
        if self.dev.is_none() {
            self.create(mtu, None)?;
        }
        Ok(())
    }

    /// Creates and brings up the device, IPv6 off (see [`disable_ipv6`]).
    fn create(&mut self, mtu: u16, v4: Option<&IpLink>) -> io::Result<()> {
        let mut b = DeviceBuilder::new().name(&self.name).mtu(mtu).enable(false);
        if let Some(l) = v4 {
            b = b.ipv4(l.local, 32u8, l.peer);
        }
        let dev = b.build_async().map_err(|e| {
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
        set_ipv6(&actual, false)?;
        dev.enabled(true)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot bring {actual} up: {e}")))?;
        self.dev = Some(dev);
        self.actual = Some(actual);
        Ok(())
    }

    /// Removes the device once no family uses it (never in demand mode).
    fn release(&mut self) {
        if self.persistent || self.v4.is_some() || self.v6.is_some() {
            return;
        }
        // The device goes away with its last descriptor (not persistent),
        // and its routes with it.
        self.routed = false;
        if self.dev.take().is_some() {
            tracing::info!(interface = %self.actual.as_deref().unwrap_or(&self.name), "interface removed");
        }
        self.actual = None;
    }

    /// pppd's `defaultroute`: when IP comes up, a default route through
    /// the interface, unless one exists already (pppd does not replace
    /// it either). It goes away with the interface.
    pub fn default_route(mut self, on: bool) -> Self {
        self.default_route = on;
        self
    }

    /// Adds the default route through `dev` for one family, unless one
    /// exists; a failure is logged.
    fn add_default_route(&self, dev: &AsyncDevice, v6: bool) -> io::Result<()> {
        use route_manager::{Route, RouteManager};
        let index = dev.if_index()?;
        let any: std::net::IpAddr = if v6 {
            std::net::Ipv6Addr::UNSPECIFIED.into()
        } else {
            std::net::Ipv4Addr::UNSPECIFIED.into()
        };
        let route = Route::new(any, 0).with_if_index(index);
        let result = RouteManager::new().and_then(|mut m| {
            let existing = m
                .list()?
                .into_iter()
                .any(|r| r.prefix() == 0 && r.destination().is_ipv6() == v6 && r.table() == 254);
            if existing {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "not replacing the existing default route",
                ));
            }
            m.add(&route)
        });
        if let Err(e) = &result {
            tracing::warn!(interface = %self.name, error = %e, "no default route");
        }
        result
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

/// What the interface line says of a default route.
fn route_note(v6: bool, r: &io::Result<()>) -> String {
    match (r, v6) {
        (Ok(()), true) => "; default IPv6 route".into(),
        (Ok(()), false) => "; default route".into(),
        (Err(e), _) => format!("; no default route: {e}"),
    }
}

/// pppd's unit number of an interface: its name's trailing digits
/// (`ppp0` is 0, `cin12` is 12); None for a name without them.
pub fn unit_number(ifname: &str) -> Option<u32> {
    let digits = ifname.len() - ifname.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    ifname[ifname.len() - digits..].parse().ok()
}

/// Every Linux interface speaks IPv6 unless told not to: it would take a
/// link-local address and send router solicitations the moment it is up.
/// The link carries only what an NCP opened, so IPv6 is switched off
/// before the interface goes up, and on only once IPv6CP opens; then
/// `addr_gen_mode` 1 keeps the kernel from making up a link-local address
/// of its own beside the one IPv6CP agreed on (RFC 5072 §5). A kernel
/// without IPv6 has nothing to switch off.
fn set_ipv6(ifname: &str, on: bool) -> io::Result<()> {
    if !std::path::Path::new("/proc/sys/net/ipv6").exists() {
        return if on {
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "this kernel has no IPv6",
            ))
        } else {
            Ok(())
        };
    }
    let write = |knob: &str, value: &str| {
        let path = format!("/proc/sys/net/ipv6/conf/{ifname}/{knob}");
        std::fs::write(&path, value).map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))
    };
    if on {
        write("addr_gen_mode", "1")?;
        // Nothing on a PPP link answers router solicitations unless the
        // peer routes for us; they are harmless but noise on a slow line.
        write("router_solicitations", "0")?;
        write("disable_ipv6", "0")
    } else {
        write("disable_ipv6", "1")
    }
}

impl IpPlane for TunPlane {
    fn up(&mut self, link: &IpLink) -> io::Result<String> {
        match &self.dev {
            // IPv6 came first, or demand mode: the device is there.
            Some(dev) => {
                let same = self
                    .v4
                    .as_ref()
                    .is_some_and(|w| w.local == link.local && w.peer == link.peer);
                if !same {
                    // The kernel drops the interface's routes with its last
                    // address; the default route is put back below, as
                    // pppd does (other routes are ip-up's to add).
                    dev.set_network_address(link.local, 32u8, link.peer)?;
                    self.routed = false;
                }
                dev.set_mtu(link.mtu)?;
            }
            None => self.create(link.mtu, Some(link))?,
        }
        let changed = match &self.v4 {
            Some(was) if was.local != link.local || was.peer != link.peer => format!(
                " (was {}{})",
                was.local,
                was.peer.map(|p| format!(" peer {p}")).unwrap_or_default()
            ),
            _ => String::new(),
        };
        self.v4 = Some(link.clone());
        let dev = self.dev.as_ref().expect("created above");
        let route = if self.default_route && !self.routed {
            let r = self.add_default_route(dev, false);
            self.routed = self.persistent && r.is_ok();
            route_note(false, &r)
        } else {
            String::new()
        };
        let actual = self.actual.clone().unwrap_or_default();
        let peer = link.peer.map(|p| format!(" peer {p}")).unwrap_or_default();
        Ok(format!(
            "interface {actual} {}{peer}{changed} mtu {}{route}",
            link.local, link.mtu
        ))
    }

    fn down(&mut self) {
        if !self.persistent {
            self.v4 = None;
        }
        self.release();
    }

    fn up6(&mut self, link: &Ip6Link) -> io::Result<String> {
        if self.dev.is_none() {
            self.create(link.mtu, None)?;
        }
        let actual = self.actual.clone().unwrap_or_default();
        let dev = self.dev.as_ref().expect("created above");
        if let Some(old) = self.v6.take() {
            // A renegotiation: the old identifier's address goes.
            let _ = dev.remove_address_v6(old.local.link_local(), 64);
        }
        if self.closed_to_ra {
            for knob in ["accept_ra", "accept_redirects"] {
                let path = format!("/proc/sys/net/ipv6/conf/{actual}/{knob}");
                std::fs::write(&path, "0")
                    .map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))?;
            }
        }
        set_ipv6(&actual, true)?;
        dev.add_address_v6(link.local.link_local(), 64u8)
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("{actual}: cannot add {}: {e}", link.local.link_local()),
                )
            })?;
        self.v6 = Some(*link);
        let route = if self.default_route6 {
            route_note(true, &self.add_default_route(dev, true))
        } else {
            String::new()
        };
        Ok(format!(
            "interface {actual} {}/64 peer {}{route}",
            link.local.link_local(),
            link.peer.link_local()
        ))
    }

    fn down6(&mut self) {
        if let (Some(v6), Some(dev), Some(actual)) = (self.v6.take(), &self.dev, &self.actual) {
            let _ = dev.remove_address_v6(v6.local.link_local(), 64);
            if let Err(e) = set_ipv6(actual, false) {
                tracing::warn!(interface = %actual, error = %e, "cannot switch IPv6 off");
            }
        }
        self.release();
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

    fn discard_queued(&mut self) -> u64 {
        let Some(d) = &self.dev else { return 0 };
        let mut buf = vec![0u8; 65536];
        let mut n = 0;
        while d.try_recv(&mut buf).is_ok() {
            n += 1;
        }
        self.dropped += n;
        n
    }

    fn interface(&self) -> Option<String> {
        self.actual.clone()
    }
}
