//! Two media sessions in a call with each other, wired through a seeded
//! in-memory impairment in each direction, with simulated time: a whole
//! call runs in milliseconds, without sockets or sleeps, and every figure
//! it produces is exact and repeatable. Each side captures on a schedule
//! (a JPEG fixture every frame period, a 20 ms "Opus" frame whose bytes
//! carry its number), and what each side shows and plays is recorded with
//! the time it happened.

mod call;
mod quality;
mod repair;
mod robustness;
mod rtcp;
mod rtcp_wire;
mod srtp;
mod sweep;
mod wrap;

use super::*;
use crate::media::fec::PT_FLEXFEC;
use crate::media::impair::{ImpairConfig, Impairment};
use crate::media::jpeg::JpegFrame;
use crate::media::rtp::{classify, Kind, Rtcp, RtpHeader, PT_RTX};
use crate::wire::{AudioFormat, VideoFormat};

/// A 320x240 baseline JPEG: seven RTP packets at the usual payload size.
pub(super) const JPEG: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/jpeg/ffmpeg-320x240-420.jpg"
));

/// A 64x48 baseline JPEG: two RTP packets, for calls where the picture's
/// size does not matter and a quicker run does.
pub(super) const SMALL_JPEG: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/jpeg/ffmpeg-64x48-420.jpg"
));

/// The wallclock both sides read at the start (2026-12-04, a Friday).
pub(super) const WALLCLOCK: Duration = Duration::from_secs(1_796_400_000);

/// The negotiated media of the test calls: 320x240 at 30 fps, Opus.
pub(super) const MEDIA: MediaDescription = MediaDescription {
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
};

/// Bytes of a test "Opus" frame.
pub(super) const OPUS_LEN: usize = 40;

/// A datagram on its way.
#[derive(Debug, Clone)]
pub(super) struct Datagram {
    pub(super) stream: StreamKind,
    pub(super) from: SocketAddr,
    pub(super) bytes: Vec<u8>,
}

/// One participant: its session, its addresses, its capture schedule and
/// what came out of it.
pub(super) struct Side {
    pub(super) s: MediaSession,
    pub(super) video_addr: SocketAddr,
    pub(super) audio_addr: SocketAddr,
    /// Frame period of the capture, and when the next video and audio
    /// frames are captured (`None`: not capturing).
    pub(super) period: Duration,
    /// The picture captured every frame.
    pub(super) jpeg: &'static [u8],
    pub(super) next_video: Option<Instant>,
    pub(super) next_audio: Option<Instant>,
    pub(super) video_captured: u32,
    pub(super) audio_captured: u32,
    /// With [`PlayoutClock::Sink`]: a simulated sound card, pulling a frame
    /// every 20 ms once playing, holding `card_queue` of sound ahead.
    pub(super) next_pull: Option<Instant>,
    pub(super) card_queue: Duration,
    pub(super) sent: Vec<(Instant, Transmit)>,
    /// Datagrams the link delivered to this side, and what the session made of them.
    pub(super) delivered: Vec<(Instant, Datagram, Received)>,
    pub(super) shown: Vec<(Instant, JpegFrame)>,
    /// The capture time each shown frame came with, in the same order.
    pub(super) shown_captured: Vec<Option<Instant>>,
    pub(super) played: Vec<(Instant, Play)>,
    pub(super) events: Vec<SessionEvent>,
    /// With feedback: the pictures the rate control's levels stand for,
    /// made on first use (see [`encoded_like`]).
    pub(super) encoded: std::collections::HashMap<(u8, u32), Vec<u8>>,
}

impl Side {
    fn drain(&mut self, now: Instant, link: &mut Impairment<Datagram>) {
        while let Some(out) = self.s.poll_output() {
            match out {
                Output::Transmit(t) => {
                    let from = match t.stream {
                        StreamKind::Video => self.video_addr,
                        StreamKind::Audio => self.audio_addr,
                    };
                    link.send_sized(
                        now,
                        Datagram {
                            stream: t.stream,
                            from,
                            bytes: t.bytes.clone(),
                        },
                        t.bytes.len(),
                    );
                    self.sent.push((now, t));
                }
                Output::Show(s) => {
                    self.shown_captured.push(s.captured);
                    self.shown.push((now, s.frame));
                }
                Output::Play(p) => {
                    if self.s.audio_in.clock == PlayoutClock::Sink && self.next_pull.is_none() {
                        self.next_pull = Some(now + AUDIO_FRAME);
                    }
                    self.played.push((now, p));
                }
                Output::Event(e) => self.events.push(e),
            }
        }
    }

