//! The derived signing key, and its cache.
//!
//! SigV4 derives a key per (secret, date, region, service) through four HMACs. A [`Signer`] is bound to
//! one secret, region and service, so it keeps the key of the current date: one derivation per day
//! instead of one per request. The cached value is an HMAC state already keyed with the signing key,
//! so a signature costs only the hashing of the string to sign.
//!
//! [`Signer`]: super::Signer

use std::sync::{Arc, PoisonError, RwLock};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::encode;
use super::sha::{HmacKey, HmacRun};

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// A fresh HMAC-SHA256 keyed with `key` (HMAC takes keys of any length).
pub(crate) fn keyed(key: &[u8]) -> HmacSha256 {
    match <HmacSha256 as KeyInit>::new_from_slice(key) {
        Ok(mac) => mac,
        // HMAC accepts every key length; this arm cannot be taken.
        Err(_) => unreachable_hmac(),
    }
}

#[cold]
fn unreachable_hmac() -> HmacSha256 {
    <HmacSha256 as KeyInit>::new(&Default::default())
}

fn hmac(key: &[u8], data: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut mac = keyed(key);
    mac.update(data);
    Zeroizing::new(mac.finalize().into_bytes().into())
}

/// `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub(crate) fn derive_signing_key(secret: &str, date: &str, region: &str, service: &str) -> Zeroizing<[u8; 32]> {
    let mut seed = Zeroizing::new(Vec::with_capacity(4 + secret.len()));
    seed.extend_from_slice(b"AWS4");
    seed.extend_from_slice(secret.as_bytes());
    let k_date = hmac(&seed, date.as_bytes());
    let k_region = hmac(k_date.as_slice(), region.as_bytes());
    let k_service = hmac(k_region.as_slice(), service.as_bytes());
    hmac(k_service.as_slice(), b"aws4_request")
}

/// Everything about a signing day that does not change from request to request.
pub(crate) struct DayKey {
    /// Tells this day key apart from every other (per-thread caches are keyed by it).
    pub(crate) id: u64,
    /// `YYYYMMDD`.
    pub(crate) date: [u8; 8],
    /// `AKID/YYYYMMDD/region/service/aws4_request`, for the Authorization header.
    pub(crate) credential: String,
    /// The same, query-encoded, for `X-Amz-Credential`.
    pub(crate) credential_query: String,
    /// `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=…&X-Amz-Date=`: how both the canonical query
    /// and the URL of a presigned request go on before the time.
    pub(crate) query_prefix: String,
    /// `\n<scope>\n`: the part of the string to sign between the time and the hash.
    pub(crate) sts_scope: String,
    /// HMAC-SHA256 keyed with the day's signing key.
    pub(crate) mac: HmacKey,
}

impl DayKey {
    /// The day's HMAC state with the string to sign absorbed up to the hash of the canonical request
    /// (`AWS4-HMAC-SHA256\n<time>\n<scope>\n`). That prefix changes once a second, so each thread
    /// keeps the state of the last second it signed in: a service presigning many URLs a second
    /// hashes one block less per signature. (The state is wiped when replaced, like the day key.)
    pub(crate) fn with_time(&self, amz_date: &str) -> HmacRun {
        type Slot = Option<(u64, [u8; 16], HmacRun)>;
        thread_local! {
            static LAST: std::cell::RefCell<Slot> = const { std::cell::RefCell::new(None) };
        }
        let fresh = || {
            let mut mac = self.mac.start();
            mac.update(b"AWS4-HMAC-SHA256\n");
            mac.update(amz_date.as_bytes());
            mac.update(self.sts_scope.as_bytes());
            mac
        };
        let mut stamp = [0u8; 16];
        for (slot, b) in stamp.iter_mut().zip(amz_date.bytes()) {
            *slot = b;
        }
        LAST.try_with(|cell| {
            let Ok(mut last) = cell.try_borrow_mut() else { return fresh() };
            match &*last {
                Some((id, at, mac)) if *id == self.id && *at == stamp => mac.clone(),
                _ => {
                    let mac = fresh();
                    *last = Some((self.id, stamp, mac.clone()));
                    mac
                }
            }
        })
        .unwrap_or_else(|_| fresh())
    }
}

/// The signing key of the most recent day, shared by all threads that use one signer, and the last
/// one each thread used, so that signing touches no shared lock or reference count.
pub(crate) struct KeyCache {
    /// Tells this cache apart from every other, for the per-thread copies.
    id: u64,
    slot: RwLock<Option<Arc<DayKey>>>,
}

impl Default for KeyCache {
    fn default() -> Self {
        static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Self { id: IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed), slot: RwLock::new(None) }
    }
}

thread_local! {
    /// The day key this thread signed with last, and the cache it came from.
    static RECENT: std::cell::RefCell<Option<(u64, Arc<DayKey>)>> = const { std::cell::RefCell::new(None) };
}

