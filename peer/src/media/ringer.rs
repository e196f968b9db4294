//! The ring while an incoming call waits for an answer: the library's
//! [`RingTone`] played on the sound card the call's sound would go to, on a
//! thread of its own (the card's writes block, which paces it). It stops,
//! and the card is closed for the call's own speaker, when the [`Ringer`]
//! is dropped: on answer, rejection, or the caller giving up.

use super::AudioSink;
use crate::devices::sound;
use peercall::media::audio::FRAME_SAMPLES;
use peercall::media::tone::RingTone;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// A ring in progress.
pub struct Ringer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ringer {
    /// Rings on the sound card `sink` names, until dropped. Without a sound
    /// card (sound to a file or nowhere) there is nothing to ring on: the
    /// window's ringing screen and the stdout line are the ring.
    pub fn start(sink: &AudioSink) -> Option<Ringer> {
        let AudioSink::Alsa(device) = sink else {
            return None;
        };
        let device = device.clone();
        Ringer::spawn(move || {
            let mut card = sound::Playback::open(&device)
                .map_err(|e| format!("no ring tone on {device}: {e}"))?;
            Ok(move |pcm: &[i16]| card.write_frame(pcm).is_ok())
        })
    }

    /// Rings into the writer `open` makes on the ringer's thread (a sound
    /// card is opened where it is used); the writer says false to stop.
    fn spawn<W, F>(open: F) -> Option<Ringer>
    where
        W: FnMut(&[i16]) -> bool,
        F: FnOnce() -> Result<W, String> + Send + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("ringer".into())
            .spawn(move || {
                let mut write = match open() {
                    Ok(w) => w,
                    Err(e) => {
                        println!("{e}");
                        return;
                    }
                };
                let mut tone = RingTone::new();
                let mut pcm = vec![0i16; FRAME_SAMPLES];
                while !stopped.load(Ordering::Relaxed) {
                    tone.fill(&mut pcm);
                    if !write(&pcm) {
                        return;
                    }
                }
            })
            .map_err(|e| log::warn!("no thread for the ring tone: {e}"))
            .ok()?;
        Some(Ringer {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Ringer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    #[test]
    fn the_ringer_plays_the_ring_tone_until_dropped() {
        let heard = Arc::new(Mutex::new(Vec::new()));
        let h = Arc::clone(&heard);
        let ringer = Ringer::spawn(move || {
            Ok(move |pcm: &[i16]| {
                h.lock().unwrap().extend_from_slice(pcm);
                // A card takes a frame every 20 ms; a faster one will do.
                std::thread::sleep(Duration::from_millis(1));
                true
            })
        })
        .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        drop(ringer);
        let got = heard.lock().unwrap().clone();
        assert!(got.len() >= 10 * FRAME_SAMPLES, "{} samples", got.len());
        let mut want = vec![0i16; got.len()];
        RingTone::new().fill(&mut want);
        assert_eq!(got, want, "the ring tone, from its start");
        let after = got.len();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(heard.lock().unwrap().len(), after, "nothing after the drop");
    }

    #[test]
    fn no_sound_card_no_ring_and_a_writer_that_fails_ends_the_ring() {
        assert!(Ringer::start(&AudioSink::Null).is_none());
        assert!(Ringer::start(&AudioSink::Wav("x.wav".into())).is_none());
        let ringer = Ringer::spawn(|| Ok(|_: &[i16]| false)).unwrap();
        drop(ringer); // joins a thread that already ended
        let ringer = Ringer::spawn(|| Err::<fn(&[i16]) -> bool, _>("no card".to_string()));
        drop(ringer);
    }
}
