//! IPv4 forwarding for a call's partitions, switched on per interface (the
//! link, and the interface each partition is reached through), never for
//! the whole host: `net.ipv4.ip_forward` would make the console a router
//! between all its networks for as long as the call lasts.
//!
//! Linux decides forwarding by the interface a packet arrives on
//! (`conf/<if>/forwarding`), so the link needs it for the caller's
//! packets and each partition's interface for the replies. Every value
//! changed is recorded (in the enablement record, before the change) and
//! put back exactly when the call ends, or by the next start after a
//! crash.

use std::io;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

/// One setting as it was before the call changed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sysctl {
    pub path: PathBuf,
    pub was: String,
}

/// A name the kernel could have given an interface (its own rule: no `/`,
/// so safe in a path), else an error.
fn plain_ifname(ifname: &str) -> io::Result<&str> {
    crate::profile::check_ifname(ifname)
        .map(|()| ifname)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
}

/// The forwarding switch of one interface.
pub fn path(ifname: &str) -> io::Result<PathBuf> {
    Ok(PathBuf::from(format!(
        "/proc/sys/net/ipv4/conf/{}/forwarding",
        plain_ifname(ifname)?
    )))
}

/// The interface the console reaches `addr` through (`ip route get`).
pub fn egress(addr: Ipv4Addr) -> io::Result<String> {
    let out = Command::new("ip")
        .args(["-j", "route", "get", &addr.to_string()])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run ip (iproute2): {e}")))?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "no route to {addr}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| io::Error::other(format!("ip route get {addr}: {e}")))?;
    let dev = v[0]["dev"]
        .as_str()
        .ok_or_else(|| io::Error::other(format!("ip route get {addr}: no device")))?;
    Ok(plain_ifname(dev)?.to_string())
}

/// What switching `ifname` on would change: None if it is on already.
pub fn before_switching_on(ifname: &str) -> io::Result<Option<Sysctl>> {
    let path = path(ifname)?;
    let was = std::fs::read_to_string(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?
        .trim()
        .to_string();
    Ok((was != "1").then_some(Sysctl { path, was }))
}

pub fn switch_on(s: &Sysctl) -> io::Result<()> {
    std::fs::write(&s.path, "1")
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", s.path.display())))
}

/// Puts every recorded value back. An interface that is gone (the call's
/// own TUN, after the call) has nothing to put back; other failures are
/// logged and the rest restored all the same.
pub fn restore(list: &[Sysctl]) {
    for s in list {
        if !s.path.exists() {
            continue;
        }
        match std::fs::write(&s.path, &s.was) {
            Ok(()) => {
                tracing::debug!(path = %s.path.display(), value = %s.was, "forwarding restored")
            }
            Err(e) => {
                tracing::error!(path = %s.path.display(), error = %e, "could not restore forwarding")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_interface_names_make_paths() {
        assert_eq!(
            path("eth0").unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/conf/eth0/forwarding")
        );
        for bad in ["", "..", "../all", "a/b", "a:b", "a b", "0123456789abcdef"] {
            assert!(path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn restore_skips_what_is_gone_and_puts_back_the_rest() {
        let dir = std::env::temp_dir().join(format!("carrier-fwd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let kept = dir.join("forwarding");
        std::fs::write(&kept, "1").unwrap();
        restore(&[
            Sysctl {
                path: dir.join("gone/forwarding"),
                was: "0".into(),
            },
            Sysctl {
                path: kept.clone(),
                was: "0".into(),
            },
        ]);
        assert_eq!(std::fs::read_to_string(&kept).unwrap(), "0");
        assert!(!dir.join("gone").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
