//! End-to-end integrity on s3s-fs and Garage: checksums computed while the bytes stream, verified by
//! the bucket itself, checked against an implementation nobody here wrote (Python's `zlib` and
//! `hashlib`, and `awscrt`, the AWS SDKs' own), bytes flipped on the way refused with nothing
//! stored, and downloads checked as they stream.

#![cfg(all(feature = "testing", feature = "constraints", feature = "serde"))]

mod support;

use std::sync::Arc;

use stowage::checksum::{Checksum, ChecksumAlgorithm, ChecksumHasher};
use stowage::{Body, Error, GetOptions, PutOptions, S3Storage, Storage};
use support::proxy::{Fault, Proxy, Seen};
use support::servers::Server;
use support::{Tally, on_each_server};

const MIB: usize = 1024 * 1024;

/// s3s-fs 0.14 writes an upload's bytes before it checks their checksum, and leaves them at the key
/// when it refuses them (its `put_object`: `file_writer.done()` before the comparison). Amazon S3,
/// R2 and Garage check first and store nothing.
fn keeps_refused_bytes(server: &Server) -> bool {
    server.name == "s3s-fs"
}

fn data(len: usize, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}

/// What Python computes for `bytes`: `zlib.crc32`, `awscrt.checksums.crc32c` and `crc64nvme`,
/// `hashlib.sha1` and `sha256`, big-endian, in base64 — as S3 writes them.
fn reference(algorithm: ChecksumAlgorithm, bytes: &[u8]) -> String {
    let dir = support::servers::TempDir::new("reference");
    let path = dir.0.join("data");
    std::fs::write(&path, bytes).expect("write");
    let script = r#"
import base64, hashlib, sys, zlib
from awscrt import checksums
data = open(sys.argv[2], "rb").read()
algorithm = sys.argv[1]
if algorithm == "CRC32": digest = zlib.crc32(data).to_bytes(4, "big")
elif algorithm == "CRC32C": digest = checksums.crc32c(data).to_bytes(4, "big")
elif algorithm == "CRC64NVME": digest = checksums.crc64nvme(data).to_bytes(8, "big")
elif algorithm == "SHA1": digest = hashlib.sha1(data).digest()
else: digest = hashlib.sha256(data).digest()
print(base64.b64encode(digest).decode())
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script, algorithm.as_str()])
        .arg(&path)
        .output()
        .expect("python3");
    assert!(out.status.success(), "python: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn reference_available() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import awscrt.checksums, zlib, hashlib"])
        .status()
        .is_ok_and(|s| s.success());
    support::available("awscrt", ok, "python3 -m pip install awscrt")
}

async fn stored(direct: &S3Storage, key: &str) -> Option<Vec<u8>> {
    let object = direct.get_object(key, &GetOptions::new()).await.expect("get")?;
    Some(object.bytes().await.expect("body").to_vec())
}

/// A single PUT of each algorithm, from memory (a header), a stream and a file (a trailer): the
/// value stowage computed is Python's, the bucket verified it, and a HEAD returns it.
async fn single_puts(server: &Server, storage: &S3Storage, tally: &mut Tally) {
    let bytes = data(200_003, 1);
    let dir = support::servers::TempDir::new("integrity-file");
    let path = dir.0.join("file.bin");
    std::fs::write(&path, &bytes).expect("write");
    for algorithm in ChecksumAlgorithm::ALL {
        let expected = reference(algorithm, &bytes);
        assert_eq!(ChecksumHasher::of(algorithm, &bytes).to_base64(), expected, "{algorithm}");
        let bodies = [
            ("memory", Body::from(bytes.clone())),
            (
                "stream",
                Body::from_stream(
                    futures_util::stream::iter(
                        bytes
                            .chunks(7_001)
                            .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(c)))
                            .collect::<Vec<_>>(),
                    ),
                    bytes.len() as u64,
                ),
            ),
            ("file", Body::from_file(&path).await.expect("file")),
        ];
        for (kind, body) in bodies {
            let key = format!("integrity/{algorithm}-{kind}.bin");
            let options = PutOptions::new().with_checksum(algorithm);
            let out =
                storage.put_object(&key, body, &options).await.unwrap_or_else(|e| panic!("{algorithm} {kind}: {e}"));
            let checksum = out.checksum.unwrap_or_else(|| panic!("{algorithm} {kind}: no checksum returned"));
            assert_eq!(checksum.checksum.to_base64(), expected, "{}: {algorithm} {kind}", server.name);
            let meta = storage
                .head_object(&key, &GetOptions::new().with_checksum_mode(true))
                .await
                .expect("head")
                .expect("stored");
            assert_eq!(
                meta.checksum.map(|c| c.checksum.to_base64()),
                Some(expected.clone()),
                "{algorithm} {kind}: HEAD"
            );
            assert_eq!(stored(storage, &key).await.as_deref(), Some(bytes.as_slice()));
            storage.delete_object(&key).await.expect("clean");
        }
    }
    tally.pass("single PUTs of every algorithm, from memory, a stream and a file: Python's value, kept by the bucket");
}

