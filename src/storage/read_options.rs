//! The options of reads: ranges, conditions and response overrides ([`GetOptions`], [`ByteRange`]),
//! and listings ([`ListOptions`]). Each is set with `with_*` methods and read back with getters of
//! the same name.

use super::disposition::{Disposition, content_disposition};

/// Options of a read (GET or HEAD): a byte range, conditions on the object's version, and overrides
/// of the response headers (the name a browser saves the file under, its type, caching).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct GetOptions {
    range: Option<ByteRange>,
    if_match: Option<String>,
    if_none_match: Option<String>,
    response_content_disposition: Option<String>,
    response_content_type: Option<String>,
    response_cache_control: Option<String>,
    checksum_mode: bool,
}

impl GetOptions {
    /// The whole object, as stored.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fetch only `range`.
    pub fn with_range(mut self, range: ByteRange) -> Self {
        self.range = Some(range);
        self
    }

    /// `If-Match`: read only the version with this ETag; another one is
    /// [`Error::PreconditionFailed`](crate::Error::PreconditionFailed) (resuming a download, or
    /// reading exactly the object that was verified).
    pub fn with_if_match(mut self, etag: impl Into<String>) -> Self {
        self.if_match = Some(etag.into());
        self
    }

    /// `If-None-Match`: read only if the object's ETag is not this one (`*`: if there is none); the
    /// same one is [`Error::NotModified`](crate::Error::NotModified) (a cache that is still fresh).
    pub fn with_if_none_match(mut self, etag: impl Into<String>) -> Self {
        self.if_none_match = Some(etag.into());
        self
    }

    /// Download as an attachment saved under `filename` (any Unicode; encoded per RFC 6266 / 5987).
    pub fn with_attachment(mut self, filename: &str) -> Self {
        self.response_content_disposition = Some(content_disposition(Disposition::Attachment, filename));
        self
    }

    /// Show inline, with `filename` as the name to save under.
    pub fn with_inline(mut self, filename: &str) -> Self {
        self.response_content_disposition = Some(content_disposition(Disposition::Inline, filename));
        self
    }

    /// Override the `Content-Type` of the response.
    pub fn with_response_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.response_content_type = Some(content_type.into());
        self
    }

    /// Override the `Cache-Control` of the response.
    pub fn with_response_cache_control(mut self, value: impl Into<String>) -> Self {
        self.response_cache_control = Some(value.into());
        self
    }

    /// The range, if any.
    #[must_use]
    pub fn range(&self) -> Option<ByteRange> {
        self.range
    }

    /// The ETag the object must have, if any.
    #[must_use]
    pub fn if_match(&self) -> Option<&str> {
        self.if_match.as_deref()
    }

    /// The ETag the object must not have, if any.
    #[must_use]
    pub fn if_none_match(&self) -> Option<&str> {
        self.if_none_match.as_deref()
    }

    /// The `Content-Disposition` the response is given, if overridden.
    #[must_use]
    pub fn response_content_disposition(&self) -> Option<&str> {
        self.response_content_disposition.as_deref()
    }

    /// The `Content-Type` the response is given, if overridden.
    #[must_use]
    pub fn response_content_type(&self) -> Option<&str> {
        self.response_content_type.as_deref()
    }

    /// The `Cache-Control` the response is given, if overridden.
    #[must_use]
    pub fn response_cache_control(&self) -> Option<&str> {
        self.response_cache_control.as_deref()
    }

    /// The request headers: the range and the conditions.
    pub(crate) fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = Vec::new();
        if let Some(range) = &self.range {
            headers.push(("range", range.header_value()));
        }
        if let Some(etag) = &self.if_match {
            headers.push(("if-match", etag.clone()));
        }
        if let Some(etag) = &self.if_none_match {
            headers.push(("if-none-match", etag.clone()));
        }
        headers
    }

    /// Ask for the checksum the bucket keeps (`x-amz-checksum-mode: ENABLED`): a HEAD returns it in
    /// [`ObjectMeta::checksum`](super::ObjectMeta::checksum), and a GET of the whole object also
    /// checks the body against it while it streams, failing at the end with
    /// [`Error::ChecksumMismatch`](crate::Error::ChecksumMismatch) when it differs. (A composite
    /// checksum, of a multipart upload's parts, cannot be checked against the whole body: it is
    /// returned, not checked.)
    pub fn with_checksum_mode(mut self, enabled: bool) -> Self {
        self.checksum_mode = enabled;
        self
    }

    /// Whether the bucket's checksum is asked for (and a whole GET checked against it).
    #[must_use]
    pub fn checksum_mode(&self) -> bool {
        self.checksum_mode
    }

    /// The query parameters of the overrides.
    pub(crate) fn query(&self) -> Vec<(&'static str, &str)> {
        let mut q = Vec::new();
        if let Some(v) = &self.response_cache_control {
            q.push(("response-cache-control", v.as_str()));
        }
        if let Some(v) = &self.response_content_disposition {
            q.push(("response-content-disposition", v.as_str()));
        }
        if let Some(v) = &self.response_content_type {
            q.push(("response-content-type", v.as_str()));
        }
        q
    }
}

