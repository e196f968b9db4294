//! SRTP and SRTCP (RFC 3711; AEAD_AES_128_GCM per RFC 7714) for peercall,
//! from libsrtp2, the reference implementation, built from the copy in
//! `vendor/libsrtp/` on OpenSSL's libcrypto (build.rs says why not the system's).
//! This crate is the only place peercall calls C: it holds the generated
//! bindings (from the linked library's `srtp2/srtp.h`), keeps every `unsafe` block
//! here with the reason it is sound, and offers two safe types: a
//! [`Sender`] that protects the packets one side sends and a [`Receiver`]
//! that authenticates, replay-checks and decrypts the other side's.
//!
//! ```text
//!  RTP/RTCP ──► Sender::protect_rtp / protect_rtcp ──► SRTP/SRTCP ──► network
//!  network ──► Receiver::unprotect_rtp / unprotect_rtcp ──► RTP/RTCP, or Err (drop it)
//! ```
//!
//! Each context serves every SSRC of its direction (libsrtp2's
//! `ssrc_any_outbound` / `ssrc_any_inbound` templates): a call's media SSRC,
//! its retransmission SSRC and its FEC SSRC share one master key, and
//! libsrtp2 keeps a separate packet index and replay window per SSRC. A
//! receiver creates a stream for a new SSRC only after one of its packets
//! authenticated, so forged packets cannot make it allocate.
//!
//! ```
//! use peercall_srtp::{Profile, Receiver, Sender};
//! let master = [7u8; 28];
//! let mut tx = Sender::new(Profile::AeadAes128Gcm, &master).unwrap();
//! let mut rx = Receiver::new(Profile::AeadAes128Gcm, &master).unwrap();
//! let rtp = [0x80, 96, 0, 1, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef, b'h', b'i'];
//! let srtp = tx.protect_rtp(&rtp).unwrap();
//! assert_ne!(&srtp[12..14], b"hi");
//! assert_eq!(rx.unprotect_rtp(&srtp).unwrap(), rtp);
//! ```

use std::fmt;
use std::sync::{Mutex, OnceLock};

/// The generated bindings (build.rs), kept private: only the safe types
/// below leave this crate.
#[allow(
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    dead_code,
    clippy::all
)]
mod sys {
    include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
}

/// Bytes of an AES-128 master key.
pub const AES_128_KEY_LEN: usize = 16;
/// Bytes of the master salt of AEAD_AES_128_GCM (RFC 7714 section 8.1).
pub const GCM_SALT_LEN: usize = 12;
/// Bytes of the master salt of AES_CM_128_HMAC_SHA1_80 (RFC 3711 section 8.2).
pub const CM_SALT_LEN: usize = 14;
/// The largest master key plus salt of the profiles offered.
pub const MAX_MASTER_LEN: usize = AES_128_KEY_LEN + CM_SALT_LEN;
/// The largest packet accepted, protected or not: a UDP datagram's payload.
pub const MAX_PACKET_LEN: usize = 65_535;
/// Bytes of the fixed RTP header; shorter input is refused before libsrtp2.
pub const RTP_HEADER_LEN: usize = 12;
/// Bytes of an RTCP header and sender SSRC, the least SRTCP can protect.
pub const RTCP_HEADER_LEN: usize = 8;
/// Packets of an SSRC's replay window (RFC 3711 section 3.3.2, at least 64):
/// a packet this many behind the newest is refused as too old. 1024 packets
/// of video are over a second at the rates a call uses, more than any
/// reordering seen; repairs come on their own SSRC and sequence.
pub const REPLAY_WINDOW: u32 = 1024;

/// An SRTP protection profile (RFC 3711, RFC 7714), for SRTP and SRTCP alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// AEAD_AES_128_GCM (RFC 7714): AES-128 in GCM, a 16-byte tag.
    AeadAes128Gcm,
    /// AES_CM_128_HMAC_SHA1_80 (RFC 3711): AES-128 counter mode and an
    /// 80-bit HMAC-SHA1 tag.
    AesCm128HmacSha1_80,
}

impl Profile {
    /// Bytes of the master key and salt, in that order, the profile takes.
    pub const fn master_len(self) -> usize {
        match self {
            Profile::AeadAes128Gcm => AES_128_KEY_LEN + GCM_SALT_LEN,
            Profile::AesCm128HmacSha1_80 => AES_128_KEY_LEN + CM_SALT_LEN,
        }
    }
}

