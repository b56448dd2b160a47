//! Retries: bounded, with exponential backoff and full jitter, for idempotent requests only.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// How the S3 backend retries a request that failed in a way that may pass (5xx, 429, throttling,
/// connection errors, timeouts). Only idempotent requests are retried (every operation of
/// [`Storage`](crate::Storage) is), and only when their body can be sent again (bytes and files, not
/// streams).
///
/// The delay before attempt *n* (counting from 1 for the first retry) is a random duration between
/// zero and `min(max_delay, base_delay × 2ⁿ⁻¹)` ("full jitter"), or what the server asked for in
/// `Retry-After` when that is longer (never more than `max_delay`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct RetryPolicy {
    /// Total attempts, the first included (1 = never retry).
    pub max_attempts: u32,
    /// The delay scale of the first retry.
    pub base_delay: Duration,
    /// The longest delay between two attempts.
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// Never retry.
    pub const fn none() -> Self {
        Self { max_attempts: 1, base_delay: Duration::ZERO, max_delay: Duration::ZERO }
    }

    /// `max_attempts` attempts with the given delays.
    pub const fn new(max_attempts: u32, base_delay: Duration, max_delay: Duration) -> Self {
        Self { max_attempts, base_delay, max_delay }
    }

    /// The delay before retry number `retry` (1-based), before jitter: the upper bound of the random
    /// delay.
    #[must_use]
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.saturating_sub(1)).unwrap_or(u32::MAX);
        self.base_delay.checked_mul(factor).unwrap_or(self.max_delay).min(self.max_delay)
    }

    /// The delay before retry number `retry`: uniformly random below [`backoff_ceiling`](Self::backoff_ceiling).
    #[must_use]
    pub fn delay(&self, retry: u32) -> Duration {
        let ceiling = self.backoff_ceiling(retry);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(random_u64() % nanos)
    }
}

impl Default for RetryPolicy {
    /// 3 attempts, 100 ms base delay, at most 5 s between attempts.
    fn default() -> Self {
        Self::new(3, Duration::from_millis(100), Duration::from_secs(5))
    }
}

/// A random number (for jitter and unique ids; not for keys or secrets): the standard library's
/// randomly keyed hasher, seeded from the operating system, over a counter.
pub(crate) fn random_u64() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::new(10, Duration::from_millis(100), Duration::from_secs(1));
        assert_eq!(p.backoff_ceiling(1), Duration::from_millis(100));
        assert_eq!(p.backoff_ceiling(2), Duration::from_millis(200));
        assert_eq!(p.backoff_ceiling(4), Duration::from_millis(800));
        assert_eq!(p.backoff_ceiling(5), Duration::from_secs(1));
        assert_eq!(p.backoff_ceiling(40), Duration::from_secs(1));
        for retry in 1..8 {
            assert!(p.delay(retry) <= p.backoff_ceiling(retry));
        }
        let delays: std::collections::HashSet<_> = (0..20).map(|_| p.delay(3)).collect();
        assert!(delays.len() > 1, "jitter varies");
        assert_eq!(RetryPolicy::none().delay(1), Duration::ZERO);
    }
}
