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

use crate::options::Command;
use crate::{exit, identity_file};
use peercall::identity::Identity;
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
        Command::Id { identity } => id(identity.as_deref()),
    }
}

/// Loads (or creates, on first use) the identity the command line names;
/// on failure prints the one line that says why and returns the exit code.
pub fn load_identity(given: Option<&std::path::Path>) -> Result<Identity, u8> {
    let loaded = identity_file::resolve(given).and_then(|p| {
        let (id, origin) = identity_file::load_or_create(&p)?;
        if origin == identity_file::Origin::Created {
            eprintln!(
                "peercall: created identity {} (public key {})",
                p.display(),
                id.public()
            );
        }
        Ok(id)
    });
    loaded.map_err(|e| {
        eprintln!("peercall: {e}");
        exit::IDENTITY
    })
}

/// `peercall id`: the public key on stdout, one line.
fn id(given: Option<&std::path::Path>) -> u8 {
    match load_identity(given) {
        Ok(id) => {
            println!("{}", id.public());
            exit::OK
        }
        Err(code) => code,
    }
}

/// The line scripts read for one peer: `NAME IP:PORT KEY`, the key its
/// name is bound to (the one its call port must prove).
pub fn entry_line(e: &Entry) -> String {
    format!("{} {} {}", e.name, e.addr, e.key)
}
