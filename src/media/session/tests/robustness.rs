//! What a session does with what it should not get: strangers, garbage,
//! wrapping counters, timestamps far ahead.

use super::*;

#[test]
fn a_packet_from_a_stranger_is_dropped_and_counted() {
    let mut p = Pair::clean();
    p.run_until(Duration::from_secs(1));
    let shown = p.b.shown.len();
    let stranger = SocketAddr::from(([127, 0, 0, 9], 5000));
    let rtp = RtpHeader {
        marker: true,
        payload_type: PT_JPEG,
        sequence: 1,
        timestamp: 1,
        ssrc: 7,
    }
    .to_bytes(&[0; 100]);
    let now = p.now;
    assert_eq!(
        p.b.s.handle_packet(now, StreamKind::Video, stranger, &rtp),
        Received::Foreign
    );
    // The right address but the other stream's port is a stranger too.
    let wrong_port = SocketAddr::from((A_IP, 5002));
    assert_eq!(
        p.b.s
            .handle_packet(now, StreamKind::Video, wrong_port, &rtp),
        Received::Foreign
    );
    p.run_until(Duration::from_secs(2));
    let q = p.b.s.report(p.now);
    assert_eq!(q.foreign_dropped, 2);
    assert!(p.b.shown.len() >= shown + 29);
}

#[test]
fn a_payload_type_the_stream_does_not_carry_is_dropped_and_counted() {
    let mut p = Pair::clean();
    p.run_until(Duration::from_secs(1));
    let shown = p.b.shown.len();
    let from = p.a.video_addr;
    // Right source, but PT 111 (Opus) and PT 0 on the video stream.
    for (pt, seq) in [(PT_OPUS, 40_000), (0, 40_001)] {
        let rtp = RtpHeader {
            marker: true,
            payload_type: pt,
            sequence: seq,
            timestamp: 1,
            ssrc: 7,
        }
        .to_bytes(&[0; 100]);
        let now = p.now;
        assert_eq!(
            p.b.s.handle_packet(now, StreamKind::Video, from, &rtp),
            Received::Malformed
        );
    }
    p.run_until(Duration::from_secs(2));
    let q = p.b.s.report(p.now);
    assert_eq!((q.payload_type_dropped, q.foreign_dropped), (2, 0));
    assert!(p.b.shown.len() >= shown + 29);
    assert!(q
        .lines("alice")
        .iter()
        .any(|l| l.contains("packets of other payload types dropped 2")));
}

#[test]
fn sequence_numbers_wrapping_lose_nothing() {
    let mut p = Pair::clean();
    for side in [&mut p.a, &mut p.b] {
        side.s.video.as_mut().unwrap().tx.seq = 65_500;
        side.s.audio.as_mut().unwrap().tx.seq = 65_500;
    }
    p.run_until(Duration::from_secs(5));
    let q = p.b.s.report(p.now);
    assert_eq!((q.video_lost, q.audio_lost), (0, 0));
    assert!(q.video_frames_shown >= 149);
    assert!(p.b.played_frames().windows(2).all(|w| w[1] == w[0] + 1));
    assert!(
        rtp_sequences(&p.a, StreamKind::Video).contains(&0),
        "wrapped"
    );
}

#[test]
fn rtp_timestamps_wrapping_keep_pictures_and_sound_flowing_in_step() {
    let mut p = Pair::clean();
    for side in [&mut p.a, &mut p.b] {
        // Both wrap about two seconds in.
        side.s.video.as_mut().unwrap().tx.ts_origin = u32::MAX - 2 * 90_000;
        side.s.audio.as_mut().unwrap().tx.ts_origin = u32::MAX - 2 * 48_000;
    }
    p.run_until(Duration::from_secs(5));
    let q = p.b.s.report(p.now);
    assert!(q.video_frames_shown >= 149, "{q:?}");
    assert!(q.audio.played >= 248, "{:?}", q.audio);
    assert_eq!(q.audio.concealed_plc, 0);
    let skew: Vec<i64> = q.skew_us.iter().map(|s| s.abs()).collect();
    assert!(
        skew.iter().all(|s| *s <= 40_000),
        "skew stays small across the wrap"
    );
}

#[test]
fn a_forged_packet_far_out_of_sequence_is_not_taken() {
    let mut p = Pair::clean();
    p.run_until(Duration::from_secs(1));
    let v = p.a.s.video.as_ref().unwrap();
    let forged = RtpHeader {
        marker: true,
        payload_type: PT_JPEG,
        sequence: v.tx.seq.wrapping_add(30_000),
        timestamp: v.tx.ts_origin.wrapping_add(1 << 30),
        ssrc: v.tx.ssrc,
    };
    let jpeg = packetize(JPEG, 60_000).unwrap().next().unwrap();
    let bytes = forged.to_bytes(&jpeg.payload);
    let now = p.now;
    let from = p.a.video_addr;
    assert_eq!(
        p.b.s.handle_packet(now, StreamKind::Video, from, &bytes),
        Received::Foreign
    );
    let shown = p.b.shown.len();
    p.run_until(Duration::from_secs(2));
    assert!(p.b.shown.len() >= shown + 29, "video goes on");
}

