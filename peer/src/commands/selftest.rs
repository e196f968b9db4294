//! `peercall selftest`: on the board, what the hardware tests check. Each
//! camera captures frames that must decode (at the size and rate it was set
//! to); each sound card must open at 48 kHz with 20 ms periods both ways;
//! where a loopback exists (the snd-aloop card, or a cable from output to
//! input on `--loop-out`/`--loop-in`), a tone is played and captured back,
//! its frequency checked and the round trip and the capture and playback
//! clocks' drift measured; and a local call runs the whole encode, send, receive and
//! decode pipeline with the real devices where there are some. It prints a
//! table of results with the figures, and for each failure what to do. The
//! hw-tests run it and read the table.

use crate::devices::camera::{cameras, Camera, CameraInfo, CaptureFailure, Captured};
use crate::devices::sound::{self, Capture, Playback, FRAME_SAMPLES, RATE};
use crate::media::{
    AudioSink, AudioSource, CallLinks, Endpoints, MediaOptions, MediaSession, VideoSink,
    VideoSource,
};
use crate::window;
use peercall::media::capture::{raw_to_i420, PixelFormat};
use peercall::media::pattern::Yuv420;
use peercall::media::tone::dominant_frequency;
use peercall::wire::MediaPorts;
use peercall_codecs::jpeg::{decode_to_yuv420, YuvJpegEncoder, DEFAULT_QUALITY};
use std::net::UdpSocket;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Frames a camera must deliver, each decoding.
pub const CAMERA_FRAMES: usize = 10;
/// How long a camera may take to deliver them.
pub const CAMERA_TIMEOUT: Duration = Duration::from_secs(10);
/// Camera drivers of Raspberry Pi camera modules: raw sensor data that only
/// libcamera turns into pictures.
pub const LIBCAMERA_DRIVERS: [&str; 4] = ["unicam", "rp1-cfe", "bcm2835-isp", "pispbe"];
/// The loopback test tone and how close it must come back.
const LOOP_TONE_HZ: f64 = 440.0;
const LOOP_TOLERANCE_HZ: f64 = 5.0;
/// Frames of tone, then frames of silence before the click.
const TONE_FRAMES: usize = 100;
const QUIET_FRAMES: usize = 25;
/// A captured sample above this is the click coming back.
const CLICK_THRESHOLD: i16 = 10_000;
/// How long the display check shows its window.
pub const DISPLAY_TIME: Duration = Duration::from_millis(700);
/// How long the local call runs.
pub const CALL_TIME: Duration = Duration::from_secs(3);

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// PASS, FAIL or SKIP.
    pub result: &'static str,
    /// What was checked.
    pub check: String,
    /// What was measured.
    pub figures: String,
    /// For a failure or a skip: what to do.
    pub hint: Option<String>,
}

fn row(ok: bool, check: String, figures: String, hint: &str) -> Row {
    Row {
        result: if ok { "PASS" } else { "FAIL" },
        check,
        figures,
        hint: (!ok).then(|| hint.to_string()),
    }
}

fn skip(check: &str, why: &str) -> Row {
    Row {
        result: "SKIP",
        check: check.into(),
        figures: String::new(),
        hint: Some(why.into()),
    }
}

/// Opens the call window where this board has a screen, as a call would.
fn check_display() -> Row {
    if !window::display_available() {
        return skip(
            "display",
            "no screen (no DISPLAY, WAYLAND_DISPLAY or /dev/dri/card*): calls run headless",
        );
    }
    let opened = mio::Poll::new()
        .and_then(|poll| mio::Waker::new(poll.registry(), mio::Token(0)).map(|w| (poll, w)))
        .map_err(|e| e.to_string())
        .and_then(|(_poll, waker)| {
            let (tx, _actions) = std::sync::mpsc::channel();
            let config = window::WindowConfig {
                title: "peercall: selftest".into(),
                size: window::DEFAULT_WINDOW_SIZE,
                fullscreen: false,
            };
            let w = window::Window::open(config, "selftest".into(), tx, Arc::new(waker))?;
            w.update(window::Update::Notice("peercall selftest".into()));
            // Long enough to be seen on the screen, and for a failing
            // renderer to fail.
            std::thread::sleep(DISPLAY_TIME);
            Ok(format!("window {}x{} on {}", w.size.0, w.size.1, w.driver))
        });
    match opened {
        Ok(figures) => row(true, "display".into(), figures, ""),
        Err(e) => row(
            false,
            "display".into(),
            e,
            "on a console, be in the video and render groups (KMS/DRM) and stop any desktop using the screen; on a desktop, check DISPLAY",
        ),
    }
}

