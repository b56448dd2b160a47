//! SHA-256 and HMAC-SHA256 for the signing hot path, over `sha2`'s compression function.
//!
//! A presigned URL costs about ten SHA-256 blocks, and with them three hash finalisations (the
//! canonical request, then HMAC's inner and outer hash). Through the general `Digest` and `Mac`
//! traits each finalisation costs about as much as a block, and a keyed HMAC state is a few hundred
//! bytes to clone. Here the compression is still `sha2`'s ([`compress256`], with its SHA-NI and ARMv8
//! paths); only the padding, which FIPS 180-4 §5.1.1 fixes, and the HMAC composition (RFC 2104) are
//! written out, on states of 32 bytes. The tests check both against `sha2` and `hmac` for every
//! length that matters.

use sha2::block_api::compress256;
use zeroize::Zeroize;

/// The initial hash value of SHA-256 (FIPS 180-4 §5.3.3).
const H0: [u32; 8] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

fn compress(state: &mut [u32; 8], data: &[u8]) -> usize {
    let (blocks, _) = data.as_chunks::<64>();
    compress256(state, blocks);
    blocks.len() * 64
}

/// Pads `tail` (fewer than 64 bytes) for a message of `len` bytes and compresses the last block(s).
fn finish(mut state: [u32; 8], tail: &[u8], len: u64) -> [u8; 32] {
    let mut last = [0u8; 128];
    let n = tail.len().min(63);
    last[..n].copy_from_slice(&tail[..n]);
    last[n] = 0x80;
    let end = if n < 56 { 64 } else { 128 };
    last[end - 8..end].copy_from_slice(&len.wrapping_mul(8).to_be_bytes());
    compress(&mut state, &last[..end]);
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let mut state = H0;
    let done = compress(&mut state, data);
    finish(state, data.get(done..).unwrap_or_default(), data.len() as u64)
}

/// SHA-256 of a buffer that is still being written: [`absorb`](Self::absorb) hashes the complete
/// blocks written so far, [`finish`](Self::finish) the rest. Hashing each block as soon as it is
/// written lets the processor run the compression (a long chain of dependent SHA instructions) while
/// the code goes on writing the next part, instead of after all of it.
pub(crate) struct Progressive {
    state: [u32; 8],
    done: usize,
}

impl Progressive {
    pub(crate) fn new() -> Self {
        Self { state: H0, done: 0 }
    }

    /// Hashes the complete blocks of `buffer` not hashed yet. `buffer` only ever grows between calls.
    pub(crate) fn absorb(&mut self, buffer: &[u8]) {
        self.done += compress(&mut self.state, buffer.get(self.done..).unwrap_or_default());
    }

    /// SHA-256 of all of `buffer`.
    pub(crate) fn finish(mut self, buffer: &[u8]) -> [u8; 32] {
        self.absorb(buffer);
        finish(self.state, buffer.get(self.done..).unwrap_or_default(), buffer.len() as u64)
    }
}

