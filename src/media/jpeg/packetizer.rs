//! Cutting one JPEG image into RTP/JPEG payloads of a bounded size. The
//! tables always travel in-band (Q = 255), so every frame can be decoded on
//! its own and the camera may change quality at any time.
//!
//! An image with a restart interval goes as type 64 or 65 with a restart
//! marker header in every payload. The payloads are cut by size, not at
//! restart markers, so the header says so (F = L = 1, count
//! [`RESTART_COUNT_WHOLE_FRAME`](super::RESTART_COUNT_WHOLE_FRAME)) and
//! receivers decode the whole frame, which is what ours does anyway. Cutting
//! at restart markers would let a receiver show part of a damaged frame, but
//! costs finding every marker in the scan and more, smaller packets.

use super::image::{JpegError, JpegImage};
use super::payload::{
    MainHeader, Payload, RestartHeader, MAIN_HEADER_LEN, QUANT_HEADER_LEN, QUANT_TABLES_LEN,
    Q_DYNAMIC, RESTART_HEADER_LEN,
};

/// Smallest maximum payload size the packetizer accepts for any image: the
/// first fragment's headers (main, restart marker and quantization table)
/// and tables plus one byte of scan. Images without a restart interval need
/// [`RESTART_HEADER_LEN`] bytes less, but one limit for all keeps a camera
/// that starts writing DRI segments from failing mid-call.
pub const MIN_PAYLOAD_LIMIT: usize =
    MAIN_HEADER_LEN + RESTART_HEADER_LEN + QUANT_HEADER_LEN + QUANT_TABLES_LEN + 1;

/// Parses `jpeg` and returns its fragments, each payload at most
/// `max_payload_len` bytes (the MTU less IP, UDP and RTP headers: 1460 for a
/// 1500-byte MTU over IPv4 with a 12-byte RTP header and some room to spare).
pub fn packetize(jpeg: &[u8], max_payload_len: usize) -> Result<Fragments<'_>, JpegError> {
    JpegImage::parse(jpeg)?.fragments(max_payload_len)
}

impl<'a> JpegImage<'a> {
    /// This image's fragments, each payload at most `max_payload_len` bytes.
    pub fn fragments(&self, max_payload_len: usize) -> Result<Fragments<'a>, JpegError> {
        if max_payload_len < MIN_PAYLOAD_LIMIT {
            return Err(JpegError::MaxPayloadTooSmall(max_payload_len));
        }
        Ok(Fragments {
            header: MainHeader {
                type_specific: 0,
                fragment_offset: 0,
                subsampling: self.subsampling(),
                q: Q_DYNAMIC,
                // parse() checked both are multiples of 8 up to 2040.
                width_blocks: (self.width() / 8) as u8,
                height_blocks: (self.height() / 8) as u8,
            },
            restart: match self.restart_interval() {
                0 => None,
                interval => Some(RestartHeader::whole_frame(interval)),
            },
            tables: self.tables().to_bytes(),
            scan: self.scan(),
            max_payload_len,
            offset: 0,
            done: false,
        })
    }
}

/// One RTP payload and the marker bit its RTP header must carry (set on the
/// last fragment of the frame).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// The RTP payload: JPEG headers and a slice of the scan.
    pub payload: Vec<u8>,
    /// Whether this is the frame's last fragment.
    pub marker: bool,
}

/// The fragments of one image, in order. All share one RTP timestamp.
#[derive(Debug, Clone)]
pub struct Fragments<'a> {
    header: MainHeader,
    /// The same in every payload (see the module docs).
    restart: Option<RestartHeader>,
    tables: [u8; QUANT_TABLES_LEN],
    scan: &'a [u8],
    max_payload_len: usize,
    offset: usize,
    done: bool,
}

impl Fragments<'_> {
    /// Writes the next payload into `out` (replacing its contents, reusing its
    /// allocation) and returns its marker bit, or `None` after the last.
    pub fn emit_next(&mut self, out: &mut Vec<u8>) -> Option<bool> {
        let (payload, marker) = self.next_payload()?;
        out.clear();
        out.resize(payload.buffer_len(), 0);
        payload.emit(out);
        Some(marker)
    }

    fn next_payload(&mut self) -> Option<(Payload<'_>, bool)> {
        if self.done {
            return None;
        }
        let first = self.offset == 0;
        let room = self.max_payload_len - self.headers_len() - first_overhead(first);
        let rest = self.scan.get(self.offset..).unwrap_or_default();
        let data = rest.get(..room).unwrap_or(rest);
        let marker = data.len() == rest.len();
        let payload = Payload {
            header: MainHeader {
                // parse() capped the scan at 24-bit offsets.
                fragment_offset: self.offset as u32,
                ..self.header
            },
            restart: self.restart,
            quant_tables: first.then_some(&self.tables[..]),
            data,
        };
        self.offset += data.len();
        self.done = marker;
        Some((payload, marker))
    }

    /// Bytes every payload spends on headers before the quantization table
    /// header.
    fn headers_len(&self) -> usize {
        MAIN_HEADER_LEN + self.restart.map_or(0, |_| RESTART_HEADER_LEN)
    }
}

/// Bytes the first fragment spends on the quantization table header.
fn first_overhead(first: bool) -> usize {
    if first {
        QUANT_HEADER_LEN + QUANT_TABLES_LEN
    } else {
        0
    }
}

impl Iterator for Fragments<'_> {
    type Item = Fragment;

    fn next(&mut self) -> Option<Fragment> {
        let mut payload = Vec::new();
        let marker = self.emit_next(&mut payload)?;
        Some(Fragment { payload, marker })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = if self.done {
            0
        } else {
            let rest = self.scan.len() - self.offset;
            let room = self.max_payload_len - self.headers_len();
            let room_first = room - first_overhead(self.offset == 0);
            1 + rest.saturating_sub(room_first).div_ceil(room)
        };
        (n, Some(n))
    }
}

impl ExactSizeIterator for Fragments<'_> {}
