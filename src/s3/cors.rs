//! Bucket CORS: the rules that let a browser upload to the bucket directly, and a check of what a
//! browser would be told.
//!
//! Without CORS on the bucket, a browser blocks a presigned PUT with an opaque network error: the
//! first thing that breaks in a browser-upload setup.

use std::borrow::Cow;
use std::fmt;

use md5::Digest;

use super::transport::{Timing, transport_error, watched};
use super::{S3Storage, client::Call};
use crate::body::Body;
use crate::error::S3ErrorCode;
use crate::sigv4::Method;
use crate::wire::xml;
use crate::{Error, Result};
use base64::Engine as _;

/// One CORS rule of a bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct CorsRule {
    /// An identifier, optional.
    pub id: Option<String>,
    /// Origins allowed, such as `https://app.example.com` (`*` for any).
    pub allowed_origins: Vec<String>,
    /// Methods allowed: `GET`, `PUT`, `POST`, `DELETE`, `HEAD`.
    pub allowed_methods: Vec<String>,
    /// Request headers a browser may send (`*` for any). Some servers match them case-sensitively:
    /// write them in lower case, as browsers send them.
    pub allowed_headers: Vec<String>,
    /// Response headers the page may read, such as `ETag`.
    pub expose_headers: Vec<String>,
    /// How long a browser may cache the answer to a preflight, in seconds.
    pub max_age_seconds: Option<u32>,
}

impl CorsRule {
    /// A rule for `origins` and `methods`, allowing every request header and exposing `ETag`.
    #[must_use]
    pub fn new<O: Into<String>>(origins: impl IntoIterator<Item = O>, methods: &[&str]) -> Self {
        Self {
            id: None,
            allowed_origins: origins.into_iter().map(Into::into).collect(),
            allowed_methods: methods.iter().map(|m| m.to_ascii_uppercase()).collect(),
            allowed_headers: vec!["*".into()],
            expose_headers: vec!["ETag".into()],
            max_age_seconds: Some(3600),
        }
    }
}

/// A bucket's CORS configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct CorsConfiguration {
    /// The rules, checked in order.
    pub rules: Vec<CorsRule>,
}

impl CorsConfiguration {
    /// A configuration of `rules`.
    #[must_use]
    pub fn new(rules: Vec<CorsRule>) -> Self {
        Self { rules }
    }

    /// What browser uploads through presigned URLs need: from `origins`, methods PUT, GET and HEAD,
    /// any request header, `ETag` exposed, preflights cached for an hour.
    ///
    /// ```
    /// let cors = stowage::CorsConfiguration::for_browser_uploads(["https://app.example.com"]);
    /// assert_eq!(cors.rules[0].allowed_methods, ["PUT", "GET", "HEAD"]);
    /// ```
    #[must_use]
    pub fn for_browser_uploads<O: Into<String>>(origins: impl IntoIterator<Item = O>) -> Self {
        Self { rules: vec![CorsRule::new(origins, &["PUT", "GET", "HEAD"])] }
    }

