//! The media of one call as a state machine: the RTP session (RFC 3550) of
//! the call's two streams, without sockets, threads or clock reads. The IO
//! shell hands it captured frames ([`MediaSession::send_video_frame`],
//! [`MediaSession::send_audio_frame`]), datagrams from its two UDP sockets
//! ([`MediaSession::handle_packet`]) and the time ([`MediaSession::handle_timeout`]),
//! and drains [`MediaSession::poll_output`]: datagrams to send, JPEG frames to
//! show, Opus frames to play, and events; [`MediaSession::poll_timeout`] says
//! when to call again. Inside: RTP packetizing (RFC 2435 for JPEG, RFC 7587 for
//! Opus), RTCP (SR, RR, SDES with an RFC 7022 CNAME, BYE; randomised
//! intervals; the round trip), reassembly, the audio jitter buffer and playout
//! clock, lip sync, reception statistics, and the quality report. With keys
//! ([`SessionConfig::srtp`]) every datagram out is SRTP/SRTCP and every one
//! in is authenticated before it is parsed (`protect.rs`). The way in is
//! `receive.rs`; what the session asks of its shell, and the queue that
//! protects and bounds it, is `outputs.rs`.
//!
//! ```text
//!  capture ─► send_video_frame / send_audio_frame ─► Transmit ─► socket
//!  socket ──► handle_packet ─┬─ RTCP: reports, RTT, sender clocks, BYE
//!                            ├─ JPEG: FrameAssembler ─► held for its sound ─► Show ─► screen
//!                            └─ Opus: JitterBuffer ─► every 20 ms (or when the card asks) ─► Play ─► speaker
//!  time ────► handle_timeout: RTCP due, held frames due, playout ticks
//! ```
//!
//! Wallclock (NTP) time, which sender reports carry and lip sync needs, is
//! derived from the monotonic `now` and the wallclock the shell read at
//! creation, so the session stays deterministic under test.

mod audio;
mod loss;
mod outputs;
mod protect;
mod rate;
mod receive;
mod repair;
mod report;
mod rng;
mod stream;
mod video;

#[cfg(test)]
mod tests;

pub use audio::{PlayoutClock, AUDIO_FRAME};
pub use loss::{
    ALLOWANCE_FALL_RATE, BURSTY_RUN, FEC_GROUP_MAX, FEC_GROUP_MIN, FEC_MIN_LOSS, FEC_MIN_RTT,
    FEC_OVERHEAD_PER_LOSS, LOSS_AVERAGE_WEIGHT, LOSS_MEMORY, MAX_REPAIR_ALLOWANCE, REPAIR_MARGIN,
    TAIL_WAIT,
};
pub use outputs::{Output, Play, SessionEvent, Show, Transmit};
pub use rate::{AudioTarget, Level, VideoTarget, LEVELS};
pub use receive::Received;
pub use repair::{MAX_HISTORY_AGE, MAX_HISTORY_BYTES, MAX_MISSING};
pub use report::{DisplayStats, Live, Quality, RateStats, RepairStats, MAX_SAMPLES};
pub use stream::{StreamKind, BYE_REASON, RTCP_INTERVAL};
pub use video::{MAX_VIDEO_DELAY, MAX_VIDEO_HOLD};

use self::audio::AudioIn;
use self::outputs::Outputs;
use self::protect::Srtp;
use self::rate::{OveruseDetector, RateControl};
use self::repair::{NackTracker, SendHistory};
use self::report::keep;
use self::rng::Rng;
use self::stream::{signed_secs, Stream};
use self::video::VideoIn;
use crate::media::fec::{FecDecoder, FecEncoder, MAX_PROTECTED_PACKET_LEN};
use crate::media::jitter::Playout;
use crate::media::jpeg::{packetize, JpegError};
use crate::media::rtp::{
    ntp_from_unix, MAX_RTP_PAYLOAD_LEN, OPUS_CLOCK_RATE, PT_JPEG, PT_OPUS, VIDEO_CLOCK_RATE,
};
use crate::media::srtp::MediaKeys;
use crate::media::sync::{self, ntp_to_us};
use crate::wire::{AudioCodec, MediaDescription, MediaPorts, VideoCodec};
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Audio latency readings outside this are clock trouble, not latency.
pub const MAX_PLAUSIBLE_LATENCY: Duration = Duration::from_secs(10);
/// Outputs queued and not yet polled; beyond this the oldest datagrams are
/// dropped (a shell that stopped polling must not grow memory without bound).
pub const MAX_QUEUED_OUTPUTS: usize = 4096;
/// Random bytes in an RFC 7022 CNAME (96 bits, 16 characters of base64).
pub const CNAME_RANDOM_BYTES: usize = 12;

