//! A subscription to one of the kernel's netlink multicast groups, for
//! waiting on what the kernel announces there (nf_tables' ruleset changes,
//! say). The messages are not parsed: a subscriber learns that something
//! changed and looks for itself.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{
    bind, recv, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType,
};
use tokio::io::unix::AsyncFd;

#[derive(Debug)]
pub struct NetlinkWatch {
    fd: AsyncFd<OwnedFd>,
}

impl NetlinkWatch {
    /// Subscribes to `group` (1 to 32) of the netlink `family` in this
    /// process's network namespace. Call within a tokio runtime.
    pub fn new(family: SockProtocol, group: u32) -> io::Result<NetlinkWatch> {
        if !(1..=32).contains(&group) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("netlink group {group} is not one of 1 to 32"),
            ));
        }
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            family,
        )?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 1 << (group - 1)))?;
        // SAFETY: the AsyncFd owns the descriptor from here on, so it stays
        // open exactly as long as the registration does.
        let fd = unsafe { AsyncFd::register(fd) }.map_err(|e| e.into_parts().1)?;
        Ok(NetlinkWatch { fd })
    }

    /// Reads every datagram waiting, without blocking, handing each to
    /// `f`; true if any came or some were lost (a receive queue that
    /// overflowed, ENOBUFS, or a socket that fails), which `f` cannot
    /// judge, so counts as news.
    pub fn drain(&self, mut f: impl FnMut(&[u8]) -> bool) -> bool {
        // On the stack: called for every datagram of a call, it must not
        // allocate. nf_tables sends at most a page of messages at a time;
        // a longer one arrives cut, which `f` finds unreadable: news.
        let mut buf = [0u8; 16384];
        let mut news = false;
        loop {
            match recv(
                self.fd.get_ref().as_raw_fd(),
                &mut buf,
                MsgFlags::MSG_DONTWAIT,
            ) {
                Ok(0) | Err(Errno::EAGAIN) => return news,
                Ok(n) => news |= f(&buf[..n]),
                Err(Errno::ENOBUFS) => news = true,
                Err(Errno::EINTR) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "reading a netlink subscription failed");
                    return true;
                }
            }
        }
    }

    /// Waits until a message may be waiting; then call
    /// [`NetlinkWatch::drain`]. Cancel-safe.
    pub async fn ready(&self) {
        match self.fd.readable().await {
            Ok(mut g) => g.clear_ready(),
            // Never readable again: nothing more to hear.
            Err(_) => std::future::pending().await,
        }
    }
}
