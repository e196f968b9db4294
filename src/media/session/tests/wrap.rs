//! Counters at their edges: sequence numbers and RTP timestamps starting
//! just short of their wrap, each stream on its own; timestamps that jump;
//! a sender that restarts; wallclocks that disagree.

use super::*;
use crate::media::rtp::timestamp_diff;

/// Alice's `stream` starts at this sequence number: nothing is lost across
/// the wrap, everything arrives in order, and the report block's extended
/// highest sequence number counts the cycle.
fn seq_wrap(stream: StreamKind, start: u16) {
    let mut p = Pair::clean();
    p.a.s.stream_mut(stream).unwrap().tx.seq = start;
    p.run_until(Duration::from_secs(2));
    let q = p.b.s.report(p.now);
    assert_eq!((q.video_lost, q.audio_lost), (0, 0));
    let sent = rtp_sequences(&p.a, stream);
    assert_eq!(sent[0], start);
    assert!(sent.windows(2).all(|w| w[1] == w[0].wrapping_add(1)));
    match stream {
        StreamKind::Video => {
            assert_eq!(q.video_frames_received, 61);
            assert!(q.video_frames_shown >= 59);
        }
        StreamKind::Audio => {
            let played = p.b.played_frames();
            assert_eq!(played[0], 0);
            assert!(played.windows(2).all(|w| w[1] == w[0] + 1));
            assert!(played.len() >= 98);
        }
    }
    // Counting starts at the second packet (probation), so a wrap between
    // the first two is no cycle.
    let wrapped = sent[1..].iter().any(|&s| s < sent[1]);
    let last = p.b.s.stream_mut(stream).unwrap().rx.stats.report();
    let cycles = last.extended_highest_seq >> 16;
    assert_eq!(cycles, u32::from(wrapped));
    assert_eq!(last.extended_highest_seq as u16, *sent.last().unwrap());
}

macro_rules! seq_wrap {
    ($($name:ident: $stream:expr, $start:expr;)*) => {$(
        #[test]
        fn $name() {
            seq_wrap($stream, $start);
        }
    )*};
}

seq_wrap! {
    video_seq_from_65535_wraps_at_the_second_packet: StreamKind::Video, 65_535;
    video_seq_from_65534_wraps_during_probation: StreamKind::Video, 65_534;
    video_seq_from_65530_wraps_in_the_first_frame: StreamKind::Video, 65_530;
    video_seq_from_65400_wraps_mid_call: StreamKind::Video, 65_400;
    video_seq_from_0_never_wraps: StreamKind::Video, 0;
    audio_seq_from_65535_wraps_at_the_second_packet: StreamKind::Audio, 65_535;
    audio_seq_from_65534_wraps_during_probation: StreamKind::Audio, 65_534;
    audio_seq_from_65500_wraps_mid_call: StreamKind::Audio, 65_500;
    audio_seq_from_65440_wraps_near_the_end: StreamKind::Audio, 65_440;
    audio_seq_from_0_never_wraps: StreamKind::Audio, 0;
}

/// Alice's `stream` timestamps start `before` ticks short of 2^32: pictures
/// and sound flow across the wrap, in order and in step.
fn ts_wrap(stream: StreamKind, before: u32) {
    let mut p = Pair::clean();
    p.a.s.stream_mut(stream).unwrap().tx.ts_origin = 0u32.wrapping_sub(before);
    p.run_until(Duration::from_secs(3));
    let q = p.b.s.report(p.now);
    assert!(q.video_frames_shown >= 89, "{q:?}");
    let played = p.b.played_frames();
    assert!(played.windows(2).all(|w| w[1] == w[0] + 1));
    assert!(played.len() >= 148);
    assert_eq!(q.audio.concealed_plc + q.audio.concealed_fec, 0);
    let ts: Vec<u32> = p.b.shown.iter().map(|(_, f)| f.timestamp).collect();
    assert!(ts.windows(2).all(|w| timestamp_diff(w[1], w[0]) > 0));
    assert!(q.skew_us.len() >= 80);
    assert!(
        q.skew_us.iter().all(|s| s.abs() <= 40_000),
        "{:?}",
        q.skew_us
    );
    let v50 = pct(&q.video_latency_us, 0.5);
    assert!(v50 <= 30.0, "video p50 {v50} ms");
}

