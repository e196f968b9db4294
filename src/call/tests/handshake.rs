//! The Noise handshake every call connection starts with, seen from the
//! phones: the round trip it adds, a callee without the expected key, a
//! reply from the wrong peer, tampered and plaintext frames, an older peer,
//! and a caller the callee does not allow.

use super::*;

/// Phone 0 dials phone 1 expecting `expected`, by hand: (caller, callee,
/// time, the caller's first frames).
fn dial_by_hand(expected: PublicKey) -> (Phone, Phone, Instant, Vec<Output>) {
    let (mut alice, mut bob) = (Phone::new(config("alice")), Phone::new(config("bob")));
    let now = Instant::now();
    alice
        .dial(
            now,
            ConnId(1),
            (name("bob"), expected),
            CallId(7),
            PORTS_A,
            [5; 32],
        )
        .unwrap();
    bob.incoming(now, ConnId(2), [6; 32]);
    alice.connected(now, ConnId(1));
    let outs = std::iter::from_fn(|| alice.poll_output()).collect();
    (alice, bob, now, outs)
}

fn sent(outs: &[Output]) -> Vec<Message> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send { msg, .. } => Some(msg.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn the_handshake_adds_one_round_trip_before_the_invite_and_hides_it() {
    let (mut alice, mut bob, now, outs) = dial_by_hand(key("bob"));
    // Round trip 1: HANDSHAKE INIT out, HANDSHAKE REPLY back; nothing else.
    let first = sent(&outs);
    assert!(
        matches!(&first[..], [Message::HandshakeInit(_)]),
        "{first:?}"
    );
    for m in first {
        bob.received(now, ConnId(2), m);
    }
    let back = sent(&std::iter::from_fn(|| bob.poll_output()).collect::<Vec<_>>());
    assert!(
        matches!(&back[..], [Message::HandshakeReply(_)]),
        "{back:?}"
    );
    for m in back {
        alice.received(now, ConnId(1), m);
    }
    // Then the INVITE, sealed: neither the caller's name nor a plaintext
    // INVITE type is on the wire.
    let outs: Vec<_> = std::iter::from_fn(|| alice.poll_output()).collect();
    let invite = sent(&outs);
    assert!(matches!(&invite[..], [Message::Sealed(_)]), "{invite:?}");
    let bytes = invite[0].to_bytes();
    assert!(!bytes.windows(5).any(|w| w == b"alice"));
    assert!(outs.contains(&Output::Event(Event::Calling { peer: name("bob") })));
    bob.received(now, ConnId(2), invite[0].clone());
    let evs: Vec<_> = std::iter::from_fn(|| bob.poll_output()).collect();
    assert!(evs.iter().any(|o| matches!(o,
        Output::Event(Event::Incoming { key: k, .. }) if *k == key("alice"))));
    assert!(!bob.is_pending(ConnId(2)));
}

#[test]
fn a_callee_that_cannot_prove_the_expected_key_ends_the_call_before_any_invite() {
    // Alice expects carol's key at bob's address: bob cannot read her
    // handshake, says so and closes; alice ends with WrongKey and never
    // sends an INVITE.
    let (mut alice, mut bob, now, outs) = dial_by_hand(key("carol"));
    for m in sent(&outs) {
        bob.received(now, ConnId(2), m);
    }
    let back: Vec<_> = std::iter::from_fn(|| bob.poll_output()).collect();
    assert!(
        back.contains(&Output::Close { conn: ConnId(2) }),
        "{back:?}"
    );
    assert!(!back
        .iter()
        .any(|o| matches!(o, Output::Event(Event::Incoming { .. }))));
    for m in sent(&back) {
        alice.received(now, ConnId(1), m);
    }
    let outs: Vec<_> = std::iter::from_fn(|| alice.poll_output()).collect();
    assert!(sent(&outs).is_empty(), "{outs:?}");
    assert!(outs.iter().any(|o| matches!(o, Output::Event(Event::Ended {
        reason: EndReason::WrongKey { expected, .. }, .. }) if *expected == key("carol"))));
    assert!(!alice.is_busy());
}

#[test]
fn a_reply_from_the_wrong_peer_is_refused_by_the_caller() {
    // The other order of failure: the callee's side succeeds, but the reply
    // is altered on the way, so the caller's side fails.
    let (mut alice, mut bob, now, outs) = dial_by_hand(key("bob"));
    for m in sent(&outs) {
        bob.received(now, ConnId(2), m);
    }
    let back = sent(&std::iter::from_fn(|| bob.poll_output()).collect::<Vec<_>>());
    let Message::HandshakeReply(mut reply) = back[0].clone() else {
        panic!()
    };
    reply[40] ^= 1;
    alice.received(now, ConnId(1), Message::HandshakeReply(reply));
    let outs: Vec<_> = std::iter::from_fn(|| alice.poll_output()).collect();
    assert!(sent(&outs).is_empty(), "{outs:?}");
    assert!(outs.contains(&Output::Close { conn: ConnId(1) }));
    assert!(outs.iter().any(|o| matches!(
        o,
        Output::Event(Event::Ended {
            reason: EndReason::WrongKey { .. },
            ..
        })
    )));
}

#[test]
fn tampered_or_plaintext_frames_close_only_their_connection() {
    let mut net = Net::new(&["alice", "bob"]);
    let link = net.call(0, 1, 30);
    net.phones[1].accept(net.now, PORTS_B).unwrap();
    net.settle();
    net.take(0);
    net.take(1);
    let (b, bc) = link.ends[1];
    let now = net.now;
    // Another connection to bob sends garbage in a HANDSHAKE INIT and a
    // plaintext INVITE: each is closed, the call goes on.
    for (conn, msg) in [
        (ConnId(500), Message::HandshakeInit(vec![0; 128])),
        (ConnId(501), Message::Sealed(vec![0; 40])),
        (
            ConnId(502),
            Message::Invite(Invite {
                call_id: CallId(1),
                caller: name("eve"),
                ports: PORTS_A,
                media: media(640, 480, 30),
            }),
        ),
    ] {
        net.phones[b].incoming(now, conn, [9; 32]);
        net.phones[b].received(now, conn, msg);
        let outs: Vec<_> = std::iter::from_fn(|| net.phones[b].poll_output()).collect();
        assert!(outs.contains(&Output::Close { conn }), "{outs:?}");
        assert!(matches!(&sent(&outs)[..], [Message::Error(_)]), "{outs:?}");
        assert!(!net.phones[b].is_pending(conn));
    }
    assert_eq!(net.phase(1), Some(Phase::Established));
    // An altered sealed message on the call's own connection ends the call:
    // its channel can no longer be trusted.
    let Message::Sealed(mut bytes) =
        net.phones[0].seal_for_test(link.ends[0].1, &Message::Keepalive(CallId(30)))
    else {
        panic!()
    };
    bytes[3] ^= 1;
    net.phones[b].received(now, bc, Message::Sealed(bytes));
    net.settle();
    assert_eq!(net.ended(1), [EndReason::ConnectionLost]);
}

#[test]
fn an_older_peer_is_told_apart_from_a_lost_one() {
    let (mut alice, _bob, now, _) = dial_by_hand(key("bob"));
    alice.malformed(now, ConnId(1), WireError::UnsupportedVersion(1));
    let outs: Vec<_> = std::iter::from_fn(|| alice.poll_output()).collect();
    let reason = outs.iter().find_map(|o| match o {
        Output::Event(Event::Ended { reason, .. }) => Some(reason.clone()),
        _ => None,
    });
    assert_eq!(reason, Some(EndReason::PeerOutdated(1)));
    assert!(reason.unwrap().to_string().contains("upgrade"));
}

#[test]
fn not_allowed_is_a_reason_the_caller_sees() {
    let mut net = Net::new(&["alice", "bob"]);
    net.call(0, 1, 31);
    net.phones[1]
        .reject_because(net.now, RejectReason::NotAllowed)
        .unwrap();
    net.settle();
    assert_eq!(
        net.ended(0),
        [EndReason::Rejected(RejectReason::NotAllowed)]
    );
}
