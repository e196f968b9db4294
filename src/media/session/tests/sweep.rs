//! Short calls across a table of links (loss, jitter, delay, duplicates,
//! asymmetry, one-way media, frame rates, picture sizes, the sound card's
//! clock), one test per row, each checked against figures recomputed from
//! what went over the wire: loss from the sequence numbers that arrived,
//! complete frames from the packets that arrived, every frame accounted
//! for, shown and played in order, in step within ±40 ms.

use super::*;
use crate::call::negotiate::{NO_AUDIO, NO_VIDEO};
use crate::media::rtp::{seq_distance, timestamp_diff};
use std::collections::{BTreeMap, BTreeSet};

/// The cumulative loss RFC 3550 A.1 reports for these arrivals, recomputed
/// independently: counting starts at the first packet that follows its
/// predecessor by one (probation), expected runs from there to the highest
/// sequence number, and every arrival from there on counts as received
/// (duplicates too, which can make the loss negative).
pub(super) fn expected_loss(arrived: &[u16]) -> i64 {
    let Some(start) = arrived
        .windows(2)
        .position(|w| w[1] == w[0].wrapping_add(1))
        .map(|i| i + 1)
    else {
        return 0;
    };
    let base = arrived[start];
    let highest = arrived[start..]
        .iter()
        .map(|&s| i64::from(seq_distance(base, s)))
        .max()
        .unwrap_or(0);
    highest + 1 - (arrived.len() - start) as i64
}

/// Video frames whose every packet reached `rx`, from what `tx` sent.
fn complete_frames(tx: &Side, rx: &Side) -> u64 {
    let arrived: BTreeSet<u16> = arrived_sequences(rx, StreamKind::Video)
        .into_iter()
        .collect();
    let mut frames: BTreeMap<u32, bool> = BTreeMap::new();
    for (_, t) in &tx.sent {
        if t.stream != StreamKind::Video || classify(&t.bytes) != Kind::Rtp {
            continue;
        }
        let h = RtpHeader::parse(&t.bytes).unwrap().0;
        let whole = frames.entry(h.timestamp).or_insert(true);
        *whole &= arrived.contains(&h.sequence);
    }
    frames.values().filter(|w| **w).count() as u64
}

/// Runs a call for `ms` and checks what each side received from the other.
fn check(setup: Setup, ms: u64) -> Pair {
    let jittery = !setup.a_to_b.jitter.is_zero() || !setup.b_to_a.jitter.is_zero();
    // A concealment that stretches the audio delay by a frame puts the
    // pictures already held for their sound that much ahead: a few samples
    // outside ±40 ms, so lossy calls are judged at p5/p95 like jittery ones.
    let lossy = setup.a_to_b.loss > 0.0 || setup.b_to_a.loss > 0.0;
    let mut p = Pair::new(setup);
    p.run_until(Duration::from_millis(ms));
    for (tx, rx) in [(&p.a, &p.b), (&p.b, &p.a)] {
        let sent = tx.s.report(p.now);
        let q = rx.s.report(p.now);
        assert_eq!(sent.video_frames_sent, u64::from(tx.video_captured));
        assert_eq!(sent.audio_frames_sent, u64::from(tx.audio_captured));
        for (stream, lost) in [
            (StreamKind::Video, q.video_lost),
            (StreamKind::Audio, q.audio_lost),
        ] {
            let want = expected_loss(&arrived_sequences(rx, stream));
            assert_eq!(lost, want, "{stream:?} loss");
        }
        if !jittery {
            assert_eq!(q.video_frames_received, complete_frames(tx, rx));
        }
        // Every complete frame is shown, still held, or superseded.
        let held = rx.s.video_in.held.len() as u64;
        assert!(held <= MAX_VIDEO_HOLD as u64);
        assert_eq!(
            q.video_frames_shown + held + q.video_frames_superseded,
            q.video_frames_received
        );
        assert_eq!(q.video_frames_shown, rx.shown.len() as u64);
        let ts: Vec<u32> = rx.shown.iter().map(|(_, f)| f.timestamp).collect();
        assert!(
            ts.windows(2).all(|w| timestamp_diff(w[1], w[0]) > 0),
            "shown in capture order"
        );
        let frames = rx.played_frames();
        assert!(frames.windows(2).all(|w| w[1] > w[0]), "played in order");
        let count = |f: fn(&Playout) -> bool| {
            rx.played.iter().filter(|(_, p)| f(&p.playout)).count() as u64
        };
        assert_eq!(q.audio.played, count(|p| matches!(p, Playout::Frame(_))));
        assert_eq!(
            q.audio.concealed_fec,
            count(|p| matches!(p, Playout::Fec(_)))
        );
        assert_eq!(
            q.audio.concealed_plc,
            count(|p| matches!(p, Playout::Conceal))
        );
        if !q.skew_us.is_empty() {
            let mut s = q.skew_us.clone();
            s.sort_unstable();
            let (lo, hi) = if jittery || lossy {
                (s[s.len() * 5 / 100], s[s.len() * 95 / 100])
            } else {
                (s[0], s[s.len() - 1])
            };
            assert!(lo >= -40_000 && hi <= 40_000, "skew {lo}..{hi} µs");
        }
    }
    p
}

