//! Upload throughput: `put_object` of 1 MiB and 64 MiB to the in-process s3s-fs server, against a raw
//! reqwest PUT of the same bytes to the same server (through a presigned URL made once, outside the
//! measurement), in the same run.
//!
//! `cargo bench --bench upload`

use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use stowage::{PayloadSigning, PutOptions, Storage};

fn uploads(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let server = rt.block_on(stowage::testing::TestServer::builder().with_bucket("bench").start()).expect("server");
    let config = || server.config();
    let unsigned = rt.block_on(config().with_payload_signing(PayloadSigning::Never).build()).expect("storage");
    let signed = rt.block_on(config().build()).expect("storage");
    let http = reqwest::Client::new();

    let mut group = c.benchmark_group("put_object");
    group.sample_size(10).measurement_time(Duration::from_secs(20)).warm_up_time(Duration::from_secs(2));
    for size in [1usize << 20, 64 << 20] {
        let label = format!("{} MiB", size >> 20);
        let data = Bytes::from((0..size).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
        group.throughput(Throughput::Bytes(size as u64));

        let presigned =
            unsigned.presign_put("bench/raw.bin", &PutOptions::new(), Duration::from_secs(3600)).expect("presign");
        group.bench_with_input(BenchmarkId::new("reqwest_presigned_put", &label), &data, |b, data| {
            b.to_async(&rt).iter(|| async {
                let response = http.put(&presigned.url).body(data.clone()).send().await.expect("send");
                assert!(response.status().is_success(), "{}", response.status());
            });
        });
        group.bench_with_input(BenchmarkId::new("stowage_unsigned_payload", &label), &data, |b, data| {
            b.to_async(&rt).iter(|| async {
                unsigned.put_object("bench/stowage.bin", data.clone().into(), &PutOptions::new()).await.expect("put");
            });
        });
        group.bench_with_input(BenchmarkId::new("stowage_signed_payload", &label), &data, |b, data| {
            b.to_async(&rt).iter(|| async {
                signed.put_object("bench/signed.bin", data.clone().into(), &PutOptions::new()).await.expect("put");
            });
        });
    }
    group.finish();
}

criterion_group!(benches, uploads);
criterion_main!(benches);
