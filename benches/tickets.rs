//! What keeping upload state in the bucket costs per request. The upload endpoints are served on
//! loopback, and three requests are timed: create (`POST /uploads`), sign a part
//! (`POST /uploads/multipart/parts`) and complete (`POST /uploads/complete`).
//!
//! Each request is timed twice in the same run:
//! - with tickets in the bucket (`BucketTickets`, the default, which survives instances and
//!   restarts): one ticket PUT and one LIST (the cap) on create, one GET per later request, one
//!   DELETE on completion;
//! - with tickets in this process's memory (`MemoryTickets`).
//!
//! The difference is what the state adds. It runs against Garage when it is installed (else
//! against s3s-fs in this process, and says so).
//!
//! `cargo bench --bench tickets --features axum,testing`

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use serde_json::json;
use stowage::Storage;
use stowage::axum::{MemoryTickets, Secret, Uploads};
use stowage::constraints::UploadPolicy;
use support::api::{self, Api, put};

/// A real 1×1 PNG.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\0\0\x01\x01\0\x05\x18\xd8N\0\0\0\0IEND\xaeB`\x82";

fn endpoints(storage: &Arc<dyn Storage>, in_memory: bool) -> axum::Router {
    let policy = UploadPolicy::new("uploads/")
        .with_staging_prefix("staging/")
        .allow_type("image/*")
        .expect("pattern")
        .with_max_size(1 << 30);
    let uploads = Uploads::new(Arc::clone(storage), policy)
        .with_secret(Secret::new("the secret the instances of the bench share").expect("secret"))
        .with_identity(api::from_header);
    if in_memory { uploads.with_tickets(MemoryTickets::new()) } else { uploads }.router()
}

fn claim() -> serde_json::Value {
    json!({ "filename": "bench.png", "content_type": "image/png", "size": PNG.len() })
}

fn tickets(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let server = match support::servers::garage() {
        Some(garage) => garage,
        None => {
            eprintln!("Garage is not installed: measuring against s3s-fs in this process instead");
            rt.block_on(support::servers::s3s())
        }
    };
    eprintln!("tickets bench against {} on loopback", server.name);
    let storage: Arc<dyn Storage> = Arc::new(rt.block_on(server.storage()));
    let people = AtomicU64::new(0);
    let person = || format!("p{}", people.fetch_add(1, Ordering::Relaxed));

    let mut group = c.benchmark_group("tickets");
    group.sample_size(20).measurement_time(Duration::from_secs(8)).warm_up_time(Duration::from_secs(1));
    for (store, in_memory) in [("bucket", false), ("memory", true)] {
        let api = rt.block_on(Api::serve(endpoints(&storage, in_memory)));
        // Create: a new person each time, as a busy service sees (the cap counts theirs).
        group.bench_function(BenchmarkId::new("create", store), |b| {
            b.to_async(&rt).iter(|| async {
                let who = person();
                let (status, _) = api.by(&who).post("/uploads", claim()).await;
                assert_eq!(status, 201);
            });
        });

        // Sign: one part URL of an upload in progress.
        let owner = person();
        let (status, upload) = rt.block_on(api.by(&owner).post(
            "/uploads/multipart",
            json!({ "filename": "large.png", "content_type": "image/png", "size": 64 << 20 }),
        ));
        assert_eq!(status, 201, "{upload}");
        let body = json!({ "key": upload["key"], "upload_id": upload["upload_id"], "part_numbers": [2] });
        group.bench_function(BenchmarkId::new("sign", store), |b| {
            b.to_async(&rt).iter(|| async {
                let (status, _) = api.by(&owner).post("/uploads/multipart/parts", body.clone()).await;
                assert_eq!(status, 200);
            });
        });

        // Complete: verify, promote, forget (the upload's creation and PUT are not timed).
        group.bench_function(BenchmarkId::new("complete", store), |b| {
            let (api, person) = (&api, &person);
            b.to_async(&rt).iter_custom(|iterations| async move {
                let mut timed = Duration::ZERO;
                for _ in 0..iterations {
                    let who = person();
                    let (_, ticket) = api.by(&who).post("/uploads", claim()).await;
                    assert_eq!(put(&ticket, PNG).await.status / 100, 2);
                    let started = Instant::now();
                    let (status, _) = api.by(&who).post("/uploads/complete", json!({ "key": ticket["key"] })).await;
                    timed += started.elapsed();
                    assert_eq!(status, 200);
                }
                timed
            });
        });
        rt.block_on(api.stop());
    }
    group.finish();
}

criterion_group!(benches, tickets);
criterion_main!(benches);
