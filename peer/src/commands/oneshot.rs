//! One-shot commands for scripts (`peercall list`, `peercall lookup`): connect,
//! ask, print, exit with a code that says what happened. The question is the
//! membership machine's in query mode ([`Membership::query`]: its timeouts,
//! paging and ping answers), carried by the run loop's [`RegistryLink`] (its
//! resolution and framing) in a small mio loop of its own.

use super::entry_line;
use crate::exit;
use crate::net::registry_link::RegistryLink;
use crate::net::{describe, RegistryAddr, Tokens};
use mio::{Events, Poll, Token, Waker};
use peercall::membership::{Event, Membership, Output, NOT_A_REGISTRY};
use peercall::wire::Name;
use std::io::{self, ErrorKind, Write};
use std::sync::Arc;
use std::time::Instant;

/// The token of the resolver's wake-ups; connections come after it.
const WAKE: Token = Token(0);
const FIRST_CONN: usize = 1;

/// Why a one-shot request failed; each maps to an exit code.
enum Failure {
    Unreachable(String),
    Protocol(String),
    /// The address reaches something that is no registry.
    NotARegistry(String),
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
            Failure::NotARegistry(why) => {
                eprintln!(
                    "peercall: {registry} {NOT_A_REGISTRY} ({why}); is a peercall-registry running there?"
                );
                exit::PROTOCOL
            }
        }
    }
}

/// Asks the registry one question through the membership machine in query
/// mode, on the same registry link and framing the run loop uses, and
/// returns the answer: [`membership::Event::Found`], `NotFound` or `Listed`.
fn ask(registry: &RegistryAddr, request: impl FnOnce(&mut Membership)) -> Result<Event, Failure> {
    let fail = |e: io::Error| Failure::Unreachable(describe(&e));
    let mut poll = Poll::new().map_err(fail)?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKE).map_err(fail)?);
    let mut link = RegistryLink::new(registry.clone(), waker);
    let mut tokens = Tokens::starting_at(FIRST_CONN);
    let mut events = Events::with_capacity(8);
    let mut m = Membership::query(Instant::now());
    m.start(Instant::now());
    request(&mut m);
    loop {
        while let Some(out) = m.poll_output() {
            let now = Instant::now();
            match out {
                Output::Connect => link.connect(poll.registry()),
                Output::Disconnect => link.close(poll.registry()),
                Output::Send(msg) => link.send(poll.registry(), &mut m, now, &msg),
                Output::Event(e) => match e {
                    Event::Found(_) | Event::NotFound(_) | Event::Listed(_) => return Ok(e),
                    Event::RequestFailed { why, .. } => return Err(Failure::Unreachable(why)),
                    Event::RegistryError(e) => return Err(Failure::Protocol(e.to_string())),
                    Event::Misbehaved(why) => return Err(Failure::NotARegistry(why)),
                    other => log::debug!("query: {other:?}"),
                },
            }
        }
        if m.is_done() {
            return Err(Failure::Unreachable("the query stopped unanswered".into()));
        }
        let timeout = m
            .next_timeout()
            .map(|t| t.saturating_duration_since(Instant::now()));
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() != ErrorKind::Interrupted {
                return Err(fail(e));
            }
        }
        let now = Instant::now();
        for ev in events.iter() {
            if link.owns(ev.token()) {
                link.ready(poll.registry(), &mut tokens, &mut m, now);
            }
        }
        link.poll_resolved(poll.registry(), &mut tokens, &mut m, now);
        m.handle_timeout(now);
    }
}

/// `peercall list`: one line per registered peer: name, call address and
/// the key its name is bound to (the one its call port must prove).
pub fn list(registry: &RegistryAddr) -> u8 {
    match ask(registry, Membership::list) {
        Ok(Event::Listed(entries)) => {
            let mut out = io::stdout().lock();
            for e in &entries {
                let _ = writeln!(out, "{}", entry_line(e));
            }
            exit::OK
        }
        Ok(other) => unanswered(other, registry),
        Err(f) => f.report(registry),
    }
}

/// An answer `ask` does not return for this question (it cannot happen).
fn unanswered(e: Event, registry: &RegistryAddr) -> u8 {
    Failure::Protocol(format!("unexpected answer {e:?}")).report(registry)
}

/// `peercall lookup NAME`: the peer's line (as for `list`), or `NAME: not registered` and exit 1.
pub fn lookup(registry: &RegistryAddr, name: &Name) -> u8 {
    match ask(registry, |m| m.lookup(name.clone())) {
        Ok(Event::Found(e)) => {
            println!("{}", entry_line(&e));
            exit::OK
        }
        Ok(Event::NotFound(n)) => {
            eprintln!("{n}: not registered");
            exit::NOT_REGISTERED
        }
        Ok(other) => unanswered(other, registry),
        Err(f) => f.report(registry),
    }
}
