//! A 1 GiB file uploaded to the same in-process S3 server: as one PUT, as a stowage multipart upload
//! with 1, 4 and 8 parts in flight, and with object_store's multipart writer (4 and 8 in flight),
//! 8 MiB parts throughout. Each configuration runs in a fresh process, so that its peak resident set
//! (VmHWM) is its own; the server runs in that process too, so the figure covers both sides.
//!
//! The server is s3s (which verifies every signature) over a sink that does what S3 does with the
//! bytes it is sent — the MD5 of each part for its ETag, the ETag of a completed upload from the
//! parts' — and keeps none of them: S3 completes an upload without copying its parts, and a server
//! that copies them (s3s-fs writes every byte a second time at completion) would measure its disk,
//! not the client.
//!
//! `cargo bench -p stowage-peers --bench multipart` (`STOWAGE_BENCH_MIB` for another size,
//! `STOWAGE_BENCH_RUNS` for more runs per configuration; the median is reported).
//!
//! `cargo bench -p stowage-peers --bench multipart -- --checksums`: the same 1 GiB file with each
//! checksum stowage computes while the bytes stream (a single PUT and 4 parts in flight; the file's
//! bytes go as S3's streaming trailer), against none, in one run, with the speed of each hash alone
//! on one core. The sink does not check checksums: the figures are the client's cost.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use futures_util::StreamExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use md5::{Digest, Md5};
use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, CompleteMultipartUploadInput, CompleteMultipartUploadOutput,
    CreateMultipartUploadInput, CreateMultipartUploadOutput, ETag, HeadObjectInput, HeadObjectOutput, PutObjectInput,
    PutObjectOutput, StreamingBlob, UploadPartInput, UploadPartOutput,
};
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};

const MIB: u64 = 1024 * 1024;
const PART: u64 = 8 * MIB;
const ACCESS: &str = "AKIABENCHEXAMPLE";
const SECRET: &str = "bench/secret/key";
const BUCKET: &str = "bench";

/// What S3 keeps of an upload, without the bytes.
#[derive(Default)]
struct Sink {
    next_id: AtomicU64,
    parts: Mutex<HashMap<String, Vec<(i32, [u8; 16], u64)>>>,
    objects: Mutex<HashMap<String, (u64, String)>>,
}

async fn digest(body: Option<StreamingBlob>) -> S3Result<([u8; 16], u64)> {
    let mut body = body.ok_or_else(|| s3_error!(IncompleteBody))?;
    let mut md5 = Md5::new();
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|_| s3_error!(IncompleteBody))?;
        md5.update(&chunk);
        size += chunk.len() as u64;
    }
    Ok((md5.finalize().into(), size))
}

#[async_trait::async_trait]
impl S3 for Sink {
    async fn put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        let (md5, size) = digest(req.input.body).await?;
        let etag = hex::encode(md5);
        self.objects.lock().expect("objects").insert(req.input.key, (size, etag.clone()));
        Ok(S3Response::new(PutObjectOutput { e_tag: Some(ETag::Strong(etag)), ..Default::default() }))
    }

    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        let objects = self.objects.lock().expect("objects");
        let (size, etag) = objects.get(&req.input.key).ok_or_else(|| s3_error!(NoSuchKey))?;
        Ok(S3Response::new(HeadObjectOutput {
            content_length: Some(*size as i64),
            e_tag: Some(ETag::Strong(etag.clone())),
            ..Default::default()
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let id = format!("upload-{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        self.parts.lock().expect("parts").insert(id.clone(), Vec::new());
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(req.input.bucket),
            key: Some(req.input.key),
            upload_id: Some(id),
            ..Default::default()
        }))
    }

    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        let (md5, size) = digest(req.input.body).await?;
        let mut parts = self.parts.lock().expect("parts");
        let upload = parts.get_mut(&req.input.upload_id).ok_or_else(|| s3_error!(NoSuchUpload))?;
        upload.retain(|(n, _, _)| *n != req.input.part_number);
        upload.push((req.input.part_number, md5, size));
        Ok(S3Response::new(UploadPartOutput { e_tag: Some(ETag::Strong(hex::encode(md5))), ..Default::default() }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let mut parts =
            self.parts.lock().expect("parts").remove(&req.input.upload_id).ok_or_else(|| s3_error!(NoSuchUpload))?;
        parts.sort_by_key(|(n, _, _)| *n);
        let mut md5 = Md5::new();
        for (_, part, _) in &parts {
            md5.update(part);
        }
        let etag = format!("{}-{}", hex::encode(md5.finalize()), parts.len());
        let size = parts.iter().map(|(_, _, s)| s).sum();
        self.objects.lock().expect("objects").insert(req.input.key.clone(), (size, etag.clone()));
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(req.input.bucket),
            key: Some(req.input.key),
            e_tag: Some(ETag::Strong(etag)),
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.parts.lock().expect("parts").remove(&req.input.upload_id);
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }
}

