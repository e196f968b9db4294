//! One RTP/JPEG payload (RFC 2435 section 3.1): the main JPEG header, for
//! types 64 and 65 the restart marker header, in the first fragment of a
//! frame the quantization table header, then scan bytes.
//!
//! ```text
//!  0               1               2               3
//! +---------------+-----------------------------------------------+
//! | type-specific |           fragment offset (24 bit)            |
//! +---------------+---------------+---------------+---------------+
//! |     type      |       Q       |  width / 8    |  height / 8   |
//! +---------------+---------------+---------------+---------------+
//!   only when type is 64 or 65 (section 3.1.7), in every fragment:
//! +-------------------------------+-+-+---------------------------+
//! |   restart interval (16 bit)   |F|L|  restart count (14 bit)   |
//! +-------------------------------+-+-+---------------------------+
//!   only when fragment offset = 0 and Q >= 128 (section 3.1.8):
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
//! Types 64 and 65 are types 0 and 1 with restart markers in the scan; the
//! restart marker header says how many MCUs lie between them (the JPEG DRI
//! value). Its F, L and restart count let a receiver decode a frame in
//! pieces; we send F = L = 1 and count [`RESTART_COUNT_WHOLE_FRAME`] (the
//! pieces are not cut at restart markers) and, since the assembler always
//! waits for the whole frame, accept any values without interpreting them.
//! Types 2..=63 and 66..=127 (reserved layouts) and dynamic types 128..=255
//! are refused, as are 16-bit quantization tables: nothing we send or decode
//! uses them.

use super::Subsampling;
use byteorder::{BigEndian, ByteOrder};
use std::fmt;

/// Size of the main JPEG header at the front of every payload.
pub const MAIN_HEADER_LEN: usize = 8;
/// Size of the restart marker header that types 64 and 65 carry in every
/// payload.
pub const RESTART_HEADER_LEN: usize = 4;
/// Size of the quantization table header, without its tables.
pub const QUANT_HEADER_LEN: usize = 4;
/// Size of the in-band tables for types 0 and 1: two 8-bit tables.
pub const QUANT_TABLES_LEN: usize = 128;
/// The Q value meaning "tables in-band, may change every frame", which is
/// what the packetizer always sends.
pub const Q_DYNAMIC: u8 = 255;
/// Largest fragment offset the 24-bit field can hold.
pub const MAX_FRAGMENT_OFFSET: u32 = 0x00ff_ffff;

/// The restart count that, with F and L set, says the payloads are not cut at
/// restart markers and the receiver must reassemble the whole frame before
/// decoding it (RFC 2435 section 3.1.7). It is what the packetizer sends.
pub const RESTART_COUNT_WHOLE_FRAME: u16 = 0x3fff;

/// Added to a type code (0..=63) when a restart marker header follows the
/// main header (types 64..=127, RFC 2435 section 3.1.3).
const TYPE_RESTART_FLAG: u8 = 64;
/// Lowest dynamic type (128..=255), defined by the session, not the RFC.
const TYPE_DYNAMIC: u8 = 128;

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

mod restart_field {
    pub const INTERVAL: std::ops::Range<usize> = 0..2;
    /// F (top bit), L (next bit) and the 14-bit restart count.
    pub const FLAGS_AND_COUNT: std::ops::Range<usize> = 2..4;
}

/// The F bit of the restart marker header's second 16-bit word.
const RESTART_FIRST: u16 = 0x8000;
/// The L bit of the restart marker header's second 16-bit word.
const RESTART_LAST: u16 = 0x4000;
/// The restart count bits of the restart marker header's second word.
const RESTART_COUNT_MASK: u16 = 0x3fff;

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
    /// The image layout: RFC 2435 type 0 or 1, or 64 or 65 when the payload
    /// also has a restart marker header ([`Payload::restart`]).
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

/// The restart marker header of types 64 and 65 (RFC 2435 section 3.1.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartHeader {
    /// MCUs between restart markers: the image's DRI value, never 0. The
    /// same in every payload of a frame.
    pub interval: u16,
    /// F: this payload starts a chunk of whole restart intervals.
    pub first: bool,
    /// L: this payload ends a chunk of whole restart intervals.
    pub last: bool,
    /// The index of the chunk's first restart interval in the frame (14
    /// bits), or [`RESTART_COUNT_WHOLE_FRAME`] with F and L set when the
    /// payloads are not cut at restart markers.
    pub count: u16,
}

impl RestartHeader {
    /// The header for a frame with restart interval `interval` cut without
    /// regard to its restart markers, which is how the packetizer cuts: F and
    /// L set, count [`RESTART_COUNT_WHOLE_FRAME`].
    pub fn whole_frame(interval: u16) -> RestartHeader {
        RestartHeader {
            interval,
            first: true,
            last: true,
            count: RESTART_COUNT_WHOLE_FRAME,
        }
    }
}

