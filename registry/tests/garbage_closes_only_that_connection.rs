//! A client sending garbage gets an ERROR and is closed; everyone else keeps working.

use peercall::wire::{ErrorCode, Message, Name, MAX_PAYLOAD_LEN};
use peercall_testkit::{test_identity, Client, Registry};

fn lookup_works(c: &mut Client) {
    let n = Name::new("alice").unwrap();
    assert!(matches!(c.ask(&Message::Lookup(n)), Message::Found(_)));
}

#[test]
fn garbage_clients_are_cut_off_alone() {
    let reg = Registry::start(&[]);
    let mut alice = Client::connect(reg.addr);
    assert!(matches!(
        {
            let m = alice.signed_register(
                &test_identity("alice"),
                "alice",
                "127.0.0.1:4701".parse().unwrap(),
            );
            alice.ask(&m)
        },
        Message::Registered(_)
    ));

    let too_long = (MAX_PAYLOAD_LEN as u16 + 1).to_be_bytes();
    let cases: Vec<(Vec<u8>, ErrorCode)> = vec![
        (
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            ErrorCode::BadMagic,
        ),
        (
            vec![0x50, 0x43, 0x09, 0x01, 0, 0],
            ErrorCode::UnsupportedVersion,
        ),
        (
            vec![
                0x50,
                0x43,
                peercall::wire::VERSION,
                0x03,
                too_long[0],
                too_long[1],
            ],
            ErrorCode::FrameTooLong,
        ),
        (
            vec![0x50, 0x43, peercall::wire::VERSION, 0x03, 0, 2, 1, b' '],
            ErrorCode::BadName,
        ),
        (
            vec![0x50, 0x43, peercall::wire::VERSION, 0x70, 0, 3, 1, 2, 3],
            ErrorCode::Malformed,
        ),
    ];
    for (bytes, code) in cases {
        let mut bad = Client::connect(reg.addr);
        bad.send_raw(&bytes);
        match bad.recv() {
            Some(Message::Error(e)) => assert_eq!(e.code, code, "{bytes:?}: {e}"),
            other => panic!("{bytes:?}: expected an error, got {other:?}"),
        }
        assert_eq!(bad.recv(), None, "connection closed after {bytes:?}");
        lookup_works(&mut alice);
    }

    // An unknown message type is answered, and the connection stays usable.
    let mut newer = Client::connect(reg.addr);
    newer.send_raw(&[0x50, 0x43, peercall::wire::VERSION, 0x5a, 0, 1, 0]);
    assert!(matches!(newer.recv(), Some(Message::Error(e)) if e.code == ErrorCode::UnknownType));
    lookup_works(&mut newer);

    // A client that disappears mid-frame hurts nobody.
    let mut half = Client::connect(reg.addr);
    half.send_raw(&[0x50, 0x43, peercall::wire::VERSION, 0x03, 0, 10, 5]);
    drop(half);
    lookup_works(&mut alice);
}
