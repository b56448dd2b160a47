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

/// Fixed credentials as a provider, for tests of the rotating path ([`S3Config::new`](crate::S3Config::new)
/// takes a [`Credentials`] value directly, without a cache). They never change; with an expiry set,
/// they stop being used at it.
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

/// Credentials as [`S3Config::new`](crate::S3Config::new) takes them: fixed [`Credentials`], or any
/// [`ProvideCredentials`] (a source of the chain, the chain itself, or one of your own), asked ahead
/// of each expiry.
///
/// ```
/// use stowage::credentials::ContainerCredentials;
/// use stowage::{Credentials, S3Config};
///
/// let fixed = S3Config::new("my-app-uploads", "auto", Credentials::new("AKID", "secret"));
/// let ecs = S3Config::new("my-app-uploads", "eu-west-1", ContainerCredentials::from_env());
/// # let _ = (fixed, ecs);
/// ```
#[derive(Clone)]
pub struct AnyCredentials(pub(crate) Source);

/// What [`AnyCredentials`] holds.
#[derive(Clone)]
pub(crate) enum Source {
    Fixed(Credentials),
    Provider(std::sync::Arc<dyn ProvideCredentials>),
}

impl From<Credentials> for AnyCredentials {
    fn from(credentials: Credentials) -> Self {
        Self(Source::Fixed(credentials))
    }
}

impl<P: ProvideCredentials + 'static> From<P> for AnyCredentials {
    fn from(provider: P) -> Self {
        Self(Source::Provider(std::sync::Arc::new(provider)))
    }
}

impl fmt::Debug for AnyCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Source::Fixed(credentials) => credentials.fmt(f),
            Source::Provider(provider) => f.debug_tuple("Provider").field(provider).finish(),
        }
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
