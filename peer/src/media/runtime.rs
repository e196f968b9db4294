//! The running media of one call: the threads around the library's
//! [`peercall::media::session::MediaSession`], which one of them owns.
//!
//! ```text
//!  video-capture ─┐ Input (channel + mio Waker)          ┌─► video-out (decode, file)
//!  audio-capture ─┼────────────────────────► media loop ─┤
//!  speaker (Pull) ┘   UDP video/audio ◄──► (mio, owns   ├─► Opus to null or WAV, in the loop
//!                     sockets              the session)  └─► speaker: Opus to a sound card
//! ```
//!
//! The loop (`media_loop.rs`) is the only owner of the protocol state: no
//! lock surrounds it; the other threads reach it through bounded channels
//! and its waker. This module starts them all. Stopping (or dropping the
//! [`MediaSession`]) sets the stop signal, wakes the loop, which says RTCP
//! BYE and returns the report, and joins every thread. A thread that
//! panics ends the media with a reason the call can report.

use super::display::CallPictures;
use super::media_loop::{AudioOut, Forward, MediaLoop, SharedTarget, AUDIO, VIDEO, WAKE};
use super::sinks::{self, Player, Speaker};
use super::sources::{self, AudioCapture, VideoCapture};
use super::{
    load_mjpeg, load_wav, AudioSink, AudioSource, CallLinks, Endpoints, MediaOptions, VideoSink,
    VideoSource,
};
use crate::devices::sound;
use mio::net::UdpSocket;
use mio::{Interest, Poll, Waker};
use peercall::media::impair::{ImpairConfig, Impairment};
use peercall::media::session::{
    self as session, cname_from_random, PlayoutClock, Quality, SessionConfig, StreamKind,
    CNAME_RANDOM_BYTES,
};
use peercall::media::srtp::MediaKeys;
use std::fs::File;
use std::io::{BufWriter, Read};
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Benchmarks only (`make bench-media`, docs/benchmarks.md "Media
/// encryption"): this environment variable set to `off` makes the peer send
/// and expect plain RTP even though the call has keys, so the same run can
/// measure the CPU cost of SRTP side by side. It protects nothing; the peer
/// says so when used.
pub const BENCH_SRTP_ENV: &str = "PEERCALL_BENCH_SRTP";

/// The keys a call's media runs with: the handshake's, unless the
/// bench-only [`BENCH_SRTP_ENV`] turns them off.
fn media_keys(given: Option<MediaKeys>) -> Option<MediaKeys> {
    if std::env::var(BENCH_SRTP_ENV).as_deref() == Ok("off") {
        println!("media NOT encrypted: {BENCH_SRTP_ENV}=off (for benchmarks only)");
        return None;
    }
    given
}

/// Frames and requests queued from the capture threads and the speaker to
/// the loop; a capture thread waits when it is full (the loop is behind).
pub const MAX_QUEUED_INPUTS: usize = 32;
/// Frames queued for each sink; beyond it a frame is dropped, so a slow
/// sink never holds up the network side.
pub const MAX_SINK_QUEUE: usize = 64;

/// Locks a mutex whose holder may have panicked: the data (a flag, a
/// reason) stays meaningful, and a panic is reported on its own.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The media's stop signal. Threads that pace themselves sleep on it until
/// their next frame is due rather than polling, and setting it wakes them.
pub(super) struct Stop {
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

    pub(super) fn is_set(&self) -> bool {
        *lock(&self.set)
    }

    fn set(&self) {
        *lock(&self.set) = true;
        self.wake.notify_all();
    }

    /// Sleeps until `at` unless stopped first; false when stopped.
    pub(super) fn sleep_until(&self, at: Instant) -> bool {
        let mut set = lock(&self.set);
        loop {
            if *set {
                return false;
            }
            let now = Instant::now();
            if now >= at {
                return true;
            }
            set = self
                .wake
                .wait_timeout(set, at - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// What the other threads hand the loop.
pub(super) enum Input {
    /// A captured JPEG frame.
    Video {
        captured: Instant,
        jpeg: Vec<u8>,
        from_camera: bool,
    },
    /// A captured 20 ms Opus frame.
    Audio { captured: Instant, opus: Vec<u8> },
    /// The sound card wants its next frame; it holds `queued` before it.
    Pull { queued: Duration },
}

/// A thread's way into the loop: a bounded channel and the loop's waker.
#[derive(Clone)]
pub(super) struct LoopLink {
    tx: SyncSender<Input>,
    waker: Arc<Waker>,
}

impl LoopLink {
    /// Hands the loop an input; false once the loop is gone.
    pub(super) fn send(&self, input: Input) -> bool {
        if self.tx.send(input).is_err() {
            return false;
        }
        if let Err(e) = self.waker.wake() {
            log::warn!("media loop not woken: {e}");
        }
        true
    }
}

/// Why the media stopped by itself, and whom to wake about it.
#[derive(Default)]
struct Failure {
    reason: Option<String>,
    notify: Option<Arc<Waker>>,
}

/// Reports a panicking thread to the media when its stack unwinds.
struct PanicWatch {
    name: &'static str,
    failure: Arc<Mutex<Failure>>,
    stop: Arc<Stop>,
    waker: Arc<Waker>,
}

impl Drop for PanicWatch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let notify = {
                let mut f = lock(&self.failure);
                f.reason
                    .get_or_insert_with(|| format!("the {} thread failed", self.name));
                f.notify.clone()
            };
            self.stop.set();
            let _ = self.waker.wake();
            if let Some(w) = notify {
                let _ = w.wake();
            }
        }
    }
}

/// 96 random bits for the CNAME and 64 for the session's seed, from the
/// kernel's random source (RFC 7022 asks for a strong one for the CNAME).
fn random_bytes() -> ([u8; CNAME_RANDOM_BYTES], u64) {
    let mut buf = [0u8; CNAME_RANDOM_BYTES + 8];
    let read = File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf));
    if let Err(e) = read {
        // Not secret material: uniqueness is what matters without it.
        log::warn!("/dev/urandom: {e}; using the standard library's hasher keys");
        for chunk in buf.chunks_mut(8) {
            let r = crate::random_u64().to_be_bytes();
            chunk.copy_from_slice(&r[..chunk.len()]);
        }
    }
    let mut cname = [0u8; CNAME_RANDOM_BYTES];
    cname.copy_from_slice(&buf[..CNAME_RANDOM_BYTES]);
    let mut seed = [0u8; 8];
    seed.copy_from_slice(&buf[CNAME_RANDOM_BYTES..]);
    (cname, u64::from_be_bytes(seed))
}

