//! The quality report as the shell prints it (text lines, one JSON
//! object), and the bounds on what the session keeps.

use super::*;
use crate::media::session::report::keep;

/// Every key scripts read, in order.
const JSON_KEYS: [&str; 56] = [
    "peer",
    "duration_s",
    "stop_ms",
    "video_frames_sent",
    "video_frames_received",
    "video_frames_shown",
    "video_frames_incomplete",
    "video_frames_superseded",
    "video_frames_unfinished",
    "video_latency_p50_ms",
    "video_latency_p95_ms",
    "camera_capture_to_send_p50_ms",
    "camera_capture_to_send_p95_ms",
    "audio_frames_sent",
    "audio_frames_played",
    "audio_concealed_fec",
    "audio_concealed_plc",
    "audio_late",
    "audio_latency_p50_ms",
    "audio_latency_p95_ms",
    "av_skew_p50_ms",
    "av_skew_p95_ms",
    "video_packets_lost",
    "audio_packets_lost",
    "video_jitter_ms",
    "audio_jitter_ms",
    "rtt_ms",
    "foreign_packets_dropped",
    "other_payload_type_packets_dropped",
    "sound_overruns",
    "sound_underruns",
    "video_frames_displayed",
    "display_latency_p50_ms",
    "display_latency_p95_ms",
    "display_decode_p95_ms",
    "video_longest_freeze_ms",
    "nacks_sent",
    "nacks_received",
    "video_packets_repaired_rtx",
    "video_packets_repaired_fec",
    "rtx_bytes_sent",
    "fec_bytes_sent",
    "video_media_bytes_sent",
    "repair_overhead",
    "video_frames_lost_after_repair",
    "video_playout_allowance_ms",
    "video_target_kbps_min",
    "video_target_kbps_median",
    "video_target_kbps_max",
    "video_quality",
    "video_fps_target",
    "video_scale",
    "audio_bitrate_kbps",
    "audio_expected_loss_percent",
    "srtp_auth_failed_packets",
    "srtp_replayed_packets",
];

fn lossy_call() -> (Pair, Quality) {
    let mut p = Pair::new(Setup::both_ways(ImpairConfig {
        loss: 0.05,
        delay: Duration::from_millis(25),
        seed: 6,
        ..ImpairConfig::default()
    }));
    p.run_until(Duration::from_secs(3));
    let q = p.b.s.report(p.now);
    (p, q)
}

#[test]
fn json_report_parses_with_every_key_in_order() {
    let (_, q) = lossy_call();
    let text = q.json("bob \"the\" builder\n");
    assert!(!text.contains('\n'), "one line");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let obj = v.as_object().unwrap();
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    let mut want = JSON_KEYS.to_vec();
    want.sort_unstable();
    let mut got = keys.clone();
    got.sort_unstable();
    assert_eq!(got, want);
    // Order as written, which serde_json's map keeps only by position in the text.
    let mut at = 0;
    for k in JSON_KEYS {
        let i = text[at..].find(&format!("\"{k}\":")).expect(k) + at;
        at = i;
    }
    assert_eq!(obj["peer"], "bob \"the\" builder\n");
}

#[test]
fn json_report_figures_are_the_report_s() {
    let (_, q) = lossy_call();
    let v: serde_json::Value = serde_json::from_str(&q.json("bob")).unwrap();
    assert_eq!(v["video_frames_sent"], q.video_frames_sent);
    assert_eq!(v["video_frames_shown"], q.video_frames_shown);
    assert_eq!(v["audio_frames_played"], q.audio.played);
    assert_eq!(v["video_packets_lost"], q.video_lost);
    assert_eq!(v["audio_packets_lost"], q.audio_lost);
    assert_eq!(v["duration_s"], 3.0);
    let rtt = v["rtt_ms"].as_f64().unwrap();
    assert!((rtt - 50.0).abs() < 0.5, "{rtt}");
    let p50 = v["audio_latency_p50_ms"].as_f64().unwrap();
    assert_eq!(
        p50,
        (pct(&q.audio_latency_us, 0.5) * 1000.0).round() / 1000.0
    );
    // Three decimals at most.
    assert!(((p50 * 1000.0).round() - p50 * 1000.0).abs() < 1e-6);
}

