//! Credentials as the signer takes them: a value, kept out of logs.
//!
//! Where they come from (variables, profile files, a role) is the business of
//! [`crate::credentials`], above this module: the signer knows nothing of the environment.

use std::fmt;

use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::Error;

/// An access key id, a secret access key and, for temporary credentials, a session token and the
/// time they expire.
///
/// The secret and the token are wiped from memory when dropped and never appear in `Debug` output:
///
/// ```
/// let creds = stowage::Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
/// let shown = format!("{creds:?}");
/// assert!(shown.contains("AKIDEXAMPLE") && !shown.contains("wJalr"));
/// ```
#[derive(Clone)]
pub struct Credentials {
    access_key_id: String,
    secret_access_key: Zeroizing<String>,
    session_token: Option<Zeroizing<String>>,
    expires_at: Option<OffsetDateTime>,
}

impl Credentials {
    /// Long-term credentials: an access key id and its secret.
    #[must_use]
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: Zeroizing::new(secret_access_key.into()),
            session_token: None,
            expires_at: None,
        }
    }

    /// Adds the session token of temporary credentials (from STS, SSO or an instance role).
    #[must_use]
    pub fn with_session_token(mut self, session_token: impl Into<String>) -> Self {
        self.session_token = Some(Zeroizing::new(session_token.into()));
        self
    }

    /// Adds the time temporary credentials expire. The S3 backend never signs with credentials past
    /// their expiry, and ends presigned URLs by it.
    #[must_use]
    pub fn with_expiry(mut self, expires_at: OffsetDateTime) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// When temporary credentials expire; `None` for long-term keys.
    #[must_use]
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        self.expires_at
    }

    /// The access key id (not a secret: it appears in every signed request).
    #[must_use]
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// Whether a session token is present.
    #[must_use]
    pub fn has_session_token(&self) -> bool {
        self.session_token.is_some()
    }

    pub(crate) fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    pub(crate) fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref().map(String::as_str)
    }

    /// Whether both hold the same key, secret and token (whatever their expiry).
    #[cfg(feature = "s3")]
    pub(crate) fn same_keys(&self, other: &Self) -> bool {
        self.access_key_id == other.access_key_id
            && *self.secret_access_key == *other.secret_access_key
            && self.session_token() == other.session_token()
    }

    /// Checks that the credentials can be put into a request.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let id = &self.access_key_id;
        if id.is_empty() {
            return Err(Error::InvalidCredentials { reason: "the access key id is empty" });
        }
        if !id.bytes().all(|b| b.is_ascii_graphic() && b != b'/') {
            return Err(Error::InvalidCredentials {
                reason: "the access key id holds a space, a slash, a control or a non-ASCII character",
            });
        }
        if self.secret_access_key.is_empty() {
            return Err(Error::InvalidCredentials { reason: "the secret access key is empty" });
        }
        if let Some(token) = self.session_token() {
            if token.is_empty() {
                return Err(Error::InvalidCredentials { reason: "the session token is empty" });
            }
            if !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(Error::InvalidCredentials {
                    reason: "the session token holds a space, a control or a non-ASCII character",
                });
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field("session_token", &self.session_token.as_ref().map(|_| "** redacted **"))
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(Credentials::new("", "s").validate().is_err());
        assert!(Credentials::new("a/b", "s").validate().is_err());
        assert!(Credentials::new("id", "").validate().is_err());
        assert!(Credentials::new("id", "s").with_session_token("a\r\nb").validate().is_err());
        assert!(Credentials::new("id", "s").with_session_token("tok+/=").validate().is_ok());
    }

    #[test]
    fn debug_hides_the_secret_and_the_token() {
        let c = Credentials::new("AKIDEXAMPLE", "wJalrSECRET").with_session_token("TOKENVALUE");
        let shown = format!("{c:?}");
        assert!(shown.contains("AKIDEXAMPLE"));
        assert!(!shown.contains("wJalrSECRET") && !shown.contains("TOKENVALUE"), "{shown}");
    }
}
