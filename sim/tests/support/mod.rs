//! A DTE for the tests: opens a modem's link like /dev/ttyS0 and talks to
//! it; and a client for a modem's control socket.

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use carrier_hw::AsyncTty;
use carrier_sim::{Sim, SimConfig, TimeScale};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::unix::OwnedReadHalf;
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::UnixStream;
use tokio::time::Instant;

/// Long enough for any step on a loaded machine, short enough to fail
/// a hung test in reasonable time.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The usual fast simulation: everything at a twentieth of real time.
pub fn fast(dir: &Path, modems: usize) -> SimConfig {
    let mut c = SimConfig::new(dir.join("links"), modems);
    c.time_scale = TimeScale::new(0.05).unwrap();
    c
}

pub struct Dte {
    tty: AsyncTty,
    buf: Vec<u8>,
}

impl Dte {
    pub async fn open(path: &Path) -> Dte {
        let tty =
            AsyncTty::open(path, None).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        let mut dte = Dte {
            tty,
            buf: Vec::new(),
        };
        // Let the modem notice the port is open (DTR up) before talking.
        tokio::time::sleep(Duration::from_millis(150)).await;
        dte.drain().await;
        dte
    }

    pub async fn send(&self, bytes: impl AsRef<[u8]>) {
        self.tty.write_all(bytes.as_ref()).await.unwrap();
    }

    /// Reads until `needle` arrives; returns everything up to and
    /// including it, and keeps the rest for the next call.
    pub async fn expect(&mut self, needle: &str) -> String {
        self.expect_within(needle, PATIENCE).await
    }

    pub async fn expect_within(&mut self, needle: &str, patience: Duration) -> String {
        match self.try_expect(needle, patience).await {
            Some(s) => s,
            None => panic!(
                "waited {patience:?} for {needle:?}, got {:?}",
                String::from_utf8_lossy(&self.buf)
            ),
        }
    }

    pub async fn try_expect(&mut self, needle: &str, patience: Duration) -> Option<String> {
        let deadline = Instant::now() + patience;
        loop {
            if let Some(i) = find(&self.buf, needle.as_bytes()) {
                let end = i + needle.len();
                let out: Vec<u8> = self.buf.drain(..end).collect();
                return Some(String::from_utf8_lossy(&out).into_owned());
            }
            let mut chunk = [0u8; 1024];
            match tokio::time::timeout_at(deadline, self.tty.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => self.buf.extend_from_slice(&chunk[..n]),
                Ok(Ok(_)) => panic!("EOF from the modem"),
                Ok(Err(e)) => panic!("read: {e}"),
                Err(_) => return None,
            }
        }
    }

    /// Sends a command line and returns the answer up to its final
    /// result (OK, ERROR or a numeric 0/4 under V0 is not handled here).
    pub async fn at(&mut self, line: &str) -> String {
        self.send(format!("{line}\r")).await;
        let text = self.expect_any(&["OK\r\n", "ERROR\r\n"]).await;
        text
    }

    pub async fn expect_any(&mut self, needles: &[&str]) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let hit = needles
                .iter()
                .filter_map(|n| find(&self.buf, n.as_bytes()).map(|i| i + n.len()))
                .min();
            if let Some(end) = hit {
                let out: Vec<u8> = self.buf.drain(..end).collect();
                return String::from_utf8_lossy(&out).into_owned();
            }
            let mut chunk = [0u8; 1024];
            match tokio::time::timeout_at(deadline, self.tty.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => self.buf.extend_from_slice(&chunk[..n]),
                other => panic!(
                    "waiting for {needles:?}: {other:?}, got {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    /// Everything that arrives within `d`.
    pub async fn read_for(&mut self, d: Duration) -> Vec<u8> {
        let deadline = Instant::now() + d;
        let mut chunk = [0u8; 4096];
        while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, self.tty.read(&mut chunk)).await {
            if n == 0 {
                break;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        std::mem::take(&mut self.buf)
    }

    /// Reads exactly `n` bytes (or panics after the patience).
    pub async fn read_exact(&mut self, n: usize) -> Vec<u8> {
        let deadline = Instant::now() + PATIENCE;
        let mut chunk = [0u8; 4096];
        while self.buf.len() < n {
            match tokio::time::timeout_at(deadline, self.tty.read(&mut chunk)).await {
                Ok(Ok(k)) if k > 0 => self.buf.extend_from_slice(&chunk[..k]),
                other => panic!("wanted {n} bytes, have {}: {other:?}", self.buf.len()),
            }
        }
        self.buf.drain(..n).collect()
    }

    pub async fn drain(&mut self) -> Vec<u8> {
        self.read_for(Duration::from_millis(20)).await
    }

    /// Leaves data state: guard time, `+++`, guard time, OK.
    pub async fn escape(&mut self, guard: Duration) {
        tokio::time::sleep(guard * 2).await;
        self.send("+++").await;
        self.expect("OK\r\n").await;
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub struct Ctl {
    lines: Lines<BufReader<OwnedReadHalf>>,
    w: OwnedWriteHalf,
}

impl Ctl {
    pub async fn connect(path: &Path) -> Ctl {
        let s = UnixStream::connect(path).await.unwrap();
        let (r, w) = s.into_split();
        Ctl {
            lines: BufReader::new(r).lines(),
            w,
        }
    }

    /// Sends a command; returns its reply, skipping unsolicited changes
    /// (a reply names all five lines).
    pub async fn command(&mut self, cmd: &str) -> String {
        self.w
            .write_all(format!("{cmd}\n").as_bytes())
            .await
            .unwrap();
        loop {
            let line = self.next().await.expect("control socket closed");
            if line.starts_with("ERROR") || line.split_whitespace().count() == 10 {
                return line;
            }
        }
    }

    pub async fn next(&mut self) -> Option<String> {
        tokio::time::timeout(PATIENCE, self.lines.next_line())
            .await
            .expect("no line from the control socket")
            .unwrap()
    }

    /// Waits for an unsolicited line containing `what` (e.g. "RI 1").
    pub async fn wait_for(&mut self, what: &str) -> String {
        loop {
            let line = self.next().await.expect("control socket closed");
            if line.contains(what) {
                return line;
            }
        }
    }
}

/// Starts a simulator in a fresh temporary directory.
pub fn start(config: SimConfig) -> Sim {
    Sim::start(config).unwrap()
}

impl Dte {
    /// Reads until nothing has come for `quiet`; returns what came.
    pub async fn read_until_quiet(&mut self, quiet: Duration) -> Vec<u8> {
        let mut chunk = [0u8; 4096];
        let give_up = Instant::now() + PATIENCE * 3;
        while let Ok(Ok(n)) = tokio::time::timeout(quiet, self.tty.read(&mut chunk)).await {
            if n == 0 || Instant::now() > give_up {
                break;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        std::mem::take(&mut self.buf)
    }

    /// Reads `n` bytes and notes when each chunk arrived.
    pub async fn read_timed(&mut self, n: usize) -> Vec<(Instant, usize)> {
        let mut got = Vec::new();
        let mut total = std::mem::take(&mut self.buf).len();
        if total > 0 {
            got.push((Instant::now(), total));
        }
        let mut chunk = [0u8; 4096];
        let deadline = Instant::now() + PATIENCE;
        while total < n {
            match tokio::time::timeout_at(deadline, self.tty.read(&mut chunk)).await {
                Ok(Ok(k)) if k > 0 => {
                    got.push((Instant::now(), k));
                    total += k;
                }
                other => panic!("wanted {n} bytes, have {total}: {other:?}"),
            }
        }
        got
    }
}
