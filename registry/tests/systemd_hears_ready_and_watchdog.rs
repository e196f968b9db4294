//! Under systemd (`Type=notify`): READY=1 once the registry listens and its
//! line is out, WATCHDOG=1 every half `WATCHDOG_USEC` while the loop runs,
//! STOPPING=1 on SIGTERM; and the same output and exit codes as without it.
//! The test plays systemd: it binds the unix datagram socket it names in
//! `NOTIFY_SOCKET`.

use peercall::wire::Message;
use peercall_testkit::{bin, Client, StateDir, WAIT};
use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// The socket systemd would listen on, bound at a fresh path.
struct FakeSystemd {
    socket: UnixDatagram,
    path: PathBuf,
}

impl FakeSystemd {
    fn bind(tag: &str) -> FakeSystemd {
        let path =
            std::env::temp_dir().join(format!("peercall-notify-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let socket = UnixDatagram::bind(&path).expect("binding the notify socket");
        FakeSystemd { socket, path }
    }

    /// The next message, or None if none comes within `wait`.
    fn recv_within(&self, wait: Duration) -> Option<String> {
        self.socket
            .set_read_timeout(Some(wait))
            .expect("read timeout");
        let mut buf = [0u8; 4096];
        match self.socket.recv(&mut buf) {
            Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(e) => panic!("receiving a notification: {e}"),
        }
    }

    /// Every message that arrives within `wait`.
    fn collect_for(&self, wait: Duration) -> Vec<String> {
        let end = Instant::now() + wait;
        let mut got = Vec::new();
        loop {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return got;
            }
            if let Some(m) = self.recv_within(left) {
                got.push(m);
            }
        }
    }
}

impl Drop for FakeSystemd {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The registry started as systemd would, its stdout and stderr lines on
/// two channels.
struct Service {
    child: Child,
    lines: Receiver<String>,
    errors: Receiver<String>,
    /// Its name bindings, apart from the user's own.
    _state: StateDir,
}

impl Service {
    fn start(env: &[(&str, &str)]) -> Service {
        let state = StateDir::new();
        let mut cmd = Command::new(bin("peercall-registry"));
        cmd.args(["--listen", "127.0.0.1:0", "--state-dir", &state.arg()])
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("starting the registry");
        let (tx, lines) = mpsc::channel();
        let (etx, errors) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = etx.send(line);
            }
        });
        Service {
            child,
            lines,
            errors,
            _state: state,
        }
    }

    fn line(&self) -> String {
        self.lines
            .recv_timeout(WAIT)
            .expect("a line from the registry")
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("sh")
            .args(["-c", &format!("kill -{sig} {}", self.child.id())])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{sig}");
    }

    fn wait_exit(&mut self) -> Option<i32> {
        let end = Instant::now() + WAIT;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code();
            }
            assert!(Instant::now() < end, "the registry did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn watchdog_pings(msgs: &[String]) -> Vec<&String> {
    msgs.iter().filter(|m| *m == "WATCHDOG=1\n").collect()
}

#[test]
fn ready_comes_after_the_listening_line_and_the_socket_answers() {
    let systemd = FakeSystemd::bind("ready");
    let mut reg = Service::start(&[("NOTIFY_SOCKET", systemd.path.to_str().unwrap())]);
    let ready = systemd
        .recv_within(WAIT)
        .expect("READY=1 from the registry");
    // Freeze the registry the moment it says it is ready: its line must
    // already be out by then, not printed after the notification.
    reg.signal("STOP");
    let mut lines = ready.lines();
    assert_eq!(lines.next(), Some("READY=1"), "{ready:?}");
    let status = lines.next().expect("a STATUS line");
    let addr = status
        .strip_prefix("STATUS=listening on ")
        .unwrap_or_else(|| panic!("{ready:?}"));
    let first = reg
        .lines
        .recv_timeout(Duration::from_secs(2))
        .expect("the listening line, printed before READY=1");
    assert_eq!(first, format!("listening on {addr}"));
    // Ready means ready: the announced address takes connections, which a
    // stopped process accepts into its backlog and answers once resumed.
    let mut c = Client::connect(addr.parse().unwrap());
    reg.signal("CONT");
    assert_eq!(c.ask(&Message::Ping(9)), Message::Pong(9));
    // No watchdog was asked for: nothing but STOPPING=1 follows.
    assert_eq!(systemd.recv_within(Duration::from_millis(300)), None);
    reg.signal("TERM");
    assert_eq!(systemd.recv_within(WAIT).as_deref(), Some("STOPPING=1\n"));
    assert_eq!(reg.line(), "shutting down: said goodbye to 1 connection");
    assert_eq!(reg.wait_exit(), Some(0));
}

