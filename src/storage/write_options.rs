//! The options of writes: what an object is stored with ([`PutOptions`]), whether a write may replace
//! what is at its key ([`PutMode`]), copies ([`CopyOptions`], [`CopySource`]), presigned parts
//! ([`PartOptions`]) and completions ([`CompleteOptions`]). Each is set with `with_*` methods and read
//! back with getters of the same name.

use std::ops::Range;

use crate::checksum::{Checksum, ChecksumAlgorithm, ChecksumType};

/// Whether a write may replace what is at its key: always, never, or only one version of it.
///
/// A condition is checked by the storage itself, at the moment of the write: two writers racing for
/// one key cannot both win. A write whose condition does not hold fails with
/// [`Error::PreconditionFailed`](crate::Error::PreconditionFailed) and writes nothing.
///
/// | mode | header | where it applies |
/// |---|---|---|
/// | [`Overwrite`](Self::Overwrite) (default) | – | – |
/// | [`Create`](Self::Create) | `If-None-Match: *` | PutObject, presigned PUT, CompleteMultipartUpload, CopyObject |
/// | [`Update`](Self::Update) | `If-Match: <etag>` | the same |
///
/// Amazon S3 checks both on every write listed (conditional copies since 2025), and so does
/// Cloudflare R2 (a copy's through its own `cf-copy-destination-if-none-match` and
/// `cf-copy-destination-if-match`, which the backend sends for R2); the conformance suite
/// (`stowage::testing::conformance::conditional_writes`) records what another server does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum PutMode {
    /// Write whatever is at the key.
    #[default]
    Overwrite,
    /// Write only if nothing is at the key.
    Create,
    /// Write only if the object at the key has this ETag (as [`ObjectMeta::etag`](super::ObjectMeta::etag)
    /// gives it).
    Update(String),
}

impl PutMode {
    /// The header that carries the condition, if any.
    #[must_use]
    pub fn header(&self) -> Option<(&'static str, &str)> {
        match self {
            Self::Overwrite => None,
            Self::Create => Some(("if-none-match", "*")),
            Self::Update(etag) => Some(("if-match", etag.as_str())),
        }
    }
}

/// The headers an object is stored with, for uploads and presigned uploads, and whether the write
/// may replace what is at the key ([`PutMode`]).
///
/// Every header becomes a signed header. Build it with the chained methods:
///
/// ```
/// use stowage::PutOptions;
///
/// let options = PutOptions::new()
///     .with_content_type("image/png")
///     .with_content_length(48_213)
///     .with_cache_control("public, max-age=31536000, immutable")
///     .with_metadata("uploaded-by", "user-42");
/// assert_eq!(options.header("Content-Type"), Some("image/png"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct PutOptions {
    headers: Vec<(String, String)>,
    mode: PutMode,
    checksum: Option<ChecksumAlgorithm>,
    checksum_value: Option<Checksum>,
    checksum_type: Option<ChecksumType>,
}

impl PutOptions {
    /// No headers; the write replaces whatever is at the key.
    pub fn new() -> Self {
        Self::default()
    }

