//! Calls between real peer processes through the real registry: accepted and
//! hung up by each side, rejected, busy, no answer, a callee killed mid-call,
//! and the one-shot `peercall call` with its exit codes.

use peercall_testkit::{call_once, start_call, start_peer, start_peer_with, Proc, Registry};

/// A registered `peercall run` peer with `extra` arguments.
fn peer(name: &str, reg: &Registry, extra: &[&str]) -> Proc {
    let (mut p, _) = start_peer_with(name, &reg.arg(), extra);
    p.expect(&format!("registered as {name}"));
    p
}

#[test]
fn call_accepted_and_hung_up_by_each_side() {
    let reg = Registry::start(&[]);
    let mut alice = peer("alice", &reg, &[]);
    let mut bob = peer("bob", &reg, &[]);
    for hanger in ["alice", "bob"] {
        alice.send_line("call bob");
        alice.expect("calling bob at 127.0.0.1:");
        alice.expect("ringing bob");
        let line = bob.expect("incoming call from alice (127.0.0.1:");
        assert!(line.ends_with("— accept or reject?"), "{line}");
        bob.send_line("accept");
        let a = alice.expect("bob accepted: call established");
        let b = bob.expect("accepted the call from alice: call established");
        // Each side's announced receive ports are what the other side sends to.
        let ports = |l: &str| -> Vec<String> {
            l.split(|c: char| !c.is_ascii_digit())
                .filter(|w| w.len() >= 4)
                .map(str::to_owned)
                .collect()
        };
        let (pa, pb) = (ports(&a), ports(&b));
        assert_eq!(pa[0..2], pb[2..4], "{a}\n{b}");
        assert_eq!(pa[2..4], pb[0..2], "{a}\n{b}");
        assert!(a.contains("MJPEG 640x480@30, Opus 48 kHz mono 20 ms"));
        alice.send_line("status");
        alice.expect("call with bob (we called): established for");
        bob.send_line("status");
        bob.expect("call with alice (they called): established for");
        let (me, other, other_name) = if hanger == "alice" {
            (&mut alice, &mut bob, "alice")
        } else {
            (&mut bob, &mut alice, "bob")
        };
        me.send_line("hangup");
        me.expect("ended: hung up after");
        other.expect(&format!(
            "call with {other_name} ended: the other side hung up after"
        ));
    }
    alice.send_line("status");
    alice.expect("no call");
}

#[test]
fn rejected_call_interactive_and_one_shot() {
    let reg = Registry::start(&[]);
    let mut alice = peer("alice", &reg, &[]);
    let mut bob = peer("bob", &reg, &[]);
    alice.send_line("call bob");
    bob.expect("incoming call from alice");
    bob.send_line("reject");
    alice.expect("call to bob rejected: declined");
    bob.expect("call with alice ended: declined");

    let _carol = peer("carol", &reg, &["--reject-all"]);
    let (code, out, _) = call_once("carol", "dave", &reg.arg(), &["--seconds", "1"]);
    assert_eq!(code, 6, "{out}");
    assert!(out.contains("call to carol rejected: declined"), "{out}");
}

#[test]
fn busy_callee_keeps_its_call() {
    let reg = Registry::start(&[]);
    let mut alice = peer("alice", &reg, &[]);
    let mut bob = peer("bob", &reg, &["--auto-accept-anyone"]);
    alice.send_line("call bob");
    alice.expect("bob accepted: call established");
    let (code, out, _) = call_once("bob", "carol", &reg.arg(), &["--seconds", "1"]);
    assert_eq!(code, 7, "{out}");
    assert!(out.contains("call to bob rejected: busy"), "{out}");
    bob.expect("missed call from carol: answered busy");
    alice.send_line("status");
    alice.expect("call with bob (we called): established");
    bob.send_line("status");
    bob.expect("call with alice (they called): established");
}

#[test]
fn unanswered_call_times_out() {
    let reg = Registry::start(&[]);
    let mut bob = peer("bob", &reg, &[]);
    let (code, out, _) = call_once("bob", "alice", &reg.arg(), &["--answer-timeout", "1"]);
    assert_eq!(code, 8, "{out}");
    assert!(out.contains("call with bob ended: no answer"), "{out}");
    bob.expect("incoming call from alice");
    bob.expect("call with alice ended: the caller cancelled");
}

#[test]
fn killed_callee_is_detected_by_the_caller() {
    let reg = Registry::start(&[]);
    let mut alice = peer("alice", &reg, &[]);
    let mut bob = peer("bob", &reg, &["--auto-accept-anyone"]);
    alice.send_line("call bob");
    alice.expect("bob accepted: call established");
    bob.expect("call established");
    bob.signal("KILL");
    alice.expect("call with bob ended: connection lost");
    alice.send_line("status");
    alice.expect("no call");
}

#[test]
fn one_shot_call_until_the_other_side_hangs_up() {
    let reg = Registry::start(&[]);
    let mut bob = peer("bob", &reg, &["--auto-accept-anyone"]);
    let mut caller = start_call("bob", "alice", &reg.arg(), &[]);
    caller.expect("bob accepted: call established");
    bob.send_line("hangup");
    caller.expect("call with bob ended: the other side hung up");
    caller.expect("goodbye from registry");
    assert_eq!(caller.wait_exit(), Some(0));
}

#[test]
fn one_shot_call_mistakes() {
    let reg = Registry::start(&[]);
    let (code, out, _) = call_once("nobody", "alice", &reg.arg(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("nobody: not registered"), "{out}");
    let (code, _, err) = call_once("alice", "alice", &reg.arg(), &[]);
    assert_eq!(code, 64);
    assert!(err.contains("cannot call itself"), "{err}");
    let (mut a, _) = start_peer("solo", &reg.arg());
    a.expect("registered as solo");
    a.send_line("call solo");
    a.expect("cannot call solo: that is this peer's own name");
    a.send_line("accept");
    a.expect("cannot accept: no incoming call");
    a.send_line("hangup");
    a.expect("cannot hang up: no call to act on");
    // Unreachable registry: one line, exit 2.
    let nowhere = format!("127.0.0.1:{}", peercall_testkit::refused_port());
    let (code, _, err) = call_once("bob", "alice", &nowhere, &[]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
