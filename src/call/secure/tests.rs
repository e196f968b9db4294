//! Two handshakes driven against each other in memory: success, each side's
//! failure, tampering with every byte, and a fixed test vector.

use super::*;
use crate::wire::CallId;

fn id(n: u8) -> Identity {
    Identity::from_seed(&[n; 32])
}

fn pair(caller: &Identity, callee: &Identity) -> (Secured, Secured) {
    let (init, hello) = Initiator::start(caller, callee.public(), [1; SEED_LEN]);
    let (theirs, reply) = respond(callee, &hello, [2; SEED_LEN]).unwrap();
    let ours = init.finish(&reply).unwrap();
    (ours, theirs)
}

#[test]
fn both_sides_learn_each_others_key_and_the_same_media_secret() {
    let (alice, bob) = (id(1), id(2));
    let (hello_len, reply_len) = {
        let (init, hello) = Initiator::start(&alice, bob.public(), [7; SEED_LEN]);
        let (_, reply) = respond(&bob, &hello, [8; SEED_LEN]).unwrap();
        assert!(init.finish(&reply).is_ok());
        (hello.len(), reply.len())
    };
    assert_eq!((hello_len, reply_len), (INIT_LEN, REPLY_LEN));
    let (mut a, mut b) = pair(&alice, &bob);
    assert_eq!(a.peer_key(), bob.public());
    assert_eq!(b.peer_key(), alice.public());
    assert_eq!(a.media_secret(), b.media_secret());
    assert_ne!(a.media_secret().as_bytes(), &[0; MEDIA_SECRET_LEN]);
    // Another pair of seeds gives another secret.
    let (init, hello) = Initiator::start(&alice, bob.public(), [3; SEED_LEN]);
    let (b2, reply) = respond(&bob, &hello, [4; SEED_LEN]).unwrap();
    let a2 = init.finish(&reply).unwrap();
    assert_eq!(a2.media_secret(), b2.media_secret());
    assert_ne!(a2.media_secret(), a.media_secret());
    for i in 0..5 {
        let m = Message::Ringing(CallId(i));
        let sealed = a.seal(&m).unwrap();
        let Message::Sealed(bytes) = &sealed else {
            panic!("{sealed:?}")
        };
        assert!(!bytes.windows(8).any(|w| w == i.to_be_bytes()));
        assert_eq!(b.open(bytes).unwrap(), m);
        let back = Message::Bye(CallId(i));
        let Message::Sealed(bytes) = b.seal(&back).unwrap() else {
            unreachable!()
        };
        assert_eq!(a.open(&bytes).unwrap(), back);
    }
    assert_eq!(format!("{:?}", a.media_secret()), "MediaSecret(..)");
}

#[test]
fn a_callee_with_another_key_cannot_answer() {
    // The caller expects bob; carol answers. IK encrypts the caller's static
    // key to bob's, so carol cannot even read the first message.
    let (alice, bob, carol) = (id(1), id(2), id(3));
    let (_, hello) = Initiator::start(&alice, bob.public(), [1; SEED_LEN]);
    assert_eq!(
        respond(&carol, &hello, [2; SEED_LEN]).unwrap_err(),
        SecureError::Rejected
    );
}

#[test]
fn a_reply_made_for_another_handshake_fails_the_caller() {
    // Failure on the caller's side: a reply from a different run (a replay,
    // or a responder that lost state) does not finish this handshake.
    let (alice, bob) = (id(1), id(2));
    let (init, _) = Initiator::start(&alice, bob.public(), [1; SEED_LEN]);
    let (_, other_hello) = Initiator::start(&alice, bob.public(), [9; SEED_LEN]);
    let (_, stale_reply) = respond(&bob, &other_hello, [2; SEED_LEN]).unwrap();
    assert_eq!(
        init.finish(&stale_reply).unwrap_err(),
        SecureError::Rejected
    );
}

#[test]
fn every_altered_byte_of_either_message_fails_without_panicking() {
    let (alice, bob) = (id(1), id(2));
    let (_, hello) = Initiator::start(&alice, bob.public(), [1; SEED_LEN]);
    for i in 0..hello.len() {
        let mut bad = hello.clone();
        bad[i] ^= 0x01;
        assert!(respond(&bob, &bad, [2; SEED_LEN]).is_err(), "byte {i}");
    }
    let (_, reply) = respond(&bob, &hello, [2; SEED_LEN]).unwrap();
    for i in 0..reply.len() {
        let (init, _) = Initiator::start(&alice, bob.public(), [1; SEED_LEN]);
        let mut bad = reply.clone();
        bad[i] ^= 0x80;
        assert!(init.finish(&bad).is_err(), "byte {i}");
    }
    for len in [0, 1, INIT_LEN - 1, INIT_LEN + 1, 10_000] {
        let junk = vec![0x42; len];
        assert_eq!(
            respond(&bob, &junk, [2; SEED_LEN]).unwrap_err(),
            SecureError::BadLength(len)
        );
        let (init, _) = Initiator::start(&alice, bob.public(), [1; SEED_LEN]);
        assert!(init.finish(&junk).is_err());
    }
    // The right length of garbage.
    assert_eq!(
        respond(&bob, &[0x42; INIT_LEN], [2; SEED_LEN]).unwrap_err(),
        SecureError::Rejected
    );
}

