//! How an object is cut into parts: one plan, used for every multipart upload and copy.

use std::fmt;

use crate::storage::multipart::{MultipartError, MultipartLimits, PartNumber};

const MIB: u64 = 1024 * 1024;

/// The part size stowage starts from: 8 MiB, grown to fit the object in 10,000 parts.
pub const DEFAULT_PART_SIZE: u64 = 8 * MIB;

/// How an object of a given size is cut: parts of one size, the last one not larger (R2's rule,
/// which S3 accepts too), each within the service's limits.
///
/// ```
/// use stowage::multipart::{MultipartLimits, PartPlan};
///
/// let plan = PartPlan::new(20 * 1024 * 1024, 8 * 1024 * 1024, &MultipartLimits::S3)?;
/// assert_eq!(plan.part_count(), 3);
/// assert_eq!(plan.part_range(plan.last_part()), 16 * 1024 * 1024..20 * 1024 * 1024);
///
/// // 1 TiB in 8 MiB parts would be 131,072 parts: the size grows to fit 10,000.
/// let big = PartPlan::new(1 << 40, 8 * 1024 * 1024, &MultipartLimits::S3)?;
/// assert!(big.part_count() <= 10_000 && big.part_size() % (1024 * 1024) == 0);
/// # Ok::<(), stowage::multipart::MultipartError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PartPlan {
    object_size: u64,
    part_size: u64,
    part_count: u32,
}

impl PartPlan {
    /// A plan for `object_size` bytes in parts of `preferred_part_size` (grown, in whole MiB, when
    /// the object would need more parts than allowed; raised to the minimum when below it).
    ///
    /// # Errors
    ///
    /// [`MultipartError::ObjectTooLarge`] beyond the service's largest object,
    /// [`MultipartError::PartSize`] when no allowed part size fits it.
    pub fn new(object_size: u64, preferred_part_size: u64, limits: &MultipartLimits) -> Result<Self, MultipartError> {
        if object_size > limits.max_object_size() {
            return Err(MultipartError::ObjectTooLarge { size: object_size, max: limits.max_object_size() });
        }
        let mut part_size = preferred_part_size.max(limits.min_part_size()).max(1);
        let needed = object_size.div_ceil(u64::from(limits.max_parts()).max(1));
        if part_size < needed {
            part_size = needed.div_ceil(MIB).saturating_mul(MIB);
        }
        Self::with_part_size(object_size, part_size.min(limits.max_part_size().max(needed)), limits)
    }

    /// A plan with exactly `part_size` bytes a part.
    ///
    /// # Errors
    ///
    /// [`MultipartError::ObjectTooLarge`], [`MultipartError::PartSize`] outside the service's range,
    /// [`MultipartError::TooManyParts`] when the object needs more parts than allowed.
    pub fn with_part_size(object_size: u64, part_size: u64, limits: &MultipartLimits) -> Result<Self, MultipartError> {
        if object_size > limits.max_object_size() {
            return Err(MultipartError::ObjectTooLarge { size: object_size, max: limits.max_object_size() });
        }
        let single_part = object_size <= part_size;
        if part_size > limits.max_part_size() || part_size == 0 || (part_size < limits.min_part_size() && !single_part)
        {
            return Err(MultipartError::PartSize {
                size: part_size,
                min: limits.min_part_size(),
                max: limits.max_part_size(),
            });
        }
        let count = object_size.div_ceil(part_size).max(1);
        let part_count = u32::try_from(count)
            .ok()
            .filter(|&n| n <= limits.max_parts())
            .ok_or(MultipartError::TooManyParts { parts: count, max: limits.max_parts(), part_size })?;
        Ok(Self { object_size, part_size, part_count })
    }

    /// The object's size.
    #[must_use]
    pub fn object_size(&self) -> u64 {
        self.object_size
    }

    /// The size of every part but the last.
    #[must_use]
    pub fn part_size(&self) -> u64 {
        self.part_size
    }

    /// How many parts.
    #[must_use]
    pub fn part_count(&self) -> u32 {
        self.part_count
    }

    /// The last part's number.
    #[must_use]
    pub fn last_part(&self) -> PartNumber {
        PartNumber::new_unchecked(self.part_count.max(1))
    }

    /// Every part number, in order.
    pub fn parts(&self) -> impl Iterator<Item = PartNumber> + use<> {
        (1..=self.part_count.max(1)).map(PartNumber::new_unchecked)
    }

