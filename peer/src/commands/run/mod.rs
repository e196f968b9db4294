//! `peercall run` and `peercall call`: the peer's control loop. One mio loop
//! owns the registry link, the call port and its signalling connections,
//! the signal pipe and a waker shared by the stdin thread and the registry
//! resolver. The [`Membership`] machine decides what to say to the registry,
//! the [`Phone`] machine what to say to other peers; this module moves their
//! messages (through [`crate::net`]) and prints what they report
//! (the `report` module). The console (stdin) and the call's media live beside it.

mod call_media;
mod console;
mod report;
mod screen;
mod trust;

pub use console::MAX_COMMAND_LEN;

use super::media_setup;
use crate::exit;
use crate::media::ringer::Ringer;
use crate::net::call_port::CallConnections;
use crate::net::registry_link::RegistryLink;
use crate::net::{describe, Tokens};
use crate::options::{AnswerMode, RunOptions};
use crate::random_u64;
use call_media::CallMedia;
use console::{spawn_stdin, Line};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use peercall::call::{self, negotiate, EndReason, Phase, Phone};
use peercall::identity::{Identity, PublicKey};
use peercall::membership::{self, Membership};
use peercall::wire::{
    AudioCodec, AudioFormat, CallId, MediaDescription, Name, RejectReason, VideoCodec, VideoFormat,
};
use peercall::ConnId;
use screen::Screen;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use std::io::{self, ErrorKind, Write};
use std::net::SocketAddr;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use trust::Allowed;

const CALLS: Token = Token(1);
/// The stdin thread and the registry resolver wake the loop here (a poll
/// has one waker).
const WAKE: Token = Token(2);
const SIGNALS: Token = Token(3);
/// Connection tokens start here and only grow.
const FIRST_CONN: usize = 16;

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

/// Names being looked up to place a call. The membership answers lookups
/// by name, so a call is placed when the answer for its name comes, and any
/// other answer is shown to the user.
#[derive(Default)]
struct ToDial {
    names: Vec<Name>,
}

impl ToDial {
    fn add(&mut self, name: Name) {
        self.names.push(name);
    }

    /// Whether `name` was being looked up to call it (no longer, after this).
    fn take(&mut self, name: &Name) -> bool {
        match self.names.iter().position(|n| n == name) {
            Some(i) => {
                self.names.remove(i);
                true
            }
            None => false,
        }
    }
}

/// How far `peercall call`'s one planned call has got.
#[derive(Default)]
struct PlanProgress {
    /// Registered at least once: from then on a lost registry is waited
    /// for, not a reason to give up.
    registered: bool,
    /// `--seconds`: when to hang up.
    hangup_at: Option<Instant>,
    /// The exit code once the registry has been left.
    outcome: Option<u8>,
    /// Whether the planned call was placed (its end ends the run).
    dialed: bool,
}

struct Peer {
    poll: Poll,
    opts: RunOptions,
    /// This peer's key pair: what the registry binds its name to and what
    /// its calls' handshakes prove.
    identity: Identity,
    /// The allow file: whose calls `--auto-accept` answers, which callers
    /// ring as verified, and keys pinned for names.
    allowed: Allowed,
    membership: Membership,
    phone: Phone,
    registry: RegistryLink,
    calls: CallConnections,
    tokens: Tokens,
    to_dial: ToDial,
    media: CallMedia,
    plan: PlanProgress,
    exit_code: Option<u8>,
    /// The call window and the microphone's mute switch.
    screen: Screen,
    /// Whether the registry has us registered right now.
    registered: bool,
    /// The ring tone while an incoming call waits for an answer.
    ringer: Option<Ringer>,
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

impl Peer {
    fn new(opts: RunOptions) -> Result<(Peer, TcpListener, Signals, Receiver<Line>), u8> {
        let fail = |what: &str, e: io::Error| {
            eprintln!("peercall: cannot {what}: {e}");
            exit::LOCAL
        };
        let identity = super::load_identity(opts.identity.as_deref())?;
        let allowed = Allowed::load(opts.allow.as_deref(), opts.identity.as_deref())?;
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
        let waker = Waker::new(poll.registry(), WAKE).map_err(|e| fail("set up stdin", e))?;
        let waker = Arc::new(waker);
        let lines = spawn_stdin(Arc::clone(&waker));

        println!("listening for calls on {bound}");
        let now = Instant::now();
        let mut membership = Membership::new(
            peercall::membership::Claim {
                identity: identity.clone(),
                name: opts.name.clone(),
                addr: bound,
            },
            now,
        );
        membership.start(now);
        let mut opts = opts;
        let screen = Screen::open(&opts.name, &mut opts.media, Arc::clone(&waker));
        let offer = media_setup::prepare(&mut opts.media, DEFAULT_MEDIA)?;
        call_media::write_sdp(opts.name.as_str(), &offer, &opts.media).map_err(|e| {
            eprintln!("peercall: {e}");
            exit::USAGE
        })?;
        let phone = Phone::new(call::Config {
            name: opts.name.clone(),
            identity: identity.clone(),
            media: offer,
            answer_timeout: opts.answer_timeout,
            silence_timeout: call::DEFAULT_SILENCE_TIMEOUT,
        });
        let peer = Peer {
            poll,
            identity,
            allowed,
            membership,
            phone,
            registry: RegistryLink::new(opts.registry.clone(), Arc::clone(&waker)),
            calls: CallConnections::default(),
            tokens: Tokens::starting_at(FIRST_CONN),
            to_dial: ToDial::default(),
            media: CallMedia::waking(waker),
            plan: PlanProgress::default(),
            exit_code: None,
            screen,
            registered: false,
            ringer: None,
            opts,
        };
        Ok((peer, listener, signals, lines))
    }

