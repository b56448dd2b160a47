//! Request and response bodies: bytes, files and streams, with bounded memory.
//!
//! An upload body is sent as a stream of chunks of at most 64 KiB, whatever it holds, for two
//! reasons:
//!
//! - **Exact length.** S3 needs the length before the first byte, so the request declares it, and the
//!   HTTP client stops sending once that many bytes are out: a longer stream would be stored
//!   truncated without anyone noticing. [`ExactLength`] therefore holds back the chunk that completes
//!   the declared length until the stream says it has ended. One byte too many, in whichever chunk,
//!   fails the request before its last byte leaves, and the server, short of bytes, stores nothing.
//! - **Progress.** Each chunk handed to the connection is progress: the caller's observer hears of
//!   it, and the backend's idle timeout means "nothing moved for that long", not "the whole upload
//!   took that long".

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncReadExt;

mod download;
mod exact;

pub use download::ObjectBody;
pub(crate) use exact::{ExactLength, find_body_failure};

/// How much of a body is sent at a time.
pub(crate) const CHUNK: usize = 64 * 1024;

/// Chunks of a body.
pub(crate) type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// The body of an upload: bytes in memory, a file, or a stream of known length.
///
/// S3 needs the length of an upload before it starts, so streams carry theirs. Files and streams are
/// sent as they are read, 64 KiB at a time: uploading a 1 GiB file does not hold 1 GiB in memory.
/// Bytes and files can be sent again when a request is retried; a stream cannot.
///
/// A body that does not hold exactly its length — a stream that yields more or fewer bytes than it
/// declared, a file that changed size — fails the upload with
/// [`Error::BodyLength`](crate::Error::BodyLength) and nothing is stored.
pub struct Body {
    kind: Kind,
    reporter: Option<Reporter>,
}

enum Kind {
    Bytes(Bytes),
    /// `len` bytes of the file from `offset`; `to_end`: they are the file's last bytes (a file that
    /// grew is then noticed).
    File {
        path: PathBuf,
        offset: u64,
        len: u64,
        to_end: bool,
    },
    Stream {
        stream: Mutex<Option<ByteStream>>,
        len: u64,
    },
}

/// How far an upload has got: bytes taken by the connection, out of the total. For a multipart
/// upload, the sum over its parts; a part sent again counts once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransferProgress {
    /// Bytes sent so far.
    pub sent: u64,
    /// Bytes to send in all.
    pub total: u64,
}

type Observer = dyn Fn(TransferProgress) + Send + Sync;

/// Reports progress to a caller's observer: each slot (the body, or each part of a multipart upload)
/// counts the most it has sent in any attempt, so that a retry does not move progress back.
#[derive(Clone)]
pub(crate) struct Reporter {
    shared: Arc<ReporterShared>,
    slot: usize,
}

struct ReporterShared {
    observer: Arc<Observer>,
    total: u64,
    slots: Vec<AtomicU64>,
    sent: AtomicU64,
}

impl Reporter {
    fn new(observer: Arc<Observer>, total: u64, slots: usize) -> Self {
        let slots = (0..slots.max(1)).map(|_| AtomicU64::new(0)).collect();
        Self { shared: Arc::new(ReporterShared { observer, total, slots, sent: AtomicU64::new(0) }), slot: 0 }
    }

    /// The reporter of the same observer for `parts` parts; slot `i` for part `i + 1`.
    pub(crate) fn for_parts(&self, parts: usize) -> Self {
        Self::new(Arc::clone(&self.shared.observer), self.shared.total, parts)
    }

    /// The reporter of slot `slot`.
    pub(crate) fn slot(&self, slot: usize) -> Self {
        Self { shared: Arc::clone(&self.shared), slot }
    }

    /// This slot has sent `sent` bytes in its current attempt.
    fn report(&self, sent: u64) {
        let Some(counter) = self.shared.slots.get(self.slot) else { return };
        let before = counter.fetch_max(sent, Ordering::Relaxed);
        if sent > before {
            let now = self.shared.sent.fetch_add(sent - before, Ordering::Relaxed) + (sent - before);
            (self.shared.observer)(TransferProgress { sent: now, total: self.shared.total });
        }
    }
}

