//! The crate's error type: what went wrong, and whether trying again can help.

use std::fmt;
use std::time::Duration;

/// Everything that can go wrong when storing or fetching objects.
///
/// Inspect it with the predicates ([`is_not_found`](Self::is_not_found),
/// [`is_retryable`](Self::is_retryable), [`status`](Self::status), [`code`](Self::code)) rather than by
/// matching on strings. No variant carries a secret, a session token or a presigned query string.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input could not be signed (bad key, header, expiry, region, …).
    #[error(transparent)]
    Signing(#[from] crate::sigv4::Error),

    /// Credentials could not be had, or have expired (the error names the source and why).
    #[cfg(feature = "s3")]
    #[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
    #[error(transparent)]
    Credentials(#[from] crate::credentials::CredentialsError),

    /// The configuration is incomplete or inconsistent.
    #[error("configuration: {0}")]
    Config(String),

    /// The server answered with an error.
    #[error(transparent)]
    Service(Box<ServiceError>),

    /// The request never got an answer: connection refused or reset, DNS, TLS, or a timeout.
    #[error("{operation}: could not reach the server{}: {message}", if *.timeout { " (timed out)" } else { "" })]
    Transport {
        /// The operation, such as `PutObject`.
        operation: &'static str,
        /// What the HTTP client said, without the URL.
        message: String,
        /// Whether it was a timeout.
        timeout: bool,
        /// The underlying error, without the URL.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// An upload body did not hold the number of bytes it declared: a stream that yielded more or
    /// fewer, a file that changed size. The request was cut off before its last byte, so nothing was
    /// stored; sending the same body again cannot help.
    #[cfg(feature = "s3")]
    #[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
    #[error("{operation}: {}; nothing was stored", crate::error::length_message(*declared, *received))]
    BodyLength {
        /// The operation, such as `PutObject`.
        operation: &'static str,
        /// The length the body declared.
        declared: u64,
        /// The bytes it yielded before the mismatch was seen: more than `declared` when it was
        /// longer (it was not read further), fewer when it ended early.
        received: u64,
    },

    /// A local file or stream could not be read.
    #[error("{operation}: reading the body failed: {source}")]
    Io {
        /// The operation, such as `PutObject`.
        operation: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The backend cannot do what was asked, and says so before sending anything.
    #[error("{what} is not supported by {backend}: {reason}")]
    Unsupported {
        /// `"Cloudflare R2"`, for example.
        backend: &'static str,
        /// The header, parameter or operation refused.
        what: String,
        /// Why, and where it is documented.
        reason: &'static str,
    },

    /// A multipart request that cannot be right (a part number, a part list, a size the service
    /// cannot take), refused before anything was sent.
    #[cfg(feature = "s3")]
    #[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
    #[error(transparent)]
    Multipart(#[from] crate::multipart::MultipartError),

    /// A client's upload claims break the upload policy (feature `constraints`).
    #[cfg(feature = "constraints")]
    #[cfg_attr(docsrs, doc(cfg(feature = "constraints")))]
    #[error(transparent)]
    Policy(#[from] crate::constraints::PolicyViolation),

    /// An upload does not match what was signed (feature `constraints`).
    #[cfg(feature = "constraints")]
    #[cfg_attr(docsrs, doc(cfg(feature = "constraints")))]
    #[error(transparent)]
    Mismatch(crate::constraints::UploadMismatch),

    /// The server's answer could not be understood.
    #[error("{operation}: unexpected response: {reason}")]
    InvalidResponse {
        /// The operation, such as `ListObjectsV2`.
        operation: &'static str,
        /// What was wrong with it.
        reason: String,
    },
}

impl Error {
    /// Whether the object (or bucket) does not exist: HTTP 404, `NoSuchKey`, `NoSuchBucket`.
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        match self {
            Self::Service(e) => {
                e.status == 404
                    || matches!(e.code, S3ErrorCode::NoSuchKey | S3ErrorCode::NoSuchBucket | S3ErrorCode::NoSuchUpload)
            }
            _ => false,
        }
    }

    /// Whether trying the same request again later can succeed: server errors, throttling, timeouts
    /// and broken connections. Signature, permission and validation errors are not retryable.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Service(e) => e.is_retryable(),
            Self::Transport { .. } => true,
            _ => false,
        }
    }

    /// What kind of error this is, in a word (`"service"`, `"transport"`, …): for logs, which must not
    /// carry the object keys and canonical requests some messages hold.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Signing(_) => "signing",
            #[cfg(feature = "s3")]
            Self::Credentials(_) => "credentials",
            Self::Config(_) => "config",
            Self::Service(_) => "service",
            Self::Transport { timeout: true, .. } => "timeout",
            Self::Transport { .. } => "transport",
            #[cfg(feature = "s3")]
            Self::BodyLength { .. } => "body length",
            Self::Io { .. } => "io",
            Self::Unsupported { .. } => "unsupported",
            #[cfg(feature = "s3")]
            Self::Multipart(_) => "multipart",
            #[cfg(feature = "constraints")]
            Self::Policy(_) => "policy",
            #[cfg(feature = "constraints")]
            Self::Mismatch(_) => "mismatch",
            Self::InvalidResponse { .. } => "invalid response",
        }
    }

    /// The HTTP status the server answered with, if it answered.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Service(e) => Some(e.status),
            _ => None,
        }
    }

    /// The S3 error code, if the server sent one.
    #[must_use]
    pub fn code(&self) -> Option<&S3ErrorCode> {
        match self {
            Self::Service(e) => Some(&e.code),
            _ => None,
        }
    }

    /// The server's error, if it answered with one.
    #[must_use]
    pub fn service_error(&self) -> Option<&ServiceError> {
        match self {
            Self::Service(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ServiceError> for Error {
    fn from(e: ServiceError) -> Self {
        Self::Service(Box::new(e))
    }
}

/// An error answer from S3 or an S3-compatible server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceError {
    /// The operation, such as `PutObject`.
    pub operation: &'static str,
    /// HTTP status.
    pub status: u16,
    /// The `<Code>` of the XML error body (or one derived from the status when there is no body, as
    /// for HEAD).
    pub code: S3ErrorCode,
    /// The `<Message>`, if any.
    pub message: Option<String>,
    /// The `<RequestId>` (or `x-amz-request-id`), for support requests.
    pub request_id: Option<String>,
    /// With `SignatureDoesNotMatch`: the canonical request the server computed, if it sent it.
    pub server_canonical_request: Option<String>,
    /// With `SignatureDoesNotMatch`: the canonical request stowage signed (session token redacted).
    pub client_canonical_request: Option<String>,
    /// The server's clock (`Date` header), if it sent one.
    pub server_date: Option<time::OffsetDateTime>,
    /// How long the server asked to wait (`Retry-After`), if it did.
    pub retry_after: Option<Duration>,
}

impl ServiceError {
    /// Reads an S3 error answer: its status and its XML body (`<Error><Code>…`). Use it on what a
    /// browser or another client got back from a presigned URL. Without a readable body the code is
    /// derived from the status.
    #[cfg(feature = "s3")]
    #[must_use]
    pub fn from_response(operation: &'static str, status: u16, body: &[u8]) -> Self {
        let document = std::str::from_utf8(body)
            .ok()
            .and_then(|s| crate::s3::xml::parse(s).ok())
            .filter(|root| root.name == "Error");
        let text = |name: &str| document.as_ref().and_then(|d| d.text_of(name)).map(str::to_owned);
        Self {
            operation,
            status,
            code: text("Code").map_or_else(|| S3ErrorCode::from_status(status), |c| S3ErrorCode::parse(&c)),
            message: text("Message"),
            request_id: text("RequestId"),
            server_canonical_request: text("CanonicalRequest").map(|c| crate::sigv4::redact_token(&c)),
            client_canonical_request: None,
            server_date: None,
            retry_after: None,
        }
    }

    /// An error stowage reports in the server's terms without asking it (a copy whose source is
    /// missing or not the one expected, seen from a HEAD).
    #[cfg(feature = "s3")]
    pub(crate) fn local(operation: &'static str, status: u16, code: S3ErrorCode, message: &str) -> Self {
        Self {
            operation,
            status,
            code,
            message: Some(message.to_owned()),
            request_id: None,
            server_canonical_request: None,
            client_canonical_request: None,
            server_date: None,
            retry_after: None,
        }
    }

    /// Whether the same request may succeed later.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        // 501 (R2's answer to an unsupported header) and 505 do not change with time.
        (self.status >= 500 && !matches!(self.status, 501 | 505) && self.code != S3ErrorCode::NotImplemented)
            || self.status == 429
            || matches!(
                self.code,
                S3ErrorCode::SlowDown
                    | S3ErrorCode::InternalError
                    | S3ErrorCode::ServiceUnavailable
                    | S3ErrorCode::RequestTimeout
            )
    }

    /// Whether the server refused the signature (some servers say `AccessDenied` with a message about
    /// it rather than `SignatureDoesNotMatch`).
    #[must_use]
    pub fn is_signature_mismatch(&self) -> bool {
        self.code == S3ErrorCode::SignatureDoesNotMatch
            || self.message.as_deref().is_some_and(|m| m.to_ascii_lowercase().contains("signature"))
    }

    /// What the user can do about it.
    fn hint(&self) -> &'static str {
        if self.is_signature_mismatch() {
            return " — check the secret access key, the region (R2: auto) and that nothing between you and the \
                     server rewrites the path or signed headers";
        }
        match self.code {
            S3ErrorCode::InvalidAccessKeyId => " — the access key id is unknown to this endpoint",
            S3ErrorCode::AccessDenied => {
                " — the credentials lack permission for this bucket or key (or a presigned URL expired)"
            }
            S3ErrorCode::RequestTimeTooSkewed => " — this machine's clock is off; sync it (NTP)",
            S3ErrorCode::AuthorizationHeaderMalformed => " — the region in the credential scope is likely wrong",
            S3ErrorCode::NoSuchBucket => " — check the bucket name and the endpoint",
            S3ErrorCode::ExpiredToken | S3ErrorCode::InvalidToken => " — refresh the temporary credentials",
            S3ErrorCode::SlowDown => " — too many requests; back off and retry",
            S3ErrorCode::NotImplemented => " — the server does not support this request or one of its headers",
            S3ErrorCode::NoSuchUpload => {
                " — the multipart upload no longer exists: it was completed or aborted, a lifecycle rule removed it \
                 (R2 aborts them after 7 days), or the upload id belongs to another key; start a new upload"
            }
            S3ErrorCode::InvalidPart => {
                " — a listed part was not uploaded, or its ETag is not the one the server gave it; list the stored \
                 parts (list_parts) and complete with their numbers and ETags (R2 also answers this for parts of \
                 uneven sizes)"
            }
            S3ErrorCode::InvalidPartOrder => " — list the parts in ascending order of part number, each once",
            S3ErrorCode::EntityTooSmall => {
                " — every part but the last must hold at least 5 MiB; use a larger part size (PartPlan)"
            }
            _ => "",
        }
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} (HTTP {})", self.operation, self.code, self.status)?;
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        f.write_str(self.hint())?;
        if let Some(id) = &self.request_id {
            write!(f, " [request id {id}]")?;
        }
        if let (Some(server), Some(client)) = (&self.server_canonical_request, &self.client_canonical_request) {
            write!(f, "\nserver's canonical request:\n{server}\nstowage's canonical request:\n{client}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ServiceError {}

/// The S3 error codes a caller may want to act on; the others are kept as text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum S3ErrorCode {
    /// The key does not exist.
    NoSuchKey,
    /// The bucket does not exist.
    NoSuchBucket,
    /// Permission denied (also an expired presigned URL on some servers).
    AccessDenied,
    /// The signature does not match what the server computed.
    SignatureDoesNotMatch,
    /// The access key id is unknown.
    InvalidAccessKeyId,
    /// The request time is too far from the server's clock.
    RequestTimeTooSkewed,
    /// A presigned URL has expired.
    ExpiredRequest,
    /// The session token has expired.
    ExpiredToken,
    /// The session token is invalid.
    InvalidToken,
    /// The Authorization header is malformed (often: wrong region).
    AuthorizationHeaderMalformed,
    /// Throttling.
    SlowDown,
    /// A server-side failure.
    InternalError,
    /// The service is temporarily unavailable.
    ServiceUnavailable,
    /// The server gave up waiting for the body.
    RequestTimeout,
    /// The body is larger than allowed.
    EntityTooLarge,
    /// The body is smaller than allowed.
    EntityTooSmall,
    /// The body does not match Content-MD5 or the payload hash.
    BadDigest,
    /// The x-amz-content-sha256 does not match the body.
    XAmzContentSha256Mismatch,
    /// A conditional request failed (412).
    PreconditionFailed,
    /// The server does not implement a header or feature (R2 answers 501 for some).
    NotImplemented,
    /// Content-Length is missing.
    MissingContentLength,
    /// An argument is invalid.
    InvalidArgument,
    /// The request is invalid.
    InvalidRequest,
    /// The range cannot be satisfied.
    InvalidRange,
    /// The object is not modified (304).
    NotModified,
    /// The request method is not allowed on the resource.
    MethodNotAllowed,
    /// A CORS configuration does not exist.
    NoSuchCorsConfiguration,
    /// The multipart upload does not exist (completed, aborted, expired, or another key's).
    NoSuchUpload,
    /// A part named at completion was not uploaded, or its ETag differs.
    InvalidPart,
    /// The parts named at completion are not in ascending order.
    InvalidPartOrder,
    /// Any other code, as the server wrote it (or `HTTP <status>` when there was none).
    Other(String),
}

impl S3ErrorCode {
    /// Parses a `<Code>` value.
    #[must_use]
    pub fn parse(code: &str) -> Self {
        match code {
            "NoSuchKey" => Self::NoSuchKey,
            "NoSuchBucket" => Self::NoSuchBucket,
            "AccessDenied" => Self::AccessDenied,
            "SignatureDoesNotMatch" => Self::SignatureDoesNotMatch,
            "InvalidAccessKeyId" => Self::InvalidAccessKeyId,
            "RequestTimeTooSkewed" => Self::RequestTimeTooSkewed,
            "ExpiredRequest" => Self::ExpiredRequest,
            "ExpiredToken" => Self::ExpiredToken,
            "InvalidToken" => Self::InvalidToken,
            "AuthorizationHeaderMalformed" => Self::AuthorizationHeaderMalformed,
            "SlowDown" => Self::SlowDown,
            "InternalError" => Self::InternalError,
            "ServiceUnavailable" => Self::ServiceUnavailable,
            "RequestTimeout" => Self::RequestTimeout,
            "EntityTooLarge" => Self::EntityTooLarge,
            "EntityTooSmall" => Self::EntityTooSmall,
            "BadDigest" => Self::BadDigest,
            "XAmzContentSHA256Mismatch" => Self::XAmzContentSha256Mismatch,
            "PreconditionFailed" => Self::PreconditionFailed,
            "NotImplemented" => Self::NotImplemented,
            "MissingContentLength" => Self::MissingContentLength,
            "InvalidArgument" => Self::InvalidArgument,
            "InvalidRequest" => Self::InvalidRequest,
            "InvalidRange" => Self::InvalidRange,
            "NotModified" => Self::NotModified,
            "MethodNotAllowed" => Self::MethodNotAllowed,
            "NoSuchCORSConfiguration" => Self::NoSuchCorsConfiguration,
            "NoSuchUpload" => Self::NoSuchUpload,
            "InvalidPart" => Self::InvalidPart,
            "InvalidPartOrder" => Self::InvalidPartOrder,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The code for an answer without a body (HEAD requests): derived from the status.
    #[must_use]
    pub fn from_status(status: u16) -> Self {
        match status {
            304 => Self::NotModified,
            403 => Self::AccessDenied,
            404 => Self::NoSuchKey,
            405 => Self::MethodNotAllowed,
            411 => Self::MissingContentLength,
            412 => Self::PreconditionFailed,
            416 => Self::InvalidRange,
            429 => Self::SlowDown,
            500 => Self::InternalError,
            501 => Self::NotImplemented,
            503 => Self::ServiceUnavailable,
            other => Self::Other(format!("HTTP {other}")),
        }
    }

    /// The code as S3 writes it.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::NoSuchKey => "NoSuchKey",
            Self::NoSuchBucket => "NoSuchBucket",
            Self::AccessDenied => "AccessDenied",
            Self::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            Self::InvalidAccessKeyId => "InvalidAccessKeyId",
            Self::RequestTimeTooSkewed => "RequestTimeTooSkewed",
            Self::ExpiredRequest => "ExpiredRequest",
            Self::ExpiredToken => "ExpiredToken",
            Self::InvalidToken => "InvalidToken",
            Self::AuthorizationHeaderMalformed => "AuthorizationHeaderMalformed",
            Self::SlowDown => "SlowDown",
            Self::InternalError => "InternalError",
            Self::ServiceUnavailable => "ServiceUnavailable",
            Self::RequestTimeout => "RequestTimeout",
            Self::EntityTooLarge => "EntityTooLarge",
            Self::EntityTooSmall => "EntityTooSmall",
            Self::BadDigest => "BadDigest",
            Self::XAmzContentSha256Mismatch => "XAmzContentSHA256Mismatch",
            Self::PreconditionFailed => "PreconditionFailed",
            Self::NotImplemented => "NotImplemented",
            Self::MissingContentLength => "MissingContentLength",
            Self::InvalidArgument => "InvalidArgument",
            Self::InvalidRequest => "InvalidRequest",
            Self::InvalidRange => "InvalidRange",
            Self::NotModified => "NotModified",
            Self::MethodNotAllowed => "MethodNotAllowed",
            Self::NoSuchCorsConfiguration => "NoSuchCORSConfiguration",
            Self::NoSuchUpload => "NoSuchUpload",
            Self::InvalidPart => "InvalidPart",
            Self::InvalidPartOrder => "InvalidPartOrder",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for S3ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `5.0 MiB`, `48.8 TiB`, `340 bytes`: sizes in error messages.
#[cfg(feature = "s3")]
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// The sentence of [`Error::BodyLength`].
#[cfg(feature = "s3")]
pub(crate) fn length_message(declared: u64, received: u64) -> String {
    if received > declared {
        format!("the body holds more than the {declared} bytes it declared")
    } else {
        format!("the body ended after {received} of the {declared} bytes it declared")
    }
}

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MiB");
        assert_eq!(human_size(10_000 * 5 * 1024 * 1024 * 1024), "48.8 TiB");
        assert_eq!(human_size(12), "12 bytes");
    }
}
