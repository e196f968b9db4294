//! Telling systemd how the registry is doing, by the sd_notify(3) protocol,
//! for a unit with `Type=notify` (packaging/peercall-registry.service):
//!
//! ```text
//!   bind, print "listening on ..."  -->  READY=1, STATUS=listening on ...
//!   every WATCHDOG_USEC / 2, from the event loop's timer  -->  WATCHDOG=1
//!   SIGTERM / SIGINT  -->  STOPPING=1, goodbyes, exit 0
//! ```
//!
//! A message is one datagram of `KEY=VALUE` lines sent to the unix socket
//! named by `$NOTIFY_SOCKET`: a path, or `@name` in the abstract namespace.
//! Without `$NOTIFY_SOCKET` (not started by systemd, or not `Type=notify`)
//! nothing is sent. The watchdog is on when systemd sets `$WATCHDOG_USEC`
//! (`WatchdogSec=` in the unit) for this process (`$WATCHDOG_PID`, when set,
//! is our pid). The pings come from the mio loop's own timer, so a loop that
//! stops turning stops pinging, and systemd restarts the service.
//!
//! A failure to notify is logged (once as a warning) and never stops the
//! registry: its output and exit codes are the same with or without systemd.
//! Plain std code (the protocol is a dozen lines), so no libsystemd at run time.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr as UnixAddr, UnixDatagram};
use std::time::{Duration, Instant};

/// Where systemd listens for notifications, and the socket we send from.
struct Channel {
    socket: UnixDatagram,
    to: UnixAddr,
    /// `$NOTIFY_SOCKET` as given, for messages.
    name: String,
}

/// The registry's side of sd_notify: readiness, watchdog pings, stopping.
pub struct Notifier {
    channel: Option<Channel>,
    /// How often to ping: half of `$WATCHDOG_USEC`, when the watchdog is on.
    ping_every: Option<Duration>,
    next_ping: Option<Instant>,
    /// A failure has been logged as a warning; later ones go to debug.
    warned: bool,
}

/// Why `$NOTIFY_SOCKET` names no socket this process can send to.
#[derive(Debug)]
enum AddressError {
    /// Neither an absolute path nor `@abstract` (e.g. systemd's `vsock:`).
    Unsupported,
    /// The OS refused the address (too long for a unix socket address, ...).
    Invalid(io::Error),
}

impl Notifier {
    /// Reads `$NOTIFY_SOCKET`, `$WATCHDOG_USEC` and `$WATCHDOG_PID`.
    pub fn from_env() -> Notifier {
        let socket = std::env::var_os("NOTIFY_SOCKET");
        let usec = std::env::var("WATCHDOG_USEC").ok();
        let pid = std::env::var("WATCHDOG_PID").ok();
        Notifier::new(socket, usec.as_deref(), pid.as_deref(), std::process::id())
    }

    fn new(
        socket: Option<OsString>,
        watchdog_usec: Option<&str>,
        watchdog_pid: Option<&str>,
        my_pid: u32,
    ) -> Notifier {
        let channel = socket
            .filter(|s| !s.is_empty())
            .and_then(|s| match open(&s) {
                Ok(c) => Some(c),
                Err(e) => {
                    let name = s.to_string_lossy();
                    match e {
                        AddressError::Unsupported => log::warn!(
                            "NOTIFY_SOCKET={name}: only a path or an @abstract socket is supported; not notifying systemd"
                        ),
                        AddressError::Invalid(e) => log::warn!(
                            "NOTIFY_SOCKET={name}: {e}; not notifying systemd"
                        ),
                    }
                    None
                }
            });
        let ping_every = channel
            .as_ref()
            .and_then(|_| watchdog_interval(watchdog_usec, watchdog_pid, my_pid));
        Notifier {
            channel,
            ping_every,
            next_ping: None,
            warned: false,
        }
    }

    /// The registry listens on `bound`: tell systemd it is ready, and start
    /// the watchdog pings.
    pub fn ready(&mut self, now: Instant, bound: std::net::SocketAddr) {
        let mut msg = String::from("READY=1\n");
        let _ = writeln!(msg, "STATUS=listening on {bound}");
        self.send(&msg);
        self.next_ping = self.ping_every.map(|d| now + d);
    }

    /// When the next watchdog ping is due, if the watchdog is on.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.next_ping
    }

    /// Pings the watchdog if it is time.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let (Some(due), Some(every)) = (self.next_ping, self.ping_every) {
            if now >= due {
                self.send("WATCHDOG=1\n");
                self.next_ping = Some(now + every);
            }
        }
    }

    /// Shutdown has begun; no more watchdog pings.
    pub fn stopping(&mut self) {
        self.next_ping = None;
        self.send("STOPPING=1\n");
    }

    fn send(&mut self, msg: &str) {
        let Some(c) = &self.channel else { return };
        let result = loop {
            match c.socket.send_to_addr(msg.as_bytes(), &c.to) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        match result {
            Ok(n) if n == msg.len() => {}
            Ok(n) => self.failed(format_args!("sent {n} of {} bytes", msg.len())),
            Err(e) => self.failed(format_args!("{e}")),
        }
    }

    fn failed(&mut self, what: std::fmt::Arguments<'_>) {
        let name = self.channel.as_ref().map_or("", |c| c.name.as_str());
        if self.warned {
            log::debug!("cannot notify systemd at {name}: {what}");
        } else {
            self.warned = true;
            log::warn!("cannot notify systemd at {name}: {what}");
        }
    }
}

