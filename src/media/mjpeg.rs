//! MJPEG streams: JPEG images back to back, as ffmpeg writes `.mjpeg` files,
//! as the file video sink writes them and as the file video source reads
//! them. Cutting such a stream needs a walk over each image's markers (a
//! quantization table may contain any byte pair); inside the entropy-coded
//! data a 0xFF byte is always followed by 0x00 or a restart marker, so the
//! next real marker is found unambiguously.

use std::ops::Range;

const SOI: u8 = 0xd8;
const EOI: u8 = 0xd9;
const SOS: u8 = 0xda;
const TEM: u8 = 0x01;

fn is_rst(m: u8) -> bool {
    (0xd0..=0xd7).contains(&m)
}

/// The byte range of the first whole image at or after `from`, or `None` if
/// there is none (no start marker, or the image is cut short).
pub fn next_image(data: &[u8], from: usize) -> Option<Range<usize>> {
    let mut start = from;
    loop {
        let rel = data
            .get(start..)?
            .windows(2)
            .position(|w| w == [0xff, SOI])?;
        start += rel;
        match image_end(data, start) {
            Some(end) => return Some(start..end),
            // A false start (junk that looks like SOI) or a truncated image:
            // look further on; `None` at the end of the data.
            None => start += 2,
        }
    }
}

/// Walks the markers of the image whose SOI is at `start`; the index just
/// past its EOI.
fn image_end(data: &[u8], start: usize) -> Option<usize> {
    let mut j = start + 2;
    loop {
        // Fill bytes (0xFF) may precede a marker.
        if *data.get(j)? != 0xff {
            return None;
        }
        while data.get(j + 1) == Some(&0xff) {
            j += 1;
        }
        let m = *data.get(j + 1)?;
        match m {
            EOI => return Some(j + 2),
            SOI | 0x00 => return None,
            TEM => j += 2,
            m if is_rst(m) => j += 2,
            _ => {
                let len = usize::from(u16::from_be_bytes([*data.get(j + 2)?, *data.get(j + 3)?]));
                if len < 2 {
                    return None;
                }
                j += 2 + len;
                if m == SOS {
                    // Entropy-coded data up to the next marker that is not a
                    // stuffed byte or a restart marker.
                    loop {
                        let b = *data.get(j)?;
                        let next = *data.get(j + 1)?;
                        if b == 0xff && next != 0x00 && !is_rst(next) && next != 0xff {
                            break;
                        }
                        j += 1;
                    }
                }
            }
        }
    }
}

/// Every whole image in an MJPEG stream, in order; bytes between images
/// (padding, junk) and a cut-off last image are skipped.
pub fn images(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let r = next_image(data, at)?;
        at = r.end;
        data.get(r)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal structurally valid image: SOI, a DQT whose table holds
    /// 0xFF 0xD9 (which must not end the image), SOS, stuffed and restart
    /// bytes in the scan, EOI.
    fn image(tag: u8) -> Vec<u8> {
        let mut v = vec![0xff, SOI];
        v.extend_from_slice(&[0xff, 0xdb, 0x00, 0x06, 0x00, 0xff, EOI, tag]);
        v.extend_from_slice(&[0xff, SOS, 0x00, 0x03, 0x01]);
        v.extend_from_slice(&[0x12, 0xff, 0x00, 0x34, 0xff, 0xd3, 0x56, tag]);
        v.extend_from_slice(&[0xff, EOI]);
        v
    }

    #[test]
    fn cuts_back_to_back_images_with_padding_between() {
        let mut stream = image(1);
        stream.extend_from_slice(&[0, 0, 0]);
        stream.extend(image(2));
        stream.extend(image(3));
        let got: Vec<&[u8]> = images(&stream).collect();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], &image(1)[..]);
        assert_eq!(got[2], &image(3)[..]);
    }

    #[test]
    fn a_cut_off_image_and_junk_are_skipped() {
        let mut stream = b"junk\xff\xd8junk".to_vec();
        stream.extend(image(7));
        let whole = image(8);
        stream.extend_from_slice(&whole[..whole.len() - 3]);
        let got: Vec<&[u8]> = images(&stream).collect();
        assert_eq!(got, vec![&image(7)[..]]);
        assert_eq!(images(&[]).count(), 0);
    }

    #[test]
    fn no_input_panics() {
        let base = image(5);
        for cut in 0..base.len() {
            let _ = images(&base[..cut]).count();
        }
        for i in 0..base.len() {
            for v in [0x00, 0xff, SOI, EOI, SOS] {
                let mut c = base.clone();
                c[i] = v;
                let _ = images(&c).count();
            }
        }
    }
}
