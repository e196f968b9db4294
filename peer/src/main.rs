//! `peercall`: the peer. It registers with a registry, looks other peers up and
//! calls them directly. This binary is the IO shell around
//! [`peercall::membership::Membership`]: the command line, a mio event loop,
//! a stdin reader thread, and one-shot commands for scripts.

mod camera;
mod cli;
mod conn;
mod demo;
mod devices;
mod media;
mod oneshot;
mod registry_addr;
mod run;
mod selftest;
mod sound;

use std::process::ExitCode;

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
    /// `call`: interrupted by SIGINT or SIGTERM before the call completed.
    pub const INTERRUPTED: u8 = 130;
    /// The command line is wrong.
    pub const USAGE: u8 = 64;
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cmd = match cli::parse(std::env::args_os().skip(1)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("peercall: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let code = match cmd {
        cli::Command::Print(text) => {
            print!("{text}");
            exit::OK
        }
        cli::Command::Run(o) => run::run(o),
        cli::Command::Call(o) => run::run(o),
        cli::Command::Demo { seconds } => demo::run(seconds),
        cli::Command::Devices => devices::run(),
        cli::Command::Selftest { loop_devices } => selftest::run(loop_devices),
        cli::Command::List { registry } => oneshot::list(&registry),
        cli::Command::Lookup { name, registry } => oneshot::lookup(&registry, &name),
    };
    ExitCode::from(code)
}
