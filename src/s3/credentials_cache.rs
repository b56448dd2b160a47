//! The backend's credentials cache: the signer of fixed credentials, or the current one of rotating
//! credentials.
//!
//! (This file is over 500 lines because the cache is one state machine — generations, single-flight
//! refresh, backoff, rejection handling — whose parts share one lock and one set of invariants;
//! split, each half would need the other's internals.)
//!
//! Fixed credentials keep one [`Signer`] for the backend's life: signing touches nothing shared.
//! Rotating credentials keep the current signer in a cache that a provider refills ahead of expiry:
//! a new signer per generation of credentials, so that the signing-key cache (which lives in the
//! signer) can never outlive the credentials it was derived from.
//!
//! The rules of the cache:
//! - refreshed in the background once fewer than the refresh window (10 minutes by default) remain,
//!   by one task however many requests notice it (single flight);
//! - a fetch is bounded by the load timeout;
//! - when a refresh fails while the current credentials are valid, they stay in use and the next
//!   try waits (1 s, doubling, at most 60 s);
//! - credentials past their expiry are never used: a request waits for a refresh and fails with a
//!   typed error naming the source when there is none; presigning, which cannot wait, fails at once.

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::Credentials;
use crate::credentials::{CredentialsError, ProvideCredentials, Resolution, Skipped};
use crate::sigv4::Signer;

/// How close to expiry credentials are refreshed by default.
pub const DEFAULT_REFRESH_WINDOW: Duration = Duration::from_secs(10 * 60);

/// How long one fetch of credentials may take by default.
pub const DEFAULT_LOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// A request is not signed with credentials that have less than this left: it could reach the
/// server after they expired.
const REQUEST_MARGIN: time::Duration = time::Duration::seconds(15);

/// The waits after failed or fruitless refreshes: 1 s, doubling, at most a minute.
const BACKOFF_START: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// After a server refused the credentials, no new fetch for that reason before this.
const REJECTION_PAUSE: Duration = Duration::from_secs(5);

/// What presigning does when the URL would outlive temporary credentials: a URL stops working when
/// the credentials that signed it expire, whatever its `X-Amz-Expires` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum PresignExpiry {
    /// Shorten the URL's lifetime to end when the credentials do (default): the URL, its
    /// `X-Amz-Expires` and the returned `expires_at` all say when it really stops working.
    #[default]
    ShortenToCredentials,
    /// Refuse with [`CredentialsError::OutlivesCredentials`].
    Refuse,
}

/// Where the backend's credentials come from, as configured.
#[derive(Clone)]
pub(crate) enum CredentialsConfig {
    /// Fixed credentials, and how they were found (when a chain found them).
    Fixed(Credentials, Option<Resolution>),
    /// A provider asked ahead of each expiry.
    Provider(Arc<dyn ProvideCredentials>),
}

impl From<crate::credentials::AnyCredentials> for CredentialsConfig {
    fn from(credentials: crate::credentials::AnyCredentials) -> Self {
        match credentials.0 {
            crate::credentials::Source::Fixed(credentials) => Self::Fixed(credentials, None),
            crate::credentials::Source::Provider(provider) => Self::Provider(provider),
        }
    }
}

impl std::fmt::Debug for CredentialsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fixed(credentials, _) => credentials.fmt(f),
            Self::Provider(provider) => f.debug_tuple("Provider").field(provider).finish(),
        }
    }
}

/// The settings of a rotating signer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rotation {
    pub(crate) refresh_window: Duration,
    pub(crate) load_timeout: Duration,
}

/// What signs: one signer, or the current one of a rotation.
pub(crate) enum CredentialsCache {
    Fixed { signer: Arc<Signer>, source: Option<Resolution> },
    Rotating(Arc<Rotating>),
}

/// A signer borrowed for one signature.
pub(crate) enum SignerRef<'a> {
    Fixed(&'a Arc<Signer>),
    Current(Arc<Current>),
}