/// The running media of one call.
pub struct MediaSession {
    stop: Arc<Stop>,
    waker: Arc<Waker>,
    media_loop: Option<JoinHandle<Quality>>,
    audio_capture: Option<JoinHandle<Option<u64>>>,
    speaker: Option<JoinHandle<Option<u64>>>,
    others: Vec<JoinHandle<()>>,
    failure: Arc<Mutex<Failure>>,
    /// The window's pictures, whose presentation figures join the report.
    screen: Option<Arc<CallPictures>>,
}

impl MediaSession {
    /// Starts sending and receiving on the call's sockets.
    pub fn start(
        ep: Endpoints,
        opts: &MediaOptions,
        links: CallLinks,
    ) -> std::io::Result<MediaSession> {
        let file = match &opts.video {
            VideoSource::File(p) => Some(load_mjpeg(p).map_err(std::io::Error::other)?),
            _ => None,
        };
        let wav = match &opts.audio {
            AudioSource::Wav(p) => Some(load_wav(p).map_err(std::io::Error::other)?),
            _ => None,
        };
        let speaker = match &opts.audio_out {
            AudioSink::Null => Speaker::Null,
            AudioSink::Wav(p) => Speaker::wav(p)?,
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
        };
        let video_file = match &opts.video_out {
            VideoSink::Null | VideoSink::Window | VideoSink::Auto => None,
            VideoSink::File(p) => Some(BufWriter::new(File::create(p)?)),
        };
        let (cname, seed) = random_bytes();
        let srtp = media_keys(ep.srtp);
        let now = Instant::now();
        let session = session::MediaSession::new(
            now,
            SessionConfig {
                media: ep.media,
                remote_ip: ep.remote_ip,
                remote_ports: ep.remote,
                send_video: opts.video != VideoSource::None,
                send_audio: opts.audio != AudioSource::None,
                playout: match speaker {
                    Speaker::Card(_) => PlayoutClock::Sink,
                    _ => PlayoutClock::Session,
                },
                cname: cname_from_random(cname),
                seed,
                wallclock: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default(),
                feedback: !opts.no_repair,
                srtp,
            },
        );
        let target = Arc::new(SharedTarget::new(
            session.video_target(),
            session.audio_target(),
        ));
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
        ep.video.set_nonblocking(true)?;
        ep.audio.set_nonblocking(true)?;
        let mut video = UdpSocket::from_std(ep.video);
        let mut audio = UdpSocket::from_std(ep.audio);
        poll.registry()
            .register(&mut video, VIDEO, Interest::READABLE)?;
        poll.registry()
            .register(&mut audio, AUDIO, Interest::READABLE)?;
        let (tx, inputs) = mpsc::sync_channel(MAX_QUEUED_INPUTS);
        let link = LoopLink {
            tx,
            waker: waker.clone(),
        };
        let stop = Stop::new();
        let failure = Arc::new(Mutex::new(Failure::default()));
        let spawn = |name: &'static str| {
            let watch = PanicWatch {
                name,
                failure: failure.clone(),
                stop: stop.clone(),
                waker: waker.clone(),
            };
            (std::thread::Builder::new().name(name.into()), watch)
        };
        let sends_video = session.sends(StreamKind::Video);
        let sends_audio = session.sends(StreamKind::Audio);
        let has_video = session.has(StreamKind::Video);
        let has_audio = session.has(StreamKind::Audio);
        let mut others = Vec::new();
        let (show_tx, show_rx) = mpsc::sync_channel(MAX_SINK_QUEUE);
        if has_video {
            let (b, watch) = spawn("video-out");
            let screen = links.screen.clone();
            others.push(b.spawn(move || {
                let _watch = watch;
                sinks::show_video(show_rx, video_file, screen.as_deref())
            })?);
        }
        let player = if has_audio {
            Player::new(speaker)
                .map_err(|e| log::error!("audio playout stopped: {e}"))
                .ok()
        } else {
            None
        };
        let (audio_out, speaker) = match player {
            Some(player) if player.is_card() => {
                let (tx, rx) = mpsc::sync_channel(MAX_SINK_QUEUE);
                let (b, watch) = spawn("speaker");
                let link = link.clone();
                let thread = b.spawn(move || {
                    let _watch = watch;
                    sinks::play_audio(rx, player, &link)
                })?;
                (AudioOut::Card(Some(tx)), Some(thread))
            }
            Some(player) => (AudioOut::Here(player), None),
            None => (AudioOut::None, None),
        };
        let impair = opts.impair.clone().map(|c: ImpairConfig| {
            // A different stream of the same seed for audio.
            let mut a = c.clone();
            a.seed = a.seed.wrapping_add(1);
            (Impairment::new(c), Impairment::new(a))
        });
        let media_loop = MediaLoop {
            target: target.clone(),
            poll,
            session,
            video,
            audio,
            inputs,
            impair,
            forward: opts.forward.map(Forward::new).transpose()?,
            shows: has_video.then_some(show_tx),
            audio_out,
            stop: stop.clone(),
            screen: links.screen.clone(),
        };
        let (b, watch) = spawn("media");
        let media_loop = Some(b.spawn(move || {
            let _watch = watch;
            media_loop.run()
        })?);
        if sends_video {
            let (b, watch) = spawn("video-capture");
            let capture = VideoCapture {
                source: opts.video.clone(),
                file,
                media: ep.media,
                jpeg_quality: opts.jpeg_quality,
                camera_format: opts.camera_format,
                preview: links.screen.clone(),
                target: target.clone(),
            };
            let (link, stop) = (link.clone(), stop.clone());
            others.push(b.spawn(move || {
                let _watch = watch;
                sources::capture_video(capture, &link, &stop)
            })?);
        }
        let audio_capture = if sends_audio {
            let (b, watch) = spawn("audio-capture");
            let capture = AudioCapture {
                source: opts.audio.clone(),
                wav,
                muted: links.muted.clone(),
                target: target.clone(),
            };
            let stop = stop.clone();
            Some(b.spawn(move || {
                let _watch = watch;
                sources::capture_audio(capture, &link, &stop)
            })?)
        } else {
            None
        };
        Ok(MediaSession {
            stop,
            waker,
            media_loop,
            audio_capture,
            speaker,
            others,
            failure,
            screen: links.screen,
        })
    }

    /// Why the media stopped by itself (a thread failed), if it did: the
    /// call should end with this reason. Taken, so it is acted on once.
    pub fn take_failure(&self) -> Option<String> {
        lock(&self.failure).reason.take()
    }

    /// Wakes `waker` (a control loop's) should the media fail by itself.
    pub fn notify_on_failure(&mut self, waker: Arc<Waker>) {
        lock(&self.failure).notify = Some(waker);
    }

    /// Stops every thread, closes the sinks, and returns what happened.
    pub fn stop(mut self) -> Quality {
        self.shut_down()
    }

    fn shut_down(&mut self) -> Quality {
        let stopping = Instant::now();
        self.stop.set();
        let _ = self.waker.wake();
        let mut q = self
            .media_loop
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        // With the loop gone the sinks' channels are closed and they finish.
        q.sound_overruns = self
            .audio_capture
            .take()
            .and_then(|t| t.join().ok())
            .flatten();
        q.sound_underruns = self.speaker.take().and_then(|t| t.join().ok()).flatten();
        for t in self.others.drain(..) {
            let _ = t.join();
        }
        q.display = self.screen.as_ref().map(|s| s.stats());
        q.stop_time = stopping.elapsed();
        q
    }
}

