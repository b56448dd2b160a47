//! What the S3 backend does with multipart uploads and copies beyond the trait's steps (those are the
//! conformance suite's): `put_object` over the threshold, copies part by part, R2's rules, and
//! faults, injected by the loopback proxy of `support::proxy`; what is stored is read back through a
//! second client that talks to the server directly. On s3s-fs in-process and on Garage.
//!
//! Parts are 5 MiB, the smallest both servers complete, so that the suite stays fast.

#![cfg(feature = "testing")]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use stowage::multipart::{MultipartError, MultipartLimits, PartNumber};
use stowage::{
    Body, CompleteOptions, CopyOptions, Error, GetOptions, PutOptions, RetryPolicy, S3ErrorCode, S3Storage, Storage,
};
use support::proxy::{Fault, Proxy, Seen};
use support::servers::{self, Server};
use support::{Tally, on_each_server};

const MIB: usize = 1024 * 1024;
const PART: usize = 5 * MIB;

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| ((i / 7) as u8).wrapping_mul(73).wrapping_add(seed).wrapping_add(i as u8)).collect()
}

fn n(number: u32) -> PartNumber {
    PartNumber::new(number).expect("a part number")
}

/// The object at `key`, read through the client that talks to the server directly.
async fn read_back(direct: &S3Storage, key: &str) -> Option<Bytes> {
    let object = direct.get_object(key, &GetOptions::new()).await.expect("get")?;
    Some(object.bytes().await.expect("body"))
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
    match direct.list_multipart_uploads(key).all().await {
        Ok(uploads) => {
            assert!(uploads.is_empty(), "{}: {key}: an upload is still in progress: {uploads:?}", server.name)
        }
        Err(e) if e.status() == Some(501) && server.name == "s3s-fs" => {
            tally.note(format!("{}: no ListMultipartUploads (501): uploads in progress not listed", server.name));
        }
        Err(e) => panic!("{}: list uploads: {e}", server.name),
    }
}

async fn put_object_in_parts(server: &Server, direct: &S3Storage, tally: &mut Tally) {
    let storage = server
        .config()
        .with_multipart_threshold(6 * MIB as u64)
        .with_part_size(PART as u64)
        .with_concurrency(3)
        .build()
        .await
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
        .put_object("mp/file.bin", body, &PutOptions::new().with_content_type("application/zip"))
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
        .await
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
        let config = stowage::S3Config::new(server.bucket.as_str(), server.region.as_str(), server.credentials())
            .with_endpoint(proxy.endpoint.as_str())
            .with_multipart_threshold(6 * MIB as u64)
            .with_part_size(PART as u64)
            .with_concurrency(2)
            .with_retry(RetryPolicy::new(3, Duration::from_millis(5), Duration::from_millis(50)));
        async move { config.build().await.expect("storage") }
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
            .await
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
        .await
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
    through(&proxy)
        .await
        .put_object("mp/complete-200.bin", bytes.clone().into(), &PutOptions::new())
        .await
        .expect("retried");
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
        .await
        .put_object("mp/complete-err.bin", bytes.clone().into(), &PutOptions::new())
        .await
        .expect_err("always");
    assert_eq!(err.code(), Some(&S3ErrorCode::InternalError), "{err}");
    assert_nothing_left(server, direct, "mp/complete-err.bin", tally).await;
    tally.pass("CompleteMultipartUpload answering 200 with <Error>: an error, retried, then aborted");

    // A create-only upload whose completion S3 refuses with 409 ConditionalRequestConflict (another
    // conditional write to the key was in flight; S3 drops the upload then): the upload is started
    // again from CreateMultipartUpload, as S3 documents, and the object is exact.
    let first = Arc::new(AtomicUsize::new(0));
    let creates = Arc::new(AtomicUsize::new(0));
    let (counter, created) = (Arc::clone(&first), Arc::clone(&creates));
    let proxy = Proxy::start(&server.endpoint, move |r: &Seen| {
        if r.method == "POST" && r.has_query("uploads") {
            created.fetch_add(1, Ordering::SeqCst);
        }
        if is_complete(r) && counter.fetch_add(1, Ordering::SeqCst) == 0 {
            Fault::Respond(support::proxy::s3_error("409 Conflict", "ConditionalRequestConflict"))
        } else {
            Fault::Forward
        }
    })
    .await;
    let create = PutOptions::new().with_mode(stowage::PutMode::Create);
    through(&proxy).await.put_object("mp/conflict.bin", bytes.clone().into(), &create).await.expect("started again");
    assert_eq!((creates.load(Ordering::SeqCst), first.load(Ordering::SeqCst)), (2, 2), "one restart");
    assert_stored(direct, "mp/conflict.bin", &bytes).await;
    direct.delete_object("mp/conflict.bin").await.expect("delete");
    tally.pass("CompleteMultipartUpload refused with 409 ConditionalRequestConflict: started again, exact");

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
        .await
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
        .await
        .put_object("mp/complete-cut.bin", bytes.clone().into(), &PutOptions::new())
        .await
        .unwrap_or_else(|e| panic!("{}: completed, yet: {e}", server.name));
    assert_eq!(once.load(Ordering::SeqCst), 2, "completion was sent twice");
    assert!(out.etag.as_deref().is_some_and(|e| e.trim_matches('"').ends_with("-4")), "{out:?}");
    assert_stored(direct, "mp/complete-cut.bin", &bytes).await;
    direct.delete_object("mp/complete-cut.bin").await.expect("delete");
    tally.pass("CompleteMultipartUpload's answer cut short: retried, recognised by its ETag, exact");
}

