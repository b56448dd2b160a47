//! Images in the upload flow (feature `images`): the object promoted out of quarantine is the clean
//! one, written beside its variants, and the original never leaves staging.
//!
//! [`VerifyOptions::with_images`](super::VerifyOptions::with_images) turns it on for completions
//! ([`complete_upload`](super::complete_upload), [`MultipartTicket::complete`](super::MultipartTicket::complete));
//! [`sanitize_object`] does the same to an object already stored, for a service that prefers a
//! background worker; [`delete_upload`] deletes an object with its variants.

use std::sync::Arc;

use bytes::Bytes;

use crate::Body;
use crate::checksum::ChecksumAlgorithm;
use crate::images::{ImagePolicy, ImageRefusal, sanitize_off_runtime};
use crate::storage::{GetOptions, ObjectMeta, PutMode, PutOptions, Storage};
use crate::{Error, Result};

use super::verify::{Mismatch, UploadMismatch};

/// Whether the object at hand was written by the cleaning: it carries the clean image's size in
/// pixels (`x-amz-meta-width`), which nothing else of an upload's writes sets.
pub(crate) fn is_clean(meta: &ObjectMeta) -> bool {
    meta.metadata.contains_key("width")
}

/// The images held in memory at once, process-wide.
fn in_memory() -> &'static Arc<tokio::sync::Semaphore> {
    static HELD: std::sync::OnceLock<Arc<tokio::sync::Semaphore>> = std::sync::OnceLock::new();
    HELD.get_or_init(|| Arc::new(tokio::sync::Semaphore::new(2 * crate::images::cores())))
}

/// How long variants (and clean images) may be cached: they never change under their key.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// A variant as stored beside its image.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct StoredVariant {
    /// The variant's name (`thumb`).
    pub name: String,
    /// Its key.
    pub key: String,
    /// Its media type.
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its width and height, when stored with them.
    pub width: Option<u32>,
    /// Its height.
    pub height: Option<u32>,
}

/// Where an image comes from and goes: read `source`, write the clean image at `target` under
/// `mode`, with a checksum of `checksum` when the upload had one.
pub(crate) struct Cleaning<'a> {
    pub(crate) source: &'a str,
    pub(crate) target: &'a str,
    pub(crate) content_type: &'a str,
    pub(crate) mode: PutMode,
    pub(crate) checksum: Option<ChecksumAlgorithm>,
    /// The ETag of the version verified: the source is read only while it is still that version.
    pub(crate) source_etag: Option<&'a str>,
}

fn refusal(key: &str, refusal: ImageRefusal, deleted: bool) -> Error {
    Error::Mismatch(UploadMismatch { key: key.to_owned(), problems: vec![Mismatch::Image(refusal)], deleted })
}

/// Reads the image at `cleaning.source`, makes it clean off the runtime, writes its variants and
/// then the clean image. A refused image is an [`Error::Mismatch`] with [`Mismatch::Image`] (the
/// caller deletes what it must); nothing is written for it.
pub(crate) async fn clean(storage: &dyn Storage, cleaning: &Cleaning<'_>, policy: &ImagePolicy) -> Result<ObjectMeta> {
    // Images held in memory at once (the file read, its clean form and variants being written):
    // two per core, taken before the file is read, so that a burst of completions waits here
    // rather than buffering every file.
    let _held = Arc::clone(in_memory()).acquire_owned().await.map_err(|_| {
        Error::Mismatch(UploadMismatch {
            key: cleaning.target.to_owned(),
            problems: vec![Mismatch::Image(ImageRefusal::DecoderFailed)],
            deleted: false,
        })
    })?;
    let mut read = GetOptions::new();
    if let Some(etag) = cleaning.source_etag {
        read = read.with_if_match(etag);
    }
    let changed = || {
        Error::Mismatch(UploadMismatch {
            key: cleaning.source.to_owned(),
            problems: vec![Mismatch::Changed],
            deleted: false,
        })
    };
    let object = match storage.get_object(cleaning.source, &read).await {
        Err(Error::PreconditionFailed { .. }) => return Err(changed()),
        other => other?,
    };
    let Some(object) = object else {
        return Err(Error::Mismatch(UploadMismatch {
            key: cleaning.source.to_owned(),
            problems: vec![Mismatch::Missing],
            deleted: false,
        }));
    };
    let max_size = policy.max_bytes();
    if object.meta.size > max_size {
        return Err(refusal(
            cleaning.target,
            ImageRefusal::FileTooLarge { size: object.meta.size, max: max_size },
            false,
        ));
    }
    let bytes = object.bytes().await?;
    let clean = sanitize_off_runtime(Vec::from(bytes), cleaning.content_type.to_owned(), policy.clone())
        .await
        .map_err(|e| refusal(cleaning.target, e, false))?;
    let size = clean.bytes.len() as u64;
    if size > max_size {
        return Err(refusal(cleaning.target, ImageRefusal::CleanTooLarge { size, max: max_size }, false));
    }
    let mut written = Vec::new();
    for (variant, made) in policy.variants().iter().zip(&clean.variants) {
        let key = ImagePolicy::variant_key(cleaning.target, variant);
        let options = PutOptions::new()
            .with_content_type(made.content_type.as_str())
            .with_cache_control(IMMUTABLE)
            .with_metadata("width", made.width.to_string())
            .with_metadata("height", made.height.to_string());
        if let Err(e) = storage.put_object(&key, Body::from(Bytes::from(made.bytes.clone())), &options).await {
            delete_keys(storage, &written).await;
            return Err(e);
        }
        written.push(key);
    }
    let mut options = PutOptions::new()
        .with_content_type(clean.content_type.as_str())
        .with_mode(cleaning.mode.clone())
        .with_metadata("width", clean.width.to_string())
        .with_metadata("height", clean.height.to_string());
    if let Some(algorithm) = cleaning.checksum {
        options = options.with_checksum(algorithm);
    }
    match storage.put_object(cleaning.target, Body::from(Bytes::from(clean.bytes)), &options).await {
        Ok(_) => {}
        Err(Error::PreconditionFailed { .. }) => {
            // Something else is at the target. Staged, or cleaned meanwhile by a completion sent
            // again, it is this very upload's clean image, and the variants just written are its
            // own: they stay. Otherwise (the object replaced in place) they are of a version gone.
            let theirs = cleaning.source != cleaning.target
                || matches!(storage.head_object(cleaning.target, &GetOptions::new()).await,
                    Ok(Some(now)) if is_clean(&now));
            if !theirs {
                delete_keys(storage, &written).await;
            }
            return Err(Error::Mismatch(UploadMismatch {
                key: cleaning.target.to_owned(),
                problems: vec![Mismatch::Changed],
                deleted: false,
            }));
        }
        Err(e) => {
            delete_keys(storage, &written).await;
            return Err(e);
        }
    }
    let asked = GetOptions::new().with_checksum_mode(cleaning.checksum.is_some());
    storage.head_object(cleaning.target, &asked).await?.ok_or_else(|| {
        Error::Mismatch(UploadMismatch {
            key: cleaning.target.to_owned(),
            problems: vec![Mismatch::Missing],
            deleted: false,
        })
    })
}

