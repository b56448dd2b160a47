//! Sending one S3 request: signing each attempt, retrying, correcting the clock, reading errors.

use std::borrow::Cow;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::transport::{Stall, Timing, transport_error, watched};
use super::{S3Storage, dates, xml};
use crate::body::{Body, ObjectBody, Progress, find_body_failure};
use crate::error::{S3ErrorCode, ServiceError};
use crate::sigv4::{Method, Payload, Request, redact_token};
use crate::storage::{ObjectList, ObjectMeta};
use crate::{Error, Result};

/// The largest error document read from a failed response.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// One S3 operation, before signing.
pub(crate) struct Call<'a> {
    operation: &'static str,
    method: Method,
    /// `None`: a request to the bucket itself.
    key: Option<&'a str>,
    query: Vec<(&'a str, Cow<'a, str>)>,
    headers: Vec<(&'a str, Cow<'a, str>)>,
    body: Option<&'a Body>,
    /// A 404 is an answer, not an error (HEAD of a missing object).
    accept_not_found: bool,
    /// Read the whole answer (at most this many bytes) as part of each attempt, so that an answer
    /// cut short is retried like a failed request.
    read_limit: Option<usize>,
    /// A 200 answer may carry an `<Error>` document instead of a result.
    error_in_body: bool,
}

impl<'a> Call<'a> {
    pub(crate) fn new(operation: &'static str, method: Method, key: Option<&'a str>) -> Self {
        Self {
            operation,
            method,
            key,
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            accept_not_found: false,
            read_limit: None,
            error_in_body: false,
        }
    }

    pub(crate) fn query(mut self, query: Vec<(&'a str, Cow<'a, str>)>) -> Self {
        self.query.extend(query);
        self
    }

    pub(crate) fn headers(mut self, headers: Vec<(&'a str, Cow<'a, str>)>) -> Self {
        self.headers.extend(headers);
        self
    }

    pub(crate) fn body(mut self, body: &'a Body) -> Self {
        self.body = Some(body);
        self
    }

    pub(crate) fn accept_not_found(mut self) -> Self {
        self.accept_not_found = true;
        self
    }

    /// Reads the answer's body (at most `limit` bytes) within each attempt.
    pub(crate) fn read_body(mut self, limit: usize) -> Self {
        self.read_limit = Some(limit);
        self
    }

    /// Reads the answer's body (at most `limit` bytes) within each attempt, and takes an `<Error>`
    /// document in a 200 answer for what it is.
    pub(crate) fn read_result(mut self, limit: usize) -> Self {
        self.read_limit = Some(limit);
        self.error_in_body = true;
        self
    }
}

/// A successful answer: status, headers, and the body, read or still to read.
pub(crate) struct Answer {
    pub(crate) status: reqwest::StatusCode,
    pub(crate) headers: HeaderMap,
    operation: &'static str,
    body: AnswerBody,
}

