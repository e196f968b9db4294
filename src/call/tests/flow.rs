//! The call flow between phones: answers, refusals, cancels and byes,
//! crossings, timeouts, lost peers, stray and garbled messages, media
//! negotiation and the user's mistakes.

use super::*;

#[test]
fn accepted_call_carries_both_sides_ports_and_stays_up() {
    let mut net = Net::new(&["alice", "bob"]);
    net.call(0, 1, 42);
    assert_eq!(
        net.take(0),
        [
            Event::Calling { peer: name("bob") },
            Event::Ringing { peer: name("bob") }
        ]
    );
    assert!(
        matches!(&net.take(1)[..], [Event::Incoming { peer, key: k, .. }] if *peer == name("alice") && *k == key("alice"))
    );
    net.phones[1].accept(net.now, PORTS_B).unwrap();
    net.settle();
    // Both ends hold the same media secret, from their handshake.
    let secret = match (&net.events[0][..], &net.events[1][..]) {
        ([Event::Established(a)], [Event::Established(b)]) => {
            assert_eq!(a.media_secret, b.media_secret);
            a.media_secret.clone()
        }
        other => panic!("{other:?}"),
    };
    let expect = |role, peer: &str, local, remote| Session {
        call_id: CallId(42),
        role,
        peer: name(peer),
        local_ports: local,
        remote_ports: remote,
        media: media(640, 480, 30),
        peer_key: key(peer),
        media_secret: secret.clone(),
    };
    assert_eq!(
        net.take(0),
        [Event::Established(expect(
            Role::Caller,
            "bob",
            PORTS_A,
            PORTS_B
        ))]
    );
    assert_eq!(
        net.take(1),
        [Event::Established(expect(
            Role::Callee,
            "alice",
            PORTS_B,
            PORTS_A
        ))]
    );
    // An hour of keepalives: nothing ends.
    net.advance(Duration::from_secs(3600));
    assert!(net.take(0).is_empty());
    assert!(net.take(1).is_empty());
    let st = net.phones[0].status(net.now).unwrap();
    assert_eq!(st.duration, Some(Duration::from_secs(3600)));
}

#[test]
fn rejected_call() {
    let mut net = Net::new(&["alice", "bob"]);
    net.call(0, 1, 1);
    net.take(0);
    net.phones[1].reject(net.now).unwrap();
    net.settle();
    assert_eq!(net.ended(0), [EndReason::Rejected(RejectReason::Declined)]);
    assert_eq!(net.ended(1), [EndReason::Declined]);
    assert!(!net.phones[0].is_busy() && !net.phones[1].is_busy());
}

#[test]
fn busy_callee_refuses_a_third_caller_and_keeps_its_call() {
    let mut net = Net::new(&["alice", "bob", "carol"]);
    established(&mut net);
    net.call(2, 1, 77);
    assert_eq!(net.ended(2), [EndReason::Rejected(RejectReason::Busy)]);
    assert_eq!(
        net.take(1),
        [Event::Missed {
            peer: name("carol"),
            reason: RejectReason::Busy,
            media: None
        }]
    );
    net.advance(Duration::from_secs(60));
    assert_eq!(net.phase(0), Some(Phase::Established));
    assert_eq!(net.phase(1), Some(Phase::Established));
}

#[test]
fn cancel_before_the_answer() {
    let mut net = Net::new(&["alice", "bob"]);
    net.call(0, 1, 5);
    net.phones[0].hangup(net.now).unwrap();
    net.settle();
    assert_eq!(net.ended(0), [EndReason::Cancelled]);
    assert_eq!(net.ended(1), [EndReason::PeerCancelled]);
    assert_eq!(
        net.phones[1].accept(net.now, PORTS_B),
        Err(ActionError::NoCall)
    );
}

