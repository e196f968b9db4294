//! A peer's membership in a registry, without any IO: connect, register, keep
//! the registration alive with pings, notice a dead or silent registry, retry
//! with backoff and register again, answer lookups and lists (following list
//! pages), and leave with UNREGISTER. [`Membership::query`] is the same
//! machine for one-shot questions (`peercall list`, `lookup`): it connects
//! once, registers nothing, and gives up rather than retrying.
//!
//! The peer's event loop performs [`Output::Connect`] and
//! [`Output::Disconnect`], writes [`Output::Send`] frames, reports
//! [`Output::Event`]s to the user, and feeds back what the socket did
//! ([`Membership::connected`], [`Membership::disconnected`],
//! [`Membership::received`]) plus [`Membership::handle_timeout`] at
//! [`Membership::next_timeout`].

use crate::identity::Identity;
use crate::wire::{
    Entry, ErrorCode, ErrorMsg, GoodbyeReason, HoldStatus, ListReply, Message, Name, Register,
    Registered,
};
use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How often a registered peer pings the registry: a third of the registry's
/// silence timeout, so two lost pings do not cost the registration.
pub const PING_INTERVAL: Duration = Duration::from_secs(10);
/// A registry that sends nothing (not even a PONG) for this long is taken for dead.
pub const REGISTRY_SILENCE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a TCP connect to the registry may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The wait before the first reconnect; it doubles on each failure.
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(250);
/// The longest wait between reconnect attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How a user is told the registry address reaches something else.
pub const NOT_A_REGISTRY: &str = "does not speak the registry protocol";

/// How long to wait for GOODBYE after UNREGISTER before giving up on it.
pub const LEAVE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a [`Membership::query`] waits for its connection.
pub const QUERY_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a [`Membership::query`] waits for each answer.
pub const QUERY_REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// Most lookups and lists waiting for their answers at once; more are refused
/// locally, so a stuck registry cannot make the queue grow.
pub const MAX_PENDING_REQUESTS: usize = 64;

/// What the event loop must do, or may tell the user.
#[must_use]
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Open a new connection to the registry (closing any old one first).
    Connect,
    /// Close the connection to the registry.
    Disconnect,
    /// Send this message to the registry.
    Send(Message),
    /// Something to report.
    Event(Event),
}

/// Why the registry will not register this peer. Final: the machine stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The name is registered from another endpoint.
    NameTaken,
    /// The name is a look-alike of this registered name (case, width or
    /// confusable letters; docs/protocol.md 3.2).
    NameResembles(Name),
    /// The endpoint is registered under another name.
    EndpointTaken(SocketAddr),
    /// Another live connection holds this very name and endpoint.
    HolderAlive,
    /// Another connection's claim on this name is being decided.
    ClaimPending,
    /// The registry answered REGISTER with an error.
    Error(ErrorMsg),
    /// Another connection registered this name with this peer's own key and
    /// the registry handed it over (GOODBYE replaced): the same identity
    /// runs elsewhere. Final, so that two such peers do not take the name
    /// from each other forever.
    Replaced,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NameTaken => write!(f, "the name is registered by another peer"),
            Refusal::NameResembles(held) => write!(
                f,
                "the name looks like {held}, which another peer has registered; pick a name that does not"
            ),
            Refusal::EndpointTaken(a) => {
                write!(f, "the endpoint {a} is registered under another name")
            }
            Refusal::HolderAlive => write!(
                f,
                "another live connection holds this name and endpoint (is this peer already running?)"
            ),
            Refusal::ClaimPending => {
                write!(f, "another connection is claiming this name right now")
            }
            Refusal::Error(e) => write!(f, "{e}"),
            Refusal::Replaced => write!(
                f,
                "the name was registered again with this peer's key from another connection (is this identity in use by another running peer?)"
            ),
        }
    }
}

/// Why the connection to the registry was lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lost {
    /// The connection could not be made (the text says why).
    ConnectFailed(String),
    /// The connection broke or was closed (the text says why).
    Closed(String),
    /// The registry sent nothing for [`REGISTRY_SILENCE_TIMEOUT`].
    Silent,
    /// The registry said goodbye.
    Goodbye(GoodbyeReason),
    /// The other end is no registry: it sent bytes that are not peercall
    /// messages (a web server), or answered as a peer's call port does (the
    /// text says what it sent).
    NotARegistry(String),
}

