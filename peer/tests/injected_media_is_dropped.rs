//! Media that does not authenticate is never shown: a caller that did the
//! handshake sends, from its announced video port (the address a spoofer
//! would forge), first RTP/JPEG frames in clear, then the same frames under
//! the call's SRTP keys. The callee drops and counts every clear packet
//! (SRTP authentication failures), shows none of those frames, and shows the
//! encrypted ones.

use peercall::media::jpeg::packetize;
use peercall::media::rtp::{RtpHeader, PT_JPEG};
use peercall::wire::{CallId, Message};
use peercall_testkit::noise::{printed_key, MediaCaller};
use peercall_testkit::test_identity;
use peercall_testkit::{number_after, start_peer_with, Registry};
use std::net::SocketAddr;
use std::time::Duration;

const JPEG: &[u8] = include_bytes!("../../tests/data/jpeg/cjpeg-320x240-420-q75.jpg");
/// Frames sent each way (in clear, then encrypted).
const FRAMES: u32 = 20;

#[test]
fn clear_rtp_from_the_right_address_is_dropped_counted_and_never_shown() {
    let reg = Registry::start(&[]);
    let (mut bob, addr) = start_peer_with("bob", &reg.arg(), &["--auto-accept-anyone"]);
    bob.expect("registered as bob");
    let call_addr: SocketAddr = addr.parse().unwrap();
    let id = CallId(11);
    let mallory = MediaCaller::call(
        call_addr,
        &test_identity("3"),
        printed_key(&bob),
        id,
        (320, 240),
    );
    let (mut c, video, bob_video) = (mallory.signalling, mallory.video, mallory.callee_video);
    let fragments: Vec<_> = packetize(JPEG, 1200).unwrap().collect();
    let mut srtp = c.video_sender();
    let (mut seq, mut ts) = (500_u16, 9_000_u32);
    let mut clear_packets = 0u64;
    for encrypted in [false, true] {
        for _ in 0..FRAMES {
            for f in &fragments {
                let rtp = RtpHeader {
                    marker: f.marker,
                    payload_type: PT_JPEG,
                    sequence: seq,
                    timestamp: ts,
                    ssrc: 0x0bad_cafe,
                }
                .to_bytes(&f.payload);
                let bytes = if encrypted {
                    srtp.protect_rtp(&rtp).unwrap()
                } else {
                    clear_packets += 1;
                    rtp
                };
                video.send_to(&bytes, bob_video).unwrap();
                seq = seq.wrapping_add(1);
            }
            ts = ts.wrapping_add(3000);
            std::thread::sleep(Duration::from_millis(33));
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    c.send(&Message::Bye(id));
    let line = bob.expect("  video: sent");
    let network = bob.expect("  network:");
    let shown = number_after(&line, "shown ");
    let failed = number_after(&network, "SRTP authentication failures dropped ");
    eprintln!(
        "clear packets {clear_packets}, authentication failures {failed}, frames shown {shown}"
    );
    assert_eq!(failed, clear_packets, "{network}");
    // Only the encrypted frames show (one may be lost to the stream's
    // start, as a receiver may drop a stream's very first frame).
    assert!(
        shown <= u64::from(FRAMES) && shown + 1 >= u64::from(FRAMES),
        "{line}"
    );
}
