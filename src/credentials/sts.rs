//! AWS STS: `AssumeRoleWithWebIdentity` (unsigned: the token is the proof) and `AssumeRole` (signed
//! with the source credentials, by this crate's own signer).

use std::time::Duration;

use super::http::{self, Call, Reply};
use super::{Credentials, CredentialsError, Env};
use crate::sigv4::{Method, Payload, Request, Signer, SigningSettings};

/// How long an STS call may take.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);

/// Where STS is: `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`, else the regional endpoint of `region`
/// (the global one without a region).
pub(crate) fn endpoint(env: &Env, region: Option<&str>) -> String {
    if let Some((_, url)) = env.first(&["AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"]) {
        return url.trim().trim_end_matches('/').to_owned();
    }
    match region.map(str::trim).filter(|r| !r.is_empty() && *r != "auto") {
        Some(r) if r.starts_with("cn-") => format!("https://sts.{r}.amazonaws.com.cn"),
        Some(r) => format!("https://sts.{r}.amazonaws.com"),
        None => "https://sts.amazonaws.com".to_owned(),
    }
}

/// A role session name: `AWS_ROLE_SESSION_NAME`, else `stowage-<milliseconds>`.
pub(crate) fn session_name(env: &Env) -> String {
    env.get("AWS_ROLE_SESSION_NAME").map(|n| n.trim().to_owned()).unwrap_or_else(|| {
        let ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        format!("stowage-{ms}")
    })
}

/// What is asked of STS.
pub(crate) struct Role<'a> {
    pub(crate) arn: &'a str,
    pub(crate) session_name: &'a str,
    pub(crate) external_id: Option<&'a str>,
    pub(crate) duration: Option<u32>,
}

impl Role<'_> {
    /// The request's form; finish it before any `.await` (the serializer is not `Send`).
    fn form(&self, action: &str) -> url::form_urlencoded::Serializer<'static, String> {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("Action", action)
            .append_pair("Version", "2011-06-15")
            .append_pair("RoleArn", self.arn)
            .append_pair("RoleSessionName", self.session_name);
        if let Some(id) = self.external_id {
            form.append_pair("ExternalId", id);
        }
        if let Some(seconds) = self.duration {
            form.append_pair("DurationSeconds", &seconds.to_string());
        }
        form
    }
}

/// `AssumeRoleWithWebIdentity`: exchanges an OIDC token (EKS IRSA) for role credentials.
pub(crate) async fn assume_role_with_web_identity(
    client: &reqwest::Client,
    provider: &str,
    endpoint: &str,
    role: &Role<'_>,
    token: &str,
) -> Result<Credentials, CredentialsError> {
    let body = {
        let mut form = role.form("AssumeRoleWithWebIdentity");
        form.append_pair("WebIdentityToken", token);
        zeroize::Zeroizing::new(form.finish())
    };
    let url = format!("{endpoint}/");
    let call = Call {
        provider,
        method: reqwest::Method::POST,
        url: &url,
        headers: vec![],
        form: Some(body.to_string()),
        timeout: TIMEOUT,
        timeout_hint: "",
    };
    let reply = http::send(client, call).await?;
    read_credentials(provider, endpoint, "AssumeRoleWithWebIdentity", &reply)
}

