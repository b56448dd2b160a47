//! Cloudflare R2 is a configuration of the S3 backend: its endpoint and region, and its documented
//! differences enforced before any request is sent. Nothing here touches the network: the endpoint
//! points at an account that does not exist, and every refusal must come before a connection.

#![cfg(feature = "s3")]

use std::time::Duration;

use stowage::{Credentials, Error, GetOptions, Platform, PutOptions, S3Config, Storage};

async fn r2() -> stowage::S3Storage {
    S3Config::r2("0123456789abcdef0123456789abcdef", "uploads", Credentials::new("r2-access-key", "r2-secret"))
        .build()
        .await
        .expect("R2 storage")
}

#[tokio::test]
async fn endpoint_region_and_addressing() {
    let storage = r2().await;
    assert_eq!(storage.platform(), Platform::R2);
    assert_eq!(storage.signer().unwrap().region(), "auto");
    let url = storage.presign_get("a b.png", &GetOptions::new(), Duration::from_secs(60)).expect("presign");
    assert!(
        url.url.starts_with("https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com/uploads/a%20b.png?")
    );
    assert!(url.url.contains("%2Fauto%2Fs3%2Faws4_request"));

    let eu = S3Config::r2("acct", "b", Credentials::new("k", "s")).with_jurisdiction("eu").build().await.expect("eu");
    assert_eq!(eu.address().authority(), "acct.eu.r2.cloudflarestorage.com");

    // Configured from the environment, as the R2 tutorials do: the endpoint selects the R2 rules.
    let env = |name: &str| {
        Some(
            match name {
                "S3_ACCESS_KEY_ID" => "k",
                "S3_SECRET_ACCESS_KEY" => "s",
                "S3_BUCKET" => "b",
                "S3_REGION" => "auto",
                "S3_ENDPOINT" => "https://acct.r2.cloudflarestorage.com",
                _ => return None,
            }
            .to_owned(),
        )
    };
    let from_env = S3Config::from_lookup(env).expect("from env").build().await.expect("built");
    assert_eq!(from_env.platform(), Platform::R2);
}

#[tokio::test]
async fn unsupported_headers_are_refused_before_sending() {
    let storage = r2().await;
    let cases = [
        ("ACL", PutOptions::new().with_acl("public-read")),
        ("SSE-S3", PutOptions::new().with_server_side_encryption("AES256")),
        (
            "SSE-KMS",
            PutOptions::new()
                .with_server_side_encryption("aws:kms")
                .with_header("x-amz-server-side-encryption-aws-kms-key-id", "k"),
        ),
        ("tagging", PutOptions::new().with_tagging(&[("team", "a")])),
        ("object lock", PutOptions::new().with_header("x-amz-object-lock-mode", "GOVERNANCE")),
        ("grants", PutOptions::new().with_header("x-amz-grant-read", "id=x")),
        ("storage class", PutOptions::new().with_storage_class("GLACIER")),
        ("metadata over 8 KiB", PutOptions::new().with_metadata("big", "x".repeat(8200))),
    ];
    for (what, options) in cases {
        let err = storage.presign_put("k", &options, Duration::from_secs(60)).expect_err(what);
        assert!(matches!(err, Error::Unsupported { backend: "Cloudflare R2", .. }), "{what}: {err}");
        assert!(err.to_string().contains("not supported by Cloudflare R2"), "{err}");
        // The same refusal for a server-side upload, before any connection to the (nonexistent) account.
        let err = storage.put_object("k", "x".into(), &options).await.expect_err(what);
        assert!(matches!(err, Error::Unsupported { .. }), "{what}: {err}");
    }
    // What R2 does support passes the checks (SSE-C, STANDARD_IA, small metadata).
    let fine = PutOptions::new()
        .with_content_type("image/png")
        .with_storage_class("STANDARD_IA")
        .with_header("x-amz-server-side-encryption-customer-algorithm", "AES256")
        .with_metadata("owner", "42");
    storage.presign_put("k", &fine, Duration::from_secs(60)).expect("supported options");
}

#[tokio::test]
async fn the_same_options_work_on_aws() {
    let aws = S3Config::new("uploads", "us-east-1", Credentials::new("k", "s")).build().await.expect("aws");
    let options =
        PutOptions::new().with_acl("private").with_server_side_encryption("AES256").with_tagging(&[("a b", "c&d")]);
    let url = aws.presign_put("k", &options, Duration::from_secs(60)).expect("AWS accepts these");
    assert_eq!(url.headers.get("x-amz-tagging").map(String::as_str), Some("a%20b=c%26d"));
    assert!(url.url.contains("X-Amz-SignedHeaders=host%3Bx-amz-acl%3Bx-amz-server-side-encryption%3Bx-amz-tagging"));
}
