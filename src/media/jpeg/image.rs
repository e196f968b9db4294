//! Reading a JPEG file from the camera and deciding whether RFC 2435 can carry
//! it: baseline, 8-bit, three components sampled 4:2:2 (Y 2x1) or 4:2:0
//! (Y 2x2), 8-bit quantization tables, the standard Huffman tables, one
//! interleaved scan, dimensions in 8-pixel units up to 2040. What is kept is
//! what travels: the layout, the size, the restart interval, the two
//! quantization tables and the entropy-coded scan bytes.
//!
//! A restart interval (a DRI segment, which many webcams write) is carried
//! as RFC 2435 types 64 and 65; the scan keeps its restart markers as they
//! are. Restart markers in a scan without a restart interval are refused, as
//! a decoder would not expect them.
//!
//! Webcam MJPEG frames often leave the Huffman tables out and rely on the
//! standard ones (the AVI1 convention); a scan whose tables were never
//! defined is taken to use them.

use super::tables::{marker, HuffmanTable, QuantTables, CHROMA_AC, CHROMA_DC, LUMA_AC, LUMA_DC};
use super::{Subsampling, MAX_FRAGMENT_OFFSET};
use byteorder::{BigEndian, ByteOrder};
use std::fmt;

/// Largest width or height RFC 2435 can express (255 units of 8 pixels).
pub const MAX_DIMENSION: u16 = 255 * 8;

/// A JPEG image that RFC 2435 can carry, borrowing its scan from the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpegImage<'a> {
    subsampling: Subsampling,
    width: u16,
    height: u16,
    /// MCUs between restart markers; 0 for none.
    restart_interval: u16,
    tables: QuantTables,
    scan: &'a [u8],
}

impl<'a> JpegImage<'a> {
    /// Reads a JPEG file, checking every length before use. Anything after
    /// the EOI marker must be zero bytes (some cameras pad their buffers).
    pub fn parse(jpeg: &'a [u8]) -> Result<JpegImage<'a>, JpegError> {
        let mut headers = Headers::default();
        let mut pos = match jpeg {
            [0xff, marker::SOI, ..] => 2,
            _ => return Err(JpegError::NotJpeg),
        };
        loop {
            let m = next_marker(jpeg, &mut pos)?;
            match m {
                marker::SOI | marker::EOI | marker::TEM | 0x00 | marker::RST0..=marker::RST7 => {
                    return Err(JpegError::UnexpectedMarker(m))
                }
                marker::SOS => {
                    let body = segment(jpeg, &mut pos)?;
                    let image = headers.finish(body)?;
                    let rest = jpeg.get(pos..).unwrap_or_default();
                    let scan = scan_data(rest, image.restart_interval)?;
                    return Ok(JpegImage { scan, ..image });
                }
                _ => {
                    let body = segment(jpeg, &mut pos)?;
                    headers.add(m, body)?;
                }
            }
        }
    }

    /// The RFC 2435 type this image travels as.
    pub fn subsampling(&self) -> Subsampling {
        self.subsampling
    }

    /// Width in pixels (a multiple of 8, at most [`MAX_DIMENSION`]).
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Height in pixels (a multiple of 8, at most [`MAX_DIMENSION`]).
    pub fn height(&self) -> u16 {
        self.height
    }

    /// MCUs between restart markers (the DRI value), or 0 when the scan has
    /// none. A non-zero interval travels as type 64 or 65.
    pub fn restart_interval(&self) -> u16 {
        self.restart_interval
    }

    /// The quantization tables of the luma and chroma components.
    pub fn tables(&self) -> &QuantTables {
        &self.tables
    }

    /// The entropy-coded scan bytes, without the EOI marker.
    pub fn scan(&self) -> &'a [u8] {
        self.scan
    }
}

