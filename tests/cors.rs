//! Bucket CORS against Garage, which implements it: put, get, the preflight a browser sends, delete.

#![cfg(feature = "testing")]

mod support;

use stowage::{CorsConfiguration, CorsRule};

#[tokio::test(flavor = "multi_thread")]
async fn bucket_cors_on_garage() {
    let Some(server) = tokio::task::spawn_blocking(support::servers::garage).await.expect("garage") else { return };
    let storage = server.storage().await;
    let origin = "http://127.0.0.1:3000";

    assert_eq!(storage.get_bucket_cors().await.expect("get"), None, "no configuration yet");
    let report = storage.check_cors_preflight(origin, "PUT", &["content-type"]).await.expect("preflight");
    assert!(!report.is_ok() && report.status == 403, "{report:?}");
    assert!(report.to_string().contains("would be blocked"), "{report}");

    let cors = CorsConfiguration::for_browser_uploads([origin]);
    storage.put_bucket_cors(&cors).await.expect("put cors");
    let stored = storage.get_bucket_cors().await.expect("get").expect("a configuration");
    assert_eq!(stored.rules.len(), 1);
    assert_eq!(stored.rules[0].allowed_origins, [origin]);
    assert_eq!(stored.rules[0].allowed_methods, ["PUT", "GET", "HEAD"]);
    assert_eq!(stored.rules[0].expose_headers, ["ETag"]);

    let report = storage.check_cors_preflight(origin, "PUT", &["content-type"]).await.expect("preflight");
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.allow_origin.as_deref(), Some(origin));

    // Another origin, and a method the rule does not allow.
    let report =
        storage.check_cors_preflight("https://evil.example", "PUT", &["content-type"]).await.expect("preflight");
    assert!(!report.is_ok(), "{report:?}");
    let report = storage.check_cors_preflight(origin, "DELETE", &[]).await.expect("preflight");
    assert!(!report.is_ok(), "{report:?}");

    // A rule with an explicit header list: a header outside it is reported.
    let mut narrow = CorsRule::new([origin], &["PUT"]);
    narrow.allowed_headers = vec!["content-type".into()];
    storage.put_bucket_cors(&CorsConfiguration::new(vec![narrow])).await.expect("put cors");
    let report =
        storage.check_cors_preflight(origin, "PUT", &["content-type", "x-amz-meta-owner"]).await.expect("preflight");
    assert!(!report.is_ok(), "{report:?}");

    storage.delete_bucket_cors().await.expect("delete cors");
    assert_eq!(storage.get_bucket_cors().await.expect("get"), None);
}
