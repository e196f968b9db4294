//! Windows on a KMS/DRM screen, the display of a board with no desktop: what
//! SDL2's KMSDRM backend presents must be what a monitor shows, and a call
//! shown in the peer's window must reach the screen. The VM's screen (qemu's
//! bochs-display) is photographed by the host through qemu's screendump
//! (hw-tests/vm/screendump.py), so the checks see the scanned-out picture,
//! not what the program believes it drew.

use peercall_hw_tests::screen::{screendump, Picture};
use peercall_hw_tests::{need, Device};
use peercall_testkit::{start_call, start_peer_with, Registry};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long the host may take to answer a screendump request (qemu's vCPUs
/// keep the host busy under emulation).
const SCREENDUMP_WAIT: Duration = Duration::from_secs(30);

/// The bars drawn across the screen, left to right.
const BARS: [[u8; 3]; 6] = [
    [255, 0, 0],
    [0, 200, 0],
    [0, 0, 255],
    [255, 255, 0],
    [0, 255, 255],
    [255, 0, 255],
];

/// How far a channel may be from what was drawn: the software renderer
/// fills flat colours exactly, but a scan-out format of fewer bits would not.
const CHANNEL_TOLERANCE: u8 = 4;

/// Frames presented before the picture is taken: with page flipping, each
/// of the buffers the screen alternates between then holds the bars.
const FRAMES: usize = 3;

/// The centre of bar `i` of `BARS.len()` across a `w` x `h` screen.
fn bar_centre(i: usize, w: usize, h: usize) -> (usize, usize) {
    ((2 * i + 1) * w / (2 * BARS.len()), h / 2)
}

fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter()
        .zip(b)
        .all(|(x, y)| x.abs_diff(y) <= CHANNEL_TOLERANCE)
}

fn check_bars(pic: &Picture) {
    for (i, want) in BARS.into_iter().enumerate() {
        let (x, y) = bar_centre(i, pic.width, pic.height);
        let got = pic.pixel(x, y).unwrap();
        assert!(
            close(got, want),
            "bar {i} at ({x}, {y}) shows {got:?}, drawn {want:?}"
        );
    }
}

/// SDL2 alone, as the peer's window uses it (a full-screen window and an
/// accelerated renderer, which on a GPU-less card is Mesa's software GL over
/// GBM): bars drawn and presented appear on the screen. Tells a broken
/// display path (kernel driver, GBM/EGL, SDL) from a broken peer window.
#[test]
fn sdl_kmsdrm_presents_what_was_drawn() {
    let (Some(card), Some(dir)) = (need(Device::Drm), need(Device::Screendump)) else {
        return;
    };
    sdl2::hint::set("SDL_VIDEODRIVER", "kmsdrm");
    let sdl = sdl2::init().expect("SDL_Init");
    let video = sdl
        .video()
        .unwrap_or_else(|e| panic!("SDL's kmsdrm video driver on {}: {e}", card.display()));
    assert_eq!(video.current_video_driver(), "KMSDRM");
    let window = video
        .window("peercall hw-test", 640, 480)
        .fullscreen_desktop()
        .build()
        .expect("a full-screen window on KMS/DRM");
    let mut canvas = window
        .into_canvas()
        .accelerated()
        .build()
        .expect("a renderer on KMS/DRM (GBM and EGL: Mesa)");
    let (w, h) = canvas.output_size().unwrap();
    let (w, h) = (w as usize, h as usize);
    for _ in 0..FRAMES {
        for (i, [r, g, b]) in BARS.into_iter().enumerate() {
            canvas.set_draw_color(sdl2::pixels::Color::RGB(r, g, b));
            let (x0, x1) = (i * w / BARS.len(), (i + 1) * w / BARS.len());
            canvas
                .fill_rect(sdl2::rect::Rect::new(
                    x0 as i32,
                    0,
                    (x1 - x0) as u32,
                    h as u32,
                ))
                .unwrap();
        }
        canvas.present();
    }
    let pic = screendump(&dir, "sdl-bars", SCREENDUMP_WAIT).unwrap();
    assert_eq!(
        (pic.width, pic.height),
        (w, h),
        "the screen is not the full-screen window's size"
    );
    check_bars(&pic);
}

/// The longest the shown call may last; the test hangs up as soon as it has
/// seen the picture move. Only a bound: an emulated VM on a loaded host has
/// taken more than 12 s to present its first picture (Mesa's software GL
/// compiling its shaders), and a test that gave it a fixed 12 s measured
/// the host rather than the window.
const CALL_SECONDS: &str = "150";

/// How long, from the media flowing, the picture may take to reach the
/// screen.
const PATTERN_WAIT: Duration = Duration::from_secs(120);

/// How long the call may take to get going in an emulated VM.
const CALL_START: Duration = Duration::from_secs(60);

/// How long to wait for the quality report after the call.
const REPORT_WAIT: Duration = Duration::from_secs(60);

/// The share of strongly coloured pixels above which the screen shows the
/// test pattern (about 0.7 of a full screen of it; the window's own
/// drawing, white text, dark grey and two buttons, stays under 0.03).
const MIN_COLOURED: f64 = 0.1;

/// The share of pixels that must change between two pictures of the screen
/// taken at least [`MOTION_GAP`] apart: the test pattern moves, a frozen
/// picture does not.
const MIN_CHANGED: f64 = 0.01;

/// The time between the two pictures compared for motion.
const MOTION_GAP: Duration = Duration::from_secs(1);
/// How long the screen may stay the same before the picture counts as
/// frozen (the call lasts [`CALL_SECONDS`]).
const MOTION_WAIT: Duration = Duration::from_secs(10);