fn link(loss: f64, delay_ms: u64, jitter_ms: u64, duplicate: f64, seed: u64) -> ImpairConfig {
    ImpairConfig {
        loss,
        delay: Duration::from_millis(delay_ms),
        jitter: Duration::from_millis(jitter_ms),
        duplicate,
        seed,
        ..ImpairConfig::default()
    }
}

/// The small picture: these calls are about the link, not the picture.
fn small(setup: Setup) -> Setup {
    Setup {
        jpeg: SMALL_JPEG,
        ..setup
    }
}

/// Same impairment both ways.
fn both(loss: f64, delay_ms: u64, jitter_ms: u64, duplicate: f64, seed: u64) -> Setup {
    small(Setup::both_ways(link(
        loss, delay_ms, jitter_ms, duplicate, seed,
    )))
}

/// Checks a call under loss that really lost something, and that the loss
/// the receivers count is what the links dropped.
fn lossy(loss: f64, seed: u64) {
    let p = check(both(loss, 0, 0, 0.0, seed), 3000);
    for (link, rx) in [(&p.a_to_b, &p.b), (&p.b_to_a, &p.a)] {
        let dropped = link.stats().lost as i64;
        assert!(dropped > 0, "{loss} lost nothing");
        let q = rx.s.report(p.now);
        // Lost before counting started (probation restarts at each gap) or
        // after the last arrival are not (yet) known to the receiver.
        let counted = q.video_lost + q.audio_lost;
        assert!(
            counted <= dropped && counted * 10 >= dropped * 8,
            "{counted} of {dropped}"
        );
    }
}

macro_rules! lossy {
    ($($name:ident: $loss:expr, $seed:expr;)*) => {$(
        #[test]
        fn $name() {
            lossy($loss, $seed);
        }
    )*};
}

lossy! {
    one_percent_loss_seed_1_is_counted_exactly: 0.01, 1;
    one_percent_loss_seed_2_is_counted_exactly: 0.01, 2;
    one_percent_loss_seed_3_is_counted_exactly: 0.01, 3;
    two_percent_loss_seed_1_is_counted_exactly: 0.02, 1;
    two_percent_loss_seed_2_is_counted_exactly: 0.02, 2;
    two_percent_loss_seed_3_is_counted_exactly: 0.02, 3;
    five_percent_loss_seed_1_is_counted_exactly: 0.05, 1;
    five_percent_loss_seed_2_is_counted_exactly: 0.05, 2;
    five_percent_loss_seed_4_is_counted_exactly: 0.05, 4;
    ten_percent_loss_seed_1_is_counted_exactly: 0.10, 1;
    ten_percent_loss_seed_2_is_counted_exactly: 0.10, 2;
    ten_percent_loss_seed_3_is_counted_exactly: 0.10, 3;
    twenty_percent_loss_seed_1_is_counted_exactly: 0.20, 1;
    twenty_percent_loss_seed_2_is_counted_exactly: 0.20, 2;
    twenty_percent_loss_seed_3_is_counted_exactly: 0.20, 3;
}

/// Under jitter alone nothing is lost, skew stays within ±40 ms at p5/p95,
/// and the reported interarrival jitter grows with the link's.
fn jittery(jitter_ms: u64, seed: u64) {
    let p = check(both(0.0, 10, jitter_ms, 0.0, seed), 3000);
    for side in [&p.a, &p.b] {
        let q = side.s.report(p.now);
        let j = q.audio_jitter.as_secs_f64() * 1000.0;
        // Uniform in [0, J]: the mean absolute difference is J/3; the
        // estimator's smoothing leaves it within a wide band of that.
        let mean = jitter_ms as f64 / 3.0;
        assert!(
            j > mean * 0.3 && j < mean * 2.0,
            "jitter {j} ms for {jitter_ms}"
        );
    }
}

macro_rules! jittery {
    ($($name:ident: $jitter:expr, $seed:expr;)*) => {$(
        #[test]
        fn $name() {
            jittery($jitter, $seed);
        }
    )*};
}

