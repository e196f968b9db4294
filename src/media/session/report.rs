//! The quality report of a call's media: what was sent, received, shown and
//! played, what was lost and concealed, latency and lip-sync figures, the
//! network as RTCP saw it. [`super::MediaSession::report`] fills it; the
//! shell adds what only its devices know (the sound card's xruns, how long
//! stopping took) and prints it as text ([`Quality::lines`]) or as one JSON
//! object ([`Quality::json`]).

use crate::media::jitter::JitterStats;
use serde::Serialize;
use std::time::Duration;

/// Latency and skew samples kept per measure: an hour of 30 fps video. Past
/// it new samples are not kept, so a call that runs for days holds a few
/// megabytes of figures at most; the percentiles then describe its first hour.
pub const MAX_SAMPLES: usize = 30 * 3600;

/// What a call's media did, for the quality report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Quality {
    /// Video frames sent.
    pub video_frames_sent: u64,
    /// Video frames received complete.
    pub video_frames_received: u64,
    /// Video frames dropped because packets were missing.
    pub video_frames_incomplete: u64,
    /// Video frames shown (handed to the sink) in step with the sound.
    pub video_frames_shown: u64,
    /// Complete frames dropped because newer ones were already waiting.
    pub video_frames_superseded: u64,
    /// Frames neither shown nor given up when the report was made: complete
    /// and waiting for their playout time, or still gathering packets (the
    /// last playout delay's worth of a call that just ended).
    pub video_frames_unfinished: u64,
    /// The sound card's capture overruns recovered, when a card was used.
    pub sound_overruns: Option<u64>,
    /// The sound card's playback underruns recovered, when a card was used.
    pub sound_underruns: Option<u64>,
    /// Camera frames: from the driver's capture timestamp to the frame's
    /// packets sent, in µs.
    pub capture_to_send_us: Vec<u64>,
    /// Capture-to-playout latency of each shown video frame, in µs.
    pub video_latency_us: Vec<u64>,
    /// Capture-to-playout latency of played audio frames, in µs.
    pub audio_latency_us: Vec<u64>,
    /// Audio/video skew at each shown frame, in µs (positive: picture ahead).
    pub skew_us: Vec<i64>,
    /// Datagrams from the peer's address dropped because they failed SRTP
    /// or SRTCP authentication (forged, corrupted, under another key, or
    /// not encrypted), never parsed.
    pub srtp_auth_failed: u64,
    /// Datagrams dropped as SRTP/SRTCP replays (an index already received,
    /// or older than the replay window), never parsed.
    pub srtp_replayed: u64,
    /// Audio frames sent.
    pub audio_frames_sent: u64,
    /// Jitter buffer counters.
    pub audio: JitterStats,
    /// Packets lost on the video stream.
    pub video_lost: i64,
    /// Packets lost on the audio stream.
    pub audio_lost: i64,
    /// Video interarrival jitter.
    pub video_jitter: Duration,
    /// Audio interarrival jitter.
    pub audio_jitter: Duration,
    /// Packets from addresses other than the negotiated ones, or from
    /// another source than the stream's, dropped.
    pub foreign_dropped: u64,
    /// RTP packets from the call's peer with a payload type the stream does
    /// not carry (docs/protocol.md 13.4), dropped.
    pub payload_type_dropped: u64,
    /// Round-trip time measured by RTCP on the audio stream (or video if no audio).
    pub rtt: Option<Duration>,
    /// How long media ran.
    pub duration: Duration,
    /// How long stopping took, from the end of the call to every thread joined.
    pub stop_time: Duration,
    /// What a window did with the frames shown; `None` without one.
    pub display: Option<DisplayStats>,
    /// Longest time between two frames shown.
    pub video_longest_freeze: Duration,
    /// Loss repair of the video, both directions.
    pub repair: RepairStats,
    /// What the sender's rate control chose.
    pub rate: RateStats,
}

