//! RTCP field by field against what went over the wire: report blocks
//! (highest sequence number, loss, jitter, the LSR/DLSR echo), sender
//! report counts and clocks, receiver report and BYE layouts, compound
//! order; and RTCP that must not be believed (strangers, other sources,
//! malformed compounds).

use super::sweep::expected_loss;
use super::*;
use crate::media::rtp::{
    duration_to_ntp_short, ntp_middle_32, seq_distance, ReportBlock, SenderReport,
};

fn kinds() -> [StreamKind; 2] {
    [StreamKind::Video, StreamKind::Audio]
}

/// The report blocks `side` sent on `stream`, with when.
fn blocks(side: &Side, stream: StreamKind) -> Vec<(Instant, ReportBlock)> {
    side.rtcp_sent(stream)
        .into_iter()
        .flat_map(|(at, c)| {
            c.into_iter().flat_map(move |r| {
                let reports = match r {
                    Rtcp::SenderReport(sr) => sr.reports,
                    Rtcp::ReceiverReport(rr) => rr.reports,
                    _ => Vec::new(),
                };
                reports.into_iter().map(move |b| (at, b))
            })
        })
        .collect()
}

/// The sender reports `side` sent on `stream`, with when.
fn srs(side: &Side, stream: StreamKind) -> Vec<(Instant, SenderReport)> {
    side.rtcp_sent(stream)
        .into_iter()
        .filter_map(|(at, c)| match c.into_iter().next() {
            Some(Rtcp::SenderReport(sr)) => Some((at, sr)),
            _ => None,
        })
        .collect()
}

/// RTP sequence numbers that reached `side` on `stream` before `t`.
fn arrived_before(side: &Side, stream: StreamKind, t: Instant) -> Vec<u16> {
    side.delivered
        .iter()
        .filter(|(at, d, _)| *at < t && d.stream == stream && classify(&d.bytes) == Kind::Rtp)
        .map(|(_, d, _)| RtpHeader::parse(&d.bytes).unwrap().0.sequence)
        .collect()
}

/// Each report block carries the extended highest sequence number and the
/// cumulative loss of what had arrived when it was sent.
fn blocks_match_arrivals(setup: Setup, stream: StreamKind) {
    let mut p = Pair::new(setup);
    p.run_until(Duration::from_secs(3));
    let bs = blocks(&p.b, stream);
    assert!(bs.len() >= 2, "{} blocks", bs.len());
    let origin = rtp_sequences(&p.a, stream)[0];
    for (at, b) in bs {
        let arrived = arrived_before(&p.b, stream, at);
        assert_eq!(b.ssrc, p.a.s.stream(stream).unwrap().tx.ssrc);
        assert_eq!(i64::from(b.cumulative_lost), expected_loss(&arrived));
        let highest = arrived
            .iter()
            .map(|&s| i64::from(seq_distance(origin, s)))
            .max()
            .unwrap();
        // Extended: counted from the stream's first sequence number with its
        // wraps in the high bits.
        assert_eq!(i64::from(b.highest_seq), i64::from(origin) + highest);
    }
}

macro_rules! blocks_match {
    ($($name:ident: $setup:expr, $stream:expr;)*) => {$(
        #[test]
        fn $name() {
            blocks_match_arrivals($setup, $stream);
        }
    )*};
}

fn lossy(loss: f64, seed: u64) -> Setup {
    Setup::both_ways(ImpairConfig {
        loss,
        delay: Duration::from_millis(7),
        seed,
        ..ImpairConfig::default()
    })
}

blocks_match! {
    video_blocks_match_arrivals_on_a_clean_link: Setup::default(), StreamKind::Video;
    audio_blocks_match_arrivals_on_a_clean_link: Setup::default(), StreamKind::Audio;
    video_blocks_match_arrivals_under_5pct_loss: lossy(0.05, 1), StreamKind::Video;
    audio_blocks_match_arrivals_under_5pct_loss: lossy(0.05, 1), StreamKind::Audio;
    video_blocks_match_arrivals_under_20pct_loss: lossy(0.2, 2), StreamKind::Video;
    audio_blocks_match_arrivals_under_20pct_loss: lossy(0.2, 2), StreamKind::Audio;
}