/// How a session is set up.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The negotiated media: a stream whose codec is none is left out.
    pub media: MediaDescription,
    /// The other side's address.
    pub remote_ip: IpAddr,
    /// The other side's receive ports, where we send and the only ones we
    /// accept packets from.
    pub remote_ports: MediaPorts,
    /// Whether we send video (we may receive it without sending).
    pub send_video: bool,
    /// Whether we send audio.
    pub send_audio: bool,
    /// Whose clock paces audio playout.
    pub playout: PlayoutClock,
    /// Our RTCP CNAME, the same on both streams so the other side relates
    /// them for lip sync (RFC 3550 6.5.1); see [`cname_from_random`].
    pub cname: String,
    /// Seed for SSRCs, initial sequence numbers and timestamps, and RTCP
    /// interval spread.
    pub seed: u64,
    /// The wallclock (since the Unix epoch) at the `now` the session is
    /// created with.
    pub wallclock: Duration,
    /// RFC 4585 feedback and what it drives: NACKs and retransmissions for
    /// lost video, the playout delay that waits for them, TMMBR and the rate
    /// control. Off, the session behaves as a plain RTP/AVP receiver (a lost
    /// packet loses its frame), which tests of raw loss accounting and a
    /// user comparing (`--no-repair`) want.
    pub feedback: bool,
    /// The call's SRTP keys: with them every datagram sent is SRTP or
    /// SRTCP and every datagram received must authenticate under the other
    /// side's keys (docs/protocol.md §13). `None` is plain RTP, which only
    /// the library's simulated-time tests and benchmarks use; a peer always
    /// has keys from its handshake.
    pub srtp: Option<MediaKeys>,
}

/// An RFC 7022 short-term persistent CNAME from 96 random bits supplied by
/// the shell: their base64 encoding (RFC 4648), 16 characters.
pub fn cname_from_random(random: [u8; CNAME_RANDOM_BYTES]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(16);
    // 12 bytes are four whole 3-byte groups: no padding.
    for group in random.chunks_exact(3) {
        let n = u32::from(group[0]) << 16 | u32::from(group[1]) << 8 | u32::from(group[2]);
        for shift in [18, 12, 6, 0] {
            out.push(char::from(ALPHABET[(n >> shift & 63) as usize]));
        }
    }
    out
}

/// A frame captured for sending.
#[derive(Debug, Clone, Copy)]
pub struct VideoFrame<'a> {
    /// When the picture was taken (the camera driver's time, or when the
    /// pattern was drawn); its RTP timestamp comes from this.
    pub captured: Instant,
    /// A baseline JPEG.
    pub jpeg: &'a [u8],
    /// From a camera: its capture-to-send latency goes in the report.
    pub from_camera: bool,
}

/// The stream of this kind among the two, borrowing only them.
fn pick<'a>(
    video: &'a mut Option<Stream>,
    audio: &'a mut Option<Stream>,
    kind: StreamKind,
) -> Option<&'a mut Stream> {
    match kind {
        StreamKind::Video => video.as_mut(),
        StreamKind::Audio => audio.as_mut(),
    }
}