impl Body {
    /// An empty body.
    #[must_use]
    pub fn empty() -> Self {
        Self::with_kind(Kind::Bytes(Bytes::new()))
    }

    fn with_kind(kind: Kind) -> Self {
        Self { kind, reporter: None }
    }

    /// Calls `observer` as the upload goes, with the bytes sent so far and the total (for a
    /// multipart upload, summed over its parts, concurrent ones included; a part sent again is
    /// counted once). It is called from the upload's tasks, often: keep it quick.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    ///
    /// let sent = Arc::new(AtomicU64::new(0));
    /// let seen = Arc::clone(&sent);
    /// let body = stowage::Body::from(vec![0u8; 1024]).with_progress(move |p| seen.store(p.sent, Ordering::Relaxed));
    /// # let _ = body;
    /// ```
    #[must_use]
    pub fn with_progress(mut self, observer: impl Fn(TransferProgress) + Send + Sync + 'static) -> Self {
        self.reporter = Some(Reporter::new(Arc::new(observer), self.len(), 1));
        self
    }

    /// `len` bytes of the file at `path` from `offset`, read anew for each attempt (a part of a
    /// multipart upload). `to_end`: the range ends the file.
    pub(crate) fn file_range(path: PathBuf, offset: u64, len: u64, to_end: bool) -> Self {
        Self::with_kind(Kind::File { path, offset, len, to_end })
    }

    /// Sets the reporter (the engine gives each part its slot).
    pub(crate) fn reporting_to(mut self, reporter: Option<Reporter>) -> Self {
        self.reporter = reporter;
        self
    }

    /// The reporter, if the caller asked for progress.
    pub(crate) fn reporter(&self) -> Option<&Reporter> {
        self.reporter.as_ref()
    }

    /// What the body holds, for cutting it into parts.
    pub(crate) fn into_source(self) -> Source {
        match self.kind {
            Kind::Bytes(bytes) => Source::Bytes(bytes),
            Kind::File { path, offset, len, .. } => Source::File { path, offset, len },
            Kind::Stream { stream, len } => {
                let stream = stream.into_inner().ok().flatten();
                Source::Stream(stream.map(|s| ExactLength::new(s, len)))
            }
        }
    }

    /// A body read from `stream`, which must yield exactly `len` bytes: a stream that yields fewer or
    /// more fails the upload with [`Error::BodyLength`](crate::Error::BodyLength) rather than storing
    /// a truncated object, whichever chunk carries the difference.
    pub fn from_stream<S>(stream: S, len: u64) -> Self
    where
        S: Stream<Item = io::Result<Bytes>> + Send + 'static,
    {
        Self::with_kind(Kind::Stream { stream: Mutex::new(Some(Box::pin(stream))), len })
    }

