//! # stowage
//!
//! Store user files in Amazon S3 or Cloudflare R2 from a Rust service, the way the field recommends:
//! the browser asks your server for a short-lived **presigned URL** and sends the bytes straight to
//! the bucket; your server checks the upload afterwards and serves files through signed GET URLs.
//!
//! At its core is [`sigv4`], an exact and fast sans-IO AWS Signature Version 4 signer: presigned URLs
//! and Authorization headers byte-identical to AWS's own signers, for every object key a user can
//! type.
//!
//! ## Quick start
//!
//! ```
//! use std::time::Duration;
//! use stowage::sigv4::{BucketAddress, Method, Signer};
//! use stowage::Credentials;
//!
//! let signer = Signer::new(Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), "us-east-1", "s3")?;
//! let bucket = BucketAddress::aws("us-east-1", "my-app-uploads")?;
//!
//! // Let a browser PUT one JPEG, for five minutes.
//! let request = bucket
//!     .object(Method::Put, "uploads/profile picture (1).jpg")?
//!     .header("content-type", "image/jpeg");
//! let now = time::OffsetDateTime::now_utc();
//! let presigned = signer.presign(&request, Duration::from_secs(300), now)?;
//!
//! assert!(presigned.url().starts_with(
//!     "https://my-app-uploads.s3.us-east-1.amazonaws.com/uploads/profile%20picture%20%281%29.jpg?"
//! ));
//! // The browser must send exactly these headers with its PUT.
//! assert_eq!(presigned.headers(), [("content-type".to_owned(), "image/jpeg".to_owned())]);
//! # Ok::<(), stowage::sigv4::Error>(())
//! ```
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | *(none)* | | [`sigv4`]: the signing core, with no HTTP client, no async runtime and no TLS |
//!
//! ## Security
//!
//! Secret keys and session tokens are zeroed on drop and never appear in `Debug` output or errors;
//! presigned URLs print without their query string. Header values holding CR or LF are refused, and a
//! presigned URL lives at most 7 days, as S3 requires.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "s3")]
mod body;
mod credentials;
mod error;
#[cfg(feature = "s3")]
pub mod r2;
#[cfg(feature = "s3")]
mod s3;
pub mod sigv4;
#[cfg(feature = "s3")]
mod storage;

#[cfg(feature = "s3")]
pub use body::{Body, ObjectBody};
pub use credentials::Credentials;
pub use error::{Error, Result, S3ErrorCode, ServiceError};
#[cfg(feature = "s3")]
pub use s3::{Provider, RetryPolicy, S3Config, S3Storage};
#[cfg(feature = "s3")]
pub use storage::{
    ByteRange, Disposition, GetObjectOutput, GetOptions, ListOptions, ObjectList, ObjectMeta, PresignedRequest,
    PutObjectOutput, PutOptions, Storage, content_disposition,
};