/// A value given beforehand that is not the bytes': the bucket refuses, nothing is stored.
async fn wrong_values(server: &Server, storage: &S3Storage, tally: &mut Tally) {
    let bytes = data(10_000, 2);
    for algorithm in ChecksumAlgorithm::ALL {
        let wrong = ChecksumHasher::of(algorithm, b"some other bytes");
        let key = format!("integrity/wrong-{algorithm}.bin");
        let options = PutOptions::new().with_checksum_value(wrong);
        let error = storage.put_object(&key, Body::from(bytes.clone()), &options).await.expect_err("refused");
        assert!(
            matches!(&error, Error::ChecksumMismatch { algorithm: a, download: false, .. } if *a == algorithm),
            "{algorithm}: {error:?}"
        );
        assert!(!error.is_retryable());
        let kept = stored(storage, &key).await;
        if keeps_refused_bytes(server) {
            assert_eq!(kept.as_deref(), Some(bytes.as_slice()), "{algorithm}: s3s-fs keeps what it refused");
            storage.delete_object(&key).await.expect("clean");
            tally.note("s3s-fs 0.14 leaves refused bytes at the key (it writes before it checks)");
        } else {
            assert!(kept.is_none(), "{algorithm}: nothing stored");
        }
    }
    tally.pass("a wrong checksum given beforehand: ChecksumMismatch, not retried, nothing stored");
}

/// A byte flipped between stowage and the bucket: refused, typed, nothing stored — for a body in
/// memory (the checksum a header) and a file (a trailer).
async fn flipped_in_transit(server: &Server, direct: &S3Storage, tally: &mut Tally) {
    let proxy = Proxy::start(
        &server.endpoint,
        |r: &Seen| {
            if r.method == "PUT" { Fault::FlipByte(1_000) } else { Fault::Forward }
        },
    )
    .await;
    // Payloads unsigned, as over HTTPS: the checksum is what catches the flip (over plain HTTP a
    // signed payload hash would too, on servers that check it).
    let through = server
        .config()
        .with_endpoint(proxy.endpoint.as_str())
        .with_payload_signing(stowage::PayloadSigning::Never)
        .build()
        .await
        .expect("storage");
    let bytes = data(100_000, 3);
    let dir = support::servers::TempDir::new("integrity-flip");
    let path = dir.0.join("file.bin");
    std::fs::write(&path, &bytes).expect("write");
    for algorithm in [ChecksumAlgorithm::Crc32c, ChecksumAlgorithm::Sha256] {
        for (kind, body) in
            [("memory", Body::from(bytes.clone())), ("file", Body::from_file(&path).await.expect("file"))]
        {
            let key = format!("integrity/flipped-{algorithm}-{kind}.bin");
            let options = PutOptions::new().with_checksum(algorithm);
            let error = through.put_object(&key, body, &options).await.expect_err("a flipped byte is refused");
            assert!(matches!(error, Error::ChecksumMismatch { .. }), "{}: {algorithm} {kind}: {error:?}", server.name);
            let kept = stored(direct, &key).await;
            if keeps_refused_bytes(server) {
                assert!(kept.is_some_and(|k| k != bytes), "{algorithm} {kind}: s3s-fs keeps what it refused");
                direct.delete_object(&key).await.expect("clean");
            } else {
                assert!(kept.is_none(), "{algorithm} {kind}: nothing stored");
            }
        }
    }
    // The control: without a checksum, the flipped byte is stored.
    let key = "integrity/flipped-unchecked.bin";
    through.put_object(key, Body::from(bytes.clone()), &PutOptions::new()).await.expect("stored");
    let kept = stored(direct, key).await.expect("stored");
    assert_ne!(kept, bytes, "without a checksum the altered bytes are kept");
    direct.delete_object(key).await.expect("clean");
    tally.pass("a byte flipped on the way: refused by the bucket, typed, nothing stored (and kept without a checksum)");
}

