//! Loss repair and rate adaptation with a full-size picture (640x480 at
//! quality 75, 21 packets a frame) through the seeded impairment, 25 ms
//! each way: the figures, asserted in simulated time. Each call
//! runs 10 s of media, then lets what is in flight arrive; figures are of
//! Bob's view of Alice's video (Alice's of Bob's is checked too where the
//! impairment is the same both ways).

use super::*;
use crate::media::rtp::Nack;

/// 640x480, quality 75, about 29 KB: 21 RTP packets a frame.
const FULL: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/jpeg/cjpeg-640x480-420-q75-noisy.jpg"
));

const MEDIA_640: MediaDescription = MediaDescription {
    video: crate::wire::VideoFormat {
        codec: VideoCodec::Mjpeg,
        width: 640,
        height: 480,
        fps: 30,
    },
    audio: MEDIA.audio,
};

/// What a call's receiver saw of the sender's video.
#[derive(Debug)]
struct Figures {
    /// Frames shown over frames sent.
    shown: f64,
    video_p95_ms: f64,
    longest_freeze_ms: f64,
    /// Repair bytes over media bytes.
    overhead: f64,
    /// The share of the sender's original video packets the link lost in
    /// this run (the seeded loss is near the asked rate, not at it).
    link_loss: f64,
    /// Audio/video skew p5 and p95, as the report gives it.
    skew_ms: (f64, f64),
    quality: Quality,
}