/// Reads the marker at `pos` (skipping 0xff fill bytes) and moves past it.
fn next_marker(jpeg: &[u8], pos: &mut usize) -> Result<u8, JpegError> {
    match jpeg.get(*pos) {
        None => return Err(JpegError::Truncated),
        Some(0xff) => {}
        Some(_) => return Err(JpegError::ExpectedMarker(*pos)),
    }
    while jpeg.get(*pos) == Some(&0xff) {
        *pos += 1;
    }
    let m = *jpeg.get(*pos).ok_or(JpegError::Truncated)?;
    *pos += 1;
    Ok(m)
}

/// Reads the length-prefixed segment body at `pos` and moves past it.
fn segment<'a>(jpeg: &'a [u8], pos: &mut usize) -> Result<&'a [u8], JpegError> {
    let len_bytes = jpeg.get(*pos..*pos + 2).ok_or(JpegError::Truncated)?;
    let len = usize::from(BigEndian::read_u16(len_bytes));
    if len < 2 {
        return Err(JpegError::BadSegment(0));
    }
    let body = jpeg.get(*pos + 2..*pos + len).ok_or(JpegError::Truncated)?;
    *pos += len;
    Ok(body)
}

/// Finds the end of the scan: the EOI marker, skipping stuffed 0xff 0x00 and,
/// when `restart_interval` is not 0, restart markers.
fn scan_data(rest: &[u8], restart_interval: u16) -> Result<&[u8], JpegError> {
    let mut from = 0;
    loop {
        let ff = rest
            .get(from..)
            .and_then(|tail| tail.iter().position(|&b| b == 0xff))
            .map(|i| from + i)
            .ok_or(JpegError::MissingEoi)?;
        // A run of 0xff is one marker (or stuffed byte) preceded by fill.
        let mut code_at = ff + 1;
        while rest.get(code_at) == Some(&0xff) {
            code_at += 1;
        }
        match rest.get(code_at) {
            None => return Err(JpegError::MissingEoi),
            Some(0x00) => from = code_at + 1,
            // Passed through unchanged: the receiver rebuilds the DRI segment
            // from the restart marker header and decodes them as the camera
            // wrote them.
            Some(marker::RST0..=marker::RST7) if restart_interval != 0 => from = code_at + 1,
            Some(&marker::EOI) => {
                let scan = rest.get(..ff).unwrap_or_default();
                let after = rest.get(code_at + 1..).unwrap_or_default();
                if scan.is_empty() {
                    return Err(JpegError::EmptyScan);
                }
                if after.iter().any(|&b| b != 0) {
                    return Err(JpegError::TrailingData);
                }
                if scan.len() > MAX_FRAGMENT_OFFSET as usize {
                    return Err(JpegError::ScanTooLarge(scan.len()));
                }
                return Ok(scan);
            }
            Some(&m) => return Err(JpegError::UnexpectedMarker(m)),
        }
    }
}

/// One component of the frame header.
#[derive(Debug, Clone, Copy)]
struct Component {
    id: u8,
    sampling: u8,
    quant_table: u8,
}

/// A Huffman table as a DHT segment defined it: code counts, then symbols.
type DefinedHuffman<'a> = (&'a [u8], &'a [u8]);

