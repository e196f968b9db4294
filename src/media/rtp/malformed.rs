//! Malformed input: every way an RTP or RTCP datagram can be wrong gives an
//! error, never a panic, and whatever parses survives emit and parse again.

use super::*;

fn rtp(flags: u8, tail: &[u8]) -> Vec<u8> {
    let mut v = vec![0x80 | flags, PT_OPUS, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
    v.extend_from_slice(tail);
    v
}

fn rtp_err(bytes: &[u8]) -> Option<RtpError> {
    RtpPacket::new_checked(bytes).err()
}

/// Where the SDES and the BYE start in [`compound`].
const SDES_AT: usize = 52;
const BYE_AT: usize = 72;

/// A valid compound: SR with a block (52 bytes), SDES (20), BYE with a reason (12).
fn compound() -> Vec<u8> {
    let packets = [
        Rtcp::SenderReport(SenderReport {
            ssrc: 1,
            ntp_time: 2,
            rtp_time: 3,
            packet_count: 4,
            octet_count: 5,
            reports: vec![ReportBlock {
                ssrc: 6,
                cumulative_lost: -7,
                ..ReportBlock::default()
            }],
        }),
        Rtcp::Sdes(Sdes::with_cname(1, "me@here")),
        Rtcp::Bye(Bye {
            sources: vec![1],
            reason: Some(b"bye".to_vec()),
        }),
    ];
    let mut buf = vec![0; Rtcp::compound_len(&packets)];
    Rtcp::emit_compound(&packets, &mut buf);
    buf
}

#[test]
fn rtp_truncated_at_every_length() {
    let samples = [
        rtp(0, &[1, 2, 3]),
        rtp(0x02, &[0, 0, 0, 1, 0, 0, 0, 2, 9]),
        rtp(0x10, &[0xbe, 0xde, 0, 1, 1, 2, 3, 4, 9]),
        rtp(
            0x33, // P, X, CC=3
            &[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xbe, 0xde, 0, 0, 9, 1],
        ),
    ];
    for s in &samples {
        let header_len = RtpPacket::new_checked(s).unwrap().header_len();
        for cut in 0..header_len {
            assert_eq!(rtp_err(&s[..cut]), Some(RtpError::Truncated), "cut {cut}");
        }
    }
}

#[test]
fn rtp_wrong_version() {
    for b0 in [0x00, 0x40, 0xc0] {
        let mut p = rtp(0, &[1]);
        p[0] = b0;
        assert_eq!(rtp_err(&p), Some(RtpError::BadVersion(b0 >> 6)));
    }
    assert_eq!(rtp_err(&[0x40]), Some(RtpError::BadVersion(1)));
}

#[test]
fn rtp_padding_count_larger_than_payload_or_zero() {
    assert_eq!(
        rtp_err(&rtp(0x20, &[1, 2, 4])),
        Some(RtpError::BadPadding(4))
    );
    assert_eq!(
        rtp_err(&rtp(0x20, &[1, 2, 0])),
        Some(RtpError::BadPadding(0))
    );
    assert_eq!(
        rtp_err(&rtp(0x20, &[1, 2, 0xff])),
        Some(RtpError::BadPadding(0xff))
    );
    // No payload at all: the count would be the SSRC's last byte.
    assert_eq!(rtp_err(&rtp(0x20, &[])), Some(RtpError::BadPadding(3)));
    // Padding may not reach back into the CSRC list or extension either.
    assert_eq!(
        rtp_err(&rtp(0x21, &[0, 0, 0, 5, 2])),
        Some(RtpError::BadPadding(2))
    );
    // Padding that takes everything after an empty extension is fine.
    let p = rtp(0x30, &[0, 0, 0, 0, 1]);
    assert_eq!(RtpPacket::new_checked(&p).unwrap().payload(), &[] as &[u8]);
}

#[test]
fn rtp_extension_past_the_end() {
    assert_eq!(
        rtp_err(&rtp(0x10, &[0xbe, 0xde, 0xff, 0xff, 1, 2, 3, 4])),
        Some(RtpError::Truncated)
    );
    assert_eq!(
        rtp_err(&rtp(0x10, &[0xbe, 0xde, 0x00, 0x02, 1, 2, 3, 4])),
        Some(RtpError::Truncated)
    );
    // The extension bit set with no room for the extension header.
    assert_eq!(
        rtp_err(&rtp(0x10, &[0xbe, 0xde])),
        Some(RtpError::Truncated)
    );
    // An extension after a CSRC list that itself fills the packet.
    assert_eq!(
        rtp_err(&rtp(0x11, &[0, 0, 0, 1])),
        Some(RtpError::Truncated)
    );
}

#[test]
fn rtp_csrc_count_past_the_end() {
    assert_eq!(rtp_err(&rtp(0x0f, &[])), Some(RtpError::Truncated));
    assert_eq!(
        rtp_err(&rtp(0x02, &[0, 0, 0, 1, 0, 0, 0])),
        Some(RtpError::Truncated)
    );
    // Exactly filled is fine: a packet with CSRCs and an empty payload.
    let p = rtp(0x01, &[0, 0, 0, 1]);
    assert_eq!(RtpPacket::new_checked(&p).unwrap().payload(), &[] as &[u8]);
}

#[test]
fn rtcp_length_field_past_the_datagram() {
    let mut c = compound();
    c[2] = 0x01; // 0x010c words
    assert_eq!(
        Rtcp::parse_compound(&c),
        Err(RtpError::LengthPastEnd {
            claimed: 1076,
            available: 84
        })
    );
    // The same in the last packet: the first ones come out, then the error.
    let mut c = compound();
    c[BYE_AT + 3] = 0xff;
    let walked: Vec<_> = RtcpCompound::new(&c).map(|p| p.map(|_| ())).collect();
    assert_eq!(
        walked,
        [
            Ok(()),
            Ok(()),
            Err(RtpError::LengthPastEnd {
                claimed: 1024,
                available: 12
            })
        ]
    );
}

#[test]
fn rtcp_zero_length_headers_and_short_datagrams() {
    // Length 0 is a packet of just the header: no room for any SSRC.
    for pt in [rtcp_type::SR, rtcp_type::RR] {
        assert_eq!(
            Rtcp::parse_compound(&[0x80, pt, 0, 0]),
            Err(RtpError::Truncated),
            "pt {pt}"
        );
    }
    // An SDES or BYE whose count promises more than the header.
    assert_eq!(
        Rtcp::parse_compound(&[0x81, rtcp_type::SDES, 0, 0]),
        Err(RtpError::Truncated)
    );
    assert_eq!(
        Rtcp::parse_compound(&[0x81, rtcp_type::BYE, 0, 0]),
        Err(RtpError::Truncated)
    );
    // With a count of zero they are empty but well formed.
    assert_eq!(
        Rtcp::parse_compound(&[0x80, rtcp_type::BYE, 0, 0]),
        Ok(vec![Rtcp::Bye(Bye::default())])
    );
    // An empty datagram is not a compound packet, nor is a partial header.
    for short in [&[][..], &[0x80], &[0x80, 0xc8], &[0x80, 0xc8, 0]] {
        assert_eq!(
            Rtcp::parse_compound(short),
            Err(RtpError::Truncated),
            "{short:?}"
        );
    }
    assert_eq!(
        RtcpCompound::new(&[]).collect::<Vec<_>>().len(),
        1,
        "one error, then the end"
    );
}

#[test]
fn rtcp_truncated_at_every_length() {
    let c = compound();
    for cut in 0..c.len() {
        let result = Rtcp::parse_compound(&c[..cut]);
        // A cut on a packet boundary leaves a shorter valid compound.
        if cut == SDES_AT || cut == BYE_AT {
            assert!(result.is_ok(), "cut {cut}: {result:?}");
            continue;
        }
        assert!(
            matches!(
                result,
                Err(RtpError::Truncated | RtpError::LengthPastEnd { .. })
            ),
            "cut {cut}: {result:?}"
        );
    }
}

#[test]
fn rtcp_wrong_version() {
    let mut c = compound();
    c[0] = 0x41;
    assert_eq!(Rtcp::parse_compound(&c), Err(RtpError::BadVersion(1)));
    let mut c = compound();
    c[SDES_AT] &= 0x3f;
    assert_eq!(Rtcp::parse_compound(&c), Err(RtpError::BadVersion(0)));
}

#[test]
fn rtcp_bad_padding() {
    let rr = |pad: u8| {
        vec![
            0xa0, 0xc9, 0x00, 0x02, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x00, 0x00, pad,
        ]
    };
    assert!(Rtcp::parse_compound(&rr(4)).is_ok());
    for pad in [0, 1, 3, 5, 12, 0xff] {
        assert_eq!(
            Rtcp::parse_compound(&rr(pad)),
            Err(RtpError::BadPadding(pad)),
            "pad {pad}"
        );
    }
    // Padding that eats the SSRC frames fine but leaves the body short.
    assert_eq!(Rtcp::parse_compound(&rr(8)), Err(RtpError::Truncated));
}

#[test]
fn rtcp_padding_only_on_the_last_packet() {
    let mut c = vec![
        0xa0, 0xc9, 0x00, 0x02, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x00, 0x00, 0x04, // padded RR
    ];
    assert!(Rtcp::parse_compound(&c).is_ok());
    c.extend_from_slice(&[0x80, rtcp_type::BYE, 0, 0]);
    assert_eq!(Rtcp::parse_compound(&c), Err(RtpError::PaddingNotLast));
}

#[test]
fn rtcp_view_refuses_trailing_bytes() {
    let mut rr = vec![0x80, 0xc9, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef];
    assert!(RtcpPacket::new_checked(&rr).is_ok());
    rr.push(0);
    assert_eq!(
        RtcpPacket::new_checked(&rr).err(),
        Some(RtpError::TrailingBytes(1))
    );
}

#[test]
fn rtcp_report_count_past_the_body() {
    // RC=2 but one block's room.
    let mut rr = vec![0x82, 0xc9, 0x00, 0x07, 0xde, 0xad, 0xbe, 0xef];
    rr.extend_from_slice(&[0; 24]);
    assert_eq!(Rtcp::parse_compound(&rr), Err(RtpError::Truncated));
    // Words after the blocks are profile extensions: skipped, not refused.
    rr[0] = 0x81;
    rr.extend_from_slice(&[9; 8]);
    rr[3] = 0x09;
    assert!(Rtcp::parse_compound(&rr).is_ok());
}

#[test]
fn rtcp_sdes_items_past_the_packet() {
    let sdes = |body: &[u8]| {
        let mut v = vec![0x81, 0xca, 0x00, (body.len() / 4) as u8];
        v.extend_from_slice(body);
        v
    };
    // Item length runs past the end.
    assert_eq!(
        Rtcp::parse_compound(&sdes(&[0, 0, 0, 1, 1, 9, b'a', b'b'])),
        Err(RtpError::Truncated)
    );
    // No terminating null before the end.
    assert_eq!(
        Rtcp::parse_compound(&sdes(&[0, 0, 0, 1, 1, 2, b'a', b'b'])),
        Err(RtpError::Truncated)
    );
    // Chunk count of one, but two chunks' worth of bytes.
    assert_eq!(
        Rtcp::parse_compound(&sdes(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0])),
        Err(RtpError::TrailingBytes(8))
    );
    // Chunk count of two, one chunk present.
    let mut two = sdes(&[0, 0, 0, 1, 0, 0, 0, 0]);
    two[0] = 0x82;
    assert_eq!(Rtcp::parse_compound(&two), Err(RtpError::Truncated));
}