impl Deref for SignerRef<'_> {
    type Target = Signer;

    fn deref(&self) -> &Signer {
        match self {
            Self::Fixed(signer) => signer,
            Self::Current(current) => &current.signer,
        }
    }
}

impl SignerRef<'_> {
    /// Which generation of credentials signs (0 for fixed ones).
    pub(crate) fn generation(&self) -> u64 {
        match self {
            Self::Fixed(_) => 0,
            Self::Current(current) => current.generation,
        }
    }

    pub(crate) fn shared(&self) -> Arc<Signer> {
        match self {
            Self::Fixed(signer) => Arc::clone(signer),
            Self::Current(current) => Arc::clone(&current.signer),
        }
    }
}

/// One generation of credentials, as a signer.
pub(crate) struct Current {
    signer: Arc<Signer>,
    generation: u64,
    provider: String,
    resolution: Option<Resolution>,
}

#[derive(Default)]
struct State {
    /// Failed or fruitless refreshes in a row.
    failures: u32,
    /// No refresh before this (backoff), except when the credentials are unusable.
    next_try: Option<Instant>,
    /// No fetch because a server refused the credentials before this.
    next_forced: Option<Instant>,
    last_error: Option<CredentialsError>,
    /// A background refresh is under way.
    background: bool,
}

/// The current signer of rotating credentials, and how to get the next one.
pub(crate) struct Rotating {
    provider: Arc<dyn ProvideCredentials>,
    region: String,
    settings: Rotation,
    current: RwLock<Option<Arc<Current>>>,
    /// Held by the one task that fetches.
    flight: tokio::sync::Mutex<()>,
    state: Mutex<State>,
    generations: AtomicU64,
    fetches: AtomicU64,
}

fn remaining(expires_at: Option<OffsetDateTime>, now: OffsetDateTime) -> Option<time::Duration> {
    expires_at.map(|at| at - now)
}

impl Rotating {
    pub(crate) fn new(provider: Arc<dyn ProvideCredentials>, region: &str, settings: Rotation) -> Self {
        Self {
            provider,
            region: region.to_owned(),
            settings,
            current: RwLock::new(None),
            flight: tokio::sync::Mutex::new(()),
            state: Mutex::new(State::default()),
            generations: AtomicU64::new(0),
            fetches: AtomicU64::new(0),
        }
    }

