//! The fixed binary wire format of peercall's control messages (registry and
//! call signalling), in two levels as smoltcp does it: a checked
//! [`Frame`] view over bytes, and an owned [`Message`] enum with symmetric
//! [`Message::parse`], [`Message::emit`] and [`Message::buffer_len`].
//!
//! Every length is checked before it is read, nothing indexes or unwraps peer
//! bytes, trailing bytes are refused, and unknown type codes parse as
//! [`Message::Unknown`] so they can be answered with an error. The byte tables
//! are in `docs/protocol.md`.

mod call;
mod control;
mod field;
mod frame;
mod name;
mod registry;

pub use call::{
    Accept, AudioCodec, AudioFormat, CallId, Invite, MediaDescription, MediaPorts, RejectReason,
    VideoCodec, VideoFormat,
};
pub use control::{ErrorCode, ErrorMsg};
pub use field::{canonical_addr, canonical_ip, FAMILY_IPV4, FAMILY_IPV6, MAX_TEXT_LEN};
pub use frame::{
    frame_len, Frame, FrameReader, HEADER_LEN, MAGIC, MAX_FRAME_LEN, MAX_OUTBOUND_BYTES,
    MAX_PAYLOAD_LEN, VERSION,
};
pub use name::{
    Name, NameError, NameKey, MAX_NAME_LEN, NAME_KEY_CASE_FOLDING_VERSION, NAME_KEY_UNICODE_VERSION,
};
pub use registry::{
    AlreadyRegistered, Entry, GoodbyeReason, HoldStatus, ListReply, Nonce, Register, Registered,
    LIST_MORE, NONCE_LEN, REGISTER_SIGNING_CONTEXT,
};

use field::{Reader, Writer};
use std::fmt;
use std::net::SocketAddr;

/// Message type codes. Ranges: `0x01..=0x1f` requests to the registry,
/// `0x21..=0x3f` registry answers, `0x40..=0x6f` call signalling, `0x70..=0x7f`
/// messages either side may send. Call signalling travels on its own
/// peer-to-peer connection in the same framing.
pub mod msg_type {
    /// Peer → registry: claim a name for an endpoint.
    pub const REGISTER: u8 = 0x01;
    /// Peer → registry: drop my registration and close.
    pub const UNREGISTER: u8 = 0x02;
    /// Peer → registry: where is this name?
    pub const LOOKUP: u8 = 0x03;
    /// Peer → registry: one page of the table.
    pub const LIST: u8 = 0x04;
    /// Registry → peer: registration recorded.
    pub const REGISTERED: u8 = 0x21;
    /// Registry → peer: same name and endpoint already registered.
    pub const ALREADY_REGISTERED: u8 = 0x22;
    /// Registry → peer: name held by another endpoint.
    pub const NAME_TAKEN: u8 = 0x23;
    /// Registry → peer: endpoint held by another name.
    pub const ENDPOINT_TAKEN: u8 = 0x24;
    /// Registry → peer: lookup hit.
    pub const FOUND: u8 = 0x25;
    /// Registry → peer: lookup miss.
    pub const NOT_FOUND: u8 = 0x26;
    /// Registry → peer: a page of the table.
    pub const LIST_REPLY: u8 = 0x27;
    /// Registry → peer: the registry closes this connection after this message.
    pub const GOODBYE: u8 = 0x28;
    /// Registry → peer: the name looks like one another endpoint holds.
    pub const NAME_RESEMBLES: u8 = 0x29;
    /// Registry → peer, first on every connection: the nonce a REGISTER signs.
    pub const CHALLENGE: u8 = 0x2a;
    /// Caller → callee: a call is proposed.
    pub const INVITE: u8 = 0x40;
    /// Callee → caller: the callee's user is being alerted.
    pub const RINGING: u8 = 0x41;
    /// Callee → caller: call accepted, with the callee's media ports.
    pub const ACCEPT: u8 = 0x42;
    /// Callee → caller: call refused, with a reason.
    pub const REJECT: u8 = 0x43;
    /// Caller → callee: the caller gives up before an answer.
    pub const CANCEL: u8 = 0x44;
    /// Either side: end the established call.
    pub const BYE: u8 = 0x45;
    /// Either side: BYE received, the call is over.
    pub const BYE_ACK: u8 = 0x46;
    /// Either side, during a call: still here.
    pub const KEEPALIVE: u8 = 0x47;
    /// Caller → callee: the first Noise IK handshake message (docs/protocol.md).
    pub const HANDSHAKE_INIT: u8 = 0x48;
    /// Callee → caller: the second and last Noise IK handshake message.
    pub const HANDSHAKE_REPLY: u8 = 0x49;
    /// Either side, after the handshake: a Noise transport message whose
    /// plaintext is one whole inner frame (INVITE, RINGING, ...).
    pub const SEALED: u8 = 0x4a;
    /// Either side: are you there?
    pub const PING: u8 = 0x70;
    /// Either side: yes (echoes the ping's token).
    pub const PONG: u8 = 0x71;
    /// Either side: something was wrong with what you sent.
    pub const ERROR: u8 = 0x7f;
}

