//! Random numbers from the operating system's generator (`getrandom`): retry jitter, unique upload
//! folders, secrets made for one process, test fixtures.

use std::hash::{BuildHasher, Hasher};

/// Fills `bytes` from the operating system's generator. Should it fail (no entropy source on an
/// exotic platform), the standard library's randomly keyed SipHash over a counter fills them:
/// unpredictable without the process's keys, which the standard library also takes from the
/// operating system.
pub(crate) fn fill(bytes: &mut [u8]) {
    if getrandom::getrandom(bytes).is_ok() {
        return;
    }
    for chunk in bytes.chunks_mut(8) {
        let word = hashed_u64().to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
}

/// A random number.
pub(crate) fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    fill(&mut bytes);
    u64::from_le_bytes(bytes)
}

fn hashed_u64() -> u64 {
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
    fn draws_differ() {
        let draws: std::collections::HashSet<u64> = (0..1000).map(|_| random_u64()).collect();
        assert_eq!(draws.len(), 1000);
        let (mut a, mut b) = ([0u8; 37], [0u8; 37]);
        fill(&mut a);
        fill(&mut b);
        assert_ne!(a, b);
        let fallback: std::collections::HashSet<u64> = (0..1000).map(|_| hashed_u64()).collect();
        assert_eq!(fallback.len(), 1000);
    }
}
