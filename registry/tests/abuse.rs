//! The registry under abuse (issue 15): what an attacker on the same network
//! can do to it with bounded loads on loopback, and the figure each case must
//! hold. Run with `make test-abuse` (release, one test at a time): every test
//! here is ignored by a plain `cargo test`, because each one loads the
//! machine for a few seconds.
//!
//! Every load is bounded in bytes, connections and time; every process a
//! test starts is killed by its PID when its handle drops.

use peercall::wire::{ErrorCode, FrameReader, GoodbyeReason, Message, Name, Nonce, Register};
use peercall_testkit::{bin, free_port, start_peer, test_identity, Client, Registry, StateDir};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The longest a flood runs.
const FLOOD_TIME: Duration = Duration::from_millis(2500);
/// The most bytes a flood writes, whatever the machine's speed.
const FLOOD_MAX_BYTES: u64 = 4 << 30;
/// Bytes a flood must have written before it counts as under way: more than
/// the loopback socket buffers hold, so the registry is reading it.
const FLOOD_UNDER_WAY: u64 = 8 << 20;

fn name(s: &str) -> Name {
    Name::new(s).unwrap()
}

/// A REGISTER of `n` at `addr` by `n`'s own key, signed for the
/// connection challenged with `nonce`.
fn register_msg(n: &str, addr: &str, nonce: &Nonce) -> Message {
    Message::Register(Register::signed(
        &test_identity(n),
        name(n),
        addr.parse().unwrap(),
        nonce,
    ))
}

fn register(c: &mut Client, n: &str, addr: &str) {
    let nonce = c.nonce();
    match c.ask(&register_msg(n, addr, &nonce)) {
        Message::Registered(_) => {}
        other => panic!("{n} not registered: {other:?}"),
    }
}

fn lookup_found(c: &mut Client, n: &str) {
    match c.ask(&Message::Lookup(name(n))) {
        Message::Found(e) => assert_eq!(e.name.as_str(), n),
        other => panic!("lookup {n}: {other:?}"),
    }
}

/// The `q`-quantile of sorted durations.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Clients, each on a thread of its own, writing PONG frames (which need no
/// answer) as fast as their sockets take them, until stopped, [`FLOOD_TIME`]
/// has passed or [`FLOOD_MAX_BYTES`] are written in all.
struct Flood {
    stop: Arc<AtomicBool>,
    written: Arc<AtomicU64>,
    threads: Vec<JoinHandle<()>>,
}

