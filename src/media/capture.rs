//! What a camera offers and what a call takes from it, without touching the
//! camera: choosing the capture mode closest to the size and rate a call
//! wants (preferring the camera's own MJPEG, which goes out without
//! re-encoding), trimming an MJPEG buffer to its image, and turning the raw
//! formats cameras offer (YUYV 4:2:2, which most webcams do, and the 4:2:0
//! layouts I420 and NV12) into the planar 4:2:0 the JPEG encoder takes (a
//! repack, and for YUYV a chroma average; no RGB round trip). The peer's camera
//! module does the V4L2 ioctls and hands the bytes here.

use super::jpeg::MAX_DIMENSION;
use super::pattern::Yuv420;
use std::fmt;

/// The pixel formats peercall captures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PixelFormat {
    /// Motion JPEG: each buffer one JPEG image, sent as it is.
    Mjpeg,
    /// Packed 4:2:2, Y0 U Y1 V: encoded to JPEG here.
    Yuyv,
    /// Planar 4:2:0, Y then U then V (V4L2 "YU12"): encoded to JPEG here.
    I420,
    /// 4:2:0 with a Y plane and one interleaved UV plane: encoded here.
    Nv12,
}

impl PixelFormat {
    /// The format behind a V4L2 four-character code, if peercall can use it.
    pub fn from_fourcc(code: [u8; 4]) -> Option<PixelFormat> {
        match &code {
            b"MJPG" | b"JPEG" => Some(PixelFormat::Mjpeg),
            b"YUYV" => Some(PixelFormat::Yuyv),
            b"YU12" => Some(PixelFormat::I420),
            b"NV12" => Some(PixelFormat::Nv12),
            _ => None,
        }
    }

    /// The V4L2 four-character code.
    pub fn fourcc(self) -> [u8; 4] {
        match self {
            PixelFormat::Mjpeg => *b"MJPG",
            PixelFormat::Yuyv => *b"YUYV",
            PixelFormat::I420 => *b"YU12",
            PixelFormat::Nv12 => *b"NV12",
        }
    }

    /// Whether frames in this format are raw pictures (encoded here) rather
    /// than JPEG images.
    pub fn is_raw(self) -> bool {
        self != PixelFormat::Mjpeg
    }

    /// Among modes of the same size and rate: the camera's JPEG first (no
    /// encoding), then the raw layouts cheapest to repack.
    fn preference(self) -> u8 {
        match self {
            PixelFormat::Mjpeg => 0,
            PixelFormat::I420 => 1,
            PixelFormat::Nv12 => 2,
            PixelFormat::Yuyv => 3,
        }
    }
}

impl fmt::Display for PixelFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PixelFormat::Mjpeg => "MJPEG",
            PixelFormat::Yuyv => "YUYV",
            PixelFormat::I420 => "I420",
            PixelFormat::Nv12 => "NV12",
        })
    }
}

/// One way a camera can capture: format, size and frame rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mode {
    /// Pixel format.
    pub format: PixelFormat,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}x{} at {} fps",
            self.format, self.width, self.height, self.fps
        )
    }
}

/// Whether RTP/JPEG can carry pictures of this size: RFC 2435 counts width
/// and height in 8-pixel blocks, at most 255 of them (2040 pixels).
pub fn carriable(width: u32, height: u32) -> bool {
    width > 0
        && height > 0
        && width % 8 == 0
        && height % 8 == 0
        && width <= u32::from(MAX_DIMENSION)
        && height <= u32::from(MAX_DIMENSION)
}

/// The offered mode closest to `width` x `height` at `fps`: the nearest
/// picture area (on a log scale, so half and double the pixels are equally
/// far) with the nearest shape, then the camera's MJPEG over raw at that
/// size, then the nearest frame rate (the higher on a tie). Modes RTP/JPEG
/// cannot carry are never chosen. `None` when nothing is usable.
pub fn choose(offered: &[Mode], width: u32, height: u32, fps: u32) -> Option<Mode> {
    let want_area = f64::from(width.max(1)) * f64::from(height.max(1));
    let want_aspect = f64::from(width.max(1)) / f64::from(height.max(1));
    let size_cost = |m: &Mode| {
        let area = f64::from(m.width) * f64::from(m.height);
        let aspect = f64::from(m.width) / f64::from(m.height);
        // Micro-units keep the comparison exact and total.
        ((area / want_area).ln().abs() * 1e6) as u64
            + ((aspect / want_aspect).ln().abs() * 1e6) as u64
    };
    offered
        .iter()
        .filter(|m| carriable(m.width, m.height) && m.fps > 0)
        .min_by_key(|m| {
            (
                size_cost(m),
                m.format != PixelFormat::Mjpeg,
                m.fps.abs_diff(fps),
                m.format.preference(),
                u32::MAX - m.fps,
            )
        })
        .copied()
}

