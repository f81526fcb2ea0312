//! Listeners inside a network namespace, in this process: a thread joins
//! `/run/netns/<name>` (CLONE_NEWNET applies to the calling thread only),
//! binds TCP listeners and UDP echo sockets on `0.0.0.0:P` and `[::]:P`
//! (IPV6_V6ONLY, so each family has its own socket) and counts, per
//! (family, protocol, port), the connections it accepted and the
//! datagrams it received. Stopped when dropped.

use std::collections::BTreeMap;
use std::fs::File;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6, TcpListener, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sched::{setns, CloneFlags};
use nix::sys::socket::{
    bind, listen, setsockopt, socket, sockopt, AddressFamily, Backlog, SockFlag, SockType,
    SockaddrIn, SockaddrIn6,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    V4,
    V6,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum L4 {
    Tcp,
    Udp,
}

pub type Key = (Family, L4, u16);
pub type Counts = BTreeMap<Key, u64>;

pub struct Listeners {
    pub ns: String,
    stop: Arc<AtomicBool>,
    counts: Arc<Mutex<Counts>>,
    thread: Option<JoinHandle<()>>,
}

enum Sock {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

fn open(family: Family, l4: L4, port: u16) -> nix::Result<Sock> {
    let (af, ty) = (
        match family {
            Family::V4 => AddressFamily::Inet,
            Family::V6 => AddressFamily::Inet6,
        },
        match l4 {
            L4::Tcp => SockType::Stream,
            L4::Udp => SockType::Datagram,
        },
    );
    let fd: OwnedFd = socket(
        af,
        ty,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    match family {
        Family::V4 => bind(
            fd.as_raw_fd(),
            &SockaddrIn::from(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)),
        )?,
        Family::V6 => {
            setsockopt(&fd, sockopt::Ipv6V6Only, &true)?;
            bind(
                fd.as_raw_fd(),
                &SockaddrIn6::from(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0)),
            )?
        }
    }
    Ok(match l4 {
        L4::Tcp => {
            listen(&fd, Backlog::new(1024).unwrap_or(Backlog::MAXCONN))?;
            Sock::Tcp(TcpListener::from(fd))
        }
        L4::Udp => Sock::Udp(UdpSocket::from(fd)),
    })
}

/// A thread in namespace `ns` (CLONE_NEWNET applies to the calling
/// thread only) that runs `setup` there and then `serve` with what it
/// made; returns once `setup` is done, panicking with its error.
fn spawn_in_netns<T: 'static>(
    ns: &str,
    what: &str,
    setup: impl FnOnce() -> Result<T, String> + Send + 'static,
    serve: impl FnOnce(T) + Send + 'static,
) -> JoinHandle<()> {
    let (ready_tx, ready) = mpsc::channel::<Result<(), String>>();
    let path = format!("/run/netns/{ns}");
    let thread = std::thread::spawn(move || {
        let made = File::open(&path)
            .map_err(|e| format!("{path}: {e}"))
            .and_then(|f| {
                setns(f.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|e| format!("setns {path}: {e}"))
            })
            .and_then(|()| setup());
        match made {
            Ok(t) => {
                let _ = ready_tx.send(Ok(()));
                serve(t);
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e));
            }
        }
    });
    match ready.recv_timeout(Duration::from_secs(10)) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("{what} in {ns}: {e}"),
        Err(e) => panic!("{what} in {ns}: not ready: {e}"),
    }
    thread
}