impl Flood {
    fn start(addr: SocketAddr, clients: usize) -> Flood {
        let stop = Arc::new(AtomicBool::new(false));
        let written = Arc::new(AtomicU64::new(0));
        let frame = Message::Pong(7).to_bytes();
        let buf: Arc<Vec<u8>> = Arc::new(
            frame
                .iter()
                .copied()
                .cycle()
                .take(frame.len() * 20_000)
                .collect(),
        );
        let threads = (0..clients)
            .map(|_| {
                let mut stream = TcpStream::connect(addr).expect("flood connects");
                // Short, so the thread sees the stop flag and the deadline.
                stream
                    .set_write_timeout(Some(Duration::from_millis(50)))
                    .unwrap();
                let (s, w, buf) = (stop.clone(), written.clone(), buf.clone());
                std::thread::spawn(move || {
                    let start = Instant::now();
                    // A partial write continues at the same offset: the frames stay whole.
                    let mut off = 0;
                    while !s.load(Ordering::Relaxed)
                        && start.elapsed() < FLOOD_TIME
                        && w.load(Ordering::Relaxed) < FLOOD_MAX_BYTES
                    {
                        match stream.write(&buf[off..]) {
                            Ok(0) => break,
                            Ok(n) => {
                                off = (off + n) % buf.len();
                                w.fetch_add(n as u64, Ordering::Relaxed);
                            }
                            Err(e)
                                if matches!(
                                    e.kind(),
                                    ErrorKind::WouldBlock
                                        | ErrorKind::TimedOut
                                        | ErrorKind::Interrupted
                                ) => {}
                            Err(_) => break,
                        }
                    }
                })
            })
            .collect();
        let flood = Flood {
            stop,
            written,
            threads,
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while flood.written() < FLOOD_UNDER_WAY {
            assert!(Instant::now() < deadline, "the flood did not get under way");
            std::thread::sleep(Duration::from_millis(1));
        }
        flood
    }

    fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    fn running(&self) -> bool {
        self.threads.iter().any(|t| !t.is_finished())
    }

    /// Stops the writers and returns the bytes they wrote.
    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            t.join().expect("flood thread");
        }
        self.written()
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Issue 15 item 3: one client writing frames that need no answer as fast as
/// it can must not hold up anyone else's lookup (p99 < 10 ms, max < 100 ms).
#[test]
#[ignore = "abuse suite: make test-abuse"]
fn a_flooding_client_does_not_starve_lookups() {
    let reg = Registry::start(&[]);
    let mut alice = Client::connect(reg.addr);
    register(&mut alice, "alice", "127.0.0.1:4701");
    let mut askers: Vec<Client> = (0..4).map(|_| Client::connect(reg.addr)).collect();

    let flood = Flood::start(reg.addr, 1);
    let mut latencies = Vec::new();
    while flood.running() && latencies.len() < 1_000_000 {
        for c in &mut askers {
            let t = Instant::now();
            lookup_found(c, "alice");
            latencies.push(t.elapsed());
        }
    }
    let written = flood.stop();
    latencies.sort();
    let (p99, max) = (quantile(&latencies, 0.99), latencies[latencies.len() - 1]);
    eprintln!(
        "flood of {:.0} MiB: {} lookups meanwhile, p50 {:?} p99 {:?} max {:?}",
        written as f64 / f64::from(1 << 20),
        latencies.len(),
        quantile(&latencies, 0.5),
        p99,
        max
    );
    assert!(latencies.len() >= 100, "too few lookups during the flood");
    assert!(
        p99 < Duration::from_millis(10),
        "lookup p99 {p99:?} during the flood"
    );
    assert!(
        max < Duration::from_millis(100),
        "lookup max {max:?} during the flood"
    );
}

/// Issue 15 item 3: one address cannot take every connection; past its limit
/// a connection is refused as the connection cap refuses (ERROR, then close),
/// the refusals are counted, and other addresses are still served.
#[test]
#[ignore = "abuse suite: make test-abuse"]
fn one_address_cannot_take_every_connection() {
    const LIMIT: usize = 20;
    // Listening on [::] lets ::1 be a second source on loopback, where it exists.
    let v6 = std::net::TcpListener::bind("[::1]:0").is_ok();
    let listen = if v6 { "[::]:0" } else { "127.0.0.1:0" };
    let mut reg = Registry::start_on(listen, &["--max-connections-per-ip", &LIMIT.to_string()]);
    let v4: SocketAddr = SocketAddr::from(([127, 0, 0, 1], reg.addr.port()));
    let mut held: Vec<Client> = (0..LIMIT).map(|_| Client::connect(v4)).collect();
    for (i, c) in held.iter_mut().enumerate() {
        assert_eq!(c.ask(&Message::Ping(i as u64)), Message::Pong(i as u64));
    }
    const REFUSED: usize = 5;
    for i in 0..REFUSED {
        let mut extra = Client::connect(v4);
        match extra.recv() {
            Some(Message::Error(e)) => assert_eq!(e.code, ErrorCode::TooManyConnections, "{e}"),
            other => panic!("connection {} past the limit: {other:?}", LIMIT + i + 1),
        }
        assert_eq!(extra.recv(), None, "a refused connection is closed");
    }
    let line = reg.proc.expect(&format!("{REFUSED} refused so far"));
    eprintln!("registry: {line}");
    assert!(line.contains("refused connection from 127.0.0.1"), "{line}");
    // Those held are still served.
    for c in &mut held {
        assert_eq!(c.ask(&Message::Ping(1)), Message::Pong(1));
    }
    if v6 {
        let mut other = Client::connect(SocketAddr::from((
            std::net::Ipv6Addr::LOCALHOST,
            reg.addr.port(),
        )));
        assert_eq!(other.ask(&Message::Ping(2)), Message::Pong(2));
    } else {
        eprintln!("no IPv6 loopback here: another source address is not tried");
    }
    // A connection that closes makes room again.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let mut again = Client::connect(v4);
        match again.ask(&Message::Ping(3)) {
            Message::Pong(3) => break,
            Message::Error(e) if e.code == ErrorCode::TooManyConnections => {
                assert!(Instant::now() < deadline, "no room after a close")
            }
            other => panic!("{other:?}"),
        }
    }
}