/// Captures [`CAMERA_FRAMES`] frames and checks each decodes.
fn check_camera(cam: &CameraInfo) -> Row {
    let name = format!("camera {}", cam.path.display());
    if LIBCAMERA_DRIVERS.contains(&cam.driver.as_str()) {
        return row(false, name, format!("driver {}", cam.driver),
            "a Raspberry Pi camera module: it works through libcamera, not plain V4L2; use a USB webcam, or feed the module into a v4l2loopback device with rpicam-vid --codec mjpeg");
    }
    if cam.formats.iter().all(|f| f.usable.is_none()) {
        return skip(
            &name,
            "offers neither MJPEG nor YUYV, I420 or NV12 (not a webcam peercall can use)",
        );
    }
    let opened = Camera::open(&cam.path, (640, 480, 30), None).and_then(|c| {
        let mode = c.mode();
        c.stream().map(|s| (mode, s))
    });
    let (mode, mut stream) = match opened {
        Ok(x) => x,
        Err(e) => {
            return row(false, name, e, "check the camera is not in use (fuser /dev/videoN) and that you are in the video group")
        }
    };
    let mut enc = YuvJpegEncoder::new(DEFAULT_QUALITY).ok();
    let mut pic = Yuv420::new(2, 2);
    let (mut got, mut bad) = (0usize, 0usize);
    let (mut first, mut last) = (None, None);
    let deadline = Instant::now() + CAMERA_TIMEOUT;
    while got + bad < CAMERA_FRAMES && Instant::now() < deadline {
        let jpeg = match stream.next() {
            Ok((at, Captured::Jpeg(j))) => {
                first.get_or_insert(at);
                last = Some(at);
                j.to_vec()
            }
            Ok((at, Captured::Raw { data, stride })) => {
                first.get_or_insert(at);
                last = Some(at);
                let encoded =
                    raw_to_i420(mode.format, data, mode.width, mode.height, stride, &mut pic)
                        .ok()
                        .and_then(|()| enc.as_mut()?.encode(&pic).ok());
                encoded.unwrap_or_default()
            }
            Err(CaptureFailure::Timeout) => continue,
            Err(CaptureFailure::BadFrame) => {
                bad += 1;
                continue;
            }
            Err(CaptureFailure::Gone(e)) => {
                return row(
                    false,
                    name,
                    format!("stopped delivering: {e}"),
                    "replug the camera; dmesg says why it went away",
                )
            }
        };
        match decode_to_yuv420(&jpeg) {
            Ok(p) if (p.width, p.height) == (mode.width as usize, mode.height as usize) => got += 1,
            // A camera's own MJPEG may be 4:2:2, which this check's decoder
            // does not take; a JPEG that starts and ends right still counts.
            _ if mode.format == PixelFormat::Mjpeg && jpeg.ends_with(&[0xff, 0xd9]) => got += 1,
            _ => bad += 1,
        }
    }
    let fps = match (first, last) {
        (Some(a), Some(b)) if got > 1 && b > a => {
            format!(
                "{:.1} fps measured",
                (got - 1) as f64 / (b - a).as_secs_f64()
            )
        }
        _ => "rate not measured".into(),
    };
    let how = if mode.format == PixelFormat::Mjpeg {
        "sent as it is"
    } else {
        "encoded here"
    };
    row(
        got >= CAMERA_FRAMES,
        name,
        format!("{mode} ({how}); {got} frames decoded, {bad} bad; {fps}"),
        "frames did not arrive or did not decode: try another --size/--fps from `peercall devices`, or another USB port",
    )
}

