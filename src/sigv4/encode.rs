//! Percent-encoding exactly as SigV4, S3 and botocore do it.
//!
//! SigV4 has one rule: every byte of the UTF-8 text is percent-encoded with uppercase hex, except the
//! unreserved characters `A-Z a-z 0-9 - _ . ~`. In paths `/` is kept as well. Nothing is normalised:
//! `//`, `.`, `..`, leading and trailing slashes of an S3 key stay exactly as they are.

use std::borrow::Cow;

/// Which bytes are left as they are: bit 0 in query components, bit 1 in paths.
const KEEP: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.' || c == b'~' {
            table[b] = 0b11;
        }
        b += 1;
    }
    table[b'/' as usize] = 0b10;
    table
};

const COMPONENT: u8 = 0b01;
const PATH: u8 = 0b10;

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `raw` to `out`, percent-encoding every byte whose `KEEP` entry lacks `set`.
fn push_encoded(out: &mut String, raw: &str, set: u8) {
    match first_to_encode(raw.as_bytes(), set) {
        None => out.push_str(raw),
        Some(first) => push_encoded_from(out, raw, first, set),
    }
}

/// The index of the first byte of `raw` that `set` encodes. Eight bytes at a time: their table
/// entries ANDed together say whether any of them is to be encoded, with one branch per eight.
fn first_to_encode(raw: &[u8], set: u8) -> Option<usize> {
    let keep = |b: u8| KEEP[usize::from(b)];
    let (chunks, _) = raw.as_chunks::<8>();
    let mut at = 0;
    for c in chunks {
        let all = keep(c[0]) & keep(c[1]) & keep(c[2]) & keep(c[3]) & keep(c[4]) & keep(c[5]) & keep(c[6]) & keep(c[7]);
        if all & set == 0 {
            break;
        }
        at += 8;
    }
    let rest = raw.get(at..).unwrap_or_default();
    rest.iter().position(|&b| keep(b) & set == 0).map(|i| at + i)
}

/// What each byte becomes, for each set: the byte itself or `%XX`, and in the last slot how many of
/// the first three to keep (1 or 3).
const ENCODED: [[[u8; 4]; 256]; 2] = {
    let mut table = [[[0u8; 4]; 256]; 2];
    let mut set = 0;
    while set < 2 {
        let bit = if set == 0 { COMPONENT } else { PATH };
        let mut b = 0;
        while b < 256 {
            table[set][b] = if KEEP[b] & bit != 0 { [b as u8, 0, 0, 1] } else { [b'%', HEX[b >> 4], HEX[b & 0x0f], 3] };
            b += 1;
        }
        set += 1;
    }
    table
};

/// [`push_encoded`] when `raw[first]` is the first byte to encode: from there on the output is
/// written into a buffer on the stack, four bytes per input byte of which one or three count, and the
/// buffer goes into `out` in one piece per 63 input bytes (a key or a Content-Disposition value has a
/// few bytes to encode among short runs of others, each of which would otherwise be a copy of its
/// own).
fn push_encoded_from(out: &mut String, raw: &str, first: usize, set: u8) {
    let table = &ENCODED[usize::from(set == PATH)];
    // Everything before `first` is kept, hence ASCII.
    out.push_str(raw.get(..first).unwrap_or_default());
    // Within a chunk of 63 input bytes a write starts at 3 * 62 = 186 at most. Masking the index to
    // 0..=255 changes nothing but lets the compiler see that every 4-byte write fits in 260 bytes:
    // no bounds check, and no test for a full buffer, per byte.
    let mut buf = [0u8; 260];
    for chunk in raw.as_bytes().get(first..).unwrap_or_default().chunks(63) {
        let mut n = 0usize;
        for &b in chunk {
            let encoded = table[usize::from(b)];
            let at = n & 0xff;
            buf[at..at + 4].copy_from_slice(&encoded);
            n += usize::from(encoded[3]);
        }
        push_ascii(out, buf.get(..n).unwrap_or_default());
    }
}

