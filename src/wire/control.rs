//! Payloads shared by every conversation (registry and calls):
//! keepalive and errors.

use super::field::{self, Reader, Writer};
use super::WireError;
use std::fmt;

/// What an ERROR message complains about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The frame could not be parsed (truncated field, bad flags, trailing bytes...).
    Malformed,
    /// The stream does not start with the magic "PC": not a peercall client.
    BadMagic,
    /// The frame's version is not one the receiver speaks.
    UnsupportedVersion,
    /// The frame's length field exceeds the maximum payload size.
    FrameTooLong,
    /// The message type is unknown to the receiver. The connection stays open.
    UnknownType,
    /// A name breaks the name rules.
    BadName,
    /// An address is unusable (bad family, port 0).
    BadAddress,
    /// A valid message that the receiver does not accept from this side or in
    /// this state. The connection stays open.
    UnexpectedMessage,
    /// This connection already holds a different registration; unregister first.
    AlreadyHolds,
    /// The registry has no room for another connection.
    TooManyConnections,
    /// The call id does not match the current call; the message was ignored.
    /// The connection stays open.
    UnknownCall,
    /// A code this version does not know.
    Unknown(u16),
}

impl ErrorCode {
    pub(crate) fn code(self) -> u16 {
        match self {
            ErrorCode::Malformed => 1,
            ErrorCode::BadMagic => 2,
            ErrorCode::UnsupportedVersion => 3,
            ErrorCode::FrameTooLong => 4,
            ErrorCode::UnknownType => 5,
            ErrorCode::BadName => 6,
            ErrorCode::BadAddress => 7,
            ErrorCode::UnexpectedMessage => 8,
            ErrorCode::AlreadyHolds => 9,
            ErrorCode::TooManyConnections => 10,
            ErrorCode::UnknownCall => 11,
            ErrorCode::Unknown(c) => c,
        }
    }
    pub(crate) fn from_code(c: u16) -> Self {
        match c {
            1 => ErrorCode::Malformed,
            2 => ErrorCode::BadMagic,
            3 => ErrorCode::UnsupportedVersion,
            4 => ErrorCode::FrameTooLong,
            5 => ErrorCode::UnknownType,
            6 => ErrorCode::BadName,
            7 => ErrorCode::BadAddress,
            8 => ErrorCode::UnexpectedMessage,
            9 => ErrorCode::AlreadyHolds,
            10 => ErrorCode::TooManyConnections,
            11 => ErrorCode::UnknownCall,
            c => ErrorCode::Unknown(c),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            ErrorCode::Malformed => "malformed message",
            ErrorCode::BadMagic => "not a peercall stream",
            ErrorCode::UnsupportedVersion => "unsupported protocol version",
            ErrorCode::FrameTooLong => "frame too long",
            ErrorCode::UnknownType => "unknown message type",
            ErrorCode::BadName => "invalid name",
            ErrorCode::BadAddress => "invalid address",
            ErrorCode::UnexpectedMessage => "unexpected message",
            ErrorCode::AlreadyHolds => "connection already holds a registration",
            ErrorCode::TooManyConnections => "too many connections",
            ErrorCode::UnknownCall => "no such call",
            ErrorCode::Unknown(c) => return write!(f, "error {c}"),
        };
        f.write_str(s)
    }
}

/// ERROR: a code for programs and a text for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorMsg {
    /// What went wrong, for programs.
    pub code: ErrorCode,
    /// What went wrong, for people (at most [`field::MAX_TEXT_LEN`] bytes; longer is cut).
    pub text: String,
}

impl ErrorMsg {
    /// An error with its code and explanation.
    pub fn new(code: ErrorCode, text: impl Into<String>) -> Self {
        ErrorMsg {
            code,
            text: text.into(),
        }
    }
    pub(crate) fn len(&self) -> usize {
        2 + field::text_len(&self.text)
    }
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(ErrorMsg {
            code: ErrorCode::from_code(r.u16()?),
            text: r.text()?,
        })
    }
    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.u16(self.code.code());
        w.text(&self.text);
    }
}

impl fmt::Display for ErrorMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.text.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{}: {}", self.code, self.text)
        }
    }
}
