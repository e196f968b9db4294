//! The registry's rules through the real binary on a loopback port: register,
//! duplicate, name taken, endpoint taken, lookup hit and miss, list, and
//! unregister (goodbye, then close), with the lines the server prints.

use peercall::wire::{GoodbyeReason, HoldStatus, Message, Name};
use peercall_testkit::{test_identity, Client, Registry};

fn name(s: &str) -> Name {
    Name::new(s).unwrap()
}

/// Registers `n` at `addr` on `c` with the key of `who`; returns the reply.
fn register(c: &mut Client, who: &str, n: &str, addr: &str) -> Message {
    let m = c.signed_register(&test_identity(who), n, addr.parse().unwrap());
    c.ask(&m)
}

#[test]
fn register_lookup_list_unregister() {
    let mut reg = Registry::start(&[]);
    let mut alice = Client::connect(reg.addr);
    let Message::Registered(r) = register(&mut alice, "alice", "alice", "127.0.0.1:4701") else {
        panic!("alice not registered")
    };
    assert_eq!(r.addr, "127.0.0.1:4701".parse().unwrap());
    reg.proc
        .expect("registered: alice at 127.0.0.1:4701 (from 127.0.0.1:");
    reg.proc.expect("--- 1 peer registered ---");
    reg.proc.expect("alice");

    // An empty IP: the registry records the address it sees.
    let mut bob = Client::connect(reg.addr);
    let Message::Registered(r) = register(&mut bob, "bob", "bob", "0.0.0.0:4702") else {
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
    let mut reg = Registry::start(&[]);
    let mut holder = Client::connect(reg.addr);
    assert!(matches!(
        register(&mut holder, "owner", "pi", "127.0.0.1:5000"),
        Message::Registered(_)
    ));
    // Same connection again: already registered, yours.
    assert!(matches!(
        register(&mut holder, "owner", "pi", "127.0.0.1:5000"),
        Message::AlreadyRegistered(a) if a.status == HoldStatus::Yours
    ));
    reg.proc
        .expect("already registered: pi at 127.0.0.1:5000 by the same connection");

    let mut other = Client::connect(reg.addr);
    assert_eq!(
        register(&mut other, "squatter", "pi", "127.0.0.1:5001"),
        Message::NameTaken(name("pi"))
    );
    reg.proc
        .expect("refused: pi at 127.0.0.1:5001: name taken by 127.0.0.1:5000");
    assert_eq!(
        register(&mut other, "squatter", "pj", "127.0.0.1:5000"),
        Message::EndpointTaken("127.0.0.1:5000".parse().unwrap())
    );
    reg.proc
        .expect("refused: pj at 127.0.0.1:5000: endpoint taken by pi");
    // Same name and endpoint, another key: refused at once, no probe.
    assert_eq!(
        register(&mut other, "squatter", "pi", "127.0.0.1:5000"),
        Message::NameTaken(name("pi"))
    );

    // The owner's key on a new connection (a rebooted board whose old
    // connection is half-open): handed over at once, the old one replaced.
    let mut rebooted = Client::connect(reg.addr);
    assert!(matches!(
        register(&mut rebooted, "owner", "pi", "127.0.0.1:5000"),
        Message::Registered(_)
    ));
    assert_eq!(
        holder.recv(),
        Some(Message::Goodbye(GoodbyeReason::Replaced))
    );
    assert_eq!(holder.recv(), None);
    reg.proc.expect("departed: pi at 127.0.0.1:5000 (replaced");
    reg.proc
        .expect("registered: pi at 127.0.0.1:5000 (from 127.0.0.1:");
    let mut q = Client::connect(reg.addr);
    let Message::Found(e) = q.ask(&Message::Lookup(name("pi"))) else {
        panic!("pi not found")
    };
    assert_eq!(e.key, test_identity("owner").public());
}
