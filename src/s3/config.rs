//! Configuration of the S3 backend: where, who, and how patiently.

use std::fmt;
use std::time::Duration;

use std::sync::Arc;

use crate::Credentials;
use crate::credentials::{CredentialsChain, Env, ProvideCredentials};
use crate::multipart::MultipartLimits;
use crate::sigv4::{AddressingStyle, BucketAddress};
use crate::{Error, Result};

use super::retry::RetryPolicy;
use super::signing::{CredentialsConfig, DEFAULT_LOAD_TIMEOUT, DEFAULT_REFRESH_WINDOW, PresignExpiry, Rotation};

/// Which service is behind the endpoint, for the rules that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Provider {
    /// Amazon S3.
    Aws,
    /// Cloudflare R2: region `auto`, and the request headers R2 documents as unsupported are refused
    /// before anything is sent (see [`crate::r2`]).
    R2,
    /// Any other S3-compatible server (MinIO, Garage, Ceph, a local test server, …).
    Other,
}

impl fmt::Display for Provider {
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
/// timeouts. Build it with [`S3Config::new`] (AWS), [`S3Config::r2`] (Cloudflare R2) or
/// [`S3Config::from_env`], adjust it with the `with_*` methods, and turn it into a backend with
/// [`build`](Self::build).
///
/// ```
/// use std::time::Duration;
/// use stowage::{Credentials, S3Config};
///
/// let storage = S3Config::new("my-app-uploads", "eu-west-1", Credentials::new("AKID", "secret"))
///     .with_timeout(Duration::from_secs(30))
///     .build()?;
///
/// let local = S3Config::new("test", "us-east-1", Credentials::new("AKID", "secret"))
///     .with_endpoint("http://127.0.0.1:9000")
///     .build()?;
/// # Ok::<(), stowage::Error>(())
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
    pub(crate) provider: Option<Provider>,
    pub(crate) r2_account: Option<(String, Option<String>)>,
    pub(crate) retry: RetryPolicy,
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) clock_skew: time::Duration,
    pub(crate) payload_signing: PayloadSigning,
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
    /// A bucket on AWS S3 in `region`, with fixed credentials (see
    /// [`with_credentials_provider`](Self::with_credentials_provider) for credentials that rotate).
    pub fn new(bucket: impl Into<String>, region: impl Into<String>, credentials: Credentials) -> Self {
        Self::with_source(bucket.into(), region.into(), CredentialsConfig::Fixed(credentials, None))
    }

    /// A bucket on AWS S3 in `region`, with credentials from `provider`, fetched on first use and
    /// refreshed ahead of each expiry (see
    /// [`with_credentials_provider`](Self::with_credentials_provider)).
    ///
    /// ```
    /// use stowage::S3Config;
    /// use stowage::credentials::ContainerCredentials;
    ///
    /// // An ECS task role:
    /// let config = S3Config::from_provider("my-app-uploads", "eu-west-1", ContainerCredentials::from_env());
    /// # let _ = config;
    /// ```
    pub fn from_provider(
        bucket: impl Into<String>,
        region: impl Into<String>,
        provider: impl ProvideCredentials + 'static,
    ) -> Self {
        Self::with_source(bucket.into(), region.into(), CredentialsConfig::Provider(Arc::new(provider)))
    }

    fn with_source(bucket: String, region: String, credentials: CredentialsConfig) -> Self {
        Self {
            bucket,
            region,
            credentials,
            rotation: Rotation { refresh_window: DEFAULT_REFRESH_WINDOW, load_timeout: DEFAULT_LOAD_TIMEOUT },
            presign_expiry: PresignExpiry::default(),
            endpoint: None,
            style: None,
            provider: None,
            r2_account: None,
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(10),
            timeout: None,
            idle_timeout: Some(Duration::from_secs(60)),
            clock_skew: time::Duration::ZERO,
            payload_signing: PayloadSigning::Auto,
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
    pub fn r2(account_id: impl Into<String>, bucket: impl Into<String>, credentials: Credentials) -> Self {
        let mut config = Self::new(bucket, "auto", credentials);
        config.r2_account = Some((account_id.into(), None));
        config.provider = Some(Provider::R2);
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

    /// Reads the configuration from the environment, as the S3 and R2 tutorials and the AWS SDKs
    /// name it:
    ///
    /// | variable | fallbacks | |
    /// |---|---|---|
    /// | `S3_BUCKET` | | required |
    /// | `S3_REGION` | `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region` | required (`auto` for R2) |
    /// | `S3_ENDPOINT` | `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL` | absent: AWS |
    /// | `S3_ADDRESSING_STYLE` | | optional: `path` or `virtual` |
    ///
    /// Credentials come from the [`CredentialsChain`]: `S3_ACCESS_KEY_ID`/`S3_SECRET_ACCESS_KEY`/
    /// `S3_SESSION_TOKEN` (or the `AWS_*` names), then the shared profile files, web identity, the
    /// container endpoint and EC2 instance metadata. Keys found in variables or in the selected
    /// profile are used as they are; for the other sources the backend fetches credentials on first
    /// use and refreshes them ahead of expiry — build it with
    /// [`S3Storage::load_from_env`](super::S3Storage::load_from_env) to fetch them before it is
    /// returned.
    ///
    /// An endpoint on `r2.cloudflarestorage.com` selects the R2 rules.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the missing or invalid variable.
    pub fn from_env() -> Result<Self> {
        Self::from_source(Env::process())
    }

    /// As [`from_env`](Self::from_env), looking variables up through `lookup` (the credentials chain
    /// then sees the values `lookup` gives now, not later changes).
    ///
    /// # Errors
    ///
    /// As [`from_env`](Self::from_env).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        Self::from_source(Env::snapshot(lookup))
    }

    fn from_source(env: Env) -> Result<Self> {
        let get = |names: &[&str]| names.iter().find_map(|n| env.get(n));
        let bucket = get(&["S3_BUCKET"]).ok_or_else(|| Error::Config("S3_BUCKET is not set".into()))?;
        let region = get(&["S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"])
            .or_else(|| crate::credentials::profile_region(&env))
            .ok_or_else(|| {
                Error::Config(
                    "S3_REGION is not set, nor AWS_REGION or a profile's region (use auto for Cloudflare R2)".into(),
                )
            })?;
        let chain = CredentialsChain::with_env(env.clone());
        let credentials = match chain.resolve_offline() {
            Some((credentials, resolution)) => CredentialsConfig::Fixed(credentials, Some(resolution)),
            None => {
                // A variable pair half set is a mistake to report now, not at the first request.
                if let Err(e @ crate::credentials::CredentialsError::InvalidConfig { .. }) =
                    crate::credentials::env_credentials(&env)
                {
                    return Err(Error::Config(e.to_string()));
                }
                CredentialsConfig::Provider(Arc::new(chain))
            }
        };
        let mut config = Self::with_source(bucket.trim().to_owned(), region.trim().to_owned(), credentials);
        if let Some(endpoint) = get(&["S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]) {
            config = config.with_endpoint(endpoint.trim());
        }
        match get(&["S3_ADDRESSING_STYLE"]).as_deref().map(str::trim) {
            None => {}
            Some("path") => config.style = Some(AddressingStyle::Path),
            Some("virtual" | "virtual-hosted") => config.style = Some(AddressingStyle::VirtualHosted),
            Some(other) => {
                return Err(Error::Config(format!("S3_ADDRESSING_STYLE must be path or virtual, not {other:?}")));
            }
        }
        Ok(config)
    }

    /// Fixed credentials, replacing what was configured.
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = CredentialsConfig::Fixed(credentials, None);
        self
    }

    /// Credentials from `provider`, fetched on first use and again ahead of each expiry: the
    /// [`CredentialsChain`], one of its sources, or a provider of your own.
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
    /// use stowage::S3Config;
    ///
    /// // Bucket and region from the environment; credentials from the chain, minus profiles.
    /// let config = S3Config::from_env()?
    ///     .with_credentials_provider(CredentialsChain::from_env().without(CredentialSource::Profile));
    /// # Ok::<(), stowage::Error>(())
    /// ```
    pub fn with_credentials_provider(mut self, provider: impl ProvideCredentials + 'static) -> Self {
        self.credentials = CredentialsConfig::Provider(Arc::new(provider));
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

    /// Overrides which service's rules apply (normally derived from the endpoint).
    pub fn with_provider(mut self, provider: Provider) -> Self {
        self.provider = Some(provider);
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

    /// The same as [`with_idle_timeout`](Self::with_idle_timeout), under the name of earlier
    /// versions: it limits stalls, never the length of a transfer.
    pub fn with_read_timeout(self, timeout: Duration) -> Self {
        self.with_idle_timeout(timeout)
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

    /// The multipart rules of the service, when they are not the provider's (S3's, or R2's for
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

    /// The endpoint URL, and the provider whose rules apply.
    pub(crate) fn resolve(&self) -> Result<(BucketAddress, Provider)> {
        if self.r2_account.is_some() && self.endpoint.is_some() && self.provider == Some(Provider::R2) {
            return Err(Error::Config(
                "S3Config::r2 sets the endpoint from the account id; for another endpoint use S3Config::new(..).with_endpoint(..)"
                    .into(),
            ));
        }
        let r2_endpoint = match &self.r2_account {
            Some((account, _)) if account.is_empty() && self.provider == Some(Provider::R2) => {
                return Err(Error::Config("the Cloudflare R2 account id is empty".into()));
            }
            Some((account, _)) if account.is_empty() => {
                return Err(Error::Config("with_jurisdiction applies to Cloudflare R2 (S3Config::r2)".into()));
            }
            Some((account, jurisdiction)) => {
                if !account.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(Error::Config(format!(
                        "invalid R2 account id {account:?}: expected letters and digits"
                    )));
                }
                if let Some(j) = jurisdiction
                    && (j.is_empty() || !j.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
                {
                    return Err(Error::Config(format!("invalid R2 jurisdiction {j:?}: expected eu or fedramp")));
                }
                Some(match jurisdiction {
                    Some(j) => format!("https://{account}.{j}.r2.cloudflarestorage.com"),
                    None => format!("https://{account}.r2.cloudflarestorage.com"),
                })
            }
            None => None,
        };
        let endpoint = r2_endpoint.or_else(|| self.endpoint.clone());
        let provider = self.provider.unwrap_or_else(|| match &endpoint {
            None => Provider::Aws,
            Some(e) if is_r2_endpoint(e) => Provider::R2,
            Some(e) if e.contains(".amazonaws.com") => Provider::Aws,
            Some(_) => Provider::Other,
        });
        let address = match (&endpoint, self.style) {
            (None, None) => BucketAddress::aws(&self.region, &self.bucket)?,
            (None, Some(style)) => {
                BucketAddress::new(&BucketAddress::aws_endpoint(&self.region)?, &self.bucket, style)?
            }
            (Some(e), style) => BucketAddress::new(e, &self.bucket, style.unwrap_or(AddressingStyle::Path))?,
        };
        Ok((address, provider))
    }

    /// Builds the backend.
    ///
    /// # Errors
    ///
    /// [`Error::Signing`] for an invalid region, bucket, endpoint or credentials; [`Error::Config`]
    /// for inconsistent settings.
    pub fn build(self) -> Result<super::S3Storage> {
        super::S3Storage::new(self)
    }
}

fn is_r2_endpoint(endpoint: &str) -> bool {
    url::Url::parse(endpoint)
        .ok()
        .and_then(|u| u.host_str().map(|h| h.ends_with(".r2.cloudflarestorage.com")))
        .unwrap_or(false)
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("credentials", &self.credentials)
            .field("endpoint", &self.endpoint)
            .field("style", &self.style)
            .field("provider", &self.provider)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn env_names_and_fallbacks() {
        let c = S3Config::from_lookup(env(&[
            ("AWS_ACCESS_KEY_ID", "id"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("S3_BUCKET", "bkt"),
            ("AWS_REGION", "eu-west-1"),
        ]))
        .unwrap();
        assert_eq!((c.bucket(), c.region()), ("bkt", "eu-west-1"));
        let (address, provider) = c.resolve().unwrap();
        assert_eq!(provider, Provider::Aws);
        assert_eq!(address.authority(), "bkt.s3.eu-west-1.amazonaws.com");

        let r2 = S3Config::from_lookup(env(&[
            ("S3_ACCESS_KEY_ID", "id"),
            ("S3_SECRET_ACCESS_KEY", "secret"),
            ("S3_BUCKET", "b"),
            ("S3_REGION", "auto"),
            ("S3_ENDPOINT", "https://abc123.r2.cloudflarestorage.com"),
        ]))
        .unwrap();
        let (address, provider) = r2.resolve().unwrap();
        assert_eq!(provider, Provider::R2);
        assert_eq!(address.object_url("k").unwrap(), "https://abc123.r2.cloudflarestorage.com/b/k");

        let missing = S3Config::from_lookup(env(&[("S3_ACCESS_KEY_ID", "id"), ("S3_SECRET_ACCESS_KEY", "s")]));
        assert!(matches!(missing, Err(Error::Config(m)) if m.contains("S3_BUCKET")));
        let bad_style = S3Config::from_lookup(env(&[
            ("S3_ACCESS_KEY_ID", "id"),
            ("S3_SECRET_ACCESS_KEY", "s"),
            ("S3_BUCKET", "b"),
            ("S3_REGION", "auto"),
            ("S3_ADDRESSING_STYLE", "sideways"),
        ]));
        assert!(matches!(bad_style, Err(Error::Config(m)) if m.contains("S3_ADDRESSING_STYLE")));
    }

    #[test]
    fn r2_endpoints() {
        let creds = Credentials::new("id", "secret");
        let (a, p) = S3Config::r2("acct01", "b", creds.clone()).resolve().unwrap();
        assert_eq!((a.authority(), p), ("acct01.r2.cloudflarestorage.com", Provider::R2));
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
