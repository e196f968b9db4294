//! Payloads of the registry message family: what a peer says to the registry to
//! register, look up, list and leave, and what the registry answers.
//!
//! Each type knows its encoded length, how to read itself from a checked
//! [`Reader`] and how to write itself; [`super::Message`] frames them.

use super::field::{self, Reader, Writer};
use super::{Name, WireError};
use std::fmt;
use std::net::SocketAddr;

/// REGISTER: claim `name` for the call endpoint `addr`. An unspecified IP
/// (`0.0.0.0` or `::`) asks the registry to record the address it sees the
/// connection coming from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Register {
    /// The name to claim.
    pub name: Name,
    /// The call endpoint (IP and TCP call port) to record for it.
    pub addr: SocketAddr,
}

impl Register {
    pub(crate) fn len(&self) -> usize {
        field::name_len(&self.name) + field::socket_addr_len(&self.addr)
    }
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Register {
            name: r.name()?,
            addr: r.socket_addr()?,
        })
    }
    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.name(&self.name);
        w.socket_addr(&self.addr);
    }
}

/// REGISTERED: the registration is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The registered name.
    pub name: Name,
    /// The call endpoint recorded (the observed IP when the claim left it empty).
    pub addr: SocketAddr,
    /// The source address the registry sees this connection coming from.
    pub observed: SocketAddr,
}

impl Registered {
    pub(crate) fn len(&self) -> usize {
        field::name_len(&self.name)
            + field::socket_addr_len(&self.addr)
            + field::socket_addr_len(&self.observed)
    }
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Registered {
            name: r.name()?,
            addr: r.socket_addr()?,
            observed: r.socket_addr()?,
        })
    }
    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.name(&self.name);
        w.socket_addr(&self.addr);
        w.socket_addr(&self.observed);
    }
}

/// Where an existing registration of the same name and endpoint stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldStatus {
    /// This connection already holds it; nothing changed.
    Yours,
    /// Another connection holds it; the registry is probing that holder and
    /// will send REGISTERED on this connection if it does not answer in time.
    Probing,
    /// The holder answered the probe: the registration stays with it. Final.
    HolderAlive,
    /// Another connection's claim on this name is already being decided. Final.
    ClaimPending,
    /// A status code this version does not know.
    Unknown(u8),
}

impl HoldStatus {
    fn code(self) -> u8 {
        match self {
            HoldStatus::Yours => 0,
            HoldStatus::Probing => 1,
            HoldStatus::HolderAlive => 2,
            HoldStatus::ClaimPending => 3,
            HoldStatus::Unknown(c) => c,
        }
    }
    fn from_code(c: u8) -> Self {
        match c {
            0 => HoldStatus::Yours,
            1 => HoldStatus::Probing,
            2 => HoldStatus::HolderAlive,
            3 => HoldStatus::ClaimPending,
            c => HoldStatus::Unknown(c),
        }
    }
}

/// ALREADY REGISTERED: the same name with the same endpoint is registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlreadyRegistered {
    /// The name asked for.
    pub name: Name,
    /// Who holds it and what happens next.
    pub status: HoldStatus,
    /// With [`HoldStatus::Probing`]: how long the probe waits for the holder, in ms.
    pub probe_ms: u16,
}

impl AlreadyRegistered {
    pub(crate) fn len(&self) -> usize {
        field::name_len(&self.name) + 1 + 2
    }
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(AlreadyRegistered {
            name: r.name()?,
            status: HoldStatus::from_code(r.u8()?),
            probe_ms: r.u16()?,
        })
    }
    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.name(&self.name);
        w.u8(self.status.code());
        w.u16(self.probe_ms);
    }
}

/// One registered peer, as FOUND and LIST REPLY carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The peer's name.
    pub name: Name,
    /// Its call endpoint (where to send an INVITE).
    pub addr: SocketAddr,
    /// The source address its registry connection comes from (differs from
    /// `addr` behind NAT).
    pub observed: SocketAddr,
    /// Seconds since it registered.
    pub age_secs: u32,
}

