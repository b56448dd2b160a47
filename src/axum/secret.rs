//! The key every instance of a service shares: it signs the upload tickets kept in the bucket, and
//! whatever else the service signs with it (the demo's identity cookie).

use std::fmt;
use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// The fewest bytes a secret may have.
pub const MIN_SECRET_BYTES: usize = 32;

/// A key shared by the instances of a service (from `UPLOAD_SECRET`, a secrets manager, …). It signs
/// with HMAC-SHA256; it is zeroed on drop and never shown: its `Debug` output is redacted, and no
/// error, log or URL carries it.
///
/// ```
/// use stowage::axum::Secret;
///
/// let secret = Secret::new("a shared secret of at least thirty-two bytes, from the environment")?;
/// let signature = secret.sign(b"visitor 1f3a");
/// assert!(secret.verify(b"visitor 1f3a", &signature));
/// assert!(!secret.verify(b"visitor 1f3b", &signature));
/// assert!(!format!("{secret:?}").contains("thirty-two"));
/// # Ok::<(), stowage::axum::WeakSecret>(())
/// ```
#[derive(Clone)]
pub struct Secret {
    key: Arc<Zeroizing<Vec<u8>>>,
}

/// A secret too short to sign with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the secret is {len} bytes; use at least {MIN_SECRET_BYTES} (for example 64 random hex characters: \
     openssl rand -hex 32)"
)]
pub struct WeakSecret {
    /// How many bytes it had.
    pub len: usize,
}

impl Secret {
    /// A secret of these bytes (a string's bytes, say).
    ///
    /// # Errors
    ///
    /// [`WeakSecret`] for fewer than [`MIN_SECRET_BYTES`] bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, WeakSecret> {
        let key = Zeroizing::new(bytes.into());
        if key.len() < MIN_SECRET_BYTES {
            return Err(WeakSecret { len: key.len() });
        }
        Ok(Self { key: Arc::new(key) })
    }

    /// A secret of 32 random bytes from the operating system, for one process: what it signs is
    /// good only for this process, until it ends.
    #[must_use]
    pub fn random() -> Self {
        let mut key = Zeroizing::new(vec![0u8; 32]);
        crate::random::fill(&mut key);
        Self { key: Arc::new(key) }
    }

    fn mac(&self) -> Hmac<Sha256> {
        match <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key) {
            Ok(mac) => mac,
            // HMAC takes a key of any length.
            Err(_) => <Hmac<Sha256> as KeyInit>::new(&Default::default()),
        }
    }

    /// The HMAC-SHA256 of `message`, as 64 lowercase hex digits.
    #[must_use]
    pub fn sign(&self, message: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(message);
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether `signature` is [`sign`](Self::sign)'s for `message` (compared in constant time).
    #[must_use]
    pub fn verify(&self, message: &[u8], signature: &str) -> bool {
        let Ok(bytes) = hex::decode(signature) else { return false };
        let mut mac = self.mac();
        mac.update(message);
        mac.verify_slice(&bytes).is_ok()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(** redacted **)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_verifies_and_refuses() {
        assert_eq!(Secret::new("short").unwrap_err(), WeakSecret { len: 5 });
        let a = Secret::new(vec![7u8; 32]).unwrap();
        let b = Secret::new(vec![8u8; 32]).unwrap();
        let signature = a.sign(b"ticket");
        assert_eq!(signature.len(), 64);
        assert!(a.verify(b"ticket", &signature));
        assert!(!b.verify(b"ticket", &signature), "another secret");
        assert!(!a.verify(b"ticket!", &signature), "another message");
        assert!(!a.verify(b"ticket", &signature[..62]), "truncated");
        assert!(!a.verify(b"ticket", "not hex"), "garbage");
        assert_ne!(Secret::random().sign(b"x"), Secret::random().sign(b"x"));
        assert_eq!(format!("{a:?}"), "Secret(** redacted **)");
    }
}
