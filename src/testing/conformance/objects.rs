//! Whole objects: keys that break other crates, absence, ranges, files and streams.

use std::time::Duration;

use bytes::Bytes;

use super::{Checks, Failure, Profile, Report, data, read};
use crate::testing::raw_http;
use crate::{Body, ByteRange, Error, GetOptions, PutOptions, Storage};

/// The keys that break other crates, under the profile's prefix; the last is as long as S3 allows.
fn tricky_keys(profile: &Profile) -> Vec<String> {
    let mut keys: Vec<String> = [
        "plain.txt",
        "with spaces/file name.txt",
        "a+b+c.txt",
        "~user/tilde~file",
        "key=value&other=thing.txt",
        "question?.txt",
        "hash#fragment.txt",
        "100% real.txt",
        "already%20encoded%2Fkey",
        "café/résumé.pdf",
        "日本語/ファイル名.txt",
        "emoji 😀🚀 party.png",
        "double//slash///key",
        "/leading-slash.txt",
        "a/../b/./c.txt",
        "../escape/../../x",
        "sub-delims !$'()*,;:@.txt",
        "brackets [x]{y}<z>|^`\\\".txt",
    ]
    .into_iter()
    .map(|k| profile.key(k))
    .collect();
    // 1024 bytes exactly, with multibyte characters, in segments a file system accepts.
    let mut long = profile.prefix.clone();
    while long.len() < 900 {
        long.push_str(&"é".repeat(40));
        long.push('/');
    }
    while long.len() < 1024 {
        long.push('k');
    }
    keys.push(long);
    keys
}

/// Why the server cannot store `key`, by the profile.
fn not_stored(profile: &Profile, key: &str) -> Option<&'static str> {
    if key.starts_with('/') && !profile.stores_leading_slash {
        return Some("keys starting with / are not stored");
    }
    (key.len() > profile.max_key_bytes).then_some("the key is longer than the server stores")
}

fn has_dot_segments(key: &str) -> bool {
    key.split('/').any(|segment| segment == "." || segment == "..")
}

/// Put, head, get and delete of keys that break other crates, from the server and through presigned
/// URLs as a browser uses them; metadata and type kept.
///
/// # Errors
///
/// The first check that does not hold.
pub async fn objects(storage: &dyn Storage, profile: &Profile) -> Result<Report, Failure> {
    let mut c = Checks::new("objects", profile);
    for key in tricky_keys(profile) {
        let shown: String = key.chars().take(32).collect();
        let body = format!("contents of {key}").into_bytes();
        let options =
            PutOptions::new().with_content_type("text/plain; charset=utf-8").with_metadata("origin", "conformance");
        let put = storage.put_object(&key, Body::from(body.clone()), &options).await;
        if let Some(why) = not_stored(profile, &key) {
            // Not stored, by design; the signature must still have been accepted: a server error.
            let err = c.some(put.err(), &format!("{shown:?} stored though the profile says {why}"))?;
            c.ensure(err.status().is_some_and(|s| s >= 500), || format!("{shown:?}: {why}, yet: {err}"))?;
            c.note(format!("{shown:?} ({} bytes) not stored: {why}", key.len()));
            continue;
        }
        c.ok(put, &format!("put {shown:?}"))?;
        let meta = c.ok(storage.head_object(&key, &GetOptions::new()).await, "head")?;
        let meta = c.some(meta, &format!("{shown:?} missing after its put"))?;
        c.ensure(meta.size == body.len() as u64, || format!("{shown:?}: size {}", meta.size))?;
        c.ensure(meta.content_type.as_deref() == Some("text/plain; charset=utf-8"), || {
            format!("{shown:?}: stored as {:?}", meta.content_type)
        })?;
        c.ensure(meta.metadata.get("origin").map(String::as_str) == Some("conformance"), || {
            format!("{shown:?}: metadata {:?}", meta.metadata)
        })?;
        let got = c.ok(read(storage, &key).await, "get")?;
        c.ensure(got.as_deref() == Some(body.as_slice()), || format!("{shown:?}: other bytes read back"))?;
        c.pass();

        let keeps_path = !has_dot_segments(&key);
        // The same object through a presigned GET, as a browser fetches it.
        let url = c.ok(storage.presign_get(&key, &GetOptions::new(), Duration::from_secs(60)), "presign get")?;
        if keeps_path || raw_http::keeps_paths(&url.url) {
            let response = c.answer(raw_http::send("GET", &url.url, &[], &[]).await, "presigned GET")?;
            c.ensure(response.status == 200 && response.body == body, || {
                format!("presigned GET of {shown:?}: {} {}", response.status, response.text())
            })?;
            c.pass();
        } else {
            c.note(format!("{shown:?} not tried through presigned URLs: reqwest rewrites its dot segments"));
        }
        c.ok(storage.delete_object(&key).await, "delete")?;
        let gone = c.ok(storage.head_object(&key, &GetOptions::new()).await, "head after delete")?;
        c.ensure(gone.is_none(), || format!("{shown:?} still there after its delete"))?;

        // Uploaded by a browser through a presigned PUT, checked from the server.
        if keeps_path || raw_http::keeps_paths(&url.url) {
            let signed =
                PutOptions::new().with_content_type("application/octet-stream").with_content_length(body.len() as u64);
            let put = c.ok(storage.presign_put(&key, &signed, Duration::from_secs(60)), "presign put")?;
            let headers: Vec<(&str, &str)> = put.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let response = c.answer(raw_http::send("PUT", &put.url, &headers, &body).await, "presigned PUT")?;
            c.ensure(response.status / 100 == 2, || {
                format!("presigned PUT of {shown:?}: {} {}", response.status, response.text())
            })?;
            let meta = c.ok(storage.head_object(&key, &GetOptions::new()).await, "head")?;
            let meta = c.some(meta, "the presigned upload is not there")?;
            c.ensure(
                meta.size == body.len() as u64 && meta.content_type.as_deref() == Some("application/octet-stream"),
                || format!("{shown:?}: {meta:?}"),
            )?;
            c.ok(storage.delete_object(&key).await, "delete")?;
            c.pass();
        }
    }
    c.done()
}

