//! JPEG from planar YUV 4:2:0 with libjpeg-turbo, and back.

use peercall::media::pattern::Yuv420;
use std::ffi::{c_int, c_uchar, c_ulong, CStr};
use std::fmt;
use turbojpeg_sys as sys;

/// Default JPEG quality: small frames that still carry a readable picture.
pub const DEFAULT_QUALITY: u8 = 75;

/// A libjpeg-turbo failure, with its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpegCodecError(pub String);

impl fmt::Display for JpegCodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JPEG codec: {}", self.0)
    }
}

impl std::error::Error for JpegCodecError {}

/// Encodes YUV 4:2:0 pictures to baseline JPEG (standard Huffman tables, as
/// RFC 2435 receivers expect).
pub struct YuvJpegEncoder {
    handle: sys::tjhandle,
    quality: u8,
}

// The handle is used by one thread at a time (&mut self); libjpeg-turbo
// handles are not tied to the thread that created them.
unsafe impl Send for YuvJpegEncoder {}

impl YuvJpegEncoder {
    /// An encoder at `quality` (1 to 100).
    pub fn new(quality: u8) -> Result<Self, JpegCodecError> {
        // SAFETY: tjInitCompress has no preconditions; a null result is an error.
        let handle = unsafe { sys::tjInitCompress() };
        if handle.is_null() {
            return Err(JpegCodecError("cannot create a compressor".into()));
        }
        Ok(YuvJpegEncoder {
            handle,
            quality: quality.clamp(1, 100),
        })
    }

    /// Encodes one picture; its dimensions must be even (4:2:0).
    pub fn encode(&mut self, pic: &Yuv420) -> Result<Vec<u8>, JpegCodecError> {
        let (w, h) = (pic.width, pic.height);
        let (cw, ch) = (w / 2, h / 2);
        if w == 0 || h == 0 || w % 2 != 0 || h % 2 != 0 {
            return Err(JpegCodecError(format!("{w}x{h} is not a 4:2:0 size")));
        }
        if pic.y.len() < w * h || pic.u.len() < cw * ch || pic.v.len() < cw * ch {
            return Err(JpegCodecError("planes smaller than the picture".into()));
        }
        let mut planes: [*const c_uchar; 3] = [pic.y.as_ptr(), pic.u.as_ptr(), pic.v.as_ptr()];
        let strides: [c_int; 3] = [w as c_int, cw as c_int, cw as c_int];
        let mut out: *mut c_uchar = std::ptr::null_mut();
        let mut out_len: c_ulong = 0;
        // SAFETY: the three plane pointers are valid for the sizes checked
        // above (stride x rows each) and outlive the call; `out` starts null,
        // so libjpeg-turbo allocates it (no TJFLAG_NOREALLOC) and we free it
        // with tjFree below after copying.
        let rc = unsafe {
            sys::tjCompressFromYUVPlanes(
                self.handle,
                planes.as_mut_ptr(),
                w as c_int,
                strides.as_ptr(),
                h as c_int,
                sys::TJSAMP_TJSAMP_420 as c_int,
                &mut out,
                &mut out_len,
                c_int::from(self.quality),
                0,
            )
        };
        let result = if rc != 0 || out.is_null() {
            Err(JpegCodecError(self.last_error()))
        } else {
            // SAFETY: on success `out` points to `out_len` bytes written by libjpeg-turbo.
            Ok(unsafe { std::slice::from_raw_parts(out, out_len as usize) }.to_vec())
        };
        if !out.is_null() {
            // SAFETY: `out` was allocated by libjpeg-turbo for this call.
            unsafe { sys::tjFree(out) };
        }
        result
    }

    fn last_error(&self) -> String {
        // SAFETY: the handle is valid; the returned string is owned by the handle
        // and valid until the next call on it, and we copy it at once.
        let p = unsafe { sys::tjGetErrorStr2(self.handle) };
        if p.is_null() {
            return "unknown error".into();
        }
        // SAFETY: non-null, NUL-terminated C string from libjpeg-turbo.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

impl Drop for YuvJpegEncoder {
    fn drop(&mut self) {
        // SAFETY: the handle came from tjInitCompress and is destroyed once.
        unsafe { sys::tjDestroy(self.handle) };
    }
}

/// A decoded picture borrowed from a [`YuvJpegDecoder`]: planar YUV 4:2:0,
/// rows unpadded.
#[derive(Debug, Clone, Copy)]
pub struct YuvView<'a> {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Luma, `width` x `height`.
    pub y: &'a [u8],
    /// Cb, half width and half height (rounded up).
    pub u: &'a [u8],
    /// Cr, like `u`.
    pub v: &'a [u8],
}

/// Decodes JPEG to planar YUV 4:2:0 (what the receiving side reads the test
/// pattern's stamp from, and what a display would take). It keeps its
/// libjpeg-turbo handle and output buffer from frame to frame: allocating a
/// fresh 460 KB picture 30 times a second cost more CPU in page faults than
/// the decoding itself.
pub struct YuvJpegDecoder {
    dec: turbojpeg::Decompressor,
    buf: Vec<u8>,
}

impl YuvJpegDecoder {
    /// A decoder with no buffer yet.
    pub fn new() -> Result<Self, JpegCodecError> {
        Ok(YuvJpegDecoder {
            dec: turbojpeg::Decompressor::new().map_err(|e| JpegCodecError(e.to_string()))?,
            buf: Vec::new(),
        })
    }