/// The media session of one call.
#[derive(Debug)]
pub struct MediaSession {
    cname: String,
    rng: Rng,
    /// The `now` the session was created at, and the wallclock then.
    epoch: Instant,
    wallclock: Duration,
    video: Option<Stream>,
    audio: Option<Stream>,
    send_video: bool,
    send_audio: bool,
    video_in: VideoIn,
    audio_in: AudioIn,
    outputs: Outputs,
    /// The SRTP receivers of both streams (the senders are in `outputs`).
    srtp_in: Srtp<peercall_srtp::Receiver>,
    quality: Quality,
    closed: bool,
    /// The video frame rate negotiated.
    fps: u32,
    /// Video we sent, kept for retransmission, and the RTX stream's SSRC and
    /// next sequence number.
    history: SendHistory,
    rtx_ssrc: u32,
    rtx_seq: u16,
    /// The other side's RTX SSRC, latched from its first retransmission.
    rtx_source: Option<u32>,
    /// Video packets we miss and ask for.
    nack: NackTracker,
    /// The receiver's average loss rate of video packets and the last loss.
    loss_rate: f64,
    last_loss: Option<Instant>,
    /// Timestamps of frames some of whose packets came by retransmission.
    repaired_frames: VecDeque<u32>,
    /// The newest video timestamp heard, to spot each frame's first packet;
    /// whether its last packet (the marker) came, and when the last original
    /// video packet arrived: a frame without its end after
    /// [`TAIL_WAIT`] lost its last packets.
    newest_frame: Option<u32>,
    newest_has_end: bool,
    last_video_at: Option<Instant>,
    rate: RateControl,
    overuse: OveruseDetector,
    /// A TMMBR to send at the next chance.
    cap_request: Option<u64>,
    /// See [`SessionConfig::feedback`].
    feedback: bool,
    last_shown: Option<Instant>,
    /// When the repair allowance was last updated.
    allowance_at: Option<Instant>,
    /// The other side's reported loss of our audio (an average), once known.
    audio_loss: Option<f64>,
    /// FEC we send: the encoder, the group being gathered (whole RTP
    /// packets), and its size (`None`: no FEC).
    fec_out: FecEncoder,
    fec_group: Vec<Vec<u8>>,
    fec_k: Option<usize>,
    /// FEC we receive, and the other side's FEC SSRC, latched.
    fec_in: FecDecoder,
    fec_source: Option<u32>,
}

impl MediaSession {
    /// A session for the negotiated media, created at `now`.
    pub fn new(now: Instant, cfg: SessionConfig) -> MediaSession {
        let mut rng = Rng::new(cfg.seed);
        let has_video = cfg.media.video.codec == VideoCodec::Mjpeg;
        let has_audio = cfg.media.audio.codec == AudioCodec::Opus;
        let remote_ip = crate::wire::canonical_ip(cfg.remote_ip);
        let at = |port| SocketAddr::new(remote_ip, port);
        let video =
            has_video.then(|| Stream::new(VIDEO_CLOCK_RATE, at(cfg.remote_ports.video), &mut rng));
        let audio =
            has_audio.then(|| Stream::new(OPUS_CLOCK_RATE, at(cfg.remote_ports.audio), &mut rng));
        // From a stream of their own, so the session's SSRCs and RTCP timing
        // stay what a seed always gave them.
        let mut rtx_rng = Rng::new(cfg.seed ^ 0x5254_5800_0000_0000);
        let rtx_ssrc = rtx_rng.u32();
        let rtx_seq = rtx_rng.u32() as u16;
        let fec_ssrc = rtx_rng.u32();
        let fec_seq = rtx_rng.u32() as u16;
        let (srtp_out, srtp_in) = protect::contexts(cfg.srtp.as_ref());
        MediaSession {
            cname: cfg.cname,
            rng,
            epoch: now,
            wallclock: cfg.wallclock,
            send_video: cfg.send_video && has_video,
            send_audio: cfg.send_audio && has_audio,
            video,
            audio,
            video_in: VideoIn::new(cfg.feedback),
            audio_in: AudioIn::new(cfg.playout),
            outputs: Outputs(VecDeque::new(), srtp_out),
            srtp_in,
            quality: Quality::default(),
            closed: false,
            fps: u32::from(cfg.media.video.fps.max(1)),
            history: SendHistory::default(),
            rtx_ssrc,
            rtx_seq,
            rtx_source: None,
            nack: NackTracker::default(),
            loss_rate: 0.0,
            last_loss: None,
            repaired_frames: VecDeque::new(),
            newest_frame: None,
            newest_has_end: false,
            last_video_at: None,
            rate: RateControl::new(),
            overuse: OveruseDetector::default(),
            cap_request: None,
            feedback: cfg.feedback,
            last_shown: None,
            allowance_at: None,
            audio_loss: None,
            fec_out: FecEncoder::new(fec_ssrc, fec_seq),
            fec_group: Vec::new(),
            fec_k: None,
            fec_in: FecDecoder::new(),
            fec_source: None,
        }
    }

    /// What the video sender should do now: JPEG quality, frame-rate
    /// divisor and picture scale, from the rate control. A shell asks
    /// before capturing each frame, skips the frames
    /// [`VideoTarget::takes`] refuses, and encodes the rest as it says.
    pub fn video_target(&self) -> VideoTarget {
        self.rate.target()
    }

    /// Whether this session carries a stream of this kind.
    pub fn has(&self, kind: StreamKind) -> bool {
        self.stream(kind).is_some()
    }