enum AnswerBody {
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
    fn error_document(&self) -> Option<ServiceError> {
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
enum ReadFailure {
    /// The connection broke or stalled: worth another attempt.
    Transport(Error),
    /// More than the limit: not worth one.
    TooLarge(Error),
}

/// Reads a whole response, refusing more than `limit` bytes.
async fn read_all(
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

/// How the path of a key with `.` or `..` segments is put on the wire. HTTP clients built on the
/// WHATWG URL rules (reqwest among them) remove such segments, so the key's slashes are sent as
/// `%2F`, which keeps every segment intact. Servers differ in how they canonicalise such a path: most
/// (AWS, MinIO, s3s) decode it and encode it again, some (Garage) sign the path as received. The
/// first attempt signs the decoded form; after `SignatureDoesNotMatch` the second signs the path as
/// sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PathForm {
    Decoded,
    AsSent,
}

impl S3Storage {
    /// Sends `call`, retrying as the policy allows, and returns the successful answer. With the
    /// `tracing` feature, in a span `s3` with the operation, the bucket, the attempts, the final
    /// status and the duration.
    pub(crate) async fn execute(&self, call: &Call<'_>) -> Result<Answer> {
        #[cfg(feature = "tracing")]
        {
            use tracing::Instrument as _;
            let span = tracing::info_span!(
                target: "stowage",
                "s3",
                operation = call.operation,
                bucket = %self.bucket(),
                attempt = tracing::field::Empty,
                status = tracing::field::Empty,
                duration_ms = tracing::field::Empty,
            );
            let started = std::time::Instant::now();
            let result = self.attempts(call).instrument(span.clone()).await;
            span.record("duration_ms", u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
            match &result {
                Ok(answer) => {
                    span.record("status", answer.status.as_u16());
                }
                Err(e) => {
                    if let Some(status) = e.status() {
                        span.record("status", status);
                    }
                    // The kind and code only: some messages hold the key and canonical requests.
                    let code = e.code().map(S3ErrorCode::as_str);
                    tracing::debug!(target: "stowage", parent: &span, kind = e.kind(), code, "request failed");
                }
            }
            result
        }
        #[cfg(not(feature = "tracing"))]
        self.attempts(call).await
    }

    /// [`execute`](Self::execute) without its span.
    async fn attempts(&self, call: &Call<'_>) -> Result<Answer> {
        let retry = self.inner.retry;
        let timing = Timing::start(self.inner.idle_timeout, self.inner.timeout);
        let replayable = call.body.is_none_or(Body::is_replayable);
        let payload_hash = call.body.and_then(|b| b.as_bytes()).filter(|_| self.inner.sign_payloads).map(|bytes| {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(bytes))
        });
        let body_len = call.body.map_or(0, Body::len);
        let mut attempt: u32 = 0;
        let mut clock_corrected = false;
        let mut credentials_renewed = false;
        let mut form = PathForm::Decoded;
        loop {
            attempt += 1;
            #[cfg(feature = "tracing")]
            tracing::Span::current().record("attempt", attempt);
            let at = self.now();
            let (request, url) = self.build(call, form, payload_hash.as_deref())?;
            let signer = self.inner.signing.for_request(at).await?;
            let auth = signer.sign(&request, at)?;

            let method = reqwest::Method::from_bytes(call.method.as_str().as_bytes())
                .map_err(|_| Error::Config(format!("unsupported method {}", call.method)))?;
            let mut builder = self.inner.http.request(method, url);
            for (name, value) in request.headers() {
                builder = with_header(builder, name, value)?;
            }
            for (name, value) in &auth {
                builder = with_header(builder, name, value)?;
            }
            let progress = Progress::start(body_len);
            if let Some(body) = call.body {
                let sent = body
                    .for_attempt(&progress)
                    .await
                    .map_err(|e| Error::Io { operation: call.operation, source: e })?;
                builder = builder.body(sent);
            }

            let retries_left = attempt < retry.max_attempts.max(1) && replayable;
            // Waits before the next attempt, unless that would pass the deadline.
            let backoff = |delay: std::time::Duration, reason: &str| {
                let go_on = retries_left && !timing.would_pass_deadline(delay);
                if go_on {
                    crate::trace::event!(
                        info,
                        operation = call.operation,
                        attempt,
                        backoff_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        reason,
                        "retrying"
                    );
                } else {
                    let _ = reason;
                }
                async move {
                    if go_on {
                        tokio::time::sleep(delay).await;
                    }
                    go_on
                }
            };
            let outcome = match watched(builder.send(), &progress, &timing).await {
                Ok(outcome) => outcome,
                Err(stall) => {
                    let phase = if progress.sent() < body_len {
                        format!("the server took {} of the {body_len} bytes of the body, then no more", progress.sent())
                    } else {
                        "waiting for the answer".to_owned()
                    };
                    let error = stall.into_error(call.operation, &phase);
                    if matches!(stall, Stall::Idle(_)) && backoff(retry.delay(attempt), "the connection stalled").await
                    {
                        continue;
                    }
                    return Err(error);
                }
            };
            let mut error = match outcome {
                Ok(response)
                    if response.status().is_success()
                        || (call.accept_not_found && response.status() == reqwest::StatusCode::NOT_FOUND) =>
                {
                    progress.touch();
                    let status = response.status();
                    let headers = response.headers().clone();
                    let body = match call.read_limit {
                        None => AnswerBody::Unread { response, progress, timing },
                        Some(limit) => match read_all(response, limit, &progress, &timing, call.operation).await {
                            Ok(bytes) => AnswerBody::Read(bytes),
                            Err(ReadFailure::TooLarge(e)) => return Err(e),
                            Err(ReadFailure::Transport(e)) => {
                                if backoff(retry.delay(attempt), "the answer was cut short").await {
                                    continue;
                                }
                                return Err(e);
                            }
                        },
                    };
                    let answer = Answer { status, headers, operation: call.operation, body };
                    // Some operations (CompleteMultipartUpload, CopyObject, UploadPartCopy) can
                    // answer 200 and then an error document: that is an error, never a success.
                    match answer.error_document() {
                        Some(error) if call.error_in_body => error,
                        _ => return Ok(answer),
                    }
                }
                Ok(response) => {
                    progress.touch();
                    service_error(call.operation, call.method, response, &progress, &timing).await
                }
                Err(e) => {
                    // A body that could not be read or did not hold its length is the caller's, not
                    // the network's: no retry.
                    if let Some(failure) = find_body_failure(&e) {
                        return Err(failure.into_error(call.operation));
                    }
                    let retryable = e.is_connect() || e.is_timeout() || e.is_request();
                    if retryable && backoff(retry.delay(attempt), &transport_reason(&e)).await {
                        continue;
                    }
                    return Err(transport_error(call.operation, &e));
                }
            };
            if let Some(server) = error.server_date.filter(|_| is_clock_skew(&error, at))
                && !clock_corrected
                && replayable
                && self.set_clock_skew(server)
            {
                crate::trace::event!(
                    warn,
                    operation = call.operation,
                    skew_ms = self.clock_skew().whole_milliseconds(),
                    "this machine's clock disagrees with the server's: corrected, and the request sent again"
                );
                clock_corrected = true;
                attempt -= 1;
                continue;
            }
            let signature_refused = error.code == S3ErrorCode::SignatureDoesNotMatch || error.status == 403;
            if signature_refused && form == PathForm::Decoded && self.needs_wire_form(call) && replayable {
                crate::trace::event!(
                    debug,
                    operation = call.operation,
                    "signature refused for a key with dot segments: signing the path as sent"
                );
                form = PathForm::AsSent;
                attempt -= 1;
                continue;
            }
            // Rotating credentials the server no longer knows (revoked early, a key deleted in a
            // rotation): once, with the provider's current ones, if they differ.
            if replayable
                && !credentials_renewed
                && is_credentials_rejection(&error)
                && self.inner.signing.after_rejection(signer.generation()).await
            {
                crate::trace::event!(
                    info,
                    operation = call.operation,
                    code = error.code.as_str(),
                    "the server refused the credentials; sending again with the provider's new ones"
                );
                credentials_renewed = true;
                attempt -= 1;
                continue;
            }
            if error.is_retryable() {
                let delay = retry.delay(attempt).max(error.retry_after.unwrap_or_default().min(retry.max_delay));
                if backoff(delay, &format!("{} {}", error.status, error.code.as_str())).await {
                    continue;
                }
            }
            if error.code == S3ErrorCode::SignatureDoesNotMatch {
                error.client_canonical_request = signer
                    .sign_explained(&request, at)
                    .ok()
                    .map(|(_, details)| redact_token(details.canonical_request()));
            }
            return Err(error.into());
        }
    }

    /// Whether the key of `call` has `.` or `..` segments, which an HTTP client would remove.
    fn needs_wire_form(&self, call: &Call<'_>) -> bool {
        call.key.is_some_and(|key| key.split('/').any(|segment| segment == "." || segment == ".."))
    }

    /// The request to sign for one attempt, and the URL to send it to.
    fn build<'s>(
        &'s self,
        call: &'s Call<'_>,
        form: PathForm,
        payload_hash: Option<&'s str>,
    ) -> Result<(Request<'s>, reqwest::Url)> {
        let address = &self.inner.address;
        let mut request = match call.key {
            Some(key) => address.object(call.method, key)?,
            None => address.bucket_request(call.method),
        };
        let wire_path = match call.key {
            Some(key) if self.needs_wire_form(call) => {
                if key == "." || key == ".." {
                    return Err(Error::Unsupported {
                        backend: "stowage's HTTP client",
                        what: format!("the key {key:?}"),
                        reason: "a key that is only a dot segment cannot be put in a URL that HTTP clients keep",
                    });
                }
                // The key's own slashes as %2F: its `.`/`..` segments stay inside one URL segment.
                let plain = address.object_path(key)?;
                let prefix_len = plain.len() - crate::sigv4::encode_path(key).len();
                let (prefix, encoded_key) = plain.split_at(prefix_len);
                Some(format!("{prefix}{}", encoded_key.replace('/', "%2F")))
            }
            _ => None,
        };
        if let (Some(wire), PathForm::AsSent) = (&wire_path, form) {
            request = Request::new(call.method, address.scheme(), address.authority(), wire.clone());
        }
        for (name, value) in &call.query {
            request = request.query(*name, value.as_ref());
        }
        for (name, value) in &call.headers {
            request = request.header(*name, value.as_ref());
        }
        request = request.payload(match (call.body, payload_hash) {
            (Some(_), Some(hash)) => Payload::Sha256Hex(hash),
            (Some(_), None) => Payload::Unsigned,
            (None, _) => Payload::EMPTY,
        });
        let url_text = match &wire_path {
            Some(wire) => {
                let signed = request.url();
                let query = signed.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
                format!("{}://{}{wire}{query}", address.scheme().as_str(), address.authority())
            }
            None => request.url(),
        };
        let url = reqwest::Url::parse(&url_text)
            .map_err(|e| Error::Config(format!("the request URL cannot be parsed ({e}); check the endpoint")))?;
        let sent_path = wire_path.as_deref().unwrap_or(request.path());
        if url.path() != sent_path {
            return Err(Error::Unsupported {
                backend: "stowage's HTTP client",
                what: "this key".into(),
                reason: "its URL path would be rewritten by the HTTP client, which would break the signature",
            });
        }
        Ok((request, url))
    }
}

/// What kind of transport failure `e` is, for a retry event (no URL).
fn transport_reason(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "the connection failed".into()
    } else if e.is_timeout() {
        "timed out".into()
    } else {
        "the connection broke".into()
    }
}

