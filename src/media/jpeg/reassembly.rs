//! The assembler under loss, duplication, reordering, late frames,
//! timestamp wraparound and contradicting fragments, and its bounds.

use super::tests::{assert_same_image, feed, fragments, XorShift};
use super::tests::{CJPEG_420_LARGE, CJPEG_422, FFMPEG_420, FFMPEG_420_LARGE, SENDABLE};
use super::*;

#[test]
fn trailing_eoi_from_the_sender_is_not_doubled() {
    // A GStreamer-style sender keeps the EOI in the last fragment.
    let image = JpegImage::parse(FFMPEG_420).unwrap();
    let mut scan = image.scan().to_vec();
    scan.extend_from_slice(&[0xff, 0xd9]);
    let tables = image.tables().to_bytes();
    let p = Payload {
        header: MainHeader {
            type_specific: 0,
            fragment_offset: 0,
            subsampling: Subsampling::Yuv420,
            q: 255,
            width_blocks: 8,
            height_blocks: 6,
        },
        restart: None,
        quant_tables: Some(&tables),
        data: &scan,
    };
    let frame = FrameAssembler::new()
        .push(0, 0, true, &p.to_vec())
        .unwrap()
        .unwrap();
    assert!(!frame.jpeg.ends_with(&[0xff, 0xd9, 0xff, 0xd9]));
    assert_same_image(&frame.jpeg, FFMPEG_420);
}

#[test]
fn one_shared_table_as_ffmpeg_sends_it() {
    // ffmpeg's packetizer sends the single table its encoder wrote.
    let image = JpegImage::parse(FFMPEG_420_LARGE).unwrap();
    let mut frags = fragments(FFMPEG_420_LARGE, 1000);
    let mut first = Payload::parse(&frags[0].payload).unwrap();
    let luma = image.tables().luma;
    first.quant_tables = Some(&luma);
    frags[0].payload = first.to_vec();
    let out = feed(&mut FrameAssembler::new(), 0, &frags);
    assert_same_image(&out[0].jpeg, FFMPEG_420_LARGE);
}

/// Payloads of `jpeg` sent with a scaled Q instead of in-band tables.
fn with_scaled_q(jpeg: &[u8], q: u8, max_data: usize) -> Vec<Fragment> {
    let image = JpegImage::parse(jpeg).unwrap();
    let chunks: Vec<&[u8]> = image.scan().chunks(max_data).collect();
    chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let offset = i * max_data;
            let p = Payload {
                header: MainHeader {
                    type_specific: 0,
                    fragment_offset: offset as u32,
                    subsampling: image.subsampling(),
                    q,
                    width_blocks: (image.width() / 8) as u8,
                    height_blocks: (image.height() / 8) as u8,
                },
                restart: None,
                quant_tables: None,
                data: chunk,
            };
            Fragment {
                payload: p.to_vec(),
                marker: i + 1 == chunks.len(),
            }
        })
        .collect()
}

#[test]
fn scaled_q_rebuilds_the_libjpeg_tables() {
    let frags = with_scaled_q(CJPEG_420_LARGE, 75, 1000);
    let out = feed(&mut FrameAssembler::new(), 7, &frags);
    assert_same_image(&out[0].jpeg, CJPEG_420_LARGE);
}

#[test]
fn static_q_tables_are_remembered() {
    let image = JpegImage::parse(CJPEG_422).unwrap();
    let tables = image.tables().to_bytes();
    let payload = |quant: &[u8]| {
        Payload {
            header: MainHeader {
                type_specific: 0,
                fragment_offset: 0,
                subsampling: Subsampling::Yuv422,
                q: 200,
                width_blocks: 8,
                height_blocks: 6,
            },
            restart: None,
            quant_tables: Some(quant),
            data: image.scan(),
        }
        .to_vec()
    };
    let mut a = FrameAssembler::new();
    // Without tables first: nothing known for Q 200 yet.
    assert_eq!(
        a.push(0, 10, true, &payload(&[])),
        Err(Rejected::Malformed(PayloadError::UnknownQuantTables(200)))
    );
    let first = a.push(1, 20, true, &payload(&tables)).unwrap().unwrap();
    let second = a.push(2, 30, true, &payload(&[])).unwrap().unwrap();
    assert_eq!(first.jpeg, second.jpeg);
    assert_same_image(&second.jpeg, CJPEG_422);
    assert_eq!(a.stats().packets_malformed, 1);
}

