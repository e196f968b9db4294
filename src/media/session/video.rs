//! The received video stream: RFC 2435 fragments reassembled into JPEG
//! frames, and complete frames held until their playout time, then shown in
//! timestamp order.
//!
//! A frame's playout time is when its first packet would arrive with the
//! least delay seen lately (the path's base delay, so the two hosts' clocks
//! never need to agree), plus the spread a whole frame takes to arrive, plus
//! the repair allowance: the time retransmissions need to fill the frame's
//! gaps, which the session sets from the round trip and the loss it sees
//! (zero on a clean link, so a clean call has no added delay). A frame
//! still incomplete when a newer one is shown is given up. Frames are also
//! held until their sound plays (lip sync), at most [`MAX_VIDEO_HOLD`] of
//! them and never longer than [`MAX_VIDEO_DELAY`].

use crate::media::jpeg::{FrameAssembler, JpegFrame};
use crate::media::rtp::VIDEO_CLOCK_RATE;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Complete video frames held back for their playout time or their sound;
/// beyond this the oldest is dropped, so video delay cannot build up (400 ms
/// at 30 fps, twice the longest playout delay).
pub const MAX_VIDEO_HOLD: usize = 12;

/// Longest a complete frame is held for its sound. The audio jitter buffer
/// is at most 200 ms deep, so a frame due later than this comes from a
/// timestamp that jumped (a paused sender, a bad sender report): it is shown
/// rather than held behind a clock it will never meet.
pub const MAX_VIDEO_DELAY: Duration = Duration::from_millis(500);

/// How long the least delay seen (the base) and the largest frame spread
/// are remembered: minima and maxima over the last one to two windows, so
/// a route or queue that changed is followed within seconds.
pub const PLAYOUT_WINDOW: Duration = Duration::from_secs(4);

/// Most spread a frame's arrival is allowed to add: a frame whose packets
/// took longer than this to arrive after the base is shown late rather
/// than delaying every frame.
pub const MAX_FRAME_SPREAD: Duration = Duration::from_millis(100);

/// A minimum or maximum over a sliding window of about [`PLAYOUT_WINDOW`]:
/// the extreme of the current window and the one before it.
#[derive(Debug, Clone, Copy)]
struct Windowed {
    /// Whether larger values win.
    max: bool,
    current: Option<i64>,
    previous: Option<i64>,
    started: Option<Instant>,
}

impl Windowed {
    fn new(max: bool) -> Windowed {
        Windowed {
            max,
            current: None,
            previous: None,
            started: None,
        }
    }

    fn better(&self, a: i64, b: i64) -> i64 {
        if self.max {
            a.max(b)
        } else {
            a.min(b)
        }
    }

    fn add(&mut self, now: Instant, v: i64) {
        let started = *self.started.get_or_insert(now);
        if now.saturating_duration_since(started) >= PLAYOUT_WINDOW {
            self.previous = self.current;
            self.current = None;
            self.started = Some(now);
        }
        self.current = Some(self.current.map_or(v, |c| self.better(c, v)));
    }

    fn value(&self) -> Option<i64> {
        match (self.current, self.previous) {
            (Some(a), Some(b)) => Some(self.better(a, b)),
            (a, b) => a.or(b),
        }
    }

    fn reset(&mut self) {
        *self = Windowed::new(self.max);
    }
}

/// When frames are due, from their RTP timestamps.
#[derive(Debug)]
struct PlayoutTiming {
    /// The instant arrival times are measured from.
    epoch: Option<Instant>,
    /// The RTP timestamp the frame times are measured from.
    reference: Option<u32>,
    /// Least arrival minus media time over the window, in µs: the base delay
    /// (plus the clock offset, which cancels out).
    base: Windowed,
    /// Largest time past the base a frame without repair took to complete, µs.
    spread: Windowed,
    /// The repair allowance in force.
    repair: Duration,
}

impl PlayoutTiming {
    fn new() -> PlayoutTiming {
        PlayoutTiming {
            epoch: None,
            reference: None,
            base: Windowed::new(false),
            spread: Windowed::new(true),
            repair: Duration::ZERO,
        }
    }

