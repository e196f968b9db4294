//! Byte fixtures of the FEC header and repair packet, and recovery: every
//! single loss in groups of 2 to 20, two losses, chains, wrap-around, the
//! bounds of the decoder, and the encoder's refusals.

use super::*;
use crate::media::rtp::PT_JPEG;

const MEDIA_SSRC: u32 = 0x1122_3344;
const FEC_SSRC: u32 = 0xfec0_0001;

/// A media packet whose header fields and payload length vary with `i`:
/// marker, payload type, timestamp, payload length (0 to 48 bytes), and every
/// fifth packet with a CSRC and a header extension, so each recovery field
/// is exercised.
fn media(seq: u16, i: usize) -> Vec<u8> {
    let header = RtpHeader {
        marker: i % 3 == 0,
        payload_type: if i % 2 == 0 { PT_JPEG } else { 96 },
        sequence: seq,
        timestamp: 90_000u32.wrapping_mul(i as u32 / 4 + 1),
        ssrc: MEDIA_SSRC,
    };
    let payload: Vec<u8> = (0..(i * 37) % 49).map(|b| (b * 7 + i) as u8).collect();
    let mut packet = header.to_bytes(&payload);
    if i % 5 == 4 {
        // CC=1 and X: a CSRC, then a one-word RFC 8285 extension.
        packet[0] |= 0x11;
        let extra = [0xca, 0xfe, 0xba, 0xbe, 0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0];
        packet.splice(RTP_HEADER_LEN..RTP_HEADER_LEN, extra);
    }
    RtpPacket::new_checked(&packet[..]).expect("test media is valid RTP");
    packet
}

fn group(first: u16, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| media(first.wrapping_add(i as u16), i))
        .collect()
}

fn protect(encoder: &mut FecEncoder, packets: &[Vec<u8>]) -> Vec<u8> {
    let refs: Vec<&[u8]> = packets.iter().map(Vec::as_slice).collect();
    encoder.protect(&refs, 0x1234_5678).expect("group protects")
}

/// Feeds every packet but `lost` to a decoder and returns what it recovers.
fn deliver_all_but(decoder: &mut FecDecoder, packets: &[Vec<u8>], lost: &[usize]) {
    for (i, p) in packets.iter().enumerate() {
        if !lost.contains(&i) {
            assert!(decoder.media(p).is_empty(), "nothing pending yet");
        }
    }
}

/// The repair packet for two small packets, worked out by hand:
///
/// ```text
/// A: 80 1a 00 0a  00 00 00 64  11 22 33 44  01 02 03   (PT 26, seq 10, ts 100)
/// B: 80 9a 00 0b  00 00 00 c8  11 22 33 44  04 05      (M, PT 26, seq 11, ts 200)
/// bit string heads (bytes 0-1, length - 12, timestamp):
///   A: 80 1a 00 03 00 00 00 64
///   B: 80 9a 00 02 00 00 00 c8
///   ^: 00 80 00 01 00 00 00 ac -> R=F=P=X=0, CC 0, M 1, PT 0, length 1, TS 0xac
/// mask: offsets 0 and 1 of SN base 10, short form: k=1, bits 14 and 13: e0 00
/// repair payload: 01^04 02^05 03^00 = 05 07 03
/// ```
const SMALL_GROUP_FEC: [u8; 31] = [
    0x81, 0x62, 0x00, 0x07, // V=2, CC=1; PT 98; FEC sequence 7
    0x12, 0x34, 0x56, 0x78, // timestamp given to protect
    0xfe, 0xc0, 0x00, 0x01, // FEC stream SSRC
    0x11, 0x22, 0x33, 0x44, // CSRC: the protected SSRC
    0x00, 0x80, 0x00, 0x01, // R F P X CC | M PT recovery | length recovery
    0x00, 0x00, 0x00, 0xac, // TS recovery
    0x00, 0x0a, 0xe0, 0x00, // SN base 10 | k=1, mask 0-14
    0x05, 0x07, 0x03, // repair payload
];

fn small_group() -> [Vec<u8>; 2] {
    let a = RtpHeader {
        marker: false,
        payload_type: PT_JPEG,
        sequence: 10,
        timestamp: 100,
        ssrc: MEDIA_SSRC,
    };
    let b = RtpHeader {
        marker: true,
        sequence: 11,
        timestamp: 200,
        ..a
    };
    [a.to_bytes(&[1, 2, 3]), b.to_bytes(&[4, 5])]
}

