//! The command line: subcommands, their flags, and one-line errors that say
//! what was wrong and what to do.

use crate::media::{
    AudioSink, AudioSource, MediaOptions, VideoSink, VideoSource, DEFAULT_CAMERA, MAX_FPS,
};
use crate::registry_addr::RegistryAddr;
use peercall::media::capture::PixelFormat;
use peercall::media::impair::ImpairConfig;
use peercall::wire::Name;
use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How long the demo call's media runs without `--seconds`.
pub const DEFAULT_DEMO_SECONDS: Duration = Duration::from_secs(5);

/// The port a peer listens on for calls when `--listen` is not given.
pub const DEFAULT_CALL_PORT: u16 = 4701;

/// The help text.
pub const HELP: &str = "\
peercall: peer-to-peer calls between boards

USAGE:
    peercall run --name NAME --registry HOST:PORT [--listen ADDR]
                 [--auto-accept | --reject-all] [--answer-timeout SECS]
    peercall call NAME --name ME --registry HOST:PORT [--listen ADDR] [--seconds N]
                 [--answer-timeout SECS]
    peercall list --registry HOST:PORT
    peercall lookup NAME --registry HOST:PORT
    peercall demo [--seconds N]
    peercall devices
    peercall selftest [--loop-out DEVICE --loop-in DEVICE]
    peercall help | --help | --version

