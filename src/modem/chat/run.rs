//! Runs a chat(8) connect script against a modem: the async side of the
//! sans-IO [`Chat`] interpreter. Bytes read go to [`Chat::feed`]; its
//! actions (send with chat's per-character delay, pause, break, SAY,
//! REPORT, echo) are carried out in order; its deadlines are honoured.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use carrier_hw::LinesError;

use super::{visible, Action, Chat, ChatConfig, ChatError, Outcome, Script};
use crate::modem::at::{AtPort, ModemError};

/// What a script tells its user as it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScriptEvent {
    /// A SAY string.
    Say(String),
    /// A REPORT line (`CONNECT 33600/ARQ`).
    Report(String),
    /// Modem output, under ECHO ON or `-e`.
    Echo(Vec<u8>),
}

/// How a script ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptRun {
    pub outcome: Outcome,
    /// chat's exit status: 0 success, 1 bad script, 2 I/O error or hang-up,
    /// 3 timeout, 4 + n the n-th ABORT string.
    pub exit_code: i32,
    pub reports: Vec<String>,
}

impl ScriptRun {
    pub fn succeeded(&self) -> bool {
        self.outcome == Outcome::Success
    }
}

/// For ports without a break (a socket, a test stream): `\K` and BREAK
/// are logged and skipped, as chat does when tcsendbreak fails.
pub fn no_break<P>(_: &P) -> Result<(), LinesError> {
    Err(LinesError::Unsupported)
}

/// A real tty's break, tcsendbreak(3).
pub fn tty_break<P: std::os::fd::AsRawFd>(port: &P) -> Result<(), LinesError> {
    // tcsendbreak blocks for a quarter to half a second.
    crate::modem::blocking(|| carrier_hw::send_break(port))
}

/// Runs `script` on `at`'s port. Bytes the script left unread (after
/// CONNECT, the peer's first frames) go back to `at`, so that
/// `at.into_data()` yields them. `send_break` carries out `\K`/BREAK
/// ([`tty_break`] or [`no_break`]).
///
/// Every wait is the script's: `TIMEOUT 0` (or `cfg.timeout` zero) waits
/// for ever, as chat does; bound the call with a timeout if that matters.
/// `@file` sends are read here, before anything is sent.
pub async fn run_script<P, B>(
    at: &mut AtPort<P>,
    mut script: Script,
    cfg: ChatConfig,
    send_break: B,
    mut on: impl FnMut(ScriptEvent),
) -> ScriptRun
where
    P: AsyncRead + AsyncWrite + Unpin,
    B: Fn(&P) -> Result<(), LinesError>,
{
    let mut reports = Vec::new();
    if let Err(e) = script.load_files(|p| std::fs::read(p)) {
        return finish(Outcome::Error(e), reports);
    }
    let mut chat = Chat::new(script, cfg, now());
    let early = at.take_buffered();
    if !early.is_empty() {
        chat.feed(&early, now());
    }
    let mut buf = [0u8; 1024];
    loop {
        while let Some(action) = chat.poll_action() {
            if let Err(e) = perform(at, action, &send_break, &mut on, &mut reports).await {
                chat.handle_io_error(&e, now());
            }
        }
        if chat.is_done() {
            break;
        }
        let deadline = chat.poll_timeout().map(Instant::from_std);
        match at.read_raw(&mut buf, deadline).await {
            Ok(Some(n)) => chat.feed(&buf[..n], now()),
            Ok(None) => chat.handle_timeout(now()),
            Err(ModemError::Gone) => {
                chat.handle_hangup(now());
                if !chat.is_done() {
                    // HANGUP OFF, but there is nothing left to read.
                    chat.handle_io_error("the port went away", now());
                }
            }
            Err(e) => chat.handle_io_error(&e, now()),
        }
    }
    // Reports and echoes queued with the end.
    while let Some(action) = chat.poll_action() {
        let _ = perform(at, action, &send_break, &mut on, &mut reports).await;
    }
    at.unread(&chat.take_remaining());
    finish(chat.outcome().clone(), reports)
}

fn finish(outcome: Outcome, reports: Vec<String>) -> ScriptRun {
    let exit_code = outcome.exit_code().unwrap_or(2);
    match &outcome {
        Outcome::Success => tracing::info!("connect script done"),
        other => tracing::warn!(outcome = ?other, exit_code, "connect script failed"),
    }
    ScriptRun {
        outcome,
        exit_code,
        reports,
    }
}

fn now() -> std::time::Instant {
    Instant::now().into_std()
}

