//! The camera: a V4L2 capture device, through the kernel's ioctls (the v4l
//! crate). It lists what each camera offers for `peercall devices`, opens one
//! in the mode closest to what a call wants (the choice is the library's
//! `media::capture::choose`, preferring the camera's own MJPEG), and streams
//! frames from a few memory-mapped buffers with the driver's capture
//! timestamps. What comes out is either a JPEG image to send as it is or a
//! YUYV picture to encode; the media session does the rest.

use peercall::media::capture::{choose, mjpeg_image, Mode, PixelFormat};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use v4l::buffer::Type;
use v4l::capability::Flags as CapFlags;
use v4l::device::Handle;
use v4l::format::FourCC;
use v4l::frameinterval::FrameIntervalEnum;
use v4l::framesize::FrameSizeEnum;
use v4l::io::mmap::Stream;
use v4l::io::traits::CaptureStream;
use v4l::video::capture::Parameters;
use v4l::video::Capture;
use v4l::{Device, Format};

/// Memory-mapped capture buffers: enough that the driver always has one to
/// fill while we encode and send another, few enough to keep latency and
/// memory small.
pub const CAPTURE_BUFFERS: u32 = 4;
/// Longest wait for a frame before the capture loop looks at its stop flag
/// again (a camera at 30 fps delivers every 33 ms).
pub const FRAME_WAIT: Duration = Duration::from_millis(50);
/// Camera nodes looked at by `peercall devices` (/dev/video0 upwards).
pub const MAX_VIDEO_NODES: usize = 64;
/// The frame rates tried on a camera that reports a continuous range.
const RANGE_RATES: [u32; 6] = [5, 10, 15, 20, 25, 30];

/// One size a camera offers in one format, with its frame rates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeInfo {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frame rates (frames per second), highest first.
    pub fps: Vec<u32>,
}

/// One pixel format a camera offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatInfo {
    /// The four-character code, e.g. "MJPG".
    pub fourcc: String,
    /// The driver's description.
    pub description: String,
    /// Whether peercall captures this format.
    pub usable: Option<PixelFormat>,
    /// Discrete sizes, or a range described in `range`.
    pub sizes: Vec<SizeInfo>,
    /// A stepwise size range, as text, when the camera gives one.
    pub range: Option<String>,
}

/// A capture device and what it offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraInfo {
    /// The device node.
    pub path: PathBuf,
    /// The card name the driver reports.
    pub card: String,
    /// The driver.
    pub driver: String,
    /// Its formats.
    pub formats: Vec<FormatInfo>,
}

/// Every video capture device under /dev, with its formats.
pub fn cameras() -> Vec<CameraInfo> {
    (0..MAX_VIDEO_NODES)
        .map(|i| PathBuf::from(format!("/dev/video{i}")))
        .filter(|p| p.exists())
        .filter_map(|p| describe(&p).ok())
        .collect()
}

fn is_capture(dev: &Device) -> io::Result<v4l::Capabilities> {
    let caps = dev.query_caps()?;
    if !caps.capabilities.contains(CapFlags::VIDEO_CAPTURE) {
        return Err(io::Error::other("not a video capture device"));
    }
    Ok(caps)
}

fn fps_of(interval: &FrameIntervalEnum) -> Vec<u32> {
    match interval {
        FrameIntervalEnum::Discrete(f) if f.numerator > 0 => {
            vec![(f.denominator + f.numerator / 2) / f.numerator]
        }
        FrameIntervalEnum::Discrete(_) => Vec::new(),
        FrameIntervalEnum::Stepwise(s) => {
            // Intervals: the fastest rate is 1 / min interval.
            let rate = |f: &v4l::Fraction| f.denominator.checked_div(f.numerator).unwrap_or(0);
            let (lo, hi) = (rate(&s.max), rate(&s.min));
            RANGE_RATES
                .iter()
                .copied()
                .filter(|r| (lo..=hi).contains(r))
                .collect()
        }
    }
}

