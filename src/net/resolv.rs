//! pppd's `usepeerdns` file: the DNS servers the peer gave us, written as
//! a resolv.conf while IP is up (pppd writes /etc/ppp/resolv.conf and
//! leaves it to ip-up scripts to use it), removed when IP goes down.

use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// The file while it is ours.
#[derive(Debug)]
pub struct ResolvConf {
    path: PathBuf,
    written: bool,
}

impl ResolvConf {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ResolvConf {
            path: path.into(),
            written: false,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the file at once (written beside it, then renamed), so a
    /// reader never sees half of it.
    pub fn write(&mut self, dns: &[Ipv4Addr]) -> io::Result<()> {
        let mut text = String::from("# written by carrier: DNS servers from the PPP peer\n");
        for d in dns {
            text.push_str(&format!("nameserver {d}\n"));
        }
        let tmp = self.path.with_extension("carrier-tmp");
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        self.written = true;
        Ok(())
    }

    /// Removes the file if we wrote it.
    pub fn remove(&mut self) {
        if self.written {
            if let Err(e) = std::fs::remove_file(&self.path) {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot remove the resolv.conf we wrote");
            }
            self.written = false;
        }
    }
}

impl Drop for ResolvConf {
    fn drop(&mut self) {
        self.remove();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_while_up_and_gone_after() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("resolv.conf");
        let mut r = ResolvConf::new(&p);
        r.write(&[Ipv4Addr::new(10, 64, 0, 53), Ipv4Addr::new(10, 64, 0, 54)])
            .unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("nameserver 10.64.0.53\nnameserver 10.64.0.54\n"));
        r.remove();
        assert!(!p.exists());
        // Not ours: left alone.
        std::fs::write(&p, "nameserver 1.1.1.1\n").unwrap();
        drop(ResolvConf::new(&p));
        assert!(p.exists());
    }
}
