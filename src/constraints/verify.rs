//! Checking an upload after the client says it is done.

use std::fmt;

use crate::storage::{GetOptions, ObjectMeta, Storage};
use crate::{Error, Result};

use super::policy::UploadTicket;

/// How [`verify_upload`] checks, and what it does about a mismatch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct VerifyOptions {
    delete_on_mismatch: bool,
    sniff: bool,
    #[cfg(feature = "images")]
    images: Option<std::sync::Arc<crate::images::ImagePolicy>>,
}

impl VerifyOptions {
    /// Check existence, size and type; leave a mismatching object in place.
    pub fn new() -> Self {
        Self::default()
    }

    /// Delete an object that does not match what was signed.
    pub fn with_delete_on_mismatch(mut self, delete: bool) -> Self {
        self.delete_on_mismatch = delete;
        self
    }

    /// Also fetch the first bytes (a ranged GET of 8 KiB) and check them against the signature of
    /// the declared type: PNG, JPEG, GIF, WebP, PDF, ZIP and the many other formats the `infer` crate
    /// knows.
    #[cfg(feature = "sniff")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sniff")))]
    pub fn with_sniff(mut self, sniff: bool) -> Self {
        self.sniff = sniff;
        self
    }

    /// Make images clean at completion (feature `images`): JPEG, PNG, WebP and GIF uploads are
    /// bounded, decoded off the runtime, stripped, turned upright and re-encoded, and the clean
    /// image — never the original — is what is promoted, with the policy's variants beside it (see
    /// [`crate::images`]). A refused image is a mismatch ([`Mismatch::Image`]), deleted under
    /// quarantine and after a multipart upload, and in place with
    /// [`with_delete_on_mismatch`](Self::with_delete_on_mismatch).
    #[cfg(feature = "images")]
    #[cfg_attr(docsrs, doc(cfg(feature = "images")))]
    pub fn with_images(mut self, policy: crate::images::ImagePolicy) -> Self {
        self.images = Some(std::sync::Arc::new(policy));
        self
    }

    /// The image policy completions apply, if any.
    #[cfg(feature = "images")]
    #[must_use]
    pub fn images(&self) -> Option<&crate::images::ImagePolicy> {
        self.images.as_deref()
    }

    /// Whether a mismatching object is deleted.
    #[must_use]
    pub fn delete_on_mismatch(&self) -> bool {
        self.delete_on_mismatch
    }

    /// Whether the first bytes are checked against the declared type.
    #[must_use]
    pub fn sniff(&self) -> bool {
        self.sniff
    }
}

/// One way an upload differs from what was signed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mismatch {
    /// Nothing was uploaded to the key.
    Missing,
    /// The object's size is not the signed size.
    Size {
        /// The signed size.
        expected: u64,
        /// The stored size.
        actual: u64,
    },
    /// The object's Content-Type is not the signed one.
    Type {
        /// The signed type.
        expected: String,
        /// The stored type.
        actual: Option<String>,
    },
    /// The first bytes are not those of the declared type.
    Content {
        /// The declared type.
        declared: String,
        /// What the bytes look like, if recognised.
        detected: Option<String>,
    },
    /// The object changed between its check and its promotion (the copy's ETag condition failed).
    Changed,
    /// The parts of a multipart upload are not those of its plan.
    Parts(PartProblem),
    /// The image was refused by the image pipeline (feature `images`).
    #[cfg(feature = "images")]
    Image(crate::images::ImageRefusal),
    /// The checksum the bucket keeps for the object is not the one the client signed (or the bucket
    /// keeps none).
    Checksum {
        /// The checksum signed, as S3 writes it.
        expected: String,
        /// The checksum stored, if any.
        actual: Option<String>,
    },
}

/// How the parts named at completion differ from an upload's plan or from what the server stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PartProblem {
    /// A part of the plan is not stored (or not named).
    Missing {
        /// Its number.
        number: u32,
    },
    /// A part is named that the plan does not have.
    Extra {
        /// Its number.
        number: u32,
    },
    /// The parts are not named in order.
    Order,
    /// A stored part is not its planned size.
    Size {
        /// Its number.
        number: u32,
        /// The planned size.
        expected: u64,
        /// The stored size.
        actual: u64,
    },
    /// A named ETag is not the one the server gave the part.
    ETag {
        /// Its number.
        number: u32,
    },
    /// A part's checksum is not the one the client named, or it has none where the upload was made
    /// with checksums.
    Checksum {
        /// Its number.
        number: u32,
    },
}