/// An unbound datagram socket and the address `$NOTIFY_SOCKET` names. Sent
/// to by address each time (not connected), so a systemd that re-creates its
/// socket (daemon-reexec) is still reached.
fn open(s: &std::ffi::OsStr) -> Result<Channel, AddressError> {
    let bytes = s.as_bytes();
    let to = match bytes.first() {
        Some(b'/') => UnixAddr::from_pathname(s).map_err(AddressError::Invalid)?,
        Some(b'@') => abstract_addr(&bytes[1..])?,
        _ => return Err(AddressError::Unsupported),
    };
    let socket = UnixDatagram::unbound().map_err(AddressError::Invalid)?;
    Ok(Channel {
        socket,
        to,
        name: s.to_string_lossy().into_owned(),
    })
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn abstract_addr(name: &[u8]) -> Result<UnixAddr, AddressError> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;
    UnixAddr::from_abstract_name(name).map_err(AddressError::Invalid)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn abstract_addr(_name: &[u8]) -> Result<UnixAddr, AddressError> {
    Err(AddressError::Unsupported)
}

/// Half the watchdog timeout, when systemd asks this process for pings.
fn watchdog_interval(usec: Option<&str>, pid: Option<&str>, my_pid: u32) -> Option<Duration> {
    let usec: u64 = usec?.trim().parse().ok().filter(|&u| u > 0)?;
    if let Some(pid) = pid {
        if pid.trim().parse::<u32>().ok() != Some(my_pid) {
            return None;
        }
    }
    Some(Duration::from_micros(usec) / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchdog_is_half_the_timeout_for_this_process_only() {
        let half = Some(Duration::from_millis(10_000));
        assert_eq!(watchdog_interval(Some("20000000"), None, 7), half);
        assert_eq!(watchdog_interval(Some("20000000"), Some("7"), 7), half);
        assert_eq!(watchdog_interval(Some("20000000"), Some("8"), 7), None);
        assert_eq!(watchdog_interval(Some("20000000"), Some("x"), 7), None);
        assert_eq!(watchdog_interval(Some("0"), None, 7), None);
        assert_eq!(watchdog_interval(Some("soon"), None, 7), None);
        assert_eq!(watchdog_interval(None, Some("7"), 7), None);
    }

    #[test]
    fn only_paths_and_abstract_names_are_notify_sockets() {
        assert!(matches!(
            open("vsock:2:1234".as_ref()),
            Err(AddressError::Unsupported)
        ));
        assert!(matches!(
            open("relative/notify".as_ref()),
            Err(AddressError::Unsupported)
        ));
        assert!(open("/run/systemd/notify".as_ref()).is_ok());
        let long = format!("/{}", "x".repeat(200));
        assert!(matches!(open(long.as_ref()), Err(AddressError::Invalid(_))));
    }

    #[test]
    fn without_a_socket_nothing_is_scheduled() {
        let mut n = Notifier::new(None, Some("1000000"), None, 1);
        let now = Instant::now();
        n.ready(now, "127.0.0.1:4700".parse().unwrap());
        assert_eq!(n.next_timeout(), None);
    }

    #[test]
    fn pings_follow_the_timer_and_stop_when_stopping() {
        let path =
            std::env::temp_dir().join(format!("peercall-notify-unit-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let systemd = UnixDatagram::bind(&path).unwrap();
        systemd.set_nonblocking(true).unwrap();
        let mut n = Notifier::new(Some(path.clone().into()), Some("200000"), None, 1);
        let t0 = Instant::now();
        n.ready(t0, "127.0.0.1:4700".parse().unwrap());
        let mut buf = [0u8; 256];
        let k = systemd.recv(&mut buf).unwrap();
        assert_eq!(&buf[..k], b"READY=1\nSTATUS=listening on 127.0.0.1:4700\n");
        let due = t0 + Duration::from_millis(100);
        assert_eq!(n.next_timeout(), Some(due));
        n.handle_timeout(due - Duration::from_millis(1));
        assert!(systemd.recv(&mut buf).is_err(), "pinged early");
        n.handle_timeout(due);
        let k = systemd.recv(&mut buf).unwrap();
        assert_eq!(&buf[..k], b"WATCHDOG=1\n");
        assert_eq!(n.next_timeout(), Some(due + Duration::from_millis(100)));
        n.stopping();
        let k = systemd.recv(&mut buf).unwrap();
        assert_eq!(&buf[..k], b"STOPPING=1\n");
        assert_eq!(n.next_timeout(), None);
        let _ = std::fs::remove_file(&path);
    }
}
