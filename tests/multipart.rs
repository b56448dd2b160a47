//! Multipart uploads and server-side copies: one suite over `Arc<dyn Storage>`, run on s3s-fs
//! in-process and on Garage. Faults are injected by the loopback proxy of `support::proxy`; what is
//! stored is read back through a second client that talks to the server directly.
//!
//! Parts are 5 MiB, the smallest both servers complete, so that the suite stays fast.

#![cfg(feature = "testing")]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use stowage::multipart::{CompletedPart, MultipartError, MultipartLimits, MultipartUpload, PartNumber, PartPlan};
use stowage::{Body, CopyOptions, Error, GetOptions, PutOptions, RetryPolicy, S3ErrorCode, S3Storage, Storage};
use support::proxy::{Fault, Proxy, Seen};
use support::raw_http;
use support::servers::{self, Server};

const MIB: usize = 1024 * 1024;
const PART: usize = 5 * MIB;

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| ((i / 7) as u8).wrapping_mul(73).wrapping_add(seed).wrapping_add(i as u8)).collect()
}

fn n(number: u32) -> PartNumber {
    PartNumber::new(number).expect("a part number")
}

#[derive(Default)]
struct Tally {
    cases: u32,
    notes: Vec<String>,
}

impl Tally {
    fn pass(&mut self, what: &str) {
        self.cases += 1;
        eprintln!("  ok: {what}");
    }
}

/// The object at `key`, read through the client that talks to the server directly.
async fn read_back(direct: &S3Storage, key: &str) -> Option<Bytes> {
    direct.head_object(key).await.expect("head")?;
    Some(direct.get_object(key, &GetOptions::new()).await.expect("get").bytes().await.expect("body"))
}

async fn assert_stored(direct: &S3Storage, key: &str, expected: &[u8]) {
    let got = read_back(direct, key).await.unwrap_or_else(|| panic!("{key}: nothing stored"));
    assert_eq!(got.len(), expected.len(), "{key}: size");
    assert_eq!(Sha256::digest(&got), Sha256::digest(expected), "{key}: SHA-256 of what was stored");
}

/// An empty 500 answer.
const EMPTY_500: &[u8] = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// A 200 whose body is an S3 error document, as S3 answers a CompleteMultipartUpload or a copy that
/// failed after the status line was sent.
fn error_in_200() -> Vec<u8> {
    let document = "<?xml version=\"1.0\"?><Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>\n";
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{document}",
        document.len()
    )
    .into_bytes()
}

async fn assert_nothing_left(server: &Server, direct: &S3Storage, key: &str, tally: &mut Tally) {
    assert!(read_back(direct, key).await.is_none(), "{}: {key}: something is visible at the key", server.name);
    match direct.list_multipart_uploads(key).await {
        Ok(uploads) => {
            assert!(uploads.is_empty(), "{}: {key}: an upload is still in progress: {uploads:?}", server.name)
        }
        Err(e) if e.status() == Some(501) => {
            tally.notes.push(format!("{}: no ListMultipartUploads (501): uploads in progress not listed", server.name));
        }
        Err(e) => panic!("{}: list uploads: {e}", server.name),
    }
}

/// Uploads `bytes` in `part_size` parts from the server and completes.
async fn upload_whole(storage: &dyn Storage, key: &str, bytes: &[u8], part_size: usize) -> stowage::Result<()> {
    let upload =
        storage.create_multipart_upload(key, &PutOptions::new().content_type("application/octet-stream")).await?;
    let mut parts = Vec::new();
    for (i, chunk) in bytes.chunks(part_size).enumerate() {
        parts.push(storage.upload_part(&upload, n(i as u32 + 1), Bytes::copy_from_slice(chunk).into()).await?);
    }
    storage.complete_multipart_upload(&upload, &parts).await?;
    Ok(())
}

