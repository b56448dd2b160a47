//! Uploads a local file of any size, with a progress bar, then checks what landed.
//!
//! ```text
//! cargo run --example upload -- <file> [key]
//! ```
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
use stowage::multipart::{MultipartLimits, PartPlan};
use stowage::{Body, PutOptions, S3Config, Storage};

fn number(name: &str) -> Result<Option<u64>, String> {
    match std::env::var(name) {
        Ok(text) => {
            text.trim().parse().map(Some).map_err(|_| format!("{name} must be a number of bytes, not {text:?}"))
        }
        Err(_) => Ok(None),
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let Some(path) = args.next().map(PathBuf::from) else {
        return Err("usage: cargo run --example upload -- <file> [key]".into());
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
    let result = storage.put_object(&key, body, &PutOptions::new().with_content_type("application/octet-stream")).await;
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
    match storage.head_object(&key, &stowage::GetOptions::new()).await? {
        Some(meta) if meta.size == size => {
            println!("Verified with a HEAD: {} bytes at {key:?}.", meta.size);
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
