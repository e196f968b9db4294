//! `impair-relay`: forwards UDP datagrams from one loopback port to another
//! through peercall's own seeded impairment, so that a program which has no
//! `--impair` of its own (the GStreamer pipelines `make bench-loss` runs
//! beside peercall) meets exactly the loss, delay and rate the peers apply
//! to what they receive. One direction per process: the bench starts one
//! relay per flow (RTP and RTCP, each way).
//!
//! ```text
//! impair-relay --listen 127.0.0.1:A [--to 127.0.0.1:B] [--impair SPEC]
//!              [--log FILE] [--seconds N]
//! impair-relay --check SPEC
//! ```
//!
//! It prints `relaying LISTEN -> TO` once bound (`--listen` may name port 0)
//! and, on exit after `--seconds`, one line of counters. Without `--to` it
//! only records what arrives (a tap). `--log FILE` gets one line per
//! datagram received, before the impairment: the wall-clock time in µs since
//! the Unix epoch, the size, the RTP marker bit and payload type, sequence
//! number, timestamp and SSRC (zeros when the datagram is shorter than an RTP
//! header), and `lost` or `pass`. The log is flushed every
//! [`FLUSH_INTERVAL`], so a relay stopped by a signal loses at most that much
//! of its tail. `--check SPEC` only says whether this build's impairment
//! accepts SPEC (exit 0) or why not (exit 2).

use peercall::media::impair::{ImpairConfig, Impairment};
use std::fs::File;
use std::io::{BufWriter, ErrorKind, Write};
use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Largest datagram relayed; larger ones are truncated by the receive call
/// (no RTP packet on loopback comes near it).
pub const MAX_DATAGRAM: usize = 65_536;

/// Longest wait on the socket when no impaired packet is due: it bounds how
/// late `--seconds` and the log flush are noticed.
pub const IDLE_WAIT: Duration = Duration::from_millis(50);

/// How often the log is written out.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// The fixed RTP header's length: shorter datagrams are logged without RTP
/// fields.
pub const RTP_HEADER: usize = 12;

const USAGE: &str = "usage: impair-relay --listen IP:PORT [--to IP:PORT] [--impair SPEC] [--log FILE] [--seconds N]\n       impair-relay --check SPEC";

/// What the command line asked for.
struct Options {
    listen: SocketAddr,
    to: Option<SocketAddr>,
    impair: ImpairConfig,
    log: Option<String>,
    seconds: Option<f64>,
}

enum Command {
    // Boxed: the impairment's settings make it far larger than the other.
    Relay(Box<Options>),
    Check(String),
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Command, String> {
    let mut listen = None;
    let mut to = None;
    let mut impair = ImpairConfig::default();
    let mut log = None;
    let mut seconds = None;
    let mut args = args.peekable();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => {
                let v = value()?;
                listen = Some(
                    v.parse()
                        .map_err(|_| format!("--listen {v}: not IP:PORT"))?,
                );
            }
            "--to" => {
                let v = value()?;
                to = Some(v.parse().map_err(|_| format!("--to {v}: not IP:PORT"))?);
            }
            "--impair" => {
                impair = ImpairConfig::parse(&value()?).map_err(|e| format!("--impair: {e}"))?;
            }
            "--log" => log = Some(value()?),
            "--seconds" => {
                let v = value()?;
                seconds = Some(
                    v.parse::<f64>()
                        .ok()
                        .filter(|s| s.is_finite() && *s > 0.0)
                        .ok_or_else(|| format!("--seconds {v}: not a positive number"))?,
                );
            }
            "--check" => return Ok(Command::Check(value()?)),
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument '{other}'\n{USAGE}")),
        }
    }
    let listen = listen.ok_or_else(|| format!("--listen is required\n{USAGE}"))?;
    Ok(Command::Relay(Box::new(Options {
        listen,
        to,
        impair,
        log,
        seconds,
    })))
}

