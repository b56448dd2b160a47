//! What the backend does with checksums around a request: refuse what cannot be sent (two
//! checksums at once, a pair of algorithm and type the platform does not take), read the value the
//! bucket stored, and read a refusal of the bytes for what it is.

use reqwest::header::HeaderMap;

use super::Platform;
use crate::checksum::{ChecksumAlgorithm, ChecksumError, ChecksumType, StoredChecksum};
use crate::storage::PutOptions;
use crate::{Error, Result};

/// Refuses, before sending, checksums that cannot go: a checksum header set by hand beside one of
/// stowage's (R2 refuses two; S3 takes the first), the SDKs' `x-amz-sdk-checksum-algorithm` hint,
/// and for a multipart upload a type the algorithm (or the platform) does not take.
pub(super) fn check(platform: Platform, options: &PutOptions, multipart: Option<ChecksumType>) -> Result<()> {
    for (name, _) in options.headers() {
        if name == "x-amz-sdk-checksum-algorithm" {
            return Err(Error::Config(
                "x-amz-sdk-checksum-algorithm is an SDK's hint, not a checksum; set one with PutOptions::with_checksum"
                    .into(),
            ));
        }
        if name.starts_with("x-amz-checksum-") && options.checksum().is_some() {
            return Err(Error::Config(format!(
                "{name} was set by hand beside PutOptions::with_checksum: one request carries one checksum (R2 refuses \
                 two); keep one of them"
            )));
        }
    }
    if let (Some(kind), Some(algorithm)) = (multipart, options.checksum()) {
        if !algorithm.allows(kind) {
            return Err(ChecksumError::InvalidType { algorithm, kind }.into());
        }
        if platform == Platform::R2 {
            crate::r2::check_multipart_checksum(algorithm, kind)?;
        }
    }
    Ok(())
}

/// The checksum the bucket reports in `headers` (`x-amz-checksum-<alg>`, `x-amz-checksum-type`):
/// of `algorithm` when it is known, else of whichever algorithm is there.
pub(super) fn stored(headers: &HeaderMap, algorithm: Option<ChecksumAlgorithm>) -> Option<StoredChecksum> {
    let kind = headers.get("x-amz-checksum-type").and_then(|v| v.to_str().ok());
    let candidates: &[ChecksumAlgorithm] = match &algorithm {
        Some(one) => std::slice::from_ref(one),
        None => &ChecksumAlgorithm::ALL,
    };
    candidates.iter().find_map(|algorithm| {
        let value = headers.get(algorithm.header())?.to_str().ok()?;
        StoredChecksum::parse(*algorithm, value, kind).ok()
    })
}

/// `error` as a checksum mismatch when the bucket refused the bytes for their checksum.
pub(super) fn refused(
    operation: &'static str,
    algorithm: Option<ChecksumAlgorithm>,
    expected: Option<String>,
    error: Error,
) -> Error {
    let Some(algorithm) = algorithm else { return error };
    let mismatch = matches!(error.status(), Some(400))
        && error.code().is_some_and(|code| {
            matches!(
                code.as_str(),
                "BadDigest" | "InvalidDigest" | "XAmzContentChecksumMismatch" | "InvalidChecksum" | "ChecksumMismatch"
            )
        });
    if mismatch { Error::ChecksumMismatch { operation, algorithm, expected, download: false } } else { error }
}
