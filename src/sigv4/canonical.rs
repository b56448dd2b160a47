//! The canonical request: validation of the inputs and the exact text that is hashed.

use std::borrow::Cow;

use super::encode::{self, Hex64};
use super::{Error, Payload, Request, SigningSettings};

/// Headers the signer sets itself; a caller may not pass them.
const RESERVED_HEADERS: [&str; 5] =
    ["authorization", "host", "x-amz-content-sha256", "x-amz-date", "x-amz-security-token"];

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
}

impl<'r> Canonical<'r> {
    pub(crate) fn new(request: &'r Request<'_>, settings: &SigningSettings) -> Result<Self, Error> {
        let (host, uri) = match request.checked {
            // Built by a BucketAddress: host checked when it was made, path encoded by it.
            Some(host) if !settings.normalize_path && !settings.double_uri_encode => {
                (Cow::Borrowed(host.as_str()), Cow::Borrowed(request.path.as_ref()))
            }
            _ => (canonical_host(request)?, canonical_uri(&request.path, settings)?),
        };

        for (name, _) in &request.query {
            // Every reserved name starts with `X-`.
            let maybe_reserved = name.as_bytes().first().is_some_and(|b| b.eq_ignore_ascii_case(&b'x'));
            if maybe_reserved && RESERVED_QUERY.iter().any(|r| r.eq_ignore_ascii_case(name)) {
                return Err(Error::ReservedQueryParameter { name: name.chars().take(64).collect() });
            }
        }

        Ok(Self { uri, host })
    }
}

/// The caller's headers, checked: lowercase name and value as given, in the caller's order.
pub(crate) fn checked_headers<'r>(
    request: &'r Request<'_>,
) -> impl Iterator<Item = Result<(Cow<'r, str>, &'r str), Error>> + 'r {
    request.headers.iter().map(|(name, value)| {
        let upper = check_header_name(name)?;
        let lower: Cow<'r, str> =
            if upper { Cow::Owned(name.to_ascii_lowercase()) } else { Cow::Borrowed(name.as_ref()) };
        if RESERVED_HEADERS.contains(&lower.as_ref()) {
            return Err(Error::ReservedHeader { name: name.to_string() });
        }
        check_header_value(name, value)?;
        Ok((lower, value.as_ref()))
    })
}

/// Appends `name=value&` for each parameter of `query`, encoded, to `out` (the caller's order, as a URL
/// carries them), records where each lies in `spans` (start, `=`, end), and sorts `spans` by encoded
/// name and value (the canonical order). `spans` holds one entry per parameter.
pub(crate) fn push_query_params<N: AsRef<str>, V: AsRef<str>>(
    out: &mut String,
    query: &[(N, V)],
    spans: &mut [(usize, usize, usize)],
) {
    for ((name, value), span) in query.iter().zip(spans.iter_mut()) {
        let start = out.len();
        encode::push_component(out, name.as_ref());
        let eq = out.len();
        out.push('=');
        encode::push_component(out, value.as_ref());
        *span = (start, eq, out.len());
        out.push('&');
    }
    spans.sort_unstable_by(|a, b| query_param(out, a).cmp(&query_param(out, b)));
}

/// The encoded `(name, value)` of the parameter at `span` of `text` ([`push_query_params`]).
pub(crate) fn query_param<'t>(text: &'t str, &(start, eq, end): &(usize, usize, usize)) -> (&'t str, &'t str) {
    (text.get(start..eq).unwrap_or_default(), text.get(eq + 1..end).unwrap_or_default())
}

