//! Media negotiation: the callee answers the caller's offer with what it can
//! do, which may be lower (smaller picture, fewer frames, fewer channels) but
//! never higher; the caller checks that rule on the answer.

use crate::wire::{AudioCodec, AudioFormat, MediaDescription, VideoCodec, VideoFormat};
use std::fmt;

/// Largest width or height RTP/JPEG can carry (RFC 2435 counts in 8-pixel
/// blocks in one byte: 255 * 8).
pub const MAX_VIDEO_DIMENSION: u16 = 2040;
/// The only sample rate Opus uses on RTP (RFC 7587).
pub const OPUS_RTP_RATE: u32 = crate::media::audio::SAMPLE_RATE;

/// Why an offer or answer cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaError {
    /// The two sides have no stream in common (no shared video or audio codec).
    NothingInCommon,
    /// The picture is empty, larger than [`MAX_VIDEO_DIMENSION`], or not in
    /// whole 8-pixel blocks (RFC 2435 counts width and height in blocks).
    VideoSize(u16, u16),
    /// The frame rate is zero.
    FrameRate,
    /// Opus on RTP is always 48 kHz.
    SampleRate(u32),
    /// Channels other than 1 or 2, or a frame duration Opus does not have.
    AudioFormat,
    /// The offer's Opus frame duration is not the one this side sends (the
    /// answer keeps the offer's duration, so it could not be honoured).
    FrameDuration {
        /// The offered duration, in ms.
        offered: u8,
        /// The duration this side sends, in ms.
        ours: u8,
    },
    /// The answer raises something the offer set (the rule is: lower, never raise).
    Raised(&'static str),
}

impl fmt::Display for MediaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MediaError::NothingInCommon => {
                write!(f, "no video or audio codec in common")
            }
            MediaError::VideoSize(w, h) => write!(
                f,
                "video size {w}x{h} is not in multiples of 8 between 8x8 and {MAX_VIDEO_DIMENSION}x{MAX_VIDEO_DIMENSION} (the RTP/JPEG limit)"
            ),
            MediaError::FrameRate => write!(f, "video frame rate 0"),
            MediaError::SampleRate(r) => {
                write!(f, "Opus sample rate {r} (RTP carries Opus at {OPUS_RTP_RATE})")
            }
            MediaError::AudioFormat => write!(
                f,
                "audio must be 1 or 2 channels in frames of 10, 20, 40 or 60 ms"
            ),
            MediaError::FrameDuration { offered, ours } => write!(
                f,
                "Opus frames of {offered} ms offered; this peer sends {ours} ms frames"
            ),
            MediaError::Raised(what) => write!(f, "the answer raises the offered {what}"),
        }
    }
}

impl std::error::Error for MediaError {}

fn check_video(v: &VideoFormat) -> Result<(), MediaError> {
    match v.codec {
        // A codec this version does not know is not ours to judge: the stream
        // is left out of the answer rather than failing the call.
        VideoCodec::None | VideoCodec::Unknown(_) => Ok(()),
        VideoCodec::Mjpeg => {
            if !crate::media::capture::carriable(v.width.into(), v.height.into()) {
                Err(MediaError::VideoSize(v.width, v.height))
            } else if v.fps == 0 {
                Err(MediaError::FrameRate)
            } else {
                Ok(())
            }
        }
    }
}

fn check_audio(a: &AudioFormat) -> Result<(), MediaError> {
    match a.codec {
        AudioCodec::None | AudioCodec::Unknown(_) => Ok(()),
        AudioCodec::Opus => {
            if a.sample_rate != OPUS_RTP_RATE {
                Err(MediaError::SampleRate(a.sample_rate))
            } else if !(1..=2).contains(&a.channels) || ![10, 20, 40, 60].contains(&a.frame_ms) {
                Err(MediaError::AudioFormat)
            } else {
                Ok(())
            }
        }
    }
}

/// Checks that the streams of a description this version knows are ones it
/// can carry (streams with unknown codecs are not judged here).
pub fn check(m: &MediaDescription) -> Result<(), MediaError> {
    check_video(&m.video)?;
    check_audio(&m.audio)
}

/// No video.
pub const NO_VIDEO: VideoFormat = VideoFormat {
    codec: VideoCodec::None,
    width: 0,
    height: 0,
    fps: 0,
};

