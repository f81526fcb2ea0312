//! Inbound service calls: a one-time enablement the customer grants, the
//! caller's credentials, and what the console puts on the link for the
//! call (aliases, NAT, firewall).

pub mod call;
pub mod firewall;
pub mod forwarding;
pub mod lock;
pub mod plane;
pub mod policy;
pub mod revoke;
pub mod service;
pub mod state;
pub mod wall;

pub use state::{AuthKind, Enablement, InboundError, Partition, State, Store};
