//! Multipart uploads on S3 and R2: the requests and their XML.

use std::borrow::Cow;
use std::time::Duration;

use super::client::Call;
use super::integrity;
use super::listing::{Page, listed_key, paged};
use super::objects::write_refused;
use super::trailer::ChecksumSending;
use super::{Platform, S3Storage};
use crate::body::Body;
use crate::checksum::{Checksum, ChecksumAlgorithm, ChecksumError, ChecksumType, StoredChecksum};
use crate::sigv4::Method;
use crate::storage::multipart::{
    CompletedPart, MultipartError, MultipartUpload, MultipartUploadInfo, PartNumber, UploadChecksum, UploadId,
    UploadPart, UploadedPart, check_part_list,
};
use crate::storage::{
    CompleteOptions, GetOptions, Listing, PartOptions, PresignedRequest, PutObjectOutput, PutOptions,
};
use crate::wire::{dates, xml};
use crate::{Error, Result, S3ErrorCode};

/// The largest XML answer read from a multipart request (a page of 1,000 parts is about 200 KiB).
const MAX_XML: usize = 8 * 1024 * 1024;

fn invalid(operation: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidResponse { operation, reason: reason.into() }
}

/// The root element of an XML answer, checked to be `expected`.
fn document(operation: &'static str, body: &[u8], expected: &str) -> Result<xml::Element> {
    let text = std::str::from_utf8(body).map_err(|_| invalid(operation, "the answer is not UTF-8"))?;
    let root = xml::parse(text).map_err(|e| invalid(operation, e))?;
    if root.name != expected {
        return Err(invalid(operation, format!("expected {expected}, got {}", root.name)));
    }
    Ok(root)
}