#[test]
fn cancel_crossing_an_accept_leaves_no_call_up() {
    let mut net = Net::new(&["alice", "bob"]);
    let link = net.call(0, 1, 6);
    net.take(0);
    net.take(1);
    net.hold = true;
    net.phones[0].hangup(net.now).unwrap();
    net.phones[1].accept(net.now, PORTS_B).unwrap();
    net.settle(); // both queued, crossing on the wire
    net.hold = false;
    net.settle();
    assert_eq!(net.ended(0), [EndReason::Cancelled]);
    let b = net.take(1);
    assert!(matches!(b[0], Event::Established(_)));
    assert!(matches!(
        &b[1],
        Event::Ended {
            reason: EndReason::PeerCancelled,
            ..
        }
    ));
    assert!(!net.phones[0].is_busy() && !net.phones[1].is_busy());
    // The callee closed on the CANCEL; the caller's lingering end saw it close.
    assert!(net.closed.contains(&link.ends[1]));
    net.advance(LINGER);
    assert!(net.phones.iter().all(|p| p.next_timeout().is_none()));
}

#[test]
fn bye_from_the_caller_and_from_the_callee() {
    for who in [0, 1] {
        let mut net = Net::new(&["alice", "bob"]);
        established(&mut net);
        net.advance(Duration::from_secs(5));
        net.phones[who].hangup(net.now).unwrap();
        net.settle();
        let them = 1 - who;
        let mine = net.take(who);
        assert!(
            matches!(&mine[..], [Event::Ended { reason: EndReason::HungUp, duration: Some(d), .. }] if *d == Duration::from_secs(5))
        );
        assert_eq!(net.ended(them), [EndReason::PeerHungUp]);
        // The BYE ACK closes the hanging-up side's connection at once.
        assert_eq!(net.closed.len(), 2, "both ends closed");
        assert_eq!(net.phones[who].next_timeout(), None);
    }
}

#[test]
fn bye_crossing_bye() {
    let mut net = Net::new(&["alice", "bob"]);
    established(&mut net);
    net.hold = true;
    net.phones[0].hangup(net.now).unwrap();
    net.phones[1].hangup(net.now).unwrap();
    net.settle();
    net.hold = false;
    net.settle();
    assert_eq!(net.ended(0), [EndReason::HungUp]);
    assert_eq!(net.ended(1), [EndReason::HungUp]);
    net.advance(LINGER);
    assert!(net.phones.iter().all(|p| p.next_timeout().is_none()));
}

#[test]
fn no_answer_times_out_on_both_sides() {
    let mut net = Net::new(&["alice", "bob"]);
    net.call(0, 1, 9);
    net.take(0);
    net.take(1);
    net.advance(DEFAULT_ANSWER_TIMEOUT - Duration::from_millis(1));
    assert!(net.take(0).is_empty());
    net.advance(Duration::from_millis(1));
    assert_eq!(net.ended(0), [EndReason::NoAnswer]);
    assert_eq!(net.ended(1), [EndReason::PeerCancelled]);
}

#[test]
fn callee_stops_alerting_when_the_cancel_is_lost() {
    let mut net = Net::new(&["alice", "bob"]);
    net.call(0, 1, 9);
    net.take(1);
    net.frozen[0] = true; // the caller vanishes without closing
    net.advance(DEFAULT_ANSWER_TIMEOUT + ALERT_MARGIN);
    assert_eq!(net.ended(1), [EndReason::NoAnswer]);
}

#[test]
fn peer_vanishing_mid_call_is_connection_lost() {
    let mut net = Net::new(&["alice", "bob"]);
    established(&mut net);
    net.frozen[1] = true;
    net.advance(DEFAULT_SILENCE_TIMEOUT - Duration::from_millis(1));
    assert!(net.take(0).is_empty());
    net.advance(Duration::from_millis(1));
    assert_eq!(net.ended(0), [EndReason::ConnectionLost]);
}