/// s3s-fs 0.14 checks the checksum of a single PUT only: it ignores a multipart upload's algorithm,
/// a part's checksum and the whole object's at completion (its `upload_part` and
/// `complete_multipart_upload` read none). Garage checks them all.
fn checks_parts(server: &Server) -> bool {
    server.name != "s3s-fs"
}

/// What Python computes for a composite checksum: the checksum of the parts' digests, `-<parts>`.
fn composite_reference(algorithm: ChecksumAlgorithm, bytes: &[u8], part: usize) -> String {
    use base64::Engine;
    let mut digests = Vec::new();
    for chunk in bytes.chunks(part) {
        let value = reference(algorithm, chunk);
        digests.extend(base64::engine::general_purpose::STANDARD.decode(value).expect("base64"));
    }
    format!("{}-{}", reference(algorithm, &digests), bytes.len().div_ceil(part))
}

/// Uploads in parts (above the threshold) with each algorithm, from memory, a stream and a file:
/// every part carries its checksum, the completion names them (and the whole object's, for a
/// full-object type), and the value returned is Python's.
async fn multipart_puts(server: &Server, tally: &mut Tally) {
    let storage = server
        .config()
        .with_multipart_threshold(5 * MIB as u64)
        .with_part_size(5 * MIB as u64)
        .build()
        .await
        .expect("storage");
    let bytes = data(11 * MIB + 17, 4);
    let dir = support::servers::TempDir::new("integrity-parts");
    let path = dir.0.join("file.bin");
    std::fs::write(&path, &bytes).expect("write");
    for algorithm in ChecksumAlgorithm::ALL {
        let expected = match algorithm.default_type() {
            stowage::checksum::ChecksumType::FullObject => reference(algorithm, &bytes),
            _ => composite_reference(algorithm, &bytes, 5 * MIB),
        };
        let bodies = [
            ("memory", Body::from(bytes.clone())),
            (
                "stream",
                Body::from_stream(
                    futures_util::stream::iter(
                        bytes
                            .chunks(300_001)
                            .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(c)))
                            .collect::<Vec<_>>(),
                    ),
                    bytes.len() as u64,
                ),
            ),
            ("file", Body::from_file(&path).await.expect("file")),
        ];
        for (kind, body) in bodies {
            let key = format!("integrity/parts-{algorithm}-{kind}.bin");
            let options = PutOptions::new().with_checksum(algorithm);
            let out =
                storage.put_object(&key, body, &options).await.unwrap_or_else(|e| panic!("{algorithm} {kind}: {e}"));
            assert_eq!(stored(&storage, &key).await.as_deref(), Some(bytes.as_slice()), "{algorithm} {kind}");
            let head = storage
                .head_object(&key, &GetOptions::new().with_checksum_mode(true))
                .await
                .expect("head")
                .expect("stored");
            if checks_parts(server) {
                let returned = out.checksum.map(|c| c.to_string());
                assert_eq!(returned.as_deref(), Some(expected.as_str()), "{}: {algorithm} {kind}", server.name);
                assert_eq!(head.checksum.map(|c| c.to_string()), Some(expected.clone()), "{algorithm} {kind}: HEAD");
            } else {
                tally.note("s3s-fs 0.14 keeps no checksum for a multipart upload");
            }
            storage.delete_object(&key).await.expect("clean");
        }
    }
    tally.pass(
        "multipart uploads of every algorithm (full-object CRCs, composite SHAs): each part checked, Python's value",
    );
}

