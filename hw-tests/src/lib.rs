//! peercall's hardware tests live in `tests/`: each needs a real device (a
//! V4L2 camera, an ALSA card). `make hw-test` runs them on a board;
//! `make hw-test-vm` runs them in a VM whose kernel has the vivid camera,
//! the snd-aloop sound card, a v4l2loopback MJPEG camera and a KMS/DRM
//! screen whose pictures the host takes ([`screen`]).
//!
//! A test asks for its devices with [`need`]. Where one is missing, the test
//! does not pass silently: it prints `skipped: TEST: WHY` on the terminal
//! (past the test harness's capture of its output), or, when the machine
//! promised the device in [`EXPECT_VAR`] (the VM does), it fails.

use std::io::Write;
use std::path::PathBuf;

pub mod screen;

/// The variable that lists, by [`Device::name`] separated by spaces or
/// commas, the devices this machine must have: a test whose device is
/// missing then fails instead of being skipped. The VM sets it; a board's
/// CI can too (`PEERCALL_HW_EXPECT=camera make hw-test`).
pub const EXPECT_VAR: &str = "PEERCALL_HW_EXPECT";

/// A device a hardware test needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    /// A V4L2 camera: `PEERCALL_HW_CAMERA`, else /dev/video0.
    Camera,
    /// A camera that gives MJPEG: `PEERCALL_HW_MJPEG_CAMERA` (the VM's
    /// v4l2loopback node, which a test feeds).
    MjpegCamera,
    /// The vivid driver at /dev/video0: its "disconnect" control is how a
    /// test pulls a camera out.
    Vivid,
    /// snd-aloop's card `Loopback`: what is played on one side is captured
    /// on the other.
    SoundLoop,
    /// A KMS/DRM display card with a screen: `PEERCALL_HW_DRM_CARD`, else
    /// /dev/dri/card0 (the VM's bochs-display).
    Drm,
    /// Pictures of that screen as a monitor shows it: the VM's screendumps
    /// ([`screen::SCREEN_DIR_VAR`]).
    Screendump,
}

impl Device {
    /// Every device, for reading [`EXPECT_VAR`].
    pub const ALL: [Device; 6] = [
        Device::Camera,
        Device::MjpegCamera,
        Device::Vivid,
        Device::SoundLoop,
        Device::Drm,
        Device::Screendump,
    ];

    /// Its name in [`EXPECT_VAR`].
    pub fn name(self) -> &'static str {
        match self {
            Device::Camera => "camera",
            Device::MjpegCamera => "mjpeg-camera",
            Device::Vivid => "vivid",
            Device::SoundLoop => "snd-aloop",
            Device::Drm => "drm",
            Device::Screendump => "screendump",
        }
    }

    /// Where to find one, for the skip line.
    fn hint(self) -> &'static str {
        match self {
            Device::Camera => "run on a board with one, or make hw-test-vm",
            Device::MjpegCamera | Device::SoundLoop => "make hw-test-vm provides one",
            Device::Vivid => {
                "unplugging is simulated with vivid's disconnect control; make hw-test-vm runs this"
            }
            Device::Drm => "run on a board whose console has a screen, or make hw-test-vm",
            Device::Screendump => {
                "only the VM can photograph its screen; make hw-test-vm runs this"
            }
        }
    }

    /// Where the device is, or why it is not there.
    pub fn find(self) -> Result<PathBuf, String> {
        let path = match self {
            Device::Camera => std::env::var_os("PEERCALL_HW_CAMERA")
                .map_or_else(|| PathBuf::from("/dev/video0"), PathBuf::from),
            Device::MjpegCamera => match std::env::var_os("PEERCALL_HW_MJPEG_CAMERA") {
                Some(p) => PathBuf::from(p),
                None => return Err("PEERCALL_HW_MJPEG_CAMERA is not set".into()),
            },
            Device::Vivid => {
                let path = PathBuf::from("/dev/video0");
                if path.exists() {
                    let name = std::fs::read_to_string("/sys/class/video4linux/video0/name")
                        .unwrap_or_default();
                    if !name.starts_with("vivid") {
                        return Err(format!(
                            "{} is {:?}, not vivid",
                            path.display(),
                            name.trim()
                        ));
                    }
                }
                path
            }
            Device::SoundLoop => PathBuf::from("/proc/asound/Loopback"),
            Device::Drm => std::env::var_os("PEERCALL_HW_DRM_CARD")
                .map_or_else(|| PathBuf::from("/dev/dri/card0"), PathBuf::from),
            Device::Screendump => match std::env::var_os(screen::SCREEN_DIR_VAR) {
                Some(p) => PathBuf::from(p),
                None => return Err(format!("{} is not set", screen::SCREEN_DIR_VAR)),
            },
        };
        if path.exists() {
            Ok(path)
        } else {
            Err(format!("{} does not exist", path.display()))
        }
    }
}

/// The devices [`EXPECT_VAR`] lists. Panics on a name it does not know: a
/// misspelt device would otherwise be expected by nobody.
pub fn expected() -> Vec<Device> {
    let list = std::env::var(EXPECT_VAR).unwrap_or_default();
    list.split([' ', ','])
        .filter(|w| !w.is_empty())
        .map(|w| {
            Device::ALL
                .into_iter()
                .find(|d| d.name() == w)
                .unwrap_or_else(|| {
                    let names: Vec<&str> = Device::ALL.iter().map(|d| d.name()).collect();
                    panic!("{EXPECT_VAR}: unknown device {w:?} (known: {names:?})")
                })
        })
        .collect()
}

/// The device's path when it is there. When it is not: panics if the machine
/// promised it ([`EXPECT_VAR`]), else reports the test skipped and returns
/// `None`, and the test returns.
pub fn need(device: Device) -> Option<PathBuf> {
    match device.find() {
        Ok(path) => Some(path),
        Err(why) if expected().contains(&device) => panic!(
            "{EXPECT_VAR} promises {} but it is missing: {why}",
            device.name()
        ),
        Err(why) => {
            skipped(&format!("no {} ({why}); {}", device.name(), device.hint()));
            None
        }
    }
}

/// Says on the terminal that (part of) the current test did not run, and why.
/// Written to stderr directly: the test harness captures `eprintln!` and
/// shows it only for failing tests, which would make a skip a silent pass.
/// The line starts `skipped:`, which `make hw-test-vm` looks for.
pub fn skipped(why: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a hardware test");
    let _ = writeln!(std::io::stderr(), "skipped: {test}: {why}");
}