    /// The bytes of part `part` (empty for a number beyond the plan).
    #[must_use]
    pub fn part_range(&self, part: PartNumber) -> std::ops::Range<u64> {
        let index = u64::from(part.get()) - 1;
        let start = index.saturating_mul(self.part_size).min(self.object_size);
        let end = start.saturating_add(self.part_size).min(self.object_size);
        if part.get() > self.part_count { self.object_size..self.object_size } else { start..end }
    }

    /// The size of part `part` (0 beyond the plan).
    #[must_use]
    pub fn size_of(&self, part: PartNumber) -> u64 {
        let range = self.part_range(part);
        range.end - range.start
    }

    /// Whether `part` belongs to the plan.
    #[must_use]
    pub fn contains(&self, part: PartNumber) -> bool {
        part.get() <= self.part_count.max(1)
    }
}

impl fmt::Display for PartPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes in {} parts of {} bytes", self.object_size, self.part_count, self.part_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1024 * MIB;

    #[test]
    fn parts_are_equal_but_the_last_which_is_not_larger() {
        let plan = PartPlan::new(21 * MIB + 3, 5 * MIB, &MultipartLimits::S3).unwrap();
        assert_eq!(plan.part_count(), 5);
        let sizes: Vec<u64> = plan.parts().map(|p| plan.size_of(p)).collect();
        assert_eq!(sizes, [5 * MIB, 5 * MIB, 5 * MIB, 5 * MIB, MIB + 3]);
        assert_eq!(sizes.iter().sum::<u64>(), 21 * MIB + 3);
        let exact = PartPlan::new(16 * MIB, 8 * MIB, &MultipartLimits::S3).unwrap();
        assert_eq!(exact.part_count(), 2);
        assert_eq!(exact.size_of(exact.last_part()), 8 * MIB);
    }

    #[test]
    fn the_size_grows_to_fit_ten_thousand_parts() {
        for size in [10_000 * 8 * MIB + 1, GIB * 1024, 10_000 * 5 * GIB] {
            let plan = PartPlan::new(size, DEFAULT_PART_SIZE, &MultipartLimits::S3).unwrap();
            assert!(plan.part_count() <= 10_000, "{size}");
            assert!(plan.part_size() <= 5 * GIB && plan.part_size() >= 8 * MIB);
            assert!(u64::from(plan.part_count()) * plan.part_size() >= size);
        }
        let r2 = PartPlan::new(MultipartLimits::R2.max_object_size(), DEFAULT_PART_SIZE, &MultipartLimits::R2).unwrap();
        assert!(r2.part_count() <= 10_000);
    }

    #[test]
    fn what_cannot_be_served_is_refused_with_the_limit() {
        let too_big = PartPlan::new(10_000 * 5 * GIB + 1, DEFAULT_PART_SIZE, &MultipartLimits::S3).unwrap_err();
        assert!(matches!(too_big, MultipartError::ObjectTooLarge { .. }));
        assert!(too_big.to_string().contains("48.8 TiB"), "{too_big}");
        let r2 = PartPlan::new(5 * 1024 * GIB, DEFAULT_PART_SIZE, &MultipartLimits::R2).unwrap_err();
        assert!(matches!(r2, MultipartError::ObjectTooLarge { .. }));
        let small = PartPlan::with_part_size(20 * MIB, MIB, &MultipartLimits::S3).unwrap_err();
        assert!(small.to_string().contains("5.0 MiB"), "{small}");
        let many = PartPlan::with_part_size(10_001 * 5 * MIB, 5 * MIB, &MultipartLimits::S3).unwrap_err();
        assert!(matches!(many, MultipartError::TooManyParts { parts: 10_001, .. }), "{many}");
        assert!(PartPlan::with_part_size(MIB, 6 * GIB, &MultipartLimits::S3).is_err());
        // A single small part is fine: it is the last.
        assert_eq!(PartPlan::with_part_size(100, MIB, &MultipartLimits::S3).unwrap().part_count(), 1);
        assert_eq!(PartPlan::new(0, DEFAULT_PART_SIZE, &MultipartLimits::S3).unwrap().part_count(), 1);
    }

    #[test]
    fn ranges_cover_the_object_once() {
        let plan = PartPlan::new(3 * DEFAULT_PART_SIZE - 7, DEFAULT_PART_SIZE, &MultipartLimits::S3).unwrap();
        let mut next = 0;
        for part in plan.parts() {
            let range = plan.part_range(part);
            assert_eq!(range.start, next);
            next = range.end;
        }
        assert_eq!(next, plan.object_size());
        assert!(plan.part_range(PartNumber::new(4).unwrap()).is_empty());
        assert!(!plan.contains(PartNumber::new(4).unwrap()));
    }
}
