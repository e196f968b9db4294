//! The membership machine driven against the real registry machine, with
//! messages going through the wire format and time jumping from deadline to
//! deadline: no sockets, no sleeping.

use super::*;
use crate::identity::Identity;
use crate::registry::{self, ConnId, Registry};

/// One registry and several peers. A peer whose `link` is up has a
/// connection; `reachable` false makes connects fail; `mute` drops what the
/// peer sends (a frozen board whose TCP connection stays half-open).
struct World {
    now: Instant,
    reg: Registry,
    peers: Vec<Peer>,
    reachable: bool,
    next_conn: u64,
}

struct Peer {
    m: Membership,
    link: Option<ConnId>,
    mute: bool,
    events: Vec<Event>,
    from: SocketAddr,
}

fn name(s: &str) -> Name {
    Name::new(s).unwrap()
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A claim of `n` at `addr` by the identity whose seed is the name's first byte.
fn claim(n: &str, addr: &str) -> Claim {
    Claim {
        identity: Identity::from_seed(&[n.as_bytes()[0]; 32]),
        name: name(n),
        addr: sa(addr),
    }
}

/// A connection's nonce: its id, so two connections never share one.
fn nonce_of(conn: ConnId) -> crate::wire::Nonce {
    let mut n = [0u8; 32];
    n[..8].copy_from_slice(&conn.0.to_be_bytes());
    n
}

fn wire(msg: &Message) -> Message {
    Message::parse_bytes(&msg.to_bytes()).expect("what we emit parses")
}

impl World {
    fn new() -> Self {
        World {
            now: Instant::now(),
            reg: Registry::new(registry::Config::default()),
            peers: Vec::new(),
            reachable: true,
            next_conn: 1,
        }
    }

    fn add(&mut self, n: &str, addr: &str, from: &str) -> usize {
        let i = self.start(Membership::new(claim(n, addr), self.now), from);
        self.settle();
        i
    }

    /// Like [`World::add`], with the identity made from `seed`.
    fn add_as(&mut self, seed: u8, n: &str, addr: &str, from: &str) -> usize {
        let c = Claim {
            identity: Identity::from_seed(&[seed; 32]),
            ..claim(n, addr)
        };
        let i = self.start(Membership::new(c, self.now), from);
        self.settle();
        i
    }

    /// Starts `m` (connecting from `from`) and returns its index.
    fn start(&mut self, mut m: Membership, from: &str) -> usize {
        m.start(self.now);
        self.peers.push(Peer {
            m,
            link: None,
            mute: false,
            events: Vec::new(),
            from: sa(from),
        });
        self.peers.len() - 1
    }

    /// Delivers everything queued on both sides until nothing moves.
    fn settle(&mut self) {
        loop {
            let mut moved = false;
            for i in 0..self.peers.len() {
                while let Some(out) = self.peers[i].m.poll_output() {
                    moved = true;
                    self.peer_output(i, out);
                }
            }
            while let Some(out) = self.reg.poll_output() {
                moved = true;
                self.registry_output(out);
            }
            if !moved {
                break;
            }
        }
    }

    fn peer_output(&mut self, i: usize, out: Output) {
        let now = self.now;
        match out {
            Output::Connect => {
                if let Some(old) = self.peers[i].link.take() {
                    self.reg
                        .handle_input(now, registry::Input::Closed { conn: old });
                }
                if self.reachable {
                    let conn = ConnId(self.next_conn);
                    self.next_conn += 1;
                    let from = self.peers[i].from;
                    let nonce = nonce_of(conn);
                    self.reg
                        .handle_input(now, registry::Input::Opened { conn, from, nonce });
                    self.peers[i].link = Some(conn);
                    self.peers[i].m.connected(now);
                } else {
                    self.peers[i].m.disconnected(now, "connection refused");
                }
            }
            Output::Disconnect => {
                if let Some(conn) = self.peers[i].link.take() {
                    self.reg.handle_input(now, registry::Input::Closed { conn });
                }
            }
            Output::Send(msg) => {
                if let (Some(conn), false) = (self.peers[i].link, self.peers[i].mute) {
                    let msg = wire(&msg);
                    self.reg
                        .handle_input(now, registry::Input::Received { conn, msg });
                }
            }
            Output::Event(e) => self.peers[i].events.push(e),
        }
    }

    fn registry_output(&mut self, out: registry::Output) {
        let now = self.now;
        let peer = |w: &World, c: ConnId| w.peers.iter().position(|p| p.link == Some(c));
        match out {
            registry::Output::Send { conn, msg } => {
                if let Some(i) = peer(self, conn) {
                    if !self.peers[i].mute {
                        self.peers[i].m.received(now, wire(&msg));
                    }
                }
            }
            registry::Output::Close { conn } => {
                if let Some(i) = peer(self, conn) {
                    self.peers[i].link = None;
                    if !self.peers[i].mute {
                        self.peers[i].m.disconnected(now, "closed by the registry");
                    }
                }
            }
            registry::Output::Event(_) => {}
        }
    }

    /// Runs time forward by `d`, firing every deadline of every machine on the way.
    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let next = self
                .peers
                .iter()
                .filter(|p| !p.mute)
                .filter_map(|p| p.m.next_timeout())
                .chain(self.reg.next_timeout())
                .min()
                .filter(|t| *t <= end);
            let Some(t) = next else { break };
            self.now = t.max(self.now);
            for p in self.peers.iter_mut().filter(|p| !p.mute) {
                p.m.handle_timeout(self.now);
            }
            self.reg.handle_timeout(self.now);
            self.settle();
        }
        self.now = end;
    }

    /// Simulates a registry restart: every connection drops and a fresh,
    /// empty registry comes up (unreachable until `reachable` is set again).
    fn kill_registry(&mut self) {
        self.reg = Registry::new(registry::Config::default());
        self.reachable = false;
        for i in 0..self.peers.len() {
            if self.peers[i].link.take().is_some() {
                self.peers[i].m.disconnected(self.now, "connection reset");
            }
        }
        self.settle();
    }

    /// A query machine (`peercall list`/`lookup`), started: connecting.
    fn add_query(&mut self, from: &str) -> usize {
        self.start(Membership::query(self.now), from)
    }

    fn take_events(&mut self, i: usize) -> Vec<Event> {
        std::mem::take(&mut self.peers[i].events)
    }
}

