//! EC2 instance metadata, version 2: a session token first (a PUT with a TTL), then the role's
//! credentials with that token.

use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use super::http::{self, Call, Reply};
use super::json::{self, Shape};
use super::{Credentials, CredentialsError, Env, ProvideCredentials};

const PROVIDER: &str = "EC2 instance metadata (IMDSv2)";

/// Where instance metadata answers by default, and over IPv6.
const IPV4_ENDPOINT: &str = "http://169.254.169.254";
const IPV6_ENDPOINT: &str = "http://[fd00:ec2::254]";

/// The session token's lifetime asked for (the maximum, 6 hours), and how early it is renewed.
const TOKEN_TTL: Duration = Duration::from_secs(21_600);
const TOKEN_MARGIN: Duration = Duration::from_secs(120);

/// Instance metadata answers within milliseconds when it is there at all.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(1);
/// Attempts of each call, for a timeout, a dropped connection or a 5xx.
const ATTEMPTS: u32 = 3;

const CREDENTIALS_PATH: &str = "/latest/meta-data/iam/security-credentials/";

/// Said when the token request gets no answer: the common causes, and what to do.
const NO_ANSWER_HINT: &str = " to the IMDSv2 token request — either this is not an EC2 instance, or this runs in a \
container on an instance whose metadata hop limit is 1, so that the answer dies at the container's network hop: \
raise it with `aws ec2 modify-instance-metadata-options --instance-id <id> --http-put-response-hop-limit 2`, or give \
the container its own credentials (ECS task role, EKS IRSA or Pod Identity). AWS_EC2_METADATA_DISABLED=true skips \
instance metadata";

/// The instance role's credentials from EC2 instance metadata, IMDSv2 only: a session token is
/// fetched with `PUT /latest/api/token` (TTL 6 hours, kept and renewed), then
/// `/latest/meta-data/iam/security-credentials/<role>` is read with it. Each call is given 1 s and
/// tried 3 times.
///
/// `AWS_EC2_METADATA_DISABLED=true` turns it off; `AWS_EC2_METADATA_SERVICE_ENDPOINT` points it
/// elsewhere (default `http://169.254.169.254`; `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6` for
/// `http://[fd00:ec2::254]`). There is no fallback to IMDSv1, whose unauthenticated requests are
/// what IMDSv2 exists to prevent.
///
/// In a container on EC2, the token request needs a metadata hop limit of 2; with a limit of 1 it
/// times out, and the error says so.
pub struct InstanceMetadataCredentials {
    env: Env,
    endpoint: Option<String>,
    token: Mutex<Option<(Zeroizing<String>, Instant)>>,
    client: OnceLock<reqwest::Client>,
}

impl std::fmt::Debug for InstanceMetadataCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The session token is a credential: never shown.
        f.debug_struct("InstanceMetadataCredentials")
            .field("env", &self.env)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Default for InstanceMetadataCredentials {
    fn default() -> Self {
        Self::from_env()
    }
}

impl InstanceMetadataCredentials {
    /// Configured by the environment at each call.
    #[must_use]
    pub fn from_env() -> Self {
        Self::with_env(Env::process())
    }

    pub(crate) fn with_env(env: Env) -> Self {
        Self { env, endpoint: None, token: Mutex::new(None), client: OnceLock::new() }
    }

    /// Asks `endpoint` (such as `http://127.0.0.1:1338`) instead of the one the environment names.
    #[must_use]
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into().trim_end_matches('/').to_owned());
        self
    }

    fn endpoint(&self) -> Result<String, CredentialsError> {
        if self.env.flag("AWS_EC2_METADATA_DISABLED") {
            return Err(CredentialsError::not_configured(PROVIDER, "AWS_EC2_METADATA_DISABLED is true"));
        }
        if let Some(endpoint) = &self.endpoint {
            return Ok(endpoint.clone());
        }
        if let Some(endpoint) = self.env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") {
            return Ok(endpoint.trim().trim_end_matches('/').to_owned());
        }
        match self.env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE").map(|m| m.trim().to_ascii_lowercase()) {
            Some(mode) if mode == "ipv6" => Ok(IPV6_ENDPOINT.to_owned()),
            Some(mode) if mode == "ipv4" => Ok(IPV4_ENDPOINT.to_owned()),
            None => Ok(IPV4_ENDPOINT.to_owned()),
            Some(other) => Err(CredentialsError::invalid(
                PROVIDER,
                format!("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE must be IPv4 or IPv6, not {other:?}"),
            )),
        }
    }

    /// The kept session token, if it has time left.
    fn kept_token(&self) -> Option<Zeroizing<String>> {
        let slot = self.token.lock().unwrap_or_else(PoisonError::into_inner);
        slot.as_ref().filter(|(_, until)| Instant::now() < *until).map(|(token, _)| token.clone())
    }

    fn forget_token(&self) {
        *self.token.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// A session token: the kept one, or a new one.
    async fn session_token(
        &self,
        client: &reqwest::Client,
        endpoint: &str,
    ) -> Result<Zeroizing<String>, CredentialsError> {
        if let Some(token) = self.kept_token() {
            return Ok(token);
        }
        let url = format!("{endpoint}/latest/api/token");
        let ttl = TOKEN_TTL.as_secs().to_string();
        let reply = call(
            client,
            &url,
            reqwest::Method::PUT,
            vec![("x-aws-ec2-metadata-token-ttl-seconds", &ttl)],
            NO_ANSWER_HINT,
        )
        .await
        .map_err(|e| match e {
            CredentialsError::Unreachable { provider, endpoint, reason } => CredentialsError::Unreachable {
                provider,
                endpoint,
                reason: format!("{reason} (not an EC2 instance, or instance metadata is turned off)"),
            },
            other => other,
        })?;
        if reply.status != 200 {
            let reason = match reply.status {
                403 => {
                    "the token request was refused: instance metadata is turned off for this instance (HttpEndpoint disabled), or a proxy header was sent"
                }
                400 => "the token request was refused as malformed",
                404 | 405 => "this endpoint does not offer IMDSv2 session tokens",
                _ => "the token request failed",
            };
            return Err(rejected(&url, &reply, reason));
        }
        let token = reply.body.trim();
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(CredentialsError::bad_response(PROVIDER, "the session token is empty or not printable ASCII"));
        }
        let token = Zeroizing::new(token.to_owned());
        let until = Instant::now() + TOKEN_TTL.saturating_sub(TOKEN_MARGIN);
        *self.token.lock().unwrap_or_else(PoisonError::into_inner) = Some((token.clone(), until));
        Ok(token)
    }

    /// One metadata read with the session token; a 401 (a token that expired or was revoked) is
    /// answered by fetching a new token once.
    async fn read(&self, client: &reqwest::Client, endpoint: &str, path: &str) -> Result<Reply, CredentialsError> {
        let url = format!("{endpoint}{path}");
        for fresh in [false, true] {
            let token = self.session_token(client, endpoint).await?;
            let reply =
                call(client, &url, reqwest::Method::GET, vec![("x-aws-ec2-metadata-token", &token)], "").await?;
            if reply.status == 401 && !fresh {
                self.forget_token();
                continue;
            }
            return Ok(reply);
        }
        Err(CredentialsError::Rejected {
            provider: PROVIDER.into(),
            endpoint: http::shown(&url),
            status: 401,
            reason: "a new session token was refused too".into(),
        })
    }
}

