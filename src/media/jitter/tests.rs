//! The jitter buffer under simulated networks and clocks: a sender producing a
//! frame every 20 ms on its own (possibly drifting) clock, a seeded network
//! adding delay, jitter, loss and duplication, and a sink popping every 20 ms
//! on its clock. Time is injected; nothing sleeps.

use super::*;
use std::time::Duration;

const FRAME: Duration = Duration::from_millis(20);

struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Net {
    jitter_ms: f64,
    loss: f64,
    dup: f64,
    drift_ppm: f64,
    seed: u64,
    first_seq: u16,
    first_ts: u32,
}

impl Default for Net {
    fn default() -> Self {
        Net {
            jitter_ms: 0.0,
            loss: 0.0,
            dup: 0.0,
            drift_ppm: 0.0,
            seed: 0x5eed_1234_abcd_0001,
            first_seq: 1000,
            first_ts: 12345,
        }
    }
}

#[derive(Debug, Default)]
struct Outcome {
    played: Vec<u64>,
    lost: usize,
    max_depth: usize,
    max_len: usize,
    max_target: usize,
    stats: JitterStats,
}

/// Sends `frames` frames through `net` into a buffer and pops every frame
/// period until everything sent has been played or given up.
fn simulate(frames: u64, net: &Net) -> Outcome {
    let mut rng = Xorshift(net.seed);
    let t0 = Instant::now();
    let mut arrivals: Vec<(Instant, u16, u32, u64)> = Vec::new();
    let mut out = Outcome::default();
    let period = FRAME.as_secs_f64() * (1.0 - net.drift_ppm * 1e-6);
    for k in 0..frames {
        let sent = Duration::from_secs_f64(k as f64 * period);
        let seq = net.first_seq.wrapping_add(k as u16);
        let ts = net.first_ts.wrapping_add((k as u32).wrapping_mul(960));
        if rng.unit() < net.loss {
            out.lost += 1;
            continue;
        }
        let copies = if rng.unit() < net.dup { 2 } else { 1 };
        for _ in 0..copies {
            let delay = 0.010 + rng.unit() * net.jitter_ms / 1000.0;
            arrivals.push((t0 + sent + Duration::from_secs_f64(delay), seq, ts, k));
        }
    }
    arrivals.sort_by_key(|a| a.0);
    let mut jb = JitterBuffer::new(OPUS_20MS);
    let mut i = 0;
    // Pop until the sender has finished and the buffer has run dry (popping
    // on past the end of the stream would only measure concealment of nothing).
    for p in 0.. {
        if i == arrivals.len() && jb.is_empty() {
            break;
        }
        let now = t0 + FRAME * p as u32;
        while i < arrivals.len() && arrivals[i].0 <= now {
            let (at, seq, ts, k) = arrivals[i];
            jb.push(at, seq, ts, k.to_be_bytes().to_vec());
            i += 1;
        }
        out.max_len = out.max_len.max(jb.len());
        out.max_depth = out.max_depth.max(jb.depth());
        out.max_target = out.max_target.max(jb.target_depth());
        if let Playout::Frame(b) = jb.pop() {
            out.played.push(u64::from_be_bytes(b.try_into().unwrap()));
        }
    }
    out.stats = jb.stats().clone();
    out
}

fn in_order(v: &[u64]) -> bool {
    v.windows(2).all(|w| w[0] < w[1])
}

#[test]
fn steady_stream_plays_every_frame_in_order_at_minimum_depth() {
    let o = simulate(3000, &Net::default());
    assert_eq!(o.played.len(), 3000);
    assert!(in_order(&o.played));
    assert_eq!(o.stats.concealed_plc + o.stats.concealed_fec, 0);
    assert!(o.max_target <= OPUS_20MS.min_depth, "{}", o.max_target);
    assert!(o.max_depth <= OPUS_20MS.min_depth + 1, "{}", o.max_depth);
}

#[test]
fn jitter_and_reordering_are_absorbed_by_a_deeper_target() {
    let net = Net {
        jitter_ms: 60.0,
        ..Net::default()
    };
    let o = simulate(5000, &net);
    assert!(in_order(&o.played), "never played out of order");
    assert!(
        o.max_target > OPUS_20MS.min_depth,
        "target adapted: {}",
        o.max_target
    );
    assert!(o.max_target <= OPUS_20MS.max_depth);
    let concealed = o.stats.concealed_plc + o.stats.concealed_fec + o.stats.late;
    assert!(
        concealed < 5000 / 50,
        "under 2% concealed or late: {:?}",
        o.stats
    );
    assert!(o.max_len <= OPUS_20MS.capacity);
}

#[test]
fn loss_is_concealed_with_fec_when_the_next_packet_is_there() {
    let net = Net {
        loss: 0.05,
        ..Net::default()
    };
    let o = simulate(4000, &net);
    assert!(o.lost > 100);
    let concealed = (o.stats.concealed_fec + o.stats.concealed_plc) as usize;
    // Every lost frame is concealed once, except losses at the very end.
    assert!(concealed.abs_diff(o.lost) <= 2, "{concealed} vs {}", o.lost);
    assert!(o.stats.concealed_fec as usize > o.lost / 2, "{:?}", o.stats);
    assert!(o.stats.concealed_plc > 0, "back-to-back losses need PLC");
    assert_eq!(o.played.len() + o.lost, 4000);
}

