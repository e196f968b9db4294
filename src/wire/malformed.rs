//! Malformed input: every way a frame can be wrong gives an error, never a panic.

use super::*;

fn hdr(t: u8, len: u16) -> Vec<u8> {
    let mut v = vec![0x50, 0x43, VERSION, t];
    v.extend_from_slice(&len.to_be_bytes());
    v
}

fn with_payload(t: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = hdr(t, payload.len() as u16);
    v.extend_from_slice(payload);
    v
}

#[test]
fn truncated_frames() {
    let good = Message::Lookup(Name::new("alice").unwrap()).to_bytes();
    for cut in 0..good.len() {
        assert_eq!(
            Message::parse_bytes(&good[..cut]),
            Err(WireError::Truncated),
            "cut at {cut}"
        );
    }
    // A length field that claims more than the payload holds inside a checked frame.
    assert_eq!(
        Message::parse_bytes(&with_payload(msg_type::LOOKUP, &[5, b'a'])),
        Err(WireError::Truncated)
    );
    assert_eq!(
        Message::parse_bytes(&with_payload(msg_type::PING, &[1, 2, 3])),
        Err(WireError::Truncated)
    );
}

#[test]
fn wrong_magic() {
    assert_eq!(
        Message::parse_bytes(b"GET / HTTP/1.1\r\n"),
        Err(WireError::BadMagic)
    );
    assert_eq!(
        Message::parse_bytes(&[0x50, 0x44, 1, 2, 0, 0]),
        Err(WireError::BadMagic)
    );
}

#[test]
fn wrong_version() {
    assert_eq!(
        Message::parse_bytes(&[0x50, 0x43, 3, 2, 0, 0]),
        Err(WireError::UnsupportedVersion(3))
    );
    assert_eq!(
        Message::parse_bytes(&[0x50, 0x43, 1, 2, 0, 0]),
        Err(WireError::UnsupportedVersion(1))
    );
    assert_eq!(
        Message::parse_bytes(&[0x50, 0x43, 0, 2, 0, 0]),
        Err(WireError::UnsupportedVersion(0))
    );
}

#[test]
fn an_older_version_is_answered_in_its_own_framing_and_told_to_upgrade() {
    let reply = version_error_frame(1);
    assert_eq!(&reply[..3], &[0x50, 0x43, 1]);
    // The old side parses it as its own version would: same ERROR layout.
    let mut as_current = reply.clone();
    as_current[2] = VERSION;
    let Ok(Message::Error(e)) = Message::parse_bytes(&as_current) else {
        panic!("not an ERROR: {reply:?}");
    };
    assert_eq!(e.code, ErrorCode::UnsupportedVersion);
    assert!(e.text.contains("upgrade"), "{}", e.text);
    // A newer side's frame is answered in ours.
    assert_eq!(version_error_frame(9)[2], VERSION);
}

#[test]
fn oversize_length() {
    let len = (MAX_PAYLOAD_LEN + 1) as u16;
    let mut v = hdr(msg_type::LIST_REPLY, len);
    v.resize(HEADER_LEN + usize::from(len), 0);
    assert_eq!(
        Message::parse_bytes(&v),
        Err(WireError::TooLong(MAX_PAYLOAD_LEN + 1))
    );
    assert_eq!(
        frame_len(&hdr(1, u16::MAX)),
        Err(WireError::TooLong(u16::MAX as usize))
    );
}

#[test]
fn unknown_type_is_not_an_error() {
    assert_eq!(
        Message::parse_bytes(&with_payload(0x3e, &[1, 2, 3])),
        Ok(Message::Unknown(0x3e))
    );
}

#[test]
fn bad_utf8() {
    assert_eq!(
        Message::parse_bytes(&with_payload(msg_type::LOOKUP, &[2, 0xc3, 0x28])),
        Err(WireError::BadName(NameError::NotUtf8))
    );
    assert_eq!(
        Message::parse_bytes(&with_payload(msg_type::ERROR, &[0, 1, 0, 1, 0xff])),
        Err(WireError::BadUtf8)
    );
}

#[test]
fn over_long_name() {
    let mut p = vec![(MAX_NAME_LEN + 1) as u8];
    p.extend(std::iter::repeat_n(b'a', MAX_NAME_LEN + 1));
    assert_eq!(
        Message::parse_bytes(&with_payload(msg_type::LOOKUP, &p)),
        Err(WireError::BadName(NameError::TooLong(MAX_NAME_LEN + 1)))
    );
}

#[test]
fn names_breaking_the_rules() {
    for bad in [&b"a b"[..], b"a\n", b"-a", b"", b"a."] {
        let mut p = vec![bad.len() as u8];
        p.extend_from_slice(bad);
        assert!(matches!(
            Message::parse_bytes(&with_payload(msg_type::LOOKUP, &p)),
            Err(WireError::BadName(_))
        ));
    }
}

#[test]
fn trailing_bytes() {
    let mut p = Message::Lookup(Name::new("bob").unwrap()).to_bytes();
    p[5] += 1;
    p.push(0);
    assert_eq!(Message::parse_bytes(&p), Err(WireError::TrailingBytes(1)));
    assert_eq!(
        Message::parse_bytes(&with_payload(msg_type::UNREGISTER, &[0])),
        Err(WireError::TrailingBytes(1))
    );
    // Bytes after a whole frame in the buffer handed to parse_bytes.
    let mut two = Message::Unregister.to_bytes();
    two.push(0x50);
    assert_eq!(Message::parse_bytes(&two), Err(WireError::TrailingBytes(1)));
}

