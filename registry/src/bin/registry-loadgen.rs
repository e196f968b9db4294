//! `registry-loadgen`: drives a running `peercall-registry` the way
//! `redis-benchmark` drives Redis, so that the two can be measured side by side
//! on one machine. It opens N connections, registers one distinct name per
//! connection, then issues M lookups of names that exist with exactly one
//! request in flight per connection, timing each from the moment it is written
//! to the moment its reply is read, and reports lookups per second with the
//! mean, median and 99th-percentile latency. With `--hold N` it instead
//! registers N connections and keeps them alive until it is killed or its
//! stdin closes, so that the registry's memory can be read with N live
//! registrations. Like redis-benchmark it is one thread around one event loop,
//! and every request frame is encoded before the clock starts, so that the
//! figures are the server's cost and not the client's.

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};
use peercall::identity::Identity;
use peercall::wire::{
    frame_len, msg_type, Frame, Message, Name, Register, HEADER_LEN, MAX_FRAME_LEN,
};
use std::fmt;
use std::fs::File;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the registry listens unless `--registry` says otherwise.
const DEFAULT_REGISTRY: &str = "127.0.0.1:4700";
/// Connections when `--connections` is not given (redis-benchmark's default).
const DEFAULT_CONNECTIONS: usize = 50;
/// Lookups when `--requests` is not given.
const DEFAULT_REQUESTS: usize = 100_000;
/// Call ports handed out to the registered names start here; each name needs
/// its own, because the registry refuses a second name on one endpoint.
const FIRST_ENDPOINT_PORT: u16 = 10_000;
/// One endpoint port per connection must fit below 65536.
const MAX_CONNECTIONS: usize = (u16::MAX - FIRST_ENDPOINT_PORT) as usize + 1;
/// Every latency is kept until the end to compute exact percentiles: 8 bytes a
/// lookup, so this caps the buffer at 400 MB.
const MAX_REQUESTS: usize = 50_000_000;
/// Connections being opened and registered at once. The registry listens with
/// a backlog of 128, and a SYN dropped by a full backlog is retried only after a
/// second, which would stall setup for nothing.
const SETUP_WINDOW: usize = 64;
/// A run in which nothing arrives for this long has failed; better one clear
/// line than a hang.
const STALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Keepalive period in `--hold` mode: a third of the registry's default 30 s
/// silence timeout, as real peers do.
const PING_INTERVAL: Duration = Duration::from_secs(10);
/// Bytes read from a socket in one call.
const READ_CHUNK: usize = 64 * 1024;
/// Token of the waker the stdin watcher uses; connection tokens count up from 0.
const STDIN_CLOSED: Token = Token(usize::MAX);
/// Exit code for a command line that cannot be understood (as the registry's).
const EXIT_USAGE: u8 = 64;
/// Exit code for a run that failed or saw unexpected replies.
const EXIT_FAILURE: u8 = 1;

const HELP: &str = "\
registry-loadgen: measure a peercall registry's lookup throughput and latency

USAGE:
    registry-loadgen [--registry ADDR] [--connections N] [--requests M] [--csv]
    registry-loadgen [--registry ADDR] --hold N

OPTIONS:
    --registry ADDR     the registry, IP:PORT (default 127.0.0.1:4700)
    --connections N     connections, each registering its own name (default 50)
    --requests M        lookups in total, one in flight per connection (default 100000)
    --csv               print a CSV header and one CSV line instead of a sentence:
                        connections,requests,lookups_per_s,mean_ms,p50_ms,p99_ms,max_ms,errors
    --hold N            register N connections, print `holding N registrations`, and keep
                        them alive (PING every 10 s) until killed or stdin closes
    -h, --help          print this help

Latency runs from writing a LOOKUP to reading its reply. A reply other than the
expected FOUND is counted as an error; any error makes the exit status 1.
";

