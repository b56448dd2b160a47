//! Checks an S3/R2 configuration end to end and says how to fix what fails:
//! configuration, where the credentials come from (and until when), reachability, clock skew, CORS
//! for a browser origin, and a presigned PUT/GET round trip.
//!
//! ```text
//! cargo run --example doctor -- [--origin https://app.example.com]
//! ```
//!
//! Configuration comes from `S3_BUCKET`, `S3_REGION`, `S3_ENDPOINT` (and the `AWS_*` names);
//! credentials from the default chain: `S3_ACCESS_KEY_ID`/`S3_SECRET_ACCESS_KEY` (or `AWS_*`), the
//! shared profile files, web identity, the container endpoint, EC2 instance metadata. The origin defaults to `http://127.0.0.1:3000`, the
//! upload demo's. The exit code is 1 when a check fails.

use std::process::ExitCode;
use std::time::Duration;

use stowage::{Error, GetOptions, ListOptions, PutOptions, S3Config, S3ErrorCode, S3Storage, Storage};

struct Doctor {
    failures: u32,
}

impl Doctor {
    fn pass(&mut self, check: &str, detail: impl AsRef<str>) {
        println!("PASS  {check}: {}", detail.as_ref());
    }

    fn warn(&mut self, check: &str, detail: impl AsRef<str>, fix: impl AsRef<str>) {
        println!("WARN  {check}: {}\n      fix: {}", detail.as_ref(), fix.as_ref());
    }

    fn fail(&mut self, check: &str, detail: impl AsRef<str>, fix: impl AsRef<str>) {
        self.failures += 1;
        println!("FAIL  {check}: {}\n      fix: {}", detail.as_ref(), fix.as_ref());
    }
}

/// What to do about an error of the storage.
fn fix_for(error: &Error) -> String {
    if error.service_error().is_some_and(stowage::ServiceError::is_signature_mismatch) {
        return "check S3_SECRET_ACCESS_KEY, and S3_REGION (auto for Cloudflare R2)".into();
    }
    match error.code() {
        Some(S3ErrorCode::InvalidAccessKeyId) => "check S3_ACCESS_KEY_ID: the endpoint does not know this key".into(),
        Some(S3ErrorCode::SignatureDoesNotMatch) => {
            "check S3_SECRET_ACCESS_KEY, and S3_REGION (auto for Cloudflare R2)".into()
        }
        Some(S3ErrorCode::AuthorizationHeaderMalformed) => "S3_REGION is likely wrong for this bucket".into(),
        Some(S3ErrorCode::NoSuchBucket) => "create the bucket, or fix S3_BUCKET / S3_ENDPOINT".into(),
        Some(S3ErrorCode::AccessDenied) => "give the key read and write access to the bucket".into(),
        Some(S3ErrorCode::RequestTimeTooSkewed) => "sync this machine's clock (NTP)".into(),
        _ => match error {
            Error::Transport { .. } => "check S3_ENDPOINT and that the server is reachable from here".into(),
            _ => "see the error above".into(),
        },
    }
}

