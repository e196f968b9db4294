//! Settles what `run` and `call` send and play before the peer starts: the
//! files and cameras named on the command line are checked (so a bad one is
//! one line at start, exit 64, not a silent call), a camera or sound card is
//! chosen where none was named, and the offer is fitted to the camera's real
//! mode. The option parser only records names; this is where they meet the
//! machine.

use crate::devices::camera::Camera;
use crate::devices::sound::{self, PcmInfo};
use crate::exit;
use crate::media::{
    load_mjpeg, load_wav, AudioSink, AudioSource, MediaOptions, VideoSink, VideoSource,
    DEFAULT_CAMERA, SINGLE_CORE_FPS, SINGLE_CORE_SIZE,
};
use crate::options::MediaGiven;
use peercall::wire::{MediaDescription, VideoCodec};
use std::path::Path;

/// Checks that the camera, MJPEG file and WAV file named on the command line
/// are there and usable. The error is the one line a bad command line gets.
pub fn check_named(media: &MediaOptions) -> Result<(), String> {
    match &media.video {
        VideoSource::Camera(path) if !path.exists() => {
            let path = path.display();
            return Err(format!(
                "--video v4l2:{path}: {path} does not exist; `peercall devices` lists the cameras, --video test sends a test pattern"
            ));
        }
        VideoSource::File(path) => {
            load_mjpeg(path).map_err(|e| format!("--video file:{}: {e}", path.display()))?;
        }
        _ => {}
    }
    if let AudioSource::Wav(path) = &media.audio {
        load_wav(path).map_err(|e| format!("--audio-in wav:{}: {e}", path.display()))?;
    }
    check_named_cards(media)?;
    if let VideoSink::File(path) = &media.video_out {
        check_recording_dir(path)
            .map_err(|e| format!("--video-out file:{}: {e}", path.display()))?;
    }
    if let AudioSink::Wav(path) = &media.audio_out {
        check_recording_dir(path)
            .map_err(|e| format!("--audio-out wav:{}: {e}", path.display()))?;
    }
    Ok(())
}

/// A sound card named on the command line (`alsa:hw:9,0`) that this
/// machine does not have is a bad command line, like a camera that does not
/// exist; a card that is there but cannot be opened is found by `prepare`.
fn check_named_cards(media: &MediaOptions) -> Result<(), String> {
    let named = [
        match &media.audio {
            AudioSource::Alsa(d) => Some(("--audio-in", d, "--audio-in tone sends a test tone")),
            _ => None,
        },
        match &media.audio_out {
            AudioSink::Alsa(d) => Some(("--audio-out", d, "--audio-out null discards the sound")),
            _ => None,
        },
    ];
    if named.iter().all(Option::is_none) {
        return Ok(());
    }
    let cards = sound::cards();
    for (flag, device, instead) in named.into_iter().flatten() {
        if let Some(card) = sound::missing_card(device, &cards) {
            return Err(format!(
                "{flag} alsa:{device}: there is no sound card {card} ({}); `peercall devices` lists the sound cards and their names, {instead}",
                sound::cards_there(&cards)
            ));
        }
    }
    Ok(())
}

/// Checks that calls can be recorded beside `path` (see
/// [`crate::media::recording`]): it names a file in a directory that exists
/// and this user can write, found out by creating and removing a file
/// there, as the permission bits alone miss read-only mounts and ACLs.
fn check_recording_dir(path: &Path) -> Result<(), String> {
    if path.file_name().is_none()
        || path.as_os_str().to_string_lossy().ends_with('/')
        || path.is_dir()
    {
        return Err("names a directory, not a file; give a file name such as calls/call.mjpeg (each call is recorded beside it)".into());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let shown = dir.display();
    if !dir.is_dir() {
        return Err(format!(
            "the directory {shown} does not exist; create it (mkdir -p {shown}) or give a path in another one"
        ));
    }
    let probe = dir.join(format!(".peercall-write-check-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "it takes no new files".to_string(),
                kind => kind.to_string(),
            };
            Err(format!(
                "cannot write in {shown} ({why}); give a path in a directory this user can write"
            ))
        }
    }
}

/// Fills in the sources and sinks the command line left open: a board with
/// a camera or sound card uses it; without one the test pattern, the tone
/// and a null speaker keep the call working, and the peer says so.
pub fn fill_defaults(media: &mut MediaOptions, given: MediaGiven) {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    if let Some(line) = fit_to_cores(media, given, cores) {
        println!("{line}");
    }
    if !given.video && !media.no_video {
        if Path::new(DEFAULT_CAMERA).exists() {
            media.video = VideoSource::Camera(DEFAULT_CAMERA.into());
            media.video_auto = true;
        } else {
            media.video_defaulted = true;
        }
    }
    if media.no_audio || (given.audio_in && given.audio_out) {
        return;
    }
    let cards = sound::cards();
    let has = |dir: fn(&PcmInfo) -> bool| cards.iter().any(|c| c.pcms.iter().any(dir));
    if !given.audio_in {
        if has(|p| p.capture) {
            media.audio = AudioSource::Alsa("default".into());
        } else {
            media.audio_defaulted = true;
        }
    }
    if !given.audio_out {
        if has(|p| p.playback) {
            media.audio_out = AudioSink::Alsa("default".into());
        } else {
            media.audio_defaulted = true;
        }
    }
}

