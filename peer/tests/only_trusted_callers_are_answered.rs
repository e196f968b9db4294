//! Who may call, between real processes (issue 16): `--auto-accept`
//! answers only the keys in the allow file and tells others "not allowed";
//! a caller in the file is answered; a caller whose callee cannot prove the
//! expected key aborts before saying anything in clear; an old-style raw
//! INVITE (protocol version 1, or version 2 without the handshake) is
//! refused with the "upgrade" ERROR; tampered handshake or sealed bytes close
//! only their own connection.

use peercall::wire::{CallId, Invite, MediaPorts, Message, Name, RejectReason};
use peercall_testkit::noise::{key_of, make_identity, KeyDir, SecureClient};
use peercall_testkit::{
    call_once, mjpeg_opus_offer, start_peer_with, test_identity, Client, Proc, Registry,
};
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A registered `peercall run` peer called `name`; its process, call port and key.
fn callee(name: &str, reg: &Registry, extra: &[&str]) -> (Proc, SocketAddr, String) {
    let (mut p, addr) = start_peer_with(name, &reg.arg(), extra);
    let key = key_of(&mut p).to_string();
    p.expect(&format!("registered as {name}"));
    (p, addr.parse().expect("a call address"), key)
}

/// `peercall call bob` as alice, with her identity in `alice` and an allow
/// file there pinning `pin` as bob's key, and `extra` arguments.
fn alice_calls_bob_pinning(
    reg: &Registry,
    alice: &KeyDir,
    pin: &str,
    extra: &[&str],
) -> (i32, String, String) {
    std::fs::write(alice.file("allow"), format!("{pin} bob\n")).unwrap();
    let (identity, allow) = (alice.file("identity"), alice.file("allow"));
    let mut args = vec!["--identity", &identity, "--allow", &allow];
    args.extend_from_slice(extra);
    call_once("bob", "alice", &reg.arg(), &args)
}

fn invite(id: u64, caller: &str) -> Message {
    Message::Invite(Invite {
        call_id: CallId(id),
        caller: Name::new(caller).expect("a valid name"),
        ports: MediaPorts {
            audio: 40_000,
            video: 40_002,
        },
        media: mjpeg_opus_offer(640, 480, 20),
    })
}

/// The next message other than RINGING.
fn answer(c: &mut SecureClient) -> Option<Message> {
    loop {
        match c.recv()? {
            Message::Ringing(_) => {}
            m => return Some(m),
        }
    }
}

#[test]
fn auto_accept_rejects_a_caller_whose_key_is_not_in_the_allow_file() {
    let reg = Registry::start(&[]);
    let keys = KeyDir::new("unknown");
    // Bob's allow file lists someone, not the callers below.
    let friend = test_identity("1").public();
    std::fs::write(keys.file("allow"), format!("{friend} friend\n")).unwrap();
    let (mut bob, addr, bob_key) = callee(
        "bob",
        &reg,
        &["--auto-accept", "--allow", &keys.file("allow")],
    );

    // A hand-made caller with a key bob does not know.
    let stranger = test_identity("2");
    let mut c = SecureClient::call(addr, &stranger, bob_key.parse().unwrap()).unwrap();
    c.send(&invite(1, "mallory"));
    assert_eq!(
        answer(&mut c),
        Some(Message::Reject {
            call_id: CallId(1),
            reason: RejectReason::NotAllowed
        })
    );
    let line = bob.expect("unverified caller: key ");
    assert!(line.contains(&stranger.public().to_string()), "{line}");
    bob.expect("rejecting mallory: its key is not in the allow file");
    assert!(!bob.output().contains("answering automatically"));

    // A real `peercall call` whose key bob does not know: exit 15.
    let alice = KeyDir::new("alice");
    let (code, out, err) = alice_calls_bob_pinning(&reg, &alice, &bob_key, &[]);
    assert_eq!(code, 15, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("call to bob rejected: your key is not in the callee's allow file"),
        "{out}"
    );
    bob.expect("rejecting alice");
}

