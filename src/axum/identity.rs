//! The person behind each upload: the app's identity hook, and what an uploader may narrow.
//!
//! The router asks the hook at every request (from the request's headers, cookies, and the
//! extensions an auth middleware set) and answers a refusal itself. Each ticket records its owner;
//! for anyone else, every later call about that upload is answered as for an upload that does not
//! exist, so that an upload's existence does not leak.

use std::fmt;
use std::future::Future;

use ::axum::http::request::Parts;

use crate::constraints::TypePattern;

/// An owner id: 1 to 64 of `A-Z a-z 0-9 _ -`. It becomes a path segment of keys, so it holds
/// nothing a path could be bent with.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OwnerId(String);

/// An owner id that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{id:?} is not an owner id: use 1 to 64 of A-Z a-z 0-9 _ -")]
pub struct InvalidOwner {
    /// What was given (cut to 64 characters).
    pub id: String,
}

impl OwnerId {
    /// An owner id.
    ///
    /// # Errors
    ///
    /// [`InvalidOwner`] for an empty id, one over 64 bytes, or one with any other character (`/`,
    /// `.`, spaces, …).
    pub fn new(id: impl Into<String>) -> Result<Self, InvalidOwner> {
        let id = id.into();
        let valid =
            (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            return Err(InvalidOwner { id: id.chars().take(64).collect() });
        }
        Ok(Self(id))
    }

    /// The id.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OwnerId {
    type Error = InvalidOwner;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        Self::new(id)
    }
}

impl From<OwnerId> for String {
    fn from(id: OwnerId) -> Self {
        id.0
    }
}

impl fmt::Display for OwnerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for OwnerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OwnerId({:?})", self.0)
    }
}

/// The person an upload belongs to, as the identity hook says, and how the upload policy narrows for
/// them: a key prefix of their own, a smaller size limit, fewer types, another cap on uploads in
/// progress. Nothing here can widen the policy.
///
/// ```
/// use stowage::axum::Uploader;
///
/// // A signed-in user who may upload images up to 5 MiB, kept under `avatars/42/`.
/// let user = Uploader::new("42")?
///     .with_key_prefix("avatars/42/")?
///     .with_max_size(5 << 20)
///     .with_types(["image/*"])?;
/// assert_eq!(user.id().as_str(), "42");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Uploader {
    id: OwnerId,
    key_prefix: Option<String>,
    max_size: Option<u64>,
    types: Option<Vec<TypePattern>>,
    max_in_progress: Option<u32>,
}

impl Uploader {
    /// The uploader `id`, under the policy as it is. Their keys go under `<prefix><id>/`.
    ///
    /// # Errors
    ///
    /// [`InvalidOwner`] for an id that is not an [`OwnerId`].
    pub fn new(id: impl Into<String>) -> Result<Self, InvalidOwner> {
        Ok(Self { id: OwnerId::new(id)?, key_prefix: None, max_size: None, types: None, max_in_progress: None })
    }

    /// The one uploader of a router without an identity hook: `anonymous`, everyone together, with
    /// no cap on uploads in progress.
    pub fn anonymous() -> Self {
        Self {
            id: OwnerId("anonymous".into()),
            key_prefix: None,
            max_size: None,
            types: None,
            max_in_progress: Some(u32::MAX),
        }
    }

    /// Keys under this prefix inside the policy's (default `<id>/`): relative, ending with `/`, of
    /// `A-Z a-z 0-9 _ - . /` without `.` or `..` segments.
    ///
    /// # Errors
    ///
    /// [`InvalidOwner`] (naming the prefix) for anything else.
    pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> Result<Self, InvalidOwner> {
        let prefix = prefix.into();
        let valid = prefix.len() <= 256
            && prefix.ends_with('/')
            && !prefix.starts_with('/')
            && prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-./".contains(&b))
            && prefix
                .strip_suffix('/')
                .is_some_and(|folders| folders.split('/').all(|s| !s.is_empty() && s != "." && s != ".."));
        if !valid {
            return Err(InvalidOwner { id: prefix.chars().take(64).collect() });
        }
        self.key_prefix = Some(prefix);
        Ok(self)
    }

    /// A size limit below the policy's (the smaller of the two applies).
    pub fn with_max_size(mut self, bytes: u64) -> Self {
        self.max_size = Some(bytes);
        self
    }

    /// Only these types (patterns such as `image/*`), and among them only what the policy allows.
    ///
    /// # Errors
    ///
    /// [`PolicyViolation::InvalidContentType`](crate::constraints::PolicyViolation::InvalidContentType)
    /// for a malformed pattern.
    pub fn with_types<'a>(
        mut self,
        patterns: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, crate::constraints::PolicyViolation> {
        self.types = Some(patterns.into_iter().map(TypePattern::parse).collect::<Result<_, _>>()?);
        Ok(self)
    }