async fn perform<P, B>(
    at: &mut AtPort<P>,
    action: Action,
    send_break: &B,
    on: &mut impl FnMut(ScriptEvent),
    reports: &mut Vec<String>,
) -> Result<(), ChatError>
where
    P: AsyncRead + AsyncWrite + Unpin,
    B: Fn(&P) -> Result<(), LinesError>,
{
    /// One byte can never take this long unless the port is stuck.
    const WRITE_LIMIT: Duration = Duration::from_secs(10);
    let io = |e: ModemError| ChatError::Io(e.to_string());
    match action {
        Action::Send {
            bytes,
            char_delay,
            quiet,
        } => {
            if quiet {
                // `\q`: a password. Never logged.
                tracing::debug!(len = bytes.len(), "chat send (hidden)");
            } else {
                tracing::debug!(send = %visible(&bytes), "chat send");
            }
            if char_delay.is_zero() {
                at.write_raw(&bytes, WRITE_LIMIT).await.map_err(io)?;
            } else {
                for b in bytes {
                    tokio::time::sleep(char_delay).await;
                    at.write_raw(&[b], WRITE_LIMIT).await.map_err(io)?;
                }
            }
        }
        Action::Pause(d) => tokio::time::sleep(d).await,
        Action::Break => {
            if let Err(e) = send_break(at.get_ref()) {
                tracing::warn!(error = %e, "cannot send a break");
            }
        }
        Action::Say(s) => on(ScriptEvent::Say(s)),
        Action::Report(s) => {
            tracing::info!(report = %s, "chat report");
            reports.push(s.clone());
            on(ScriptEvent::Report(s));
        }
        Action::SetHangup(_) => {}
        Action::Echo(bytes) => on(ScriptEvent::Echo(bytes)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modem::reader::ReaderConfig;
    use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt};

    fn cfg() -> ChatConfig {
        ChatConfig {
            timeout: Duration::from_millis(500),
            phone: Some("5551234".into()),
            char_delay: Duration::ZERO,
            ..ChatConfig::default()
        }
    }

    #[tokio::test]
    async fn runs_a_connect_script_and_keeps_the_data() {
        let (a, mut m) = duplex(4096);
        let mut at = AtPort::new(a, ReaderConfig::default());
        let modem = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut b = [0u8; 256];
            loop {
                let n = m.read(&mut b).await.unwrap();
                got.extend_from_slice(&b[..n]);
                let text = String::from_utf8_lossy(&got).into_owned();
                if text.contains("ATDT5551234\r") {
                    break;
                }
                if text.ends_with("ATZ\r") {
                    m.write_all(b"ATZ\r\r\nOK\r\n").await.unwrap();
                }
            }
            m.write_all(b"\r\nCONNECT 33600/ARQ\r\n\x7e\xff\x03")
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(300)).await;
            got
        });
        let script = Script::parse(
            "ABORT BUSY REPORT CONNECT '' ATZ OK-AT-OK ATDT\\T CONNECT \\c SAY 'up\\n'",
        )
        .unwrap();
        let mut events = Vec::new();
        let run = run_script(&mut at, script, cfg(), no_break, |e| events.push(e)).await;
        assert!(run.succeeded(), "{run:?}");
        assert_eq!(run.exit_code, 0);
        assert!(
            events.contains(&ScriptEvent::Say("up\n".into())),
            "{events:?}"
        );
        let sent = String::from_utf8(modem.await.unwrap()).unwrap();
        assert!(sent.starts_with("ATZ\r"), "{sent:?}");
        // The frame bytes after CONNECT reach the data port.
        let mut data = at.into_data();
        let pending = data.pending().to_vec();
        assert!(pending.ends_with(b"\x7e\xff\x03"), "{pending:?}");
        let mut b = vec![0u8; pending.len()];
        data.read_exact(&mut b).await.unwrap();
    }

    #[tokio::test]
    async fn abort_and_timeout_exit_codes() {
        let (a, mut m) = duplex(4096);
        let mut at = AtPort::new(a, ReaderConfig::default());
        tokio::spawn(async move {
            let mut b = [0u8; 64];
            let _ = m.read(&mut b).await;
            m.write_all(b"\r\nBUSY\r\n").await.unwrap();
            tokio::time::sleep(Duration::from_secs(3)).await;
        });
        let script = Script::parse("ABORT 'NO CARRIER' ABORT BUSY '' ATDT\\T CONNECT").unwrap();
        let run = run_script(&mut at, script, cfg(), no_break, |_| {}).await;
        assert_eq!(run.exit_code, 5, "{run:?}");

        let (a, _m) = duplex(4096);
        let mut at = AtPort::new(a, ReaderConfig::default());
        let script = Script::parse("'' AT OK").unwrap();
        let run = run_script(&mut at, script, cfg(), no_break, |_| {}).await;
        assert_eq!(run.exit_code, 3, "{run:?}");
    }

    #[tokio::test]
    async fn a_vanished_port_is_exit_2() {
        let (a, m) = duplex(4096);
        drop(m);
        let mut at = AtPort::new(a, ReaderConfig::default());
        let script = Script::parse("OK AT").unwrap();
        let run = run_script(&mut at, script, cfg(), no_break, |_| {}).await;
        assert_eq!(run.exit_code, 2, "{run:?}");
    }
}
