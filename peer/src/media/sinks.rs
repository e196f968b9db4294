//! The playing side of a call: a thread that takes the JPEG frames the
//! session says to show (decoded, as a display would, and written to the
//! `--video-out` file if any), and the player of the audio frames it says to
//! play (Opus decoded, or concealed, and written to a WAV file, a sound
//! card, or nowhere). With a sound card the player has a thread and the
//! card's clock paces playout: after each frame is written it asks the loop
//! for the next.

use super::display::CallPictures;
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
use std::time::{Duration, Instant};

/// The video sink thread: until the loop hangs up its end of the channel.
/// The newest frame is decoded, into the window's slot when there is one.
pub(super) fn show_video(
    frames: Receiver<Show>,
    mut file: Option<BufWriter<File>>,
    screen: Option<&CallPictures>,
) {
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
            for Show { frame, .. } in &backlog {
                if let Err(e) = w.write_all(&frame.jpeg) {
                    log::warn!("video sink: {e}");
                }
            }
        }
        if let (Some(d), Some(Show { frame, captured })) = (dec.as_mut(), backlog.last()) {
            let started = Instant::now();
            match d.decode(&frame.jpeg) {
                Ok(view) => {
                    if let Some(s) = screen {
                        s.remote.put(&view, *captured, started.elapsed());
                        s.wake();
                    }
                }
                Err(e) => log::debug!("received frame not decoded: {e}"),
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

/// Received sound to the speaker: the Opus decoder (with FEC and PLC) in
/// front of a [`Speaker`]. A file or no speaker never blocks, so the media
/// loop plays into it directly (a thread hop every 20 ms costs more than the
/// decode); a sound card blocks, so it gets a thread ([`play_audio`]).
pub(super) struct Player {
    dec: VoiceDecoder,
    pcm: Vec<i16>,
    speaker: Speaker,
}

impl Player {
    /// A player into `speaker`; the error is for the log.
    pub(super) fn new(speaker: Speaker) -> Result<Player, String> {
        Ok(Player {
            dec: VoiceDecoder::new().map_err(|e| e.to_string())?,
            pcm: vec![0i16; FRAME_SAMPLES],
            speaker,
        })
    }

    /// Whether a sound card's clock paces this player.
    pub(super) fn is_card(&self) -> bool {
        matches!(self.speaker, Speaker::Card(_))
    }

    /// Plays one frame period; false when the speaker has stopped for good.
    pub(super) fn play(&mut self, Play { playout, .. }: Play) -> bool {
        let waiting = playout == Playout::Waiting;
        if self.dec.decode(&playout, &mut self.pcm).is_err() || waiting {
            self.pcm.fill(0);
        }
        match &mut self.speaker {
            Speaker::Null => {}
            Speaker::Wav(w) => {
                if !waiting {
                    for &s in &self.pcm {
                        if w.write_sample(s).is_err() {
                            break;
                        }
                    }
                }
            }
            // A card keeps running through a refill: it gets silence.
            Speaker::Card(p) => {
                if let Err(e) = p.write_frame(&self.pcm) {
                    println!("speaker stopped ({e}): sound ends, the call goes on");
                    return false;
                }
            }
        }
        true
    }

    /// Closes the speaker; a card's underruns.
    pub(super) fn finish(self) -> Option<u64> {
        match self.speaker {
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
}

/// The sound card's thread: each frame the loop sends is written (the
/// write blocks while the card's buffer is full), then the next is asked
/// for, so the card's clock paces playout. Runs until the loop hangs up its
/// end of the channel; returns the card's underruns.
pub(super) fn play_audio(
    frames: Receiver<Play>,
    mut player: Player,
    link: &LoopLink,
) -> Option<u64> {
    for p in frames {
        if !player.play(p) {
            break;
        }
        if !link.send(Input::Pull {
            queued: player.speaker.queued(),
        }) {
            break;
        }
    }
    player.finish()
}
