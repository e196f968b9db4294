//! The one sound format peercall carries: 48 kHz mono in 20 ms frames. Opus on
//! RTP always runs its clock at 48 kHz (RFC 7587), so capture, playout, the
//! codec, the jitter buffer and the test tone all use these figures; naming
//! them here keeps the device code, the codec wrapper and the RTP code from
//! drifting apart.

use std::time::Duration;

/// Samples per second, and the RTP clock rate of Opus.
pub const SAMPLE_RATE: u32 = 48_000;
/// Samples (per channel) in one frame: 20 ms at [`SAMPLE_RATE`].
pub const FRAME_SAMPLES: usize = 960;
/// How long one frame lasts.
pub const FRAME_DURATION: Duration = Duration::from_millis(20);
