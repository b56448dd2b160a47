//! What can go wrong while getting credentials: each error names the source and says why.

use std::fmt;
use std::time::Duration;

use time::OffsetDateTime;

/// Why credentials could not be had. Every variant names the source (`provider`) in words a person
/// can act on, such as `profile "dev" (~/.aws/config)` or `the container credentials endpoint`, and
/// none carries a secret, a session token or a web identity token.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// The source is not set up here (its variables or files are absent). A chain goes on to the
    /// next source; on its own, this is the answer.
    #[error("{provider}: not configured ({reason})")]
    NotConfigured {
        /// The source.
        provider: String,
        /// What is missing.
        reason: String,
    },

    /// The source is set up, but wrongly: a file that cannot be read, a profile that loops, an
    /// endpoint that may not be used, a variable without its partner.
    #[error("{provider}: {reason}")]
    InvalidConfig {
        /// The source.
        provider: String,
        /// What is wrong, and how to fix it.
        reason: String,
    },

    /// The endpoint could not be reached (connection refused, DNS, TLS).
    #[error("{provider}: cannot reach {endpoint}: {reason}")]
    Unreachable {
        /// The source.
        provider: String,
        /// Where it tried (no query string, no token).
        endpoint: String,
        /// What the HTTP client said.
        reason: String,
    },

    /// No answer in time.
    #[error("{provider}: no answer within {}{hint}", crate::credentials::error::seconds(*.after))]
    Timeout {
        /// The source.
        provider: String,
        /// How long it waited.
        after: Duration,
        /// What usually causes it here.
        hint: String,
    },

    /// The endpoint or service answered with an error.
    #[error("{provider}: {endpoint} answered {status}: {reason}")]
    Rejected {
        /// The source.
        provider: String,
        /// Where it asked.
        endpoint: String,
        /// The HTTP status.
        status: u16,
        /// The service's error code and message, or what the status means here.
        reason: String,
    },

    /// An answer that holds no usable credentials: not JSON or XML, a field missing, an expiry that
    /// cannot be read or lies in the past.
    #[error("{provider}: unusable answer: {reason}")]
    BadResponse {
        /// The source.
        provider: String,
        /// What is wrong with it (its content is never echoed: it may hold secrets).
        reason: String,
    },

    /// A `credential_process` failed: it could not start, exited non-zero, or ran too long.
    #[error("{provider}: {reason}")]
    Process {
        /// The source (the profile that names the process).
        provider: String,
        /// What happened.
        reason: String,
    },

    /// Every source of a chain was tried, and none is configured here.
    #[error("no credentials found: {}", crate::credentials::error::list(.skipped))]
    NoneFound {
        /// Each source and why it was skipped.
        skipped: Vec<crate::credentials::Skipped>,
    },

    /// The credentials in hand have expired, or have too little time left to sign a request (15 s),
    /// and could not be refreshed.
    #[error(
        "the credentials from {provider} have expired or are about to (they end at {}){}",
        crate::credentials::error::instant(*.expired_at),
        .last_error.as_ref().map(|e| format!(" and refreshing them failed: {e}")).unwrap_or_default()
    )]
    Expired {
        /// The source.
        provider: String,
        /// When they expire(d).
        expired_at: OffsetDateTime,
        /// Why the last refresh failed, if one was tried.
        last_error: Option<Box<CredentialsError>>,
    },

    /// Presigning was asked for before the first credentials arrived from a source that needs the
    /// network. [`S3Config::build`](crate::S3Config::build) fetches them before it returns a backend,
    /// so this is seen only by a backend built another way.
    #[error(
        "{provider}: credentials not loaded yet{}; build the storage with S3Config::build().await, which fetches them",
        .last_error.as_ref().map(|e| format!(" (the last attempt failed: {e})")).unwrap_or_default()
    )]
    NotLoaded {
        /// The source.
        provider: String,
        /// Why the last attempt failed, if one was made.
        last_error: Option<Box<CredentialsError>>,
    },

    /// A presigned URL would outlive the temporary credentials that sign it, and the backend is set
    /// to refuse rather than shorten it ([`PresignExpiry::Refuse`](crate::PresignExpiry::Refuse)).
    #[error(
        "a presigned URL valid for {} would outlive the credentials from {provider}, which expire at {}",
        crate::credentials::error::seconds(*.requested),
        crate::credentials::error::instant(*.credentials_expire_at)
    )]
    OutlivesCredentials {
        /// The source.
        provider: String,
        /// The lifetime asked for.
        requested: Duration,
        /// When the credentials expire.
        credentials_expire_at: OffsetDateTime,
    },
}

impl CredentialsError {
    /// Whether the source is simply not set up here (a chain moves on to the next one).
    #[must_use]
    pub fn is_not_configured(&self) -> bool {
        matches!(self, Self::NotConfigured { .. })
    }

    /// The source the error is about, if it is about one.
    #[must_use]
    pub fn provider(&self) -> Option<&str> {
        match self {
            Self::NotConfigured { provider, .. }
            | Self::InvalidConfig { provider, .. }
            | Self::Unreachable { provider, .. }
            | Self::Timeout { provider, .. }
            | Self::Rejected { provider, .. }
            | Self::BadResponse { provider, .. }
            | Self::Process { provider, .. }
            | Self::Expired { provider, .. }
            | Self::NotLoaded { provider, .. }
            | Self::OutlivesCredentials { provider, .. } => Some(provider),
            Self::NoneFound { .. } => None,
        }
    }

    /// Whether trying again later may help (a network failure, a timeout, a 5xx or a throttle).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::Timeout { .. } => true,
            Self::Rejected { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    pub(crate) fn not_configured(provider: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::NotConfigured { provider: provider.into(), reason: reason.into() }
    }

    pub(crate) fn invalid(provider: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidConfig { provider: provider.into(), reason: reason.into() }
    }

    pub(crate) fn bad_response(provider: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::BadResponse { provider: provider.into(), reason: reason.into() }
    }
}

pub(crate) fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 { format!("{} s", d.as_secs()) } else { format!("{:.1} s", d.as_secs_f64()) }
}

pub(crate) fn instant(t: OffsetDateTime) -> String {
    crate::wire::dates::format_iso8601(t)
}

pub(crate) fn list(skipped: &[crate::credentials::Skipped]) -> String {
    if skipped.is_empty() {
        return "no source was enabled".to_owned();
    }
    skipped.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// Shortens a text from outside (an error message, a process's error output) for an error.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    let text = text.trim();
    let mut out: String = text.chars().filter(|c| !c.is_control() || *c == ' ').take(max).collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

impl fmt::Display for crate::credentials::Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.reason)
    }
}
