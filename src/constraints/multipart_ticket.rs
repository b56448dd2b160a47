//! Presigned multipart uploads under an upload policy: files of any size from a browser, with the
//! server in charge of the type, the plan and every part's size, and nothing visible before it is
//! verified.
//!
//! ## How the guarantee is kept without copying a large object
//!
//! A multipart object does not exist until the upload is completed, and its part URLs die with the
//! upload id. So the upload is created at its **final** key: while parts arrive, nothing is there to
//! list or serve, and after completion or cancellation no part URL works again. What cannot be
//! checked before completion is the content — the storage has no way to read a part of an upload in
//! progress. With a staging prefix, part 1 therefore goes to a staging object of its own: it can be
//! read, so the file's first bytes are sniffed there; then it becomes part 1 by a server-side
//! `UploadPartCopy` on the condition that it is still what was checked (its ETag). The object appears
//! at its final key only when the upload completes, after every check, and the one copy is of one
//! part (8 MiB by default), not of a multi-gigabyte object. Replaying part 1's URL later can only
//! write into staging.
//!
//! ## Two layouts, and what each proves
//!
//! - **Planned** (the client declares the size: the JSON endpoints, or Uppy told the size): the
//!   server plans every part and each part URL signs its exact size, so the bucket itself refuses a
//!   part of another size; completion checks each stored part against the plan. Proven: the object is
//!   exactly the declared size, cut as planned.
//! - **Open** (no size declared: Uppy as its documentation configures it, with its own part size):
//!   part URLs sign no length — any part the service accepts goes in — and a part number that could
//!   not start within the size limit (at least 5 MiB a part before it) is not signed. Completion
//!   lists the stored parts (`ListParts`) and checks them against S3's and R2's rules (every part but
//!   the last 5 MiB to 5 GiB; on R2 of one size, the last not larger) and their total against the
//!   size limit, before anything is visible. Proven: the object is within the limit and was cut as
//!   the service requires; not proven in advance: its size (the person may send less than a file).
//!
//! Either way the type is fixed by the server when it creates the upload, and the content is checked
//! (with `sniff`) before the object appears.

use std::time::Duration;

use crate::checksum::{Checksum, ChecksumType, StoredChecksum, combine_full_object, composite_of};
use crate::multipart::{CompletedPart, MultipartError, MultipartLimits, MultipartUpload, PartNumber, PartPlan};
use crate::storage::{
    CompleteOptions, CopySource, GetOptions, ObjectMeta, PartOptions, PresignedRequest, PutMode, PutOptions, Storage,
};
use crate::{Error, Result};

use super::claims::FileClaim;
use super::policy::UploadPolicy;
use super::verify::{Mismatch, PartProblem, UploadMismatch, VerifyOptions};

/// How the parts of a multipart upload are cut: planned by the server, or chosen by the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum PartLayout {
    /// The client declared the size: every part's size is planned, and signed in its URL.
    Planned {
        /// The declared size.
        size: u64,
        /// The size of every part but the last.
        part_size: u64,
        /// How many parts.
        part_count: u32,
    },
    /// The client did not declare a size: parts of its choosing, checked when the upload completes.
    Open {
        /// The largest object the upload may become.
        max_size: u64,
    },
}

/// A multipart upload presigned under a policy, as the server keeps it between the browser's
/// requests (with `serde`, store it anywhere: completion can happen in another process). Its plan is
/// made with the backend's multipart limits ([`Storage::multipart_limits`]: equal parts on R2).
///
/// With `serde`, `final_key` is written `key` and `first_part_upload_key` `first_part_key`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct MultipartTicket {
    /// Where the object appears once verified (the upload's own key).
    #[cfg_attr(feature = "serde", serde(rename = "key"))]
    pub final_key: String,
    /// The client's file name, sanitised.
    pub filename: String,
    /// The type the object is stored with, fixed by the server when it created the upload.
    pub content_type: String,
    /// How the parts are cut.
    pub layout: PartLayout,
    /// The upload in progress.
    pub upload: MultipartUpload,
    /// With quarantine: the staging key the client uploads part 1 to, checked before it joins.
    #[cfg_attr(feature = "serde", serde(rename = "first_part_key"))]
    pub first_part_upload_key: Option<String>,
    /// How long each part URL lives, in seconds.
    pub url_lifetime: u64,
}

