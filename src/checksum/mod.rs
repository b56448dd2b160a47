//! The checksums S3 verifies (`x-amz-checksum-<algorithm>`): the five algorithms, their values, and
//! the state that computes them while the bytes stream.
//!
//! A checksum sent with an upload is checked by the bucket itself: bytes altered anywhere between
//! the reader and the disk are refused (`400 BadDigest`), and nothing is stored. Where the bytes are
//! not in memory (a stream, a file), stowage sends the checksum after them, as S3's streaming
//! trailer: computed while they go out, with no second pass and no extra memory.
//!
//! ```
//! use stowage::checksum::{Checksum, ChecksumAlgorithm, ChecksumHasher};
//!
//! let mut hasher = ChecksumHasher::new(ChecksumAlgorithm::Crc32c);
//! hasher.update(b"hello ");
//! hasher.update(b"world");
//! let checksum = hasher.finish();
//! assert_eq!(checksum.to_base64(), "yZRlqg==");
//! assert_eq!(Checksum::from_base64(ChecksumAlgorithm::Crc32c, "yZRlqg==")?, checksum);
//! # Ok::<(), stowage::checksum::ChecksumError>(())
//! ```
//!
//! **Multipart uploads** have a type. *Full-object* (CRC32, CRC32C, CRC64NVME): the checksum of the
//! whole object, the same value a single PUT of it would have; stowage combines the parts' CRCs into
//! it. *Composite* (CRC32, CRC32C, SHA-1, SHA-256): the checksum of the parts' checksums, written
//! `<value>-<parts>`. Amazon S3 takes both types for CRC32 and CRC32C; Cloudflare R2 takes
//! CRC64NVME as full-object only and the four others as composite only
//! ([`crate::r2::checksum_supported`]).

mod hasher;

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

pub use hasher::{ChecksumHasher, combine_full_object, composite_of};

/// An algorithm S3 verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChecksumAlgorithm {
    /// CRC-32 (ISO-HDLC, as zlib's).
    Crc32,
    /// CRC-32C (Castagnoli, iSCSI).
    Crc32c,
    /// CRC-64/NVME: S3's default since 2025, the only full-object checksum R2 takes.
    Crc64Nvme,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
}

impl ChecksumAlgorithm {
    /// The five, in S3's order.
    pub const ALL: [Self; 5] = [Self::Crc32, Self::Crc32c, Self::Crc64Nvme, Self::Sha1, Self::Sha256];

    /// S3's name: `CRC32`, `CRC32C`, `CRC64NVME`, `SHA1`, `SHA256`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    /// The header that carries a value: `x-amz-checksum-crc32c`.
    #[must_use]
    pub const fn header(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The XML element that carries a value in S3's documents: `ChecksumCRC32C`.
    #[must_use]
    pub const fn element(self) -> &'static str {
        match self {
            Self::Crc32 => "ChecksumCRC32",
            Self::Crc32c => "ChecksumCRC32C",
            Self::Crc64Nvme => "ChecksumCRC64NVME",
            Self::Sha1 => "ChecksumSHA1",
            Self::Sha256 => "ChecksumSHA256",
        }
    }

    /// How many bytes a value has: 4, 4, 8, 20 or 32.
    #[must_use]
    pub const fn digest_len(self) -> usize {
        match self {
            Self::Crc32 | Self::Crc32c => 4,
            Self::Crc64Nvme => 8,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }

    /// Whether the algorithm is a CRC (the ones a full-object checksum can be combined from parts).
    #[must_use]
    pub const fn is_crc(self) -> bool {
        matches!(self, Self::Crc32 | Self::Crc32c | Self::Crc64Nvme)
    }

    /// Whether a multipart upload may have this algorithm with this type (S3's valid pairs:
    /// CRC64NVME full-object only; CRC32 and CRC32C either; SHA-1 and SHA-256 composite only).
    #[must_use]
    pub const fn allows(self, kind: ChecksumType) -> bool {
        match kind {
            ChecksumType::FullObject => self.is_crc(),
            ChecksumType::Composite => !matches!(self, Self::Crc64Nvme),
        }
    }

    /// The type a multipart upload gets unless told otherwise: full-object for the CRCs (the value
    /// is the whole file's, as a single PUT's would be), composite for SHA-1 and SHA-256.
    #[must_use]
    pub const fn default_type(self) -> ChecksumType {
        if self.is_crc() { ChecksumType::FullObject } else { ChecksumType::Composite }
    }
}

impl fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChecksumAlgorithm {
    type Err = ChecksumError;

