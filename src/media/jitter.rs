//! The audio jitter buffer: packets arrive early, late, twice or never; the
//! sound card wants one frame every frame period, on its own clock. This
//! buffer sits between them. It holds packets in sequence order, starts
//! playing once it holds its target depth, hands out one frame per
//! [`JitterBuffer::pop`] (the sink's clock paces the calls), and when a frame
//! is missing says how to conceal it: with the forward error correction data
//! of the next packet when that one is already here (Opus in-band FEC), else
//! with the decoder's packet loss concealment.
//!
//! The target depth adapts to the measured interarrival jitter (RFC 3550
//! section 6.4.1) between [`JitterConfig::min_depth`] and
//! [`JitterConfig::max_depth`] frames; when the buffer stays above target (a
//! jitter spike passed, or the sender's clock runs fast) it drops a frame to
//! bring the delay back down, and a run of missing frames (the sender's clock
//! runs slow, or a burst of loss) is concealed while the buffer refills. So
//! neither latency nor memory grows without bound, whatever the two clocks do.

use super::rtp::extend_seq;
use super::stats::InterarrivalJitter;
use std::collections::BTreeMap;
use std::time::Instant;

/// Depth bounds and clock of a jitter buffer.
#[derive(Debug, Clone)]
pub struct JitterConfig {
    /// RTP clock rate (48000 for Opus).
    pub clock_rate: u32,
    /// RTP timestamp units in one frame (960 for 20 ms of Opus).
    pub frame_ts: u32,
    /// Fewest frames held before and during playout (the latency floor).
    pub min_depth: usize,
    /// Most frames the target may grow to (the latency ceiling).
    pub max_depth: usize,
    /// Most packets held at all; beyond it the oldest are dropped.
    pub capacity: usize,
}

/// Opus at 48 kHz in 20 ms frames: 40 ms minimum, 200 ms maximum target
/// depth, at most one second of packets held.
pub const OPUS_20MS: JitterConfig = JitterConfig {
    clock_rate: super::audio::SAMPLE_RATE,
    frame_ts: super::audio::FRAME_SAMPLES as u32,
    min_depth: 2,
    max_depth: 10,
    capacity: 50,
};

/// Consecutive pops above target (plus [`HYSTERESIS`]) before a frame is
/// dropped to cut latency: a second of 20 ms frames, so a passing spike does
/// not cost audio.
pub const DRAIN_AFTER: u32 = 50;
/// How far above target the depth may sit before draining starts.
pub const HYSTERESIS: usize = 2;
/// Frames played between two frames concealed to deepen the buffer to a
/// raised floor (a 20 ms stretch every 100 ms is barely heard).
pub const STRETCH_EVERY: u32 = 5;
/// Missing frames in a row after which the stream is taken for stopped and
/// playout waits for the target depth again.
pub const RESTART_AFTER: u32 = 25;

/// What to play for one frame period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// Not playing yet (filling up to the target depth): play silence.
    Waiting,
    /// Decode this packet's payload.
    Frame(Vec<u8>),
    /// The frame is missing but the next packet is here: decode its payload
    /// with FEC enabled to recover this frame.
    Fec(Vec<u8>),
    /// The frame is missing: run the decoder's packet loss concealment.
    Conceal,
}

/// What happened so far, for the quality report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Frames played from their own packet.
    pub played: u64,
    /// Missing frames recovered from the next packet's FEC.
    pub concealed_fec: u64,
    /// Missing frames concealed by PLC.
    pub concealed_plc: u64,
    /// Packets that arrived after their frame had been played or concealed.
    pub late: u64,
    /// Packets that arrived twice.
    pub duplicates: u64,
    /// Frames dropped to bring the delay back to target.
    pub drained: u64,
    /// Packets dropped because the buffer was full.
    pub overflow: u64,
    /// Times playout stopped and waited for the buffer to refill.
    pub restarts: u64,
    /// Frames concealed to deepen the buffer to a raised floor.
    pub stretched: u64,
}

#[derive(Debug)]
struct Packet {
    payload: Vec<u8>,
    timestamp: u32,
}

/// An adaptive jitter buffer for fixed-duration frames.
#[derive(Debug)]
pub struct JitterBuffer {
    cfg: JitterConfig,
    packets: BTreeMap<u64, Packet>,
    /// Extended sequence number of the next frame to play, once playing.
    next: Option<u64>,
    /// Highest extended sequence number seen.
    highest: Option<u64>,
    /// Interarrival jitter of every packet pushed, which sets the target depth.
    jitter: InterarrivalJitter,
    above_target: u32,
    missing_run: u32,
    /// Least target depth another stream asks for (lip sync with a delayed
    /// picture), within the configured bounds.
    floor: usize,
    /// Pops since playout was last stretched to reach the floor.
    since_stretch: u32,
    /// RTP timestamp of the frame the last pop played or concealed.
    playing: Option<u32>,
    stats: JitterStats,
}

