//! The registry's table and its rules, without any IO: which connection holds
//! which name and endpoint, what each request is answered, when a silent
//! connection loses its registration, and how a rebooted board takes its name
//! back from a half-open connection.
//!
//! The server feeds [`Registry::handle_input`] with connection events and
//! parsed messages, calls [`Registry::handle_timeout`] at
//! [`Registry::next_timeout`], and drains [`Registry::poll_output`] for frames
//! to send, connections to close and events to print.
//!
//! Rules:
//! - A name is unique, and so is an endpoint (IP, call port). A registration
//!   belongs to the connection that made it; one registration per connection.
//! - The same name from the same endpoint on another connection while the
//!   holder lives: ALREADY REGISTERED (probing); the holder is pinged and, if it
//!   sends nothing within the probe timeout, loses the registration to the new
//!   connection, which then receives REGISTERED. If it answers, the claimant gets
//!   ALREADY REGISTERED (holder alive).
//! - Same name, other endpoint: NAME TAKEN. Other name, same endpoint: ENDPOINT TAKEN.
//! - A connection silent for the silence timeout (registered) or the idle
//!   timeout (not registered) gets GOODBYE and is closed.

use crate::identity::PublicKey;
use crate::wire::{
    AlreadyRegistered, Entry, ErrorCode, ErrorMsg, GoodbyeReason, HoldStatus, ListReply, Message,
    Name, NameKey, Nonce, Register, Registered, WireError, MAX_PAYLOAD_LEN,
};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::ops::Bound;
use std::time::{Duration, Instant};

/// How long a connection may stay silent without registering before it is closed.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a registered connection may stay silent (no message, no ping)
/// before its registration is dropped. Peers ping every
/// [`crate::membership::PING_INTERVAL`], a third of this.
pub const DEFAULT_SILENCE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the holder of a registration has to answer the probe sent when a
/// new connection claims the same name and endpoint.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// The ERROR text answering a REGISTER whose signature does not verify.
pub const BAD_SIGNATURE_TEXT: &str = "REGISTER signature does not verify for this connection's CHALLENGE (wrong key, or a REGISTER replayed from another connection)";

/// How many connections the registry serves at once; more are refused with an error.
pub const MAX_CONNECTIONS: usize = 16_384;

pub use crate::ConnId;

/// The registry's tunable limits.
#[derive(Debug, Clone)]
pub struct Config {
    /// See [`DEFAULT_IDLE_TIMEOUT`].
    pub idle_timeout: Duration,
    /// See [`DEFAULT_SILENCE_TIMEOUT`].
    pub silence_timeout: Duration,
    /// See [`DEFAULT_PROBE_TIMEOUT`].
    pub probe_timeout: Duration,
    /// See [`MAX_CONNECTIONS`].
    pub max_connections: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            silence_timeout: DEFAULT_SILENCE_TIMEOUT,
            probe_timeout: DEFAULT_PROBE_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
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

/// What the server must do, or may tell the user.
pub type Output = crate::ConnOutput<Event>;

/// Why a registration left the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Departure {
    /// The peer unregistered.
    Unregistered,
    /// Its connection closed.
    ConnectionLost,
    /// Its connection was silent longer than the silence timeout.
    TimedOut,
    /// A new connection claimed it and the holder did not answer the probe.
    ProbeUnanswered,
    /// Its connection sent bytes that are not a valid message.
    ProtocolError,
    /// The registry is shutting down.
    ShuttingDown,
}

impl fmt::Display for Departure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Departure::Unregistered => "unregistered",
            Departure::ConnectionLost => "connection lost",
            Departure::TimedOut => "timed out",
            Departure::ProbeUnanswered => "timed out: did not answer the probe",
            Departure::ProtocolError => "protocol error",
            Departure::ShuttingDown => "registry shutting down",
        })
    }
}

