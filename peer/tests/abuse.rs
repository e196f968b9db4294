//! The peer's call port under abuse (issue 15, items 1 and 2): idle
//! connections that would take every pending slot, and a PING flood from
//! connections that never read their PONGs. Each test starts a real peer,
//! loads its call port from loopback addresses (127.0.0.0/8, so one test
//! machine can be many sources) for a bounded time, and asserts the figure
//! the issue names, printing what it measured.
//!
//! Run with `make test-abuse` (release build, one test at a time).

use peercall::call::MAX_PENDING_INCOMING;
use peercall::wire::{CallId, Invite, MediaPorts, Message, Name};
use peercall_peer::net::call_port::{
    FIRST_BYTES_WAIT, MAX_PENDING_PER_SOURCE, PENDING_INVITE_WAIT,
};
use peercall_testkit::noise::{printed_key, KeyDir, SecureClient};
use peercall_testkit::test_identity;
use peercall_testkit::{mjpeg_opus_offer, start_call, start_peer_with, Proc, Registry};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// The figure: a real call gets its answer this fast while the call
/// port is held by idle connections.
const CALL_WITHIN: Duration = Duration::from_secs(1);
/// The figure: the longest the control loop may stall in a flood.
const MAX_STALL: Duration = Duration::from_millis(50);
/// The figure: the peer's resident memory stays below this.
const MAX_RSS_KIB: u64 = 64 * 1024;
/// How long the flooders write.
const FLOOD: Duration = Duration::from_millis(2400);
/// A flood stops early once the peer is this large: the test has failed by
/// then, and a peer without bounds would otherwise take gigabytes.
const GIVE_UP_RSS_KIB: u64 = 512 * 1024;

/// A loopback source address: 127.0.0.`n`.
fn source(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, n)
}

/// The `sockaddr_in` of `a`, for the libc calls below.
fn sockaddr(a: SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: a.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*a.ip()).to_be(),
        },
        sin_zero: [0; 8],
    }
}

