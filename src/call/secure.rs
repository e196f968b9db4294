//! The authenticated, encrypted channel call signalling runs in: one Noise
//! `IK` handshake (`Noise_IK_25519_ChaChaPoly_BLAKE2s`, from the `snow`
//! crate) per call connection, then Noise transport messages each carrying
//! one whole inner peercall frame (INVITE, RINGING, ACCEPT, ...).
//!
//! The caller knows whom it calls (the key the registry's LOOKUP returned,
//! or one pinned in its allow file), so `IK` proves both static keys in one
//! round trip: HANDSHAKE INIT carries the caller's ephemeral and (encrypted)
//! static key and, as payload, its Ed25519 [`PublicKey`]; HANDSHAKE REPLY
//! carries the callee's ephemeral and its Ed25519 key. Each side checks that
//! the Ed25519 key it was told maps ([`PublicKey::noise_key`]) to the static
//! X25519 key Noise proved, so after [`Initiator::finish`] / [`respond`] the
//! [`Secured`] channel knows the other side's verified identity, and both
//! sides hold the same [`MediaSecret`] for the media's SRTP keys.
//!
//! Sans-IO like the rest of the library: no OS randomness is read. The
//! shell passes a fresh 32-byte seed per handshake, which seeds the
//! ChaCha20 generator snow draws the ephemeral key from (everything else,
//! DH, cipher and hash, is snow's own). Every input is bounded and no byte
//! sequence panics: a failed handshake or a sealed message that does not
//! open is an error for that connection only.

use crate::identity::{Identity, PublicKey, PUBLIC_KEY_LEN};
use crate::wire::{Message, WireError, MAX_PAYLOAD_LEN, VERSION};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use snow::params::NoiseParams;
use snow::resolvers::{CryptoResolver, DefaultResolver};
use snow::types::{Cipher, Dh, Hash, Random};
use snow::{HandshakeState, TransportState};
use std::fmt;
use std::time::Duration;

/// The Noise protocol name: pattern IK, X25519, ChaCha20-Poly1305, BLAKE2s.
pub const NOISE_PARAMS: &str = "Noise_IK_25519_ChaChaPoly_BLAKE2s";
/// The Noise prologue: both sides mix it into the handshake hash, so a
/// handshake made for another protocol or another version of this one fails.
/// Its last byte is [`crate::wire::VERSION`].
pub const PROLOGUE: [u8; 17] = *b"peercall call v\x00\x02";
/// Size of the seed the shell passes for one handshake's randomness.
pub const SEED_LEN: usize = 32;
/// Size of the authentication tag Noise adds to every encrypted message.
pub const TAG_LEN: usize = 16;
/// Exact size of a HANDSHAKE INIT payload: the ephemeral key (32), the
/// encrypted static key (32 + 16) and the encrypted Ed25519 key (32 + 16).
pub const INIT_LEN: usize = 32 + (32 + TAG_LEN) + (PUBLIC_KEY_LEN + TAG_LEN);
/// Exact size of a HANDSHAKE REPLY payload: the ephemeral key (32) and the
/// encrypted Ed25519 key (32 + 16).
pub const REPLY_LEN: usize = 32 + (PUBLIC_KEY_LEN + TAG_LEN);
/// Largest handshake message read: anything longer is refused before snow
/// sees it (both messages have a fixed size; this bounds the buffers).
pub const MAX_HANDSHAKE_MSG_LEN: usize = 256;
/// Largest inner frame a SEALED message carries: the outer frame's payload
/// less the tag.
pub const MAX_SEALED_PLAINTEXT: usize = MAX_PAYLOAD_LEN - TAG_LEN;
/// How long a handshake may take from the first byte of the connection to
/// the last handshake message (one round trip on any sane link).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Size of the [`MediaSecret`].
pub const MEDIA_SECRET_LEN: usize = 64;

const _: () = assert!(INIT_LEN <= MAX_HANDSHAKE_MSG_LEN && REPLY_LEN <= MAX_HANDSHAKE_MSG_LEN);
const _: () = assert!(PROLOGUE[PROLOGUE.len() - 1] == VERSION);

/// Secret keying material both sides of a call hold after the handshake:
/// the two raw Noise split keys, `k1 || k2`, identical on both sides. The
/// media's SRTP keys are derived from it (`media::srtp::MediaKeys::derive`);
/// the signalling itself uses snow's own transport keys. Its `Debug` shows
/// nothing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct MediaSecret([u8; MEDIA_SECRET_LEN]);

impl MediaSecret {
    /// The 64 secret bytes.
    pub fn as_bytes(&self) -> &[u8; MEDIA_SECRET_LEN] {
        &self.0
    }
}

impl fmt::Debug for MediaSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MediaSecret(..)")
    }
}

