//! One RTP stream of a call, both directions on one port (RFC 5761): what we
//! send (SSRC, sequence numbers, the counts and the RTP-to-capture-time
//! anchor our sender reports carry) and what we hear (the other side's SSRC,
//! reception statistics, its last sender report for our report blocks and
//! for lip sync), the round trip measured from its reports about us, and the
//! RTCP compounds we send: SR or RR, SDES CNAME, and BYE at the end.

use super::rng::Rng;
use crate::media::rtp::{
    duration_to_ntp_short, ntp_middle_32, seq_newer, ReceiverReport, ReportBlock, Rtcp, RtpHeader,
    Sdes, SenderReport,
};
use crate::media::stats::ReceiverStats;
use crate::media::sync::RtpClock;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Base interval between RTCP compounds of one stream. RFC 3550 6.2 allows a
/// minimum below its 5 s default scaled to the session bandwidth (360 s over
/// the kbit/s); a call of a few hundred kbit/s per stream affords a second,
/// and lip sync and RTT want fresh reports.
pub const RTCP_INTERVAL: Duration = Duration::from_secs(1);

/// The reason our BYE gives when the call ends.
pub const BYE_REASON: &[u8] = b"call ended";

/// Which of the call's two streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamKind {
    /// The MJPEG video stream.
    Video,
    /// The Opus audio stream.
    Audio,
}

/// What we send on a stream.
#[derive(Debug)]
pub(super) struct Outbound {
    pub(super) ssrc: u32,
    /// The next packet's sequence number.
    pub(super) seq: u16,
    /// RTP timestamp of the first frame.
    pub(super) ts_origin: u32,
    pub(super) packets: u32,
    pub(super) octets: u32,
    /// When the last packet's content was captured, and its RTP timestamp:
    /// what a sender report's RTP time is extrapolated from.
    pub(super) anchor: Option<(Instant, u32)>,
}

/// What we hear on a stream.
#[derive(Debug)]
pub(super) struct Inbound {
    /// The other side's SSRC, latched from its first RTP packet.
    pub(super) ssrc: Option<u32>,
    pub(super) stats: ReceiverStats,
    /// Middle 32 bits of the other side's last SR's NTP time, and when it arrived.
    pub(super) last_sr: Option<(u32, Instant)>,
    /// The other side's RTP-to-wallclock mapping, from its sender reports.
    pub(super) clock: RtpClock,
    /// The other side said BYE.
    pub(super) bye: bool,
}

/// One stream: both directions, its RTCP timer and its measured round trip.
#[derive(Debug)]
pub(super) struct Stream {
    pub(super) clock_rate: u32,
    /// The other side's port for this stream: the only source we accept
    /// and where everything we send goes.
    pub(super) remote: SocketAddr,
    pub(super) tx: Outbound,
    pub(super) rx: Inbound,
    pub(super) rtt: Option<Duration>,
    /// When the next RTCP compound is due; `None` until the stream has sent
    /// or heard anything (an empty report helps nobody).
    pub(super) next_rtcp: Option<Instant>,
    /// RTCP compounds sent.
    pub(super) rtcp_sent: u64,
}

/// What an RTCP compound from the other side said that the session acts on.
#[derive(Debug, Default)]
pub(super) struct RtcpNews {
    /// It said BYE.
    pub(super) bye: bool,
    /// Sequence numbers of ours it NACKed.
    pub(super) nacked: Vec<u16>,
    /// The fraction it lost of our packets, from a report block about us.
    pub(super) loss: Option<f64>,
    /// The bitrate it asked us to keep to (TMMBR).
    pub(super) tmmbr: Option<u64>,
}

/// Why an arriving RTP packet was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RtpRefusal {
    /// Another SSRC than the one the stream latched.
    OtherSource,
    /// A sequence number far from the stream's (RFC 3550 A.1: a restart
    /// until the next packet confirms it), so not one of the stream's.
    OutOfSequence,
}