#[test]
fn lost_fragment_drops_its_frame_and_the_next_frame_is_fine() {
    let frags = fragments(FFMPEG_420_LARGE, 1000);
    assert!(frags.len() >= 4);
    let mut a = FrameAssembler::new();
    for lost in [0, 3, frags.len() - 1] {
        let ts = 1000 * (lost as u32 + 1);
        let mut some = frags.clone();
        some.remove(lost);
        assert!(feed(&mut a, ts, &some).is_empty(), "lost fragment {lost}");
        let out = feed(&mut a, ts + 500, &frags);
        assert_eq!(out.len(), 1);
        assert_same_image(&out[0].jpeg, FFMPEG_420_LARGE);
        assert_eq!(a.pending_frames(), 0);
        // The lost fragment turning up now is late.
        let f = &frags[lost];
        assert_eq!(a.push(0, ts, f.marker, &f.payload), Err(Rejected::Late));
    }
    let s = a.stats();
    assert_eq!((s.frames_completed, s.frames_dropped_incomplete), (3, 3));
    assert_eq!(
        (s.packets_late, s.packets_malformed, s.packets_duplicate),
        (3, 0, 0)
    );
}

#[test]
fn shuffled_and_duplicated_fragments_make_the_same_frame() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for jpeg in SENDABLE {
        let frags = fragments(jpeg, 200);
        let straight = feed(&mut FrameAssembler::new(), 5, &frags);
        for round in 0..20 {
            let mut mixed = frags.clone();
            let dups = rng.below(frags.len()) + 1;
            for _ in 0..dups {
                mixed.push(frags[rng.below(frags.len())].clone());
            }
            rng.shuffle(&mut mixed);
            let mut a = FrameAssembler::new();
            let mut out = Vec::new();
            for (i, f) in mixed.iter().enumerate() {
                match a.push(i as u16, 5, f.marker, &f.payload) {
                    Ok(Some(frame)) => out.push(frame),
                    Ok(None) | Err(Rejected::Duplicate) | Err(Rejected::Late) => {}
                    Err(e) => panic!("round {round}: {e}"),
                }
            }
            assert_eq!(out, straight, "round {round}");
            let s = a.stats();
            // A duplicate before completion is a duplicate, after it is late.
            assert_eq!(s.packets_duplicate + s.packets_late, dups as u64);
            assert_eq!(s.packets_malformed, 0);
        }
    }
}

#[test]
fn overlapping_fragments_that_agree_are_merged() {
    // Fragments cut at two different sizes overlap everywhere.
    let image = JpegImage::parse(CJPEG_420_LARGE).unwrap();
    let mut mixed = with_scaled_q(CJPEG_420_LARGE, 75, 700);
    mixed.extend(with_scaled_q(CJPEG_420_LARGE, 75, 1100));
    XorShift(7).shuffle(&mut mixed);
    let out = feed(&mut FrameAssembler::new(), 3, &mixed);
    assert_eq!(out.len(), 1);
    assert_eq!(
        &out[0].jpeg[tables::HEADERS_LEN..out[0].jpeg.len() - 2],
        image.scan()
    );
}

#[test]
fn older_frame_after_a_newer_one_is_not_output() {
    let frags = fragments(CJPEG_422, 300);
    let mut a = FrameAssembler::new();
    assert_eq!(feed(&mut a, 6000, &frags).len(), 1);
    assert!(feed(&mut a, 3000, &frags).is_empty());
    assert!(
        feed(&mut a, 6000, &frags).is_empty(),
        "same timestamp again"
    );
    assert_eq!(feed(&mut a, 9000, &frags).len(), 1);
    let s = a.stats();
    assert_eq!(s.frames_completed, 2);
    assert_eq!(s.packets_late, 2 * frags.len() as u64);
}

