//! The upload policy: what a client may upload, checked before anything is signed.

use std::fmt;
use std::time::Duration;

use crate::checksum::Checksum;
use crate::storage::{PostPolicy, PresignedPost, PresignedRequest, PutOptions, Storage};
use crate::{Error, Result};

use super::claims::{FileClaim, PolicyViolation, TypePattern, parse_content_type, shorten};
use super::key::sanitize_filename;

/// What clients may upload, and for how long a presigned upload stays valid.
///
/// ```
/// use std::time::Duration;
/// use stowage::constraints::{FileClaim, UploadPolicy};
///
/// let avatars = UploadPolicy::new("avatars/")
///     .allow_type("image/png")?
///     .allow_type("image/jpeg")?
///     .with_max_size(5 * 1024 * 1024)
///     .with_url_lifetime(Duration::from_secs(120));
/// assert_eq!(avatars.max_size(), 5 * 1024 * 1024);
/// assert!(avatars.check(&FileClaim::new("me.png", "image/png", 48_213)).is_ok());
/// assert!(avatars.check(&FileClaim::new("me.exe", "application/x-msdownload", 48_213)).is_err());
/// # Ok::<(), stowage::constraints::PolicyViolation>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct UploadPolicy {
    allowed: Vec<TypePattern>,
    max_size: u64,
    allow_empty: bool,
    key_prefix: String,
    staging: Option<String>,
    part_size: u64,
    url_lifetime: Duration,
}

impl UploadPolicy {
    /// A policy for keys under `key_prefix` (such as `uploads/`), allowing no type until
    /// [`allow_type`](Self::allow_type) is called, at most 10 MiB, no empty files, 5 minutes.
    pub fn new(key_prefix: impl Into<String>) -> Self {
        Self {
            allowed: Vec::new(),
            max_size: 10 * 1024 * 1024,
            allow_empty: false,
            key_prefix: key_prefix.into(),
            staging: None,
            part_size: crate::multipart::DEFAULT_PART_SIZE,
            url_lifetime: Duration::from_secs(300),
        }
    }

