//! The upload endpoints with images made clean (`Uploads::with_images`), on both servers: the
//! completion's reply and the app's hook carry the variants (also when the hook failed once and the
//! completion is sent again); an image over the image limit is refused before anything is sent; a
//! bomb is refused in words with nothing kept; a multipart image whose cleaning fails is not left at
//! its final key as it was sent; and one whose instance died between completing and cleaning is
//! made clean by the completion sent again.

#![cfg(all(feature = "axum", feature = "images", feature = "testing"))]

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use stowage::axum::{HookFailure, StoredUpload, Uploads};
use stowage::constraints::UploadPolicy;
use stowage::images::{ImagePolicy, Variant};
use stowage::multipart::{CompletedPart, MultipartUpload, PartNumber, UploadId};
use stowage::{GetOptions, S3Storage, Storage};
use support::api::{Api, headers, refused};
use support::proxy::{Fault, Proxy, Seen};
use support::servers::Server;
use support::{Tally, on_each_server};

const PERSONAL: [&str; 5] = ["GPSLatitude", "GPSLongitude", "Make", "Model", "Orientation"];

fn images() -> ImagePolicy {
    ImagePolicy::new().with_variant(Variant::jpeg("thumb", 256, 80)).with_variant(Variant::jpeg("display", 1600, 85))
}

fn policy(staging: bool) -> UploadPolicy {
    let policy = UploadPolicy::new("uploads/")
        .allow_type("image/*")
        .expect("pattern")
        .with_max_size(100 << 20)
        .with_part_size(5 << 20);
    if staging { policy.with_staging_prefix("staging/") } else { policy }
}

/// What the app's hook saw, and whether it fails its next call.
#[derive(Default)]
struct Hook {
    fail_next: AtomicBool,
    seen: Mutex<Vec<StoredUpload>>,
}

fn serve_with(storage: Arc<dyn Storage>, staging: bool, hook: &Arc<Hook>) -> axum::Router {
    let hook = Arc::clone(hook);
    Uploads::new(storage, policy(staging))
        .with_images(images())
        .with_on_complete(move |upload: StoredUpload| {
            let hook = Arc::clone(&hook);
            async move {
                if hook.fail_next.swap(false, Ordering::SeqCst) {
                    return Err(HookFailure::new("the database is down"));
                }
                hook.seen.lock().expect("hook").push(upload);
                Ok(json!({ "recorded": true }))
            }
        })
        .router()
}

async fn put(request: &Value, body: &[u8]) -> support::raw_http::Response {
    let headers = headers(request);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    support::raw_http::send("PUT", request["url"].as_str().expect("url"), &headers, body).await
}

async fn stored(direct: &S3Storage, key: &str) -> Option<Vec<u8>> {
    let object = direct.get_object(key, &GetOptions::new()).await.expect("get")?;
    Some(object.bytes().await.expect("body").to_vec())
}

fn personal(bytes: &[u8]) -> Vec<String> {
    support::images::exif_tags(bytes).into_iter().filter(|t| PERSONAL.contains(&t.as_str())).collect()
}

/// Sends `bytes` as a single-part multipart upload; answers the key and the upload id.
async fn multipart(api: &Api, name: &str, bytes: &[u8]) -> (String, String, Value) {
    let claim = json!({ "filename": name, "content_type": "image/jpeg", "size": bytes.len() });
    let (status, ticket) = api.post("/uploads/multipart", claim).await;
    assert_eq!(status, 201, "{ticket}");
    let (key, id) =
        (ticket["key"].as_str().expect("key").to_owned(), ticket["upload_id"].as_str().expect("id").to_owned());
    let (status, signed) =
        api.post("/uploads/multipart/parts", json!({ "key": key, "upload_id": id, "part_numbers": [1] })).await;
    assert_eq!(status, 200, "{signed}");
    let sent = put(&signed["parts"][0], bytes).await;
    assert_eq!(sent.status / 100, 2, "{}", sent.text());
    let parts = json!([{ "part_number": 1, "etag": sent.header("etag").expect("ETag") }]);
    (key, id, parts)
}

