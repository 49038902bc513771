//! The control socket of a sandbox process: the protocol, its framing,
//! the server (an `event-manager` loop inside the sandbox process) and the
//! CLI's client.

pub mod client;
pub mod conn;
pub mod protocol;
pub mod server;
