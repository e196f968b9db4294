//! The registry's one mio event loop: accept connections, cut their bytes into
//! frames, feed the [`Registry`] machine, write what it says, and print what
//! happened. Per-connection memory is bounded: a partial frame at most on the
//! way in, [`MAX_OUTBOUND_BYTES`] on the way out.
//!
//! One turn of the loop, and why it is in this order:
//!
//! ```text
//!  poll (timeout 0 while a connection or the listener has bytes left over)
//!   wake = now
//!   accept up to ACCEPT_BUDGET_PER_TURN (per-source limit, then the cap)
//!   every ready connection in turn: read up to READ_BUDGET_PER_TURN,
//!     feed the registry at `wake`, answer; not drained? stays ready
//!   registry timers due at `wake`
//!   write, print (through the stdout queue, never waiting on stdout)
//! ```
//!
//! Fairness: each connection gets at most [`READ_BUDGET_PER_TURN`] bytes a
//! turn, so one client streaming frames cannot hold the loop; mio is
//! edge-triggered, so a connection left with unread bytes is kept on a ready
//! list and served again next turn before the loop sleeps.
//!
//! Time: everything read in a turn is fed at the instant the poll woke, and
//! the timers due are run after the reads, at that same instant. Every byte
//! that reached a socket before the wake-up has then been seen (it raised an
//! event in that poll, or sits on a connection served this turn), so a
//! connection's silence is judged by when its last frame arrived, not by when
//! a busy loop got to it.
//!
//! Around the machine: each accepted connection gets a nonce from
//! /dev/urandom for its CHALLENGE, the wall clock is handed to the registry
//! every turn (leases count in Unix time), and the name bindings are saved to
//! the state directory when they change and every
//! [`LAST_SEEN_SAVE_INTERVAL`] while names are held.
use crate::state::{StateDir, LAST_SEEN_SAVE_INTERVAL};
use crate::stdout_queue::StdoutQueue;
use crate::systemd::Notifier;
use crate::table::Printer;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use peercall::registry::{Binding, Config, ConnId, Input, Output, Registry};
use peercall::wire::{frame_len, ErrorCode, ErrorMsg, Message, Nonce, MAX_FRAME_LEN};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::fs::File;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv6Addr, Shutdown, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const LISTENER: Token = Token(0);
const SIGNALS: Token = Token(1);
/// Connection tokens start here and only grow, so a stale event can never hit
/// a newer connection.
const FIRST_CONN: usize = 2;

/// Answers queued for a connection beyond this mean it is not reading them: it
/// is closed rather than allowed to grow the queue (one bound for the
/// registry and the peer, in the library).
pub use peercall::wire::MAX_OUTBOUND_BYTES;
/// How long a closing connection may take to accept its last frames (GOODBYE).
pub const CLOSE_LINGER: Duration = Duration::from_secs(2);
/// How long shutdown waits for GOODBYEs to be written.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);
/// Bytes read from one connection in one turn of the loop, at most: enough
/// for the largest frame ([`MAX_FRAME_LEN`]) and a dozen small ones, and
/// little enough that a client streaming frames as fast as it can costs the
/// others a fraction of a millisecond per turn. A connection with more to
/// read stays on the ready list for the next turn.
pub const READ_BUDGET_PER_TURN: usize = 16 * 1024;
/// Connections accepted in one turn of the loop, at most, so a connection
/// flood cannot hold up the connections already served; the rest of the
/// backlog is accepted next turn.
pub const ACCEPT_BUDGET_PER_TURN: usize = 64;
/// Connections one source may hold at once (an IPv4 address, or an IPv6 /64,
/// the block one host is given), so one host cannot take all
/// [`MAX_CONNECTIONS`](peercall::registry::MAX_CONNECTIONS). Past it a
/// connection is refused as the cap refuses: ERROR too many connections, then
/// close. A sixteenth of the cap: room for a site of boards behind one NAT
/// address. `--max-connections-per-ip` changes it.
pub const MAX_CONNECTIONS_PER_SOURCE: usize = 1024;
/// How long the registry waits at exit for its last lines to reach stdout;
/// a reader that stopped reading must not keep it from exiting.
pub const STDOUT_DRAIN_AT_EXIT: Duration = Duration::from_secs(1);
/// Events taken from one poll.
const EVENTS_PER_POLL: usize = 1024;
/// File descriptors kept free of connections (listener, signal pipe, epoll, stdio).
const RESERVED_FDS: usize = 16;