/// Runs `f` with an empty string buffer that keeps its capacity from call to call on this thread, for
/// the canonical request: no allocation per signature.
pub(crate) fn with_buffer<R>(f: impl FnOnce(&mut String) -> R) -> R {
    thread_local! {
        static BUFFER: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    let mut buffer = BUFFER
        .try_with(|cell| cell.try_borrow_mut().map(|mut b| std::mem::take(&mut *b)).unwrap_or_default())
        .unwrap_or_default();
    buffer.clear();
    let result = f(&mut buffer);
    if buffer.capacity() <= 64 * 1024 {
        let _ = BUFFER.try_with(|cell| {
            if let Ok(mut slot) = cell.try_borrow_mut() {
                *slot = buffer;
            }
        });
    }
    result
}

/// Writes the canonical request text into `out`. `query` and `headers` must be sorted (headers
/// stably, so that the values of a repeated header keep their order).
pub(crate) fn canonical_request<N: AsRef<str>>(
    out: &mut String,
    method: &str,
    uri: &str,
    query: &[(&str, &str)],
    headers: &[(N, &str)],
    signed_headers: &str,
    payload: &str,
) {
    out.reserve(
        method.len()
            + uri.len()
            + query.iter().map(|(k, v)| k.len() + v.len() + 2).sum::<usize>()
            + headers.iter().map(|(k, v)| k.as_ref().len() + v.len() + 2).sum::<usize>()
            + signed_headers.len()
            + payload.len()
            + 8,
    );
    out.push_str(method);
    out.push('\n');
    out.push_str(uri);
    out.push('\n');
    push_query(out, query);
    out.push('\n');
    push_headers(out, headers);
    out.push_str("\n\n");
    out.push_str(signed_headers);
    out.push('\n');
    out.push_str(payload);
}

/// Appends `name=value` pairs joined by `&`.
pub(crate) fn push_query(out: &mut String, pairs: &[(&str, &str)]) {
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
}

/// Appends the canonical header lines (without the last newline) of sorted `headers`: a repeated
/// name once, its values joined by commas.
pub(crate) fn push_headers<N: AsRef<str>>(out: &mut String, headers: &[(N, &str)]) {
    let mut previous: Option<&str> = None;
    for (name, value) in headers {
        let name = name.as_ref();
        if previous == Some(name) {
            out.push(',');
        } else {
            if previous.is_some() {
                out.push('\n');
            }
            out.push_str(name);
            out.push(':');
        }
        if name == "host" {
            // The canonical host, checked by the signer: nothing to trim.
            out.push_str(value);
        } else {
            push_trimmed(out, value);
        }
        previous = Some(name);
    }
}

/// The `SignedHeaders` value: the distinct names of sorted `headers`, joined by `;`.
pub(crate) fn signed_header_names<N: AsRef<str>>(headers: &[(N, &str)]) -> Cow<'static, str> {
    if let [(only, _)] = headers
        && only.as_ref() == "host"
    {
        return Cow::Borrowed("host");
    }
    let mut out = String::with_capacity(headers.iter().map(|(k, _)| k.as_ref().len() + 1).sum());
    let mut previous: Option<&str> = None;
    for (name, _) in headers {
        let name = name.as_ref();
        if previous != Some(name) {
            if previous.is_some() {
                out.push(';');
            }
            out.push_str(name);
            previous = Some(name);
        }
    }
    Cow::Owned(out)
}

