//! Server-side copies in one bucket: `CopyObject`, or part by part with `UploadPartCopy` above the
//! size one copy may have (5 GiB), through the one part loop of [`crate::multipart`].

use std::borrow::Cow;

use super::client::Call;
use super::objects::write_refused;
use super::{Platform, S3Storage};
use crate::multipart::upload::copy_in_parts;
use crate::sigv4::{Method, encode_path};
use crate::storage::multipart::{CompletedPart, UploadPart};
use crate::storage::{CopyOptions, CopySource, GetOptions, ObjectMeta, PutMode, PutObjectOutput, PutOptions};
use crate::{Error, Result};

/// The largest answer of a copy (a result or an error document).
const MAX_XML: usize = 1024 * 1024;

/// The largest object one `CopyObject` copies.
pub(super) const MAX_SINGLE_COPY: u64 = 5 * 1024 * 1024 * 1024;

/// `"abc"` and `abc` are the same ETag.
fn same_etag(a: &str, b: &str) -> bool {
    a.trim().trim_matches('"') == b.trim().trim_matches('"')
}

/// The headers a copy stores: the source's own.
fn stored_headers(source: &ObjectMeta) -> PutOptions {
    let mut options = PutOptions::new();
    if let Some(v) = &source.content_type {
        options = options.with_content_type(v.as_str());
    }
    if let Some(v) = &source.cache_control {
        options = options.with_cache_control(v.as_str());
    }
    if let Some(v) = &source.content_disposition {
        options = options.with_content_disposition(v.as_str());
    }
    if let Some(v) = &source.content_encoding {
        options = options.with_content_encoding(v.as_str());
    }
    for (name, value) in &source.metadata {
        options = options.with_metadata(name, value.as_str());
    }
    options
}

/// The refusal of a copy whose source is missing or not the version expected.
fn source_refused(operation: &'static str, reason: String) -> Error {
    Error::PreconditionFailed { operation, reason }
}

impl S3Storage {
    /// `x-amz-copy-source`: the bucket and the key, URL-encoded, as botocore writes it.
    fn copy_source(&self, key: &str) -> String {
        format!("{}/{}", self.bucket(), encode_path(key))
    }

