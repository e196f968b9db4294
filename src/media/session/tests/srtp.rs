//! Encrypted calls (SRTP and SRTCP, docs/protocol.md §13): a call with keys
//! runs as a plain one does while nothing on the wire is plain, and what
//! does not authenticate under the other side's keys (plain RTP, another
//! key, a flipped bit) or comes again is dropped unparsed, counted, and
//! never shown or played.

use super::*;

fn encrypted(secret: [u8; 64]) -> Pair {
    Pair::new(Setup {
        srtp: Some(secret),
        ..Setup::default()
    })
}

/// Alice's video address, as Bob's session expects it.
fn alice_video() -> SocketAddr {
    SocketAddr::from((A_IP, 5000))
}

fn alice_audio() -> SocketAddr {
    SocketAddr::from((A_IP, 5002))
}

/// Datagrams the session queued, taken out without delivering them.
fn take_sent(s: &mut MediaSession) -> Vec<Transmit> {
    let mut out = Vec::new();
    while let Some(o) = s.poll_output() {
        if let Output::Transmit(t) = o {
            out.push(t);
        }
    }
    out
}

#[test]
fn an_encrypted_call_shows_and_plays_what_a_plain_one_does() {
    let mut plain = Pair::clean();
    let mut enc = encrypted(SECRET);
    plain.run_until(Duration::from_secs(3));
    enc.run_until(Duration::from_secs(3));
    for (p, e) in [(&plain.b, &enc.b), (&plain.a, &enc.a)] {
        assert!(e.shown.len() >= 85, "shown {}", e.shown.len());
        assert_eq!(e.shown.len(), p.shown.len());
        assert_eq!(e.played_frames(), p.played_frames());
        let q = e.s.report(enc.now);
        assert_eq!((q.srtp_auth_failed, q.srtp_replayed), (0, 0));
        assert!(
            e.delivered
                .iter()
                .all(|(_, _, r)| matches!(r, Received::Rtp | Received::Rtcp)),
            "every datagram authenticated"
        );
    }
    // The same seeds send the same packets: on the wire, the encrypted
    // call's keep their headers and carry ciphertext and a tag instead of
    // the payload; its RTCP keeps the header and SSRC, then ciphertext,
    // the tag and the SRTCP index.
    assert_eq!(plain.a.sent.len(), enc.a.sent.len());
    let (mut rtp, mut rtcp) = (0, 0);
    for ((_, p), (_, e)) in plain.a.sent.iter().zip(&enc.a.sent) {
        let clear = match classify(&p.bytes) {
            Kind::Rtp => {
                rtp += 1;
                assert_eq!(e.bytes.len(), p.bytes.len() + 16);
                12
            }
            Kind::Rtcp => {
                rtcp += 1;
                assert_eq!(e.bytes.len(), p.bytes.len() + 16 + 4);
                8
            }
            Kind::Unknown => unreachable!("we send RTP and RTCP"),
        };
        assert_eq!(e.bytes[..clear], p.bytes[..clear]);
        let (pp, ep) = (&p.bytes[clear..], &e.bytes[clear..]);
        let same = pp.iter().zip(ep).filter(|(x, y)| x == y).count();
        // Chance agreement only (1 in 256 per byte), never the plaintext.
        assert!(same * 16 <= pp.len().max(16), "{same} of {}", pp.len());
    }
    assert!(rtp > 100 && rtcp > 2, "{rtp} RTP, {rtcp} RTCP");
}

#[test]
fn injected_plain_or_wrongly_keyed_rtp_is_dropped_counted_and_never_shown() {
    // What an attacker could send: the packets of a call the same seeds
    // would make, in the clear or under another secret, from Alice's
    // address and with her SSRCs and sequence numbers.
    let mut other_key = SECRET;
    other_key[0] ^= 1;
    for (what, mut forger) in [
        ("plain", Pair::clean()),
        ("another key", encrypted(other_key)),
    ] {
        let mut p = encrypted(SECRET);
        // Bob hears nothing from Alice: only the forgeries.
        p.a.next_video = None;
        p.a.next_audio = None;
        forger.run_until(Duration::from_secs(1));
        let now = p.now;
        let mut dropped = 0;
        for (_, t) in &forger.a.sent {
            let from = match t.stream {
                StreamKind::Video => alice_video(),
                StreamKind::Audio => alice_audio(),
            };
            let r = p.b.s.handle_packet(now, t.stream, from, &t.bytes);
            assert_eq!(r, Received::Unauthenticated, "{what}");
            dropped += 1;
        }
        assert!(dropped > 50, "{what}: {dropped}");
        let q = p.b.s.report(now);
        assert_eq!(q.srtp_auth_failed, dropped, "{what}");
        assert_eq!(q.srtp_replayed, 0, "{what}");
        assert!(q
            .json("alice")
            .contains(&format!("\"srtp_auth_failed_packets\":{dropped}")));
        assert!(q.lines("alice")[6]
            .contains(&format!("SRTP authentication failures dropped {dropped}")));
        p.run_until(Duration::from_secs(2));
        assert!(p.b.shown.is_empty(), "{what}: nothing shown");
        assert!(p.b.played_frames().is_empty(), "{what}: nothing played");
        let q = p.b.s.report(p.now);
        assert_eq!((q.video_frames_received, q.audio.played), (0, 0), "{what}");
    }
}

