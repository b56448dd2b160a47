//! Bodies of exactly their declared length: a stream that ends early or runs long fails before the
//! request is complete, and the failure is told apart from the network's.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;

use super::ByteStream;
use crate::Error;

/// Why an upload's own body failed (told apart from network errors when the request fails).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BodyFailure {
    /// Reading the file or the stream failed.
    Read(io::ErrorKind, String),
    /// The body did not hold its declared length: `received` bytes came (with more to come, when
    /// larger than `declared`).
    Length { declared: u64, received: u64 },
}

impl fmt::Display for BodyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read(_, message) => f.write_str(message),
            Self::Length { declared, received } => f.write_str(&crate::error::length_message(*declared, *received)),
        }
    }
}

impl std::error::Error for BodyFailure {}

impl BodyFailure {
    fn into_io(self) -> io::Error {
        let kind = match &self {
            Self::Read(kind, _) => *kind,
            Self::Length { .. } => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, self)
    }

    /// As the crate's error.
    pub(crate) fn into_error(self, operation: &'static str) -> Error {
        match self {
            Self::Read(kind, message) => Error::Io { operation, source: io::Error::new(kind, message) },
            Self::Length { declared, received } => Error::BodyLength { operation, declared, received },
        }
    }
}

/// The body's own failure, if one is in `error`'s chain of sources.
pub(crate) fn find_body_failure(error: &(dyn std::error::Error + 'static)) -> Option<BodyFailure> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(failure) = e.downcast_ref::<BodyFailure>() {
            return Some(failure.clone());
        }
        // An `io::Error`'s `source()` skips the error it wraps: look inside it too.
        if let Some(failure) = e
            .downcast_ref::<io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<BodyFailure>())
        {
            return Some(failure.clone());
        }
        current = e.source();
    }
    None
}

/// Passes exactly `declared` bytes of a stream through, or fails: a stream that ends early fails at
/// its end; a stream with bytes beyond `declared` fails before the chunk that completes `declared` is
/// released (it is held until the stream has ended), so the request never carries its full length.
pub(crate) struct ExactLength {
    inner: ByteStream,
    declared: u64,
    received: u64,
    /// The chunk that completed the declared length, waiting for the end of the stream.
    held: Option<Bytes>,
    done: bool,
}

impl ExactLength {
    pub(crate) fn new(inner: ByteStream, declared: u64) -> Self {
        Self { inner, declared, received: 0, held: None, done: false }
    }

    fn fail(&mut self, failure: BodyFailure) -> Poll<Option<io::Result<Bytes>>> {
        self.done = true;
        self.held = None;
        Poll::Ready(Some(Err(failure.into_io())))
    }
}

impl Stream for ExactLength {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if self.done {
                return Poll::Ready(None);
            }
            match self.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => {
                    let failure = match e.get_ref().and_then(|inner| inner.downcast_ref::<BodyFailure>()) {
                        Some(failure) => failure.clone(),
                        None => BodyFailure::Read(e.kind(), e.to_string()),
                    };
                    return self.fail(failure);
                }
                Poll::Ready(Some(Ok(chunk))) => {
                    if chunk.is_empty() {
                        continue;
                    }
                    self.received = self.received.saturating_add(chunk.len() as u64);
                    if self.received > self.declared {
                        let failure = BodyFailure::Length { declared: self.declared, received: self.received };
                        return self.fail(failure);
                    }
                    if self.received == self.declared {
                        // The last chunk, unless the stream has more: look before releasing it.
                        self.held = Some(chunk);
                        continue;
                    }
                    return Poll::Ready(Some(Ok(chunk)));
                }
                Poll::Ready(None) => {
                    if self.received < self.declared {
                        let failure = BodyFailure::Length { declared: self.declared, received: self.received };
                        return self.fail(failure);
                    }
                    self.done = true;
                    return Poll::Ready(self.held.take().map(Ok));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn chunks(parts: &[&'static [u8]]) -> ByteStream {
        Box::pin(futures_util::stream::iter(parts.iter().map(|p| Ok(Bytes::from_static(p))).collect::<Vec<_>>()))
    }

    async fn collect(stream: ExactLength) -> (Vec<u8>, Option<io::Error>) {
        let mut out = Vec::new();
        let mut stream = Box::pin(stream);
        while let Some(item) = stream.next().await {
            match item {
                Ok(chunk) => out.extend_from_slice(&chunk),
                Err(e) => return (out, Some(e)),
            }
        }
        (out, None)
    }

    fn length_failure(e: &io::Error) -> Option<BodyFailure> {
        find_body_failure(e)
    }

    #[tokio::test]
    async fn exact_streams_pass_through() {
        let (out, err) = collect(ExactLength::new(chunks(&[b"ab", b"", b"cd"]), 4)).await;
        assert_eq!((out.as_slice(), err.is_none()), (&b"abcd"[..], true));
        let (out, err) = collect(ExactLength::new(chunks(&[]), 0)).await;
        assert!(out.is_empty() && err.is_none());
    }

    /// Found by the independent check: the HTTP client stops at the declared length, so excess in a
    /// later chunk went unseen and a truncated object was stored.
    #[tokio::test]
    async fn excess_fails_before_the_last_declared_byte_whichever_chunk_carries_it() {
        for parts in [
            &[&b"abcd"[..], b"e"][..],
            &[b"ab", b"cd", b"", b"e"],
            &[b"ab", b"cde"],
            &[b"abcde"],
            &[b"abcd", b"", b"", b"xyz"],
        ] {
            let (out, err) = collect(ExactLength::new(chunks(parts), 4)).await;
            let err = err.expect("an error");
            assert!(out.len() < 4, "{parts:?}: the declared length must never be completed, got {out:?}");
            assert!(
                matches!(length_failure(&err), Some(BodyFailure::Length { declared: 4, received }) if received > 4),
                "{parts:?}: {err}"
            );
        }
        let (_, err) = collect(ExactLength::new(chunks(&[b"x"]), 0)).await;
        assert!(err.is_some(), "an empty declared body with bytes");
    }

    #[tokio::test]
    async fn shortfall_fails_at_the_end() {
        let (out, err) = collect(ExactLength::new(chunks(&[b"ab", b"c"]), 4)).await;
        assert_eq!(out, b"abc");
        let failure = length_failure(&err.expect("an error"));
        assert_eq!(failure, Some(BodyFailure::Length { declared: 4, received: 3 }));
    }

    #[tokio::test]
    async fn read_errors_are_the_bodys() {
        let stream: ByteStream = Box::pin(futures_util::stream::iter(vec![
            Ok(Bytes::from_static(b"ab")),
            Err(io::Error::new(io::ErrorKind::ConnectionAborted, "the source broke")),
        ]));
        let (_, err) = collect(ExactLength::new(stream, 4)).await;
        let failure = length_failure(&err.expect("an error"));
        assert!(matches!(failure, Some(BodyFailure::Read(io::ErrorKind::ConnectionAborted, _))), "{failure:?}");
    }
}
