//! Peak memory of a 1 GiB upload from a file: `put_object(Body::from_file)` to the in-process s3s-fs
//! server (a multipart upload: 128 parts of 8 MiB, 4 in flight, each read from its offset), then the
//! process's peak resident set (VmHWM) is read from /proc. The server runs in the same process, so
//! the figure covers both sides. Target: under 64 MiB. (s3s-fs writes every byte a second time when
//! it completes an upload, so the time here is its disk's; `cargo bench -p stowage-peers --bench
//! multipart` measures throughput.)
//!
//! `cargo bench --bench upload_memory` (set `STOWAGE_UPLOAD_MIB` for another size).

use std::io::Write;
use std::time::Instant;

use stowage::{Body, PutOptions, Storage};

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let mib: usize = std::env::var("STOWAGE_UPLOAD_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(1024);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let server = rt.block_on(stowage::testing::TestServer::builder().with_bucket("memory").start()).expect("server");
    let path = std::env::temp_dir().join(format!("stowage-upload-memory-{}.bin", std::process::id()));
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        let chunk: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
        for _ in 0..mib {
            file.write_all(&chunk).expect("write");
        }
        file.flush().expect("flush");
    }
    let before = status_kib("VmHWM:").unwrap_or(0);
    let storage = server.storage().expect("storage");
    let started = Instant::now();
    rt.block_on(async {
        let body = Body::from_file(&path).await.expect("file");
        storage.put_object("memory/big.bin", body, &PutOptions::new()).await.expect("upload");
        let meta =
            storage.head_object("memory/big.bin", &stowage::GetOptions::new()).await.expect("head").expect("uploaded");
        assert_eq!(meta.size, (mib as u64) << 20);
    });
    let elapsed = started.elapsed();
    let peak = status_kib("VmHWM:").unwrap_or(0);
    let _ = std::fs::remove_file(&path);
    println!(
        "upload_memory: {mib} MiB from a file in {:.2} s ({:.0} MiB/s); peak RSS {:.1} MiB (before the upload {:.1} MiB; target < 64 MiB)",
        elapsed.as_secs_f64(),
        mib as f64 / elapsed.as_secs_f64(),
        peak as f64 / 1024.0,
        before as f64 / 1024.0
    );
}
