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
    dropped: u64,
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
            dropped: 0,
        }
    }
}

impl TunPlane {
    /// The interface while IP is up, for adding addresses.
    pub fn device(&self) -> Option<&AsyncDevice> {
        self.dev.as_ref()
    }
}

impl IpPlane for TunPlane {
    fn up(&mut self, link: &IpLink) -> io::Result<String> {
        let dev = DeviceBuilder::new()
            .name(&self.name)
            .ipv4(link.local, 32u8, link.peer)
            .mtu(link.mtu)
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
        self.dev = Some(dev);
        let peer = link.peer.map(|p| format!(" peer {p}")).unwrap_or_default();
        Ok(format!(
            "interface {} {}{peer} mtu {}",
            self.name, link.local, link.mtu
        ))
    }

    fn down(&mut self) {
        // The device goes away with its last descriptor (not persistent).
        if self.dev.take().is_some() {
            tracing::info!(interface = %self.name, "interface removed");
        }
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
}
