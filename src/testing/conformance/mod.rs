//! The conformance suite: proof that a [`Storage`] behaves like the real thing (feature `testing`).
//!
//! One public async function per capability, each over `&dyn Storage`, so that any backend — this
//! crate's S3 backend on a real server, a wrapper of yours that adds caching or logging, or an
//! in-memory fake for your own tests — can show it keeps the trait's promises:
//!
//! | function | what it proves |
//! |---|---|
//! | [`objects`] | put, head, get and delete of keys that break other crates (spaces, `+`, `%`, `?`, `#`, unicode, `//`, `..`, 1024 bytes), metadata kept |
//! | [`missing_objects`] | reads of nothing say `None`; deleting nothing succeeds |
//! | [`ranges`] | byte ranges, with the whole object's size |
//! | [`streams_and_files`] | files and streams uploaded exactly; a stream shorter or longer than it declared stores nothing |
//! | [`presigned_get`] | presigned downloads work from a plain HTTP client, with their overrides; a tampered or reused URL is refused |
//! | [`presigned_put`] | presigned uploads work, and the bucket itself refuses another type, size or a missing type |
//! | [`listing`] | prefixes, key order, `start_after`, every page followed |
//! | [`multipart`] | parts in any order, listed, completed exactly; bad completions refused; abort and stale uploads |
//! | [`presigned_parts`] | part URLs that sign the part's size: another size refused by the bucket |
//! | [`copy`] | server-side copies, metadata kept or replaced; another version of the source refused |
//! | [`conditional_writes`] | [`PutMode`](crate::PutMode) on puts, presigned puts, completions and copies |
//! | [`conditional_reads`] | `If-Match` and `If-None-Match` on get and head |
//!
//! [`all`] runs them in order. Each function writes under [`Profile::prefix`], cleans up after
//! itself, and returns a [`Report`] (the cases that passed, and notes where the server's documented
//! differences showed) or the first [`Failure`].
//!
//! **Servers differ; the suite says how, never looks away.** A [`Profile`] states what the server
//! behind the storage does where it differs from Amazon S3 (s3s-fs lists no part ETags, a server may
//! ignore `If-None-Match`, …). Each check then asserts the exact behaviour the profile states: a
//! server that does *better* than its profile fails as surely as one that does worse, so a profile
//! cannot hide a difference by being vague. [`Profile::amazon_s3`] is the reference;
//! [`Profile::s3s_fs`] is the [`TestServer`](super::TestServer)'s.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use stowage::testing::{TestServer, conformance};
//!
//! let server = TestServer::start().await?;
//! let storage = server.storage()?; // or your wrapper around it
//! let report = conformance::all(&storage, &conformance::Profile::s3s_fs()).await?;
//! println!("{} cases passed; notes: {:?}", report.cases, report.notes);
//! # Ok(())
//! # }
//! ```
//!
//! Presigned URLs are used as a browser uses them: plain HTTP requests carrying exactly the URL and
//! headers returned, the path never rewritten (over `http://`; over `https://` through reqwest,
//! which rewrites `.`/`..` segments, so such keys are not tried through presigned URLs there).

mod conditional;
mod copy;
mod listing;
mod multipart;
mod objects;
mod presigned;

use std::fmt;

pub use conditional::{conditional_reads, conditional_writes};
pub use copy::copy;
pub use listing::listing;
pub use multipart::{multipart, presigned_parts};
pub use objects::{missing_objects, objects, ranges, streams_and_files};
pub use presigned::{presigned_get, presigned_put};

use crate::Storage;

/// What the server behind a storage does where it differs from Amazon S3: the suite's expectations.
///
/// Start from [`Profile::amazon_s3`] (or [`Profile::s3s_fs`]) and change what differs with the
/// `with_*` methods; each says which check it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Profile {
    name: String,
    prefix: String,
    max_key_bytes: usize,
    stores_leading_slash: bool,
    listing_encodes_keys: bool,
    lists_etags: bool,
    lists_part_etags: bool,
    lists_multipart_uploads: bool,
    checks_part_etags: bool,
    keeps_refused_uploads: bool,
    binds_upload_ids_to_keys: bool,
    aborts_unknown_uploads_quietly: bool,
    conditional_puts: bool,
    conditional_completions: bool,
    conditional_copies: bool,
    conditional_reads: bool,
}