    /// Quarantine: uploads go under `prefix` (such as `staging/`) and reach the policy's own prefix
    /// only once [`complete_upload`](super::complete_upload) has verified them (size, type and, with
    /// `sniff`, content) — by a server-side copy of what was verified, then the delete of the staged
    /// object. Nothing under the final prefix was ever unverified, and a presigned URL used again
    /// after completion can only write into staging, which the application neither lists nor serves.
    ///
    /// Give the staging prefix a lifecycle rule that expires its objects (a day is plenty) and
    /// aborts incomplete multipart uploads: whatever a client abandons there goes away by itself.
    ///
    /// Without it (the default), uploads land at their final key and are verified there: until the
    /// check, and after it for as long as the presigned URL lives, the key may hold bytes nobody
    /// checked. Use that only when every reader of the prefix verifies for itself.
    pub fn with_staging_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.staging = Some(prefix.into());
        self
    }

    /// The preferred part size of multipart tickets ([`presign_multipart`](Self::presign_multipart)):
    /// default 8 MiB, grown to fit 10,000 parts, at least 5 MiB.
    pub fn with_part_size(mut self, bytes: u64) -> Self {
        self.part_size = bytes;
        self
    }

    /// Allows a media type: `image/png`, or a pattern like `image/*`.
    ///
    /// # Errors
    ///
    /// [`PolicyViolation::InvalidContentType`] for a malformed pattern.
    pub fn allow_type(mut self, pattern: &str) -> Result<Self, PolicyViolation> {
        self.allowed.push(TypePattern::parse(pattern)?);
        Ok(self)
    }

    /// The largest upload, in bytes (default 10 MiB).
    pub fn with_max_size(mut self, bytes: u64) -> Self {
        self.max_size = bytes;
        self
    }

    /// Whether empty files are accepted (not by default).
    pub fn with_empty_files(mut self, allow: bool) -> Self {
        self.allow_empty = allow;
        self
    }

    /// How long a presigned upload stays valid (1 s to 7 days; default 5 minutes).
    pub fn with_url_lifetime(mut self, lifetime: Duration) -> Self {
        self.url_lifetime = lifetime;
        self
    }

    /// The key prefix of verified uploads.
    #[must_use]
    pub fn key_prefix(&self) -> &str {
        &self.key_prefix
    }

    /// The staging prefix, when uploads are quarantined ([`with_staging_prefix`](Self::with_staging_prefix)).
    #[must_use]
    pub fn staging_prefix(&self) -> Option<&str> {
        self.staging.as_deref()
    }

    /// How long presigned URLs of this policy stay valid.
    #[must_use]
    pub fn url_lifetime(&self) -> Duration {
        self.url_lifetime
    }

    /// The preferred part size of multipart tickets.
    #[must_use]
    pub fn part_size(&self) -> u64 {
        self.part_size
    }

    /// Whether empty files are accepted.
    #[must_use]
    pub fn empty_files(&self) -> bool {
        self.allow_empty
    }

    /// This policy narrowed for one uploader: keys under `tail` inside both prefixes, at most
    /// `max_size`, and only the types both this policy and `types` allow.
    #[cfg(feature = "axum")]
    pub(crate) fn narrowed(&self, tail: &str, max_size: Option<u64>, types: Option<&[TypePattern]>) -> Self {
        let mut narrowed = self.clone();
        narrowed.key_prefix = format!("{}{tail}", self.key_prefix);
        narrowed.staging = self.staging.as_ref().map(|staging| format!("{staging}{tail}"));
        narrowed.max_size = max_size.map_or(self.max_size, |max| max.min(self.max_size));
        if let Some(types) = types {
            narrowed.allowed =
                self.allowed.iter().flat_map(|mine| types.iter().filter_map(|theirs| mine.intersect(theirs))).collect();
        }
        narrowed
    }

    /// The key the client uploads to and the key the object ends at (the same without staging),
    /// under one fresh unique folder.
    pub(crate) fn keys_for(&self, filename: &str) -> (String, String) {
        let name = sanitize_filename(filename);
        let id = super::key::unique_id();
        let final_key = format!("{}{id}/{name}", self.key_prefix);
        let upload_key = match &self.staging {
            Some(staging) => format!("{staging}{id}/{name}"),
            None => final_key.clone(),
        };
        (upload_key, final_key)
    }

    /// The accepted types and size in words, for a page: "images, PDF documents and text files up
    /// to 32.0 MiB".
    ///
    /// ```
    /// let policy = stowage::constraints::UploadPolicy::new("u/")
    ///     .allow_type("image/*")?.allow_type("application/pdf")?.allow_type("text/plain")?
    ///     .with_max_size(32 << 20);
    /// assert_eq!(policy.accepted_in_words(), "images, PDF documents and text files up to 32.0 MiB");
    /// # Ok::<(), stowage::constraints::PolicyViolation>(())
    /// ```
    #[must_use]
    pub fn accepted_in_words(&self) -> String {
        let kinds: Vec<String> = self.allowed.iter().map(|p| super::words::pattern_in_words(&p.to_string())).collect();
        let list = match kinds.as_slice() {
            [] => "no files".to_owned(),
            [one] => one.clone(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
        };
        format!("{list} up to {}", crate::error::human_size(self.max_size))
    }

    /// The largest upload, in bytes.
    #[must_use]
    pub fn max_size(&self) -> u64 {
        self.max_size
    }

    /// The allowed type patterns.
    #[must_use]
    pub fn allowed_types(&self) -> &[TypePattern] {
        &self.allowed
    }

    /// Checks a client's claims about a file: type allowed, size (when declared) within the limit,
    /// not empty unless allowed.
    ///
    /// # Errors
    ///
    /// The first [`PolicyViolation`] found.
    pub fn check(&self, claim: &FileClaim) -> Result<(), PolicyViolation> {
        let content_type = claim.content_type();
        let (kind, subtype) = parse_content_type(content_type)?;
        if !self.allowed.iter().any(|p| p.matches(&kind, &subtype)) {
            return Err(PolicyViolation::TypeNotAllowed {
                content_type: shorten(content_type),
                allowed: self.allowed.iter().map(ToString::to_string).collect(),
            });
        }
        claim.checksum().map_err(PolicyViolation::InvalidChecksum)?;
        claim.part_checksums().map_err(PolicyViolation::InvalidChecksum)?;
        match claim.declared_size() {
            Some(0) if !self.allow_empty => Err(PolicyViolation::Empty),
            Some(size) if size > self.max_size => Err(PolicyViolation::TooLarge { size, max: self.max_size }),
            _ => Ok(()),
        }
    }

    /// Checks the client's claims, then presigns a PUT to a fresh, safe key ([`safe_key`](super::safe_key)) that signs
    /// the exact Content-Type and Content-Length, so that S3 or R2 itself refuses any other upload.
    ///
    /// # Errors
    ///
    /// [`Error::Policy`] when the claims break the policy (answer with its
    /// [`http_status`](PolicyViolation::http_status)); signing and backend errors otherwise.
    pub fn presign_upload(&self, storage: &dyn Storage, claim: &FileClaim) -> Result<UploadTicket> {
        self.check(claim).map_err(Error::Policy)?;
        let declared_size = claim.declared_size().ok_or(Error::Policy(PolicyViolation::SizeRequired))?;
        let (filename, content_type) = (claim.filename(), claim.content_type());
        let (upload_key, final_key) = self.keys_for(filename);
        let checksum = claim.checksum().map_err(|e| Error::Policy(PolicyViolation::InvalidChecksum(e)))?;
        let mut options = PutOptions::new().with_content_type(content_type).with_content_length(declared_size);
        if let Some(checksum) = checksum {
            options = options.with_checksum_value(checksum);
        }
        let request = storage.presign_put(&upload_key, &options, self.url_lifetime)?;
        Ok(UploadTicket {
            upload_key,
            final_key,
            filename: sanitize_filename(filename),
            content_type: content_type.to_owned(),
            size: declared_size,
            checksum,
            request,
        })
    }

    /// As [`presign_upload`](Self::presign_upload), for an HTML form: a presigned POST whose policy
    /// requires a key inside this upload's own unique folder (`starts-with` on the key), the exact
    /// content type and exactly the declared size (`content-length-range`). Not available on
    /// Cloudflare R2.
    ///
    /// # Errors
    ///
    /// As [`presign_upload`](Self::presign_upload); [`Error::Unsupported`] on R2.
    pub fn presign_post(&self, storage: &dyn Storage, claim: &FileClaim) -> Result<(UploadTicket, PresignedPost)> {
        self.check(claim).map_err(Error::Policy)?;
        if claim.checksum().ok().flatten().is_some() {
            return Err(Error::Policy(PolicyViolation::PartChecksum(
                "a form upload (presigned POST) signs no checksum here; use a presigned PUT".into(),
            )));
        }
        let declared_size = claim.declared_size().ok_or(Error::Policy(PolicyViolation::SizeRequired))?;
        let (filename, content_type) = (claim.filename(), claim.content_type());
        let (upload_key, final_key) = self.keys_for(filename);
        // The key may vary only inside this upload's own unguessable folder, and the size is the
        // declared one: the form cannot write over another upload, and verification agrees with it.
        let folder = upload_key.rsplit_once('/').map_or(upload_key.as_str(), |(folder, _)| folder);
        let policy = PostPolicy::new(upload_key.clone())
            .with_key_starts_with(format!("{folder}/"))
            .with_content_type(content_type)
            .with_content_length_range(declared_size, declared_size)
            .with_success_action_status(201);
        let post = storage.presign_post(&policy, self.url_lifetime)?;
        let ticket = UploadTicket {
            upload_key,
            final_key,
            filename: sanitize_filename(filename),
            content_type: content_type.to_owned(),
            size: declared_size,
            checksum: None,
            request: PresignedRequest {
                method: "POST".into(),
                url: post.url.clone(),
                headers: Default::default(),
                expires_at: post.expires_at,
            },
        };
        Ok((ticket, post))
    }
}