#[test]
fn a_flipped_bit_fails_authentication_and_a_replay_is_dropped() {
    let mut p = encrypted(SECRET);
    p.run_until(Duration::from_secs(1));
    let now = p.now;
    // A packet Alice sends now, held back from the link.
    p.a.s.send_audio_frame(now, now, &opus_frame(9999));
    let sent = take_sent(&mut p.a.s);
    let packet = &sent
        .iter()
        .find(|t| t.stream == StreamKind::Audio && classify(&t.bytes) == Kind::Rtp)
        .expect("an audio packet")
        .bytes;
    let mut b = |bytes: &[u8]| {
        p.b.s
            .handle_packet(now, StreamKind::Audio, alice_audio(), bytes)
    };
    // Every bit past the header (a flipped header bit is covered too, but
    // a changed SSRC is another stream): each fails authentication.
    let mut flipped = 0;
    for bit in 12 * 8..packet.len() * 8 {
        let mut bad = packet.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(b(&bad), Received::Unauthenticated, "bit {bit}");
        flipped += 1;
    }
    // The original still authenticates; sent again, it is a replay.
    assert_eq!(b(packet), Received::Rtp);
    assert_eq!(b(packet), Received::Unauthenticated);
    assert_eq!(b(packet), Received::Unauthenticated);
    let q = p.b.s.report(now);
    assert_eq!(q.srtp_auth_failed, flipped);
    assert_eq!(q.srtp_replayed, 2);
    assert!(q.json("alice").contains("\"srtp_replayed_packets\":2"));
    // The flipped and replayed copies reached no playout: only the
    // original is played, once.
    p.run_until(Duration::from_secs(2));
    let played = p.b.played_frames();
    assert_eq!(played.iter().filter(|&&n| n == 9999).count(), 1);
}

#[test]
fn srtcp_that_fails_or_repeats_is_dropped_and_counted() {
    let mut p = encrypted(SECRET);
    p.run_until(Duration::from_secs(2));
    let now = p.now;
    assert!(
        p.b.s.video.as_ref().and_then(|v| v.rtt).is_some(),
        "SRTCP carried the reports"
    );
    // A report Alice sends now, held back from the link.
    p.a.s.video.as_mut().unwrap().next_rtcp = Some(now);
    p.a.s.handle_timeout(now);
    let report = take_sent(&mut p.a.s)
        .into_iter()
        .find(|t| t.stream == StreamKind::Video && classify(&t.bytes) == Kind::Rtcp)
        .expect("a video report")
        .bytes;
    let ssrc = p.b.s.video.as_ref().and_then(|v| v.rx.ssrc).unwrap();
    let mut b = |bytes: &[u8]| {
        p.b.s
            .handle_packet(now, StreamKind::Video, alice_video(), bytes)
    };
    // A plain compound (a BYE in Alice's name).
    let bye = Rtcp::Bye(crate::media::rtp::Bye {
        sources: vec![ssrc],
        reason: None,
    });
    assert_eq!(b(&bye.to_bytes()), Received::Unauthenticated);
    // The report with a flipped bit in its ciphertext, its tag, its index
    // (raised by 256: an index not yet seen, so it is the tag that fails).
    let n = report.len();
    for at in [10, n - 10, n - 2] {
        let mut bad = report.clone();
        bad[at] ^= 0x01;
        assert_eq!(b(&bad), Received::Unauthenticated, "byte {at}");
    }
    // The report itself, then again: a replay.
    assert_eq!(b(&report), Received::Rtcp);
    assert_eq!(b(&report), Received::Unauthenticated);
    let q = p.b.s.report(now);
    assert_eq!((q.srtp_auth_failed, q.srtp_replayed), (4, 1));
    // No BYE came through: the call goes on.
    p.run_until(Duration::from_secs(3));
    assert!(p.b.events.is_empty(), "{:?}", p.b.events);
}

#[test]
fn forwarded_copies_are_the_plain_packets() {
    let mut plain = Pair::clean();
    let mut enc = encrypted(SECRET);
    plain.run_until(Duration::from_millis(500));
    enc.run_until(Duration::from_millis(500));
    // Alice's next packets, from both calls (the same seeds, so the same
    // plain packets): Bob's encrypted session hands back the plain one.
    let now = enc.now;
    enc.a.s.send_audio_frame(now, now, &opus_frame(7));
    plain
        .a
        .s
        .send_audio_frame(plain.now, plain.now, &opus_frame(7));
    let audio_rtp = |sent: Vec<Transmit>| {
        sent.into_iter()
            .find(|t| t.stream == StreamKind::Audio && classify(&t.bytes) == Kind::Rtp)
            .expect("an audio packet")
            .bytes
    };
    let e = audio_rtp(take_sent(&mut enc.a.s));
    let pl = audio_rtp(take_sent(&mut plain.a.s));
    let (e, pl) = (&e, &pl);
    assert_ne!(e, pl);
    let (r, copy) = enc
        .b
        .s
        .handle_packet_plain(now, StreamKind::Audio, alice_audio(), e);
    assert_eq!(r, Received::Rtp);
    assert_eq!(copy.as_deref(), Some(&pl[..]));
    // A refused datagram gives no copy.
    let (r, copy) = enc
        .b
        .s
        .handle_packet_plain(now, StreamKind::Audio, alice_audio(), e);
    assert_eq!((r, copy), (Received::Unauthenticated, None));
}
