//! Whole objects: `PutObject`, `HeadObject`, `GetObject`, `DeleteObject`, and the typed errors of
//! their conditions.

use std::borrow::Cow;

use super::client::Call;
use super::download::{self, Download};
use super::integrity;
use super::trailer::ChecksumSending;
use super::{Platform, S3Storage};
use crate::body::{Body, ObjectBody};
use crate::checksum::StoredChecksum;
use crate::multipart::upload::put_in_parts;
use crate::sigv4::Method;
use crate::storage::{GetObjectOutput, GetOptions, ObjectMeta, PutMode, PutObjectOutput, PutOptions};
use crate::{Error, Result, S3ErrorCode};

/// What a refused condition of a write means, in a sentence.
pub(super) fn write_refused(operation: &'static str, mode: &PutMode, error: Error) -> Error {
    let reason = match mode {
        PutMode::Overwrite => return error,
        PutMode::Create => "an object is already at the key (the write was to create it); nothing was written",
        PutMode::Update(_) => "the object at the key is not the version named (or there is none); nothing was written",
    };
    // S3 answers 404 to If-Match on a key that holds nothing, and 412 otherwise.
    let refused = matches!(error.status(), Some(412))
        || error.code() == Some(&S3ErrorCode::PreconditionFailed)
        || (matches!(mode, PutMode::Update(_)) && error.is_not_found());
    if refused { Error::PreconditionFailed { operation, reason: reason.into() } } else { error }
}

/// What a refused condition of a read means.
fn read_refused(operation: &'static str, options: &GetOptions, error: Error) -> Error {
    match error.status() {
        Some(412) if options.if_match().is_some() => Error::PreconditionFailed {
            operation,
            reason: "the object's ETag is not the one If-Match named: it changed".into(),
        },
        Some(304) if options.if_none_match().is_some() => Error::NotModified { operation },
        _ => error,
    }
}

