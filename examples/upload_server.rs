//! The upload demo: a small web app (axum) where a browser uploads files of any size straight to
//! S3/R2 through presigned URLs, and nothing is listed or served before it is verified.
//!
//! ```text
//! cargo run --example upload_server --features axum,images
//! # then open http://127.0.0.1:3000 (and http://127.0.0.1:3000/uppy for Uppy's own client)
//! ```
//!
//! The upload endpoints are the library's (`stowage::axum::Uploads`, mounted under `/api`): a policy
//! checks each file's claims, uploads go to `staging/` and are verified there (size, type, first
//! bytes) before they are promoted to `uploads/` — images (with the `images` feature) as their clean
//! form, upright and without GPS or other metadata, with a thumbnail and a display size beside
//! them, which the page's list shows; above `UPLOAD_MULTIPART_THRESHOLD` the page sends
//! the file as a multipart upload, several parts at a time, resumable after a reload. The app adds:
//!
//! - `GET /`: the page (plain JS, no build step); `GET /uppy`: the same with Uppy's AWS S3 plugin.
//!   On the first load each browser gets an identity: a random id in a cookie signed with
//!   `UPLOAD_SECRET` (no sign-in). Every other route is that person's: their uploads, their files.
//! - `GET /api/config`: what the page needs to know;
//! - `GET /api/files`: the person's verified files, newest first; `GET /api/files/{key}`: a redirect
//!   to a presigned GET that saves under the original name (only for the person's verified files);
//! - `POST /api/upload`: the server-side pattern, a multipart form (`size`, then `file`) streamed to
//!   the bucket with bounded memory, verified and promoted like the others.
//!
//! Instances that share the `S3_*` settings and `UPLOAD_SECRET` serve one person's uploads together:
//! the upload tickets live in the bucket, signed with the secret. Without `UPLOAD_SECRET` a random
//! secret serves this one process.
//!
//! With no `S3_*` configuration it runs on an embedded s3s-fs server with a CORS layer answering
//! preflights as S3/R2 do for the page's origin. With `S3_BUCKET`, `S3_REGION`, `S3_ENDPOINT`,
//! `S3_ACCESS_KEY_ID`, `S3_SECRET_ACCESS_KEY` it uses that bucket, checks its CORS for the page's
//! origin at start-up, and with `--setup-cors` writes the rule. Other settings: `UPLOAD_ADDR`
//! (default `127.0.0.1:3000`), `UPLOAD_ORIGIN` (default `http://<addr>`), `UPLOAD_MAX_BYTES` (default
//! 1 GiB), `UPLOAD_TYPES` (default `image/*,application/pdf,text/plain,video/*`),
//! `UPLOAD_MULTIPART_THRESHOLD` (default 16 MiB), `UPLOAD_PART_SIZE` (default 8 MiB),
//! `UPLOAD_CONCURRENCY` (parts in flight, default 4), `UPLOAD_MAX_IN_PROGRESS` (uploads in progress
//! per person, default 20), `UPLOAD_PART_CHECKSUMS` (`on`/`off`: whether the page signs each part's
//! SHA-256; on by default with a bucket of yours, off on the embedded server, which keeps no checksum
//! for multipart objects), `UPLOAD_IMAGES` (`on`/`off`: whether images are made clean with
//! variants; on when built with the `images` feature), `UPLOAD_SECRET` (at least 32 bytes, shared by the instances), `UPPY_DIST` (the directory holding Uppy's `uppy.min.js`, default `target/uppy`:
//! `bash examples/static/fetch-uppy.sh` puts it there).

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRequestParts, Multipart, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde_json::json;
use stowage::axum::{IdentityRefusal, Secret, Uploader, Uploads};
use stowage::constraints::{FileClaim, UploadPolicy, VerifyOptions, complete_upload};
use stowage::{Body, CorsConfiguration, Error, GetOptions, ListOptions, PutOptions, S3Config, Storage};

const PAGE: &str = include_str!("static/upload.html");
const UPPY_PAGE: &str = include_str!("static/uppy.html");

/// The cookie that holds a browser's identity: `<id>.<signature of the id>`.
const COOKIE: &str = "stowage_demo";