#[test]
fn small_group_matches_the_hand_computed_fixture() {
    let [a, b] = small_group();
    let mut encoder = FecEncoder::new(FEC_SSRC, 7);
    let fec = encoder.protect(&[&a, &b], 0x1234_5678).unwrap();
    assert_eq!(fec, SMALL_GROUP_FEC);

    let parsed = FecPacket::parse(&SMALL_GROUP_FEC).unwrap();
    let expected = FecPacket {
        rtp: RtpHeader {
            marker: false,
            payload_type: PT_FLEXFEC,
            sequence: 7,
            timestamp: 0x1234_5678,
            ssrc: FEC_SSRC,
        },
        protected_ssrc: MEDIA_SSRC,
        header: FecHeader {
            padding_recovery: false,
            extension_recovery: false,
            csrc_count_recovery: 0,
            marker_recovery: true,
            payload_type_recovery: 0,
            length_recovery: 1,
            timestamp_recovery: 0xac,
            sn_base: 10,
            mask: 0b11,
            mask_len: MaskLen::Bits15,
        },
        repair_payload: &[5, 7, 3],
    };
    assert_eq!(parsed, expected);
    assert_eq!(parsed.header.protected().collect::<Vec<_>>(), [10, 11]);
    let mut buf = [0xa5u8; 34];
    assert_eq!(expected.emit(&mut buf), SMALL_GROUP_FEC.len());
    assert_eq!(&buf[..31], SMALL_GROUP_FEC);
    assert_eq!(&buf[31..], [0xa5; 3]);

    // Either packet comes back from the other and the fixture.
    for (lost, kept) in [(&a, &b), (&b, &a)] {
        let mut decoder = FecDecoder::new();
        assert!(decoder.media(kept).is_empty());
        assert_eq!(decoder.fec(&SMALL_GROUP_FEC), Ok(vec![lost.clone()]));
    }
}

#[test]
fn long_mask_fixtures() {
    // Offsets 0 and 20: the 46-bit form. Offset 20 is bit 5 of the second
    // word's 31 mask bits, 1 << 25 under its k bit.
    let medium = [
        0x12, 0x7f, 0xbe, 0xef, // X, CC 2; PT 127; length recovery
        0xde, 0xad, 0xbe, 0xef, // TS recovery
        0xff, 0xfe, 0x40, 0x00, // SN base 65534 | k=0, offset 0
        0x82, 0x00, 0x00, 0x00, // k=1, offset 20
    ];
    let header = FecHeader {
        padding_recovery: false,
        extension_recovery: true,
        csrc_count_recovery: 2,
        marker_recovery: false,
        payload_type_recovery: 127,
        length_recovery: 0xbeef,
        timestamp_recovery: 0xdead_beef,
        sn_base: 65534,
        mask: 1 | 1 << 20,
        mask_len: MaskLen::Bits46,
    };
    let medium_header = header;
    assert_eq!(FecHeader::parse(&medium), Ok((medium_header, 16)));
    assert_eq!(
        medium_header.protected().collect::<Vec<_>>(),
        [65534, 65534u16.wrapping_add(20)]
    );
    let mut buf = [0xa5u8; 16];
    assert_eq!(medium_header.emit(&mut buf), 16);
    assert_eq!(buf, medium);

    // Offsets 14, 15, 45, 46 and 109: the last bit of each word and the first
    // of the next, in the 110-bit form.
    let long = [
        0x32, 0x7f, 0xbe, 0xef, // P, X, CC 2; PT 127
        0xde, 0xad, 0xbe, 0xef, //
        0xff, 0xfe, 0x00, 0x01, // k=0, offset 14
        0x40, 0x00, 0x00, 0x01, // k=0, offsets 15 and 45
        0x80, 0x00, 0x00, 0x00, // offset 46
        0x00, 0x00, 0x00, 0x01, // offset 109
    ];
    let long_header = FecHeader {
        padding_recovery: true,
        mask: 1 << 14 | 1 << 15 | 1 << 45 | 1 << 46 | 1 << 109,
        mask_len: MaskLen::Bits110,
        ..header
    };
    assert_eq!(FecHeader::parse(&long), Ok((long_header, 24)));
    let mut buf = [0xa5u8; 24];
    assert_eq!(long_header.emit(&mut buf), 24);
    assert_eq!(buf, long);
}

