//! Media: the pieces that carry video and audio between peers once a call is
//! established, without any IO. RTP framing (RFC 3550) and the payload
//! formats the call negotiates: JPEG (RFC 2435) for video, Opus (RFC 7587)
//! for audio. The peer binary owns the UDP sockets, the clock and the codecs;
//! these modules turn frames into packets and packets back into frames.

pub mod audio;
pub mod capture;
pub mod fec;
pub mod impair;
pub mod jitter;
pub mod jpeg;
pub mod mjpeg;
pub mod pattern;
pub mod rtp;
pub mod sdp;
pub mod session;
pub mod srtp;
pub mod stats;
pub mod sync;
pub mod tone;
