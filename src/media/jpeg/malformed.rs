//! Malformed input: every way a payload or a JPEG file can be wrong gives an
//! error, never a panic, and no input makes the assembler show frames out of
//! order or hold more than its bounds.

use super::tests::FFMPEG_420_LARGE;
use super::tests::{assert_same_image, feed, fragments, XorShift, SENDABLE};
use super::tests::{CJPEG_420_LARGE, CJPEG_420_RESTART, CJPEG_422, CJPEG_422_RESTART};
use super::*;

fn first_payload() -> Vec<u8> {
    fragments(CJPEG_422, 300).remove(0).payload
}

#[test]
fn every_truncation_of_a_payload() {
    let good = first_payload();
    let headers = MAIN_HEADER_LEN + QUANT_HEADER_LEN + QUANT_TABLES_LEN;
    for cut in 0..good.len() {
        let parsed = Payload::parse(&good[..cut]);
        if cut < headers {
            assert_eq!(parsed, Err(PayloadError::Truncated), "cut at {cut}");
        } else {
            assert_eq!(parsed.map(|p| p.data.len()), Ok(cut - headers));
        }
        let mut a = FrameAssembler::new();
        let pushed = a.push(0, 0, true, &good[..cut]);
        if cut <= headers {
            assert!(
                matches!(pushed, Err(Rejected::Malformed(_))),
                "cut at {cut}"
            );
        }
        assert!(a.pending_frames() <= 1);
    }
    // A later fragment needs only the main header.
    let later = fragments(CJPEG_422, 300).remove(1).payload;
    for cut in 0..MAIN_HEADER_LEN {
        assert_eq!(Payload::parse(&later[..cut]), Err(PayloadError::Truncated));
    }
}

#[test]
fn header_fields_out_of_range() {
    let good = first_payload();
    let with = |at: usize, v: &[u8]| {
        let mut p = good.clone();
        p[at..at + v.len()].copy_from_slice(v);
        Payload::parse(&p).map(|_| ())
    };
    for t in [2, 63, 66, 127, 128, 255] {
        assert_eq!(with(4, &[t]), Err(PayloadError::UnsupportedType(t)));
    }
    // Type 64 reads a restart marker header where this payload has its
    // quantization table header, whose first two bytes are 0.
    assert_eq!(with(4, &[64]), Err(PayloadError::ZeroRestartInterval));
    for q in [0, 100, 127] {
        assert_eq!(with(5, &[q]), Err(PayloadError::ReservedQ(q)));
    }
    assert_eq!(with(6, &[0]), Err(PayloadError::ZeroDimension));
    assert_eq!(with(7, &[0]), Err(PayloadError::ZeroDimension));
    assert_eq!(with(9, &[1]), Err(PayloadError::WideQuantTables));
    assert_eq!(with(9, &[2]), Err(PayloadError::WideQuantTables));
    // Precision bits beyond the two tables in use are ignored, as is MBZ.
    assert_eq!(with(9, &[4]), Ok(()));
    assert_eq!(with(8, &[9]), Ok(()));
    assert_eq!(with(10, &[0, 63]), Err(PayloadError::BadQuantLength(63)));
    assert_eq!(with(10, &[0, 65]), Err(PayloadError::BadQuantLength(65)));
    // One table for all components, as ffmpeg sends; only its precision bit
    // counts.
    assert_eq!(with(10, &[0, 64]), Ok(()));
    let mut one_table = good.clone();
    one_table[9..12].copy_from_slice(&[2, 0, 64]);
    assert!(Payload::parse(&one_table).is_ok());
    assert_eq!(with(10, &[0, 129]), Err(PayloadError::BadQuantLength(129)));
    assert_eq!(with(10, &[0xff, 0xff]), Err(PayloadError::Truncated));
    assert_eq!(with(10, &[0, 0]), Err(PayloadError::MissingQuantTables));

    let mut a = FrameAssembler::new();
    let only_headers = &good[..MAIN_HEADER_LEN + QUANT_HEADER_LEN + QUANT_TABLES_LEN];
    assert_eq!(
        a.push(0, 0, true, only_headers),
        Err(Rejected::Malformed(PayloadError::NoData))
    );
    assert_eq!(a.stats().packets_malformed, 1);
    assert_eq!(a.pending_frames(), 0);
}

