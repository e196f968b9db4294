//! A byte fixture for every message: parse the fixture, compare with the
//! expected value, emit into a buffer pre-filled with 0xa5 (so a byte that emit
//! forgets shows up) and compare with the fixture again.

use super::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

fn name(s: &str) -> Name {
    Name::new(s).unwrap()
}

fn v4(a: u8, b: u8, c: u8, d: u8, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(a, b, c, d)), port)
}

fn check(fixture: &[u8], msg: Message) {
    let parsed = Message::parse_bytes(fixture).expect("fixture parses");
    assert_eq!(parsed, msg);
    assert_eq!(msg.buffer_len(), fixture.len());
    let mut buf = vec![0xa5u8; msg.buffer_len()];
    msg.emit(&mut buf);
    assert_eq!(buf, fixture, "emit of {msg:?}");
}

/// The identity of every fixture: seed 0x11 repeated.
fn fixture_identity() -> crate::identity::Identity {
    crate::identity::Identity::from_seed(&[0x11; 32])
}

/// The nonce of every fixture: bytes 0, 1, 2, ..., 31.
fn fixture_nonce() -> Nonce {
    std::array::from_fn(|i| i as u8)
}

#[test]
fn register() {
    let id = fixture_identity();
    let msg = Register::signed(
        &id,
        name("alice"),
        v4(192, 0, 2, 20, 4701),
        &fixture_nonce(),
    );
    let mut fx = vec![
        0x50, 0x43, 0x02, 0x01, 0x00, 0x6d, // header: "PC" v2 REGISTER len 109
        0x05, b'a', b'l', b'i', b'c', b'e', // name
        0x04, 192, 0, 2, 20, // IPv4 192.0.2.20
        0x12, 0x5d, // port 4701
    ];
    fx.extend_from_slice(&FIXTURE_KEY);
    fx.extend_from_slice(&REGISTER_FIXTURE_SIGNATURE);
    assert!(msg.verify(&fixture_nonce()));
    check(&fx, Message::Register(msg));
}

#[test]
fn register_with_empty_ip_and_ipv6() {
    let id = fixture_identity();
    let mut fx = vec![0x50, 0x43, 0x02, 0x01, 0x00, 0x69, 0x01, b'b'];
    fx.extend_from_slice(&[0x04, 0, 0, 0, 0, 0x12, 0x5e]);
    let r = Register::signed(&id, name("b"), v4(0, 0, 0, 0, 4702), &fixture_nonce());
    fx.extend_from_slice(id.public().as_bytes());
    fx.extend_from_slice(&r.signature);
    check(&fx, Message::Register(r));
    let mut fx = vec![0x50, 0x43, 0x02, 0x01, 0x00, 0x75, 0x01, b'b', 0x06];
    fx.extend_from_slice(&[
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
    ]);
    fx.extend_from_slice(&[0x12, 0x5e]);
    let v6 = SocketAddr::new(
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        4702,
    );
    let r = Register::signed(&id, name("b"), v6, &fixture_nonce());
    fx.extend_from_slice(id.public().as_bytes());
    fx.extend_from_slice(&r.signature);
    check(&fx, Message::Register(r));
}

#[test]
fn challenge() {
    let mut fx = vec![0x50, 0x43, 0x02, 0x2a, 0x00, 0x20];
    fx.extend(0u8..32);
    check(&fx, Message::Challenge(fixture_nonce()));
}

#[test]
fn unregister() {
    check(&[0x50, 0x43, 0x02, 0x02, 0x00, 0x00], Message::Unregister);
}

#[test]
fn lookup() {
    check(
        &[0x50, 0x43, 0x02, 0x03, 0x00, 0x04, 0x03, b'b', b'o', b'b'],
        Message::Lookup(name("bob")),
    );
}

#[test]
fn list_from_start_and_after_a_name() {
    check(
        &[0x50, 0x43, 0x02, 0x04, 0x00, 0x01, 0x00],
        Message::List { after: None },
    );
    check(
        &[0x50, 0x43, 0x02, 0x04, 0x00, 0x04, 0x03, b'b', b'o', b'b'],
        Message::List {
            after: Some(name("bob")),
        },
    );
}

