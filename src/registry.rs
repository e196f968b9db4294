//! The registry's table and its rules, without any IO: which key owns which
//! name, which connection holds which name and endpoint now, what each request
//! is answered, when a silent connection loses its registration, and how an
//! owner takes its name back at once from a stale connection of its own.
//!
//! The server feeds [`Registry::handle_input`] with connection events (each
//! new connection with a fresh random nonce) and parsed messages, tells it the
//! wall-clock time with [`Registry::set_wall_clock`] (leases last days and
//! outlive restarts, so they count in Unix seconds), calls
//! [`Registry::handle_timeout`] at [`Registry::next_timeout`], drains
//! [`Registry::poll_output`] for frames to send, connections to close and
//! events to print, and saves [`Registry::bindings`] whenever
//! [`Registry::take_bindings_changed`] says so.
//!
//! Rules:
//! - Every connection first receives a CHALLENGE with its nonce. A REGISTER is
//!   taken only if its signature verifies for that nonce ([`Register::verify`]).
//! - A name is bound to the key that registered it (a *binding*), and the
//!   binding outlives the connection: another key gets NAME TAKEN while the
//!   owner's lease lasts, counted from when the owner was last seen
//!   (registered, or connected while holding it). A look-alike of a bound name
//!   is refused the same way (NAME RESEMBLES).
//! - The owner's key gets its name back at once: an older connection of the
//!   same key that still holds it (a crashed, frozen or cut-off peer) is told
//!   GOODBYE (replaced) and closed, and the new one is REGISTERED.
//! - An endpoint (IP, call port) is held by one name at a time: another name
//!   at the same endpoint is refused with ENDPOINT TAKEN, unless the same key
//!   holds it (a renamed peer), which is replaced.
//! - One registration per connection. A connection silent for the silence
//!   timeout (registered) or the idle timeout (not registered) gets GOODBYE
//!   and is closed; its name stays bound to its key.
//!
//! Connections, the table and the requests are here; the bindings, their
//! leases and the judgement of a REGISTER against them are in `names.rs`,
//! and what the registry reports in `events.rs`.

use crate::identity::PublicKey;
use crate::wire::{
    AlreadyRegistered, Entry, ErrorCode, ErrorMsg, GoodbyeReason, HoldStatus, ListReply, Message,
    Name, NameKey, Nonce, Register, Registered, WireError, MAX_PAYLOAD_LEN,
};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::ops::Bound;
use std::time::{Duration, Instant};

/// How long a connection may stay silent without registering before it is closed.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a registered connection may stay silent (no message, no ping)
/// before its registration is dropped. Peers ping every
/// [`crate::membership::PING_INTERVAL`], a third of this.
pub const DEFAULT_SILENCE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a name stays bound to its key after the owner was last seen: 30
/// days, so a board switched off for a holiday finds its name waiting, and a
/// name given up for good is free again a month later.
pub const DEFAULT_NAME_LEASE: Duration = Duration::from_secs(30 * 24 * 3600);
/// How many connections the registry serves at once; more are refused with an error.
pub const MAX_CONNECTIONS: usize = 16_384;
/// How many name bindings the registry remembers, live or not. When full,
/// expired bindings are forgotten first; a new name beyond it is refused with
/// an error, so a flood of keys cannot grow the table (and its file) without
/// bound. Live names keep their bindings.
pub const MAX_BINDINGS: usize = 100_000;

/// The ERROR text answering a REGISTER whose signature does not verify.
pub const BAD_SIGNATURE_TEXT: &str = "REGISTER signature does not verify for this connection's CHALLENGE (wrong key, or a REGISTER replayed from another connection)";

pub use crate::ConnId;

mod events;
mod names;

pub use events::{Binding, Departure, Event, Output, Row};
use names::{Owner, Verdict};

/// The registry's tunable limits.
#[derive(Debug, Clone)]
pub struct Config {
    /// See [`DEFAULT_IDLE_TIMEOUT`].
    pub idle_timeout: Duration,
    /// See [`DEFAULT_SILENCE_TIMEOUT`].
    pub silence_timeout: Duration,
    /// See [`DEFAULT_NAME_LEASE`].
    pub name_lease: Duration,
    /// See [`MAX_CONNECTIONS`].
    pub max_connections: usize,
    /// See [`MAX_BINDINGS`].
    pub max_bindings: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            silence_timeout: DEFAULT_SILENCE_TIMEOUT,
            name_lease: DEFAULT_NAME_LEASE,
            max_connections: MAX_CONNECTIONS,
            max_bindings: MAX_BINDINGS,
        }
    }
}

