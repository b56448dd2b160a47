//! stowage against rusty-s3 and aws-sigv4: the same presigned URLs, from the same inputs, in the same
//! run. Every function goes from (bucket, key, headers, overrides) to a complete URL string, with its
//! credentials, bucket and settings prepared once outside the loop as a service would.
//!
//! Inputs: bucket `my-app-uploads`, key `uploads/1700000000000-profile picture (1).png`, region
//! `us-east-1`, virtual-hosted addressing, a fixed time, 300 s.
//!
//! `cargo bench -p stowage-peers`

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SessionTokenMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings as AwsSettings, UriPathNormalizationMode, sign as aws_sign,
};
use aws_smithy_runtime_api::client::identity::Identity;
use criterion::{Criterion, criterion_group, criterion_main};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rusty_s3::S3Action;

const BUCKET: &str = "my-app-uploads";
const KEY: &str = "uploads/1700000000000-profile picture (1).png";
const REGION: &str = "us-east-1";
const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const UNIX_TIME: i64 = 1_700_000_000;
const EXPIRES: Duration = Duration::from_secs(300);
const CONTENT_TYPE: &str = "image/png";
const CONTENT_LENGTH: &str = "1048576";
const DISPOSITION: &str = "attachment; filename=\"profile picture (1).png\"";

const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
const PATH: &AsciiSet = &COMPONENT.remove(b'/');

#[derive(Clone, Copy)]
enum Case {
    Put,
    PutConstrained,
    Get,
}

impl Case {
    fn headers(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Case::PutConstrained => &[("content-type", CONTENT_TYPE), ("content-length", CONTENT_LENGTH)],
            _ => &[],
        }
    }

    fn query(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Case::Get => &[("response-content-disposition", DISPOSITION), ("response-content-type", CONTENT_TYPE)],
            _ => &[],
        }
    }
}

struct Stowage {
    signer: stowage::sigv4::Signer,
    bucket: stowage::sigv4::BucketAddress,
    at: time::OffsetDateTime,
}

impl Stowage {
    fn new() -> Self {
        let credentials = stowage::Credentials::new(ACCESS_KEY, SECRET);
        Self {
            signer: stowage::sigv4::Signer::new(credentials, REGION, "s3").expect("signer"),
            bucket: stowage::sigv4::BucketAddress::aws(REGION, BUCKET).expect("bucket"),
            at: time::OffsetDateTime::from_unix_timestamp(UNIX_TIME).expect("time"),
        }
    }

    fn presign(&self, case: Case, key: &str) -> String {
        use stowage::sigv4::Method;
        let method = if matches!(case, Case::Get) { Method::Get } else { Method::Put };
        let mut request = self.bucket.object(method, key).expect("request");
        for (k, v) in case.headers() {
            request = request.header(*k, *v);
        }
        for (k, v) in case.query() {
            request = request.query(*k, *v);
        }
        self.signer.presign(&request, EXPIRES, self.at).expect("presign").into_url()
    }
}

struct RustyS3 {
    bucket: rusty_s3::Bucket,
    credentials: rusty_s3::Credentials,
    at: jiff::Timestamp,
}

impl RustyS3 {
    fn new() -> Self {
        let endpoint = url::Url::parse("https://s3.us-east-1.amazonaws.com").expect("endpoint");
        Self {
            bucket: rusty_s3::Bucket::new(endpoint, rusty_s3::UrlStyle::VirtualHost, BUCKET, REGION).expect("bucket"),
            credentials: rusty_s3::Credentials::new(ACCESS_KEY, SECRET),
            at: jiff::Timestamp::from_second(UNIX_TIME).expect("time"),
        }
    }

    fn presign(&self, case: Case, key: &str) -> String {
        let url = match case {
            Case::Get => {
                let mut action = self.bucket.get_object(Some(&self.credentials), key);
                for (k, v) in case.query() {
                    action.query_mut().insert(*k, *v);
                }
                action.sign_with_time(EXPIRES, &self.at)
            }
            _ => {
                let mut action = self.bucket.put_object(Some(&self.credentials), key);
                for (k, v) in case.headers() {
                    action.headers_mut().insert(*k, *v);
                }
                action.sign_with_time(EXPIRES, &self.at)
            }
        };
        url.into()
    }
}