#[test]
fn registered() {
    check(
        &[
            0x50, 0x43, 0x02, 0x21, 0x00, 0x11, // header, len 17
            0x02, b'p', b'i', // name
            0x04, 127, 0, 0, 1, 0x12, 0x5d, // recorded 127.0.0.1:4701
            0x04, 127, 0, 0, 1, 0xc3, 0x50, // observed 127.0.0.1:50000
        ],
        Message::Registered(Registered {
            name: name("pi"),
            addr: v4(127, 0, 0, 1, 4701),
            observed: v4(127, 0, 0, 1, 50000),
        }),
    );
}

#[test]
fn already_registered() {
    check(
        &[
            0x50, 0x43, 0x02, 0x22, 0x00, 0x06, 0x02, b'p', b'i', 0x01, 0x07, 0xd0,
        ],
        Message::AlreadyRegistered(AlreadyRegistered {
            name: name("pi"),
            status: HoldStatus::Probing,
            probe_ms: 2000,
        }),
    );
}

#[test]
fn name_taken() {
    check(
        &[0x50, 0x43, 0x02, 0x23, 0x00, 0x03, 0x02, b'p', b'i'],
        Message::NameTaken(name("pi")),
    );
}

#[test]
fn name_resembles() {
    check(
        &[
            0x50, 0x43, 0x02, 0x29, 0x00, 0x0c, 0x05, b'A', b'l', b'i', b'c', b'e', 0x05, b'a',
            b'l', b'i', b'c', b'e',
        ],
        Message::NameResembles {
            asked: name("Alice"),
            held: name("alice"),
        },
    );
}

#[test]
fn endpoint_taken() {
    check(
        &[
            0x50, 0x43, 0x02, 0x24, 0x00, 0x07, 0x04, 127, 0, 0, 1, 0x12, 0x5d,
        ],
        Message::EndpointTaken(v4(127, 0, 0, 1, 4701)),
    );
}

fn entry_pi() -> (Vec<u8>, Entry) {
    (
        [
            0x02, b'p', b'i', // name
        ]
        .into_iter()
        .chain(FIXTURE_KEY) // key
        .chain([
            0x04, 192, 0, 2, 7, 0x12, 0x5d, // 192.0.2.7:4701
            0x04, 198, 51, 100, 9, 0x9c, 0x40, // observed 198.51.100.9:40000
            0x00, 0x00, 0x0e, 0x10, // 3600 s
        ])
        .collect(),
        Entry {
            name: name("pi"),
            key: fixture_identity().public(),
            addr: v4(192, 0, 2, 7, 4701),
            observed: v4(198, 51, 100, 9, 40000),
            age_secs: 3600,
        },
    )
}

#[test]
fn found() {
    let (bytes, entry) = entry_pi();
    let mut fx = vec![0x50, 0x43, 0x02, 0x25, 0x00, bytes.len() as u8];
    fx.extend_from_slice(&bytes);
    check(&fx, Message::Found(entry));
}

#[test]
fn not_found() {
    check(
        &[0x50, 0x43, 0x02, 0x26, 0x00, 0x02, 0x01, b'x'],
        Message::NotFound(name("x")),
    );
}

#[test]
fn list_reply_pages() {
    let (bytes, entry) = entry_pi();
    let mut fx = vec![0x50, 0x43, 0x02, 0x27, 0x00, (3 + 2 * bytes.len()) as u8];
    fx.extend_from_slice(&[0x01, 0x00, 0x02]); // more, 2 entries
    fx.extend_from_slice(&bytes);
    fx.extend_from_slice(&bytes);
    check(
        &fx,
        Message::ListReply(ListReply {
            more: true,
            entries: vec![entry.clone(), entry],
        }),
    );
    check(
        &[0x50, 0x43, 0x02, 0x27, 0x00, 0x03, 0x00, 0x00, 0x00],
        Message::ListReply(ListReply {
            more: false,
            entries: vec![],
        }),
    );
}

#[test]
fn goodbye() {
    check(
        &[0x50, 0x43, 0x02, 0x28, 0x00, 0x01, 0x01],
        Message::Goodbye(GoodbyeReason::Unregistered),
    );
    check(
        &[0x50, 0x43, 0x02, 0x28, 0x00, 0x01, 0x02],
        Message::Goodbye(GoodbyeReason::ShuttingDown),
    );
}