/// Why bytes are not a valid message. Every variant is the peer's fault; the
/// parser never panics on any input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// The frame or a field ends early.
    Truncated,
    /// The stream does not start with [`MAGIC`].
    BadMagic,
    /// The frame's version byte is not [`VERSION`].
    UnsupportedVersion(u8),
    /// The length field exceeds [`MAX_PAYLOAD_LEN`].
    TooLong(usize),
    /// Bytes are left after the last field.
    TrailingBytes(usize),
    /// A name breaks the name rules.
    BadName(NameError),
    /// A text field is not UTF-8.
    BadUtf8,
    /// A text field is longer than [`MAX_TEXT_LEN`].
    TextTooLong(usize),
    /// An address family byte is neither 4 nor 6.
    BadAddressFamily(u8),
    /// Undefined flag bits are set.
    BadFlags(u8),
    /// A public key field is not a valid Ed25519 key.
    BadKey,
}

impl WireError {
    /// The ERROR message that answers this fault.
    pub fn to_error_msg(self) -> ErrorMsg {
        let code = match self {
            WireError::BadMagic => ErrorCode::BadMagic,
            WireError::UnsupportedVersion(_) => ErrorCode::UnsupportedVersion,
            WireError::TooLong(_) => ErrorCode::FrameTooLong,
            WireError::BadName(_) => ErrorCode::BadName,
            WireError::BadAddressFamily(_) => ErrorCode::BadAddress,
            WireError::Truncated
            | WireError::TrailingBytes(_)
            | WireError::BadUtf8
            | WireError::TextTooLong(_)
            | WireError::BadFlags(_)
            | WireError::BadKey => ErrorCode::Malformed,
        };
        ErrorMsg::new(code, self.to_string())
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Truncated => write!(f, "message ends before its last field"),
            WireError::BadMagic => {
                write!(f, "stream does not start with the peercall magic \"PC\"")
            }
            WireError::UnsupportedVersion(v) if *v < VERSION => write!(
                f,
                "protocol version {v} is not supported (this side speaks {VERSION}): the other side runs an older peercall; upgrade it"
            ),
            WireError::UnsupportedVersion(v) => write!(
                f,
                "protocol version {v} is not supported (this side speaks {VERSION}): upgrade this peercall"
            ),
            WireError::TooLong(n) => {
                write!(
                    f,
                    "payload of {n} bytes exceeds the maximum of {MAX_PAYLOAD_LEN}"
                )
            }
            WireError::TrailingBytes(n) => write!(f, "{n} bytes after the last field"),
            WireError::BadName(e) => write!(f, "{e}"),
            WireError::BadUtf8 => write!(f, "text is not UTF-8"),
            WireError::TextTooLong(n) => {
                write!(f, "text of {n} bytes exceeds the maximum of {MAX_TEXT_LEN}")
            }
            WireError::BadAddressFamily(b) => {
                write!(f, "address family {b} is neither 4 (IPv4) nor 6 (IPv6)")
            }
            WireError::BadFlags(b) => write!(f, "undefined flag bits set in {b:#04x}"),
            WireError::BadKey => write!(f, "a public key field is not a valid Ed25519 key"),
        }
    }
}

