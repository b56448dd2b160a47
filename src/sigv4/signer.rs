//! The signer: presigned URLs and Authorization headers.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::Credentials;
use super::canonical::{self, Canonical};
use super::encode::{self, Hex64};
use super::key::{DayKey, KeyCache, KeyParams, is_scope_token};
use super::output::{AuthHeaders, PresignedUrl, SigningDetails};
use super::sha::Progressive;
use super::time::AmzDate;
use super::{Error, Request, SessionToken, SigningSettings};

/// The signing algorithm, as SigV4 names it.
pub(super) const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Signs requests with AWS Signature Version 4, for one set of credentials, one region and one
/// service.
///
/// A `Signer` is cheap to share (`Send + Sync`; wrap it in an `Arc`) and caches the derived signing
/// key of the current day, so that a signature costs two SHA-256 passes over a few hundred bytes. It
/// never reads the clock: the signing time is an argument of every call.
///
/// ```
/// use std::time::Duration;
/// use stowage::sigv4::{parse_amz_date, AddressingStyle, BucketAddress, Method, Signer};
/// use stowage::Credentials;
///
/// let signer = Signer::new(Credentials::new("AKIDEXAMPLE", "secret"), "us-east-1", "s3")?;
/// let bucket = BucketAddress::aws("us-east-1", "my-app-uploads")?;
/// let request = bucket.object(Method::Put, "uploads/avatar.png")?.header("content-type", "image/png");
/// let url = signer.presign(&request, Duration::from_secs(300), parse_amz_date("20250101T000000Z")?)?;
/// assert!(url.url().starts_with("https://my-app-uploads.s3.us-east-1.amazonaws.com/uploads/avatar.png?"));
/// assert_eq!(url.headers().iter().collect::<Vec<_>>(), [("content-type", "image/png")]);
/// # Ok::<(), stowage::sigv4::Error>(())
/// ```
pub struct Signer {
    pub(super) credentials: Credentials,
    region: Box<str>,
    service: Box<str>,
    pub(super) settings: SigningSettings,
    /// The session token, query-encoded once (wiped on drop, like the token itself).
    pub(super) token_query: Option<Zeroizing<String>>,
    cache: KeyCache,
}

impl Signer {
    /// A signer with S3 rules ([`SigningSettings::s3`]) for `region` (`auto` for R2) and `service`
    /// (`s3`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRegion`], [`Error::InvalidService`] or [`Error::InvalidCredentials`] when an
    /// input cannot go into a credential scope or a header.
    pub fn new(credentials: Credentials, region: &str, service: &str) -> Result<Self, Error> {
        credentials.validate()?;
        if !is_scope_token(region) {
            return Err(Error::InvalidRegion { region: region.chars().take(64).collect() });
        }
        if !is_scope_token(service) {
            return Err(Error::InvalidService { service: service.chars().take(64).collect() });
        }
        let token_query = credentials.session_token().map(|t| Zeroizing::new(encode::encode_component(t)));
        Ok(Self {
            credentials,
            region: region.into(),
            service: service.into(),
            settings: SigningSettings::s3(),
            token_query,
            cache: KeyCache::default(),
        })
    }

    /// Replaces the signing rules (see [`SigningSettings::generic`] for services other than S3).
    #[must_use]
    pub fn with_settings(mut self, settings: SigningSettings) -> Self {
        self.settings = settings;
        self
    }

    /// The region in the credential scope.
    #[must_use]
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The service in the credential scope.
    #[must_use]
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The signing rules in use.
    #[must_use]
    pub fn settings(&self) -> SigningSettings {
        self.settings
    }