/// A byte flipped in one part on the way: the bucket refuses the part, the upload is aborted,
/// nothing is stored.
async fn flipped_part(server: &Server, direct: &S3Storage, tally: &mut Tally) {
    let proxy = Proxy::start(&server.endpoint, |r: &Seen| {
        if r.method == "PUT" && r.target.contains("partNumber=2") { Fault::FlipByte(4_000) } else { Fault::Forward }
    })
    .await;
    let through = server
        .config()
        .with_endpoint(proxy.endpoint.as_str())
        .with_payload_signing(stowage::PayloadSigning::Never)
        .with_multipart_threshold(5 * MIB as u64)
        .with_part_size(5 * MIB as u64)
        .build()
        .await
        .expect("storage");
    let bytes = data(11 * MIB, 5);
    let key = "integrity/flipped-part.bin";
    let options = PutOptions::new().with_checksum(ChecksumAlgorithm::Crc32c);
    let result = through.put_object(key, Body::from(bytes.clone()), &options).await;
    if checks_parts(server) {
        let error = result.expect_err("a flipped part is refused");
        assert!(matches!(error, Error::ChecksumMismatch { .. }), "{error:?}");
        assert!(stored(direct, key).await.is_none(), "nothing stored");
        let open = direct.list_multipart_uploads("integrity/").all().await.expect("uploads");
        assert!(open.is_empty(), "the upload was aborted: {open:?}");
    } else {
        // s3s-fs stores the altered part, and nothing catches it: what a server that checks
        // no part checksum leaves.
        result.expect("s3s-fs takes the altered part");
        assert!(stored(direct, key).await.is_some_and(|kept| kept != bytes));
        direct.delete_object(key).await.expect("clean");
        tally.note("s3s-fs 0.14 takes a part whose bytes do not match its checksum");
    }
    tally.pass("a byte flipped in a part: refused where the server checks parts, the upload aborted, nothing stored");
}

