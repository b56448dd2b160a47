//! Retries, timeouts and failure reporting of the S3 backend, against small TCP peers that misbehave
//! on purpose (drop connections, answer 503, never answer). S3 semantics are tested against real
//! servers in `conformance.rs`; these peers only exercise what a real server rarely does on demand.

#![cfg(feature = "s3")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use stowage::{Body, Credentials, PutOptions, RetryPolicy, S3Config, S3ErrorCode, Storage};

const SECRET: &str = "the-secret-must-never-show-up";

/// A peer on 127.0.0.1 that handles each connection with `respond(n)` (n counts from 1), returning
/// the raw response to write, or `None` to drop the connection.
async fn peer(respond: impl Fn(u32) -> Option<String> + Send + Sync + 'static) -> (String, Arc<AtomicU32>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let count = Arc::new(AtomicU32::new(0));
    let seen = Arc::clone(&count);
    let respond = Arc::new(respond);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { continue };
            let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
            let respond = Arc::clone(&respond);
            tokio::spawn(async move {
                // Read the request head and its body, then answer.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    let Ok(read) = socket.read(&mut chunk).await else { return };
                    if read == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..read]);
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                match respond(n) {
                    Some(response) => {
                        let _ = socket.write_all(response.as_bytes()).await;
                        let _ = socket.shutdown().await;
                    }
                    None => drop(socket),
                }
            });
        }
    });
    (format!("http://{addr}"), count)
}

async fn storage(endpoint: &str, retry: RetryPolicy) -> stowage::S3Storage {
    S3Config::new("bucket", "us-east-1", Credentials::new("AKID", SECRET))
        .with_endpoint(endpoint)
        .with_retry(retry)
        .with_timeout(Duration::from_secs(5))
        .build()
        .await
        .expect("storage")
}

fn quick(attempts: u32) -> RetryPolicy {
    RetryPolicy::new(attempts, Duration::from_millis(1), Duration::from_millis(10))
}

fn xml_error(status: &str, code: &str) -> String {
    let body = format!(
        "<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>m</Message><RequestId>R</RequestId></Error>"
    );
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn assert_clean(err: &stowage::Error) {
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(!shown.contains("X-Amz-Signature"), "{shown}");
    assert!(!shown.contains("Signature="), "{shown}");
}

#[tokio::test]
async fn dropped_connections_are_retried_then_reported() {
    let (endpoint, count) = peer(|_| None).await;
    let err =
        storage(&endpoint, quick(3)).await.put_object("k", "body".into(), &PutOptions::new()).await.expect_err("fails");
    assert!(matches!(err, stowage::Error::Transport { .. }), "{err}");
    assert!(err.is_retryable());
    assert_eq!(count.load(Ordering::SeqCst), 3, "three attempts");
    assert_clean(&err);
}

#[tokio::test]
async fn streams_are_not_retried() {
    let (endpoint, count) = peer(|_| None).await;
    let stream = futures_util::stream::iter(vec![Ok(bytes::Bytes::from_static(b"body"))]);
    let err = storage(&endpoint, quick(3))
        .await
        .put_object("k", Body::from_stream(stream, 4), &PutOptions::new())
        .await
        .expect_err("fails");
    assert!(err.is_retryable());
    assert_eq!(count.load(Ordering::SeqCst), 1, "a stream cannot be sent twice");
}

#[tokio::test]
async fn server_errors_are_retried_until_success() {
    let (endpoint, count) = peer(|n| {
        Some(if n < 3 {
            xml_error("503 Service Unavailable", "SlowDown")
        } else {
            "HTTP/1.1 200 OK\r\nETag: \"abc\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
        })
    })
    .await;
    let out = storage(&endpoint, quick(3))
        .await
        .put_object("k", "body".into(), &PutOptions::new())
        .await
        .expect("third time");
    assert_eq!(out.etag.as_deref(), Some("\"abc\""));
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn retries_are_bounded() {
    let (endpoint, count) = peer(|_| Some(xml_error("500 Internal Server Error", "InternalError"))).await;
    let err =
        storage(&endpoint, quick(4)).await.head_object("k", &stowage::GetOptions::new()).await.expect_err("fails");
    assert_eq!(err.status(), Some(500));
    assert!(err.is_retryable());
    assert_eq!(count.load(Ordering::SeqCst), 4);
    let err = storage(&endpoint, RetryPolicy::none()).await.delete_object("k").await.expect_err("fails");
    assert_eq!(err.code(), Some(&S3ErrorCode::InternalError));
    assert_eq!(count.load(Ordering::SeqCst), 5, "RetryPolicy::none sends once");
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let (endpoint, count) = peer(|_| Some(xml_error("403 Forbidden", "AccessDenied"))).await;
    let err = storage(&endpoint, quick(5))
        .await
        .put_object("k", "body".into(), &PutOptions::new())
        .await
        .expect_err("denied");
    assert_eq!(err.code(), Some(&S3ErrorCode::AccessDenied));
    assert_eq!(err.service_error().and_then(|e| e.request_id.as_deref()), Some("R"));
    assert!(!err.is_retryable());
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert!(err.to_string().contains("lack permission"), "the error says what to do: {err}");
    assert_clean(&err);
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let storage = S3Config::new("bucket", "us-east-1", Credentials::new("AKID", SECRET))
        .with_endpoint(endpoint)
        .with_retry(RetryPolicy::none())
        .with_timeout(Duration::from_millis(300))
        .build()
        .await
        .expect("storage");
    let err = storage.head_object("k", &stowage::GetOptions::new()).await.expect_err("times out");
    assert!(matches!(err, stowage::Error::Transport { timeout: true, .. }), "{err}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn nothing_listening() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let err = storage(&format!("http://127.0.0.1:{port}"), quick(2))
        .await
        .head_object("k", &stowage::GetOptions::new())
        .await
        .expect_err("refused");
    assert!(matches!(err, stowage::Error::Transport { timeout: false, .. }), "{err}");
    assert_clean(&err);
}

#[tokio::test]
async fn a_file_that_changed_is_reported_not_retried() {
    let (endpoint, count) =
        peer(|_| Some("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned())).await;
    let path = std::env::temp_dir().join(format!("stowage-shrinking-{}.bin", std::process::id()));
    std::fs::write(&path, vec![7u8; 256 * 1024]).expect("write");
    let body = Body::from_file(&path).await.expect("file");
    std::fs::write(&path, b"now much shorter").expect("shrink");
    let err =
        storage(&endpoint, quick(3)).await.put_object("k", body, &PutOptions::new()).await.expect_err("short file");
    let _ = std::fs::remove_file(&path);
    assert!(
        matches!(err, stowage::Error::BodyLength { declared: 262_144, received: 16, .. }),
        "a typed length error: {err}"
    );
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("16 of the 262144 bytes it declared"), "{err}");
    assert!(count.load(Ordering::SeqCst) <= 1, "not retried");
}