/// Issue 16: a squatter (another key) cannot take a live owner's name, not
/// while a flood keeps the registry's loop busy and not while the registry
/// is stopped (SIGSTOP) with the claim waiting in its socket: the answer is
/// NAME TAKEN every time, and the owner is never disturbed (the probe that
/// once handed a name to a claimant whose holder answered late is gone).
#[test]
#[ignore = "abuse suite: make test-abuse"]
fn a_squatter_cannot_take_a_live_name_when_the_registry_stalls() {
    const CLAIMS: usize = 20;
    let reg = Registry::start(&[]);
    let mut holder = Client::connect(reg.addr);
    register(&mut holder, "pi", "127.0.0.1:5000");
    let squatter = test_identity("squatter");
    let claim =
        |c: &mut Client| c.signed_register(&squatter, "pi", "127.0.0.1:5000".parse().unwrap());

    let flood = Flood::start(reg.addr, 4);
    for n in 0..CLAIMS {
        let mut claimant = Client::connect(reg.addr);
        let m = claim(&mut claimant);
        let verdict = claimant.ask(&m);
        assert_eq!(
            verdict,
            Message::NameTaken(name("pi")),
            "claim {n} during the flood"
        );
    }
    let during = flood.running();
    let written = flood.stop();
    eprintln!(
        "{CLAIMS} squatter claims during a flood of {:.0} MiB: refused every time",
        written as f64 / f64::from(1 << 20)
    );
    assert!(during, "the claims took longer than the flood");
    assert_eq!(
        holder.ask(&Message::Ping(1)),
        Message::Pong(1),
        "holder kept"
    );

    // A stopped registry: the claim waits in its socket.
    let mut claimant = Client::connect(reg.addr);
    let m = claim(&mut claimant);
    reg.proc.signal("STOP");
    claimant.send(&m);
    std::thread::sleep(Duration::from_millis(300));
    reg.proc.signal("CONT");
    assert_eq!(claimant.recv(), Some(Message::NameTaken(name("pi"))));
    assert_eq!(
        holder.ask(&Message::Ping(2)),
        Message::Pong(2),
        "holder kept"
    );
    let mut q = Client::connect(reg.addr);
    lookup_found(&mut q, "pi");
}

/// A registry child whose stdout is a pipe nobody reads (until the test
/// chooses to), killed by its PID when dropped.
struct UnreadRegistry {
    child: Child,
    addr: SocketAddr,
    stdout: Option<BufReader<std::process::ChildStdout>>,
    _state: StateDir,
}

impl UnreadRegistry {
    fn start() -> UnreadRegistry {
        // Its bindings in a directory of its own, not the user's state.
        let state = StateDir::new();
        let mut child = Command::new(bin("peercall-registry"))
            .args(["--listen", "127.0.0.1:0", "--state-dir", &state.arg()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the registry");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        stdout.read_line(&mut first).expect("first line");
        let addr = first
            .trim()
            .trim_start_matches("listening on ")
            .parse()
            .unwrap_or_else(|_| panic!("bad first line {first:?}"));
        UnreadRegistry {
            child,
            addr,
            stdout: Some(stdout),
            _state: state,
        }
    }
}

impl Drop for UnreadRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One register/unregister cycle on a fresh connection, failing within 2 s.
fn cycle(addr: SocketAddr, i: usize) -> Result<(), String> {
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut reader = FrameReader::new();
    let mut next = |s: &mut TcpStream| -> Result<Message, String> {
        let mut buf = [0u8; 1024];
        loop {
            if let Some(f) = reader.next_frame().map_err(|e| e.to_string())? {
                return Message::parse(&f).map_err(|e| e.to_string());
            }
            match s.read(&mut buf) {
                Ok(0) => return Err("closed".into()),
                Ok(n) => reader.push(&buf[..n]),
                Err(e) => return Err(format!("cycle {i}: {e}")),
            }
        }
    };
    let nonce = match next(&mut s)? {
        Message::Challenge(n) => n,
        other => return Err(format!("cycle {i}: {other:?} before a CHALLENGE")),
    };
    s.write_all(&register_msg("cycler", "127.0.0.1:7000", &nonce).to_bytes())
        .map_err(|e| e.to_string())?;
    match next(&mut s)? {
        Message::Registered(_) => {}
        other => return Err(format!("cycle {i}: {other:?}")),
    }
    s.write_all(&Message::Unregister.to_bytes())
        .map_err(|e| e.to_string())?;
    match next(&mut s)? {
        Message::Goodbye(GoodbyeReason::Unregistered) => Ok(()),
        other => Err(format!("cycle {i}: {other:?}")),
    }
}

/// Issue 15 item 5: with stdout a pipe nobody reads, the registry keeps
/// serving (5,000 register/unregister cycles), and once the pipe is read
/// again it says how many lines it dropped.
#[test]
#[ignore = "abuse suite: make test-abuse"]
fn an_unread_stdout_does_not_stop_the_registry() {
    const CYCLES: usize = 5_000;
    let mut reg = UnreadRegistry::start();
    let start = Instant::now();
    for i in 0..CYCLES {
        if let Err(e) = cycle(reg.addr, i) {
            panic!("the registry stopped serving after {i} cycles: {e}");
        }
    }
    eprintln!(
        "{CYCLES} cycles with stdout unread in {:?}",
        start.elapsed()
    );

    // Read the pipe again: the count of dropped lines comes, then new lines.
    let (tx, rx) = mpsc::channel();
    let mut stdout = reg.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut line = String::new();
        while matches!(stdout.read_line(&mut line), Ok(n) if n > 0) {
            if tx.send(std::mem::take(&mut line)).is_err() {
                break;
            }
        }
    });
    let wait_for = |needle: &str| -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) if l.contains(needle) => return l,
                Ok(_) => {}
                Err(_) => panic!("no line containing {needle:?}"),
            }
        }
    };
    let dropped = wait_for("log lines dropped");
    eprintln!("registry: {}", dropped.trim_end());
    let n: u64 = dropped
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .expect("a count");
    assert!(n > 0, "{dropped}");
    cycle(reg.addr, CYCLES).unwrap();
    wait_for("registered: cycler");
}

