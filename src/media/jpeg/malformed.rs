//! Malformed input: every way a payload or a JPEG file can be wrong gives an
//! error, never a panic, and no input makes the assembler show frames out of
//! order or hold more than its bounds.

use super::tests::{fragments, XorShift, CJPEG_422, FFMPEG_420_LARGE, SENDABLE};
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
    assert_eq!(with(4, &[64]), Err(PayloadError::UnsupportedType(64)));
    assert_eq!(with(4, &[65]), Err(PayloadError::UnsupportedType(65)));
    assert_eq!(with(4, &[2]), Err(PayloadError::UnsupportedType(2)));
    assert_eq!(with(4, &[128]), Err(PayloadError::UnsupportedType(128)));
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
            p[4] = (i % 4 == 0) as u8;
            p[5] = [255, 75, 200][rng.below(3)];
            p[6] = 8;
            p[7] = 6;
            if rng.below(4) == 0 {
                p[3] = 0;
                if p.len() >= 12 {
                    p[8..12].copy_from_slice(&[0, 0, 0, 128]);
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
        let mut frags = fragments(jpeg, 141 + rng.below(1400));
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
    for jpeg in [CJPEG_422, FFMPEG_420_LARGE] {
        for cut in 0..jpeg.len() {
            assert!(JpegImage::parse(&jpeg[..cut]).is_err(), "cut at {cut}");
        }
    }
}

#[test]
fn mutated_and_random_jpegs_never_panic() {
    let mut rng = XorShift(0x0123_4567_89ab_cdef);
    for _ in 0..20_000 {
        let mut jpeg = CJPEG_422.to_vec();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(jpeg.len());
            jpeg[at] = rng.next() as u8;
        }
        if let Ok(image) = JpegImage::parse(&jpeg) {
            for f in image.fragments(141 + rng.below(500)).unwrap() {
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
