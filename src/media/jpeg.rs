//! The RTP payload format for JPEG video (RFC 2435), both directions. The
//! sender cuts one baseline JPEG image (a webcam MJPEG frame, libjpeg output)
//! into RTP payloads: each carries an 8-byte main JPEG header (and, for an
//! image with restart markers, a 4-byte restart marker header) and a slice of
//! the entropy-coded scan, and the first also carries the quantization tables
//! in-band (Q = 255). Everything else in the JPEG file (Huffman tables,
//! sampling, component layout) is implied by the RFC 2435 type and is not
//! sent, which is why only images the RFC can describe are accepted. The
//! receiver's [`FrameAssembler`] gathers the payloads of each RTP timestamp in
//! any order, and once a frame is whole rebuilds a complete JPEG file the way
//! RFC 2435 appendix B `MakeHeaders` does. Neither side touches the RTP header:
//! the caller passes the marker bit, sequence number and timestamp.
//!
//! ```text
//!  camera JPEG ──► JpegImage::parse ──► Fragments ──► (payload, marker) ──► RTP
//!  RTP ──► (seq, timestamp, marker, payload) ──► FrameAssembler::push ──► JpegFrame
//! ```
//!
//! ```
//! use peercall::media::jpeg::{packetize, FrameAssembler};
//! # fn demo(camera_jpeg: &[u8]) -> Result<(), peercall::media::jpeg::JpegError> {
//! let mut assembler = FrameAssembler::new();
//! for (seq, fragment) in packetize(camera_jpeg, 1460)?.enumerate() {
//!     // ...an RTP header goes in front here, the network in between...
//!     if let Ok(Some(frame)) = assembler.push(seq as u16, 9000, fragment.marker, &fragment.payload) {
//!         assert_eq!(&frame.jpeg[..2], &[0xff, 0xd8]);
//!     }
//! }
//! # Ok(()) }
//! ```

mod assembler;
mod image;
mod packetizer;
mod payload;
mod tables;

pub use assembler::{
    AssemblerStats, FrameAssembler, JpegFrame, Rejected, MAX_FRAME_LEN, MAX_PENDING_FRAMES,
    MAX_RUNS_PER_FRAME,
};
pub use image::{JpegError, JpegImage, MAX_DIMENSION};
pub use packetizer::{packetize, Fragment, Fragments, MIN_PAYLOAD_LIMIT};
pub use payload::{
    MainHeader, Payload, PayloadError, RestartHeader, MAIN_HEADER_LEN, MAX_FRAGMENT_OFFSET,
    QUANT_HEADER_LEN, QUANT_TABLES_LEN, Q_DYNAMIC, RESTART_COUNT_WHOLE_FRAME, RESTART_HEADER_LEN,
};
pub use tables::{make_tables, QuantTables};

/// How the chroma planes are subsampled: the two image layouts RFC 2435
/// defines (types 0 and 1), both three-component YCbCr with one interleaved
/// baseline scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subsampling {
    /// 4:2:2, RFC 2435 type 0: luma sampled 2x1, each chroma plane 1x1.
    Yuv422,
    /// 4:2:0, RFC 2435 type 1: luma sampled 2x2, each chroma plane 1x1.
    Yuv420,
}

impl Subsampling {
    /// The RFC 2435 type code (without the restart-marker flag 64).
    pub fn rtp_type(self) -> u8 {
        match self {
            Subsampling::Yuv422 => 0,
            Subsampling::Yuv420 => 1,
        }
    }

    /// The layout for an RFC 2435 type code without the restart-marker flag
    /// (0 or 1; [`Payload::parse`] takes 64 and 65 off first).
    pub fn from_rtp_type(t: u8) -> Option<Subsampling> {
        match t {
            0 => Some(Subsampling::Yuv422),
            1 => Some(Subsampling::Yuv420),
            _ => None,
        }
    }

    /// The luma component's sampling factors as a JPEG frame header packs
    /// them (horizontal in the high nibble).
    fn luma_sampling(self) -> u8 {
        match self {
            Subsampling::Yuv422 => 0x21,
            Subsampling::Yuv420 => 0x22,
        }
    }
}

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod malformed;
#[cfg(test)]
mod reassembly;
#[cfg(test)]
mod tests;