#[test]
fn interleaved_frames_come_out_in_timestamp_order() {
    let frags = fragments(FFMPEG_420_LARGE, 1000);
    let (head, last) = frags.split_at(frags.len() - 1);
    let mut a = FrameAssembler::new();
    // Frame 2 arrives except its last fragment, then frame 1 whole, then
    // frame 2's last fragment: both are shown, 1 before 2.
    assert!(feed(&mut a, 2000, head).is_empty());
    assert_eq!(feed(&mut a, 1000, &frags).len(), 1);
    assert_eq!(a.pending_frames(), 1);
    let out = a.push(9, 2000, true, &last[0].payload).unwrap().unwrap();
    assert_eq!(out.timestamp, 2000);
    // But a newer frame finishing first drops the older incomplete one.
    assert!(feed(&mut a, 3000, head).is_empty());
    assert_eq!(feed(&mut a, 4000, &frags).len(), 1);
    assert_eq!(a.push(0, 3000, true, &last[0].payload), Err(Rejected::Late));
    let s = a.stats();
    assert_eq!((s.frames_completed, s.frames_dropped_incomplete), (3, 1));
}

#[test]
fn timestamps_wrap_around() {
    let frags = fragments(CJPEG_422, 500);
    let mut a = FrameAssembler::new();
    for ts in [0xffff_f000u32, 0xffff_ffff, 0, 0x1000] {
        assert_eq!(feed(&mut a, ts, &frags).len(), 1, "ts {ts:#x}");
    }
    assert!(feed(&mut a, 0xffff_f800, &frags).is_empty());
    assert_eq!(a.stats().frames_completed, 4);
}

#[test]
fn eviction_picks_the_oldest_frame_across_the_wrap() {
    let frags = fragments(CJPEG_422, 200);
    let head = &frags[..1];
    let mut a = FrameAssembler::new();
    for ts in [0x10u32, 0xffff_ff80, 0x20, 0xffff_ff00] {
        assert!(feed(&mut a, ts, head).is_empty());
    }
    assert!(feed(&mut a, 0x30, head).is_empty());
    assert_eq!(a.stats().frames_dropped_incomplete, 1);
    // 0xffff_ff00 went; 0xffff_ff80 is still there.
    assert_eq!(
        a.push(0, 0xffff_ff00, false, &head[0].payload),
        Err(Rejected::Late)
    );
    assert_eq!(
        a.push(0, 0xffff_ff80, false, &head[0].payload),
        Err(Rejected::Duplicate)
    );
}

#[test]
fn pending_frames_and_memory_stay_bounded() {
    let frags = fragments(FFMPEG_420_LARGE, 1000);
    let incomplete = &frags[..frags.len() - 1];
    let mut a = FrameAssembler::new();
    for n in 0..100u32 {
        assert!(feed(&mut a, 1000 + n * 3000, incomplete).is_empty());
        assert!(a.pending_frames() <= MAX_PENDING_FRAMES);
        assert!(a.pending_bytes() <= MAX_PENDING_FRAMES * MAX_FRAME_LEN);
    }
    assert_eq!(a.pending_frames(), MAX_PENDING_FRAMES);
    assert_eq!(
        a.stats().frames_dropped_incomplete,
        100 - MAX_PENDING_FRAMES as u64
    );
    // A fragment of the first, evicted frame is now late.
    assert_eq!(
        a.push(0, 1000, false, &frags[0].payload),
        Err(Rejected::Late)
    );
    // A frame older than every pending one cannot take a slot either.
    let oldest_pending = 1000 + (100 - MAX_PENDING_FRAMES as u32) * 3000;
    assert_eq!(
        a.push(0, oldest_pending - 1, false, &frags[0].payload),
        Err(Rejected::Late)
    );
    // A complete newer frame comes out and takes the pending ones with it.
    assert_eq!(feed(&mut a, 1_000_000, &frags).len(), 1);
    let s = a.stats();
    assert_eq!((s.frames_completed, s.frames_dropped_incomplete), (1, 100));
    assert_eq!((a.pending_frames(), a.pending_bytes()), (0, 0));
}

#[test]
fn a_far_fragment_cannot_exceed_the_frame_limit() {
    let image = JpegImage::parse(FFMPEG_420).unwrap();
    let mut bytes = Payload {
        header: MainHeader {
            type_specific: 0,
            fragment_offset: (MAX_FRAME_LEN - 1) as u32,
            subsampling: image.subsampling(),
            q: 255,
            width_blocks: 8,
            height_blocks: 6,
        },
        restart: None,
        quant_tables: None,
        data: &[1, 2],
    }
    .to_vec();
    let mut a = FrameAssembler::new();
    assert_eq!(
        a.push(0, 0, true, &bytes),
        Err(Rejected::Malformed(PayloadError::FrameTooLarge))
    );
    bytes.pop();
    assert_eq!(a.push(0, 0, true, &bytes), Ok(None));
    assert_eq!(a.pending_bytes(), MAX_FRAME_LEN);
}

