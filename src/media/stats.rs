//! Reception statistics of one RTP stream, as RFC 3550 defines them (appendix
//! A.1, A.3 and A.8): the extended highest sequence number, packets expected
//! and lost (cumulative and since the last report), and the interarrival
//! jitter. They feed the RTCP receiver report blocks and the call's quality
//! report (the round-trip time comes from the other side's echo of our sender
//! report: [`super::rtp::ReportBlock::round_trip`]).
//!
//! Arrival times come in as `Instant`s and are converted to the stream's RTP
//! clock here; nothing reads the clock itself.

use std::time::{Duration, Instant};

/// Consecutive in-order packets a new source must send before it counts
/// (RFC 3550 A.1 `MIN_SEQUENTIAL`), so a stray packet does not reset the stream.
pub const MIN_SEQUENTIAL: u16 = 2;
/// A jump larger than this is treated as a restart of the sender, not loss
/// (RFC 3550 A.1 `MAX_DROPOUT`).
pub const MAX_DROPOUT: u16 = 3000;
/// Packets this far behind are stale duplicates or a restart (RFC 3550 A.1 `MAX_MISORDER`).
pub const MAX_MISORDER: u16 = 100;
const SEQ_MOD: u64 = 1 << 16;

/// The figures one report block carries about a stream (RFC 3550 6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceptionReport {
    /// Fraction of packets lost since the previous report, in 1/256 units.
    pub fraction_lost: u8,
    /// Packets lost since the start (may be negative with duplicates); 24-bit on the wire.
    pub cumulative_lost: i32,
    /// Highest sequence number received, with the wrap count in the high 16 bits.
    pub extended_highest_seq: u32,
    /// Interarrival jitter in RTP timestamp units.
    pub jitter: u32,
}

/// The interarrival jitter estimate of RFC 3550 6.4.1 (appendix A.8): the
/// smoothed difference in transit time between consecutive packets, in RTP
/// timestamp units. Reception reports carry it; the audio jitter buffer
/// sizes its depth by it.
#[derive(Debug, Clone)]
pub struct InterarrivalJitter {
    clock_rate: u32,
    /// First arrival, the origin of the arrival clock.
    epoch: Option<Instant>,
    /// Previous transit time (arrival - RTP timestamp) in RTP units.
    transit: Option<i64>,
    jitter: f64,
}

impl InterarrivalJitter {
    /// An estimate for a stream with this RTP clock rate.
    pub fn new(clock_rate: u32) -> Self {
        InterarrivalJitter {
            clock_rate,
            epoch: None,
            transit: None,
            jitter: 0.0,
        }
    }

    /// A packet with RTP time `timestamp` arrived at `arrival`.
    pub fn update(&mut self, arrival: Instant, timestamp: u32) {
        let epoch = *self.epoch.get_or_insert(arrival);
        let arrival_ts = (arrival.saturating_duration_since(epoch).as_secs_f64()
            * f64::from(self.clock_rate)) as i64;
        let transit = arrival_ts - i64::from(timestamp);
        if let Some(prev) = self.transit {
            // RTP timestamps wrap at 2^32: take the difference modulo that.
            let d = (transit - prev) as i32;
            self.jitter += (f64::from(d).abs() - self.jitter) / 16.0;
        }
        self.transit = Some(transit);
    }

    /// The estimate in RTP units, unrounded.
    pub fn value(&self) -> f64 {
        self.jitter
    }

    /// The estimate as a duration.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.jitter / f64::from(self.clock_rate))
    }
}

/// Reception statistics of one stream from one source.
#[derive(Debug, Clone)]
pub struct ReceiverStats {
    probation: u16,
    max_seq: u16,
    cycles: u64,
    base_seq: u64,
    bad_seq: Option<u64>,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    jitter: InterarrivalJitter,
    duplicates_or_late: u64,
}

impl ReceiverStats {
    /// Statistics for a stream with this RTP clock rate (90000 video, 48000 Opus).
    pub fn new(clock_rate: u32) -> Self {
        ReceiverStats {
            probation: MIN_SEQUENTIAL,
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: None,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            jitter: InterarrivalJitter::new(clock_rate),
            duplicates_or_late: 0,
        }
    }

    /// Records one packet; returns whether it counts (false while a new source
    /// is on probation, or for a packet that looks like a sender restart until
    /// it is confirmed).
    pub fn record(&mut self, arrival: Instant, seq: u16, timestamp: u32) -> bool {
        if !self.update_seq(seq) {
            return false;
        }
        self.jitter.update(arrival, timestamp);
        true
    }

