//! What both protocols (the JSON endpoints and Uppy's) do: who calls, create, find, sign, complete
//! (with the app's hook) and cancel — each owner-scoped, so that one person's upload is, to anyone
//! else, an upload that does not exist.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use ::axum::extract::FromRequestParts;
use ::axum::http::request::Parts;
use futures_util::FutureExt;
use serde::Serialize;
use time::OffsetDateTime;

use super::hooks::{OnComplete, StoredUpload};
use super::identity::{Identify, Uploader};
use super::refusal::{Answer, Refusal};
use super::tickets::{PendingUpload, StoredTicket, TicketStore};
use crate::Error;
use crate::constraints::{
    FileClaim, Mismatch, MultipartTicket, PartLayout, PolicyViolation, UploadPolicy, UploadTicket, VerifyOptions,
    complete_upload, verify_upload,
};
use std::collections::BTreeMap;

use crate::checksum::Checksum;
use crate::multipart::{CompletedPart, PartNumber};
use crate::storage::{GetOptions, ObjectMeta, Storage};

/// What the endpoints share.
pub(super) struct Endpoints {
    pub(super) storage: Arc<dyn Storage>,
    pub(super) policy: UploadPolicy,
    pub(super) tickets: Arc<dyn TicketStore>,
    pub(super) verify: VerifyOptions,
    pub(super) identify: Arc<dyn Identify>,
    pub(super) identity_timeout: Duration,
    pub(super) on_complete: Option<Arc<dyn OnComplete>>,
    pub(super) max_in_progress: u32,
    pub(super) ticket_lifetime: Duration,
}

pub(super) type Shared = Arc<Endpoints>;

/// The caller, as the identity hook says: an extractor every route takes first.
pub(super) struct Caller(pub(super) Uploader);

impl FromRequestParts<Shared> for Caller {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, app: &Shared) -> Result<Self, Refusal> {
        // The hook is the app's code: a panic in it, or no answer in time, is a refusal, not a crash.
        let asked = AssertUnwindSafe(app.identify.identify(parts)).catch_unwind();
        match tokio::time::timeout(app.identity_timeout, asked).await {
            Ok(Ok(Ok(uploader))) => Ok(Self(uploader)),
            Ok(Ok(Err(refusal))) => Err(Refusal::sentence(refusal.status, &refusal.message)),
            Ok(Err(_)) => Err(Refusal::new(401, "Who you are could not be checked; sign in again.")),
            Err(_) => Err(Refusal::new(401, "Who you are could not be checked in time; try again.")),
        }
    }
}

impl Endpoints {
    /// The policy for `who`: their own key prefix, limit and types within the router's.
    fn policy_for(&self, who: &Uploader) -> UploadPolicy {
        who.narrow(&self.policy)
    }

    /// When a ticket written now stops being accepted.
    fn expiry(&self) -> OffsetDateTime {
        let lifetime = time::Duration::try_from(self.ticket_lifetime).unwrap_or(time::Duration::DAY);
        OffsetDateTime::now_utc().checked_add(lifetime).unwrap_or(OffsetDateTime::now_utc())
    }

    /// Refuses a new upload to someone with as many in progress as they may have.
    async fn under_cap(&self, who: &Uploader) -> Answer<()> {
        let cap = who.max_in_progress().unwrap_or(self.max_in_progress);
        if cap == u32::MAX {
            return Ok(());
        }
        let count = self.tickets.in_progress(who.id()).await?;
        if count >= cap as usize {
            return Err(Refusal::new(
                429,
                format!(
                    "You have {count} uploads in progress, as many as one person may have; finish or cancel one before \
                     starting another."
                ),
            ));
        }
        Ok(())
    }

    /// The image policy that makes uploads of `content_type` clean, if there is one.
    #[cfg(feature = "images")]
    pub(super) fn cleaning(&self, content_type: &str) -> Option<&crate::images::ImagePolicy> {
        self.verify.images().filter(|_| crate::images::ImagePolicy::handles(content_type))
    }

    /// Whether uploads of `content_type` are made clean at completion (and so stored as other bytes
    /// than those sent).
    pub(super) fn cleans(&self, content_type: &str) -> bool {
        #[cfg(feature = "images")]
        return self.cleaning(content_type).is_some();
        #[cfg(not(feature = "images"))]
        {
            let _ = content_type;
            false
        }
    }

    /// Whether an upload of `content_type` must be completed to be served: any image while images
    /// are made clean (so that presigned POSTs, which nothing completes, are refused for them —
    /// including image types the pipeline does not take).
    pub(super) fn must_complete(&self, content_type: &str) -> bool {
        #[cfg(feature = "images")]
        return self.verify.images().is_some()
            && content_type.trim_start().get(..6).is_some_and(|t| t.eq_ignore_ascii_case("image/"));
        #[cfg(not(feature = "images"))]
        {
            let _ = content_type;
            false
        }
    }