async fn single(api: &Api, photo: &[u8], direct: &S3Storage, hook: &Arc<Hook>, tally: &mut Tally) {
    let claim = json!({ "filename": "IMG_0001.jpg", "content_type": "image/jpeg", "size": photo.len() });
    let (status, ticket) = api.post("/uploads", claim).await;
    assert_eq!(status, 201, "{ticket}");
    assert_eq!(put(&ticket, photo).await.status / 100, 2);
    let key = ticket["key"].as_str().expect("key").to_owned();
    // The hook fails once: the clean image stays, and the completion sent again answers the same.
    hook.fail_next.store(true, Ordering::SeqCst);
    let failed = api.post("/uploads/complete", json!({ "key": key })).await;
    assert_eq!(failed.0, 503, "{}", failed.1);
    let (status, done) = api.post("/uploads/complete", json!({ "key": key })).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["recorded"], true);
    let final_key = done["key"].as_str().expect("final key").to_owned();
    let clean = stored(direct, &final_key).await.expect("promoted");
    assert_eq!(done["size"].as_u64(), Some(clean.len() as u64), "the reply gives the clean size");
    assert!(personal(&clean).is_empty(), "{:?}", personal(&clean));
    let variants = done["variants"].as_array().expect("variants in the reply").clone();
    let names: Vec<&str> = variants.iter().filter_map(|v| v["name"].as_str()).collect();
    assert_eq!(names, ["thumb", "display"], "{done}");
    for variant in &variants {
        let key = variant["key"].as_str().expect("variant key");
        let bytes = stored(direct, key).await.expect("variant stored");
        assert_eq!(variant["size"].as_u64(), Some(bytes.len() as u64));
        assert_eq!(variant["content_type"], "image/jpeg");
        assert!(variant["width"].as_u64().is_some() && variant["height"].as_u64().is_some(), "{variant}");
    }
    assert_eq!(variants[0]["height"].as_u64(), Some(256), "upright: the long side is the height");
    let seen = hook.seen.lock().expect("hook").clone();
    let recorded = seen.iter().find(|u| u.key == final_key).expect("the hook recorded it");
    assert_eq!(recorded.variants.len(), 2);
    assert_eq!(recorded.size, clean.len() as u64);
    tally
        .pass("a photo through the endpoints: clean, its variants in the reply and the hook, after a hook failure too");
}

async fn refusals(api: &Api, dir: &std::path::Path, direct: &S3Storage, tally: &mut Tally) {
    // Over the image limit (64 MiB) though within the policy's (100 MiB): refused before signing.
    let claim = json!({ "filename": "poster.png", "content_type": "image/png", "size": 65 << 20 });
    let sentence = refused("an image over the limit", &api.post("/uploads", claim.clone()).await, 413);
    assert!(sentence.contains("64.0 MiB"), "{sentence}");
    refused("an image over the limit, in parts", &api.post("/uploads/multipart", claim).await, 413);

    let flood = std::fs::read(dir.join("pixel-flood.png")).expect("fixture");
    let claim = json!({ "filename": "avatar.png", "content_type": "image/png", "size": flood.len() });
    let (status, ticket) = api.post("/uploads", claim).await;
    assert_eq!(status, 201, "{ticket}");
    assert_eq!(put(&ticket, &flood).await.status / 100, 2);
    let key = ticket["key"].as_str().expect("key").to_owned();
    let sentence = refused("a pixel flood", &api.post("/uploads/complete", json!({ "key": key })).await, 413);
    assert_eq!(
        sentence,
        "This image is 100000 × 100000 pixels, over the limit of 50 megapixels and 16383 pixels a side; it was not kept."
    );
    let final_key = ticket["final_key"].as_str().expect("final key");
    assert!(direct.head_object(final_key, &GetOptions::new()).await.expect("head").is_none());
    assert!(direct.head_object(&key, &GetOptions::new()).await.expect("head").is_none(), "the staged bomb deleted");
    refused("completed again", &api.post("/uploads/complete", json!({ "key": key })).await, 404);
    tally.pass("images refused in words: over the image limit before signing, a flood at completion, nothing kept");
}

