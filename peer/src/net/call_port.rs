//! The call port: the listener other peers call in on, and the signalling
//! connections of calls in both directions. The [`Phone`] machine decides
//! what is said on them; this type accepts, connects, reads and writes, and
//! tells the phone when a connection comes up or goes away. A connection's
//! [`ConnId`] is its mio token, so the two never need a map between them.
//!
//! The call port is open to anyone on the network, so every connection it
//! holds costs the holder something and has an end: a connection that has
//! not sent its INVITE yet is *pending* ([`PendingCalls`]), owes its first
//! bytes (its HANDSHAKE INIT) within [`FIRST_BYTES_WAIT`] and its sealed
//! INVITE within [`PENDING_INVITE_WAIT`], and gives way to newer ones (the oldest of its
//! source past [`MAX_PENDING_PER_SOURCE`], the oldest of all past
//! [`MAX_PENDING_INCOMING`]), so a real caller always finds a slot. Reading
//! is budgeted ([`READ_BUDGET`] per connection per loop turn, connections
//! cut short kept on a list and read again next turn), so one busy
//! connection cannot hold the loop; replies a connection does not read are
//! bounded by the framing's [`MAX_OUTBOUND_BYTES`] (past it the connection is
//! closed), and a closing connection is dropped after [`CLOSING_WAIT`].

use super::conn::{FramedConn, ReadEnd};
use super::Tokens;
use mio::net::{TcpListener, TcpStream};
use mio::{Registry, Token};
use peercall::call::{Phone, MAX_PENDING_INCOMING};
use peercall::wire::{version_error_frame, Message, WireError, MAX_OUTBOUND_BYTES};
use peercall::ConnId;
use std::collections::{HashMap, VecDeque};
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// How long an accepted connection may stay silent. A caller sends its
/// HANDSHAKE INIT as soon as its connect completes, so a connection that has
/// said nothing for this long is not a caller.
pub const FIRST_BYTES_WAIT: Duration = Duration::from_secs(2);
/// How long after accept a connection that has sent bytes has to complete
/// its handshake and INVITE (shorter than the phone's own `INVITE_WAIT`, so
/// this shell's bound is the one that acts). That is one round trip and
/// three small frames: this only allows for a slow link.
pub const PENDING_INVITE_WAIT: Duration = Duration::from_secs(5);
/// Pending connections one source address may hold at once; a newer one
/// from the same address closes its oldest, so one host cannot fill the
/// table of [`MAX_PENDING_INCOMING`], and a caller behind the same address
/// as an attacker still gets in.
pub const MAX_PENDING_PER_SOURCE: usize = 4;
/// Bytes read from one connection per loop turn. Enough for dozens of
/// INVITEs; small enough that a flood on one connection costs the loop
/// well under a millisecond before it turns to the others.
pub const READ_BUDGET: usize = 16 * 1024;
/// Connections accepted per loop turn, so a connect flood cannot hold the
/// loop either; the rest are accepted next turn.
pub const MAX_ACCEPTS_PER_TURN: usize = 64;
/// How long a connection being closed may take to write what is queued on
/// it (a REJECT, a BYE ACK, an ERROR); one whose other side does not read is
/// dropped then with its queue.
pub const CLOSING_WAIT: Duration = Duration::from_secs(2);

const _: () = assert!(MAX_PENDING_PER_SOURCE < MAX_PENDING_INCOMING);

/// Accepted connections that have not sent a complete INVITE yet, oldest
/// first, with their deadlines and the room rules of the call port. Plain
/// bookkeeping (no sockets; time is passed in), so the rules are tested with
/// simulated time. Kept equal to the phone's own pending set: a connection
/// leaves both when its INVITE arrives or it is closed.
#[derive(Debug, Default)]
pub struct PendingCalls {
    waiting: VecDeque<Waiting>,
}

#[derive(Debug)]
struct Waiting {
    token: Token,
    source: IpAddr,
    since: Instant,
    /// Some bytes have arrived.
    heard: bool,
}

impl Waiting {
    fn deadline(&self) -> Instant {
        let wait = if self.heard {
            PENDING_INVITE_WAIT
        } else {
            FIRST_BYTES_WAIT
        };
        self.since + wait
    }
}

