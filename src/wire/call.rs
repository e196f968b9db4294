//! Payloads of the call signalling family, sent peer to peer over TCP to the
//! callee's registered call port: INVITE, RINGING, ACCEPT, REJECT, CANCEL, BYE,
//! BYE ACK and KEEPALIVE. Every one carries the call id, so a message that
//! belongs to another call is recognised and answered, never acted on.

use super::field::{Reader, Writer};
use super::{Name, WireError};
use std::fmt;

/// A call's identity: 64 random bits chosen by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u64);

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// The video codec of a media description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    /// No video in this direction.
    None,
    /// Motion JPEG over RTP (RFC 2435).
    Mjpeg,
    /// A codec this version does not know.
    Unknown(u8),
}

impl VideoCodec {
    fn code(self) -> u8 {
        match self {
            VideoCodec::None => 0,
            VideoCodec::Mjpeg => 1,
            VideoCodec::Unknown(c) => c,
        }
    }
    fn from_code(c: u8) -> Self {
        match c {
            0 => VideoCodec::None,
            1 => VideoCodec::Mjpeg,
            c => VideoCodec::Unknown(c),
        }
    }
}

/// The audio codec of a media description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioCodec {
    /// No audio in this direction.
    None,
    /// Opus over RTP (RFC 7587).
    Opus,
    /// A codec this version does not know.
    Unknown(u8),
}

impl AudioCodec {
    fn code(self) -> u8 {
        match self {
            AudioCodec::None => 0,
            AudioCodec::Opus => 1,
            AudioCodec::Unknown(c) => c,
        }
    }
    fn from_code(c: u8) -> Self {
        match c {
            0 => AudioCodec::None,
            1 => AudioCodec::Opus,
            c => AudioCodec::Unknown(c),
        }
    }
}

/// What video a side sends: codec, size and rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoFormat {
    /// The codec.
    pub codec: VideoCodec,
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
    /// Frames per second.
    pub fps: u8,
}

/// What audio a side sends: codec, sample rate, channels and frame duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioFormat {
    /// The codec.
    pub codec: AudioCodec,
    /// Samples per second.
    pub sample_rate: u32,
    /// Channels (1 mono, 2 stereo).
    pub channels: u8,
    /// Duration of one audio frame in milliseconds.
    pub frame_ms: u8,
}

/// The media a side proposes (INVITE) or agrees to (ACCEPT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaDescription {
    /// Video.
    pub video: VideoFormat,
    /// Audio.
    pub audio: AudioFormat,
}

impl MediaDescription {
    /// Encoded size: video 6 bytes, audio 7 bytes.
    pub const LEN: usize = 6 + 7;

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(MediaDescription {
            video: VideoFormat {
                codec: VideoCodec::from_code(r.u8()?),
                width: r.u16()?,
                height: r.u16()?,
                fps: r.u8()?,
            },
            audio: AudioFormat {
                codec: AudioCodec::from_code(r.u8()?),
                sample_rate: r.u32()?,
                channels: r.u8()?,
                frame_ms: r.u8()?,
            },
        })
    }
    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.u8(self.video.codec.code());
        w.u16(self.video.width);
        w.u16(self.video.height);
        w.u8(self.video.fps);
        w.u8(self.audio.codec.code());
        w.u32(self.audio.sample_rate);
        w.u8(self.audio.channels);
        w.u8(self.audio.frame_ms);
    }
}

/// The UDP ports a side receives media on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaPorts {
    /// Audio RTP (and RTCP, multiplexed).
    pub audio: u16,
    /// Video RTP (and RTCP, multiplexed).
    pub video: u16,
}

impl MediaPorts {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(MediaPorts {
            audio: r.u16()?,
            video: r.u16()?,
        })
    }
    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.u16(self.audio);
        w.u16(self.video);
    }
}

/// INVITE: the caller asks for a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    /// The new call's id.
    pub call_id: CallId,
    /// Who is calling (its registered name).
    pub caller: Name,
    /// Where the caller receives media.
    pub ports: MediaPorts,
    /// What the caller proposes to send and receive.
    pub media: MediaDescription,
}

impl Invite {
    pub(crate) fn len(&self) -> usize {
        8 + super::field::name_len(&self.caller) + 4 + MediaDescription::LEN
    }
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Invite {
            call_id: CallId(r.u64()?),
            caller: r.name()?,
            ports: MediaPorts::read(r)?,
            media: MediaDescription::read(r)?,
        })
    }
    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.u64(self.call_id.0);
        w.name(&self.caller);
        self.ports.write(w);
        self.media.write(w);
    }
}

/// ACCEPT: the callee takes the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accept {
    /// The call.
    pub call_id: CallId,
    /// Where the callee receives media.
    pub ports: MediaPorts,
    /// The media of the call: the offer, possibly lowered, never raised.
    pub media: MediaDescription,
}

impl Accept {
    /// Encoded size.
    pub const LEN: usize = 8 + 4 + MediaDescription::LEN;

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Accept {
            call_id: CallId(r.u64()?),
            ports: MediaPorts::read(r)?,
            media: MediaDescription::read(r)?,
        })
    }
    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.u64(self.call_id.0);
        self.ports.write(w);
        self.media.write(w);
    }
}

/// Why a callee refuses a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// The user (or `--reject-all`) declined.
    Declined,
    /// The callee is in another call.
    Busy,
    /// The callee cannot send or receive the proposed media.
    UnsupportedMedia,
    /// The callee answers only the keys in its allow file (`--auto-accept`)
    /// and the caller's is not there.
    NotAllowed,
    /// A reason this version does not know.
    Unknown(u8),
}

impl RejectReason {
    pub(crate) fn code(self) -> u8 {
        match self {
            RejectReason::Declined => 1,
            RejectReason::Busy => 2,
            RejectReason::UnsupportedMedia => 3,
            RejectReason::NotAllowed => 4,
            RejectReason::Unknown(c) => c,
        }
    }
    pub(crate) fn from_code(c: u8) -> Self {
        match c {
            1 => RejectReason::Declined,
            2 => RejectReason::Busy,
            3 => RejectReason::UnsupportedMedia,
            4 => RejectReason::NotAllowed,
            c => RejectReason::Unknown(c),
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::Declined => write!(f, "declined"),
            RejectReason::Busy => write!(f, "busy"),
            RejectReason::UnsupportedMedia => write!(f, "unsupported media"),
            RejectReason::NotAllowed => write!(f, "your key is not in the callee's allow file"),
            RejectReason::Unknown(c) => write!(f, "reason {c}"),
        }
    }
}

/// The payload of HANDSHAKE INIT, HANDSHAKE REPLY and SEALED: the whole
/// payload, uninterpreted (the Noise layer checks it; its bound is the
/// frame's [`super::MAX_PAYLOAD_LEN`] here and tighter ones in `call::secure`).
pub(super) fn opaque(r: &mut Reader<'_>, payload: &[u8]) -> Result<Vec<u8>, WireError> {
    Ok(r.bytes(payload.len())?.to_vec())
}
