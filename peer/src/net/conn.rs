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
    /// The socket is drained and still open.
    Open,
    /// The other side closed, or the connection failed (the text says how).
    Closed(String),
    /// The bytes are not peercall messages.
    Malformed(WireError),
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
        let mut msgs = Vec::new();
        loop {
            loop {
                match self.reader.next_frame() {
                    Ok(Some(f)) => match Message::parse(&f) {
                        Ok(m) => msgs.push(m),
                        Err(e) => return (msgs, ReadEnd::Malformed(e)),
                    },
                    Ok(None) => break,
                    Err(e) => return (msgs, ReadEnd::Malformed(e)),
                }
            }
            match self.stream.read(scratch) {
                Ok(0) => return (msgs, ReadEnd::Closed("closed by the other side".into())),
                Ok(n) => self.reader.push(&scratch[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.reader.shrink();
                    return (msgs, ReadEnd::Open);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return (msgs, ReadEnd::Closed(describe(&e))),
            }
        }
    }

    /// Stops watching the socket (it closes when this value is dropped).
    pub fn deregister(&mut self, reg: &Registry) {
        let _ = reg.deregister(&mut self.stream);
    }
}
