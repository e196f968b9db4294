//! The media of an established call: threads that capture (synthetic test
//! pattern and tone), encode (JPEG from YUV, Opus) and send RTP to the ports
//! the other side announced, and threads that receive RTP on our ports,
//! reassemble, buffer, decode and write to the sinks, until the call ends.
//! Everything protocol-shaped is the library's (RTP, RFC 2435, jitter buffer,
//! statistics, impairment); this module wires it to sockets, clocks and files.

use crate::devices::camera::{Camera, CameraStream, CaptureFailure, Captured};
use crate::devices::sound;
use peercall::media::capture::{raw_to_i420, PixelFormat};
use peercall::media::impair::{ImpairConfig, Impairment};
use peercall::media::jitter::{JitterBuffer, JitterStats, Playout, OPUS_20MS};
use peercall::media::jpeg::{packetize, FrameAssembler, JpegFrame};
use peercall::media::mjpeg;
use peercall::media::pattern::{draw, read, Stamp, Yuv420};
use peercall::media::rtp::{
    classify, duration_to_ntp_short, ntp_from_unix, ntp_middle_32, Kind, ReportBlock, Rtcp,
    RtpHeader, Sdes, SenderReport, MAX_RTP_PAYLOAD_LEN, OPUS_CLOCK_RATE, PT_JPEG, PT_OPUS,
    VIDEO_CLOCK_RATE,
};
use peercall::media::stats::ReceiverStats;
use peercall::media::sync::{self, ntp_to_us, RtpClock};
use peercall::media::tone::Tone;
use peercall::wire::{AudioCodec, MediaDescription, MediaPorts, VideoCodec};
use peercall_codecs::jpeg::{YuvJpegDecoder, YuvJpegEncoder, DEFAULT_QUALITY};
use peercall_codecs::opus::{VoiceDecoder, VoiceEncoder, FRAME_SAMPLES};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, ErrorKind, Write};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How often a receive thread looks at its impairment queue when
/// `--impair` holds packets back (the queue has no wake-up of its own).
pub const IMPAIR_TICK: Duration = Duration::from_millis(5);
/// Longest a receive thread blocks with nothing due. Stopping wakes it at
/// once with a datagram; this bounds the wait should that datagram be lost.
pub const RECV_IDLE: Duration = Duration::from_millis(50);
/// Shortest receive timeout (zero would mean block forever).
const MIN_RECV_WAIT: Duration = Duration::from_micros(200);
/// Largest datagram read.
const MAX_DATAGRAM: usize = 2048;
/// How often each stream sends an RTCP sender report (with a reception
/// report about the other direction).
pub const RTCP_INTERVAL: Duration = Duration::from_secs(1);
/// Complete video frames held back to meet the sound they belong to; beyond
/// this the oldest is dropped, so video delay cannot build up (200 ms at 30 fps).
pub const MAX_VIDEO_HOLD: usize = 6;
/// Audio latency readings outside this are clock trouble, not latency.
const MAX_PLAUSIBLE_LATENCY_US: i64 = 10_000_000;
/// The bits of the capture time a pattern stamp carries.
const STAMP_TIME_MASK: u64 = (1 << 48) - 1;
/// One Opus frame.
const AUDIO_FRAME: Duration = Duration::from_millis(20);

/// Where the picture comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoSource {
    /// The moving test pattern with frame number and capture time.
    Test,
    /// A V4L2 camera (`v4l2:/dev/videoN`).
    Camera(PathBuf),
    /// The JPEG images of an MJPEG file, sent as they are, looped.
    File(PathBuf),
    /// No video is sent.
    None,
}

/// Where the sound comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioSource {
    /// The 440 Hz tone with a mark every second.
    Tone,
    /// An ALSA capture device (`alsa:DEVICE`, e.g. `alsa:default`).
    Alsa(String),
    /// A 48 kHz 16-bit WAV file (stereo is mixed down), looped.
    Wav(PathBuf),
    /// No audio is sent.
    None,
}

/// Largest MJPEG file a video source reads (it is held in memory).
pub const MAX_MJPEG_FILE: u64 = 256 * 1024 * 1024;
/// Longest WAV file an audio source reads (held in memory): ten minutes.
pub const MAX_WAV_SECONDS: u32 = 600;

/// Reads an MJPEG file for `--video file:PATH`: its images, each checked to
/// be one RTP/JPEG can carry. The error is one sentence for the user.
pub fn load_mjpeg(path: &Path) -> Result<Vec<Vec<u8>>, String> {
    let shown = path.display();
    let len = std::fs::metadata(path)
        .map_err(|e| format!("cannot read {shown}: {e}"))?
        .len();
    if len > MAX_MJPEG_FILE {
        return Err(format!(
            "{shown} is {len} bytes; a video file may be at most {MAX_MJPEG_FILE}"
        ));
    }
    let data = std::fs::read(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let frames: Vec<Vec<u8>> = mjpeg::images(&data).map(<[u8]>::to_vec).collect();
    let Some(first) = frames.first() else {
        return Err(format!(
            "{shown} holds no JPEG image; give an MJPEG file (e.g. from ffmpeg -f mjpeg)"
        ));
    };
    packetize(first, MAX_RTP_PAYLOAD_LEN).map_err(|e| {
        format!("{shown}: {e}; RTP/JPEG needs baseline JPEG with standard Huffman tables (ffmpeg: -huffman default -pix_fmt yuvj420p)")
    })?;
    Ok(frames)
}

/// Reads a WAV file for `--audio-in wav:PATH`: 48 kHz, 16-bit, mono or
/// stereo (mixed down). The error is one sentence for the user.
pub fn load_wav(path: &Path) -> Result<Vec<i16>, String> {
    let shown = path.display();
    let mut r = hound::WavReader::open(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let spec = r.spec();
    if spec.sample_rate != 48_000
        || spec.bits_per_sample != 16
        || spec.sample_format != hound::SampleFormat::Int
        || !(1..=2).contains(&spec.channels)
    {
        return Err(format!(
            "{shown} is {} Hz, {}-bit, {} channel(s); give 48000 Hz 16-bit mono or stereo (sox IN -r 48000 -b 16 OUT.wav)",
            spec.sample_rate, spec.bits_per_sample, spec.channels
        ));
    }
    if r.duration() > 48_000 * MAX_WAV_SECONDS {
        return Err(format!("{shown} is longer than {MAX_WAV_SECONDS} s"));
    }
    let samples: Result<Vec<i16>, _> = r.samples::<i16>().collect();
    let samples = samples.map_err(|e| format!("cannot read {shown}: {e}"))?;
    let mono: Vec<i16> = if spec.channels == 2 {
        samples
            .chunks_exact(2)
            .map(|c| ((i32::from(c[0]) + i32::from(c[1])) / 2) as i16)
            .collect()
    } else {
        samples
    };
    if mono.len() < FRAME_SAMPLES {
        return Err(format!("{shown} is shorter than one 20 ms frame"));
    }
    Ok(mono)
}

/// Where received video goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoSink {
    /// Discarded (still counted and measured).
    Null,
    /// Appended as an MJPEG stream (ffmpeg and ffplay read it).
    File(PathBuf),
}

/// Where received audio goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioSink {
    /// Discarded (still decoded, counted and measured).
    Null,
    /// A 48 kHz mono 16-bit WAV file.
    Wav(PathBuf),
    /// An ALSA playback device (`alsa:DEVICE`); its clock paces playout.
    Alsa(String),
}

