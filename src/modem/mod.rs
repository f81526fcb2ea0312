//! Talking to a modem in command state: V.250 result codes ([`result`]),
//! the line reader ([`reader`]), chat(8) scripts ([`chat`]) and the ring
//! counting and screening of a call ([`answer`]). Their logic is pure: the
//! driver that owns the port feeds it lines or bytes and carries out what
//! it asks. The async drivers: [`at`] (commands over a port), [`dial`],
//! [`answer`] (with [`screen`], who may call), [`hangup`] and
//! [`run_script`] (running a chat script).

pub mod answer;
pub mod at;
pub mod chat;
pub mod detect;
pub mod dial;
pub mod hangup;
pub mod reader;
pub mod result;
pub mod screen;

pub use answer::{
    reset_idle, wait_for_call, AnswerError, AnswerEvent, AnswerMode, AnswerOptions, Answered,
};
pub use at::{AtPort, DataPort, ModemError, Response};
pub use chat::{
    no_break, run_script, tty_break, Action, Chat, ChatConfig, ChatError, Outcome, ParseError,
    Script, ScriptEvent, ScriptRun, Step, SubExpect,
};
pub use dial::{dial, Connected, DialError, DialEvent, DialPlan, Number};
pub use hangup::{carrier_lost, hangup, HangupOptions};
pub use reader::{LineReader, ModemOutput, ReaderConfig, ReaderStats};
pub use result::{CallerIdField, Connect, NumericTable, ResultCode, Unsolicited};
pub use screen::{AllowedCallers, Pattern, PatternError, RefuseReason};

/// Runs a blocking control-line call (an ioctl, a simulator's control
/// socket, tcsendbreak) without stalling the other tasks of a
/// multi-threaded runtime. On a current-thread runtime it just runs: the
/// calls are short, but a simulator in the same runtime cannot answer
/// its control socket meanwhile, so tests that use one pick the
/// multi-threaded runtime.
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// What the modem-side tests share.
#[cfg(test)]
pub(crate) mod test_util {
    use tokio::io::{AsyncReadExt, DuplexStream};

    /// Reads one command line (up to CR) from the modem side.
    pub async fn read_cmd(m: &mut DuplexStream) -> String {
        let mut out = Vec::new();
        let mut b = [0u8; 1];
        loop {
            m.read_exact(&mut b).await.unwrap();
            if b[0] == b'\r' {
                return String::from_utf8(out).unwrap();
            }
            out.push(b[0]);
        }
    }
}
