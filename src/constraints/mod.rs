//! Upload guardrails (feature `constraints`): constrain presigned uploads, and verify what landed.
//!
//! Presigned URLs trust the client. Unconstrained, a user uploads a 5 GB executable as
//! `profile.jpg`. The two guardrails the field recommends, made one API:
//!
//! 1. **Before**: an [`UploadPolicy`] checks the client's claims (type allowed, size within the
//!    limit, not empty) and presigns a PUT that **signs the exact Content-Type and Content-Length**
//!    ([`UploadPolicy::presign_upload`]): S3 or R2 itself then refuses an upload of another type or
//!    size. The key is built by the server from the file name ([`safe_key`]), never taken from the
//!    client.
//! 2. **After**: when the client says it is done, [`verify_upload`] HEADs the object and checks that
//!    it exists with the signed size and type; with the `sniff` feature it also reads the first bytes
//!    and checks them against the declared type's signature. A mismatch can delete the object.
//!
//! For HTML forms, [`UploadPolicy::presign_post`] makes a presigned POST whose policy S3 enforces
//! (`content-length-range`, `starts-with` on the key, exact content type); Cloudflare R2 has no POST
//! uploads and answers with [`Error::Unsupported`](crate::Error::Unsupported).
//!
//! ## Constraining browser uploads, in an axum handler
//!
//! ```no_run
//! use std::sync::Arc;
//! use axum::{Json, extract::State, http::StatusCode};
//! use stowage::constraints::{FileClaim, UploadPolicy, UploadTicket, VerifyOptions, verify_upload};
//! use stowage::{Error, Storage};
//!
//! #[derive(Clone)]
//! struct App { storage: Arc<dyn Storage>, policy: UploadPolicy }
//!
//! /// POST /api/upload-url {filename, content_type, size} → {key, method, url, headers, expires_at},
//! /// or a 4xx saying why not.
//! async fn upload_url(State(app): State<App>, Json(claim): Json<FileClaim>)
//!     -> Result<Json<UploadTicket>, (StatusCode, String)>
//! {
//!     app.policy
//!         .presign_upload(app.storage.as_ref(), &claim)
//!         .map(Json)
//!         .map_err(|e| match &e {
//!             Error::Policy(v) => (StatusCode::from_u16(v.http_status()).unwrap_or(StatusCode::BAD_REQUEST), v.to_string()),
//!             _ => (StatusCode::INTERNAL_SERVER_ERROR, "storage unavailable".into()),
//!         })
//! }
//!
//! /// After the browser's PUT: check what landed (the ticket comes from your session or database).
//! async fn complete(app: &App, ticket: &UploadTicket) -> Result<(), (StatusCode, String)> {
//!     let options = VerifyOptions::new().with_delete_on_mismatch(true);
//!     match verify_upload(app.storage.as_ref(), ticket, &options).await {
//!         Ok(_) => Ok(()),
//!         Err(Error::Mismatch(m)) => Err((StatusCode::from_u16(m.http_status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY), m.to_string())),
//!         Err(_) => Err((StatusCode::BAD_GATEWAY, "storage unavailable".into())),
//!     }
//! }
//! # fn main() {
//! #     let policy = UploadPolicy::new("uploads/").allow_type("image/*").unwrap().with_max_size(10 << 20);
//! #     let _ = axum::Router::<App>::new().route("/api/upload-url", axum::routing::post(upload_url));
//! # }
//! ```

mod claims;
mod complete;
#[cfg(feature = "images")]
pub(crate) mod images;
mod key;
mod multipart_ticket;
mod policy;
mod verify;
mod words;

pub use claims::{FileClaim, PolicyViolation, TypePattern};
pub use complete::complete_upload;
#[cfg(feature = "images")]
#[cfg_attr(docsrs, doc(cfg(feature = "images")))]
pub use images::{StoredVariant, delete_upload, sanitize_object, stored_variants};
pub use key::{MAX_NAME_BYTES, MAX_NAME_CHARS, safe_key, sanitize_filename, unique_id};
pub use multipart_ticket::{MultipartTicket, PartLayout};
pub use policy::{UploadPolicy, UploadTicket};
pub use verify::{Mismatch, PartProblem, UploadMismatch, VerifyOptions, verify_upload};
pub use words::{pattern_in_words, type_in_words};
