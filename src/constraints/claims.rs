//! What a client may claim: media types and patterns, and the refusals of claims the policy does not
//! allow ([`PolicyViolation`]), each with a sentence for the person and an HTTP status.

use std::fmt;

/// What a client says of a file it wants to upload: its name, its type and (usually) its size. An
/// [`UploadPolicy`](super::UploadPolicy) checks these claims before anything is signed, and then
/// signs them, so that the storage itself holds the client to them.
///
/// With `serde` it reads from JSON as `{"filename", "content_type", "size"}`, the body a page posts.
///
/// ```
/// use stowage::constraints::FileClaim;
///
/// let claim = FileClaim::new("me.png", "image/png", 48_213);
/// assert_eq!((claim.filename(), claim.content_type(), claim.declared_size()), ("me.png", "image/png", Some(48_213)));
/// // Uppy's protocol declares no size: a multipart upload can still be made (its parts are checked
/// // when it completes), a single upload cannot.
/// assert_eq!(FileClaim::without_size("clip.mp4", "video/mp4").declared_size(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
pub struct FileClaim {
    filename: String,
    content_type: String,
    #[cfg_attr(feature = "serde", serde(default))]
    size: Option<u64>,
    #[cfg_attr(feature = "serde", serde(default))]
    checksum: Option<ClaimedChecksum>,
    #[cfg_attr(feature = "serde", serde(default))]
    part_checksums: Option<String>,
}

/// A checksum as a client writes it in JSON (`{"algorithm": "SHA256", "value": "<base64>"}`), read
/// when the policy checks the claim, so that a malformed one is refused in words.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
struct ClaimedChecksum {
    algorithm: String,
    value: String,
}

impl FileClaim {
    /// A file called `filename`, of type `content_type` and `size` bytes, as the client says.
    #[must_use]
    pub fn new(filename: impl Into<String>, content_type: impl Into<String>, size: u64) -> Self {
        Self {
            filename: filename.into(),
            content_type: content_type.into(),
            size: Some(size),
            checksum: None,
            part_checksums: None,
        }
    }

    /// A file whose size the client does not say (Uppy's multipart protocol).
    #[must_use]
    pub fn without_size(filename: impl Into<String>, content_type: impl Into<String>) -> Self {
        Self {
            filename: filename.into(),
            content_type: content_type.into(),
            size: None,
            checksum: None,
            part_checksums: None,
        }
    }

    /// The file's checksum, as the client computed it (a single upload): signed into the upload, so
    /// that the bucket refuses any other bytes, and checked against the stored object at completion.
    /// With `serde`: `"checksum": {"algorithm": "SHA256", "value": "<base64>"}`.
    #[must_use]
    pub fn with_checksum(mut self, checksum: crate::checksum::Checksum) -> Self {
        self.checksum =
            Some(ClaimedChecksum { algorithm: checksum.algorithm().as_str().to_owned(), value: checksum.to_base64() });
        self
    }

    /// A multipart upload whose every part carries its checksum of `algorithm`, computed by the
    /// client and given when the part's URL is asked for. With `serde`: `"part_checksums": "SHA256"`.
    #[must_use]
    pub fn with_part_checksums(mut self, algorithm: crate::checksum::ChecksumAlgorithm) -> Self {
        self.part_checksums = Some(algorithm.as_str().to_owned());
        self
    }

    /// The file's checksum, if the client gave one.
    ///
    /// # Errors
    ///
    /// [`ChecksumError`](crate::checksum::ChecksumError) for an unknown algorithm or a value that is
    /// not its digest in base64.
    pub fn checksum(&self) -> Result<Option<crate::checksum::Checksum>, crate::checksum::ChecksumError> {
        let Some(claimed) = &self.checksum else { return Ok(None) };
        let algorithm = claimed.algorithm.parse()?;
        crate::checksum::Checksum::from_base64(algorithm, &claimed.value).map(Some)
    }