#[test]
fn json_report_of_nothing_has_nulls_not_zeros() {
    let q = Quality::default();
    let v: serde_json::Value = serde_json::from_str(&q.json("x")).unwrap();
    for k in [
        "video_latency_p50_ms",
        "audio_latency_p95_ms",
        "av_skew_p50_ms",
        "rtt_ms",
        "camera_capture_to_send_p50_ms",
        "sound_overruns",
        "video_frames_displayed",
        "display_latency_p95_ms",
    ] {
        assert!(v[k].is_null(), "{k}");
    }
    assert_eq!(v["video_frames_sent"], 0);
}

#[test]
fn a_display_adds_its_line_and_figures_to_the_report() {
    let (_, mut q) = lossy_call();
    let mut d = DisplayStats::default();
    for ms in 1..=100u64 {
        d.record(
            Some(Duration::from_millis(40 + ms)),
            Duration::from_millis(2),
        );
    }
    d.record(None, Duration::from_millis(9));
    q.display = Some(d);
    let lines = q.lines("bob");
    assert_eq!(lines.len(), 8);
    assert_eq!(
        lines[2],
        format!(
            "  display: 101 frames displayed of {} shown; capture-to-present latency p50 91.0 ms p95 135.0 ms; decode p95 2.0 ms",
            q.video_frames_shown
        )
    );
    let v: serde_json::Value = serde_json::from_str(&q.json("bob")).unwrap();
    assert_eq!(v["video_frames_displayed"], 101);
    assert_eq!(v["display_latency_p50_ms"], 91.0);
    assert_eq!(v["display_latency_p95_ms"], 135.0);
    assert_eq!(v["display_decode_p95_ms"], 2.0);
}

#[test]
fn live_figures_agree_with_the_report() {
    let (p, q) = lossy_call();
    let live = p.b.s.live();
    assert_eq!(live.video_frames_shown, q.video_frames_shown);
    assert_eq!(live.packets_lost, q.video_lost + q.audio_lost);
    assert!(live.packets_lost > 0, "the call was lossy");
    assert!(live.packets_expected > live.packets_lost as u64);
    assert_eq!(live.rtt, q.rtt);
}

#[test]
fn shown_frames_carry_their_capture_time_on_our_clock() {
    // 25 ms each way: a frame is shown 25 ms plus the buffer after capture,
    // and its capture time is the sender's, through its reports.
    let mut p = Pair::new(Setup::both_ways(ImpairConfig {
        delay: Duration::from_millis(25),
        seed: 1,
        ..ImpairConfig::default()
    }));
    p.run_until(Duration::from_secs(3));
    let b = &p.b;
    assert_eq!(b.shown.len(), b.shown_captured.len());
    let mut related = 0;
    for ((at, _), captured) in b.shown.iter().zip(&b.shown_captured) {
        if let Some(c) = captured {
            let lat = at.saturating_duration_since(*c);
            // Within the timestamps' rounding of the 25 ms delay.
            assert!(lat >= Duration::from_millis(24), "{lat:?}");
            assert!(lat < Duration::from_millis(400), "{lat:?}");
            related += 1;
        }
    }
    assert!(related > 30, "{related} of {}", b.shown.len());
    // The same latency the report measures.
    let q = b.s.report(p.now);
    assert_eq!(related, q.video_latency_us.len());
}

#[test]
fn text_report_has_a_line_per_subject_with_the_figures() {
    let (_, q) = lossy_call();
    let lines = q.lines("bob");
    assert_eq!(lines.len(), 7);
    assert!(lines[0].starts_with("quality report (call with bob, media 3.0 s"));
    assert!(lines[1].starts_with(&format!(
        "  video: sent {} frames (30.3 fps), received {}",
        q.video_frames_sent, q.video_frames_received
    )));
    assert!(lines[2].starts_with(&format!(
        "  audio: sent {} frames, played {}",
        q.audio_frames_sent, q.audio.played
    )));
    assert!(lines[3].starts_with("  sync: audio/video skew p5 "));
    assert!(
        lines[4].starts_with("  repair: NACKs sent 0"),
        "{}",
        lines[4]
    );
    assert!(
        lines[5].starts_with("  rate: target video rate"),
        "{}",
        lines[5]
    );
    assert!(lines[6].contains(&format!(
        "packets lost video {} audio {}",
        q.video_lost, q.audio_lost
    )));
    assert!(lines[6].contains("RTT 50.0 ms"), "{}", lines[6]);
}