#[test]
fn restart_marker_header_errors() {
    let frags = fragments(CJPEG_420_RESTART, 1000);
    let first = &frags[0].payload;
    let later = &frags[1].payload;
    // Truncated inside the restart marker header, or after it inside the
    // quantization table header that follows it in the first payload.
    let headers = MAIN_HEADER_LEN + RESTART_HEADER_LEN + QUANT_HEADER_LEN + QUANT_TABLES_LEN;
    for cut in 0..=headers {
        let parsed = Payload::parse(&first[..cut]).map(|p| p.data.len());
        let expected = if cut < headers {
            Err(PayloadError::Truncated)
        } else {
            Ok(0)
        };
        assert_eq!(parsed, expected, "cut at {cut}");
    }
    for cut in 0..MAIN_HEADER_LEN + RESTART_HEADER_LEN {
        assert_eq!(Payload::parse(&later[..cut]), Err(PayloadError::Truncated));
    }
    assert!(Payload::parse(&later[..MAIN_HEADER_LEN + RESTART_HEADER_LEN]).is_ok());

    let with = |payload: &[u8], at: usize, v: &[u8]| {
        let mut p = payload.to_vec();
        p[at..at + v.len()].copy_from_slice(v);
        p
    };
    assert_eq!(
        Payload::parse(&with(later, 8, &[0, 0])),
        Err(PayloadError::ZeroRestartInterval)
    );
    assert_eq!(
        Payload::parse(&with(later, 4, &[66])),
        Err(PayloadError::UnsupportedType(66))
    );

    let inconsistent = Err(Rejected::Malformed(PayloadError::Inconsistent));
    let mut a = FrameAssembler::new();
    assert_eq!(a.push(0, 7, false, first), Ok(None));
    // A different interval in a later packet of the frame (20 -> 21).
    assert_eq!(a.push(1, 7, false, &with(later, 9, &[21])), inconsistent);
    // A packet of the frame without a restart marker header: type 1 instead
    // of 65, the header left out.
    let mut no_restart = with(later, 4, &[1]);
    no_restart.drain(8..12);
    assert!(Payload::parse(&no_restart).is_ok());
    assert_eq!(a.push(2, 7, false, &no_restart), inconsistent);
    // The other way round: a frame begun as type 1, then a type 65 packet.
    let plain = fragments(CJPEG_420_LARGE, 1000);
    assert_eq!(a.push(3, 8, false, &plain[0].payload), Ok(None));
    assert_eq!(a.push(4, 8, false, later), inconsistent);
    assert_eq!(
        a.push(5, 9, false, &with(later, 4, &[66])).map(|_| ()),
        Err(Rejected::Malformed(PayloadError::UnsupportedType(66)))
    );
    assert_eq!(a.stats().packets_malformed, 4);
    // F, L and the count may differ between packets (a sender cutting at
    // restart markers sets them per chunk); only the interval must agree.
    let chunked: Vec<Fragment> = frags
        .iter()
        .enumerate()
        .map(|(i, f)| Fragment {
            payload: with(&f.payload, 10, &[(i == 0) as u8 * 0x80, i as u8]),
            marker: f.marker,
        })
        .collect();
    assert_eq!(
        Payload::parse(&chunked[0].payload).unwrap().restart,
        Some(RestartHeader {
            interval: 20,
            first: true,
            last: false,
            count: 0,
        })
    );
    let out = feed(&mut a, 10, &chunked);
    assert_eq!(out.len(), 1);
    assert_same_image(&out[0].jpeg, CJPEG_420_RESTART);
}

/// Pushes `payload` and checks the invariants that must hold after any input.
fn push_checked(
    a: &mut FrameAssembler,
    last: &mut Option<u32>,
    seq: u16,
    ts: u32,
    m: bool,
    payload: &[u8],
) {
    if let Ok(Some(frame)) = a.push(seq, ts, m, payload) {
        if let Some(prev) = *last {
            assert!(
                frame.timestamp != prev && frame.timestamp.wrapping_sub(prev) < 1 << 31,
                "frame {:#x} shown after {prev:#x}",
                frame.timestamp
            );
        }
        *last = Some(frame.timestamp);
        assert!(frame.jpeg.starts_with(&[0xff, 0xd8]) && frame.jpeg.ends_with(&[0xff, 0xd9]));
    }
    assert!(a.pending_frames() <= MAX_PENDING_FRAMES);
    assert!(a.pending_bytes() <= MAX_PENDING_FRAMES * MAX_FRAME_LEN);
}

