//! Whole calls: what is shown and played, how late, how well in step,
//! under a clean link and under loss, reordering, duplication and delay.

use super::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn clean_ten_second_call_shows_every_frame_and_plays_every_sound() {
    let mut p = Pair::clean();
    p.run_until(secs(10));
    for side in [&p.a, &p.b] {
        let q = side.s.report(p.now);
        assert_eq!(q.video_frames_sent, 301, "a frame at 0 s and every 1/30 s");
        assert_eq!(q.audio_frames_sent, 501);
        // Only the frames still held for their sound at the end are not shown.
        assert!(q.video_frames_shown >= 299, "{q:?}");
        assert_eq!(q.video_frames_received, 301);
        assert_eq!(q.video_frames_incomplete, 0);
        assert_eq!(q.video_frames_superseded, 0);
        assert_eq!((q.video_lost, q.audio_lost), (0, 0));
        assert_eq!(
            q.audio.concealed_fec + q.audio.concealed_plc,
            0,
            "{:?}",
            q.audio
        );
        assert_eq!(q.foreign_dropped, 0);
        // Playout starts at the buffer's two-frame depth: the last two wait.
        assert!(q.audio.played >= 498, "{:?}", q.audio);
        let frames = side.played_frames();
        assert!(
            frames.windows(2).all(|w| w[1] == w[0] + 1),
            "in order, none missing"
        );
        assert_eq!(frames[0], 0);
    }
}

#[test]
fn shown_frames_are_in_capture_order_and_never_repeat() {
    let mut p = Pair::new(Setup::both_ways(ImpairConfig {
        loss: 0.05,
        jitter: Duration::from_millis(40),
        duplicate: 0.05,
        seed: 11,
        ..ImpairConfig::default()
    }));
    p.run_until(secs(10));
    for side in [&p.a, &p.b] {
        let ts: Vec<u32> = side.shown.iter().map(|(_, f)| f.timestamp).collect();
        assert!(
            ts.windows(2)
                .all(|w| crate::media::rtp::timestamp_diff(w[1], w[0]) > 0),
            "frames go forward only"
        );
    }
}

#[test]
fn clean_call_latency_is_the_jitter_buffer_and_nothing_else() {
    let mut p = Pair::clean();
    p.run_until(secs(10));
    let q = p.b.s.report(p.now);
    // No network delay: a picture is shown when its last packet arrives, so
    // at once unless it waits for its sound.
    assert!(
        pct(&q.video_latency_us, 0.95) <= 30.0,
        "{:?}",
        pct(&q.video_latency_us, 0.95)
    );
    // Sound waits for the buffer's two frames: 20 to 40 ms after capture.
    let a50 = pct(&q.audio_latency_us, 0.5);
    assert!((19.9..=40.1).contains(&a50), "audio p50 {a50} ms");
    assert!(q.audio_latency_us.len() >= 490);
}

#[test]
fn fixed_network_delay_adds_to_latency_exactly() {
    let delay = Duration::from_millis(70);
    let mut clean = Pair::clean();
    clean.run_until(secs(5));
    let mut slow = Pair::new(Setup::both_ways(ImpairConfig {
        delay,
        ..ImpairConfig::default()
    }));
    slow.run_until(secs(5));
    let (c, s) = (clean.b.s.report(clean.now), slow.b.s.report(slow.now));
    let d_audio = pct(&s.audio_latency_us, 0.5) - pct(&c.audio_latency_us, 0.5);
    assert!((d_audio - 70.0).abs() <= 1.0, "audio {d_audio} ms more");
    let d_video = pct(&s.video_latency_us, 0.5) - pct(&c.video_latency_us, 0.5);
    assert!((d_video - 70.0).abs() <= 1.0, "video {d_video} ms more");
}

#[test]
fn pictures_stay_within_forty_ms_of_their_sound_under_jitter() {
    let mut p = Pair::new(Setup::both_ways(ImpairConfig {
        delay: Duration::from_millis(20),
        jitter: Duration::from_millis(30),
        seed: 5,
        ..ImpairConfig::default()
    }));
    p.run_until(secs(10));
    for side in [&p.a, &p.b] {
        let q = side.s.report(p.now);
        assert!(q.skew_us.len() > 250, "{} skew samples", q.skew_us.len());
        let skew: Vec<i64> = q.skew_us.clone();
        let mut sorted = skew.clone();
        sorted.sort_unstable();
        let p5 = sorted[sorted.len() * 5 / 100] as f64 / 1000.0;
        let p95 = sorted[sorted.len() * 95 / 100] as f64 / 1000.0;
        assert!(p5 >= -40.0 && p95 <= 40.0, "skew p5 {p5} p95 {p95} ms");
    }
}