impl S3Storage {
    pub(super) async fn put(&self, key: &str, body: Body, options: &PutOptions) -> Result<PutObjectOutput> {
        // The backend's checksum, unless the options name one.
        let defaulted;
        let options = match self.inner.checksum {
            Some(algorithm) if options.checksum().is_none() => {
                defaulted = options.clone().with_checksum(algorithm);
                &defaulted
            }
            _ => options,
        };
        if let Some(declared) = options.header("content-length")
            && declared.parse::<u64>().ok() != Some(body.len())
        {
            return Err(Error::Config(format!(
                "PutOptions declares content-length {declared} but the body holds {} bytes",
                body.len()
            )));
        }
        let single_max = match self.inner.platform {
            Platform::R2 => crate::r2::MAX_PUT_SIZE,
            _ => super::copy::MAX_SINGLE_COPY,
        };
        if body.len() > self.inner.transfer.threshold.min(single_max) {
            self.check_upload(options, None)?;
            return put_in_parts(self, key, body, options, &self.inner.transfer).await;
        }
        self.check_upload(options, Some(body.len()))?;
        integrity::check(self.inner.platform, options, None)?;
        let mut headers: Vec<(&str, Cow<'_, str>)> = options
            .headers()
            .iter()
            .filter(|(k, _)| k != "content-length")
            .map(|(k, v)| (k.as_str(), Cow::Borrowed(v.as_str())))
            .collect();
        headers.push(("content-length", Cow::Owned(body.len().to_string())));
        headers.extend(options.mode().header().map(|(k, v)| (k, Cow::Borrowed(v))));
        let sending = ChecksumSending::plan(&body, options.checksum(), options.checksum_value());
        let call = Call::new("PutObject", Method::Put, Some(key)).headers(headers).body(&body).checksum(&sending);
        let expected = options.checksum_value().map(ToString::to_string);
        let answer = self.execute(&call).await.map_err(|e| {
            integrity::refused(
                "PutObject",
                sending.algorithm(),
                expected,
                write_refused("PutObject", options.mode(), e),
            )
        })?;
        let checksum = integrity::stored(&answer.headers, sending.algorithm())
            .or_else(|| sending.value().map(StoredChecksum::full_object));
        Ok(PutObjectOutput::new(answer.header("etag")).with_checksum(checksum))
    }

    pub(super) async fn head(&self, key: &str, options: &GetOptions) -> Result<Option<ObjectMeta>> {
        let headers = read_headers(options);
        let call = Call::new("HeadObject", Method::Head, Some(key))
            .query(options.query().into_iter().map(|(k, v)| (k, Cow::Borrowed(v))).collect())
            .headers(headers.iter().map(|(k, v)| (*k, Cow::Borrowed(v.as_str()))).collect())
            .accept_not_found();
        let answer = self.execute(&call).await.map_err(|e| read_refused("HeadObject", options, e))?;
        if answer.status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        Ok(Some(meta_from_headers(key, &answer.headers, "HeadObject")?))
    }

    /// A download that resumes after a cut and, with the checksum mode, checks its bytes (see
    /// [`download`](super::download)).
    pub(super) async fn get(&self, key: &str, options: &GetOptions) -> Result<Option<GetObjectOutput>> {
        let Some((output, body)) = self.get_once(key, options).await? else { return Ok(None) };
        let (next, last) = download::span(&output.meta, output.content_range.as_deref());
        let resume = Download {
            storage: self.clone(),
            key: key.to_owned(),
            options: options.clone(),
            etag: output.meta.etag.clone(),
            next,
            last,
            resumes: self.inner.retry.max_attempts.saturating_sub(1),
            check: download::checkable(options, &output.meta),
        };
        let mut whole = GetObjectOutput::new(output.meta, ObjectBody::new(resume.stream(body)));
        whole.content_range = output.content_range;
        Ok(Some(whole))
    }

    /// One GET: the answer's metadata, and its body as it comes.
    pub(super) async fn get_once(
        &self,
        key: &str,
        options: &GetOptions,
    ) -> Result<Option<(GetObjectOutput, ObjectBody)>> {
        let headers = read_headers(options);
        let call = Call::new("GetObject", Method::Get, Some(key))
            .query(options.query().into_iter().map(|(k, v)| (k, Cow::Borrowed(v))).collect())
            .headers(headers.iter().map(|(k, v)| (*k, Cow::Borrowed(v.as_str()))).collect());
        let answer = match self.execute(&call).await {
            Ok(answer) => answer,
            // No object at the key; a bucket that does not exist stays an error.
            Err(e) if e.code() == Some(&S3ErrorCode::NoSuchKey) => return Ok(None),
            Err(e) => return Err(read_refused("GetObject", options, e)),
        };
        let meta = meta_from_headers(key, &answer.headers, "GetObject")?;
        let content_range = answer.header("content-range");
        let mut output = GetObjectOutput::new(meta, ObjectBody::new(futures_util::stream::empty()));
        if let Some(range) = content_range {
            output = output.with_content_range(range);
        }
        Ok(Some((output, answer.into_object_body())))
    }

    pub(super) async fn delete(&self, key: &str) -> Result<()> {
        let call = Call::new("DeleteObject", Method::Delete, Some(key));
        self.execute(&call).await?;
        Ok(())
    }
}

/// The headers of a read: its options', and the ask for the stored checksum.
fn read_headers(options: &GetOptions) -> Vec<(&'static str, String)> {
    let mut headers = options.headers();
    if options.checksum_mode() {
        headers.push(("x-amz-checksum-mode", "ENABLED".to_owned()));
    }
    headers
}

/// Object metadata from the headers of a HEAD or GET response.
pub(super) fn meta_from_headers(
    key: &str,
    headers: &reqwest::header::HeaderMap,
    operation: &'static str,
) -> Result<ObjectMeta> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    // With a range, Content-Range carries the whole size: `bytes 0-15/1234`.
    let size = match text("content-range").and_then(|r| r.rsplit('/').next().and_then(|t| t.parse().ok())) {
        Some(total) => total,
        None => text("content-length")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| Error::InvalidResponse { operation, reason: "no Content-Length in the response".into() })?,
    };
    let mut meta = ObjectMeta::new(key, size);
    meta.content_type = text("content-type");
    meta.etag = text("etag");
    meta.last_modified = text("last-modified").and_then(|d| crate::wire::dates::parse_http_date(&d));
    meta.cache_control = text("cache-control");
    meta.content_disposition = text("content-disposition");
    meta.content_encoding = text("content-encoding");
    meta.checksum = integrity::stored(headers, None);
    for (name, value) in headers {
        if let (Some(meta_name), Ok(value)) = (name.as_str().strip_prefix("x-amz-meta-"), value.to_str()) {
            meta.metadata.insert(meta_name.to_owned(), value.to_owned());
        }
    }
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ServiceError;

    fn service(status: u16, code: &str) -> Error {
        let body = format!("<Error><Code>{code}</Code></Error>");
        ServiceError::from_response("PutObject", status, body.as_bytes()).into()
    }

    #[test]
    fn refused_conditions_are_typed() {
        let create = write_refused("PutObject", &PutMode::Create, service(412, "PreconditionFailed"));
        assert!(matches!(create, Error::PreconditionFailed { operation: "PutObject", .. }), "{create}");
        let update = write_refused("PutObject", &PutMode::Update("\"e\"".into()), service(404, "NoSuchKey"));
        assert!(matches!(update, Error::PreconditionFailed { .. }), "{update}");
        // Without a condition, a 412 or a 404 is what it is.
        assert!(matches!(write_refused("PutObject", &PutMode::Overwrite, service(412, "X")), Error::Service(_)));
        assert!(matches!(write_refused("PutObject", &PutMode::Create, service(404, "NoSuchKey")), Error::Service(_)));
        assert!(matches!(
            write_refused("PutObject", &PutMode::Create, service(403, "AccessDenied")),
            Error::Service(_)
        ));
        let read = GetOptions::new().with_if_none_match("\"e\"");
        assert!(matches!(read_refused("GetObject", &read, service(304, "NotModified")), Error::NotModified { .. }));
        let read = GetOptions::new().with_if_match("\"e\"");
        assert!(matches!(
            read_refused("GetObject", &read, service(412, "PreconditionFailed")),
            Error::PreconditionFailed { .. }
        ));
    }
}