impl Profile {
    /// Amazon S3, as its documentation describes it: every check at its strictest.
    pub fn amazon_s3() -> Self {
        Self {
            name: "Amazon S3".into(),
            prefix: String::new(),
            max_key_bytes: 1024,
            stores_leading_slash: true,
            listing_encodes_keys: true,
            lists_etags: true,
            lists_part_etags: true,
            lists_multipart_uploads: true,
            checks_part_etags: true,
            keeps_refused_uploads: true,
            binds_upload_ids_to_keys: true,
            aborts_unknown_uploads_quietly: true,
            conditional_puts: true,
            conditional_completions: true,
            conditional_copies: true,
            conditional_reads: true,
        }
    }

    /// s3s-fs 0.14, the server of [`TestServer`](super::TestServer): keys are files (no leading
    /// slash, at most about 180 bytes), listings ignore `encoding-type=url` and give no ETags,
    /// `ListParts` gives no ETags either, no `ListMultipartUploads`, part ETags not checked at
    /// completion, an upload dropped when its completion is refused, upload ids not bound to their key, 403 for an unknown upload, and conditions on neither copies nor reads.
    pub fn s3s_fs() -> Self {
        Self::amazon_s3()
            .with_name("s3s-fs")
            .with_max_key_bytes(180)
            .with_leading_slash(false)
            .with_listing_encoding(false)
            .with_etags_listed(false)
            .with_part_etags_listed(false)
            .with_multipart_uploads_listed(false)
            .with_part_etags_checked(false)
            .with_refused_uploads_kept(false)
            .with_upload_ids_bound_to_keys(false)
            .with_unknown_uploads_aborted_quietly(false)
            .with_conditional_copies(false)
            .with_conditional_reads(false)
    }

    /// What to call the server in reports and failures.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Where the suite writes (default: the bucket's root, so that keys with a leading slash are
    /// tried as they are). Everything it writes, it deletes.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The longest key the server stores ([`objects`]: longer keys must be refused with a server
    /// error, their signature accepted).
    pub fn with_max_key_bytes(mut self, bytes: usize) -> Self {
        self.max_key_bytes = bytes;
        self
    }

    /// Whether keys that start with `/` are stored ([`objects`]).
    pub fn with_leading_slash(mut self, stored: bool) -> Self {
        self.stores_leading_slash = stored;
        self
    }

    /// Whether listings honour `encoding-type=url` ([`listing`]: without it, keys with `+` are not
    /// listed exactly, and are not tried).
    pub fn with_listing_encoding(mut self, honoured: bool) -> Self {
        self.listing_encodes_keys = honoured;
        self
    }

    /// Whether `ListObjectsV2` gives each object's ETag ([`listing`]).
    pub fn with_etags_listed(mut self, listed: bool) -> Self {
        self.lists_etags = listed;
        self
    }

    /// Whether `ListParts` gives each part's ETag ([`multipart`]).
    pub fn with_part_etags_listed(mut self, listed: bool) -> Self {
        self.lists_part_etags = listed;
        self
    }

    /// Whether `ListMultipartUploads` works ([`multipart`]: without it, it must fail with 501).
    pub fn with_multipart_uploads_listed(mut self, listed: bool) -> Self {
        self.lists_multipart_uploads = listed;
        self
    }

    /// Whether completion refuses a part named with an ETag it was not given ([`multipart`]).
    pub fn with_part_etags_checked(mut self, checked: bool) -> Self {
        self.checks_part_etags = checked;
        self
    }

    /// Whether an upload whose completion was refused (a part missing) stays in progress, as on S3,
    /// rather than being dropped by the server ([`multipart`]).
    pub fn with_refused_uploads_kept(mut self, kept: bool) -> Self {
        self.keeps_refused_uploads = kept;
        self
    }

    /// Whether an upload id works only with its own key ([`multipart`]).
    pub fn with_upload_ids_bound_to_keys(mut self, bound: bool) -> Self {
        self.binds_upload_ids_to_keys = bound;
        self
    }

    /// Whether aborting an upload that no longer exists succeeds (S3: `NoSuchUpload`, which the
    /// backend takes as done) rather than failing with 403 ([`multipart`]).
    pub fn with_unknown_uploads_aborted_quietly(mut self, quietly: bool) -> Self {
        self.aborts_unknown_uploads_quietly = quietly;
        self
    }

    /// Whether `If-None-Match`/`If-Match` are enforced on `PutObject`, presigned or not
    /// ([`conditional_writes`]: without them, the write must happen anyway).
    pub fn with_conditional_puts(mut self, enforced: bool) -> Self {
        self.conditional_puts = enforced;
        self
    }

    /// Whether they are enforced on `CompleteMultipartUpload` ([`conditional_writes`]).
    pub fn with_conditional_completions(mut self, enforced: bool) -> Self {
        self.conditional_completions = enforced;
        self
    }