    /// Decodes one 4:2:0 JPEG into the kept buffer.
    pub fn decode(&mut self, jpeg: &[u8]) -> Result<YuvView<'_>, JpegCodecError> {
        let err = |e: turbojpeg::Error| JpegCodecError(e.to_string());
        let h = self.dec.read_header(jpeg).map_err(err)?;
        if h.subsamp != turbojpeg::Subsamp::Sub2x2 {
            return Err(JpegCodecError(format!(
                "picture is {:?}, not 4:2:0",
                h.subsamp
            )));
        }
        let (w, ht) = (h.width, h.height);
        let len = turbojpeg::yuv_pixels_len(w, 1, ht, h.subsamp).map_err(err)?;
        // Same size as last time (the usual case): no allocation, no zeroing.
        if self.buf.len() != len {
            self.buf.resize(len, 0);
        }
        let img = turbojpeg::YuvImage {
            pixels: &mut self.buf[..],
            width: w,
            align: 1,
            height: ht,
            subsamp: h.subsamp,
        };
        self.dec.decompress_to_yuv(jpeg, img).map_err(err)?;
        let y_len = w * ht;
        let c_len = w.div_ceil(2) * ht.div_ceil(2);
        let (y, rest) = self.buf.split_at(y_len.min(self.buf.len()));
        let (u, v) = rest.split_at(c_len.min(rest.len()));
        if y.len() != y_len || u.len() != c_len || v.len() != c_len {
            return Err(JpegCodecError("decoded planes are short".into()));
        }
        Ok(YuvView {
            width: w,
            height: ht,
            y,
            u,
            v,
        })
    }
}

/// Decodes one JPEG to an owned [`Yuv420`]; for one-off decodes (tests,
/// tools). A stream should keep a [`YuvJpegDecoder`].
pub fn decode_to_yuv420(jpeg: &[u8]) -> Result<Yuv420, JpegCodecError> {
    let mut dec = YuvJpegDecoder::new()?;
    let view = dec.decode(jpeg)?;
    let mut out = Yuv420::new(view.width, view.height);
    // new() rounds odd sizes down; a decoded picture keeps its own.
    out.width = view.width;
    out.height = view.height;
    out.y = view.y.to_vec();
    out.u = view.u.to_vec();
    out.v = view.v.to_vec();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use peercall::media::jpeg::{packetize, FrameAssembler};
    use peercall::media::pattern::{draw, read, Stamp};
    use peercall::media::rtp::MAX_RTP_PAYLOAD_LEN;

    #[test]
    fn pattern_survives_encode_rtp_and_decode() {
        let mut enc = YuvJpegEncoder::new(DEFAULT_QUALITY).unwrap();
        // One decoder across sizes: its kept buffer must follow the picture.
        let mut dec = YuvJpegDecoder::new().unwrap();
        for (w, h) in [(320, 240), (640, 480), (352, 288)] {
            let mut pic = Yuv420::new(w, h);
            let mut asm = FrameAssembler::new();
            for frame in 0..5u32 {
                let stamp = Stamp {
                    frame,
                    capture_us: 1_000_000 + u64::from(frame) * 33_333,
                };
                draw(&mut pic, stamp);
                let jpeg = enc.encode(&pic).unwrap();
                let mut frags: Vec<_> = packetize(&jpeg, MAX_RTP_PAYLOAD_LEN).unwrap().collect();
                assert!(frags.len() > 1, "{w}x{h} needs several packets");
                // Deliver the fragments backwards: reassembly must not care.
                frags.reverse();
                let ts = frame * 3000;
                let mut done = None;
                for (i, f) in frags.iter().enumerate() {
                    let seq = (frame * 100 + i as u32) as u16;
                    if let Ok(Some(out)) = asm.push(seq, ts, f.marker, &f.payload) {
                        done = Some(out);
                    }
                }
                let out = done.expect("frame reassembled");
                let yuv = dec.decode(&out.jpeg).unwrap();
                assert_eq!((yuv.width, yuv.height), (w, h));
                assert_eq!((yuv.u.len(), yuv.v.len()), (w * h / 4, w * h / 4));
                assert_eq!(read(yuv.y, w, h), Some(stamp), "{w}x{h} frame {frame}");
                let owned = decode_to_yuv420(&out.jpeg).unwrap();
                assert_eq!((owned.y.as_slice(), owned.u.as_slice()), (yuv.y, yuv.u));
            }
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_crash() {
        let mut enc = YuvJpegEncoder::new(50).unwrap();
        let mut odd = Yuv420::new(64, 48);
        odd.width = 63;
        assert!(enc.encode(&odd).is_err());
        let mut short = Yuv420::new(64, 48);
        short.y.truncate(10);
        assert!(enc.encode(&short).is_err());
        assert!(decode_to_yuv420(b"not a jpeg").is_err());
    }
}
