//! Retries: bounded, with exponential backoff and full jitter, for idempotent requests only — and
//! the one decision of what to do after a server's refusal ([`after_refusal`]), a pure function of
//! the refusal and the attempt so far.

use std::time::Duration;

use time::OffsetDateTime;

use crate::error::{S3ErrorCode, ServiceError};

/// How the S3 backend retries a request that failed in a way that may pass (5xx, 429, throttling,
/// connection errors, timeouts). Only idempotent requests are retried (every operation of
/// [`Storage`](crate::Storage) is), and only when their body can be sent again (bytes and files, not
/// streams).
///
/// The delay before attempt *n* (counting from 1 for the first retry) is a random duration between
/// zero and `min(max_delay, base_delay × 2ⁿ⁻¹)` ("full jitter"), or what the server asked for in
/// `Retry-After` when that is longer (never more than `max_delay`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct RetryPolicy {
    /// Total attempts, the first included (1 = never retry).
    pub max_attempts: u32,
    /// The delay scale of the first retry.
    pub base_delay: Duration,
    /// The longest delay between two attempts.
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// Never retry.
    pub const fn none() -> Self {
        Self { max_attempts: 1, base_delay: Duration::ZERO, max_delay: Duration::ZERO }
    }

    /// `max_attempts` attempts with the given delays.
    pub const fn new(max_attempts: u32, base_delay: Duration, max_delay: Duration) -> Self {
        Self { max_attempts, base_delay, max_delay }
    }

    /// The delay before retry number `retry` (1-based), before jitter: the upper bound of the random
    /// delay.
    #[must_use]
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.saturating_sub(1)).unwrap_or(u32::MAX);
        self.base_delay.checked_mul(factor).unwrap_or(self.max_delay).min(self.max_delay)
    }

    /// The delay before retry number `retry`: uniformly random below [`backoff_ceiling`](Self::backoff_ceiling).
    #[must_use]
    pub fn delay(&self, retry: u32) -> Duration {
        let ceiling = self.backoff_ceiling(retry);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(crate::random::random_u64() % nanos)
    }
}

impl Default for RetryPolicy {
    /// 3 attempts, 100 ms base delay, at most 5 s between attempts.
    fn default() -> Self {
        Self::new(3, Duration::from_millis(100), Duration::from_secs(5))
    }
}

/// Where a request stands after an attempt the server refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Attempt {
    /// Attempts made, this one included, not counting the free ones below.
    pub(super) number: u32,
    /// Whether the body can be sent again (bytes and files; not a stream).
    pub(super) replayable: bool,
    /// When this attempt was signed.
    pub(super) signed_at: OffsetDateTime,
    /// Whether the clock was corrected already during this request.
    pub(super) clock_corrected: bool,
    /// Whether the key has `.`/`..` segments and its path was signed decoded (not yet as sent).
    pub(super) path_as_sent_untried: bool,
    /// Whether new credentials were asked for already during this request.
    pub(super) credentials_renewed: bool,
}

/// What to do after a refusal. The first three are free: they fix what this side got wrong and do not
/// count as an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Next {
    /// This machine's clock is off: take the server's and send again.
    CorrectClock(OffsetDateTime),
    /// A key with dot segments: sign the path as it is sent, and send again.
    SignPathAsSent,
    /// The server may no longer know these credentials: ask the provider for its current ones, and
    /// send again if they differ (else decide again as if renewed).
    RenewCredentials,
    /// A refusal that may pass: wait at least this long (the server's `Retry-After`, or nothing) on
    /// top of the backoff, and send again.
    Backoff(Duration),
    /// Give up with the refusal.
    Fail,
}

/// What to do after `error`, the server's refusal of `attempt`, under `policy`.
pub(super) fn after_refusal(error: &ServiceError, attempt: &Attempt, policy: &RetryPolicy) -> Next {
    if !attempt.replayable {
        return Next::Fail;
    }
    if let Some(server) = error.server_date
        && !attempt.clock_corrected
        && is_clock_skew(error, attempt.signed_at)
    {
        return Next::CorrectClock(server);
    }
    let signature_refused = error.code == S3ErrorCode::SignatureDoesNotMatch || error.status == 403;
    if signature_refused && attempt.path_as_sent_untried {
        return Next::SignPathAsSent;
    }
    if !attempt.credentials_renewed && is_credentials_rejection(error) {
        return Next::RenewCredentials;
    }
    // After a 409 ConditionalRequestConflict, S3 has dropped the multipart upload: it is started
    // again from CreateMultipartUpload (the part loop does that), never completed again.
    let upload_dropped =
        error.code == S3ErrorCode::ConditionalRequestConflict && error.operation == "CompleteMultipartUpload";
    if error.is_retryable() && !upload_dropped && attempt.number < policy.max_attempts.max(1) {
        return Next::Backoff(error.retry_after.unwrap_or_default().min(policy.max_delay));
    }
    Next::Fail
}

/// Whether the server refused the request because of the signing time.
fn is_clock_skew(error: &ServiceError, signed_at: OffsetDateTime) -> bool {
    if matches!(error.code, S3ErrorCode::RequestTimeTooSkewed) {
        return true;
    }
    // Some servers say AccessDenied or InvalidRequest; a server clock far from ours tells.
    let off = error.server_date.map(|server| (server - signed_at).abs() > time::Duration::minutes(5));
    error.status == 403 && off == Some(true)
}

