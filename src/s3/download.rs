//! Downloads that survive a cut and prove their bytes.
//!
//! **Resuming.** A body cut mid-stream (a reset, a stall past the idle timeout, an answer short of
//! its length) is asked for again from the byte where it stopped, with `Range` and `If-Match` on the
//! ETag of the first answer, up to the retry policy's attempts for the whole download. The object
//! replaced in between answers 412, which ends the download with
//! [`Error::PreconditionFailed`]: bytes of two versions are never spliced together.
//!
//! **Verifying.** With [`GetOptions::with_checksum_mode`] a whole-object download is hashed as it
//! streams and compared at the end with the full-object checksum the bucket keeps: a mismatch is
//! [`Error::ChecksumMismatch`] in place of the end of the stream. (A composite checksum, of a
//! multipart upload's parts, is not a checksum of the bytes and is not checked.)

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::S3Storage;
use crate::body::ObjectBody;
use crate::checksum::{ChecksumHasher, StoredChecksum};
use crate::storage::{ByteRange, GetOptions, ObjectMeta};
use crate::{Error, Result};

/// What a download needs to go on after a cut, and to check its bytes at the end.
pub(super) struct Download {
    pub(super) storage: S3Storage,
    pub(super) key: String,
    pub(super) options: GetOptions,
    /// The ETag of the first answer: resumed parts must be of this version.
    pub(super) etag: Option<String>,
    /// The absolute position of the next byte, and of the last one wanted (inclusive).
    pub(super) next: u64,
    pub(super) last: Option<u64>,
    /// Resumptions left.
    pub(super) resumes: u32,
    /// The hash of the bytes so far, and the value they must have.
    pub(super) check: Option<(ChecksumHasher, StoredChecksum)>,
}

/// The absolute first and last bytes an answer holds: from its `Content-Range` (`bytes a-b/size`),
/// or the whole object.
pub(super) fn span(meta: &ObjectMeta, content_range: Option<&str>) -> (u64, Option<u64>) {
    let parsed = content_range.and_then(|range| {
        let (first, last) = range.trim().strip_prefix("bytes ")?.split('/').next()?.split_once('-')?;
        Some((first.trim().parse().ok()?, last.trim().parse().ok()?))
    });
    match parsed {
        Some((first, last)) => (first, Some(last)),
        None => (0, meta.size.checked_sub(1)),
    }
}

/// The full-object checksum a whole download can be checked against, if asked for and kept.
pub(super) fn checkable(options: &GetOptions, meta: &ObjectMeta) -> Option<(ChecksumHasher, StoredChecksum)> {
    let stored = meta.checksum.filter(|c| c.parts.is_none())?;
    (options.checksum_mode() && options.range().is_none())
        .then(|| (ChecksumHasher::new(stored.checksum.algorithm()), stored))
}

impl Download {
    /// `first` (the first answer's body) followed by whatever the resumptions bring.
    pub(super) fn stream(self, first: ObjectBody) -> impl Stream<Item = Result<Bytes>> + Send + 'static {
        futures_util::stream::unfold((self, Some(first.into_stream())), |(mut state, body)| async move {
            let mut body = body?;
            loop {
                match body.next().await {
                    Some(Ok(chunk)) => {
                        state.next += chunk.len() as u64;
                        if let Some((hasher, _)) = &mut state.check {
                            hasher.update(&chunk);
                        }
                        return Some((Ok(chunk), (state, Some(body))));
                    }
                    None => {
                        return match state.finish() {
                            Ok(()) => None,
                            Err(e) => Some((Err(e), (state, None))),
                        };
                    }
                    Some(Err(cut)) => match state.resume(cut).await {
                        Ok(rest) => body = rest,
                        Err(e) => return Some((Err(e), (state, None))),
                    },
                }
            }
        })
    }

    /// At the end of the bytes: the checksum, if one is to be checked.
    fn finish(&mut self) -> Result<()> {
        let Some((hasher, stored)) = self.check.take() else { return Ok(()) };
        let got = hasher.finish();
        if got == stored.checksum {
            return Ok(());
        }
        Err(Error::ChecksumMismatch {
            operation: "GetObject",
            algorithm: got.algorithm(),
            expected: Some(stored.checksum.to_base64()),
            download: true,
        })
    }

    /// After `cut`, the rest of the same version from where it stopped — or `cut` itself when the
    /// download cannot go on (no attempts left, no ETag to hold the version to, not a cut).
    async fn resume(&mut self, cut: Error) -> Result<std::pin::Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>> {
        let resumable = matches!(cut, Error::Transport { .. }) && self.resumes > 0;
        let Some(etag) = self.etag.clone().filter(|_| resumable) else { return Err(cut) };
        if self.last.is_some_and(|last| self.next > last) {
            return Err(cut);
        }
        self.resumes -= 1;
        crate::trace::event!(info, operation = "GetObject", offset = self.next, "the download was cut; resuming it");
        let range = match self.last {
            Some(last) => ByteRange::Inclusive { start: self.next, end: last },
            None => ByteRange::From(self.next),
        };
        let options = self.options.clone().with_range(range).with_if_match(etag.clone()).with_checksum_mode(false);
        let changed = || Error::PreconditionFailed {
            operation: "GetObject",
            reason: "the object changed (or was deleted) while it was downloaded; the bytes read so far are of the \
                     old version: start again"
                .into(),
        };
        match self.storage.get_once(&self.key, &options).await {
            // The ETag is checked here too: a server that ignores If-Match on reads (s3s-fs) must
            // not splice two versions either.
            Ok(Some((output, body))) if output.meta.etag.as_deref().map(unquoted) == Some(unquoted(&etag)) => {
                Ok(body.into_stream())
            }
            Ok(Some(_)) => Err(changed()),
            Ok(None) | Err(Error::PreconditionFailed { .. }) => Err(changed()),
            Err(e) if e.is_not_found() => Err(changed()),
            Err(e) => Err(e),
        }
    }
}

/// An ETag without its quotes.
fn unquoted(etag: &str) -> &str {
    etag.trim().trim_matches('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_of_answers() {
        let meta = ObjectMeta::new("k", 1000);
        assert_eq!(span(&meta, None), (0, Some(999)));
        assert_eq!(span(&meta, Some("bytes 100-199/1000")), (100, Some(199)));
        assert_eq!(span(&ObjectMeta::new("k", 0), None), (0, None));
    }
}
