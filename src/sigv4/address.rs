//! Where an S3 bucket and its objects are reached: endpoint, addressing style, key encoding.

use std::fmt;

use super::{Error, Method, Request, Scheme, encode};

/// The longest object key S3 accepts, in bytes of UTF-8.
pub const MAX_KEY_LEN: usize = 1024;

/// How the bucket appears in a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressingStyle {
    /// `https://endpoint/bucket/key`: works with every server and every bucket name; the default
    /// for custom endpoints (R2, local servers).
    Path,
    /// `https://bucket.endpoint/key`: the AWS default. Needs a DNS-compatible bucket name, and with
    /// HTTPS one without dots.
    VirtualHosted,
}

/// An S3 bucket at an endpoint: builds the [`Request`] for any object key, encoding the key exactly
/// as S3 does (never normalising `//`, `.` or `..`).
///
/// ```
/// use stowage::sigv4::{AddressingStyle, BucketAddress, Method};
///
/// let aws = BucketAddress::aws("eu-central-1", "photos")?;
/// assert_eq!(aws.object(Method::Get, "a b/../c")?.url(), "https://photos.s3.eu-central-1.amazonaws.com/a%20b/../c");
///
/// let local = BucketAddress::new("http://127.0.0.1:9000", "photos", AddressingStyle::Path)?;
/// assert_eq!(local.object(Method::Get, "/x+y")?.url(), "http://127.0.0.1:9000/photos//x%2By");
/// # Ok::<(), stowage::sigv4::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct BucketAddress {
    scheme: Scheme,
    /// `host[:port]` of the requests: the endpoint's, with `bucket.` in front for virtual hosting.
    authority: String,
    /// Encoded path before the key, without a trailing slash: the endpoint's path, then `/bucket`
    /// for path-style addressing.
    prefix: String,
    bucket: String,
    style: AddressingStyle,
    /// The signed form of `authority`: lower case, default port dropped.
    canonical_host: String,
}

impl BucketAddress {
    /// The AWS endpoint of `region`: `https://s3.<region>.amazonaws.com`, or
    /// `https://s3.<region>.amazonaws.com.cn` for the China regions (`cn-*`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRegion`] when `region` is not a plain token.
    pub fn aws_endpoint(region: &str) -> Result<String, Error> {
        if !super::key::is_scope_token(region) {
            return Err(Error::InvalidRegion { region: region.chars().take(64).collect() });
        }
        let suffix = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
        Ok(format!("https://s3.{region}.{suffix}"))
    }

    /// A bucket on AWS S3 in `region`: virtual-hosted addressing, unless the bucket name needs
    /// path-style (dots, which break TLS for virtual hosts, or a name that is not DNS-compatible).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRegion`] or [`Error::InvalidBucket`].
    pub fn aws(region: &str, bucket: &str) -> Result<Self, Error> {
        let endpoint = Self::aws_endpoint(region)?;
        let style = if is_virtual_host_bucket(bucket) && !bucket.contains('.') {
            AddressingStyle::VirtualHosted
        } else {
            AddressingStyle::Path
        };
        Self::new(&endpoint, bucket, style)
    }

    /// A bucket at any S3-compatible `endpoint` (such as `https://<account>.r2.cloudflarestorage.com`
    /// or `http://127.0.0.1:9000`), with the given addressing style. An endpoint may carry a path
    /// prefix (`https://proxy.example.com/s3`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] when the endpoint is not an `http(s)` URL with a host and nothing after
    /// its path; [`Error::InvalidBucket`] when the bucket name cannot be used with the style.
    pub fn new(endpoint: &str, bucket: &str, style: AddressingStyle) -> Result<Self, Error> {
        let shown = || endpoint.split(['?', '#']).next().unwrap_or_default().chars().take(200).collect::<String>();
        let invalid = |reason| Error::InvalidUrl { url: shown(), reason };
        let url = url::Url::parse(endpoint)
            .map_err(|_| invalid("not an absolute URL such as https://s3.us-east-1.amazonaws.com"))?;
        let scheme = match url.scheme() {
            "https" => Scheme::Https,
            "http" => Scheme::Http,
            _ => return Err(invalid("the endpoint must be an http:// or https:// URL")),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("the endpoint must not carry a user name or password"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("the endpoint must not have a query string or fragment"));
        }
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| invalid("the endpoint has no host"))?;
        let host_port = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let mut prefix = url.path().trim_end_matches('/').to_owned();
        // URL parsing percent-encodes what a path may not hold; check anyway, since requests built
        // from this address skip the path check.
        if prefix.bytes().any(|b| !b.is_ascii_graphic() || b == b'?' || b == b'#') {
            return Err(invalid("the endpoint's path holds characters that are not allowed in a URL path"));
        }

