//! A call's media as the control loop holds it: the UDP ports bound when a
//! call is placed or accepted (so the ports announced are real and held for
//! the call's life), the [`MediaSession`] while the call is established, and
//! its quality report when it ends. Stopping joins the media's threads, so
//! it runs on a thread of its own: the control loop is woken when the
//! report is ready and holds back everything else it would print or send
//! until then, so the report still comes before the call's end line.

use crate::media::{recording, CallLinks, Endpoints, MediaOptions, MediaSession, Quality};
use mio::Waker;
use peercall::call::{self, negotiate};
use peercall::media::sdp::{self, SdpStreams};
use peercall::media::srtp::MediaKeys;
use peercall::wire::{MediaDescription, MediaPorts};
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::Arc;

/// The UDP sockets a call's media will use.
struct MediaSockets {
    audio: UdpSocket,
    video: UdpSocket,
}

/// The media side of the current call, if any.
pub(super) struct CallMedia {
    /// Wakes the control loop when the media fails by itself.
    waker: Arc<Waker>,
    /// Bound for a call being set up, handed to the session once established.
    sockets: Option<MediaSockets>,
    /// The media of the established call.
    session: Option<MediaSession>,
    /// A call's media being stopped: its report on the way, and what to
    /// print and do once it is out.
    stopping: Option<Stopping>,
}

/// What the control loop does once a call's media has stopped: the line
/// that says the call ended, and the exit code of `peercall call`.
pub(super) struct AfterStop {
    /// Printed after the quality report.
    pub(super) line: String,
    /// `peercall call` leaves with this code.
    pub(super) plan_code: Option<u8>,
}

/// A media session stopping on its own thread.
struct Stopping {
    report: Receiver<Quality>,
    peer: String,
    report_json: bool,
    after: AfterStop,
}

impl CallMedia {
    /// No call yet; a media failure will wake the loop through `waker`.
    pub(super) fn waking(waker: Arc<Waker>) -> CallMedia {
        CallMedia {
            waker,
            sockets: None,
            session: None,
            stopping: None,
        }
    }

    /// Why the call's media stopped by itself, once: the call ends then.
    pub(super) fn failure(&self) -> Option<String> {
        self.session.as_ref()?.take_failure()
    }

    /// Binds the audio and video ports on `ip` for a call being placed or
    /// accepted; returns the ports to announce.
    pub(super) fn bind(&mut self, ip: IpAddr) -> io::Result<MediaPorts> {
        let audio = UdpSocket::bind(SocketAddr::new(ip, 0))?;
        let video = UdpSocket::bind(SocketAddr::new(ip, 0))?;
        let ports = MediaPorts {
            audio: audio.local_addr()?.port(),
            video: video.local_addr()?.port(),
        };
        self.sockets = Some(MediaSockets { audio, video });
        Ok(ports)
    }

    /// The call is up: media starts flowing to the ports the other side announced.
    pub(super) fn start(
        &mut self,
        s: &call::Session,
        ip: &str,
        opts: &MediaOptions,
        links: CallLinks,
    ) {
        let Some(sockets) = self.sockets.take() else {
            return;
        };
        let Ok(remote_ip) = ip.parse() else {
            println!("media not started: the other side's address is unknown");
            return;
        };
        let ep = Endpoints {
            audio: sockets.audio,
            video: sockets.video,
            remote_ip,
            remote: s.remote_ports,
            media: s.media,
            // Every call's media is SRTP under keys only the two ends of
            // this call's handshake can derive.
            srtp: Some(MediaKeys::derive(
                s.media_secret.as_bytes(),
                s.role == call::Role::Caller,
            )),
        };
        let opts = match recording::for_call(opts, s.peer.as_str()) {
            Ok(o) => o,
            Err(e) => {
                println!("media not started: cannot create this call's recording: {e}");
                return;
            }
        };
        match MediaSession::start(ep, &opts, links) {
            Ok(mut m) => {
                m.notify_on_failure(Arc::clone(&self.waker));
                println!("media flowing: {}", negotiate::describe(&s.media));
                for line in recording::announcements(&opts) {
                    println!("{line}");
                }
                self.session = Some(m);
                if let Some(fwd) = opts.forward {
                    println!("forwarding the received streams to {fwd}");
                }
            }
            Err(e) => {
                recording::forget(&opts);
                println!("media not started: {e}");
            }
        }
    }

    /// The call ended: releases its ports and stops its media, if it had
    /// any, off the loop. `after` is handed back by [`CallMedia::stopped`]
    /// once the report is printed, or at once without media.
    pub(super) fn end(
        &mut self,
        peer: &str,
        report_json: bool,
        after: AfterStop,
    ) -> Option<AfterStop> {
        self.sockets = None;
        let Some(session) = self.session.take() else {
            return Some(after);
        };
        let (tx, report) = mpsc::channel();
        let waker = Arc::clone(&self.waker);
        let stopper = std::thread::Builder::new()
            .name("media-stop".into())
            .spawn(move || {
                let _ = tx.send(session.stop());
                let _ = waker.wake();
            });
        if let Err(e) = stopper {
            // The session went with the closure that could not run: it
            // stops its threads as it drops, but its report is lost.
            println!("quality report lost: no thread to stop the media ({e})");
            return Some(after);
        }
        self.stopping = Some(Stopping {
            report,
            peer: peer.to_string(),
            report_json,
            after,
        });
        None
    }

    /// Whether a call's media is still stopping: the loop holds back its
    /// other output until it is done.
    pub(super) fn is_stopping(&self) -> bool {
        self.stopping.is_some()
    }

    /// The stopped media's report, printed, and what was to follow it.
    pub(super) fn stopped(&mut self) -> Option<AfterStop> {
        let st = self.stopping.as_ref()?;
        let quality = match st.report.try_recv() {
            Ok(q) => Some(q),
            Err(TryRecvError::Empty) => return None,
            Err(TryRecvError::Disconnected) => None,
        };
        let st = self.stopping.take()?;
        match quality {
            Some(q) => {
                for line in q.lines(&st.peer) {
                    println!("{line}");
                }
                if st.report_json {
                    println!("{}", q.json(&st.peer));
                }
            }
            None => println!("quality report lost: stopping the media failed"),
        }
        Some(st.after)
    }
}

/// `--forward` with `--sdp`, at start-up: writes the description a player
/// opens to show the copy of each call's received streams. Every call
/// forwards to the same ports in the formats this peer offers, so it is
/// known before the first call and a player can be started first. The
/// error is the one line a bad command line gets.
pub(super) fn write_sdp(
    name: &str,
    offer: &MediaDescription,
    opts: &MediaOptions,
) -> Result<(), String> {
    let (Some(fwd), Some(path)) = (opts.forward, &opts.sdp) else {
        return Ok(());
    };
    let text = sdp::describe(&SdpStreams {
        name: format!("peercall: {name}"),
        addr: fwd.ip(),
        video_port: fwd.port(),
        audio_port: fwd.port() + 2,
        media: *offer,
    });
    let shown = path.display();
    std::fs::write(path, text).map_err(|e| {
        format!(
            "--sdp {shown}: cannot write it ({e}); give a file in a directory this user can write"
        )
    })?;
    println!(
        "received streams of each call go to {fwd}; a player opens {shown} (ffplay -protocol_whitelist file,rtp,udp -i {shown})"
    );
    Ok(())
}