    /// `CRC32`, `crc32c`, `CRC64NVME`, `sha1`, `SHA-256`, … (case and a `-` ignored).
    fn from_str(name: &str) -> Result<Self, ChecksumError> {
        let plain: String = name.chars().filter(|c| *c != '-' && *c != '_').collect::<String>().to_ascii_uppercase();
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == plain)
            .ok_or_else(|| ChecksumError::UnknownAlgorithm { name: name.chars().take(32).collect() })
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for ChecksumAlgorithm {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for ChecksumAlgorithm {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// How a multipart upload's checksum is made from its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "SCREAMING_SNAKE_CASE"))]
#[non_exhaustive]
pub enum ChecksumType {
    /// The checksum of the parts' checksums (`<value>-<parts>`).
    Composite,
    /// The checksum of the whole object, as a single PUT's would be (CRCs only).
    FullObject,
}

impl ChecksumType {
    /// S3's name: `COMPOSITE`, `FULL_OBJECT`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Composite => "COMPOSITE",
            Self::FullObject => "FULL_OBJECT",
        }
    }
}

impl fmt::Display for ChecksumType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A checksum value: an algorithm and its digest (big-endian, as S3 writes it in base64).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Checksum {
    algorithm: ChecksumAlgorithm,
    bytes: [u8; 32],
}

impl Checksum {
    /// The checksum `digest` of `algorithm`.
    ///
    /// # Errors
    ///
    /// [`ChecksumError::WrongLength`] when `digest` is not the algorithm's length.
    pub fn new(algorithm: ChecksumAlgorithm, digest: &[u8]) -> Result<Self, ChecksumError> {
        if digest.len() != algorithm.digest_len() {
            return Err(ChecksumError::WrongLength {
                algorithm,
                expected: algorithm.digest_len(),
                actual: digest.len(),
            });
        }
        let mut bytes = [0u8; 32];
        bytes[..digest.len()].copy_from_slice(digest);
        Ok(Self { algorithm, bytes })
    }

    /// The checksum written in base64, as S3 writes it (`x-amz-checksum-crc32c: yZRlqg==`).
    ///
    /// # Errors
    ///
    /// [`ChecksumError::Malformed`] for text that is not base64; [`ChecksumError::WrongLength`] for
    /// a digest of another length than the algorithm's.
    pub fn from_base64(algorithm: ChecksumAlgorithm, text: &str) -> Result<Self, ChecksumError> {
        let digest = STANDARD.decode(text.trim()).map_err(|_| ChecksumError::Malformed { algorithm })?;
        Self::new(algorithm, &digest)
    }

    /// The algorithm.
    #[must_use]
    pub const fn algorithm(&self) -> ChecksumAlgorithm {
        self.algorithm
    }

    /// The digest's bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.algorithm.digest_len()]
    }

    /// The digest in base64, as S3 writes it.
    #[must_use]
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.as_bytes())
    }

    /// The digest in lowercase hex (as `sha256sum` prints a SHA-256).
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(self.as_bytes())
    }

    /// The header that carries it, and its value.
    #[must_use]
    pub fn header(&self) -> (&'static str, String) {
        (self.algorithm.header(), self.to_base64())
    }
}