/// The media choices of a peer.
#[derive(Debug, Clone)]
pub struct MediaOptions {
    /// Picture source.
    pub video: VideoSource,
    /// Sound source.
    pub audio: AudioSource,
    /// Picture sink.
    pub video_out: VideoSink,
    /// Sound sink.
    pub audio_out: AudioSink,
    /// A seeded impairment applied to what this peer receives.
    pub impair: Option<ImpairConfig>,
    /// Print the quality report as one JSON object as well.
    pub report_json: bool,
    /// JPEG quality (1 to 100) of the test pattern's frames.
    pub jpeg_quality: u8,
    /// Where a copy of the received streams goes, for a player
    /// (`--forward`): video RTP to this port, its RTCP to the next, audio
    /// RTP two ports up, its RTCP three up (RFC 3550's even/odd pairs).
    pub forward: Option<SocketAddr>,
    /// Where to write the SDP description of the forwarded streams (`--sdp`).
    pub sdp: Option<PathBuf>,
    /// The picture size asked for (`--size`; a camera gives the closest it has).
    pub size: (u16, u16),
    /// The frame rate asked for (`--fps`).
    pub fps: u8,
    /// `--no-video`: no video stream at all, either way.
    pub no_video: bool,
    /// `--no-audio`: no audio stream at all, either way.
    pub no_audio: bool,
    /// `--camera-format`: capture only in this pixel format.
    pub camera_format: Option<PixelFormat>,
    /// The video source was not given and no camera was found: say so.
    pub video_defaulted: bool,
    /// The sound source or sink was not given and there is no sound card:
    /// the tone and a null speaker stand in, and the peer says so.
    pub audio_defaulted: bool,
    /// The video source was not given and is the default camera: if it
    /// cannot be opened, fall back to the test pattern rather than fail.
    pub video_auto: bool,
}

/// The picture size a call asks for unless told otherwise.
pub const DEFAULT_SIZE: (u16, u16) = (640, 480);
/// The frame rate a call asks for unless told otherwise.
pub const DEFAULT_FPS: u8 = 30;
/// The highest frame rate `--fps` takes.
pub const MAX_FPS: u8 = 60;
/// The camera `peercall run` and `call` use when `--video` is not given.
pub const DEFAULT_CAMERA: &str = "/dev/video0";

impl MediaOptions {
    /// What this peer offers and accepts in a call: `base` (codecs and audio
    /// format) with the asked-for picture, minus the streams turned off.
    pub fn offer(&self, base: MediaDescription) -> MediaDescription {
        let mut m = base;
        m.video.width = self.size.0;
        m.video.height = self.size.1;
        m.video.fps = self.fps;
        if self.no_video {
            m.video = peercall::call::negotiate::NO_VIDEO;
        }
        if self.no_audio {
            m.audio = peercall::call::negotiate::NO_AUDIO;
        }
        m
    }
}

impl Default for MediaOptions {
    fn default() -> Self {
        MediaOptions {
            video: VideoSource::Test,
            audio: AudioSource::Tone,
            video_out: VideoSink::Null,
            audio_out: AudioSink::Null,
            impair: None,
            report_json: false,
            jpeg_quality: DEFAULT_QUALITY,
            forward: None,
            sdp: None,
            size: DEFAULT_SIZE,
            fps: DEFAULT_FPS,
            no_video: false,
            no_audio: false,
            video_defaulted: false,
            camera_format: None,
            video_auto: false,
            audio_defaulted: false,
        }
    }
}

/// What a call's media did, for the quality report.
#[derive(Debug, Clone, Default)]
pub struct Quality {
    /// Video frames sent.
    pub video_frames_sent: u64,
    /// Video frames received complete.
    pub video_frames_received: u64,
    /// Video frames dropped because packets were missing.
    pub video_frames_incomplete: u64,
    /// Video frames shown (written to the sink) in step with the sound.
    pub video_frames_shown: u64,
    /// Complete frames dropped because newer ones were already waiting.
    pub video_frames_superseded: u64,
    /// The sound card's own counts: capture overruns and playback
    /// underruns recovered, when ALSA devices were used.
    pub sound_overruns: Option<u64>,
    /// Playback underruns recovered.
    pub sound_underruns: Option<u64>,
    /// Camera frames: from the driver's capture timestamp to the frame's
    /// last packet sent, in µs.
    pub capture_to_send_us: Vec<u64>,
    /// Capture-to-playout latency of each shown video frame, in µs.
    pub video_latency_us: Vec<u64>,
    /// Capture-to-playout latency of played audio frames, in µs.
    pub audio_latency_us: Vec<u64>,
    /// Audio/video skew at each shown frame, in µs (positive: picture ahead).
    pub skew_us: Vec<i64>,
    /// Audio frames sent.
    pub audio_frames_sent: u64,
    /// Jitter buffer counters.
    pub audio: JitterStats,
    /// Packets lost on the video stream.
    pub video_lost: i64,
    /// Packets lost on the audio stream.
    pub audio_lost: i64,
    /// Video interarrival jitter.
    pub video_jitter: Duration,
    /// Audio interarrival jitter.
    pub audio_jitter: Duration,
    /// Packets from addresses other than the negotiated ones, dropped.
    pub foreign_dropped: u64,
    /// Round-trip time measured by RTCP on the audio stream (or video if no audio).
    pub rtt: Option<Duration>,
    /// How long media ran.
    pub duration: Duration,
    /// How long stopping took, from the end of the call to every thread joined.
    pub stop_time: Duration,
}

/// What one stream's sending and receiving threads share: counts and clock
/// for our sender reports, reception statistics and the other side's last
/// sender report for our reception reports, and the measured round trip.
struct StreamState {
    clock_rate: u32,
    local_ssrc: u32,
    packets: u32,
    octets: u32,
    /// When the last packet's content was captured, and its RTP timestamp.
    anchor: Option<(Instant, u32)>,
    remote_ssrc: Option<u32>,
    stats: ReceiverStats,
    /// Middle 32 bits of the other side's last SR's NTP time, and when it arrived.
    last_sr: Option<(u32, Instant)>,
    rtt: Option<Duration>,
    /// The other side's RTP-to-wallclock mapping, from its sender reports.
    clock: RtpClock,
}

type Shared = Arc<Mutex<StreamState>>;

impl StreamState {
    fn new(clock_rate: u32) -> Shared {
        Arc::new(Mutex::new(StreamState {
            clock_rate,
            local_ssrc: random_u32(),
            packets: 0,
            octets: 0,
            anchor: None,
            remote_ssrc: None,
            stats: ReceiverStats::new(clock_rate),
            last_sr: None,
            rtt: None,
            clock: RtpClock::new(clock_rate),
        }))
    }

    fn sent(&mut self, captured: Instant, ts: u32, payload_len: usize) {
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(payload_len as u32);
        self.anchor = Some((captured, ts));
    }

    /// The compound RTCP packet to send now: SR (with a reception report
    /// about the other direction once it has been heard) and SDES CNAME.
    fn report(&mut self, now: Instant, ntp_now: u64) -> Option<Vec<u8>> {
        let (at, ts) = self.anchor?;
        let rtp_now = ts.wrapping_add(
            (now.saturating_duration_since(at).as_secs_f64() * f64::from(self.clock_rate)) as u32,
        );
        let mut reports = Vec::new();
        if let Some(remote) = self.remote_ssrc {
            let r = self.stats.report();
            let (lsr, dlsr) = match self.last_sr {
                Some((mid, arrived)) => (
                    mid,
                    duration_to_ntp_short(now.saturating_duration_since(arrived)),
                ),
                None => (0, 0),
            };
            reports.push(ReportBlock {
                ssrc: remote,
                fraction_lost: r.fraction_lost,
                cumulative_lost: r.cumulative_lost,
                highest_seq: r.extended_highest_seq,
                jitter: r.jitter,
                last_sr: lsr,
                delay_since_last_sr: dlsr,
            });
        }
        let packets = [
            Rtcp::SenderReport(SenderReport {
                ssrc: self.local_ssrc,
                ntp_time: ntp_now,
                rtp_time: rtp_now,
                packet_count: self.packets,
                octet_count: self.octets,
                reports,
            }),
            Rtcp::Sdes(Sdes::with_cname(self.local_ssrc, "peercall")),
        ];
        let mut buf = vec![0u8; Rtcp::compound_len(&packets)];
        let n = Rtcp::emit_compound(&packets, &mut buf);
        buf.truncate(n);
        Some(buf)
    }