/// Serves the sink on 127.0.0.1; returns its endpoint.
async fn serve() -> String {
    let mut builder = s3s::service::S3ServiceBuilder::new(Sink::default());
    builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS, SECRET));
    let service = builder.build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        let http = ConnBuilder::new(TokioExecutor::new());
        loop {
            let Ok((socket, _)) = listener.accept().await else { continue };
            let conn = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
    });
    endpoint
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// One upload of `path` with configuration `name`.
async fn upload(name: &str, endpoint: &str, path: &Path, size: u64) {
    use stowage::Storage;
    let key = format!("bench/{name}.bin");
    if let Some(rest) = name.strip_prefix("object_store-") {
        use object_store::{ObjectStoreExt, WriteMultipart};
        use tokio::io::AsyncReadExt;
        let concurrency: usize = rest.parse().expect("concurrency");
        let store = object_store::aws::AmazonS3Builder::new()
            .with_endpoint(endpoint)
            .with_allow_http(true)
            .with_bucket_name(BUCKET)
            .with_region("us-east-1")
            .with_access_key_id(ACCESS)
            .with_secret_access_key(SECRET)
            .with_unsigned_payload(true)
            .build()
            .expect("object_store");
        let location = object_store::path::Path::from(key.as_str());
        let upload = store.put_multipart(&location).await.expect("put_multipart");
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART as usize);
        let mut file = tokio::fs::File::open(path).await.expect("open");
        let mut buffer = vec![0u8; MIB as usize];
        loop {
            let read = file.read(&mut buffer).await.expect("read");
            if read == 0 {
                break;
            }
            writer.wait_for_capacity(concurrency).await.expect("capacity");
            writer.write(&buffer[..read]);
        }
        writer.finish().await.expect("finish");
        let meta = store.head(&location).await.expect("head");
        assert_eq!(meta.size, size);
        return;
    }
    let config =
        stowage::S3Config::new(BUCKET, "us-east-1", stowage::Credentials::new(ACCESS, SECRET)).with_endpoint(endpoint);
    let config = match name.split('+').next().and_then(|n| n.strip_prefix("stowage-multipart-")) {
        Some(concurrency) => config
            .with_multipart_threshold(PART)
            .with_part_size(PART)
            .with_concurrency(concurrency.parse().expect("concurrency")),
        // One request: a threshold above the file.
        None => config.with_multipart_threshold(u64::MAX),
    };
    let storage = config.build().await.expect("storage");
    let body = stowage::Body::from_file(path).await.expect("file");
    let mut options = stowage::PutOptions::new();
    if let Some((_, algorithm)) = name.split_once('+') {
        options = options.with_checksum(algorithm.parse().expect("an algorithm"));
    }
    storage.put_object(&key, body, &options).await.expect("upload");
    let meta = storage.head_object(&key, &stowage::GetOptions::new()).await.expect("head").expect("stored");
    assert_eq!(meta.size, size);
}

/// The checksum runs against their base (no checksum): throughput ratio and peak RSS, then the
/// speed of each hash alone on one core.
fn checksum_table(mib: u64, runs: usize, results: &[(&str, u64, f64, f64)]) {
    println!(
        "\n{mib} MiB from a file, median of {runs} runs, each in its own process (the checksum computed as the bytes stream):\n"
    );
    println!("| upload | checksum | time | throughput | vs none | peak RSS |");
    println!("|---|---|---|---|---|---|");
    for (name, _, seconds, rss) in results {
        let (base, algorithm) = name.split_once('+').unwrap_or((name, "none"));
        let none = results.iter().find(|r| r.0 == base).map_or(*seconds, |r| r.2);
        println!(
            "| {base} | {algorithm} | {seconds:.2} s | {:.0} MiB/s | {:.2}x | {rss:.1} MiB |",
            mib as f64 / seconds,
            none / seconds
        );
    }
    let buffer: Vec<u8> = (0..256 * MIB).map(|i| (i * 13 % 251) as u8).collect();
    println!("\nEach hash alone, one core, 256 MiB in memory:\n");
    println!("| algorithm | speed |");
    println!("|---|---|");
    for algorithm in stowage::checksum::ChecksumAlgorithm::ALL {
        let started = Instant::now();
        let mut hasher = stowage::checksum::ChecksumHasher::new(algorithm);
        for chunk in buffer.chunks(64 * 1024) {
            hasher.update(chunk);
        }
        let value = hasher.finish();
        let seconds = started.elapsed().as_secs_f64();
        println!("| {algorithm} | {:.0} MiB/s ({}) |", 256.0 / seconds, &value.to_hex()[..8]);
    }
}

