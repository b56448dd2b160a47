//! The upload demo in a real browser: headless Chromium (through chromedriver, driven by fantoccini)
//! opens the page served by `examples/upload_server.rs`, configured for Garage with a bucket CORS
//! rule. Between the browser and Garage sits the loopback proxy of `support::proxy`, which counts
//! the parts the browser sends. The page:
//!
//! 1. uploads a real PNG through a presigned PUT (quarantined, verified, promoted), lists it and
//!    downloads it byte-identical; refuses a type and a size in plain words; sends a file through
//!    the server;
//! 2. uploads a 48 MiB file in parts (progress to 100 %, byte-identical download, a screenshot
//!    mid-upload), through a network cut, through a page reload (stored parts are not sent again),
//!    and cancels one (nothing left in progress);
//! 3. never lists or serves a Windows program named `.png` — before, during and after its
//!    completion, nor after a replay of its URL;
//! 4. lets Uppy's own code upload the same large file through the same endpoints (`/uppy`);
//! 5. without the bucket's CORS rule, says that CORS blocks the upload.

#![cfg(all(feature = "axum", feature = "sniff", feature = "testing"))]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};
use stowage::{CorsConfiguration, Storage};
use support::proxy::{Fault, Proxy};
use support::webdriver::{Session, chromedriver};

