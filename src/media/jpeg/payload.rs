//! One RTP/JPEG payload (RFC 2435 section 3.1): the main JPEG header, in the
//! first fragment of a frame the quantization table header, then scan bytes.
//!
//! ```text
//!  0               1               2               3
//! +---------------+-----------------------------------------------+
//! | type-specific |           fragment offset (24 bit)            |
//! +---------------+---------------+---------------+---------------+
//! |     type      |       Q       |  width / 8    |  height / 8   |
//! +---------------+---------------+---------------+---------------+
//!   only when fragment offset = 0 and Q >= 128:
//! +---------------+---------------+-------------------------------+
//! |      MBZ      |   precision   |     length (of table data)    |
//! +---------------+---------------+-------------------------------+
//! |      quantization tables: luma then chroma, 64 B each         |
//! +---------------------------------------------------------------+
//! |      scan data (entropy-coded bytes at fragment offset)       |
//! ```
//! The RFC has types 0 and 1 send two tables. ffmpeg's packetizer sends a
//! single 64-byte table when its JPEG has only one (ffmpeg's encoder shares
//! one table among all components) and its receiver applies it to all three;
//! we accept that too, so ffmpeg can send to us.
//!
//! Types 64..=127 would put a restart marker header after the main header;
//! they, types 2..=63 and dynamic types 128..=255 are refused, as are 16-bit
//! quantization tables: nothing we send or decode uses them.

use super::Subsampling;
use byteorder::{BigEndian, ByteOrder};
use std::fmt;

/// Size of the main JPEG header at the front of every payload.
pub const MAIN_HEADER_LEN: usize = 8;
/// Size of the quantization table header, without its tables.
pub const QUANT_HEADER_LEN: usize = 4;
/// Size of the in-band tables for types 0 and 1: two 8-bit tables.
pub const QUANT_TABLES_LEN: usize = 128;
/// The Q value meaning "tables in-band, may change every frame", which is
/// what the packetizer always sends.
pub const Q_DYNAMIC: u8 = 255;
/// Largest fragment offset the 24-bit field can hold.
pub const MAX_FRAGMENT_OFFSET: u32 = 0x00ff_ffff;

/// Lowest Q value whose tables travel in-band rather than being computed.
const Q_IN_BAND: u8 = 128;
/// Lowest reserved Q value (1..=99 are scale factors; 0 is reserved too).
const Q_RESERVED: u8 = 100;

mod field {
    pub const TYPE_SPECIFIC: usize = 0;
    pub const OFFSET_HIGH: usize = 1;
    pub const OFFSET_MID: usize = 2;
    pub const OFFSET_LOW: usize = 3;
    pub const TYPE: usize = 4;
    pub const Q: usize = 5;
    pub const WIDTH: usize = 6;
    pub const HEIGHT: usize = 7;
}

mod quant_field {
    pub const MBZ: usize = 0;
    pub const PRECISION: usize = 1;
    pub const LENGTH: std::ops::Range<usize> = 2..4;
}

/// Size of one 8-bit table, which some senders send alone (see module docs).
const ONE_TABLE_LEN: usize = 64;

/// The precision bits of the tables present (bit 0 for the first); later
/// bits are to be ignored (RFC 2435 section 3.1.8).
fn precision_bits(tables_len: usize) -> u8 {
    if tables_len == ONE_TABLE_LEN {
        0b01
    } else {
        0b11
    }
}

/// The main JPEG header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MainHeader {
    /// For types 0 and 1: 0 progressive frame, 1 odd field, 2 even field,
    /// 3 single field to show line-doubled. Passed through, not interpreted.
    pub type_specific: u8,
    /// Where this payload's scan bytes sit in the frame's scan.
    pub fragment_offset: u32,
    /// The RFC 2435 type, 0 or 1.
    pub subsampling: Subsampling,
    /// 1..=99: tables scaled from Annex K; 128..=255: tables in-band.
    pub q: u8,
    /// Image width in 8-pixel units.
    pub width_blocks: u8,
    /// Image height in 8-pixel units.
    pub height_blocks: u8,
}

