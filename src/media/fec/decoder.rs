//! The receiving side of FlexFEC: a bounded history of the protected stream's
//! media packets and a bounded set of repair packets still waiting for enough
//! of their group to arrive. A repair packet recovers its group's missing
//! packet once exactly one is missing; every packet recovered (or repaired by
//! retransmission) goes into the history and may complete another group, so
//! recovery repeats until nothing changes.
//!
//! Sequence numbers are extended to 64 bits against the highest one seen, so
//! groups straddling the wrap from 65535 to 0 work. When the history forgets
//! its oldest packet, the decoder also forgets whether that sequence number
//! was ever received: repair packets reaching back that far are dropped rather
//! than risk "recovering" a packet that was delivered long ago.

use super::{recover, FecError, FecHeader, FecPacket, MAX_RTP_PACKET_LEN};
use crate::media::rtp::{extend_seq, RtpPacket};
use std::collections::{BTreeMap, VecDeque};

/// Most media packets the decoder keeps for recovery, the newest by sequence
/// number: several frames of video, and far more than the 110 packets one
/// repair packet can reach. About 750 KB at most.
pub const MAX_MEDIA_HISTORY: usize = 512;
/// Most repair packets kept waiting for a second missing packet of their group
/// to arrive; the oldest arrival is dropped first.
pub const MAX_PENDING_FEC: usize = 64;

/// Where the extended sequence numbers start: one cycle up, so a packet
/// reordered across a wrap before the first one still has a number.
const FIRST_CYCLE: u64 = 1 << 16;

/// What the decoder has done since it was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FecStats {
    /// Media packets given to [`FecDecoder::media`] and kept.
    pub media_received: u64,
    /// Repair packets given to [`FecDecoder::fec`] that parsed.
    pub fec_received: u64,
    /// Media packets rebuilt from repair packets.
    pub recovered: u64,
    /// Repair packets dropped because every packet they protect arrived.
    pub fec_unneeded: u64,
    /// Repair packets dropped unused: pushed out of the pending set by newer
    /// ones, or reaching back past the history.
    pub fec_expired: u64,
    /// Repair packets for another stream than the protected one, ignored.
    pub fec_foreign: u64,
    /// Repair packets that did not parse ([`FecDecoder::fec`] returned `Err`).
    pub fec_malformed: u64,
    /// Repair packets whose XOR gave no valid packet (inconsistent lengths or
    /// header): a corrupt or lying sender. Nothing was delivered.
    pub recovery_failed: u64,
    /// Media packets not kept: invalid RTP, longer than any repair packet
    /// could rebuild, already held, or older than the history.
    pub media_ignored: u64,
}

/// A repair packet waiting for its group.
#[derive(Debug, Clone)]
struct Pending {
    protected_ssrc: u32,
    header: FecHeader,
    repair_payload: Vec<u8>,
}

/// What a pending repair packet can do now.
enum State {
    /// Keep waiting: two or more packets missing, or no media seen yet.
    Waiting,
    /// Every protected packet is here.
    Unneeded,
    /// It reaches back past what the history remembers.
    Expired,
    /// Exactly this one (extended sequence number) is missing.
    Recover(u64),
}

/// Recovers lost media packets of one stream from the media packets and the
/// FlexFEC repair packets that arrived. The protected stream is the SSRC of
/// the first media packet; media of another SSRC means the stream restarted,
/// and the decoder starts over with it.
#[derive(Debug, Clone, Default)]
pub struct FecDecoder {
    protected_ssrc: Option<u32>,
    /// Extended sequence number of the highest media packet kept.
    highest: Option<u64>,
    /// Received and recovered media packets by extended sequence number.
    history: BTreeMap<u64, Vec<u8>>,
    /// Extended sequence numbers below this were evicted: whether they
    /// arrived is no longer known.
    forgotten_below: u64,
    pending: VecDeque<Pending>,
    stats: FecStats,
}

impl FecDecoder {
    /// A decoder that has seen nothing.
    pub fn new() -> Self {
        FecDecoder::default()
    }

    /// A media packet of the protected stream arrived (original, or repaired
    /// by retransmission): kept for recovery, and returns the packets it now
    /// lets pending repair packets recover, as the sender sent them.
    #[must_use]
    pub fn media(&mut self, rtp_packet: &[u8]) -> Vec<Vec<u8>> {
        let Ok(view) = RtpPacket::new_checked(rtp_packet) else {
            self.stats.media_ignored += 1;
            return Vec::new();
        };
        if rtp_packet.len() > MAX_RTP_PACKET_LEN {
            self.stats.media_ignored += 1;
            return Vec::new();
        }
        if self.protected_ssrc != Some(view.ssrc()) {
            self.restart(view.ssrc());
        }
        let Some(ext) = self.keep(view.sequence(), rtp_packet.to_vec()) else {
            self.stats.media_ignored += 1;
            return Vec::new();
        };
        self.stats.media_received += 1;
        self.run(Some(vec![ext]))
    }

