//! The synthetic camera's picture: a moving test pattern with the frame
//! number and capture time written into it as a strip of black and white
//! cells, so the receiving side can read them back after JPEG compression and
//! measure capture-to-playout latency and spot frozen or skipped frames.
//!
//! The cells are 8x8 pixels aligned to JPEG's 8x8 blocks and are either very
//! dark or very bright, so JPEG at any usable quality keeps them apart; a
//! checksum rejects a strip that did not survive. Pictures are planar YUV
//! 4:2:0 (I420), what the JPEG encoder takes without a colour conversion.

/// Side of one code cell in pixels (one JPEG block).
pub const CELL: usize = 8;
/// Bits in the strip: 32 frame number, 48 capture time (µs), 8 checksum.
pub const CODE_BITS: usize = 32 + 48 + 8;
/// Smallest picture width that holds a useful strip (rows of at least 16 cells).
pub const MIN_WIDTH: usize = 16 * CELL;
/// Smallest picture height: the strip plus some pattern.
pub const MIN_HEIGHT: usize = 96;

const DARK: u8 = 16;
const BRIGHT: u8 = 235;

/// What the strip carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Frame number since the source started.
    pub frame: u32,
    /// Capture time in microseconds on the sender's media clock (48 bits kept).
    pub capture_us: u64,
}

/// A planar YUV 4:2:0 picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Yuv420 {
    /// Width in pixels (even).
    pub width: usize,
    /// Height in pixels (even).
    pub height: usize,
    /// Luma, `width * height` bytes.
    pub y: Vec<u8>,
    /// Blue-difference chroma, `width/2 * height/2` bytes.
    pub u: Vec<u8>,
    /// Red-difference chroma, `width/2 * height/2` bytes.
    pub v: Vec<u8>,
}

impl Yuv420 {
    /// A black picture of this size (dimensions rounded down to even).
    pub fn new(width: usize, height: usize) -> Self {
        let (w, h) = (width & !1, height & !1);
        Yuv420 {
            width: w,
            height: h,
            y: vec![DARK; w * h],
            u: vec![128; w / 2 * (h / 2)],
            v: vec![128; w / 2 * (h / 2)],
        }
    }
}

fn checksum(bits: u128) -> u8 {
    // Folding XOR with a rotation: any single flipped cell changes it.
    let mut c: u8 = 0x5a;
    for i in 0..10 {
        c = c.rotate_left(3) ^ (bits >> (8 * i)) as u8;
    }
    c
}

fn payload(stamp: Stamp) -> u128 {
    u128::from(stamp.frame) | (u128::from(stamp.capture_us & 0xffff_ffff_ffff) << 32)
}

/// Cells per strip row for a picture this wide.
fn cells_per_row(width: usize) -> usize {
    width / CELL
}

/// Rows of cells the strip takes.
fn strip_rows(width: usize) -> usize {
    CODE_BITS.div_ceil(cells_per_row(width).max(1))
}

/// Draws the test pattern with `stamp` into `pic` (which must be at least
/// [`MIN_WIDTH`] x [`MIN_HEIGHT`]; smaller pictures get the pattern without a strip).
pub fn draw(pic: &mut Yuv420, stamp: Stamp) {
    let (w, h) = (pic.width, pic.height);
    let has_strip = w >= MIN_WIDTH && h >= MIN_HEIGHT;
    let strip_h = if has_strip { strip_rows(w) * CELL } else { 0 };
    // Moving diagonal bars below the strip: visible motion, cheap to draw.
    // The bars repeat every 32 x 8 pixels, so the frame number only matters
    // modulo 128 steps of 4; reducing first keeps 32-bit targets from
    // overflowing the additions below.
    let shift = (stamp.frame % 128) as usize * 4;
    for row in strip_h..h {
        let line = &mut pic.y[row * w..(row + 1) * w];
        for (x, px) in line.iter_mut().enumerate() {
            let band = ((x + row + shift) / 32) % 8;
            *px = 40 + (band as u8) * 25;
        }
    }
    let (cw, ch) = (w / 2, h / 2);
    for row in strip_h / 2..ch {
        for x in 0..cw {
            let i = row * cw + x;
            pic.u[i] = (64 + ((x + shift / 2) % 128)) as u8;
            pic.v[i] = (64 + ((row + shift / 4) % 128)) as u8;
        }
    }
    if !has_strip {
        return;
    }
    let data = payload(stamp);
    let bits = data | (u128::from(checksum(data)) << 80);
    let per_row = cells_per_row(w);
    for i in 0..CODE_BITS {
        let on = (bits >> i) & 1 == 1;
        let (cx, cy) = (i % per_row, i / per_row);
        for dy in 0..CELL {
            let start = (cy * CELL + dy) * w + cx * CELL;
            pic.y[start..start + CELL].fill(if on { BRIGHT } else { DARK });
        }
    }
    // Neutral chroma under the strip so colour bleeding cannot shift luma.
    for row in 0..strip_h / 2 {
        pic.u[row * cw..(row + 1) * cw].fill(128);
        pic.v[row * cw..(row + 1) * cw].fill(128);
    }
}

