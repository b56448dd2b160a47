//! The whole presigned-upload flow, step by step:
//!
//! 1. the server presigns a PUT that signs the file's type and size;
//! 2. the "browser" uploads through it with plain HTTP (here: reqwest, no SDK, no credentials);
//! 3. the server checks what landed with a HEAD;
//! 4. the server presigns a GET (saved under the original file name) and the browser downloads it.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! With no `S3_*` configuration it starts an embedded S3 server (s3s-fs, which verifies signatures)
//! on 127.0.0.1, so it runs anywhere. With `S3_BUCKET`, `S3_REGION`, `S3_ACCESS_KEY_ID`,
//! `S3_SECRET_ACCESS_KEY` and, for R2 or a local server, `S3_ENDPOINT` set, it runs against that bucket
//! (and deletes its demo object at the end).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use stowage::testing::TestServer;
use stowage::{GetOptions, PutOptions, S3Config, Storage};

fn step(n: u32, text: &str) {
    println!("\n[{n}] {text}");
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // Keep the embedded server alive for the whole demo.
    let (storage, _embedded): (Arc<dyn Storage>, Option<TestServer>) = if std::env::var_os("S3_BUCKET").is_some() {
        let storage = S3Config::from_env()?.build().await?;
        println!("Using bucket {:?} at {:?} ({:?}).", storage.bucket(), storage.address(), storage.platform());
        (Arc::new(storage), None)
    } else {
        let server = TestServer::builder().with_bucket("quickstart").start().await?;
        println!("No S3_* configuration: started an embedded S3 server (s3s-fs) at {}.", server.endpoint());
        println!("(Set S3_BUCKET, S3_REGION, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_ENDPOINT to use yours.)");
        (Arc::new(server.storage()?), Some(server))
    };

    let file_name = "profile picture (1).txt";
    let contents = format!("Hello from stowage, uploaded at {}.\n", time::OffsetDateTime::now_utc());
    let key = format!("quickstart/{}-{file_name}", time::OffsetDateTime::now_utc().unix_timestamp_nanos());

    step(1, "The server presigns a PUT that signs Content-Type and Content-Length:");
    let options =
        PutOptions::new().with_content_type("text/plain; charset=utf-8").with_content_length(contents.len() as u64);
    let upload = storage.presign_put(&key, &options, Duration::from_secs(300))?;
    println!("    {} {}", upload.method, upload.url);
    for (name, value) in &upload.headers {
        println!("    {name}: {value}");
    }
    println!("    valid until {}", upload.expires_at);

    step(2, "The browser uploads the bytes straight to the bucket, with exactly those headers:");
    let http = reqwest::Client::new();
    let mut put = http.put(&upload.url).body(contents.clone());
    for (name, value) in &upload.headers {
        put = put.header(name, value);
    }
    let response = put.send().await?;
    println!("    HTTP {}", response.status());
    if !response.status().is_success() {
        return Err(format!("upload refused: {}", response.text().await?).into());
    }

    step(3, "The server checks what landed (HEAD):");
    let meta = storage
        .head_object(&key, &stowage::GetOptions::new())
        .await?
        .ok_or("the object is missing after the upload")?;
    println!("    {} bytes, {:?}, ETag {:?}", meta.size, meta.content_type.as_deref().unwrap_or("?"), meta.etag);
    if meta.size != contents.len() as u64 {
        return Err("size differs from what was signed".into());
    }

    step(4, "The server presigns a GET that saves under the original name; the browser downloads it:");
    let download =
        storage.presign_get(&key, &GetOptions::new().with_attachment(file_name), Duration::from_secs(300))?;
    println!("    GET {}", download.url);
    let response = http.get(&download.url).send().await?;
    let disposition = response.headers().get("content-disposition").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = response.text().await?;
    println!("    Content-Disposition: {}", disposition.as_deref().unwrap_or("(none)"));
    println!("    body: {}", body.trim_end());
    if body != contents {
        return Err("the download differs from the upload".into());
    }

    storage.delete_object(&key).await?;
    println!("\nDone: uploaded, verified and downloaded through presigned URLs; demo object deleted.");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quickstart failed: {e}");
            ExitCode::FAILURE
        }
    }
}
