//! The call port: the listener other peers call in on, and the signalling
//! connections of calls in both directions. The [`Phone`] machine decides
//! what is said on them; this type accepts, connects, reads and writes, and
//! tells the phone when a connection comes up or goes away. A connection's
//! [`ConnId`] is its mio token, so the two never need a map between them.

use super::conn::{FramedConn, ReadEnd};
use super::Tokens;
use mio::net::{TcpListener, TcpStream};
use mio::{Registry, Token};
use peercall::call::Phone;
use peercall::wire::Message;
use peercall::ConnId;
use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Instant;

/// The token a connection's id stands for.
fn token(conn: ConnId) -> Token {
    Token(conn.0 as usize)
}

/// The id the phone knows a connection by.
fn conn_id(token: Token) -> ConnId {
    ConnId(token.0 as u64)
}

/// Every open signalling connection.
pub struct CallConnections {
    conns: HashMap<Token, FramedConn>,
    scratch: Vec<u8>,
}

impl Default for CallConnections {
    fn default() -> Self {
        CallConnections {
            conns: HashMap::new(),
            scratch: vec![0; 16 * 1024],
        }
    }
}

impl CallConnections {
    /// Accepts every pending connection on the call port and tells the phone.
    pub fn accept_all(
        &mut self,
        listener: &mut TcpListener,
        reg: &Registry,
        tokens: &mut Tokens,
        phone: &mut Phone,
    ) {
        loop {
            match listener.accept() {
                Ok((stream, from)) => {
                    let from = peercall::wire::canonical_addr(from);
                    self.accepted(stream, from, reg, tokens, phone)
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

    fn accepted(
        &mut self,
        stream: TcpStream,
        from: SocketAddr,
        reg: &Registry,
        tokens: &mut Tokens,
        phone: &mut Phone,
    ) {
        let token = tokens.fresh();
        match FramedConn::accepted(reg, token, stream, from) {
            Ok(c) => {
                self.conns.insert(token, c);
                phone.incoming(Instant::now(), conn_id(token));
            }
            Err(e) => log::warn!("cannot watch call connection from {from}: {e}"),
        }
    }

    /// Opens a connection to a callee under `conn` (an id from
    /// [`Tokens::fresh`]); a connect that fails at once is reported to the phone.
    pub fn dial(&mut self, conn: ConnId, addr: SocketAddr, reg: &Registry, phone: &mut Phone) {
        match FramedConn::connect(reg, token(conn), addr) {
            Ok(c) => {
                self.conns.insert(token(conn), c);
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
        self.conns.get(&token(conn)).map(|c| c.peer)
    }

    /// A connection is readable or writable: finishes its connect, hands
    /// what arrived to the phone, writes what is queued.
    pub fn ready(&mut self, token: Token, reg: &Registry, phone: &mut Phone) {
        let conn = conn_id(token);
        let Some(c) = self.conns.get_mut(&token) else {
            return;
        };
        if !c.is_connected() {
            match c.finish_connect() {
                Ok(true) => phone.connected(Instant::now(), conn),
                Ok(false) => return,
                Err(why) => {
                    log::debug!("call connection to {} failed: {why}", c.peer);
                    self.drop_conn(token, reg);
                    phone.closed(Instant::now(), conn);
                    return;
                }
            }
        }
        let Some(c) = self.conns.get_mut(&token) else {
            return;
        };
        let (msgs, end) = c.read(&mut self.scratch);
        for m in msgs {
            phone.received(Instant::now(), conn, m);
        }
        match end {
            ReadEnd::Open => self.flush(token, reg, phone),
            ReadEnd::Closed(why) => {
                log::debug!("call connection {} closed: {why}", token.0);
                self.drop_conn(token, reg);
                phone.closed(Instant::now(), conn);
            }
            ReadEnd::Malformed(e) => {
                log::debug!("call connection {} sent malformed data: {e}", token.0);
                if let Some(c) = self.conns.get_mut(&token) {
                    c.queue(&Message::Error(e.to_error_msg()));
                    c.closing = true;
                }
                self.flush(token, reg, phone);
                phone.closed(Instant::now(), conn);
            }
        }
    }

    /// Queues `msg` on `conn` and writes what the socket takes.
    pub fn send(&mut self, conn: ConnId, msg: &Message, reg: &Registry, phone: &mut Phone) {
        if let Some(c) = self.conns.get_mut(&token(conn)) {
            c.queue(msg);
        }
        self.flush(token(conn), reg, phone);
    }

    /// Closes `conn` once what is queued on it is written.
    pub fn close(&mut self, conn: ConnId, reg: &Registry, phone: &mut Phone) {
        if let Some(c) = self.conns.get_mut(&token(conn)) {
            c.closing = true;
        }
        self.flush(token(conn), reg, phone);
    }

    fn flush(&mut self, token: Token, reg: &Registry, phone: &mut Phone) {
        let Some(c) = self.conns.get_mut(&token) else {
            return;
        };
        match c.flush() {
            Ok(true) if c.closing => self.drop_conn(token, reg),
            Ok(_) => {}
            Err(why) => {
                log::debug!("call connection {} failed: {why}", token.0);
                self.drop_conn(token, reg);
                phone.closed(Instant::now(), conn_id(token));
            }
        }
    }

    fn drop_conn(&mut self, token: Token, reg: &Registry) {
        if let Some(mut c) = self.conns.remove(&token) {
            c.deregister(reg);
        }
    }
}
