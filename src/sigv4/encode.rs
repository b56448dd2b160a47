//! Percent-encoding exactly as SigV4, S3 and botocore do it.
//!
//! SigV4 has one rule: every byte of the UTF-8 text is percent-encoded with uppercase hex, except the
//! unreserved characters `A-Z a-z 0-9 - _ . ~`. In paths `/` is kept as well. Nothing is normalised:
//! `//`, `.`, `..`, leading and trailing slashes of an S3 key stay exactly as they are.

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but `A-Z a-z 0-9 - _ . ~` is encoded: the set for query names and values.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// As [`COMPONENT`], but `/` is kept: the set for paths.
const PATH: &AsciiSet = &COMPONENT.remove(b'/');

/// Percent-encodes an S3 object key (or any path) for use in a URL path, as S3 and botocore do.
///
/// Only `A-Z a-z 0-9 - _ . ~ /` are left as they are; every other byte of the UTF-8 text becomes `%XX`
/// with uppercase hex. A space becomes `%20` (never `+`), `+` becomes `%2B`, `%` becomes `%25` (an
/// already-encoded key is encoded again, because S3 keys are literal), and nothing is normalised.
///
/// ```
/// use stowage::sigv4::encode_path;
/// assert_eq!(encode_path("uploads/profile picture (1).png"), "uploads/profile%20picture%20%281%29.png");
/// assert_eq!(encode_path("a+b//../c%20"), "a%2Bb//../c%2520");
/// ```
#[must_use]
pub fn encode_path(raw: &str) -> String {
    utf8_percent_encode(raw, PATH).to_string()
}

/// Percent-encodes a query parameter name or value (or any URI component): as [`encode_path`], but `/`
/// is encoded too.
///
/// ```
/// use stowage::sigv4::encode_component;
/// assert_eq!(
///     encode_component("attachment; filename=\"a/b.pdf\""),
///     "attachment%3B%20filename%3D%22a%2Fb.pdf%22"
/// );
/// ```
#[must_use]
pub fn encode_component(raw: &str) -> String {
    utf8_percent_encode(raw, COMPONENT).to_string()
}

/// Encodes a component, borrowing when nothing needs encoding.
pub(crate) fn component(raw: &str) -> Cow<'_, str> {
    utf8_percent_encode(raw, COMPONENT).into()
}

/// Appends the path encoding of `raw` to `out`.
pub(crate) fn push_path(out: &mut String, raw: &str) {
    out.extend(utf8_percent_encode(raw, PATH));
}

/// Appends the component encoding of `raw` to `out`.
pub(crate) fn push_component(out: &mut String, raw: &str) {
    out.extend(utf8_percent_encode(raw, COMPONENT));
}

/// Removes `.` and `..` segments and empty segments (`//`) from a path, as generic (non-S3) SigV4
/// does. A trailing slash is kept when the path had one. Never used for S3.
pub(crate) fn normalize_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut out = String::with_capacity(path.len());
    for segment in &segments {
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() || (path.ends_with('/') && !segments.is_empty()) {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_unreserved_and_slash() {
        let unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~/";
        assert_eq!(encode_path(unreserved), unreserved);
        assert_eq!(encode_component("/"), "%2F");
    }

    #[test]
    fn encodes_every_other_ascii_byte_uppercase() {
        for b in 0u8..0x80 {
            let s = (b as char).to_string();
            let keep = b.is_ascii_alphanumeric() || b"-_.~".contains(&b);
            let expected = if keep { s.clone() } else { format!("%{b:02X}") };
            assert_eq!(encode_component(&s), expected, "byte {b:#04x}");
        }
    }

    #[test]
    fn encodes_utf8_bytes() {
        assert_eq!(encode_path("ሴ"), "%E1%88%B4");
        assert_eq!(encode_path("😀"), "%F0%9F%98%80");
    }

    #[test]
    fn normalisation() {
        assert_eq!(normalize_path("/"), "/");
        assert_eq!(normalize_path("//"), "/");
        assert_eq!(normalize_path("/example/.."), "/");
        assert_eq!(normalize_path("/example1/example2/../.."), "/");
        assert_eq!(normalize_path("/./"), "/");
        assert_eq!(normalize_path("/./example"), "/example");
        assert_eq!(normalize_path("//example//"), "/example/");
        assert_eq!(normalize_path("/a/b/../c/"), "/a/c/");
        assert_eq!(normalize_path("/../.."), "/");
    }
}