/// A browser's upload through the policy, its SHA-256 claimed: the presigned PUT signs it as a
/// header (never in the query), the bucket refuses other bytes, and completion checks the stored
/// checksum. Bad claims are refused in words before anything is signed.
async fn presigned_single(server: &Server, storage: &S3Storage, tally: &mut Tally) {
    use stowage::constraints::{FileClaim, PolicyViolation, UploadPolicy, VerifyOptions, complete_upload};
    let policy = UploadPolicy::new("uploads/")
        .with_staging_prefix("staging/")
        .allow_type("application/octet-stream")
        .expect("pattern")
        .with_max_size(1 << 20);
    let bytes = data(40_000, 6);
    let sha = ChecksumHasher::of(ChecksumAlgorithm::Sha256, &bytes);
    assert_eq!(sha.to_base64(), reference(ChecksumAlgorithm::Sha256, &bytes));
    let claim = FileClaim::new("data.bin", "application/octet-stream", bytes.len() as u64).with_checksum(sha);
    let ticket = policy.presign_upload(storage, &claim).expect("ticket");
    let query = ticket.request.url.to_ascii_lowercase();
    assert!(
        !query.contains("x-amz-checksum-sha256=") && !query.contains("x-amz-sdk-checksum"),
        "never a checksum in the query: {query}"
    );
    assert!(
        query.contains("x-amz-signedheaders=content-length%3bcontent-type%3bhost%3bx-amz-checksum-sha256"),
        "{query}"
    );
    assert_eq!(ticket.request.headers.get("x-amz-checksum-sha256"), Some(&sha.to_base64()));
    let headers: Vec<(String, String)> = ticket
        .request
        .headers
        .iter()
        .filter(|(k, _)| k.as_str() != "content-length")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let send = |body: Vec<u8>, with: Vec<(String, String)>| {
        let url = ticket.request.url.clone();
        async move {
            let with: Vec<(&str, &str)> = with.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            support::raw_http::send("PUT", &url, &with, &body).await
        }
    };
    // Without the checksum header: the signature does not hold.
    let without: Vec<(String, String)> =
        headers.iter().filter(|(k, _)| !k.starts_with("x-amz-checksum")).cloned().collect();
    assert_eq!(send(bytes.clone(), without).await.status / 100, 4, "the checksum header is required");
    // Other bytes of the same size under the signed checksum: refused by the bucket.
    let mut other = bytes.clone();
    other[123] ^= 1;
    assert_eq!(send(other, headers.clone()).await.status / 100, 4, "other bytes refused");
    let options = VerifyOptions::new().with_delete_on_mismatch(true);
    if keeps_refused_bytes(server) {
        // s3s-fs kept them: completion finds no checksum it can trust, refuses, and deletes.
        let error = complete_upload(storage, &ticket, &options).await.expect_err("refused at completion");
        assert!(matches!(&error, Error::Mismatch(m) if m.deleted), "{error:?}");
        assert!(stored(storage, &ticket.upload_key).await.is_none());
        let ticket_again = policy.presign_upload(storage, &claim).expect("ticket");
        let sent = {
            let with: Vec<(&str, &str)> = ticket_again
                .request
                .headers
                .iter()
                .filter(|(k, _)| k.as_str() != "content-length")
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            support::raw_http::send("PUT", &ticket_again.request.url, &with, &bytes).await
        };
        assert_eq!(sent.status / 100, 2, "{}", sent.text());
        let meta = complete_upload(storage, &ticket_again, &options).await.expect("completed");
        assert_eq!(stored(storage, &meta.key).await.as_deref(), Some(bytes.as_slice()));
    } else {
        assert!(stored(storage, &ticket.upload_key).await.is_none(), "nothing stored");
        let sent = send(bytes.clone(), headers).await;
        assert_eq!(sent.status / 100, 2, "{}", sent.text());
        let meta = complete_upload(storage, &ticket, &options).await.expect("completed");
        assert_eq!(stored(storage, &meta.key).await.as_deref(), Some(bytes.as_slice()));
    }
    // Bad claims: refused before signing, typed, in words.
    let bad = |algorithm: &str, value: &str| {
        let json = format!(
            r#"{{"filename":"a.bin","content_type":"application/octet-stream","size":10,"checksum":{{"algorithm":"{algorithm}","value":"{value}"}}}}"#
        );
        let claim: FileClaim = serde_json::from_str(&json).expect("a claim reads from JSON");
        policy.presign_upload(storage, &claim).expect_err("refused")
    };
    for (algorithm, value) in
        [("SHA256", "not base64!"), ("SHA256", "AAAA"), ("MD5", "AAAAAA=="), ("CRC32", &"a".repeat(64))]
    {
        let error = bad(algorithm, value);
        assert!(matches!(&error, Error::Policy(PolicyViolation::InvalidChecksum(_))), "{algorithm} {value}: {error:?}");
        if let Error::Policy(violation) = &error {
            assert_eq!(violation.http_status(), 400);
            assert!(violation.user_message().ends_with('.'));
        }
    }
    // A presigned PUT cannot compute a checksum: it must be given.
    let error = storage
        .presign_put(
            "k",
            &PutOptions::new().with_checksum(ChecksumAlgorithm::Crc32c),
            std::time::Duration::from_secs(60),
        )
        .expect_err("refused");
    assert!(matches!(error, Error::Config(_)), "{error:?}");
    tally.pass("a presigned PUT signs the browser's SHA-256 as a header: other bytes refused, completion checks it");
}

