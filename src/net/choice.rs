//! The plane a command line chose: a TUN device, or none (`--no-tun`).

use std::io;

use super::tun::TunPlane;
use super::{Ip6Link, IpLink, IpPlane, NoIp};

pub enum PlaneChoice {
    None(NoIp),
    Tun(TunPlane),
}

impl PlaneChoice {
    /// A TUN interface named `ifname`, or none.
    pub fn new(no_tun: bool, ifname: &str) -> PlaneChoice {
        if no_tun {
            PlaneChoice::None(NoIp::default())
        } else {
            PlaneChoice::Tun(TunPlane::new(ifname))
        }
    }
}

macro_rules! each {
    ($self:ident, $p:ident => $e:expr) => {
        match $self {
            PlaneChoice::None($p) => $e,
            PlaneChoice::Tun($p) => $e,
        }
    };
}

impl IpPlane for PlaneChoice {
    fn up(&mut self, link: &IpLink) -> io::Result<String> {
        each!(self, p => p.up(link))
    }
    fn down(&mut self) {
        each!(self, p => p.down())
    }
    fn up6(&mut self, link: &Ip6Link) -> io::Result<String> {
        each!(self, p => p.up6(link))
    }
    fn down6(&mut self) {
        each!(self, p => p.down6())
    }
    fn deliver(&mut self, datagram: &[u8]) {
        each!(self, p => p.deliver(datagram))
    }
    async fn next_outbound(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        each!(self, p => p.next_outbound(buf).await)
    }
    fn dropped(&self) -> u64 {
        each!(self, p => p.dropped())
    }
    fn discard_queued(&mut self) -> u64 {
        each!(self, p => p.discard_queued())
    }
    fn interface(&self) -> Option<String> {
        each!(self, p => IpPlane::interface(p))
    }
    fn must_be_up(&self) -> bool {
        each!(self, p => p.must_be_up())
    }
}
