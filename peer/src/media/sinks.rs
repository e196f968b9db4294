//! The playing side of a call: a thread that takes the JPEG frames the
//! session says to show (decoded, as a display would, and written to the
//! `--video-out` file if any) and one that takes the audio frames it says to
//! play (Opus decoded, or concealed, and written to a WAV file, a sound
//! card, or nowhere). With a sound card the card's clock paces playout:
//! after each frame is written the speaker asks the loop for the next.

use super::runtime::{Input, LoopLink};
use crate::devices::sound;
use peercall::media::audio::{FRAME_SAMPLES, SAMPLE_RATE};
use peercall::media::jitter::Playout;
use peercall::media::session::{Play, Show};
use peercall_codecs::jpeg::YuvJpegDecoder;
use peercall_codecs::opus::VoiceDecoder;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::mpsc::Receiver;
use std::time::Duration;

/// The video sink thread: until the loop hangs up its end of the channel.
pub(super) fn show_video(frames: Receiver<Show>, mut file: Option<BufWriter<File>>) {
    let mut dec = match YuvJpegDecoder::new() {
        Ok(d) => Some(d),
        Err(e) => {
            log::warn!("received video is not decoded: {e}");
            None
        }
    };
    while let Ok(first) = frames.recv() {
        // Every frame is recorded; when decoding fell behind, only the
        // newest is decoded, as a display shows the latest picture.
        let backlog: Vec<Show> = std::iter::once(first).chain(frames.try_iter()).collect();
        if let Some(w) = file.as_mut() {
            for Show { frame } in &backlog {
                if let Err(e) = w.write_all(&frame.jpeg) {
                    log::warn!("video sink: {e}");
                }
            }
        }
        if let (Some(d), Some(Show { frame })) = (dec.as_mut(), backlog.last()) {
            if let Err(e) = d.decode(&frame.jpeg) {
                log::debug!("received frame not decoded: {e}");
            }
        }
    }
    if let Some(mut w) = file {
        if let Err(e) = w.flush() {
            log::warn!("video sink: {e}");
        }
    }
}

/// Where played sound goes.
pub(super) enum Speaker {
    /// Nowhere (still decoded and measured); the session's clock paces playout.
    Null,
    /// A WAV file; the session's clock paces playout.
    Wav(hound::WavWriter<BufWriter<File>>),
    /// A sound card, whose clock paces playout: each write blocks while
    /// its buffer is full.
    Card(sound::Playback),
}

impl Speaker {
    /// A WAV file for 48 kHz mono 16-bit sound.
    pub(super) fn wav(path: &std::path::Path) -> std::io::Result<Speaker> {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        hound::WavWriter::create(path, spec)
            .map(Speaker::Wav)
            .map_err(|e| std::io::Error::other(e.to_string()))
    }

    /// How much sound the card holds ahead of what is written next.
    fn queued(&self) -> Duration {
        match self {
            Speaker::Card(p) => {
                let frames = p.delay_frames().unwrap_or(0).max(0) as u64;
                Duration::from_micros(frames * 1_000_000 / u64::from(SAMPLE_RATE))
            }
            _ => Duration::ZERO,
        }
    }
}

/// The speaker thread: until the loop hangs up its end of the channel.
/// Returns the card's underruns when a card was used.
pub(super) fn play_audio(
    frames: Receiver<Play>,
    mut speaker: Speaker,
    link: &LoopLink,
) -> Option<u64> {
    let mut dec = match VoiceDecoder::new() {
        Ok(d) => d,
        Err(e) => {
            log::error!("audio playout stopped: {e}");
            return None;
        }
    };
    let mut pcm = vec![0i16; FRAME_SAMPLES];
    for Play { playout, .. } in frames {
        let waiting = playout == Playout::Waiting;
        if dec.decode(&playout, &mut pcm).is_err() || waiting {
            pcm.fill(0);
        }
        match &mut speaker {
            Speaker::Null => {}
            Speaker::Wav(w) => {
                if !waiting {
                    for &s in &pcm {
                        if w.write_sample(s).is_err() {
                            break;
                        }
                    }
                }
            }
            // A card keeps running through a refill: it gets silence.
            Speaker::Card(p) => {
                if let Err(e) = p.write_frame(&pcm) {
                    println!("speaker stopped ({e}): sound ends, the call goes on");
                    break;
                }
                if !link.send(Input::Pull {
                    queued: speaker.queued(),
                }) {
                    break;
                }
            }
        }
    }
    match speaker {
        Speaker::Wav(w) => {
            if let Err(e) = w.finalize() {
                log::warn!("audio sink: {e}");
            }
            None
        }
        Speaker::Card(p) => Some(p.underruns()),
        Speaker::Null => None,
    }
}