/// Multipart images (no staging): the cleaning's PUT fails, and the image as sent is not left at
/// its final key; then an instance "dies" after completing an upload (completed here directly) and
/// the completion sent again makes it clean.
async fn multipart_images(server: &Server, photo: &[u8], hook: &Arc<Hook>, tally: &mut Tally) {
    let direct = server.storage().await;
    let fail_clean = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(AtomicUsize::new(0));
    let proxy = Proxy::start(&server.endpoint, {
        let (fail_clean, failed) = (Arc::clone(&fail_clean), Arc::clone(&failed));
        move |r: &Seen| {
            // The clean image's PUT: to the final key, not a part, not a ticket.
            let clean_put = r.method == "PUT"
                && r.target.contains("/uploads/")
                && !r.target.contains("uploadId=")
                && !r.target.contains("/.variants/")
                && !r.target.contains("tickets");
            if clean_put && fail_clean.load(Ordering::SeqCst) {
                failed.fetch_add(1, Ordering::SeqCst);
                Fault::Respond(
                    b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec(),
                )
            } else {
                Fault::Forward
            }
        }
    })
    .await;
    let through: Arc<dyn Storage> = Arc::new(
        stowage::S3Config::new(server.bucket.as_str(), server.region.as_str(), server.credentials())
            .with_endpoint(proxy.endpoint.as_str())
            .build()
            .await
            .expect("storage through the proxy"),
    );
    let api = Api::serve(serve_with(through, false, hook)).await;

    // Without staging, a single upload cleaned in place: the hook fails once, and the completion
    // sent again finds the clean image (of another size than the upload) rather than deleting it.
    let claim = json!({ "filename": "IMG_0003.jpg", "content_type": "image/jpeg", "size": photo.len() });
    let (status, ticket) = api.post("/uploads", claim).await;
    assert_eq!(status, 201, "{ticket}");
    assert_eq!(put(&ticket, photo).await.status / 100, 2);
    let key = ticket["key"].as_str().expect("key").to_owned();
    hook.fail_next.store(true, Ordering::SeqCst);
    let first = api.post("/uploads/complete", json!({ "key": key })).await;
    assert_eq!(first.0, 503, "{}", first.1);
    let (status, done) = api.post("/uploads/complete", json!({ "key": key })).await;
    assert_eq!(status, 200, "{}: {done}", server.name);
    assert_eq!(done["variants"].as_array().map(Vec::len), Some(2), "{done}");
    let clean = stored(&direct, &key).await.expect("kept");
    assert!(personal(&clean).is_empty() && clean.len() != photo.len());
    // Uppy's single uploads (a POST nothing completes) are refused for every image type.
    for kind in ["image/jpeg", "image/svg+xml"] {
        let query = format!("/s3/params?filename=a&type={}&metadata%5Bsize%5D=10", kind.replace('+', "%2B"));
        refused("a POST of an image", &api.get(&query).await, 400);
    }
    tally.pass("without staging: a completion sent again keeps the clean image; no POST uploads of images");

    let (key, id, parts) = multipart(&api, "scan.jpg", photo).await;
    fail_clean.store(true, Ordering::SeqCst);
    let (status, body) = api.post("/uploads/complete", json!({ "key": key, "upload_id": id, "parts": parts })).await;
    fail_clean.store(false, Ordering::SeqCst);
    assert_eq!(status / 100, 5, "{}: {body}", server.name);
    assert!(failed.load(Ordering::SeqCst) > 0, "the fault happened");
    assert!(direct.head_object(&key, &GetOptions::new()).await.expect("head").is_none(), "the image as sent was left");
    for variant in images().variants() {
        let variant_key = ImagePolicy::variant_key(&key, variant);
        assert!(direct.head_object(&variant_key, &GetOptions::new()).await.expect("head").is_none());
    }
    tally.pass("a multipart image whose cleaning fails: not left at its final key as it was sent");

    let (key, id, parts) = multipart(&api, "scan2.jpg", photo).await;
    let upload = MultipartUpload::new(key.as_str(), UploadId::new(id.as_str()).expect("upload id"));
    let etag = parts[0]["etag"].as_str().expect("etag").to_owned();
    direct
        .complete_multipart_upload(&upload, &[CompletedPart::new(PartNumber::FIRST, etag)], &Default::default())
        .await
        .expect("completed as the instance that died did");
    assert!(!personal(&stored(&direct, &key).await.expect("completed")).is_empty(), "as sent, for now");
    let (status, done) = api.post("/uploads/complete", json!({ "key": key, "upload_id": id, "parts": parts })).await;
    assert_eq!(status, 200, "{}: {done}", server.name);
    let clean = stored(&direct, &key).await.expect("kept");
    assert!(personal(&clean).is_empty(), "{:?}", personal(&clean));
    assert_eq!(done["variants"].as_array().map(Vec::len), Some(2), "{done}");
    api.stop().await;
    tally.pass("a multipart image completed by an instance that died: made clean by the completion sent again");
}

async fn suite(server: &Server) -> Tally {
    let mut tally = Tally::default();
    let Some(dir) = support::images::fixtures() else { return tally.finish("endpoints with images", server.name) };
    let photo = std::fs::read(dir.join("gps-orient6.jpg")).expect("fixture");
    let direct = server.storage().await;
    let hook = Arc::new(Hook::default());
    let api = Api::serve(serve_with(Arc::new(server.storage().await), true, &hook)).await;
    single(&api, &photo, &direct, &hook, &mut tally).await;
    refusals(&api, &dir, &direct, &mut tally).await;
    api.stop().await;
    multipart_images(server, &photo, &hook, &mut tally).await;
    tally.finish("endpoints with images", server.name)
}

on_each_server!(suite, |server: &Server, tally: Tally| {
    if support::images::tools_available() {
        assert_eq!(tally.cases, 5, "{}: {:?}", server.name, tally.notes);
    }
});
