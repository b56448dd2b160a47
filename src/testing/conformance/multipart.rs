//! Multipart uploads through the trait's steps, and presigned parts.

use std::time::Duration;

use bytes::Bytes;

use super::{Checks, Failure, Profile, Report, data, read};
use crate::multipart::{CompletedPart, MultipartError, MultipartUpload, PartNumber, PartPlan};
use crate::testing::raw_http;
use crate::{CompleteOptions, Error, GetOptions, PartOptions, PutOptions, S3ErrorCode, Storage};

fn n(number: u32) -> PartNumber {
    PartNumber::new(number).unwrap_or(PartNumber::FIRST)
}

/// The smallest part but the last, for parts as small as the storage takes.
fn part_size(storage: &dyn Storage) -> usize {
    usize::try_from(storage.multipart_limits().min_part_size()).unwrap_or(5 << 20).max(1)
}

/// Nothing at `key`, and nothing in progress under it (where uploads can be listed).
async fn nothing_left(c: &mut Checks<'_>, storage: &dyn Storage, key: &str) -> Result<(), Failure> {
    let stored = c.ok(storage.head_object(key, &GetOptions::new()).await, "head")?;
    c.ensure(stored.is_none(), || format!("{key}: something is visible at the key"))?;
    let uploads = storage.list_multipart_uploads(key).all().await;
    if c.profile.lists_multipart_uploads {
        let uploads = c.ok(uploads, "list uploads")?;
        c.ensure(uploads.is_empty(), || format!("{key}: uploads still in progress: {uploads:?}"))?;
    } else {
        c.ensure(matches!(&uploads, Err(e) if e.status() == Some(501)), || {
            format!("ListMultipartUploads: the profile says 501, got {uploads:?}")
        })?;
    }
    Ok(())
}

/// Uploads `bytes` in parts of `size` and completes.
async fn upload_whole(storage: &dyn Storage, key: &str, bytes: &[u8], size: usize) -> crate::Result<()> {
    let options = PutOptions::new().with_content_type("application/octet-stream");
    let upload = storage.create_multipart_upload(key, &options).await?;
    let mut parts = Vec::new();
    for (i, chunk) in bytes.chunks(size).enumerate() {
        let number = PartNumber::new(u32::try_from(i + 1).unwrap_or(u32::MAX))?;
        parts.push(storage.upload_part(upload.part(number), Bytes::copy_from_slice(chunk).into()).await?);
    }
    storage.complete_multipart_upload(&upload, &parts, &CompleteOptions::new()).await?;
    Ok(())
}

