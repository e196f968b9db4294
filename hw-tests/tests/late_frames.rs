//! Capture goes on when the camera's pictures are late: at the start of a
//! call (a webcam's sensor takes a while to give its first picture) and in
//! the middle (a webcam in low light lowers its rate to expose longer). The
//! peer's capture loop waits at most `FRAME_WAIT` for a picture before it
//! looks at its stop flag, and those waits run out. vivid's "Percentage of
//! Dropped Buffers" control, set to 100, holds its pictures back, so here
//! they run out on cue.

use peercall::media::capture::PixelFormat;
use peercall_hw_tests::{need, Device};
use peercall_peer::devices::camera::{Camera, CameraStream, CaptureFailure, Captured};
use std::path::Path;
use std::time::{Duration, Instant};
use v4l::control::{Control, Value};

/// The control's name, as vivid gives it (VIVID_CID_PERC_DROPPED).
const DROP_CONTROL: &str = "Percentage of Dropped Buffers";
/// Waits that run out in a row while the pictures are held back.
const EMPTY_WAITS: usize = 4;
/// Pictures asked for once they come again.
const PICTURES: usize = 10;
/// How long those may take (vivid at 25 fps in an emulated VM).
const PICTURES_WITHIN: Duration = Duration::from_secs(10);

/// vivid's drop percentage, set back to 0 when dropped (the other tests
/// share the camera).
struct Dropping {
    dev: v4l::Device,
    id: u32,
}

impl Dropping {
    fn new(path: &Path) -> Dropping {
        let dev = v4l::Device::with_path(path).expect("vivid opens");
        let id = dev
            .query_controls()
            .expect("vivid lists its controls")
            .into_iter()
            .find(|c| c.name == DROP_CONTROL)
            .unwrap_or_else(|| panic!("vivid has no '{DROP_CONTROL}' control"))
            .id;
        Dropping { dev, id }
    }

    fn set(&self, percent: i64) {
        self.dev
            .set_control(Control {
                id: self.id,
                value: Value::Integer(percent),
            })
            .expect("vivid takes the drop percentage");
    }
}

impl Drop for Dropping {
    fn drop(&mut self) {
        self.set(0);
    }
}

/// Asks for pictures until [`EMPTY_WAITS`] waits have run out, failing if
/// one comes or the capture stops.
fn expect_no_pictures(stream: &mut CameraStream) {
    for wait in 0..EMPTY_WAITS {
        match stream.next() {
            Err(CaptureFailure::Timeout) => {}
            Err(CaptureFailure::Gone(e)) => panic!("capture stopped at empty wait {wait}: {e}"),
            Err(CaptureFailure::BadFrame) => panic!("a bad frame while none should come"),
            Ok(_) => panic!("a picture came while vivid held them back"),
        }
    }
}

/// Asks for [`PICTURES`] pictures, failing if the capture stops or they do
/// not come within [`PICTURES_WITHIN`].
fn expect_pictures(stream: &mut CameraStream) {
    let (mut got, deadline) = (0, Instant::now() + PICTURES_WITHIN);
    while got < PICTURES {
        assert!(
            Instant::now() < deadline,
            "{got} of {PICTURES} pictures within {PICTURES_WITHIN:?}"
        );
        match stream.next() {
            Ok((_, Captured::Raw { data, .. })) => {
                assert!(!data.is_empty(), "an empty picture");
                got += 1;
            }
            Ok((_, Captured::Jpeg(_))) => panic!("vivid gave JPEG, asked for YUYV"),
            Err(CaptureFailure::Timeout | CaptureFailure::BadFrame) => {}
            Err(CaptureFailure::Gone(e)) => panic!("capture stopped after {got} pictures: {e}"),
        }
    }
}

#[test]
fn capture_goes_on_when_pictures_are_late() {
    let Some(path) = need(Device::Vivid) else {
        return;
    };
    let dropping = Dropping::new(&path);
    dropping.set(100);
    let camera = Camera::open(&path, (640, 480, 25), Some(PixelFormat::Yuyv))
        .expect("vivid opens as a camera");
    let mut stream = camera.stream().expect("vivid streams");
    // The first picture is late: the stream starts and its first wait runs
    // out, then more waits do.
    expect_no_pictures(&mut stream);
    dropping.set(0);
    expect_pictures(&mut stream);
    // Late in the middle.
    dropping.set(100);
    // Pictures already taken before the hold may still be waiting.
    let drained = Instant::now() + Duration::from_secs(1);
    while Instant::now() < drained {
        if let Err(CaptureFailure::Gone(e)) = stream.next() {
            panic!("capture stopped while pictures were held back: {e}");
        }
    }
    expect_no_pictures(&mut stream);
    dropping.set(0);
    expect_pictures(&mut stream);
}