async fn shapes(server: &Server, storage: &Arc<dyn Storage>, direct: &S3Storage, tally: &mut Tally) {
    for (what, len) in [
        ("one part", 3 * MIB + 5),
        ("two parts, the last smaller", PART + MIB),
        ("three parts", 2 * PART + 2 * MIB + 7),
    ] {
        let key = format!("mp/shapes/{}.bin", len);
        let bytes = data(len, 1);
        upload_whole(storage.as_ref(), &key, &bytes, PART)
            .await
            .unwrap_or_else(|e| panic!("{}: {what}: {e}", server.name));
        assert_stored(direct, &key, &bytes).await;
        let meta = direct.head_object(&key).await.expect("head").expect("stored");
        assert_eq!(meta.content_type.as_deref(), Some("application/octet-stream"));
        direct.delete_object(&key).await.expect("delete");
        tally.pass(what);
    }

    // Out of order and concurrently: parts 3, 1 and 2 at once.
    let key = "mp/unordered.bin";
    let bytes = data(2 * PART + 123, 2);
    let upload = storage.create_multipart_upload(key, &PutOptions::new()).await.expect("create");
    let sends = [3u32, 1, 2].map(|number| {
        let storage = Arc::clone(storage);
        let upload = upload.clone();
        let start = (number as usize - 1) * PART;
        let chunk = Bytes::copy_from_slice(&bytes[start..(start + PART).min(bytes.len())]);
        tokio::spawn(async move { storage.upload_part(&upload, n(number), chunk.into()).await })
    });
    let mut parts = Vec::new();
    for send in sends {
        parts.push(send.await.expect("task").expect("part"));
    }
    parts.sort_by_key(|p| p.number);
    storage.complete_multipart_upload(&upload, &parts).await.expect("complete");
    assert_stored(direct, key, &bytes).await;
    direct.delete_object(key).await.expect("delete");
    tally.pass("parts sent out of order and concurrently");
}

async fn presigned_parts(server: &Server, storage: &Arc<dyn Storage>, direct: &S3Storage, tally: &mut Tally) {
    let key = "mp/presigned.bin";
    let bytes = data(PART + 1000, 3);
    let plan = PartPlan::with_part_size(bytes.len() as u64, PART as u64, &MultipartLimits::S3).expect("plan");
    let upload =
        storage.create_multipart_upload(key, &PutOptions::new().content_type("video/mp4")).await.expect("create");
    let mut parts = Vec::new();
    for part in plan.parts() {
        let range = plan.part_range(part);
        let chunk = &bytes[range.start as usize..range.end as usize];
        let url = storage
            .presign_upload_part(&upload, part, Some(plan.size_of(part)), Duration::from_secs(300))
            .expect("presign part");
        // The raw client writes Content-Length from the body it sends.
        assert_eq!(url.headers.get("content-length"), Some(&plan.size_of(part).to_string()), "the size is signed");
        let headers: Vec<(&str, &str)> =
            url.headers.iter().filter(|(k, _)| *k != "content-length").map(|(k, v)| (k.as_str(), v.as_str())).collect();
        // Another size than the one signed: refused by the bucket itself.
        let short = raw_http::send("PUT", &url.url, &headers, &chunk[..chunk.len() - 1]).await;
        assert!((400..500).contains(&short.status), "{}: a part of another size: {}", server.name, short.status);
        let sent = raw_http::send("PUT", &url.url, &headers, chunk).await;
        assert_eq!(sent.status / 100, 2, "{}: the signed part: {}", server.name, sent.text());
        let etag = sent.header("etag").expect("the part's ETag");
        parts.push(CompletedPart::new(part, etag));
    }
    storage.complete_multipart_upload(&upload, &parts).await.expect("complete");
    assert_stored(direct, key, &bytes).await;
    assert_eq!(
        direct.head_object(key).await.expect("head").expect("stored").content_type.as_deref(),
        Some("video/mp4")
    );
    direct.delete_object(key).await.expect("delete");
    tally.pass("presigned parts: another size and an expired URL refused, the signed size stored");
}

