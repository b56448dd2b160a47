//! Access credentials, kept out of logs.

use std::fmt;

use zeroize::Zeroizing;

use crate::sigv4::Error;

/// An access key id, a secret access key and, for temporary credentials, a session token.
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
}

impl Credentials {
    /// Long-term credentials: an access key id and its secret.
    #[must_use]
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: Zeroizing::new(secret_access_key.into()),
            session_token: None,
        }
    }

    /// Adds the session token of temporary credentials (from STS, SSO or an instance role).
    #[must_use]
    pub fn with_session_token(mut self, session_token: impl Into<String>) -> Self {
        self.session_token = Some(Zeroizing::new(session_token.into()));
        self
    }

    /// Reads credentials from the environment: `S3_ACCESS_KEY_ID`, `S3_SECRET_ACCESS_KEY` and the
    /// optional `S3_SESSION_TOKEN`, falling back to `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
    /// `AWS_SESSION_TOKEN` when the `S3_*` names are unset.
    ///
    /// # Errors
    ///
    /// [`Error::MissingEnv`] when no access key id or no secret is set.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`from_env`](Self::from_env), with variables looked up through `lookup`.
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let get = |primary: &str, fallback: &str| {
            lookup(primary).filter(|v| !v.is_empty()).or_else(|| lookup(fallback).filter(|v| !v.is_empty()))
        };
        let id = get("S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID")
            .ok_or(Error::MissingEnv { name: "S3_ACCESS_KEY_ID", hint: " (nor AWS_ACCESS_KEY_ID)" })?;
        let secret = get("S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY")
            .ok_or(Error::MissingEnv { name: "S3_SECRET_ACCESS_KEY", hint: " (nor AWS_SECRET_ACCESS_KEY)" })?;
        let credentials = Self::new(id, secret);
        Ok(match get("S3_SESSION_TOKEN", "AWS_SESSION_TOKEN") {
            Some(token) => credentials.with_session_token(token),
            None => credentials,
        })
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
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_prefers_s3_names_and_falls_back_to_aws() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
        };
        let c = Credentials::from_lookup(env(&[
            ("S3_ACCESS_KEY_ID", "s3id"),
            ("AWS_ACCESS_KEY_ID", "awsid"),
            ("AWS_SECRET_ACCESS_KEY", "awssecret"),
        ]))
        .unwrap();
        assert_eq!(c.access_key_id(), "s3id");
        assert_eq!(c.secret_access_key(), "awssecret");
        assert!(!c.has_session_token());
        let missing = Credentials::from_lookup(env(&[("S3_ACCESS_KEY_ID", "id")])).unwrap_err();
        assert!(matches!(missing, Error::MissingEnv { name: "S3_SECRET_ACCESS_KEY", .. }));
    }

    #[test]
    fn validation() {
        assert!(Credentials::new("", "s").validate().is_err());
        assert!(Credentials::new("a/b", "s").validate().is_err());
        assert!(Credentials::new("id", "").validate().is_err());
        assert!(Credentials::new("id", "s").with_session_token("a\r\nb").validate().is_err());
        assert!(Credentials::new("id", "s").with_session_token("tok+/=").validate().is_ok());
    }
}
