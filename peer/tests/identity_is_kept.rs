//! `peercall id`: the key pair is made once, kept with mode 0600, and its
//! public key printed the same every time; an unusable file is one line and
//! exit 13.

use peercall::identity::PublicKey;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn peercall() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_peercall"))
}

fn id(path: &Path, env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(peercall());
    cmd.arg("id");
    if !path.as_os_str().is_empty() {
        cmd.arg("--identity").arg(path);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.env_remove("STATE_DIRECTORY")
        .output()
        .expect("running peercall id")
}

fn temp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("peercall-id-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn the_public_key_is_one_line_the_same_every_time_and_the_file_is_0600() {
    let dir = temp("same");
    let path = dir.join("keys/identity");
    let first = id(&path, &[]);
    assert!(first.status.success(), "{first:?}");
    let key = String::from_utf8(first.stdout).unwrap();
    assert_eq!(key.lines().count(), 1, "{key:?}");
    let parsed: PublicKey = key.trim().parse().expect("the printed key parses");
    let again = id(&path, &[]);
    assert_eq!(String::from_utf8(again.stdout).unwrap(), key);
    assert_eq!(parsed.to_string(), key.trim());
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_default_file_is_in_the_state_directory() {
    let dir = temp("default");
    let out = id(Path::new(""), &[("XDG_STATE_HOME", &dir)]);
    assert!(out.status.success(), "{out:?}");
    let file = dir.join("peercall/identity");
    assert!(file.exists());
    // systemd's StateDirectory= wins over XDG.
    let unit = dir.join("unit");
    std::fs::create_dir_all(&unit).unwrap();
    let out2 = Command::new(peercall())
        .arg("id")
        .env("XDG_STATE_HOME", &dir)
        .env("STATE_DIRECTORY", &unit)
        .output()
        .unwrap();
    assert!(out2.status.success());
    assert!(unit.join("identity").exists());
    assert_ne!(out.stdout, out2.stdout);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_file_others_can_read_is_refused_with_exit_13_and_one_line() {
    let dir = temp("open");
    let path = dir.join("identity");
    assert!(id(&path, &[]).status.success());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = id(&path, &[]);
    assert_eq!(out.status.code(), Some(13));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("chmod 600"), "{err}");
    assert!(out.stdout.is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}
