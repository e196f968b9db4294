//! Windows on a KMS/DRM screen, the display of a board with no desktop: what
//! SDL2's KMSDRM backend presents must be what a monitor shows. The VM's
//! screen (qemu's bochs-display) is photographed by the host through qemu's
//! screendump (hw-tests/vm/screendump.py), so the check sees the scanned-out
//! picture, not what the program believes it drew.

use peercall_hw_tests::screen::{screendump, Picture};
use peercall_hw_tests::{need, Device};
use std::time::Duration;

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
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= CHANNEL_TOLERANCE)
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
                .fill_rect(sdl2::rect::Rect::new(x0 as i32, 0, (x1 - x0) as u32, h as u32))
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
