//! The capture side of a call: a thread that makes JPEG frames (the test
//! pattern, an MJPEG file, a camera) and one that makes Opus frames (the
//! tone, a WAV file, a microphone), each paced by its source's clock and
//! handing what it made to the media loop. They know nothing of RTP.

use super::display::{CallPictures, PREVIEW_INTERVAL};
use super::media_loop::SharedTarget;
use super::runtime::{Input, LoopLink, Stop};
use super::{AudioSource, VideoSource};
use crate::devices::camera::{Camera, CameraStream, CaptureFailure, Captured};
use crate::devices::sound;
use peercall::media::audio::{FRAME_DURATION, FRAME_SAMPLES};
use peercall::media::capture::{raw_to_i420, shrink_i420, shrunk_size, PixelFormat};
use peercall::media::pattern::{draw, Stamp, Yuv420};
use peercall::media::session::VideoTarget;
use peercall::media::tone::Tone;
use peercall::wire::MediaDescription;
use peercall_codecs::jpeg::{decode_to_yuv420, YuvJpegDecoder, YuvJpegEncoder};
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
    /// What the rate control wants of the picture.
    pub(super) target: Arc<SharedTarget>,
}

/// A JPEG encoder at the quality the rate control asks for, made anew when
/// that changes; the configured quality is the top.
struct Encoder {
    enc: YuvJpegEncoder,
    quality: u8,
    configured: u8,
    /// The picture shrunk for a lower level.
    small: Yuv420,
}

impl Encoder {
    fn new(configured: u8) -> Result<Encoder, String> {
        Ok(Encoder {
            enc: YuvJpegEncoder::new(configured).map_err(|e| e.to_string())?,
            quality: configured,
            configured,
            small: Yuv420::new(16, 16),
        })
    }

    /// The size a picture of `full` size is sent at under `target`, as
    /// [`shrink_i420`] makes it.
    fn size_for(&self, full: (usize, usize), target: &VideoTarget) -> (usize, usize) {
        shrunk_size(full.0, full.1, target.scale as usize)
    }

    /// Encodes `pic` as `target` says: its quality (never above the
    /// configured one) and its scale.
    fn encode(&mut self, pic: &Yuv420, target: &VideoTarget) -> Result<Vec<u8>, String> {
        let quality = if target.is_full() {
            self.configured
        } else {
            target.quality.min(self.configured)
        };
        if quality != self.quality {
            self.enc = YuvJpegEncoder::new(quality).map_err(|e| e.to_string())?;
            self.quality = quality;
        }
        if target.scale > 1 {
            shrink_i420(pic, target.scale as usize, &mut self.small);
            self.enc.encode(&self.small).map_err(|e| e.to_string())
        } else {
            self.enc.encode(pic).map_err(|e| e.to_string())
        }
    }
}

/// What the audio capture thread needs.
pub(super) struct AudioCapture {
    pub(super) source: AudioSource,
    /// The samples of `--audio-in wav:`, read before the call.
    pub(super) wav: Option<Vec<i16>>,
    /// The microphone's mute switch.
    pub(super) muted: Arc<AtomicBool>,
    /// What the session wants of the encoder (bitrate, FEC planning).
    pub(super) target: Arc<SharedTarget>,
}

fn wallclock_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Where the sender's JPEG frames come from.
enum Frames {
    /// The test pattern, drawn and encoded each frame period.
    Pattern {
        pic: Yuv420,
        enc: Encoder,
        /// The negotiated size.
        full: (usize, usize),
    },
    /// An MJPEG file's images, looped, one each frame period.
    File(Vec<Vec<u8>>),
    /// A camera, paced by the camera: its own JPEG images as they are (or
    /// decoded and encoded again when the rate control wants less than
    /// full quality), or raw pictures repacked to 4:2:0 and encoded.
    Camera {
        stream: CameraStream,
        path: PathBuf,
        pic: Yuv420,
        enc: Encoder,
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
        let enc = || Encoder::new(c.jpeg_quality);
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
                full: (usize::from(w), usize::from(h)),
            },
        })
    }

    /// Produces frame number `n` into `jpeg` as `target` says; `due` is
    /// when a source without a clock of its own should capture it. A frame
    /// the target's frame-rate divisor leaves out is captured (a camera
    /// must be read) but neither copied nor encoded.
    fn next(
        &mut self,
        n: u32,
        due: Instant,
        stop: &Stop,
        jpeg: &mut Vec<u8>,
        target: &VideoTarget,
    ) -> Next {
        let wanted = target.takes(u64::from(n));
        match self {
            Frames::Pattern { pic, enc, full } => {
                let full = *full;
                if !stop.sleep_until(due) {
                    return Next::Done;
                }
                if !wanted {
                    return Next::Skip;
                }
                let captured = Instant::now();
                // Drawn at the size to send, not shrunk after, so the frame
                // stamp stays readable at every size.
                let (w, h) = enc.size_for(full, target);
                if (pic.width, pic.height) != (w, h) {
                    *pic = Yuv420::new(w, h);
                }
                let target = &VideoTarget {
                    scale: 1,
                    ..*target
                };
                draw(
                    pic,
                    Stamp {
                        frame: n,
                        capture_us: wallclock_us(),
                    },
                );
                match enc.encode(pic, target) {
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
                if !wanted {
                    return Next::Skip;
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
                    Ok(_) if !wanted => return Next::Skip,
                    Ok((at, Captured::Jpeg(image))) if target.is_full() => {
                        jpeg.clear();
                        jpeg.extend_from_slice(image);
                        return Next::Frame(at);
                    }
                    Ok((at, Captured::Jpeg(image))) => {
                        // Less than full quality: the encode path.
                        let encoded = decode_to_yuv420(image)
                            .map_err(|e| e.to_string())
                            .and_then(|p| enc.encode(&p, target));
                        return match encoded {
                            Ok(j) => {
                                *jpeg = j;
                                Next::Frame(at)
                            }
                            Err(e) => {
                                log::warn!("camera frame not encoded again: {e}");
                                Next::Skip
                            }
                        };
                    }
                    Ok((at, Captured::Raw { data, stride })) => {
                        let encoded =
                            raw_to_i420(mode.format, data, mode.width, mode.height, stride, pic)
                                .map_err(|e| e.to_string())
                                .and_then(|()| enc.encode(pic, target));
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
    let c_target = c.target.clone();
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
        let target = c_target.get();
        let captured = match frames.next(n, start + period * n, stop, &mut jpeg, &target) {
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
        if let Err(e) = enc.set_target(c.target.audio()) {
            log::warn!("audio encoder kept its settings: {e}");
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