/// Why libsrtp2 refused a context or a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The packet's tag did not verify: forged, corrupted, or under
    /// another key.
    Auth,
    /// The packet's index was already received (a replay).
    Replay,
    /// The packet is older than the replay window keeps.
    ReplayOld,
    /// Too short, too long, or not a well-formed RTP/RTCP packet.
    Malformed,
    /// The master key and salt are not the profile's length.
    KeyLength,
    /// Any other libsrtp2 status code.
    Library(u32),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Auth => f.write_str("SRTP authentication failed"),
            Error::Replay => f.write_str("SRTP replay"),
            Error::ReplayOld => f.write_str("SRTP packet older than the replay window"),
            Error::Malformed => f.write_str("not a well-formed packet for SRTP"),
            Error::KeyLength => f.write_str("SRTP master key of the wrong length"),
            Error::Library(code) => write!(f, "libsrtp2 error {code}"),
        }
    }
}

impl std::error::Error for Error {}

fn check(status: sys::srtp_err_status_t::Type) -> Result<(), Error> {
    use sys::srtp_err_status_t as s;
    match status {
        s::srtp_err_status_ok => Ok(()),
        s::srtp_err_status_auth_fail => Err(Error::Auth),
        s::srtp_err_status_replay_fail => Err(Error::Replay),
        s::srtp_err_status_replay_old => Err(Error::ReplayOld),
        s::srtp_err_status_bad_param | s::srtp_err_status_parse_err => Err(Error::Malformed),
        other => Err(Error::Library(other)),
    }
}

/// Creating and freeing contexts touch libsrtp2's global crypto kernel (and
/// its OpenSSL or mbedtls backend's initialisation), which is not thread-safe:
/// they are serialised here. Packets are not: a context is used by one
/// thread at a time, which `&mut self` ensures.
static GLOBAL: Mutex<()> = Mutex::new(());
static INIT: OnceLock<sys::srtp_err_status_t::Type> = OnceLock::new();

fn init() -> Result<(), Error> {
    // SAFETY: srtp_init takes no arguments and must run once before any
    // other call, which OnceLock ensures.
    check(*INIT.get_or_init(|| unsafe { sys::srtp_init() }))
}

/// One libsrtp2 session (`srtp_t`) with a template policy for one direction.
struct Raw {
    ctx: sys::srtp_t,
    /// 32-bit aligned room for a packet and its trailer: libsrtp2 reads the
    /// RTP header as 32-bit words and writes up to SRTP_MAX_TRAILER_LEN
    /// bytes past the packet.
    scratch: Vec<u32>,
}

// SAFETY: an srtp_t is a heap object owned by this value alone; libsrtp2
// keeps no thread-local state for it, so it may be used from another thread
// as long as one thread uses it at a time (`&mut self` on every call).
unsafe impl Send for Raw {}

impl Raw {
    fn new(profile: Profile, master: &[u8], inbound: bool) -> Result<Raw, Error> {
        if master.len() != profile.master_len() {
            return Err(Error::KeyLength);
        }
        init()?;
        // libsrtp2 copies the key during srtp_create; a local copy keeps the
        // pointer's constness honest.
        let mut key = [0u8; MAX_MASTER_LEN];
        key[..master.len()].copy_from_slice(master);
        // SAFETY: srtp_policy_t is a plain C struct for which all-zero is
        // the documented "unset" value (NULL pointers, zero counts).
        let mut policy: sys::srtp_policy_t = unsafe { std::mem::zeroed() };
        // SAFETY: the setters only write the crypto policy structs given.
        unsafe {
            match profile {
                Profile::AeadAes128Gcm => {
                    sys::srtp_crypto_policy_set_aes_gcm_128_16_auth(&mut policy.rtp);
                    sys::srtp_crypto_policy_set_aes_gcm_128_16_auth(&mut policy.rtcp);
                }
                Profile::AesCm128HmacSha1_80 => {
                    sys::srtp_crypto_policy_set_rtp_default(&mut policy.rtp);
                    sys::srtp_crypto_policy_set_rtcp_default(&mut policy.rtcp);
                }
            }
        }
        policy.ssrc.type_ = if inbound {
            sys::srtp_ssrc_type_t::ssrc_any_inbound
        } else {
            sys::srtp_ssrc_type_t::ssrc_any_outbound
        };
        policy.key = key.as_mut_ptr();
        policy.window_size = REPLAY_WINDOW.into();
        policy.allow_repeat_tx = 0;
        policy.next = std::ptr::null_mut();
        let mut ctx: sys::srtp_t = std::ptr::null_mut();
        let status = {
            let _global = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
            // SAFETY: `policy` is a complete single-element list (next is
            // NULL) whose key points at MAX_MASTER_LEN live bytes, at least
            // the profile's key and salt; srtp_create copies what it keeps
            // and writes the new session to `ctx`.
            unsafe { sys::srtp_create(&mut ctx, &policy) }
        };
        // The master key is no longer needed here.
        key.fill(0);
        check(status)?;
        if ctx.is_null() {
            return Err(Error::Library(u32::MAX));
        }
        Ok(Raw {
            ctx,
            scratch: Vec::new(),
        })
    }

