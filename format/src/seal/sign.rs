//! Ed25519 keys of a host: the private [`SealKey`] signs seals, heads and
//! tombstones; the [`PublicKey`] an auditor holds checks them. Written as
//! `ed25519:<64 hex digits>`; a fingerprint is the first 16 hex digits of
//! the SHA-256 of the key.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use std::fmt;
use std::str::FromStr;

const PREFIX: &str = "ed25519:";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignError {
    #[error("not an Ed25519 key: expected ed25519: and 64 hex digits")]
    BadKey,
}

/// A host's private signing key.
#[derive(Clone)]
pub struct SealKey(SigningKey);

impl SealKey {
    /// The key of a 32-byte secret seed (from the operating system's random source).
    pub fn from_seed(seed: [u8; 32]) -> SealKey {
        SealKey(SigningKey::from_bytes(&seed))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Hex of the signature of `message`.
    pub fn sign(&self, message: &str) -> String {
        hex::encode(self.0.sign(message.as_bytes()).to_bytes())
    }

    /// The private key as written to its file (`ed25519:` and the seed in hex).
    pub fn to_secret_text(&self) -> String {
        format!("{PREFIX}{}", hex::encode(self.0.to_bytes()))
    }
}

impl FromStr for SealKey {
    type Err = SignError;
    fn from_str(s: &str) -> Result<SealKey, SignError> {
        Ok(SealKey::from_seed(key_bytes(s)?))
    }
}

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealKey({})", self.public().fingerprint())
    }
}

/// A host's public key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Whether `signature` (hex) is this key's signature of `message`.
    pub fn verifies(&self, message: &str, signature: &str) -> bool {
        let Ok(bytes) = hex::decode(signature) else {
            return false;
        };
        let Ok(sig) = Signature::from_slice(&bytes) else {
            return false;
        };
        self.0.verify(message.as_bytes(), &sig).is_ok()
    }

    /// A short name for the key, shown next to what it signed.
    pub fn fingerprint(&self) -> String {
        super::sha256_hex(self.0.as_bytes())[..16].to_string()
    }
}

impl FromStr for PublicKey {
    type Err = SignError;
    fn from_str(s: &str) -> Result<PublicKey, SignError> {
        VerifyingKey::from_bytes(&key_bytes(s)?)
            .map(PublicKey)
            .map_err(|_| SignError::BadKey)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}", hex::encode(self.0.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

/// 32 bytes from `ed25519:<hex>` (the first word of the text; the rest of a
/// key file's line may be a comment).
fn key_bytes(s: &str) -> Result<[u8; 32], SignError> {
    let word = s.split_whitespace().next().unwrap_or("");
    let digits = word.strip_prefix(PREFIX).ok_or(SignError::BadKey)?;
    let bytes = hex::decode(digits).map_err(|_| SignError::BadKey)?;
    bytes.try_into().map_err(|_| SignError::BadKey)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_checks_only_with_its_key_and_message() {
        let key = SealKey::from_seed([7; 32]);
        let other = SealKey::from_seed([8; 32]);
        let sig = key.sign("hello");
        assert!(key.public().verifies("hello", &sig));
        assert!(!key.public().verifies("hellO", &sig));
        assert!(!other.public().verifies("hello", &sig));
        assert!(!key.public().verifies("hello", "zz"));
    }

    #[test]
    fn keys_round_trip_through_their_text() {
        let key = SealKey::from_seed([9; 32]);
        let back: SealKey = key.to_secret_text().parse().unwrap();
        assert_eq!(back.public(), key.public());
        let public: PublicKey = format!("{} host-a", key.public()).parse().unwrap();
        assert_eq!(public, key.public());
        assert_eq!(public.fingerprint().len(), 16);
        assert_eq!("ed25519:abcd".parse::<PublicKey>(), Err(SignError::BadKey));
        assert!("rsa:00".parse::<SealKey>().is_err());
    }
}
