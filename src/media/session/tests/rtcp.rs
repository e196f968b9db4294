//! RTCP on the wire: what each compound holds, byte by byte where it
//! matters, when compounds go out, and what they measure.

use super::*;

use crate::media::rtp::{ReportBlock, SdesItemKind};

#[test]
fn first_compound_goes_with_the_first_frame_and_is_sr_then_sdes_byte_for_byte() {
    let mut p = Pair::clean();
    p.run_until(Duration::from_millis(1));
    let (at, t) =
        p.a.sent
            .iter()
            .find(|(_, t)| t.stream == StreamKind::Video && classify(&t.bytes) == Kind::Rtcp)
            .expect("an RTCP compound with the first frame");
    assert_eq!(*at, p.start);
    let ssrc = p.a.s.video.as_ref().unwrap().tx.ssrc;
    let ts = p.a.s.video.as_ref().unwrap().tx.ts_origin;
    let octets: u32 =
        p.a.sent
            .iter()
            .filter(|(_, t)| t.stream == StreamKind::Video && classify(&t.bytes) == Kind::Rtp)
            .map(|(_, t)| (t.bytes.len() - 12) as u32)
            .sum();
    let packets = rtp_sequences(&p.a, StreamKind::Video).len() as u32;
    let ntp = ntp_from_unix(WALLCLOCK);
    let cname = p.a.s.cname().as_bytes().to_vec();
    assert_eq!(cname.len(), 16);
    let mut want = vec![0x80, 200, 0, 6];
    want.extend_from_slice(&ssrc.to_be_bytes());
    want.extend_from_slice(&ntp.to_be_bytes());
    want.extend_from_slice(&ts.to_be_bytes());
    want.extend_from_slice(&packets.to_be_bytes());
    want.extend_from_slice(&octets.to_be_bytes());
    // SDES: one chunk, CNAME item of 16 bytes, a null and padding to a word.
    want.extend_from_slice(&[0x81, 202, 0, 6]);
    want.extend_from_slice(&ssrc.to_be_bytes());
    want.extend_from_slice(&[1, 16]);
    want.extend_from_slice(&cname);
    want.extend_from_slice(&[0, 0]);
    assert_eq!(t.bytes, want);
}

#[test]
fn the_two_sides_have_different_random_cnames_shared_by_their_streams() {
    let mut p = Pair::clean();
    p.run_until(Duration::from_secs(2));
    let cname_of = |side: &Side, stream| -> Vec<u8> {
        let (_, c) = side.rtcp_sent(stream).into_iter().next().expect("RTCP");
        c.iter()
            .find_map(|r| match r {
                Rtcp::Sdes(s) => s.chunks[0].cname().map(<[u8]>::to_vec),
                _ => None,
            })
            .expect("CNAME")
    };
    let a = cname_of(&p.a, StreamKind::Video);
    assert_eq!(
        a,
        cname_of(&p.a, StreamKind::Audio),
        "one CNAME per participant"
    );
    assert_ne!(a, cname_of(&p.b, StreamKind::Video));
    assert_ne!(a, b"peercall");
    assert!(a
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/'));
}

#[test]
fn cname_is_the_base64_of_96_random_bits() {
    assert_eq!(cname_from_random([0; 12]), "AAAAAAAAAAAAAAAA");
    assert_eq!(cname_from_random([0xff; 12]), "////////////////");
    let bytes = *b"peercall-rtp";
    assert_eq!(cname_from_random(bytes), "cGVlcmNhbGwtcnRw");
}

#[test]
fn first_report_block_on_a_clean_link_says_nothing_lost() {
    let mut p = Pair::clean();
    p.run_until(Duration::from_secs(3));
    for stream in [StreamKind::Video, StreamKind::Audio] {
        let blocks: Vec<ReportBlock> =
            p.b.rtcp_sent(stream)
                .into_iter()
                .flat_map(|(_, c)| c)
                .filter_map(|r| match r {
                    Rtcp::SenderReport(sr) => Some(sr.reports),
                    _ => None,
                })
                .flatten()
                .collect();
        assert!(blocks.len() >= 2, "{stream:?}");
        for b in &blocks {
            assert_eq!(
                (b.cumulative_lost, b.fraction_lost),
                (0, 0),
                "{stream:?} {b:?}"
            );
        }
        assert_eq!(blocks[0].ssrc, p.a.s.stream(stream).unwrap().tx.ssrc);
    }
}

#[test]
fn rtcp_intervals_are_spread_between_half_and_one_and_a_half_times() {
    let mut p = Pair::clean();
    // Audio's reports only: video packets would make the minute six times slower.
    p.a.next_video = None;
    p.b.next_video = None;
    p.run_until(Duration::from_secs(60));
    let times: Vec<Instant> =
        p.a.rtcp_sent(StreamKind::Audio)
            .into_iter()
            .map(|(t, _)| t)
            .collect();
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.len() >= 40, "{} reports in a minute", gaps.len());
    // Sent when the next frame goes after the deadline: up to a frame late.
    for g in &gaps {
        assert!(
            *g >= RTCP_INTERVAL / 2 && *g <= RTCP_INTERVAL * 3 / 2 + AUDIO_FRAME,
            "{g:?}"
        );
    }
    let distinct: std::collections::BTreeSet<Duration> = gaps.iter().copied().collect();
    assert!(distinct.len() > gaps.len() / 2, "not lockstep: {gaps:?}");
}

