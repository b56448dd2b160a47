//! The JSON documents that carry credentials: the container endpoint's, instance metadata's and a
//! `credential_process`'s. They differ in a field name or two.

use serde::Deserialize;
use time::OffsetDateTime;

use super::{Credentials, CredentialsError};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Document {
    version: Option<serde_json::Value>,
    code: Option<String>,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    token: Option<String>,
    session_token: Option<String>,
    expiration: Option<String>,
}

/// Which document is read: the rules differ slightly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `{AccessKeyId, SecretAccessKey, Token, Expiration}`.
    Container,
    /// The same with `Code: "Success"`.
    InstanceMetadata,
    /// `{Version: 1, AccessKeyId, SecretAccessKey, SessionToken, Expiration}`; expiry optional.
    Process,
}

/// Reads credentials from `text`, which came from `provider`. The text is never quoted in an error:
/// it holds secrets.
pub(crate) fn parse(provider: &str, shape: Shape, text: &str) -> Result<Credentials, CredentialsError> {
    let bad = |reason: String| CredentialsError::bad_response(provider, reason);
    let doc: Document = serde_json::from_str(text).map_err(|e| {
        bad(format!("not the JSON credentials document expected (line {}, column {})", e.line(), e.column()))
    })?;
    if shape == Shape::Process {
        match &doc.version {
            Some(serde_json::Value::Number(n)) if n.as_u64() == Some(1) => {}
            Some(other) => return Err(bad(format!("\"Version\" is {other}, and only 1 is defined"))),
            None => return Err(bad("\"Version\": 1 is missing".into())),
        }
    }
    if shape == Shape::InstanceMetadata && doc.code.as_deref() != Some("Success") {
        let code = doc.code.as_deref().unwrap_or("absent");
        return Err(bad(format!("\"Code\" is {code:?}, not \"Success\"")));
    }
    let field = |value: Option<String>, name: &str| {
        value.filter(|v| !v.trim().is_empty()).ok_or_else(|| bad(format!("\"{name}\" is missing or empty")))
    };
    let id = field(doc.access_key_id, "AccessKeyId")?;
    let secret = field(doc.secret_access_key, "SecretAccessKey")?;
    let (token, token_name) = match shape {
        Shape::Process => (doc.session_token, "SessionToken"),
        _ => (doc.token.or(doc.session_token), "Token"),
    };
    let mut credentials = Credentials::new(id.trim(), secret.trim());
    if let Some(token) = token.filter(|t| !t.trim().is_empty()) {
        credentials = credentials.with_session_token(token.trim());
    } else if shape != Shape::Process {
        return Err(bad(format!("\"{token_name}\" is missing: these are temporary credentials")));
    }
    match doc.expiration {
        Some(text) => credentials = credentials.with_expiry(expiry(provider, &text)?),
        None if shape != Shape::Process => return Err(bad("\"Expiration\" is missing".into())),
        None => {}
    }
    credentials.validate().map_err(|e| bad(e.to_string()))?;
    Ok(credentials)
}

/// An expiry in RFC 3339 (`2026-11-24T13:05:00Z`, fractions and offsets allowed), which must lie in
/// the future.
pub(crate) fn expiry(provider: &str, text: &str) -> Result<OffsetDateTime, CredentialsError> {
    let at = OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339).map_err(|_| {
        CredentialsError::bad_response(provider, format!("the expiry {:?} is not an RFC 3339 time", excerpt(text)))
    })?;
    let now = OffsetDateTime::now_utc();
    if at <= now {
        return Err(CredentialsError::bad_response(
            provider,
            format!(
                "the credentials expired at {}, before they were received (now {}): the source is stale, or this machine's clock is wrong",
                super::error::instant(at),
                super::error::instant(now)
            ),
        ));
    }
    Ok(at)
}

fn excerpt(text: &str) -> String {
    super::error::excerpt(text, 40)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LATER: &str = "2999-01-01T00:00:00Z";

    #[test]
    fn the_three_shapes() {
        let c = parse(
            "c",
            Shape::Container,
            &format!(
                r#"{{"AccessKeyId":"ASIA1","SecretAccessKey":"s","Token":"t","Expiration":"{LATER}","RoleArn":"x"}}"#
            ),
        )
        .unwrap();
        assert_eq!((c.access_key_id(), c.session_token()), ("ASIA1", Some("t")));
        assert_eq!(c.expires_at().unwrap().year(), 2999);
        let i = parse(
            "i",
            Shape::InstanceMetadata,
            &format!(
                r#"{{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"A","SecretAccessKey":"s","Token":"t","Expiration":"{LATER}"}}"#
            ),
        );
        assert!(i.is_ok());
        let p = parse("p", Shape::Process, r#"{"Version":1,"AccessKeyId":"A","SecretAccessKey":"s"}"#).unwrap();
        assert!(p.expires_at().is_none() && !p.has_session_token());
        let offset = parse(
            "p",
            Shape::Process,
            r#"{"Version":1,"AccessKeyId":"A","SecretAccessKey":"s","SessionToken":"t","Expiration":"2999-01-01T02:00:00.123+02:00"}"#,
        )
        .unwrap();
        assert_eq!(offset.expires_at().unwrap().unix_timestamp(), 32_472_144_000);
    }

    #[test]
    fn refusals_name_the_problem_and_never_echo_the_document() {
        let cases = [
            (Shape::Container, "not json at all secretvalue"),
            (Shape::Container, r#"{"AccessKeyId":"A","SecretAccessKey":"secretvalue","Token":"t"}"#),
            (
                Shape::Container,
                r#"{"AccessKeyId":"A","SecretAccessKey":"secretvalue","Expiration":"2999-01-01T00:00:00Z"}"#,
            ),
            (
                Shape::Container,
                r#"{"AccessKeyId":"A","SecretAccessKey":"secretvalue","Token":"t","Expiration":"tomorrow"}"#,
            ),
            (
                Shape::Container,
                r#"{"AccessKeyId":"A","SecretAccessKey":"secretvalue","Token":"t","Expiration":"2001-01-01T00:00:00Z"}"#,
            ),
            (
                Shape::InstanceMetadata,
                r#"{"Code":"AssumeRoleUnauthorizedAccess","AccessKeyId":"A","SecretAccessKey":"secretvalue"}"#,
            ),
            (Shape::Process, r#"{"AccessKeyId":"A","SecretAccessKey":"secretvalue"}"#),
            (Shape::Process, r#"{"Version":2,"AccessKeyId":"A","SecretAccessKey":"secretvalue"}"#),
            (Shape::Process, r#"{"Version":1,"AccessKeyId":"A"}"#),
            (Shape::Process, r#"{"Version":1,"AccessKeyId":"A b","SecretAccessKey":"secretvalue"}"#),
            (Shape::Process, r#"[1,2]"#),
        ];
        for (shape, text) in cases {
            let e = parse("src", shape, text).unwrap_err();
            let shown = format!("{e} {e:?}");
            assert!(matches!(e, CredentialsError::BadResponse { .. }), "{text}: {e:?}");
            assert!(!shown.contains("secretvalue"), "{shown}");
            assert!(shown.contains("src"), "{shown}");
        }
        let past = parse("src", Shape::Container, cases[4].1).unwrap_err().to_string();
        assert!(past.contains("expired at 2001-01-01T00:00:00Z"), "{past}");
    }
}