macro_rules! ts_wrap {
    ($($name:ident: $stream:expr, $before:expr;)*) => {$(
        #[test]
        fn $name() {
            ts_wrap($stream, $before);
        }
    )*};
}

ts_wrap! {
    video_ts_at_2_pow_32_minus_1_wraps_at_once: StreamKind::Video, 1;
    video_ts_wrapping_after_one_frame_stays_in_step: StreamKind::Video, 3000;
    video_ts_wrapping_after_a_second_stays_in_step: StreamKind::Video, 90_000;
    video_ts_wrapping_after_two_seconds_stays_in_step: StreamKind::Video, 180_000;
    video_ts_from_2_pow_31_stays_in_step: StreamKind::Video, 1 << 31;
    audio_ts_at_2_pow_32_minus_1_wraps_at_once: StreamKind::Audio, 1;
    audio_ts_wrapping_after_one_frame_stays_in_step: StreamKind::Audio, 960;
    audio_ts_wrapping_after_a_second_stays_in_step: StreamKind::Audio, 48_000;
    audio_ts_wrapping_after_two_seconds_stays_in_step: StreamKind::Audio, 96_000;
    audio_ts_from_2_pow_31_stays_in_step: StreamKind::Audio, 1 << 31;
}

/// Alice's video timestamps jump by `jump` ticks a second in: pictures go
/// on, none is held longer than MAX_VIDEO_DELAY, the hold stays bounded.
fn video_jump(jump: u32) {
    let mut p = Pair::clean();
    p.run_until(Duration::from_secs(1));
    let v = p.a.s.video.as_mut().unwrap();
    v.tx.ts_origin = v.tx.ts_origin.wrapping_add(jump);
    let shown = p.b.shown.len();
    p.run_until(Duration::from_secs(3));
    assert!(p.b.shown.len() - shown >= 45, "{}", p.b.shown.len() - shown);
    let last = p.b.shown.last().unwrap().0;
    assert!(p.now - last <= MAX_VIDEO_DELAY);
    assert!(p.b.s.video_in.held.len() <= MAX_VIDEO_HOLD);
}

macro_rules! video_jump {
    ($($name:ident: $jump:expr;)*) => {$(
        #[test]
        fn $name() {
            video_jump($jump);
        }
    )*};
}

video_jump! {
    video_ts_jumping_a_minute_ahead_keeps_showing: 60 * 90_000;
    video_ts_jumping_a_quarter_of_the_clock_ahead_keeps_showing: 1 << 30;
    video_ts_jumping_a_second_behind_keeps_showing: 0u32.wrapping_sub(90_000);
    video_ts_jumping_a_quarter_of_the_clock_behind_keeps_showing: 0u32.wrapping_sub(1 << 30);
}

/// Alice's audio timestamps jump by `jump` a second in: sound keeps
/// playing in order.
fn audio_jump(jump: u32) {
    let mut p = Pair::clean();
    p.run_until(Duration::from_secs(1));
    let a = p.a.s.audio.as_mut().unwrap();
    a.tx.ts_origin = a.tx.ts_origin.wrapping_add(jump);
    let played = p.b.played_frames().len();
    p.run_until(Duration::from_secs(3));
    let after = p.b.played_frames();
    assert!(
        after.len() - played >= 80,
        "{} played after",
        after.len() - played
    );
    assert!(after.windows(2).all(|w| w[1] > w[0]));
    // The last frame captured is heard within the buffer's delay.
    assert!(*after.last().unwrap() + 3 >= p.a.audio_captured - 1);
}

