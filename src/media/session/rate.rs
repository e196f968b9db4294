//! Rate adaptation of the video we send. Two signals set a target bitrate:
//!
//! - loss, from the other side's receiver reports about our video (RFC 3550
//!   fraction lost, once a report interval): above [`LOSS_HIGH`] the target
//!   falls by half the loss (`target × (1 − loss/2)`), below [`LOSS_LOW`] it
//!   grows by [`INCREASE`] per report, in between it holds. This is the
//!   loss-based half of Google Congestion Control (draft-ietf-rmcat-gcc 6).
//! - delay, from the receiver: its queueing-delay detector asks for a cap
//!   with TMMBR (RFC 5104) when frames arrive later and later behind a
//!   bottleneck, at [`OVERUSE_BACKOFF`] of the rate it receives; the cap holds
//!   for [`TMMBR_HOLD`] after the last request, after which loss-based
//!   growth probes up again.
//!
//! The target never goes below [`MIN_VIDEO_RATE`] nor above the full rate
//! (what the full-quality stream measured), so a long clean call does not
//! build a target the path was never asked to carry.
//!
//! Retransmissions and FEC count against the target: the picture gets
//! what is left after the repair sent over the last [`RATE_WINDOW`].
//!
//! The actuators form a ladder of [`LEVELS`] from full JPEG quality at the
//! full frame rate down to a lower quality, fewer frames and a half-size
//! picture; the highest level whose expected rate fits the target is chosen.
//! The expected rate of a level is its frame size (measured while it was in
//! use, else estimated from the measured level by [`Level::size`]) times its
//! frame rate. A level is left upwards only when it fits with
//! [`UP_HEADROOM`] to spare, so the choice does not flap.

use std::time::{Duration, Instant};

/// The least target video rate, bits per second.
pub const MIN_VIDEO_RATE: f64 = 150_000.0;
/// Loss fraction above which the target falls.
pub const LOSS_HIGH: f64 = 0.10;
/// Loss fraction below which the target grows.
pub const LOSS_LOW: f64 = 0.02;
/// Growth of the target per report below [`LOSS_LOW`].
pub const INCREASE: f64 = 1.25;
/// The cap a receiver asks for, as a share of the rate it receives, when
/// its queueing delay says the path is over-used.
pub const OVERUSE_BACKOFF: f64 = 0.85;
/// How long a TMMBR cap holds after the last request.
pub const TMMBR_HOLD: Duration = Duration::from_secs(2);
/// Spare room a higher level needs before it is chosen.
pub const UP_HEADROOM: f64 = 0.85;
/// Queueing delay over which the receiver calls the path over-used.
pub const OVERUSE_DELAY: Duration = Duration::from_millis(30);
/// Frames in a row over [`OVERUSE_DELAY`] before a cap is asked for.
pub const OVERUSE_FRAMES: u32 = 3;
/// Least time between two TMMBR requests.
pub const TMMBR_INTERVAL: Duration = Duration::from_millis(300);
/// Most of the target bitrate retransmissions and FEC may take over
/// [`RATE_WINDOW`]: behind a full bottleneck, where the loss is the queue
/// overflowing, repairs would only feed the overflow.
pub const MAX_REPAIR_SHARE: f64 = 0.4;
/// Window over which sending and receiving rates are measured.
pub const RATE_WINDOW: Duration = Duration::from_secs(1);

/// One rung of the ladder: JPEG quality, frame-rate divisor, picture scale divisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    /// JPEG quality (1..=100) the encoder uses.
    pub quality: u8,
    /// Send every `fps_divisor`-th frame of the capture.
    pub fps_divisor: u32,
    /// Width and height divided by this.
    pub scale: u32,
}

