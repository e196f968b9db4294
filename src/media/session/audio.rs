//! The received audio stream's playout: the jitter buffer and the clock that
//! takes one 20 ms frame from it at a time. Either the session keeps that
//! clock (sinks without one: a file, nothing), starting it the moment the
//! buffer first holds its target depth and again after the stream stopped
//! and refilled, so the delay is the buffer's depth and not also wherever a
//! free-running tick happened to fall; or the sink's own clock (a sound
//! card) asks for each frame, and the buffer absorbs the drift between the
//! card and the sender.

use crate::media::jitter::{JitterBuffer, Playout, OPUS_20MS};
use std::time::{Duration, Instant};

/// One Opus frame's duration.
pub const AUDIO_FRAME: Duration = Duration::from_millis(20);

/// Whose clock paces audio playout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayoutClock {
    /// The session's: a frame every 20 ms of the `now` it is given, from
    /// [`super::MediaSession::handle_timeout`].
    Session,
    /// The sink's: the first frame comes when the buffer can play, each
    /// later one when the sink asks ([`super::MediaSession::pull_audio`]).
    Sink,
}

/// Received audio between the network and the speaker.
#[derive(Debug)]
pub(super) struct AudioIn {
    pub(super) buffer: JitterBuffer,
    pub(super) clock: PlayoutClock,
    /// With the session's clock: its origin and the number of the next frame.
    pub(super) tick: Option<(Instant, u32)>,
    /// With the sink's clock: whether the first frame went out.
    pub(super) started: bool,
    /// The RTP timestamp of the frame playing and when it is heard.
    pub(super) playing: Option<(u32, Instant)>,
}

impl AudioIn {
    pub(super) fn new(clock: PlayoutClock) -> Self {
        AudioIn {
            buffer: JitterBuffer::new(OPUS_20MS),
            clock,
            tick: None,
            started: false,
            playing: None,
        }
    }

    /// When the session's clock next plays a frame.
    pub(super) fn next_tick(&self) -> Option<Instant> {
        let (origin, k) = self.tick?;
        Some(origin + AUDIO_FRAME * k)
    }

    /// Whether playout should start now that a packet arrived: the first
    /// frame goes out at once and, with the session's clock, starts it.
    pub(super) fn should_start(&mut self, now: Instant) -> bool {
        if !self.buffer.can_play() {
            return false;
        }
        match self.clock {
            PlayoutClock::Session if self.tick.is_none() => {
                self.tick = Some((now, 0));
                true
            }
            PlayoutClock::Sink if !self.started => {
                self.started = true;
                true
            }
            _ => false,
        }
    }

    /// Takes the next frame for the speaker; with the session's clock, a
    /// frame still waiting to fill stops the clock until the buffer can play.
    pub(super) fn pop(&mut self) -> (Playout, Option<u32>) {
        let playout = self.buffer.pop();
        if let Some((origin, k)) = self.tick {
            self.tick = (playout != Playout::Waiting).then_some((origin, k + 1));
        }
        (playout, self.buffer.playing_timestamp())
    }
}
