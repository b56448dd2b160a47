//! Fault injection: a proxy on loopback (`support::proxy`) between stowage and a real S3 server
//! resets connections halfway through a body, answers 503s, never answers, cuts answers short, sends
//! garbage and huge bodies, passes bodies slowly or stops taking them, and plays a server whose clock
//! disagrees. Each case ends either with the exact bytes stored — read back through a second client
//! that talks to the server directly — or with a typed error and nothing at the key; never a panic,
//! never a hang (every case runs under a time limit), never an unbounded read.
//!
//! Run against s3s-fs in-process and Garage as a child process.

#![cfg(feature = "testing")]

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use stowage::{Body, ByteRange, Error, GetOptions, ListOptions, PutOptions, RetryPolicy, S3Storage, Storage};
use support::proxy::{Fault, Proxy, Seen, httpdate, raw, s3_error};
use support::servers::{self, Server};
use support::{Tally, on_each_server};

fn quick(attempts: u32) -> RetryPolicy {
    RetryPolicy::new(attempts, Duration::from_millis(5), Duration::from_millis(50))
}

/// A client that goes through the proxy.
async fn through(server: &Server, proxy: &Proxy, attempts: u32) -> S3Storage {
    stowage::S3Config::new(server.bucket.as_str(), server.region.as_str(), server.credentials())
        .with_endpoint(proxy.endpoint.as_str())
        .with_retry(quick(attempts))
        .with_idle_timeout(Duration::from_secs(5))
        .build()
        .await
        .expect("storage through the proxy")
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

/// The object at `key`, read directly from the server.
async fn stored(direct: &S3Storage, key: &str) -> Option<Bytes> {
    let object = direct.get_object(key, &GetOptions::new()).await.expect("get (direct)")?;
    Some(object.bytes().await.expect("body (direct)"))
}

async fn assert_exact(direct: &S3Storage, key: &str, expected: &[u8]) {
    let got = stored(direct, key).await.unwrap_or_else(|| panic!("{key}: nothing stored"));
    assert!(got.as_ref() == expected, "{key}: {} bytes stored instead of the {} sent", got.len(), expected.len());
    direct.delete_object(key).await.expect("delete");
}

async fn assert_absent(direct: &S3Storage, key: &str) {
    assert!(stored(direct, key).await.is_none(), "{key}: something was stored");
}

fn stream_of(data: &[u8], chunk: usize) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    let chunks: Vec<std::io::Result<Bytes>> = data.chunks(chunk).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    futures_util::stream::iter(chunks)
}

/// The first PUT (or the first `n`) gets `fault`; everything else passes.
fn first_puts(n: usize, fault: Fault) -> impl Fn(&Seen) -> Fault + Send + Sync + 'static {
    let seen = std::sync::atomic::AtomicUsize::new(0);
    move |request: &Seen| {
        if request.method == "PUT" && seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < n {
            fault.clone()
        } else {
            Fault::Forward
        }
    }
}