/// Why the server could not start or stopped abnormally.
#[derive(Debug)]
pub enum ServerError {
    /// The listening socket could not be bound.
    Bind(SocketAddr, io::Error),
    /// Setting up the event loop or the signal handler failed.
    Setup(io::Error),
    /// Polling for events failed.
    Poll(io::Error),
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::Bind(a, e) if e.kind() == ErrorKind::AddrInUse => write!(
                f,
                "cannot listen on {a}: the address is in use (is another registry running?); pick another with --listen"
            ),
            ServerError::Bind(a, e) if e.kind() == ErrorKind::AddrNotAvailable => write!(
                f,
                "cannot listen on {a}: no interface of this machine has that address; use 0.0.0.0 or one of its own addresses"
            ),
            ServerError::Bind(a, e) if e.kind() == ErrorKind::PermissionDenied => write!(
                f,
                "cannot listen on {a}: permission denied (ports below 1024 need privileges); use a port like 4700"
            ),
            ServerError::Bind(a, e) => write!(f, "cannot listen on {a}: {e}"),
            ServerError::Setup(e) => write!(f, "cannot set up the event loop: {e}"),
            ServerError::Poll(e) => write!(f, "event loop failed: {e}"),
        }
    }
}

struct Conn {
    stream: TcpStream,
    /// The source it counts against, or `None` for a connection refused at
    /// accept (it counts against nothing while its refusal is written).
    source: Option<IpAddr>,
    /// On the ready list: it may have bytes not read yet.
    ready: bool,
    /// A partial frame carried over between reads.
    inbuf: Vec<u8>,
    out: Vec<u8>,
    /// Set when the registry has let go of this connection: flush, then close.
    closing: Option<Instant>,
    write_interest: bool,
}

struct Server {
    poll: Poll,
    listener: TcpListener,
    reg: Registry,
    conns: HashMap<usize, Conn>,
    next_token: usize,
    printer: Printer<StdoutQueue>,
    scratch: Vec<u8>,
    /// Connections with output queued since the last flush.
    dirty: Vec<usize>,
    /// Closing connections in the order they began to close, so finding the
    /// ones past [`CLOSE_LINGER`] costs nothing per turn when there are none
    /// (a flood makes turns short and many; 10,000 idle connections must not
    /// be walked in each). An entry whose connection is gone is skipped.
    lingering: VecDeque<(Instant, usize)>,
    /// Connections that may have unread bytes, served in turn.
    ready: VecDeque<usize>,
    /// The listener may have connections waiting to be accepted.
    listener_ready: bool,
    /// Open connections per source (see [`source_of`]).
    per_source: HashMap<IpAddr, usize>,
    /// See [`MAX_CONNECTIONS_PER_SOURCE`].
    max_per_source: usize,
    /// Connections refused for the per-source limit since the start.
    refused_per_source: u64,
    /// Readiness and watchdog pings for systemd (nothing outside systemd).
    systemd: Notifier,
    /// The kernel's random source, for each connection's CHALLENGE nonce.
    urandom: File,
    /// Where the name bindings are saved.
    state: StateDir,
    /// When the bindings are saved next while names are held, so their
    /// owners' last sighting on disk stays recent.
    next_refresh: Instant,
}

/// Seconds since the Unix epoch, by the wall clock.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The soft limit on open files, read from /proc (no unsafe `getrlimit`).
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The source a connection from `ip` counts against: the IPv4 address, or
/// the /64 an IPv6 address is in (one host typically has a whole /64).
fn source_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