    fn current(&self) -> Option<Arc<Current>> {
        self.current.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn provider_name(&self) -> String {
        self.current().map_or_else(|| self.provider.name(), |c| c.provider.clone())
    }

    fn last_error(&self) -> Option<Box<CredentialsError>> {
        self.state().last_error.clone().map(Box::new)
    }

    /// Whether credentials with `left` to live are due for a refresh.
    fn due(&self, left: Option<time::Duration>) -> bool {
        left.is_some_and(|left| left < self.settings.refresh_window)
    }

    /// The current signer for a presigned URL, without waiting: an error when there is none or it
    /// expired. Starts a background refresh when one is due.
    pub(crate) fn for_presign(self: &Arc<Self>, now: OffsetDateTime) -> Result<Arc<Current>, CredentialsError> {
        let Some(current) = self.current() else {
            self.refresh_in_background();
            return Err(CredentialsError::NotLoaded { provider: self.provider.name(), last_error: self.last_error() });
        };
        let expires_at = current.signer.credentials().expires_at();
        let left = remaining(expires_at, now);
        if self.due(left) {
            self.refresh_in_background();
        }
        if let (Some(at), Some(left)) = (expires_at, left)
            && left <= time::Duration::ZERO
        {
            return Err(CredentialsError::Expired {
                provider: current.provider.clone(),
                expired_at: at,
                last_error: self.last_error(),
            });
        }
        Ok(current)
    }

    /// The current signer for a request, waiting for a refresh when the credentials are missing or
    /// (nearly) expired.
    pub(crate) async fn for_request(self: &Arc<Self>, now: OffsetDateTime) -> Result<Arc<Current>, CredentialsError> {
        let current = self.current();
        if let Some(current) = &current {
            let left = remaining(current.signer.credentials().expires_at(), now);
            if left.is_none_or(|left| left > REQUEST_MARGIN) {
                if self.due(left) {
                    self.refresh_in_background();
                }
                return Ok(Arc::clone(current));
            }
        }
        self.refresh(current.as_ref().map(|c| c.generation), Reason::Unusable).await
    }

    /// After a server refused the credentials of generation `seen` (an unknown key, an expired or
    /// invalid token, or an `AccessDenied` that some servers give for a deleted key): the provider's
    /// current credentials, if they differ. Such fetches are at most one every few seconds (a real
    /// permission error, or a provider that gives new keys at every call, must not turn every
    /// refused request into a fetch); a request refused meanwhile takes what the last fetch brought.
    pub(crate) async fn after_rejection(self: &Arc<Self>, seen: u64) -> Option<Arc<Current>> {
        let usable = |c: &Arc<Current>| {
            remaining(c.signer.credentials().expires_at(), OffsetDateTime::now_utc())
                .is_none_or(|left| left > REQUEST_MARGIN)
        };
        let paused = {
            let mut state = self.state();
            let paused = state.next_forced.is_some_and(|t| Instant::now() < t);
            if !paused {
                state.next_forced = Some(Instant::now() + REJECTION_PAUSE);
            }
            paused
        };
        if paused {
            // Wait for a fetch under way, then take its credentials if they are newer.
            drop(self.flight.lock().await);
            return self.current().filter(|c| c.generation != seen && usable(c));
        }
        let before = self.current();
        let fresh = self.refresh(Some(seen), Reason::Rejected).await.ok()?;
        let changed = match &before {
            Some(before) if before.generation == seen => {
                !fresh.signer.credentials().same_keys(before.signer.credentials())
            }
            _ => fresh.generation != seen,
        };
        changed.then_some(fresh)
    }

    /// Starts a refresh on the current runtime, unless one is running or the backoff says wait.
    fn refresh_in_background(self: &Arc<Self>) {
        {
            let mut state = self.state();
            if state.background || state.next_try.is_some_and(|t| Instant::now() < t) {
                return;
            }
            state.background = true;
        }
        // Lowered when the task ends, however it ends (a provider that panics, a runtime that shuts
        // down): a flag left up would stop background refreshes for good.
        struct Running(Arc<Rotating>);
        impl Drop for Running {
            fn drop(&mut self) {
                self.0.state().background = false;
            }
        }
        let running = Running(Arc::clone(self));
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime (a synchronous caller): the next request refreshes.
            return;
        };
        let seen = self.current().map(|c| c.generation);
        runtime.spawn(async move {
            let _ = running.0.refresh(seen, Reason::Due).await;
            drop(running);
        });
    }

