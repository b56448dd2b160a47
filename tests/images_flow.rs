//! Images through the upload flow on both servers (features `images`, `testing`): a phone photo
//! uploaded with a presigned PUT is promoted clean (no GPS, upright) with its variants beside it
//! while the original never leaves staging; a bomb is refused with nothing promoted and the staged
//! object deleted; without staging and after a multipart upload the image is made clean in place;
//! `sanitize_object` cleans an object already stored; a clean form over the size limit is refused;
//! `delete_upload` takes the variants with the image.

#![cfg(all(feature = "images", feature = "testing"))]

mod support;

use std::path::Path;
use std::sync::Arc;

use stowage::constraints::{
    FileClaim, Mismatch, UploadPolicy, UploadTicket, VerifyOptions, complete_upload, delete_upload, sanitize_object,
    stored_variants,
};
use stowage::images::{ImageFormatOut, ImagePolicy, ImageRefusal, Variant};
use stowage::multipart::PartNumber;
use stowage::{Body, Error, GetOptions, PutOptions, Storage};
use support::servers::Server;
use support::{Tally, on_each_server};

fn images() -> ImagePolicy {
    ImagePolicy::new().with_variant(Variant::jpeg("thumb", 256, 80)).with_variant(Variant::new(
        "display",
        1600,
        1600,
        ImageFormatOut::WebpLossless,
    ))
}

fn upload_policy(staging: bool) -> UploadPolicy {
    let policy = UploadPolicy::new("photos/")
        .allow_type("image/*")
        .expect("pattern")
        .with_max_size(64 << 20)
        .with_part_size(5 << 20);
    if staging { policy.with_staging_prefix("staging/") } else { policy }
}