async fn resets(server: &Server, direct: &S3Storage, tally: &mut Tally) {
    tally
        .case(server.name, "reset halfway through the body, first attempt: bytes and files retried, exact", async {
            let body = data(1024 * 1024, 1);
            let proxy = Proxy::start(&server.endpoint, first_puts(1, Fault::ResetAfterBody(512 * 1024))).await;
            let storage = through(server, &proxy, 3).await;
            storage
                .put_object("faults/reset-bytes.bin", body.clone().into(), &PutOptions::new())
                .await
                .expect("retried");
            assert_eq!(proxy.requests(), 2);
            assert_exact(direct, "faults/reset-bytes.bin", &body).await;

            let proxy = Proxy::start(&server.endpoint, first_puts(1, Fault::ResetAfterBody(512 * 1024))).await;
            let storage = through(server, &proxy, 3).await;
            let dir = servers::TempDir::new("faults");
            let path = dir.0.join("reset.bin");
            std::fs::write(&path, &body).expect("write");
            let file = Body::from_file(&path).await.expect("file");
            storage
                .put_object("faults/reset-file.bin", file, &PutOptions::new())
                .await
                .expect("file re-read and retried");
            assert_exact(direct, "faults/reset-file.bin", &body).await;
        })
        .await;

    tally
        .case(server.name, "reset halfway through a stream: typed error, nothing stored", async {
            let body = data(1024 * 1024, 2);
            let proxy = Proxy::start(&server.endpoint, first_puts(1, Fault::ResetAfterBody(512 * 1024))).await;
            let storage = through(server, &proxy, 3).await;
            let stream = Body::from_stream(stream_of(&body, 64 * 1024), body.len() as u64);
            let err =
                storage.put_object("faults/reset-stream.bin", stream, &PutOptions::new()).await.expect_err("reset");
            assert!(matches!(err, Error::Transport { .. }), "{err}");
            assert!(err.is_retryable(), "the caller may send the stream again");
            assert_eq!(proxy.requests(), 1, "a stream is sent once");
            assert_absent(direct, "faults/reset-stream.bin").await;
        })
        .await;
}

async fn busy_servers(server: &Server, direct: &S3Storage, tally: &mut Tally) {
    tally
        .case(server.name, "503 SlowDown twice, then success: exact", async {
            let body = data(300 * 1024, 3);
            let proxy =
                Proxy::start(&server.endpoint, first_puts(2, Fault::Respond(s3_error("503 Slow Down", "SlowDown"))))
                    .await;
            let storage = through(server, &proxy, 3).await;
            storage
                .put_object("faults/slowdown.bin", body.clone().into(), &PutOptions::new())
                .await
                .expect("third time");
            assert_eq!(proxy.requests(), 3);
            assert_exact(direct, "faults/slowdown.bin", &body).await;
        })
        .await;

    tally
        .case(server.name, "409 ConditionalRequestConflict on a create-only put, once: sent again, exact", async {
            let body = data(200 * 1024, 5);
            let conflict = s3_error("409 Conflict", "ConditionalRequestConflict");
            let proxy = Proxy::start(&server.endpoint, first_puts(1, Fault::Respond(conflict))).await;
            let storage = through(server, &proxy, 3).await;
            let create = PutOptions::new().with_mode(stowage::PutMode::Create);
            storage.put_object("faults/conflict.bin", body.clone().into(), &create).await.expect("second time");
            assert_eq!(proxy.requests(), 2, "the conflict was retried as S3 documents");
            assert_exact(direct, "faults/conflict.bin", &body).await;
        })
        .await;

    tally
        .case(server.name, "503 on every attempt: typed, retryable, bounded, nothing stored", async {
            let proxy = Proxy::start(&server.endpoint, |_| Fault::Respond(s3_error("503 Slow Down", "SlowDown"))).await;
            let storage = through(server, &proxy, 4).await;
            let err = storage
                .put_object("faults/always-503.bin", data(1000, 4).into(), &PutOptions::new())
                .await
                .expect_err("503");
            assert_eq!(err.status(), Some(503));
            assert_eq!(err.code(), Some(&stowage::S3ErrorCode::SlowDown));
            assert!(err.is_retryable());
            assert_eq!(proxy.requests(), 4, "max_attempts");
            assert_absent(direct, "faults/always-503.bin").await;
        })
        .await;

    tally
        .case(server.name, "a server that accepts and never answers: idle timeout, bounded", async {
            let proxy = Proxy::start(&server.endpoint, |_| Fault::Silent).await;
            let storage = stowage::S3Config::new(server.bucket.as_str(), server.region.as_str(), server.credentials())
                .with_endpoint(proxy.endpoint.as_str())
                .with_retry(quick(2))
                .with_idle_timeout(Duration::from_millis(400))
                .build()
                .await
                .expect("storage");
            let started = Instant::now();
            let err = storage.head_object("faults/silent", &stowage::GetOptions::new()).await.expect_err("silent");
            assert!(matches!(err, Error::Transport { timeout: true, .. }), "{err}");
            let err = storage
                .put_object("faults/silent.bin", data(1000, 5).into(), &PutOptions::new())
                .await
                .expect_err("silent");
            assert!(matches!(err, Error::Transport { timeout: true, .. }), "{err}");
            assert!(err.to_string().contains("nothing moved"), "{err}");
            // 2 operations × 2 attempts × 0.4 s, plus backoff.
            assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
            assert_eq!(proxy.requests(), 4);
            assert_absent(direct, "faults/silent.bin").await;
        })
        .await;

    tally
        .case(server.name, "a deadline ends a request that keeps failing", async {
            let proxy = Proxy::start(&server.endpoint, |_| Fault::Respond(s3_error("503 Slow Down", "SlowDown"))).await;
            let storage = stowage::S3Config::new(server.bucket.as_str(), server.region.as_str(), server.credentials())
                .with_endpoint(proxy.endpoint.as_str())
                .with_retry(RetryPolicy::new(100, Duration::from_millis(100), Duration::from_millis(100)))
                .with_timeout(Duration::from_millis(700))
                .build()
                .await
                .expect("storage");
            let started = Instant::now();
            let err = storage.head_object("faults/deadline", &stowage::GetOptions::new()).await.expect_err("deadline");
            assert!(err.status() == Some(503) || matches!(err, Error::Transport { timeout: true, .. }), "{err}");
            assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());
            let requests = proxy.requests();
            assert!((2..100).contains(&requests), "the deadline, not max_attempts, ended it: {requests} attempts");
        })
        .await;
}