    /// Fetches new credentials, one task at a time; a task that waited for another's fetch takes
    /// its result.
    pub(crate) async fn refresh(&self, seen: Option<u64>, reason: Reason) -> Result<Arc<Current>, CredentialsError> {
        let _flight = self.flight.lock().await;
        let now = OffsetDateTime::now_utc();
        if let Some(current) = self.current()
            && Some(current.generation) != seen
        {
            // Another task refreshed while this one waited.
            let left = remaining(current.signer.credentials().expires_at(), now);
            if left.is_none_or(|left| left > REQUEST_MARGIN) {
                return Ok(current);
            }
        }
        if reason == Reason::Due {
            let state = self.state();
            if state.next_try.is_some_and(|t| Instant::now() < t) {
                return Err(state.last_error.clone().unwrap_or_else(|| self.not_loaded()));
            }
        }
        if matches!(reason, Reason::Unusable | Reason::Rejected) {
            // A caller without usable credentials waits for a fetch, but not for every caller's:
            // after a failure, the others get that failure until the backoff has passed.
            let state = self.state();
            if state.next_try.is_some_and(|t| Instant::now() < t)
                && let Some(error) = &state.last_error
            {
                return Err(self.unusable(error.clone()));
            }
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let name = self.provider.name();
        let fetched = match tokio::time::timeout(self.settings.load_timeout, self.provider.provide()).await {
            Ok(result) => result,
            Err(_) => Err(CredentialsError::Timeout {
                provider: name.clone(),
                after: self.settings.load_timeout,
                hint: " (the credentials load timeout, S3Config::with_credentials_load_timeout)".into(),
            }),
        };
        let checked = fetched.and_then(|credentials| self.signer_for(credentials, now));
        // Credentials that would be unusable for a request at once are a failed fetch: kept, they
        // would send every waiting request back to the provider.
        let checked = checked.and_then(|current| match remaining(current.signer.credentials().expires_at(), now) {
            Some(left) if left <= REQUEST_MARGIN => Err(CredentialsError::bad_response(
                current.provider.clone(),
                format!("the credentials expire in {} s, too soon to sign with", left.whole_seconds().max(0)),
            )),
            _ => Ok(current),
        });
        match checked {
            Ok(current) => {
                let left = remaining(current.signer.credentials().expires_at(), now);
                crate::trace::event!(
                    info,
                    source = %current.provider,
                    access_key_id = current.signer.credentials().access_key_id(),
                    expires_in_s = left.map(|l| l.whole_seconds()),
                    reason = ?reason,
                    "credentials fetched"
                );
                {
                    let mut state = self.state();
                    state.last_error = None;
                    if self.due(left) {
                        // Already inside the window (a source that serves credentials until shortly
                        // before they expire): try again later, not at every request.
                        state.failures += 1;
                        state.next_try = Some(Instant::now() + backoff(state.failures));
                    } else {
                        state.failures = 0;
                        state.next_try = None;
                    }
                }
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&current));
                Ok(current)
            }
            Err(error) => {
                crate::trace::event!(warn, source = %name, error = %error, reason = ?reason, "fetching credentials failed");
                {
                    let mut state = self.state();
                    state.failures += 1;
                    state.next_try = Some(Instant::now() + backoff(state.failures));
                    state.last_error = Some(error.clone());
                }
                Err(if reason == Reason::Unusable { self.unusable(error) } else { error })
            }
        }
    }

    /// The error for a caller that has no usable credentials after `error`.
    fn unusable(&self, error: CredentialsError) -> CredentialsError {
        match self.current().and_then(|c| c.signer.credentials().expires_at().map(|at| (c, at))) {
            Some((current, at)) => CredentialsError::Expired {
                provider: current.provider.clone(),
                expired_at: at,
                last_error: Some(Box::new(error)),
            },
            None => error,
        }
    }

    fn not_loaded(&self) -> CredentialsError {
        CredentialsError::NotLoaded { provider: self.provider.name(), last_error: None }
    }

    /// A signer for fetched credentials, or why they cannot sign.
    fn signer_for(&self, credentials: Credentials, now: OffsetDateTime) -> Result<Arc<Current>, CredentialsError> {
        let provider = self.provider.name();
        if let Some(at) = credentials.expires_at()
            && at <= now
        {
            return Err(CredentialsError::bad_response(
                provider,
                format!(
                    "the credentials expired at {}, before they were received (check this machine's clock)",
                    crate::wire::dates::format_iso8601(at)
                ),
            ));
        }
        let signer = Signer::new(credentials, &self.region, "s3")
            .map_err(|e| CredentialsError::bad_response(provider.clone(), e.to_string()))?;
        let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(Arc::new(Current {
            signer: Arc::new(signer),
            generation,
            provider,
            resolution: self.provider.last_resolution(),
        }))
    }

    fn status(&self) -> CredentialsStatus {
        let current = self.current();
        let state = self.state();
        CredentialsStatus {
            source: self.provider_name(),
            access_key_id: current.as_ref().map(|c| c.signer.credentials().access_key_id().to_owned()),
            expires_at: current.as_ref().and_then(|c| c.signer.credentials().expires_at()),
            skipped: current.as_ref().and_then(|c| c.resolution.clone()).map(|r| r.skipped).unwrap_or_default(),
            rotating: true,
            fetches: self.fetches.load(Ordering::Relaxed),
            last_error: state.last_error.clone(),
        }
    }
}

