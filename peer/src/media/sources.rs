//! The capture side of a call: a thread that makes JPEG frames (the test
//! pattern, an MJPEG file, a camera) and one that makes Opus frames (the
//! tone, a WAV file, a microphone), each paced by its source's clock and
//! handing what it made to the media loop. They know nothing of RTP.

use super::display::{CallPictures, PREVIEW_INTERVAL};
use super::runtime::{Input, LoopLink, Stop};
use super::{AudioSource, VideoSource};
use crate::devices::camera::{Camera, CameraStream, CaptureFailure, Captured};
use crate::devices::sound;
use peercall::media::audio::{FRAME_DURATION, FRAME_SAMPLES};
use peercall::media::capture::{raw_to_i420, PixelFormat};
use peercall::media::pattern::{draw, Stamp, Yuv420};
use peercall::media::tone::Tone;
use peercall::wire::MediaDescription;
use peercall_codecs::jpeg::{YuvJpegDecoder, YuvJpegEncoder};
use peercall_codecs::opus::VoiceEncoder;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What the video capture thread needs.
pub(super) struct VideoCapture {
    pub(super) source: VideoSource,
    /// The images of `--video file:`, read before the call.
    pub(super) file: Option<Vec<Vec<u8>>>,
    pub(super) media: MediaDescription,
    pub(super) jpeg_quality: u8,
    pub(super) camera_format: Option<PixelFormat>,
    /// The window's pictures, for the corner preview of what we send.
    pub(super) preview: Option<Arc<CallPictures>>,
}

/// What the audio capture thread needs.
pub(super) struct AudioCapture {
    pub(super) source: AudioSource,
    /// The samples of `--audio-in wav:`, read before the call.
    pub(super) wav: Option<Vec<i16>>,
    /// The microphone's mute switch.
    pub(super) muted: Arc<AtomicBool>,
}

fn wallclock_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Where the sender's JPEG frames come from.
enum Frames {
    /// The test pattern, drawn and encoded each frame period.
    Pattern { pic: Yuv420, enc: YuvJpegEncoder },
    /// An MJPEG file's images, looped, one each frame period.
    File(Vec<Vec<u8>>),
    /// A camera, paced by the camera: its own JPEG images as they are, or
    /// raw pictures repacked to 4:2:0 and encoded.
    Camera {
        stream: CameraStream,
        path: PathBuf,
        pic: Yuv420,
        enc: YuvJpegEncoder,
    },
}

/// What the source's next frame is.
enum Next {
    /// A frame captured at this time, in the JPEG buffer.
    Frame(Instant),
    /// Nothing this time (a frame failed to encode); go on.
    Skip,
    /// Stop sending video (stopped, or the camera is gone).
    Done,
}

impl Frames {
    /// Opens the source for the negotiated picture; the error is for the user.
    fn open(c: VideoCapture) -> Result<Frames, String> {
        let enc = || YuvJpegEncoder::new(c.jpeg_quality).map_err(|e| e.to_string());
        let (w, h) = (c.media.video.width, c.media.video.height);
        Ok(match (c.source, c.file) {
            (_, Some(frames)) => Frames::File(frames),
            (VideoSource::Camera(path), None) => {
                let size = (w.into(), h.into(), c.media.video.fps.into());
                let cam = Camera::open(&path, size, c.camera_format)?;
                let mode = cam.mode();
                let how = match mode.format {
                    PixelFormat::Mjpeg => "sent as the camera makes them",
                    _ => "encoded to JPEG here",
                };
                println!("camera {}: {mode}, {how}", path.display());
                Frames::Camera {
                    stream: cam.stream()?,
                    path,
                    pic: Yuv420::new(mode.width as usize, mode.height as usize),
                    enc: enc()?,
                }
            }
            _ => Frames::Pattern {
                pic: Yuv420::new(usize::from(w), usize::from(h)),
                enc: enc()?,
            },
        })
    }

    /// Produces frame number `n` into `jpeg`; `due` is when a source without
    /// a clock of its own should capture it.
    fn next(&mut self, n: u32, due: Instant, stop: &Stop, jpeg: &mut Vec<u8>) -> Next {
        match self {
            Frames::Pattern { pic, enc } => {
                if !stop.sleep_until(due) {
                    return Next::Done;
                }
                let captured = Instant::now();
                draw(
                    pic,
                    Stamp {
                        frame: n,
                        capture_us: wallclock_us(),
                    },
                );
                match enc.encode(pic) {
                    Ok(j) => {
                        *jpeg = j;
                        Next::Frame(captured)
                    }
                    Err(e) => {
                        log::warn!("frame {n} not encoded: {e}");
                        Next::Skip
                    }
                }
            }
            Frames::File(frames) => {
                if !stop.sleep_until(due) {
                    return Next::Done;
                }
                jpeg.clear();
                jpeg.extend_from_slice(&frames[n as usize % frames.len()]);
                Next::Frame(Instant::now())
            }
            Frames::Camera {
                stream,
                path,
                pic,
                enc,
            } => loop {
                if stop.is_set() {
                    return Next::Done;
                }
                let (mode, captured) = (stream.mode(), stream.next());
                match captured {
                    Ok((at, Captured::Jpeg(image))) => {
                        jpeg.clear();
                        jpeg.extend_from_slice(image);
                        return Next::Frame(at);
                    }
                    Ok((at, Captured::Raw { data, stride })) => {
                        let encoded =
                            raw_to_i420(mode.format, data, mode.width, mode.height, stride, pic)
                                .map_err(|e| e.to_string())
                                .and_then(|()| enc.encode(pic).map_err(|e| e.to_string()));
                        return match encoded {
                            Ok(j) => {
                                *jpeg = j;
                                Next::Frame(at)
                            }
                            Err(e) => {
                                log::warn!("camera frame not encoded: {e}");
                                Next::Skip
                            }
                        };
                    }
                    Err(CaptureFailure::Timeout) => {}
                    Err(CaptureFailure::BadFrame) => {
                        log::debug!("camera buffer without a JPEG image skipped");
                    }
                    Err(CaptureFailure::Gone(e)) => {
                        println!(
                            "camera {} stopped ({e}): video ends, the call and its sound go on",
                            path.display()
                        );
                        return Next::Done;
                    }
                }
            },
        }
    }