    fn main_loop(
        &mut self,
        listener: &mut TcpListener,
        signals: &mut Signals,
        lines: &Receiver<Line>,
    ) -> u8 {
        // Others need this key to let this peer call them (their allow file).
        println!("this peer's key is {}", self.identity.public());
        if self.opts.answer == AnswerMode::AutoAcceptAnyone {
            println!(
                "warning: --auto-accept-anyone answers every call, from anyone who can reach this peer, and sends them this camera and microphone"
            );
        }
        let mut events = Events::with_capacity(64);
        let mut stdin_open = true;
        // The call port had more connections waiting than one turn accepts.
        let mut accept_more = false;
        loop {
            // While a call's media stops, what the machines say waits, so
            // its report is printed before anything that follows the call.
            if let Some(after) = self.media.stopped() {
                self.call_over(after);
            }
            if !self.media.is_stopping() {
                self.apply_outputs();
            }
            if let Some(code) = self.exit_code.filter(|_| !self.media.is_stopping()) {
                return code;
            }
            // While a call's media stops, the phone's outputs wait, so call
            // connections are not read (what they say would pile up).
            let reading = !self.media.is_stopping();
            let timeout = [
                self.membership.next_timeout(),
                self.phone.next_timeout(),
                self.calls.next_timeout(),
                self.plan.hangup_at,
                self.screen.next_timeout(),
            ]
            .into_iter()
            .flatten()
            .min()
            .map(|t| t.saturating_duration_since(Instant::now()));
            // Work left from the last turn: look for events, do not wait.
            let busy = reading && (accept_more || self.calls.has_unread());
            let timeout = if busy { Some(Duration::ZERO) } else { timeout };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == ErrorKind::Interrupted {
                    continue;
                }
                eprintln!("peercall: event loop failed: {e}");
                return exit::LOCAL;
            }
            for ev in events.iter() {
                match ev.token() {
                    CALLS => accept_more = true,
                    SIGNALS if signals.pending().next().is_some() => self.interrupted(),
                    // WAKE: lines and resolved addresses are taken below,
                    // after every wakeup.
                    t if t.0 >= FIRST_CONN => self.ready(t),
                    _ => {}
                }
            }
            if reading {
                if accept_more {
                    accept_more = self.calls.accept_some(
                        listener,
                        self.poll.registry(),
                        &mut self.tokens,
                        &mut self.phone,
                    );
                }
                self.calls.read_turn(self.poll.registry(), &mut self.phone);
            }
            while stdin_open {
                match lines.try_recv() {
                    Ok(line) => self.command(line),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => stdin_open = false,
                }
            }
            self.window_actions();
            let now = Instant::now();
            self.refresh_peers(now);
            self.registry.poll_resolved(
                self.poll.registry(),
                &mut self.tokens,
                &mut self.membership,
                now,
            );
            if let Some(reason) = self.media.failure() {
                println!("media failed ({reason}): hanging up");
                let _ = self.phone.hangup(now);
            }
            self.membership.handle_timeout(now);
            self.calls
                .handle_timeout(now, self.poll.registry(), &mut self.phone);
            self.phone.handle_timeout(now);
            if self.plan.hangup_at.is_some_and(|t| t <= now) {
                self.plan.hangup_at = None;
                let _ = self.phone.hangup(now);
            }
        }
    }

    /// SIGINT or SIGTERM: end any call, then leave the registry.
    fn interrupted(&mut self) {
        let now = Instant::now();
        if self.phone.hangup(now).is_ok() && self.opts.plan.is_some() {
            self.plan.outcome.get_or_insert(exit::INTERRUPTED);
        }
        self.membership.leave(now);
    }

