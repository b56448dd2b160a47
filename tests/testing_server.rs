//! `stowage::testing`: the in-process S3 server users start in their own tests.

#![cfg(feature = "testing")]

mod support;

use std::time::Duration;

use stowage::testing::TestServer;
use stowage::{CorsConfiguration, GetOptions, PutOptions, Storage};
use support::raw_http;

#[tokio::test]
async fn one_line_gives_a_bucket_that_verifies_signatures_and_is_gone_on_drop() {
    let s3 = TestServer::start().await.expect("server");
    let storage = s3.storage().expect("storage");
    storage.put_object("a/b.txt", "hello".into(), &PutOptions::new()).await.expect("put");
    assert_eq!(std::fs::read(s3.root().join(s3.bucket()).join("a/b.txt")).expect("on disk"), b"hello");

    // A presigned URL works from any client; a tampered one does not.
    let url = storage.presign_get("a/b.txt", &GetOptions::new(), Duration::from_secs(60)).expect("presign");
    assert_eq!(raw_http::send("GET", &url.url, &[], &[]).await.status, 200);
    let tampered = url.url.replace("a/b.txt", "a/c.txt");
    assert_eq!(raw_http::send("GET", &tampered, &[], &[]).await.status / 100, 4);

    // Each server has its own keys: another server's are refused.
    let other = TestServer::builder().with_bucket("other").start().await.expect("server");
    assert_ne!(other.credentials().access_key_id(), s3.credentials().access_key_id());
    let wrong = s3.config().with_credentials(other.credentials()).build().await.expect("storage");
    let refused = wrong.head_object("a/b.txt", &stowage::GetOptions::new()).await.expect_err("wrong keys");
    assert_eq!(refused.status().map(|s| s / 100), Some(4), "{refused}");

    let root = s3.root().to_owned();
    drop(storage);
    drop(s3);
    assert!(!root.exists(), "the directory is removed on drop");
    assert!(TestServer::builder().with_bucket("../escape").start().await.is_err());
}

#[tokio::test]
async fn cors_is_answered_as_s3_and_r2_answer_it() {
    let origin = "http://localhost:5173";
    let s3 = TestServer::start().await.expect("server");
    let storage = s3.storage().expect("storage");
    // No configuration: every preflight refused, as by a bucket without CORS.
    let report = storage.check_cors_preflight(origin, "PUT", &["content-type"]).await.expect("preflight");
    assert!(!report.is_ok(), "{report}");
    s3.set_cors(Some(CorsConfiguration::for_browser_uploads([origin])));
    let report = storage.check_cors_preflight(origin, "PUT", &["content-type"]).await.expect("preflight");
    assert!(report.is_ok(), "{report}");
    let elsewhere = storage.check_cors_preflight("https://evil.example", "PUT", &[]).await.expect("preflight");
    assert!(!elsewhere.is_ok(), "{elsewhere}");

    let built =
        TestServer::builder().with_cors(CorsConfiguration::for_browser_uploads([origin])).start().await.expect("s");
    let report = built.storage().expect("storage").check_cors_preflight(origin, "GET", &[]).await.expect("preflight");
    assert!(report.is_ok(), "{report}");
}
