//! What presigning hands to a browser: a request to send ([`PresignedRequest`]) or a form to post
//! ([`PresignedPost`], under a [`PostPolicy`]). Their `Debug` output never shows a signature.

use std::collections::BTreeMap;
use std::fmt;

use time::OffsetDateTime;

use crate::sigv4::redact_query;

/// The conditions of a browser POST upload. Every condition is signed into the policy document; S3
/// rejects a form that breaks one.
///
/// ```
/// use stowage::PostPolicy;
///
/// let policy = PostPolicy::new("uploads/1f3a/photo.jpg")
///     .with_key_starts_with("uploads/1f3a/")
///     .with_content_type("image/jpeg")
///     .with_content_length_range(1, 10 << 20);
/// assert_eq!(policy.content_length_range(), Some((1, 10 << 20)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct PostPolicy {
    key: String,
    key_starts_with: Option<String>,
    content_type: Option<String>,
    content_length_range: Option<(u64, u64)>,
    success_action_status: Option<u16>,
}

impl PostPolicy {
    /// A policy for uploading to exactly `key`.
    pub fn new(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            key_starts_with: None,
            content_type: None,
            content_length_range: None,
            success_action_status: None,
        }
    }

    /// `["starts-with", "$key", prefix]`: accept any key starting with `prefix` (the form's `key`
    /// field still defaults to [`key`](Self::key)).
    pub fn with_key_starts_with(mut self, prefix: impl Into<String>) -> Self {
        self.key_starts_with = Some(prefix.into());
        self
    }

    /// `{"Content-Type": …}`: require exactly this content type.
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// `["content-length-range", min, max]`: require a file size within `min..=max` bytes.
    pub fn with_content_length_range(mut self, min: u64, max: u64) -> Self {
        self.content_length_range = Some((min, max));
        self
    }

    /// `success_action_status`: the status S3 answers a successful upload with (200, 201 or 204;
    /// S3's default is 204).
    pub fn with_success_action_status(mut self, status: u16) -> Self {
        self.success_action_status = Some(status);
        self
    }

    /// The `key` form field.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The prefix every key must start with, if any.
    #[must_use]
    pub fn key_starts_with(&self) -> Option<&str> {
        self.key_starts_with.as_deref()
    }

    /// The exact content type required, if any.
    #[must_use]
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// The size range required, if any.
    #[must_use]
    pub fn content_length_range(&self) -> Option<(u64, u64)> {
        self.content_length_range
    }

    /// The status of a successful upload, if set.
    #[must_use]
    pub fn success_action_status(&self) -> Option<u16> {
        self.success_action_status
    }
}

/// A presigned browser POST upload: post `multipart/form-data` to `url` with `fields` in this order,
/// then the file in a last field called `file`.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PresignedPost {
    /// Where to post the form (the bucket's URL).
    pub url: String,
    /// The form fields, in order; the file goes after them.
    pub fields: Vec<(String, String)>,
    /// When the policy stops being accepted.
    #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
    pub expires_at: OffsetDateTime,
}

impl fmt::Debug for PresignedPost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: Vec<(&str, &str)> = self
            .fields
            .iter()
            .map(|(k, v)| match k.as_str() {
                "x-amz-signature" | "x-amz-security-token" | "policy" => (k.as_str(), "** redacted **"),
                _ => (k.as_str(), v.as_str()),
            })
            .collect();
        f.debug_struct("PresignedPost")
            .field("url", &self.url)
            .field("fields", &fields)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A request presigned for a browser or another client: send `method` to `url` with exactly these
/// `headers` before `expires_at`.
///
/// With the `serde` feature it serialises as `{"method", "url", "headers": {name: value},
/// "expires_at": RFC 3339}`, ready to return from a JSON endpoint. Its `Debug` output hides the query
/// string, which is a bearer credential.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PresignedRequest {
    /// `PUT`, `GET`, …
    pub method: String,
    /// The presigned URL.
    pub url: String,
    /// The headers the client must send, exactly (lowercase names).
    pub headers: BTreeMap<String, String>,
    /// When the URL stops working.
    #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
    pub expires_at: OffsetDateTime,
}

impl fmt::Debug for PresignedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresignedRequest")
            .field("method", &self.method)
            .field("url", &redact_query(&self.url))
            .field("headers", &self.headers)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl From<crate::sigv4::PresignedUrl> for PresignedRequest {
    fn from(p: crate::sigv4::PresignedUrl) -> Self {
        let method = p.method().as_str().to_owned();
        let expires_at = p.expires_at();
        let headers = p.headers().iter().map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned())).collect();
        Self { method, url: p.into_url(), headers, expires_at }
    }
}
