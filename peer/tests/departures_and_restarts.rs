//! Peers that die, freeze or lose their registry: the registry notices, and
//! peers come back by themselves when the registry does.

use peercall::wire::{Message, Name};
use peercall_testkit::{refused_port, run, start_peer, test_identity, Client, Registry};
use std::path::PathBuf;

fn peercall() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_peercall"))
}

#[test]
fn killed_peer_departs_as_connection_lost() {
    let mut reg = Registry::start(&[]);
    let (mut p, addr) = start_peer("doomed", &reg.arg());
    p.expect("registered as doomed");
    p.signal("KILL");
    reg.proc
        .expect(&format!("departed: doomed at {addr} (connection lost)"));
    let (code, _, err) = run(&peercall(), &["lookup", "doomed", "--registry", &reg.arg()]);
    assert_eq!((code, err.as_str()), (1, "doomed: not registered\n"));
}

#[test]
fn frozen_peer_times_out_and_registers_again_when_it_wakes() {
    let mut reg = Registry::start(&["--silence-timeout", "1"]);
    let (mut p, addr) = start_peer("frozen", &reg.arg());
    p.expect("registered as frozen");
    p.signal("STOP");
    reg.proc
        .expect(&format!("departed: frozen at {addr} (timed out)"));
    p.signal("CONT");
    p.expect("registry");
    p.expect("registered again as frozen");
    reg.proc.expect(&format!("registered: frozen at {addr}"));
}

#[test]
fn registry_restart_peers_register_again() {
    let reg = Registry::start(&[]);
    let registry = reg.arg();
    let (mut a, a_addr) = start_peer("north", &registry);
    let (mut b, b_addr) = start_peer("south", &registry);
    a.expect("registered as north");
    b.expect("registered as south");
    // Killed (no goodbye) and started again with the same state directory.
    let mut reg = reg.crash_and_restart(&[]);
    a.expect("unavailable");
    b.expect("unavailable");
    // A newcomer with another key that registers first is refused: the
    // names came back from the state directory.
    let mut squatter = Client::connect(reg.addr);
    assert_eq!(
        squatter.register(
            &test_identity("squatter"),
            "north",
            "127.0.0.1:4999".parse().unwrap()
        ),
        Message::NameTaken(Name::new("north").unwrap())
    );
    a.expect("registered again as north");
    b.expect("registered again as south");
    reg.proc.expect("--- 2 peers registered ---");
    let (code, out, _) = run(&peercall(), &["list", "--registry", &registry]);
    assert_eq!(code, 0);
    let names: Vec<String> = out
        .lines()
        .map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        names,
        [format!("north {a_addr}"), format!("south {b_addr}")]
    );
}

#[test]
fn peer_started_before_its_registry_waits_for_it() {
    // Find a free port, then start the peer while nothing listens there.
    let registry = format!("127.0.0.1:{}", refused_port());
    let (mut p, _) = start_peer("early", &registry);
    p.expect("unavailable (cannot connect: connection refused); retrying in");
    let _reg = Registry::start_on(&registry, &[]);
    p.expect("registered as early");
}