/// What the command line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Measure `requests` lookups over `connections` connections.
    Bench {
        connections: usize,
        requests: usize,
        csv: bool,
    },
    /// Keep `connections` registrations alive.
    Hold { connections: usize },
}

/// What `main` does after parsing: run, or print help and stop.
enum Parsed {
    Run(SocketAddr, Mode),
    Exit(&'static str),
}

/// A whole number from 1 to `max` given to `flag`.
fn count(flag: &str, v: &str, max: usize) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "{flag} takes a whole number from 1 to {max} (got '{v}')"
        )),
    }
}

fn parse_args() -> Result<Parsed, String> {
    use lexopt::prelude::*;
    let mut registry = DEFAULT_REGISTRY;
    let mut registry_arg = None;
    let mut connections = None;
    let mut requests = None;
    let mut csv = false;
    let mut hold = None;
    let mut p = lexopt::Parser::from_env();
    let value = |p: &mut lexopt::Parser, flag: &str| -> Result<String, String> {
        p.value()
            .map_err(|_| format!("{flag} needs a value; see --help"))?
            .into_string()
            .map_err(|_| format!("{flag} needs a UTF-8 value"))
    };
    while let Some(arg) = p.next().map_err(|e| format!("{e}; see --help"))? {
        match arg {
            Long("registry") => registry_arg = Some(value(&mut p, "--registry")?),
            Long("connections") => {
                let v = value(&mut p, "--connections")?;
                connections = Some(count("--connections", &v, MAX_CONNECTIONS)?);
            }
            Long("requests") => {
                let v = value(&mut p, "--requests")?;
                requests = Some(count("--requests", &v, MAX_REQUESTS)?);
            }
            Long("csv") => csv = true,
            Long("hold") => {
                let v = value(&mut p, "--hold")?;
                hold = Some(count("--hold", &v, MAX_CONNECTIONS)?);
            }
            Short('h') | Long("help") => return Ok(Parsed::Exit(HELP)),
            other => return Err(format!("{}; see --help", other.unexpected())),
        }
    }
    if let Some(a) = registry_arg.as_deref() {
        registry = a;
    }
    let addr = registry.parse::<SocketAddr>().map_err(|_| {
        format!("--registry takes IP:PORT, like {DEFAULT_REGISTRY} (got '{registry}')")
    })?;
    let mode = match hold {
        Some(_) if connections.is_some() || requests.is_some() || csv => return Err(
            "--hold measures memory, not lookups: leave out --connections, --requests and --csv"
                .into(),
        ),
        Some(n) => Mode::Hold { connections: n },
        None => Mode::Bench {
            connections: connections.unwrap_or(DEFAULT_CONNECTIONS),
            requests: requests.unwrap_or(DEFAULT_REQUESTS),
            csv,
        },
    };
    Ok(Parsed::Run(addr, mode))
}

/// Frames encoded once, before the clock starts, laid end to end in one
/// buffer, so that sending one costs a slice and not an allocation.
struct FrameSet {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl FrameSet {
    /// Encodes every message, in order.
    fn encode(msgs: impl Iterator<Item = Message>) -> FrameSet {
        let mut set = FrameSet {
            bytes: Vec::new(),
            ends: Vec::new(),
        };
        for m in msgs {
            m.emit_into(&mut set.bytes);
            set.ends.push(set.bytes.len());
        }
        set
    }

    /// The `i`th frame.
    fn get(&self, i: usize) -> &[u8] {
        let start = i.checked_sub(1).map_or(0, |p| self.ends[p]);
        &self.bytes[start..self.ends[i]]
    }
}

/// Where one connection stands.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// The connect was issued; whether it succeeded shows when it turns writable.
    Connecting,
    /// Connected: waiting for the CHALLENGE, then REGISTER sent, REGISTERED
    /// not yet read.
    Registering,
    /// Registered, nothing in flight.
    Idle,
    /// A lookup of name `target` was written at `sent`; its reply is not read yet.
    Waiting { target: usize, sent: Instant },
}