/// Why a handshake or a sealed message failed. All are the other side's
/// fault (or an attacker's); the connection is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecureError {
    /// A handshake message is not the size of one.
    BadLength(usize),
    /// Noise refused the message: it was made for another key, altered,
    /// or is not a Noise message at all.
    Rejected,
    /// The handshake's payload is not an Ed25519 public key.
    BadPayload,
    /// The Ed25519 key told does not belong to the static key proved.
    KeyMismatch,
    /// The callee proved a key other than the one the caller expected.
    UnexpectedKey {
        /// The key the caller expected.
        expected: PublicKey,
        /// The key the callee proved.
        got: PublicKey,
    },
    /// A sealed message opened to bytes that are not one inner frame.
    BadInner(WireError),
    /// A sealed message's inner frame is a handshake or sealed message.
    NestedSeal,
    /// A message to seal is larger than [`MAX_SEALED_PLAINTEXT`] (our bug).
    TooLarge(usize),
}

impl fmt::Display for SecureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecureError::BadLength(n) => write!(f, "a handshake message of {n} bytes"),
            SecureError::Rejected => write!(
                f,
                "the handshake or a sealed message did not decrypt (another key, or altered)"
            ),
            SecureError::BadPayload => write!(f, "the handshake payload is not a public key"),
            SecureError::KeyMismatch => {
                write!(f, "the public key told does not match the key proved")
            }
            SecureError::UnexpectedKey { expected, got } => {
                write!(
                    f,
                    "the callee proved key {got}, not the expected {expected}"
                )
            }
            SecureError::BadInner(e) => write!(f, "a sealed message holds a bad frame: {e}"),
            SecureError::NestedSeal => write!(f, "a sealed message holds another sealed one"),
            SecureError::TooLarge(n) => write!(f, "a message of {n} bytes is too large to seal"),
        }
    }
}

impl std::error::Error for SecureError {}

/// The caller's half-done handshake: HANDSHAKE INIT sent, REPLY awaited.
pub struct Initiator {
    state: HandshakeState,
    expected: PublicKey,
}

impl fmt::Debug for Initiator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Initiator")
            .field("expected", &self.expected)
            .finish_non_exhaustive()
    }
}

impl Initiator {
    /// Starts a handshake with the callee whose key is `expected`: returns
    /// the state and the HANDSHAKE INIT payload ([`INIT_LEN`] bytes). `seed`
    /// must be fresh randomness for this handshake alone.
    pub fn start(
        identity: &Identity,
        expected: PublicKey,
        seed: [u8; SEED_LEN],
    ) -> (Initiator, Vec<u8>) {
        let secret = identity.noise_secret();
        let remote = expected.noise_key();
        let mut state = builder(seed)
            .local_private_key(&secret)
            .and_then(|b| b.remote_public_key(&remote))
            .and_then(|b| b.build_initiator())
            .expect("IK initiator from fixed-size keys");
        let mut out = [0u8; MAX_HANDSHAKE_MSG_LEN];
        let n = state
            .write_message(identity.public().as_bytes(), &mut out)
            .expect("the first IK message fits its buffer");
        (Initiator { state, expected }, out[..n].to_vec())
    }

    /// The key the callee must prove.
    pub fn expected(&self) -> PublicKey {
        self.expected
    }

    /// Reads HANDSHAKE REPLY: the callee proved `expected`, and the channel is up.
    pub fn finish(mut self, reply: &[u8]) -> Result<Secured, SecureError> {
        if reply.len() != REPLY_LEN {
            return Err(SecureError::BadLength(reply.len()));
        }
        let mut payload = [0u8; MAX_HANDSHAKE_MSG_LEN];
        let n = self
            .state
            .read_message(reply, &mut payload)
            .map_err(|_| SecureError::Rejected)?;
        let told = told_key(&self.state, payload.get(..n).unwrap_or_default())?;
        if told != self.expected {
            return Err(SecureError::UnexpectedKey {
                expected: self.expected,
                got: told,
            });
        }
        Secured::from_handshake(self.state, told)
    }
}

/// The callee's side, in one step: reads HANDSHAKE INIT (made by anyone:
/// the callee learns who), and returns the channel and the HANDSHAKE REPLY
/// payload ([`REPLY_LEN`] bytes). `seed` must be fresh randomness.
pub fn respond(
    identity: &Identity,
    init: &[u8],
    seed: [u8; SEED_LEN],
) -> Result<(Secured, Vec<u8>), SecureError> {
    if init.len() != INIT_LEN {
        return Err(SecureError::BadLength(init.len()));
    }
    let secret = identity.noise_secret();
    let mut state = builder(seed)
        .local_private_key(&secret)
        .and_then(|b| b.build_responder())
        .expect("IK responder from a fixed-size key");
    let mut payload = [0u8; MAX_HANDSHAKE_MSG_LEN];
    let n = state
        .read_message(init, &mut payload)
        .map_err(|_| SecureError::Rejected)?;
    let caller = told_key(&state, payload.get(..n).unwrap_or_default())?;
    let mut out = [0u8; MAX_HANDSHAKE_MSG_LEN];
    let n = state
        .write_message(identity.public().as_bytes(), &mut out)
        .map_err(|_| SecureError::Rejected)?;
    let secured = Secured::from_handshake(state, caller)?;
    Ok((secured, out[..n].to_vec()))
}