#[test]
fn parse_emit_parse_round_trip() {
    let mut encoder = FecEncoder::new(FEC_SSRC, 65535);
    for n in [1, 2, 15, 16, 46, 47, 110] {
        let packets = group(65500, n);
        let bytes = protect(&mut encoder, &packets);
        let parsed = FecPacket::parse(&bytes).unwrap();
        assert_eq!(parsed.buffer_len(), bytes.len());
        let again = parsed.to_bytes();
        assert_eq!(again, bytes);
        assert_eq!(FecPacket::parse(&again), Ok(parsed));
        let (header, len) = FecHeader::parse(&bytes[FEC_RTP_HEADER_LEN..]).unwrap();
        let mut buf = vec![0xa5; len];
        header.emit(&mut buf);
        assert_eq!(FecHeader::parse(&buf), Ok((header, len)));
    }
}

#[test]
fn encoder_picks_the_shortest_mask_and_numbers_its_stream() {
    let mut encoder = FecEncoder::new(FEC_SSRC, 65534);
    let mut seqs = Vec::new();
    for (n, mask_len) in [
        (15, MaskLen::Bits15),
        (16, MaskLen::Bits46),
        (46, MaskLen::Bits46),
        (47, MaskLen::Bits110),
        (110, MaskLen::Bits110),
    ] {
        let bytes = protect(&mut encoder, &group(100, n));
        let packet = FecPacket::parse(&bytes).unwrap();
        assert_eq!(packet.header.mask_len, mask_len, "{n} packets");
        assert_eq!(packet.header.protected().count(), n);
        assert_eq!(packet.rtp.ssrc, FEC_SSRC);
        assert_eq!(packet.rtp.payload_type, PT_FLEXFEC);
        seqs.push(packet.rtp.sequence);
    }
    assert_eq!(seqs, [65534, 65535, 0, 1, 2]);
}

#[test]
fn every_single_loss_in_groups_of_2_to_20_is_recovered_exactly() {
    let mut encoder = FecEncoder::new(FEC_SSRC, 0);
    for n in 2..=20 {
        let packets = group(1000, n);
        let fec = protect(&mut encoder, &packets);
        for lost in 0..n {
            // Media first, then the repair packet.
            let mut decoder = FecDecoder::new();
            deliver_all_but(&mut decoder, &packets, &[lost]);
            let recovered = decoder.fec(&fec).unwrap();
            assert_eq!(recovered, vec![packets[lost].clone()], "n {n} lost {lost}");
            assert_eq!(decoder.stats().recovered, 1);

            // The repair packet first: the last media packet completes it.
            let mut decoder = FecDecoder::new();
            let mut got = decoder.fec(&fec).unwrap();
            for (i, p) in packets.iter().enumerate() {
                if i != lost {
                    got.extend(decoder.media(p));
                }
            }
            assert_eq!(
                got,
                vec![packets[lost].clone()],
                "fec first, n {n} lost {lost}"
            );
            assert_eq!(decoder.pending_len(), 0);
        }
    }
}

#[test]
fn uneven_groups_with_gaps_are_recovered() {
    // Every third packet protected, reaching into the 110-bit mask form.
    let all = group(40, 60);
    let protected: Vec<Vec<u8>> = all.iter().step_by(3).cloned().collect();
    let fec = protect(&mut FecEncoder::new(FEC_SSRC, 0), &protected);
    let mut decoder = FecDecoder::new();
    let lost = 57; // the last protected one, offset 57
    for (i, p) in all.iter().enumerate() {
        if i != lost {
            assert!(decoder.media(p).is_empty());
        }
    }
    assert_eq!(decoder.fec(&fec), Ok(vec![all[lost].clone()]));
}

#[test]
fn two_losses_wait_for_one_of_them() {
    let packets = group(500, 8);
    let fec = protect(&mut FecEncoder::new(FEC_SSRC, 0), &packets);
    let mut decoder = FecDecoder::new();
    deliver_all_but(&mut decoder, &packets, &[2, 5]);
    assert_eq!(decoder.fec(&fec), Ok(vec![]));
    assert_eq!(decoder.pending_len(), 1);
    assert_eq!(decoder.stats().recovered, 0);
    // Packet 5 repaired by retransmission: packet 2 follows from the FEC.
    assert_eq!(decoder.media(&packets[5]), vec![packets[2].clone()]);
    assert_eq!(decoder.pending_len(), 0);
    // The late original is not delivered twice, nor recovered again.
    assert!(decoder.media(&packets[2]).is_empty());
    assert_eq!(decoder.fec(&fec), Ok(vec![]));
    let stats = decoder.stats();
    assert_eq!(stats.recovered, 1);
    assert_eq!(stats.fec_unneeded, 1);
    assert_eq!(stats.fec_received, 2);
}

