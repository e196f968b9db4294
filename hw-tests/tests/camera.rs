//! Calls whose video comes from a real V4L2 camera: the pictures reach the
//! other side, decode, and have the size the calling peer said its camera
//! was set to. The raw path (YUYV encoded here) runs against /dev/video0 or
//! PEERCALL_HW_CAMERA; the MJPEG passthrough path against
//! PEERCALL_HW_MJPEG_CAMERA when set (the VM's v4l2loopback camera).

use peercall::media::session::LEVELS;
use peercall_codecs::jpeg::decode_to_yuv420;
use peercall_hw_tests::{need, Device};
use peercall_testkit::{call_once, start_answering_peer, Proc, Registry};
use std::path::{Path, PathBuf};

/// How long the loopback feeder may take to start.
const FEEDER_START: std::time::Duration = std::time::Duration::from_secs(60);

/// Fewest different pictures among them: a stuck stream repeats one.
const MIN_DISTINCT: usize = 5;

/// Fewest pictures a 4 s call must deliver: proof that they kept coming,
/// not a rate (an emulated VM under load manages a fraction of 25 a second;
/// the quality report says how many a call carried).
const MIN_FRAMES: usize = 10;

/// Calls a callee that saves what it receives, from a caller whose video is
/// `cam`; returns what the caller said about its camera and the frames.
fn call_from_camera(cam: &Path, dir: &Path, format: &str, fps: u32) -> (String, Vec<Vec<u8>>) {
    let reg = Registry::start(&[]);
    let registry = reg.arg();
    let out = dir.join("bob.mjpeg");
    let sink = format!("file:{}", out.display());
    let mut bob = start_answering_peer(
        "bob",
        &registry,
        &[
            "--video",
            "none",
            "--audio-in",
            "tone",
            "--video-out",
            &sink,
        ],
    );
    let video = format!("v4l2:{}", cam.display());
    let fps = fps.to_string();
    let (code, said, err) = call_once(
        "bob",
        "alice",
        &registry,
        &[
            "--video",
            &video,
            "--size",
            "640x480",
            "--fps",
            &fps,
            "--audio-in",
            "tone",
            "--seconds",
            "4",
            "--camera-format",
            format,
        ],
    );
    assert_eq!(code, 0, "{said}{err}");
    let recorded = bob.expect_recording("video");
    bob.expect("quality report (call with alice");
    let data = std::fs::read(recorded).expect("video sink written");
    let frames = peercall::media::mjpeg::images(&data)
        .map(<[u8]>::to_vec)
        .collect();
    (said, frames)
}

/// "camera /dev/video0: YUYV 640x480 at 25 fps (asked ...)" -> (format, w, h, fps).
fn announced(said: &str, cam: &Path) -> (String, usize, usize, u32) {
    let prefix = format!("camera {}: ", cam.display());
    let line = said
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no '{prefix}' line in:\n{said}"));
    let mut words = line[prefix.len()..].split_whitespace();
    let format = words.next().unwrap().to_string();
    let (w, h) = words.next().unwrap().split_once('x').unwrap();
    let fps = words.nth(1).and_then(|f| f.parse().ok()).unwrap_or(0);
    (format, w.parse().unwrap(), h.parse().unwrap(), fps)
}

