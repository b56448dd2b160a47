//! What signing produces.

use std::fmt;

use time::OffsetDateTime;

use super::Method;

const REDACTED: &str = "** redacted **";

/// A presigned request: the URL, the method, and the headers the client must send with it.
///
/// The URL is a bearer credential until it expires: its `Debug` output shows it without the query
/// string.
#[derive(Clone, PartialEq, Eq)]
pub struct PresignedUrl {
    method: Method,
    /// The URL, then `name\nvalue\n` for each header (one allocation for both).
    text: String,
    url_len: usize,
    signed_at: OffsetDateTime,
    expires_in: u64,
}

impl PresignedUrl {
    /// `text` holds the URL; the headers are appended to it.
    pub(crate) fn new<'h>(
        method: Method,
        mut text: String,
        headers: impl IntoIterator<Item = (&'h str, &'h str)>,
        signed_at: OffsetDateTime,
        expires_in: u64,
    ) -> Self {
        let url_len = text.len();
        for (name, value) in headers {
            text.push_str(name);
            text.push('\n');
            text.push_str(value);
            text.push('\n');
        }
        Self { method, text, url_len, signed_at, expires_in }
    }

    /// The method the URL is signed for.
    #[must_use]
    pub fn method(&self) -> Method {
        self.method
    }

    /// The presigned URL.
    #[must_use]
    pub fn url(&self) -> &str {
        self.text.get(..self.url_len).unwrap_or_default()
    }

    /// The signed headers the client must send, exactly as given (`host` excepted: the HTTP client
    /// sets it from the URL).
    #[must_use]
    pub fn headers(&self) -> PresignedHeaders<'_> {
        PresignedHeaders { text: self.text.get(self.url_len..).unwrap_or_default() }
    }

    /// When the URL was signed (whole seconds, UTC).
    #[must_use]
    pub fn signed_at(&self) -> OffsetDateTime {
        self.signed_at
    }

    /// How long the URL is valid, in seconds from [`signed_at`](Self::signed_at).
    #[must_use]
    pub fn expires_in(&self) -> u64 {
        self.expires_in
    }

    /// The instant the URL stops working.
    #[must_use]
    pub fn expires_at(&self) -> OffsetDateTime {
        let secs = i64::try_from(self.expires_in).unwrap_or(i64::MAX);
        self.signed_at.checked_add(time::Duration::seconds(secs)).unwrap_or(self.signed_at)
    }

    /// Takes the URL and the headers out.
    #[must_use]
    pub fn into_parts(self) -> (String, Vec<(String, String)>) {
        let headers = self.headers().iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        (self.into_url(), headers)
    }

    /// Takes the URL out (when the headers are known to the caller, or there are none).
    #[must_use]
    pub fn into_url(mut self) -> String {
        self.text.truncate(self.url_len);
        self.text
    }
}

/// The headers a presigned request must be sent with, names and values exactly as they were given to
/// the signer, in that order.
///
/// ```
/// # use stowage::sigv4::{parse_amz_date, BucketAddress, Method, Signer};
/// # let signer = Signer::new(stowage::Credentials::new("AKID", "secret"), "us-east-1", "s3")?;
/// # let bucket = BucketAddress::aws("us-east-1", "b")?;
/// let put = bucket.object(Method::Put, "a.png")?.header("Content-Type", "image/png");
/// let presigned = signer.presign(&put, std::time::Duration::from_secs(60), parse_amz_date("20250101T000000Z")?)?;
/// assert_eq!(presigned.headers().get("content-type"), Some("image/png"));
/// assert_eq!(presigned.headers().iter().collect::<Vec<_>>(), [("Content-Type", "image/png")]);
/// # Ok::<(), stowage::sigv4::Error>(())
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct PresignedHeaders<'a> {
    /// `name\nvalue\n` for each header (the signer refuses CR and LF in names and values).
    text: &'a str,
}

impl<'a> PresignedHeaders<'a> {
    /// The headers, as `(name, value)`.
    #[must_use]
    pub fn iter(&self) -> PresignedHeadersIter<'a> {
        PresignedHeadersIter { lines: self.text.split_terminator('\n') }
    }

    /// The value of a header (names compared without regard to case).
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    /// How many headers.
    #[must_use]
    pub fn len(&self) -> usize {
        self.text.bytes().filter(|&b| b == b'\n').count() / 2
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }
}

impl<'a> IntoIterator for PresignedHeaders<'a> {
    type Item = (&'a str, &'a str);
    type IntoIter = PresignedHeadersIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// The `(name, value)` pairs of [`PresignedHeaders`].
#[derive(Debug, Clone)]
pub struct PresignedHeadersIter<'a> {
    lines: std::str::SplitTerminator<'a, char>,
}

