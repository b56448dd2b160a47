//! The container credentials endpoint: ECS and Fargate task roles (a relative URI on 169.254.170.2)
//! and EKS Pod Identity (a full URI with an authorization token).

use std::net::IpAddr;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use super::http::{self, Call};
use super::json::{self, Shape};
use super::{Credentials, CredentialsError, Env, ProvideCredentials};

const PROVIDER: &str = "the container credentials endpoint";

/// Where ECS serves task credentials; relative URIs are resolved against it.
pub const ECS_CREDENTIALS_HOST: &str = "http://169.254.170.2";

/// How long connecting may take, and one answer (the endpoint is on the local link).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts for a timeout, a dropped connection or a 5xx.
const ATTEMPTS: u32 = 3;

/// Credentials from the container credentials endpoint, as the AWS SDKs read them:
///
/// - `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (ECS, Fargate): `http://169.254.170.2` + the URI.
/// - `AWS_CONTAINER_CREDENTIALS_FULL_URI` (EKS Pod Identity, custom agents), with the
///   `Authorization` header read from `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (read again at every
///   refresh) or `AWS_CONTAINER_AUTHORIZATION_TOKEN`. Plain `http://` is accepted only to a loopback
///   address or to the ECS and EKS link-local addresses (169.254.170.2, 169.254.170.23,
///   fd00:ec2::23) — as the SDKs do, so that a token never crosses a network in clear.
///
/// An answer is JSON: `AccessKeyId`, `SecretAccessKey`, `Token`, `Expiration`.
#[derive(Debug)]
pub struct ContainerCredentials {
    env: Env,
    relative_base: String,
    client: OnceLock<reqwest::Client>,
}

impl Default for ContainerCredentials {
    fn default() -> Self {
        Self::from_env()
    }
}

impl ContainerCredentials {
    /// Configured by the environment at each call.
    #[must_use]
    pub fn from_env() -> Self {
        Self::with_env(Env::process())
    }

    pub(crate) fn with_env(env: Env) -> Self {
        Self { env, relative_base: ECS_CREDENTIALS_HOST.to_owned(), client: OnceLock::new() }
    }

    /// Resolves `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` against `base` instead of
    /// `http://169.254.170.2` (an ECS agent emulator, a test).
    #[must_use]
    pub fn with_relative_base(mut self, base: impl Into<String>) -> Self {
        self.relative_base = base.into().trim_end_matches('/').to_owned();
        self
    }

    /// The URL to ask, and the authorization token to send.
    async fn target(&self) -> Result<(String, Option<zeroize::Zeroizing<String>>), CredentialsError> {
        if let Some(relative) = self.env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            let relative = relative.trim();
            if !relative.starts_with('/') {
                return Err(CredentialsError::invalid(
                    PROVIDER,
                    format!("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must start with '/', not {:?}", excerpt(relative)),
                ));
            }
            return Ok((format!("{}{relative}", self.relative_base), self.token().await?));
        }
        let Some(full) = self.env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI") else {
            return Err(CredentialsError::not_configured(
                PROVIDER,
                "neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor AWS_CONTAINER_CREDENTIALS_FULL_URI is set",
            ));
        };
        let full = full.trim().to_owned();
        check_full_uri(&full)?;
        Ok((full, self.token().await?))
    }

    /// The authorization token: the token file (read each time), else the variable.
    async fn token(&self) -> Result<Option<zeroize::Zeroizing<String>>, CredentialsError> {
        let token = if let Some(file) = self.env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
            let path = Path::new(file.trim());
            let text = tokio::fs::read_to_string(path).await.map_err(|e| {
                CredentialsError::invalid(
                    PROVIDER,
                    format!("cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {}: {e}", path.display()),
                )
            })?;
            let text = text.trim();
            if text.is_empty() {
                return Err(CredentialsError::invalid(
                    PROVIDER,
                    format!("the authorization token file {} is empty", path.display()),
                ));
            }
            Some(zeroize::Zeroizing::new(text.to_owned()))
        } else {
            self.env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN").map(|t| zeroize::Zeroizing::new(t.trim().to_owned()))
        };
        if let Some(token) = &token
            && !token.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
        {
            return Err(CredentialsError::invalid(
                PROVIDER,
                "the authorization token holds a line break or another control character",
            ));
        }
        Ok(token)
    }
}

