//! The session's seeded random numbers: SSRCs, initial sequence numbers and
//! timestamps (RFC 3550 wants them random so streams do not collide and
//! known-plaintext is harder), and the spread of RTCP intervals. The IO
//! shell supplies the seed, so a test replays a session exactly. This is
//! not for secrets: keys and the CNAME's random bytes come from the shell.

use std::time::Duration;

/// SplitMix64: tiny, fast, and every seed (zero included) gives a full-period
/// stream, which a session seeded by a test with 0 or 1 needs.
#[derive(Debug, Clone)]
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(super) fn u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(super) fn u32(&mut self) -> u32 {
        (self.u64() >> 32) as u32
    }

    /// A value uniform in [0, 1).
    pub(super) fn unit(&mut self) -> f64 {
        (self.u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// An RTCP interval around `base`: uniform in [0.5, 1.5] times it (RFC
    /// 3550 6.3.1), so participants that started together do not report in
    /// lockstep.
    pub(super) fn rtcp_interval(&mut self, base: Duration) -> Duration {
        base.mul_f64(0.5 + self.unit())
    }
}
