//! The text `peercall --help` prints (every command, flag and exit code),
//! and the short help of one command (`peercall run --help`): its
//! synopsis, its flags and the exit codes it can end with. Both are put
//! together from the same pieces, so a flag is described in one place.

/// One command's help: the pieces the whole text and the short help share.
struct CommandHelp {
    /// The command's name, as typed after `peercall`.
    name: &'static str,
    /// Its synopsis lines, each starting with `peercall`.
    synopsis: &'static str,
    /// What it does and its own flags, indented as in the whole text.
    body: &'static str,
    /// Whether the media options apply (run and call).
    media: bool,
    /// The exit codes it can end with (see [`EXIT_CODES`]).
    exits: &'static [u8],
}

/// Every exit code `peercall` ends with, and what it means.
const EXIT_CODES: &[(u8, &str)] = &[
    (0, "ok"),
    (1, "not registered"),
    (2, "registry unreachable"),
    (3, "registration refused"),
    (4, "registry protocol error"),
    (5, "call port unavailable"),
    (6, "call declined"),
    (7, "callee busy"),
    (8, "no answer"),
    (9, "callee unreachable"),
    (10, "no common media"),
    (11, "call connection lost"),
    (12, "call refused for a reason this version does not know"),
    (13, "identity file unusable"),
    (14, "callee did not prove the expected key"),
    (15, "callee answers only its allow file's keys"),
    (64, "bad command line"),
    (130, "call interrupted by a signal"),
];

const TITLE: &str = "peercall: peer-to-peer calls between boards\n";

const RUN: CommandHelp = CommandHelp {
    name: "run",
    synopsis: "\
peercall run --name NAME --registry HOST:PORT [--listen ADDR]
             [--auto-accept | --auto-accept-anyone | --reject-all]
             [--answer-timeout SECS] [--identity PATH] [--allow PATH]
             [MEDIA]
",
    body: "\
run      register NAME with the registry and stay registered (pings, reconnects
         when the registry comes back); read commands from stdin, one per line:
             call NAME       call NAME (looked up in the registry)
             accept          take the incoming call
             reject          refuse the incoming call
             trust           add the calling peer's key to the allow file
             hangup          end the call (or stop calling)
             status          show the current call
             list            show every registered peer
             lookup NAME     show where NAME is
             mute            turn the microphone off or back on
             help            show these commands
             quit            unregister and exit (so does Ctrl-D on a terminal)
         SIGINT (Ctrl-C) or SIGTERM also unregister and exit 0.
         --listen ADDR   the call port, IP:PORT or PORT (default 0.0.0.0:4701);
                         an IP of 0.0.0.0 lets the registry record the address
                         it sees this peer coming from; port 0 picks a free port
         --auto-accept   answer the calls of the keys in the allow file by
                         itself (an unattended board, an intercom); refuse
                         others (they are told: not allowed)
         --auto-accept-anyone
                         answer every call, from anyone (warned at start)
         --allow PATH    the allow file: one public key per line (as peercall id
                         prints it), a name after it, # comments (default:
                         allow beside the identity file)
         --reject-all    refuse every call
         --answer-timeout SECS
                         give up calling after SECS unanswered (default 30)
         --identity PATH this peer's key (see peercall id)
",
    media: true,
    exits: &[0, 3, 5, 13, 64],
};

const CALL: CommandHelp = CommandHelp {
    name: "call",
    synopsis: "\
peercall call NAME --name ME --registry HOST:PORT [--listen ADDR]
              [--seconds N] [--answer-timeout SECS] [--identity PATH]
              [--allow PATH] [MEDIA]
",
    body: "\
call     register as ME, call NAME, keep the call N seconds (--seconds; default:
         until the other side hangs up), hang up, unregister, exit 0; exit
         non-zero with one line when the call fails (see exit codes)
         --listen ADDR   this peer's call port, as for run
         --answer-timeout SECS
                         give up after SECS without an answer (default 30)
         --identity PATH this peer's key, as for run
         --allow PATH    the allow file, as for run: a key written there with
                         NAME after it is the key NAME must prove (a pin); it
                         must match the key the registry gives for NAME
",
    media: true,
    exits: &[
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 64, 130,
    ],
};

const LIST: CommandHelp = CommandHelp {
    name: "list",
    synopsis: "peercall list --registry HOST:PORT\n",
    body: "\
list     print one line per registered peer: NAME IP:PORT KEY
",
    media: false,
    exits: &[0, 2, 4, 64],
};

const LOOKUP: CommandHelp = CommandHelp {
    name: "lookup",
    synopsis: "peercall lookup NAME --registry HOST:PORT\n",
    body: "\
lookup   print NAME IP:PORT KEY and exit 0, or `NAME: not registered` on stderr
         and exit 1
",
    media: false,
    exits: &[0, 1, 2, 4, 64],
};