#[test]
fn fragments_that_contradict_their_frame_are_refused() {
    let frags = fragments(FFMPEG_420_LARGE, 1000);
    let inconsistent = Err(Rejected::Malformed(PayloadError::Inconsistent));
    let mut a = FrameAssembler::new();
    assert_eq!(a.push(0, 1, false, &frags[0].payload), Ok(None));

    // Same offset, different bytes.
    let mut changed = frags[0].payload.clone();
    *changed.last_mut().unwrap() ^= 1;
    assert_eq!(a.push(1, 1, false, &changed), inconsistent);
    // A different size for the same timestamp.
    let mut wider = frags[1].payload.clone();
    wider[6] += 1;
    assert_eq!(a.push(1, 1, false, &wider), inconsistent);
    // Different tables in a second copy of the first fragment.
    let mut other_tables = frags[0].payload.clone();
    other_tables[20] ^= 1;
    assert_eq!(a.push(1, 1, false, &other_tables), inconsistent);
    // The marker packet, then data past the end it sets.
    let last = frags.last().unwrap();
    assert_eq!(a.push(5, 1, true, &last.payload), Ok(None));
    let mut past_end = last.payload.clone();
    past_end.push(0);
    assert_eq!(a.push(6, 1, false, &past_end), inconsistent);
    // A second marker packet ending elsewhere.
    assert_eq!(a.push(6, 1, true, &frags[1].payload), inconsistent);
    // Nothing above changed the frame: the rest completes it as it was.
    let out = feed(&mut a, 1, &frags[1..frags.len() - 1]);
    assert_eq!(out.len(), 1);
    assert_same_image(&out[0].jpeg, FFMPEG_420_LARGE);
    assert_eq!(a.stats().packets_malformed, 5);
}

#[test]
fn marker_packet_before_data_past_it_is_refused() {
    let frags = fragments(FFMPEG_420_LARGE, 1000);
    let mut a = FrameAssembler::new();
    let last = frags.len() - 1;
    assert_eq!(a.push(0, 1, false, &frags[last].payload), Ok(None));
    // A marker on an earlier fragment would end the frame before data held.
    assert_eq!(
        a.push(1, 1, true, &frags[1].payload),
        Err(Rejected::Malformed(PayloadError::Inconsistent))
    );
}

#[test]
fn too_many_pieces_are_refused() {
    let image = JpegImage::parse(FFMPEG_420).unwrap();
    let piece = |offset: u32| {
        Payload {
            header: MainHeader {
                type_specific: 0,
                fragment_offset: offset,
                subsampling: image.subsampling(),
                q: 255,
                width_blocks: 8,
                height_blocks: 6,
            },
            restart: None,
            quant_tables: None,
            data: &[7],
        }
        .to_vec()
    };
    let mut a = FrameAssembler::new();
    for i in 0..MAX_RUNS_PER_FRAME as u32 {
        assert_eq!(a.push(0, 0, false, &piece(1 + 2 * i)), Ok(None));
    }
    let next = piece(1 + 2 * MAX_RUNS_PER_FRAME as u32);
    assert_eq!(
        a.push(0, 0, false, &next),
        Err(Rejected::Malformed(PayloadError::TooFragmented))
    );
    // Filling a gap merges pieces, so it is still taken.
    assert_eq!(a.push(0, 0, false, &piece(2)), Ok(None));
}

#[test]
fn reset_forgets_the_stream() {
    let frags = fragments(CJPEG_422, 300);
    let mut a = FrameAssembler::new();
    assert_eq!(feed(&mut a, 50_000, &frags).len(), 1);
    feed(&mut a, 60_000, &frags[..1]);
    a.reset();
    assert_eq!(a.pending_frames(), 0);
    assert_eq!(a.stats().frames_dropped_incomplete, 1);
    // A new sender starting at an "older" timestamp is shown.
    assert_eq!(feed(&mut a, 10, &frags).len(), 1);
}
