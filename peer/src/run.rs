//! `peercall run`: the peer's control loop. One mio loop owns the registry
//! connection, the call port, the signal pipe and a waker for the stdin
//! thread; the [`Membership`] machine decides what to send and when.

use crate::cli::RunOptions;
use crate::exit;
use crate::oneshot::{describe, entry_line};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use peercall::membership::{Event, Membership, Output, Request};
use peercall::wire::{FrameReader, Message, Name};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use std::io::{self, BufRead, ErrorKind, IsTerminal, Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::Instant;

const REGISTRY: Token = Token(0);
const CALLS: Token = Token(1);
const STDIN: Token = Token(2);
const SIGNALS: Token = Token(3);

/// Longest command line read from stdin; longer lines are refused, not buffered.
pub const MAX_COMMAND_LEN: usize = 1024;

/// A line from the stdin thread.
enum Line {
    Command(String),
    TooLong,
    /// End of input on a terminal: the user pressed Ctrl-D, meaning quit.
    EndOfTerminal,
}

/// The connection to the registry.
struct RegistryConn {
    stream: TcpStream,
    peer: SocketAddr,
    connected: bool,
    reader: FrameReader,
    out: Vec<u8>,
}

struct Peer {
    poll: Poll,
    opts: RunOptions,
    membership: Membership,
    conn: Option<RegistryConn>,
    /// Read buffer for the registry socket.
    scratch: Vec<u8>,
    exit_code: Option<u8>,
}

/// Runs the peer until it quits; returns the exit code.
pub fn run(opts: RunOptions) -> u8 {
    match Peer::new(opts) {
        Ok((mut peer, mut listener, mut signals, lines)) => {
            peer.main_loop(&mut listener, &mut signals, &lines)
        }
        Err(code) => code,
    }
}

/// Reads stdin line by line on its own thread (stdin cannot be polled
/// portably: it may be a file, a pipe or a terminal) and wakes the loop.
fn spawn_stdin(waker: Waker) -> Receiver<Line> {
    let (tx, rx) = mpsc::channel();
    let terminal = io::stdin().is_terminal();
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            let stdin = io::stdin();
            let mut lock = stdin.lock();
            let mut buf = Vec::new();
            loop {
                buf.clear();
                let mut limited = (&mut lock).take(MAX_COMMAND_LEN as u64 + 1);
                match limited.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => {
                        if terminal {
                            let _ = tx.send(Line::EndOfTerminal);
                            let _ = waker.wake();
                        }
                        // A script's stdin ended: keep running until a signal.
                        return;
                    }
                    Ok(_) => {
                        let line = if buf.len() > MAX_COMMAND_LEN && !buf.ends_with(b"\n") {
                            // Skip the rest of the over-long line.
                            let mut sink = Vec::new();
                            let _ = lock.read_until(b'\n', &mut sink);
                            Line::TooLong
                        } else {
                            Line::Command(String::from_utf8_lossy(&buf).trim().to_owned())
                        };
                        if tx.send(line).is_err() || waker.wake().is_err() {
                            return;
                        }
                    }
                }
            }
        })
        .expect("spawning the stdin thread");
    rx
}

impl Peer {
    fn new(opts: RunOptions) -> Result<(Peer, TcpListener, Signals, Receiver<Line>), u8> {
        let fail = |what: &str, e: io::Error| {
            eprintln!("peercall: cannot {what}: {e}");
            exit::LOCAL
        };
        let poll = Poll::new().map_err(|e| fail("set up the event loop", e))?;
        let mut listener = TcpListener::bind(opts.listen).map_err(|e| {
            let hint = match e.kind() {
                ErrorKind::AddrInUse => {
                    "the port is in use (is another peercall running?); pick another with --listen"
                }
                ErrorKind::AddrNotAvailable => {
                    "no interface of this machine has that address; use 0.0.0.0 or one of its own addresses"
                }
                ErrorKind::PermissionDenied => "ports below 1024 need privileges; use a port like 4701",
                _ => "check --listen",
            };
            eprintln!(
                "peercall: cannot listen for calls on {}: {}; {hint}",
                opts.listen,
                describe(&e)
            );
            exit::LOCAL
        })?;
        let bound = listener
            .local_addr()
            .map_err(|e| fail("read the call port", e))?;
        poll.registry()
            .register(&mut listener, CALLS, Interest::READABLE)
            .map_err(|e| fail("watch the call port", e))?;
        let mut signals = Signals::new([SIGINT, SIGTERM]).map_err(|e| fail("handle signals", e))?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)
            .map_err(|e| fail("watch signals", e))?;
        let waker = Waker::new(poll.registry(), STDIN).map_err(|e| fail("set up stdin", e))?;
        let lines = spawn_stdin(waker);