/// Something that happened on a connection.
#[derive(Debug)]
pub enum Input {
    /// A connection was accepted from this source address.
    Opened {
        /// The new connection.
        conn: ConnId,
        /// Where it comes from.
        from: SocketAddr,
        /// The nonce its CHALLENGE carries and its REGISTER must sign: fresh
        /// from the operating system's random source for every connection
        /// (the library draws no randomness itself).
        nonce: Nonce,
    },
    /// A whole, valid message arrived.
    Received {
        /// On this connection.
        conn: ConnId,
        /// The message.
        msg: Message,
    },
    /// Bytes arrived that are not a valid message; the stream is unusable.
    Malformed {
        /// On this connection.
        conn: ConnId,
        /// What was wrong.
        error: WireError,
    },
    /// The connection closed or failed.
    Closed {
        /// This connection.
        conn: ConnId,
    },
}

#[derive(Debug)]
struct Holding {
    key: PublicKey,
    addr: SocketAddr,
    observed: SocketAddr,
    since: Instant,
    conn: ConnId,
}

#[derive(Debug)]
struct Conn {
    from: SocketAddr,
    last_heard: Instant,
    /// Deadline of this connection's one live silence timer in the heap.
    silence_timer: Instant,
    holds: Option<Name>,
    /// The nonce of this connection's CHALLENGE.
    nonce: Nonce,
}

/// The registry: the bindings, the table, the connections, and their timers.
#[derive(Debug)]
pub struct Registry {
    config: Config,
    /// Every name bound to a key, live or not.
    bindings: BTreeMap<Name, Owner>,
    /// Each bound name under its look-alike keys: one name per key.
    lookalikes: HashMap<NameKey, Name>,
    /// The names held by a connection now.
    entries: BTreeMap<Name, Holding>,
    endpoints: HashMap<SocketAddr, Name>,
    conns: HashMap<ConnId, Conn>,
    timers: BinaryHeap<Reverse<(Instant, ConnId)>>,
    outputs: VecDeque<Output>,
    /// An instant and the Unix time at it, from the shell.
    clock: Option<(Instant, u64)>,
    bindings_changed: bool,
}

impl Registry {
    /// An empty registry.
    pub fn new(config: Config) -> Self {
        Registry {
            config,
            bindings: BTreeMap::new(),
            lookalikes: HashMap::new(),
            entries: BTreeMap::new(),
            endpoints: HashMap::new(),
            conns: HashMap::new(),
            timers: BinaryHeap::new(),
            outputs: VecDeque::new(),
            clock: None,
            bindings_changed: false,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Number of registrations.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nobody is registered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of open connections.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// The table, in name order.
    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        self.entries.iter().map(|(name, h)| Row {
            name,
            key: h.key,
            addr: h.addr,
            observed: h.observed,
            since: h.since,
        })
    }

    /// Feeds one connection event.
    pub fn handle_input(&mut self, now: Instant, input: Input) {
        self.tick(now);
        match input {
            Input::Opened { conn, from, nonce } => {
                self.open(now, conn, crate::wire::canonical_addr(from), nonce)
            }
            Input::Received { conn, msg } => self.receive(now, conn, msg),
            Input::Malformed { conn, error } => {
                if self.conns.contains_key(&conn) {
                    log::debug!("connection {} sent malformed bytes: {error}", conn.0);
                    self.send(conn, Message::Error(error.to_error_msg()));
                    self.close(now, conn, Departure::ProtocolError);
                }
            }
            Input::Closed { conn } => {
                if self.conns.contains_key(&conn) {
                    self.drop_conn(now, conn, Departure::ConnectionLost);
                }
            }
        }
    }

    /// The earliest time [`Registry::handle_timeout`] has work to do.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((t, _))| *t)
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        while let Some(Reverse((t, conn))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            self.check_silence(now, t, conn);
        }
    }

    /// The next thing to do, or `None` when there is nothing.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Says GOODBYE to every connection and forgets them all (orderly
    /// shutdown). The bindings stay, seen now.
    pub fn shutdown(&mut self, now: Instant) {
        let mut conns: Vec<ConnId> = self.conns.keys().copied().collect();
        conns.sort();
        for conn in conns {
            self.send(conn, Message::Goodbye(GoodbyeReason::ShuttingDown));
            self.close(now, conn, Departure::ShuttingDown);
        }
        self.timers.clear();
    }