#[test]
fn random_payloads_never_panic() {
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut a = FrameAssembler::new();
    let mut last = None;
    for i in 0..50_000u32 {
        let len = rng.below(300);
        let mut p: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Bias towards headers that parse, so the assembler is reached.
        if i % 2 == 0 && p.len() >= MAIN_HEADER_LEN {
            p[0] = 0;
            p[1] = 0;
            p[2] = (rng.below(4)) as u8;
            p[4] = [0, 1, 64, 65][rng.below(4)];
            p[5] = [255, 75, 200][rng.below(3)];
            p[6] = 8;
            p[7] = 6;
            // Past the restart marker header, if any.
            let quant_at = if p[4] >= 64 {
                if p.len() >= 10 {
                    p[8..10].copy_from_slice(&[0, 1 + rng.below(2) as u8]);
                }
                12
            } else {
                8
            };
            if rng.below(4) == 0 {
                p[3] = 0;
                if let Some(q) = p.get_mut(quant_at..quant_at + 4) {
                    q.copy_from_slice(&[0, 0, 0, 128]);
                }
            }
        }
        let _ = Payload::parse(&p);
        let ts = (rng.below(8) as u32).wrapping_mul(0x2000_0000);
        push_checked(&mut a, &mut last, i as u16, ts, rng.below(3) == 0, &p);
    }
}

#[test]
fn mutated_fragments_never_panic_or_reorder_frames() {
    let mut rng = XorShift(0xdead_beef_cafe_f00d);
    let mut a = FrameAssembler::new();
    let mut last = None;
    for round in 0..300u32 {
        let jpeg = SENDABLE[rng.below(SENDABLE.len())];
        let mut frags = fragments(jpeg, MIN_PAYLOAD_LIMIT + rng.below(1400));
        for f in &mut frags {
            if rng.below(3) == 0 && !f.payload.is_empty() {
                let at = rng.below(f.payload.len());
                f.payload[at] ^= 1 << rng.below(8);
            }
            if rng.below(10) == 0 {
                f.marker = !f.marker;
            }
            if rng.below(20) == 0 {
                let cut = rng.below(f.payload.len() + 1);
                f.payload.truncate(cut);
            }
        }
        rng.shuffle(&mut frags);
        // Timestamps mostly move forward, sometimes back, across the wrap.
        let ts = (round * 3000)
            .wrapping_add(0xffff_0000)
            .wrapping_sub(rng.below(2) as u32 * 9000);
        for (i, f) in frags.iter().enumerate() {
            push_checked(&mut a, &mut last, i as u16, ts, f.marker, &f.payload);
        }
    }
    let s = a.stats();
    assert!(s.frames_completed > 0 && s.packets_malformed > 0);
}

#[test]
fn every_truncation_of_a_jpeg_is_refused() {
    for jpeg in [CJPEG_422, FFMPEG_420_LARGE, CJPEG_422_RESTART] {
        for cut in 0..jpeg.len() {
            assert!(JpegImage::parse(&jpeg[..cut]).is_err(), "cut at {cut}");
        }
    }
}

#[test]
fn mutated_and_random_jpegs_never_panic() {
    let mut rng = XorShift(0x0123_4567_89ab_cdef);
    for i in 0..20_000 {
        let mut jpeg = [CJPEG_422, CJPEG_422_RESTART][i % 2].to_vec();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(jpeg.len());
            jpeg[at] = rng.next() as u8;
        }
        if let Ok(image) = JpegImage::parse(&jpeg) {
            for f in image.fragments(MIN_PAYLOAD_LIMIT + rng.below(500)).unwrap() {
                assert!(Payload::parse(&f.payload).is_ok());
            }
        }
    }
    for _ in 0..20_000 {
        let len = rng.below(200);
        let mut jpeg: Vec<u8> = vec![0xff, 0xd8];
        jpeg.extend((0..len).map(|_| match rng.below(4) {
            0 => 0xff,
            _ => rng.next() as u8,
        }));
        let _ = JpegImage::parse(&jpeg);
    }
}
