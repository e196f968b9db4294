//! The synthetic microphone's sound, and the measurements that check what a
//! receiver played: a steady sine (440 Hz by default) interrupted once a
//! second by a short mark at another frequency, so a listener (or a test)
//! hears the timing, and [`goertzel`] / [`dominant_frequency`] to find which
//! frequencies a recording holds.

use std::f64::consts::PI;

/// Sample rate of everything here (Opus on RTP runs at 48 kHz).
pub use super::audio::SAMPLE_RATE;
/// The steady tone.
pub const TONE_HZ: f64 = 440.0;
/// The timing mark, two octaves up so it stands out.
pub const MARK_HZ: f64 = 1_760.0;
/// A mark starts at every whole second of the source's time and lasts this long.
pub const MARK_MS: u64 = 40;
/// Peak amplitude: a quarter of full scale, loud enough to measure, far from clipping.
pub const AMPLITUDE: f64 = 8_192.0;

/// A generator of the tone with its marks, sample-exact across calls.
#[derive(Debug, Clone)]
pub struct Tone {
    /// Samples produced so far (the source's clock).
    pos: u64,
    tone_hz: f64,
}

impl Tone {
    /// A 440 Hz tone with marks.
    pub fn new() -> Self {
        Self::with_frequency(TONE_HZ)
    }

    /// A tone of another frequency, with the same marks.
    pub fn with_frequency(hz: f64) -> Self {
        Tone {
            pos: 0,
            tone_hz: hz,
        }
    }

    /// Samples produced so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Fills `out` with the next samples (mono, signed 16-bit).
    pub fn fill(&mut self, out: &mut [i16]) {
        let rate = u64::from(SAMPLE_RATE);
        let mark_len = rate * MARK_MS / 1000;
        for s in out.iter_mut() {
            let n = self.pos;
            let t = n as f64 / f64::from(SAMPLE_RATE);
            let hz = if n % rate < mark_len {
                MARK_HZ
            } else {
                self.tone_hz
            };
            *s = (AMPLITUDE * (2.0 * PI * hz * t).sin()) as i16;
            self.pos += 1;
        }
    }
}

impl Default for Tone {
    fn default() -> Self {
        Self::new()
    }
}

/// The ring tone's two frequencies, sounded together (the British ring:
/// a warm double burr that reads as "a phone" to most ears).
pub const RING_HZ: (f64, f64) = (400.0, 450.0);
/// The ring's cadence in milliseconds: on, off, on, then a pause, repeated.
pub const RING_CADENCE_MS: [u64; 4] = [400, 200, 400, 2_000];

/// The sound an incoming call rings with: [`RING_HZ`] in the
/// [`RING_CADENCE_MS`] cadence, sample-exact across calls, starting with a ring.
#[derive(Debug, Clone, Default)]
pub struct RingTone {
    pos: u64,
}

impl RingTone {
    /// A ring tone at the start of its first ring.
    pub fn new() -> Self {
        RingTone { pos: 0 }
    }

    /// Whether the sample at `pos` (from the start) falls in a ring.
    pub fn ringing_at(pos: u64) -> bool {
        let ms_in_cycle = pos * 1000 / u64::from(SAMPLE_RATE) % RING_CADENCE_MS.iter().sum::<u64>();
        let mut edge = 0;
        for (i, len) in RING_CADENCE_MS.iter().enumerate() {
            edge += len;
            if ms_in_cycle < edge {
                return i % 2 == 0;
            }
        }
        false
    }

    /// Fills `out` with the next samples (mono, signed 16-bit).
    pub fn fill(&mut self, out: &mut [i16]) {
        for s in out.iter_mut() {
            *s = if Self::ringing_at(self.pos) {
                let t = self.pos as f64 / f64::from(SAMPLE_RATE);
                let (a, b) = RING_HZ;
                // Each half the amplitude: the sum peaks at AMPLITUDE.
                (AMPLITUDE / 2.0 * ((2.0 * PI * a * t).sin() + (2.0 * PI * b * t).sin())) as i16
            } else {
                0
            };
            self.pos += 1;
        }
    }
}