/// A board with one core (a Pi Zero's 1 GHz ARM11) cannot encode one
/// 640x480 picture and decode another 30 times a second and still play
/// sound: unless the command line chose, it asks for [`SINGLE_CORE_SIZE`] at
/// [`SINGLE_CORE_FPS`]. Returns the line that says so, when it did.
fn fit_to_cores(media: &mut MediaOptions, given: MediaGiven, cores: usize) -> Option<String> {
    if cores > 1 || (given.size && given.fps) {
        return None;
    }
    if !given.size {
        media.size = SINGLE_CORE_SIZE;
    }
    if !given.fps {
        media.fps = SINGLE_CORE_FPS;
    }
    Some(format!(
        "one CPU core: asking for {}x{} at {} fps (--size and --fps choose otherwise)",
        media.size.0, media.size.1, media.fps
    ))
}

/// What this peer offers in calls. With a camera, its closest mode to the
/// asked-for picture (opened once to find out, and said); a camera that was
/// only the default and cannot be opened gives way to the test pattern.
/// Sound devices named on the command line must open now. The error is the
/// exit code, its line already printed.
pub fn prepare(
    media: &mut MediaOptions,
    default: MediaDescription,
) -> Result<MediaDescription, u8> {
    let mut offer = media.offer(default);
    // The devices asked for first: a failure is then the only thing said
    // about sound, not after a notice about what stands in for it.
    if let AudioSource::Alsa(dev) = &media.audio {
        if let Err(e) = sound::Capture::open(dev) {
            eprintln!("peercall: {e}");
            return Err(exit::LOCAL);
        }
    }
    if let AudioSink::Alsa(dev) = &media.audio_out {
        if let Err(e) = sound::Playback::open(dev) {
            eprintln!("peercall: {e}");
            return Err(exit::LOCAL);
        }
    }
    if media.video_defaulted {
        println!(
            "no camera ({DEFAULT_CAMERA} does not exist): sending the test pattern (--video test); --video v4l2:/dev/videoN picks a camera"
        );
    }
    if media.audio_defaulted {
        let mut stand_ins = Vec::new();
        if media.audio == AudioSource::Tone {
            stand_ins.push("sending the test tone (--audio-in tone)");
        }
        if media.audio_out == AudioSink::Null {
            stand_ins.push("received sound is discarded (--audio-out null)");
        }
        println!(
            "no sound card: {}; --audio-in/--audio-out alsa:DEVICE pick a card",
            stand_ins.join(", ")
        );
    }
    let VideoSource::Camera(path) = &media.video else {
        return Ok(offer);
    };
    if offer.video.codec == VideoCodec::None {
        return Ok(offer);
    }
    let (w, h, fps) = (offer.video.width, offer.video.height, offer.video.fps);
    match Camera::open(path, (w.into(), h.into(), fps.into()), media.camera_format) {
        Ok(cam) => {
            let mode = cam.mode();
            println!(
                "camera {}: {mode} (asked for {w}x{h} at {fps} fps)",
                path.display()
            );
            // carriable() bounds both sides by 2040, so they fit.
            offer.video.width = mode.width as u16;
            offer.video.height = mode.height as u16;
            offer.video.fps = mode.fps.min(u32::from(u8::MAX)) as u8;
            Ok(offer)
        }
        Err(e) if media.video_auto => {
            println!("{e}; sending the test pattern instead");
            media.video = VideoSource::Test;
            Ok(offer)
        }
        Err(e) => {
            eprintln!("peercall: {e}");
            Err(exit::LOCAL)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::{DEFAULT_FPS, DEFAULT_SIZE};

    fn given(size: bool, fps: bool) -> MediaGiven {
        MediaGiven {
            size,
            fps,
            ..MediaGiven::default()
        }
    }

    #[test]
    fn one_core_asks_for_the_smaller_picture_unless_told() {
        let mut m = MediaOptions::default();
        let line = fit_to_cores(&mut m, given(false, false), 1).expect("a line");
        assert_eq!((m.size, m.fps), (SINGLE_CORE_SIZE, SINGLE_CORE_FPS));
        assert!(line.contains("320x240 at 15 fps"), "{line}");

        let mut m = MediaOptions {
            size: (640, 480),
            ..MediaOptions::default()
        };
        assert!(fit_to_cores(&mut m, given(true, false), 1).is_some());
        assert_eq!((m.size, m.fps), ((640, 480), SINGLE_CORE_FPS));

        let mut m = MediaOptions::default();
        assert!(fit_to_cores(&mut m, given(true, true), 1).is_none());
        assert_eq!((m.size, m.fps), (DEFAULT_SIZE, DEFAULT_FPS));
    }

    #[test]
    fn two_cores_keep_the_defaults() {
        let mut m = MediaOptions::default();
        assert!(fit_to_cores(&mut m, given(false, false), 2).is_none());
        assert_eq!((m.size, m.fps), (DEFAULT_SIZE, DEFAULT_FPS));
    }
}
