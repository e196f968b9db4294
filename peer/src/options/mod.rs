//! The command line: subcommands, their flags, and one-line errors that say
//! what was wrong and what to do. Parsing only: the result is plain data
//! ([`Command`]); nothing here reads a file, probes a device or opens a
//! socket, so every rule of the command line is tested without a machine
//! behind it. The commands in `crate::commands` do the IO the options ask for.

mod help;
mod values;

use crate::media::{MediaOptions, VideoSink};
use crate::net::RegistryAddr;
use peercall::media::impair::ImpairConfig;
use peercall::wire::Name;
use std::ffi::{OsStr, OsString};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use values::{
    parse_audio_in, parse_audio_out, parse_camera_format, parse_forward, parse_fps,
    parse_jpeg_quality, parse_listen, parse_name, parse_seconds, parse_size, parse_video,
    parse_video_out, parse_window_size,
};

/// How long the demo call's media runs without `--seconds`.
pub const DEFAULT_DEMO_SECONDS: Duration = Duration::from_secs(5);

/// The port a peer listens on for calls when `--listen` is not given.
pub const DEFAULT_CALL_PORT: u16 = 4701;

/// How incoming calls are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerMode {
    /// Ask the user (`accept` / `reject`).
    Ask,
    /// Accept the calls of the keys in the allow file; reject the others
    /// (REJECT reason "not allowed").
    AutoAccept,
    /// Accept every call, whoever makes it (`--auto-accept-anyone`).
    AutoAcceptAnyone,
    /// Refuse every call.
    RejectAll,
}

/// What `peercall call` does once registered.
#[derive(Debug, Clone)]
pub struct CallPlan {
    /// Whom to call.
    pub target: Name,
    /// How long to keep the call; `None`: until the other side hangs up.
    pub seconds: Option<Duration>,
}

/// Options of `peercall run` and `peercall call`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The name to register.
    pub name: Name,
    /// Where the registry is.
    pub registry: RegistryAddr,
    /// Where to listen for calls.
    pub listen: SocketAddr,
    /// How incoming calls are answered.
    pub answer: AnswerMode,
    /// How long an outgoing call may ring unanswered.
    pub answer_timeout: Duration,
    /// `peercall call`: the one call to make.
    pub plan: Option<CallPlan>,
    /// Media sources, sinks and impairment.
    pub media: MediaOptions,
    /// Which media flags were given, so the command can fill in the
    /// device defaults (the camera, the sound card) only where none was.
    pub given: MediaGiven,
    /// `--identity PATH`: the identity file; `None` for the default in the
    /// state directory ([`crate::identity_file::resolve`]).
    pub identity: Option<PathBuf>,
    /// `--allow PATH`: the allow file; `None` for `allow` beside the
    /// identity file.
    pub allow: Option<PathBuf>,
}

/// Which media sources and sinks the command line named.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaGiven {
    /// `--video`.
    pub video: bool,
    /// `--audio-in`.
    pub audio_in: bool,
    /// `--audio-out`.
    pub audio_out: bool,
    /// `--size`.
    pub size: bool,
    /// `--fps`.
    pub fps: bool,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// Print this text and exit 0 (help, version).
    Print(String),
    /// `peercall run`.
    Run(RunOptions),
    /// `peercall call NAME`.
    Call(RunOptions),
    /// `peercall devices`.
    Devices,
    /// `peercall selftest`.
    Selftest {
        /// A loopback to test sound through: (playback device, capture device).
        loop_devices: Option<(String, String)>,
    },
    /// `peercall demo`.
    Demo {
        /// How long the demo call's media runs.
        seconds: Duration,
    },
    /// `peercall list`.
    List {
        /// Where the registry is.
        registry: RegistryAddr,
    },
    /// `peercall id`: print this peer's public key.
    Id {
        /// `--identity PATH`, or `None` for the default.
        identity: Option<PathBuf>,
    },
    /// `peercall lookup NAME`.
    Lookup {
        /// The name to look up.
        name: Name,
        /// Where the registry is.
        registry: RegistryAddr,
    },
}