/// Opens each sound card's PCM devices at 48 kHz with 20 ms periods.
fn check_cards(rows: &mut Vec<Row>) {
    let cards = sound::cards();
    if cards.is_empty() {
        rows.push(skip(
            "sound cards",
            "none found: plug in a USB headset, or use --audio-in tone / --audio-out null",
        ));
    }
    for c in &cards {
        for p in &c.pcms {
            for (dir, ok) in [("capture", p.capture), ("playback", p.playback)] {
                if !ok {
                    continue;
                }
                let check = format!("sound {} {dir} ({})", p.hw, c.name);
                let (hw, plug, range) = if dir == "capture" {
                    (
                        Capture::open(&p.hw).err(),
                        Capture::open(&p.plughw).err(),
                        sound::rate_range(&p.hw, sound::Stream::Capture),
                    )
                } else {
                    (
                        Playback::open(&p.hw).err(),
                        Playback::open(&p.plughw).err(),
                        sound::rate_range(&p.hw, sound::Stream::Playback),
                    )
                };
                let rates = range.map_or(String::new(), |(lo, hi)| {
                    format!(" (the hardware takes {lo} to {hi} Hz)")
                });
                rows.push(match (hw, plug) {
                    (None, _) => row(
                        true,
                        check,
                        format!("48000 Hz, 20 ms periods{rates}"),
                        "",
                    ),
                    (Some(e), None) => Row {
                        result: "PASS",
                        check,
                        figures: format!("48000 Hz through {} (resampled): {e}", p.plughw),
                        hint: None,
                    },
                    (Some(e), Some(_)) => row(false, check, e.to_string(), "the device is busy or cannot do 48 kHz even through plughw; close other audio programs"),
                });
            }
        }
    }
}

/// Plays a tone and a click into `out` and captures from `inp`.
fn check_loop(out: &str, inp: &str) -> Vec<Row> {
    let name = format!("sound loop {out} -> {inp}");
    let (mut cap, mut play) = match (Capture::open(inp), Playback::open(out)) {
        (Ok(c), Ok(p)) => (c, p),
        (Err(e), _) | (_, Err(e)) => {
            return vec![row(
                false,
                name,
                e.to_string(),
                "check the loopback (snd-aloop loaded, or the cable)",
            )]
        }
    };
    let total = QUIET_FRAMES + TONE_FRAMES + 2 * QUIET_FRAMES;
    let capturing = std::thread::spawn(move || {
        let mut frames = Vec::new();
        let mut f = vec![0i16; FRAME_SAMPLES];
        let start = Instant::now();
        // A little longer than is played, for the round trip.
        for _ in 0..total + QUIET_FRAMES {
            if cap.read_frame(&mut f).is_err() {
                break;
            }
            frames.push((Instant::now(), f.clone()));
        }
        (frames, start.elapsed(), cap.overruns())
    });
    let mut f = vec![0i16; FRAME_SAMPLES];
    let mut click_at = None;
    // The speaker's pace: samples it has played (written minus still
    // queued) against the system clock, between two points in the run.
    let played = |play: &Playback, written: usize| {
        (
            Instant::now(),
            written as i64 * FRAME_SAMPLES as i64 - play.delay_frames().unwrap_or(0),
        )
    };
    let mut paced_from = None;
    for i in 0..total {
        f.fill(0);
        if (QUIET_FRAMES..QUIET_FRAMES + TONE_FRAMES).contains(&i) {
            for (j, s) in f.iter_mut().enumerate() {
                let n = (i * FRAME_SAMPLES + j) as f64;
                *s = (8000.0 * (std::f64::consts::TAU * LOOP_TONE_HZ * n / f64::from(RATE)).sin())
                    as i16;
            }
        }
        if i == QUIET_FRAMES * 2 + TONE_FRAMES {
            f[..8].fill(20_000);
        }
        if play.write_frame(&f).is_err() {
            break;
        }
        if i == QUIET_FRAMES {
            paced_from = Some(played(&play, i + 1));
        }
        if i == QUIET_FRAMES * 2 + TONE_FRAMES {
            // The round trip a call sees: from handing the click to the card
            // (its buffer included) to the moment it is captured.
            click_at = Some(Instant::now());
        }
    }
    let played_rate = paced_from.map(|(t0, p0)| {
        let (t1, p1) = played(&play, total);
        (p1 - p0) as f64 / t1.duration_since(t0).as_secs_f64().max(1e-3)
    });
    let underruns = play.underruns();
    let Ok((frames, took, overruns)) = capturing.join() else {
        return vec![row(
            false,
            name,
            "capture thread failed".into(),
            "report a bug",
        )];
    };
    let samples: Vec<i16> = frames.iter().flat_map(|(_, f)| f.iter().copied()).collect();
    let mid = (QUIET_FRAMES + TONE_FRAMES / 4) * FRAME_SAMPLES;
    let window = samples.get(mid..mid + RATE as usize / 2).unwrap_or(&[]);
    let freq = if window.is_empty() {
        0.0
    } else {
        dominant_frequency(window, 100.0, 4000.0)
    };
    let mut rows = vec![row(
        (freq - LOOP_TONE_HZ).abs() <= LOOP_TOLERANCE_HZ,
        format!("{name}: tone"),
        format!("{LOOP_TONE_HZ} Hz played, {freq:.1} Hz captured"),
        "the tone did not come back: check the loopback cable and the mixer levels (alsamixer)",
    )];
    // The click: the first captured frame holding it, and where in it.
    let heard = frames.iter().find_map(|(at, f)| {
        let i = f.iter().position(|s| *s > CLICK_THRESHOLD)?;
        // `at` is when the frame's last sample was in; the click was earlier.
        let back = (FRAME_SAMPLES - i) as u64 * 1_000_000 / u64::from(RATE);
        Some(*at - Duration::from_micros(back))
    });
    rows.push(match (click_at, heard) {
        (Some(sent), Some(back)) => row(
            true,
            format!("{name}: round trip"),
            format!(
                "{:.1} ms from writing to the speaker to capturing from the microphone",
                back.saturating_duration_since(sent).as_secs_f64() * 1000.0
            ),
            "",
        ),
        _ => row(
            false,
            format!("{name}: round trip"),
            "the click did not come back".into(),
            "check the loopback",
        ),
    });
    // A clock is measured, not judged: its drift is what the jitter buffer absorbs.
    let clock = |which: &str, rate: f64, xruns: String| Row {
        result: "PASS",
        check: format!("{name}: {which} clock"),
        figures: format!(
            "{rate:.0} samples/s, {:+.0} ppm against the system clock; {xruns}",
            (rate / f64::from(RATE) - 1.0) * 1e6
        ),
        hint: None,
    };
    let captured_rate = (frames.len() * FRAME_SAMPLES) as f64 / took.as_secs_f64().max(1e-3);
    rows.push(clock(
        "capture",
        captured_rate,
        format!("{overruns} overruns"),
    ));
    if let Some(rate) = played_rate {
        rows.push(clock("playback", rate, format!("{underruns} underruns")));
    }
    rows
}