impl PendingCalls {
    /// Takes connection `token`, accepted from `source` at `now`, and
    /// returns the pending connection it displaces, to be closed: the
    /// oldest of the same source when that source already holds
    /// [`MAX_PENDING_PER_SOURCE`], else the oldest of all when the table
    /// holds [`MAX_PENDING_INCOMING`]. The newest connection always gets a
    /// slot: it is the one most likely to be a caller that is about to speak.
    #[must_use]
    pub fn admit(&mut self, now: Instant, token: Token, source: IpAddr) -> Option<Token> {
        let from_source = self.waiting.iter().filter(|w| w.source == source).count();
        let evict = if from_source >= MAX_PENDING_PER_SOURCE {
            self.waiting.iter().position(|w| w.source == source)
        } else if self.waiting.len() >= MAX_PENDING_INCOMING {
            Some(0)
        } else {
            None
        };
        let evicted = evict.and_then(|i| self.waiting.remove(i)).map(|w| w.token);
        self.waiting.push_back(Waiting {
            token,
            source,
            since: now,
            heard: false,
        });
        evicted
    }

    /// Bytes arrived on `token`: its deadline becomes the INVITE's.
    pub fn heard(&mut self, token: Token) {
        if let Some(w) = self.waiting.iter_mut().find(|w| w.token == token) {
            w.heard = true;
        }
    }

    /// `token` sent its INVITE or was closed; whether it was pending.
    pub fn remove(&mut self, token: Token) -> bool {
        let before = self.waiting.len();
        self.waiting.retain(|w| w.token != token);
        self.waiting.len() != before
    }

    /// Takes out the connections whose deadline has passed at `now`; they
    /// are to be closed.
    pub fn expired(&mut self, now: Instant) -> Vec<Token> {
        let late = self
            .waiting
            .iter()
            .filter(|w| w.deadline() <= now)
            .map(|w| w.token)
            .collect();
        self.waiting.retain(|w| w.deadline() > now);
        late
    }

    /// The earliest deadline of a pending connection.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.waiting.iter().map(Waiting::deadline).min()
    }

    /// How many connections are pending.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Whether `token` is pending.
    pub fn contains(&self, token: Token) -> bool {
        self.waiting.iter().any(|w| w.token == token)
    }
}

/// 32 fresh random bytes for one handshake, from the operating system.
pub fn handshake_seed() -> std::io::Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    crate::random_bytes(&mut seed)?;
    Ok(seed)
}

/// The token a connection's id stands for.
fn token(conn: ConnId) -> Token {
    Token(conn.0 as usize)
}

/// The id the phone knows a connection by.
fn conn_id(token: Token) -> ConnId {
    ConnId(token.0 as u64)
}

/// One signalling connection and what the call port keeps about it.
struct CallConn {
    framed: FramedConn,
    /// On the unread list: it may have bytes no event will report again.
    unread: bool,
    /// Once closing: when it is dropped, written out or not.
    closing_by: Option<Instant>,
}

/// Every open signalling connection.
pub struct CallConnections {
    conns: HashMap<Token, CallConn>,
    pending: PendingCalls,
    /// Connections to read this turn, in the order they became readable.
    unread: VecDeque<Token>,
    scratch: Vec<u8>,
}

impl Default for CallConnections {
    fn default() -> Self {
        CallConnections {
            conns: HashMap::new(),
            pending: PendingCalls::default(),
            unread: VecDeque::new(),
            scratch: vec![0; READ_BUDGET],
        }
    }
}

impl CallConnections {
    /// Accepts up to [`MAX_ACCEPTS_PER_TURN`] connections waiting on the
    /// call port and tells the phone. Returns whether more may be waiting:
    /// then call again next turn, as the listener's readiness is
    /// edge-triggered and will not be reported again.
    pub fn accept_some(
        &mut self,
        listener: &mut TcpListener,
        reg: &Registry,
        tokens: &mut Tokens,
        phone: &mut Phone,
    ) -> bool {
        for _ in 0..MAX_ACCEPTS_PER_TURN {
            match listener.accept() {
                Ok((stream, from)) => {
                    let from = peercall::wire::canonical_addr(from);
                    self.accepted(stream, from, reg, tokens, phone)
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    log::warn!("accept on the call port failed: {e}");
                    return false;
                }
            }
        }
        true
    }

