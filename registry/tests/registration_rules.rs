//! The registry's rules through the real binary on a loopback port: register,
//! duplicate, name taken, endpoint taken, lookup hit and miss, list, and
//! unregister (goodbye, then close), with the lines the server prints.

use peercall::wire::{GoodbyeReason, HoldStatus, Message, Name, Register};
use peercall_testkit::{Client, Registry};

fn name(s: &str) -> Name {
    Name::new(s).unwrap()
}

fn register(n: &str, addr: &str) -> Message {
    Message::Register(Register {
        name: name(n),
        addr: addr.parse().unwrap(),
    })
}

#[test]
fn register_lookup_list_unregister() {
    let mut reg = Registry::start(&[]);
    let mut alice = Client::connect(reg.addr);
    let Message::Registered(r) = alice.ask(&register("alice", "127.0.0.1:4701")) else {
        panic!("alice not registered")
    };
    assert_eq!(r.addr, "127.0.0.1:4701".parse().unwrap());
    reg.proc
        .expect("registered: alice at 127.0.0.1:4701 (from 127.0.0.1:");
    reg.proc.expect("--- 1 peer registered ---");
    reg.proc.expect("alice");

    // An empty IP: the registry records the address it sees.
    let mut bob = Client::connect(reg.addr);
    let Message::Registered(r) = bob.ask(&register("bob", "0.0.0.0:4702")) else {
        panic!("bob not registered")
    };
    assert_eq!(r.addr, "127.0.0.1:4702".parse().unwrap());

    let mut q = Client::connect(reg.addr);
    let Message::Found(e) = q.ask(&Message::Lookup(name("bob"))) else {
        panic!("bob not found")
    };
    assert_eq!(e.addr, "127.0.0.1:4702".parse().unwrap());
    assert_eq!(
        q.ask(&Message::Lookup(name("carol"))),
        Message::NotFound(name("carol"))
    );
    let Message::ListReply(page) = q.ask(&Message::List { after: None }) else {
        panic!("no list")
    };
    assert!(!page.more);
    let names: Vec<_> = page.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["alice", "bob"]);

    // Unregister: GOODBYE, then the server closes the socket.
    assert_eq!(
        alice.ask(&Message::Unregister),
        Message::Goodbye(GoodbyeReason::Unregistered)
    );
    assert_eq!(alice.recv(), None);
    reg.proc
        .expect("departed: alice at 127.0.0.1:4701 (unregistered)");
    assert_eq!(
        q.ask(&Message::Lookup(name("alice"))),
        Message::NotFound(name("alice"))
    );
}

#[test]
fn duplicates_and_conflicts() {
    let mut reg = Registry::start(&["--probe-timeout", "0.3"]);
    let mut holder = Client::connect(reg.addr);
    assert!(matches!(
        holder.ask(&register("pi", "127.0.0.1:5000")),
        Message::Registered(_)
    ));
    // Same connection again: already registered, yours.
    assert!(matches!(
        holder.ask(&register("pi", "127.0.0.1:5000")),
        Message::AlreadyRegistered(a) if a.status == HoldStatus::Yours
    ));
    reg.proc
        .expect("already registered: pi at 127.0.0.1:5000 by the same connection");

    let mut other = Client::connect(reg.addr);
    assert_eq!(
        other.ask(&register("pi", "127.0.0.1:5001")),
        Message::NameTaken(name("pi"))
    );
    reg.proc
        .expect("refused: pi at 127.0.0.1:5001: name taken by 127.0.0.1:5000");
    assert_eq!(
        other.ask(&register("pj", "127.0.0.1:5000")),
        Message::EndpointTaken("127.0.0.1:5000".parse().unwrap())
    );
    reg.proc
        .expect("refused: pj at 127.0.0.1:5000: endpoint taken by pi");

    // Same name and endpoint from a new connection (a rebooted board): the
    // holder is probed. It answers, so it keeps the registration.
    assert!(matches!(
        other.ask(&register("pi", "127.0.0.1:5000")),
        Message::AlreadyRegistered(a) if a.status == HoldStatus::Probing && a.probe_ms == 300
    ));
    let Some(Message::Ping(token)) = holder.recv() else {
        panic!("holder not probed")
    };
    holder.send(&Message::Pong(token));
    assert!(matches!(
        other.recv(),
        Some(Message::AlreadyRegistered(a)) if a.status == HoldStatus::HolderAlive
    ));

    // Now the holder stays silent (a half-open connection): handed over.
    assert!(matches!(
        other.ask(&register("pi", "127.0.0.1:5000")),
        Message::AlreadyRegistered(a) if a.status == HoldStatus::Probing
    ));
    assert!(matches!(other.recv(), Some(Message::Registered(_))));
    assert!(matches!(holder.recv(), Some(Message::Ping(_))));
    assert_eq!(
        holder.recv(),
        Some(Message::Goodbye(GoodbyeReason::Replaced))
    );
    assert_eq!(holder.recv(), None);
    reg.proc
        .expect("departed: pi at 127.0.0.1:5000 (timed out: did not answer the probe)");
    reg.proc.expect("registered: pi at 127.0.0.1:5000");
}