#[test]
fn duplicates_are_counted_and_played_once() {
    let net = Net {
        dup: 0.1,
        jitter_ms: 15.0,
        ..Net::default()
    };
    let o = simulate(2000, &net);
    assert!(o.stats.duplicates > 100);
    assert!(in_order(&o.played));
    assert!(o.played.len() <= 2000);
}

#[test]
fn a_very_late_packet_is_counted_late_not_played() {
    let mut jb = JitterBuffer::new(OPUS_20MS);
    let t0 = Instant::now();
    for k in 0..10u16 {
        if k != 3 {
            jb.push(
                t0 + FRAME * u32::from(k),
                k,
                u32::from(k) * 960,
                vec![k as u8],
            );
        }
    }
    let mut got = Vec::new();
    for _ in 0..6 {
        got.push(jb.pop());
    }
    assert_eq!(got[3], Playout::Fec(vec![4]));
    jb.push(t0 + Duration::from_secs(1), 3, 3 * 960, vec![3]);
    assert_eq!(jb.stats().late, 1);
    assert!(!got.contains(&Playout::Frame(vec![3])));
}

#[test]
fn clock_drift_of_200_ppm_either_way_keeps_depth_bounded() {
    for drift in [200.0, -200.0] {
        let net = Net {
            drift_ppm: drift,
            jitter_ms: 10.0,
            ..Net::default()
        };
        // Ten minutes of audio.
        let o = simulate(30_000, &net);
        assert!(in_order(&o.played));
        let bound = OPUS_20MS.max_depth + HYSTERESIS + 2;
        assert!(o.max_depth <= bound, "drift {drift}: depth {}", o.max_depth);
        assert!(o.max_len <= OPUS_20MS.capacity);
        if drift > 0.0 {
            // The sender is fast: 200 ppm of 30000 frames is 6 extra frames to drop.
            assert!(o.stats.drained >= 3, "drift {drift}: {:?}", o.stats);
        } else {
            assert!(o.stats.concealed_plc >= 3, "drift {drift}: {:?}", o.stats);
        }
        assert_eq!(o.stats.restarts, 0, "drift {drift}: {:?}", o.stats);
    }
}

#[test]
fn sequence_and_timestamp_wraparound() {
    let net = Net {
        first_seq: 65_500,
        first_ts: u32::MAX - 960 * 20,
        jitter_ms: 20.0,
        ..Net::default()
    };
    let o = simulate(500, &net);
    assert!(in_order(&o.played));
    assert!(o.played.len() >= 495, "{}", o.played.len());
}

#[test]
fn a_burst_cannot_grow_the_buffer_past_capacity() {
    let mut jb = JitterBuffer::new(OPUS_20MS);
    let t0 = Instant::now();
    for k in 0..1000u32 {
        jb.push(t0, k as u16, k * 960, vec![0]);
        assert!(jb.len() <= OPUS_20MS.capacity);
    }
    assert_eq!(jb.stats().overflow, 1000 - OPUS_20MS.capacity as u64);
}

#[test]
fn a_stopped_stream_restarts_cleanly() {
    let mut jb = JitterBuffer::new(OPUS_20MS);
    let t0 = Instant::now();
    let mut plays = 0;
    for k in 0..100u32 {
        jb.push(t0 + FRAME * k, k as u16, k * 960, vec![1]);
        if matches!(jb.pop(), Playout::Frame(_)) {
            plays += 1;
        }
    }
    // Two seconds of nothing: concealment, then waiting.
    let mut waits = 0;
    for _ in 0..100 {
        if jb.pop() == Playout::Waiting {
            waits += 1;
        }
    }
    assert!(waits > 50, "{waits}");
    assert_eq!(jb.stats().restarts, 1);
    for k in 200..300u32 {
        jb.push(t0 + FRAME * k, k as u16, k * 960, vec![1]);
        if matches!(jb.pop(), Playout::Frame(_)) {
            plays += 1;
        }
    }
    assert!(plays >= 195, "{plays}");
}

#[test]
fn the_playing_timestamp_follows_frames_and_concealment() {
    let mut jb = JitterBuffer::new(OPUS_20MS);
    let t0 = Instant::now();
    for k in [0u32, 1, 2, 4, 5] {
        jb.push(t0, k as u16, 1000 + k * 960, vec![k as u8]);
    }
    assert_eq!(jb.playing_timestamp(), None);
    let mut seen = Vec::new();
    for _ in 0..5 {
        jb.pop();
        seen.push(jb.playing_timestamp().unwrap());
    }
    assert_eq!(seen, [1000, 1960, 2920, 3880, 4840]);
}

#[test]
fn can_play_says_exactly_when_pop_stops_waiting() {
    let mut jb = JitterBuffer::new(OPUS_20MS);
    let t0 = Instant::now();
    assert!(!jb.can_play());
    jb.push(t0, 0, 0, vec![0]);
    assert!(!jb.can_play(), "one frame is below the minimum depth");
    assert_eq!(jb.pop(), Playout::Waiting);
    jb.push(t0 + FRAME, 1, 960, vec![1]);
    assert!(jb.can_play());
    assert_eq!(jb.pop(), Playout::Frame(vec![0]));
    // Playing: a missing frame is concealed, not waited for.
    jb.pop();
    assert!(jb.can_play());
    assert_ne!(jb.pop(), Playout::Waiting);
    // Once the stream has stopped long enough to restart, it waits again.
    for _ in 0..RESTART_AFTER + 1 {
        jb.pop();
    }
    assert!(!jb.can_play());
    assert_eq!(jb.pop(), Playout::Waiting);
}