/// An HMAC-SHA256 key, as the hash states after its inner and outer pad (RFC 2104): signing with it
/// starts one block in. Wiped on drop.
#[derive(Clone)]
pub(crate) struct HmacKey {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl HmacKey {
    pub(crate) fn new(key: &[u8]) -> Self {
        let mut block = [0u8; 64];
        if key.len() > 64 {
            block[..32].copy_from_slice(&sha256(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let pad = |byte: u8, block: &[u8; 64]| {
            let mut padded = block.map(|b| b ^ byte);
            let mut state = H0;
            compress(&mut state, &padded);
            padded.zeroize();
            state
        };
        let key = Self { inner: pad(0x36, &block), outer: pad(0x5c, &block) };
        block.zeroize();
        key
    }

    /// A MAC of data still to come.
    pub(crate) fn start(&self) -> HmacRun {
        HmacRun { state: self.inner, buffer: [0; 64], buffered: 0, len: 64 }
    }

    /// `HMAC(key, data)`.
    #[cfg(test)]
    pub(crate) fn mac(&self, data: &[u8]) -> [u8; 32] {
        let mut mac = self.start();
        mac.update(data);
        mac.finalize(self)
    }
}

impl Drop for HmacKey {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

/// An HMAC being computed: the inner hash so far. Cheap to clone (it holds no key, only a state
/// derived from it, wiped on drop).
#[derive(Clone)]
pub(crate) struct HmacRun {
    state: [u32; 8],
    buffer: [u8; 64],
    buffered: usize,
    /// Bytes hashed so far, the inner pad included.
    len: u64,
}

impl HmacRun {
    pub(crate) fn update(&mut self, mut data: &[u8]) {
        self.len += data.len() as u64;
        if self.buffered > 0 {
            let take = (64 - self.buffered).min(data.len());
            self.buffer[self.buffered..self.buffered + take].copy_from_slice(&data[..take]);
            self.buffered += take;
            data = &data[take..];
            if self.buffered < 64 {
                return;
            }
            compress(&mut self.state, &self.buffer);
            self.buffered = 0;
        }
        let done = compress(&mut self.state, data);
        let rest = data.get(done..).unwrap_or_default();
        self.buffer[..rest.len()].copy_from_slice(rest);
        self.buffered = rest.len();
    }

    /// The MAC, with `key` the key this MAC was started from.
    pub(crate) fn finalize(self, key: &HmacKey) -> [u8; 32] {
        let inner = finish(self.state, &self.buffer[..self.buffered], self.len);
        // The outer hash: the outer pad (already in `key.outer`), then the inner digest.
        finish(key.outer, &inner, 64 + 32)
    }
}

impl Drop for HmacRun {
    fn drop(&mut self) {
        // The state is derived from the key; the buffer holds only message bytes.
        self.state.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{KeyInit, Mac};
    use sha2::Digest;

    fn data(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| (i as u8).wrapping_mul(167).wrapping_add(seed)).collect()
    }

    #[test]
    fn sha256_matches_sha2_at_every_length_around_the_block_edges() {
        for len in (0..300).chain([447, 448, 449, 511, 512, 513, 4096, 65_537]) {
            let input = data(len, 7);
            assert_eq!(sha256(&input), <[u8; 32]>::from(sha2::Sha256::digest(&input)), "length {len}");
        }
        // FIPS 180-2 appendix B.1: "abc".
        assert_eq!(hex::encode(sha256(b"abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn progressive_hashing_matches_one_pass_whatever_the_steps() {
        let input = data(700, 5);
        for step in [1, 13, 63, 64, 65, 200, 700] {
            for len in [0, 1, 55, 56, 64, 119, 128, 300, 700] {
                let mut hash = Progressive::new();
                let mut end = 0;
                while end < len {
                    end = (end + step).min(len);
                    hash.absorb(&input[..end]);
                }
                assert_eq!(hash.finish(&input[..len]), sha256(&input[..len]), "step {step}, length {len}");
            }
        }
    }

    #[test]
    fn hmac_matches_the_hmac_crate_whatever_the_pieces() {
        for key_len in [0, 1, 32, 63, 64, 65, 200] {
            let key = data(key_len, 3);
            let ours = HmacKey::new(&key);
            for len in (0..200).step_by(7).chain([55, 56, 63, 64, 65, 119, 120, 128, 1000]) {
                let message = data(len, 11);
                let mut theirs = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key).expect("any key");
                theirs.update(&message);
                let expected: [u8; 32] = theirs.finalize().into_bytes().into();
                assert_eq!(ours.mac(&message), expected, "key {key_len}, message {len}");
                // Fed in uneven pieces, through a clone, as the signer does.
                let mut mac = ours.start();
                for piece in message.chunks(13) {
                    mac.update(piece);
                }
                assert_eq!(mac.clone().finalize(&ours), expected, "key {key_len}, message {len} in pieces");
            }
        }
        // RFC 4231 test case 2.
        let key = HmacKey::new(b"Jefe");
        assert_eq!(
            hex::encode(key.mac(b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
