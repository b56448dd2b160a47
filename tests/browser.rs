//! The upload demo in a real browser: headless Chromium (through chromedriver) opens the page served
//! by `examples/upload_server.rs`, configured for Garage with a bucket CORS rule, and:
//!
//! 1. uploads a real PNG through the presigned flow, checks that it is listed and that its download
//!    is byte-identical, and keeps a screenshot under `target/e2e/`;
//!    then sends the same file through the server (the streaming multipart route);
//! 2. tries a type the policy refuses and a file over the size limit, and checks the page says so;
//! 3. removes the bucket's CORS rule and checks the page reports the CORS problem.

#![cfg(all(feature = "constraints", feature = "serde"))]

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use stowage::CorsConfiguration;
use support::webdriver::{Session, chromedriver};

/// A real 1×1 PNG (signature, IHDR, IDAT, IEND).
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\0\0\x01\x01\0\x05\x18\xd8N\0\0\0\0IEND\xaeB`\x82";

struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test path");
    let path = exe.parent().and_then(|p| p.parent()).expect("target dir").join("examples").join(name);
    assert!(path.exists(), "{} is missing: cargo test builds the examples", path.display());
    path
}

/// Waits for the page's status line to leave the busy state, and returns `(state, text)`.
async fn outcome(session: &Session) -> (String, String) {
    let value = session
        .wait_for(
            "const s = document.getElementById('status');\
             return (s.dataset.state === 'ok' || s.dataset.state === 'error') ? [s.dataset.state, s.textContent] : null;",
            Duration::from_secs(30),
        )
        .await;
    (value[0].as_str().unwrap_or_default().to_owned(), value[1].as_str().unwrap_or_default().to_owned())
}

async fn upload(session: &Session, path: &std::path::Path) -> (String, String) {
    session.script("document.getElementById('status').dataset.state = 'idle'; return true;").await;
    session.choose_file("#file", path).await;
    session.click("#upload").await;
    outcome(session).await
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_demo_in_a_real_browser() {
    let Some((driver, browser)) = chromedriver() else { return };
    let Some(garage) = tokio::task::spawn_blocking(support::servers::garage).await.expect("garage") else { return };
    let storage = garage.storage();

    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let origin = format!("http://127.0.0.1:{port}");
    storage.put_bucket_cors(&CorsConfiguration::for_browser_uploads([origin.as_str()])).await.expect("bucket CORS");

    let _demo = Demo(
        Command::new(example("upload_server"))
            .env("S3_BUCKET", &garage.bucket)
            .env("S3_REGION", &garage.region)
            .env("S3_ENDPOINT", &garage.endpoint)
            .env("S3_ACCESS_KEY_ID", &garage.access_key)
            .env("S3_SECRET_ACCESS_KEY", &garage.secret)
            .env("UPLOAD_ADDR", format!("127.0.0.1:{port}"))
            .env("UPLOAD_MAX_BYTES", "65536")
            .env_remove("S3_SESSION_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the upload demo"),
    );
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "the upload demo did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let dir = support::servers::TempDir::new("browser-files");
    let png = dir.0.join("photo of me.png");
    std::fs::write(&png, PNG).expect("png");
    let html = dir.0.join("page.html");
    std::fs::write(&html, "<h1>not an image</h1>").expect("html");
    let big = dir.0.join("huge.png");
    std::fs::write(&big, [PNG, &vec![0u8; 70 * 1024]].concat()).expect("big");

    let session = Session::start(&driver, &browser).await;
    session.goto(&origin).await;
    session.wait_for("return document.getElementById('rules').textContent || null;", Duration::from_secs(10)).await;

    // 1. A real PNG through the presigned flow.
    let (state, text) = upload(&session, &png).await;
    assert_eq!(state, "ok", "{text}");
    assert!(text.contains("verified"), "{text}");
    let link = session
        .wait_for(
            "const a = [...document.querySelectorAll('#files a')].find(a => a.textContent === 'photo of me.png');\
             return a ? a.href : null;",
            Duration::from_secs(10),
        )
        .await;
    let href = link.as_str().expect("a download link").to_owned();
    let response = reqwest::get(&href).await.expect("download");
    assert_eq!(response.status(), 200);
    let disposition =
        response.headers().get("content-disposition").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(disposition.contains("photo of me.png"), "{disposition}");
    assert_eq!(response.bytes().await.expect("bytes").as_ref(), PNG, "the download is byte-identical");
    let screenshot = session.screenshot().await;
    assert!(screenshot.starts_with(b"\x89PNG"), "a PNG screenshot");
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("..").join("e2e");
    std::fs::create_dir_all(&shots).expect("target/e2e");
    std::fs::write(shots.join("upload-demo.png"), &screenshot).expect("screenshot");

    // The server-side pattern too: the same file streamed through the demo server.
    session.script("document.getElementById('status').dataset.state = 'idle'; return true;").await;
    session.choose_file("#file", &png).await;
    session.click("#upload-via-server").await;
    let (state, text) = outcome(&session).await;
    assert_eq!(state, "ok", "{text}");
    assert!(text.contains("through the server"), "{text}");

    // 2. What the policy refuses, in words.
    let (state, text) = upload(&session, &html).await;
    assert_eq!(state, "error", "{text}");
    assert!(text.contains("text/html") && text.contains("not accepted"), "{text}");
    let (state, text) = upload(&session, &big).await;
    assert_eq!(state, "error", "{text}");
    assert!(text.contains("limit is 64.0 KiB"), "{text}");

    // 3. Without the bucket's CORS rule the browser blocks the PUT, and the page says why.
    storage.delete_bucket_cors().await.expect("remove CORS");
    let (state, text) = upload(&session, &png).await;
    assert_eq!(state, "error", "{text}");
    assert!(text.contains("CORS") && text.contains(&origin), "{text}");

    session.quit().await;
    eprintln!("browser test: uploaded, listed, downloaded byte-identical; refused a type and a size; reported CORS");
}
