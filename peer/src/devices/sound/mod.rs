//! The sound card: the real microphone and speaker, through ALSA's PCM API
//! (libasound, the `alsa` crate). The peer's audio pipeline works in 20 ms
//! frames of 48 kHz mono 16-bit samples, the frame Opus encodes; [`Capture`]
//! hands out one such frame per call, paced by the card's clock, and
//! [`Playback`] takes one per call and blocks while the card's buffer is full,
//! so the loop around either runs at the card's rate rather than the system
//! clock's. A device that only takes stereo is accepted: capture is downmixed
//! (the two channels averaged) and playback duplicated to both channels.
//! 48000 Hz is required exactly, and a device that cannot run at it is refused
//! with a message naming `plughw:` or `default` instead: those ALSA devices
//! resample in alsa-lib, which converts far better than anything we would
//! write here, and silently running the whole pipeline at another rate would
//! break Opus and the RTP clock. [`cards`] lists the cards and their PCM
//! devices for `peercall devices`. Overruns and underruns are recovered and
//! counted; only failures that cannot be recovered (a device unplugged, a card
//! that stops delivering) come back as [`SoundError`]s, each one line that
//! says what to do.

use alsa::ctl::{Ctl, DeviceIter};
use alsa::pcm::{Access, Format, Frames, HwParams, State, PCM};
use alsa::{Direction, ValueOr};
use std::ffi::CString;
use std::fmt;
use std::time::{Duration, Instant};

/// Samples in one 20 ms frame at [`RATE`], per channel: what Opus encodes.
pub use peercall::media::audio::FRAME_SAMPLES;
/// The sample rate of the whole audio pipeline: Opus's native rate.
pub use peercall::media::audio::SAMPLE_RATE as RATE;
/// The most channels a device may insist on: stereo is downmixed or
/// duplicated here, anything wider is left to `plughw:` / `default`.
pub const MAX_DEVICE_CHANNELS: u32 = 2;
/// Periods in the capture buffer. A capture read returns as soon as one
/// period is in, so the buffer costs no latency: it is slack for a capture
/// thread held up for up to three more frames (60 ms) before data is lost.
pub const CAPTURE_BUFFER_PERIODS: usize = 4;
/// Periods in the playback buffer. The caller's loop keeps it full, so this
/// is the speaker's latency (60 ms); two of the three periods are slack for a
/// playback thread held up before the card runs dry.
pub const PLAYBACK_BUFFER_PERIODS: usize = 3;
/// Playback starts once this many periods are queued, so that a restart after
/// an underrun begins with slack instead of running dry again at once.
pub const PLAYBACK_START_PERIODS: usize = 2;
/// The fewest periods any buffer may hold: with one, the card and the
/// program would take turns instead of overlapping.
pub const MIN_BUFFER_PERIODS: usize = 2;
/// The smallest period accepted from a device that cannot do exactly
/// [`FRAME_SAMPLES`] (5 ms): smaller only adds wake-ups.
pub const MIN_PERIOD_FRAMES: usize = FRAME_SAMPLES / 4;
/// The largest period accepted (40 ms): larger makes the 20 ms pacing lumpy.
pub const MAX_PERIOD_FRAMES: usize = FRAME_SAMPLES * 2;
/// The longest one frame's read or write may take (fifty frames' worth)
/// before the device is declared stalled, so that a stuck card cannot hang a
/// media thread and with it the peer's orderly shutdown.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(1);
/// Recoveries (overrun, underrun, suspend) tried within one frame before the
/// device is given up: more than this in 20 ms means recovery is not working.
pub const MAX_RECOVERIES_PER_FRAME: u32 = 4;
/// Cards looked at by [`cards`]: the kernel's largest `CONFIG_SND_MAX_CARDS`.
pub const MAX_CARDS: usize = 256;
/// PCM devices looked at on one card; real cards have a handful.
pub const MAX_PCM_DEVICES: usize = 64;

/// What to use instead of a microphone that cannot be opened.
const CAPTURE_FALLBACK: &str = "use --audio-in tone, or --no-audio";
/// What to use instead of a speaker that cannot be opened.
const PLAYBACK_FALLBACK: &str = "use --audio-out null, or --no-audio";

/// One sound card and its PCM devices, for `peercall devices`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardInfo {
    /// The card number, as in `hw:1,0`.
    pub index: i32,
    /// The card's id, as in `hw:CARD=Loopback,DEV=0` (stable across reboots,
    /// unlike the number).
    pub id: String,
    /// The card's name as the driver gives it.
    pub name: String,
    /// Its PCM devices, by device number.
    pub pcms: Vec<PcmInfo>,
}

