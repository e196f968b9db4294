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
//! Every connection first runs the Noise handshake of [`secure`]: the caller
//! sends HANDSHAKE INIT when its connect completes, the callee answers
//! HANDSHAKE REPLY, and from then on every message on the connection
//! travels SEALED (the machine seals and opens; the shell moves frames). So
//! the INVITE goes out one round trip after the connect, and the callee
//! knows the caller's verified key ([`Event::Incoming`]) before it rings.
//! A plaintext call message, a handshake that fails or a sealed message
//! that does not open closes that connection only.
//!
//! After a call ends locally the connection lingers briefly to finish the
//! exchange (BYE ACK, or a BYE for an ACCEPT that crossed a CANCEL), while a
//! new call may already start.
//!
//! The call flow is here; each connection's Noise channel (the handshake's
//! halves, sealing, failures) is in `channel.rs`, and what the machine
//! reports (phases, events, end reasons, the session) in `events.rs`.

pub mod allow;
mod channel;
mod events;
pub mod negotiate;
pub mod secure;

use channel::{Channel, Pending};
pub use events::{ActionError, EndReason, Event, Output, Phase, Role, Session, Status};

use crate::identity::{Identity, PublicKey};
use crate::wire::{
    Accept, CallId, ErrorCode, Invite, MediaDescription, MediaPorts, Message, Name, RejectReason,
    WireError, VERSION,
};
use crate::ConnId;
use secure::{Initiator, MediaSecret, HANDSHAKE_TIMEOUT, SEED_LEN};
use std::collections::HashMap;
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
    /// Our key pair: what our handshakes prove.
    pub identity: Identity,
    /// The most we can send and receive; offers and answers are made from it.
    pub media: MediaDescription,
    /// See [`DEFAULT_ANSWER_TIMEOUT`].
    pub answer_timeout: Duration,
    /// See [`DEFAULT_SILENCE_TIMEOUT`].
    pub silence_timeout: Duration,
}

#[derive(Debug)]
struct Call {
    id: CallId,
    conn: ConnId,
    role: Role,
    phase: Phase,
    peer: Name,
    /// Caller: the key expected; callee: the key proved.
    peer_key: PublicKey,
    /// Once the handshake is done.
    media_secret: Option<MediaSecret>,
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
    incoming: HashMap<ConnId, Pending>,
    channels: HashMap<ConnId, Channel>,
    lingering: Vec<Lingering>,
    outputs: std::collections::VecDeque<Output>,
    /// The handshake randomness of the call being dialed, until connected.
    dial_seed: Option<[u8; SEED_LEN]>,
}

impl Phone {
    /// An idle phone.
    pub fn new(config: Config) -> Self {
        Phone {
            config,
            call: None,
            incoming: HashMap::new(),
            channels: HashMap::new(),
            lingering: Vec::new(),
            outputs: Default::default(),
            dial_seed: None,
        }
    }

    /// The current call, if any.
    pub fn status(&self, now: Instant) -> Option<Status> {
        self.call.as_ref().map(|c| Status {
            call_id: c.id,
            role: c.role,
            phase: c.phase,
            peer: c.peer.clone(),
            peer_key: c.peer_key,
            conn: c.conn,
            session: session(c),
            duration: c.established_at.map(|t| now.saturating_duration_since(t)),
        })
    }

    /// Whether a call is in progress (any phase).
    pub fn is_busy(&self) -> bool {
        self.call.is_some()
    }