/// A presigned upload and what it was signed for: the keys, the exact type and size. Keep it (or its
/// keys, type and size) until the client says it is done, then pass it to
/// [`complete_upload`](super::complete_upload).
///
/// With `serde`, `upload_key` is written `key`: the name the browser sends back at completion.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct UploadTicket {
    /// Where the client uploads: the staging key when the policy quarantines uploads.
    #[cfg_attr(feature = "serde", serde(rename = "key"))]
    pub upload_key: String,
    /// Where the object is once verified (the same as `key` without staging).
    pub final_key: String,
    /// The client's file name, sanitised: offer it back as the download name.
    pub filename: String,
    /// The signed Content-Type.
    pub content_type: String,
    /// The signed Content-Length.
    pub size: u64,
    /// The signed checksum, if the client gave one: the bucket refused other bytes, and
    /// verification checks the one it keeps.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub checksum: Option<Checksum>,
    /// What the client sends: method, URL, headers, expiry.
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub request: PresignedRequest,
}

impl UploadTicket {
    /// A ticket for an object uploaded by other means (stored key, type and size), to verify it.
    #[must_use]
    pub fn for_existing(key: impl Into<String>, content_type: impl Into<String>, size: u64) -> Self {
        let key = key.into();
        Self {
            filename: sanitize_filename(key.rsplit('/').next().unwrap_or_default()),
            final_key: key.clone(),
            upload_key: key,
            content_type: content_type.into(),
            size,
            checksum: None,
            request: PresignedRequest {
                method: String::new(),
                url: String::new(),
                headers: Default::default(),
                expires_at: time::OffsetDateTime::UNIX_EPOCH,
            },
        }
    }
}

