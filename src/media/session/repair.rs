//! Loss repair of the video stream by retransmission: the sender keeps what
//! it sent for a while ([`SendHistory`]) and answers a generic NACK (RFC 4585)
//! with RFC 4588 retransmissions on their own payload type and SSRC; the
//! receiver keeps the list of packets missing ([`NackTracker`]) and asks for
//! them, first after a short wait for reordering, then again every quarter
//! round trip (so a lost NACK, or a lost retransmission, costs little more
//! than the round trip itself) until they arrive or their frame's playout
//! time has passed.
//!
//! The sender answers a packet at most once per round trip (plus
//! [`ANSWER_MARGIN`]), whatever the number of NACKs naming it: a NACK sent
//! before its last retransmission could have arrived says nothing new. So
//! the repeated NACKs cost nothing on the media path; a packet asked for again after its retransmission was lost
//! goes out twice, since that packet has already missed one round and a
//! second loss would cost its frame.

use crate::media::rtp::{extend_seq, RtpHeader, PT_RTX, RTP_HEADER_LEN};
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// Longest a sent video packet is kept for retransmission: beyond any
/// playout delay a receiver waits for it.
pub const MAX_HISTORY_AGE: Duration = Duration::from_secs(1);
/// Most bytes of sent video packets kept (a second of 640x480 MJPEG at
/// full quality is about 840 KB).
pub const MAX_HISTORY_BYTES: usize = 1 << 20;
/// Most missing packets a receiver tracks; beyond it the oldest are given up
/// (a sender that skipped sequence numbers must not grow memory).
pub const MAX_MISSING: usize = 1024;
/// Shortest wait for a reordered packet before it is asked for.
pub const MIN_REORDER_WAIT: Duration = Duration::from_millis(2);
/// Shortest time between two NACKs naming the same packet.
pub const MIN_NACK_REPEAT: Duration = Duration::from_millis(10);
/// Added to the round trip before a packet is retransmitted again: NACKs
/// sent before the last retransmission could have arrived are not answered.
pub const ANSWER_MARGIN: Duration = Duration::from_millis(5);
/// Round trip assumed before the first RTCP report measured one.
pub const DEFAULT_RTT: Duration = Duration::from_millis(100);
/// Bytes of the original sequence number an RTX payload starts with.
pub const RTX_OSN_LEN: usize = 2;

/// One packet sent, kept for retransmission.
#[derive(Debug)]
struct Kept {
    seq: u16,
    at: Instant,
    /// When it was last retransmitted, and how often.
    rtx_at: Option<Instant>,
    rtx_count: u32,
    /// The whole RTP packet.
    packet: Vec<u8>,
}

/// What the sender sent lately, by sequence number, bounded by
/// [`MAX_HISTORY_AGE`] and [`MAX_HISTORY_BYTES`].
#[derive(Debug, Default)]
pub(super) struct SendHistory {
    kept: VecDeque<Kept>,
    bytes: usize,
}

impl SendHistory {
    /// Keeps a packet just sent; its sequence number follows the last one's.
    pub(super) fn push(&mut self, now: Instant, seq: u16, packet: Vec<u8>) {
        self.bytes += packet.len();
        self.kept.push_back(Kept {
            seq,
            at: now,
            rtx_at: None,
            rtx_count: 0,
            packet,
        });
        while self.bytes > MAX_HISTORY_BYTES
            || self
                .kept
                .front()
                .is_some_and(|k| now.saturating_duration_since(k.at) > MAX_HISTORY_AGE)
        {
            match self.kept.pop_front() {
                Some(k) => self.bytes -= k.packet.len(),
                None => break,
            }
        }
    }

    /// Bytes held.
    #[cfg(test)]
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The packets to retransmit for a NACK naming `seq` at `now`: none when
    /// it is no longer kept or went out again less than `spacing` ago; two
    /// copies when it was retransmitted before.
    pub(super) fn answer(&mut self, now: Instant, seq: u16, spacing: Duration) -> (usize, &[u8]) {
        let Some(first) = self.kept.front().map(|k| k.seq) else {
            return (0, &[]);
        };
        let index = usize::from(seq.wrapping_sub(first));
        let Some(k) = self.kept.get_mut(index) else {
            return (0, &[]);
        };
        if k.seq != seq
            || k.rtx_at
                .is_some_and(|t| now.saturating_duration_since(t) < spacing)
        {
            return (0, &[]);
        }
        let copies = if k.rtx_count == 0 { 1 } else { 2 };
        k.rtx_at = Some(now);
        k.rtx_count += 1;
        (copies, &k.packet)
    }
}

