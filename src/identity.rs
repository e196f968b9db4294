//! Who a peer is: a long-term Ed25519 key pair. The public half names the peer
//! to the registry (a name belongs to the key that registered it) and to the
//! peers it calls (the call port's Noise handshake proves the same key, in its
//! X25519 form). This module holds the key types, their one-line text form and
//! the conversions; reading and writing the identity file is the shell's job,
//! and so is drawing the random seed a new identity is made from.
//!
//! The X25519 keys used by Noise are derived from the Ed25519 ones by the
//! standard birational map (as libsodium's `crypto_sign_ed25519_pk_to_curve25519`
//! and age's SSH support do), so a peer has one key and one text form, not two.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use std::fmt;
use std::str::FromStr;

/// Bytes of a public key on the wire.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Bytes of a signature on the wire.
pub const SIGNATURE_LEN: usize = 64;
/// Bytes of the secret seed an identity is made from (and stored as).
pub const SEED_LEN: usize = 32;
/// Characters of a public key's text form: base64 of 32 bytes, padded, as
/// WireGuard writes its keys.
pub const PUBLIC_KEY_TEXT_LEN: usize = 44;

/// A peer's public key (Ed25519). Its text form is 44 characters of standard
/// base64; [`PublicKey::from_str`] reads it back.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey([u8; PUBLIC_KEY_LEN]);

/// Why a text or bytes are not a usable public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// The text is not 44 characters of base64 for 32 bytes.
    BadText,
    /// The bytes are not a point on the curve (no one holds its secret).
    NotAPoint,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::BadText => write!(
                f,
                "not a peercall public key (expected {PUBLIC_KEY_TEXT_LEN} characters of base64, as `peercall id` prints)"
            ),
            KeyError::NotAPoint => write!(f, "not a valid Ed25519 public key"),
        }
    }
}

impl std::error::Error for KeyError {}

impl PublicKey {
    /// A key from its 32 wire bytes, checked to be a valid Ed25519 point so
    /// that every later use (verifying, converting for Noise) succeeds.
    pub fn from_bytes(bytes: [u8; PUBLIC_KEY_LEN]) -> Result<Self, KeyError> {
        VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::NotAPoint)?;
        Ok(PublicKey(bytes))
    }

    /// The 32 wire bytes.
    pub fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.0
    }

    fn verifying(&self) -> VerifyingKey {
        // Checked in from_bytes, the only constructor besides Identity::public.
        VerifyingKey::from_bytes(&self.0).expect("PublicKey holds a valid point")
    }

    /// Whether `signature` is this key's signature of `message` (strict
    /// verification: no malleable or small-order signatures).
    pub fn verify(&self, message: &[u8], signature: &[u8; SIGNATURE_LEN]) -> bool {
        let sig = ed25519_dalek::Signature::from_bytes(signature);
        self.verifying().verify_strict(message, &sig).is_ok()
    }

    /// The X25519 public key Noise sees for this peer.
    pub fn noise_key(&self) -> [u8; 32] {
        self.verifying().to_montgomery().to_bytes()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&STANDARD.encode(self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        if s.len() != PUBLIC_KEY_TEXT_LEN {
            return Err(KeyError::BadText);
        }
        let raw = STANDARD.decode(s).map_err(|_| KeyError::BadText)?;
        let bytes: [u8; PUBLIC_KEY_LEN] = raw.try_into().map_err(|_| KeyError::BadText)?;
        PublicKey::from_bytes(bytes)
    }
}

/// A peer's key pair. Made from a secret seed (drawn by the shell from the
/// operating system's random source, and stored in the identity file).
#[derive(Clone)]
pub struct Identity {
    signing: SigningKey,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the secret, not even in a debug log.
        write!(f, "Identity({})", self.public())
    }
}

impl Identity {
    /// The identity whose secret seed is `seed`.
    pub fn from_seed(seed: &[u8; SEED_LEN]) -> Self {
        Identity {
            signing: SigningKey::from_bytes(seed),
        }
    }

    /// The secret seed, to be stored (mode 0600) and nowhere else.
    pub fn seed(&self) -> [u8; SEED_LEN] {
        self.signing.to_bytes()
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key().to_bytes())
    }

    /// This identity's signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.signing.sign(message).to_bytes()
    }

    /// The X25519 secret Noise uses for this identity; its public half is
    /// [`PublicKey::noise_key`] of [`Identity::public`].
    pub fn noise_secret(&self) -> [u8; 32] {
        self.signing.to_scalar_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Identity {
        Identity::from_seed(&[7; SEED_LEN])
    }

    #[test]
    fn text_form_round_trips_and_is_44_characters() {
        let key = alice().public();
        let text = key.to_string();
        assert_eq!(text.len(), PUBLIC_KEY_TEXT_LEN);
        assert_eq!(text.parse::<PublicKey>().unwrap(), key);
        // The same seed always gives the same key (the identity file is the seed).
        assert_eq!(Identity::from_seed(&alice().seed()).public(), key);
    }

    #[test]
    fn bad_texts_are_refused() {
        let text = alice().public().to_string();
        assert_eq!("".parse::<PublicKey>(), Err(KeyError::BadText));
        assert_eq!(text[1..].parse::<PublicKey>(), Err(KeyError::BadText));
        assert_eq!(
            format!("{text}A").parse::<PublicKey>(),
            Err(KeyError::BadText)
        );
        let bad = format!("!{}", &text[1..]);
        assert_eq!(bad.parse::<PublicKey>(), Err(KeyError::BadText));
    }

    #[test]
    fn signatures_verify_only_for_the_signer_and_the_message() {
        let a = alice();
        let b = Identity::from_seed(&[8; SEED_LEN]);
        let sig = a.sign(b"challenge");
        assert!(a.public().verify(b"challenge", &sig));
        assert!(!a.public().verify(b"challengE", &sig));
        assert!(!b.public().verify(b"challenge", &sig));
    }

    #[test]
    fn noise_keys_pair_up() {
        // The X25519 public key derived from the Ed25519 public key is the one
        // belonging to the derived X25519 secret.
        let a = alice();
        let secret = a.noise_secret();
        let derived = curve25519_public(&secret);
        assert_eq!(derived, a.public().noise_key());
    }

    fn curve25519_public(secret: &[u8; 32]) -> [u8; 32] {
        curve25519_dalek::constants::X25519_BASEPOINT
            .mul_clamped(*secret)
            .to_bytes()
    }
}
