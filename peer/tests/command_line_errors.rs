//! Bad input from the user: one clear line on stderr, a documented exit code, no backtrace.

use peercall_testkit::{identity_path, refused_port, run, Registry, SYNTHETIC_MEDIA};
use std::path::PathBuf;

fn peercall() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_peercall"))
}

#[test]
fn bad_command_lines_exit_64_with_one_line() {
    for args in [
        &[][..],
        &["run"],
        &["run", "--name", "alice"],
        &["run", "--name", "bad name", "--registry", "127.0.0.1:4700"],
        &[
            "run",
            "--name",
            "a",
            "--registry",
            "127.0.0.1:4700",
            "--listen",
            "x",
        ],
        &["lookup", "--registry", "127.0.0.1:4700"],
        &["list", "--registry", "not a host"],
        &["call", "bob"],
        &["list", "--frobnicate"],
    ] {
        let (code, out, err) = run(&peercall(), args);
        assert_eq!(code, 64, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("peercall: "), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn unreachable_registry_exits_2_with_one_line() {
    let addr = format!("127.0.0.1:{}", refused_port());
    for args in [
        &["list", "--registry", &addr][..],
        &["lookup", "bob", "--registry", &addr],
        &["list", "--registry", "no-such-host.invalid:4700"],
    ] {
        let (code, out, err) = run(&peercall(), args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty());
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("cannot reach the registry"), "{err}");
    }
}

#[test]
fn call_port_in_use_exits_5_with_one_line() {
    let reg = Registry::start(&[]);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    // An identity that exists, so that the one line is the error, not the
    // notice of a newly created key.
    let identity = identity_path("a").display().to_string();
    let (code, _, err) = run(
        &peercall(),
        &[
            "run",
            "--name",
            "a",
            "--registry",
            &reg.arg(),
            "--listen",
            &listen,
            "--identity",
            &identity,
        ],
    );
    assert_eq!(code, 5, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("in use"), "{err}");
}

#[test]
fn a_command_help_is_its_own_and_the_whole_text_stays_for_help() {
    let (code, whole, err) = run(&peercall(), &["--help"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(run(&peercall(), &["help"]).1, whole);
    for cmd in [
        "run", "call", "list", "lookup", "devices", "selftest", "demo",
    ] {
        let (code, short, err) = run(&peercall(), &[cmd, "--help"]);
        assert_eq!(code, 0, "{cmd}: {err}");
        assert_eq!(run(&peercall(), &[cmd, "-h"]).1, short, "{cmd}");
        assert!(short.contains(&format!("peercall {cmd}")), "{short}");
        assert!(short.contains("Exit codes:"), "{short}");
        assert!(
            short.lines().count() < whole.lines().count(),
            "{cmd}: {short}"
        );
    }
    let (_, list, _) = run(&peercall(), &["list", "--help"]);
    assert!(list.lines().count() <= 12, "{list}");
    assert!(!list.contains("--video"), "{list}");
}

/// `peercall run` as `a` on a free loopback port with the synthetic media,
/// then `extra`, run to its end: (exit code, stdout, stderr).
fn run_peer(registry: &Registry, extra: &[&str]) -> (i32, String, String) {
    let reg = registry.arg();
    let identity = identity_path("a").display().to_string();
    let mut args = vec!["run", "--name", "a", "--registry", &reg];
    args.extend(["--identity", &identity]);
    args.extend(["--listen", "127.0.0.1:0"]);
    args.extend(SYNTHETIC_MEDIA);
    args.extend(extra);
    run(&peercall(), &args)
}

#[test]
fn an_sdp_file_that_cannot_be_written_exits_64_at_start_up() {
    let reg = Registry::start(&[]);
    let (code, out, err) = run_peer(
        &reg,
        &[
            "--forward",
            "127.0.0.1:5004",
            "--sdp",
            "/no/such/dir/call.sdp",
        ],
    );
    assert_eq!(code, 64, "{out}{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--sdp /no/such/dir/call.sdp"), "{err}");
    assert!(err.contains("directory"), "{err}");
}

#[test]
fn a_recording_path_that_cannot_be_written_exits_64_at_start_up() {
    let reg = Registry::start(&[]);
    for (flag, value, says) in [
        (
            "--video-out",
            "file:/no/such/dir/call.mjpeg",
            "mkdir -p /no/such/dir",
        ),
        ("--audio-out", "wav:/no/such/dir/call.wav", "does not exist"),
        // Not writable even by root.
        ("--audio-out", "wav:/proc/call.wav", "cannot write in /proc"),
        ("--video-out", "file:/tmp", "names a directory"),
    ] {
        let (code, out, err) = run_peer(&reg, &[flag, value]);
        assert_eq!(code, 64, "{flag} {value}: {out}{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(&format!("{flag} {value}:")), "{err}");
        assert!(err.contains(says), "{err}");
        assert!(!out.contains("registered"), "{out}");
    }
}

#[test]
fn a_sound_card_that_is_not_there_is_one_line_pointing_at_peercall_devices() {
    let reg = Registry::start(&[]);
    for flag in ["--audio-in", "--audio-out"] {
        let (code, out, err) = run_peer(&reg, &[flag, "alsa:hw:9,0"]);
        assert_eq!(code, 64, "{flag}: {out}{err}");
        assert!(out.is_empty(), "nothing said before the error: {out}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(&format!("{flag} alsa:hw:9,0: there is no sound card 9")),
            "{err}"
        );
        assert!(err.contains("`peercall devices`"), "{err}");
    }
}
