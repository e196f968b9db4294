//! `peercall-registry`: the registry server. Peers register a name and call
//! endpoint here, look each other up, and leave. This binary is the IO shell
//! around [`peercall::registry::Registry`]: flags, a mio event loop, and the
//! table it prints, and the readiness and watchdog notifications systemd
//! expects of a `Type=notify` service.

mod server;
mod state;
mod stdout_queue;
mod systemd;
mod table;

use peercall::registry::Config;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
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
    --name-lease TIME         how long a name stays bound to its owner's key after the owner
                              was last seen: 30d, 12h, 90m, 45s (default 30d)
    --state-dir DIR           where the name bindings are kept across restarts (default:
                              $STATE_DIRECTORY, else $XDG_STATE_HOME/peercall-registry,
                              else ~/.local/state/peercall-registry)
    --max-connections N       connections served at once (default 16384, capped by the open-file limit)
    --max-connections-per-ip N
                              connections one address (IPv4, or IPv6 /64) may hold at once (default 1024)
    -h, --help                print this help
    -V, --version             print the version

A name belongs to the key that registered it: another key is refused while the
lease lasts; the owner gets it back at once after a crash or a restart.
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
    /// `--state-dir`, or `None` for [`state::default_state_dir`].
    state_dir: Option<PathBuf>,
}

/// A lease: a whole number and a unit (`d`, `h`, `m`, `s`), or seconds alone.
fn parse_lease(v: &str) -> Result<Duration, String> {
    let err = || {
        format!("--name-lease takes a time like 30d, 12h, 90m or 45s, greater than 0 (got '{v}')")
    };
    let (num, unit) = match v.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => v.split_at(i),
        None => (v, "s"),
    };
    let n: u64 = num.parse().map_err(|_| err())?;
    let scale = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => return Err(err()),
    };
    match n.checked_mul(scale) {
        // Up to a century: far beyond any sensible lease, and no overflow
        // when added to a Unix time.
        Some(secs) if secs > 0 && secs <= 100 * 365 * 86_400 => Ok(Duration::from_secs(secs)),
        _ => Err(err()),
    }
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
        config: Config::default(),
        max_per_source: server::MAX_CONNECTIONS_PER_SOURCE,
        state_dir: None,
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
            Long("name-lease") => {
                opts.config.name_lease = parse_lease(&value(&mut p, "--name-lease")?)?
            }
            // Version 1's probe is gone (the key decides who owns a name);
            // a config file of an older install may still pass it.
            Long("probe-timeout") => {
                let _ = value(&mut p, "--probe-timeout")?;
                eprintln!("peercall-registry: --probe-timeout is no longer used (names are bound to keys); ignored");
            }
            Long("state-dir") => {
                let v = p
                    .value()
                    .map_err(|_| "--state-dir needs a value; see --help".to_string())?;
                opts.state_dir = Some(PathBuf::from(v));
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
    let Some(dir) = opts.state_dir.or_else(state::default_state_dir) else {
        eprintln!("peercall-registry: {}", state::StateError::NoDirectory);
        return ExitCode::from(EXIT_FAILURE);
    };
    let (state, loaded) = match state::StateDir::open(dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("peercall-registry: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    if let Some((aside, why)) = &loaded.set_aside {
        eprintln!(
            "peercall-registry: {} is not a readable bindings file ({why}); moved it to {} and started with no names bound. Owners re-register as they reconnect; restore a good copy over {} while the registry is stopped if you have one.",
            state.path().display(),
            aside.display(),
            state.path().display()
        );
    }
    match server::run(
        opts.listen,
        opts.config,
        opts.max_per_source,
        state,
        loaded.bindings,
    ) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peercall-registry: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_take_days_hours_minutes_or_seconds() {
        assert_eq!(parse_lease("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_lease("12h"), Ok(Duration::from_secs(12 * 3_600)));
        assert_eq!(parse_lease("90m"), Ok(Duration::from_secs(90 * 60)));
        assert_eq!(parse_lease("45s"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_lease("45"), Ok(Duration::from_secs(45)));
        for bad in ["", "0d", "d", "3w", "-1h", "1.5h", "99999999999999d"] {
            assert!(parse_lease(bad).is_err(), "{bad}");
        }
    }
}
