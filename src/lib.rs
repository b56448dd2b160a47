//! # stowage
//!
//! Store user files in Amazon S3 or Cloudflare R2 from a Rust service, the way the field recommends:
//! the browser asks your server for a short-lived **presigned URL** and sends the bytes straight to
//! the bucket; your server checks the upload afterwards and serves files through signed GET URLs.
//!
//! - [`sigv4`]: an exact and fast sans-IO AWS Signature Version 4 signer: presigned URLs and
//!   Authorization headers byte-identical to AWS's own signers, for every object key a user can type.
//! - [`Storage`]: one object-safe trait (`Arc<dyn Storage>`) for presigned uploads and downloads and
//!   server-side put, head, get, delete, list and copy, implemented by [`S3Storage`] for AWS S3,
//!   Cloudflare R2 ([`r2`]) and any S3-compatible server. Switching between them is configuration.
//! - [`credentials`]: keys from the environment, or the credentials a service is given where it runs
//!   (profiles, EKS web identity and Pod Identity, ECS, EC2 instance metadata), refreshed before they
//!   expire.
//! - [`multipart`]: files of any size — `put_object` goes multipart above 32 MiB (parts in parallel,
//!   memory bounded, nothing partial ever visible), and the steps are there for browsers that send
//!   parts through presigned URLs.
//! - [`checksum`]: the bytes stored are the bytes sent — CRC32, CRC32C, CRC64NVME, SHA-1 or SHA-256
//!   computed as they stream (or signed into a browser's presigned upload) and verified by the bucket;
//!   downloads checked as they stream.
//!
//! ## Quick start
//!
//! Presign a browser upload that S3 itself will refuse unless it is exactly one PNG of 48 213 bytes
//! (runnable as it is: signing needs no network):
//!
//! ```
//! use std::time::Duration;
//! use stowage::sigv4::{BucketAddress, Method, Signer};
//! use stowage::Credentials;
//!
//! let signer = Signer::new(Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), "us-east-1", "s3")?;
//! let bucket = BucketAddress::aws("us-east-1", "my-app-uploads")?;
//!
//! let request = bucket
//!     .object(Method::Put, "uploads/profile picture (1).png")?
//!     .header("content-type", "image/png")
//!     .header("content-length", "48213");
//! let presigned = signer.presign(&request, Duration::from_secs(300), time::OffsetDateTime::now_utc())?;
//!
//! assert!(presigned.url().starts_with(
//!     "https://my-app-uploads.s3.us-east-1.amazonaws.com/uploads/profile%20picture%20%281%29.png?"
//! ));
//! // The browser must send exactly these headers with its PUT.
//! assert_eq!(presigned.headers().len(), 2);
//! # Ok::<(), stowage::sigv4::Error>(())
//! ```
//!
//! The same through the [`Storage`] trait, configured from the environment (`S3_BUCKET`,
//! `S3_REGION`, `S3_ENDPOINT`, and `S3_ACCESS_KEY_ID`/`S3_SECRET_ACCESS_KEY` or any source of the
//! [`credentials::CredentialsChain`]):
//!
//! ```no_run
//! # #[cfg(feature = "s3")]
//! # async fn demo() -> stowage::Result<()> {
//! use std::time::Duration;
//! use stowage::{GetOptions, PutOptions, S3Config, Storage};
//!
//! let storage = S3Config::from_env()?.build().await?;
//! let upload = storage.presign_put(
//!     "avatars/42.png",
//!     &PutOptions::new().with_content_type("image/png").with_content_length(48_213),
//!     Duration::from_secs(300),
//! )?;
//! // … the browser PUTs to upload.url with upload.headers; then:
//! let landed = storage.head_object("avatars/42.png", &GetOptions::new()).await?;
//! let download = storage.presign_get("avatars/42.png", &GetOptions::new().with_attachment("me.png"), Duration::from_secs(600))?;
//! # Ok(())
//! # }
//! ```
//!
//! `cargo run --example quickstart` runs the whole flow against an embedded S3 server.
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `s3` | yes | [`Storage`], [`S3Storage`] and the R2 rules (reqwest, tokio) |
//! | `rustls` | yes | TLS through rustls (ring) with the webpki root certificates |
//! | `native-tls` | | TLS through the platform's library (OpenSSL on Linux) |
//! | `serde` | | `Serialize` for `PresignedRequest`, `ObjectMeta` and the multipart values; `Deserialize` for tickets |
//! | `constraints` | | [`constraints`]: upload policies, safe keys, presigned POST, verification after upload |
//! | `sniff` | | [`constraints::verify_upload`] also checks the first bytes against the declared type (`infer`) |
//! | `images` | | [`images`]: images bounded from their header, decoded off the runtime, stripped of metadata, turned upright, re-encoded, with resized variants; promoted clean at completion |
//! | `axum` | | [`axum`]: drop-in upload endpoints (single, multipart, quarantine, Uppy's protocol) |
//! | `testing` | | [`testing`]: a real S3 server (s3s-fs, signatures verified) inside your test's process |
//! | `tracing` | | a span per S3 request; events for retries, clock corrections, R2 refusals, credential fetches |
//!
//! With `default-features = false` only [`sigv4`] remains: no HTTP client, no async runtime, no TLS.
//!
//! ## Security
//!
//! Secret keys and session tokens are zeroed on drop and never appear in `Debug` output or errors;
//! presigned URLs print without their query string. Header values holding CR or LF are refused, and a
//! presigned URL lives at most 7 days, as S3 requires.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
#[cfg(feature = "s3")]
mod body;
#[cfg(feature = "s3")]
#[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
pub mod checksum;
#[cfg(feature = "constraints")]
#[cfg_attr(docsrs, doc(cfg(feature = "constraints")))]
pub mod constraints;
#[cfg(feature = "s3")]
#[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
pub mod credentials;
mod error;
#[cfg(feature = "images")]
#[cfg_attr(docsrs, doc(cfg(feature = "images")))]
pub mod images;
#[cfg(feature = "s3")]
#[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
pub mod multipart;
#[cfg(feature = "s3")]
#[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
pub mod r2;
#[cfg(feature = "s3")]
mod random;
#[cfg(feature = "s3")]
mod s3;
pub mod sigv4;
#[cfg(feature = "s3")]
mod storage;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
#[cfg(feature = "s3")]
mod trace;
#[cfg(feature = "s3")]
mod wire;

#[cfg(feature = "s3")]
#[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
pub use body::{Body, ObjectBody, TransferProgress};
pub use error::{Error, Result, S3ErrorCode, ServiceError};
#[cfg(feature = "s3")]
#[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
pub use s3::{
    CorsConfiguration, CorsRule, CredentialsStatus, DEFAULT_CONCURRENCY, DEFAULT_COPY_PART_SIZE, DEFAULT_LOAD_TIMEOUT,
    DEFAULT_MULTIPART_THRESHOLD, DEFAULT_REFRESH_WINDOW, PayloadSigning, Platform, PreflightReport, PresignExpiry,
    RetryPolicy, S3Config, S3Storage,
};
pub use sigv4::Credentials;
#[cfg(feature = "s3")]
#[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
pub use storage::{
    ByteRange, CompleteOptions, CopyOptions, CopySource, Disposition, GetObjectOutput, GetOptions, ListOptions,
    Listing, ObjectMeta, PartOptions, PostPolicy, PresignedPost, PresignedRequest, PutMode, PutObjectOutput,
    PutOptions, Storage, content_disposition,
};
