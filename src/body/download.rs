//! The body of a download.

use std::fmt;
use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

use crate::Result;

/// The body of a download, read as it arrives.
pub struct ObjectBody {
    stream: Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>,
}

impl ObjectBody {
    /// A body read from `stream` (for a backend of your own; the S3 backend's applies its timeouts).
    pub fn new(stream: impl Stream<Item = Result<Bytes>> + Send + 'static) -> Self {
        Self { stream: Box::pin(stream) }
    }

    /// The next chunk, or `None` at the end.
    ///
    /// # Errors
    ///
    /// Transport errors while reading, among them a response cut short of its length and the
    /// backend's idle timeout.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>> {
        self.stream.next().await.transpose()
    }

    /// Reads the whole body into memory.
    ///
    /// # Errors
    ///
    /// As [`chunk`](Self::chunk).
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