async fn cut_answers(server: &Server, direct: &S3Storage, tally: &mut Tally) {
    let body = data(512 * 1024, 6);
    direct.put_object("faults/cut.bin", body.clone().into(), &PutOptions::new()).await.expect("put");

    tally
        .case(
            server.name,
            "answers cut short of their length (full, ranged, streamed): resumed, then typed errors",
            async {
                let gets = |cut: u64| {
                    move |request: &Seen| if request.method == "GET" { Fault::CutAnswer(cut) } else { Fault::Forward }
                };
                let proxy = Proxy::start(&server.endpoint, gets(100 * 1024)).await;
                let storage = through(server, &proxy, 3).await;
                let full = storage
                    .get_object("faults/cut.bin", &GetOptions::new())
                    .await
                    .expect("the head arrives")
                    .expect("there");
                let err = full.bytes().await.expect_err("cut short");
                assert!(matches!(err, Error::Transport { .. }), "{err}");

                let ranged = storage
                    .get_object(
                        "faults/cut.bin",
                        &GetOptions::new().with_range(ByteRange::Inclusive { start: 1000, end: 500_999 }),
                    )
                    .await
                    .expect("the head arrives")
                    .expect("there");
                assert_eq!(ranged.meta.size, body.len() as u64);
                assert!(ranged.bytes().await.is_err(), "a cut range is an error");

                let mut streamed =
                    storage.get_object("faults/cut.bin", &GetOptions::new()).await.expect("head").expect("there").body;
                let mut got = Vec::new();
                let err = loop {
                    match streamed.chunk().await {
                        Ok(Some(chunk)) => got.extend_from_slice(&chunk),
                        Ok(None) => panic!("a cut stream ended as if complete after {} bytes", got.len()),
                        Err(e) => break e,
                    }
                };
                // Three attempts in all (the first and two resumptions), each cut at 100 KiB.
                assert!(got.len() <= 3 * 100 * 1024 && body.starts_with(&got), "what came is the object's start");
                assert!(got.len() > 100 * 1024, "the download was resumed after the first cut: {}", got.len());
                assert!(matches!(err, Error::Transport { .. }), "{err}");

                // Cut once: resumed where it stopped, exact.
                let once = std::sync::atomic::AtomicBool::new(false);
                let proxy = Proxy::start(&server.endpoint, move |request: &Seen| {
                    if request.method == "GET" && !once.swap(true, std::sync::atomic::Ordering::SeqCst) {
                        Fault::CutAnswer(100 * 1024)
                    } else {
                        Fault::Forward
                    }
                })
                .await;
                let storage = through(server, &proxy, 3).await;
                let whole =
                    storage.get_object("faults/cut.bin", &GetOptions::new()).await.expect("get").expect("there");
                assert_eq!(whole.bytes().await.expect("resumed").as_ref(), body.as_slice());
                assert_eq!(proxy.requests(), 2);
            },
        )
        .await;

    tally
        .case(server.name, "a listing cut short: retried within the call, then typed when it always is", async {
            let once = std::sync::atomic::AtomicBool::new(false);
            let proxy = Proxy::start(&server.endpoint, move |request: &Seen| {
                if request.has_query("list-type") && !once.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    Fault::CutAnswer(40)
                } else {
                    Fault::Forward
                }
            })
            .await;
            let storage = through(server, &proxy, 3).await;
            let page = storage.list_objects("faults/", &ListOptions::new()).all().await.expect("second attempt");
            assert!(page.iter().any(|o| o.key == "faults/cut.bin"));
            assert_eq!(proxy.requests(), 2);

            let proxy = Proxy::start(&server.endpoint, |_| Fault::CutAnswer(40)).await;
            let err = through(server, &proxy, 2)
                .await
                .list_objects("faults/", &ListOptions::new())
                .all()
                .await
                .expect_err("cut");
            assert!(matches!(err, Error::Transport { .. }), "{err}");
            assert_eq!(proxy.requests(), 2);
        })
        .await;
    direct.delete_object("faults/cut.bin").await.expect("delete");
}