    /// Refuses, before anything is sent, an image larger than the image policy takes.
    fn check_image_size(&self, claim: &FileClaim) -> Answer<()> {
        #[cfg(feature = "images")]
        if let (Some(images), Some(size)) = (self.cleaning(claim.content_type()), claim.declared_size())
            && size > images.max_bytes()
        {
            return Err(Error::Policy(PolicyViolation::TooLarge { size, max: images.max_bytes() }).into());
        }
        let _ = claim;
        Ok(())
    }

    async fn keep(&self, who: &Uploader, upload: PendingUpload) -> Answer<()> {
        self.tickets.save(&StoredTicket::new(who.id().clone(), upload, self.expiry())).await?;
        Ok(())
    }
}

/// A presigned single upload for `claim`, its ticket kept for `who`.
pub(super) async fn create_single(app: &Endpoints, who: &Uploader, claim: &FileClaim) -> Answer<UploadTicket> {
    app.check_image_size(claim)?;
    app.under_cap(who).await?;
    let ticket = app.policy_for(who).presign_upload(app.storage.as_ref(), claim)?;
    app.keep(who, PendingUpload::Single(ticket.clone())).await?;
    Ok(ticket)
}

/// A multipart upload for `claim` (planned when it declares a size, open otherwise), its ticket kept
/// for `who`.
pub(super) async fn create_multipart(app: &Endpoints, who: &Uploader, claim: &FileClaim) -> Answer<MultipartTicket> {
    app.check_image_size(claim)?;
    app.under_cap(who).await?;
    let ticket = app.policy_for(who).presign_multipart(app.storage.as_ref(), claim).await?;
    if let Err(refusal) = app.keep(who, PendingUpload::Multipart(ticket.clone())).await {
        // Without its ticket nobody could complete it: nothing stays in progress.
        let _ = ticket.cancel(app.storage.as_ref()).await;
        return Err(refusal);
    }
    Ok(ticket)
}

/// The presigned POST of Uppy's single uploads (nothing completes them, so no ticket is kept).
pub(super) fn presign_post(
    app: &Endpoints,
    who: &Uploader,
    claim: &FileClaim,
) -> crate::Result<(UploadTicket, crate::PresignedPost)> {
    app.policy_for(who).presign_post(app.storage.as_ref(), claim)
}

/// `who`'s live ticket under `key`.
async fn pending(app: &Endpoints, who: &Uploader, key: &str) -> Answer<StoredTicket> {
    app.tickets.find(who.id(), key).await?.ok_or_else(Refusal::unknown)
}

/// `who`'s multipart upload of `key` with the client-visible `upload_id`.
pub(super) async fn multipart(app: &Endpoints, who: &Uploader, key: &str, upload_id: &str) -> Answer<MultipartTicket> {
    match pending(app, who, key).await?.upload {
        PendingUpload::Multipart(ticket) if ticket.upload.upload_id.as_str() == upload_id => Ok(ticket),
        _ => Err(Refusal::unknown()),
    }
}

/// A part URL, as the JSON endpoints answer it.
#[derive(Debug, Serialize)]
pub(super) struct SignedPart {
    pub(super) part_number: u32,
    pub(super) url: String,
    pub(super) headers: std::collections::BTreeMap<String, String>,
}

/// A part's checksum as a client sends it (base64 of the upload's algorithm), read.
fn part_checksum(ticket: &MultipartTicket, value: Option<&str>) -> Answer<Option<Checksum>> {
    match (ticket.upload.checksum, value) {
        (Some(declared), Some(value)) => Checksum::from_base64(declared.algorithm, value)
            .map(Some)
            .map_err(|e| Error::Policy(PolicyViolation::InvalidChecksum(e)).into()),
        (None, Some(_)) => Err(Error::Policy(PolicyViolation::PartChecksum(
            "a part checksum was given for an upload made without part checksums".into(),
        ))
        .into()),
        (_, None) => Ok(None),
    }
}

/// Presigned URLs for parts of a ticket, at most 100 at once, each signing its checksum when the
/// client gives one (`checksums`: base64 by part number).
pub(super) fn sign(
    app: &Endpoints,
    ticket: &MultipartTicket,
    numbers: &[u32],
    checksums: &BTreeMap<u32, String>,
) -> Answer<Vec<SignedPart>> {
    if numbers.len() > 100 {
        return Err(Refusal::new(400, "Ask for at most 100 part URLs at a time."));
    }
    numbers
        .iter()
        .map(|&n| {
            let part = PartNumber::new(n).map_err(Error::from)?;
            let checksum = part_checksum(ticket, checksums.get(&n).map(String::as_str))?;
            let url = ticket.presign_part(app.storage.as_ref(), part, checksum.as_ref())?;
            Ok(SignedPart { part_number: n, url: url.url, headers: url.headers })
        })
        .collect()
}

