//! Child processes whose output is watched line by line: what the
//! integration tests, the hardware tests and `peercall demo` share.
//!
//! ```text
//!  Process (stdin pipe, killed on drop)
//!    stdout ─┐  one reader thread per stream
//!    stderr ─┴─> Transcript (every line, in arrival order; optional echo)
//!                  └─ wait_for / next_with: wait, with a deadline, for a line
//! ```
//!
//! Nothing here panics on a timeout or an exited process: a wait returns
//! [`NotSeen`], so a test can panic with its context and the demo can print
//! a clear error and exit non-zero.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Which of a process's output streams a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One line of a process's output, without its line ending.
#[derive(Clone, Debug)]
pub struct Line {
    /// The name the process was started under.
    pub from: Arc<str>,
    /// The stream it came from.
    pub stream: Stream,
    /// The text.
    pub text: String,
}

impl fmt::Display for Line {
    /// The text, marked when it came from stderr: a failing test's dump of
    /// the output then tells diagnostics from results.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.stream {
            Stream::Stdout => f.write_str(&self.text),
            Stream::Stderr => write!(f, "stderr: {}", self.text),
        }
    }
}

/// Called by the reader threads with each line as it arrives, so an echo is
/// not held back until somebody waits.
type Echo = Box<dyn Fn(&Line) + Send + Sync>;

#[derive(Default)]
struct State {
    lines: Vec<Line>,
    /// Output streams still open, per process name.
    open: HashMap<Arc<str>, usize>,
}

impl State {
    /// Whether no line from `from` (any process when `None`) can come any more.
    fn ended(&self, from: Option<&str>) -> bool {
        match from {
            Some(name) => self.open.get(name).is_none_or(|&n| n == 0),
            None => self.open.values().all(|&n| n == 0),
        }
    }
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    echo: Option<Echo>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A reader thread cannot panic while holding the lock, but if one
        // did, the lines already pushed are still good.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The output lines of one or more processes, in the order they arrived,
/// and a mark: waits look at lines from the mark on.
pub struct Transcript {
    shared: Arc<Shared>,
    mark: usize,
}

/// A wait that ended without the line: the deadline passed, or the
/// process(es) closed their output first.
#[derive(Debug)]
pub struct NotSeen {
    /// Whose line was awaited (`None`: anyone's).
    pub from: Option<String>,
    /// The text it should have contained.
    pub needle: String,
    /// How long the wait was allowed.
    pub within: Duration,
    /// True when the output closed before the deadline.
    pub ended: bool,
    /// The lines from the mark on, for the error message.
    pub since_mark: Vec<Line>,
}

impl fmt::Display for NotSeen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = self.from.as_deref().unwrap_or("no process");
        let why = if self.ended {
            "before its output ended".to_owned()
        } else {
            format!("within {:?}", self.within)
        };
        write!(
            f,
            "{who} printed no line containing {:?} {why}",
            self.needle
        )
    }
}

impl std::error::Error for NotSeen {}

impl Default for Transcript {
    fn default() -> Self {
        Self::new()
    }
}

impl Transcript {
    /// An empty transcript that only records.
    pub fn new() -> Transcript {
        Self::build(None)
    }

    /// An empty transcript that also hands every line to `echo` as it
    /// arrives (the demo prints them with their speaker's tag).
    pub fn with_echo(echo: impl Fn(&Line) + Send + Sync + 'static) -> Transcript {
        Self::build(Some(Box::new(echo)))
    }