fn options() -> VerifyOptions {
    VerifyOptions::new().with_sniff(true).with_delete_on_mismatch(true).with_images(images())
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

async fn stored(storage: &dyn Storage, key: &str) -> Option<Vec<u8>> {
    let object = storage.get_object(key, &GetOptions::new()).await.expect("get")?;
    Some(object.bytes().await.expect("body").to_vec())
}

async fn exists(storage: &dyn Storage, key: &str) -> bool {
    storage.head_object(key, &GetOptions::new()).await.expect("head").is_some()
}

/// Sends `bytes` to the ticket's presigned PUT, as a browser would.
async fn upload(ticket: &UploadTicket, bytes: &[u8]) {
    let headers: Vec<(&str, &str)> = ticket.request.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let response = support::raw_http::send("PUT", &ticket.request.url, &headers, bytes).await;
    assert_eq!(response.status / 100, 2, "{}", response.text());
}

fn image_refusal(error: &Error) -> Option<(&ImageRefusal, bool)> {
    match error {
        Error::Mismatch(m) => m.problems.iter().find_map(|p| match p {
            Mismatch::Image(refusal) => Some((refusal, m.deleted)),
            _ => None,
        }),
        _ => None,
    }
}

fn has_any(tags: &[String], names: &[&str]) -> Vec<String> {
    tags.iter().filter(|t| names.contains(&t.as_str())).cloned().collect()
}

const PERSONAL: [&str; 6] = ["GPSLatitude", "GPSLongitude", "Make", "Model", "DateTimeOriginal", "Orientation"];

/// The phone photo through staging: promoted clean and upright, variants beside it, the original
/// gone from staging; listed with its variants and deleted with them.
async fn phone_photo(dir: &Path, server: &Server, storage: &dyn Storage, tally: &mut Tally) {
    let original = read(dir, "gps-orient6.jpg");
    assert!(!has_any(&support::images::exif_tags(&original), &PERSONAL).is_empty(), "the fixture has no GPS");
    let policy = upload_policy(true);
    let ticket = policy
        .presign_upload(storage, &FileClaim::new("IMG_0001.jpg", "image/jpeg", original.len() as u64))
        .expect("ticket");
    assert_ne!(ticket.upload_key, ticket.final_key);
    upload(&ticket, &original).await;
    let meta = complete_upload(storage, &ticket, &options()).await.unwrap_or_else(|e| panic!("{}: {e}", server.name));

    let clean = stored(storage, &ticket.final_key).await.expect("promoted");
    assert_eq!(meta.size, clean.len() as u64);
    assert_eq!(meta.content_type.as_deref(), Some("image/jpeg"));
    assert_ne!(clean, original);
    let left = has_any(&support::images::exif_tags(&clean), &PERSONAL);
    assert!(left.is_empty(), "{}: still in the promoted image: {left:?}", server.name);
    let (difference, size) = support::images::difference(&clean, &dir.join("gps-orient6.expected.png"));
    assert_eq!(size, (320, 480), "turned upright");
    assert!(difference < 6.0, "{}: {difference} from the upright original", server.name);
    assert!(!exists(storage, &ticket.upload_key).await, "the original left staging");
    assert!(stored(storage, &ticket.final_key).await.is_some_and(|b| !b.windows(4).any(|w| w == b"GPS\0")));
    tally.pass("a phone photo: promoted without GPS, device or orientation, upright, the original deleted in staging");

    let variants = stored_variants(storage, &ticket.final_key, &images()).await.expect("variants");
    let names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["thumb", "display"]);
    for variant in &variants {
        assert!(variant.key.starts_with("photos/") && variant.key.contains("/.variants/"), "{}", variant.key);
        let head = storage.head_object(&variant.key, &GetOptions::new()).await.expect("head").expect("variant");
        assert_eq!(head.cache_control.as_deref(), Some("public, max-age=31536000, immutable"), "{}", server.name);
        let bytes = stored(storage, &variant.key).await.expect("variant bytes");
        let (_, size) = support::images::difference(&bytes, &dir.join("gps-orient6.expected.png"));
        assert_eq!((variant.width, variant.height), (Some(size.0), Some(size.1)), "{}", variant.name);
        assert!(size.0.max(size.1) <= 1600 && (variant.name != "thumb" || size.1 == 256), "{size:?}");
        assert!(has_any(&support::images::exif_tags(&bytes), &PERSONAL).is_empty());
    }
    assert_eq!(variants[0].content_type, "image/jpeg");
    assert_eq!(variants[1].content_type, "image/webp");
    tally.pass("variants: a JPEG thumbnail and a WebP display size beside it, with sizes and a year's cache");

    delete_upload(storage, &ticket.final_key, &images()).await.expect("delete");
    assert!(!exists(storage, &ticket.final_key).await);
    for variant in &variants {
        assert!(!exists(storage, &variant.key).await, "{} kept", variant.key);
    }
    tally.pass("delete_upload deletes the image with its variants");
}

/// A pixel flood through staging: refused in words, nothing promoted, the staged object deleted.
async fn bomb(dir: &Path, server: &Server, storage: &dyn Storage, tally: &mut Tally) {
    let flood = read(dir, "pixel-flood.png");
    let ticket = upload_policy(true)
        .presign_upload(storage, &FileClaim::new("avatar.png", "image/png", flood.len() as u64))
        .expect("ticket");
    upload(&ticket, &flood).await;
    let error = complete_upload(storage, &ticket, &options()).await.expect_err("a bomb");
    let (refusal, deleted) = image_refusal(&error).unwrap_or_else(|| panic!("{}: {error:?}", server.name));
    assert!(matches!(refusal, ImageRefusal::TooLarge { .. }), "{refusal:?}");
    assert!(refusal.user_message().contains("100000 × 100000"), "{}", refusal.user_message());
    assert!(deleted);
    if let Error::Mismatch(m) = &error {
        assert_eq!(m.http_status() / 100, 4);
    }
    assert!(!exists(storage, &ticket.upload_key).await, "the staged bomb is deleted");
    assert!(!exists(storage, &ticket.final_key).await, "nothing promoted");
    for variant in images().variants() {
        assert!(!exists(storage, &ImagePolicy::variant_key(&ticket.final_key, variant)).await);
    }
    tally.pass("a pixel flood: refused in words, nothing promoted, the staged object deleted");
}

