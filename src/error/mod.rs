//! The crate's error type: what went wrong, and whether trying again can help. It wraps the error of
//! each module (signing, credentials, multipart, the upload policy), which is why it alone may name
//! every layer; the server's answers are [`ServiceError`]s with an [`S3ErrorCode`] (`service`).

mod service;

pub use service::{S3ErrorCode, ServiceError};

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

    /// A condition of the request did not hold, so nothing was read or written: a
    /// [`PutMode::Create`](crate::PutMode::Create) write found an object at the key, a
    /// [`PutMode::Update`](crate::PutMode::Update) write or an `If-Match` read found another version
    /// (or none), a copy's source is not the one expected. Another writer won the race: read what is
    /// there now and decide again.
    #[error("{operation}: {reason}")]
    PreconditionFailed {
        /// The operation, such as `PutObject`.
        operation: &'static str,
        /// Which condition, in a sentence.
        reason: String,
    },

    /// A read with `If-None-Match` found the version named: the copy in hand is current (HTTP 304).
    #[error("{operation}: the object still has the ETag If-None-Match named; the copy in hand is current")]
    NotModified {
        /// The operation, such as `GetObject`.
        operation: &'static str,
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

    /// A checksum that cannot be used (malformed, of the wrong length, a pair of algorithm and type
    /// the backend does not take, a part's missing), refused before anything was sent.
    #[cfg(feature = "s3")]
    #[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
    #[error(transparent)]
    Checksum(#[from] crate::checksum::ChecksumError),

    /// The bytes are not the ones their checksum names: the bucket refused them on upload (altered
    /// on the way, or not the file the checksum was computed from), or a download's bytes do not
    /// match the checksum the bucket keeps. Nothing was stored (an upload) or the body must not be
    /// used (a download). Sending the same bytes again cannot help; sending the right file can.
    #[cfg(feature = "s3")]
    #[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
    #[error(
        "{operation}: the bytes do not match their {algorithm} checksum{}; {}",
        expected.as_ref().map(|e| format!(" ({e})")).unwrap_or_default(),
        if *.download { "the download must not be used" } else { "nothing was stored" }
    )]
    ChecksumMismatch {
        /// The operation, such as `PutObject`.
        operation: &'static str,
        /// The algorithm.
        algorithm: crate::checksum::ChecksumAlgorithm,
        /// The checksum the bytes should have had, when known.
        expected: Option<String>,
        /// Whether it was a download (else an upload).
        download: bool,
    },

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
            Self::PreconditionFailed { .. } => "precondition failed",
            Self::NotModified { .. } => "not modified",
            #[cfg(feature = "s3")]
            Self::Multipart(_) => "multipart",
            #[cfg(feature = "constraints")]
            Self::Policy(_) => "policy",
            #[cfg(feature = "constraints")]
            Self::Mismatch(_) => "mismatch",
            #[cfg(feature = "s3")]
            Self::Checksum(_) => "checksum",
            #[cfg(feature = "s3")]
            Self::ChecksumMismatch { .. } => "checksum mismatch",
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