fn registered(events: &[Event]) -> Vec<bool> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Registered { again, .. } => Some(*again),
            _ => None,
        })
        .collect()
}

#[test]
fn registers_on_start_and_records_the_observed_address() {
    let mut w = World::new();
    let a = w.add("alice", "0.0.0.0:4701", "127.0.0.5:40000");
    let ev = w.take_events(a);
    assert!(matches!(
        &ev[..],
        [Event::Registered { registration, again: false }]
            if registration.addr == sa("127.0.0.5:4701") && registration.observed == sa("127.0.0.5:40000")
    ));
    assert_eq!(w.peers[a].m.registration().unwrap().name, name("alice"));
}

#[test]
fn pings_keep_the_registration_for_hours() {
    let mut w = World::new();
    let a = w.add("alice", "127.0.0.1:4701", "127.0.0.1:1");
    w.take_events(a);
    w.advance(Duration::from_secs(3 * 3600));
    assert!(w.take_events(a).is_empty());
    assert_eq!(w.reg.len(), 1);
}

#[test]
fn a_rebooted_peer_takes_its_name_over_from_its_frozen_connection_at_once() {
    let mut w = World::new();
    let a = w.add("pi", "127.0.0.1:4701", "127.0.0.1:1");
    w.peers[a].mute = true; // frozen: TCP open, nothing flows
                            // The same board after a reboot, before the old connection timed out.
    w.advance(Duration::from_secs(5));
    // Same key: the name is handed over at once, no probe wait.
    let b = w.add("pi", "127.0.0.1:4701", "127.0.0.1:2");
    assert_eq!(registered(&w.take_events(b)), [false]);
    assert_eq!(w.reg.rows().next().unwrap().observed, sa("127.0.0.1:2"));
}