/// The Ed25519 key in a handshake payload, checked against the static key
/// Noise proved.
fn told_key(state: &HandshakeState, payload: &[u8]) -> Result<PublicKey, SecureError> {
    let bytes: [u8; PUBLIC_KEY_LEN] = payload.try_into().map_err(|_| SecureError::BadPayload)?;
    let key = PublicKey::from_bytes(bytes).map_err(|_| SecureError::BadPayload)?;
    match state.get_remote_static() {
        Some(proved) if proved == key.noise_key() => Ok(key),
        _ => Err(SecureError::KeyMismatch),
    }
}

/// A finished handshake: the other side's verified key, the media secret,
/// and the transport keys that seal and open inner frames.
pub struct Secured {
    transport: TransportState,
    peer: PublicKey,
    media_secret: MediaSecret,
}

impl fmt::Debug for Secured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secured")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl Secured {
    fn from_handshake(mut state: HandshakeState, peer: PublicKey) -> Result<Secured, SecureError> {
        let (k1, k2) = state.dangerously_get_raw_split();
        let mut secret = [0u8; MEDIA_SECRET_LEN];
        secret[..32].copy_from_slice(&k1);
        secret[32..].copy_from_slice(&k2);
        let transport = state
            .into_transport_mode()
            .map_err(|_| SecureError::Rejected)?;
        Ok(Secured {
            transport,
            peer,
            media_secret: MediaSecret(secret),
        })
    }

    /// The other side's key, proved by the handshake.
    pub fn peer_key(&self) -> PublicKey {
        self.peer
    }

    /// The secret the media's SRTP keys derive from (the same on both sides).
    pub fn media_secret(&self) -> &MediaSecret {
        &self.media_secret
    }

    /// Encrypts `msg` as a SEALED message.
    pub fn seal(&mut self, msg: &Message) -> Result<Message, SecureError> {
        if !msg.is_signalling() {
            return Err(SecureError::NestedSeal);
        }
        let inner = msg.to_bytes();
        if inner.len() > MAX_SEALED_PLAINTEXT {
            return Err(SecureError::TooLarge(inner.len()));
        }
        let mut out = vec![0u8; inner.len() + TAG_LEN];
        let n = self
            .transport
            .write_message(&inner, &mut out)
            .map_err(|_| SecureError::TooLarge(inner.len()))?;
        out.truncate(n);
        Ok(Message::Sealed(out))
    }

    /// Decrypts a SEALED payload into the inner message. After an error
    /// the channel is unusable (Noise's nonces are out of step): close it.
    pub fn open(&mut self, sealed: &[u8]) -> Result<Message, SecureError> {
        if sealed.len() < TAG_LEN || sealed.len() > MAX_PAYLOAD_LEN {
            return Err(SecureError::Rejected);
        }
        let mut plain = vec![0u8; sealed.len()];
        let n = self
            .transport
            .read_message(sealed, &mut plain)
            .map_err(|_| SecureError::Rejected)?;
        let msg = Message::parse_bytes(plain.get(..n).unwrap_or_default())
            .map_err(SecureError::BadInner)?;
        if msg.is_signalling() {
            Ok(msg)
        } else {
            Err(SecureError::NestedSeal)
        }
    }
}

impl Message {
    /// Whether this message may travel inside SEALED: anything but the
    /// handshake and SEALED itself.
    fn is_signalling(&self) -> bool {
        !matches!(
            self,
            Message::HandshakeInit(_) | Message::HandshakeReply(_) | Message::Sealed(_)
        )
    }
}

fn builder(seed: [u8; SEED_LEN]) -> snow::Builder<'static> {
    let params: NoiseParams = NOISE_PARAMS.parse().expect("a valid Noise protocol name");
    snow::Builder::with_resolver(params, Box::new(SeededResolver { seed }))
        .prologue(&PROLOGUE)
        .expect("a prologue set once")
}

/// snow's default primitives, with the random numbers from a seed.
struct SeededResolver {
    seed: [u8; SEED_LEN],
}

impl CryptoResolver for SeededResolver {
    fn resolve_rng(&self) -> Option<Box<dyn Random>> {
        Some(Box::new(SeededRng(ChaCha20Rng::from_seed(self.seed))))
    }
    fn resolve_dh(&self, choice: &snow::params::DHChoice) -> Option<Box<dyn Dh>> {
        DefaultResolver.resolve_dh(choice)
    }
    fn resolve_hash(&self, choice: &snow::params::HashChoice) -> Option<Box<dyn Hash>> {
        DefaultResolver.resolve_hash(choice)
    }
    fn resolve_cipher(&self, choice: &snow::params::CipherChoice) -> Option<Box<dyn Cipher>> {
        DefaultResolver.resolve_cipher(choice)
    }
}

/// The seeded ChaCha20 generator, in snow's shape.
struct SeededRng(ChaCha20Rng);

impl Random for SeededRng {
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), snow::Error> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