/// Whether the server may have refused the credentials themselves: an unknown key
/// (`InvalidAccessKeyId`; some servers, Garage among them, say `AccessDenied` for a deleted key), an
/// expired or invalid session token. With rotating credentials this asks the provider for its current
/// ones; the request is sent again only if they differ (and a provider that keeps answering the same
/// ones is not asked again for this reason for a few seconds), so a genuine permission error costs at
/// most one fetch every few seconds.
fn is_credentials_rejection(error: &ServiceError) -> bool {
    matches!(error.code, S3ErrorCode::InvalidAccessKeyId | S3ErrorCode::ExpiredToken | S3ErrorCode::InvalidToken)
        || (error.code == S3ErrorCode::AccessDenied && error.status == 403)
        || error.code.as_str() == "TokenRefreshRequired"
}

/// Adds a header the signer has already checked (token name, no CR/LF).
fn with_header(builder: reqwest::RequestBuilder, name: &str, value: &str) -> Result<reqwest::RequestBuilder> {
    let name =
        HeaderName::from_bytes(name.as_bytes()).map_err(|_| Error::Config(format!("invalid header name {name:?}")))?;
    let value = HeaderValue::from_str(value).map_err(|_| Error::Config(format!("invalid value for header {name}")))?;
    Ok(builder.header(name, value))
}