    /// An RTCP compound arrived from the other side.
    fn received_rtcp(&mut self, now: Instant, ntp_now: u64, datagram: &[u8]) {
        let Ok(packets) = Rtcp::parse_compound(datagram) else {
            log::debug!("malformed RTCP dropped");
            return;
        };
        for p in packets {
            let blocks = match p {
                Rtcp::SenderReport(sr) => {
                    self.last_sr = Some((ntp_middle_32(sr.ntp_time), now));
                    self.clock.sender_report(sr.ntp_time, sr.rtp_time);
                    sr.reports
                }
                Rtcp::ReceiverReport(rr) => rr.reports,
                _ => continue,
            };
            for b in blocks.iter().filter(|b| b.ssrc == self.local_ssrc) {
                if let Some(rtt) = b.round_trip(ntp_now) {
                    self.rtt = Some(rtt);
                }
            }
        }
    }
}

fn ntp_now() -> u64 {
    ntp_from_unix(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default(),
    )
}

/// The session's stop signal. Threads sleep on it until their next frame is
/// due rather than polling, so an idle call costs no wake-ups, and setting
/// it wakes them at once.
struct Stop {
    set: Mutex<bool>,
    wake: Condvar,
}

impl Stop {
    fn new() -> Arc<Stop> {
        Arc::new(Stop {
            set: Mutex::new(false),
            wake: Condvar::new(),
        })
    }

    fn is_set(&self) -> bool {
        self.set.lock().map_or(true, |s| *s)
    }

    fn set(&self) {
        if let Ok(mut s) = self.set.lock() {
            *s = true;
        }
        self.wake.notify_all();
    }

    /// Sleeps until `at` unless stopped first; false when stopped.
    fn sleep_until(&self, at: Instant) -> bool {
        let Ok(mut set) = self.set.lock() else {
            return false;
        };
        loop {
            if *set {
                return false;
            }
            let now = Instant::now();
            if now >= at {
                return true;
            }
            match self.wake.wait_timeout(set, at - now) {
                Ok((s, _)) => set = s,
                Err(_) => return false,
            }
        }
    }
}

/// Received audio between the receive thread and the playout clock, with a
/// signal for each arrival so playout can start the moment the buffer fills.
struct AudioIn {
    buffer: Mutex<JitterBuffer>,
    arrived: Condvar,
}

/// Where one received stream's copy goes (`--forward`): every RTP packet and
/// every RTCP compound that the call's peer sent, as they are, so a player
/// gets the same timestamps and sender reports (for its own lip sync). The
/// player's answers come back to a socket nobody reads; they are not needed.
#[derive(Clone)]
struct Forward {
    sock: Arc<UdpSocket>,
    rtp: SocketAddr,
    rtcp: SocketAddr,
}

impl Forward {
    /// The copies of both streams for a player at `base` (video at `base`,
    /// audio two ports up).
    fn pair(base: SocketAddr) -> std::io::Result<(Forward, Forward)> {
        let any: IpAddr = match base {
            SocketAddr::V4(_) => IpAddr::from([0, 0, 0, 0]),
            SocketAddr::V6(_) => IpAddr::from(std::net::Ipv6Addr::UNSPECIFIED),
        };
        let sock = Arc::new(UdpSocket::bind(SocketAddr::new(any, 0))?);
        let at = |offset: u16| SocketAddr::new(base.ip(), base.port().saturating_add(offset));
        Ok((
            Forward {
                sock: sock.clone(),
                rtp: at(0),
                rtcp: at(1),
            },
            Forward {
                sock,
                rtp: at(2),
                rtcp: at(3),
            },
        ))
    }

    fn send(&self, to: SocketAddr, datagram: &[u8]) {
        if let Err(e) = self.sock.send_to(datagram, to) {
            log::debug!("forward to {to} failed: {e}");
        }
    }
}

/// The running media of one call.
pub struct MediaSession {
    stop: Arc<Stop>,
    /// Clones of the receive sockets, to wake their blocked threads on stop.
    receivers: Vec<UdpSocket>,
    audio_in: Option<Arc<AudioIn>>,
    threads: Vec<JoinHandle<()>>,
    quality: Arc<Mutex<Quality>>,
    video: Shared,
    audio: Shared,
    started: Instant,
}

/// The sockets and addresses of a call's media.
pub struct Endpoints {
    /// Our audio socket (we receive on it and send from it).
    pub audio: UdpSocket,
    /// Our video socket.
    pub video: UdpSocket,
    /// The other side's IP.
    pub remote_ip: IpAddr,
    /// The other side's receive ports.
    pub remote: MediaPorts,
    /// The negotiated media.
    pub media: MediaDescription,
}

