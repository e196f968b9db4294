//! A framed, non-blocking TCP connection for the peer's mio loop: the
//! registry connection and every call signalling connection are one of these.
//! Bytes in are cut into messages; messages out are queued and written as the
//! socket allows.

use super::describe;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use peercall::wire::{FrameReader, Message, WireError, MAX_OUTBOUND_BYTES};
use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;

/// What reading found besides messages.
#[derive(Debug)]
pub enum ReadEnd {
    /// The socket is still open (and drained, unless a budgeted read says
    /// [`ReadTurn::unread`]).
    Open,
    /// The other side closed, or the connection failed (the text says how).
    Closed(String),
    /// The bytes are not peercall messages.
    Malformed(WireError),
}

/// What one budgeted read ([`FramedConn::read_within`]) found.
#[derive(Debug)]
pub struct ReadTurn {
    /// The whole messages read, in order.
    pub msgs: Vec<Message>,
    /// How reading ended.
    pub end: ReadEnd,
    /// Bytes taken from the socket.
    pub bytes: usize,
    /// The budget ran out while the socket was still open and not drained:
    /// more bytes may be waiting.
    pub unread: bool,
}

impl ReadTurn {
    fn ended(mut self, end: ReadEnd) -> ReadTurn {
        self.end = end;
        self
    }
}

/// One connection.
pub struct FramedConn {
    stream: TcpStream,
    /// The other side's address.
    pub peer: SocketAddr,
    connected: bool,
    reader: FrameReader,
    out: Vec<u8>,
    /// Close once everything queued is written.
    pub closing: bool,
}