/// Multipart uploads through the trait's steps: one, two and three parts exact; parts sent out of
/// order and at once; parts listed across pages; completions naming a part never sent, a forged ETag,
/// no parts or parts out of order refused (the last two before any request); an upload id used for
/// another key; abort and stale uploads leave nothing.
///
/// # Errors
///
/// The first check that does not hold.
pub async fn multipart(storage: &dyn Storage, profile: &Profile) -> Result<Report, Failure> {
    let mut c = Checks::new("multipart", profile);
    let part = part_size(storage);
    for (what, len) in [("one part", part / 2 + 5), ("two parts", part + 1024), ("three parts", 2 * part + 7)] {
        let key = profile.key(&format!("mp/shapes/{len}.bin"));
        let bytes = data(len, 1);
        c.ok(upload_whole(storage, &key, &bytes, part).await, what)?;
        let got = c.ok(read(storage, &key).await, "get")?;
        c.ensure(got.as_deref() == Some(bytes.as_slice()), || format!("{what}: other bytes stored"))?;
        let meta = c.ok(storage.head_object(&key, &GetOptions::new()).await, "head")?;
        let meta = c.some(meta, "not stored")?;
        c.ensure(meta.content_type.as_deref() == Some("application/octet-stream"), || {
            format!("{what}: stored as {:?}", meta.content_type)
        })?;
        c.ok(storage.delete_object(&key).await, "delete")?;
        c.pass();
    }

    // Parts 3, 1 and 2, all at once; listed in order across pages.
    let key = profile.key("mp/unordered.bin");
    let bytes = data(2 * part + 123, 2);
    let upload = c.ok(storage.create_multipart_upload(&key, &PutOptions::new()).await, "create")?;
    let sends = [3u32, 1, 2].map(|number| {
        let start = (number as usize - 1) * part;
        let chunk = Bytes::copy_from_slice(&bytes[start..(start + part).min(bytes.len())]);
        storage.upload_part(upload.part(n(number)), chunk.into())
    });
    let mut parts = Vec::new();
    for sent in futures_util::future::join_all(sends).await {
        parts.push(c.ok(sent, "part")?);
    }
    parts.sort_by_key(|p| p.number);
    let listed = c.ok(storage.list_parts(&upload).all().await, "list parts")?;
    let numbers: Vec<u32> = listed.iter().map(|p| p.number.get()).collect();
    c.ensure(numbers == [1, 2, 3], || format!("parts listed {numbers:?}"))?;
    let sizes: Vec<u64> = listed.iter().map(|p| p.size).collect();
    c.ensure(sizes == [part as u64, part as u64, 123], || format!("sizes listed {sizes:?}"))?;
    let with_etags = listed.iter().all(|p| p.etag.is_some());
    c.ensure(with_etags == profile.lists_part_etags, || format!("part ETags listed: {with_etags}"))?;
    if !with_etags {
        c.note("ListParts gives no part ETags");
    }
    if profile.lists_multipart_uploads {
        let uploads = c.ok(storage.list_multipart_uploads(&key).all().await, "list uploads")?;
        c.ensure(uploads.iter().any(|u| u.upload == upload), || format!("the upload is not listed: {uploads:?}"))?;
    } else {
        c.note("no ListMultipartUploads (501): uploads in progress not listed");
    }
    c.ok(storage.complete_multipart_upload(&upload, &parts, &CompleteOptions::new()).await, "complete")?;
    let got = c.ok(read(storage, &key).await, "get")?;
    c.ensure(got.as_deref() == Some(bytes.as_slice()), || "parts sent out of order: other bytes stored".into())?;
    c.ok(storage.delete_object(&key).await, "delete")?;
    c.pass();

    refused_completions(&mut c, storage, part).await?;
    abort_and_stale(&mut c, storage, profile).await?;
    c.done()
}