fn wallclock_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn percentile(sorted: &[u64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted.get(i).map(|&v| v as f64 / 1000.0)
}

/// The percentiles the reports show, in milliseconds.
struct Percentiles {
    /// Video latency p50, p95.
    video: (Option<f64>, Option<f64>),
    /// Audio latency p50, p95.
    audio: (Option<f64>, Option<f64>),
    /// Skew p5, p50, p95.
    skew: (Option<f64>, Option<f64>, Option<f64>),
    /// Camera capture-to-send p50, p95.
    capture: (Option<f64>, Option<f64>),
}

impl Quality {
    fn percentiles(&self) -> Percentiles {
        let sorted = |v: &[u64]| {
            let mut v = v.to_vec();
            v.sort_unstable();
            v
        };
        let (vlat, alat, cap) = (
            sorted(&self.video_latency_us),
            sorted(&self.audio_latency_us),
            sorted(&self.capture_to_send_us),
        );
        let mut skew = self.skew_us.clone();
        skew.sort_unstable();
        let skew_at = |p: f64| {
            (!skew.is_empty()).then(|| {
                let i = ((skew.len() - 1) as f64 * p).round() as usize;
                skew[i] as f64 / 1000.0
            })
        };
        Percentiles {
            video: (percentile(&vlat, 0.5), percentile(&vlat, 0.95)),
            audio: (percentile(&alat, 0.5), percentile(&alat, 0.95)),
            skew: (skew_at(0.05), skew_at(0.5), skew_at(0.95)),
            capture: (percentile(&cap, 0.5), percentile(&cap, 0.95)),
        }
    }

    /// The report printed when a call ends.
    pub fn lines(&self, peer: &str) -> Vec<String> {
        let secs = self.duration.as_secs_f64().max(1e-3);
        let p = self.percentiles();
        let skew_ms = |v: Option<f64>| v.map_or("n/a".to_string(), |x| format!("{x:+.1} ms"));
        let ms = |v: Option<f64>| v.map_or("n/a".to_string(), |x| format!("{x:.1} ms"));
        let a = &self.audio;
        let mut lines = vec![
            format!(
                "quality report (call with {peer}, media {secs:.1} s, stopped in {:.0} ms):",
                self.stop_time.as_secs_f64() * 1000.0
            ),
            format!(
                "  video: sent {} frames ({:.1} fps), received {} ({:.1} fps), shown {}, dropped incomplete {}, superseded {}; capture-to-playout latency p50 {} p95 {}",
                self.video_frames_sent,
                self.video_frames_sent as f64 / secs,
                self.video_frames_received,
                self.video_frames_received as f64 / secs,
                self.video_frames_shown,
                self.video_frames_incomplete,
                self.video_frames_superseded,
                ms(p.video.0),
                ms(p.video.1),
            ),
            format!(
                "  audio: sent {} frames, played {}, concealed {} (FEC {}, PLC {}), late {}, duplicates {}; capture-to-playout latency p50 {} p95 {}",
                self.audio_frames_sent,
                a.played,
                a.concealed_fec + a.concealed_plc,
                a.concealed_fec,
                a.concealed_plc,
                a.late,
                a.duplicates,
                ms(p.audio.0),
                ms(p.audio.1),
            ),
            format!(
                "  sync: audio/video skew p5 {} p50 {} p95 {} (positive: picture ahead of sound)",
                skew_ms(p.skew.0),
                skew_ms(p.skew.1),
                skew_ms(p.skew.2)
            ),
            format!(
                "  network: packets lost video {} audio {}; interarrival jitter video {:.1} ms audio {:.1} ms; RTT {}; foreign packets dropped {}",
                self.video_lost,
                self.audio_lost,
                self.video_jitter.as_secs_f64() * 1000.0,
                self.audio_jitter.as_secs_f64() * 1000.0,
                ms(self.rtt.map(|d| d.as_secs_f64() * 1000.0)),
                self.foreign_dropped
            ),
        ];
        if self.sound_overruns.is_some() || self.sound_underruns.is_some() {
            let n = |v: Option<u64>| v.map_or("n/a".to_string(), |x| x.to_string());
            lines.insert(
                3,
                format!(
                    "  sound card: capture overruns {}, playback underruns {} (each recovered)",
                    n(self.sound_overruns),
                    n(self.sound_underruns)
                ),
            );
        }
        if !self.capture_to_send_us.is_empty() {
            lines.insert(
                2,
                format!(
                    "  camera: capture-to-send latency p50 {} p95 {} (driver timestamp to last packet sent)",
                    ms(p.capture.0),
                    ms(p.capture.1)
                ),
            );
        }
        lines
    }
}

impl Quality {
    /// The report as one JSON object on one line, for scripts
    /// (`--report-json`). Absent measurements are `null`.
    pub fn json(&self, peer: &str) -> String {
        let p = self.percentiles();
        let num = |v: Option<f64>| v.map_or("null".to_string(), |x| format!("{x:.3}"));
        let a = &self.audio;
        // Names are restricted to letters, digits, '-', '_' and '.', but
        // escape anyway: this is the one string in the object.
        let name: String = peer
            .chars()
            .flat_map(|c| match c {
                '"' => vec!['\\', '"'],
                '\\' => vec!['\\', '\\'],
                c if c.is_control() => Vec::new(),
                c => vec![c],
            })
            .collect();
        let fields = [
            ("peer", format!("\"{name}\"")),
            ("duration_s", format!("{:.3}", self.duration.as_secs_f64())),
            (
                "stop_ms",
                format!("{:.3}", self.stop_time.as_secs_f64() * 1000.0),
            ),
            ("video_frames_sent", self.video_frames_sent.to_string()),
            (
                "video_frames_received",
                self.video_frames_received.to_string(),
            ),
            ("video_frames_shown", self.video_frames_shown.to_string()),
            (
                "video_frames_incomplete",
                self.video_frames_incomplete.to_string(),
            ),
            (
                "video_frames_superseded",
                self.video_frames_superseded.to_string(),
            ),
            ("video_latency_p50_ms", num(p.video.0)),
            ("video_latency_p95_ms", num(p.video.1)),
            ("camera_capture_to_send_p50_ms", num(p.capture.0)),
            ("camera_capture_to_send_p95_ms", num(p.capture.1)),
            ("audio_frames_sent", self.audio_frames_sent.to_string()),
            ("audio_frames_played", a.played.to_string()),
            ("audio_concealed_fec", a.concealed_fec.to_string()),
            ("audio_concealed_plc", a.concealed_plc.to_string()),
            ("audio_late", a.late.to_string()),
            ("audio_latency_p50_ms", num(p.audio.0)),
            ("audio_latency_p95_ms", num(p.audio.1)),
            ("av_skew_p50_ms", num(p.skew.1)),
            ("av_skew_p95_ms", num(p.skew.2)),
            ("video_packets_lost", self.video_lost.to_string()),
            ("audio_packets_lost", self.audio_lost.to_string()),
            (
                "video_jitter_ms",
                format!("{:.3}", self.video_jitter.as_secs_f64() * 1000.0),
            ),
            (
                "audio_jitter_ms",
                format!("{:.3}", self.audio_jitter.as_secs_f64() * 1000.0),
            ),
            ("rtt_ms", num(self.rtt.map(|d| d.as_secs_f64() * 1000.0))),
            ("foreign_packets_dropped", self.foreign_dropped.to_string()),
            (
                "sound_overruns",
                self.sound_overruns.map_or("null".into(), |v| v.to_string()),
            ),
            (
                "sound_underruns",
                self.sound_underruns
                    .map_or("null".into(), |v| v.to_string()),
            ),
        ];
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{{}}}", body.join(","))
    }
}

/// The sound playing now, shared by the audio playout and the video receiver
/// so pictures are shown with the sound captured at the same moment.
struct LipSync {
    audio: Shared,
    /// RTP timestamp of the audio frame being played, and when it started.
    playing: Mutex<Option<(u32, Instant)>>,
}

impl LipSync {
    /// The audio RTP time playing at `now`, extrapolated from the last frame.
    fn audio_now(&self, now: Instant) -> Option<u32> {
        let (ts, at) = (*self.playing.lock().ok()?)?;
        let ticks = now.saturating_duration_since(at).as_secs_f64() * f64::from(OPUS_CLOCK_RATE);
        Some(ts.wrapping_add(ticks as u32))
    }

    fn audio_clock(&self) -> Option<RtpClock> {
        let clock = self.audio.lock().ok()?.clock.clone();
        clock.is_mapped().then_some(clock)
    }

    /// When a video frame should be shown (at most [`sync::MAX_VIDEO_LEAD`]
    /// ahead of its sound); `None` while the streams cannot be related yet
    /// (no sender reports, or no sound).
    fn video_due(&self, video: &RtpClock, video_ts: u32) -> Option<Instant> {
        let (ts, at) = (*self.playing.lock().ok()?)?;
        sync::video_due(
            &self.audio_clock()?,
            ts,
            at,
            video,
            video_ts,
            sync::MAX_VIDEO_LEAD,
        )
    }

    fn skew_us(&self, video: &RtpClock, video_ts: u32) -> Option<i64> {
        let now_ts = self.audio_now(Instant::now())?;
        sync::skew_us(&self.audio_clock()?, now_ts, video, video_ts)
    }
}

/// A random 32-bit value for SSRCs and initial sequence numbers and timestamps.
fn random_u32() -> u32 {
    crate::random_u64() as u32
}