    /// The `PutBucketCors` document.
    #[must_use]
    pub fn to_xml(&self) -> String {
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><CORSConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
        );
        let element = |out: &mut String, name: &str, value: &str| {
            out.push_str(&format!("<{name}>{}</{name}>", xml::escape(value)));
        };
        for rule in &self.rules {
            out.push_str("<CORSRule>");
            if let Some(id) = &rule.id {
                element(&mut out, "ID", id);
            }
            for v in &rule.allowed_headers {
                element(&mut out, "AllowedHeader", v);
            }
            for v in &rule.allowed_methods {
                element(&mut out, "AllowedMethod", v);
            }
            for v in &rule.allowed_origins {
                element(&mut out, "AllowedOrigin", v);
            }
            for v in &rule.expose_headers {
                element(&mut out, "ExposeHeader", v);
            }
            if let Some(age) = rule.max_age_seconds {
                element(&mut out, "MaxAgeSeconds", &age.to_string());
            }
            out.push_str("</CORSRule>");
        }
        out.push_str("</CORSConfiguration>");
        out
    }

    /// Reads a `GetBucketCors` document.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidResponse`] when it is not a `CORSConfiguration`.
    pub fn from_xml(text: &str) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidResponse { operation: "GetBucketCors", reason };
        let root = xml::parse(text).map_err(invalid)?;
        if root.name != "CORSConfiguration" {
            return Err(invalid(format!("expected CORSConfiguration, got {}", root.name)));
        }
        let texts = |rule: &xml::Element, name: &str| rule.children(name).map(|e| e.text.trim().to_owned()).collect();
        let rules = root
            .children("CORSRule")
            .map(|rule| CorsRule {
                id: rule.text_of("ID").map(str::to_owned),
                allowed_origins: texts(rule, "AllowedOrigin"),
                allowed_methods: texts(rule, "AllowedMethod"),
                allowed_headers: texts(rule, "AllowedHeader"),
                expose_headers: texts(rule, "ExposeHeader"),
                max_age_seconds: rule.text_of("MaxAgeSeconds").and_then(|v| v.trim().parse().ok()),
            })
            .collect();
        Ok(Self { rules })
    }
}

/// What a bucket tells a browser about to send a cross-origin request: the answer to its preflight,
/// and what is missing for the request to go through.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PreflightReport {
    /// The page's origin.
    pub origin: String,
    /// The method the page wants to use.
    pub method: String,
    /// The request headers the page wants to send.
    pub request_headers: Vec<String>,
    /// The status of the preflight answer.
    pub status: u16,
    /// `Access-Control-Allow-Origin`.
    pub allow_origin: Option<String>,
    /// `Access-Control-Allow-Methods`.
    pub allow_methods: Vec<String>,
    /// `Access-Control-Allow-Headers`.
    pub allow_headers: Vec<String>,
    /// What the browser would refuse, in words; empty when the request would go through.
    pub problems: Vec<String>,
}

impl PreflightReport {
    /// Whether a browser on `origin` may send the request.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for PreflightReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_ok() {
            return write!(f, "a browser on {} may send {} requests to the bucket", self.origin, self.method);
        }
        write!(
            f,
            "a browser on {} would be blocked from sending {}: {}",
            self.origin,
            self.method,
            self.problems.join("; ")
        )
    }
}

fn list(value: Option<&str>) -> Vec<String> {
    value.map(|v| v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()).unwrap_or_default()
}

