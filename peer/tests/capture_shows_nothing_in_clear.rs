//! A call as someone on the network sees it: a tcpdump capture of a whole
//! call between two real peers on loopback shows neither the caller's name
//! on the call port (signalling is inside the Noise handshake's encryption)
//! nor a readable RTP/JPEG payload header (media is SRTP).
//!
//! Each peer has an address of its own in 127.0.0.0/8, so the capture
//! filter sees only this call, whatever other tests run beside it.

use peercall::media::jpeg::{MainHeader, Payload, Subsampling};
use peercall::media::rtp::RtpHeader;
use peercall_testkit::capture::{Capture, Packet, Transport};
use peercall_testkit::{start_peer_with, Registry};
use std::time::Duration;

const CALLER_IP: &str = "127.0.13.1";
const CALLEE_IP: &str = "127.0.13.2";
/// The call's picture (the peers' default size), in 8-pixel blocks.
const BLOCKS: (u8, u8) = ((640 / 8) as u8, (480 / 8) as u8);
const CALLER: &str = "alice-in-the-capture";

/// Whether a UDP payload is RTP carrying a JPEG payload header anyone can
/// read: payload type 26 whose payload parses as RFC 2435 for this call's
/// picture size.
fn plain_jpeg(udp: &[u8]) -> bool {
    let Ok((h, payload)) = RtpHeader::parse(udp) else {
        return false;
    };
    if h.payload_type != 26 {
        return false;
    }
    Payload::parse(payload).is_ok_and(|p| (p.header.width_blocks, p.header.height_blocks) == BLOCKS)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn the_detector_sees_a_plain_rtp_jpeg_packet() {
    // So the test below cannot pass by looking for something that is never there.
    let header = RtpHeader {
        marker: false,
        payload_type: 26,
        sequence: 1,
        timestamp: 2,
        ssrc: 3,
    };
    let tables = [1u8; 128];
    let payload = Payload {
        header: MainHeader {
            type_specific: 0,
            fragment_offset: 0,
            subsampling: Subsampling::Yuv420,
            q: 255,
            width_blocks: BLOCKS.0,
            height_blocks: BLOCKS.1,
        },
        restart: None,
        quant_tables: Some(&tables),
        data: &[0xff, 0xd9],
    }
    .to_vec();
    let mut packet = vec![0u8; header.buffer_len(payload.len())];
    header.emit_header(&mut packet);
    packet[12..].copy_from_slice(&payload);
    assert!(plain_jpeg(&packet));
}

#[test]
fn a_captured_call_shows_no_name_on_the_call_port_and_no_plain_jpeg() {
    let reg = Registry::start(&[]);
    let registry_port = reg.addr.port();
    let capture = Capture::start(&format!(
        "(host {CALLER_IP} or host {CALLEE_IP}) and not port {registry_port}"
    ))
    .unwrap_or_else(|e| panic!("cannot capture, so cannot check: {e}"));

    let (mut bob, bob_addr) = start_peer_with(
        "bob",
        &reg.arg(),
        &[
            "--listen",
            &format!("{CALLEE_IP}:0"),
            "--auto-accept-anyone",
        ],
    );
    bob.expect("registered as bob");
    let call_port: u16 = bob_addr
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("bob's call port");
    let (mut alice, _) =
        start_peer_with(CALLER, &reg.arg(), &["--listen", &format!("{CALLER_IP}:0")]);
    alice.expect(&format!("registered as {CALLER}"));
    alice.send_line("call bob");
    alice.expect("bob accepted: call established");
    std::thread::sleep(Duration::from_secs(3));
    alice.send_line("hangup");
    alice.expect("ended: hung up after");
    bob.expect("ended: the other side hung up after");
    let packets = capture.stop().expect("reading the capture");

    let on_call_port = |p: &&Packet| {
        p.transport == Transport::Tcp && (p.src.port() == call_port || p.dst.port() == call_port)
    };
    let signalling: Vec<u8> = packets
        .iter()
        .filter(on_call_port)
        .flat_map(|p| p.payload.iter().copied())
        .collect();
    let media: Vec<&Packet> = packets
        .iter()
        .filter(|p| p.transport == Transport::Udp)
        .collect();
    eprintln!(
        "captured {} bytes of signalling on port {call_port} and {} media packets",
        signalling.len(),
        media.len()
    );
    assert!(
        signalling.len() > 100,
        "the call's signalling was not captured"
    );
    assert!(media.len() > 50, "the call's media was not captured");
    let plain = media.iter().filter(|p| plain_jpeg(&p.payload)).count();
    let mut readable = Vec::new();
    if contains(&signalling, CALLER.as_bytes()) {
        readable.push("the caller's name on the call port".to_string());
    }
    if contains(&signalling, b"bob") {
        readable.push("the callee's name on the call port".to_string());
    }
    if plain > 0 {
        readable.push(format!(
            "{plain} of {} media packets as RTP/JPEG",
            media.len()
        ));
    }
    assert!(readable.is_empty(), "readable in the capture: {readable:?}");
}