/// The JPEG image in an MJPEG capture buffer: from its start-of-image to
/// its last end-of-image marker. Drivers may report the whole buffer as used,
/// the image followed by padding; RTP/JPEG wants the image alone.
pub fn mjpeg_image(buf: &[u8]) -> Option<&[u8]> {
    if buf.len() < 4 || buf[..2] != [0xff, 0xd8] {
        return None;
    }
    let end = buf.windows(2).rposition(|w| w == [0xff, 0xd9])?;
    Some(&buf[..end + 2])
}

/// Why a raw picture could not be converted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureError {
    /// Width or height is zero or odd.
    BadSize(u32, u32),
    /// MJPEG frames are images, not raw pictures.
    NotRaw,
    /// The buffer holds fewer bytes than the size and stride need.
    Short {
        /// Bytes needed.
        need: usize,
        /// Bytes there.
        got: usize,
    },
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::BadSize(w, h) => write!(f, "{w}x{h} is not an even picture size"),
            CaptureError::NotRaw => f.write_str("an MJPEG frame is not a raw picture"),
            CaptureError::Short { need, got } => {
                write!(
                    f,
                    "capture buffer holds {got} bytes, the picture needs {need}"
                )
            }
        }
    }
}

impl std::error::Error for CaptureError {}

/// The size [`shrink_i420`] makes of a `width`x`height` picture at `scale`
/// (1 keeps it).
pub fn shrunk_size(width: usize, height: usize, scale: usize) -> (usize, usize) {
    if scale <= 1 {
        return (width, height);
    }
    (
        (width / scale / 16 * 16).max(16),
        (height / scale / 16 * 16).max(16),
    )
}

/// The picture shrunk by `scale` each way (1 copies it), each output pixel
/// the average of the `scale × scale` block it stands for, into `dst`
/// (resized to fit). The size is rounded down to whole 16-pixel blocks, the
/// 4:2:0 JPEG unit, and is at least 16x16. The rate control uses this to
/// send a smaller picture behind a slow link.
pub fn shrink_i420(src: &Yuv420, scale: usize, dst: &mut Yuv420) {
    let scale = scale.max(1);
    let (w, h) = shrunk_size(src.width, src.height, scale);
    if dst.width != w || dst.height != h {
        *dst = Yuv420::new(w, h);
    }
    let plane = |from: &[u8], fw: usize, fh: usize, to: &mut [u8], tw: usize, th: usize| {
        for ty in 0..th {
            for tx in 0..tw {
                let mut sum = 0u32;
                let mut n = 0u32;
                for dy in 0..scale {
                    for dx in 0..scale {
                        let (x, y) = (tx * scale + dx, ty * scale + dy);
                        if x < fw && y < fh {
                            sum += u32::from(from.get(y * fw + x).copied().unwrap_or(0));
                            n += 1;
                        }
                    }
                }
                if let Some(px) = to.get_mut(ty * tw + tx) {
                    *px = (sum / n.max(1)) as u8;
                }
            }
        }
    };
    plane(&src.y, src.width, src.height, &mut dst.y, w, h);
    let (sw, sh) = (src.width / 2, src.height / 2);
    plane(&src.u, sw, sh, &mut dst.u, w / 2, h / 2);
    plane(&src.v, sw, sh, &mut dst.v, w / 2, h / 2);
}

