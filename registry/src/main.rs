//! `peercall-registry`: the registry server. Peers register a name and call
//! endpoint here, look each other up, and leave. This binary is the IO shell
//! around [`peercall::registry::Registry`]: flags, a mio event loop, and the
//! table it prints, and the readiness and watchdog notifications systemd
//! expects of a `Type=notify` service.

mod server;
mod stdout_queue;
mod systemd;
mod table;

use peercall::registry::{
    Config, DEFAULT_IDLE_TIMEOUT, DEFAULT_PROBE_TIMEOUT, DEFAULT_SILENCE_TIMEOUT, MAX_CONNECTIONS,
};
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

/// The registry's well-known port.
pub const DEFAULT_PORT: u16 = 4700;

/// Exit code for a command line that cannot be understood.
const EXIT_USAGE: u8 = 64;
/// Exit code when the server cannot start or fails while running.
const EXIT_FAILURE: u8 = 1;

const HELP: &str = "\
peercall-registry: where peercall peers find each other

USAGE:
    peercall-registry [--listen ADDR] [OPTIONS]

OPTIONS:
    --listen ADDR             address to listen on, IP:PORT or IP (default 0.0.0.0:4700);
                              port 0 picks a free port, printed on the first line
    --silence-timeout SECS    drop a registration whose peer is silent this long (default 30)
    --idle-timeout SECS       close a connection that registers nothing and is silent this long (default 15)
    --probe-timeout SECS      how long the holder of a name may take to answer a probe (default 2)
    --max-connections N       connections served at once (default 16384, capped by the open-file limit)
    --max-connections-per-ip N
                              connections one address (IPv4, or IPv6 /64) may hold at once (default 1024)
    -h, --help                print this help
    -V, --version             print the version

The first line on stdout is `listening on IP:PORT`. Then one line per registration,
duplicate, refusal and departure, and the table of registered peers whenever it changes.
SIGINT or SIGTERM: every client is told goodbye and the server exits 0.
Log detail on stderr: RUST_LOG=debug.
";

/// Everything the command line sets.
struct Options {
    listen: SocketAddr,
    config: Config,
    /// See [`server::MAX_CONNECTIONS_PER_SOURCE`].
    max_per_source: usize,
}

fn parse_seconds(flag: &str, v: &str) -> Result<Duration, String> {
    match v.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!(
            "{flag} takes a number of seconds greater than 0, like 30 or 0.5 (got '{v}')"
        )),
    }
}

fn parse_listen(v: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = v.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(ip) = v.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, DEFAULT_PORT));
    }
    Err(format!(
        "--listen takes IP:PORT or IP, like 0.0.0.0:{DEFAULT_PORT} or [::]:{DEFAULT_PORT} (got '{v}')"
    ))
}

enum Parsed {
    Run(Options),
    Exit(&'static str),
}

fn parse_args() -> Result<Parsed, String> {
    use lexopt::prelude::*;
    let mut opts = Options {
        listen: SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT)),
        config: Config {
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            silence_timeout: DEFAULT_SILENCE_TIMEOUT,
            probe_timeout: DEFAULT_PROBE_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
        },
        max_per_source: server::MAX_CONNECTIONS_PER_SOURCE,
    };
    let mut p = lexopt::Parser::from_env();
    let value = |p: &mut lexopt::Parser, flag: &str| -> Result<String, String> {
        p.value()
            .map_err(|_| format!("{flag} needs a value; see --help"))?
            .into_string()
            .map_err(|_| format!("{flag} needs a UTF-8 value"))
    };
    while let Some(arg) = p.next().map_err(|e| format!("{e}; see --help"))? {
        match arg {
            Long("listen") => opts.listen = parse_listen(&value(&mut p, "--listen")?)?,
            Long("silence-timeout") => {
                opts.config.silence_timeout =
                    parse_seconds("--silence-timeout", &value(&mut p, "--silence-timeout")?)?
            }
            Long("idle-timeout") => {
                opts.config.idle_timeout =
                    parse_seconds("--idle-timeout", &value(&mut p, "--idle-timeout")?)?
            }
            Long("probe-timeout") => {
                let d = parse_seconds("--probe-timeout", &value(&mut p, "--probe-timeout")?)?;
                if d > Duration::from_millis(u16::MAX.into()) {
                    return Err("--probe-timeout is at most 65 seconds".into());
                }
                opts.config.probe_timeout = d;
            }
            Long("max-connections") => {
                let v = value(&mut p, "--max-connections")?;
                opts.config.max_connections = match v.parse::<usize>() {
                    Ok(n) if n > 0 => n,
                    _ => {
                        return Err(format!(
                            "--max-connections takes a whole number above 0 (got '{v}')"
                        ))
                    }
                };
            }
            Long("max-connections-per-ip") => {
                let v = value(&mut p, "--max-connections-per-ip")?;
                opts.max_per_source = match v.parse::<usize>() {
                    Ok(n) if n > 0 => n,
                    _ => {
                        return Err(format!(
                            "--max-connections-per-ip takes a whole number above 0 (got '{v}')"
                        ))
                    }
                };
            }
            Short('h') | Long("help") => return Ok(Parsed::Exit(HELP)),
            Short('V') | Long("version") => {
                return Ok(Parsed::Exit(concat!(
                    "peercall-registry ",
                    env!("CARGO_PKG_VERSION"),
                    "\n"
                )))
            }
            other => return Err(format!("{}; see --help", other.unexpected())),
        }
    }
    Ok(Parsed::Run(opts))
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let opts = match parse_args() {
        Ok(Parsed::Run(o)) => o,
        Ok(Parsed::Exit(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("peercall-registry: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match server::run(opts.listen, opts.config, opts.max_per_source) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peercall-registry: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
