//! The S3 backend: AWS S3, Cloudflare R2 and any S3-compatible server, over reqwest.
//!
//! Everything that touches the network for S3 lives here; the signing is [`crate::sigv4`]'s, the
//! multipart plan and part loop [`crate::multipart`]'s. One file per job: the configuration
//! (`config`), the credentials cache (`credentials_cache`), sending one request with its retries
//! (`client`, deciding with `retry`, timing with `transport`), and one file per family of requests
//! (`objects`, `listing`, `multipart`, `copy`, `cors`, `post`).

mod answer;
mod client;
mod config;
mod config_env;
mod copy;
mod cors;
mod credentials_cache;
mod download;
mod integrity;
mod listing;
mod multipart;
mod objects;
mod post;
mod retry;
mod trailer;
mod transport;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use time::OffsetDateTime;

pub use config::{
    DEFAULT_CONCURRENCY, DEFAULT_COPY_PART_SIZE, DEFAULT_MULTIPART_THRESHOLD, PayloadSigning, Platform, S3Config,
};
pub use cors::{CorsConfiguration, CorsRule, PreflightReport};
pub use credentials_cache::{CredentialsStatus, DEFAULT_LOAD_TIMEOUT, DEFAULT_REFRESH_WINDOW, PresignExpiry};
pub use retry::RetryPolicy;

use crate::body::Body;
use crate::credentials::CredentialsError;
use crate::multipart::upload::Transfer;
use crate::sigv4::{BucketAddress, Method, Signer};
use crate::storage::multipart::{
    CompletedPart, MultipartLimits, MultipartUpload, MultipartUploadInfo, UploadPart, UploadedPart,
};
use crate::storage::{
    CompleteOptions, CopyOptions, CopySource, GetObjectOutput, GetOptions, ListOptions, Listing, ObjectMeta,
    PartOptions, PostPolicy, PresignedPost, PresignedRequest, PutObjectOutput, PutOptions, Storage,
};
use crate::{Error, Result};

use credentials_cache::{CredentialsCache, CredentialsConfig};

/// The S3 backend: one bucket on AWS S3, Cloudflare R2 or any S3-compatible server.
///
/// Cheap to clone (the HTTP client and the signer are shared). Built with [`S3Config::build`], from
/// code or from the environment.
#[derive(Clone)]
pub struct S3Storage {
    inner: Arc<Inner>,
}

struct Inner {
    credentials: CredentialsCache,
    /// What presigning does when a URL would outlive the credentials.
    presign_expiry: PresignExpiry,
    address: BucketAddress,
    platform: Platform,
    http: reqwest::Client,
    retry: RetryPolicy,
    /// How long nothing may move (see [`transport`]).
    idle_timeout: Option<Duration>,
    /// The deadline of one request, retries included.
    timeout: Option<Duration>,
    /// How large bodies go up in parts.
    transfer: Transfer,
    /// Entries asked for per listing page.
    page_size: u32,
    /// Copies above this size go part by part.
    copy_threshold: u64,
    /// The part size of such copies.
    copy_part_size: u64,
    /// Whether in-memory upload bodies are hashed and signed.
    sign_payloads: bool,
    /// The checksum uploads carry unless their options name one.
    checksum: Option<crate::checksum::ChecksumAlgorithm>,
    /// Milliseconds to add to this machine's clock, learnt from the server when it said the request
    /// time was too skewed.
    skew_ms: AtomicI64,
}