/// One PCM device of a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcmInfo {
    /// The device number, as in `hw:1,0`.
    pub device: u32,
    /// The device's name as the driver gives it.
    pub name: String,
    /// Whether it plays sound (a speaker).
    pub playback: bool,
    /// Whether it records sound (a microphone).
    pub capture: bool,
    /// The ALSA name of the device itself, e.g. `hw:CARD=Loopback,DEV=0`:
    /// only what the hardware takes, nothing converted.
    pub hw: String,
    /// The ALSA name with alsa-lib's conversions in front, e.g.
    /// `plughw:CARD=Loopback,DEV=0`: any rate, channels and format.
    pub plughw: String,
}

/// Which way sound flows through a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// From the device: a microphone.
    Capture,
    /// To the device: a speaker.
    Playback,
}

impl Stream {
    fn direction(self) -> Direction {
        match self {
            Stream::Capture => Direction::Capture,
            Stream::Playback => Direction::Playback,
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Stream::Capture => "capture",
            Stream::Playback => "play",
        }
    }

    fn fallback(self) -> &'static str {
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
                "no sound card: ALSA device '{device}' cannot be opened ({}); {}",
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

/// The microphone: 48 kHz signed 16-bit interleaved, mono (or stereo,
/// downmixed), in 20 ms periods.
pub struct Capture {
    device: Device,
    /// One frame as the device delivers it (interleaved when stereo).
    scratch: Vec<i16>,
    overruns: u64,
}

impl Capture {
    /// Opens an ALSA capture device such as `default`, `hw:Loopback,1,0` or
    /// `plughw:1,0`. Capture starts with the first [`Capture::read_frame`].
    pub fn open(device: &str) -> Result<Capture, SoundError> {
        let device = Device::open(device, Stream::Capture)?;
        let scratch = vec![0; FRAME_SAMPLES * device.channels as usize];
        Ok(Capture {
            device,
            scratch,
            overruns: 0,
        })
    }

    /// Blocks until the next 20 ms frame is captured (paced by the card's
    /// clock) and fills `out` with its [`FRAME_SAMPLES`] mono samples.
    /// Overruns are recovered and counted (see [`Capture::overruns`]); the
    /// errors returned are those that cannot be: the device is gone or stuck.
    pub fn read_frame(&mut self, out: &mut [i16]) -> Result<(), SoundError> {
        if out.len() != FRAME_SAMPLES {
            return Err(SoundError::FrameLength {
                expected: FRAME_SAMPLES,
                got: out.len(),
            });
        }
        let channels = self.device.channels as usize;
        let mut filled = 0; // frames
        let mut budget = FrameBudget::new();
        while filled < FRAME_SAMPLES {
            let read = match self.device.pcm.io_i16() {
                Ok(io) => io.readi(&mut self.scratch[filled * channels..]),
                Err(e) => Err(e),
            };
            let lost_sound = match read {
                Ok(0) => self.device.wait_ready(&mut budget)?,
                Ok(n) => {
                    filled += n;
                    false
                }
                Err(e) => self.device.recover(e, &mut budget)?,
            };
            if lost_sound {
                self.overruns += 1;
            }
        }
        if channels == 1 {
            out.copy_from_slice(&self.scratch);
        } else {
            downmix_stereo(&self.scratch, out);
        }
        Ok(())
    }

    /// Overruns so far: times the card's buffer filled before it was read,
    /// each losing some sound.
    pub fn overruns(&self) -> u64 {
        self.overruns
    }

    /// Channels the device delivers (1, or 2 downmixed to 1).
    pub fn channels(&self) -> u32 {
        self.device.channels
    }

    /// The device's sample rate: always [`RATE`].
    pub fn rate(&self) -> u32 {
        RATE
    }
}

/// The speaker: 48 kHz signed 16-bit interleaved, mono (or stereo,
/// duplicated), paced by the card's clock.
pub struct Playback {
    device: Device,
    /// One frame as the device takes it (interleaved when stereo).
    scratch: Vec<i16>,
    underruns: u64,
}

impl Playback {
    /// Opens an ALSA playback device such as `default`, `hw:Loopback,0,0` or
    /// `plughw:1,0`. Sound starts once [`PLAYBACK_START_PERIODS`] are queued.
    pub fn open(device: &str) -> Result<Playback, SoundError> {
        let device = Device::open(device, Stream::Playback)?;
        let scratch = vec![0; FRAME_SAMPLES * device.channels as usize];
        Ok(Playback {
            device,
            scratch,
            underruns: 0,
        })
    }

