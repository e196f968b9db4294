//! Malformed repair packets: every way one can be wrong gives an error (or,
//! when only the XOR can tell, a failed recovery that delivers nothing),
//! never a panic; whatever parses survives emit and parse again.

use super::*;

const MEDIA_SSRC: u32 = 0x0102_0304;

fn media(seq: u16, payload: &[u8]) -> Vec<u8> {
    RtpHeader {
        marker: false,
        payload_type: 26,
        sequence: seq,
        timestamp: 9000,
        ssrc: MEDIA_SSRC,
    }
    .to_bytes(payload)
}

/// A valid repair packet over `n` packets from sequence 200, with its group.
fn valid(n: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
    let packets: Vec<Vec<u8>> = (0..n)
        .map(|i| media(200 + i as u16, &vec![i as u8; i + 1]))
        .collect();
    let refs: Vec<&[u8]> = packets.iter().map(Vec::as_slice).collect();
    let fec = FecEncoder::new(9, 0).protect(&refs, 0).unwrap();
    (fec, packets)
}

/// Parses, and if that works re-emits and parses again; also feeds the bytes
/// to a decoder that holds some media, which must not panic either.
fn check(bytes: &[u8]) -> Result<(), FecError> {
    let mut decoder = FecDecoder::new();
    let _ = decoder.media(&media(200, &[1]));
    let fed = decoder.fec(bytes);
    let parsed = FecPacket::parse(bytes);
    assert_eq!(fed.is_err(), parsed.is_err());
    let packet = parsed?;
    let again = packet.to_bytes();
    assert_eq!(FecPacket::parse(&again), Ok(packet));
    Ok(())
}

#[test]
fn truncated_at_every_length() {
    for n in [2, 20, 50] {
        let (fec, _) = valid(n);
        let header_end = FecPacket::parse(&fec).unwrap().header.buffer_len() + FEC_RTP_HEADER_LEN;
        for cut in 0..header_end {
            let err = check(&fec[..cut]).unwrap_err();
            let expected = match cut {
                0..=11 => FecError::Rtp(RtpError::Truncated),
                12..=15 => FecError::Rtp(RtpError::Truncated),
                _ => FecError::Truncated,
            };
            // An empty datagram has no version byte to be wrong.
            if cut > 0 {
                assert_eq!(err, expected, "n {n} cut {cut}");
            }
        }
        // Cutting the repair payload parses (a shorter payload), and the
        // decoder's XOR notices when it matters.
        for cut in header_end..fec.len() {
            assert!(check(&fec[..cut]).is_ok());
        }
    }
}

#[test]
fn unsupported_variants_and_ssrc_counts() {
    let (fec, _) = valid(3);
    let mut r = fec.clone();
    r[FEC_RTP_HEADER_LEN] |= 0x80;
    assert_eq!(check(&r), Err(FecError::Retransmission));
    let mut f = fec.clone();
    f[FEC_RTP_HEADER_LEN] |= 0x40;
    assert_eq!(check(&f), Err(FecError::FixedLayout));

    // CC=0: the CSRC becomes the start of the FEC header, whatever it says;
    // the count is refused first.
    let mut no_csrc = fec.clone();
    no_csrc[0] &= 0xf0;
    assert_eq!(check(&no_csrc), Err(FecError::ProtectedSsrcCount(0)));
    let mut two = fec.clone();
    two[0] = (two[0] & 0xf0) | 2;
    assert_eq!(check(&two), Err(FecError::ProtectedSsrcCount(2)));
    let mut fifteen = fec.clone();
    fifteen[0] |= 0x0f;
    assert_eq!(
        check(&fifteen),
        Err(FecError::Rtp(RtpError::Truncated)),
        "15 CSRCs do not fit"
    );

    let mut version = fec;
    version[0] &= 0x3f;
    assert_eq!(check(&version), Err(FecError::Rtp(RtpError::BadVersion(0))));
}