impl fmt::Display for Lost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lost::ConnectFailed(why) => write!(f, "cannot connect: {why}"),
            Lost::Closed(why) => write!(f, "connection closed: {why}"),
            Lost::Silent => write!(f, "no answer for {} s", REGISTRY_SILENCE_TIMEOUT.as_secs()),
            Lost::Goodbye(r) => write!(f, "registry said goodbye: {r}"),
            Lost::NotARegistry(why) => {
                write!(
                    f,
                    "{NOT_A_REGISTRY} ({why}); is a peercall-registry running there?"
                )
            }
        }
    }
}

/// What a lookup or list asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A lookup of this name.
    Lookup(Name),
    /// A list of the whole table.
    List,
}

/// Something to report to the user.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Registered (again, after a reconnect, when `again`).
    Registered {
        /// What the registry recorded.
        registration: Registered,
        /// Whether this is a re-registration after the registry was lost.
        again: bool,
    },
    /// A version 1 registry is probing an old connection holding this name
    /// and endpoint (a version 2 registry hands the name to its key at once).
    Probing {
        /// How long the probe waits, in ms.
        ms: u16,
    },
    /// The registry refused the registration; the machine has stopped.
    Refused(Refusal),
    /// The registry connection was lost; a reconnect follows after `retry_in`.
    Lost {
        /// What happened.
        why: Lost,
        /// When the next attempt is made.
        retry_in: Duration,
    },
    /// A lookup found the name.
    Found(Entry),
    /// A lookup did not find the name.
    NotFound(Name),
    /// A list completed: the whole table, in name order.
    Listed(Vec<Entry>),
    /// A request could not be answered (not connected, connection lost, too many pending).
    RequestFailed {
        /// The request.
        request: Request,
        /// Why.
        why: String,
    },
    /// The registry reported an error about something this peer sent.
    RegistryError(ErrorMsg),
    /// Unregistered: the registry's goodbye reason, or `None` if it never came.
    Left(Option<GoodbyeReason>),
    /// A query got an answer it did not ask for, or bytes that are not
    /// peercall messages: the other end is no registry this peer can use.
    /// The query machine has stopped.
    Misbehaved(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not started yet.
    Idle,
    /// Waiting to reconnect.
    Waiting,
    /// Connect in progress.
    Connecting,
    /// Connected: waiting for the CHALLENGE, or REGISTER sent and no answer yet.
    Registering,
    /// REGISTERED.
    Registered,
    /// UNREGISTER sent, waiting for GOODBYE.
    Leaving,
    /// Left or refused; nothing more happens.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    Retry,
    Connect,
    Ping,
    Silence,
    Leave,
}

const TIMERS: [Timer; 5] = [
    Timer::Retry,
    Timer::Connect,
    Timer::Ping,
    Timer::Silence,
    Timer::Leave,
];

#[derive(Debug)]
enum Pending {
    Lookup(Name),
    List(Vec<Entry>),
}

impl Pending {
    fn request(&self) -> Request {
        match self {
            Pending::Lookup(n) => Request::Lookup(n.clone()),
            Pending::List(_) => Request::List,
        }
    }
}

/// What a member registers, and the identity that proves the name is its own.
#[derive(Debug, Clone)]
pub struct Claim {
    /// The peer's identity: REGISTER is signed with it, and the name is bound
    /// to its public key.
    pub identity: Identity,
    /// The name to claim.
    pub name: Name,
    /// The call endpoint (an unspecified IP lets the registry record the
    /// address it sees).
    pub addr: SocketAddr,
}

/// A peer's membership in one registry.
#[derive(Debug)]
pub struct Membership {
    /// What to register; `None` for a query, which registers nothing.
    claim: Option<Claim>,
    /// Whether this connection's REGISTER has gone out (it waits for the
    /// registry's CHALLENGE, whose nonce it signs).
    register_sent: bool,
    /// Whether this connection brought a CHALLENGE: then the other end is a
    /// registry, whose first frame always is one.
    challenged: bool,
    state: State,
    backoff: Duration,
    timers: [Option<Instant>; TIMERS.len()],
    last_heard: Instant,
    ever_registered: bool,
    pending: VecDeque<Pending>,
    /// Requests made while the connection was being opened, sent once it is up.
    unsent: Vec<Message>,
    next_token: u64,
    registration: Option<Registered>,
    outputs: VecDeque<Output>,
}