/// Why a refresh is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// The credentials are inside the refresh window.
    Due,
    /// The caller has no usable credentials.
    Unusable,
    /// A server refused them.
    Rejected,
    /// The application asked.
    Asked,
}

fn backoff(failures: u32) -> Duration {
    let doubled = BACKOFF_START.saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    doubled.min(BACKOFF_MAX)
}

impl CredentialsCache {
    pub(crate) fn fixed(signer: Signer, source: Option<Resolution>) -> Self {
        Self::Fixed { signer: Arc::new(signer), source }
    }

    /// The signer for a presigned URL, without waiting.
    pub(crate) fn for_presign(&self, now: OffsetDateTime) -> Result<SignerRef<'_>, CredentialsError> {
        match self {
            Self::Fixed { signer, .. } => Ok(SignerRef::Fixed(signer)),
            Self::Rotating(rotating) => rotating.for_presign(now).map(SignerRef::Current),
        }
    }

    /// The signer for a request, refreshed first when needed.
    pub(crate) async fn for_request(&self, now: OffsetDateTime) -> Result<SignerRef<'_>, CredentialsError> {
        match self {
            Self::Fixed { signer, source } => match signer.credentials().expires_at() {
                // Fixed credentials with an expiry cannot be refreshed: past it, they are not used.
                Some(at) if at - now <= REQUEST_MARGIN => Err(CredentialsError::Expired {
                    provider: source.as_ref().map_or_else(|| "static credentials".to_owned(), |r| r.source.clone()),
                    expired_at: at,
                    last_error: None,
                }),
                _ => Ok(SignerRef::Fixed(signer)),
            },
            Self::Rotating(rotating) => rotating.for_request(now).await.map(SignerRef::Current),
        }
    }

    /// After the server refused the credentials of `generation`: whether others are now in use.
    pub(crate) async fn after_rejection(&self, generation: u64) -> bool {
        match self {
            Self::Fixed { .. } => false,
            Self::Rotating(rotating) => rotating.after_rejection(generation).await.is_some(),
        }
    }

    /// Fetches new credentials now (fixed ones stay).
    pub(crate) async fn refresh(&self) -> Result<(), CredentialsError> {
        match self {
            Self::Fixed { .. } => Ok(()),
            Self::Rotating(rotating) => {
                let seen = rotating.current().map(|c| c.generation);
                rotating.refresh(seen, Reason::Asked).await.map(|_| ())
            }
        }
    }

    pub(crate) fn status(&self) -> CredentialsStatus {
        match self {
            Self::Fixed { signer, source } => CredentialsStatus {
                source: source.as_ref().map_or_else(|| "static credentials".to_owned(), |r| r.source.clone()),
                access_key_id: Some(signer.credentials().access_key_id().to_owned()),
                expires_at: signer.credentials().expires_at(),
                skipped: source.as_ref().map(|r| r.skipped.clone()).unwrap_or_default(),
                rotating: false,
                fetches: 0,
                last_error: None,
            },
            Self::Rotating(rotating) => rotating.status(),
        }
    }
}

/// Where a backend's credentials come from and how they stand, for diagnostics (the doctor prints
/// it). Holds no secret.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CredentialsStatus {
    /// The source that supplied the credentials in use.
    pub source: String,
    /// Their access key id (not a secret), if any are loaded.
    pub access_key_id: Option<String>,
    /// When they expire; `None` for long-term keys.
    pub expires_at: Option<OffsetDateTime>,
    /// The sources a chain passed over before it, and why.
    pub skipped: Vec<Skipped>,
    /// Whether they are refreshed from a provider (`false`: fixed credentials).
    pub rotating: bool,
    /// How many times the provider was asked.
    pub fetches: u64,
    /// Why the last refresh failed, when it did.
    pub last_error: Option<CredentialsError>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_minute() {
        let waits: Vec<u64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff(u32::MAX), BACKOFF_MAX);
    }
}
