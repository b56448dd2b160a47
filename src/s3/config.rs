//! Configuration of the S3 backend: where, who, and how patiently.

use std::fmt;
use std::time::Duration;

use crate::credentials::AnyCredentials;
use crate::multipart::MultipartLimits;
use crate::sigv4::{AddressingStyle, BucketAddress};
use crate::{Error, Result};

use super::credentials_cache::{
    CredentialsConfig, DEFAULT_LOAD_TIMEOUT, DEFAULT_REFRESH_WINDOW, PresignExpiry, Rotation,
};
use super::retry::RetryPolicy;

/// Which storage platform serves the bucket, for the rules that differ. (Not to be confused with a
/// credentials provider, [`ProvideCredentials`](crate::credentials::ProvideCredentials): that is where
/// the keys come from.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Platform {
    /// Amazon S3.
    Aws,
    /// Cloudflare R2: region `auto`, and the request headers R2 documents as unsupported are refused
    /// before anything is sent (see [`crate::r2`]).
    R2,
    /// Any other S3-compatible server (MinIO, Garage, Ceph, a local test server, …).
    Other,
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Aws => "AWS S3",
            Self::R2 => "Cloudflare R2",
            Self::Other => "S3-compatible server",
        })
    }
}

/// Whether uploads sign a SHA-256 of their body (`x-amz-content-sha256`) or send `UNSIGNED-PAYLOAD`.
///
/// A signed payload lets the server reject a body altered in transit, at the cost of hashing it on
/// both sides. Over HTTPS, TLS already protects the body, and botocore sends S3 uploads unsigned;
/// over plain HTTP it signs them. Streams and files are always sent unsigned (hashing them would
/// mean reading them twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum PayloadSigning {
    /// Sign in-memory bodies over plain HTTP, not over HTTPS (botocore's choice).
    #[default]
    Auto,
    /// Sign every in-memory body.
    Always,
    /// Never sign the body.
    Never,
}

/// Everything the S3 backend needs: bucket, region, credentials, endpoint, addressing, retries and
/// timeouts — and the one way to build the backend. Start from code with [`S3Config::new`] (AWS or
/// any endpoint) or [`S3Config::r2`] (Cloudflare R2), or from the environment with
/// [`S3Config::from_env`]; adjust it with the `with_*` methods; then [`build`](Self::build) it.
///
/// ```
/// # async fn demo() -> stowage::Result<()> {
/// use std::time::Duration;
/// use stowage::{Credentials, S3Config};
///
/// // From code:
/// let storage = S3Config::new("my-app-uploads", "eu-west-1", Credentials::new("AKID", "secret"))
///     .with_timeout(Duration::from_secs(30))
///     .build()
///     .await?;
/// let local = S3Config::new("test", "us-east-1", Credentials::new("AKID", "secret"))
///     .with_endpoint("http://127.0.0.1:9000")
///     .build()
///     .await?;
///
/// // From the environment (S3_BUCKET, S3_REGION, S3_ENDPOINT and the credentials chain):
/// # if std::env::var_os("S3_BUCKET").is_some() {
/// let storage = S3Config::from_env()?.build().await?;
/// # }
/// # Ok(())
/// # }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Clone)]
#[must_use]
pub struct S3Config {
    pub(crate) bucket: String,
    pub(crate) region: String,
    pub(crate) credentials: CredentialsConfig,
    pub(crate) rotation: Rotation,
    pub(crate) presign_expiry: PresignExpiry,
    pub(crate) endpoint: Option<String>,
    pub(crate) style: Option<AddressingStyle>,
    pub(crate) platform: Option<Platform>,
    pub(crate) r2_account: Option<(String, Option<String>)>,
    pub(crate) retry: RetryPolicy,
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) clock_skew: time::Duration,
    pub(crate) payload_signing: PayloadSigning,
    pub(crate) checksum: Option<crate::checksum::ChecksumAlgorithm>,
    pub(crate) multipart_threshold: u64,
    pub(crate) part_size: u64,
    pub(crate) concurrency: usize,
    pub(crate) limits: Option<MultipartLimits>,
    pub(crate) page_size: u32,
    pub(crate) copy_threshold: u64,
    pub(crate) copy_part_size: u64,
}

/// Bodies above this size go up in parts (see [`S3Config::with_multipart_threshold`]).
pub const DEFAULT_MULTIPART_THRESHOLD: u64 = 32 * 1024 * 1024;

/// Parts in flight at once by default.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// The part size of server-side copies by default: large, since no byte passes through this process.
pub const DEFAULT_COPY_PART_SIZE: u64 = 256 * 1024 * 1024;