const ID: CommandHelp = CommandHelp {
    name: "id",
    synopsis: "peercall id [--identity PATH]\n",
    body: "\
id       print this peer's public key, one line of 44 characters, the same
         every time; others put it in their allow file to let this peer call.
         The key pair is created on first use (by id, run or call) in PATH,
         default $STATE_DIRECTORY/identity under systemd, else
         $XDG_STATE_HOME/peercall/identity or ~/.local/state/peercall/identity,
         with mode 0600; a file others can read is refused
",
    media: false,
    exits: &[0, 13, 64],
};

const DEVICES: CommandHelp = CommandHelp {
    name: "devices",
    synopsis: "peercall devices\n",
    body: "\
devices  list the cameras (formats, sizes, frame rates) and sound cards
",
    media: false,
    exits: &[0, 64],
};

const SELFTEST: CommandHelp = CommandHelp {
    name: "selftest",
    synopsis: "peercall selftest [--loop-out DEVICE --loop-in DEVICE]\n",
    body: "\
selftest check this board's devices: frames from each camera decode, each sound
         card opens at 48 kHz, a tone comes back through a loopback (snd-aloop,
         or a cable: --loop-out alsa-device --loop-in alsa-device) with its
         round trip and clock drift, the call window opens, and a local call
         runs end to end; prints a table, exit 0 when nothing failed, 1
         otherwise
",
    media: false,
    exits: &[0, 64],
};

const DEMO: CommandHelp = CommandHelp {
    name: "demo",
    synopsis: "peercall demo [--seconds N]\n",
    body: "\
demo     a registry and two peers on this machine: register, list, look up,
         call, N seconds (default 5) of two-way video and audio, quality
         reports, hang up, unregister; needs peercall-registry beside this
         program
",
    media: false,
    exits: &[0, 5, 64],
};

/// The commands in the order the whole text lists them.
const COMMANDS: [&CommandHelp; 8] = [&RUN, &CALL, &LIST, &LOOKUP, &ID, &DEVICES, &SELFTEST, &DEMO];

/// The media options of run and call.
const MEDIA: &str = "\
MEDIA (run and call):
    --video v4l2:/dev/videoN|test|none|file:PATH
          the picture sent (default: the camera /dev/video0 when there is one,
          else test: a moving pattern carrying frame number and capture time;
          file: an MJPEG file sent as it is, looped)
    --size WxH, --fps N
          the picture asked for (default 640x480 at 30; a camera gives the
          closest it has)
    --camera-format mjpeg|yuyv|i420|nv12
          capture only in that format (default: the camera's MJPEG when it has
          the size, else the raw format cheapest to encode)
    --jpeg-quality N
          1-100, default 75: the test pattern's JPEG quality
    --audio-in alsa:DEVICE|tone|none|wav:PATH
          the sound sent (default: the sound card when there is one, else tone:
          440 Hz with a mark every second; wav: 48 kHz 16-bit, looped)
    --no-video, --no-audio
          no such stream either way
    --video-out auto|window|null|file:PATH
          received video (default auto: the call window when there is a display,
          else null; file: an MJPEG stream ffmpeg and ffplay read)
    --fullscreen, --window-size WxH
          the call window full screen, or its size (default 640x480)
    --audio-out alsa:DEVICE|null|wav:PATH
          received sound (default: the sound card when there is one, else null;
          wav: 48 kHz mono 16-bit)
          file: and wav: record each call to STEM-PEER-N.EXT beside PATH (N
          the first number whose file does not exist) and say so as it starts:
          `recording video to FILE`, `recording sound to FILE`
    --impair loss=5%,delay=20ms,jitter=30ms,dup=1%,seed=7
          a seeded impairment of what this peer receives (also PEERCALL_IMPAIR)
    --no-repair   no loss repair or rate adaptation (to compare)
    --report-json
          the end-of-call quality report also as one JSON line
    --forward IP:PORT
          a copy of the received video RTP to PORT and audio to PORT+2, RTCP one
          port above each, for ffplay, VLC or GStreamer; PORT even
    --sdp PATH
          with --forward: write at start-up the SDP a player opens
";

const NAMES: &str = "\
Names: 1 to 32 bytes of letters, digits, '-', '_' and '.', starting with a
letter or digit.
";

const LOG: &str = "Log detail on stderr: RUST_LOG=debug.\n";

/// The whole help: every command, flag and exit code (`peercall --help`,
/// `peercall help`).
pub fn full() -> String {
    let mut s = String::from(TITLE);
    s.push_str("\nUSAGE:\n");
    for c in COMMANDS {
        push_indented(&mut s, c.synopsis, "    ");
    }
    s.push_str("    peercall help [COMMAND] | COMMAND --help | --help | --version\n\n");
    for c in COMMANDS {
        s.push_str(c.body);
    }
    s.push('\n');
    s.push_str(MEDIA);
    s.push('\n');
    s.push_str(NAMES);
    s.push_str(&exit_codes(
        &EXIT_CODES.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
    ));
    s.push_str(LOG);
    s
}

