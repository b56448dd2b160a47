//! Checksums on uploads: sent as a header when the value is known before the bytes go (a body in
//! memory, or a value given), else after them, as S3's streaming trailer
//! (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`, `Content-Encoding: aws-chunked`): the bytes go in chunks,
//! the checksum is computed as they pass, and it follows the last one. No second pass over a file
//! or a stream, and no buffer beyond the chunk in flight.
//!
//! The framing of one upload of `n` bytes: `<size in hex>\r\n<bytes>\r\n` per chunk of
//! [`CHUNK`] bytes (the last one shorter), then `0\r\n`, then `x-amz-checksum-<alg>:<base64>\r\n`,
//! then `\r\n`. Every chunk's size follows from `n`, so the encoded length is known before the first
//! byte, and the request carries a `Content-Length` like any other.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use crate::body::Body;
use crate::checksum::{Checksum, ChecksumAlgorithm, ChecksumHasher};

/// The size of each chunk but the last (S3 asks for at least 8 KiB; the AWS SDKs send 64 KiB, and
/// larger chunks were measured to cost resident memory, not to save time).
pub(super) const CHUNK: u64 = 64 * 1024;

/// The size line of a full chunk.
const FULL_CHUNK_LINE: &[u8] = b"10000\r\n";

/// `x-amz-content-sha256` of an upload whose checksum trails it.
pub(super) const STREAMING_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

/// How an upload's checksum travels.
#[derive(Debug, Clone)]
pub(crate) enum ChecksumSending {
    /// No checksum.
    None,
    /// As a header, before the bytes.
    Header(Checksum),
    /// After the bytes; the value computed on the way is left in the cell (for the answer).
    Trailer(ChecksumAlgorithm, Arc<Mutex<Option<Checksum>>>),
}

impl ChecksumSending {
    /// How `body`'s checksum travels: the `value` given, else one of `algorithm` computed from the
    /// bytes — now when they are in memory, on the way otherwise.
    pub(crate) fn plan(body: &Body, algorithm: Option<ChecksumAlgorithm>, value: Option<&Checksum>) -> Self {
        match (value, algorithm) {
            (Some(value), _) => Self::Header(*value),
            (None, Some(algorithm)) => match body.as_bytes() {
                Some(bytes) => Self::Header(ChecksumHasher::of(algorithm, bytes)),
                None => Self::Trailer(algorithm, Arc::default()),
            },
            (None, None) => Self::None,
        }
    }

    /// The algorithm, if any.
    pub(crate) fn algorithm(&self) -> Option<ChecksumAlgorithm> {
        match self {
            Self::None => None,
            Self::Header(value) => Some(value.algorithm()),
            Self::Trailer(algorithm, _) => Some(*algorithm),
        }
    }

    /// The value sent: given or computed before, or computed on the way (once the body went).
    pub(crate) fn value(&self) -> Option<Checksum> {
        match self {
            Self::None => None,
            Self::Header(value) => Some(*value),
            Self::Trailer(_, cell) => *cell.lock().unwrap_or_else(std::sync::PoisonError::into_inner),
        }
    }
}

fn hex_len(n: u64) -> u64 {
    u64::from((64 - n.leading_zeros()).div_ceil(4).max(1))
}

/// The length of the trailer block: `0\r\n`, the checksum line, `\r\n`.
fn trailer_len(algorithm: ChecksumAlgorithm) -> u64 {
    let base64 = (algorithm.digest_len() as u64).div_ceil(3) * 4;
    3 + algorithm.header().len() as u64 + 1 + base64 + 2 + 2
}

/// The length on the wire of `decoded` bytes with their trailing checksum.
pub(super) fn encoded_len(decoded: u64, algorithm: ChecksumAlgorithm) -> u64 {
    let framed = |n: u64| hex_len(n) + 2 + n + 2;
    let (full, rest) = (decoded / CHUNK, decoded % CHUNK);
    full * framed(CHUNK) + if rest > 0 { framed(rest) } else { 0 } + trailer_len(algorithm)
}

/// `chunks` (exactly `decoded` bytes) framed as aws-chunked, the checksum computed as they pass and
/// sent after them (and left in `out`).
pub(super) fn encode(
    chunks: impl Stream<Item = io::Result<Bytes>> + Send + Unpin + 'static,
    decoded: u64,
    algorithm: ChecksumAlgorithm,
    out: Arc<Mutex<Option<Checksum>>>,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    let state = Framing {
        chunks,
        left: decoded,
        in_chunk: 0,
        hasher: Some(ChecksumHasher::new(algorithm)),
        ready: VecDeque::new(),
        out,
    };
    futures_util::stream::unfold(state, |mut state| async move {
        let item = state.next().await?;
        Some((item, state))
    })
}

struct Framing<S> {
    chunks: S,
    /// Bytes of the body not yet passed on.
    left: u64,
    /// Bytes of the current chunk not yet passed on.
    in_chunk: u64,
    /// `None` once the trailer went.
    hasher: Option<ChecksumHasher>,
    ready: VecDeque<Bytes>,
    out: Arc<Mutex<Option<Checksum>>>,
}