impl MediaSession {
    /// Starts sending and receiving.
    pub fn start(ep: Endpoints, opts: &MediaOptions) -> std::io::Result<MediaSession> {
        let stop = Stop::new();
        let quality = Arc::new(Mutex::new(Quality::default()));
        let mut threads = Vec::new();
        let video_to = SocketAddr::new(ep.remote_ip, ep.remote.video);
        let audio_to = SocketAddr::new(ep.remote_ip, ep.remote.audio);
        ep.video.set_read_timeout(Some(RECV_IDLE))?;
        ep.audio.set_read_timeout(Some(RECV_IDLE))?;
        let mut receivers = Vec::new();
        let mut audio_in = None;
        let (video_fwd, audio_fwd) = match opts.forward {
            Some(base) => {
                let (v, a) = Forward::pair(base)?;
                (Some(v), Some(a))
            }
            None => (None, None),
        };
        let has_video = ep.media.video.codec == VideoCodec::Mjpeg;
        let has_audio = ep.media.audio.codec == AudioCodec::Opus;
        let video_state = StreamState::new(VIDEO_CLOCK_RATE);
        let audio_state = StreamState::new(OPUS_CLOCK_RATE);
        let lipsync = Arc::new(LipSync {
            audio: audio_state.clone(),
            playing: Mutex::new(None),
        });
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new().name(name.into()).spawn(f)
        };
        let file_frames = match &opts.video {
            VideoSource::File(p) => Some(load_mjpeg(p).map_err(std::io::Error::other)?),
            _ => None,
        };
        let wav = match &opts.audio {
            AudioSource::Wav(p) => Some(load_wav(p).map_err(std::io::Error::other)?),
            _ => None,
        };
        if has_video && opts.video != VideoSource::None {
            let (sock, stop, q, media) = (
                ep.video.try_clone()?,
                stop.clone(),
                quality.clone(),
                ep.media,
            );
            let jpeg_quality = opts.jpeg_quality;
            let source = opts.video.clone();
            let camera_format = opts.camera_format;
            let st = video_state.clone();
            threads.push(spawn(
                "video-tx",
                Box::new(move || {
                    video_tx(
                        sock,
                        video_to,
                        media,
                        (source, file_frames, jpeg_quality, camera_format),
                        &st,
                        &stop,
                        &q,
                    )
                }),
            )?);
        }
        if has_audio && opts.audio != AudioSource::None {
            let (sock, stop, q) = (ep.audio.try_clone()?, stop.clone(), quality.clone());
            let st = audio_state.clone();
            let device = match &opts.audio {
                AudioSource::Alsa(d) => Some(d.clone()),
                _ => None,
            };
            threads.push(spawn(
                "audio-tx",
                Box::new(move || audio_tx(sock, audio_to, (wav, device), &st, &stop, &q)),
            )?);
        }
        if has_video {
            receivers.push(ep.video.try_clone()?);
            let (sock, stop, q) = (ep.video.try_clone()?, stop.clone(), quality.clone());
            let sink = match &opts.video_out {
                VideoSink::Null => None,
                VideoSink::File(p) => Some(BufWriter::new(File::create(p)?)),
            };
            let impair = opts.impair.clone();
            let (st, ls) = (video_state.clone(), lipsync.clone());
            threads.push(spawn(
                "video-rx",
                Box::new(move || {
                    let from = Source {
                        addr: video_to,
                        impair,
                        forward: video_fwd,
                    };
                    video_rx(sock, from, sink, &st, &ls, &stop, &q)
                }),
            )?);
        }
        if has_audio {
            receivers.push(ep.audio.try_clone()?);
            let jitter = Arc::new(AudioIn {
                buffer: Mutex::new(JitterBuffer::new(OPUS_20MS)),
                arrived: Condvar::new(),
            });
            audio_in = Some(jitter.clone());
            let (sock, stop2, q) = (ep.audio.try_clone()?, stop.clone(), quality.clone());
            let jb = jitter.clone();
            let impair = opts.impair.clone().map(|mut c| {
                // A different stream of the same seed for audio.
                c.seed = c.seed.wrapping_add(1);
                c
            });
            let st = audio_state.clone();
            threads.push(spawn(
                "audio-rx",
                Box::new(move || {
                    let from = Source {
                        addr: audio_to,
                        impair,
                        forward: audio_fwd,
                    };
                    audio_rx(sock, from, jb, &st, &stop2, &q)
                }),
            )?);
            let sink = match &opts.audio_out {
                AudioSink::Null => Speaker::Null,
                AudioSink::Alsa(d) => match sound::Playback::open(d) {
                    Ok(p) => {
                        let ch = if p.channels() == 2 {
                            "mono on both channels"
                        } else {
                            "mono"
                        };
                        println!("speaker {d}: {} Hz, {ch}", sound::RATE);
                        Speaker::Card(p)
                    }
                    Err(e) => {
                        println!("sound not played: {e}");
                        Speaker::Null
                    }
                },
                AudioSink::Wav(p) => Speaker::Wav(
                    hound::WavWriter::create(
                        p,
                        hound::WavSpec {
                            channels: 1,
                            sample_rate: 48_000,
                            bits_per_sample: 16,
                            sample_format: hound::SampleFormat::Int,
                        },
                    )
                    .map_err(|e| std::io::Error::other(e.to_string()))?,
                ),
            };
            let (stop3, q, ls) = (stop.clone(), quality.clone(), lipsync.clone());
            threads.push(spawn(
                "audio-out",
                Box::new(move || audio_out(jitter, sink, &ls, &stop3, &q)),
            )?);
        }
        Ok(MediaSession {
            stop,
            receivers,
            audio_in,
            threads,
            quality,
            video: video_state,
            audio: audio_state,
            started: Instant::now(),
        })
    }

    /// Stops every thread (sleeping ones are woken, blocked receivers get a
    /// wake-up datagram), closes the sinks, and returns what happened.
    pub fn stop(self) -> Quality {
        let stopping = Instant::now();
        self.stop.set();
        if let Some(a) = &self.audio_in {
            // Take the lock so a playout thread between its check and its
            // wait cannot miss the notification.
            drop(a.buffer.lock());
            a.arrived.notify_all();
        }
        for sock in &self.receivers {
            wake(sock);
        }
        for t in self.threads {
            let _ = t.join();
        }
        let mut q = self.quality.lock().map(|q| q.clone()).unwrap_or_default();
        q.stop_time = stopping.elapsed();
        q.duration = stopping.duration_since(self.started);
        if let Ok(v) = self.video.lock() {
            q.video_lost = v.stats.lost();
            q.video_jitter = v.stats.jitter_duration();
            q.rtt = v.rtt;
        }
        if let Ok(a) = self.audio.lock() {
            q.audio_lost = a.stats.lost();
            q.audio_jitter = a.stats.jitter_duration();
            q.rtt = a.rtt.or(q.rtt);
        }
        q
    }
}

/// Unblocks a thread waiting in `recv_from` on `sock` with an empty datagram
/// sent to the socket itself (the thread checks the stop signal first).
fn wake(sock: &UdpSocket) {
    let Ok(mut to) = sock.local_addr() else {
        return;
    };
    if to.ip().is_unspecified() {
        to.set_ip(match to {
            SocketAddr::V4(_) => IpAddr::from([127, 0, 0, 1]),
            SocketAddr::V6(_) => IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        });
    }
    if let Err(e) = sock.send_to(&[], to) {
        log::debug!("wake-up datagram to {to} not sent: {e}");
    }
}

/// Where the sender's JPEG frames come from.
enum Frames {
    /// The test pattern, drawn and encoded each frame period.
    Pattern { pic: Yuv420, enc: YuvJpegEncoder },
    /// An MJPEG file's images, looped, one each frame period.
    File(Vec<Vec<u8>>),
    /// A camera, paced by the camera: its own JPEG images as they are, or
    /// raw pictures repacked to 4:2:0 and encoded.
    Camera {
        stream: CameraStream,
        path: PathBuf,
        pic: Yuv420,
        enc: YuvJpegEncoder,
    },
}

/// What the sender's next frame is: when it was captured, into `jpeg`.
enum Next {
    Frame(Instant),
    /// Nothing this time (a frame failed to encode); go on.
    Skip,
    /// Stop sending video (stopped, or the camera is gone).
    Done,
}

