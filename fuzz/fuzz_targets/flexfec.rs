//! Arbitrary datagrams as FlexFEC repair packets: no panic, and what parses
//! re-emits and parses back the same. The same bytes cut into a stream of
//! media and repair packets for one decoder: no panic and its bounds hold.
//! And media packets built from the bytes, protected by the encoder with one
//! of them dropped, come back byte for byte from the decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peercall::media::fec::{
    FecDecoder, FecEncoder, FecPacket, MAX_MEDIA_HISTORY, MAX_PENDING_FEC, MAX_PROTECTED_PACKET_LEN,
};
use peercall::media::rtp::RtpHeader;

fuzz_target!(|data: &[u8]| {
    if let Ok(packet) = FecPacket::parse(data) {
        let bytes = packet.to_bytes();
        let again = FecPacket::parse(&bytes).expect("emitted FEC packet parses");
        assert_eq!(again, packet);
    }

    // A stream: 2 length bytes, 1 kind byte (even: media, odd: FEC), bytes.
    let mut decoder = FecDecoder::new();
    let mut rest = data;
    while rest.len() >= 3 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]])) % 1600;
        let kind = rest[2];
        rest = &rest[3..];
        let (datagram, tail) = rest.split_at(len.min(rest.len()));
        rest = tail;
        if kind % 2 == 0 {
            let _ = decoder.media(datagram);
        } else {
            let _ = decoder.fec(datagram);
        }
        assert!(decoder.history_len() <= MAX_MEDIA_HISTORY);
        assert!(decoder.pending_len() <= MAX_PENDING_FEC);
    }

    // A group: per packet 1 byte of sequence step (1-8), 1 flags byte, 1
    // payload length byte; the payload bytes come from the input too.
    if data.len() < 4 {
        return;
    }
    let lost_pick = usize::from(data[0]);
    let mut seq = u16::from_be_bytes([data[1], data[2]]);
    let mut packets = Vec::new();
    let mut span = 0;
    for chunk in data[3..].chunks(3).take(40) {
        let [step, flags, len] = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let step = u16::from(step % 8) + 1;
        if span + usize::from(step) >= 110 {
            break;
        }
        if !packets.is_empty() {
            seq = seq.wrapping_add(step);
            span += usize::from(step);
        }
        let header = RtpHeader {
            marker: flags & 0x80 != 0,
            payload_type: flags & 0x7f,
            sequence: seq,
            timestamp: u32::from(flags) * 3000,
            ssrc: 0xabcd,
        };
        let payload: Vec<u8> = data
            .iter()
            .cycle()
            .skip(usize::from(len))
            .take(usize::from(len) * 5 % MAX_PROTECTED_PACKET_LEN)
            .copied()
            .collect();
        packets.push(header.to_bytes(&payload));
    }
    // The decoder learns the protected SSRC from media: at least one packet
    // of the group must arrive.
    if packets.len() < 2 {
        return;
    }
    let refs: Vec<&[u8]> = packets.iter().map(Vec::as_slice).collect();
    let fec = FecEncoder::new(1, 0)
        .protect(&refs, 0)
        .expect("a group within reach protects");
    let lost = lost_pick % packets.len();
    let mut decoder = FecDecoder::new();
    let mut got = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        if i != lost {
            got.extend(decoder.media(p));
        }
    }
    got.extend(decoder.fec(&fec).expect("own FEC packet parses"));
    assert_eq!(got, vec![packets[lost].clone()]);
});
