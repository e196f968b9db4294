//! RGB pictures taken from a screen and the cheap statistics the window
//! tests judge them by: how much of a region is strongly coloured (a video
//! picture is; text on a plain background is not), how much of it changed
//! between two pictures (a moving picture does; a frozen one does not), and
//! the mean colour of a region (a button is where it should be).
//!
//! A region is a [`Rect`] in the picture's coordinates; regions reaching past
//! the picture are cut to it, and a region with nothing left in it is the
//! test's mistake and panics with the sizes involved.

use std::io::{self, Write};
use std::path::Path;

/// A pixel counts as strongly coloured when its largest and smallest channel
/// differ by at least this much: greys, black, white and the dark UI
/// background do not, a video picture's colours mostly do.
pub const COLOURED_SPREAD: u8 = 60;

/// A pixel counts as changed between two pictures when one of its channels
/// moved by more than this: above the flicker of re-encoded JPEG and of
/// scaling, far below what a moving picture does.
pub const CHANGED_DELTA: u8 = 24;

/// A rectangle of pixels: left, top, width, height.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    /// Left edge (first column inside).
    pub x: u32,
    /// Top edge (first row inside).
    pub y: u32,
    /// Width in pixels.
    pub w: u32,
    /// Height in pixels.
    pub h: u32,
}

impl Rect {
    /// The rectangle at (`x`, `y`) of `w` x `h` pixels.
    pub const fn new(x: u32, y: u32, w: u32, h: u32) -> Rect {
        Rect { x, y, w, h }
    }

    /// The rectangle of `w` x `h` pixels centred on (`cx`, `cy`), cut at the
    /// top and left edges of the coordinate space.
    pub fn centred(cx: u32, cy: u32, w: u32, h: u32) -> Rect {
        let (x, y) = (cx.saturating_sub(w / 2), cy.saturating_sub(h / 2));
        Rect::new(x, y, w, h)
    }

    /// Number of pixels inside.
    pub fn area(&self) -> u64 {
        u64::from(self.w) * u64::from(self.h)
    }
}

/// An RGB picture, 8 bits a channel, rows top to bottom.
#[derive(Clone, PartialEq, Eq)]
pub struct RgbImage {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl std::fmt::Debug for RgbImage {
    // Megabytes of pixels help nobody reading a failed assertion.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RgbImage({}x{})", self.width, self.height)
    }
}

impl RgbImage {
    /// A picture from `width * height * 3` bytes of R, G, B; `None` when the
    /// length does not match.
    pub fn from_rgb(width: u32, height: u32, rgb: Vec<u8>) -> Option<RgbImage> {
        let len = (width as usize)
            .checked_mul(height as usize)?
            .checked_mul(3)?;
        (rgb.len() == len).then_some(RgbImage { width, height, rgb })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The whole picture as a region.
    pub fn bounds(&self) -> Rect {
        Rect::new(0, 0, self.width, self.height)
    }

    /// The colour at (`x`, `y`); panics outside the picture.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        assert!(
            x < self.width && y < self.height,
            "pixel ({x}, {y}) outside a {}x{} picture",
            self.width,
            self.height
        );
        let i = 3 * (y as usize * self.width as usize + x as usize);
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// `r` cut to the picture; panics when nothing is left.
    fn clip(&self, r: Rect) -> Rect {
        let x1 = r.x.saturating_add(r.w).min(self.width);
        let y1 = r.y.saturating_add(r.h).min(self.height);
        assert!(
            r.x < x1 && r.y < y1,
            "region {r:?} has no pixels in a {}x{} picture",
            self.width,
            self.height
        );
        Rect::new(r.x, r.y, x1 - r.x, y1 - r.y)
    }

