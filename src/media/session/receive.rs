//! The way in: a datagram from one of the call's two sockets is checked to
//! come from the other side's port for its stream, authenticated and
//! decrypted (SRTP/SRTCP) before anything reads it, then told apart (RTCP,
//! media RTP, retransmission, FEC) and handed to its stream: reports to the
//! RTCP state, video packets to the frame assembler and from there to be
//! held for their sound, audio packets to the jitter buffer. What became of
//! each datagram, [`Received`], is what the shell forwards by.

use super::protect::Refused;
use super::{pick, MediaSession, Output, SessionEvent, StreamKind};
use crate::media::fec::PT_FLEXFEC;
use crate::media::jpeg::Rejected;
use crate::media::rtp::{classify, Kind, RtpHeader, PT_JPEG, PT_OPUS, PT_RTX};
use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::Instant;

/// What became of a datagram given to [`MediaSession::handle_packet`]; the
/// shell passes on copies (`--forward`) of the accepted ones only.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// An RTP packet of the stream, taken.
    Rtp,
    /// An RTCP compound from the other side, taken.
    Rtcp,
    /// From another address than the other side's port for that stream, or
    /// from another source than the stream's: dropped and counted.
    Foreign,
    /// Neither RTP nor RTCP, malformed, or of another payload type: dropped.
    Malformed,
    /// From the peer's address but failing SRTP authentication (forged,
    /// corrupted, under another key, or plain RTP) or replayed: dropped
    /// unparsed and counted ([`Quality::srtp_auth_failed`](super::Quality::srtp_auth_failed),
    /// [`Quality::srtp_replayed`](super::Quality::srtp_replayed)).
    Unauthenticated,
}