/// Reads of a key that holds nothing answer `None`; deleting it succeeds.
///
/// # Errors
///
/// The first check that does not hold.
pub async fn missing_objects(storage: &dyn Storage, profile: &Profile) -> Result<Report, Failure> {
    let mut c = Checks::new("missing_objects", profile);
    let key = profile.key("no/such/key");
    let head = c.ok(storage.head_object(&key, &GetOptions::new()).await, "head of nothing")?;
    c.ensure(head.is_none(), || "head of nothing answered an object".into())?;
    let get = c.ok(storage.get_object(&key, &GetOptions::new()).await, "get of nothing")?;
    c.ensure(get.is_none(), || "get of nothing answered an object".into())?;
    let ranged = storage.get_object(&key, &GetOptions::new().with_range(ByteRange::first(4))).await;
    c.ensure(matches!(ranged, Ok(None)), || format!("a range of nothing: {ranged:?}"))?;
    c.ok(storage.delete_object(&key).await, "delete of nothing")?;
    c.pass();
    c.done()
}

/// Byte ranges: the first bytes, from an offset, the last bytes; the whole object's size reported.
///
/// # Errors
///
/// The first check that does not hold.
pub async fn ranges(storage: &dyn Storage, profile: &Profile) -> Result<Report, Failure> {
    let mut c = Checks::new("ranges", profile);
    let key = profile.key("ranges/object.bin");
    let body = data(1000, 9);
    c.ok(storage.put_object(&key, Body::from(body.clone()), &PutOptions::new()).await, "put")?;
    for (range, expected) in [
        (ByteRange::first(8), &body[..8]),
        (ByteRange::Inclusive { start: 100, end: 199 }, &body[100..200]),
        (ByteRange::From(990), &body[990..]),
        (ByteRange::Last(7), &body[993..]),
    ] {
        let got = c.ok(storage.get_object(&key, &GetOptions::new().with_range(range)).await, "ranged get")?;
        let got = c.some(got, "the object is missing")?;
        c.ensure(got.meta.size == 1000, || format!("{range:?}: size {} (the whole object's expected)", got.meta.size))?;
        let bytes = c.ok(got.bytes().await, "ranged body")?;
        c.ensure(bytes.as_ref() == expected, || format!("{range:?}: {} other bytes", bytes.len()))?;
        c.pass();
    }
    c.ok(storage.delete_object(&key).await, "delete")?;
    c.done()
}

/// A file and a stream uploaded exactly; streams that end early or run long store nothing.
///
/// # Errors
///
/// The first check that does not hold.
pub async fn streams_and_files(storage: &dyn Storage, profile: &Profile) -> Result<Report, Failure> {
    let mut c = Checks::new("streams_and_files", profile);
    let data = data(3 * 1024 * 1024 + 17, 11);
    let path = std::env::temp_dir().join(format!("stowage-conformance-{}.bin", crate::random::random_u64()));
    let written = std::fs::write(&path, &data);
    c.ensure(written.is_ok(), || format!("writing a temporary file: {written:?}"))?;
    let key = profile.key("big/file.bin");
    let file = Body::from_file(&path).await.map_err(|e| c.fail(format!("opening the file: {e}")));
    let uploaded = match file {
        Ok(file) => storage.put_object(&key, file, &PutOptions::new()).await,
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
    };
    let _ = std::fs::remove_file(&path);
    c.ok(uploaded, "put of a file")?;
    let got = c.ok(read(storage, &key).await, "get")?;
    c.ensure(got.as_deref() == Some(data.as_slice()), || "the file read back differs".into())?;
    c.ok(storage.delete_object(&key).await, "delete")?;
    c.pass();

    let key = profile.key("big/stream.bin");
    let chunks: Vec<std::io::Result<Bytes>> = data.chunks(64 * 1024).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    let stream = Body::from_stream(futures_util::stream::iter(chunks), data.len() as u64);
    c.ok(storage.put_object(&key, stream, &PutOptions::new()).await, "put of a stream")?;
    let got = c.ok(read(storage, &key).await, "get")?;
    c.ensure(got.as_deref() == Some(data.as_slice()), || "the stream read back differs".into())?;
    c.ok(storage.delete_object(&key).await, "delete")?;
    c.pass();

    for (what, chunks, declared) in [
        ("a stream that ends early", vec![Bytes::from_static(b"only this")], 100u64),
        ("a stream with more than it declared", vec![Bytes::from_static(b"0123456789"), Bytes::from_static(b"!")], 10),
    ] {
        let key = profile.key("big/wrong-length.bin");
        let stream = Body::from_stream(futures_util::stream::iter(chunks.into_iter().map(Ok)), declared);
        let result = storage.put_object(&key, stream, &PutOptions::new()).await;
        c.ensure(matches!(result, Err(Error::BodyLength { .. })), || format!("{what}: {result:?}"))?;
        let stored = c.ok(storage.head_object(&key, &GetOptions::new()).await, "head")?;
        c.ensure(stored.is_none(), || format!("{what}: something was stored"))?;
        c.pass();
    }
    c.done()
}