impl Entry {
    pub(crate) fn len(&self) -> usize {
        field::name_len(&self.name)
            + field::socket_addr_len(&self.addr)
            + field::socket_addr_len(&self.observed)
            + 4
    }
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Entry {
            name: r.name()?,
            addr: r.socket_addr()?,
            observed: r.socket_addr()?,
            age_secs: r.u32()?,
        })
    }
    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.name(&self.name);
        w.socket_addr(&self.addr);
        w.socket_addr(&self.observed);
        w.u32(self.age_secs);
    }
}

/// Flag bit of LIST REPLY: more entries follow; ask again with LIST after the
/// last name of this page.
pub const LIST_MORE: u8 = 0x01;

/// LIST REPLY: one page of the table, in name order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListReply {
    /// Whether entries after the last one of this page exist.
    pub more: bool,
    /// The entries of this page, sorted by name.
    pub entries: Vec<Entry>,
}

impl ListReply {
    /// Encoded size of an empty page (flags and count).
    pub const EMPTY_LEN: usize = 1 + 2;

    pub(crate) fn len(&self) -> usize {
        Self::EMPTY_LEN + self.entries.iter().map(Entry::len).sum::<usize>()
    }
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let flags = r.u8()?;
        if flags & !LIST_MORE != 0 {
            return Err(WireError::BadFlags(flags));
        }
        let count = r.u16()?;
        // No pre-allocation from the count: it is the peer's claim, not a fact.
        let mut entries = Vec::new();
        for _ in 0..count {
            entries.push(Entry::read(r)?);
        }
        Ok(ListReply {
            more: flags & LIST_MORE != 0,
            entries,
        })
    }
    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.u8(if self.more { LIST_MORE } else { 0 });
        w.u16(self.entries.len() as u16);
        for e in &self.entries {
            e.write(w);
        }
    }
}

/// Why the registry is closing a connection (GOODBYE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoodbyeReason {
    /// The peer asked to unregister.
    Unregistered,
    /// The registry is shutting down.
    ShuttingDown,
    /// The connection held no registration and sent nothing for the idle timeout.
    IdleTimeout,
    /// The registered connection went silent too long; its registration is gone.
    SilenceTimeout,
    /// A new connection claimed this registration and this one did not answer the probe.
    Replaced,
    /// A reason code this version does not know.
    Unknown(u8),
}

impl GoodbyeReason {
    pub(crate) fn code(self) -> u8 {
        match self {
            GoodbyeReason::Unregistered => 1,
            GoodbyeReason::ShuttingDown => 2,
            GoodbyeReason::IdleTimeout => 3,
            GoodbyeReason::SilenceTimeout => 4,
            GoodbyeReason::Replaced => 5,
            GoodbyeReason::Unknown(c) => c,
        }
    }
    pub(crate) fn from_code(c: u8) -> Self {
        match c {
            1 => GoodbyeReason::Unregistered,
            2 => GoodbyeReason::ShuttingDown,
            3 => GoodbyeReason::IdleTimeout,
            4 => GoodbyeReason::SilenceTimeout,
            5 => GoodbyeReason::Replaced,
            c => GoodbyeReason::Unknown(c),
        }
    }
}

impl fmt::Display for GoodbyeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GoodbyeReason::Unregistered => write!(f, "unregistered"),
            GoodbyeReason::ShuttingDown => write!(f, "registry shutting down"),
            GoodbyeReason::IdleTimeout => write!(f, "idle too long without registering"),
            GoodbyeReason::SilenceTimeout => write!(f, "silent too long, registration dropped"),
            GoodbyeReason::Replaced => write!(f, "registration handed to a new connection"),
            GoodbyeReason::Unknown(c) => write!(f, "reason {c}"),
        }
    }
}