/// A browser's multipart upload with part checksums, through the policy: each part URL signs the
/// part's SHA-256, completion checks the stored parts and the object's composite checksum.
async fn presigned_multipart(server: &Server, storage: &S3Storage, tally: &mut Tally) {
    use stowage::constraints::{FileClaim, UploadPolicy, VerifyOptions};
    use stowage::multipart::{CompletedPart, PartNumber};
    for staging in [true, false] {
        let mut policy = UploadPolicy::new("uploads/")
            .allow_type("application/octet-stream")
            .expect("pattern")
            .with_max_size(64 << 20)
            .with_part_size(5 << 20);
        if staging {
            policy = policy.with_staging_prefix("staging/");
        }
        let bytes = data(11 * MIB + 5, 7);
        let claim = FileClaim::new("big.bin", "application/octet-stream", bytes.len() as u64)
            .with_part_checksums(ChecksumAlgorithm::Sha256);
        let ticket = policy.presign_multipart(storage, &claim).await.expect("ticket");
        let mut named = Vec::new();
        for (i, chunk) in bytes.chunks(5 * MIB).enumerate() {
            let number = PartNumber::new(i as u32 + 1).expect("number");
            let sha = ChecksumHasher::of(ChecksumAlgorithm::Sha256, chunk);
            // Without the part's checksum, or with another algorithm's: refused in words.
            assert!(ticket.presign_part(storage, number, None).is_err());
            let crc = ChecksumHasher::of(ChecksumAlgorithm::Crc32, chunk);
            assert!(ticket.presign_part(storage, number, Some(&crc)).is_err());
            let url = ticket.presign_part(storage, number, Some(&sha)).expect("part url");
            assert!(url.headers.contains_key("x-amz-checksum-sha256"), "{:?}", url.headers);
            let headers: Vec<(&str, &str)> = url
                .headers
                .iter()
                .filter(|(k, _)| k.as_str() != "content-length")
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let sent = support::raw_http::send("PUT", &url.url, &headers, chunk).await;
            assert_eq!(sent.status / 100, 2, "part {number}: {}", sent.text());
            named.push(CompletedPart::new(number, sent.header("etag").expect("etag")).with_checksum(sha));
        }
        let options = VerifyOptions::new().with_delete_on_mismatch(true);
        let result = ticket.complete(storage, &named, &options).await;
        if checks_parts(server) {
            let meta = result.unwrap_or_else(|e| panic!("{} (staging {staging}): {e}", server.name));
            assert_eq!(
                meta.checksum.map(|c| c.to_string()),
                Some(composite_reference(ChecksumAlgorithm::Sha256, &bytes, 5 * MIB))
            );
            assert_eq!(stored(storage, &ticket.final_key).await.as_deref(), Some(bytes.as_slice()));
            storage.delete_object(&ticket.final_key).await.expect("clean");
        } else {
            // s3s-fs keeps no checksum for a multipart object: completion cannot prove it, refuses,
            // and deletes it.
            let error = result.expect_err("unprovable");
            assert!(matches!(&error, Error::Mismatch(m) if m.deleted), "{error:?}");
            assert!(stored(storage, &ticket.final_key).await.is_none());
            tally.note("s3s-fs 0.14: a multipart upload with part checksums cannot be proven, so it is refused");
        }
    }
    // A part checksum for an upload made without them: refused.
    let policy =
        UploadPolicy::new("uploads/").allow_type("application/octet-stream").expect("pattern").with_max_size(64 << 20);
    let claim = FileClaim::new("plain.bin", "application/octet-stream", 6 * MIB as u64);
    let ticket = policy.presign_multipart(storage, &claim).await.expect("ticket");
    let sha = ChecksumHasher::of(ChecksumAlgorithm::Sha256, b"x");
    let error = ticket.presign_part(storage, PartNumber::FIRST, Some(&sha)).expect_err("refused");
    assert!(matches!(error, Error::Policy(_)), "{error:?}");
    ticket.cancel(storage).await.expect("cancel");
    tally
        .pass("a browser's multipart upload with part SHA-256s: each part signed, the composite checked at completion");
}