    /// The credentials (their `Debug` output is redacted).
    #[must_use]
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Presigns `request`: returns a URL that anyone can use, until `expires_in` after `at`, to send
    /// this request with the headers of [`PresignedUrl::headers`].
    ///
    /// The payload hash is the request's (for S3 presigning leave it [`Payload::Unsigned`]). Every
    /// header of the request is signed and must be sent as given; the query parameters of the request
    /// come first in the URL, then the `X-Amz-*` parameters.
    ///
    /// # Errors
    ///
    /// [`Error::ExpiresOutOfRange`] outside 1 s ..= 7 days, [`Error::TimeOutOfRange`], and the errors
    /// of an invalid request: header names and values, reserved names, host and path.
    ///
    /// [`Payload::Unsigned`]: super::Payload::Unsigned
    pub fn presign(
        &self,
        request: &Request<'_>,
        expires_in: Duration,
        at: OffsetDateTime,
    ) -> Result<PresignedUrl, Error> {
        self.presign_inner(request, expires_in, at, None)
    }

    /// As [`presign`](Self::presign), and also returns the canonical request and string to sign, to
    /// compare with what a server says it computed.
    ///
    /// # Errors
    ///
    /// As [`presign`](Self::presign).
    pub fn presign_explained(
        &self,
        request: &Request<'_>,
        expires_in: Duration,
        at: OffsetDateTime,
    ) -> Result<(PresignedUrl, SigningDetails), Error> {
        let mut details = SigningDetails::default();
        let url = self.presign_inner(request, expires_in, at, Some(&mut details))?;
        Ok((url, details))
    }

    /// Signs `request` with an `Authorization` header: returns the headers to add to it
    /// (`x-amz-date`, `x-amz-content-sha256` with S3 rules, `x-amz-security-token` with temporary
    /// credentials, and `authorization`). The request is then sent to [`Request::url`] with its own
    /// headers and these.
    ///
    /// # Errors
    ///
    /// [`Error::TimeOutOfRange`], [`Error::InvalidPayloadHash`], and the errors of an invalid request.
    pub fn sign(&self, request: &Request<'_>, at: OffsetDateTime) -> Result<AuthHeaders, Error> {
        self.sign_inner(request, at, None)
    }

    /// As [`sign`](Self::sign), and also returns the canonical request and string to sign.
    ///
    /// # Errors
    ///
    /// As [`sign`](Self::sign).
    pub fn sign_explained(
        &self,
        request: &Request<'_>,
        at: OffsetDateTime,
    ) -> Result<(AuthHeaders, SigningDetails), Error> {
        let mut details = SigningDetails::default();
        let headers = self.sign_inner(request, at, Some(&mut details))?;
        Ok((headers, details))
    }

    /// Signs an arbitrary string with the day's signing key: `hex(HMAC(signing key, data))`. This is
    /// how the policy document of an S3 browser-based POST upload is signed (`data` is the
    /// base64-encoded policy).
    ///
    /// # Errors
    ///
    /// [`Error::TimeOutOfRange`].
    pub fn sign_string(&self, data: &str, at: OffsetDateTime) -> Result<String, Error> {
        let amz = AmzDate::new(at)?;
        let signature = self.with_day(&amz, |day| {
            let mut mac = day.mac.start();
            mac.update(data.as_bytes());
            mac.finalize(&day.mac)
        });
        Ok(Hex64::of(&signature).as_str().to_owned())
    }

    /// The credential scope of `at`: `YYYYMMDD/region/service/aws4_request`, and the full credential
    /// `AKID/YYYYMMDD/region/service/aws4_request` (as in `X-Amz-Credential`).
    ///
    /// # Errors
    ///
    /// [`Error::TimeOutOfRange`].
    pub fn credential(&self, at: OffsetDateTime) -> Result<String, Error> {
        let amz = AmzDate::new(at)?;
        Ok(self.with_day(&amz, |day| day.credential.clone()))
    }

    fn with_day<R>(&self, amz: &AmzDate, f: impl FnMut(&DayKey) -> R) -> R {
        self.with_date(amz.date(), f)
    }

    /// As [`with_day`](Self::with_day), for the `YYYYMMDD` date.
    pub(super) fn with_date<R>(&self, date: &str, f: impl FnMut(&DayKey) -> R) -> R {
        let params = KeyParams {
            access_key_id: self.credentials.access_key_id(),
            secret: self.credentials.secret_access_key(),
            region: &self.region,
            service: &self.service,
        };
        self.cache.with(date, &params, f)
    }