    fn is_camera(&self) -> bool {
        matches!(self, Frames::Camera { .. })
    }
}

/// The local picture for the window's corner, decoded at most every
/// [`PREVIEW_INTERVAL`].
struct Preview {
    screen: Option<Arc<CallPictures>>,
    dec: Option<YuvJpegDecoder>,
    last: Option<Instant>,
}

impl Preview {
    fn new(screen: Option<Arc<CallPictures>>) -> Preview {
        let dec = screen.as_ref().and_then(|_| YuvJpegDecoder::new().ok());
        Preview {
            screen,
            dec,
            last: None,
        }
    }

    /// Whether the frame captured at `at` should be previewed.
    fn due(&self, at: Instant) -> bool {
        self.dec.is_some()
            && self
                .last
                .is_none_or(|l| at.saturating_duration_since(l) >= PREVIEW_INTERVAL)
    }

    fn show(&mut self, jpeg: &[u8], captured: Instant) {
        self.last = Some(captured);
        let (Some(screen), Some(dec)) = (self.screen.as_ref(), self.dec.as_mut()) else {
            return;
        };
        let started = Instant::now();
        match dec.decode(jpeg) {
            Ok(view) => {
                screen.preview.put(&view, Some(captured), started.elapsed());
                screen.wake();
            }
            Err(e) => log::debug!("preview not decoded: {e}"),
        }
    }
}

/// The video capture thread: frames until stopped or the source ends.
pub(super) fn capture_video(c: VideoCapture, link: &LoopLink, stop: &Stop) {
    let screen = c.preview.clone();
    let fps = u32::from(c.media.video.fps.max(1));
    let period = Duration::from_secs(1) / fps;
    let mut frames = match Frames::open(c) {
        Ok(f) => f,
        Err(e) => {
            println!("video not sent: {e}");
            return;
        }
    };
    let from_camera = frames.is_camera();
    let mut preview = Preview::new(screen);
    let start = Instant::now();
    let mut jpeg = Vec::new();
    for n in 0u32.. {
        let captured = match frames.next(n, start + period * n, stop, &mut jpeg) {
            Next::Frame(at) => at,
            Next::Skip => continue,
            Next::Done => return,
        };
        // The corner preview takes a copy now and then, decoded after the
        // frame is on its way so sending is not delayed.
        let preview_copy = preview.due(captured).then(|| jpeg.clone());
        let frame = Input::Video {
            captured,
            jpeg: std::mem::take(&mut jpeg),
            from_camera,
        };
        if !link.send(frame) {
            return;
        }
        if let Some(copy) = preview_copy {
            preview.show(&copy, captured);
        }
    }
}

/// The audio capture thread: 20 ms Opus frames until stopped or the
/// source ends; returns the microphone's overruns when a card was used.
pub(super) fn capture_audio(c: AudioCapture, link: &LoopLink, stop: &Stop) -> Option<u64> {
    let mut enc = match VoiceEncoder::new() {
        Ok(e) => e,
        Err(e) => {
            log::error!("audio sending stopped: {e}");
            return None;
        }
    };
    let mut mic = match &c.source {
        AudioSource::Alsa(device) => match sound::Capture::open(device) {
            Ok(m) => {
                println!(
                    "microphone {device}: {} Hz, {}",
                    m.rate(),
                    if m.channels() == 2 {
                        "stereo mixed down to mono"
                    } else {
                        "mono"
                    }
                );
                Some(m)
            }
            Err(e) => {
                println!("sound not sent: {e}");
                return None;
            }
        },
        _ => None,
    };
    let mut tone = Tone::new();
    let mut pcm = vec![0i16; FRAME_SAMPLES];
    let start = Instant::now();
    for k in 0u32.. {
        let captured = if let Some(m) = mic.as_mut() {
            // The card's clock paces capture: a read returns each 20 ms.
            if stop.is_set() {
                break;
            }
            if let Err(e) = m.read_frame(&mut pcm) {
                println!("microphone stopped ({e}): sound ends, the call goes on");
                break;
            }
            // The frame's first sample was taken a frame ago.
            Instant::now()
                .checked_sub(FRAME_DURATION)
                .unwrap_or_else(Instant::now)
        } else {
            if !stop.sleep_until(start + FRAME_DURATION * k) {
                break;
            }
            match &c.wav {
                // A file loops: each frame takes the next 960 samples, wrapping.
                Some(samples) => {
                    let first = k as usize * FRAME_SAMPLES;
                    for (i, s) in pcm.iter_mut().enumerate() {
                        *s = samples[(first + i) % samples.len()];
                    }
                }
                None => tone.fill(&mut pcm),
            }
            Instant::now()
        };
        if c.muted.load(Ordering::Relaxed) {
            pcm.fill(0);
        }
        match enc.encode(&pcm) {
            Ok(opus) => {
                if !link.send(Input::Audio { captured, opus }) {
                    break;
                }
            }
            Err(e) => log::warn!("audio frame not encoded: {e}"),
        }
    }
    mic.map(|m| m.overruns())
}
