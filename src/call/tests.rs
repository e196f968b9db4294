//! Two (or three) phones driven against each other through the wire format,
//! with injected time and an in-memory link that can hold, drop, duplicate and
//! reorder messages: no sockets, no sleeping.

use super::negotiate::{MediaError, OPUS_RTP_RATE};
use super::*;
use crate::wire::{AudioCodec, AudioFormat, VideoCodec, VideoFormat};
use std::collections::VecDeque;

fn name(s: &str) -> Name {
    Name::new(s).unwrap()
}

fn media(w: u16, h: u16, fps: u8) -> MediaDescription {
    MediaDescription {
        video: VideoFormat {
            codec: VideoCodec::Mjpeg,
            width: w,
            height: h,
            fps,
        },
        audio: AudioFormat {
            codec: AudioCodec::Opus,
            sample_rate: OPUS_RTP_RATE,
            channels: 1,
            frame_ms: 20,
        },
    }
}

/// A phone's key pair, from its name.
fn identity(n: &str) -> Identity {
    let mut seed = [0u8; 32];
    for (s, b) in seed.iter_mut().zip(n.bytes()) {
        *s = b;
    }
    Identity::from_seed(&seed)
}

fn key(n: &str) -> PublicKey {
    identity(n).public()
}

fn config(n: &str) -> Config {
    Config {
        name: name(n),
        identity: identity(n),
        media: media(640, 480, 30),
        answer_timeout: DEFAULT_ANSWER_TIMEOUT,
        silence_timeout: DEFAULT_SILENCE_TIMEOUT,
    }
}

const PORTS_A: MediaPorts = MediaPorts {
    audio: 5000,
    video: 5002,
};
const PORTS_B: MediaPorts = MediaPorts {
    audio: 6000,
    video: 6002,
};

/// One connection between two phones: (phone index, its ConnId) at each end.
#[derive(Clone, Copy)]
struct Link {
    ends: [(usize, ConnId); 2],
}

struct Net {
    now: Instant,
    phones: Vec<Phone>,
    events: Vec<Vec<Event>>,
    links: Vec<Link>,
    /// Messages in flight: (to phone, on its conn, message).
    wire: VecDeque<(usize, ConnId, Message)>,
    closed: Vec<(usize, ConnId)>,
    /// Phones whose output is dropped and whose timers do not run (a frozen board).
    frozen: Vec<bool>,
    /// While true, sends are queued but not delivered by `settle`.
    hold: bool,
    next_id: u64,
}

impl Net {
    fn new(names: &[&str]) -> Self {
        Self::with(names.iter().map(|n| config(n)).collect())
    }

    fn with(configs: Vec<Config>) -> Self {
        let n = configs.len();
        Net {
            now: Instant::now(),
            phones: configs.into_iter().map(Phone::new).collect(),
            events: vec![Vec::new(); n],
            links: Vec::new(),
            wire: VecDeque::new(),
            closed: Vec::new(),
            frozen: vec![false; n],
            hold: false,
            next_id: 1,
        }
    }

    /// Phone `from` calls phone `to`: a connection is made and the INVITE goes out.
    fn call(&mut self, from: usize, to: usize, id: u64) -> Link {
        let a = ConnId(self.next_id);
        let b = ConnId(self.next_id + 1000);
        self.next_id += 1;
        let link = Link {
            ends: [(from, a), (to, b)],
        };
        self.links.push(link);
        let peer = self.phones[to].config.name.clone();
        let peer_key = self.phones[to].config.identity.public();
        let now = self.now;
        let ports = if from == 0 { PORTS_A } else { PORTS_B };
        let seed = [id as u8; 32];
        self.phones[from]
            .dial(now, a, (peer, peer_key), CallId(id), ports, seed)
            .expect("dial");
        self.phones[to].incoming(now, b, [!(id as u8); 32]);
        self.phones[from].connected(now, a);
        self.settle();
        link
    }

    fn other_end(&self, phone: usize, conn: ConnId) -> Option<(usize, ConnId)> {
        self.links.iter().find_map(|l| {
            if l.ends[0] == (phone, conn) {
                Some(l.ends[1])
            } else if l.ends[1] == (phone, conn) {
                Some(l.ends[0])
            } else {
                None
            }
        })
    }

