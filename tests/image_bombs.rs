//! Image bombs against the process's peak memory: this file holds one test, so that its process's
//! high-water mark (`VmHWM`) is that test's alone. A PNG declaring 100,000 × 100,000 pixels (10 GB
//! to decode) and a real 100-megapixel PNG are refused from their headers, and the peak grows by
//! less than a few MiB.

#![cfg(all(feature = "images", feature = "testing", target_os = "linux"))]

mod support;

use stowage::images::{ImagePolicy, ImageRefusal, sanitize_off_runtime};

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn floods_are_refused_before_decoding_with_memory_bounded() {
    let Some(dir) = support::images::fixtures() else { return };
    let flood = std::fs::read(dir.join("pixel-flood.png")).expect("flood");
    let hundred = std::fs::read(dir.join("hundred-megapixels.png")).expect("100 MP");
    // Warm up the runtime's blocking pool and the decoders' code with a small image.
    let small = std::fs::read(dir.join("text-trailing.png")).expect("png");
    sanitize_off_runtime(small, "image/png".into(), ImagePolicy::new()).await.expect("a small PNG");
    let before = peak_rss_kib();
    for _ in 0..20 {
        let refusal = sanitize_off_runtime(flood.clone(), "image/png".into(), ImagePolicy::new()).await;
        assert!(matches!(refusal, Err(ImageRefusal::TooLarge { width: 100_000, .. })), "{refusal:?}");
        let refusal = sanitize_off_runtime(hundred.clone(), "image/png".into(), ImagePolicy::new()).await;
        assert!(matches!(refusal, Err(ImageRefusal::TooLarge { width: 10_000, .. })), "{refusal:?}");
    }
    let grown = peak_rss_kib().saturating_sub(before);
    eprintln!("peak RSS grew by {grown} KiB over 40 refusals (the flood alone would take 10 GB to decode)");
    assert!(grown < 8 * 1024, "the peak grew by {grown} KiB");
}