#[test]
fn ping_pong() {
    check(
        &[
            0x50, 0x43, 0x02, 0x70, 0x00, 0x08, 0, 0, 0, 0, 0, 0, 0x01, 0x02,
        ],
        Message::Ping(0x0102),
    );
    check(
        &[
            0x50, 0x43, 0x02, 0x71, 0x00, 0x08, 0xff, 0, 0, 0, 0, 0, 0, 0x2a,
        ],
        Message::Pong(0xff00_0000_0000_002a),
    );
}

#[test]
fn error() {
    check(
        &[
            0x50, 0x43, 0x02, 0x7f, 0x00, 0x06, 0x00, 0x06, 0x00, 0x02, b'n', b'o',
        ],
        Message::Error(ErrorMsg::new(ErrorCode::BadName, "no")),
    );
}

#[test]
fn unknown_type_is_kept_with_its_code() {
    assert_eq!(
        Message::parse_bytes(&[0x50, 0x43, 0x02, 0x55, 0x00, 0x02, 1, 2]),
        Ok(Message::Unknown(0x55))
    );
}

#[test]
fn a_full_list_page_fits_one_frame() {
    let e = Entry {
        name: name(&"n".repeat(MAX_NAME_LEN)),
        key: fixture_identity().public(),
        addr: SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 1),
        observed: SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 1),
        age_secs: 0,
    };
    let per = e.len();
    let n = (MAX_PAYLOAD_LEN - ListReply::EMPTY_LEN) / per;
    let page = Message::ListReply(ListReply {
        more: true,
        entries: vec![e.clone(); n],
    });
    assert!(page.fits());
    let bytes = page.to_bytes();
    assert!(bytes.len() <= MAX_FRAME_LEN);
    assert_eq!(Message::parse_bytes(&bytes), Ok(page));
    let over = Message::ListReply(ListReply {
        more: true,
        entries: vec![e; n + 1],
    });
    assert!(!over.fits());
}

fn media_640x480() -> (Vec<u8>, MediaDescription) {
    (
        vec![
            0x01, 0x02, 0x80, 0x01, 0xe0, 0x1e, // MJPEG 640x480 30 fps
            0x01, 0x00, 0x00, 0xbb, 0x80, 0x01, 0x14, // Opus 48000 Hz mono 20 ms
        ],
        MediaDescription {
            video: VideoFormat {
                codec: VideoCodec::Mjpeg,
                width: 640,
                height: 480,
                fps: 30,
            },
            audio: AudioFormat {
                codec: AudioCodec::Opus,
                sample_rate: 48_000,
                channels: 1,
                frame_ms: 20,
            },
        },
    )
}

const CALL: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
const CALL_ID: CallId = CallId(0x0123_4567_89ab_cdef);

fn call_only(t: u8) -> Vec<u8> {
    let mut v = vec![0x50, 0x43, 0x02, t, 0x00, 0x08];
    v.extend_from_slice(&CALL);
    v
}

#[test]
fn invite() {
    let (media_bytes, media) = media_640x480();
    let mut fx = vec![0x50, 0x43, 0x02, 0x40, 0x00, 0x1f];
    fx.extend_from_slice(&CALL);
    fx.extend_from_slice(&[0x05, b'a', b'l', b'i', b'c', b'e']);
    fx.extend_from_slice(&[0x13, 0x8c, 0x13, 0x8e]); // audio 5004, video 5006
    fx.extend_from_slice(&media_bytes);
    check(
        &fx,
        Message::Invite(Invite {
            call_id: CALL_ID,
            caller: name("alice"),
            ports: MediaPorts {
                audio: 5004,
                video: 5006,
            },
            media,
        }),
    );
}

#[test]
fn accept() {
    let (media_bytes, media) = media_640x480();
    let mut fx = vec![0x50, 0x43, 0x02, 0x42, 0x00, 0x19];
    fx.extend_from_slice(&CALL);
    fx.extend_from_slice(&[0x17, 0x70, 0x17, 0x72]); // audio 6000, video 6002
    fx.extend_from_slice(&media_bytes);
    check(
        &fx,
        Message::Accept(Accept {
            call_id: CALL_ID,
            ports: MediaPorts {
                audio: 6000,
                video: 6002,
            },
            media,
        }),
    );
}

#[test]
fn reject() {
    let mut fx = vec![0x50, 0x43, 0x02, 0x43, 0x00, 0x09];
    fx.extend_from_slice(&CALL);
    fx.push(0x02);
    check(
        &fx,
        Message::Reject {
            call_id: CALL_ID,
            reason: RejectReason::Busy,
        },
    );
}

