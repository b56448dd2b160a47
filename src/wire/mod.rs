//! What S3 puts on the wire besides signatures: its XML documents and its two date formats.
//!
//! Shared by the credentials providers (STS answers in XML), the crate's errors (S3 error documents)
//! and the S3 backend; it knows nothing of any of them.

pub(crate) mod dates;
pub(crate) mod xml;
