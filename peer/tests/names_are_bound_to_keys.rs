//! Issue 16: a peer's name is bound to its key. A squatter (another key)
//! cannot take it while the owner is connected, nor while the owner is frozen
//! (SIGSTOP) and after its registration timed out; the owner's key takes it
//! back at once from its own stale connection (a rebooted board whose old
//! connection is half-open), with no probe wait.

use peercall::wire::{Message, Name};
use peercall_testkit::{start_peer_with, test_identity, Client, Registry, StateDir};
use std::net::SocketAddr;

fn squat(reg: &Registry, name: &str) -> Message {
    let mut c = Client::connect(reg.addr);
    let addr: SocketAddr = "127.0.0.1:4999".parse().unwrap();
    c.register(&test_identity("squatter"), name, addr)
}

#[test]
fn a_squatter_cannot_take_a_live_or_frozen_owners_name() {
    let mut reg = Registry::start(&["--silence-timeout", "1"]);
    let (mut owner, addr) = start_peer_with("pi", &reg.arg(), &[]);
    owner.expect("registered as pi");
    let taken = Message::NameTaken(Name::new("pi").unwrap());
    assert_eq!(squat(&reg, "pi"), taken, "live owner");

    owner.signal("STOP");
    reg.proc
        .expect(&format!("departed: pi at {addr} (timed out)"));
    assert_eq!(squat(&reg, "pi"), taken, "frozen owner, registration gone");
    assert!(matches!(squat(&reg, "PI"), Message::NameResembles { .. }));
    reg.proc
        .expect("refused: pi at 127.0.0.1:4999: name bound to key");

    owner.signal("CONT");
    owner.expect("registered again as pi");
}

#[test]
fn the_owner_reclaims_its_name_at_once_from_its_stale_connection() {
    let state = StateDir::new();
    let id = state.path().join("identity");
    let id = id.to_str().unwrap();
    // The default silence timeout (30 s): the old connection stays held.
    let mut reg = Registry::start(&[]);
    let (mut old, _) = start_peer_with("pi", &reg.arg(), &["--identity", id]);
    old.expect("registered as pi");
    // Frozen with its link up: to the registry, a half-open connection.
    old.signal("STOP");
    // The same board rebooted: same key, new process, new call port.
    let (mut new, new_addr) = start_peer_with("pi", &reg.arg(), &["--identity", id]);
    new.expect(&format!("registered as pi at {new_addr}"));
    let departed = reg
        .proc
        .expect("(replaced: its key registered on a new connection)");
    assert!(departed.starts_with("departed: pi at "), "{departed}");
    reg.proc.expect(&format!("registered: pi at {new_addr}"));
    let mut q = Client::connect(reg.addr);
    let Message::Found(e) = q.ask(&Message::Lookup(Name::new("pi").unwrap())) else {
        panic!("pi not found")
    };
    assert_eq!(e.addr.to_string(), new_addr);
}