/// No audio.
pub const NO_AUDIO: AudioFormat = AudioFormat {
    codec: AudioCodec::None,
    sample_rate: 0,
    channels: 0,
    frame_ms: 0,
};

/// The callee's answer to `offer`, given what the callee can do (`ours`): each
/// stream present only if both have it with a codec this version knows (and
/// an error if that leaves none), the picture the smaller of the two
/// (keeping one side's shape rather than mixing dimensions where possible),
/// the lower frame rate and channel count, the offer's frame duration.
pub fn answer(
    offer: &MediaDescription,
    ours: &MediaDescription,
) -> Result<MediaDescription, MediaError> {
    check(offer)?;
    check(ours)?;
    let video = match (offer.video.codec, ours.video.codec) {
        (VideoCodec::Mjpeg, VideoCodec::Mjpeg) => {
            let (o, c) = (&offer.video, &ours.video);
            let (width, height) = if c.width <= o.width && c.height <= o.height {
                (c.width, c.height)
            } else if o.width <= c.width && o.height <= c.height {
                (o.width, o.height)
            } else {
                (o.width.min(c.width), o.height.min(c.height))
            };
            VideoFormat {
                codec: VideoCodec::Mjpeg,
                width,
                height,
                fps: o.fps.min(c.fps),
            }
        }
        _ => NO_VIDEO,
    };
    let audio = match (offer.audio.codec, ours.audio.codec) {
        // Both sides send the offer's duration: one we do not send cannot be
        // answered, and saying so beats a call whose audio is not what was agreed.
        (AudioCodec::Opus, AudioCodec::Opus) if offer.audio.frame_ms != ours.audio.frame_ms => {
            return Err(MediaError::FrameDuration {
                offered: offer.audio.frame_ms,
                ours: ours.audio.frame_ms,
            });
        }
        (AudioCodec::Opus, AudioCodec::Opus) => AudioFormat {
            channels: offer.audio.channels.min(ours.audio.channels),
            ..offer.audio
        },
        _ => NO_AUDIO,
    };
    if video.codec == VideoCodec::None && audio.codec == AudioCodec::None {
        return Err(MediaError::NothingInCommon);
    }
    Ok(MediaDescription { video, audio })
}

/// Checks an answer against the offer it answers: valid, and nothing raised.
pub fn check_answer(offer: &MediaDescription, answer: &MediaDescription) -> Result<(), MediaError> {
    check(answer)?;
    let (o, a) = (&offer.video, &answer.video);
    if a.codec != VideoCodec::None {
        if a.codec != o.codec {
            return Err(MediaError::Raised("video codec"));
        }
        if a.width > o.width || a.height > o.height {
            return Err(MediaError::Raised("video size"));
        }
        if a.fps > o.fps {
            return Err(MediaError::Raised("frame rate"));
        }
    }
    let (o, a) = (&offer.audio, &answer.audio);
    if a.codec != AudioCodec::None {
        if a.codec != o.codec {
            return Err(MediaError::Raised("audio codec"));
        }
        if a.channels > o.channels {
            return Err(MediaError::Raised("audio channels"));
        }
        if a.frame_ms != o.frame_ms {
            return Err(MediaError::Raised("audio frame duration"));
        }
    }
    Ok(())
}

