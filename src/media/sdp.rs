//! SDP (RFC 4566) descriptions of a call's RTP streams, so standard players
//! (ffplay, VLC, GStreamer's `sdpdemux`) can receive a peercall stream: JPEG
//! video as static payload type 26 (RFC 2435 / RFC 3551), Opus as dynamic
//! payload type 111 at 48 kHz (RFC 7587). RTCP goes to the port above each
//! RTP port, RFC 3550's default, because that is what every player listens
//! on without being told; the call itself multiplexes RTCP on the RTP port
//! (RFC 5761), and the peer forwarding a copy to a player splits them.
//!
//! The video is described as RTP/AVPF (RFC 4585) with generic NACK and
//! its retransmissions (RFC 4588, payload type 97, `apt=26`), since the
//! forwarded copy carries the retransmissions that repaired it, and the
//! FlexFEC repair stream (RFC 8627, payload type 98) on long round trips; a
//! player without them ignores types 97 and 98 and sees the originals.
//!
//! The call itself is SRTP (docs/protocol.md §13); the copy a player gets is
//! plain RTP, decrypted by the peer before forwarding, and the description
//! says so in its session information (`i=`) line: the profile stays plain
//! RTP/AVP(F), which is what the player must expect, and the line tells a
//! reader that the copy (which crosses the network in the clear if sent to
//! another host) is not what the call put on the wire.

use super::fec::PT_FLEXFEC;
use super::rtp::{PT_JPEG, PT_OPUS, PT_RTX};
use crate::wire::{AudioCodec, MediaDescription, VideoCodec};
use std::fmt::Write;
use std::net::IpAddr;

/// How long a sender keeps packets for retransmission, as RFC 4588's
/// `rtx-time` tells a receiver (the session's history age).
pub const RTX_TIME_MS: u128 = super::session::MAX_HISTORY_AGE.as_millis();

/// RFC 8627's `repair-window`, in microseconds: how far apart in time the
/// packets one repair packet protects may be (a group never spans more
/// than a frame, 33 ms at 30 fps; 200 ms, the RFC's example, is ample).
pub const FEC_REPAIR_WINDOW_US: u32 = 200_000;

/// The description's session information (`i=`): the streams are plain RTP
/// decrypted from the call's SRTP by the forwarding peer.
pub const SESSION_INFO: &str =
    "plain RTP: the call's SRTP, decrypted by the forwarding peer on its host";

/// Where and what a player should listen for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpStreams {
    /// A name for the session (shown by players).
    pub name: String,
    /// The address the streams arrive at.
    pub addr: IpAddr,
    /// The UDP port of the video stream (0: no video); its RTCP one above.
    pub video_port: u16,
    /// The UDP port of the audio stream (0: no audio).
    pub audio_port: u16,
    /// The negotiated media.
    pub media: MediaDescription,
}