/// The RFC 4588 retransmission of `original` (a whole RTP packet we sent):
/// the same timestamp and marker, payload type [`PT_RTX`], the RTX stream's
/// SSRC and sequence number, and the original sequence number before the
/// original payload. `None` if `original` is not a packet (cannot happen
/// for what the history holds).
pub(super) fn rtx_packet(original: &[u8], ssrc: u32, seq: u16) -> Option<Vec<u8>> {
    let (h, payload) = RtpHeader::parse(original).ok()?;
    let header = RtpHeader {
        marker: h.marker,
        payload_type: PT_RTX,
        sequence: seq,
        timestamp: h.timestamp,
        ssrc,
    };
    let mut out = Vec::with_capacity(RTP_HEADER_LEN + RTX_OSN_LEN + payload.len());
    out.resize(RTP_HEADER_LEN, 0);
    header.emit_header(&mut out);
    out.extend_from_slice(&h.sequence.to_be_bytes());
    out.extend_from_slice(payload);
    Some(out)
}

/// The original packet's header and payload inside an RTX packet, given the
/// original stream's payload type and SSRC; `None` when the payload is too
/// short to hold the original sequence number.
pub(super) fn unwrap_rtx<'a>(
    rtx: &RtpHeader,
    payload: &'a [u8],
    payload_type: u8,
    ssrc: u32,
) -> Option<(RtpHeader, &'a [u8])> {
    let osn = payload.get(..RTX_OSN_LEN)?;
    let original = RtpHeader {
        marker: rtx.marker,
        payload_type,
        sequence: u16::from_be_bytes([osn[0], osn[1]]),
        timestamp: rtx.timestamp,
        ssrc,
    };
    Some((original, payload.get(RTX_OSN_LEN..)?))
}

/// A packet the receiver misses.
#[derive(Debug, Clone, Copy)]
struct Missing {
    /// When the gap was seen.
    since: Instant,
    /// When it was first and last asked for.
    first_asked: Option<Instant>,
    asked: Option<Instant>,
}

/// Weight of each run of losses in [`NackTracker::mean_run`].
pub const RUN_WEIGHT: f64 = 0.05;

/// Repair round trips remembered for [`NackTracker::repair_rtt`].
pub const REPAIR_RTT_SAMPLES: usize = 32;

/// The receiver's list of missing video packets and when to ask for them.
#[derive(Debug, Default)]
pub(super) struct NackTracker {
    /// By extended sequence number.
    missing: BTreeMap<u64, Missing>,
    highest: Option<u64>,
    /// NACK packets sent and sequence numbers named in them.
    pub(super) nacks_sent: u64,
    pub(super) packets_asked: u64,
    /// Packets given up after their time passed.
    pub(super) given_up: u64,
    /// Packets found missing when a later one arrived (the loss seen).
    pub(super) gaps_seen: u64,
    /// Average length of the runs of missing packets (an exponential average).
    run: f64,
    /// From the first NACK naming a packet to its retransmission's
    /// arrival, for the last repairs.
    repair_rtts: VecDeque<Duration>,
    /// The last packets given up, to tell a retransmission that came too
    /// late from one that came twice.
    gave_up: VecDeque<u64>,
}

/// Packets remembered as given up, for [`NackTracker::was_given_up`].
pub const GAVE_UP_MEMORY: usize = 256;

impl NackTracker {
    /// An original packet (not a retransmission) arrived: any gap before it
    /// is now missing; it is no longer missing itself.
    pub(super) fn arrived(&mut self, now: Instant, seq: u16) {
        let Some(ext) = self
            .highest
            .map_or(Some(u64::from(seq) + (1 << 16)), |h| extend_seq(h, seq))
        else {
            return;
        };
        match self.highest {
            Some(h) if ext > h => {
                // A jump of more than the list holds is a restart, not loss.
                if ext - h - 1 <= MAX_MISSING as u64 {
                    let gap = ext - h - 1;
                    self.gaps_seen += gap;
                    if gap > 0 {
                        let run = if self.run == 0.0 { 1.0 } else { self.run };
                        self.run = run + (gap as f64 - run) * RUN_WEIGHT;
                    }
                    for lost in h + 1..ext {
                        // A packet suspected missing at a frame's end may
                        // have been asked for already.
                        self.missing.entry(lost).or_insert(Missing {
                            since: now,
                            first_asked: None,
                            asked: None,
                        });
                    }
                }
                self.missing.remove(&ext);
                self.highest = Some(ext);
            }
            Some(_) => {
                self.missing.remove(&ext);
            }
            None => self.highest = Some(ext),
        }
        while self.missing.len() > MAX_MISSING {
            self.missing.pop_first();
            self.given_up += 1;
        }
    }

