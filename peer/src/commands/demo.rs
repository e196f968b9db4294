//! `peercall demo`: the whole product on one machine, as a readable
//! transcript. It starts a registry and two peers (alice and bob) as real
//! processes on loopback, then drives them through registration, list,
//! lookup, a call (INVITE, ringing, accept with the negotiated ports), some
//! seconds of two-way video and audio, hang-up with both quality reports,
//! unregistration and the registry's orderly shutdown. Every line is tagged
//! with who printed it.

use crate::exit;
use peercall_testkit::process::{Line, NotSeen, Process, Transcript};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long one step may take before the demo gives up.
const STEP_TIMEOUT: Duration = Duration::from_secs(15);

/// Prints a line of an actor's output with its tag, as it arrives.
fn echo(line: &Line) {
    println!("{:<10} {}", format!("[{}]", line.from), line.text);
    let _ = std::io::stdout().flush();
}

fn start(name: &str, program: &Path, args: &[&str], lines: &Transcript) -> Result<Process, String> {
    Process::start(name, program, args, lines)
        .map_err(|e| format!("cannot start {}: {e}", program.display()))
}

fn say(text: &str) {
    println!("\n== {text}");
}

/// Waits for a line from `who` containing `needle` since the step began.
fn wait_for(lines: &mut Transcript, who: &str, needle: &str) -> Result<String, String> {
    lines
        .wait_for(Some(who), needle, STEP_TIMEOUT)
        .map_err(|e: NotSeen| {
            let tail: Vec<String> = e
                .since_mark
                .iter()
                .map(|l| format!("{}: {}", l.from, l.text))
                .collect();
            let when = if e.ended { "before exiting" } else { "in time" };
            format!("{who} did not print {needle:?} {when}; since the step: {tail:?}")
        })
}

fn type_line(actor: &mut Process, line: &str) -> Result<(), String> {
    println!("{:<10} > {line}", format!("[{}]", actor.name()));
    actor
        .send_line(line)
        .map_err(|e| format!("cannot type to {}: {e}", actor.name()))
}

/// The registry binary: beside this one (a build's target directory, or
/// /usr/bin for the packages), else the first on PATH (armhf's package keeps
/// this peer in /usr/lib/peercall/, packaging/README.md "armhf").
fn registry_binary() -> Result<PathBuf, String> {
    const NAME: &str = "peercall-registry";
    let me = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let beside = me.with_file_name(NAME);
    if beside.exists() {
        return Ok(beside);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let on_path = std::env::split_paths(&path)
        .map(|d| d.join(NAME))
        .find(|p| p.is_file());
    on_path.ok_or_else(|| {
        format!(
            "{} is missing, and no {NAME} is on PATH; build it with cargo build --release -p {NAME} (make demo does), or install the peercall-registry package",
            beside.display()
        )
    })
}

/// Runs the demo with `seconds` of media; returns the exit code.
pub fn run(seconds: Duration) -> u8 {
    match demo(seconds) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("peercall demo: {e}");
            exit::LOCAL
        }
    }
}

fn demo(seconds: Duration) -> Result<(), String> {
    let registry_bin = registry_binary()?;
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut lines = Transcript::with_echo(echo);

    say("a registry on a free loopback port");
    let mut registry = start(
        "registry",
        &registry_bin,
        &["--listen", "127.0.0.1:0"],
        &lines,
    )?;
    let first = wait_for(&mut lines, "registry", "listening on ")?;
    let addr = first.trim_start_matches("listening on ").to_string();

    let mut peers = Vec::new();
    for name in ["alice", "bob"] {
        say(&format!("peer {name} registers"));
        let peer = start(
            name,
            &me,
            &[
                "run",
                "--name",
                name,
                "--registry",
                &addr,
                "--listen",
                "127.0.0.1:0",
                // The synthetic camera and microphone, even on a board with real ones.
                "--video",
                "test",
                "--audio-in",
                "tone",
                // Scripted from start to end: no window even on a desktop.
                "--video-out",
                "null",
            ],
            &lines,
        )?;
        wait_for(&mut lines, name, "registered as")?;
        peers.push(peer);
    }
    let (alice, bob) = peers.split_at_mut(1);
    let (alice, bob) = (&mut alice[0], &mut bob[0]);

    say("alice lists the registry and looks bob up");
    lines.mark();
    type_line(alice, "list")?;
    wait_for(&mut lines, "alice", "bob 127.0.0.1:")?;
    lines.mark();
    type_line(alice, "lookup bob")?;
    wait_for(&mut lines, "alice", "bob 127.0.0.1:")?;

    say("alice calls bob over an encrypted handshake; bob trusts alice's key and accepts");
    lines.mark();
    type_line(alice, "call bob")?;
    wait_for(&mut lines, "bob", "incoming call from alice")?;
    // A first call: alice's key is in nobody's allow file yet.
    wait_for(&mut lines, "bob", "unverified caller")?;
    type_line(bob, "trust")?;
    wait_for(&mut lines, "bob", "trusted alice")?;
    type_line(bob, "accept")?;
    wait_for(&mut lines, "alice", "media flowing")?;
    wait_for(&mut lines, "bob", "media flowing")?;

    say(&format!(
        "{} s of two-way video (640x480 test pattern, MJPEG) and audio (440 Hz tone, Opus)",
        seconds.as_secs_f64()
    ));
    std::thread::sleep(seconds);
    lines.mark();
    type_line(alice, "status")?;
    wait_for(&mut lines, "alice", "call with bob")?;

    say("alice hangs up; both print their quality report");
    lines.mark();
    type_line(alice, "hangup")?;
    wait_for(&mut lines, "alice", "ended: hung up")?;
    wait_for(&mut lines, "bob", "ended: the other side hung up")?;

    say("both unregister");
    lines.mark();
    for p in [&mut *alice, &mut *bob] {
        type_line(p, "quit")?;
        wait_for(&mut lines, p.name(), "goodbye from registry")?;
    }
    wait_for(&mut lines, "registry", "0 peers registered")?;

    say("the registry stops (SIGTERM)");
    lines.mark();
    registry
        .signal("TERM")
        .map_err(|e| format!("cannot stop the registry: {e}"))?;
    wait_for(&mut lines, "registry", "shutting down")?;
    let _ = registry.wait();
    for p in [alice, bob] {
        let _ = p.wait();
    }
    say("demo complete");
    Ok(())
}