/// A parsed view of one RTP/JPEG payload, borrowing its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payload<'a> {
    /// The main JPEG header.
    pub header: MainHeader,
    /// The restart marker header, present exactly for types 64 and 65
    /// (which is how [`Payload::emit`] chooses the type code).
    pub restart: Option<RestartHeader>,
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
        let has_restart = (TYPE_RESTART_FLAG..TYPE_DYNAMIC).contains(&rtp_type);
        let layout = if has_restart {
            rtp_type - TYPE_RESTART_FLAG
        } else {
            rtp_type
        };
        let subsampling =
            Subsampling::from_rtp_type(layout).ok_or(PayloadError::UnsupportedType(rtp_type))?;
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
        // The restart marker header comes straight after the main header and
        // before the quantization table header (RFC 2435 sections 3.1.7, 3.1.8).
        let (restart, rest) = if has_restart {
            let (r, rest) = rest
                .split_first_chunk::<RESTART_HEADER_LEN>()
                .ok_or(PayloadError::Truncated)?;
            let interval = BigEndian::read_u16(&r[restart_field::INTERVAL]);
            if interval == 0 {
                return Err(PayloadError::ZeroRestartInterval);
            }
            let word = BigEndian::read_u16(&r[restart_field::FLAGS_AND_COUNT]);
            let restart = RestartHeader {
                interval,
                first: word & RESTART_FIRST != 0,
                last: word & RESTART_LAST != 0,
                count: word & RESTART_COUNT_MASK,
            };
            (Some(restart), rest)
        } else {
            (None, rest)
        };
        if header.fragment_offset != 0 || q < Q_IN_BAND {
            return Ok(Payload {
                header,
                restart,
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
                restart,
                quant_tables: Some(tables),
                data,
            }),
            _ => Err(PayloadError::BadQuantLength(len)),
        }
    }

    /// Bytes [`Payload::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        let restart = self.restart.map_or(0, |_| RESTART_HEADER_LEN);
        let quant = self.quant_tables.map_or(0, |t| QUANT_HEADER_LEN + t.len());
        MAIN_HEADER_LEN + restart + quant + self.data.len()
    }

    /// Writes the payload into `buf`, which must be exactly
    /// [`Payload::buffer_len`] bytes (a smaller one is a caller bug and
    /// panics). The offset is written modulo 2^24, the restart count modulo
    /// 2^14 and the table length modulo 2^16; the packetizer never produces
    /// larger ones. A restart interval of 0 is written as it is, and the
    /// result does not parse.
    pub fn emit(&self, buf: &mut [u8]) {
        let (h, rest) = buf
            .split_first_chunk_mut::<MAIN_HEADER_LEN>()
            .expect("emit buffer smaller than buffer_len");
        let [_, high, mid, low] = self.header.fragment_offset.to_be_bytes();
        h[field::TYPE_SPECIFIC] = self.header.type_specific;
        h[field::OFFSET_HIGH] = high;
        h[field::OFFSET_MID] = mid;
        h[field::OFFSET_LOW] = low;
        h[field::TYPE] = match self.restart {
            Some(_) => self.header.subsampling.rtp_type() + TYPE_RESTART_FLAG,
            None => self.header.subsampling.rtp_type(),
        };
        h[field::Q] = self.header.q;
        h[field::WIDTH] = self.header.width_blocks;
        h[field::HEIGHT] = self.header.height_blocks;
        let mut rest = rest;
        if let Some(restart) = self.restart {
            let (r, after) = rest
                .split_first_chunk_mut::<RESTART_HEADER_LEN>()
                .expect("emit buffer smaller than buffer_len");
            BigEndian::write_u16(&mut r[restart_field::INTERVAL], restart.interval);
            let mut word = restart.count & RESTART_COUNT_MASK;
            if restart.first {
                word |= RESTART_FIRST;
            }
            if restart.last {
                word |= RESTART_LAST;
            }
            BigEndian::write_u16(&mut r[restart_field::FLAGS_AND_COUNT], word);
            rest = after;
        }
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
    /// A type other than 0, 1, 64 or 65 (2..=63 and 66..=127 are reserved
    /// layouts; 128..=255 are session-defined).
    UnsupportedType(u8),
    /// A restart marker header with interval 0, which RFC 2435 forbids.
    ZeroRestartInterval,
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
    /// Disagrees with other fragments of the same frame: a different header,
    /// restart interval (or a restart marker header in some fragments only)
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
            PayloadError::UnsupportedType(t) => {
                write!(f, "type {t} is not supported (only 0, 1, 64 and 65)")
            }
            PayloadError::ZeroRestartInterval => {
                write!(f, "restart marker header with restart interval 0")
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
