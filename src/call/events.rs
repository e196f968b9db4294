//! What the call machine and its shell say to each other about a call: its
//! role and phase, the session an established call runs on, the snapshot
//! `status` shows, the events the shell tells its user (with the reason
//! every ended call gives), and why a user's action could not be done. The
//! machine itself, [`Phone`](super::Phone), is in the parent module.

use super::negotiate::MediaError;
use super::secure::{MediaSecret, SecureError};
use crate::identity::PublicKey;
use crate::wire::{CallId, ErrorMsg, MediaDescription, MediaPorts, Name, RejectReason, VERSION};
use crate::ConnId;
use std::fmt;
use std::time::Duration;

/// Which end of the call we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We called.
    Caller,
    /// We were called.
    Callee,
}

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Caller: connecting to the callee.
    Dialing,
    /// Caller: INVITE sent, no answer yet.
    Calling,
    /// Caller: the callee is alerting its user.
    Ringing,
    /// Callee: our user is being asked.
    Alerting,
    /// Media flows.
    Established,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Dialing => "dialing",
            Phase::Calling => "calling",
            Phase::Ringing => "ringing",
            Phase::Alerting => "incoming",
            Phase::Established => "established",
        })
    }
}

/// Why a call ended. Every ended call reports exactly one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// We hung up.
    HungUp,
    /// The peer hung up.
    PeerHungUp,
    /// The callee refused.
    Rejected(RejectReason),
    /// We refused the incoming call.
    Declined,
    /// Nobody answered in time.
    NoAnswer,
    /// We gave up calling before an answer.
    Cancelled,
    /// The caller gave up before we answered.
    PeerCancelled,
    /// The connection closed or the peer fell silent.
    ConnectionLost,
    /// The callee could not be reached.
    Unreachable,
    /// The peer answered with media we cannot use.
    BadMedia(MediaError),
    /// The callee did not prove the key we expected of it (the registry's
    /// or our allow file's): another peer answers at that address, or its
    /// key changed. The call was never placed.
    WrongKey {
        /// The key we expected.
        expected: PublicKey,
        /// What went wrong.
        error: SecureError,
    },
    /// The peer speaks an older protocol version (no handshake): it must
    /// be upgraded.
    PeerOutdated(u8),
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndReason::HungUp => write!(f, "hung up"),
            EndReason::PeerHungUp => write!(f, "the other side hung up"),
            EndReason::Rejected(r) => write!(f, "rejected ({r})"),
            EndReason::Declined => write!(f, "declined"),
            EndReason::NoAnswer => write!(f, "no answer"),
            EndReason::Cancelled => write!(f, "cancelled"),
            EndReason::PeerCancelled => write!(f, "the caller cancelled"),
            EndReason::ConnectionLost => write!(f, "connection lost"),
            EndReason::Unreachable => write!(f, "unreachable"),
            EndReason::BadMedia(e) => write!(f, "unusable media: {e}"),
            EndReason::WrongKey { expected, error } => write!(
                f,
                "the callee did not prove the expected key {expected} ({error}): another peer answers at its address, or its key changed"
            ),
            EndReason::PeerOutdated(v) => write!(
                f,
                "the other side speaks protocol version {v} (this side {VERSION}) and cannot make an encrypted call: upgrade its peercall"
            ),
        }
    }
}

/// An established call's negotiated parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The call.
    pub call_id: CallId,
    /// Our end.
    pub role: Role,
    /// The other side's name.
    pub peer: Name,
    /// Where we receive media.
    pub local_ports: MediaPorts,
    /// Where the other side receives media.
    pub remote_ports: MediaPorts,
    /// The media both sides send.
    pub media: MediaDescription,
    /// The other side's key, proved by the handshake.
    pub peer_key: PublicKey,
    /// The secret both sides derive the media's SRTP keys from.
    pub media_secret: MediaSecret,
}

/// A snapshot of the current call, for `status`.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// The call.
    pub call_id: CallId,
    /// Our end.
    pub role: Role,
    /// Where it stands.
    pub phase: Phase,
    /// The other side.
    pub peer: Name,
    /// The other side's key: proved by the handshake, or (a caller still
    /// dialing) the one it must prove.
    pub peer_key: PublicKey,
    /// The connection it runs on.
    pub conn: ConnId,
    /// Negotiated parameters once established.
    pub session: Option<Session>,
    /// Time since it was established.
    pub duration: Option<Duration>,
}

/// Something to tell the user.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// INVITE sent.
    Calling {
        /// Whom.
        peer: Name,
    },
    /// The callee is alerting its user.
    Ringing {
        /// Whom.
        peer: Name,
    },
    /// Someone calls us; answer with
    /// [`Phone::accept`](super::Phone::accept) or [`Phone::reject`](super::Phone::reject).
    Incoming {
        /// The caller (the name it gives; only its key is proved).
        peer: Name,
        /// The caller's key, proved by the handshake.
        key: PublicKey,
        /// On this connection.
        conn: ConnId,
        /// What the caller offers.
        offer: MediaDescription,
    },
    /// The call is up.
    Established(Session),
    /// The call ended.
    Ended {
        /// With whom.
        peer: Name,
        /// Why.
        reason: EndReason,
        /// How long it was established, if it was.
        duration: Option<Duration>,
    },
    /// A call came in while we could not take it and was refused.
    Missed {
        /// The caller.
        peer: Name,
        /// What we answered.
        reason: RejectReason,
        /// For UnsupportedMedia: what in the offer could not be honoured.
        media: Option<MediaError>,
    },
    /// The peer reported an error about something we sent.
    PeerError(ErrorMsg),
}

/// What the shell must do, or may tell the user.
pub type Output = crate::ConnOutput<Event>;

/// Why a user action could not be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionError {
    /// There is already a call.
    Busy,
    /// There is no call (or none in a phase where this applies).
    NoCall,
    /// Calling ourselves.
    SelfCall,
}

impl fmt::Display for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ActionError::Busy => "already in a call; hang up first",
            ActionError::NoCall => "no call to act on",
            ActionError::SelfCall => "that is this peer's own name",
        })
    }
}

impl std::error::Error for ActionError {}
