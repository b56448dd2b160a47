//! The request to be signed: what goes in.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use super::Error;

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// `GET`
    Get,
    /// `PUT`
    Put,
    /// `POST`
    Post,
    /// `HEAD`
    Head,
    /// `DELETE`
    Delete,
    /// `PATCH`
    Patch,
    /// `OPTIONS`
    Options,
}

impl Method {
    /// The method as it appears on the request line.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Put => "PUT",
            Self::Post => "POST",
            Self::Head => "HEAD",
            Self::Delete => "DELETE",
            Self::Patch => "PATCH",
            Self::Options => "OPTIONS",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = Error;

    /// Parses a method name, ignoring ASCII case (`put` and `PUT` are both [`Method::Put`]).
    fn from_str(s: &str) -> Result<Self, Error> {
        const ALL: [Method; 7] =
            [Method::Get, Method::Put, Method::Post, Method::Head, Method::Delete, Method::Patch, Method::Options];
        ALL.into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| Error::InvalidMethod { method: s.chars().take(32).collect() })
    }
}

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP (default port 80): only for local servers.
    Http,
    /// HTTPS (default port 443).
    Https,
}

impl Scheme {
    /// `"http"` or `"https"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }

    /// The port a URL of this scheme uses when it names none.
    #[must_use]
    pub const fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }
}

/// What the signature says about the request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload<'a> {
    /// `UNSIGNED-PAYLOAD`: the body is not covered by the signature. The only choice S3 offers for
    /// presigned URLs, and a common one for uploads signed with a header (TLS protects the body).
    Unsigned,
    /// The body itself: its SHA-256 is computed and signed.
    Bytes(&'a [u8]),
    /// The hex SHA-256 of the body, computed by the caller (for example while streaming a file).
    Sha256Hex(&'a str),
}

impl Payload<'_> {
    /// SHA-256 of the empty body, the payload hash of GET, HEAD and DELETE requests.
    pub const EMPTY_SHA256: &'static str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// An empty body, hashed (`e3b0c442…`), as botocore signs HEAD, GET and DELETE.
    pub const EMPTY: Payload<'static> = Payload::Sha256Hex(Self::EMPTY_SHA256);
}

/// One HTTP request, described for signing.
///
/// The path is the one that goes on the wire, already percent-encoded (use
/// [`BucketAddress::object`](super::BucketAddress::object) to build it from an S3 key). Query
/// parameters are given decoded; the signer encodes them. Headers are given as they will be sent;
/// every one of them is signed, so pass only the headers the receiver must see unchanged.
#[derive(Clone, PartialEq, Eq)]
#[must_use]
pub struct Request<'a> {
    pub(crate) method: Method,
    pub(crate) scheme: Scheme,
    pub(crate) authority: Cow<'a, str>,
    pub(crate) path: Cow<'a, str>,
    pub(crate) query: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    pub(crate) headers: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// The payload, as a kind and the bytes of the variant: with the method and scheme in one word,
    /// a `Request` stays within 128 bytes, which the builder methods move in registers rather than
    /// through `memcpy` (a presign with two headers moves it five times).
    payload_kind: PayloadKind,
    payload_data: &'a [u8],
    /// Set by [`BucketAddress`](super::BucketAddress), which checked the host and built the path
    /// itself: the canonical host, and that the path needs no checking.
    pub(crate) checked: Option<&'a String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PayloadKind {
    Unsigned,
    Bytes,
    Sha256Hex,
}

impl<'a> Request<'a> {
    /// A request for `scheme://authority/path`, where `authority` is `host[:port]` and `path` is the
    /// percent-encoded path as sent (starting with `/`). The payload defaults to
    /// [`Payload::Unsigned`].
    pub fn new(
        method: Method,
        scheme: Scheme,
        authority: impl Into<Cow<'a, str>>,
        path: impl Into<Cow<'a, str>>,
    ) -> Self {
        Self {
            method,
            scheme,
            authority: authority.into(),
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            payload_kind: PayloadKind::Unsigned,
            payload_data: &[],
            checked: None,
        }
    }

