//! Each call connection's Noise channel, inside the [`Phone`]: the two halves
//! of the handshake (the caller's INIT and the callee's REPLY), sealing what
//! goes out once it is done, and what a failed handshake, a sealed message
//! that does not open or a plaintext message that must not be plaintext
//! does to the connection and to a call on it. Opening what comes in is
//! [`Phone::received`]'s first step.

use super::secure::{self, Initiator, SecureError, Secured, SEED_LEN};
use super::{EndReason, Event, Output, Phone};
use crate::wire::{ErrorCode, ErrorMsg, Message};
use crate::ConnId;
use std::time::Instant;

/// A connection's Noise state.
#[derive(Debug)]
pub(super) enum Channel {
    /// Caller: HANDSHAKE INIT sent, REPLY awaited.
    Handshaking(Box<Initiator>),
    /// Handshake done: everything is sealed.
    Open(Box<Secured>),
}

/// A connection accepted on the call port, not yet with a call.
#[derive(Debug)]
pub(super) struct Pending {
    /// When its INVITE is due ([`INVITE_WAIT`](super::INVITE_WAIT) after the accept).
    pub(super) deadline: Instant,
    /// The randomness of this connection's handshake.
    pub(super) seed: [u8; SEED_LEN],
}

impl Phone {
    /// HANDSHAKE REPLY arrived on the call being dialed.
    pub(super) fn handshake_reply(&mut self, now: Instant, conn: ConnId, reply: &[u8]) {
        let Some(Channel::Handshaking(init)) = self.channels.remove(&conn) else {
            self.refuse(conn, "HANDSHAKE REPLY was not expected here".into());
            return;
        };
        let expected = init.expected();
        match init.finish(reply) {
            Ok(secured) => {
                let secret = secured.media_secret().clone();
                self.channels.insert(conn, Channel::Open(Box::new(secured)));
                if let Some(c) = self.call.as_mut().filter(|c| c.conn == conn) {
                    c.media_secret = Some(secret);
                }
                self.invite(now, conn);
            }
            Err(error) => {
                log::debug!("call connection {}: handshake failed: {error}", conn.0);
                self.end(now, EndReason::WrongKey { expected, error }, Some(conn));
            }
        }
    }

    /// HANDSHAKE INIT on an accepted connection: answer it, and learn who calls.
    pub(super) fn handshake_init(&mut self, now: Instant, conn: ConnId, hello: &[u8]) {
        let Some(pending) = self.incoming.get(&conn) else {
            self.refuse(conn, "HANDSHAKE INIT was not expected here".into());
            return;
        };
        if self.channels.contains_key(&conn) {
            self.refuse(conn, "a second HANDSHAKE INIT".into());
            return;
        }
        match secure::respond(&self.config.identity, hello, pending.seed) {
            Ok((secured, reply)) => {
                self.send(conn, Message::HandshakeReply(reply));
                self.channels.insert(conn, Channel::Open(Box::new(secured)));
            }
            Err(e) => {
                log::debug!("call connection {}: handshake failed: {e}", conn.0);
                self.broken(now, conn, e);
            }
        }
    }

    /// A handshake failed or a sealed message did not open on `conn`:
    /// say so (in plaintext: there are no usable keys) and close it. A call
    /// on it ends: its channel can no longer be trusted.
    pub(super) fn broken(&mut self, now: Instant, conn: ConnId, e: SecureError) {
        self.channels.remove(&conn);
        self.incoming.remove(&conn);
        self.lingering.retain(|l| l.conn != conn);
        let text = format!("handshake or sealed message refused: {e}");
        self.send(
            conn,
            Message::Error(ErrorMsg::new(ErrorCode::Malformed, text)),
        );
        if self.call.as_ref().is_some_and(|c| c.conn == conn) {
            self.end(now, EndReason::ConnectionLost, Some(conn));
        } else {
            self.close(conn);
        }
    }

    /// A plaintext message that must not be: answer and, on a connection
    /// without a call yet, close it (a version-1 style caller, or garbage).
    pub(super) fn refuse(&mut self, conn: ConnId, text: String) {
        self.error(conn, ErrorCode::UnexpectedMessage, text);
        if self.incoming.remove(&conn).is_some() {
            self.close(conn);
        }
    }

    /// A plaintext ERROR: while our handshake waits for its reply, the
    /// callee could not read it, which in IK means it does not hold the
    /// key we expected.
    pub(super) fn plain_error(&mut self, now: Instant, conn: ConnId, e: ErrorMsg) {
        if let Some(Channel::Handshaking(init)) = self.channels.get(&conn) {
            let expected = init.expected();
            self.channels.remove(&conn);
            if self.call.as_ref().is_some_and(|c| c.conn == conn) {
                log::debug!("the callee refused our handshake: {}", e.text);
                let error = SecureError::Rejected;
                self.end(now, EndReason::WrongKey { expected, error }, Some(conn));
                return;
            }
        }
        self.event(Event::PeerError(e));
    }

    /// Has the shell close `conn`.
    pub(super) fn close(&mut self, conn: ConnId) {
        self.outputs.push_back(Output::Close { conn });
    }

    /// Queues an ERROR saying `text` on `conn`.
    pub(super) fn error(&mut self, conn: ConnId, code: ErrorCode, text: String) {
        self.send(conn, Message::Error(ErrorMsg::new(code, text)));
    }

    /// Queues `msg` on `conn`, sealed once the connection's handshake is done.
    pub(super) fn send(&mut self, conn: ConnId, msg: Message) {
        let msg = match self.channels.get_mut(&conn) {
            Some(Channel::Open(ch)) => match ch.seal(&msg) {
                Ok(sealed) => sealed,
                Err(e) => {
                    log::error!("cannot seal {:#04x}: {e}", msg.msg_type());
                    return;
                }
            },
            _ => msg,
        };
        self.outputs.push_back(Output::Send { conn, msg });
    }
}

#[cfg(test)]
impl Phone {
    /// Seals `msg` with `conn`'s channel, as if this phone sent it (tests
    /// inject messages into the other end this way).
    pub(crate) fn seal_for_test(&mut self, conn: ConnId, msg: &Message) -> Message {
        match self.channels.get_mut(&conn) {
            Some(Channel::Open(ch)) => ch.seal(msg).expect("sealable"),
            _ => panic!("no open channel on {conn:?}"),
        }
    }

    /// Opens a SEALED message that arrived on `conn` (tests read the other
    /// end's outputs this way); other messages come back as they are.
    pub(crate) fn open_for_test(&mut self, conn: ConnId, msg: Message) -> Message {
        match (msg, self.channels.get_mut(&conn)) {
            (Message::Sealed(b), Some(Channel::Open(ch))) => ch.open(&b).expect("opens"),
            (m, _) => m,
        }
    }
}