/// Loss repair of the video stream: what this side asked for and answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairStats {
    /// NACK packets sent (as receiver).
    pub nacks_sent: u64,
    /// Sequence numbers named in them.
    pub packets_asked: u64,
    /// NACK packets received (as sender).
    pub nacks_received: u64,
    /// Retransmissions sent and their bytes (RTP packets whole).
    pub rtx_packets_sent: u64,
    /// Bytes of retransmissions sent.
    pub rtx_bytes_sent: u64,
    /// FEC packets sent and their bytes.
    pub fec_packets_sent: u64,
    /// Bytes of FEC packets sent.
    pub fec_bytes_sent: u64,
    /// Bytes of original video RTP packets sent.
    pub media_bytes_sent: u64,
    /// Missing packets that arrived by retransmission.
    pub repaired_rtx: u64,
    /// Missing packets recovered from FEC.
    pub repaired_fec: u64,
    /// Retransmissions that came for a packet already there.
    pub rtx_useless: u64,
    /// Retransmissions that came after their packet was given up.
    pub rtx_late: u64,
    /// NACKed packets not sent again because repairs already took
    /// their share of the rate.
    pub rtx_refused: u64,
    /// Frames given up incomplete after repair had its chance.
    pub frames_lost: u64,
    /// The repair allowance of the video playout delay at the end.
    pub playout_allowance: Duration,
}

/// What the sender's rate control did over the call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateStats {
    /// The target video rate at each decision, in kbit/s.
    pub target_kbps: Vec<u64>,
    /// The JPEG quality, frame rate and picture scale (1 = full, 2 = half
    /// each way) in force at the end.
    pub quality: u8,
    /// Frames per second asked of the capture at the end.
    pub fps: u32,
    /// Picture scale divisor at the end.
    pub scale: u32,
    /// The Opus bitrate asked of the audio encoder at the end, bits per second.
    pub audio_bitrate: u32,
    /// The loss the audio encoder plans its FEC for at the end, in percent.
    pub audio_expected_loss_percent: u8,
}

/// What a display did with the frames the session said to show: the shell
/// that owns the screen records each picture it presents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DisplayStats {
    /// Received frames presented on the screen.
    pub displayed: u64,
    /// From capture (on the other side, through its sender reports) to the
    /// return of the present call, per frame that could be related.
    pub latency_us: Vec<u64>,
    /// How long decoding each presented frame took.
    pub decode_us: Vec<u64>,
}

impl DisplayStats {
    /// One presented frame: its capture-to-present latency, when the
    /// capture time is known, and its decode time.
    pub fn record(&mut self, latency: Option<Duration>, decode: Duration) {
        self.displayed += 1;
        if let Some(l) = latency {
            keep(&mut self.latency_us, l.as_micros() as u64);
        }
        keep(&mut self.decode_us, decode.as_micros() as u64);
    }
}

/// The running figures of a call, for a status line while it lasts
/// ([`super::MediaSession::live`]); counters are since the call began.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Live {
    /// Received video frames shown so far.
    pub video_frames_shown: u64,
    /// Packets lost on both streams so far (negative with duplicates).
    pub packets_lost: i64,
    /// Packets expected on both streams so far.
    pub packets_expected: u64,
    /// The round-trip time, once RTCP has measured it.
    pub rtt: Option<Duration>,
}

/// Appends a sample unless [`MAX_SAMPLES`] are already kept.
pub(super) fn keep<T>(samples: &mut Vec<T>, v: T) {
    if samples.len() < MAX_SAMPLES {
        samples.push(v);
    }
}

/// The value at percentile `p` (0 to 1) of sorted microsecond samples, in
/// milliseconds.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let i = (last as f64 * p).round() as usize;
    sorted.get(i).map(|&v| v / 1000.0)
}

/// Samples as sorted floats, for [`percentile`].
fn sorted(samples: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = samples.collect();
    v.sort_by(f64::total_cmp);
    v
}

/// The percentiles the reports show, in milliseconds.
struct Percentiles {
    /// Video latency p50, p95.
    video: (Option<f64>, Option<f64>),
    /// Audio latency p50, p95.
    audio: (Option<f64>, Option<f64>),
    /// Skew p5, p50, p95.
    skew: (Option<f64>, Option<f64>, Option<f64>),
    /// Camera capture-to-send p50, p95.
    capture: (Option<f64>, Option<f64>),
    /// Capture-to-present p50, p95, and decode p95, with a display.
    display: (Option<f64>, Option<f64>, Option<f64>),
}

