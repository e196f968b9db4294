//! The peer's network connections: the registry link, the call port and its
//! signalling connections, the framing both use, and resolving the
//! registry's address. Protocol decisions are not made here: the library's
//! machines make them, and this module moves their messages.

pub mod call_port;
pub mod conn;
pub mod registry_addr;
pub mod registry_link;

pub use registry_addr::RegistryAddr;

use mio::Token;
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

/// Hands out mio tokens for connections: they start above the fixed tokens
/// and only grow, so a late event for a closed connection never reaches a
/// new one.
#[derive(Debug)]
pub struct Tokens {
    next: usize,
}

impl Tokens {
    /// Tokens from `first` on.
    pub fn starting_at(first: usize) -> Self {
        Tokens { next: first }
    }

    /// A token never handed out before.
    pub fn fresh(&mut self) -> Token {
        let t = Token(self.next);
        self.next += 1;
        t
    }
}
