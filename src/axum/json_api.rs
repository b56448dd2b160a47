//! The JSON endpoints a page calls (the demo's, or your own).

use ::axum::extract::{Query, State};
use ::axum::http::StatusCode;
use ::axum::response::{IntoResponse, Response};
use ::axum::routing::post;
use ::axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::flow::{self, Caller, Shared};
use super::refusal::Answer;
use crate::constraints::{FileClaim, MultipartTicket, PartLayout};

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/uploads", post(single).delete(cancel_single))
        .route("/uploads/multipart", post(multipart).delete(cancel))
        .route("/uploads/multipart/parts", post(sign_parts).get(stored_parts))
        .route("/uploads/complete", post(complete))
}

async fn single(State(app): State<Shared>, Caller(who): Caller, Json(claim): Json<FileClaim>) -> Answer<Response> {
    let ticket = flow::create_single(&app, &who, &claim).await?;
    Ok((StatusCode::CREATED, Json(ticket)).into_response())
}

/// What a client needs of a multipart ticket (the server keeps the rest).
#[derive(Debug, Serialize)]
struct MultipartView {
    key: String,
    upload_id: String,
    filename: String,
    content_type: String,
    size: Option<u64>,
    part_size: Option<u64>,
    part_count: Option<u32>,
    /// The algorithm of the parts' checksums, when the upload has them.
    part_checksums: Option<&'static str>,
}

impl From<&MultipartTicket> for MultipartView {
    fn from(t: &MultipartTicket) -> Self {
        let (part_size, part_count) = match t.layout {
            PartLayout::Planned { part_size, part_count, .. } => (Some(part_size), Some(part_count)),
            _ => (None, None),
        };
        Self {
            key: t.final_key.clone(),
            upload_id: t.upload.upload_id.to_string(),
            filename: t.filename.clone(),
            content_type: t.content_type.clone(),
            size: t.size(),
            part_size,
            part_count,
            part_checksums: t.upload.checksum.map(|c| c.algorithm.as_str()),
        }
    }
}

async fn multipart(State(app): State<Shared>, Caller(who): Caller, Json(claim): Json<FileClaim>) -> Answer<Response> {
    let ticket = flow::create_multipart(&app, &who, &claim).await?;
    Ok((StatusCode::CREATED, Json(MultipartView::from(&ticket))).into_response())
}

#[derive(Debug, Deserialize)]
struct PartsRequest {
    key: String,
    upload_id: String,
    part_numbers: Vec<u32>,
    /// Each part's checksum (base64 of the upload's algorithm), by part number.
    #[serde(default)]
    checksums: std::collections::BTreeMap<u32, String>,
}

async fn sign_parts(
    State(app): State<Shared>,
    Caller(who): Caller,
    Json(request): Json<PartsRequest>,
) -> Answer<Response> {
    let ticket = flow::multipart(&app, &who, &request.key, &request.upload_id).await?;
    let parts = flow::sign(&app, &ticket, &request.part_numbers, &request.checksums)?;
    Ok(Json(serde_json::json!({ "parts": parts })).into_response())
}

#[derive(Debug, Deserialize)]
struct UploadRef {
    key: String,
    upload_id: String,
}

async fn stored_parts(
    State(app): State<Shared>,
    Caller(who): Caller,
    Query(upload): Query<UploadRef>,
) -> Answer<Response> {
    let ticket = flow::multipart(&app, &who, &upload.key, &upload.upload_id).await?;
    let parts: Vec<serde_json::Value> = ticket
        .stored_parts(app.storage.as_ref())
        .await?
        .into_iter()
        .map(|p| {
            serde_json::json!({
                "part_number": p.number.get(),
                "size": p.size,
                "etag": p.etag,
                "checksum": p.checksum.map(|c| c.to_base64()),
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "parts": parts })).into_response())
}

#[derive(Debug, Deserialize)]
struct KeyRef {
    key: String,
}

async fn cancel_single(
    State(app): State<Shared>,
    Caller(who): Caller,
    Query(upload): Query<KeyRef>,
) -> Answer<Response> {
    flow::cancel_single(&app, &who, &upload.key).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn cancel(State(app): State<Shared>, Caller(who): Caller, Query(upload): Query<UploadRef>) -> Answer<Response> {
    let ticket = flow::multipart(&app, &who, &upload.key, &upload.upload_id).await?;
    flow::cancel(&app, &who, &ticket).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
struct Completion {
    key: String,
    upload_id: Option<String>,
    #[serde(default)]
    parts: Vec<flow::NamedPart>,
}

async fn complete(
    State(app): State<Shared>,
    Caller(who): Caller,
    Json(completion): Json<Completion>,
) -> Answer<Response> {
    let reply = flow::finish(&app, &who, &completion.key, completion.upload_id.as_deref(), &completion.parts).await?;
    Ok(Json(reply).into_response())
}