/// `AssumeRole`, signed with `source`.
pub(crate) async fn assume_role(
    client: &reqwest::Client,
    provider: &str,
    endpoint: &str,
    region: Option<&str>,
    source: Credentials,
    role: &Role<'_>,
) -> Result<Credentials, CredentialsError> {
    let body = role.form("AssumeRole").finish();
    let url = format!("{endpoint}/");
    let signing_region = region.map(str::trim).filter(|r| !r.is_empty() && *r != "auto").unwrap_or("us-east-1");
    let signer = Signer::new(source, signing_region, "sts")
        .map_err(|e| CredentialsError::invalid(provider, format!("the source credentials cannot sign: {e}")))?
        .with_settings(SigningSettings::generic());
    let request = Request::from_url(Method::Post, &url)
        .map_err(|e| CredentialsError::invalid(provider, format!("the STS endpoint {endpoint:?}: {e}")))?
        .header("content-type", "application/x-www-form-urlencoded")
        .payload(Payload::Bytes(body.as_bytes()));
    let auth = signer
        .sign(&request, time::OffsetDateTime::now_utc())
        .map_err(|e| CredentialsError::invalid(provider, format!("signing AssumeRole: {e}")))?;
    let headers: Vec<(&'static str, &str)> = auth.iter().collect();
    let call = Call {
        provider,
        method: reqwest::Method::POST,
        url: &url,
        headers,
        form: Some(body.clone()),
        timeout: TIMEOUT,
        timeout_hint: "",
    };
    let reply = http::send(client, call).await?;
    read_credentials(provider, endpoint, "AssumeRole", &reply)
}

/// The credentials of an STS answer, or its error as a [`CredentialsError::Rejected`].
fn read_credentials(
    provider: &str,
    endpoint: &str,
    action: &str,
    reply: &Reply,
) -> Result<Credentials, CredentialsError> {
    let document = crate::wire::xml::parse(&reply.body);
    if !(200..300).contains(&reply.status) {
        let reason = document
            .ok()
            .and_then(|root| {
                let error = root.child("Error")?;
                let code = error.text_of("Code").unwrap_or("error");
                let message = error.text_of("Message").unwrap_or_default();
                Some(format!("{action}: {code}: {}", super::error::excerpt(message, 300)))
            })
            .unwrap_or_else(|| format!("{action} failed"));
        return Err(CredentialsError::Rejected {
            provider: provider.to_owned(),
            endpoint: http::shown(endpoint),
            status: reply.status,
            reason,
        });
    }
    let bad = |reason: &str| CredentialsError::bad_response(provider, format!("{action}: {reason}"));
    let root = document.map_err(|_| bad("the answer is not XML"))?;
    let result = root.child(&format!("{action}Result")).ok_or_else(|| bad("no result element"))?;
    let creds = result.child("Credentials").ok_or_else(|| bad("no Credentials element"))?;
    let field = |name: &str| {
        creds.text_of(name).map(str::trim).filter(|v| !v.is_empty()).ok_or_else(|| bad(&format!("{name} is missing")))
    };
    let expiry = super::json::expiry(provider, field("Expiration")?)?;
    let credentials = Credentials::new(field("AccessKeyId")?, field("SecretAccessKey")?)
        .with_session_token(field("SessionToken")?)
        .with_expiry(expiry);
    credentials.validate().map_err(|e| bad(&e.to_string()))?;
    Ok(credentials)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let none = Env::snapshot(|_| None);
        assert_eq!(endpoint(&none, None), "https://sts.amazonaws.com");
        assert_eq!(endpoint(&none, Some("eu-west-3")), "https://sts.eu-west-3.amazonaws.com");
        assert_eq!(endpoint(&none, Some("cn-north-1")), "https://sts.cn-north-1.amazonaws.com.cn");
        assert_eq!(endpoint(&none, Some("auto")), "https://sts.amazonaws.com");
        let over = Env::snapshot(|n| (n == "AWS_ENDPOINT_URL_STS").then(|| "http://127.0.0.1:5000/".to_owned()));
        assert_eq!(endpoint(&over, Some("eu-west-3")), "http://127.0.0.1:5000");
    }

    #[test]
    fn sts_errors_are_rejections_with_code_and_message() {
        let reply = Reply {
            status: 403,
            body: "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message></Error></ErrorResponse>".into(),
        };
        let e = read_credentials("web identity", "https://sts.amazonaws.com", "AssumeRoleWithWebIdentity", &reply)
            .unwrap_err();
        assert!(matches!(e, CredentialsError::Rejected { status: 403, .. }));
        assert!(e.to_string().contains("AccessDenied: Not authorized"), "{e}");
        let garbage = Reply { status: 200, body: "<html>".into() };
        assert!(matches!(
            read_credentials("p", "e", "AssumeRole", &garbage),
            Err(CredentialsError::BadResponse { .. })
        ));
    }
}
