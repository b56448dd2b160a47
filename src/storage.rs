//! The [`Storage`] trait and the values that go in and out of it.

use std::collections::BTreeMap;
use std::fmt;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use time::OffsetDateTime;

use crate::Result;
use crate::body::{Body, ObjectBody};
use crate::multipart::{CompletedPart, MultipartUpload, MultipartUploadInfo, PartNumber, UploadedPart};
use crate::sigv4::redact_query;

/// Object storage as a web service needs it: presigned uploads and downloads for browsers, and
/// uploads, downloads, checks and deletes from the server.
///
/// Object-safe: hold it as `Arc<dyn Storage>` and switch between AWS S3, Cloudflare R2 and a local
/// S3-compatible server by configuration alone ([`S3Storage::from_env`](crate::S3Storage::from_env)).
///
/// ```no_run
/// # async fn demo() -> stowage::Result<()> {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use stowage::{PutOptions, Storage};
///
/// let storage: Arc<dyn Storage> = Arc::new(stowage::S3Storage::from_env()?);
/// let upload = storage.presign_put(
///     "uploads/avatar.png",
///     &PutOptions::new().content_type("image/png").content_length(1024),
///     Duration::from_secs(300),
/// )?;
/// // Hand `upload` (method, URL, headers) to the browser; later:
/// if let Some(meta) = storage.head_object("uploads/avatar.png").await? {
///     println!("{} bytes of {:?}", meta.size, meta.content_type);
/// }
/// # Ok(())
/// # }
/// ```
#[async_trait::async_trait]
pub trait Storage: Send + Sync + fmt::Debug {
    /// A presigned PUT: anyone holding it can upload to `key`, sending the returned headers, until it
    /// expires. Every header of `options` is signed, so the server itself rejects an upload whose
    /// Content-Type or Content-Length differs from what was signed.
    ///
    /// The URL carries the key exactly, as botocore writes it. A key with `.` or `..` segments
    /// (`a/../b`) therefore yields a URL that browsers and WHATWG-style URL libraries rewrite before
    /// sending, which breaks its signature; keys from
    /// [`safe_key`](crate::constraints::safe_key) never have such segments.
    ///
    /// # Errors
    ///
    /// [`Error::Signing`](crate::Error::Signing) for a bad key, header or expiry (1 s ..= 7 days);
    /// [`Error::Unsupported`](crate::Error::Unsupported) for options the backend cannot honour.
    fn presign_put(&self, key: &str, options: &PutOptions, expires_in: Duration) -> Result<PresignedRequest>;

    /// A presigned GET of `key`, with optional response overrides (download file name, type, cache
    /// control).
    ///
    /// # Errors
    ///
    /// As [`presign_put`](Self::presign_put).
    fn presign_get(&self, key: &str, options: &GetOptions, expires_in: Duration) -> Result<PresignedRequest>;

    /// Uploads `body` to `key` from the server. Streams and files are sent as they are read, with
    /// bounded memory.
    ///
    /// # Errors
    ///
    /// Signing, transport, I/O and service errors.
    async fn put_object(&self, key: &str, body: Body, options: &PutOptions) -> Result<PutObjectOutput>;

    /// The metadata of `key`, or `None` when there is no such object. (An answer to HEAD has no body,
    /// so a bucket that does not exist also reads as `None`: the `doctor` example tells them apart.)
    ///
    /// # Errors
    ///
    /// Signing, transport and service errors other than "not found".
    async fn head_object(&self, key: &str) -> Result<Option<ObjectMeta>>;

    /// Downloads `key` (or a range of it) as a stream.
    ///
    /// # Errors
    ///
    /// [`Error::is_not_found`](crate::Error::is_not_found) when there is no such object; signing,
    /// transport and other service errors.
    async fn get_object(&self, key: &str, options: &GetOptions) -> Result<GetObjectOutput>;

    /// Deletes `key`. Deleting a key that does not exist succeeds, as in S3.
    ///
    /// # Errors
    ///
    /// Signing, transport and service errors.
    async fn delete_object(&self, key: &str) -> Result<()>;