impl S3Config {
    /// A bucket on AWS S3 in `region` (or on any S3-compatible server, with
    /// [`with_endpoint`](Self::with_endpoint)), signed with `credentials`: fixed [`Credentials`](crate::Credentials), or a
    /// provider whose credentials the backend fetches at [`build`](Self::build) and refreshes ahead
    /// of each expiry ([`AnyCredentials`]).
    pub fn new(bucket: impl Into<String>, region: impl Into<String>, credentials: impl Into<AnyCredentials>) -> Self {
        Self::with_source(bucket.into(), region.into(), CredentialsConfig::from(credentials.into()))
    }

    pub(super) fn with_source(bucket: String, region: String, credentials: CredentialsConfig) -> Self {
        Self {
            bucket,
            region,
            credentials,
            rotation: Rotation { refresh_window: DEFAULT_REFRESH_WINDOW, load_timeout: DEFAULT_LOAD_TIMEOUT },
            presign_expiry: PresignExpiry::default(),
            endpoint: None,
            style: None,
            platform: None,
            r2_account: None,
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(10),
            timeout: None,
            idle_timeout: Some(Duration::from_secs(60)),
            clock_skew: time::Duration::ZERO,
            payload_signing: PayloadSigning::Auto,
            checksum: None,
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
            part_size: crate::multipart::DEFAULT_PART_SIZE,
            concurrency: DEFAULT_CONCURRENCY,
            limits: None,
            page_size: 1000,
            copy_threshold: crate::s3::copy::MAX_SINGLE_COPY,
            copy_part_size: DEFAULT_COPY_PART_SIZE,
        }
    }

    /// A bucket on Cloudflare R2 of account `account_id`: endpoint
    /// `https://<account_id>.r2.cloudflarestorage.com`, region `auto`, path-style addressing, and R2's
    /// documented limits enforced before sending.
    pub fn r2(
        account_id: impl Into<String>,
        bucket: impl Into<String>,
        credentials: impl Into<AnyCredentials>,
    ) -> Self {
        let mut config = Self::new(bucket, "auto", credentials);
        config.r2_account = Some((account_id.into(), None));
        config.platform = Some(Platform::R2);
        config
    }

    /// For R2: a bucket in a jurisdiction (`eu`, `fedramp`), reached at
    /// `https://<account_id>.<jurisdiction>.r2.cloudflarestorage.com`.
    pub fn with_jurisdiction(mut self, jurisdiction: impl Into<String>) -> Self {
        if let Some((_, slot)) = &mut self.r2_account {
            *slot = Some(jurisdiction.into());
        } else {
            // Remembered so that `build` can say this is only for R2.
            self.r2_account = Some((String::new(), Some(jurisdiction.into())));
        }
        self
    }

    /// Other credentials than those configured (from the environment, say): fixed
    /// [`Credentials`](crate::Credentials),
    /// or a provider — the [`CredentialsChain`](crate::credentials::CredentialsChain), one of its
    /// sources, or a provider of your own.
    ///
    /// The backend keeps the current credentials in a cache: requests and presigned URLs use them
    /// without waiting; when fewer than the refresh window remain (10 minutes by default), one task
    /// fetches new ones in the background, however many requests notice; if that fails while the
    /// current ones are valid, they stay in use and the fetch is tried again after 1 s, 2 s, 4 s, …
    /// at most a minute. Credentials past their expiry are never used: a request then waits for a
    /// fetch (bounded by the load timeout), and fails with a
    /// [`CredentialsError`](crate::credentials::CredentialsError) naming the source if none comes.
    ///
    /// ```no_run
    /// use stowage::credentials::{CredentialSource, CredentialsChain};
    /// use stowage::{Credentials, S3Config};
    ///
    /// // Bucket and region from the environment; credentials from the chain, minus profiles.
    /// let config = S3Config::from_env()?
    ///     .with_credentials(CredentialsChain::from_env().without(CredentialSource::Profile));
    /// // Fixed keys of another account:
    /// let other = S3Config::from_env()?.with_credentials(Credentials::new("AKID", "secret"));
    /// # Ok::<(), stowage::Error>(())
    /// ```
    pub fn with_credentials(mut self, credentials: impl Into<AnyCredentials>) -> Self {
        self.credentials = CredentialsConfig::from(credentials.into());
        self
    }

    /// How long before expiry rotating credentials are refreshed (default 10 minutes).
    ///
    /// Ten rather than five: EC2 and ECS hand out new credentials at least five minutes before the
    /// old ones expire, and a refresh that starts earlier has room for retries (and leaves presigned
    /// URLs, which end with the credentials, their full lifetime more often).
    pub fn with_credentials_refresh_window(mut self, window: Duration) -> Self {
        self.rotation.refresh_window = window;
        self
    }

