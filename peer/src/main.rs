//! `peercall`: the peer's entry point. Logging is set up here (`RUST_LOG`);
//! everything else lives in the `peercall_peer` library.

use std::process::ExitCode;

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    ExitCode::from(peercall_peer::main_with(std::env::args_os().skip(1)))
}
