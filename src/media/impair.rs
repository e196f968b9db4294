//! A seeded network impairment for media packets: loss (independent or in
//! bursts), a bottleneck link of limited rate with a bounded queue in front
//! of it, fixed delay, random jitter and reordering, duplication, and a time
//! window that switches the loss and the bottleneck on and off mid-call.
//! Tests use it to exercise concealment, reassembly and rate adaptation
//! deterministically; a peer can switch it on for a call to see how a bad
//! network sounds and looks. The same seed gives the same impairment, so a
//! failing run can be replayed exactly.
//!
//! Packets go in with [`Impairment::send_sized`] (or [`Impairment::send`]
//! when their size does not matter) at `now` and come out of
//! [`Impairment::poll`] when their delivery time has come; the caller sleeps
//! until [`Impairment::next_timeout`]. Nothing reads the clock.
//!
//! A packet meets, in this order: loss, duplication, the bottleneck (waiting
//! behind the packets ahead of it, then taking `len * 8 / rate` seconds on
//! the link, or dropped when the queue is full), then delay and jitter. The
//! bottleneck is FIFO and every packet's departure is known when it is sent,
//! so the whole path is computed in [`Impairment::send_sized`] and only the
//! delivery times are held.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::{Duration, Instant};

/// Most packets held in flight; beyond it new packets are dropped (a full
/// router queue), so a stalled receiver cannot grow memory. It bounds the
/// bottleneck's queue too, whatever its configured depth, since every packet
/// in that queue is also in flight.
pub const MAX_IN_FLIGHT: usize = 4096;

/// Depth of the bottleneck's queue when `queue=` is not given: 250 ms of
/// the link's rate (62.5 kB at 2 Mbit/s).
///
/// A time rather than a byte count because what a call feels is the delay a
/// full queue adds: a fixed 64 KiB would be a second of delay at 500 kbit/s
/// and 10 ms at 50 Mbit/s, so the same setting would mean a different network
/// at each rate. 250 ms is the depth of a common, somewhat bloated, home
/// router uplink: deep enough that a sender above the rate sees the delay
/// grow for a while before it sees loss (the signal delay-based congestion
/// control reads), short enough that a call through it is still a call.
pub const BOTTLENECK_QUEUE: Duration = Duration::from_millis(250);

/// Slowest link `rate=` accepts, 1 kbit/s: there a full-size datagram
/// already holds the link for 12 s, and slower is no link a call runs on.
pub const MIN_RATE_BPS: u64 = 1_000;

/// Fastest link `rate=` accepts, 10 Gbit/s; beyond it the cap could not
/// bite on anything a peer sends.
pub const MAX_RATE_BPS: u64 = 10_000_000_000;

/// Deepest byte-sized queue `queue=` accepts, 16 MiB: above what
/// [`MAX_IN_FLIGHT`] full-size datagrams (about 6 MB) fill, so a deeper one
/// would never be reached.
pub const MAX_QUEUE_BYTES: u64 = 16 << 20;

/// Longest mean loss burst `burst=` accepts, in packets: a thousand packets
/// is twenty seconds of audio gone, already an outage rather than a burst.
pub const MAX_BURST: f64 = 1000.0;

/// Latest `from=` or `until=` may be, measured from the first packet: a day.
pub const MAX_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// Longest `delay=`, `jitter=` or time-sized `queue=`.
pub const MAX_DELAY: Duration = Duration::from_secs(60);

/// How much the bottleneck's queue holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueDepth {
    /// As much as the link sends in this time at its rate.
    Time(Duration),
    /// This many bytes.
    Bytes(u64),
}

impl QueueDepth {
    /// The depth in bytes at `rate` bits per second.
    pub fn bytes(self, rate: u64) -> u64 {
        match self {
            QueueDepth::Bytes(b) => b,
            QueueDepth::Time(t) => {
                let b = t.as_nanos() * u128::from(rate) / 8 / 1_000_000_000;
                u64::try_from(b).unwrap_or(u64::MAX)
            }
        }
    }
}