    /// A missing packet came by retransmission or was recovered.
    pub(super) fn repaired(&mut self, now: Instant, seq: u16) {
        let Some(ext) = self.highest.and_then(|h| extend_seq(h, seq)) else {
            return;
        };
        let entry = self.missing.remove(&ext);
        if self.highest.is_some_and(|h| ext > h) {
            // A frame's last packet, asked for before any later one came.
            self.arrived(now, seq);
        }
        if let Some(first) = entry.and_then(|m| m.first_asked) {
            if self.repair_rtts.len() >= REPAIR_RTT_SAMPLES {
                self.repair_rtts.pop_front();
            }
            self.repair_rtts
                .push_back(now.saturating_duration_since(first));
        }
    }

    /// The round trip of a repair as this side sees it: the least time from
    /// a first NACK to its retransmission over the last repairs (a lost
    /// first NACK only makes a sample longer). Known after the first repair,
    /// long before RTCP has measured the round trip.
    pub(super) fn repair_rtt(&self) -> Option<Duration> {
        self.repair_rtts.iter().min().copied()
    }

    /// The packet after the highest so far is taken for missing: its
    /// frame has no end yet and nothing came for a while, so the frame's
    /// last packets were lost (otherwise only the next frame would show the
    /// gap, a frame period later). Asked for at once.
    pub(super) fn suspect_next(&mut self, now: Instant) {
        let Some(h) = self.highest else {
            return;
        };
        self.missing.entry(h + 1).or_insert(Missing {
            since: now.checked_sub(MIN_REORDER_WAIT).unwrap_or(now),
            first_asked: None,
            asked: None,
        });
    }

    /// Whether the packet was missing and given up lately.
    pub(super) fn was_given_up(&self, seq: u16) -> bool {
        self.highest
            .and_then(|h| extend_seq(h, seq))
            .is_some_and(|e| self.gave_up.contains(&e))
    }

    /// Whether the packet is on the missing list.
    pub(super) fn is_missing(&self, seq: u16) -> bool {
        self.highest
            .and_then(|h| extend_seq(h, seq))
            .is_some_and(|e| self.missing.contains_key(&e))
    }

    /// The wait before a gap is asked for and the spacing of repeats.
    fn timing(rtt: Duration, jitter: Duration) -> (Duration, Duration) {
        (
            (jitter * 2).max(MIN_REORDER_WAIT),
            (rtt / 4).max(MIN_NACK_REPEAT),
        )
    }

    /// The packets to ask for now (at most [`crate::media::rtp::MAX_NACK_FCI`]
    /// at once, so a NACK fits a datagram; the rest come next time), forgetting
    /// those missing for longer than `give_up` (their frame's time passed).
    pub(super) fn due(
        &mut self,
        now: Instant,
        rtt: Duration,
        jitter: Duration,
        give_up: Duration,
    ) -> Vec<u16> {
        let (wait, repeat) = Self::timing(rtt, jitter);
        let gave_up = &mut self.gave_up;
        let mut forgot = 0;
        self.missing.retain(|&ext, m| {
            let keep = now.saturating_duration_since(m.since) <= give_up;
            if !keep {
                if gave_up.len() >= GAVE_UP_MEMORY {
                    gave_up.pop_front();
                }
                gave_up.push_back(ext);
                forgot += 1;
            }
            keep
        });
        self.given_up += forgot;
        let mut out = Vec::new();
        for (&ext, m) in self.missing.iter_mut() {
            let due = match m.asked {
                None => m.since + wait,
                Some(t) => t + repeat,
            };
            if due <= now && out.len() < crate::media::rtp::MAX_NACK_FCI {
                m.asked = Some(now);
                m.first_asked.get_or_insert(now);
                out.push(ext as u16);
            }
        }
        if !out.is_empty() {
            self.nacks_sent += 1;
            self.packets_asked += out.len() as u64;
        }
        out
    }

    /// When [`NackTracker::due`] next has something to ask for or forget.
    pub(super) fn next_due(
        &self,
        rtt: Duration,
        jitter: Duration,
        give_up: Duration,
    ) -> Option<Instant> {
        let (wait, repeat) = Self::timing(rtt, jitter);
        self.missing
            .values()
            .map(|m| {
                let ask = match m.asked {
                    None => m.since + wait,
                    Some(t) => t + repeat,
                };
                ask.min(m.since + give_up + Duration::from_micros(1))
            })
            .min()
    }