async fn run() -> Result<u32, Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut origin = "http://127.0.0.1:3000".to_owned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--origin" => origin = args.next().ok_or("--origin needs a value such as https://app.example.com")?,
            "-h" | "--help" => {
                println!("usage: cargo run --example doctor -- [--origin https://app.example.com]");
                return Ok(0);
            }
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let mut doctor = Doctor { failures: 0 };

    // 1. Configuration.
    let config = match S3Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            doctor.fail(
                "configuration",
                e.to_string(),
                "set S3_BUCKET, S3_REGION (auto for R2), S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY (or run where a role \
                 gives credentials) and, for R2 or a local server, S3_ENDPOINT",
            );
            return Ok(doctor.failures);
        }
    };
    // 2. Credentials: building the backend fetches them (which source gave them, until when, and why
    //    the sources before it were passed over).
    let bucket = config.bucket().to_owned();
    let storage: S3Storage = match config.with_retry(stowage::RetryPolicy::none()).build().await {
        Ok(storage) => storage,
        Err(Error::Credentials(e)) => {
            doctor.pass("configuration", format!("bucket {bucket:?}"));
            let fix = match &e {
                stowage::credentials::CredentialsError::NoneFound { .. } => {
                    "set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, or AWS_PROFILE, or run where a role gives \
                     credentials (see the README's Credentials section)"
                }
                _ => "the error names the source and what is wrong with it",
            };
            doctor.fail("credentials", e.to_string(), fix);
            return Ok(doctor.failures);
        }
        Err(e) => {
            doctor.fail("configuration", e.to_string(), "fix the value named above");
            return Ok(doctor.failures);
        }
    };
    doctor.pass(
        "configuration",
        format!("{}, bucket {:?} at {}", storage.platform(), storage.bucket(), storage.address().authority()),
    );
    let status = storage.credentials_status();
    let key = status.access_key_id.as_deref().unwrap_or("?");
    let lifetime = match status.expires_at {
        Some(at) => {
            let left = (at - time::OffsetDateTime::now_utc()).whole_minutes();
            format!("temporary, expire at {} (in {left} min), refreshed ahead of that", utc(at))
        }
        None => "long-term keys".to_owned(),
    };
    doctor.pass("credentials", format!("key {key} from {}: {lifetime}", status.source));
    for skipped in &status.skipped {
        println!("      passed over {}: {}", skipped.source, skipped.reason);
    }

    // 3. Reachability and permissions.
    match storage.list_objects("", &ListOptions::new()).try_next().await {
        Ok(_) => doctor.pass("credentials and bucket", "the key can list the bucket"),
        Err(e)
            if e.code() == Some(&S3ErrorCode::AccessDenied)
                && !e.service_error().is_some_and(stowage::ServiceError::is_signature_mismatch) =>
        {
            doctor.warn(
                "credentials and bucket",
                format!("listing is denied ({e})"),
                "uploads may still work if the key may put and get objects; the round trip below tells",
            )
        }
        Err(e) => {
            let fix = fix_for(&e);
            doctor.fail("credentials and bucket", e.to_string(), fix);
            return Ok(doctor.failures);
        }
    }

    // 4. Clock skew, from the server's Date header.
    let probe = reqwest::Client::new().head(storage.address().object_url("stowage-doctor-clock")?).send().await;
    match probe.ok().and_then(|r| r.headers().get("date").and_then(|d| d.to_str().ok()).map(str::to_owned)) {
        Some(date) => match parse_http_date(&date) {
            Some(server) => {
                let skew = (server - time::OffsetDateTime::now_utc()).whole_seconds();
                if skew.abs() <= 300 {
                    doctor.pass("clock", format!("{skew:+} s from the server's clock"));
                } else {
                    doctor.fail(
                        "clock",
                        format!("{skew:+} s from the server's clock (more than 5 minutes; S3 refuses requests 15 minutes off)"),
                        "sync this machine's clock (NTP); stowage corrects its own requests, but presigned URLs carry this time",
                    );
                }
            }
            None => doctor.warn("clock", format!("unreadable Date header {date:?}"), "nothing to do"),
        },
        None => doctor.warn("clock", "the server sent no Date header", "nothing to do"),
    }

    // 5. CORS for the browser origin.
    match storage.check_cors_preflight(&origin, "PUT", &["content-type"]).await {
        Ok(report) if report.is_ok() => doctor.pass("CORS", format!("browsers on {origin} may PUT to the bucket")),
        Ok(report) => doctor.fail(
            "CORS",
            report.problems.join("; "),
            format!(
                "allow PUT, GET and HEAD from {origin}: `cargo run --example upload_server -- --setup-cors` with \
                 UPLOAD_ORIGIN={origin}, or put_bucket_cors(&CorsConfiguration::for_browser_uploads([\"{origin}\"])), \
                 or the bucket's CORS settings in your provider's console"
            ),
        ),
        Err(e) => doctor.fail("CORS", e.to_string(), fix_for(&e)),
    }

    // 6. A presigned PUT and GET, as a browser would use them.
    let key = format!("stowage-doctor/{}.txt", time::OffsetDateTime::now_utc().unix_timestamp_nanos());
    let contents = "stowage doctor round trip\n";
    let http = reqwest::Client::new();
    let round_trip = async {
        let options = PutOptions::new().with_content_type("text/plain").with_content_length(contents.len() as u64);
        let put = storage.presign_put(&key, &options, Duration::from_secs(120))?;
        // Sent as the browser on `origin` sends it, to see what the bucket lets the page read.
        let mut request = http.put(&put.url).header("origin", origin.as_str()).body(contents);
        for (name, value) in &put.headers {
            request = request.header(name, value);
        }
        // reqwest's message would name the URL, a live credential: leave it out.
        let response = request.send().await.map_err(|e| format!("presigned PUT: {}", e.without_url()))?;
        if !response.status().is_success() {
            let status = response.status();
            return Err::<Option<String>, Box<dyn std::error::Error>>(
                format!("presigned PUT answered {status}: {}", response.text().await.unwrap_or_default()).into(),
            );
        }
        let exposed = response
            .headers()
            .get("access-control-expose-headers")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.trim().is_empty())
            .map(str::to_owned);
        let get = storage.presign_get(&key, &GetOptions::new(), Duration::from_secs(120))?;
        let body = http
            .get(&get.url)
            .send()
            .await
            .map_err(|e| format!("presigned GET: {}", e.without_url()))?
            .text()
            .await
            .map_err(|e| format!("presigned GET: {}", e.without_url()))?;
        if body != contents {
            return Err("the presigned GET returned other bytes than were uploaded".into());
        }
        Ok(exposed)
    };
    match round_trip.await {
        Ok(exposed) => {
            doctor.pass("presigned PUT/GET", "uploaded and downloaded through presigned URLs");
            // 7. A browser sending parts must read each part's ETag: the rule must expose it.
            let reads_etag = exposed
                .as_deref()
                .is_some_and(|list| list.split(',').any(|h| h.trim() == "*" || h.trim().eq_ignore_ascii_case("etag")));
            if reads_etag {
                doctor
                    .pass("CORS exposes ETag", format!("pages on {origin} can read the ETag of the parts they upload"));
            } else {
                doctor.fail(
                    "CORS exposes ETag",
                    format!(
                        "the bucket's answer to {origin} exposes {}: a page cannot read the ETag of a part, so large uploads from the browser fail",
                        exposed.as_deref().map_or("no header".to_owned(), |h| format!("only {h:?}"))
                    ),
                    "add ETag to the rule's ExposeHeader (CorsConfiguration::for_browser_uploads does)",
                );
            }
        }
        Err(e) => doctor.fail(
            "presigned PUT/GET",
            e.to_string(),
            "check that the key may put and get objects, and the clock and CORS lines above",
        ),
    }
    let _ = storage.delete_object(&key).await;

    println!(
        "\n{}",
        if doctor.failures == 0 { "All checks passed." } else { "Some checks failed: see the fixes above." }
    );
    Ok(doctor.failures)
}

/// `2026-11-24 13:05:00 UTC`.
fn utc(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` (an HTTP date is RFC 2822's syntax, always in GMT).
fn parse_http_date(text: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc2822).ok()
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("doctor: {e}");
            ExitCode::from(2)
        }
    }
}