/// Something the registry did that its operator wants to see.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A name was registered (`handed_over`: taken over from a holder that
    /// failed the probe or left while the claim was pending).
    Registered {
        /// The name.
        name: Name,
        /// Recorded call endpoint.
        addr: SocketAddr,
        /// Source address of the registering connection.
        observed: SocketAddr,
        /// Whether it was handed over from a previous holder.
        handed_over: bool,
    },
    /// A claim for a name and endpoint that are already registered.
    AlreadyRegistered {
        /// The name.
        name: Name,
        /// The endpoint.
        addr: SocketAddr,
        /// Where the claim stands.
        status: HoldStatus,
    },
    /// A claim refused because the name is registered by another endpoint.
    NameTaken {
        /// The name.
        name: Name,
        /// The endpoint asked for.
        addr: SocketAddr,
        /// The endpoint that holds it.
        holder: SocketAddr,
    },
    /// A claim refused because the name is a look-alike of a registered one
    /// ([`Name::keys`]).
    NameResembles {
        /// The name asked for.
        name: Name,
        /// The endpoint asked for.
        addr: SocketAddr,
        /// The registered name it resembles.
        held: Name,
    },
    /// A claim refused because the endpoint is registered under another name.
    EndpointTaken {
        /// The name asked for.
        name: Name,
        /// The endpoint.
        addr: SocketAddr,
        /// The name that holds it.
        holder: Name,
    },
    /// A registration left the table.
    Departed {
        /// The name.
        name: Name,
        /// Its endpoint.
        addr: SocketAddr,
        /// Why.
        reason: Departure,
    },
    /// A REGISTER refused because its signature does not verify against the
    /// connection's challenge (a forged or replayed claim).
    BadSignature {
        /// The name it asked for.
        name: Name,
        /// Where the connection comes from.
        from: SocketAddr,
    },
    /// A connection was refused because [`Config::max_connections`] are open.
    ConnectionRefused {
        /// Where it came from.
        from: SocketAddr,
    },
}

/// One row of the table, for display.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// The name.
    pub name: &'a Name,
    /// Recorded call endpoint.
    pub addr: SocketAddr,
    /// Source address of the holding connection.
    pub observed: SocketAddr,
    /// When it was registered.
    pub since: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    Silence,
    Probe,
}

#[derive(Debug)]
struct Probe {
    claimant: ConnId,
    started: Instant,
    deadline: Instant,
}

#[derive(Debug)]
struct Holding {
    key: PublicKey,
    addr: SocketAddr,
    observed: SocketAddr,
    since: Instant,
    conn: ConnId,
    probe: Option<Probe>,
}

#[derive(Debug)]
struct Conn {
    from: SocketAddr,
    last_heard: Instant,
    /// Deadline of this connection's one live silence timer in the heap.
    silence_timer: Instant,
    holds: Option<Name>,
    /// A name this connection claimed while its holder is being probed.
    claim: Option<(Name, SocketAddr, PublicKey)>,
    /// The nonce of this connection's CHALLENGE.
    nonce: Nonce,
}

/// The registry: the table, the connections, and their timers.
#[derive(Debug)]
pub struct Registry {
    config: Config,
    entries: BTreeMap<Name, Holding>,
    endpoints: HashMap<SocketAddr, Name>,
    /// Each registered name under its look-alike keys: one name per key.
    keys: HashMap<NameKey, Name>,
    conns: HashMap<ConnId, Conn>,
    timers: BinaryHeap<Reverse<(Instant, ConnId, TimerKind)>>,
    outputs: VecDeque<Output>,
    next_ping: u64,
}