impl MainHeader {
    /// Whether two fragments describe the same image (everything but the
    /// offset agrees).
    pub fn same_image(&self, other: &MainHeader) -> bool {
        MainHeader {
            fragment_offset: 0,
            ..*self
        } == MainHeader {
            fragment_offset: 0,
            ..*other
        }
    }

    /// Image width in pixels.
    pub fn width(&self) -> u16 {
        u16::from(self.width_blocks) * 8
    }

    /// Image height in pixels.
    pub fn height(&self) -> u16 {
        u16::from(self.height_blocks) * 8
    }
}

/// A parsed view of one RTP/JPEG payload, borrowing its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payload<'a> {
    /// The main JPEG header.
    pub header: MainHeader,
    /// The quantization table data, present exactly when the fragment offset
    /// is 0 and Q >= 128: 128 bytes (luma, chroma), 64 bytes (one table for
    /// both, as ffmpeg sends), or empty for "the tables this Q stood
    /// for before" (Q 128..=254 only).
    pub quant_tables: Option<&'a [u8]>,
    /// Scan bytes at [`MainHeader::fragment_offset`].
    pub data: &'a [u8],
}

impl<'a> Payload<'a> {
    /// Parses one payload. Every length is checked before it is read.
    pub fn parse(bytes: &'a [u8]) -> Result<Payload<'a>, PayloadError> {
        let (h, rest) = bytes
            .split_first_chunk::<MAIN_HEADER_LEN>()
            .ok_or(PayloadError::Truncated)?;
        let rtp_type = h[field::TYPE];
        let subsampling =
            Subsampling::from_rtp_type(rtp_type).ok_or(PayloadError::UnsupportedType(rtp_type))?;
        let q = h[field::Q];
        if q == 0 || (Q_RESERVED..Q_IN_BAND).contains(&q) {
            return Err(PayloadError::ReservedQ(q));
        }
        if h[field::WIDTH] == 0 || h[field::HEIGHT] == 0 {
            return Err(PayloadError::ZeroDimension);
        }
        let header = MainHeader {
            type_specific: h[field::TYPE_SPECIFIC],
            fragment_offset: u32::from_be_bytes([
                0,
                h[field::OFFSET_HIGH],
                h[field::OFFSET_MID],
                h[field::OFFSET_LOW],
            ]),
            subsampling,
            q,
            width_blocks: h[field::WIDTH],
            height_blocks: h[field::HEIGHT],
        };
        if header.fragment_offset != 0 || q < Q_IN_BAND {
            return Ok(Payload {
                header,
                quant_tables: None,
                data: rest,
            });
        }
        let (qh, rest) = rest
            .split_first_chunk::<QUANT_HEADER_LEN>()
            .ok_or(PayloadError::Truncated)?;
        let len = BigEndian::read_u16(&qh[quant_field::LENGTH]);
        if qh[quant_field::PRECISION] & precision_bits(usize::from(len)) != 0 {
            return Err(PayloadError::WideQuantTables);
        }
        // Checked before the value, so a length running past the end is
        // reported as such (the RFC says to discard those).
        let (tables, data) = rest
            .split_at_checked(usize::from(len))
            .ok_or(PayloadError::Truncated)?;
        match usize::from(len) {
            0 if q == Q_DYNAMIC => Err(PayloadError::MissingQuantTables),
            0 | ONE_TABLE_LEN | QUANT_TABLES_LEN => Ok(Payload {
                header,
                quant_tables: Some(tables),
                data,
            }),
            _ => Err(PayloadError::BadQuantLength(len)),
        }
    }

    /// Bytes [`Payload::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        let quant = self.quant_tables.map_or(0, |t| QUANT_HEADER_LEN + t.len());
        MAIN_HEADER_LEN + quant + self.data.len()
    }

