//! `peercall run` and `peercall call`: the peer's control loop. One mio loop
//! owns the registry connection, the call port and its signalling
//! connections, the signal pipe and a waker for the stdin thread. The
//! [`Membership`] machine decides what to say to the registry, the [`Phone`]
//! machine what to say to other peers; this module moves their bytes and
//! prints what they report.

use super::entry_line;
use super::media_setup;
use crate::exit;
use crate::media::{Endpoints, MediaSession};
use crate::net::conn::{FramedConn, ReadEnd};
use crate::net::describe;
use crate::options::{AnswerMode, RunOptions};
use crate::random_u64;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use peercall::call::{self, negotiate, EndReason, Phase, Phone, Role};
use peercall::media::sdp::{self, SdpStreams};
use peercall::membership::{self, Membership, Request};
use peercall::wire::{
    AudioCodec, AudioFormat, CallId, MediaDescription, MediaPorts, Message, Name, RejectReason,
    VideoCodec, VideoFormat,
};
use peercall::ConnId;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use std::collections::{HashMap, VecDeque};
use std::io::{self, BufRead, ErrorKind, IsTerminal, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::Instant;

const CALLS: Token = Token(1);
const STDIN: Token = Token(2);
const SIGNALS: Token = Token(3);
/// Connection tokens start here and only grow.
const FIRST_CONN: usize = 16;

/// Longest command line read from stdin; longer lines are refused, not buffered.
pub const MAX_COMMAND_LEN: usize = 1024;

/// What this peer offers and accepts until real devices negotiate their own:
/// VGA MJPEG at 30 fps and mono Opus in 20 ms frames.
pub const DEFAULT_MEDIA: MediaDescription = MediaDescription {
    video: VideoFormat {
        codec: VideoCodec::Mjpeg,
        width: 640,
        height: 480,
        fps: 30,
    },
    audio: AudioFormat {
        codec: AudioCodec::Opus,
        sample_rate: negotiate::OPUS_RTP_RATE,
        channels: 1,
        frame_ms: 20,
    },
};

/// A line from the stdin thread.
enum Line {
    Command(String),
    TooLong,
    /// End of input on a terminal: the user pressed Ctrl-D, meaning quit.
    EndOfTerminal,
}

/// Why a registry lookup was made.
enum Purpose {
    Show,
    Call(Name),
}

/// The UDP sockets a call's media will use, bound when the call is placed or
/// accepted so the ports announced are real and held for the call's life.
struct MediaSockets {
    audio: UdpSocket,
    video: UdpSocket,
    ports: MediaPorts,
}

struct Peer {
    poll: Poll,
    opts: RunOptions,
    membership: Membership,
    phone: Phone,
    registry: Option<(Token, FramedConn)>,
    calls: HashMap<Token, FramedConn>,
    next_token: usize,
    scratch: Vec<u8>,
    lookups: VecDeque<Purpose>,
    media: Option<MediaSockets>,
    /// The media of the established call.
    session: Option<MediaSession>,
    /// `peercall call --seconds`: when to hang up.
    hangup_at: Option<Instant>,
    /// `peercall call`: the exit code once the registry has been left.
    outcome: Option<u8>,
    ever_registered: bool,
    /// `peercall call`: whether the planned call was placed (its end ends the run).
    dialed: bool,
    exit_code: Option<u8>,
}

/// Runs the peer until it quits; returns the exit code.
pub fn run(mut opts: RunOptions) -> u8 {
    if let Err(e) = media_setup::check_named(&opts.media) {
        eprintln!("peercall: {e}");
        return exit::USAGE;
    }
    media_setup::fill_defaults(&mut opts.media, opts.given);
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
        let mut opts = opts;
        let offer = media_setup::prepare(&mut opts.media, DEFAULT_MEDIA)?;
        let phone = Phone::new(call::Config {
            name: opts.name.clone(),
            media: offer,
            answer_timeout: opts.answer_timeout,
            silence_timeout: call::DEFAULT_SILENCE_TIMEOUT,
        });
        let peer = Peer {
            poll,
            opts,
            membership,
            phone,
            registry: None,
            calls: HashMap::new(),
            next_token: FIRST_CONN,
            scratch: vec![0; 16 * 1024],
            lookups: VecDeque::new(),
            media: None,
            session: None,
            hangup_at: None,
            outcome: None,
            ever_registered: false,
            dialed: false,
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
            let timeout = [
                self.membership.next_timeout(),
                self.phone.next_timeout(),
                self.hangup_at,
            ]
            .into_iter()
            .flatten()
            .min()
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
                    CALLS => self.accept_calls(listener),
                    SIGNALS if signals.pending().next().is_some() => self.interrupted(),
                    // STDIN: lines are drained below, after every wakeup.
                    t if t.0 >= FIRST_CONN => self.ready(t),
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
            let now = Instant::now();
            self.membership.handle_timeout(now);
            self.phone.handle_timeout(now);
            if self.hangup_at.is_some_and(|t| t <= now) {
                self.hangup_at = None;
                let _ = self.phone.hangup(now);
            }
        }
    }

    /// SIGINT or SIGTERM: end any call, then leave the registry.
    fn interrupted(&mut self) {
        let now = Instant::now();
        if self.phone.hangup(now).is_ok() && self.opts.plan.is_some() {
            self.outcome.get_or_insert(exit::INTERRUPTED);
        }
        self.membership.leave(now);
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
        let now = Instant::now();
        match (cmd, &args[..]) {
            ("list", []) => self.membership.list(),
            ("lookup", [n]) => match Name::new(n) {
                Ok(name) => self.lookup(name, Purpose::Show),
                Err(e) => println!("'{n}' is not a valid name: {e}"),
            },
            ("lookup", _) => println!("usage: lookup NAME"),
            ("call", [n]) => match Name::new(n) {
                Ok(name) => self.start_call(name),
                Err(e) => println!("'{n}' is not a valid name: {e}"),
            },
            ("call", _) => println!("usage: call NAME"),
            ("accept", []) => self.accept(now),
            ("reject", []) => {
                if let Err(e) = self.phone.reject(now) {
                    println!("cannot reject: no incoming call ({e})");
                }
            }
            ("hangup", []) => {
                if let Err(e) = self.phone.hangup(now) {
                    println!("cannot hang up: {e}");
                }
            }
            ("status", []) => self.status(now),
            ("quit" | "exit", []) => {
                let _ = self.phone.hangup(now);
                self.membership.leave(now);
            }
            ("help", []) => println!(
                "commands: call NAME, accept, reject, hangup, status, list, lookup NAME, help, quit"
            ),
            _ => println!("unknown command '{text}'; type help"),
        }
        let _ = io::stdout().flush();
    }

    fn lookup(&mut self, name: Name, purpose: Purpose) {
        self.lookups.push_back(purpose);
        self.membership.lookup(name);
    }

    /// `call NAME`: look NAME up first; the call is placed when the answer comes.
    fn start_call(&mut self, name: Name) {
        if name == self.opts.name {
            println!("cannot call {name}: that is this peer's own name");
            self.finish_plan(exit::USAGE);
            return;
        }
        if self.phone.is_busy() {
            println!("cannot call {name}: already in a call; hang up first");
            return;
        }
        println!("looking up {name}");
        self.lookup(name.clone(), Purpose::Call(name));
    }

    /// The registry answered a lookup made to place a call.
    fn dial(&mut self, name: Name, addr: SocketAddr) {
        let now = Instant::now();
        if self.phone.is_busy() {
            println!("not calling {name}: already in a call");
            return;
        }
        let media = match self.bind_media() {
            Ok(m) => m,
            Err(e) => {
                println!("cannot call {name}: no UDP ports for media: {e}");
                self.finish_plan(exit::LOCAL);
                return;
            }
        };
        let token = self.token();
        let conn = ConnId(token.0 as u64);
        if let Err(e) = self
            .phone
            .dial(now, conn, name.clone(), CallId(random_u64()), media.ports)
        {
            println!("cannot call {name}: {e}");
            return;
        }
        println!("calling {name} at {addr}");
        self.dialed = true;
        self.media = Some(media);
        match FramedConn::connect(self.poll.registry(), token, addr) {
            Ok(c) => {
                self.calls.insert(token, c);
            }
            Err(e) => {
                log::debug!("connect to {addr} failed at once: {e}");
                self.phone.closed(now, conn);
            }
        }
    }

    fn accept(&mut self, now: Instant) {
        if !matches!(self.phone.status(now), Some(s) if s.phase == Phase::Alerting) {
            println!("cannot accept: no incoming call");
            return;
        }
        match self.bind_media() {
            Ok(m) => {
                let ports = m.ports;
                self.media = Some(m);
                if let Err(e) = self.phone.accept(now, ports) {
                    println!("cannot accept: {e}");
                }
            }
            Err(e) => {
                println!("cannot accept: no UDP ports for media: {e}");
                let _ = self.phone.reject(now);
            }
        }
    }

    fn bind_media(&self) -> io::Result<MediaSockets> {
        let ip = self.opts.listen.ip();
        let audio = UdpSocket::bind(SocketAddr::new(ip, 0))?;
        let video = UdpSocket::bind(SocketAddr::new(ip, 0))?;
        let ports = MediaPorts {
            audio: audio.local_addr()?.port(),
            video: video.local_addr()?.port(),
        };
        Ok(MediaSockets {
            audio,
            video,
            ports,
        })
    }

    fn status(&self, now: Instant) {
        let Some(s) = self.phone.status(now) else {
            println!("no call");
            return;
        };
        let role = match s.role {
            Role::Caller => "we called",
            Role::Callee => "they called",
        };
        let addr = self
            .calls
            .get(&Token(s.conn.0 as usize))
            .map_or_else(|| "?".to_string(), |c| c.peer.ip().to_string());
        match (&s.session, s.duration) {
            (Some(sess), Some(d)) => println!(
                "call with {} ({role}): established for {:.0} s; we receive audio on port {} and video on port {}; {} receives audio at {addr}:{} and video at {addr}:{}; {}",
                s.peer,
                d.as_secs_f64(),
                sess.local_ports.audio,
                sess.local_ports.video,
                s.peer,
                sess.remote_ports.audio,
                sess.remote_ports.video,
                negotiate::describe(&sess.media)
            ),
            _ => println!("call with {} ({role}): {}", s.peer, s.phase),
        }
    }

    fn token(&mut self) -> Token {
        let t = Token(self.next_token);
        self.next_token += 1;
        t
    }

    /// Accepts every pending connection on the call port.
    fn accept_calls(&mut self, listener: &mut TcpListener) {
        loop {
            match listener.accept() {
                Ok((stream, from)) => {
                    let token = self.token();
                    match FramedConn::accepted(self.poll.registry(), token, stream, from) {
                        Ok(c) => {
                            self.calls.insert(token, c);
                            self.phone.incoming(Instant::now(), ConnId(token.0 as u64));
                        }
                        Err(e) => log::warn!("cannot watch call connection from {from}: {e}"),
                    }
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

    /// A connection (the registry's or a call's) is readable or writable.
    fn ready(&mut self, token: Token) {
        if self.registry.as_ref().is_some_and(|(t, _)| *t == token) {
            self.registry_ready();
        } else if self.calls.contains_key(&token) {
            self.call_ready(token);
        }
    }

    fn registry_ready(&mut self) {
        let now = Instant::now();
        let Some((_, c)) = self.registry.as_mut() else {
            return;
        };
        if !c.is_connected() {
            match c.finish_connect() {
                Ok(true) => {
                    log::debug!("connected to registry {}", c.peer);
                    self.membership.connected(now);
                    self.apply_outputs();
                }
                Ok(false) => return,
                Err(why) => {
                    self.drop_registry();
                    self.membership.disconnected(now, &why);
                    return;
                }
            }
        }
        let Some((_, c)) = self.registry.as_mut() else {
            return;
        };
        let (msgs, end) = c.read(&mut self.scratch);
        for m in msgs {
            self.membership.received(Instant::now(), m);
        }
        match end {
            ReadEnd::Open => self.flush_registry(),
            ReadEnd::Closed(why) => self.registry_lost(&why),
            ReadEnd::Malformed(e) => {
                log::warn!("registry sent malformed data: {e}");
                self.registry_lost(&format!("registry sent malformed data: {e}"));
            }
        }
    }

    fn registry_lost(&mut self, why: &str) {
        if self.registry.is_some() {
            self.drop_registry();
            self.membership.disconnected(Instant::now(), why);
        }
    }

    fn drop_registry(&mut self) {
        if let Some((_, mut c)) = self.registry.take() {
            c.deregister(self.poll.registry());
        }
    }

    fn flush_registry(&mut self) {
        let Some((_, c)) = self.registry.as_mut() else {
            return;
        };
        if let Err(why) = c.flush() {
            self.registry_lost(&why);
        }
    }

    fn call_ready(&mut self, token: Token) {
        let now = Instant::now();
        let conn = ConnId(token.0 as u64);
        let Some(c) = self.calls.get_mut(&token) else {
            return;
        };
        if !c.is_connected() {
            match c.finish_connect() {
                Ok(true) => self.phone.connected(now, conn),
                Ok(false) => return,
                Err(why) => {
                    log::debug!("call connection to {} failed: {why}", c.peer);
                    self.drop_call_conn(token);
                    self.phone.closed(now, conn);
                    return;
                }
            }
        }
        let Some(c) = self.calls.get_mut(&token) else {
            return;
        };
        let (msgs, end) = c.read(&mut self.scratch);
        for m in msgs {
            self.phone.received(Instant::now(), conn, m);
        }
        match end {
            ReadEnd::Open => self.flush_call(token),
            ReadEnd::Closed(why) => {
                log::debug!("call connection {} closed: {why}", token.0);
                self.drop_call_conn(token);
                self.phone.closed(Instant::now(), conn);
            }
            ReadEnd::Malformed(e) => {
                log::debug!("call connection {} sent malformed data: {e}", token.0);
                if let Some(c) = self.calls.get_mut(&token) {
                    c.queue(&Message::Error(e.to_error_msg()));
                    c.closing = true;
                }
                self.flush_call(token);
                self.phone.closed(Instant::now(), conn);
            }
        }
    }

    fn flush_call(&mut self, token: Token) {
        let Some(c) = self.calls.get_mut(&token) else {
            return;
        };
        match c.flush() {
            Ok(true) if c.closing => self.drop_call_conn(token),
            Ok(_) => {}
            Err(why) => {
                log::debug!("call connection {} failed: {why}", token.0);
                self.drop_call_conn(token);
                self.phone.closed(Instant::now(), ConnId(token.0 as u64));
            }
        }
    }

    fn drop_call_conn(&mut self, token: Token) {
        if let Some(mut c) = self.calls.remove(&token) {
            c.deregister(self.poll.registry());
        }
    }

    /// Carries out what both machines asked for, until neither asks anything.
    fn apply_outputs(&mut self) {
        loop {
            let mut moved = false;
            while let Some(out) = self.membership.poll_output() {
                moved = true;
                match out {
                    membership::Output::Connect => self.connect_registry(),
                    membership::Output::Disconnect => self.drop_registry(),
                    membership::Output::Send(msg) => {
                        if let Some((_, c)) = self.registry.as_mut() {
                            c.queue(&msg);
                        }
                        self.flush_registry();
                    }
                    membership::Output::Event(e) => self.report_membership(e),
                }
            }
            while let Some(out) = self.phone.poll_output() {
                moved = true;
                match out {
                    call::Output::Send { conn, msg } => {
                        let token = Token(conn.0 as usize);
                        if let Some(c) = self.calls.get_mut(&token) {
                            c.queue(&msg);
                        }
                        self.flush_call(token);
                    }
                    call::Output::Close { conn } => {
                        let token = Token(conn.0 as usize);
                        if let Some(c) = self.calls.get_mut(&token) {
                            c.closing = true;
                        }
                        self.flush_call(token);
                    }
                    call::Output::Event(e) => self.report_call(e),
                }
            }
            if !moved {
                break;
            }
        }
        let _ = io::stdout().flush();
    }

    fn connect_registry(&mut self) {
        self.drop_registry();
        let now = Instant::now();
        let addrs = match self.opts.registry.resolve() {
            Ok(a) => a,
            Err(why) => {
                self.membership.disconnected(now, &why);
                return;
            }
        };
        let token = self.token();
        // One address per attempt; a host with several is retried as a whole.
        match FramedConn::connect(self.poll.registry(), token, addrs[0]) {
            Ok(c) => self.registry = Some((token, c)),
            Err(e) => self.membership.disconnected(now, &describe(&e)),
        }
    }

    fn report_membership(&mut self, e: membership::Event) {
        let reg = self.opts.registry.clone();
        match e {
            membership::Event::Registered {
                registration,
                again,
            } => {
                let word = if again { "registered again" } else { "registered" };
                println!(
                    "{word} as {} at {} with registry {reg}",
                    registration.name, registration.addr
                );
                if !self.ever_registered {
                    self.ever_registered = true;
                    if let Some(plan) = self.opts.plan.clone() {
                        self.start_call(plan.target);
                    }
                }
            }
            membership::Event::Probing { ms } => println!(
                "{} is registered from this endpoint by an older connection; the registry is checking it (up to {ms} ms)",
                self.opts.name
            ),
            membership::Event::Refused(why) => {
                println!(
                    "registration of {} refused by registry {reg}: {why}; choose another --name or --listen",
                    self.opts.name
                );
                let _ = self.phone.hangup(Instant::now());
                self.exit_code = Some(exit::REFUSED);
            }
            membership::Event::Lost { why, .. }
                if self.opts.plan.is_some() && !self.ever_registered =>
            {
                // A one-shot call does not wait for a registry that is not there.
                eprintln!(
                    "peercall: cannot reach the registry at {reg}: {why}; is peercall-registry running there?"
                );
                self.exit_code = Some(exit::UNREACHABLE);
            }
            membership::Event::Lost { why, retry_in } => println!(
                "registry {reg} unavailable ({why}); retrying in {:.2} s",
                retry_in.as_secs_f64()
            ),
            membership::Event::Found(entry) => match self.lookups.pop_front() {
                Some(Purpose::Call(name)) if name == entry.name => self.dial(name, entry.addr),
                _ => println!("{}", entry_line(&entry)),
            },
            membership::Event::NotFound(name) => {
                println!("{name}: not registered");
                if let Some(Purpose::Call(_)) = self.lookups.pop_front() {
                    self.finish_plan(exit::NOT_REGISTERED);
                }
            }
            membership::Event::Listed(entries) => {
                if entries.is_empty() {
                    println!("no peers registered");
                }
                for e in &entries {
                    println!("{}", entry_line(e));
                }
            }
            membership::Event::RequestFailed { request, why } => match request {
                Request::Lookup(n) => {
                    let purpose = self.lookups.pop_front();
                    match purpose {
                        Some(Purpose::Call(_)) => {
                            println!("cannot call {n}: {why}");
                            self.finish_plan(exit::UNREACHABLE);
                        }
                        _ => println!("lookup {n} failed: {why}"),
                    }
                }
                Request::List => println!("list failed: {why}"),
            },
            membership::Event::RegistryError(e) => {
                println!("registry {reg} reports an error: {e}")
            }
            membership::Event::Left(reason) => {
                match reason {
                    Some(r) => println!("goodbye from registry {reg}: {r}"),
                    None => println!("left registry {reg} (no goodbye received)"),
                }
                self.exit_code = Some(self.outcome.unwrap_or(exit::OK));
            }
        }
    }

    fn report_call(&mut self, e: call::Event) {
        let now = Instant::now();
        match e {
            call::Event::Calling { peer } => {
                println!("INVITE sent to {peer}; waiting for an answer")
            }
            call::Event::Ringing { peer } => println!("ringing {peer}"),
            call::Event::Incoming { peer, conn, offer } => {
                let from = self
                    .calls
                    .get(&Token(conn.0 as usize))
                    .map_or_else(|| "?".to_string(), |c| c.peer.to_string());
                println!("incoming call from {peer} ({from}) — accept or reject?");
                log::debug!("offer: {}", negotiate::describe(&offer));
                match self.opts.answer {
                    AnswerMode::Ask => {}
                    AnswerMode::AutoAccept => {
                        println!("answering automatically (--auto-accept)");
                        self.accept(now);
                    }
                    AnswerMode::RejectAll => {
                        println!("rejecting automatically");
                        let _ = self.phone.reject(now);
                    }
                }
            }
            call::Event::Established(s) => {
                let ip = self
                    .phone
                    .status(now)
                    .and_then(|st| self.calls.get(&Token(st.conn.0 as usize)))
                    .map_or_else(|| "?".to_string(), |c| c.peer.ip().to_string());
                let how = match s.role {
                    Role::Caller => format!("{} accepted", s.peer),
                    Role::Callee => format!("accepted the call from {}", s.peer),
                };
                println!(
                    "{how}: call established; we receive audio on port {} and video on port {}, {} receives audio at {ip}:{} and video at {ip}:{}; {}",
                    s.local_ports.audio,
                    s.local_ports.video,
                    s.peer,
                    s.remote_ports.audio,
                    s.remote_ports.video,
                    negotiate::describe(&s.media)
                );
                if let Some(secs) = self.opts.plan.as_ref().and_then(|p| p.seconds) {
                    self.hangup_at = Some(now + secs);
                }
                self.start_media(&s, &ip);
            }
            call::Event::Ended {
                peer,
                reason,
                duration,
            } => {
                self.media = None;
                self.hangup_at = None;
                if let Some(session) = self.session.take() {
                    let quality = session.stop();
                    for line in quality.lines(peer.as_str()) {
                        println!("{line}");
                    }
                    if self.opts.media.report_json {
                        println!("{}", quality.json(peer.as_str()));
                    }
                }
                let after = duration.map_or(String::new(), |d| {
                    format!(" after {:.1} s", d.as_secs_f64())
                });
                match &reason {
                    EndReason::Rejected(r) => println!("call to {peer} rejected: {r}"),
                    _ => println!("call with {peer} ended: {reason}{after}"),
                }
                if self.dialed {
                    self.finish_plan(plan_exit_code(&reason));
                }
            }
            call::Event::Missed { peer, reason } => {
                println!("missed call from {peer}: answered {reason}")
            }
            call::Event::PeerError(e) => println!("the other peer reports an error: {e}"),
        }
    }

    /// The call is up: media starts flowing to the ports the other side announced.
    fn start_media(&mut self, s: &call::Session, ip: &str) {
        let Some(sockets) = self.media.take() else {
            return;
        };
        let Ok(remote_ip) = ip.parse() else {
            println!("media not started: the other side's address is unknown");
            return;
        };
        let ep = Endpoints {
            audio: sockets.audio,
            video: sockets.video,
            remote_ip,
            remote: s.remote_ports,
            media: s.media,
        };
        match MediaSession::start(ep, &self.opts.media) {
            Ok(m) => {
                println!("media flowing: {}", negotiate::describe(&s.media));
                self.session = Some(m);
                self.write_sdp(s);
            }
            Err(e) => println!("media not started: {e}"),
        }
    }

    /// `--forward` with `--sdp`: the description a player opens to show the
    /// copy of this call's received streams.
    fn write_sdp(&self, s: &call::Session) {
        let (Some(fwd), Some(path)) = (self.opts.media.forward, &self.opts.media.sdp) else {
            if let Some(fwd) = self.opts.media.forward {
                println!("forwarding the received streams to {fwd}");
            }
            return;
        };
        let text = sdp::describe(&SdpStreams {
            name: format!("peercall: call with {}", s.peer),
            addr: fwd.ip(),
            video_port: fwd.port(),
            audio_port: fwd.port() + 2,
            media: s.media,
        });
        match std::fs::write(path, text) {
            Ok(()) => println!(
                "forwarding the received streams to {fwd}; a player opens {} (ffplay -protocol_whitelist file,rtp,udp -i {})",
                path.display(),
                path.display()
            ),
            Err(e) => println!(
                "forwarding the received streams to {fwd}, but the SDP could not be written to {}: {e}",
                path.display()
            ),
        }
    }

    /// `peercall call`: the call is over (or could not be made): leave with `code`.
    fn finish_plan(&mut self, code: u8) {
        if self.opts.plan.is_some() {
            self.outcome.get_or_insert(code);
            self.membership.leave(Instant::now());
        }
    }
}

/// The exit code of `peercall call` for the way its call ended.
fn plan_exit_code(reason: &EndReason) -> u8 {
    match reason {
        EndReason::HungUp | EndReason::PeerHungUp | EndReason::Declined => exit::OK,
        EndReason::Rejected(RejectReason::Busy) => exit::BUSY,
        EndReason::Rejected(RejectReason::UnsupportedMedia) | EndReason::BadMedia(_) => exit::MEDIA,
        EndReason::Rejected(_) => exit::REJECTED,
        EndReason::NoAnswer => exit::NO_ANSWER,
        EndReason::Cancelled => exit::INTERRUPTED,
        EndReason::PeerCancelled => exit::OK,
        EndReason::ConnectionLost => exit::LOST,
        EndReason::Unreachable => exit::PEER_UNREACHABLE,
    }
}
