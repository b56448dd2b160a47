//! Error answers: JSON, a status, and a sentence for the person uploading.

use ::axum::Json;
use ::axum::http::StatusCode;
use ::axum::response::{IntoResponse, Response};

use crate::{Error, S3ErrorCode};

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
    pub(super) fn sentence(status: u16, text: &str) -> Self {
        let mut chars = text.chars();
        let mut out: String = chars.next().map(|c| c.to_uppercase().collect::<String>()).unwrap_or_default();
        out.push_str(chars.as_str());
        if !out.ends_with('.') {
            out.push('.');
        }
        Self::new(status, out)
    }

    /// What everyone but the owner hears of an upload, and anyone of an upload that does not exist:
    /// the same words, so that an upload's existence does not leak.
    pub(super) fn unknown() -> Self {
        Self::new(404, "No upload is in progress for this file (was it completed already?); start it again.")
    }

    /// Whether the client's request was refused (4xx), not the service unable to serve it.
    pub(super) fn is_client_error(&self) -> bool {
        self.status.is_client_error()
    }

    /// A completion whose object is stored but whose hook failed: send it again.
    pub(super) fn unrecorded() -> Self {
        Self::new(503, "The file was stored, but this service could not record it yet; send the completion again.")
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
            _ => {
                crate::trace::event!(
                    warn,
                    kind = error.kind(),
                    status = error.status(),
                    "the storage failed an upload request"
                );
                Self::new(502, "The storage is unavailable at the moment; try again.")
            }
        }
    }
}

/// What a handler answers.
pub(super) type Answer<T> = Result<T, Refusal>;
