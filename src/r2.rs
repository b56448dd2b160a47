//! Cloudflare R2: the S3 backend with R2's endpoint, region and documented differences.
//!
//! R2 speaks the S3 API, so it is a configuration of [`S3Storage`](crate::S3Storage)
//! ([`S3Config::r2`](crate::S3Config::r2), or any endpoint on `r2.cloudflarestorage.com`), not a
//! separate client. What differs:
//!
//! | | R2 | source |
//! |---|---|---|
//! | endpoint | `https://<ACCOUNT_ID>.r2.cloudflarestorage.com`, or `https://<ACCOUNT_ID>.<JURISDICTION>.r2.cloudflarestorage.com` for `eu` and `fedramp` | [S3 API][api], [data location][location] |
//! | region | `auto` (`us-east-1` and empty are aliases) | [S3 API][api], "Bucket region" |
//! | ACLs | `x-amz-acl`, `x-amz-grant-*`: not supported | [S3 API][api], PutObject |
//! | SSE-S3 / SSE-KMS | `x-amz-server-side-encryption`, `-aws-kms-key-id`, `-context`, `-bucket-key-enabled`: not supported (SSE-C is) | [S3 API][api], PutObject |
//! | tagging | `x-amz-tagging`: not supported | [S3 API][api], PutObject |
//! | object lock | `x-amz-object-lock-mode`, `-retain-until-date`, `-legal-hold`: not supported | [S3 API][api], PutObject |
//! | other | `x-amz-website-redirect-location`, `x-amz-request-payer`, `x-amz-expected-bucket-owner`: not supported | [S3 API][api], PutObject |
//! | storage class | `STANDARD` and `STANDARD_IA` only | [S3 API][api], PutObject |
//! | presigned URLs | GET, HEAD, PUT, DELETE; 1 s to 7 days; only on the S3 API domain, not custom domains | [presigned URLs][presigned] |
//! | browser POST uploads | "`POST`, which performs uploads via native HTML forms, is not currently supported." | [presigned URLs][presigned] |
//! | user metadata | 8,192 bytes in total | [limits] |
//! | single PUT | at most 5 GiB − 5 MiB (4.995 GiB) | [limits] |
//! | `Expect: 100-continue` | not supported | [extensions] |
//! | checksums of multipart uploads | CRC64NVME full-object only; CRC32, CRC32C, SHA-1, SHA-256 composite only ([`checksum_supported`]) | [S3 API][api], "Checksum Types" |
//! | two checksums on one request | refused (stowage never sends two) | [S3 API][api] |
//!
//! R2 answers the unsupported headers with `501 NotImplemented` at upload time; stowage refuses them
//! before sending, with [`Error::Unsupported`], so that the mistake shows
//! up where the request is built.
//!
//! [api]: https://developers.cloudflare.com/r2/api/s3/api/
//! [location]: https://developers.cloudflare.com/r2/reference/data-location/
//! [presigned]: https://developers.cloudflare.com/r2/api/s3/presigned-urls/
//! [limits]: https://developers.cloudflare.com/r2/platform/limits/
//! [extensions]: https://developers.cloudflare.com/r2/api/s3/extensions/

use crate::Error;
use crate::checksum::{ChecksumAlgorithm, ChecksumType};

/// The name used in errors.
pub const BACKEND: &str = "Cloudflare R2";

/// The largest single PUT R2 accepts: 5 GiB − 5 MiB.
pub const MAX_PUT_SIZE: u64 = 5 * 1024 * 1024 * 1024 - 5 * 1024 * 1024;

/// The most user metadata (`x-amz-meta-*` names and values) R2 stores for an object.
pub const MAX_METADATA_BYTES: usize = 8192;

const NO_ACLS: &str = "R2 has no ACLs; grant access with API tokens or presigned URLs";
const NO_SSE: &str = "R2 encrypts every object at rest; SSE-S3 and SSE-KMS headers are not accepted (SSE-C is)";

