//! The line of one call: two byte streams, one for each end, joined
//! through pacing, latency and faults. Either end hangs up by dropping its
//! stream; the other then reads what was still on the line, then EOF.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::fault::{seed_for, FaultSpec, Noise};
use crate::pace::{LineProfile, Pacer};
use crate::scale::TimeScale;

/// Bytes a stream buffers between an end and the line: small, so that
/// back-pressure reaches the sender while the line is busy.
const STREAM_BUFFER: usize = 1024;

/// Everything that shapes one call's line.
#[derive(Clone, Debug)]
pub struct LineSpec {
    pub profile: LineProfile,
    pub scale: TimeScale,
    pub faults: FaultSpec,
    /// The run's seed and the call's number, for the faults.
    pub seed: u64,
    pub call: u64,
}

/// Opens the line: returns the caller's end and the answerer's end.
/// Call within a tokio runtime.
pub fn connect(spec: LineSpec) -> (DuplexStream, DuplexStream) {
    let (caller, caller_line) = tokio::io::duplex(STREAM_BUFFER);
    let (answerer, answerer_line) = tokio::io::duplex(STREAM_BUFFER);
    let (caller_rx, caller_tx) = tokio::io::split(caller_line);
    let (answerer_rx, answerer_tx) = tokio::io::split(answerer_line);
    let mut pumps = JoinSet::new();
    let noise = |direction| Noise::new(&spec.faults, seed_for(spec.seed, spec.call, direction));
    pumps.spawn(pump(
        caller_rx,
        answerer_tx,
        Pacer::new(spec.profile, spec.scale),
        noise(0),
        false,
    ));
    pumps.spawn(pump(
        answerer_rx,
        caller_tx,
        Pacer::new(spec.profile, spec.scale),
        noise(1),
        spec.faults.silent(),
    ));
    let drop_after = spec
        .faults
        .carrier_drop_ms
        .map(|ms| spec.scale.apply(Duration::from_millis(ms)));
    tokio::spawn(supervise(pumps, drop_after));
    (caller, answerer)
}

/// Cuts the line when the carrier-drop fault says so: both ends then
/// read EOF, as a modem would report NO CARRIER.
async fn supervise(mut pumps: JoinSet<()>, drop_after: Option<Duration>) {
    let deadline = drop_after.map(|d| Instant::now() + d);
    loop {
        tokio::select! {
            done = pumps.join_next() => if done.is_none() { return },
            () = sleep_until(deadline) => {
                tracing::info!("fault: carrier dropped");
                pumps.abort_all();
                return;
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// One direction: reads, books onto the line, spoils, delivers on time.
async fn pump<R, W>(mut from: R, to: W, mut pacer: Pacer, mut noise: Noise, mute: bool)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>(256);
    let deliver = tokio::spawn(deliver(to, rx));
    // If this pump is aborted (the carrier dropped), the delivery goes
    // with it, so the far end's stream closes at once.
    let _guard = AbortOnDrop(deliver.abort_handle());
    let mut buf = vec![0u8; 512];
    let chunk = pacer.chunk(buf.len());
    loop {
        let n = match from.read(&mut buf[..chunk]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let at = pacer.book(n);
        let mut bytes = buf[..n].to_vec();
        noise.apply(&mut bytes);
        if !mute && !bytes.is_empty() && tx.send((at, bytes)).await.is_err() {
            break;
        }
        pacer.hold().await;
    }
    // What is on the line still arrives before the far end sees EOF.
    drop(tx);
    let _ = deliver.await;
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn deliver<W: AsyncWrite + Unpin>(mut to: W, mut rx: mpsc::Receiver<(Instant, Vec<u8>)>) {
    while let Some((at, bytes)) = rx.recv().await {
        tokio::time::sleep_until(at).await;
        if to.write_all(&bytes).await.is_err() {
            return;
        }
    }
    let _ = to.shutdown().await;
}