    /// The algorithm of the parts' checksums, if the client will give them.
    ///
    /// # Errors
    ///
    /// [`ChecksumError`](crate::checksum::ChecksumError) for an unknown algorithm.
    pub fn part_checksums(&self) -> Result<Option<crate::checksum::ChecksumAlgorithm>, crate::checksum::ChecksumError> {
        self.part_checksums.as_deref().map(str::parse).transpose()
    }

    /// The file's name, as the client gave it (not sanitised yet).
    #[must_use]
    pub fn filename(&self) -> &str {
        &self.filename
    }

    /// The declared media type.
    #[must_use]
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// The declared size in bytes, if the client said.
    #[must_use]
    pub fn declared_size(&self) -> Option<u64> {
        self.size
    }
}

/// A media-type pattern: `image/png` (exact), `image/*` (any image) or `*/*` (anything).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TypePattern {
    /// Lowercase `type`, or `*`.
    kind: String,
    /// Lowercase `subtype`, or `*`.
    subtype: String,
}

impl TypePattern {
    /// Parses a pattern.
    ///
    /// # Errors
    ///
    /// [`PolicyViolation::InvalidContentType`] when `pattern` is not `type/subtype` made of media-type
    /// characters, or `type/*`, or `*/*`.
    pub fn parse(pattern: &str) -> Result<Self, PolicyViolation> {
        let invalid = || PolicyViolation::InvalidContentType { content_type: shorten(pattern) };
        let (kind, subtype) = pattern.trim().split_once('/').ok_or_else(invalid)?;
        let ok = |s: &str, star: bool| {
            (star && s == "*") || (!s.is_empty() && s.len() <= 127 && s.bytes().all(is_media_char))
        };
        if !ok(kind, true) || !ok(subtype, true) || (kind == "*" && subtype != "*") {
            return Err(invalid());
        }
        Ok(Self { kind: kind.to_ascii_lowercase(), subtype: subtype.to_ascii_lowercase() })
    }

    /// Whether the media type `essence` (`type/subtype`, lowercase) matches.
    pub(super) fn matches(&self, kind: &str, subtype: &str) -> bool {
        (self.kind == "*" || self.kind == kind) && (self.subtype == "*" || self.subtype == subtype)
    }

    /// The types both patterns match, if any: `image/*` and `image/png` give `image/png`.
    #[cfg(feature = "axum")]
    pub(crate) fn intersect(&self, other: &Self) -> Option<Self> {
        let part = |a: &str, b: &str| match (a, b) {
            ("*", x) | (x, "*") => Some(x.to_owned()),
            (x, y) if x == y => Some(x.to_owned()),
            _ => None,
        };
        let kind = part(&self.kind, &other.kind)?;
        let subtype = part(&self.subtype, &other.subtype)?;
        // `*/png` is not a pattern: a wildcard type keeps a wildcard subtype.
        if kind == "*" && subtype != "*" {
            return None;
        }
        Some(Self { kind, subtype })
    }
}

impl fmt::Display for TypePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.subtype)
    }
}

/// RFC 6838 `restricted-name-chars`.
fn is_media_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b)
}

pub(super) fn shorten(text: &str) -> String {
    text.chars().take(100).collect()
}

/// Splits a content type into lowercase `type` and `subtype`, checking it (parameters after `;`
/// must be visible ASCII).
pub(super) fn parse_content_type(content_type: &str) -> Result<(String, String), PolicyViolation> {
    let invalid = || PolicyViolation::InvalidContentType { content_type: shorten(content_type) };
    let (essence, params) = content_type.split_once(';').unwrap_or((content_type, ""));
    let (kind, subtype) = essence.trim().split_once('/').ok_or_else(invalid)?;
    let ok = |s: &str| !s.is_empty() && s.len() <= 127 && s.bytes().all(is_media_char);
    if !ok(kind) || !ok(subtype) || !params.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        return Err(invalid());
    }
    Ok((kind.to_ascii_lowercase(), subtype.to_ascii_lowercase()))
}