impl Stream {
    pub(super) fn new(clock_rate: u32, remote: SocketAddr, rng: &mut Rng) -> Self {
        Stream {
            clock_rate,
            remote,
            tx: Outbound {
                ssrc: rng.u32(),
                seq: rng.u32() as u16,
                ts_origin: rng.u32(),
                packets: 0,
                octets: 0,
                anchor: None,
            },
            rx: Inbound {
                ssrc: None,
                stats: ReceiverStats::new(clock_rate),
                last_sr: None,
                clock: RtpClock::new(clock_rate),
                bye: false,
            },
            rtt: None,
            next_rtcp: None,
            rtcp_sent: 0,
        }
    }

    /// The header of the next packet we send, taking its sequence number.
    pub(super) fn next_header(
        &mut self,
        payload_type: u8,
        marker: bool,
        timestamp: u32,
    ) -> RtpHeader {
        let h = RtpHeader {
            marker,
            payload_type,
            sequence: self.tx.seq,
            timestamp,
            ssrc: self.tx.ssrc,
        };
        self.tx.seq = self.tx.seq.wrapping_add(1);
        h
    }

    /// Counts a packet sent whose content was captured at `captured`.
    pub(super) fn sent(&mut self, now: Instant, captured: Instant, ts: u32, payload_len: usize) {
        self.tx.packets = self.tx.packets.wrapping_add(1);
        self.tx.octets = self.tx.octets.wrapping_add(payload_len as u32);
        self.tx.anchor = Some((captured, ts));
        // The first report goes out with the first packet: lip sync needs it.
        self.next_rtcp.get_or_insert(now);
    }

    /// An RTP packet from the right address: counts it and says whether it
    /// is the newest in sequence so far, or says why it is not the stream's.
    pub(super) fn heard(
        &mut self,
        now: Instant,
        rng: &mut Rng,
        h: &RtpHeader,
    ) -> Result<bool, RtpRefusal> {
        match self.rx.ssrc {
            Some(s) if s != h.ssrc => return Err(RtpRefusal::OtherSource),
            Some(_) => {}
            None => {
                self.rx.ssrc = Some(h.ssrc);
                // A receiver reports after the first interval, not at once.
                if self.next_rtcp.is_none() {
                    self.next_rtcp = Some(now + rng.rtcp_interval(RTCP_INTERVAL));
                }
            }
        }
        let stats = &mut self.rx.stats;
        let newest = stats.highest_seq().is_none_or(|s| seq_newer(h.sequence, s));
        let probation = stats.on_probation();
        if !stats.record(now, h.sequence, h.timestamp) && !probation {
            return Err(RtpRefusal::OutOfSequence);
        }
        Ok(newest)
    }

    /// The compound to send now: an SR when we send on this stream (else an
    /// RR), with a report block once the other side has been heard, our
    /// SDES CNAME, and a BYE when `bye` (RFC 3550 6.1, 6.6).
    pub(super) fn compound(
        &mut self,
        now: Instant,
        ntp_now: u64,
        cname: &str,
        bye: bool,
    ) -> Vec<u8> {
        let mut packets = self.reports(now, ntp_now, cname);
        if bye {
            packets.push(Rtcp::Bye(crate::media::rtp::Bye {
                sources: vec![self.tx.ssrc],
                reason: Some(BYE_REASON.to_vec()),
            }));
        }
        let mut buf = vec![0u8; Rtcp::compound_len(&packets)];
        let n = Rtcp::emit_compound(&packets, &mut buf);
        buf.truncate(n);
        self.rtcp_sent += 1;
        buf
    }

    /// Feedback to send at once (RFC 4585 early feedback): an RR without
    /// report blocks (a block would restart the loss interval of the regular
    /// reports), our SDES CNAME and `feedback`.
    pub(super) fn feedback(&mut self, cname: &str, feedback: Vec<Rtcp>) -> Vec<u8> {
        let ssrc = self.tx.ssrc;
        let mut packets = vec![
            Rtcp::ReceiverReport(ReceiverReport {
                ssrc,
                reports: Vec::new(),
            }),
            Rtcp::Sdes(Sdes::with_cname(ssrc, cname)),
        ];
        packets.extend(feedback);
        let mut buf = vec![0u8; Rtcp::compound_len(&packets)];
        let n = Rtcp::emit_compound(&packets, &mut buf);
        buf.truncate(n);
        buf
    }