    fn set(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// `Content-Type`, signed: a presigned upload must send exactly this type.
    pub fn with_content_type(self, content_type: impl Into<String>) -> Self {
        self.set("content-type", content_type)
    }

    /// `Content-Length`, signed: a presigned upload must be exactly this long. (For
    /// [`Storage::put_object`](super::Storage::put_object) the length comes from the body.)
    pub fn with_content_length(self, length: u64) -> Self {
        self.set("content-length", length.to_string())
    }

    /// `Cache-Control` stored with the object and sent with every download.
    pub fn with_cache_control(self, value: impl Into<String>) -> Self {
        self.set("cache-control", value)
    }

    /// `Content-Disposition` stored with the object (see [`content_disposition`](crate::content_disposition) to build one).
    pub fn with_content_disposition(self, value: impl Into<String>) -> Self {
        self.set("content-disposition", value)
    }

    /// `Content-Encoding` stored with the object.
    pub fn with_content_encoding(self, value: impl Into<String>) -> Self {
        self.set("content-encoding", value)
    }

    /// A user metadata entry, `x-amz-meta-<name>` (ASCII values; encode others first).
    pub fn with_metadata(self, name: &str, value: impl Into<String>) -> Self {
        let header = format!("x-amz-meta-{}", name.to_ascii_lowercase());
        self.set(&header, value)
    }

    /// `x-amz-storage-class`, such as `STANDARD_IA`.
    pub fn with_storage_class(self, class: impl Into<String>) -> Self {
        self.set("x-amz-storage-class", class)
    }

    /// A canned ACL, `x-amz-acl` (AWS S3; refused by R2).
    pub fn with_acl(self, acl: impl Into<String>) -> Self {
        self.set("x-amz-acl", acl)
    }

    /// Server-side encryption, `x-amz-server-side-encryption` (`AES256` or `aws:kms`; refused by R2).
    pub fn with_server_side_encryption(self, algorithm: impl Into<String>) -> Self {
        self.set("x-amz-server-side-encryption", algorithm)
    }

    /// Object tags, `x-amz-tagging` (URL-encoded `k=v&k2=v2`; refused by R2).
    pub fn with_tagging(self, tags: &[(&str, &str)]) -> Self {
        let encoded = tags
            .iter()
            .map(|(k, v)| format!("{}={}", crate::sigv4::encode_component(k), crate::sigv4::encode_component(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.set("x-amz-tagging", encoded)
    }

    /// Any other header to store and sign with the object (such as `x-amz-object-lock-mode`,
    /// `content-language`, `expires`).
    pub fn with_header(self, name: &str, value: impl Into<String>) -> Self {
        self.set(&name.to_ascii_lowercase(), value)
    }

    /// Whether the write may replace what is at the key (default [`PutMode::Overwrite`]).
    pub fn with_mode(mut self, mode: PutMode) -> Self {
        self.mode = mode;
        self
    }

    /// A checksum the bucket verifies, computed by stowage from the bytes as they are sent
    /// (`x-amz-checksum-<algorithm>`; after the bytes, as S3's streaming trailer, for a stream or a
    /// file). A multipart upload declares it when it is created, and every part sends its own. Bytes
    /// altered on the way are refused by the bucket ([`Error::ChecksumMismatch`](crate::Error::ChecksumMismatch)),
    /// and nothing is stored. (Not for presigned requests: nothing there computes it; give the value
    /// with [`with_checksum_value`](Self::with_checksum_value).)
    pub fn with_checksum(mut self, algorithm: ChecksumAlgorithm) -> Self {
        self.checksum = Some(algorithm);
        self
    }

    /// The checksum the bytes must have (the browser's own, say), sent and signed as a header: the
    /// bucket refuses any other bytes. On a presigned PUT it is among the headers the client must
    /// send.
    pub fn with_checksum_value(mut self, checksum: Checksum) -> Self {
        self.checksum = Some(checksum.algorithm());
        self.checksum_value = Some(checksum);
        self
    }

    /// How a multipart upload's checksum is made from its parts (default: the algorithm's
    /// [`default_type`](ChecksumAlgorithm::default_type)).
    pub fn with_checksum_type(mut self, kind: ChecksumType) -> Self {
        self.checksum_type = Some(kind);
        self
    }

    /// The checksum algorithm, if any.
    #[must_use]
    pub fn checksum(&self) -> Option<ChecksumAlgorithm> {
        self.checksum
    }

    /// The checksum value the bytes must have, if given.
    #[must_use]
    pub fn checksum_value(&self) -> Option<&Checksum> {
        self.checksum_value.as_ref()
    }

    /// The multipart checksum type, if set.
    #[must_use]
    pub fn checksum_type(&self) -> Option<ChecksumType> {
        self.checksum_type
    }

    /// The headers the object is stored with, lowercase names, in the order set (the mode's
    /// condition is not among them: see [`mode`](Self::mode)).
    #[must_use]
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The value of one header.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Whether the write may replace what is at the key.
    #[must_use]
    pub fn mode(&self) -> &PutMode {
        &self.mode
    }
}

/// How [`Storage::copy_object`](super::Storage::copy_object) copies.
///
/// ```
/// use stowage::{CopyOptions, PutMode, PutOptions};
///
/// // The object that was verified, to a key nothing holds yet, with a long cache lifetime.
/// let options = CopyOptions::new()
///     .with_source_if_match("\"9b2cf535f27731c974343645a3985328\"")
///     .with_mode(PutMode::Create)
///     .with_headers(PutOptions::new().with_content_type("image/png").with_cache_control("max-age=31536000"));
/// assert_eq!(options.mode(), &PutMode::Create);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct CopyOptions {
    headers: Option<PutOptions>,
    source_if_match: Option<String>,
    mode: PutMode,
}

impl CopyOptions {
    /// Copy type and metadata with the bytes, over whatever is at the destination.
    pub fn new() -> Self {
        Self::default()
    }

    /// Store the copy with these headers (type, metadata, cache control, …) instead of the source's.
    /// (Their mode is not used: set the destination's with [`with_mode`](Self::with_mode).)
    pub fn with_headers(mut self, headers: PutOptions) -> Self {
        self.headers = Some(headers);
        self
    }

    /// Copy only the version of the source with this ETag (as
    /// [`ObjectMeta::etag`](super::ObjectMeta::etag) gives it): the object verified is the object
    /// copied.
    pub fn with_source_if_match(mut self, etag: impl Into<String>) -> Self {
        self.source_if_match = Some(etag.into());
        self
    }

    /// Whether the copy may replace what is at the destination (default [`PutMode::Overwrite`]).
    pub fn with_mode(mut self, mode: PutMode) -> Self {
        self.mode = mode;
        self
    }

    /// The headers the copy is stored with instead of the source's, if any.
    #[must_use]
    pub fn headers(&self) -> Option<&PutOptions> {
        self.headers.as_ref()
    }

    /// The ETag the source must have, if any.
    #[must_use]
    pub fn source_if_match(&self) -> Option<&str> {
        self.source_if_match.as_deref()
    }

    /// Whether the copy may replace what is at the destination.
    #[must_use]
    pub fn mode(&self) -> &PutMode {
        &self.mode
    }
}

/// What [`Storage::upload_part_copy`](super::Storage::upload_part_copy) copies into a part: an object,
/// or a range of it, on the condition that it is still the version expected.
///
/// ```
/// use stowage::CopySource;
///
/// let source = CopySource::new("staging/1f3a/part-1").with_range(0..8 << 20).with_if_match("\"e1\"");
/// assert_eq!(source.range(), Some(0..8 << 20));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct CopySource {
    key: String,
    range: Option<Range<u64>>,
    if_match: Option<String>,
}

impl CopySource {
    /// The whole object at `key`, whatever its version.
    pub fn new(key: impl Into<String>) -> Self {
        Self { key: key.into(), range: None, if_match: None }
    }

    /// Only the bytes `range` (end exclusive).
    pub fn with_range(mut self, range: Range<u64>) -> Self {
        self.range = Some(range);
        self
    }

    /// Only if the source's ETag is this one.
    pub fn with_if_match(mut self, etag: impl Into<String>) -> Self {
        self.if_match = Some(etag.into());
        self
    }

    /// The source's key.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The bytes copied, if not all.
    #[must_use]
    pub fn range(&self) -> Option<Range<u64>> {
        self.range.clone()
    }

    /// The ETag the source must have, if any.
    #[must_use]
    pub fn if_match(&self) -> Option<&str> {
        self.if_match.as_deref()
    }
}

/// Options of a presigned part upload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct PartOptions {
    content_length: Option<u64>,
    checksum: Option<Checksum>,
}

impl PartOptions {
    /// A part of any size the service accepts.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sign the part's exact size: the bucket refuses a part of any other.
    pub fn with_content_length(mut self, length: u64) -> Self {
        self.content_length = Some(length);
        self
    }

