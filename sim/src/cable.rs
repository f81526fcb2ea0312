//! A null-modem cable between two PTYs: what one end writes, the other
//! reads, paced at a line rate with a latency, as a modem link would.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use carrier_hw::{HwError, Pty};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use crate::pace::LineProfile;
use crate::pace::Pacer;
use crate::scale::TimeScale;

/// Two PTYs joined back to back. Dropping it cuts the cable.
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
        let a = Arc::new(Pty::open()?);
        let b = Arc::new(Pty::open()?);
        let paths = (a.slave_path().to_path_buf(), b.slave_path().to_path_buf());
        let mut tasks = Vec::new();
        for (from, to) in [(a.clone(), b.clone()), (b, a)] {
            let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>(256);
            tasks.push(tokio::spawn(reader(from, tx, profile)));
            tasks.push(tokio::spawn(writer(to, rx)));
        }
        Ok(NullModem {
            a: paths.0,
            b: paths.1,
            tasks,
        })
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

/// Reads one end and stamps each chunk with the time its last byte arrives
/// at the other: bytes queue behind each other on the line, then travel.
async fn reader(from: Arc<Pty>, tx: mpsc::Sender<(Instant, Vec<u8>)>, profile: LineProfile) {
    let mut buf = vec![0u8; 512];
    let mut pacer = Pacer::new(profile, TimeScale::REAL);
    let chunk = pacer.chunk(buf.len());
    loop {
        let n = match from.master.read(&mut buf[..chunk]).await {
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

async fn writer(to: Arc<Pty>, mut rx: mpsc::Receiver<(Instant, Vec<u8>)>) {
    while let Some((at, bytes)) = rx.recv().await {
        tokio::time::sleep_until(at).await;
        if let Err(e) = to.master.write_all(&bytes).await {
            tracing::debug!(error = %e, "cable write failed");
            return;
        }
    }
}
