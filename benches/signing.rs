//! Signing throughput of stowage alone (criterion). Every case signs a complete request from its
//! parts, with the signer and the bucket prepared once, as a service holds them.
//!
//! `cargo bench --bench signing`. The comparison with other crates lives in `benches/peers`
//! (`cargo bench -p stowage-peers`).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use stowage::Credentials;
use stowage::sigv4::{BucketAddress, Method, Payload, Signer};

const KEY: &str = "uploads/1700000000000-profile picture (1).png";

fn setup() -> (Signer, BucketAddress, time::OffsetDateTime) {
    let credentials = Credentials::new("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    let signer = Signer::new(credentials, "us-east-1", "s3").expect("signer");
    let bucket = BucketAddress::aws("us-east-1", "my-app-uploads").expect("bucket");
    let at = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("time");
    (signer, bucket, at)
}

fn signing(c: &mut Criterion) {
    let (signer, bucket, at) = setup();
    let expires = Duration::from_secs(300);
    let mut g = c.benchmark_group("sign");

    g.bench_function("presign_put", |b| {
        b.iter(|| {
            let request = bucket.object(Method::Put, black_box(KEY)).expect("request");
            signer.presign(&request, expires, at).expect("presign")
        });
    });

    g.bench_function("presign_put_constrained", |b| {
        b.iter(|| {
            let request = bucket
                .object(Method::Put, black_box(KEY))
                .expect("request")
                .header("content-type", "image/png")
                .header("content-length", "1048576");
            signer.presign(&request, expires, at).expect("presign")
        });
    });

    g.bench_function("presign_get_overrides", |b| {
        b.iter(|| {
            let request = bucket
                .object(Method::Get, black_box(KEY))
                .expect("request")
                .query("response-content-disposition", "attachment; filename=\"profile picture (1).png\"")
                .query("response-content-type", "image/png");
            signer.presign(&request, expires, at).expect("presign")
        });
    });

    g.bench_function("presign_put_session_token", |b| {
        let token = "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+EXAMPLE/token+with=special==";
        let credentials = Credentials::new("ASIAEXAMPLE", "secret").with_session_token(token);
        let signer = Signer::new(credentials, "us-east-1", "s3").expect("signer");
        b.iter(|| {
            let request = bucket.object(Method::Put, black_box(KEY)).expect("request");
            signer.presign(&request, expires, at).expect("presign")
        });
    });

    g.bench_function("header_put_unsigned_payload", |b| {
        b.iter(|| {
            let request =
                bucket.object(Method::Put, black_box(KEY)).expect("request").header("content-type", "image/png");
            signer.sign(&request, at).expect("sign")
        });
    });

    let body = vec![0x5au8; 1024];
    g.bench_function("header_put_sha256_1kib", |b| {
        b.iter(|| {
            let request = bucket.object(Method::Put, black_box(KEY)).expect("request").payload(Payload::Bytes(&body));
            signer.sign(&request, at).expect("sign")
        });
    });
    g.finish();

    // A fresh signer per request: the four HMACs of key derivation on every call.
    let mut g = c.benchmark_group("key_derivation");
    g.bench_function("new_signer_and_presign_put", |b| {
        b.iter(|| {
            let credentials = Credentials::new("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
            let signer = Signer::new(credentials, "us-east-1", "s3").expect("signer");
            let request = bucket.object(Method::Put, black_box(KEY)).expect("request");
            signer.presign(&request, expires, at).expect("presign")
        });
    });
    g.bench_function("cached_presign_put", |b| {
        b.iter(|| {
            let request = bucket.object(Method::Put, black_box(KEY)).expect("request");
            signer.presign(&request, expires, at).expect("presign")
        });
    });
    g.finish();
}

/// Presigning through the S3 backend (`Storage::presign_put`), as a web handler calls it: the signer
/// plus the backend's own work (the clock, the credentials in use, the output type).
#[cfg(feature = "s3")]
fn storage(c: &mut Criterion) {
    use stowage::{PutOptions, S3Config, Storage};
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let credentials = Credentials::new("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    let storage = runtime.block_on(S3Config::new("my-app-uploads", "us-east-1", credentials).build()).expect("storage");
    let options = PutOptions::new().with_content_type("image/png");
    let expires = Duration::from_secs(300);
    let mut g = c.benchmark_group("storage");
    g.bench_function("presign_put_static_credentials", |b| {
        b.iter(|| storage.presign_put(black_box(KEY), &options, expires).expect("presign"));
    });
    // The same through the rotating path: temporary credentials from a provider, held by the cache.
    let temporary = Credentials::new("ASIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        .with_session_token("IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+EXAMPLE/token")
        .with_expiry(time::OffsetDateTime::now_utc() + time::Duration::hours(6));
    let provider = stowage::credentials::StaticCredentials::new(temporary);
    let rotating = runtime.block_on(S3Config::new("my-app-uploads", "us-east-1", provider).build()).expect("storage");
    g.bench_function("presign_put_rotating_credentials", |b| {
        b.iter(|| rotating.presign_put(black_box(KEY), &options, expires).expect("presign"));
    });
    g.finish();
}

#[cfg(not(feature = "s3"))]
fn storage(_: &mut Criterion) {}

criterion_group!(benches, signing, storage);
criterion_main!(benches);
