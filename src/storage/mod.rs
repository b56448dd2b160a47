//! The [`Storage`] trait and the values that go in and out of it.
//!
//! This is the layer every backend implements and everything above builds on: multipart uploads
//! ([`crate::multipart`]), the upload guardrails, the axum endpoints and the conformance suite use
//! nothing of a backend but this trait. Its conventions hold for every method:
//!
//! - **Reads say "absent" with `None`**: [`Storage::head_object`] and [`Storage::get_object`]
//!   answer `Ok(None)` when there is no object at the key; an error is always something that went
//!   wrong.
//! - **Listings follow every page**: [`Storage::list_objects`], [`Storage::list_parts`] and
//!   [`Storage::list_multipart_uploads`] return a [`Listing`], a stream that asks for the next page
//!   when it needs it.
//! - **Options are structs set with `with_*` methods**, read back with getters of the same name
//!   without the prefix ([`PutOptions`], [`GetOptions`], [`CopyOptions`], [`ListOptions`],
//!   [`PartOptions`], [`CompleteOptions`], [`CopySource`]); no method takes more than three arguments.
//! - **Conditions are part of the options**: [`PutMode`] makes a write create-only or an update of
//!   one version; [`GetOptions::with_if_match`] and [`GetOptions::with_if_none_match`] make a read
//!   conditional. A condition that does not hold is [`Error::PreconditionFailed`](crate::Error::PreconditionFailed).

mod disposition;
pub(crate) mod multipart;
mod object;
mod presigned;
mod read_options;
mod write_options;

use std::fmt;
use std::time::Duration;

pub use disposition::{Disposition, content_disposition};
pub use object::{GetObjectOutput, Listing, ObjectMeta, PutObjectOutput};
pub use presigned::{PostPolicy, PresignedPost, PresignedRequest};
pub use read_options::{ByteRange, GetOptions, ListOptions};
pub use write_options::{CompleteOptions, CopyOptions, CopySource, PartOptions, PutMode, PutOptions};

use crate::Result;
use crate::body::Body;
use multipart::{CompletedPart, MultipartLimits, MultipartUpload, MultipartUploadInfo, UploadPart, UploadedPart};

/// Object storage as a web service needs it: presigned uploads and downloads for browsers, and
/// uploads, downloads, checks, copies and deletes from the server.
///
/// Object-safe: hold it as `Arc<dyn Storage>` and switch between AWS S3, Cloudflare R2 and a local
/// S3-compatible server by configuration alone
/// ([`S3Config::from_env`](crate::S3Config::from_env)). A wrapper or a fake of your own proves it
/// behaves like the real one with the conformance suite
/// ([`stowage::testing::conformance`](crate::testing::conformance), feature `testing`).
///
/// ```no_run
/// # async fn demo() -> stowage::Result<()> {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use stowage::{GetOptions, PutOptions, S3Config, Storage};
///
/// let storage: Arc<dyn Storage> = Arc::new(S3Config::from_env()?.build().await?);
/// let upload = storage.presign_put(
///     "uploads/avatar.png",
///     &PutOptions::new().with_content_type("image/png").with_content_length(1024),
///     Duration::from_secs(300),
/// )?;
/// // Hand `upload` (method, URL, headers) to the browser; later:
/// if let Some(meta) = storage.head_object("uploads/avatar.png", &GetOptions::new()).await? {
///     println!("{} bytes of {:?}", meta.size, meta.content_type);
/// }
/// # Ok(())
/// # }
/// ```
#[async_trait::async_trait]
pub trait Storage: Send + Sync + fmt::Debug {
    /// A presigned PUT: anyone holding it can upload to `key`, sending the returned headers, until it
    /// expires. Every header of `options` is signed, so the server itself rejects an upload whose
    /// Content-Type or Content-Length differs from what was signed; with [`PutMode::Create`] it also
    /// refuses to replace an object already at the key.
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

    /// A presigned browser POST upload (an HTML form): the URL to post to and the form fields to
    /// send before the file, under a policy the server enforces (key prefix, exact content type, size
    /// range).
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`](crate::Error::Unsupported) where the service has no POST uploads
    /// (Cloudflare R2); signing errors.
    fn presign_post(&self, policy: &PostPolicy, expires_in: Duration) -> Result<PresignedPost>;

    /// Uploads `body` to `key` from the server. Streams and files are sent as they are read, with
    /// bounded memory; large bodies go up in parts (nothing is visible at the key before the whole
    /// object is). With [`PutMode::Create`] or [`PutMode::Update`] the write happens only if the
    /// condition holds.
    ///
    /// # Errors
    ///
    /// [`Error::PreconditionFailed`](crate::Error::PreconditionFailed) when the put mode's condition
    /// does not hold; signing, transport, I/O and service errors.
    async fn put_object(&self, key: &str, body: Body, options: &PutOptions) -> Result<PutObjectOutput>;

    /// The metadata of `key`, or `None` when there is no such object. (An answer to HEAD has no body,
    /// so a bucket that does not exist also reads as `None`: the `doctor` example tells them apart.)
    /// The range and the conditions of `options` apply as to [`get_object`](Self::get_object).
    ///
    /// # Errors
    ///
    /// [`Error::PreconditionFailed`](crate::Error::PreconditionFailed) or
    /// [`Error::NotModified`](crate::Error::NotModified) when a condition of `options` decides;
    /// signing, transport and service errors.
    async fn head_object(&self, key: &str, options: &GetOptions) -> Result<Option<ObjectMeta>>;

    /// Downloads `key` (or a range of it) as a stream, or `None` when there is no such object.
    ///
    /// # Errors
    ///
    /// [`Error::PreconditionFailed`](crate::Error::PreconditionFailed) when the object's ETag is not
    /// [`GetOptions::with_if_match`]'s, [`Error::NotModified`](crate::Error::NotModified) when it is
    /// [`GetOptions::with_if_none_match`]'s; signing, transport and service errors (a bucket that
    /// does not exist among them).
    async fn get_object(&self, key: &str, options: &GetOptions) -> Result<Option<GetObjectOutput>>;

    /// Deletes `key`. Deleting a key that does not exist succeeds, as in S3.
    ///
    /// # Errors
    ///
    /// Signing, transport and service errors.
    async fn delete_object(&self, key: &str) -> Result<()>;

    /// The objects whose keys start with `prefix`, in key order, following every page.
    ///
    /// ```no_run
    /// # async fn demo(storage: &dyn stowage::Storage) -> stowage::Result<()> {
    /// use stowage::ListOptions;
    ///
    /// // Everything under a prefix:
    /// let all = storage.list_objects("uploads/", &ListOptions::new()).all().await?;
    /// // Fifty at a time, for a web page that asks for more after the last key it showed:
    /// let mut listing = storage.list_objects("uploads/", &ListOptions::new().with_start_after("uploads/k"));
    /// while let Some(object) = listing.try_next().await? {
    ///     println!("{} ({} bytes)", object.key, object.size);
    /// #   break;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    fn list_objects<'a>(&'a self, prefix: &'a str, options: &ListOptions) -> Listing<'a, ObjectMeta>;