#[test]
fn name_taken_is_a_final_refusal() {
    let mut w = World::new();
    w.add("alice", "127.0.0.1:4701", "127.0.0.1:1");
    let b = w.add_as(0x66, "alice", "127.0.0.1:4702", "127.0.0.1:2");
    assert_eq!(w.take_events(b), [Event::Refused(Refusal::NameTaken)]);
    assert!(w.peers[b].m.is_done());
    assert_eq!(w.peers[b].m.next_timeout(), None);
    w.advance(Duration::from_secs(60));
    assert!(w.take_events(b).is_empty());
}

#[test]
fn endpoint_taken_is_a_final_refusal() {
    let mut w = World::new();
    w.add("alice", "127.0.0.1:4701", "127.0.0.1:1");
    let b = w.add("bob", "127.0.0.1:4701", "127.0.0.1:2");
    assert_eq!(
        w.take_events(b),
        [Event::Refused(Refusal::EndpointTaken(sa("127.0.0.1:4701")))]
    );
}

#[test]
fn lookup_hit_miss_and_list() {
    let mut w = World::new();
    let a = w.add("alice", "127.0.0.1:4701", "127.0.0.1:1");
    w.add("bob", "127.0.0.1:4702", "127.0.0.1:2");
    w.take_events(a);
    w.peers[a].m.lookup(name("bob"));
    w.peers[a].m.lookup(name("carol"));
    w.peers[a].m.list();
    w.settle();
    let ev = w.take_events(a);
    assert!(matches!(&ev[0], Event::Found(e) if e.addr == sa("127.0.0.1:4702")));
    assert_eq!(ev[1], Event::NotFound(name("carol")));
    let Event::Listed(all) = &ev[2] else {
        panic!("{ev:?}")
    };
    let names: Vec<_> = all.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["alice", "bob"]);
}

#[test]
fn list_follows_pages_to_the_end() {
    let mut w = World::new();
    let n = 500;
    for i in 0..n {
        let nm = format!("a-rather-long-peer-name-{i:04}");
        w.add(
            &nm,
            &format!("127.0.{}.{}:4701", i / 200, i % 200 + 1),
            "127.0.0.1:1",
        );
    }
    let a = w.add("zz", "127.0.9.9:4701", "127.0.0.1:1");
    w.take_events(a);
    w.peers[a].m.list();
    w.settle();
    let ev = w.take_events(a);
    let [Event::Listed(all)] = &ev[..] else {
        panic!("{ev:?}")
    };
    assert_eq!(all.len(), n + 1);
    assert!(all.windows(2).all(|p| p[0].name < p[1].name));
}

#[test]
fn requests_fail_cleanly_when_not_connected_and_are_bounded() {
    let mut w = World::new();
    w.reachable = false;
    let a = w.add("alice", "127.0.0.1:4701", "127.0.0.1:1");
    w.take_events(a);
    w.peers[a].m.lookup(name("bob"));
    w.settle();
    assert!(matches!(
        &w.take_events(a)[..],
        [Event::RequestFailed {
            request: Request::Lookup(_),
            ..
        }]
    ));
    // Connected, but the registry never answers: the queue stops at its bound.
    w.reachable = true;
    w.advance(Duration::from_secs(1));
    w.peers[a].mute = true;
    for _ in 0..(MAX_PENDING_REQUESTS + 10) {
        w.peers[a].m.lookup(name("bob"));
    }
    w.peers[a].mute = false;
    w.settle();
    let failed = w
        .take_events(a)
        .iter()
        .filter(|e| matches!(e, Event::RequestFailed { .. }))
        .count();
    assert_eq!(failed, 10);
    assert!(w.peers[a].m.pending.len() <= MAX_PENDING_REQUESTS);
}