    fn accepted(
        &mut self,
        stream: TcpStream,
        from: SocketAddr,
        reg: &Registry,
        tokens: &mut Tokens,
        phone: &mut Phone,
    ) {
        let now = Instant::now();
        let token = tokens.fresh();
        if let Some(old) = self.pending.admit(now, token, from.ip()) {
            log::debug!(
                "call port: closing pending connection {} to make room for {from}",
                old.0
            );
            self.drop_conn(old, reg);
            phone.closed(now, conn_id(old));
        }
        match FramedConn::accepted(reg, token, stream, from) {
            Ok(c) => {
                self.conns.insert(token, CallConn::new(c));
                // Its handshake may have come with the connect.
                self.mark_unread(token);
                match handshake_seed() {
                    Ok(seed) => phone.incoming(now, conn_id(token), seed),
                    Err(e) => {
                        log::warn!("no randomness for a handshake ({e}): closing {from}");
                        self.drop_conn(token, reg);
                    }
                }
            }
            Err(e) => {
                self.pending.remove(token);
                log::warn!("cannot watch call connection from {from}: {e}");
            }
        }
    }

    /// Opens a connection to a callee under `conn` (an id from
    /// [`Tokens::fresh`]); a connect that fails at once is reported to the phone.
    pub fn dial(&mut self, conn: ConnId, addr: SocketAddr, reg: &Registry, phone: &mut Phone) {
        match FramedConn::connect(reg, token(conn), addr) {
            Ok(c) => {
                self.conns.insert(token(conn), CallConn::new(c));
            }
            Err(e) => {
                log::debug!("connect to {addr} failed at once: {e}");
                phone.closed(Instant::now(), conn);
            }
        }
    }

    /// Whether `token` is one of these connections.
    pub fn owns(&self, token: Token) -> bool {
        self.conns.contains_key(&token)
    }

    /// The other side's address on `conn`, while it is open.
    pub fn peer(&self, conn: ConnId) -> Option<SocketAddr> {
        self.conns.get(&token(conn)).map(|c| c.framed.peer)
    }

    /// A connection is readable or writable: finishes its connect, and puts
    /// it on the list [`CallConnections::read_turn`] reads and writes.
    pub fn ready(&mut self, token: Token, reg: &Registry, phone: &mut Phone) {
        let conn = conn_id(token);
        let Some(c) = self.conns.get_mut(&token) else {
            return;
        };
        if !c.framed.is_connected() {
            match c.framed.finish_connect() {
                Ok(true) => phone.connected(Instant::now(), conn),
                Ok(false) => return,
                Err(why) => {
                    log::debug!("call connection to {} failed: {why}", c.framed.peer);
                    self.drop_conn(token, reg);
                    phone.closed(Instant::now(), conn);
                    return;
                }
            }
        }
        self.mark_unread(token);
    }

    /// Whether a connection has bytes left from an earlier turn: the loop
    /// must not block before [`CallConnections::read_turn`] runs again.
    pub fn has_unread(&self) -> bool {
        !self.unread.is_empty()
    }

    /// Reads each listed connection once, at most [`READ_BUDGET`] bytes,
    /// hands what arrived to the phone and writes what is queued. A
    /// connection the budget cut short goes back on the list for the next
    /// turn, behind the others.
    pub fn read_turn(&mut self, reg: &Registry, phone: &mut Phone) {
        for _ in 0..self.unread.len() {
            let Some(token) = self.unread.pop_front() else {
                break;
            };
            let Some(c) = self.conns.get_mut(&token) else {
                continue;
            };
            c.unread = false;
            self.read_one(token, reg, phone);
        }
    }