impl Membership {
    /// A membership that will claim `claim.name` for the call endpoint
    /// `claim.addr`, proving on every connection that it holds
    /// `claim.identity`.
    pub fn new(claim: Claim, now: Instant) -> Self {
        Membership::with_claim(Some(claim), now)
    }

    /// A machine for one-shot lookups and lists: after [`Membership::start`]
    /// it connects once and registers nothing; a connection that fails, closes
    /// or stays silent for [`QUERY_REPLY_TIMEOUT`] fails the requests
    /// ([`Event::RequestFailed`] with the plain reason) and stops it.
    pub fn query(now: Instant) -> Self {
        Membership::with_claim(None, now)
    }

    fn with_claim(claim: Option<Claim>, now: Instant) -> Self {
        Membership {
            claim,
            register_sent: false,
            challenged: false,
            state: State::Idle,
            backoff: INITIAL_BACKOFF,
            timers: [None; TIMERS.len()],
            last_heard: now,
            ever_registered: false,
            pending: VecDeque::new(),
            unsent: Vec::new(),
            next_token: 1,
            registration: None,
            outputs: VecDeque::new(),
        }
    }

    /// Starts: asks for the first connection.
    pub fn start(&mut self, now: Instant) {
        if self.state == State::Idle {
            self.connect(now);
        }
    }

    /// The current registration, while registered.
    pub fn registration(&self) -> Option<&Registered> {
        self.registration.as_ref()
    }

    /// Whether the machine has stopped (left or refused).
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The connection asked for by [`Output::Connect`] is up.
    pub fn connected(&mut self, now: Instant) {
        if self.state != State::Connecting {
            return;
        }
        self.set(Timer::Connect, None);
        self.last_heard = now;
        self.challenged = false;
        match &self.claim {
            Some(_) => {
                // REGISTER follows the registry's CHALLENGE (see `received`).
                // A PING goes out at once so that whatever listens there
                // shows what it is: a registry answers after its CHALLENGE,
                // anything else answers first (or not at all).
                self.state = State::Registering;
                self.register_sent = false;
                let t = self.next_token;
                self.next_token += 1;
                self.send(Message::Ping(t));
                self.set(Timer::Ping, Some(now + PING_INTERVAL));
            }
            // A query asks at once; the answers keep the connection alive.
            None => {
                self.state = State::Registered;
                self.flush_unsent();
            }
        }
        self.set(Timer::Silence, Some(now + self.silence_timeout()));
    }

    /// The connection failed to open, broke, or was closed by the registry.
    pub fn disconnected(&mut self, now: Instant, why: &str) {
        match self.state {
            State::Connecting => self.lose(now, Lost::ConnectFailed(why.to_owned()), false),
            State::Registering | State::Registered => {
                self.lose(now, Lost::Closed(why.to_owned()), false)
            }
            State::Leaving => self.finish_leaving(None),
            State::Idle | State::Waiting | State::Done => {}
        }
    }

    /// The registry sent bytes that are not peercall messages: the
    /// connection is lost for that reason (a query stops, with
    /// [`Event::Misbehaved`]).
    pub fn malformed(&mut self, now: Instant, why: &str) {
        // The link has closed the connection already.
        self.not_a_registry(now, why.to_owned(), false);
    }

    /// What the other end sent shows it is no registry: a query stops
    /// ([`Event::Misbehaved`]); a member closes and tries again later
    /// ([`Lost::NotARegistry`]), as for a registry that is down, in case the
    /// right one comes up at that address.
    fn not_a_registry(&mut self, now: Instant, why: String, close: bool) {
        match self.state {
            State::Registered if self.claim.is_none() => self.misbehaved(why),
            State::Connecting | State::Registering | State::Registered => {
                self.lose(now, Lost::NotARegistry(why), close)
            }
            State::Leaving => {
                if close {
                    self.outputs.push_back(Output::Disconnect);
                }
                self.finish_leaving(None)
            }
            State::Idle | State::Waiting | State::Done => {}
        }
    }