async fn copies_in_parts(server: &Server, direct: &S3Storage, tally: &mut Tally) {
    let bytes = data(PART * 2 + 999, 7);
    let options = PutOptions::new()
        .with_content_type("image/png")
        .with_cache_control("max-age=60")
        .with_metadata("owner", "user-42");
    direct.put_object("mp/copy/source.png", bytes.clone().into(), &options).await.expect("put");
    // The threshold lowered so that 10 MiB goes as three UploadPartCopy parts.
    let parted = server
        .config()
        .with_multipart_copy_threshold(6 * MIB as u64)
        .with_copy_part_size(PART as u64)
        .build()
        .await
        .expect("storage");
    let out = parted
        .copy_object("mp/copy/source.png", "mp/copy/parted.png", &CopyOptions::new())
        .await
        .expect("copy in parts");
    assert!(out.etag.as_deref().is_some_and(|e| e.contains("-3")), "{}: three parts: {:?}", server.name, out.etag);
    assert_stored(direct, "mp/copy/parted.png", &bytes).await;
    let meta = direct.head_object("mp/copy/parted.png", &GetOptions::new()).await.expect("head").expect("copied");
    assert_eq!(meta.content_type.as_deref(), Some("image/png"));
    assert_eq!(meta.metadata.get("owner").map(String::as_str), Some("user-42"));
    // New headers, part by part.
    let replaced = CopyOptions::new().with_headers(PutOptions::new().with_content_type("application/octet-stream"));
    parted.copy_object("mp/copy/source.png", "mp/copy/parted.bin", &replaced).await.expect("copy in parts");
    let meta = direct.head_object("mp/copy/parted.bin", &GetOptions::new()).await.expect("head").expect("copied");
    assert_eq!(meta.content_type.as_deref(), Some("application/octet-stream"));
    assert!(meta.metadata.is_empty(), "{:?}", meta.metadata);
    assert_stored(direct, "mp/copy/parted.bin", &bytes).await;
    // Another version named: refused before any part, nothing at the destination.
    let other = CopyOptions::new().with_source_if_match("\"0123456789abcdef0123456789abcdef\"");
    let err = parted.copy_object("mp/copy/source.png", "mp/copy/never.png", &other).await.expect_err("version");
    assert!(matches!(err, Error::PreconditionFailed { .. }), "{err}");
    assert_nothing_left(server, direct, "mp/copy/never.png", tally).await;
    for key in ["mp/copy/source.png", "mp/copy/parted.png", "mp/copy/parted.bin"] {
        direct.delete_object(key).await.expect("delete");
    }
    tally.pass("copy part by part (UploadPartCopy): metadata kept or replaced, another version refused");
}

async fn r2_rules(server: &Server, direct: &S3Storage, tally: &mut Tally) {
    // R2's rule (equal parts, the last not larger) enforced by stowage on a server that does not:
    // the R2 provider's rules on Garage or s3s-fs.
    let as_r2 = server.config().with_platform(stowage::Platform::R2).build().await.expect("storage");
    assert_eq!(as_r2.multipart_limits(), MultipartLimits::R2, "the platform's limits");
    let upload = as_r2.create_multipart_upload("mp/r2.bin", &PutOptions::new()).await.expect("create");
    let one = as_r2.upload_part(upload.part(n(1)), Bytes::from(vec![1u8; PART]).into()).await.expect("1");
    let two = as_r2.upload_part(upload.part(n(2)), Bytes::from(vec![2u8; PART + 1]).into()).await.expect("2");
    let err = as_r2.complete_multipart_upload(&upload, &[one, two], &CompleteOptions::new()).await.expect_err("uneven");
    assert!(matches!(err, Error::Multipart(MultipartError::UnevenParts { number: 2, .. })), "{err}");
    assert!(err.to_string().contains("Cloudflare R2"), "{err}");
    as_r2.abort_multipart_upload(&upload).await.expect("abort");
    let err =
        as_r2.create_multipart_upload("mp/r2.bin", &PutOptions::new().with_acl("public-read")).await.expect_err("acl");
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
        let config = stowage::S3Config::new(server.bucket.as_str(), server.region.as_str(), server.credentials())
            .with_endpoint(proxy.endpoint.as_str())
            .with_multipart_copy_threshold(6 * MIB as u64)
            .with_copy_part_size(PART as u64)
            .with_concurrency(2)
            .with_retry(RetryPolicy::new(3, Duration::from_millis(5), Duration::from_millis(50)));
        async move { config.build().await.expect("storage") }
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
            .await
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
        .await
        .copy_object("mp/copyfault/source.bin", "mp/copyfault/never.bin", &CopyOptions::new())
        .await
        .expect_err("part 3");
    assert_eq!(err.status(), Some(500), "{err}");
    assert_nothing_left(server, direct, "mp/copyfault/never.bin", tally).await;
    direct.delete_object("mp/copyfault/source.bin").await.expect("delete");
    tally.pass("UploadPartCopy failing for good: an error, the upload aborted, nothing at the destination");
}

async fn suite(server: &Server) -> Tally {
    let direct = server.storage().await;
    let mut tally = Tally::default();
    put_object_in_parts(server, &direct, &mut tally).await;
    faults(server, &direct, &mut tally).await;
    copies_in_parts(server, &direct, &mut tally).await;
    copy_faults(server, &direct, &mut tally).await;
    r2_rules(server, &direct, &mut tally).await;
    tally.finish("multipart", server.name)
}

on_each_server!(suite, |server: &Server, tally: Tally| assert_eq!(tally.cases, 12, "{}", server.name));