#[test]
fn rtcp_bye_past_the_packet() {
    // SC=3, two sources present.
    assert_eq!(
        Rtcp::parse_compound(&[0x83, 0xcb, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2]),
        Err(RtpError::Truncated)
    );
    // Reason length past the end.
    assert_eq!(
        Rtcp::parse_compound(&[0x81, 0xcb, 0, 2, 0, 0, 0, 1, 9, b'a', b'b', b'c']),
        Err(RtpError::Truncated)
    );
    // A reason that ends early, followed by another word.
    assert_eq!(
        Rtcp::parse_compound(&[0x81, 0xcb, 0, 3, 0, 0, 0, 1, 1, b'a', 0, 0, 0, 0, 0, 0]),
        Err(RtpError::TrailingBytes(4))
    );
}

#[test]
fn body_errors_leave_the_other_packets_usable() {
    let mut c = compound();
    c[SDES_AT] = 0x82; // SDES claims two chunks, has one
    let parsed: Vec<_> = RtcpCompound::new(&c)
        .map(|p| Rtcp::parse(&p.unwrap()).map(|r| r.packet_type()))
        .collect();
    assert_eq!(
        parsed,
        [
            Ok(rtcp_type::SR),
            Err(RtpError::Truncated),
            Ok(rtcp_type::BYE)
        ]
    );
}