/// Downloads: checked against the stored checksum as they stream (a byte flipped on the way is
/// `ChecksumMismatch` at the end), resumed exactly after a cut, and never spliced across versions.
async fn downloads(server: &Server, direct: &S3Storage, tally: &mut Tally) {
    let bytes = data(700_000, 8);
    let key = "integrity/download.bin";
    direct
        .put_object(key, Body::from(bytes.clone()), &PutOptions::new().with_checksum(ChecksumAlgorithm::Crc64Nvme))
        .await
        .expect("put");
    let checked = GetOptions::new().with_checksum_mode(true);
    let whole = direct.get_object(key, &checked).await.expect("get").expect("there");
    assert!(whole.meta.checksum.is_some(), "{}: the bucket's checksum comes with the download", server.name);
    assert_eq!(whole.bytes().await.expect("verified").as_ref(), bytes.as_slice());

    // A byte flipped on the way back: the end of the stream is a typed error.
    let flipping =
        Proxy::start(
            &server.endpoint,
            |r: &Seen| {
                if r.method == "GET" { Fault::FlipAnswerByte(300_000) } else { Fault::Forward }
            },
        )
        .await;
    let through = server.config().with_endpoint(flipping.endpoint.as_str()).build().await.expect("storage");
    let error =
        through.get_object(key, &checked).await.expect("get").expect("there").bytes().await.expect_err("flipped");
    assert!(matches!(error, Error::ChecksumMismatch { download: true, .. }), "{error:?}");
    let unchecked = through.get_object(key, &GetOptions::new()).await.expect("get").expect("there").bytes().await;
    assert!(unchecked.is_ok_and(|b| b.as_ref() != bytes.as_slice()), "without the checksum mode the flip goes unseen");

    // Cut once at 100 KiB: resumed from there, on the same version, exact (and still verified).
    let once = std::sync::atomic::AtomicBool::new(false);
    let cutting = Proxy::start(&server.endpoint, move |r: &Seen| {
        if r.method == "GET" && !once.swap(true, std::sync::atomic::Ordering::SeqCst) {
            Fault::CutAnswer(100 * 1024)
        } else {
            Fault::Forward
        }
    })
    .await;
    let through = server.config().with_endpoint(cutting.endpoint.as_str()).build().await.expect("storage");
    let got = through.get_object(key, &checked).await.expect("get").expect("there").bytes().await.expect("resumed");
    assert_eq!(got.as_ref(), bytes.as_slice(), "the resumed download is exact");
    let records = cutting.records();
    assert_eq!(records.iter().filter(|r| r.method == "GET").count(), 2, "one resumption");

    // Replaced between the cut and the resumption: refused, never spliced.
    let arrived = Arc::new(tokio::sync::Notify::new());
    let go = Arc::new(tokio::sync::Notify::new());
    let gate = (Arc::clone(&arrived), Arc::clone(&go));
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let gated = Proxy::start(&server.endpoint, move |r: &Seen| {
        if r.method != "GET" {
            return Fault::Forward;
        }
        match calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
            0 => Fault::CutAnswer(100 * 1024),
            _ => Fault::Gate { arrived: Arc::clone(&gate.0), go: Arc::clone(&gate.1) },
        }
    })
    .await;
    let through = server.config().with_endpoint(gated.endpoint.as_str()).build().await.expect("storage");
    let reading = tokio::spawn(async move {
        through.get_object(key, &GetOptions::new()).await.expect("get").expect("there").bytes().await.map(|b| b.len())
    });
    tokio::time::timeout(std::time::Duration::from_secs(20), arrived.notified()).await.expect("the resumption comes");
    direct.put_object(key, Body::from(data(700_000, 9)), &PutOptions::new()).await.expect("replace");
    go.notify_one();
    let error = reading.await.expect("task").expect_err("another version");
    assert!(matches!(error, Error::PreconditionFailed { .. }), "{}: {error:?}", server.name);
    direct.delete_object(key).await.expect("clean");
    tally.pass("downloads: checked as they stream, resumed exactly after a cut, never spliced across versions");
}