/// The ladder, best first. Full quality is the camera's or pattern's usual
/// 75; the rungs below trade quality first (cheapest to see), then picture
/// size at the full frame rate (a half-size picture costs a quarter of the
/// bytes, and motion matters more in a call than detail), and only then
/// frame rate, down to 10 fps.
pub const LEVELS: [Level; 10] = [
    Level {
        quality: 75,
        fps_divisor: 1,
        scale: 1,
    },
    Level {
        quality: 60,
        fps_divisor: 1,
        scale: 1,
    },
    Level {
        quality: 45,
        fps_divisor: 1,
        scale: 1,
    },
    Level {
        quality: 35,
        fps_divisor: 1,
        scale: 1,
    },
    Level {
        quality: 25,
        fps_divisor: 1,
        scale: 1,
    },
    Level {
        quality: 60,
        fps_divisor: 1,
        scale: 2,
    },
    Level {
        quality: 45,
        fps_divisor: 1,
        scale: 2,
    },
    Level {
        quality: 30,
        fps_divisor: 1,
        scale: 2,
    },
    Level {
        quality: 30,
        fps_divisor: 2,
        scale: 2,
    },
    Level {
        quality: 30,
        fps_divisor: 3,
        scale: 2,
    },
];

impl Level {
    /// A frame's size at this level relative to one at quality 75 full size:
    /// a rough fit of libjpeg's size against quality on camera pictures
    /// (0.55 at 45, 0.4 at 25) and a quarter of the pixels for half size.
    pub fn size(&self) -> f64 {
        let q = f64::from(self.quality.clamp(1, 100));
        let by_quality = 0.2 + 0.8 * (q / 75.0).powf(1.3);
        let by_scale = 1.0 / f64::from(self.scale * self.scale);
        by_quality * by_scale
    }
}

/// Least Opus bitrate the sender uses, bits per second.
pub const MIN_AUDIO_BITRATE: u32 = 16_000;
/// Most Opus bitrate the sender uses.
pub const MAX_AUDIO_BITRATE: u32 = 48_000;
/// Opus bitrate on a link that loses nothing: clear wideband speech.
pub const CLEAN_AUDIO_BITRATE: u32 = 24_000;
/// Bitrate added per percent of loss reported: in-band FEC (LBRR) takes
/// bits from the primary frame, which this gives back.
pub const AUDIO_BITRATE_PER_LOSS_PERCENT: u32 = 1_000;
/// Least and most loss, in percent, the encoder is told to plan FEC for.
pub const MIN_EXPECTED_LOSS: u8 = 1;
/// See [`MIN_EXPECTED_LOSS`].
pub const MAX_EXPECTED_LOSS: u8 = 40;
/// Added to the reported loss (in percent) for the encoder's plan, as the
/// report lags and loss comes in spells.
pub const EXPECTED_LOSS_MARGIN: f64 = 2.0;

/// What the shell's Opus encoder should do now: in-band FEC planned for the
/// loss the other side reports, and a bitrate that pays for it, within
/// the session's `MIN_AUDIO_BITRATE` and `MAX_AUDIO_BITRATE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioTarget {
    /// Bits per second.
    pub bitrate: u32,
    /// The loss the encoder plans its FEC for, in percent.
    pub expected_loss_percent: u8,
}

impl AudioTarget {
    /// Before any report: 32 kbit/s planned for 10% loss, a safe middle.
    pub const INITIAL: AudioTarget = AudioTarget {
        bitrate: 32_000,
        expected_loss_percent: 10,
    };

    /// The target for a reported loss fraction (0 to 1).
    pub fn for_loss(loss: f64) -> AudioTarget {
        let percent = (loss.clamp(0.0, 1.0) * 100.0 + EXPECTED_LOSS_MARGIN).round();
        let expected = (percent as u8).clamp(MIN_EXPECTED_LOSS, MAX_EXPECTED_LOSS);
        let bitrate = CLEAN_AUDIO_BITRATE + AUDIO_BITRATE_PER_LOSS_PERCENT * u32::from(expected);
        AudioTarget {
            bitrate: bitrate.clamp(MIN_AUDIO_BITRATE, MAX_AUDIO_BITRATE),
            expected_loss_percent: expected,
        }
    }
}

/// What the shell's encoder and capture should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoTarget {
    /// JPEG quality for frames the peer encodes (a camera's own MJPEG is sent
    /// as it comes, so for passthrough only the frame rate applies, or the
    /// shell re-encodes).
    pub quality: u8,
    /// Send only every this-many-th captured frame.
    pub fps_divisor: u32,
    /// Divide width and height by this.
    pub scale: u32,
    /// The target rate the choice fits, bits per second.
    pub bitrate: u64,
}

