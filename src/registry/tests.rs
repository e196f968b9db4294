//! Every registry rule, driven with injected time: no sockets, no sleeping.

use super::*;
use crate::identity::Identity;
use crate::wire::Register;

const A: ConnId = ConnId(1);
const B: ConnId = ConnId(2);
const C: ConnId = ConnId(3);

struct Bench {
    reg: Registry,
    now: Instant,
}

fn name(s: &str) -> Name {
    Name::new(s).unwrap()
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The identity made from seed `seed` (every byte).
fn ident(seed: u8) -> Identity {
    Identity::from_seed(&[seed; 32])
}

/// The owner of `n` in tests that use one key per name: its seed is the
/// name's first byte, so alice and Alice differ, alice and alicia share.
fn owner(n: &str) -> Identity {
    ident(n.as_bytes()[0])
}

/// The nonce the bench hands the registry for `conn`.
fn nonce_of(conn: ConnId) -> Nonce {
    let mut n = [0u8; 32];
    n[..8].copy_from_slice(&conn.0.to_be_bytes());
    n
}

impl Bench {
    fn new() -> Self {
        Self::with(Config::default())
    }
    fn with(config: Config) -> Self {
        Bench {
            reg: Registry::new(config),
            now: Instant::now(),
        }
    }
    fn drain(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.reg.poll_output()).collect()
    }
    fn open(&mut self, conn: ConnId, from: &str) -> Vec<Output> {
        self.reg.handle_input(
            self.now,
            Input::Opened {
                conn,
                from: sa(from),
                nonce: nonce_of(conn),
            },
        );
        self.drain()
    }
    /// A REGISTER of `n` at `addr` by [`owner`]`(n)`, signed for `conn`.
    fn reg(&self, conn: ConnId, n: &str, addr: &str) -> Message {
        self.reg_as(conn, &owner(n), n, addr)
    }
    /// A REGISTER of `n` at `addr` by `id`, signed for `conn`.
    fn reg_as(&self, conn: ConnId, id: &Identity, n: &str, addr: &str) -> Message {
        Message::Register(Register::signed(id, name(n), sa(addr), &nonce_of(conn)))
    }
    fn recv(&mut self, conn: ConnId, msg: Message) -> Vec<Output> {
        self.reg
            .handle_input(self.now, Input::Received { conn, msg });
        self.drain()
    }
    /// Jumps time forward, running every timer on the way.
    fn advance(&mut self, d: Duration) -> Vec<Output> {
        let end = self.now + d;
        let mut out = Vec::new();
        while let Some(t) = self.reg.next_timeout().filter(|t| *t <= end) {
            self.now = t.max(self.now);
            self.reg.handle_timeout(self.now);
            out.extend(self.drain());
        }
        self.now = end;
        out
    }
    /// `conn` opens from `from` and registers `n` at `addr` successfully.
    fn registered(&mut self, conn: ConnId, from: &str, n: &str, addr: &str) {
        self.open(conn, from);
        let out = self.recv(conn, self.reg(conn, n, addr));
        assert!(
            matches!(
                &out[0],
                Output::Send {
                    msg: Message::Registered(_),
                    ..
                }
            ),
            "{out:?}"
        );
    }
}

fn sent(out: &[Output], to: ConnId) -> Vec<Message> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send { conn, msg } if *conn == to => Some(msg.clone()),
            _ => None,
        })
        .collect()
}

fn closed(out: &[Output], who: ConnId) -> bool {
    out.iter()
        .any(|o| matches!(o, Output::Close { conn } if *conn == who))
}