/// Converts one raw picture in `format` (`stride`: bytes a row of its first
/// plane, as the driver reports it) into `out` as planar 4:2:0.
pub fn raw_to_i420(
    format: PixelFormat,
    src: &[u8],
    width: u32,
    height: u32,
    stride: usize,
    out: &mut Yuv420,
) -> Result<(), CaptureError> {
    match format {
        PixelFormat::Mjpeg => Err(CaptureError::NotRaw),
        PixelFormat::Yuyv => yuyv_to_i420(src, width, height, stride, out),
        PixelFormat::I420 | PixelFormat::Nv12 => {
            planar_to_i420(format, src, width, height, stride, out)
        }
    }
}

/// The picture's size in pixels, when it is one 4:2:0 can hold.
fn even_size(width: u32, height: u32) -> Result<(usize, usize), CaptureError> {
    if width == 0 || height == 0 || width % 2 != 0 || height % 2 != 0 {
        return Err(CaptureError::BadSize(width, height));
    }
    Ok((width as usize, height as usize))
}

/// Checks `src` holds `need` bytes, then sizes `out` for a `w` x `h` picture.
fn prepare(
    src: &[u8],
    need: usize,
    w: usize,
    h: usize,
    out: &mut Yuv420,
) -> Result<(), CaptureError> {
    if src.len() < need {
        return Err(CaptureError::Short {
            need,
            got: src.len(),
        });
    }
    let chroma = (w / 2) * (h / 2);
    out.width = w;
    out.height = h;
    out.y.resize(w * h, 0);
    out.u.resize(chroma, 0);
    out.v.resize(chroma, 0);
    Ok(())
}

/// I420 and NV12: a Y plane of `stride`-byte rows, then for I420 a U and a
/// V plane of half-stride rows, for NV12 one UV plane of `stride`-byte rows.
fn planar_to_i420(
    format: PixelFormat,
    src: &[u8],
    width: u32,
    height: u32,
    stride: usize,
    out: &mut Yuv420,
) -> Result<(), CaptureError> {
    let (w, h) = even_size(width, height)?;
    let (cw, ch) = (w / 2, h / 2);
    let stride = stride.max(w);
    let cstride = if format == PixelFormat::Nv12 {
        stride
    } else {
        stride / 2
    };
    let y_len = stride * h;
    let need = match format {
        PixelFormat::Nv12 => y_len + cstride * (ch - 1) + 2 * cw,
        _ => y_len + cstride * ch + cstride * (ch - 1) + cw,
    };
    prepare(src, need, w, h, out)?;
    for row in 0..h {
        out.y[row * w..(row + 1) * w].copy_from_slice(&src[row * stride..row * stride + w]);
    }
    for row in 0..ch {
        let (u, v) = (
            &mut out.u[row * cw..(row + 1) * cw],
            &mut out.v[row * cw..(row + 1) * cw],
        );
        if format == PixelFormat::Nv12 {
            let uv = &src[y_len + row * cstride..y_len + row * cstride + 2 * cw];
            for (i, pair) in uv.chunks_exact(2).enumerate() {
                u[i] = pair[0];
                v[i] = pair[1];
            }
        } else {
            let u_at = y_len + row * cstride;
            let v_at = y_len + cstride * ch + row * cstride;
            u.copy_from_slice(&src[u_at..u_at + cw]);
            v.copy_from_slice(&src[v_at..v_at + cw]);
        }
    }
    Ok(())
}

