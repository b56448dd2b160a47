//! The aws-c-auth SigV4 suite (`../shared/vectors/aws-sigv4-suite/aws-c-auth/v4`): 38 cases, each
//! checked for header signing and for query (presigned) signing: canonical request, string to sign,
//! signature and the signed request.
//!
//! The suite's harness uses the generic SigV4 rules (double URI encoding; normalisation when
//! `normalize` is set), and its request paths are written unencoded: they are given to the signer as
//! the path on the wire, which the double encoding then encodes once. The 32 cases that do not depend
//! on normalisation are also run with S3 rules, the key being encoded once.

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use stowage::Credentials;
use stowage::sigv4::{Method, Payload, Request, Scheme, SessionToken, Signer, SigningSettings};
use support::vectors::{RawRequest, read, signed_request_headers, signed_request_query, url_query, vectors_dir};

struct Case {
    name: String,
    context: Value,
    request: RawRequest,
    host: String,
}

fn cases() -> Option<Vec<(std::path::PathBuf, Case)>> {
    let dir = vectors_dir("aws-sigv4-suite/aws-c-auth/v4")?;
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("list the suite") {
        let path = entry.expect("dir entry").path();
        if !path.is_dir() {
            continue;
        }
        let context: Value = serde_json::from_str(&read(&path.join("context.json"))).expect("context.json");
        let mut request = RawRequest::parse(read(&path.join("request.txt")).as_bytes());
        let host = request.take_header("Host").expect("a Host header");
        let name = path.file_name().and_then(|n| n.to_str()).expect("case name").to_owned();
        out.push((path, Case { name, context, request, host }));
    }
    out.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    Some(out)
}

fn signer(case: &Case, settings: SigningSettings) -> Signer {
    let c = &case.context;
    let creds = &c["credentials"];
    let mut credentials = Credentials::new(
        creds["access_key_id"].as_str().expect("access key"),
        creds["secret_access_key"].as_str().expect("secret"),
    );
    if let Some(token) = creds["token"].as_str() {
        credentials = credentials.with_session_token(token);
    }
    let placement = if c["omit_session_token"].as_bool() == Some(true) {
        SessionToken::AddedAfterSigning
    } else {
        SessionToken::Signed
    };
    Signer::new(credentials, c["region"].as_str().expect("region"), c["service"].as_str().expect("service"))
        .expect("signer")
        .with_settings(settings.with_session_token(placement))
}

fn time_of(case: &Case) -> time::OffsetDateTime {
    let ts = case.context["timestamp"].as_str().expect("timestamp");
    // 2015-08-30T12:36:00Z, written the X-Amz-Date way.
    let basic: String = ts.chars().filter(|c| *c != '-' && *c != ':').collect();
    stowage::sigv4::parse_amz_date(&basic).expect("an ISO 8601 timestamp")
}

fn request<'a>(case: &'a Case, path: &'a str) -> Request<'a> {
    let method: Method = case.request.method.parse().expect("method");
    let mut r =
        Request::new(method, Scheme::Https, case.host.as_str(), path).payload(Payload::Bytes(&case.request.body));
    for (name, value) in &case.request.headers {
        r = r.header(name.as_str(), value.as_str());
    }
    for (name, value) in case.request.query_pairs() {
        r = r.query(name, value);
    }
    r
}

/// Signs one case both ways and compares every expected file; returns the number of checks made.
fn check_case(dir: &Path, case: &Case, settings: SigningSettings, path: &str) -> usize {
    let signer = signer(case, settings);
    let at = time_of(case);
    let req = request(case, path);
    let name = &case.name;

    // Header signing.
    let (auth, details) = signer.sign_explained(&req, at).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        details.canonical_request(),
        read(&dir.join("header-canonical-request.txt")),
        "{name}: header canonical request"
    );
    assert_eq!(details.string_to_sign(), read(&dir.join("header-string-to-sign.txt")), "{name}: header string to sign");
    assert_eq!(details.signature(), read(&dir.join("header-signature.txt")), "{name}: header signature");
    let expected = signed_request_headers(&read(&dir.join("header-signed-request.txt")));
    for (header, value) in &auth {
        let want = expected.iter().find(|(k, _)| k == header).map(|(_, v)| v.as_str());
        assert_eq!(Some(value), want, "{name}: signed request header {header}");
    }
    let ours: Vec<&str> = auth.iter().map(|(k, _)| k).collect();
    for (k, _) in &expected {
        let from_request = k == "host" || case.request.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(k));
        assert!(from_request || ours.contains(&k.as_str()), "{name}: the signed request has {k}, we did not add it");
    }

    // Query signing.
    let expires = Duration::from_secs(case.context["expiration_in_seconds"].as_u64().expect("expiry"));
    let (url, details) = signer.presign_explained(&req, expires, at).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        details.canonical_request(),
        read(&dir.join("query-canonical-request.txt")),
        "{name}: query canonical request"
    );
    assert_eq!(details.string_to_sign(), read(&dir.join("query-string-to-sign.txt")), "{name}: query string to sign");
    assert_eq!(details.signature(), read(&dir.join("query-signature.txt")), "{name}: query signature");
    let expected = signed_request_query(&read(&dir.join("query-signed-request.txt")));
    assert_eq!(url_query(url.url()), expected, "{name}: presigned URL query");
    6
}

/// The six cases whose path changes under normalisation; S3 never normalises, so they have no S3
/// reading.
const NORMALIZED_ONLY: [&str; 6] = [
    "get-relative-normalized",
    "get-relative-relative-normalized",
    "get-slash-dot-slash-normalized",
    "get-slash-normalized",
    "get-slash-pointless-dot-normalized",
    "get-slashes-normalized",
];

#[test]
fn all_cases_with_generic_rules() {
    let Some(cases) = cases() else { return };
    assert_eq!(cases.len(), 38, "the aws-c-auth v4 suite has 38 cases");
    let mut checks = 0;
    for (dir, case) in &cases {
        let normalize = case.context["normalize"].as_bool().expect("normalize flag");
        let settings = SigningSettings::generic()
            .with_normalize_path(normalize)
            .with_content_sha256_header(case.context["sign_body"].as_bool() == Some(true));
        checks += check_case(dir, case, settings, &case.request.path);
    }
    eprintln!("aws-c-auth v4: {} cases passed, header and query signing ({checks} checks)", cases.len());
}

#[test]
fn unnormalized_cases_with_s3_rules() {
    let Some(cases) = cases() else { return };
    let mut passed = 0;
    for (dir, case) in &cases {
        if NORMALIZED_ONLY.contains(&case.name.as_str()) {
            continue;
        }
        let settings =
            SigningSettings::s3().with_content_sha256_header(case.context["sign_body"].as_bool() == Some(true));
        let path = stowage::sigv4::encode_path(&case.request.path);
        check_case(dir, case, settings, &path);
        passed += 1;
    }
    assert_eq!(passed, 32);
    eprintln!("aws-c-auth v4 with S3 rules: {passed} cases passed");
}