/// Calls from `cam` and checks the pictures: they keep coming, decode at the
/// size announced (or a size the rate control steps down to, see
/// [`LEVELS`]) and keep changing. Returns them.
fn check(cam: &Path, format: &str, fps: u32, tag: &str) -> Vec<Vec<u8>> {
    let dir = std::env::temp_dir().join(format!("peercall-hw-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (said, frames) = call_from_camera(cam, &dir, format, fps);
    let (got, w, h, fps) = announced(&said, cam);
    assert_eq!(got.to_ascii_lowercase(), format, "{said}");
    // The camera ran the whole call: a capture error ends video early.
    let stopped = format!("camera {} stopped", cam.display());
    assert!(!said.contains(&stopped), "{said}");
    // The call carries the camera's size and rate (the callee took them).
    let flowing = format!("media flowing: MJPEG {w}x{h}@{fps},");
    assert!(said.contains(&flowing), "no '{flowing}' in\n{said}");
    // 4 s at 25 fps is 100 pictures; an emulated VM manages far fewer, so
    // this asks only that pictures kept coming.
    assert!(
        frames.len() >= MIN_FRAMES,
        "{} frames\n{said}",
        frames.len()
    );
    // The sender halves the picture when the rate control steps down, as
    // it does when an emulated VM on a loaded host falls behind: the sizes
    // its ladder allows.
    let sizes: Vec<(usize, usize)> = LEVELS
        .iter()
        .map(|l| (w / l.scale as usize, h / l.scale as usize))
        .collect();
    let mut distinct = std::collections::HashSet::new();
    for (i, jpeg) in frames.iter().enumerate() {
        let pic = decode_to_yuv420(jpeg)
            .unwrap_or_else(|e| panic!("picture {i} of {} does not decode: {e}", frames.len()));
        assert!(
            sizes.contains(&(pic.width, pic.height)),
            "picture {i} is {}x{}, the camera {w}x{h}",
            pic.width,
            pic.height
        );
        distinct.insert(jpeg.clone());
    }
    // A live camera's frames differ (vivid draws a counter, the loopback
    // feeder loops over 30 pattern frames); a stuck stream repeats one.
    assert!(
        distinct.len() >= MIN_DISTINCT,
        "{} distinct of {}",
        distinct.len(),
        frames.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
    frames
}

#[test]
fn raw_camera_frames_are_encoded_sent_and_decode() {
    let Some(cam) = need(Device::Camera) else {
        return;
    };
    // Each raw layout vivid offers, encoded here.
    for format in ["yuyv", "i420", "nv12"] {
        check(&cam, format, 25, format);
    }
}

/// A frame rate whose pictures come 200 ms apart: the peer's capture loop
/// waits at most 50 ms for one (`FRAME_WAIT` in peer/src/devices/camera.rs),
/// so its waits run out several times between any two pictures.
const SLOW_FPS: u32 = 5;

/// Capture goes on after waits that run out. (The v4l crate's stream gives
/// the driver back a buffer it still holds when its wait runs out, and the
/// next capture fails with EINVAL: a camera slower than the wait, or one
/// late picture on a loaded board, ended the call's video.)
#[test]
fn a_camera_slower_than_the_frame_wait_keeps_delivering() {
    let Some(cam) = need(Device::Camera) else {
        return;
    };
    check(&cam, "yuyv", SLOW_FPS, "slow");
}

/// The picture with restart markers the MJPEG camera also shows.
const RESTART_JPEG: &str = "../tests/data/jpeg/cjpeg-640x480-420-restart.jpg";

/// Starts feeding a v4l2loopback node through hw-tests/vm/feed_mjpeg.py, so
/// its capture side is an MJPEG camera showing 30 different baseline 640x480
/// 4:2:0 JPEGs (the test pattern from libjpeg-turbo), each followed by one
/// made by `cjpeg -restart 1`, which carries a restart marker every row of
/// blocks as many webcams' frames do (RTP/JPEG type 65). Every other picture
/// is that one, so a capture that drops frames under load still sees it.
fn feed_loopback(dev: &Path, dir: &Path) -> Proc {
    use peercall::media::pattern::{draw, Stamp, Yuv420};
    use peercall_codecs::jpeg::YuvJpegEncoder;
    let mut enc = YuvJpegEncoder::new(75).unwrap();
    let mut pic = Yuv420::new(640, 480);
    let mut files = Vec::new();
    for frame in 0..30 {
        draw(
            &mut pic,
            Stamp {
                frame,
                capture_us: 0,
            },
        );
        let path = dir.join(format!("feed-{frame:02}.jpg"));
        std::fs::write(&path, enc.encode(&pic).unwrap()).unwrap();
        files.push(path);
        files.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(RESTART_JPEG));
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("vm/feed_mjpeg.py");
    let mut args = vec![
        script.display().to_string(),
        "--device".into(),
        dev.display().to_string(),
    ];
    args.extend(["--seconds", "30", "--fps", "25"].map(String::from));
    args.extend(files.iter().map(|f| f.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut feeder = Proc::start("feeder", &PathBuf::from("python3"), &args);
    // It says "feeding" once its first frame is in: from then on the
    // loopback is a camera. Python starts slowly in an emulated VM.
    feeder.expect_within("feeding", FEEDER_START);
    feeder
}

#[test]
fn mjpeg_camera_frames_go_out_as_they_are() {
    let Some(cam) = need(Device::MjpegCamera) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("peercall-hw-feed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let feeder = feed_loopback(&cam, &dir);
    let frames = check(&cam, "mjpeg", 25, "mjpeg");
    // The rate is checked as negotiated (the announcement, in check());
    // how many pictures a second arrive depends on the machine, and an
    // emulated VM under load manages a fraction: `peercall selftest`
    // measures and reports it.
    // Dropping the handle stops the feeder.
    drop(feeder);
    let _ = std::fs::remove_dir_all(&dir);
    // The picture with restart markers crossed too, and shows what it showed.
    let original = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(RESTART_JPEG)).unwrap();
    let want = decode_to_yuv420(&original).unwrap().y;
    assert!(
        frames
            .iter()
            .any(|j| decode_to_yuv420(j).is_ok_and(|p| p.y == want)),
        "the restart-marker picture never arrived intact"
    );
}

/// A call whose one side uses the camera and the sound card both ways:
/// bob's tone goes to alice's speaker (loopback subdevice 1), comes back
/// through alice's microphone (the loopback's capture side) and reaches bob,
/// who saves it; alice's camera pictures reach bob too.
#[test]
fn call_with_camera_speaker_and_microphone() {
    use peercall::media::tone::{dominant_frequency, TONE_HZ};
    let (Some(cam), Some(_)) = (need(Device::Camera), need(Device::SoundLoop)) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("peercall-hw-av-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let reg = Registry::start(&[]);
    let registry = reg.arg();
    let (vout, aout) = (
        format!("file:{}", dir.join("bob.mjpeg").display()),
        format!("wav:{}", dir.join("bob.wav").display()),
    );
    let mut bob = start_answering_peer(
        "bob",
        &registry,
        &[
            "--video",
            "none",
            "--audio-in",
            "tone",
            "--video-out",
            &vout,
            "--audio-out",
            &aout,
        ],
    );
    let video = format!("v4l2:{}", cam.display());
    let (code, said, err) = call_once(
        "bob",
        "alice",
        &registry,
        &[
            "--video",
            &video,
            "--audio-in",
            "alsa:hw:Loopback,1,1",
            "--audio-out",
            "alsa:hw:Loopback,0,1",
            "--seconds",
            "6",
        ],
    );
    assert_eq!(code, 0, "{said}{err}");
    assert!(
        said.contains("microphone alsa:hw:Loopback,1,1")
            || said.contains("microphone hw:Loopback,1,1"),
        "{said}"
    );
    let (video, sound) = (bob.expect_recording("video"), bob.expect_recording("sound"));
    bob.expect("quality report (call with alice");
    let data = std::fs::read(video).unwrap();
    assert!(
        peercall::media::mjpeg::images(&data).count() >= MIN_FRAMES,
        "{said}"
    );
    let mut r = hound::WavReader::open(sound).unwrap();
    let pcm: Vec<i16> = r.samples::<i16>().map(|s| s.unwrap()).collect();
    // Somewhere in the last half (the loop is full by then) a quarter of a
    // second of the tone came back clean; an emulated VM under load conceals
    // enough frames to smear a longer window.
    let tail = &pcm[pcm.len() / 2..];
    let window = 12_000;
    let found: Vec<f64> = tail
        .chunks_exact(window)
        .map(|w| dominant_frequency(w, 100.0, 4000.0))
        .collect();
    assert!(
        found.iter().any(|f| (f - TONE_HZ).abs() <= 5.0),
        "{found:?} Hz came back\n{said}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