    /// The size signed, if any.
    #[must_use]
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// Sign the part's checksum as a header: the bucket refuses any other bytes. The upload must
    /// have been created with this algorithm ([`PutOptions::with_checksum`]).
    pub fn with_checksum_value(mut self, checksum: Checksum) -> Self {
        self.checksum = Some(checksum);
        self
    }

    /// The checksum signed, if any.
    #[must_use]
    pub fn checksum_value(&self) -> Option<&Checksum> {
        self.checksum.as_ref()
    }
}

/// Options of [`Storage::complete_multipart_upload`](super::Storage::complete_multipart_upload).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct CompleteOptions {
    mode: PutMode,
    checksum: Option<Checksum>,
}

impl CompleteOptions {
    /// Complete over whatever is at the key.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the completed object may replace what is at the key (default
    /// [`PutMode::Overwrite`]).
    pub fn with_mode(mut self, mode: PutMode) -> Self {
        self.mode = mode;
        self
    }

    /// Whether the completed object may replace what is at the key.
    #[must_use]
    pub fn mode(&self) -> &PutMode {
        &self.mode
    }

    /// The full-object checksum the whole object must have (of an upload created with a
    /// full-object checksum): the bucket refuses the completion otherwise.
    pub fn with_checksum_value(mut self, checksum: Checksum) -> Self {
        self.checksum = Some(checksum);
        self
    }

    /// The whole object's checksum, if given.
    #[must_use]
    pub fn checksum_value(&self) -> Option<&Checksum> {
        self.checksum.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_options_replace_and_lowercase() {
        let o = PutOptions::new()
            .with_content_type("a")
            .with_content_type("b")
            .with_metadata("Who", "me")
            .with_header("X-Custom", "1");
        assert_eq!(
            o.headers(),
            [
                ("content-type".to_owned(), "b".to_owned()),
                ("x-amz-meta-who".to_owned(), "me".to_owned()),
                ("x-custom".to_owned(), "1".to_owned())
            ]
        );
        assert_eq!(o.header("Content-Type"), Some("b"));
        assert_eq!(o.mode(), &PutMode::Overwrite);
    }

    #[test]
    fn modes_are_headers() {
        assert_eq!(PutMode::Overwrite.header(), None);
        assert_eq!(PutMode::Create.header(), Some(("if-none-match", "*")));
        assert_eq!(PutMode::Update("\"e\"".into()).header(), Some(("if-match", "\"e\"")));
    }
}
