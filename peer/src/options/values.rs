//! Parsers for single flag values: each takes the text the user typed and
//! returns plain data or a one-line error that shows the expected form.

use super::DEFAULT_CALL_PORT;
use crate::media::{AudioSink, AudioSource, VideoSink, VideoSource, MAX_FPS};
use peercall::media::capture::PixelFormat;
use peercall::wire::Name;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub(super) fn parse_listen(v: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = v.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(port) = v.parse::<u16>() {
        return Ok(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    if let Ok(ip) = v.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, DEFAULT_CALL_PORT));
    }
    Err(format!(
        "--listen takes IP:PORT or PORT, like 0.0.0.0:{DEFAULT_CALL_PORT} (got '{v}')"
    ))
}

/// `--size WxH`: a picture RTP/JPEG can carry.
pub(super) fn parse_size(v: &str) -> Result<(u16, u16), String> {
    let parsed = v
        .split_once(['x', 'X'])
        .and_then(|(w, h)| Some((w.parse::<u16>().ok()?, h.parse::<u16>().ok()?)));
    match parsed {
        Some((w, h)) if peercall::media::capture::carriable(w.into(), h.into()) => Ok((w, h)),
        _ => Err(format!(
            "--size takes WIDTHxHEIGHT in multiples of 8 up to 2040, like 640x480 (got '{v}')"
        )),
    }
}

/// `--window-size WxH`.
pub(super) fn parse_window_size(v: &str) -> Result<(u32, u32), String> {
    let max = crate::window::MAX_WINDOW_SIDE;
    let parsed = v
        .split_once(['x', 'X'])
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)));
    match parsed {
        Some((w, h)) if (1..=max).contains(&w) && (1..=max).contains(&h) => Ok((w, h)),
        _ => Err(format!(
            "--window-size takes WIDTHxHEIGHT in pixels up to {max}, like 800x600 (got '{v}')"
        )),
    }
}

/// `--forward IP:PORT`: where a player listens. Players pair RTP on an even
/// port with RTCP on the odd one above, and audio takes the next pair.
pub(super) fn parse_forward(v: &str) -> Result<SocketAddr, String> {
    let hint = "like 127.0.0.1:5004 (video RTP there, audio at PORT+2, RTCP one above each)";
    let a: SocketAddr = v
        .parse()
        .map_err(|_| format!("--forward takes IP:PORT, {hint} (got '{v}')"))?;
    if a.ip().is_unspecified() || a.port() == 0 || a.port() % 2 != 0 || a.port() > u16::MAX - 3 {
        return Err(format!(
            "--forward needs a player's IP and an even port from 2 to {}, {hint} (got '{v}')",
            u16::MAX - 3
        ));
    }
    Ok(a)
}

pub(super) fn parse_seconds(flag: &str, v: &str) -> Result<Duration, String> {
    match v.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!(
            "{flag} takes a number of seconds greater than 0, like 30 or 0.5 (got '{v}')"
        )),
    }
}

pub(super) fn parse_name(what: &str, v: &str) -> Result<Name, String> {
    Name::new(v).map_err(|e| format!("{what} '{v}' is not a valid name: {e}"))
}

/// `--video`. A camera or file is only named here; whether it exists and
/// can be read is checked when the call command starts.
pub(super) fn parse_video(v: &str) -> Result<VideoSource, String> {
    match v.split_once(':') {
        _ if v == "test" => Ok(VideoSource::Test),
        _ if v == "none" => Ok(VideoSource::None),
        Some(("v4l2", path)) if !path.is_empty() => Ok(VideoSource::Camera(path.into())),
        Some(("file", path)) if !path.is_empty() => Ok(VideoSource::File(path.into())),
        _ => Err(format!(
            "--video takes v4l2:/dev/videoN, test, none or file:PATH (got '{v}')"
        )),
    }
}

/// `--audio-in`.
pub(super) fn parse_audio_in(v: &str) -> Result<AudioSource, String> {
    match v.split_once(':') {
        _ if v == "tone" => Ok(AudioSource::Tone),
        _ if v == "alsa" => Ok(AudioSource::Alsa("default".into())),
        Some(("alsa", dev)) if !dev.is_empty() => Ok(AudioSource::Alsa(dev.into())),
        _ if v == "none" => Ok(AudioSource::None),
        Some(("wav", path)) if !path.is_empty() => Ok(AudioSource::Wav(path.into())),
        _ => Err(format!(
            "--audio-in takes alsa:DEVICE, tone, none or wav:PATH (got '{v}')"
        )),
    }
}

/// `--video-out`.
pub(super) fn parse_video_out(v: &str) -> Result<VideoSink, String> {
    match v.split_once(':') {
        _ if v == "null" => Ok(VideoSink::Null),
        _ if v == "window" => Ok(VideoSink::Window),
        _ if v == "auto" => Ok(VideoSink::Auto),
        Some(("file", path)) if !path.is_empty() => Ok(VideoSink::File(path.into())),
        _ => Err(format!(
            "--video-out takes window, auto, null or file:PATH (got '{v}')"
        )),
    }
}

/// `--audio-out`.
pub(super) fn parse_audio_out(v: &str) -> Result<AudioSink, String> {
    match v.split_once(':') {
        _ if v == "null" => Ok(AudioSink::Null),
        _ if v == "alsa" => Ok(AudioSink::Alsa("default".into())),
        Some(("alsa", dev)) if !dev.is_empty() => Ok(AudioSink::Alsa(dev.into())),
        Some(("wav", path)) if !path.is_empty() => Ok(AudioSink::Wav(path.into())),
        _ => Err(format!(
            "--audio-out takes alsa:DEVICE, null or wav:PATH (got '{v}')"
        )),
    }
}

/// `--jpeg-quality`: 1 to 100.
pub(super) fn parse_jpeg_quality(v: &str) -> Result<u8, String> {
    match v.parse::<u8>() {
        Ok(q) if (1..=100).contains(&q) => Ok(q),
        _ => Err(format!(
            "--jpeg-quality takes a whole number from 1 to 100 (got '{v}')"
        )),
    }
}

/// `--fps`: 1 to [`MAX_FPS`].
pub(super) fn parse_fps(v: &str) -> Result<u8, String> {
    match v.parse::<u8>() {
        Ok(f) if (1..=MAX_FPS).contains(&f) => Ok(f),
        _ => Err(format!(
            "--fps takes a whole number of frames per second from 1 to {MAX_FPS} (got '{v}')"
        )),
    }
}

/// `--camera-format`, in any case.
pub(super) fn parse_camera_format(v: &str) -> Result<PixelFormat, String> {
    match v.to_ascii_lowercase().as_str() {
        "mjpeg" => Ok(PixelFormat::Mjpeg),
        "yuyv" => Ok(PixelFormat::Yuyv),
        "i420" => Ok(PixelFormat::I420),
        "nv12" => Ok(PixelFormat::Nv12),
        _ => Err(format!(
            "--camera-format takes mjpeg, yuyv, i420 or nv12 (got '{v}')"
        )),
    }
}