impl UploadPolicy {
    /// Checks the client's claims, then creates a multipart upload for them: the server fixes the
    /// type (the browser cannot change it) and the key; with a declared size it plans every part
    /// ([`PartLayout::Planned`]), without one the client's parts are checked at completion
    /// ([`PartLayout::Open`], see the module docs for what each proves). Part URLs are presigned
    /// later, on request ([`MultipartTicket::presign_part`]).
    ///
    /// # Errors
    ///
    /// [`Error::Policy`] for claims the policy refuses; [`Error::Multipart`] for a size no plan can
    /// serve; backend errors.
    pub async fn presign_multipart(&self, storage: &dyn Storage, claim: &FileClaim) -> Result<MultipartTicket> {
        self.check(claim).map_err(Error::Policy)?;
        let (filename, content_type) = (claim.filename(), claim.content_type());
        let (staging_key, final_key) = self.keys_for(filename);
        let layout = match claim.declared_size() {
            Some(size) => {
                let plan = PartPlan::new(size, self.part_size(), &storage.multipart_limits())?;
                PartLayout::Planned { size, part_size: plan.part_size(), part_count: plan.part_count() }
            }
            None => PartLayout::Open { max_size: self.max_size() },
        };
        let part_checksums =
            claim.part_checksums().map_err(|e| Error::Policy(super::PolicyViolation::InvalidChecksum(e)))?;
        let mut options = PutOptions::new().with_content_type(content_type);
        if let Some(algorithm) = part_checksums {
            options = options.with_checksum(algorithm);
        }
        let upload = storage.create_multipart_upload(&final_key, &options).await?;
        Ok(MultipartTicket {
            filename: super::sanitize_filename(filename),
            first_part_upload_key: (staging_key != final_key).then_some(staging_key),
            final_key,
            content_type: content_type.to_owned(),
            layout,
            upload,
            url_lifetime: self.url_lifetime().as_secs().max(1),
        })
    }
}

impl MultipartTicket {
    /// The declared size, when there was one.
    #[must_use]
    pub fn size(&self) -> Option<u64> {
        match self.layout {
            PartLayout::Planned { size, .. } => Some(size),
            PartLayout::Open { .. } => None,
        }
    }

    /// The ticket's part plan under `limits` (the backend's); `None` for an open layout.
    ///
    /// # Errors
    ///
    /// [`Error::Multipart`] when the ticket's numbers are not a plan under them (an altered ticket).
    pub fn plan(&self, limits: &MultipartLimits) -> Result<Option<PartPlan>> {
        let PartLayout::Planned { size, part_size, part_count } = self.layout else { return Ok(None) };
        let plan = PartPlan::with_part_size(size, part_size, limits)?;
        if plan.part_count() != part_count {
            return Err(MultipartError::TooManyParts {
                parts: u64::from(plan.part_count()),
                max: part_count,
                part_size,
            }
            .into());
        }
        Ok(Some(plan))
    }

    /// The size part `part` must have (`None`: any, in an open layout), if the part may be sent.
    fn planned_size(&self, storage: &dyn Storage, part: PartNumber) -> Result<Option<u64>> {
        let limits = storage.multipart_limits();
        match (self.plan(&limits)?, self.layout) {
            (Some(plan), _) if plan.contains(part) => Ok(Some(plan.size_of(part))),
            (Some(plan), _) => Err(MultipartError::NotInPlan { number: part.get(), parts: plan.part_count() }.into()),
            (None, PartLayout::Open { max_size }) => {
                // Every part before this one holds at least the smallest part: past the limit, no.
                let most = max_size.div_ceil(limits.min_part_size().max(1)).clamp(1, u64::from(PartNumber::MAX));
                let parts = u32::try_from(most).unwrap_or(PartNumber::MAX);
                if part.get() > parts {
                    return Err(MultipartError::NotInPlan { number: part.get(), parts }.into());
                }
                Ok(None)
            }
            (None, PartLayout::Planned { .. }) => Ok(None),
        }
    }