impl Listeners {
    /// TCP listeners on `tcp` and UDP echo sockets on `udp`, both
    /// families, in namespace `ns`; returns once all are bound.
    pub fn start(ns: &str, tcp: &[u16], udp: &[u16]) -> Listeners {
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Mutex::new(Counts::new()));
        let mut wanted = Vec::new();
        for family in [Family::V4, Family::V6] {
            wanted.extend(tcp.iter().map(|&p| (family, L4::Tcp, p)));
            wanted.extend(udp.iter().map(|&p| (family, L4::Udp, p)));
        }
        let (stop2, counts2) = (stop.clone(), counts.clone());
        let setup = move || -> Result<Vec<(Key, Sock)>, String> {
            wanted
                .iter()
                .map(|&(fam, l4, port)| {
                    open(fam, l4, port)
                        .map(|s| ((fam, l4, port), s))
                        .map_err(|e| format!("{fam:?} {l4:?} port {port}: {e}"))
                })
                .collect()
        };
        let thread = spawn_in_netns(ns, "listeners", setup, move |socks| {
            serve(&socks, &stop2, &counts2)
        });
        Listeners {
            ns: ns.to_string(),
            stop,
            counts,
            thread: Some(thread),
        }
    }

    pub fn count(&self, family: Family, l4: L4, port: u16) -> u64 {
        self.counts
            .lock()
            .unwrap()
            .get(&(family, l4, port))
            .copied()
            .unwrap_or(0)
    }

    pub fn snapshot(&self) -> Counts {
        self.counts.lock().unwrap().clone()
    }

    /// Everything counted, or what `filter` selects.
    pub fn total(&self, filter: impl Fn(&Key) -> bool) -> u64 {
        self.counts
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| filter(k))
            .map(|(_, n)| n)
            .sum()
    }

    /// What was counted since `before`, as text (empty if nothing).
    pub fn since(&self, before: &Counts) -> String {
        let now = self.snapshot();
        now.iter()
            .filter_map(|(k, n)| {
                let was = before.get(k).copied().unwrap_or(0);
                (*n > was).then(|| format!("{:?}/{:?}/{} +{}", k.0, k.1, k.2, n - was))
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn serve(socks: &[(Key, Sock)], stop: &AtomicBool, counts: &Mutex<Counts>) {
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        let mut fds: Vec<PollFd> = socks
            .iter()
            .map(|(_, s)| {
                let fd = match s {
                    Sock::Tcp(l) => l.as_fd(),
                    Sock::Udp(u) => u.as_fd(),
                };
                PollFd::new(fd, PollFlags::POLLIN)
            })
            .collect();
        if poll(&mut fds, PollTimeout::from(50u16)).unwrap_or(0) <= 0 {
            continue;
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        for ((key, s), _) in socks.iter().zip(ready).filter(|(_, r)| *r) {
            match s {
                Sock::Tcp(l) => {
                    // The accepted connection is closed at once.
                    while let Ok((_conn, _peer)) = l.accept() {
                        *counts.lock().unwrap().entry(*key).or_default() += 1;
                    }
                }
                Sock::Udp(u) => {
                    while let Ok((n, peer)) = u.recv_from(&mut buf) {
                        *counts.lock().unwrap().entry(*key).or_default() += 1;
                        let _ = u.send_to(&buf[..n], peer);
                    }
                }
            }
        }
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A TCP listener on `0.0.0.0:port` in a namespace that keeps every
/// connection it accepts and counts the octets each one receives: a
/// service on the console that outlives the call it was reached in.
pub struct Held {
    stop: Arc<AtomicBool>,
    /// (connections accepted, octets received).
    counts: Arc<Mutex<(u64, u64)>>,
    thread: Option<JoinHandle<()>>,
}

impl Held {
    pub fn start(ns: &str, port: u16) -> Held {
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Mutex::new((0, 0)));
        let (stop2, counts2) = (stop.clone(), counts.clone());
        let setup = move || match open(Family::V4, L4::Tcp, port).map_err(|e| e.to_string())? {
            Sock::Tcp(l) => Ok(l),
            Sock::Udp(_) => Err("not TCP".to_string()),
        };
        let thread = spawn_in_netns(ns, "held listener", setup, move |l: TcpListener| {
            let mut conns = Vec::new();
            let mut buf = [0u8; 4096];
            while !stop2.load(Ordering::Relaxed) {
                while let Ok((c, _)) = l.accept() {
                    let _ = c.set_nonblocking(true);
                    counts2.lock().unwrap().0 += 1;
                    conns.push(c);
                }
                for c in &mut conns {
                    use std::io::Read;
                    while let Ok(n) = c.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        counts2.lock().unwrap().1 += n as u64;
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        Held {
            stop,
            counts,
            thread: Some(thread),
        }
    }

    /// (connections accepted, octets received) so far.
    pub fn counts(&self) -> (u64, u64) {
        *self.counts.lock().unwrap()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
