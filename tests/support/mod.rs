//! Shared helpers of the integration tests: the one tally of a suite, the one "required in CI, else
//! skipped" rule, the one runner of the examples, and the one way to run a suite on both servers
//! ([`on_each_server!`]).

#![allow(dead_code, unused_macros, unused_imports)]

#[cfg(all(feature = "axum", feature = "testing"))]
pub mod api;
#[cfg(feature = "s3")]
pub mod credential_servers;
#[cfg(all(feature = "images", feature = "testing"))]
pub mod images;
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

use std::path::PathBuf;

/// Whether `tool`, which `present` says is here, can be used. Under CI (`CI=true`) or with
/// `STOWAGE_REQUIRE_<TOOL>` set, its absence fails the test with how to install it; elsewhere the
/// test skips, saying so (a skipped run is never counted as a passed one: the suites that need it
/// assert their case counts only when it ran).
pub fn available(tool: &str, present: bool, install: &str) -> bool {
    if present {
        return true;
    }
    let variable = format!("STOWAGE_REQUIRE_{}", tool.to_ascii_uppercase());
    let required = std::env::var("CI").is_ok_and(|v| v == "true") || std::env::var_os(&variable).is_some();
    assert!(!required, "{tool} is required here ({install})");
    eprintln!("SKIPPED: {tool} is not installed ({install}); what needs it did not run");
    false
}

/// Whether `python3` with botocore can run here.
pub fn botocore_available() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import botocore"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    available("botocore", ok, "python3 -m pip install botocore")
}

/// The example `name`, as `cargo test` built it.
pub fn example(name: &str) -> PathBuf {
    // target/<profile>/deps/<test>-… → target/<profile>/examples/<name>
    let exe = std::env::current_exe().expect("test path");
    let dir = exe.parent().and_then(|p| p.parent()).expect("target dir").join("examples");
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.exists(), "{} is missing: cargo test builds the examples", path.display());
    path
}

/// What a suite found on one server: the cases that passed, and notes on where the server differed.
#[derive(Debug, Default)]
pub struct Tally {
    pub cases: u32,
    pub notes: Vec<String>,
}

impl Tally {
    /// One case passed.
    pub fn pass(&mut self, what: &str) {
        self.cases += 1;
        eprintln!("  ok: {what}");
    }

    /// Runs `case` (named `name`) on `server`, within two minutes, and counts it.
    pub async fn case<F: std::future::Future<Output = ()>>(&mut self, server: &str, name: &str, case: F) {
        const LIMIT: std::time::Duration = std::time::Duration::from_secs(120);
        let started = std::time::Instant::now();
        tokio::time::timeout(LIMIT, case).await.unwrap_or_else(|_| panic!("{server}: {name}: hung for {LIMIT:?}"));
        eprintln!("  {server}: {name} ({:.2} s)", started.elapsed().as_secs_f64());
        self.cases += 1;
    }

    /// A difference of the server's, met as expected.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// The cases and notes of a conformance report.
    #[cfg(feature = "testing")]
    pub fn add(&mut self, report: stowage::testing::conformance::Report) {
        self.cases += report.cases;
        self.notes.extend(report.notes);
    }

    /// Prints what `suite` found on `server`, and returns the tally for its checks.
    pub fn finish(mut self, suite: &str, server: &str) -> Self {
        self.notes.sort();
        self.notes.dedup();
        eprintln!("{suite} on {server}: {} cases passed", self.cases);
        for note in &self.notes {
            eprintln!("  note: {note}");
        }
        self
    }
}

/// Two tests from one suite, `on_s3s_fs` and `on_garage`: `$suite(&Server) -> Tally` runs on each
/// server (within five minutes), then `$check(&Server, Tally)` judges what it found. Garage's test
/// skips where Garage is not installed and not required.
macro_rules! on_each_server {
    ($suite:path, $check:expr) => {
        #[tokio::test(flavor = "multi_thread")]
        async fn on_s3s_fs() {
            let server = support::servers::s3s().await;
            let tally = tokio::time::timeout(std::time::Duration::from_secs(300), $suite(&server))
                .await
                .expect("the suite did not finish within five minutes");
            ($check)(&server, tally);
        }

        #[tokio::test(flavor = "multi_thread")]
        async fn on_garage() {
            let Some(server) = support::servers::garage_started().await else { return };
            let tally = tokio::time::timeout(std::time::Duration::from_secs(300), $suite(&server))
                .await
                .expect("the suite did not finish within five minutes");
            ($check)(&server, tally);
        }
    };
}
pub(crate) use on_each_server;