/// Without staging: the PNG with text and trailing bytes is made clean in place; random bytes
/// named .png are refused and deleted.
async fn in_place(dir: &Path, storage: &dyn Storage, tally: &mut Tally) {
    let png = read(dir, "text-trailing.png");
    let ticket = upload_policy(false)
        .presign_upload(storage, &FileClaim::new("cat.png", "image/png", png.len() as u64))
        .expect("ticket");
    assert_eq!(ticket.upload_key, ticket.final_key);
    upload(&ticket, &png).await;
    let meta = complete_upload(storage, &ticket, &options()).await.expect("clean in place");
    let clean = stored(storage, &ticket.final_key).await.expect("kept");
    assert_eq!(meta.size, clean.len() as u64);
    assert!(clean.ends_with(b"IEND\xaeB`\x82"), "nothing after IEND");
    assert!(!clean.windows(4).any(|w| w == b"tEXt" || w == b"iTXt" || w == b"zTXt"));
    assert!(png.windows(4).any(|w| w == b"tEXt"), "the fixture has text");
    assert_eq!(stored_variants(storage, &ticket.final_key, &images()).await.expect("variants").len(), 2);
    delete_upload(storage, &ticket.final_key, &images()).await.expect("delete");
    tally.pass("without staging: a PNG's text and trailing bytes removed in place");

    // A phone photo declared under an alias of JPEG: cleaned all the same. Completed again (its
    // answer lost), it is found clean, not checked against the upload's size and deleted.
    let photo = read(dir, "gps-orient6.jpg");
    let ticket = upload_policy(false)
        .presign_upload(storage, &FileClaim::new("old-browser.jpg", "image/pjpeg", photo.len() as u64))
        .expect("ticket");
    upload(&ticket, &photo).await;
    let first = complete_upload(storage, &ticket, &options()).await.expect("cleaned");
    let again = complete_upload(storage, &ticket, &options()).await.expect("found clean");
    assert_eq!((again.size, &again.etag), (first.size, &first.etag));
    let clean = stored(storage, &ticket.final_key).await.expect("kept");
    assert!(has_any(&support::images::exif_tags(&clean), &PERSONAL).is_empty());
    delete_upload(storage, &ticket.final_key, &images()).await.expect("delete");
    tally.pass("without staging: image/pjpeg cleaned too; completed again, the clean image is kept");

    // The person's own bytes at the key with a forged mark of the cleaning (and the upload's
    // signed size): cleaned all the same, never taken for clean.
    let ticket = upload_policy(false)
        .presign_upload(storage, &FileClaim::new("forged.jpg", "image/jpeg", photo.len() as u64))
        .expect("ticket");
    let forged = PutOptions::new().with_content_type("image/jpeg").with_metadata("width", "320");
    storage.put_object(&ticket.final_key, Body::from(photo.clone()), &forged).await.expect("put");
    complete_upload(storage, &ticket, &options()).await.expect("cleaned");
    let clean = stored(storage, &ticket.final_key).await.expect("kept");
    assert!(has_any(&support::images::exif_tags(&clean), &PERSONAL).is_empty(), "a forged mark was trusted");
    delete_upload(storage, &ticket.final_key, &images()).await.expect("delete");
    tally.pass("without staging: a forged mark of the cleaning is not trusted");

    let random = read(dir, "random.png");
    let ticket = upload_policy(false)
        .presign_upload(storage, &FileClaim::new("noise.png", "image/png", random.len() as u64))
        .expect("ticket");
    upload(&ticket, &random).await;
    let error = complete_upload(storage, &ticket, &options()).await.expect_err("random bytes");
    assert!(matches!(&error, Error::Mismatch(m) if m.deleted), "{error:?}");
    assert!(!exists(storage, &ticket.final_key).await);
    tally.pass("without staging: random bytes named .png refused and deleted");
}