/// A header value with leading and trailing white space removed and inner runs of white space
/// (space, tab) collapsed to one space.
fn push_trimmed(out: &mut String, value: &str) {
    // Most values hold no white space at all: copy them as they are.
    if value.bytes().fold(0u8, |acc, b| acc | u8::from(b == b' ') | u8::from(b == b'\t')) == 0 {
        out.push_str(value);
        return;
    }
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
        Payload::Bytes(body) => Ok(PayloadHash::Computed(Hex64::of(&super::sha::sha256(body)))),
        Payload::Sha256Hex(hex) => {
            let digest = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
            if digest || hex == "UNSIGNED-PAYLOAD" || hex == "STREAMING-UNSIGNED-PAYLOAD-TRAILER" {
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
    // A branch-free pass first (the common case: nothing wrong), then the reason if something is.
    let suspicious = path
        .bytes()
        .fold(0u8, |acc, b| acc | u8::from(b < 0x20) | u8::from(b == 0x7f) | u8::from(b == b'?') | u8::from(b == b'#'));
    for b in path.bytes().filter(|_| suspicious != 0) {
        if b.is_ascii_control() {
            return Err(Error::InvalidPath { reason: "the path holds a control character; percent-encode it" });
        }
        if b == b'?' || b == b'#' {
            return Err(Error::InvalidPath {
                reason: "the path holds ? or #; percent-encode it (and pass query parameters separately)",
            });
        }
    }
    if !settings.double_uri_encode {
        // Signed as it is sent: it must already be a valid URL path, or an HTTP client would encode
        // it differently from what was signed.
        check_wire_path(path)?;
    }
    let normalized: Cow<'p, str> =
        if settings.normalize_path { Cow::Owned(encode::normalize_path(path)) } else { Cow::Borrowed(path) };
    Ok(if settings.double_uri_encode { Cow::Owned(encode::encode_path(&normalized)) } else { normalized })
}

/// A path as it goes on the wire: unreserved characters, sub-delimiters, `:` `@` `/`, and `%` followed
/// by two hex digits (RFC 3986 `path-abempty`).
fn check_wire_path(path: &str) -> Result<(), Error> {
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return Err(Error::InvalidPath { reason: "a % in the path is not followed by two hex digits" });
            }
            i += 3;
            continue;
        }
        let allowed = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b);
        if !allowed {
            return Err(Error::InvalidPath {
                reason: "the path holds a character a URL path cannot carry as it is (a space, a non-ASCII \
                         character, or one of \"<>\\^`{|}); percent-encode it, for S3 keys with BucketAddress::object",
            });
        }
        i += 1;
    }
    Ok(())
}

pub(crate) fn canonical_host<'r>(request: &'r Request<'_>) -> Result<Cow<'r, str>, Error> {
    let authority: &'r str = &request.authority;
    let invalid = |reason| Error::InvalidHost { authority: authority.chars().take(256).collect(), reason };
    if authority.is_empty() {
        return Err(invalid("the host is empty"));
    }
    // Branch-free passes: refuse what cannot be in host[:port], note upper case.
    let bytes = authority.as_bytes();
    let not_visible = bytes.iter().fold(0u8, |acc, &b| acc | u8::from(!(0x21..=0x7e).contains(&b)));
    if not_visible != 0 {
        return Err(invalid("the host holds a space, a control or a non-ASCII character (use the punycode form)"));
    }
    let delimiter = bytes.iter().fold(0u8, |acc, &b| {
        acc | u8::from(b == b'/')
            | u8::from(b == b'?')
            | u8::from(b == b'#')
            | u8::from(b == b'@')
            | u8::from(b == b'\\')
    });
    if delimiter != 0 {
        return Err(invalid("the host holds / ? # @ or \\; give host[:port] only"));
    }
    let upper = bytes.iter().fold(0u8, |acc, &b| acc | u8::from(b.is_ascii_uppercase())) != 0;
    let last_colon = bytes.iter().rposition(|&b| b == b':');
    let bracket_end = if bytes.first() == Some(&b'[') { bytes.iter().rposition(|&b| b == b']') } else { None };
    let ipv6 = authority.starts_with('[');
    let split = match (ipv6, bracket_end) {
        (true, None) => return Err(invalid("unterminated IPv6 address")),
        (true, Some(end)) => match authority.get(end + 1..) {
            Some("") => None,
            Some(rest) if rest.starts_with(':') => Some(end + 1),
            _ => return Err(invalid("unexpected text after the IPv6 address")),
        },
        (false, _) if bytes.iter().fold(0u8, |acc, &b| acc | u8::from(b == b'[') | u8::from(b == b']')) != 0 => {
            return Err(invalid("a [ or ] outside an IPv6 address"));
        }
        (false, _) => last_colon,
    };
    let (host, port) = match split {
        Some(i) => (authority.get(..i).unwrap_or_default(), authority.get(i + 1..)),
        None => (authority, None),
    };
    if host.is_empty() || (!ipv6 && host.as_bytes().iter().fold(0u8, |acc, &b| acc | u8::from(b == b':')) != 0) {
        return Err(invalid("the host is empty or holds a stray colon"));
    }
    let keep_port = match port {
        None => false,
        Some(p) => {
            let valid = !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
            let n: u32 = if valid { p.parse().unwrap_or(0) } else { 0 };
            if !(1..=65_535).contains(&n) {
                return Err(invalid("the port is not a number from 1 to 65535"));
            }
            n != u32::from(request.scheme.default_port())
        }
    };
    Ok(match (keep_port, upper) {
        (false, false) => Cow::Borrowed(host),
        (true, false) => Cow::Borrowed(authority),
        (keep, true) => {
            let mut out = host.to_ascii_lowercase();
            if let (true, Some(p)) = (keep, port) {
                out.push(':');
                out.push_str(p);
            }
            Cow::Owned(out)
        }
    })
}

