//! The session's answer to loss on the video stream, both directions: what
//! an arriving packet tells the missing list and the loss average; NACKs,
//! TMMBR and the retransmissions and FEC they bring, as receiver; NACKs
//! answered with retransmissions within the repair budget, FEC chosen from
//! the reported loss and round trip, as sender; and the repair allowance
//! of the video playout delay, which the audio follows. The pieces it
//! drives live in `repair.rs` (send history, missing list), `rate.rs` and
//! `media::fec`; this file is where the session wires them to its streams.

use super::audio::AUDIO_FRAME;
use super::repair::{rtx_packet, unwrap_rtx, ANSWER_MARGIN, DEFAULT_RTT};
use super::stream::RtcpNews;
use super::{AudioTarget, MediaSession, Received, StreamKind};
use crate::media::rtp::{Nack, Rtcp, RtpHeader, Tmmbr, PT_JPEG};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Longest repair allowance of the video playout delay: three round trips
/// of a 50 ms path and the waits around them, so a call over Wi-Fi keeps
/// its picture within 200 ms of capture however lossy the link.
pub const MAX_REPAIR_ALLOWANCE: Duration = Duration::from_millis(165);
/// Added to the round trips a repair takes: the sender's turnaround and the
/// spread of a retransmitted frame.
pub const REPAIR_MARGIN: Duration = Duration::from_millis(8);
/// How long the repair allowance stays after the last loss seen, so a
/// link that loses now and then keeps it rather than flapping.
pub const LOSS_MEMORY: Duration = Duration::from_secs(4);
/// How long after the last video packet a frame without its last packet
/// (the marker) is taken to have lost it: packets of a frame come back to
/// back, a few milliseconds apart at most (twice the jitter when that is more).
pub const TAIL_WAIT: Duration = Duration::from_millis(5);
/// Round trip above which the sender adds FEC to its video when the other
/// side reports loss: two retransmission rounds no longer fit the longest
/// repair allowance, so a lost packet must be rebuilt without asking.
pub const FEC_MIN_RTT: Duration = Duration::from_millis(80);
/// Reported loss below which no FEC is sent (a clean link costs nothing).
pub const FEC_MIN_LOSS: f64 = 0.01;
/// FEC overhead as a multiple of the reported loss: one repair packet per
/// `1 / (FEC_OVERHEAD_PER_LOSS × loss)` media packets.
pub const FEC_OVERHEAD_PER_LOSS: f64 = 1.5;
/// Fewest and most media packets one repair packet protects.
pub const FEC_GROUP_MIN: usize = 3;
/// See [`FEC_GROUP_MIN`].
pub const FEC_GROUP_MAX: usize = 24;
/// Mean length of the runs of lost packets above which loss counts as
/// bursty (independent loss of 10% gives runs of 1.1 on average).
pub const BURSTY_RUN: f64 = 1.5;
/// Weight of each packet in the receiver's average loss rate (about the
/// last 500 packets, a second of full-quality video).
pub const LOSS_AVERAGE_WEIGHT: f64 = 0.001;
/// How fast the repair allowance comes down when less is needed: this
/// share of the time passing (a tenth: 100 ms less a second), so the
/// picture does not jump ahead; it goes up at once.
pub const ALLOWANCE_FALL_RATE: f64 = 0.1;

/// Latches the SSRC of a repair stream (RTX, FEC) from its first packet:
/// `Err(Foreign)` for a packet of another source once latched, and
/// `Err(Malformed)` for a first packet claiming a source the call already
/// uses for something else (`others`).
fn latch(latched: &mut Option<u32>, ssrc: u32, others: &[Option<u32>]) -> Result<(), Received> {
    match *latched {
        Some(s) if s != ssrc => Err(Received::Foreign),
        Some(_) => Ok(()),
        None if others.contains(&Some(ssrc)) => Err(Received::Malformed),
        None => {
            *latched = Some(ssrc);
            Ok(())
        }
    }
}

/// Most frames remembered as repaired (a playout delay's worth and more).
const REPAIRED_FRAMES: usize = 32;

