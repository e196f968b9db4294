//! # peercall
//!
//! The sans-IO core of peercall, a peer-to-peer video call system for
//! single-board computers. This crate holds the logic and nothing else: it owns
//! no socket, opens no device and never reads the clock. Time comes in as an
//! `Instant` argument and bytes come in as slices; what to send, what happened
//! and when to be woken next come back out. The binaries (`peercall-registry`,
//! `peercall`) own the sockets and the event loops and are thin shells around
//! these machines.
//!
//! ```text
//!            bytes in                      decisions out
//!  socket ──► wire::FrameReader ──► Message ──► Registry / Membership ──► Output
//!                                                 ▲          │  Send(Message) ──► socket
//!                            now: Instant ────────┘          │  Event ──► stdout
//!                                                            └─ next_timeout() ──► mio::Poll
//! ```
//!
//! - [`wire`]: the binary frame and every control message.
//! - [`registry`]: the registry's table and its rules (server side).
//! - [`membership`]: a peer's membership in a registry (client side):
//!   register, keep alive, reconnect with backoff, look up, list, leave.
//! - [`identity`]: a peer's key pair, its public key's text form, and
//!   signatures.
//! - [`call`]: call signalling between two peers: invite, ring, accept or
//!   reject, cancel, hang up, keepalive, media negotiation.
//!
//! ```
//! use peercall::wire::{Message, Name};
//! let bytes = Message::Lookup(Name::new("kitchen").unwrap()).to_bytes();
//! assert_eq!(Message::parse_bytes(&bytes).unwrap(), Message::Lookup(Name::new("kitchen").unwrap()));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod call;
pub mod identity;
pub mod media;
pub mod membership;
pub mod registry;
pub mod wire;

/// A connection, named by the IO shell that owns it (never reused within a
/// run, so a late event for a closed connection cannot hit a new one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// What a connection-level machine ([`registry::Registry`], [`call::Phone`])
/// asks its IO shell to do, or tells its user.
#[must_use]
#[derive(Debug, Clone, PartialEq)]
pub enum ConnOutput<E> {
    /// Send this message on this connection.
    Send {
        /// The connection.
        conn: ConnId,
        /// The message.
        msg: wire::Message,
    },
    /// Finish sending what was queued on this connection, then close it. The
    /// machine has already forgotten it.
    Close {
        /// The connection.
        conn: ConnId,
    },
    /// Something to tell the user.
    Event(E),
}