/// Each block echoes the last sender report heard (LSR: the middle 32 bits
/// of its NTP time) and how long ago it arrived (DLSR, 1/65536 s).
fn lsr_dlsr_echo(stream: StreamKind) {
    let mut p = Pair::new(Setup::both_ways(ImpairConfig {
        delay: Duration::from_millis(7),
        ..ImpairConfig::default()
    }));
    p.run_until(Duration::from_secs(4));
    let heard: Vec<(Instant, u64)> =
        p.b.delivered
            .iter()
            .filter(|(_, d, _)| d.stream == stream && classify(&d.bytes) == Kind::Rtcp)
            .filter_map(
                |(at, d, _)| match Rtcp::parse_compound(&d.bytes).unwrap().remove(0) {
                    Rtcp::SenderReport(sr) => Some((*at, sr.ntp_time)),
                    _ => None,
                },
            )
            .collect();
    let mut echoed = 0;
    for (at, b) in blocks(&p.b, stream) {
        match heard.iter().rev().find(|(arrived, _)| *arrived <= at) {
            Some((arrived, ntp)) => {
                assert_eq!(b.last_sr, ntp_middle_32(*ntp));
                assert_eq!(b.delay_since_last_sr, duration_to_ntp_short(at - *arrived));
                echoed += 1;
            }
            None => assert_eq!((b.last_sr, b.delay_since_last_sr), (0, 0)),
        }
    }
    assert!(echoed >= 2);
    // Which makes Alice's round trip the two 7 ms legs.
    let rtt = p.a.s.stream(stream).unwrap().rtt.unwrap();
    assert!((rtt.as_secs_f64() * 1000.0 - 14.0).abs() < 0.1, "{rtt:?}");
}

#[test]
fn video_blocks_echo_the_last_sender_report_and_its_age() {
    lsr_dlsr_echo(StreamKind::Video);
}

#[test]
fn audio_blocks_echo_the_last_sender_report_and_its_age() {
    lsr_dlsr_echo(StreamKind::Audio);
}

/// Sender reports count exactly the packets and payload octets sent
/// before them, and carry the wallclock of when they were sent.
fn sr_counts(stream: StreamKind) {
    let mut p = Pair::clean();
    p.run_until(Duration::from_secs(3));
    let reports = srs(&p.a, stream);
    assert!(reports.len() >= 2);
    for (at, sr) in reports {
        let rtp: Vec<&Transmit> =
            p.a.sent
                .iter()
                .filter(|(t, x)| *t <= at && x.stream == stream && classify(&x.bytes) == Kind::Rtp)
                .map(|(_, x)| x)
                .collect();
        // Sent in the same step, the report follows the frame it goes with.
        assert_eq!(sr.packet_count as usize, rtp.len());
        let octets: usize = rtp.iter().map(|x| x.bytes.len() - 12).sum();
        assert_eq!(sr.octet_count as usize, octets);
        assert_eq!(sr.ntp_time, ntp_from_unix(WALLCLOCK + (at - p.start)));
        assert_eq!(sr.ssrc, p.a.s.stream(stream).unwrap().tx.ssrc);
    }
}

#[test]
fn video_sender_reports_count_packets_and_octets_sent() {
    sr_counts(StreamKind::Video);
}

#[test]
fn audio_sender_reports_count_packets_and_octets_sent() {
    sr_counts(StreamKind::Audio);
}

/// A sender report's RTP time is "now" on the stream's capture clock.
fn sr_rtp_time(stream: StreamKind) {
    let mut p = Pair::clean();
    p.run_until(Duration::from_secs(3));
    let s = p.a.s.stream(stream).unwrap();
    let (origin, rate) = (s.tx.ts_origin, s.clock_rate);
    for (at, sr) in srs(&p.a, stream) {
        let ticks = ((at - p.start).as_secs_f64() * f64::from(rate)).round() as u32;
        let d = sr.rtp_time.wrapping_sub(origin.wrapping_add(ticks)) as i32;
        assert!(d.abs() <= 1, "{d} ticks off");
    }
}