run      register NAME with the registry and stay registered (pings, reconnects
         when the registry comes back); read commands from stdin, one per line:
             call NAME       call NAME (looked up in the registry)
             accept          take the incoming call
             reject          refuse the incoming call
             hangup          end the call (or stop calling)
             status          show the current call
             list            show every registered peer
             lookup NAME     show where NAME is
             help            show these commands
             quit            unregister and exit
         SIGINT (Ctrl-C) or SIGTERM also unregister and exit 0.
         --listen ADDR   the call port, IP:PORT or PORT (default 0.0.0.0:4701);
                         an IP of 0.0.0.0 lets the registry record the address it
                         sees this peer coming from; port 0 picks a free port
         --auto-accept   answer every call (an unattended board, an intercom)
         --reject-all    refuse every call
         --answer-timeout SECS  give up calling after SECS without an answer (default 30)
         media (run and call): --video v4l2:/dev/videoN|test|none|file:PATH
         (default: the camera /dev/video0 when there is one, else test: a moving
         pattern carrying frame number and capture time; file: an MJPEG file sent
         as it is, looped), --size WxH and --fps N (the picture asked for, default
         640x480 at 30; a camera gives its closest), --no-video / --no-audio (no
         such stream either way), --camera-format mjpeg|yuyv|i420|nv12 (capture
         only in that format; default: the camera's MJPEG when it has the size,
         else the raw format cheapest to encode), --audio-in tone|none|wav:PATH (default tone: 440 Hz
         with a mark every second; wav: 48 kHz 16-bit, looped), --video-out null|file:PATH
         (received frames as an MJPEG stream), --audio-out null|wav:PATH,
         --impair loss=5%,delay=20ms,jitter=30ms,dup=1%,seed=7 (a seeded
         impairment of what this peer receives; also PEERCALL_IMPAIR),
         --report-json (the end-of-call quality report also as one JSON line),
         --jpeg-quality N (1-100, default 75: the test pattern's JPEG quality),
         --forward IP:PORT (a copy of the received video RTP to PORT and audio
         to PORT+2, RTCP one port above each, for ffplay, VLC or GStreamer; PORT
         even), --sdp PATH (with --forward: write the SDP a player opens)
call     register as ME, call NAME, keep the call N seconds (--seconds; default:
         until the other side hangs up), hang up, unregister, exit 0; exit
         non-zero with one line when the call fails (see exit codes)
list     print one line per registered peer: NAME IP:PORT
lookup   print NAME IP:PORT and exit 0, or `NAME: not registered` on stderr and exit 1
devices  list the cameras (formats, sizes, frame rates) and sound cards
selftest check this board's devices: frames from each camera decode, each sound
         card opens at 48 kHz, a tone comes back through a loopback (snd-aloop,
         or a cable: --loop-out alsa-device --loop-in alsa-device) with its round
         trip and clock drift, and a local call runs end to end; prints a table,
         exit 0 when nothing failed, 1 otherwise
demo     a registry and two peers on this machine: register, list, look up, call,
         N seconds (default 5) of two-way video and audio, quality reports, hang up,
         unregister; needs peercall-registry beside this program

Names: 1 to 32 bytes of letters, digits, '-', '_' and '.', starting with a letter or digit.
Exit codes: 0 ok, 1 not registered, 2 registry unreachable, 3 registration refused,
4 registry protocol error, 5 call port unavailable, 6 call declined, 7 callee busy,
8 no answer, 9 callee unreachable, 10 no common media, 11 call connection lost,
64 bad command line, 130 call interrupted by a signal.
Log detail on stderr: RUST_LOG=debug.
";

/// How incoming calls are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerMode {
    /// Ask the user (`accept` / `reject`).
    Ask,
    /// Accept every call.
    AutoAccept,
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

/// `--size WxH`: a picture RTP/JPEG can carry.
fn parse_size(v: &str) -> Result<(u16, u16), String> {
    let parsed = v
        .split_once(['x', 'X'])
        .and_then(|(w, h)| Some((w.parse::<u16>().ok()?, h.parse::<u16>().ok()?)));
    match parsed {
        Some((w, h)) if peercall::media::capture::carriable(w.into(), h.into()) => Ok((w, h)),
        _ => Err(format!(
            "--size takes WIDTHxHEIGHT in multiples of 8 up to 2040, like 640x480 (got '{v}')"
        )),
    }
}

/// `--forward IP:PORT`: where a player listens. Players pair RTP on an even
/// port with RTCP on the odd one above, and audio takes the next pair.
fn parse_forward(v: &str) -> Result<SocketAddr, String> {
    let hint = "like 127.0.0.1:5004 (video RTP there, audio at PORT+2, RTCP one above each)";
    let a: SocketAddr = v
        .parse()
        .map_err(|_| format!("--forward takes IP:PORT, {hint} (got '{v}')"))?;
    if a.ip().is_unspecified() || a.port() == 0 || a.port() % 2 != 0 || a.port() > u16::MAX - 3 {
        return Err(format!(
            "--forward needs a player's IP and an even port from 2 to {}, {hint} (got '{v}')",
            u16::MAX - 3
        ));
    }
    Ok(a)
}

fn parse_seconds(flag: &str, v: &str) -> Result<Duration, String> {
    match v.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!(
            "{flag} takes a number of seconds greater than 0, like 30 or 0.5 (got '{v}')"
        )),
    }
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
    let mut auto_accept = false;
    let mut reject_all = false;
    let mut answer_timeout = None;
    let mut seconds = None;
    let mut media = MediaOptions::default();
    let mut media_set = false;
    let mut video_given = false;
    let mut audio_in_given = false;
    let mut loop_out: Option<String> = None;
    let mut loop_in: Option<String> = None;
    let mut audio_out_given = false;
    if let Some(spec) = std::env::var_os("PEERCALL_IMPAIR") {
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
            Long("reject-all") => reject_all = true,
            Long("answer-timeout") => {
                answer_timeout = Some(parse_seconds(
                    "--answer-timeout",
                    &value(&mut p, "--answer-timeout")?,
                )?)
            }
            Long("video") => {
                media_set = true;
                video_given = true;
                let v = value(&mut p, "--video")?;
                media.video = match v.split_once(':') {
                    _ if v == "test" => VideoSource::Test,
                    _ if v == "none" => VideoSource::None,
                    Some(("v4l2", path)) if !path.is_empty() => {
                        if !std::path::Path::new(path).exists() {
                            return Err(format!(
                                "--video {v}: {path} does not exist; `peercall devices` lists the cameras, --video test sends a test pattern"
                            ));
                        }
                        VideoSource::Camera(path.into())
                    }
                    Some(("file", path)) if !path.is_empty() => {
                        // Check now, so a bad file is one line at start, not a silent call.
                        crate::media::load_mjpeg(std::path::Path::new(path))
                            .map_err(|e| format!("--video {v}: {e}"))?;
                        VideoSource::File(path.into())
                    }
                    _ => {
                        return Err(format!(
                            "--video takes v4l2:/dev/videoN, test, none or file:PATH (got '{v}')"
                        ))
                    }
                }
            }
            Long("audio-in") => {
                media_set = true;
                audio_in_given = true;
                let v = value(&mut p, "--audio-in")?;
                media.audio = match v.split_once(':') {
                    _ if v == "tone" => AudioSource::Tone,
                    _ if v == "alsa" => AudioSource::Alsa("default".into()),
                    Some(("alsa", dev)) if !dev.is_empty() => AudioSource::Alsa(dev.into()),
                    _ if v == "none" => AudioSource::None,
                    Some(("wav", path)) if !path.is_empty() => {
                        crate::media::load_wav(std::path::Path::new(path))
                            .map_err(|e| format!("--audio-in {v}: {e}"))?;
                        AudioSource::Wav(path.into())
                    }
                    _ => {
                        return Err(format!(
                            "--audio-in takes alsa:DEVICE, tone, none or wav:PATH (got '{v}')"
                        ))
                    }
                }
            }
            Long("video-out") => {
                media_set = true;
                let v = value(&mut p, "--video-out")?;
                media.video_out = match v.split_once(':') {
                    _ if v == "null" => VideoSink::Null,
                    Some(("file", path)) if !path.is_empty() => VideoSink::File(path.into()),
                    _ => return Err(format!("--video-out takes null or file:PATH (got '{v}')")),
                }
            }
            Long("audio-out") => {
                media_set = true;
                audio_out_given = true;
                let v = value(&mut p, "--audio-out")?;
                media.audio_out = match v.split_once(':') {
                    _ if v == "null" => AudioSink::Null,
                    _ if v == "alsa" => AudioSink::Alsa("default".into()),
                    Some(("alsa", dev)) if !dev.is_empty() => AudioSink::Alsa(dev.into()),
                    Some(("wav", path)) if !path.is_empty() => AudioSink::Wav(path.into()),
                    _ => {
                        return Err(format!(
                            "--audio-out takes alsa:DEVICE, null or wav:PATH (got '{v}')"
                        ))
                    }
                }
            }
            Long("jpeg-quality") => {
                media_set = true;
                let v = value(&mut p, "--jpeg-quality")?;
                media.jpeg_quality = match v.parse::<u8>() {
                    Ok(q) if (1..=100).contains(&q) => q,
                    _ => {
                        return Err(format!(
                            "--jpeg-quality takes a whole number from 1 to 100 (got '{v}')"
                        ))
                    }
                };
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
            Long("loop-out") => loop_out = Some(value(&mut p, "--loop-out")?),
            Long("loop-in") => loop_in = Some(value(&mut p, "--loop-in")?),
            Long("size") => {
                media_set = true;
                media.size = parse_size(&value(&mut p, "--size")?)?;
            }
            Long("fps") => {
                media_set = true;
                let v = value(&mut p, "--fps")?;
                media.fps = match v.parse::<u8>() {
                    Ok(f) if (1..=MAX_FPS).contains(&f) => f,
                    _ => {
                        return Err(format!(
                            "--fps takes a whole number of frames per second from 1 to {MAX_FPS} (got '{v}')"
                        ))
                    }
                };
            }
            Long("camera-format") => {
                media_set = true;
                let v = value(&mut p, "--camera-format")?;
                media.camera_format = Some(match v.to_ascii_lowercase().as_str() {
                    "mjpeg" => PixelFormat::Mjpeg,
                    "yuyv" => PixelFormat::Yuyv,
                    "i420" => PixelFormat::I420,
                    "nv12" => PixelFormat::Nv12,
                    _ => {
                        return Err(format!(
                            "--camera-format takes mjpeg, yuyv, i420 or nv12 (got '{v}')"
                        ))
                    }
                });
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
        return Err(
            "no command given; try peercall run, call, list, lookup, demo or --help".into(),
        );
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
    if media.no_video && media.no_audio {
        return Err("--no-video and --no-audio leave nothing to call with; drop one".into());
    }
    if !video_given && !media.no_video {
        // A board with a camera uses it; without one the test pattern shows
        // the call works, and the peer says so when it starts.
        if std::path::Path::new(DEFAULT_CAMERA).exists() {
            media.video = VideoSource::Camera(DEFAULT_CAMERA.into());
            media.video_auto = true;
        } else {
            media.video_defaulted = true;
        }
    }
    if matches!(sub.as_str(), "run" | "call") && !media.no_audio {
        // A board with a sound card talks through it; without one the tone
        // and a null speaker keep the call working, and the peer says so.
        let cards = crate::sound::cards();
        let has =
            |dir: fn(&crate::sound::PcmInfo) -> bool| cards.iter().any(|c| c.pcms.iter().any(dir));
        if !audio_in_given {
            if has(|p| p.capture) {
                media.audio = AudioSource::Alsa("default".into());
            } else {
                media.audio_defaulted = true;
            }
        }
        if !audio_out_given {
            if has(|p| p.playback) {
                media.audio_out = AudioSink::Alsa("default".into());
            } else {
                media.audio_defaulted = true;
            }
        }
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
    let answer = if auto_accept {
        AnswerMode::AutoAccept
    } else if reject_all {
        AnswerMode::RejectAll
    } else {
        AnswerMode::Ask
    };
    let calls_only = |cmd: &str| -> Result<(), String> {
        for (flag, set) in [
            ("--auto-accept", auto_accept),
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
                media: media.clone(),
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
            if auto_accept {
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
        "demo" => {
            no_extra("demo", &positional)?;
            for (flag, set) in [
                ("--name", name.is_some()),
                ("--registry", registry.is_some()),
                ("--listen", listen.is_some()),
            ] {
                if set {
                    return Err(format!("{flag} is not an option of peercall demo"));
                }
            }
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
        "help" => Ok(Command::Print(HELP.into())),
        other => Err(format!(
            "unknown command '{other}'; the commands are run, call, list, lookup, devices, selftest, demo and help"
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
}
