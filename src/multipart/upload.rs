//! The one part loop: an object written in parts — uploaded from a body, or copied from another
//! object — concurrently, with bounded memory, each part retried on its own (by the backend), and the
//! whole upload aborted when a part fails for good.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use time::OffsetDateTime;

use super::PartPlan;
use crate::body::{Body, ExactLength, Reporter, Source, find_body_failure};
use crate::checksum::{Checksum, ChecksumType, combine_full_object};
use crate::storage::multipart::{CompletedPart, MultipartLimits, MultipartUpload, PartNumber};
use crate::storage::{CompleteOptions, CopySource, ObjectMeta, PutObjectOutput, PutOptions, Storage};
use crate::{Error, Result};

/// How a large body is sent in parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Transfer {
    /// Bodies above this size go in parts.
    pub(crate) threshold: u64,
    /// The preferred part size (grown to fit the limits).
    pub(crate) part_size: u64,
    /// Parts in flight at once.
    pub(crate) concurrency: usize,
    /// The service's rules.
    pub(crate) limits: MultipartLimits,
}

/// A part's request, ready to run in a task of its own.
type PartTask = Pin<Box<dyn Future<Output = Result<CompletedPart>> + Send>>;

/// What the parts of a multipart write are made from: a body cut into parts, or ranges of another
/// object.
trait PartSource {
    /// The request that writes part `number` of `upload`. Called once per part, in order, and only
    /// when a slot is free: what it prepares (a stream's next part) is in memory for at most the
    /// parts in flight.
    async fn start(&mut self, upload: &MultipartUpload, number: PartNumber) -> Result<PartTask>;

    /// Whether every part can be made again from the start (bytes, a file, another object; not a
    /// stream), for an upload that must be started again.
    fn restartable(&self) -> bool;
}

/// How many times a multipart write is started again after S3 dropped it for a conflicting
/// conditional write (409 `ConditionalRequestConflict`).
const CONFLICT_RESTARTS: u32 = 2;

/// Writes the object at `key` in the parts of `plan`: creates the upload (stored with `options`),
/// runs the request `source` gives for each part, at most `concurrency` at once, then completes the
/// upload under the options' [`PutMode`](crate::PutMode) — or aborts it when anything failed, so
/// that nothing stays in progress and nothing partial is ever visible. A completion S3 refuses with
/// 409 `ConditionalRequestConflict` (another conditional write to the key was in flight: S3 then drops
/// the upload) starts the upload again, as S3 documents, when the parts can be made again.
async fn write_in_parts<S: Storage + ?Sized>(
    storage: &S,
    key: &str,
    options: &PutOptions,
    plan: &PartPlan,
    concurrency: usize,
    source: &mut impl PartSource,
) -> Result<PutObjectOutput> {
    let mut restarts = 0;
    loop {
        let result = write_once(storage, key, options, plan, concurrency, source).await;
        match result {
            Err(e)
                if e.code() == Some(&crate::S3ErrorCode::ConditionalRequestConflict)
                    && restarts < CONFLICT_RESTARTS
                    && source.restartable() =>
            {
                crate::trace::event!(info, "a conditional write raced another: the multipart upload starts again");
                restarts += 1;
            }
            result => return result,
        }
    }
}

/// One multipart write, from create to complete (or abort).
async fn write_once<S: Storage + ?Sized>(
    storage: &S,
    key: &str,
    options: &PutOptions,
    plan: &PartPlan,
    concurrency: usize,
    source: &mut impl PartSource,
) -> Result<PutObjectOutput> {
    let upload = storage.create_multipart_upload(key, options).await?;
    let sent = run_parts(&upload, plan, concurrency.max(1), source).await;
    let result = match sent {
        Ok(parts) => {
            let complete = CompleteOptions::new().with_mode(options.mode().clone());
            let complete = match whole_object_checksum(&upload, plan, &parts) {
                Some(whole) => complete.with_checksum_value(whole),
                None => complete,
            };
            storage.complete_multipart_upload(&upload, &parts, &complete).await
        }
        Err(e) => Err(e),
    };
    if let Err(e) = &result {
        crate::trace::event!(
            warn,
            parts = plan.part_count(),
            kind = e.kind(),
            status = e.status(),
            code = e.code().map(crate::S3ErrorCode::as_str),
            "multipart upload failed; aborting it"
        );
        let _ = e;
        // Nothing stays in progress. (Should the abort fail too, the upload stays invisible until a
        // lifecycle rule or `abort_stale_uploads` removes it; the first error is the one to report.)
        let _ = storage.abort_multipart_upload(&upload).await;
    }
    result
}