/// A short human description: `MJPEG 640x480@30, Opus 48 kHz mono 20 ms`.
pub fn describe(m: &MediaDescription) -> String {
    let v = match m.video.codec {
        VideoCodec::Mjpeg => format!("MJPEG {}x{}@{}", m.video.width, m.video.height, m.video.fps),
        VideoCodec::None => "no video".into(),
        VideoCodec::Unknown(c) => format!("video codec {c}"),
    };
    let a = match m.audio.codec {
        AudioCodec::Opus => format!(
            "Opus {} kHz {} {} ms",
            m.audio.sample_rate / 1000,
            if m.audio.channels == 1 {
                "mono"
            } else {
                "stereo"
            },
            m.audio.frame_ms
        ),
        AudioCodec::None => "no audio".into(),
        AudioCodec::Unknown(c) => format!("audio codec {c}"),
    };
    format!("{v}, {a}")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// MJPEG at `w`x`h`@`fps` and Opus with `ch` channels (the call tests
    /// use it too).
    pub(crate) fn media(w: u16, h: u16, fps: u8, ch: u8) -> MediaDescription {
        MediaDescription {
            video: VideoFormat {
                codec: VideoCodec::Mjpeg,
                width: w,
                height: h,
                fps,
            },
            audio: AudioFormat {
                codec: AudioCodec::Opus,
                sample_rate: OPUS_RTP_RATE,
                channels: ch,
                frame_ms: 20,
            },
        }
    }

    #[test]
    fn the_callee_may_lower_never_raise() {
        let offer = media(640, 480, 30, 1);
        let small = answer(&offer, &media(320, 240, 15, 2)).unwrap();
        assert_eq!(small, media(320, 240, 15, 1));
        assert_eq!(check_answer(&offer, &small), Ok(()));
        let big = answer(&offer, &media(1280, 720, 60, 2)).unwrap();
        assert_eq!(big, offer);
        // Mixed shapes: neither fits in the other.
        let mixed = answer(&offer, &media(800, 400, 30, 1)).unwrap();
        assert_eq!((mixed.video.width, mixed.video.height), (640, 400));
        for raised in [
            media(800, 480, 30, 1),
            media(640, 480, 60, 1),
            media(640, 480, 30, 2),
        ] {
            assert!(matches!(
                check_answer(&offer, &raised),
                Err(MediaError::Raised(_))
            ));
        }
    }

    #[test]
    fn unknown_codecs_drop_their_stream() {
        let mut offer = media(640, 480, 30, 1);
        offer.video.codec = VideoCodec::Unknown(7);
        let a = answer(&offer, &media(640, 480, 30, 1)).unwrap();
        assert_eq!(a.video, NO_VIDEO);
        assert_eq!(a.audio, media(640, 480, 30, 1).audio);
        assert_eq!(check_answer(&offer, &a), Ok(()));
    }

    #[test]
    fn missing_streams_drop_out() {
        let offer = media(640, 480, 30, 1);
        let mut ours = media(640, 480, 30, 1);
        ours.video = NO_VIDEO;
        let a = answer(&offer, &ours).unwrap();
        assert_eq!(a.video, NO_VIDEO);
        assert_eq!(check_answer(&offer, &a), Ok(()));
    }

    #[test]
    fn unusable_offers_are_refused_with_a_reason() {
        let ours = media(640, 480, 30, 1);
        let mut o = media(4096, 2160, 30, 1);
        assert_eq!(answer(&o, &ours), Err(MediaError::VideoSize(4096, 2160)));
        o = media(640, 480, 30, 1);
        o.video.codec = VideoCodec::Unknown(7);
        o.audio.codec = AudioCodec::Unknown(9);
        assert_eq!(answer(&o, &ours), Err(MediaError::NothingInCommon));
        o = media(640, 480, 30, 1);
        o.audio.sample_rate = 44_100;
        assert_eq!(answer(&o, &ours), Err(MediaError::SampleRate(44_100)));
        o = media(640, 480, 0, 1);
        assert_eq!(answer(&o, &ours), Err(MediaError::FrameRate));
        assert!(MediaError::VideoSize(4096, 2160)
            .to_string()
            .contains("2040"));
        // RTP/JPEG carries whole 8-pixel blocks: 641 cannot be sent.
        o = media(641, 480, 30, 1);
        assert_eq!(answer(&o, &ours), Err(MediaError::VideoSize(641, 480)));
        o = media(640, 4, 30, 1);
        assert_eq!(answer(&o, &ours), Err(MediaError::VideoSize(640, 4)));
        // An answer in blocks of 8 is still checked the same way.
        assert_eq!(
            check_answer(&media(640, 480, 30, 1), &media(636, 480, 30, 1)),
            Err(MediaError::VideoSize(636, 480))
        );
        // A duration Opus has but this side does not send is refused, not
        // answered and then broken.
        o = media(640, 480, 30, 1);
        o.audio.frame_ms = 40;
        let refused = answer(&o, &ours);
        assert_eq!(
            refused,
            Err(MediaError::FrameDuration {
                offered: 40,
                ours: 20
            })
        );
        assert!(refused.unwrap_err().to_string().contains("40 ms"));
    }

    #[test]
    fn describes_for_people() {
        assert_eq!(
            describe(&media(640, 480, 30, 1)),
            "MJPEG 640x480@30, Opus 48 kHz mono 20 ms"
        );
    }
}