impl MediaSession {
    /// An original video packet arrived in sequence checks: the missing list,
    /// the loss average, the playout clock's base and the queueing-delay
    /// detector learn of it.
    pub(super) fn video_arrived(&mut self, now: Instant, h: &RtpHeader, len: usize) {
        let before = self.nack.len();
        let gaps_before = self.nack.gaps_seen;
        self.nack.arrived(now, h.sequence);
        let gaps = self.nack.gaps_seen - gaps_before;
        for _ in 0..gaps {
            self.loss_rate += LOSS_AVERAGE_WEIGHT * (1.0 - self.loss_rate);
        }
        self.loss_rate -= LOSS_AVERAGE_WEIGHT * self.loss_rate;
        if gaps > 0 {
            self.last_loss = Some(now);
        }
        if gaps > 0 || self.nack.len() != before {
            self.update_allowance(now);
        }
        self.video_in.packet_arrived(now, h.timestamp);
        self.overuse.packet(now, len);
        self.last_video_at = Some(now);
        let first_of_frame = self
            .newest_frame
            .is_none_or(|t| t != h.timestamp && h.timestamp.wrapping_sub(t) < 1 << 31);
        if self.newest_frame == Some(h.timestamp) && h.marker {
            self.newest_has_end = true;
        }
        if first_of_frame {
            self.newest_frame = Some(h.timestamp);
            self.newest_has_end = h.marker;
            let queued = self.video_in.queueing(now, h.timestamp);
            if let Some(cap) = self.overuse.frame(now, queued).filter(|_| self.feedback) {
                self.cap_request = Some(cap);
            }
        }
    }

    /// A retransmission (RFC 4588) on the video socket: the original packet
    /// it carries goes where the original would have, if it is still missed.
    pub(super) fn video_rtx(
        &mut self,
        now: Instant,
        from: SocketAddr,
        h: &RtpHeader,
        payload: &[u8],
    ) -> Received {
        let Some(media_ssrc) = self.video.as_ref().and_then(|v| v.rx.ssrc) else {
            return Received::Foreign;
        };
        let others = [Some(media_ssrc), self.fec_source];
        if let Err(r) = latch(&mut self.rtx_source, h.ssrc, &others) {
            log::debug!("RTX from {from} of another source dropped");
            self.quality.foreign_dropped += u64::from(r == Received::Foreign);
            return r;
        }
        let Some((orig, original_payload)) = unwrap_rtx(h, payload, PT_JPEG, media_ssrc) else {
            log::debug!("RTX from {from} too short to carry a packet dropped");
            return Received::Malformed;
        };
        if !self.nack.is_missing(orig.sequence) {
            // Arrived already, or given up: nothing to repair.
            if self.nack.was_given_up(orig.sequence) {
                self.quality.repair.rtx_late += 1;
            } else {
                self.quality.repair.rtx_useless += 1;
            }
            return Received::Rtp;
        }
        self.quality.repair.repaired_rtx += 1;
        self.take_repaired(now, &orig, original_payload);
        Received::Rtp
    }

    /// A missing video packet repaired (retransmitted or rebuilt by FEC):
    /// off the missing list, its frame marked repaired (its lateness says
    /// nothing of the path), into the frame, and to the FEC decoder, which
    /// may rebuild another with it.
    fn take_repaired(&mut self, now: Instant, h: &RtpHeader, payload: &[u8]) {
        self.nack.repaired(now, h.sequence);
        if !self.repaired_frames.contains(&h.timestamp) {
            if self.repaired_frames.len() >= REPAIRED_FRAMES {
                self.repaired_frames.pop_front();
            }
            self.repaired_frames.push_back(h.timestamp);
        }
        self.video_packet(now, h, payload, false);
        let recovered = self.fec_in.media(&h.to_bytes(payload));
        self.fec_recovered(now, recovered);
    }

    /// A FlexFEC repair packet (RFC 8627) on the video socket: what it
    /// rebuilds goes where the lost originals would have.
    pub(super) fn video_fec(
        &mut self,
        now: Instant,
        from: SocketAddr,
        h: &RtpHeader,
        datagram: &[u8],
    ) -> Received {
        let Some(media_ssrc) = self.video.as_ref().and_then(|v| v.rx.ssrc) else {
            return Received::Foreign;
        };
        let others = [Some(media_ssrc), self.rtx_source];
        if let Err(r) = latch(&mut self.fec_source, h.ssrc, &others) {
            log::debug!("FEC from {from} of another source dropped");
            self.quality.foreign_dropped += u64::from(r == Received::Foreign);
            return r;
        }
        match self.fec_in.fec(datagram) {
            Ok(recovered) => {
                self.fec_recovered(now, recovered);
                Received::Rtp
            }
            Err(e) => {
                log::debug!("FEC from {from} dropped: {e}");
                Received::Malformed
            }
        }
    }

