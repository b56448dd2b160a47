//! The answers of S3: a success read whole or streamed under the request's timeouts, and a refusal
//! read into a [`ServiceError`].

use bytes::Bytes;
use reqwest::header::HeaderMap;

use super::transport::{Progress, Timing, transport_error, watched};
use crate::body::ObjectBody;
use crate::error::ServiceError;
use crate::sigv4::Method;
use crate::wire::{dates, xml};
use crate::{Error, Result};

/// The largest error document read from a failed response.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// A successful answer: status, headers, and the body, read or still to read.
pub(crate) struct Answer {
    pub(crate) status: reqwest::StatusCode,
    pub(crate) headers: HeaderMap,
    pub(super) operation: &'static str,
    pub(super) body: AnswerBody,
}

pub(super) enum AnswerBody {
    Read(Bytes),
    Unread { response: reqwest::Response, progress: Progress, timing: Timing },
}

impl Answer {
    /// A header as text.
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }

    /// The body read within the attempt ([`Call::read_body`]); empty otherwise.
    pub(crate) fn body(&self) -> &[u8] {
        match &self.body {
            AnswerBody::Read(bytes) => bytes,
            AnswerBody::Unread { .. } => &[],
        }
    }

    /// The `<Error>` document this answer's body is, if it is one.
    pub(super) fn error_document(&self) -> Option<ServiceError> {
        let text = std::str::from_utf8(self.body()).ok()?;
        let root = xml::parse(text).ok()?;
        if root.name != "Error" {
            return None;
        }
        let mut error = ServiceError::from_response(self.operation, self.status.as_u16(), self.body());
        // A 200 with an error document says nothing by its status; the code does.
        error.request_id = error.request_id.or_else(|| self.header("x-amz-request-id"));
        Some(error)
    }

    /// The body as a stream, still under the request's idle timeout and deadline.
    pub(crate) fn into_object_body(self) -> ObjectBody {
        let operation = self.operation;
        match self.body {
            AnswerBody::Read(bytes) => ObjectBody::new(futures_util::stream::iter([Ok(bytes)])),
            AnswerBody::Unread { response, progress, timing } => {
                let state = Some((response, progress, timing));
                ObjectBody::new(futures_util::stream::unfold(state, move |state| async move {
                    let (mut response, progress, timing) = state?;
                    match next_chunk(&mut response, &progress, &timing, operation).await {
                        Ok(Some(chunk)) => Some((Ok(chunk), Some((response, progress, timing)))),
                        Ok(None) => None,
                        Err(e) => Some((Err(e), None)),
                    }
                }))
            }
        }
    }
}

/// The next chunk of a response, under the idle timeout and the deadline.
async fn next_chunk(
    response: &mut reqwest::Response,
    progress: &Progress,
    timing: &Timing,
    operation: &'static str,
) -> Result<Option<Bytes>> {
    match watched(response.chunk(), progress, timing).await {
        Ok(Ok(chunk)) => {
            progress.touch();
            Ok(chunk)
        }
        Ok(Err(e)) => Err(transport_error(operation, &e)),
        Err(stall) => Err(stall.into_error(operation, "reading the response")),
    }
}

/// Why reading a whole response failed.
pub(super) enum ReadFailure {
    /// The connection broke or stalled: worth another attempt.
    Transport(Error),
    /// More than the limit: not worth one.
    TooLarge(Error),
}

/// Reads a whole response, refusing more than `limit` bytes.
pub(super) async fn read_all(
    mut response: reqwest::Response,
    limit: usize,
    progress: &Progress,
    timing: &Timing,
    operation: &'static str,
) -> Result<Bytes, ReadFailure> {
    let mut out = bytes::BytesMut::new();
    while let Some(chunk) =
        next_chunk(&mut response, progress, timing, operation).await.map_err(ReadFailure::Transport)?
    {
        if out.len() + chunk.len() > limit {
            return Err(ReadFailure::TooLarge(Error::InvalidResponse {
                operation,
                reason: format!("the answer is larger than the {limit} bytes expected of it"),
            }));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}

/// Reads a failed response into a [`ServiceError`].
pub(super) async fn service_error(
    operation: &'static str,
    method: Method,
    response: reqwest::Response,
    progress: &Progress,
    timing: &Timing,
) -> ServiceError {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let server_date = text("date").and_then(|d| dates::parse_http_date(&d));
    let retry_after =
        text("retry-after").and_then(|v| v.trim().parse::<u64>().ok()).map(std::time::Duration::from_secs);
    let header_request_id = text("x-amz-request-id");
    // An error document that is cut short, stalls or is too large is read as no document: the
    // status still says what happened.
    let body = if method == Method::Head {
        Bytes::new()
    } else {
        read_all(response, MAX_ERROR_BODY, progress, timing, operation).await.unwrap_or_default()
    };
    let mut error = ServiceError::from_response(operation, status, &body);
    error.request_id = error.request_id.or(header_request_id);
    error.server_date = server_date;
    error.retry_after = retry_after;
    error
}
