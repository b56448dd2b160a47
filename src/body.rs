//! Request and response bodies: bytes, files and streams, with bounded memory.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt, TryStreamExt};
use tokio::io::AsyncReadExt;

use crate::{Error, Result};

/// How much of a file is read at a time.
const CHUNK: usize = 64 * 1024;

type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// The body of an upload: bytes in memory, a file, or a stream of known length.
///
/// S3 needs the length of an upload before it starts, so streams carry theirs. Files and streams are
/// sent as they are read, 64 KiB at a time: uploading a 1 GiB file does not hold 1 GiB in memory.
/// Bytes and files can be sent again when a request is retried; a stream cannot.
pub struct Body {
    kind: Kind,
}

enum Kind {
    Bytes(Bytes),
    File { path: PathBuf, len: u64 },
    Stream { stream: Mutex<Option<ByteStream>>, len: u64 },
}

impl Body {
    /// An empty body.
    #[must_use]
    pub fn empty() -> Self {
        Self { kind: Kind::Bytes(Bytes::new()) }
    }

    /// A body read from `stream`, which must yield exactly `len` bytes (a stream that yields fewer
    /// or more fails the upload rather than storing a truncated object).
    pub fn from_stream<S>(stream: S, len: u64) -> Self
    where
        S: Stream<Item = io::Result<Bytes>> + Send + 'static,
    {
        Self { kind: Kind::Stream { stream: Mutex::new(Some(Box::pin(stream))), len } }
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
        Ok(Self { kind: Kind::File { path, len: meta.len() } })
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

    /// The body for one attempt: a clone of the bytes, a fresh read of the file, or the stream (once).
    pub(crate) async fn for_attempt(&self) -> io::Result<reqwest::Body> {
        match &self.kind {
            Kind::Bytes(b) => Ok(reqwest::Body::from(b.clone())),
            Kind::File { path, len } => {
                let file = tokio::fs::File::open(path).await?;
                Ok(reqwest::Body::wrap_stream(exact_length(read_chunks(file), *len)))
            }
            Kind::Stream { stream, len } => {
                let taken = stream.lock().map_err(|_| io::Error::other("the body stream was poisoned"))?.take();
                let stream = taken.ok_or_else(|| {
                    io::Error::other("a streamed body can be sent only once; use bytes or a file to retry")
                })?;
                Ok(reqwest::Body::wrap_stream(exact_length(stream, *len)))
            }
        }
    }
}

/// An error of an upload's own body (a file that changed, a stream that failed or had the wrong
/// length), told apart from network errors when the request fails.
#[derive(Debug)]
struct BodyError(String);

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BodyError {}

/// Marks `error` as the body's.
fn body_failure(error: io::Error) -> io::Error {
    if error.get_ref().is_some_and(|inner| inner.is::<BodyError>()) {
        return error;
    }
    io::Error::new(error.kind(), BodyError(error.to_string()))
}

/// The body's own I/O error, if one is in `error`'s chain of sources.
pub(crate) fn find_body_error(error: &(dyn std::error::Error + 'static)) -> Option<io::Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<io::Error>()
            && let Some(inner) = io.get_ref().and_then(|i| i.downcast_ref::<BodyError>())
        {
            return Some(io::Error::new(io.kind(), inner.0.clone()));
        }
        current = e.source();
    }
    None
}

/// Reads `file` in chunks of [`CHUNK`] bytes.
fn read_chunks(file: tokio::fs::File) -> impl Stream<Item = io::Result<Bytes>> + Send {
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

/// Passes `len` bytes of `stream` through, failing when it yields more, or ends after fewer: an upload
/// never stores a truncated object.
fn exact_length<S>(stream: S, len: u64) -> impl Stream<Item = io::Result<Bytes>> + Send
where
    S: Stream<Item = io::Result<Bytes>> + Send,
{
    let counted = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&counted);
    let body = stream.map(move |chunk| {
        let chunk = chunk.map_err(body_failure)?;
        let seen = counter.fetch_add(chunk.len() as u64, Ordering::Relaxed) + chunk.len() as u64;
        if seen > len {
            return Err(body_failure(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the body is longer than the {len} bytes declared"),
            )));
        }
        Ok(chunk)
    });
    let end = futures_util::stream::once(async move {
        let got = counted.load(Ordering::Relaxed);
        if got < len {
            Err(body_failure(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the body ended after {got} of the {len} bytes declared"),
            )))
        } else {
            Ok(Bytes::new())
        }
    })
    .try_filter(|chunk| futures_util::future::ready(!chunk.is_empty()));
    body.chain(end)
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Bytes(b) => f.debug_struct("Body").field("bytes", &b.len()).finish(),
            Kind::File { path, len } => f.debug_struct("Body").field("file", path).field("len", len).finish(),
            Kind::Stream { len, .. } => f.debug_struct("Body").field("stream_len", len).finish(),
        }
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        Self { kind: Kind::Bytes(b) }
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

/// The body of a download, read as it arrives.
pub struct ObjectBody {
    stream: Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>,
}

impl ObjectBody {
    pub(crate) fn from_response(response: reqwest::Response, operation: &'static str) -> Self {
        let stream = response.bytes_stream().map_err(move |e| crate::s3::transport_error(operation, &e));
        Self { stream: Box::pin(stream) }
    }

    /// The next chunk, or `None` at the end.
    ///
    /// # Errors
    ///
    /// Transport errors while reading.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>> {
        self.stream.next().await.transpose()
    }

    /// Reads the whole body into memory.
    ///
    /// # Errors
    ///
    /// Transport errors while reading.
    pub async fn bytes(mut self) -> Result<Bytes> {
        let mut out = BytesMut::new();
        while let Some(chunk) = self.chunk().await? {
            out.extend_from_slice(&chunk);
        }
        Ok(out.freeze())
    }

    /// The body as a stream of chunks.
    pub fn into_stream(self) -> Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>> {
        self.stream
    }
}

impl fmt::Debug for ObjectBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ObjectBody")
    }
}

/// Maps a body I/O error to the crate's error.
pub(crate) fn io_error(operation: &'static str, source: io::Error) -> Error {
    Error::Io { operation, source }
}
