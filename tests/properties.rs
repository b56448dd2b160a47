//! Property tests: signing never panics, whatever the input, and presigned URLs always carry the key
//! they were made for, encoded into URL-safe ASCII.

use std::time::Duration;

use proptest::prelude::*;
use stowage::Credentials;
use stowage::sigv4::{AddressingStyle, BucketAddress, Method, Payload, Request, Scheme, Signer, SigningSettings};

fn any_method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::Get),
        Just(Method::Put),
        Just(Method::Post),
        Just(Method::Head),
        Just(Method::Delete),
        Just(Method::Patch),
        Just(Method::Options),
    ]
}

fn any_time() -> impl Strategy<Value = time::OffsetDateTime> {
    // Beyond both ends of what SigV4 can write (years 0000..=9999), and offsets that push a time over
    // an edge when converted to UTC.
    (-400_000_000_000i64..400_000_000_000i64, -86_399i32..86_399i32).prop_filter_map("representable", |(secs, off)| {
        let offset = time::UtcOffset::from_whole_seconds(off).ok()?;
        Some(time::OffsetDateTime::from_unix_timestamp(secs).ok()?.to_offset(offset))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn signing_never_panics(
        method in any_method(),
        https in any::<bool>(),
        authority in "[a-zA-Z0-9.:-]{1,30}|\\[[0-9a-f:]{2,12}\\](:[0-9]{1,6})?|.{0,40}",
        path in "/[ -~]{0,80}|/\\PC{0,40}|.{0,80}",
        query in proptest::collection::vec((".{0,20}", ".{0,40}"), 0..4),
        headers in proptest::collection::vec(("[a-zA-Z0-9-]{1,20}|[ -~]{0,20}|.{0,10}", "[ -~\t]{0,40}|.{0,40}"), 0..4),
        region in "us-east-1|auto|[a-z0-9-]{1,20}|.{0,20}",
        service in "s3|.{0,10}",
        access_key in "[A-Z0-9]{1,20}|.{0,30}",
        secret in ".{1,50}",
        token in proptest::option::of("[A-Za-z0-9+/=]{1,60}|.{0,60}"),
        at in any_time(),
        expires_secs in 0u64..2_000_000,
        expires_nanos in 0u32..1_000_000_000,
        generic in any::<bool>(),
        body in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
        hash in proptest::option::of(".{0,70}"),
    ) {
        let mut credentials = Credentials::new(access_key, secret);
        if let Some(token) = token {
            credentials = credentials.with_session_token(token);
        }
        let Ok(signer) = Signer::new(credentials, &region, &service) else { return Ok(()) };
        let signer = if generic { signer.with_settings(SigningSettings::generic()) } else { signer };
        let scheme = if https { Scheme::Https } else { Scheme::Http };
        let mut request = Request::new(method, scheme, authority.as_str(), path.as_str());
        for (k, v) in &query {
            request = request.query(k.as_str(), v.as_str());
        }
        for (k, v) in &headers {
            request = request.header(k.as_str(), v.as_str());
        }
        if let Some(body) = &body {
            request = request.payload(Payload::Bytes(body));
        } else if let Some(hash) = &hash {
            request = request.payload(Payload::Sha256Hex(hash));
        }
        let expires = Duration::new(expires_secs, expires_nanos);
        if let Ok(url) = signer.presign(&request, expires, at) {
            prop_assert!(!url.url().contains(['\r', '\n']));
        }
        let _ = signer.presign_explained(&request, expires, at);
        if let Ok(auth) = signer.sign(&request, at) {
            prop_assert!(auth.iter().all(|(_, v)| !v.contains(['\r', '\n'])));
        }
        let _ = signer.sign_explained(&request, at);
        let _ = signer.sign_string(&path, at);
    }

    #[test]
    fn parsing_never_panics(
        url in "https?://[ -~]{0,60}|.{0,80}",
        endpoint in "https?://[a-zA-Z0-9.:\\[\\]-]{1,30}(/[ -~]{0,8})?|.{0,60}",
        bucket in "[a-z0-9.-]{1,70}|.{0,70}", key in ".{0,40}", stamp in ".{0,20}") {
        let _ = Request::from_url(Method::Get, &url).map(|r| r.url());
        for style in [AddressingStyle::Path, AddressingStyle::VirtualHosted] {
            if let Ok(address) = BucketAddress::new(&endpoint, &bucket, style) {
                let _ = address.object(Method::Get, &key).map(|r| r.url());
                let _ = address.bucket_request(Method::Get).url();
            }
        }
        let _ = BucketAddress::aws(&bucket, &key);
        let _ = stowage::sigv4::parse_amz_date(&stamp);
        let _ = stowage::sigv4::parse_amz_date(&format!("{stamp:0<16}"));
    }

    #[test]
    fn presigned_urls_carry_the_exact_key(key in "\\PC{1,300}|.{1,50}", virtual_host in any::<bool>()) {
        prop_assume!(key.len() <= 1024);
        let (endpoint, style) = if virtual_host {
            ("https://s3.eu-west-1.amazonaws.com", AddressingStyle::VirtualHosted)
        } else {
            ("http://127.0.0.1:9000", AddressingStyle::Path)
        };
        let address = BucketAddress::new(endpoint, "bucket", style).expect("address");
        let signer = Signer::new(Credentials::new("AKID", "secret"), "eu-west-1", "s3").expect("signer");
        let request = address.object(Method::Get, &key).expect("a key of 1..=1024 bytes");
        let at = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("time");
        let url = signer.presign(&request, Duration::from_secs(60), at).expect("presign");
        let url = url.url();
        prop_assert!(url.bytes().all(|b| b.is_ascii_graphic()), "URL holds a byte that is not visible ASCII: {url:?}");
        let path = url.split_once('?').map(|(p, _)| p).unwrap_or(url);
        let prefix = if virtual_host { "https://bucket.s3.eu-west-1.amazonaws.com/" } else { "http://127.0.0.1:9000/bucket/" };
        let encoded = path.strip_prefix(prefix).expect("the bucket's prefix");
        let decoded = percent_encoding::percent_decode_str(encoded).decode_utf8().expect("UTF-8");
        prop_assert_eq!(decoded.as_ref(), key.as_str());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Whatever the caller's parameters (including names that sort among the `X-Amz-*` ones), the
    /// canonical query is exactly the URL's parameters, signature aside, sorted.
    #[test]
    fn canonical_query_is_the_sorted_url_query(
        params in proptest::collection::vec(("X-Amz-[A-Za-z]{0,6}|X-Am[a-z.-]{0,3}|[A-Za-z0-9 ._~%/-]{1,12}|\\PC{1,6}", "\\PC{0,12}"), 0..5),
        token in proptest::option::of("[A-Za-z0-9+/=]{1,40}"),
        headers in proptest::collection::vec(("[a-z][a-z0-9-]{0,10}", "[ -~]{0,12}"), 0..3),
    ) {
        let mut credentials = Credentials::new("AKID", "secret");
        if let Some(token) = token {
            credentials = credentials.with_session_token(token);
        }
        let signer = Signer::new(credentials, "us-east-1", "s3").expect("signer");
        let bucket = BucketAddress::aws("us-east-1", "bucket").expect("address");
        let mut request = bucket.object(Method::Get, "k").expect("request");
        for (k, v) in &params {
            request = request.query(k.as_str(), v.as_str());
        }
        for (k, v) in &headers {
            request = request.header(k.as_str(), v.as_str());
        }
        let at = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("time");
        let Ok((url, details)) = signer.presign_explained(&request, Duration::from_secs(60), at) else {
            // Only reserved names may be refused.
            prop_assert!(params.iter().any(|(k, _)| k.starts_with("X-Amz-")));
            return Ok(());
        };
        let mut from_url: Vec<(String, String)> = url
            .url()
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.starts_with("X-Amz-Signature="))
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect();
        from_url.sort();
        let expected: Vec<String> = from_url.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let canonical_query = details.canonical_request().split('\n').nth(2).expect("a query line");
        prop_assert_eq!(canonical_query, expected.join("&"));
    }
}