/// Everything a parser can be asked: must not panic, and what parses must
/// emit and parse back to the same value.
fn exercise(bytes: &[u8]) {
    let _ = classify(bytes);
    if let Ok(p) = RtpPacket::new_checked(bytes) {
        let _ = (p.csrcs().count(), p.extension(), p.padding_len());
        let payload = p.payload();
        assert_eq!(
            p.header_len() + payload.len() + p.padding_len(),
            bytes.len()
        );
        let header = p.header();
        let again = header.to_bytes(payload);
        assert_eq!(RtpHeader::parse(&again), Ok((header, payload)));
    }
    for packet in RtcpCompound::new(bytes) {
        let Ok(packet) = packet else { break };
        let _ = (packet.count(), packet.has_padding(), packet.body());
    }
    if let Ok(packets) = Rtcp::parse_compound(bytes) {
        let mut buf = vec![0xa5; Rtcp::compound_len(&packets)];
        Rtcp::emit_compound(&packets, &mut buf);
        assert_eq!(Rtcp::parse_compound(&buf).as_ref(), Ok(&packets));
    }
}

/// Every single-byte corruption of every sample, every prefix, then a
/// deterministic pseudo-random sweep.
#[test]
fn no_input_panics() {
    let samples = [
        compound(),
        rtp(
            0x33,
            &[
                0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xbe, 0xde, 0, 1, 1, 2, 3, 4, 7, 0, 2,
            ],
        ),
        rtp(0, &[1, 2, 3]),
        vec![0x81, 0xca, 0, 2, 0, 0, 0, 1, 1, 2, b'a', b'b'],
        vec![0x81, 0xcb, 0, 2, 0, 0, 0, 1, 2, b'h', b'i', 0],
    ];
    for s in &samples {
        for cut in 0..=s.len() {
            exercise(&s[..cut]);
        }
        for i in 0..s.len() {
            for v in [0u8, 1, 3, 4, 0x1f, 0x20, 0x3f, 0x7f, 0x80, 0xa0, 0xbf, 0xff] {
                let mut c = s.clone();
                c[i] = v;
                exercise(&c);
            }
        }
    }
    // xorshift: deterministic, no RNG dependency. The first byte is biased to
    // version 2 so most inputs get past the first check.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..50_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 72) as usize;
        let mut buf: Vec<u8> = (0..len).map(|k| (x >> (k % 57)) as u8).collect();
        if let Some(b0) = buf.first_mut() {
            *b0 = 0x80 | (*b0 & 0x3f);
        }
        if let Some(b3) = buf.get_mut(3) {
            *b3 %= 20; // plausible RTCP lengths
        }
        exercise(&buf);
    }
}