macro_rules! audio_jump {
    ($($name:ident: $jump:expr;)*) => {$(
        #[test]
        fn $name() {
            audio_jump($jump);
        }
    )*};
}

audio_jump! {
    audio_ts_jumping_a_minute_ahead_keeps_playing: 60 * 48_000;
    audio_ts_jumping_a_quarter_of_the_clock_ahead_keeps_playing: 1 << 30;
    audio_ts_jumping_a_second_behind_keeps_playing: 0u32.wrapping_sub(48_000);
}

#[test]
fn video_sequence_restart_is_not_counted_as_loss() {
    let mut p = Pair::clean();
    p.run_until(Duration::from_secs(1));
    let v = p.a.s.video.as_mut().unwrap();
    v.tx.seq = v.tx.seq.wrapping_add(20_000);
    p.run_until(Duration::from_secs(3));
    let q = p.b.s.report(p.now);
    // The first packet after the jump waits for the next to confirm it.
    assert!(q.video_lost.abs() <= 1, "lost {}", q.video_lost);
    assert!(q.video_frames_shown >= 85, "{q:?}");
}

#[test]
fn a_new_source_on_the_right_port_is_dropped_as_foreign() {
    let mut p = Pair::clean();
    p.run_until(Duration::from_secs(1));
    p.a.s.audio.as_mut().unwrap().tx.ssrc ^= 1;
    let played = p.b.played_frames().len();
    p.run_until(Duration::from_secs(2));
    let q = p.b.s.report(p.now);
    // Fifty frames from the other source, all refused.
    assert_eq!(q.foreign_dropped, 50);
    assert!(p.b.played_frames().len() <= played + 2);
}

/// Bob's wallclock reads `offset_ms` more than Alice's: latency is off by
/// the offset (and not kept when that makes it implausible), skew and the
/// round trip, which each read one side's clock, are not.
fn wallclocks(offset_ms: i64) {
    let base = WALLCLOCK;
    let bob = if offset_ms >= 0 {
        base + Duration::from_millis(offset_ms as u64)
    } else {
        base - Duration::from_millis(offset_ms.unsigned_abs())
    };
    let mut p = Pair::new(Setup {
        wallclocks: (base, bob),
        ..Setup::default()
    });
    p.run_until(Duration::from_secs(3));
    let q = p.b.s.report(p.now);
    let plausible = (0..10_000).contains(&(offset_ms + 20));
    if plausible {
        let a50 = pct(&q.audio_latency_us, 0.5) - offset_ms as f64;
        assert!(
            (19.9..=40.1).contains(&a50),
            "audio p50 {a50} ms beyond the offset"
        );
    } else {
        assert!(
            q.audio_latency_us.is_empty(),
            "{:?}",
            &q.audio_latency_us[..3]
        );
        assert!(q.video_latency_us.is_empty());
    }
    assert!(q.skew_us.len() >= 80);
    assert!(q.skew_us.iter().all(|s| s.abs() <= 40_000));
    for side in [&p.a, &p.b] {
        let rtt = side.s.report(p.now).rtt.unwrap();
        assert!(rtt < Duration::from_millis(1), "{rtt:?}");
    }
}

macro_rules! wallclocks {
    ($($name:ident: $offset:expr;)*) => {$(
        #[test]
        fn $name() {
            wallclocks($offset);
        }
    )*};
}

wallclocks! {
    bob_clock_5s_ahead_reads_as_5s_more_latency: 5_000;
    bob_clock_100ms_ahead_reads_as_100ms_more_latency: 100;
    bob_clock_5s_behind_keeps_no_latency_samples: -5_000;
    bob_clock_1s_behind_keeps_no_latency_samples: -1_000;
    bob_clock_an_hour_ahead_keeps_no_latency_samples: 3_600_000;
}