#[test]
fn video_sender_report_rtp_time_is_now_on_the_capture_clock() {
    sr_rtp_time(StreamKind::Video);
}

#[test]
fn audio_sender_report_rtp_time_is_now_on_the_capture_clock() {
    sr_rtp_time(StreamKind::Audio);
}

#[test]
fn receiver_report_is_laid_out_byte_for_byte() {
    let mut p = Pair::clean();
    p.b.next_video = None;
    p.run_until(Duration::from_secs(3));
    let (at, t) =
        p.b.sent
            .iter()
            .rfind(|(_, t)| t.stream == StreamKind::Video && classify(&t.bytes) == Kind::Rtcp)
            .unwrap();
    let Rtcp::ReceiverReport(rr) = Rtcp::parse_compound(&t.bytes).unwrap().remove(0) else {
        panic!("RR first");
    };
    let b = rr.reports[0];
    let own = p.b.s.video.as_ref().unwrap().tx.ssrc;
    let mut want = vec![0x81, 201, 0, 7];
    want.extend_from_slice(&own.to_be_bytes());
    want.extend_from_slice(&p.a.s.video.as_ref().unwrap().tx.ssrc.to_be_bytes());
    want.extend_from_slice(&[0, 0, 0, 0]);
    let highest = u32::from(*arrived_before(&p.b, StreamKind::Video, *at).last().unwrap());
    want.extend_from_slice(&highest.to_be_bytes());
    // A clean link with no delay: every packet's transit is the same.
    want.extend_from_slice(&0u32.to_be_bytes());
    want.extend_from_slice(&b.last_sr.to_be_bytes());
    want.extend_from_slice(&b.delay_since_last_sr.to_be_bytes());
    assert_ne!(b.last_sr, 0);
    assert_eq!(&t.bytes[..32], &want[..]);
    // Then the SDES with the CNAME, and nothing else.
    assert_eq!(&t.bytes[32..36], &[0x81, 202, 0, 6]);
    assert_eq!(t.bytes.len(), 32 + 28);
}

#[test]
fn bye_is_laid_out_byte_for_byte_after_the_last_report() {
    let mut p = Pair::clean();
    p.run_until(Duration::from_secs(1));
    p.hang_up();
    for stream in kinds() {
        let (_, t) =
            p.a.sent
                .iter()
                .rfind(|(_, t)| t.stream == stream && classify(&t.bytes) == Kind::Rtcp)
                .unwrap();
        let ssrc = p.a.s.stream(stream).unwrap().tx.ssrc;
        let mut want = vec![0x81, 203, 0, 4];
        want.extend_from_slice(&ssrc.to_be_bytes());
        want.push(BYE_REASON.len() as u8);
        want.extend_from_slice(BYE_REASON);
        want.push(0);
        assert_eq!(&t.bytes[t.bytes.len() - want.len()..], &want[..]);
    }
}

#[test]
fn every_compound_is_a_report_then_sdes_and_bye_only_last() {
    let mut p = Pair::new(Setup::both_ways(ImpairConfig {
        loss: 0.05,
        jitter: Duration::from_millis(20),
        seed: 4,
        ..ImpairConfig::default()
    }));
    p.b.next_video = None;
    p.run_until(Duration::from_secs(3));
    p.hang_up();
    for side in [&p.a, &p.b] {
        for stream in kinds() {
            let all = side.rtcp_sent(stream);
            for (i, (_, c)) in all.iter().enumerate() {
                assert!(matches!(
                    c[0],
                    Rtcp::SenderReport(_) | Rtcp::ReceiverReport(_)
                ));
                assert!(matches!(&c[1], Rtcp::Sdes(s) if s.chunks.len() == 1));
                let last = i + 1 == all.len();
                assert_eq!(c.len(), if last { 3 } else { 2 });
                assert_eq!(matches!(c.last(), Some(Rtcp::Bye(_))), last);
            }
        }
    }
}