#[test]
fn round_trip_is_measured_from_the_reports_about_us() {
    let mut p = Pair::new(Setup {
        a_to_b: ImpairConfig {
            delay: Duration::from_millis(30),
            ..ImpairConfig::default()
        },
        b_to_a: ImpairConfig {
            delay: Duration::from_millis(50),
            ..ImpairConfig::default()
        },
        ..Setup::default()
    });
    p.run_until(Duration::from_secs(5));
    for side in [&p.a, &p.b] {
        let rtt = side.s.report(p.now).rtt.expect("RTT measured");
        let ms = rtt.as_secs_f64() * 1000.0;
        assert!((ms - 80.0).abs() < 0.5, "{ms} ms");
    }
}

#[test]
fn hanging_up_says_bye_on_both_streams_and_the_other_side_hears_it() {
    let mut p = Pair::clean();
    p.run_until(Duration::from_secs(2));
    p.hang_up();
    for (side, other) in [(&p.a, &p.b), (&p.b, &p.a)] {
        for stream in [StreamKind::Video, StreamKind::Audio] {
            let (_, last) = side.rtcp_sent(stream).pop().expect("RTCP");
            let ssrc = side.s.stream(stream).unwrap().tx.ssrc;
            assert!(
                matches!(last[0], Rtcp::SenderReport(_)),
                "a last report first"
            );
            assert!(
                matches!(&last[1], Rtcp::Sdes(s) if s.chunks[0].items[0].kind == SdesItemKind::Cname)
            );
            match &last[2] {
                Rtcp::Bye(b) => {
                    assert_eq!(b.sources, vec![ssrc]);
                    assert_eq!(b.reason.as_deref(), Some(BYE_REASON));
                }
                other => panic!("{other:?}"),
            }
            assert!(other.events.contains(&SessionEvent::Bye(stream)));
        }
        assert_eq!(side.s.poll_timeout(), None, "closed: nothing more to do");
    }
    let sent = p.a.sent.len();
    p.a.s.handle_timeout(p.now + Duration::from_secs(5));
    p.a.s.send_audio_frame(p.now, p.now, &opus_frame(9));
    assert!(p.a.s.poll_output().is_none());
    assert_eq!(p.a.sent.len(), sent);
}

#[test]
fn a_receive_only_stream_sends_receiver_reports() {
    let mut p = Pair::clean();
    p.b.next_video = None;
    p.run_until(Duration::from_secs(3));
    let reports = p.b.rtcp_sent(StreamKind::Video);
    assert!(!reports.is_empty());
    for (_, c) in &reports {
        match &c[0] {
            Rtcp::ReceiverReport(rr) => {
                assert_eq!(rr.reports.len(), 1);
                assert_eq!(rr.reports[0].ssrc, p.a.s.video.as_ref().unwrap().tx.ssrc);
            }
            other => panic!("{other:?}"),
        }
    }
    // And Alice learns the round trip from them.
    assert!(p.a.s.video.as_ref().unwrap().rtt.is_some());
}

#[test]
fn nothing_is_reported_before_anything_is_sent_or_heard() {
    let mut p = Pair::clean();
    p.stop_capture();
    p.run_until(Duration::from_secs(5));
    assert!(p.a.sent.is_empty() && p.b.sent.is_empty());
    assert_eq!(p.a.s.poll_timeout(), None);
}
