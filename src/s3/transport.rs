//! Timeouts that mean what they say, and transport errors without URLs.
//!
//! Three limits, each with one meaning:
//!
//! - **connect timeout** (`S3Config::with_connect_timeout`, default 10 s): opening a connection.
//! - **idle timeout** (`S3Config::with_idle_timeout`, default 60 s): *nothing moved* for that long —
//!   no byte of the request body taken by the connection, no byte of the response received. A slow,
//!   steady upload never trips it, however long it takes; a server that stops reading the body, never
//!   answers or stalls in the middle of a download does. (An HTTP client's "read timeout" that starts
//!   when the request is sent and covers the whole body upload is exactly what this is not.)
//! - **deadline** (`S3Config::with_timeout`, none by default): one S3 request as a whole — every
//!   attempt, the waits between them and the reading of the response — ends within it.
//!
//! The idle clock starts when a request is sent, so connecting counts as "nothing moved": the smaller
//! of the connect and idle timeouts bounds connecting.
//!
//! What "moved" means for an upload: the connection took more of the body. The operating system
//! buffers a few MiB of it for sending, so the last of those may still be on their way after the
//! whole body was taken; until the answer begins, the wait allows them time to drain (up to 8 s,
//! [`Progress::settling`]), and on Linux the operating system itself gives up on a connection whose
//! bytes go unacknowledged for the idle timeout (`TCP_USER_TIMEOUT`), so a server that stops reading
//! is caught within the timeout even then.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::future::Either;

use crate::Error;
use crate::body::Body;

/// `body` for one attempt, as reqwest sends it: each chunk the connection takes is progress.
pub(crate) async fn request_body(body: &Body, progress: &Progress) -> io::Result<reqwest::Body> {
    Ok(request_body_of(body.for_attempt().await?, progress))
}

/// `chunks` as reqwest sends them: each chunk the connection takes is progress.
pub(crate) fn request_body_of(
    chunks: impl futures_util::Stream<Item = io::Result<bytes::Bytes>> + Send + 'static,
    progress: &Progress,
) -> reqwest::Body {
    let progress = progress.clone();
    let chunks = chunks.map(move |chunk| {
        if let Ok(chunk) = &chunk {
            progress.advance(chunk.len() as u64);
        }
        chunk
    });
    reqwest::Body::wrap_stream(chunks)
}

/// The most an operating system is taken to buffer for sending once the body is handed over, and the
/// slowest rate it is taken to drain at: see [`Progress::settling`].
const BUFFERED: u64 = 4 * 1024 * 1024;
const DRAIN_RATE: f64 = 512.0 * 1024.0;

/// When a request's bytes last moved, shared between its body and the request's watchdog.
#[derive(Debug, Clone)]
pub(crate) struct Progress {
    inner: Arc<ProgressInner>,
}

#[derive(Debug)]
struct ProgressInner {
    origin: Instant,
    /// The body's length.
    body_len: u64,
    /// Milliseconds after `origin` of the last movement.
    last_ms: AtomicU64,
    /// Bytes handed to the connection.
    sent: AtomicU64,
    /// Whether an answer has begun to arrive.
    answered: std::sync::atomic::AtomicBool,
}

