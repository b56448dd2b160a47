//! What comes back from the storage: an object's metadata, a download, the result of a write, and
//! listings that follow every page.

use std::collections::BTreeMap;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use time::OffsetDateTime;

use crate::Result;
use crate::body::ObjectBody;
use crate::checksum::StoredChecksum;

/// What S3 knows about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ObjectMeta {
    /// The key.
    pub key: String,
    /// Size in bytes: of the whole object, also for a ranged GET when the server states it
    /// (`Content-Range: bytes a-b/size`); otherwise the length of the range.
    pub size: u64,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `ETag`, with its quotes.
    pub etag: Option<String>,
    /// `Last-Modified`.
    #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339::option"))]
    pub last_modified: Option<OffsetDateTime>,
    /// `Cache-Control`.
    pub cache_control: Option<String>,
    /// `Content-Disposition`.
    pub content_disposition: Option<String>,
    /// `Content-Encoding`.
    pub content_encoding: Option<String>,
    /// User metadata (`x-amz-meta-*`), names lowercased without the prefix.
    pub metadata: BTreeMap<String, String>,
    /// The checksum the bucket keeps for the object, when asked for
    /// ([`GetOptions::with_checksum_mode`](super::GetOptions::with_checksum_mode)) and there is one.
    pub checksum: Option<StoredChecksum>,
}

impl ObjectMeta {
    /// An empty record for `key`.
    #[must_use]
    pub fn new(key: impl Into<String>, size: u64) -> Self {
        Self {
            key: key.into(),
            size,
            content_type: None,
            etag: None,
            last_modified: None,
            cache_control: None,
            content_disposition: None,
            content_encoding: None,
            metadata: BTreeMap::new(),
            checksum: None,
        }
    }
}

/// What a write returns.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PutObjectOutput {
    /// The new object's `ETag`.
    pub etag: Option<String>,
    /// The checksum the bucket verified and keeps, for a write made with one.
    pub checksum: Option<StoredChecksum>,
}

impl PutObjectOutput {
    /// The result of a write that stored an object with `etag`.
    #[must_use]
    pub fn new(etag: Option<String>) -> Self {
        Self { etag, checksum: None }
    }

    /// The same, with the checksum the bucket verified.
    #[must_use]
    pub fn with_checksum(mut self, checksum: Option<StoredChecksum>) -> Self {
        self.checksum = checksum;
        self
    }
}

/// A download: the object's metadata and its bytes as a stream.
#[non_exhaustive]
pub struct GetObjectOutput {
    /// Metadata from the response headers. `size` is the whole object's.
    pub meta: ObjectMeta,
    /// With a range: the `Content-Range` the server answered with.
    pub content_range: Option<String>,
    /// The bytes.
    pub body: ObjectBody,
}

impl GetObjectOutput {
    /// A download of the object `meta` describes, its bytes (or those of the range asked for) read
    /// from `body`.
    #[must_use]
    pub fn new(meta: ObjectMeta, body: ObjectBody) -> Self {
        Self { meta, content_range: None, body }
    }

    /// The `Content-Range` of a ranged download.
    #[must_use]
    pub fn with_content_range(mut self, content_range: impl Into<String>) -> Self {
        self.content_range = Some(content_range.into());
        self
    }

    /// Reads the whole body into memory.
    ///
    /// # Errors
    ///
    /// Transport errors while reading.
    pub async fn bytes(self) -> Result<Bytes> {
        self.body.bytes().await
    }

    /// The body as a stream of chunks.
    pub fn into_stream(self) -> Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>> {
        self.body.into_stream()
    }
}

impl fmt::Debug for GetObjectOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetObjectOutput").field("meta", &self.meta).field("content_range", &self.content_range).finish()
    }
}

/// A listing: a stream of entries that fetches the next page when the entries of the one before
/// are used up. Read it entry by entry with [`try_next`](Self::try_next) (or as a
/// [`Stream`] of `Result<T>`), or whole with [`all`](Self::all).
///
/// The first failed page ends it: the error is the last item.
pub struct Listing<'a, T> {
    stream: Pin<Box<dyn Stream<Item = Result<T>> + Send + 'a>>,
    failed: bool,
}

impl<'a, T> Listing<'a, T> {
    /// A listing of what `stream` yields (for a backend of your own: fetch a page when the entries of
    /// the one before are used up).
    pub fn new(stream: impl Stream<Item = Result<T>> + Send + 'a) -> Self {
        Self { stream: Box::pin(stream), failed: false }
    }

    /// The next entry, `None` after the last.
    ///
    /// # Errors
    ///
    /// The error of the page that could not be fetched (signing, transport, service, or an answer
    /// that could not be read).
    pub async fn try_next(&mut self) -> Result<Option<T>> {
        self.next().await.transpose()
    }

    /// Every entry, all pages fetched.
    ///
    /// # Errors
    ///
    /// As [`try_next`](Self::try_next).
    pub async fn all(mut self) -> Result<Vec<T>> {
        let mut out = Vec::new();
        while let Some(entry) = self.try_next().await? {
            out.push(entry);
        }
        Ok(out)
    }
}

impl<T> Stream for Listing<'_, T> {
    type Item = Result<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.failed {
            return Poll::Ready(None);
        }
        let item = self.stream.poll_next_unpin(cx);
        if let Poll::Ready(Some(Err(_))) = &item {
            self.failed = true;
        }
        item
    }
}

impl<T> fmt::Debug for Listing<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Listing")
    }
}
