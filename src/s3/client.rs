//! Sending one S3 request: signing each attempt, retrying, correcting the clock, reading errors.

use std::borrow::Cow;

use reqwest::header::{HeaderName, HeaderValue};

use super::{S3Storage, dates, read_limited, transport_error, xml};
use crate::body::{Body, io_error};
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
}

impl<'a> Call<'a> {
    pub(crate) fn new(operation: &'static str, method: Method, key: Option<&'a str>) -> Self {
        Self { operation, method, key, query: Vec::new(), headers: Vec::new(), body: None, accept_not_found: false }
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
    /// Sends `call`, retrying as the policy allows, and returns the successful response.
    pub(crate) async fn execute(&self, call: &Call<'_>) -> Result<reqwest::Response> {
        let retry = self.inner.retry;
        let replayable = call.body.is_none_or(Body::is_replayable);
        let payload_hash = call.body.and_then(|b| b.as_bytes()).filter(|_| self.inner.sign_payloads).map(|bytes| {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(bytes))
        });
        let mut attempt: u32 = 0;
        let mut clock_corrected = false;
        let mut form = PathForm::Decoded;
        loop {
            attempt += 1;
            let at = self.now();
            let (request, url) = self.build(call, form, payload_hash.as_deref())?;
            let auth = self.inner.signer.sign(&request, at)?;

            let method = reqwest::Method::from_bytes(call.method.as_str().as_bytes())
                .map_err(|_| Error::Config(format!("unsupported method {}", call.method)))?;
            let mut builder = self.inner.http.request(method, url);
            for (name, value) in request.headers() {
                builder = with_header(builder, name, value)?;
            }
            for (name, value) in &auth {
                builder = with_header(builder, name, value)?;
            }
            if let Some(body) = call.body {
                builder = builder.body(body.for_attempt().await.map_err(|e| io_error(call.operation, e))?);
            }

            let outcome = builder.send().await;
            let retries_left = attempt < retry.max_attempts.max(1) && replayable;
            match outcome {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) if call.accept_not_found && response.status() == reqwest::StatusCode::NOT_FOUND => {
                    return Ok(response);
                }
                Ok(response) => {
                    let mut error = service_error(call.operation, call.method, response).await;
                    if let Some(server) = error.server_date.filter(|_| is_clock_skew(&error, at))
                        && !clock_corrected
                        && replayable
                        && self.set_clock_skew(server)
                    {
                        clock_corrected = true;
                        attempt -= 1;
                        continue;
                    }
                    let signature_refused = error.code == S3ErrorCode::SignatureDoesNotMatch || error.status == 403;
                    if signature_refused && form == PathForm::Decoded && self.needs_wire_form(call) && replayable {
                        form = PathForm::AsSent;
                        attempt -= 1;
                        continue;
                    }
                    if error.is_retryable() && retries_left {
                        let delay =
                            retry.delay(attempt).max(error.retry_after.unwrap_or_default().min(retry.max_delay));
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    if error.code == S3ErrorCode::SignatureDoesNotMatch {
                        error.client_canonical_request = self
                            .inner
                            .signer
                            .sign_explained(&request, at)
                            .ok()
                            .map(|(_, details)| redact_token(details.canonical_request()));
                    }
                    return Err(error.into());
                }
                Err(e) => {
                    // A body that could not be read (a file that changed length, a stream that broke)
                    // is the caller's, not the network's: no retry.
                    if let Some(io) = body_error(&e) {
                        return Err(io_error(call.operation, io));
                    }
                    let retryable = e.is_connect() || e.is_timeout() || e.is_request();
                    if retryable && retries_left {
                        tokio::time::sleep(retry.delay(attempt)).await;
                        continue;
                    }
                    return Err(transport_error(call.operation, &e));
                }
            }
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

/// The I/O error of the request body, if that is what failed the request.
fn body_error(error: &reqwest::Error) -> Option<std::io::Error> {
    crate::body::find_body_error(error)
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
async fn service_error(operation: &'static str, method: Method, response: reqwest::Response) -> ServiceError {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let server_date = text("date").and_then(|d| dates::parse_http_date(&d));
    let retry_after =
        text("retry-after").and_then(|v| v.trim().parse::<u64>().ok()).map(std::time::Duration::from_secs);
    let header_request_id = text("x-amz-request-id");
    let body = if method == Method::Head {
        Vec::new()
    } else {
        read_limited(response, MAX_ERROR_BODY, operation).await.unwrap_or_default()
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