impl<'a> Iterator for PresignedHeadersIter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        Some((self.lines.next()?, self.lines.next()?))
    }
}

impl fmt::Debug for PresignedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl fmt::Debug for PresignedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresignedUrl")
            .field("method", &self.method)
            .field("url", &redact_query(self.url()))
            .field("headers", &self.headers())
            .field("signed_at", &self.signed_at)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// A URL with its query string replaced by a marker, for logs and errors.
#[must_use]
pub fn redact_query(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?{REDACTED}"),
        None => url.to_owned(),
    }
}

/// The headers that authenticate a request signed with [`Signer::sign`](super::Signer::sign), to add
/// to the request's own headers: `x-amz-date`, `x-amz-content-sha256` (S3), `x-amz-security-token`
/// (temporary credentials) and `authorization`. Names are lowercase.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthHeaders {
    headers: Vec<(&'static str, String)>,
    signed_at: OffsetDateTime,
}

impl AuthHeaders {
    pub(crate) fn new(headers: Vec<(&'static str, String)>, signed_at: OffsetDateTime) -> Self {
        Self { headers, signed_at }
    }

    /// The headers, in the order botocore adds them.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.headers.iter().map(|(k, v)| (*k, v.as_str()))
    }

    /// The value of one of the headers.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The `Authorization` header value.
    #[must_use]
    pub fn authorization(&self) -> &str {
        self.get("authorization").unwrap_or_default()
    }

    /// The signature alone (64 hex digits).
    #[must_use]
    pub fn signature(&self) -> &str {
        self.authorization().rsplit_once("Signature=").map(|(_, s)| s).unwrap_or_default()
    }

    /// When the request was signed.
    #[must_use]
    pub fn signed_at(&self) -> OffsetDateTime {
        self.signed_at
    }
}

impl<'a> IntoIterator for &'a AuthHeaders {
    type Item = (&'static str, &'a str);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (&'static str, String)>,
        fn(&'a (&'static str, String)) -> (&'static str, &'a str),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.headers.iter().map(|(k, v)| (*k, v.as_str()))
    }
}

impl fmt::Debug for AuthHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| match *k {
                "x-amz-security-token" | "authorization" => (*k, REDACTED),
                _ => (*k, v.as_str()),
            })
            .collect();
        f.debug_struct("AuthHeaders").field("headers", &shown).field("signed_at", &self.signed_at).finish()
    }
}

/// The intermediate results of a signature, for comparing with what a server computed (S3 returns
/// its canonical request and string to sign with `SignatureDoesNotMatch`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SigningDetails {
    pub(crate) canonical_request: String,
    pub(crate) string_to_sign: String,
    pub(crate) signature: String,
}

impl SigningDetails {
    /// The canonical request, exactly as hashed.
    #[must_use]
    pub fn canonical_request(&self) -> &str {
        &self.canonical_request
    }

    /// The string to sign.
    #[must_use]
    pub fn string_to_sign(&self) -> &str {
        &self.string_to_sign
    }

    /// The signature, 64 lowercase hex digits.
    #[must_use]
    pub fn signature(&self) -> &str {
        &self.signature
    }
}

impl fmt::Debug for SigningDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningDetails")
            .field("canonical_request", &redact_token(&self.canonical_request))
            .field("string_to_sign", &self.string_to_sign)
            .field("signature", &REDACTED)
            .finish()
    }
}

/// A canonical request with any session token replaced by a marker.
#[must_use]
pub fn redact_token(canonical_request: &str) -> String {
    let mut out = String::with_capacity(canonical_request.len());
    for (i, line) in canonical_request.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if line.starts_with("x-amz-security-token:") {
            out.push_str("x-amz-security-token:");
            out.push_str(REDACTED);
            continue;
        }
        let mut first = true;
        for param in line.split('&') {
            if !first {
                out.push('&');
            }
            first = false;
            match param.split_once('=') {
                Some((name, _)) if name.eq_ignore_ascii_case("X-Amz-Security-Token") => {
                    out.push_str(name);
                    out.push('=');
                    out.push_str(REDACTED);
                }
                _ => out.push_str(param),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction() {
        assert_eq!(redact_query("https://h/k?X-Amz-Signature=abc"), "https://h/k?** redacted **");
        assert_eq!(redact_query("https://h/k"), "https://h/k");
        let creq = "GET\n/\nA=1&X-Amz-Security-Token=SECRET&Z=2\nhost:h\nx-amz-security-token:SECRET\n\nhost\nX";
        let shown = redact_token(creq);
        assert!(!shown.contains("SECRET"));
        assert!(shown.contains("A=1&X-Amz-Security-Token=** redacted **&Z=2"));
    }
}