fn rates(dev: &Device, fourcc: FourCC, width: u32, height: u32) -> Vec<u32> {
    let mut fps: Vec<u32> = dev
        .enum_frameintervals(fourcc, width, height)
        .unwrap_or_default()
        .iter()
        .flat_map(|i| fps_of(&i.interval))
        .filter(|&f| f > 0)
        .collect();
    fps.sort_unstable_by(|a, b| b.cmp(a));
    fps.dedup();
    fps
}

/// What one camera offers.
pub fn describe(path: &Path) -> io::Result<CameraInfo> {
    let dev = Device::with_path(path)?;
    let caps = is_capture(&dev)?;
    let mut formats = Vec::new();
    for desc in dev.enum_formats()? {
        let fourcc = desc.fourcc;
        let mut sizes = Vec::new();
        let mut range = None;
        for fs in dev.enum_framesizes(fourcc).unwrap_or_default() {
            match fs.size {
                FrameSizeEnum::Discrete(d) => sizes.push(SizeInfo {
                    width: d.width,
                    height: d.height,
                    fps: rates(&dev, fourcc, d.width, d.height),
                }),
                FrameSizeEnum::Stepwise(s) => {
                    range = Some(format!(
                        "{}x{} to {}x{} in steps of {}x{}",
                        s.min_width,
                        s.min_height,
                        s.max_width,
                        s.max_height,
                        s.step_width,
                        s.step_height
                    ))
                }
            }
        }
        formats.push(FormatInfo {
            fourcc: String::from_utf8_lossy(&fourcc.repr).into_owned(),
            description: desc.description,
            usable: PixelFormat::from_fourcc(fourcc.repr),
            sizes,
            range,
        });
    }
    Ok(CameraInfo {
        path: path.to_path_buf(),
        card: caps.card,
        driver: caps.driver,
        formats,
    })
}

/// The modes a camera offers that peercall can capture. A stepwise size
/// range contributes the wanted size (clamped into the range and onto its
/// steps) rather than every size in it.
fn modes(dev: &Device, want_w: u32, want_h: u32) -> io::Result<Vec<Mode>> {
    let mut out = Vec::new();
    for desc in dev.enum_formats()? {
        let Some(format) = PixelFormat::from_fourcc(desc.fourcc.repr) else {
            continue;
        };
        for fs in dev.enum_framesizes(desc.fourcc).unwrap_or_default() {
            let (w, h) = match fs.size {
                FrameSizeEnum::Discrete(d) => (d.width, d.height),
                FrameSizeEnum::Stepwise(s) => {
                    let snap = |want: u32, min: u32, max: u32, step: u32| {
                        let v = want.clamp(min, max.max(min));
                        min + (v - min) / step.max(1) * step.max(1)
                    };
                    (
                        snap(want_w, s.min_width, s.max_width, s.step_width),
                        snap(want_h, s.min_height, s.max_height, s.step_height),
                    )
                }
            };
            let mut fps = rates(dev, desc.fourcc, w, h);
            if fps.is_empty() {
                // Some drivers (loopbacks) list no intervals: ask for the
                // usual rate and let S_PARM say what we got.
                fps.push(30);
            }
            out.extend(fps.into_iter().map(|fps| Mode {
                format,
                width: w,
                height: h,
                fps,
            }));
        }
    }
    Ok(out)
}

/// An open camera, set to one mode.
pub struct Camera {
    dev: Device,
    path: PathBuf,
    mode: Mode,
    stride: usize,
}

/// One captured frame.
pub enum Captured<'a> {
    /// A JPEG image from the camera, ready to send.
    Jpeg(&'a [u8]),
    /// A raw picture in the stream's format (YUYV, I420 or NV12),
    /// `stride` bytes a row of its first plane.
    Raw {
        /// The bytes.
        data: &'a [u8],
        /// Bytes per row.
        stride: usize,
    },
}