/// A range of bytes of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteRange {
    /// Bytes `start..=end` (both inclusive, as in HTTP).
    Inclusive {
        /// First byte.
        start: u64,
        /// Last byte.
        end: u64,
    },
    /// From `start` to the end.
    From(u64),
    /// The last `n` bytes.
    Last(u64),
}

impl ByteRange {
    /// The first `n` bytes (`n` ≥ 1).
    #[must_use]
    pub fn first(n: u64) -> Self {
        Self::Inclusive { start: 0, end: n.saturating_sub(1) }
    }

    /// The `Range` header value.
    #[must_use]
    pub fn header_value(&self) -> String {
        match self {
            Self::Inclusive { start, end } => format!("bytes={start}-{end}"),
            Self::From(start) => format!("bytes={start}-"),
            Self::Last(n) => format!("bytes=-{n}"),
        }
    }
}

/// Options of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct ListOptions {
    start_after: Option<String>,
    /// `false` by default: every key under the prefix.
    skip_subfolders: bool,
}

impl ListOptions {
    /// From the first key under the prefix.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only keys after `key` (a page of a web listing continues after the last key it showed).
    pub fn with_start_after(mut self, key: impl Into<String>) -> Self {
        self.start_after = Some(key.into());
        self
    }

    /// The key the listing starts after, if any.
    #[must_use]
    pub fn start_after(&self) -> Option<&str> {
        self.start_after.as_deref()
    }

    /// Whether keys in sub-folders are listed (the default): with `false`, only the objects directly
    /// under the prefix, up to the next `/` — `ListObjectsV2` with `delimiter=/`, which servers
    /// answer without visiting the sub-folders (faster where a folder holds a small part of the
    /// bucket). The sub-folders themselves are not listed.
    pub fn with_subfolders(mut self, listed: bool) -> Self {
        self.skip_subfolders = !listed;
        self
    }

    /// Whether keys in sub-folders are listed.
    #[must_use]
    pub fn subfolders(&self) -> bool {
        !self.skip_subfolders
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(ByteRange::first(16).header_value(), "bytes=0-15");
        assert_eq!(ByteRange::From(5).header_value(), "bytes=5-");
        assert_eq!(ByteRange::Last(5).header_value(), "bytes=-5");
    }

    #[test]
    fn read_conditions_are_headers() {
        let o = GetOptions::new().with_range(ByteRange::From(3)).with_if_match("\"a\"").with_if_none_match("*");
        assert_eq!(
            o.headers(),
            [("range", "bytes=3-".to_owned()), ("if-match", "\"a\"".to_owned()), ("if-none-match", "*".to_owned())]
        );
    }
}
