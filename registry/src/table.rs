//! What the registry prints for its operator: one line per event, and the
//! table of registered peers, throttled so a burst of registrations (a
//! thousand boards coming back after a power cut) prints a few tables, not a
//! thousand.

use peercall::registry::{Event, Registry};
use peercall::wire::HoldStatus;
use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The table is printed at most this often; changes in between are coalesced.
pub const TABLE_MIN_INTERVAL: Duration = Duration::from_millis(500);
/// Rows shown in one table; the rest are counted.
pub const TABLE_MAX_ROWS: usize = 50;

/// Prints events and the throttled table to a writer (stdout).
pub struct Printer<W: Write> {
    out: W,
    /// Pairs a monotonic instant with the wall clock, to show "since" times.
    epoch: (Instant, SystemTime),
    last_table: Option<Instant>,
    dirty: bool,
}

impl<W: Write> Printer<W> {
    /// A printer writing to `out`.
    pub fn new(out: W, now: Instant) -> Self {
        Printer {
            out,
            epoch: (now, SystemTime::now()),
            last_table: None,
            dirty: false,
        }
    }

    /// The writer, for what only it can do (waiting for output to drain).
    pub fn out(&mut self) -> &mut W {
        &mut self.out
    }

    /// Writes a plain line. Output errors (a closed pipe) are ignored: the
    /// registry keeps serving when nobody watches.
    pub fn line(&mut self, text: std::fmt::Arguments<'_>) {
        let _ = self.out.write_fmt(text);
        let _ = self.out.write_all(b"\n");
    }

    /// Prints one registry event; marks the table for reprinting if it changed.
    pub fn event(&mut self, e: &Event) {
        match e {
            Event::Registered {
                name,
                addr,
                observed,
                handed_over,
                key,
            } => {
                let how = if *handed_over { " (handed over)" } else { "" };
                self.line(format_args!(
                    "registered: {name} at {addr} (from {observed}){how} key {}",
                    short_key(key)
                ));
                self.dirty = true;
            }
            Event::AlreadyRegistered { name, addr, status } => {
                let what = match status {
                    HoldStatus::Yours => "by the same connection".to_string(),
                    HoldStatus::Probing
                    | HoldStatus::HolderAlive
                    | HoldStatus::ClaimPending
                    | HoldStatus::Unknown(_) => format!("(status {status:?})"),
                };
                self.line(format_args!("already registered: {name} at {addr} {what}"));
            }
            Event::NameTaken {
                name,
                addr,
                holder: Some(holder),
                owner,
            } => self.line(format_args!(
                "refused: {name} at {addr}: name taken by {holder} key {}",
                short_key(owner)
            )),
            Event::NameTaken {
                name,
                addr,
                holder: None,
                owner,
            } => self.line(format_args!(
                "refused: {name} at {addr}: name bound to key {} (offline, lease running)",
                short_key(owner)
            )),
            Event::BadSignature { name, from } => self.line(format_args!(
                "refused: {name} from {from}: signature does not verify (forged or replayed REGISTER)"
            )),
            Event::LeaseExpired { name, owner } => self.line(format_args!(
                "lease expired: {name} released by key {}",
                short_key(owner)
            )),
            Event::NameResembles { name, addr, held } => self.line(format_args!(
                "refused: {name} at {addr}: looks like registered name {held}"
            )),
            Event::EndpointTaken { name, addr, holder } => self.line(format_args!(
                "refused: {name} at {addr}: endpoint taken by {holder}"
            )),
            Event::Departed { name, addr, reason } => {
                self.line(format_args!("departed: {name} at {addr} ({reason})"));
                self.dirty = true;
            }
            Event::ConnectionRefused { from } => self.line(format_args!(
                "refused connection from {from}: too many connections"
            )),
        }
    }

    /// When the table must be printed next, if it changed and is being held back.
    pub fn next_timeout(&self) -> Option<Instant> {
        match (self.dirty, self.last_table) {
            (true, Some(t)) => Some(t + TABLE_MIN_INTERVAL),
            _ => None,
        }
    }

    /// Prints the table if it changed and the interval allows, then flushes.
    pub fn flush(&mut self, now: Instant, reg: &Registry) {
        let due = self
            .last_table
            .is_none_or(|t| now >= t + TABLE_MIN_INTERVAL);
        if self.dirty && due {
            self.table(now, reg);
        }
        let _ = self.out.flush();
    }

    fn table(&mut self, now: Instant, reg: &Registry) {
        self.dirty = false;
        self.last_table = Some(now);
        let n = reg.len();
        let s = if n == 1 { "" } else { "s" };
        self.line(format_args!("--- {n} peer{s} registered ---"));
        if n > 0 {
            self.line(format_args!(
                "  {:<16} {:<22} {:<19} {}",
                "NAME", "ADDRESS", "SINCE (UTC)", "KEY"
            ));
        }
        let epoch = self.epoch;
        let rows: Vec<(String, String, String, String)> = reg
            .rows()
            .take(TABLE_MAX_ROWS)
            .map(|r| {
                let since = epoch.1 + r.since.saturating_duration_since(epoch.0);
                (
                    r.name.to_string(),
                    r.addr.to_string(),
                    utc(since),
                    short_key(&r.key),
                )
            })
            .collect();
        for (name, addr, since, key) in rows {
            self.line(format_args!("  {name:<16} {addr:<22} {since} {key}"));
        }
        if n > TABLE_MAX_ROWS {
            self.line(format_args!("  ... and {} more", n - TABLE_MAX_ROWS));
        }
    }
}

/// Characters of a key's text form shown in the table and event lines:
/// enough to tell keys apart by eye, as SSH's short fingerprints are.
pub const SHORT_KEY_LEN: usize = 8;

/// The first [`SHORT_KEY_LEN`] characters of a key's base64 text form.
fn short_key(key: &peercall::identity::PublicKey) -> String {
    key.to_string().chars().take(SHORT_KEY_LEN).collect()
}

/// `YYYY-MM-DD HH:MM:SS` in UTC (days-to-civil after Howard Hinnant).
fn utc(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(UNIX_EPOCH), "1970-01-01 00:00:00");
        assert_eq!(
            utc(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29 00:00:00"
        );
        assert_eq!(
            utc(UNIX_EPOCH + Duration::from_secs(1_795_600_000)),
            "2026-11-25 09:46:40"
        );
    }
}
