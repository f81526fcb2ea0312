//! Service hosts emulated in user space, enough to test a fenced link
//! against: they answer ICMP echo and accept TCP on port 443, echoing what
//! they receive. smoltcp is the TCP/IP stack; its "device" is two queues
//! of datagrams, one from the PPP peer and one back to it.

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::time::Instant as StdInstant;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpCidr, Ipv4Address};

/// The port the emulated service hosts listen on.
pub const SERVICE_PORT: u16 = 443;
/// How many TCP connections the hosts hold at once.
const SOCKETS: usize = 8;
/// smoltcp keeps at most this many addresses on one interface (the
/// `iface-max-addr-count-8` feature).
pub const MAX_HOSTS: usize = 8;

#[derive(Debug, Default)]
struct Queues {
    rx: VecDeque<Vec<u8>>,
    tx: VecDeque<Vec<u8>>,
    mtu: usize,
}

struct Rx(Vec<u8>);
struct Tx<'a>(&'a mut VecDeque<Vec<u8>>);

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0u8; len];
        let r = f(&mut buf);
        self.0.push_back(buf);
        r
    }
}

impl Device for Queues {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _t: Instant) -> Option<(Rx, Tx<'_>)> {
        let p = self.rx.pop_front()?;
        Some((Rx(p), Tx(&mut self.tx)))
    }

    fn transmit(&mut self, _t: Instant) -> Option<Tx<'_>> {
        Some(Tx(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ip;
        c.max_transmission_unit = self.mtu;
        c
    }
}

/// A set of emulated hosts, one address each, behind one interface.
pub struct EmulatedHosts {
    iface: Interface,
    dev: Queues,
    sockets: SocketSet<'static>,
    handles: Vec<SocketHandle>,
    epoch: StdInstant,
    /// Connections accepted so far.
    pub accepted: u64,
    was_open: Vec<bool>,
}

impl std::fmt::Debug for EmulatedHosts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatedHosts")
            .field("accepted", &self.accepted)
            .finish_non_exhaustive()
    }
}

impl EmulatedHosts {
    /// Hosts at `addrs` (at most [`MAX_HOSTS`]; extra ones are ignored and
    /// logged) for datagrams of up to `mtu` octets.
    pub fn new(addrs: &[Ipv4Addr], mtu: u16) -> Self {
        let mut dev = Queues {
            mtu: usize::from(mtu),
            ..Queues::default()
        };
        let epoch = StdInstant::now();
        let mut iface = Interface::new(
            Config::new(HardwareAddress::Ip),
            &mut dev,
            Instant::from_millis(0),
        );
        if addrs.len() > MAX_HOSTS {
            tracing::warn!(
                count = addrs.len(),
                "only the first {MAX_HOSTS} service addresses are emulated"
            );
        }
        iface.update_ip_addrs(|ips| {
            for a in addrs.iter().take(MAX_HOSTS) {
                let _ = ips.push(IpCidr::new((*a).into(), 32));
            }
        });
        // Replies go back down the link whatever the caller's address.
        let _ = iface
            .routes_mut()
            .add_default_ipv4_route(Ipv4Address::new(0, 0, 0, 1));
        iface.set_any_ip(false);
        let mut sockets = SocketSet::new(Vec::new());
        let mut handles = Vec::new();
        for _ in 0..SOCKETS {
            let mut s = tcp::Socket::new(
                tcp::SocketBuffer::new(vec![0; 8192]),
                tcp::SocketBuffer::new(vec![0; 8192]),
            );
            let _ = s.listen(SERVICE_PORT);
            handles.push(sockets.add(s));
        }
        EmulatedHosts {
            iface,
            dev,
            sockets,
            was_open: vec![false; handles.len()],
            handles,
            epoch,
            accepted: 0,
        }
    }

    fn now(&self) -> Instant {
        Instant::from_micros(self.epoch.elapsed().as_micros() as i64)
    }

    /// A datagram for one of the hosts.
    pub fn deliver(&mut self, datagram: &[u8]) {
        self.dev.rx.push_back(datagram.to_vec());
    }

    /// Runs the stack and the echo service; returns a datagram for the
    /// peer, if one is ready.
    pub fn poll(&mut self) -> Option<Vec<u8>> {
        let now = self.now();
        self.iface.poll(now, &mut self.dev, &mut self.sockets);
        let mut buf = [0u8; 2048];
        for (i, h) in self.handles.iter().enumerate() {
            let s = self.sockets.get_mut::<tcp::Socket>(*h);
            let open = s.is_active();
            if open && !self.was_open[i] {
                self.accepted += 1;
            }
            self.was_open[i] = open;
            while s.can_recv() && s.can_send() {
                match s.recv_slice(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let _ = s.send_slice(&buf[..n]);
                    }
                }
            }
            match s.state() {
                tcp::State::CloseWait => s.close(),
                tcp::State::Closed => {
                    let _ = s.listen(SERVICE_PORT);
                }
                _ => {}
            }
        }
        self.iface.poll(now, &mut self.dev, &mut self.sockets);
        self.dev.tx.pop_front()
    }

    /// How long until the stack wants polling again (retransmissions).
    pub fn poll_delay(&mut self) -> Option<std::time::Duration> {
        let now = self.now();
        if !self.dev.tx.is_empty() || !self.dev.rx.is_empty() {
            return Some(std::time::Duration::ZERO);
        }
        self.iface
            .poll_delay(now, &self.sockets)
            .map(|d| std::time::Duration::from_micros(d.total_micros()))
    }
}