#[test]
fn report_blocks_say_no_jitter_on_a_clean_link_and_some_under_jitter() {
    let mut clean = Pair::clean();
    clean.run_until(Duration::from_secs(3));
    let mut shaky = Pair::new(Setup::both_ways(ImpairConfig {
        jitter: Duration::from_millis(30),
        seed: 9,
        ..ImpairConfig::default()
    }));
    shaky.run_until(Duration::from_secs(3));
    for stream in kinds() {
        assert!(blocks(&clean.b, stream).iter().all(|(_, b)| b.jitter == 0));
        let (_, last) = *blocks(&shaky.b, stream).last().unwrap();
        // 30 ms uniform: a few ms of estimated jitter, in the stream's ticks.
        let rate = shaky.b.s.stream(stream).unwrap().clock_rate;
        let ms = f64::from(last.jitter) * 1000.0 / f64::from(rate);
        assert!((2.0..20.0).contains(&ms), "{stream:?} {ms} ms");
    }
}

#[test]
fn fraction_lost_is_the_share_lost_since_the_previous_report() {
    let mut p = Pair::new(lossy(0.2, 5));
    p.run_until(Duration::from_secs(4));
    let bs = blocks(&p.b, StreamKind::Audio);
    let mut prev: Option<(Instant, i32)> = None;
    let mut checked = 0;
    for (at, b) in bs {
        if let Some((was, lost_before)) = prev {
            let arrived = arrived_before(&p.b, StreamKind::Audio, at).len() as i64;
            let before = arrived_before(&p.b, StreamKind::Audio, was).len() as i64;
            let lost = i64::from(b.cumulative_lost - lost_before);
            let expected = arrived - before + lost;
            if expected > 0 && lost > 0 {
                let want = (lost * 256 / expected) as u8;
                assert_eq!(b.fraction_lost, want, "{lost} of {expected}");
                checked += 1;
            }
        }
        prev = Some((at, b.cumulative_lost));
    }
    assert!(checked >= 2, "{checked} intervals with loss");
}

/// An SR that must not be believed: the stream's clock and LSR stay as
/// they were.
fn sr_ignored(from_stranger: bool) {
    let mut p = Pair::clean();
    p.run_until(Duration::from_secs(1));
    let before = p.b.s.video.as_ref().unwrap().rx.last_sr;
    let ssrc = if from_stranger {
        p.a.s.video.as_ref().unwrap().tx.ssrc
    } else {
        0xdead_beef
    };
    let sr = Rtcp::SenderReport(SenderReport {
        ssrc,
        ntp_time: 0x1234_5678_0000_0000,
        rtp_time: 1,
        packet_count: 1,
        octet_count: 1,
        reports: vec![ReportBlock {
            ssrc: p.b.s.video.as_ref().unwrap().tx.ssrc,
            last_sr: 1,
            ..ReportBlock::default()
        }],
    })
    .to_bytes();
    let from = if from_stranger {
        SocketAddr::from(([10, 0, 0, 9], 5000))
    } else {
        p.a.video_addr
    };
    let rtt = p.b.s.video.as_ref().unwrap().rtt;
    let got = p.b.s.handle_packet(p.now, StreamKind::Video, from, &sr);
    let want = if from_stranger {
        Received::Foreign
    } else {
        Received::Rtcp
    };
    assert_eq!(got, want);
    let v = p.b.s.video.as_ref().unwrap();
    assert_eq!(v.rx.last_sr, before);
    // Its block about us is no measurement.
    assert_eq!(v.rtt, rtt);
    assert_eq!(
        p.b.s.report(p.now).foreign_dropped,
        u64::from(from_stranger)
    );
}

#[test]
fn a_receiver_report_from_another_source_is_no_round_trip() {
    let mut p = Pair::clean();
    p.run_until(Duration::from_secs(2));
    let v = p.b.s.video.as_ref().unwrap();
    let (rtt, ours) = (v.rtt, v.tx.ssrc);
    let lsr = ntp_middle_32(ntp_from_unix(WALLCLOCK + Duration::from_secs(1)));
    let rr = Rtcp::ReceiverReport(crate::media::rtp::ReceiverReport {
        ssrc: 0xdead_beef,
        reports: vec![ReportBlock {
            ssrc: ours,
            last_sr: lsr,
            ..ReportBlock::default()
        }],
    })
    .to_bytes();
    let (now, from) = (p.now, p.a.video_addr);
    assert_eq!(
        p.b.s.handle_packet(now, StreamKind::Video, from, &rr),
        Received::Rtcp
    );
    assert_eq!(p.b.s.video.as_ref().unwrap().rtt, rtt);
}

