//! Arbitrary RTP/JPEG payloads: the payload parser round-trips what it
//! accepts, and the frame assembler fed a stream of arbitrary payloads never
//! panics and stays within its bounds. The same bytes read as a JPEG file:
//! whatever the packetizer takes (restart markers included) comes out of the
//! assembler as a file with the same scan, tables and restart interval.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peercall::media::jpeg::{
    FrameAssembler, JpegImage, Payload, MAX_FRAME_LEN, MAX_PENDING_FRAMES, MIN_PAYLOAD_LIMIT,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Payload::parse(data) {
        let bytes = p.to_vec();
        let again = Payload::parse(&bytes).expect("emitted payload parses");
        assert_eq!(again.to_vec(), bytes);
    }
    // Scans past MAX_FRAME_LEN are sendable but refused by the assembler.
    let sendable = JpegImage::parse(data).ok();
    if let Some(image) = sendable.filter(|i| i.scan().len() <= MAX_FRAME_LEN) {
        let max = MIN_PAYLOAD_LIMIT + data.len() % 512;
        let mut asm = FrameAssembler::new();
        let mut frame = None;
        for (seq, f) in image.fragments(max).expect("limit fits").enumerate() {
            frame = asm
                .push(seq as u16, 0, f.marker, &f.payload)
                .expect("own payloads are accepted");
        }
        let frame = frame.expect("last fragment completes the frame");
        let rebuilt = JpegImage::parse(&frame.jpeg).expect("rebuilt JPEG parses");
        assert_eq!(rebuilt.scan(), image.scan());
        assert_eq!(rebuilt.tables(), image.tables());
        assert_eq!(rebuilt.restart_interval(), image.restart_interval());
        assert_eq!(
            (rebuilt.width(), rebuilt.height(), rebuilt.subsampling()),
            (image.width(), image.height(), image.subsampling())
        );
    }
    // Cut the input into packets: 2 length bytes, 1 flags byte, then the payload.
    let mut asm = FrameAssembler::new();
    let mut rest = data;
    let mut seq: u16 = 0;
    while rest.len() >= 3 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]])) % 2048;
        let flags = rest[2];
        rest = &rest[3..];
        let take = len.min(rest.len());
        let (payload, tail) = rest.split_at(take);
        rest = tail;
        let ts = u32::from(flags >> 1) * 3000;
        let _ = asm.push(seq, ts, flags & 1 == 1, payload);
        seq = seq.wrapping_add(1);
        assert!(asm.pending_frames() <= MAX_PENDING_FRAMES);
        assert!(asm.pending_bytes() <= MAX_PENDING_FRAMES * MAX_FRAME_LEN);
    }
});