    /// How long one fetch of credentials may take, a chain's every source included (default 30 s).
    pub fn with_credentials_load_timeout(mut self, timeout: Duration) -> Self {
        self.rotation.load_timeout = timeout;
        self
    }

    /// What presigning does when a URL would outlive the temporary credentials that sign it (default
    /// [`PresignExpiry::ShortenToCredentials`]).
    pub fn with_presign_expiry(mut self, policy: PresignExpiry) -> Self {
        self.presign_expiry = policy;
        self
    }

    /// Any S3-compatible endpoint, such as `http://127.0.0.1:9000` (path-style addressing unless
    /// [`with_virtual_hosted_style`](Self::with_virtual_hosted_style)).
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Path-style addressing: `https://endpoint/bucket/key`.
    pub fn with_path_style(mut self) -> Self {
        self.style = Some(AddressingStyle::Path);
        self
    }

    /// Virtual-hosted addressing: `https://bucket.endpoint/key`.
    pub fn with_virtual_hosted_style(mut self) -> Self {
        self.style = Some(AddressingStyle::VirtualHosted);
        self
    }

    /// Overrides which platform's rules apply (normally derived from the endpoint).
    pub fn with_platform(mut self, platform: Platform) -> Self {
        self.platform = Some(platform);
        self
    }

    /// How failed requests are retried.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// How long opening a connection may take (default 10 s). The idle timeout runs meanwhile too,
    /// so the smaller of the two bounds connecting.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long *nothing may move* during a request (default 60 s): no byte of the upload taken by the
    /// connection, no byte of the answer received. A slow but steady upload or download never trips
    /// it, however long it takes; a server that stops reading the body, never answers, or stalls in
    /// the middle of a download does, within the timeout of its last movement. A stall is retried like
    /// a dropped connection (bytes and files; a stream cannot be sent twice).
    ///
    /// The bytes the operating system buffers for sending count as moved: on a very slow link, keep
    /// the timeout well above the time a few megabytes take to go out.
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// No idle timeout: wait for a stalled server for ever (bound requests with
    /// [`with_timeout`](Self::with_timeout) then).
    pub fn without_idle_timeout(mut self) -> Self {
        self.idle_timeout = None;
        self
    }

    /// A deadline for each S3 request as a whole: every attempt, the waits between them and the
    /// reading of the answer (a download's body included) end within `timeout`, or the request fails
    /// with a timeout error. None by default, so that large transfers can take their time while the
    /// idle timeout catches a stalled server.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// A known offset of this machine's clock: signatures use `now + skew`. The backend corrects it
    /// by itself when a server answers `RequestTimeTooSkewed`.
    pub fn with_clock_skew(mut self, skew: time::Duration) -> Self {
        self.clock_skew = skew;
        self
    }

    /// A checksum every upload through this backend carries unless its options name another
    /// ([`PutOptions::with_checksum`](crate::PutOptions::with_checksum)): computed from the bytes as
    /// they are sent and verified by the bucket, which refuses altered bytes. Off by default.
    pub fn with_checksum(mut self, algorithm: crate::checksum::ChecksumAlgorithm) -> Self {
        self.checksum = Some(algorithm);
        self
    }

    /// Whether uploads sign their body's SHA-256 (default [`PayloadSigning::Auto`]).
    pub fn with_payload_signing(mut self, signing: PayloadSigning) -> Self {
        self.payload_signing = signing;
        self
    }

    /// Bodies larger than `bytes` go up as multipart uploads (default 32 MiB: four parts of 8 MiB,
    /// one per default concurrent slot — below that one request is as fast and costs no extra
    /// round trips; above it, parts go up in parallel, a failure costs one part instead of the whole
    /// body, and a stream is kept part by part so that it can be sent again). Bodies over the largest
    /// single upload (5 GiB; 4.995 GiB on R2) always go in parts.
    pub fn with_multipart_threshold(mut self, bytes: u64) -> Self {
        self.multipart_threshold = bytes;
        self
    }

    /// The preferred part size of multipart uploads (default 8 MiB, grown to fit 10,000 parts; at
    /// least 5 MiB).
    pub fn with_part_size(mut self, bytes: u64) -> Self {
        self.part_size = bytes;
        self
    }

    /// How many parts go up at once (default 4). Memory for a streamed body is about this many
    /// parts; bytes and files are not copied.
    pub fn with_concurrency(mut self, parts: usize) -> Self {
        self.concurrency = parts.max(1);
        self
    }