impl fmt::Display for PartProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { number } => write!(f, "part {number} was not uploaded"),
            Self::Extra { number } => write!(f, "part {number} is not part of the upload's plan"),
            Self::Order => f.write_str("the parts are not listed in order, each once"),
            Self::Size { number, expected, actual } => {
                write!(f, "part {number} holds {actual} bytes instead of {expected}")
            }
            Self::ETag { number } => write!(f, "part {number}'s ETag is not the one the storage gave it"),
            Self::Checksum { number } => write!(f, "part {number}'s checksum is not the one its bytes were sent with"),
        }
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("nothing was uploaded"),
            Self::Size { expected, actual } => write!(f, "{actual} bytes arrived instead of {expected}"),
            Self::Type { expected, actual } => {
                write!(f, "stored as {} instead of {expected}", actual.as_deref().unwrap_or("no type"))
            }
            Self::Content { declared, detected: Some(detected) } => {
                write!(f, "declared {declared} but the contents are {detected}")
            }
            Self::Content { declared, detected: None } => {
                write!(f, "declared {declared} but the contents do not start like one")
            }
            Self::Changed => f.write_str("the object changed after it was checked"),
            Self::Parts(problem) => write!(f, "{problem}"),
            Self::Checksum { expected, actual: Some(actual) } => {
                write!(f, "its stored checksum is {actual}, not the {expected} signed")
            }
            Self::Checksum { expected, actual: None } => {
                write!(f, "the storage keeps no checksum for it (the {expected} signed cannot be checked)")
            }
            #[cfg(feature = "images")]
            Self::Image(refusal) => write!(f, "{refusal}"),
        }
    }
}

impl Mismatch {
    /// The problem in words for the person who uploaded, without keys or media types: "This file is
    /// a Windows program, not a PNG image".
    #[must_use]
    pub fn user_message(&self) -> String {
        use super::words::type_in_words;
        match self {
            Self::Missing => "The file did not arrive".to_owned(),
            Self::Size { expected, actual } => format!(
                "The file that arrived holds {} instead of the {} announced",
                crate::error::human_size(*actual),
                crate::error::human_size(*expected)
            ),
            Self::Type { expected, .. } => {
                format!("The file was not stored as {}, as announced", type_in_words(expected))
            }
            Self::Content { declared, detected: Some(found) } => {
                format!("This file is {}, not {}", type_in_words(found), type_in_words(declared))
            }
            Self::Content { declared, detected: None } => {
                format!("This file is not {}, as its name and type say", type_in_words(declared))
            }
            Self::Changed => "The file changed while it was being checked".to_owned(),
            Self::Parts(PartProblem::Missing { .. }) => "Some parts of the file have not arrived yet".to_owned(),
            Self::Parts(_) => "The parts that arrived are not the file that was announced".to_owned(),
            Self::Checksum { .. } => "The file that arrived is not the one this browser read".to_owned(),
            #[cfg(feature = "images")]
            Self::Image(refusal) => refusal.user_message().trim_end_matches('.').to_owned(),
        }
    }
}

/// An upload that does not match what was signed: every difference found, and whether the object
/// was deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadMismatch {
    /// The key checked.
    pub key: String,
    /// What differed.
    pub problems: Vec<Mismatch>,
    /// Whether the object was deleted ([`VerifyOptions::with_delete_on_mismatch`]).
    pub deleted: bool,
}

impl UploadMismatch {
    /// The HTTP status to answer the client with: 409 when nothing (or not everything) arrived or
    /// the object changed under the check, 422 otherwise.
    #[must_use]
    pub fn http_status(&self) -> u16 {
        #[cfg(feature = "images")]
        if let Some(Mismatch::Image(refusal)) = self.problems.iter().find(|p| matches!(p, Mismatch::Image(_))) {
            return refusal.http_status();
        }
        let conflict = self
            .problems
            .iter()
            .any(|p| matches!(p, Mismatch::Missing | Mismatch::Changed | Mismatch::Parts(PartProblem::Missing { .. })));
        if conflict { 409 } else { 422 }
    }