/// A part as a client names it at completion.
#[derive(Debug, serde::Deserialize)]
pub(super) struct NamedPart {
    pub(super) part_number: u32,
    pub(super) etag: String,
    #[serde(default)]
    pub(super) checksum: Option<String>,
}

/// Cancels `who`'s single upload of `key` (one that failed on its way, say): whatever reached the
/// upload key is deleted when it is not the final key, and the ticket goes.
pub(super) async fn cancel_single(app: &Endpoints, who: &Uploader, key: &str) -> Answer<()> {
    let PendingUpload::Single(ticket) = pending(app, who, key).await?.upload else {
        return Err(Refusal::unknown());
    };
    if ticket.upload_key != ticket.final_key {
        app.storage.delete_object(&ticket.upload_key).await?;
    }
    app.tickets.remove(who.id(), key).await?;
    Ok(())
}

/// Cancels `who`'s multipart upload: nothing of it is kept, and its ticket goes.
pub(super) async fn cancel(app: &Endpoints, who: &Uploader, ticket: &MultipartTicket) -> Answer<()> {
    ticket.cancel(app.storage.as_ref()).await?;
    app.tickets.remove(who.id(), &ticket.final_key).await?;
    Ok(())
}

/// What an earlier completion of this upload left at its final key (its hook failed, or its
/// answer was lost), checked again as a completion checks: only a verified object counts. The
/// final key is this ticket's alone (a fresh unique folder) and only its completion writes it.
async fn completed_earlier(
    app: &Endpoints,
    final_key: &str,
    content_type: &str,
    size: Option<u64>,
    max_size: u64,
) -> crate::Result<Option<ObjectMeta>> {
    let Some(meta) = app.storage.head_object(final_key, &GetOptions::new()).await? else {
        return Ok(None);
    };
    #[cfg(feature = "images")]
    if let Some(images) = app.cleaning(content_type) {
        return image_completed_earlier(app, meta, images).await.map(Some);
    }
    let expected = size.unwrap_or(meta.size.min(max_size));
    let check = UploadTicket::for_existing(final_key, content_type, expected);
    verify_upload(app.storage.as_ref(), &check, &app.verify).await.map(Some)
}

/// An image an earlier completion left at its final key: clean already if the cleaning wrote it (it
/// carries its size in pixels), else (a multipart upload completed, then the cleaning failed on the
/// way) made clean now, in place — a refused one deleted. Never served as it was sent.
#[cfg(feature = "images")]
async fn image_completed_earlier(
    app: &Endpoints,
    meta: ObjectMeta,
    images: &crate::images::ImagePolicy,
) -> crate::Result<ObjectMeta> {
    if crate::constraints::images::is_clean(&meta) {
        let content_type = meta.content_type.clone().unwrap_or_default();
        let check = UploadTicket::for_existing(&meta.key, &content_type, meta.size);
        return verify_upload(app.storage.as_ref(), &check, &app.verify).await;
    }
    match crate::constraints::sanitize_object(app.storage.as_ref(), &meta.key, images).await {
        Err(Error::Mismatch(mut m)) if m.problems.iter().any(|p| matches!(p, Mismatch::Image(_))) => {
            m.deleted = app.storage.delete_object(&meta.key).await.is_ok();
            Err(Error::Mismatch(m))
        }
        result => result,
    }
}

/// Verifies and promotes a single upload (an image made clean on the way) — or finds it completed
/// earlier.
async fn complete_single(app: &Endpoints, ticket: &UploadTicket) -> crate::Result<ObjectMeta> {
    let result = complete_upload(app.storage.as_ref(), ticket, &app.verify).await;
    match result {
        Err(Error::Mismatch(m)) if m.problems == [Mismatch::Missing] && ticket.upload_key != ticket.final_key => {
            let earlier =
                completed_earlier(app, &ticket.final_key, &ticket.content_type, Some(ticket.size), ticket.size).await?;
            earlier.ok_or(Error::Mismatch(m))
        }
        result => result,
    }
}

/// Completes a multipart upload — or finds it completed earlier (the upload is gone then, so
/// completing it again fails however the server says so).
async fn complete_multipart(
    app: &Endpoints,
    ticket: &MultipartTicket,
    named: &[CompletedPart],
) -> crate::Result<ObjectMeta> {
    match ticket.complete(app.storage.as_ref(), named, &app.verify).await {
        Ok(meta) => Ok(meta),
        Err(e) if ends_upload(&e) => Err(e),
        Err(e) => {
            let max = match ticket.layout {
                PartLayout::Open { max_size } => max_size,
                _ => ticket.size().unwrap_or(0),
            };
            match completed_earlier(app, &ticket.final_key, &ticket.content_type, ticket.size(), max).await {
                Ok(Some(meta)) => Ok(meta),
                _ => Err(e),
            }
        }
    }
}