    /// The multipart rules of the service, when they are not the platform's (S3's, or R2's for
    /// Cloudflare R2) — for an S3-compatible server with other limits.
    pub fn with_multipart_limits(mut self, limits: MultipartLimits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// How many entries each page of a parts or uploads listing asks for (1 to 1000, default 1000).
    pub fn with_page_size(mut self, entries: u32) -> Self {
        self.page_size = entries.clamp(1, 1000);
        self
    }

    /// Server-side copies of objects larger than `bytes` go part by part (default, and at most,
    /// 5 GiB, the largest single copy).
    pub fn with_multipart_copy_threshold(mut self, bytes: u64) -> Self {
        self.copy_threshold = bytes;
        self
    }

    /// The part size of server-side copies part by part (default 256 MiB, at least 5 MiB).
    pub fn with_copy_part_size(mut self, bytes: u64) -> Self {
        self.copy_part_size = bytes;
        self
    }

    /// The bucket.
    #[must_use]
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The region.
    #[must_use]
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The endpoint URL, and the platform whose rules apply.
    pub(crate) fn resolve(&self) -> Result<(BucketAddress, Platform)> {
        let r2_endpoint = match &self.r2_account {
            Some((_, _)) if self.endpoint.is_some() && self.platform == Some(Platform::R2) => {
                return Err(Error::Config(
                    "S3Config::r2 sets the endpoint from the account id; for another endpoint use S3Config::new(..).with_endpoint(..)"
                        .into(),
                ));
            }
            Some((account, _)) if account.is_empty() && self.platform != Some(Platform::R2) => {
                return Err(Error::Config("with_jurisdiction applies to Cloudflare R2 (S3Config::r2)".into()));
            }
            Some((account, jurisdiction)) => Some(crate::r2::endpoint(account, jurisdiction.as_deref())?),
            None => None,
        };
        let endpoint = r2_endpoint.or_else(|| self.endpoint.clone());
        let platform = self.platform.unwrap_or_else(|| match &endpoint {
            None => Platform::Aws,
            Some(e) if crate::r2::is_endpoint(e) => Platform::R2,
            Some(e) if e.contains(".amazonaws.com") => Platform::Aws,
            Some(_) => Platform::Other,
        });
        let address = match (&endpoint, self.style) {
            (None, None) => BucketAddress::aws(&self.region, &self.bucket)?,
            (None, Some(style)) => {
                BucketAddress::new(&BucketAddress::aws_endpoint(&self.region)?, &self.bucket, style)?
            }
            (Some(e), style) => BucketAddress::new(e, &self.bucket, style.unwrap_or(AddressingStyle::Path))?,
        };
        Ok((address, platform))
    }

    /// Builds the backend. Credentials from a provider (a role, the container endpoint, instance
    /// metadata, a `credential_process`…) are fetched before it returns, so that a service learns of
    /// missing credentials at start and can presign at once.
    ///
    /// # Errors
    ///
    /// [`Error::Signing`] for an invalid region, bucket, endpoint or credentials; [`Error::Config`]
    /// for inconsistent settings; [`Error::Credentials`] when no credentials can be had (the error
    /// names each source tried and why it was passed over).
    pub async fn build(self) -> Result<super::S3Storage> {
        let storage = super::S3Storage::from_config(self)?;
        storage.refresh_credentials().await?;
        Ok(storage)
    }
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("credentials", &self.credentials)
            .field("endpoint", &self.endpoint)
            .field("style", &self.style)
            .field("platform", &self.platform)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Credentials;

    #[test]
    fn r2_endpoints() {
        let creds = Credentials::new("id", "secret");
        let (a, p) = S3Config::r2("acct01", "b", creds.clone()).resolve().unwrap();
        assert_eq!((a.authority(), p), ("acct01.r2.cloudflarestorage.com", Platform::R2));
        let (a, _) = S3Config::r2("acct01", "b", creds.clone()).with_jurisdiction("eu").resolve().unwrap();
        assert_eq!(a.authority(), "acct01.eu.r2.cloudflarestorage.com");
        assert!(S3Config::r2("acct/01", "b", creds.clone()).resolve().is_err());
        assert!(S3Config::new("b", "us-east-1", creds.clone()).with_jurisdiction("eu").resolve().is_err());
        let empty = S3Config::r2("", "b", creds.clone()).resolve().map(|_| ()).unwrap_err();
        assert!(empty.to_string().contains("account id is empty"), "{empty}");
        let both =
            S3Config::r2("acct", "b", creds).with_endpoint("https://x.example").resolve().map(|_| ()).unwrap_err();
        assert!(both.to_string().contains("sets the endpoint"), "{both}");
    }
}