    /// Copies `source` to `destination` in the same bucket, on the server: no byte passes through
    /// this process. Metadata is copied, or replaced by [`CopyOptions::with_headers`]; objects over
    /// 5 GiB are copied part by part. The copy is of the source as it is when the copy starts: its
    /// ETag is a condition of every request (and [`CopyOptions::with_source_if_match`] can name the
    /// one expected). [`CopyOptions::with_mode`] makes the destination's write conditional.
    ///
    /// # Errors
    ///
    /// [`Error::PreconditionFailed`](crate::Error::PreconditionFailed) when the source does not exist,
    /// is not the expected one (or changed during a part-by-part copy, which is then aborted), or the
    /// destination's condition does not hold; signing, transport and service errors.
    async fn copy_object(&self, source: &str, destination: &str, options: &CopyOptions) -> Result<PutObjectOutput>;

    /// The multipart rules of the service behind this backend (S3's, R2's, or a server's own): part
    /// plans for this backend are made with them.
    fn multipart_limits(&self) -> MultipartLimits;

    /// Starts a multipart upload to `key`, stored with the headers of `options` (content type,
    /// metadata, cache control, …; the service's refusals apply, as for
    /// [`put_object`](Self::put_object)). Nothing is visible at the key until
    /// [`complete_multipart_upload`](Self::complete_multipart_upload). (A [`PutMode`] is a condition
    /// of the completion: pass it in [`CompleteOptions`].)
    ///
    /// # Errors
    ///
    /// Signing, transport and service errors; [`Error::Unsupported`](crate::Error::Unsupported) for
    /// options the service refuses.
    async fn create_multipart_upload(&self, key: &str, options: &PutOptions) -> Result<MultipartUpload>;

    /// A presigned PUT of one part, for a browser or another client. With
    /// [`PartOptions::with_content_length`], the part's size is signed and the bucket refuses a part
    /// of any other size. The answer's `ETag` header names the part at completion (a browser reads it
    /// only if the bucket's CORS exposes it).
    ///
    /// # Errors
    ///
    /// As [`presign_put`](Self::presign_put); [`Error::Multipart`](crate::Error::Multipart) for a size
    /// over the largest part.
    fn presign_upload_part(
        &self,
        part: UploadPart<'_>,
        options: &PartOptions,
        expires_in: Duration,
    ) -> Result<PresignedRequest>;

    /// Uploads one part from the server and returns it as completion names it. A part can be sent
    /// again (the last one sent counts).
    ///
    /// # Errors
    ///
    /// Signing, transport, I/O and service errors (`NoSuchUpload` for an upload that no longer
    /// exists).
    async fn upload_part(&self, part: UploadPart<'_>, body: Body) -> Result<CompletedPart>;

    /// Copies an object, or a range of it, into a part, on the server ([`CopySource`]: the key, the
    /// range, and the ETag the source must still have).
    ///
    /// # Errors
    ///
    /// [`Error::PreconditionFailed`](crate::Error::PreconditionFailed) when the source does not exist
    /// or is not the expected one; signing, transport and service errors.
    async fn upload_part_copy(&self, part: UploadPart<'_>, source: &CopySource) -> Result<CompletedPart>;

    /// The parts stored for an upload in progress, in order, following every page.
    fn list_parts<'a>(&'a self, upload: &'a MultipartUpload) -> Listing<'a, UploadedPart>;

    /// Completes an upload from its parts (ascending, each once): the object appears at the key,
    /// whole, if the [`PutMode`] of `options` allows it. An answer of 200 that carries an error
    /// document is an error.
    ///
    /// # Errors
    ///
    /// [`Error::Multipart`](crate::Error::Multipart) for an empty or unordered part list (before any
    /// request); [`Error::PreconditionFailed`](crate::Error::PreconditionFailed) when the mode's
    /// condition does not hold; service errors `InvalidPart` (a part missing or with another ETag),
    /// `EntityTooSmall` (a part but the last under 5 MiB), `NoSuchUpload`, each with what to do.
    async fn complete_multipart_upload(
        &self,
        upload: &MultipartUpload,
        parts: &[CompletedPart],
        options: &CompleteOptions,
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
    fn list_multipart_uploads<'a>(&'a self, prefix: &'a str) -> Listing<'a, MultipartUploadInfo>;
}