impl VideoTarget {
    /// Whether captured frame number `n` is sent under the frame-rate
    /// divisor (every `fps_divisor`-th frame).
    pub fn takes(&self, n: u64) -> bool {
        n % u64::from(self.fps_divisor.max(1)) == 0
    }

    /// Whether this is the top of the ladder: the picture as configured.
    pub fn is_full(&self) -> bool {
        self.quality == LEVELS[0].quality && self.scale == 1 && self.fps_divisor == 1
    }
}

/// The sender's controller.
#[derive(Debug)]
pub(super) struct RateControl {
    target: f64,
    level: usize,
    /// Measured bytes per frame at each level (exponential average).
    frame_bytes: [Option<f64>; LEVELS.len()],
    /// Retransmissions and FEC sent in the last [`RATE_WINDOW`]: (when, bytes).
    repairs: std::collections::VecDeque<(Instant, usize)>,
    /// The full rate: what level 0 needs, once measured.
    full_rate: Option<f64>,
    tmmbr: Option<(f64, Instant)>,
    pub(super) decisions: Vec<u64>,
}

impl RateControl {
    pub(super) fn new() -> RateControl {
        RateControl {
            target: f64::MAX,
            level: 0,
            frame_bytes: [None; LEVELS.len()],
            repairs: Default::default(),
            full_rate: None,
            tmmbr: None,
            decisions: Vec::new(),
        }
    }

    /// What to send now.
    pub(super) fn target(&self) -> VideoTarget {
        let l = LEVELS[self.level];
        VideoTarget {
            quality: l.quality,
            fps_divisor: l.fps_divisor,
            scale: l.scale,
            bitrate: self.effective_target().min(u64::MAX as f64) as u64,
        }
    }