/// Runs the registry on `listen` until SIGINT or SIGTERM, with at most
/// `max_per_source` connections from one source (see
/// [`MAX_CONNECTIONS_PER_SOURCE`]).
pub fn run(
    listen: SocketAddr,
    mut config: Config,
    max_per_source: usize,
    state: StateDir,
    saved: Vec<Binding>,
) -> Result<(), ServerError> {
    if let Some(limit) = open_file_limit() {
        let fit = limit.saturating_sub(RESERVED_FDS).max(1);
        if config.max_connections > fit {
            log::warn!(
                "open-file limit {limit} allows {fit} connections, not {}; raise it (ulimit -n, LimitNOFILE=) to serve more",
                config.max_connections
            );
            config.max_connections = fit;
        }
    }
    let poll = Poll::new().map_err(ServerError::Setup)?;
    let mut listener = TcpListener::bind(listen).map_err(|e| ServerError::Bind(listen, e))?;
    let bound = listener.local_addr().map_err(ServerError::Setup)?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .map_err(ServerError::Setup)?;
    let mut signals = Signals::new([SIGINT, SIGTERM]).map_err(ServerError::Setup)?;
    poll.registry()
        .register(&mut signals, SIGNALS, Interest::READABLE)
        .map_err(ServerError::Setup)?;

    let urandom = File::open("/dev/urandom").map_err(ServerError::Setup)?;
    let now = Instant::now();
    let mut reg = Registry::new(config);
    reg.set_wall_clock(now, unix_now());
    let restored = reg.restore(now, saved);
    let mut server = Server {
        poll,
        listener,
        reg,
        conns: HashMap::new(),
        next_token: FIRST_CONN,
        printer: Printer::new(StdoutQueue::stdout().map_err(ServerError::Setup)?, now),
        scratch: vec![0; READ_BUDGET_PER_TURN],
        dirty: Vec::new(),
        lingering: VecDeque::new(),
        ready: VecDeque::new(),
        listener_ready: false,
        per_source: HashMap::new(),
        max_per_source,
        refused_per_source: 0,
        systemd: Notifier::from_env(),
        urandom,
        state,
        next_refresh: now + LAST_SEEN_SAVE_INTERVAL,
    };
    server.printer.line(format_args!("listening on {bound}"));
    if restored > 0 {
        let s = if restored == 1 { "" } else { "s" };
        server.printer.line(format_args!(
            "names bound: {restored} name{s} restored from {}",
            server.state.path().display()
        ));
    }
    server.printer.flush(now, &server.reg);
    // Only once the line is out (or could not be, for a while): whoever
    // waits for readiness can read it.
    server.printer.out().wait_written(STDOUT_DRAIN_AT_EXIT);
    server.systemd.ready(now, bound);

    let mut events = Events::with_capacity(EVENTS_PER_POLL);
    loop {
        let timeout = if server.has_backlog() {
            Some(Duration::ZERO)
        } else {
            server
                .next_timeout()
                .map(|t| t.saturating_duration_since(Instant::now()))
        };
        if let Err(e) = server.poll.poll(&mut events, timeout) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(ServerError::Poll(e));
        }
        // Everything read this turn reached its socket before this instant
        // or during the turn: the registry hears it at the wake-up.
        let wake = Instant::now();
        server.reg.set_wall_clock(wake, unix_now());
        let mut stop = false;
        let mut seen = 0;
        for ev in events.iter() {
            seen += 1;
            match ev.token() {
                LISTENER => server.listener_ready = true,
                SIGNALS => stop |= signals.pending().next().is_some(),
                Token(t) => {
                    if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                        server.mark_ready(t);
                    }
                    if ev.is_writable() {
                        server.dirty.push(t);
                    }
                }
            }
        }
        if server.listener_ready {
            server.accept(wake);
        }
        server.serve_ready(wake);
        // Input first, then the timers due at the wake-up: an answer that
        // arrived in time is seen before its deadline is judged. A full
        // events buffer means more readiness is waiting in the kernel: take
        // it before judging anything.
        if seen < EVENTS_PER_POLL {
            server.reg.handle_timeout(wake);
        }
        server.apply_outputs(wake);
        let now = Instant::now();
        server.save_bindings(now, false);
        server.expire_lingering(now);
        server.systemd.handle_timeout(now);
        if stop {
            server.shutdown();
            return Ok(());
        }
    }
}

/// A fresh nonce from the kernel's random source.
fn draw_nonce(urandom: &mut File) -> io::Result<Nonce> {
    let mut n = [0u8; peercall::wire::NONCE_LEN];
    urandom.read_exact(&mut n)?;
    Ok(n)
}