/// A camera streaming: frames as they are captured.
pub struct CameraStream {
    stream: Stream<'static>,
    /// The device, polled here for the next frame (see [`CameraStream::next`]).
    handle: Arc<Handle>,
    mode: Mode,
    stride: usize,
    held: Held,
}

/// What the v4l stream holds between two frames: its `next()` gives the
/// driver back the buffer it holds, then waits for the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    /// Not started: its first `next()` queues every buffer and starts it.
    NotStarted,
    /// The buffer of the last frame, read or skipped.
    Buffer,
    /// Nothing: it gave its buffer back and its own wait ran out, so its
    /// next `next()` would give the same buffer back again.
    Nothing,
}

impl Camera {
    /// Opens the camera at `path` in the mode closest to `width` x `height`
    /// at `fps`, in pixel format `only` when given. The error is one sentence
    /// for the user.
    pub fn open(
        path: &Path,
        (width, height, fps): (u32, u32, u32),
        only: Option<PixelFormat>,
    ) -> Result<Camera, String> {
        let shown = path.display();
        let dev = Device::with_path(path).map_err(|e| {
            format!("camera {shown} cannot be opened ({e}); `peercall devices` lists the cameras, --video test sends a test pattern instead")
        })?;
        is_capture(&dev).map_err(|e| {
            format!("{shown} is not a camera ({e}); `peercall devices` lists the cameras")
        })?;
        let mut offered = modes(&dev, width, height)
            .map_err(|e| format!("camera {shown}: cannot list its formats ({e})"))?;
        if let Some(f) = only {
            offered.retain(|m| m.format == f);
            if offered.is_empty() {
                return Err(format!(
                    "camera {shown} does not offer {f} (--camera-format); `peercall devices` shows what it offers"
                ));
            }
        }
        let Some(want) = choose(&offered, width, height, fps) else {
            return Err(format!(
                "camera {shown} offers neither MJPEG nor YUYV, I420 or NV12 at a size RTP/JPEG can carry (multiples of 8 up to 2040); `peercall devices` shows what it offers"
            ));
        };
        let set = dev
            .set_format(&Format::new(
                want.width,
                want.height,
                FourCC::new(&want.format.fourcc()),
            ))
            .map_err(|e| format!("camera {shown}: cannot set {want} ({e})"))?;
        let format = PixelFormat::from_fourcc(set.fourcc.repr).ok_or_else(|| {
            format!(
                "camera {shown} switched to {} instead of {}",
                String::from_utf8_lossy(&set.fourcc.repr),
                want.format
            )
        })?;
        // The rate is a request; a camera that cannot change it keeps its own.
        let fps = match dev.set_params(&Parameters::with_fps(want.fps)) {
            Ok(p) if p.interval.numerator > 0 => {
                (p.interval.denominator + p.interval.numerator / 2) / p.interval.numerator
            }
            _ => want.fps,
        };
        let mode = Mode {
            format,
            width: set.width,
            height: set.height,
            fps: fps.max(1),
        };
        Ok(Camera {
            dev,
            path: path.to_path_buf(),
            stride: set.stride as usize,
            mode,
        })
    }

    /// The mode the camera was set to.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Starts streaming from [`CAPTURE_BUFFERS`] memory-mapped buffers.
    pub fn stream(self) -> Result<CameraStream, String> {
        let mut stream = Stream::with_buffers(&self.dev, Type::VideoCapture, CAPTURE_BUFFERS)
            .map_err(|e| {
                format!(
                    "camera {}: cannot map capture buffers ({e})",
                    self.path.display()
                )
            })?;
        stream.set_timeout(FRAME_WAIT);
        Ok(CameraStream {
            handle: stream.handle(),
            stream,
            mode: self.mode,
            stride: self.stride,
            held: Held::NotStarted,
        })
    }
}

