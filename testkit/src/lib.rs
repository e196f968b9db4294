//! Support for peercall's integration tests: start the real binaries as child
//! processes on free loopback ports, watch their output line by line with
//! timeouts, and speak the wire protocol raw from the test itself.
//!
//! Every child is killed when its handle drops, so a failing test leaves no
//! process behind.
//!
//! The process handling underneath, [`process`], panics nowhere: `peercall
//! demo` runs its registry and peers with it too, and reports a missing line
//! as an error.

pub mod capture;
pub mod display;
pub mod image;
pub mod noise;
pub mod process;
pub mod xwd;

use peercall::identity::Identity;
use peercall::wire::{
    AudioCodec, AudioFormat, FrameReader, MediaDescription, Message, Name, Nonce, Register,
    VideoCodec, VideoFormat,
};
use process::{Process, Transcript};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

/// How long a test waits for an expected line or message before failing.
pub const WAIT: Duration = Duration::from_secs(10);

/// The variables that tell a program where a screen is. Children started here
/// do not inherit them: `--video-out auto` opens a window when one is set,
/// and a test run on a desktop must not fill it with windows. A test that
/// wants a window sets them itself (see [`display::Display::env`]).
pub const DISPLAY_VARS: [&str; 2] = ["DISPLAY", "WAYLAND_DISPLAY"];

/// The environment changes for a child: the screen variables removed, then
/// `set` applied.
fn child_env<'a>(set: &'a [(&'a str, &'a str)]) -> Vec<(&'a str, Option<&'a str>)> {
    let removed = DISPLAY_VARS.iter().map(|&k| (k, None));
    removed
        .chain(set.iter().map(|&(k, v)| (k, Some(v))))
        .collect()
}

/// Path of a workspace binary, built on demand when a test of another package
/// needs it (cargo only builds a package's own binaries for its tests).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target directory");
    let path = dir.join(name);
    static BUILD: Mutex<()> = Mutex::new(());
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let pkg = match name {
            "peercall-registry" => "peercall-registry",
            "peercall" => "peercall-peer",
            other => panic!("unknown binary {other}"),
        };
        let ok = Command::new(cargo)
            .args(["build", "-q", "-p", pkg, "--bin", name])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "building {name} failed");
    }
    path
}

/// A running child process whose output a test waits on line by line; it
/// panics, with the output so far, when an expected line does not come.
pub struct Proc {
    process: Process,
    lines: Transcript,
}

impl Proc {
    /// Starts `program` with `args`, without the screen variables
    /// ([`DISPLAY_VARS`]); stdin is a pipe, stdout and stderr are merged
    /// into one line stream.
    pub fn start(name: &str, program: &Path, args: &[&str]) -> Proc {
        Self::start_with_env(name, program, args, &[])
    }

    /// As [`Proc::start`], with the environment variables `env` set (which
    /// may give back a screen variable).
    pub fn start_with_env(name: &str, program: &Path, args: &[&str], env: &[(&str, &str)]) -> Proc {
        let lines = Transcript::new();
        let process = Process::start_with_env(name, program, args, &child_env(env), &lines)
            .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
        Proc { process, lines }
    }

    /// Waits for a line containing `needle`, consuming lines up to it.
    pub fn expect(&mut self, needle: &str) -> String {
        self.expect_within(needle, WAIT)
    }

    /// As [`Proc::expect`], with a custom timeout.
    pub fn expect_within(&mut self, needle: &str, wait: Duration) -> String {
        let name = self.process.name();
        self.lines
            .next_with(Some(name), needle, wait)
            .unwrap_or_else(|e| panic!("{e}; output so far:\n{}", self.lines.output()))
    }

    /// Waits for the line a peer prints as a call it records starts,
    /// `recording video to PATH` (`kind` "video") or `recording sound to
    /// PATH` ("sound"), and returns PATH: each call has files of its own.
    pub fn expect_recording(&mut self, kind: &str) -> PathBuf {
        let lead = format!("recording {kind} to ");
        let line = self.expect(&lead);
        match line.split_once(&lead) {
            Some((_, path)) => PathBuf::from(path.trim_end()),
            None => panic!("no path in {line:?}"),
        }
    }

