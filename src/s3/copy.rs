//! Server-side copies in one bucket: `CopyObject`, or part by part with `UploadPartCopy` above the
//! size one copy may have (5 GiB).

use std::borrow::Cow;

use super::S3Storage;
use super::client::Call;
use crate::error::{S3ErrorCode, ServiceError};
use crate::multipart::{CompletedPart, MultipartUpload, PartNumber, PartPlan};
use crate::sigv4::{Method, encode_path};
use crate::storage::{CopyOptions, ObjectMeta, PutObjectOutput, PutOptions, Storage};
use crate::{Error, Result};

/// The largest answer of a copy (a result or an error document).
const MAX_XML: usize = 1024 * 1024;

/// The largest object one `CopyObject` copies.
pub(crate) const MAX_SINGLE_COPY: u64 = 5 * 1024 * 1024 * 1024;

/// `"abc"` and `abc` are the same ETag.
fn same_etag(a: &str, b: &str) -> bool {
    a.trim().trim_matches('"') == b.trim().trim_matches('"')
}

/// The headers a copy stores: the replacement's, or the source's own.
fn stored_headers(source: &ObjectMeta) -> PutOptions {
    let mut options = PutOptions::new();
    if let Some(v) = &source.content_type {
        options = options.content_type(v.as_str());
    }
    if let Some(v) = &source.cache_control {
        options = options.cache_control(v.as_str());
    }
    if let Some(v) = &source.content_disposition {
        options = options.content_disposition(v.as_str());
    }
    if let Some(v) = &source.content_encoding {
        options = options.content_encoding(v.as_str());
    }
    for (name, value) in &source.metadata {
        options = options.metadata(name, value.as_str());
    }
    options
}

impl S3Storage {
    /// `x-amz-copy-source`: the bucket and the key, URL-encoded, as botocore writes it.
    fn copy_source(&self, key: &str) -> String {
        format!("{}/{}", self.bucket(), encode_path(key))
    }

    pub(crate) async fn copy(&self, source: &str, destination: &str, options: &CopyOptions) -> Result<PutObjectOutput> {
        if let Some(replace) = &options.replace {
            self.check_upload(replace, None)?;
        }
        let Some(meta) = self.head_object(source).await? else {
            return Err(ServiceError::local(
                "CopyObject",
                404,
                S3ErrorCode::NoSuchKey,
                "the source object does not exist",
            )
            .into());
        };
        let etag = meta.etag.clone().unwrap_or_default();
        if let Some(expected) = &options.if_match
            && !same_etag(expected, &etag)
        {
            return Err(ServiceError::local(
                "CopyObject",
                412,
                S3ErrorCode::PreconditionFailed,
                &format!("the source's ETag is {etag}, not the {expected} expected"),
            )
            .into());
        }
        if meta.size > self.inner.copy_threshold.min(MAX_SINGLE_COPY) {
            return self.copy_in_parts(source, destination, &meta, options).await;
        }
        let copy_source = self.copy_source(source);
        let mut headers: Vec<(&str, Cow<'_, str>)> = vec![("x-amz-copy-source", Cow::Borrowed(copy_source.as_str()))];
        if !etag.is_empty() {
            headers.push(("x-amz-copy-source-if-match", Cow::Borrowed(etag.as_str())));
        }
        match &options.replace {
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
        let call = Call::new("CopyObject", Method::Put, Some(destination)).headers(headers).read_result(MAX_XML);
        let answer = self.execute(&call).await?;
        let text = std::str::from_utf8(answer.body()).unwrap_or_default();
        let etag = super::xml::parse(text)
            .ok()
            .filter(|root| root.name == "CopyObjectResult")
            .and_then(|root| root.text_of("ETag").map(str::to_owned));
        Ok(PutObjectOutput { etag })
    }

    /// A copy part by part: a multipart upload whose parts are ranges of the source, each on the
    /// condition that the source is still the one looked at; any failure aborts it.
    async fn copy_in_parts(
        &self,
        source: &str,
        destination: &str,
        meta: &ObjectMeta,
        options: &CopyOptions,
    ) -> Result<PutObjectOutput> {
        let transfer = self.inner.transfer;
        let plan = PartPlan::new(meta.size, self.inner.copy_part_size, &transfer.limits)?;
        let stored = options.replace.clone().unwrap_or_else(|| stored_headers(meta));
        let upload = self.create_upload(destination, &stored).await?;
        let copied = self.copy_parts(source, &upload, &plan, meta.etag.as_deref()).await;
        let result = match copied {
            Ok(parts) => self.complete(&upload, &parts).await,
            Err(e) => Err(e),
        };
        if result.is_err() {
            let _ = self.abort(&upload).await;
        }
        result
    }

    async fn copy_parts(
        &self,
        source: &str,
        upload: &MultipartUpload,
        plan: &PartPlan,
        etag: Option<&str>,
    ) -> Result<Vec<CompletedPart>> {
        let concurrency = self.inner.transfer.concurrency.max(1);
        let mut tasks = tokio::task::JoinSet::new();
        let mut done = Vec::with_capacity(plan.part_count() as usize);
        let mut numbers = plan.parts();
        loop {
            while tasks.len() < concurrency {
                let Some(number) = numbers.next() else { break };
                let range = plan.part_range(number);
                let (this, upload) = (self.clone(), upload.clone());
                let (source, etag) = (source.to_owned(), etag.map(str::to_owned));
                tasks
                    .spawn(async move { this.copy_part(&source, &upload, number, Some(range), etag.as_deref()).await });
            }
            match crate::multipart::upload::join_next_part(&mut tasks, "UploadPartCopy").await? {
                Some(part) => done.push(part),
                None => break,
            }
        }
        done.sort_by_key(|part| part.number);
        Ok(done)
    }

    pub(crate) async fn copy_part(
        &self,
        source: &str,
        upload: &MultipartUpload,
        number: PartNumber,
        range: Option<std::ops::Range<u64>>,
        etag: Option<&str>,
    ) -> Result<CompletedPart> {
        const OP: &str = "UploadPartCopy";
        let copy_source = self.copy_source(source);
        let bytes = range.map(|range| format!("bytes={}-{}", range.start, range.end.saturating_sub(1)));
        let part = number.get().to_string();
        let mut headers = vec![("x-amz-copy-source", Cow::Borrowed(copy_source.as_str()))];
        if let Some(bytes) = &bytes {
            headers.push(("x-amz-copy-source-range", Cow::Borrowed(bytes.as_str())));
        }
        if let Some(etag) = etag {
            headers.push(("x-amz-copy-source-if-match", Cow::Borrowed(etag)));
        }
        let call = Call::new(OP, Method::Put, Some(&upload.key))
            .query(vec![
                ("partNumber", Cow::Borrowed(part.as_str())),
                ("uploadId", Cow::Borrowed(upload.upload_id.as_str())),
            ])
            .headers(headers)
            .read_result(MAX_XML);
        let answer = self.execute(&call).await?;
        let text = std::str::from_utf8(answer.body()).unwrap_or_default();
        let etag = super::xml::parse(text)
            .ok()
            .filter(|root| root.name == "CopyPartResult")
            .and_then(|root| root.text_of("ETag").map(str::to_owned))
            .ok_or_else(|| Error::InvalidResponse {
                operation: OP,
                reason: "the answer has no CopyPartResult ETag".into(),
            })?;
        Ok(CompletedPart::new(number, etag))
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
