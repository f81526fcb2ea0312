//! Ending a call and noticing that it ended.
//!
//! Hanging up: drop DTR where the port has control lines (the modem hangs
//! up under AT&D2, the factory default), else the escape sequence `+++`
//! between guard times (Hayes; V.250 leaves the escape to the
//! manufacturer) and then ATH0 (V.250 §6.3.6). Either way the modem ends
//! up in command state, on hook.
//!
//! Noticing: [`carrier_lost`] watches DCD. The NO CARRIER a modem prints
//! in the data stream is not watched: with ACCM 0 an IP payload can carry
//! the same bytes; ports without lines rely on end of file and LCP echo.

use std::time::Duration;

use carrier_hw::{LinesError, ModemLines};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use super::at::{AtPort, ModemError};
use super::blocking;
use super::reader::{ModemOutput, ReaderConfig};
use super::result::ResultCode;

#[derive(Clone, Debug)]
pub struct HangupOptions {
    /// How long DTR stays low. Modems sample it every few tens of
    /// milliseconds; half a second is plenty.
    pub dtr_drop: Duration,
    /// Silence before and after `+++`: the modem's S12 (default 1 s) plus
    /// a margin.
    pub guard: Duration,
    /// How long ATH0 (and the OK after `+++`) may take.
    pub command_timeout: Duration,
    pub reader: ReaderConfig,
}

impl Default for HangupOptions {
    fn default() -> Self {
        HangupOptions {
            dtr_drop: Duration::from_millis(500),
            guard: Duration::from_millis(1200),
            command_timeout: Duration::from_secs(5),
            reader: ReaderConfig::default(),
        }
    }
}

impl HangupOptions {
    /// The defaults with the modem-side times multiplied by `factor`, for
    /// a simulator running faster than real time.
    pub fn scaled(factor: f64) -> HangupOptions {
        let d = HangupOptions::default();
        HangupOptions {
            dtr_drop: d.dtr_drop.mul_f64(factor),
            guard: d.guard.mul_f64(factor),
            ..d
        }
    }
}

