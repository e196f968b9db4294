//! Pictures of the screen as a monitor would show it, for tests of what a
//! window puts on a KMS/DRM display. Only the VM can take them: qemu scans
//! out the guest's bochs-display, and on request writes that picture to a
//! PPM file (`hw-tests/vm/screendump.py`, started by `hw-tests/vm/run.sh`).
//! The guest asks by creating `NAME.want` in [`SCREEN_DIR_VAR`]'s
//! directory and waits for `NAME.ppm` (or `NAME.error`, saying why not).

use std::path::Path;
use std::time::{Duration, Instant};

/// The variable naming the directory where the VM serves screendump
/// requests; run.sh sets it when the VM has a screen.
pub const SCREEN_DIR_VAR: &str = "PEERCALL_VM_SCREEN_DIR";

/// How often the answer to a request is looked for.
const POLL: Duration = Duration::from_millis(50);

/// A pixel is strongly coloured when its largest and smallest channels are
/// this far apart: text on a dark background, white or grey are not; the
/// test pattern's bars are.
pub const COLOURED_SPREAD: u8 = 60;

/// An RGB picture, 8 bits a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Picture {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height` pixels, rows top to bottom, 3 bytes each (R, G, B).
    pub rgb: Vec<u8>,
}

impl Picture {
    /// Reads a binary PPM (`P6`, maximum value 255), as qemu's screendump
    /// writes it.
    pub fn from_ppm(data: &[u8]) -> Result<Picture, String> {
        // The header is four whitespace-separated words (comments are not
        // written by qemu, and not accepted), then one whitespace byte.
        let mut words = Vec::new();
        let mut pos = 0;
        while words.len() < 4 {
            while data.get(pos).is_some_and(u8::is_ascii_whitespace) {
                pos += 1;
            }
            let start = pos;
            while data.get(pos).is_some_and(|b| !b.is_ascii_whitespace()) {
                pos += 1;
            }
            if start == pos {
                return Err("PPM header is cut short".into());
            }
            words.push(String::from_utf8_lossy(&data[start..pos]).into_owned());
        }
        if words[0] != "P6" {
            return Err(format!("not a binary PPM (magic {:?})", words[0]));
        }
        let number = |w: &str| {
            w.parse::<usize>()
                .map_err(|_| format!("bad number {w:?} in the PPM header"))
        };
        let (width, height, max) = (number(&words[1])?, number(&words[2])?, number(&words[3])?);
        if max != 255 {
            return Err(format!("PPM maximum value {max}, expected 255"));
        }
        let rgb = data.get(pos + 1..).unwrap_or_default();
        let want = width
            .checked_mul(height)
            .and_then(|n| n.checked_mul(3))
            .ok_or("PPM size overflows")?;
        if rgb.len() != want {
            return Err(format!(
                "PPM {width}x{height} has {} bytes of pixels, expected {want}",
                rgb.len()
            ));
        }
        Ok(Picture {
            width,
            height,
            rgb: rgb.to_vec(),
        })
    }

    /// The pixel at (x, y) as [R, G, B], if inside the picture.
    pub fn pixel(&self, x: usize, y: usize) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = (y * self.width + x) * 3;
        Some([self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]])
    }

    /// The share of pixels, 0 to 1, that are strongly coloured (see
    /// [`COLOURED_SPREAD`]). A blank, black or text-only screen is near 0.
    pub fn coloured_share(&self) -> f64 {
        let total = self.width * self.height;
        if total == 0 {
            return 0.0;
        }
        let coloured = self
            .rgb
            .chunks_exact(3)
            .filter(|p| {
                let (lo, hi) = (p.iter().min().unwrap(), p.iter().max().unwrap());
                hi - lo >= COLOURED_SPREAD
            })
            .count();
        coloured as f64 / total as f64
    }
}

/// Times the request file is tried: creating it in the VM's share has
/// been seen to fail once with ENOENT, the directory being there.
const CREATE_TRIES: usize = 5;

/// Writes the request `want` in `dir`, trying again after a transient
/// failure (saying so on stderr, past the test harness's capture).
fn ask(want: &Path, dir: &Path) -> Result<(), String> {
    let mut tries = 0;
    loop {
        tries += 1;
        match std::fs::write(want, b"") {
            Ok(()) => return Ok(()),
            Err(e) if tries < CREATE_TRIES => {
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "screendump: creating {} failed ({e}; {} is {}); trying again",
                    want.display(),
                    dir.display(),
                    if dir.is_dir() { "there" } else { "missing" }
                );
                std::thread::sleep(POLL);
            }
            Err(e) => {
                return Err(format!(
                    "cannot ask for a screendump ({}, {tries} tries): {e}",
                    want.display()
                ))
            }
        }
    }
}