    /// The header of the destination's condition. Cloudflare R2 takes a copy's destination
    /// conditions through headers of its own, `cf-copy-destination-if-none-match` and
    /// `cf-copy-destination-if-match` (<https://developers.cloudflare.com/r2/api/s3/conditional-operations/>).
    fn destination_condition<'m>(&self, mode: &'m PutMode) -> Option<(&'static str, &'m str)> {
        match (self.platform(), mode) {
            (Platform::R2, PutMode::Create) => Some(("cf-copy-destination-if-none-match", "*")),
            (Platform::R2, PutMode::Update(etag)) => Some(("cf-copy-destination-if-match", etag.as_str())),
            (_, mode) => mode.header(),
        }
    }

    pub(super) async fn copy(&self, source: &str, destination: &str, options: &CopyOptions) -> Result<PutObjectOutput> {
        if let Some(headers) = options.headers() {
            self.check_upload(headers, None)?;
        }
        let condition = self.destination_condition(options.mode());
        let Some(meta) = self.head(source, &GetOptions::new()).await? else {
            return Err(source_refused("CopyObject", "the source object does not exist".into()));
        };
        let etag = meta.etag.clone().unwrap_or_default();
        if let Some(expected) = options.source_if_match()
            && !same_etag(expected, &etag)
        {
            return Err(source_refused(
                "CopyObject",
                format!("the source's ETag is {etag}, not the {expected} expected"),
            ));
        }
        if meta.size > self.inner.copy_threshold.min(MAX_SINGLE_COPY) {
            let stored = match options.headers() {
                Some(headers) => headers.clone().with_mode(options.mode().clone()),
                None => stored_headers(&meta).with_mode(options.mode().clone()),
            };
            let (part_size, concurrency) = (self.inner.copy_part_size, self.inner.transfer.concurrency);
            return copy_in_parts(self, source, &meta, destination, &stored, part_size, concurrency).await;
        }
        let copy_source = self.copy_source(source);
        let mut headers: Vec<(&str, Cow<'_, str>)> = vec![("x-amz-copy-source", Cow::Borrowed(copy_source.as_str()))];
        if !etag.is_empty() {
            headers.push(("x-amz-copy-source-if-match", Cow::Borrowed(etag.as_str())));
        }
        match options.headers() {
            Some(replace) => {
                headers.push(("x-amz-metadata-directive", Cow::Borrowed("REPLACE")));
                headers.extend(
                    replace
                        .headers()
                        .iter()
                        .filter(|(k, _)| k != "content-length")
                        .map(|(k, v)| (k.as_str(), Cow::Borrowed(v.as_str()))),
                );
            }
            None => headers.push(("x-amz-metadata-directive", Cow::Borrowed("COPY"))),
        }
        headers.extend(condition.map(|(k, v)| (k, Cow::Borrowed(v))));
        let call = Call::new("CopyObject", Method::Put, Some(destination)).headers(headers).read_result(MAX_XML);
        let answer = match self.execute(&call).await {
            Ok(answer) => answer,
            // The source's ETag is checked by the server too: a 412 with a destination condition may be
            // either's, and both mean the same to the caller.
            Err(e) if e.status() == Some(412) && options.mode() == &PutMode::Overwrite => {
                return Err(source_refused("CopyObject", "the source changed before it was copied".into()));
            }
            Err(e) => return Err(write_refused("CopyObject", options.mode(), e)),
        };
        let text = std::str::from_utf8(answer.body()).unwrap_or_default();
        let etag = crate::wire::xml::parse(text)
            .ok()
            .filter(|root| root.name == "CopyObjectResult")
            .and_then(|root| root.text_of("ETag").map(str::to_owned));
        Ok(PutObjectOutput::new(etag))
    }

    pub(super) async fn copy_part(&self, part: UploadPart<'_>, source: &CopySource) -> Result<CompletedPart> {
        const OP: &str = "UploadPartCopy";
        let copy_source = self.copy_source(source.key());
        let bytes = source.range().map(|range| format!("bytes={}-{}", range.start, range.end.saturating_sub(1)));
        let number = part.number.get().to_string();
        let mut headers = vec![("x-amz-copy-source", Cow::Borrowed(copy_source.as_str()))];
        if let Some(bytes) = &bytes {
            headers.push(("x-amz-copy-source-range", Cow::Borrowed(bytes.as_str())));
        }
        if let Some(etag) = source.if_match() {
            headers.push(("x-amz-copy-source-if-match", Cow::Borrowed(etag)));
        }
        let upload = part.upload;
        let call = Call::new(OP, Method::Put, Some(&upload.key))
            .query(vec![
                ("partNumber", Cow::Borrowed(number.as_str())),
                ("uploadId", Cow::Borrowed(upload.upload_id.as_str())),
            ])
            .headers(headers)
            .read_result(MAX_XML);
        let answer = match self.execute(&call).await {
            Ok(answer) => answer,
            Err(e) if e.status() == Some(412) => {
                return Err(source_refused(OP, "the source is not the version expected".into()));
            }
            Err(e) if e.is_not_found() && e.code() != Some(&crate::S3ErrorCode::NoSuchUpload) => {
                return Err(source_refused(OP, "the source object does not exist".into()));
            }
            Err(e) => return Err(e),
        };
        let text = std::str::from_utf8(answer.body()).unwrap_or_default();
        let root = crate::wire::xml::parse(text).ok().filter(|root| root.name == "CopyPartResult");
        let etag = root.as_ref().and_then(|root| root.text_of("ETag").map(str::to_owned)).ok_or_else(|| {
            Error::InvalidResponse { operation: OP, reason: "the answer has no CopyPartResult ETag".into() }
        })?;
        let done = CompletedPart::new(part.number, etag);
        // In an upload created with a checksum, the server computes the copied part's.
        let checksum = upload.checksum.and_then(|declared| {
            let written = root.as_ref()?.text_of(declared.algorithm.element())?;
            crate::checksum::Checksum::from_base64(declared.algorithm, written).ok()
        });
        Ok(match checksum {
            Some(checksum) => done.with_checksum(checksum),
            None => done,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_compare_without_quotes() {
        assert!(same_etag("\"abc\"", "abc"));
        assert!(!same_etag("\"abc\"", "\"abd\""));
    }
}
