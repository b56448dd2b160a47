//! The upload demo: a small web app (axum) where a browser uploads straight to S3/R2 through presigned
//! URLs, with CORS that works.
//!
//! ```text
//! cargo run --example upload_server --features constraints,sniff,serde
//! # then open http://127.0.0.1:3000
//! ```
//!
//! Routes:
//! - `GET /`: the page (plain JS, no build step): file picker, progress bar, errors in words, the
//!   uploaded files with download links;
//! - `POST /api/upload-url`: `{filename, content_type, size}` → `{key, method, url, headers, …}`, the
//!   recommended pattern: an upload policy checks the claims and presigns a PUT signing the exact type
//!   and size;
//! - `POST /api/upload`: the server-side pattern: a multipart form (`size`, then `file`) streamed to
//!   `put_object` with bounded memory and a size limit;
//! - `POST /api/uploads/{key}/complete`: verification after the browser's upload;
//! - `GET /api/files`: the uploaded files; `GET /api/files/{key}`: a redirect to a presigned GET that
//!   saves under the original name.
//!
//! With no `S3_*` configuration it runs on an embedded s3s-fs server with a CORS layer answering
//! preflights as S3/R2 do for the page's origin. With `S3_BUCKET`, `S3_REGION`, `S3_ENDPOINT`,
//! `S3_ACCESS_KEY_ID`, `S3_SECRET_ACCESS_KEY` it uses that bucket, checks its CORS for the page's
//! origin at start-up, and with `--setup-cors` writes the rule. Other settings: `UPLOAD_ADDR`
//! (default `127.0.0.1:3000`), `UPLOAD_ORIGIN` (default `http://<addr>`), `UPLOAD_MAX_BYTES` (default
//! 10 MiB), `UPLOAD_TYPES` (default `image/*,application/pdf,text/plain`).

#[path = "support/embedded_s3.rs"]
mod embedded_s3;

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use stowage::constraints::{UploadPolicy, UploadTicket, VerifyOptions, safe_key, verify_upload};
use stowage::{
    Body, CorsConfiguration, Credentials, Error, GetOptions, ListOptions, PutOptions, S3Config, S3Storage, Storage,
};

const PAGE: &str = include_str!("static/upload.html");

struct App {
    storage: Arc<dyn Storage>,
    policy: UploadPolicy,
    /// Presigned uploads not yet completed (a real app keeps them in its database or session).
    tickets: Mutex<HashMap<String, UploadTicket>>,
    backend: String,
}

type Shared = Arc<App>;

