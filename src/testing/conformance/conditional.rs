//! Conditional writes and reads: a lost race is a typed error, and nothing is written.

use std::time::Duration;

use bytes::Bytes;

use super::{Checks, Failure, Profile, Report, read};
use crate::multipart::PartNumber;
use crate::testing::raw_http;
use crate::{Body, CompleteOptions, CopyOptions, Error, GetOptions, PutMode, PutOptions, Storage};

const STALE: &str = "\"0123456789abcdef0123456789abcdef\"";

/// What is at `key` now.
async fn holds(c: &Checks<'_>, storage: &dyn Storage, key: &str) -> Result<Option<Bytes>, Failure> {
    c.ok(read(storage, key).await, "get")
}

/// Checks a conditional write whose condition does not hold: refused with
/// [`Error::PreconditionFailed`] and `key` still holding `before` where the profile says the server
/// enforces it; written (`after` at the key) where it says it does not.
fn refused_or_written<T: std::fmt::Debug>(
    c: &mut Checks<'_>,
    what: &str,
    enforced: bool,
    result: &crate::Result<T>,
    (now, before, after): (Option<&[u8]>, &[u8], &[u8]),
) -> Result<(), Failure> {
    if enforced {
        c.ensure(matches!(result, Err(Error::PreconditionFailed { .. })), || format!("{what}: {result:?}"))?;
        c.ensure(now == Some(before), || format!("{what}: refused, yet the key changed"))?;
    } else {
        c.ensure(result.is_ok(), || format!("{what}: the profile says it is not enforced, yet {result:?}"))?;
        c.ensure(now == Some(after), || format!("{what}: written, yet the key holds something else"))?;
        c.note(format!("{what}: not enforced, the write happened"));
    }
    c.pass();
    Ok(())
}

/// [`PutMode::Create`] and [`PutMode::Update`] on puts, presigned puts, multipart completions and
/// copies: where the server enforces them (the profile says where), a write whose condition does
/// not hold fails with [`Error::PreconditionFailed`] and writes nothing; one whose condition holds
/// succeeds.
///
/// # Errors
///
/// The first check that does not hold.
pub async fn conditional_writes(storage: &dyn Storage, profile: &Profile) -> Result<Report, Failure> {
    let mut c = Checks::new("conditional_writes", profile);
    let key = profile.key("conditional/object.txt");
    let create = PutOptions::new().with_mode(PutMode::Create);

    // Create-only: on nothing it writes; on something it is refused.
    c.ok(storage.put_object(&key, Body::from("first"), &create).await, "create on nothing")?;
    c.ensure(holds(&c, storage, &key).await?.as_deref() == Some(&b"first"[..]), || "not created".into())?;
    c.pass();
    let again = storage.put_object(&key, Body::from("second"), &create).await;
    let now = holds(&c, storage, &key).await?;
    refused_or_written(
        &mut c,
        "PutObject create-only over an object",
        profile.conditional_puts,
        &again,
        (now.as_deref(), b"first", b"second"),
    )?;

    // Update-only: of the version named it writes; of another, or of nothing, it is refused.
    c.ok(storage.put_object(&key, Body::from("first"), &PutOptions::new()).await, "reset")?;
    let current = c.some(c.ok(storage.head_object(&key, &GetOptions::new()).await, "head")?, "gone")?;
    let etag = c.some(current.etag, "no ETag")?;
    let update = PutOptions::new().with_mode(PutMode::Update(etag.clone()));
    c.ok(storage.put_object(&key, Body::from("updated"), &update).await, "update of the version named")?;
    c.ensure(holds(&c, storage, &key).await?.as_deref() == Some(&b"updated"[..]), || "not updated".into())?;
    c.pass();
    let stale = storage.put_object(&key, Body::from("stale"), &update).await;
    let now = holds(&c, storage, &key).await?;
    refused_or_written(
        &mut c,
        "PutObject update of a version replaced since",
        profile.conditional_puts,
        &stale,
        (now.as_deref(), b"updated", b"stale"),
    )?;
    let nothing = profile.key("conditional/nothing.txt");
    let result =
        storage.put_object(&nothing, Body::from("x"), &PutOptions::new().with_mode(PutMode::Update(etag))).await;
    let now = holds(&c, storage, &nothing).await?;
    if profile.conditional_puts {
        c.ensure(matches!(result, Err(Error::PreconditionFailed { .. })), || format!("update of nothing: {result:?}"))?;
        c.ensure(now.is_none(), || "update of nothing wrote".into())?;
        c.pass();
    } else {
        c.ok(storage.delete_object(&nothing).await, "delete")?;
    }

    // A presigned create-only PUT: the browser must send the condition, and the bucket enforces it.
    c.ok(storage.put_object(&key, Body::from("first"), &PutOptions::new()).await, "reset")?;
    let signed = PutOptions::new().with_content_type("text/plain").with_mode(PutMode::Create);
    let url = c.ok(storage.presign_put(&key, &signed, Duration::from_secs(60)), "presign")?;
    c.ensure(url.headers.get("if-none-match").map(String::as_str) == Some("*"), || {
        format!("the condition is not among the headers to send: {:?}", url.headers)
    })?;
    let headers: Vec<(&str, &str)> = url.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let response = c.answer(raw_http::send("PUT", &url.url, &headers, b"browser").await, "presigned PUT")?;
    let now = holds(&c, storage, &key).await?;
    if profile.conditional_puts {
        c.ensure(response.status == 412, || format!("presigned create-only PUT over an object: {}", response.status))?;
        c.ensure(now.as_deref() == Some(&b"first"[..]), || "refused, yet the key changed".into())?;
    } else {
        c.ensure(response.status / 100 == 2, || format!("presigned create-only PUT: {}", response.status))?;
        c.note("a presigned create-only PUT over an object: not enforced, the write happened");
    }
    c.pass();

    // A multipart upload completed create-only over an object.
    c.ok(storage.put_object(&key, Body::from("first"), &PutOptions::new()).await, "reset")?;
    let upload = c.ok(storage.create_multipart_upload(&key, &PutOptions::new()).await, "create upload")?;
    let part = c.ok(storage.upload_part(upload.part(PartNumber::FIRST), Body::from("multipart")).await, "part")?;
    let done =
        storage.complete_multipart_upload(&upload, &[part], &CompleteOptions::new().with_mode(PutMode::Create)).await;
    let now = holds(&c, storage, &key).await?;
    refused_or_written(
        &mut c,
        "CompleteMultipartUpload create-only over an object",
        profile.conditional_completions,
        &done,
        (now.as_deref(), b"first", b"multipart"),
    )?;
    if done.is_err() {
        c.ok(storage.abort_multipart_upload(&upload).await, "abort")?;
    }

    // A copy create-only over an object.
    c.ok(storage.put_object(&key, Body::from("first"), &PutOptions::new()).await, "reset")?;
    let source = profile.key("conditional/source.txt");
    c.ok(storage.put_object(&source, Body::from("copied"), &PutOptions::new()).await, "put source")?;
    let copied = storage.copy_object(&source, &key, &CopyOptions::new().with_mode(PutMode::Create)).await;
    let now = holds(&c, storage, &key).await?;
    refused_or_written(
        &mut c,
        "CopyObject create-only over an object",
        profile.conditional_copies,
        &copied,
        (now.as_deref(), b"first", b"copied"),
    )?;
    let fresh = profile.key("conditional/fresh.txt");
    c.ok(storage.copy_object(&source, &fresh, &CopyOptions::new().with_mode(PutMode::Create)).await, "copy create")?;
    c.ensure(holds(&c, storage, &fresh).await?.as_deref() == Some(&b"copied"[..]), || "not copied".into())?;
    c.pass();

    for key in [&key, &source, &fresh] {
        c.ok(storage.delete_object(key).await, "delete")?;
    }
    c.done()
}