jittery! {
    jitter_5ms_seed_1_loses_nothing_and_is_measured: 5, 1;
    jitter_10ms_seed_1_loses_nothing_and_is_measured: 10, 1;
    jitter_10ms_seed_2_loses_nothing_and_is_measured: 10, 2;
    jitter_20ms_seed_1_loses_nothing_and_is_measured: 20, 1;
    jitter_20ms_seed_2_loses_nothing_and_is_measured: 20, 2;
    jitter_40ms_seed_1_loses_nothing_and_is_measured: 40, 1;
    jitter_40ms_seed_2_loses_nothing_and_is_measured: 40, 2;
    jitter_60ms_seed_1_loses_nothing_and_is_measured: 60, 1;
    jitter_60ms_seed_3_loses_nothing_and_is_measured: 60, 3;
    jitter_80ms_seed_1_loses_nothing_and_is_measured: 80, 1;
}

/// A fixed delay each way: latency is the delay plus the buffer, and the
/// round trip is the two delays added.
fn delayed(there_ms: u64, back_ms: u64) {
    let p = check(
        small(Setup {
            a_to_b: link(0.0, there_ms, 0, 0.0, 1),
            b_to_a: link(0.0, back_ms, 0, 0.0, 2),
            ..Setup::default()
        }),
        3000,
    );
    for (side, delay) in [(&p.b, there_ms), (&p.a, back_ms)] {
        let q = side.s.report(p.now);
        let d = delay as f64;
        let a50 = pct(&q.audio_latency_us, 0.5);
        assert!(
            (d + 19.9..=d + 40.1).contains(&a50),
            "audio p50 {a50} ms over {delay} ms"
        );
        let v50 = pct(&q.video_latency_us, 0.5);
        assert!((d - 0.1..=d + 30.1).contains(&v50), "video p50 {v50} ms");
        let rtt = q.rtt.expect("RTT").as_secs_f64() * 1000.0;
        let want = (there_ms + back_ms) as f64;
        assert!((rtt - want).abs() < 0.5, "RTT {rtt} ms, want {want}");
        assert!(q.audio.played > 0 && q.video_frames_shown > 0);
    }
}

macro_rules! delayed {
    ($($name:ident: $there:expr, $back:expr;)*) => {$(
        #[test]
        fn $name() {
            delayed($there, $back);
        }
    )*};
}

delayed! {
    delay_0_0_rtt_and_latency_add_up: 0, 0;
    delay_5_5_rtt_and_latency_add_up: 5, 5;
    delay_20_20_rtt_and_latency_add_up: 20, 20;
    delay_50_50_rtt_and_latency_add_up: 50, 50;
    delay_100_100_rtt_and_latency_add_up: 100, 100;
    delay_150_150_rtt_and_latency_add_up: 150, 150;
    delay_10_90_rtt_and_latency_add_up: 10, 90;
    delay_90_10_rtt_and_latency_add_up: 90, 10;
    delay_0_120_rtt_and_latency_add_up: 0, 120;
    delay_250_30_rtt_and_latency_add_up: 250, 30;
}

/// Duplicates alone: no frame is shown twice, nothing counts as lost
/// beyond what duplicates subtract, and the buffer counts the copies.
fn duplicated(rate: f64, seed: u64) {
    let p = check(both(0.0, 0, 0, rate, seed), 3000);
    for (link, rx) in [(&p.a_to_b, &p.b), (&p.b_to_a, &p.a)] {
        let q = rx.s.report(p.now);
        assert!(link.stats().duplicated > 0);
        assert!(q.video_lost <= 0 && q.audio_lost <= 0);
        assert!(q.audio.duplicates > 0, "{:?}", q.audio);
        let played = rx.played_frames();
        assert!(played.windows(2).all(|w| w[1] == w[0] + 1), "none missing");
        assert_eq!(q.audio.concealed_plc + q.audio.concealed_fec, 0);
    }
}

macro_rules! duplicated {
    ($($name:ident: $rate:expr, $seed:expr;)*) => {$(
        #[test]
        fn $name() {
            duplicated($rate, $seed);
        }
    )*};
}

duplicated! {
    duplicates_5_percent_seed_1_are_not_shown_twice: 0.05, 1;
    duplicates_5_percent_seed_2_are_not_shown_twice: 0.05, 2;
    duplicates_20_percent_seed_1_are_not_shown_twice: 0.20, 1;
    duplicates_20_percent_seed_2_are_not_shown_twice: 0.20, 2;
    duplicates_50_percent_seed_1_are_not_shown_twice: 0.50, 1;
    duplicates_100_percent_are_not_shown_twice: 1.0, 1;
}