    /// RFC 3550 A.1 `update_seq`.
    fn update_seq(&mut self, seq: u16) -> bool {
        if self.probation > 0 {
            if self.received > 0 && seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init_seq(seq);
                    self.received += 1;
                    return true;
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
                // Remember that a first packet was seen, without counting it yet.
                self.received = 1;
            }
            return false;
        }
        let udelta = seq.wrapping_sub(self.max_seq);
        if udelta == 0 {
            // A duplicate of the highest packet (counted as received, as RFC 3550 does).
            self.duplicates_or_late += 1;
        } else if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles += SEQ_MOD;
            }
            self.max_seq = seq;
        } else if udelta <= u16::MAX - MAX_MISORDER {
            // A very large jump: a restarted sender if the next packet follows it.
            let s = u64::from(seq);
            if self.bad_seq == Some(s) {
                self.init_seq(seq);
            } else {
                self.bad_seq = Some((s + 1) & (SEQ_MOD - 1));
                return false;
            }
        } else {
            // Duplicate or reordered packet within the misorder window.
            self.duplicates_or_late += 1;
        }
        self.received += 1;
        true
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = u64::from(seq);
        self.max_seq = seq;
        self.bad_seq = None;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// Packets counted so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Packets the sequence numbers say should have arrived.
    pub fn expected(&self) -> u64 {
        if self.probation > 0 {
            return 0;
        }
        (self.cycles + u64::from(self.max_seq) + 1).saturating_sub(self.base_seq)
    }

    /// Packets lost so far (expected minus received; negative with duplicates).
    /// Zero while the source is on probation: its first packet is remembered
    /// in `received` but nothing is expected yet, which would read as -1.
    pub fn lost(&self) -> i64 {
        if self.on_probation() {
            return 0;
        }
        self.expected() as i64 - self.received as i64
    }

    /// The highest sequence number heard (the first packet's while on
    /// probation), if any was.
    pub fn highest_seq(&self) -> Option<u16> {
        (self.received > 0).then_some(self.max_seq)
    }

    /// Whether the source has not yet sent [`MIN_SEQUENTIAL`] packets in a
    /// row, so nothing it sent is counted yet.
    pub fn on_probation(&self) -> bool {
        self.probation > 0
    }

    /// Packets that arrived behind the highest one (reordered or duplicated).
    pub fn out_of_order(&self) -> u64 {
        self.duplicates_or_late
    }

    /// The interarrival jitter estimate in RTP units.
    pub fn jitter(&self) -> u32 {
        self.jitter.value() as u32
    }

    /// The interarrival jitter as a duration.
    pub fn jitter_duration(&self) -> Duration {
        self.jitter.duration()
    }

    /// The figures for a report block, and the start of a new reporting interval.
    pub fn report(&mut self) -> ReceptionReport {
        let expected = self.expected();
        let expected_interval = expected - self.expected_prior;
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        };
        // The wire field is 24-bit signed: clamp rather than wrap.
        let cumulative_lost = self.lost().clamp(-0x80_0000, 0x7f_ffff) as i32;
        ReceptionReport {
            fraction_lost,
            cumulative_lost,
            extended_highest_seq: (self.cycles + u64::from(self.max_seq)) as u32,
            jitter: self.jitter(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(stats: &mut ReceiverStats, t0: Instant, seqs: impl IntoIterator<Item = u16>) {
        for (i, s) in seqs.into_iter().enumerate() {
            let at = t0 + Duration::from_millis(20 * i as u64);
            stats.record(at, s, u32::from(s).wrapping_mul(960));
        }
    }

    #[test]
    fn one_packet_on_probation_reports_no_loss() {
        // The first report of a call can fall after the first packet only.
        let mut s = ReceiverStats::new(48_000);
        feed(&mut s, Instant::now(), [7]);
        assert!(s.on_probation());
        assert_eq!(s.lost(), 0);
        assert_eq!(s.report().cumulative_lost, 0);
        feed(&mut s, Instant::now(), [8]);
        assert!(!s.on_probation());
        assert_eq!(s.report().cumulative_lost, 0);
    }

    #[test]
    fn clean_stream_has_no_loss_and_no_jitter() {
        let mut s = ReceiverStats::new(48_000);
        feed(&mut s, Instant::now(), 100..600);
        assert_eq!(s.lost(), 0);
        let r = s.report();
        assert_eq!(r.fraction_lost, 0);
        assert_eq!(r.cumulative_lost, 0);
        assert_eq!(r.extended_highest_seq, 599);
        assert_eq!(r.jitter, 0);
    }

    #[test]
    fn loss_is_counted_per_interval_and_in_total() {
        let mut s = ReceiverStats::new(48_000);
        let t0 = Instant::now();
        // 1000 packets, every 10th lost.
        feed(&mut s, t0, (0..1000u16).filter(|n| n % 10 != 5));
        let r = s.report();
        assert_eq!(r.cumulative_lost, 100);
        assert_eq!(r.fraction_lost, (100 * 256 / 1000) as u8);
        // Next interval: nothing lost.
        feed(&mut s, t0 + Duration::from_secs(30), 1000..1100);
        let r = s.report();
        assert_eq!(r.fraction_lost, 0);
        assert_eq!(r.cumulative_lost, 100);
    }

    #[test]
    fn sequence_wraparound_extends_the_highest_number() {
        let mut s = ReceiverStats::new(48_000);
        feed(&mut s, Instant::now(), (65_000..=u16::MAX).chain(0..500));
        let r = s.report();
        assert_eq!(r.extended_highest_seq, (1 << 16) + 499);
        assert_eq!(r.cumulative_lost, 0);
    }

    #[test]
    fn jitter_follows_variable_delay() {
        let mut s = ReceiverStats::new(48_000);
        let t0 = Instant::now();
        for n in 0..2000u16 {
            // Delay alternates between 0 and 10 ms.
            let extra = if n % 2 == 0 { 0 } else { 10 };
            let at = t0 + Duration::from_millis(20 * u64::from(n) + extra);
            s.record(at, n, u32::from(n) * 960);
        }
        // |D| is 10 ms = 480 units every packet: the estimate converges there.
        assert!((s.jitter() as i64 - 480).abs() < 10, "{}", s.jitter());
        assert!((s.jitter_duration().as_secs_f64() - 0.010).abs() < 0.001);
    }

    #[test]
    fn duplicates_and_a_restarted_sender() {
        let mut s = ReceiverStats::new(48_000);
        let t0 = Instant::now();
        feed(&mut s, t0, [10, 11, 12, 12, 13, 11, 14]);
        assert_eq!(s.out_of_order(), 2);
        assert_eq!(
            s.lost(),
            -2,
            "duplicates make loss negative, as RFC 3550 says"
        );
        // A jump far away is ignored once, accepted when the next follows it.
        assert!(!s.record(t0, 40_000, 0));
        assert!(s.record(t0, 40_001, 960));
        assert_eq!(s.report().extended_highest_seq, 40_001);
    }
}
