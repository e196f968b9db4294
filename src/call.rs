//! Call signalling between two peers, without any IO: one call at a time, from
//! dialing through ringing to established and ended, every timeout a deadline
//! the machine reports, and the reason a call ended always said.
//!
//! The caller's shell opens a TCP connection to the callee's registered call
//! port and tells [`Phone::dial`] / [`Phone::connected`]; the callee's shell
//! tells [`Phone::incoming`] for each accepted connection. Both feed
//! [`Phone::received`] and [`Phone::closed`], the user's decisions
//! ([`Phone::accept`], [`Phone::reject`], [`Phone::hangup`]), and
//! [`Phone::handle_timeout`] at [`Phone::next_timeout`]; they drain
//! [`Phone::poll_output`].
//!
//! ```text
//!  caller                         callee
//!  Dialing ──connect──► INVITE ──►  Alerting (RINGING ◄── sent at once)
//!  Calling ◄── RINGING              │ accept / reject / answer timeout
//!  Ringing ◄── ACCEPT ─────────────┤ Established ◄── KEEPALIVE every 2 s ──►
//!          ◄── REJECT ─────────────┘
//!  Established ── BYE ──► BYE ACK ── ended (either side may send BYE)
//! ```
//! After a call ends locally the connection lingers briefly to finish the
//! exchange (BYE ACK, or a BYE for an ACCEPT that crossed a CANCEL), while a
//! new call may already start.

pub mod allow;
pub mod negotiate;
pub mod secure;

use crate::wire::{
    Accept, CallId, ErrorCode, ErrorMsg, Invite, MediaDescription, MediaPorts, Message, Name,
    RejectReason,
};
use crate::ConnId;
use negotiate::MediaError;
use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

/// How long a caller waits for an answer before giving up ("no answer").
pub const DEFAULT_ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// A peer silent this long during an established call is gone ("connection lost").
pub const DEFAULT_SILENCE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often each side says KEEPALIVE during a call.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(2);
/// How long the TCP connect to the callee may take.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an incoming connection has to send its INVITE.
pub const INVITE_WAIT: Duration = Duration::from_secs(10);
/// How long a connection lingers after its call ended, to finish the exchange.
pub const LINGER: Duration = Duration::from_secs(2);
/// The callee stops alerting this long after the caller's answer timeout
/// would have fired, in case the caller's CANCEL never comes.
pub const ALERT_MARGIN: Duration = Duration::from_secs(2);
/// Incoming connections waiting for their INVITE at once; more are closed.
pub const MAX_PENDING_INCOMING: usize = 8;
/// Ended calls whose connections linger at once; the oldest is closed first.
pub const MAX_LINGERING: usize = 8;

/// The call machine's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our registered name (the caller name in our INVITEs).
    pub name: Name,
    /// The most we can send and receive; offers and answers are made from it.
    pub media: MediaDescription,
    /// See [`DEFAULT_ANSWER_TIMEOUT`].
    pub answer_timeout: Duration,
    /// See [`DEFAULT_SILENCE_TIMEOUT`].
    pub silence_timeout: Duration,
}

/// Which end of the call we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We called.
    Caller,
    /// We were called.
    Callee,
}

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Caller: connecting to the callee.
    Dialing,
    /// Caller: INVITE sent, no answer yet.
    Calling,
    /// Caller: the callee is alerting its user.
    Ringing,
    /// Callee: our user is being asked.
    Alerting,
    /// Media flows.
    Established,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Dialing => "dialing",
            Phase::Calling => "calling",
            Phase::Ringing => "ringing",
            Phase::Alerting => "incoming",
            Phase::Established => "established",
        })
    }
}