    /// Queues one 20 ms frame of [`FRAME_SAMPLES`] mono samples, blocking
    /// while the card's buffer is full, so that the caller's loop runs at the
    /// card's rate. Underruns are recovered and counted (see
    /// [`Playback::underruns`]); the errors returned are those that cannot be.
    pub fn write_frame(&mut self, pcm: &[i16]) -> Result<(), SoundError> {
        if pcm.len() != FRAME_SAMPLES {
            return Err(SoundError::FrameLength {
                expected: FRAME_SAMPLES,
                got: pcm.len(),
            });
        }
        let channels = self.device.channels as usize;
        let frame: &[i16] = if channels == 1 {
            pcm
        } else {
            duplicate_to_stereo(pcm, &mut self.scratch);
            &self.scratch
        };
        let mut written = 0; // frames
        let mut budget = FrameBudget::new();
        while written < FRAME_SAMPLES {
            let wrote = match self.device.pcm.io_i16() {
                Ok(io) => io.writei(&frame[written * channels..]),
                Err(e) => Err(e),
            };
            let lost_sound = match wrote {
                Ok(0) => self.device.wait_ready(&mut budget)?,
                Ok(n) => {
                    written += n;
                    false
                }
                Err(e) => self.device.recover(e, &mut budget)?,
            };
            if lost_sound {
                self.underruns += 1;
            }
        }
        Ok(())
    }

    /// Underruns so far: times the card ran out of sound to play, each an
    /// audible gap.
    pub fn underruns(&self) -> u64 {
        self.underruns
    }

    /// Frames queued in the device and not yet played (`snd_pcm_delay`), for
    /// latency measurement; `None` when the device cannot tell (stopped).
    // `Frames` is a C long: i64 here, but i32 on 32-bit ARM boards.
    #[allow(clippy::useless_conversion)]
    pub fn delay_frames(&self) -> Option<i64> {
        self.device.pcm.delay().ok().map(i64::from)
    }

    /// Channels the device takes (1, or 2 with each sample duplicated).
    pub fn channels(&self) -> u32 {
        self.device.channels
    }
}

/// An open, configured PCM device, either way.
struct Device {
    pcm: PCM,
    name: String,
    stream: Stream,
    channels: u32,
}

impl Device {
    fn open(name: &str, stream: Stream) -> Result<Device, SoundError> {
        let bad_name = || SoundError::BadName {
            device: name.to_string(),
        };
        // No ALSA name has control characters, and one would break the
        // one-line error that names the device; the crate's &str
        // constructor would panic on a NUL byte.
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(bad_name());
        }
        let cname = CString::new(name).map_err(|_| bad_name())?;
        let no_card = || !matches!(alsa::card::Iter::new().next(), Some(Ok(_)));
        if needs_card(name) && no_card() {
            // Said before alsa-lib tries: it would first print half a dozen
            // lines of its own configuration errors to stderr.
            return Err(SoundError::Open {
                device: name.to_string(),
                stream,
                errno: libc::ENOENT,
                no_card: true,
            });
        }
        // Non-blocking, so that every wait goes through `wait` below with
        // STALL_TIMEOUT instead of blocking forever in alsa-lib.
        let pcm = PCM::open(&cname, stream.direction(), true).map_err(|e| {
            let errno = errno_of(&e);
            let no_card = matches!(errno, libc::ENOENT | libc::ENODEV | libc::ENXIO) && no_card();
            SoundError::Open {
                device: name.to_string(),
                stream,
                errno,
                no_card,
            }
        })?;
        let channels = configure(&pcm, name, stream)?;
        log::debug!(
            "sound: {name} open to {}, {channels} channel(s)",
            stream.verb()
        );
        Ok(Device {
            pcm,
            name: name.to_string(),
            stream,
            channels,
        })
    }