    /// The frame time of `ts` in µs from the reference, and `now` in µs from
    /// the epoch (both set by the first call).
    fn times(&mut self, now: Instant, ts: u32) -> (i64, i64) {
        let epoch = *self.epoch.get_or_insert(now);
        let reference = *self.reference.get_or_insert(ts);
        // Within ±2^31 ticks (6.6 hours at 90 kHz) of the reference.
        let ticks = i64::from(ts.wrapping_sub(reference) as i32);
        let media = ticks * 1_000_000 / i64::from(VIDEO_CLOCK_RATE);
        let arrival = now.saturating_duration_since(epoch).as_micros() as i64;
        (media, arrival)
    }

    fn packet(&mut self, now: Instant, ts: u32) {
        let (media, arrival) = self.times(now, ts);
        self.base.add(now, arrival - media);
    }

    /// A frame completed at `now`; `repaired`: some of it came late by
    /// retransmission, so its time says nothing about the path's spread.
    /// Returns when it is due.
    fn complete(&mut self, now: Instant, ts: u32, repaired: bool) -> Instant {
        let (media, arrival) = self.times(now, ts);
        let base = self.base.value().unwrap_or(arrival - media);
        let late = (arrival - media - base).max(0);
        if !repaired {
            self.spread
                .add(now, late.min(MAX_FRAME_SPREAD.as_micros() as i64));
        }
        let spread = self.spread.value().unwrap_or(0).max(0);
        let due_us = media + base + spread + self.repair.as_micros() as i64;
        let epoch = self.epoch.unwrap_or(now);
        if due_us <= 0 {
            epoch
        } else {
            epoch + Duration::from_micros(due_us as u64)
        }
    }

    /// How much later than the base delay a packet of `ts` arrives now.
    fn queueing(&mut self, now: Instant, ts: u32) -> Duration {
        let (media, arrival) = self.times(now, ts);
        let late = self.base.value().map_or(0, |b| arrival - media - b);
        Duration::from_micros(late.max(0) as u64)
    }

    /// The delay added to the fastest packet's arrival: spread and repair.
    fn delay(&self) -> Duration {
        let spread = self.spread.value().unwrap_or(0).max(0) as u64;
        Duration::from_micros(spread) + self.repair
    }

    fn reset(&mut self) {
        self.reference = None;
        self.base.reset();
        self.spread.reset();
    }
}

/// Received video between the network and the screen.
#[derive(Debug)]
pub(super) struct VideoIn {
    pub(super) assembler: FrameAssembler,
    /// Complete frames and when each is due, in timestamp order.
    pub(super) held: VecDeque<(Instant, JpegFrame)>,
    pub(super) received: u64,
    pub(super) superseded: u64,
    timing: PlayoutTiming,
}

impl VideoIn {
    /// Received video, `repair`ed by retransmission or not: without repair
    /// a newer frame completing gives up the older incomplete ones at once.
    pub(super) fn new(repair: bool) -> Self {
        VideoIn {
            assembler: if repair {
                FrameAssembler::for_repair()
            } else {
                FrameAssembler::new()
            },
            held: VecDeque::new(),
            received: 0,
            superseded: 0,
            timing: PlayoutTiming::new(),
        }
    }

    /// An original packet of the frame at `ts` arrived now (retransmissions
    /// say nothing about the path's base delay).
    pub(super) fn packet_arrived(&mut self, now: Instant, ts: u32) {
        self.timing.packet(now, ts);
    }

    /// When a frame completed now is due by its playout time alone.
    pub(super) fn playout_due(&mut self, now: Instant, ts: u32, repaired: bool) -> Instant {
        self.timing.complete(now, ts, repaired)
    }

    /// How much later than the path's base delay a packet of `ts` arrived now.
    pub(super) fn queueing(&mut self, now: Instant, ts: u32) -> Duration {
        self.timing.queueing(now, ts)
    }