struct App {
    storage: Arc<dyn Storage>,
    policy: UploadPolicy,
    secret: Secret,
    backend: String,
    multipart_threshold: u64,
    concurrency: u64,
    /// Whether the page signs each part's SHA-256 (off on the embedded s3s-fs, which keeps no
    /// checksum for multipart objects, so that nothing could prove them).
    part_checksums: bool,
    uppy_dist: PathBuf,
    /// How images are made clean, and their variants (with the `images` feature).
    #[cfg(feature = "images")]
    images: Option<stowage::images::ImagePolicy>,
}

type Shared = Arc<App>;

/// The person behind a request: the id in the identity cookie, if its signature is `secret`'s.
fn identity(secret: &Secret, headers: &HeaderMap) -> Result<Uploader, IdentityRefusal> {
    let refused = || IdentityRefusal::unauthorized("Open the page first: it gives this browser its identity.");
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .ok_or_else(refused)?;
    let (id, signature) = cookie.split_once('.').ok_or_else(refused)?;
    if !secret.verify(id.as_bytes(), signature) {
        return Err(refused());
    }
    Uploader::new(id).map_err(|_| refused())
}

/// A new identity for a browser: a random id, and the cookie that carries it signed.
fn new_identity(secret: &Secret) -> String {
    // A fresh random key's signature of anything is 256 random bits: the first 96 make the id.
    let id = Secret::random().sign(b"visitor")[..24].to_owned();
    format!("{COOKIE}={id}.{}; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000", secret.sign(id.as_bytes()))
}

/// The person behind a request to one of the app's own routes.
struct Visitor(Uploader);

impl FromRequestParts<Shared> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Shared) -> Result<Self, Response> {
        identity(&app.secret, &parts.headers)
            .map(Self)
            .map_err(|_| fail(StatusCode::UNAUTHORIZED, "Open the page first: it gives this browser its identity."))
    }
}

/// A page, giving the browser an identity if it has none (or a forged one).
fn page(app: &App, headers: &HeaderMap, html: &'static str) -> Response {
    match identity(&app.secret, headers) {
        Ok(_) => Html(html).into_response(),
        Err(_) => ([(header::SET_COOKIE, new_identity(&app.secret))], Html(html)).into_response(),
    }
}

fn fail(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into(), "status": status.as_u16() }))).into_response()
}

/// The HTTP answer for an error: the person's fault in plain words, or a 502.
fn storage_failure(error: &Error) -> Response {
    match error {
        Error::Policy(v) => {
            fail(StatusCode::from_u16(v.http_status()).unwrap_or(StatusCode::BAD_REQUEST), v.user_message())
        }
        Error::Mismatch(m) => {
            fail(StatusCode::from_u16(m.http_status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY), m.user_message())
        }
        Error::ChecksumMismatch { .. } => fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The bytes that reached the storage are not the ones that were sent; nothing was kept. Try again.",
        ),
        Error::BodyLength { .. } | Error::Io { .. } => {
            fail(StatusCode::BAD_REQUEST, "The file that arrived is not the size that was announced; it was not kept.")
        }
        other => {
            eprintln!("storage error: {other}");
            fail(StatusCode::BAD_GATEWAY, "The storage is unavailable at the moment; try again.")
        }
    }
}

/// A stream over the chunks sent into `receiver`.
fn channel_stream(
    receiver: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
) -> impl futures_util::Stream<Item = io::Result<Bytes>> + Send + 'static {
    futures_util::stream::unfold(
        receiver,
        |mut receiver| async move { receiver.recv().await.map(|item| (item, receiver)) },
    )
}

