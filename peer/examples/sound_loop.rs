//! Checks peer/src/devices/sound against a real ALSA driver: the snd-aloop
//! loopback card, where what is played into `hw:Loopback,0,N` is captured
//! from `hw:Loopback,1,N`. It plays a 440 Hz tone for 2 s while capturing,
//! measures the frequency that comes back and whether it is bit-exact, then
//! clicks after silence to measure the round trip through both buffers, and
//! checks the refusals and conversions: a 44.1 kHz device refused with a
//! `plughw:` hint, `plughw:` resampling it, a stereo-only device downmixed
//! (capture) and duplicated (playback). One PASS or FAIL line a check.
//!
//! ```text
//! cargo build -p peercall-peer --example sound_loop
//! hw-tests/vm/run.sh -- target/debug/examples/sound_loop
//! ```
//! Exit status 0 when every check passes, 1 otherwise, 2 with no Loopback
//! card.

use alsa::pcm::{Access, Format, HwParams, PCM};
use alsa::{Direction, ValueOr};
use peercall_peer::devices::sound::{
    self, Capture, Playback, SoundError, Unsupported, FRAME_SAMPLES, PLAYBACK_BUFFER_PERIODS, RATE,
};
use std::f64::consts::TAU;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// The loopback's playback and capture sides, subdevice 0 (the main test).
const PLAY: &str = "hw:Loopback,0,0";
const CAP: &str = "hw:Loopback,1,0";
/// The test tone.
const TONE_HZ: f64 = 440.0;
const TONE_AMPLITUDE: f64 = 8000.0;
const TONE_FRAMES: usize = 100; // 2 s
/// Silence before the tone and around the click, in frames (0.5 s).
const QUIET_FRAMES: usize = 25;
/// Clicks played after the tone to measure latency, and frames between them.
const CLICKS: usize = 10;
const CLICK_SPACING: usize = 10;
/// The round trip through both buffers must stay under this.
const MAX_ROUND_TRIP_MS: f64 = 150.0;
/// Samples of the click, and their value.
const CLICK_SAMPLES: usize = 8;
const CLICK_VALUE: i16 = 20_000;
/// A captured sample counts as sound above this.
const SOUND_THRESHOLD: i16 = 1000;
/// How far the measured tone may be from TONE_HZ.
const FREQUENCY_TOLERANCE_HZ: f64 = 1.0;
/// How far the measured capture rate may be from RATE (the VM's clock).
const RATE_TOLERANCE: f64 = 0.02;
/// Frames captured in the conversion checks.
const CHECK_FRAMES: usize = 10;

struct Report {
    failed: usize,
}

impl Report {
    fn check(&mut self, ok: bool, what: &str) {
        println!("{} {what}", if ok { "PASS" } else { "FAIL" });
        if !ok {
            self.failed += 1;
        }
    }
}

fn tone(frame_index: usize, out: &mut [i16]) {
    for (i, s) in out.iter_mut().enumerate() {
        let n = (frame_index * FRAME_SAMPLES + i) as f64;
        *s = (TONE_AMPLITUDE * (TAU * TONE_HZ * n / f64::from(RATE)).sin()).round() as i16;
    }
}

/// A frame as captured and when `read_frame` returned it.
struct Captured {
    at: Instant,
    samples: Vec<i16>,
}

fn main() {
    env_logger::init();
    let mut report = Report { failed: 0 };

    let cards = sound::cards();
    for card in &cards {
        println!("card {} '{}' ({}):", card.index, card.id, card.name);
        for p in &card.pcms {
            println!(
                "  device {} '{}'{}{}: {} / {}",
                p.device,
                p.name,
                if p.playback { " playback" } else { "" },
                if p.capture { " capture" } else { "" },
                p.hw,
                p.plughw
            );
        }
    }
    let Some(loopback) = cards.iter().find(|c| c.id == "Loopback") else {
        println!("FAIL no Loopback card (load snd-aloop, or run through hw-tests/vm/run.sh)");
        std::process::exit(2);
    };
    report.check(
        loopback
            .pcms
            .iter()
            .any(|p| p.device == 0 && p.playback && p.capture)
            && loopback
                .pcms
                .iter()
                .any(|p| p.device == 1 && p.playback && p.capture),
        "cards(): Loopback lists devices 0 and 1, both ways",
    );

    loop_test(&mut report);
    refusal_test(&mut report);
    stereo_capture_test(&mut report);
    stereo_playback_test(&mut report);
    default_test(&mut report);
    error_lines(&mut report);

    println!("{} check(s) failed", report.failed);
    std::process::exit(if report.failed == 0 { 0 } else { 1 });
}