/// Hangs up the call on `port` (in data state or command state) and
/// returns it in command state, on hook. `lines`: the port's control
/// lines if it has them (a real tty, or a simulator's control socket);
/// when they do not work the escape sequence is used instead.
pub async fn hangup<P>(
    port: P,
    lines: Option<&(dyn ModemLines + Sync)>,
    opts: &HangupOptions,
) -> Result<AtPort<P>, ModemError>
where
    P: AsyncRead + AsyncWrite + Unpin,
{
    let mut at = AtPort::new(port, opts.reader.clone());
    if let Some(lines) = lines {
        match drop_dtr(lines, opts.dtr_drop).await {
            Ok(()) => {
                // Under &D2 the modem said OK as DTR fell: read it now so
                // that it is not taken for the answer to ATH0.
                drain_for(&mut at, opts.dtr_drop.max(Duration::from_millis(50))).await?;
                // &D2 has hung up; &D1 left the modem in online command
                // state, where ATH0 hangs up. Either way ATH0 answers OK.
                match at.ok("ATH0", opts.command_timeout).await {
                    Ok(_) => {
                        tracing::info!("hung up by dropping DTR");
                        return Ok(at);
                    }
                    // &D0: DTR ignored and the modem is still in data
                    // state, reading ATH0 as data. Escape instead.
                    Err(ModemError::Timeout { .. }) => {
                        tracing::info!("the modem ignored DTR (&D0?); using +++")
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(LinesError::Unsupported) => {
                tracing::debug!("no control lines on this port; using +++")
            }
            Err(e) => tracing::warn!(error = %e, "cannot drop DTR; using +++"),
        }
    }
    escape(&mut at, opts).await?;
    at.ok("ATH0", opts.command_timeout).await?;
    tracing::info!("hung up with +++ and ATH0");
    Ok(at)
}

/// DTR low for `duration`, then up again even if this is cancelled.
async fn drop_dtr(lines: &(dyn ModemLines + Sync), duration: Duration) -> Result<(), LinesError> {
    struct Raise<'a>(&'a (dyn ModemLines + Sync));
    impl Drop for Raise<'_> {
        fn drop(&mut self) {
            if let Err(e) = blocking(|| self.0.set_dtr(true)) {
                tracing::warn!(error = %e, "could not raise DTR again after the hang-up");
            }
        }
    }
    blocking(|| lines.set_dtr(false))?;
    let _raise = Raise(lines);
    tokio::time::sleep(duration).await;
    Ok(())
}

/// Guard time, `+++`, guard time; the OK that follows is awaited (and
/// skipped if it does not come: the modem may already be in command
/// state, where `+++` alone is ignored).
async fn escape<P>(at: &mut AtPort<P>, opts: &HangupOptions) -> Result<(), ModemError>
where
    P: AsyncRead + AsyncWrite + Unpin,
{
    // Silence on our side; what the peer still sends is read and dropped
    // so that the OK is not lost behind it.
    drain_for(at, opts.guard).await?;
    at.write_raw(b"+++", opts.command_timeout).await?;
    // The OK comes one guard time (S12) after the last plus; the rest
    // is slack for a busy modem or machine. In command state no OK comes
    // and this is what the hang-up costs extra.
    let deadline = Instant::now() + opts.guard * 3 + Duration::from_millis(500);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            tracing::debug!("no OK after +++; trying ATH0 anyway");
            return Ok(());
        }
        match at.next_line(left).await {
            Ok(ModemOutput::Result(ResultCode::Ok)) => return Ok(()),
            // Carrier gone already: the modem is in command state.
            Ok(ModemOutput::Result(ResultCode::NoCarrier)) => {
                // Let the guard time pass so ATH0 is not glued to +++.
                drain_for(at, opts.guard).await?;
                return Ok(());
            }
            Ok(_) => {}
            Err(ModemError::Timeout { .. }) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// Reads and drops lines for `d`.
async fn drain_for<P>(at: &mut AtPort<P>, d: Duration) -> Result<(), ModemError>
where
    P: AsyncRead + AsyncWrite + Unpin,
{
    let until = Instant::now() + d;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        match at.next_line(left).await {
            Ok(_) => {}
            Err(ModemError::Timeout { .. }) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// Resolves when DCD, once seen on, goes off: the carrier is lost. Polls
/// every `poll`. If the lines cannot be read it never resolves (after one
/// warning): the caller then relies on NO CARRIER, end of file and LCP
/// echoes.
pub async fn carrier_lost(lines: &(dyn ModemLines + Sync), poll: Duration) {
    watch_dcd(lines, None, poll).await
}

/// As [`carrier_lost`], woken by the port itself (TIOCMIWAIT on `port`)
/// where its driver can, so that a dropped carrier is seen at once; a PTY
/// or a driver without it is polled.
pub async fn carrier_lost_on(
    lines: &(dyn ModemLines + Sync),
    port: std::os::fd::BorrowedFd<'_>,
    poll: Duration,
) {
    watch_dcd(lines, Some(port), poll).await
}

/// How long one TIOCMIWAIT may wait before DCD is read anyway: a change
/// between reading the lines and the wait starting is not reported by it.
const WAKE_BOUND: Duration = Duration::from_secs(5);

async fn watch_dcd(
    lines: &(dyn ModemLines + Sync),
    mut port: Option<std::os::fd::BorrowedFd<'_>>,
    poll: Duration,
) {
    let mut seen_on = false;
    let mut ticker = tokio::time::interval(poll);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut first = true;
    loop {
        match port.filter(|_| !first) {
            Some(fd) => {
                match carrier_hw::wait_for_change(fd, carrier_hw::LineMask::DCD, WAKE_BOUND).await {
                    Ok(_) => {}
                    Err(e) => {
                        if !matches!(e, carrier_hw::LinesError::Unsupported) {
                            tracing::debug!(error = %e, "TIOCMIWAIT failed: polling DCD");
                        }
                        port = None;
                        ticker.tick().await;
                    }
                }
            }
            None => {
                ticker.tick().await;
            }
        }
        first = false;
        match blocking(|| lines.get()) {
            Ok(l) if l.dcd => seen_on = true,
            Ok(_) if seen_on => {
                tracing::info!("carrier lost (DCD off)");
                return;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch DCD; carrier loss shows as NO CARRIER or end of file only");
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use carrier_hw::InputCircuits;
    use std::sync::Mutex;
    use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt};

    /// Control lines that record DTR and play back DCD.
    struct Fake {
        dtr: Mutex<Vec<bool>>,
        dcd: Mutex<Vec<bool>>,
        supported: bool,
    }

    impl ModemLines for Fake {
        fn set_dtr(&self, on: bool) -> Result<(), LinesError> {
            if !self.supported {
                return Err(LinesError::Unsupported);
            }
            self.dtr.lock().unwrap().push(on);
            Ok(())
        }
        fn set_rts(&self, _: bool) -> Result<(), LinesError> {
            Ok(())
        }
        fn get(&self) -> Result<InputCircuits, LinesError> {
            if !self.supported {
                return Err(LinesError::Unsupported);
            }
            let mut d = self.dcd.lock().unwrap();
            let dcd = if d.len() > 1 { d.remove(0) } else { d[0] };
            Ok(InputCircuits {
                dcd,
                ..InputCircuits::default()
            })
        }
    }

    fn fake(supported: bool, dcd: Vec<bool>) -> Fake {
        Fake {
            dtr: Mutex::new(Vec::new()),
            dcd: Mutex::new(dcd),
            supported,
        }
    }

    fn fast() -> HangupOptions {
        HangupOptions {
            dtr_drop: Duration::from_millis(5),
            guard: Duration::from_millis(30),
            command_timeout: Duration::from_millis(300),
            ..HangupOptions::default()
        }
    }

    #[tokio::test]
    async fn dtr_then_ath0() {
        let (a, mut m) = duplex(1024);
        let lines = fake(true, vec![false]);
        let modem = tokio::spawn(async move {
            let mut b = [0u8; 5];
            m.read_exact(&mut b).await.unwrap();
            m.write_all(b"\r\nOK\r\n").await.unwrap();
            b
        });
        hangup(a, Some(&lines), &fast()).await.unwrap();
        assert_eq!(&modem.await.unwrap(), b"ATH0\r");
        assert_eq!(*lines.dtr.lock().unwrap(), [false, true]);
    }

    #[tokio::test]
    async fn escape_when_lines_are_unsupported() {
        let (a, mut m) = duplex(1024);
        let lines = fake(false, vec![false]);
        let modem = tokio::spawn(async move {
            let mut b = [0u8; 3];
            let t0 = Instant::now();
            m.write_all(b"peer data").await.unwrap();
            m.read_exact(&mut b).await.unwrap();
            assert_eq!(&b, b"+++");
            let before = t0.elapsed();
            tokio::time::sleep(Duration::from_millis(30)).await;
            m.write_all(b"\r\nOK\r\n").await.unwrap();
            let mut b = [0u8; 5];
            m.read_exact(&mut b).await.unwrap();
            assert_eq!(&b, b"ATH0\r");
            m.write_all(b"\r\nOK\r\n").await.unwrap();
            before
        });
        hangup(a, Some(&lines), &fast()).await.unwrap();
        assert!(modem.await.unwrap() >= Duration::from_millis(30));
    }

    #[tokio::test]
    async fn a_silent_modem_is_a_timeout() {
        let (a, _m) = duplex(1024);
        let e = hangup(a, None, &fast()).await.unwrap_err();
        assert!(matches!(e, ModemError::Timeout { .. }), "{e}");
    }

    #[tokio::test]
    async fn dcd_on_then_off() {
        let lines = fake(true, vec![false, true, true, false]);
        tokio::time::timeout(
            Duration::from_secs(2),
            carrier_lost(&lines, Duration::from_millis(1)),
        )
        .await
        .expect("carrier loss noticed");
        // Never on: never lost; unreadable: never resolves.
        for l in [fake(true, vec![false]), fake(false, vec![false])] {
            let r = tokio::time::timeout(
                Duration::from_millis(50),
                carrier_lost(&l, Duration::from_millis(1)),
            )
            .await;
            assert!(r.is_err());
        }
    }
}
