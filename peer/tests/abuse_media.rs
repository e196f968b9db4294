//! Abuse suite (`make test-abuse`): odd media from a caller that speaks the
//! protocol by hand. Into a real call with an answering peer it sends a
//! stream of RTP/JPEG frames, and in the middle one packet whose timestamp
//! is a quarter of the clock's range ahead (right address, right source,
//! next sequence number), packets of another payload type on the video port
//! and packets from a port it never announced. The callee must keep showing
//! the frames after the bad packet (it may cost one frame), and count what it
//! dropped (issue 15, items 8 and 11).

use peercall::media::jpeg::packetize;
use peercall::media::rtp::{RtpHeader, PT_JPEG, PT_OPUS};
use peercall::wire::{CallId, Message};
use peercall_testkit::noise::{printed_key, MediaCaller};
use peercall_testkit::test_identity;
use peercall_testkit::{number_after, start_peer_with, Registry};
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

const JPEG: &[u8] = include_bytes!("../../tests/data/jpeg/cjpeg-320x240-420-q75.jpg");
/// Frames sent: 3 s at 30 fps.
const FRAMES: u32 = 90;
/// The frame after which the forged packet goes out.
const FORGED_AFTER: u32 = 30;
/// 90 kHz ticks per frame at 30 fps.
const TICKS: u32 = 3000;

#[test]
#[ignore = "abuse suite: make test-abuse"]
fn abuse_one_forged_far_ahead_packet_costs_at_most_a_frame_and_odd_packets_are_counted() {
    let reg = Registry::start(&[]);
    let (mut bob, addr) = start_peer_with("bob", &reg.arg(), &["--auto-accept-anyone"]);
    bob.expect("registered as bob");
    let call_addr: SocketAddr = addr.parse().unwrap();
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    let id = CallId(7);
    let mallory = MediaCaller::call(
        call_addr,
        &test_identity("1"),
        printed_key(&bob),
        id,
        (320, 240),
    );
    let (mut c, video, bob_video) = (mallory.signalling, mallory.video, mallory.callee_video);
    let fragments: Vec<_> = packetize(JPEG, 1200).unwrap().collect();
    let (ssrc, mut seq, mut ts) = (0x5eed_u32, 1000_u16, 90_000_u32);
    // The caller holds the call's keys: what it forges authenticates, so the
    // callee's own checks (not SRTP) must be what copes with it. The
    // stranger's packets go through a sender of their own (same key, own
    // state): SRTP refuses to protect one index twice.
    let mut srtp = c.video_sender();
    let mut stranger_srtp = c.video_sender();
    let rtp = |pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8]| {
        RtpHeader {
            marker,
            payload_type: pt,
            sequence: seq,
            timestamp: ts,
            ssrc,
        }
        .to_bytes(payload)
    };
    let mut send = |pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8]| {
        let sealed = srtp
            .protect_rtp(&rtp(pt, marker, seq, ts, ssrc, payload))
            .unwrap();
        video.send_to(&sealed, bob_video).unwrap();
    };
    for frame in 0..FRAMES {
        for f in &fragments {
            send(PT_JPEG, f.marker, seq, ts, ssrc, &f.payload);
            seq = seq.wrapping_add(1);
        }
        if frame == FORGED_AFTER {
            // One packet a quarter of the timestamp space ahead.
            let first = &fragments[0];
            send(
                PT_JPEG,
                true,
                seq,
                ts.wrapping_add(1 << 30),
                ssrc,
                &first.payload,
            );
            seq = seq.wrapping_add(1);
            // Opus's payload type on the video port, from the right source
            // (a source of its own, so the video's sequence runs on unbroken).
            for n in 0..5 {
                send(PT_OPUS, true, n, ts, ssrc ^ 1, &[0xfc; 40]);
            }
            // The right stream from a port never announced.
            for (n, f) in (0u16..).zip(&fragments) {
                let p = rtp(PT_JPEG, f.marker, seq.wrapping_add(n), ts, ssrc, &f.payload);
                let sealed = stranger_srtp.protect_rtp(&p).unwrap();
                stranger.send_to(&sealed, bob_video).unwrap();
            }
        }
        ts = ts.wrapping_add(TICKS);
        std::thread::sleep(Duration::from_millis(33));
    }
    // Let the last frames play out, then hang up.
    std::thread::sleep(Duration::from_millis(500));
    c.send(&Message::Bye(id));
    let line = bob.expect("  video: sent");
    let network = bob.expect("  network:");
    let shown = number_after(&line, "shown ");
    let foreign = number_after(&network, "foreign packets dropped ");
    let other_pt = number_after(&network, "packets of other payload types dropped ");
    eprintln!(
        "frames sent {FRAMES}, shown {shown}; foreign dropped {foreign}; other payload types dropped {other_pt}"
    );
    // The forged packet may show as a frame of its own, so count what is
    // missing rather than demand an exact total.
    assert!(
        shown + 1 >= u64::from(FRAMES),
        "one forged packet cost {} frames:\n{line}",
        u64::from(FRAMES).saturating_sub(shown)
    );
    assert!(foreign >= fragments.len() as u64, "{network}");
    assert_eq!(other_pt, 5, "{network}");
}