/// Why a call ended. Every ended call reports exactly one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// We hung up.
    HungUp,
    /// The peer hung up.
    PeerHungUp,
    /// The callee refused.
    Rejected(RejectReason),
    /// We refused the incoming call.
    Declined,
    /// Nobody answered in time.
    NoAnswer,
    /// We gave up calling before an answer.
    Cancelled,
    /// The caller gave up before we answered.
    PeerCancelled,
    /// The connection closed or the peer fell silent.
    ConnectionLost,
    /// The callee could not be reached.
    Unreachable,
    /// The peer answered with media we cannot use.
    BadMedia(MediaError),
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndReason::HungUp => write!(f, "hung up"),
            EndReason::PeerHungUp => write!(f, "the other side hung up"),
            EndReason::Rejected(r) => write!(f, "rejected ({r})"),
            EndReason::Declined => write!(f, "declined"),
            EndReason::NoAnswer => write!(f, "no answer"),
            EndReason::Cancelled => write!(f, "cancelled"),
            EndReason::PeerCancelled => write!(f, "the caller cancelled"),
            EndReason::ConnectionLost => write!(f, "connection lost"),
            EndReason::Unreachable => write!(f, "unreachable"),
            EndReason::BadMedia(e) => write!(f, "unusable media: {e}"),
        }
    }
}

/// An established call's negotiated parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The call.
    pub call_id: CallId,
    /// Our end.
    pub role: Role,
    /// The other side's name.
    pub peer: Name,
    /// Where we receive media.
    pub local_ports: MediaPorts,
    /// Where the other side receives media.
    pub remote_ports: MediaPorts,
    /// The media both sides send.
    pub media: MediaDescription,
}

/// A snapshot of the current call, for `status`.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// The call.
    pub call_id: CallId,
    /// Our end.
    pub role: Role,
    /// Where it stands.
    pub phase: Phase,
    /// The other side.
    pub peer: Name,
    /// The connection it runs on.
    pub conn: ConnId,
    /// Negotiated parameters once established.
    pub session: Option<Session>,
    /// Time since it was established.
    pub duration: Option<Duration>,
}

/// Something to tell the user.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// INVITE sent.
    Calling {
        /// Whom.
        peer: Name,
    },
    /// The callee is alerting its user.
    Ringing {
        /// Whom.
        peer: Name,
    },
    /// Someone calls us; answer with [`Phone::accept`] or [`Phone::reject`].
    Incoming {
        /// The caller.
        peer: Name,
        /// On this connection.
        conn: ConnId,
        /// What the caller offers.
        offer: MediaDescription,
    },
    /// The call is up.
    Established(Session),
    /// The call ended.
    Ended {
        /// With whom.
        peer: Name,
        /// Why.
        reason: EndReason,
        /// How long it was established, if it was.
        duration: Option<Duration>,
    },
    /// A call came in while we could not take it and was refused.
    Missed {
        /// The caller.
        peer: Name,
        /// What we answered.
        reason: RejectReason,
        /// For UnsupportedMedia: what in the offer could not be honoured.
        media: Option<MediaError>,
    },
    /// The peer reported an error about something we sent.
    PeerError(ErrorMsg),
}

/// What the shell must do, or may tell the user.
pub type Output = crate::ConnOutput<Event>;

/// Why a user action could not be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionError {
    /// There is already a call.
    Busy,
    /// There is no call (or none in a phase where this applies).
    NoCall,
    /// Calling ourselves.
    SelfCall,
}

impl fmt::Display for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ActionError::Busy => "already in a call; hang up first",
            ActionError::NoCall => "no call to act on",
            ActionError::SelfCall => "that is this peer's own name",
        })
    }
}

impl std::error::Error for ActionError {}

#[derive(Debug)]
struct Call {
    id: CallId,
    conn: ConnId,
    role: Role,
    phase: Phase,
    peer: Name,
    local_ports: MediaPorts,
    remote_ports: Option<MediaPorts>,
    offer: MediaDescription,
    media: Option<MediaDescription>,
    established_at: Option<Instant>,
    last_heard: Instant,
    /// Dial, answer or alert deadline, by phase.
    deadline: Option<Instant>,
    next_keepalive: Option<Instant>,
}

#[derive(Debug)]
struct Lingering {
    conn: ConnId,
    id: CallId,
    until: Instant,
}

/// One peer's telephone: at most one call, plus connections being set up or wound down.
#[derive(Debug)]
pub struct Phone {
    config: Config,
    call: Option<Call>,
    incoming: HashMap<ConnId, Instant>,
    lingering: Vec<Lingering>,
    outputs: std::collections::VecDeque<Output>,
}