impl std::error::Error for WireError {}

/// One control message, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Claim a name for a call endpoint.
    Register(Register),
    /// Drop this connection's registration; the registry answers GOODBYE and closes.
    Unregister,
    /// Ask where a name is.
    Lookup(Name),
    /// Ask for a page of the table: entries with names after `after` (from the start if `None`).
    List {
        /// Continue after this name.
        after: Option<Name>,
    },
    /// The registration is recorded.
    Registered(Registered),
    /// The same name and endpoint is registered already.
    AlreadyRegistered(AlreadyRegistered),
    /// The name is registered by another endpoint.
    NameTaken(Name),
    /// The endpoint is registered under another name.
    EndpointTaken(SocketAddr),
    /// Lookup hit.
    Found(Entry),
    /// Lookup miss.
    NotFound(Name),
    /// A page of the table.
    ListReply(ListReply),
    /// The registry closes this connection right after this message.
    Goodbye(GoodbyeReason),
    /// The name asked for is a look-alike of a name another endpoint holds
    /// (a shared [`Name::keys`] key, another spelling).
    NameResembles {
        /// The name asked for.
        asked: Name,
        /// The registered name it resembles.
        held: Name,
    },
    /// The nonce this connection's REGISTER must sign (the registry's first
    /// message on every connection; LOOKUP and LIST clients ignore it).
    Challenge(Nonce),
    /// Propose a call.
    Invite(Invite),
    /// The callee is alerting its user.
    Ringing(CallId),
    /// The callee takes the call.
    Accept(Accept),
    /// The callee refuses the call.
    Reject {
        /// The call.
        call_id: CallId,
        /// Why.
        reason: RejectReason,
    },
    /// The caller gives up before the answer.
    Cancel(CallId),
    /// End the established call.
    Bye(CallId),
    /// Acknowledges a BYE.
    ByeAck(CallId),
    /// Still here (sent periodically during a call).
    Keepalive(CallId),
    /// The caller's Noise handshake message (opaque here; `call::secure` reads it).
    HandshakeInit(Vec<u8>),
    /// The callee's Noise handshake answer.
    HandshakeReply(Vec<u8>),
    /// An encrypted inner frame (a Noise transport message).
    Sealed(Vec<u8>),
    /// Keepalive probe; the other side answers PONG with the same token.
    Ping(u64),
    /// Keepalive answer.
    Pong(u64),
    /// Something was wrong with what the other side sent.
    Error(ErrorMsg),
    /// A type code this version does not know (its payload is skipped).
    Unknown(u8),
}

impl Message {
    /// The type code this message is sent with.
    pub fn msg_type(&self) -> u8 {
        use msg_type::*;
        match self {
            Message::Register(_) => REGISTER,
            Message::Unregister => UNREGISTER,
            Message::Lookup(_) => LOOKUP,
            Message::List { .. } => LIST,
            Message::Registered(_) => REGISTERED,
            Message::AlreadyRegistered(_) => ALREADY_REGISTERED,
            Message::NameTaken(_) => NAME_TAKEN,
            Message::EndpointTaken(_) => ENDPOINT_TAKEN,
            Message::Found(_) => FOUND,
            Message::NotFound(_) => NOT_FOUND,
            Message::ListReply(_) => LIST_REPLY,
            Message::Goodbye(_) => GOODBYE,
            Message::NameResembles { .. } => NAME_RESEMBLES,
            Message::Challenge(_) => CHALLENGE,
            Message::Invite(_) => INVITE,
            Message::Ringing(_) => RINGING,
            Message::Accept(_) => ACCEPT,
            Message::Reject { .. } => REJECT,
            Message::Cancel(_) => CANCEL,
            Message::Bye(_) => BYE,
            Message::ByeAck(_) => BYE_ACK,
            Message::Keepalive(_) => KEEPALIVE,
            Message::HandshakeInit(_) => HANDSHAKE_INIT,
            Message::HandshakeReply(_) => HANDSHAKE_REPLY,
            Message::Sealed(_) => SEALED,
            Message::Ping(_) => PING,
            Message::Pong(_) => PONG,
            Message::Error(_) => ERROR,
            Message::Unknown(t) => *t,
        }
    }