#[test]
fn recoveries_chain() {
    // F1 covers 0..=3, F2 covers 3..=5; 1 and 3 are lost. F1 alone cannot
    // help; F2 recovers 3, which lets F1 recover 1.
    let packets = group(300, 6);
    let mut encoder = FecEncoder::new(FEC_SSRC, 0);
    let f1 = protect(&mut encoder, &packets[0..4]);
    let f2 = protect(&mut encoder, &packets[3..6]);
    let mut decoder = FecDecoder::new();
    deliver_all_but(&mut decoder, &packets, &[1, 3]);
    assert_eq!(decoder.fec(&f1), Ok(vec![]));
    assert_eq!(
        decoder.fec(&f2),
        Ok(vec![packets[3].clone(), packets[1].clone()])
    );
    assert_eq!(decoder.stats().recovered, 2);
}

#[test]
fn groups_across_the_sequence_wrap() {
    let packets = group(65530, 12); // 65530..=65535, 0..=5
    let fec = protect(&mut FecEncoder::new(FEC_SSRC, 0), &packets);
    assert_eq!(FecPacket::parse(&fec).unwrap().header.sn_base, 65530);
    // Media order handed to the encoder does not matter.
    let mut shuffled: Vec<&[u8]> = packets.iter().rev().map(Vec::as_slice).collect();
    shuffled.swap(0, 7);
    let again = FecEncoder::new(FEC_SSRC, 0).protect(&shuffled, 0x1234_5678);
    assert_eq!(again.as_ref(), Ok(&fec));
    for lost in [0, 5, 6, 11] {
        let mut decoder = FecDecoder::new();
        deliver_all_but(&mut decoder, &packets, &[lost]);
        assert_eq!(decoder.fec(&fec), Ok(vec![packets[lost].clone()]), "{lost}");
    }
    // A decoder that has been running long before the wrap.
    let mut decoder = FecDecoder::new();
    for (i, seq) in (65000u16..=65529).enumerate() {
        assert!(decoder.media(&media(seq, i)).is_empty());
    }
    deliver_all_but(&mut decoder, &packets, &[7]);
    assert_eq!(decoder.fec(&fec), Ok(vec![packets[7].clone()]));
}

#[test]
fn repair_packets_of_another_stream_are_ignored() {
    let packets = group(10, 4);
    let fec = protect(&mut FecEncoder::new(FEC_SSRC, 0), &packets);
    let mut other = packets.clone();
    for p in &mut other {
        p[8..12].copy_from_slice(&0x5555_5555u32.to_be_bytes());
    }
    let mut decoder = FecDecoder::new();
    deliver_all_but(&mut decoder, &other, &[1]);
    assert_eq!(decoder.fec(&fec), Ok(vec![]));
    assert_eq!(decoder.pending_len(), 0);
    assert_eq!(decoder.stats().fec_foreign, 1);

    // Before any media: kept, then dropped when the media shows its SSRC.
    let mut decoder = FecDecoder::new();
    assert_eq!(decoder.fec(&fec), Ok(vec![]));
    assert_eq!(decoder.pending_len(), 1);
    assert!(decoder.media(&other[0]).is_empty());
    assert_eq!(decoder.pending_len(), 0);
    assert_eq!(decoder.stats().fec_foreign, 1);
}

#[test]
fn media_history_is_bounded() {
    let mut decoder = FecDecoder::new();
    for i in 0..3 * MAX_MEDIA_HISTORY {
        assert!(decoder.media(&media(i as u16, i)).is_empty());
        assert!(decoder.history_len() <= MAX_MEDIA_HISTORY);
    }
    assert_eq!(decoder.history_len(), MAX_MEDIA_HISTORY);
    // A packet older than the history is not taken back in.
    assert!(decoder.media(&media(3, 3)).is_empty());
    assert_eq!(decoder.history_len(), MAX_MEDIA_HISTORY);
    assert_eq!(decoder.stats().media_ignored, 1);
}

#[test]
fn repair_packets_reaching_past_the_history_are_dropped() {
    // 1 is lost; by the time the FEC arrives, 0 and 2 have been forgotten.
    // One packet "missing" is not enough: 0 may as well be the lost one.
    let packets = group(0, 3);
    let fec = protect(&mut FecEncoder::new(FEC_SSRC, 0), &packets);
    let mut decoder = FecDecoder::new();
    deliver_all_but(&mut decoder, &packets, &[1]);
    for i in 3..MAX_MEDIA_HISTORY + 3 {
        assert!(decoder.media(&media(i as u16, i)).is_empty());
    }
    assert_eq!(decoder.fec(&fec), Ok(vec![]));
    assert_eq!(decoder.pending_len(), 0);
    assert_eq!(decoder.stats().fec_expired, 1);
    assert_eq!(decoder.stats().recovered, 0);
}