#[test]
fn a_sender_report_from_a_stranger_is_ignored_and_counted() {
    sr_ignored(true);
}

#[test]
fn a_sender_report_from_another_source_does_not_move_the_clock() {
    sr_ignored(false);
}

#[test]
fn a_bye_for_another_source_is_not_the_peer_leaving() {
    let mut p = Pair::clean();
    p.run_until(Duration::from_millis(500));
    let bye = Rtcp::Bye(crate::media::rtp::Bye {
        sources: vec![0x0bad_cafe],
        reason: None,
    })
    .to_bytes();
    let (now, from) = (p.now, p.a.audio_addr);
    assert_eq!(
        p.b.s.handle_packet(now, StreamKind::Audio, from, &bye),
        Received::Rtcp
    );
    assert!(p
        .b
        .s
        .poll_output()
        .is_none_or(|o| !matches!(o, Output::Event(_))));
    assert!(!p.b.s.audio.as_ref().unwrap().rx.bye);
}

#[test]
fn a_repeated_bye_is_one_event() {
    let mut p = Pair::clean();
    p.run_until(Duration::from_millis(500));
    let ssrc = p.a.s.audio.as_ref().unwrap().tx.ssrc;
    let bye = Rtcp::Bye(crate::media::rtp::Bye {
        sources: vec![ssrc],
        reason: None,
    })
    .to_bytes();
    let from = p.a.audio_addr;
    for _ in 0..3 {
        let now = p.now;
        let _ = p.b.s.handle_packet(now, StreamKind::Audio, from, &bye);
    }
    p.run_for(Duration::from_millis(100));
    assert_eq!(p.b.events, vec![SessionEvent::Bye(StreamKind::Audio)]);
}

/// A compound cut or bent into something that does not parse is malformed,
/// not taken.
fn malformed(bend: fn(&mut Vec<u8>)) {
    let mut p = Pair::clean();
    p.run_until(Duration::from_millis(500));
    let (_, t) =
        p.a.sent
            .iter()
            .find(|(_, t)| t.stream == StreamKind::Audio && classify(&t.bytes) == Kind::Rtcp)
            .unwrap();
    let mut bytes = t.bytes.clone();
    bend(&mut bytes);
    let before = p.b.s.audio.as_ref().unwrap().rx.last_sr;
    let (now, from) = (p.now, p.a.audio_addr);
    assert_eq!(
        p.b.s.handle_packet(now, StreamKind::Audio, from, &bytes),
        Received::Malformed
    );
    assert_eq!(p.b.s.audio.as_ref().unwrap().rx.last_sr, before);
}

macro_rules! malformed {
    ($($name:ident: $bend:expr;)*) => {$(
        #[test]
        fn $name() {
            malformed($bend);
        }
    )*};
}

malformed! {
    rtcp_cut_inside_the_sender_report_is_malformed: |b| b.truncate(20);
    rtcp_cut_inside_the_sdes_is_malformed: |b| b.truncate(b.len() - 4);
    rtcp_with_a_length_past_the_end_is_malformed: |b| b[3] += 1;
    rtcp_with_a_report_count_past_its_length_is_malformed: |b| b[0] |= 0x03;
    rtcp_with_a_trailing_partial_header_is_malformed: |b| b.extend_from_slice(&[0x81, 202]);
}

#[test]
fn rtcp_of_version_one_is_not_rtcp() {
    let mut p = Pair::clean();
    p.run_until(Duration::from_millis(500));
    let mut bytes = Rtcp::ReceiverReport(crate::media::rtp::ReceiverReport {
        ssrc: 1,
        reports: vec![],
    })
    .to_bytes();
    bytes[0] = 0x40 | (bytes[0] & 0x3f);
    let (now, from) = (p.now, p.a.audio_addr);
    assert_eq!(
        p.b.s.handle_packet(now, StreamKind::Audio, from, &bytes),
        Received::Malformed
    );
}