    /// Waits until the device can be read or written, within what is left of
    /// the frame's [`STALL_TIMEOUT`]: the deadline is the frame's, not the
    /// wait's, so that a device that keeps saying "ready" and then "not
    /// ready" cannot spin. `Ok(true)` as for [`Device::recover`].
    fn wait_ready(&self, budget: &mut FrameBudget) -> Result<bool, SoundError> {
        let stalled = || SoundError::Stalled {
            device: self.name.clone(),
            stream: self.stream,
        };
        let left = budget.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(stalled());
        }
        let left_ms = u32::try_from(left.as_millis()).unwrap_or(u32::MAX).max(1);
        match self.pcm.wait(Some(left_ms)) {
            Ok(true) => Ok(false),
            Ok(false) => Err(stalled()),
            // The wait itself reports an xrun or a suspend.
            Err(e) => self.recover(e, budget),
        }
    }

    /// Handles a failed read or write: waits when the device is merely not
    /// ready, recovers overruns, underruns and suspends, and returns the
    /// error when the device cannot go on. `Ok(true)` means an xrun was
    /// recovered (sound was lost).
    fn recover(&self, e: alsa::Error, budget: &mut FrameBudget) -> Result<bool, SoundError> {
        let errno = errno_of(&e);
        if errno == libc::EAGAIN {
            return self.wait_ready(budget);
        }
        if errno == libc::EINTR {
            return Ok(false);
        }
        let lost = || SoundError::Lost {
            device: self.name.clone(),
            stream: self.stream,
            errno,
        };
        budget.recoveries += 1;
        if budget.recoveries > MAX_RECOVERIES_PER_FRAME
            || !matches!(errno, libc::EPIPE | libc::ESTRPIPE)
        {
            return Err(lost());
        }
        // Silent: the count is the report; alsa-lib would print to stderr.
        self.pcm.try_recover(e, true).map_err(|_| lost())?;
        if self.stream == Stream::Capture && self.pcm.state_raw() == State::Prepared as i32 {
            // A capture stream restarts on the next read anyway; starting it
            // here keeps the next EAGAIN's wait from waiting on a stopped card.
            self.pcm.start().map_err(|_| lost())?;
        }
        if errno == libc::EPIPE {
            log::debug!(
                "sound: {} {}",
                self.name,
                match self.stream {
                    Stream::Capture => "overrun",
                    Stream::Playback => "underrun",
                }
            );
        }
        Ok(errno == libc::EPIPE)
    }
}

/// The sample rates a device accepts, lowest and highest, for `peercall
/// selftest`; `None` when it cannot be opened (busy, absent).
pub fn rate_range(device: &str, stream: Stream) -> Option<(u32, u32)> {
    if device.is_empty() || device.chars().any(char::is_control) {
        return None;
    }
    let cname = CString::new(device).ok()?;
    let pcm = PCM::open(&cname, stream.direction(), true).ok()?;
    let hw = HwParams::any(&pcm).ok()?;
    Some((hw.get_rate_min().ok()?, hw.get_rate_max().ok()?))
}

/// Sets the device up for the pipeline's format and returns its channels.
fn configure(pcm: &PCM, device: &str, stream: Stream) -> Result<u32, SoundError> {
    let setup = |call: &'static str| {
        move |e: alsa::Error| SoundError::Setup {
            device: device.to_string(),
            stream,
            call,
            errno: errno_of(&e),
        }
    };
    let unsupported = |what| SoundError::Unsupported {
        device: device.to_string(),
        stream,
        what,
    };

    let hw = HwParams::any(pcm).map_err(setup("snd_pcm_hw_params_any"))?;
    hw.set_access(Access::RWInterleaved)
        .map_err(setup("snd_pcm_hw_params_set_access"))?;
    hw.set_format(Format::s16())
        .map_err(|_| unsupported(Unsupported::Format))?;
    let min = hw
        .get_channels_min()
        .map_err(setup("snd_pcm_hw_params_get_channels_min"))?;
    let max = hw
        .get_channels_max()
        .map_err(setup("snd_pcm_hw_params_get_channels_max"))?;
    let channels =
        choose_channels(min, max).ok_or_else(|| unsupported(Unsupported::Channels { min, max }))?;
    hw.set_channels(channels)
        .map_err(setup("snd_pcm_hw_params_set_channels"))?;
    let rate = hw
        .set_rate_near(RATE, ValueOr::Nearest)
        .map_err(setup("snd_pcm_hw_params_set_rate_near"))?;
    if rate != RATE {
        return Err(unsupported(Unsupported::Rate { nearest: rate }));
    }
    let period = hw
        .set_period_size_near(FRAME_SAMPLES as Frames, ValueOr::Nearest)
        .map_err(setup("snd_pcm_hw_params_set_period_size_near"))?;
    let period = usize::try_from(period).unwrap_or(0);
    let periods = match stream {
        Stream::Capture => CAPTURE_BUFFER_PERIODS,
        Stream::Playback => PLAYBACK_BUFFER_PERIODS,
    };
    let want = buffer_frames(period, periods)
        .ok_or_else(|| unsupported(Unsupported::Period { nearest: period }))?;
    let buffer = hw
        .set_buffer_size_near(want as Frames)
        .map_err(setup("snd_pcm_hw_params_set_buffer_size_near"))?;
    let buffer = usize::try_from(buffer).unwrap_or(0);
    if buffer < MIN_BUFFER_PERIODS * period {
        return Err(unsupported(Unsupported::Buffer { period, buffer }));
    }
    pcm.hw_params(&hw).map_err(setup("snd_pcm_hw_params"))?;
    drop(hw);

    let sw = pcm
        .sw_params_current()
        .map_err(setup("snd_pcm_sw_params_current"))?;
    // Wake for every period: one period is about one frame.
    sw.set_avail_min(period as Frames)
        .map_err(setup("snd_pcm_sw_params_set_avail_min"))?;
    if stream == Stream::Playback {
        let start = (PLAYBACK_START_PERIODS * period).min(buffer);
        sw.set_start_threshold(start as Frames)
            .map_err(setup("snd_pcm_sw_params_set_start_threshold"))?;
    }
    pcm.sw_params(&sw).map_err(setup("snd_pcm_sw_params"))?;
    log::debug!(
        "sound: {device}: {channels} ch, {RATE} Hz, period {period}, buffer {buffer} frames"
    );
    Ok(channels)
}