impl Registry {
    /// An empty registry.
    pub fn new(config: Config) -> Self {
        Registry {
            config,
            entries: BTreeMap::new(),
            endpoints: HashMap::new(),
            keys: HashMap::new(),
            conns: HashMap::new(),
            timers: BinaryHeap::new(),
            outputs: VecDeque::new(),
            next_ping: 1,
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
            addr: h.addr,
            observed: h.observed,
            since: h.since,
        })
    }

    /// Feeds one connection event.
    pub fn handle_input(&mut self, now: Instant, input: Input) {
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
        self.timers.peek().map(|Reverse((t, _, _))| *t)
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((t, conn, kind))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            match kind {
                TimerKind::Silence => self.check_silence(now, t, conn),
                TimerKind::Probe => self.check_probe(now, t, conn),
            }
        }
    }

    /// The next thing to do, or `None` when there is nothing.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Says GOODBYE to every connection and forgets them all (orderly shutdown).
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
                claim: None,
                nonce,
            },
        );
        self.timers
            .push(Reverse((deadline, conn, TimerKind::Silence)));
        self.send(conn, Message::Challenge(nonce));
    }

    fn receive(&mut self, now: Instant, conn: ConnId, msg: Message) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.last_heard = now;
        // An UNREGISTER is no sign the holder wants to keep the name: let the
        // departure hand it over instead of failing the claim.
        if let (Some(name), false) = (c.holds.clone(), matches!(msg, Message::Unregister)) {
            self.holder_heard(now, &name);
        }
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
                        .find_map(|k| self.keys.get(k))
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

    /// The holder of `name` showed it is alive: a pending probe fails the claim.
    fn holder_heard(&mut self, now: Instant, name: &Name) {
        let Some(h) = self.entries.get_mut(name) else {
            return;
        };
        let Some(p) = h.probe.as_ref() else {
            return;
        };
        if now < p.started {
            return;
        }
        let addr = h.addr;
        let claimant = p.claimant;
        h.probe = None;
        if let Some(c) = self.conns.get_mut(&claimant) {
            c.claim = None;
            self.send(
                claimant,
                Message::AlreadyRegistered(AlreadyRegistered {
                    name: name.clone(),
                    status: HoldStatus::HolderAlive,
                    probe_ms: 0,
                }),
            );
            self.event(Event::AlreadyRegistered {
                name: name.clone(),
                addr,
                status: HoldStatus::HolderAlive,
            });
        }
    }

    fn register(&mut self, now: Instant, conn: ConnId, mut r: Register) {
        // One spelling per endpoint: ::ffff:a.b.c.d is a.b.c.d, so it can
        // neither take a registered endpoint nor dodge ENDPOINT TAKEN.
        r.addr = crate::wire::canonical_addr(r.addr);
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
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
                self.already(conn, r.name, addr, HoldStatus::Yours, 0);
            } else {
                let text = format!("this connection holds {held}; unregister first");
                self.send(
                    conn,
                    Message::Error(ErrorMsg::new(ErrorCode::AlreadyHolds, text)),
                );
            }
            return;
        }
        if c.claim.is_some() {
            self.already(conn, r.name, addr, HoldStatus::ClaimPending, 0);
            return;
        }
        if let Some(h) = self.entries.get_mut(&r.name) {
            if h.addr != addr {
                let holder = h.addr;
                self.send(conn, Message::NameTaken(r.name.clone()));
                self.event(Event::NameTaken {
                    name: r.name,
                    addr,
                    holder,
                });
                return;
            }
            if h.probe.is_some() {
                self.already(conn, r.name, addr, HoldStatus::ClaimPending, 0);
                return;
            }
            // Same name, same endpoint, other connection: maybe a rebooted board
            // whose old connection is half-open. Ask the holder.
            let deadline = now + self.config.probe_timeout;
            let holder = h.conn;
            h.probe = Some(Probe {
                claimant: conn,
                started: now,
                deadline,
            });
            self.timers
                .push(Reverse((deadline, holder, TimerKind::Probe)));
            let token = self.next_ping;
            self.next_ping += 1;
            self.send(holder, Message::Ping(token));
            if let Some(c) = self.conns.get_mut(&conn) {
                c.claim = Some((r.name.clone(), addr, r.key));
            }
            let probe_ms = u16::try_from(self.config.probe_timeout.as_millis()).unwrap_or(u16::MAX);
            self.already(conn, r.name, addr, HoldStatus::Probing, probe_ms);
            return;
        }
        if let Some(held) = r.name.keys().iter().find_map(|k| self.keys.get(k)) {
            let held = held.clone();
            self.send(
                conn,
                Message::NameResembles {
                    asked: r.name.clone(),
                    held: held.clone(),
                },
            );
            self.event(Event::NameResembles {
                name: r.name,
                addr,
                held,
            });
            return;
        }
        if let Some(holder) = self.endpoints.get(&addr) {
            let holder = holder.clone();
            self.send(conn, Message::EndpointTaken(addr));
            self.event(Event::EndpointTaken {
                name: r.name,
                addr,
                holder,
            });
            return;
        }
        self.insert(now, conn, r.name, addr, r.key, false);
    }

    fn already(&mut self, conn: ConnId, name: Name, addr: SocketAddr, status: HoldStatus, ms: u16) {
        self.send(
            conn,
            Message::AlreadyRegistered(AlreadyRegistered {
                name: name.clone(),
                status,
                probe_ms: ms,
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
        c.claim = None;
        // The silence timeout may be shorter than the idle one it replaces.
        let deadline = c.last_heard + self.config.silence_timeout;
        if deadline < c.silence_timer {
            c.silence_timer = deadline;
            self.timers
                .push(Reverse((deadline, conn, TimerKind::Silence)));
        }
        self.entries.insert(
            name.clone(),
            Holding {
                key,
                addr,
                observed,
                since: now,
                conn,
                probe: None,
            },
        );
        self.endpoints.insert(addr, name.clone());
        for k in name.keys() {
            self.keys.insert(k, name.clone());
        }
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
            self.timers
                .push(Reverse((deadline, conn, TimerKind::Silence)));
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

    fn check_probe(&mut self, now: Instant, fired: Instant, holder: ConnId) {
        let Some(name) = self.conns.get(&holder).and_then(|c| c.holds.clone()) else {
            return;
        };
        let due = self
            .entries
            .get(&name)
            .and_then(|h| h.probe.as_ref())
            .is_some_and(|p| p.deadline == fired);
        if due {
            self.send(holder, Message::Goodbye(GoodbyeReason::Replaced));
            self.close(now, holder, Departure::ProbeUnanswered);
        }
    }

    /// Queues the close of `conn` after what was sent to it, and forgets it.
    fn close(&mut self, now: Instant, conn: ConnId, why: Departure) {
        self.outputs.push_back(Output::Close { conn });
        self.drop_conn(now, conn, why);
    }

    /// Forgets `conn`: its registration departs (handed to a waiting claimant if
    /// there is one), and a claim it was waiting on is withdrawn.
    fn drop_conn(&mut self, now: Instant, conn: ConnId, why: Departure) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        if let Some((name, _, _)) = c.claim {
            if let Some(h) = self.entries.get_mut(&name) {
                if h.probe.as_ref().is_some_and(|p| p.claimant == conn) {
                    h.probe = None;
                }
            }
        }
        let Some(name) = c.holds else {
            return;
        };
        let Some(h) = self.entries.remove(&name) else {
            return;
        };
        self.endpoints.remove(&h.addr);
        for k in name.keys() {
            if self.keys.get(&k) == Some(&name) {
                self.keys.remove(&k);
            }
        }
        self.event(Event::Departed {
            name: name.clone(),
            addr: h.addr,
            reason: why,
        });
        if let Some(p) = h.probe {
            let waiting = self
                .conns
                .get(&p.claimant)
                .and_then(|c| c.claim.clone())
                .filter(|(n, _, _)| *n == name);
            if let Some((name, addr, key)) = waiting {
                self.insert(now, p.claimant, name, addr, key, true);
            }
        }
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
