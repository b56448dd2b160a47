//! Drop-in upload endpoints for an axum service (feature `axum`): presigned single and multipart
//! uploads under an [`UploadPolicy`], completion with verification (and promotion out of quarantine),
//! and the endpoints Uppy's AWS S3 plugin calls — what `@uppy/companion` is to Node.
//!
//! ```no_run
//! # async fn demo() -> stowage::Result<()> {
//! use std::sync::Arc;
//! use stowage::constraints::UploadPolicy;
//!
//! let storage = Arc::new(stowage::S3Config::from_env()?.build().await?);
//! let policy = UploadPolicy::new("uploads/").with_staging_prefix("staging/").allow_type("image/*")?.with_max_size(5 << 30);
//! let app = axum::Router::new().nest("/api", stowage::axum::uploads(storage, policy));
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! | route | what |
//! |---|---|
//! | `POST /uploads` `{filename, content_type, size}` | a presigned PUT: `{key, method, url, headers, expires_at}` |
//! | `POST /uploads/multipart` `{filename, content_type, size}` | a multipart upload: `{key, upload_id, part_size, part_count, size}` |
//! | `POST /uploads/multipart/parts` `{key, upload_id, part_numbers}` | presigned part URLs, each signing its part's size: `{parts: [{part_number, url, headers}]}` |
//! | `GET /uploads/multipart/parts?key=&upload_id=` | the parts stored so far, to resume: `{parts: [{part_number, size, etag}]}` |
//! | `POST /uploads/complete` `{key, upload_id?, parts?}` | verify, promote, and answer `{key, filename, size, content_type}` |
//! | `DELETE /uploads/multipart?key=&upload_id=` | cancel: abort, nothing kept |
//! | `POST /s3/multipart`, `GET /s3/multipart/{uploadId}/{partNumber}`, `GET …/batch`, `GET /s3/multipart/{uploadId}`, `POST …/complete`, `DELETE /s3/multipart/{uploadId}`, `GET /s3/params` | Uppy's AWS S3 plugin, unchanged (each with `?key=`) |
//!
//! Errors are JSON, `{"error": "<a sentence for the person uploading>", "status": <code>}`, with that
//! status: 4xx for what the client sent (a refused type, a part number outside the plan, an upload id
//! that is not the ticket's, parts missing or forged, a completion replayed), 502 when the storage
//! fails.
//!
//! Uppy's protocol carries no file size: the create request must carry it in the file's metadata
//! (`uppy.setFileMeta(id, { size: file.size })`), and the page's `getChunkSize` must cut the parts the
//! server planned (`max(8 MiB, size / 10,000)` in whole MiB, what [`PartPlan`](crate::multipart::PartPlan)
//! computes). Uppy's single uploads (`/s3/params`, a presigned POST nothing completes) are refused
//! under quarantine and on R2: configure Uppy with `shouldUseMultipart: () => true`.

mod tickets;
mod uppy;

use std::sync::Arc;

use ::axum::extract::{Query, State};
use ::axum::http::StatusCode;
use ::axum::response::{IntoResponse, Response};
use ::axum::routing::post;
use ::axum::{Json, Router};
use serde::{Deserialize, Serialize};

pub use tickets::{MemoryTickets, StoredTicket, TicketStore};

use crate::constraints::{FileClaim, MultipartTicket, UploadPolicy, VerifyOptions, complete_upload};
use crate::multipart::{CompletedPart, PartNumber};
use crate::storage::{ObjectMeta, Storage};
use crate::{Error, S3ErrorCode};

/// What the endpoints share.
pub(super) struct Endpoints {
    pub(super) storage: Arc<dyn Storage>,
    pub(super) policy: UploadPolicy,
    pub(super) tickets: Arc<dyn TicketStore>,
    pub(super) verify: VerifyOptions,
}

pub(super) type Shared = Arc<Endpoints>;

/// The upload endpoints for `storage` under `policy`, keeping tickets in memory and verifying with
/// content sniffing when the `sniff` feature is on. Mount it with `Router::nest`.
pub fn uploads(storage: Arc<dyn Storage>, policy: UploadPolicy) -> Router {
    let verify = VerifyOptions::new().with_delete_on_mismatch(true);
    #[cfg(feature = "sniff")]
    let verify = verify.with_sniff(true);
    uploads_with(storage, policy, Arc::new(MemoryTickets::new()), verify)
}