/// Whether a completion's failure ends the upload: its object deleted, or (over the limit) the
/// upload cancelled. Its ticket then goes with it.
fn ends_upload(error: &Error) -> bool {
    matches!(error, Error::Mismatch(m) if m.deleted) || matches!(error, Error::Policy(_))
}

/// Completes `who`'s upload of `key`: verified, promoted, recorded by the app's hook, forgotten.
/// Answers the stored object as JSON, with the hook's answer merged in.
pub(super) async fn finish(
    app: &Endpoints,
    who: &Uploader,
    key: &str,
    upload_id: Option<&str>,
    parts: &[NamedPart],
) -> Answer<serde_json::Value> {
    let stored = pending(app, who, key).await?;
    let result = match &stored.upload {
        PendingUpload::Single(ticket) => complete_single(app, ticket).await.map(|mut meta| {
            // The staged object's checksum was checked, and the copy was of those very bytes (its
            // ETag): the promoted object has it, whether or not the copy reports it. (A cleaned
            // image is other bytes, with the checksum stowage wrote.)
            if meta.checksum.is_none() && !app.cleans(&ticket.content_type) {
                meta.checksum = ticket.checksum.map(crate::checksum::StoredChecksum::full_object);
            }
            (meta, ticket.filename.clone())
        }),
        PendingUpload::Multipart(ticket) => match upload_id {
            Some(id) if ticket.upload.upload_id.as_str() == id => {
                let named = parts
                    .iter()
                    .map(|p| {
                        let done =
                            CompletedPart::new(PartNumber::new(p.part_number).map_err(Error::from)?, p.etag.clone());
                        Ok(match part_checksum(ticket, p.checksum.as_deref())? {
                            Some(checksum) => done.with_checksum(checksum),
                            None => done,
                        })
                    })
                    .collect::<Answer<Vec<_>>>()?;
                complete_multipart(app, ticket, &named).await.map(|meta| (meta, ticket.filename.clone()))
            }
            Some(_) => return Err(Refusal::unknown()),
            None => return Err(Refusal::new(400, "A multipart upload is completed with its upload id and its parts.")),
        },
    };
    let (meta, filename) = match result {
        Ok(done) => done,
        Err(error) => {
            if ends_upload(&error) {
                let _ = app.tickets.remove(who.id(), key).await;
            }
            return Err(error.into());
        }
    };
    #[cfg(feature = "images")]
    let variants = match app.cleaning(meta.content_type.as_deref().unwrap_or_default()) {
        Some(images) => crate::constraints::stored_variants(app.storage.as_ref(), &meta.key, images).await?,
        None => Vec::new(),
    };
    let upload = StoredUpload {
        key: meta.key.clone(),
        filename,
        size: meta.size,
        content_type: meta.content_type.clone(),
        etag: meta.etag.clone(),
        owner: who.id().clone(),
        checksum: meta.checksum,
        #[cfg(feature = "images")]
        variants,
    };
    let mut reply = serde_json::json!({
        "key": meta.key,
        "filename": upload.filename,
        "size": meta.size,
        "content_type": meta.content_type,
    });
    #[cfg(feature = "images")]
    if let (false, Some(fields)) = (upload.variants.is_empty(), reply.as_object_mut()) {
        fields.insert("variants".into(), serde_json::to_value(&upload.variants).unwrap_or_default());
    }
    if let (Some(checksum), Some(fields)) = (meta.checksum, reply.as_object_mut()) {
        fields.insert("checksum".into(), checksum.to_string().into());
        fields.insert("checksum_algorithm".into(), checksum.checksum.algorithm().as_str().into());
    }
    if let Some(hook) = &app.on_complete {
        match AssertUnwindSafe(hook.completed(&upload)).catch_unwind().await {
            Ok(Ok(serde_json::Value::Object(recorded))) => {
                if let Some(fields) = reply.as_object_mut() {
                    for (name, value) in recorded {
                        fields.entry(name).or_insert(value);
                    }
                }
            }
            Ok(Ok(_)) => {}
            Ok(Err(failure)) => {
                crate::trace::event!(warn, reason = %failure, "the completion hook failed; the upload stays stored and can be completed again");
                let _ = failure;
                return Err(Refusal::unrecorded());
            }
            Err(_) => {
                crate::trace::event!(
                    warn,
                    "the completion hook panicked; the upload stays stored and can be completed again"
                );
                return Err(Refusal::unrecorded());
            }
        }
    }
    // Recorded (or nothing to record): the ticket goes. Should that fail, a completion sent again
    // runs the idempotent hook once more and answers the same.
    let _ = app.tickets.remove(who.id(), key).await;
    Ok(reply)
}