impl Drop for MediaSession {
    /// A session dropped without [`MediaSession::stop`] still stops its threads.
    fn drop(&mut self) {
        if self.media_loop.is_some() {
            let _ = self.shut_down();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peercall::call::negotiate::{NO_VIDEO, OPUS_RTP_RATE};
    use peercall::wire::{AudioCodec, AudioFormat, MediaDescription, MediaPorts};
    use std::net::{IpAddr, UdpSocket as StdUdp};

    #[test]
    fn a_thread_that_panics_stops_the_media_and_wakes_the_call_with_a_reason() {
        let mut media_poll = Poll::new().unwrap();
        let mut call_poll = Poll::new().unwrap();
        let failure = Arc::new(Mutex::new(Failure::default()));
        let call_waker = Arc::new(Waker::new(call_poll.registry(), mio::Token(7)).unwrap());
        lock(&failure).notify = Some(call_waker);
        let stop = Stop::new();
        let media_waker = Arc::new(Waker::new(media_poll.registry(), WAKE).unwrap());
        let watch = PanicWatch {
            name: "video-capture",
            failure: failure.clone(),
            stop: stop.clone(),
            waker: media_waker.clone(),
        };
        let t = std::thread::spawn(move || {
            let _watch = watch;
            panic!("a bug");
        });
        assert!(t.join().is_err());
        assert!(stop.is_set(), "the media stops");
        let mut events = mio::Events::with_capacity(4);
        for (poll, token) in [(&mut media_poll, WAKE), (&mut call_poll, mio::Token(7))] {
            poll.poll(&mut events, Some(Duration::from_secs(1)))
                .unwrap();
            assert!(events.iter().any(|e| e.token() == token), "woken");
        }
        let session = MediaSession {
            stop,
            waker: media_waker,
            media_loop: None,
            audio_capture: None,
            speaker: None,
            others: Vec::new(),
            failure,
            screen: None,
        };
        assert_eq!(
            session.take_failure().as_deref(),
            Some("the video-capture thread failed")
        );
        assert_eq!(session.take_failure(), None, "acted on once");
    }

    #[test]
    fn dropping_a_session_stops_its_threads_and_frees_its_ports() {
        let (audio, video) = (
            StdUdp::bind("127.0.0.1:0").unwrap(),
            StdUdp::bind("127.0.0.1:0").unwrap(),
        );
        let mine = (audio.local_addr().unwrap(), video.local_addr().unwrap());
        // The other side: sockets that take what is sent and answer nothing.
        let (their_audio, their_video) = (
            StdUdp::bind("127.0.0.1:0").unwrap(),
            StdUdp::bind("127.0.0.1:0").unwrap(),
        );
        let ep = Endpoints {
            audio,
            video,
            remote_ip: IpAddr::from([127, 0, 0, 1]),
            remote: MediaPorts {
                audio: their_audio.local_addr().unwrap().port(),
                video: their_video.local_addr().unwrap().port(),
            },
            media: MediaDescription {
                video: NO_VIDEO,
                audio: AudioFormat {
                    codec: AudioCodec::Opus,
                    sample_rate: OPUS_RTP_RATE,
                    channels: 1,
                    frame_ms: 20,
                },
            },
            srtp: None,
        };
        let session =
            MediaSession::start(ep, &MediaOptions::default(), CallLinks::default()).unwrap();
        their_audio
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 2048];
        let (n, from) = their_audio.recv_from(&mut buf).unwrap();
        assert!(n > 12, "RTP arrives");
        assert_eq!(from, mine.0);
        assert!(session.take_failure().is_none());
        drop(session);
        // Every thread is gone: the loop's sockets are closed with it.
        StdUdp::bind(mine.0).expect("audio port free again");
        StdUdp::bind(mine.1).expect("video port free again");
    }
}