/// The age of a driver timestamp (CLOCK_MONOTONIC, which `Instant` also
/// counts on Linux), as the `Instant` it was taken at. Timestamps that are
/// absent, in the future or older than a second are not trusted: now instead.
fn captured_at(ts: v4l::Timestamp) -> Instant {
    let now = Instant::now();
    let mut mono = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut mono) } != 0 {
        return now;
    }
    let now_us = i128::from(mono.tv_sec) * 1_000_000 + i128::from(mono.tv_nsec) / 1000;
    let ts_us = i128::from(ts.sec) * 1_000_000 + i128::from(ts.usec);
    let age = now_us - ts_us;
    if ts_us == 0 || !(0..1_000_000).contains(&age) {
        return now;
    }
    now.checked_sub(Duration::from_micros(age as u64))
        .unwrap_or(now)
}

/// Why no frame came.
#[derive(Debug)]
pub enum CaptureFailure {
    /// Nothing within [`FRAME_WAIT`]; try again.
    Timeout,
    /// The frame was unusable (no JPEG image in an MJPEG buffer); skip it.
    BadFrame,
    /// The camera is gone or broken: stop capturing.
    Gone(io::Error),
}

impl CameraStream {
    /// The mode frames come in.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Waits up to [`FRAME_WAIT`] for the next frame.
    // Not an `Iterator`: the frame borrows the driver's buffer until the
    // next call, which `Iterator::next` cannot express.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<(Instant, Captured<'_>), CaptureFailure> {
        let (mode, stride) = (self.mode, self.stride);
        // The wait is ours, not the v4l stream's: its `next()` gives the
        // driver back the buffer it holds before it waits, and when the wait
        // runs out it holds none but gives the same one back again next
        // time, which the driver refuses with EINVAL (v4l 0.14). So a camera
        // slower than FRAME_WAIT, or one late frame, ended capture. Once a
        // frame is ready its wait returns at once. Before the first `next()`
        // the stream is off and there is nothing to wait for.
        if self.held != Held::NotStarted {
            self.wait()?;
        }
        if self.held == Held::Nothing {
            // Its own wait ran out all the same (the first frame was late,
            // or a signal came): take a buffer back, its picture unread, so
            // that it holds one to give back again.
            CaptureStream::dequeue(&mut self.stream).map_err(failure)?;
            self.held = Held::Buffer;
            self.wait()?;
        }
        let (buf, meta) = match self.stream.next() {
            Ok(x) => x,
            Err(e) => {
                let failure = failure(e);
                self.held = match failure {
                    CaptureFailure::Timeout => Held::Nothing,
                    // Capture ends here; the caller stops asking.
                    _ => Held::Buffer,
                };
                return Err(failure);
            }
        };
        self.held = Held::Buffer;
        let at = captured_at(meta.timestamp);
        let used = (meta.bytesused as usize).min(buf.len());
        let data = &buf[..used];
        let frame = match mode.format {
            PixelFormat::Mjpeg => {
                Captured::Jpeg(mjpeg_image(data).ok_or(CaptureFailure::BadFrame)?)
            }
            _ => Captured::Raw { data, stride },
        };
        Ok((at, frame))
    }

    /// Waits up to [`FRAME_WAIT`] for the driver to have a frame ready.
    fn wait(&self) -> Result<(), CaptureFailure> {
        match self
            .handle
            .poll(libc::POLLIN, FRAME_WAIT.as_millis() as i32)
        {
            Ok(0) => Err(CaptureFailure::Timeout),
            Ok(_) => Ok(()),
            Err(e) => Err(failure(e)),
        }
    }
}

/// What a capture error means: a wait that ran out or was interrupted is
/// tried again, anything else ends capture.
fn failure(e: io::Error) -> CaptureFailure {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::Interrupted => CaptureFailure::Timeout,
        _ => CaptureFailure::Gone(e),
    }
}
