//! Computing checksums: incrementally while bytes stream, and for multipart uploads from their
//! parts' values.

use crc_fast::CrcAlgorithm;
use sha2::Digest as _;

use super::{Checksum, ChecksumAlgorithm};

/// A checksum being computed, fed the bytes as they go by.
pub struct ChecksumHasher {
    algorithm: ChecksumAlgorithm,
    state: State,
}

enum State {
    Crc(crc_fast::Digest),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

/// crc-fast's name for a CRC S3 verifies.
fn crc_of(algorithm: ChecksumAlgorithm) -> Option<CrcAlgorithm> {
    match algorithm {
        ChecksumAlgorithm::Crc32 => Some(CrcAlgorithm::Crc32IsoHdlc),
        ChecksumAlgorithm::Crc32c => Some(CrcAlgorithm::Crc32Iscsi),
        ChecksumAlgorithm::Crc64Nvme => Some(CrcAlgorithm::Crc64Nvme),
        ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256 => None,
    }
}

/// A CRC's value as S3 writes it: big-endian, 4 or 8 bytes.
fn crc_value(algorithm: ChecksumAlgorithm, crc: u64) -> Checksum {
    let bytes = crc.to_be_bytes();
    let digest = &bytes[8 - algorithm.digest_len()..];
    let mut out = [0u8; 32];
    out[..digest.len()].copy_from_slice(digest);
    Checksum { algorithm, bytes: out }
}

/// A CRC value as a number.
fn crc_number(checksum: &Checksum) -> u64 {
    checksum.as_bytes().iter().fold(0u64, |n, b| (n << 8) | u64::from(*b))
}

impl ChecksumHasher {
    /// A checksum of `algorithm`, of nothing yet.
    #[must_use]
    pub fn new(algorithm: ChecksumAlgorithm) -> Self {
        let state = match (algorithm, crc_of(algorithm)) {
            (_, Some(crc)) => State::Crc(crc_fast::Digest::new(crc)),
            (ChecksumAlgorithm::Sha1, None) => State::Sha1(sha1::Sha1::new()),
            _ => State::Sha256(sha2::Sha256::new()),
        };
        Self { algorithm, state }
    }

    /// The algorithm.
    #[must_use]
    pub fn algorithm(&self) -> ChecksumAlgorithm {
        self.algorithm
    }

    /// Adds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        match &mut self.state {
            State::Crc(digest) => digest.update(bytes),
            State::Sha1(digest) => digest.update(bytes),
            State::Sha256(digest) => digest.update(bytes),
        }
    }

    /// The checksum of everything added.
    #[must_use]
    pub fn finish(self) -> Checksum {
        let mut bytes = [0u8; 32];
        match self.state {
            State::Crc(digest) => return crc_value(self.algorithm, digest.finalize()),
            State::Sha1(digest) => bytes[..20].copy_from_slice(&digest.finalize()),
            State::Sha256(digest) => bytes.copy_from_slice(&digest.finalize()),
        }
        Checksum { algorithm: self.algorithm, bytes }
    }

    /// The checksum of `bytes`.
    #[must_use]
    pub fn of(algorithm: ChecksumAlgorithm, bytes: &[u8]) -> Checksum {
        let mut hasher = Self::new(algorithm);
        hasher.update(bytes);
        hasher.finish()
    }
}

impl std::fmt::Debug for ChecksumHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChecksumHasher").field("algorithm", &self.algorithm).finish_non_exhaustive()
    }
}

/// The full-object checksum of an object made of `parts` (each part's CRC and length, in order):
/// the CRC of the whole, as a single PUT of it would have, combined without reading the bytes
/// again. `None` for SHA-1 and SHA-256 (which cannot be combined), for no parts, or for parts of
/// different algorithms.
#[must_use]
pub fn combine_full_object(parts: &[(Checksum, u64)]) -> Option<Checksum> {
    let (first, _) = parts.first()?;
    let algorithm = first.algorithm();
    let crc = crc_of(algorithm)?;
    if parts.iter().any(|(c, _)| c.algorithm() != algorithm) {
        return None;
    }
    let whole = parts
        .iter()
        .skip(1)
        .fold(crc_number(first), |whole, (part, len)| crc_fast::checksum_combine(crc, whole, crc_number(part), *len));
    Some(crc_value(algorithm, whole))
}

/// The composite checksum of an object made of `parts` (each part's checksum, in order): the
/// checksum of their concatenated digests, as S3 computes it (it writes it `<value>-<parts>`).
/// `None` for no parts or parts of different algorithms.
#[must_use]
pub fn composite_of(parts: &[Checksum]) -> Option<Checksum> {
    let algorithm = parts.first()?.algorithm();
    if parts.iter().any(|c| c.algorithm() != algorithm) {
        return None;
    }
    let mut hasher = ChecksumHasher::new(algorithm);
    for part in parts {
        hasher.update(part.as_bytes());
    }
    Some(hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The catalogue's check values (the CRC of the nine bytes `123456789`, reveng's CRC catalogue)
    /// and FIPS 180's SHA test vectors of `abc`.
    #[test]
    fn published_check_values() {
        let check = |algorithm, input: &[u8], hex: &str| {
            assert_eq!(ChecksumHasher::of(algorithm, input).to_hex(), hex, "{algorithm}");
        };
        check(ChecksumAlgorithm::Crc32, b"123456789", "cbf43926");
        check(ChecksumAlgorithm::Crc32c, b"123456789", "e3069283");
        check(ChecksumAlgorithm::Crc64Nvme, b"123456789", "ae8b14860a799888");
        check(ChecksumAlgorithm::Sha1, b"abc", "a9993e364706816aba3e25717850c26c9cd0d89d");
        check(ChecksumAlgorithm::Sha256, b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn parts_combine_into_the_whole() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 253) as u8).collect();
        for algorithm in [ChecksumAlgorithm::Crc32, ChecksumAlgorithm::Crc32c, ChecksumAlgorithm::Crc64Nvme] {
            let whole = ChecksumHasher::of(algorithm, &data);
            let parts: Vec<(Checksum, u64)> =
                data.chunks(30_001).map(|c| (ChecksumHasher::of(algorithm, c), c.len() as u64)).collect();
            assert_eq!(combine_full_object(&parts), Some(whole), "{algorithm}");
            let mut fed = ChecksumHasher::new(algorithm);
            for chunk in data.chunks(997) {
                fed.update(chunk);
            }
            assert_eq!(fed.finish(), whole, "{algorithm} fed in pieces");
        }
        let sha = ChecksumHasher::of(ChecksumAlgorithm::Sha256, b"x");
        assert_eq!(combine_full_object(&[(sha, 1)]), None);
        let parts =
            [ChecksumHasher::of(ChecksumAlgorithm::Sha256, b"a"), ChecksumHasher::of(ChecksumAlgorithm::Sha256, b"b")];
        let mut joined = parts[0].as_bytes().to_vec();
        joined.extend_from_slice(parts[1].as_bytes());
        assert_eq!(composite_of(&parts), Some(ChecksumHasher::of(ChecksumAlgorithm::Sha256, &joined)));
    }
}