    /// Whether the shell should capture and send this kind of media.
    pub fn sends(&self, kind: StreamKind) -> bool {
        match kind {
            StreamKind::Video => self.send_video,
            StreamKind::Audio => self.send_audio,
        }
    }

    /// Our RTCP CNAME.
    pub fn cname(&self) -> &str {
        &self.cname
    }

    fn stream(&self, kind: StreamKind) -> Option<&Stream> {
        match kind {
            StreamKind::Video => self.video.as_ref(),
            StreamKind::Audio => self.audio.as_ref(),
        }
    }

    #[cfg(test)]
    fn stream_mut(&mut self, kind: StreamKind) -> Option<&mut Stream> {
        pick(&mut self.video, &mut self.audio, kind)
    }

    /// The wallclock at `at`, as NTP microseconds.
    fn wallclock_us(&self, at: Instant) -> i64 {
        ntp_to_us(self.ntp(at))
    }

    fn ntp(&self, at: Instant) -> u64 {
        let since = signed_secs(at, self.epoch);
        let wall = if since >= 0.0 {
            self.wallclock + Duration::from_secs_f64(since)
        } else {
            self.wallclock
                .saturating_sub(Duration::from_secs_f64(-since))
        };
        ntp_from_unix(wall)
    }

    /// Sends a captured video frame: RFC 2435 packets, then the stream's
    /// RTCP if due (the first report goes out with the first frame). An
    /// image RTP/JPEG cannot carry is refused and nothing is sent.
    pub fn send_video_frame(
        &mut self,
        now: Instant,
        frame: VideoFrame<'_>,
    ) -> Result<(), JpegError> {
        if !self.send_video || self.closed {
            return Ok(());
        }
        // With FEC on, packets leave room for the repair packet's headers.
        let payload_len = match self.fec_k {
            Some(_) => MAX_PROTECTED_PACKET_LEN - crate::media::rtp::RTP_HEADER_LEN,
            None => MAX_RTP_PAYLOAD_LEN,
        };
        let fragments = packetize(frame.jpeg, payload_len)?;
        let Some(s) = self.video.as_mut() else {
            return Ok(());
        };
        // Rounded, not truncated: a capture exactly 0.6 s in is 0.59999..
        // as a float, and truncating made frame steps wobble by a tick.
        let ticks = (signed_secs(frame.captured, self.epoch) * f64::from(VIDEO_CLOCK_RATE)).round();
        let ts = s.tx.ts_origin.wrapping_add(ticks as i64 as u32);
        let mut bytes_sent = 0;
        for f in fragments {
            let h = s.next_header(PT_JPEG, f.marker, ts);
            let packet = h.to_bytes(&f.payload);
            bytes_sent += packet.len();
            self.history.push(now, h.sequence, packet.clone());
            if self.fec_k.is_some() {
                self.fec_group.push(packet.clone());
            }
            self.outputs.transmit(StreamKind::Video, s.remote, packet);
            s.sent(now, frame.captured, ts, f.payload.len());
            let full = self.fec_k.is_some_and(|k| self.fec_group.len() >= k);
            // A group ends with its frame too, so a repair is never waiting
            // for the next frame's packets.
            if full || (f.marker && !self.fec_group.is_empty()) {
                let group: Vec<&[u8]> = self.fec_group.iter().map(Vec::as_slice).collect();
                match self.fec_out.protect(&group, ts) {
                    Ok(repair) => {
                        self.quality.repair.fec_packets_sent += 1;
                        self.quality.repair.fec_bytes_sent += repair.len() as u64;
                        self.rate.frame_sent_repair(now, repair.len());
                        self.outputs.transmit(StreamKind::Video, s.remote, repair);
                    }
                    Err(e) => log::debug!("no FEC for a group: {e}"),
                }
                self.fec_group.clear();
            }
        }
        self.quality.repair.media_bytes_sent += bytes_sent as u64;
        self.rate.frame_sent(now, bytes_sent, self.fps);
        self.quality.video_frames_sent += 1;
        if frame.from_camera {
            let lat = now.saturating_duration_since(frame.captured).as_micros() as u64;
            keep(&mut self.quality.capture_to_send_us, lat);
        }
        self.rtcp_if_due(now, StreamKind::Video);
        Ok(())
    }

