//! The server's answers: an S3 error document read into a [`ServiceError`], its code one of the
//! [`S3ErrorCode`] table, and what the user can do about it.

use std::fmt;
use std::time::Duration;

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
            .and_then(|s| crate::wire::xml::parse(s).ok())
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
                    | S3ErrorCode::ConditionalRequestConflict
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

/// Declares [`S3ErrorCode`] from one table: each variant with the code as S3 writes it.
macro_rules! s3_error_codes {
    ($($(#[$doc:meta])* $variant:ident = $text:literal,)*) => {
        /// The S3 error codes a caller may want to act on; the others are kept as text.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum S3ErrorCode {
            $($(#[$doc])* $variant,)*
            /// Any other code, as the server wrote it (or `HTTP <status>` when there was none).
            Other(String),
        }

        impl S3ErrorCode {
            /// Parses a `<Code>` value.
            #[must_use]
            pub fn parse(code: &str) -> Self {
                match code {
                    $($text => Self::$variant,)*
                    other => Self::Other(other.to_owned()),
                }
            }

            /// Every code of the table, as S3 writes it.
            #[cfg(test)]
            const KNOWN: &[&str] = &[$($text),*];

            /// The code as S3 writes it.
            #[must_use]
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)*
                    Self::Other(s) => s,
                }
            }
        }
    };
}

s3_error_codes! {
    /// The key does not exist.
    NoSuchKey = "NoSuchKey",
    /// The bucket does not exist.
    NoSuchBucket = "NoSuchBucket",
    /// Permission denied (also an expired presigned URL on some servers).
    AccessDenied = "AccessDenied",
    /// The signature does not match what the server computed.
    SignatureDoesNotMatch = "SignatureDoesNotMatch",
    /// The access key id is unknown.
    InvalidAccessKeyId = "InvalidAccessKeyId",
    /// The request time is too far from the server's clock.
    RequestTimeTooSkewed = "RequestTimeTooSkewed",
    /// A presigned URL has expired.
    ExpiredRequest = "ExpiredRequest",
    /// The session token has expired.
    ExpiredToken = "ExpiredToken",
    /// The session token is invalid.
    InvalidToken = "InvalidToken",
    /// The Authorization header is malformed (often: wrong region).
    AuthorizationHeaderMalformed = "AuthorizationHeaderMalformed",
    /// Throttling.
    SlowDown = "SlowDown",
    /// A server-side failure.
    InternalError = "InternalError",
    /// The service is temporarily unavailable.
    ServiceUnavailable = "ServiceUnavailable",
    /// The server gave up waiting for the body.
    RequestTimeout = "RequestTimeout",
    /// The body is larger than allowed.
    EntityTooLarge = "EntityTooLarge",
    /// The body is smaller than allowed.
    EntityTooSmall = "EntityTooSmall",
    /// The body does not match Content-MD5 or the payload hash.
    BadDigest = "BadDigest",
    /// The x-amz-content-sha256 does not match the body.
    XAmzContentSha256Mismatch = "XAmzContentSHA256Mismatch",
    /// A conditional request failed (412).
    PreconditionFailed = "PreconditionFailed",
    /// Another conditional write to the key was in progress (409): send the write again (a multipart
    /// upload is started again).
    ConditionalRequestConflict = "ConditionalRequestConflict",
    /// The server does not implement a header or feature (R2 answers 501 for some).
    NotImplemented = "NotImplemented",
    /// Content-Length is missing.
    MissingContentLength = "MissingContentLength",
    /// An argument is invalid.
    InvalidArgument = "InvalidArgument",
    /// The request is invalid.
    InvalidRequest = "InvalidRequest",
    /// The range cannot be satisfied.
    InvalidRange = "InvalidRange",
    /// The object is not modified (304).
    NotModified = "NotModified",
    /// The request method is not allowed on the resource.
    MethodNotAllowed = "MethodNotAllowed",
    /// A CORS configuration does not exist.
    NoSuchCorsConfiguration = "NoSuchCORSConfiguration",
    /// The multipart upload does not exist (completed, aborted, expired, or another key's).
    NoSuchUpload = "NoSuchUpload",
    /// A part named at completion was not uploaded, or its ETag differs.
    InvalidPart = "InvalidPart",
    /// The parts named at completion are not in ascending order.
    InvalidPartOrder = "InvalidPartOrder",
}

impl S3ErrorCode {
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
}

impl fmt::Display for S3ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_back_as_written() {
        for text in S3ErrorCode::KNOWN {
            let code = S3ErrorCode::parse(text);
            assert!(!matches!(code, S3ErrorCode::Other(_)), "{text}");
            assert_eq!(code.as_str(), *text);
        }
        assert_eq!(S3ErrorCode::parse("Teapot"), S3ErrorCode::Other("Teapot".into()));
        assert_eq!(S3ErrorCode::from_status(412), S3ErrorCode::PreconditionFailed);
    }
}