impl Phone {
    /// An idle phone.
    pub fn new(config: Config) -> Self {
        Phone {
            config,
            call: None,
            incoming: HashMap::new(),
            lingering: Vec::new(),
            outputs: Default::default(),
        }
    }

    /// The current call, if any.
    pub fn status(&self, now: Instant) -> Option<Status> {
        self.call.as_ref().map(|c| Status {
            call_id: c.id,
            role: c.role,
            phase: c.phase,
            peer: c.peer.clone(),
            conn: c.conn,
            session: session(c),
            duration: c.established_at.map(|t| now.saturating_duration_since(t)),
        })
    }

    /// Whether a call is in progress (any phase).
    pub fn is_busy(&self) -> bool {
        self.call.is_some()
    }

    /// Starts a call to `peer`: the shell is opening connection `conn` to its
    /// call port and will report [`Phone::connected`] or [`Phone::closed`].
    /// `call_id` should be random; `ports` are where we will receive media.
    pub fn dial(
        &mut self,
        now: Instant,
        conn: ConnId,
        peer: Name,
        call_id: CallId,
        ports: MediaPorts,
    ) -> Result<(), ActionError> {
        if self.call.is_some() {
            return Err(ActionError::Busy);
        }
        if peer == self.config.name {
            return Err(ActionError::SelfCall);
        }
        self.call = Some(Call {
            id: call_id,
            conn,
            role: Role::Caller,
            phase: Phase::Dialing,
            peer,
            local_ports: ports,
            remote_ports: None,
            offer: self.config.media,
            media: None,
            established_at: None,
            last_heard: now,
            deadline: Some(now + DIAL_TIMEOUT),
            next_keepalive: None,
        });
        Ok(())
    }

    /// The connection of a call being dialed is up: the INVITE goes out.
    pub fn connected(&mut self, now: Instant, conn: ConnId) {
        let answer_timeout = self.config.answer_timeout;
        let name = self.config.name.clone();
        let Some(c) = self.call.as_mut().filter(|c| c.conn == conn) else {
            return;
        };
        if c.phase != Phase::Dialing {
            return;
        }
        c.phase = Phase::Calling;
        c.last_heard = now;
        c.deadline = Some(now + answer_timeout);
        let invite = Message::Invite(Invite {
            call_id: c.id,
            caller: name,
            ports: c.local_ports,
            media: c.offer,
        });
        let peer = c.peer.clone();
        self.send(conn, invite);
        self.event(Event::Calling { peer });
    }

    /// The shell accepted connection `conn` on our call port.
    pub fn incoming(&mut self, now: Instant, conn: ConnId) {
        if self.incoming.len() >= MAX_PENDING_INCOMING {
            self.outputs.push_back(Output::Close { conn });
            return;
        }
        self.incoming.insert(conn, now + INVITE_WAIT);
    }

    /// A message arrived on `conn`.
    pub fn received(&mut self, now: Instant, conn: ConnId, msg: Message) {
        // Any frame on the call's connection shows the peer is alive.
        if let Some(c) = self.call.as_mut().filter(|c| c.conn == conn) {
            c.last_heard = now;
        }
        if let Message::Ping(t) = msg {
            self.send(conn, Message::Pong(t));
            return;
        }
        if let Message::Error(e) = msg {
            self.event(Event::PeerError(e));
            return;
        }
        if let Message::Unknown(t) = msg {
            self.error(
                conn,
                ErrorCode::UnknownType,
                format!("message type {t:#04x} is unknown"),
            );
            return;
        }
        if self.incoming.contains_key(&conn) {
            self.before_invite(now, conn, msg);
        } else if self.call.as_ref().is_some_and(|c| c.conn == conn) {
            self.in_call(now, conn, msg);
        } else if let Some(i) = self.lingering.iter().position(|l| l.conn == conn) {
            self.after_call(i, msg);
        }
    }

    /// Connection `conn` closed or failed.
    pub fn closed(&mut self, now: Instant, conn: ConnId) {
        self.incoming.remove(&conn);
        self.lingering.retain(|l| l.conn != conn);
        let Some(c) = self.call.as_ref().filter(|c| c.conn == conn) else {
            return;
        };
        let reason = match c.phase {
            Phase::Dialing => EndReason::Unreachable,
            _ => EndReason::ConnectionLost,
        };
        self.end(now, reason, None);
    }