    fn capture(&mut self, now: Instant) {
        if self.next_video.is_some_and(|t| t <= now) {
            if self.s.feedback {
                // As a peer does: the rate control picks which frames go
                // and how they are encoded.
                let t = self.s.video_target();
                if t.takes(u64::from(self.video_captured)) {
                    let jpeg = self
                        .encoded
                        .entry((t.quality, t.scale))
                        .or_insert_with(|| encoded_like(self.jpeg, t.quality, t.scale));
                    let frame = VideoFrame {
                        captured: now,
                        jpeg,
                        from_camera: false,
                    };
                    self.s
                        .send_video_frame(now, frame)
                        .expect("fixture is sendable");
                }
            } else {
                let frame = VideoFrame {
                    captured: now,
                    jpeg: self.jpeg,
                    from_camera: false,
                };
                self.s
                    .send_video_frame(now, frame)
                    .expect("fixture is sendable");
            }
            self.video_captured += 1;
            self.next_video = self.next_video.map(|t| t + self.period);
        }
        if self.next_audio.is_some_and(|t| t <= now) {
            self.s
                .send_audio_frame(now, now, &opus_frame(self.audio_captured));
            self.audio_captured += 1;
            self.next_audio = self.next_audio.map(|t| t + AUDIO_FRAME);
        }
        if self.next_pull.is_some_and(|t| t <= now) {
            self.s.pull_audio(now, self.card_queue);
            self.next_pull = self.next_pull.map(|t| t + AUDIO_FRAME);
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        [
            self.s.poll_timeout(),
            self.next_video,
            self.next_audio,
            self.next_pull,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// RTCP compounds this side sent on a stream, parsed, with when.
    pub(super) fn rtcp_sent(&self, stream: StreamKind) -> Vec<(Instant, Vec<Rtcp>)> {
        self.sent
            .iter()
            .filter(|(_, t)| t.stream == stream && classify(&t.bytes) == Kind::Rtcp)
            .map(|(at, t)| {
                (
                    *at,
                    Rtcp::parse_compound(&t.bytes).expect("our RTCP parses"),
                )
            })
            .collect()
    }

    /// Numbers of the audio frames played from their own packet, in order.
    pub(super) fn played_frames(&self) -> Vec<u32> {
        self.played
            .iter()
            .filter_map(|(_, p)| match &p.playout {
                Playout::Frame(b) => Some(frame_number(b)),
                _ => None,
            })
            .collect()
    }
}

/// A test Opus frame: its number, then filler.
pub(super) fn opus_frame(n: u32) -> Vec<u8> {
    let mut b = vec![0x5a; OPUS_LEN];
    b[..4].copy_from_slice(&n.to_be_bytes());
    b
}

/// The number a test Opus frame carries.
pub(super) fn frame_number(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// How a test call is set up.
#[derive(Debug, Clone)]
pub(super) struct Setup {
    pub(super) a_to_b: ImpairConfig,
    pub(super) b_to_a: ImpairConfig,
    pub(super) media: MediaDescription,
    pub(super) playout: PlayoutClock,
    /// Wallclocks of A and B at the start (differ to model unsynchronised boards).
    pub(super) wallclocks: (Duration, Duration),
    /// The picture both sides capture.
    pub(super) jpeg: &'static [u8],
    /// [`SessionConfig::feedback`]: loss repair and rate control. Off in the
    /// tests of raw loss accounting, which count every loss exactly.
    pub(super) feedback: bool,
    /// The handshake's media secret: with it the sides talk SRTP, Alice as
    /// the caller (keys from [`MediaKeys::derive`]); without, plain RTP,
    /// which the tests that read or forge packets on the wire want.
    pub(super) srtp: Option<[u8; crate::media::srtp::MEDIA_SECRET_LEN]>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            a_to_b: ImpairConfig::default(),
            b_to_a: ImpairConfig::default(),
            media: MEDIA,
            playout: PlayoutClock::Session,
            wallclocks: (WALLCLOCK, WALLCLOCK),
            jpeg: JPEG,
            feedback: false,
            srtp: None,
        }
    }
}

impl Setup {
    /// The same impairment both ways (with different seeds).
    pub(super) fn both_ways(cfg: ImpairConfig) -> Setup {
        let mut back = cfg.clone();
        back.seed = cfg.seed.wrapping_add(1000);
        Setup {
            a_to_b: cfg,
            b_to_a: back,
            ..Setup::default()
        }
    }
}

/// The two sides and the network between them.
pub(super) struct Pair {
    pub(super) start: Instant,
    pub(super) now: Instant,
    pub(super) a: Side,
    pub(super) b: Side,
    pub(super) a_to_b: Impairment<Datagram>,
    pub(super) b_to_a: Impairment<Datagram>,
}

fn addr(ip: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::from((ip, port))
}

/// Alice's and Bob's addresses: loopback, though no socket is opened.
pub(super) const A_IP: [u8; 4] = [127, 0, 0, 1];
/// Bob's address.
pub(super) const B_IP: [u8; 4] = [127, 0, 0, 2];

/// A media secret for the encrypted test calls.
pub(super) const SECRET: [u8; crate::media::srtp::MEDIA_SECRET_LEN] = [0x42; 64];

pub(super) fn side(
    now: Instant,
    setup: &Setup,
    me: [u8; 4],
    other: [u8; 4],
    seed: u64,
    wall: Duration,
) -> Side {
    // Alice (the first side, seed 1) placed the call.
    let caller = me == A_IP;
    let cfg = SessionConfig {
        media: setup.media,
        remote_ip: IpAddr::from(other),
        remote_ports: MediaPorts {
            video: 5000,
            audio: 5002,
        },
        send_video: true,
        send_audio: true,
        playout: setup.playout,
        cname: cname_from_random([seed as u8; CNAME_RANDOM_BYTES]),
        seed,
        wallclock: wall,
        feedback: setup.feedback,
        srtp: setup.srtp.map(|s| MediaKeys::derive(&s, caller)),
    };
    let s = MediaSession::new(now, cfg);
    let period = Duration::from_secs(1) / u32::from(setup.media.video.fps.max(1));
    Side {
        next_video: s.sends(StreamKind::Video).then_some(now),
        next_audio: s.sends(StreamKind::Audio).then_some(now),
        s,
        video_addr: addr(me, 5000),
        audio_addr: addr(me, 5002),
        period,
        jpeg: setup.jpeg,
        video_captured: 0,
        audio_captured: 0,
        next_pull: None,
        card_queue: Duration::ZERO,
        sent: Vec::new(),
        delivered: Vec::new(),
        shown: Vec::new(),
        shown_captured: Vec::new(),
        played: Vec::new(),
        events: Vec::new(),
        encoded: std::collections::HashMap::new(),
    }
}

/// A stand-in for `jpeg` encoded at `quality` and `1/scale` size, for the
/// transport only (nobody decodes it in these tests): the same headers with
/// the size patched, and the scan cut to the share of bytes the rate
/// control's own size model ([`Level::size`]) gives that level. The
/// controller measures what it sends, so the model only has to be
/// plausible, not exact.
pub(super) fn encoded_like(jpeg: &[u8], quality: u8, scale: u32) -> Vec<u8> {
    let level = Level {
        quality,
        fps_divisor: 1,
        scale,
    };
    let share = level.size().min(1.0);
    // The scan starts after the SOS segment; find the markers by walking
    // the segments (the fixture is a plain baseline JPEG from cjpeg).
    let mut at = 2;
    let mut out = jpeg[..2].to_vec();
    loop {
        let marker = jpeg[at + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        let mut segment = jpeg[at..at + 2 + len].to_vec();
        if marker == 0xc0 && scale > 1 {
            let h = u16::from_be_bytes([segment[5], segment[6]]) / scale as u16;
            let w = u16::from_be_bytes([segment[7], segment[8]]) / scale as u16;
            segment[5..7].copy_from_slice(&h.to_be_bytes());
            segment[7..9].copy_from_slice(&w.to_be_bytes());
        }
        out.extend_from_slice(&segment);
        at += 2 + len;
        if marker == 0xda {
            break;
        }
    }
    let scan = &jpeg[at..jpeg.len() - 2];
    let mut keep = ((scan.len() as f64 * share) as usize).max(1);
    // Never cut between a 0xff and its stuffing or marker byte.
    while keep > 1 && scan[keep - 1] == 0xff {
        keep -= 1;
    }
    out.extend_from_slice(&scan[..keep]);
    out.extend_from_slice(&[0xff, 0xd9]);
    out
}

impl Pair {
    /// A call between Alice (A) and Bob (B), both capturing from the start.
    pub(super) fn new(setup: Setup) -> Pair {
        let now = Instant::now();
        Pair {
            start: now,
            now,
            a: side(now, &setup, A_IP, B_IP, 1, setup.wallclocks.0),
            b: side(now, &setup, B_IP, A_IP, 2, setup.wallclocks.1),
            a_to_b: Impairment::new(setup.a_to_b),
            b_to_a: Impairment::new(setup.b_to_a),
        }
    }

    /// A clean call.
    pub(super) fn clean() -> Pair {
        Pair::new(Setup::default())
    }

    /// Everything due at `now`, until nothing is.
    fn settle(&mut self) {
        let now = self.now;
        for _ in 0..10_000 {
            self.a.capture(now);
            self.b.capture(now);
            for side in [&mut self.a, &mut self.b] {
                if side.s.poll_timeout().is_some_and(|t| t <= now) {
                    side.s.handle_timeout(now);
                }
            }
            self.a.drain(now, &mut self.a_to_b);
            self.b.drain(now, &mut self.b_to_a);
            let mut moved = false;
            for (link, to) in [
                (&mut self.a_to_b, &mut self.b),
                (&mut self.b_to_a, &mut self.a),
            ] {
                while let Some(d) = link.poll(now) {
                    let r = to.s.handle_packet(now, d.stream, d.from, &d.bytes);
                    to.delivered.push((now, d, r));
                    moved = true;
                }
            }
            let due = [self.a.next_deadline(), self.b.next_deadline()]
                .into_iter()
                .flatten()
                .any(|t| t <= now);
            if !moved && !due {
                self.a.drain(now, &mut self.a_to_b);
                self.b.drain(now, &mut self.b_to_a);
                return;
            }
        }
        panic!("the pair never settles at {:?}", now - self.start);
    }

    /// Runs the call until `d` after its start (not after now).
    pub(super) fn run_until(&mut self, d: Duration) {
        let end = self.start + d;
        loop {
            self.settle();
            let next = [
                self.a.next_deadline(),
                self.b.next_deadline(),
                self.a_to_b.next_timeout(),
                self.b_to_a.next_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(t) if t <= end => self.now = t.max(self.now),
                _ => {
                    self.now = end;
                    self.settle();
                    return;
                }
            }
        }
    }

    /// Runs the call for `d` more.
    pub(super) fn run_for(&mut self, d: Duration) {
        let at = self.now - self.start + d;
        self.run_until(at);
    }

    /// Both sides stop capturing.
    pub(super) fn stop_capture(&mut self) {
        for side in [&mut self.a, &mut self.b] {
            side.next_video = None;
            side.next_audio = None;
        }
    }

    /// Ends the call on both sides (A first) and lets the BYEs arrive.
    pub(super) fn hang_up(&mut self) {
        self.stop_capture();
        self.a.s.close(self.now);
        self.a.drain(self.now, &mut self.a_to_b);
        self.run_for(Duration::from_millis(500));
        self.b.s.close(self.now);
        self.b.drain(self.now, &mut self.b_to_a);
        self.run_for(Duration::from_millis(500));
    }
}

/// The milliseconds at percentile `p` of microsecond samples.
pub(super) fn pct(samples: &[u64], p: f64) -> f64 {
    let mut v = samples.to_vec();
    v.sort_unstable();
    let i = ((v.len() - 1) as f64 * p).round() as usize;
    v[i] as f64 / 1000.0
}

/// RTP sequence numbers that reached a side on a stream, in arrival order.
pub(super) fn arrived_sequences(side: &Side, stream: StreamKind) -> Vec<u16> {
    side.delivered
        .iter()
        .filter(|(_, d, _)| d.stream == stream && classify(&d.bytes) == Kind::Rtp)
        .map(|(_, d, _)| RtpHeader::parse(&d.bytes).expect("RTP parses").0.sequence)
        .collect()
}

/// RTP sequence numbers a side sent on a stream, in order.
pub(super) fn rtp_sequences(side: &Side, stream: StreamKind) -> Vec<u16> {
    side.sent
        .iter()
        .filter(|(_, t)| t.stream == stream && classify(&t.bytes) == Kind::Rtp)
        .map(|(_, t)| {
            RtpHeader::parse(&t.bytes)
                .expect("our RTP parses")
                .0
                .sequence
        })
        .collect()
}