        println!("listening for calls on {bound}");
        let now = Instant::now();
        let mut membership = Membership::new(opts.name.clone(), bound, now);
        membership.start(now);
        let peer = Peer {
            poll,
            opts,
            membership,
            conn: None,
            scratch: vec![0; 16 * 1024],
            exit_code: None,
        };
        Ok((peer, listener, signals, lines))
    }

    fn main_loop(
        &mut self,
        listener: &mut TcpListener,
        signals: &mut Signals,
        lines: &Receiver<Line>,
    ) -> u8 {
        let mut events = Events::with_capacity(64);
        let mut stdin_open = true;
        loop {
            self.apply_outputs();
            if let Some(code) = self.exit_code {
                return code;
            }
            let timeout = self
                .membership
                .next_timeout()
                .map(|t| t.saturating_duration_since(Instant::now()));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == ErrorKind::Interrupted {
                    continue;
                }
                eprintln!("peercall: event loop failed: {e}");
                return exit::LOCAL;
            }
            for ev in events.iter() {
                match ev.token() {
                    REGISTRY => self.registry_ready(),
                    CALLS => accept_and_close(listener),
                    SIGNALS if signals.pending().next().is_some() => {
                        self.membership.leave(Instant::now())
                    }
                    // STDIN: lines are drained below, after every wakeup.
                    _ => {}
                }
            }
            while stdin_open {
                match lines.try_recv() {
                    Ok(line) => self.command(line),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => stdin_open = false,
                }
            }
            self.membership.handle_timeout(Instant::now());
        }
    }

    fn command(&mut self, line: Line) {
        let text = match line {
            Line::Command(t) => t,
            Line::TooLong => {
                println!("command too long (at most {MAX_COMMAND_LEN} bytes); type help");
                return;
            }
            Line::EndOfTerminal => "quit".to_owned(),
        };
        let mut words = text.split_whitespace();
        let Some(cmd) = words.next() else { return };
        let args: Vec<&str> = words.collect();
        match (cmd, &args[..]) {
            ("list", []) => self.membership.list(),
            ("lookup", [n]) => match Name::new(n) {
                Ok(name) => self.membership.lookup(name),
                Err(e) => println!("'{n}' is not a valid name: {e}"),
            },
            ("lookup", _) => println!("usage: lookup NAME"),
            ("quit" | "exit", []) => self.membership.leave(Instant::now()),
            ("help", []) => println!(
                "commands: list (every registered peer), lookup NAME (where NAME is), help, quit (unregister and exit)"
            ),
            _ => println!("unknown command '{text}'; type help"),
        }
        let _ = io::stdout().flush();
    }

    /// Carries out what the membership machine asked for, until it asks nothing.
    fn apply_outputs(&mut self) {
        while let Some(out) = self.membership.poll_output() {
            match out {
                Output::Connect => self.connect(),
                Output::Disconnect => self.disconnect(),
                Output::Send(msg) => {
                    if let Some(c) = self.conn.as_mut() {
                        msg.emit_into(&mut c.out);
                    }
                    self.flush();
                }
                Output::Event(e) => self.report(e),
            }
        }
        let _ = io::stdout().flush();
    }

    fn report(&mut self, e: Event) {
        let reg = &self.opts.registry;
        match e {
            Event::Registered {
                registration,
                again,
            } => {
                let word = if again { "registered again" } else { "registered" };
                println!(
                    "{word} as {} at {} with registry {reg}",
                    registration.name, registration.addr
                );
            }
            Event::Probing { ms } => println!(
                "{} is registered from this endpoint by an older connection; the registry is checking it (up to {ms} ms)",
                self.opts.name
            ),
            Event::Refused(why) => {
                println!(
                    "registration of {} refused by registry {reg}: {why}; choose another --name or --listen",
                    self.opts.name
                );
                self.exit_code = Some(exit::REFUSED);
            }
            Event::Lost { why, retry_in } => println!(
                "registry {reg} unavailable ({why}); retrying in {:.2} s",
                retry_in.as_secs_f64()
            ),
            Event::Found(entry) => println!("{}", entry_line(&entry)),
            Event::NotFound(name) => println!("{name}: not registered"),
            Event::Listed(entries) => {
                if entries.is_empty() {
                    println!("no peers registered");
                }
                for e in &entries {
                    println!("{}", entry_line(e));
                }
            }
            Event::RequestFailed { request, why } => match request {
                Request::Lookup(n) => println!("lookup {n} failed: {why}"),
                Request::List => println!("list failed: {why}"),
            },
            Event::RegistryError(e) => println!("registry {reg} reports an error: {e}"),
            Event::Left(reason) => {
                match reason {
                    Some(r) => println!("goodbye from registry {reg}: {r}"),
                    None => println!("left registry {reg} (no goodbye received)"),
                }
                self.exit_code = Some(exit::OK);
            }
        }
    }

    fn connect(&mut self) {
        self.disconnect();
        let now = Instant::now();
        let addrs = match self.opts.registry.resolve() {
            Ok(a) => a,
            Err(why) => {
                self.membership.disconnected(now, &why);
                return;
            }
        };
        // mio connects without blocking to one address; a host with several
        // tries the next one on the next attempt.
        let addr = addrs[0];
        let mut stream = match TcpStream::connect(addr) {
            Ok(s) => s,
            Err(e) => {
                self.membership.disconnected(now, &describe(&e));
                return;
            }
        };
        if let Err(e) = self.poll.registry().register(
            &mut stream,
            REGISTRY,
            Interest::READABLE | Interest::WRITABLE,
        ) {
            self.membership.disconnected(now, &e.to_string());
            return;
        }
        self.conn = Some(RegistryConn {
            stream,
            peer: addr,
            connected: false,
            reader: FrameReader::new(),
            out: Vec::new(),
        });
    }

    fn disconnect(&mut self) {
        if let Some(mut c) = self.conn.take() {
            let _ = self.poll.registry().deregister(&mut c.stream);
        }
    }

    /// The registry socket is readable or writable.
    fn registry_ready(&mut self) {
        let now = Instant::now();
        let Some(c) = self.conn.as_mut() else { return };
        if !c.connected {
            match c.stream.peer_addr() {
                Ok(_) => {
                    c.connected = true;
                    let _ = c.stream.set_nodelay(true);
                    log::debug!("connected to registry {}", c.peer);
                    self.membership.connected(now);
                }
                Err(e) if e.kind() == ErrorKind::NotConnected => {
                    let why = match c.stream.take_error() {
                        Ok(Some(err)) => describe(&err),
                        Ok(None) => return, // still connecting
                        Err(err) => describe(&err),
                    };
                    self.disconnect();
                    self.membership.disconnected(now, &why);
                    return;
                }
                Err(e) => {
                    let why = describe(&e);
                    self.disconnect();
                    self.membership.disconnected(now, &why);
                    return;
                }
            }
        }
        self.read();
        self.flush();
    }

    fn read(&mut self) {
        loop {
            let Some(c) = self.conn.as_mut() else { return };
            let n = match c.stream.read(&mut self.scratch) {
                Ok(0) => {
                    self.lost("closed by the registry");
                    return;
                }
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.lost(&describe(&e));
                    return;
                }
            };
            c.reader.push(&self.scratch[..n]);
            loop {
                let Some(c) = self.conn.as_mut() else { return };
                let msg = match c.reader.next_frame() {
                    Ok(Some(f)) => Message::parse(&f),
                    Ok(None) => break,
                    Err(e) => Err(e),
                };
                match msg {
                    Ok(m) => self.membership.received(Instant::now(), m),
                    Err(e) => {
                        log::warn!("registry sent malformed data: {e}");
                        self.lost(&format!("registry sent malformed data: {e}"));
                        return;
                    }
                }
                // Act on each message before the next: GOODBYE may close the link.
                self.apply_outputs();
            }
        }
    }

    fn lost(&mut self, why: &str) {
        self.disconnect();
        self.membership.disconnected(Instant::now(), why);
    }

    /// Writes what is queued for the registry, keeping the rest for the next writable event.
    fn flush(&mut self) {
        let Some(c) = self.conn.as_mut() else { return };
        if !c.connected || c.out.is_empty() {
            return;
        }
        let mut written = 0;
        let mut failure = None;
        while written < c.out.len() {
            match c.stream.write(&c.out[written..]) {
                Ok(0) => {
                    failure = Some("connection closed".to_string());
                    break;
                }
                Ok(n) => written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    failure = Some(describe(&e));
                    break;
                }
            }
        }
        c.out.drain(..written);
        if let Some(why) = failure {
            self.lost(&why);
        }
    }
}

/// Calls are not taken yet: the port is held (so the registered endpoint is
/// really ours) and a caller is told so by a prompt close, not left hanging.
fn accept_and_close(listener: &mut TcpListener) {
    loop {
        match listener.accept() {
            Ok((stream, from)) => {
                log::info!(
                    "connection on the call port from {from} closed: this version takes no calls"
                );
                drop(stream);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                log::warn!("accept on the call port failed: {e}");
                return;
            }
        }
    }
}