    /// Splits an absolute `http` or `https` URL into a request, without normalising its path. The
    /// query string is percent-decoded into parameters (`+` stays a plus sign, as in SigV4).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] when the URL is not absolute `http(s)://host/...`.
    pub fn from_url(method: Method, url: &'a str) -> Result<Self, Error> {
        let shown = || url.split(['?', '#']).next().unwrap_or_default().chars().take(200).collect::<String>();
        let (scheme, rest) = if let Some(rest) = strip_prefix_ignore_case(url, "https://") {
            (Scheme::Https, rest)
        } else if let Some(rest) = strip_prefix_ignore_case(url, "http://") {
            (Scheme::Http, rest)
        } else {
            return Err(Error::InvalidUrl { url: shown(), reason: "only http:// and https:// URLs can be signed" });
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, rest) = rest.split_at(authority_end);
        if authority.is_empty() {
            return Err(Error::InvalidUrl { url: shown(), reason: "the URL has no host" });
        }
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        let path = if path.is_empty() { "/" } else { path };
        let mut request = Self::new(method, scheme, authority, path);
        for pair in query.into_iter().flat_map(|q| q.split('&')).filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            request.query.push((percent_decode(name), percent_decode(value)));
        }
        Ok(request)
    }

    /// Adds a header to send and sign. Names are case-insensitive; a name given twice is signed as
    /// one header whose values are joined by commas, in the order given.
    pub fn header(mut self, name: impl Into<Cow<'a, str>>, value: impl Into<Cow<'a, str>>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds a query parameter (decoded: the signer encodes it), for example
    /// `response-content-disposition`.
    pub fn query(mut self, name: impl Into<Cow<'a, str>>, value: impl Into<Cow<'a, str>>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Sets what the signature says about the body.
    pub fn payload(mut self, payload: Payload<'a>) -> Self {
        (self.payload_kind, self.payload_data) = match payload {
            Payload::Unsigned => (PayloadKind::Unsigned, &[][..]),
            Payload::Bytes(bytes) => (PayloadKind::Bytes, bytes),
            Payload::Sha256Hex(hex) => (PayloadKind::Sha256Hex, hex.as_bytes()),
        };
        self
    }

    /// What the signature says about the body ([`payload`](Self::payload) sets it).
    #[must_use]
    pub fn payload_hash(&self) -> Payload<'a> {
        match self.payload_kind {
            PayloadKind::Unsigned => Payload::Unsigned,
            PayloadKind::Bytes => Payload::Bytes(self.payload_data),
            // Set from a `&str` by `payload`, so always UTF-8.
            PayloadKind::Sha256Hex => Payload::Sha256Hex(std::str::from_utf8(self.payload_data).unwrap_or_default()),
        }
    }

    /// The method.
    #[must_use]
    pub fn method(&self) -> Method {
        self.method
    }

    /// The scheme.
    #[must_use]
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// `host[:port]`, as it appears in the URL.
    #[must_use]
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The encoded path, as sent.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The headers, as given.
    #[must_use]
    pub fn headers(&self) -> &[(Cow<'a, str>, Cow<'a, str>)] {
        &self.headers
    }

    /// The query parameters, decoded, as given.
    #[must_use]
    pub fn query_params(&self) -> &[(Cow<'a, str>, Cow<'a, str>)] {
        &self.query
    }

    /// The URL this request is sent to: scheme, authority, the path exactly as given and the query
    /// parameters encoded exactly as they are signed, in the order given.
    #[must_use]
    pub fn url(&self) -> String {
        let mut url = String::with_capacity(self.authority.len() + self.path.len() + 16);
        url.push_str(self.scheme.as_str());
        url.push_str("://");
        url.push_str(&self.authority);
        url.push_str(&self.path);
        for (i, (name, value)) in self.query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            super::encode::push_component(&mut url, name);
            url.push('=');
            super::encode::push_component(&mut url, value);
        }
        url
    }
}

impl fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("scheme", &self.scheme)
            .field("authority", &self.authority)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("headers", &self.headers)
            .field("payload", &self.payload_hash())
            .finish_non_exhaustive()
    }
}

fn strip_prefix_ignore_case<'s>(s: &'s str, prefix: &str) -> Option<&'s str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) { s.get(prefix.len()..) } else { None }
}

fn percent_decode(s: &str) -> Cow<'_, str> {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_url_keeps_the_path_as_is() {
        let r = Request::from_url(Method::Get, "https://Example.com:8443//a/../b/./c?x=%2F&y&z=a+b#frag").unwrap();
        assert_eq!(r.scheme(), Scheme::Https);
        assert_eq!(r.authority(), "Example.com:8443");
        assert_eq!(r.path(), "//a/../b/./c");
        let q: Vec<_> = r.query_params().iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
        assert_eq!(q, [("x", "/"), ("y", ""), ("z", "a+b")]);
        assert_eq!(Request::from_url(Method::Get, "http://h").unwrap().path(), "/");
        assert!(Request::from_url(Method::Get, "ftp://h/x").is_err());
        assert!(Request::from_url(Method::Get, "https:///x").is_err());
    }

    #[test]
    fn a_request_moves_without_memcpy() {
        // LLVM inlines moves of up to 128 bytes on x86-64; larger ones become memcpy calls, several
        // per presign through the builder methods.
        assert!(std::mem::size_of::<Request<'_>>() <= 128, "{}", std::mem::size_of::<Request<'_>>());
    }

    #[test]
    fn payloads_read_back_as_set() {
        let r = Request::new(Method::Put, Scheme::Https, "h", "/");
        assert_eq!(r.payload_hash(), Payload::Unsigned);
        for payload in
            [Payload::Bytes(b"abc"), Payload::EMPTY, Payload::Sha256Hex("UNSIGNED-PAYLOAD"), Payload::Unsigned]
        {
            assert_eq!(r.clone().payload(payload).payload_hash(), payload);
        }
    }

    #[test]
    fn methods_parse_case_insensitively() {
        assert_eq!("put".parse::<Method>().unwrap(), Method::Put);
        assert!("BREW".parse::<Method>().is_err());
    }
}
