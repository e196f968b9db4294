//! `peercall selftest` on this machine: whatever devices it has, nothing
//! fails, and where the VM's (or a board's) camera and loopback card are
//! present their rows pass. The checks themselves live in the selftest, so a
//! board and these tests run the same ones.

use peercall_testkit::{bin, run};
use std::path::Path;

#[test]
fn selftest_passes_on_the_devices_present() {
    let (code, out, err) = run(&bin("peercall"), &["selftest"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.lines().any(|l| l.starts_with("FAIL")), "{out}");
    assert!(
        out.lines().any(|l| l.starts_with("PASS  local call")),
        "{out}"
    );
    if Path::new("/dev/video0").exists() {
        assert!(
            out.lines()
                .any(|l| l.starts_with("PASS  camera /dev/video0")),
            "{out}"
        );
    }
    if out.contains("Loopback") {
        for part in ["tone", "round trip", "capture clock"] {
            assert!(
                out.lines()
                    .any(|l| l.starts_with("PASS  sound loop") && l.contains(part)),
                "no passing {part} row:\n{out}"
            );
        }
    }
}
