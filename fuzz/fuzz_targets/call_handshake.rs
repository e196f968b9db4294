//! Any bytes as the call port's handshake and sealed messages (issue 16):
//! the first byte picks what they are fed to, the rest is the message.
//!
//! - 0: HANDSHAKE INIT to a callee (`secure::respond`);
//! - 1: HANDSHAKE REPLY to a caller that sent a real INIT;
//! - 2: a SEALED payload to a channel after a real handshake, which must
//!   still seal and open a real message afterwards on a fresh pair;
//! - 3: a stream of frames into a callee's phone on an accepted connection
//!   (handshake, sealed, plaintext, anything), which must not panic.
//!
//! Nothing may panic; what opens must be a message that re-emits to bytes
//! that parse back to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peercall::call::secure::{self, Initiator, Secured};
use peercall::call::{self, Phone};
use peercall::identity::Identity;
use peercall::wire::{
    AudioCodec, AudioFormat, FrameReader, MediaDescription, Message, Name, VideoCodec,
    VideoFormat,
};
use peercall::ConnId;
use std::time::{Duration, Instant};

fn alice() -> Identity {
    Identity::from_seed(&[1; 32])
}

fn bob() -> Identity {
    Identity::from_seed(&[2; 32])
}

fn pair() -> (Secured, Secured) {
    let (init, hello) = Initiator::start(&alice(), bob().public(), [3; 32]);
    let (b, reply) = secure::respond(&bob(), &hello, [4; 32]).expect("a good handshake");
    (init.finish(&reply).expect("a good reply"), b)
}

fn phone() -> Phone {
    let audio = AudioFormat {
        codec: AudioCodec::Opus,
        sample_rate: 48_000,
        channels: 1,
        frame_ms: 20,
    };
    let video = VideoFormat {
        codec: VideoCodec::Mjpeg,
        width: 640,
        height: 480,
        fps: 30,
    };
    Phone::new(call::Config {
        name: Name::new("bob").expect("a name"),
        identity: bob(),
        media: MediaDescription { video, audio },
        answer_timeout: call::DEFAULT_ANSWER_TIMEOUT,
        silence_timeout: call::DEFAULT_SILENCE_TIMEOUT,
    })
}

fn check_opened(msg: &Message) {
    let bytes = msg.to_bytes();
    assert_eq!(&Message::parse_bytes(&bytes).expect("re-parses"), msg);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => {
            if let Ok((mut ch, reply)) = secure::respond(&bob(), rest, [4; 32]) {
                assert_eq!(reply.len(), secure::REPLY_LEN);
                // Whoever made it, the channel seals.
                let _ = ch.seal(&Message::Ping(1)).expect("seals");
            }
        }
        1 => {
            let (init, _) = Initiator::start(&alice(), bob().public(), [3; 32]);
            if let Ok(ch) = init.finish(rest) {
                assert_eq!(ch.peer_key(), bob().public());
            }
        }
        2 => {
            let (_, mut b) = pair();
            if let Ok(msg) = b.open(rest) {
                check_opened(&msg);
            }
            let (mut a, mut b) = pair();
            let Message::Sealed(s) = a.seal(&Message::Ping(9)).expect("seals") else {
                panic!("seal gives SEALED");
            };
            assert_eq!(b.open(&s).expect("opens"), Message::Ping(9));
        }
        _ => {
            let mut p = phone();
            let t0 = Instant::now();
            let conn = ConnId(1);
            p.incoming(t0, conn, [5; 32]);
            let mut reader = FrameReader::new();
            reader.push(rest);
            let mut n = 0u64;
            while let Ok(Some(f)) = reader.next_frame() {
                if let Ok(m) = Message::parse(&f) {
                    n += 1;
                    p.received(t0 + Duration::from_millis(n), conn, m);
                    while p.poll_output().is_some() {}
                }
            }
            p.handle_timeout(t0 + Duration::from_secs(60));
            while p.poll_output().is_some() {}
        }
    }
});
