//! The signing core's error type.

/// Why a request could not be signed.
///
/// Every variant names the input that was refused and, where it helps, what to do instead. No variant
/// ever carries a secret access key, a session token or a header value: those are described, never
/// echoed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The presign expiry is outside what S3 accepts.
    #[error(
        "presign expiry of {seconds} s is out of range: S3 accepts 1 s to 7 days (604800 s); \
         pick a shorter expiry and hand out a fresh URL when it runs out"
    )]
    ExpiresOutOfRange {
        /// The requested expiry, in whole seconds (rounded down).
        seconds: u64,
    },

    /// The signing time cannot be written as an ISO 8601 basic date (`YYYYMMDDTHHMMSSZ`).
    #[error("signing time is out of range: SigV4 needs a UTC time between years 0000 and 9999")]
    TimeOutOfRange,

    /// A string that should be an ISO 8601 basic timestamp is not one.
    #[error("invalid signing time {input:?}: expected ISO 8601 basic format such as 20130524T000000Z")]
    InvalidTimestamp {
        /// The text that was given.
        input: String,
    },

    /// An object key is empty.
    #[error("object key is empty: S3 keys are 1 to 1024 bytes of UTF-8")]
    EmptyKey,

    /// An object key is longer than S3 allows.
    #[error("object key is {len} bytes long: S3 keys are at most 1024 bytes of UTF-8")]
    KeyTooLong {
        /// Length of the key in bytes.
        len: usize,
    },

    /// A bucket name that S3 would not accept, or that cannot be used with the chosen addressing.
    #[error("invalid bucket name {bucket:?}: {reason}")]
    InvalidBucket {
        /// The bucket name that was given.
        bucket: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The region is not a plain token.
    #[error(
        "invalid region {region:?}: a region is 1 to 63 of a-z A-Z 0-9 . _ - \
         (for example us-east-1, or auto for Cloudflare R2)"
    )]
    InvalidRegion {
        /// The region that was given.
        region: String,
    },

    /// The service name is not a plain token.
    #[error("invalid service name {service:?}: a service is 1 to 63 of a-z A-Z 0-9 . _ - (for example s3)")]
    InvalidService {
        /// The service name that was given.
        service: String,
    },

    /// The credentials cannot be used to sign.
    #[error("invalid credentials: {reason}")]
    InvalidCredentials {
        /// What is wrong (never the secret itself).
        reason: &'static str,
    },

    /// A header name is not an HTTP token.
    #[error("invalid header name {name:?}: header names are HTTP tokens (letters, digits and !#$%&'*+-.^_`|~)")]
    InvalidHeaderName {
        /// The header name that was given.
        name: String,
    },

    /// A header value holds a byte that cannot be sent or signed.
    #[error("invalid value for header {name:?}: {reason}")]
    InvalidHeaderValue {
        /// The header's name (the value is not repeated here).
        name: String,
        /// What is wrong with the value.
        reason: &'static str,
    },

    /// A header the signer sets itself was passed in.
    #[error("header {name:?} is set by the signer; do not pass it in")]
    ReservedHeader {
        /// The header name that was given.
        name: String,
    },

    /// A query parameter the signer sets itself was passed in.
    #[error("query parameter {name:?} is set by the signer; do not pass it in")]
    ReservedQueryParameter {
        /// The parameter name that was given.
        name: String,
    },

    /// The request's host (authority) is not usable.
    #[error("invalid host {authority:?}: {reason}")]
    InvalidHost {
        /// The authority that was given.
        authority: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The request's path is not usable.
    #[error("invalid request path: {reason}")]
    InvalidPath {
        /// What is wrong with it.
        reason: &'static str,
    },

    /// An endpoint or request URL could not be understood.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL that was given, with any query string removed.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// An HTTP method that is not a token.
    #[error("invalid HTTP method {method:?}")]
    InvalidMethod {
        /// The method that was given.
        method: String,
    },

    /// A payload hash that is not 64 lowercase hex digits or one of the S3 literals.
    #[error("invalid payload hash: expected 64 lowercase hex digits or UNSIGNED-PAYLOAD")]
    InvalidPayloadHash,
}
