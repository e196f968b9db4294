//! `peercall demo`: the whole product on one machine, as a readable
//! transcript. It starts a registry and two peers (alice and bob) as real
//! processes on loopback, then drives them through registration, list,
//! lookup, a call (INVITE, ringing, accept with the negotiated ports), some
//! seconds of two-way video and audio, hang-up with both quality reports,
//! unregistration and the registry's orderly shutdown. Every line is tagged
//! with who printed it.

use crate::exit;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

/// How long one step may take before the demo gives up.
const STEP_TIMEOUT: Duration = Duration::from_secs(15);

/// A child process whose output is echoed with a tag.
struct Actor {
    name: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Drop for Actor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lines from every actor, kept so a step can find a line that arrived
/// while it waited for another.
struct Lines {
    rx: Receiver<(&'static str, String)>,
    seen: Vec<(&'static str, String)>,
    /// Where the current step's lines start.
    mark: usize,
}

impl Lines {
    /// Starts a step: only lines from now on count.
    fn step(&mut self) {
        while let Ok(l) = self.rx.try_recv() {
            self.seen.push(l);
        }
        self.mark = self.seen.len();
    }
}

fn echo(
    name: &'static str,
    stream: impl Read + Send + 'static,
    tx: Sender<(&'static str, String)>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            println!("{:<10} {line}", format!("[{name}]"));
            let _ = std::io::stdout().flush();
            if tx.send((name, line)).is_err() {
                break;
            }
        }
    });
}

fn start(
    name: &'static str,
    program: &Path,
    args: &[&str],
    tx: &Sender<(&'static str, String)>,
) -> Result<Actor, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    if let Some(out) = child.stdout.take() {
        echo(name, out, tx.clone());
    }
    if let Some(err) = child.stderr.take() {
        echo(name, err, tx.clone());
    }
    let stdin = child.stdin.take();
    Ok(Actor { name, child, stdin })
}

fn say(text: &str) {
    println!("\n== {text}");
}

/// Waits for a line from `who` containing `needle` since the step began.
fn wait_for(lines: &mut Lines, who: &str, needle: &str) -> Result<String, String> {
    let deadline = Instant::now() + STEP_TIMEOUT;
    let mut checked = lines.mark;
    loop {
        if let Some((_, line)) = lines.seen[checked..]
            .iter()
            .find(|(name, line)| *name == who && line.contains(needle))
        {
            return Ok(line.clone());
        }
        checked = lines.seen.len();
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.rx.recv_timeout(left) {
            Ok(l) => lines.seen.push(l),
            Err(_) => {
                let tail: Vec<String> = lines.seen[lines.mark..]
                    .iter()
                    .map(|(n, l)| format!("{n}: {l}"))
                    .collect();
                return Err(format!(
                    "{who} did not print {needle:?} in time; since the step: {tail:?}"
                ));
            }
        }
    }
}

fn type_line(actor: &mut Actor, line: &str) -> Result<(), String> {
    println!("{:<10} > {line}", format!("[{}]", actor.name));
    let stdin = actor
        .stdin
        .as_mut()
        .ok_or_else(|| format!("{} has no stdin", actor.name))?;
    writeln!(stdin, "{line}").map_err(|e| format!("cannot type to {}: {e}", actor.name))
}

/// The registry binary beside this one.
fn registry_binary() -> Result<PathBuf, String> {
    let me = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let path = me.with_file_name("peercall-registry");
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing; build it with cargo build --release -p peercall-registry (make demo does)",
            path.display()
        ))
    }
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
    let (tx, rx) = mpsc::channel();
    let mut lines = Lines {
        rx,
        seen: Vec::new(),
        mark: 0,
    };

    say("a registry on a free loopback port");
    let mut registry = start("registry", &registry_bin, &["--listen", "127.0.0.1:0"], &tx)?;
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
            ],
            &tx,
        )?;
        wait_for(&mut lines, name, "registered as")?;
        peers.push(peer);
    }
    let (alice, bob) = peers.split_at_mut(1);
    let (alice, bob) = (&mut alice[0], &mut bob[0]);

    say("alice lists the registry and looks bob up");
    lines.step();
    type_line(alice, "list")?;
    wait_for(&mut lines, "alice", "bob 127.0.0.1:")?;
    lines.step();
    type_line(alice, "lookup bob")?;
    wait_for(&mut lines, "alice", "bob 127.0.0.1:")?;

    say("alice calls bob; bob accepts");
    lines.step();
    type_line(alice, "call bob")?;
    wait_for(&mut lines, "bob", "incoming call from alice")?;
    type_line(bob, "accept")?;
    wait_for(&mut lines, "alice", "media flowing")?;
    wait_for(&mut lines, "bob", "media flowing")?;

    say(&format!(
        "{} s of two-way video (640x480 test pattern, MJPEG) and audio (440 Hz tone, Opus)",
        seconds.as_secs_f64()
    ));
    std::thread::sleep(seconds);
    lines.step();
    type_line(alice, "status")?;
    wait_for(&mut lines, "alice", "call with bob")?;

    say("alice hangs up; both print their quality report");
    lines.step();
    type_line(alice, "hangup")?;
    wait_for(&mut lines, "alice", "ended: hung up")?;
    wait_for(&mut lines, "bob", "ended: the other side hung up")?;

    say("both unregister");
    lines.step();
    for p in [&mut *alice, &mut *bob] {
        type_line(p, "quit")?;
        wait_for(&mut lines, p.name, "goodbye from registry")?;
    }
    wait_for(&mut lines, "registry", "0 peers registered")?;

    say("the registry stops (SIGTERM)");
    lines.step();
    let pid = registry.child.id().to_string();
    // The shell's built-in kill sends SIGTERM without depending on procps.
    Command::new("sh")
        .args(["-c", &format!("kill -TERM {pid}")])
        .status()
        .map_err(|e| format!("cannot stop the registry: {e}"))?;
    wait_for(&mut lines, "registry", "shutting down")?;
    let _ = registry.child.wait();
    for p in [alice, bob] {
        let _ = p.child.wait();
    }
    say("demo complete");
    Ok(())
}
