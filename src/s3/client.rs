//! Sending one S3 request: signing each attempt, retrying, correcting the clock, reading errors.

use std::borrow::Cow;

use reqwest::header::{HeaderName, HeaderValue};

use super::S3Storage;
use super::answer::{Answer, AnswerBody, ReadFailure, read_all, service_error};
use super::retry::{Attempt, Next, after_refusal};
use super::trailer::{ChecksumSending, STREAMING_TRAILER, encode, encoded_len};
use super::transport::{Progress, Stall, Timing, request_body, request_body_of, transport_error, watched};
use crate::body::{Body, find_body_failure};
use crate::error::S3ErrorCode;
use crate::sigv4::{Method, Payload, Request, redact_token};
use crate::{Error, Result};

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
    /// The body's checksum, sent after it.
    trailer: Option<(
        crate::checksum::ChecksumAlgorithm,
        std::sync::Arc<std::sync::Mutex<Option<crate::checksum::Checksum>>>,
    )>,
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
            trailer: None,
        }
    }

    /// Sends the body's checksum as `sending` says: a header before the bytes, or a trailer after
    /// them (the body then goes aws-chunked, its `Content-Length` the framed length). Call after
    /// [`body`](Self::body) and the headers.
    pub(crate) fn checksum(mut self, sending: &ChecksumSending) -> Self {
        match sending {
            ChecksumSending::None => {}
            ChecksumSending::Header(value) => {
                let (name, value) = value.header();
                self.headers.push((name, Cow::Owned(value)));
            }
            ChecksumSending::Trailer(algorithm, cell) => {
                let decoded = self.body.map_or(0, Body::len);
                let encoding = self
                    .headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-encoding"))
                    .map(|(_, v)| format!("aws-chunked,{v}"))
                    .unwrap_or_else(|| "aws-chunked".to_owned());
                self.headers.retain(|(k, _)| {
                    !k.eq_ignore_ascii_case("content-length") && !k.eq_ignore_ascii_case("content-encoding")
                });
                self.headers.push(("content-encoding", Cow::Owned(encoding)));
                self.headers.push(("content-length", Cow::Owned(encoded_len(decoded, *algorithm).to_string())));
                self.headers.push(("x-amz-decoded-content-length", Cow::Owned(decoded.to_string())));
                self.headers.push(("x-amz-trailer", Cow::Borrowed(algorithm.header())));
                self.trailer = Some((*algorithm, std::sync::Arc::clone(cell)));
            }
        }
        self
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
        let payload_hash = match &call.trailer {
            Some(_) => Some(STREAMING_TRAILER.to_owned()),
            None => call.body.and_then(|b| b.as_bytes()).filter(|_| self.inner.sign_payloads).map(|bytes| {
                use sha2::Digest;
                hex::encode(sha2::Sha256::digest(bytes))
            }),
        };
        let body_len = match (&call.trailer, call.body) {
            (Some((algorithm, _)), Some(body)) => encoded_len(body.len(), *algorithm),
            (_, body) => body.map_or(0, Body::len),
        };
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
            let signer = self.inner.credentials.for_request(at).await?;
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
                let sent = match &call.trailer {
                    None => request_body(body, &progress).await,
                    Some((algorithm, cell)) => match body.for_attempt().await {
                        Ok(chunks) => Ok(request_body_of(
                            encode(chunks, body.len(), *algorithm, std::sync::Arc::clone(cell)),
                            &progress,
                        )),
                        Err(e) => Err(e),
                    },
                }
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
            let state = Attempt {
                number: attempt,
                replayable,
                signed_at: at,
                clock_corrected,
                path_as_sent_untried: form == PathForm::Decoded && self.needs_wire_form(call),
                credentials_renewed,
            };
            let mut next = after_refusal(&error, &state, &retry);
            if next == Next::RenewCredentials {
                credentials_renewed = true;
                if self.inner.credentials.after_rejection(signer.generation()).await {
                    crate::trace::event!(
                        info,
                        operation = call.operation,
                        code = error.code.as_str(),
                        "the server refused the credentials; sending again with the provider's new ones"
                    );
                    attempt -= 1;
                    continue;
                }
                // The provider has nothing newer: decide as if renewed.
                next = after_refusal(&error, &Attempt { credentials_renewed: true, ..state }, &retry);
            }
            match next {
                Next::CorrectClock(server) if self.set_clock_skew(server) => {
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
                Next::SignPathAsSent => {
                    crate::trace::event!(
                        debug,
                        operation = call.operation,
                        "signature refused for a key with dot segments: signing the path as sent"
                    );
                    form = PathForm::AsSent;
                    attempt -= 1;
                    continue;
                }
                Next::Backoff(at_least) => {
                    let delay = retry.delay(attempt).max(at_least);
                    if backoff(delay, &format!("{} {}", error.status, error.code.as_str())).await {
                        continue;
                    }
                }
                _ => {}
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

/// Adds a header the signer has already checked (token name, no CR/LF).
fn with_header(builder: reqwest::RequestBuilder, name: &str, value: &str) -> Result<reqwest::RequestBuilder> {
    let name =
        HeaderName::from_bytes(name.as_bytes()).map_err(|_| Error::Config(format!("invalid header name {name:?}")))?;
    let value = HeaderValue::from_str(value).map_err(|_| Error::Config(format!("invalid value for header {name}")))?;
    Ok(builder.header(name, value))
}