    fn pump_outputs(&mut self) -> bool {
        let mut moved = false;
        for i in 0..self.phones.len() {
            while let Some(out) = self.phones[i].poll_output() {
                moved = true;
                if self.frozen[i] {
                    continue;
                }
                match out {
                    Output::Send { conn, msg } => {
                        if let Some((j, c)) = self.other_end(i, conn) {
                            let msg = Message::parse_bytes(&msg.to_bytes()).unwrap();
                            self.wire.push_back((j, c, msg));
                        }
                    }
                    Output::Close { conn } => {
                        self.closed.push((i, conn));
                        // The far end sees the close after what was sent before it.
                        if let Some((j, c)) = self.other_end(i, conn) {
                            self.wire.push_back((j, c, Message::Unknown(0xff)));
                        }
                    }
                    Output::Event(e) => self.events[i].push(e),
                }
            }
        }
        moved
    }

    /// Delivers until nothing moves (unless held).
    fn settle(&mut self) {
        loop {
            let mut moved = self.pump_outputs();
            if !self.hold {
                while let Some((j, c, msg)) = self.wire.pop_front() {
                    moved = true;
                    self.deliver(j, c, msg);
                    self.pump_outputs();
                }
            }
            if !moved {
                break;
            }
        }
    }

    /// Delivers `msg` to phone `to` on `conn` as the other end would send
    /// it: sealed with that end's keys.
    fn inject(&mut self, to: usize, conn: ConnId, msg: &Message) {
        let (j, c) = self.other_end(to, conn).expect("a linked connection");
        let sealed = self.phones[j].seal_for_test(c, msg);
        let now = self.now;
        self.phones[to].received(now, conn, sealed);
    }

    /// Phone `i`'s outputs so far, its messages on `conn` opened as the other end would.
    fn outputs_opened(&mut self, i: usize, conn: ConnId) -> Vec<Output> {
        let (j, c) = self.other_end(i, conn).expect("a linked connection");
        let outs: Vec<_> = std::iter::from_fn(|| self.phones[i].poll_output()).collect();
        outs.into_iter()
            .map(|o| match o {
                Output::Send { conn, msg } => Output::Send {
                    conn,
                    msg: self.phones[j].open_for_test(c, msg),
                },
                o => o,
            })
            .collect()
    }

    fn deliver(&mut self, j: usize, c: ConnId, msg: Message) {
        if self.frozen[j] {
            return;
        }
        let now = self.now;
        // Unknown(0xff) is this harness's marker for "the other side closed".
        if msg == Message::Unknown(0xff) {
            self.phones[j].closed(now, c);
        } else {
            self.phones[j].received(now, c, msg);
        }
    }

    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let next = self
                .phones
                .iter()
                .enumerate()
                .filter(|(i, _)| !self.frozen[*i])
                .filter_map(|(_, p)| p.next_timeout())
                .min()
                .filter(|t| *t <= end);
            let Some(t) = next else { break };
            self.now = t.max(self.now);
            for i in 0..self.phones.len() {
                if !self.frozen[i] {
                    self.phones[i].handle_timeout(self.now);
                }
            }
            self.settle();
        }
        self.now = end;
    }

    fn take(&mut self, i: usize) -> Vec<Event> {
        std::mem::take(&mut self.events[i])
    }

    fn ended(&mut self, i: usize) -> Vec<EndReason> {
        self.take(i)
            .into_iter()
            .filter_map(|e| match e {
                Event::Ended { reason, .. } => Some(reason),
                _ => None,
            })
            .collect()
    }

    fn phase(&self, i: usize) -> Option<Phase> {
        self.phones[i].status(self.now).map(|s| s.phase)
    }
}

fn established(net: &mut Net) {
    net.call(0, 1, 42);
    net.phones[1].accept(net.now, PORTS_B).unwrap();
    net.settle();
    assert_eq!(net.phase(0), Some(Phase::Established));
    assert_eq!(net.phase(1), Some(Phase::Established));
    net.take(0);
    net.take(1);
}

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