    /// Whether they are enforced on `CopyObject`'s destination ([`conditional_writes`]).
    pub fn with_conditional_copies(mut self, enforced: bool) -> Self {
        self.conditional_copies = enforced;
        self
    }

    /// Whether `If-Match`/`If-None-Match` are enforced on `GetObject` and `HeadObject`
    /// ([`conditional_reads`]).
    pub fn with_conditional_reads(mut self, enforced: bool) -> Self {
        self.conditional_reads = enforced;
        self
    }

    /// The server's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the suite writes.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The key `name` under the prefix.
    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}

/// What a capability's checks found: how many cases passed, and notes where the server's profile
/// showed (a difference from Amazon S3 that the checks met as the profile states).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Cases that passed.
    pub cases: u32,
    /// What the server did differently from Amazon S3, as its profile says.
    pub notes: Vec<String>,
}

impl Report {
    fn pass(&mut self) {
        self.cases += 1;
    }

    fn note(&mut self, profile: &Profile, text: impl fmt::Display) {
        self.notes.push(format!("{}: {text}", profile.name));
    }

    /// Adds `other`'s cases and notes to this report.
    pub fn merge(&mut self, other: Report) {
        self.cases += other.cases;
        self.notes.extend(other.notes);
        self.notes.sort();
        self.notes.dedup();
    }
}

/// A check that did not hold: which capability, on which server, and what was seen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("conformance: {capability} on {server}: {message}")]
#[non_exhaustive]
pub struct Failure {
    /// The capability (the function's name).
    pub capability: &'static str,
    /// The profile's name.
    pub server: String,
    /// What was expected and what happened.
    pub message: String,
}

/// The checks of one capability on one server.
struct Checks<'p> {
    capability: &'static str,
    profile: &'p Profile,
    report: Report,
}

impl<'p> Checks<'p> {
    fn new(capability: &'static str, profile: &'p Profile) -> Self {
        Self { capability, profile, report: Report::default() }
    }

    fn fail(&self, message: impl fmt::Display) -> Failure {
        Failure { capability: self.capability, server: self.profile.name.clone(), message: message.to_string() }
    }

    /// `Ok` when `holds`, else a failure saying `what`.
    fn ensure(&self, holds: bool, what: impl FnOnce() -> String) -> Result<(), Failure> {
        if holds { Ok(()) } else { Err(self.fail(what())) }
    }

    /// The value of a call that must succeed.
    fn ok<T>(&self, result: crate::Result<T>, what: &str) -> Result<T, Failure> {
        result.map_err(|e| self.fail(format!("{what}: {e}")))
    }

    /// The value of something that must be there.
    fn some<T>(&self, value: Option<T>, what: &str) -> Result<T, Failure> {
        value.ok_or_else(|| self.fail(what))
    }

    /// A raw HTTP exchange that must get an answer.
    fn answer(
        &self,
        result: Result<super::raw_http::Response, String>,
        what: &str,
    ) -> Result<super::raw_http::Response, Failure> {
        result.map_err(|e| self.fail(format!("{what}: {e}")))
    }

    fn pass(&mut self) {
        self.report.pass();
    }

    fn note(&mut self, text: impl fmt::Display) {
        let profile = self.profile;
        self.report.note(profile, text);
    }

    fn done(self) -> Result<Report, Failure> {
        Ok(self.report)
    }
}

/// Every capability, in the order of the table above, merged into one report.
///
/// # Errors
///
/// The first [`Failure`].
pub async fn all(storage: &dyn Storage, profile: &Profile) -> Result<Report, Failure> {
    let mut report = Report::default();
    report.merge(objects(storage, profile).await?);
    report.merge(missing_objects(storage, profile).await?);
    report.merge(ranges(storage, profile).await?);
    report.merge(streams_and_files(storage, profile).await?);
    report.merge(presigned_get(storage, profile).await?);
    report.merge(presigned_put(storage, profile).await?);
    report.merge(listing(storage, profile).await?);
    report.merge(multipart(storage, profile).await?);
    report.merge(presigned_parts(storage, profile).await?);
    report.merge(copy(storage, profile).await?);
    report.merge(conditional_writes(storage, profile).await?);
    report.merge(conditional_reads(storage, profile).await?);
    Ok(report)
}

/// Bytes that differ at every offset from those of another seed.
fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| ((i / 7) as u8).wrapping_mul(73).wrapping_add(seed).wrapping_add(i as u8)).collect()
}

/// The whole object at `key`, if any.
async fn read(storage: &dyn Storage, key: &str) -> crate::Result<Option<bytes::Bytes>> {
    match storage.get_object(key, &crate::GetOptions::new()).await? {
        Some(object) => Ok(Some(object.bytes().await?)),
        None => Ok(None),
    }
}