        check_bucket(bucket)?;
        let authority = match style {
            AddressingStyle::Path => {
                prefix.push('/');
                prefix.push_str(bucket);
                host_port
            }
            AddressingStyle::VirtualHosted => {
                if !is_virtual_host_bucket(bucket) {
                    return Err(Error::InvalidBucket {
                        bucket: bucket.to_owned(),
                        reason: "virtual-hosted addressing needs a DNS-compatible name (3-63 of a-z 0-9 . -); use path-style",
                    });
                }
                if url.host().is_some_and(|h| !matches!(h, url::Host::Domain(_))) {
                    return Err(invalid(
                        "virtual-hosted addressing needs a domain name endpoint, not an IP address; use path-style",
                    ));
                }
                format!("{bucket}.{host_port}")
            }
        };
        let canonical_host =
            super::canonical::canonical_host(&Request::new(Method::Get, scheme, authority.as_str(), "/"))?.into_owned();
        Ok(Self { scheme, authority, prefix, bucket: bucket.to_owned(), style, canonical_host })
    }

    /// The bucket name.
    #[must_use]
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The addressing style in use.
    #[must_use]
    pub fn style(&self) -> AddressingStyle {
        self.style
    }

    /// The scheme of the endpoint.
    #[must_use]
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// `host[:port]` that requests go to.
    #[must_use]
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The request for object `key`: the key is checked (1 to 1024 bytes) and percent-encoded as S3
    /// does, and appended to the bucket's path as it is.
    ///
    /// # Errors
    ///
    /// [`Error::EmptyKey`] or [`Error::KeyTooLong`].
    pub fn object(&self, method: Method, key: &str) -> Result<Request<'_>, Error> {
        let mut request = Request::new(method, self.scheme, self.authority.as_str(), self.object_path(key)?);
        request.checked = Some(&self.canonical_host);
        Ok(request)
    }

    /// The encoded path of object `key`, as in [`object`](Self::object).
    ///
    /// # Errors
    ///
    /// [`Error::EmptyKey`] or [`Error::KeyTooLong`].
    pub fn object_path(&self, key: &str) -> Result<String, Error> {
        check_key(key)?;
        let mut path = String::with_capacity(self.prefix.len() + 1 + key.len() + key.len() / 2);
        path.push_str(&self.prefix);
        path.push('/');
        encode::push_path(&mut path, key);
        Ok(path)
    }

    /// The URL of object `key`, unsigned.
    ///
    /// # Errors
    ///
    /// [`Error::EmptyKey`] or [`Error::KeyTooLong`].
    pub fn object_url(&self, key: &str) -> Result<String, Error> {
        Ok(self.object(Method::Get, key)?.url())
    }

    /// A request to the bucket itself (list, CORS and other bucket operations).
    pub fn bucket_request(&self, method: Method) -> Request<'_> {
        let path = match self.style {
            AddressingStyle::Path => self.prefix.clone(),
            AddressingStyle::VirtualHosted => format!("{}/", self.prefix),
        };
        let mut request = Request::new(method, self.scheme, self.authority.as_str(), path);
        request.checked = Some(&self.canonical_host);
        request
    }
}

impl fmt::Debug for BucketAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BucketAddress")
            .field("url", &format!("{}://{}{}", self.scheme.as_str(), self.authority, self.prefix))
            .field("bucket", &self.bucket)
            .field("style", &self.style)
            .finish()
    }
}

/// Checks an object key: 1 to 1024 bytes of UTF-8 (any character is allowed; it is encoded).
///
/// # Errors
///
/// [`Error::EmptyKey`] or [`Error::KeyTooLong`].
pub fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() {
        return Err(Error::EmptyKey);
    }
    if key.len() > MAX_KEY_LEN {
        return Err(Error::KeyTooLong { len: key.len() });
    }
    Ok(())
}

