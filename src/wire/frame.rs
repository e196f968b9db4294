//! The frame every peercall control message travels in, and cutting a byte
//! stream (TCP) into frames.
//!
//! ```text
//!  0      2         3        4          6
//! +------+---------+--------+----------+----------------------+
//! | "PC" | version | type   | length   | payload (length B)   |
//! | 2 B  | 1 B     | 1 B    | u16 BE   | <= MAX_PAYLOAD_LEN   |
//! +------+---------+--------+----------+----------------------+
//! ```
//! The magic and version come first so that a stray client (an HTTP request, a
//! port scanner) is recognised after two bytes, before any length is trusted.

use super::WireError;
use byteorder::{BigEndian, ByteOrder};

/// The two bytes every frame starts with: ASCII "PC".
pub const MAGIC: [u8; 2] = *b"PC";
/// The protocol version this code speaks. Version 2 binds names to keys and
/// runs call signalling inside a Noise handshake; version 1 had neither.
pub const VERSION: u8 = 2;
/// Size of the fixed frame header.
pub const HEADER_LEN: usize = 6;
/// Largest payload a frame may carry; larger length fields are refused unread.
pub const MAX_PAYLOAD_LEN: usize = 8 * 1024;
/// Largest whole frame, header included.
pub const MAX_FRAME_LEN: usize = HEADER_LEN + MAX_PAYLOAD_LEN;
/// Bytes that may wait to be written to one connection (registry or peer)
/// before its other end counts as not reading and the connection is closed
/// rather than let the queue grow. Control messages are small, so this is
/// generous: nearly eight of the largest frames.
pub const MAX_OUTBOUND_BYTES: usize = 64 * 1024;

mod field {
    use std::ops::Range;
    pub const MAGIC: Range<usize> = 0..2;
    pub const VERSION: usize = 2;
    pub const TYPE: usize = 3;
    pub const LENGTH: Range<usize> = 4..6;
}

/// A checked view of one frame: once [`Frame::new_checked`] succeeds, no
/// accessor can read out of bounds.
#[derive(Debug, Clone)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps `buffer`, which must hold exactly one whole frame.
    pub fn new_checked(buffer: T) -> Result<Frame<T>, WireError> {
        let b = buffer.as_ref();
        match frame_len(b)? {
            Some(n) if n == b.len() => Ok(Frame { buffer }),
            Some(n) => Err(WireError::TrailingBytes(b.len() - n)),
            None => Err(WireError::Truncated),
        }
    }

    /// The message type code.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    /// The payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

/// Looks at the start of a byte stream: `Ok(Some(n))` when a whole frame of `n`
/// bytes is there, `Ok(None)` when more bytes are needed, and an error as soon
/// as the bytes seen cannot start a valid frame.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, WireError> {
    // Check the magic byte by byte so garbage is refused at the first wrong byte.
    for (i, &m) in MAGIC.iter().enumerate() {
        match buf.get(i) {
            None => return Ok(None),
            Some(&b) if b != m => return Err(WireError::BadMagic),
            Some(_) => {}
        }
    }
    match buf.get(field::VERSION) {
        None => return Ok(None),
        Some(&v) if v != VERSION => return Err(WireError::UnsupportedVersion(v)),
        Some(_) => {}
    }
    let Some(len_bytes) = buf.get(field::LENGTH) else {
        return Ok(None);
    };
    let len = usize::from(BigEndian::read_u16(len_bytes));
    if len > MAX_PAYLOAD_LEN {
        return Err(WireError::TooLong(len));
    }
    let total = HEADER_LEN + len;
    Ok((buf.len() >= total).then_some(total))
}

/// Writes a frame header for a payload of `payload_len` bytes into `buf[..HEADER_LEN]`.
pub(crate) fn emit_header(buf: &mut [u8], msg_type: u8, payload_len: usize) {
    debug_assert!(payload_len <= MAX_PAYLOAD_LEN);
    buf[field::MAGIC].copy_from_slice(&MAGIC);
    buf[field::VERSION] = VERSION;
    buf[field::TYPE] = msg_type;
    BigEndian::write_u16(&mut buf[field::LENGTH], payload_len as u16);
}

/// A bounded accumulator for one connection's incoming bytes: feed it what the
/// socket gave, take whole frames out. It never holds more than one frame's
/// worth of bytes beyond what was taken, because callers drain it after each push.
#[derive(Debug, Default)]
pub struct FrameReader {
    buf: Vec<u8>,
    start: usize,
}

impl FrameReader {
    /// An empty reader; allocates nothing until bytes arrive.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole frame, if one is buffered. After an error the stream is
    /// unusable (framing is lost) and the connection should be closed.
    pub fn next_frame(&mut self) -> Result<Option<Frame<&[u8]>>, WireError> {
        let pending = &self.buf[self.start..];
        match frame_len(pending)? {
            Some(n) => {
                let at = self.start;
                self.start += n;
                Ok(Some(Frame {
                    buffer: &self.buf[at..at + n],
                }))
            }
            None => {
                // Keep the buffer from creeping: move the partial frame to the front.
                if self.start > 0 {
                    self.buf.drain(..self.start);
                    self.start = 0;
                }
                Ok(None)
            }
        }
    }

    /// Bytes held that do not yet form a whole frame (at most [`MAX_FRAME_LEN`] - 1
    /// once [`FrameReader::next_frame`] has returned `Ok(None)`).
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Frees the buffer when it is empty, so idle connections hold no memory.
    pub fn shrink(&mut self) {
        if self.buffered() == 0 {
            self.buf = Vec::new();
            self.start = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_more_until_whole() {
        let frame = [b'P', b'C', VERSION, 0x70, 0, 2, 9, 9];
        for cut in 0..frame.len() {
            assert_eq!(frame_len(&frame[..cut]), Ok(None), "cut {cut}");
        }
        assert_eq!(frame_len(&frame), Ok(Some(8)));
    }

    #[test]
    fn garbage_is_refused_at_the_first_byte() {
        assert_eq!(frame_len(b"G"), Err(WireError::BadMagic));
        assert_eq!(frame_len(b"PX"), Err(WireError::BadMagic));
        assert_eq!(
            frame_len(&[b'P', b'C', 9]),
            Err(WireError::UnsupportedVersion(9))
        );
        assert_eq!(
            frame_len(&[b'P', b'C', VERSION, 1, 0xff, 0xff]),
            Err(WireError::TooLong(0xffff))
        );
    }

    #[test]
    fn reader_holds_at_most_a_partial_frame_after_draining() {
        let frame = [b'P', b'C', VERSION, 0x70, 0, 1, 7];
        let mut r = FrameReader::new();
        for round in 0..1000 {
            // Push one and a half frames, drain, repeat: the buffer must not grow.
            r.push(&frame);
            r.push(&frame[..3]);
            while let Some(f) = r.next_frame().unwrap() {
                assert_eq!(f.payload(), &[7]);
            }
            r.push(&frame[3..]);
            while r.next_frame().unwrap().is_some() {}
            assert_eq!(r.buffered(), 0, "round {round}");
            assert!(r.buf.capacity() <= 4 * frame.len());
        }
        r.shrink();
        assert_eq!(r.buf.capacity(), 0);
    }
}