/// Repacks one YUYV picture (`stride` bytes a row) into `out` as planar 4:2:0,
/// averaging the chroma of each pair of rows. `out` is resized to the picture.
pub fn yuyv_to_i420(
    src: &[u8],
    width: u32,
    height: u32,
    stride: usize,
    out: &mut Yuv420,
) -> Result<(), CaptureError> {
    let (w, h) = even_size(width, height)?;
    let stride = stride.max(2 * w);
    prepare(src, stride * (h - 1) + 2 * w, w, h, out)?;
    let (cw, ch) = (w / 2, h / 2);
    for row in 0..h {
        let line = &src[row * stride..row * stride + 2 * w];
        for (y, px) in out.y[row * w..(row + 1) * w]
            .iter_mut()
            .zip(line.iter().step_by(2))
        {
            *y = *px;
        }
    }
    for crow in 0..ch {
        let top = &src[2 * crow * stride..2 * crow * stride + 2 * w];
        let bottom = &src[(2 * crow + 1) * stride..(2 * crow + 1) * stride + 2 * w];
        let (u_row, v_row) = (
            &mut out.u[crow * cw..(crow + 1) * cw],
            &mut out.v[crow * cw..(crow + 1) * cw],
        );
        for (i, (t, b)) in top.chunks_exact(4).zip(bottom.chunks_exact(4)).enumerate() {
            // Rounded average of the two rows' samples.
            u_row[i] = (u16::from(t[1]) + u16::from(b[1])).div_ceil(2) as u8;
            v_row[i] = (u16::from(t[3]) + u16::from(b[3])).div_ceil(2) as u8;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(format: PixelFormat, width: u32, height: u32, fps: u32) -> Mode {
        Mode {
            format,
            width,
            height,
            fps,
        }
    }

    #[test]
    fn shrinking_averages_blocks_and_keeps_whole_jpeg_units() {
        let mut src = Yuv420::new(64, 48);
        for (i, p) in src.y.iter_mut().enumerate() {
            // Columns alternate 0 and 200: each 2x2 block averages 100.
            *p = if i % 2 == 0 { 0 } else { 200 };
        }
        src.u.fill(50);
        src.v.fill(250);
        let mut dst = Yuv420::new(2, 2);
        shrink_i420(&src, 2, &mut dst);
        assert_eq!(
            (dst.width, dst.height),
            (32, 16),
            "24 rows round down to 16"
        );
        assert!(dst.y.iter().all(|&p| p == 100));
        assert!(dst.u.iter().all(|&p| p == 50) && dst.v.iter().all(|&p| p == 250));
        assert_eq!(dst.u.len(), 16 * 8);
        shrink_i420(&src, 1, &mut dst);
        assert_eq!((dst.width, dst.height), (64, 48));
        assert_eq!(dst.y, src.y);
    }

    #[test]
    fn chooses_the_nearest_size_then_mjpeg_then_the_nearest_rate() {
        use PixelFormat::*;
        let offered = [
            m(Yuyv, 640, 480, 30),
            m(Yuyv, 640, 480, 15),
            m(Mjpeg, 640, 480, 25),
            m(Mjpeg, 1280, 720, 30),
            m(Yuyv, 320, 240, 30),
        ];
        // Same size in both formats: the camera's MJPEG, at its nearest rate.
        assert_eq!(choose(&offered, 640, 480, 30), Some(m(Mjpeg, 640, 480, 25)));
        // Nearest size wins over format: raw 320x240 for a small picture.
        assert_eq!(choose(&offered, 320, 240, 30), Some(m(Yuyv, 320, 240, 30)));
        // Wide asks get the wide mode.
        assert_eq!(
            choose(&offered, 1920, 1080, 30),
            Some(m(Mjpeg, 1280, 720, 30))
        );
        // Rates: nearest, the higher on a tie.
        let raw = [m(Yuyv, 640, 480, 10), m(Yuyv, 640, 480, 20)];
        assert_eq!(choose(&raw, 640, 480, 15), Some(m(Yuyv, 640, 480, 20)));
        assert_eq!(choose(&[], 640, 480, 30), None);
    }

    #[test]
    fn never_chooses_what_rtp_jpeg_cannot_carry() {
        use PixelFormat::*;
        let offered = [
            m(Mjpeg, 3840, 2160, 30),
            m(Yuyv, 642, 480, 30),
            m(Yuyv, 176, 144, 30),
        ];
        assert_eq!(
            choose(&offered, 3840, 2160, 30),
            Some(m(Yuyv, 176, 144, 30))
        );
        assert!(carriable(2040, 2040));
        assert!(!carriable(2048, 1536));
        assert!(!carriable(0, 480));
        assert_eq!(choose(&[m(Yuyv, 640, 480, 0)], 640, 480, 30), None);
    }

    #[test]
    fn fourcc_codes_round_trip() {
        for f in [
            PixelFormat::Mjpeg,
            PixelFormat::Yuyv,
            PixelFormat::I420,
            PixelFormat::Nv12,
        ] {
            assert_eq!(PixelFormat::from_fourcc(f.fourcc()), Some(f));
        }
        assert_eq!(PixelFormat::from_fourcc(*b"JPEG"), Some(PixelFormat::Mjpeg));
        assert_eq!(PixelFormat::from_fourcc(*b"BA81"), None);
    }

    #[test]
    fn mjpeg_buffers_are_trimmed_to_their_image() {
        let mut buf = vec![0xff, 0xd8, 1, 2, 0xff, 0xd9, 3, 0xff, 0xd9];
        buf.extend_from_slice(&[0; 100]);
        assert_eq!(mjpeg_image(&buf), Some(&buf[..9]));
        assert_eq!(mjpeg_image(&[0, 0, 0, 0]), None);
        assert_eq!(mjpeg_image(&[0xff, 0xd8, 0, 0]), None);
        assert_eq!(mjpeg_image(&[]), None);
    }

    #[test]
    fn yuyv_repacks_to_planar_420() {
        // 4x2 picture, 12 bytes of padding per row.
        let stride = 8 + 12;
        let mut src = vec![0u8; stride * 2];
        src[..8].copy_from_slice(&[10, 100, 11, 200, 12, 101, 13, 201]);
        src[stride..stride + 8].copy_from_slice(&[20, 110, 21, 210, 22, 111, 23, 211]);
        let mut out = Yuv420::new(2, 2);
        yuyv_to_i420(&src, 4, 2, stride, &mut out).unwrap();
        assert_eq!((out.width, out.height), (4, 2));
        assert_eq!(out.y, [10, 11, 12, 13, 20, 21, 22, 23]);
        assert_eq!(out.u, [105, 106]);
        assert_eq!(out.v, [205, 206]);
        // Short buffers and odd sizes are errors, not panics.
        assert!(matches!(
            yuyv_to_i420(&src[..27], 4, 2, stride, &mut out),
            Err(CaptureError::Short { .. })
        ));
        assert_eq!(
            yuyv_to_i420(&src, 3, 2, stride, &mut out),
            Err(CaptureError::BadSize(3, 2))
        );
        // A stride below the row length is taken as unpadded.
        let packed = [1u8, 2, 3, 4, 5, 6, 7, 8];
        yuyv_to_i420(&packed, 2, 2, 0, &mut out).unwrap();
        assert_eq!(out.y, [1, 3, 5, 7]);
    }

    #[test]
    fn i420_and_nv12_repack_to_planar_420() {
        // 4x2 with 8-byte rows (4 bytes of padding after each luma row).
        let y = [1u8, 2, 3, 4, 0, 0, 0, 0, 5, 6, 7, 8, 0, 0, 0, 0];
        let mut i420 = y.to_vec();
        i420.extend_from_slice(&[10, 11, 0, 0]); // U: half-stride row
        i420.extend_from_slice(&[20, 21, 0, 0]); // V
        let mut out = Yuv420::new(2, 2);
        raw_to_i420(PixelFormat::I420, &i420, 4, 2, 8, &mut out).unwrap();
        assert_eq!(out.y, [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(
            (out.u.as_slice(), out.v.as_slice()),
            (&[10, 11][..], &[20, 21][..])
        );
        let mut nv12 = y.to_vec();
        nv12.extend_from_slice(&[10, 20, 11, 21, 0, 0, 0, 0]);
        let mut out2 = Yuv420::new(2, 2);
        raw_to_i420(PixelFormat::Nv12, &nv12, 4, 2, 8, &mut out2).unwrap();
        assert_eq!(out2, out);
        // Short buffers and MJPEG are errors.
        assert!(matches!(
            raw_to_i420(PixelFormat::Nv12, &nv12[..19], 4, 2, 8, &mut out2),
            Err(CaptureError::Short { .. })
        ));
        assert!(matches!(
            raw_to_i420(PixelFormat::I420, &i420[..21], 4, 2, 8, &mut out2),
            Err(CaptureError::Short { .. })
        ));
        assert_eq!(
            raw_to_i420(PixelFormat::Mjpeg, &i420, 4, 2, 8, &mut out2),
            Err(CaptureError::NotRaw)
        );
    }

    #[test]
    fn among_raw_layouts_of_one_size_the_cheapest_is_chosen() {
        use PixelFormat::*;
        let offered = [
            m(Yuyv, 640, 480, 30),
            m(Nv12, 640, 480, 30),
            m(I420, 640, 480, 30),
        ];
        assert_eq!(choose(&offered, 640, 480, 30), Some(m(I420, 640, 480, 30)));
    }
}