#[test]
fn registry_restart_is_survived_with_backoff_and_reregistration() {
    let mut w = World::new();
    let a = w.add("alice", "127.0.0.1:4701", "127.0.0.1:1");
    w.take_events(a);
    w.kill_registry();
    // Down for 20 s: attempts back off 250 ms, 500 ms, 1 s, ... capped at 10 s.
    w.advance(Duration::from_secs(20));
    let waits: Vec<Duration> = w
        .take_events(a)
        .iter()
        .filter_map(|e| match e {
            Event::Lost { retry_in, .. } => Some(*retry_in),
            _ => None,
        })
        .collect();
    let ms: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
    assert_eq!(&ms[..7], [250, 500, 1000, 2000, 4000, 8000, 10000]);
    w.reachable = true;
    w.advance(MAX_BACKOFF);
    assert_eq!(registered(&w.take_events(a)), [true]);
    assert_eq!(w.reg.len(), 1);
    // The backoff starts small again after a success.
    w.kill_registry();
    let ev = w.take_events(a);
    assert!(matches!(&ev[..], [Event::Lost { retry_in, .. }] if *retry_in == INITIAL_BACKOFF));
}

#[test]
fn a_silent_registry_is_detected() {
    let mut w = World::new();
    let a = w.add("alice", "127.0.0.1:4701", "127.0.0.1:1");
    w.take_events(a);
    // The registry machine stops answering but the connection stays open.
    w.reg = Registry::new(registry::Config {
        silence_timeout: Duration::from_secs(1_000_000),
        idle_timeout: Duration::from_secs(1_000_000),
        ..registry::Config::default()
    });
    w.advance(REGISTRY_SILENCE_TIMEOUT);
    let ev = w.take_events(a);
    assert!(
        ev.iter().any(|e| matches!(
            e,
            Event::Lost {
                why: Lost::Silent,
                ..
            }
        )),
        "{ev:?}"
    );
}

#[test]
fn leave_unregisters_and_ends_with_the_goodbye() {
    let mut w = World::new();
    let a = w.add("alice", "127.0.0.1:4701", "127.0.0.1:1");
    w.take_events(a);
    w.peers[a].m.leave(w.now);
    w.settle();
    assert_eq!(
        w.take_events(a),
        [Event::Left(Some(GoodbyeReason::Unregistered))]
    );
    assert!(w.peers[a].m.is_done());
    assert!(w.reg.is_empty());
}

#[test]
fn leave_gives_up_waiting_for_a_goodbye_that_never_comes() {
    let mut w = World::new();
    let a = w.add("alice", "127.0.0.1:4701", "127.0.0.1:1");
    w.take_events(a);
    w.peers[a].mute = true;
    w.peers[a].m.leave(w.now);
    w.settle(); // the UNREGISTER is lost
    w.peers[a].mute = false;
    w.advance(LEAVE_TIMEOUT);
    assert_eq!(w.take_events(a), [Event::Left(None)]);
}

#[test]
fn leave_while_disconnected_ends_at_once() {
    let mut w = World::new();
    w.reachable = false;
    let a = w.add("alice", "127.0.0.1:4701", "127.0.0.1:1");
    w.take_events(a);
    w.peers[a].m.leave(w.now);
    w.settle();
    assert_eq!(w.take_events(a), [Event::Left(None)]);
    assert_eq!(w.peers[a].m.next_timeout(), None);
}

#[test]
fn registry_goodbye_on_shutdown_leads_to_reconnect() {
    let mut w = World::new();
    let a = w.add("alice", "127.0.0.1:4701", "127.0.0.1:1");
    w.take_events(a);
    let now = w.now;
    w.reg.shutdown(now);
    w.settle();
    let ev = w.take_events(a);
    assert!(matches!(
        &ev[..],
        [Event::Lost {
            why: Lost::Goodbye(GoodbyeReason::ShuttingDown),
            ..
        }]
    ));
    w.advance(Duration::from_secs(1));
    assert_eq!(registered(&w.take_events(a)), [true]);
}