#[test]
fn pending_repair_packets_are_bounded() {
    let mut encoder = FecEncoder::new(FEC_SSRC, 0);
    let mut decoder = FecDecoder::new();
    assert!(decoder.media(&media(0, 0)).is_empty());
    // No packet of any group arrives.
    for g in 0..3 * MAX_PENDING_FEC {
        let packets = group(1 + 3 * g as u16, 3);
        assert_eq!(decoder.fec(&protect(&mut encoder, &packets)), Ok(vec![]));
        assert!(decoder.pending_len() <= MAX_PENDING_FEC);
    }
    assert_eq!(decoder.pending_len(), MAX_PENDING_FEC);
    assert_eq!(decoder.stats().fec_expired, 2 * MAX_PENDING_FEC as u64);
    // The newest still work: the last group's first packet arrives.
    let last = group(1 + 3 * (3 * MAX_PENDING_FEC as u16 - 1), 3);
    assert!(decoder.media(&last[0]).is_empty());
    assert_eq!(decoder.media(&last[1]), vec![last[2].clone()]);
}

#[test]
fn a_new_media_stream_starts_over() {
    let packets = group(10, 3);
    let fec = protect(&mut FecEncoder::new(FEC_SSRC, 0), &packets);
    let mut decoder = FecDecoder::new();
    deliver_all_but(&mut decoder, &packets, &[1]);
    let mut restarted = media(11, 1);
    restarted[8..12].copy_from_slice(&7u32.to_be_bytes());
    assert!(decoder.media(&restarted).is_empty());
    assert_eq!(decoder.history_len(), 1);
    // The old stream's repair packet is another stream's now.
    assert_eq!(decoder.fec(&fec), Ok(vec![]));
    assert_eq!(decoder.stats().fec_foreign, 1);
}

#[test]
fn encoder_refuses_what_it_cannot_protect() {
    let mut encoder = FecEncoder::new(FEC_SSRC, 5);
    assert_eq!(encoder.protect(&[], 0), Err(FecError::NoMedia));
    let a = media(100, 1);
    let mut b = media(101, 2);
    b[8] ^= 1;
    assert_eq!(encoder.protect(&[&a, &b], 0), Err(FecError::MixedSsrc));
    assert_eq!(
        encoder.protect(&[&a, &a], 0),
        Err(FecError::DuplicateSequence(100))
    );
    let far = media(100 + MAX_MASK_BITS as u16, 2);
    assert_eq!(encoder.protect(&[&a, &far], 0), Err(FecError::OutOfReach));
    let reach = media(100 + MAX_MASK_BITS as u16 - 1, 2);
    assert!(encoder.protect(&[&far, &reach], 0).is_ok());
    assert_eq!(
        encoder.protect(&[&a, &[0x80, 26]], 0),
        Err(FecError::BadMedia(RtpError::Truncated))
    );

    // Size: the longest protectable packet fits with the longest mask, one
    // byte more does not.
    let big = |seq: u16, len: usize| {
        let mut p = media(seq, 0);
        p.resize(len, 0x5a);
        p
    };
    let fits = encoder
        .protect(&[&big(0, MAX_PROTECTED_PACKET_LEN), &media(109, 1)], 0)
        .unwrap();
    assert_eq!(fits.len(), MAX_RTP_PACKET_LEN);
    assert_eq!(
        encoder.protect(&[&big(0, MAX_PROTECTED_PACKET_LEN + 1), &media(109, 1)], 0),
        Err(FecError::TooLong(MAX_RTP_PACKET_LEN + 1))
    );
    // Refusals did not use up sequence numbers: 5 went to the reach test.
    assert_eq!(FecPacket::parse(&fits).unwrap().rtp.sequence, 6);
}

#[test]
fn one_packet_group_is_a_copy() {
    let p = media(77, 4);
    let fec = protect(&mut FecEncoder::new(FEC_SSRC, 0), std::slice::from_ref(&p));
    let mut decoder = FecDecoder::new();
    assert!(decoder.media(&media(76, 3)).is_empty());
    assert_eq!(decoder.fec(&fec), Ok(vec![p]));
}
