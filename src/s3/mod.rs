//! The S3 backend: AWS S3, Cloudflare R2 and any S3-compatible server, over reqwest.
//!
//! Everything that touches the network for S3 lives here; the signing is [`crate::sigv4`]'s.

mod client;
mod config;
pub(crate) mod copy;
mod cors;
pub(crate) mod dates;
mod multipart;
mod post;
pub(crate) mod retry;
mod signing;
mod transport;
pub(crate) mod xml;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use time::OffsetDateTime;

pub use config::{
    DEFAULT_CONCURRENCY, DEFAULT_COPY_PART_SIZE, DEFAULT_MULTIPART_THRESHOLD, PayloadSigning, Provider, S3Config,
};
pub use cors::{CorsConfiguration, CorsRule, PreflightReport};
pub use retry::RetryPolicy;
pub use signing::{CredentialsStatus, DEFAULT_LOAD_TIMEOUT, DEFAULT_REFRESH_WINDOW, PresignExpiry};

use crate::body::Body;
use crate::credentials::CredentialsError;
use crate::multipart::upload::{Transfer, put_in_parts};
use crate::multipart::{
    CompletedPart, MultipartLimits, MultipartUpload, MultipartUploadInfo, PartNumber, UploadedPart,
};
use crate::sigv4::{BucketAddress, Method, Signer};
use crate::storage::{
    CopyOptions, GetObjectOutput, GetOptions, ListOptions, ObjectList, ObjectMeta, PostPolicy, PresignedPost,
    PresignedRequest, PutObjectOutput, PutOptions, Storage,
};
use crate::{Error, Result};

use client::Call;
use signing::{CredentialsConfig, Signing};

/// The largest listing page read (1000 keys of 1024 bytes, URL-encoded, fit in well under this).
const MAX_LISTING: usize = 16 * 1024 * 1024;

/// The S3 backend: one bucket on AWS S3, Cloudflare R2 or any S3-compatible server.
///
/// Cheap to clone (the HTTP client and the signer are shared). Built from an [`S3Config`], or from the
/// environment with [`S3Storage::from_env`].
#[derive(Clone)]
pub struct S3Storage {
    inner: Arc<Inner>,
}

struct Inner {
    signing: Signing,
    /// What presigning does when a URL would outlive the credentials.
    presign_expiry: PresignExpiry,
    address: BucketAddress,
    provider: Provider,
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
    /// Milliseconds to add to this machine's clock, learnt from the server when it said the request
    /// time was too skewed.
    skew_ms: AtomicI64,
}