impl<S: Stream<Item = io::Result<Bytes>> + Unpin> Framing<S> {
    async fn next(&mut self) -> Option<io::Result<Bytes>> {
        let item = self.step().await;
        if matches!(item, Some(Err(_))) {
            // A body that fails ends the stream: nothing follows an error.
            self.hasher = None;
            self.ready.clear();
        }
        item
    }

    async fn step(&mut self) -> Option<io::Result<Bytes>> {
        loop {
            if let Some(piece) = self.ready.pop_front() {
                return Some(Ok(piece));
            }
            let hasher = self.hasher.as_mut()?;
            if self.left == 0 {
                let checksum = self.hasher.take()?.finish();
                *self.out.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(checksum);
                let (name, value) = checksum.header();
                return Some(Ok(Bytes::from(format!("0\r\n{name}:{value}\r\n\r\n"))));
            }
            let mut bytes = match self.chunks.next().await {
                Some(Ok(bytes)) => bytes,
                Some(Err(e)) => return Some(Err(e)),
                None => {
                    return Some(Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the body ended before its length")));
                }
            };
            hasher.update(&bytes);
            while !bytes.is_empty() {
                if self.left == 0 {
                    return Some(Err(io::Error::new(io::ErrorKind::InvalidData, "the body is longer than its length")));
                }
                if self.in_chunk == 0 {
                    self.in_chunk = self.left.min(CHUNK);
                    self.ready.push_back(if self.in_chunk == CHUNK {
                        Bytes::from_static(FULL_CHUNK_LINE)
                    } else {
                        Bytes::from(format!("{:x}\r\n", self.in_chunk))
                    });
                }
                let take = usize::try_from(self.in_chunk).unwrap_or(usize::MAX).min(bytes.len());
                self.ready.push_back(bytes.split_to(take));
                self.in_chunk -= take as u64;
                self.left -= take as u64;
                if self.in_chunk == 0 {
                    self.ready.push_back(Bytes::from_static(b"\r\n"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn framed(data: &[u8], pieces: usize, algorithm: ChecksumAlgorithm) -> (Vec<u8>, Option<Checksum>) {
        let chunks: Vec<io::Result<Bytes>> =
            data.chunks(pieces.max(1)).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        let out = Arc::default();
        let stream = encode(futures_util::stream::iter(chunks), data.len() as u64, algorithm, Arc::clone(&out));
        let parts: Vec<io::Result<Bytes>> = stream.collect().await;
        let mut wire = Vec::new();
        for part in parts {
            wire.extend_from_slice(&part.expect("a piece"));
        }
        let value = *out.lock().unwrap();
        (wire, value)
    }

    /// Reads aws-chunked framing back, as a server does.
    fn unframe(mut wire: &[u8]) -> (Vec<u8>, String) {
        let mut data = Vec::new();
        loop {
            let line_end = wire.windows(2).position(|w| w == b"\r\n").expect("a size line");
            let size = usize::from_str_radix(std::str::from_utf8(&wire[..line_end]).unwrap(), 16).unwrap();
            wire = &wire[line_end + 2..];
            if size == 0 {
                let trailer = std::str::from_utf8(wire).unwrap().to_owned();
                return (data, trailer);
            }
            assert!(size as u64 <= CHUNK);
            data.extend_from_slice(&wire[..size]);
            assert_eq!(&wire[size..size + 2], b"\r\n");
            wire = &wire[size + 2..];
        }
    }

    #[tokio::test]
    async fn frames_any_input_into_chunks_with_the_trailer() {
        assert_eq!(FULL_CHUNK_LINE, format!("{CHUNK:x}\r\n").as_bytes());
        let chunk = CHUNK as usize;
        for len in [0usize, 1, chunk - 1, chunk, chunk + 1, 2 * chunk + 12_345] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            for pieces in [1_000, 70_000, chunk + 3] {
                for algorithm in ChecksumAlgorithm::ALL {
                    let (wire, value) = framed(&data, pieces, algorithm).await;
                    assert_eq!(wire.len() as u64, encoded_len(len as u64, algorithm), "{len} {pieces} {algorithm}");
                    let (back, trailer) = unframe(&wire);
                    assert_eq!(back, data);
                    let expected = ChecksumHasher::of(algorithm, &data);
                    assert_eq!(value, Some(expected));
                    assert_eq!(trailer, format!("{}:{}\r\n\r\n", algorithm.header(), expected.to_base64()));
                }
            }
        }
    }

    #[tokio::test]
    async fn a_body_of_another_length_is_an_error() {
        let out = Arc::default();
        let short = futures_util::stream::iter(vec![Ok(Bytes::from_static(b"abc"))]);
        let items: Vec<_> = encode(short, 4, ChecksumAlgorithm::Crc32, out).collect().await;
        assert!(items.iter().any(Result::is_err));
        let out = Arc::default();
        let long = futures_util::stream::iter(vec![Ok(Bytes::from_static(b"abcde"))]);
        let items: Vec<_> = encode(long, 4, ChecksumAlgorithm::Crc32, out).collect().await;
        assert!(items.iter().any(Result::is_err));
    }
}
