//! The registry's one mio event loop: accept connections, cut their bytes into
//! frames, feed the [`Registry`] machine, write what it says, and print what
//! happened. Per-connection memory is bounded: a partial frame at most on the
//! way in, [`MAX_OUTBOUND_BYTES`] on the way out.

use crate::systemd::Notifier;
use crate::table::Printer;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use peercall::registry::{Config, ConnId, Input, Output, Registry};
use peercall::wire::{frame_len, ErrorCode, ErrorMsg, Message, MAX_FRAME_LEN};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufWriter, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

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
/// Bytes read from a socket in one call.
const READ_CHUNK: usize = 64 * 1024;
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
    printer: Printer<BufWriter<io::Stdout>>,
    scratch: Vec<u8>,
    /// Connections with output queued since the last flush.
    dirty: Vec<usize>,
    /// Readiness and watchdog pings for systemd (nothing outside systemd).
    systemd: Notifier,
}

/// The soft limit on open files, read from /proc (no unsafe `getrlimit`).
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Runs the registry on `listen` until SIGINT or SIGTERM.
pub fn run(listen: SocketAddr, mut config: Config) -> Result<(), ServerError> {
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

    let now = Instant::now();
    let mut server = Server {
        poll,
        listener,
        reg: Registry::new(config),
        conns: HashMap::new(),
        next_token: FIRST_CONN,
        printer: Printer::new(BufWriter::new(io::stdout()), now),
        scratch: vec![0; READ_CHUNK],
        dirty: Vec::new(),
        systemd: Notifier::from_env(),
    };
    server.printer.line(format_args!("listening on {bound}"));
    server.printer.flush(now, &server.reg);
    // Only once the line is out: whoever waits for readiness can read it.
    server.systemd.ready(now, bound);

    let mut events = Events::with_capacity(1024);
    loop {
        let timeout = server
            .next_timeout()
            .map(|t| t.saturating_duration_since(Instant::now()));
        if let Err(e) = server.poll.poll(&mut events, timeout) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(ServerError::Poll(e));
        }
        let mut stop = false;
        for ev in events.iter() {
            match ev.token() {
                LISTENER => server.accept(),
                SIGNALS => stop |= signals.pending().next().is_some(),
                Token(t) => {
                    if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                        server.read(t);
                    }
                    if ev.is_writable() {
                        server.dirty.push(t);
                    }
                }
            }
        }
        let now = Instant::now();
        server.reg.handle_timeout(now);
        server.apply_outputs(now);
        server.expire_lingering(now);
        server.systemd.handle_timeout(now);
        if stop {
            server.shutdown();
            return Ok(());
        }
    }
}

impl Server {
    fn next_timeout(&self) -> Option<Instant> {
        let linger = self.conns.values().filter_map(|c| c.closing).min();
        [
            self.reg.next_timeout(),
            self.printer.next_timeout(),
            linger.map(|t| t + CLOSE_LINGER),
            self.systemd.next_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn accept(&mut self) {
        loop {
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
                    self.conns.insert(
                        token,
                        Conn {
                            stream,
                            inbuf: Vec::new(),
                            out: Vec::new(),
                            closing: None,
                            write_interest: false,
                        },
                    );
                    self.reg.handle_input(
                        Instant::now(),
                        Input::Opened {
                            conn: ConnId(token as u64),
                            from,
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
    }

    /// Reads until the socket would block, feeding every whole frame to the registry.
    fn read(&mut self, token: usize) {
        let conn_id = ConnId(token as u64);
        loop {
            let Some(conn) = self.conns.get_mut(&token) else {
                return;
            };
            if conn.closing.is_some() {
                // The registry is done with it; discard what still arrives.
                match conn.stream.read(&mut self.scratch) {
                    Ok(0) => {
                        self.remove(token);
                        return;
                    }
                    Ok(_) => continue,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(_) => {
                        self.remove(token);
                        return;
                    }
                }
            }
            let n = match conn.stream.read(&mut self.scratch) {
                Ok(0) => {
                    self.reg
                        .handle_input(Instant::now(), Input::Closed { conn: conn_id });
                    self.remove(token);
                    return;
                }
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::debug!("connection {token}: read failed: {e}");
                    self.reg
                        .handle_input(Instant::now(), Input::Closed { conn: conn_id });
                    self.remove(token);
                    return;
                }
            };
            let now = Instant::now();
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
                            c.closing.get_or_insert(now);
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
            c.closing = Some(Instant::now());
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
        }
    }

    fn expire_lingering(&mut self, now: Instant) {
        let late: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| c.closing.is_some_and(|t| now >= t + CLOSE_LINGER))
            .map(|(t, _)| *t)
            .collect();
        for t in late {
            self.remove(t);
        }
    }

    /// GOODBYE to everyone, a short grace period to write it, then exit.
    fn shutdown(&mut self) {
        self.systemd.stopping();
        let now = Instant::now();
        let n = self.reg.connection_count();
        self.reg.shutdown(now);
        self.apply_outputs(now);
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