    /// A message arrived from the registry.
    pub fn received(&mut self, now: Instant, msg: Message) {
        if !matches!(
            self.state,
            State::Registering | State::Registered | State::Leaving
        ) {
            return;
        }
        self.last_heard = now;
        if let Message::Challenge(nonce) = msg {
            self.challenged = true;
            self.challenged(&nonce);
            return;
        }
        // Before a CHALLENGE the other end is not known to be a registry.
        if !self.challenged {
            let early_pong = self.claim.is_some() && matches!(msg, Message::Pong(_));
            let why = if early_pong {
                Some(
                    "it answered PING before sending a registry's CHALLENGE: a peer's call port?"
                        .to_owned(),
                )
            } else {
                call_port_answer(&msg)
            };
            if let Some(why) = why {
                self.not_a_registry(now, why, true);
                return;
            }
        }
        if self.claim.is_none() && !self.answers_query(&msg) {
            let asked = match self.pending.front() {
                Some(Pending::Lookup(_)) => "an answer to the lookup",
                _ => "a list reply",
            };
            let why = format!("expected {asked}, got message type {:#04x}", msg.msg_type());
            self.misbehaved(why);
            return;
        }
        match msg {
            Message::Registered(r) => {
                if self.state == State::Registering {
                    self.state = State::Registered;
                    self.backoff = INITIAL_BACKOFF;
                    let again = self.ever_registered;
                    self.ever_registered = true;
                    self.registration = Some(r.clone());
                    self.event(Event::Registered {
                        registration: r,
                        again,
                    });
                }
            }
            Message::AlreadyRegistered(a) => match a.status {
                HoldStatus::Probing => self.event(Event::Probing { ms: a.probe_ms }),
                HoldStatus::HolderAlive => self.refuse(Refusal::HolderAlive),
                HoldStatus::ClaimPending => self.refuse(Refusal::ClaimPending),
                HoldStatus::Yours | HoldStatus::Unknown(_) => {
                    log::debug!("registry says {:?} for our own claim", a.status)
                }
            },
            Message::NameTaken(_) => self.refuse(Refusal::NameTaken),
            Message::EndpointTaken(a) => self.refuse(Refusal::EndpointTaken(a)),
            Message::NameResembles { held, .. } => self.refuse(Refusal::NameResembles(held)),
            Message::Found(e) => match self.pending.front() {
                Some(Pending::Lookup(_)) => {
                    self.pending.pop_front();
                    self.event(Event::Found(e));
                }
                _ => log::debug!("unsolicited FOUND for {}", e.name),
            },
            Message::NotFound(n) => match self.pending.front() {
                Some(Pending::Lookup(_)) => {
                    self.pending.pop_front();
                    self.event(Event::NotFound(n));
                }
                _ => log::debug!("unsolicited NOT FOUND for {n}"),
            },
            Message::ListReply(page) => self.list_page(page),
            Message::Goodbye(reason) => {
                if self.state == State::Leaving {
                    self.finish_leaving(Some(reason));
                } else if reason == GoodbyeReason::Replaced && self.claim.is_some() {
                    self.replaced();
                } else {
                    self.lose(now, Lost::Goodbye(reason), true);
                }
            }
            Message::Ping(t) => self.send(Message::Pong(t)),
            Message::Pong(_) => {}
            Message::Error(e) => {
                // UNEXPECTED MESSAGE answers a REGISTER whose signature the
                // registry could not verify: retrying would be refused again.
                let about_register = matches!(
                    e.code,
                    ErrorCode::BadName
                        | ErrorCode::BadAddress
                        | ErrorCode::AlreadyHolds
                        | ErrorCode::UnexpectedMessage
                );
                if self.state == State::Registering && about_register {
                    self.refuse(Refusal::Error(e));
                } else {
                    self.event(Event::RegistryError(e));
                }
            }
            other => log::debug!(
                "ignoring message type {:#04x} from the registry",
                other.msg_type()
            ),
        }
    }

    /// The registry's CHALLENGE: a member signs its nonce into the REGISTER
    /// (once per connection); a query registers nothing and ignores it.
    fn challenged(&mut self, nonce: &crate::wire::Nonce) {
        if self.state != State::Registering || self.register_sent {
            return;
        }
        let Some(c) = &self.claim else { return };
        let register = Register::signed(&c.identity, c.name.clone(), c.addr, nonce);
        self.register_sent = true;
        self.send(Message::Register(register));
        // Requests made meanwhile follow the REGISTER, as they always did.
        self.flush_unsent();
    }

    fn flush_unsent(&mut self) {
        for msg in std::mem::take(&mut self.unsent) {
            self.send(msg);
        }
    }