/// A call between two media sessions on loopback, with the given sources.
fn check_call(video: VideoSource, audio: AudioSource) -> Row {
    let name = format!(
        "local call ({}, {})",
        match &video {
            VideoSource::Camera(p) => format!("camera {}", p.display()),
            _ => "test pattern".into(),
        },
        match &audio {
            AudioSource::Alsa(d) => format!("microphone {d}"),
            _ => "tone".into(),
        }
    );
    let sockets = || -> std::io::Result<(UdpSocket, UdpSocket)> {
        Ok((
            UdpSocket::bind("127.0.0.1:0")?,
            UdpSocket::bind("127.0.0.1:0")?,
        ))
    };
    let (Ok((a_audio, a_video)), Ok((b_audio, b_video))) = (sockets(), sockets()) else {
        return row(
            false,
            name,
            "no loopback sockets".into(),
            "check the lo interface is up",
        );
    };
    let port = |s: &UdpSocket| s.local_addr().map(|a| a.port()).unwrap_or(0);
    let (a_ports, b_ports) = (
        MediaPorts {
            audio: port(&a_audio),
            video: port(&a_video),
        },
        MediaPorts {
            audio: port(&b_audio),
            video: port(&b_video),
        },
    );
    let media = super::run::DEFAULT_MEDIA;
    let sender = MediaOptions {
        video,
        audio,
        ..MediaOptions::default()
    };
    let receiver = MediaOptions {
        video: VideoSource::Test,
        audio: AudioSource::Tone,
        video_out: VideoSink::Null,
        audio_out: AudioSink::Null,
        ..MediaOptions::default()
    };
    let ip = "127.0.0.1".parse().expect("an IP literal");
    let a = MediaSession::start(
        Endpoints {
            audio: a_audio,
            video: a_video,
            remote_ip: ip,
            remote: b_ports,
            media,
            srtp: None,
        },
        &sender,
        CallLinks::default(),
    );
    let b = MediaSession::start(
        Endpoints {
            audio: b_audio,
            video: b_video,
            remote_ip: ip,
            remote: a_ports,
            media,
            srtp: None,
        },
        &receiver,
        CallLinks::default(),
    );
    let (a, b) = match (a, b) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return row(false, name, e.to_string(), "see the line above"),
    };
    std::thread::sleep(CALL_TIME);
    let (_, got) = (a.stop(), b.stop());
    let ok = got.video_frames_received > 0 && got.audio.played > 0;
    row(
        ok,
        name,
        format!(
            "{:.1} s: video {} frames received, audio {} frames played, {} concealed",
            got.duration.as_secs_f64(),
            got.video_frames_received,
            got.audio.played,
            got.audio.concealed_fec + got.audio.concealed_plc
        ),
        "nothing came through: run with RUST_LOG=debug to see why",
    )
}