impl S3Storage {
    /// The backend of `config`, its credentials not fetched yet ([`S3Config::build`] fetches them).
    pub(crate) fn from_config(config: S3Config) -> Result<Self> {
        let (address, platform) = config.resolve()?;
        let credentials = match config.credentials {
            CredentialsConfig::Fixed(credentials, source) => {
                CredentialsCache::fixed(Signer::new(credentials, &config.region, "s3")?, source)
            }
            CredentialsConfig::Provider(provider) => {
                if !crate::sigv4::is_scope_token(&config.region) {
                    return Err(crate::sigv4::Error::InvalidRegion {
                        region: config.region.chars().take(64).collect(),
                    }
                    .into());
                }
                CredentialsCache::Rotating(Arc::new(credentials_cache::Rotating::new(
                    provider,
                    &config.region,
                    config.rotation,
                )))
            }
        };
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("stowage/", env!("CARGO_PKG_VERSION")));
        // The operating system watches the bytes it buffered: a connection whose data goes
        // unacknowledged for the idle timeout is given up (see `transport`).
        #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
        let http = http.tcp_user_timeout(config.idle_timeout);
        let http = http.build().map_err(|e| Error::Config(format!("building the HTTP client: {}", e.without_url())))?;
        let skew_ms = i64::try_from(config.clock_skew.whole_milliseconds()).unwrap_or(0);
        let sign_payloads = match config.payload_signing {
            PayloadSigning::Always => true,
            PayloadSigning::Never => false,
            _ => address.scheme() == crate::sigv4::Scheme::Http,
        };
        let limits = config.limits.unwrap_or(match platform {
            Platform::R2 => MultipartLimits::R2,
            _ => MultipartLimits::S3,
        });
        let transfer = Transfer {
            threshold: config.multipart_threshold,
            part_size: config.part_size,
            concurrency: config.concurrency.max(1),
            limits,
        };
        let inner = Inner {
            transfer,
            page_size: config.page_size,
            copy_threshold: config.copy_threshold,
            copy_part_size: config.copy_part_size,
            credentials,
            presign_expiry: config.presign_expiry,
            address,
            platform,
            http,
            retry: config.retry,
            idle_timeout: config.idle_timeout,
            timeout: config.timeout,
            sign_payloads,
            checksum: config.checksum,
            skew_ms: AtomicI64::new(skew_ms),
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// Fetches credentials from the provider now, whatever the cache holds (nothing happens for
    /// fixed credentials). One fetch at a time: a call made during another's fetch takes its result.
    ///
    /// # Errors
    ///
    /// [`Error::Credentials`] when the fetch fails; the credentials in hand, if still valid, stay in
    /// use.
    pub async fn refresh_credentials(&self) -> Result<()> {
        Ok(self.inner.credentials.refresh().await?)
    }

    /// Where the credentials in use come from, when they expire, and why the sources before it were
    /// passed over (no secret in it): what the doctor prints.
    #[must_use]
    pub fn credentials_status(&self) -> CredentialsStatus {
        self.inner.credentials.status()
    }

    /// The bucket.
    #[must_use]
    pub fn bucket(&self) -> &str {
        self.inner.address.bucket()
    }

    /// Which platform's rules apply.
    #[must_use]
    pub fn platform(&self) -> Platform {
        self.inner.platform
    }

    /// Where requests go.
    #[must_use]
    pub fn address(&self) -> &BucketAddress {
        &self.inner.address
    }

    /// The signer of the credentials in use, for requests this backend does not offer (its clock is
    /// [`now`](Self::now)). With rotating credentials, ask again for each batch of signatures: a
    /// signer holds one generation of credentials.
    ///
    /// # Errors
    ///
    /// [`Error::Credentials`] when rotating credentials are not loaded yet or have expired.
    pub fn signer(&self) -> Result<Arc<Signer>> {
        Ok(self.inner.credentials.for_presign(self.now())?.shared())
    }

    /// The signer for a presigned URL valid for `expires_in` from `now`, and the lifetime to sign:
    /// `expires_in`, or shorter when temporary credentials end sooner (or an error, as configured).
    pub(crate) fn presign_signer(
        &self,
        now: OffsetDateTime,
        expires_in: Duration,
    ) -> Result<(credentials_cache::SignerRef<'_>, Duration)> {
        let signer = self.inner.credentials.for_presign(now)?;
        let Some(at) = signer.credentials().expires_at() else {
            return Ok((signer, expires_in));
        };
        let left = u64::try_from((at - now).whole_seconds()).unwrap_or(0);
        let provider = || self.inner.credentials.status().source;
        if left < 1 {
            return Err(CredentialsError::Expired { provider: provider(), expired_at: at, last_error: None }.into());
        }
        if expires_in.as_secs() <= left {
            return Ok((signer, expires_in));
        }
        match self.inner.presign_expiry {
            PresignExpiry::Refuse => Err(CredentialsError::OutlivesCredentials {
                provider: provider(),
                requested: expires_in,
                credentials_expire_at: at,
            }
            .into()),
            _ => Ok((signer, Duration::from_secs(left))),
        }
    }

    /// The HTTP client.
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// The signing time: this machine's clock, corrected by what the server said about it.
    #[must_use]
    pub fn now(&self) -> OffsetDateTime {
        let skew = time::Duration::milliseconds(self.inner.skew_ms.load(Ordering::Relaxed));
        OffsetDateTime::now_utc().checked_add(skew).unwrap_or_else(OffsetDateTime::now_utc)
    }

    /// The correction currently applied to this machine's clock.
    #[must_use]
    pub fn clock_skew(&self) -> time::Duration {
        time::Duration::milliseconds(self.inner.skew_ms.load(Ordering::Relaxed))
    }

    /// Learns the clock offset from a server's `Date`. An offset over a day is not believed (a
    /// broken proxy or a hostile answer must not skew every later signature); returns whether it was
    /// applied.
    fn set_clock_skew(&self, server: OffsetDateTime) -> bool {
        let offset = server - OffsetDateTime::now_utc();
        if offset.abs() > time::Duration::days(1) {
            return false;
        }
        let ms = i64::try_from(offset.whole_milliseconds()).unwrap_or(0);
        self.inner.skew_ms.store(ms, Ordering::Relaxed);
        true
    }

    /// Checks upload headers against the platform's documented limits.
    fn check_upload(&self, options: &PutOptions, len: Option<u64>) -> Result<()> {
        if self.inner.platform == Platform::R2 {
            let checked =
                crate::r2::check_upload_headers(options.headers().iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    .and_then(|()| {
                        match len.or_else(|| options.header("content-length").and_then(|v| v.parse().ok())) {
                            Some(len) => crate::r2::check_upload_size(len),
                            None => Ok(()),
                        }
                    });
            checked.inspect_err(|e| {
                crate::trace::event!(warn, error = %e, "refused before sending: Cloudflare R2 would refuse it");
                let _ = e;
            })?;
        }
        Ok(())
    }

    /// A presigned request of `method` to `key`, signing `headers` and `query`.
    fn presign(
        &self,
        method: Method,
        key: &str,
        headers: &[(&str, &str)],
        query: &[(&str, &str)],
        expires_in: Duration,
    ) -> Result<PresignedRequest> {
        let mut request = self.inner.address.object(method, key)?;
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        for (name, value) in query {
            request = request.query(*name, *value);
        }
        let now = self.now();
        let (signer, expires_in) = self.presign_signer(now, expires_in)?;
        Ok(signer.presign(&request, expires_in, now)?.into())
    }
}

#[async_trait::async_trait]
impl Storage for S3Storage {
    fn presign_put(&self, key: &str, options: &PutOptions, expires_in: Duration) -> Result<PresignedRequest> {
        self.check_upload(options, None)?;
        integrity::check(self.inner.platform, options, None)?;
        // A checksum in the query is ignored by Amazon S3: it is signed as a header, which the client
        // must send, so that the bucket refuses other bytes.
        let checksum = match (options.checksum(), options.checksum_value()) {
            (_, Some(value)) => Some(value.header()),
            (Some(algorithm), None) => {
                return Err(Error::Config(format!(
                    "a presigned PUT cannot compute a {algorithm} checksum (the client sends the bytes): sign the \
                     client's value with PutOptions::with_checksum_value"
                )));
            }
            (None, None) => None,
        };
        let mut headers: Vec<(&str, &str)> = options.headers().iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        headers.extend(options.mode().header());
        headers.extend(checksum.as_ref().map(|(name, value)| (*name, value.as_str())));
        self.presign(Method::Put, key, &headers, &[], expires_in)
    }

    fn presign_get(&self, key: &str, options: &GetOptions, expires_in: Duration) -> Result<PresignedRequest> {
        let owned = options.headers();
        let headers: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.presign(Method::Get, key, &headers, &options.query(), expires_in)
    }

    fn presign_post(&self, policy: &PostPolicy, expires_in: Duration) -> Result<PresignedPost> {
        self.presign_post_policy(policy, expires_in)
    }

    async fn put_object(&self, key: &str, body: Body, options: &PutOptions) -> Result<PutObjectOutput> {
        self.put(key, body, options).await
    }

    async fn head_object(&self, key: &str, options: &GetOptions) -> Result<Option<ObjectMeta>> {
        self.head(key, options).await
    }

    async fn get_object(&self, key: &str, options: &GetOptions) -> Result<Option<GetObjectOutput>> {
        self.get(key, options).await
    }

    async fn delete_object(&self, key: &str) -> Result<()> {
        self.delete(key).await
    }

    fn list_objects<'a>(&'a self, prefix: &'a str, options: &ListOptions) -> Listing<'a, ObjectMeta> {
        self.objects_under(prefix, options)
    }

    async fn copy_object(&self, source: &str, destination: &str, options: &CopyOptions) -> Result<PutObjectOutput> {
        self.copy(source, destination, options).await
    }

    fn multipart_limits(&self) -> MultipartLimits {
        self.inner.transfer.limits
    }

    async fn create_multipart_upload(&self, key: &str, options: &PutOptions) -> Result<MultipartUpload> {
        self.create_upload(key, options).await
    }

    fn presign_upload_part(
        &self,
        part: UploadPart<'_>,
        options: &PartOptions,
        expires_in: Duration,
    ) -> Result<PresignedRequest> {
        self.presign_part(part, options, expires_in)
    }

    async fn upload_part(&self, part: UploadPart<'_>, body: Body) -> Result<CompletedPart> {
        self.put_part(part, body).await
    }

    async fn upload_part_copy(&self, part: UploadPart<'_>, source: &CopySource) -> Result<CompletedPart> {
        self.copy_part(part, source).await
    }

    fn list_parts<'a>(&'a self, upload: &'a MultipartUpload) -> Listing<'a, UploadedPart> {
        self.parts_of(upload)
    }

    async fn complete_multipart_upload(
        &self,
        upload: &MultipartUpload,
        parts: &[CompletedPart],
        options: &CompleteOptions,
    ) -> Result<PutObjectOutput> {
        self.complete(upload, parts, options).await
    }

    async fn abort_multipart_upload(&self, upload: &MultipartUpload) -> Result<()> {
        self.abort(upload).await
    }

    fn list_multipart_uploads<'a>(&'a self, prefix: &'a str) -> Listing<'a, MultipartUploadInfo> {
        self.uploads_under(prefix)
    }
}

impl fmt::Debug for S3Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Storage")
            .field("address", &self.inner.address)
            .field("platform", &self.inner.platform)
            .field("credentials", &self.inner.credentials.status().source)
            .finish_non_exhaustive()
    }
}
