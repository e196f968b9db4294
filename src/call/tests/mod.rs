//! Two (or three) phones driven against each other through the wire format,
//! with injected time and an in-memory link that can hold, drop, duplicate and
//! reorder messages: no sockets, no sleeping.

mod flow;
mod handshake;

use super::negotiate::MediaError;
use super::*;
use std::collections::VecDeque;

fn name(s: &str) -> Name {
    Name::new(s).unwrap()
}

fn media(w: u16, h: u16, fps: u8) -> MediaDescription {
    super::negotiate::tests::media(w, h, fps, 1)
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
