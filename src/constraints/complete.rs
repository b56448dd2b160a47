//! Completing an upload: verify what landed, then promote it out of quarantine.

use crate::storage::{CopyOptions, GetOptions, ObjectMeta, PutMode, Storage};
use crate::{Error, Result};

use super::policy::UploadTicket;
use super::verify::{Mismatch, UploadMismatch, VerifyOptions, verify_upload};

/// Completes the upload of `ticket` after the client says it is done: verifies what landed (size,
/// type and, with `sniff`, content), and when the policy quarantines uploads
/// ([`UploadPolicy::with_staging_prefix`](super::UploadPolicy::with_staging_prefix)) promotes it to
/// its final key — a server-side copy on the condition that the object is still the one verified
/// (its ETag) and, where the storage checks it, that nothing is at the final key yet
/// ([`PutMode::Create`]): promotion never overwrites. Then the staged object is deleted. Returns the
/// object at its final key.
///
/// A mismatch deletes the staged object (nothing of it reaches the final prefix). Without staging,
/// this is [`verify_upload`] with the options given.
///
/// With [`VerifyOptions::with_images`], an image is promoted as its clean form instead of copied:
/// see [`crate::constraints::sanitize_object`] and the README's "Images" for what that means, and
/// why staging is what keeps the original from ever being served (without it, the presigned PUT
/// stays valid for its lifetime and can write the original again after the cleaning).
///
/// # Errors
///
/// [`Error::Mismatch`] with what differed — [`Mismatch::Changed`] when the object changed between
/// its check and its copy, or something else is at the final key; backend errors otherwise.
pub async fn complete_upload(
    storage: &dyn Storage,
    ticket: &UploadTicket,
    options: &VerifyOptions,
) -> Result<ObjectMeta> {
    #[cfg(feature = "images")]
    if let Some(images) = options.images().filter(|_| crate::images::ImagePolicy::handles(&ticket.content_type)) {
        return complete_image(storage, ticket, options, images).await;
    }
    if ticket.upload_key == ticket.final_key {
        return verify_upload(storage, ticket, options).await;
    }
    let staged = verify_upload(storage, ticket, &options.clone().with_delete_on_mismatch(true)).await?;
    promote(storage, &ticket.upload_key, &ticket.final_key, staged.etag.as_deref()).await
}

/// An image's completion: verified where it landed, then made clean — written at the final key
/// (never replacing anything there) with its variants beside it, while the original stays in
/// staging and is deleted. Without staging the clean image replaces the original in place, on the
/// condition that it is still the version verified. Sent again after it succeeded (its answer lost,
/// the app's hook failed), it finds the clean image and answers it.
#[cfg(feature = "images")]
async fn complete_image(
    storage: &dyn Storage,
    ticket: &UploadTicket,
    options: &VerifyOptions,
    images: &crate::images::ImagePolicy,
) -> Result<ObjectMeta> {
    use super::images::{Cleaning, clean};
    let staged = ticket.upload_key != ticket.final_key;
    let delete = staged || options.delete_on_mismatch();
    let landed = if staged {
        match verify_upload(storage, ticket, &options.clone().with_delete_on_mismatch(true)).await {
            // Nothing in staging: completed earlier (the original deleted after its cleaning)?
            Err(Error::Mismatch(m)) if m.problems == [Mismatch::Missing] => {
                return match cleaned_earlier(storage, &ticket.final_key).await? {
                    Some(meta) => Ok(meta),
                    None => Err(Error::Mismatch(m)),
                };
            }
            other => other?,
        }
    } else {
        match storage.head_object(&ticket.final_key, &GetOptions::new().with_checksum_mode(true)).await? {
            // In place, the person can only ever write the signed size (and checksum) at the key:
            // a marked object of another size, or another checksum, is the cleaning's.
            Some(meta) if super::images::is_clean(&meta) && differs_from_upload(&meta, ticket) => return Ok(meta),
            // Marked, but the upload's size: the cleaning's output of that very size, or the
            // person's bytes written again with a forged marker. Cleaned (again) either way, never
            // checked against the upload's type and deleted.
            Some(meta) if super::images::is_clean(&meta) => meta,
            _ => verify_upload(storage, ticket, &options.clone().with_delete_on_mismatch(delete)).await?,
        }
    };
    let cleaning = Cleaning {
        source: &ticket.upload_key,
        target: &ticket.final_key,
        content_type: &ticket.content_type,
        mode: if staged { PutMode::Create } else { landed.etag.clone().map_or(PutMode::Overwrite, PutMode::Update) },
        checksum: ticket.checksum.map(|c| c.algorithm()),
        source_etag: landed.etag.as_deref(),
    };
    let result = clean(storage, &cleaning, images).await;
    if staged
        && matches!(&result, Err(Error::Mismatch(m)) if m.problems == [Mismatch::Changed])
        && let Some(meta) = cleaned_earlier(storage, &ticket.final_key).await?
    {
        // The final key is this ticket's alone: what is there is an earlier completion's work.
        let _ = storage.delete_object(&ticket.upload_key).await;
        return Ok(meta);
    }
    let refused =
        matches!(&result, Err(Error::Mismatch(m)) if m.problems.iter().any(|p| matches!(p, Mismatch::Image(_))));
    let mut deleted = false;
    if (staged && result.is_ok()) || (refused && delete) {
        // The original never leaves staging, and a refused image is not kept. After any other
        // failure (the network, the store) the staged original stays, so that completion can be
        // tried again; the staging lifecycle removes it if it never is.
        deleted = storage.delete_object(&ticket.upload_key).await.is_ok();
    }
    result.map_err(|e| match e {
        Error::Mismatch(mut m) if refused => {
            m.deleted = deleted;
            Error::Mismatch(m)
        }
        e => e,
    })
}

