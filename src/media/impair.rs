//! A seeded network impairment for media packets: loss, fixed delay, random
//! jitter and reordering, duplication. Tests use it to exercise concealment
//! and reassembly deterministically; a peer can switch it on for a call to
//! see how a bad network sounds and looks. The same seed gives the same
//! impairment, so a failing run can be replayed exactly.
//!
//! Packets go in with [`Impairment::send`] at `now` and come out of
//! [`Impairment::poll`] when their delivery time has come; the caller sleeps
//! until [`Impairment::next_timeout`]. Nothing reads the clock.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// Most packets held in flight; beyond it new packets are dropped (a full
/// router queue), so a stalled receiver cannot grow memory.
pub const MAX_IN_FLIGHT: usize = 4096;

/// What the impairment does to each packet.
#[derive(Debug, Clone, PartialEq)]
pub struct ImpairConfig {
    /// Probability in [0, 1] that a packet is lost.
    pub loss: f64,
    /// Delay added to every packet.
    pub delay: Duration,
    /// Extra delay, uniform in [0, jitter], per packet; packets overtake each
    /// other when it exceeds their spacing, which is how reordering arises.
    pub jitter: Duration,
    /// Probability in [0, 1] that a packet is delivered twice.
    pub duplicate: f64,
    /// The random seed.
    pub seed: u64,
}