async fn garbage(server: &Server, direct: &S3Storage, tally: &mut Tally) {
    tally
        .case(
            server.name,
            "garbage answers: invalid XML, HTML 403, 5 MB 500, no status line, noise, Content-Length: abc",
            async {
                let listing_xml = |text: &'static str| {
                    move |_: &Seen| {
                        Fault::Respond(raw("200 OK", &[("Content-Type", "application/xml")], text.as_bytes()))
                    }
                };
                let proxy =
                    Proxy::start(&server.endpoint, listing_xml("<ListBucketResult><Contents><Key>a</Key>")).await;
                let err = through(server, &proxy, 2)
                    .await
                    .list_objects("", &ListOptions::new())
                    .all()
                    .await
                    .expect_err("invalid XML");
                assert!(matches!(err, Error::InvalidResponse { .. }), "{err}");
                assert!(!err.is_retryable());

                let html = b"<!DOCTYPE html><html><body><h1>403 Forbidden</h1>nginx</body></html>";
                let proxy = Proxy::start(&server.endpoint, move |_: &Seen| {
                    Fault::Respond(raw("403 Forbidden", &[("Content-Type", "text/html")], html))
                })
                .await;
                let err = through(server, &proxy, 3)
                    .await
                    .put_object("faults/html.bin", "x".into(), &PutOptions::new())
                    .await
                    .expect_err("403");
                assert_eq!(err.status(), Some(403));
                assert!(!err.is_retryable());
                assert_eq!(proxy.requests(), 1, "a 403 is not retried");

                let proxy = Proxy::start(&server.endpoint, |_: &Seen| Fault::RespondLong {
                    head: "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5242880\r\nConnection: close\r\n\r\n"
                        .into(),
                    pattern: b"<Error>".to_vec(),
                    len: 5 * 1024 * 1024,
                })
                .await;
                let err = through(server, &proxy, 2)
                    .await
                    .put_object("faults/500.bin", "x".into(), &PutOptions::new())
                    .await
                    .expect_err("500");
                assert_eq!(err.status(), Some(500));
                assert!(err.is_retryable());

                for (what, answer) in [
                    ("no status line", b"garbage without a status line\r\n\r\n".to_vec()),
                    ("binary noise", (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()),
                    (
                        "Content-Length: abc",
                        b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\nConnection: close\r\n\r\nabc".to_vec(),
                    ),
                ] {
                    let proxy = Proxy::start(&server.endpoint, move |_: &Seen| Fault::Respond(answer.clone())).await;
                    let err = through(server, &proxy, 2)
                        .await
                        .put_object("faults/garbage.bin", "x".into(), &PutOptions::new())
                        .await
                        .expect_err(what);
                    assert!(matches!(err, Error::Transport { .. }), "{what}: {err}");
                    let err = through(server, &proxy, 2)
                        .await
                        .head_object("faults/garbage.bin", &stowage::GetOptions::new())
                        .await
                        .expect_err(what);
                    // A HEAD answer has no body to frame, so its Content-Length is read as metadata.
                    assert!(matches!(err, Error::Transport { .. } | Error::InvalidResponse { .. }), "{what}: {err}");
                }
                assert_absent(direct, "faults/garbage.bin").await;
            },
        )
        .await;

    tally
        .case(server.name, "a 64 MiB listing: refused after a bounded read", async {
            let proxy = Proxy::start(&server.endpoint, |_: &Seen| Fault::RespondLong {
                head: "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: 67108864\r\nConnection: close\r\n\r\n<ListBucketResult>".into(),
                pattern: b"<Contents><Key>k</Key><Size>1</Size></Contents>".to_vec(),
                len: 64 * 1024 * 1024,
            })
            .await;
            let err = through(server, &proxy, 3).await.list_objects("", &ListOptions::new()).all().await.expect_err("too large");
            assert!(matches!(err, Error::InvalidResponse { .. }), "{err}");
            assert_eq!(proxy.requests(), 1, "an answer too large is not asked for again");
            let records = proxy.settled_records(1).await;
            let taken = records.first().expect("the listing's record").answer_bytes;
            assert!(taken < 40 * 1024 * 1024, "read {taken} bytes of a 64 MiB answer");
        })
        .await;
}