impl fmt::Debug for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Checksum({}:{})", self.algorithm, self.to_base64())
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Checksum {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut fields = serializer.serialize_struct("Checksum", 2)?;
        fields.serialize_field("algorithm", &self.algorithm)?;
        fields.serialize_field("value", &self.to_base64())?;
        fields.end()
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Checksum {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        struct Written {
            algorithm: ChecksumAlgorithm,
            value: String,
        }
        let written = Written::deserialize(deserializer)?;
        Self::from_base64(written.algorithm, &written.value).map_err(serde::de::Error::custom)
    }
}

/// A checksum as a bucket reports it for an object: the value, and for a composite one the number
/// of parts it was made of (`<value>-<parts>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct StoredChecksum {
    /// The value.
    pub checksum: Checksum,
    /// The type (full-object for a single PUT).
    pub kind: ChecksumType,
    /// For a composite checksum, how many parts it was made of.
    pub parts: Option<u32>,
}

impl StoredChecksum {
    /// A full-object checksum.
    #[must_use]
    pub const fn full_object(checksum: Checksum) -> Self {
        Self { checksum, kind: ChecksumType::FullObject, parts: None }
    }

    /// A composite checksum of `parts` parts.
    #[must_use]
    pub const fn composite(checksum: Checksum, parts: u32) -> Self {
        Self { checksum, kind: ChecksumType::Composite, parts: Some(parts) }
    }

    /// A value as S3 writes it in a header: `<base64>` or `<base64>-<parts>`, with the type the
    /// server named (`x-amz-checksum-type`), if any.
    ///
    /// # Errors
    ///
    /// [`ChecksumError`] for a value that is not one of `algorithm`.
    pub fn parse(algorithm: ChecksumAlgorithm, text: &str, kind: Option<&str>) -> Result<Self, ChecksumError> {
        let text = text.trim();
        let (value, parts) = match text.rsplit_once('-') {
            Some((value, count)) if !count.is_empty() && count.bytes().all(|b| b.is_ascii_digit()) => {
                (value, count.parse::<u32>().ok())
            }
            _ => (text, None),
        };
        let checksum = Checksum::from_base64(algorithm, value)?;
        let composite = parts.is_some() || kind.is_some_and(|k| k.eq_ignore_ascii_case("COMPOSITE"));
        Ok(Self { checksum, kind: if composite { ChecksumType::Composite } else { ChecksumType::FullObject }, parts })
    }
}

impl fmt::Display for StoredChecksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.parts {
            Some(parts) => write!(f, "{}-{parts}", self.checksum),
            None => write!(f, "{}", self.checksum),
        }
    }
}