/// What the impairment does to each packet.
#[derive(Debug, Clone, PartialEq)]
pub struct ImpairConfig {
    /// Probability in [0, 1] that a packet is lost (the long-run fraction,
    /// also with `burst`). Applies only inside the window (`from`, `until`).
    pub loss: f64,
    /// Mean length, in packets, of a run of losses; `None` loses packets
    /// independently. With it, losses follow a Gilbert model: a good state
    /// that loses nothing and a bad state that loses every packet, the state
    /// stepping once per packet with P(bad→good) = 1/burst and P(good→bad)
    /// = loss / (burst · (1 − loss)), so that the bad state's share of
    /// packets is `loss` and its runs last `burst` packets on average
    /// (geometrically distributed). That needs `loss <= burst / (burst + 1)`;
    /// above it the good→bad probability is taken as 1. `burst = 1` is not
    /// independent loss: its losses never come two in a row.
    pub burst: Option<f64>,
    /// Delay added to every packet, after the bottleneck. Always on.
    pub delay: Duration,
    /// Extra delay, uniform in [0, jitter], per packet; packets overtake each
    /// other when it exceeds their spacing, which is how reordering arises.
    /// Always on.
    pub jitter: Duration,
    /// Probability in [0, 1] that a packet is delivered twice. Always on;
    /// both copies go through the bottleneck.
    pub duplicate: f64,
    /// Bottleneck rate in bits per second of the packets' bytes; `None`: no
    /// bottleneck. Applies only inside the window.
    pub rate: Option<u64>,
    /// How much the bottleneck holds, the packet on the link included,
    /// before it drops what arrives; an idle link takes any one packet,
    /// however small the queue.
    pub queue: QueueDepth,
    /// Start of the window in which `loss` and `rate` apply, from the first
    /// packet the impairment sees.
    pub from: Duration,
    /// End of that window, from the first packet; `None`: it never ends.
    /// Packets still queued at the bottleneck when it ends leave at once, in
    /// order (the link's rate becomes unlimited), and later ones queue
    /// behind them, so lifting the cap reorders nothing.
    pub until: Option<Duration>,
    /// The random seed.
    pub seed: u64,
}

impl Default for ImpairConfig {
    fn default() -> Self {
        ImpairConfig {
            loss: 0.0,
            burst: None,
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            duplicate: 0.0,
            rate: None,
            queue: QueueDepth::Time(BOTTLENECK_QUEUE),
            from: Duration::ZERO,
            until: None,
            seed: 1,
        }
    }
}

/// Why an impairment description cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImpairParseError(pub String);

impl std::fmt::Display for ImpairParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ImpairParseError {}

/// The example every parse error ends with.
const EXAMPLE: &str =
    "loss=5%,burst=3,delay=20ms,jitter=30ms,dup=1%,rate=2mbit,queue=250ms,from=2s,until=10s,seed=7";