    /// A repair packet arrived (the complete datagram); returns the media
    /// packets it recovers now, or after packets it lets recover chain on.
    /// `Err` for a malformed packet, which is dropped.
    pub fn fec(&mut self, datagram: &[u8]) -> Result<Vec<Vec<u8>>, FecError> {
        let packet = match FecPacket::parse(datagram) {
            Ok(p) => p,
            Err(e) => {
                self.stats.fec_malformed += 1;
                return Err(e);
            }
        };
        self.stats.fec_received += 1;
        if self
            .protected_ssrc
            .is_some_and(|ssrc| ssrc != packet.protected_ssrc)
        {
            self.stats.fec_foreign += 1;
            return Ok(Vec::new());
        }
        if self.pending.len() == MAX_PENDING_FEC {
            self.pending.pop_front();
            self.stats.fec_expired += 1;
        }
        self.pending.push_back(Pending {
            protected_ssrc: packet.protected_ssrc,
            header: packet.header,
            repair_payload: packet.repair_payload.to_vec(),
        });
        Ok(self.run(None))
    }

    /// What the decoder has done so far.
    pub fn stats(&self) -> FecStats {
        self.stats
    }

    /// Media packets held for recovery.
    pub fn history_len(&self) -> usize {
        self.history.len()
    }

    /// Repair packets waiting for more of their group.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Follows a new media stream: what was held for the old one is useless.
    fn restart(&mut self, ssrc: u32) {
        let foreign = self
            .pending
            .iter()
            .filter(|p| p.protected_ssrc != ssrc)
            .count();
        self.stats.fec_foreign += foreign as u64;
        self.pending.retain(|p| p.protected_ssrc == ssrc);
        self.protected_ssrc = Some(ssrc);
        self.highest = None;
        self.history.clear();
        self.forgotten_below = 0;
    }

    /// The extended number of `seq`, near the highest kept.
    fn extend(&self, seq: u16) -> Option<u64> {
        match self.highest {
            Some(h) => extend_seq(h, seq),
            None => Some(FIRST_CYCLE + u64::from(seq)),
        }
    }

    /// Adds a packet to the history, evicting the oldest beyond the bound,
    /// and returns its extended sequence number. `None` when it is already
    /// held or older than the history remembers.
    fn keep(&mut self, seq: u16, packet: Vec<u8>) -> Option<u64> {
        let ext = self.extend(seq)?;
        if ext < self.forgotten_below || self.history.contains_key(&ext) {
            return None;
        }
        self.history.insert(ext, packet);
        self.highest = Some(self.highest.map_or(ext, |h| h.max(ext)));
        while self.history.len() > MAX_MEDIA_HISTORY {
            if let Some((oldest, _)) = self.history.pop_first() {
                self.forgotten_below = self.forgotten_below.max(oldest + 1);
            }
        }
        Some(ext)
    }

    /// Whether `pending` protects the packet numbered `ext`.
    fn covers(&self, pending: &Pending, ext: u64) -> bool {
        let Some(base) = self.extend(pending.header.sn_base) else {
            return false;
        };
        ext.checked_sub(base).is_some_and(|offset| {
            offset < pending.header.mask_len.bits() as u64 && pending.header.mask >> offset & 1 != 0
        })
    }

    fn state(&self, pending: &Pending) -> State {
        if self.protected_ssrc != Some(pending.protected_ssrc) {
            return State::Waiting;
        }
        let mut missing = None;
        for seq in pending.header.protected() {
            let Some(ext) = self.extend(seq) else {
                return State::Expired;
            };
            if ext < self.forgotten_below {
                return State::Expired;
            }
            if !self.history.contains_key(&ext) {
                if missing.is_some() {
                    return State::Waiting;
                }
                missing = Some(ext);
            }
        }
        missing.map_or(State::Unneeded, State::Recover)
    }

    /// Settles the pending repair packets that can be settled, repeating
    /// while recoveries complete other groups; returns the recovered packets.
    /// Only those protecting a packet in `changed` (extended sequence
    /// numbers) are looked at, or all when it is `None`: a media packet can
    /// only complete the groups it belongs to, which keeps the work per packet
    /// small when many repair packets wait.
    fn run(&mut self, mut changed: Option<Vec<u64>>) -> Vec<Vec<u8>> {
        let mut recovered = Vec::new();
        let Some(ssrc) = self.protected_ssrc else {
            return recovered;
        };
        loop {
            let mut now_here = Vec::new();
            let mut i = 0;
            while let Some(pending) = self.pending.get(i) {
                let affected = changed
                    .as_ref()
                    .is_none_or(|c| c.iter().any(|&ext| self.covers(pending, ext)));
                if !affected {
                    i += 1;
                    continue;
                }
                match self.state(pending) {
                    State::Waiting => {
                        i += 1;
                        continue;
                    }
                    State::Unneeded => self.stats.fec_unneeded += 1,
                    State::Expired => self.stats.fec_expired += 1,
                    State::Recover(ext) => {
                        let present: Vec<&[u8]> = pending
                            .header
                            .protected()
                            .filter_map(|s| self.extend(s))
                            .filter_map(|e| self.history.get(&e))
                            .map(Vec::as_slice)
                            .collect();
                        let seq = ext as u16;
                        match recover(
                            &pending.header,
                            &pending.repair_payload,
                            &present,
                            seq,
                            ssrc,
                        ) {
                            Some(packet) => {
                                self.stats.recovered += 1;
                                now_here.extend(self.keep(seq, packet.clone()));
                                recovered.push(packet);
                            }
                            None => self.stats.recovery_failed += 1,
                        }
                    }
                }
                self.pending.remove(i);
            }
            if now_here.is_empty() {
                return recovered;
            }
            changed = Some(now_here);
        }
    }
}