    /// Waits for a line containing `needle` after the last one
    /// [`Proc::expect`] consumed, without consuming anything: for lines
    /// whose order among the others is not promised.
    pub fn expect_unordered(&mut self, needle: &str) -> String {
        let name = self.process.name();
        self.lines
            .wait_for(Some(name), needle, WAIT)
            .unwrap_or_else(|e| panic!("{e}; output so far:\n{}", self.lines.output()))
    }

    /// Everything printed so far.
    pub fn output(&self) -> String {
        self.lines.output()
    }

    /// Writes a line to the child's stdin.
    pub fn send_line(&mut self, line: &str) {
        self.process
            .send_line(line)
            .unwrap_or_else(|e| panic!("writing to {}'s stdin: {e}", self.process.name()));
    }

    /// Closes the child's stdin (end of file).
    pub fn close_stdin(&mut self) {
        self.process.close_stdin();
    }

    /// Sends a signal by name (`INT`, `TERM`, `KILL`, `STOP`, `CONT`).
    pub fn signal(&self, sig: &str) {
        self.process
            .signal(sig)
            .unwrap_or_else(|e| panic!("signalling {}: {e}", self.process.name()));
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Waits for the process to exit and returns its exit code (None if killed by a signal).
    pub fn wait_exit(&mut self) -> Option<i32> {
        match self.process.wait_within(WAIT) {
            Ok(Some(status)) => status.code(),
            Ok(None) => panic!(
                "{} did not exit; output:\n{}",
                self.process.name(),
                self.output()
            ),
            Err(e) => panic!("waiting for {}: {e}", self.process.name()),
        }
    }
}

/// A registry process and the address it listens on.
pub struct Registry {
    /// The process.
    pub proc: Proc,
    /// The address from its `listening on` line.
    pub addr: SocketAddr,
    /// Its `--state-dir`: a fresh directory of its own unless the flags gave
    /// one (then `None`), so tests never share, or leave, name bindings.
    pub state_dir: Option<StateDir>,
}

/// A temporary state directory for a registry, removed when dropped.
pub struct StateDir(PathBuf);

impl StateDir {
    /// A new, empty directory under the system's temporary directory.
    pub fn new() -> StateDir {
        StateDir(
            process::fresh_temp_dir("test-registry").expect("creating a registry state directory"),
        )
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Its path as a command-line argument.
    pub fn arg(&self) -> String {
        self.0.display().to_string()
    }
}

impl Default for StateDir {
    fn default() -> Self {
        StateDir::new()
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Registry {
    /// Starts the registry on a free loopback port with extra flags.
    pub fn start(extra: &[&str]) -> Registry {
        Self::start_on("127.0.0.1:0", extra)
    }

    /// Starts the registry on `listen` with extra flags, and a state
    /// directory of its own unless `extra` has `--state-dir`.
    pub fn start_on(listen: &str, extra: &[&str]) -> Registry {
        let own = (!extra.contains(&"--state-dir")).then(StateDir::new);
        let dir = own.as_ref().map(StateDir::arg);
        let mut args = vec!["--listen", listen];
        if let Some(d) = &dir {
            args.extend(["--state-dir", d.as_str()]);
        }
        args.extend_from_slice(extra);
        let mut proc = Proc::start("registry", &bin("peercall-registry"), &args);
        let line = proc.expect("listening on ");
        let addr = line
            .trim_start_matches("listening on ")
            .parse()
            .unwrap_or_else(|_| panic!("bad first line {line:?}"));
        Registry {
            proc,
            addr,
            state_dir: own,
        }
    }

    /// Kills the registry (SIGKILL: no goodbye, no last save) and starts a
    /// new one on the same address and state directory, with `extra` flags:
    /// a crash and a restart.
    pub fn crash_and_restart(self, extra: &[&str]) -> Registry {
        let Registry {
            mut proc,
            addr,
            state_dir,
        } = self;
        proc.signal("KILL");
        proc.wait_exit();
        let dir = state_dir
            .as_ref()
            .expect("crash_and_restart needs the registry's own state directory");
        let d = dir.arg();
        let mut args = vec!["--state-dir", d.as_str()];
        args.extend_from_slice(extra);
        let listen = addr.to_string();
        let mut again = Registry::start_on(&listen, &args);
        again.state_dir = state_dir;
        again
    }

    /// `IP:PORT` as a string for command lines.
    pub fn arg(&self) -> String {
        self.addr.to_string()
    }
}

/// Runs a command to completion, without the screen variables
/// ([`DISPLAY_VARS`]) and in a state directory of its own, and returns
/// (exit code, stdout, stderr).
pub fn run(program: &PathBuf, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(program);
    for var in DISPLAY_VARS {
        cmd.env_remove(var);
    }
    // As for a started process: a peer given no --identity creates one in
    // its state directory, which must be neither the user's own (a fresh
    // machine's first run would print "created identity" on stderr, which
    // tests of one-line errors count) nor shared with another test.
    let state_home = process::fresh_temp_dir("state").expect("making a state directory");
    cmd.env("XDG_STATE_HOME", &state_home)
        .env_remove("STATE_DIRECTORY");
    // The peer's default identity is already there, as on a board that has
    // run peercall before, except for `id`, whose tests see it created.
    let is_peer = program.file_name().is_some_and(|n| n == "peercall");
    if is_peer && args.first() != Some(&"id") && !args.contains(&"--identity") {
        let dir = state_home.join("peercall");
        std::fs::create_dir_all(&dir).expect("making the peer's state directory");
        // fs::copy keeps the source's mode, the 0600 the peer insists on.
        std::fs::copy(identity_path("default"), dir.join("identity"))
            .expect("copying the default test identity");
    }
    let out = cmd
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running command");
    let _ = std::fs::remove_dir_all(&state_home);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The identity a test gives the peer or client named `tag`: the same tag,
/// the same key, in every run.
pub fn test_identity(tag: &str) -> Identity {
    let mut seed = [0x5au8; 32];
    for (i, b) in tag.bytes().enumerate() {
        seed[i % 32] = seed[i % 32].wrapping_mul(31).wrapping_add(b);
    }
    Identity::from_seed(&seed)
}

/// A raw protocol client: sends messages or arbitrary bytes and reads frames.
///
/// A registry's CHALLENGE is taken aside as it arrives (its nonce kept for
/// [`Client::nonce`] and [`Client::signed_register`]), so [`Client::recv`]
/// and [`Client::ask`] see the answers, as a LOOKUP-only client would.
pub struct Client {
    stream: TcpStream,
    reader: FrameReader,
    nonce: Option<Nonce>,
    /// Messages read while waiting for the CHALLENGE.
    queued: VecDeque<Message>,
}

impl Client {
    /// Connects to `addr`.
    pub fn connect(addr: SocketAddr) -> Client {
        Client::from_stream(TcpStream::connect(addr).expect("connecting to the registry"))
    }

    /// A client over a connection already open, such as one a test's own
    /// listener accepted (a hand-made callee).
    pub fn from_stream(stream: TcpStream) -> Client {
        stream.set_read_timeout(Some(WAIT)).expect("read timeout");
        Client {
            stream,
            reader: FrameReader::new(),
            nonce: None,
            queued: VecDeque::new(),
        }
    }

    /// This connection's CHALLENGE nonce, waiting for it if it has not come
    /// yet. Panics if the stream ends first.
    pub fn nonce(&mut self) -> Nonce {
        while self.nonce.is_none() {
            match self.recv_frame() {
                Some(Message::Challenge(n)) => self.nonce = Some(n),
                Some(other) => self.queued.push_back(other),
                None => panic!("the connection ended before a CHALLENGE"),
            }
        }
        self.nonce.expect("set above")
    }

    /// A REGISTER of `name` at `addr`, signed by `id` for this connection.
    pub fn signed_register(&mut self, id: &Identity, name: &str, addr: SocketAddr) -> Message {
        let nonce = self.nonce();
        let name = Name::new(name).expect("a valid test name");
        Message::Register(Register::signed(id, name, addr, &nonce))
    }

    /// Registers `name` at `addr` as `id` and returns the reply.
    pub fn register(&mut self, id: &Identity, name: &str, addr: SocketAddr) -> Message {
        let msg = self.signed_register(id, name, addr);
        self.ask(&msg)
    }

    /// Sends one message.
    pub fn send(&mut self, msg: &Message) {
        self.send_raw(&msg.to_bytes());
    }

    /// Sends raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .expect("writing to the registry");
    }

    /// The next message (a CHALLENGE taken aside), or `None` at end of
    /// stream. Panics on timeout or a bad frame.
    pub fn recv(&mut self) -> Option<Message> {
        if let Some(m) = self.queued.pop_front() {
            return Some(m);
        }
        loop {
            match self.recv_frame()? {
                Message::Challenge(n) if self.nonce.is_none() => self.nonce = Some(n),
                m => return Some(m),
            }
        }
    }

    fn recv_frame(&mut self) -> Option<Message> {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(f) = self.reader.next_frame().expect("valid framing") {
                return Some(Message::parse(&f).expect("valid message"));
            }
            match self.stream.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => self.reader.push(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("reading from the registry: {e}"),
            }
        }
    }

    /// Sends `msg` and returns the reply.
    pub fn ask(&mut self, msg: &Message) -> Message {
        self.send(msg);
        self.recv().expect("a reply before end of stream")
    }
}

/// Starts `peercall run --name NAME --registry REGISTRY` on a free loopback
/// call port; returns the process and its call address (`IP:PORT`).
pub fn start_peer(name: &str, registry: &str) -> (Proc, String) {
    start_peer_with(name, registry, &[])
}

/// The synthetic camera, microphone and speaker, and no window, given
/// before a test's own arguments (which override them): a machine that has
/// a camera, a sound card or a screen must not have its tests use them, or
/// fail on them. (`--video-out auto` would open a window wherever there is a
/// DRM card, as in the hardware-test VM, where Mesa's software GL then
/// starves the call of CPU.)
pub const SYNTHETIC_MEDIA: [&str; 8] = [
    "--video",
    "test",
    "--audio-in",
    "tone",
    "--audio-out",
    "null",
    "--video-out",
    "null",
];

/// The identity file of the peer named `name` in this test process: one
/// per name, kept across the peer's restarts, as a board keeps its identity
/// file when it reboots. The registry binds a name to the key that
/// registered it, so a restarted `bob` with a fresh key would be refused.
pub fn identity_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("peercall-test-ids-{}", std::process::id()));
    let path = dir.join(name);
    // Made here, one at a time, by `peercall id` (which creates a missing
    // file): two peers of one name started at once by parallel tests must
    // not race to create it.
    static CREATE: Mutex<()> = Mutex::new(());
    let _guard = CREATE.lock().unwrap_or_else(|e| e.into_inner());
    if !path.exists() {
        std::fs::create_dir_all(&dir).expect("creating the test identities directory");
        noise::make_identity(&path);
    }
    path
}

/// `--identity PATH` for the peer named `name` ([`identity_path`]), unless
/// `extra` chooses one.
fn identity_args(name: &str, extra: &[&str]) -> Option<[String; 2]> {
    (!extra.contains(&"--identity")).then(|| {
        [
            "--identity".to_owned(),
            identity_path(name).display().to_string(),
        ]
    })
}

/// As [`start_peer`], with more `peercall run` arguments.
pub fn start_peer_with(name: &str, registry: &str, extra: &[&str]) -> (Proc, String) {
    start_peer_with_env(name, registry, extra, &[])
}

/// As [`start_peer_with`], with environment variables set for the peer
/// (a window test gives it a screen this way: [`display::Display::env`]).
pub fn start_peer_with_env(
    name: &str,
    registry: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (Proc, String) {
    let mut args = vec![
        "run",
        "--name",
        name,
        "--registry",
        registry,
        "--listen",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(&SYNTHETIC_MEDIA);
    let id = identity_args(name, extra);
    if let Some(id) = &id {
        args.extend(id.iter().map(String::as_str));
    }
    args.extend_from_slice(extra);
    let mut p = Proc::start_with_env(name, &bin("peercall"), &args, env);
    let line = p.expect("listening for calls on ");
    let addr = line
        .trim_start_matches("listening for calls on ")
        .to_owned();
    (p, addr)
}

/// Starts a peer that answers every call (`--auto-accept-anyone`: the
/// callers of a test have keys made on the spot, which no allow file
/// lists), with more `peercall run` arguments, and waits until it is
/// registered.
pub fn start_answering_peer(name: &str, registry: &str, extra: &[&str]) -> Proc {
    let mut args = vec!["--auto-accept-anyone"];
    args.extend_from_slice(extra);
    let (mut p, _) = start_peer_with(name, registry, &args);
    p.expect(&format!("registered as {name}"));
    p
}

/// The arguments of `peercall call TARGET --name ME --registry REGISTRY` on a
/// free loopback call port, followed by `extra`.
fn call_args(target: &str, me: &str, registry: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "call",
        target,
        "--name",
        me,
        "--registry",
        registry,
        "--listen",
        "127.0.0.1:0",
    ]
    .iter()
    .chain(SYNTHETIC_MEDIA.iter())
    .map(|s| s.to_string())
    .collect();
    args.extend(identity_args(me, extra).into_iter().flatten());
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// Runs a one-shot `peercall call` to completion: (exit code, stdout, stderr).
pub fn call_once(target: &str, me: &str, registry: &str, extra: &[&str]) -> (i32, String, String) {
    let args = call_args(target, me, registry, extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&bin("peercall"), &args)
}

/// Starts a one-shot `peercall call` as a watched process.
pub fn start_call(target: &str, me: &str, registry: &str, extra: &[&str]) -> Proc {
    let args = call_args(target, me, registry, extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Proc::start(me, &bin("peercall"), &args)
}

/// A loopback port where a connection is refused, and stays refused: one
/// below the kernel's ephemeral range, which port-0 binds (every other
/// test's servers and peers) never hand out, so a test that needs "nothing
/// listens here" is not raced by a server of a test running beside it.
pub fn refused_port() -> u16 {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    (1024..low)
        .rev()
        .find(|&p| {
            matches!(
                std::net::TcpStream::connect(("127.0.0.1", p)),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
            )
        })
        .expect("a loopback port below the ephemeral range where nothing listens")
}

/// A loopback port that was free a moment ago (nothing listens on it now),
/// as the kernel hands out for port 0.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding a free loopback port")
        .port()
}

/// The offer of a hand-made caller's INVITE: MJPEG `width`x`height` at 30
/// fps and mono Opus in `frame_ms` frames, which a peer accepts as they are
/// when they are what it sends.
pub fn mjpeg_opus_offer(width: u16, height: u16, frame_ms: u8) -> MediaDescription {
    MediaDescription {
        video: VideoFormat {
            codec: VideoCodec::Mjpeg,
            width,
            height,
            fps: 30,
        },
        audio: AudioFormat {
            codec: AudioCodec::Opus,
            sample_rate: 48_000,
            channels: 1,
            frame_ms,
        },
    }
}

/// The number right after `key` in a report line (`shown 91` → 91), or a
/// panic naming the line: what tests read from a peer's quality report.
pub fn number_after(line: &str, key: &str) -> u64 {
    let rest = line
        .split(key)
        .nth(1)
        .unwrap_or_else(|| panic!("no {key:?} in {line}"));
    rest.chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("no number after {key:?} in {line}"))
}