fn figures(sender: &Side, receiver: &Side, now: Instant) -> Figures {
    let q = receiver.s.report(now);
    let sent = sender.s.report(now);
    let mut skew: Vec<i64> = q.skew_us.clone();
    skew.sort_unstable();
    let at = |p: f64| {
        skew.get(((skew.len().max(1) - 1) as f64 * p) as usize)
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    let (lo, hi) = (at(0.05), at(0.95));
    Figures {
        shown: q.video_frames_shown as f64 / sent.video_frames_sent.max(1) as f64,
        video_p95_ms: pct(&q.video_latency_us, 0.95),
        longest_freeze_ms: q.video_longest_freeze.as_secs_f64() * 1000.0,
        overhead: sent.repair_overhead(),
        link_loss: {
            let v = receiver.s.video.as_ref().expect("video");
            v.rx.stats.lost() as f64 / v.rx.stats.expected().max(1) as f64
        },
        skew_ms: (lo, hi),
        quality: q,
    }
}

/// A 10 s call under `cfg` both ways (different seeds), with repair, and
/// encrypted as a peer's calls are (SRTP adds 16 bytes to every packet and
/// the link's rate cap counts them).
fn call(cfg: ImpairConfig) -> Pair {
    let mut setup = Setup::both_ways(cfg);
    setup.media = MEDIA_640;
    setup.jpeg = FULL;
    setup.feedback = true;
    setup.srtp = Some(SECRET);
    let mut p = Pair::new(setup);
    p.run_until(Duration::from_secs(10));
    p.stop_capture();
    p.run_for(Duration::from_secs(1));
    p
}

fn lossy(loss: f64, seed: u64) -> ImpairConfig {
    ImpairConfig {
        loss,
        delay: Duration::from_millis(25),
        seed,
        ..ImpairConfig::default()
    }
}

/// Asserts the bars of one scenario, both directions.
fn check(
    name: &str,
    p: &Pair,
    loss: f64,
    min_shown: f64,
    max_p95_ms: f64,
    max_freeze_ms: Option<f64>,
) {
    for (who, f) in [
        ("bob", figures(&p.a, &p.b, p.now)),
        ("alice", figures(&p.b, &p.a, p.now)),
    ] {
        let r = &f.quality.repair;
        eprintln!(
            "{name} {who}: shown {:.1}% p95 {:.1} ms freeze {:.0} ms overhead {:.3} ({:.2}x loss) skew {:?} nacks {} rtx {} useless {} late {} lost-after-repair {} allowance {:?} rate {:?}",
            f.shown * 100.0,
            f.video_p95_ms,
            f.longest_freeze_ms,
            f.overhead,
            f.overhead / f.link_loss.max(1e-9),
            f.skew_ms,
            r.nacks_sent,
            r.repaired_rtx,
            r.rtx_useless,
            r.rtx_late,
            r.frames_lost,
            r.playout_allowance,
            f.quality.rate,
        );
        assert!(f.shown >= min_shown, "{name} {who}: shown {:.3}", f.shown);
        assert!(
            f.video_p95_ms <= max_p95_ms,
            "{name} {who}: p95 {}",
            f.video_p95_ms
        );
        if let Some(m) = max_freeze_ms {
            assert!(
                f.longest_freeze_ms <= m,
                "{name} {who}: freeze {}",
                f.longest_freeze_ms
            );
        }
        if loss > 0.0 {
            assert!(
                f.overhead <= 1.5 * f.link_loss,
                "{name} {who}: overhead {:.3} at {:.3} loss",
                f.overhead,
                f.link_loss
            );
        }
        // A 50 ms round trip leaves time to ask again: no FEC.
        assert_eq!(f.quality.repair.repaired_fec, 0, "{name} {who}");
        assert!(
            f.skew_ms.0 >= -40.0 && f.skew_ms.1 <= 40.0,
            "{name} {who}: skew {:?}",
            f.skew_ms
        );
    }
}

/// Seeds each scenario runs with: the bars hold for every one.
const SEEDS: std::ops::RangeInclusive<u64> = 1..=8;

#[test]
fn five_percent_loss_shows_99_percent_within_150_ms() {
    for seed in SEEDS {
        check("5%", &call(lossy(0.05, seed)), 0.05, 0.99, 150.0, None);
    }
}

#[test]
fn ten_percent_loss_shows_98_percent_within_180_ms() {
    for seed in SEEDS {
        check("10%", &call(lossy(0.10, seed)), 0.10, 0.98, 180.0, None);
    }
}

#[test]
fn twenty_percent_loss_shows_97_percent_within_200_ms() {
    for seed in SEEDS {
        check(
            "20%",
            &call(lossy(0.20, seed)),
            0.20,
            0.97,
            200.0,
            Some(200.0),
        );
    }
}

#[test]
fn a_clean_link_adds_no_delay_and_no_overhead() {
    let p = call(lossy(0.0, 7));
    for (sender, receiver) in [(&p.a, &p.b), (&p.b, &p.a)] {
        let f = figures(sender, receiver, p.now);
        assert_eq!(f.quality.repair.nacks_sent, 0);
        assert_eq!(f.quality.repair.rtx_bytes_sent, 0);
        assert!(f.shown >= 0.999, "{}", f.shown);
        assert_eq!(f.quality.repair.playout_allowance, Duration::ZERO);
        // 25 ms on the wire and nothing added for repair.
        assert!(f.video_p95_ms <= 30.0, "{}", f.video_p95_ms);
        // Full quality all along.
        assert_eq!(f.quality.rate.quality, LEVELS[0].quality);
    }
}

#[test]
fn bursty_five_percent_loss_shows_99_percent_within_180_ms() {
    for seed in SEEDS {
        let cfg = ImpairConfig {
            burst: Some(4.0),
            ..lossy(0.05, seed)
        };
        check("5% burst 4", &call(cfg), 0.05, 0.99, 180.0, None);
    }
}

/// Bytes Alice sent on the video socket (RTP, retransmissions, RTCP) in
/// `[from, to)` after the start, as bits per second.
fn sent_rate(p: &Pair, from: Duration, to: Duration) -> f64 {
    let bytes: usize = p
        .a
        .sent
        .iter()
        .filter(|(at, t)| t.stream == StreamKind::Video && (from..to).contains(&(*at - p.start)))
        .map(|(_, t)| t.bytes.len())
        .sum();
    bytes as f64 * 8.0 / (to - from).as_secs_f64()
}

#[test]
fn behind_a_2_mbit_bottleneck_the_rate_fits_and_comes_back_when_it_lifts() {
    let cap = 2_000_000.0;
    let mut setup = Setup::both_ways(lossy(0.0, 7));
    setup.a_to_b.rate = Some(cap as u64);
    setup.a_to_b.until = Some(Duration::from_secs(10));
    setup.media = MEDIA_640;
    setup.jpeg = FULL;
    setup.feedback = true;
    setup.srtp = Some(SECRET);
    let mut p = Pair::new(setup);
    // Once a second: the level Alice's rate control is at.
    let mut levels = Vec::new();
    for s in 1..=20 {
        p.run_until(Duration::from_secs(s));
        levels.push(p.a.s.video_target());
    }
    let sec = Duration::from_secs;
    // Within 5 s the sent rate fits the cap, and stays within it.
    for s in 5..10 {
        let r = sent_rate(&p, sec(s), sec(s + 1));
        eprintln!(
            "second {s}: sent {:.0} kbit/s, level {:?}",
            r / 1000.0,
            levels[s as usize - 1]
        );
        assert!(r <= cap, "second {s}: {r:.0} bit/s over the cap");
    }
    // At least 15 frames a second shown, within 300 ms of capture.
    let capped: Vec<Duration> =
        p.b.shown
            .iter()
            .zip(&p.b.shown_captured)
            .filter(|((at, _), _)| (sec(5)..sec(10)).contains(&(*at - p.start)))
            .filter_map(|((at, _), c)| c.map(|c| *at - c))
            .collect();
    let fps = capped.len() as f64 / 5.0;
    let us: Vec<u64> = capped.iter().map(|d| d.as_micros() as u64).collect();
    let p95 = pct(&us, 0.95);
    let q = p.a.s.report(p.now);
    eprintln!(
        "capped: {fps:.1} fps shown, video p95 {p95:.1} ms; repair {:.1}% of media ({} refused)",
        q.repair_overhead() * 100.0,
        q.repair.rtx_refused
    );
    // Repairs do not feed the overflowing queue.
    assert!(
        q.repair_overhead() <= rate::MAX_REPAIR_SHARE,
        "{:?}",
        q.repair
    );
    assert!(fps >= 15.0, "{fps} fps");
    assert!(p95 <= 300.0, "p95 {p95} ms");
    // Lifted at 10 s: back to full quality by 20 s.
    let back = levels
        .iter()
        .enumerate()
        .skip(10)
        .find(|(_, t)| t.quality == LEVELS[0].quality && t.fps_divisor == 1 && t.scale == 1)
        .map(|(i, _)| i + 1);
    eprintln!("levels: {levels:?}; full again at {back:?} s");
    assert!(
        back.is_some_and(|s| s <= 20),
        "not back to full quality: {levels:?}"
    );
}

#[test]
fn the_audio_encoder_is_told_the_loss_and_pays_for_its_fec() {
    // Looked at while media flows (after it stops, reports say nothing was lost).
    let running = |cfg| {
        let mut setup = Setup::both_ways(cfg);
        setup.feedback = true;
        let mut p = Pair::new(setup);
        p.run_until(Duration::from_secs(6));
        p
    };
    let lossy_call = running(lossy(0.20, 7));
    let clean_call = running(lossy(0.0, 7));
    for side in [&lossy_call.a, &lossy_call.b] {
        let t = side.s.audio_target();
        assert!((18..=26).contains(&t.expected_loss_percent), "{t:?}");
        assert!(t.bitrate > AudioTarget::for_loss(0.0).bitrate, "{t:?}");
        assert!(t.bitrate <= rate::MAX_AUDIO_BITRATE);
    }
    for side in [&clean_call.a, &clean_call.b] {
        assert_eq!(side.s.audio_target(), AudioTarget::for_loss(0.0));
    }
}

#[test]
fn on_a_long_round_trip_fec_rebuilds_what_retransmission_cannot() {
    // 120 ms each way: a retransmission comes a quarter second after its
    // loss, beyond the longest playout allowance.
    let long = |feedback: bool, seed: u64| {
        let mut setup = Setup::both_ways(ImpairConfig {
            loss: 0.05,
            delay: Duration::from_millis(120),
            seed,
            ..ImpairConfig::default()
        });
        setup.media = MEDIA_640;
        setup.jpeg = FULL;
        setup.feedback = feedback;
        // FEC is made over plain packets and sent encrypted.
        setup.srtp = Some(SECRET);
        let mut p = Pair::new(setup);
        p.run_until(Duration::from_secs(10));
        p.stop_capture();
        p.run_for(Duration::from_secs(1));
        p
    };
    for seed in 1..=3 {
        let with = long(true, seed);
        let without = long(false, seed);
        let f = figures(&with.a, &with.b, with.now);
        let plain = figures(&without.a, &without.b, without.now);
        eprintln!(
            "long RTT seed {seed}: shown {:.1}% with repair (FEC {} packets rebuilt, overhead {:.3}), {:.1}% without",
            f.shown * 100.0,
            f.quality.repair.repaired_fec,
            f.overhead,
            plain.shown * 100.0
        );
        assert!(f.quality.repair.repaired_fec > 0);
        assert!(
            f.shown >= plain.shown + 0.15,
            "{} vs {}",
            f.shown,
            plain.shown
        );
        // FEC costs about 1.5 times the loss, with the retransmissions that
        // still make it on top.
        assert!(f.overhead <= 3.0 * f.link_loss, "overhead {}", f.overhead);
    }
}

#[test]
fn bad_repair_packets_are_refused_and_the_call_goes_on() {
    let mut setup = Setup::both_ways(lossy(0.05, 3));
    setup.feedback = true;
    let mut p = Pair::new(setup);
    p.run_until(Duration::from_secs(2));
    let shown = p.b.shown.len();
    let alice = SocketAddr::from((A_IP, 5000));
    let media_ssrc = p.b.s.video.as_ref().and_then(|v| v.rx.ssrc).unwrap();
    let rtx_ssrc =
        p.b.s
            .rtx_source
            .expect("retransmissions came under 5% loss");
    let header = |pt, ssrc| RtpHeader {
        marker: false,
        payload_type: pt,
        sequence: 9,
        timestamp: 9,
        ssrc,
    };
    let now = p.now;
    let mut b = |bytes: &[u8]| p.b.s.handle_packet(now, StreamKind::Video, alice, bytes);
    // A retransmission too short to hold the original sequence number.
    assert_eq!(
        b(&header(PT_RTX, rtx_ssrc).to_bytes(&[1])),
        Received::Malformed
    );
    // A retransmission from another source than the one latched.
    assert_eq!(
        b(&header(PT_RTX, 12345).to_bytes(&[0, 1, 2])),
        Received::Foreign
    );
    // FEC claiming the media stream's own SSRC as its source.
    assert_eq!(
        b(&header(PT_FLEXFEC, media_ssrc).to_bytes(&[0; 40])),
        Received::Malformed
    );
    // FEC garbage from a new source: latched, but not a repair packet.
    assert_eq!(
        b(&header(PT_FLEXFEC, 777).to_bytes(&[0xff; 40])),
        Received::Malformed
    );
    // A NACK for packets never sent is answered with nothing.
    let nack = Rtcp::Nack(Nack::from_lost(
        media_ssrc,
        p.a.s.video.as_ref().unwrap().tx.ssrc,
        &[1, 2, 3],
    ));
    let before = p.a.s.report(now).repair.rtx_packets_sent;
    let a_from_b = SocketAddr::from((B_IP, 5000));
    let _ =
        p.a.s
            .handle_packet(now, StreamKind::Video, a_from_b, &nack.to_bytes());
    assert_eq!(p.a.s.report(now).repair.rtx_packets_sent, before);
    p.run_until(Duration::from_secs(4));
    assert!(p.b.shown.len() >= shown + 55, "video goes on");
}
