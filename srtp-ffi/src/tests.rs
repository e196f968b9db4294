//! Known answers from libsrtp2's own validation (srtp_driver.c's
//! srtp_validate and srtp_validate_gcm: SSRC 0xcafebabe, sequence 0x1234),
//! then the refusals a receiver must make.

use super::*;

const CM_MASTER: [u8; 30] = [
    0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0, 0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41, 0x39,
    0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6,
];
const GCM_MASTER: [u8; 28] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab,
];
const RTP: [u8; 28] = [
    0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0xab, 0xab, 0xab, 0xab,
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
];
const RTCP: [u8; 24] = [
    0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
];
const CM_SRTP: [u8; 38] = [
    0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0x4e, 0x55, 0xdc, 0x4c,
    0xe7, 0x99, 0x78, 0xd8, 0x8c, 0xa4, 0xd2, 0x15, 0x94, 0x9d, 0x24, 0x02, 0xb7, 0x8d, 0x6a, 0xcc,
    0x99, 0xea, 0x17, 0x9b, 0x8d, 0xbb,
];
const CM_SRTCP: [u8; 38] = [
    0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe, 0x71, 0x28, 0x03, 0x5b, 0xe4, 0x87, 0xb9, 0xbd,
    0xbe, 0xf8, 0x90, 0x41, 0xf9, 0x77, 0xa5, 0xa8, 0x80, 0x00, 0x00, 0x01, 0x99, 0x3e, 0x08, 0xcd,
    0x54, 0xd6, 0xc1, 0x23, 0x07, 0x98,
];
const GCM_SRTP: [u8; 44] = [
    0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0xc5, 0x00, 0x2e, 0xde,
    0x04, 0xcf, 0xdd, 0x2e, 0xb9, 0x11, 0x59, 0xe0, 0x88, 0x0a, 0xa0, 0x6e, 0xd2, 0x97, 0x68, 0x26,
    0xf7, 0x96, 0xb2, 0x01, 0xdf, 0x31, 0x31, 0xa1, 0x27, 0xe8, 0xa3, 0x92,
];
const GCM_SRTCP: [u8; 44] = [
    0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe, 0xc9, 0x8b, 0x8b, 0x5d, 0xf0, 0x39, 0x2a, 0x55,
    0x85, 0x2b, 0x6c, 0x21, 0xac, 0x8e, 0x70, 0x25, 0xc5, 0x2c, 0x6f, 0xbe, 0xa2, 0xb3, 0xb4, 0x46,
    0xea, 0x31, 0x12, 0x3b, 0xa8, 0x8c, 0xe6, 0x1e, 0x80, 0x00, 0x00, 0x01,
];

fn known_answers(profile: Profile, master: &[u8], srtp: &[u8], srtcp: &[u8]) {
    let mut tx = Sender::new(profile, master).unwrap();
    assert_eq!(tx.protect_rtp(&RTP).unwrap(), srtp);
    assert_eq!(tx.protect_rtcp(&RTCP).unwrap(), srtcp);
    let mut rx = Receiver::new(profile, master).unwrap();
    assert_eq!(rx.unprotect_rtp(srtp).unwrap(), RTP);
    assert_eq!(rx.unprotect_rtcp(srtcp).unwrap(), RTCP);
}

#[test]
fn aes_cm_hmac_sha1_80_gives_libsrtp2s_known_answers() {
    known_answers(
        Profile::AesCm128HmacSha1_80,
        &CM_MASTER,
        &CM_SRTP,
        &CM_SRTCP,
    );
}

#[test]
fn aead_aes_128_gcm_gives_libsrtp2s_known_answers() {
    known_answers(Profile::AeadAes128Gcm, &GCM_MASTER, &GCM_SRTP, &GCM_SRTCP);
}