    /// The SR or RR and the SDES a regular compound starts with.
    fn reports(&mut self, now: Instant, ntp_now: u64, cname: &str) -> Vec<Rtcp> {
        let mut reports = Vec::new();
        if let Some(remote) = self.rx.ssrc {
            let r = self.rx.stats.report();
            let (lsr, dlsr) = match self.rx.last_sr {
                Some((mid, arrived)) => (
                    mid,
                    duration_to_ntp_short(now.saturating_duration_since(arrived)),
                ),
                None => (0, 0),
            };
            reports.push(ReportBlock {
                ssrc: remote,
                fraction_lost: r.fraction_lost,
                cumulative_lost: r.cumulative_lost,
                highest_seq: r.extended_highest_seq,
                jitter: r.jitter,
                last_sr: lsr,
                delay_since_last_sr: dlsr,
            });
        }
        let ssrc = self.tx.ssrc;
        let first = match self.tx.anchor {
            Some((at, ts)) => {
                // The RTP time of "now" on the capture clock that stamped the
                // last packet, signed so a capture still ahead of `now` works.
                let ticks = signed_secs(now, at) * f64::from(self.clock_rate);
                Rtcp::SenderReport(SenderReport {
                    ssrc,
                    ntp_time: ntp_now,
                    rtp_time: ts.wrapping_add(ticks as i64 as u32),
                    packet_count: self.tx.packets,
                    octet_count: self.tx.octets,
                    reports,
                })
            }
            None => Rtcp::ReceiverReport(ReceiverReport { ssrc, reports }),
        };
        vec![first, Rtcp::Sdes(Sdes::with_cname(ssrc, cname))]
    }

    /// An RTCP compound from the other side: its sender reports (for our
    /// report blocks and lip sync), its report blocks about us (the round
    /// trip), its BYE, its feedback about our packets; `Err` when malformed.
    pub(super) fn handle_rtcp(
        &mut self,
        now: Instant,
        ntp_now: u64,
        datagram: &[u8],
    ) -> Result<RtcpNews, ()> {
        let packets = Rtcp::parse_compound(datagram).map_err(|_| ())?;
        let mut news = RtcpNews::default();
        for p in packets {
            let blocks = match p {
                Rtcp::SenderReport(sr) => {
                    if self.rx.ssrc.is_some_and(|s| s != sr.ssrc) {
                        continue;
                    }
                    self.rx.last_sr = Some((ntp_middle_32(sr.ntp_time), now));
                    self.rx.clock.sender_report(sr.ntp_time, sr.rtp_time);
                    sr.reports
                }
                // Like an SR's: once the source is known, another's blocks
                // about us are no measurement of this call's round trip.
                Rtcp::ReceiverReport(rr) => {
                    if self.rx.ssrc.is_some_and(|s| s != rr.ssrc) {
                        continue;
                    }
                    rr.reports
                }
                Rtcp::Bye(b) => {
                    if self.rx.ssrc.is_some_and(|s| b.sources.contains(&s)) && !self.rx.bye {
                        self.rx.bye = true;
                        news.bye = true;
                    }
                    continue;
                }
                Rtcp::Nack(n) => {
                    if n.media_ssrc == self.tx.ssrc
                        && self.rx.ssrc.is_none_or(|s| s == n.sender_ssrc)
                    {
                        news.nacked.extend(n.lost());
                    }
                    continue;
                }
                Rtcp::Tmmbr(t) => {
                    if t.media_ssrc == self.tx.ssrc
                        && self.rx.ssrc.is_none_or(|s| s == t.sender_ssrc)
                    {
                        news.tmmbr = Some(t.bitrate());
                    }
                    continue;
                }
                _ => continue,
            };
            for b in blocks.iter().filter(|b| b.ssrc == self.tx.ssrc) {
                if let Some(rtt) = b.round_trip(ntp_now) {
                    self.rtt = Some(rtt);
                }
                news.loss = Some(f64::from(b.fraction_lost) / 256.0);
            }
        }
        Ok(news)
    }
}

/// `a - b` in seconds, negative when `a` is earlier.
pub(super) fn signed_secs(a: Instant, b: Instant) -> f64 {
    match a.checked_duration_since(b) {
        Some(d) => d.as_secs_f64(),
        None => -b.saturating_duration_since(a).as_secs_f64(),
    }
}