impl Frames {
    /// Opens the source for the negotiated picture; the error is for the user.
    fn open(
        source: &VideoSource,
        file: Option<Vec<Vec<u8>>>,
        media: &MediaDescription,
        (jpeg_quality, camera_format): (u8, Option<PixelFormat>),
    ) -> Result<Frames, String> {
        let enc = || YuvJpegEncoder::new(jpeg_quality).map_err(|e| e.to_string());
        let (w, h) = (media.video.width, media.video.height);
        Ok(match (source, file) {
            (_, Some(frames)) => Frames::File(frames),
            (VideoSource::Camera(path), None) => {
                let size = (w.into(), h.into(), media.video.fps.into());
                let cam = Camera::open(path, size, camera_format)?;
                let mode = cam.mode();
                let how = match mode.format {
                    PixelFormat::Mjpeg => "sent as the camera makes them",
                    _ => "encoded to JPEG here",
                };
                println!("camera {}: {mode}, {how}", path.display());
                Frames::Camera {
                    stream: cam.stream()?,
                    path: path.clone(),
                    pic: Yuv420::new(mode.width as usize, mode.height as usize),
                    enc: enc()?,
                }
            }
            _ => Frames::Pattern {
                pic: Yuv420::new(usize::from(w), usize::from(h)),
                enc: enc()?,
            },
        })
    }

    /// Produces frame number `n` into `jpeg`; `due` is when a source without
    /// a clock of its own should capture it.
    fn next(&mut self, n: u32, due: Instant, stop: &Stop, jpeg: &mut Vec<u8>) -> Next {
        match self {
            Frames::Pattern { pic, enc } => {
                if !stop.sleep_until(due) {
                    return Next::Done;
                }
                let captured = Instant::now();
                draw(
                    pic,
                    Stamp {
                        frame: n,
                        capture_us: wallclock_us(),
                    },
                );
                match enc.encode(pic) {
                    Ok(j) => {
                        *jpeg = j;
                        Next::Frame(captured)
                    }
                    Err(e) => {
                        log::warn!("frame {n} not encoded: {e}");
                        Next::Skip
                    }
                }
            }
            Frames::File(frames) => {
                if !stop.sleep_until(due) {
                    return Next::Done;
                }
                jpeg.clear();
                jpeg.extend_from_slice(&frames[n as usize % frames.len()]);
                Next::Frame(Instant::now())
            }
            Frames::Camera {
                stream,
                path,
                pic,
                enc,
            } => loop {
                if stop.is_set() {
                    return Next::Done;
                }
                let (mode, captured) = (stream.mode(), stream.next());
                match captured {
                    Ok((at, Captured::Jpeg(image))) => {
                        jpeg.clear();
                        jpeg.extend_from_slice(image);
                        return Next::Frame(at);
                    }
                    Ok((at, Captured::Raw { data, stride })) => {
                        let encoded =
                            raw_to_i420(mode.format, data, mode.width, mode.height, stride, pic)
                                .map_err(|e| e.to_string())
                                .and_then(|()| enc.encode(pic).map_err(|e| e.to_string()));
                        return match encoded {
                            Ok(j) => {
                                *jpeg = j;
                                Next::Frame(at)
                            }
                            Err(e) => {
                                log::warn!("camera frame not encoded: {e}");
                                Next::Skip
                            }
                        };
                    }
                    Err(CaptureFailure::Timeout) => {}
                    Err(CaptureFailure::BadFrame) => {
                        log::debug!("camera buffer without a JPEG image skipped");
                    }
                    Err(CaptureFailure::Gone(e)) => {
                        println!(
                            "camera {} stopped ({e}): video ends, the call and its sound go on",
                            path.display()
                        );
                        return Next::Done;
                    }
                }
            },
        }
    }

    fn is_camera(&self) -> bool {
        matches!(self, Frames::Camera { .. })
    }
}

#[allow(clippy::too_many_arguments)]
fn video_tx(
    sock: UdpSocket,
    to: SocketAddr,
    media: MediaDescription,
    (source, file, jpeg_quality, camera_format): (
        VideoSource,
        Option<Vec<Vec<u8>>>,
        u8,
        Option<PixelFormat>,
    ),
    state: &Mutex<StreamState>,
    stop: &Stop,
    q: &Mutex<Quality>,
) {
    let fps = u32::from(media.video.fps.max(1));
    let period = Duration::from_secs(1) / fps;
    let mut frames = match Frames::open(&source, file, &media, (jpeg_quality, camera_format)) {
        Ok(f) => f,
        Err(e) => {
            println!("video not sent: {e}");
            return;
        }
    };
    let ssrc = state.lock().map_or(0, |s| s.local_ssrc);
    // The first report goes out with the first packet: lip sync needs it.
    let mut next_rtcp = Instant::now();
    let mut seq = random_u32() as u16;
    let ts0 = random_u32();
    let start = Instant::now();
    let mut buf = vec![0u8; MAX_RTP_PAYLOAD_LEN + 64];
    let mut jpeg = Vec::new();
    for frame in 0u32.. {
        let captured = match frames.next(frame, start + period * frame, stop, &mut jpeg) {
            Next::Frame(at) => at,
            Next::Skip => continue,
            Next::Done => return,
        };
        let ts = ts0.wrapping_add(
            (captured.saturating_duration_since(start).as_secs_f64() * f64::from(VIDEO_CLOCK_RATE))
                as u32,
        );
        let frags = match packetize(&jpeg, MAX_RTP_PAYLOAD_LEN) {
            Ok(f) => f,
            Err(e) => {
                log::warn!("frame {frame} not packetized: {e}");
                continue;
            }
        };
        for f in frags {
            let h = RtpHeader {
                marker: f.marker,
                payload_type: PT_JPEG,
                sequence: seq,
                timestamp: ts,
                ssrc,
            };
            seq = seq.wrapping_add(1);
            let n = h.emit(&f.payload, &mut buf);
            if let Err(e) = sock.send_to(&buf[..n], to) {
                log::debug!("video send to {to} failed: {e}");
            }
            if let Ok(mut st) = state.lock() {
                st.sent(captured, ts, f.payload.len());
            }
        }
        if let Ok(mut q) = q.lock() {
            q.video_frames_sent += 1;
            if frames.is_camera() {
                q.capture_to_send_us
                    .push(captured.elapsed().as_micros() as u64);
            }
        }
        send_rtcp(&sock, to, state, &mut next_rtcp);
    }
}

