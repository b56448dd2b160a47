//! The values of a multipart upload: its id, part numbers, parts, the service's limits, and the
//! errors of bad input. (How an object is cut into parts, and the upload loop, are
//! [`crate::multipart`]'s: they are built on these values and on the [`Storage`](super::Storage) trait.)

use std::fmt;

use time::OffsetDateTime;

use crate::checksum::{Checksum, ChecksumAlgorithm, ChecksumError, ChecksumType};

/// A part number: 1 to 10,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "u32", into = "u32"))]
pub struct PartNumber(u16);

impl PartNumber {
    /// The first part.
    pub const FIRST: Self = Self(1);
    /// The highest part number S3 and R2 accept.
    pub const MAX: u32 = 10_000;

    /// Part `n`.
    ///
    /// # Errors
    ///
    /// [`MultipartError::PartNumber`] outside 1 ..= 10,000.
    pub fn new(n: u32) -> Result<Self, MultipartError> {
        if (1..=Self::MAX).contains(&n) {
            Ok(Self::new_unchecked(n))
        } else {
            Err(MultipartError::PartNumber { number: u64::from(n) })
        }
    }

    /// For numbers known to be in range (from a plan).
    pub(crate) fn new_unchecked(n: u32) -> Self {
        Self(u16::try_from(n.clamp(1, Self::MAX)).unwrap_or(1))
    }

    /// The number.
    #[must_use]
    pub fn get(self) -> u32 {
        u32::from(self.0)
    }
}

impl TryFrom<u32> for PartNumber {
    type Error = MultipartError;

    fn try_from(n: u32) -> Result<Self, Self::Error> {
        Self::new(n)
    }
}

impl From<PartNumber> for u32 {
    fn from(n: PartNumber) -> Self {
        n.get()
    }
}

impl fmt::Display for PartNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The id a server gave a multipart upload.
#[derive(Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "String", into = "String"))]
pub struct UploadId(String);

impl UploadId {
    /// An upload id as a server wrote it.
    ///
    /// # Errors
    ///
    /// [`MultipartError::UploadId`] when it is empty, longer than 1024 bytes, or holds anything but
    /// visible ASCII (no id a server hands out does).
    pub fn new(id: impl Into<String>) -> Result<Self, MultipartError> {
        let id = id.into();
        if id.is_empty() || id.len() > 1024 || !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(MultipartError::UploadId { id: id.chars().take(64).collect() });
        }
        Ok(Self(id))
    }

    /// The id.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UploadId {
    type Error = MultipartError;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        Self::new(id)
    }
}

impl From<UploadId> for String {
    fn from(id: UploadId) -> Self {
        id.0
    }
}

impl fmt::Display for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UploadId({:?})", self.0)
    }
}

/// A multipart upload in progress: the key it goes to and its id. The upload exists on the server
/// until it is completed or aborted (or a lifecycle rule removes it); nothing is visible at the key
/// before completion.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct MultipartUpload {
    /// Where the object goes.
    pub key: String,
    /// The server's id of the upload.
    pub upload_id: UploadId,
    /// The checksum it was created with, if any: every part sends its own, and completion names
    /// them.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub checksum: Option<UploadChecksum>,
}

/// The checksum a multipart upload was created with: its algorithm and how the object's value is
/// made from the parts'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct UploadChecksum {
    /// The algorithm.
    pub algorithm: ChecksumAlgorithm,
    /// The type.
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub kind: ChecksumType,
}

impl UploadChecksum {
    /// `algorithm` with `kind`.
    ///
    /// # Errors
    ///
    /// [`ChecksumError::InvalidType`] for a pair S3 does not take (CRC64NVME composite, SHA
    /// full-object).
    pub fn new(algorithm: ChecksumAlgorithm, kind: ChecksumType) -> Result<Self, ChecksumError> {
        if !algorithm.allows(kind) {
            return Err(ChecksumError::InvalidType { algorithm, kind });
        }
        Ok(Self { algorithm, kind })
    }
}

impl MultipartUpload {
    /// The upload `upload_id` of `key` (created without a checksum).
    #[must_use]
    pub fn new(key: impl Into<String>, upload_id: UploadId) -> Self {
        Self { key: key.into(), upload_id, checksum: None }
    }

    /// The same upload, created with `checksum`.
    #[must_use]
    pub fn with_checksum(mut self, checksum: UploadChecksum) -> Self {
        self.checksum = Some(checksum);
        self
    }

    /// Part `number` of this upload: what the part requests of [`Storage`](super::Storage) address.
    ///
    /// ```
    /// # use stowage::multipart::{MultipartUpload, PartNumber, UploadId};
    /// let upload = MultipartUpload::new("videos/talk.mp4", UploadId::new("2~abc")?);
    /// let part = upload.part(PartNumber::new(3)?);
    /// assert_eq!((part.upload.key.as_str(), part.number.get()), ("videos/talk.mp4", 3));
    /// # Ok::<(), stowage::multipart::MultipartError>(())
    /// ```
    #[must_use]
    pub fn part(&self, number: PartNumber) -> UploadPart<'_> {
        UploadPart { upload: self, number }
    }
}

