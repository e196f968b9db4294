//! What each subcommand does, given the parsed [`Command`]: `run` and `call`
//! (the control loop in [`run`]), `list` and `lookup` ([`oneshot`]),
//! `devices`, `selftest` and `demo`. Each returns the process's exit code
//! (see [`crate::exit`]).

mod demo;
pub mod devices;
pub mod media_setup;
pub mod oneshot;
pub mod run;
pub mod selftest;

use crate::exit;
use crate::options::Command;
use peercall::wire::Entry;

/// Runs one command to its end; returns the exit code.
pub fn execute(cmd: Command) -> u8 {
    match cmd {
        Command::Print(text) => {
            print!("{text}");
            exit::OK
        }
        Command::Run(o) | Command::Call(o) => run::run(o),
        Command::Demo { seconds } => demo::run(seconds),
        Command::Devices => devices::run(),
        Command::Selftest { loop_devices } => selftest::run(loop_devices),
        Command::List { registry } => oneshot::list(&registry),
        Command::Lookup { name, registry } => oneshot::lookup(&registry, &name),
    }
}

/// The line scripts read for one peer: `NAME IP:PORT`.
pub fn entry_line(e: &Entry) -> String {
    format!("{} {}", e.name, e.addr)
}
