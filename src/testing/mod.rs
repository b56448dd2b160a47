//! A real S3 server for your tests, in your test's process (feature `testing`).
//!
//! [`TestServer::start`] serves [s3s-fs](https://docs.rs/s3s-fs) — an S3 implementation over a local
//! directory that **verifies SigV4 signatures**, header-signed and presigned, including signed
//! `Content-Type` and `Content-Length` and the expiry — on `127.0.0.1` at a port of the system's
//! choosing, with a fresh bucket, fresh keys and a fresh directory, all removed when the server is
//! dropped. It starts in milliseconds and needs nothing installed. A presigned URL from
//! [`TestServer::storage`] works from any HTTP client, so a test can play the browser.
//!
//! A test of an axum upload handler, end to end (presign → upload as the browser would → verify):
//!
//! ```
//! use std::time::Duration;
//! use axum::{Json, Router, extract::State, http::StatusCode, routing::post};
//! use stowage::{GetOptions, PutOptions, S3Storage, Storage, testing::TestServer};
//!
//! // The handler under test: presigns an upload of exactly the announced type and size.
//! async fn upload_url(State(storage): State<S3Storage>, Json(size): Json<u64>) -> Result<Json<serde_json::Value>, StatusCode> {
//!     let options = PutOptions::new().with_content_type("image/png").with_content_length(size);
//!     let presigned = storage
//!         .presign_put("avatars/42.png", &options, Duration::from_secs(300))
//!         .map_err(|_| StatusCode::BAD_REQUEST)?;
//!     Ok(Json(serde_json::json!({ "url": presigned.url, "headers": presigned.headers })))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let s3 = TestServer::start().await?;
//! let app = Router::new().route("/upload-url", post(upload_url)).with_state(s3.storage()?);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let api = format!("http://{}", listener.local_addr()?);
//! tokio::spawn(async move { axum::serve(listener, app).await });
//!
//! // The browser: asks for a URL, then PUTs the bytes straight to the bucket with its headers.
//! let http = reqwest::Client::new();
//! let png = b"\x89PNG\r\n\x1a\n".to_vec();
//! let answer = http
//!     .post(format!("{api}/upload-url"))
//!     .header("content-type", "application/json")
//!     .body(png.len().to_string())
//!     .send()
//!     .await?
//!     .bytes()
//!     .await?;
//! let ticket: serde_json::Value = serde_json::from_slice(&answer)?;
//! let url = ticket["url"].as_str().ok_or("no url")?;
//! let headers: std::collections::HashMap<String, String> = serde_json::from_value(ticket["headers"].clone())?;
//! let mut put = http.put(url).body(png.clone());
//! for (name, value) in &headers {
//!     put = put.header(name, value);
//! }
//! assert!(put.send().await?.status().is_success());
//!
//! // The server checks what landed; an upload of another type than the one signed for is refused
//! // by the S3 server itself.
//! let landed = s3.storage()?.head_object("avatars/42.png", &GetOptions::new()).await?.ok_or("not stored")?;
//! assert_eq!((landed.size, landed.content_type.as_deref()), (8, Some("image/png")));
//! let liar = http.put(url).header("content-type", "application/x-msdownload").body(png).send().await?;
//! assert!(liar.status().is_client_error());
//! # Ok(())
//! # }
//! ```
//!
//! ## Proving a storage of your own
//!
//! [`conformance`] is the suite this crate runs on every server it is tested against, as public
//! functions over `&dyn Storage`: run it on a wrapper or a fake of yours to show it behaves like the
//! real thing.
//!
//! ## What it does not emulate
//!
//! s3s-fs is a faithful S3 for the flows stowage offers, with these limits (each one met by the
//! project's own conformance suite, which also runs on Garage):
//!
//! - no bucket CORS API: CORS answers come from [`TestServerBuilder::with_cors`] /
//!   [`TestServer::set_cors`] (preflights answered as S3 and R2 answer them); `put_bucket_cors`
//!   gets an error;
//! - one region for everything (any region signs), no session tokens (a token is signed and ignored),
//!   one key pair;
//! - multipart: no ETags in `ListParts`, no `ListMultipartUploads` (501), part ETags not checked at
//!   completion, 403 rather than 404 for an unknown upload id;
//! - listings ignore `encoding-type=url` (a `+` in a key comes back as a space);
//! - POST uploads (`presign_post`) work; R2's restrictions are not enforced by the server (stowage
//!   enforces them for an R2 configuration before sending).

pub mod conformance;
mod cors;
mod raw_http;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;

use crate::{CorsConfiguration, Credentials, S3Config, S3Storage};

/// The region the test server answers in (any region signs; this is what [`TestServer::config`]
/// uses).
pub const REGION: &str = "us-east-1";

/// An S3 server running in this process, for tests and demos. Dropping it stops the server and
/// removes its directory.
pub struct TestServer {
    endpoint: String,
    addr: SocketAddr,
    bucket: String,
    access_key: String,
    secret_key: String,
    root: PathBuf,
    cors: Arc<RwLock<Option<CorsConfiguration>>>,
    task: tokio::task::JoinHandle<()>,
}