    /// Sends one 20 ms Opus frame whose first sample was captured at
    /// `captured`, then the stream's RTCP if due.
    pub fn send_audio_frame(&mut self, now: Instant, captured: Instant, opus: &[u8]) {
        if !self.send_audio || self.closed {
            return;
        }
        let frames_sent = self.quality.audio_frames_sent;
        let Some(s) = self.audio.as_mut() else {
            return;
        };
        // Opus timestamps count samples: each frame is 960 on from the last.
        let ts = s.tx.ts_origin.wrapping_add(
            (frames_sent as u32).wrapping_mul(crate::media::jitter::OPUS_20MS.frame_ts),
        );
        let h = s.next_header(PT_OPUS, frames_sent == 0, ts);
        self.outputs
            .transmit(StreamKind::Audio, s.remote, h.to_bytes(opus));
        s.sent(now, captured, ts, opus.len());
        self.quality.audio_frames_sent += 1;
        self.rtcp_if_due(now, StreamKind::Audio);
    }

    /// When a video frame with RTP time `ts` should be shown: at most
    /// [`sync::MAX_VIDEO_LEAD`] ahead of its sound. `None` while the streams
    /// cannot be related (no sender reports yet, or no sound playing).
    fn video_due(&self, ts: u32) -> Option<Instant> {
        let (audio_ts, heard) = self.audio_in.playing?;
        let audio = &self.audio.as_ref()?.rx.clock;
        let video = &self.video.as_ref()?.rx.clock;
        sync::video_due(audio, audio_ts, heard, video, ts, sync::MAX_VIDEO_LEAD)
    }

    /// Shows the held frames that are due.
    fn show_due(&mut self, now: Instant) {
        // The sound may have been stretched since a frame's time was set:
        // a frame due now whose sound is a frame or two later waits for it.
        if let Some(ts) = self.video_in.front_due(now) {
            if let Some(sync) = self.video_due(ts).filter(|&t| t > now) {
                if sync - now <= AUDIO_FRAME * 2 {
                    self.video_in.postpone_front(sync);
                    return;
                }
            }
        }
        while let Some(frame) = self.video_in.due(now) {
            self.quality.video_frames_shown += 1;
            if let Some(last) = self.last_shown {
                let gap = now.saturating_duration_since(last);
                self.quality.video_longest_freeze = self.quality.video_longest_freeze.max(gap);
            }
            self.last_shown = Some(now);
            let now_us = self.wallclock_us(now);
            let mut captured_at = None;
            if let Some(v) = self.video.as_ref().map(|s| &s.rx.clock) {
                if let Some(captured) = v.wallclock_us(frame.timestamp) {
                    let lat = now_us - captured;
                    if (0..MAX_PLAUSIBLE_LATENCY.as_micros() as i64).contains(&lat) {
                        keep(&mut self.quality.video_latency_us, lat as u64);
                        captured_at = now.checked_sub(Duration::from_micros(lat as u64));
                    }
                }
                if let (Some((audio_ts, heard)), Some(a)) =
                    (self.audio_in.playing, self.audio.as_ref())
                {
                    // The sound playing now, extrapolated from the frame last handed out.
                    let ticks = signed_secs(now, heard) * f64::from(OPUS_CLOCK_RATE);
                    let audio_now = audio_ts.wrapping_add(ticks as i64 as u32);
                    if let Some(skew) = sync::skew_us(&a.rx.clock, audio_now, v, frame.timestamp) {
                        keep(&mut self.quality.skew_us, skew);
                    }
                }
            }
            self.outputs.push(Output::Show(Show {
                frame,
                captured: captured_at,
            }));
        }
    }

    /// Takes the next audio frame for the speaker, to be heard at `heard`.
    fn play(&mut self, heard: Instant) {
        let (playout, timestamp) = self.audio_in.pop();
        if playout != Playout::Waiting {
            if let Some(ts) = timestamp {
                self.audio_in.playing = Some((ts, heard));
                let captured = self
                    .audio
                    .as_ref()
                    .and_then(|a| a.rx.clock.wallclock_us(ts));
                if let Some(captured) = captured {
                    let lat = self.wallclock_us(heard) - captured;
                    if (0..MAX_PLAUSIBLE_LATENCY.as_micros() as i64).contains(&lat) {
                        keep(&mut self.quality.audio_latency_us, lat as u64);
                    }
                }
            }
        }
        self.outputs.push(Output::Play(Play { playout, timestamp }));
    }

    /// With [`PlayoutClock::Sink`]: the sink wants its next frame, which it
    /// will play after the `queued` sound it already holds. The frame comes
    /// out of [`MediaSession::poll_output`] as [`Output::Play`].
    pub fn pull_audio(&mut self, now: Instant, queued: Duration) {
        if self.audio.is_some() && !self.closed {
            self.play(now + queued);
        }
    }