fn fail(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// The HTTP answer for an error of the storage layer: the client's fault in words, or a 502.
fn storage_failure(error: &Error) -> Response {
    match error {
        Error::Policy(v) => {
            fail(StatusCode::from_u16(v.http_status()).unwrap_or(StatusCode::BAD_REQUEST), v.to_string())
        }
        Error::Mismatch(m) => {
            fail(StatusCode::from_u16(m.http_status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY), m.to_string())
        }
        Error::Signing(e) => fail(StatusCode::BAD_REQUEST, e.to_string()),
        Error::Unsupported { .. } => fail(StatusCode::BAD_REQUEST, error.to_string()),
        other => {
            eprintln!("storage error: {other}");
            fail(StatusCode::BAD_GATEWAY, "the storage is unavailable; try again")
        }
    }
}

#[derive(Deserialize)]
struct UploadRequest {
    filename: String,
    content_type: String,
    size: u64,
}

async fn upload_url(State(app): State<Shared>, Json(request): Json<UploadRequest>) -> Response {
    match app.policy.presign_upload(app.storage.as_ref(), &request.filename, &request.content_type, request.size) {
        Ok(ticket) => {
            if let Ok(mut tickets) = app.tickets.lock() {
                tickets.insert(ticket.key.clone(), ticket.clone());
            }
            Json(ticket).into_response()
        }
        Err(e) => storage_failure(&e),
    }
}

async fn complete(State(app): State<Shared>, Path(key): Path<String>) -> Response {
    let ticket = app.tickets.lock().ok().and_then(|t| t.get(&key).cloned());
    let Some(ticket) = ticket else {
        return fail(StatusCode::NOT_FOUND, "no upload was presigned for this key");
    };
    let options = VerifyOptions::new().delete_on_mismatch(true);
    #[cfg(feature = "sniff")]
    let options = options.sniff(true);
    match verify_upload(app.storage.as_ref(), &ticket, &options).await {
        Ok(meta) => {
            if let Ok(mut tickets) = app.tickets.lock() {
                tickets.remove(&key);
            }
            Json(json!({ "key": meta.key, "size": meta.size, "content_type": meta.content_type })).into_response()
        }
        Err(e) => storage_failure(&e),
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

/// The server-side pattern: the form's `size` field, then its `file`, streamed to the bucket.
async fn upload_through_server(State(app): State<Shared>, mut form: Multipart) -> Response {
    let mut declared: Option<u64> = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => return fail(StatusCode::BAD_REQUEST, "the form has no file field"),
            Err(e) => return fail(StatusCode::BAD_REQUEST, format!("unreadable form: {e}")),
        };
        match field.name() {
            Some("size") => declared = field.text().await.ok().and_then(|t| t.trim().parse().ok()),
            Some("file") => {
                let Some(size) = declared else {
                    return fail(StatusCode::LENGTH_REQUIRED, "send the size field before the file");
                };
                let filename = field.file_name().unwrap_or("upload").to_owned();
                let content_type = field.content_type().unwrap_or("application/octet-stream").to_owned();
                if let Err(v) = app.policy.check(&filename, &content_type, size) {
                    return storage_failure(&Error::Policy(v));
                }
                let key = safe_key(app.policy.key_prefix(), &filename);
                // Chunks go from the request to the bucket through a small channel: memory stays bounded.
                let (sender, receiver) = tokio::sync::mpsc::channel(4);
                let body = Body::from_stream(channel_stream(receiver), size);
                let options = PutOptions::new().content_type(content_type.as_str());
                let upload = app.storage.put_object(&key, body, &options);
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
                return match result {
                    Ok(_) => Json(json!({ "key": key, "size": size, "content_type": content_type })).into_response(),
                    Err(Error::Io { .. }) => {
                        fail(StatusCode::BAD_REQUEST, "the file is not the size that was declared")
                    }
                    Err(e) => storage_failure(&e),
                };
            }
            _ => {}
        }
    }
}

async fn files(State(app): State<Shared>) -> Response {
    let mut out = Vec::new();
    let mut options = ListOptions::new();
    loop {
        let page = match app.storage.list_objects(app.policy.key_prefix(), &options).await {
            Ok(page) => page,
            Err(e) => return storage_failure(&e),
        };
        for object in page.objects {
            let filename = object.key.rsplit('/').next().unwrap_or_default().to_owned();
            out.push(json!({ "key": object.key, "filename": filename, "size": object.size }));
        }
        match page.next_continuation_token {
            Some(token) => options = ListOptions::new().after(token),
            None => break,
        }
    }
    Json(out).into_response()
}

async fn download(State(app): State<Shared>, Path(key): Path<String>) -> Response {
    if !key.starts_with(app.policy.key_prefix()) {
        return fail(StatusCode::NOT_FOUND, "no such file");
    }
    let filename = key.rsplit('/').next().unwrap_or("download");
    match app.storage.presign_get(&key, &GetOptions::new().attachment(filename), Duration::from_secs(300)) {
        Ok(url) => Redirect::to(&url.url).into_response(),
        Err(e) => storage_failure(&e),
    }
}

async fn config(State(app): State<Shared>) -> Response {
    let types: Vec<String> = app.policy.allowed_types().iter().map(ToString::to_string).collect();
    Json(json!({ "backend": app.backend, "allowed_types": types, "max_size": app.policy.max_size_bytes() }))
        .into_response()
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let addr = env("UPLOAD_ADDR").unwrap_or_else(|| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr()?;
    let origin = env("UPLOAD_ORIGIN").unwrap_or_else(|| format!("http://{local}"));
    let max_size: u64 = match env("UPLOAD_MAX_BYTES") {
        Some(v) => v.parse().map_err(|_| format!("UPLOAD_MAX_BYTES must be a number of bytes, not {v:?}"))?,
        None => 10 * 1024 * 1024,
    };
    let mut policy = UploadPolicy::new("uploads/").max_size(max_size).expires_in(Duration::from_secs(600));
    for pattern in env("UPLOAD_TYPES").unwrap_or_else(|| "image/*,application/pdf,text/plain".into()).split(',') {
        policy = policy.allow_type(pattern.trim())?;
    }

    let (storage, backend, _embedded) = if env("S3_BUCKET").is_some() {
        let s3 = S3Storage::from_env()?;
        let backend = format!("{}, bucket {} at {}", s3.provider(), s3.bucket(), s3.address().authority());
        if std::env::args().any(|a| a == "--setup-cors") {
            s3.put_bucket_cors(&CorsConfiguration::for_browser_uploads([origin.as_str()])).await?;
            println!("CORS: wrote a rule allowing PUT, GET and HEAD from {origin}");
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
        let server = embedded_s3::EmbeddedS3::start_with_cors("uploads", Some(cors)).await?;
        let s3 = S3Config::new(
            server.bucket.as_str(),
            server.region,
            Credentials::new(server.access_key.as_str(), server.secret_key.as_str()),
        )
        .with_endpoint(server.endpoint.as_str())
        .build()?;
        let backend = format!("embedded S3 server (s3s-fs) at {}, CORS for {origin}", server.endpoint);
        (Arc::new(s3) as Arc<dyn Storage>, backend, Some(server))
    };

    let app = Arc::new(App { storage, policy, tickets: Mutex::new(HashMap::new()), backend: backend.clone() });
    let body_limit = usize::try_from(max_size).unwrap_or(usize::MAX).saturating_add(1024 * 1024);
    let router = Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/api/config", get(config))
        .route("/api/upload-url", post(upload_url))
        .route("/api/upload", post(upload_through_server).layer(DefaultBodyLimit::max(body_limit)))
        .route("/api/uploads/{key}/complete", post(complete))
        .route("/api/files", get(files))
        .route("/api/files/{key}", get(download))
        .with_state(app);

    println!("Storage: {backend}");
    println!("upload demo: http://{local}  (open it in your browser; Ctrl-C to stop)");
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