/// As [`uploads`], with another ticket store and other verification options.
pub fn uploads_with(
    storage: Arc<dyn Storage>,
    policy: UploadPolicy,
    tickets: Arc<dyn TicketStore>,
    verify: VerifyOptions,
) -> Router {
    let shared: Shared = Arc::new(Endpoints { storage, policy, tickets, verify });
    Router::new()
        .route("/uploads", post(single))
        .route("/uploads/multipart", post(multipart).delete(cancel))
        .route("/uploads/multipart/parts", post(sign_parts).get(stored_parts))
        .route("/uploads/complete", post(complete))
        .merge(uppy::routes())
        .with_state(shared)
}

/// An error answer: the status, and a sentence for the person uploading.
#[derive(Debug)]
pub(super) struct Refusal {
    status: StatusCode,
    message: String,
}

impl Refusal {
    pub(super) fn new(status: u16, message: impl Into<String>) -> Self {
        Self { status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), message: message.into() }
    }

    /// A message from a lower layer, as a sentence: capital first letter, final period.
    fn sentence(status: u16, text: &str) -> Self {
        let mut chars = text.chars();
        let mut out: String = chars.next().map(|c| c.to_uppercase().collect::<String>()).unwrap_or_default();
        out.push_str(chars.as_str());
        if !out.ends_with('.') {
            out.push('.');
        }
        Self::new(status, out)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message, "status": self.status.as_u16() });
        (self.status, Json(body)).into_response()
    }
}

impl From<Error> for Refusal {
    fn from(error: Error) -> Self {
        match &error {
            Error::Policy(v) => Self::new(v.http_status(), v.user_message()),
            Error::Mismatch(m) => Self::new(m.http_status(), m.user_message()),
            Error::Multipart(m) => Self::sentence(400, &m.to_string()),
            Error::Signing(e) => Self::sentence(400, &e.to_string()),
            Error::Unsupported { .. } => Self::sentence(400, &error.to_string()),
            _ if error.code() == Some(&S3ErrorCode::NoSuchUpload) => {
                Self::new(404, "This upload is no longer in progress; start it again.")
            }
            _ => Self::new(502, "The storage is unavailable at the moment; try again."),
        }
    }
}

pub(super) type Answer<T> = Result<T, Refusal>;

async fn single(State(app): State<Shared>, Json(claim): Json<FileClaim>) -> Answer<Response> {
    let ticket = app.policy.presign_upload(app.storage.as_ref(), &claim)?;
    app.tickets.save(StoredTicket::Single(ticket.clone())).await?;
    Ok((StatusCode::CREATED, Json(ticket)).into_response())
}

/// What a client needs of a multipart ticket (the server keeps the rest).
#[derive(Debug, Serialize)]
struct MultipartView {
    key: String,
    upload_id: String,
    filename: String,
    content_type: String,
    size: u64,
    part_size: u64,
    part_count: u32,
}

impl From<&MultipartTicket> for MultipartView {
    fn from(t: &MultipartTicket) -> Self {
        Self {
            key: t.final_key.clone(),
            upload_id: t.upload.upload_id.to_string(),
            filename: t.filename.clone(),
            content_type: t.content_type.clone(),
            size: t.size,
            part_size: t.part_size,
            part_count: t.part_count,
        }
    }
}

async fn multipart(State(app): State<Shared>, Json(claim): Json<FileClaim>) -> Answer<Response> {
    let ticket = app.policy.presign_multipart(app.storage.as_ref(), &claim).await?;
    app.tickets.save(StoredTicket::Multipart(ticket.clone())).await?;
    Ok((StatusCode::CREATED, Json(MultipartView::from(&ticket))).into_response())
}

/// The multipart ticket of `key`, if `upload_id` is its upload's.
pub(super) async fn multipart_ticket(app: &Endpoints, key: &str, upload_id: &str) -> Answer<MultipartTicket> {
    match app.tickets.find(key).await? {
        Some(StoredTicket::Multipart(ticket)) if ticket.upload.upload_id.as_str() == upload_id => Ok(ticket),
        Some(StoredTicket::Multipart(_)) => Err(Refusal::new(403, "This upload id is not the one of this upload.")),
        _ => Err(Refusal::new(404, "No upload is in progress for this file; start it again.")),
    }
}

#[derive(Debug, Deserialize)]
struct PartsRequest {
    key: String,
    upload_id: String,
    part_numbers: Vec<u32>,
}

#[derive(Debug, Serialize)]
pub(super) struct SignedPart {
    pub(super) part_number: u32,
    pub(super) url: String,
    pub(super) headers: std::collections::BTreeMap<String, String>,
}