#[test]
fn bad_address_family_and_flags() {
    assert_eq!(
        Message::parse_bytes(&with_payload(
            msg_type::REGISTER,
            &[1, b'a', 5, 1, 2, 3, 4, 0, 1]
        )),
        Err(WireError::BadAddressFamily(5))
    );
    assert_eq!(
        Message::parse_bytes(&with_payload(msg_type::LIST_REPLY, &[0x02, 0, 0])),
        Err(WireError::BadFlags(0x02))
    );
}

#[test]
fn list_reply_count_larger_than_entries() {
    assert_eq!(
        Message::parse_bytes(&with_payload(msg_type::LIST_REPLY, &[0, 0xff, 0xff])),
        Err(WireError::Truncated)
    );
}

#[test]
fn over_long_error_text() {
    let n = MAX_TEXT_LEN + 1;
    let mut p = vec![0, 1];
    p.extend_from_slice(&(n as u16).to_be_bytes());
    p.extend(std::iter::repeat_n(b'x', n));
    assert_eq!(
        Message::parse_bytes(&with_payload(msg_type::ERROR, &p)),
        Err(WireError::TextTooLong(n))
    );
}

/// Every prefix and every single-byte corruption of every fixture-like message
/// parses or fails cleanly; a pseudo-random sweep covers the rest.
#[test]
fn no_input_panics() {
    let samples = [
        Message::Register(Register::signed(
            &crate::identity::Identity::from_seed(&[3; 32]),
            Name::new("alice").unwrap(),
            "192.0.2.1:4701".parse().unwrap(),
            &[9; NONCE_LEN],
        )),
        Message::Challenge([0xff; NONCE_LEN]),
        Message::List { after: None },
        Message::Error(ErrorMsg::new(ErrorCode::BadName, "x")),
        Message::Goodbye(GoodbyeReason::Replaced),
    ];
    for m in &samples {
        let b = m.to_bytes();
        for i in 0..b.len() {
            for v in [0u8, 1, 0x7f, 0x80, 0xff] {
                let mut c = b.clone();
                c[i] = v;
                let _ = Message::parse_bytes(&c);
            }
        }
    }
    // xorshift: deterministic, no RNG dependency.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 40) as usize;
        let mut buf = vec![0x50, 0x43, VERSION, (x >> 8) as u8, 0, len as u8];
        for k in 0..len {
            buf.push((x >> (k % 56)) as u8);
        }
        let _ = Message::parse_bytes(&buf);
    }
}

#[test]
fn call_messages_truncated_or_padded() {
    let invite = Message::Invite(Invite {
        call_id: CallId(7),
        caller: Name::new("bob").unwrap(),
        ports: MediaPorts { audio: 1, video: 2 },
        media: MediaDescription {
            video: VideoFormat {
                codec: VideoCodec::Unknown(9),
                width: 1,
                height: 1,
                fps: 1,
            },
            audio: AudioFormat {
                codec: AudioCodec::None,
                sample_rate: 0,
                channels: 0,
                frame_ms: 0,
            },
        },
    })
    .to_bytes();
    for cut in HEADER_LEN..invite.len() {
        let mut short = invite[..cut].to_vec();
        short[5] = (cut - HEADER_LEN) as u8;
        assert_eq!(
            Message::parse_bytes(&short),
            Err(WireError::Truncated),
            "cut {cut}"
        );
    }
    let mut long = invite.clone();
    long[5] += 1;
    long.push(0);
    assert_eq!(
        Message::parse_bytes(&long),
        Err(WireError::TrailingBytes(1))
    );
    assert_eq!(
        Message::parse_bytes(&with_payload(msg_type::BYE, &[1, 2, 3, 4, 5, 6, 7])),
        Err(WireError::Truncated)
    );
}

#[test]
fn challenge_and_register_keys_truncated_padded_or_off_the_curve() {
    assert_eq!(
        Message::parse_bytes(&with_payload(msg_type::CHALLENGE, &[0; NONCE_LEN - 1])),
        Err(WireError::Truncated)
    );
    assert_eq!(
        Message::parse_bytes(&with_payload(msg_type::CHALLENGE, &[0; NONCE_LEN + 1])),
        Err(WireError::TrailingBytes(1))
    );
    let good = Message::Register(Register::signed(
        &crate::identity::Identity::from_seed(&[5; 32]),
        Name::new("a").unwrap(),
        "192.0.2.1:4701".parse().unwrap(),
        &[1; NONCE_LEN],
    ))
    .to_bytes();
    // Name (2) and address (7) come before the key.
    let key_at = HEADER_LEN + 2 + 7;
    let mut off_curve = good.clone();
    off_curve[key_at..key_at + 32].copy_from_slice(&{
        let mut k = [0u8; 32];
        k[0] = 2; // y = 2 is on no Ed25519 point
        k
    });
    assert_eq!(Message::parse_bytes(&off_curve), Err(WireError::BadKey));
    assert_eq!(WireError::BadKey.to_error_msg().code, ErrorCode::Malformed);
    for cut in HEADER_LEN..good.len() {
        let mut short = good[..cut].to_vec();
        short[5] = (cut - HEADER_LEN) as u8;
        assert_eq!(
            Message::parse_bytes(&short),
            Err(WireError::Truncated),
            "cut {cut}"
        );
    }
    // An entry with a key that is no point is refused too.
    let mut found = vec![1, b'a'];
    found.extend_from_slice(&off_curve[key_at..key_at + 32]);
    found.extend_from_slice(&[4, 127, 0, 0, 1, 0, 1, 4, 127, 0, 0, 1, 0, 2, 0, 0, 0, 0]);
    assert_eq!(
        Message::parse_bytes(&with_payload(msg_type::FOUND, &found)),
        Err(WireError::BadKey)
    );
}