    /// Another cap on this uploader's uploads in progress than the router's.
    pub fn with_max_in_progress(mut self, uploads: u32) -> Self {
        self.max_in_progress = Some(uploads);
        self
    }

    /// `policy` as it applies to this uploader: keys under their prefix inside the policy's (and
    /// inside its staging prefix), the smaller size limit, and only the types both allow. The
    /// endpoints apply it to every upload; an app applies it to its own upload routes.
    pub fn narrow(&self, policy: &crate::constraints::UploadPolicy) -> crate::constraints::UploadPolicy {
        policy.narrowed(&self.key_prefix(), self.max_size, self.types.as_deref())
    }

    /// The owner id.
    #[must_use]
    pub fn id(&self) -> &OwnerId {
        &self.id
    }

    /// The key prefix inside the policy's.
    #[must_use]
    pub fn key_prefix(&self) -> String {
        self.key_prefix.clone().unwrap_or_else(|| format!("{}/", self.id))
    }

    /// The size limit of their own, if any.
    #[must_use]
    pub fn max_size(&self) -> Option<u64> {
        self.max_size
    }

    /// The types of their own, if any.
    #[must_use]
    pub fn types(&self) -> Option<&[TypePattern]> {
        self.types.as_deref()
    }

    /// The cap of their own, if any.
    #[must_use]
    pub fn max_in_progress(&self) -> Option<u32> {
        self.max_in_progress
    }
}

/// What the identity hook answers for a request it will not let upload: the status (401, 403) and a
/// sentence for the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityRefusal {
    pub(super) status: u16,
    pub(super) message: String,
}

impl IdentityRefusal {
    /// 401: nobody is signed in (or the sign-in could not be checked).
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self { status: 401, message: message.into() }
    }

    /// 403: someone is signed in who may not upload.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self { status: 403, message: message.into() }
    }
}

/// The app's identity hook: from a request's parts (headers, cookies, the extensions an auth
/// middleware set), the uploader, or a refusal. Any async function or closure of [`Parts`] that
/// answers `Result<Uploader, IdentityRefusal>` is one:
///
/// ```
/// use axum::http::request::Parts;
/// use stowage::axum::{IdentityRefusal, Uploader};
///
/// /// The user id an auth middleware put in the request's extensions.
/// #[derive(Clone)]
/// struct UserId(u64);
///
/// async fn who(parts: Parts) -> Result<Uploader, IdentityRefusal> {
///     let Some(UserId(id)) = parts.extensions.get::<UserId>().cloned() else {
///         return Err(IdentityRefusal::unauthorized("Sign in to upload files."));
///     };
///     Uploader::new(id.to_string()).map_err(|_| IdentityRefusal::forbidden("This account cannot upload."))
/// }
/// # fn check(_: impl stowage::axum::Identify) {}
/// # check(who);
/// ```
#[async_trait::async_trait]
pub trait Identify: Send + Sync + 'static {
    /// Who sends this request.
    ///
    /// # Errors
    ///
    /// The refusal the router answers with.
    async fn identify(&self, request: &Parts) -> Result<Uploader, IdentityRefusal>;
}

#[async_trait::async_trait]
impl<F, Fut> Identify for F
where
    F: Fn(Parts) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Uploader, IdentityRefusal>> + Send,
{
    async fn identify(&self, request: &Parts) -> Result<Uploader, IdentityRefusal> {
        self(request.clone()).await
    }
}

/// Everyone is [`Uploader::anonymous`]: the router's default.
pub(super) struct Anonymous;

#[async_trait::async_trait]
impl Identify for Anonymous {
    async fn identify(&self, _request: &Parts) -> Result<Uploader, IdentityRefusal> {
        Ok(Uploader::anonymous())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_ids_and_prefixes_hold_no_path() {
        for bad in ["", "a/b", "..", ".", "a b", "é", "a\nb", &"x".repeat(65)] {
            assert!(OwnerId::new(bad).is_err(), "{bad:?}");
        }
        assert!(OwnerId::new("user_42-a").is_ok());
        for bad in ["/abs/", "a", "a/../b/", "./", "a//", "a b/", "..//"] {
            assert!(Uploader::new("u").unwrap().with_key_prefix(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Uploader::new("u").unwrap().key_prefix(), "u/");
        assert_eq!(Uploader::new("u").unwrap().with_key_prefix("a/b.c/").unwrap().key_prefix(), "a/b.c/");
    }
}
