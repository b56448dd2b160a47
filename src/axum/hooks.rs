//! The app learns what was stored: the completion hook.

use std::future::Future;

use crate::axum::OwnerId;

/// A verified object, as the completion hook receives it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct StoredUpload {
    /// Its final key.
    pub key: String,
    /// The person's file name, sanitised (offer it back as the download name).
    pub filename: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its type, as stored.
    pub content_type: Option<String>,
    /// Its ETag, as stored.
    pub etag: Option<String>,
    /// Who uploaded it.
    pub owner: OwnerId,
    /// The checksum the bucket verified, when the client gave one (for a cleaned image: of the
    /// clean bytes, which stowage wrote with it).
    pub checksum: Option<crate::checksum::StoredChecksum>,
    /// The variants written beside a cleaned image ([`Uploads::with_images`](super::Uploads::with_images));
    /// empty for anything else. Delete them with the image
    /// ([`delete_upload`](crate::constraints::delete_upload)).
    #[cfg(feature = "images")]
    pub variants: Vec<crate::constraints::StoredVariant>,
}

/// Why the completion hook could not record an upload (kept in the service's logs through
/// `tracing`; the person is told the file was stored and to send the completion again).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HookFailure(pub String);

impl HookFailure {
    /// A failure saying `why`.
    pub fn new(why: impl Into<String>) -> Self {
        Self(why.into())
    }
}

/// The app's completion hook: records a verified upload (in its database, say) and answers what to
/// add to the completion's JSON reply (an object; anything else adds nothing). Any async function or
/// closure of [`StoredUpload`] that answers `Result<serde_json::Value, HookFailure>` is one.
///
/// **The guarantee.** The hook runs after the object is verified and at its final key, and before
/// the upload's ticket is forgotten. Its answer is merged into the completion's JSON reply. If it
/// fails, nothing is undone: the file stays where it is, the ticket stays, the reply is a 503 saying
/// the file was stored but not recorded, and the same completion sent again (by the page, by a retry,
/// on any instance) finds the object already in place and runs the hook again. So the hook runs at
/// least once for every upload that is kept, possibly more than once: make it idempotent, keyed by
/// [`StoredUpload::key`] (an `INSERT … ON CONFLICT (key) DO NOTHING`). A completion sent after the
/// hook succeeded finds no ticket and is refused (404), like any upload that is not in progress.
///
/// Until the hook has succeeded the object is at its key but unrecorded, which is what the app's own
/// listing (from its database) sees; a listing of the bucket sees it already.
#[async_trait::async_trait]
pub trait OnComplete: Send + Sync + 'static {
    /// Records `upload`.
    ///
    /// # Errors
    ///
    /// A [`HookFailure`]: the upload stays stored and its completion can be sent again.
    async fn completed(&self, upload: &StoredUpload) -> Result<serde_json::Value, HookFailure>;
}

#[async_trait::async_trait]
impl<F, Fut> OnComplete for F
where
    F: Fn(StoredUpload) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<serde_json::Value, HookFailure>> + Send,
{
    async fn completed(&self, upload: &StoredUpload) -> Result<serde_json::Value, HookFailure> {
        self(upload.clone()).await
    }
}
