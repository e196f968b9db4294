//! Any bytes given to the message parser: no panic, and whatever parses
//! emits to bytes that parse back to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peercall::wire::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = Message::parse_bytes(data) {
        let bytes = msg.to_bytes();
        let again = Message::parse_bytes(&bytes).expect("emitted bytes parse");
        assert_eq!(again, msg);
        // Unknown types drop their payload; everything else is byte-exact.
        if !matches!(msg, Message::Unknown(_)) {
            assert_eq!(bytes, data);
        }
    }
});
