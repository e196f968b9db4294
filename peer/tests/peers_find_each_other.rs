//! Two real peers and the real registry: register, list, lookup hit and miss,
//! quit by command and by signal, with the one-shot commands' output and exit
//! codes that scripts rely on.

use peercall_testkit::{bin, run, start_peer, Proc, Registry};
use std::path::PathBuf;

fn peercall() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_peercall"))
}

/// A peer registered as `name`: its process, its call address, and its key
/// (from the `this peer's key is KEY` line).
fn start_registered(name: &str, reg: &Registry) -> (Proc, String, String) {
    let (mut p, addr) = start_peer(name, &reg.arg());
    let key_line = p.expect_unordered("this peer's key is ");
    let key = key_line
        .split("this peer's key is ")
        .nth(1)
        .expect("a key")
        .trim()
        .to_owned();
    p.expect(&format!(
        "registered as {name} at {addr} with registry {}",
        reg.arg()
    ));
    (p, addr, key)
}

#[test]
fn register_list_lookup_and_quit() {
    let mut reg = Registry::start(&[]);
    let (mut alice, alice_addr, alice_key) = start_registered("alice", &reg);
    let (mut bob, bob_addr, bob_key) = start_registered("bob", &reg);
    reg.proc
        .expect(&format!("registered: alice at {alice_addr}"));
    reg.proc.expect(&format!("registered: bob at {bob_addr}"));
    reg.proc.expect("--- 2 peers registered ---");

    // One-shot commands for scripts.
    let r = reg.arg();
    let (code, out, _) = run(&peercall(), &["list", "--registry", &r]);
    assert_eq!(code, 0);
    // Each line: name, call address, and the key the name is bound to.
    assert_eq!(
        out,
        format!("alice {alice_addr} {alice_key}\nbob {bob_addr} {bob_key}\n")
    );
    let (code, out, _) = run(&peercall(), &["lookup", "bob", "--registry", &r]);
    assert_eq!((code, out), (0, format!("bob {bob_addr} {bob_key}\n")));
    let (code, out, err) = run(&peercall(), &["lookup", "carol", "--registry", &r]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (1, "", "carol: not registered\n")
    );

    // Interactive commands.
    alice.send_line("lookup bob");
    alice.expect(&format!("bob {bob_addr}"));
    alice.send_line("lookup carol");
    alice.expect("carol: not registered");
    alice.send_line("list");
    alice.expect(&format!("alice {alice_addr}"));
    alice.expect(&format!("bob {bob_addr}"));
    alice.send_line("dance");
    alice.expect("unknown command 'dance'; type help");
    alice.send_line("help");
    alice.expect("commands: call NAME, accept, reject, hangup, status");

    // quit: unregister, print the registry's goodbye, exit 0.
    alice.send_line("quit");
    alice.expect("goodbye from registry");
    assert_eq!(alice.wait_exit(), Some(0));
    reg.proc
        .expect(&format!("departed: alice at {alice_addr} (unregistered)"));

    // End of a piped stdin does not stop a peer; SIGTERM does, in order.
    bob.close_stdin();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (_, out, _) = run(&peercall(), &["lookup", "bob", "--registry", &r]);
    assert_eq!(out, format!("bob {bob_addr} {bob_key}\n"));
    bob.signal("TERM");
    bob.expect("goodbye from registry");
    assert_eq!(bob.wait_exit(), Some(0));
    reg.proc
        .expect(&format!("departed: bob at {bob_addr} (unregistered)"));
}

#[test]
fn sigint_unregisters_too() {
    let mut reg = Registry::start(&[]);
    let (mut p, addr, _) = start_registered("carol", &reg);
    p.signal("INT");
    p.expect("goodbye from registry");
    assert_eq!(p.wait_exit(), Some(0));
    reg.proc
        .expect(&format!("departed: carol at {addr} (unregistered)"));
}

#[test]
fn taken_name_is_refused_with_exit_3() {
    let reg = Registry::start(&[]);
    let (_alice, _, _) = start_registered("alice", &reg);
    let r = reg.arg();
    let (code, out, _) = run(
        &peercall(),
        &[
            "run",
            "--name",
            "alice",
            "--registry",
            &r,
            "--listen",
            "127.0.0.1:0",
        ],
    );
    assert_eq!(code, 3);
    assert!(out.contains("registration of alice refused"), "{out}");
    assert!(out.contains("choose another --name"), "{out}");
    assert!(bin("peercall-registry").exists());
}

#[test]
fn the_demo_runs_a_whole_call() {
    // `peercall demo` finds peercall-registry beside itself.
    let _ = bin("peercall-registry");
    let (code, out, err) = run(&peercall(), &["demo", "--seconds", "1"]);
    assert_eq!(code, 0, "{out}{err}");
    for step in [
        "[registry] listening on 127.0.0.1:",
        "[alice]    registered as alice",
        "[bob]      incoming call from alice",
        "[alice]    bob accepted: call established",
        "[bob]      quality report (call with alice",
        "[alice]    quality report (call with bob",
        "[registry] shutting down",
        "== demo complete",
    ] {
        assert!(out.contains(step), "missing {step:?} in:\n{out}");
    }
}
