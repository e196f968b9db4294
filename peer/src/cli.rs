//! The command line: subcommands, their flags, and one-line errors that say
//! what was wrong and what to do.

use crate::registry_addr::RegistryAddr;
use peercall::wire::Name;
use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};

/// The port a peer listens on for calls when `--listen` is not given.
pub const DEFAULT_CALL_PORT: u16 = 4701;

/// The help text.
pub const HELP: &str = "\
peercall: peer-to-peer calls between boards

USAGE:
    peercall run --name NAME --registry HOST:PORT [--listen ADDR]
    peercall list --registry HOST:PORT
    peercall lookup NAME --registry HOST:PORT
    peercall help | --help | --version

run      register NAME with the registry and stay registered (pings, reconnects
         when the registry comes back); read commands from stdin, one per line:
             list            show every registered peer
             lookup NAME     show where NAME is
             help            show these commands
             quit            unregister and exit
         SIGINT (Ctrl-C) or SIGTERM also unregister and exit 0.
         --listen ADDR   the call port, IP:PORT or PORT (default 0.0.0.0:4701);
                         an IP of 0.0.0.0 lets the registry record the address it
                         sees this peer coming from; port 0 picks a free port
list     print one line per registered peer: NAME IP:PORT
lookup   print NAME IP:PORT and exit 0, or `NAME: not registered` on stderr and exit 1

Names: 1 to 32 bytes of letters, digits, '-', '_' and '.', starting with a letter or digit.
Exit codes: 0 ok, 1 not registered, 2 registry unreachable, 3 registration refused,
4 registry protocol error, 5 call port unavailable, 64 bad command line.
Log detail on stderr: RUST_LOG=debug.
";

/// Options of `peercall run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The name to register.
    pub name: Name,
    /// Where the registry is.
    pub registry: RegistryAddr,
    /// Where to listen for calls.
    pub listen: SocketAddr,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// Print this text and exit 0 (help, version).
    Print(String),
    /// `peercall run`.
    Run(RunOptions),
    /// `peercall list`.
    List {
        /// Where the registry is.
        registry: RegistryAddr,
    },
    /// `peercall lookup NAME`.
    Lookup {
        /// The name to look up.
        name: Name,
        /// Where the registry is.
        registry: RegistryAddr,
    },
}

fn parse_listen(v: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = v.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(port) = v.parse::<u16>() {
        return Ok(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    if let Ok(ip) = v.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, DEFAULT_CALL_PORT));
    }
    Err(format!(
        "--listen takes IP:PORT or PORT, like 0.0.0.0:{DEFAULT_CALL_PORT} (got '{v}')"
    ))
}

fn parse_name(what: &str, v: &str) -> Result<Name, String> {
    Name::new(v).map_err(|e| format!("{what} '{v}' is not a valid name: {e}"))
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    use lexopt::prelude::*;
    let mut p = lexopt::Parser::from_args(args);
    let mut sub: Option<String> = None;
    let mut positional: Vec<String> = Vec::new();
    let mut name = None;
    let mut registry = None;
    let mut listen = None;
    let value = |p: &mut lexopt::Parser, flag: &str| -> Result<String, String> {
        p.value()
            .map_err(|_| format!("{flag} needs a value; see peercall --help"))?
            .into_string()
            .map_err(|_| format!("{flag} needs a UTF-8 value"))
    };
    while let Some(arg) = p.next().map_err(|e| format!("{e}; see peercall --help"))? {
        match arg {
            Long("name") => name = Some(value(&mut p, "--name")?),
            Long("registry") => {
                registry = Some(RegistryAddr::parse(&value(&mut p, "--registry")?)?)
            }
            Long("listen") => listen = Some(parse_listen(&value(&mut p, "--listen")?)?),
            Short('h') | Long("help") => return Ok(Command::Print(HELP.into())),
            Short('V') | Long("version") => {
                return Ok(Command::Print(format!(
                    "peercall {}\n",
                    env!("CARGO_PKG_VERSION")
                )))
            }
            Value(v) => {
                let v = v
                    .into_string()
                    .map_err(|_| "arguments must be UTF-8".to_string())?;
                if sub.is_none() {
                    sub = Some(v);
                } else {
                    positional.push(v);
                }
            }
            other => return Err(format!("{}; see peercall --help", other.unexpected())),
        }
    }
    let Some(sub) = sub else {
        return Err("no command given; try peercall run, list, lookup or --help".into());
    };
    let need_registry = |r: Option<RegistryAddr>, cmd: &str| {
        r.ok_or_else(|| {
            format!("peercall {cmd} needs --registry HOST:PORT, the address peercall-registry listens on")
        })
    };
    let no_extra = |cmd: &str, extra: &[String]| match extra.first() {
        Some(x) => Err(format!(
            "unexpected argument '{x}' for peercall {cmd}; see peercall --help"
        )),
        None => Ok(()),
    };
    let only_run = |flag: &str, set: bool, cmd: &str| {
        if set {
            Err(format!("{flag} is for peercall run, not peercall {cmd}"))
        } else {
            Ok(())
        }
    };
    match sub.as_str() {
        "run" => {
            no_extra("run", &positional)?;
            let name = name.ok_or("peercall run needs --name NAME, the name others call you by")?;
            Ok(Command::Run(RunOptions {
                name: parse_name("--name", &name)?,
                registry: need_registry(registry, "run")?,
                listen: listen.unwrap_or(SocketAddr::from(([0, 0, 0, 0], DEFAULT_CALL_PORT))),
            }))
        }
        "list" => {
            no_extra("list", &positional)?;
            only_run("--name", name.is_some(), "list")?;
            only_run("--listen", listen.is_some(), "list")?;
            Ok(Command::List {
                registry: need_registry(registry, "list")?,
            })
        }
        "lookup" => {
            let Some((n, extra)) = positional.split_first() else {
                return Err("peercall lookup needs the NAME to look up".into());
            };
            no_extra("lookup", extra)?;
            only_run("--name", name.is_some(), "lookup")?;
            only_run("--listen", listen.is_some(), "lookup")?;
            Ok(Command::Lookup {
                name: parse_name("NAME", n)?,
                registry: need_registry(registry, "lookup")?,
            })
        }
        "help" => Ok(Command::Print(HELP.into())),
        other => Err(format!(
            "unknown command '{other}'; the commands are run, list, lookup and help"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<OsString> {
        s.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn run_with_defaults() {
        let Command::Run(o) = parse(args("run --name alice --registry 127.0.0.1:4700")).unwrap()
        else {
            panic!()
        };
        assert_eq!(o.name.as_str(), "alice");
        assert_eq!(o.listen, "0.0.0.0:4701".parse().unwrap());
        let Command::Run(o) =
            parse(args("run --name a --registry h:1 --listen 127.0.0.1:0")).unwrap()
        else {
            panic!()
        };
        assert_eq!(o.listen, "127.0.0.1:0".parse().unwrap());
    }

    #[test]
    fn errors_say_what_to_do() {
        for (line, hint) in [
            ("", "no command"),
            ("run --registry h:1", "--name"),
            ("run --name alice", "--registry"),
            ("run --name a:b --registry h:1", "not a valid name"),
            ("run --name a --registry h:1 --listen nowhere", "--listen"),
            ("lookup --registry h:1", "NAME"),
            ("lookup a b --registry h:1", "unexpected argument"),
            ("list --registry h:1 --name a", "for peercall run"),
            ("dial x", "unknown command"),
            ("list --registry", "needs a value"),
            ("list --bogus", "--bogus"),
        ] {
            let e = parse(args(line)).unwrap_err();
            assert!(e.contains(hint), "{line:?}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }
}