    /// `quit`, or the window closed: end any call, then leave the registry.
    fn quit(&mut self, now: Instant) {
        let _ = self.phone.hangup(now);
        self.membership.leave(now);
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
        self.to_dial.add(name.clone());
        self.membership.lookup(name);
    }

    /// The registry answered a lookup made to place a call: `key` is the
    /// key its name is bound to.
    fn dial(&mut self, name: Name, addr: SocketAddr, key: PublicKey) {
        let now = Instant::now();
        if self.phone.is_busy() {
            println!("not calling {name}: already in a call");
            return;
        }
        let key = match self.expected_key(&name, key) {
            Ok(k) => k,
            Err((line, code)) => {
                println!("{line}");
                self.finish_plan(code);
                return;
            }
        };
        let seed = match crate::net::call_port::handshake_seed() {
            Ok(s) => s,
            Err(e) => {
                println!("cannot call {name}: no randomness for the handshake: {e}");
                self.finish_plan(exit::LOCAL);
                return;
            }
        };
        let ports = match self.media.bind(self.opts.listen.ip()) {
            Ok(p) => p,
            Err(e) => {
                println!("cannot call {name}: no UDP ports for media: {e}");
                self.finish_plan(exit::LOCAL);
                return;
            }
        };
        let conn = ConnId(self.tokens.fresh().0 as u64);
        if let Err(e) = self.phone.dial(
            now,
            conn,
            (name.clone(), key),
            CallId(random_u64()),
            ports,
            seed,
        ) {
            println!("cannot call {name}: {e}");
            return;
        }
        println!("calling {name} at {addr}");
        self.plan.dialed = true;
        self.calls
            .dial(conn, addr, self.poll.registry(), &mut self.phone);
    }

    fn accept(&mut self, now: Instant) {
        if !matches!(self.phone.status(now), Some(s) if s.phase == Phase::Alerting) {
            println!("cannot accept: no incoming call");
            return;
        }
        match self.media.bind(self.opts.listen.ip()) {
            Ok(ports) => {
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

    /// A connection (the registry's or a call's) is readable or writable.
    fn ready(&mut self, token: Token) {
        let reg = self.poll.registry();
        if self.registry.owns(token) {
            let now = Instant::now();
            self.registry
                .ready(reg, &mut self.tokens, &mut self.membership, now);
        } else if self.calls.owns(token) {
            self.calls.ready(token, reg, &mut self.phone);
        }
    }

    /// Carries out what both machines asked for, until neither asks anything.
    fn apply_outputs(&mut self) {
        loop {
            let mut moved = false;
            while let Some(out) = self.membership.poll_output() {
                moved = true;
                match out {
                    membership::Output::Connect => self.registry.connect(self.poll.registry()),
                    membership::Output::Disconnect => self.registry.close(self.poll.registry()),
                    membership::Output::Send(msg) => self.registry.send(
                        self.poll.registry(),
                        &mut self.membership,
                        Instant::now(),
                        &msg,
                    ),
                    membership::Output::Event(e) => self.report_membership(e),
                }
            }
            while let Some(out) = self.phone.poll_output() {
                moved = true;
                match out {
                    call::Output::Send { conn, msg } => {
                        self.calls
                            .send(conn, &msg, self.poll.registry(), &mut self.phone)
                    }
                    call::Output::Close { conn } => {
                        self.calls
                            .close(conn, self.poll.registry(), &mut self.phone)
                    }
                    call::Output::Event(e) => self.report_call(e),
                }
                if self.media.is_stopping() {
                    return;
                }
            }
            if !moved {
                break;
            }
        }
        let _ = io::stdout().flush();
    }

    /// A call has ended and its media (if any) stopped, its report printed.
    fn call_over(&mut self, after: call_media::AfterStop) {
        println!("{}", after.line);
        if let Some(code) = after.plan_code {
            self.finish_plan(code);
        }
    }

    /// `peercall call`: the call is over (or could not be made): leave with `code`.
    fn finish_plan(&mut self, code: u8) {
        if self.opts.plan.is_some() {
            self.plan.outcome.get_or_insert(code);
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
        EndReason::Rejected(RejectReason::Declined) => exit::REJECTED,
        EndReason::Rejected(RejectReason::Unknown(_)) => exit::REJECTED_OTHER,
        EndReason::NoAnswer => exit::NO_ANSWER,
        EndReason::Cancelled => exit::INTERRUPTED,
        EndReason::PeerCancelled => exit::OK,
        EndReason::ConnectionLost => exit::LOST,
        EndReason::Unreachable => exit::PEER_UNREACHABLE,
        EndReason::Rejected(RejectReason::NotAllowed) => exit::NOT_ALLOWED,
        EndReason::WrongKey { .. } => exit::WRONG_KEY,
        EndReason::PeerOutdated(_) => exit::PROTOCOL,
    }
}
