//! The one trait every credentials source implements.

use std::fmt;

use super::{Credentials, CredentialsError};

/// A source of credentials: something that can be asked, at any time, for the credentials to sign
/// with now. Object-safe (`Arc<dyn ProvideCredentials>`), so that a backend can hold any source.
///
/// Implementations fetch; they do not cache. [`S3Storage`](crate::S3Storage) calls
/// [`provide`](Self::provide) once at start, then again ahead of each expiry, from one task at a
/// time, and bounds how long a call may take (see
/// [`S3Config::with_credentials_load_timeout`](crate::S3Config::with_credentials_load_timeout)).
///
/// A source of your own, such as a secrets manager:
///
/// ```
/// use stowage::Credentials;
/// use stowage::credentials::{CredentialsError, ProvideCredentials};
///
/// #[derive(Debug)]
/// struct Vault;
///
/// #[async_trait::async_trait]
/// impl ProvideCredentials for Vault {
///     async fn provide(&self) -> Result<Credentials, CredentialsError> {
///         // … ask the vault …
///         Ok(Credentials::new("AKIDEXAMPLE", "secret")
///             .with_expiry(time::OffsetDateTime::now_utc() + time::Duration::hours(1)))
///     }
///
///     fn name(&self) -> String {
///         "the vault".into()
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait ProvideCredentials: Send + Sync + fmt::Debug {
    /// Fetches credentials.
    ///
    /// # Errors
    ///
    /// A [`CredentialsError`] naming this source and what went wrong;
    /// [`CredentialsError::NotConfigured`] when the source is not set up here, so that a chain can
    /// move on.
    async fn provide(&self) -> Result<Credentials, CredentialsError>;

    /// What to call this source in errors and diagnostics (never a secret).
    fn name(&self) -> String;

    /// For a source that chooses among others (a [`CredentialsChain`](super::CredentialsChain)): how
    /// the last [`provide`](Self::provide) went — which source answered and why the earlier ones were
    /// skipped. `None` for a single source.
    fn last_resolution(&self) -> Option<super::Resolution> {
        None
    }
}

/// Fixed credentials as a provider, for [`S3Config::from_provider`](crate::S3Config::from_provider)
/// and for tests of the rotating path. ([`S3Config::new`](crate::S3Config::new) takes a
/// [`Credentials`] value directly.) They never change; with an expiry set, they stop being used at it.
#[derive(Debug, Clone)]
pub struct StaticCredentials {
    credentials: Credentials,
}

impl StaticCredentials {
    /// A provider that always answers `credentials`.
    #[must_use]
    pub fn new(credentials: Credentials) -> Self {
        Self { credentials }
    }
}

#[async_trait::async_trait]
impl ProvideCredentials for StaticCredentials {
    async fn provide(&self) -> Result<Credentials, CredentialsError> {
        Ok(self.credentials.clone())
    }

    fn name(&self) -> String {
        "static credentials".into()
    }
}

#[async_trait::async_trait]
impl<P: ProvideCredentials + ?Sized> ProvideCredentials for std::sync::Arc<P> {
    async fn provide(&self) -> Result<Credentials, CredentialsError> {
        (**self).provide().await
    }

    fn name(&self) -> String {
        (**self).name()
    }

    fn last_resolution(&self) -> Option<super::Resolution> {
        (**self).last_resolution()
    }
}