    /// Runs one of libsrtp2's in-place packet transforms on a copy of
    /// `packet` in the aligned scratch buffer and returns the result.
    fn transform(
        &mut self,
        packet: &[u8],
        min_len: usize,
        f: unsafe extern "C" fn(
            sys::srtp_t,
            *mut std::ffi::c_void,
            *mut i32,
        ) -> sys::srtp_err_status_t::Type,
    ) -> Result<Vec<u8>, Error> {
        if packet.len() < min_len || packet.len() > MAX_PACKET_LEN {
            return Err(Error::Malformed);
        }
        let room = packet.len() + sys::SRTP_MAX_TRAILER_LEN as usize;
        let words = room.div_ceil(4);
        if self.scratch.len() < words {
            self.scratch.resize(words, 0);
        }
        let buf = self.scratch.as_mut_ptr().cast::<u8>();
        // MAX_PACKET_LEN fits an i32.
        let mut len = packet.len() as i32;
        // SAFETY: the scratch buffer holds at least `room` bytes (words * 4
        // >= room), so copying `packet.len()` bytes into it and letting
        // libsrtp2 write up to SRTP_MAX_TRAILER_LEN past them stays inside
        // it; u32 storage gives the 32-bit alignment libsrtp2 assumes; the
        // context is live (freed only in Drop) and used by this thread alone.
        let status = unsafe {
            std::ptr::copy_nonoverlapping(packet.as_ptr(), buf, packet.len());
            f(self.ctx, buf.cast(), &mut len)
        };
        check(status)?;
        let len = usize::try_from(len).map_err(|_| Error::Malformed)?;
        if len > room {
            return Err(Error::Library(u32::MAX));
        }
        // SAFETY: `len` bytes, checked within the buffer's `room`, were
        // written by the copy and libsrtp2 above.
        Ok(unsafe { std::slice::from_raw_parts(buf, len) }.to_vec())
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        let _global = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: ctx came from a successful srtp_create and is freed once.
        unsafe {
            sys::srtp_dealloc(self.ctx);
        }
    }
}

/// Protects what one side sends: SRTP for its RTP packets, SRTCP for its
/// RTCP compounds, under one master key and salt.
pub struct Sender(Raw);

impl Sender {
    /// A sender under `master`: the profile's key followed by its salt
    /// ([`Profile::master_len`] bytes).
    pub fn new(profile: Profile, master: &[u8]) -> Result<Sender, Error> {
        Raw::new(profile, master, false).map(Sender)
    }

    /// The SRTP packet for an RTP packet.
    pub fn protect_rtp(&mut self, rtp: &[u8]) -> Result<Vec<u8>, Error> {
        self.0.transform(rtp, RTP_HEADER_LEN, sys::srtp_protect)
    }

    /// The SRTCP packet for an RTCP compound.
    pub fn protect_rtcp(&mut self, rtcp: &[u8]) -> Result<Vec<u8>, Error> {
        self.0
            .transform(rtcp, RTCP_HEADER_LEN, sys::srtp_protect_rtcp)
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.write_str("Sender")
    }
}

/// Verifies, replay-checks and decrypts what the other side sends.
pub struct Receiver(Raw);

impl Receiver {
    /// A receiver under `master`: the profile's key followed by its salt.
    pub fn new(profile: Profile, master: &[u8]) -> Result<Receiver, Error> {
        Raw::new(profile, master, true).map(Receiver)
    }

    /// The RTP packet inside an SRTP packet; `Err` for a packet to drop.
    pub fn unprotect_rtp(&mut self, srtp: &[u8]) -> Result<Vec<u8>, Error> {
        self.0.transform(srtp, RTP_HEADER_LEN, sys::srtp_unprotect)
    }

    /// The RTCP compound inside an SRTCP packet; `Err` for a packet to drop.
    pub fn unprotect_rtcp(&mut self, srtcp: &[u8]) -> Result<Vec<u8>, Error> {
        self.0
            .transform(srtcp, RTCP_HEADER_LEN, sys::srtp_unprotect_rtcp)
    }
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Receiver")
    }
}

#[cfg(test)]
mod tests;