/// A checksum that cannot be used, in a sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChecksumError {
    /// The text is not base64.
    #[error("the {algorithm} checksum is not base64; send the digest's bytes in standard base64 (as S3 writes them)")]
    Malformed {
        /// The algorithm it was for.
        algorithm: ChecksumAlgorithm,
    },
    /// The digest is not the algorithm's length.
    #[error(
        "a {algorithm} checksum is {expected} bytes, this one is {actual}; send the digest's bytes in base64, not hex \
         or text"
    )]
    WrongLength {
        /// The algorithm.
        algorithm: ChecksumAlgorithm,
        /// Its length.
        expected: usize,
        /// The length given.
        actual: usize,
    },
    /// Not one of S3's algorithms.
    #[error("{name:?} is not a checksum S3 verifies; use CRC32, CRC32C, CRC64NVME, SHA1 or SHA256")]
    UnknownAlgorithm {
        /// What was given (cut to 32 characters).
        name: String,
    },
    /// A checksum given for a multipart upload created without one.
    #[error(
        "a {algorithm} checksum was given for a multipart upload created without checksums; create the upload \
         with one (PutOptions::with_checksum)"
    )]
    NotDeclared {
        /// The algorithm given.
        algorithm: ChecksumAlgorithm,
    },
    /// A checksum of another algorithm than the upload's.
    #[error("a {given} checksum was given for a multipart upload created with {declared}")]
    OtherAlgorithm {
        /// The upload's algorithm.
        declared: ChecksumAlgorithm,
        /// The algorithm given.
        given: ChecksumAlgorithm,
    },
    /// A part of an upload created with a checksum lacks its value (at completion, or when its
    /// URL is presigned).
    #[error(
        "part {part} has no {algorithm} checksum, and the upload was created with one: every part names its \
         checksum (PartOptions::with_checksum_value for a part URL; CompletedPart::with_checksum at completion)"
    )]
    PartMissing {
        /// The part number (0: a part URL not yet numbered).
        part: u32,
        /// The upload's algorithm.
        algorithm: ChecksumAlgorithm,
    },
    /// A whole-object value given for an upload that is not full-object of that algorithm.
    #[error(
        "a whole-object {algorithm} checksum was given, but the upload was not created with a full-object {algorithm} checksum"
    )]
    NotFullObject {
        /// The algorithm given.
        algorithm: ChecksumAlgorithm,
    },
    /// A multipart type the algorithm cannot have.
    #[error(
        "a multipart upload cannot have a {kind} {algorithm} checksum (S3 takes CRC64NVME as full-object only, SHA-1 and \
         SHA-256 as composite only)"
    )]
    InvalidType {
        /// The algorithm.
        algorithm: ChecksumAlgorithm,
        /// The type asked for.
        kind: ChecksumType,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lengths_and_pairs() {
        for algorithm in ChecksumAlgorithm::ALL {
            assert_eq!(algorithm.as_str().parse::<ChecksumAlgorithm>(), Ok(algorithm));
            assert_eq!(algorithm.header(), format!("x-amz-checksum-{}", algorithm.as_str().to_ascii_lowercase()));
            assert_eq!(algorithm.element(), format!("Checksum{}", algorithm.as_str()));
            assert!(algorithm.allows(algorithm.default_type()));
        }
        assert_eq!("sha-256".parse(), Ok(ChecksumAlgorithm::Sha256));
        assert!("md5".parse::<ChecksumAlgorithm>().is_err());
        assert!(!ChecksumAlgorithm::Crc64Nvme.allows(ChecksumType::Composite));
        assert!(!ChecksumAlgorithm::Sha256.allows(ChecksumType::FullObject));
        assert!(ChecksumAlgorithm::Crc32c.allows(ChecksumType::Composite));
    }

    #[test]
    fn base64_values_are_checked() {
        assert_eq!(
            Checksum::from_base64(ChecksumAlgorithm::Crc32, "AAAAAAAA"),
            Err(ChecksumError::WrongLength { algorithm: ChecksumAlgorithm::Crc32, expected: 4, actual: 6 })
        );
        assert_eq!(
            Checksum::from_base64(ChecksumAlgorithm::Sha1, "not base64!"),
            Err(ChecksumError::Malformed { algorithm: ChecksumAlgorithm::Sha1 })
        );
        let hex_given = Checksum::from_base64(ChecksumAlgorithm::Sha256, &"ab".repeat(32));
        assert!(matches!(hex_given, Err(ChecksumError::WrongLength { actual: 48, .. })), "{hex_given:?}");
        let value = Checksum::new(ChecksumAlgorithm::Crc32c, &[1, 2, 3, 4]).unwrap();
        assert_eq!(Checksum::from_base64(ChecksumAlgorithm::Crc32c, &value.to_base64()), Ok(value));
        assert_eq!(value.to_hex(), "01020304");
    }

    #[test]
    fn stored_values_read_their_parts() {
        let one = StoredChecksum::parse(ChecksumAlgorithm::Crc32c, "AQIDBA==-3", None).unwrap();
        assert_eq!((one.kind, one.parts, one.to_string()), (ChecksumType::Composite, Some(3), "AQIDBA==-3".into()));
        let whole = StoredChecksum::parse(ChecksumAlgorithm::Crc32c, "AQIDBA==", Some("FULL_OBJECT")).unwrap();
        assert_eq!((whole.kind, whole.parts), (ChecksumType::FullObject, None));
        assert!(StoredChecksum::parse(ChecksumAlgorithm::Crc32c, "AQIDBA-x", None).is_err());
    }
}
