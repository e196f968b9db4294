//! The peer, `peercall`: it registers with a registry, looks other peers up
//! and calls them directly. This crate is the IO shell around the sans-IO
//! machines of the `peercall` library ([`peercall::membership::Membership`],
//! [`peercall::call::Phone`]), laid out by job:
//!
//! ```text
//! main.rs ──► options (argv → Command, no IO) ──► commands::execute
//!                                                   │
//!   commands: run/call (mio control loop), list/lookup, devices, selftest, demo
//!       │                 │                      │
//!       ▼                 ▼                      ▼
//!   net (registry link, call port,     media (threads, sources,   devices (V4L2
//!        framing, address resolution)         sinks)              camera, ALSA sound)
//! ```
//!
//! Dependencies point one way: `options` knows only plain data types,
//! `commands` uses everything, and `net`, `media` and `devices` never reach
//! back into the commands.
//!
//! ```no_run
//! let code = peercall_peer::main_with(std::env::args_os().skip(1));
//! std::process::exit(i32::from(code));
//! ```

#![warn(missing_docs)]

pub mod commands;
pub mod devices;
pub mod identity_file;
pub mod media;
pub mod net;
pub mod options;
pub mod window;

use std::collections::hash_map::RandomState;
use std::ffi::OsString;
use std::hash::{BuildHasher, Hasher};

/// Exit codes, documented in the README: scripts rely on them.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// `lookup`: the name is not registered.
    pub const NOT_REGISTERED: u8 = 1;
    /// The registry cannot be reached (refused, timed out, does not resolve).
    pub const UNREACHABLE: u8 = 2;
    /// The registry refused the registration (name or endpoint taken).
    pub const REFUSED: u8 = 3;
    /// The registry answered with something this peer cannot use.
    pub const PROTOCOL: u8 = 4;
    /// A local resource is unavailable (the call port cannot be bound).
    pub const LOCAL: u8 = 5;
    /// `call`: the callee declined.
    pub const REJECTED: u8 = 6;
    /// `call`: the callee is in another call.
    pub const BUSY: u8 = 7;
    /// `call`: nobody answered in time.
    pub const NO_ANSWER: u8 = 8;
    /// `call`: the callee's call port cannot be reached.
    pub const PEER_UNREACHABLE: u8 = 9;
    /// `call`: the two sides cannot agree on media.
    pub const MEDIA: u8 = 10;
    /// `call`: the connection to the other side was lost during the call.
    pub const LOST: u8 = 11;
    /// `call`: refused with a reason code this version does not know (a
    /// newer callee's); the line printed gives the code.
    pub const REJECTED_OTHER: u8 = 12;
    /// The identity file cannot be read or created (the line printed says
    /// why and what to do).
    pub const IDENTITY: u8 = 13;
    /// `call`: the callee did not prove the key the registry (or a pin in
    /// the allow file) gave for it: another peer answers at its address,
    /// or its key changed. Nothing was said to it in clear.
    pub const WRONG_KEY: u8 = 14;
    /// `call`: the callee answers only the keys in its allow file and ours
    /// is not there (REJECT reason 4).
    pub const NOT_ALLOWED: u8 = 15;
    /// `call`: interrupted by SIGINT or SIGTERM before the call completed.
    pub const INTERRUPTED: u8 = 130;
    /// The command line is wrong.
    pub const USAGE: u8 = 64;
}

/// Parses the arguments after the program name, runs the command, and
/// returns the exit code. A bad command line is one line on stderr and
/// [`exit::USAGE`].
pub fn main_with(args: impl IntoIterator<Item = OsString>) -> u8 {
    let impair = std::env::var_os("PEERCALL_IMPAIR");
    match options::parse(args, impair.as_deref()) {
        Ok(cmd) => commands::execute(cmd),
        Err(e) => {
            eprintln!("peercall: {e}");
            exit::USAGE
        }
    }
}

/// Fills `buf` from the kernel's random source (getrandom(2) behind
/// /dev/urandom): secrets (identity seeds, handshake seeds, registry nonces)
/// come from here, never from [`random_u64`].
pub fn random_bytes(buf: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}

/// 64 unpredictable bits for call ids and SSRCs, from the standard library's
/// randomly keyed hasher: they need uniqueness, not secrecy, so no RNG
/// dependency.
pub fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}