    /// The delay frames wait past the fastest arrival: spread and repair.
    pub(super) fn playout_delay(&self) -> Duration {
        self.timing.delay()
    }

    /// The repair allowance now in force.
    pub(super) fn repair_allowance(&self) -> Duration {
        self.timing.repair
    }

    /// Sets the repair allowance.
    pub(super) fn set_repair_allowance(&mut self, d: Duration) {
        self.timing.repair = d;
    }

    /// The sender restarted its timestamps: the playout clock starts over.
    pub(super) fn restart(&mut self) {
        self.assembler.reset();
        self.timing.reset();
    }

    /// A complete frame, due at `due` (clamped to [`MAX_VIDEO_DELAY`] from
    /// `now`), placed by timestamp.
    pub(super) fn hold(&mut self, now: Instant, due: Instant, frame: JpegFrame) {
        self.received += 1;
        let due = due.min(now + MAX_VIDEO_DELAY);
        let newer = |a: u32, b: u32| a != b && a.wrapping_sub(b) < 1 << 31;
        let at = self
            .held
            .iter()
            .position(|(_, f)| newer(f.timestamp, frame.timestamp))
            .unwrap_or(self.held.len());
        self.held.insert(at, (due, frame));
        if self.held.len() > MAX_VIDEO_HOLD {
            self.held.pop_front();
            self.superseded += 1;
        }
    }

    /// The oldest held frame if it is due at `now` (a frame is never shown
    /// before an older one).
    pub(super) fn due(&mut self, now: Instant) -> Option<JpegFrame> {
        if self.held.front().is_some_and(|(due, _)| *due <= now) {
            let frame = self.held.pop_front().map(|(_, f)| f)?;
            self.assembler.give_up_through(frame.timestamp);
            return Some(frame);
        }
        None
    }

    /// The timestamp of the oldest held frame if it is due at `now`.
    pub(super) fn front_due(&self, now: Instant) -> Option<u32> {
        self.held
            .front()
            .filter(|(due, _)| *due <= now)
            .map(|(_, f)| f.timestamp)
    }

    /// The oldest held frame waits until `due` (its sound was delayed).
    pub(super) fn postpone_front(&mut self, due: Instant) {
        if let Some(front) = self.held.front_mut() {
            front.0 = due;
        }
    }

    /// When the oldest held frame is due.
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.held.front().map(|(due, _)| *due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windowed_extremes_forget_old_windows() {
        let t0 = Instant::now();
        let mut w = Windowed::new(false);
        w.add(t0, 10);
        w.add(t0 + PLAYOUT_WINDOW / 2, 20);
        assert_eq!(w.value(), Some(10));
        w.add(t0 + PLAYOUT_WINDOW, 30);
        assert_eq!(w.value(), Some(10), "the previous window still counts");
        w.add(t0 + PLAYOUT_WINDOW * 2, 40);
        assert_eq!(w.value(), Some(30));
    }

    #[test]
    fn frames_are_due_at_the_base_delay_plus_spread_plus_repair() {
        let t0 = Instant::now();
        let mut t = PlayoutTiming::new();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        // Frames every 100 ms (9000 ticks), first packets arriving 10 ms
        // after their time; the third frame's last packet 5 ms after that.
        for k in 0..3u32 {
            t.packet(ms(u64::from(k) * 100 + 10), 1000 + k * 9000);
        }
        let due = t.complete(ms(215), 1000 + 2 * 9000, false);
        assert_eq!(due, ms(215));
        assert_eq!(t.delay(), Duration::from_millis(5));
        // With a repair allowance the next frame waits for it.
        t.repair = Duration::from_millis(50);
        t.packet(ms(310), 1000 + 3 * 9000);
        let due = t.complete(ms(312), 1000 + 3 * 9000, false);
        assert_eq!(due, ms(300 + 10 + 5 + 50));
        // A repaired frame's lateness does not widen the spread.
        t.packet(ms(410), 1000 + 4 * 9000);
        let due = t.complete(ms(480), 1000 + 4 * 9000, true);
        assert_eq!(due, ms(400 + 10 + 5 + 50));
    }
}