/// One part of an upload in progress: the upload and the part's number
/// ([`MultipartUpload::part`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UploadPart<'a> {
    /// The upload.
    pub upload: &'a MultipartUpload,
    /// The part's number.
    pub number: PartNumber,
}

/// A part that was stored, as completion names it: its number and the ETag the server gave it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CompletedPart {
    /// The part number.
    pub number: PartNumber,
    /// The part's ETag, as the server answered it (quotes included when it sent them).
    pub etag: String,
    /// The part's checksum, for an upload created with one.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub checksum: Option<Checksum>,
}

impl CompletedPart {
    /// Part `number` with `etag`.
    #[must_use]
    pub fn new(number: PartNumber, etag: impl Into<String>) -> Self {
        Self { number, etag: etag.into(), checksum: None }
    }

    /// The same part, with its checksum.
    #[must_use]
    pub fn with_checksum(mut self, checksum: Checksum) -> Self {
        self.checksum = Some(checksum);
        self
    }
}

/// A part the server holds for an upload in progress (`ListParts`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct UploadedPart {
    /// The part number.
    pub number: PartNumber,
    /// The part's ETag, if the server lists it.
    pub etag: Option<String>,
    /// Its size in bytes.
    pub size: u64,
    /// When it was stored.
    #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339::option"))]
    pub last_modified: Option<OffsetDateTime>,
    /// Its checksum, for an upload created with one (if the server lists it).
    pub checksum: Option<Checksum>,
}

impl UploadedPart {
    /// Part `number` of `size` bytes, without ETag, date or checksum.
    #[must_use]
    pub fn new(number: PartNumber, size: u64) -> Self {
        Self { number, etag: None, size, last_modified: None, checksum: None }
    }
}

/// An upload in progress, as `ListMultipartUploads` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct MultipartUploadInfo {
    /// The upload.
    pub upload: MultipartUpload,
    /// When it was created.
    #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339::option"))]
    pub initiated: Option<OffsetDateTime>,
}

impl MultipartUploadInfo {
    /// `upload`, started at `initiated` when the server says.
    #[must_use]
    pub fn new(upload: MultipartUpload, initiated: Option<OffsetDateTime>) -> Self {
        Self { upload, initiated }
    }
}

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

/// The multipart rules of a service.
///
/// | | Amazon S3 | Cloudflare R2 |
/// |---|---|---|
/// | part size | 5 MiB to 5 GiB, the last part smaller | 5 MiB to 5 GiB; all but the last of one size, the last not larger |
/// | parts | 1 to 10,000 | 1 to 10,000 |
/// | object | 48.8 TiB (10,000 × 5 GiB) | 4.995 TiB |
///
/// Sources: the AWS S3 User Guide, "Amazon S3 multipart upload limits"; Cloudflare R2 "Limits" and
/// "Multipart upload" (R2 answers `InvalidPart` at completion when the parts are uneven).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct MultipartLimits {
    min_part_size: u64,
    max_part_size: u64,
    max_parts: u32,
    max_object_size: u64,
    equal_parts: bool,
}

impl MultipartLimits {
    /// Amazon S3's limits (and those of S3-compatible servers, unless they say otherwise).
    pub const S3: Self = Self {
        min_part_size: 5 * MIB,
        max_part_size: 5 * GIB,
        max_parts: 10_000,
        max_object_size: 10_000 * 5 * GIB,
        equal_parts: false,
    };

    /// Cloudflare R2's limits: as S3's, with equal parts and objects up to 4.995 TiB.
    pub const R2: Self = Self {
        min_part_size: 5 * MIB,
        max_part_size: 5 * GIB,
        max_parts: 10_000,
        max_object_size: 5 * 1024 * GIB - 5 * GIB,
        equal_parts: true,
    };
}

impl MultipartLimits {
    /// With another smallest part (but the last).
    pub const fn with_min_part_size(mut self, bytes: u64) -> Self {
        self.min_part_size = bytes;
        self
    }

    /// With another largest part.
    pub const fn with_max_part_size(mut self, bytes: u64) -> Self {
        self.max_part_size = bytes;
        self
    }

    /// With another most parts.
    pub const fn with_max_parts(mut self, parts: u32) -> Self {
        self.max_parts = parts;
        self
    }

    /// With another largest object.
    pub const fn with_max_object_size(mut self, bytes: u64) -> Self {
        self.max_object_size = bytes;
        self
    }

    /// Whether every part but the last must have one size.
    pub const fn with_equal_parts(mut self, equal: bool) -> Self {
        self.equal_parts = equal;
        self
    }

    /// The smallest part but the last.
    #[must_use]
    pub const fn min_part_size(&self) -> u64 {
        self.min_part_size
    }