async fn refused_completions(c: &mut Checks<'_>, storage: &dyn Storage, part: usize) -> Result<(), Failure> {
    let profile = c.profile;
    let bytes = data(2 * part, 4);
    let prepare = |key: String| {
        let bytes = bytes.clone();
        async move {
            let upload = storage.create_multipart_upload(&key, &PutOptions::new()).await?;
            let one = storage.upload_part(upload.part(n(1)), Bytes::copy_from_slice(&bytes[..part]).into()).await?;
            let two = storage.upload_part(upload.part(n(2)), Bytes::copy_from_slice(&bytes[part..]).into()).await?;
            crate::Result::Ok((upload, one, two))
        }
    };
    let complete = CompleteOptions::new();

    // A part named that was never uploaded.
    let key = profile.key("mp/missing.bin");
    let (upload, one, two) = c.ok(prepare(key.clone()).await, "prepare")?;
    let three = CompletedPart::new(n(3), two.etag.clone());
    let result = storage.complete_multipart_upload(&upload, &[one, two, three], &complete).await;
    c.ensure(matches!(&result, Err(e) if e.status().is_some_and(|s| (400..500).contains(&s))), || {
        format!("a completion naming a part never sent: {result:?}")
    })?;
    c.ensure(c.ok(read(storage, &key).await, "get")?.is_none(), || "stored despite a missing part".into())?;
    let aborted = storage.abort_multipart_upload(&upload).await;
    if profile.keeps_refused_uploads || profile.aborts_unknown_uploads_quietly {
        c.ok(aborted, "abort after a refused completion")?;
    } else {
        c.ensure(matches!(&aborted, Err(e) if e.status() == Some(403)), || {
            format!("the profile says the refused upload is gone (403), got {aborted:?}")
        })?;
    }
    if !profile.keeps_refused_uploads {
        c.note("drops an upload whose completion was refused");
    }
    c.pass();

    // A forged ETag.
    let key = profile.key("mp/etag.bin");
    let (upload, one, two) = c.ok(prepare(key.clone()).await, "prepare")?;
    let forged = CompletedPart::new(two.number, "\"0123456789abcdef0123456789abcdef\"");
    let result = storage.complete_multipart_upload(&upload, &[one, forged], &complete).await;
    if profile.checks_part_etags {
        let error = c.some(result.err(), "a forged part ETag was accepted")?;
        c.ensure(error.code() == Some(&S3ErrorCode::InvalidPart), || format!("a forged ETag: {error}"))?;
        c.ensure(c.ok(read(storage, &key).await, "get")?.is_none(), || "stored with a forged ETag".into())?;
        c.ok(storage.abort_multipart_upload(&upload).await, "abort after a forged ETag")?;
    } else {
        c.ok(result, "the profile says part ETags are not checked")?;
        c.note("part ETags not checked at completion");
        c.ok(storage.delete_object(&key).await, "delete")?;
    }
    c.pass();

    // Before any request: no parts; parts out of order. The upload stays whole.
    let key = profile.key("mp/order.bin");
    let (upload, one, two) = c.ok(prepare(key.clone()).await, "prepare")?;
    let empty = storage.complete_multipart_upload(&upload, &[], &complete).await;
    c.ensure(matches!(empty, Err(Error::Multipart(MultipartError::NoParts))), || format!("no parts: {empty:?}"))?;
    let unordered = storage.complete_multipart_upload(&upload, &[two.clone(), one.clone()], &complete).await;
    c.ensure(matches!(unordered, Err(Error::Multipart(MultipartError::PartOrder { number: 1, after: 2 }))), || {
        format!("parts out of order: {unordered:?}")
    })?;
    c.ok(storage.complete_multipart_upload(&upload, &[one, two], &complete).await, "the right list")?;
    let got = c.ok(read(storage, &key).await, "get")?;
    c.ensure(got.as_deref() == Some(bytes.as_slice()), || "other bytes stored".into())?;
    c.ok(storage.delete_object(&key).await, "delete")?;
    c.pass();

    // An upload id used with another key.
    let key = profile.key("mp/owner.bin");
    let (upload, one, _) = c.ok(prepare(key.clone()).await, "prepare")?;
    let stolen = MultipartUpload::new(profile.key("mp/thief.bin"), upload.upload_id.clone());
    let sent = storage.upload_part(stolen.part(n(1)), Bytes::from_static(b"x").into()).await;
    let completed = storage.complete_multipart_upload(&stolen, &[one], &complete).await;
    c.ensure(c.ok(read(storage, &key).await, "get")?.is_none(), || "the owner's key holds an object".into())?;
    if profile.binds_upload_ids_to_keys {
        c.ensure(matches!(&sent, Err(e) if e.status().is_some_and(|s| (400..500).contains(&s))), || {
            format!("a part for an upload id of another key: {sent:?}")
        })?;
        c.ensure(completed.is_err(), || "completed an upload id under another key".into())?;
        c.ok(storage.abort_multipart_upload(&upload).await, "abort")?;
    } else {
        c.ok(sent, "the profile says upload ids are not bound to keys")?;
        c.ok(completed, "the profile says upload ids are not bound to keys")?;
        c.note("upload ids are not bound to their key: an id completes under another key");
        c.ok(storage.delete_object(&profile.key("mp/thief.bin")).await, "delete")?;
    }
    c.pass();
    Ok(())
}