/// A real 1×1 PNG (signature, IHDR, IDAT, IEND).
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\0\0\x01\x01\0\x05\x18\xd8N\0\0\0\0IEND\xaeB`\x82";
const MIB: usize = 1024 * 1024;
/// The browser's upload speed while a large file goes up: slow enough to act in the middle.
const THROTTLE: u64 = 12 * MIB as u64;

struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Uppy's bundle, fetched with npm when it is not there yet.
fn uppy_dist() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dist = root.join("target/uppy");
    if !dist.join("uppy.min.js").exists() {
        let status =
            Command::new("bash").arg(root.join("examples/static/fetch-uppy.sh")).status().expect("run fetch-uppy.sh");
        assert!(status.success(), "fetching Uppy's bundle failed (npm is needed)");
    }
    dist
}

/// Waits for the page's status line to leave the busy state, and returns `(state, text)`.
async fn outcome(session: &Session, timeout: Duration) -> (String, String) {
    let value = session
        .wait_for(
            "const s = document.getElementById('status');\
             return (s.dataset.state === 'ok' || s.dataset.state === 'error') ? [s.dataset.state, s.textContent] : null;",
            timeout,
        )
        .await;
    (value[0].as_str().unwrap_or_default().to_owned(), value[1].as_str().unwrap_or_default().to_owned())
}

async fn choose(session: &Session, path: &Path) {
    session.script("document.getElementById('status').dataset.state = 'idle'; return true;").await;
    session.choose_file("#file", path).await;
}

async fn upload(session: &Session, path: &Path) -> (String, String) {
    choose(session, path).await;
    session.click("#upload").await;
    outcome(session, Duration::from_secs(60)).await
}

async fn progress(session: &Session) -> f64 {
    session.script("return document.getElementById('progress').value;").await.as_f64().unwrap_or(0.0)
}

async fn wait_progress(session: &Session, at_least: f64) {
    let started = Instant::now();
    while progress(session).await < at_least {
        assert!(started.elapsed() < Duration::from_secs(60), "the upload did not reach {at_least} %");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The file names the page lists (the app's listing: verified files only).
async fn listed(origin: &str, cookie: &str) -> Vec<Value> {
    let request = reqwest::Client::new().get(format!("{origin}/api/files")).header("cookie", cookie);
    let text = request.send().await.expect("list").text().await.expect("body");
    serde_json::from_str::<Vec<Value>>(&text).unwrap_or_default()
}

/// Downloads a listed file through the app's link (a redirect to a presigned GET).
async fn download(origin: &str, cookie: &str, key: &str) -> (u16, Vec<u8>) {
    let path: Vec<String> = key
        .split('/')
        .map(|s| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20"))
        .collect();
    let request = reqwest::Client::new().get(format!("{origin}/api/files/{}", path.join("/"))).header("cookie", cookie);
    let response = request.send().await.expect("download");
    let status = response.status().as_u16();
    (status, response.bytes().await.map(|b| b.to_vec()).unwrap_or_default())
}

fn large_png(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    let mut bytes: Vec<u8> = (0..len)
        .map(|_| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as u8
        })
        .collect();
    bytes[..PNG.len()].copy_from_slice(PNG);
    bytes
}

fn windows_program(len: usize) -> Vec<u8> {
    let mut bytes = large_png(len, 99);
    bytes[..PNG.len()].fill(0);
    bytes[..2].copy_from_slice(b"MZ");
    bytes[0x3c..0x40].copy_from_slice(&[0x80, 0, 0, 0]);
    bytes[0x80..0x84].copy_from_slice(b"PE\0\0");
    bytes
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_demo_in_a_real_browser() {
    let Some((driver, browser)) = chromedriver() else { return };
    let Some(garage) = tokio::task::spawn_blocking(support::servers::garage).await.expect("garage") else { return };
    let direct = garage.storage().await;
    let uppy = uppy_dist();

    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let origin = format!("http://127.0.0.1:{port}");
    // A second instance of the demo, with images made clean (section 5).
    let images_port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let images_origin = format!("http://127.0.0.1:{images_port}");
    direct
        .put_bucket_cors(&CorsConfiguration::for_browser_uploads([origin.as_str(), images_origin.as_str()]))
        .await
        .expect("bucket CORS");
    // The proxy between everyone and Garage: it counts the parts, and flips a byte of the next PUT
    // when told to (a broken network card, a bad middlebox).
    let flip_next_put = Arc::new(AtomicBool::new(false));
    let proxy = Proxy::start(&garage.endpoint, {
        let flip = Arc::clone(&flip_next_put);
        move |request: &support::proxy::Seen| {
            // The browser's PUT into staging (not the server's tickets beside it).
            let browsers = request.target.contains("/staging/") && !request.target.contains("/.tickets/");
            if request.method == "PUT" && browsers && flip.swap(false, Ordering::SeqCst) {
                Fault::FlipByte(40)
            } else {
                Fault::Forward
            }
        }
    })
    .await;

    let demo = |port: u16, images: &str| {
        Command::new(support::example("upload_server"))
            .env("UPLOAD_IMAGES", images)
            .env("S3_BUCKET", &garage.bucket)
            .env("S3_REGION", &garage.region)
            .env("S3_ENDPOINT", &proxy.endpoint)
            .env("S3_ACCESS_KEY_ID", &garage.access_key)
            .env("S3_SECRET_ACCESS_KEY", &garage.secret)
            .env("UPLOAD_ADDR", format!("127.0.0.1:{port}"))
            .env("UPLOAD_MAX_BYTES", (56 * MIB).to_string())
            .env("UPLOAD_MULTIPART_THRESHOLD", (8 * MIB).to_string())
            .env("UPLOAD_PART_SIZE", (5 * MIB).to_string())
            .env("UPLOAD_CONCURRENCY", "3")
            .env("UPPY_DIST", &uppy)
            .env_remove("S3_SESSION_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the upload demo")
    };
    let started_on = |port: u16| async move {
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "the upload demo did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    // Sections 1–4 upload made-up files named .png, byte for byte: images are not cleaned here.
    let _demo = Demo(demo(port, "off"));
    started_on(port).await;

    let dir = support::servers::TempDir::new("browser-files");
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.0.join(name);
        std::fs::write(&path, bytes).expect("write a file to upload");
        path
    };
    let png = write("photo of me.png", PNG);
    let html = write("page.html", b"<h1>not an image</h1>");
    let big_bytes = large_png(48 * MIB + 12_345, 7);
    let big = write("holiday video still.png", &big_bytes);
    let too_big = write("huge.png", &large_png(57 * MIB, 3));
    let renamed = write("cute cat?.png", &large_png(2 * MIB, 11));
    let program_bytes = windows_program(24 * MIB);
    let program = write("kitten.png", &program_bytes);
    let small_program = write("puppy.png", &windows_program(64 * 1024));

    let session = Session::start(&driver, &browser).await;
    session.goto(&origin).await;
    session.wait_for("return document.getElementById('rules').textContent || null;", Duration::from_secs(10)).await;
    let rules = session.script("return document.getElementById('rules').textContent;").await;
    assert_eq!(rules, "Accepted: images, PDF documents, text files and videos up to 56.0 MiB.");
    let disabled = session.script("return document.getElementById('upload').disabled;").await;
    assert_eq!(disabled, Value::Bool(true), "Upload is disabled until a file is chosen");
    assert!(session.console_errors().await.is_empty(), "no console errors on load (favicon included)");
    // The identity the page gave this browser: the app's own routes are this person's.
    let me = session.cookie("stowage_demo").await;

    // 1. A real PNG through a presigned PUT: quarantined, verified, promoted, listed, downloaded.
    let (state, text) = upload(&session, &png).await;
    assert_eq!(
        (state, text),
        ("ok".to_owned(), format!("Uploaded photo of me.png ({} bytes) and checked.", PNG.len()))
    );
    let cleared = session
        .script("return document.getElementById('file').value === '' && document.getElementById('upload').disabled;")
        .await;
    assert_eq!(cleared, Value::Bool(true), "the file input is cleared after an upload");
    let files = listed(&origin, &me).await;
    let first = files.first().expect("listed");
    assert_eq!(first["filename"], "photo of me.png");
    let (status, bytes) = download(&origin, &me, first["key"].as_str().unwrap_or_default()).await;
    assert_eq!((status, bytes.as_slice()), (200, PNG), "the download is byte-identical");
    // The page computed the file's SHA-256, the bucket verified it, and the list shows it.
    let shown = session
        .wait_for(
            "const c = document.querySelector('#files code.checksum'); return c ? c.textContent : null;",
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(shown.as_str(), Some(format!("SHA-256 {}", hex::encode(Sha256::digest(PNG))).as_str()));

    // A byte flipped between the browser and the bucket: the bucket refuses it, nothing is listed.
    let before = listed(&origin, &me).await.len();
    flip_next_put.store(true, Ordering::SeqCst);
    let (state, text) = upload(&session, &png).await;
    assert_eq!(state, "error", "{text}");
    assert!(text.contains("SHA-256"), "the page says why: {text}");
    assert!(!flip_next_put.load(Ordering::SeqCst), "the flip happened");
    assert_eq!(listed(&origin, &me).await.len(), before, "nothing listed");
    // Listings date objects to the second: a second later, this one is the newest.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (state, text) = upload(&session, &renamed).await;
    assert_eq!(state, "ok", "{text}");
    let note = session.script("return document.getElementById('note').textContent;").await;
    assert!(note.as_str().unwrap_or_default().contains("Saved as “cute cat.png”"), "the rename is explained: {note}");
    let newest = listed(&origin, &me).await;
    assert_eq!(newest[0]["filename"], "cute cat.png", "the newest upload comes first");

    // What the policy refuses, in words.
    let (state, text) = upload(&session, &html).await;
    assert_eq!(state, "error");
    assert_eq!(text, "This file is a web page; only images, PDF documents, text files and videos are accepted.");
    let (state, text) = upload(&session, &too_big).await;
    assert_eq!(state, "error");
    assert_eq!(text, "This file is 57.0 MiB; files up to 56.0 MiB are accepted.");
    let failed = session.script("return document.getElementById('progress').classList.contains('failed');").await;
    assert_eq!(failed, Value::Bool(true), "the progress bar turns to an error state");

    // The server-side pattern: the same PNG streamed through the demo server.
    choose(&session, &png).await;
    session.click("#upload-via-server").await;
    let (state, text) = outcome(&session, Duration::from_secs(30)).await;
    assert_eq!(state, "ok", "{text}");
    assert!(text.contains("through the server"), "{text}");

    // 2. 48 MiB in parts, the network slowed so that the test can act in the middle.
    session.network(true, Some(THROTTLE)).await;
    choose(&session, &big).await;
    session.click("#upload").await;
    wait_progress(&session, 35.0).await;
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("..").join("e2e");
    std::fs::create_dir_all(&shots).expect("target/e2e");
    let screenshot = session.screenshot().await;
    assert!(screenshot.starts_with(b"\x89PNG"), "a PNG screenshot");
    std::fs::write(shots.join("upload-demo-multipart.png"), &screenshot).expect("screenshot");
    let (state, text) = outcome(&session, Duration::from_secs(60)).await;
    assert_eq!(state, "ok", "{text}");
    assert_eq!(progress(&session).await, 100.0, "progress reaches 100 %");
    let entry =
        listed(&origin, &me).await.into_iter().find(|f| f["filename"] == "holiday video still.png").expect("listed");
    let key = entry["key"].as_str().unwrap_or_default().to_owned();
    let (status, bytes) = download(&origin, &me, &key).await;
    assert_eq!(status, 200);
    assert_eq!(Sha256::digest(&bytes), Sha256::digest(&big_bytes), "the download is byte-identical");
    let screenshot = session.screenshot().await;
    std::fs::write(shots.join("upload-demo.png"), &screenshot).expect("screenshot");

    // The network cut in the middle of an upload, then back: the upload finishes.
    choose(&session, &big).await;
    session.click("#upload").await;
    wait_progress(&session, 25.0).await;
    session.network(false, None).await;
    session
        .wait_for(
            "return document.getElementById('status').textContent.includes('connection is down') || null;",
            Duration::from_secs(30),
        )
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    session.network(true, Some(THROTTLE)).await;
    let (state, text) = outcome(&session, Duration::from_secs(90)).await;
    assert_eq!(state, "ok", "after the network came back: {text}");

    // A reload in the middle: the page offers to go on, and stored parts are not sent again.
    choose(&session, &big).await;
    session.click("#upload").await;
    session
        .wait_for(
            "const s = JSON.parse(localStorage.getItem('stowage-demo-upload') || 'null'); return (s && s.done.length >= 4) || null;",
            Duration::from_secs(60),
        )
        .await;
    let saved = session.script("return JSON.parse(localStorage.getItem('stowage-demo-upload'));").await;
    let upload_id = saved["ticket"]["upload_id"].as_str().expect("a saved upload").to_owned();
    let stored_before: Vec<u64> =
        saved["done"].as_array().expect("done").iter().filter_map(|d| d[0].as_u64()).collect();
    assert!(saved["ticket"]["part_checksums"] == "SHA256", "parts carry their SHA-256: {saved}");
    assert!(stored_before.len() >= 3, "{saved}");
    session.reload().await;
    let notice = session
        .wait_for(
            "const n = document.getElementById('notice'); return n.hidden ? null : n.textContent;",
            Duration::from_secs(10),
        )
        .await;
    assert!(notice.as_str().unwrap_or_default().contains("was interrupted at"), "{notice}");
    let (state, text) = upload(&session, &big).await;
    assert_eq!(state, "ok", "{text}");
    let hashed = session.script("return window.demo.partsHashed;").await;
    let hashed: Vec<u64> = hashed.as_array().map(|h| h.iter().filter_map(Value::as_u64).collect()).unwrap_or_default();
    assert!(!hashed.is_empty(), "the missing parts were hashed");
    assert!(
        stored_before.iter().all(|p| !hashed.contains(p)),
        "stored parts {stored_before:?} were not hashed again: {hashed:?}"
    );
    let records = proxy.records();
    for part in stored_before.iter().filter(|&&n| n > 1) {
        let sends = records
            .iter()
            .filter(|r| {
                r.method == "PUT" && r.target.contains(&format!("partNumber={part}&")) && r.target.contains(&upload_id)
            })
            .count();
        assert_eq!(sends, 1, "part {part}, stored before the reload, was sent {sends} times");
    }
    let resumed = listed(&origin, &me).await.into_iter().filter(|f| f["filename"] == "holiday video still.png").count();
    assert_eq!(resumed, 3, "three complete copies listed");

    // Cancel: aborted, nothing left in progress or in staging.
    choose(&session, &big).await;
    session.click("#upload").await;
    wait_progress(&session, 20.0).await;
    session.click("#cancel").await;
    session
        .wait_for(
            "return document.getElementById('status').textContent.startsWith('Cancelled') || null;",
            Duration::from_secs(10),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let uploads = direct.list_multipart_uploads("uploads/").all().await.expect("uploads in progress");
    assert!(uploads.is_empty(), "cancel leaves nothing in progress: {uploads:?}");
    let staging = direct.list_objects("staging/", &stowage::ListOptions::new()).all().await.expect("staging");
    assert!(staging.is_empty(), "cancel leaves nothing in staging: {staging:?}");

    // 3. A Windows program named .png: never listed or served, before, during or after completion.
    let watching = Arc::new(AtomicBool::new(true));
    let watcher = tokio::spawn({
        let (origin, watching, me) = (origin.clone(), Arc::clone(&watching), me.clone());
        async move {
            let mut looks = 0u32;
            while watching.load(Ordering::SeqCst) {
                let names: Vec<String> = listed(&origin, &me)
                    .await
                    .iter()
                    .filter_map(|f| f["filename"].as_str().map(str::to_owned))
                    .collect();
                assert!(
                    !names.iter().any(|n| n == "kitten.png" || n == "puppy.png"),
                    "a program was listed: {names:?}"
                );
                looks += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            looks
        }
    });
    let (state, text) = upload(&session, &program).await;
    assert_eq!(
        (state.as_str(), text.as_str()),
        ("error", "This file is a Windows program, not a PNG image; it was not kept.")
    );
    let (state, text) = upload(&session, &small_program).await;
    assert_eq!(
        (state.as_str(), text.as_str()),
        ("error", "This file is a Windows program, not a PNG image; it was not kept.")
    );
    // Its URL used again after the rejection: into staging at most, never listed or served.
    let ticket = session.script("return window.demo.ticket;").await;
    let headers: Vec<(String, String)> = ticket["headers"]
        .as_object()
        .map(|h| {
            h.iter()
                .filter(|(k, _)| k.as_str() != "content-length")
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let replay =
        support::raw_http::send("PUT", ticket["url"].as_str().expect("url"), &headers, &windows_program(64 * 1024))
            .await;
    assert!(replay.status < 500, "{}", replay.status);
    let final_key = ticket["final_key"].as_str().expect("final key").to_owned();
    assert_eq!(download(&origin, &me, &final_key).await.0, 404, "never served");
    assert!(
        direct.head_object(&final_key, &stowage::GetOptions::new()).await.expect("head").is_none(),
        "never at its final key"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    watching.store(false, Ordering::SeqCst);
    let looks = watcher.await.expect("the listing watcher");
    assert!(looks > 10, "the listing was watched throughout ({looks} looks)");

    // 4. Uppy's own code, through the same endpoints.
    session.goto(&format!("{origin}/uppy")).await;
    session.wait_for("return window.demoUppy ? true : null;", Duration::from_secs(10)).await;
    session.choose_file("#file", &big).await;
    session.click("#upload").await;
    let (state, text) = outcome(&session, Duration::from_secs(90)).await;
    assert_eq!(state, "ok", "Uppy: {text}");
    let copies = listed(&origin, &me).await.into_iter().filter(|f| f["filename"] == "holiday video still.png").count();
    assert_eq!(copies, 4, "Uppy's upload is listed too");
    session.network(true, None).await;

    // 5. Images made clean (the demo built with `images`): a phone photo is stored upright without
    // its GPS, listed with its thumbnail; a pixel flood is refused in words.
    #[cfg(feature = "images")]
    if let Some(fixtures) = support::images::fixtures() {
        let _images_demo = Demo(demo(images_port, "on"));
        started_on(images_port).await;
        session.goto(&images_origin).await;
        session.wait_for("return document.getElementById('rules').textContent || null;", Duration::from_secs(10)).await;
        let me = session.cookie("stowage_demo").await;
        let photo = write("IMG_0001.jpg", &std::fs::read(fixtures.join("gps-orient6.jpg")).expect("fixture"));
        let (state, text) = upload(&session, &photo).await;
        assert_eq!(state, "ok", "{text}");
        assert!(text.contains("made clean"), "{text}");
        let files = listed(&images_origin, &me).await;
        assert_eq!(files.len(), 1, "the variants are not listed as files: {files:?}");
        let key = files[0]["key"].as_str().unwrap_or_default().to_owned();
        assert!(
            files[0]["thumb"].as_str().is_some_and(|t| t.contains("/.variants/") && t.ends_with("/thumb.jpg")),
            "{:?}",
            files[0]
        );
        let (status, bytes) = download(&images_origin, &me, &key).await;
        assert_eq!(status, 200);
        let left: Vec<String> = support::images::exif_tags(&bytes)
            .into_iter()
            .filter(|t| ["GPSLatitude", "GPSLongitude", "Make", "Model", "Orientation"].contains(&t.as_str()))
            .collect();
        assert!(left.is_empty(), "the download still has {left:?}");
        let (difference, size) = support::images::difference(&bytes, &fixtures.join("gps-orient6.expected.png"));
        assert_eq!(size, (320, 480), "the download stands upright");
        assert!(difference < 6.0, "{difference}");
        // The list shows the thumbnail, loaded by the browser from the bucket.
        let natural = session
            .wait_for(
                "const i = document.querySelector('#files img.thumb'); \
                 return i && i.complete && i.naturalWidth > 0 ? [i.naturalWidth, i.naturalHeight] : null;",
                Duration::from_secs(10),
            )
            .await;
        assert_eq!((natural[0].as_u64(), natural[1].as_u64()), (Some(171), Some(256)), "a 256-pixel thumbnail");
        let screenshot = session.screenshot().await;
        std::fs::write(shots.join("upload-demo-images.png"), &screenshot).expect("screenshot");

        let flood = write("avatar.png", &std::fs::read(fixtures.join("pixel-flood.png")).expect("fixture"));
        let (state, text) = upload(&session, &flood).await;
        assert_eq!(
            (state.as_str(), text.as_str()),
            (
                "error",
                "This image is 100000 × 100000 pixels, over the limit of 50 megapixels and 16383 pixels a side; it \
                 was not kept."
            )
        );
        assert_eq!(listed(&images_origin, &me).await.len(), 1, "nothing more listed");
    }

    // 6. Without the bucket's CORS rule the browser blocks the PUT, and the page says why.
    session.goto(&origin).await;
    session.wait_for("return document.getElementById('rules').textContent || null;", Duration::from_secs(10)).await;
    direct.delete_bucket_cors().await.expect("remove CORS");
    let (state, text) = upload(&session, &png).await;
    assert_eq!(state, "error", "{text}");
    assert!(text.contains("CORS") && text.contains(&origin), "{text}");

    session.quit().await;
    eprintln!(
        "browser test: single and 48 MiB multipart uploads, network cut, reload, cancel, a program never listed, Uppy, \
         images, CORS"
    );
}
