//! The SRTP keys of a call's media (docs/protocol.md §13). The call's
//! authenticated handshake leaves both sides with the same 64-byte media
//! secret; each side derives from it, with HKDF-SHA256 (RFC 5869), four SRTP
//! master keys and salts: one per direction (caller to callee, callee to
//! caller) and per stream (audio, video), under distinct labels, so no key
//! ever protects two senders' packets and what one side sends under a key is
//! what the other side receives under it. The media session
//! ([`super::session`]) hands them to libsrtp2 (through `peercall-srtp`).
//!
//! ```text
//!  media secret (64 B, from the handshake)
//!     └─ HKDF-Extract(salt = none) ─► PRK
//!          ├─ Expand("peercall srtp v1 caller audio", 28) ─► caller's audio send key
//!          ├─ Expand("peercall srtp v1 caller video", 28) ─► caller's video send key
//!          ├─ Expand("peercall srtp v1 callee audio", 28) ─► callee's audio send key
//!          └─ Expand("peercall srtp v1 callee video", 28) ─► callee's video send key
//! ```

use hkdf::Hkdf;
use sha2::Sha256;
use std::fmt;

pub use peercall_srtp::Profile;

/// The SRTP profile of every call, for SRTP and SRTCP: AEAD_AES_128_GCM
/// (RFC 7714), the cheaper of the two on a board without AES instructions
/// (docs/architecture.md, "Media encryption", has the measurements).
pub const PROFILE: Profile = Profile::AeadAes128Gcm;
/// Bytes of one SRTP master key followed by its master salt for
/// [`PROFILE`]: a 16-byte AES-128 key and a 12-byte salt.
pub const MASTER_LEN: usize = PROFILE.master_len();
/// Bytes of the secret the handshake hands the media.
pub const MEDIA_SECRET_LEN: usize = 64;
/// The start of every HKDF label; the version changes if the derivation does.
pub const LABEL_PREFIX: &str = "peercall srtp v1";

/// One SRTP master key and master salt, in that order (what libsrtp2
/// takes). Debug never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey(pub [u8; MASTER_LEN]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// The master keys of one direction of a call: one per stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamKeys {
    /// For the Opus stream's SRTP and SRTCP.
    pub audio: MasterKey,
    /// For the MJPEG stream's SRTP and SRTCP, its retransmissions and FEC.
    pub video: MasterKey,
}

/// A call's SRTP keys as one side holds them: what it protects its packets
/// with, and what it expects the other side's under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaKeys {
    /// Keys of what we send.
    pub send: StreamKeys,
    /// Keys of what we receive: the other side's send keys.
    pub receive: StreamKeys,
}

/// Which side of the call a key's sender is, in the labels.
fn side(caller: bool) -> &'static str {
    if caller {
        "caller"
    } else {
        "callee"
    }
}

impl MediaKeys {
    /// The keys of the side that placed the call (`we_are_caller`) or
    /// answered it, from the handshake's media secret: both sides derive
    /// the same four keys, each sending under its own role's.
    pub fn derive(media_secret: &[u8; MEDIA_SECRET_LEN], we_are_caller: bool) -> MediaKeys {
        let prk = Hkdf::<Sha256>::new(None, media_secret);
        let key = |caller: bool, stream: &str| {
            let label = format!("{LABEL_PREFIX} {} {stream}", side(caller));
            let mut out = [0u8; MASTER_LEN];
            // 28 bytes are far below HKDF-SHA256's limit of 255 * 32.
            prk.expand(label.as_bytes(), &mut out)
                .unwrap_or_else(|_| unreachable!("{MASTER_LEN} bytes is a valid HKDF length"));
            MasterKey(out)
        };
        let keys = |caller: bool| StreamKeys {
            audio: key(caller, "audio"),
            video: key(caller, "video"),
        };
        MediaKeys {
            send: keys(we_are_caller),
            receive: keys(!we_are_caller),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector of docs/protocol.md §13.
    const SECRET: [u8; MEDIA_SECRET_LEN] = {
        let mut s = [0u8; MEDIA_SECRET_LEN];
        let mut i = 0;
        while i < MEDIA_SECRET_LEN {
            s[i] = i as u8;
            i += 1;
        }
        s
    };

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn a_fixed_secret_gives_the_documented_keys() {
        let k = MediaKeys::derive(&SECRET, true);
        assert_eq!(
            hex(&k.send.audio.0),
            "4057e372066790feb8c89ba34b38e958070fc6e30db65155218cbeaf"
        );
        assert_eq!(
            hex(&k.send.video.0),
            "7e8de76eee75d85a8841e56f6347156738ef8349adabbfa5888b2b86"
        );
        assert_eq!(
            hex(&k.receive.audio.0),
            "517cfdb77d6593cf47aa8fe71313668f2557574950c8a04d5d329d33"
        );
        assert_eq!(
            hex(&k.receive.video.0),
            "bc4305373dcf60965f6820a14fd4a7dff0ac179c808833c27f2d02a5"
        );
    }

    #[test]
    fn each_sides_send_keys_are_the_others_receive_keys() {
        let caller = MediaKeys::derive(&SECRET, true);
        let callee = MediaKeys::derive(&SECRET, false);
        assert_eq!(caller.send, callee.receive);
        assert_eq!(caller.receive, callee.send);
        // Four distinct keys: no two senders or streams share one.
        let all = [
            &caller.send.audio,
            &caller.send.video,
            &callee.send.audio,
            &callee.send.video,
        ];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        let mut other = SECRET;
        other[63] ^= 1;
        assert_ne!(MediaKeys::derive(&other, true), caller);
    }

    #[test]
    fn debug_never_shows_key_bytes() {
        let k = MediaKeys::derive(&[0xab; MEDIA_SECRET_LEN], true);
        assert!(!format!("{k:?}").contains("171"));
        assert!(!format!("{k:?}").to_lowercase().contains("ab"));
    }
}