    /// Packets FEC rebuilt: each still missed is taken as if it had come.
    pub(super) fn fec_recovered(&mut self, now: Instant, recovered: Vec<Vec<u8>>) {
        for packet in recovered {
            let Ok((h, payload)) = RtpHeader::parse(&packet) else {
                continue;
            };
            if !self.nack.is_missing(h.sequence) {
                continue;
            }
            self.quality.repair.repaired_fec += 1;
            self.take_repaired(now, &h, payload);
        }
    }

    /// Whether FEC is worth sending, and how much: only on a path whose
    /// round trip leaves no time to ask again and that loses packets; one
    /// repair packet per group sized so the overhead is about
    /// [`FEC_OVERHEAD_PER_LOSS`] times the loss.
    fn choose_fec(&mut self, loss: f64) {
        let rtt = self.rtt().unwrap_or(DEFAULT_RTT);
        // Behind a bottleneck (a TMMBR cap in force) the loss is the queue
        // overflowing and the round trip the queue's: FEC would add to both.
        let congested = self.rate.capped();
        self.fec_k = (self.feedback && !congested && rtt > FEC_MIN_RTT && loss >= FEC_MIN_LOSS)
            .then(|| {
                ((1.0 / (FEC_OVERHEAD_PER_LOSS * loss)).ceil() as usize)
                    .clamp(FEC_GROUP_MIN, FEC_GROUP_MAX)
            });
        if self.fec_k.is_none() {
            self.fec_group.clear();
        }
    }

    /// The repair allowance the loss seen calls for: enough round trips for
    /// a lost packet, and a lost retransmission or NACK after it, to arrive
    /// before the frame is due; none on a link that has not lost for a while.
    pub(super) fn update_allowance(&mut self, now: Instant) {
        if !self.feedback {
            return;
        }
        let recent = self
            .last_loss
            .is_some_and(|t| now.saturating_duration_since(t) < LOSS_MEMORY);
        let want = if recent {
            let rtt = self.rtt().unwrap_or(DEFAULT_RTT);
            let mut rounds = match self.loss_rate {
                p if p < 0.015 => 1.0,
                p if p < 0.08 => 2.0,
                p if p < 0.15 => 2.5,
                _ => 3.0,
            };
            // Losses in runs take their NACKs and retransmissions with them
            // more often than lone ones: a quarter round more.
            if self.nack.mean_run() > BURSTY_RUN {
                rounds += 0.25;
            }
            (rtt.mul_f64(rounds) + REPAIR_MARGIN).min(MAX_REPAIR_ALLOWANCE)
        } else {
            Duration::ZERO
        };
        let now_allowance = self.video_in.repair_allowance();
        let next = if want >= now_allowance {
            want
        } else {
            let passed = self
                .allowance_at
                .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
            now_allowance
                .saturating_sub(passed.mul_f64(ALLOWANCE_FALL_RATE))
                .max(want)
        };
        self.allowance_at = Some(now);
        if next != now_allowance {
            self.video_in.set_repair_allowance(next);
            // Sound waits with the picture, so lip sync holds.
            // Rounded down: sound a little ahead of the picture is held
            // back by lip sync at no cost, sound behind it costs latency.
            let frames = self.video_in.playout_delay().as_micros() / AUDIO_FRAME.as_micros();
            self.audio_in.buffer.set_floor(frames as usize);
        }
    }

    /// What the audio sender's encoder should do now: FEC planned for the
    /// loss the other side reports and a bitrate to pay for it (the initial
    /// plan until a report came, or always with feedback off).
    pub fn audio_target(&self) -> AudioTarget {
        match self.audio_loss.filter(|_| self.feedback) {
            Some(loss) => AudioTarget::for_loss(loss),
            None => AudioTarget::INITIAL,
        }
    }

    /// The round trip repairs take: the longer of RTCP's round trip and the
    /// quickest of the last repairs (from the first NACK to the
    /// retransmission), whichever is known.
    fn rtt(&self) -> Option<Duration> {
        let reported = self
            .video
            .as_ref()
            .and_then(|v| v.rtt)
            .or(self.audio.as_ref().and_then(|a| a.rtt));
        // A repair also waits on the other side's turnaround and both
        // sides' scheduling, which RTCP's round trip leaves out: on a fast
        // link the repairs' own time is the longer, and the one that counts.
        match (reported, self.nack.repair_rtt()) {
            (Some(r), Some(m)) => Some(r.max(m)),
            (r, m) => r.or(m),
        }
    }