/// Options of a [`TestServer`]: the bucket's name and the CORS rules browsers see.
#[derive(Debug, Clone)]
#[must_use]
pub struct TestServerBuilder {
    bucket: String,
    cors: Option<CorsConfiguration>,
}

impl TestServerBuilder {
    /// The bucket's name (default `test-bucket`).
    pub fn with_bucket(mut self, name: impl Into<String>) -> Self {
        self.bucket = name.into();
        self
    }

    /// Answers browsers per `cors`, as S3 and R2 do for a bucket CORS configuration (default: no
    /// CORS, like a bucket without one, so every preflight is refused).
    pub fn with_cors(mut self, cors: CorsConfiguration) -> Self {
        self.cors = Some(cors);
        self
    }

    /// Starts the server.
    ///
    /// # Errors
    ///
    /// When the directory cannot be created, the bucket name is not a directory name, or no port
    /// can be bound on 127.0.0.1.
    pub async fn start(self) -> std::io::Result<TestServer> {
        let bucket = self.bucket;
        if bucket.is_empty() || bucket.contains(['/', '\\']) || bucket.starts_with('.') {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("invalid bucket name {bucket:?}"),
            ));
        }
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let unique = crate::random::random_u64();
        let root = std::env::temp_dir().join(format!("stowage-test-s3-{}-{n}-{unique:016x}", std::process::id()));
        std::fs::create_dir_all(root.join(&bucket))?;
        // Fresh keys for every server (for uniqueness, not secrecy: this is a test server).
        let access_key = format!("AKIATEST{:012X}", crate::random::random_u64() & 0xffff_ffff_ffff);
        let secret_key = format!("{:016x}{:016x}test", crate::random::random_u64(), crate::random::random_u64());

        let fs = s3s_fs::FileSystem::new(&root).map_err(|e| std::io::Error::other(format!("s3s-fs: {e:?}")))?;
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(access_key.clone(), secret_key.clone()));
        let s3 = builder.build();
        let cors = Arc::new(RwLock::new(self.cors));
        let rules = Arc::clone(&cors);
        let service = hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
            let s3 = s3.clone();
            let rules = rules.read().unwrap_or_else(PoisonError::into_inner).clone();
            async move { cors::with_cors(&s3, rules.as_ref(), request).await }
        });

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            // Connections live in this set: when the server is dropped (this task aborted), so are they.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let accepted = listener.accept().await;
                // Forget the connections that ended.
                while connections.try_join_next().is_some() {}
                let Ok((socket, _)) = accepted else {
                    // Out of file descriptors, say: wait rather than spin.
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                };
                let conn = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
                connections.spawn(async move {
                    let _ = conn.await;
                });
            }
        });
        Ok(TestServer { endpoint: format!("http://{addr}"), addr, bucket, access_key, secret_key, root, cors, task })
    }
}

impl TestServer {
    /// Starts a server with one empty bucket, `test-bucket`, and no CORS.
    ///
    /// # Errors
    ///
    /// As [`TestServerBuilder::start`].
    pub async fn start() -> std::io::Result<TestServer> {
        Self::builder().start().await
    }

    /// Options: the bucket's name, CORS rules.
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder { bucket: "test-bucket".into(), cors: None }
    }

    /// A backend for the bucket, with the server's keys (fixed keys: nothing to fetch, so this
    /// needs no `.await`, unlike [`S3Config::build`]).
    ///
    /// # Errors
    ///
    /// None in practice (the configuration is valid); the `Result` is [`S3Config::build`]'s.
    pub fn storage(&self) -> crate::Result<S3Storage> {
        S3Storage::from_config(self.config())
    }

    /// The configuration of [`storage`](Self::storage), to adjust before building (retries, part
    /// sizes, timeouts, …).
    pub fn config(&self) -> S3Config {
        S3Config::new(self.bucket.as_str(), REGION, self.credentials()).with_endpoint(self.endpoint.as_str())
    }

    /// `http://127.0.0.1:<port>`.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The address it listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bucket's name.
    #[must_use]
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The region to sign for ([`REGION`]).
    #[must_use]
    pub fn region(&self) -> &'static str {
        REGION
    }

    /// The server's keys.
    #[must_use]
    pub fn credentials(&self) -> Credentials {
        Credentials::new(self.access_key.as_str(), self.secret_key.as_str())
    }

    /// The server's secret key, for tests that sign requests by other means (another SDK, a raw
    /// request). It guards nothing but this test server.
    #[must_use]
    pub fn secret_access_key(&self) -> &str {
        &self.secret_key
    }

    /// Where the objects are stored on disk (`<root>/<bucket>/<key>`).
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Replaces the CORS rules browsers see (`None`: no CORS).
    pub fn set_cors(&self, cors: Option<CorsConfiguration>) {
        *self.cors.write().unwrap_or_else(PoisonError::into_inner) = cors;
    }
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("access_key", &self.access_key)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