#[test]
fn odd_masks() {
    let (fec, _) = valid(3);
    let mask_at = FEC_RTP_HEADER_LEN + 10;
    // Empty short mask: k=1 and nothing else.
    let mut empty = fec.clone();
    empty[mask_at..mask_at + 2].copy_from_slice(&[0x80, 0]);
    assert_eq!(check(&empty), Err(FecError::EmptyMask));
    // k=0 everywhere and all bits zero: the 110-bit form, empty.
    let mut long_empty = fec[..mask_at].to_vec();
    long_empty.extend_from_slice(&[0; 14]);
    assert_eq!(check(&long_empty), Err(FecError::EmptyMask));
    // k=0 in the first word, second word empty with k=1.
    let mut medium_empty = fec[..mask_at].to_vec();
    medium_empty.extend_from_slice(&[0, 0, 0x80, 0, 0, 0]);
    assert_eq!(check(&medium_empty), Err(FecError::EmptyMask));
    // k=0 but the packet ends inside the longer mask.
    for tail in [
        &[0x40, 0][..],
        &[0x40, 0, 0, 0, 0],
        &[0x40, 0, 0, 0, 0, 0, 0],
    ] {
        let mut short = fec[..mask_at].to_vec();
        short.extend_from_slice(tail);
        assert_eq!(check(&short), Err(FecError::Truncated), "{tail:?}");
    }
    // A non-canonical long mask that only uses the first bits parses, and
    // keeps its form through emit.
    let mut wide = fec[..mask_at].to_vec();
    wide.extend_from_slice(&[0x70, 0, 0, 0, 0, 0]);
    wide.extend_from_slice(&[0; 8]);
    wide.extend_from_slice(&fec[mask_at + 2..]);
    assert_eq!(check(&wide), Ok(()));
    let parsed = FecPacket::parse(&wide).unwrap();
    assert_eq!(parsed.header.mask_len, MaskLen::Bits110);
    assert_eq!(parsed.to_bytes(), wide);
}

#[test]
fn overlong_and_padded() {
    let (fec, _) = valid(3);
    let mut long = fec.clone();
    long.resize(MAX_RTP_PACKET_LEN + 1, 0);
    assert_eq!(check(&long), Err(FecError::TooLong(MAX_RTP_PACKET_LEN + 1)));
    // RTP padding on the repair packet is stripped, not XORed in.
    let mut padded = fec.clone();
    padded[0] |= 0x20;
    padded.extend_from_slice(&[0, 0, 3]);
    assert_eq!(
        FecPacket::parse(&padded).unwrap(),
        FecPacket::parse(&fec).unwrap()
    );
    let mut bad_pad = fec;
    bad_pad[0] |= 0x20;
    bad_pad.push(200);
    assert_eq!(
        check(&bad_pad),
        Err(FecError::Rtp(RtpError::BadPadding(200)))
    );
}

#[test]
fn lying_repair_packets_recover_nothing() {
    let (fec, packets) = valid(4);
    let deliver = |bytes: &[u8]| {
        let mut decoder = FecDecoder::new();
        for p in &packets[1..] {
            let _ = decoder.media(p);
        }
        let out = decoder.fec(bytes).unwrap();
        (out, decoder.stats())
    };
    let (out, stats) = deliver(&fec);
    assert_eq!(out, vec![packets[0].clone()]);
    assert_eq!(stats.recovery_failed, 0);

    // Length recovery pointing past the repair payload.
    let mut length = fec.clone();
    length[FEC_RTP_HEADER_LEN + 2] ^= 0x10;
    let (out, stats) = deliver(&length);
    assert!(out.is_empty());
    assert_eq!(stats.recovery_failed, 1);

    // Repair payload shorter than a present packet.
    let short = &fec[..fec.len() - 1];
    let (out, stats) = deliver(short);
    assert!(out.is_empty());
    assert_eq!(stats.recovery_failed, 1);

    // CC recovery claiming CSRCs the recovered bytes do not hold.
    let mut cc = fec;
    cc[FEC_RTP_HEADER_LEN] ^= 0x0f;
    let (out, stats) = deliver(&cc);
    assert!(out.is_empty());
    assert_eq!(stats.recovery_failed, 1);
}

#[test]
fn garbage_never_panics() {
    // A seeded xorshift: the same bytes every run.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (fec, _) = valid(30);
    let mut decoder = FecDecoder::new();
    for i in 0..20_000 {
        let len = (next() % 96) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if i % 2 == 0 {
            // Mostly valid framing so the FEC header gets exercised.
            bytes = fec.clone();
            for _ in 0..4 {
                let at = (next() as usize) % bytes.len();
                bytes[at] ^= next() as u8;
            }
            bytes.truncate(FEC_RTP_HEADER_LEN + (next() % 40) as usize);
        }
        let _ = check(&bytes);
        let _ = decoder.fec(&bytes);
        let _ = decoder.media(&bytes);
    }
    let stats = decoder.stats();
    assert!(stats.fec_malformed > 0);
    assert!(decoder.history_len() <= MAX_MEDIA_HISTORY);
    assert!(decoder.pending_len() <= MAX_PENDING_FEC);
}
