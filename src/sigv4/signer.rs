//! The signer: presigned URLs and Authorization headers.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::canonical::{self, Canonical};
use super::encode::{self, Hex64};
use super::key::{DayKey, KeyCache, KeyParams};
use super::output::{AuthHeaders, PresignedUrl, SigningDetails};
use super::sha::Progressive;
use super::time::AmzDate;
use super::{Error, Request, SessionToken, SigningSettings};
use crate::Credentials;

/// The longest expiry S3 accepts for a presigned URL: 7 days.
pub const MAX_PRESIGN_EXPIRY: Duration = Duration::from_secs(604_800);

/// Checks a presign expiry: 1 s ..= 7 days.
pub(crate) fn check_expiry(expires_in: Duration) -> Result<(), Error> {
    if expires_in < Duration::from_secs(1) || expires_in > MAX_PRESIGN_EXPIRY {
        return Err(Error::ExpiresOutOfRange { seconds: expires_in.as_secs() });
    }
    Ok(())
}

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

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
    credentials: Credentials,
    region: Box<str>,
    service: Box<str>,
    settings: SigningSettings,
    /// The session token, query-encoded once (wiped on drop, like the token itself).
    token_query: Option<Zeroizing<String>>,
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
    fn with_date<R>(&self, date: &str, f: impl FnMut(&DayKey) -> R) -> R {
        let params = KeyParams {
            access_key_id: self.credentials.access_key_id(),
            secret: self.credentials.secret_access_key(),
            region: &self.region,
            service: &self.service,
        };
        self.cache.with(date, &params, f)
    }

    fn signed_token(&self) -> Option<&str> {
        match self.settings.session_token {
            SessionToken::Signed => self.credentials.session_token(),
            SessionToken::AddedAfterSigning => None,
        }
    }

    fn presign_inner(
        &self,
        request: &Request<'_>,
        expires_in: Duration,
        at: OffsetDateTime,
        details: Option<&mut SigningDetails>,
    ) -> Result<PresignedUrl, Error> {
        check_expiry(expires_in)?;
        let amz = AmzDate::new(at)?;
        let amz_date = amz.as_str();
        let canonical = Canonical::new(request, &self.settings)?;
        let payload = canonical::payload_hash(&request.payload_hash())?;

        // Most presigned requests sign `host` alone, the others a few headers: a list on the stack.
        let host_only = [(Cow::Borrowed("host"), canonical.host.as_ref())];
        let mut inline: [(Cow<'_, str>, &str); 8];
        let mut heap: Vec<(Cow<'_, str>, &str)>;
        let headers: &[(Cow<'_, str>, &str)] = if request.headers.is_empty() {
            &host_only
        } else {
            let count = request.headers.len() + 1;
            let list: &mut [(Cow<'_, str>, &str)] = if count <= 8 {
                inline = Default::default();
                &mut inline[..count]
            } else {
                heap = vec![Default::default(); count];
                &mut heap
            };
            for (slot, header) in list.iter_mut().zip(canonical::checked_headers(request)) {
                *slot = header?;
            }
            list[count - 1] = (Cow::Borrowed("host"), &canonical.host);
            // Stable: the values of a repeated header keep their order.
            list.sort_by(|a, b| a.0.cmp(&b.0));
            list
        };
        let mut expires_buf = itoa_buf();
        let expires = format_u64(expires_in.as_secs(), &mut expires_buf);
        // The token is signed only when present and asked for.
        let signed_token: Option<&str> = self.signed_token().and(self.token_query.as_deref().map(String::as_str));

        // The URL starts with the caller's parameters, encoded once, in the caller's order; the
        // canonical request copies them from there in sorted order.
        let mut url = String::with_capacity(
            request.authority.len()
                + request.path.len()
                + request.query.iter().map(|(k, v)| k.len() + v.len() + 2).sum::<usize>() * 3
                + self.token_query.as_deref().map_or(0, |t| t.len() + 22)
                + headers.iter().map(|(k, v)| 2 * k.len() + v.len() + 5).sum::<usize>()
                + 320,
        );
        url.push_str(request.scheme.as_str());
        url.push_str("://");
        url.push_str(&request.authority);
        url.push_str(&request.path);
        url.push('?');
        let mut inline = [(0usize, 0usize, 0usize); 8];
        let mut heap;
        let spans: &mut [(usize, usize, usize)] = if request.query.len() <= inline.len() {
            &mut inline[..request.query.len()]
        } else {
            heap = vec![(0, 0, 0); request.query.len()];
            &mut heap
        };
        canonical::push_query_params(&mut url, &request.query, spans);
        let spans: &[(usize, usize, usize)] = spans;

        let mut details = details;
        let signature = self.with_date(amz_date.get(..8).unwrap_or_default(), |day| {
            // The X-Amz-* parameters go into the URL now, as botocore writes them; the canonical
            // request copies them from there (they are the same text, the token's place aside).
            let block_start = url.len();
            url.push_str(&day.query_prefix);
            url.push_str(amz_date);
            url.push_str("&X-Amz-Expires=");
            url.push_str(expires);
            let expires_end = url.len();
            url.push_str("&X-Amz-SignedHeaders=");
            let names_start = url.len();
            push_signed_names(&mut url, headers, "%3B");
            let block_end = url.len();
            let part = |from: usize, to: usize| url.get(from..to).unwrap_or_default();
            let push_block = |creq: &mut String| match signed_token {
                None => creq.push_str(part(block_start, block_end)),
                Some(token) => {
                    creq.push_str(part(block_start, expires_end));
                    creq.push_str("&X-Amz-Security-Token=");
                    creq.push_str(token);
                    creq.push_str(part(expires_end, block_end));
                }
            };
            let sorted = || spans.iter().map(|span| canonical::query_param(&url, span));

            canonical::with_buffer(|creq| {
                creq.reserve(512 + url.len());
                let mut hash = Progressive::new();
                push_method_line(creq, request.method);
                creq.push_str(&canonical.uri);
                creq.push('\n');
                // The X-Amz-* parameters sort as one block among the caller's, unless a caller's
                // name starts with `X-Amz-` itself (then everything is sorted together).
                if sorted().any(|(name, _)| name.starts_with("X-Amz-")) {
                    let mut all: Vec<(&str, &str)> = sorted().collect();
                    all.extend([
                        ("X-Amz-Algorithm", ALGORITHM),
                        ("X-Amz-Credential", day.credential_query.as_str()),
                        ("X-Amz-Date", amz_date),
                        ("X-Amz-Expires", expires),
                        ("X-Amz-SignedHeaders", part(names_start, block_end)),
                    ]);
                    if let Some(token) = signed_token {
                        all.push(("X-Amz-Security-Token", token));
                    }
                    all.sort_unstable();
                    canonical::push_query(creq, &all);
                } else {
                    let mut before_block = true;
                    for (i, (name, value)) in sorted().enumerate() {
                        if i > 0 {
                            creq.push('&');
                        }
                        if before_block && sorts_after_block(name) {
                            push_block(creq);
                            before_block = false;
                            creq.push('&');
                        }
                        creq.push_str(name);
                        creq.push('=');
                        creq.push_str(value);
                    }
                    if before_block {
                        if !spans.is_empty() {
                            creq.push('&');
                        }
                        push_block(creq);
                    }
                }
                creq.push('\n');
                // The query is most of the canonical request: its blocks are hashed while the
                // headers are written.
                hash.absorb(creq.as_bytes());
                canonical::push_headers(creq, headers);
                creq.push_str("\n\n");
                push_signed_names(creq, headers, ";");
                creq.push('\n');
                creq.push_str(payload.as_str());
                finish(day, amz_date, creq, hash, details.as_deref_mut())
            })
        });

        // Then the token and the signature.
        if let Some(token) = self.token_query.as_deref() {
            url.push_str("&X-Amz-Security-Token=");
            url.push_str(token);
        }
        url.push_str("&X-Amz-Signature=");
        url.push_str(signature.as_str());

        let headers = request.headers.iter().map(|(k, v)| (k.as_ref(), v.as_ref()));
        Ok(PresignedUrl::new(request.method, url, headers, amz.instant(), expires_in.as_secs()))
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
fn finish(day: &DayKey, amz_date: &str, creq: &str, hash: Progressive, details: Option<&mut SigningDetails>) -> Hex64 {
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

/// Whether a caller's (encoded) parameter name, not starting with `X-Amz-`, sorts after the
/// `X-Amz-*` parameters. Mostly the first byte says it, without a string comparison.
fn sorts_after_block(name: &str) -> bool {
    match name.as_bytes().first() {
        Some(&b) if b != b'X' => b > b'X',
        Some(_) => name > "X-Amz-",
        None => false,
    }
}

/// Appends `METHOD\n` (a constant per method: no copy of a run-time length).
fn push_method_line(out: &mut String, method: super::Method) {
    use super::Method;
    out.push_str(match method {
        Method::Get => "GET\n",
        Method::Put => "PUT\n",
        Method::Post => "POST\n",
        Method::Head => "HEAD\n",
        Method::Delete => "DELETE\n",
        Method::Patch => "PATCH\n",
        Method::Options => "OPTIONS\n",
    });
}

/// Appends the distinct names of sorted `headers` joined by `separator`: `;` in the canonical
/// request, `%3B` in a query (where each name is encoded too).
fn push_signed_names(out: &mut String, headers: &[(Cow<'_, str>, &str)], separator: &str) {
    if let [(name, _)] = headers
        && name == "host"
    {
        // `host` alone, as most presigned requests sign: a constant, nothing to encode.
        out.push_str("host");
        return;
    }
    let mut previous: Option<&str> = None;
    for (name, _) in headers {
        let name = name.as_ref();
        if previous == Some(name) {
            continue;
        }
        if previous.is_some() {
            out.push_str(separator);
        }
        if separator == ";" {
            out.push_str(name);
        } else {
            encode::push_component(out, name);
        }
        previous = Some(name);
    }
}

fn itoa_buf() -> [u8; 20] {
    [0; 20]
}

fn format_u64(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        // `n % 10` is below 10.
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or_default()
}

/// Region and service names: 1 to 63 of `A-Z a-z 0-9 . _ -`.
pub(crate) fn is_scope_token(s: &str) -> bool {
    (1..=63).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers() {
        let mut b = itoa_buf();
        assert_eq!(format_u64(0, &mut b), "0");
        let mut b = itoa_buf();
        assert_eq!(format_u64(604_800, &mut b), "604800");
        let mut b = itoa_buf();
        assert_eq!(format_u64(u64::MAX, &mut b), "18446744073709551615");
    }

    #[test]
    fn scope_tokens() {
        assert!(is_scope_token("us-east-1") && is_scope_token("auto") && is_scope_token("s3"));
        for bad in ["", "us east", "us/east", "a\nb", "ü", &"a".repeat(64)] {
            assert!(!is_scope_token(bad), "{bad:?}");
        }
    }
}