    /// A frame of `bytes` (RTP packets, headers included) was sent at the
    /// level in force. `fps`: the capture's frame rate.
    pub(super) fn frame_sent(&mut self, now: Instant, bytes: usize, fps: u32) {
        let avg = &mut self.frame_bytes[self.level];
        *avg = Some(avg.map_or(bytes as f64, |a| a * 0.9 + bytes as f64 * 0.1));
        while self
            .repairs
            .front()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) > RATE_WINDOW)
        {
            self.repairs.pop_front();
        }
        if self.level == 0 {
            if let Some(b) = self.frame_bytes[0] {
                self.full_rate = Some(b * 8.0 * f64::from(fps));
            }
        }
    }

    /// A retransmission (or FEC packet) of `bytes` was sent: it counts
    /// against the target, leaving less for the picture.
    pub(super) fn frame_sent_repair(&mut self, now: Instant, bytes: usize) {
        self.repairs.push_back((now, bytes));
    }

    /// Whether another `bytes` of repair keeps repairs within
    /// [`MAX_REPAIR_SHARE`] of the target.
    pub(super) fn repair_allowed(&self, bytes: usize) -> bool {
        // Before the first report the target is open: the full rate
        // measured stands in for it.
        let target = match self.effective_target() {
            t if t == f64::MAX => self.full_rate.unwrap_or(f64::MAX),
            t => t,
        };
        target == f64::MAX
            || self.repair_rate() + bytes as f64 * 8.0 / RATE_WINDOW.as_secs_f64()
                <= MAX_REPAIR_SHARE * target
    }

    /// Whether a receiver's TMMBR cap is in force: the path is congested.
    pub(super) fn capped(&self) -> bool {
        self.tmmbr.is_some()
    }

    /// Bits per second of repair sent over the window.
    fn repair_rate(&self) -> f64 {
        let bytes: usize = self.repairs.iter().map(|(_, b)| b).sum();
        bytes as f64 * 8.0 / RATE_WINDOW.as_secs_f64()
    }

    fn effective_target(&self) -> f64 {
        match self.tmmbr {
            Some((cap, _)) => self.target.min(cap),
            None => self.target,
        }
    }

    /// A receiver report about our video: `loss` is its fraction lost.
    pub(super) fn report(&mut self, now: Instant, loss: f64, fps: u32) {
        self.expire(now);
        let full = self.full_rate.unwrap_or(f64::MAX);
        // Room above the full rate, or full quality could never be chosen again.
        let ceiling = full.max(MIN_VIDEO_RATE) / UP_HEADROOM;
        if self.target == f64::MAX {
            self.target = ceiling;
        }
        if loss > LOSS_HIGH {
            self.target = self.effective_target() * (1.0 - loss / 2.0);
        } else if loss < LOSS_LOW {
            self.target *= INCREASE;
        }
        self.target = self.target.clamp(MIN_VIDEO_RATE, ceiling);
        self.choose(fps);
    }

    /// The receiver asked for at most `bitrate` bits per second.
    pub(super) fn tmmbr(&mut self, now: Instant, bitrate: u64, fps: u32) {
        let cap = (bitrate as f64).max(MIN_VIDEO_RATE);
        self.tmmbr = Some((cap, now));
        self.target = self.target.min(cap);
        self.choose(fps);
    }

    fn expire(&mut self, now: Instant) {
        if self
            .tmmbr
            .is_some_and(|(_, at)| now.saturating_duration_since(at) > TMMBR_HOLD)
        {
            self.tmmbr = None;
        }
    }

    /// The expected rate of `level` at `fps`, from what was measured.
    fn expected(&self, level: usize, fps: u32) -> Option<f64> {
        let l = LEVELS[level];
        let per_frame = match self.frame_bytes[level] {
            Some(b) => b,
            None => {
                let (known, bytes) = self
                    .frame_bytes
                    .iter()
                    .enumerate()
                    .find_map(|(i, b)| b.map(|b| (i, b)))?;
                bytes * l.size() / LEVELS[known].size()
            }
        };
        Some(per_frame * 8.0 * f64::from(fps) / f64::from(l.fps_divisor.max(1)))
    }

    fn choose(&mut self, fps: u32) {
        let target = self.effective_target();
        let media = (target - self.repair_rate()).max(MIN_VIDEO_RATE / 2.0);
        let mut pick = LEVELS.len() - 1;
        for i in 0..LEVELS.len() {
            let Some(rate) = self.expected(i, fps) else {
                return;
            };
            let room = if i < self.level { UP_HEADROOM } else { 1.0 };
            if rate <= media * room {
                pick = i;
                break;
            }
        }
        self.level = pick;
        self.decisions.push((target / 1000.0).min(1e12) as u64);
    }
}

/// The receiver's queueing-delay detector: frames whose first packet arrives
/// later and later behind the path's base delay mean a queue is building.
#[derive(Debug, Default)]
pub(super) struct OveruseDetector {
    over: u32,
    last_request: Option<Instant>,
    received: std::collections::VecDeque<(Instant, usize)>,
    pub(super) requests: u64,
}

