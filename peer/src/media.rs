//! The media of an established call, as the peer runs it: what the user
//! chose (sources, sinks, picture, impairment, forwarding), and the threads
//! around the library's sans-IO [`peercall::media::session`] that capture,
//! send, receive and play until the call ends ([`runtime`]). Everything
//! protocol-shaped (RTP and RTCP, reassembly, jitter buffer, lip sync,
//! statistics, the quality report) is the library's; this module wires it
//! to sockets, devices, files and clocks.

pub mod display;
mod media_loop;
pub mod recording;
pub mod ringer;
mod runtime;
mod sinks;
mod sources;

pub use peercall::media::session::Quality;
pub use runtime::{MediaSession, BENCH_SRTP_ENV, MAX_QUEUED_INPUTS, MAX_SINK_QUEUE};

use display::CallPictures;
use peercall::media::audio::FRAME_SAMPLES;
use peercall::media::capture::PixelFormat;
use peercall::media::impair::ImpairConfig;
use peercall::media::jpeg::packetize;
use peercall::media::mjpeg;
use peercall::media::rtp::MAX_RTP_PAYLOAD_LEN;
use peercall::media::srtp::MediaKeys;
use peercall::wire::{MediaDescription, MediaPorts};
use peercall_codecs::jpeg::DEFAULT_QUALITY;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

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
    /// The call window (`--video-out window`).
    Window,
    /// The window when this board has a display, else nowhere (the default).
    Auto,
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
    /// Neither ask for lost video again nor adapt the rate (`--no-repair`):
    /// a plain RTP receiver, to compare with.
    pub no_repair: bool,
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
    /// `--window-size`: the call window's size on a desktop.
    pub window_size: (u32, u32),
    /// `--fullscreen`: the call window fills the screen.
    pub fullscreen: bool,
}

/// The picture size a call asks for unless told otherwise.
pub const DEFAULT_SIZE: (u16, u16) = (640, 480);
/// The frame rate a call asks for unless told otherwise.
pub const DEFAULT_FPS: u8 = 30;
/// The picture size on a board with one CPU core (Pi 1, Zero, Zero W)
/// unless told otherwise: a quarter of [`DEFAULT_SIZE`]'s pixels, and about a
/// quarter of its JPEG encode and decode cost (docs/benchmarks.md, "ARMv6").
pub const SINGLE_CORE_SIZE: (u16, u16) = (320, 240);
/// The frame rate on a board with one CPU core unless told otherwise.
pub const SINGLE_CORE_FPS: u8 = 15;
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
            no_repair: false,
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
            window_size: crate::window::DEFAULT_WINDOW_SIZE,
            fullscreen: false,
        }
    }
}

/// What the running peer lends a call's media beyond its options: the
/// screen to show the call on, and the microphone's mute switch (both
/// outlive the call: the window and the M key are the peer's).
#[derive(Clone, Default)]
pub struct CallLinks {
    /// The window's pictures for this call, when there is a window.
    pub screen: Option<Arc<CallPictures>>,
    /// While set, the microphone sends silence (the stream keeps flowing,
    /// so the other side's playout and lip sync carry on undisturbed).
    pub muted: Arc<AtomicBool>,
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
    /// The call's SRTP keys, from its handshake: every media packet is then
    /// SRTP/SRTCP. `None` sends plain RTP (until the handshake provides
    /// keys; see also the bench-only [`BENCH_SRTP_ENV`]).
    pub srtp: Option<MediaKeys>,
}