/// Everything at once: the accounting still holds.
macro_rules! mixed {
    ($($name:ident: $loss:expr, $delay:expr, $jitter:expr, $dup:expr, $seed:expr;)*) => {$(
        #[test]
        fn $name() {
            // The big picture: several packets a frame, so reassembly sees
            // fragments lost, reordered and doubled.
            let setup = Setup {
                jpeg: JPEG,
                ..both($loss, $delay, $jitter, $dup, $seed)
            };
            check(setup, 3000);
        }
    )*};
}

mixed! {
    mixed_2pct_loss_30ms_jitter_2pct_dup_accounts_for_every_frame: 0.02, 20, 30, 0.02, 1;
    mixed_5pct_loss_20ms_jitter_5pct_dup_accounts_for_every_frame: 0.05, 40, 20, 0.05, 2;
    mixed_10pct_loss_40ms_jitter_accounts_for_every_frame: 0.10, 30, 40, 0.0, 3;
    mixed_1pct_loss_80ms_delay_10ms_jitter_accounts_for_every_frame: 0.01, 80, 10, 0.01, 4;
    mixed_20pct_loss_10ms_jitter_10pct_dup_accounts_for_every_frame: 0.20, 10, 10, 0.10, 5;
}

/// One direction impaired, the other clean: only the impaired receiver
/// counts loss.
fn asymmetric(loss: f64, seed: u64) {
    let p = check(
        small(Setup {
            a_to_b: link(loss, 0, 0, 0.0, seed),
            ..Setup::default()
        }),
        3000,
    );
    let (qa, qb) = (p.a.s.report(p.now), p.b.s.report(p.now));
    assert_eq!((qa.video_lost, qa.audio_lost), (0, 0));
    assert!(qb.video_lost + qb.audio_lost > 0);
    assert_eq!(qa.video_frames_received, qb.video_frames_sent);
}

macro_rules! asymmetric {
    ($($name:ident: $loss:expr, $seed:expr;)*) => {$(
        #[test]
        fn $name() {
            asymmetric($loss, $seed);
        }
    )*};
}

asymmetric! {
    loss_one_way_2pct_leaves_the_other_way_whole: 0.02, 1;
    loss_one_way_10pct_leaves_the_other_way_whole: 0.10, 2;
    loss_one_way_30pct_leaves_the_other_way_whole: 0.30, 3;
}

/// A call carrying only one of the streams.
fn one_way(video: bool, impair: ImpairConfig) {
    let mut setup = small(Setup::both_ways(impair));
    if video {
        setup.media.audio = NO_AUDIO;
    } else {
        setup.media.video = NO_VIDEO;
    }
    let p = check(setup, 3000);
    for side in [&p.a, &p.b] {
        let q = side.s.report(p.now);
        assert_eq!(side.s.has(StreamKind::Video), video);
        assert_eq!(side.s.has(StreamKind::Audio), !video);
        let kind = if video {
            StreamKind::Video
        } else {
            StreamKind::Audio
        };
        assert!(side.sent.iter().all(|(_, t)| t.stream == kind));
        assert!(q.skew_us.is_empty(), "no skew without both streams");
        if video {
            assert_eq!(q.audio_frames_sent, 0);
            assert!(side.played.is_empty());
            // Without sound, nothing to wait for: shown on arrival.
            assert!(q.video_frames_shown >= 50, "{q:?}");
            assert!(side.s.video_in.held.is_empty());
        } else {
            assert_eq!(q.video_frames_sent, 0);
            assert!(side.shown.is_empty());
            assert!(q.audio.played + q.audio.concealed_plc + q.audio.concealed_fec >= 140);
        }
    }
}

#[test]
fn video_only_call_shows_frames_without_waiting_for_sound() {
    one_way(true, ImpairConfig::default());
}

#[test]
fn video_only_call_under_loss_counts_it() {
    one_way(true, link(0.05, 20, 0, 0.0, 7));
}

#[test]
fn video_only_call_under_jitter_keeps_order() {
    one_way(true, link(0.0, 20, 30, 0.0, 8));
}

#[test]
fn audio_only_call_plays_every_frame() {
    one_way(false, ImpairConfig::default());
}

#[test]
fn audio_only_call_under_loss_conceals() {
    one_way(false, link(0.05, 20, 0, 0.0, 7));
}

#[test]
fn audio_only_call_under_jitter_keeps_order() {
    one_way(false, link(0.0, 20, 30, 0.0, 8));
}