/// One connection to the registry, holding one registration.
struct Conn {
    stream: TcpStream,
    phase: Phase,
    /// What a short write left unsent (rare on loopback); sent when writable.
    unsent: Vec<u8>,
    /// A reply split across reads.
    partial: Vec<u8>,
}

/// Lookup progress and the latency of every lookup answered.
#[derive(Default)]
struct Tally {
    total: usize,
    issued: usize,
    answered: usize,
    errors: usize,
    next_target: usize,
    latencies_ns: Vec<u64>,
    started: Option<Instant>,
    last_reply: Option<Instant>,
}

/// The connections, the frames they send, and the lookup tally.
struct Client {
    poll: Poll,
    registry: SocketAddr,
    wanted: usize,
    conns: Vec<Conn>,
    registered: usize,
    /// Names are `{prefix}{index}`; the prefix holds the process id so that
    /// runs following each other never collide on a name the registry has not
    /// yet seen leave.
    prefix: String,
    /// The name and endpoint connection `i` registers, signed when its
    /// CHALLENGE arrives.
    claims: Vec<(Name, SocketAddr)>,
    /// The one key all of this run's names are bound to.
    identity: Identity,
    lookups: FrameSet,
    scratch: Vec<u8>,
    /// Empty (no lookups to issue) until [`Client::bench`] starts.
    tally: Tally,
    stdin_closed: bool,
}

/// The figures of one run.
struct Summary {
    connections: usize,
    requests: usize,
    errors: usize,
    elapsed: Duration,
    mean: Duration,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl Summary {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn csv(&self) -> String {
        format!(
            "connections,requests,lookups_per_s,mean_ms,p50_ms,p99_ms,max_ms,errors\n\
             {},{},{:.2},{:.3},{:.3},{:.3},{:.3},{}",
            self.connections,
            self.requests,
            self.per_second(),
            ms(self.mean),
            ms(self.p50),
            ms(self.p99),
            ms(self.max),
            self.errors
        )
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} connections, {} lookups in {:.3} s: {:.0} lookups/s; latency mean {:.3} ms, \
             p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; {} unexpected replies",
            self.connections,
            self.requests,
            self.elapsed.as_secs_f64(),
            self.per_second(),
            ms(self.mean),
            ms(self.p50),
            ms(self.p99),
            ms(self.max),
            self.errors
        )
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Nearest-rank percentile of sorted samples (the one redis-benchmark reports).
fn percentile(sorted_ns: &[u64], p: f64) -> Duration {
    if sorted_ns.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p / 100.0 * sorted_ns.len() as f64).ceil() as usize;
    Duration::from_nanos(sorted_ns[rank.clamp(1, sorted_ns.len()) - 1])
}

