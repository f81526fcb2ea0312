//! Talking to a modem in command state: V.250 result codes and the line
//! reader ([`result`]), and chat(8) scripts ([`chat`]). Both are pure: the
//! driver that owns the port feeds them bytes and carries out what they
//! ask.

pub mod chat;
pub mod result;

pub use chat::{Action, Chat, ChatConfig, ChatError, Outcome, ParseError, Script, Step, SubExpect};
pub use result::{
    CallerIdField, Connect, Line, LineReader, NumericTable, ReaderConfig, ReaderStats, ResultCode,
    Unsolicited,
};