/// One call with the timeouts and retries of instance metadata.
async fn call(
    client: &reqwest::Client,
    url: &str,
    method: reqwest::Method,
    headers: Vec<(&'static str, &str)>,
    hint: &str,
) -> Result<Reply, CredentialsError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let request = Call {
            provider: PROVIDER,
            method: method.clone(),
            url,
            headers: headers.clone(),
            form: None,
            timeout: ANSWER_TIMEOUT,
            timeout_hint: hint,
        };
        let outcome = http::send(client, request).await;
        let retry = match &outcome {
            // A refused connection will be refused again: no retry.
            Err(e) => matches!(e, CredentialsError::Timeout { .. }),
            Ok(reply) => reply.status >= 500,
        };
        if retry && attempt < ATTEMPTS {
            tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
            continue;
        }
        return outcome;
    }
}

fn rejected(url: &str, reply: &Reply, reason: &str) -> CredentialsError {
    CredentialsError::Rejected {
        provider: PROVIDER.into(),
        endpoint: http::shown(url),
        status: reply.status,
        reason: reason.into(),
    }
}

#[async_trait::async_trait]
impl ProvideCredentials for InstanceMetadataCredentials {
    async fn provide(&self) -> Result<Credentials, CredentialsError> {
        let endpoint = self.endpoint()?;
        let client = http::cached_client(&self.client, PROVIDER, CONNECT_TIMEOUT, super::http::Reach::Local)?;
        let roles = self.read(&client, &endpoint, CREDENTIALS_PATH).await?;
        if roles.status != 200 {
            let reason = match roles.status {
                404 => "no IAM role is attached to this instance (attach an instance profile)",
                _ => "listing the instance's role failed",
            };
            return Err(rejected(&format!("{endpoint}{CREDENTIALS_PATH}"), &roles, reason));
        }
        let role = roles.body.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default().to_owned();
        let role_ok = !role.is_empty()
            && role.len() <= 128
            && role.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
        if !role_ok {
            return Err(CredentialsError::bad_response(PROVIDER, "the role listing does not hold a role name"));
        }
        let path = format!("{CREDENTIALS_PATH}{role}");
        let reply = self.read(&client, &endpoint, &path).await?;
        if reply.status != 200 {
            let reason = match reply.status {
                404 => "the instance's role has no credentials (was the instance profile just changed?)",
                _ => "reading the role's credentials failed",
            };
            return Err(rejected(&format!("{endpoint}{path}"), &reply, reason));
        }
        json::parse(PROVIDER, Shape::InstanceMetadata, &reply.body)
    }

    fn name(&self) -> String {
        PROVIDER.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> Env {
        Env::snapshot(|name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned()))
    }

    #[test]
    fn endpoint_choice() {
        let default = InstanceMetadataCredentials::with_env(env(&[]));
        assert_eq!(default.endpoint().unwrap(), IPV4_ENDPOINT);
        let v6 = InstanceMetadataCredentials::with_env(env(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6")]));
        assert_eq!(v6.endpoint().unwrap(), IPV6_ENDPOINT);
        let over = InstanceMetadataCredentials::with_env(env(&[
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1338/"),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6"),
        ]));
        assert_eq!(over.endpoint().unwrap(), "http://127.0.0.1:1338");
        // Disabled wins over an endpoint, as in botocore.
        let off = InstanceMetadataCredentials::with_env(env(&[
            ("AWS_EC2_METADATA_DISABLED", "TRUE"),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1338"),
        ]));
        assert!(off.endpoint().unwrap_err().is_not_configured());
        let bad = InstanceMetadataCredentials::with_env(env(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "ipx")]));
        assert!(matches!(bad.endpoint(), Err(CredentialsError::InvalidConfig { .. })));
    }
}
