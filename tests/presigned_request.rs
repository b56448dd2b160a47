//! The value a web handler hands to a browser: its JSON form (feature `serde`) and its redacted
//! `Debug` form.

#![cfg(feature = "s3")]

use std::time::Duration;

use stowage::{Credentials, PutOptions, S3Config, Storage};

async fn presigned() -> stowage::PresignedRequest {
    let storage =
        S3Config::new("bucket", "eu-west-1", Credentials::new("AKID", "secret").with_session_token("TOKEN123"))
            .build()
            .await
            .expect("storage");
    let options = PutOptions::new().with_content_type("image/png").with_content_length(42);
    storage.presign_put("avatars/1.png", &options, Duration::from_secs(300)).expect("presign")
}

#[tokio::test]
async fn debug_hides_the_credential_part_of_the_url() {
    let p = presigned().await;
    assert!(p.url.contains("X-Amz-Signature=") && p.url.contains("TOKEN123"));
    let shown = format!("{p:?}");
    assert!(!shown.contains("X-Amz-Signature") && !shown.contains("TOKEN123"), "{shown}");
    assert!(shown.contains("https://bucket.s3.eu-west-1.amazonaws.com/avatars/1.png?** redacted **"), "{shown}");
    assert_eq!(p.method, "PUT");
    assert_eq!(p.headers.get("content-type").map(String::as_str), Some("image/png"));
    assert_eq!(p.headers.get("content-length").map(String::as_str), Some("42"));
    let lifetime = p.expires_at - time::OffsetDateTime::now_utc();
    assert!((295..=300).contains(&lifetime.whole_seconds()), "{lifetime}");
}

#[cfg(feature = "serde")]
#[tokio::test]
async fn serialises_for_a_json_response() {
    let p = presigned().await;
    let json: serde_json::Value = serde_json::to_value(&p).expect("serialise");
    assert_eq!(json["method"], "PUT");
    assert_eq!(json["url"], p.url.as_str());
    assert_eq!(json["headers"]["content-type"], "image/png");
    assert_eq!(json["headers"]["content-length"], "42");
    let expires = json["expires_at"].as_str().expect("RFC 3339 text");
    assert!(expires.ends_with('Z') && expires.contains('T'), "{expires}");
}
