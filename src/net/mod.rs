//! Where IP datagrams go once IPCP is up: a TUN device, the access
//! server's fence, or nowhere. The session drives an [`IpPlane`] and knows
//! nothing of what is behind it.

use std::io;
use std::net::Ipv4Addr;

use crate::ppp::ipv6cp::InterfaceId;

/// The addresses IPCP agreed on and the largest datagram the peer takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpLink {
    pub local: Ipv4Addr,
    pub peer: Option<Ipv4Addr>,
    pub dns: Vec<Ipv4Addr>,
    pub mtu: u16,
}

/// The identifiers IPv6CP agreed on (RFC 5072): the link-local addresses
/// `fe80::<local>` and `fe80::<peer>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ip6Link {
    pub local: InterfaceId,
    pub peer: InterfaceId,
    pub mtu: u16,
}

/// The IP side of a PPP session.
#[allow(async_fn_in_trait)]
pub trait IpPlane {
    /// IPCP opened: make the interface (or whatever stands for it) ready.
    /// Returns a line for the user, e.g. the interface's name.
    fn up(&mut self, link: &IpLink) -> io::Result<String>;
    /// IPCP closed or the link went down: undo `up`.
    fn down(&mut self);
    /// IPv6CP opened. A plane that carries no IPv6 says so; the session
    /// then keeps IPv6 off the link.
    fn up6(&mut self, _link: &Ip6Link) -> io::Result<String> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this IP plane carries no IPv6",
        ))
    }
    /// IPv6CP closed or the link went down: undo `up6`.
    fn down6(&mut self) {}
    /// A datagram from the peer.
    fn deliver(&mut self, datagram: &[u8]);
    /// Waits for a datagram to send to the peer and writes it into `buf`,
    /// returning its length. Must be cancel-safe: the session polls it in a
    /// `select!` beside the line.
    async fn next_outbound(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Datagrams this plane dropped (no interface, fenced off, ...).
    fn dropped(&self) -> u64;
    /// Throws away what the host queued for a link that will not come
    /// (a demand call that failed); returns how many, also counted in
    /// [`IpPlane::dropped`].
    fn discard_queued(&mut self) -> u64 {
        0
    }
    /// The kernel's name of the interface while IP is up, if there is one.
    fn interface(&self) -> Option<String> {
        None
    }
    /// If `up` fails, the link must not stay up (a firewall that could not
    /// be installed, say); nor if [`IpPlane::next_outbound`] fails (one
    /// that could not be kept).
    fn must_be_up(&self) -> bool {
        false
    }
    /// What this plane has to say of the call at its end, beside the
    /// link's statistics (the inbound call's policy counts, say).
    fn summary(&self) -> Option<serde_json::Value> {
        None
    }
}

/// No IP interface: datagrams from the peer are counted and dropped; none
/// go out. For a link that only proves it can come up, and for users
/// without the rights to create a TUN device.
#[derive(Debug, Default)]
pub struct NoIp {
    dropped: u64,
}

impl IpPlane for NoIp {
    fn up(&mut self, _link: &IpLink) -> io::Result<String> {
        Ok("no IP interface: datagrams from the peer are dropped".into())
    }

    fn down(&mut self) {}

    fn up6(&mut self, _link: &Ip6Link) -> io::Result<String> {
        Ok("no IP interface: IPv6 datagrams from the peer are dropped".into())
    }

    fn deliver(&mut self, _datagram: &[u8]) {
        self.dropped += 1;
    }

    async fn next_outbound(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
        std::future::pending().await
    }

    fn dropped(&self) -> u64 {
        self.dropped
    }
}
pub mod choice;
pub mod fence;
pub mod hosts;
pub mod probe;
pub mod resolv;
pub mod tun;
