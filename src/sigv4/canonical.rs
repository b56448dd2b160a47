//! The canonical request: validation of the inputs and the exact text that is hashed.

use std::borrow::Cow;

use sha2::{Digest, Sha256};

use super::encode;
use super::signer::Hex64;
use super::{Error, Payload, Request, SigningSettings};

/// Headers the signer sets itself; a caller may not pass them.
const RESERVED_HEADERS: [&str; 5] = ["authorization", "host", "x-amz-content-sha256", "x-amz-date", "x-amz-security-token"];

/// Query parameters the signer sets itself; a caller may not pass them.
const RESERVED_QUERY: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-Security-Token",
    "X-Amz-Signature",
    "X-Amz-SignedHeaders",
];

/// The parts of a request in the form they are signed in, after validation.
pub(crate) struct Canonical<'r> {
    /// The canonical URI.
    pub(crate) uri: Cow<'r, str>,
    /// The `host` header value: lowercase host, port only when not the scheme's default.
    pub(crate) host: Cow<'r, str>,
    /// The caller's query parameters, encoded, in the caller's order.
    pub(crate) query: Vec<(Cow<'r, str>, Cow<'r, str>)>,
    /// The caller's headers: lowercase name and value as given, in the caller's order.
    pub(crate) headers: Vec<(Cow<'r, str>, &'r str)>,
}

impl<'r> Canonical<'r> {
    pub(crate) fn new(request: &'r Request<'_>, settings: &SigningSettings) -> Result<Self, Error> {
        let host = canonical_host(request)?;
        let uri = canonical_uri(&request.path, settings)?;

        let mut query = Vec::with_capacity(request.query.len());
        for (name, value) in &request.query {
            if RESERVED_QUERY.iter().any(|r| r.eq_ignore_ascii_case(name)) {
                return Err(Error::ReservedQueryParameter { name: name.chars().take(64).collect() });
            }
            query.push((encode::component(name), encode::component(value)));
        }

        let mut headers = Vec::with_capacity(request.headers.len() + 4);
        for (name, value) in &request.headers {
            check_header_name(name)?;
            let lower: Cow<'r, str> = if name.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Owned(name.to_ascii_lowercase())
            } else {
                Cow::Borrowed(name.as_ref())
            };
            if RESERVED_HEADERS.contains(&lower.as_ref()) {
                return Err(Error::ReservedHeader { name: name.to_string() });
            }
            check_header_value(name, value)?;
            headers.push((lower, value.as_ref()));
        }
        Ok(Self { uri, host, query, headers })
    }

    /// The caller's headers as `(name, value)` slices, with room for the signer's own.
    pub(crate) fn header_refs(&self) -> Vec<(&str, &str)> {
        let mut refs = Vec::with_capacity(self.headers.len() + 4);
        refs.extend(self.headers.iter().map(|(k, v)| (k.as_ref(), *v)));
        refs
    }
}

/// The canonical request text. `query` and `headers` must be sorted (headers stably, so that the
/// values of a repeated header keep their order).
pub(crate) fn canonical_request(
    method: &str,
    uri: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
    signed_headers: &str,
    payload: &str,
) -> String {
    let mut out = String::with_capacity(
        method.len()
            + uri.len()
            + query.iter().map(|(k, v)| k.len() + v.len() + 2).sum::<usize>()
            + headers.iter().map(|(k, v)| k.len() + v.len() + 2).sum::<usize>()
            + signed_headers.len()
            + payload.len()
            + 8,
    );
    out.push_str(method);
    out.push('\n');
    out.push_str(uri);
    out.push('\n');
    for (i, (name, value)) in query.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out.push('\n');
    let mut previous: Option<&str> = None;
    for (name, value) in headers {
        if previous == Some(name) {
            out.push(',');
        } else {
            if previous.is_some() {
                out.push('\n');
            }
            out.push_str(name);
            out.push(':');
        }
        push_trimmed(&mut out, value);
        previous = Some(name);
    }
    out.push_str("\n\n");
    out.push_str(signed_headers);
    out.push('\n');
    out.push_str(payload);
    out
}

/// The `SignedHeaders` value: the distinct names of sorted `headers`, joined by `;`.
pub(crate) fn signed_header_names(headers: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(headers.iter().map(|(k, _)| k.len() + 1).sum());
    let mut previous: Option<&str> = None;
    for (name, _) in headers {
        if previous != Some(name) {
            if previous.is_some() {
                out.push(';');
            }
            out.push_str(name);
            previous = Some(name);
        }
    }
    out
}

/// A header value with leading and trailing white space removed and inner runs of white space
/// (space, tab) collapsed to one space.
fn push_trimmed(out: &mut String, value: &str) {
    for (i, word) in value.split([' ', '\t']).filter(|w| !w.is_empty()).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
}

/// The payload hash line of the canonical request.
pub(crate) enum PayloadHash<'a> {
    Literal(&'a str),
    Computed(Hex64),
}

impl PayloadHash<'_> {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Self::Literal(s) => s,
            Self::Computed(h) => h.as_str(),
        }
    }
}

pub(crate) fn payload_hash<'a>(payload: &Payload<'a>) -> Result<PayloadHash<'a>, Error> {
    match *payload {
        Payload::Unsigned => Ok(PayloadHash::Literal("UNSIGNED-PAYLOAD")),
        Payload::Bytes(body) => Ok(PayloadHash::Computed(Hex64::of(&Sha256::digest(body)))),
        Payload::Sha256Hex(hex) => {
            if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                Ok(PayloadHash::Literal(hex))
            } else if hex == "UNSIGNED-PAYLOAD" || hex == "STREAMING-UNSIGNED-PAYLOAD-TRAILER" {
                Ok(PayloadHash::Literal(hex))
            } else {
                Err(Error::InvalidPayloadHash)
            }
        }
    }
}