#[test]
fn requests_made_while_connecting_are_sent_once_connected() {
    let mut w = World::new();
    let mut m = Membership::new(claim("alice", "127.0.0.1:4701"), w.now);
    m.start(w.now);
    m.lookup(name("alice"));
    m.list();
    assert_eq!(m.poll_output(), Some(Output::Connect));
    assert_eq!(
        m.poll_output(),
        None,
        "nothing sent before the connection is up"
    );
    w.peers.push(Peer {
        m,
        link: None,
        mute: false,
        events: Vec::new(),
        from: sa("127.0.0.1:1"),
    });
    let conn = ConnId(99);
    let now = w.now;
    w.reg.handle_input(
        now,
        registry::Input::Opened {
            conn,
            from: sa("127.0.0.1:1"),
            nonce: nonce_of(conn),
        },
    );
    w.peers[0].link = Some(conn);
    w.peers[0].m.connected(now);
    w.settle();
    let ev = w.take_events(0);
    assert!(matches!(&ev[0], Event::Registered { .. }), "{ev:?}");
    assert!(matches!(&ev[1], Event::Found(e) if e.name == name("alice")));
    assert!(matches!(&ev[2], Event::Listed(all) if all.len() == 1));
}

#[test]
fn a_query_registers_nothing_and_answers_lookups_and_paged_lists() {
    let mut w = World::new();
    for i in 0..300 {
        let nm = format!("a-rather-long-peer-name-{i:04}");
        w.add(
            &nm,
            &format!("127.0.{}.{}:4701", i / 200, i % 200 + 1),
            "127.0.0.1:1",
        );
    }
    let q = w.add_query("127.0.0.1:9");
    w.peers[q].m.lookup(name("a-rather-long-peer-name-0007"));
    w.peers[q].m.list();
    w.settle();
    let ev = w.take_events(q);
    assert!(
        matches!(&ev[0], Event::Found(e) if e.addr == sa("127.0.0.8:4701")),
        "{ev:?}"
    );
    let Event::Listed(all) = &ev[1] else {
        panic!("{ev:?}")
    };
    assert_eq!(all.len(), 300, "the query itself is not in the table");
    assert_eq!(ev.len(), 2, "no Registered event: {ev:?}");
    assert!(w.peers[q].m.registration().is_none());
}

#[test]
fn a_query_that_cannot_connect_fails_with_the_plain_reason_and_stops() {
    let mut w = World::new();
    w.reachable = false;
    let q = w.add_query("127.0.0.1:9");
    w.peers[q].m.lookup(name("bob"));
    w.settle();
    let ev = w.take_events(q);
    assert_eq!(
        ev,
        [Event::RequestFailed {
            request: Request::Lookup(name("bob")),
            why: "connection refused".into()
        }]
    );
    assert!(w.peers[q].m.is_done());
    assert_eq!(w.peers[q].m.next_timeout(), None, "no retry");
}

#[test]
fn a_query_gives_up_on_a_silent_registry_after_its_reply_timeout() {
    let mut w = World::new();
    let q = w.add_query("127.0.0.1:9");
    w.settle();
    w.peers[q].mute = true;
    w.peers[q].m.list();
    w.settle();
    // Muted machines get no timeouts from `advance`: fire it by hand.
    let at = w.now + QUERY_REPLY_TIMEOUT;
    w.peers[q].m.handle_timeout(at - Duration::from_millis(1));
    assert!(w.peers[q].m.poll_output().is_none(), "not yet");
    w.peers[q].m.handle_timeout(at);
    let outs: Vec<Output> = std::iter::from_fn(|| w.peers[q].m.poll_output()).collect();
    assert_eq!(outs[0], Output::Disconnect);
    assert_eq!(
        outs[1],
        Output::Event(Event::RequestFailed {
            request: Request::List,
            why: "no answer for 5 s".into()
        })
    );
    assert!(w.peers[q].m.is_done());
}

/// A connected query with one lookup asked.
fn asking_query() -> (Membership, Instant) {
    let now = Instant::now();
    let mut m = Membership::query(now);
    m.start(now);
    m.lookup(name("bob"));
    m.connected(now);
    let sent: Vec<Output> = std::iter::from_fn(|| m.poll_output()).collect();
    assert_eq!(
        sent,
        [Output::Connect, Output::Send(Message::Lookup(name("bob")))],
        "no REGISTER"
    );
    (m, now)
}