/// Power of `freq` in `samples` (Goertzel algorithm), normalised so a full
/// sine of amplitude A gives about (A/2)^2.
pub fn goertzel(samples: &[i16], freq: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let w = 2.0 * PI * freq / f64::from(SAMPLE_RATE);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    let n = samples.len() as f64;
    power / (n * n)
}

/// The strongest frequency in `samples` between `lo` and `hi` Hz, searched
/// in 1 Hz steps around the coarse 10 Hz winner.
pub fn dominant_frequency(samples: &[i16], lo: f64, hi: f64) -> f64 {
    let best = |from: f64, to: f64, step: f64| {
        let mut f = from;
        let mut top = (from, f64::MIN);
        while f <= to {
            let p = goertzel(samples, f);
            if p > top.1 {
                top = (f, p);
            }
            f += step;
        }
        top.0
    };
    let coarse = best(lo, hi, 10.0);
    best((coarse - 10.0).max(lo), (coarse + 10.0).min(hi), 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_tone_rings_twice_then_pauses_at_400_and_450_hz() {
        let mut r = RingTone::new();
        // Two whole cycles, filled in odd-sized pieces as a card would ask.
        let mut buf = vec![0i16; 2 * 3 * SAMPLE_RATE as usize];
        for chunk in buf.chunks_mut(957) {
            r.fill(chunk);
        }
        let ms = |a: u64, b: u64| &buf[(a * 48) as usize..(b * 48) as usize];
        for cycle in [0, 3000] {
            for (from, to) in [(cycle, cycle + 400), (cycle + 600, cycle + 1000)] {
                let ring = ms(from, to);
                assert!(goertzel(ring, 400.0) > 1e6, "{from}");
                assert!(goertzel(ring, 450.0) > 1e6, "{from}");
                assert!(goertzel(ring, 440.0) < goertzel(ring, 400.0) / 2.0);
            }
            for (from, to) in [(cycle + 400, cycle + 600), (cycle + 1000, cycle + 3000)] {
                assert!(ms(from, to).iter().all(|&s| s == 0), "silent from {from}");
            }
        }
        assert!(buf.iter().all(|&s| f64::from(s).abs() <= AMPLITUDE));
    }

    #[test]
    fn the_tone_is_440_hz_between_marks() {
        let mut t = Tone::new();
        let mut buf = vec![0i16; SAMPLE_RATE as usize];
        t.fill(&mut buf);
        // Skip the mark at the start of the second.
        let body = &buf[(SAMPLE_RATE as usize / 10)..];
        let f = dominant_frequency(body, 100.0, 4000.0);
        assert!((f - TONE_HZ).abs() <= 2.0, "{f}");
        let mark = &buf[..(SAMPLE_RATE as u64 * MARK_MS / 1000) as usize];
        let f = dominant_frequency(mark, 100.0, 4000.0);
        assert!((f - MARK_HZ).abs() <= 30.0, "{f}");
    }

    #[test]
    fn generation_is_continuous_across_calls() {
        let mut a = Tone::new();
        let mut one = vec![0i16; 2000];
        a.fill(&mut one);
        let mut b = Tone::new();
        let mut two = vec![0i16; 2000];
        b.fill(&mut two[..960]);
        b.fill(&mut two[960..]);
        assert_eq!(one, two);
        assert_eq!(b.position(), 2000);
    }

    #[test]
    fn goertzel_tells_present_from_absent() {
        let mut t = Tone::with_frequency(1000.0);
        let mut buf = vec![0i16; 9600];
        t.fill(&mut buf);
        let body = &buf[2400..];
        assert!(goertzel(body, 1000.0) > 100.0 * goertzel(body, 3000.0));
        assert_eq!(goertzel(&[], 1000.0), 0.0);
    }
}