/// Writes `frame`, keeping what the socket did not take for the next writable event.
fn send(conn: &mut Conn, frame: &[u8]) -> io::Result<()> {
    if !conn.unsent.is_empty() {
        conn.unsent.extend_from_slice(frame);
        return flush(conn);
    }
    loop {
        match conn.stream.write(frame) {
            Ok(n) => {
                conn.unsent.extend_from_slice(&frame[n..]);
                return Ok(());
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                conn.unsent.extend_from_slice(frame);
                return Ok(());
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Writes what earlier short writes left, as far as the socket takes it.
fn flush(conn: &mut Conn) -> io::Result<()> {
    let mut written = 0;
    let result = loop {
        if written == conn.unsent.len() {
            break Ok(());
        }
        match conn.stream.write(&conn.unsent[written..]) {
            Ok(0) => break Err(ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    conn.unsent.drain(..written);
    result
}

/// A reply in words, for error lines.
fn describe(frame: &[u8]) -> String {
    match Message::parse_bytes(frame) {
        Ok(Message::Error(e)) => format!("ERROR ({e})"),
        Ok(Message::NameTaken(n)) => format!("NAME TAKEN for {n}"),
        Ok(Message::EndpointTaken(a)) => format!("ENDPOINT TAKEN for {a}"),
        Ok(Message::AlreadyRegistered(a)) => format!("ALREADY REGISTERED ({:?})", a.status),
        Ok(Message::NotFound(n)) => format!("NOT FOUND for {n}"),
        Ok(Message::Goodbye(r)) => format!("GOODBYE ({r})"),
        Ok(m) => format!("a message of type {:#04x}", m.msg_type()),
        Err(e) => format!("a malformed message ({e})"),
    }
}

impl Client {
    fn new(registry: SocketAddr, wanted: usize) -> Result<Client, String> {
        let pid = std::process::id();
        let prefix = format!("lg{pid}-");
        // The endpoints are only recorded, never dialled; a loopback address
        // derived from the process id keeps concurrent runs' endpoints apart.
        let ip = IpAddr::V4(Ipv4Addr::from(0x7f00_0000 | (pid & 0x00ff_ffff)));
        let names: Vec<Name> = (0..wanted)
            .map(|i| Name::new(&format!("{prefix}{i}")))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("cannot build a peer name: {e}"))?;
        let claims = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                // MAX_CONNECTIONS keeps this in range.
                let port = FIRST_ENDPOINT_PORT + i as u16;
                (name.clone(), SocketAddr::new(ip, port))
            })
            .collect();
        // A throwaway key: the names are this run's alone.
        let mut seed = [0u8; 32];
        File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut seed))
            .map_err(|e| format!("cannot read /dev/urandom for a key: {e}"))?;
        let identity = Identity::from_seed(&seed);
        let lookups = FrameSet::encode(names.into_iter().map(Message::Lookup));
        Ok(Client {
            poll: Poll::new().map_err(|e| format!("cannot set up the event loop: {e}"))?,
            registry,
            wanted,
            conns: Vec::with_capacity(wanted),
            registered: 0,
            prefix,
            claims,
            identity,
            lookups,
            scratch: vec![0; READ_CHUNK],
            tally: Tally::default(),
            stdin_closed: false,
        })
    }

    /// The name connection `i` registers (for error lines only: it allocates).
    fn name(&self, i: usize) -> String {
        format!("{}{i}", self.prefix)
    }

    /// Opens connections until [`SETUP_WINDOW`] are being set up or all are open.
    fn open_more(&mut self) -> Result<(), String> {
        while self.conns.len() < self.wanted && self.conns.len() - self.registered < SETUP_WINDOW {
            let i = self.conns.len();
            let mut stream = TcpStream::connect(self.registry).map_err(|e| {
                // EMFILE: the usual reason a large run cannot open its connections.
                let hint = if e.raw_os_error() == Some(24) {
                    " (raise the open-file limit: ulimit -n)"
                } else {
                    ""
                };
                format!(
                    "cannot open connection {} to {}: {e}{hint}",
                    i + 1,
                    self.registry
                )
            })?;
            self.poll
                .registry()
                .register(
                    &mut stream,
                    Token(i),
                    // Both interests for good: epoll is edge-triggered here, so
                    // writability costs no wakeups while nothing is unsent.
                    Interest::READABLE | Interest::WRITABLE,
                )
                .map_err(|e| format!("cannot watch connection {}: {e}", i + 1))?;
            self.conns.push(Conn {
                stream,
                phase: Phase::Connecting,
                unsent: Vec::new(),
                partial: Vec::new(),
            });
        }
        Ok(())
    }

    /// Opens and registers every connection.
    fn register_all(&mut self, events: &mut Events) -> Result<(), String> {
        self.open_more()?;
        while self.registered < self.wanted {
            if !self.turn(events, Some(STALL_TIMEOUT))? {
                return Err(format!(
                    "the registry at {} stopped answering: {} of {} connections registered",
                    self.registry, self.registered, self.wanted
                ));
            }
            self.open_more()?;
        }
        Ok(())
    }

    /// Waits for events once and handles them; false when none came in time.
    fn turn(&mut self, events: &mut Events, timeout: Option<Duration>) -> Result<bool, String> {
        if let Err(e) = self.poll.poll(events, timeout) {
            if e.kind() == ErrorKind::Interrupted {
                return Ok(true);
            }
            return Err(format!("event loop failed: {e}"));
        }
        for ev in events.iter() {
            if ev.token() == STDIN_CLOSED {
                self.stdin_closed = true;
                continue;
            }
            let i = ev.token().0;
            // Writable first: that is where a failed connect is reported.
            if ev.is_writable() {
                self.on_writable(i)?;
            }
            let closing = ev.is_read_closed() || ev.is_error();
            if ev.is_readable() || closing {
                self.on_readable(i, closing)?;
            }
        }
        Ok(!events.is_empty())
    }

    fn on_writable(&mut self, i: usize) -> Result<(), String> {
        let registry = self.registry;
        let conn = &mut self.conns[i];
        if let Phase::Connecting = conn.phase {
            if let Ok(Some(e)) | Err(e) = conn.stream.take_error() {
                return Err(format!("cannot connect to the registry at {registry}: {e}"));
            }
            match conn.stream.peer_addr() {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::NotConnected => return Ok(()),
                Err(e) => return Err(format!("cannot connect to the registry at {registry}: {e}")),
            }
            // As redis-benchmark (hiredis) does: a request must not wait for Nagle.
            let _ = conn.stream.set_nodelay(true);
            // REGISTER follows the registry's CHALLENGE.
            conn.phase = Phase::Registering;
            return Ok(());
        }
        flush(conn).map_err(|e| format!("connection {}: write failed: {e}", i + 1))
    }

    /// Reads what arrived on connection `i`; `closing` when the event also
    /// reported the end of the stream or an error, which must then be read too.
    fn on_readable(&mut self, i: usize, closing: bool) -> Result<(), String> {
        // Taken out so that frames can be handled with `&mut self` while they
        // borrow the buffer; put back below, so nothing is allocated.
        let mut scratch = std::mem::take(&mut self.scratch);
        let result = self.read_from(i, &mut scratch, closing);
        self.scratch = scratch;
        result
    }

    fn read_from(&mut self, i: usize, scratch: &mut [u8], closing: bool) -> Result<(), String> {
        loop {
            let n = match self.conns[i].stream.read(scratch) {
                Ok(0) => {
                    return Err(format!(
                        "the registry closed the connection of {}",
                        self.name(i)
                    ))
                }
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("connection of {}: read failed: {e}", self.name(i))),
            };
            let now = Instant::now();
            if self.conns[i].partial.is_empty() {
                let rest = self.take_frames(i, &scratch[..n], now)?;
                self.conns[i].partial.extend_from_slice(rest);
            } else {
                let mut buf = std::mem::take(&mut self.conns[i].partial);
                buf.extend_from_slice(&scratch[..n]);
                let rest = self.take_frames(i, &buf, now)?.len();
                buf.drain(..buf.len() - rest);
                self.conns[i].partial = buf;
            }
            // A short read means the kernel handed over all it had, and a later
            // arrival raises a new edge: the read that would only say
            // WouldBlock is skipped, as tokio does, to keep the client cheap.
            // Not when the stream's end was reported with this same edge: no
            // later edge would report it again.
            if n < scratch.len() && !closing {
                return Ok(());
            }
        }
    }

    /// Handles every whole frame at the front of `buf`; returns the incomplete rest.
    fn take_frames<'a>(
        &mut self,
        i: usize,
        mut buf: &'a [u8],
        now: Instant,
    ) -> Result<&'a [u8], String> {
        loop {
            match frame_len(buf) {
                Ok(Some(n)) => {
                    self.on_frame(i, &buf[..n], now)?;
                    buf = &buf[n..];
                }
                Ok(None) => {
                    debug_assert!(buf.len() < MAX_FRAME_LEN);
                    return Ok(buf);
                }
                Err(e) => {
                    return Err(format!(
                        "the registry sent {} bytes that are not a peercall frame: {e}",
                        self.name(i)
                    ))
                }
            }
        }
    }

    fn on_frame(&mut self, i: usize, frame: &[u8], now: Instant) -> Result<(), String> {
        let f = Frame::new_checked(frame).map_err(|e| format!("bad frame: {e}"))?;
        let kind = f.msg_type();
        if kind == msg_type::GOODBYE {
            return Err(format!(
                "the registry ended the connection of {}: {}",
                self.name(i),
                describe(frame)
            ));
        }
        if kind == msg_type::PING {
            // A registry may ping (version 1 probed holders this way);
            // answering costs nothing.
            if let Ok(Message::Ping(token)) = Message::parse_bytes(frame) {
                send(&mut self.conns[i], &Message::Pong(token).to_bytes())
                    .map_err(|e| format!("connection {}: write failed: {e}", i + 1))?;
            }
            return Ok(());
        }
        if kind == msg_type::CHALLENGE {
            if let (Phase::Registering, Ok(Message::Challenge(nonce))) =
                (self.conns[i].phase, Message::parse_bytes(frame))
            {
                let (name, addr) = self.claims[i].clone();
                let reg = Register::signed(&self.identity, name, addr, &nonce);
                send(&mut self.conns[i], &Message::Register(reg).to_bytes())
                    .map_err(|e| format!("connection {}: write failed: {e}", i + 1))?;
            }
            return Ok(());
        }
        match self.conns[i].phase {
            Phase::Registering => match Message::parse_bytes(frame) {
                Ok(Message::Registered(r)) if r.name.as_str() == self.name(i) => {
                    self.conns[i].phase = Phase::Idle;
                    self.registered += 1;
                    Ok(())
                }
                _ => Err(format!(
                    "registering {} failed: the registry answered {}",
                    self.name(i),
                    describe(frame)
                )),
            },
            Phase::Waiting { target, sent } => {
                // A FOUND for the right name is recognised by its type and by its
                // payload starting with the name field of the LOOKUP, which spares
                // parsing (and allocating) on the measured path.
                let asked = &self.lookups.get(target)[HEADER_LEN..];
                let tally = &mut self.tally;
                if kind == msg_type::FOUND && f.payload().starts_with(asked) {
                    let ns = now.saturating_duration_since(sent).as_nanos();
                    tally
                        .latencies_ns
                        .push(u64::try_from(ns).unwrap_or(u64::MAX));
                } else {
                    tally.errors += 1;
                    log::debug!(
                        "lookup {} of {}: unexpected reply {}",
                        tally.answered + 1,
                        tally.total,
                        describe(frame)
                    );
                }
                tally.answered += 1;
                tally.last_reply = Some(now);
                self.conns[i].phase = Phase::Idle;
                self.send_lookup(i)
            }
            Phase::Idle if kind == msg_type::PONG => Ok(()),
            Phase::Idle | Phase::Connecting => {
                self.tally.errors += 1;
                log::warn!(
                    "connection of {}: unexpected {}",
                    self.name(i),
                    describe(frame)
                );
                Ok(())
            }
        }
    }

    /// Sends connection `i` its next lookup, unless all have been issued.
    fn send_lookup(&mut self, i: usize) -> Result<(), String> {
        let t = &mut self.tally;
        if t.issued == t.total {
            return Ok(());
        }
        t.issued += 1;
        let target = t.next_target;
        t.next_target = (target + 1) % self.wanted;
        let conn = &mut self.conns[i];
        conn.phase = Phase::Waiting {
            target,
            sent: Instant::now(),
        };
        send(conn, self.lookups.get(target))
            .map_err(|e| format!("connection {}: write failed: {e}", i + 1))
    }

    /// Runs `total` lookups over the registered connections.
    fn bench(&mut self, events: &mut Events, total: usize) -> Result<Summary, String> {
        self.tally = Tally {
            total,
            latencies_ns: Vec::with_capacity(total),
            started: Some(Instant::now()),
            ..Tally::default()
        };
        for i in 0..self.conns.len() {
            self.send_lookup(i)?;
        }
        while self.tally.answered < total {
            if !self.turn(events, Some(STALL_TIMEOUT))? {
                return Err(format!(
                    "the registry at {} stopped answering after {} of {total} lookups",
                    self.registry, self.tally.answered
                ));
            }
        }
        let t = &mut self.tally;
        let lat = &mut t.latencies_ns;
        lat.sort_unstable();
        let sum: u128 = lat.iter().map(|&n| u128::from(n)).sum();
        let mean = match lat.len() {
            0 => Duration::ZERO,
            n => Duration::from_nanos(u64::try_from(sum / n as u128).unwrap_or(u64::MAX)),
        };
        let elapsed = match (t.started, t.last_reply) {
            (Some(a), Some(b)) => b.saturating_duration_since(a),
            _ => Duration::ZERO,
        };
        Ok(Summary {
            connections: self.wanted,
            requests: total,
            errors: t.errors,
            elapsed,
            mean,
            p50: percentile(lat, 50.0),
            p99: percentile(lat, 99.0),
            max: Duration::from_nanos(lat.last().copied().unwrap_or(0)),
        })
    }

    /// Keeps every registration alive until stdin closes.
    fn hold(&mut self, events: &mut Events) -> Result<(), String> {
        let waker = Waker::new(self.poll.registry(), STDIN_CLOSED)
            .map_err(|e| format!("cannot set up the event loop: {e}"))?;
        // The loop keeps its own handle: dropping the last one closes the
        // eventfd, which would withdraw a wakeup not yet polled.
        let waker = Arc::new(waker);
        let stdin_waker = Arc::clone(&waker);
        // Blocking on stdin in a thread is the portable way to see it close
        // without raw file descriptors in the event loop.
        std::thread::spawn(move || {
            let mut sink = [0u8; 512];
            let mut stdin = io::stdin().lock();
            loop {
                match stdin.read(&mut sink) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = stdin_waker.wake();
        });
        let mut round = 0u64;
        let mut next_ping = Instant::now() + PING_INTERVAL;
        while !self.stdin_closed {
            let now = Instant::now();
            if now >= next_ping {
                round += 1;
                let ping = Message::Ping(round).to_bytes();
                for (i, conn) in self.conns.iter_mut().enumerate() {
                    send(conn, &ping)
                        .map_err(|e| format!("connection {}: write failed: {e}", i + 1))?;
                }
                next_ping = now + PING_INTERVAL;
            }
            self.turn(events, Some(next_ping.saturating_duration_since(now)))?;
        }
        Ok(())
    }
}

fn run(registry: SocketAddr, mode: Mode) -> Result<ExitCode, String> {
    let wanted = match mode {
        Mode::Bench { connections, .. } | Mode::Hold { connections } => connections,
    };
    let mut client = Client::new(registry, wanted)?;
    let mut events = Events::with_capacity(1024);
    client.register_all(&mut events)?;
    match mode {
        Mode::Bench { requests, csv, .. } => {
            let summary = client.bench(&mut events, requests)?;
            if csv {
                println!("{}", summary.csv());
            } else {
                println!("{summary}");
            }
            if summary.errors > 0 {
                eprintln!(
                    "registry-loadgen: {} of {} lookups got an unexpected reply (details: RUST_LOG=debug)",
                    summary.errors, summary.requests
                );
                return Ok(ExitCode::from(EXIT_FAILURE));
            }
        }
        Mode::Hold { connections } => {
            println!("holding {connections} registrations");
            let _ = io::stdout().flush();
            client.hold(&mut events)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let (registry, mode) = match parse_args() {
        Ok(Parsed::Run(a, m)) => (a, m),
        Ok(Parsed::Exit(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("registry-loadgen: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match run(registry, mode) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("registry-loadgen: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