/// The SDP text for `s`, with CRLF line ends as RFC 4566 asks.
pub fn describe(s: &SdpStreams) -> String {
    let (family, addr) = match s.addr {
        IpAddr::V4(a) => ("IP4", a.to_string()),
        IpAddr::V6(a) => ("IP6", a.to_string()),
    };
    // A session name must be one line of text.
    let name: String = s
        .name
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out = String::new();
    let mut line = |l: String| {
        out.push_str(&l);
        out.push_str("\r\n");
    };
    line("v=0".into());
    line(format!("o=- 0 0 IN {family} {addr}"));
    line(format!("s={name}"));
    line(format!("i={SESSION_INFO}"));
    line(format!("c=IN {family} {addr}"));
    line("t=0 0".into());
    if s.media.video.codec == VideoCodec::Mjpeg && s.video_port != 0 {
        line(format!(
            "m=video {} RTP/AVPF {PT_JPEG} {PT_RTX} {PT_FLEXFEC}",
            s.video_port
        ));
        line(format!("a=rtpmap:{PT_JPEG} JPEG/90000"));
        line(format!("a=rtcp-fb:{PT_JPEG} nack"));
        line(format!("a=rtcp-fb:{PT_JPEG} ccm tmmbr"));
        line(format!("a=rtpmap:{PT_RTX} rtx/90000"));
        line(format!(
            "a=fmtp:{PT_RTX} apt={PT_JPEG};rtx-time={}",
            RTX_TIME_MS
        ));
        line(format!("a=rtpmap:{PT_FLEXFEC} flexfec/90000"));
        line(format!(
            "a=fmtp:{PT_FLEXFEC} repair-window={FEC_REPAIR_WINDOW_US}"
        ));
        line(format!(
            "a=framesize:{PT_JPEG} {}-{}",
            s.media.video.width, s.media.video.height
        ));
        line(format!("a=framerate:{}", s.media.video.fps));
        line("a=recvonly".into());
    }
    if s.media.audio.codec == AudioCodec::Opus && s.audio_port != 0 {
        line(format!("m=audio {} RTP/AVP {PT_OPUS}", s.audio_port));
        // RFC 7587: always opus/48000/2 in the rtpmap, the real channel count
        // in the fmtp.
        line(format!("a=rtpmap:{PT_OPUS} opus/48000/2"));
        let mut fmtp = format!("a=fmtp:{PT_OPUS} useinbandfec=1");
        if s.media.audio.channels == 2 {
            let _ = write!(fmtp, ";stereo=1;sprop-stereo=1");
        }
        line(fmtp);
        line(format!("a=ptime:{}", s.media.audio.frame_ms));
        line("a=recvonly".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{AudioFormat, VideoFormat};

    fn streams() -> SdpStreams {
        SdpStreams {
            name: "peercall: alice\nto bob".into(),
            addr: "127.0.0.1".parse().unwrap(),
            video_port: 5002,
            audio_port: 5000,
            media: MediaDescription {
                video: VideoFormat {
                    codec: VideoCodec::Mjpeg,
                    width: 640,
                    height: 480,
                    fps: 30,
                },
                audio: AudioFormat {
                    codec: AudioCodec::Opus,
                    sample_rate: 48_000,
                    channels: 1,
                    frame_ms: 20,
                },
            },
        }
    }

    #[test]
    fn describes_both_streams() {
        let sdp = describe(&streams());
        let lines: Vec<&str> = sdp.split("\r\n").collect();
        assert_eq!(lines[0], "v=0");
        assert!(lines.contains(&"s=peercall: alice to bob"));
        // Right after the name (RFC 4566's order), saying the copy is
        // plain RTP decrypted locally.
        let s_at = lines.iter().position(|l| l.starts_with("s=")).unwrap();
        assert_eq!(
            lines[s_at + 1],
            "i=plain RTP: the call's SRTP, decrypted by the forwarding peer on its host"
        );
        assert!(!sdp.contains("SAVP"), "a player gets plain RTP");
        assert!(lines.contains(&"c=IN IP4 127.0.0.1"));
        assert!(lines.contains(&"m=video 5002 RTP/AVPF 26 97 98"));
        assert!(lines.contains(&"a=rtpmap:98 flexfec/90000"));
        assert!(lines.contains(&"a=rtpmap:26 JPEG/90000"));
        assert!(lines.contains(&"a=rtcp-fb:26 nack"));
        assert!(lines.contains(&"a=rtpmap:97 rtx/90000"));
        assert!(lines.contains(&"a=fmtp:97 apt=26;rtx-time=1000"));
        assert!(lines.contains(&"m=audio 5000 RTP/AVP 111"));
        assert!(lines.contains(&"a=rtpmap:111 opus/48000/2"));
        assert!(lines.contains(&"a=fmtp:111 useinbandfec=1"));
        assert!(sdp.ends_with("\r\n"));
        // RTCP on the next port up, which players assume when not told.
        assert!(!sdp.contains("a=rtcp:"));
    }

    #[test]
    fn leaves_out_absent_streams_and_speaks_ipv6() {
        let mut s = streams();
        s.media.video.codec = VideoCodec::None;
        s.addr = "::1".parse().unwrap();
        let sdp = describe(&s);
        assert!(!sdp.contains("m=video"));
        assert!(sdp.contains("c=IN IP6 ::1"));
        assert!(sdp.contains("m=audio"));
    }
}
