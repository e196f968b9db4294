//! A camera unplugged mid-call: the video ends with a line saying so, and
//! the call and its sound go on to the end. The unplug is vivid's
//! "disconnect" control, which makes the driver behave as a USB camera
//! pulled out (its nodes go away), so this runs last in the VM and only
//! against vivid.

use peercall_hw_tests::{need, Device};
use peercall_testkit::{start_answering_peer, start_call, Proc, Registry};
use std::path::PathBuf;
use std::time::Duration;

/// vivid's "disconnect" button control (VIVID_CID_DISCONNECT).
const VIVID_DISCONNECT: u32 = 0x00f0_f041;
/// VIDIOC_S_CTRL: _IOWR('V', 28, struct v4l2_control).
const VIDIOC_S_CTRL: u32 = 0xC008_561C;

#[test]
fn unplugged_camera_ends_video_and_the_call_goes_on() {
    if need(Device::Vivid).is_none() {
        return;
    }
    // The presser: python, started first (it takes seconds to start in an
    // emulated VM), presses vivid's button when told on its stdin and holds
    // the node open a while, since vivid reconnects once the presser lets go.
    let press = format!(
        "import fcntl, os, struct, sys, time\nfd = os.open('/dev/video0', os.O_RDWR)\nprint('ready', flush=True)\nsys.stdin.readline()\nfcntl.ioctl(fd, {VIDIOC_S_CTRL}, struct.pack('Ii', {VIVID_DISCONNECT}, 0))\ntime.sleep(5)"
    );
    let mut presser = Proc::start("presser", &PathBuf::from("python3"), &["-c", &press]);
    presser.expect_within("ready", Duration::from_secs(60));
    let reg = Registry::start(&[]);
    let registry = reg.arg();
    let mut bob = start_answering_peer(
        "bob",
        &registry,
        &[
            "--video",
            "none",
            "--audio-in",
            "tone",
            "--audio-out",
            "null",
        ],
    );
    let mut alice = start_call(
        "bob",
        "alice",
        &registry,
        &[
            "--video",
            "v4l2:/dev/video0",
            "--audio-in",
            "tone",
            "--seconds",
            "12",
        ],
    );
    alice.expect("camera /dev/video0: ");
    alice.expect("media flowing");
    std::thread::sleep(Duration::from_secs(2));
    presser.send_line("press");
    alice.expect_within("camera /dev/video0 stopped", Duration::from_secs(10));
    // The call still runs its 12 s, and hangs up normally.
    let report = alice.expect_within("  audio:", Duration::from_secs(30));
    assert_eq!(alice.wait_exit(), Some(0), "{}", alice.output());
    assert!(report.contains("sent"), "{report}");
    let ended = bob.expect("call with alice ended");
    assert!(ended.contains("the other side hung up after"), "{ended}");
    let secs: f64 = ended
        .rsplit("after ")
        .next()
        .and_then(|t| t.trim_end_matches(" s").parse().ok())
        .unwrap_or(0.0);
    assert!(secs >= 11.5, "{ended}");
}
