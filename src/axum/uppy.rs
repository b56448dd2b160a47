//! The endpoints Uppy's AWS S3 plugin calls when it is given a server (`companionEndpoint`), backed
//! by the same policy, tickets, owners and quarantine as the JSON endpoints.
//!
//! Uppy sends `key` form-encoded in the query (`+` for a space), reads `key` and `uploadId` from
//! create, only `url` from a part signature, and `location` from completion; when completion is
//! refused it marks the file failed and does not abort, so a refused upload is cancelled here.
//!
//! Uppy's protocol carries no file size: without one in the file's metadata the upload is
//! [`PartLayout::Open`](crate::constraints::PartLayout::Open) — Uppy's own part size, part URLs that
//! sign no length, and every stored part checked at completion (see
//! [`crate::constraints::MultipartTicket`] for what each layout proves). With
//! `uppy.setFileMeta(id, { size })` it is planned, each part's size signed.

use std::collections::BTreeMap;

use ::axum::extract::{Path, Query, State};
use ::axum::http::StatusCode;
use ::axum::response::{IntoResponse, Response};
use ::axum::routing::{get, post};
use ::axum::{Json, Router};
use serde::Deserialize;

use super::flow::{self, Caller, Shared};
use super::refusal::{Answer, Refusal};
use crate::Error;
use crate::constraints::FileClaim;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/s3/multipart", post(create))
        .route("/s3/multipart/{upload_id}", get(list).delete(abort))
        .route("/s3/multipart/{upload_id}/batch", get(batch))
        .route("/s3/multipart/{upload_id}/complete", post(complete))
        .route("/s3/multipart/{upload_id}/{part_number}", get(sign_one))
        .route("/s3/params", get(params))
}

#[derive(Debug, Deserialize)]
struct Create {
    filename: String,
    #[serde(rename = "type", default)]
    content_type: String,
    #[serde(default)]
    metadata: BTreeMap<String, serde_json::Value>,
}