/// A multipart upload of an image: completed, then made clean in place before `complete` returns.
async fn multipart(dir: &Path, server: &Server, storage: &dyn Storage, tally: &mut Tally) {
    let jpeg = read(dir, "zip-appended.jpg");
    let ticket = upload_policy(true)
        .presign_multipart(storage, &FileClaim::new("scan.jpg", "image/jpeg", jpeg.len() as u64))
        .await
        .expect("ticket");
    let url = ticket.presign_part(storage, PartNumber::FIRST, None).expect("part url");
    let headers: Vec<(&str, &str)> = url
        .headers
        .iter()
        .filter(|(k, _)| k.as_str() != "content-length")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let sent = support::raw_http::send("PUT", &url.url, &headers, &jpeg).await;
    assert_eq!(sent.status / 100, 2, "{}", sent.text());
    let part = stowage::multipart::CompletedPart::new(PartNumber::FIRST, sent.header("etag").expect("etag"));
    let meta = ticket.complete(storage, &[part], &options()).await.unwrap_or_else(|e| panic!("{}: {e}", server.name));
    let clean = stored(storage, &ticket.final_key).await.expect("completed");
    assert_eq!(meta.size, clean.len() as u64);
    assert!(jpeg.windows(4).any(|w| w == b"PK\x03\x04"), "the fixture has a ZIP");
    assert!(!clean.windows(4).any(|w| w == b"PK\x03\x04"), "the ZIP survived");
    assert!(clean.ends_with(&[0xFF, 0xD9]));
    assert_eq!(stored_variants(storage, &ticket.final_key, &images()).await.expect("variants").len(), 2);
    delete_upload(storage, &ticket.final_key, &images()).await.expect("delete");
    tally.pass("a multipart image: completed, the appended ZIP removed in place");
}

/// `sanitize_object` on an object already stored (a background worker's way); a clean form over the
/// size limit is refused and nothing changes.
async fn worker(dir: &Path, storage: &dyn Storage, tally: &mut Tally) {
    let key = "photos/worker/IMG_0002.jpg";
    let original = read(dir, "gps-orient6.jpg");
    let put = PutOptions::new().with_content_type("image/jpeg");
    let first = storage.put_object(key, Body::from(original.clone()), &put).await.expect("put");
    let meta = sanitize_object(storage, key, &images()).await.expect("sanitised");
    assert_ne!(meta.etag, first.etag);
    let clean = stored(storage, key).await.expect("kept");
    assert!(has_any(&support::images::exif_tags(&clean), &PERSONAL).is_empty());
    assert_eq!(stored_variants(storage, key, &images()).await.expect("variants").len(), 2);
    delete_upload(storage, key, &images()).await.expect("delete");
    tally.pass("sanitize_object: an object already stored made clean in place, with its variants");

    let low = read(dir, "low-quality.jpg");
    let key = "photos/worker/low.jpg";
    storage.put_object(key, Body::from(low.clone()), &put).await.expect("put");
    let strict = images().with_max_bytes(low.len() as u64 + 1);
    let error = sanitize_object(storage, key, &strict).await.expect_err("grows past the limit");
    let (refusal, _) = image_refusal(&error).unwrap_or_else(|| panic!("{error:?}"));
    assert!(matches!(refusal, ImageRefusal::CleanTooLarge { .. }), "{refusal:?}");
    assert_eq!(stored(storage, key).await.as_deref(), Some(low.as_slice()), "unchanged");
    for variant in strict.variants() {
        assert!(!exists(storage, &ImagePolicy::variant_key(key, variant)).await, "no variant written");
    }
    storage.delete_object(key).await.expect("delete");
    tally.pass("a clean form larger than the size limit: refused in words, nothing written");
}

