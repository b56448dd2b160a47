//! Shared helpers of the integration tests.

#![allow(dead_code)]

#[cfg(feature = "s3")]
pub mod credential_servers;
#[cfg(feature = "s3")]
pub mod multipart;
#[cfg(feature = "s3")]
pub mod proxy;
#[cfg(feature = "s3")]
pub mod raw_http;
pub mod rng;
#[cfg(feature = "testing")]
pub mod servers;
pub mod vectors;
#[cfg(feature = "testing")]
pub mod webdriver;

/// Whether `python3` with botocore can run here. Under CI (`CI=true`) or with
/// `STOWAGE_REQUIRE_BOTOCORE=1` a missing botocore fails instead; elsewhere the caller skips, saying so.
pub fn botocore_available() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import botocore"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return true;
    }
    let required =
        std::env::var("CI").is_ok_and(|v| v == "true") || std::env::var_os("STOWAGE_REQUIRE_BOTOCORE").is_some();
    assert!(!required, "python3 with botocore is required here (pip install botocore)");
    eprintln!("SKIPPED: python3 with botocore is not available (pip install botocore); the comparison did not run");
    false
}