    /// Writes the payload into `buf`, which must be exactly
    /// [`Payload::buffer_len`] bytes (a smaller one is a caller bug and
    /// panics). The offset is written modulo 2^24 and the table length
    /// modulo 2^16; the packetizer never produces larger ones.
    pub fn emit(&self, buf: &mut [u8]) {
        let (h, rest) = buf
            .split_first_chunk_mut::<MAIN_HEADER_LEN>()
            .expect("emit buffer smaller than buffer_len");
        let [_, high, mid, low] = self.header.fragment_offset.to_be_bytes();
        h[field::TYPE_SPECIFIC] = self.header.type_specific;
        h[field::OFFSET_HIGH] = high;
        h[field::OFFSET_MID] = mid;
        h[field::OFFSET_LOW] = low;
        h[field::TYPE] = self.header.subsampling.rtp_type();
        h[field::Q] = self.header.q;
        h[field::WIDTH] = self.header.width_blocks;
        h[field::HEIGHT] = self.header.height_blocks;
        let mut rest = rest;
        if let Some(tables) = self.quant_tables {
            let (qh, after) = rest
                .split_first_chunk_mut::<QUANT_HEADER_LEN>()
                .expect("emit buffer smaller than buffer_len");
            qh[quant_field::MBZ] = 0;
            qh[quant_field::PRECISION] = 0;
            BigEndian::write_u16(&mut qh[quant_field::LENGTH], tables.len() as u16);
            let (t, after) = after.split_at_mut(tables.len());
            t.copy_from_slice(tables);
            rest = after;
        }
        rest.copy_from_slice(self.data);
    }

    /// The payload as a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut buf = vec![0u8; self.buffer_len()];
        self.emit(&mut buf);
        buf
    }
}

/// Why a received RTP/JPEG payload was refused. Every variant is the sender's
/// fault (or a feature we do not implement); none is a panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadError {
    /// Shorter than its headers, or a table length runs past the end.
    Truncated,
    /// A type other than 0 or 1 (64/65 need restart markers, which we do
    /// not support; 2..=63 are reserved; 128..=255 are session-defined).
    UnsupportedType(u8),
    /// Q is 0 or 100..=127, which RFC 2435 reserves.
    ReservedQ(u8),
    /// Width or height is 0.
    ZeroDimension,
    /// The quantization tables are 16-bit, which baseline JPEG cannot use.
    WideQuantTables,
    /// The quantization table length is not 0, 64 or 128.
    BadQuantLength(u16),
    /// Q is 255 but the first fragment carries no tables.
    MissingQuantTables,
    /// Q 128..=254 without tables, and none were received for this Q before.
    UnknownQuantTables(u8),
    /// The payload carries no scan bytes.
    NoData,
    /// The fragment reaches past [`super::MAX_FRAME_LEN`] bytes of scan.
    FrameTooLarge,
    /// Disagrees with other fragments of the same frame: a different header
    /// or tables, different bytes where fragments overlap, or data past the
    /// end the marker packet set.
    Inconsistent,
    /// The frame already has [`super::MAX_RUNS_PER_FRAME`] separate pieces.
    TooFragmented,
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PayloadError::Truncated => write!(f, "payload shorter than its headers"),
            PayloadError::UnsupportedType(t @ 64..=127) => {
                write!(f, "type {t} (restart markers) is not supported")
            }
            PayloadError::UnsupportedType(t) => {
                write!(f, "type {t} is not supported (only 0 and 1)")
            }
            PayloadError::ReservedQ(q) => write!(f, "Q {q} is reserved"),
            PayloadError::ZeroDimension => write!(f, "width or height is 0"),
            PayloadError::WideQuantTables => write!(f, "16-bit quantization tables"),
            PayloadError::BadQuantLength(n) => {
                write!(f, "quantization table length {n} (want 0, 64 or 128)")
            }
            PayloadError::MissingQuantTables => write!(f, "Q 255 without quantization tables"),
            PayloadError::UnknownQuantTables(q) => {
                write!(f, "no quantization tables known for Q {q}")
            }
            PayloadError::NoData => write!(f, "no scan data"),
            PayloadError::FrameTooLarge => write!(f, "frame larger than the limit"),
            PayloadError::Inconsistent => {
                write!(f, "fragment disagrees with other fragments of its frame")
            }
            PayloadError::TooFragmented => write!(f, "frame in too many pieces"),
        }
    }
}

impl std::error::Error for PayloadError {}
