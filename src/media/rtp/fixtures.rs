//! A byte fixture for every packet type: parse the fixture, compare with the
//! expected value, emit into a buffer pre-filled with 0xa5 (so a byte that emit
//! forgets shows up) and compare with the fixture again. Fixtures with CSRCs,
//! an extension or padding are parse-only, since we never emit those.

use super::*;

const SSRC: u32 = 0xdead_beef;

fn check_rtp(fixture: &[u8], header: RtpHeader, payload: &[u8]) {
    let (parsed, parsed_payload) = RtpHeader::parse(fixture).expect("fixture parses");
    assert_eq!(parsed, header);
    assert_eq!(parsed_payload, payload);
    assert_eq!(header.buffer_len(payload.len()), fixture.len());
    // Emit into a larger buffer: the bytes past the packet must stay untouched.
    let mut buf = vec![0xa5u8; fixture.len() + 3];
    assert_eq!(header.emit(payload, &mut buf), fixture.len());
    assert_eq!(&buf[..fixture.len()], fixture, "emit of {header:?}");
    assert_eq!(&buf[fixture.len()..], &[0xa5; 3]);
}

fn check_rtcp(fixture: &[u8], expected: Rtcp) {
    let view = RtcpPacket::new_checked(fixture).expect("fixture frames");
    assert_eq!(Rtcp::parse(&view), Ok(expected.clone()));
    assert_eq!(expected.buffer_len(), fixture.len());
    let mut buf = vec![0xa5u8; fixture.len()];
    assert_eq!(expected.emit(&mut buf), fixture.len());
    assert_eq!(buf, fixture, "emit of {expected:?}");
}

#[test]
fn rtp_jpeg_with_marker() {
    check_rtp(
        &[
            0x80, 0x9a, // V=2, M=1, PT 26
            0x12, 0x34, // sequence
            0x00, 0x01, 0x5f, 0x90, // timestamp 90000
            0xde, 0xad, 0xbe, 0xef, // SSRC
            0x01, 0x02, 0x03, 0x04, // payload
        ],
        RtpHeader {
            marker: true,
            payload_type: PT_JPEG,
            sequence: 0x1234,
            timestamp: VIDEO_CLOCK_RATE,
            ssrc: SSRC,
        },
        &[1, 2, 3, 4],
    );
}

#[test]
fn rtp_opus_without_marker_and_empty_payload() {
    let header = RtpHeader {
        marker: false,
        payload_type: PT_OPUS,
        sequence: 0xffff,
        timestamp: 0xffff_fc40,
        ssrc: 1,
    };
    check_rtp(
        &[
            0x80, 0x6f, 0xff, 0xff, 0xff, 0xff, 0xfc, 0x40, 0x00, 0x00, 0x00, 0x01, 0xfc,
        ],
        header,
        &[0xfc],
    );
    check_rtp(
        &[
            0x80, 0x6f, 0xff, 0xff, 0xff, 0xff, 0xfc, 0x40, 0x00, 0x00, 0x00, 0x01,
        ],
        header,
        &[],
    );
}

/// CSRCs, a header extension and padding at once; every accessor checked.
#[test]
fn rtp_with_csrc_extension_and_padding() {
    let fixture = [
        0xb2, // V=2, P, X, CC=2
        0x6f, // PT 111
        0x00, 0x07, // sequence 7
        0x00, 0x00, 0x03, 0xc0, // timestamp 960
        0x01, 0x02, 0x03, 0x04, // SSRC
        0x11, 0x11, 0x11, 0x11, // CSRC 1
        0x22, 0x22, 0x22, 0x22, // CSRC 2
        0xbe, 0xde, 0x00, 0x01, // extension: RFC 8285 profile, 1 word
        0x10, 0xaa, 0x00, 0x00, // extension data
        0xf8, 0xff, 0xfe, // payload
        0x00, 0x00, 0x03, // padding, count 3
    ];
    let p = RtpPacket::new_checked(&fixture[..]).unwrap();
    assert!(p.has_padding() && p.has_extension() && !p.marker());
    assert_eq!(p.csrc_count(), 2);
    assert_eq!(p.payload_type(), PT_OPUS);
    assert_eq!(p.sequence(), 7);
    assert_eq!(p.timestamp(), 960);
    assert_eq!(p.ssrc(), 0x0102_0304);
    assert_eq!(p.csrcs().collect::<Vec<_>>(), [0x1111_1111, 0x2222_2222]);
    assert_eq!(
        p.extension(),
        Some(HeaderExtension {
            profile: 0xbede,
            data: &[0x10, 0xaa, 0, 0]
        })
    );
    assert_eq!(p.header_len(), 28);
    assert_eq!(p.padding_len(), 3);
    assert_eq!(p.payload(), &[0xf8, 0xff, 0xfe]);
    assert_eq!(p.into_payload(), &[0xf8, 0xff, 0xfe]);
}