    /// Feedback about the video we send: NACKs answered with
    /// retransmissions, loss and TMMBR into the rate control.
    pub(super) fn video_feedback(&mut self, now: Instant, news: RtcpNews) {
        if !news.nacked.is_empty() {
            self.quality.repair.nacks_received += 1;
        }
        // A NACK sent before our last retransmission of the packet could
        // have reached the other side says nothing new: answer only NACKs
        // arriving a round trip (and a little) after it.
        let spacing = self.rtt().unwrap_or(DEFAULT_RTT) + ANSWER_MARGIN;
        let Some(v) = self.video.as_ref() else {
            return;
        };
        let remote = v.remote;
        for seq in news.nacked {
            let (copies, original) = self.history.answer(now, seq, spacing);
            let original = original.to_vec();
            for _ in 0..copies {
                if self.feedback && !self.rate.repair_allowed(original.len()) {
                    self.quality.repair.rtx_refused += 1;
                    break;
                }
                let Some(packet) = rtx_packet(&original, self.rtx_ssrc, self.rtx_seq) else {
                    break;
                };
                self.rtx_seq = self.rtx_seq.wrapping_add(1);
                self.quality.repair.rtx_packets_sent += 1;
                self.quality.repair.rtx_bytes_sent += packet.len() as u64;
                self.rate.frame_sent_repair(now, packet.len());
                self.outputs.transmit(StreamKind::Video, remote, packet);
            }
        }
        if let Some(loss) = news.loss.filter(|_| self.feedback) {
            self.rate.report(now, loss, self.fps);
            self.choose_fec(loss);
        }
        if let Some(cap) = news.tmmbr.filter(|_| self.feedback) {
            self.rate.tmmbr(now, cap, self.fps);
        }
    }

    /// NACKs due and a TMMBR waiting go out in one feedback compound.
    pub(super) fn feedback_if_due(&mut self, now: Instant) {
        if !self.feedback {
            return;
        }
        let (rtt, jitter, give_up) = self.nack_timing();
        if self.video.as_ref().and_then(|v| v.rx.ssrc).is_none() {
            return;
        }
        if self.tail_due(jitter).is_some_and(|t| t <= now) {
            self.nack.suspect_next(now);
            // Once per frame.
            self.newest_has_end = true;
        }
        let lost = self.nack.due(now, rtt, jitter, give_up);
        let Some(v) = self.video.as_mut() else {
            return;
        };
        let Some(media_ssrc) = v.rx.ssrc else {
            return;
        };
        let mut packets = Vec::new();
        if !lost.is_empty() {
            packets.push(Rtcp::Nack(Nack::from_lost(v.tx.ssrc, media_ssrc, &lost)));
        }
        if let Some(bitrate) = self.cap_request.take() {
            // IPv4 + UDP + RTP headers: what each packet costs beyond its payload.
            packets.push(Rtcp::Tmmbr(Tmmbr::new(v.tx.ssrc, media_ssrc, bitrate, 40)));
        }
        if packets.is_empty() {
            return;
        }
        let bytes = v.feedback(&self.cname, packets);
        self.outputs.transmit(StreamKind::Video, v.remote, bytes);
    }

    /// When the newest frame, still without its end, is taken to have lost
    /// its last packets.
    fn tail_due(&self, jitter: Duration) -> Option<Instant> {
        if self.newest_has_end || !self.feedback {
            return None;
        }
        Some(self.last_video_at? + TAIL_WAIT.max(jitter * 2))
    }

    /// The round trip and jitter the NACK timers run on, and how long a
    /// packet may be missing before it is given up: its frame's playout
    /// delay and half a round trip for the last retransmission to come.
    fn nack_timing(&self) -> (Duration, Duration, Duration) {
        let rtt = self.rtt().unwrap_or(DEFAULT_RTT);
        let jitter = self
            .video
            .as_ref()
            .map_or(Duration::ZERO, |v| v.rx.stats.jitter_duration());
        (rtt, jitter, self.video_in.playout_delay() + rtt / 2)
    }

    /// When the missing list next has a NACK to send or a packet to forget.
    pub(super) fn nack_due(&self) -> Option<Instant> {
        if !self.feedback {
            return None;
        }
        let (rtt, jitter, give_up) = self.nack_timing();
        [
            self.nack.next_due(rtt, jitter, give_up),
            self.tail_due(jitter),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}