/// A TCP connection to `to` from the loopback address `from`: the standard
/// library cannot bind a stream before connecting, so this is the one place
/// the test uses the socket calls directly.
fn connect_from(from: Ipv4Addr, to: SocketAddr) -> io::Result<TcpStream> {
    let SocketAddr::V4(to) = to else {
        return Err(io::Error::other("an IPv4 call port is expected"));
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: socket() has no memory arguments; a non-negative result is a
    // new descriptor that nothing else owns, so OwnedFd may close it.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created and is owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let stream = TcpStream::from(fd);
    let (src, dst) = (sockaddr(SocketAddrV4::new(from, 0)), sockaddr(to));
    // SAFETY: both addresses are live sockaddr_in values of `len` bytes and
    // the descriptor is open (owned by `stream`).
    let bound = unsafe {
        libc::bind(
            stream.as_raw_fd(),
            (&src as *const libc::sockaddr_in).cast(),
            len,
        )
    };
    if bound != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as for bind.
    let connected = unsafe {
        libc::connect(
            stream.as_raw_fd(),
            (&dst as *const libc::sockaddr_in).cast(),
            len,
        )
    };
    if connected != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(stream)
}

/// A registry and a registered `peercall run` peer called bob that does
/// not answer calls by itself; returns them and bob's call port.
fn bob() -> (Registry, Proc, SocketAddr) {
    let reg = Registry::start(&[]);
    let (mut bob, addr) = start_peer_with("bob", &reg.arg(), &[]);
    bob.expect("registered as bob");
    let addr = addr.parse().expect("a call port address");
    (reg, bob, addr)
}

/// Places a call with a hand-made client (connect, handshake, INVITE) and
/// returns how long the callee took to say RINGING, then cancels it; `Err`
/// says what came instead.
fn ring(addr: SocketAddr, id: u64, bob: &mut Proc) -> Result<Duration, String> {
    let start = Instant::now();
    let mut c = SecureClient::call(addr, &test_identity("1"), printed_key(bob))
        .map_err(|e| format!("the handshake failed: {e:?}"))?;
    c.send(&Message::Invite(Invite {
        call_id: CallId(id),
        caller: Name::new("mallory").expect("a valid name"),
        ports: MediaPorts {
            audio: 40_000,
            video: 40_002,
        },
        media: mjpeg_opus_offer(640, 480, 20),
    }));
    let answer = c.recv();
    let took = start.elapsed();
    match answer {
        Some(Message::Ringing(CallId(got))) if got == id => {
            bob.expect("incoming call from mallory");
            c.send(&Message::Cancel(CallId(id)));
            bob.expect("call with mallory ended: the caller cancelled");
            Ok(took)
        }
        None => Err(format!(
            "the callee closed the connection after {} ms",
            took.as_millis()
        )),
        Some(other) => Err(format!("the callee answered {other:?}")),
    }
}

/// Opens `count` connections to `addr` from `from` that send nothing.
fn idle_connections(from: Ipv4Addr, addr: SocketAddr, count: usize) -> Vec<TcpStream> {
    (0..count)
        .map(|i| {
            connect_from(from, addr)
                .unwrap_or_else(|e| panic!("connection {i} from {from} to {addr}: {e}"))
        })
        .collect()
}

/// How many of `conns` the peer has closed: a read sees end of stream or a
/// reset, rather than waiting.
fn closed_by_peer(conns: &[TcpStream]) -> usize {
    let mut buf = [0u8; 64];
    conns
        .iter()
        .filter(|c| {
            let mut c: &TcpStream = c;
            c.set_nonblocking(true).expect("non-blocking");
            !matches!(c.read(&mut buf), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
        })
        .count()
}

/// Raw INVITEs get their RINGING within [`CALL_WITHIN`], and a real
/// `peercall call` rings, while the call port is held as `label` says.
fn calls_get_through(label: &str, addr: SocketAddr, reg: &Registry, bob: &mut Proc) {
    let mut worst = Duration::ZERO;
    for id in 1..=3 {
        let took = ring(addr, id, bob)
            .unwrap_or_else(|e| panic!("{label}: a raw INVITE got no RINGING: {e}"));
        worst = worst.max(took);
    }
    // Alice pins bob's key, so the call does not depend on the registry's.
    let keys = KeyDir::new("alice");
    std::fs::write(keys.file("allow"), format!("{} bob\n", printed_key(bob))).unwrap();
    let start = Instant::now();
    let mut alice = start_call(
        "bob",
        "alice",
        &reg.arg(),
        &["--allow", &keys.file("allow")],
    );
    alice.expect("ringing bob");
    let real = start.elapsed();
    bob.expect("incoming call from alice");
    bob.send_line("reject");
    alice.expect("call to bob rejected: declined");
    assert_eq!(alice.wait_exit(), Some(6), "{}", alice.output());
    eprintln!(
        "{label}: raw INVITE answered within {worst:?} (worst of 3); \
         `peercall call` (process start, lookup, connect) rang after {real:?}"
    );
    assert!(
        worst <= CALL_WITHIN,
        "{label}: INVITE answered after {worst:?}"
    );
    assert!(real <= CALL_WITHIN, "{label}: the call rang after {real:?}");
}

#[test]
#[ignore = "abuse suite: make test-abuse"]
fn a_call_connects_while_one_source_holds_1000_idle_connections() {
    let (reg, mut bob, addr) = bob();
    let held = idle_connections(source(2), addr, 1000);
    calls_get_through("1,000 idle from 127.0.0.2", addr, &reg, &mut bob);
    let closed = closed_by_peer(&held);
    eprintln!("1,000 idle from 127.0.0.2: the peer has closed {closed} of them");
    assert!(closed >= held.len() - MAX_PENDING_PER_SOURCE, "{closed}");
}

#[test]
#[ignore = "abuse suite: make test-abuse"]
fn a_call_connects_while_eight_sources_hold_eight_idle_connections_each() {
    let (reg, mut bob, addr) = bob();
    let held: Vec<TcpStream> = (2..10)
        .flat_map(|n| idle_connections(source(n), addr, 8))
        .collect();
    calls_get_through("8 idle from each of 127.0.0.2-9", addr, &reg, &mut bob);
    let closed = closed_by_peer(&held);
    eprintln!("8 idle from each of 127.0.0.2-9: the peer has closed {closed} of 64");
    assert!(closed >= held.len() - MAX_PENDING_INCOMING, "{closed}");
}

/// Waits (bounded by `limit`) for the peer to close `c`; returns how long it took.
fn time_to_close(c: &mut TcpStream, start: Instant, limit: Duration) -> Option<Duration> {
    c.set_read_timeout(Some(limit)).expect("read timeout");
    let mut buf = [0u8; 256];
    loop {
        match c.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Some(start.elapsed()),
            Err(_) => return None,
        }
        if start.elapsed() > limit {
            return None;
        }
    }
}

#[test]
#[ignore = "abuse suite: make test-abuse"]
fn pending_connections_are_closed_at_their_deadlines() {
    let (_reg, _bob, addr) = bob();
    let start = Instant::now();
    let mut silent = connect_from(source(2), addr).expect("connecting");
    let mut partial = connect_from(source(3), addr).expect("connecting");
    // A frame header that promises more than it sends: bytes, but never an INVITE.
    partial.write_all(b"PC\x02\x10\x00\x40").expect("writing");
    let limit = PENDING_INVITE_WAIT + Duration::from_secs(2);
    let silent_closed = time_to_close(&mut silent, start, limit);
    let partial_closed = time_to_close(&mut partial, start, limit);
    eprintln!(
        "silent connection closed after {silent_closed:?} (first bytes due within \
         {FIRST_BYTES_WAIT:?}); one with half a frame after {partial_closed:?} \
         (INVITE due within {PENDING_INVITE_WAIT:?})"
    );
    let margin = Duration::from_millis(500);
    let silent_closed = silent_closed.expect("the silent connection is closed");
    assert!(
        silent_closed >= FIRST_BYTES_WAIT && silent_closed <= FIRST_BYTES_WAIT + margin,
        "{silent_closed:?}"
    );
    let partial_closed = partial_closed.expect("the half-frame connection is closed");
    assert!(
        partial_closed >= PENDING_INVITE_WAIT && partial_closed <= PENDING_INVITE_WAIT + margin,
        "{partial_closed:?}"
    );
}

/// The peer's resident memory now and its peak, in KiB, from /proc.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Writes PINGs to `addr` from `from` until `stop`, never reading; when the
/// peer closes the connection, connects again. Returns the PINGs written.
fn flood(from: Ipv4Addr, addr: SocketAddr, stop: &AtomicBool) -> u64 {
    let ping_len = Message::Ping(0).to_bytes().len();
    let burst: Vec<u8> = (0..4096u64)
        .flat_map(|i| Message::Ping(i).to_bytes())
        .collect();
    let mut bytes = 0;
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut c) = connect_from(from, addr) else {
            continue;
        };
        // Short write timeouts so the stop flag is seen while the peer's
        // buffers are full; `at` keeps a partly written burst's place, so
        // the stream stays whole frames.
        let _ = c.set_write_timeout(Some(Duration::from_millis(20)));
        let mut at = 0;
        while !stop.load(Ordering::Relaxed) {
            match c.write(&burst[at..]) {
                Ok(0) => break,
                Ok(n) => {
                    bytes += n;
                    at = (at + n) % burst.len();
                }
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut
                        || e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }
    (bytes / ping_len) as u64
}

/// Samples the peer's VmRSS every few milliseconds until `done`; stops the
/// flood (`stop`) after [`FLOOD`] or once the peer passes
/// [`GIVE_UP_RSS_KIB`]. Returns the largest VmRSS seen.
fn watch_memory(pid: u32, start: Instant, stop: &AtomicBool, done: &AtomicBool) -> u64 {
    let mut peak = 0;
    while !done.load(Ordering::Relaxed) {
        let (rss, _) = memory_kib(pid);
        peak = peak.max(rss);
        if start.elapsed() >= FLOOD || rss > GIVE_UP_RSS_KIB {
            stop.store(true, Ordering::Relaxed);
        }
        thread::sleep(Duration::from_millis(5));
    }
    peak
}

/// Sends one PING on `probe` and waits for a PONG: the round trip.
fn ping_round_trip(
    probe: &mut TcpStream,
    reader: &mut peercall::wire::FrameReader,
    token: u64,
) -> Result<Duration, String> {
    let sent = Instant::now();
    probe
        .write_all(&Message::Ping(token).to_bytes())
        .map_err(|e| format!("writing the probe's PING: {e}"))?;
    let mut buf = [0u8; 4096];
    loop {
        match reader.next_frame() {
            Ok(Some(f)) => match Message::parse(&f) {
                Ok(Message::Pong(_)) => return Ok(sent.elapsed()),
                Ok(_) => continue,
                Err(e) => return Err(format!("bad message: {e}")),
            },
            Ok(None) => {}
            Err(e) => return Err(format!("bad framing: {e}")),
        }
        match probe.read(&mut buf) {
            Ok(0) => return Err("the peer closed the probe".to_string()),
            Ok(n) => reader.push(&buf[..n]),
            Err(e) => return Err(format!("reading the probe's PONG: {e}")),
        }
    }
}

#[test]
#[ignore = "abuse suite: make test-abuse"]
fn a_ping_flood_that_never_reads_is_bounded_and_the_loop_stays_responsive() {
    let (_reg, mut bob, addr) = bob();
    let pid = bob.pid();
    let (rss_before, _) = memory_kib(pid);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    // A third connection measures the loop: one PING at a time, its PONG's
    // round trip is how long the loop took to get to it.
    let mut probe = connect_from(source(5), addr).expect("connecting the probe");
    probe.set_nodelay(true).expect("nodelay");
    probe
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let start = Instant::now();
    let flooders: Vec<_> = [source(3), source(4)]
        .into_iter()
        .map(|from| {
            let stop = Arc::clone(&stop);
            thread::spawn(move || flood(from, addr, &stop))
        })
        .collect();
    let watcher = {
        let (stop, done) = (Arc::clone(&stop), Arc::clone(&done));
        thread::spawn(move || watch_memory(pid, start, &stop, &done))
    };
    let mut reader = peercall::wire::FrameReader::new();
    let mut rtts: Vec<Duration> = Vec::new();
    let mut probe_error = None;
    // The probe runs through the flood and a little after it.
    while start.elapsed() < FLOOD + Duration::from_millis(300) {
        match ping_round_trip(&mut probe, &mut reader, rtts.len() as u64) {
            Ok(rtt) => rtts.push(rtt),
            Err(e) => {
                probe_error = Some(e);
                break;
            }
        }
        thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    let pings: u64 = flooders
        .into_iter()
        .map(|t| t.join().expect("a flooder thread"))
        .sum();
    let flood_ms = start.elapsed().as_millis();
    // Memory after: once the peer has worked through what the flood left.
    let settled = ping_round_trip(&mut probe, &mut reader, u64::MAX);
    done.store(true, Ordering::Relaxed);
    let peak_rss = watcher.join().expect("the memory watcher");
    let (rss_after, hwm) = memory_kib(pid);
    rtts.sort();
    let at = |q: f64| {
        let i = ((rtts.len() as f64 * q) as usize).min(rtts.len().saturating_sub(1));
        rtts.get(i).copied().unwrap_or_default()
    };
    let worst_rtt = rtts.last().copied().unwrap_or_default();
    eprintln!(
        "PING flood, 2 connections that never read, {flood_ms} ms: {pings} PINGs written; \
         probe PONG round trip over {} PINGs: median {:?}, p99 {:?}, worst {:?}; \
         peer VmRSS {rss_before} KiB before, peak seen {peak_rss} KiB, {rss_after} KiB after, \
         VmHWM {hwm} KiB",
        rtts.len(),
        at(0.5),
        at(0.99),
        worst_rtt,
    );
    assert_eq!(probe_error, None, "the probe connection failed");
    assert!(settled.is_ok(), "the probe after the flood: {settled:?}");
    assert!(
        worst_rtt <= MAX_STALL,
        "the loop stalled {worst_rtt:?} (a PONG took that long)"
    );
    assert!(
        hwm < MAX_RSS_KIB,
        "the peer's memory peaked at {hwm} KiB (VmHWM)"
    );
    assert!(rss_after < MAX_RSS_KIB, "{rss_after} KiB after the flood");
    // Still a working peer: a call gets through after the flood.
    let took = ring(addr, 77, &mut bob).expect("a call after the flood");
    assert!(took <= CALL_WITHIN, "{took:?}");
}