impl OveruseDetector {
    /// A video packet of `bytes` arrived (for the receive rate).
    pub(super) fn packet(&mut self, now: Instant, bytes: usize) {
        self.received.push_back((now, bytes));
        while self
            .received
            .front()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) > RATE_WINDOW)
        {
            self.received.pop_front();
        }
    }

    /// A frame's first packet arrived `queued` after the base delay. Returns
    /// the cap to ask for, if it is time to ask.
    pub(super) fn frame(&mut self, now: Instant, queued: Duration) -> Option<u64> {
        if queued > OVERUSE_DELAY {
            self.over += 1;
        } else {
            self.over = 0;
        }
        if self.over < OVERUSE_FRAMES
            || self
                .last_request
                .is_some_and(|t| now.saturating_duration_since(t) < TMMBR_INTERVAL)
        {
            return None;
        }
        self.last_request = Some(now);
        self.requests += 1;
        let bytes: usize = self.received.iter().map(|(_, b)| b).sum();
        let rate = bytes as f64 * 8.0 / RATE_WINDOW.as_secs_f64();
        Some((rate * OVERUSE_BACKOFF) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audio_target_follows_loss_within_bounds() {
        let clean = AudioTarget::for_loss(0.0);
        assert_eq!(clean.expected_loss_percent, 2);
        assert_eq!(clean.bitrate, CLEAN_AUDIO_BITRATE + 2_000);
        let lossy = AudioTarget::for_loss(0.2);
        assert_eq!(lossy.expected_loss_percent, 22);
        assert_eq!(lossy.bitrate, 46_000);
        let awful = AudioTarget::for_loss(0.9);
        assert_eq!(awful.expected_loss_percent, MAX_EXPECTED_LOSS);
        assert_eq!(awful.bitrate, MAX_AUDIO_BITRATE);
    }

    #[test]
    fn levels_get_cheaper_down_the_ladder() {
        let rates: Vec<f64> = LEVELS
            .iter()
            .map(|l| l.size() / f64::from(l.fps_divisor))
            .collect();
        for w in rates.windows(2) {
            assert!(w[1] < w[0], "{rates:?}");
        }
        assert!((LEVELS[0].size() - 1.0).abs() < 1e-9);
    }

    /// A sender at `frame` bytes per full-quality frame, 30 fps, for `secs`.
    fn feed(rc: &mut RateControl, t: &mut Instant, secs: u32, full_frame: f64) {
        for n in 0..secs * 30 {
            *t += Duration::from_millis(33);
            if rc.target().takes(u64::from(n)) {
                let l = LEVELS[rc.level];
                rc.frame_sent(*t, (full_frame * l.size()) as usize, 30);
            }
        }
    }

    #[test]
    fn high_loss_lowers_the_level_and_a_clean_path_brings_it_back() {
        let mut t = Instant::now();
        let mut rc = RateControl::new();
        feed(&mut rc, &mut t, 2, 28_000.0);
        rc.report(t, 0.0, 30);
        assert_eq!(rc.level, 0);
        for _ in 0..6 {
            feed(&mut rc, &mut t, 1, 28_000.0);
            rc.report(t, 0.4, 30);
        }
        assert!(rc.level >= 4, "level {}", rc.level);
        let low = rc.target().bitrate;
        for _ in 0..12 {
            feed(&mut rc, &mut t, 1, 28_000.0);
            rc.report(t, 0.0, 30);
        }
        assert_eq!(rc.level, 0, "back to full after a clean stretch");
        assert!(rc.target().bitrate > low);
    }

    #[test]
    fn a_tmmbr_cap_holds_then_expires() {
        let mut t = Instant::now();
        let mut rc = RateControl::new();
        feed(&mut rc, &mut t, 2, 28_000.0);
        rc.report(t, 0.0, 30);
        rc.tmmbr(t, 2_000_000, 30);
        let capped = rc.target();
        assert!(capped.bitrate <= 2_000_000);
        // The chosen level's expected rate fits the cap.
        let l = LEVELS[rc.level];
        assert!(28_000.0 * 8.0 * 30.0 * l.size() / f64::from(l.fps_divisor) <= 2_000_000.0);
        feed(&mut rc, &mut t, 1, 28_000.0);
        rc.report(t, 0.0, 30);
        assert!(rc.target().bitrate <= 2_000_000, "the cap holds");
        feed(&mut rc, &mut t, 3, 28_000.0);
        rc.report(t, 0.0, 30);
        assert!(rc.tmmbr.is_none(), "expired");
    }

    #[test]
    fn the_detector_asks_after_frames_in_a_row_and_not_too_often() {
        let t0 = Instant::now();
        let mut d = OveruseDetector::default();
        for i in 0..30u64 {
            d.packet(t0 + Duration::from_millis(i * 33), 10_000);
        }
        let late = Duration::from_millis(50);
        let at = t0 + Duration::from_millis(1000);
        assert_eq!(d.frame(at, late), None);
        assert_eq!(d.frame(at, late), None);
        let cap = d.frame(at, late).expect("third frame late asks");
        assert!(cap > 0);
        assert_eq!(d.frame(at, late), None, "not again within the interval");
        assert_eq!(
            d.frame(at + TMMBR_INTERVAL, Duration::ZERO),
            None,
            "cleared"
        );
    }
}