/// What the segments before the scan defined.
#[derive(Default)]
struct Headers<'a> {
    quant: [Option<[u8; 64]>; 4],
    /// Indexed by class (0 DC, 1 AC), then table id.
    huffman: [[Option<DefinedHuffman<'a>>; 4]; 2],
    frame: Option<(u16, u16, [Component; 3])>,
    /// From the last DRI segment; 0 (no restart markers) when there is none.
    restart_interval: u16,
}

impl<'a> Headers<'a> {
    fn add(&mut self, m: u8, body: &'a [u8]) -> Result<(), JpegError> {
        match m {
            marker::DQT => self.dqt(body),
            marker::DHT => self.dht(body),
            marker::SOF0 => self.sof0(body),
            marker::DRI => match body {
                [hi, lo] => {
                    self.restart_interval = u16::from_be_bytes([*hi, *lo]);
                    Ok(())
                }
                _ => Err(JpegError::BadSegment(m)),
            },
            // Every other SOFn (extended, progressive, lossless, hierarchical,
            // arithmetic), the arithmetic conditioning table and JPG.
            0xc1..=0xcf => Err(JpegError::NotBaseline(m)),
            // APPn, COM and anything else with a length: not needed.
            _ => Ok(()),
        }
    }

    fn dqt(&mut self, mut body: &'a [u8]) -> Result<(), JpegError> {
        while let Some((&pq_tq, rest)) = body.split_first() {
            let (precision, id) = (pq_tq >> 4, pq_tq & 0x0f);
            if precision == 1 {
                return Err(JpegError::WideQuantTable);
            }
            if precision != 0 {
                return Err(JpegError::BadSegment(marker::DQT));
            }
            let slot = self
                .quant
                .get_mut(usize::from(id))
                .ok_or(JpegError::BadTableId(marker::DQT, id))?;
            let (table, rest) = rest
                .split_first_chunk::<64>()
                .ok_or(JpegError::BadSegment(marker::DQT))?;
            *slot = Some(*table);
            body = rest;
        }
        Ok(())
    }

    fn dht(&mut self, mut body: &'a [u8]) -> Result<(), JpegError> {
        while let Some((&tc_th, rest)) = body.split_first() {
            let (class, id) = (tc_th >> 4, tc_th & 0x0f);
            let slot = self
                .huffman
                .get_mut(usize::from(class))
                .and_then(|c| c.get_mut(usize::from(id)))
                .ok_or(JpegError::BadTableId(marker::DHT, tc_th))?;
            let (counts, rest) = rest
                .split_first_chunk::<16>()
                .ok_or(JpegError::BadSegment(marker::DHT))?;
            let n: usize = counts.iter().map(|&c| usize::from(c)).sum();
            let (symbols, rest) = rest
                .split_at_checked(n)
                .ok_or(JpegError::BadSegment(marker::DHT))?;
            *slot = Some((counts.as_slice(), symbols));
            body = rest;
        }
        Ok(())
    }

    fn sof0(&mut self, body: &[u8]) -> Result<(), JpegError> {
        if self.frame.is_some() {
            return Err(JpegError::UnexpectedMarker(marker::SOF0));
        }
        let [precision, h_hi, h_lo, w_hi, w_lo, count, comps @ ..] = body else {
            return Err(JpegError::BadSegment(marker::SOF0));
        };
        if *precision != 8 {
            return Err(JpegError::SamplePrecision(*precision));
        }
        if comps.len() != 3 * usize::from(*count) {
            return Err(JpegError::BadSegment(marker::SOF0));
        }
        let [y0, y1, y2, b0, b1, b2, r0, r1, r2] = *comps else {
            return Err(JpegError::UnsupportedComponents(*count));
        };
        let width = u16::from_be_bytes([*w_hi, *w_lo]);
        let height = u16::from_be_bytes([*h_hi, *h_lo]);
        let fits = |d: u16| d != 0 && d % 8 == 0 && d <= MAX_DIMENSION;
        if !fits(width) || !fits(height) {
            return Err(JpegError::BadDimensions { width, height });
        }
        let c = |id, sampling, quant_table| Component {
            id,
            sampling,
            quant_table,
        };
        self.frame = Some((width, height, [c(y0, y1, y2), c(b0, b1, b2), c(r0, r1, r2)]));
        Ok(())
    }

    /// Checks the scan header against the frame and tables, and picks out
    /// what RFC 2435 sends.
    fn finish(self, sos: &[u8]) -> Result<JpegImage<'static>, JpegError> {
        let (width, height, [y, cb, cr]) = self.frame.ok_or(JpegError::MissingFrameHeader)?;
        let subsampling = match (y.sampling, cb.sampling, cr.sampling) {
            (0x21, 0x11, 0x11) => Subsampling::Yuv422,
            (0x22, 0x11, 0x11) => Subsampling::Yuv420,
            (y, cb, cr) => return Err(JpegError::UnsupportedSampling([y, cb, cr])),
        };
        if cb.quant_table != cr.quant_table {
            return Err(JpegError::ChromaTablesDiffer);
        }
        let table = |id: u8| {
            self.quant
                .get(usize::from(id))
                .copied()
                .flatten()
                .ok_or(JpegError::MissingQuantTable(id))
        };
        let tables = QuantTables {
            luma: table(y.quant_table)?,
            chroma: table(cb.quant_table)?,
        };
        let [3, s0, t0, s1, t1, s2, t2, 0, 63, 0] = *sos else {
            return Err(JpegError::UnsupportedScan);
        };
        if [s0, s1, s2] != [y.id, cb.id, cr.id] {
            return Err(JpegError::UnsupportedScan);
        }
        self.check_huffman(t0, &LUMA_DC, &LUMA_AC)?;
        self.check_huffman(t1, &CHROMA_DC, &CHROMA_AC)?;
        self.check_huffman(t2, &CHROMA_DC, &CHROMA_AC)?;
        Ok(JpegImage {
            subsampling,
            width,
            height,
            restart_interval: self.restart_interval,
            tables,
            scan: &[],
        })
    }

    /// The tables a scan component selects must be the standard ones the
    /// receiver will rebuild; undefined ones are taken to be (see module docs).
    fn check_huffman(
        &self,
        selectors: u8,
        dc: &HuffmanTable,
        ac: &HuffmanTable,
    ) -> Result<(), JpegError> {
        for (class, id, standard) in [(0, selectors >> 4, dc), (1, selectors & 0x0f, ac)] {
            let defined = self
                .huffman
                .get(class)
                .and_then(|c| c.get(usize::from(id)))
                .ok_or(JpegError::BadTableId(marker::SOS, selectors))?;
            if let Some((counts, symbols)) = defined {
                if *counts != standard.counts || *symbols != standard.symbols {
                    return Err(JpegError::NonStandardHuffman);
                }
            }
        }
        Ok(())
    }
}