impl Default for ImpairConfig {
    fn default() -> Self {
        ImpairConfig {
            loss: 0.0,
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            duplicate: 0.0,
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

impl ImpairConfig {
    /// Parses `loss=5%,delay=20ms,jitter=30ms,dup=1%,seed=7` (any subset, any
    /// order; percentages or fractions; durations in ms or s).
    pub fn parse(text: &str) -> Result<ImpairConfig, ImpairParseError> {
        let mut c = ImpairConfig::default();
        let bad = |what: &str| {
            ImpairParseError(format!(
                "{what}; expected e.g. loss=5%,delay=20ms,jitter=30ms,dup=1%,seed=7"
            ))
        };
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| bad(&format!("'{part}' is not key=value")))?;
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
            let dur = || -> Result<Duration, ImpairParseError> {
                let (num, scale) = if let Some(n) = value.strip_suffix("ms") {
                    (n, 1e-3)
                } else if let Some(n) = value.strip_suffix('s') {
                    (n, 1.0)
                } else {
                    return Err(bad(&format!("{key}={value} needs a unit, ms or s")));
                };
                match num.parse::<f64>() {
                    Ok(v) if v.is_finite() && (0.0..=60.0 / scale).contains(&v) => {
                        Ok(Duration::from_secs_f64(v * scale))
                    }
                    _ => Err(bad(&format!("{key}={value} is not a duration up to 60 s"))),
                }
            };
            match key {
                "loss" => c.loss = prob()?,
                "dup" | "duplicate" => c.duplicate = prob()?,
                "delay" => c.delay = dur()?,
                "jitter" => c.jitter = dur()?,
                "seed" => {
                    c.seed = value
                        .parse()
                        .map_err(|_| bad(&format!("seed={value} is not a whole number")))?
                }
                other => return Err(bad(&format!("unknown setting '{other}'"))),
            }
        }
        Ok(c)
    }
}

/// Counters of what the impairment did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImpairStats {
    /// Packets offered.
    pub sent: u64,
    /// Packets dropped as lost.
    pub lost: u64,
    /// Extra copies scheduled.
    pub duplicated: u64,
    /// Packets dropped because [`MAX_IN_FLIGHT`] were held.
    pub overflow: u64,
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

impl<P: Clone> Impairment<P> {
    /// An impairment with this configuration.
    pub fn new(cfg: ImpairConfig) -> Self {
        // xorshift must not start at zero.
        let rng = cfg.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        Impairment {
            cfg,
            rng,
            order: 0,
            queue: BinaryHeap::new(),
            stats: ImpairStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &ImpairStats {
        &self.stats
    }

    fn unit(&mut self) -> f64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Offers a packet sent at `now`.
    pub fn send(&mut self, now: Instant, packet: P) {
        self.stats.sent += 1;
        if self.unit() < self.cfg.loss {
            self.stats.lost += 1;
            return;
        }
        let copies = if self.unit() < self.cfg.duplicate {
            2
        } else {
            1
        };
        for copy in 0..copies {
            if self.queue.len() >= MAX_IN_FLIGHT {
                self.stats.overflow += 1;
                return;
            }
            if copy == 1 {
                self.stats.duplicated += 1;
            }
            let extra = self.cfg.jitter.mul_f64(self.unit());
            let at = now + self.cfg.delay + extra;
            self.order += 1;
            self.queue
                .push(Reverse((at, self.order, Slot(packet.clone()))));
        }
    }

    /// The next packet due at `now`, if any.
    pub fn poll(&mut self, now: Instant) -> Option<P> {
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
mod tests {
    use super::*;

    fn run(cfg: ImpairConfig, n: u32) -> (Vec<u32>, ImpairStats) {
        let mut imp = Impairment::new(cfg);
        let t0 = Instant::now();
        let mut out = Vec::new();
        for k in 0..n {
            let now = t0 + Duration::from_millis(20) * k;
            imp.send(now, k);
            while let Some(p) = imp.poll(now) {
                out.push(p);
            }
        }
        let end = t0 + Duration::from_secs(3600);
        while let Some(p) = imp.poll(end) {
            out.push(p);
        }
        (out, imp.stats().clone())
    }

    #[test]
    fn no_impairment_delivers_everything_in_order() {
        let (out, st) = run(ImpairConfig::default(), 1000);
        assert_eq!(out, (0..1000).collect::<Vec<_>>());
        assert_eq!(st.delivered, 1000);
    }

    #[test]
    fn loss_rate_is_about_what_was_asked_and_seeded() {
        let cfg = ImpairConfig {
            loss: 0.05,
            seed: 42,
            ..ImpairConfig::default()
        };
        let (a, st) = run(cfg.clone(), 20_000);
        let rate = st.lost as f64 / 20_000.0;
        assert!((rate - 0.05).abs() < 0.01, "{rate}");
        let (b, _) = run(cfg, 20_000);
        assert_eq!(a, b, "same seed, same losses");
    }

    #[test]
    fn jitter_beyond_the_spacing_reorders_and_duplicates_are_extra() {
        let cfg = ImpairConfig {
            delay: Duration::from_millis(10),
            jitter: Duration::from_millis(60),
            duplicate: 0.02,
            ..ImpairConfig::default()
        };
        let (out, st) = run(cfg, 5000);
        assert!(out.windows(2).any(|w| w[0] > w[1]), "some reordering");
        assert_eq!(out.len() as u64, 5000 + st.duplicated);
        assert!(st.duplicated > 50);
    }

    #[test]
    fn in_flight_packets_are_bounded() {
        let mut imp = Impairment::new(ImpairConfig {
            delay: Duration::from_secs(10),
            ..ImpairConfig::default()
        });
        let t0 = Instant::now();
        for k in 0..(MAX_IN_FLIGHT as u32 + 100) {
            imp.send(t0, k);
        }
        assert_eq!(imp.stats().overflow, 100);
        assert_eq!(imp.next_timeout(), Some(t0 + Duration::from_secs(10)));
    }

    #[test]
    fn descriptions_parse_or_say_what_is_wrong() {
        let c = ImpairConfig::parse("loss=5%, delay=20ms,jitter=0.03s,dup=0.01,seed=7").unwrap();
        assert_eq!(c.loss, 0.05);
        assert_eq!(c.delay, Duration::from_millis(20));
        assert_eq!(c.jitter, Duration::from_millis(30));
        assert_eq!(c.duplicate, 0.01);
        assert_eq!(c.seed, 7);
        assert_eq!(ImpairConfig::parse("").unwrap(), ImpairConfig::default());
        for bad in [
            "loss=150%",
            "delay=20",
            "jitter=-1ms",
            "bogus=1",
            "loss",
            "seed=x",
        ] {
            let e = ImpairConfig::parse(bad).unwrap_err();
            assert!(e.to_string().contains("expected e.g."), "{bad}: {e}");
        }
    }
}