fn canonical_uri<'p>(path: &'p str, settings: &SigningSettings) -> Result<Cow<'p, str>, Error> {
    if !path.starts_with('/') {
        return Err(Error::InvalidPath { reason: "the path must start with /" });
    }
    if path.bytes().any(|b| b.is_ascii_control()) {
        return Err(Error::InvalidPath { reason: "the path holds a control character; percent-encode it" });
    }
    if path.contains(['?', '#']) {
        return Err(Error::InvalidPath {
            reason: "the path holds ? or #; percent-encode it (and pass query parameters separately)",
        });
    }
    let normalized: Cow<'p, str> = if settings.normalize_path { Cow::Owned(encode::normalize_path(path)) } else { Cow::Borrowed(path) };
    Ok(if settings.double_uri_encode { Cow::Owned(encode::encode_path(&normalized)) } else { normalized })
}

fn canonical_host<'r>(request: &'r Request<'_>) -> Result<Cow<'r, str>, Error> {
    let authority: &'r str = &request.authority;
    let invalid = |reason| Error::InvalidHost { authority: authority.chars().take(256).collect(), reason };
    if authority.is_empty() {
        return Err(invalid("the host is empty"));
    }
    if !authority.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid("the host holds a space, a control or a non-ASCII character (use the punycode form)"));
    }
    if authority.contains(['/', '?', '#', '@', '\\']) {
        return Err(invalid("the host holds / ? # @ or \\; give host[:port] only"));
    }
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']').ok_or_else(|| invalid("unterminated IPv6 address"))?;
        let (host, rest) = authority.split_at(end + 1);
        match rest {
            "" => (host, None),
            _ => (host, Some(rest.strip_prefix(':').ok_or_else(|| invalid("unexpected text after the IPv6 address"))?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host.contains(':') && !host.starts_with('[') {
        return Err(invalid("the host is empty or holds a stray colon"));
    }
    let port = match port {
        None => None,
        Some(p) => {
            let n: u16 = p.parse().map_err(|_| invalid("the port is not a number from 1 to 65535"))?;
            if n == 0 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid("the port is not a number from 1 to 65535"));
            }
            (n != request.scheme.default_port()).then_some(p)
        }
    };
    let lower_needed = host.bytes().any(|b| b.is_ascii_uppercase());
    Ok(match (port, lower_needed) {
        (None, false) => Cow::Borrowed(host),
        (Some(_), false) if host.len() + 1 + port.map_or(0, str::len) == authority.len() => Cow::Borrowed(authority),
        _ => {
            let mut out = host.to_ascii_lowercase();
            if let Some(p) = port {
                out.push(':');
                out.push_str(p);
            }
            Cow::Owned(out)
        }
    })
}

/// Header names are HTTP tokens (RFC 9110 `tchar`).
fn check_header_name(name: &str) -> Result<(), Error> {
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(tchar) {
        return Err(Error::InvalidHeaderName { name: name.chars().take(64).collect() });
    }
    Ok(())
}

/// Header values: visible ASCII, space and tab. CR and LF would let a value smuggle in headers of its
/// own; other bytes cannot be signed the same way by every implementation.
fn check_header_value(name: &str, value: &str) -> Result<(), Error> {
    for b in value.bytes() {
        let reason = match b {
            b'\t' | b' ' | 0x21..=0x7e => continue,
            b'\r' | b'\n' => "it holds CR or LF, which could inject headers",
            0x80..=0xff => "it holds non-ASCII characters; encode them first (RFC 2047 for metadata, RFC 5987 in Content-Disposition)",
            _ => "it holds a control character",
        };
        return Err(Error::InvalidHeaderValue { name: name.chars().take(64).collect(), reason });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Method, Scheme};
    use super::*;

    fn host_of(scheme: Scheme, authority: &str) -> Result<String, Error> {
        let r = Request::new(Method::Get, scheme, authority, "/");
        canonical_host(&r).map(Cow::into_owned)
    }

    #[test]
    fn host_drops_default_ports_and_lowercases() {
        assert_eq!(host_of(Scheme::Https, "Example.COM:443").unwrap(), "example.com");
        assert_eq!(host_of(Scheme::Http, "127.0.0.1:80").unwrap(), "127.0.0.1");
        assert_eq!(host_of(Scheme::Http, "127.0.0.1:9000").unwrap(), "127.0.0.1:9000");
        assert_eq!(host_of(Scheme::Https, "[::1]:443").unwrap(), "[::1]");
        assert_eq!(host_of(Scheme::Http, "[::1]:9000").unwrap(), "[::1]:9000");
        for bad in ["", "a b", "h:0", "h:70000", "h:x", "u@h", "h/p", "[::1", "a:b:c"] {
            assert!(host_of(Scheme::Http, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn header_values_are_trimmed_and_joined() {
        let creq = canonical_request("GET", "/", &[], &[("a", "  x \t  y  "), ("a", "z"), ("b", "")], "a;b", "P");
        assert_eq!(creq, "GET\n/\n\na:x y,z\nb:\n\na;b\nP");
    }

    #[test]
    fn header_values_refuse_injection() {
        assert!(check_header_value("x", "ok\tvalue \"quoted\"").is_ok());
        for bad in ["a\r\nInjected: 1", "a\nb", "a\0", "caf\u{e9}", "\u{7f}"] {
            assert!(check_header_value("x", bad).is_err(), "{bad:?}");
        }
    }
}
