//! The run loop's connection to the registry. It resolves the registry's
//! host on a helper thread (a DNS lookup can block for seconds, and the loop
//! also carries the call), then tries every address the name resolves to in
//! turn, and only reports the attempt failed when the last one has. What is
//! said on the connection is the [`Membership`] machine's business: this
//! type hands it the connection's life and messages and writes what it sends.

use super::conn::{FramedConn, ReadEnd};
use super::{describe, RegistryAddr, Tokens};
use mio::{Registry, Token, Waker};
use peercall::membership::Membership;
use peercall::wire::Message;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::Arc;
use std::time::Instant;

/// What a resolver thread hands back.
type Resolved = Result<Vec<SocketAddr>, String>;

/// The registry connection: resolving, connecting (address by address),
/// connected, or none.
pub struct RegistryLink {
    addr: RegistryAddr,
    waker: Arc<Waker>,
    /// The lookup of the current attempt, while it runs. Dropping it is how
    /// an abandoned attempt's late answer is ignored.
    resolving: Option<Receiver<Resolved>>,
    /// Addresses of the current attempt not tried yet.
    untried: VecDeque<SocketAddr>,
    conn: Option<(Token, FramedConn)>,
    scratch: Vec<u8>,
}

impl RegistryLink {
    /// A link to `addr`; resolver threads wake the loop through `waker`.
    pub fn new(addr: RegistryAddr, waker: Arc<Waker>) -> Self {
        RegistryLink {
            addr,
            waker,
            resolving: None,
            untried: VecDeque::new(),
            conn: None,
            scratch: vec![0; 16 * 1024],
        }
    }

    /// Starts a new attempt (closing any connection first): the host is
    /// resolved afresh, so a board that boots before DNS works finds its
    /// registry later.
    pub fn connect(&mut self, reg: &Registry) {
        self.close(reg);
        let (tx, rx) = mpsc::channel();
        let addr = self.addr.clone();
        let waker = Arc::clone(&self.waker);
        let spawned = std::thread::Builder::new()
            .name("resolve".into())
            .spawn(move || {
                if tx.send(addr.resolve()).is_ok() {
                    let _ = waker.wake();
                }
            });
        match spawned {
            Ok(_) => self.resolving = Some(rx),
            Err(e) => {
                log::warn!("cannot start resolving {}: {e}", self.addr);
                let (tx, rx) = mpsc::channel();
                let _ = tx.send(Err(format!("cannot resolve {}: {e}", self.addr)));
                self.resolving = Some(rx);
            }
        }
    }

    /// After a wakeup: when the lookup has answered, starts connecting to
    /// the first address, or tells `membership` the attempt failed.
    pub fn poll_resolved(
        &mut self,
        reg: &Registry,
        tokens: &mut Tokens,
        membership: &mut Membership,
        now: Instant,
    ) {
        let Some(rx) = &self.resolving else { return };
        let resolved = match rx.try_recv() {
            Ok(r) => r,
            Err(TryRecvError::Empty) => return,
            Err(TryRecvError::Disconnected) => Err(format!("cannot resolve {}", self.addr)),
        };
        self.resolving = None;
        match resolved {
            Ok(addrs) => {
                self.untried = addrs.into();
                self.try_next(reg, tokens, membership, now, String::new());
            }
            Err(why) => membership.disconnected(now, &why),
        }
    }

    /// Connects to the next untried address; with none left, the attempt
    /// failed for the reason the last address gave.
    fn try_next(
        &mut self,
        reg: &Registry,
        tokens: &mut Tokens,
        membership: &mut Membership,
        now: Instant,
        mut why: String,
    ) {
        while let Some(addr) = self.untried.pop_front() {
            let token = tokens.fresh();
            match FramedConn::connect(reg, token, addr) {
                Ok(c) => {
                    self.conn = Some((token, c));
                    return;
                }
                Err(e) => {
                    log::debug!("registry address {addr}: {}", describe(&e));
                    why = describe(&e);
                }
            }
        }
        membership.disconnected(now, &why);
    }

    /// Whether `token` is the registry connection's.
    pub fn owns(&self, token: Token) -> bool {
        self.conn.as_ref().is_some_and(|(t, _)| *t == token)
    }

    /// The registry connection is readable or writable: finishes the
    /// connect, hands what arrived to `membership`, writes what is queued.
    pub fn ready(
        &mut self,
        reg: &Registry,
        tokens: &mut Tokens,
        membership: &mut Membership,
        now: Instant,
    ) {
        let Some((_, c)) = self.conn.as_mut() else {
            return;
        };
        if !c.is_connected() {
            match c.finish_connect() {
                Ok(true) => {
                    log::debug!("connected to registry {}", c.peer);
                    self.untried.clear();
                    membership.connected(now);
                }
                Ok(false) => return,
                Err(why) => {
                    log::debug!("registry address {}: {why}", c.peer);
                    self.drop_conn(reg);
                    self.try_next(reg, tokens, membership, now, why);
                    return;
                }
            }
        }
        let Some((_, c)) = self.conn.as_mut() else {
            return;
        };
        let (msgs, end) = c.read(&mut self.scratch);
        for m in msgs {
            membership.received(now, m);
        }
        match end {
            ReadEnd::Open => self.flush(reg, membership, now),
            ReadEnd::Closed(why) => self.lost(reg, membership, now, &why),
            ReadEnd::Malformed(e) => {
                // The membership reports it (a reconnect, or a query's end).
                self.drop_conn(reg);
                membership.malformed(
                    now,
                    &format!("it sent bytes that are not peercall messages: {e}"),
                );
            }
        }
    }

    /// Queues `msg` and writes what the socket takes.
    pub fn send(
        &mut self,
        reg: &Registry,
        membership: &mut Membership,
        now: Instant,
        msg: &Message,
    ) {
        if let Some((_, c)) = self.conn.as_mut() {
            c.queue(msg);
        }
        self.flush(reg, membership, now);
    }

    fn flush(&mut self, reg: &Registry, membership: &mut Membership, now: Instant) {
        let Some((_, c)) = self.conn.as_mut() else {
            return;
        };
        if let Err(why) = c.flush() {
            self.lost(reg, membership, now, &why);
        }
    }

    fn lost(&mut self, reg: &Registry, membership: &mut Membership, now: Instant, why: &str) {
        if self.conn.is_some() {
            self.drop_conn(reg);
            membership.disconnected(now, why);
        }
    }

    /// Abandons the attempt or closes the connection, silently: the
    /// membership asked for it.
    pub fn close(&mut self, reg: &Registry) {
        self.resolving = None;
        self.untried.clear();
        self.drop_conn(reg);
    }

    fn drop_conn(&mut self, reg: &Registry) {
        if let Some((_, mut c)) = self.conn.take() {
            c.deregister(reg);
        }
    }
}