/// The clean image an earlier completion wrote at `key` (a final key only the cleaning writes), if
/// it is there.
#[cfg(feature = "images")]
async fn cleaned_earlier(storage: &dyn Storage, key: &str) -> Result<Option<ObjectMeta>> {
    let meta = storage.head_object(key, &GetOptions::new().with_checksum_mode(true)).await?;
    Ok(meta.filter(super::images::is_clean))
}

/// Whether the object is not what the upload's signed PUT could have written: another size, or
/// another checksum than the one signed.
#[cfg(feature = "images")]
fn differs_from_upload(meta: &ObjectMeta, ticket: &UploadTicket) -> bool {
    let other_checksum = match (ticket.checksum, meta.checksum) {
        (Some(signed), Some(stored)) => stored.checksum != signed,
        _ => false,
    };
    meta.size != ticket.size || other_checksum
}

/// Copies a verified staged object to `final_key` on the condition that its ETag is still `etag` and
/// that nothing is at `final_key`, then deletes it. Anything else is a mismatch, and the staged
/// object is deleted.
pub(crate) async fn promote(
    storage: &dyn Storage,
    staged_key: &str,
    final_key: &str,
    etag: Option<&str>,
) -> Result<ObjectMeta> {
    let mut copy = CopyOptions::new().with_mode(PutMode::Create);
    if let Some(etag) = etag {
        copy = copy.with_source_if_match(etag);
    }
    match storage.copy_object(staged_key, final_key, &copy).await {
        Ok(_) => {}
        Err(Error::PreconditionFailed { .. }) => {
            let problem = match storage.head_object(staged_key, &GetOptions::new()).await {
                Ok(None) => Mismatch::Missing,
                _ => Mismatch::Changed,
            };
            let deleted = storage.delete_object(staged_key).await.is_ok();
            return Err(Error::Mismatch(UploadMismatch {
                key: staged_key.to_owned(),
                problems: vec![problem],
                deleted,
            }));
        }
        Err(e) => return Err(e),
    }
    // The staged copy has done its work; a failure to delete it leaves it to the staging lifecycle.
    let _ = storage.delete_object(staged_key).await;
    storage.head_object(final_key, &GetOptions::new()).await?.ok_or_else(|| {
        Error::Mismatch(UploadMismatch { key: final_key.to_owned(), problems: vec![Mismatch::Missing], deleted: false })
    })
}