async fn refused_completions(server: &Server, storage: &Arc<dyn Storage>, direct: &S3Storage, tally: &mut Tally) {
    let bytes = data(2 * PART, 4);
    let prepare = |key: &'static str| {
        let storage = Arc::clone(storage);
        let bytes = bytes.clone();
        async move {
            let upload = storage.create_multipart_upload(key, &PutOptions::new()).await.expect("create");
            let one =
                storage.upload_part(&upload, n(1), Bytes::copy_from_slice(&bytes[..PART]).into()).await.expect("1");
            let two =
                storage.upload_part(&upload, n(2), Bytes::copy_from_slice(&bytes[PART..]).into()).await.expect("2");
            (upload, one, two)
        }
    };

    // A part named that was never uploaded.
    let (upload, one, two) = prepare("mp/missing.bin").await;
    let three = CompletedPart::new(n(3), two.etag.clone());
    let err = storage.complete_multipart_upload(&upload, &[one, two, three]).await.expect_err("a part missing");
    assert!(matches!(err, Error::Service(_)), "{}: {err}", server.name);
    tally.notes.push(format!(
        "{}: completion naming a part never uploaded: {} {}",
        server.name,
        err.status().unwrap_or(0),
        err.code().map(|c| c.to_string()).unwrap_or_default()
    ));
    assert!(read_back(direct, "mp/missing.bin").await.is_none(), "{}: stored despite a missing part", server.name);
    let _ = storage.abort_multipart_upload(&upload).await;
    tally.pass("completion with a part never uploaded refused");

    // A wrong ETag.
    let (upload, one, two) = prepare("mp/etag.bin").await;
    let forged = CompletedPart::new(two.number, "\"0123456789abcdef0123456789abcdef\"");
    match storage.complete_multipart_upload(&upload, &[one, forged]).await {
        Err(err) => {
            assert_eq!(err.code(), Some(&S3ErrorCode::InvalidPart), "{}: {err}", server.name);
            assert!(err.to_string().contains("list the stored parts"), "the hint says what to do: {err}");
            assert!(read_back(direct, "mp/etag.bin").await.is_none());
            let _ = storage.abort_multipart_upload(&upload).await;
        }
        Ok(_) => {
            tally.notes.push(format!("{}: does not check part ETags at completion", server.name));
            direct.delete_object("mp/etag.bin").await.expect("delete");
        }
    }
    tally.pass("completion with a forged ETag");

    // Before any request: no parts, parts out of order, a part number out of range.
    let (upload, one, two) = prepare("mp/order.bin").await;
    let err = storage.complete_multipart_upload(&upload, &[]).await.expect_err("no parts");
    assert!(matches!(err, Error::Multipart(MultipartError::NoParts)), "{err}");
    let err = storage.complete_multipart_upload(&upload, &[two.clone(), one.clone()]).await.expect_err("unordered");
    assert!(matches!(err, Error::Multipart(MultipartError::PartOrder { number: 1, after: 2 })), "{err}");
    assert!(err.to_string().contains("ascending order"), "{err}");
    assert!(matches!(PartNumber::new(0), Err(MultipartError::PartNumber { number: 0 })));
    assert!(matches!(PartNumber::new(10_001), Err(MultipartError::PartNumber { .. })));
    // The upload is still whole: completing it right works.
    storage.complete_multipart_upload(&upload, &[one, two]).await.expect("the right list");
    assert_stored(direct, "mp/order.bin", &bytes).await;
    direct.delete_object("mp/order.bin").await.expect("delete");
    tally.pass("empty, unordered and out-of-range part lists refused before sending");

    // An upload id of another key.
    let (upload, one, _) = prepare("mp/owner.bin").await;
    let stolen = MultipartUpload::new("mp/thief.bin", upload.upload_id.clone());
    match storage.upload_part(&stolen, n(1), Bytes::from_static(b"x").into()).await {
        Err(err) => assert!((400..500).contains(&err.status().unwrap_or(0)), "{}: {err}", server.name),
        Ok(_) => tally.notes.push(format!("{}: accepts a part for an upload id of another key", server.name)),
    }
    let err = storage.complete_multipart_upload(&stolen, &[one]).await;
    assert!(read_back(direct, "mp/owner.bin").await.is_none());
    if let Err(err) = &err {
        assert!(err.status().is_some_and(|s| s >= 400), "{}: {err}", server.name);
        storage.abort_multipart_upload(&upload).await.expect("abort");
    } else {
        // The server keys uploads by id alone; the upload is gone with its completion.
        tally.notes.push(format!("{}: completes an upload id under another key", server.name));
        let _ = direct.delete_object("mp/thief.bin").await;
    }
    tally.pass("an upload id used for another key");
}