#[test]
fn watchdog_pings_at_half_the_timeout_while_the_loop_runs() {
    let systemd = FakeSystemd::bind("watchdog");
    // 300 ms: a ping every 150 ms.
    let mut reg = Service::start(&[
        ("NOTIFY_SOCKET", systemd.path.to_str().unwrap()),
        ("WATCHDOG_USEC", "300000"),
    ]);
    let ready = systemd.recv_within(WAIT).expect("READY=1");
    assert!(ready.starts_with("READY=1\n"), "{ready:?}");
    assert!(reg.line().starts_with("listening on "));
    let got = systemd.collect_for(Duration::from_millis(1600));
    let pings = watchdog_pings(&got);
    assert_eq!(pings.len(), got.len(), "only pings expected: {got:?}");
    // One per 150 ms is at most 11 in 1.6 s: more means pinging too often.
    // How many fewer a loaded machine lets through is its own affair: the
    // pings must repeat, which two show (a stopped loop, below, sends none).
    assert!(
        (2..=11).contains(&pings.len()),
        "{} pings in 1.6 s: {got:?}",
        pings.len()
    );
    // A stopped loop stops pinging (that is what lets systemd restart it) ...
    reg.signal("STOP");
    std::thread::sleep(Duration::from_millis(50));
    while systemd.recv_within(Duration::from_millis(1)).is_some() {}
    assert_eq!(systemd.recv_within(Duration::from_millis(500)), None);
    // ... and a resumed one starts again.
    reg.signal("CONT");
    assert_eq!(systemd.recv_within(WAIT).as_deref(), Some("WATCHDOG=1\n"));
    reg.signal("TERM");
    let rest = systemd.collect_for(Duration::from_millis(500));
    assert!(
        rest.iter().any(|m| m == "STOPPING=1\n"),
        "no STOPPING=1: {rest:?}"
    );
    assert_eq!(reg.wait_exit(), Some(0));
}

#[test]
fn watchdog_meant_for_another_process_is_not_pinged() {
    let systemd = FakeSystemd::bind("otherpid");
    let _reg = Service::start(&[
        ("NOTIFY_SOCKET", systemd.path.to_str().unwrap()),
        ("WATCHDOG_USEC", "100000"),
        ("WATCHDOG_PID", "1"),
    ]);
    assert!(systemd.recv_within(WAIT).unwrap().starts_with("READY=1\n"));
    assert_eq!(systemd.recv_within(Duration::from_millis(400)), None);
}

#[cfg(target_os = "linux")]
#[test]
fn abstract_notify_socket_is_reached() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::SocketAddr;
    let name = format!("peercall-notify-abstract-{}", std::process::id());
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let socket = UnixDatagram::bind_addr(&addr).expect("binding an abstract socket");
    socket.set_read_timeout(Some(WAIT)).unwrap();
    let _reg = Service::start(&[("NOTIFY_SOCKET", &format!("@{name}"))]);
    let mut buf = [0u8; 512];
    let n = socket
        .recv(&mut buf)
        .expect("READY=1 on the abstract socket");
    assert!(buf[..n].starts_with(b"READY=1\n"));
}

#[test]
fn unreachable_notify_socket_changes_nothing_but_a_warning() {
    let gone = std::env::temp_dir().join(format!("peercall-notify-gone-{}", std::process::id()));
    let mut reg = Service::start(&[
        ("NOTIFY_SOCKET", gone.to_str().unwrap()),
        ("WATCHDOG_USEC", "100000"),
    ]);
    let first = reg.line();
    assert!(first.starts_with("listening on "), "{first}");
    let addr = first.trim_start_matches("listening on ").parse().unwrap();
    let mut c = Client::connect(addr);
    // Pings keep failing (every 50 ms); the registry keeps serving.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(c.ask(&Message::Ping(1)), Message::Pong(1));
    reg.signal("TERM");
    assert_eq!(reg.line(), "shutting down: said goodbye to 1 connection");
    assert_eq!(reg.wait_exit(), Some(0));
    // One warning, not one per ping: later failures are logged at debug level.
    let warnings: Vec<String> = reg
        .errors
        .iter()
        .filter(|l| l.contains("notify systemd"))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
}
