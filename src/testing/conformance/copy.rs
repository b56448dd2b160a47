//! Server-side copies.

use super::{Checks, Failure, Profile, Report, data, read};
use crate::{Body, CopyOptions, Error, GetOptions, PutOptions, Storage};

/// `copy_object` keeps the source's type and metadata, or stores the replacement's; a source that is
/// not the version named, or that does not exist, is refused with
/// [`Error::PreconditionFailed`] and nothing is written.
///
/// # Errors
///
/// The first check that does not hold.
pub async fn copy(storage: &dyn Storage, profile: &Profile) -> Result<Report, Failure> {
    let mut c = Checks::new("copy", profile);
    let (source, kept, replaced, wrong) = (
        profile.key("copy/source.png"),
        profile.key("copy/kept.png"),
        profile.key("copy/replaced.bin"),
        profile.key("copy/wrong.png"),
    );
    let bytes = data(100_000, 7);
    let options = PutOptions::new()
        .with_content_type("image/png")
        .with_cache_control("max-age=60")
        .with_metadata("owner", "user-42");
    let put = c.ok(storage.put_object(&source, Body::from(bytes.clone()), &options).await, "put")?;

    c.ok(storage.copy_object(&source, &kept, &CopyOptions::new()).await, "copy")?;
    c.ensure(c.ok(read(storage, &kept).await, "get")?.as_deref() == Some(bytes.as_slice()), || {
        "the copy holds other bytes".into()
    })?;
    let meta = c.some(c.ok(storage.head_object(&kept, &GetOptions::new()).await, "head")?, "no copy")?;
    c.ensure(meta.content_type.as_deref() == Some("image/png"), || format!("type {:?}", meta.content_type))?;
    c.ensure(meta.cache_control.as_deref() == Some("max-age=60"), || format!("cache {:?}", meta.cache_control))?;
    c.ensure(meta.metadata.get("owner").map(String::as_str) == Some("user-42"), || format!("{:?}", meta.metadata))?;
    c.pass();

    let replacement = PutOptions::new().with_content_type("application/octet-stream").with_metadata("stage", "final");
    let matching = c.some(put.etag.clone(), "the put returned no ETag")?;
    let options = CopyOptions::new().with_headers(replacement).with_source_if_match(matching);
    c.ok(storage.copy_object(&source, &replaced, &options).await, "copy with new headers")?;
    let meta = c.some(c.ok(storage.head_object(&replaced, &GetOptions::new()).await, "head")?, "no copy")?;
    c.ensure(meta.content_type.as_deref() == Some("application/octet-stream"), || format!("{:?}", meta.content_type))?;
    c.ensure(
        meta.metadata.get("stage").map(String::as_str) == Some("final") && !meta.metadata.contains_key("owner"),
        || format!("replaced metadata {:?}", meta.metadata),
    )?;
    c.pass();

    let other_version = CopyOptions::new().with_source_if_match("\"0123456789abcdef0123456789abcdef\"");
    let result = storage.copy_object(&source, &wrong, &other_version).await;
    c.ensure(matches!(result, Err(Error::PreconditionFailed { .. })), || format!("another version: {result:?}"))?;
    c.ensure(c.ok(read(storage, &wrong).await, "get")?.is_none(), || "another version was copied".into())?;
    let result = storage.copy_object(&profile.key("copy/absent.png"), &wrong, &CopyOptions::new()).await;
    c.ensure(matches!(result, Err(Error::PreconditionFailed { .. })), || format!("no source: {result:?}"))?;
    c.ensure(c.ok(read(storage, &wrong).await, "get")?.is_none(), || "a copy of nothing".into())?;
    c.pass();

    for key in [&source, &kept, &replaced] {
        c.ok(storage.delete_object(key).await, "delete")?;
    }
    c.done()
}