    /// The largest part.
    #[must_use]
    pub const fn max_part_size(&self) -> u64 {
        self.max_part_size
    }

    /// The most parts.
    #[must_use]
    pub const fn max_parts(&self) -> u32 {
        self.max_parts
    }

    /// The largest object.
    #[must_use]
    pub const fn max_object_size(&self) -> u64 {
        self.max_object_size
    }

    /// Whether every part but the last must have one size, the last not larger (R2).
    #[must_use]
    pub const fn equal_parts(&self) -> bool {
        self.equal_parts
    }
}

impl Default for MultipartLimits {
    fn default() -> Self {
        Self::S3
    }
}

/// A multipart request that cannot be right, refused before anything is sent. Each says what is
/// wrong in a sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MultipartError {
    /// A part number outside 1 ..= 10,000.
    #[error("part number {number} is outside 1 to 10,000, the part numbers S3 and R2 accept")]
    PartNumber {
        /// The number given.
        number: u64,
    },
    /// A part number within S3's range but not in this upload's plan.
    #[error("part {number} is not one of this upload's {parts} parts")]
    NotInPlan {
        /// The number asked for.
        number: u32,
        /// How many parts the plan has.
        parts: u32,
    },
    /// An upload id no server hands out.
    #[error(
        "{id:?} is not an upload id (expected the visible ASCII text a server answered CreateMultipartUpload with)"
    )]
    UploadId {
        /// The id given (cut to 64 characters).
        id: String,
    },
    /// Completion without parts.
    #[error("a multipart upload is completed with at least one part; abort it instead")]
    NoParts,
    /// Parts not in ascending order, or a number twice.
    #[error(
        "the parts must be listed in ascending order of part number, each once; part {number} comes after part {after}"
    )]
    PartOrder {
        /// The part out of place.
        number: u32,
        /// The part before it.
        after: u32,
    },
    /// An object larger than the service stores.
    #[error("the object is {} but the largest object this service stores is {}", crate::error::human_size(*size), crate::error::human_size(*max))]
    ObjectTooLarge {
        /// Its size.
        size: u64,
        /// The service's largest object.
        max: u64,
    },
    /// A part size outside the service's range.
    #[error("a part of {} is outside the {} to {} a part may hold (the last part may be smaller)", crate::error::human_size(*size), crate::error::human_size(*min), crate::error::human_size(*max))]
    PartSize {
        /// The size given.
        size: u64,
        /// The smallest part but the last.
        min: u64,
        /// The largest part.
        max: u64,
    },
    /// More parts than allowed.
    #[error("{parts} parts of {} are more than the {max} parts an upload may have; use larger parts", crate::error::human_size(*part_size))]
    TooManyParts {
        /// The parts needed.
        parts: u64,
        /// The most allowed.
        max: u32,
        /// The part size that needed them.
        part_size: u64,
    },
    /// Parts of different sizes where the service needs equal ones (R2).
    #[error("part {number} holds {} but part 1 holds {}: Cloudflare R2 needs every part but the last to have one size, and the last not larger", crate::error::human_size(*size), crate::error::human_size(*expected))]
    UnevenParts {
        /// The uneven part.
        number: u32,
        /// Its size.
        size: u64,
        /// The size of the first part.
        expected: u64,
    },
}

/// Checks a completion's part list: not empty, ascending, each number once.
pub(crate) fn check_part_list(parts: &[CompletedPart]) -> Result<(), MultipartError> {
    if parts.is_empty() {
        return Err(MultipartError::NoParts);
    }
    for pair in parts.windows(2) {
        if pair[1].number <= pair[0].number {
            return Err(MultipartError::PartOrder { number: pair[1].number.get(), after: pair[0].number.get() });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_numbers_and_upload_ids_are_checked() {
        assert!(PartNumber::new(0).is_err());
        assert!(PartNumber::new(10_001).is_err());
        assert_eq!(PartNumber::new(10_000).unwrap().get(), 10_000);
        assert!(PartNumber::new(0).unwrap_err().to_string().contains("1 to 10,000"));
        assert!(UploadId::new("").is_err());
        assert!(UploadId::new("a b").is_err());
        assert!(UploadId::new("a\nb").is_err());
        assert!(UploadId::new("VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA").is_ok());
    }

    #[test]
    fn part_lists_must_ascend() {
        let p = |n: u32| CompletedPart::new(PartNumber::new(n).unwrap(), "\"e\"");
        assert_eq!(check_part_list(&[]), Err(MultipartError::NoParts));
        assert!(check_part_list(&[p(1), p(2), p(5)]).is_ok());
        assert_eq!(check_part_list(&[p(2), p(1)]), Err(MultipartError::PartOrder { number: 1, after: 2 }));
        assert_eq!(check_part_list(&[p(1), p(1)]), Err(MultipartError::PartOrder { number: 1, after: 1 }));
    }
}