/// The file's size from its metadata (a number, or a number as text), when the page put it there.
fn size_of(metadata: &BTreeMap<String, serde_json::Value>) -> Option<u64> {
    match metadata.get("size")? {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

async fn create(State(app): State<Shared>, Caller(who): Caller, Json(request): Json<Create>) -> Answer<Response> {
    let content_type = if request.content_type.is_empty() {
        request.metadata.get("type").and_then(|t| t.as_str()).unwrap_or_default().to_owned()
    } else {
        request.content_type.clone()
    };
    let claim = match size_of(&request.metadata) {
        Some(size) => FileClaim::new(request.filename, content_type, size),
        None => FileClaim::without_size(request.filename, content_type),
    };
    let ticket = flow::create_multipart(&app, &who, &claim).await?;
    Ok(Json(serde_json::json!({ "key": ticket.final_key, "uploadId": ticket.upload.upload_id.as_str() }))
        .into_response())
}

#[derive(Debug, Deserialize)]
struct KeyQuery {
    key: String,
}

async fn sign_one(
    State(app): State<Shared>,
    Caller(who): Caller,
    Path((upload_id, part_number)): Path<(String, String)>,
    Query(query): Query<KeyQuery>,
) -> Answer<Response> {
    let number: u32 = part_number.parse().map_err(|_| Refusal::new(400, "The part number is not a number."))?;
    let ticket = flow::multipart(&app, &who, &query.key, &upload_id).await?;
    let signed = flow::sign(&app, &ticket, &[number], &BTreeMap::new())?;
    let part = signed.into_iter().next().ok_or_else(|| Refusal::new(400, "No part to sign."))?;
    Ok(Json(serde_json::json!({ "url": part.url, "headers": part.headers })).into_response())
}

#[derive(Debug, Deserialize)]
struct BatchQuery {
    key: String,
    #[serde(rename = "partNumbers")]
    part_numbers: String,
}

async fn batch(
    State(app): State<Shared>,
    Caller(who): Caller,
    Path(upload_id): Path<String>,
    Query(query): Query<BatchQuery>,
) -> Answer<Response> {
    let numbers = query
        .part_numbers
        .split(',')
        .map(|n| n.trim().parse::<u32>().map_err(|_| Refusal::new(400, "The part numbers are not numbers.")))
        .collect::<Answer<Vec<u32>>>()?;
    let ticket = flow::multipart(&app, &who, &query.key, &upload_id).await?;
    let urls: BTreeMap<String, String> = flow::sign(&app, &ticket, &numbers, &BTreeMap::new())?
        .into_iter()
        .map(|p| (p.part_number.to_string(), p.url))
        .collect();
    Ok(Json(serde_json::json!({ "presignedUrls": urls })).into_response())
}

async fn list(
    State(app): State<Shared>,
    Caller(who): Caller,
    Path(upload_id): Path<String>,
    Query(query): Query<KeyQuery>,
) -> Answer<Response> {
    let ticket = flow::multipart(&app, &who, &query.key, &upload_id).await?;
    let parts: Vec<serde_json::Value> = ticket
        .stored_parts(app.storage.as_ref())
        .await?
        .into_iter()
        .map(|p| serde_json::json!({ "PartNumber": p.number.get(), "Size": p.size, "ETag": p.etag }))
        .collect();
    Ok(Json(parts).into_response())
}

#[derive(Debug, Deserialize)]
struct UppyPart {
    #[serde(rename = "PartNumber")]
    part_number: u32,
    #[serde(rename = "ETag")]
    etag: String,
}

#[derive(Debug, Deserialize)]
struct UppyCompletion {
    parts: Vec<UppyPart>,
}

async fn complete(
    State(app): State<Shared>,
    Caller(who): Caller,
    Path(upload_id): Path<String>,
    Query(query): Query<KeyQuery>,
    Json(completion): Json<UppyCompletion>,
) -> Answer<Response> {
    let parts: Vec<flow::NamedPart> = completion
        .parts
        .into_iter()
        .map(|p| flow::NamedPart { part_number: p.part_number, etag: p.etag, checksum: None })
        .collect();
    match flow::finish(&app, &who, &query.key, Some(&upload_id), &parts).await {
        Ok(mut body) => {
            if let Some(key) = body.get("key").cloned() {
                body["location"] = key;
            }
            Ok(Json(body).into_response())
        }
        Err(refusal) => {
            // Uppy marks the file failed and never comes back: a refused upload keeps nothing. (A
            // stored upload whose recording failed stays, with its ticket, to be completed again.)
            if refusal.is_client_error()
                && let Ok(ticket) = flow::multipart(&app, &who, &query.key, &upload_id).await
            {
                let _ = flow::cancel(&app, &who, &ticket).await;
            }
            Err(refusal)
        }
    }
}

async fn abort(
    State(app): State<Shared>,
    Caller(who): Caller,
    Path(upload_id): Path<String>,
    Query(query): Query<KeyQuery>,
) -> Answer<Response> {
    let ticket = flow::multipart(&app, &who, &query.key, &upload_id).await?;
    flow::cancel(&app, &who, &ticket).await?;
    Ok(Json(serde_json::json!({})).into_response())
}

#[derive(Debug, Deserialize)]
struct Params {
    filename: String,
    #[serde(rename = "type", default)]
    content_type: String,
    #[serde(rename = "metadata[size]")]
    size: Option<u64>,
}

/// Uppy's single uploads: a presigned POST form, which nothing completes. Refused when uploads are
/// quarantined (they would never leave staging) and where POST uploads do not exist (R2).
async fn params(State(app): State<Shared>, Caller(who): Caller, Query(params): Query<Params>) -> Answer<Response> {
    if app.policy.staging_prefix().is_some() {
        return Err(Refusal::new(
            400,
            "Single uploads are not verified, so they are not taken here: configure Uppy with \
             shouldUseMultipart: () => true.",
        ));
    }
    if app.must_complete(&params.content_type) {
        return Err(Refusal::new(
            400,
            "Images are made clean when their upload is completed, and single uploads are never completed: \
             configure Uppy with shouldUseMultipart: () => true.",
        ));
    }
    let Some(size) = params.size else {
        return Err(Refusal::new(400, "The file's size is missing: set it in the file's metadata."));
    };
    let claim = FileClaim::new(params.filename, params.content_type, size);
    let (_, post) = flow::presign_post(&app, &who, &claim).map_err(|e| {
        if matches!(e, Error::Unsupported { .. }) {
            Refusal::new(400, format!("{e}; configure Uppy with shouldUseMultipart: () => true"))
        } else {
            Refusal::from(e)
        }
    })?;
    let fields: BTreeMap<String, String> = post.fields.into_iter().collect();
    Ok((
        StatusCode::OK,
        Json(serde_json::json!({ "method": "POST", "url": post.url, "fields": fields, "headers": {} })),
    )
        .into_response())
}