/// The short help of one command (`peercall COMMAND --help`): its synopsis,
/// what it does, its flags and its exit codes. `None` for an unknown command.
pub fn for_command(name: &str) -> Option<String> {
    let c = COMMANDS.iter().find(|c| c.name == name)?;
    let mut s = String::from("USAGE:\n");
    push_indented(&mut s, c.synopsis, "    ");
    s.push('\n');
    s.push_str(c.body);
    if c.media {
        s.push('\n');
        s.push_str(MEDIA);
    }
    if c.name == "run" || c.name == "call" || c.name == "lookup" {
        s.push('\n');
        s.push_str(NAMES);
    } else {
        s.push('\n');
    }
    s.push_str(&exit_codes(c.exits));
    s.push_str(LOG);
    s.push_str("Every command: peercall --help.\n");
    Some(s)
}

fn push_indented(s: &mut String, text: &str, indent: &str) {
    for line in text.lines() {
        s.push_str(indent);
        s.push_str(line);
        s.push('\n');
    }
}

/// `Exit codes: 0 ok, 2 registry unreachable, ...`, wrapped at 80 columns.
fn exit_codes(codes: &[u8]) -> String {
    const WIDTH: usize = 80;
    let mut out = String::new();
    let mut line = String::from("Exit codes:");
    let items: Vec<String> = codes
        .iter()
        .filter_map(|c| EXIT_CODES.iter().find(|(code, _)| code == c))
        .map(|(code, what)| format!("{code} {what}"))
        .collect();
    for (i, item) in items.iter().enumerate() {
        let last = i + 1 == items.len();
        let word = if last {
            format!("{item}.")
        } else {
            format!("{item},")
        };
        if line.len() + 1 + word.len() > WIDTH {
            out.push_str(&line);
            out.push('\n');
            line = word;
        } else {
            line.push(' ');
            line.push_str(&word);
        }
    }
    out.push_str(&line);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_text_names_every_command_flag_and_exit_code() {
        let all = full();
        for c in COMMANDS {
            assert!(
                all.contains(c.synopsis.lines().next().unwrap()),
                "{}",
                c.name
            );
            assert!(all.contains(c.body), "{}", c.name);
        }
        for (code, what) in EXIT_CODES {
            assert!(all.contains(&format!("{code} {what}")), "{code}");
        }
        for flag in ["--video-out", "--fullscreen", "--window-size", "--sdp"] {
            assert!(all.contains(flag), "{flag}");
        }
    }

    #[test]
    fn a_command_help_is_short_and_only_its_own() {
        let all_lines = full().lines().count();
        for c in COMMANDS {
            let h = for_command(c.name).unwrap();
            assert!(h.contains(c.body), "{}", c.name);
            assert!(h.lines().count() < all_lines, "{}", c.name);
            for other in COMMANDS.iter().filter(|o| o.name != c.name) {
                assert!(!h.contains(other.body), "{} shows {}", c.name, other.name);
            }
            assert_eq!(h.contains("--video-out"), c.media, "{}", c.name);
            assert!(h.contains("Exit codes: 0 ok"), "{}", c.name);
        }
        let list = for_command("list").unwrap();
        assert!(list.contains("4 registry protocol error"));
        assert!(!list.contains("call declined"));
        assert!(list.lines().count() <= 12, "{list}");
        assert!(for_command("dance").is_none());
    }

    #[test]
    fn the_readme_synopsis_lists_every_media_option_and_troubleshooting_covers_the_usual_failures()
    {
        let readme = include_str!("../../../README.md");
        let synopsis = readme
            .split_once("\nMEDIA: ")
            .and_then(|(_, rest)| rest.split_once("\npeercall list"))
            .map(|(media, _)| media)
            .expect("the MEDIA synopsis in README.md");
        let flags = MEDIA
            .split(|c: char| c.is_whitespace() || c == ',' || c == '(')
            .filter(|w| w.starts_with("--") && w.len() > 2)
            .map(|w| w.trim_end_matches([')', ':']));
        for flag in flags {
            assert!(
                synopsis.contains(&format!("[{flag}")) || synopsis.contains(&format!(" {flag} ")),
                "{flag} missing from README's MEDIA synopsis"
            );
        }
        let troubles = readme
            .split_once("\n## Troubleshooting\n")
            .map(|(_, t)| t)
            .expect("a Troubleshooting section");
        for symptom in [
            "No route to host",
            "Connection refused",
            "Device or resource",
            "there is no sound card",
            "does not speak the registry protocol",
        ] {
            assert!(
                troubles.contains(symptom),
                "{symptom} not in Troubleshooting"
            );
        }
    }

    #[test]
    fn lines_fit_a_terminal() {
        for line in full().lines() {
            assert!(line.chars().count() <= 80, "{line}");
        }
    }
}