fn audio_tx(
    sock: UdpSocket,
    to: SocketAddr,
    (wav, device): (Option<Vec<i16>>, Option<String>),
    state: &Mutex<StreamState>,
    stop: &Stop,
    q: &Mutex<Quality>,
) {
    let mut enc = match VoiceEncoder::new() {
        Ok(e) => e,
        Err(e) => {
            log::error!("audio sending stopped: {e}");
            return;
        }
    };
    let mut mic = match device.as_deref().map(sound::Capture::open) {
        Some(Ok(c)) => {
            println!(
                "microphone {}: {} Hz, {}",
                device.as_deref().unwrap_or_default(),
                c.rate(),
                if c.channels() == 2 {
                    "stereo mixed down to mono"
                } else {
                    "mono"
                }
            );
            Some(c)
        }
        Some(Err(e)) => {
            println!("sound not sent: {e}");
            return;
        }
        None => None,
    };
    let mut tone = Tone::new();
    let mut pcm = vec![0i16; FRAME_SAMPLES];
    let ssrc = state.lock().map_or(0, |s| s.local_ssrc);
    // The first report goes out with the first packet: lip sync needs it.
    let mut next_rtcp = Instant::now();
    let mut seq = random_u32() as u16;
    let mut ts = random_u32();
    let start = Instant::now();
    let mut buf = vec![0u8; 1500];
    for k in 0u32.. {
        let captured = if let Some(m) = mic.as_mut() {
            // The card's clock paces capture: a read returns each 20 ms.
            if stop.is_set() {
                break;
            }
            if let Err(e) = m.read_frame(&mut pcm) {
                println!("microphone stopped ({e}): sound ends, the call goes on");
                break;
            }
            // The frame's first sample was taken a frame ago.
            Instant::now()
                .checked_sub(AUDIO_FRAME)
                .unwrap_or_else(Instant::now)
        } else {
            if !stop.sleep_until(start + AUDIO_FRAME * k) {
                return;
            }
            match &wav {
                // A file loops: each frame takes the next 960 samples, wrapping.
                Some(samples) => {
                    let start = k as usize * FRAME_SAMPLES;
                    for (i, s) in pcm.iter_mut().enumerate() {
                        *s = samples[(start + i) % samples.len()];
                    }
                }
                None => tone.fill(&mut pcm),
            }
            Instant::now()
        };
        match enc.encode(&pcm) {
            Ok(packet) => {
                let h = RtpHeader {
                    marker: k == 0,
                    payload_type: PT_OPUS,
                    sequence: seq,
                    timestamp: ts,
                    ssrc,
                };
                let n = h.emit(&packet, &mut buf);
                if let Err(e) = sock.send_to(&buf[..n], to) {
                    log::debug!("audio send to {to} failed: {e}");
                }
                if let Ok(mut st) = state.lock() {
                    st.sent(captured, ts, packet.len());
                }
            }
            Err(e) => log::warn!("audio frame not encoded: {e}"),
        }
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(FRAME_SAMPLES as u32);
        if let Ok(mut q) = q.lock() {
            q.audio_frames_sent += 1;
        }
        send_rtcp(&sock, to, state, &mut next_rtcp);
    }
    if let (Some(m), Ok(mut q)) = (mic, q.lock()) {
        q.sound_overruns = Some(m.overruns());
    }
}

/// Sends the stream's RTCP compound when its interval has come.
fn send_rtcp(sock: &UdpSocket, to: SocketAddr, state: &Mutex<StreamState>, next: &mut Instant) {
    let now = Instant::now();
    if now < *next {
        return;
    }
    *next = now + RTCP_INTERVAL;
    let report = state
        .lock()
        .ok()
        .and_then(|mut st| st.report(now, ntp_now()));
    if let Some(bytes) = report {
        if let Err(e) = sock.send_to(&bytes, to) {
            log::debug!("RTCP send to {to} failed: {e}");
        }
    }
}

/// Where a stream comes from and what happens to it on the way in.
struct Source {
    /// The call's peer: datagrams from anywhere else are dropped.
    addr: SocketAddr,
    /// `--impair`: loss, delay and jitter applied to what arrives.
    impair: Option<ImpairConfig>,
    /// `--forward`: a copy of what arrives (after impairment) for a player.
    forward: Option<Forward>,
}