/// Tone and click through subdevice 0, both ends through sound.rs.
fn loop_test(report: &mut Report) {
    let mut capture = match Capture::open(CAP) {
        Ok(c) => c,
        Err(e) => return report.check(false, &format!("open capture {CAP}: {e}")),
    };
    let mut playback = match Playback::open(PLAY) {
        Ok(p) => p,
        Err(e) => return report.check(false, &format!("open playback {PLAY}: {e}")),
    };
    report.check(
        capture.channels() == 1 && playback.channels() == 1 && capture.rate() == RATE,
        &format!(
            "loopback opens mono at {} Hz (capture {} ch, playback {} ch)",
            capture.rate(),
            capture.channels(),
            playback.channels()
        ),
    );

    let stop = Arc::new(AtomicBool::new(false));
    let stop_capture = Arc::clone(&stop);
    let capturing = thread::spawn(move || {
        let mut frames = Vec::new();
        let mut frame = vec![0; FRAME_SAMPLES];
        let started = Instant::now();
        let mut error = None;
        while !stop_capture.load(Ordering::Relaxed) {
            match capture.read_frame(&mut frame) {
                Ok(()) => frames.push(Captured {
                    at: Instant::now(),
                    samples: frame.clone(),
                }),
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        (frames, started.elapsed(), capture.overruns(), error)
    });
    thread::sleep(Duration::from_millis(200));

    let silence = vec![0i16; FRAME_SAMPLES];
    let mut frame = vec![0i16; FRAME_SAMPLES];
    let mut play_error = None;
    // For each click: when write_frame returned, and the queue then.
    let mut clicks_queued = Vec::new();
    let mut delays = Vec::new();
    let played = Instant::now();
    let mut written = 0usize;
    let clicks_from = QUIET_FRAMES + TONE_FRAMES + QUIET_FRAMES;
    let total = clicks_from + CLICKS * CLICK_SPACING + QUIET_FRAMES;
    for i in 0..total {
        let click = i >= clicks_from
            && i < clicks_from + CLICKS * CLICK_SPACING
            && (i - clicks_from) % CLICK_SPACING == 0;
        let pcm: &[i16] = if (QUIET_FRAMES..QUIET_FRAMES + TONE_FRAMES).contains(&i) {
            tone(i - QUIET_FRAMES, &mut frame);
            &frame
        } else if click {
            frame.fill(0);
            frame[..CLICK_SAMPLES].fill(CLICK_VALUE);
            &frame
        } else {
            &silence
        };
        if let Err(e) = playback.write_frame(pcm) {
            play_error = Some(e);
            break;
        }
        written += 1;
        let delay = playback.delay_frames();
        if click {
            clicks_queued.push((Instant::now(), delay));
        }
        if i > QUIET_FRAMES {
            delays.extend(delay);
        }
    }
    let play_time = played.elapsed();
    thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let Ok((frames, capture_time, overruns, capture_error)) = capturing.join() else {
        return report.check(false, "capture thread panicked");
    };
    report.check(
        play_error.is_none(),
        &format!("playback wrote {written} frames without error {play_error:?}"),
    );
    report.check(
        capture_error.is_none(),
        &format!(
            "capture read {} frames without error {capture_error:?}",
            frames.len()
        ),
    );
    report.check(
        playback.underruns() == 0,
        &format!("no underruns ({})", playback.underruns()),
    );
    report.check(overruns == 0, &format!("no overruns ({overruns})"));

    // Paced by the card: frames come at the card's rate.
    let capture_rate = (frames.len() * FRAME_SAMPLES) as f64 / capture_time.as_secs_f64();
    let play_rate = (written * FRAME_SAMPLES) as f64 / play_time.as_secs_f64();
    report.check(
        (capture_rate / f64::from(RATE) - 1.0).abs() < RATE_TOLERANCE,
        &format!(
            "capture is paced at the card's rate: {capture_rate:.0} samples/s over {:.2} s",
            capture_time.as_secs_f64()
        ),
    );
    // The first writes fill the empty buffer at once; the rest wait for it.
    report.check(
        (play_rate / f64::from(RATE) - 1.0).abs() < 0.1,
        &format!("playback is paced at the card's rate: {play_rate:.0} samples/s over {:.2} s (buffer fill included)", play_time.as_secs_f64()),
    );

    let all: Vec<i16> = frames
        .iter()
        .flat_map(|f| f.samples.iter().copied())
        .collect();
    let Some(start) = all.iter().position(|s| s.abs() > SOUND_THRESHOLD) else {
        return report.check(false, "the tone came back");
    };
    // The tone starts at 0 and rises; step back to its first non-zero sample.
    let mut first = start;
    while first > 0 && all[first - 1] != 0 {
        first -= 1;
    }
    let tone_len = TONE_FRAMES * FRAME_SAMPLES;
    let mut expected = vec![0i16; tone_len];
    for (k, chunk) in expected.chunks_exact_mut(FRAME_SAMPLES).enumerate() {
        tone(k, chunk);
    }
    // The tone's sample 0 is 0, so the first non-zero sample is its sample 1.
    let got = all.get(first.saturating_sub(1)..first.saturating_sub(1) + tone_len);
    report.check(got == Some(&expected[..]), "the tone comes back bit-exact");
    if let Some(got) = got {
        // Frequency from zero crossings over the middle 1.5 s.
        let mid = &got[FRAME_SAMPLES * 12..FRAME_SAMPLES * 87];
        let crossings = mid.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        let hz = crossings as f64 / 2.0 / (mid.len() as f64 / f64::from(RATE));
        report.check(
            (hz - TONE_HZ).abs() < FREQUENCY_TOLERANCE_HZ,
            &format!("tone frequency {hz:.2} Hz (played {TONE_HZ} Hz)"),
        );
    }

    // The clicks: where they landed, and when.
    let after_tone = first + tone_len;
    let heard: Vec<(Instant, usize)> = frames
        .iter()
        .enumerate()
        .filter(|(j, _)| (j + 1) * FRAME_SAMPLES > after_tone)
        .filter_map(|(_, f)| {
            f.samples
                .iter()
                .position(|&s| s == CLICK_VALUE)
                .map(|s| (f.at, s))
        })
        .collect();
    report.check(
        heard.len() == clicks_queued.len() && heard.len() == CLICKS,
        &format!(
            "{} of {} clicks came back, once each",
            heard.len(),
            clicks_queued.len()
        ),
    );
    let ms = |frames: f64| frames * 1000.0 / f64::from(RATE);
    let mut app = Vec::new(); // write_frame returned -> read_frame returned
    let mut arrival = Vec::new(); // write_frame returned -> the click sample captured
    let mut due = Vec::new(); // what delay_frames said: queued ahead of the click
    for (&(queued, delay), &(read, s)) in clicks_queued.iter().zip(&heard) {
        let app_ms = read.saturating_duration_since(queued).as_secs_f64() * 1000.0;
        app.push(app_ms);
        arrival.push(app_ms - ms((FRAME_SAMPLES - s) as f64));
        // The click is the first sample of the last frame queued.
        if let Some(d) = delay {
            due.push(ms((d - FRAME_SAMPLES as i64) as f64));
        }
    }
    let spread = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        match (v.first(), v.get(v.len() / 2), v.last()) {
            (Some(lo), Some(mid), Some(hi)) => {
                format!("min {lo:.1} / median {mid:.1} / max {hi:.1} ms")
            }
            _ => "none".to_string(),
        }
    };
    println!("latency over {} clicks:", app.len());
    println!(
        "  write_frame returned -> read_frame returned the frame holding the click: {}",
        spread(&mut app)
    );
    println!(
        "  write_frame returned -> the click sample captured: {}",
        spread(&mut arrival)
    );
    println!(
        "  queued ahead of the click per delay_frames (playback side alone): {}",
        spread(&mut due)
    );
    let (lo, hi) = (
        delays.iter().min().copied().unwrap_or(0),
        delays.iter().max().copied().unwrap_or(0),
    );
    println!(
        "  playback delay_frames after each write, steady state: {lo}..{hi} frames ({:.1}..{:.1} ms)",
        ms(lo as f64),
        ms(hi as f64)
    );
    let worst = app.last().copied().unwrap_or(f64::MAX);
    report.check(
        !app.is_empty() && worst < MAX_ROUND_TRIP_MS,
        &format!("round trip at most {worst:.1} ms (limit {MAX_ROUND_TRIP_MS} ms)"),
    );
    report.check(
        hi > 0 && hi <= (PLAYBACK_BUFFER_PERIODS * FRAME_SAMPLES) as i64,
        &format!("delay_frames stays within the playback buffer ({hi} frames)"),
    );
}

/// A raw ALSA stream set to `rate` and `channels` on the other side of a
/// loopback subdevice, so that side constrains ours as real hardware would.
fn raw(device: &str, dir: Direction, rate: u32, channels: u32) -> Result<PCM, alsa::Error> {
    let pcm = PCM::new(device, dir, false)?;
    {
        let hw = HwParams::any(&pcm)?;
        hw.set_access(Access::RWInterleaved)?;
        hw.set_format(Format::s16())?;
        hw.set_channels(channels)?;
        hw.set_rate(rate, ValueOr::Nearest)?;
        hw.set_period_size_near(FRAME_SAMPLES as alsa::pcm::Frames, ValueOr::Nearest)?;
        hw.set_buffer_size_near(4 * FRAME_SAMPLES as alsa::pcm::Frames)?;
        pcm.hw_params(&hw)?;
    }
    Ok(pcm)
}

/// A device held at 44.1 kHz is refused with a hint; plughw resamples it.
fn refusal_test(report: &mut Report) {
    let _other = match raw("hw:Loopback,0,2", Direction::Playback, 44_100, 1) {
        Ok(p) => p,
        Err(e) => {
            return report.check(
                false,
                &format!("raw 44.1 kHz playback on hw:Loopback,0,2: {e}"),
            )
        }
    };
    match Capture::open("hw:Loopback,1,2") {
        Err(
            e @ SoundError::Unsupported {
                what: Unsupported::Rate { nearest: 44_100 },
                ..
            },
        ) => {
            println!("  message: {e}");
            report.check(
                e.to_string().contains("'plughw:Loopback,1,2'"),
                "a 44.1 kHz device is refused, naming plughw:",
            );
        }
        Err(e) => report.check(
            false,
            &format!("a 44.1 kHz device is refused for its rate, not: {e}"),
        ),
        Ok(_) => report.check(false, "a 44.1 kHz device is refused"),
    }
    match Capture::open("plughw:Loopback,1,2") {
        Ok(mut c) => {
            let mut frame = vec![0; FRAME_SAMPLES];
            let ok = (0..CHECK_FRAMES).all(|_| c.read_frame(&mut frame).is_ok());
            report.check(
                ok && c.rate() == RATE,
                "plughw: resamples the 44.1 kHz device to 48 kHz frames",
            );
        }
        Err(e) => report.check(false, &format!("plughw:Loopback,1,2 opens: {e}")),
    }
}

/// A stereo-only capture device: both channels averaged.
fn stereo_capture_test(report: &mut Report) {
    let other = match raw("hw:Loopback,0,3", Direction::Playback, RATE, 2) {
        Ok(p) => p,
        Err(e) => {
            return report.check(
                false,
                &format!("raw stereo playback on hw:Loopback,0,3: {e}"),
            )
        }
    };
    let mut capture = match Capture::open("hw:Loopback,1,3") {
        Ok(c) => c,
        Err(e) => return report.check(false, &format!("stereo capture opens: {e}")),
    };
    // Left 1000, right 3000: the downmix is 2000 (silence until playback starts).
    let stereo: Vec<i16> = (0..FRAME_SAMPLES).flat_map(|_| [1000i16, 3000]).collect();
    let writer = thread::spawn(move || {
        let io = other.io_i16()?;
        for _ in 0..CHECK_FRAMES * 2 {
            io.writei(&stereo)?;
        }
        Ok::<_, alsa::Error>(())
    });
    let mut frame = vec![0; FRAME_SAMPLES];
    let mut seen = false;
    for _ in 0..CHECK_FRAMES * 2 {
        if capture.read_frame(&mut frame).is_err() {
            break;
        }
        if frame.contains(&2000) {
            seen = frame.iter().all(|&s| s == 2000 || s == 0);
            break;
        }
    }
    let _ = writer.join();
    report.check(
        capture.channels() == 2 && seen,
        &format!(
            "stereo-only capture ({} ch) is averaged to mono (L 1000 + R 3000 -> 2000)",
            capture.channels()
        ),
    );
}

/// A stereo-only playback device: each sample on both channels.
fn stereo_playback_test(report: &mut Report) {
    let other = match raw("hw:Loopback,1,4", Direction::Capture, RATE, 2) {
        Ok(p) => p,
        Err(e) => {
            return report.check(
                false,
                &format!("raw stereo capture on hw:Loopback,1,4: {e}"),
            )
        }
    };
    let mut playback = match Playback::open("hw:Loopback,0,4") {
        Ok(p) => p,
        Err(e) => return report.check(false, &format!("stereo playback opens: {e}")),
    };
    let reader = thread::spawn(move || {
        let io = other.io_i16()?;
        let mut buf = vec![0i16; FRAME_SAMPLES * 2];
        for _ in 0..CHECK_FRAMES * 2 {
            io.readi(&mut buf)?;
            if buf.contains(&1234) {
                return Ok(buf.chunks_exact(2).all(|lr| lr[0] == lr[1]));
            }
        }
        Ok::<_, alsa::Error>(false)
    });
    let frame: Vec<i16> = (0..FRAME_SAMPLES)
        .map(|i| if i % 2 == 0 { 1234 } else { -1234 })
        .collect();
    for _ in 0..CHECK_FRAMES {
        if playback.write_frame(&frame).is_err() {
            break;
        }
    }
    let same = matches!(reader.join(), Ok(Ok(true)));
    report.check(
        playback.channels() == 2 && same,
        &format!(
            "stereo-only playback ({} ch) gets each sample on both channels",
            playback.channels()
        ),
    );
}

/// The `default` device (alsa-lib's plug/dmix/dsnoop on card 0) opens both
/// ways and runs.
fn default_test(report: &mut Report) {
    let mut frame = vec![0; FRAME_SAMPLES];
    match Capture::open("default") {
        Ok(mut c) => {
            let ok = (0..CHECK_FRAMES).all(|_| c.read_frame(&mut frame).is_ok());
            report.check(ok, &format!("'default' captures ({} ch)", c.channels()));
        }
        Err(e) => report.check(false, &format!("'default' opens to capture: {e}")),
    }
    match Playback::open("default") {
        Ok(mut p) => {
            let ok = (0..CHECK_FRAMES).all(|_| p.write_frame(&frame).is_ok());
            report.check(ok, &format!("'default' plays ({} ch)", p.channels()));
        }
        Err(e) => report.check(false, &format!("'default' opens to play: {e}")),
    }
}

/// What a user sees when a device is wrong, and misuse that must not panic.
fn error_lines(report: &mut Report) {
    for (what, result) in [
        ("no such card", Capture::open("hw:7,0").err()),
        ("no such PCM", Playback::open("nonesuch").err()),
        ("NUL in the name", Playback::open("hw:0\0").err()),
    ] {
        match result {
            Some(e) => {
                println!("  {what}: {e}");
                report.check(
                    !e.to_string().contains('\n'),
                    &format!("{what}: one-line error"),
                );
            }
            None => report.check(false, &format!("{what}: refused")),
        }
    }
    if let Ok(mut c) = Capture::open("hw:Loopback,1,5") {
        let short = c.read_frame(&mut [0; 10]);
        report.check(
            matches!(
                short,
                Err(SoundError::FrameLength {
                    expected: FRAME_SAMPLES,
                    got: 10
                })
            ),
            "a short frame is an error, not a panic",
        );
    }
}