/// For an upload created with a full-object checksum, the whole object's value, combined from its
/// parts' (each computed from the bytes sent): the completion names it, and the bucket checks it
/// against the object it assembles.
fn whole_object_checksum(upload: &MultipartUpload, plan: &PartPlan, parts: &[CompletedPart]) -> Option<Checksum> {
    let declared = upload.checksum?;
    if declared.kind != ChecksumType::FullObject {
        return None;
    }
    let values: Option<Vec<(Checksum, u64)>> =
        parts.iter().map(|part| Some((part.checksum?, plan.size_of(part.number)))).collect();
    combine_full_object(&values?)
}

/// Runs the request of every part of `plan`, at most `concurrency` at once, and returns the parts in
/// order. The first failure stops every other part.
async fn run_parts(
    upload: &MultipartUpload,
    plan: &PartPlan,
    concurrency: usize,
    source: &mut impl PartSource,
) -> Result<Vec<CompletedPart>> {
    let mut tasks = tokio::task::JoinSet::new();
    let mut done = Vec::with_capacity(plan.part_count() as usize);
    let mut numbers = plan.parts();
    loop {
        // Fill the free slots first: memory holds at most `concurrency` prepared parts.
        while tasks.len() < concurrency {
            let Some(number) = numbers.next() else { break };
            let task = match source.start(upload, number).await {
                Ok(task) => task,
                Err(e) => {
                    tasks.abort_all();
                    return Err(e);
                }
            };
            #[cfg(feature = "tracing")]
            let task = tracing::Instrument::instrument(
                task,
                tracing::info_span!(target: "stowage", "part", number = number.get()),
            );
            tasks.spawn(task);
        }
        match tasks.join_next().await {
            None => break,
            Some(Ok(Ok(part))) => done.push(part),
            Some(Ok(Err(e))) => {
                tasks.abort_all();
                return Err(e);
            }
            Some(Err(joined)) => {
                tasks.abort_all();
                return Err(Error::Transport {
                    operation: "UploadPart",
                    message: format!("a part's task ended without an answer: {joined}"),
                    timeout: false,
                    source: None,
                });
            }
        }
    }
    done.sort_by_key(|part| part.number);
    Ok(done)
}

/// Uploads `body` to `key` in parts. `storage` is cloned into one task per part in flight, so that
/// parts are hashed, encrypted and sent on every core of the runtime.
pub(crate) async fn put_in_parts<S>(
    storage: &S,
    key: &str,
    body: Body,
    options: &PutOptions,
    transfer: &Transfer,
) -> Result<PutObjectOutput>
where
    S: Storage + Clone + 'static,
{
    let plan = PartPlan::new(body.len(), transfer.part_size, &transfer.limits).map_err(Error::Multipart)?;
    let reporter = body.reporter().map(|r| r.for_parts(plan.part_count() as usize));
    let mut source = BodyParts { storage: storage.clone(), parts: Parts::new(body.into_source())?, reporter, plan };
    write_in_parts(storage, key, options, &plan, transfer.concurrency, &mut source).await
}

/// The parts of a body.
struct BodyParts<S> {
    storage: S,
    parts: Parts,
    reporter: Option<Reporter>,
    plan: PartPlan,
}

impl<S: Storage + Clone + 'static> PartSource for BodyParts<S> {
    async fn start(&mut self, upload: &MultipartUpload, number: PartNumber) -> Result<PartTask> {
        let body = self.parts.body(self.plan.part_range(number)).await?;
        let body = body.reporting_to(self.reporter.as_ref().map(|r| r.slot(number.get() as usize - 1)));
        let (storage, upload) = (self.storage.clone(), upload.clone());
        Ok(Box::pin(async move { storage.upload_part(upload.part(number), body).await }))
    }

    fn restartable(&self) -> bool {
        !matches!(self.parts, Parts::Stream { .. })
    }
}

/// Copies `source` (as HEAD saw it: its size and ETag) to `destination` in parts of `part_size`, each
/// part on the condition that the source is still the one seen, stored with `options`.
pub(crate) async fn copy_in_parts<S>(
    storage: &S,
    source: &str,
    seen: &ObjectMeta,
    destination: &str,
    options: &PutOptions,
    part_size: u64,
    concurrency: usize,
) -> Result<PutObjectOutput>
where
    S: Storage + Clone + 'static,
{
    let plan = PartPlan::new(seen.size, part_size, &storage.multipart_limits())?;
    let mut ranges =
        SourceRanges { storage: storage.clone(), source: source.to_owned(), etag: seen.etag.clone(), plan };
    write_in_parts(storage, destination, options, &plan, concurrency, &mut ranges).await
}

