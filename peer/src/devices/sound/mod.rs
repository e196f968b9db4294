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

mod cards;
mod error;

pub use cards::{card_info, cards, cards_there, missing_card, CardInfo, PcmInfo, PcmProbe};
pub use error::{SoundError, Stream, Unsupported};

use alsa::pcm::{Access, Format, Frames, HwParams, State, PCM};
use alsa::ValueOr;
use std::ffi::CString;
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
mod tests;