    /// Asks where `name` is; the answer comes as [`Event::Found`] or [`Event::NotFound`].
    /// Asked while the connection is opening, it is sent once the connection is up.
    pub fn lookup(&mut self, name: Name) {
        let msg = Message::Lookup(name.clone());
        self.request(Pending::Lookup(name), msg);
    }

    /// Asks for the whole table; the answer comes as [`Event::Listed`].
    pub fn list(&mut self) {
        self.request(Pending::List(Vec::new()), Message::List { after: None });
    }

    /// Unregisters and closes; ends with [`Event::Left`].
    pub fn leave(&mut self, now: Instant) {
        match self.state {
            // A query registered nothing: there is nothing to unregister.
            State::Registered if self.claim.is_none() => {
                self.outputs.push_back(Output::Disconnect);
                self.state = State::Done;
                self.timers = [None; TIMERS.len()];
                self.fail_pending("leaving");
                self.event(Event::Left(None));
            }
            State::Registering | State::Registered => {
                self.send(Message::Unregister);
                self.state = State::Leaving;
                self.set(Timer::Leave, Some(now + LEAVE_TIMEOUT));
            }
            State::Idle | State::Waiting | State::Connecting => {
                if self.state == State::Connecting {
                    self.outputs.push_back(Output::Disconnect);
                }
                self.state = State::Done;
                self.timers = [None; TIMERS.len()];
                self.fail_pending("leaving");
                self.event(Event::Left(None));
            }
            State::Leaving | State::Done => {}
        }
    }