async fn abort_and_listing(server: &Server, storage: &Arc<dyn Storage>, direct: &S3Storage, tally: &mut Tally) {
    // Parts listed across pages of two.
    let paged: Arc<dyn Storage> = Arc::new(server.config().with_page_size(2).build().expect("storage"));
    let upload = paged.create_multipart_upload("mp/listed.bin", &PutOptions::new()).await.expect("create");
    for number in [4u32, 1, 5, 2, 3] {
        paged
            .upload_part(&upload, n(number), Bytes::from(vec![number as u8; 1000 + number as usize]).into())
            .await
            .expect("part");
    }
    let parts = paged.list_parts(&upload).await.expect("list parts");
    let numbers: Vec<u32> = parts.iter().map(|p| p.number.get()).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5], "{}", server.name);
    assert_eq!(parts.iter().map(|p| p.size).collect::<Vec<_>>(), [1001, 1002, 1003, 1004, 1005]);
    if parts.iter().any(|p| p.etag.is_none()) {
        tally.notes.push(format!("{}: ListParts gives no part ETags", server.name));
    }
    tally.pass("parts listed in order across pages");

    // Uploads in progress, then aborted: nothing stays.
    match paged.list_multipart_uploads("mp/listed").await {
        Ok(uploads) => assert!(uploads.iter().any(|u| u.upload == upload), "{}: {uploads:?}", server.name),
        Err(e) => assert_eq!(e.status(), Some(501), "{}: {e}", server.name),
    }
    paged.abort_multipart_upload(&upload).await.expect("abort");
    assert_nothing_left(server, direct, "mp/listed.bin", tally).await;
    let err = storage.upload_part(&upload, n(6), Bytes::from_static(b"late").into()).await.expect_err("aborted");
    assert!(err.status().is_some_and(|s| (400..500).contains(&s)), "{}: {err}", server.name);
    match paged.abort_multipart_upload(&upload).await {
        Ok(()) => {}
        // What an abort of an unknown upload says differs: S3 and Garage NoSuchUpload (404), which
        // stowage takes as done; s3s-fs AccessDenied (403), which it cannot tell from a refusal.
        Err(e) if e.status() == Some(403) && server.name == "s3s-fs" => {
            tally.notes.push(format!("{}: answers an upload id it does not know with 403 AccessDenied", server.name));
        }
        Err(e) => panic!("{}: aborting an aborted upload: {e}", server.name),
    }
    tally.pass("abort leaves nothing in progress and nothing at the key");

    // Stale uploads are found and aborted.
    let old = storage.create_multipart_upload("mp/stale/a.bin", &PutOptions::new()).await.expect("create");
    match stowage::multipart::abort_stale_uploads(storage.as_ref(), "mp/stale/", Duration::ZERO).await {
        Ok(count) => {
            assert_eq!(count, 1, "{}", server.name);
            assert_nothing_left(server, direct, "mp/stale/a.bin", tally).await;
        }
        Err(e) => {
            assert_eq!(e.status(), Some(501), "{}: {e}", server.name);
            storage.abort_multipart_upload(&old).await.expect("abort");
        }
    }
    tally.pass("stale uploads listed and aborted");
}

async fn put_object_in_parts(server: &Server, direct: &S3Storage, tally: &mut Tally) {
    let storage = server
        .config()
        .with_multipart_threshold(6 * MIB as u64)
        .with_part_size(PART as u64)
        .with_concurrency(3)
        .build()
        .expect("storage");
    let bytes = data(3 * PART + 1234, 5);
    let dir = servers::TempDir::new("multipart");
    let path = dir.0.join("seventeen.bin");
    std::fs::write(&path, &bytes).expect("write");

    // A file: its parts are read from their offsets; progress reaches the total.
    let seen = Arc::new(AtomicU64::new(0));
    let steps = Arc::new(AtomicUsize::new(0));
    let (seen2, steps2) = (Arc::clone(&seen), Arc::clone(&steps));
    let body = Body::from_file(&path).await.expect("file").with_progress(move |p| {
        assert!(p.total == (3 * PART + 1234) as u64 && p.sent <= p.total);
        seen2.fetch_max(p.sent, Ordering::Relaxed);
        steps2.fetch_add(1, Ordering::Relaxed);
    });
    let out = storage
        .put_object("mp/file.bin", body, &PutOptions::new().content_type("application/zip"))
        .await
        .expect("file");
    assert!(out.etag.as_deref().is_some_and(|e| e.contains("-4")), "{}: a four-part ETag: {:?}", server.name, out.etag);
    assert_stored(direct, "mp/file.bin", &bytes).await;
    assert_eq!(seen.load(Ordering::Relaxed), bytes.len() as u64, "progress reaches the total");
    assert!(steps.load(Ordering::Relaxed) > 4, "progress is reported as the parts go");
    direct.delete_object("mp/file.bin").await.expect("delete");

    // A stream, in chunks that straddle the parts.
    let chunks: Vec<std::io::Result<Bytes>> = bytes.chunks(100_003).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    let stream = Body::from_stream(futures_util::stream::iter(chunks), bytes.len() as u64);
    storage.put_object("mp/stream.bin", stream, &PutOptions::new()).await.expect("stream");
    assert_stored(direct, "mp/stream.bin", &bytes).await;
    direct.delete_object("mp/stream.bin").await.expect("delete");

    // A stream longer than declared, with the excess in a chunk of its own: nothing stored.
    let mut chunks: Vec<std::io::Result<Bytes>> = bytes.chunks(PART).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    chunks.push(Ok(Bytes::from_static(b"one chunk too many")));
    let longer = Body::from_stream(futures_util::stream::iter(chunks), bytes.len() as u64);
    let err = storage.put_object("mp/longer.bin", longer, &PutOptions::new()).await.expect_err("longer");
    assert!(matches!(err, Error::BodyLength { .. }), "{err}");
    assert_nothing_left(server, direct, "mp/longer.bin", tally).await;
    // Shorter.
    let short = Body::from_stream(
        futures_util::stream::iter(vec![Ok(Bytes::from(bytes[..PART + 3].to_vec()))]),
        bytes.len() as u64,
    );
    let err = storage.put_object("mp/shorter.bin", short, &PutOptions::new()).await.expect_err("shorter");
    assert!(matches!(err, Error::BodyLength { .. }), "{err}");
    assert_nothing_left(server, direct, "mp/shorter.bin", tally).await;
    tally.pass("put_object over the threshold: file and stream exact, wrong lengths abort");

    // A body the plan cannot serve is refused before any request.
    let tiny_limits = MultipartLimits::S3.with_max_object_size(10 * MIB as u64);
    let limited = server
        .config()
        .with_multipart_threshold(6 * MIB as u64)
        .with_multipart_limits(tiny_limits)
        .build()
        .expect("storage");
    let err =
        limited.put_object("mp/too-big.bin", bytes.clone().into(), &PutOptions::new()).await.expect_err("too big");
    assert!(matches!(err, Error::Multipart(MultipartError::ObjectTooLarge { .. })), "{err}");
    assert!(err.to_string().contains("10.0 MiB"), "{err}");
    assert_nothing_left(server, direct, "mp/too-big.bin", tally).await;
    tally.pass("a size beyond the limits refused before sending");
}

