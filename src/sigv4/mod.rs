//! A sans-IO AWS Signature Version 4 signer for S3 and S3-compatible servers.
//!
//! This module knows nothing of HTTP clients, async runtimes or the clock. A [`Request`] (method,
//! URL parts, headers, payload hash) and a signing time go in; a presigned URL ([`PresignedUrl`]) or
//! the headers that authenticate the request ([`AuthHeaders`]) come out. It builds with
//! `--no-default-features`, which pulls in no HTTP client, no runtime and no TLS.
//!
//! What it gets right where others slip:
//!
//! - **Keys are encoded exactly as S3 and botocore do**: UTF-8 bytes, only `A-Za-z0-9-_.~/` kept,
//!   uppercase hex, and no normalisation of `//`, `.`, `..`, leading or trailing slashes
//!   ([`BucketAddress::object`], [`encode_path`]). The URL returned is built from the very bytes that
//!   were signed.
//! - **Nothing is added behind your back**: no checksum headers, no `x-amz-content-sha256` in presigned
//!   URLs; every header you pass is signed, and only those.
//! - **Fast**: the derived signing key is cached per day in the [`Signer`] (thread-safe), and the HMAC
//!   state keyed with it is reused, so a presigned URL costs about two SHA-256 passes.
//! - **Strict**: expiry outside 1 s ..= 7 days, header values with CR/LF or other control characters,
//!   empty or over-long keys, regions that are not plain tokens are refused with an [`Error`], never a
//!   panic. Secrets never appear in `Debug` output or errors.
//!
//! The general SigV4 rules of other AWS services (path normalisation, double encoding) are available
//! through [`SigningSettings::generic`].
//!
//! ```
//! use std::time::Duration;
//! use stowage::sigv4::{parse_amz_date, BucketAddress, Method, Signer};
//! use stowage::Credentials;
//!
//! let signer = Signer::new(Credentials::new("AKIDEXAMPLE", "secret"), "auto", "s3")?;
//! let bucket = BucketAddress::new(
//!     "https://0123456789abcdef.r2.cloudflarestorage.com",
//!     "uploads",
//!     stowage::sigv4::AddressingStyle::Path,
//! )?;
//! let at = parse_amz_date("20250101T000000Z")?;
//!
//! // A browser upload, constrained to a PNG of exactly 1024 bytes.
//! let put = bucket
//!     .object(Method::Put, "avatars/42.png")?
//!     .header("content-type", "image/png")
//!     .header("content-length", "1024");
//! let presigned = signer.presign(&put, Duration::from_secs(300), at)?;
//! assert!(presigned.url().contains("X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost"));
//!
//! // A server-side request signed with an Authorization header.
//! let head = bucket.object(Method::Head, "avatars/42.png")?.payload(stowage::sigv4::Payload::EMPTY);
//! let auth = signer.sign(&head, at)?;
//! assert!(auth.authorization().starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/auto/s3/aws4_request"));
//! # Ok::<(), stowage::sigv4::Error>(())
//! ```

mod address;
mod canonical;
mod credentials;
mod encode;
mod error;
mod key;
mod output;
mod presign;
mod request;
mod settings;
mod sha;
mod signer;
mod time;

pub use address::{AddressingStyle, BucketAddress, MAX_KEY_LEN, check_key};
pub use credentials::Credentials;
pub use encode::{encode_component, encode_path};
pub use error::Error;
#[cfg(feature = "s3")]
pub(crate) use key::is_scope_token;
pub use output::{
    AuthHeaders, PresignedHeaders, PresignedHeadersIter, PresignedUrl, SigningDetails, redact_query, redact_token,
};
pub use presign::MAX_PRESIGN_EXPIRY;
#[cfg(feature = "s3")]
pub(crate) use presign::check_expiry;
pub use request::{Method, Payload, Request, Scheme};
pub use settings::{SessionToken, SigningSettings};
pub use signer::Signer;
pub use time::{format_amz_date, parse_amz_date};
