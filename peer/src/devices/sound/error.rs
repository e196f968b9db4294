//! Why a sound device cannot be used, in one line that says what to do
//! instead.

#[cfg(doc)]
use super::MIN_BUFFER_PERIODS;
use super::{
    converting_device, errno_text, CAPTURE_FALLBACK, PLAYBACK_FALLBACK, RATE, STALL_TIMEOUT,
};
use alsa::Direction;
use std::fmt;

/// Which way sound flows through a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// From the device: a microphone.
    Capture,
    /// To the device: a speaker.
    Playback,
}

impl Stream {
    pub(super) fn direction(self) -> Direction {
        match self {
            Stream::Capture => Direction::Capture,
            Stream::Playback => Direction::Playback,
        }
    }

    pub(super) fn verb(self) -> &'static str {
        match self {
            Stream::Capture => "capture",
            Stream::Playback => "play",
        }
    }

    pub(super) fn fallback(self) -> &'static str {
        match self {
            Stream::Capture => CAPTURE_FALLBACK,
            Stream::Playback => PLAYBACK_FALLBACK,
        }
    }
}

/// What a device cannot do of what the pipeline needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsupported {
    /// It does not take signed 16-bit samples.
    Format,
    /// It cannot run at [`RATE`].
    Rate {
        /// The rate it offered instead.
        nearest: u32,
    },
    /// It takes neither mono nor stereo.
    Channels {
        /// The fewest channels it takes.
        min: u32,
        /// The most channels it takes.
        max: u32,
    },
    /// It cannot run periods near 20 ms.
    Period {
        /// The period it offered, in frames.
        nearest: usize,
    },
    /// Its buffer cannot hold [`MIN_BUFFER_PERIODS`] periods.
    Buffer {
        /// The period it runs, in frames.
        period: usize,
        /// The largest buffer it offered, in frames.
        buffer: usize,
    },
}

/// Why a sound device could not be opened or stopped working. Every variant
/// names the device as the user gave it, so the message can be acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SoundError {
    /// The name cannot be an ALSA device name (empty, or with a control
    /// character such as NUL or a newline).
    BadName {
        /// The name given.
        device: String,
    },
    /// ALSA refused to open the device.
    Open {
        /// The device.
        device: String,
        /// Which way it was opened.
        stream: Stream,
        /// ALSA's error number.
        errno: i32,
        /// The machine has no sound card at all, which is what most such
        /// failures mean.
        no_card: bool,
    },
    /// The device opened but cannot run the pipeline's format.
    Unsupported {
        /// The device.
        device: String,
        /// Which way it was opened.
        stream: Stream,
        /// What it lacks.
        what: Unsupported,
    },
    /// Setting the device up failed in the named ALSA call.
    Setup {
        /// The device.
        device: String,
        /// Which way it was opened.
        stream: Stream,
        /// The ALSA call that failed.
        call: &'static str,
        /// ALSA's error number.
        errno: i32,
    },
    /// The device did not deliver (capture) or take (playback) a frame within
    /// [`STALL_TIMEOUT`].
    Stalled {
        /// The device.
        device: String,
        /// Which way it runs.
        stream: Stream,
    },
    /// The device failed while running and cannot be recovered.
    Lost {
        /// The device.
        device: String,
        /// Which way it runs.
        stream: Stream,
        /// ALSA's error number.
        errno: i32,
    },
    /// A frame of the wrong length was passed in: our bug, not the device's.
    FrameLength {
        /// The samples a frame must have.
        expected: usize,
        /// The samples passed.
        got: usize,
    },
}

impl fmt::Display for SoundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SoundError::BadName { device } => write!(
                f,
                "{device:?} is not an ALSA device name; try 'default', or a name `peercall devices` lists"
            ),
            SoundError::Open { device, stream, errno, no_card: true } => write!(
                f,
                "no sound card: ALSA device '{device}' cannot be opened ({}); `peercall devices` lists the sound cards, or {}",
                errno_text(*errno),
                stream.fallback()
            ),
            SoundError::Open { device, stream, errno, no_card: false } => {
                let why = errno_text(*errno);
                match *errno {
                    libc::EBUSY => write!(
                        f,
                        "ALSA device '{device}' is busy ({why}): another program has it; close that program, or use 'default', which can share the card"
                    ),
                    libc::EACCES | libc::EPERM => write!(
                        f,
                        "ALSA device '{device}' cannot be opened ({why}); add the user to the 'audio' group"
                    ),
                    _ => write!(
                        f,
                        "ALSA device '{device}' cannot be opened to {} ({why}); `peercall devices` lists the sound cards, or {}",
                        stream.verb(),
                        stream.fallback()
                    ),
                }
            }
            SoundError::Unsupported { device, stream, what } => {
                let instead = converting_device(device);
                let verb = stream.verb();
                match what {
                    Unsupported::Format => write!(
                        f,
                        "ALSA device '{device}' cannot {verb} 16-bit samples; use {instead}, which convert"
                    ),
                    Unsupported::Rate { nearest } => write!(
                        f,
                        "ALSA device '{device}' cannot {verb} at {RATE} Hz (nearest {nearest} Hz); use {instead}, which resample"
                    ),
                    Unsupported::Channels { min, max } => write!(
                        f,
                        "ALSA device '{device}' takes {min} to {max} channels, not mono or stereo; use {instead}, which mix"
                    ),
                    Unsupported::Period { nearest } => write!(
                        f,
                        "ALSA device '{device}' cannot {verb} in 20 ms periods (nearest {nearest} frames at {RATE} Hz); use {instead}"
                    ),
                    Unsupported::Buffer { period, buffer } => write!(
                        f,
                        "ALSA device '{device}' has a {buffer}-frame buffer for {period}-frame periods, too small to {verb} without gaps; use {instead}"
                    ),
                }
            }
            SoundError::Setup { device, stream, call, errno } => write!(
                f,
                "ALSA device '{device}' cannot be set up to {} ({call}: {}); try 'default'",
                stream.verb(),
                errno_text(*errno)
            ),
            SoundError::Stalled { device, stream: Stream::Capture } => write!(
                f,
                "ALSA device '{device}' delivered no sound for {} ms: the card has stopped",
                STALL_TIMEOUT.as_millis()
            ),
            SoundError::Stalled { device, stream: Stream::Playback } => write!(
                f,
                "ALSA device '{device}' took no sound for {} ms: the card has stopped",
                STALL_TIMEOUT.as_millis()
            ),
            SoundError::Lost { device, stream, errno } => write!(
                f,
                "ALSA device '{device}' failed during {} ({}); was it unplugged?",
                match stream {
                    Stream::Capture => "capture",
                    Stream::Playback => "playback",
                },
                errno_text(*errno)
            ),
            SoundError::FrameLength { expected, got } => write!(
                f,
                "a sound frame must be {expected} samples (20 ms at {RATE} Hz), got {got}"
            ),
        }
    }
}

impl std::error::Error for SoundError {}
