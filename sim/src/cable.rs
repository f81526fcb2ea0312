//! A null-modem cable between two PTYs: what one end writes, the other
//! reads, paced at a line rate with a latency, as a modem link would.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use carrier_hw::{AsyncTty, HwError, Pty};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use crate::pace::LineProfile;
use crate::pace::Pacer;
use crate::scale::TimeScale;

/// Two PTYs joined back to back. Dropping it cuts the cable.
///
/// [`NullModem::spawn`] makes both PTYs; [`NullModem::join`] paces the
/// line between two ttys that exist already (a UML guest's console PTY,
/// say), so a foreign peer runs on the very line carrier's sessions do.
#[derive(Debug)]
pub struct NullModem {
    a: PathBuf,
    b: PathBuf,
    tasks: Vec<JoinHandle<()>>,
}

impl NullModem {
    /// Opens both PTYs and starts carrying bytes; call within a tokio
    /// runtime.
    pub fn spawn(profile: LineProfile) -> Result<NullModem, HwError> {
        let a = Pty::open()?;
        let b = Pty::open()?;
        let paths = (a.slave_path().to_path_buf(), b.slave_path().to_path_buf());
        Ok(Self::carry(
            End::Pty(Box::new(a)),
            End::Pty(Box::new(b)),
            paths,
            profile,
        ))
    }

    /// Opens two existing ttys (raw) and carries bytes between them;
    /// `end_a`/`end_b` are then those paths. Call within a tokio runtime.
    pub fn join(a: &Path, b: &Path, profile: LineProfile) -> Result<NullModem, HwError> {
        let ta = AsyncTty::open(a, None)?;
        let tb = AsyncTty::open(b, None)?;
        let paths = (a.to_path_buf(), b.to_path_buf());
        Ok(Self::carry(
            End::Tty(Box::new(ta)),
            End::Tty(Box::new(tb)),
            paths,
            profile,
        ))
    }

    fn carry(a: End, b: End, paths: (PathBuf, PathBuf), profile: LineProfile) -> NullModem {
        let (a, b) = (Arc::new(a), Arc::new(b));
        let mut tasks = Vec::new();
        for (from, to) in [(a.clone(), b.clone()), (b, a)] {
            let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>(256);
            tasks.push(tokio::spawn(reader(from, tx, profile)));
            tasks.push(tokio::spawn(writer(to, rx)));
        }
        NullModem {
            a: paths.0,
            b: paths.1,
            tasks,
        }
    }

    /// The slave device of one end, to open like /dev/ttyS0.
    pub fn end_a(&self) -> &Path {
        &self.a
    }

    pub fn end_b(&self) -> &Path {
        &self.b
    }
}

impl Drop for NullModem {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// One end of the cable: a PTY master of ours, or a tty someone else made.
#[derive(Debug)]
enum End {
    // Boxed: each holds the line settings it restores, and an End moves.
    Pty(Box<Pty>),
    Tty(Box<AsyncTty>),
}

impl End {
    fn tty(&self) -> &AsyncTty {
        match self {
            End::Pty(p) => &p.master,
            End::Tty(t) => t,
        }
    }
}

/// Reads one end and stamps each chunk with the time its last byte arrives
/// at the other: bytes queue behind each other on the line, then travel.
async fn reader(from: Arc<End>, tx: mpsc::Sender<(Instant, Vec<u8>)>, profile: LineProfile) {
    let mut buf = vec![0u8; 512];
    let mut pacer = Pacer::new(profile, TimeScale::REAL);
    let chunk = pacer.chunk(buf.len());
    loop {
        let n = match from.tty().read(&mut buf[..chunk]).await {
            Ok(0) => return,
            Ok(n) => n,
            // EIO while no one has the slave open: wait for a client.
            Err(e) if carrier_hw::is_hangup(&e) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            Err(e) => {
                tracing::debug!(error = %e, "cable read failed");
                return;
            }
        };
        if tx.send((pacer.book(n), buf[..n].to_vec())).await.is_err() {
            return;
        }
        pacer.hold().await;
    }
}

async fn writer(to: Arc<End>, mut rx: mpsc::Receiver<(Instant, Vec<u8>)>) {
    while let Some((at, bytes)) = rx.recv().await {
        tokio::time::sleep_until(at).await;
        if let Err(e) = to.tty().write_all(&bytes).await {
            tracing::debug!(error = %e, "cable write failed");
            return;
        }
    }
}