/// Parses the arguments after the program name, and `PEERCALL_IMPAIR`'s
/// value when it is set. Parsing only: files named on the command line are
/// read, and devices probed, by the command that runs (see
/// [`crate::commands::media_setup`]), so this stays pure and testable.
pub fn parse(
    args: impl IntoIterator<Item = OsString>,
    impair_env: Option<&OsStr>,
) -> Result<Command, String> {
    use lexopt::prelude::*;
    let mut p = lexopt::Parser::from_args(args);
    let mut sub: Option<String> = None;
    let mut positional: Vec<String> = Vec::new();
    let mut name = None;
    let mut registry = None;
    let mut listen = None;
    let mut auto_accept = false;
    let mut auto_accept_anyone = false;
    let mut allow: Option<PathBuf> = None;
    let mut reject_all = false;
    let mut answer_timeout = None;
    let mut seconds = None;
    let mut media = MediaOptions {
        video_out: VideoSink::Auto,
        ..MediaOptions::default()
    };
    let mut media_set = false;
    let mut given = MediaGiven::default();
    let mut loop_out: Option<String> = None;
    let mut loop_in: Option<String> = None;
    let mut identity: Option<PathBuf> = None;
    if let Some(spec) = impair_env {
        let spec = spec.to_string_lossy();
        media.impair =
            Some(ImpairConfig::parse(&spec).map_err(|e| format!("PEERCALL_IMPAIR: {e}"))?);
    }
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
            Long("auto-accept") => auto_accept = true,
            Long("auto-accept-anyone") => auto_accept_anyone = true,
            Long("allow") => {
                let v = value(&mut p, "--allow")?;
                if v.is_empty() {
                    return Err("--allow needs the path of an allow file".into());
                }
                allow = Some(v.into());
            }
            Long("reject-all") => reject_all = true,
            Long("answer-timeout") => {
                answer_timeout = Some(parse_seconds(
                    "--answer-timeout",
                    &value(&mut p, "--answer-timeout")?,
                )?)
            }
            Long("video") => {
                media_set = true;
                given.video = true;
                media.video = parse_video(&value(&mut p, "--video")?)?;
            }
            Long("audio-in") => {
                media_set = true;
                given.audio_in = true;
                media.audio = parse_audio_in(&value(&mut p, "--audio-in")?)?;
            }
            Long("video-out") => {
                media_set = true;
                media.video_out = parse_video_out(&value(&mut p, "--video-out")?)?;
            }
            Long("audio-out") => {
                media_set = true;
                given.audio_out = true;
                media.audio_out = parse_audio_out(&value(&mut p, "--audio-out")?)?;
            }
            Long("fullscreen") => {
                media_set = true;
                media.fullscreen = true;
            }
            Long("window-size") => {
                media_set = true;
                media.window_size = parse_window_size(&value(&mut p, "--window-size")?)?;
            }
            Long("jpeg-quality") => {
                media_set = true;
                media.jpeg_quality = parse_jpeg_quality(&value(&mut p, "--jpeg-quality")?)?;
            }
            Long("report-json") => {
                media_set = true;
                media.report_json = true;
            }
            Long("impair") => {
                media_set = true;
                let v = value(&mut p, "--impair")?;
                media.impair = Some(ImpairConfig::parse(&v).map_err(|e| format!("--impair: {e}"))?);
            }
            Long("no-repair") => {
                media_set = true;
                media.no_repair = true;
            }
            Long("identity") => {
                let v = value(&mut p, "--identity")?;
                if v.is_empty() {
                    return Err("--identity needs the path of an identity file".into());
                }
                identity = Some(v.into());
            }
            Long("loop-out") => loop_out = Some(value(&mut p, "--loop-out")?),
            Long("loop-in") => loop_in = Some(value(&mut p, "--loop-in")?),
            Long("size") => {
                media_set = true;
                given.size = true;
                media.size = parse_size(&value(&mut p, "--size")?)?;
            }
            Long("fps") => {
                media_set = true;
                given.fps = true;
                media.fps = parse_fps(&value(&mut p, "--fps")?)?;
            }
            Long("camera-format") => {
                media_set = true;
                media.camera_format =
                    Some(parse_camera_format(&value(&mut p, "--camera-format")?)?);
            }
            Long("no-video") => {
                media_set = true;
                media.no_video = true;
            }
            Long("no-audio") => {
                media_set = true;
                media.no_audio = true;
            }
            Long("forward") => {
                media_set = true;
                media.forward = Some(parse_forward(&value(&mut p, "--forward")?)?);
            }
            Long("sdp") => {
                media_set = true;
                let v = value(&mut p, "--sdp")?;
                if v.is_empty() {
                    return Err("--sdp needs a file path".into());
                }
                media.sdp = Some(v.into());
            }
            Long("seconds") => {
                seconds = Some(parse_seconds("--seconds", &value(&mut p, "--seconds")?)?)
            }
            Short('h') | Long("help") => {
                // After a command, its own short help; before one (or after
                // an unknown one), the whole text.
                let text = sub.as_deref().and_then(help::for_command);
                return Ok(Command::Print(text.unwrap_or_else(help::full)));
            }
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
        return Err(
            "no command given; try peercall run, call, list, lookup, id, demo or --help".into(),
        );
    };
    if identity.is_some() && !matches!(sub.as_str(), "run" | "call" | "id") {
        return Err(format!(
            "--identity is for peercall run, call and id, not peercall {sub}"
        ));
    }
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
    if media.no_video && media.no_audio {
        return Err("--no-video and --no-audio leave nothing to call with; drop one".into());
    }
    if media.sdp.is_some() && media.forward.is_none() {
        return Err(
            "--sdp describes the copy --forward sends to a player; give --forward IP:PORT too"
                .into(),
        );
    }
    if auto_accept && reject_all {
        return Err("--auto-accept and --reject-all contradict each other; pick one".into());
    }
    if auto_accept_anyone && (auto_accept || reject_all) {
        return Err(
            "--auto-accept-anyone contradicts --auto-accept and --reject-all; pick one".into(),
        );
    }
    let answer = if auto_accept_anyone {
        AnswerMode::AutoAcceptAnyone
    } else if auto_accept {
        AnswerMode::AutoAccept
    } else if reject_all {
        AnswerMode::RejectAll
    } else {
        AnswerMode::Ask
    };
    let calls_only = |cmd: &str| -> Result<(), String> {
        for (flag, set) in [
            ("--auto-accept", auto_accept),
            ("--auto-accept-anyone", auto_accept_anyone),
            ("--allow", allow.is_some()),
            ("--reject-all", reject_all),
            ("--answer-timeout", answer_timeout.is_some()),
            ("--seconds", seconds.is_some()),
            ("media options such as --video", media_set),
        ] {
            if set {
                return Err(format!("{flag} is not an option of peercall {cmd}"));
            }
        }
        Ok(())
    };
    // Commands that neither register nor listen.
    let no_peer_flags = |cmd: &str| -> Result<(), String> {
        for (flag, set) in [
            ("--name", name.is_some()),
            ("--registry", registry.is_some()),
            ("--listen", listen.is_some()),
        ] {
            if set {
                return Err(format!("{flag} is not an option of peercall {cmd}"));
            }
        }
        Ok(())
    };
    let answer_timeout = answer_timeout.unwrap_or(peercall::call::DEFAULT_ANSWER_TIMEOUT);
    let listen_addr = listen.unwrap_or(SocketAddr::from(([0, 0, 0, 0], DEFAULT_CALL_PORT)));
    match sub.as_str() {
        "run" => {
            no_extra("run", &positional)?;
            if seconds.is_some() {
                return Err("--seconds is for peercall call, not peercall run".into());
            }
            let name = name.ok_or("peercall run needs --name NAME, the name others call you by")?;
            Ok(Command::Run(RunOptions {
                name: parse_name("--name", &name)?,
                registry: need_registry(registry, "run")?,
                listen: listen_addr,
                answer,
                answer_timeout,
                plan: None,
                media,
                given,
                identity,
                allow,
            }))
        }
        "call" => {
            let Some((target, extra)) = positional.split_first() else {
                return Err("peercall call needs the NAME to call".into());
            };
            no_extra("call", extra)?;
            let target = parse_name("NAME", target)?;
            let name = name.ok_or("peercall call needs --name ME, the name to register as")?;
            let name = parse_name("--name", &name)?;
            if auto_accept || auto_accept_anyone {
                return Err(
                    "--auto-accept is for peercall run; peercall call refuses incoming calls"
                        .into(),
                );
            }
            if name == target {
                return Err(format!(
                    "peercall call {target} --name {name}: a peer cannot call itself"
                ));
            }
            Ok(Command::Call(RunOptions {
                name,
                registry: need_registry(registry, "call")?,
                listen: listen_addr,
                // A one-shot caller is not there to answer: refuse calls unless told otherwise.
                answer: if auto_accept {
                    AnswerMode::AutoAccept
                } else {
                    AnswerMode::RejectAll
                },
                answer_timeout,
                plan: Some(CallPlan { target, seconds }),
                media,
                given,
                identity,
                allow,
            }))
        }
        "list" => {
            no_extra("list", &positional)?;
            calls_only("list")?;
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
            calls_only("lookup")?;
            only_run("--name", name.is_some(), "lookup")?;
            only_run("--listen", listen.is_some(), "lookup")?;
            Ok(Command::Lookup {
                name: parse_name("NAME", n)?,
                registry: need_registry(registry, "lookup")?,
            })
        }
        "id" => {
            no_extra("id", &positional)?;
            calls_only("id")?;
            no_peer_flags("id")?;
            Ok(Command::Id { identity })
        }
        "demo" => {
            no_extra("demo", &positional)?;
            no_peer_flags("demo")?;
            Ok(Command::Demo {
                seconds: seconds.unwrap_or(DEFAULT_DEMO_SECONDS),
            })
        }
        "devices" => {
            no_extra("devices", &positional)?;
            calls_only("devices")?;
            if name.is_some() || registry.is_some() || listen.is_some() {
                return Err("peercall devices takes no options; see peercall --help".into());
            }
            Ok(Command::Devices)
        }
        "selftest" => {
            no_extra("selftest", &positional)?;
            calls_only("selftest")?;
            let loop_devices = match (loop_out, loop_in) {
                (Some(o), Some(i)) => Some((o, i)),
                (None, None) => None,
                _ => {
                    return Err(
                        "--loop-out and --loop-in go together: the playback and capture devices a cable (or snd-aloop) connects".into(),
                    )
                }
            };
            Ok(Command::Selftest { loop_devices })
        }
        "help" => match positional.as_slice() {
            [] => Ok(Command::Print(help::full())),
            [cmd] => help::for_command(cmd).map(Command::Print).ok_or_else(|| {
                format!("peercall help {cmd}: no such command; the commands are run, call, list, lookup, id, devices, selftest and demo")
            }),
            [_, x, ..] => Err(format!("unexpected argument '{x}' for peercall help; see peercall --help")),
        },
        other => Err(format!(
            "unknown command '{other}'; the commands are run, call, list, lookup, id, devices, selftest, demo and help"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(a: Vec<OsString>) -> Result<Command, String> {
        super::parse(a, None)
    }

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
        let Command::Run(o) = parse(args(
            "run --name a --registry h:1 --forward [::1]:5004 --sdp v.sdp",
        ))
        .unwrap() else {
            panic!()
        };
        assert_eq!(o.media.forward, Some("[::1]:5004".parse().unwrap()));
        assert_eq!(o.media.sdp, Some("v.sdp".into()));
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
            ("call bob --name bob --registry h:1", "cannot call itself"),
            ("call --name a --registry h:1", "NAME to call"),
            (
                "run --name a --registry h:1 --auto-accept --reject-all",
                "contradict",
            ),
            (
                "run --name a --registry h:1 --seconds 3",
                "for peercall call",
            ),
            ("list --registry h:1 --auto-accept", "not an option"),
            ("call bob --name a --registry h:1 --seconds x", "--seconds"),
            (
                "call bob --name a --registry h:1 --auto-accept",
                "refuses incoming calls",
            ),
            ("list --registry", "needs a value"),
            ("list --bogus", "--bogus"),
            ("run --name a --registry h:1 --sdp x.sdp", "give --forward"),
            (
                "run --name a --registry h:1 --forward 127.0.0.1:5005",
                "even port",
            ),
            (
                "run --name a --registry h:1 --forward 0.0.0.0:5004",
                "player's IP",
            ),
            ("run --name a --registry h:1 --forward 65534", "IP:PORT"),
            (
                "list --registry h:1 --forward 127.0.0.1:5004",
                "not an option",
            ),
        ] {
            let e = parse(args(line)).unwrap_err();
            assert!(e.contains(hint), "{line:?}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }

    fn printed(line: &str) -> String {
        match parse(args(line)) {
            Ok(Command::Print(text)) => text,
            other => panic!("{line:?}: {other:?}"),
        }
    }

    #[test]
    fn help_after_a_command_is_that_commands_and_otherwise_the_whole_text() {
        let whole = printed("--help");
        assert_eq!(printed("help"), whole);
        assert_eq!(printed("-h"), whole);
        assert_eq!(printed("--help run"), whole);
        assert!(whole.contains("peercall selftest"));
        for cmd in [
            "run", "call", "list", "lookup", "devices", "selftest", "demo",
        ] {
            let short = printed(&format!("{cmd} --help"));
            assert_eq!(printed(&format!("{cmd} -h")), short);
            assert_eq!(printed(&format!("help {cmd}")), short);
            assert!(short.contains(&format!("peercall {cmd}")), "{short}");
            assert!(
                short.lines().count() < whole.lines().count() / 2 + 25,
                "{cmd}"
            );
        }
        // The short help comes before the missing --name is noticed.
        assert!(printed("call bob --help").contains("--seconds"));
        assert!(!printed("lookup --help").contains("--video"));
        assert!(parse(args("help dance"))
            .unwrap_err()
            .contains("no such command"));
    }

    #[test]
    fn parsing_reads_no_file_and_takes_the_impairment_from_its_caller() {
        let line =
            "run --name a --registry h:1 --video file:/no/such.mjpeg --audio-in wav:/no/such.wav";
        let Command::Run(o) = parse(args(line)).unwrap() else {
            panic!()
        };
        assert_eq!(
            o.media.video,
            crate::media::VideoSource::File("/no/such.mjpeg".into())
        );
        assert!(o.given.video && o.given.audio_in && !o.given.audio_out);
        let e = super::parse(args("list --registry h:1"), Some(OsStr::new("loss=x"))).unwrap_err();
        assert!(e.starts_with("PEERCALL_IMPAIR: "), "{e}");
    }
}