impl S3Storage {
    /// Sets the bucket's CORS configuration (`PutBucketCors`, with the `Content-MD5` S3 requires).
    ///
    /// # Errors
    ///
    /// Signing, transport and service errors (such as `AccessDenied` for a key without the right).
    pub async fn put_bucket_cors(&self, cors: &CorsConfiguration) -> Result<()> {
        let document = cors.to_xml();
        let md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(document.as_bytes()));
        let body = Body::from(document);
        let length = body.len().to_string();
        let call = Call::new("PutBucketCors", Method::Put, None)
            .query(vec![("cors", Cow::Borrowed(""))])
            .headers(vec![
                ("content-md5", Cow::Owned(md5)),
                ("content-type", Cow::Borrowed("application/xml")),
                ("content-length", Cow::Owned(length)),
            ])
            .body(&body);
        self.execute(&call).await?;
        Ok(())
    }

    /// The bucket's CORS configuration, or `None` when it has none.
    ///
    /// # Errors
    ///
    /// Signing, transport and service errors.
    pub async fn get_bucket_cors(&self) -> Result<Option<CorsConfiguration>> {
        let call = Call::new("GetBucketCors", Method::Get, None)
            .query(vec![("cors", Cow::Borrowed(""))])
            .read_body(1024 * 1024);
        match self.execute(&call).await {
            Ok(answer) => {
                let text = String::from_utf8(answer.body().to_vec()).map_err(|_| Error::InvalidResponse {
                    operation: "GetBucketCors",
                    reason: "the document is not UTF-8".into(),
                })?;
                Ok(Some(CorsConfiguration::from_xml(&text)?))
            }
            Err(e) if e.code() == Some(&S3ErrorCode::NoSuchCorsConfiguration) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Removes the bucket's CORS configuration.
    ///
    /// # Errors
    ///
    /// Signing, transport and service errors.
    pub async fn delete_bucket_cors(&self) -> Result<()> {
        let call = Call::new("DeleteBucketCors", Method::Delete, None).query(vec![("cors", Cow::Borrowed(""))]);
        self.execute(&call).await?;
        Ok(())
    }

    /// Sends the preflight a browser on `origin` would send before `method` with `request_headers`
    /// to an object of the bucket, and explains what would block the real request.
    ///
    /// ```no_run
    /// # async fn demo(storage: stowage::S3Storage) -> stowage::Result<()> {
    /// let report = storage.check_cors_preflight("https://app.example.com", "PUT", &["content-type"]).await?;
    /// if !report.is_ok() {
    ///     eprintln!("{report}");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// Transport errors (a preflight that gets any answer is a report, not an error).
    pub async fn check_cors_preflight(
        &self,
        origin: &str,
        method: &str,
        request_headers: &[&str],
    ) -> Result<PreflightReport> {
        let url = self.address().object_url("stowage-cors-preflight-check")?;
        let method = method.to_ascii_uppercase();
        let mut request = self
            .http()
            .request(reqwest::Method::OPTIONS, url)
            .header("origin", origin)
            .header("access-control-request-method", method.as_str());
        let wanted: Vec<String> = request_headers.iter().map(|h| h.to_ascii_lowercase()).collect();
        if !wanted.is_empty() {
            request = request.header("access-control-request-headers", wanted.join(","));
        }
        let progress = super::transport::Progress::start(0);
        let timing = Timing::start(self.inner.idle_timeout, self.inner.timeout);
        let response = watched(request.send(), &progress, &timing)
            .await
            .map_err(|stall| stall.into_error("CORS preflight", "waiting for the answer"))?
            .map_err(|e| transport_error("CORS preflight", &e))?;
        let status = response.status().as_u16();
        let text = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let allow_origin = text("access-control-allow-origin");
        let allow_methods = list(text("access-control-allow-methods").as_deref());
        let allow_headers = list(text("access-control-allow-headers").as_deref());

        let mut problems = Vec::new();
        let fix = "add a CORS rule to the bucket (CorsConfiguration::for_browser_uploads)";
        if !(200..300).contains(&status) {
            problems.push(format!("the bucket answered the preflight with HTTP {status}: no CORS rule allows {origin} to send {method}; {fix}"));
        } else {
            match allow_origin.as_deref() {
                Some(o) if o == "*" || o == origin => {}
                Some(o) => problems.push(format!("Access-Control-Allow-Origin is {o}, not {origin}; {fix}")),
                None => problems.push(format!("no Access-Control-Allow-Origin in the answer; {fix}")),
            }
            if !allow_methods.iter().any(|m| m == "*" || m.eq_ignore_ascii_case(&method)) {
                problems
                    .push(format!("{method} is not among the allowed methods ({}); {fix}", allow_methods.join(", ")));
            }
            for header in &wanted {
                if !allow_headers.iter().any(|h| h == "*" || h.eq_ignore_ascii_case(header)) {
                    problems.push(format!(
                        "the request header {header} is not allowed; add it (in lower case) or * to AllowedHeader"
                    ));
                }
            }
        }
        Ok(PreflightReport {
            origin: origin.to_owned(),
            method,
            request_headers: wanted,
            status,
            allow_origin,
            allow_methods,
            allow_headers,
            problems,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_round_trip() {
        let mut cors = CorsConfiguration::for_browser_uploads(["https://a.example", "http://127.0.0.1:3000"]);
        cors.rules[0].id = Some("uploads & <more>".into());
        let text = cors.to_xml();
        assert!(text.contains("<AllowedOrigin>https://a.example</AllowedOrigin>"));
        assert!(text.contains("<ID>uploads &amp; &lt;more&gt;</ID>"));
        assert_eq!(CorsConfiguration::from_xml(&text).unwrap(), cors);
        assert!(CorsConfiguration::from_xml("<Error/>").is_err());
    }
}