    /// A presigned PUT for part `part`. In a planned layout it signs the part's exact size, and the
    /// bucket refuses a part of any other size; in an open one it signs no length. For an upload made
    /// with part checksums ([`FileClaim::with_part_checksums`]) it signs the part's `checksum`, as the
    /// client computed it, and the bucket refuses other bytes. (With quarantine, part 1's URL writes
    /// the staging object.)
    ///
    /// # Errors
    ///
    /// [`Error::Multipart`] for a part number outside the plan (or, open, past the size limit);
    /// [`Error::Policy`] for a part checksum missing, of another algorithm than the upload's, or given
    /// for an upload made without; signing errors.
    pub fn presign_part(
        &self,
        storage: &dyn Storage,
        part: PartNumber,
        checksum: Option<&Checksum>,
    ) -> Result<PresignedRequest> {
        let size = self.planned_size(storage, part)?;
        let checksum = self.part_checksum(part, checksum)?;
        let expires = Duration::from_secs(self.url_lifetime);
        match (&self.first_part_upload_key, part.get()) {
            (Some(staging), 1) => {
                let mut options = PutOptions::new();
                if let Some(size) = size {
                    options = options.with_content_length(size);
                }
                if let Some(checksum) = checksum {
                    options = options.with_checksum_value(*checksum);
                }
                storage.presign_put(staging, &options, expires)
            }
            _ => {
                let mut options = PartOptions::new();
                if let Some(size) = size {
                    options = options.with_content_length(size);
                }
                if let Some(checksum) = checksum {
                    options = options.with_checksum_value(*checksum);
                }
                storage.presign_upload_part(self.upload.part(part), &options, expires)
            }
        }
    }

