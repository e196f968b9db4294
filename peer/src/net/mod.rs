//! The peer's network connections: the registry link, the call port and its
//! signalling connections, the framing both use, and resolving the
//! registry's address. Protocol decisions are not made here: the library's
//! machines make them, and this module moves their messages.

pub mod conn;
pub mod registry_addr;

pub use registry_addr::RegistryAddr;

use std::io::{self, ErrorKind};

/// Says what a socket error means in words a user can act on.
pub fn describe(e: &io::Error) -> String {
    match e.kind() {
        ErrorKind::ConnectionRefused => "connection refused".into(),
        ErrorKind::TimedOut | ErrorKind::WouldBlock => "no answer (timed out)".into(),
        ErrorKind::ConnectionReset => "connection reset".into(),
        _ => e.to_string(),
    }
}