/// Checks a full URI: HTTPS anywhere; plain HTTP only to loopback or the ECS/EKS agents.
fn check_full_uri(full: &str) -> Result<(), CredentialsError> {
    let url = url::Url::parse(full).map_err(|e| {
        CredentialsError::invalid(PROVIDER, format!("AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL ({e})"))
    })?;
    match url.scheme() {
        "https" => Ok(()),
        "http" => {
            let allowed = match url.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => allowed_http_ip(IpAddr::V4(ip)),
                Some(url::Host::Ipv6(ip)) => allowed_http_ip(IpAddr::V6(ip)),
                None => false,
            };
            if allowed {
                Ok(())
            } else {
                Err(CredentialsError::invalid(
                    PROVIDER,
                    format!(
                        "AWS_CONTAINER_CREDENTIALS_FULL_URI {} uses plain http to a host that is neither loopback nor the ECS/EKS agent (169.254.170.2, 169.254.170.23, fd00:ec2::23); refused, as the AWS SDKs refuse it: use https",
                        http::shown(full)
                    ),
                ))
            }
        }
        other => Err(CredentialsError::invalid(
            PROVIDER,
            format!("AWS_CONTAINER_CREDENTIALS_FULL_URI must be http or https, not {other}"),
        )),
    }
}

fn allowed_http_ip(ip: IpAddr) -> bool {
    const ECS: [u8; 4] = [169, 254, 170, 2];
    const EKS: [u8; 4] = [169, 254, 170, 23];
    const EKS_V6: [u16; 8] = [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x23];
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.octets() == ECS || v4.octets() == EKS,
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.segments() == EKS_V6 || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

fn excerpt(text: &str) -> String {
    super::error::excerpt(text, 80)
}

#[async_trait::async_trait]
impl ProvideCredentials for ContainerCredentials {
    async fn provide(&self) -> Result<Credentials, CredentialsError> {
        let (url, token) = self.target().await?;
        let client = http::cached_client(&self.client, PROVIDER, CONNECT_TIMEOUT, super::http::Reach::Local)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let headers = token.as_deref().map(|t| vec![("authorization", t.as_str())]).unwrap_or_default();
            let call = Call {
                provider: PROVIDER,
                method: reqwest::Method::GET,
                url: &url,
                headers,
                form: None,
                timeout: ANSWER_TIMEOUT,
                timeout_hint: "",
            };
            let outcome = http::send(&client, call).await;
            let retry = match &outcome {
                Err(e) => e.is_transient(),
                Ok(reply) => reply.status >= 500,
            };
            if retry && attempt < ATTEMPTS {
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                continue;
            }
            let reply = outcome?;
            if reply.status != 200 {
                return Err(CredentialsError::Rejected {
                    provider: PROVIDER.to_owned(),
                    endpoint: http::shown(&url),
                    status: reply.status,
                    reason: rejection(reply.status, &reply.body),
                });
            }
            return json::parse(PROVIDER, Shape::Container, &reply.body);
        }
    }

    fn name(&self) -> String {
        PROVIDER.into()
    }
}

/// What a refusal means: the endpoint's own `message` when it sends one.
fn rejection(status: u16, body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Message {
        #[serde(alias = "Message")]
        message: Option<String>,
        #[serde(alias = "Code")]
        code: Option<String>,
    }
    let own = serde_json::from_str::<Message>(body).ok().and_then(|m| match (m.code, m.message) {
        (Some(c), Some(m)) => Some(format!("{c}: {}", excerpt(&m))),
        (None, Some(m)) => Some(excerpt(&m)),
        (Some(c), None) => Some(c),
        (None, None) => None,
    });
    own.unwrap_or_else(|| match status {
        401 | 403 => {
            "the authorization token was refused (is AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE] the agent's?)".into()
        }
        404 => "no credentials at this URI (is the task or pod given a role?)".into(),
        _ => "the endpoint refused".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback_and_the_agents() {
        for ok in [
            "http://127.0.0.1:8080/creds",
            "http://127.9.9.9/creds",
            "http://localhost/creds",
            "http://[::1]:1/creds",
            "http://169.254.170.2/v2/creds",
            "http://169.254.170.23/v1/credentials",
            "http://[fd00:ec2::23]/v1/credentials",
            "https://creds.example.com/x",
        ] {
            assert!(check_full_uri(ok).is_ok(), "{ok}");
        }
        for refused in [
            "http://10.0.0.1/creds",
            "http://169.254.169.254/latest",
            "http://example.com/creds",
            "http://localhost.example.com/creds",
            "ftp://127.0.0.1/creds",
            "not a url",
        ] {
            let e = check_full_uri(refused).unwrap_err();
            assert!(matches!(e, CredentialsError::InvalidConfig { .. }), "{refused}: {e:?}");
            assert!(e.to_string().contains("container credentials endpoint"), "{e}");
        }
    }
}