/// The server-side pattern: the form's `size` field, then its `file`, streamed to staging, then
/// verified and promoted like a browser's upload.
async fn upload_through_server(State(app): State<Shared>, Visitor(who): Visitor, mut form: Multipart) -> Response {
    let policy = who.narrow(&app.policy);
    let mut declared: Option<u64> = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => return fail(StatusCode::BAD_REQUEST, "The form has no file."),
            Err(e) => return fail(StatusCode::BAD_REQUEST, format!("The form could not be read: {e}")),
        };
        match field.name() {
            Some("size") => declared = field.text().await.ok().and_then(|t| t.trim().parse().ok()),
            Some("file") => {
                let Some(size) = declared else {
                    return fail(StatusCode::LENGTH_REQUIRED, "Send the size field before the file.");
                };
                let filename = field.file_name().unwrap_or("upload").to_owned();
                let content_type = field.content_type().unwrap_or("application/octet-stream").to_owned();
                // A ticket gives the keys (staging and final) and what verification expects.
                let claim = FileClaim::new(filename.as_str(), content_type.as_str(), size);
                let ticket = match policy.presign_upload(app.storage.as_ref(), &claim) {
                    Ok(ticket) => ticket,
                    Err(e) => return storage_failure(&e),
                };
                // Chunks go from the request to the bucket through a small channel: memory stays bounded.
                let (sender, receiver) = tokio::sync::mpsc::channel(4);
                let body = Body::from_stream(channel_stream(receiver), size);
                // Its SHA-256, computed as the bytes stream to the bucket, which checks it.
                let options = PutOptions::new()
                    .with_content_type(content_type.as_str())
                    .with_checksum(stowage::checksum::ChecksumAlgorithm::Sha256);
                let upload = app.storage.put_object(&ticket.upload_key, body, &options);
                let pump = async move {
                    let mut field = field;
                    loop {
                        let item = match field.chunk().await {
                            Ok(Some(chunk)) => Ok(chunk),
                            Ok(None) => break,
                            Err(e) => Err(io::Error::other(e.to_string())),
                        };
                        let failed = item.is_err();
                        if sender.send(item).await.is_err() || failed {
                            break;
                        }
                    }
                };
                let (result, ()) = tokio::join!(upload, pump);
                let result = match result {
                    Ok(stored) => stored,
                    Err(e) => return storage_failure(&e),
                };
                let verify = VerifyOptions::new().with_delete_on_mismatch(true);
                #[cfg(feature = "sniff")]
                let verify = verify.with_sniff(true);
                #[cfg(feature = "images")]
                let verify = match &app.images {
                    Some(images) => verify.with_images(images.clone()),
                    None => verify,
                };
                return match complete_upload(app.storage.as_ref(), &ticket, &verify).await {
                    Ok(meta) => Json(json!({
                        "key": meta.key,
                        "filename": ticket.filename,
                        "size": meta.size,
                        "checksum": meta.checksum.or(result.checksum).map(|c| c.to_string()),
                    }))
                    .into_response(),
                    Err(e) => storage_failure(&e),
                };
            }
            _ => {}
        }
    }
}

/// The person's verified files (their own final prefix only: staging is never listed), newest first.
async fn files(State(app): State<Shared>, Visitor(who): Visitor) -> Response {
    let prefix = who.narrow(&app.policy).key_prefix().to_owned();
    let mut out = match app.storage.list_objects(&prefix, &ListOptions::new()).all().await {
        Ok(objects) => objects,
        Err(e) => return storage_failure(&e),
    };
    // An image's variants are listed beside it (`<folder>/.variants/…`): shown with it, not as files.
    let keys: std::collections::HashSet<String> = out.iter().map(|o| o.key.clone()).collect();
    out.retain(|o| !o.key.contains("/.variants/"));
    out.sort_by(|a, b| b.last_modified.cmp(&a.last_modified).then_with(|| a.key.cmp(&b.key)));
    out.truncate(100);
    // Listings carry no checksums: a HEAD each asks the bucket for the one it keeps.
    let checked = GetOptions::new().with_checksum_mode(true);
    let checksums = futures_util::future::join_all(out.iter().map(|o| app.storage.head_object(&o.key, &checked))).await;
    let files: Vec<serde_json::Value> = out
        .into_iter()
        .zip(checksums)
        .map(|(object, head)| {
            let filename = object.key.rsplit('/').next().unwrap_or_default().to_owned();
            let uploaded =
                object.last_modified.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok());
            let checksum = head.ok().flatten().and_then(|meta| meta.checksum);
            let thumb = thumbnail(&app, &object.key).filter(|key| keys.contains(key));
            json!({
                "thumb": thumb,
                "key": object.key,
                "filename": filename,
                "size": object.size,
                "uploaded_at": uploaded,
                "checksum": checksum.map(|c| c.to_string()),
                "checksum_algorithm": checksum.map(|c| c.checksum.algorithm().as_str()),
            })
        })
        .collect();
    Json(files).into_response()
}

/// Where the thumbnail of the image at `key` is, if images get one.
fn thumbnail(app: &App, key: &str) -> Option<String> {
    #[cfg(feature = "images")]
    if let Some(images) = &app.images {
        let thumb = images.variants().iter().find(|v| v.name() == "thumb")?;
        return Some(stowage::images::ImagePolicy::variant_key(key, thumb));
    }
    let _ = (app, key);
    None
}

