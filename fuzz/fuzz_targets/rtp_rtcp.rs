//! Any datagram given to the RTP and RTCP parsers: no panic; an RTP packet
//! re-emitted from its parsed header and payload parses back the same, and a
//! parsed RTCP compound re-emitted parses back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peercall::media::rtp::{Rtcp, RtpHeader};

fuzz_target!(|data: &[u8]| {
    if let Ok((header, payload)) = RtpHeader::parse(data) {
        let bytes = header.to_bytes(payload);
        let (again, p2) = RtpHeader::parse(&bytes).expect("emitted RTP parses");
        assert_eq!(again, header);
        assert_eq!(p2, payload);
    }
    if let Ok(packets) = Rtcp::parse_compound(data) {
        let mut bytes = Vec::new();
        for p in &packets {
            bytes.extend_from_slice(&p.to_bytes());
        }
        let again = Rtcp::parse_compound(&bytes).expect("emitted RTCP parses");
        assert_eq!(again, packets);
    }
});