#[test]
fn a_query_answered_with_something_else_says_the_registry_misbehaved() {
    let (mut m, now) = asking_query();
    m.received(
        now,
        Message::ListReply(ListReply {
            more: false,
            entries: Vec::new(),
        }),
    );
    let outs: Vec<Output> = std::iter::from_fn(|| m.poll_output()).collect();
    assert_eq!(outs[0], Output::Disconnect);
    assert!(
        matches!(&outs[1], Output::Event(Event::Misbehaved(w)) if w.starts_with("expected an answer to the lookup, got message type")),
        "{outs:?}"
    );
    assert!(m.is_done());
}

#[test]
fn a_query_fed_garbage_says_the_registry_misbehaved_where_a_member_reconnects() {
    let (mut m, now) = asking_query();
    m.malformed(now, "stream does not start with the peercall magic");
    let outs: Vec<Output> = std::iter::from_fn(|| m.poll_output()).collect();
    assert!(
        outs.contains(&Output::Event(Event::Misbehaved(
            "stream does not start with the peercall magic".into()
        ))),
        "{outs:?}"
    );
    assert!(m.is_done());

    let mut member = Membership::new(claim("alice", "127.0.0.1:4701"), now);
    member.start(now);
    member.connected(now);
    while member.poll_output().is_some() {}
    member.malformed(now, "garbage");
    let outs: Vec<Output> = std::iter::from_fn(|| member.poll_output()).collect();
    assert!(
        matches!(&outs[..], [Output::Event(Event::Lost { why: Lost::NotARegistry(w), .. })] if w == "garbage"),
        "{outs:?}"
    );
    assert!(!member.is_done());
}

/// What a peer's call port answers to anything but an INVITE.
fn call_port_error() -> Message {
    Message::Error(ErrorMsg::new(
        ErrorCode::UnexpectedMessage,
        "expected INVITE, got message type 0x01",
    ))
}

#[test]
fn a_call_port_is_told_apart_from_a_registry() {
    let now = Instant::now();
    let mut member = Membership::new(claim("alice", "127.0.0.1:4701"), now);
    member.start(now);
    member.connected(now);
    while member.poll_output().is_some() {}
    member.received(now, call_port_error());
    let outs: Vec<Output> = std::iter::from_fn(|| member.poll_output()).collect();
    assert_eq!(outs[0], Output::Disconnect, "{outs:?}");
    let Output::Event(Event::Lost { why, retry_in }) = &outs[1] else {
        panic!("{outs:?}")
    };
    assert_eq!(
        *retry_in, INITIAL_BACKOFF,
        "tried again later, as for a registry that is down"
    );
    assert_eq!(
        why.to_string(),
        "does not speak the registry protocol (it answered \"expected INVITE, got message type 0x01\": a peer's call port?); is a peercall-registry running there?"
    );

    let (mut query, now) = asking_query();
    query.received(now, Message::Ringing(crate::wire::CallId(7)));
    let outs: Vec<Output> = std::iter::from_fn(|| query.poll_output()).collect();
    assert!(
        matches!(&outs[..], [Output::Disconnect, Output::Event(Event::Misbehaved(w))] if w.contains("call signalling")),
        "{outs:?}"
    );
    assert!(query.is_done());

    // A registry's own errors stay what they were.
    let (mut query, now) = asking_query();
    query.received(
        now,
        Message::Error(ErrorMsg::new(ErrorCode::TooManyConnections, "full")),
    );
    let outs: Vec<Output> = std::iter::from_fn(|| query.poll_output()).collect();
    assert!(
        matches!(&outs[..], [Output::Event(Event::RegistryError(_))]),
        "{outs:?}"
    );
}