    fn build(echo: Option<Echo>) -> Transcript {
        Transcript {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                changed: Condvar::new(),
                echo,
            }),
            mark: 0,
        }
    }

    /// Moves the mark to the end: later waits see only lines that arrive
    /// from now on.
    pub fn mark(&mut self) {
        self.mark = self.shared.lock().lines.len();
    }

    /// Waits up to `within` for a line from `from` (anyone when `None`)
    /// containing `needle`, at or after the mark, and returns its text. The
    /// mark stays, so waits for lines of different processes can be made in
    /// any order.
    pub fn wait_for(
        &mut self,
        from: Option<&str>,
        needle: &str,
        within: Duration,
    ) -> Result<String, NotSeen> {
        self.find(from, needle, within).map(|(_, text)| text)
    }

    /// As [`Transcript::wait_for`], then moves the mark past the line found:
    /// the next wait starts after it, as when reading a stream.
    pub fn next_with(
        &mut self,
        from: Option<&str>,
        needle: &str,
        within: Duration,
    ) -> Result<String, NotSeen> {
        let (at, text) = self.find(from, needle, within)?;
        self.mark = at + 1;
        Ok(text)
    }

    fn find(
        &self,
        from: Option<&str>,
        needle: &str,
        within: Duration,
    ) -> Result<(usize, String), NotSeen> {
        let deadline = Instant::now() + within;
        let mut state = self.shared.lock();
        let mut checked = self.mark;
        loop {
            let found = state.lines[checked..]
                .iter()
                .position(|l| from.is_none_or(|name| *l.from == *name) && l.text.contains(needle));
            if let Some(i) = found {
                return Ok((checked + i, state.lines[checked + i].text.clone()));
            }
            checked = state.lines.len();
            let ended = state.ended(from);
            let left = deadline.saturating_duration_since(Instant::now());
            if ended || left.is_zero() {
                return Err(NotSeen {
                    from: from.map(str::to_owned),
                    needle: needle.to_owned(),
                    within,
                    ended,
                    since_mark: state.lines[self.mark..].to_vec(),
                });
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Every line so far, one per line of text, stderr lines marked.
    pub fn output(&self) -> String {
        let state = self.shared.lock();
        let lines: Vec<String> = state.lines.iter().map(Line::to_string).collect();
        lines.join("\n")
    }

    /// Starts a thread that adds `pipe`'s lines to the transcript under `from`.
    fn read(&self, from: Arc<str>, stream: Stream, pipe: impl Read + Send + 'static) {
        let shared = self.shared.clone();
        *shared.lock().open.entry(from.clone()).or_insert(0) += 1;
        std::thread::spawn(move || {
            let mut pipe = BufReader::new(pipe);
            let mut buf = Vec::new();
            // Bytes, not `lines()`: one line that is not UTF-8 must not stop
            // the reading, or the child would block on a full pipe.
            while matches!(pipe.read_until(b'\n', &mut buf), Ok(n) if n > 0) {
                let end = buf.strip_suffix(b"\n").unwrap_or(&buf);
                let end = end.strip_suffix(b"\r").unwrap_or(end);
                let line = Line {
                    from: from.clone(),
                    stream,
                    text: String::from_utf8_lossy(end).into_owned(),
                };
                buf.clear();
                if let Some(echo) = &shared.echo {
                    echo(&line);
                }
                shared.lock().lines.push(line);
                shared.changed.notify_all();
            }
            if let Some(n) = shared.lock().open.get_mut(&from) {
                *n = n.saturating_sub(1);
            }
            shared.changed.notify_all();
        });
    }
}

/// A running child process with a pipe to its stdin; its stdout and stderr
/// go to a [`Transcript`]. It is killed when the handle drops, so an early
/// return or a failing test leaves no process behind.
pub struct Process {
    name: Arc<str>,
    child: Child,
    stdin: Option<ChildStdin>,
    /// The process's own state directory (its `XDG_STATE_HOME`), removed
    /// when it is dropped; `None` when the caller chose one.
    state_home: Option<PathBuf>,
}

/// A fresh, empty directory under the system's temporary directory, named
/// for `label`, this test process and a counter: what every temporary
/// directory of the testkit (a process's state, a registry's state, a
/// test's keys) is made with. Left over from an earlier run whose pid was
/// the same, it is emptied first.
pub fn fresh_temp_dir(label: &str) -> io::Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("peercall-{label}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

impl Process {
    /// Starts `program` with `args` under `name`, its output lines going to
    /// `transcript`.
    pub fn start(
        name: &str,
        program: &Path,
        args: &[&str],
        transcript: &Transcript,
    ) -> io::Result<Process> {
        Self::start_with_env(name, program, args, &[], transcript)
    }

    /// As [`Process::start`], with changes to the environment it inherits,
    /// applied in order: `(NAME, Some(value))` sets NAME, `(NAME, None)`
    /// removes it.
    pub fn start_with_env(
        name: &str,
        program: &Path,
        args: &[&str],
        env: &[(&str, Option<&str>)],
        transcript: &Transcript,
    ) -> io::Result<Process> {
        let mut cmd = Command::new(program);
        let chosen = env
            .iter()
            .any(|(k, _)| *k == "XDG_STATE_HOME" || *k == "STATE_DIRECTORY");
        let state_home = if chosen {
            None
        } else {
            // A test's peers must neither share a key nor touch the user's
            // own: each process gets a state directory of its own unless
            // the caller chose one.
            let dir = fresh_temp_dir("state")?;
            cmd.env("XDG_STATE_HOME", &dir)
                .env_remove("STATE_DIRECTORY");
            Some(dir)
        };
        for (key, value) in env {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        let mut child = cmd
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let name: Arc<str> = name.into();
        if let Some(out) = child.stdout.take() {
            transcript.read(name.clone(), Stream::Stdout, out);
        }
        if let Some(err) = child.stderr.take() {
            transcript.read(name.clone(), Stream::Stderr, err);
        }
        let stdin = child.stdin.take();
        Ok(Process {
            name,
            child,
            stdin,
            state_home,
        })
    }

    /// The name it was started under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes `line` and a newline to its stdin.
    pub fn send_line(&mut self, line: &str) -> io::Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::BrokenPipe, "stdin is closed"))?;
        writeln!(stdin, "{line}")?;
        stdin.flush()
    }

    /// Closes its stdin (end of file).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Sends a signal by name (`INT`, `TERM`, `KILL`, `STOP`, `CONT`).
    pub fn signal(&self, sig: &str) -> io::Result<()> {
        // The shell's built-in kill: no dependency on procps being installed.
        let status = Command::new("sh")
            .args(["-c", &format!("kill -{sig} {}", self.child.id())])
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "kill -{sig} {} failed ({status})",
                self.child.id()
            )))
        }
    }

    /// Waits up to `within` for it to exit: its status, or `None` while it
    /// still runs.
    pub fn wait_within(&mut self, within: Duration) -> io::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for it to exit, however long that takes.
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        self.child.wait()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = self.state_home.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(name: &str, script: &str, t: &Transcript) -> Process {
        Process::start(name, Path::new("sh"), &["-c", script], t).unwrap()
    }

    #[test]
    fn lines_of_both_streams_arrive_tagged() {
        let mut t = Transcript::new();
        let _p = sh("p", "echo out; echo err >&2", &t);
        t.wait_for(Some("p"), "out", Duration::from_secs(5))
            .unwrap();
        t.wait_for(Some("p"), "err", Duration::from_secs(5))
            .unwrap();
        let output = t.output();
        assert!(output.contains("stderr: err"), "{output}");
    }

    #[test]
    fn wait_for_keeps_the_mark_and_next_with_moves_it() {
        let mut t = Transcript::new();
        let _p = sh("p", "echo one; echo two; sleep 5", &t);
        let w = Duration::from_secs(5);
        assert_eq!(t.wait_for(None, "two", w).unwrap(), "two");
        assert_eq!(t.wait_for(None, "one", w).unwrap(), "one");
        assert_eq!(t.next_with(None, "two", w).unwrap(), "two");
        let miss = t.next_with(None, "one", Duration::from_millis(50));
        assert!(!miss.unwrap_err().ended);
    }

    #[test]
    fn a_closed_output_ends_the_wait_early() {
        let mut t = Transcript::new();
        let mut p = sh("p", "echo bye", &t);
        let start = Instant::now();
        let err = t
            .wait_for(Some("p"), "never", Duration::from_secs(30))
            .unwrap_err();
        assert!(err.ended && start.elapsed() < Duration::from_secs(10));
        assert_eq!(err.since_mark.len(), 1);
        assert!(p.wait_within(Duration::from_secs(5)).unwrap().is_some());
    }

    #[test]
    fn lines_from_two_processes_are_told_apart() {
        let mut t = Transcript::new();
        let _a = sh("a", "echo hello from a; sleep 5", &t);
        let _b = sh("b", "echo hello from b; sleep 5", &t);
        let w = Duration::from_secs(5);
        assert_eq!(t.wait_for(Some("b"), "hello", w).unwrap(), "hello from b");
        assert_eq!(t.wait_for(Some("a"), "hello", w).unwrap(), "hello from a");
    }

    #[test]
    fn the_environment_is_changed_in_order() {
        let mut t = Transcript::new();
        let env = [("PC_A", Some("1")), ("PC_B", Some("2")), ("PC_B", None)];
        let _p = Process::start_with_env(
            "p",
            Path::new("sh"),
            &["-c", "echo \"a=$PC_A b=${PC_B-unset}\""],
            &env,
            &t,
        )
        .unwrap();
        let line = t.wait_for(Some("p"), "a=", Duration::from_secs(5));
        assert_eq!(line.unwrap(), "a=1 b=unset");
    }

    #[test]
    fn a_missing_program_is_an_error_not_a_panic() {
        let t = Transcript::new();
        // Under qemu-user's binfmt the exec failure surfaces in the child
        // rather than from spawn: then it must exit at once, unsuccessfully.
        if let Ok(mut p) = Process::start("x", Path::new("/nonexistent/program"), &[], &t) {
            let status = p.wait_within(Duration::from_secs(5)).unwrap();
            assert!(status.is_some_and(|s| !s.success()), "{status:?}");
        }
    }
}
