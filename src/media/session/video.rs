//! The received video stream: RFC 2435 fragments reassembled into JPEG
//! frames, and complete frames held until their sound plays (lip sync), at
//! most [`MAX_VIDEO_HOLD`] of them and never longer than [`MAX_VIDEO_DELAY`].

use crate::media::jpeg::{FrameAssembler, JpegFrame};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Complete video frames held back to meet the sound they belong to; beyond
/// this the oldest is dropped, so video delay cannot build up (200 ms at 30 fps).
pub const MAX_VIDEO_HOLD: usize = 6;

/// Longest a complete frame is held for its sound. The audio jitter buffer
/// is at most 200 ms deep, so a frame due later than this comes from a
/// timestamp that jumped (a paused sender, a bad sender report): it is shown
/// rather than held behind a clock it will never meet.
pub const MAX_VIDEO_DELAY: Duration = Duration::from_millis(500);

/// Received video between the network and the screen.
#[derive(Debug, Default)]
pub(super) struct VideoIn {
    pub(super) assembler: FrameAssembler,
    /// Complete frames and when each is due, in arrival order.
    pub(super) held: VecDeque<(Instant, JpegFrame)>,
    pub(super) received: u64,
    pub(super) superseded: u64,
}

impl VideoIn {
    /// A complete frame, due at `due` (clamped to [`MAX_VIDEO_DELAY`] from `now`).
    pub(super) fn hold(&mut self, now: Instant, due: Instant, frame: JpegFrame) {
        self.received += 1;
        self.held.push_back((due.min(now + MAX_VIDEO_DELAY), frame));
        if self.held.len() > MAX_VIDEO_HOLD {
            self.held.pop_front();
            self.superseded += 1;
        }
    }

    /// The oldest held frame if it is due at `now`.
    pub(super) fn due(&mut self, now: Instant) -> Option<JpegFrame> {
        if self.held.front().is_some_and(|(due, _)| *due <= now) {
            return self.held.pop_front().map(|(_, f)| f);
        }
        None
    }

    /// When the oldest held frame is due.
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.held.front().map(|(due, _)| *due)
    }
}