    /// Parses the message in a checked frame.
    pub fn parse<T: AsRef<[u8]>>(frame: &Frame<T>) -> Result<Message, WireError> {
        use msg_type::*;
        let mut r = Reader::new(frame.payload());
        let msg = match frame.msg_type() {
            REGISTER => Message::Register(Register::read(&mut r)?),
            UNREGISTER => Message::Unregister,
            LOOKUP => Message::Lookup(r.name()?),
            LIST => Message::List {
                after: r.optional_name()?,
            },
            REGISTERED => Message::Registered(Registered::read(&mut r)?),
            ALREADY_REGISTERED => Message::AlreadyRegistered(AlreadyRegistered::read(&mut r)?),
            NAME_TAKEN => Message::NameTaken(r.name()?),
            ENDPOINT_TAKEN => Message::EndpointTaken(r.socket_addr()?),
            FOUND => Message::Found(Entry::read(&mut r)?),
            NOT_FOUND => Message::NotFound(r.name()?),
            LIST_REPLY => Message::ListReply(ListReply::read(&mut r)?),
            GOODBYE => Message::Goodbye(GoodbyeReason::from_code(r.u8()?)),
            NAME_RESEMBLES => Message::NameResembles {
                asked: r.name()?,
                held: r.name()?,
            },
            CHALLENGE => Message::Challenge(r.array::<NONCE_LEN>()?),
            INVITE => Message::Invite(Invite::read(&mut r)?),
            RINGING => Message::Ringing(CallId(r.u64()?)),
            ACCEPT => Message::Accept(Accept::read(&mut r)?),
            REJECT => Message::Reject {
                call_id: CallId(r.u64()?),
                reason: RejectReason::from_code(r.u8()?),
            },
            CANCEL => Message::Cancel(CallId(r.u64()?)),
            BYE => Message::Bye(CallId(r.u64()?)),
            BYE_ACK => Message::ByeAck(CallId(r.u64()?)),
            KEEPALIVE => Message::Keepalive(CallId(r.u64()?)),
            HANDSHAKE_INIT => Message::HandshakeInit(call::opaque(&mut r, frame.payload())?),
            HANDSHAKE_REPLY => Message::HandshakeReply(call::opaque(&mut r, frame.payload())?),
            SEALED => Message::Sealed(call::opaque(&mut r, frame.payload())?),
            PING => Message::Ping(r.u64()?),
            PONG => Message::Pong(r.u64()?),
            ERROR => Message::Error(ErrorMsg::read(&mut r)?),
            other => return Ok(Message::Unknown(other)),
        };
        r.finish()?;
        Ok(msg)
    }

    /// Parses exactly one whole frame.
    pub fn parse_bytes(bytes: &[u8]) -> Result<Message, WireError> {
        Message::parse(&Frame::new_checked(bytes)?)
    }

    fn payload_len(&self) -> usize {
        match self {
            Message::Register(m) => m.len(),
            Message::Unregister | Message::Unknown(_) => 0,
            Message::Lookup(n) | Message::NameTaken(n) | Message::NotFound(n) => field::name_len(n),
            Message::List { after } => after.as_ref().map_or(1, field::name_len),
            Message::Registered(m) => m.len(),
            Message::AlreadyRegistered(m) => m.len(),
            Message::EndpointTaken(a) => field::socket_addr_len(a),
            Message::Found(e) => e.len(),
            Message::ListReply(m) => m.len(),
            Message::Goodbye(_) => 1,
            Message::NameResembles { asked, held } => {
                field::name_len(asked) + field::name_len(held)
            }
            Message::Challenge(_) => NONCE_LEN,
            Message::Invite(m) => m.len(),
            Message::Accept(_) => Accept::LEN,
            Message::Reject { .. } => 8 + 1,
            Message::Ringing(_)
            | Message::Cancel(_)
            | Message::Bye(_)
            | Message::ByeAck(_)
            | Message::Keepalive(_) => 8,
            Message::Ping(_) | Message::Pong(_) => 8,
            Message::Error(m) => m.len(),
            Message::HandshakeInit(b) | Message::HandshakeReply(b) | Message::Sealed(b) => b.len(),
        }
    }