impl S3Storage {
    /// A backend for `config`.
    ///
    /// # Errors
    ///
    /// [`Error::Signing`] for an invalid region, bucket, endpoint or credentials; [`Error::Config`]
    /// for inconsistent settings or when the HTTP client cannot be built.
    pub fn new(config: S3Config) -> Result<Self> {
        let (address, provider) = config.resolve()?;
        let signing = match config.credentials {
            CredentialsConfig::Fixed(credentials, source) => {
                Signing::fixed(Signer::new(credentials, &config.region, "s3")?, source)
            }
            CredentialsConfig::Provider(credentials) => {
                if !crate::sigv4::is_scope_token(&config.region) {
                    return Err(crate::sigv4::Error::InvalidRegion {
                        region: config.region.chars().take(64).collect(),
                    }
                    .into());
                }
                Signing::Rotating(Arc::new(signing::Rotating::new(credentials, &config.region, config.rotation)))
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
        let limits = config.limits.unwrap_or(match provider {
            Provider::R2 => MultipartLimits::R2,
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
            signing,
            presign_expiry: config.presign_expiry,
            address,
            provider,
            http,
            retry: config.retry,
            idle_timeout: config.idle_timeout,
            timeout: config.timeout,
            sign_payloads,
            skew_ms: AtomicI64::new(skew_ms),
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// A backend configured from the environment (see [`S3Config::from_env`]), without waiting.
    ///
    /// Credentials in variables or in the selected profile's keys are ready at once. Credentials
    /// from a source that needs the network (web identity, the container endpoint, instance
    /// metadata, a role or a `credential_process` in a profile) are fetched by the first request, or
    /// in the background when this is called inside a Tokio runtime; presigning before they arrive
    /// fails with [`CredentialsError::NotLoaded`](crate::credentials::CredentialsError::NotLoaded).
    /// A service on AWS uses [`load_from_env`](Self::load_from_env) instead.
    ///
    /// # Errors
    ///
    /// As [`S3Config::from_env`] and [`S3Storage::new`].
    pub fn from_env() -> Result<Self> {
        let storage = Self::new(S3Config::from_env()?)?;
        if let Signing::Rotating(rotating) = &storage.inner.signing
            && tokio::runtime::Handle::try_current().is_ok()
        {
            let rotating = Arc::clone(rotating);
            tokio::spawn(async move {
                let _ = rotating.refresh(None, signing::Reason::Asked).await;
            });
        }
        Ok(storage)
    }

    /// A backend configured from the environment (see [`S3Config::from_env`]), with its credentials
    /// fetched before it is returned: what a service on AWS (ECS, EKS, EC2, Lambda) calls at start.
    ///
    /// ```no_run
    /// # async fn start() -> stowage::Result<()> {
    /// let storage = stowage::S3Storage::load_from_env().await?;
    /// println!("credentials from {}", storage.credentials_status().source);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`S3Config::from_env`], and [`Error::Credentials`] when no source gives credentials (the
    /// error lists each source and why it was passed over).
    pub async fn load_from_env() -> Result<Self> {
        let storage = Self::new(S3Config::from_env()?)?;
        storage.refresh_credentials().await?;
        Ok(storage)
    }

    /// Fetches credentials from the provider now, whatever the cache holds (nothing happens for
    /// fixed credentials). One fetch at a time: a call made during another's fetch takes its result.
    ///
    /// # Errors
    ///
    /// [`Error::Credentials`] when the fetch fails; the credentials in hand, if still valid, stay in
    /// use.
    pub async fn refresh_credentials(&self) -> Result<()> {
        Ok(self.inner.signing.refresh().await?)
    }

    /// Where the credentials in use come from, when they expire, and why the sources before it were
    /// passed over (no secret in it): what the doctor prints.
    #[must_use]
    pub fn credentials_status(&self) -> CredentialsStatus {
        self.inner.signing.status()
    }

    /// The bucket.
    #[must_use]
    pub fn bucket(&self) -> &str {
        self.inner.address.bucket()
    }

    /// Which service's rules apply.
    #[must_use]
    pub fn provider(&self) -> Provider {
        self.inner.provider
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
        Ok(self.inner.signing.for_presign(self.now())?.shared())
    }

    /// The signer for a presigned URL valid for `expires_in` from `now`, and the lifetime to sign:
    /// `expires_in`, or shorter when temporary credentials end sooner (or an error, as configured).
    pub(crate) fn presign_signer(
        &self,
        now: OffsetDateTime,
        expires_in: Duration,
    ) -> Result<(signing::SignerRef<'_>, Duration)> {
        let signer = self.inner.signing.for_presign(now)?;
        let Some(at) = signer.credentials().expires_at() else {
            return Ok((signer, expires_in));
        };
        let left = u64::try_from((at - now).whole_seconds()).unwrap_or(0);
        let provider = || self.inner.signing.status().source;
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

    /// Checks upload headers against the provider's documented limits.
    fn check_upload(&self, options: &PutOptions, len: Option<u64>) -> Result<()> {
        if self.inner.provider == Provider::R2 {
            let checked =
                crate::r2::check_upload_headers(options.headers().iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    .and_then(|()| match len.or_else(|| options.get("content-length").and_then(|v| v.parse().ok())) {
                        Some(len) => crate::r2::check_upload_size(len),
                        None => Ok(()),
                    });
            checked.inspect_err(|e| {
                crate::trace::event!(warn, error = %e, "refused before sending: Cloudflare R2 would refuse it");
                let _ = e;
            })?;
        }
        Ok(())
    }

    fn presign(
        &self,
        method: Method,
        key: &str,
        headers: &[(String, String)],
        query: &[(&str, &str)],
        expires_in: Duration,
    ) -> Result<PresignedRequest> {
        let mut request = self.inner.address.object(method, key)?;
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
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
        self.presign(Method::Put, key, options.headers(), &[], expires_in)
    }

    fn presign_get(&self, key: &str, options: &GetOptions, expires_in: Duration) -> Result<PresignedRequest> {
        let headers: Vec<(String, String)> =
            options.range.iter().map(|r| ("range".to_owned(), r.header_value())).collect();
        self.presign(Method::Get, key, &headers, &options.query(), expires_in)
    }

    async fn put_object(&self, key: &str, body: Body, options: &PutOptions) -> Result<PutObjectOutput> {
        let single_max = match self.inner.provider {
            Provider::R2 => crate::r2::MAX_PUT_SIZE,
            _ => copy::MAX_SINGLE_COPY,
        };
        if body.len() > self.inner.transfer.threshold.min(single_max) {
            self.check_upload(options, None)?;
            if let Some(declared) = options.get("content-length")
                && declared.parse::<u64>().ok() != Some(body.len())
            {
                return Err(Error::Config(format!(
                    "PutOptions declares content-length {declared} but the body holds {} bytes",
                    body.len()
                )));
            }
            return put_in_parts(self, key, body, options, &self.inner.transfer).await;
        }
        self.check_upload(options, Some(body.len()))?;
        if let Some(declared) = options.get("content-length")
            && declared.parse::<u64>().ok() != Some(body.len())
        {
            return Err(Error::Config(format!(
                "PutOptions declares content-length {declared} but the body holds {} bytes",
                body.len()
            )));
        }
        let mut headers: Vec<(&str, Cow<'_, str>)> = options
            .headers()
            .iter()
            .filter(|(k, _)| k != "content-length")
            .map(|(k, v)| (k.as_str(), Cow::Borrowed(v.as_str())))
            .collect();
        headers.push(("content-length", Cow::Owned(body.len().to_string())));
        let call = Call::new("PutObject", Method::Put, Some(key)).headers(headers).body(&body);
        let answer = self.execute(&call).await?;
        Ok(PutObjectOutput { etag: answer.header("etag") })
    }

    async fn head_object(&self, key: &str) -> Result<Option<ObjectMeta>> {
        let call = Call::new("HeadObject", Method::Head, Some(key)).accept_not_found();
        let answer = self.execute(&call).await?;
        if answer.status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        Ok(Some(meta_from_headers(key, &answer.headers, "HeadObject")?))
    }

    async fn get_object(&self, key: &str, options: &GetOptions) -> Result<GetObjectOutput> {
        let range = options.range.map(|r| r.header_value());
        let mut call = Call::new("GetObject", Method::Get, Some(key))
            .query(options.query().into_iter().map(|(k, v)| (k, Cow::Borrowed(v))).collect());
        if let Some(range) = &range {
            call = call.headers(vec![("range", Cow::Borrowed(range.as_str()))]);
        }
        let answer = self.execute(&call).await?;
        let meta = meta_from_headers(key, &answer.headers, "GetObject")?;
        let content_range = answer.header("content-range");
        Ok(GetObjectOutput { meta, content_range, body: answer.into_object_body() })
    }

    async fn delete_object(&self, key: &str) -> Result<()> {
        let call = Call::new("DeleteObject", Method::Delete, Some(key));
        self.execute(&call).await?;
        Ok(())
    }

    async fn list_objects(&self, prefix: &str, options: &ListOptions) -> Result<ObjectList> {
        let mut query = vec![("list-type", Cow::Borrowed("2")), ("encoding-type", Cow::Borrowed("url"))];
        if !prefix.is_empty() {
            query.push(("prefix", Cow::Borrowed(prefix)));
        }
        if let Some(token) = &options.continuation_token {
            query.push(("continuation-token", Cow::Borrowed(token.as_str())));
        }
        if let Some(max) = options.max_keys {
            query.push(("max-keys", Cow::Owned(max.to_string())));
        }
        let call = Call::new("ListObjectsV2", Method::Get, None).query(query).read_body(MAX_LISTING);
        let answer = self.execute(&call).await?;
        client::parse_list(answer.body())
    }

    fn presign_post(&self, policy: &PostPolicy, expires_in: Duration) -> Result<PresignedPost> {
        self.presign_post_policy(policy, expires_in)
    }

    async fn create_multipart_upload(&self, key: &str, options: &PutOptions) -> Result<MultipartUpload> {
        self.create_upload(key, options).await
    }

    fn presign_upload_part(
        &self,
        upload: &MultipartUpload,
        part: PartNumber,
        content_length: Option<u64>,
        expires_in: Duration,
    ) -> Result<PresignedRequest> {
        self.presign_part(upload, part, content_length, expires_in)
    }

    async fn upload_part(&self, upload: &MultipartUpload, part: PartNumber, body: Body) -> Result<CompletedPart> {
        self.put_part(upload, part, body).await
    }

    async fn upload_part_copy(
        &self,
        upload: &MultipartUpload,
        part: PartNumber,
        source: &str,
        range: Option<std::ops::Range<u64>>,
        if_match: Option<&str>,
    ) -> Result<CompletedPart> {
        self.copy_part(source, upload, part, range, if_match).await
    }

    async fn list_parts(&self, upload: &MultipartUpload) -> Result<Vec<UploadedPart>> {
        self.parts_of(upload).await
    }

    async fn complete_multipart_upload(
        &self,
        upload: &MultipartUpload,
        parts: &[CompletedPart],
    ) -> Result<PutObjectOutput> {
        self.complete(upload, parts).await
    }

    async fn abort_multipart_upload(&self, upload: &MultipartUpload) -> Result<()> {
        self.abort(upload).await
    }

    async fn list_multipart_uploads(&self, prefix: &str) -> Result<Vec<MultipartUploadInfo>> {
        self.uploads_under(prefix).await
    }

    async fn copy_object(&self, source: &str, destination: &str, options: &CopyOptions) -> Result<PutObjectOutput> {
        self.copy(source, destination, options).await
    }
}

impl fmt::Debug for S3Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Storage")
            .field("address", &self.inner.address)
            .field("provider", &self.inner.provider)
            .field("credentials", &self.inner.signing.status().source)
            .finish_non_exhaustive()
    }
}

/// Object metadata from the headers of a HEAD or GET response.
fn meta_from_headers(key: &str, headers: &reqwest::header::HeaderMap, operation: &'static str) -> Result<ObjectMeta> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    // With a range, Content-Range carries the whole size: `bytes 0-15/1234`.
    let size = match text("content-range").and_then(|r| r.rsplit('/').next().and_then(|t| t.parse().ok())) {
        Some(total) => total,
        None => text("content-length")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| Error::InvalidResponse { operation, reason: "no Content-Length in the response".into() })?,
    };
    let mut meta = ObjectMeta::new(key, size);
    meta.content_type = text("content-type");
    meta.etag = text("etag");
    meta.last_modified = text("last-modified").and_then(|d| dates::parse_http_date(&d));
    meta.cache_control = text("cache-control");
    meta.content_disposition = text("content-disposition");
    meta.content_encoding = text("content-encoding");
    for (name, value) in headers {
        if let (Some(meta_name), Ok(value)) = (name.as_str().strip_prefix("x-amz-meta-"), value.to_str()) {
            meta.metadata.insert(meta_name.to_owned(), value.to_owned());
        }
    }
    Ok(meta)
}
