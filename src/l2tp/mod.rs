//! L2TPv2 (RFC 2661), the pure part: the header (§3.1), AVPs (§4.1,
//! §4.4), AVP hiding (§4.3), control messages as a list of typed AVPs
//! (§4.1, §6) and the tunnel authentication digest (§5.1.1). Like
//! [`crate::ppp`] it does no I/O and reads no clock: datagrams come in as
//! octets and go out as octets, and whatever needs randomness (hidden
//! AVPs' padding) takes it from the caller.

pub mod auth;
pub mod avp;
pub mod header;
pub mod hide;
pub mod message;

pub use avp::{Avp, AvpError, Avps, RawAvp};
pub use header::{HeaderError, Packet, Repr, Sequence};
pub use hide::HideError;
pub use message::{
    decode, encode, Decoded, EncodeError, Entry, Message, MessageError, MessageType, Scope,
};
