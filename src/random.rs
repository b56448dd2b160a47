//! Random numbers for retry jitter, unique upload folders and test fixtures: the standard library's
//! randomly keyed SipHash, seeded from the operating system once per thread, over a counter.
//! Unpredictable without the thread's key, which is what an unguessable folder name needs; key
//! material is never made from them.

use std::hash::{BuildHasher, Hasher};

/// A random number.
pub(crate) fn random_u64() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}