    /// The file at `path`, sent as it is read. Its length is taken now; the file must not change
    /// before the upload ends.
    ///
    /// # Errors
    ///
    /// When the file cannot be opened or is not a regular file.
    pub async fn from_file(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let meta = tokio::fs::metadata(&path).await?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a regular file", path.display()),
            ));
        }
        Ok(Self::with_kind(Kind::File { path, offset: 0, len: meta.len(), to_end: true }))
    }

    /// The length in bytes.
    #[must_use]
    pub fn len(&self) -> u64 {
        match &self.kind {
            Kind::Bytes(b) => b.len() as u64,
            Kind::File { len, .. } | Kind::Stream { len, .. } => *len,
        }
    }

    /// Whether the body is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes, when the body is in memory (they can then be hashed and signed).
    pub(crate) fn as_bytes(&self) -> Option<&Bytes> {
        match &self.kind {
            Kind::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// Whether the body can be sent a second time (for retries).
    pub(crate) fn is_replayable(&self) -> bool {
        !matches!(self.kind, Kind::Stream { .. })
    }

    /// The body for one attempt, as chunks of at most [`CHUNK`] bytes checked against the declared
    /// length (reported to the caller's observer as they are taken): a view of the bytes, a fresh
    /// read of the file, or the stream (once).
    pub(crate) async fn for_attempt(&self) -> io::Result<ByteStream> {
        let (chunks, len): (ByteStream, u64) = match &self.kind {
            Kind::Bytes(b) => (Box::pin(futures_util::stream::iter(slices(b.clone()).map(Ok))), b.len() as u64),
            Kind::File { path, offset, len, to_end } => {
                let mut file = tokio::fs::File::open(path).await?;
                if *offset > 0 {
                    tokio::io::AsyncSeekExt::seek(&mut file, io::SeekFrom::Start(*offset)).await?;
                }
                // One byte more than the range when it ends the file: a file that grew is noticed.
                let limit = if *to_end { len.saturating_add(1) } else { *len };
                (Box::pin(read_chunks(file.take(limit))), *len)
            }
            Kind::Stream { stream, len } => {
                let taken = stream.lock().map_err(|_| io::Error::other("the body stream was poisoned"))?.take();
                let stream = taken.ok_or_else(|| {
                    io::Error::other("a streamed body can be sent only once; use bytes or a file to retry")
                })?;
                (stream, *len)
            }
        };
        let reporter = self.reporter.clone();
        let mut sent = 0u64;
        Ok(Box::pin(ExactLength::new(chunks, len).map(move |chunk| {
            if let (Ok(chunk), Some(reporter)) = (&chunk, &reporter) {
                sent += chunk.len() as u64;
                reporter.report(sent);
            }
            chunk
        })))
    }
}

/// `bytes` cut into views of at most [`CHUNK`] bytes (no copy).
fn slices(bytes: Bytes) -> impl Iterator<Item = Bytes> + Send {
    let len = bytes.len();
    (0..len).step_by(CHUNK).map(move |start| bytes.slice(start..len.min(start + CHUNK)))
}

/// What a body holds, taken out to be cut into parts.
pub(crate) enum Source {
    Bytes(Bytes),
    File {
        path: PathBuf,
        offset: u64,
        len: u64,
    },
    /// The stream, checked against its declared length (`None`: it was already sent once).
    Stream(Option<ExactLength>),
}

/// Reads `file` in chunks of [`CHUNK`] bytes.
fn read_chunks<R: tokio::io::AsyncRead + Unpin + Send>(file: R) -> impl Stream<Item = io::Result<Bytes>> + Send {
    futures_util::stream::try_unfold(file, |mut file| async move {
        let mut buf = BytesMut::with_capacity(CHUNK);
        while buf.len() < CHUNK {
            if file.read_buf(&mut buf).await? == 0 {
                break;
            }
        }
        Ok(if buf.is_empty() { None } else { Some((buf.freeze(), file)) })
    })
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Bytes(b) => f.debug_struct("Body").field("bytes", &b.len()).finish(),
            Kind::File { path, offset, len, .. } => {
                f.debug_struct("Body").field("file", path).field("offset", offset).field("len", len).finish()
            }
            Kind::Stream { len, .. } => f.debug_struct("Body").field("stream_len", len).finish(),
        }
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        Self::with_kind(Kind::Bytes(b))
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Self {
        Bytes::from(v).into()
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Bytes::from(s).into()
    }
}

impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Self {
        Bytes::from_static(s).into()
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Bytes::from_static(s.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_cut_without_copies() {
        let data = Bytes::from(vec![7u8; CHUNK * 2 + 5]);
        let parts: Vec<Bytes> = slices(data.clone()).collect();
        assert_eq!(parts.iter().map(Bytes::len).collect::<Vec<_>>(), [CHUNK, CHUNK, 5]);
        assert_eq!(parts[2].as_ptr(), data[CHUNK * 2..].as_ptr());
        assert_eq!(slices(Bytes::new()).count(), 0);
    }
}
