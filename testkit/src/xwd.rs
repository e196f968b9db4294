//! The X Window Dump format that `xwd` writes, read into an [`RgbImage`]:
//! how the window tests see a screen without an image library.
//!
//! An XWD file is a header of 25 big-endian 32-bit fields (its `header_size`
//! includes the window name that follows them), `ncolors` colormap entries of
//! 12 bytes, then the pixels in Z format: `height` rows of `bytes_per_line`
//! bytes, each pixel `bits_per_pixel` wide in the server's `byte_order`, its
//! channels picked out by the red, green and blue masks. Only true-colour
//! pictures (what Xvfb gives at depth 16, 24 or 32) are read; anything else,
//! and any length that does not add up, is an [`XwdError`], never a panic.

use crate::image::RgbImage;
use std::fmt;

/// Bytes of the fixed header fields (25 of 4 bytes).
pub const HEADER_FIELDS_LEN: usize = 25 * 4;
/// The only file version `xwd` has written since X11.
pub const FILE_VERSION: u32 = 7;
/// Bytes of one colormap entry (pixel u32, red, green, blue u16, flags, pad).
pub const COLOR_ENTRY_LEN: usize = 12;
/// `pixmap_format` of Z format: whole pixels one after another.
pub const Z_PIXMAP: u32 = 2;
/// `visual_class` of TrueColor.
pub const TRUE_COLOR: u32 = 4;
/// `visual_class` of DirectColor, whose masks also name the channels.
pub const DIRECT_COLOR: u32 = 5;
/// `byte_order` of least significant byte first.
pub const LSB_FIRST: u32 = 0;
/// `byte_order` of most significant byte first.
pub const MSB_FIRST: u32 = 1;
/// Largest width or height read: far beyond any screen, small enough that a
/// garbage header cannot ask for gigabytes.
pub const MAX_SIDE: u32 = 16_384;

/// Why bytes are not a readable XWD picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XwdError {
    /// Fewer bytes than a part of the file needs.
    Truncated {
        /// The part that is cut short.
        part: &'static str,
        /// Bytes it needs, counted from the start of the file.
        need: usize,
        /// Bytes there are.
        have: usize,
    },
    /// A header field has a value this reader does not take.
    Unsupported {
        /// The field's name as in X11/XWDFile.h.
        field: &'static str,
        /// Its value.
        value: u32,
    },
}

impl fmt::Display for XwdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XwdError::Truncated { part, need, have } => {
                write!(f, "XWD {part} cut short: need {need} bytes, have {have}")
            }
            XwdError::Unsupported { field, value } => {
                write!(f, "XWD {field} {value} is not supported")
            }
        }
    }
}

impl std::error::Error for XwdError {}

/// The header fields the reader uses, by their index among the 25.
mod field {
    pub const HEADER_SIZE: usize = 0;
    pub const FILE_VERSION: usize = 1;
    pub const PIXMAP_FORMAT: usize = 2;
    pub const WIDTH: usize = 4;
    pub const HEIGHT: usize = 5;
    pub const BYTE_ORDER: usize = 7;
    pub const BITS_PER_PIXEL: usize = 11;
    pub const BYTES_PER_LINE: usize = 12;
    pub const VISUAL_CLASS: usize = 13;
    pub const RED_MASK: usize = 14;
    pub const GREEN_MASK: usize = 15;
    pub const BLUE_MASK: usize = 16;
    pub const NCOLORS: usize = 19;
}

/// One colour channel's place in a pixel value: mask, shift and width.
#[derive(Clone, Copy)]
struct Channel {
    mask: u32,
    shift: u32,
    max: u32,
}

impl Channel {
    fn new(mask: u32, field: &'static str) -> Result<Channel, XwdError> {
        let shift = mask.trailing_zeros();
        // A channel is a non-empty run of ones.
        if mask == 0 || (mask >> shift).count_ones() != 32 - (mask >> shift).leading_zeros() {
            return Err(XwdError::Unsupported { field, value: mask });
        }
        Ok(Channel {
            mask,
            shift,
            max: mask >> shift,
        })
    }

    /// The channel's value in `pixel`, scaled to 0..=255.
    fn get(&self, pixel: u32) -> u8 {
        let v = (pixel & self.mask) >> self.shift;
        ((u64::from(v) * 255 + u64::from(self.max) / 2) / u64::from(self.max)) as u8
    }
}

