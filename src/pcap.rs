//! Captures of PPP frames as pcap with link type 204 (LINKTYPE_PPP_WITH_DIR):
//! one direction octet (0 received, 1 sent), then the frame unstuffed with
//! address, control and protocol, no FCS. Flushed after every frame so
//! Wireshark can follow a live call. PAP passwords are masked.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::ppp::activity::Direction;
use crate::ppp::{pap, proto};

pub const LINKTYPE_PPP_WITH_DIR: u32 = 204;

#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    record: Vec<u8>,
}

impl PcapWriter<BufWriter<File>> {
    /// Creates (or truncates) `path` readable by its owner only, whatever
    /// the umask: a capture holds CHAP challenges with their responses,
    /// enough for an offline guess at the secret. An existing file's
    /// wider mode is narrowed too.
    ///
    /// Root may be writing into /tmp, so nobody else's file is ever
    /// written or truncated: a symbolic link at `path` is not followed
    /// (`O_NOFOLLOW`), and an existing file is truncated only once the
    /// open descriptor shows a regular file of ours with no other hard
    /// link (a FIFO does not block the open either: `O_NONBLOCK`).
    pub fn create(path: &Path) -> io::Result<Self> {
        use nix::fcntl::OFlag;
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .mode(0o600)
            .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(nix::libc::ELOOP) => refused(path, "a symbolic link"),
                _ => e,
            })?;
        let meta = f.metadata()?;
        let euid = nix::unistd::geteuid().as_raw();
        if !meta.is_file() {
            return Err(refused(path, "not a regular file"));
        }
        if meta.uid() != euid {
            return Err(refused(path, &format!("owned by uid {}", meta.uid())));
        }
        if meta.nlink() != 1 {
            return Err(refused(path, "has other hard links"));
        }
        f.set_len(0)?;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        PcapWriter::new(BufWriter::new(f))
    }
}

fn refused(path: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "{}: {why}: not written, so as not to overwrite another file",
            path.display()
        ),
    )
}

impl<W: Write> PcapWriter<W> {
    pub fn new(mut out: W) -> io::Result<Self> {
        // Classic pcap global header, microsecond timestamps, host order.
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_c3d4u32.to_ne_bytes());
        h.extend_from_slice(&2u16.to_ne_bytes());
        h.extend_from_slice(&4u16.to_ne_bytes());
        h.extend_from_slice(&0i32.to_ne_bytes());
        h.extend_from_slice(&0u32.to_ne_bytes());
        h.extend_from_slice(&65535u32.to_ne_bytes());
        h.extend_from_slice(&LINKTYPE_PPP_WITH_DIR.to_ne_bytes());
        out.write_all(&h)?;
        out.flush()?;
        Ok(PcapWriter {
            out,
            record: Vec::with_capacity(2048),
        })
    }

    /// Writes one PPP packet (protocol and information field).
    pub fn write(
        &mut self,
        dir: Direction,
        protocol: u16,
        info: &[u8],
        at: SystemTime,
    ) -> io::Result<()> {
        let r = &mut self.record;
        r.clear();
        r.push(dir as u8);
        r.extend_from_slice(&[0xff, 0x03]);
        r.extend_from_slice(&protocol.to_be_bytes());
        let start = r.len();
        r.extend_from_slice(info);
        if protocol == proto::PAP {
            mask_pap_password(&mut r[start..]);
        }
        let t = at.duration_since(UNIX_EPOCH).unwrap_or_default();
        let len = r.len() as u32;
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&(t.as_secs() as u32).to_ne_bytes());
        h[4..8].copy_from_slice(&t.subsec_micros().to_ne_bytes());
        h[8..12].copy_from_slice(&len.to_ne_bytes());
        h[12..16].copy_from_slice(&len.to_ne_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(&self.record)?;
        self.out.flush()
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Overwrites the Password of a PAP Authenticate-Request with `*`, keeping
/// every length field true so the capture still dissects.
fn mask_pap_password(pkt: &mut [u8]) {
    if pkt.first() != Some(&pap::AUTH_REQ) || pkt.len() < 5 {
        return;
    }
    let user_len = usize::from(pkt[4]);
    let pw_len_at = 5 + user_len;
    let Some(&pw_len) = pkt.get(pw_len_at) else {
        return;
    };
    let end = (pw_len_at + 1 + usize::from(pw_len)).min(pkt.len());
    pkt[pw_len_at + 1..end].fill(b'*');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_are_private_whatever_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("carrier-pcap-mode-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A new file (the usual umask 022 would make it 0644), and an
        // existing world-readable one, which is narrowed as well.
        let existing = dir.join("old.pcap");
        std::fs::write(&existing, b"old").unwrap();
        std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o644)).unwrap();
        for path in [dir.join("new.pcap"), existing] {
            drop(PcapWriter::create(&path).unwrap());
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", path.display());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_link_or_another_file_is_never_truncated() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("carrier-pcap-link-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("precious");
        std::fs::write(&target, b"keep").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        let untouched = |why: &str| {
            assert_eq!(std::fs::read(&target).unwrap(), b"keep", "{why}");
            let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o644, "{why}");
        };
        // Planted in /tmp by someone else: a symbolic link, a hard link.
        let sym = dir.join("sym.pcap");
        std::os::unix::fs::symlink(&target, &sym).unwrap();
        let e = PcapWriter::create(&sym).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        untouched("symlink");
        let hard = dir.join("hard.pcap");
        std::fs::hard_link(&target, &hard).unwrap();
        let e = PcapWriter::create(&hard).unwrap_err();
        assert!(e.to_string().contains("hard links"), "{e}");
        untouched("hard link");
        // Someone else's file.
        if nix::unistd::geteuid().is_root() {
            let theirs = dir.join("theirs.pcap");
            std::fs::write(&theirs, b"theirs").unwrap();
            nix::unistd::chown(&theirs, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
            let e = PcapWriter::create(&theirs).unwrap_err();
            assert!(e.to_string().contains("owned by uid 65534"), "{e}");
            assert_eq!(std::fs::read(&theirs).unwrap(), b"theirs");
        }
        // A FIFO neither blocks the open nor is written.
        let fifo = dir.join("fifo.pcap");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert!(PcapWriter::create(&fifo).is_err());
        // An existing capture of ours is truncated as before.
        let old = dir.join("old.pcap");
        std::fs::write(&old, vec![7u8; 100]).unwrap();
        drop(PcapWriter::create(&old).unwrap());
        assert_eq!(std::fs::metadata(&old).unwrap().len(), 24, "header only");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn header_and_record_layout() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        w.write(Direction::Outbound, 0xc021, &[1, 1, 0, 4], UNIX_EPOCH)
            .unwrap();
        let v = w.into_inner();
        assert_eq!(v.len(), 24 + 16 + 9);
        assert_eq!(u32::from_ne_bytes(v[20..24].try_into().unwrap()), 204);
        assert_eq!(&v[40..], &[1, 0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4]);
    }

    #[test]
    fn pap_password_is_masked() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        let pkt = pap::request(1, b"alice", b"s3cret");
        w.write(Direction::Outbound, proto::PAP, &pkt, UNIX_EPOCH)
            .unwrap();
        let v = w.into_inner();
        let hay = &v[40..];
        assert!(hay.windows(5).any(|x| x == b"alice"));
        assert!(!hay.windows(6).any(|x| x == b"s3cret"));
        assert!(hay.windows(6).any(|x| x == b"******"));
    }
}