    fn read_one(&mut self, token: Token, reg: &Registry, phone: &mut Phone) {
        let conn = conn_id(token);
        let Some(c) = self.conns.get_mut(&token) else {
            return;
        };
        if !c.framed.is_connected() {
            return;
        }
        let turn = c.framed.read_within(&mut self.scratch, READ_BUDGET);
        let now = Instant::now();
        if turn.bytes > 0 {
            self.pending.heard(token);
        }
        for m in turn.msgs {
            phone.received(now, conn, m);
        }
        // Its INVITE came (sealed, so only the phone can tell), or the
        // phone closed it: either way it is no longer waiting.
        if !phone.is_pending(conn) {
            self.pending.remove(token);
        }
        match turn.end {
            ReadEnd::Open => {
                if turn.unread {
                    self.mark_unread(token);
                }
                self.flush(token, reg, phone)
            }
            ReadEnd::Closed(why) => {
                log::debug!("call connection {} closed: {why}", token.0);
                self.drop_conn(token, reg);
                phone.closed(now, conn);
            }
            ReadEnd::Malformed(e) => {
                log::debug!("call connection {} sent malformed data: {e}", token.0);
                if let Some(c) = self.conns.get_mut(&token) {
                    match e {
                        // An older peer reads why in its own framing: upgrade.
                        WireError::UnsupportedVersion(v) => {
                            c.framed.queue_raw(&version_error_frame(v))
                        }
                        _ => c.framed.queue(&Message::Error(e.to_error_msg())),
                    }
                    c.start_closing(now);
                }
                self.flush(token, reg, phone);
                phone.malformed(now, conn, e);
            }
        }
    }

    /// Queues `msg` on `conn` and writes what the socket takes. Behind
    /// bytes already queued it only queues: the socket was full then, and
    /// its writable event brings the next write (so a flood of replies
    /// costs no write call each); past `MAX_OUTBOUND_BYTES` queued the
    /// other side is not reading and the connection is closed.
    pub fn send(&mut self, conn: ConnId, msg: &Message, reg: &Registry, phone: &mut Phone) {
        let token = token(conn);
        let Some(c) = self.conns.get_mut(&token) else {
            return;
        };
        let waiting = c.framed.queued() > 0;
        c.framed.queue(msg);
        if !waiting {
            self.flush(token, reg, phone);
        } else if c.framed.queued() > MAX_OUTBOUND_BYTES {
            log::debug!("call connection {} does not read its replies", token.0);
            self.drop_conn(token, reg);
            phone.closed(Instant::now(), conn);
        }
    }

    /// Closes `conn` once what is queued on it is written, or after
    /// [`CLOSING_WAIT`].
    pub fn close(&mut self, conn: ConnId, reg: &Registry, phone: &mut Phone) {
        if let Some(c) = self.conns.get_mut(&token(conn)) {
            c.start_closing(Instant::now());
        }
        self.flush(token(conn), reg, phone);
    }

    /// The earliest deadline of a pending or closing connection.
    pub fn next_timeout(&self) -> Option<Instant> {
        let closing = self.conns.values().filter_map(|c| c.closing_by);
        self.pending
            .next_deadline()
            .into_iter()
            .chain(closing)
            .min()
    }

    /// Closes the pending connections whose deadline passed (telling the
    /// phone) and drops closing connections that are out of time.
    pub fn handle_timeout(&mut self, now: Instant, reg: &Registry, phone: &mut Phone) {
        for token in self.pending.expired(now) {
            log::debug!(
                "call connection {} sent no INVITE in time: closing it",
                token.0
            );
            self.drop_conn(token, reg);
            phone.closed(now, conn_id(token));
        }
        let late: Vec<Token> = self
            .conns
            .iter()
            .filter(|(_, c)| c.closing_by.is_some_and(|t| t <= now))
            .map(|(t, _)| *t)
            .collect();
        for token in late {
            log::debug!(
                "call connection {} did not take its last messages: dropped",
                token.0
            );
            self.drop_conn(token, reg);
        }
    }

    fn mark_unread(&mut self, token: Token) {
        if let Some(c) = self.conns.get_mut(&token) {
            if !c.unread {
                c.unread = true;
                self.unread.push_back(token);
            }
        }
    }