/// Already held: the connection cap refuses a connection past it cleanly
/// (ERROR too many connections, then close) and keeps serving the others.
#[test]
#[ignore = "abuse suite: make test-abuse"]
fn the_connection_cap_refuses_cleanly() {
    const CAP: usize = 30;
    let mut reg = Registry::start(&["--max-connections", &CAP.to_string()]);
    let mut held: Vec<Client> = (0..CAP).map(|_| Client::connect(reg.addr)).collect();
    for c in &mut held {
        assert_eq!(c.ask(&Message::Ping(1)), Message::Pong(1));
    }
    for _ in 0..10 {
        let mut extra = Client::connect(reg.addr);
        match extra.recv() {
            Some(Message::Error(e)) => assert_eq!(e.code, ErrorCode::TooManyConnections, "{e}"),
            other => panic!("past the cap: {other:?}"),
        }
        assert_eq!(extra.recv(), None);
    }
    let line = reg.proc.expect("refused connection from 127.0.0.1:");
    eprintln!("{CAP} held, 10 refused with ERROR and a close; registry: {line}");
    for c in &mut held {
        assert_eq!(c.ask(&Message::Ping(2)), Message::Pong(2));
    }
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let mut again = Client::connect(reg.addr);
        match again.ask(&Message::Ping(3)) {
            Message::Pong(3) => break,
            Message::Error(e) if e.code == ErrorCode::TooManyConnections => {
                assert!(Instant::now() < deadline, "no room after a close")
            }
            other => panic!("{other:?}"),
        }
    }
}