/// Receives datagrams from the source's address only, through the optional
/// impairment, and hands each RTP packet to `on_event`. After every wake-up it calls
/// `on_event` with no packet, for held work; what that returns (when held
/// work is next due) is how long the next receive may block. Returns when
/// stopped.
fn receive(
    sock: &UdpSocket,
    source: Source,
    state: &Mutex<StreamState>,
    stop: &Stop,
    q: &Mutex<Quality>,
    mut on_event: impl FnMut(Instant, Option<(RtpHeader, &[u8])>) -> Option<Instant>,
) {
    let from = source.addr;
    let forward = source.forward;
    let mut imp: Option<Impairment<Vec<u8>>> = source.impair.map(Impairment::new);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut handle = |now: Instant, datagram: Option<&[u8]>| -> Option<Instant> {
        let Some(d) = datagram else {
            return on_event(now, None);
        };
        let kind = classify(d);
        if let Some(f) = &forward {
            match kind {
                Kind::Rtp => f.send(f.rtp, d),
                Kind::Rtcp => f.send(f.rtcp, d),
                Kind::Unknown => {}
            }
        }
        match kind {
            Kind::Rtp => {
                if let Ok((h, payload)) = RtpHeader::parse(d) {
                    if let Ok(mut st) = state.lock() {
                        st.remote_ssrc = Some(h.ssrc);
                        st.stats.record(now, h.sequence, h.timestamp);
                    }
                    on_event(now, Some((h, payload)));
                }
            }
            Kind::Rtcp => {
                if let Ok(mut st) = state.lock() {
                    st.received_rtcp(now, ntp_now(), d);
                }
            }
            Kind::Unknown => log::debug!("dropped a datagram that is neither RTP nor RTCP"),
        }
        None
    };
    let mut due: Option<Instant> = None;
    let mut timeout = RECV_IDLE;
    while !stop.is_set() {
        let want = if imp.is_some() {
            IMPAIR_TICK
        } else {
            due.map_or(RECV_IDLE, |d| {
                d.saturating_duration_since(Instant::now())
                    .clamp(MIN_RECV_WAIT, RECV_IDLE)
            })
        };
        if want != timeout && sock.set_read_timeout(Some(want)).is_ok() {
            timeout = want;
        }
        match sock.recv_from(&mut buf) {
            // Checked before anything is counted: this may be the wake-up
            // datagram from `MediaSession::stop`.
            Ok(_) if stop.is_set() => break,
            Ok((n, src)) => {
                let now = Instant::now();
                if src != from {
                    if let Ok(mut q) = q.lock() {
                        q.foreign_dropped += 1;
                    }
                    log::debug!("dropped a packet from {src}: not the call's peer {from}");
                } else if let Some(imp) = imp.as_mut() {
                    imp.send(now, buf[..n].to_vec());
                } else {
                    handle(now, Some(&buf[..n]));
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                // ICMP port unreachable surfaces here while the peer is not
                // listening yet; keep going.
                log::debug!("receive on {:?} failed: {e}", sock.local_addr());
            }
        }
        if let Some(imp) = imp.as_mut() {
            let now = Instant::now();
            while let Some(d) = imp.poll(now) {
                handle(now, Some(&d));
            }
        }
        due = handle(Instant::now(), None);
    }
}

#[allow(clippy::too_many_arguments)]
fn video_rx(
    sock: UdpSocket,
    from: Source,
    mut sink: Option<BufWriter<File>>,
    state: &Mutex<StreamState>,
    lipsync: &LipSync,
    stop: &Stop,
    q: &Mutex<Quality>,
) {
    let mut asm = FrameAssembler::new();
    let mut dec = match YuvJpegDecoder::new() {
        Ok(d) => Some(d),
        Err(e) => {
            log::warn!("received video is not decoded: {e}");
            None
        }
    };
    // Complete frames waiting for the sound they belong to.
    let mut held: VecDeque<(Instant, JpegFrame)> = VecDeque::new();
    receive(&sock, from, state, stop, q, |now, packet| {
        if let Some((h, payload)) = packet {
            if h.payload_type != PT_JPEG {
                return None;
            }
            if let Ok(Some(frame)) = asm.push(h.sequence, h.timestamp, h.marker, payload) {
                let video_clock = state
                    .lock()
                    .ok()
                    .map(|s| s.clock.clone())
                    .filter(RtpClock::is_mapped);
                let due = video_clock
                    .and_then(|vc| lipsync.video_due(&vc, frame.timestamp))
                    .unwrap_or(now);
                held.push_back((due, frame));
                if held.len() > MAX_VIDEO_HOLD {
                    held.pop_front();
                    if let Ok(mut q) = q.lock() {
                        q.video_frames_superseded += 1;
                    }
                }
                if let Ok(mut q) = q.lock() {
                    q.video_frames_received += 1;
                    q.video_frames_incomplete = asm.stats().frames_dropped_incomplete;
                }
            }
        }
        while held.front().is_some_and(|(due, _)| *due <= now) {
            let Some((_, frame)) = held.pop_front() else {
                break;
            };
            show(&frame, &mut sink, &mut dec, state, lipsync, q);
        }
        held.front().map(|(due, _)| *due)
    });
    if let Some(mut w) = sink {
        let _ = w.flush();
    }
}

/// A frame's playout: into the sink, decoded (as a display would), with its
/// latency and its skew against the sound playing now measured.
fn show(
    frame: &JpegFrame,
    sink: &mut Option<BufWriter<File>>,
    dec: &mut Option<YuvJpegDecoder>,
    state: &Mutex<StreamState>,
    lipsync: &LipSync,
    q: &Mutex<Quality>,
) {
    let shown_us = wallclock_us();
    if let Some(w) = sink.as_mut() {
        if let Err(e) = w.write_all(&frame.jpeg) {
            log::warn!("video sink: {e}");
        }
    }
    let stamp = dec
        .as_mut()
        .and_then(|d| d.decode(&frame.jpeg).ok())
        .and_then(|pic| read(pic.y, pic.width, pic.height));
    let video_clock = state
        .lock()
        .ok()
        .map(|s| s.clock.clone())
        .filter(RtpClock::is_mapped);
    let skew = video_clock.and_then(|vc| lipsync.skew_us(&vc, frame.timestamp));
    if let Ok(mut q) = q.lock() {
        q.video_frames_shown += 1;
        if let Some(s) = stamp {
            // The stamp keeps 48 bits of the capture time: compare modulo that.
            let lat = shown_us.wrapping_sub(s.capture_us) & STAMP_TIME_MASK;
            q.video_latency_us.push(lat);
        }
        if let Some(k) = skew {
            q.skew_us.push(k);
        }
    }
}

fn audio_rx(
    sock: UdpSocket,
    from: Source,
    audio_in: Arc<AudioIn>,
    state: &Mutex<StreamState>,
    stop: &Stop,
    q: &Mutex<Quality>,
) {
    receive(&sock, from, state, stop, q, |now, packet| {
        let (h, payload) = packet?;
        if h.payload_type != PT_OPUS {
            return None;
        }
        if let Ok(mut jb) = audio_in.buffer.lock() {
            jb.push(now, h.sequence, h.timestamp, payload.to_vec());
        }
        audio_in.arrived.notify_one();
        None
    });
}

/// Blocks until the jitter buffer can start playing; the moment it returns
/// becomes the playout clock's origin. `None` when stopped.
fn wait_until_playable(audio_in: &AudioIn, stop: &Stop) -> Option<Instant> {
    let mut jb = audio_in.buffer.lock().ok()?;
    loop {
        if stop.is_set() {
            return None;
        }
        if jb.can_play() {
            return Some(Instant::now());
        }
        jb = audio_in.arrived.wait_timeout(jb, RECV_IDLE).ok()?.0;
    }
}

/// Where played sound goes.
enum Speaker {
    /// Nowhere (still decoded and measured); the system clock paces playout.
    Null,
    /// A WAV file; the system clock paces playout.
    Wav(hound::WavWriter<BufWriter<File>>),
    /// A sound card, whose clock paces playout: each write blocks while
    /// its buffer is full.
    Card(sound::Playback),
}

/// The playout loop: one frame every 20 ms from the jitter buffer to the
/// speaker. With a sound card the card's clock sets the pace (and the jitter
/// buffer absorbs the drift between it and the sender's clock); otherwise a
/// 20 ms clock that starts the moment the buffer first holds its target
/// depth (and again after the stream stopped and refilled), so the delay is
/// the buffer's depth and not also wherever a free-running clock's tick
/// happened to fall, which made it anywhere up to a frame longer.
fn audio_out(
    audio_in: Arc<AudioIn>,
    mut speaker: Speaker,
    lipsync: &LipSync,
    stop: &Stop,
    q: &Mutex<Quality>,
) {
    let mut dec = match VoiceDecoder::new() {
        Ok(d) => d,
        Err(e) => {
            log::error!("audio playout stopped: {e}");
            return;
        }
    };
    let mut pcm = vec![0i16; FRAME_SAMPLES];
    // The clock's origin and the number of the next frame period.
    let mut clock: Option<(Instant, u32)> = None;
    let mut card_started = false;
    loop {
        if let Speaker::Card(_) = speaker {
            if !card_started {
                if wait_until_playable(&audio_in, stop).is_none() {
                    break;
                }
                card_started = true;
            } else if stop.is_set() {
                break;
            }
        } else {
            let (origin, k) = match clock {
                Some((origin, k)) => {
                    if !stop.sleep_until(origin + AUDIO_FRAME * k) {
                        break;
                    }
                    (origin, k)
                }
                None => match wait_until_playable(&audio_in, stop) {
                    Some(now) => (now, 0),
                    None => break,
                },
            };
            clock = Some((origin, k + 1));
        }
        let (playout, stats, playing) = match audio_in.buffer.lock() {
            Ok(mut jb) => {
                let p = jb.pop();
                (p, jb.stats().clone(), jb.playing_timestamp())
            }
            Err(_) => break,
        };
        if playout == Playout::Waiting {
            clock = None;
        }
        // When this frame will be heard: a card plays what it already holds first.
        let heard = match &speaker {
            Speaker::Card(p) => {
                let queued = p.delay_frames().unwrap_or(0).max(0) as u64;
                Instant::now() + Duration::from_micros(queued * 1_000_000 / u64::from(sound::RATE))
            }
            _ => Instant::now(),
        };
        let mut latency = None;
        if let (Some(ts), false) = (playing, playout == Playout::Waiting) {
            if let Ok(mut p) = lipsync.playing.lock() {
                *p = Some((ts, heard));
            }
            if let Some(clock) = lipsync.audio_clock() {
                if let Some(captured) = clock.wallclock_us(ts) {
                    let ahead = heard.saturating_duration_since(Instant::now()).as_micros() as i64;
                    let lat = ntp_to_us(ntp_now()) + ahead - captured;
                    if (0..MAX_PLAUSIBLE_LATENCY_US).contains(&lat) {
                        latency = Some(lat as u64);
                    }
                }
            }
        }
        if dec.decode(&playout, &mut pcm).is_err() || playout == Playout::Waiting {
            pcm.fill(0);
        }
        match &mut speaker {
            Speaker::Null => {}
            Speaker::Wav(w) => {
                if playout != Playout::Waiting {
                    for &s in &pcm {
                        if w.write_sample(s).is_err() {
                            break;
                        }
                    }
                }
            }
            // A card keeps running through a refill: it gets silence.
            Speaker::Card(p) => {
                if let Err(e) = p.write_frame(&pcm) {
                    println!("speaker stopped ({e}): sound ends, the call goes on");
                    break;
                }
            }
        }
        if let Ok(mut q) = q.lock() {
            q.audio = stats;
            q.audio_latency_us.extend(latency);
        }
    }
    match speaker {
        Speaker::Wav(w) => {
            if let Err(e) = w.finalize() {
                log::warn!("audio sink: {e}");
            }
        }
        Speaker::Card(p) => {
            if let Ok(mut q) = q.lock() {
                q.sound_underruns = Some(p.underruns());
            }
        }
        Speaker::Null => {}
    }
}