/// Appends bytes known to be ASCII (kept bytes and `%XX`).
fn push_ascii(out: &mut String, ascii: &[u8]) {
    out.push_str(std::str::from_utf8(ascii).unwrap_or_default());
}

fn encoded(raw: &str, set: u8) -> Cow<'_, str> {
    if raw.bytes().all(|b| KEEP[usize::from(b)] & set != 0) {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len() * 3);
    push_encoded(&mut out, raw, set);
    Cow::Owned(out)
}

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
    encoded(raw, PATH).into_owned()
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
    encoded(raw, COMPONENT).into_owned()
}

/// Appends the path encoding of `raw` to `out`.
pub(crate) fn push_path(out: &mut String, raw: &str) {
    push_encoded(out, raw, PATH);
}

/// Appends the component encoding of `raw` to `out`.
pub(crate) fn push_component(out: &mut String, raw: &str) {
    push_encoded(out, raw, COMPONENT);
}

/// 64 lowercase hex digits on the stack.
pub(crate) struct Hex64([u8; 64]);

impl Hex64 {
    pub(crate) fn of(bytes: &[u8]) -> Self {
        /// The two lowercase hex digits of every byte.
        const PAIRS: [[u8; 2]; 256] = {
            const DIGITS: &[u8; 16] = b"0123456789abcdef";
            let mut table = [[0u8; 2]; 256];
            let mut i = 0;
            while i < 256 {
                table[i] = [DIGITS[i >> 4], DIGITS[i & 0x0f]];
                i += 1;
            }
            table
        };
        let mut out = [b'0'; 64];
        for (pair, byte) in out.chunks_exact_mut(2).zip(bytes) {
            pair.copy_from_slice(&PAIRS[usize::from(*byte)]);
        }
        Self(out)
    }

    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
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
    fn matches_the_percent_encoding_crate() {
        use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
        const SET: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
        const PATH_SET: &AsciiSet = &SET.remove(b'/');
        for s in ["", "a", "a b/c", "é/日本/😀", "%%", "~-_.", "\u{0}\u{7f}\u{80}", "x/", "/"] {
            assert_eq!(encode_component(s), utf8_percent_encode(s, SET).to_string(), "{s:?}");
            assert_eq!(encode_path(s), utf8_percent_encode(s, PATH_SET).to_string(), "{s:?}");
        }
    }

    #[test]
    fn encodes_wherever_the_first_byte_to_encode_falls() {
        for len in 1..200 {
            for at in [0, 1, len / 2, len - 1].into_iter().filter(|&at| at < len) {
                let mut s = "a".repeat(len);
                s.replace_range(at..=at, " ");
                let expected = format!("{}%20{}", "a".repeat(at), "a".repeat(len - at - 1));
                assert_eq!(encode_component(&s), expected, "length {len}, space at {at}");
            }
            // Every byte to encode: the output is three times as long as the input, past the buffer.
            assert_eq!(encode_component(&" ".repeat(len)), "%20".repeat(len), "length {len}");
        }
    }

    proptest::proptest! {
        /// Any text encodes as the `percent-encoding` crate encodes it: runs of kept bytes of every
        /// length (across the eight-byte scan) mixed with bytes to encode, up to a few hundred bytes
        /// (across the 63-byte chunks).
        #[test]
        fn agrees_with_the_percent_encoding_crate(
            pieces in proptest::collection::vec(
                proptest::prop_oneof!["[a-zA-Z0-9._~-]{1,24}", "[ -~]", "/", "\\PC", "[\\u{80}-\\u{7ff}]{1,4}"],
                0..60,
            )
        ) {
            use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
            const SET: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
            const PATH_SET: &AsciiSet = &SET.remove(b'/');
            let s = pieces.concat();
            proptest::prop_assert_eq!(encode_component(&s), utf8_percent_encode(&s, SET).to_string());
            proptest::prop_assert_eq!(encode_path(&s), utf8_percent_encode(&s, PATH_SET).to_string());
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