async fn faults(server: &Server, direct: &S3Storage, tally: &mut Tally) {
    let through = |proxy: &Proxy| {
        stowage::S3Config::new(server.bucket.as_str(), server.region.as_str(), server.credentials())
            .with_endpoint(proxy.endpoint.as_str())
            .with_multipart_threshold(6 * MIB as u64)
            .with_part_size(PART as u64)
            .with_concurrency(2)
            .with_retry(RetryPolicy::new(3, Duration::from_millis(5), Duration::from_millis(50)))
            .build()
            .expect("storage")
    };
    let is_part = |r: &Seen, number: &str| r.method == "PUT" && r.target.contains(&format!("partNumber={number}&"));
    let bytes = data(3 * PART + 77, 6);

    // Part 2 reset halfway through, once: retried on its own; the object is exact.
    for kind in ["bytes", "stream"] {
        let once = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&once);
        let proxy = Proxy::start(&server.endpoint, move |r: &Seen| {
            if is_part(r, "2") && counter.fetch_add(1, Ordering::SeqCst) == 0 {
                Fault::ResetAfterBody(PART as u64 / 2)
            } else {
                Fault::Forward
            }
        })
        .await;
        let body = if kind == "bytes" {
            Body::from(bytes.clone())
        } else {
            let chunks: Vec<std::io::Result<Bytes>> =
                bytes.chunks(65_536).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
            Body::from_stream(futures_util::stream::iter(chunks), bytes.len() as u64)
        };
        let key = format!("mp/fault-once-{kind}.bin");
        through(&proxy)
            .put_object(&key, body, &PutOptions::new())
            .await
            .unwrap_or_else(|e| panic!("{}: {kind}: {e} ({e:?})", server.name));
        assert_eq!(once.load(Ordering::SeqCst), 2, "part 2 was sent twice");
        assert_stored(direct, &key, &bytes).await;
        direct.delete_object(&key).await.expect("delete");
    }
    tally.pass("a part failing once is retried alone (bytes, and a stream's kept part): exact");

    // Part 3 fails for good: the upload is aborted, nothing anywhere.
    let proxy = Proxy::start(&server.endpoint, move |r: &Seen| {
        if is_part(r, "3") { Fault::Respond(EMPTY_500.to_vec()) } else { Fault::Forward }
    })
    .await;
    let err = through(&proxy)
        .put_object("mp/fault-always.bin", bytes.clone().into(), &PutOptions::new())
        .await
        .expect_err("part 3");
    assert_eq!(err.status(), Some(500), "{err}");
    assert_nothing_left(server, direct, "mp/fault-always.bin", tally).await;
    tally.pass("a part failing for good aborts the upload: nothing at the key or in progress");

    // Completion answered with 200 and an error document: an error (retried when the code says it may
    // pass), never a success.
    let error_200 = error_in_200();
    let is_complete = |r: &Seen| r.method == "POST" && r.target.contains("uploadId=");
    let first = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&first);
    let answer = error_200.clone();
    let proxy = Proxy::start(&server.endpoint, move |r: &Seen| {
        if is_complete(r) && counter.fetch_add(1, Ordering::SeqCst) == 0 {
            Fault::Respond(answer.clone())
        } else {
            Fault::Forward
        }
    })
    .await;
    through(&proxy).put_object("mp/complete-200.bin", bytes.clone().into(), &PutOptions::new()).await.expect("retried");
    assert_eq!(first.load(Ordering::SeqCst), 2);
    assert_stored(direct, "mp/complete-200.bin", &bytes).await;
    direct.delete_object("mp/complete-200.bin").await.expect("delete");
    let answer = error_200.clone();
    let proxy =
        Proxy::start(
            &server.endpoint,
            move |r: &Seen| if is_complete(r) { Fault::Respond(answer.clone()) } else { Fault::Forward },
        )
        .await;
    let err = through(&proxy)
        .put_object("mp/complete-err.bin", bytes.clone().into(), &PutOptions::new())
        .await
        .expect_err("always");
    assert_eq!(err.code(), Some(&S3ErrorCode::InternalError), "{err}");
    assert_nothing_left(server, direct, "mp/complete-err.bin", tally).await;
    tally.pass("CompleteMultipartUpload answering 200 with <Error>: an error, retried, then aborted");

    // Part 2's first attempt never answered: the idle timeout ends it and the part alone is sent again.
    let once = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&once);
    let proxy = Proxy::start(&server.endpoint, move |r: &Seen| {
        if is_part(r, "2") && counter.fetch_add(1, Ordering::SeqCst) == 0 { Fault::Silent } else { Fault::Forward }
    })
    .await;
    let impatient = stowage::S3Config::new(server.bucket.as_str(), server.region.as_str(), server.credentials())
        .with_endpoint(proxy.endpoint.as_str())
        .with_multipart_threshold(6 * MIB as u64)
        .with_part_size(PART as u64)
        .with_concurrency(2)
        .with_idle_timeout(Duration::from_secs(1))
        .with_retry(RetryPolicy::new(3, Duration::from_millis(5), Duration::from_millis(50)))
        .build()
        .expect("storage");
    impatient.put_object("mp/silent-part.bin", bytes.clone().into(), &PutOptions::new()).await.expect("retried");
    assert_eq!(once.load(Ordering::SeqCst), 2, "part 2 was sent twice");
    assert_stored(direct, "mp/silent-part.bin", &bytes).await;
    direct.delete_object("mp/silent-part.bin").await.expect("delete");
    tally.pass("a part whose first attempt is never answered is sent again after the idle timeout: exact");

    // The answer to CompleteMultipartUpload cut short once: the server completed the upload, so the
    // retry finds it gone. The object at the key, recognised by its multipart ETag, is the outcome.
    let once = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&once);
    let proxy = Proxy::start(&server.endpoint, move |r: &Seen| {
        if is_complete(r) && counter.fetch_add(1, Ordering::SeqCst) == 0 {
            Fault::CutAnswer(10)
        } else {
            Fault::Forward
        }
    })
    .await;
    let out = through(&proxy)
        .put_object("mp/complete-cut.bin", bytes.clone().into(), &PutOptions::new())
        .await
        .unwrap_or_else(|e| panic!("{}: completed, yet: {e}", server.name));
    assert_eq!(once.load(Ordering::SeqCst), 2, "completion was sent twice");
    assert!(out.etag.as_deref().is_some_and(|e| e.trim_matches('"').ends_with("-4")), "{out:?}");
    assert_stored(direct, "mp/complete-cut.bin", &bytes).await;
    direct.delete_object("mp/complete-cut.bin").await.expect("delete");
    tally.pass("CompleteMultipartUpload's answer cut short: retried, recognised by its ETag, exact");
}

