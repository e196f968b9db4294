//! Opus for calls: 48 kHz mono voice in 20 ms frames with in-band FEC, and a
//! decoder that turns what the jitter buffer says into samples: a frame, a
//! frame recovered from the next packet's FEC data, or concealment.

use opus::{Application, Bitrate, Channels, Decoder, Encoder};
use peercall::media::jitter::Playout;
use std::fmt;

/// Samples per channel in one 20 ms frame at 48 kHz.
pub use peercall::media::audio::FRAME_SAMPLES;
use peercall::media::audio::SAMPLE_RATE;
use peercall::media::session::AudioTarget;
/// Largest encoded frame accepted (RFC 6716 allows up to 1275 bytes per frame).
pub const MAX_PACKET: usize = 1275;

/// A libopus failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpusCodecError(pub String);

impl fmt::Display for OpusCodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Opus codec: {}", self.0)
    }
}

impl std::error::Error for OpusCodecError {}

impl From<opus::Error> for OpusCodecError {
    fn from(e: opus::Error) -> Self {
        OpusCodecError(e.to_string())
    }
}

/// The sending side: mono 20 ms frames to Opus packets.
pub struct VoiceEncoder {
    enc: Encoder,
    target: AudioTarget,
}

impl VoiceEncoder {
    /// A VoIP-mode encoder with in-band FEC on, at [`AudioTarget::INITIAL`].
    pub fn new() -> Result<Self, OpusCodecError> {
        let mut enc = Encoder::new(SAMPLE_RATE, Channels::Mono, Application::Voip)?;
        enc.set_inband_fec(true)?;
        let mut e = VoiceEncoder {
            enc,
            target: AudioTarget::INITIAL,
        };
        e.apply(AudioTarget::INITIAL)?;
        Ok(e)
    }

    /// Follows the session's [`AudioTarget`] (bitrate and the loss FEC is
    /// planned for); a target unchanged since the last call costs nothing.
    pub fn set_target(&mut self, target: AudioTarget) -> Result<(), OpusCodecError> {
        if target != self.target {
            self.apply(target)?;
        }
        Ok(())
    }

    fn apply(&mut self, target: AudioTarget) -> Result<(), OpusCodecError> {
        self.enc
            .set_bitrate(Bitrate::Bits(target.bitrate.min(i32::MAX as u32) as i32))?;
        self.enc
            .set_packet_loss_perc(i32::from(target.expected_loss_percent.min(100)))?;
        self.target = target;
        Ok(())
    }

    /// Encodes one frame of [`FRAME_SAMPLES`] samples.
    pub fn encode(&mut self, frame: &[i16]) -> Result<Vec<u8>, OpusCodecError> {
        if frame.len() != FRAME_SAMPLES {
            return Err(OpusCodecError(format!(
                "a frame is {FRAME_SAMPLES} samples, not {}",
                frame.len()
            )));
        }
        Ok(self.enc.encode_vec(frame, MAX_PACKET)?)
    }
}

/// The receiving side: turns jitter buffer playouts into 20 ms of samples.
pub struct VoiceDecoder {
    dec: Decoder,
}

impl VoiceDecoder {
    /// A mono 48 kHz decoder.
    pub fn new() -> Result<Self, OpusCodecError> {
        Ok(VoiceDecoder {
            dec: Decoder::new(SAMPLE_RATE, Channels::Mono)?,
        })
    }

    /// Fills `out` ([`FRAME_SAMPLES`] samples) for one playout. A corrupt
    /// packet is concealed instead (a peer's bad bytes cost one frame, not the call).
    pub fn decode(&mut self, playout: &Playout, out: &mut [i16]) -> Result<(), OpusCodecError> {
        let out = out
            .get_mut(..FRAME_SAMPLES)
            .ok_or_else(|| OpusCodecError("output shorter than a frame".into()))?;
        let result = match playout {
            Playout::Waiting => {
                out.fill(0);
                return Ok(());
            }
            Playout::Frame(p) => self.dec.decode(p, out, false),
            Playout::Fec(next) => self.dec.decode(next, out, true),
            Playout::Conceal => self.dec.decode(&[], out, false),
        };
        match result {
            Ok(_) => Ok(()),
            Err(_) => {
                self.dec.decode(&[], out, false)?;
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peercall::media::impair::{ImpairConfig, Impairment};
    use peercall::media::jitter::{JitterBuffer, OPUS_20MS};
    use peercall::media::tone::{dominant_frequency, Tone, TONE_HZ};
    use std::time::{Duration, Instant};

    /// Three seconds of tone through Opus, a lossy jittery network and the
    /// jitter buffer: the 440 Hz tone is still what comes out, and losses were
    /// concealed, many with FEC.
    #[test]
    fn tone_survives_five_percent_loss() {
        let mut enc = VoiceEncoder::new().unwrap();
        let mut dec = VoiceDecoder::new().unwrap();
        let mut net = Impairment::new(ImpairConfig {
            loss: 0.05,
            delay: Duration::from_millis(10),
            jitter: Duration::from_millis(30),
            seed: 9,
            ..ImpairConfig::default()
        });
        let mut jb = JitterBuffer::new(OPUS_20MS);
        let mut tone = Tone::new();
        let t0 = Instant::now();
        let mut frame = vec![0i16; FRAME_SAMPLES];
        let mut played = Vec::new();
        for k in 0..150u32 {
            let now = t0 + Duration::from_millis(20) * k;
            tone.fill(&mut frame);
            let packet = enc.encode(&frame).unwrap();
            net.send(now, (k as u16, k * 960, packet));
            while let Some((seq, ts, p)) = net.poll(now) {
                jb.push(now, seq, ts, p);
            }
            let mut out = vec![0i16; FRAME_SAMPLES];
            dec.decode(&jb.pop(), &mut out).unwrap();
            played.extend_from_slice(&out);
        }
        let st = jb.stats();
        assert!(st.concealed_fec + st.concealed_plc > 0, "{st:?}");
        // Measure between the 1 s marks.
        let second = &played[48_000 + 4_800..96_000 - 4_800];
        let f = dominant_frequency(second, 100.0, 4000.0);
        assert!((f - TONE_HZ).abs() <= 3.0, "{f} Hz");
    }

    #[test]
    fn corrupt_packets_and_wrong_sizes() {
        let mut dec = VoiceDecoder::new().unwrap();
        let mut out = vec![0i16; FRAME_SAMPLES];
        dec.decode(&Playout::Frame(vec![0xff; 7]), &mut out)
            .unwrap();
        assert!(dec.decode(&Playout::Conceal, &mut out[..10]).is_err());
        let mut enc = VoiceEncoder::new().unwrap();
        assert!(enc.encode(&[0; 100]).is_err());
    }
}
