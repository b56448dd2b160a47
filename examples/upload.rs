//! Uploads a local file of any size, with a progress bar, then checks what landed.
//!
//! ```text
//! cargo run --example upload -- [--checksum crc32c|crc64nvme|sha256] <file> [key]
//! ```
//!
//! With `--checksum`, the checksum is computed while the file streams (each part's, for a multipart
//! upload), the bucket verifies it and refuses any altered byte, and the value it keeps is printed:
//! the whole file's for a single PUT or a full-object CRC (compare it with any CRC tool), the SHA-256
//! of the parts' SHA-256s (`…-<parts>`) for a multipart SHA-256.
//!
//! Files above 32 MiB go up as multipart uploads: 8 MiB parts (more for very large files), four at a
//! time, each retried on its own; a failure that retries cannot fix aborts the upload, so nothing
//! partial is ever visible at the key. `UPLOAD_PART_SIZE` (bytes), `UPLOAD_CONCURRENCY` and
//! `UPLOAD_THRESHOLD` (bytes) change that.
//!
//! With no `S3_*` configuration it uploads to an embedded S3 server (s3s-fs) on 127.0.0.1; with
//! `S3_BUCKET`, `S3_REGION`, `S3_ACCESS_KEY_ID`, `S3_SECRET_ACCESS_KEY` and, for R2 or a local server,
//! `S3_ENDPOINT`, to that bucket.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use stowage::checksum::ChecksumAlgorithm;
use stowage::multipart::{MultipartLimits, PartPlan};
use stowage::{Body, GetOptions, PutOptions, S3Config, Storage};

fn number(name: &str) -> Result<Option<u64>, String> {
    match std::env::var(name) {
        Ok(text) => {
            text.trim().parse().map(Some).map_err(|_| format!("{name} must be a number of bytes, not {text:?}"))
        }
        Err(_) => Ok(None),
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    const USAGE: &str = "usage: cargo run --example upload -- [--checksum crc32c|crc64nvme|sha256] <file> [key]";
    let mut args = std::env::args_os().skip(1).peekable();
    let mut checksum = None;
    if args.peek().is_some_and(|a| a == "--checksum") {
        args.next();
        let name = args.next().ok_or(USAGE)?.to_string_lossy().into_owned();
        let algorithm: ChecksumAlgorithm = name.parse()?;
        checksum = Some(algorithm);
    }
    let Some(path) = args.next().map(PathBuf::from) else {
        return Err(USAGE.into());
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "file".into());
    let key = args.next().map(|k| k.to_string_lossy().into_owned()).unwrap_or_else(|| format!("uploads/{name}"));

    let (config, _embedded) = if std::env::var_os("S3_BUCKET").is_some() {
        (S3Config::from_env()?, None)
    } else {
        let server = stowage::testing::TestServer::builder().with_bucket("uploads").start().await?;
        println!("No S3_* configuration: uploading to an embedded S3 server (s3s-fs) at {}.", server.endpoint());
        (server.config(), Some(server))
    };
    let mut config = config;
    if let Some(size) = number("UPLOAD_PART_SIZE")? {
        config = config.with_part_size(size);
    }
    if let Some(parts) = number("UPLOAD_CONCURRENCY")? {
        config = config.with_concurrency(usize::try_from(parts).unwrap_or(usize::MAX));
    }
    if let Some(size) = number("UPLOAD_THRESHOLD")? {
        config = config.with_multipart_threshold(size);
    }
    let part_size = number("UPLOAD_PART_SIZE")?.unwrap_or(stowage::multipart::DEFAULT_PART_SIZE);
    let threshold = number("UPLOAD_THRESHOLD")?.unwrap_or(stowage::DEFAULT_MULTIPART_THRESHOLD);
    let storage = config.build().await?;

    let body = Body::from_file(&path).await.map_err(|e| format!("{}: {e}", path.display()))?;
    let size = body.len();
    let limits = if storage.platform() == stowage::Platform::R2 { MultipartLimits::R2 } else { MultipartLimits::S3 };
    let parts = if size > threshold { PartPlan::new(size, part_size, &limits)?.part_count() } else { 1 };
    println!(
        "Uploading {} ({}) to {:?} in bucket {:?}, {}.",
        path.display(),
        indicatif::HumanBytes(size),
        key,
        storage.bucket(),
        if parts > 1 { format!("{parts} parts") } else { "one request".to_owned() }
    );

    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let shown = bar.clone();
    let body = body.with_progress(move |p| shown.set_position(p.sent));
    let started = Instant::now();
    let mut options = PutOptions::new().with_content_type("application/octet-stream");
    if let Some(algorithm) = checksum {
        options = options.with_checksum(algorithm);
    }
    let result = storage.put_object(&key, body, &options).await;
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    let out = result?;

    let seconds = elapsed.as_secs_f64().max(f64::EPSILON);
    println!(
        "Uploaded {} in {} part{} in {:.2} s: {}/s. ETag {}",
        indicatif::HumanBytes(size),
        parts,
        if parts == 1 { "" } else { "s" },
        seconds,
        indicatif::HumanBytes((size as f64 / seconds) as u64),
        out.etag.as_deref().unwrap_or("(none)")
    );
    if let Some(stored) = &out.checksum {
        let kind = if stored.parts.is_some() { "of its parts' checksums" } else { "of the whole file" };
        println!(
            "Checksum {} {kind}, verified by the bucket: {stored} (hex {})",
            stored.checksum.algorithm(),
            stored.checksum.to_hex()
        );
    }
    match storage.head_object(&key, &GetOptions::new().with_checksum_mode(checksum.is_some())).await? {
        Some(meta) if meta.size == size => {
            println!("Verified with a HEAD: {} bytes at {key:?}.", meta.size);
            if let (Some(sent), Some(kept)) = (&out.checksum, &meta.checksum)
                && sent != kept
            {
                return Err(format!("the bucket keeps the checksum {kept}, not {sent}").into());
            }
            Ok(())
        }
        Some(meta) => Err(format!("the object holds {} bytes, not {size}", meta.size).into()),
        None => Err(format!("nothing at {key:?} after the upload").into()),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