/// Already held: clients that send a frame one byte at a time are closed at
/// the idle timeout, and nobody else's lookups wait on them (max < 100 ms).
#[test]
#[ignore = "abuse suite: make test-abuse"]
fn slowloris_clients_time_out_without_hurting_others() {
    const SLOW: usize = 100;
    const IDLE: Duration = Duration::from_secs(1);
    let reg = Registry::start(&["--idle-timeout", "1"]);
    let mut alice = Client::connect(reg.addr);
    register(&mut alice, "alice", "127.0.0.1:4701");
    // Never finished, so the nonce it is signed for does not matter.
    let frame = register_msg("slowloris-slowloris", "127.0.0.1:4800", &[0; 32]).to_bytes();
    // Each: stream, when it was closed, what it received, bytes of the frame sent.
    let mut slow: Vec<(TcpStream, Option<Instant>, Vec<u8>, usize)> = (0..SLOW)
        .map(|_| {
            let s = TcpStream::connect(reg.addr).unwrap();
            s.set_nonblocking(true).unwrap();
            (s, None, Vec::new(), 0)
        })
        .collect();
    let start = Instant::now();
    let mut worst = Duration::ZERO;
    while start.elapsed() < IDLE * 3 && slow.iter().any(|(_, closed, _, _)| closed.is_none()) {
        for (s, closed, got, sent) in &mut slow {
            if closed.is_some() {
                continue;
            }
            let mut buf = [0u8; 256];
            match s.read(&mut buf) {
                Ok(0) => *closed = Some(Instant::now()),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    // One more byte of a frame that is never finished in time.
                    if let Some(b) = frame.get(*sent) {
                        let _ = s.write(std::slice::from_ref(b));
                        *sent += 1;
                    }
                }
                Err(_) => *closed = Some(Instant::now()),
            }
        }
        let t = Instant::now();
        lookup_found(&mut alice, "alice");
        worst = worst.max(t.elapsed());
        std::thread::sleep(Duration::from_millis(100));
    }
    let closed: Vec<Duration> = slow
        .iter()
        .filter_map(|(_, c, _, _)| c.map(|t| t - start))
        .collect();
    let goodbyes = slow
        .iter()
        .filter(|(_, _, got, _)| {
            let mut r = FrameReader::new();
            r.push(got);
            let mut next = || r.next_frame().ok().flatten().map(|f| Message::parse(&f));
            matches!(next(), Some(Ok(Message::Challenge(_))))
                && matches!(
                    next(),
                    Some(Ok(Message::Goodbye(GoodbyeReason::IdleTimeout)))
                )
        })
        .count();
    let last = closed.iter().max().copied();
    eprintln!(
        "{SLOW} slowloris clients: {} closed (last after {last:?}), {goodbyes} told idle timeout; others' lookup max {worst:?}",
        closed.len()
    );
    assert_eq!(closed.len(), SLOW, "every slow client is closed");
    assert_eq!(goodbyes, SLOW, "every slow client is told why");
    assert!(last.is_some_and(|t| t < IDLE * 2), "closed late: {last:?}");
    assert!(worst < Duration::from_millis(100), "lookup max {worst:?}");
}

/// Already held: random bytes close only the connection that sent them.
#[test]
#[ignore = "abuse suite: make test-abuse"]
fn garbage_closes_only_that_connection() {
    const CLIENTS: usize = 200;
    let reg = Registry::start(&[]);
    let mut alice = Client::connect(reg.addr);
    register(&mut alice, "alice", "127.0.0.1:4701");
    // A fixed-seed xorshift: the same garbage every run.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut closed = 0;
    for i in 0..CLIENTS {
        let mut bytes = vec![0u8; 64 + i * 7 % 512];
        for b in &mut bytes {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        if i % 2 == 0 {
            // Not the magic: refused from the first byte.
            bytes[0] = bytes[0].wrapping_add(1).max(0x51);
        } else {
            // A whole REGISTER frame of noise, so the garbage reaches the
            // parser: its name's length byte points past the payload.
            let len = (bytes.len() - 6) as u16;
            bytes[..6].copy_from_slice(&[
                0x50,
                0x43,
                peercall::wire::VERSION,
                0x03,
                (len >> 8) as u8,
                len as u8,
            ]);
            bytes[6] = 0xff;
        }
        let mut bad = Client::connect(reg.addr);
        bad.send_raw(&bytes);
        // One ERROR, then the close.
        match bad.recv() {
            Some(Message::Error(_)) => {}
            other => panic!("garbage client {i} got {other:?}"),
        }
        if bad.recv().is_none() {
            closed += 1;
        }
        lookup_found(&mut alice, "alice");
    }
    eprintln!("{CLIENTS} garbage clients: {closed} told ERROR and closed; alice still served");
    assert_eq!(closed, CLIENTS);
}

/// Already held: the registry killed with SIGKILL and started again on the
/// same port gets its peers back (they re-register on their own).
#[test]
#[ignore = "abuse suite: make test-abuse"]
fn peers_come_back_after_kill_and_restart() {
    let listen = format!("127.0.0.1:{}", free_port());
    let mut reg = Registry::start_on(&listen, &[]);
    let (mut a, _) = start_peer("alice", &listen);
    let (mut b, _) = start_peer("bob", &listen);
    a.expect("registered as alice");
    b.expect("registered as bob");
    reg.proc.signal("KILL");
    assert_eq!(reg.proc.wait_exit(), None, "killed by the signal");
    let killed = Instant::now();
    let mut reg = Registry::start_on(&listen, &[]);
    reg.proc.expect_unordered("registered: alice");
    reg.proc.expect_unordered("registered: bob");
    eprintln!(
        "both peers registered again {:?} after the kill",
        killed.elapsed()
    );
    let mut q = Client::connect(reg.addr);
    lookup_found(&mut q, "alice");
    lookup_found(&mut q, "bob");
}
