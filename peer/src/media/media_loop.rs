//! The media loop: the one thread that owns a call's
//! [`peercall::media::session::MediaSession`]. It polls the call's two UDP
//! sockets and a waker (the other media threads' inputs), feeds the session
//! what arrives (through the optional `--impair` layer, passing copies of
//! what the session accepted to a player with `--forward`), sends what the
//! session says, and hands frames to the sink threads over bounded channels,
//! until the stop signal; then it says RTCP BYE and returns the report.

use super::display::CallPictures;
use super::runtime::{Input, Stop};
use super::sinks::Player;
use mio::net::UdpSocket;
use mio::{Events, Poll, Token};
use peercall::media::impair::Impairment;
use peercall::media::rtp::{classify, Kind};
use peercall::media::session::{
    self as session, AudioTarget, Output, Play, Quality, Show, StreamKind, VideoFrame, VideoTarget,
};
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Largest datagram read.
const MAX_DATAGRAM: usize = 2048;
/// Events one `poll` returns at most.
const EVENTS: usize = 16;
/// How often the window's status line gets new figures.
const LIVE_INTERVAL: Duration = Duration::from_millis(500);

/// The video socket's token.
pub(super) const VIDEO: Token = Token(0);
/// The audio socket's token.
pub(super) const AUDIO: Token = Token(1);
/// The waker's token.
pub(super) const WAKE: Token = Token(2);

/// Where one received stream's copy goes (`--forward`): every RTP packet and
/// every RTCP compound that the call's peer sent, decrypted (plain RTP, as
/// the SDP's `i=` line says) and otherwise as they are, so a player
/// gets the same timestamps and sender reports (for its own lip sync). The
/// player's answers come back to a socket nobody reads; they are not needed.
pub(super) struct Forward {
    sock: std::net::UdpSocket,
    /// Video RTP and RTCP, audio RTP and RTCP (RFC 3550's even/odd pairs).
    video: (SocketAddr, SocketAddr),
    audio: (SocketAddr, SocketAddr),
}

impl Forward {
    pub(super) fn new(base: SocketAddr) -> std::io::Result<Forward> {
        let any: IpAddr = match base {
            SocketAddr::V4(_) => IpAddr::from([0, 0, 0, 0]),
            SocketAddr::V6(_) => IpAddr::from(std::net::Ipv6Addr::UNSPECIFIED),
        };
        let sock = std::net::UdpSocket::bind(SocketAddr::new(any, 0))?;
        let at = |offset: u16| SocketAddr::new(base.ip(), base.port().saturating_add(offset));
        Ok(Forward {
            sock,
            video: (at(0), at(1)),
            audio: (at(2), at(3)),
        })
    }

    fn send(&self, stream: StreamKind, datagram: &[u8]) {
        let (rtp, rtcp) = match stream {
            StreamKind::Video => self.video,
            StreamKind::Audio => self.audio,
        };
        let to = match classify(datagram) {
            Kind::Rtp => rtp,
            Kind::Rtcp => rtcp,
            Kind::Unknown => return,
        };
        if let Err(e) = self.sock.send_to(datagram, to) {
            log::debug!("forward to {to} failed: {e}");
        }
    }
}

/// One stream's `--impair` layer: datagrams with their source, held back.
pub(super) type Impaired = Impairment<(SocketAddr, Vec<u8>)>;

/// Where the loop sends the sound the session says to play.
pub(super) enum AudioOut {
    /// No audio in the call, or the speaker stopped.
    None,
    /// Played by the loop itself: a file or nothing, which never block.
    Here(Player),
    /// To the sound card's thread.
    Card(Option<SyncSender<Play>>),
}