    fn flush(&mut self, token: Token, reg: &Registry, phone: &mut Phone) {
        let Some(c) = self.conns.get_mut(&token) else {
            return;
        };
        match c.framed.flush() {
            Ok(true) if c.framed.closing => self.drop_conn(token, reg),
            Ok(_) => {}
            Err(why) => {
                log::debug!("call connection {} failed: {why}", token.0);
                self.drop_conn(token, reg);
                phone.closed(Instant::now(), conn_id(token));
            }
        }
    }

    fn drop_conn(&mut self, token: Token, reg: &Registry) {
        self.pending.remove(token);
        if let Some(mut c) = self.conns.remove(&token) {
            c.framed.deregister(reg);
        }
    }
}

impl CallConn {
    fn new(framed: FramedConn) -> CallConn {
        CallConn {
            framed,
            unread: false,
            closing_by: None,
        }
    }

    fn start_closing(&mut self, now: Instant) {
        self.framed.closing = true;
        self.closing_by.get_or_insert(now + CLOSING_WAIT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, n])
    }

    #[test]
    fn one_source_keeps_only_its_newest_connections() {
        let mut p = PendingCalls::default();
        let t0 = Instant::now();
        let other = p.admit(t0, Token(1), ip(9));
        assert_eq!(other, None);
        let mut evicted = Vec::new();
        for i in 0..1000 {
            let at = t0 + Duration::from_millis(i);
            evicted.extend(p.admit(at, Token(100 + i as usize), ip(2)));
        }
        assert_eq!(p.len(), 1 + MAX_PENDING_PER_SOURCE);
        assert_eq!(evicted.len(), 1000 - MAX_PENDING_PER_SOURCE);
        assert!(p.contains(Token(1)), "another source's connection stays");
        assert!(p.contains(Token(1099)), "the newest stays");
        assert!(!p.contains(Token(100)), "the oldest went first");
        assert!(!evicted.contains(&Token(1)));
    }

    #[test]
    fn a_full_table_gives_the_oldest_slot_to_a_newcomer() {
        let mut p = PendingCalls::default();
        let t0 = Instant::now();
        for n in 0..64u8 {
            let at = t0 + Duration::from_millis(u64::from(n));
            let _ = p.admit(at, Token(usize::from(n)), ip(2 + n / 8));
            assert!(p.len() <= MAX_PENDING_INCOMING);
        }
        // The last source replaced its own first four; before them the
        // table holds the newest four of the source before it.
        assert_eq!(p.len(), MAX_PENDING_INCOMING);
        assert!((52..56).chain(60..64).all(|t| p.contains(Token(t))));
        let caller = p.admit(t0 + Duration::from_millis(64), Token(1000), ip(1));
        assert_eq!(caller, Some(Token(52)));
        assert!(p.contains(Token(1000)));
        assert_eq!(p.len(), MAX_PENDING_INCOMING);
    }

    #[test]
    fn silence_and_an_unfinished_invite_each_have_a_deadline() {
        let mut p = PendingCalls::default();
        let t0 = Instant::now();
        assert_eq!(p.admit(t0, Token(1), ip(2)), None);
        assert_eq!(p.admit(t0, Token(2), ip(3)), None);
        assert_eq!(p.admit(t0, Token(3), ip(4)), None);
        p.heard(Token(2));
        p.heard(Token(3));
        assert!(p.remove(Token(3)), "its INVITE came");
        assert_eq!(p.next_deadline(), Some(t0 + FIRST_BYTES_WAIT));
        let just_before = t0 + FIRST_BYTES_WAIT - Duration::from_millis(1);
        assert!(p.expired(just_before).is_empty());
        assert_eq!(p.expired(t0 + FIRST_BYTES_WAIT), vec![Token(1)]);
        assert_eq!(p.next_deadline(), Some(t0 + PENDING_INVITE_WAIT));
        assert!(p
            .expired(t0 + PENDING_INVITE_WAIT - Duration::from_millis(1))
            .is_empty());
        assert_eq!(p.expired(t0 + PENDING_INVITE_WAIT), vec![Token(2)]);
        assert!(p.is_empty());
        assert_eq!(p.next_deadline(), None);
        assert!(!p.remove(Token(2)));
    }
}