/// The picture Alice sends: small and slow enough for the emulated VM's
/// window to present most of it.
const CALL_VIDEO: [&str; 4] = ["--size", "320x240", "--fps", "2"];

/// The share of pixels that differ between two pictures of the same size.
fn changed_share(a: &Picture, b: &Picture) -> f64 {
    assert_eq!((a.width, a.height), (b.width, b.height));
    let changed = a
        .rgb
        .chunks_exact(3)
        .zip(b.rgb.chunks_exact(3))
        .filter(|(p, q)| p != q)
        .count();
    changed as f64 / (a.width * a.height).max(1) as f64
}

/// Takes pictures of the screen until one shows the test pattern or
/// `until` passes; returns the last one taken and how many were.
fn wait_for_pattern(dir: &Path, until: Instant) -> (Picture, usize) {
    let mut taken = 0;
    loop {
        let pic = screendump(dir, "call", SCREENDUMP_WAIT).unwrap();
        taken += 1;
        if pic.coloured_share() > MIN_COLOURED || Instant::now() >= until {
            return (pic, taken);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A call shown full screen in the peer's window on KMS/DRM, as on a board
/// with a screen and no desktop: SDL picks KMS/DRM by itself (no DISPLAY,
/// no SDL_VIDEODRIVER), the other side's test pattern reaches the screen
/// and moves, and the quality report counts the frames presented.
#[test]
fn call_shows_in_the_window_on_kms_drm() {
    let (Some(_card), Some(dir)) = (need(Device::Drm), need(Device::Screendump)) else {
        return;
    };
    let reg = Registry::start(&[]);
    let registry = reg.arg();
    // Bob has no camera, so no preview of his own: the colour on the screen
    // can only be Alice's picture.
    // Bob opens his window (Mesa's GBM and EGL on an emulated CPU) before
    // he registers, which took longer than testkit's usual wait on the
    // emulated arm64 board: he gets CALL_START for it.
    let (mut bob, _) = start_peer_with(
        "bob",
        &registry,
        &[
            "--auto-accept-anyone",
            "--video",
            "none",
            "--video-out",
            "window",
            "--fullscreen",
            "--report-json",
        ],
    );
    bob.expect_within("registered as bob", CALL_START);
    let said = bob.output();
    let window = said
        .lines()
        .find(|l| l.starts_with("window"))
        .unwrap_or_else(|| panic!("bob said nothing of his window:\n{said}"));
    assert!(window.ends_with(" on KMSDRM"), "{window}");
    // One screen, one DRM master: Alice shows nothing.
    let mut alice = start_call(
        "bob",
        "alice",
        &registry,
        &[
            &["--video-out", "null", "--seconds", CALL_SECONDS][..],
            &CALL_VIDEO[..],
        ]
        .concat(),
    );
    alice.expect_within("media flowing", CALL_START);
    let (first, taken) = wait_for_pattern(&dir, Instant::now() + PATTERN_WAIT);
    let coloured = first.coloured_share();
    assert!(
        coloured > MIN_COLOURED,
        "{taken} pictures of the screen during the call, the last {:.3} coloured; bob:\n{}",
        coloured,
        bob.output()
    );
    let (w, h) = window
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.split_once('x'))
        .unwrap_or_else(|| panic!("no size in {window:?}"));
    assert_eq!(
        (first.width.to_string(), first.height.to_string()),
        (w.to_string(), h.to_string()),
        "the full-screen window is not the screen's size"
    );
    // Moving is the behaviour; how soon is the emulated machine's speed (a
    // busy host once left one second without a new picture), so look again
    // until the motion deadline.
    let motion_deadline = Instant::now() + MOTION_WAIT;
    let changed = loop {
        std::thread::sleep(MOTION_GAP);
        let later = screendump(&dir, "call-later", SCREENDUMP_WAIT).unwrap();
        let changed = changed_share(&first, &later);
        if changed > MIN_CHANGED || Instant::now() >= motion_deadline {
            break changed;
        }
    };
    assert!(
        changed > MIN_CHANGED,
        "{changed:.4} of the screen changed in {MOTION_WAIT:?}: the picture is frozen"
    );
    // Seen: Bob hangs up, and Alice ends normally.
    bob.send_line("hangup");
    assert_eq!(alice.wait_exit(), Some(0), "{}", alice.output());
    bob.expect_within("quality report (call with alice", REPORT_WAIT);
    let json = bob.expect_within("{\"peer\":\"alice\"", REPORT_WAIT);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let shown = report["video_frames_shown"].as_u64().unwrap();
    let displayed = report["video_frames_displayed"]
        .as_u64()
        .unwrap_or_else(|| panic!("no video_frames_displayed with a window: {json}"));
    // The window presented some of the frames shown, never more; what share
    // is the machine's (the emulated VM, drawing with Mesa's software GL,
    // presented 2 to 4 pictures a second, 50 to 80% of a 2 fps call; a
    // board's GPU all of them). `make bench-media` measures it on X11; the
    // line printed below shows it here. The moving picture above showed the
    // window kept presenting.
    assert!(
        displayed > 0 && displayed <= shown,
        "{displayed} of {shown} shown frames reached the screen: {json}"
    );
    // Past the harness's capture, so a passing run shows the figures too.
    let _ = writeln!(
        std::io::stderr(),
        "screen {}x{}: {coloured:.3} coloured, {changed:.3} changed within {MOTION_WAIT:?}; \
         {displayed} of {shown} frames displayed",
        first.width,
        first.height
    );
}