impl FramedConn {
    /// Starts a non-blocking connect to `addr` and registers it under `token`.
    pub fn connect(reg: &Registry, token: Token, addr: SocketAddr) -> io::Result<FramedConn> {
        let mut stream = TcpStream::connect(addr)?;
        reg.register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)?;
        Ok(FramedConn {
            stream,
            peer: addr,
            connected: false,
            reader: FrameReader::new(),
            out: Vec::new(),
            closing: false,
        })
    }

    /// Wraps an accepted connection and registers it under `token`.
    pub fn accepted(
        reg: &Registry,
        token: Token,
        mut stream: TcpStream,
        peer: SocketAddr,
    ) -> io::Result<FramedConn> {
        reg.register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)?;
        let _ = stream.set_nodelay(true);
        Ok(FramedConn {
            stream,
            peer,
            connected: true,
            reader: FrameReader::new(),
            out: Vec::new(),
            closing: false,
        })
    }

    /// Whether the connect has completed.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// After a readiness event on a connecting socket: `Ok(true)` once
    /// connected, `Ok(false)` while still connecting, `Err` with the reason it failed.
    pub fn finish_connect(&mut self) -> Result<bool, String> {
        if self.connected {
            return Ok(true);
        }
        match self.stream.peer_addr() {
            Ok(_) => {
                self.connected = true;
                let _ = self.stream.set_nodelay(true);
                Ok(true)
            }
            Err(e) if e.kind() == ErrorKind::NotConnected => match self.stream.take_error() {
                Ok(Some(err)) => Err(describe(&err)),
                Ok(None) => Ok(false),
                Err(err) => Err(describe(&err)),
            },
            Err(e) => Err(describe(&e)),
        }
    }

    /// Queues a message (written by [`FramedConn::flush`]).
    pub fn queue(&mut self, msg: &Message) {
        if !self.closing {
            msg.emit_into(&mut self.out);
        }
    }

    /// Queues bytes that are already a whole frame (an ERROR framed in an
    /// older protocol version, which [`Message`] does not emit).
    pub fn queue_raw(&mut self, frame: &[u8]) {
        if !self.closing {
            self.out.extend_from_slice(frame);
        }
    }

    /// Bytes queued and not yet written.
    pub fn queued(&self) -> usize {
        self.out.len()
    }

    /// Writes what is queued. `Ok(true)` when nothing is left; an error when
    /// the connection failed or its peer stopped reading.
    pub fn flush(&mut self) -> Result<bool, String> {
        if !self.connected {
            return Ok(self.out.is_empty());
        }
        let mut written = 0;
        let mut result = Ok(());
        while written < self.out.len() {
            match self.stream.write(&self.out[written..]) {
                Ok(0) => {
                    result = Err("connection closed".to_string());
                    break;
                }
                Ok(n) => written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    result = Err(describe(&e));
                    break;
                }
            }
        }
        self.out.drain(..written);
        result?;
        if self.out.len() > MAX_OUTBOUND_BYTES {
            return Err("the other side is not reading".into());
        }
        Ok(self.out.is_empty())
    }

    /// Reads until the socket would block; returns the whole messages read and
    /// how reading ended.
    pub fn read(&mut self, scratch: &mut [u8]) -> (Vec<Message>, ReadEnd) {
        let turn = self.read_within(scratch, usize::MAX);
        (turn.msgs, turn.end)
    }

    /// Reads at most `budget` bytes from the socket (and every whole message
    /// they complete), so one busy connection cannot hold the loop: a
    /// [`ReadTurn`] with `unread` set must be read again later, since an
    /// edge-triggered poll will not report those bytes a second time.
    pub fn read_within(&mut self, scratch: &mut [u8], budget: usize) -> ReadTurn {
        let mut turn = ReadTurn {
            msgs: Vec::new(),
            end: ReadEnd::Open,
            bytes: 0,
            unread: false,
        };
        loop {
            loop {
                match self.reader.next_frame() {
                    Ok(Some(f)) => match Message::parse(&f) {
                        Ok(m) => turn.msgs.push(m),
                        Err(e) => return turn.ended(ReadEnd::Malformed(e)),
                    },
                    Ok(None) => break,
                    Err(e) => return turn.ended(ReadEnd::Malformed(e)),
                }
            }
            let room = budget.saturating_sub(turn.bytes).min(scratch.len());
            let Some(buf) = scratch.get_mut(..room).filter(|b| !b.is_empty()) else {
                turn.unread = true;
                return turn;
            };
            match self.stream.read(buf) {
                Ok(0) => return turn.ended(ReadEnd::Closed("closed by the other side".into())),
                Ok(n) => {
                    turn.bytes += n;
                    self.reader.push(buf.get(..n).unwrap_or_default());
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.reader.shrink();
                    return turn;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return turn.ended(ReadEnd::Closed(describe(&e))),
            }
        }
    }

    /// Stops watching the socket (it closes when this value is dropped).
    pub fn deregister(&mut self, reg: &Registry) {
        let _ = reg.deregister(&mut self.stream);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mio::{Poll, Token};
    use std::net::TcpListener;

    /// A framed connection accepted from a plain loopback client.
    fn pair(poll: &Poll) -> (FramedConn, std::net::TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (stream, from) = listener.accept().unwrap();
        stream.set_nonblocking(true).unwrap();
        let stream = TcpStream::from_std(stream);
        let conn = FramedConn::accepted(poll.registry(), Token(7), stream, from).unwrap();
        (conn, client)
    }

    #[test]
    fn a_budgeted_read_stops_at_its_budget_and_says_more_is_waiting() {
        let poll = Poll::new().unwrap();
        let (mut conn, mut client) = pair(&poll);
        let ping_len = Message::Ping(0).to_bytes().len();
        let bytes: Vec<u8> = (0..1000)
            .flat_map(|i| Message::Ping(i).to_bytes())
            .collect();
        client.write_all(&bytes).unwrap();
        let mut scratch = vec![0; 4096];
        let budget = 100 * ping_len;
        let mut got = Vec::new();
        let mut turns = 0;
        while got.len() < 1000 {
            let turn = conn.read_within(&mut scratch, budget);
            assert!(turn.bytes <= budget, "{} > {budget}", turn.bytes);
            assert!(matches!(turn.end, ReadEnd::Open), "{:?}", turn.end);
            got.extend(turn.msgs);
            turns += 1;
            assert!(turns < 1000, "reading made no progress");
            if !turn.unread {
                // Drained for now: the rest is still on its way.
                std::thread::yield_now();
            }
        }
        assert!(turns >= 10, "{turns} turns for 10 budgets' worth");
        assert_eq!(got.len(), 1000);
        assert!(got
            .iter()
            .enumerate()
            .all(|(i, m)| *m == Message::Ping(i as u64)));
        let last = conn.read_within(&mut scratch, budget);
        assert!(!last.unread && last.msgs.is_empty() && last.bytes == 0);
    }
}