fn check_bucket(bucket: &str) -> Result<(), Error> {
    let reason = if bucket.is_empty() {
        "the bucket name is empty"
    } else if bucket.len() > 255 {
        "the bucket name is longer than 255 characters"
    } else if !bucket.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_')) {
        "a bucket name holds only letters, digits, '.', '-' and '_'"
    } else if bucket == "." || bucket == ".." {
        "'.' and '..' are not bucket names"
    } else {
        return Ok(());
    };
    Err(Error::InvalidBucket { bucket: bucket.chars().take(64).collect(), reason })
}

/// DNS-compatible bucket names, usable as a host label: 3-63 of `a-z 0-9 . -`, starting and ending
/// with a letter or digit, no `..`, not an IP address.
fn is_virtual_host_bucket(bucket: &str) -> bool {
    let b = bucket.as_bytes();
    (3..=63).contains(&b.len())
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'-'))
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
        && !bucket.contains("..")
        && !bucket.contains(".-")
        && !bucket.contains("-.")
        && bucket.parse::<std::net::Ipv4Addr>().is_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_picks_virtual_hosting_when_it_can() {
        let a = BucketAddress::aws("us-east-1", "my-app-uploads").unwrap();
        assert_eq!(a.style(), AddressingStyle::VirtualHosted);
        assert_eq!(a.object_url("k").unwrap(), "https://my-app-uploads.s3.us-east-1.amazonaws.com/k");
        let dotted = BucketAddress::aws("us-east-1", "my.bucket").unwrap();
        assert_eq!(dotted.style(), AddressingStyle::Path);
        assert_eq!(dotted.object_url("k").unwrap(), "https://s3.us-east-1.amazonaws.com/my.bucket/k");
        let legacy = BucketAddress::aws("us-east-1", "Legacy_Bucket").unwrap();
        assert_eq!(legacy.style(), AddressingStyle::Path);
    }

    #[test]
    fn endpoints_keep_ports_and_prefixes() {
        let b = BucketAddress::new("http://127.0.0.1:9000/", "b", AddressingStyle::Path).unwrap();
        assert_eq!(b.object_url("k").unwrap(), "http://127.0.0.1:9000/b/k");
        assert_eq!(b.bucket_request(Method::Get).url(), "http://127.0.0.1:9000/b");
        let p = BucketAddress::new("https://proxy.example.com/s3/", "b", AddressingStyle::Path).unwrap();
        assert_eq!(p.object_url("k").unwrap(), "https://proxy.example.com/s3/b/k");
        let v = BucketAddress::new("https://r2.example.com", "bkt", AddressingStyle::VirtualHosted).unwrap();
        assert_eq!(v.object_url("a/b").unwrap(), "https://bkt.r2.example.com/a/b");
        assert_eq!(v.bucket_request(Method::Get).url(), "https://bkt.r2.example.com/");
    }

    #[test]
    fn refuses_what_cannot_work() {
        assert!(BucketAddress::new("ftp://h", "b", AddressingStyle::Path).is_err());
        assert!(BucketAddress::new("not a url", "b", AddressingStyle::Path).is_err());
        assert!(BucketAddress::new("https://h?x=1", "b", AddressingStyle::Path).is_err());
        assert!(BucketAddress::new("https://u:p@h", "b", AddressingStyle::Path).is_err());
        assert!(BucketAddress::new("http://127.0.0.1:9000", "bkt", AddressingStyle::VirtualHosted).is_err());
        assert!(BucketAddress::new("https://h", "Upper", AddressingStyle::VirtualHosted).is_err());
        assert!(BucketAddress::new("https://h", "a/b", AddressingStyle::Path).is_err());
        assert!(BucketAddress::new("https://h", "", AddressingStyle::Path).is_err());
        assert!(BucketAddress::aws("us east", "b").is_err());
        let b = BucketAddress::new("https://h", "b", AddressingStyle::Path).unwrap();
        assert_eq!(b.object(Method::Get, "").unwrap_err(), Error::EmptyKey);
        assert_eq!(b.object(Method::Get, &"k".repeat(1025)).unwrap_err(), Error::KeyTooLong { len: 1025 });
        assert!(b.object(Method::Get, &"k".repeat(1024)).is_ok());
    }
}