impl MediaSession {
    /// A datagram arrived on `stream`'s socket from `from`.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        stream: StreamKind,
        from: SocketAddr,
        bytes: &[u8],
    ) -> Received {
        self.handle_packet_plain(now, stream, from, bytes).0
    }

    /// [`MediaSession::handle_packet`], handing back as well the datagram's
    /// plain RTP or RTCP when the session took it (decrypted when the call
    /// is encrypted): what a shell copies to a local player (`--forward`).
    pub fn handle_packet_plain<'a>(
        &mut self,
        now: Instant,
        stream: StreamKind,
        from: SocketAddr,
        bytes: &'a [u8],
    ) -> (Received, Option<Cow<'a, [u8]>>) {
        // A dual-stack socket reports IPv4 senders as ::ffff:a.b.c.d.
        let from = crate::wire::canonical_addr(from);
        let Some(s) = pick(&mut self.video, &mut self.audio, stream) else {
            self.quality.foreign_dropped += 1;
            return (Received::Foreign, None);
        };
        if from != s.remote {
            log::debug!(
                "dropped a packet from {from}: not the call's peer {}",
                s.remote
            );
            self.quality.foreign_dropped += 1;
            return (Received::Foreign, None);
        }
        // Authenticated and decrypted before anything reads it.
        let plain = match self.srtp_in.unprotect(stream, bytes) {
            Ok(None) => Cow::Borrowed(bytes),
            Ok(Some(p)) => Cow::Owned(p),
            Err(why) => {
                log::debug!("dropped a {stream:?} packet from {from}: SRTP {why:?}");
                match why {
                    Refused::Auth => self.quality.srtp_auth_failed += 1,
                    Refused::Replay => self.quality.srtp_replayed += 1,
                }
                return (Received::Unauthenticated, None);
            }
        };
        let r = self.handle_plain(now, stream, from, &plain);
        let taken = matches!(r, Received::Rtp | Received::Rtcp);
        (r, taken.then_some(plain))
    }

    /// A datagram from the peer's address, in the clear.
    pub(super) fn handle_plain(
        &mut self,
        now: Instant,
        stream: StreamKind,
        from: SocketAddr,
        bytes: &[u8],
    ) -> Received {
        let ntp_now = self.ntp(now);
        let Some(s) = pick(&mut self.video, &mut self.audio, stream) else {
            return Received::Foreign;
        };
        match classify(bytes) {
            Kind::Rtcp => match s.handle_rtcp(now, ntp_now, bytes) {
                Ok(news) => {
                    if news.bye {
                        self.outputs.push(Output::Event(SessionEvent::Bye(stream)));
                    }
                    match stream {
                        StreamKind::Video => self.video_feedback(now, news),
                        StreamKind::Audio => {
                            if let Some(l) = news.loss {
                                // Reports come once a second; half the weight
                                // on each keeps one spell from swinging it.
                                let avg = self.audio_loss.map_or(l, |a| (a + l) / 2.0);
                                self.audio_loss = Some(avg);
                            }
                        }
                    }
                    Received::Rtcp
                }
                Err(()) => {
                    log::debug!("malformed RTCP from {from} dropped");
                    Received::Malformed
                }
            },
            Kind::Rtp => {
                let Ok((h, payload)) = RtpHeader::parse(bytes) else {
                    log::debug!("malformed RTP from {from} dropped");
                    return Received::Malformed;
                };
                if stream == StreamKind::Video && h.payload_type == PT_RTX {
                    return self.video_rtx(now, from, &h, payload);
                }
                if stream == StreamKind::Video && h.payload_type == PT_FLEXFEC {
                    return self.video_fec(now, from, &h, bytes);
                }
                let expected = match stream {
                    StreamKind::Video => PT_JPEG,
                    StreamKind::Audio => PT_OPUS,
                };
                if h.payload_type != expected {
                    log::debug!(
                        "RTP payload type {} on the {stream:?} stream dropped",
                        h.payload_type
                    );
                    self.quality.payload_type_dropped += 1;
                    return Received::Malformed;
                }
                let newest = match s.heard(now, &mut self.rng, &h) {
                    Ok(newest) => newest,
                    Err(why) => {
                        log::debug!("RTP from {from} dropped: {why:?}");
                        self.quality.foreign_dropped += 1;
                        return Received::Foreign;
                    }
                };
                match stream {
                    StreamKind::Video => {
                        self.video_arrived(now, &h, bytes.len());
                        self.video_packet(now, &h, payload, newest);
                        if self.feedback {
                            let recovered = self.fec_in.media(bytes);
                            self.fec_recovered(now, recovered);
                        }
                    }
                    StreamKind::Audio => self.audio_packet(now, &h, payload),
                }
                Received::Rtp
            }
            Kind::Unknown => {
                log::debug!("dropped a datagram from {from} that is neither RTP nor RTCP");
                Received::Malformed
            }
        }
    }

    /// A video packet; `newest`: the highest sequence number heard so far.
    pub(super) fn video_packet(
        &mut self,
        now: Instant,
        h: &RtpHeader,
        payload: &[u8],
        newest: bool,
    ) {
        let asm = &mut self.video_in.assembler;
        let mut pushed = asm.push(h.sequence, h.timestamp, h.marker, payload);
        if newest && matches!(pushed, Err(Rejected::Late)) {
            // Next in sequence yet behind the last frame: the sender's clock
            // went back (a restarted capture), not a late packet. Without
            // starting over no picture would show until its timestamps
            // caught up, hours later for a big jump.
            self.video_in.restart();
            pushed = self
                .video_in
                .assembler
                .push(h.sequence, h.timestamp, h.marker, payload);
        }
        let Ok(Some(frame)) = pushed else {
            return;
        };
        let repaired = self.repaired_frames.contains(&frame.timestamp);
        let playout = self.video_in.playout_due(now, frame.timestamp, repaired);
        let due = match self.video_due(frame.timestamp) {
            Some(sync) => sync.max(playout),
            None => playout,
        };
        self.video_in.hold(now, due, frame);
        self.show_due(now);
    }

    pub(super) fn audio_packet(&mut self, now: Instant, h: &RtpHeader, payload: &[u8]) {
        self.audio_in
            .buffer
            .push(now, h.sequence, h.timestamp, payload.to_vec());
        if self.audio_in.should_start(now) {
            self.play(now);
        }
    }
}