    fn rtcp_if_due(&mut self, now: Instant, kind: StreamKind) {
        let ntp_now = self.ntp(now);
        let Some(s) = pick(&mut self.video, &mut self.audio, kind) else {
            return;
        };
        if s.next_rtcp.is_none_or(|at| at > now) {
            return;
        }
        s.next_rtcp = Some(now + self.rng.rtcp_interval(RTCP_INTERVAL));
        let bytes = s.compound(now, ntp_now, &self.cname, false);
        self.outputs.transmit(kind, s.remote, bytes);
    }

    /// Time has come: RTCP reports due, held video frames due, audio
    /// frames due on the session's playout clock.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        self.rtcp_if_due(now, StreamKind::Video);
        self.rtcp_if_due(now, StreamKind::Audio);
        self.update_allowance(now);
        self.feedback_if_due(now);
        while self.audio_in.next_tick().is_some_and(|t| t <= now) {
            self.play(now);
        }
        self.show_due(now);
    }

    /// When [`MediaSession::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        [
            self.video.as_ref().and_then(|s| s.next_rtcp),
            self.audio.as_ref().and_then(|s| s.next_rtcp),
            self.audio_in.next_tick(),
            self.video_in.next_due(),
            self.nack_due(),
            self.cap_request.map(|_| self.epoch),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next thing to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.0.pop_front()
    }

    /// The call ended: each stream that sent or heard anything says RTCP BYE
    /// (after a last report, RFC 3550 6.6). Nothing more is sent or played.
    pub fn close(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        self.closed = true;
        let ntp_now = self.ntp(now);
        for kind in [StreamKind::Video, StreamKind::Audio] {
            let Some(s) = pick(&mut self.video, &mut self.audio, kind) else {
                continue;
            };
            if s.next_rtcp.is_none() {
                continue;
            }
            let bytes = s.compound(now, ntp_now, &self.cname, true);
            self.outputs.transmit(kind, s.remote, bytes);
        }
    }

    /// The figures a call screen shows while the call runs, cheap enough to
    /// ask for every second (no percentiles are computed).
    pub fn live(&self) -> Live {
        let (mut lost, mut expected) = (0i64, 0u64);
        for s in [&self.video, &self.audio].into_iter().flatten() {
            lost += s.rx.stats.lost();
            expected += s.rx.stats.expected();
        }
        Live {
            video_frames_shown: self.quality.video_frames_shown,
            packets_lost: lost,
            packets_expected: expected,
            // The report's choice: audio's RTT when it has one.
            rtt: self
                .audio
                .as_ref()
                .and_then(|a| a.rtt)
                .or(self.video.as_ref().and_then(|v| v.rtt)),
        }
    }

    /// The quality report so far, as of `now`.
    pub fn report(&self, now: Instant) -> Quality {
        let mut q = self.quality.clone();
        q.duration = now.saturating_duration_since(self.epoch);
        q.video_frames_received = self.video_in.received;
        q.video_frames_superseded = self.video_in.superseded;
        q.video_frames_unfinished =
            (self.video_in.held.len() + self.video_in.assembler.incomplete_frames()) as u64;
        let asm = self.video_in.assembler.stats();
        q.video_frames_incomplete = asm.frames_dropped_incomplete;
        q.audio = self.audio_in.buffer.stats().clone();
        q.repair.nacks_sent = self.nack.nacks_sent;
        q.repair.packets_asked = self.nack.packets_asked;
        q.repair.frames_lost = asm.frames_dropped_incomplete;
        q.repair.playout_allowance = self.video_in.repair_allowance();
        let target = self.rate.target();
        q.rate = RateStats {
            target_kbps: self.rate.decisions.clone(),
            quality: target.quality,
            fps: self.fps / target.fps_divisor.max(1),
            scale: target.scale,
            audio_bitrate: self.audio_target().bitrate,
            audio_expected_loss_percent: self.audio_target().expected_loss_percent,
        };
        if let Some(v) = &self.video {
            q.video_lost = v.rx.stats.lost();
            q.video_jitter = v.rx.stats.jitter_duration();
            q.rtt = v.rtt;
        }
        if let Some(a) = &self.audio {
            q.audio_lost = a.rx.stats.lost();
            q.audio_jitter = a.rx.stats.jitter_duration();
            q.rtt = a.rtt.or(q.rtt);
        }
        q
    }
}
