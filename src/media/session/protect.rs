//! SRTP at the session's edge (RFC 3711, with the profile of
//! [`crate::media::srtp::PROFILE`]): every datagram the session emits,
//! media, RTCP, NACK and TMMBR feedback, retransmissions and FEC, is
//! protected as the last step before it is queued, and every datagram that
//! arrives from the call's peer is authenticated, replay-checked and
//! decrypted before anything parses it. A packet that fails is dropped and
//! counted, never parsed. Without keys (the library's own plain-RTP tests)
//! datagrams pass as they are.
//!
//! FEC is computed over the plain RTP packets and the FEC packet is then
//! protected like any other (as RFC 8627 section 9 orders it), so a receiver
//! recovers plain packets from plain ones after decrypting.

use super::stream::StreamKind;
use crate::media::rtp::{classify, Kind};
use crate::media::srtp::{MediaKeys, PROFILE};
use peercall_srtp::{Error, Receiver, Sender};

/// Whether a session encrypts, and with what.
#[derive(Debug)]
pub(super) enum Srtp<T> {
    /// No keys were given: plain RTP (tests, and sessions built without a
    /// handshake).
    Off,
    /// The contexts of both streams.
    On { video: T, audio: T },
    /// Keys were given but libsrtp2 refused them: the session fails closed,
    /// sending and accepting nothing rather than anything in the clear.
    Failed,
}

impl<T> Srtp<T> {
    fn pick(&mut self, kind: StreamKind) -> Option<&mut T> {
        match self {
            Srtp::On { video, audio } => Some(match kind {
                StreamKind::Video => video,
                StreamKind::Audio => audio,
            }),
            _ => None,
        }
    }
}

/// The sending and receiving halves for a session with `keys` (or without).
pub(super) fn contexts(keys: Option<&MediaKeys>) -> (Srtp<Sender>, Srtp<Receiver>) {
    let Some(k) = keys else {
        return (Srtp::Off, Srtp::Off);
    };
    let made = (|| -> Result<_, Error> {
        let send = Srtp::On {
            video: Sender::new(PROFILE, &k.send.video.0)?,
            audio: Sender::new(PROFILE, &k.send.audio.0)?,
        };
        let receive = Srtp::On {
            video: Receiver::new(PROFILE, &k.receive.video.0)?,
            audio: Receiver::new(PROFILE, &k.receive.audio.0)?,
        };
        Ok((send, receive))
    })();
    made.unwrap_or_else(|e| {
        log::error!("SRTP could not be set up ({e}): the call's media is not sent");
        (Srtp::Failed, Srtp::Failed)
    })
}

impl Srtp<Sender> {
    /// The datagram to send for `bytes` (RTP or an RTCP compound) on the
    /// `kind` stream; `None` when nothing may be sent.
    pub(super) fn protect(&mut self, kind: StreamKind, bytes: Vec<u8>) -> Option<Vec<u8>> {
        if matches!(self, Srtp::Off) {
            return Some(bytes);
        }
        let tx = self.pick(kind)?;
        let sealed = match classify(&bytes) {
            Kind::Rtp => tx.protect_rtp(&bytes),
            Kind::Rtcp => tx.protect_rtcp(&bytes),
            Kind::Unknown => Err(Error::Malformed),
        };
        match sealed {
            Ok(s) => Some(s),
            Err(e) => {
                // Our own packet: a bug, not the network's doing.
                log::error!("SRTP refused to protect a {kind:?} packet we made: {e}");
                None
            }
        }
    }
}

/// Why an arriving datagram was dropped before it was parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refused {
    /// It did not authenticate under the other side's key, or was not SRTP.
    Auth,
    /// Its index was seen already, or is older than the replay window.
    Replay,
}

impl Srtp<Receiver> {
    /// The plain RTP or RTCP inside a datagram of the `kind` stream; `None`
    /// when no keys are configured (the datagram is plain already).
    pub(super) fn unprotect(
        &mut self,
        kind: StreamKind,
        bytes: &[u8],
    ) -> Result<Option<Vec<u8>>, Refused> {
        if matches!(self, Srtp::Off) {
            return Ok(None);
        }
        let rx = self.pick(kind).ok_or(Refused::Auth)?;
        // SRTP leaves the RTP header and the RTCP header and SSRC in the
        // clear, so RFC 5761's demultiplexing works on the datagram as sent.
        let opened = match classify(bytes) {
            Kind::Rtp => rx.unprotect_rtp(bytes),
            Kind::Rtcp => rx.unprotect_rtcp(bytes),
            Kind::Unknown => Err(Error::Malformed),
        };
        match opened {
            Ok(plain) => Ok(Some(plain)),
            Err(Error::Replay | Error::ReplayOld) => Err(Refused::Replay),
            Err(_) => Err(Refused::Auth),
        }
    }
}