/// Why a JPEG image cannot be sent as RFC 2435. These describe the local
/// camera's output (or the caller's arguments), never a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JpegError {
    /// The bytes do not start with a JPEG SOI marker.
    NotJpeg,
    /// The file ends inside a marker or segment.
    Truncated,
    /// A byte other than 0xff where a marker should start (at this offset).
    ExpectedMarker(usize),
    /// A marker that does not belong where it is (a second SOF, a restart
    /// marker outside the scan or without a restart interval, a second
    /// scan...).
    UnexpectedMarker(u8),
    /// A segment (named by its marker; 0 for a bad length field) whose
    /// length does not match its contents.
    BadSegment(u8),
    /// Not baseline sequential Huffman JPEG (progressive, extended,
    /// lossless, arithmetic...): the SOFn or DAC marker found.
    NotBaseline(u8),
    /// Sample precision other than 8 bits.
    SamplePrecision(u8),
    /// A 16-bit quantization table.
    WideQuantTable,
    /// A table id out of range in the segment named by its marker.
    BadTableId(u8, u8),
    /// Not three components (grayscale, CMYK...).
    UnsupportedComponents(u8),
    /// Sampling factors (Y, Cb, Cr, packed HV) other than Y 2x1 or 2x2 with
    /// chroma 1x1.
    UnsupportedSampling([u8; 3]),
    /// Cb and Cr use different quantization tables; RFC 2435 shares one.
    ChromaTablesDiffer,
    /// A component uses a quantization table that was never defined.
    MissingQuantTable(u8),
    /// The scan starts before any SOF0 frame header.
    MissingFrameHeader,
    /// The scan is not one interleaved Y, Cb, Cr scan over all 64
    /// coefficients.
    UnsupportedScan,
    /// The Huffman tables are not the standard ones (optimized tables, e.g.
    /// ffmpeg's default or `cjpeg -optimize`), and RFC 2435 receivers
    /// always rebuild the standard ones.
    NonStandardHuffman,
    /// Width or height is 0, not a multiple of 8 or above [`MAX_DIMENSION`].
    BadDimensions {
        /// Width in pixels.
        width: u16,
        /// Height in pixels.
        height: u16,
    },
    /// The scan runs to the end without an EOI marker.
    MissingEoi,
    /// The scan has no bytes.
    EmptyScan,
    /// Non-zero bytes after the EOI marker.
    TrailingData,
    /// The scan is longer than a 24-bit fragment offset can address.
    ScanTooLarge(usize),
    /// The maximum payload size cannot hold the first fragment's headers and
    /// one byte of scan (see [`super::MIN_PAYLOAD_LIMIT`]).
    MaxPayloadTooSmall(usize),
}