impl ImpairConfig {
    /// Parses `loss=5%,burst=3,delay=20ms,jitter=30ms,dup=1%,rate=2mbit,
    /// queue=250ms,from=2s,until=10s,seed=7` (any subset, any order).
    /// Probabilities are percentages or fractions; durations in ms or s;
    /// `rate` in bit, kbit or mbit (per second, decimal prefixes); `queue` a
    /// duration at the rate or a size in b, kb, kib, mb or mib (bytes).
    pub fn parse(text: &str) -> Result<ImpairConfig, ImpairParseError> {
        let mut c = ImpairConfig::default();
        let bad = |what: &str| ImpairParseError(format!("{what}; expected e.g. {EXAMPLE}"));
        let mut saw_loss = false;
        let mut saw_queue = false;
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| bad(&format!("'{part}' is not key=value")))?;
            let (key, value) = (key.trim(), value.trim());
            let prob = || -> Result<f64, ImpairParseError> {
                let (num, scale) = match value.strip_suffix('%') {
                    Some(n) => (n, 100.0),
                    None => (value, 1.0),
                };
                match num.parse::<f64>() {
                    Ok(v) if (0.0..=scale).contains(&v) => Ok(v / scale),
                    _ => Err(bad(&format!("{key}={value} is not a probability"))),
                }
            };
            let dur = |max: Duration| -> Result<Duration, ImpairParseError> {
                let (num, scale) = if let Some(n) = value.strip_suffix("ms") {
                    (n, 1e-3)
                } else if let Some(n) = value.strip_suffix('s') {
                    (n, 1.0)
                } else {
                    return Err(bad(&format!("{key}={value} needs a unit, ms or s")));
                };
                match num.parse::<f64>() {
                    Ok(v) if v.is_finite() && (0.0..=max.as_secs_f64() / scale).contains(&v) => {
                        Ok(Duration::from_secs_f64(v * scale))
                    }
                    _ => Err(bad(&format!(
                        "{key}={value} is not a duration up to {} s",
                        max.as_secs()
                    ))),
                }
            };
            match key {
                "loss" => {
                    c.loss = prob()?;
                    saw_loss = true;
                }
                "burst" => match value.parse::<f64>() {
                    Ok(n) if (1.0..=MAX_BURST).contains(&n) => c.burst = Some(n),
                    _ => {
                        return Err(bad(&format!(
                            "burst={value} is not a mean burst length from 1 to {MAX_BURST} packets"
                        )))
                    }
                },
                "dup" | "duplicate" => c.duplicate = prob()?,
                "delay" => c.delay = dur(MAX_DELAY)?,
                "jitter" => c.jitter = dur(MAX_DELAY)?,
                "rate" => c.rate = Some(parse_rate(value).map_err(|e| bad(&e))?),
                "queue" => {
                    c.queue = if value.ends_with('s') {
                        QueueDepth::Time(dur(MAX_DELAY)?)
                    } else {
                        QueueDepth::Bytes(parse_bytes(value).map_err(|e| bad(&e))?)
                    };
                    saw_queue = true;
                }
                "from" => c.from = dur(MAX_WINDOW)?,
                "until" => c.until = Some(dur(MAX_WINDOW)?),
                "seed" => {
                    c.seed = value
                        .parse()
                        .map_err(|_| bad(&format!("seed={value} is not a whole number")))?
                }
                other => return Err(bad(&format!("unknown setting '{other}'"))),
            }
        }
        if let Some(n) = c.burst {
            if !saw_loss {
                return Err(bad("burst= shapes the losses of loss=, which is missing"));
            }
            let most = n / (n + 1.0);
            if c.loss > most {
                return Err(bad(&format!(
                    "loss={} with burst={n} cannot be: bursts of {n} packets allow at most loss={:.1}%",
                    c.loss,
                    most * 100.0
                )));
            }
        }
        if saw_queue && c.rate.is_none() {
            return Err(bad("queue= sizes the queue of rate=, which is missing"));
        }
        if let Some(until) = c.until {
            if until <= c.from {
                return Err(bad(&format!(
                    "until={until:?} must come after from={:?}",
                    c.from
                )));
            }
        }
        Ok(c)
    }
}

/// `2000kbit`, `2mbit`, `64000bit` (any case, decimals allowed) in bits per
/// second.
fn parse_rate(value: &str) -> Result<u64, String> {
    let lower = value.to_ascii_lowercase();
    let (num, scale) = if let Some(n) = lower.strip_suffix("mbit") {
        (n, 1e6)
    } else if let Some(n) = lower.strip_suffix("kbit") {
        (n, 1e3)
    } else if let Some(n) = lower.strip_suffix("bit") {
        (n, 1.0)
    } else {
        return Err(format!("rate={value} needs a unit, bit, kbit or mbit"));
    };
    match num.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => {
            let bps = (v * scale).round();
            if (MIN_RATE_BPS as f64..=MAX_RATE_BPS as f64).contains(&bps) {
                Ok(bps as u64)
            } else {
                Err(format!(
                    "rate={value} is outside {} kbit to {} mbit",
                    MIN_RATE_BPS / 1000,
                    MAX_RATE_BPS / 1_000_000
                ))
            }
        }
        _ => Err(format!("rate={value} is not a number of bits per second")),
    }
}

/// `64kb`, `65536b`, `64kib`, `1mb`, `1mib` (any case) in bytes.
fn parse_bytes(value: &str) -> Result<u64, String> {
    let lower = value.to_ascii_lowercase();
    let (num, scale) = if let Some(n) = lower.strip_suffix("kib") {
        (n, 1024.0)
    } else if let Some(n) = lower.strip_suffix("mib") {
        (n, 1024.0 * 1024.0)
    } else if let Some(n) = lower.strip_suffix("kb") {
        (n, 1e3)
    } else if let Some(n) = lower.strip_suffix("mb") {
        (n, 1e6)
    } else if let Some(n) = lower.strip_suffix('b') {
        (n, 1.0)
    } else {
        return Err(format!(
            "queue={value} needs a unit: ms or s, or bytes as b, kb, kib, mb or mib"
        ));
    };
    match num.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 && (v * scale).round() <= MAX_QUEUE_BYTES as f64 => {
            Ok((v * scale).round() as u64)
        }
        _ => Err(format!(
            "queue={value} is not a size up to {} MiB",
            MAX_QUEUE_BYTES >> 20
        )),
    }
}