/// `If-Match` and `If-None-Match` on [`Storage::get_object`] and [`Storage::head_object`]: the
/// version named, or [`Error::PreconditionFailed`]; anything but the version named, or
/// [`Error::NotModified`].
///
/// # Errors
///
/// The first check that does not hold.
pub async fn conditional_reads(storage: &dyn Storage, profile: &Profile) -> Result<Report, Failure> {
    let mut c = Checks::new("conditional_reads", profile);
    let key = profile.key("conditional/read.txt");
    c.ok(storage.put_object(&key, Body::from("read me"), &PutOptions::new()).await, "put")?;
    let meta = c.some(c.ok(storage.head_object(&key, &GetOptions::new()).await, "head")?, "gone")?;
    let etag = c.some(meta.etag, "no ETag")?;

    let get = |options: GetOptions| {
        let key = key.clone();
        async move { storage.get_object(&key, &options).await.map(|o| o.map(|o| o.meta.size)) }
    };
    let head = |options: GetOptions| {
        let key = key.clone();
        async move { storage.head_object(&key, &options).await.map(|o| o.map(|o| o.size)) }
    };
    for (what, result) in [
        ("get if-match the version", get(GetOptions::new().with_if_match(etag.as_str())).await),
        ("head if-match the version", head(GetOptions::new().with_if_match(etag.as_str())).await),
        ("get if-none-match another", get(GetOptions::new().with_if_none_match(STALE)).await),
        ("head if-none-match another", head(GetOptions::new().with_if_none_match(STALE)).await),
    ] {
        c.ensure(matches!(result, Ok(Some(7))), || format!("{what}: {result:?}"))?;
        c.pass();
    }
    for (what, result, modified) in [
        ("get if-match another", get(GetOptions::new().with_if_match(STALE)).await, false),
        ("head if-match another", head(GetOptions::new().with_if_match(STALE)).await, false),
        ("get if-none-match the version", get(GetOptions::new().with_if_none_match(etag.as_str())).await, true),
        ("head if-none-match the version", head(GetOptions::new().with_if_none_match(etag.as_str())).await, true),
    ] {
        if profile.conditional_reads {
            let typed = if modified {
                matches!(result, Err(Error::NotModified { .. }))
            } else {
                matches!(result, Err(Error::PreconditionFailed { .. }))
            };
            c.ensure(typed, || format!("{what}: {result:?}"))?;
        } else {
            c.ensure(matches!(result, Ok(Some(7))), || format!("{what}: not enforced, yet {result:?}"))?;
            c.note(format!("{what}: not enforced"));
        }
        c.pass();
    }
    c.ok(storage.delete_object(&key).await, "delete")?;
    c.done()
}
