//! What a peer refuses, and says why, when the other side asks for what it
//! cannot honour (docs/protocol.md 13): an offered picture that is not in
//! whole 8-pixel blocks or Opus frames it does not send get REJECT
//! UnsupportedMedia at once rather than a call with no video or the wrong
//! audio; and a caller refused with a reason code it does not know ends with
//! its own exit code (12), not the one for "declined".

use peercall::wire::{CallId, Invite, MediaPorts, Message, Name, RejectReason};
use peercall_testkit::noise::{printed_key, KeyDir, SecureClient};
use peercall_testkit::{
    call_once, mjpeg_opus_offer, start_answering_peer, test_identity, Client, Registry,
};
use std::net::{SocketAddr, TcpListener};

/// The next message other than RINGING.
fn next_answer(c: &mut SecureClient) -> Message {
    loop {
        match c.recv().expect("an answer before the callee closed") {
            Message::Ringing(_) => {}
            m => return m,
        }
    }
}

#[test]
fn offers_the_callee_cannot_honour_are_refused_as_unsupported_media() {
    let reg = Registry::start(&[]);
    let mut bob = start_answering_peer("bob", &reg.arg(), &[]);
    let line = bob.output();
    let addr: SocketAddr = line
        .lines()
        .find_map(|l| l.strip_prefix("listening for calls on "))
        .expect("bob's call address")
        .trim()
        .parse()
        .expect("an address");
    for (n, media, reason) in [
        (1, mjpeg_opus_offer(641, 480, 20), "641x480"),
        (2, mjpeg_opus_offer(640, 482, 20), "640x482"),
        (3, mjpeg_opus_offer(640, 480, 40), "40 ms"),
    ] {
        let mut c = SecureClient::call(addr, &test_identity("caller"), printed_key(&bob)).unwrap();
        let invite = Message::Invite(Invite {
            call_id: CallId(n),
            caller: Name::new("mallory").unwrap(),
            ports: MediaPorts {
                audio: 40_000,
                video: 40_002,
            },
            media,
        });
        c.send(&invite);
        let answer = next_answer(&mut c);
        assert_eq!(
            answer,
            Message::Reject {
                call_id: CallId(n),
                reason: RejectReason::UnsupportedMedia
            },
            "offer {n}"
        );
        bob.expect(reason);
    }
    // Bob is still there for a call it can honour.
    bob.send_line("status");
    bob.expect("no call");
}

#[test]
fn a_refusal_with_an_unknown_reason_ends_a_one_shot_call_with_exit_12() {
    let reg = Registry::start(&[]);
    // A callee of a newer version: registered by hand, answering REJECT 9.
    let callee = TcpListener::bind("127.0.0.1:0").unwrap();
    let callee_addr = callee.local_addr().unwrap();
    let mut link = Client::connect(reg.arg().parse().unwrap());
    let newer = test_identity("newer");
    let registered = link.register(&newer, "newer", callee_addr);
    assert!(
        matches!(registered, Message::Registered(_)),
        "{registered:?}"
    );
    // The caller knows the hand-made callee's key from the registry and a pin.
    let alice = KeyDir::new("alice");
    std::fs::write(alice.file("allow"), format!("{} newer\n", newer.public())).unwrap();
    let answering = std::thread::spawn(move || {
        let mut c = SecureClient::answer(callee.accept().unwrap().0, &newer);
        let Message::Invite(invite) = next_answer(&mut c) else {
            panic!("expected an INVITE");
        };
        let reject = Message::Reject {
            call_id: invite.call_id,
            reason: RejectReason::Unknown(9),
        };
        c.send(&reject);
        // Hold the connection until the caller has read it and closed.
        while c.recv().is_some() {}
    });
    let (code, out, err) = call_once(
        "newer",
        "alice",
        &reg.arg(),
        &["--allow", &alice.file("allow")],
    );
    answering.join().unwrap();
    assert_eq!(code, 12, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        format!("{out}{err}").contains("reason 9"),
        "stdout:\n{out}\nstderr:\n{err}"
    );
    drop(link);
}