    pub(super) fn signed_token(&self) -> Option<&str> {
        match self.settings.session_token {
            SessionToken::Signed => self.credentials.session_token(),
            SessionToken::AddedAfterSigning => None,
        }
    }

    fn sign_inner(
        &self,
        request: &Request<'_>,
        at: OffsetDateTime,
        details: Option<&mut SigningDetails>,
    ) -> Result<AuthHeaders, Error> {
        let amz = AmzDate::new(at)?;
        let canonical = Canonical::new(request, &self.settings)?;
        let payload = canonical::payload_hash(&request.payload_hash())?;

        let mut headers = Vec::with_capacity(request.headers.len() + 4);
        for header in canonical::checked_headers(request) {
            headers.push(header?);
        }
        headers.push((Cow::Borrowed("host"), &canonical.host));
        headers.push((Cow::Borrowed("x-amz-date"), amz.as_str()));
        if self.settings.content_sha256_header {
            headers.push((Cow::Borrowed("x-amz-content-sha256"), payload.as_str()));
        }
        if let Some(token) = self.signed_token() {
            headers.push((Cow::Borrowed("x-amz-security-token"), token));
        }
        headers.sort_by(|a, b| a.0.cmp(&b.0));
        let signed_headers = canonical::signed_header_names(&headers);

        let mut text = String::new();
        let mut spans = vec![(0, 0, 0); request.query.len()];
        canonical::push_query_params(&mut text, &request.query, &mut spans);
        let sorted: Vec<(&str, &str)> = spans.iter().map(|span| canonical::query_param(&text, span)).collect();

        let mut details = details;
        self.with_day(&amz, |day| {
            let signature = canonical::with_buffer(|creq| {
                let method = request.method.as_str();
                canonical::canonical_request(
                    creq,
                    method,
                    &canonical.uri,
                    &sorted,
                    &headers,
                    &signed_headers,
                    payload.as_str(),
                );
                finish(day, amz.as_str(), creq, Progressive::new(), details.as_deref_mut())
            });

            let mut authorization = String::with_capacity(day.credential.len() + signed_headers.len() + 120);
            authorization.push_str(ALGORITHM);
            authorization.push_str(" Credential=");
            authorization.push_str(&day.credential);
            authorization.push_str(", SignedHeaders=");
            authorization.push_str(&signed_headers);
            authorization.push_str(", Signature=");
            authorization.push_str(signature.as_str());

            let mut added = Vec::with_capacity(4);
            added.push(("x-amz-date", amz.as_str().to_owned()));
            if self.settings.content_sha256_header {
                added.push(("x-amz-content-sha256", payload.as_str().to_owned()));
            }
            if let Some(token) = self.credentials.session_token() {
                added.push(("x-amz-security-token", token.to_owned()));
            }
            added.push(("authorization", authorization));
            Ok(AuthHeaders::new(added, amz.instant()))
        })
    }
}

/// Hashes the rest of the canonical request, builds the string to sign and signs it with the day's
/// key.
pub(super) fn finish(
    day: &DayKey,
    amz_date: &str,
    creq: &str,
    hash: Progressive,
    details: Option<&mut SigningDetails>,
) -> Hex64 {
    let creq_hash = Hex64::of(&hash.finish(creq.as_bytes()));
    // The string to sign up to the hash is the same for every request of this second.
    let mut mac = day.with_time(amz_date);
    mac.update(creq_hash.as_bytes());
    let signature = Hex64::of(&mac.finalize(&day.mac));
    if let Some(details) = details {
        details.canonical_request = creq.to_owned();
        details.string_to_sign = format!("{ALGORITHM}\n{amz_date}{}{}", day.sts_scope, creq_hash.as_str());
        details.signature = signature.as_str().to_owned();
    }
    signature
}

impl Clone for Signer {
    fn clone(&self) -> Self {
        Self {
            credentials: self.credentials.clone(),
            region: self.region.clone(),
            service: self.service.clone(),
            settings: self.settings,
            token_query: self.token_query.clone(),
            cache: self.cache.snapshot(),
        }
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("credentials", &self.credentials)
            .field("region", &self.region)
            .field("service", &self.service)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}