impl Quality {
    fn percentiles(&self) -> Percentiles {
        let us = |v: &[u64]| sorted(v.iter().map(|&x| x as f64));
        let skew = sorted(self.skew_us.iter().map(|&x| x as f64));
        let (vlat, alat, cap) = (
            us(&self.video_latency_us),
            us(&self.audio_latency_us),
            us(&self.capture_to_send_us),
        );
        Percentiles {
            video: (percentile(&vlat, 0.5), percentile(&vlat, 0.95)),
            audio: (percentile(&alat, 0.5), percentile(&alat, 0.95)),
            skew: (
                percentile(&skew, 0.05),
                percentile(&skew, 0.5),
                percentile(&skew, 0.95),
            ),
            capture: (percentile(&cap, 0.5), percentile(&cap, 0.95)),
            display: self.display.as_ref().map_or((None, None, None), |d| {
                let (lat, dec) = (us(&d.latency_us), us(&d.decode_us));
                (
                    percentile(&lat, 0.5),
                    percentile(&lat, 0.95),
                    percentile(&dec, 0.95),
                )
            }),
        }
    }

    /// Repair bytes sent (retransmissions and FEC) over original video bytes sent.
    pub fn repair_overhead(&self) -> f64 {
        let r = &self.repair;
        (r.rtx_bytes_sent + r.fec_bytes_sent) as f64 / r.media_bytes_sent.max(1) as f64
    }

    /// The report printed when a call ends, one line per subject.
    pub fn lines(&self, peer: &str) -> Vec<String> {
        let secs = self.duration.as_secs_f64().max(1e-3);
        let p = self.percentiles();
        let skew_ms = |v: Option<f64>| v.map_or("n/a".to_string(), |x| format!("{x:+.1} ms"));
        let ms = |v: Option<f64>| v.map_or("n/a".to_string(), |x| format!("{x:.1} ms"));
        let a = &self.audio;
        let r = &self.repair;
        let overhead = self.repair_overhead();
        let t = self.rate.spread();
        let kbps = |v: Option<u64>| v.map_or("n/a".to_string(), |x| x.to_string());
        let mut lines = vec![
            format!(
                "quality report (call with {peer}, media {secs:.1} s, stopped in {:.0} ms):",
                self.stop_time.as_secs_f64() * 1000.0
            ),
            format!(
                "  video: sent {} frames ({:.1} fps), received {} ({:.1} fps), shown {}, dropped incomplete {}, superseded {}, unfinished at the end {}; capture-to-playout latency p50 {} p95 {}",
                self.video_frames_sent,
                self.video_frames_sent as f64 / secs,
                self.video_frames_received,
                self.video_frames_received as f64 / secs,
                self.video_frames_shown,
                self.video_frames_incomplete,
                self.video_frames_superseded,
                self.video_frames_unfinished,
                ms(p.video.0),
                ms(p.video.1),
            ),
            format!(
                "  audio: sent {} frames, played {}, concealed {} (FEC {}, PLC {}), late {}, duplicates {}; capture-to-playout latency p50 {} p95 {}",
                self.audio_frames_sent,
                a.played,
                a.concealed_fec + a.concealed_plc,
                a.concealed_fec,
                a.concealed_plc,
                a.late,
                a.duplicates,
                ms(p.audio.0),
                ms(p.audio.1),
            ),
            format!(
                "  sync: audio/video skew p5 {} p50 {} p95 {} (positive: picture ahead of sound)",
                skew_ms(p.skew.0),
                skew_ms(p.skew.1),
                skew_ms(p.skew.2)
            ),
            format!(
                "  repair: NACKs sent {} (packets asked {}), received {}; repaired by retransmission {}, by FEC {}; retransmitted {} packets {} bytes, FEC {} bytes ({:.1}% of {} media bytes); frames lost after repair {}; longest freeze {:.0} ms; playout allowance {:.0} ms",
                r.nacks_sent,
                r.packets_asked,
                r.nacks_received,
                r.repaired_rtx,
                r.repaired_fec,
                r.rtx_packets_sent,
                r.rtx_bytes_sent,
                r.fec_bytes_sent,
                overhead * 100.0,
                r.media_bytes_sent,
                r.frames_lost,
                self.video_longest_freeze.as_secs_f64() * 1000.0,
                r.playout_allowance.as_secs_f64() * 1000.0,
            ),
            format!(
                "  rate: target video rate min {} median {} max {} kbit/s; now JPEG quality {}, {} fps, scale 1/{}; audio {} kbit/s with FEC for {}% loss",
                kbps(t.0),
                kbps(t.1),
                kbps(t.2),
                self.rate.quality,
                self.rate.fps,
                self.rate.scale,
                self.rate.audio_bitrate / 1000,
                self.rate.audio_expected_loss_percent,
            ),
            format!(
                "  network: packets lost video {} audio {}; interarrival jitter video {:.1} ms audio {:.1} ms; RTT {}; foreign packets dropped {}; packets of other payload types dropped {}; SRTP authentication failures dropped {}, replays dropped {}",
                self.video_lost,
                self.audio_lost,
                self.video_jitter.as_secs_f64() * 1000.0,
                self.audio_jitter.as_secs_f64() * 1000.0,
                ms(self.rtt.map(|d| d.as_secs_f64() * 1000.0)),
                self.foreign_dropped,
                self.payload_type_dropped,
                self.srtp_auth_failed,
                self.srtp_replayed
            ),
        ];
        if self.sound_overruns.is_some() || self.sound_underruns.is_some() {
            let n = |v: Option<u64>| v.map_or("n/a".to_string(), |x| x.to_string());
            lines.insert(
                3,
                format!(
                    "  sound card: capture overruns {}, playback underruns {} (each recovered)",
                    n(self.sound_overruns),
                    n(self.sound_underruns)
                ),
            );
        }
        if let Some(d) = &self.display {
            lines.insert(
                2,
                format!(
                    "  display: {} frames displayed of {} shown; capture-to-present latency p50 {} p95 {}; decode p95 {}",
                    d.displayed,
                    self.video_frames_shown,
                    ms(p.display.0),
                    ms(p.display.1),
                    ms(p.display.2)
                ),
            );
        }
        if !self.capture_to_send_us.is_empty() {
            lines.insert(
                2,
                format!(
                    "  camera: capture-to-send latency p50 {} p95 {} (driver timestamp to last packet sent)",
                    ms(p.capture.0),
                    ms(p.capture.1)
                ),
            );
        }
        lines
    }