#[test]
fn call_id_only_messages() {
    check(&call_only(0x41), Message::Ringing(CALL_ID));
    check(&call_only(0x44), Message::Cancel(CALL_ID));
    check(&call_only(0x45), Message::Bye(CALL_ID));
    check(&call_only(0x46), Message::ByeAck(CALL_ID));
    check(&call_only(0x47), Message::Keepalive(CALL_ID));
}

/// The public key of [`fixture_identity`] (text form
/// `0EqyMnQrtKs6E2i9RhXk5tAiSrcaAWuvhSCjMsl3hzc=`), as docs/protocol.md lists it.
const FIXTURE_KEY: [u8; 32] = [
    0xd0, 0x4a, 0xb2, 0x32, 0x74, 0x2b, 0xb4, 0xab, 0x3a, 0x13, 0x68, 0xbd, 0x46, 0x15, 0xe4, 0xe6,
    0xd0, 0x22, 0x4a, 0xb7, 0x1a, 0x01, 0x6b, 0xaf, 0x85, 0x20, 0xa3, 0x32, 0xc9, 0x77, 0x87, 0x37,
];

/// Ed25519 is deterministic: this is [`fixture_identity`]'s signature of the
/// REGISTER of alice at 192.0.2.20:4701 for [`fixture_nonce`], the test
/// vector of docs/protocol.md.
const REGISTER_FIXTURE_SIGNATURE: [u8; 64] = [
    0x14, 0xfc, 0x58, 0x98, 0xbe, 0x76, 0xa4, 0xdc, 0x03, 0x62, 0xf1, 0x65, 0xaa, 0x9f, 0xc8, 0xd5,
    0xe8, 0xf3, 0x95, 0xd4, 0x44, 0x49, 0x1d, 0x8a, 0x40, 0x98, 0x36, 0xb1, 0xa5, 0x6d, 0x98, 0xc7,
    0x03, 0xd3, 0x0f, 0x2e, 0x72, 0x76, 0xa1, 0x39, 0xc0, 0x09, 0xd6, 0x31, 0x42, 0x8e, 0x44, 0xbb,
    0x61, 0xb6, 0x01, 0x7b, 0xda, 0x3e, 0xe8, 0xc0, 0x4a, 0x5a, 0x08, 0x1b, 0xf4, 0x84, 0x8f, 0x0b,
];

#[test]
fn the_fixture_key_and_signing_message_match_the_documented_vector() {
    assert_eq!(fixture_identity().public().as_bytes(), &FIXTURE_KEY);
    let mut msg = b"peercall register v2\0".to_vec();
    msg.extend(0u8..32);
    msg.extend_from_slice(&[
        0x05, b'a', b'l', b'i', b'c', b'e', 0x04, 192, 0, 2, 20, 0x12, 0x5d,
    ]);
    assert_eq!(
        Register::signing_message(&name("alice"), &v4(192, 0, 2, 20, 4701), &fixture_nonce()),
        msg
    );
}

#[test]
fn a_register_verifies_only_for_its_own_nonce_name_and_address() {
    let id = fixture_identity();
    let nonce = fixture_nonce();
    let r = Register::signed(&id, name("alice"), v4(192, 0, 2, 20, 4701), &nonce);
    assert!(r.verify(&nonce));
    let mut other_nonce = nonce;
    other_nonce[31] ^= 1;
    assert!(!r.verify(&other_nonce), "replayed on another connection");
    let mut renamed = r.clone();
    renamed.name = name("alicf");
    assert!(!renamed.verify(&nonce));
    let mut moved = r.clone();
    moved.addr = v4(192, 0, 2, 21, 4701);
    assert!(!moved.verify(&nonce));
    let mut other_key = r.clone();
    other_key.key = crate::identity::Identity::from_seed(&[0x22; 32]).public();
    assert!(!other_key.verify(&nonce), "a signature under another key");
    // An IPv4-mapped address is signed in the form the registry reads.
    let mapped = Register::signed(
        &id,
        name("alice"),
        "[::ffff:192.0.2.20]:4701".parse().unwrap(),
        &nonce,
    );
    let parsed = Message::parse_bytes(&Message::Register(mapped).to_bytes()).unwrap();
    let Message::Register(parsed) = parsed else {
        unreachable!()
    };
    assert!(parsed.verify(&nonce));
}