    /// Starts a call to `peer`, whose key is `peer_key` (from the registry
    /// or our allow file): the shell is opening connection `conn` to its
    /// call port and will report [`Phone::connected`] or [`Phone::closed`].
    /// `call_id` and `seed` (the handshake's randomness) must be fresh and
    /// random; `ports` are where we will receive media.
    pub fn dial(
        &mut self,
        now: Instant,
        conn: ConnId,
        (peer, peer_key): (Name, PublicKey),
        call_id: CallId,
        ports: MediaPorts,
        seed: [u8; SEED_LEN],
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
            peer_key,
            media_secret: None,
            local_ports: ports,
            remote_ports: None,
            offer: self.config.media,
            media: None,
            established_at: None,
            last_heard: now,
            deadline: Some(now + DIAL_TIMEOUT),
            next_keepalive: None,
        });
        self.dial_seed = Some(seed);
        Ok(())
    }

    /// The connection of a call being dialed is up: HANDSHAKE INIT goes out.
    pub fn connected(&mut self, now: Instant, conn: ConnId) {
        let Some(c) = self.call.as_mut().filter(|c| c.conn == conn) else {
            return;
        };
        let Some(seed) = self.dial_seed.take() else {
            return;
        };
        if c.phase != Phase::Dialing {
            return;
        }
        c.last_heard = now;
        c.deadline = Some(now + HANDSHAKE_TIMEOUT);
        let (initiator, hello) = Initiator::start(&self.config.identity, c.peer_key, seed);
        self.channels
            .insert(conn, Channel::Handshaking(Box::new(initiator)));
        self.send(conn, Message::HandshakeInit(hello));
    }

    /// The handshake of the call being dialed is done: the INVITE goes out.
    fn invite(&mut self, now: Instant, conn: ConnId) {
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

    /// The shell accepted connection `conn` on our call port; `seed` (fresh
    /// randomness) is for its handshake.
    pub fn incoming(&mut self, now: Instant, conn: ConnId, seed: [u8; SEED_LEN]) {
        if self.incoming.len() >= MAX_PENDING_INCOMING {
            self.outputs.push_back(Output::Close { conn });
            return;
        }
        self.incoming.insert(
            conn,
            Pending {
                deadline: now + INVITE_WAIT,
                seed,
            },
        );
    }

    /// Whether `conn` is an accepted connection that has not sent its
    /// INVITE yet (the shell keeps its own, shorter, bounds on those).
    pub fn is_pending(&self, conn: ConnId) -> bool {
        self.incoming.contains_key(&conn)
    }

    /// The bytes on `conn` were not frames of this protocol (the shell's
    /// reader says why): the connection is closed, and a call on it ends,
    /// with "upgrade" as the reason when the other side's version is older.
    pub fn malformed(&mut self, now: Instant, conn: ConnId, error: WireError) {
        self.incoming.remove(&conn);
        self.channels.remove(&conn);
        self.lingering.retain(|l| l.conn != conn);
        if self.call.as_ref().is_some_and(|c| c.conn == conn) {
            let reason = match error {
                WireError::UnsupportedVersion(v) if v < VERSION => EndReason::PeerOutdated(v),
                _ => EndReason::ConnectionLost,
            };
            self.end(now, reason, None);
        }
    }

    /// A message arrived on `conn`.
    pub fn received(&mut self, now: Instant, conn: ConnId, msg: Message) {
        let msg = match msg {
            Message::HandshakeInit(hello) => return self.handshake_init(now, conn, &hello),
            Message::HandshakeReply(reply) => return self.handshake_reply(now, conn, &reply),
            Message::Sealed(bytes) => {
                let Some(Channel::Open(ch)) = self.channels.get_mut(&conn) else {
                    self.refuse(conn, "SEALED before the handshake".into());
                    return;
                };
                match ch.open(&bytes) {
                    Ok(inner) => inner,
                    Err(e) => return self.broken(now, conn, e),
                }
            }
            // Plaintext: only what may come before or outside the channel.
            Message::Error(e) => return self.plain_error(now, conn, e),
            Message::Ping(t) => return self.send(conn, Message::Pong(t)),
            Message::Pong(_) => return,
            other => {
                self.refuse(
                    conn,
                    format!(
                        "message type {:#04x} must be sealed: run the handshake first (protocol version {VERSION})",
                        other.msg_type()
                    ),
                );
                return;
            }
        };
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
        self.channels.remove(&conn);
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
        self.reject_because(now, RejectReason::Declined)
    }

    /// Refuses the incoming call, telling the caller `reason` (for
    /// example [`RejectReason::NotAllowed`] from an allow-list policy).
    pub fn reject_because(
        &mut self,
        now: Instant,
        reason: RejectReason,
    ) -> Result<(), ActionError> {
        let Some(c) = self.call.as_ref().filter(|c| c.phase == Phase::Alerting) else {
            return Err(ActionError::NoCall);
        };
        let (conn, id) = (c.conn, c.id);
        self.send(
            conn,
            Message::Reject {
                call_id: id,
                reason,
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
        call.chain(self.incoming.values().map(|p| p.deadline))
            .chain(self.lingering.iter().map(|l| l.until))
            .min()
    }

    /// Runs everything due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let late: Vec<ConnId> = self
            .incoming
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(c, _)| *c)
            .collect();
        for conn in late {
            self.incoming.remove(&conn);
            self.close(conn);
        }
        let (done, keep): (Vec<_>, Vec<_>) = self.lingering.drain(..).partition(|l| l.until <= now);
        self.lingering = keep;
        for l in done {
            self.close(l.conn);
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
        let out = self.outputs.pop_front()?;
        if let Output::Close { conn } = out {
            // Forgotten here: its keys go with it.
            self.channels.remove(&conn);
        }
        Some(out)
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
        let Some(Channel::Open(ch)) = self.channels.get(&conn) else {
            // received() opens only sealed messages, so this cannot be.
            self.close(conn);
            return;
        };
        let (peer_key, secret) = (ch.peer_key(), ch.media_secret().clone());
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
            peer_key,
            media_secret: Some(secret),
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
            key: peer_key,
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
        peer_key: c.peer_key,
        media_secret: c.media_secret.clone()?,
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