/// The ranges of an object, copied into parts.
struct SourceRanges<S> {
    storage: S,
    source: String,
    etag: Option<String>,
    plan: PartPlan,
}

impl<S: Storage + Clone + 'static> PartSource for SourceRanges<S> {
    async fn start(&mut self, upload: &MultipartUpload, number: PartNumber) -> Result<PartTask> {
        let mut from = CopySource::new(self.source.as_str()).with_range(self.plan.part_range(number));
        if let Some(etag) = &self.etag {
            from = from.with_if_match(etag.as_str());
        }
        let (storage, upload) = (self.storage.clone(), upload.clone());
        Ok(Box::pin(async move { storage.upload_part_copy(upload.part(number), &from).await }))
    }

    fn restartable(&self) -> bool {
        true
    }
}

/// Where the parts come from.
enum Parts {
    /// Views of the bytes (no copy).
    Bytes(Bytes),
    /// Ranges of the file, read anew for each attempt.
    File { path: std::path::PathBuf, offset: u64, len: u64 },
    /// The stream, a part at a time; each part is kept until it is stored.
    Stream { stream: ExactLength, leftover: Bytes },
}

impl Parts {
    fn new(source: Source) -> Result<Self> {
        Ok(match source {
            Source::Bytes(bytes) => Self::Bytes(bytes),
            Source::File { path, offset, len } => Self::File { path, offset, len },
            Source::Stream(Some(stream)) => Self::Stream { stream, leftover: Bytes::new() },
            Source::Stream(None) => {
                return Err(Error::Io {
                    operation: "UploadPart",
                    source: std::io::Error::other(
                        "a streamed body can be sent only once; use bytes or a file to retry",
                    ),
                });
            }
        })
    }

    /// The body of the part holding `range` of the object. A stream that holds more than it declared
    /// fails before its last part is read whole (the stream holds back the chunk that completes its
    /// length until it has ended).
    async fn body(&mut self, range: std::ops::Range<u64>) -> Result<Body> {
        let too_large = || Error::Config("a part does not fit in this machine's memory; use smaller parts".into());
        match self {
            Self::Bytes(bytes) => {
                let start = usize::try_from(range.start).map_err(|_| too_large())?;
                let end = usize::try_from(range.end).map_err(|_| too_large())?;
                Ok(Body::from(bytes.slice(start..end)))
            }
            Self::File { path, offset, len } => {
                // The part that ends the file checks that the file did not grow.
                Ok(Body::file_range(path.clone(), *offset + range.start, range.end - range.start, range.end == *len))
            }
            Self::Stream { stream, leftover } => {
                let size = usize::try_from(range.end - range.start).map_err(|_| too_large())?;
                let mut part = BytesMut::with_capacity(size);
                while part.len() < size {
                    if leftover.is_empty() {
                        match stream.next().await {
                            Some(Ok(chunk)) => *leftover = chunk,
                            Some(Err(e)) => {
                                return Err(match find_body_failure(&e) {
                                    Some(failure) => failure.into_error("UploadPart"),
                                    None => Error::Io { operation: "UploadPart", source: e },
                                });
                            }
                            // The stream checks its own length: it ends early only with an error.
                            None => break,
                        }
                    }
                    let take = (size - part.len()).min(leftover.len());
                    part.extend_from_slice(&leftover.split_to(take));
                }
                Ok(Body::from(part.freeze()))
            }
        }
    }
}

/// Aborts every upload in progress under `prefix` that was started more than `older_than` ago, and
/// returns how many were aborted. Uploads a server lists without a start time are left alone.
///
/// ```no_run
/// # async fn demo(storage: &dyn stowage::Storage) -> stowage::Result<()> {
/// // Run from a daily job: uploads a browser abandoned a day ago or more.
/// let aborted = stowage::multipart::abort_stale_uploads(storage, "uploads/", std::time::Duration::from_secs(86_400)).await?;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// The first listing or abort that fails.
pub async fn abort_stale_uploads(storage: &dyn Storage, prefix: &str, older_than: Duration) -> Result<usize> {
    let cutoff = OffsetDateTime::now_utc() - older_than;
    let mut aborted = 0;
    let mut uploads = storage.list_multipart_uploads(prefix);
    while let Some(info) = uploads.try_next().await? {
        if info.initiated.is_some_and(|at| at <= cutoff) {
            storage.abort_multipart_upload(&info.upload).await?;
            aborted += 1;
        }
    }
    Ok(aborted)
}