impl Server {
    /// Whether a connection or the listener was left with work this turn.
    fn has_backlog(&self) -> bool {
        self.listener_ready || !self.ready.is_empty()
    }

    fn mark_ready(&mut self, token: usize) {
        if let Some(c) = self.conns.get_mut(&token) {
            if !c.ready {
                c.ready = true;
                self.ready.push_back(token);
            }
        }
    }

    /// Serves each connection on the ready list once, in order, up to its
    /// read budget; those not drained go to the back for the next turn.
    fn serve_ready(&mut self, now: Instant) {
        for _ in 0..self.ready.len() {
            let Some(t) = self.ready.pop_front() else {
                break;
            };
            let more = self.read(t, now);
            if let Some(c) = self.conns.get_mut(&t) {
                c.ready = more;
                if more {
                    self.ready.push_back(t);
                }
            }
        }
    }

    fn next_timeout(&self) -> Option<Instant> {
        let linger = self.lingering.front().map(|(t, _)| *t);
        let refresh = (!self.reg.is_empty()).then_some(self.next_refresh);
        [
            refresh,
            self.reg.next_timeout(),
            self.printer.next_timeout(),
            linger.map(|t| t + CLOSE_LINGER),
            self.systemd.next_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Accepts up to [`ACCEPT_BUDGET_PER_TURN`] connections; the listener
    /// stays ready while its backlog may hold more.
    fn accept(&mut self, now: Instant) {
        self.listener_ready = false;
        for _ in 0..ACCEPT_BUDGET_PER_TURN {
            match self.listener.accept() {
                Ok((mut stream, from)) => {
                    // A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d.
                    let from = peercall::wire::canonical_addr(from);
                    let token = self.next_token;
                    self.next_token += 1;
                    let _ = stream.set_nodelay(true);
                    if let Err(e) =
                        self.poll
                            .registry()
                            .register(&mut stream, Token(token), Interest::READABLE)
                    {
                        log::warn!("cannot watch connection from {from}: {e}");
                        continue;
                    }
                    let source = source_of(from.ip());
                    let held = self.per_source.get(&source).copied().unwrap_or(0);
                    let mut conn = Conn {
                        stream,
                        source: None,
                        ready: false,
                        inbuf: Vec::new(),
                        out: Vec::new(),
                        closing: None,
                        write_interest: false,
                    };
                    if held >= self.max_per_source {
                        // Refused as the connection cap refuses: one ERROR,
                        // then close once it is written.
                        self.refused_per_source += 1;
                        let msg = Message::Error(ErrorMsg::new(
                            ErrorCode::TooManyConnections,
                            format!(
                                "the registry serves at most {} connections from one address",
                                self.max_per_source
                            ),
                        ));
                        msg.emit_into(&mut conn.out);
                        conn.closing = Some(now);
                        self.lingering.push_back((now, token));
                        self.conns.insert(token, conn);
                        self.dirty.push(token);
                        self.printer.line(format_args!(
                            "refused connection from {from}: {held} connections from {source} already (the limit per address); {} refused so far",
                            self.refused_per_source
                        ));
                        continue;
                    }
                    let nonce = match draw_nonce(&mut self.urandom) {
                        Ok(n) => n,
                        Err(e) => {
                            // No nonce, no challenge: refuse rather than
                            // hand out a guessable one.
                            log::error!("/dev/urandom: {e}; connection from {from} refused");
                            let _ = self.poll.registry().deregister(&mut conn.stream);
                            continue;
                        }
                    };
                    *self.per_source.entry(source).or_insert(0) += 1;
                    conn.source = Some(source);
                    self.conns.insert(token, conn);
                    self.reg.handle_input(
                        now,
                        Input::Opened {
                            conn: ConnId(token as u64),
                            from,
                            nonce,
                        },
                    );
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: leave the backlog for the next wakeup.
                    log::warn!("accept failed: {e}");
                    return;
                }
            }
        }
        self.listener_ready = true;
    }

    /// Reads up to [`READ_BUDGET_PER_TURN`] bytes, feeding every whole frame
    /// to the registry at `now`. Returns whether the connection may have more
    /// to read (the budget ran out before the socket would block).
    fn read(&mut self, token: usize, now: Instant) -> bool {
        let conn_id = ConnId(token as u64);
        let mut left = READ_BUDGET_PER_TURN;
        while left > 0 {
            let Some(conn) = self.conns.get_mut(&token) else {
                return false;
            };
            let chunk = &mut self.scratch[..left];
            if conn.closing.is_some() {
                // The registry is done with it; discard what still arrives.
                match conn.stream.read(chunk) {
                    Ok(0) => {
                        self.remove(token);
                        return false;
                    }
                    Ok(n) => {
                        left -= n;
                        continue;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(_) => {
                        self.remove(token);
                        return false;
                    }
                }
            }
            let n = match conn.stream.read(chunk) {
                Ok(0) => {
                    self.reg.handle_input(now, Input::Closed { conn: conn_id });
                    self.remove(token);
                    return false;
                }
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::debug!("connection {token}: read failed: {e}");
                    self.reg.handle_input(now, Input::Closed { conn: conn_id });
                    self.remove(token);
                    return false;
                }
            };
            left -= n;
            if conn.inbuf.is_empty() {
                let rest = feed(&mut self.reg, now, conn_id, &self.scratch[..n]);
                conn.inbuf.extend_from_slice(rest);
            } else {
                let mut buf = std::mem::take(&mut conn.inbuf);
                buf.extend_from_slice(&self.scratch[..n]);
                let rest = feed(&mut self.reg, now, conn_id, &buf).len();
                buf.drain(..buf.len() - rest);
                if buf.is_empty() {
                    buf = Vec::new();
                }
                conn.inbuf = buf;
            }
            // Answer as we go so a fast client cannot queue unbounded replies.
            self.apply_outputs(now);
        }
        true
    }

    /// Carries out everything the registry asked for, then writes what was queued.
    fn apply_outputs(&mut self, now: Instant) {
        // Writing can fail and tell the registry a connection closed, which
        // queues more outputs: repeat until both queues are empty.
        loop {
            while let Some(out) = self.reg.poll_output() {
                match out {
                    Output::Send { conn, msg } => {
                        let t = conn.0 as usize;
                        if let Some(c) = self.conns.get_mut(&t) {
                            if c.closing.is_none() {
                                msg.emit_into(&mut c.out);
                                self.dirty.push(t);
                            }
                        }
                    }
                    Output::Close { conn } => {
                        let t = conn.0 as usize;
                        if let Some(c) = self.conns.get_mut(&t) {
                            if c.closing.is_none() {
                                c.closing = Some(now);
                                self.lingering.push_back((now, t));
                            }
                            self.dirty.push(t);
                        }
                    }
                    Output::Event(e) => self.printer.event(&e),
                }
            }
            if self.dirty.is_empty() {
                break;
            }
            let mut dirty = std::mem::take(&mut self.dirty);
            for t in dirty.drain(..) {
                self.write(t);
            }
            if self.dirty.is_empty() {
                self.dirty = dirty;
            }
        }
        self.printer.flush(now, &self.reg);
    }

    fn write(&mut self, token: usize) {
        let Some(c) = self.conns.get_mut(&token) else {
            return;
        };
        let mut written = 0;
        let failed = loop {
            if written == c.out.len() {
                break false;
            }
            match c.stream.write(&c.out[written..]) {
                Ok(0) => break true,
                Ok(n) => written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break false,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    log::debug!("connection {token}: write failed: {e}");
                    break true;
                }
            }
        };
        c.out.drain(..written);
        if failed {
            if c.closing.is_none() {
                self.reg.handle_input(
                    Instant::now(),
                    Input::Closed {
                        conn: ConnId(token as u64),
                    },
                );
            }
            self.remove(token);
            return;
        }
        if c.out.is_empty() {
            c.out = Vec::new();
            if c.closing.is_some() {
                let _ = c.stream.shutdown(Shutdown::Write);
                self.remove(token);
                return;
            }
        } else if c.out.len() > MAX_OUTBOUND_BYTES && c.closing.is_none() {
            log::debug!("connection {token}: not reading its replies; closing");
            let msg = Message::Error(ErrorMsg::new(
                ErrorCode::Malformed,
                "too many unread replies; read each reply before sending more",
            ));
            msg.emit_into(&mut c.out);
            let now = Instant::now();
            c.closing = Some(now);
            self.lingering.push_back((now, token));
            self.reg.handle_input(
                Instant::now(),
                Input::Closed {
                    conn: ConnId(token as u64),
                },
            );
        }
        let want = !c.out.is_empty();
        if want != c.write_interest {
            c.write_interest = want;
            let interest = if want {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            if let Err(e) = self
                .poll
                .registry()
                .reregister(&mut c.stream, Token(token), interest)
            {
                log::warn!("connection {token}: cannot change interest: {e}");
            }
        }
    }

    fn remove(&mut self, token: usize) {
        if let Some(mut c) = self.conns.remove(&token) {
            let _ = self.poll.registry().deregister(&mut c.stream);
            if let Some(source) = c.source {
                if let Some(n) = self.per_source.get_mut(&source) {
                    *n -= 1;
                    if *n == 0 {
                        self.per_source.remove(&source);
                    }
                }
            }
        }
    }

    fn expire_lingering(&mut self, now: Instant) {
        while let Some(&(t, token)) = self.lingering.front() {
            if now < t + CLOSE_LINGER {
                break;
            }
            self.lingering.pop_front();
            if self.conns.get(&token).is_some_and(|c| c.closing == Some(t)) {
                self.remove(token);
            }
        }
    }

    /// Saves the bindings if they changed, or if names are held and the
    /// refresh interval passed (`force`: at exit). A failure is reported and
    /// retried at the next change or interval; serving goes on.
    fn save_bindings(&mut self, now: Instant, force: bool) {
        let changed = self.reg.take_bindings_changed();
        let refresh = now >= self.next_refresh && !self.reg.is_empty();
        if !(changed || refresh || force) {
            return;
        }
        self.next_refresh = now + LAST_SEEN_SAVE_INTERVAL;
        if let Err(e) = self.state.save(&self.reg.bindings(now)) {
            log::error!("{e}; the name bindings on disk are stale until a save succeeds");
        }
    }

    /// GOODBYE to everyone, a short grace period to write it, then exit.
    fn shutdown(&mut self) {
        self.systemd.stopping();
        let now = Instant::now();
        let n = self.reg.connection_count();
        self.reg.shutdown(now);
        self.apply_outputs(now);
        self.save_bindings(now, true);
        let deadline = now + SHUTDOWN_GRACE;
        let mut events = Events::with_capacity(256);
        while !self.conns.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if self.poll.poll(&mut events, Some(left)).is_err() {
                break;
            }
            let ready: Vec<usize> = events.iter().map(|e| e.token().0).collect();
            for t in ready {
                if t >= FIRST_CONN {
                    self.write(t);
                }
            }
        }
        let s = if n == 1 { "" } else { "s" };
        self.printer.line(format_args!(
            "shutting down: said goodbye to {n} connection{s}"
        ));
        self.printer.flush(Instant::now(), &self.reg);
        self.printer.out().wait_written(STDOUT_DRAIN_AT_EXIT);
    }
}

/// Feeds every whole frame at the front of `buf` to the registry and returns
/// the bytes of an incomplete frame left at the end. Malformed bytes end the
/// connection (in the registry) and the rest of the buffer is dropped.
fn feed<'a>(reg: &mut Registry, now: Instant, conn: ConnId, mut buf: &'a [u8]) -> &'a [u8] {
    loop {
        match frame_len(buf) {
            Ok(Some(n)) => {
                let input = match Message::parse_bytes(&buf[..n]) {
                    Ok(msg) => Input::Received { conn, msg },
                    Err(error) => Input::Malformed { conn, error },
                };
                let malformed = matches!(input, Input::Malformed { .. });
                reg.handle_input(now, input);
                if malformed {
                    return &[];
                }
                buf = &buf[n..];
            }
            Ok(None) => {
                debug_assert!(buf.len() < MAX_FRAME_LEN);
                return buf;
            }
            Err(error) => {
                reg.handle_input(now, Input::Malformed { conn, error });
                return &[];
            }
        }
    }
}