/// What one frame's read or write may still spend on waiting and recovering.
struct FrameBudget {
    recoveries: u32,
    deadline: Instant,
}

impl FrameBudget {
    fn new() -> FrameBudget {
        FrameBudget {
            recoveries: 0,
            deadline: Instant::now() + STALL_TIMEOUT,
        }
    }
}

/// Every sound card and its PCM devices; empty when there is none (or ALSA
/// cannot be asked). Cards that cannot be opened are left out.
pub fn cards() -> Vec<CardInfo> {
    let mut found = Vec::new();
    // Stop at the first error: the iterator would only repeat it.
    for card in alsa::card::Iter::new()
        .take(MAX_CARDS)
        .map_while(Result::ok)
    {
        if let Some(info) = probe_card(&card) {
            found.push(info);
        }
    }
    found
}

/// What the driver reports for one PCM device in one direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcmProbe {
    /// The device number.
    pub device: u32,
    /// The direction it was found for.
    pub stream: Stream,
    /// The driver's name for it.
    pub name: String,
}

fn probe_card(card: &alsa::Card) -> Option<CardInfo> {
    // The control device reports each PCM and its directions from the driver
    // itself; alsa-lib's name hints would depend on its configuration files.
    let ctl = Ctl::from_card(card, false).ok()?;
    let info = ctl.card_info().ok()?;
    let mut probes = Vec::new();
    for device in DeviceIter::new(&ctl).take(MAX_PCM_DEVICES) {
        let Ok(device) = u32::try_from(device) else {
            continue;
        };
        for stream in [Stream::Playback, Stream::Capture] {
            if let Ok(pcm) = ctl.pcm_info(device, 0, stream.direction()) {
                let name = pcm.get_name().unwrap_or_default().to_string();
                probes.push(PcmProbe {
                    device,
                    stream,
                    name,
                });
            }
        }
    }
    Some(card_info(
        card.get_index(),
        info.get_id().unwrap_or_default(),
        info.get_name().unwrap_or_default(),
        &probes,
    ))
}

/// Gathers what was found on one card into a [`CardInfo`]: one entry per
/// device number, in order, with the directions it was found for.
pub fn card_info(index: i32, id: &str, name: &str, probes: &[PcmProbe]) -> CardInfo {
    // The id names the card in ALSA names; a card without one (never seen)
    // still has its number.
    let card = if id.is_empty() {
        index.to_string()
    } else {
        id.to_string()
    };
    let mut pcms: Vec<PcmInfo> = Vec::new();
    for probe in probes {
        let at = match pcms.iter().position(|p| p.device == probe.device) {
            Some(at) => at,
            None => {
                pcms.push(PcmInfo {
                    device: probe.device,
                    name: String::new(),
                    playback: false,
                    capture: false,
                    hw: format!("hw:CARD={card},DEV={}", probe.device),
                    plughw: format!("plughw:CARD={card},DEV={}", probe.device),
                });
                pcms.len() - 1
            }
        };
        let pcm = &mut pcms[at];
        if pcm.name.is_empty() {
            pcm.name = probe.name.clone();
        }
        match probe.stream {
            Stream::Playback => pcm.playback = true,
            Stream::Capture => pcm.capture = true,
        }
    }
    pcms.sort_by_key(|p| p.device);
    CardInfo {
        index,
        id: id.to_string(),
        name: name.to_string(),
        pcms,
    }
}