struct AwsSigv4 {
    identity: Identity,
    settings: AwsSettings,
    time: SystemTime,
}

impl AwsSigv4 {
    fn new() -> Self {
        let credentials = aws_credential_types::Credentials::new(ACCESS_KEY, SECRET, None, None, "bench");
        let mut settings = AwsSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(EXPIRES);
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
        settings.session_token_mode = SessionTokenMode::Include;
        Self {
            identity: credentials.into(),
            settings,
            time: SystemTime::UNIX_EPOCH + Duration::from_secs(UNIX_TIME as u64),
        }
    }

    fn presign(&self, case: Case, key: &str) -> String {
        let method = if matches!(case, Case::Get) { "GET" } else { "PUT" };
        let mut url = format!("https://{BUCKET}.s3.{REGION}.amazonaws.com/{}", utf8_percent_encode(key, PATH));
        for (i, (k, v)) in case.query().iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(k);
            url.push('=');
            url.extend(utf8_percent_encode(v, COMPONENT));
        }
        let host = format!("{BUCKET}.s3.{REGION}.amazonaws.com");
        let mut headers: Vec<(&str, &str)> = vec![("host", host.as_str())];
        headers.extend(case.headers().iter().copied());
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&self.identity)
            .region(REGION)
            .name("s3")
            .time(self.time)
            .settings(self.settings.clone())
            .build()
            .expect("params")
            .into();
        let request = SignableRequest::new(method, url.as_str(), headers.into_iter(), SignableBody::UnsignedPayload)
            .expect("request");
        let (instructions, _signature) = aws_sign(request, &params).expect("sign").into_parts();
        let mut sep = if case.query().is_empty() { '?' } else { '&' };
        for (name, value) in instructions.params() {
            url.push(sep);
            sep = '&';
            url.push_str(name);
            url.push('=');
            url.extend(utf8_percent_encode(value, COMPONENT));
        }
        url
    }
}

fn group(c: &mut Criterion, name: &str, case: Case) {
    let (s, r, a) = (Stowage::new(), RustyS3::new(), AwsSigv4::new());
    let mut g = c.benchmark_group(name);
    g.bench_function("stowage", |b| b.iter(|| s.presign(case, black_box(KEY))));
    g.bench_function("rusty-s3", |b| b.iter(|| r.presign(case, black_box(KEY))));
    g.bench_function("aws-sigv4", |b| b.iter(|| a.presign(case, black_box(KEY))));
    g.finish();
}

/// All three must produce a URL that S3 would accept for the same request; they differ only in the
/// order of query parameters, so compare the sorted parameters.
fn check_same_urls() {
    let (s, r, a) = (Stowage::new(), RustyS3::new(), AwsSigv4::new());
    for case in [Case::Put, Case::PutConstrained, Case::Get] {
        let sorted = |url: String| {
            let (base, query) = url.split_once('?').map(|(b, q)| (b.to_owned(), q.to_owned())).expect("a query");
            let mut params: Vec<String> = query.split('&').map(str::to_owned).collect();
            params.sort();
            (base, params)
        };
        let ours = sorted(s.presign(case, KEY));
        assert_eq!(ours, sorted(a.presign(case, KEY)), "stowage and aws-sigv4 disagree");
        let theirs = sorted(r.presign(case, KEY));
        assert_eq!(ours.0, theirs.0, "stowage and rusty-s3 disagree on the path");
    }
}

fn benches(c: &mut Criterion) {
    check_same_urls();
    group(c, "presign_put", Case::Put);
    group(c, "presign_put_constrained", Case::PutConstrained);
    group(c, "presign_get", Case::Get);
}

criterion_group!(peers, benches);
criterion_main!(peers);