#[test]
fn altered_or_replayed_sealed_messages_do_not_open() {
    let (alice, bob) = (id(1), id(2));
    let (mut a, mut b) = pair(&alice, &bob);
    let Message::Sealed(bytes) = a.seal(&Message::Keepalive(CallId(5))).unwrap() else {
        unreachable!()
    };
    for i in 0..bytes.len() {
        let (mut a2, mut b2) = pair(&alice, &bob);
        let Message::Sealed(good) = a2.seal(&Message::Keepalive(CallId(5))).unwrap() else {
            unreachable!()
        };
        let mut bad = good.clone();
        bad[i] ^= 0x04;
        assert_eq!(
            b2.open(&bad).unwrap_err(),
            SecureError::Rejected,
            "byte {i}"
        );
    }
    assert!(b.open(&bytes).is_ok());
    assert_eq!(b.open(&bytes).unwrap_err(), SecureError::Rejected, "replay");
    assert!(b.open(&[]).is_err());
    assert!(b.open(&[0; MAX_PAYLOAD_LEN + 1]).is_err());
    assert_eq!(
        a.seal(&Message::Sealed(vec![1])).unwrap_err(),
        SecureError::NestedSeal
    );
}

#[test]
fn a_told_key_that_is_not_the_proved_one_is_refused() {
    // A caller proving its own static key but claiming bob's Ed25519 key
    // (hand-built with snow, as an impostor would).
    let (mallory, bob, carol) = (id(4), id(2), id(3));
    let secret = mallory.noise_secret();
    let remote = bob.public().noise_key();
    let mut hs = builder([5; SEED_LEN])
        .local_private_key(&secret)
        .unwrap()
        .remote_public_key(&remote)
        .unwrap()
        .build_initiator()
        .unwrap();
    let mut out = [0u8; MAX_HANDSHAKE_MSG_LEN];
    let n = hs
        .write_message(carol.public().as_bytes(), &mut out)
        .unwrap();
    assert_eq!(
        respond(&bob, &out[..n], [2; SEED_LEN]).unwrap_err(),
        SecureError::KeyMismatch
    );
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// docs/protocol.md's test vector: identities from seeds 0x01.. and 0x02..,
/// handshake seeds 0x03.. and 0x04..
#[test]
fn test_vector() {
    let (alice, bob) = (id(1), id(2));
    let (init, hello) = Initiator::start(&alice, bob.public(), [3; SEED_LEN]);
    let (b, reply) = respond(&bob, &hello, [4; SEED_LEN]).unwrap();
    let a = init.finish(&reply).unwrap();
    assert_eq!(a.media_secret(), b.media_secret());
    let got = format!(
        "{}\n{}\n{}",
        hex(&hello),
        hex(&reply),
        hex(a.media_secret().as_bytes())
    );
    assert_eq!(got, TEST_VECTOR, "\n{got}");
}

const TEST_VECTOR: &str = concat!(
    // HANDSHAKE INIT payload (128 bytes)
    "403e5376b7e466f103572da5ac47cab01c7226109925ffb2b20e12c3f3476a56",
    "13caacebf8c5c498dabdcd17a5ad43506b7c2e107054fa86903bf63598bbe987",
    "9ec1638f5fe04436162d662b8b9c5fb12c47a488c8e3af1df0e1b22700c292c1",
    "5c384baca044047100ec7e18743f4c07670228edc576819f4b1c39ab921ee54d\n",
    // HANDSHAKE REPLY payload (80 bytes)
    "325420fcc13cc3a0f84d673c85f59c6c2764afa49e256068c04025fb1855ef17",
    "f3755c9ee1fe2372ea2ee656049a7c903a043f29758ab6bfd0f9f8740d200f4a",
    "bf92fd4d7624d41e0dc027de1821f104\n",
    // media secret (64 bytes)
    "ad78779bc84224d34cce6c1eade7ff1001b973d6c31e858184c54c26c9447c0b",
    "7909adc5afc48a1dc0586cb012449e3b990d09a2fba2b55414e0d93b0f1f6460",
);