impl JitterBuffer {
    /// An empty buffer.
    pub fn new(cfg: JitterConfig) -> Self {
        JitterBuffer {
            jitter: InterarrivalJitter::new(cfg.clock_rate),
            cfg,
            packets: BTreeMap::new(),
            next: None,
            highest: None,
            above_target: 0,
            missing_run: 0,
            floor: 0,
            since_stretch: 0,
            playing: None,
            stats: JitterStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &JitterStats {
        &self.stats
    }

    /// The interarrival jitter estimate, in RTP timestamp units (as RTCP reports it).
    pub fn jitter(&self) -> u32 {
        self.jitter.value() as u32
    }

    /// The RTP timestamp of the frame the last [`JitterBuffer::pop`] played
    /// (or concealed), for lip sync and latency measurement.
    pub fn playing_timestamp(&self) -> Option<u32> {
        self.playing
    }

    /// Packets held.
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    /// Whether no packet is held.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// Frames of audio ahead of the playout point (held packets, contiguous or not).
    pub fn depth(&self) -> usize {
        match (self.next, self.highest) {
            (Some(n), Some(h)) if h >= n => (h - n + 1) as usize,
            (Some(_), _) => 0,
            (None, _) => self.packets.len(),
        }
    }

    /// The depth playout aims for: enough frames to cover about three times
    /// the measured jitter, within the configured bounds.
    pub fn target_depth(&self) -> usize {
        let frames = (3.0 * self.jitter.value() / f64::from(self.cfg.frame_ts)).ceil() as usize + 1;
        frames
            .max(self.floor)
            .clamp(self.cfg.min_depth, self.cfg.max_depth)
    }

    /// Asks for at least `frames` of depth (the picture's playout delay, so
    /// sound and picture stay together). A higher floor is reached by
    /// stretching playout one concealed frame at a time, every
    /// [`STRETCH_EVERY`] frames; a lower one by the usual draining.
    pub fn set_floor(&mut self, frames: usize) {
        self.floor = frames;
    }

    /// Whether [`JitterBuffer::pop`] would hand out a frame now rather than
    /// [`Playout::Waiting`]: playing already, or holding the target depth.
    /// A playout clock that waits for this starts with exactly that depth.
    pub fn can_play(&self) -> bool {
        self.next.is_some() || self.packets.len() >= self.target_depth()
    }

    /// A packet arrived at `arrival`.
    pub fn push(&mut self, arrival: Instant, seq: u16, timestamp: u32, payload: Vec<u8>) {
        self.jitter.update(arrival, timestamp);
        let Some(ext) = self
            .highest
            .map_or(Some(u64::from(seq)), |h| extend_seq(h, seq))
        else {
            // Reordered to before the first packet seen: too late to matter.
            self.stats.late += 1;
            return;
        };
        if self.next.is_some_and(|n| ext < n) {
            self.stats.late += 1;
            return;
        }
        if self.packets.contains_key(&ext) {
            self.stats.duplicates += 1;
            return;
        }
        self.highest = Some(self.highest.map_or(ext, |h| h.max(ext)));
        self.packets.insert(ext, Packet { payload, timestamp });
        while self.packets.len() > self.cfg.capacity {
            if let Some((&oldest, _)) = self.packets.iter().next() {
                self.packets.remove(&oldest);
                self.stats.overflow += 1;
                if self.next.is_some_and(|n| oldest >= n) {
                    self.next = Some(oldest + 1);
                }
            }
        }
    }

    /// What to play for the next frame period.
    pub fn pop(&mut self) -> Playout {
        self.since_stretch = self.since_stretch.saturating_add(1);
        if self.next.is_some()
            && self.depth() < self.floor.min(self.cfg.max_depth)
            && self.since_stretch >= STRETCH_EVERY
        {
            // Playing too shallow for the floor: stand still one frame.
            self.since_stretch = 0;
            self.stats.stretched += 1;
            return Playout::Conceal;
        }
        let next = match self.next {
            Some(n) => n,
            None => {
                if self.packets.len() < self.target_depth() {
                    return Playout::Waiting;
                }
                match self.packets.keys().next() {
                    Some(&first) => first,
                    None => return Playout::Waiting,
                }
            }
        };
        let out = match self.packets.remove(&next) {
            Some(p) => {
                self.next = Some(next + 1);
                self.missing_run = 0;
                self.stats.played += 1;
                self.playing = Some(p.timestamp);
                Playout::Frame(p.payload)
            }
            None => {
                self.missing_run += 1;
                // A concealed frame stands where the missing one would have.
                self.playing = self.playing.map(|t| t.wrapping_add(self.cfg.frame_ts));
                if let Some(p) = self.packets.get(&(next + 1)) {
                    self.stats.concealed_fec += 1;
                    self.next = Some(next + 1);
                    Playout::Fec(p.payload.clone())
                } else if self.packets.is_empty() {
                    // Nothing after it either: the frame is late, not lost
                    // (an underrun, e.g. the sender's clock is slower). Conceal
                    // and keep waiting for it, which stretches the delay by a
                    // frame instead of dropping everything that follows.
                    self.stats.concealed_plc += 1;
                    self.next = Some(next);
                    Playout::Conceal
                } else {
                    self.stats.concealed_plc += 1;
                    self.next = Some(next + 1);
                    Playout::Conceal
                }
            }
        };
        if self.missing_run >= RESTART_AFTER && self.packets.is_empty() {
            // The stream stopped (or fell far behind): wait to refill rather
            // than concealing forever.
            self.next = None;
            self.missing_run = 0;
            self.stats.restarts += 1;
        }
        self.drain_if_deep();
        out
    }

    /// Drops the oldest held frame when the buffer has stayed too deep for a while.
    fn drain_if_deep(&mut self) {
        // Following a floor (the picture's delay), the sound tracks it as
        // closely as it is stretched to reach it, so lip sync holds when the
        // picture's delay comes down; on its own, it drains slowly.
        let (slack, after) = if self.floor > 0 {
            (1, STRETCH_EVERY)
        } else {
            (HYSTERESIS, DRAIN_AFTER)
        };
        if self.depth() > self.target_depth() + slack {
            self.above_target += 1;
        } else {
            self.above_target = 0;
        }
        if self.above_target >= after {
            self.above_target = 0;
            if let Some(n) = self.next {
                self.packets.remove(&n);
                self.next = Some(n + 1);
                self.stats.drained += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests;