#[test]
fn replays_are_refused() {
    for (profile, master, srtp, srtcp) in [
        (
            Profile::AesCm128HmacSha1_80,
            &CM_MASTER[..],
            &CM_SRTP[..],
            &CM_SRTCP[..],
        ),
        (
            Profile::AeadAes128Gcm,
            &GCM_MASTER[..],
            &GCM_SRTP[..],
            &GCM_SRTCP[..],
        ),
    ] {
        let mut rx = Receiver::new(profile, master).unwrap();
        assert!(rx.unprotect_rtp(srtp).is_ok());
        assert_eq!(rx.unprotect_rtp(srtp), Err(Error::Replay));
        assert!(rx.unprotect_rtcp(srtcp).is_ok());
        assert_eq!(rx.unprotect_rtcp(srtcp), Err(Error::Replay));
    }
}

#[test]
fn every_flipped_bit_and_a_wrong_key_fail_authentication() {
    for (profile, master, srtp, srtcp) in [
        (
            Profile::AesCm128HmacSha1_80,
            &CM_MASTER[..],
            &CM_SRTP[..],
            &CM_SRTCP[..],
        ),
        (
            Profile::AeadAes128Gcm,
            &GCM_MASTER[..],
            &GCM_SRTP[..],
            &GCM_SRTCP[..],
        ),
    ] {
        // Past the SSRC (a changed SSRC is another stream, still refused,
        // but libsrtp2 then tries a new stream from the template).
        for bit in 12 * 8..srtp.len() * 8 {
            let mut rx = Receiver::new(profile, master).unwrap();
            let mut bad = srtp.to_vec();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(rx.unprotect_rtp(&bad).is_err(), "bit {bit} of {profile:?}");
        }
        for bit in 0..srtcp.len() * 8 {
            let mut rx = Receiver::new(profile, master).unwrap();
            let mut bad = srtcp.to_vec();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(
                rx.unprotect_rtcp(&bad).is_err(),
                "RTCP bit {bit} of {profile:?}"
            );
        }
        let mut wrong = master.to_vec();
        wrong[0] ^= 1;
        let mut rx = Receiver::new(profile, &wrong).unwrap();
        assert_eq!(rx.unprotect_rtp(srtp), Err(Error::Auth));
        assert_eq!(rx.unprotect_rtcp(srtcp), Err(Error::Auth));
        // Plain RTP is no SRTP.
        let mut rx = Receiver::new(profile, master).unwrap();
        assert!(rx.unprotect_rtp(&RTP).is_err());
    }
}

#[test]
fn short_and_oversized_packets_and_bad_keys_are_refused() {
    let mut rx = Receiver::new(Profile::AeadAes128Gcm, &GCM_MASTER).unwrap();
    for len in 0..RTP_HEADER_LEN {
        assert_eq!(rx.unprotect_rtp(&GCM_SRTP[..len]), Err(Error::Malformed));
    }
    for len in 0..GCM_SRTP.len() {
        assert!(rx.unprotect_rtp(&GCM_SRTP[..len]).is_err(), "{len} bytes");
    }
    for len in 0..GCM_SRTCP.len() {
        assert!(rx.unprotect_rtcp(&GCM_SRTCP[..len]).is_err(), "{len} bytes");
    }
    assert_eq!(
        rx.unprotect_rtp(&vec![0x80; MAX_PACKET_LEN + 1]),
        Err(Error::Malformed)
    );
    assert_eq!(
        Sender::new(Profile::AeadAes128Gcm, &CM_MASTER).err(),
        Some(Error::KeyLength)
    );
    assert_eq!(
        Receiver::new(Profile::AesCm128HmacSha1_80, &GCM_MASTER).err(),
        Some(Error::KeyLength)
    );
}

#[test]
fn a_large_packet_round_trips_and_contexts_work_from_other_threads() {
    let mut tx = Sender::new(Profile::AeadAes128Gcm, &GCM_MASTER).unwrap();
    let mut rtp = vec![0u8; 1400];
    rtp[..12].copy_from_slice(&RTP[..12]);
    for (i, b) in rtp[12..].iter_mut().enumerate() {
        *b = i as u8;
    }
    let srtp = tx.protect_rtp(&rtp).unwrap();
    assert_eq!(srtp.len(), rtp.len() + 16);
    let handle = std::thread::spawn(move || {
        let mut rx = Receiver::new(Profile::AeadAes128Gcm, &GCM_MASTER).unwrap();
        rx.unprotect_rtp(&srtp).unwrap()
    });
    assert_eq!(handle.join().unwrap(), rtp);
}