impl fmt::Debug for UploadTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadTicket")
            .field("upload_key", &self.upload_key)
            .field("final_key", &self.final_key)
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("size", &self.size)
            .field("checksum", &self.checksum)
            .field("request", &self.request)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> UploadPolicy {
        UploadPolicy::new("u/")
            .allow_type("image/*")
            .unwrap()
            .allow_type("application/pdf")
            .unwrap()
            .with_max_size(1000)
    }

    #[test]
    fn types_sizes_and_emptiness() {
        let p = policy();
        assert!(p.check(&FileClaim::new("a.png", "image/png", 10)).is_ok());
        assert!(p.check(&FileClaim::new("a.png", "IMAGE/PNG", 10)).is_ok());
        assert!(p.check(&FileClaim::new("a.pdf", "application/pdf; charset=binary", 10)).is_ok());
        let err = p.check(&FileClaim::new("a.exe", "application/x-msdownload", 10)).unwrap_err();
        assert_eq!(err.http_status(), 415);
        assert_eq!(
            err.to_string(),
            "files of type application/x-msdownload are not accepted (allowed: image/*, application/pdf)"
        );
        let err = p.check(&FileClaim::new("a.png", "image/png", 5 * 1024 * 1024 * 1024)).unwrap_err();
        assert_eq!(err.http_status(), 413);
        assert_eq!(err.to_string(), "the file is 5.0 GiB but the limit is 1000 bytes");
        assert_eq!(p.check(&FileClaim::new("a.png", "image/png", 0)), Err(PolicyViolation::Empty));
        assert!(p.clone().with_empty_files(true).check(&FileClaim::new("a.png", "image/png", 0)).is_ok());
        for bad in ["", "image", "image/", "/png", "image/png\r\nX: y", "ima ge/png", "*/png"] {
            assert!(
                matches!(p.check(&FileClaim::new("a", bad, 1)), Err(PolicyViolation::InvalidContentType { .. })),
                "{bad:?}"
            );
        }
        assert!(UploadPolicy::new("").allow_type("*/png").is_err());
        assert!(UploadPolicy::new("").allow_type("*/*").unwrap().check(&FileClaim::new("x", "text/plain", 1)).is_ok());
        assert!(
            UploadPolicy::new("").check(&FileClaim::new("x", "text/plain", 1)).is_err(),
            "nothing is allowed by default"
        );
    }
}