    fn open(&mut self, now: Instant, conn: ConnId, from: SocketAddr, nonce: Nonce) {
        if self.conns.len() >= self.config.max_connections {
            self.send(
                conn,
                Message::Error(ErrorMsg::new(
                    ErrorCode::TooManyConnections,
                    format!(
                        "the registry serves at most {} connections",
                        self.config.max_connections
                    ),
                )),
            );
            self.outputs.push_back(Output::Close { conn });
            self.event(Event::ConnectionRefused { from });
            return;
        }
        let deadline = now + self.config.idle_timeout;
        self.conns.insert(
            conn,
            Conn {
                from,
                last_heard: now,
                silence_timer: deadline,
                holds: None,
                nonce,
            },
        );
        self.timers.push(Reverse((deadline, conn)));
        self.send(conn, Message::Challenge(nonce));
    }

    fn receive(&mut self, now: Instant, conn: ConnId, msg: Message) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.last_heard = now;
        match msg {
            Message::Register(r) => self.register(now, conn, r),
            Message::Unregister => {
                self.send(conn, Message::Goodbye(GoodbyeReason::Unregistered));
                self.close(now, conn, Departure::Unregistered);
            }
            Message::Lookup(name) => {
                // `call Alice` finds alice: the answer carries the name as
                // registered, so the caller sees whom it reaches.
                let held = match self.entries.get_key_value(&name) {
                    Some(found) => Some(found),
                    None => name
                        .keys()
                        .iter()
                        .find_map(|k| self.lookalikes.get(k))
                        .and_then(|n| self.entries.get_key_value(n)),
                };
                let reply = match held {
                    Some((n, h)) => Message::Found(entry(now, n.clone(), h)),
                    None => Message::NotFound(name),
                };
                self.send(conn, reply);
            }
            Message::List { after } => {
                let page = self.page(now, after.as_ref());
                self.send(conn, Message::ListReply(page));
            }
            Message::Ping(token) => self.send(conn, Message::Pong(token)),
            Message::Pong(_) => {}
            Message::Error(e) => log::debug!("connection {} reports an error: {e}", conn.0),
            Message::Unknown(t) => self.send(
                conn,
                Message::Error(ErrorMsg::new(
                    ErrorCode::UnknownType,
                    format!("message type {t:#04x} is unknown to this registry"),
                )),
            ),
            other => self.send(
                conn,
                Message::Error(ErrorMsg::new(
                    ErrorCode::UnexpectedMessage,
                    format!(
                        "message type {:#04x} is not a request to the registry",
                        other.msg_type()
                    ),
                )),
            ),
        }
    }

    fn register(&mut self, now: Instant, conn: ConnId, mut r: Register) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        // The signature covers the name and address as sent; it is checked
        // before anything else so no rule can be probed with a forged key.
        if !r.verify(&c.nonce) {
            let from = c.from;
            self.send(
                conn,
                Message::Error(ErrorMsg::new(
                    ErrorCode::UnexpectedMessage,
                    BAD_SIGNATURE_TEXT,
                )),
            );
            self.event(Event::BadSignature { name: r.name, from });
            return;
        }
        // One spelling per endpoint: ::ffff:a.b.c.d is a.b.c.d, so it can
        // neither take a registered endpoint nor dodge ENDPOINT TAKEN.
        r.addr = crate::wire::canonical_addr(r.addr);
        if r.addr.port() == 0 {
            self.send(
                conn,
                Message::Error(ErrorMsg::new(
                    ErrorCode::BadAddress,
                    "call port 0 cannot be called; register the port you listen on",
                )),
            );
            return;
        }
        let addr = if r.addr.ip().is_unspecified() {
            SocketAddr::new(c.from.ip(), r.addr.port())
        } else {
            r.addr
        };
        if let Some(held) = &c.holds {
            let same = *held == r.name && self.entries.get(held).map(|h| h.addr) == Some(addr);
            if same {
                self.already(conn, r.name, addr, HoldStatus::Yours);
            } else {
                let text = format!("this connection holds {held}; unregister first");
                self.send(
                    conn,
                    Message::Error(ErrorMsg::new(ErrorCode::AlreadyHolds, text)),
                );
            }
            return;
        }
        let (replace, unbind) = match self.judge(now, conn, &r.name, addr, r.key) {
            Verdict::Refused => return,
            Verdict::Take { replace, unbind } => (replace, unbind),
        };
        let handed_over = !replace.is_empty();
        for old in replace {
            self.send(old, Message::Goodbye(GoodbyeReason::Replaced));
            self.close(now, old, Departure::Replaced);
        }
        for name in unbind {
            self.unbind(&name);
        }
        if !self.bindings.contains_key(&r.name) && !self.make_room(now) {
            self.send(
                conn,
                Message::Error(ErrorMsg::new(
                    ErrorCode::UnexpectedMessage,
                    format!(
                        "the registry remembers at most {} names and all are in use; try again later",
                        self.config.max_bindings
                    ),
                )),
            );
            return;
        }
        self.insert(now, conn, r.name, addr, r.key, handed_over);
    }

    fn already(&mut self, conn: ConnId, name: Name, addr: SocketAddr, status: HoldStatus) {
        self.send(
            conn,
            Message::AlreadyRegistered(AlreadyRegistered {
                name: name.clone(),
                status,
                probe_ms: 0,
            }),
        );
        self.event(Event::AlreadyRegistered { name, addr, status });
    }

    fn insert(
        &mut self,
        now: Instant,
        conn: ConnId,
        name: Name,
        addr: SocketAddr,
        key: PublicKey,
        handed_over: bool,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let observed = c.from;
        c.holds = Some(name.clone());
        // The silence timeout may be shorter than the idle one it replaces.
        let deadline = c.last_heard + self.config.silence_timeout;
        if deadline < c.silence_timer {
            c.silence_timer = deadline;
            self.timers.push(Reverse((deadline, conn)));
        }
        self.entries.insert(
            name.clone(),
            Holding {
                key,
                addr,
                observed,
                since: now,
                conn,
            },
        );
        self.endpoints.insert(addr, name.clone());
        let unix = self.unix(now);
        self.bind(name.clone(), key, unix);
        self.send(
            conn,
            Message::Registered(Registered {
                name: name.clone(),
                addr,
                observed,
            }),
        );
        self.event(Event::Registered {
            name,
            addr,
            observed,
            handed_over,
            key,
        });
    }

    fn page(&self, now: Instant, after: Option<&Name>) -> ListReply {
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut room = MAX_PAYLOAD_LEN - ListReply::EMPTY_LEN;
        let mut entries = Vec::new();
        let mut more = false;
        for (name, h) in self.entries.range::<Name, _>((start, Bound::Unbounded)) {
            let e = entry(now, name.clone(), h);
            if e.len() > room {
                more = true;
                break;
            }
            room -= e.len();
            entries.push(e);
        }
        ListReply { more, entries }
    }

    fn check_silence(&mut self, now: Instant, fired: Instant, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.silence_timer != fired {
            return; // superseded by an earlier timer for this connection
        }
        let timeout = if c.holds.is_some() {
            self.config.silence_timeout
        } else {
            self.config.idle_timeout
        };
        let deadline = c.last_heard + timeout;
        if deadline > now {
            c.silence_timer = deadline;
            self.timers.push(Reverse((deadline, conn)));
            return;
        }
        let reason = if c.holds.is_some() {
            GoodbyeReason::SilenceTimeout
        } else {
            GoodbyeReason::IdleTimeout
        };
        self.send(conn, Message::Goodbye(reason));
        self.close(now, conn, Departure::TimedOut);
    }

    /// Queues the close of `conn` after what was sent to it, and forgets it.
    fn close(&mut self, now: Instant, conn: ConnId, why: Departure) {
        self.outputs.push_back(Output::Close { conn });
        self.drop_conn(now, conn, why);
    }

    /// Forgets `conn`: its registration departs; the name stays bound to its
    /// key, last seen now.
    fn drop_conn(&mut self, now: Instant, conn: ConnId, why: Departure) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        let Some(name) = c.holds else {
            return;
        };
        let Some(h) = self.entries.remove(&name) else {
            return;
        };
        if self.endpoints.get(&h.addr) == Some(&name) {
            self.endpoints.remove(&h.addr);
        }
        let unix = self.unix(now);
        if let Some(b) = self.bindings.get_mut(&name) {
            b.last_seen = unix;
            self.bindings_changed = true;
        }
        self.event(Event::Departed {
            name,
            addr: h.addr,
            reason: why,
        });
    }

    fn send(&mut self, conn: ConnId, msg: Message) {
        self.outputs.push_back(Output::Send { conn, msg });
    }

    fn event(&mut self, e: Event) {
        self.outputs.push_back(Output::Event(e));
    }
}

fn entry(now: Instant, name: Name, h: &Holding) -> Entry {
    let age = now.saturating_duration_since(h.since).as_secs();
    Entry {
        name,
        key: h.key,
        addr: h.addr,
        observed: h.observed,
        age_secs: u32::try_from(age).unwrap_or(u32::MAX),
    }
}

#[cfg(test)]
mod tests;
