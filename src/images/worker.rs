//! Decoding off the async runtime, a few at a time, and never taking the service down.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};

use tokio::sync::Semaphore;

use super::pipeline::{Sanitized, sanitize};
use super::policy::{ImagePolicy, ImageRefusal};

/// The cores this process may use (2 when the system does not say).
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

/// One image in work per core: decoding is CPU-bound, and more at once would only take memory.
fn permits() -> &'static Arc<Semaphore> {
    static PERMITS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    PERMITS.get_or_init(|| Arc::new(Semaphore::new(cores())))
}

/// [`sanitize`] on a blocking thread, at most one image per core at once across the process, a
/// decoder's panic turned into [`ImageRefusal::DecoderFailed`] (the `image` crate's changelog warns
/// that decoders may panic on malicious input). The async runtime's threads never decode.
///
/// # Errors
///
/// As [`sanitize`].
pub async fn sanitize_off_runtime(
    bytes: Vec<u8>,
    declared_type: String,
    policy: ImagePolicy,
) -> Result<Sanitized, ImageRefusal> {
    let permit = Arc::clone(permits()).acquire_owned().await.map_err(|_| ImageRefusal::DecoderFailed)?;
    // The permit goes with the work: should this future be dropped (the client gone), the decoding
    // still holds it until it ends, and the bound holds.
    let work = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        std::panic::catch_unwind(AssertUnwindSafe(|| sanitize(&bytes, &declared_type, &policy)))
    });
    match work.await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) | Err(_) => {
            crate::trace::event!(warn, "an image decoder panicked; the image was refused");
            Err(ImageRefusal::DecoderFailed)
        }
    }
}