#[test]
fn a_query_answers_pings_and_leaves_without_unregistering() {
    let (mut m, now) = asking_query();
    m.received(now, Message::Ping(7));
    assert_eq!(m.poll_output(), Some(Output::Send(Message::Pong(7))));
    m.leave(now);
    let outs: Vec<Output> = std::iter::from_fn(|| m.poll_output()).collect();
    assert!(
        !outs.contains(&Output::Send(Message::Unregister)),
        "{outs:?}"
    );
    assert!(outs.contains(&Output::Event(Event::Left(None))));
    assert!(m.is_done());
}

#[test]
fn a_member_replaced_by_its_own_key_stops_instead_of_taking_the_name_back() {
    let mut w = World::new();
    let a = w.add("pi", "127.0.0.1:4701", "127.0.0.1:1");
    w.take_events(a);
    // The same identity started a second time elsewhere.
    let b = w.add("pi", "127.0.0.1:4702", "127.0.0.1:2");
    assert_eq!(registered(&w.take_events(b)), [false]);
    assert_eq!(w.take_events(a), [Event::Refused(Refusal::Replaced)]);
    assert!(w.peers[a].m.is_done());
    w.advance(Duration::from_secs(60));
    assert!(w.take_events(a).is_empty(), "no reconnect, no flapping");
    assert_eq!(
        w.reg.rows().next().map(|r| r.addr),
        Some(sa("127.0.0.1:4702"))
    );
}

#[test]
fn a_member_sends_its_register_only_after_the_challenge_signed_for_it() {
    let now = Instant::now();
    let mut m = Membership::new(claim("pi", "127.0.0.1:4701"), now);
    m.start(now);
    assert_eq!(m.poll_output(), Some(Output::Connect));
    m.connected(now);
    assert!(matches!(
        m.poll_output(),
        Some(Output::Send(Message::Ping(_)))
    ));
    assert_eq!(m.poll_output(), None, "no REGISTER before the CHALLENGE");
    let nonce = [7u8; crate::wire::NONCE_LEN];
    m.received(now, Message::Challenge(nonce));
    let Some(Output::Send(Message::Register(r))) = m.poll_output() else {
        panic!("no REGISTER after the CHALLENGE")
    };
    assert!(r.verify(&nonce));
    assert!(!r.verify(&[8u8; crate::wire::NONCE_LEN]));
    // A second CHALLENGE on the same connection changes nothing.
    m.received(now, Message::Challenge([9; crate::wire::NONCE_LEN]));
    assert_eq!(m.poll_output(), None);
}

#[test]
fn a_pong_before_any_challenge_is_no_registry_but_errors_after_one_are_the_registrys() {
    let now = Instant::now();
    let mut m = Membership::new(claim("pi", "127.0.0.1:4701"), now);
    m.start(now);
    let _ = m.poll_output();
    m.connected(now);
    let _ = m.poll_output();
    // A peer's call port answers the PING at once, with no CHALLENGE.
    m.received(now, Message::Pong(1));
    let out: Vec<Output> = std::iter::from_fn(|| m.poll_output()).collect();
    assert!(
        out.iter().any(|o| matches!(o, Output::Event(Event::Lost { why: Lost::NotARegistry(w), .. }) if w.contains("call port"))),
        "{out:?}"
    );
    // A registry's ERROR UNEXPECTED MESSAGE (a REGISTER it could not
    // verify) is a refusal, not a sign of a call port.
    let mut m = Membership::new(claim("pi", "127.0.0.1:4701"), now);
    m.start(now);
    let _ = m.poll_output();
    m.connected(now);
    m.received(now, Message::Challenge([1; crate::wire::NONCE_LEN]));
    let _: Vec<Output> = std::iter::from_fn(|| m.poll_output()).collect();
    m.received(
        now,
        Message::Error(ErrorMsg::new(ErrorCode::UnexpectedMessage, "bad signature")),
    );
    assert!(m.is_done());
    let out: Vec<Output> = std::iter::from_fn(|| m.poll_output()).collect();
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Event(Event::Refused(Refusal::Error(_))))),
        "{out:?}"
    );
}