#[test]
fn a_timestamp_jumping_far_ahead_is_shown_not_held_forever() {
    let mut p = Pair::clean();
    p.run_until(Duration::from_secs(1));
    // The sender paused for over three hours by its RTP clock: the next
    // frames carry timestamps far ahead of the sound's.
    let v = p.a.s.video.as_mut().unwrap();
    v.tx.ts_origin = v.tx.ts_origin.wrapping_add(1 << 30);
    let shown = p.b.shown.len();
    p.run_until(Duration::from_secs(3));
    // Held at most MAX_VIDEO_DELAY until the next sender report maps the new
    // timestamps, then shown at once again.
    let later: Vec<Instant> = p.b.shown[shown..].iter().map(|(t, _)| *t).collect();
    assert!(later.len() >= 45, "{} shown after the jump", later.len());
    let last = p.b.shown.last().unwrap().0;
    assert!(p.now - last <= Duration::from_millis(50), "no longer held");
    assert!(p.b.s.video_in.held.len() <= MAX_VIDEO_HOLD);
}

#[test]
fn garbage_never_panics_and_is_dropped() {
    let mut p = Pair::clean();
    p.run_until(Duration::from_millis(200));
    let mut x = 0x1234_5678_9abc_def0u64;
    let from = p.a.video_addr;
    for n in 0..2000usize {
        let len = n % 200;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let now = p.now;
        for stream in [StreamKind::Video, StreamKind::Audio] {
            let from = if stream == StreamKind::Video {
                from
            } else {
                p.a.audio_addr
            };
            let _ = p.b.s.handle_packet(now, stream, from, &bytes);
        }
    }
    p.run_until(Duration::from_secs(2));
    assert!(p.b.s.report(p.now).video_frames_shown > 40);
}

#[test]
fn audio_on_the_video_port_is_refused() {
    let mut p = Pair::clean();
    p.run_until(Duration::from_millis(100));
    let opus = RtpHeader {
        marker: false,
        payload_type: PT_OPUS,
        sequence: 3,
        timestamp: 3,
        ssrc: 3,
    }
    .to_bytes(&opus_frame(0));
    let (now, from) = (p.now, p.a.video_addr);
    assert_eq!(
        p.b.s.handle_packet(now, StreamKind::Video, from, &opus),
        Received::Malformed
    );
}

#[test]
fn outputs_never_polled_stay_bounded() {
    let now = Instant::now();
    let mut s = side(now, &Setup::default(), A_IP, B_IP, 1, WALLCLOCK).s;
    // Seven datagrams a frame: 700 frames are more than the queue holds.
    for k in 0..700u32 {
        let at = now + Duration::from_millis(u64::from(k) * 33);
        s.send_video_frame(
            at,
            VideoFrame {
                captured: at,
                jpeg: JPEG,
                from_camera: false,
            },
        )
        .unwrap();
    }
    assert_eq!(s.outputs.len(), MAX_QUEUED_OUTPUTS);
}

/// One forged packet (right address, right source, the next sequence
/// number) whose timestamp is far ahead: a frame of its own, which may be
/// lost, but the frames after it go on.
fn one_far_ahead_packet(feedback: bool) {
    let mut setup = Setup {
        jpeg: SMALL_JPEG,
        feedback,
        ..Setup::default()
    };
    setup.media = MEDIA;
    let mut p = Pair::new(setup);
    p.run_until(Duration::from_secs(1));
    let v = p.a.s.video.as_ref().unwrap();
    let (ssrc, seq) = (v.tx.ssrc, v.tx.seq);
    let ts = v.tx.anchor.map_or(0, |(_, t)| t).wrapping_add(1 << 30);
    let first = crate::media::jpeg::packetize(SMALL_JPEG, MAX_RTP_PAYLOAD_LEN)
        .unwrap()
        .next()
        .unwrap();
    // The forged packet takes the sequence number Alice sends next; her
    // own packet with that number then looks like a duplicate.
    let forged = RtpHeader {
        marker: true,
        payload_type: PT_JPEG,
        sequence: seq,
        timestamp: ts,
        ssrc,
    }
    .to_bytes(&first.payload);
    let now = p.now;
    let alice = SocketAddr::from((A_IP, 5000));
    let _ = p.b.s.handle_packet(now, StreamKind::Video, alice, &forged);
    let shown = p.b.shown.len();
    p.run_until(Duration::from_secs(3));
    assert!(
        p.b.shown.len() >= shown + 55,
        "feedback {feedback}: {} frames shown in the 2 s after the forged packet",
        p.b.shown.len() - shown
    );
}

#[test]
fn one_packet_far_ahead_does_not_freeze_video() {
    one_far_ahead_packet(false);
}

#[test]
fn one_packet_far_ahead_does_not_freeze_repaired_video() {
    one_far_ahead_packet(true);
}