    /// Our user takes the incoming call; `ports` are where we will receive media.
    pub fn accept(&mut self, now: Instant, ports: MediaPorts) -> Result<(), ActionError> {
        let ours = self.config.media;
        let Some(c) = self.call.as_mut().filter(|c| c.phase == Phase::Alerting) else {
            return Err(ActionError::NoCall);
        };
        let media = match negotiate::answer(&c.offer, &ours) {
            Ok(m) => m,
            Err(e) => {
                let conn = c.conn;
                let id = c.id;
                self.send(
                    conn,
                    Message::Reject {
                        call_id: id,
                        reason: RejectReason::UnsupportedMedia,
                    },
                );
                self.end(now, EndReason::BadMedia(e), Some(conn));
                return Ok(());
            }
        };
        c.local_ports = ports;
        c.media = Some(media);
        let msg = Message::Accept(Accept {
            call_id: c.id,
            ports,
            media,
        });
        let conn = c.conn;
        self.send(conn, msg);
        self.establish(now);
        Ok(())
    }

    /// Our user refuses the incoming call.
    pub fn reject(&mut self, now: Instant) -> Result<(), ActionError> {
        let Some(c) = self.call.as_ref().filter(|c| c.phase == Phase::Alerting) else {
            return Err(ActionError::NoCall);
        };
        let (conn, id) = (c.conn, c.id);
        self.send(
            conn,
            Message::Reject {
                call_id: id,
                reason: RejectReason::Declined,
            },
        );
        self.end(now, EndReason::Declined, Some(conn));
        Ok(())
    }

    /// Our user ends the call: CANCEL while calling, REJECT while alerting, BYE once established.
    pub fn hangup(&mut self, now: Instant) -> Result<(), ActionError> {
        let Some(c) = self.call.as_ref() else {
            return Err(ActionError::NoCall);
        };
        let (conn, id) = (c.conn, c.id);
        match c.phase {
            Phase::Dialing => {
                self.outputs.push_back(Output::Close { conn });
                self.end(now, EndReason::Cancelled, None);
            }
            Phase::Calling | Phase::Ringing => {
                self.send(conn, Message::Cancel(id));
                self.end_lingering(now, EndReason::Cancelled);
            }
            Phase::Alerting => return self.reject(now),
            Phase::Established => {
                self.send(conn, Message::Bye(id));
                self.end_lingering(now, EndReason::HungUp);
            }
        }
        Ok(())
    }

    /// The earliest time [`Phone::handle_timeout`] has work to do.
    pub fn next_timeout(&self) -> Option<Instant> {
        let call = self
            .call
            .iter()
            .flat_map(|c| {
                let silence = (c.phase == Phase::Established)
                    .then(|| c.last_heard + self.config.silence_timeout);
                [c.deadline, c.next_keepalive, silence]
            })
            .flatten();
        call.chain(self.incoming.values().copied())
            .chain(self.lingering.iter().map(|l| l.until))
            .min()
    }