/// Reads an XWD file's bytes into an RGB picture.
pub fn parse(bytes: &[u8]) -> Result<RgbImage, XwdError> {
    // Sizes in u64: a garbage header cannot overflow them on a 32-bit board.
    let need = |part, need: u64| {
        if (bytes.len() as u64) < need {
            Err(XwdError::Truncated {
                part,
                need: usize::try_from(need).unwrap_or(usize::MAX),
                have: bytes.len(),
            })
        } else {
            Ok(())
        }
    };
    need("header", HEADER_FIELDS_LEN as u64)?;
    let h = |i: usize| {
        u32::from_be_bytes([
            bytes[4 * i],
            bytes[4 * i + 1],
            bytes[4 * i + 2],
            bytes[4 * i + 3],
        ])
    };
    let expect = |i: usize, name: &'static str, ok: &dyn Fn(u32) -> bool| {
        let v = h(i);
        if ok(v) {
            Ok(v)
        } else {
            Err(XwdError::Unsupported {
                field: name,
                value: v,
            })
        }
    };
    let header_size = expect(field::HEADER_SIZE, "header_size", &|v| {
        v as usize >= HEADER_FIELDS_LEN
    })? as usize;
    expect(field::FILE_VERSION, "file_version", &|v| v == FILE_VERSION)?;
    expect(field::PIXMAP_FORMAT, "pixmap_format", &|v| v == Z_PIXMAP)?;
    expect(field::VISUAL_CLASS, "visual_class", &|v| {
        v == TRUE_COLOR || v == DIRECT_COLOR
    })?;
    let width = expect(field::WIDTH, "pixmap_width", &|v| v <= MAX_SIDE)?;
    let height = expect(field::HEIGHT, "pixmap_height", &|v| v <= MAX_SIDE)?;
    let bpp = expect(field::BITS_PER_PIXEL, "bits_per_pixel", &|v| {
        matches!(v, 16 | 24 | 32)
    })?;
    let order = expect(field::BYTE_ORDER, "byte_order", &|v| {
        v == LSB_FIRST || v == MSB_FIRST
    })?;
    let px_bytes = (bpp / 8) as usize;
    let line = expect(field::BYTES_PER_LINE, "bytes_per_line", &|v| {
        v as usize >= width as usize * px_bytes
    })? as usize;
    let ncolors = expect(field::NCOLORS, "ncolors", &|v| v <= 1 << 16)? as usize;
    let channels = [
        Channel::new(h(field::RED_MASK), "red_mask")?,
        Channel::new(h(field::GREEN_MASK), "green_mask")?,
        Channel::new(h(field::BLUE_MASK), "blue_mask")?,
    ];

    let start = header_size as u64 + (ncolors * COLOR_ENTRY_LEN) as u64;
    need("header and colormap", start)?;
    // The last row need not be padded to bytes_per_line.
    let end = match height {
        0 => start,
        _ => start + u64::from(height - 1) * line as u64 + u64::from(width) * px_bytes as u64,
    };
    need("pixels", end)?;
    // It fits in usize now: it is at most the length of `bytes`.
    let start = start as usize;

    let mut rgb = Vec::with_capacity(width as usize * height as usize * 3);
    for y in 0..height as usize {
        let row = &bytes[start + y * line..][..width as usize * px_bytes];
        for px in row.chunks_exact(px_bytes) {
            let value = px.iter().enumerate().fold(0u32, |acc, (i, &b)| {
                let shift = if order == MSB_FIRST {
                    8 * (px_bytes - 1 - i)
                } else {
                    8 * i
                };
                acc | (u32::from(b) << shift)
            });
            rgb.extend(channels.iter().map(|c| c.get(value)));
        }
    }
    // The length matches by construction; from_rgb only re-checks it.
    RgbImage::from_rgb(width, height, rgb).ok_or(XwdError::Unsupported {
        field: "pixmap_width",
        value: width,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An XWD file as `xwd` writes it, with `pixels` already in the file's layout.
    #[allow(clippy::too_many_arguments)]
    fn file(
        width: u32,
        height: u32,
        bpp: u32,
        order: u32,
        line: u32,
        masks: [u32; 3],
        ncolors: u32,
        pixels: &[u8],
    ) -> Vec<u8> {
        let name = b"xwdump\0\0";
        let mut f = [0u32; 25];
        f[field::HEADER_SIZE] = (HEADER_FIELDS_LEN + name.len()) as u32;
        f[field::FILE_VERSION] = FILE_VERSION;
        f[field::PIXMAP_FORMAT] = Z_PIXMAP;
        f[3] = 24; // depth
        f[field::WIDTH] = width;
        f[field::HEIGHT] = height;
        f[field::BYTE_ORDER] = order;
        f[field::BITS_PER_PIXEL] = bpp;
        f[field::BYTES_PER_LINE] = line;
        f[field::VISUAL_CLASS] = TRUE_COLOR;
        f[field::RED_MASK] = masks[0];
        f[field::GREEN_MASK] = masks[1];
        f[field::BLUE_MASK] = masks[2];
        f[field::NCOLORS] = ncolors;
        let mut out: Vec<u8> = f.iter().flat_map(|v| v.to_be_bytes()).collect();
        out.extend_from_slice(name);
        out.extend(std::iter::repeat_n(
            0xa5,
            ncolors as usize * COLOR_ENTRY_LEN,
        ));
        out.extend_from_slice(pixels);
        out
    }

    const RGB888: [u32; 3] = [0xff0000, 0x00ff00, 0x0000ff];

    #[test]
    fn lsb_first_32_bit_rows_with_padding_and_a_colormap() {
        // 2x2, 12 bytes a line (4 of padding), colours ff8000, 102030 / 000000, ffffff.
        let mut px = vec![];
        px.extend_from_slice(&[0x00, 0x80, 0xff, 0x00, 0x30, 0x20, 0x10, 0x00, 9, 9, 9, 9]);
        px.extend_from_slice(&[0, 0, 0, 0, 0xff, 0xff, 0xff, 0]);
        let img = parse(&file(2, 2, 32, LSB_FIRST, 12, RGB888, 3, &px)).unwrap();
        assert_eq!((img.width(), img.height()), (2, 2));
        assert_eq!(img.pixel(0, 0), [0xff, 0x80, 0x00]);
        assert_eq!(img.pixel(1, 0), [0x10, 0x20, 0x30]);
        assert_eq!(img.pixel(0, 1), [0, 0, 0]);
        assert_eq!(img.pixel(1, 1), [0xff, 0xff, 0xff]);
    }

    #[test]
    fn msb_first_and_16_bit_pixels() {
        let px = [0x00, 0xff, 0x80, 0x00];
        let img = parse(&file(1, 1, 32, MSB_FIRST, 4, RGB888, 0, &px)).unwrap();
        assert_eq!(img.pixel(0, 0), [0xff, 0x80, 0x00]);
        // RGB565, least significant byte first: pure green then pure blue.
        let px = [0xe0, 0x07, 0x1f, 0x00];
        let img = parse(&file(
            2,
            1,
            16,
            LSB_FIRST,
            4,
            [0xf800, 0x07e0, 0x001f],
            0,
            &px,
        ))
        .unwrap();
        assert_eq!(img.pixel(0, 0), [0, 255, 0]);
        assert_eq!(img.pixel(1, 0), [0, 0, 255]);
    }

    #[test]
    fn every_cut_short_file_is_an_error() {
        let px = vec![0u8; 2 * 8];
        let whole = file(2, 2, 32, LSB_FIRST, 8, RGB888, 2, &px);
        assert!(parse(&whole).is_ok());
        for len in 0..whole.len() {
            assert!(
                matches!(parse(&whole[..len]), Err(XwdError::Truncated { .. })),
                "{len} bytes"
            );
        }
    }

    #[test]
    fn unsupported_headers_are_errors() {
        let ok = file(1, 1, 32, LSB_FIRST, 4, RGB888, 0, &[0; 4]);
        let with = |i: usize, v: u32| {
            let mut f = ok.clone();
            f[4 * i..4 * i + 4].copy_from_slice(&v.to_be_bytes());
            parse(&f)
        };
        for (i, v, name) in [
            (field::FILE_VERSION, 6, "file_version"),
            (field::PIXMAP_FORMAT, 1, "pixmap_format"),
            (field::VISUAL_CLASS, 3, "visual_class"),
            (field::BITS_PER_PIXEL, 8, "bits_per_pixel"),
            (field::BYTE_ORDER, 2, "byte_order"),
            (field::BYTES_PER_LINE, 3, "bytes_per_line"),
            (field::RED_MASK, 0, "red_mask"),
            (field::GREEN_MASK, 0x0f0f, "green_mask"),
            (field::WIDTH, MAX_SIDE + 1, "pixmap_width"),
            (field::HEADER_SIZE, 8, "header_size"),
        ] {
            match with(i, v) {
                Err(XwdError::Unsupported { field, value }) => {
                    assert_eq!((field, value), (name, v))
                }
                other => panic!("{name} {v}: {other:?}"),
            }
        }
        // A huge colormap count cannot make the reader allocate or index past the end.
        assert!(with(field::NCOLORS, u32::MAX).is_err());
        assert!(with(field::NCOLORS, 60_000).is_err());
    }

    /// A real dump of a 64x48 Xvfb screen (depth 24) after
    /// `xsetroot -solid '#ff8000'`, made by tests/data/make-xwd-fixture.sh.
    #[test]
    fn a_real_xvfb_dump_is_read() {
        let bytes = include_bytes!("../tests/data/xvfb-64x48-ff8000.xwd");
        let img = parse(bytes).unwrap();
        assert_eq!((img.width(), img.height()), (64, 48));
        assert_eq!(img.mean_colour(img.bounds()), [255.0, 128.0, 0.0]);
    }
}
