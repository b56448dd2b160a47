//! Secrets stay secret: the secret access key and the session token never appear in `Debug` or
//! `Display` output of anything the crate returns, nor in errors; header values are not echoed by
//! errors; presigned URLs print without their query string.

use std::time::Duration;

use stowage::Credentials;
use stowage::sigv4::{BucketAddress, Method, Signer, parse_amz_date};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLEtokenVALUE";

fn assert_clean(what: &str, shown: &str) {
    assert!(!shown.contains(SECRET), "{what} shows the secret: {shown}");
    assert!(!shown.contains(TOKEN), "{what} shows the session token: {shown}");
    assert!(!shown.contains("IQoJb3JpZ2luX2VjEXAMPLE"), "{what} shows part of the token: {shown}");
}

#[test]
fn nothing_prints_a_secret() {
    let credentials = Credentials::new("AKIDEXAMPLE", SECRET).with_session_token(TOKEN);
    assert_clean("Credentials", &format!("{credentials:?}"));
    assert!(format!("{credentials:?}").contains("AKIDEXAMPLE"), "the access key id is not secret and helps debugging");

    let signer = Signer::new(credentials, "us-east-1", "s3").expect("signer");
    assert_clean("Signer", &format!("{signer:?}"));

    let at = parse_amz_date("20250101T000000Z").expect("time");
    let bucket = BucketAddress::aws("us-east-1", "bucket").expect("address");
    let request = bucket.object(Method::Put, "k").expect("request").header("content-type", "text/plain");

    let presigned = signer.presign(&request, Duration::from_secs(60), at).expect("presign");
    // The URL itself must carry the token (SigV4 puts it there); its Debug form must not.
    assert!(presigned.url().contains("X-Amz-Security-Token="));
    assert!(!presigned.url().contains(SECRET));
    assert_clean("PresignedUrl", &format!("{presigned:?}"));
    assert!(!format!("{presigned:?}").contains("X-Amz-Signature"));

    let (auth, details) = signer.sign_explained(&request, at).expect("sign");
    assert_clean("AuthHeaders", &format!("{auth:?}"));
    assert_clean("SigningDetails", &format!("{details:?}"));
    assert!(details.canonical_request().contains(TOKEN), "the raw canonical request is what was signed");

    let (_, details) = signer.presign_explained(&request, Duration::from_secs(60), at).expect("presign");
    assert_clean("SigningDetails (presign)", &format!("{details:?}"));
}

#[test]
fn errors_do_not_echo_secrets_or_header_values() {
    let at = parse_amz_date("20250101T000000Z").expect("time");
    let bucket = BucketAddress::aws("us-east-1", "bucket").expect("address");

    // A token that cannot go into a header is refused without being shown.
    let bad_token = format!("{TOKEN}\r\nX-Injected: 1");
    let err = Signer::new(Credentials::new("AKID", SECRET).with_session_token(bad_token), "us-east-1", "s3")
        .expect_err("a token with CR/LF");
    assert_clean("credentials error", &format!("{err} {err:?}"));

    // A header value holding a secret and CR/LF: refused, value not echoed.
    let signer = Signer::new(Credentials::new("AKID", SECRET), "us-east-1", "s3").expect("signer");
    let secret_value = format!("{SECRET}\r\nEvil: yes");
    let request = bucket.object(Method::Put, "k").expect("request").header("x-amz-meta-note", secret_value.as_str());
    let err = signer.presign(&request, Duration::from_secs(60), at).expect_err("CR/LF in a header value");
    assert_clean("header error", &format!("{err} {err:?}"));
    assert!(err.to_string().contains("x-amz-meta-note"), "the error names the header: {err}");

    // Every other refusal, shown both ways.
    let errors = [
        signer
            .presign(&bucket.object(Method::Get, "k").expect("request"), Duration::from_secs(604_801), at)
            .expect_err("8 days"),
        signer.presign(&bucket.object(Method::Get, "k").expect("request"), Duration::ZERO, at).expect_err("0 s"),
        Signer::new(Credentials::new("AKID", ""), "us-east-1", "s3").expect_err("empty secret"),
        Signer::new(Credentials::new("AKID", SECRET), "us east 1", "s3").expect_err("region"),
    ];
    for err in errors {
        assert_clean("error", &format!("{err} {err:?}"));
    }
}

/// The upload endpoints' shared secret: not in `Debug` output of the secret, of the endpoints, of
/// the tickets' store, nor of the error of a secret too short.
#[cfg(all(feature = "axum", feature = "testing"))]
#[tokio::test]
async fn the_upload_secret_is_never_shown() {
    use std::sync::Arc;
    use stowage::axum::{BucketTickets, Secret, Uploads};
    const SHARED: &str = "an upload secret shared by every instance, never shown";
    let server = stowage::testing::TestServer::start().await.expect("server");
    let storage: Arc<dyn stowage::Storage> = Arc::new(server.storage().expect("storage"));
    let secret = Secret::new(SHARED).expect("secret");
    let uploads =
        Uploads::new(Arc::clone(&storage), stowage::constraints::UploadPolicy::new("u/")).with_secret(secret.clone());
    let tickets = BucketTickets::new(storage, "t/", secret.clone());
    for (what, shown) in [
        ("Secret", format!("{secret:?}")),
        ("Uploads", format!("{uploads:?}")),
        ("BucketTickets", format!("{tickets:?}")),
        ("WeakSecret", Secret::new(&SHARED[..20]).map(|_| String::new()).unwrap_or_else(|e| format!("{e} {e:?}"))),
    ] {
        assert!(!shown.contains(SHARED) && !shown.contains(&SHARED[..20]), "{what} shows the secret: {shown}");
        assert!(!shown.is_empty(), "{what}");
    }
}