#[test]
fn five_percent_loss_for_ten_seconds_is_counted_exactly_and_concealed() {
    let mut p = Pair::new(Setup::both_ways(ImpairConfig {
        loss: 0.05,
        seed: 3,
        ..ImpairConfig::default()
    }));
    p.run_until(secs(10));
    for (side, other) in [(&p.b, &p.a), (&p.a, &p.b)] {
        let q = side.s.report(p.now);
        // What was lost, from the sequence numbers that did arrive: every
        // packet sent between the first and the last that arrived counts.
        for (stream, lost) in [
            (StreamKind::Video, q.video_lost),
            (StreamKind::Audio, q.audio_lost),
        ] {
            let sent = rtp_sequences(other, stream);
            let arrived: std::collections::BTreeSet<u16> =
                arrived_sequences(side, stream).into_iter().collect();
            let from = sent.iter().position(|s| arrived.contains(s)).unwrap();
            let last = sent.iter().rposition(|s| arrived.contains(s)).unwrap();
            let missing = sent[from..=last]
                .iter()
                .filter(|s| !arrived.contains(s))
                .count() as i64;
            assert_eq!(lost, missing, "{stream:?}");
            assert!(missing > 0, "{stream:?}: 5% loss lost nothing");
        }
        assert!(q.video_frames_incomplete > 0, "{q:?}");
        assert!(
            q.video_frames_shown > 150,
            "{} frames shown",
            q.video_frames_shown
        );
        assert!(
            q.audio.concealed_fec + q.audio.concealed_plc > 0,
            "{:?}",
            q.audio
        );
        assert!(q.audio.played > 400, "{:?}", q.audio);
    }
}

#[test]
fn a_sound_card_clock_paces_playout_and_its_queue_counts_as_latency() {
    let mut p = Pair::new(Setup {
        playout: PlayoutClock::Sink,
        ..Setup::default()
    });
    p.b.card_queue = Duration::from_millis(60);
    p.run_until(secs(5));
    let q = p.b.s.report(p.now);
    assert!(q.audio.played >= 245, "{:?}", q.audio);
    let a50 = pct(&q.audio_latency_us, 0.5);
    assert!(
        (79.9..=100.1).contains(&a50),
        "audio p50 {a50} ms with 60 ms queued"
    );
    // Pulls come every 20 ms after the first frame, as a card's would.
    let times: Vec<Instant> = p.b.played.iter().map(|(t, _)| *t).collect();
    assert!(times.windows(2).skip(1).all(|w| w[1] - w[0] == AUDIO_FRAME));
}

#[test]
fn playout_waits_for_two_frames_then_runs_on_the_session_clock() {
    let mut p = Pair::clean();
    p.run_until(Duration::from_millis(1000));
    let first = p.b.played.first().expect("playing").0 - p.start;
    // The second packet (captured at 20 ms) fills the buffer.
    assert_eq!(first, Duration::from_millis(20));
    let times: Vec<Instant> = p.b.played.iter().map(|(t, _)| *t).collect();
    assert!(times.windows(2).all(|w| w[1] - w[0] == AUDIO_FRAME));
}

#[test]
fn a_stopped_sender_makes_playout_wait_then_restart() {
    let mut p = Pair::clean();
    p.run_until(secs(2));
    p.a.next_audio = None;
    p.run_until(secs(4));
    let q = p.b.s.report(p.now);
    assert_eq!(q.audio.restarts, 1, "{:?}", q.audio);
    assert!(p.b.s.poll_timeout().is_some(), "RTCP goes on");
    assert!(
        p.b.s.audio_in.next_tick().is_none(),
        "no ticks while waiting"
    );
    p.a.next_audio = Some(p.now);
    p.run_until(secs(6));
    let q = p.b.s.report(p.now);
    assert!(q.audio.played >= 190, "{:?}", q.audio);
}

#[test]
fn duplicated_packets_neither_show_twice_nor_count_as_loss() {
    let mut p = Pair::new(Setup::both_ways(ImpairConfig {
        duplicate: 0.2,
        seed: 8,
        ..ImpairConfig::default()
    }));
    p.run_until(secs(5));
    let q = p.b.s.report(p.now);
    assert_eq!(q.video_frames_received, 151);
    assert!(q.audio.duplicates > 10, "{:?}", q.audio);
    assert!(q.video_lost <= 0 && q.audio_lost <= 0);
    let played = p.b.played_frames();
    assert!(played.windows(2).all(|w| w[1] == w[0] + 1));
}

#[test]
fn a_one_way_call_receives_without_sending() {
    let mut setup = Setup::default();
    setup.media.video = crate::call::negotiate::NO_VIDEO;
    let mut p = Pair::new(setup);
    p.run_until(secs(3));
    for side in [&p.a, &p.b] {
        let q = side.s.report(p.now);
        assert_eq!(q.video_frames_sent, 0);
        assert_eq!(q.video_frames_shown, 0);
        assert!(q.audio.played > 140);
        assert!(!side.s.has(StreamKind::Video));
        assert!(side.sent.iter().all(|(_, t)| t.stream == StreamKind::Audio));
    }
}