    /// One page of the objects whose keys start with `prefix`, in key order.
    ///
    /// # Errors
    ///
    /// Signing, transport and service errors.
    async fn list_objects(&self, prefix: &str, options: &ListOptions) -> Result<ObjectList>;

    /// A presigned browser POST upload (an HTML form): the URL to post to and the form fields to
    /// send before the file, under a policy the server enforces (key prefix, exact content type, size
    /// range).
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`](crate::Error::Unsupported) where the service has no POST uploads
    /// (Cloudflare R2); signing errors.
    fn presign_post(&self, policy: &PostPolicy, expires_in: Duration) -> Result<PresignedPost>;

    /// Starts a multipart upload to `key`, stored with the headers of `options` (content type,
    /// metadata, cache control, …; the service's refusals apply, as for
    /// [`put_object`](Self::put_object)). Nothing is visible at the key until
    /// [`complete_multipart_upload`](Self::complete_multipart_upload).
    ///
    /// # Errors
    ///
    /// Signing, transport and service errors; [`Error::Unsupported`](crate::Error::Unsupported) for
    /// options the service refuses.
    async fn create_multipart_upload(&self, key: &str, options: &PutOptions) -> Result<MultipartUpload>;

    /// A presigned PUT of one part, for a browser or another client. With `content_length`, the
    /// part's size is signed and the bucket refuses a part of any other size. The answer's `ETag`
    /// header names the part at completion (a browser reads it only if the bucket's CORS exposes it).
    ///
    /// # Errors
    ///
    /// As [`presign_put`](Self::presign_put); [`Error::Multipart`](crate::Error::Multipart) for a size
    /// over the largest part.
    fn presign_upload_part(
        &self,
        upload: &MultipartUpload,
        part: PartNumber,
        content_length: Option<u64>,
        expires_in: Duration,
    ) -> Result<PresignedRequest>;

    /// Uploads one part from the server and returns it as completion names it. A part can be sent
    /// again (the last one sent counts).
    ///
    /// # Errors
    ///
    /// Signing, transport, I/O and service errors (`NoSuchUpload` for an upload that no longer
    /// exists).
    async fn upload_part(&self, upload: &MultipartUpload, part: PartNumber, body: Body) -> Result<CompletedPart>;

    /// Copies `range` of the object `source` (all of it with `None`) into part `part` of `upload`, on
    /// the server, on the condition that the source's ETag is `if_match` when given.
    ///
    /// # Errors
    ///
    /// Not found when the source does not exist; a `PreconditionFailed` service error when it is not
    /// the expected one; signing, transport and service errors.
    async fn upload_part_copy(
        &self,
        upload: &MultipartUpload,
        part: PartNumber,
        source: &str,
        range: Option<std::ops::Range<u64>>,
        if_match: Option<&str>,
    ) -> Result<CompletedPart>;

    /// The parts stored for an upload in progress, in order, following every page of the listing.
    ///
    /// # Errors
    ///
    /// Signing, transport and service errors.
    async fn list_parts(&self, upload: &MultipartUpload) -> Result<Vec<UploadedPart>>;

    /// Completes an upload from its parts (ascending, each once): the object appears at the key,
    /// whole. An answer of 200 that carries an error document is an error.
    ///
    /// # Errors
    ///
    /// [`Error::Multipart`](crate::Error::Multipart) for an empty or unordered part list (before any
    /// request); service errors `InvalidPart` (a part missing or with another ETag), `EntityTooSmall`
    /// (a part but the last under 5 MiB), `NoSuchUpload`, each with what to do.
    async fn complete_multipart_upload(
        &self,
        upload: &MultipartUpload,
        parts: &[CompletedPart],
    ) -> Result<PutObjectOutput>;

    /// Aborts an upload: its parts are deleted and nothing appears at the key. Aborting an upload
    /// that no longer exists succeeds.
    ///
    /// # Errors
    ///
    /// Signing, transport and service errors.
    async fn abort_multipart_upload(&self, upload: &MultipartUpload) -> Result<()>;

    /// The uploads in progress whose keys start with `prefix`, following every page (to clean up
    /// the abandoned ones: [`abort_stale_uploads`](crate::multipart::abort_stale_uploads)).
    ///
    /// # Errors
    ///
    /// Signing, transport and service errors.
    async fn list_multipart_uploads(&self, prefix: &str) -> Result<Vec<MultipartUploadInfo>>;

    /// Copies `source` to `destination` in the same bucket, on the server: no byte passes through
    /// this process. Metadata is copied, or replaced by [`CopyOptions::replace`]; objects over 5 GiB
    /// are copied part by part. The copy is of the source as it is when the copy starts: its ETag is
    /// a condition of every request (and [`CopyOptions::if_match`] can name the one expected).
    ///
    /// # Errors
    ///
    /// [`Error::is_not_found`](crate::Error::is_not_found) when the source does not exist; a
    /// `PreconditionFailed` service error when it is not the expected one (or changed during a
    /// part-by-part copy, which is then aborted); signing, transport and service errors.
    async fn copy_object(&self, source: &str, destination: &str, options: &CopyOptions) -> Result<PutObjectOutput>;
}

/// How [`Storage::copy_object`] copies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct CopyOptions {
    /// `None`: the copy keeps the source's type and metadata; `Some`: it gets these instead.
    pub replace: Option<PutOptions>,
    /// Copy only if the source's ETag is this one.
    pub if_match: Option<String>,
}

impl CopyOptions {
    /// Copy type and metadata with the bytes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Store the copy with these headers (type, metadata, cache control, …) instead of the source's.
    pub fn replace(mut self, options: PutOptions) -> Self {
        self.replace = Some(options);
        self
    }

    /// Copy only the version of the source with this ETag (as [`ObjectMeta::etag`] gives it): the
    /// object verified is the object copied.
    pub fn if_match(mut self, etag: impl Into<String>) -> Self {
        self.if_match = Some(etag.into());
        self
    }
}

/// The conditions of a browser POST upload. Every condition is signed into the policy document; S3
/// rejects a form that breaks one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub struct PostPolicy {
    /// The `key` form field.
    pub key: String,
    /// `["starts-with", "$key", …]`: the key must start with this (the whole key is exact otherwise).
    pub key_starts_with: Option<String>,
    /// `{"Content-Type": …}`: the exact content type the form must send.
    pub content_type: Option<String>,
    /// `["content-length-range", min, max]`: the file's size in bytes.
    pub content_length_range: Option<(u64, u64)>,
    /// `success_action_status`: 200, 201 or 204 (S3's default is 204).
    pub success_action_status: Option<u16>,
}

impl PostPolicy {
    /// A policy for uploading to exactly `key`.
    pub fn new(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            key_starts_with: None,
            content_type: None,
            content_length_range: None,
            success_action_status: None,
        }
    }

    /// Accept any key starting with `prefix` (the form's `key` field still defaults to [`key`](Self::key)).
    pub fn key_starts_with(mut self, prefix: impl Into<String>) -> Self {
        self.key_starts_with = Some(prefix.into());
        self
    }

    /// Require exactly this `Content-Type`.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Require a file size within `min..=max` bytes.
    pub fn content_length_range(mut self, min: u64, max: u64) -> Self {
        self.content_length_range = Some((min, max));
        self
    }

    /// The status S3 answers a successful upload with.
    pub fn success_action_status(mut self, status: u16) -> Self {
        self.success_action_status = Some(status);
        self
    }
}

/// A presigned browser POST upload: post `multipart/form-data` to `url` with `fields` in this order,
/// then the file in a last field called `file`.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PresignedPost {
    /// Where to post the form (the bucket's URL).
    pub url: String,
    /// The form fields, in order; the file goes after them.
    pub fields: Vec<(String, String)>,
    /// When the policy stops being accepted.
    #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
    pub expires_at: OffsetDateTime,
}

impl fmt::Debug for PresignedPost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: Vec<(&str, &str)> = self
            .fields
            .iter()
            .map(|(k, v)| match k.as_str() {
                "x-amz-signature" | "x-amz-security-token" | "policy" => (k.as_str(), "** redacted **"),
                _ => (k.as_str(), v.as_str()),
            })
            .collect();
        f.debug_struct("PresignedPost")
            .field("url", &self.url)
            .field("fields", &fields)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A request presigned for a browser or another client: send `method` to `url` with exactly these
/// `headers` before `expires_at`.
///
/// With the `serde` feature it serialises as `{"method", "url", "headers": {name: value},
/// "expires_at": RFC 3339}`, ready to return from a JSON endpoint. Its `Debug` output hides the query
/// string, which is a bearer credential.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PresignedRequest {
    /// `PUT`, `GET`, …
    pub method: String,
    /// The presigned URL.
    pub url: String,
    /// The headers the client must send, exactly (lowercase names).
    pub headers: BTreeMap<String, String>,
    /// When the URL stops working.
    #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
    pub expires_at: OffsetDateTime,
}

impl fmt::Debug for PresignedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresignedRequest")
            .field("method", &self.method)
            .field("url", &redact_query(&self.url))
            .field("headers", &self.headers)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl From<crate::sigv4::PresignedUrl> for PresignedRequest {
    fn from(p: crate::sigv4::PresignedUrl) -> Self {
        let method = p.method().as_str().to_owned();
        let expires_at = p.expires_at();
        let headers = p.headers().iter().map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned())).collect();
        Self { method, url: p.into_url(), headers, expires_at }
    }
}

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
        }
    }
}