/// Reads the stamp back from a luma plane (`width * height` bytes, e.g. a
/// decoded received frame); `None` when there is no valid strip.
pub fn read(y: &[u8], width: usize, height: usize) -> Option<Stamp> {
    if width < MIN_WIDTH || height < MIN_HEIGHT || y.len() < width * height {
        return None;
    }
    let per_row = cells_per_row(width);
    let mut bits: u128 = 0;
    for i in 0..CODE_BITS {
        let (cx, cy) = (i % per_row, i / per_row);
        // The centre 4x4 of the cell: block edges suffer most from compression.
        let mut sum = 0u32;
        for dy in 2..6 {
            let start = (cy * CELL + dy) * width + cx * CELL + 2;
            sum += y
                .get(start..start + 4)?
                .iter()
                .map(|&p| u32::from(p))
                .sum::<u32>();
        }
        if sum / 16 >= 128 {
            bits |= 1 << i;
        }
    }
    let data = bits & ((1u128 << 80) - 1);
    if (bits >> 80) as u8 != checksum(data) {
        return None;
    }
    Some(Stamp {
        frame: data as u32,
        capture_us: (data >> 32) as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_survive_a_round_trip_at_common_sizes() {
        for (w, h) in [(128, 96), (320, 240), (640, 480), (1280, 720)] {
            let mut pic = Yuv420::new(w, h);
            for frame in [0u32, 1, 29, 12345, u32::MAX] {
                let stamp = Stamp {
                    frame,
                    capture_us: 0xabcd_1234_5678,
                };
                draw(&mut pic, stamp);
                assert_eq!(read(&pic.y, w, h), Some(stamp), "{w}x{h} frame {frame}");
            }
        }
    }

    #[test]
    fn stamps_survive_noise_like_compression_leaves() {
        let (w, h) = (320, 240);
        let mut pic = Yuv420::new(w, h);
        let stamp = Stamp {
            frame: 77,
            capture_us: 1_000_000,
        };
        draw(&mut pic, stamp);
        let mut x: u32 = 12345;
        for p in pic.y.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let noise = (x % 81) as i32 - 40;
            *p = (i32::from(*p) + noise).clamp(0, 255) as u8;
        }
        assert_eq!(read(&pic.y, w, h), Some(stamp));
    }

    #[test]
    fn a_damaged_strip_is_rejected() {
        let (w, h) = (320, 240);
        let mut pic = Yuv420::new(w, h);
        draw(
            &mut pic,
            Stamp {
                frame: 5,
                capture_us: 6,
            },
        );
        // Flip one cell.
        for dy in 0..CELL {
            let start = dy * w + 3 * CELL;
            for p in &mut pic.y[start..start + CELL] {
                *p = 255 - *p;
            }
        }
        assert_eq!(read(&pic.y, w, h), None);
        assert_eq!(read(&pic.y[..100], w, h), None, "short plane");
        assert_eq!(read(&pic.y, 64, 48), None, "too small for a strip");
    }

    #[test]
    fn the_pattern_moves() {
        let mut a = Yuv420::new(320, 240);
        let mut b = Yuv420::new(320, 240);
        draw(
            &mut a,
            Stamp {
                frame: 1,
                capture_us: 0,
            },
        );
        draw(
            &mut b,
            Stamp {
                frame: 2,
                capture_us: 0,
            },
        );
        let below = strip_rows(320) * CELL * 320;
        assert_ne!(a.y[below..], b.y[below..]);
    }
}
