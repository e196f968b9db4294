//! Lip sync: audio and video travel as separate RTP streams with unrelated
//! timestamps; each stream's RTCP sender reports pair one of its RTP
//! timestamps with the sender's wallclock (NTP). With both mappings the
//! receiver can say which video frame belongs to the sound playing now, when
//! to show it, and how far apart the two are (the skew the quality report
//! shows).

use std::time::{Duration, Instant};

/// Converts a 64-bit NTP timestamp (32.32 fixed-point seconds) to microseconds.
pub fn ntp_to_us(ntp: u64) -> i64 {
    let secs = (ntp >> 32) as i64;
    let frac = ((ntp & 0xffff_ffff) * 1_000_000) >> 32;
    secs * 1_000_000 + frac as i64
}

/// Converts microseconds to a 64-bit NTP timestamp.
pub fn us_to_ntp(us: u64) -> u64 {
    let secs = us / 1_000_000;
    let rem = us % 1_000_000;
    (secs << 32) | ((rem << 32) / 1_000_000)
}

/// One stream's mapping from RTP timestamps to the sender's wallclock, from
/// its latest sender report.
#[derive(Debug, Clone)]
pub struct RtpClock {
    clock_rate: u32,
    anchor: Option<(i64, u32)>,
}

impl RtpClock {
    /// A stream clock at `clock_rate` Hz with no sender report yet.
    pub fn new(clock_rate: u32) -> Self {
        RtpClock {
            clock_rate,
            anchor: None,
        }
    }

    /// A sender report said RTP time `rtp` was wallclock `ntp`.
    pub fn sender_report(&mut self, ntp: u64, rtp: u32) {
        self.anchor = Some((ntp_to_us(ntp), rtp));
    }

    /// Whether a sender report has arrived.
    pub fn is_mapped(&self) -> bool {
        self.anchor.is_some()
    }

    /// The sender's wallclock, in NTP microseconds, of RTP time `rtp`.
    pub fn wallclock_us(&self, rtp: u32) -> Option<i64> {
        let (us, at) = self.anchor?;
        // Within ±2^31 ticks of the anchor (over 6 hours at 90 kHz): wrap-safe.
        let ticks = i64::from(rtp.wrapping_sub(at) as i32);
        Some(us + ticks * 1_000_000 / i64::from(self.clock_rate))
    }
}

/// How far ahead of its sound a picture may be shown. Holding every picture
/// until its sound plays would add the whole audio jitter-buffer delay to
/// video; viewers accept sound somewhat behind the picture (as in a room,
/// where sound travels slower than light) far more readily than ahead of it
/// (ITU-R BT.1359: noticed at about 125 ms late against 45 ms early). So
/// pictures are shown as soon as they are complete unless that would put
/// them more than this far ahead of the sound, which keeps the skew inside
/// the ±40 ms peercall aims for.
pub const MAX_VIDEO_LEAD: Duration = Duration::from_millis(30);

/// When to show a video frame so it is at most `lead` ahead of the sound:
/// the audio sample with RTP time `audio_rtp` is being played at
/// `audio_at`; the frame has RTP time `video_rtp`. `None` until both streams
/// have a sender report. The result may lie in the past (show at once) or
/// the future (hold the frame).
pub fn video_due(
    audio: &RtpClock,
    audio_rtp: u32,
    audio_at: Instant,
    video: &RtpClock,
    video_rtp: u32,
    lead: Duration,
) -> Option<Instant> {
    let a = audio.wallclock_us(audio_rtp)?;
    let v = video.wallclock_us(video_rtp)?;
    let ahead = v - a - lead.as_micros() as i64;
    Some(if ahead >= 0 {
        audio_at + Duration::from_micros(ahead as u64)
    } else {
        audio_at
            .checked_sub(Duration::from_micros(ahead.unsigned_abs()))
            .unwrap_or(audio_at)
    })
}

/// Audio/video skew of what is on screen and in the speaker now, in
/// microseconds: positive when the picture is ahead of the sound.
pub fn skew_us(audio: &RtpClock, audio_rtp: u32, video: &RtpClock, video_rtp: u32) -> Option<i64> {
    Some(video.wallclock_us(video_rtp)? - audio.wallclock_us(audio_rtp)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntp_conversions_round_trip() {
        for us in [0u64, 1, 999_999, 1_000_000, 3_912_345_678_901_234] {
            let back = ntp_to_us(us_to_ntp(us));
            assert!((back - us as i64).abs() <= 1, "{us} -> {back}");
        }
        assert_eq!(ntp_to_us(1 << 32), 1_000_000);
        assert_eq!(ntp_to_us((5 << 32) | (1 << 31)), 5_500_000);
    }

    #[test]
    fn wallclock_follows_rtp_time_across_wraparound() {
        let mut c = RtpClock::new(90_000);
        assert_eq!(c.wallclock_us(0), None);
        c.sender_report(us_to_ntp(10_000_000), u32::MAX - 45_000);
        assert!(c.is_mapped());
        // 90000 ticks later (wrapping past zero) is one second later.
        let later = (u32::MAX - 45_000).wrapping_add(90_000);
        let w = c.wallclock_us(later).unwrap();
        assert!((w - 11_000_000).abs() <= 1, "{w}");
        let earlier = (u32::MAX - 45_000).wrapping_sub(9_000);
        assert!((c.wallclock_us(earlier).unwrap() - 9_900_000).abs() <= 1);
    }

    #[test]
    fn video_is_scheduled_against_the_audio_playing_now() {
        let mut audio = RtpClock::new(48_000);
        let mut video = RtpClock::new(90_000);
        // Both streams started at wallclock 100 s with random RTP offsets.
        audio.sender_report(us_to_ntp(100_000_000), 1_000);
        video.sender_report(us_to_ntp(100_000_000), 777_777);
        let now = Instant::now();
        // Sound captured at 102.0 s plays now; a frame captured at 102.04 s is due in 40 ms.
        let a_rtp = 1_000 + 2 * 48_000;
        let v_rtp = 777_777 + 2 * 90_000 + 3_600;
        let due = video_due(&audio, a_rtp, now, &video, v_rtp, Duration::ZERO).unwrap();
        assert_eq!(due - now, Duration::from_millis(40));
        assert_eq!(skew_us(&audio, a_rtp, &video, v_rtp), Some(40_000));
        // Allowed to lead by 30 ms, it is held only 10 ms.
        let due = video_due(&audio, a_rtp, now, &video, v_rtp, MAX_VIDEO_LEAD).unwrap();
        assert_eq!(due - now, Duration::from_millis(10));
        // A frame from 101.9 s is late: due 100 ms ago.
        let old = 777_777 + 2 * 90_000 - 9_000;
        let due = video_due(&audio, a_rtp, now, &video, old, MAX_VIDEO_LEAD).unwrap();
        assert!(due <= now);
        assert_eq!(
            video_due(
                &audio,
                a_rtp,
                now,
                &RtpClock::new(90_000),
                old,
                MAX_VIDEO_LEAD
            ),
            None
        );
    }
}