/// The loop's state besides the session.
pub(super) struct MediaLoop {
    pub(super) poll: Poll,
    pub(super) session: session::MediaSession,
    pub(super) video: UdpSocket,
    pub(super) audio: UdpSocket,
    pub(super) inputs: Receiver<Input>,
    /// `--impair` on what each stream receives.
    pub(super) impair: Option<(Impaired, Impaired)>,
    pub(super) forward: Option<Forward>,
    pub(super) shows: Option<SyncSender<Show>>,
    pub(super) audio_out: AudioOut,
    pub(super) stop: Arc<Stop>,
    /// The window, which shows the running figures.
    pub(super) screen: Option<Arc<CallPictures>>,
    /// Where the capture thread reads what the rate control wants.
    pub(super) target: Arc<SharedTarget>,
}

/// The rate control's [`VideoTarget`] and [`AudioTarget`] passed from the
/// media loop (which owns the session) to the capture threads, which read
/// them before every frame: an atomic word each, as a lock would put the
/// loop and the devices in each other's way.
#[derive(Debug)]
pub(super) struct SharedTarget {
    video: AtomicU32,
    audio: AtomicU32,
}

impl SharedTarget {
    pub(super) fn new(video: VideoTarget, audio: AudioTarget) -> SharedTarget {
        let s = SharedTarget {
            video: AtomicU32::new(0),
            audio: AtomicU32::new(0),
        };
        s.publish(video, audio);
        s
    }

    pub(super) fn publish(&self, t: VideoTarget, a: AudioTarget) {
        let packed =
            u32::from(t.quality) | (t.fps_divisor.min(255)) << 8 | (t.scale.min(255)) << 16;
        self.video.store(packed, Ordering::Relaxed);
        // Bitrate in hundreds of bits per second (16 bits: up to 6.5 Mbit/s).
        let audio = (a.bitrate / 100).min(0xffff) | u32::from(a.expected_loss_percent) << 16;
        self.audio.store(audio, Ordering::Relaxed);
    }

    /// The audio target last published.
    pub(super) fn audio(&self) -> AudioTarget {
        let p = self.audio.load(Ordering::Relaxed);
        AudioTarget {
            bitrate: (p & 0xffff) * 100,
            expected_loss_percent: (p >> 16 & 0xff) as u8,
        }
    }

    /// The target last published (its bitrate is not passed on: 0).
    pub(super) fn get(&self) -> VideoTarget {
        let p = self.video.load(Ordering::Relaxed);
        VideoTarget {
            quality: (p & 0xff) as u8,
            fps_divisor: (p >> 8 & 0xff).max(1),
            scale: (p >> 16 & 0xff).max(1),
            bitrate: 0,
        }
    }
}