    /// The first problem in words for the person who uploaded, and what became of the file: "This
    /// file is a Windows program, not a PNG image; it was not kept."
    #[must_use]
    pub fn user_message(&self) -> String {
        let first = self
            .problems
            .first()
            .map_or_else(|| "The upload is not what was announced".to_owned(), Mismatch::user_message);
        if self.deleted { format!("{first}; it was not kept.") } else { format!("{first}.") }
    }
}

impl fmt::Display for UploadMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the upload to {:?} does not match what was signed: ", self.key)?;
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{problem}")?;
        }
        if self.deleted {
            f.write_str(" (deleted)")?;
        }
        Ok(())
    }
}

impl std::error::Error for UploadMismatch {}

/// The lowercase `type/subtype` of a content type.
fn essence(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// Checks what landed at `ticket.upload_key` after the client says the upload is done: it exists, its
/// size is the signed size, its type the signed type, and (with [`VerifyOptions::with_sniff`]) its
/// first bytes look like that type.
///
/// A presigned PUT stays usable until it expires: a client could upload again, other bytes of the same
/// type and size, after the check. Keep expiries short, and verify after the URL has expired or copy
/// the verified object to its final key when that matters.
///
/// # Errors
///
/// [`Error::Mismatch`] listing what differed (answer with its
/// [`http_status`](UploadMismatch::http_status)); backend errors otherwise.
pub async fn verify_upload(
    storage: &dyn Storage,
    ticket: &UploadTicket,
    options: &VerifyOptions,
) -> Result<ObjectMeta> {
    verify(storage, ticket, options, true).await
}

/// As [`verify_upload`] but without the stored type: for bytes uploaded without a signed type (part
/// 1 of a quarantined multipart upload), whose content is still checked against the declared type.
pub(crate) async fn check_content(
    storage: &dyn Storage,
    ticket: &UploadTicket,
    options: &VerifyOptions,
) -> Result<ObjectMeta> {
    verify(storage, ticket, options, false).await
}

async fn verify(
    storage: &dyn Storage,
    ticket: &UploadTicket,
    options: &VerifyOptions,
    check_type: bool,
) -> Result<ObjectMeta> {
    let asked = GetOptions::new().with_checksum_mode(ticket.checksum.is_some());
    let Some(meta) = storage.head_object(&ticket.upload_key, &asked).await? else {
        return Err(Error::Mismatch(UploadMismatch {
            key: ticket.upload_key.clone(),
            problems: vec![Mismatch::Missing],
            deleted: false,
        }));
    };
    let mut problems = Vec::new();
    if meta.size != ticket.size {
        problems.push(Mismatch::Size { expected: ticket.size, actual: meta.size });
    }
    if check_type && meta.content_type.as_deref().map(essence) != Some(essence(&ticket.content_type)) {
        problems.push(Mismatch::Type { expected: ticket.content_type.clone(), actual: meta.content_type.clone() });
    }
    if let Some(expected) = &ticket.checksum
        && meta.checksum.is_none_or(|stored| stored.checksum != *expected || stored.parts.is_some())
    {
        problems.push(Mismatch::Checksum {
            expected: expected.to_base64(),
            actual: meta.checksum.map(|stored| stored.to_string()),
        });
    }
    // The first bytes are worth reading only for an object that is otherwise what was signed.
    if options.sniff && problems.is_empty() && meta.size > 0 {
        match sniff(storage, ticket, meta.etag.as_deref()).await {
            Ok(Some(problem)) => problems.push(problem),
            Ok(None) => {}
            Err(e) => return Err(e),
        }
    }
    if problems.is_empty() {
        return Ok(meta);
    }
    let deleted = options.delete_on_mismatch && storage.delete_object(&ticket.upload_key).await.is_ok();
    Err(Error::Mismatch(UploadMismatch { key: ticket.upload_key.clone(), problems, deleted }))
}

#[cfg(not(feature = "sniff"))]
async fn sniff(_storage: &dyn Storage, _ticket: &UploadTicket, _etag: Option<&str>) -> Result<Option<Mismatch>> {
    Ok(None)
}

#[cfg(feature = "sniff")]
async fn sniff(storage: &dyn Storage, ticket: &UploadTicket, etag: Option<&str>) -> Result<Option<Mismatch>> {
    use crate::storage::ByteRange;
    const HEAD: usize = 8192;
    if ticket.size == 0 {
        return Ok(None);
    }
    // The bytes read are those of the object whose size and type were checked: its ETag is the
    // read's condition.
    let mut options = GetOptions::new().with_range(ByteRange::first(HEAD as u64));
    if let Some(etag) = etag {
        options = options.with_if_match(etag);
    }
    let object = match storage.get_object(&ticket.upload_key, &options).await {
        Ok(Some(object)) => object,
        Ok(None) => return Ok(Some(Mismatch::Missing)),
        Err(Error::PreconditionFailed { .. }) => return Ok(Some(Mismatch::Changed)),
        Err(e) => return Err(e),
    };
    let mut object = object;
    let mut head = Vec::with_capacity(HEAD);
    while head.len() < HEAD {
        match object.body.chunk().await? {
            Some(chunk) => head.extend_from_slice(&chunk[..chunk.len().min(HEAD - head.len())]),
            None => break,
        }
    }
    Ok(content_verdict(&essence(&ticket.content_type), &head))
}

/// Whether `head` looks like `declared` (a lowercase essence).
#[cfg(feature = "sniff")]
pub(crate) fn content_verdict(declared: &str, head: &[u8]) -> Option<Mismatch> {
    let declared = canonical_type(declared);
    let detected = infer::get(head).map(|t| canonical_type(t.mime_type()));
    let mismatch = |detected: Option<&str>| Mismatch::Content {
        declared: declared.to_owned(),
        detected: detected.map(str::to_owned),
    };
    match detected {
        // "Some binary data" claims nothing to check.
        _ if declared == "application/octet-stream" => None,
        Some(found) if found == declared => None,
        // Office documents, EPUB, JAR and the like are ZIP files inside.
        Some("application/zip") if is_zip_based(declared) => None,
        Some(found) => Some(mismatch(Some(found))),
        // No known signature: only a type with a signature of its own is contradicted.
        None if infer::is_mime_supported(declared) => Some(mismatch(None)),
        None => None,
    }
}

/// The usual name of a type that has aliases.
#[cfg(feature = "sniff")]
fn canonical_type(mime: &str) -> &str {
    match mime {
        "image/jpg" | "image/pjpeg" => "image/jpeg",
        "image/x-png" | "image/apng" => "image/png",
        "application/x-zip-compressed" | "application/x-zip" => "application/zip",
        "application/x-pdf" => "application/pdf",
        "audio/mp3" => "audio/mpeg",
        other => other,
    }
}

#[cfg(feature = "sniff")]
fn is_zip_based(mime: &str) -> bool {
    mime.starts_with("application/vnd.openxmlformats-officedocument.")
        || mime.starts_with("application/vnd.oasis.opendocument.")
        || matches!(
            mime,
            "application/epub+zip" | "application/java-archive" | "application/vnd.android.package-archive"
        )
}

#[cfg(all(test, feature = "sniff"))]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
    const JPEG: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0";
    const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj";
    const ELF: &[u8] = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0\x01\0\0\0\0\x10\x40\0\0\0\0\0\
        \x40\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x40\0\x38\0\x01\0\0\0\0\0";

    #[test]
    fn verdicts() {
        assert_eq!(content_verdict("image/png", PNG), None);
        assert_eq!(content_verdict("image/jpeg", JPEG), None);
        assert_eq!(content_verdict("image/jpg", JPEG), None);
        assert_eq!(content_verdict("application/pdf", PDF), None);
        assert!(
            matches!(content_verdict("image/png", JPEG), Some(Mismatch::Content { detected: Some(d), .. }) if d == "image/jpeg")
        );
        assert!(matches!(
            content_verdict("image/png", b"just text, no png"),
            Some(Mismatch::Content { detected: None, .. })
        ));
        assert!(content_verdict("text/plain", ELF).is_some(), "an executable is not text");
        assert_eq!(content_verdict("text/csv", b"a,b\n1,2\n"), None, "no signature to check");
        assert_eq!(content_verdict("application/octet-stream", ELF), None);
    }
}