#[test]
fn rtp_with_each_optional_part_alone() {
    let base = [0x80, 0x1a, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
    let header = RtpHeader {
        marker: false,
        payload_type: PT_JPEG,
        sequence: 1,
        timestamp: 2,
        ssrc: 3,
    };
    let with = |flags: u8, tail: &[u8]| {
        let mut v = base.to_vec();
        v[0] |= flags;
        v.extend_from_slice(tail);
        v
    };

    let csrc = with(0x01, &[0, 0, 0, 9, 0xaa]);
    let p = RtpPacket::new_checked(&csrc).unwrap();
    assert_eq!(p.header(), header);
    assert_eq!(p.csrcs().collect::<Vec<_>>(), [9]);
    assert_eq!(p.extension(), None);
    assert_eq!(p.payload(), &[0xaa]);

    // An extension of zero words is legal: just the profile and length.
    let ext = with(0x10, &[0x10, 0x00, 0x00, 0x00, 0xaa]);
    let p = RtpPacket::new_checked(&ext).unwrap();
    assert_eq!(p.csrcs().count(), 0);
    assert_eq!(
        p.extension(),
        Some(HeaderExtension {
            profile: 0x1000,
            data: &[]
        })
    );
    assert_eq!(p.payload(), &[0xaa]);

    // Padding that is nothing but the count byte, and padding that eats the
    // whole payload (allowed: padding-only packets probe bandwidth).
    let pad = with(0x20, &[0xaa, 0x01]);
    assert_eq!(RtpPacket::new_checked(&pad).unwrap().payload(), &[0xaa]);
    let all_pad = with(0x20, &[0, 0, 0, 4]);
    let p = RtpPacket::new_checked(&all_pad).unwrap();
    assert_eq!(p.payload(), &[] as &[u8]);
    assert_eq!(p.padding_len(), 4);
}

fn block_a() -> (Vec<u8>, ReportBlock) {
    (
        vec![
            0x01, 0x02, 0x03, 0x04, // SSRC
            0x40, 0xff, 0xff, 0xfe, // fraction 64/256, cumulative −2
            0x00, 0x01, 0x00, 0x05, // extended highest sequence: 1 cycle, 5
            0x00, 0x00, 0x00, 0x2a, // jitter 42
            0xb7, 0x05, 0x20, 0x00, // LSR
            0x00, 0x05, 0x40, 0x00, // DLSR 5.25 s
        ],
        ReportBlock {
            ssrc: 0x0102_0304,
            fraction_lost: 0x40,
            cumulative_lost: -2,
            highest_seq: 0x0001_0005,
            jitter: 42,
            last_sr: 0xb705_2000,
            delay_since_last_sr: 0x0005_4000,
        },
    )
}

fn block_b() -> (Vec<u8>, ReportBlock) {
    (
        vec![
            0x0a, 0x0b, 0x0c, 0x0d, 0x00, 0x7f, 0xff, 0xff, // cumulative = max
            0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00,
        ],
        ReportBlock {
            ssrc: 0x0a0b_0c0d,
            cumulative_lost: ReportBlock::MAX_CUMULATIVE_LOST,
            highest_seq: 0xffff,
            ..ReportBlock::default()
        },
    )
}

fn sender_report(reports: Vec<ReportBlock>) -> SenderReport {
    SenderReport {
        ssrc: SSRC,
        ntp_time: 0xe38c_2f80_8000_0000,
        rtp_time: VIDEO_CLOCK_RATE,
        packet_count: 100,
        octet_count: 100_000,
        reports,
    }
}

const SR_SENDER_INFO: [u8; 24] = [
    0xde, 0xad, 0xbe, 0xef, // SSRC
    0xe3, 0x8c, 0x2f, 0x80, 0x80, 0x00, 0x00, 0x00, // NTP time
    0x00, 0x01, 0x5f, 0x90, // RTP time
    0x00, 0x00, 0x00, 0x64, // packet count 100
    0x00, 0x01, 0x86, 0xa0, // octet count 100000
];

#[test]
fn sender_report_with_a_block() {
    let (bytes, block) = block_a();
    let mut fx = vec![0x81, 0xc8, 0x00, 0x0c]; // RC=1, SR, 13 words
    fx.extend_from_slice(&SR_SENDER_INFO);
    fx.extend_from_slice(&bytes);
    check_rtcp(&fx, Rtcp::SenderReport(sender_report(vec![block])));
}

#[test]
fn sender_report_without_blocks() {
    let mut fx = vec![0x80, 0xc8, 0x00, 0x06];
    fx.extend_from_slice(&SR_SENDER_INFO);
    check_rtcp(&fx, Rtcp::SenderReport(sender_report(vec![])));
}

#[test]
fn receiver_report_with_two_blocks_and_with_none() {
    let (a_bytes, a) = block_a();
    let (b_bytes, b) = block_b();
    let mut fx = vec![0x82, 0xc9, 0x00, 0x0d, 0xde, 0xad, 0xbe, 0xef];
    fx.extend_from_slice(&a_bytes);
    fx.extend_from_slice(&b_bytes);
    check_rtcp(
        &fx,
        Rtcp::ReceiverReport(ReceiverReport {
            ssrc: SSRC,
            reports: vec![a, b],
        }),
    );
    check_rtcp(
        &[0x80, 0xc9, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef],
        Rtcp::ReceiverReport(ReceiverReport {
            ssrc: SSRC,
            reports: vec![],
        }),
    );
}

const SDES_CNAME: [u8; 24] = [
    0x81, 0xca, 0x00, 0x05, // SC=1, SDES, 6 words
    0xde, 0xad, 0xbe, 0xef, // SSRC
    0x01, 0x0a, b'p', b'i', b'@', b'k', b'i', b't', b'c', b'h', b'e', b'n', // CNAME
    0x00, 0x00, 0x00, 0x00, // end of list, padded to the word
];

#[test]
fn sdes_with_our_cname() {
    let sdes = Sdes::with_cname(SSRC, "pi@kitchen");
    assert_eq!(sdes.cname_of(SSRC), Some(&b"pi@kitchen"[..]));
    assert_eq!(sdes.cname_of(1), None);
    check_rtcp(&SDES_CNAME, Rtcp::Sdes(sdes));
}

#[test]
fn sdes_with_two_chunks_and_several_items() {
    let fx = [
        0x82, 0xca, 0x00, 0x06, // SC=2, SDES, 7 words
        0x00, 0x00, 0x00, 0x01, // chunk 1: SSRC 1
        0x01, 0x01, b'a', // CNAME "a"
        0x06, 0x02, b'g', b's', // TOOL "gs"
        0x09, 0x00, // type 9, empty
        0x00, 0x00, 0x00, // end, padded
        0x00, 0x00, 0x00, 0x02, // chunk 2: SSRC 2
        0x00, 0x00, 0x00, 0x00, // no items
    ];
    let item = |kind, text: &[u8]| SdesItem {
        kind,
        text: text.to_vec(),
    };
    let sdes = Sdes {
        chunks: vec![
            SdesChunk {
                ssrc: 1,
                items: vec![
                    item(SdesItemKind::Cname, b"a"),
                    item(SdesItemKind::Tool, b"gs"),
                    item(SdesItemKind::Unknown(9), b""),
                ],
            },
            SdesChunk {
                ssrc: 2,
                items: vec![],
            },
        ],
    };
    assert_eq!(sdes.cname_of(1), Some(&b"a"[..]));
    assert_eq!(sdes.cname_of(2), None);
    check_rtcp(&fx, Rtcp::Sdes(sdes));
}

#[test]
fn bye_with_and_without_reason() {
    check_rtcp(
        &[0x81, 0xcb, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef],
        Rtcp::Bye(Bye {
            sources: vec![SSRC],
            reason: None,
        }),
    );
    check_rtcp(
        &[
            0x81, 0xcb, 0x00, 0x03, 0xde, 0xad, 0xbe, 0xef, // one source
            0x07, b'h', b'a', b'n', b'g', b' ', b'u', b'p', // reason, exactly a word's end
        ],
        Rtcp::Bye(Bye {
            sources: vec![SSRC],
            reason: Some(b"hang up".to_vec()),
        }),
    );
    check_rtcp(
        &[
            0x82, 0xcb, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
            0x02, // two sources
            0x05, b'c', b'i', b'a', b'o', b'!', 0x00, 0x00, // reason, padded
        ],
        Rtcp::Bye(Bye {
            sources: vec![1, 2],
            reason: Some(b"ciao!".to_vec()),
        }),
    );
}

#[test]
fn unknown_packet_type_is_kept_whole() {
    // A picture loss indication (RFC 4585 PSFB, FMT 1): not ours to handle.
    check_rtcp(
        &[
            0x81, 0xce, 0x00, 0x02, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04,
        ],
        Rtcp::Unknown {
            packet_type: 206,
            count: 1,
            body: vec![0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04],
        },
    );
}

#[test]
fn compound_sender_report_and_sdes() {
    let mut fx = vec![0x80, 0xc8, 0x00, 0x06];
    fx.extend_from_slice(&SR_SENDER_INFO);
    fx.extend_from_slice(&SDES_CNAME);
    let packets = vec![
        Rtcp::SenderReport(sender_report(vec![])),
        Rtcp::Sdes(Sdes::with_cname(SSRC, "pi@kitchen")),
    ];
    assert_eq!(classify(&fx), Kind::Rtcp);
    assert_eq!(Rtcp::parse_compound(&fx), Ok(packets.clone()));
    let types: Vec<u8> = RtcpCompound::new(&fx)
        .map(|p| p.unwrap().packet_type())
        .collect();
    assert_eq!(types, [rtcp_type::SR, rtcp_type::SDES]);
    assert_eq!(Rtcp::compound_len(&packets), fx.len());
    let mut buf = vec![0xa5u8; fx.len()];
    assert_eq!(Rtcp::emit_compound(&packets, &mut buf), fx.len());
    assert_eq!(buf, fx);
}

#[test]
fn compound_padded_at_the_end() {
    let mut fx = vec![0x80, 0xc9, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef];
    let mut sdes = SDES_CNAME.to_vec();
    sdes[0] |= 0x20; // P
    sdes[3] += 1; // one more word
    sdes.extend_from_slice(&[0, 0, 0, 4]);
    fx.extend_from_slice(&sdes);
    let view = RtcpCompound::new(&fx).nth(1).unwrap().unwrap();
    assert!(view.has_padding());
    assert_eq!(view.body(), &SDES_CNAME[4..]);
    assert_eq!(
        Rtcp::parse_compound(&fx),
        Ok(vec![
            Rtcp::ReceiverReport(ReceiverReport {
                ssrc: SSRC,
                reports: vec![]
            }),
            Rtcp::Sdes(Sdes::with_cname(SSRC, "pi@kitchen")),
        ])
    );
}

/// The example of RFC 3550 6.4.1: A = 46864.500 s, LSR = 46853.125 s,
/// DLSR = 5.250 s, so the round trip took 6.125 s.
#[test]
fn round_trip_time_from_a_report_block() {
    let block = ReportBlock {
        last_sr: 0xb705_2000,
        delay_since_last_sr: 0x0005_4000,
        ..ReportBlock::default()
    };
    let arrival = 0x0000_b710_8000_0000;
    assert_eq!(block.round_trip(arrival), Some(Duration::from_millis(6125)));
    let never = ReportBlock {
        last_sr: 0,
        ..block
    };
    assert_eq!(never.round_trip(arrival), None);
    // A DLSR longer than the time since our SR is a lie; no negative times.
    let liar = ReportBlock {
        delay_since_last_sr: 0x00ff_0000,
        ..block
    };
    assert_eq!(liar.round_trip(arrival), None);
}

#[test]
fn cumulative_loss_is_clamped_to_24_bits_on_emit() {
    for (lost, wire) in [
        (1 << 30, [0x7f, 0xff, 0xff]),
        (-(1 << 30), [0x80, 0x00, 0x00]),
        (-1, [0xff, 0xff, 0xff]),
    ] {
        let rr = Rtcp::ReceiverReport(ReceiverReport {
            ssrc: 1,
            reports: vec![ReportBlock {
                cumulative_lost: lost,
                ..ReportBlock::default()
            }],
        });
        let bytes = rr.to_bytes();
        assert_eq!(&bytes[13..16], &wire);
        let Ok(Rtcp::ReceiverReport(back)) = Rtcp::parse(&RtcpPacket::new_checked(&bytes).unwrap())
        else {
            panic!("not a receiver report");
        };
        assert_eq!(
            back.reports[0].cumulative_lost,
            lost.clamp(
                ReportBlock::MIN_CUMULATIVE_LOST,
                ReportBlock::MAX_CUMULATIVE_LOST
            )
        );
    }
}

#[test]
fn over_long_texts_are_clipped_on_emit() {
    let long = vec![b'x'; 300];
    let sdes = Rtcp::Sdes(Sdes::with_cname(1, std::str::from_utf8(&long).unwrap()));
    let bye = Rtcp::Bye(Bye {
        sources: vec![1],
        reason: Some(long.clone()),
    });
    for packet in [sdes, bye] {
        let bytes = packet.to_bytes();
        assert_eq!(bytes.len(), packet.buffer_len());
        let back = Rtcp::parse_compound(&bytes).unwrap();
        let text = match &back[0] {
            Rtcp::Sdes(s) => s.cname_of(1).unwrap().to_vec(),
            Rtcp::Bye(b) => b.reason.clone().unwrap(),
            other => panic!("{other:?}"),
        };
        assert_eq!(text, &long[..MAX_SDES_TEXT_LEN]);
    }
}

#[test]
fn constants() {
    assert_eq!(MAX_RTP_PACKET_LEN, 1472);
    assert_eq!(MAX_RTP_PAYLOAD_LEN, 1460);
    assert_eq!(RTP_HEADER_LEN, 12);
    // Both our payload types stay clear of the RTCP range RFC 5761 reserves.
    for pt in [PT_JPEG, PT_OPUS] {
        assert!(!(64..=95).contains(&pt));
    }
}
