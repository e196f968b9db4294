//! What the media session asks of its shell, polled from
//! [`MediaSession::poll_output`](super::MediaSession::poll_output): datagrams
//! to send, video frames to show, audio frames to play and events to tell;
//! and the bounded queue they wait in, through which every datagram the
//! session sends passes to be SRTP-protected.

use super::protect::Srtp;
use super::{StreamKind, MAX_QUEUED_OUTPUTS};
use crate::media::jitter::Playout;
use crate::media::jpeg::JpegFrame;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

/// A datagram to send from one of the call's two sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The socket: the stream's.
    pub stream: StreamKind,
    /// Where to.
    pub to: SocketAddr,
    /// The datagram.
    pub bytes: Vec<u8>,
}

/// A received video frame to show now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Show {
    /// The frame.
    pub frame: JpegFrame,
    /// When the other side captured it, on our clock (from its sender
    /// reports); `None` until they relate its timestamps to a wallclock.
    /// A display measures capture-to-present latency from it.
    pub captured: Option<Instant>,
}

/// A frame period of received audio to play now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Play {
    /// What to decode (or conceal, or silence while filling).
    pub playout: Playout,
    /// RTP timestamp of the frame it stands for, once playing.
    pub timestamp: Option<u32>,
}

/// Things the shell may want to tell the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEvent {
    /// The other side said RTCP BYE on this stream: it stopped sending.
    Bye(StreamKind),
}

/// What the session asks of its shell.
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send a datagram.
    Transmit(Transmit),
    /// Show a video frame.
    Show(Show),
    /// Play an audio frame.
    Play(Play),
    /// Tell the user.
    Event(SessionEvent),
}

/// Outputs waiting to be polled, at most [`MAX_QUEUED_OUTPUTS`](super::MAX_QUEUED_OUTPUTS). Its own
/// type so a stream can be borrowed while its datagrams are queued; it holds
/// the SRTP senders because every datagram the session sends passes here.
#[derive(Debug)]
pub(super) struct Outputs(
    pub(super) VecDeque<Output>,
    pub(super) Srtp<peercall_srtp::Sender>,
);

impl Outputs {
    /// Queues `out`, dropping the oldest datagram when full.
    pub(super) fn push(&mut self, out: Output) {
        if self.0.len() >= MAX_QUEUED_OUTPUTS {
            // Drop the oldest datagram; frames to show and play stay, as
            // the user would notice those.
            match self.0.iter().position(|o| matches!(o, Output::Transmit(_))) {
                Some(i) => {
                    self.0.remove(i);
                }
                None => {
                    self.0.pop_front();
                }
            }
        }
        self.0.push_back(out);
    }

    /// Queues a datagram to send: SRTP- or SRTCP-protected when the
    /// session has keys (the one place every sent datagram passes).
    pub(super) fn transmit(&mut self, stream: StreamKind, to: SocketAddr, bytes: Vec<u8>) {
        if let Some(bytes) = self.1.protect(stream, bytes) {
            self.push(Output::Transmit(Transmit { stream, to, bytes }));
        }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.0.len()
    }
}