pub(crate) struct KeyParams<'a> {
    pub(crate) access_key_id: &'a str,
    pub(crate) secret: &'a str,
    pub(crate) region: &'a str,
    pub(crate) service: &'a str,
}

impl KeyCache {
    /// Runs `f` once with the day key of `date` (`YYYYMMDD`), derived on the first use of each day.
    /// The common case finds it in this thread's copy: no lock, no reference count, nothing another
    /// thread writes to. (`f` is `FnMut` only so that it can be called from either place.)
    pub(crate) fn with<R>(&self, date: &str, params: &KeyParams<'_>, mut f: impl FnMut(&DayKey) -> R) -> R {
        let mine = |day: &DayKey| day.date.as_slice() == date.as_bytes();
        let recent = RECENT.try_with(|cell| {
            let slot = cell.try_borrow().ok()?;
            match slot.as_ref() {
                Some((id, day)) if *id == self.id && mine(day) => Some(f(day)),
                _ => None,
            }
        });
        if let Ok(Some(result)) = recent {
            return result;
        }
        let day = self.shared(date, params);
        let _ = RECENT.try_with(|cell| {
            if let Ok(mut slot) = cell.try_borrow_mut() {
                *slot = Some((self.id, Arc::clone(&day)));
            }
        });
        f(&day)
    }

    /// The day key of `date` from the shared slot, derived and stored there when it is another day's.
    fn shared(&self, date: &str, params: &KeyParams<'_>) -> Arc<DayKey> {
        {
            let slot = self.slot.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(day) = slot.as_ref()
                && day.date.as_slice() == date.as_bytes()
            {
                return Arc::clone(day);
            }
        }
        let day = Arc::new(Self::derive(date, params));
        *self.slot.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&day));
        day
    }

    /// The day key of `date`, as [`with`](Self::with), kept.
    #[cfg(test)]
    pub(crate) fn get(&self, date: &str, params: &KeyParams<'_>) -> Arc<DayKey> {
        self.with(date, params, |_| ());
        let slot = self.slot.read().unwrap_or_else(PoisonError::into_inner);
        slot.clone().unwrap_or_else(|| Arc::new(Self::derive(date, params)))
    }

    /// The cached day, if any, for a signer being cloned.
    pub(crate) fn snapshot(&self) -> Self {
        let slot = self.slot.read().unwrap_or_else(PoisonError::into_inner);
        Self { slot: RwLock::new(slot.clone()), ..Self::default() }
    }

    fn derive(date: &str, params: &KeyParams<'_>) -> DayKey {
        let key = derive_signing_key(params.secret, date, params.region, params.service);
        let mut date_bytes = [b'0'; 8];
        for (slot, b) in date_bytes.iter_mut().zip(date.bytes()) {
            *slot = b;
        }
        let scope = format!("{date}/{}/{}/aws4_request", params.region, params.service);
        let credential = format!("{}/{scope}", params.access_key_id);
        let mut credential_query = String::with_capacity(credential.len() + 16);
        encode::push_component(&mut credential_query, &credential);
        let query_prefix = format!("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={credential_query}&X-Amz-Date=");
        let sts_scope = format!("\n{scope}\n");
        static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let id = IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        DayKey {
            id,
            date: date_bytes,
            credential,
            credential_query,
            query_prefix,
            sts_scope,
            mac: HmacKey::new(key.as_slice()),
        }
    }
}

/// Region and service names: 1 to 63 of `A-Z a-z 0-9 . _ -`.
pub(crate) fn is_scope_token(s: &str) -> bool {
    (1..=63).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_tokens() {
        assert!(is_scope_token("us-east-1") && is_scope_token("auto") && is_scope_token("s3"));
        for bad in ["", "us east", "us/east", "a\nb", "ü", &"a".repeat(64)] {
            assert!(!is_scope_token(bad), "{bad:?}");
        }
    }

    /// The worked example of the AWS SigV4 documentation ("Deriving the signing key"): secret
    /// `wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY`, 20120215, us-east-1, iam.
    #[test]
    fn documented_signing_key() {
        let key = derive_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam");
        assert_eq!(hex::encode(key.as_slice()), "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
    }

    #[test]
    fn cache_rederives_on_a_new_day() {
        let cache = KeyCache::default();
        let params = KeyParams { access_key_id: "AKID", secret: "s", region: "r", service: "s3" };
        let a = cache.get("20200101", &params);
        let b = cache.get("20200101", &params);
        assert!(Arc::ptr_eq(&a, &b));
        let c = cache.get("20200102", &params);
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(c.sts_scope, "\n20200102/r/s3/aws4_request\n");
        assert_eq!(c.credential_query, "AKID%2F20200102%2Fr%2Fs3%2Faws4_request");
    }
}
