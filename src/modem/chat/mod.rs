//! chat(8) scripts: the parser, a sans-IO interpreter and its driver.
//!
//! The syntax and meaning follow chat 1.x as shipped with pppd 2.4/2.5
//! (chat/chat.c and chat.8 in ppp-project/ppp): expect-send pairs, `''`,
//! sub-expects (`ogin:--ogin:`), the keywords ABORT, CLR_ABORT, REPORT,
//! CLR_REPORT, TIMEOUT, ECHO, HANGUP, SAY, the send strings EOT and BREAK,
//! `@file` sends, and the escapes of chat.c's `clean()`. A script that runs
//! under chat runs here with the same result and exit code:
//! 0 success, 1 bad script, 2 I/O error or hangup, 3 timeout, 4 + n for
//! the n-th ABORT string in the current ABORT list.
//!
//! The interpreter is driven like the PPP core: [`Chat::feed`] bytes from
//! the modem, [`Chat::handle_timeout`] at [`Chat::poll_timeout`], and
//! drain [`Chat::poll_action`] (bytes to send, pauses, breaks, messages).
//! It owns no port and no clock; [`run_script`] is the async driver that
//! does, over an [`AtPort`](crate::modem::AtPort).
//!
//! Where this differs from chat.c, on purpose:
//! * The whole script is parsed before anything is sent, so a malformed
//!   script fails (exit 1) before dialling rather than half way through.
//! * SAY strings get no CR added: chat.8 says to put in any line break
//!   wanted, but chat.c (since 2.4.6) decodes them as send strings and
//!   so appends a CR unless they end in `\c`. Escapes, `\T` included,
//!   are decoded as for send strings.
//! * CLR_ABORT and CLR_REPORT remove every matching string; chat.c's loop
//!   can miss a duplicate because it shrinks its bound while scanning.
//! * A CR before the line feed in a script file is taken as part of the
//!   line break (chat keeps it in the last string of the line).
//! * Report lines carry no timestamp prefix; the caller adds its own.

mod error;
mod escape;
mod interp;
mod run;
mod script;

use std::time::Duration;

pub use error::{ChatError, ParseError};
pub use escape::visible;
pub use interp::{Action, Chat, ChatConfig, Outcome};
pub use run::{no_break, run_script, tty_break, ScriptEvent, ScriptRun};
pub use script::{Script, Step, SubExpect};

/// chat's DEFAULT_CHAT_TIMEOUT, also what `TIMEOUT 0` restores.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(45);
/// chat.c's STR_LEN: the longest expect string, and how much of a `@file`
/// is sent.
const STR_LEN: usize = 1024;