#[test]
fn what_we_emit_round_trips() {
    for (i, header) in [
        RtpHeader {
            marker: true,
            payload_type: PT_JPEG,
            sequence: 65535,
            timestamp: u32::MAX,
            ssrc: 0,
        },
        RtpHeader {
            marker: false,
            payload_type: 127,
            sequence: 0,
            timestamp: 0,
            ssrc: u32::MAX,
        },
    ]
    .into_iter()
    .enumerate()
    {
        let payload = vec![i as u8; MAX_RTP_PAYLOAD_LEN];
        let mut buf = [0xa5; MAX_RTP_PACKET_LEN];
        assert_eq!(header.emit(&payload, &mut buf), MAX_RTP_PACKET_LEN);
        assert_eq!(classify(&buf), Kind::Rtp);
        assert_eq!(RtpHeader::parse(&buf), Ok((header, &payload[..])));
    }
    let c = compound();
    let packets = Rtcp::parse_compound(&c).unwrap();
    let mut buf = vec![0; Rtcp::compound_len(&packets)];
    Rtcp::emit_compound(&packets, &mut buf);
    assert_eq!(buf, c);
}

#[test]
#[should_panic(expected = "payload type")]
fn emitting_a_payload_type_above_127_is_a_caller_bug() {
    let header = RtpHeader {
        marker: false,
        payload_type: 128,
        sequence: 0,
        timestamp: 0,
        ssrc: 0,
    };
    header.emit(&[], &mut [0; RTP_HEADER_LEN]);
}