async fn clocks(server: &Server, direct: &S3Storage, tally: &mut Tally) {
    tally
        .case(server.name, "a client clock two hours ahead, then behind: corrected, exact", async {
            for skew in [time::Duration::hours(2), time::Duration::hours(-2)] {
                // The proxy plays a server that checks the request time, as S3 does (15 minutes).
                let proxy = Proxy::start(&server.endpoint, |request: &Seen| {
                    let now = time::OffsetDateTime::now_utc();
                    let signed = request.header("x-amz-date").and_then(|d| stowage::sigv4::parse_amz_date(d).ok());
                    match signed {
                        Some(at) if (at - now).abs() > time::Duration::minutes(15) => {
                            let date = httpdate(now);
                            let body = "<Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the request time and the current time is too large.</Message></Error>";
                            Fault::Respond(raw("403 Forbidden", &[("Date", date.as_str()), ("Content-Type", "application/xml")], body.as_bytes()))
                        }
                        _ => Fault::Forward,
                    }
                })
                .await;
                let storage = stowage::S3Config::new(server.bucket.as_str(), server.region.as_str(), server.credentials())
                    .with_endpoint(proxy.endpoint.as_str())
                    .with_retry(quick(3))
                    .with_clock_skew(skew)
                    .build().await
                    .expect("storage");
                let body = data(10_000, 7);
                storage.put_object("faults/skew.bin", body.clone().into(), &PutOptions::new()).await.expect("corrected");
                assert!(storage.clock_skew().abs() < time::Duration::minutes(1), "{skew}: {}", storage.clock_skew());
                assert_eq!(proxy.requests(), 2, "{skew}: refused once, then accepted");
                assert_exact(direct, "faults/skew.bin", &body).await;
            }
        })
        .await;
}