/// A download of one of the person's verified files: a redirect to a presigned GET saving under its
/// name. Anyone else's file is, to them, no file at all.
async fn download(State(app): State<Shared>, Visitor(who): Visitor, Path(key): Path<String>) -> Response {
    let plain = key.split('/').all(|segment| !segment.is_empty() && segment != "." && segment != "..");
    if !plain || !key.starts_with(who.narrow(&app.policy).key_prefix()) {
        return fail(StatusCode::NOT_FOUND, "There is no such file.");
    }
    let filename = key.rsplit('/').next().unwrap_or("download");
    match app.storage.presign_get(&key, &GetOptions::new().with_attachment(filename), Duration::from_secs(300)) {
        Ok(url) => Redirect::to(&url.url).into_response(),
        Err(e) => storage_failure(&e),
    }
}

async fn config(State(app): State<Shared>) -> Response {
    Json(json!({
        "backend": app.backend,
        "accepted": app.policy.accepted_in_words(),
        "max_size": app.policy.max_size(),
        "multipart_threshold": app.multipart_threshold,
        "part_size": app.policy.part_size(),
        "concurrency": app.concurrency,
        "part_checksums": app.part_checksums,
        "images": images_on(&app),
    }))
    .into_response()
}

fn images_on(app: &App) -> bool {
    #[cfg(feature = "images")]
    return app.images.is_some();
    #[cfg(not(feature = "images"))]
    {
        let _ = app;
        false
    }
}