/// Why an upload was refused before anything was signed. Each says what the client did wrong, in
/// words a person understands, and the HTTP status a web handler should answer with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyViolation {
    /// The content type is not one the policy allows.
    #[error("files of type {content_type} are not accepted (allowed: {})", allowed.join(", "))]
    TypeNotAllowed {
        /// The type the client declared.
        content_type: String,
        /// The patterns the policy allows.
        allowed: Vec<String>,
    },
    /// The declared size is over the limit.
    #[error("the file is {} but the limit is {}", crate::error::human_size(*size), crate::error::human_size(*max))]
    TooLarge {
        /// The size the client declared.
        size: u64,
        /// The policy's maximum.
        max: u64,
    },
    /// The file is empty and the policy does not allow empty files.
    #[error("the file is empty")]
    Empty,
    /// A single upload was asked for without the file's size, which it must sign.
    #[error("the file's size is needed to sign its upload")]
    SizeRequired,
    /// The content type is not a media type.
    #[error("{content_type:?} is not a media type such as image/png")]
    InvalidContentType {
        /// What the client sent.
        content_type: String,
    },
    /// A checksum the client gave cannot be used (malformed, wrong length, unknown algorithm, or
    /// missing or unexpected for a part).
    #[error("the checksum cannot be used: {0}")]
    InvalidChecksum(crate::checksum::ChecksumError),
    /// A part's checksum is needed (the upload was made with checksums) or was given where the
    /// upload has none.
    #[error("{0}")]
    PartChecksum(String),
}

impl PolicyViolation {
    /// The refusal in words for the person choosing the file, without media types: "This file is a
    /// web page; only images and PDF documents are accepted."
    #[must_use]
    pub fn user_message(&self) -> String {
        use super::words::{pattern_in_words, type_in_words};
        match self {
            Self::TypeNotAllowed { content_type, allowed } => {
                let kinds: Vec<String> = allowed.iter().map(|p| pattern_in_words(p)).collect();
                let list = match kinds.as_slice() {
                    [] => "no files".to_owned(),
                    [one] => one.clone(),
                    [init @ .., last] => format!("{} and {last}", init.join(", ")),
                };
                format!("This file is {}; only {list} are accepted.", type_in_words(content_type))
            }
            Self::TooLarge { size, max } => format!(
                "This file is {}; files up to {} are accepted.",
                crate::error::human_size(*size),
                crate::error::human_size(*max)
            ),
            Self::Empty => "This file is empty.".to_owned(),
            Self::SizeRequired => "The browser did not say how large this file is.".to_owned(),
            Self::InvalidContentType { .. } => "The browser did not say what kind of file this is.".to_owned(),
            Self::InvalidChecksum(_) | Self::PartChecksum(_) => {
                "The browser's checksum of this file could not be used; reload the page and try again.".to_owned()
            }
        }
    }

    /// The HTTP status to answer with: 415 for a refused type, 413 for a file too large, 411 for a
    /// size missing, 400 otherwise.
    #[must_use]
    pub fn http_status(&self) -> u16 {
        match self {
            Self::TypeNotAllowed { .. } => 415,
            Self::TooLarge { .. } => 413,
            Self::SizeRequired => 411,
            _ => 400,
        }
    }
}

#[cfg(all(test, feature = "axum"))]
mod tests {
    use super::*;

    #[test]
    fn patterns_intersect() {
        let p = |s: &str| TypePattern::parse(s).unwrap();
        let shown = |a: &str, b: &str| p(a).intersect(&p(b)).map(|t| t.to_string());
        assert_eq!(shown("image/*", "image/png").as_deref(), Some("image/png"));
        assert_eq!(shown("image/png", "image/*").as_deref(), Some("image/png"));
        assert_eq!(shown("*/*", "video/*").as_deref(), Some("video/*"));
        assert_eq!(shown("image/*", "video/*"), None);
        assert_eq!(shown("image/png", "image/jpeg"), None);
        assert_eq!(shown("*/*", "*/*").as_deref(), Some("*/*"));
    }
}