async fn bodies(server: &Server, direct: &S3Storage, tally: &mut Tally) {
    tally
        .case(server.name, "streams longer or shorter than declared: typed, not retried, nothing stored", async {
            let storage = server.config().with_retry(quick(3)).build().await.expect("storage");
            let declared = 1024 * 1024;
            let exact = data(declared, 8);
            let longer = data(declared + 64 * 1024, 8);
            let cases: [(&str, Vec<u8>, usize); 5] = [
                ("excess in a chunk after the declared length", longer.clone(), 64 * 1024),
                ("excess in the chunk that crosses it", longer.clone(), 100_000),
                ("excess of one byte", data(declared + 1, 8), 64 * 1024),
                ("short by a chunk", exact[..declared - 64 * 1024].to_vec(), 64 * 1024),
                ("short by one byte", exact[..declared - 1].to_vec(), 64 * 1024),
            ];
            for (what, bytes, chunk) in cases {
                let key = "faults/length.bin";
                let stream = Body::from_stream(stream_of(&bytes, chunk), declared as u64);
                let err = storage.put_object(key, stream, &PutOptions::new()).await.expect_err(what);
                assert!(
                    matches!(err, Error::BodyLength { declared: d, received, .. } if d == declared as u64 && received != d),
                    "{what}: {err}"
                );
                assert!(!err.is_retryable(), "{what}");
                assert_absent(direct, key).await;
            }
            let stream = Body::from_stream(stream_of(&exact, 64 * 1024), declared as u64);
            storage.put_object("faults/length.bin", stream, &PutOptions::new()).await.expect("exact");
            assert_exact(direct, "faults/length.bin", &exact).await;
        })
        .await;

    tally
        .case(server.name, "a slow, steady upload outlives the idle timeout; a stalled one fails within it", async {
            // 3 MiB at 1 MiB/s: three times the idle timeout, and it must succeed.
            let body = data(3 * 1024 * 1024, 9);
            let proxy = Proxy::start(&server.endpoint, |r: &Seen| {
                if r.method == "PUT" { Fault::Throttle(1024 * 1024) } else { Fault::Forward }
            })
            .await;
            let storage = stowage::S3Config::new(server.bucket.as_str(), server.region.as_str(), server.credentials())
                .with_endpoint(proxy.endpoint.as_str())
                .with_retry(RetryPolicy::none())
                .with_idle_timeout(Duration::from_secs(1))
                .build()
                .await
                .expect("storage");
            let started = Instant::now();
            storage
                .put_object("faults/slow.bin", body.clone().into(), &PutOptions::new())
                .await
                .expect("slow but steady");
            assert!(started.elapsed() > Duration::from_millis(2500), "throttled: {:?}", started.elapsed());
            assert_exact(direct, "faults/slow.bin", &body).await;

            let proxy = Proxy::start(&server.endpoint, |r: &Seen| {
                if r.method == "PUT" { Fault::StallBodyAfter(256 * 1024) } else { Fault::Forward }
            })
            .await;
            let storage = stowage::S3Config::new(server.bucket.as_str(), server.region.as_str(), server.credentials())
                .with_endpoint(proxy.endpoint.as_str())
                .with_retry(RetryPolicy::none())
                .with_idle_timeout(Duration::from_millis(500))
                .build()
                .await
                .expect("storage");
            let started = Instant::now();
            let err = storage
                .put_object("faults/stalled.bin", body.clone().into(), &PutOptions::new())
                .await
                .expect_err("stalled");
            assert!(matches!(err, Error::Transport { timeout: true, .. }), "{err}");
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "a stall is caught within the idle timeout: {:?}",
                started.elapsed()
            );
            assert_absent(direct, "faults/stalled.bin").await;
        })
        .await;
}

async fn suite(server: &Server) -> Tally {
    let direct = server.storage().await;
    let mut tally = Tally::default();
    bodies(server, &direct, &mut tally).await;
    resets(server, &direct, &mut tally).await;
    busy_servers(server, &direct, &mut tally).await;
    cut_answers(server, &direct, &mut tally).await;
    garbage(server, &direct, &mut tally).await;
    clocks(server, &direct, &mut tally).await;
    tally.finish("faults", server.name)
}

on_each_server!(suite, |server: &Server, tally: Tally| assert_eq!(tally.cases, 14, "{}", server.name));