    /// The average length of the runs of missing packets (1 when each
    /// loss comes alone; 0 before any).
    pub(super) fn mean_run(&self) -> f64 {
        self.run
    }

    /// Packets missing now.
    pub(super) fn len(&self) -> usize {
        self.missing.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_is_bounded_by_age_and_bytes_and_answers_once_per_spacing() {
        let t0 = Instant::now();
        let mut h = SendHistory::default();
        for i in 0..2000u16 {
            h.push(t0 + Duration::from_millis(u64::from(i)), i, vec![0; 1000]);
        }
        assert!(h.bytes() <= MAX_HISTORY_BYTES);
        // A second's worth at most: the first 999 are gone.
        let now = t0 + Duration::from_millis(2000);
        assert_eq!(h.answer(now, 500, Duration::from_millis(50)).0, 0);
        assert_eq!(h.answer(now, 1999, Duration::from_millis(50)).0, 1);
        // Asked again within the spacing: nothing; after it: twice.
        assert_eq!(
            h.answer(
                now + Duration::from_millis(10),
                1999,
                Duration::from_millis(50)
            )
            .0,
            0
        );
        assert_eq!(
            h.answer(
                now + Duration::from_millis(60),
                1999,
                Duration::from_millis(50)
            )
            .0,
            2
        );
        // Unknown numbers (not yet sent) are nothing.
        assert_eq!(h.answer(now, 2500, Duration::from_millis(50)).0, 0);
    }

    #[test]
    fn rtx_packets_carry_the_original_and_unwrap_to_it() {
        let h = RtpHeader {
            marker: true,
            payload_type: 26,
            sequence: 65535,
            timestamp: 1234,
            ssrc: 99,
        };
        let orig = h.to_bytes(&[1, 2, 3]);
        let rtx = rtx_packet(&orig, 77, 5).unwrap();
        let (rh, payload) = RtpHeader::parse(&rtx).unwrap();
        assert_eq!(
            (rh.payload_type, rh.ssrc, rh.sequence, rh.timestamp),
            (PT_RTX, 77, 5, 1234)
        );
        assert_eq!(payload, &[0xff, 0xff, 1, 2, 3]);
        let (back, p) = unwrap_rtx(&rh, payload, 26, 99).unwrap();
        assert_eq!(back, h);
        assert_eq!(p, &[1, 2, 3]);
        assert!(unwrap_rtx(&rh, &[1], 26, 99).is_none());
    }

    #[test]
    fn gaps_are_asked_for_after_the_reorder_wait_then_every_quarter_round_trip() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let rtt = Duration::from_millis(60);
        let j = Duration::ZERO;
        let give_up = Duration::from_millis(200);
        let mut n = NackTracker::default();
        n.arrived(ms(0), 65534);
        n.arrived(ms(0), 1); // 65535 and 0 are missing, across the wrap
        assert_eq!(n.len(), 2);
        assert!(n.due(ms(1), rtt, j, give_up).is_empty());
        assert_eq!(n.next_due(rtt, j, give_up), Some(ms(0) + MIN_REORDER_WAIT));
        assert_eq!(n.due(ms(2), rtt, j, give_up), vec![65535, 0]);
        assert!(n.due(ms(16), rtt, j, give_up).is_empty());
        n.repaired(ms(10), 0);
        assert_eq!(n.repair_rtt(), Some(Duration::from_millis(8)));
        assert_eq!(n.due(ms(17), rtt, j, give_up), vec![65535]);
        // A reordered original fills its gap.
        n.arrived(ms(40), 65535);
        assert_eq!(n.len(), 0);
        // Past the give-up age, a gap is forgotten and counted.
        n.arrived(ms(50), 3);
        assert_eq!(n.due(ms(300), rtt, j, give_up), Vec::<u16>::new());
        assert_eq!(n.given_up, 1);
        // A frame's end suspected lost is asked for at once, and its
        // retransmission moves the highest packet on.
        n.suspect_next(ms(60));
        assert_eq!(n.due(ms(60), rtt, j, give_up), vec![4]);
        n.repaired(ms(100), 4);
        n.arrived(ms(110), 6);
        assert!(!n.is_missing(4));
        assert!(n.is_missing(5), "the gap after it counts");
        n.arrived(ms(111), 5);
        // A huge jump is a restart, not a thousand losses.
        n.arrived(ms(400), 30_000);
        assert_eq!(n.len(), 0);
    }
}
