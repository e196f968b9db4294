//! A call's media as the control loop holds it: the UDP ports bound when a
//! call is placed or accepted (so the ports announced are real and held for
//! the call's life), the [`MediaSession`] while the call is established, and
//! its quality report when it ends.

use crate::media::{Endpoints, MediaOptions, MediaSession};
use mio::Waker;
use peercall::call::{self, negotiate};
use peercall::media::sdp::{self, SdpStreams};
use peercall::wire::MediaPorts;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
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
}

impl CallMedia {
    /// No call yet; a media failure will wake the loop through `waker`.
    pub(super) fn waking(waker: Arc<Waker>) -> CallMedia {
        CallMedia {
            waker,
            sockets: None,
            session: None,
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
    pub(super) fn start(&mut self, s: &call::Session, ip: &str, opts: &MediaOptions) {
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
        };
        match MediaSession::start(ep, opts) {
            Ok(mut m) => {
                m.notify_on_failure(Arc::clone(&self.waker));
                println!("media flowing: {}", negotiate::describe(&s.media));
                self.session = Some(m);
                write_sdp(s, opts);
            }
            Err(e) => println!("media not started: {e}"),
        }
    }

    /// The call ended: releases its ports and prints the quality report of
    /// its media, if it had any.
    pub(super) fn end(&mut self, peer: &str, report_json: bool) {
        self.sockets = None;
        if let Some(session) = self.session.take() {
            let quality = session.stop();
            for line in quality.lines(peer) {
                println!("{line}");
            }
            if report_json {
                println!("{}", quality.json(peer));
            }
        }
    }
}

/// `--forward` with `--sdp`: the description a player opens to show the
/// copy of this call's received streams.
fn write_sdp(s: &call::Session, opts: &MediaOptions) {
    let (Some(fwd), Some(path)) = (opts.forward, &opts.sdp) else {
        if let Some(fwd) = opts.forward {
            println!("forwarding the received streams to {fwd}");
        }
        return;
    };
    let text = sdp::describe(&SdpStreams {
        name: format!("peercall: call with {}", s.peer),
        addr: fwd.ip(),
        video_port: fwd.port(),
        audio_port: fwd.port() + 2,
        media: s.media,
    });
    match std::fs::write(path, text) {
        Ok(()) => println!(
            "forwarding the received streams to {fwd}; a player opens {} (ffplay -protocol_whitelist file,rtp,udp -i {})",
            path.display(),
            path.display()
        ),
        Err(e) => println!(
            "forwarding the received streams to {fwd}, but the SDP could not be written to {}: {e}",
            path.display()
        ),
    }
}
