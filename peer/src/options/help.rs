//! The text `peercall --help` prints: every command, flag and exit code.

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