    /// Runs everything due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let late: Vec<ConnId> = self
            .incoming
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(c, _)| *c)
            .collect();
        for conn in late {
            self.incoming.remove(&conn);
            self.outputs.push_back(Output::Close { conn });
        }
        let (done, keep): (Vec<_>, Vec<_>) = self.lingering.drain(..).partition(|l| l.until <= now);
        self.lingering = keep;
        for l in done {
            self.outputs.push_back(Output::Close { conn: l.conn });
        }
        let silence_timeout = self.config.silence_timeout;
        let Some(c) = self.call.as_mut() else { return };
        if c.phase == Phase::Established && c.last_heard + silence_timeout <= now {
            let conn = c.conn;
            self.end(now, EndReason::ConnectionLost, Some(conn));
            return;
        }
        if c.next_keepalive.is_some_and(|t| t <= now) {
            c.next_keepalive = Some(now + KEEPALIVE_INTERVAL);
            let (conn, id) = (c.conn, c.id);
            self.send(conn, Message::Keepalive(id));
        }
        let Some(c) = self.call.as_mut() else { return };
        if c.deadline.is_some_and(|t| t <= now) {
            c.deadline = None;
            let (conn, id) = (c.conn, c.id);
            match c.phase {
                Phase::Dialing => {
                    self.end(now, EndReason::Unreachable, Some(conn));
                }
                Phase::Calling | Phase::Ringing => {
                    self.send(conn, Message::Cancel(id));
                    self.end_lingering(now, EndReason::NoAnswer);
                }
                Phase::Alerting => {
                    self.send(
                        conn,
                        Message::Reject {
                            call_id: id,
                            reason: RejectReason::Declined,
                        },
                    );
                    self.end(now, EndReason::NoAnswer, Some(conn));
                }
                Phase::Established => {}
            }
        }
    }

    /// The next thing to do, or `None`.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// A message on a connection that has not sent its INVITE yet.
    fn before_invite(&mut self, now: Instant, conn: ConnId, msg: Message) {
        let Message::Invite(inv) = msg else {
            self.error(
                conn,
                ErrorCode::UnexpectedMessage,
                format!("expected INVITE, got message type {:#04x}", msg.msg_type()),
            );
            return;
        };
        self.incoming.remove(&conn);
        let media = negotiate::answer(&inv.media, &self.config.media).err();
        let refusal = if self.call.is_some() {
            Some(RejectReason::Busy)
        } else if media.is_some() {
            Some(RejectReason::UnsupportedMedia)
        } else {
            None
        };
        if let Some(reason) = refusal {
            self.send(
                conn,
                Message::Reject {
                    call_id: inv.call_id,
                    reason,
                },
            );
            self.outputs.push_back(Output::Close { conn });
            self.event(Event::Missed {
                peer: inv.caller,
                reason,
                media: media.filter(|_| reason == RejectReason::UnsupportedMedia),
            });
            return;
        }
        let alert = self.config.answer_timeout + ALERT_MARGIN;
        self.call = Some(Call {
            id: inv.call_id,
            conn,
            role: Role::Callee,
            phase: Phase::Alerting,
            peer: inv.caller.clone(),
            local_ports: MediaPorts { audio: 0, video: 0 },
            remote_ports: Some(inv.ports),
            offer: inv.media,
            media: None,
            established_at: None,
            last_heard: now,
            deadline: Some(now + alert),
            next_keepalive: None,
        });
        self.send(conn, Message::Ringing(inv.call_id));
        self.event(Event::Incoming {
            peer: inv.caller,
            conn,
            offer: inv.media,
        });
    }

    /// A message on the current call's connection.
    fn in_call(&mut self, now: Instant, conn: ConnId, msg: Message) {
        let Some(c) = self.call.as_mut() else { return };
        let Some(id) = call_id_of(&msg) else {
            self.error(
                conn,
                ErrorCode::UnexpectedMessage,
                format!(
                    "message type {:#04x} does not belong in a call",
                    msg.msg_type()
                ),
            );
            return;
        };
        if id != c.id {
            self.error(
                conn,
                ErrorCode::UnknownCall,
                format!("call {id} is not the call on this connection"),
            );
            return;
        }
        match (c.role, c.phase, msg) {
            (Role::Caller, Phase::Calling, Message::Ringing(_)) => {
                c.phase = Phase::Ringing;
                let peer = c.peer.clone();
                self.event(Event::Ringing { peer });
            }
            (Role::Caller, Phase::Calling | Phase::Ringing, Message::Accept(a)) => {
                match negotiate::check_answer(&c.offer, &a.media) {
                    Ok(()) => {
                        c.remote_ports = Some(a.ports);
                        c.media = Some(a.media);
                        self.establish(now);
                    }
                    Err(e) => {
                        self.send(conn, Message::Bye(id));
                        self.end_lingering(now, EndReason::BadMedia(e));
                    }
                }
            }
            (Role::Caller, Phase::Calling | Phase::Ringing, Message::Reject { reason, .. }) => {
                self.end(now, EndReason::Rejected(reason), Some(conn));
            }
            (Role::Callee, Phase::Alerting | Phase::Established, Message::Cancel(_)) => {
                self.end(now, EndReason::PeerCancelled, Some(conn));
            }
            (_, Phase::Established, Message::Bye(_)) => {
                self.send(conn, Message::ByeAck(id));
                self.end(now, EndReason::PeerHungUp, Some(conn));
            }
            // Duplicates and keepalives: nothing to do beyond having heard the peer.
            (_, _, Message::Keepalive(_))
            | (Role::Caller, Phase::Ringing, Message::Ringing(_))
            | (Role::Caller, Phase::Established, Message::Ringing(_) | Message::Accept(_))
            | (Role::Callee, _, Message::Invite(_)) => {}
            (_, phase, other) => {
                let text = format!(
                    "message type {:#04x} does not fit a call that is {phase}",
                    other.msg_type()
                );
                self.error(conn, ErrorCode::UnexpectedMessage, text);
            }
        }
    }

    /// A message on the connection of a call that already ended here.
    fn after_call(&mut self, i: usize, msg: Message) {
        let l = &self.lingering[i];
        let (conn, id) = (l.conn, l.id);
        if call_id_of(&msg) != Some(id) {
            return;
        }
        match msg {
            // The callee accepted just as we cancelled: end it properly.
            Message::Accept(_) => self.send(conn, Message::Bye(id)),
            Message::Bye(_) => {
                self.send(conn, Message::ByeAck(id));
                self.lingering.remove(i);
                self.outputs.push_back(Output::Close { conn });
            }
            Message::ByeAck(_) | Message::Reject { .. } | Message::Cancel(_) => {
                self.lingering.remove(i);
                self.outputs.push_back(Output::Close { conn });
            }
            _ => {}
        }
    }

    fn establish(&mut self, now: Instant) {
        let Some(c) = self.call.as_mut() else { return };
        c.phase = Phase::Established;
        c.deadline = None;
        c.established_at = Some(now);
        c.last_heard = now;
        c.next_keepalive = Some(now + KEEPALIVE_INTERVAL);
        if let Some(s) = session(c) {
            self.event(Event::Established(s));
        }
    }

    /// Ends the call; closes `close` (after what was queued on it).
    fn end(&mut self, now: Instant, reason: EndReason, close: Option<ConnId>) {
        let Some(c) = self.call.take() else { return };
        if let Some(conn) = close {
            self.outputs.push_back(Output::Close { conn });
        }
        self.event(Event::Ended {
            peer: c.peer,
            reason,
            duration: c.established_at.map(|t| now.saturating_duration_since(t)),
        });
    }

    /// Ends the call but keeps its connection a little to finish the exchange.
    fn end_lingering(&mut self, now: Instant, reason: EndReason) {
        let Some(c) = self.call.as_ref() else { return };
        if self.lingering.len() >= MAX_LINGERING {
            let oldest = self.lingering.remove(0);
            self.outputs.push_back(Output::Close { conn: oldest.conn });
        }
        self.lingering.push(Lingering {
            conn: c.conn,
            id: c.id,
            until: now + LINGER,
        });
        self.end(now, reason, None);
    }

    fn error(&mut self, conn: ConnId, code: ErrorCode, text: String) {
        self.send(conn, Message::Error(ErrorMsg::new(code, text)));
    }

    fn send(&mut self, conn: ConnId, msg: Message) {
        self.outputs.push_back(Output::Send { conn, msg });
    }

    fn event(&mut self, e: Event) {
        self.outputs.push_back(Output::Event(e));
    }
}

fn session(c: &Call) -> Option<Session> {
    Some(Session {
        call_id: c.id,
        role: c.role,
        peer: c.peer.clone(),
        local_ports: c.local_ports,
        remote_ports: c.remote_ports?,
        media: c.media?,
    })
}

fn call_id_of(msg: &Message) -> Option<CallId> {
    match msg {
        Message::Invite(i) => Some(i.call_id),
        Message::Accept(a) => Some(a.call_id),
        Message::Reject { call_id, .. } => Some(*call_id),
        Message::Ringing(id)
        | Message::Cancel(id)
        | Message::Bye(id)
        | Message::ByeAck(id)
        | Message::Keepalive(id) => Some(*id),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
