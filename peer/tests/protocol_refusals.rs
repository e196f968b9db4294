//! What a peer refuses, and says why, when the other side asks for what it
//! cannot honour (docs/protocol.md 13): an offered picture that is not in
//! whole 8-pixel blocks or Opus frames it does not send get REJECT
//! UnsupportedMedia at once rather than a call with no video or the wrong
//! audio; and a caller refused with a reason code it does not know ends with
//! its own exit code (12), not the one for "declined".

use peercall::wire::{
    AudioCodec, AudioFormat, CallId, FrameReader, Invite, MediaDescription, MediaPorts, Message,
    Name, Register, RejectReason, VideoCodec, VideoFormat,
};
use peercall_testkit::{call_once, start_answering_peer, Client, Registry};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn offer(width: u16, height: u16, frame_ms: u8) -> MediaDescription {
    MediaDescription {
        video: VideoFormat {
            codec: VideoCodec::Mjpeg,
            width,
            height,
            fps: 30,
        },
        audio: AudioFormat {
            codec: AudioCodec::Opus,
            sample_rate: 48_000,
            channels: 1,
            frame_ms,
        },
    }
}

/// Reads frames from `s` until one parses to a message other than RINGING.
fn next_answer(s: &mut TcpStream, reader: &mut FrameReader) -> Message {
    let mut buf = [0u8; 4096];
    loop {
        while let Some(f) = reader.next_frame().expect("valid framing") {
            match Message::parse(&f).expect("a valid message") {
                Message::Ringing(_) => {}
                m => return m,
            }
        }
        let n = s.read(&mut buf).expect("an answer before the timeout");
        assert!(n > 0, "the callee closed without an answer");
        reader.push(&buf[..n]);
    }
}

#[test]
fn offers_the_callee_cannot_honour_are_refused_as_unsupported_media() {
    let reg = Registry::start(&[]);
    let mut bob = start_answering_peer("bob", &reg.arg(), &[]);
    let line = bob.output();
    let addr: SocketAddr = line
        .lines()
        .find_map(|l| l.strip_prefix("listening for calls on "))
        .expect("bob's call address")
        .trim()
        .parse()
        .expect("an address");
    for (n, media, reason) in [
        (1, offer(641, 480, 20), "641x480"),
        (2, offer(640, 482, 20), "640x482"),
        (3, offer(640, 480, 40), "40 ms"),
    ] {
        let mut s = TcpStream::connect(addr).expect("bob's call port");
        s.set_read_timeout(Some(WAIT)).unwrap();
        let invite = Message::Invite(Invite {
            call_id: CallId(n),
            caller: Name::new("mallory").unwrap(),
            ports: MediaPorts {
                audio: 40_000,
                video: 40_002,
            },
            media,
        });
        s.write_all(&invite.to_bytes()).unwrap();
        let answer = next_answer(&mut s, &mut FrameReader::new());
        assert_eq!(
            answer,
            Message::Reject {
                call_id: CallId(n),
                reason: RejectReason::UnsupportedMedia
            },
            "offer {n}"
        );
        bob.expect(reason);
    }
    // Bob is still there for a call it can honour.
    bob.send_line("status");
    bob.expect("no call");
}

#[test]
fn a_refusal_with_an_unknown_reason_ends_a_one_shot_call_with_exit_12() {
    let reg = Registry::start(&[]);
    // A callee of a newer version: registered by hand, answering REJECT 9.
    let callee = TcpListener::bind("127.0.0.1:0").unwrap();
    let callee_addr = callee.local_addr().unwrap();
    let mut link = Client::connect(reg.arg().parse().unwrap());
    let registered = link.ask(&Message::Register(Register {
        name: Name::new("newer").unwrap(),
        addr: callee_addr,
    }));
    assert!(
        matches!(registered, Message::Registered(_)),
        "{registered:?}"
    );
    let answering = std::thread::spawn(move || {
        let (mut s, _) = callee.accept().unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let Message::Invite(invite) = next_answer(&mut s, &mut FrameReader::new()) else {
            panic!("expected an INVITE");
        };
        let reject = Message::Reject {
            call_id: invite.call_id,
            reason: RejectReason::Unknown(9),
        };
        s.write_all(&reject.to_bytes()).unwrap();
        // Hold the connection until the caller has read it.
        let _ = s.read(&mut [0u8; 64]);
    });
    let (code, out, err) = call_once("newer", "alice", &reg.arg(), &[]);
    answering.join().unwrap();
    assert_eq!(code, 12, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        format!("{out}{err}").contains("reason 9"),
        "stdout:\n{out}\nstderr:\n{err}"
    );
    drop(link);
}
