//! Arbitrary RTP/JPEG payloads: the payload parser round-trips what it
//! accepts, and the frame assembler fed a stream of arbitrary payloads never
//! panics and stays within its bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peercall::media::jpeg::{FrameAssembler, Payload, MAX_FRAME_LEN, MAX_PENDING_FRAMES};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Payload::parse(data) {
        let bytes = p.to_vec();
        let again = Payload::parse(&bytes).expect("emitted payload parses");
        assert_eq!(again.to_vec(), bytes);
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
