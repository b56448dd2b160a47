//! Files of any size: multipart uploads, their part-size plan, and server-side copies.
//!
//! One request carries at most 5 GiB (4.995 GiB on Cloudflare R2), and a dropped connection at
//! 1.9 GB starts it again from zero. A multipart upload cuts the object into parts that go up on their
//! own — concurrently, each retried alone — and become one object only when the upload is completed:
//! **until then nothing is visible at the key**, and an aborted upload leaves nothing behind.
//!
//! The rules it enforces, before any request where they can be known:
//!
//! - **One part-size plan** ([`PartPlan`]): parts of one size, the last one not larger (Cloudflare
//!   R2 refuses anything else at completion with `InvalidPart`; S3 accepts it too); at least 5 MiB
//!   but the last; at most 5 GiB; at most 10,000 parts; objects up to 48.8 TiB on S3, 4.995 TiB on R2
//!   ([`MultipartLimits`]). The size starts at 8 MiB and grows, in whole MiB, to fit 10,000 parts.
//! - **Typed values**: [`PartNumber`] (1 to 10,000), [`UploadId`], [`MultipartUpload`] (key and id),
//!   [`UploadPart`] (an upload's part, as the part requests address it), [`CompletedPart`] (number
//!   and ETag); a completion's parts ascend, each once. They are the [`Storage`](crate::Storage)
//!   trait's vocabulary, and this module's logic (the plan, the part loop) is built on that trait.
//! - **Completion is checked**: S3 can answer `CompleteMultipartUpload` with 200 and an `<Error>`
//!   document; that is an error, never a success. On R2 the stored parts are listed first, and uneven
//!   parts are refused with [`MultipartError::UnevenParts`] instead of R2's terse `InvalidPart`.
//! - **Failures abort**: [`Storage::put_object`](crate::Storage::put_object) switches to multipart above
//!   a threshold ([`S3Config::with_multipart_threshold`](crate::S3Config::with_multipart_threshold),
//!   32 MiB by default); a part that fails is retried on its own (a file part is read again from its
//!   offset, a stream part is kept in memory until it is stored); a failure that retries cannot fix
//!   aborts the upload, so nothing stays in progress and nothing partial is ever visible.
//!
//! Uploads that were never completed still cost storage until someone aborts them. Add a lifecycle
//! rule that aborts incomplete multipart uploads after a day or so (S3's
//! `AbortIncompleteMultipartUpload`; R2 aborts them after 7 days by default), and clean up from the
//! server with [`abort_stale_uploads`].
//!
//! ```no_run
//! # async fn demo(storage: &dyn stowage::Storage) -> stowage::Result<()> {
//! use std::time::Duration;
//! use stowage::multipart::{CompletedPart, PartPlan};
//! use stowage::{CompleteOptions, PartOptions, PutOptions};
//!
//! // A browser sends a 200 MiB video in parts, each through its own presigned URL.
//! let plan = PartPlan::new(200 << 20, 8 << 20, &storage.multipart_limits())?;
//! let options = PutOptions::new().with_content_type("video/mp4");
//! let upload = storage.create_multipart_upload("videos/talk.mp4", &options).await?;
//! for part in plan.parts() {
//!     let signed = PartOptions::new().with_content_length(plan.size_of(part));
//!     let url = storage.presign_upload_part(upload.part(part), &signed, Duration::from_secs(3600))?;
//!     // … hand `url` to the browser; it answers with the part's ETag.
//! }
//! // Later, with the ETags the browser sent back (or those `list_parts` reports):
//! let parts: Vec<CompletedPart> = storage
//!     .list_parts(&upload)
//!     .all()
//!     .await?
//!     .into_iter()
//!     .filter_map(|p| Some(CompletedPart::new(p.number, p.etag?)))
//!     .collect();
//! storage.complete_multipart_upload(&upload, &parts, &CompleteOptions::new()).await?;
//! # Ok(())
//! # }
//! ```

mod plan;
pub(crate) mod upload;

pub use crate::storage::multipart::{
    CompletedPart, MultipartError, MultipartLimits, MultipartUpload, MultipartUploadInfo, PartNumber, UploadChecksum,
    UploadId, UploadPart, UploadedPart,
};
pub use plan::{DEFAULT_PART_SIZE, PartPlan};
pub use upload::abort_stale_uploads;