/// Header names are HTTP tokens (RFC 9110 `tchar`).
/// Checks a header name (an RFC 9110 token) and says whether it holds upper case, in one pass.
fn check_header_name(name: &str) -> Result<bool, Error> {
    const TOKEN: u8 = 1;
    const UPPER: u8 = 2;
    const FLAGS: [u8; 256] = {
        let mut table = [0u8; 256];
        let mut b = 0;
        while b < 256 {
            let c = b as u8;
            let token = c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                );
            table[b] = if token { TOKEN } else { 0 } | if c.is_ascii_uppercase() { UPPER } else { 0 };
            b += 1;
        }
        table
    };
    let (all, any) = name.bytes().fold((TOKEN, 0), |(all, any), b| {
        let flags = FLAGS[usize::from(b)];
        (all & flags, any | flags)
    });
    if name.is_empty() || all & TOKEN == 0 {
        return Err(Error::InvalidHeaderName { name: name.chars().take(64).collect() });
    }
    Ok(any & UPPER != 0)
}

/// Header values: visible ASCII, space and tab. CR and LF would let a value smuggle in headers of its
/// own; other bytes cannot be signed the same way by every implementation.
fn check_header_value(name: &str, value: &str) -> Result<(), Error> {
    let refused = |b: u8| u8::from(b != b'\t' && !(b' '..=b'~').contains(&b));
    if value.bytes().fold(0u8, |acc, b| acc | refused(b)) == 0 {
        return Ok(());
    }
    for b in value.bytes() {
        let reason = match b {
            b'\t' | b' ' | 0x21..=0x7e => continue,
            b'\r' | b'\n' => "it holds CR or LF, which could inject headers",
            0x80..=0xff => {
                "it holds non-ASCII characters; encode them first (RFC 2047 for metadata, RFC 5987 in Content-Disposition)"
            }
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
        let mut creq = String::new();
        canonical_request(&mut creq, "GET", "/", &[], &[("a", "  x \t  y  "), ("a", "z"), ("b", "")], "a;b", "P");
        assert_eq!(creq, "GET\n/\n\na:x y,z\nb:\n\na;b\nP");
    }

    #[test]
    fn wire_paths() {
        for ok in ["/", "/a%20b/c", "/k=v&x;y,z:@!$'()*+", "/~a-b_c.d", "//x//"] {
            assert!(check_wire_path(ok).is_ok(), "{ok:?}");
        }
        for bad in ["/a b", "/é", "/a%2", "/a%zz", "/a\\b", "/a\"b", "/{x}", "/a|b", "/a^b", "/a`b", "/<x>"] {
            assert!(check_wire_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn header_values_refuse_injection() {
        assert!(check_header_value("x", "ok\tvalue \"quoted\"").is_ok());
        for bad in ["a\r\nInjected: 1", "a\nb", "a\0", "caf\u{e9}", "\u{7f}"] {
            assert!(check_header_value("x", bad).is_err(), "{bad:?}");
        }
    }
}