impl fmt::Display for JpegError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JpegError::NotJpeg => write!(f, "not a JPEG file (no SOI marker)"),
            JpegError::Truncated => write!(f, "JPEG file ends inside a header"),
            JpegError::ExpectedMarker(at) => write!(f, "expected a marker at byte {at}"),
            JpegError::UnexpectedMarker(m) => write!(f, "unexpected marker 0x{m:02x}"),
            JpegError::BadSegment(0) => write!(f, "segment length below 2"),
            JpegError::BadSegment(m) => write!(f, "malformed segment 0x{m:02x}"),
            JpegError::NotBaseline(m) => {
                write!(f, "not baseline JPEG (marker 0x{m:02x}); RFC 2435 carries baseline only")
            }
            JpegError::SamplePrecision(p) => write!(f, "{p}-bit samples (only 8-bit)"),
            JpegError::WideQuantTable => {
                write!(f, "16-bit quantization table (only 8-bit tables can be sent)")
            }
            JpegError::BadTableId(m, id) => {
                write!(f, "table id 0x{id:02x} out of range in segment 0x{m:02x}")
            }
            JpegError::UnsupportedComponents(n) => {
                write!(f, "{n} components (RFC 2435 carries 3: Y, Cb, Cr)")
            }
            JpegError::UnsupportedSampling([y, cb, cr]) => write!(
                f,
                "sampling Y {}x{}, Cb {}x{}, Cr {}x{}: RFC 2435 carries Y 2x1 (4:2:2) or \
                 Y 2x2 (4:2:0) with chroma 1x1",
                y >> 4,
                y & 15,
                cb >> 4,
                cb & 15,
                cr >> 4,
                cr & 15
            ),
            JpegError::ChromaTablesDiffer => {
                write!(f, "Cb and Cr use different quantization tables")
            }
            JpegError::MissingQuantTable(id) => write!(f, "quantization table {id} not defined"),
            JpegError::MissingFrameHeader => write!(f, "scan before the SOF0 frame header"),
            JpegError::UnsupportedScan => {
                write!(f, "scan is not a single interleaved Y, Cb, Cr baseline scan")
            }
            JpegError::NonStandardHuffman => write!(
                f,
                "Huffman tables are not the standard ones, which RFC 2435 receivers assume \
                 (encode without optimized tables)"
            ),
            JpegError::BadDimensions { width, height } => write!(
                f,
                "{width}x{height}: width and height must be multiples of 8 from 8 to {MAX_DIMENSION}"
            ),
            JpegError::MissingEoi => write!(f, "scan ends without an EOI marker"),
            JpegError::EmptyScan => write!(f, "empty scan"),
            JpegError::TrailingData => write!(f, "non-zero bytes after the EOI marker"),
            JpegError::ScanTooLarge(n) => write!(f, "scan of {n} bytes exceeds 24-bit offsets"),
            JpegError::MaxPayloadTooSmall(n) => write!(
                f,
                "maximum payload of {n} bytes cannot hold the first fragment (at least {})",
                super::MIN_PAYLOAD_LIMIT
            ),
        }
    }
}

impl std::error::Error for JpegError {}
