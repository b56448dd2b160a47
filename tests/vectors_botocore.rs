//! The 60 S3/R2 vectors generated with botocore (`../shared/vectors/botocore-s3.json`): presigned PUT,
//! GET and HEAD URLs and Authorization headers for 28 kinds of object key, three endpoints (a local
//! server, R2, AWS virtual-hosted), explicit default ports, with and without session tokens. Every
//! vector is checked for URL, canonical request, string to sign, signature and headers.

mod support;

use std::time::Duration;

use serde_json::Value;
use stowage::Credentials;
use stowage::sigv4::{AddressingStyle, BucketAddress, Method, Payload, Signer, parse_amz_date};
use support::vectors::{read, vectors_dir};

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("expected a string, got {v}"))
}

/// botocore keeps an explicit default port (`:443`, `:80`) in the URL string while URL libraries drop
/// it; both name the same resource, and the signed `host` is the same. Compare without it.
fn without_default_port(url: &str) -> String {
    url.replacen(":443/", "/", 1).replacen(":80/", "/", 1)
}

#[test]
fn all_vectors() {
    let Some(dir) = vectors_dir("botocore-s3.json") else { return };
    let doc: Value = serde_json::from_str(&read(&dir)).expect("botocore-s3.json");
    let vectors = doc["vectors"].as_array().expect("vectors");
    assert_eq!(vectors.len(), 60);
    let (mut presigned, mut header) = (0, 0);

    for v in vectors {
        let id = s(&v["id"]);
        let input = &v["input"];
        let expected = &v["expected"];

        let mut credentials = Credentials::new(s(&input["access_key_id"]), s(&input["secret_access_key"]));
        if let Some(token) = input["session_token"].as_str() {
            credentials = credentials.with_session_token(token);
        }
        let signer = Signer::new(credentials, s(&input["region"]), s(&input["service"])).expect("signer");
        let style = match s(&input["addressing_style"]) {
            "path" => AddressingStyle::Path,
            "virtual" => AddressingStyle::VirtualHosted,
            other => panic!("{id}: addressing style {other}"),
        };
        let address = BucketAddress::new(s(&input["endpoint"]), s(&input["bucket"]), style).expect("address");
        let method: Method = s(&input["method"]).parse().expect("method");
        let at = parse_amz_date(s(&input["timestamp"])).expect("timestamp");

        let body = input["payload"]["body_utf8"].as_str().map(str::as_bytes);
        let mut request = address.object(method, s(&input["key"])).unwrap_or_else(|e| panic!("{id}: {e}"));
        for (name, value) in input["extra_signed_headers"].as_object().expect("headers") {
            request = request.header(name.as_str(), s(value));
        }
        for (name, value) in input["query_overrides"].as_object().expect("query") {
            request = request.query(name.as_str(), s(value));
        }
        if let Some(body) = body {
            request = request.payload(Payload::Bytes(body));
        }

        let details = match s(&v["kind"]) {
            "presign" => {
                let expires = Duration::from_secs(input["expires_in"].as_u64().expect("expires_in"));
                let (url, details) =
                    signer.presign_explained(&request, expires, at).unwrap_or_else(|e| panic!("{id}: {e}"));
                assert_eq!(url.url(), without_default_port(s(&expected["url"])), "{id}: URL");
                presigned += 1;
                details
            }
            "header" => {
                let (auth, details) = signer.sign_explained(&request, at).unwrap_or_else(|e| panic!("{id}: {e}"));
                assert_eq!(request.url(), without_default_port(s(&expected["url"])), "{id}: URL");
                assert_eq!(auth.authorization(), s(&expected["authorization"]), "{id}: Authorization");
                // Every header botocore set must be one we add, or one of the request's own.
                for (name, value) in expected["headers"].as_object().expect("headers") {
                    let ours = auth.get(name).or_else(|| {
                        request.headers().iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_ref())
                    });
                    assert_eq!(ours, Some(s(value)), "{id}: header {name}");
                }
                assert_eq!(
                    auth.iter().count(),
                    expected["headers"].as_object().map_or(0, |h| h.len()) - request.headers().len(),
                    "{id}: no extra headers"
                );
                header += 1;
                details
            }
            other => panic!("{id}: kind {other}"),
        };
        assert_eq!(details.canonical_request(), s(&expected["canonical_request"]), "{id}: canonical request");
        assert_eq!(details.string_to_sign(), s(&expected["string_to_sign"]), "{id}: string to sign");
        assert_eq!(details.signature(), s(&expected["signature"]), "{id}: signature");
    }
    assert_eq!(presigned + header, 60);
    eprintln!("botocore S3/R2 vectors: {} passed ({presigned} presigned, {header} header)", presigned + header);
}
