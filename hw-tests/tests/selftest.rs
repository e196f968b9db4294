//! `peercall selftest` on this machine: whatever devices it has, nothing
//! fails, and where the VM's (or a board's) camera and loopback card are
//! present their rows pass (where they are not, the test says which rows it
//! skipped). The checks themselves live in the selftest, so a
//! board and these tests run the same ones.

use peercall_hw_tests::{need, Device};
use peercall_testkit::{bin, run};

#[test]
fn selftest_passes_on_the_devices_present() {
    let (code, out, err) = run(&bin("peercall"), &["selftest"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.lines().any(|l| l.starts_with("FAIL")), "{out}");
    assert!(
        out.lines().any(|l| l.starts_with("PASS  local call")),
        "{out}"
    );
    if let Some(cam) = need(Device::Camera) {
        let row = format!("PASS  camera {}", cam.display());
        assert!(out.lines().any(|l| l.starts_with(&row)), "{out}");
    }
    if need(Device::SoundLoop).is_some() {
        for part in ["tone", "round trip", "capture clock"] {
            assert!(
                out.lines()
                    .any(|l| l.starts_with("PASS  sound loop") && l.contains(part)),
                "no passing {part} row:\n{out}"
            );
        }
    }
}