    fn pixels_in(&self, r: Rect) -> impl Iterator<Item = [u8; 3]> + '_ {
        let r = self.clip(r);
        (r.y..r.y + r.h).flat_map(move |y| (r.x..r.x + r.w).map(move |x| self.pixel(x, y)))
    }

    /// The part of the picture inside `r` (cut to the picture) as a picture of its own.
    pub fn crop(&self, r: Rect) -> RgbImage {
        let c = self.clip(r);
        let rgb = self.pixels_in(c).flatten().collect();
        RgbImage {
            width: c.w,
            height: c.h,
            rgb,
        }
    }

    /// Share (0 to 1) of the pixels in `r` for which `test` holds.
    pub fn share(&self, r: Rect, test: impl Fn([u8; 3]) -> bool) -> f64 {
        let area = self.clip(r).area() as f64;
        self.pixels_in(r).filter(|&p| test(p)).count() as f64 / area
    }

    /// Share of the pixels in `r` that are strongly coloured (see [`COLOURED_SPREAD`]).
    pub fn coloured_share(&self, r: Rect) -> f64 {
        self.share(r, is_coloured)
    }

    /// Share of the pixels in `r` that differ from `other`'s at the same
    /// place (see [`CHANGED_DELTA`]); the pictures must be the same size.
    pub fn changed_share(&self, other: &RgbImage, r: Rect) -> f64 {
        assert_eq!(
            (self.width, self.height),
            (other.width, other.height),
            "comparing pictures of different sizes"
        );
        let area = self.clip(r).area() as f64;
        let changed = self
            .pixels_in(r)
            .zip(other.pixels_in(r))
            .filter(|(a, b)| (0..3).any(|c| a[c].abs_diff(b[c]) > CHANGED_DELTA))
            .count();
        changed as f64 / area
    }

    /// Mean red, green and blue over `r`.
    pub fn mean_colour(&self, r: Rect) -> [f64; 3] {
        let area = self.clip(r).area() as f64;
        let mut sum = [0u64; 3];
        for p in self.pixels_in(r) {
            for c in 0..3 {
                sum[c] += u64::from(p[c]);
            }
        }
        sum.map(|s| s as f64 / area)
    }

    /// Writes the picture as a binary PPM (P6), which every image viewer
    /// opens: a failing window test leaves what it saw next to its message.
    pub fn write_ppm(&self, path: &Path) -> io::Result<()> {
        let mut f = io::BufWriter::new(std::fs::File::create(path)?);
        write!(f, "P6\n{} {}\n255\n", self.width, self.height)?;
        f.write_all(&self.rgb)?;
        f.flush()
    }
}

/// Whether `p` is strongly coloured (see [`COLOURED_SPREAD`]).
pub fn is_coloured(p: [u8; 3]) -> bool {
    let (max, min) = (p.iter().max(), p.iter().min());
    matches!((max, min), (Some(&a), Some(&b)) if a - b >= COLOURED_SPREAD)
}

/// Whether every channel of `p` is within `tolerance` of `want`.
pub fn near(p: [f64; 3], want: [u8; 3], tolerance: f64) -> bool {
    (0..3).all(|c| (p[c] - f64::from(want[c])).abs() <= tolerance)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 4x2 picture: left half red, right half grey; bottom-right pixel white.
    fn sample() -> RgbImage {
        let mut rgb = Vec::new();
        for y in 0..2 {
            for x in 0..4 {
                let p = match (x, y) {
                    (3, 1) => [255, 255, 255],
                    (0 | 1, _) => [200, 20, 20],
                    _ => [90, 90, 90],
                };
                rgb.extend_from_slice(&p);
            }
        }
        RgbImage::from_rgb(4, 2, rgb).unwrap()
    }

    #[test]
    fn shares_and_means_count_the_region_only() {
        let img = sample();
        assert_eq!(img.coloured_share(img.bounds()), 0.5);
        assert_eq!(img.coloured_share(Rect::new(0, 0, 2, 2)), 1.0);
        assert_eq!(img.coloured_share(Rect::new(2, 0, 2, 2)), 0.0);
        assert_eq!(img.mean_colour(Rect::new(0, 0, 2, 2)), [200.0, 20.0, 20.0]);
        assert_eq!(img.mean_colour(Rect::new(2, 0, 2, 1)), [90.0, 90.0, 90.0]);
        // A region reaching past the edge is cut to the picture.
        assert_eq!(img.coloured_share(Rect::new(2, 0, 100, 100)), 0.0);
        assert_eq!(img.crop(Rect::new(3, 1, 9, 9)).pixel(0, 0), [255; 3]);
    }

    #[test]
    fn changed_share_ignores_small_differences() {
        let a = sample();
        let mut rgb = a.rgb.clone();
        rgb[0] += CHANGED_DELTA; // pixel (0, 0): within the tolerance
        rgb[3] = 0; // pixel (1, 0): changed
        let b = RgbImage::from_rgb(4, 2, rgb).unwrap();
        assert_eq!(a.changed_share(&b, a.bounds()), 1.0 / 8.0);
        assert_eq!(a.changed_share(&a, a.bounds()), 0.0);
    }

    #[test]
    fn grey_and_near_grey_are_not_coloured() {
        assert!(!is_coloured([24, 28, 36]));
        assert!(!is_coloured([255, 255, 255]));
        assert!(is_coloured([46, 160, 67]));
        assert!(is_coloured([208, 48, 48]));
    }

    #[test]
    #[should_panic(expected = "has no pixels")]
    fn a_region_outside_the_picture_is_a_mistake() {
        sample().coloured_share(Rect::new(4, 0, 1, 1));
    }

    #[test]
    fn wrong_lengths_are_refused_and_ppm_is_written() {
        assert!(RgbImage::from_rgb(2, 2, vec![0; 11]).is_none());
        let path = std::env::temp_dir().join(format!("testkit-ppm-{}.ppm", std::process::id()));
        sample().write_ppm(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(bytes.starts_with(b"P6\n4 2\n255\n"));
        assert_eq!(bytes.len(), 11 + 24);
    }
}