    /// Bytes [`Message::emit`] writes: header plus payload. At most
    /// [`MAX_FRAME_LEN`] for every message built with the public constructors,
    /// except a [`ListReply`] given more entries than fit (see [`Message::fits`]).
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len()
    }

    /// Whether this message fits in one frame.
    pub fn fits(&self) -> bool {
        self.payload_len() <= MAX_PAYLOAD_LEN
    }

    /// Writes the whole frame into `buf`, which must be exactly
    /// [`Message::buffer_len`] bytes long.
    ///
    /// # Panics
    /// If `buf` has the wrong size or the message does not [`Message::fits`]:
    /// both are bugs in the caller, not properties of any input.
    pub fn emit(&self, buf: &mut [u8]) {
        let payload_len = self.payload_len();
        assert!(payload_len <= MAX_PAYLOAD_LEN, "message exceeds one frame");
        assert_eq!(buf.len(), HEADER_LEN + payload_len, "emit buffer size");
        frame::emit_header(buf, self.msg_type(), payload_len);
        let mut w = Writer::new(&mut buf[HEADER_LEN..]);
        match self {
            Message::Register(m) => m.write(&mut w),
            Message::Unregister | Message::Unknown(_) => {}
            Message::Lookup(n) | Message::NameTaken(n) | Message::NotFound(n) => w.name(n),
            Message::List { after } => w.optional_name(after.as_ref()),
            Message::Registered(m) => m.write(&mut w),
            Message::AlreadyRegistered(m) => m.write(&mut w),
            Message::EndpointTaken(a) => w.socket_addr(a),
            Message::Found(e) => e.write(&mut w),
            Message::ListReply(m) => m.write(&mut w),
            Message::Goodbye(r) => w.u8(r.code()),
            Message::NameResembles { asked, held } => {
                w.name(asked);
                w.name(held);
            }
            Message::Challenge(nonce) => w.bytes(nonce),
            Message::Invite(m) => m.write(&mut w),
            Message::Accept(m) => m.write(&mut w),
            Message::Reject { call_id, reason } => {
                w.u64(call_id.0);
                w.u8(reason.code());
            }
            Message::Ringing(id)
            | Message::Cancel(id)
            | Message::Bye(id)
            | Message::ByeAck(id)
            | Message::Keepalive(id) => w.u64(id.0),
            Message::Ping(t) | Message::Pong(t) => w.u64(*t),
            Message::Error(m) => m.write(&mut w),
            Message::HandshakeInit(b) | Message::HandshakeReply(b) | Message::Sealed(b) => {
                w.bytes(b)
            }
        }
        debug_assert_eq!(w.remaining(), 0, "buffer_len and emit disagree");
    }

    /// Appends the whole frame to `out` (a connection's write queue).
    pub fn emit_into(&self, out: &mut Vec<u8>) {
        let at = out.len();
        out.resize(at + self.buffer_len(), 0);
        self.emit(&mut out[at..]);
    }

    /// The whole frame as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.buffer_len());
        self.emit_into(&mut v);
        v
    }
}

/// The ERROR frame that answers a frame of protocol version `their_version`,
/// framed in that version when it is older, so that an old peer or client
/// can read why it was refused ("upgrade it") instead of a version it cannot
/// parse. ERROR's payload layout is the same in every version for this reason.
pub fn version_error_frame(their_version: u8) -> Vec<u8> {
    let msg = Message::Error(WireError::UnsupportedVersion(their_version).to_error_msg());
    let mut bytes = msg.to_bytes();
    if their_version < VERSION {
        bytes[2] = their_version;
    }
    bytes
}

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod malformed;
