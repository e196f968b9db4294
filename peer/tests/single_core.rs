//! A board with one CPU core (Pi 1, Zero, Zero W) gets a smaller picture by
//! default (README, "Single-core boards"). `taskset -c 0` gives the peer one
//! CPU, which is what it counts (the CPUs it may run on).

use peercall_testkit::{run, Registry, SYNTHETIC_MEDIA};
use std::path::PathBuf;

fn call_nobody_on_one_core(extra: &[&str]) -> String {
    let reg = Registry::start(&[]);
    let peer = env!("CARGO_BIN_EXE_peercall");
    let registry = reg.arg();
    let mut args = vec!["-c", "0", peer, "call", "nobody", "--name", "alice"];
    args.extend(["--registry", &registry, "--listen", "127.0.0.1:0"]);
    args.extend(SYNTHETIC_MEDIA);
    args.extend(extra);
    let (code, out, err) = run(&PathBuf::from("taskset"), &args);
    // nobody is not registered: the call ends there, after the media setup.
    assert_ne!(code, 0, "{out}{err}");
    assert!(out.contains("nobody: not registered"), "{out}{err}");
    out
}

#[test]
fn one_core_asks_for_320x240_at_15_fps() {
    let out = call_nobody_on_one_core(&[]);
    assert!(
        out.contains(
            "one CPU core: asking for 320x240 at 15 fps (--size and --fps choose otherwise)"
        ),
        "{out}"
    );
}

#[test]
fn one_core_keeps_what_the_command_line_chose() {
    let out = call_nobody_on_one_core(&["--size", "640x480"]);
    assert!(
        out.contains("one CPU core: asking for 640x480 at 15 fps"),
        "{out}"
    );
    let out = call_nobody_on_one_core(&["--size", "640x480", "--fps", "30"]);
    assert!(!out.contains("one CPU core"), "{out}");
}
