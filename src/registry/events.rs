//! What the registry tells its server and operator: the outputs to act on,
//! the events to print (registrations, refusals and why, departures and
//! why), a table row for display, and a name's binding as it is saved
//! across restarts. The registry itself, [`Registry`](super::Registry), is
//! in the parent module.

use crate::identity::PublicKey;
use crate::wire::{HoldStatus, Name};
use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

/// What the server must do, or may tell the user.
pub type Output = crate::ConnOutput<Event>;

/// Why a registration left the table (its name stays bound to its key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Departure {
    /// The peer unregistered.
    Unregistered,
    /// Its connection closed.
    ConnectionLost,
    /// Its connection was silent longer than the silence timeout.
    TimedOut,
    /// The same key registered again on a new connection (the owner came
    /// back after a crash, freeze or link break).
    Replaced,
    /// Its connection sent bytes that are not a valid message.
    ProtocolError,
    /// The registry is shutting down.
    ShuttingDown,
}

impl fmt::Display for Departure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Departure::Unregistered => "unregistered",
            Departure::ConnectionLost => "connection lost",
            Departure::TimedOut => "timed out",
            Departure::Replaced => "replaced: its key registered on a new connection",
            Departure::ProtocolError => "protocol error",
            Departure::ShuttingDown => "registry shutting down",
        })
    }
}

/// A name's owner, as the registry remembers it across restarts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The name.
    pub name: Name,
    /// The key that owns it.
    pub key: PublicKey,
    /// When the owner was last seen (registered, or connected while holding
    /// the name), in seconds since the Unix epoch; the lease counts from here.
    pub last_seen: u64,
}

/// Something the registry did that its operator wants to see.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A name was registered (`handed_over`: taken over from an older
    /// connection of the same key, which was replaced).
    Registered {
        /// The name.
        name: Name,
        /// Recorded call endpoint.
        addr: SocketAddr,
        /// Source address of the registering connection.
        observed: SocketAddr,
        /// Whether it was handed over from a previous connection.
        handed_over: bool,
        /// The key it is bound to.
        key: PublicKey,
    },
    /// A claim by the connection that already holds this name and endpoint.
    AlreadyRegistered {
        /// The name.
        name: Name,
        /// The endpoint.
        addr: SocketAddr,
        /// Where the claim stands.
        status: HoldStatus,
    },
    /// A claim refused because the name is bound to another key.
    NameTaken {
        /// The name.
        name: Name,
        /// The endpoint asked for.
        addr: SocketAddr,
        /// The endpoint that holds it now, if its owner is connected.
        holder: Option<SocketAddr>,
        /// The key it is bound to.
        owner: PublicKey,
    },
    /// A claim refused because the name is a look-alike of a name bound to
    /// another key ([`Name::keys`]).
    NameResembles {
        /// The name asked for.
        name: Name,
        /// The endpoint asked for.
        addr: SocketAddr,
        /// The bound name it resembles.
        held: Name,
    },
    /// A claim refused because the endpoint is registered under another name.
    EndpointTaken {
        /// The name asked for.
        name: Name,
        /// The endpoint.
        addr: SocketAddr,
        /// The name that holds it.
        holder: Name,
    },
    /// A REGISTER refused because its signature does not verify against the
    /// connection's challenge (a forged or replayed claim).
    BadSignature {
        /// The name it asked for.
        name: Name,
        /// Where the connection comes from.
        from: SocketAddr,
    },
    /// A name's lease ran out (its owner unseen for the lease) and another
    /// key's claim released it.
    LeaseExpired {
        /// The name.
        name: Name,
        /// The key it was bound to.
        owner: PublicKey,
    },
    /// A registration left the table.
    Departed {
        /// The name.
        name: Name,
        /// Its endpoint.
        addr: SocketAddr,
        /// Why.
        reason: Departure,
    },
    /// A connection was refused because [`Config::max_connections`](super::Config::max_connections) are open.
    ConnectionRefused {
        /// Where it came from.
        from: SocketAddr,
    },
}

/// One row of the table, for display.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// The name.
    pub name: &'a Name,
    /// The key it is bound to.
    pub key: PublicKey,
    /// Recorded call endpoint.
    pub addr: SocketAddr,
    /// Source address of the holding connection.
    pub observed: SocketAddr,
    /// When it was registered.
    pub since: Instant,
}