/// The sound card's clock with `queue_ms` of sound queued: every pull after
/// the first comes 20 ms apart and the queue adds to the latency.
fn card(queue_ms: u64, impair: ImpairConfig) {
    let mut setup = small(Setup::both_ways(impair.clone()));
    setup.playout = PlayoutClock::Sink;
    let mut p = Pair::new(setup);
    for side in [&mut p.a, &mut p.b] {
        side.card_queue = Duration::from_millis(queue_ms);
    }
    p.run_until(Duration::from_secs(3));
    for side in [&p.a, &p.b] {
        let q = side.s.report(p.now);
        let times: Vec<Instant> = side.played.iter().map(|(t, _)| *t).collect();
        assert!(times.windows(2).skip(1).all(|w| w[1] - w[0] == AUDIO_FRAME));
        let frames = side.played_frames();
        assert!(frames.windows(2).all(|w| w[1] > w[0]));
        let d = (queue_ms + impair.delay.as_millis() as u64) as f64;
        let a50 = pct(&q.audio_latency_us, 0.5);
        assert!(
            (d + 19.9..=d + 40.1 + impair.jitter.as_millis() as f64).contains(&a50),
            "audio p50 {a50} ms with {queue_ms} ms queued"
        );
        // The card plays what it is handed `queue` later: pictures wait for it.
        let mut s = q.skew_us.clone();
        s.sort_unstable();
        assert!(!s.is_empty());
        assert!(
            s[s.len() / 2].abs() <= 40_000,
            "skew p50 {} µs",
            s[s.len() / 2]
        );
    }
}

macro_rules! card {
    ($($name:ident: $queue:expr, $impair:expr;)*) => {$(
        #[test]
        fn $name() {
            card($queue, $impair);
        }
    )*};
}

card! {
    card_queue_0ms_paces_playout: 0, ImpairConfig::default();
    card_queue_20ms_paces_playout: 20, ImpairConfig::default();
    card_queue_40ms_paces_playout: 40, ImpairConfig::default();
    card_queue_100ms_paces_playout: 100, ImpairConfig::default();
    card_queue_150ms_paces_playout: 150, ImpairConfig::default();
    card_queue_40ms_over_a_30ms_link_paces_playout: 40, link(0.0, 30, 0, 0.0, 1);
    card_queue_60ms_under_loss_paces_playout: 60, link(0.05, 10, 0, 0.0, 2);
}

/// Another frame rate and picture size: every frame sent arrives complete
/// on a clean link.
fn rate(fps: u8, width: u16, height: u16) {
    let jpeg = match (width, height) {
        (64, 48) => SMALL_JPEG,
        (320, 240) => JPEG,
        _ => include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/jpeg/cjpeg-640x480-420-restart.jpg"
        )),
    };
    let mut setup = Setup {
        jpeg,
        ..Setup::default()
    };
    setup.media.video.fps = fps;
    setup.media.video.width = width;
    setup.media.video.height = height;
    let p = check(setup, 2000);
    for side in [&p.a, &p.b] {
        let q = side.s.report(p.now);
        assert_eq!(q.video_frames_sent, 2 * u64::from(fps) + 1);
        assert_eq!(q.video_frames_received, q.video_frames_sent);
        assert_eq!(q.video_frames_superseded, 0);
        // The timestamps step by the frame period in 90 kHz ticks.
        assert!(side
            .shown
            .iter()
            .all(|(_, f)| (f.width, f.height) == (width, height)));
        let ts: Vec<u32> = side.shown.iter().map(|(_, f)| f.timestamp).collect();
        let step = 90_000 / u32::from(fps);
        let steps: BTreeSet<u32> = ts.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
        assert_eq!(steps, BTreeSet::from([step]));
    }
}

macro_rules! rate {
    ($($name:ident: $fps:expr, $w:expr, $h:expr;)*) => {$(
        #[test]
        fn $name() {
            rate($fps, $w, $h);
        }
    )*};
}

rate! {
    fps_5_at_320x240_sends_and_shows_every_frame: 5, 320, 240;
    fps_15_at_320x240_sends_and_shows_every_frame: 15, 320, 240;
    fps_30_at_320x240_sends_and_shows_every_frame: 30, 320, 240;
    fps_60_at_320x240_sends_and_shows_every_frame: 60, 320, 240;
    fps_15_at_640x480_sends_and_shows_every_frame: 15, 640, 480;
    fps_30_at_640x480_sends_and_shows_every_frame: 30, 640, 480;
    fps_10_at_64x48_sends_and_shows_every_frame: 10, 64, 48;
    fps_60_at_64x48_sends_and_shows_every_frame: 60, 64, 48;
}