/// Over the largest single upload: 5.5 GiB generated on the fly, sent in parts, checked by size.
fn over_five_gib() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let size = 5 * 1024 * MIB + 512 * MIB;
    let started = Instant::now();
    let parts = rt.block_on(async {
        use stowage::Storage;
        let endpoint = serve().await;
        let storage = stowage::S3Config::new(BUCKET, "us-east-1", stowage::Credentials::new(ACCESS, SECRET))
            .with_endpoint(endpoint)
            .build()
            .await
            .expect("storage");
        let chunk = bytes::Bytes::from(vec![42u8; MIB as usize]);
        let chunks = futures_util::stream::iter((0..size / MIB).map(move |_| Ok(chunk.clone())));
        let body = stowage::Body::from_stream(chunks, size);
        let out = storage.put_object("bench/over-5-gib.bin", body, &stowage::PutOptions::new()).await.expect("upload");
        let meta = storage
            .head_object("bench/over-5-gib.bin", &stowage::GetOptions::new())
            .await
            .expect("head")
            .expect("stored");
        assert_eq!(meta.size, size);
        out.etag.and_then(|e| e.trim_matches('"').rsplit('-').next().map(str::to_owned)).unwrap_or_default()
    });
    println!(
        "\nover 5 GiB: a 5.5 GiB stream in {parts} parts in {:.1} s, size checked with a HEAD; peak RSS {:.1} MiB",
        started.elapsed().as_secs_f64(),
        peak_rss_mib()
    );
}

fn child(name: &str, path: &Path, size: u64, runs: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let mut seconds: Vec<f64> = rt.block_on(async {
        let endpoint = serve().await;
        let mut seconds = Vec::new();
        for _ in 0..runs {
            let started = Instant::now();
            upload(name, &endpoint, path, size).await;
            seconds.push(started.elapsed().as_secs_f64());
        }
        seconds
    });
    seconds.sort_by(f64::total_cmp);
    let median = seconds[seconds.len() / 2];
    println!("RESULT {name} {median} {}", peak_rss_mib());
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let mib: u64 = std::env::var("STOWAGE_BENCH_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(1024);
    let runs: usize = std::env::var("STOWAGE_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let size = mib * MIB;
    if args.iter().any(|a| a == "--over-five-gib") {
        over_five_gib();
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let (name, path) = (&args[i + 1], PathBuf::from(&args[i + 2]));
        child(name, &path, size, runs);
        return;
    }

    let path = std::env::temp_dir().join(format!("stowage-bench-multipart-{}.bin", std::process::id()));
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        let chunk: Vec<u8> = (0..MIB).map(|i| (i * 7 % 251) as u8).collect();
        for _ in 0..mib {
            file.write_all(&chunk).expect("write");
        }
        file.flush().expect("flush");
    }
    let checksums = args.iter().any(|a| a == "--checksums");
    let configs: Vec<(String, u64)> = if checksums {
        let mut configs = Vec::new();
        for (base, concurrency) in [("stowage-single-put", 1u64), ("stowage-multipart-4", 4)] {
            for algorithm in ["", "+CRC32", "+CRC32C", "+CRC64NVME", "+SHA1", "+SHA256"] {
                configs.push((format!("{base}{algorithm}"), concurrency));
            }
        }
        configs
    } else {
        [
            ("stowage-single-put", 1u64),
            ("stowage-multipart-1", 1),
            ("stowage-multipart-4", 4),
            ("stowage-multipart-8", 8),
            ("object_store-4", 4),
            ("object_store-8", 8),
        ]
        .into_iter()
        .map(|(n, c)| (n.to_owned(), c))
        .collect()
    };
    let exe = std::env::current_exe().expect("this bench");
    let mut results = Vec::new();
    for (name, concurrency) in &configs {
        let (name, concurrency) = (name.as_str(), *concurrency);
        let out = Command::new(&exe).args(["--child", name]).arg(&path).output().expect("run a configuration");
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .find(|l| l.starts_with("RESULT "))
            .unwrap_or_else(|| panic!("{name} failed:\n{text}\n{}", String::from_utf8_lossy(&out.stderr)));
        let fields: Vec<&str> = line.split_whitespace().collect();
        let seconds: f64 = fields[2].parse().expect("seconds");
        let rss: f64 = fields[3].parse().expect("rss");
        results.push((name, concurrency, seconds, rss));
    }
    let _ = std::fs::remove_file(&path);
    if checksums {
        checksum_table(mib, runs, &results);
        return;
    }

    println!("\n{mib} MiB from a file, 8 MiB parts, median of {runs} runs, each configuration in its own process:\n");
    println!("| configuration | time | throughput | peak RSS | RSS budget (concurrency x part + 32 MiB) |");
    println!("|---|---|---|---|---|");
    for (name, concurrency, seconds, rss) in &results {
        let budget = (*concurrency * PART / MIB + 32) as f64;
        println!(
            "| {name} | {seconds:.2} s | {:.0} MiB/s | {rss:.1} MiB | {budget:.0} MiB{} |",
            mib as f64 / seconds,
            if *rss <= budget { "" } else { " (over)" }
        );
    }
    let best =
        |prefix: &str| results.iter().filter(|r| r.0.starts_with(prefix)).map(|r| mib as f64 / r.2).fold(0.0, f64::max);
    let single = best("stowage-single-put");
    let ours = best("stowage-multipart");
    let theirs = best("object_store");
    println!(
        "\nstowage's best multipart: {ours:.0} MiB/s = {:.2}x its single PUT ({single:.0} MiB/s) and {:.2}x object_store's best ({theirs:.0} MiB/s)",
        ours / single,
        ours / theirs
    );
    let out = Command::new(&exe).arg("--over-five-gib").output().expect("run the 5.5 GiB upload");
    print!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