/// Checksums that cannot be right: each a typed error with a sentence, before any request.
async fn bad_inputs(server: &Server, storage: &S3Storage, tally: &mut Tally) {
    use stowage::checksum::{ChecksumError, ChecksumType};
    use stowage::multipart::{CompletedPart, MultipartUpload, PartNumber, UploadId};
    use stowage::{CompleteOptions, PartOptions};
    let sentence = |e: &Error| {
        let text = e.to_string();
        assert!(text.len() > 20, "a sentence: {text}");
        text
    };
    // Malformed and wrong-length values.
    for (algorithm, text) in [(ChecksumAlgorithm::Sha256, "not base64"), (ChecksumAlgorithm::Crc32, "AAAAAAAA")] {
        let error = Error::from(Checksum::from_base64(algorithm, text).expect_err("refused"));
        sentence(&error);
    }
    // A composite CRC64NVME, a full-object SHA-256: S3 takes neither.
    for (algorithm, kind) in
        [(ChecksumAlgorithm::Crc64Nvme, ChecksumType::Composite), (ChecksumAlgorithm::Sha256, ChecksumType::FullObject)]
    {
        let options = PutOptions::new().with_checksum(algorithm).with_checksum_type(kind);
        let error = storage.create_multipart_upload("integrity/bad", &options).await.expect_err("refused");
        assert!(matches!(error, Error::Checksum(ChecksumError::InvalidType { .. })), "{error:?}");
        sentence(&error);
    }
    // An algorithm the backend does not take: R2's table, checked before anything is sent (the
    // account does not exist; no request leaves).
    let r2 = stowage::S3Config::r2("0123456789abcdef0123456789abcdef", "bucket", stowage::Credentials::new("a", "b"))
        .build()
        .await
        .expect("an R2 backend");
    let options =
        PutOptions::new().with_checksum(ChecksumAlgorithm::Crc32c).with_checksum_type(ChecksumType::FullObject);
    let error = r2.create_multipart_upload("k", &options).await.expect_err("refused before sending");
    assert!(matches!(error, Error::Unsupported { .. }), "{error:?}");
    assert!(sentence(&error).contains("developers.cloudflare.com"), "the source is cited");
    // Two checksums on one request, and the SDKs' hint.
    let two =
        PutOptions::new().with_checksum(ChecksumAlgorithm::Crc32).with_header("x-amz-checksum-crc32c", "AAAAAA==");
    assert!(matches!(storage.put_object("integrity/two", Body::from("x"), &two).await, Err(Error::Config(_))));
    let hint = PutOptions::new().with_header("x-amz-sdk-checksum-algorithm", "CRC32");
    assert!(matches!(storage.put_object("integrity/hint", Body::from("x"), &hint).await, Err(Error::Config(_))));
    // A part checksum for an upload created without one; parts missing theirs at completion.
    let plain = storage.create_multipart_upload("integrity/plain", &PutOptions::new()).await.expect("upload");
    let sha = ChecksumHasher::of(ChecksumAlgorithm::Sha256, b"x");
    let options = PartOptions::new().with_checksum_value(sha);
    let error = storage
        .presign_upload_part(plain.part(PartNumber::FIRST), &options, std::time::Duration::from_secs(60))
        .expect_err("refused");
    assert!(matches!(error, Error::Checksum(ChecksumError::NotDeclared { .. })), "{error:?}");
    storage.abort_multipart_upload(&plain).await.expect("abort");
    let declared = storage
        .create_multipart_upload("integrity/declared", &PutOptions::new().with_checksum(ChecksumAlgorithm::Sha256))
        .await
        .expect("upload");
    let part = storage.upload_part(declared.part(PartNumber::FIRST), Body::from(vec![1u8; 1000])).await.expect("part");
    assert!(part.checksum.is_some(), "a part of a checksummed upload carries its checksum");
    let bare = CompletedPart::new(part.number, part.etag.clone());
    let error =
        storage.complete_multipart_upload(&declared, &[bare], &CompleteOptions::new()).await.expect_err("refused");
    assert!(matches!(error, Error::Checksum(ChecksumError::PartMissing { part: 1, .. })), "{error:?}");
    sentence(&error);
    storage.abort_multipart_upload(&declared).await.expect("abort");
    let _ = (server, MultipartUpload::new("x", UploadId::new("y").expect("id")));
    tally.pass(
        "bad checksums: malformed, wrong length, invalid pairs, R2's table, two at once, parts missing their own",
    );
}

async fn suite(server: &Server) -> Tally {
    let mut tally = Tally::default();
    if !reference_available() {
        return tally;
    }
    let storage = server.storage().await;
    single_puts(server, &storage, &mut tally).await;
    wrong_values(server, &storage, &mut tally).await;
    flipped_in_transit(server, &storage, &mut tally).await;
    multipart_puts(server, &mut tally).await;
    flipped_part(server, &storage, &mut tally).await;
    presigned_single(server, &storage, &mut tally).await;
    presigned_multipart(server, &storage, &mut tally).await;
    downloads(server, &storage, &mut tally).await;
    bad_inputs(server, &storage, &mut tally).await;
    let _ = Arc::new(());
    let _: Option<Checksum> = None;
    tally.finish("integrity", server.name)
}

on_each_server!(suite, |server: &Server, tally: Tally| {
    if reference_available() {
        assert_eq!(tally.cases, 9, "{}", server.name);
    }
});