    /// The report as one JSON object on one line, for scripts
    /// (`--report-json`). Absent measurements are `null`; times are in
    /// milliseconds (seconds for the duration) with three decimals.
    pub fn json(&self, peer: &str) -> String {
        let p = self.percentiles();
        let ms3 = |v: Option<f64>| v.map(round3);
        let a = &self.audio;
        let report = JsonReport {
            peer,
            duration_s: round3(self.duration.as_secs_f64()),
            stop_ms: round3(self.stop_time.as_secs_f64() * 1000.0),
            video_frames_sent: self.video_frames_sent,
            video_frames_received: self.video_frames_received,
            video_frames_shown: self.video_frames_shown,
            video_frames_incomplete: self.video_frames_incomplete,
            video_frames_superseded: self.video_frames_superseded,
            video_frames_unfinished: self.video_frames_unfinished,
            video_latency_p50_ms: ms3(p.video.0),
            video_latency_p95_ms: ms3(p.video.1),
            camera_capture_to_send_p50_ms: ms3(p.capture.0),
            camera_capture_to_send_p95_ms: ms3(p.capture.1),
            audio_frames_sent: self.audio_frames_sent,
            audio_frames_played: a.played,
            audio_concealed_fec: a.concealed_fec,
            audio_concealed_plc: a.concealed_plc,
            audio_late: a.late,
            audio_latency_p50_ms: ms3(p.audio.0),
            audio_latency_p95_ms: ms3(p.audio.1),
            av_skew_p50_ms: ms3(p.skew.1),
            av_skew_p95_ms: ms3(p.skew.2),
            video_packets_lost: self.video_lost,
            audio_packets_lost: self.audio_lost,
            video_jitter_ms: round3(self.video_jitter.as_secs_f64() * 1000.0),
            audio_jitter_ms: round3(self.audio_jitter.as_secs_f64() * 1000.0),
            rtt_ms: self.rtt.map(|d| round3(d.as_secs_f64() * 1000.0)),
            foreign_packets_dropped: self.foreign_dropped,
            other_payload_type_packets_dropped: self.payload_type_dropped,
            sound_overruns: self.sound_overruns,
            sound_underruns: self.sound_underruns,
            video_frames_displayed: self.display.as_ref().map(|d| d.displayed),
            display_latency_p50_ms: ms3(p.display.0),
            display_latency_p95_ms: ms3(p.display.1),
            display_decode_p95_ms: ms3(p.display.2),
            video_longest_freeze_ms: round3(self.video_longest_freeze.as_secs_f64() * 1000.0),
            nacks_sent: self.repair.nacks_sent,
            nacks_received: self.repair.nacks_received,
            video_packets_repaired_rtx: self.repair.repaired_rtx,
            video_packets_repaired_fec: self.repair.repaired_fec,
            rtx_bytes_sent: self.repair.rtx_bytes_sent,
            fec_bytes_sent: self.repair.fec_bytes_sent,
            video_media_bytes_sent: self.repair.media_bytes_sent,
            repair_overhead: round3(self.repair_overhead()),
            video_frames_lost_after_repair: self.repair.frames_lost,
            video_playout_allowance_ms: round3(
                self.repair.playout_allowance.as_secs_f64() * 1000.0,
            ),
            video_target_kbps_min: self.rate.spread().0,
            video_target_kbps_median: self.rate.spread().1,
            video_target_kbps_max: self.rate.spread().2,
            video_quality: self.rate.quality,
            video_fps_target: self.rate.fps,
            video_scale: self.rate.scale,
            audio_bitrate_kbps: round3(f64::from(self.rate.audio_bitrate) / 1000.0),
            audio_expected_loss_percent: self.rate.audio_expected_loss_percent,
            srtp_auth_failed_packets: self.srtp_auth_failed,
            srtp_replayed_packets: self.srtp_replayed,
        };
        // A struct of numbers and one string cannot fail to serialize.
        serde_json::to_string(&report).unwrap_or_default()
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The JSON report's fields, in the order scripts have always seen them.
#[derive(Serialize)]
struct JsonReport<'a> {
    peer: &'a str,
    duration_s: f64,
    stop_ms: f64,
    video_frames_sent: u64,
    video_frames_received: u64,
    video_frames_shown: u64,
    video_frames_incomplete: u64,
    video_frames_superseded: u64,
    video_frames_unfinished: u64,
    video_latency_p50_ms: Option<f64>,
    video_latency_p95_ms: Option<f64>,
    camera_capture_to_send_p50_ms: Option<f64>,
    camera_capture_to_send_p95_ms: Option<f64>,
    audio_frames_sent: u64,
    audio_frames_played: u64,
    audio_concealed_fec: u64,
    audio_concealed_plc: u64,
    audio_late: u64,
    audio_latency_p50_ms: Option<f64>,
    audio_latency_p95_ms: Option<f64>,
    av_skew_p50_ms: Option<f64>,
    av_skew_p95_ms: Option<f64>,
    video_packets_lost: i64,
    audio_packets_lost: i64,
    video_jitter_ms: f64,
    audio_jitter_ms: f64,
    rtt_ms: Option<f64>,
    foreign_packets_dropped: u64,
    other_payload_type_packets_dropped: u64,
    sound_overruns: Option<u64>,
    sound_underruns: Option<u64>,
    video_frames_displayed: Option<u64>,
    display_latency_p50_ms: Option<f64>,
    display_latency_p95_ms: Option<f64>,
    display_decode_p95_ms: Option<f64>,
    video_longest_freeze_ms: f64,
    nacks_sent: u64,
    nacks_received: u64,
    video_packets_repaired_rtx: u64,
    video_packets_repaired_fec: u64,
    rtx_bytes_sent: u64,
    fec_bytes_sent: u64,
    video_media_bytes_sent: u64,
    repair_overhead: f64,
    video_frames_lost_after_repair: u64,
    video_playout_allowance_ms: f64,
    video_target_kbps_min: Option<u64>,
    video_target_kbps_median: Option<u64>,
    video_target_kbps_max: Option<u64>,
    video_quality: u8,
    video_fps_target: u32,
    video_scale: u32,
    audio_bitrate_kbps: f64,
    audio_expected_loss_percent: u8,
    srtp_auth_failed_packets: u64,
    srtp_replayed_packets: u64,
}

impl RateStats {
    /// The target rate's minimum, median and maximum over the call.
    pub fn spread(&self) -> (Option<u64>, Option<u64>, Option<u64>) {
        let mut v = self.target_kbps.clone();
        v.sort_unstable();
        (
            v.first().copied(),
            v.get(v.len() / 2).copied(),
            v.last().copied(),
        )
    }
}