impl Progress {
    /// Progress of a request with a body of `body_len` bytes, starting now.
    pub(crate) fn start(body_len: u64) -> Self {
        Self {
            inner: Arc::new(ProgressInner {
                origin: Instant::now(),
                body_len,
                last_ms: AtomicU64::new(0),
                sent: AtomicU64::new(0),
                answered: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    /// Records that `bytes` of the body moved now.
    pub(crate) fn advance(&self, bytes: u64) {
        self.inner.sent.fetch_add(bytes, Ordering::Relaxed);
        self.moved();
    }

    /// Records that the answer moved now.
    pub(crate) fn touch(&self) {
        self.inner.answered.store(true, Ordering::Relaxed);
        self.moved();
    }

    fn moved(&self) {
        let ms = u64::try_from(self.inner.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.inner.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// When something last moved.
    pub(crate) fn last(&self) -> Instant {
        self.inner.origin + std::time::Duration::from_millis(self.inner.last_ms.load(Ordering::Relaxed))
    }

    /// Extra patience while the last bytes of a body may still be on their way. The body counts as
    /// moved when the connection takes it, but the operating system buffers a few MiB for sending: on
    /// a slow link the last of them go out after the whole body was handed over, while the client
    /// sees nothing move. Until the answer begins, the wait allows them the time to drain (up to 4 MiB
    /// at 512 KiB/s: at most 8 s). A link that stops draining is caught by the operating system
    /// itself (`TCP_USER_TIMEOUT`, set to the idle timeout where the platform has it).
    pub(crate) fn settling(&self) -> std::time::Duration {
        let sent = self.sent();
        if self.inner.body_len == 0 || sent < self.inner.body_len || self.inner.answered.load(Ordering::Relaxed) {
            return std::time::Duration::ZERO;
        }
        std::time::Duration::from_secs_f64(sent.min(BUFFERED) as f64 / DRAIN_RATE)
    }

    /// Bytes of the body handed to the connection so far.
    pub(crate) fn sent(&self) -> u64 {
        self.inner.sent.load(Ordering::Relaxed)
    }
}

/// The limits of one S3 request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    /// Nothing may stall longer than this.
    pub(crate) idle: Option<Duration>,
    /// The whole request, its retries and its response end by then.
    pub(crate) deadline: Option<Instant>,
    /// What the deadline was made of, for the message.
    pub(crate) timeout: Option<Duration>,
}

impl Timing {
    /// The limits of a request starting now.
    pub(crate) fn start(idle: Option<Duration>, timeout: Option<Duration>) -> Self {
        Self { idle, deadline: timeout.and_then(|t| Instant::now().checked_add(t)), timeout }
    }

    /// Whether waiting `delay` would pass the deadline.
    pub(crate) fn would_pass_deadline(&self, delay: Duration) -> bool {
        self.deadline.is_some_and(|deadline| Instant::now() + delay >= deadline)
    }
}

/// Why a watched future was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stall {
    /// Nothing moved for this long.
    Idle(Duration),
    /// The request's deadline passed.
    Deadline(Duration),
}

impl Stall {
    /// The error for `operation`, saying what stalled (`phase`).
    pub(crate) fn into_error(self, operation: &'static str, phase: &str) -> Error {
        let message = match self {
            Self::Idle(idle) => format!(
                "nothing moved for {} ({phase}); the idle timeout (S3Config::with_idle_timeout) gave up",
                seconds(idle)
            ),
            Self::Deadline(timeout) => {
                format!(
                    "the request did not end within its deadline of {} ({phase}; S3Config::with_timeout)",
                    seconds(timeout)
                )
            }
        };
        Error::Transport { operation, message, timeout: true, source: None }
    }
}

fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 { format!("{} s", d.as_secs()) } else { format!("{:.3} s", d.as_secs_f64()) }
}

/// Runs `future` until it ends, unless nothing moves (per `progress`) for the idle timeout or the
/// deadline passes first. Dropping the future on a stall drops its connection.
pub(crate) async fn watched<F: Future>(future: F, progress: &Progress, timing: &Timing) -> Result<F::Output, Stall> {
    let mut future = std::pin::pin!(future);
    loop {
        let idle_at = timing.idle.and_then(|idle| progress.last().checked_add(idle + progress.settling()));
        let wake = match (idle_at, timing.deadline) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => return Ok(future.await),
        };
        let sleep = std::pin::pin!(tokio::time::sleep_until(wake.into()));
        match futures_util::future::select(future.as_mut(), sleep).await {
            Either::Left((output, _)) => return Ok(output),
            Either::Right(((), _)) => {
                let now = Instant::now();
                if let (Some(deadline), Some(timeout)) = (timing.deadline, timing.timeout)
                    && now >= deadline
                {
                    return Err(Stall::Deadline(timeout));
                }
                if let Some(idle) = timing.idle
                    && now.saturating_duration_since(progress.last()) >= idle + progress.settling()
                {
                    return Err(Stall::Idle(idle));
                }
                // Something moved meanwhile: wait again from then.
            }
        }
    }
}

/// A reqwest error as the crate's, without the URL (which may carry a signature).
pub(crate) fn transport_error(operation: &'static str, error: &reqwest::Error) -> Error {
    let mut timeout = error.is_timeout();
    let mut message = error.to_string();
    let mut source: &dyn std::error::Error = error;
    while let Some(next) = source.source() {
        message.push_str(": ");
        message.push_str(&next.to_string());
        // The operating system gave up on a connection whose bytes were not acknowledged for the idle
        // timeout (TCP_USER_TIMEOUT).
        timeout |= next.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::TimedOut);
        source = next;
    }
    // reqwest's message names the URL; cut it out.
    let message = strip_urls(&message);
    Error::Transport { operation, message, timeout, source: None }
}

/// Replaces anything that looks like a URL with `<url>`.
fn strip_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("http") {
        let (before, from) = rest.split_at(i);
        out.push_str(before);
        if from.starts_with("http://") || from.starts_with("https://") {
            let end = from.find(|c: char| c.is_whitespace() || c == ')' || c == '"').unwrap_or(from.len());
            out.push_str("<url>");
            rest = &from[end..];
        } else {
            out.push_str("http");
            rest = &from[4..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_cut_out_of_messages() {
        assert_eq!(
            strip_urls("error sending request for url (http://h/b/k?X-Amz-Signature=abc): refused"),
            "error sending request for url (<url>): refused"
        );
        assert_eq!(strip_urls("no url here, httpd"), "no url here, httpd");
    }

    #[tokio::test]
    async fn idle_means_nothing_moved() {
        let progress = Progress::start(0);
        let timing = Timing::start(Some(Duration::from_millis(150)), None);
        // Moves every 50 ms for 600 ms: never idle for 150 ms.
        let mover = progress.clone();
        let steady = async move {
            for _ in 0..12 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                mover.advance(1);
            }
            "done"
        };
        assert_eq!(watched(steady, &progress, &timing).await, Ok("done"));
        // Stops moving: given up about 150 ms after the last movement.
        let progress = Progress::start(0);
        let started = Instant::now();
        let stalled = watched(std::future::pending::<()>(), &progress, &timing).await;
        assert_eq!(stalled, Err(Stall::Idle(Duration::from_millis(150))));
        assert!(started.elapsed() < Duration::from_millis(600), "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn the_deadline_ends_even_a_moving_request() {
        let progress = Progress::start(0);
        let timing = Timing::start(Some(Duration::from_millis(100)), Some(Duration::from_millis(200)));
        let mover = progress.clone();
        let endless = async move {
            loop {
                tokio::time::sleep(Duration::from_millis(20)).await;
                mover.advance(1);
            }
        };
        let result: Result<(), Stall> = watched(endless, &progress, &timing).await;
        assert_eq!(result, Err(Stall::Deadline(Duration::from_millis(200))));
    }
}
