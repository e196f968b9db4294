//! Arbitrary datagrams, from the right address and from others, on both
//! streams of one media session, with time moving on between them: no
//! panic, and what it holds stays within its bounds however the packets
//! lie about sequence numbers, timestamps, payload types and RTCP, in the
//! clear or to an encrypted session (SRTP).
#![no_main]

use libfuzzer_sys::fuzz_target;
use peercall::media::session::{
    cname_from_random, MediaSession, PlayoutClock, SessionConfig, StreamKind, MAX_QUEUED_OUTPUTS,
};
use peercall::media::srtp::MediaKeys;
use peercall::wire::{AudioCodec, AudioFormat, MediaDescription, MediaPorts, VideoCodec, VideoFormat};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

const PEER: [u8; 4] = [127, 0, 0, 2];
const PORTS: MediaPorts = MediaPorts {
    video: 5000,
    audio: 5002,
};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mut rest)) = data.split_first() else {
        return;
    };
    let mut now = Instant::now();
    let mut s = MediaSession::new(
        now,
        SessionConfig {
            media: MediaDescription {
                video: VideoFormat {
                    codec: VideoCodec::Mjpeg,
                    width: 320,
                    height: 240,
                    fps: 30,
                },
                audio: AudioFormat {
                    codec: AudioCodec::Opus,
                    sample_rate: 48_000,
                    channels: 1,
                    frame_ms: 20,
                },
            },
            remote_ip: IpAddr::from(PEER),
            remote_ports: PORTS,
            send_video: flags & 1 != 0,
            send_audio: flags & 2 != 0,
            playout: if flags & 4 != 0 {
                PlayoutClock::Sink
            } else {
                PlayoutClock::Session
            },
            cname: cname_from_random([7; 12]),
            seed: u64::from(flags),
            wallclock: Duration::from_secs(1_800_000_000),
            feedback: flags & 8 != 0,
            // Bit 4: an encrypted call, whose every datagram goes through
            // libsrtp2's checks before anything parses it.
            srtp: (flags & 16 != 0).then(|| MediaKeys::derive(&[3; 64], flags & 32 != 0)),
        },
    );
    // Each datagram: 1 control byte (bit 0: stream, bit 1: from a stranger,
    // bits 2-7: milliseconds to move on), 2 length bytes, the bytes.
    while rest.len() >= 3 {
        let control = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]])) % 1600;
        rest = &rest[3..];
        let (datagram, tail) = rest.split_at(len.min(rest.len()));
        rest = tail;
        let stream = if control & 1 == 0 {
            StreamKind::Video
        } else {
            StreamKind::Audio
        };
        let port = match stream {
            StreamKind::Video => PORTS.video,
            StreamKind::Audio => PORTS.audio,
        };
        let from = if control & 2 == 0 {
            SocketAddr::from((PEER, port))
        } else {
            SocketAddr::from(([127, 0, 0, 9], port))
        };
        now += Duration::from_millis(u64::from(control >> 2));
        let _ = s.handle_packet(now, stream, from, datagram);
        if let Some(at) = s.poll_timeout() {
            if at <= now {
                s.handle_timeout(now);
            }
        }
        if control & 0x80 != 0 {
            s.pull_audio(now, Duration::from_millis(40));
        }
        let mut drained = 0;
        while s.poll_output().is_some() {
            drained += 1;
        }
        assert!(drained <= MAX_QUEUED_OUTPUTS);
    }
    s.handle_timeout(now + Duration::from_secs(2));
    while s.poll_output().is_some() {}
    let _ = s.report(now + Duration::from_secs(2));
});