/// Counters of what the impairment did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImpairStats {
    /// Packets offered.
    pub sent: u64,
    /// Packets dropped as lost (by `loss`, independent or in bursts).
    pub lost: u64,
    /// Extra copies scheduled.
    pub duplicated: u64,
    /// Packets dropped because [`MAX_IN_FLIGHT`] were held.
    pub overflow: u64,
    /// Packets dropped because the bottleneck's queue was full (tail drop).
    pub queue_dropped: u64,
    /// Bytes waiting for or on the bottleneck link, as of the latest
    /// [`Impairment::send_sized`] or [`Impairment::poll`].
    pub queue_bytes: u64,
    /// The most bytes the bottleneck ever held at once.
    pub queue_peak_bytes: u64,
    /// Packets delivered.
    pub delivered: u64,
}

/// The impairment between a sender and the network.
#[derive(Debug)]
pub struct Impairment<P> {
    cfg: ImpairConfig,
    rng: u64,
    order: u64,
    queue: BinaryHeap<Reverse<(Instant, u64, Slot<P>)>>,
    stats: ImpairStats,
    /// When the first packet came: the window is measured from it.
    first: Option<Instant>,
    /// The Gilbert model's state: in a loss burst.
    bad: bool,
    /// P(good→bad) and P(bad→good) of the Gilbert model.
    enter_bad: f64,
    leave_bad: f64,
    /// When the bottleneck link finishes the last packet it accepted.
    busy_until: Option<Instant>,
    /// Packets not yet through the bottleneck: when each leaves it, and its
    /// size. Departures never decrease, so the front leaves first. Each is
    /// also in `queue` until it has left, so [`MAX_IN_FLIGHT`] bounds it.
    link: VecDeque<(Instant, u64)>,
    /// The sum of the sizes in `link`.
    link_bytes: u64,
}

/// A packet in flight; ordered by delivery time and send order only.
#[derive(Debug)]
struct Slot<P>(P);