impl S3Storage {
    pub(crate) async fn create_upload(&self, key: &str, options: &PutOptions) -> Result<MultipartUpload> {
        self.check_upload(options, None)?;
        let checksum = match options.checksum() {
            Some(algorithm) => {
                let kind = options.checksum_type().unwrap_or(match self.inner.platform {
                    // R2 takes CRC32 and CRC32C as composite only.
                    Platform::R2 if algorithm != ChecksumAlgorithm::Crc64Nvme => ChecksumType::Composite,
                    _ => algorithm.default_type(),
                });
                integrity::check(self.inner.platform, &options.clone().with_checksum(algorithm), Some(kind))?;
                Some(UploadChecksum::new(algorithm, kind)?)
            }
            None => None,
        };
        let mut headers: Vec<(&str, Cow<'_, str>)> = options
            .headers()
            .iter()
            .filter(|(k, _)| k != "content-length")
            .map(|(k, v)| (k.as_str(), Cow::Borrowed(v.as_str())))
            .collect();
        if let Some(checksum) = &checksum {
            headers.push(("x-amz-checksum-algorithm", Cow::Borrowed(checksum.algorithm.as_str())));
            headers.push(("x-amz-checksum-type", Cow::Borrowed(checksum.kind.as_str())));
        }
        let call = Call::new("CreateMultipartUpload", Method::Post, Some(key))
            .query(vec![("uploads", Cow::Borrowed(""))])
            .headers(headers)
            .read_result(MAX_XML);
        let answer = self.execute(&call).await?;
        let root = document("CreateMultipartUpload", answer.body(), "InitiateMultipartUploadResult")?;
        let id =
            root.text_of("UploadId").ok_or_else(|| invalid("CreateMultipartUpload", "the answer has no UploadId"))?;
        let upload_id = UploadId::new(id.trim()).map_err(|e| invalid("CreateMultipartUpload", e.to_string()))?;
        let upload = MultipartUpload::new(key, upload_id);
        Ok(match checksum {
            Some(checksum) => upload.with_checksum(checksum),
            None => upload,
        })
    }

    /// The checksum a part of `upload` carries: the value given (which must be of the upload's
    /// algorithm), else one computed from the bytes, for an upload created with a checksum.
    fn part_checksum(
        upload: &MultipartUpload,
        body: Option<&Body>,
        value: Option<&Checksum>,
    ) -> Result<ChecksumSending> {
        match (&upload.checksum, value) {
            (None, None) => Ok(ChecksumSending::None),
            (None, Some(value)) => Err(ChecksumError::NotDeclared { algorithm: value.algorithm() }.into()),
            (Some(declared), Some(value)) if value.algorithm() != declared.algorithm => {
                Err(ChecksumError::OtherAlgorithm { declared: declared.algorithm, given: value.algorithm() }.into())
            }
            (Some(_), Some(value)) => Ok(ChecksumSending::Header(*value)),
            (Some(declared), None) => match body {
                Some(body) => Ok(ChecksumSending::plan(body, Some(declared.algorithm), None)),
                None => Err(ChecksumError::PartMissing { part: 0, algorithm: declared.algorithm }.into()),
            },
        }
    }

    fn check_part_size(&self, size: u64) -> Result<()> {
        let limits = self.inner.transfer.limits;
        if size > limits.max_part_size() {
            return Err(
                MultipartError::PartSize { size, min: limits.min_part_size(), max: limits.max_part_size() }.into()
            );
        }
        Ok(())
    }

    pub(crate) fn presign_part(
        &self,
        part: UploadPart<'_>,
        options: &PartOptions,
        expires_in: Duration,
    ) -> Result<PresignedRequest> {
        let length = options.content_length().map(|size| size.to_string());
        if let Some(size) = options.content_length() {
            self.check_part_size(size)?;
        }
        let checksum = match Self::part_checksum(part.upload, None, options.checksum_value())? {
            ChecksumSending::Header(value) => Some(value.header()),
            _ => None,
        };
        let mut headers: Vec<(&str, &str)> = length.iter().map(|len| ("content-length", len.as_str())).collect();
        headers.extend(checksum.as_ref().map(|(name, value)| (*name, value.as_str())));
        let number = part.number.get().to_string();
        let upload = part.upload;
        let query = [("partNumber", number.as_str()), ("uploadId", upload.upload_id.as_str())];
        self.presign(Method::Put, &upload.key, &headers, &query, expires_in)
    }

    pub(crate) async fn put_part(&self, part: UploadPart<'_>, body: Body) -> Result<CompletedPart> {
        self.check_part_size(body.len())?;
        let (upload, number) = (part.upload, part.number.get().to_string());
        let sending = Self::part_checksum(upload, Some(&body), None)?;
        let call = Call::new("UploadPart", Method::Put, Some(&upload.key))
            .query(vec![
                ("partNumber", Cow::Borrowed(number.as_str())),
                ("uploadId", Cow::Borrowed(upload.upload_id.as_str())),
            ])
            .headers(vec![("content-length", Cow::Owned(body.len().to_string()))])
            .body(&body)
            .checksum(&sending);
        let answer =
            self.execute(&call).await.map_err(|e| integrity::refused("UploadPart", sending.algorithm(), None, e))?;
        let etag = answer.header("etag").ok_or_else(|| invalid("UploadPart", "the answer has no ETag"))?;
        let done = CompletedPart::new(part.number, etag);
        Ok(match sending.value() {
            Some(checksum) => done.with_checksum(checksum),
            None => done,
        })
    }

    pub(crate) fn parts_of<'a>(&'a self, upload: &'a MultipartUpload) -> Listing<'a, UploadedPart> {
        paged("ListParts", move |marker: Option<&u32>| {
            let marker = marker.copied();
            async move { self.parts_page(upload, marker).await }
        })
    }

    async fn parts_page(&self, upload: &MultipartUpload, marker: Option<u32>) -> Result<Page<UploadedPart, u32>> {
        const OP: &str = "ListParts";
        let page_size = self.inner.page_size.to_string();
        let marker_text = marker.map(|m| m.to_string());
        let mut query = vec![
            ("uploadId", Cow::Borrowed(upload.upload_id.as_str())),
            ("max-parts", Cow::Borrowed(page_size.as_str())),
        ];
        if let Some(m) = &marker_text {
            query.push(("part-number-marker", Cow::Borrowed(m.as_str())));
        }
        let call = Call::new(OP, Method::Get, Some(&upload.key)).query(query).read_body(MAX_XML);
        let answer = self.execute(&call).await?;
        let root = document(OP, answer.body(), "ListPartsResult")?;
        let mut entries = Vec::new();
        for part in root.children("Part") {
            let number = part
                .text_of("PartNumber")
                .and_then(|n| n.trim().parse::<u32>().ok())
                .and_then(|n| PartNumber::new(n).ok())
                .ok_or_else(|| invalid(OP, "a part without a valid PartNumber"))?;
            // Every page lists the parts after its marker (some servers, s3s-fs among them, list a
            // page's parts in no order: they are sorted below).
            if marker.is_some_and(|m| number.get() <= m) {
                return Err(invalid(OP, format!("part {number} is listed again on a later page")));
            }
            let size = part
                .text_of("Size")
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(|| invalid(OP, format!("part {number} has no readable Size")))?;
            let mut listed = UploadedPart::new(number, size);
            listed.etag = part.text_of("ETag").map(str::to_owned).filter(|e| !e.is_empty());
            listed.last_modified = part.text_of("LastModified").and_then(dates::parse_iso8601);
            listed.checksum = ChecksumAlgorithm::ALL
                .into_iter()
                .find_map(|algorithm| Checksum::from_base64(algorithm, part.text_of(algorithm.element())?).ok());
            entries.push(listed);
        }
        entries.sort_by_key(|p: &UploadedPart| p.number);
        if let Some(twice) = entries.windows(2).find(|pair| pair[0].number == pair[1].number) {
            return Err(invalid(OP, format!("part {} is listed twice", twice[0].number)));
        }
        let truncated = root.text_of("IsTruncated").is_some_and(|t| t.trim() == "true");
        if !truncated {
            return Ok(Page { entries, next: None });
        }
        match root.text_of("NextPartNumberMarker").and_then(|m| m.trim().parse::<u32>().ok()) {
            Some(next) if marker.is_none_or(|m| next > m) => Ok(Page { entries, next: Some(next) }),
            _ => Err(invalid(OP, "the listing is truncated but its marker does not move on")),
        }
    }

    pub(crate) async fn complete(
        &self,
        upload: &MultipartUpload,
        parts: &[CompletedPart],
        options: &CompleteOptions,
    ) -> Result<PutObjectOutput> {
        check_part_list(parts)?;
        if let Some(declared) = &upload.checksum {
            for part in parts {
                match part.checksum {
                    None => {
                        return Err(ChecksumError::PartMissing {
                            part: part.number.get(),
                            algorithm: declared.algorithm,
                        }
                        .into());
                    }
                    Some(c) if c.algorithm() != declared.algorithm => {
                        return Err(ChecksumError::OtherAlgorithm {
                            declared: declared.algorithm,
                            given: c.algorithm(),
                        }
                        .into());
                    }
                    Some(_) => {}
                }
            }
        }
        if let Some(whole) = options.checksum_value()
            && upload.checksum.is_none_or(|d| d.kind != ChecksumType::FullObject || d.algorithm != whole.algorithm())
        {
            return Err(ChecksumError::NotFullObject { algorithm: whole.algorithm() }.into());
        }
        if self.inner.transfer.limits.equal_parts() {
            self.check_even_parts(upload, parts).await?;
        }
        let mut document = String::with_capacity(64 + parts.len() * 128);
        document.push_str("<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
        for part in parts {
            document.push_str("<Part><PartNumber>");
            document.push_str(&part.number.to_string());
            document.push_str("</PartNumber><ETag>");
            document.push_str(&xml::escape(&part.etag));
            document.push_str("</ETag>");
            if let Some(checksum) = &part.checksum {
                let element = checksum.algorithm().element();
                document.push_str(&format!("<{element}>{}</{element}>", checksum.to_base64()));
            }
            document.push_str("</Part>");
        }
        document.push_str("</CompleteMultipartUpload>");
        let body = Body::from(document);
        let mut headers = vec![
            ("content-type", Cow::Borrowed("application/xml")),
            ("content-length", Cow::Owned(body.len().to_string())),
        ];
        headers.extend(options.mode().header().map(|(k, v)| (k, Cow::Borrowed(v))));
        if let (Some(declared), Some(whole)) = (&upload.checksum, options.checksum_value()) {
            let (name, value) = whole.header();
            headers.push((name, Cow::Owned(value)));
            headers.push(("x-amz-checksum-type", Cow::Borrowed(declared.kind.as_str())));
        }
        let call = Call::new("CompleteMultipartUpload", Method::Post, Some(&upload.key))
            .query(vec![("uploadId", Cow::Borrowed(upload.upload_id.as_str()))])
            .headers(headers)
            .body(&body)
            .read_result(MAX_XML);
        let answer = match self.execute(&call).await {
            Ok(answer) => answer,
            // An attempt whose answer was lost may have completed the upload: a retry then finds it
            // gone (NoSuchUpload, or another refusal). The object at the key says which.
            Err(e) => match self.completed_anyway(upload, parts).await {
                Some(done) => return Ok(done),
                None => return Err(write_refused("CompleteMultipartUpload", options.mode(), e)),
            },
        };
        let root = self::document("CompleteMultipartUpload", answer.body(), "CompleteMultipartUploadResult")?;
        let etag = root.text_of("ETag").map(str::to_owned).or_else(|| answer.header("etag"));
        let checksum = upload.checksum.and_then(|declared| {
            let kind = root.text_of("ChecksumType").or(Some(declared.kind.as_str()));
            let written = root.text_of(declared.algorithm.element())?;
            StoredChecksum::parse(declared.algorithm, written, kind).ok()
        });
        Ok(PutObjectOutput::new(etag).with_checksum(checksum))
    }

    /// After a failed CompleteMultipartUpload: the upload's object when the key holds exactly it, known
    /// by its ETag, which S3 derives from the parts' (`md5(part MD5s)-count`). Anything else (no
    /// object, another object, ETags that are not MD5s) is `None`: the failure stands.
    async fn completed_anyway(&self, upload: &MultipartUpload, parts: &[CompletedPart]) -> Option<PutObjectOutput> {
        let expected = multipart_etag(parts)?;
        let meta = self.head(&upload.key, &GetOptions::new()).await.ok()??;
        let etag = meta.etag?;
        if etag.trim_matches('"') != expected {
            return None;
        }
        crate::trace::event!(
            info,
            "CompleteMultipartUpload: an answer was lost, but the key holds the completed upload"
        );
        Some(PutObjectOutput::new(Some(etag)))
    }

    /// R2's rule, checked on the stored parts before completing: every part but the last of one
    /// size, the last not larger.
    async fn check_even_parts(&self, upload: &MultipartUpload, parts: &[CompletedPart]) -> Result<()> {
        let stored = self.parts_of(upload).all().await?;
        let size_of = |number: PartNumber| stored.iter().find(|p| p.number == number).map(|p| p.size);
        let Some(first) = parts.first().and_then(|p| size_of(p.number)) else { return Ok(()) };
        for (i, part) in parts.iter().enumerate().skip(1) {
            let Some(size) = size_of(part.number) else { continue };
            let last = i + 1 == parts.len();
            if (!last && size != first) || (last && size > first) {
                crate::trace::event!(
                    warn,
                    part = part.number.get(),
                    size,
                    expected = first,
                    "refused before completing: Cloudflare R2 needs parts of one size"
                );
                return Err(MultipartError::UnevenParts { number: part.number.get(), size, expected: first }.into());
            }
        }
        Ok(())
    }

    pub(crate) async fn abort(&self, upload: &MultipartUpload) -> Result<()> {
        let call = Call::new("AbortMultipartUpload", Method::Delete, Some(&upload.key))
            .query(vec![("uploadId", Cow::Borrowed(upload.upload_id.as_str()))]);
        match self.execute(&call).await {
            Ok(_) => Ok(()),
            // Already gone: what an abort is for.
            Err(e) if e.code() == Some(&S3ErrorCode::NoSuchUpload) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub(crate) fn uploads_under<'a>(&'a self, prefix: &'a str) -> Listing<'a, MultipartUploadInfo> {
        paged("ListMultipartUploads", move |markers: Option<&(String, String)>| {
            let markers = markers.cloned();
            async move { self.uploads_page(prefix, markers).await }
        })
    }

    async fn uploads_page(
        &self,
        prefix: &str,
        markers: Option<(String, String)>,
    ) -> Result<Page<MultipartUploadInfo, (String, String)>> {
        const OP: &str = "ListMultipartUploads";
        let page_size = self.inner.page_size.to_string();
        let mut query = vec![
            ("uploads", Cow::Borrowed("")),
            ("encoding-type", Cow::Borrowed("url")),
            ("max-uploads", Cow::Borrowed(page_size.as_str())),
        ];
        if !prefix.is_empty() {
            query.push(("prefix", Cow::Borrowed(prefix)));
        }
        if let Some((key, id)) = &markers {
            query.push(("key-marker", Cow::Borrowed(key.as_str())));
            query.push(("upload-id-marker", Cow::Borrowed(id.as_str())));
        }
        let call = Call::new(OP, Method::Get, None).query(query).read_body(MAX_XML);
        let answer = self.execute(&call).await?;
        let root = document(OP, answer.body(), "ListMultipartUploadsResult")?;
        let url_encoded = root.text_of("EncodingType").is_some_and(|e| e.eq_ignore_ascii_case("url"));
        let mut entries = Vec::new();
        for entry in root.children("Upload") {
            let key = entry.text_of("Key").ok_or_else(|| invalid(OP, "an upload without a Key"))?;
            let id = entry.text_of("UploadId").ok_or_else(|| invalid(OP, "an upload without an UploadId"))?;
            let upload_id = UploadId::new(id.trim()).map_err(|e| invalid(OP, e.to_string()))?;
            let upload = MultipartUpload::new(listed_key(OP, key, url_encoded)?, upload_id);
            entries.push(MultipartUploadInfo::new(upload, entry.text_of("Initiated").and_then(dates::parse_iso8601)));
        }
        let truncated = root.text_of("IsTruncated").is_some_and(|t| t.trim() == "true");
        if !truncated {
            return Ok(Page { entries, next: None });
        }
        let next_key = root.text_of("NextKeyMarker").map(|k| listed_key(OP, k, url_encoded)).transpose()?;
        let next_id = root.text_of("NextUploadIdMarker").map(str::to_owned);
        match (next_key, next_id) {
            (Some(key), Some(id)) => Ok(Page { entries, next: Some((key, id)) }),
            _ => Err(invalid(OP, "the listing is truncated but carries no markers")),
        }
    }
}

/// The ETag S3 gives an object completed from `parts`: the MD5 of the parts' MD5s, then `-` and their
/// count. `None` when a part's ETag is not an MD5 (encrypted with KMS, for example).
fn multipart_etag(parts: &[CompletedPart]) -> Option<String> {
    use md5::Digest;
    let mut hash = md5::Md5::new();
    for part in parts {
        let digest = hex::decode(part.etag.trim_matches('"')).ok()?;
        if digest.len() != 16 {
            return None;
        }
        hash.update(&digest);
    }
    Some(format!("{}-{}", hex::encode(hash.finalize()), parts.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_the_documents_expected() {
        assert!(document("op", b"<Error><Code>X</Code></Error>", "CompleteMultipartUploadResult").is_err());
        let root = document(
            "op",
            b"\n   \n<?xml version=\"1.0\"?><CompleteMultipartUploadResult><ETag>&quot;e-2&quot;</ETag></CompleteMultipartUploadResult>",
            "CompleteMultipartUploadResult",
        )
        .unwrap();
        assert_eq!(root.text_of("ETag"), Some("\"e-2\""));
    }
}