/// The channel count to run a device at, given the range it takes: mono if
/// it can, else stereo, else none.
pub fn choose_channels(min: u32, max: u32) -> Option<u32> {
    (1..=MAX_DEVICE_CHANNELS).find(|&c| min <= c && c <= max)
}

/// The buffer to ask for, in frames, given the period the device settled on
/// and the buffer wanted in 20 ms frames: whole periods covering that much,
/// and at least [`MIN_BUFFER_PERIODS`]. `None` when the period is outside
/// [`MIN_PERIOD_FRAMES`]..=[`MAX_PERIOD_FRAMES`].
pub fn buffer_frames(period: usize, frames: usize) -> Option<usize> {
    if !(MIN_PERIOD_FRAMES..=MAX_PERIOD_FRAMES).contains(&period) {
        return None;
    }
    let periods = (frames * FRAME_SAMPLES)
        .div_ceil(period)
        .max(MIN_BUFFER_PERIODS);
    Some(periods * period)
}

/// Averages interleaved stereo into mono, as many frames as both hold.
pub fn downmix_stereo(stereo: &[i16], mono: &mut [i16]) {
    for (m, lr) in mono.iter_mut().zip(stereo.chunks_exact(2)) {
        // The sum of two i16 fits an i32, and half of it fits an i16 again.
        *m = ((i32::from(lr[0]) + i32::from(lr[1])) / 2) as i16;
    }
}

/// Copies each mono sample to both channels of interleaved stereo, as many
/// frames as both hold.
pub fn duplicate_to_stereo(mono: &[i16], stereo: &mut [i16]) {
    for (lr, &m) in stereo.chunks_exact_mut(2).zip(mono) {
        lr[0] = m;
        lr[1] = m;
    }
}

/// Whether an ALSA device name stands for a sound card, so that it cannot
/// open when there is none. `default` is counted in: it is a card's device
/// unless a sound server (PipeWire, PulseAudio) has taken the name over, and
/// those name themselves too (`pipewire`, `pulse`) for a machine with no card.
fn needs_card(device: &str) -> bool {
    device == "default"
        || [
            "hw:",
            "plughw:",
            "sysdefault",
            "default:",
            "front:",
            "dmix:",
            "dsnoop:",
        ]
        .iter()
        .any(|p| device.starts_with(p))
}

/// The device to suggest instead of one that cannot do what is needed:
/// the `plughw:` form of an `hw:` name, and `default` either way.
fn converting_device(device: &str) -> String {
    match device.strip_prefix("hw:") {
        Some(rest) => format!("'plughw:{rest}' or 'default'"),
        None => "'plughw:CARD,DEV' or 'default'".to_string(),
    }
}

/// The errno an ALSA error carries, positive (the crate passes some on
/// negative, as alsa-lib returns them).
fn errno_of(e: &alsa::Error) -> i32 {
    e.errno().wrapping_abs()
}