/// One log line's RTP fields: marker, payload type, sequence number,
/// timestamp, SSRC; zeros for a datagram too short to be RTP.
fn rtp_fields(d: &[u8]) -> (u8, u8, u16, u32, u32) {
    match d.get(..RTP_HEADER) {
        Some(h) => (
            h[1] >> 7,
            h[1] & 0x7f,
            u16::from_be_bytes([h[2], h[3]]),
            u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
            u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
        ),
        None => (0, 0, 0, 0, 0),
    }
}

fn wall_us() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
}

/// Relays what arrives on `sock` (bound to `o.listen` by the caller) until
/// `--seconds` have passed, or forever.
fn relay(sock: UdpSocket, o: Options) -> Result<(), String> {
    let local = sock.local_addr().map_err(|e| e.to_string())?;
    let mut log = match &o.log {
        Some(path) => Some(BufWriter::new(
            File::create(path).map_err(|e| format!("{path}: {e}"))?,
        )),
        None => None,
    };
    let to =
        o.to.map_or_else(|| "nowhere".to_string(), |a| a.to_string());
    println!("relaying {local} -> {to}");
    let _ = std::io::stdout().flush();

    let start = Instant::now();
    let end = o.seconds.map(|s| start + Duration::from_secs_f64(s));
    let mut imp: Impairment<Vec<u8>> = Impairment::new(o.impair);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut flushed = start;
    let (mut received, mut sent, mut send_errors) = (0u64, 0u64, 0u64);
    loop {
        let now = Instant::now();
        if end.is_some_and(|e| now >= e) {
            break;
        }
        let wait = [imp.next_timeout(), end]
            .into_iter()
            .flatten()
            .map(|t| t.saturating_duration_since(now))
            .fold(IDLE_WAIT, Duration::min)
            // A zero timeout means "block forever" to the socket.
            .max(Duration::from_micros(100));
        sock.set_read_timeout(Some(wait))
            .map_err(|e| e.to_string())?;
        match sock.recv_from(&mut buf) {
            Ok((n, _from)) => {
                let now = Instant::now();
                let d = &buf[..n];
                received += 1;
                let dropped = |s: &peercall::media::impair::ImpairStats| {
                    s.lost + s.overflow + s.queue_dropped
                };
                let lost_before = dropped(imp.stats());
                // Sized, so a `rate=` bottleneck takes the datagram's time.
                imp.send_sized(now, d.to_vec(), d.len());
                let fate = if dropped(imp.stats()) > lost_before {
                    "lost"
                } else {
                    "pass"
                };
                if let Some(w) = log.as_mut() {
                    let (m, pt, seq, ts, ssrc) = rtp_fields(d);
                    writeln!(w, "{} {n} {m} {pt} {seq} {ts} {ssrc} {fate}", wall_us())
                        .map_err(|e| e.to_string())?;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // ICMP port unreachable from an earlier send surfaces here while
            // the receiver is not listening yet; keep going.
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => {}
            Err(e) => return Err(format!("receive: {e}")),
        }
        let now = Instant::now();
        while let Some(d) = imp.poll(now) {
            if let Some(to) = o.to {
                match sock.send_to(&d, to) {
                    Ok(_) => sent += 1,
                    Err(_) => send_errors += 1,
                }
            }
        }
        if now.duration_since(flushed) >= FLUSH_INTERVAL {
            if let Some(w) = log.as_mut() {
                w.flush().map_err(|e| e.to_string())?;
            }
            flushed = now;
        }
    }
    if let Some(w) = log.as_mut() {
        w.flush().map_err(|e| e.to_string())?;
    }
    let st = imp.stats();
    println!(
        "relayed: received {received} lost {} overflow {} duplicated {} sent {sent} send_errors {send_errors}",
        st.lost, st.overflow, st.duplicated
    );
    Ok(())
}

fn main() -> ExitCode {
    match parse_args(std::env::args().skip(1)) {
        Ok(Command::Check(spec)) => match ImpairConfig::parse(&spec) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                println!("{e}");
                ExitCode::from(2)
            }
        },
        Ok(Command::Relay(o)) => match UdpSocket::bind(o.listen)
            .map_err(|e| format!("bind {}: {e}", o.listen))
            .and_then(|sock| relay(sock, *o))
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("impair-relay: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("impair-relay: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> impl Iterator<Item = String> {
        a.iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn rtp_fields_are_read_and_short_datagrams_give_zeros() {
        let mut p = vec![0x80, 0x80 | 26, 0x12, 0x34, 0, 0, 0x0b, 0xb8, 1, 2, 3, 4];
        p.extend_from_slice(b"payload");
        assert_eq!(rtp_fields(&p), (1, 26, 0x1234, 3000, 0x0102_0304));
        assert_eq!(rtp_fields(&p[..11]), (0, 0, 0, 0, 0));
        assert_eq!(rtp_fields(&[]), (0, 0, 0, 0, 0));
    }

    #[test]
    fn arguments_parse_or_say_what_is_wrong() {
        let Ok(Command::Relay(o)) = parse_args(args(&[
            "--listen",
            "127.0.0.1:0",
            "--to",
            "127.0.0.1:5000",
            "--impair",
            "loss=5%,seed=3",
            "--seconds",
            "2.5",
        ])) else {
            panic!("a full command line must parse");
        };
        assert_eq!(o.to, Some("127.0.0.1:5000".parse().unwrap()));
        assert_eq!(o.impair.loss, 0.05);
        assert_eq!(o.impair.seed, 3);
        assert_eq!(o.seconds, Some(2.5));
        for bad in [
            &["--to", "127.0.0.1:1"][..],
            &["--listen", "nowhere"],
            &["--listen", "127.0.0.1:0", "--impair", "bogus=1"],
            &["--listen", "127.0.0.1:0", "--seconds", "-1"],
            &["--listen"],
            &["--frobnicate"],
        ] {
            assert!(parse_args(args(bad)).is_err(), "{bad:?}");
        }
        assert!(matches!(
            parse_args(args(&["--check", "loss=1%"])),
            Ok(Command::Check(s)) if s == "loss=1%"
        ));
    }

    #[test]
    fn a_relay_forwards_what_it_does_not_lose_and_logs_every_datagram() {
        let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
        sink.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let listen = sock.local_addr().unwrap();
        let dir = std::env::temp_dir().join(format!("impair-relay-test-{}", std::process::id()));
        let log = dir.with_extension("log");
        let o = Options {
            listen,
            to: Some(sink.local_addr().unwrap()),
            impair: ImpairConfig::parse("loss=50%,seed=9").unwrap(),
            log: Some(log.to_string_lossy().into_owned()),
            seconds: Some(1.0),
        };
        let t = std::thread::spawn(move || relay(sock, o));
        let src = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut pkt = [0x80u8, 26, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xaa];
        for seq in 0..200u16 {
            pkt[2..4].copy_from_slice(&seq.to_be_bytes());
            src.send_to(&pkt, listen).unwrap();
        }
        t.join().unwrap().unwrap();
        let text = std::fs::read_to_string(&log).unwrap();
        let _ = std::fs::remove_file(&log);
        let lines: Vec<&str> = text.lines().collect();
        let passed = lines.iter().filter(|l| l.ends_with(" pass")).count();
        let lost = lines.iter().filter(|l| l.ends_with(" lost")).count();
        assert_eq!(lines.len(), 200, "one line per datagram");
        assert_eq!(passed + lost, lines.len());
        assert!(lost > 0 && passed > 0, "{passed} passed, {lost} lost");
        sink.set_nonblocking(true).unwrap();
        let mut got = 0;
        let mut b = [0u8; 64];
        while let Ok((n, _)) = sink.recv_from(&mut b) {
            assert_eq!((n, b[1], b[12]), (pkt.len(), 26, 0xaa), "relayed unchanged");
            got += 1;
        }
        assert_eq!(got, passed, "every datagram not lost arrives");
    }
}