/// Uppy's prebuilt bundle, from `UPPY_DIST`.
async fn uppy_bundle(State(app): State<Shared>) -> Response {
    match tokio::fs::read(app.uppy_dist.join("uppy.min.js")).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], bytes).into_response(),
        Err(_) => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
            format!(
                "document.body.dataset.uppy = 'missing'; console.warn({:?});",
                format!(
                    "Uppy's bundle is not in {}: run `bash examples/static/fetch-uppy.sh`",
                    app.uppy_dist.display()
                )
            ),
        )
            .into_response(),
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn bytes_setting(name: &str, default: u64) -> Result<u64, String> {
    match env(name) {
        Some(v) => v.trim().parse().map_err(|_| format!("{name} must be a number of bytes, not {v:?}")),
        None => Ok(default),
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let addr = env("UPLOAD_ADDR").unwrap_or_else(|| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr()?;
    let origin = env("UPLOAD_ORIGIN").unwrap_or_else(|| format!("http://{local}"));
    let max_size = bytes_setting("UPLOAD_MAX_BYTES", 1 << 30)?;
    let part_size = bytes_setting("UPLOAD_PART_SIZE", stowage::multipart::DEFAULT_PART_SIZE)?;
    let multipart_threshold = bytes_setting("UPLOAD_MULTIPART_THRESHOLD", 16 << 20)?;
    let concurrency = bytes_setting("UPLOAD_CONCURRENCY", 4)?.clamp(1, 16);
    let max_in_progress = bytes_setting("UPLOAD_MAX_IN_PROGRESS", u64::from(stowage::axum::DEFAULT_MAX_IN_PROGRESS))?;
    let mut policy = UploadPolicy::new("uploads/")
        .with_staging_prefix("staging/")
        .with_max_size(max_size)
        .with_part_size(part_size)
        .with_url_lifetime(Duration::from_secs(3600));
    for pattern in env("UPLOAD_TYPES").unwrap_or_else(|| "image/*,application/pdf,text/plain,video/*".into()).split(',')
    {
        policy = policy.allow_type(pattern.trim())?;
    }

    let external = env("S3_BUCKET").is_some();
    let (storage, backend, _embedded) = if external {
        let s3 = S3Config::from_env()?.build().await?;
        let backend = format!("{} bucket “{}” at {}", s3.platform(), s3.bucket(), s3.address().authority());
        if std::env::args().any(|a| a == "--setup-cors") {
            s3.put_bucket_cors(&CorsConfiguration::for_browser_uploads([origin.as_str()])).await?;
            println!("CORS: wrote a rule allowing PUT, GET and HEAD from {origin}, ETag exposed");
        }
        match s3.check_cors_preflight(&origin, "PUT", &["content-type"]).await {
            Ok(report) if report.is_ok() => println!("CORS: the bucket accepts browser uploads from {origin}"),
            Ok(report) => {
                println!("CORS WARNING: {report}\n  fix: run again with --setup-cors, or `cargo run --example doctor`")
            }
            Err(e) => println!("CORS: could not check ({e})"),
        }
        (Arc::new(s3) as Arc<dyn Storage>, backend, None)
    } else {
        let cors = CorsConfiguration::for_browser_uploads([origin.as_str()]);
        let server = stowage::testing::TestServer::builder().with_bucket("uploads").with_cors(cors).start().await?;
        let s3 = server.storage()?;
        (Arc::new(s3) as Arc<dyn Storage>, "an S3 server embedded in this demo (s3s-fs)".to_owned(), Some(server))
    };

    let secret = match env("UPLOAD_SECRET") {
        Some(value) => Secret::new(value).map_err(|e| format!("UPLOAD_SECRET: {e}"))?,
        None => {
            println!("UPLOAD_SECRET is not set: a random secret serves this one process (uploads in progress");
            println!("  survive neither a restart nor another instance; set it to share them).");
            Secret::random()
        }
    };
    let uppy_dist = env("UPPY_DIST").map_or_else(|| PathBuf::from("target/uppy"), PathBuf::from);
    // s3s-fs keeps no checksum for a multipart object, so a part-checksummed upload could never be
    // proven there: the embedded server takes multipart uploads without them.
    let part_checksums = match env("UPLOAD_PART_CHECKSUMS").as_deref() {
        Some("on") => true,
        Some("off") => false,
        Some(other) => return Err(format!("UPLOAD_PART_CHECKSUMS must be on or off, not {other:?}").into()),
        None => external,
    };
    let images = match env("UPLOAD_IMAGES").as_deref() {
        Some("on") | None => cfg!(feature = "images"),
        Some("off") => false,
        Some(other) => return Err(format!("UPLOAD_IMAGES must be on or off, not {other:?}").into()),
    };
    if images && !cfg!(feature = "images") {
        return Err("UPLOAD_IMAGES=on needs the images feature: --features axum,images".into());
    }
    // Images: a 256-pixel thumbnail for the list and a 1600-pixel display size, both JPEG.
    #[cfg(feature = "images")]
    let images = images.then(|| {
        use stowage::images::{ImagePolicy, Variant};
        ImagePolicy::new()
            .with_variant(Variant::jpeg("thumb", 256, 80))
            .with_variant(Variant::jpeg("display", 1600, 85))
    });
    let app = Arc::new(App {
        storage: Arc::clone(&storage),
        policy: policy.clone(),
        secret: secret.clone(),
        backend: backend.clone(),
        multipart_threshold,
        concurrency,
        part_checksums,
        uppy_dist,
        #[cfg(feature = "images")]
        images: images.clone(),
    });
    let body_limit = usize::try_from(max_size).unwrap_or(usize::MAX).saturating_add(1024 * 1024);
    let identify = {
        let secret = secret.clone();
        move |parts: Parts| {
            let who = identity(&secret, &parts.headers);
            async move { who }
        }
    };
    let uploads = Uploads::new(storage, policy)
        .with_secret(secret)
        .with_identity(identify)
        .with_max_in_progress(u32::try_from(max_in_progress).unwrap_or(u32::MAX));
    #[cfg(feature = "images")]
    let uploads = match images {
        Some(images) => uploads.with_images(images),
        None => uploads,
    };
    #[cfg(not(feature = "images"))]
    let _ = images;
    let router = Router::new()
        .route("/", get(|State(app): State<Shared>, headers: HeaderMap| async move { page(&app, &headers, PAGE) }))
        .route(
            "/uppy",
            get(|State(app): State<Shared>, headers: HeaderMap| async move { page(&app, &headers, UPPY_PAGE) }),
        )
        .route("/vendor/uppy.min.js", get(uppy_bundle))
        .route("/api/config", get(config))
        .route("/api/upload", post(upload_through_server).layer(DefaultBodyLimit::max(body_limit)))
        .route("/api/files", get(files))
        .route("/api/files/{*key}", get(download))
        .with_state(app)
        .nest("/api", uploads.router());

    println!("Storage: {backend}");
    println!("upload demo: http://{local}  (Uppy: http://{local}/uppy; Ctrl-C to stop)");
    axum::serve(listener, router).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("upload_server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
