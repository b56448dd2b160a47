//! An S3 server embedded in the process, for the examples and the tests: s3s-fs (a real S3
//! implementation over a local directory, which verifies SigV4 signatures) on 127.0.0.1, on a port
//! of the system's choosing. Nothing to install, no cloud account.
//!
//! s3s-fs has no CORS, so [`EmbeddedS3::start_with_cors`] puts a layer in front of it that answers
//! browsers as S3 and R2 do for a bucket CORS configuration: preflights (OPTIONS with `Origin` and
//! `Access-Control-Request-Method`) get 200 and the allow headers when a rule matches, 403 otherwise;
//! other requests from an allowed origin get `Access-Control-Allow-Origin` and the exposed headers.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;

/// A running embedded server. Dropping it stops the server and removes its directory.
pub struct EmbeddedS3 {
    pub endpoint: String,
    pub addr: SocketAddr,
    pub region: &'static str,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
    root: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl EmbeddedS3 {
    /// Starts a server with one bucket, `bucket`, stored under a fresh temporary directory.
    pub async fn start(bucket: &str) -> std::io::Result<EmbeddedS3> {
        Self::start_with_cors(bucket, None).await
    }

    /// As [`start`](Self::start), answering browsers per `cors` (no CORS at all when `None`, as a
    /// bucket without a configuration).
    pub async fn start_with_cors(
        bucket: &str,
        cors: Option<stowage::CorsConfiguration>,
    ) -> std::io::Result<EmbeddedS3> {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("stowage-embedded-s3-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join(bucket))?;
        let access_key = "AKIAEMBEDDEDEXAMPLE".to_owned();
        let secret_key = format!("embedded/{}/secret", std::process::id());

        let fs = s3s_fs::FileSystem::new(&root).map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(access_key.clone(), secret_key.clone()));
        let s3 = builder.build();
        let cors = std::sync::Arc::new(cors);
        let service = hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
            let s3 = s3.clone();
            let cors = std::sync::Arc::clone(&cors);
            async move { with_cors(&s3, cors.as_ref().as_ref(), request).await }
        });

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            loop {
                let Ok((socket, _)) = listener.accept().await else { continue };
                let conn = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
        });
        Ok(EmbeddedS3 {
            endpoint: format!("http://{addr}"),
            addr,
            region: "us-east-1",
            bucket: bucket.to_owned(),
            access_key,
            secret_key,
            root,
            task,
        })
    }

    /// Where the objects are stored on disk.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// The first rule allowing `origin` and `method`.
fn matching_rule<'c>(
    cors: &'c stowage::CorsConfiguration,
    origin: &str,
    method: &str,
) -> Option<&'c stowage::CorsRule> {
    cors.rules.iter().find(|rule| {
        rule.allowed_origins.iter().any(|o| o == "*" || o == origin)
            && rule.allowed_methods.iter().any(|m| m.eq_ignore_ascii_case(method))
    })
}

fn text_response(status: u16, body: String) -> http::Response<s3s::Body> {
    let mut response = http::Response::new(s3s::Body::from(body));
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::FORBIDDEN);
    response
}

async fn with_cors(
    s3: &s3s::service::S3Service,
    cors: Option<&stowage::CorsConfiguration>,
    request: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<s3s::Body>, s3s::HttpError> {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let origin = header("origin");
    if request.method() == http::Method::OPTIONS {
        let (Some(origin), Some(method)) = (origin, header("access-control-request-method")) else {
            return Ok(text_response(400, "a CORS preflight needs Origin and Access-Control-Request-Method".into()));
        };
        let wanted: Vec<String> = header("access-control-request-headers")
            .map(|h| h.split(',').map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        let rule = cors.and_then(|c| matching_rule(c, &origin, &method)).filter(|rule| {
            wanted.iter().all(|w| rule.allowed_headers.iter().any(|h| h == "*" || h.eq_ignore_ascii_case(w)))
        });
        let Some(rule) = rule else {
            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessForbidden</Code>\
                        <Message>CORSResponse: This CORS request is not allowed.</Message></Error>";
            return Ok(text_response(403, body.into()));
        };
        let mut response = text_response(200, String::new());
        let headers = response.headers_mut();
        let mut set = |name: &'static str, value: String| {
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        };
        set("access-control-allow-origin", origin);
        set("access-control-allow-methods", rule.allowed_methods.join(", "));
        if !wanted.is_empty() {
            set("access-control-allow-headers", wanted.join(", "));
        }
        if !rule.expose_headers.is_empty() {
            set("access-control-expose-headers", rule.expose_headers.join(", "));
        }
        if let Some(age) = rule.max_age_seconds {
            set("access-control-max-age", age.to_string());
        }
        set("vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method".into());
        return Ok(response);
    }
    let method = request.method().as_str().to_owned();
    let mut response = hyper::service::Service::call(s3, request).await?;
    if let (Some(origin), Some(cors)) = (origin, cors)
        && let Some(rule) = matching_rule(cors, &origin, &method)
    {
        let headers = response.headers_mut();
        if let Ok(value) = http::HeaderValue::from_str(&origin) {
            headers.insert("access-control-allow-origin", value);
        }
        if let Ok(value) = http::HeaderValue::from_str(&rule.expose_headers.join(", ")) {
            headers.insert("access-control-expose-headers", value);
        }
        headers.insert("vary", http::HeaderValue::from_static("Origin"));
    }
    Ok(response)
}

impl Drop for EmbeddedS3 {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