async fn copies(server: &Server, storage: &Arc<dyn Storage>, direct: &S3Storage, tally: &mut Tally) {
    let bytes = data(PART * 2 + 999, 7);
    let options = PutOptions::new().content_type("image/png").cache_control("max-age=60").metadata("owner", "user-42");
    storage.put_object("mp/copy/source.png", bytes.clone().into(), &options).await.expect("put");

    // Metadata kept.
    storage.copy_object("mp/copy/source.png", "mp/copy/kept.png", &CopyOptions::new()).await.expect("copy");
    assert_stored(direct, "mp/copy/kept.png", &bytes).await;
    let meta = direct.head_object("mp/copy/kept.png").await.expect("head").expect("copied");
    assert_eq!(meta.content_type.as_deref(), Some("image/png"));
    assert_eq!(meta.metadata.get("owner").map(String::as_str), Some("user-42"));
    // Metadata replaced.
    let replaced = CopyOptions::new()
        .replace(PutOptions::new().content_type("application/octet-stream").metadata("stage", "final"));
    storage.copy_object("mp/copy/source.png", "mp/copy/replaced.bin", &replaced).await.expect("copy");
    let meta = direct.head_object("mp/copy/replaced.bin").await.expect("head").expect("copied");
    assert_eq!(meta.content_type.as_deref(), Some("application/octet-stream"));
    assert_eq!(meta.metadata.get("stage").map(String::as_str), Some("final"));
    assert!(!meta.metadata.contains_key("owner"), "{}: replaced metadata keeps none of the source's", server.name);
    tally.pass("copy_object with metadata kept and replaced");

    // Part by part (the threshold lowered so that 10 MiB goes as three UploadPartCopy parts).
    let parted = server
        .config()
        .with_multipart_copy_threshold(6 * MIB as u64)
        .with_copy_part_size(PART as u64)
        .build()
        .expect("storage");
    let out = parted
        .copy_object("mp/copy/source.png", "mp/copy/parted.png", &CopyOptions::new())
        .await
        .expect("copy in parts");
    assert!(out.etag.as_deref().is_some_and(|e| e.contains("-3")), "{}: three parts: {:?}", server.name, out.etag);
    assert_stored(direct, "mp/copy/parted.png", &bytes).await;
    let meta = direct.head_object("mp/copy/parted.png").await.expect("head").expect("copied");
    assert_eq!(meta.content_type.as_deref(), Some("image/png"));
    assert_eq!(meta.metadata.get("owner").map(String::as_str), Some("user-42"));
    tally.pass("copy part by part (UploadPartCopy), metadata kept");

    // The source expected, or no copy.
    let err = storage
        .copy_object("mp/copy/source.png", "mp/copy/wrong.png", &CopyOptions::new().if_match("\"not-its-etag\""))
        .await
        .expect_err("another ETag");
    assert_eq!(err.status(), Some(412), "{err}");
    assert!(read_back(direct, "mp/copy/wrong.png").await.is_none());
    let err =
        storage.copy_object("mp/copy/absent.png", "mp/copy/x.png", &CopyOptions::new()).await.expect_err("no source");
    assert!(err.is_not_found(), "{err}");
    tally.pass("copy of another version or of nothing refused");
    for key in ["mp/copy/source.png", "mp/copy/kept.png", "mp/copy/replaced.bin", "mp/copy/parted.png"] {
        direct.delete_object(key).await.expect("delete");
    }
}