/// Request headers R2 documents as unsupported on uploads (a name ending in `-` is a prefix), with the
/// reason shown in the error.
const REFUSED: &[(&str, &str)] = &[
    ("x-amz-acl", NO_ACLS),
    ("x-amz-grant-", NO_ACLS),
    ("x-amz-server-side-encryption", NO_SSE),
    ("x-amz-server-side-encryption-aws-kms-key-id", NO_SSE),
    ("x-amz-server-side-encryption-context", NO_SSE),
    ("x-amz-server-side-encryption-bucket-key-enabled", NO_SSE),
    ("x-amz-tagging", "R2 does not implement object tagging"),
    ("x-amz-object-lock-", "R2 has no S3 object lock; use R2 bucket locks"),
    ("x-amz-website-redirect-location", "R2 does not implement website redirects"),
    ("x-amz-request-payer", "R2 has no requester-pays"),
    ("x-amz-expected-bucket-owner", "R2 does not check bucket owners"),
];

/// Checks the headers of an upload against R2's documented limits.
///
/// # Errors
///
/// [`Error::Unsupported`] naming the first header R2 would refuse.
pub(crate) fn check_upload_headers<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<(), Error> {
    let mut metadata_bytes = 0usize;
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        let refused = |pattern: &&(&str, &str)| {
            if pattern.0.ends_with('-') { lower.starts_with(pattern.0) } else { lower == pattern.0 }
        };
        if let Some((_, reason)) = REFUSED.iter().find(refused) {
            return Err(Error::Unsupported { backend: BACKEND, what: format!("header {lower}"), reason });
        }
        if lower == "x-amz-storage-class" && !matches!(value, "STANDARD" | "STANDARD_IA") {
            return Err(Error::Unsupported {
                backend: BACKEND,
                what: format!("storage class {value:?}"),
                reason: "R2 accepts the storage classes STANDARD and STANDARD_IA",
            });
        }
        if let Some(meta) = lower.strip_prefix("x-amz-meta-") {
            metadata_bytes += meta.len() + value.len();
        }
    }
    if metadata_bytes > MAX_METADATA_BYTES {
        return Err(Error::Unsupported {
            backend: BACKEND,
            what: format!("{metadata_bytes} bytes of user metadata"),
            reason: "R2 stores at most 8,192 bytes of x-amz-meta-* per object",
        });
    }
    Ok(())
}

/// The S3 endpoint of R2 account `account` (letters and digits), in `jurisdiction` (`eu`,
/// `fedramp`) when given: `https://<account>[.<jurisdiction>].r2.cloudflarestorage.com`.
pub(crate) fn endpoint(account: &str, jurisdiction: Option<&str>) -> Result<String, Error> {
    if account.is_empty() {
        return Err(Error::Config("the Cloudflare R2 account id is empty".into()));
    }
    if !account.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::Config(format!("invalid R2 account id {account:?}: expected letters and digits")));
    }
    Ok(match jurisdiction {
        Some(j) if j.is_empty() || !j.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) => {
            return Err(Error::Config(format!("invalid R2 jurisdiction {j:?}: expected eu or fedramp")));
        }
        Some(j) => format!("https://{account}.{j}.r2.cloudflarestorage.com"),
        None => format!("https://{account}.r2.cloudflarestorage.com"),
    })
}

/// Whether `endpoint` is an R2 S3 endpoint (a host under `r2.cloudflarestorage.com`).
pub(crate) fn is_endpoint(endpoint: &str) -> bool {
    url::Url::parse(endpoint)
        .ok()
        .and_then(|u| u.host_str().map(|h| h.ends_with(".r2.cloudflarestorage.com")))
        .unwrap_or(false)
}