async fn abort_and_stale(c: &mut Checks<'_>, storage: &dyn Storage, profile: &Profile) -> Result<(), Failure> {
    let key = profile.key("mp/aborted.bin");
    let upload = c.ok(storage.create_multipart_upload(&key, &PutOptions::new()).await, "create")?;
    c.ok(storage.upload_part(upload.part(n(1)), Bytes::from_static(b"part").into()).await, "part")?;
    c.ok(storage.abort_multipart_upload(&upload).await, "abort")?;
    nothing_left(c, storage, &key).await?;
    let late = storage.upload_part(upload.part(n(2)), Bytes::from_static(b"late").into()).await;
    c.ensure(matches!(&late, Err(e) if e.status().is_some_and(|s| (400..500).contains(&s))), || {
        format!("a part for an aborted upload: {late:?}")
    })?;
    let again = storage.abort_multipart_upload(&upload).await;
    if profile.aborts_unknown_uploads_quietly {
        c.ok(again, "aborting an aborted upload")?;
    } else {
        c.ensure(matches!(&again, Err(e) if e.status() == Some(403)), || {
            format!("aborting an aborted upload: the profile says 403, got {again:?}")
        })?;
        c.note("answers an upload id it does not know with 403 AccessDenied");
    }
    c.pass();

    let key = profile.key("mp/stale/a.bin");
    let old = c.ok(storage.create_multipart_upload(&key, &PutOptions::new()).await, "create")?;
    let aborted = crate::multipart::abort_stale_uploads(storage, &profile.key("mp/stale/"), Duration::ZERO).await;
    if profile.lists_multipart_uploads {
        let count = c.ok(aborted, "abort stale uploads")?;
        c.ensure(count == 1, || format!("{count} stale uploads aborted, not 1"))?;
        nothing_left(c, storage, &key).await?;
    } else {
        c.ensure(matches!(&aborted, Err(e) if e.status() == Some(501)), || format!("stale uploads: {aborted:?}"))?;
        c.ok(storage.abort_multipart_upload(&old).await, "abort")?;
    }
    c.pass();
    Ok(())
}

/// Parts uploaded through presigned URLs that sign the part's size: another size refused by the
/// bucket, the signed one stored, the object exact with the type it was created with.
///
/// # Errors
///
/// The first check that does not hold.
pub async fn presigned_parts(storage: &dyn Storage, profile: &Profile) -> Result<Report, Failure> {
    let mut c = Checks::new("presigned_parts", profile);
    let part = part_size(storage);
    let key = profile.key("mp/presigned.bin");
    let bytes = data(part + 1000, 3);
    let limits = storage.multipart_limits();
    let plan = c.ok(PartPlan::with_part_size(bytes.len() as u64, part as u64, &limits).map_err(Error::from), "plan")?;
    let options = PutOptions::new().with_content_type("video/mp4");
    let upload = c.ok(storage.create_multipart_upload(&key, &options).await, "create")?;
    let mut parts = Vec::new();
    for number in plan.parts() {
        let range = plan.part_range(number);
        let chunk = &bytes[range.start as usize..range.end as usize];
        let signed = PartOptions::new().with_content_length(plan.size_of(number));
        let url =
            c.ok(storage.presign_upload_part(upload.part(number), &signed, Duration::from_secs(300)), "presign")?;
        c.ensure(url.headers.get("content-length") == Some(&plan.size_of(number).to_string()), || {
            format!("the size is not signed: {:?}", url.headers)
        })?;
        // The raw client writes Content-Length from the body it sends.
        let headers: Vec<(&str, &str)> =
            url.headers.iter().filter(|(k, _)| *k != "content-length").map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let short =
            c.answer(raw_http::send("PUT", &url.url, &headers, &chunk[..chunk.len() - 1]).await, "short part")?;
        c.ensure((400..500).contains(&short.status), || format!("a part of another size: {}", short.status))?;
        let sent = c.answer(raw_http::send("PUT", &url.url, &headers, chunk).await, "part")?;
        c.ensure(sent.status / 100 == 2, || format!("the signed part: {} {}", sent.status, sent.text()))?;
        let etag = c.some(sent.header("etag"), "the part's answer has no ETag")?;
        parts.push(CompletedPart::new(number, etag));
        c.pass();
    }
    c.ok(storage.complete_multipart_upload(&upload, &parts, &CompleteOptions::new()).await, "complete")?;
    let got = c.ok(read(storage, &key).await, "get")?;
    c.ensure(got.as_deref() == Some(bytes.as_slice()), || "other bytes stored".into())?;
    let meta = c.ok(storage.head_object(&key, &GetOptions::new()).await, "head")?;
    c.ensure(meta.and_then(|m| m.content_type).as_deref() == Some("video/mp4"), || "the type was not kept".into())?;
    c.ok(storage.delete_object(&key).await, "delete")?;
    c.done()
}