/// Whether the server refused the request because of the signing time.
fn is_clock_skew(error: &ServiceError, signed_at: time::OffsetDateTime) -> bool {
    if matches!(error.code, S3ErrorCode::RequestTimeTooSkewed) {
        return true;
    }
    // Some servers say AccessDenied or InvalidRequest; a server clock far from ours tells.
    let off = error.server_date.map(|server| (server - signed_at).abs() > time::Duration::minutes(5));
    error.status == 403 && off == Some(true)
}

/// Reads a failed response into a [`ServiceError`].
async fn service_error(
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

/// Reads a `ListBucketResult` (ListObjectsV2 with `encoding-type=url`).
pub(crate) fn parse_list(body: &[u8]) -> Result<ObjectList> {
    let invalid = |reason: String| Error::InvalidResponse { operation: "ListObjectsV2", reason };
    let text = std::str::from_utf8(body).map_err(|_| invalid("the listing is not UTF-8".into()))?;
    let root = xml::parse(text).map_err(invalid)?;
    if root.name != "ListBucketResult" {
        return Err(invalid(format!("expected ListBucketResult, got {}", root.name)));
    }
    let url_encoded = root.text_of("EncodingType").is_some_and(|e| e.eq_ignore_ascii_case("url"));
    let decode = |s: &str| -> Result<String> {
        if url_encoded {
            // S3 encodes listings like a form: `+` is a space.
            let plus = s.replace('+', " ");
            let decoded = percent_encoding::percent_decode_str(&plus).decode_utf8();
            decoded.map(|k| k.into_owned()).map_err(|_| invalid(format!("the key {s:?} is not UTF-8 once decoded")))
        } else {
            Ok(s.to_owned())
        }
    };
    let mut objects = Vec::new();
    for entry in root.children("Contents") {
        let key = entry.text_of("Key").ok_or_else(|| invalid("an entry without a Key".into()))?;
        let size = entry
            .text_of("Size")
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| invalid(format!("the entry {key:?} has no readable Size")))?;
        let mut meta = ObjectMeta::new(decode(key)?, size);
        meta.etag = entry.text_of("ETag").map(str::to_owned);
        meta.last_modified = entry.text_of("LastModified").and_then(dates::parse_iso8601);
        objects.push(meta);
    }
    let truncated = root.text_of("IsTruncated").is_some_and(|t| t.trim() == "true");
    let next = root.text_of("NextContinuationToken").map(str::to_owned).filter(|_| truncated);
    if truncated && next.is_none() {
        return Err(invalid("the listing is truncated but carries no continuation token".into()));
    }
    Ok(ObjectList { objects, next_continuation_token: next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_decode_url_encoded_keys() {
        let doc = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><EncodingType>url</EncodingType>
<IsTruncated>true</IsTruncated><NextContinuationToken>tok</NextContinuationToken>
<Contents><Key>a+b%2Bc%20d%E2%9C%93</Key><Size>12</Size><ETag>&quot;e&quot;</ETag><LastModified>2024-01-02T03:04:05.000Z</LastModified></Contents>
</ListBucketResult>"#;
        let list = parse_list(doc).unwrap();
        assert_eq!(list.objects[0].key, "a b+c d✓");
        assert_eq!(list.objects[0].size, 12);
        assert_eq!(list.objects[0].etag.as_deref(), Some("\"e\""));
        assert_eq!(list.next_continuation_token.as_deref(), Some("tok"));
        assert!(parse_list(b"<Error/>").is_err());
        assert!(parse_list(b"garbage").is_err());
    }
}