impl MediaLoop {
    pub(super) fn run(mut self) -> Quality {
        let mut events = Events::with_capacity(EVENTS);
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut live_due = Instant::now();
        while !self.stop.is_set() {
            let now = Instant::now();
            if let Some(s) = self.screen.as_ref().filter(|_| now >= live_due) {
                s.set_live(self.session.live());
                live_due = now + LIVE_INTERVAL;
            }
            let due = [
                self.session.poll_timeout(),
                self.screen.as_ref().map(|_| live_due),
                self.impair.as_ref().and_then(|(v, a)| {
                    [v.next_timeout(), a.next_timeout()]
                        .into_iter()
                        .flatten()
                        .min()
                }),
            ]
            .into_iter()
            .flatten()
            .min();
            let timeout = due.map(|d| d.saturating_duration_since(now));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != ErrorKind::Interrupted {
                    log::error!("media loop: {e}");
                    break;
                }
            }
            for ev in events.iter() {
                match ev.token() {
                    VIDEO => self.receive(StreamKind::Video, &mut buf),
                    AUDIO => self.receive(StreamKind::Audio, &mut buf),
                    _ => {}
                }
            }
            self.take_inputs();
            let now = Instant::now();
            self.release_impaired(now);
            self.session.handle_timeout(now);
            self.target
                .publish(self.session.video_target(), self.session.audio_target());
            self.flush();
        }
        let now = Instant::now();
        self.session.close(now);
        self.flush();
        if let AudioOut::Here(player) = std::mem::replace(&mut self.audio_out, AudioOut::None) {
            player.finish();
        }
        self.session.report(now)
    }

    fn socket(&self, stream: StreamKind) -> &UdpSocket {
        match stream {
            StreamKind::Video => &self.video,
            StreamKind::Audio => &self.audio,
        }
    }

    /// Reads the socket until it would block.
    fn receive(&mut self, stream: StreamKind, buf: &mut [u8]) {
        loop {
            let (n, from) = match self.socket(stream).recv_from(buf) {
                Ok(r) => r,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    // ICMP port unreachable surfaces here while the peer is
                    // not listening yet; keep going.
                    log::debug!("receive on the {stream:?} socket failed: {e}");
                    return;
                }
            };
            let now = Instant::now();
            match self.impair.as_mut() {
                Some((v, a)) => {
                    let imp = if stream == StreamKind::Video { v } else { a };
                    imp.send_sized(now, (from, buf[..n].to_vec()), n);
                }
                None => self.deliver(now, stream, from, &buf[..n]),
            }
            self.flush();
        }
    }

    fn deliver(&mut self, now: Instant, stream: StreamKind, from: SocketAddr, datagram: &[u8]) {
        // The player gets the plain packet the session took (decrypted
        // when the call is SRTP), never one it refused.
        let (_, plain) = self
            .session
            .handle_packet_plain(now, stream, from, datagram);
        if let (Some(f), Some(plain)) = (&self.forward, plain) {
            f.send(stream, &plain);
        }
    }

    fn release_impaired(&mut self, now: Instant) {
        let Some((mut v, mut a)) = self.impair.take() else {
            return;
        };
        while let Some((from, d)) = v.poll(now) {
            self.deliver(now, StreamKind::Video, from, &d);
        }
        while let Some((from, d)) = a.poll(now) {
            self.deliver(now, StreamKind::Audio, from, &d);
        }
        self.impair = Some((v, a));
    }

    fn take_inputs(&mut self) {
        while let Ok(input) = self.inputs.try_recv() {
            let now = Instant::now();
            match input {
                Input::Video {
                    captured,
                    jpeg,
                    from_camera,
                } => {
                    let frame = VideoFrame {
                        captured,
                        jpeg: &jpeg,
                        from_camera,
                    };
                    if let Err(e) = self.session.send_video_frame(now, frame) {
                        log::warn!("frame not sent: {e}");
                    }
                }
                Input::Audio { captured, opus } => {
                    self.session.send_audio_frame(now, captured, &opus)
                }
                Input::Pull { queued } => self.session.pull_audio(now, queued),
            }
            self.flush();
        }
    }

    /// Does what the session asks.
    fn flush(&mut self) {
        while let Some(out) = self.session.poll_output() {
            match out {
                Output::Transmit(t) => {
                    if let Err(e) = self.socket(t.stream).send_to(&t.bytes, t.to) {
                        log::debug!("{:?} send to {} failed: {e}", t.stream, t.to);
                    }
                }
                Output::Show(s) => offer(&mut self.shows, s, "video"),
                Output::Play(p) => match &mut self.audio_out {
                    AudioOut::Here(player) => {
                        if !player.play(p) {
                            self.audio_out = AudioOut::None;
                        }
                    }
                    AudioOut::Card(tx) => offer(tx, p, "audio"),
                    AudioOut::None => {}
                },
                Output::Event(session::SessionEvent::Bye(stream)) => {
                    log::info!("the other side stopped sending {stream:?}");
                }
            }
        }
    }
}

/// Hands a sink a frame without waiting; a full queue drops it, a sink
/// that is gone stops being offered frames.
fn offer<T>(sink: &mut Option<SyncSender<T>>, item: T, what: &str) {
    if let Some(tx) = sink.as_ref() {
        match tx.try_send(item) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => log::debug!("{what} sink behind: a frame dropped"),
            Err(TrySendError::Disconnected(_)) => *sink = None,
        }
    }
}