impl<P> PartialEq for Slot<P> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl<P> Eq for Slot<P> {}
impl<P> PartialOrd for Slot<P> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<P> Ord for Slot<P> {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

/// How long `len` bytes hold a link of `rate` bits per second, rounded up
/// to the nanosecond.
fn serialisation(len: u64, rate: u64) -> Duration {
    let bits = u128::from(len) * 8 * 1_000_000_000;
    let rate = u128::from(rate.max(1));
    let nanos = bits.div_ceil(rate);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

impl<P: Clone> Impairment<P> {
    /// An impairment with this configuration.
    pub fn new(cfg: ImpairConfig) -> Self {
        // xorshift must not start at zero.
        let rng = cfg.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        // f64::max also turns a NaN burst into 1.
        let n = cfg.burst.unwrap_or(1.0).max(1.0);
        let loss = cfg.loss.clamp(0.0, 1.0);
        let enter_bad = if loss >= 1.0 {
            1.0
        } else {
            (loss / (n * (1.0 - loss))).min(1.0)
        };
        Impairment {
            cfg,
            rng,
            order: 0,
            queue: BinaryHeap::new(),
            stats: ImpairStats::default(),
            first: None,
            bad: false,
            enter_bad,
            leave_bad: 1.0 / n,
            busy_until: None,
            link: VecDeque::new(),
            link_bytes: 0,
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &ImpairStats {
        &self.stats
    }

    /// How long a packet sent at `now` would wait for the bottleneck link
    /// (zero without one, or when it is idle).
    pub fn queue_delay(&self, now: Instant) -> Duration {
        self.busy_until
            .map_or(Duration::ZERO, |b| b.saturating_duration_since(now))
    }

    fn unit(&mut self) -> f64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Offers a packet sent at `now` whose size does not matter: the
    /// bottleneck counts it as zero bytes (it still waits behind the packets
    /// queued there, in order, but takes no time on the link and no room in
    /// the queue). Use [`Impairment::send_sized`] when `rate` is set.
    pub fn send(&mut self, now: Instant, packet: P) {
        self.send_sized(now, packet, 0);
    }

    /// Offers a packet of `len` bytes sent at `now`.
    pub fn send_sized(&mut self, now: Instant, packet: P, len: usize) {
        self.stats.sent += 1;
        let first = *self.first.get_or_insert(now);
        // Out of `Instant`'s range is never: a window that does not start, or
        // does not end.
        let window_end = self.cfg.until.and_then(|u| first.checked_add(u));
        let in_window = first
            .checked_add(self.cfg.from)
            .is_some_and(|start| now >= start)
            && window_end.is_none_or(|end| now < end);
        // One draw per packet either way, so that the draws after it (and
        // so a seeded run) do not depend on whether losses come in bursts or
        // on the window.
        let u = self.unit();
        let lost = if self.cfg.burst.is_some() {
            // The chain steps on every packet, in the window or not, so it
            // is in its long-run state when the window opens.
            self.bad = if self.bad {
                u >= self.leave_bad
            } else {
                u < self.enter_bad
            };
            self.bad
        } else {
            u < self.cfg.loss
        };
        if lost && in_window {
            self.stats.lost += 1;
            return;
        }
        let copies = if self.unit() < self.cfg.duplicate {
            2
        } else {
            1
        };
        let len = u64::try_from(len).unwrap_or(u64::MAX);
        for copy in 0..copies {
            if self.queue.len() >= MAX_IN_FLIGHT {
                self.stats.overflow += 1;
                return;
            }
            let Some(departs) = self.bottleneck(now, len, in_window, window_end) else {
                self.stats.queue_dropped += 1;
                return;
            };
            if copy == 1 {
                self.stats.duplicated += 1;
            }
            let extra = self.cfg.jitter.mul_f64(self.unit());
            let at = departs + self.cfg.delay + extra;
            self.order += 1;
            self.queue
                .push(Reverse((at, self.order, Slot(packet.clone()))));
        }
    }

    /// Passes `len` bytes arriving at `now` through the bottleneck: when they
    /// leave it, or `None` if its queue has no room for them.
    fn bottleneck(
        &mut self,
        now: Instant,
        len: u64,
        in_window: bool,
        window_end: Option<Instant>,
    ) -> Option<Instant> {
        let Some(rate) = self.cfg.rate else {
            return Some(now);
        };
        self.drain_link(now);
        // Never before what is already queued: FIFO, nothing overtakes.
        let start = self.busy_until.map_or(now, |b| b.max(now));
        if !in_window || len == 0 {
            return Some(start);
        }
        // The packet on the link counts too; one always fits an idle link,
        // however small the queue.
        let held = self.link_bytes;
        if !self.link.is_empty() && held.saturating_add(len) > self.cfg.queue.bytes(rate) {
            return None;
        }
        // A packet too big to leave before the end of time cannot be sent.
        let mut departs = start.checked_add(serialisation(len, rate))?;
        if let Some(end) = window_end {
            // The cap lifts at the window's end: what is still on or in
            // front of the link leaves then. `start` is never past `end`,
            // since every packet accepted in the window leaves by it.
            departs = departs.min(end.max(start));
        }
        self.busy_until = Some(departs);
        self.link.push_back((departs, len));
        self.link_bytes = held.saturating_add(len);
        self.stats.queue_bytes = self.link_bytes;
        self.stats.queue_peak_bytes = self.stats.queue_peak_bytes.max(self.stats.queue_bytes);
        Some(departs)
    }

    /// Forgets the packets that have left the bottleneck by `now`.
    fn drain_link(&mut self, now: Instant) {
        while let Some(&(at, len)) = self.link.front() {
            if at > now {
                break;
            }
            self.link.pop_front();
            self.link_bytes = self.link_bytes.saturating_sub(len);
        }
        self.stats.queue_bytes = self.link_bytes;
    }

    /// The next packet due at `now`, if any.
    pub fn poll(&mut self, now: Instant) -> Option<P> {
        self.drain_link(now);
        let due = self
            .queue
            .peek()
            .is_some_and(|Reverse((at, _, _))| *at <= now);
        if !due {
            return None;
        }
        let Reverse((_, _, Slot(p))) = self.queue.pop()?;
        self.stats.delivered += 1;
        Some(p)
    }

    /// When the next packet is due.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.queue.peek().map(|Reverse((at, _, _))| *at)
    }
}

#[cfg(test)]
mod tests;