/// Runs every check and prints the table; exit 0 when nothing failed.
pub fn run(loop_devices: Option<(String, String)>) -> u8 {
    let mut rows = Vec::new();
    let cams = cameras();
    if cams.is_empty() {
        rows.push(skip("cameras", "none found (no /dev/video* capture device): plug in a USB webcam; --video test works without"));
    }
    for cam in &cams {
        rows.push(check_camera(cam));
    }
    check_cards(&mut rows);
    rows.push(check_display());
    let loopback = loop_devices.or_else(|| {
        sound::cards()
            .iter()
            .any(|c| c.id == "Loopback")
            .then(|| ("hw:Loopback,0,0".to_string(), "hw:Loopback,1,0".to_string()))
    });
    match &loopback {
        Some((out, inp)) => rows.extend(check_loop(out, inp)),
        None => rows.push(skip("sound loop", "no loopback: load snd-aloop, or connect output to input and give --loop-out and --loop-in")),
    }
    let video = cams
        .iter()
        .find(|c| {
            rows.iter()
                .any(|r| r.result == "PASS" && r.check == format!("camera {}", c.path.display()))
        })
        .map_or(VideoSource::Test, |c| VideoSource::Camera(c.path.clone()));
    let audio = match &loopback {
        Some((_, inp)) => AudioSource::Alsa(inp.clone()),
        None => AudioSource::Tone,
    };
    rows.push(check_call(video, audio));
    let width = rows
        .iter()
        .map(|r| r.check.chars().count())
        .max()
        .unwrap_or(0);
    for r in &rows {
        println!("{}  {:<width$}  {}", r.result, r.check, r.figures);
        if let Some(h) = &r.hint {
            println!("      {h}");
        }
    }
    let failed = rows.iter().filter(|r| r.result == "FAIL").count();
    println!(
        "{} checks: {} passed, {} failed, {} skipped",
        rows.len(),
        rows.iter().filter(|r| r.result == "PASS").count(),
        failed,
        rows.iter().filter(|r| r.result == "SKIP").count()
    );
    if failed == 0 {
        crate::exit::OK
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::camera::FormatInfo;

    #[test]
    fn a_libcamera_only_camera_is_recognised_and_explained() {
        let cam = CameraInfo {
            path: "/dev/video0".into(),
            card: "unicam".into(),
            driver: "unicam".into(),
            formats: vec![FormatInfo {
                fourcc: "pBAA".into(),
                description: "10-bit Bayer".into(),
                usable: None,
                sizes: Vec::new(),
                range: None,
            }],
        };
        let r = check_camera(&cam);
        assert_eq!(r.result, "FAIL");
        assert!(r.hint.unwrap().contains("libcamera"));
    }

    #[test]
    fn a_camera_without_usable_formats_is_skipped_with_a_reason() {
        let cam = CameraInfo {
            path: "/dev/video9".into(),
            card: "codec".into(),
            driver: "bcm2835-codec".into(),
            formats: Vec::new(),
        };
        let r = check_camera(&cam);
        assert_eq!(r.result, "SKIP");
        assert!(r.hint.unwrap().contains("neither MJPEG nor"));
    }
}
