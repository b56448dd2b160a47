//! Presigned URLs used as a browser uses them.

use std::time::Duration;

use super::{Checks, Failure, Profile, Report};
use crate::testing::raw_http::{self, Response};
use crate::{Body, GetOptions, PutOptions, ServiceError, Storage};

/// A refusal must be a 4xx other than 404, not retryable.
fn refused(c: &Checks<'_>, what: &str, response: &Response) -> Result<ServiceError, Failure> {
    c.ensure((400..500).contains(&response.status) && response.status != 404, || {
        format!("{what}: expected a refusal, got {} {}", response.status, response.text())
    })?;
    let error = ServiceError::from_response("presigned request", response.status, &response.body);
    c.ensure(!error.is_retryable(), || format!("{what}: a refusal read as retryable"))?;
    Ok(error)
}

/// Presigned downloads: the bytes, the download overrides (a file name in any script, a type); a
/// URL with its signature altered, or used for another key, refused.
///
/// # Errors
///
/// The first check that does not hold.
pub async fn presigned_get(storage: &dyn Storage, profile: &Profile) -> Result<Report, Failure> {
    let mut c = Checks::new("presigned_get", profile);
    let key = profile.key("downloads/report");
    c.ok(storage.put_object(&key, Body::from("pdf bytes"), &PutOptions::new()).await, "put")?;
    let options =
        GetOptions::new().with_attachment("Résumé “final” 2024.pdf").with_response_content_type("application/pdf");
    let url = c.ok(storage.presign_get(&key, &options, Duration::from_secs(60)), "presign")?;
    let response = c.answer(raw_http::send("GET", &url.url, &[], &[]).await, "GET")?;
    c.ensure(response.status == 200 && response.body == b"pdf bytes", || {
        format!("{} {}", response.status, response.text())
    })?;
    c.ensure(response.header("content-disposition") == options.response_content_disposition(), || {
        format!("Content-Disposition {:?}", response.header("content-disposition"))
    })?;
    c.ensure(response.header("content-type") == Some("application/pdf"), || {
        format!("Content-Type {:?}", response.header("content-type"))
    })?;
    c.pass();

    let plain = c.ok(storage.presign_get(&key, &GetOptions::new(), Duration::from_secs(60)), "presign")?;
    let mut tampered = plain.url.clone();
    let last = c.some(tampered.pop(), "an empty URL")?;
    tampered.push(if last == '0' { '1' } else { '0' });
    let response = c.answer(raw_http::send("GET", &tampered, &[], &[]).await, "tampered GET")?;
    let error = refused(&c, "a tampered signature", &response)?;
    c.ensure(error.status == 403, || format!("a tampered signature: {}", error.status))?;
    c.pass();

    let other_key = profile.key("downloads/other");
    let reused = plain.url.replacen(&crate::sigv4::encode_path(&key), &crate::sigv4::encode_path(&other_key), 1);
    c.ensure(reused != plain.url, || "the URL does not carry the key".into())?;
    let response = c.answer(raw_http::send("GET", &reused, &[], &[]).await, "reused GET")?;
    refused(&c, "a URL used for another key", &response)?;
    c.pass();
    c.ok(storage.delete_object(&key).await, "delete")?;
    c.done()
}

/// Presigned uploads that sign Content-Type and Content-Length: the signed upload works, and the
/// bucket itself refuses another type, no type, a longer or a shorter body, storing nothing.
///
/// # Errors
///
/// The first check that does not hold.
pub async fn presigned_put(storage: &dyn Storage, profile: &Profile) -> Result<Report, Failure> {
    let mut c = Checks::new("presigned_put", profile);
    let key = profile.key("uploads/upload.png");
    let body: &[u8] = b"exactly 24 bytes of png.";
    let options = PutOptions::new().with_content_type("image/png").with_content_length(body.len() as u64);
    let put = c.ok(storage.presign_put(&key, &options, Duration::from_secs(60)), "presign")?;
    c.ensure(put.headers.get("content-type").map(String::as_str) == Some("image/png"), || {
        format!("the type is not among the headers to send: {:?}", put.headers)
    })?;
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a [u8]);
    let cases: [Case<'_>; 4] = [
        ("another Content-Type", vec![("content-type", "text/html")], body),
        ("no Content-Type", vec![], body),
        ("a longer body", vec![("content-type", "image/png")], b"exactly 24 bytes of png. and then some"),
        ("a shorter body", vec![("content-type", "image/png")], b"short"),
    ];
    for (what, headers, sent) in cases {
        let response = c.answer(raw_http::send("PUT", &put.url, &headers, sent).await, what)?;
        refused(&c, what, &response)?;
        let stored = c.ok(storage.head_object(&key, &GetOptions::new()).await, "head")?;
        c.ensure(stored.is_none(), || format!("{what}: stored anyway"))?;
        c.pass();
    }
    let headers: Vec<(&str, &str)> = put.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let response = c.answer(raw_http::send("PUT", &put.url, &headers, body).await, "the signed upload")?;
    c.ensure(response.status / 100 == 2, || format!("the signed upload: {} {}", response.status, response.text()))?;
    let meta = c.ok(storage.head_object(&key, &GetOptions::new()).await, "head")?;
    let meta = c.some(meta, "the signed upload is not there")?;
    c.ensure(meta.size == 24 && meta.content_type.as_deref() == Some("image/png"), || format!("{meta:?}"))?;
    c.ok(storage.delete_object(&key).await, "delete")?;
    c.pass();
    c.done()
}