async fn r2_rules(server: &Server, direct: &S3Storage, tally: &mut Tally) {
    // R2's rule (equal parts, the last not larger) enforced by stowage on a server that does not:
    // the R2 provider's rules on Garage or s3s-fs.
    let as_r2 = server.config().with_provider(stowage::Provider::R2).build().expect("storage");
    let upload = as_r2.create_multipart_upload("mp/r2.bin", &PutOptions::new()).await.expect("create");
    let one = as_r2.upload_part(&upload, n(1), Bytes::from(vec![1u8; PART]).into()).await.expect("1");
    let two = as_r2.upload_part(&upload, n(2), Bytes::from(vec![2u8; PART + 1]).into()).await.expect("2");
    let err = as_r2.complete_multipart_upload(&upload, &[one, two]).await.expect_err("uneven");
    assert!(matches!(err, Error::Multipart(MultipartError::UnevenParts { number: 2, .. })), "{err}");
    assert!(err.to_string().contains("Cloudflare R2"), "{err}");
    as_r2.abort_multipart_upload(&upload).await.expect("abort");
    let err = as_r2.create_multipart_upload("mp/r2.bin", &PutOptions::new().acl("public-read")).await.expect_err("acl");
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    assert_nothing_left(server, direct, "mp/r2.bin", tally).await;
    tally.pass("R2's rules: uneven parts and unsupported headers refused before completing");
}

