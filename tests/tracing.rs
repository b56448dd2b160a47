//! The `tracing` feature: what a service sees in its spans and events — one span per S3 request
//! (operation, bucket, attempt, status, duration), retries with their reason and backoff, clock
//! corrections, R2 refusals, multipart part retries, credential fetches — and that no secret, token,
//! signature or presigned query ever reaches it.

#![cfg(all(feature = "tracing", feature = "testing"))]

mod support;

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stowage::credentials::StaticCredentials;
use stowage::testing::TestServer;
use stowage::{Body, Credentials, GetOptions, PutOptions, RetryPolicy, S3Config, Storage};
use support::proxy::{Fault, Proxy, Seen, httpdate, raw, s3_error};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;

/// Every event of stowage's (with the fields of the spans around it) and every closed span of
/// stowage's, as text. (Other crates' events are left out: the in-process test server's s3s logs
/// whole requests, its own business.)
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields(String::new());
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<Fields>()
        {
            values.record(fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !event.metadata().target().starts_with("stowage") {
            return;
        }
        let mut fields = Fields(format!("{} {}", event.metadata().level(), event.metadata().target()));
        event.record(&mut fields);
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.filter(|span| span.metadata().target().starts_with("stowage")) {
                let recorded = span.extensions().get::<Fields>().map(|f| f.0.clone()).unwrap_or_default();
                let _ = write!(fields.0, " | in {}{{{recorded} }}", span.name());
            }
        }
        self.0.lock().unwrap().push(fields.0);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id)
            && span.metadata().target().starts_with("stowage")
        {
            let recorded = span.extensions().get::<Fields>().map(|f| f.0.clone()).unwrap_or_default();
            self.0.lock().unwrap().push(format!("closed {}{{{recorded} }}", span.name()));
        }
    }
}

impl Capture {
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    fn find(&self, all: &[&str]) -> Option<String> {
        self.lines().into_iter().find(|line| all.iter().all(|needle| line.contains(needle)))
    }

    fn expect(&self, all: &[&str]) -> String {
        self.find(all).unwrap_or_else(|| panic!("no line with {all:?} in:\n{}", self.lines().join("\n")))
    }
}

fn quick(attempts: u32) -> RetryPolicy {
    RetryPolicy::new(attempts, Duration::from_millis(5), Duration::from_millis(20))
}