fn events(out: &[Output]) -> Vec<Event> {
    out.iter()
        .filter_map(|o| match o {
            Output::Event(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn register_then_lookup_hit_and_miss() {
    let mut b = Bench::new();
    b.open(A, "127.0.0.1:50000");
    let out = b.recv(A, b.reg(A, "alice", "127.0.0.1:4701"));
    assert_eq!(
        sent(&out, A),
        vec![Message::Registered(Registered {
            name: name("alice"),
            addr: sa("127.0.0.1:4701"),
            observed: sa("127.0.0.1:50000"),
        })]
    );
    assert!(matches!(
        &events(&out)[..],
        [Event::Registered {
            handed_over: false,
            ..
        }]
    ));
    b.advance(Duration::from_secs(5));
    b.open(B, "127.0.0.2:50001");
    let out = b.recv(B, Message::Lookup(name("alice")));
    assert_eq!(
        sent(&out, B),
        vec![Message::Found(Entry {
            name: name("alice"),
            key: owner("alice").public(),
            addr: sa("127.0.0.1:4701"),
            observed: sa("127.0.0.1:50000"),
            age_secs: 5,
        })]
    );
    let out = b.recv(B, Message::Lookup(name("bob")));
    assert_eq!(sent(&out, B), vec![Message::NotFound(name("bob"))]);
}

#[test]
fn empty_ip_records_the_observed_address() {
    let mut b = Bench::new();
    b.open(A, "127.0.0.9:40000");
    let out = b.recv(A, b.reg(A, "pi", "0.0.0.0:4701"));
    assert!(matches!(
        &sent(&out, A)[..],
        [Message::Registered(r)] if r.addr == sa("127.0.0.9:4701") && r.observed == sa("127.0.0.9:40000")
    ));
}

#[test]
fn same_name_same_endpoint_same_connection_is_already_yours() {
    let mut b = Bench::new();
    b.registered(A, "127.0.0.1:1", "alice", "127.0.0.1:4701");
    let out = b.recv(A, b.reg(A, "alice", "127.0.0.1:4701"));
    assert_eq!(
        sent(&out, A),
        vec![Message::AlreadyRegistered(AlreadyRegistered {
            name: name("alice"),
            status: HoldStatus::Yours,
            probe_ms: 0,
        })]
    );
    assert_eq!(b.reg.len(), 1);
}

#[test]
fn same_name_other_endpoint_is_name_taken() {
    let mut b = Bench::new();
    b.registered(A, "127.0.0.1:1", "alice", "127.0.0.1:4701");
    b.open(B, "127.0.0.2:2");
    let out = b.recv(B, b.reg_as(B, &ident(0x66), "alice", "127.0.0.2:4701"));
    assert_eq!(sent(&out, B), vec![Message::NameTaken(name("alice"))]);
    assert!(
        matches!(&events(&out)[..], [Event::NameTaken { holder, owner: key, .. }] if *holder == Some(sa("127.0.0.1:4701")) && *key == owner("alice").public())
    );
    assert!(!closed(&out, B));
}

#[test]
fn a_look_alike_of_a_registered_name_is_refused_with_its_own_reason() {
    let mut b = Bench::new();
    b.registered(A, "127.0.0.1:1", "alice", "127.0.0.1:4701");
    b.open(B, "127.0.0.2:2");
    // Case, a trailing-dot spelling is no name at all (the wire refuses it),
    // a Cyrillic а, a capital I for l, fullwidth letters.
    for look_alike in ["Alice", "аlice", "AIice", "ＡＬＩＣＥ"] {
        let out = b.recv(B, b.reg(B, look_alike, "127.0.0.2:4701"));
        assert_eq!(
            sent(&out, B),
            vec![Message::NameResembles {
                asked: name(look_alike),
                held: name("alice"),
            }],
            "{look_alike}"
        );
        assert!(
            matches!(&events(&out)[..], [Event::NameResembles { held, .. }] if *held == name("alice"))
        );
        assert!(!closed(&out, B));
    }
    // The same spelling is still NAME TAKEN, and an unrelated name registers.
    let out = b.recv(B, b.reg_as(B, &ident(0x66), "alice", "127.0.0.2:4701"));
    assert_eq!(sent(&out, B), vec![Message::NameTaken(name("alice"))]);
    let out = b.recv(B, b.reg(B, "alicia", "127.0.0.2:4701"));
    assert!(matches!(&sent(&out, B)[..], [Message::Registered(_)]));
}

#[test]
fn a_departed_name_keeps_its_look_alikes_for_its_key_and_lookup_finds_by_look() {
    let mut b = Bench::new();
    b.registered(A, "127.0.0.1:1", "alice", "127.0.0.1:4701");
    b.open(C, "127.0.0.3:3");
    // LOOKUP of a look-alike finds the registered name, spelled as registered.
    let out = b.recv(C, Message::Lookup(name("ALICE")));
    assert!(
        matches!(&sent(&out, C)[..], [Message::Found(e)] if e.name == name("alice")),
        "{out:?}"
    );
    b.recv(A, Message::Unregister);
    // Gone from the table, still bound: another key's look-alike is refused.
    b.open(B, "127.0.0.2:2");
    let out = b.recv(B, b.reg(B, "Alice", "127.0.0.2:4701"));
    assert!(
        matches!(&sent(&out, B)[..], [Message::NameResembles { held, .. }] if *held == name("alice")),
        "{out:?}"
    );
    // The owner's key may respell its name: the new spelling replaces the old.
    let out = b.recv(B, b.reg_as(B, &owner("alice"), "Alice", "127.0.0.2:4701"));
    assert!(
        matches!(&sent(&out, B)[..], [Message::Registered(_)]),
        "{out:?}"
    );
    assert_eq!(b.reg.owner(&name("alice")), None);
    let out = b.recv(C, Message::Lookup(name("alice")));
    assert!(
        matches!(&sent(&out, C)[..], [Message::Found(e)] if e.name == name("Alice")),
        "{out:?}"
    );
}

#[test]
fn other_name_same_endpoint_is_endpoint_taken() {
    let mut b = Bench::new();
    b.registered(A, "127.0.0.1:1", "alice", "127.0.0.1:4701");
    b.open(B, "127.0.0.1:2");
    let out = b.recv(B, b.reg(B, "bob", "127.0.0.1:4701"));
    assert_eq!(
        sent(&out, B),
        vec![Message::EndpointTaken(sa("127.0.0.1:4701"))]
    );
    // An empty IP resolves to the observed one, which collides the same way.
    let out = b.recv(B, b.reg(B, "bob", "0.0.0.0:4701"));
    assert_eq!(
        sent(&out, B),
        vec![Message::EndpointTaken(sa("127.0.0.1:4701"))]
    );
}

#[test]
fn a_v4_mapped_address_is_the_ipv4_endpoint() {
    let mut b = Bench::new();
    b.registered(A, "127.0.0.1:1", "victim", "127.0.4.1:4701");
    // The same host spelled as IPv6 from a dual-stack socket.
    b.open(B, "[::ffff:127.0.0.1]:2");
    let out = b.recv(B, b.reg(B, "mallory", "[::ffff:127.0.4.1]:4701"));
    assert_eq!(
        sent(&out, B),
        vec![Message::EndpointTaken(sa("127.0.4.1:4701"))]
    );
    // And a mapped address that is free registers in its IPv4 form.
    let out = b.recv(B, b.reg(B, "mallory", "[::ffff:127.0.4.2]:4701"));
    assert!(
        sent(&out, B)
            .iter()
            .any(|m| matches!(m, Message::Registered(r) if r.addr == sa("127.0.4.2:4701"))),
        "{out:?}"
    );
}

#[test]
fn a_connection_holds_one_registration() {
    let mut b = Bench::new();
    b.registered(A, "127.0.0.1:1", "alice", "127.0.0.1:4701");
    let out = b.recv(A, b.reg(A, "bob", "127.0.0.1:4702"));
    assert!(matches!(
        &sent(&out, A)[..],
        [Message::Error(e)] if e.code == ErrorCode::AlreadyHolds
    ));
    assert_eq!(b.reg.len(), 1);
}

#[test]
fn port_zero_is_refused() {
    let mut b = Bench::new();
    b.open(A, "127.0.0.1:1");
    let out = b.recv(A, b.reg(A, "alice", "127.0.0.1:0"));
    assert!(matches!(&sent(&out, A)[..], [Message::Error(e)] if e.code == ErrorCode::BadAddress));
    assert!(b.reg.is_empty());
}

#[test]
fn unregister_says_goodbye_closes_and_frees_name_and_endpoint() {
    let mut b = Bench::new();
    b.registered(A, "127.0.0.1:1", "alice", "127.0.0.1:4701");
    let out = b.recv(A, Message::Unregister);
    assert_eq!(
        out,
        vec![
            Output::Send {
                conn: A,
                msg: Message::Goodbye(GoodbyeReason::Unregistered)
            },
            Output::Close { conn: A },
            Output::Event(Event::Departed {
                name: name("alice"),
                addr: sa("127.0.0.1:4701"),
                reason: Departure::Unregistered
            }),
        ]
    );
    assert!(b.reg.is_empty());
    b.registered(B, "127.0.0.1:2", "bob", "127.0.0.1:4701");
    b.registered(C, "127.0.0.1:3", "alice", "127.0.0.1:4709");
}

#[test]
fn only_the_holding_connection_can_unregister() {
    let mut b = Bench::new();
    b.registered(A, "127.0.0.1:1", "alice", "127.0.0.1:4701");
    b.open(B, "127.0.0.1:2");
    let out = b.recv(B, Message::Unregister);
    assert!(closed(&out, B));
    assert!(events(&out).is_empty());
    assert_eq!(b.reg.len(), 1);
}

#[test]
fn closed_connection_departs_as_connection_lost() {
    let mut b = Bench::new();
    b.registered(A, "127.0.0.1:1", "alice", "127.0.0.1:4701");
    b.reg.handle_input(b.now, Input::Closed { conn: A });
    let out = b.drain();
    assert!(matches!(
        &events(&out)[..],
        [Event::Departed {
            reason: Departure::ConnectionLost,
            ..
        }]
    ));
    assert!(!closed(&out, A), "already closed by the other side");
}

#[test]
fn silent_registration_expires_and_pings_keep_it_alive() {
    let mut b = Bench::new();
    b.registered(A, "127.0.0.1:1", "alice", "127.0.0.1:4701");
    b.registered(B, "127.0.0.1:2", "bob", "127.0.0.1:4702");
    // A pings every 10 s for two minutes; B stays silent.
    let mut expired_at = None;
    for step in 1..=12 {
        let out = b.advance(Duration::from_secs(10));
        let out2 = b.recv(A, Message::Ping(step));
        assert_eq!(sent(&out2, A), vec![Message::Pong(step)]);
        for e in events(&out) {
            match e {
                Event::Departed {
                    name: n,
                    reason: Departure::TimedOut,
                    ..
                } if n == name("bob") => {
                    expired_at = Some(step);
                    assert_eq!(
                        sent(&out, B),
                        vec![Message::Goodbye(GoodbyeReason::SilenceTimeout)]
                    );
                    assert!(closed(&out, B));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(
        expired_at,
        Some(3),
        "bob expires 30 s after his last message"
    );
    assert_eq!(
        b.reg.rows().map(|r| r.name.to_string()).collect::<Vec<_>>(),
        ["alice"]
    );
}

#[test]
fn idle_unregistered_connection_is_closed() {
    let mut b = Bench::new();
    b.open(A, "127.0.0.1:1");
    let out = b.advance(DEFAULT_IDLE_TIMEOUT - Duration::from_millis(1));
    assert!(out.is_empty());
    let out = b.advance(Duration::from_millis(1));
    assert_eq!(
        sent(&out, A),
        vec![Message::Goodbye(GoodbyeReason::IdleTimeout)]
    );
    assert!(closed(&out, A));
    assert!(events(&out).is_empty());
    assert_eq!(b.reg.connection_count(), 0);
}

#[test]
fn short_silence_timeout_applies_from_registration() {
    let mut b = Bench::with(Config {
        silence_timeout: Duration::from_secs(1),
        ..Config::default()
    });
    b.registered(A, "127.0.0.1:1", "alice", "127.0.0.1:4701");
    let out = b.advance(Duration::from_secs(1));
    assert!(matches!(
        &events(&out)[..],
        [Event::Departed {
            reason: Departure::TimedOut,
            ..
        }]
    ));
}

#[test]
fn list_pages_cover_the_table_once_in_order() {
    let mut b = Bench::new();
    let n = 600;
    for i in 0..n {
        let conn = ConnId(100 + i);
        let nm = format!("peer-with-a-long-name-{i:05}");
        b.registered(
            conn,
            "127.0.0.1:1",
            &nm,
            &format!("127.0.{}.{}:4701", i / 250, i % 250 + 1),
        );
    }
    b.open(A, "127.0.0.1:2");
    let mut after = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let out = b.recv(
            A,
            Message::List {
                after: after.clone(),
            },
        );
        let [Message::ListReply(page)] = &sent(&out, A)[..] else {
            panic!("{out:?}")
        };
        pages += 1;
        assert!(Message::ListReply(page.clone()).fits());
        seen.extend(page.entries.iter().map(|e| e.name.to_string()));
        if !page.more {
            break;
        }
        after = page.entries.last().map(|e| e.name.clone());
    }
    assert!(pages > 1, "the table should need several pages");
    let mut expected: Vec<String> = (0..n)
        .map(|i| format!("peer-with-a-long-name-{i:05}"))
        .collect();
    expected.sort();
    assert_eq!(seen, expected);
}

#[test]
fn connections_beyond_the_limit_are_refused() {
    let mut b = Bench::with(Config {
        max_connections: 2,
        ..Config::default()
    });
    b.open(A, "127.0.0.1:1");
    b.open(B, "127.0.0.1:2");
    let out = b.open(C, "127.0.0.1:3");
    assert!(
        matches!(&sent(&out, C)[..], [Message::Error(e)] if e.code == ErrorCode::TooManyConnections)
    );
    assert!(closed(&out, C));
    assert_eq!(b.reg.connection_count(), 2);
}

#[test]
fn malformed_input_closes_only_that_connection() {
    let mut b = Bench::new();
    b.registered(A, "127.0.0.1:1", "alice", "127.0.0.1:4701");
    b.registered(B, "127.0.0.1:2", "bob", "127.0.0.1:4702");
    b.reg.handle_input(
        b.now,
        Input::Malformed {
            conn: B,
            error: WireError::BadMagic,
        },
    );
    let out = b.drain();
    assert!(matches!(&sent(&out, B)[..], [Message::Error(e)] if e.code == ErrorCode::BadMagic));
    assert!(closed(&out, B));
    assert!(matches!(
        &events(&out)[..],
        [Event::Departed {
            reason: Departure::ProtocolError,
            ..
        }]
    ));
    let out = b.recv(A, Message::Lookup(name("alice")));
    assert!(matches!(&sent(&out, A)[..], [Message::Found(_)]));
}

#[test]
fn unknown_and_misdirected_messages_get_an_error_and_the_connection_stays() {
    let mut b = Bench::new();
    b.open(A, "127.0.0.1:1");
    let out = b.recv(A, Message::Unknown(0x55));
    assert!(matches!(&sent(&out, A)[..], [Message::Error(e)] if e.code == ErrorCode::UnknownType));
    let out = b.recv(A, Message::NotFound(name("x")));
    assert!(
        matches!(&sent(&out, A)[..], [Message::Error(e)] if e.code == ErrorCode::UnexpectedMessage)
    );
    assert!(!closed(&out, A));
    assert_eq!(b.reg.connection_count(), 1);
}

#[test]
fn shutdown_says_goodbye_to_everyone() {
    let mut b = Bench::new();
    b.registered(A, "127.0.0.1:1", "alice", "127.0.0.1:4701");
    b.open(B, "127.0.0.1:2");
    b.reg.shutdown(b.now);
    let out = b.drain();
    for c in [A, B] {
        assert_eq!(
            sent(&out, c),
            vec![Message::Goodbye(GoodbyeReason::ShuttingDown)]
        );
        assert!(closed(&out, c));
    }
    assert!(matches!(
        &events(&out)[..],
        [Event::Departed {
            reason: Departure::ShuttingDown,
            ..
        }]
    ));
    assert_eq!(b.reg.next_timeout(), None);
}

#[test]
fn timers_stay_bounded_under_steady_traffic() {
    let mut b = Bench::new();
    for i in 0..50 {
        b.registered(
            ConnId(10 + i),
            "127.0.0.1:1",
            &format!("p{i}"),
            &format!("127.0.0.1:{}", 5000 + i),
        );
    }
    for round in 0..200 {
        for i in 0..50 {
            b.recv(ConnId(10 + i), Message::Ping(round));
        }
        b.advance(Duration::from_secs(7));
        assert!(
            b.reg.timers.len() <= 50,
            "timers grew to {}",
            b.reg.timers.len()
        );
    }
    assert_eq!(b.reg.len(), 50);
}

#[test]
fn every_connection_is_challenged_first_with_its_own_nonce() {
    let mut b = Bench::new();
    let out = b.open(A, "127.0.0.1:1");
    assert_eq!(sent(&out, A), vec![Message::Challenge(nonce_of(A))]);
    let out = b.open(B, "127.0.0.1:2");
    assert_eq!(sent(&out, B), vec![Message::Challenge(nonce_of(B))]);
}

#[test]
fn a_register_signed_by_another_key_or_for_another_connection_is_refused() {
    let mut b = Bench::new();
    b.open(A, "127.0.0.1:1");
    // Alice's key in the field, signed by mallory: a forged claim.
    let Message::Register(mut forged) = b.reg_as(A, &ident(0x66), "alice", "127.0.0.1:4701") else {
        unreachable!()
    };
    forged.key = owner("alice").public();
    let out = b.recv(A, Message::Register(forged));
    assert!(
        matches!(&sent(&out, A)[..], [Message::Error(e)] if e.code == ErrorCode::UnexpectedMessage && e.text == BAD_SIGNATURE_TEXT),
        "{out:?}"
    );
    assert!(matches!(&events(&out)[..], [Event::BadSignature { .. }]));
    assert!(!closed(&out, A));
    // Alice's genuine REGISTER, recorded on connection A, replayed on B.
    b.open(B, "127.0.0.2:2");
    let replayed = b.reg(A, "alice", "127.0.0.1:4701");
    let out = b.recv(B, replayed.clone());
    assert!(
        matches!(&sent(&out, B)[..], [Message::Error(e)] if e.text == BAD_SIGNATURE_TEXT),
        "{out:?}"
    );
    assert!(b.reg.is_empty());
    assert_eq!(b.reg.owner(&name("alice")), None);
    // On the connection it was made for, it is taken.
    let out = b.recv(A, replayed);
    assert!(matches!(&sent(&out, A)[..], [Message::Registered(_)]));
}

#[test]
fn another_key_cannot_take_a_live_owners_name_even_at_its_endpoint() {
    let mut b = Bench::new();
    b.registered(A, "127.0.0.1:1", "pi", "127.0.0.1:4701");
    b.open(B, "127.0.0.1:2");
    // The old rule handed a name to whoever claimed the same endpoint once the
    // holder missed a probe; now the key decides, at once.
    let out = b.recv(B, b.reg_as(B, &ident(0x66), "pi", "127.0.0.1:4701"));
    assert_eq!(sent(&out, B), vec![Message::NameTaken(name("pi"))]);
    assert!(sent(&out, A).is_empty(), "the owner is not even probed");
    let out = b.advance(Duration::from_secs(5));
    assert!(!closed(&out, A));
    assert_eq!(
        b.reg.rows().next().map(|r| r.key),
        Some(owner("pi").public())
    );
}

#[test]
fn a_frozen_owner_loses_its_registration_but_not_its_name() {
    let mut b = Bench::new();
    b.registered(A, "127.0.0.1:1", "pi", "127.0.0.1:4701");
    // Frozen: nothing from A past the silence timeout.
    let out = b.advance(DEFAULT_SILENCE_TIMEOUT + Duration::from_secs(1));
    assert!(closed(&out, A));
    assert!(b.reg.is_empty());
    b.open(B, "127.0.0.2:2");
    let out = b.recv(B, b.reg_as(B, &ident(0x66), "pi", "127.0.0.2:4701"));
    assert_eq!(sent(&out, B), vec![Message::NameTaken(name("pi"))]);
    assert!(
        matches!(&events(&out)[..], [Event::NameTaken { holder: None, .. }]),
        "{out:?}"
    );
    let out = b.recv(B, b.reg_as(B, &ident(0x66), "PI", "127.0.0.2:4701"));
    assert!(matches!(
        &sent(&out, B)[..],
        [Message::NameResembles { .. }]
    ));
    // Thawed, the owner registers again on a new connection at once.
    b.registered(C, "127.0.0.1:3", "pi", "127.0.0.1:4701");
}

#[test]
fn the_owner_reclaims_at_once_from_its_own_stale_connection() {
    let mut b = Bench::new();
    b.registered(A, "127.0.0.1:1", "pi", "127.0.0.1:4701");
    // The link broke without a FIN; the board reconnects from a new address.
    b.open(B, "127.0.0.9:2");
    let out = b.recv(B, b.reg(B, "pi", "127.0.0.9:4701"));
    assert_eq!(
        sent(&out, A),
        vec![Message::Goodbye(GoodbyeReason::Replaced)]
    );
    assert!(closed(&out, A));
    assert!(
        matches!(&sent(&out, B)[..], [Message::Registered(r)] if r.addr == sa("127.0.0.9:4701")),
        "{out:?}"
    );
    let ev = events(&out);
    assert!(
        matches!(
            &ev[..],
            [
                Event::Departed {
                    reason: Departure::Replaced,
                    ..
                },
                Event::Registered {
                    handed_over: true,
                    ..
                }
            ]
        ),
        "{ev:?}"
    );
    assert_eq!(b.reg.len(), 1);
    // The old endpoint is free again.
    b.registered(C, "127.0.0.1:3", "other", "127.0.0.1:4701");
}

#[test]
fn a_renamed_owner_replaces_its_old_name_at_its_endpoint() {
    let mut b = Bench::new();
    let id = ident(0x42);
    b.open(A, "127.0.0.1:1");
    b.recv(A, b.reg_as(A, &id, "kitchen", "127.0.0.1:4701"));
    b.open(B, "127.0.0.1:2");
    let out = b.recv(B, b.reg_as(B, &id, "hall", "127.0.0.1:4701"));
    assert!(closed(&out, A));
    assert!(matches!(&sent(&out, B)[..], [Message::Registered(_)]));
    // Another key at that endpoint is still refused.
    b.open(C, "127.0.0.1:3");
    let out = b.recv(C, b.reg_as(C, &ident(0x43), "porch", "127.0.0.1:4701"));
    assert!(matches!(&sent(&out, C)[..], [Message::EndpointTaken(_)]));
}

#[test]
fn after_a_restart_owners_get_their_names_back_and_a_newcomer_is_refused() {
    let mut b = Bench::new();
    b.reg.set_wall_clock(b.now, 1_800_000_000);
    b.registered(A, "127.0.0.1:1", "alice", "127.0.0.1:4701");
    b.registered(B, "127.0.0.1:2", "bob", "127.0.0.1:4702");
    b.advance(Duration::from_secs(20));
    let saved = b.reg.bindings(b.now);
    assert_eq!(saved.len(), 2);
    assert!(saved.iter().all(|s| s.last_seen == 1_800_000_020));

    // A new process: empty table, same bindings.
    let mut r = Bench::new();
    r.now = b.now + Duration::from_secs(3);
    r.reg.set_wall_clock(r.now, 1_800_000_063);
    assert_eq!(r.reg.restore(r.now, saved), 2);
    assert!(!r.reg.take_bindings_changed());
    // A newcomer races the owners and loses.
    r.open(C, "127.0.0.3:3");
    let out = r.recv(C, r.reg_as(C, &ident(0x66), "alice", "127.0.0.3:4701"));
    assert_eq!(sent(&out, C), vec![Message::NameTaken(name("alice"))]);
    // The owners register at once.
    r.registered(A, "127.0.0.1:1", "alice", "127.0.0.1:4701");
    r.registered(B, "127.0.0.1:2", "bob", "127.0.0.1:4702");
}

#[test]
fn an_expired_lease_lets_another_key_take_the_name() {
    let lease = Duration::from_secs(3600);
    let mut b = Bench::with(Config {
        name_lease: lease,
        ..Config::default()
    });
    b.reg.set_wall_clock(b.now, 1_800_000_000);
    b.registered(A, "127.0.0.1:1", "pi", "127.0.0.1:4701");
    b.recv(A, Message::Unregister);
    let squatter = ident(0x66);
    b.advance(lease - Duration::from_secs(1));
    b.open(B, "127.0.0.2:2");
    let out = b.recv(B, b.reg_as(B, &squatter, "pi", "127.0.0.2:4701"));
    assert_eq!(sent(&out, B), vec![Message::NameTaken(name("pi"))]);
    b.advance(Duration::from_secs(1));
    let out = b.recv(B, b.reg_as(B, &squatter, "pi", "127.0.0.2:4701"));
    assert!(
        matches!(&sent(&out, B)[..], [Message::Registered(_)]),
        "{out:?}"
    );
    assert!(events(&out).contains(&Event::LeaseExpired {
        name: name("pi"),
        owner: owner("pi").public()
    }));
    assert_eq!(b.reg.owner(&name("pi")), Some(squatter.public()));
    // And now the old owner is the one refused.
    b.open(C, "127.0.0.1:3");
    let out = b.recv(C, b.reg(C, "pi", "127.0.0.1:4701"));
    assert_eq!(sent(&out, C), vec![Message::NameTaken(name("pi"))]);
}

#[test]
fn a_connected_owner_never_expires_and_saves_as_seen_now() {
    let lease = Duration::from_secs(60);
    let mut b = Bench::with(Config {
        name_lease: lease,
        ..Config::default()
    });
    b.reg.set_wall_clock(b.now, 1_000);
    b.registered(A, "127.0.0.1:1", "pi", "127.0.0.1:4701");
    for i in 0..20 {
        b.recv(A, Message::Ping(i));
        b.advance(Duration::from_secs(10));
    }
    assert_eq!(b.reg.bindings(b.now)[0].last_seen, 1_200);
    b.open(B, "127.0.0.2:2");
    let out = b.recv(B, b.reg_as(B, &ident(0x66), "pi", "127.0.0.2:4701"));
    assert_eq!(sent(&out, B), vec![Message::NameTaken(name("pi"))]);
    // Once it leaves, the lease counts from its departure.
    b.recv(A, Message::Unregister);
    b.advance(lease - Duration::from_secs(1));
    b.open(C, "127.0.0.2:3");
    let out = b.recv(C, b.reg_as(C, &ident(0x66), "pi", "127.0.0.2:4701"));
    assert_eq!(sent(&out, C), vec![Message::NameTaken(name("pi"))]);
}

#[test]
fn bindings_changed_is_raised_by_binding_and_departure_only() {
    let mut b = Bench::new();
    assert!(!b.reg.take_bindings_changed());
    b.registered(A, "127.0.0.1:1", "pi", "127.0.0.1:4701");
    assert!(b.reg.take_bindings_changed());
    b.recv(A, Message::Ping(1));
    b.open(B, "127.0.0.2:2");
    b.recv(B, Message::Lookup(name("pi")));
    b.recv(B, b.reg_as(B, &ident(0x66), "pi", "127.0.0.2:4701"));
    assert!(!b.reg.take_bindings_changed(), "refusals change nothing");
    b.recv(A, Message::Unregister);
    assert!(b.reg.take_bindings_changed());
}

#[test]
fn bindings_are_bounded_and_expired_ones_make_room() {
    let lease = Duration::from_secs(100);
    let mut b = Bench::with(Config {
        name_lease: lease,
        max_bindings: 3,
        ..Config::default()
    });
    for (i, n) in ["a1", "b1", "c1"].iter().enumerate() {
        let conn = ConnId(10 + i as u64);
        b.registered(conn, "127.0.0.1:1", n, &format!("127.0.0.1:{}", 4701 + i));
        b.recv(conn, Message::Unregister);
    }
    b.open(A, "127.0.0.1:1");
    let out = b.recv(A, b.reg(A, "d1", "127.0.0.1:4800"));
    assert!(
        matches!(&sent(&out, A)[..], [Message::Error(e)] if e.text.contains("at most 3 names")),
        "{out:?}"
    );
    assert_eq!(b.reg.bindings(b.now).len(), 3);
    b.advance(lease);
    b.open(B, "127.0.0.1:2");
    let out = b.recv(B, b.reg(B, "d1", "127.0.0.1:4800"));
    assert!(matches!(&sent(&out, B)[..], [Message::Registered(_)]));
    assert_eq!(b.reg.bindings(b.now).len(), 1);
}

#[test]
fn restore_leaves_out_expired_and_clashing_bindings() {
    let mut b = Bench::with(Config {
        name_lease: Duration::from_secs(100),
        ..Config::default()
    });
    b.reg.set_wall_clock(b.now, 10_000);
    let bind = |n: &str, seed: u8, last_seen: u64| Binding {
        name: name(n),
        key: ident(seed).public(),
        last_seen,
    };
    let kept = b.reg.restore(
        b.now,
        [
            bind("alice", 1, 9_990),
            bind("ALICE", 2, 9_990), // look-alike of a restored name
            bind("bob", 3, 9_900),   // lease ran out at 10_000
            bind("carol", 4, 9_999),
        ],
    );
    assert_eq!(kept, 2);
    let names: Vec<String> = b
        .reg
        .bindings(b.now)
        .iter()
        .map(|x| x.name.to_string())
        .collect();
    assert_eq!(names, ["alice", "carol"]);
}