/// UploadPartCopy under faults: a part copy answered with an error inside a 200, or whose answer is
/// cut short, is copied again on its own; a part copy that fails for good aborts the copy.
async fn copy_faults(server: &Server, direct: &S3Storage, tally: &mut Tally) {
    let bytes = data(PART * 2 + 999, 8);
    direct.put_object("mp/copyfault/source.bin", bytes.clone().into(), &PutOptions::new()).await.expect("put");
    let through = |proxy: &Proxy| {
        stowage::S3Config::new(server.bucket.as_str(), server.region.as_str(), server.credentials())
            .with_endpoint(proxy.endpoint.as_str())
            .with_multipart_copy_threshold(6 * MIB as u64)
            .with_copy_part_size(PART as u64)
            .with_concurrency(2)
            .with_retry(RetryPolicy::new(3, Duration::from_millis(5), Duration::from_millis(50)))
            .build()
            .expect("storage")
    };
    let is_copy_part = |r: &Seen, number: &str| {
        r.method == "PUT"
            && r.target.contains(&format!("partNumber={number}&"))
            && r.header("x-amz-copy-source").is_some()
    };
    let error_200 = error_in_200();

    // Once each: an <Error> inside a 200 (S3 answers a copy that failed midway so), and an answer cut
    // short after the server copied the part. Either way part 2 is copied again, alone.
    for (what, fault) in [("error-200", Fault::Respond(error_200.clone())), ("cut", Fault::CutAnswer(10))] {
        let once = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&once);
        let fault = std::sync::Mutex::new(Some(fault));
        let proxy = Proxy::start(&server.endpoint, move |r: &Seen| {
            if is_copy_part(r, "2") && counter.fetch_add(1, Ordering::SeqCst) == 0 {
                fault.lock().map(|mut f| f.take()).ok().flatten().unwrap_or(Fault::Forward)
            } else {
                Fault::Forward
            }
        })
        .await;
        let key = format!("mp/copyfault/{what}.bin");
        let out = through(&proxy)
            .copy_object("mp/copyfault/source.bin", &key, &CopyOptions::new())
            .await
            .unwrap_or_else(|e| panic!("{}: {what}: {e}", server.name));
        assert_eq!(once.load(Ordering::SeqCst), 2, "{what}: part 2 was copied twice");
        assert!(out.etag.as_deref().is_some_and(|e| e.contains("-3")), "{what}: three parts: {:?}", out.etag);
        assert_stored(direct, &key, &bytes).await;
        direct.delete_object(&key).await.expect("delete");
    }
    tally.pass("UploadPartCopy failing once (an <Error> in a 200, a cut answer): that part again, exact");

    // Part 3 refused every time: an error, the copy's upload aborted, nothing at the destination.
    let proxy = Proxy::start(&server.endpoint, move |r: &Seen| {
        if is_copy_part(r, "3") { Fault::Respond(EMPTY_500.to_vec()) } else { Fault::Forward }
    })
    .await;
    let err = through(&proxy)
        .copy_object("mp/copyfault/source.bin", "mp/copyfault/never.bin", &CopyOptions::new())
        .await
        .expect_err("part 3");
    assert_eq!(err.status(), Some(500), "{err}");
    assert_nothing_left(server, direct, "mp/copyfault/never.bin", tally).await;
    direct.delete_object("mp/copyfault/source.bin").await.expect("delete");
    tally.pass("UploadPartCopy failing for good: an error, the upload aborted, nothing at the destination");
}

async fn suite(server: &Server) -> Tally {
    let direct = server.storage();
    let storage: Arc<dyn Storage> = Arc::new(server.storage());
    let mut tally = Tally::default();
    shapes(server, &storage, &direct, &mut tally).await;
    presigned_parts(server, &storage, &direct, &mut tally).await;
    refused_completions(server, &storage, &direct, &mut tally).await;
    abort_and_listing(server, &storage, &direct, &mut tally).await;
    put_object_in_parts(server, &direct, &mut tally).await;
    faults(server, &direct, &mut tally).await;
    copies(server, &storage, &direct, &mut tally).await;
    copy_faults(server, &direct, &mut tally).await;
    r2_rules(server, &direct, &mut tally).await;
    tally.notes.sort();
    tally.notes.dedup();
    eprintln!("multipart on {}: {} cases passed", server.name, tally.cases);
    for note in &tally.notes {
        eprintln!("  note: {note}");
    }
    tally
}

#[tokio::test(flavor = "multi_thread")]
async fn multipart_on_s3s_fs() {
    let server = servers::s3s().await;
    let tally = tokio::time::timeout(Duration::from_secs(300), suite(&server)).await.expect("no hang");
    assert_eq!(tally.cases, 25);
}

#[tokio::test(flavor = "multi_thread")]
async fn multipart_on_garage() {
    let Some(server) = tokio::task::spawn_blocking(servers::garage).await.expect("garage start") else { return };
    let tally = tokio::time::timeout(Duration::from_secs(300), suite(&server)).await.expect("no hang");
    assert_eq!(tally.cases, 25);
}