/// The headers an object is stored with, for uploads and presigned uploads.
///
/// Every option becomes a signed header. Build it with the chained methods:
///
/// ```
/// let options = stowage::PutOptions::new()
///     .content_type("image/png")
///     .content_length(48_213)
///     .cache_control("public, max-age=31536000, immutable")
///     .metadata("uploaded-by", "user-42");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct PutOptions {
    headers: Vec<(String, String)>,
}

impl PutOptions {
    /// No options.
    pub fn new() -> Self {
        Self::default()
    }

    fn set(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// `Content-Type`, signed: a presigned upload must send exactly this type.
    pub fn content_type(self, content_type: impl Into<String>) -> Self {
        self.set("content-type", content_type)
    }

    /// `Content-Length`, signed: a presigned upload must be exactly this long. (For
    /// [`Storage::put_object`] the length comes from the body.)
    pub fn content_length(self, length: u64) -> Self {
        self.set("content-length", length.to_string())
    }

    /// `Cache-Control` stored with the object and sent with every download.
    pub fn cache_control(self, value: impl Into<String>) -> Self {
        self.set("cache-control", value)
    }

    /// `Content-Disposition` stored with the object (see [`content_disposition`] to build one).
    pub fn content_disposition(self, value: impl Into<String>) -> Self {
        self.set("content-disposition", value)
    }

    /// `Content-Encoding` stored with the object.
    pub fn content_encoding(self, value: impl Into<String>) -> Self {
        self.set("content-encoding", value)
    }

    /// A user metadata entry, `x-amz-meta-<name>` (ASCII values; encode others first).
    pub fn metadata(self, name: &str, value: impl Into<String>) -> Self {
        let header = format!("x-amz-meta-{}", name.to_ascii_lowercase());
        self.set(&header, value)
    }

    /// `x-amz-storage-class`, such as `STANDARD_IA`.
    pub fn storage_class(self, class: impl Into<String>) -> Self {
        self.set("x-amz-storage-class", class)
    }

    /// A canned ACL, `x-amz-acl` (AWS S3; refused by R2).
    pub fn acl(self, acl: impl Into<String>) -> Self {
        self.set("x-amz-acl", acl)
    }

    /// Server-side encryption, `x-amz-server-side-encryption` (`AES256` or `aws:kms`; refused by R2).
    pub fn server_side_encryption(self, algorithm: impl Into<String>) -> Self {
        self.set("x-amz-server-side-encryption", algorithm)
    }

    /// Object tags, `x-amz-tagging` (URL-encoded `k=v&k2=v2`; refused by R2).
    pub fn tagging(self, tags: &[(&str, &str)]) -> Self {
        let encoded = tags
            .iter()
            .map(|(k, v)| format!("{}={}", crate::sigv4::encode_component(k), crate::sigv4::encode_component(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.set("x-amz-tagging", encoded)
    }

    /// Any other header to store and sign with the object (such as `x-amz-object-lock-mode`,
    /// `content-language`, `expires`).
    pub fn header(self, name: &str, value: impl Into<String>) -> Self {
        self.set(&name.to_ascii_lowercase(), value)
    }

    /// The headers, lowercase names, in the order set.
    #[must_use]
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The value of one header.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Options of a download: a byte range, and overrides of the response headers (the name a browser
/// saves the file under, its type, caching).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct GetOptions {
    /// `Range`: the bytes to fetch.
    pub range: Option<ByteRange>,
    /// `response-content-disposition` (see [`content_disposition`]).
    pub response_content_disposition: Option<String>,
    /// `response-content-type`.
    pub response_content_type: Option<String>,
    /// `response-cache-control`.
    pub response_cache_control: Option<String>,
}

impl GetOptions {
    /// No options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fetch only `range`.
    pub fn range(mut self, range: ByteRange) -> Self {
        self.range = Some(range);
        self
    }

    /// Download as an attachment saved under `filename` (any Unicode; encoded per RFC 6266 / 5987).
    pub fn attachment(mut self, filename: &str) -> Self {
        self.response_content_disposition = Some(content_disposition(Disposition::Attachment, filename));
        self
    }

    /// Show inline, with `filename` as the name to save under.
    pub fn inline(mut self, filename: &str) -> Self {
        self.response_content_disposition = Some(content_disposition(Disposition::Inline, filename));
        self
    }

    /// Override the `Content-Type` of the response.
    pub fn response_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.response_content_type = Some(content_type.into());
        self
    }

    /// Override the `Cache-Control` of the response.
    pub fn response_cache_control(mut self, value: impl Into<String>) -> Self {
        self.response_cache_control = Some(value.into());
        self
    }

    /// The query parameters of the overrides.
    pub(crate) fn query(&self) -> Vec<(&'static str, &str)> {
        let mut q = Vec::new();
        if let Some(v) = &self.response_cache_control {
            q.push(("response-cache-control", v.as_str()));
        }
        if let Some(v) = &self.response_content_disposition {
            q.push(("response-content-disposition", v.as_str()));
        }
        if let Some(v) = &self.response_content_type {
            q.push(("response-content-type", v.as_str()));
        }
        q
    }
}

/// A range of bytes of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteRange {
    /// Bytes `start..=end` (both inclusive, as in HTTP).
    Inclusive {
        /// First byte.
        start: u64,
        /// Last byte.
        end: u64,
    },
    /// From `start` to the end.
    From(u64),
    /// The last `n` bytes.
    Last(u64),
}

impl ByteRange {
    /// The first `n` bytes (`n` ≥ 1).
    #[must_use]
    pub fn first(n: u64) -> Self {
        Self::Inclusive { start: 0, end: n.saturating_sub(1) }
    }

    /// The `Range` header value.
    #[must_use]
    pub fn header_value(&self) -> String {
        match self {
            Self::Inclusive { start, end } => format!("bytes={start}-{end}"),
            Self::From(start) => format!("bytes={start}-"),
            Self::Last(n) => format!("bytes=-{n}"),
        }
    }
}

/// How a browser should present a download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Save as a file.
    Attachment,
    /// Display in the browser when it can.
    Inline,
}

/// A `Content-Disposition` value for `filename` that every browser reads right: an ASCII fallback
/// `filename="…"` (quotes and backslashes escaped, non-ASCII replaced by `_`) and, when the name is not
/// plain ASCII, the exact name as `filename*=UTF-8''…` (RFC 6266 and RFC 5987). Path separators and
/// control characters are removed from the name.
///
/// ```
/// use stowage::{content_disposition, Disposition};
/// assert_eq!(content_disposition(Disposition::Attachment, "report.pdf"), "attachment; filename=\"report.pdf\"");
/// assert_eq!(
///     content_disposition(Disposition::Attachment, "résumé \"final\".pdf"),
///     "attachment; filename=\"r_sum_ \\\"final\\\".pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.pdf"
/// );
/// ```
#[must_use]
pub fn content_disposition(disposition: Disposition, filename: &str) -> String {
    let kind = match disposition {
        Disposition::Attachment => "attachment",
        Disposition::Inline => "inline",
    };
    // The last path component, without controls: a header value must not carry them, and a browser
    // must not be told a directory.
    let name: String =
        filename.rsplit(['/', '\\']).next().unwrap_or_default().chars().filter(|c| !c.is_control()).collect();
    let name = if name.trim().is_empty() { "download".to_owned() } else { name };
    let mut fallback = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '"' | '\\' => {
                fallback.push('\\');
                fallback.push(c);
            }
            ' '..='~' => fallback.push(c),
            _ => fallback.push('_'),
        }
    }
    let mut out = format!("{kind}; filename=\"{fallback}\"");
    if !name.chars().all(|c| (' '..='~').contains(&c)) || name.contains(['"', '\\']) {
        out.push_str("; filename*=UTF-8''");
        // RFC 5987 attr-char: ALPHA DIGIT ! # $ & + - . ^ _ ` | ~ ; everything else percent-encoded.
        for b in name.bytes() {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// Options of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct ListOptions {
    /// Continue after a previous page ([`ObjectList::next_continuation_token`]).
    pub continuation_token: Option<String>,
    /// At most this many keys (S3 caps it at 1000).
    pub max_keys: Option<u32>,
}

impl ListOptions {
    /// The first page, up to 1000 keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// Continue from `token`.
    pub fn after(mut self, token: impl Into<String>) -> Self {
        self.continuation_token = Some(token.into());
        self
    }

    /// At most `n` keys.
    pub fn max_keys(mut self, n: u32) -> Self {
        self.max_keys = Some(n);
        self
    }
}

/// One page of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ObjectList {
    /// The objects, in key order (content type and user metadata are not part of a listing).
    pub objects: Vec<ObjectMeta>,
    /// Pass to [`ListOptions::after`] for the next page; `None` on the last page.
    pub next_continuation_token: Option<String>,
}

/// What an upload returns.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PutObjectOutput {
    /// The new object's `ETag`.
    pub etag: Option<String>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_disposition_fallbacks() {
        assert_eq!(content_disposition(Disposition::Inline, "a b.txt"), "inline; filename=\"a b.txt\"");
        assert_eq!(
            content_disposition(Disposition::Attachment, "../../etc/пароль.txt"),
            "attachment; filename=\"______.txt\"; filename*=UTF-8''%D0%BF%D0%B0%D1%80%D0%BE%D0%BB%D1%8C.txt"
        );
        assert_eq!(content_disposition(Disposition::Attachment, "a\r\nb"), "attachment; filename=\"ab\"");
        assert_eq!(content_disposition(Disposition::Attachment, "/"), "attachment; filename=\"download\"");
        assert_eq!(
            content_disposition(Disposition::Attachment, "😀"),
            "attachment; filename=\"_\"; filename*=UTF-8''%F0%9F%98%80"
        );
    }

    #[test]
    fn put_options_replace_and_lowercase() {
        let o = PutOptions::new().content_type("a").content_type("b").metadata("Who", "me").header("X-Custom", "1");
        assert_eq!(
            o.headers(),
            [
                ("content-type".to_owned(), "b".to_owned()),
                ("x-amz-meta-who".to_owned(), "me".to_owned()),
                ("x-custom".to_owned(), "1".to_owned())
            ]
        );
        assert_eq!(o.get("Content-Type"), Some("b"));
    }

    #[test]
    fn ranges() {
        assert_eq!(ByteRange::first(16).header_value(), "bytes=0-15");
        assert_eq!(ByteRange::From(5).header_value(), "bytes=5-");
        assert_eq!(ByteRange::Last(5).header_value(), "bytes=-5");
    }
}
