//! One-shot commands for scripts (`peercall list`, `peercall lookup`): connect,
//! ask, print, exit with a code that says what happened. Blocking sockets with
//! timeouts are the simplest correct tool for one question and one answer.

use super::entry_line;
use crate::exit;
use crate::net::{describe, RegistryAddr};
use peercall::wire::{Entry, FrameReader, Message, Name};
use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// How long connecting to the registry may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the registry may take to answer one request.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a one-shot request failed; each maps to an exit code.
enum Failure {
    Unreachable(String),
    Protocol(String),
}

impl Failure {
    fn report(self, registry: &RegistryAddr) -> u8 {
        match self {
            Failure::Unreachable(why) => {
                eprintln!(
                    "peercall: cannot reach the registry at {registry}: {why}; is peercall-registry running there?"
                );
                exit::UNREACHABLE
            }
            Failure::Protocol(why) => {
                eprintln!("peercall: the registry at {registry} answered unexpectedly: {why}");
                exit::PROTOCOL
            }
        }
    }
}

struct Session {
    stream: TcpStream,
    reader: FrameReader,
    buf: Vec<u8>,
}

impl Session {
    fn open(registry: &RegistryAddr) -> Result<Session, Failure> {
        let addrs = registry.resolve().map_err(Failure::Unreachable)?;
        let mut last = String::new();
        for a in addrs {
            match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    stream
                        .set_read_timeout(Some(REPLY_TIMEOUT))
                        .map_err(|e| Failure::Unreachable(e.to_string()))?;
                    return Ok(Session {
                        stream,
                        reader: FrameReader::new(),
                        buf: vec![0; 4096],
                    });
                }
                Err(e) => last = describe(&e),
            }
        }
        Err(Failure::Unreachable(last))
    }

    /// Sends one request and returns the next message that is not a PING
    /// (PINGs are answered, as the protocol asks).
    fn ask(&mut self, msg: &Message) -> Result<Message, Failure> {
        self.stream
            .write_all(&msg.to_bytes())
            .map_err(|e| Failure::Unreachable(describe(&e)))?;
        loop {
            let frame = self
                .reader
                .next_frame()
                .map_err(|e| Failure::Protocol(e.to_string()))?;
            if let Some(f) = frame {
                let m = Message::parse(&f).map_err(|e| Failure::Protocol(e.to_string()))?;
                match m {
                    Message::Ping(t) => {
                        self.stream
                            .write_all(&Message::Pong(t).to_bytes())
                            .map_err(|e| Failure::Unreachable(describe(&e)))?;
                        continue;
                    }
                    Message::Error(e) => return Err(Failure::Protocol(e.to_string())),
                    Message::Goodbye(r) => {
                        return Err(Failure::Unreachable(format!(
                            "the registry said goodbye ({r})"
                        )))
                    }
                    other => return Ok(other),
                }
            }
            let n = match self.stream.read(&mut self.buf) {
                Ok(0) => {
                    return Err(Failure::Unreachable(
                        "the registry closed the connection".into(),
                    ))
                }
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(Failure::Unreachable(describe(&e))),
            };
            self.reader.push(&self.buf[..n]);
        }
    }

    /// Every entry of the table, following pages.
    fn list(&mut self) -> Result<Vec<Entry>, Failure> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            match self.ask(&Message::List { after })? {
                Message::ListReply(page) => {
                    let last = page.entries.last().map(|e| e.name.clone());
                    all.extend(page.entries);
                    match (page.more, last) {
                        (true, Some(n)) => after = Some(n),
                        _ => return Ok(all),
                    }
                }
                other => {
                    return Err(Failure::Protocol(format!(
                        "expected a list reply, got message type {:#04x}",
                        other.msg_type()
                    )))
                }
            }
        }
    }
}

/// `peercall list`: one line per registered peer.
pub fn list(registry: &RegistryAddr) -> u8 {
    let result = Session::open(registry).and_then(|mut s| s.list());
    match result {
        Ok(entries) => {
            let mut out = io::stdout().lock();
            for e in &entries {
                let _ = writeln!(out, "{}", entry_line(e));
            }
            exit::OK
        }
        Err(f) => f.report(registry),
    }
}

/// `peercall lookup NAME`: the peer's line, or `NAME: not registered` and exit 1.
pub fn lookup(registry: &RegistryAddr, name: &Name) -> u8 {
    let result = Session::open(registry).and_then(|mut s| s.ask(&Message::Lookup(name.clone())));
    match result {
        Ok(Message::Found(e)) => {
            println!("{}", entry_line(&e));
            exit::OK
        }
        Ok(Message::NotFound(n)) => {
            eprintln!("{n}: not registered");
            exit::NOT_REGISTERED
        }
        Ok(other) => Failure::Protocol(format!(
            "expected an answer to the lookup, got message type {:#04x}",
            other.msg_type()
        ))
        .report(registry),
        Err(f) => f.report(registry),
    }
}