#[test]
fn auto_accept_answers_a_caller_in_the_allow_file() {
    let reg = Registry::start(&[]);
    let (bob_dir, alice_dir) = (KeyDir::new("bob"), KeyDir::new("alice"));
    let alice_key = make_identity(&alice_dir.path.join("identity"));
    std::fs::write(
        bob_dir.file("allow"),
        format!("# who may ring the door\n\nnot-a-key\n{alice_key} alice\n"),
    )
    .unwrap();
    let (mut bob, _, bob_key) = callee(
        "bob",
        &reg,
        &["--auto-accept", "--allow", &bob_dir.file("allow")],
    );
    assert!(
        bob.output().contains("line 3: not a public key"),
        "{}",
        bob.output()
    );
    let (code, out, err) = alice_calls_bob_pinning(&reg, &alice_dir, &bob_key, &["--seconds", "1"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("bob accepted: call established"), "{out}");
    bob.expect(&format!(
        "verified caller: key {alice_key} is in the allow file (alice)"
    ));
    bob.expect("answering automatically (--auto-accept)");
}

#[test]
fn a_callee_that_cannot_prove_the_expected_key_makes_the_caller_abort() {
    // Bob, a real peer, registers with its own key at a registry of its own.
    let elsewhere = Registry::start(&[]);
    let (bob, bob_addr, _) = callee("bob", &elsewhere, &["--auto-accept-anyone"]);
    assert!(bob
        .output()
        .contains("warning: --auto-accept-anyone answers every call"));
    // At alice's registry "bob" is bound to another key, at bob's address:
    // what a registry (or a network) lying about bob would say.
    let reg = Registry::start(&[]);
    let claimed = test_identity("not-bob");
    let mut link = Client::connect(reg.addr);
    let registered = link.register(&claimed, "bob", bob_addr);
    assert!(
        matches!(registered, Message::Registered(_)),
        "{registered:?}"
    );
    let alice = KeyDir::new("alice");
    let (code, out, err) = call_once(
        "bob",
        "alice",
        &reg.arg(),
        &["--identity", &alice.file("identity")],
    );
    assert_eq!(code, 14, "stdout:\n{out}\nstderr:\n{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("not calling bob: the callee did not prove the expected key"))
        .unwrap_or_else(|| panic!("no abort line in:\n{out}"));
    assert!(line.contains(&claimed.public().to_string()), "{line}");
    // Bob never saw a call: the INVITE was never sent.
    assert!(!bob.output().contains("incoming call"), "{}", bob.output());
}

#[test]
fn a_pin_that_disagrees_with_the_registry_stops_the_call_before_dialling() {
    let reg = Registry::start(&[]);
    let (bob, _, bob_key) = callee("bob", &reg, &["--auto-accept-anyone"]);
    let alice = KeyDir::new("alice-pin");
    let other = test_identity("9").public();
    let (code, out, err) = alice_calls_bob_pinning(&reg, &alice, &other.to_string(), &[]);
    assert_eq!(code, 14, "stdout:\n{out}\nstderr:\n{err}");
    let line = format!("{out}{err}");
    let line = line
        .lines()
        .find(|l| l.contains("not calling bob: the registry gives key"))
        .unwrap_or_else(|| panic!("no refusal line in:\n{out}\n{err}"));
    assert!(
        line.contains(&bob_key) && line.contains(&other.to_string()),
        "{line}"
    );
    assert!(!bob.output().contains("incoming call"), "{}", bob.output());
}

/// Everything `stream` sends until it closes (or 5 s pass).
fn read_to_close(mut stream: TcpStream) -> Vec<u8> {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    got
}

#[test]
fn an_old_style_raw_invite_is_refused_with_the_upgrade_error() {
    let reg = Registry::start(&[]);
    let (mut bob, addr, _) = callee("bob", &reg, &["--auto-accept-anyone"]);
    // Protocol version 1: the ERROR comes back in version 1's framing.
    let mut old = invite(1, "oldie").to_bytes();
    old[2] = 1;
    let mut s = TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(&mut s, &old).unwrap();
    let got = read_to_close(s);
    assert!(got.len() > 6, "{got:?}");
    assert_eq!(&got[..4], &[b'P', b'C', 1, 0x7f], "{got:?}");
    let text = String::from_utf8_lossy(&got[6..]);
    assert!(text.contains("upgrade"), "{text}");

    // Version 2 without the handshake: refused too, and closed.
    let mut c = Client::connect(addr);
    c.send(&invite(2, "sneaky"));
    match c.recv() {
        Some(Message::Error(e)) => assert!(e.text.contains("handshake first"), "{e}"),
        other => panic!("expected an ERROR, got {other:?}"),
    }
    assert_eq!(c.recv(), None, "the connection is closed");
    bob.send_line("status");
    bob.expect("no call");
    assert!(!bob.output().contains("incoming call"));
}

#[test]
fn tampered_handshake_or_sealed_bytes_close_only_their_connection() {
    let reg = Registry::start(&[]);
    let (mut bob, addr, bob_key) = callee("bob", &reg, &[]);
    let bob_key = bob_key.parse().unwrap();
    let me = test_identity("3");
    // A good connection, handshake done, before the bad ones.
    let mut good = SecureClient::call(addr, &me, bob_key).unwrap();

    // A HANDSHAKE INIT with one bit flipped.
    let mut raw = Client::connect(addr);
    let (_, mut hello) = peercall::call::secure::Initiator::start(&me, bob_key, [7; 32]);
    hello[60] ^= 1;
    raw.send(&Message::HandshakeInit(hello));
    assert!(matches!(raw.recv(), Some(Message::Error(_))));
    assert_eq!(raw.recv(), None, "closed after the bad handshake");

    // A good handshake, then a SEALED message that does not open.
    let mut bad = SecureClient::call(addr, &me, bob_key).unwrap();
    bad.client.send(&Message::Sealed(vec![0x42; 40]));
    assert!(matches!(bad.client.recv(), Some(Message::Error(_))));
    assert_eq!(bad.client.recv(), None, "closed after the bad seal");

    // The first connection still places its call.
    good.send(&invite(5, "carol"));
    assert_eq!(good.recv(), Some(Message::Ringing(CallId(5))));
    bob.expect("incoming call from carol");
    good.send(&Message::Cancel(CallId(5)));
    bob.expect("call with carol ended: the caller cancelled");
}

#[test]
fn trust_adds_a_ringing_unverified_caller_to_the_allow_file() {
    let reg = Registry::start(&[]);
    let keys = KeyDir::new("trust");
    let (mut bob, addr, bob_key) = callee("bob", &reg, &["--allow", &keys.file("allow")]);
    let carol = test_identity("4");
    let mut c = SecureClient::call(addr, &carol, bob_key.parse().unwrap()).unwrap();
    c.send(&invite(8, "carol"));
    assert_eq!(c.recv(), Some(Message::Ringing(CallId(8))));
    let line = bob.expect("unverified caller: key ");
    assert!(line.contains(&carol.public().to_string()), "{line}");
    bob.send_line("trust");
    bob.expect(&format!("trusted carol ({})", carol.public()));
    let file = std::fs::read_to_string(keys.file("allow")).unwrap();
    assert_eq!(file, format!("{} carol\n", carol.public()));
    c.send(&Message::Cancel(CallId(8)));
    bob.expect("call with carol ended: the caller cancelled");
    // Carol's next call rings as verified.
    let mut c = SecureClient::call(addr, &carol, bob_key.parse().unwrap()).unwrap();
    c.send(&invite(9, "carol"));
    assert_eq!(c.recv(), Some(Message::Ringing(CallId(9))));
    bob.expect(&format!(
        "verified caller: key {} is in the allow file (carol)",
        carol.public()
    ));
}
