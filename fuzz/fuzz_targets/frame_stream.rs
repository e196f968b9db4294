//! Any byte stream cut into arbitrary chunks and fed to the frame reader: no
//! panic, and the reader never holds more than a frame's worth of bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peercall::wire::{FrameReader, Message, MAX_FRAME_LEN};

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    let mut r = FrameReader::new();
    for piece in stream.chunks(chunk) {
        r.push(piece);
        loop {
            match r.next_frame() {
                Ok(Some(f)) => {
                    let _ = Message::parse(&f);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(r.buffered() < MAX_FRAME_LEN);
    }
});