/// The system's text for an errno, without std's "(os error N)" suffix.
fn errno_text(errno: i32) -> String {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mono_is_preferred_then_stereo() {
        assert_eq!(choose_channels(1, 2), Some(1));
        assert_eq!(choose_channels(1, 8), Some(1));
        assert_eq!(choose_channels(2, 2), Some(2));
        assert_eq!(choose_channels(2, 8), Some(2));
        assert_eq!(choose_channels(4, 8), None);
        assert_eq!(choose_channels(0, 0), None);
        assert_eq!(choose_channels(3, 1), None);
    }

    #[test]
    fn buffer_is_whole_periods_covering_the_wanted_frames() {
        assert_eq!(buffer_frames(960, 4), Some(3840));
        assert_eq!(buffer_frames(960, 3), Some(2880));
        // 1024-frame periods (power-of-two hardware): 3 frames need 3 periods.
        assert_eq!(buffer_frames(1024, 3), Some(3072));
        assert_eq!(buffer_frames(256, 3), Some(256 * 12));
        // Never fewer than two periods.
        assert_eq!(buffer_frames(1920, 1), Some(3840));
        assert_eq!(buffer_frames(960, 0), Some(1920));
    }

    #[test]
    fn periods_far_from_20_ms_are_refused() {
        assert_eq!(buffer_frames(0, 4), None);
        assert_eq!(buffer_frames(MIN_PERIOD_FRAMES - 1, 4), None);
        assert_eq!(buffer_frames(MAX_PERIOD_FRAMES + 1, 4), None);
        assert!(buffer_frames(MIN_PERIOD_FRAMES, 4).is_some());
        assert!(buffer_frames(MAX_PERIOD_FRAMES, 4).is_some());
        assert_eq!(buffer_frames(usize::MAX, 4), None);
    }

    #[test]
    fn downmix_averages_without_overflow() {
        let stereo = [
            100,
            200,
            i16::MAX,
            i16::MAX,
            i16::MIN,
            i16::MIN,
            i16::MAX,
            i16::MIN,
            -3,
            0,
        ];
        let mut mono = [7; 5];
        downmix_stereo(&stereo, &mut mono);
        assert_eq!(mono, [150, i16::MAX, i16::MIN, 0, -1]);
    }

    #[test]
    fn downmix_stops_at_the_shorter_side() {
        let mut mono = [7; 3];
        downmix_stereo(&[2, 4, 6], &mut mono);
        assert_eq!(mono, [3, 7, 7]);
        downmix_stereo(&[], &mut mono);
        downmix_stereo(&[1, 1, 1, 1], &mut []);
    }

    #[test]
    fn duplication_fills_both_channels() {
        let mut stereo = [0; 6];
        duplicate_to_stereo(&[1, -2, i16::MIN], &mut stereo);
        assert_eq!(stereo, [1, 1, -2, -2, i16::MIN, i16::MIN]);
        let mut short = [9; 3];
        duplicate_to_stereo(&[5, 6], &mut short);
        assert_eq!(short, [5, 5, 9]);
    }

    #[test]
    fn duplicate_then_downmix_is_identity() {
        let mono: Vec<i16> = (0..FRAME_SAMPLES)
            .map(|i| (i as i16).wrapping_mul(67))
            .collect();
        let mut stereo = vec![0; FRAME_SAMPLES * 2];
        duplicate_to_stereo(&mono, &mut stereo);
        let mut back = vec![0; FRAME_SAMPLES];
        downmix_stereo(&stereo, &mut back);
        assert_eq!(back, mono);
    }

    fn probe(device: u32, stream: Stream, name: &str) -> PcmProbe {
        PcmProbe {
            device,
            stream,
            name: name.to_string(),
        }
    }

    #[test]
    fn probes_gather_into_one_entry_per_device() {
        let probes = [
            probe(1, Stream::Playback, "Loopback PCM"),
            probe(0, Stream::Playback, "Loopback PCM"),
            probe(0, Stream::Capture, "Loopback PCM"),
            probe(1, Stream::Capture, "Loopback PCM"),
            probe(3, Stream::Capture, "USB Mic"),
        ];
        let card = card_info(2, "Loopback", "Loopback", &probes);
        assert_eq!(card.index, 2);
        assert_eq!(card.id, "Loopback");
        let summary: Vec<_> = card
            .pcms
            .iter()
            .map(|p| (p.device, p.playback, p.capture))
            .collect();
        assert_eq!(
            summary,
            [(0, true, true), (1, true, true), (3, false, true)]
        );
        assert_eq!(card.pcms[0].hw, "hw:CARD=Loopback,DEV=0");
        assert_eq!(card.pcms[2].plughw, "plughw:CARD=Loopback,DEV=3");
        assert_eq!(card.pcms[2].name, "USB Mic");
    }

    #[test]
    fn a_card_without_devices_or_id_is_still_listed() {
        let card = card_info(5, "", "Odd", &[]);
        assert!(card.pcms.is_empty());
        let card = card_info(5, "", "Odd", &[probe(0, Stream::Playback, "")]);
        assert_eq!(card.pcms[0].hw, "hw:CARD=5,DEV=0");
        assert!(card.pcms[0].playback && !card.pcms[0].capture);
    }

    #[test]
    fn card_devices_are_told_from_others() {
        for name in [
            "default",
            "hw:0,0",
            "plughw:CARD=Loopback,DEV=1",
            "sysdefault:CARD=0",
            "dmix:0",
        ] {
            assert!(needs_card(name), "{name}");
        }
        for name in ["pipewire", "pulse", "null", "defaults", "plug:file", ""] {
            assert!(!needs_card(name), "{name}");
        }
    }

    #[test]
    fn errno_text_drops_the_os_error_suffix() {
        assert_eq!(errno_text(libc::ENOENT), "No such file or directory");
        assert_eq!(errno_text(libc::EBUSY), "Device or resource busy");
        assert_eq!(errno_text(i32::MIN), errno_text(i32::MIN));
    }

    #[test]
    fn errors_are_one_line_and_say_what_to_do() {
        let d = || "hw:1,0".to_string();
        let errors = [
            SoundError::BadName {
                device: "a\0b\nc".to_string(),
            },
            SoundError::Open {
                device: "default".into(),
                stream: Stream::Capture,
                errno: libc::ENOENT,
                no_card: true,
            },
            SoundError::Open {
                device: d(),
                stream: Stream::Playback,
                errno: libc::ENOENT,
                no_card: false,
            },
            SoundError::Open {
                device: d(),
                stream: Stream::Playback,
                errno: libc::EBUSY,
                no_card: false,
            },
            SoundError::Open {
                device: d(),
                stream: Stream::Capture,
                errno: libc::EACCES,
                no_card: false,
            },
            SoundError::Unsupported {
                device: d(),
                stream: Stream::Capture,
                what: Unsupported::Format,
            },
            SoundError::Unsupported {
                device: d(),
                stream: Stream::Capture,
                what: Unsupported::Rate { nearest: 44_100 },
            },
            SoundError::Unsupported {
                device: d(),
                stream: Stream::Capture,
                what: Unsupported::Channels { min: 4, max: 8 },
            },
            SoundError::Unsupported {
                device: d(),
                stream: Stream::Playback,
                what: Unsupported::Period { nearest: 64 },
            },
            SoundError::Unsupported {
                device: d(),
                stream: Stream::Playback,
                what: Unsupported::Buffer {
                    period: 960,
                    buffer: 960,
                },
            },
            SoundError::Setup {
                device: d(),
                stream: Stream::Capture,
                call: "snd_pcm_hw_params",
                errno: libc::EPIPE,
            },
            SoundError::Stalled {
                device: d(),
                stream: Stream::Capture,
            },
            SoundError::Stalled {
                device: d(),
                stream: Stream::Playback,
            },
            SoundError::Lost {
                device: d(),
                stream: Stream::Capture,
                errno: libc::ENODEV,
            },
            SoundError::FrameLength {
                expected: FRAME_SAMPLES,
                got: 3,
            },
        ];
        for e in errors {
            let text = e.to_string();
            assert!(!text.contains('\n') && !text.contains('\0'), "{text:?}");
            assert!(!text.contains("os error"), "{text}");
        }
        let e = SoundError::Open {
            device: "default".into(),
            stream: Stream::Capture,
            errno: libc::ENOENT,
            no_card: true,
        };
        assert_eq!(
            e.to_string(),
            "no sound card: ALSA device 'default' cannot be opened (No such file or directory); use --audio-in tone, or --no-audio"
        );
        let e = SoundError::Unsupported {
            device: d(),
            stream: Stream::Capture,
            what: Unsupported::Rate { nearest: 44_100 },
        };
        assert_eq!(
            e.to_string(),
            "ALSA device 'hw:1,0' cannot capture at 48000 Hz (nearest 44100 Hz); use 'plughw:1,0' or 'default', which resample"
        );
    }

    #[test]
    fn bad_names_are_refused_before_alsa_sees_them() {
        assert!(matches!(Capture::open(""), Err(SoundError::BadName { .. })));
        for name in ["hw:0\0,0", "hw:0,0\n", "default\r\nnext line"] {
            let e = Playback::open(name).err();
            assert!(matches!(e, Some(SoundError::BadName { .. })), "{name:?}");
            let text = e.map(|e| e.to_string()).unwrap_or_default();
            assert!(!text.contains(['\n', '\r', '\0']), "{text:?}");
        }
    }

    #[test]
    fn a_missing_device_is_an_error_not_a_panic() {
        // On a machine with no such card (any CI machine) this cannot open;
        // on one with 32 cards it might, which is fine too.
        if let Err(e) = Capture::open("hw:31,0") {
            assert!(matches!(e, SoundError::Open { .. }), "{e}");
        }
        if let Err(e) = Playback::open("no-such-alsa-device") {
            assert!(matches!(e, SoundError::Open { .. }), "{e}");
        }
        // Listing never fails; on this machine it may well be empty, and
        // then opening anything says there is no sound card at all.
        let cards = cards();
        for card in &cards {
            assert!(card.index >= 0);
        }
        if cards.is_empty() {
            let e = Capture::open("default").err().expect("no card, no capture");
            assert!(matches!(e, SoundError::Open { no_card: true, .. }), "{e}");
            assert!(e.to_string().starts_with("no sound card: "), "{e}");
        }
    }
}
