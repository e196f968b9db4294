//! `make demo` is not silent while it compiles: it says a build is coming and
//! how long the first one takes, and lets cargo show its progress (no `-q`).
//! Checked on the recipe make would run (`make -n`), without building.

use std::path::Path;
use std::process::Command;

#[test]
fn make_demo_announces_the_build_and_lets_cargo_show_progress() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = match Command::new("make")
        .args(["-n", "demo"])
        .current_dir(&root)
        .output()
    {
        Ok(out) => out,
        Err(e) => panic!("make is needed to check the Makefile ({e}); apt-get install make"),
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recipe = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = recipe.lines().collect();
    let said = lines
        .iter()
        .position(|l| l.contains("building peercall (the first build takes a minute or two)"))
        .unwrap_or_else(|| panic!("no build notice in:\n{recipe}"));
    let build = lines
        .iter()
        .position(|l| l.starts_with("cargo build"))
        .unwrap_or_else(|| panic!("no cargo build in:\n{recipe}"));
    assert!(said < build, "the notice comes first:\n{recipe}");
    let words: Vec<&str> = lines[build].split_whitespace().collect();
    assert!(
        !words.contains(&"-q") && !words.contains(&"--quiet"),
        "cargo must show its progress: {}",
        lines[build]
    );
    assert!(
        lines.iter().any(|l| l.contains("peercall demo")),
        "{recipe}"
    );
}