    /// The earliest time [`Membership::handle_timeout`] has work to do.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.timers.iter().flatten().min().copied()
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        for (i, timer) in TIMERS.iter().enumerate() {
            let Some(at) = self.timers[i] else { continue };
            if at > now {
                continue;
            }
            self.timers[i] = None;
            match timer {
                Timer::Retry => self.connect(now),
                Timer::Connect => self.lose(now, Lost::ConnectFailed("timed out".into()), true),
                Timer::Ping => {
                    let t = self.next_token;
                    self.next_token += 1;
                    self.send(Message::Ping(t));
                    self.set(Timer::Ping, Some(now + PING_INTERVAL));
                }
                Timer::Silence => {
                    let deadline = self.last_heard + self.silence_timeout();
                    if deadline <= now {
                        self.lose(now, Lost::Silent, true);
                    } else {
                        self.set(Timer::Silence, Some(deadline));
                    }
                }
                Timer::Leave => {
                    self.outputs.push_back(Output::Disconnect);
                    self.finish_leaving(None);
                }
            }
        }
    }

    /// The next thing to do, or `None`.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    fn connect(&mut self, now: Instant) {
        self.state = State::Connecting;
        self.outputs.push_back(Output::Connect);
        let timeout = match self.claim {
            Some(_) => CONNECT_TIMEOUT,
            None => QUERY_CONNECT_TIMEOUT,
        };
        self.set(Timer::Connect, Some(now + timeout));
    }

    fn silence_timeout(&self) -> Duration {
        match self.claim {
            Some(_) => REGISTRY_SILENCE_TIMEOUT,
            None => QUERY_REPLY_TIMEOUT,
        }
    }

    /// Whether a query may take `msg`: an answer to its oldest request, or
    /// the connection's own business (pings, errors, goodbye). With nothing
    /// asked, anything goes (it is ignored as for a member).
    fn answers_query(&self, msg: &Message) -> bool {
        matches!(
            (self.pending.front(), msg),
            (
                _,
                Message::Ping(_) | Message::Pong(_) | Message::Error(_) | Message::Goodbye(_)
            ) | (
                Some(Pending::Lookup(_)),
                Message::Found(_) | Message::NotFound(_)
            ) | (Some(Pending::List(_)), Message::ListReply(_))
                | (None, _)
        )
    }

    /// A query's other end is no registry it can use: stop, saying why.
    fn misbehaved(&mut self, why: String) {
        self.outputs.push_back(Output::Disconnect);
        self.state = State::Done;
        self.timers = [None; TIMERS.len()];
        self.pending.clear();
        self.unsent.clear();
        self.event(Event::Misbehaved(why));
    }

    /// The connection is gone: fail what was pending and schedule a
    /// reconnect (a query stops instead).
    fn lose(&mut self, now: Instant, why: Lost, close: bool) {
        if close {
            self.outputs.push_back(Output::Disconnect);
        }
        if self.claim.is_none() {
            let why = match why {
                Lost::ConnectFailed(w) | Lost::Closed(w) => w,
                Lost::Silent => format!("no answer for {} s", QUERY_REPLY_TIMEOUT.as_secs()),
                Lost::Goodbye(r) => format!("the registry said goodbye ({r})"),
                Lost::NotARegistry(w) => format!("{NOT_A_REGISTRY} ({w})"),
            };
            self.state = State::Done;
            self.timers = [None; TIMERS.len()];
            self.fail_pending(&why);
            return;
        }
        self.registration = None;
        self.fail_pending("connection to the registry lost");
        self.timers = [None; TIMERS.len()];
        let retry_in = self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        self.state = State::Waiting;
        self.set(Timer::Retry, Some(now + retry_in));
        self.event(Event::Lost { why, retry_in });
    }

    fn refuse(&mut self, why: Refusal) {
        if self.state != State::Registering {
            return;
        }
        self.outputs.push_back(Output::Disconnect);
        self.state = State::Done;
        self.timers = [None; TIMERS.len()];
        self.fail_pending("registration refused");
        self.event(Event::Refused(why));
    }

    /// The registry gave this registration to a newer connection of the
    /// same key: stop for good (see [`Refusal::Replaced`]).
    fn replaced(&mut self) {
        self.outputs.push_back(Output::Disconnect);
        self.state = State::Done;
        self.registration = None;
        self.timers = [None; TIMERS.len()];
        self.fail_pending("registration replaced");
        self.event(Event::Refused(Refusal::Replaced));
    }

    fn finish_leaving(&mut self, reason: Option<GoodbyeReason>) {
        self.state = State::Done;
        self.registration = None;
        self.timers = [None; TIMERS.len()];
        self.fail_pending("left the registry");
        self.event(Event::Left(reason));
    }

    fn request(&mut self, pending: Pending, msg: Message) {
        let why = if !matches!(
            self.state,
            State::Connecting | State::Registering | State::Registered
        ) {
            Some("not connected to the registry")
        } else if self.pending.len() >= MAX_PENDING_REQUESTS {
            Some("too many requests waiting for the registry")
        } else {
            None
        };
        match why {
            Some(why) => self.event(Event::RequestFailed {
                request: pending.request(),
                why: why.into(),
            }),
            None => {
                self.pending.push_back(pending);
                let before_register = self.state == State::Registering && !self.register_sent;
                if self.state == State::Connecting || before_register {
                    self.unsent.push(msg);
                } else {
                    self.send(msg);
                }
            }
        }
    }

    fn list_page(&mut self, page: ListReply) {
        let Some(Pending::List(acc)) = self.pending.front_mut() else {
            log::debug!("unsolicited LIST REPLY");
            return;
        };
        let last = page.entries.last().map(|e| e.name.clone());
        acc.extend(page.entries);
        match (page.more, last) {
            (true, Some(after)) => self.send(Message::List { after: Some(after) }),
            _ => {
                if let Some(Pending::List(all)) = self.pending.pop_front() {
                    self.event(Event::Listed(all));
                }
            }
        }
    }

    fn fail_pending(&mut self, why: &str) {
        self.unsent.clear();
        while let Some(p) = self.pending.pop_front() {
            self.event(Event::RequestFailed {
                request: p.request(),
                why: why.into(),
            });
        }
    }

    fn set(&mut self, timer: Timer, at: Option<Instant>) {
        self.timers[timer as usize] = at;
    }

    fn send(&mut self, msg: Message) {
        self.outputs.push_back(Output::Send(msg));
    }

    fn event(&mut self, e: Event) {
        self.outputs.push_back(Output::Event(e));
    }
}

/// When `msg` is what a peer's call port sends (call signalling, or its
/// error for a message that is not an INVITE) and never a registry, what to
/// tell the user.
fn call_port_answer(msg: &Message) -> Option<String> {
    match msg {
        Message::Invite(_)
        | Message::Ringing(_)
        | Message::Accept(_)
        | Message::Reject { .. }
        | Message::Cancel(_)
        | Message::Bye(_)
        | Message::ByeAck(_)
        | Message::Keepalive(_) => Some(format!(
            "it sent call signalling (message type {:#04x}): a peer's call port?",
            msg.msg_type()
        )),
        Message::Error(e)
            if matches!(
                e.code,
                ErrorCode::UnexpectedMessage | ErrorCode::UnknownCall
            ) =>
        {
            Some(format!("it answered \"{}\": a peer's call port?", e.text))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