/// Presigned URLs for parts of a ticket, at most 100 at once.
pub(super) fn sign(app: &Endpoints, ticket: &MultipartTicket, numbers: &[u32]) -> Answer<Vec<SignedPart>> {
    if numbers.len() > 100 {
        return Err(Refusal::new(400, "Ask for at most 100 part URLs at a time."));
    }
    numbers
        .iter()
        .map(|&n| {
            let part = PartNumber::new(n).map_err(Error::from)?;
            let url = ticket.presign_part(app.storage.as_ref(), part)?;
            Ok(SignedPart { part_number: n, url: url.url, headers: url.headers })
        })
        .collect()
}

async fn sign_parts(State(app): State<Shared>, Json(request): Json<PartsRequest>) -> Answer<Response> {
    let ticket = multipart_ticket(&app, &request.key, &request.upload_id).await?;
    let parts = sign(&app, &ticket, &request.part_numbers)?;
    Ok(Json(serde_json::json!({ "parts": parts })).into_response())
}

#[derive(Debug, Deserialize)]
struct UploadRef {
    key: String,
    upload_id: String,
}

async fn stored_parts(State(app): State<Shared>, Query(upload): Query<UploadRef>) -> Answer<Response> {
    let ticket = multipart_ticket(&app, &upload.key, &upload.upload_id).await?;
    let parts: Vec<serde_json::Value> = ticket
        .stored_parts(app.storage.as_ref())
        .await?
        .into_iter()
        .map(|p| serde_json::json!({ "part_number": p.number.get(), "size": p.size, "etag": p.etag }))
        .collect();
    Ok(Json(serde_json::json!({ "parts": parts })).into_response())
}

async fn cancel(State(app): State<Shared>, Query(upload): Query<UploadRef>) -> Answer<Response> {
    let ticket = multipart_ticket(&app, &upload.key, &upload.upload_id).await?;
    ticket.cancel(app.storage.as_ref()).await?;
    app.tickets.remove(&ticket.final_key).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
struct NamedPart {
    part_number: u32,
    etag: String,
}

#[derive(Debug, Deserialize)]
struct Completion {
    key: String,
    upload_id: Option<String>,
    #[serde(default)]
    parts: Vec<NamedPart>,
}

/// The object a completion produced, as a client sees it.
pub(super) fn completed(meta: &ObjectMeta, filename: &str) -> serde_json::Value {
    serde_json::json!({
        "key": meta.key,
        "filename": filename,
        "size": meta.size,
        "content_type": meta.content_type,
    })
}

/// Completes the ticket of `key`: verified, promoted, forgotten.
pub(super) async fn finish(
    app: &Endpoints,
    key: &str,
    upload_id: Option<&str>,
    parts: &[(u32, String)],
) -> Answer<(ObjectMeta, String)> {
    let ticket = app.tickets.find(key).await?;
    let (meta, filename) = match (ticket, upload_id) {
        (Some(StoredTicket::Single(ticket)), _) => {
            let result = complete_upload(app.storage.as_ref(), &ticket, &app.verify).await;
            // A verified upload, or one rejected and deleted, is done with: its ticket goes.
            if result.is_ok() || matches!(&result, Err(Error::Mismatch(m)) if m.deleted) {
                app.tickets.remove(key).await?;
            }
            (result?, ticket.filename)
        }
        (Some(StoredTicket::Multipart(_)), Some(id)) => {
            let ticket = multipart_ticket(app, key, id).await?;
            let named = parts
                .iter()
                .map(|(n, etag)| Ok(CompletedPart::new(PartNumber::new(*n).map_err(Error::from)?, etag.clone())))
                .collect::<Answer<Vec<_>>>()?;
            let result = ticket.complete(app.storage.as_ref(), &named, &app.verify).await;
            if result.is_ok() || matches!(&result, Err(Error::Mismatch(m)) if m.deleted) {
                app.tickets.remove(key).await?;
            }
            (result?, ticket.filename)
        }
        (Some(StoredTicket::Multipart(_)), None) => {
            return Err(Refusal::new(400, "A multipart upload is completed with its upload id and its parts."));
        }
        (None, _) => {
            return Err(Refusal::new(404, "No upload is in progress for this file (was it completed already?)."));
        }
    };
    Ok((meta, filename))
}

async fn complete(State(app): State<Shared>, Json(completion): Json<Completion>) -> Answer<Response> {
    let parts: Vec<(u32, String)> = completion.parts.into_iter().map(|p| (p.part_number, p.etag)).collect();
    let (meta, filename) = finish(&app, &completion.key, completion.upload_id.as_deref(), &parts).await?;
    Ok(Json(completed(&meta, &filename)).into_response())
}