/// Checks the size of a single PUT.
pub(crate) fn check_upload_size(len: u64) -> Result<(), Error> {
    if len > MAX_PUT_SIZE {
        return Err(Error::Unsupported {
            backend: BACKEND,
            what: format!("a single upload of {len} bytes"),
            reason: "R2 accepts at most 5 GiB - 5 MiB in one PUT; use a multipart upload",
        });
    }
    Ok(())
}

/// Whether R2 takes a multipart upload with this checksum: CRC-64/NVME as full-object only, and
/// CRC-32, CRC-32C, SHA-1 and SHA-256 as composite only — Cloudflare's table "Checksum Types" in
/// <https://developers.cloudflare.com/r2/api/s3/api/> (Amazon S3 also takes CRC-32 and CRC-32C as
/// full-object). A single PUT may carry any of the five.
#[must_use]
pub const fn checksum_supported(algorithm: ChecksumAlgorithm, kind: ChecksumType) -> bool {
    matches!(
        (algorithm, kind),
        (ChecksumAlgorithm::Crc64Nvme, ChecksumType::FullObject)
            | (
                ChecksumAlgorithm::Crc32
                    | ChecksumAlgorithm::Crc32c
                    | ChecksumAlgorithm::Sha1
                    | ChecksumAlgorithm::Sha256,
                ChecksumType::Composite
            )
    )
}

/// Refuses, before sending, a multipart upload whose checksum R2 does not take.
///
/// # Errors
///
/// [`Error::Unsupported`] naming the pair and what R2 takes instead.
pub fn check_multipart_checksum(algorithm: ChecksumAlgorithm, kind: ChecksumType) -> Result<(), Error> {
    if checksum_supported(algorithm, kind) {
        return Ok(());
    }
    Err(Error::Unsupported {
        backend: BACKEND,
        what: format!("a {kind} {algorithm} checksum on a multipart upload"),
        reason: "R2 takes CRC64NVME as FULL_OBJECT only and CRC32, CRC32C, SHA1, SHA256 as COMPOSITE only \
                 (developers.cloudflare.com/r2/api/s3/api/, Checksum Types)",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_r2_documents_as_unsupported() {
        for name in [
            "x-amz-acl",
            "X-Amz-Server-Side-Encryption",
            "x-amz-server-side-encryption-aws-kms-key-id",
            "x-amz-tagging",
            "x-amz-object-lock-mode",
            "x-amz-grant-read",
            "x-amz-website-redirect-location",
        ] {
            let err = check_upload_headers([(name, "x")]).unwrap_err();
            assert!(matches!(err, Error::Unsupported { backend: BACKEND, .. }), "{name}");
        }
        assert!(check_upload_headers([("x-amz-storage-class", "GLACIER")]).is_err());
        check_upload_headers([
            ("content-type", "image/png"),
            ("x-amz-storage-class", "STANDARD_IA"),
            ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
            ("x-amz-meta-a", "b"),
        ])
        .unwrap();
        let big = "v".repeat(9000);
        assert!(check_upload_headers([("x-amz-meta-a", big.as_str())]).is_err());
        assert!(check_upload_size(MAX_PUT_SIZE).is_ok());
        assert!(check_upload_size(MAX_PUT_SIZE + 1).is_err());
    }

    #[test]
    fn endpoints() {
        assert_eq!(endpoint("acct01", None).unwrap(), "https://acct01.r2.cloudflarestorage.com");
        assert_eq!(endpoint("acct01", Some("eu")).unwrap(), "https://acct01.eu.r2.cloudflarestorage.com");
        assert!(endpoint("acct/01", None).is_err());
        assert!(endpoint("", None).unwrap_err().to_string().contains("account id is empty"));
        assert!(endpoint("a", Some("E U")).is_err());
        assert!(is_endpoint("https://abc.r2.cloudflarestorage.com"));
        assert!(is_endpoint("https://abc.eu.r2.cloudflarestorage.com/"));
        assert!(!is_endpoint("https://r2.cloudflarestorage.com.evil.example"));
        assert!(!is_endpoint("not a url"));
    }
}