#[tokio::test]
async fn spans_and_events_say_what_happened_and_nothing_secret() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    let s3 = TestServer::start().await.expect("server");
    let secret = s3.secret_access_key().to_owned();

    // A request: one span with operation, bucket, attempt, status and duration.
    let storage = s3.storage().expect("storage");
    storage.put_object("t/a.txt", "hello".into(), &PutOptions::new()).await.expect("put");
    let span = capture.expect(&["closed s3", "operation=\"PutObject\"", "attempt=1", "status=200", "duration_ms="]);
    assert!(span.contains(&format!("bucket={}", s3.bucket())), "{span}");

    // A 503 SlowDown, then success: a retry event with its reason and backoff, in the span.
    let slow = std::sync::atomic::AtomicUsize::new(0);
    let proxy = Proxy::start(s3.endpoint(), move |request: &Seen| {
        if request.method == "PUT" && slow.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            Fault::Respond(s3_error("503 Slow Down", "SlowDown"))
        } else {
            Fault::Forward
        }
    })
    .await;
    let through =
        s3.config().with_endpoint(proxy.endpoint.as_str()).with_retry(quick(3)).build().await.expect("storage");
    through.put_object("t/b.txt", "again".into(), &PutOptions::new()).await.expect("put after a retry");
    capture.expect(&["INFO stowage", "retrying", "reason=\"503 SlowDown\"", "backoff_ms=", "in s3{", "PutObject"]);
    capture.expect(&["closed s3", "PutObject", "attempt=2", "status=200"]);

    // A clock two hours off: corrected, and said so.
    let now_checked = Proxy::start(s3.endpoint(), |request: &Seen| {
        let now = time::OffsetDateTime::now_utc();
        match request.header("x-amz-date").and_then(|d| stowage::sigv4::parse_amz_date(d).ok()) {
            Some(at) if (at - now).abs() > time::Duration::minutes(15) => Fault::Respond(raw(
                "403 Forbidden",
                &[("Date", httpdate(now).as_str()), ("Content-Type", "application/xml")],
                b"<Error><Code>RequestTimeTooSkewed</Code><Message>too far</Message></Error>",
            )),
            _ => Fault::Forward,
        }
    })
    .await;
    let skewed = s3
        .config()
        .with_endpoint(now_checked.endpoint.as_str())
        .with_clock_skew(time::Duration::hours(2))
        .build()
        .await
        .expect("storage");
    skewed.put_object("t/c.txt", "late".into(), &PutOptions::new()).await.expect("corrected");
    capture.expect(&["WARN stowage", "clock disagrees", "skew_ms="]);

    // Multipart: a part answered 503 once is retried, inside its part span.
    let part_once = std::sync::atomic::AtomicUsize::new(0);
    let parts_proxy = Proxy::start(s3.endpoint(), move |request: &Seen| {
        let is_part = request.method == "PUT" && request.target.contains("partNumber=2");
        if is_part && part_once.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            Fault::Respond(s3_error("503 Slow Down", "SlowDown"))
        } else {
            Fault::Forward
        }
    })
    .await;
    let parts = s3
        .config()
        .with_endpoint(parts_proxy.endpoint.as_str())
        .with_retry(quick(3))
        .with_multipart_threshold(5 * 1024 * 1024)
        .with_part_size(5 * 1024 * 1024)
        .build()
        .await
        .expect("storage");
    let body = vec![7u8; 11 * 1024 * 1024];
    parts.put_object("t/big.bin", Body::from(body), &PutOptions::new()).await.expect("multipart");
    capture.expect(&["retrying", "UploadPart", "in part{ number=2"]);

    // R2: refused before sending, and said so.
    let r2 = S3Config::r2("acct01", "bucket", Credentials::new("AKID", "r2-secret-value")).build().await.expect("r2");
    let refused = r2
        .put_object("t/acl.txt", "x".into(), &PutOptions::new().with_header("x-amz-acl", "public-read"))
        .await
        .expect_err("R2 takes no ACLs");
    assert!(matches!(refused, stowage::Error::Unsupported { .. }));
    capture.expect(&["WARN stowage", "refused before sending", "Cloudflare R2"]);

    // Rotating credentials: the fetch is an event naming the source (the key id, never the secret).
    let token = "session-token-never-logged";
    let temporary = s3
        .credentials()
        .with_session_token(token)
        .with_expiry(time::OffsetDateTime::now_utc() + time::Duration::hours(1));
    let rotating = S3Config::new(s3.bucket(), s3.region(), StaticCredentials::new(temporary))
        .with_endpoint(s3.endpoint())
        .build()
        .await
        .expect("storage");
    rotating.head_object("t/a.txt", &stowage::GetOptions::new()).await.expect("head");
    capture.expect(&["INFO stowage", "credentials fetched", "source=static credentials", "expires_in_s="]);

    // Presigning logs nothing (its query holds the signature).
    let before = capture.lines().len();
    let url = rotating.presign_get("t/a.txt", &GetOptions::new(), Duration::from_secs(60)).expect("presign");
    assert_eq!(capture.lines().len(), before, "presigning is silent");

    // Nothing secret anywhere.
    let signature = url.url.split("X-Amz-Signature=").nth(1).expect("signature").to_owned();
    let all = capture.lines().join("\n");
    for forbidden in
        [secret.as_str(), token, "r2-secret-value", "X-Amz-Signature", "Signature=", &signature, "X-Amz-Credential"]
    {
        assert!(!all.contains(forbidden), "{forbidden:?} reached the logs:\n{all}");
    }
    assert!(capture.lines().len() > 10);
    if std::env::var_os("STOWAGE_SHOW_TRACE").is_some() {
        eprintln!("{all}");
    }
}
