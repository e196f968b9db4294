//! Payloads of the registry message family: what a peer says to the registry to
//! register, look up, list and leave, and what the registry answers.
//!
//! Each type knows its encoded length, how to read itself from a checked
//! [`Reader`] and how to write itself; [`super::Message`] frames them.

use super::field::{self, Reader, Writer};
use super::{Name, WireError};
use crate::identity::{Identity, PublicKey, PUBLIC_KEY_LEN, SIGNATURE_LEN};
use std::fmt;
use std::net::SocketAddr;

/// Bytes of the nonce a CHALLENGE carries.
pub const NONCE_LEN: usize = 32;

/// The nonce of a CHALLENGE: drawn by the registry's shell from the operating
/// system's random source, one per connection.
pub type Nonce = [u8; NONCE_LEN];

/// The context that starts every message a REGISTER signs. Its version and the
/// trailing NUL keep a registration signature from being valid as anything
/// else a peercall key signs, and from being replayed against a later format.
pub const REGISTER_SIGNING_CONTEXT: &[u8] = b"peercall register v2\0";

/// REGISTER: claim `name` for the call endpoint `addr`, as the holder of `key`.
/// An unspecified IP (`0.0.0.0` or `::`) asks the registry to record the
/// address it sees the connection coming from.
///
/// `signature` is `key`'s Ed25519 signature over
/// [`Register::signing_message`]: the context, this connection's CHALLENGE
/// nonce, then the name and addr fields exactly as encoded on the wire. The
/// nonce ties it to one connection, so a recorded REGISTER is worthless on
/// another one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Register {
    /// The name to claim.
    pub name: Name,
    /// The call endpoint (IP and TCP call port) to record for it.
    pub addr: SocketAddr,
    /// The key that will own the name.
    pub key: PublicKey,
    /// `key`'s signature of [`Register::signing_message`].
    pub signature: [u8; SIGNATURE_LEN],
}

impl Register {
    /// A REGISTER for `name` and `addr`, signed by `identity` for the
    /// connection whose CHALLENGE carried `nonce`. The address is put in its
    /// one spelling first ([`field::canonical_addr`]), as the registry reads
    /// it, so the signed bytes are the ones the registry re-encodes.
    pub fn signed(identity: &Identity, name: Name, addr: SocketAddr, nonce: &Nonce) -> Register {
        let addr = field::canonical_addr(addr);
        let signature = identity.sign(&Self::signing_message(&name, &addr, nonce));
        Register {
            name,
            addr,
            key: identity.public(),
            signature,
        }
    }

    /// The bytes a REGISTER's signature covers: [`REGISTER_SIGNING_CONTEXT`],
    /// the 32-byte nonce, the name field (length byte and UTF-8) and the
    /// address field (family, IP, port), as on the wire.
    pub fn signing_message(name: &Name, addr: &SocketAddr, nonce: &Nonce) -> Vec<u8> {
        let len = REGISTER_SIGNING_CONTEXT.len()
            + NONCE_LEN
            + field::name_len(name)
            + field::socket_addr_len(addr);
        let mut msg = vec![0u8; len];
        let mut w = Writer::new(&mut msg);
        w.bytes(REGISTER_SIGNING_CONTEXT);
        w.bytes(nonce);
        w.name(name);
        w.socket_addr(addr);
        debug_assert_eq!(w.remaining(), 0);
        msg
    }

    /// Whether the signature is `key`'s over this REGISTER's name and address
    /// for the connection challenged with `nonce`.
    pub fn verify(&self, nonce: &Nonce) -> bool {
        let msg = Self::signing_message(&self.name, &self.addr, nonce);
        self.key.verify(&msg, &self.signature)
    }

    pub(crate) fn len(&self) -> usize {
        field::name_len(&self.name)
            + field::socket_addr_len(&self.addr)
            + PUBLIC_KEY_LEN
            + SIGNATURE_LEN
    }
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Register {
            name: r.name()?,
            addr: r.socket_addr()?,
            key: r.public_key()?,
            signature: r.signature()?,
        })
    }
    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.name(&self.name);
        w.socket_addr(&self.addr);
        w.public_key(&self.key);
        w.bytes(&self.signature);
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
    /// Version 1 only (a v2 registry hands the name to the same key at once):
    /// another connection holds it and is being probed.
    Probing,
    /// Version 1 only: the holder answered the probe. Final.
    HolderAlive,
    /// Version 1 only: another claim on this name is being decided. Final.
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
    /// The key the name is bound to: the one the peer at `addr` must prove
    /// in the call port's handshake.
    pub key: PublicKey,
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
            + PUBLIC_KEY_LEN
            + field::socket_addr_len(&self.addr)
            + field::socket_addr_len(&self.observed)
            + 4
    }
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Entry {
            name: r.name()?,
            key: r.public_key()?,
            addr: r.socket_addr()?,
            observed: r.socket_addr()?,
            age_secs: r.u32()?,
        })
    }
    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.name(&self.name);
        w.public_key(&self.key);
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
    /// A new connection of the same key claimed this registration (the owner
    /// came back after a crash, freeze or link break); this one is stale.
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
            GoodbyeReason::Replaced => {
                write!(f, "replaced: the same key registered on a new connection")
            }
            GoodbyeReason::Unknown(c) => write!(f, "reason {c}"),
        }
    }
}