#[test]
fn closed_connection_mid_call_is_connection_lost() {
    let mut net = Net::new(&["alice", "bob"]);
    let link = net.call(0, 1, 3);
    net.phones[1].accept(net.now, PORTS_B).unwrap();
    net.settle();
    net.take(0);
    let (_, c) = link.ends[0];
    net.phones[0].closed(net.now, c);
    net.settle();
    assert_eq!(net.ended(0), [EndReason::ConnectionLost]);
}

#[test]
fn duplicates_and_out_of_order_messages_do_no_harm() {
    let mut net = Net::new(&["alice", "bob"]);
    let link = net.call(0, 1, 11);
    let (a, ac) = link.ends[0];
    net.take(0);
    let accept = Message::Accept(Accept {
        call_id: CallId(11),
        ports: PORTS_B,
        media: media(320, 240, 15),
    });
    // ACCEPT twice, RINGING after it, a duplicate INVITE to the callee.
    net.inject(a, ac, &accept);
    net.inject(a, ac, &accept);
    net.inject(a, ac, &Message::Ringing(CallId(11)));
    net.settle();
    let ev = net.take(0);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert!(matches!(&ev[0], Event::Established(s) if s.media == media(320, 240, 15)));
    assert_eq!(net.phase(0), Some(Phase::Established));
}

#[test]
fn messages_for_another_call_get_an_error_and_change_nothing() {
    let mut net = Net::new(&["alice", "bob"]);
    let link = net.call(0, 1, 12);
    net.phones[1].accept(net.now, PORTS_B).unwrap();
    net.settle();
    let (a, ac) = link.ends[0];
    for msg in [
        Message::Bye(CallId(999)),
        Message::Cancel(CallId(999)),
        Message::Keepalive(CallId(999)),
    ] {
        net.inject(a, ac, &msg);
        let outs = net.outputs_opened(a, ac);
        assert!(
            matches!(&outs[..], [Output::Send { msg: Message::Error(e), .. }] if e.code == ErrorCode::UnknownCall),
            "{outs:?}"
        );
    }
    assert_eq!(net.phase(0), Some(Phase::Established));
}

#[test]
fn garbage_in_a_call_is_answered_and_ignored() {
    let mut net = Net::new(&["alice", "bob"]);
    let link = net.call(0, 1, 13);
    net.phones[1].accept(net.now, PORTS_B).unwrap();
    net.settle();
    let (b, bc) = link.ends[1];
    for msg in [
        Message::Unknown(0x66),
        Message::Lookup(name("x")),
        Message::Unregister,
    ] {
        net.inject(b, bc, &msg);
        let outs = net.outputs_opened(b, bc);
        assert!(
            matches!(
                &outs[..],
                [Output::Send {
                    msg: Message::Error(_),
                    ..
                }]
            ),
            "{outs:?}"
        );
    }
    assert_eq!(net.phase(1), Some(Phase::Established));
}

#[test]
fn a_connection_that_never_invites_is_closed_and_pending_ones_are_bounded() {
    let mut phone = Phone::new(config("bob"));
    let now = Instant::now();
    for i in 0..(MAX_PENDING_INCOMING as u64 + 3) {
        phone.incoming(now, ConnId(i), [i as u8; 32]);
    }
    let early: Vec<_> = std::iter::from_fn(|| phone.poll_output()).collect();
    assert_eq!(
        early.len(),
        3,
        "connections beyond the bound are closed at once"
    );
    // A plaintext call message (a version-1 style caller) is refused and
    // its connection closed.
    phone.received(now, ConnId(0), Message::Bye(CallId(1)));
    assert!(matches!(
        phone.poll_output(),
        Some(Output::Send { msg: Message::Error(e), .. }) if e.code == ErrorCode::UnexpectedMessage
    ));
    assert_eq!(phone.poll_output(), Some(Output::Close { conn: ConnId(0) }));
    phone.handle_timeout(now + INVITE_WAIT);
    let closed = std::iter::from_fn(|| phone.poll_output())
        .filter(|o| matches!(o, Output::Close { .. }))
        .count();
    assert_eq!(closed, MAX_PENDING_INCOMING - 1);
    assert_eq!(phone.next_timeout(), None);
}