/// Whether the server may have refused the credentials themselves: an unknown key
/// (`InvalidAccessKeyId`; some servers, Garage among them, say `AccessDenied` for a deleted key), an
/// expired or invalid session token. With rotating credentials this asks the provider for its current
/// ones; the request is sent again only if they differ (and a provider that keeps answering the same
/// ones is not asked again for this reason for a few seconds), so a genuine permission error costs at
/// most one fetch every few seconds.
fn is_credentials_rejection(error: &ServiceError) -> bool {
    matches!(error.code, S3ErrorCode::InvalidAccessKeyId | S3ErrorCode::ExpiredToken | S3ErrorCode::InvalidToken)
        || (error.code == S3ErrorCode::AccessDenied && error.status == 403)
        || error.code.as_str() == "TokenRefreshRequired"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::new(10, Duration::from_millis(100), Duration::from_secs(1));
        assert_eq!(p.backoff_ceiling(1), Duration::from_millis(100));
        assert_eq!(p.backoff_ceiling(2), Duration::from_millis(200));
        assert_eq!(p.backoff_ceiling(4), Duration::from_millis(800));
        assert_eq!(p.backoff_ceiling(5), Duration::from_secs(1));
        assert_eq!(p.backoff_ceiling(40), Duration::from_secs(1));
        for retry in 1..8 {
            assert!(p.delay(retry) <= p.backoff_ceiling(retry));
        }
        let delays: std::collections::HashSet<_> = (0..20).map(|_| p.delay(3)).collect();
        assert!(delays.len() > 1, "jitter varies");
        assert_eq!(RetryPolicy::none().delay(1), Duration::ZERO);
    }

    fn refusal(status: u16, code: &str) -> ServiceError {
        let body = format!("<Error><Code>{code}</Code></Error>");
        ServiceError::from_response("PutObject", status, body.as_bytes())
    }

    #[test]
    fn what_follows_a_refusal() {
        let at = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        let first = Attempt {
            number: 1,
            replayable: true,
            signed_at: at,
            clock_corrected: false,
            path_as_sent_untried: false,
            credentials_renewed: false,
        };
        let policy = RetryPolicy::default();
        let dated = |mut e: ServiceError, server: OffsetDateTime| {
            e.server_date = Some(server);
            e
        };
        let two_hours = at + time::Duration::hours(2);
        let mut slow = refusal(503, "SlowDown");
        slow.retry_after = Some(Duration::from_secs(2));
        let mut slower = refusal(503, "SlowDown");
        slower.retry_after = Some(Duration::from_secs(600));
        #[rustfmt::skip]
        let table: Vec<(&str, ServiceError, Attempt, Next)> = vec![
            ("skew, named", dated(refusal(403, "RequestTimeTooSkewed"), two_hours), first, Next::CorrectClock(two_hours)),
            ("skew, told by the date", dated(refusal(403, "AccessDenied"), two_hours), first, Next::CorrectClock(two_hours)),
            ("skew, corrected once already", dated(refusal(403, "RequestTimeTooSkewed"), two_hours),
                Attempt { clock_corrected: true, ..first }, Next::Fail),
            ("skew, no date to take", refusal(403, "RequestTimeTooSkewed"), first, Next::Fail),
            ("a date close to ours is no skew", dated(refusal(403, "AccessDenied"), at), first, Next::RenewCredentials),
            ("dot segments", refusal(403, "SignatureDoesNotMatch"), Attempt { path_as_sent_untried: true, ..first },
                Next::SignPathAsSent),
            ("a signature refused, no dot segments", refusal(403, "SignatureDoesNotMatch"), first, Next::Fail),
            ("an unknown key", refusal(403, "InvalidAccessKeyId"), first, Next::RenewCredentials),
            ("an unknown key, renewed already", refusal(403, "InvalidAccessKeyId"),
                Attempt { credentials_renewed: true, ..first }, Next::Fail),
            ("an expired token", refusal(400, "ExpiredToken"), first, Next::RenewCredentials),
            ("throttled", refusal(503, "SlowDown"), first, Next::Backoff(Duration::ZERO)),
            ("throttled, wait asked", slow, first, Next::Backoff(Duration::from_secs(2))),
            ("throttled, a wait over the longest", slower, first, Next::Backoff(policy.max_delay)),
            ("a server error", refusal(500, "InternalError"), first, Next::Backoff(Duration::ZERO)),
            ("a conditional write racing another", refusal(409, "ConditionalRequestConflict"), first,
                Next::Backoff(Duration::ZERO)),
            ("a conditional completion racing another: the upload is gone", {
                let body = b"<Error><Code>ConditionalRequestConflict</Code></Error>";
                ServiceError::from_response("CompleteMultipartUpload", 409, body)
            }, first, Next::Fail),
            ("the last attempt", refusal(500, "InternalError"), Attempt { number: 3, ..first }, Next::Fail),
            ("a stream cannot be sent twice", refusal(500, "InternalError"), Attempt { replayable: false, ..first },
                Next::Fail),
            ("not implemented", refusal(501, "NotImplemented"), first, Next::Fail),
            ("a precondition", refusal(412, "PreconditionFailed"), first, Next::Fail),
            ("not found", refusal(404, "NoSuchKey"), first, Next::Fail),
            ("a bad request", refusal(400, "InvalidArgument"), first, Next::Fail),
        ];
        for (what, error, attempt, expected) in table {
            assert_eq!(after_refusal(&error, &attempt, &policy), expected, "{what}");
        }
    }
}