async fn delete_keys(storage: &dyn Storage, keys: &[String]) {
    for key in keys {
        let _ = storage.delete_object(key).await;
    }
}

/// Makes the image already stored at `key` clean, in place: the clean bytes replace it on the
/// condition that it is still the version read (its ETag), and its variants are written beside it.
/// For a service that sanitises in a background worker rather than at completion.
///
/// # Errors
///
/// [`Error::Mismatch`] with [`Mismatch::Image`] for an image refused (nothing is changed: delete it
/// if it must not be served), [`Mismatch::Changed`] when it changed meanwhile; backend errors.
pub async fn sanitize_object(storage: &dyn Storage, key: &str, policy: &ImagePolicy) -> Result<ObjectMeta> {
    let meta = storage.head_object(key, &GetOptions::new().with_checksum_mode(true)).await?.ok_or_else(|| {
        Error::Mismatch(UploadMismatch { key: key.to_owned(), problems: vec![Mismatch::Missing], deleted: false })
    })?;
    let content_type = meta.content_type.clone().unwrap_or_default();
    let mode = meta.etag.clone().map_or(PutMode::Overwrite, PutMode::Update);
    let cleaning = Cleaning {
        source: key,
        target: key,
        content_type: &content_type,
        mode,
        checksum: meta.checksum.map(|c| c.checksum.algorithm()),
        source_etag: meta.etag.as_deref(),
    };
    clean(storage, &cleaning, policy).await
}

/// The variants stored beside the image at `key`, as the policy names them (those missing are left
/// out).
///
/// # Errors
///
/// Backend errors.
pub async fn stored_variants(storage: &dyn Storage, key: &str, policy: &ImagePolicy) -> Result<Vec<StoredVariant>> {
    let mut out = Vec::new();
    for variant in policy.variants() {
        let variant_key = ImagePolicy::variant_key(key, variant);
        if let Some(meta) = storage.head_object(&variant_key, &GetOptions::new()).await? {
            let number = |name: &str| meta.metadata.get(name).and_then(|v| v.parse().ok());
            out.push(StoredVariant {
                name: variant.name().to_owned(),
                content_type: meta.content_type.clone().unwrap_or_else(|| variant.format().content_type().to_owned()),
                size: meta.size,
                width: number("width"),
                height: number("height"),
                key: variant_key,
            });
        }
    }
    Ok(out)
}

/// Deletes the object at `key` and the variants the policy names beside it.
///
/// # Errors
///
/// Backend errors (the first one; the other deletions are still tried).
pub async fn delete_upload(storage: &dyn Storage, key: &str, policy: &ImagePolicy) -> Result<()> {
    let mut first = None;
    for variant in policy.variants() {
        if let Err(e) = storage.delete_object(&ImagePolicy::variant_key(key, variant)).await {
            first.get_or_insert(e);
        }
    }
    if let Err(e) = storage.delete_object(key).await {
        first.get_or_insert(e);
    }
    first.map_or(Ok(()), Err)
}
