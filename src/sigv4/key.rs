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
    /// HMAC-SHA256 keyed with the day's signing key, ready to clone.
    pub(crate) mac: HmacSha256,
}

/// The signing key of the most recent day, shared by all threads that use one signer.
#[derive(Default)]
pub(crate) struct KeyCache {
    slot: RwLock<Option<Arc<DayKey>>>,
}

pub(crate) struct KeyParams<'a> {
    pub(crate) access_key_id: &'a str,
    pub(crate) secret: &'a str,
    pub(crate) region: &'a str,
    pub(crate) service: &'a str,
}

impl KeyCache {
    /// Runs `f` with the day key of `date` (`YYYYMMDD`), derived on the first use of each day. The
    /// common case takes a shared lock only, and no reference count.
    pub(crate) fn with<R>(&self, date: &str, params: &KeyParams<'_>, f: impl FnOnce(&DayKey) -> R) -> R {
        {
            let slot = self.slot.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(day) = slot.as_deref()
                && day.date.as_slice() == date.as_bytes()
            {
                return f(day);
            }
        }
        let day = Arc::new(Self::derive(date, params));
        *self.slot.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&day));
        f(&day)
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
        Self { slot: RwLock::new(slot.clone()) }
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
        DayKey { date: date_bytes, credential, credential_query, query_prefix, sts_scope, mac: keyed(key.as_slice()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
