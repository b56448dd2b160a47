//! The values of a multipart upload: its id, part numbers, parts, and the errors of bad input.

use std::fmt;

use time::OffsetDateTime;

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
pub struct MultipartUpload {
    /// Where the object goes.
    pub key: String,
    /// The server's id of the upload.
    pub upload_id: UploadId,
}

impl MultipartUpload {
    /// The upload `upload_id` of `key`.
    #[must_use]
    pub fn new(key: impl Into<String>, upload_id: UploadId) -> Self {
        Self { key: key.into(), upload_id }
    }
}

/// A part that was stored, as completion names it: its number and the ETag the server gave it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CompletedPart {
    /// The part number.
    pub number: PartNumber,
    /// The part's ETag, as the server answered it (quotes included when it sent them).
    pub etag: String,
}

impl CompletedPart {
    /// Part `number` with `etag`.
    #[must_use]
    pub fn new(number: PartNumber, etag: impl Into<String>) -> Self {
        Self { number, etag: etag.into() }
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
}

impl UploadedPart {
    /// Part `number` of `size` bytes, without ETag or date.
    #[must_use]
    pub fn new(number: PartNumber, size: u64) -> Self {
        Self { number, etag: None, size, last_modified: None }
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
