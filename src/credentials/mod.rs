//! Access credentials, kept out of logs, and (with the `s3` feature) where services get them from.
//!
//! [`Credentials`] is a value: an access key id, a secret, and for temporary credentials a session
//! token and an expiry. The signer ([`crate::sigv4::Signer`]) takes one and knows nothing of where it
//! came from.
//!
//! With the `s3` feature, this module also holds the **providers** that fetch credentials where
//! services run, behind one object-safe trait, [`ProvideCredentials`], and the
//! [`CredentialsChain`] that tries them in the order the AWS SDKs use:
//!
//! | order | source | configured by |
//! |---|---|---|
//! | 1 | [`EnvironmentCredentials`] | `S3_ACCESS_KEY_ID`/`S3_SECRET_ACCESS_KEY`/`S3_SESSION_TOKEN`, else the `AWS_*` names |
//! | 2 | [`ProfileCredentials`] | `~/.aws/credentials` and `~/.aws/config` (`AWS_PROFILE`, `AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`): keys, `role_arn` + `source_profile`/`credential_source`, `web_identity_token_file`, `credential_process` |
//! | 3 | [`WebIdentityCredentials`] | `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` (EKS IRSA) → STS `AssumeRoleWithWebIdentity` |
//! | 4 | [`ContainerCredentials`] | `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (ECS, Fargate) or `_FULL_URI` + `AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]` (EKS Pod Identity) |
//! | 5 | [`InstanceMetadataCredentials`] | EC2 instance metadata, IMDSv2 (`AWS_EC2_METADATA_SERVICE_ENDPOINT`, `AWS_EC2_METADATA_DISABLED`) |
//!
//! [`S3Storage`](crate::S3Storage) keeps what a provider returns in a cache that refreshes it ahead
//! of its expiry (see [`S3Config::with_credentials_provider`](crate::S3Config::with_credentials_provider)).

use std::fmt;

use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::sigv4::Error;

#[cfg(feature = "s3")]
mod chain;
#[cfg(feature = "s3")]
mod container;
#[cfg(feature = "s3")]
mod env;
#[cfg(feature = "s3")]
mod error;
#[cfg(feature = "s3")]
mod http;
#[cfg(feature = "s3")]
mod imds;
#[cfg(feature = "s3")]
mod json;
#[cfg(feature = "s3")]
mod process;
#[cfg(feature = "s3")]
mod profile;
#[cfg(feature = "s3")]
mod provider;
#[cfg(feature = "s3")]
mod sts;
#[cfg(feature = "s3")]
mod web_identity;

#[cfg(feature = "s3")]
#[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
pub use chain::{CredentialSource, CredentialsChain, Resolution, Skipped};
#[cfg(feature = "s3")]
#[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
pub use container::ContainerCredentials;
#[cfg(feature = "s3")]
#[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
pub use env::EnvironmentCredentials;
#[cfg(feature = "s3")]
pub(crate) use env::{Env, from_env as env_credentials};
#[cfg(feature = "s3")]
#[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
pub use error::CredentialsError;
#[cfg(feature = "s3")]
#[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
pub use imds::InstanceMetadataCredentials;
#[cfg(feature = "s3")]
#[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
pub use profile::ProfileCredentials;
#[cfg(feature = "s3")]
pub(crate) use profile::region as profile_region;
#[cfg(feature = "s3")]
#[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
pub use provider::{ProvideCredentials, StaticCredentials};
#[cfg(feature = "s3")]
#[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
pub use web_identity::WebIdentityCredentials;

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

    /// Adds the time temporary credentials expire. A [`crate::S3Storage`] never signs with
    /// credentials past their expiry, and shortens presigned URLs to end by it (see
    /// [`PresignExpiry`](crate::PresignExpiry)).
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

    /// Reads credentials from the environment: `S3_ACCESS_KEY_ID`, `S3_SECRET_ACCESS_KEY` and the
    /// optional `S3_SESSION_TOKEN`, or when `S3_ACCESS_KEY_ID` and `S3_SECRET_ACCESS_KEY` are both
    /// unset, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` (a key of one set is
    /// never paired with the secret of the other). For the other places services find credentials,
    /// see [`CredentialsChain`].
    ///
    /// # Errors
    ///
    /// [`Error::MissingEnv`] when no access key id or no secret is set.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`from_env`](Self::from_env), with variables looked up through `lookup`.
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        match Self::lookup_pair(lookup) {
            Ok(Some(credentials)) => Ok(credentials),
            Ok(None) => Err(Error::MissingEnv { name: "S3_ACCESS_KEY_ID", hint: " (nor AWS_ACCESS_KEY_ID)" }),
            Err((_, missing)) => Err(Error::MissingEnv { name: missing, hint: "" }),
        }
    }

    /// The `S3_*` triple, or else the `AWS_*` one — never a key of one with the secret of the
    /// other. `Ok(None)` when neither key is set; `Err((set, missing))` when one of a pair is.
    pub(crate) fn lookup_pair(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, (&'static str, &'static str)> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        for (id, secret, token) in [
            ("S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "S3_SESSION_TOKEN"),
            ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"),
        ] {
            match (get(id), get(secret)) {
                (Some(key), Some(secret_value)) => {
                    let credentials = Self::new(key.trim(), secret_value.trim());
                    return Ok(Some(match get(token) {
                        Some(t) => credentials.with_session_token(t.trim()),
                        None => credentials,
                    }));
                }
                (Some(_), None) => return Err((id, secret)),
                (None, Some(_)) => return Err((secret, id)),
                (None, None) => {}
            }
        }
        Ok(None)
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
    fn env_prefers_s3_names_and_never_mixes_them_with_aws_names() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
        };
        let c = Credentials::from_lookup(env(&[
            ("S3_ACCESS_KEY_ID", "s3id"),
            ("S3_SECRET_ACCESS_KEY", "s3secret"),
            ("AWS_ACCESS_KEY_ID", "awsid"),
            ("AWS_SECRET_ACCESS_KEY", "awssecret"),
            ("AWS_SESSION_TOKEN", "awstoken"),
        ]))
        .unwrap();
        assert_eq!((c.access_key_id(), c.secret_access_key()), ("s3id", "s3secret"));
        assert!(!c.has_session_token(), "the AWS token belongs to the AWS key");
        let aws = Credentials::from_lookup(env(&[
            ("AWS_ACCESS_KEY_ID", "awsid"),
            ("AWS_SECRET_ACCESS_KEY", "awssecret"),
            ("AWS_SESSION_TOKEN", "awstoken"),
        ]))
        .unwrap();
        assert_eq!((aws.access_key_id(), aws.session_token()), ("awsid", Some("awstoken")));
        let mixed = Credentials::from_lookup(env(&[("S3_ACCESS_KEY_ID", "s3id"), ("AWS_SECRET_ACCESS_KEY", "x")]));
        assert!(matches!(mixed.unwrap_err(), Error::MissingEnv { name: "S3_SECRET_ACCESS_KEY", .. }));
        let none = Credentials::from_lookup(env(&[])).unwrap_err();
        assert!(matches!(none, Error::MissingEnv { name: "S3_ACCESS_KEY_ID", .. }));
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