/// Has the VM take a picture of its screen now, named `name` (letters,
/// digits, `-`, `_`), and returns it. `dir` is [`SCREEN_DIR_VAR`]'s.
pub fn screendump(dir: &Path, name: &str, wait: Duration) -> Result<Picture, String> {
    let (want, ppm, error) = (
        dir.join(format!("{name}.want")),
        dir.join(format!("{name}.ppm")),
        dir.join(format!("{name}.error")),
    );
    // An answer left from an earlier request of the same name is not this one.
    let _ = std::fs::remove_file(&ppm);
    let _ = std::fs::remove_file(&error);
    ask(&want, dir)?;
    let deadline = Instant::now() + wait;
    loop {
        if let Ok(data) = std::fs::read(&ppm) {
            return Picture::from_ppm(&data);
        }
        if let Ok(why) = std::fs::read_to_string(&error) {
            return Err(why.trim().to_string());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "no screendump {} within {wait:?} (is hw-tests/vm/screendump.py running?)",
                ppm.display()
            ));
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ppm(w: usize, h: usize, pixels: &[[u8; 3]]) -> Vec<u8> {
        let mut data = format!("P6\n{w} {h}\n255\n").into_bytes();
        for p in pixels {
            data.extend_from_slice(p);
        }
        data
    }

    #[test]
    fn ppm_reads_pixels_in_order() {
        let pic = Picture::from_ppm(&ppm(2, 1, &[[1, 2, 3], [250, 0, 9]])).unwrap();
        assert_eq!((pic.width, pic.height), (2, 1));
        assert_eq!(pic.pixel(0, 0), Some([1, 2, 3]));
        assert_eq!(pic.pixel(1, 0), Some([250, 0, 9]));
        assert_eq!(pic.pixel(2, 0), None);
        assert_eq!(pic.pixel(0, 1), None);
    }

    #[test]
    fn ppm_pixel_data_may_start_with_a_whitespace_byte_value() {
        // The single separator after 255 is not part of the pixels, even
        // when the first pixel byte is itself a whitespace byte.
        let pic = Picture::from_ppm(&ppm(1, 1, &[[b'\n', b' ', 7]])).unwrap();
        assert_eq!(pic.pixel(0, 0), Some([b'\n', b' ', 7]));
    }

    #[test]
    fn bad_ppms_are_refused() {
        assert!(Picture::from_ppm(b"").is_err());
        assert!(Picture::from_ppm(b"P5\n1 1\n255\n\0").is_err());
        assert!(Picture::from_ppm(b"P6\n1 1\n65535\n\0\0\0\0\0\0").is_err());
        assert!(Picture::from_ppm(b"P6\n2 1\n255\n\0\0\0").is_err());
        assert!(Picture::from_ppm(b"P6\n1 1\n255\n\0\0\0\0").is_err());
        assert!(Picture::from_ppm(b"P6\nx 1\n255\n\0\0\0").is_err());
        assert!(Picture::from_ppm(b"P6\n99999999999 99999999999\n255\n").is_err());
    }

    #[test]
    fn coloured_share_counts_strong_colours_only() {
        let pixels = [
            [255, 0, 0],     // red: coloured
            [24, 28, 36],    // the window's dark background: not
            [255, 255, 255], // white text: not
            [30, 90, 30],    // spread exactly 60: coloured
        ];
        let pic = Picture::from_ppm(&ppm(4, 1, &pixels)).unwrap();
        assert!((pic.coloured_share() - 0.5).abs() < 1e-9);
        let black = Picture::from_ppm(&ppm(1, 1, &[[0, 0, 0]])).unwrap();
        assert_eq!(black.coloured_share(), 0.0);
    }

    #[test]
    fn screendump_reads_the_answer_and_reports_errors() {
        let dir = std::env::temp_dir().join(format!("peercall-screen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Stands in for screendump.py: answers the first request with a
        // picture, the second with an error.
        let server = {
            let dir = dir.clone();
            std::thread::spawn(move || {
                for (name, answer) in [("one", "ppm"), ("two", "error")] {
                    let want = dir.join(format!("{name}.want"));
                    while !want.exists() {
                        std::thread::sleep(POLL);
                    }
                    std::fs::remove_file(&want).unwrap();
                    let path = dir.join(format!("{name}.{answer}"));
                    match answer {
                        "ppm" => std::fs::write(path, ppm(1, 1, &[[9, 8, 7]])).unwrap(),
                        _ => std::fs::write(path, "screendump failed: no screen\n").unwrap(),
                    }
                }
            })
        };
        let wait = Duration::from_secs(10);
        let pic = screendump(&dir, "one", wait).unwrap();
        assert_eq!(pic.pixel(0, 0), Some([9, 8, 7]));
        assert_eq!(
            screendump(&dir, "two", wait).unwrap_err(),
            "screendump failed: no screen"
        );
        server.join().unwrap();
        // Nobody answers now.
        let err = screendump(&dir, "three", Duration::from_millis(100)).unwrap_err();
        assert!(err.contains("no screendump"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