    /// The checksum part `part` is signed with: the client's, which must be of the upload's algorithm.
    fn part_checksum<'c>(&self, part: PartNumber, checksum: Option<&'c Checksum>) -> Result<Option<&'c Checksum>> {
        let refuse = |why: String| Error::Policy(super::PolicyViolation::PartChecksum(why));
        match (self.upload.checksum, checksum) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(refuse(format!(
                "part {part} names a checksum, but the upload was made without part checksums; create it with them"
            ))),
            (Some(declared), None) => Err(refuse(format!(
                "the upload was made with {} part checksums: part {part}'s is needed to sign its URL",
                declared.algorithm
            ))),
            (Some(declared), Some(value)) if value.algorithm() != declared.algorithm => Err(refuse(format!(
                "part {part}'s checksum is {}, the upload's are {}",
                value.algorithm(),
                declared.algorithm
            ))),
            (Some(_), Some(value)) => Ok(Some(value)),
        }
    }

    /// The parts stored so far (for a client resuming an upload: send only the others).
    ///
    /// # Errors
    ///
    /// Backend errors.
    pub async fn stored_parts(&self, storage: &dyn Storage) -> Result<Vec<crate::multipart::UploadedPart>> {
        let mut parts = storage.list_parts(&self.upload).all().await?;
        if let Some(staging) = &self.first_part_upload_key {
            parts.retain(|p| p.number != PartNumber::FIRST);
            let asked = GetOptions::new().with_checksum_mode(self.upload.checksum.is_some());
            if let Some(first) = storage.head_object(staging, &asked).await? {
                parts.insert(0, first_part(&first));
            }
        }
        Ok(parts)
    }

    /// Completes the upload from the parts the client names (numbers and ETags), after checking them
    /// against the plan and against what the storage holds: every part of the plan, in order, each
    /// of its planned size, each with the ETag the storage gave it. Then the content is checked (with
    /// `sniff`) — on part 1's staging object before it joins the upload under quarantine, on the
    /// completed object otherwise — and the object at [`final_key`](Self::final_key) is returned. The
    /// completion never replaces an object already at the final key where the storage checks it
    /// ([`PutMode::Create`]).
    ///
    /// A content mismatch cancels the upload: nothing is kept. Part problems leave it in progress, so
    /// that the client can send the missing or wrong parts and complete again.
    ///
    /// # Errors
    ///
    /// [`Error::Mismatch`] with [`Mismatch::Parts`] or a content mismatch; backend errors
    /// (`NoSuchUpload` for a completion replayed after the upload ended).
    pub async fn complete(
        &self,
        storage: &dyn Storage,
        named: &[CompletedPart],
        options: &VerifyOptions,
    ) -> Result<ObjectMeta> {
        let limits = storage.multipart_limits();
        let plan = self.plan(&limits)?;
        let refuse = |problem: PartProblem| {
            Error::Mismatch(UploadMismatch {
                key: self.final_key.clone(),
                problems: vec![Mismatch::Parts(problem)],
                deleted: false,
            })
        };
        // The client's list: ascending, each once, and in a plan the plan's parts.
        for (i, part) in named.iter().enumerate() {
            if plan.as_ref().is_some_and(|plan| !plan.contains(part.number)) {
                return Err(refuse(PartProblem::Extra { number: part.number.get() }));
            }
            if i > 0 && part.number <= named[i - 1].number {
                return Err(refuse(PartProblem::Order));
            }
        }
        let missing = match &plan {
            Some(plan) => plan.parts().find(|n| !named.iter().any(|p| p.number == *n)),
            None => named.is_empty().then_some(PartNumber::FIRST),
        };
        if let Some(missing) = missing {
            return Err(refuse(PartProblem::Missing { number: missing.get() }));
        }
        // What the storage holds: each part named, its size as planned (or, open, as the service's
        // rules and the size limit allow), with the ETag named.
        let stored = self.stored_parts(storage).await?;
        let mut parts = Vec::with_capacity(named.len());
        let mut sizes = Vec::with_capacity(named.len());
        let mut total = 0u64;
        for (i, part) in named.iter().enumerate() {
            let Some(held) = stored.iter().find(|p| p.number == part.number) else {
                return Err(refuse(PartProblem::Missing { number: part.number.get() }));
            };
            let size_problem = |expected| PartProblem::Size { number: part.number.get(), expected, actual: held.size };
            match &plan {
                Some(plan) if held.size != plan.size_of(part.number) => {
                    return Err(refuse(size_problem(plan.size_of(part.number))));
                }
                Some(_) => {}
                None => {
                    let last = i + 1 == named.len();
                    let first = stored.iter().find(|p| p.number == named[0].number).map_or(0, |p| p.size);
                    if held.size > limits.max_part_size() {
                        return Err(refuse(size_problem(limits.max_part_size())));
                    }
                    if !last && held.size < limits.min_part_size() {
                        return Err(refuse(size_problem(limits.min_part_size())));
                    }
                    if limits.equal_parts() && ((!last && held.size != first) || (last && held.size > first)) {
                        return Err(refuse(size_problem(first)));
                    }
                }
            }
            if let Some(etag) = &held.etag
                && !same_etag(etag, &part.etag)
            {
                return Err(refuse(PartProblem::ETag { number: part.number.get() }));
            }
            // The part's checksum: the one the bucket verified and lists, which must be the one the
            // client names; a server that lists none is taken at the client's word (it was signed).
            let checksum = match (self.upload.checksum, held.checksum, part.checksum) {
                (None, ..) => None,
                (Some(_), Some(stored), Some(named)) if stored != named => {
                    return Err(refuse(PartProblem::Checksum { number: part.number.get() }));
                }
                (Some(_), Some(stored), _) => Some(stored),
                (Some(_), None, Some(named)) => Some(named),
                (Some(_), None, None) => return Err(refuse(PartProblem::Checksum { number: part.number.get() })),
            };
            total = total.saturating_add(held.size);
            let done = CompletedPart::new(part.number, held.etag.clone().unwrap_or_else(|| part.etag.clone()));
            parts.push(match checksum {
                Some(checksum) => done.with_checksum(checksum),
                None => done,
            });
            sizes.push(held.size);
        }
        if let PartLayout::Open { max_size } = self.layout
            && total > max_size
        {
            let _ = self.cancel(storage).await;
            return Err(Error::Policy(super::PolicyViolation::TooLarge { size: total, max: max_size }));
        }
        let first_size = stored.iter().find(|p| p.number == PartNumber::FIRST).map_or(0, |p| p.size);
        let expected = self.expected_checksum(&parts, &sizes);
        let meta = match &self.first_part_upload_key {
            Some(staging) => self.complete_quarantined(storage, staging, (first_size, total), parts, options).await?,
            None => {
                storage
                    .complete_multipart_upload(&self.upload, &parts, &create_only())
                    .await
                    .map_err(|e| self.taken(e))?;
                let ticket = super::UploadTicket::for_existing(&self.final_key, &self.content_type, total);
                super::verify_upload(storage, &ticket, &options.clone().with_delete_on_mismatch(true)).await?
            }
        };
        let meta = match expected {
            Some(expected) => self.check_checksum(storage, meta, expected).await?,
            None => meta,
        };
        #[cfg(feature = "images")]
        if let Some(images) = options.images().filter(|_| crate::images::ImagePolicy::handles(&self.content_type)) {
            return self.clean_in_place(storage, meta, images).await;
        }
        Ok(meta)
    }

    /// An image completed at its final key made clean in place (its variants beside it), on the
    /// condition that it is still the version completed; an image refused, or not made clean for
    /// any other reason, is deleted.
    #[cfg(feature = "images")]
    async fn clean_in_place(
        &self,
        storage: &dyn Storage,
        meta: ObjectMeta,
        images: &crate::images::ImagePolicy,
    ) -> Result<ObjectMeta> {
        let cleaning = super::images::Cleaning {
            source: &self.final_key,
            target: &self.final_key,
            content_type: &self.content_type,
            mode: meta.etag.clone().map_or(PutMode::Overwrite, PutMode::Update),
            checksum: self.upload.checksum.map(|c| c.algorithm),
            source_etag: meta.etag.as_deref(),
        };
        // Whatever stops the cleaning (a refusal, the storage failing), the image as it was sent
        // does not stay at its final key: it is deleted, and the person sends it again — unless it
        // was made clean meanwhile (a completion sent again), which only the cleaning can do: the
        // final key of a multipart upload holds nothing else that carries its size in pixels.
        match super::images::clean(storage, &cleaning, images).await {
            Ok(meta) => Ok(meta),
            Err(error) => {
                let clean_now = matches!(storage.head_object(&self.final_key, &GetOptions::new()).await,
                    Ok(Some(now)) if super::images::is_clean(&now));
                let deleted = !clean_now && storage.delete_object(&self.final_key).await.is_ok();
                match error {
                    Error::Mismatch(mut m) => {
                        m.deleted = deleted;
                        Err(Error::Mismatch(m))
                    }
                    e => Err(e),
                }
            }
        }
    }

    /// The checksum the completed object must have: of its parts' (each verified by the bucket as
    /// its bytes arrived), as the upload's type makes it.
    fn expected_checksum(&self, parts: &[CompletedPart], sizes: &[u64]) -> Option<StoredChecksum> {
        let declared = self.upload.checksum?;
        let values: Vec<Checksum> = parts.iter().filter_map(|p| p.checksum).collect();
        if values.len() != parts.len() {
            return None;
        }
        match declared.kind {
            ChecksumType::FullObject => {
                let with_sizes: Vec<(Checksum, u64)> = values.into_iter().zip(sizes.iter().copied()).collect();
                combine_full_object(&with_sizes).map(StoredChecksum::full_object)
            }
            _ => composite_of(&values)
                .map(|c| StoredChecksum::composite(c, u32::try_from(parts.len()).unwrap_or(u32::MAX))),
        }
    }

    /// Refuses (and deletes) a completed object whose stored checksum is not `expected`.
    async fn check_checksum(
        &self,
        storage: &dyn Storage,
        meta: ObjectMeta,
        expected: StoredChecksum,
    ) -> Result<ObjectMeta> {
        let asked = GetOptions::new().with_checksum_mode(true);
        let stored = storage.head_object(&self.final_key, &asked).await?.and_then(|m| m.checksum);
        if stored.is_some_and(|s| s.checksum == expected.checksum && s.parts == expected.parts) {
            let mut meta = meta;
            meta.checksum = stored;
            return Ok(meta);
        }
        let _ = storage.delete_object(&self.final_key).await;
        Err(Error::Mismatch(UploadMismatch {
            key: self.final_key.clone(),
            problems: vec![Mismatch::Checksum {
                expected: expected.to_string(),
                actual: stored.map(|s| s.to_string()),
            }],
            deleted: true,
        }))
    }

    async fn complete_quarantined(
        &self,
        storage: &dyn Storage,
        staging: &str,
        (first, total): (u64, u64),
        mut parts: Vec<CompletedPart>,
        options: &VerifyOptions,
    ) -> Result<ObjectMeta> {
        // Part 1's bytes, checked where they can be read, before they join the upload.
        let check = super::UploadTicket::for_existing(staging, &self.content_type, first);
        let staged = match super::verify::check_content(storage, &check, options).await {
            Ok(meta) => meta,
            Err(Error::Mismatch(mut mismatch)) => {
                let _ = self.cancel(storage).await;
                mismatch.key = self.final_key.clone();
                mismatch.deleted = true;
                return Err(Error::Mismatch(mismatch));
            }
            Err(e) => return Err(e),
        };
        let mut source = CopySource::new(staging);
        if let Some(etag) = &staged.etag {
            source = source.with_if_match(etag.as_str());
        }
        let joined =
            storage.upload_part_copy(self.upload.part(PartNumber::FIRST), &source).await.map_err(|e| match e {
                Error::PreconditionFailed { .. } => Error::Mismatch(UploadMismatch {
                    key: self.final_key.clone(),
                    problems: vec![Mismatch::Changed],
                    deleted: false,
                }),
                e => e,
            })?;
        if let Some(first) = parts.first_mut() {
            // The copy is of the very bytes checked (its ETag): a server that does not report the
            // copied part's checksum leaves it the staged object's, which the bucket verified.
            let checksum = joined.checksum.or(first.checksum);
            *first = joined;
            first.checksum = checksum;
        }
        let out =
            storage.complete_multipart_upload(&self.upload, &parts, &create_only()).await.map_err(|e| self.taken(e))?;
        let _ = storage.delete_object(staging).await;
        let mut meta = storage.head_object(&self.final_key, &GetOptions::new()).await?.ok_or_else(|| {
            Error::Mismatch(UploadMismatch {
                key: self.final_key.clone(),
                problems: vec![Mismatch::Missing],
                deleted: false,
            })
        })?;
        if meta.size != total {
            let _ = storage.delete_object(&self.final_key).await;
            return Err(Error::Mismatch(UploadMismatch {
                key: self.final_key.clone(),
                problems: vec![Mismatch::Size { expected: total, actual: meta.size }],
                deleted: true,
            }));
        }
        meta.etag = meta.etag.or(out.etag);
        Ok(meta)
    }

    /// Cancels the upload: aborts it, and deletes part 1's staging object. Nothing is kept.
    ///
    /// # Errors
    ///
    /// Backend errors.
    pub async fn cancel(&self, storage: &dyn Storage) -> Result<()> {
        storage.abort_multipart_upload(&self.upload).await?;
        if let Some(staging) = &self.first_part_upload_key {
            storage.delete_object(staging).await?;
        }
        Ok(())
    }
}

/// Completion never replaces an object already at the final key.
fn create_only() -> CompleteOptions {
    CompleteOptions::new().with_mode(PutMode::Create)
}

impl MultipartTicket {
    /// A completion refused because something is already at the final key: the upload stays in
    /// progress, and the caller hears of it as a change under the check.
    fn taken(&self, error: Error) -> Error {
        match error {
            Error::PreconditionFailed { .. } => Error::Mismatch(UploadMismatch {
                key: self.final_key.clone(),
                problems: vec![Mismatch::Changed],
                deleted: false,
            }),
            e => e,
        }
    }
}

/// Part 1 as the staging object holds it.
fn first_part(meta: &ObjectMeta) -> crate::multipart::UploadedPart {
    let mut part = crate::multipart::UploadedPart::new(PartNumber::FIRST, meta.size);
    part.etag = meta.etag.clone();
    part.last_modified = meta.last_modified;
    part.checksum = meta.checksum.filter(|c| c.parts.is_none()).map(|c| c.checksum);
    part
}

/// `"abc"` and `abc` are the same ETag.
fn same_etag(a: &str, b: &str) -> bool {
    a.trim().trim_matches('"') == b.trim().trim_matches('"')
}