/// The network failing under the cleaning of a staged upload — the source's read reset or cut
/// short, a variant's write never answered: each a typed error, nothing at the final key (no image,
/// no variant), the original still in staging; the completion sent again succeeds.
async fn faults(dir: &Path, server: &Server, tally: &mut Tally) {
    use std::sync::atomic::{AtomicU8, Ordering};
    use support::proxy::{Fault, Proxy, Seen};
    let direct = server.storage().await;
    let mode = Arc::new(AtomicU8::new(0));
    let proxy = Proxy::start(&server.endpoint, {
        let mode = Arc::clone(&mode);
        move |r: &Seen| {
            let source_read = r.method == "GET" && r.target.contains("/staging/");
            let variant_write = r.method == "PUT" && r.target.contains("/.variants/");
            match mode.load(Ordering::SeqCst) {
                1 if source_read => Fault::ResetAfterBody(0),
                2 if source_read => Fault::CutAnswer(1000),
                3 if variant_write => Fault::Silent,
                _ => Fault::Forward,
            }
        }
    })
    .await;
    let through = stowage::S3Config::new(server.bucket.as_str(), server.region.as_str(), server.credentials())
        .with_endpoint(proxy.endpoint.as_str())
        .with_retry(stowage::RetryPolicy::new(
            2,
            std::time::Duration::from_millis(5),
            std::time::Duration::from_millis(20),
        ))
        .with_idle_timeout(std::time::Duration::from_secs(1))
        .build()
        .await
        .expect("storage through the proxy");
    let photo = read(dir, "gps-orient6.jpg");
    for (fault, what) in
        [(1, "the source's read reset"), (2, "the source's read cut short"), (3, "a variant's write unanswered")]
    {
        let ticket = upload_policy(true)
            .presign_upload(&through, &FileClaim::new("IMG_0004.jpg", "image/jpeg", photo.len() as u64))
            .expect("ticket");
        upload(&ticket, &photo).await;
        mode.store(fault, Ordering::SeqCst);
        let error = complete_upload(&through, &ticket, &options()).await.expect_err(what);
        mode.store(0, Ordering::SeqCst);
        assert!(image_refusal(&error).is_none(), "{}: {what}: a storage error, not a refusal: {error:?}", server.name);
        assert!(!exists(&direct, &ticket.final_key).await, "{what}: nothing at the final key");
        for variant in images().variants() {
            assert!(
                !exists(&direct, &ImagePolicy::variant_key(&ticket.final_key, variant)).await,
                "{what}: a variant left"
            );
        }
        assert_eq!(
            stored(&direct, &ticket.upload_key).await.as_deref(),
            Some(photo.as_slice()),
            "{what}: the original kept"
        );
        let meta =
            complete_upload(&through, &ticket, &options()).await.unwrap_or_else(|e| panic!("{what}, again: {e}"));
        assert_eq!(stored(&direct, &ticket.final_key).await.map(|b| b.len() as u64), Some(meta.size));
        assert!(!exists(&direct, &ticket.upload_key).await);
        delete_upload(&direct, &ticket.final_key, &images()).await.expect("delete");
    }
    tally.pass("the network failing under the cleaning: a typed error, nothing at the final key, then done on retry");
}

async fn suite(server: &Server) -> Tally {
    let mut tally = Tally::default();
    let Some(dir) = support::images::fixtures() else { return tally.finish("images flow", server.name) };
    let storage: Arc<dyn Storage> = Arc::new(server.storage().await);
    phone_photo(&dir, server, storage.as_ref(), &mut tally).await;
    bomb(&dir, server, storage.as_ref(), &mut tally).await;
    in_place(&dir, storage.as_ref(), &mut tally).await;
    multipart(&dir, server, storage.as_ref(), &mut tally).await;
    worker(&dir, storage.as_ref(), &mut tally).await;
    faults(&dir, server, &mut tally).await;
    tally.finish("images flow", server.name)
}

on_each_server!(suite, |server: &Server, tally: Tally| {
    if support::images::tools_available() {
        assert_eq!(tally.cases, 12, "{}: {:?}", server.name, tally.notes);
    }
});