#[test]
fn text_report_adds_camera_and_sound_card_lines_when_known() {
    let q = Quality {
        capture_to_send_us: vec![4_000, 6_000],
        sound_overruns: Some(2),
        sound_underruns: Some(0),
        ..Quality::default()
    };
    let lines = q.lines("x");
    assert_eq!(lines.len(), 9);
    assert!(lines[2].starts_with("  camera: capture-to-send latency p50 6.0 ms p95 6.0 ms"));
    assert!(lines[4].starts_with("  sound card: capture overruns 2, playback underruns 0"));
    assert!(lines[5].contains("n/a"), "no skew measured: {}", lines[5]);
}

#[test]
fn camera_frames_report_their_capture_to_send_latency() {
    let now = Instant::now();
    let mut s = side(now, &Setup::default(), A_IP, B_IP, 1, WALLCLOCK).s;
    for (k, late_ms) in [(0u64, 12u64), (1, 8), (2, 30)] {
        let captured = now + Duration::from_millis(k * 33);
        let frame = VideoFrame {
            captured,
            jpeg: JPEG,
            from_camera: k != 1,
        };
        s.send_video_frame(captured + Duration::from_millis(late_ms), frame)
            .unwrap();
    }
    let q = s.report(now + Duration::from_secs(1));
    assert_eq!(q.capture_to_send_us, vec![12_000, 30_000]);
    assert_eq!(q.video_frames_sent, 3);
}

#[test]
fn samples_stop_at_max_samples() {
    let mut v = Vec::new();
    for i in 0..MAX_SAMPLES as u64 + 10 {
        keep(&mut v, i);
    }
    assert_eq!(v.len(), MAX_SAMPLES);
    assert_eq!(v.last(), Some(&(MAX_SAMPLES as u64 - 1)), "the first kept");
}

#[test]
fn held_frames_never_exceed_max_video_hold() {
    let mut p = Pair::clean();
    p.run_until(Duration::from_secs(1));
    // Pictures stamped a second ahead of their sound all want holding,
    // until the next sender report maps the new stamps.
    let v = p.a.s.video.as_mut().unwrap();
    v.tx.ts_origin = v.tx.ts_origin.wrapping_add(90_000);
    let mut most = 0;
    for _ in 0..60 {
        p.run_for(Duration::from_millis(11));
        most = most.max(p.b.s.video_in.held.len());
    }
    assert_eq!(most, MAX_VIDEO_HOLD, "filled, never beyond");
    let q = p.b.s.report(p.now);
    assert!(q.video_frames_superseded > 0);
    assert_eq!(
        q.video_frames_shown + q.video_frames_superseded + p.b.s.video_in.held.len() as u64,
        q.video_frames_received
    );
}

#[test]
fn a_frame_is_never_held_longer_than_max_video_delay() {
    let mut p = Pair::clean();
    p.run_until(Duration::from_secs(1));
    // Pictures stamped a second ahead of their sound.
    let v = p.a.s.video.as_mut().unwrap();
    v.tx.ts_origin = v.tx.ts_origin.wrapping_add(90_000);
    let mut longest = Duration::ZERO;
    for _ in 0..60 {
        p.run_for(Duration::from_millis(11));
        for (due, _) in &p.b.s.video_in.held {
            longest = longest.max(due.saturating_duration_since(p.now));
        }
    }
    // Wanted 970 ms; capped, and the cap was what held them.
    assert!(longest <= MAX_VIDEO_DELAY, "{longest:?}");
    assert!(
        longest > MAX_VIDEO_DELAY - Duration::from_millis(15),
        "{longest:?}"
    );
}