#[test]
fn callee_lowers_the_media_and_the_caller_refuses_a_raise() {
    let mut small = config("bob");
    small.media = media(320, 240, 15);
    let mut net = Net::with(vec![config("alice"), small]);
    net.call(0, 1, 20);
    net.phones[1].accept(net.now, PORTS_B).unwrap();
    net.settle();
    let ev = net.take(0);
    assert!(matches!(ev.last(), Some(Event::Established(s)) if s.media == media(320, 240, 15)));

    let mut net = Net::new(&["alice", "bob"]);
    let link = net.call(0, 1, 21);
    let (a, ac) = link.ends[0];
    net.take(0);
    net.inject(
        a,
        ac,
        &Message::Accept(Accept {
            call_id: CallId(21),
            ports: PORTS_B,
            media: media(1280, 720, 30),
        }),
    );
    net.settle();
    assert!(matches!(
        &net.ended(0)[..],
        [EndReason::BadMedia(MediaError::Raised("video size"))]
    ));
}

#[test]
fn unsupported_offer_is_rejected_with_that_reason() {
    let mut big = config("alice");
    big.media = media(4096, 2160, 30);
    let mut net = Net::with(vec![big, config("bob")]);
    net.call(0, 1, 30);
    assert_eq!(
        net.ended(0),
        [EndReason::Rejected(RejectReason::UnsupportedMedia)]
    );
    assert!(matches!(
        &net.take(1)[..],
        [Event::Missed {
            reason: RejectReason::UnsupportedMedia,
            media: Some(_),
            ..
        }]
    ));
}

#[test]
fn user_mistakes_are_refused() {
    let mut net = Net::new(&["alice", "bob"]);
    let now = net.now;
    assert_eq!(
        net.phones[0].dial(
            now,
            ConnId(1),
            (name("alice"), key("alice")),
            CallId(1),
            PORTS_A,
            [1; 32]
        ),
        Err(ActionError::SelfCall)
    );
    assert_eq!(net.phones[0].hangup(now), Err(ActionError::NoCall));
    assert_eq!(net.phones[0].reject(now), Err(ActionError::NoCall));
    net.call(0, 1, 2);
    assert_eq!(
        net.phones[0].dial(
            now,
            ConnId(9),
            (name("carol"), key("carol")),
            CallId(3),
            PORTS_A,
            [3; 32]
        ),
        Err(ActionError::Busy)
    );
    assert_eq!(net.phones[0].accept(now, PORTS_A), Err(ActionError::NoCall));
}

#[test]
fn unreachable_callee() {
    let mut phone = Phone::new(config("alice"));
    let now = Instant::now();
    phone
        .dial(
            now,
            ConnId(1),
            (name("bob"), key("bob")),
            CallId(1),
            PORTS_A,
            [1; 32],
        )
        .unwrap();
    phone.closed(now, ConnId(1));
    assert!(matches!(
        phone.poll_output(),
        Some(Output::Event(Event::Ended {
            reason: EndReason::Unreachable,
            ..
        }))
    ));
    phone
        .dial(
            now,
            ConnId(2),
            (name("bob"), key("bob")),
            CallId(2),
            PORTS_A,
            [2; 32],
        )
        .unwrap();
    phone.handle_timeout(now + DIAL_TIMEOUT);
    let outs: Vec<_> = std::iter::from_fn(|| phone.poll_output()).collect();
    assert!(outs.contains(&Output::Close { conn: ConnId(2) }));
    assert!(outs.iter().any(|o| matches!(
        o,
        Output::Event(Event::Ended {
            reason: EndReason::Unreachable,
            ..
        })
    )));
}
