//! Browser POST uploads: the policy document, signed with the day's SigV4 key.

use std::time::Duration;

use super::{Platform, S3Storage};
use crate::sigv4::{Method, check_key, format_amz_date};
use crate::storage::{PostPolicy, PresignedPost};
use crate::{Error, Result};
use base64::Engine as _;
use serde_json::{Map, Value, json};

/// `2025-01-01T00:00:00Z`, as the policy's `expiration`.
fn checked_field(name: &str, value: &str) -> Result<()> {
    if value.bytes().any(|b| b.is_ascii_control()) {
        return Err(crate::sigv4::Error::InvalidHeaderValue {
            name: name.to_owned(),
            reason: "it holds a control character",
        }
        .into());
    }
    Ok(())
}

impl S3Storage {
    pub(crate) fn presign_post_policy(&self, policy: &PostPolicy, expires_in: Duration) -> Result<PresignedPost> {
        if self.platform() == Platform::R2 {
            crate::trace::event!(warn, "refused before sending: Cloudflare R2 takes no POST uploads");
            return Err(Error::Unsupported {
                backend: crate::r2::BACKEND,
                what: "browser POST uploads (presigned POST policies)".into(),
                reason: "R2 documents POST object as not supported; use a presigned PUT",
            });
        }
        crate::sigv4::check_expiry(expires_in)?;
        check_key(policy.key())?;
        if let Some(prefix) = policy.key_starts_with()
            && !policy.key().starts_with(prefix)
        {
            return Err(Error::Config(format!("the key {:?} does not start with {prefix:?}", policy.key())));
        }
        if let Some((min, max)) = policy.content_length_range()
            && min > max
        {
            return Err(Error::Config(format!("content-length-range {min}..={max} is empty")));
        }
        if let Some(ct) = policy.content_type() {
            checked_field("Content-Type", ct)?;
        }
        if let Some(status) = policy.success_action_status()
            && !matches!(status, 200 | 201 | 204)
        {
            return Err(Error::Config(format!("success_action_status must be 200, 201 or 204, not {status}")));
        }

        let now = self.now();
        let (signer, expires_in) = self.presign_signer(now, expires_in)?;
        let amz_date = format_amz_date(now)?;
        let credential = signer.credential(now)?;
        let expires_at = i64::try_from(expires_in.as_secs())
            .ok()
            .and_then(|secs| now.checked_add(time::Duration::seconds(secs)))
            .ok_or(crate::sigv4::Error::TimeOutOfRange)?;
        let token = signer.credentials().session_token();

        let mut fields: Vec<(String, String)> = vec![("key".into(), policy.key().to_owned())];
        let exactly = |name: &str, value: &str| {
            let mut condition = Map::new();
            condition.insert(name.to_owned(), Value::from(value));
            Value::Object(condition)
        };
        let mut conditions = vec![exactly("bucket", self.bucket())];
        match policy.key_starts_with() {
            Some(prefix) => conditions.push(json!(["starts-with", "$key", prefix])),
            None => conditions.push(exactly("key", policy.key())),
        }
        if let Some(ct) = policy.content_type() {
            conditions.push(exactly("Content-Type", ct));
            fields.push(("Content-Type".into(), ct.to_owned()));
        }
        if let Some((min, max)) = policy.content_length_range() {
            conditions.push(json!(["content-length-range", min, max]));
        }
        if let Some(status) = policy.success_action_status() {
            conditions.push(exactly("success_action_status", &status.to_string()));
            fields.push(("success_action_status".into(), status.to_string()));
        }
        let mut auth = vec![
            ("x-amz-algorithm", "AWS4-HMAC-SHA256".to_owned()),
            ("x-amz-credential", credential),
            ("x-amz-date", amz_date),
        ];
        if let Some(token) = token {
            auth.push(("x-amz-security-token", token.to_owned()));
        }
        for (name, value) in &auth {
            conditions.push(exactly(name, value));
            fields.push(((*name).to_owned(), value.clone()));
        }
        let document =
            json!({ "expiration": crate::wire::dates::format_iso8601(expires_at), "conditions": conditions })
                .to_string();
        let encoded = base64::engine::general_purpose::STANDARD.encode(document.as_bytes());
        let signature = signer.sign_string(&encoded, now)?;
        fields.push(("policy".into(), encoded));
        fields.push(("x-amz-signature".into(), signature));

        let url = self.address().bucket_request(Method::Post).url();
        Ok(PresignedPost { url, fields, expires_at })
    }
}
